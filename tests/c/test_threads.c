/* Publisher pthreads and a consumer that sleeps in poll() on the poller's
 * fd: every message arrives once, in order, per subscription and topic. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "pushbus.h"

#define PUBLISHERS 4
#define PER_PUBLISHER 20000
#define DIRECT_SUBS_PER_TOPIC 4

static pushbus_bus *bus;

static void *publish(void *arg) {
    int publisher = (int)(intptr_t)arg;
    char topic[16], text[32];
    int topic_len = snprintf(topic, sizeof topic, "t.%d", publisher);
    for (int i = 1; i <= PER_PUBLISHER; i++) {
        int len = snprintf(text, sizeof text, "%d:%d", publisher, i);
        if (pushbus_publish(bus, topic, (size_t)topic_len, NULL, 0, PUSHBUS_PAYLOAD_TEXT,
                            (const uint8_t *)text, (size_t)len, NULL) != PUSHBUS_OK) {
            return (void *)1;
        }
    }
    return NULL;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void) {
    pushbus_config *config = NULL;
    pushbus_poller *poller = NULL;
    pushbus_batch *batch = NULL;
    OK(pushbus_config_new(&config));
    OK(pushbus_config_set_ring_max_messages(config, PER_PUBLISHER));
    OK(pushbus_config_set_janitor_interval_ms(config, 0));
    OK(pushbus_bus_new(config, &bus));
    pushbus_config_free(config);
    OK(pushbus_poller_new(bus, &poller));
    OK(pushbus_batch_new(&batch));

    /* One pattern subscription (topics appear after it) and direct ones. */
    uint64_t pattern_id = 0;
    pushbus_str pattern[] = {{"t.>", 3}};
    OK(pushbus_subscribe(poller, pattern, 1, NULL, 0, &pattern_id));
    uint64_t direct[PUBLISHERS][DIRECT_SUBS_PER_TOPIC];
    for (int p = 0; p < PUBLISHERS; p++) {
        char topic[16];
        pushbus_str one = {topic, (size_t)snprintf(topic, sizeof topic, "t.%d", p)};
        for (int s = 0; s < DIRECT_SUBS_PER_TOPIC; s++) {
            OK(pushbus_subscribe(poller, &one, 1, NULL, 0, &direct[p][s]));
        }
    }
    int fd = -1;
    OK(pushbus_poller_fd(poller, PUSHBUS_FD_EVENTFD, &fd));

    pthread_t threads[PUBLISHERS];
    for (int p = 0; p < PUBLISHERS; p++) {
        CHECK(pthread_create(&threads[p], NULL, publish, (void *)(intptr_t)p) == 0);
    }

    /* last[p][s]: last seq seen by direct sub s on topic p; s ==
     * DIRECT_SUBS_PER_TOPIC is the pattern subscription. */
    uint64_t last[PUBLISHERS][DIRECT_SUBS_PER_TOPIC + 1] = {{0}};
    size_t expected = (size_t)PUBLISHERS * PER_PUBLISHER * (DIRECT_SUBS_PER_TOPIC + 1);
    size_t received = 0, out_of_order = 0, wrong_payload = 0, unknown = 0, spurious_wakeups = 0;
    pushbus_event events[256];
    double deadline = now_seconds() + 60.0;
    while (received < expected && now_seconds() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        if (poll(&pfd, 1, 1000) <= 0) {
            continue;
        }
        size_t count = 0;
        OK(pushbus_poller_drain(poller, batch, events, 256, &count));
        spurious_wakeups += count == 0;
        for (size_t i = 0; i < count; i++) {
            const pushbus_event *e = &events[i];
            const pushbus_message_info *m = e->message;
            if (e->kind != PUSHBUS_EVENT_MESSAGE || m == NULL || m->topic_len != 3) {
                unknown++;
                continue;
            }
            int p = m->topic[2] - '0';
            int s = -1;
            if (e->subscription == pattern_id) {
                s = DIRECT_SUBS_PER_TOPIC;
            }
            for (int k = 0; k < DIRECT_SUBS_PER_TOPIC && p >= 0 && p < PUBLISHERS; k++) {
                if (direct[p][k] == e->subscription) {
                    s = k;
                }
            }
            if (p < 0 || p >= PUBLISHERS || s < 0) {
                unknown++;
                continue;
            }
            out_of_order += m->key.seq != last[p][s] + 1;
            last[p][s] = m->key.seq;
            char want[32];
            int len = snprintf(want, sizeof want, "%d:%llu", p, (unsigned long long)m->key.seq);
            wrong_payload += m->data_len != (size_t)len || memcmp(m->data, want, (size_t)len) != 0;
            received++;
        }
    }
    for (int p = 0; p < PUBLISHERS; p++) {
        void *result = NULL;
        CHECK(pthread_join(threads[p], &result) == 0 && result == NULL);
    }
    CHECK(received == expected);
    CHECK(out_of_order == 0);
    CHECK(wrong_payload == 0);
    CHECK(unknown == 0);
    pushbus_stats stats;
    OK(pushbus_bus_stats(bus, &stats));
    CHECK(stats.gaps == 0 && stats.delivered == expected);
    printf("received %zu of %zu deliveries; %zu empty wake-ups\n", received, expected, spurious_wakeups);
    pushbus_batch_free(batch);
    pushbus_poller_free(poller);
    pushbus_bus_free(bus);
    return checks_report("test_threads");
}
