/* Every function of the C ABI, and every error path: NULL pointers, bad
 * lengths, unknown ids, bad tokens, hostile names and callbacks, oversize
 * payloads, invalid UTF-8. Built with -std=c11 -Wall -Wextra -Wpedantic
 * -Werror against the shared and the static library, and run under
 * ASan+UBSan and valgrind. */
#define _GNU_SOURCE /* memmem */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "pushbus.h"

static pushbus_bus *new_bus(size_t ring) {
    pushbus_config *config = NULL;
    pushbus_bus *bus = NULL;
    OK(pushbus_config_new(&config));
    OK(pushbus_config_set_ring_max_messages(config, ring));
    OK(pushbus_config_set_janitor_interval_ms(config, 0));
    OK(pushbus_bus_new(config, &bus));
    pushbus_config_free(config);
    return bus;
}

static int readable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_version_and_status(void) {
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", PUSHBUS_VERSION_MAJOR,
             PUSHBUS_VERSION_MINOR, PUSHBUS_VERSION_PATCH);
    CHECK(strcmp(pushbus_version(), expected) == 0);
    CHECK(PUSHBUS_VERSION_NUMBER == PUSHBUS_VERSION_MAJOR * 10000 +
                                        PUSHBUS_VERSION_MINOR * 100 +
                                        PUSHBUS_VERSION_PATCH);
    CHECK(strcmp(pushbus_status_str(PUSHBUS_OK), "ok") == 0);
    for (uint32_t s = 0; s <= PUSHBUS_PANIC; s++) {
        CHECK(pushbus_status_str(s) != NULL && strlen(pushbus_status_str(s)) > 0);
    }
    CHECK(strcmp(pushbus_status_str(100000), "unknown status") == 0);
}

static void test_config(void) {
    pushbus_config *config = NULL;
    pushbus_bus *bus = NULL;
    IS(pushbus_config_new(NULL), PUSHBUS_NULL_POINTER);
    IS(pushbus_config_set_ring_max_messages(NULL, 1), PUSHBUS_NULL_POINTER);
    OK(pushbus_config_new(&config));
    OK(pushbus_config_set_ring_max_bytes(config, 1 << 20));
    OK(pushbus_config_set_ring_max_age_ms(config, 60000));
    OK(pushbus_config_set_replay_budget_bytes(config, 64 << 20));
    OK(pushbus_config_set_max_message_bytes(config, 1024));
    OK(pushbus_config_set_max_topics(config, 10));
    OK(pushbus_config_set_max_topic_len(config, 64));
    OK(pushbus_config_set_topic_idle_ttl_ms(config, 0));
    OK(pushbus_config_set_lag_policy(config, PUSHBUS_LAG_CLOSE));
    IS(pushbus_config_set_lag_policy(config, PUSHBUS_LAG_DEFAULT), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_config_set_lag_policy(config, 77), PUSHBUS_INVALID_ARGUMENT);
    OK(pushbus_config_set_max_subscriptions_per_poller(config, 5));
    OK(pushbus_config_set_presence_events(config, false));
    OK(pushbus_config_set_max_presence_info_bytes(config, 64));
    OK(pushbus_config_set_janitor_interval_ms(config, 0));
    IS(pushbus_bus_new(config, NULL), PUSHBUS_NULL_POINTER);
    OK(pushbus_bus_new(config, &bus));
    pushbus_bus_free(bus);
    bus = NULL;
    OK(pushbus_config_set_ring_max_messages(config, 0));
    IS(pushbus_bus_new(config, &bus), PUSHBUS_INVALID_CONFIG);
    CHECK(bus == NULL);
    pushbus_config_free(config);
    OK(pushbus_bus_new(NULL, &bus)); /* the defaults */
    pushbus_bus_free(bus);
    pushbus_config_free(NULL);
    pushbus_bus_free(NULL);
}

static void test_publish_subscribe_drain(void) {
    pushbus_bus *bus = new_bus(16);
    pushbus_poller *poller = NULL;
    pushbus_batch *batch = NULL;
    pushbus_event events[8];
    size_t count = 99;
    uint64_t id = 0;
    pushbus_key key = {0, 0};
    pushbus_str topics[] = {{S("chat.lobby")}};

    OK(pushbus_poller_new(bus, &poller));
    OK(pushbus_batch_new(&batch));
    OK(pushbus_subscribe(poller, topics, 1, NULL, PUSHBUS_LAG_DEFAULT, &id));
    CHECK(id != 0);
    OK(pushbus_publish(bus, S("chat.lobby"), S("message"), PUSHBUS_PAYLOAD_JSON,
                       (const uint8_t *)"{\"text\":\"</script>\"}", 20, &key));
    CHECK(key.seq == 1);
    OK(pushbus_poller_drain(poller, batch, events, 8, &count));
    CHECK(count == 1);
    CHECK(events[0].kind == PUSHBUS_EVENT_MESSAGE);
    CHECK(events[0].subscription == id);
    CHECK(events[0].gap == NULL && events[0].message != NULL);
    const pushbus_message_info *m = events[0].message;
    CHECK(m->payload_kind == PUSHBUS_PAYLOAD_JSON);
    SAME(m->topic, m->topic_len, "chat.lobby");
    SAME(m->event, m->event_len, "message");
    SAME(m->data, m->data_len, "{\"text\":\"</script>\"}");
    CHECK(m->key.epoch == key.epoch && m->key.seq == 1);
    CHECK(m->time_ms > 1600000000000ULL);
    CHECK(sizeof(pushbus_event) == 32);

    /* Frames: encoded once, script-safe. */
    pushbus_frames frames;
    OK(pushbus_batch_frames(batch, 0, &frames));
    CHECK(memchr(frames.envelope, '<', frames.envelope_len) == NULL);
    CHECK(frames.ndjson == frames.envelope && frames.ndjson_len == frames.envelope_len + 1);
    CHECK(frames.ndjson[frames.envelope_len] == '\n');
    char key_text[PUSHBUS_KEY_MAX_LEN];
    size_t key_len = 0;
    OK(pushbus_key_format(key, key_text, sizeof key_text, &key_len));
    char expected[128];
    int n = snprintf(expected, sizeof expected, "id: %.*s\nevent: message\ndata: {\"id\":\"%.*s\"",
                     (int)key_len, key_text, (int)key_len, key_text);
    CHECK(frames.sse_len > (size_t)n && memcmp(frames.sse, expected, (size_t)n) == 0);
    CHECK(memcmp(frames.sse + frames.sse_len - 2, "\n\n", 2) == 0);
    IS(pushbus_batch_frames(batch, 1, &frames), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_batch_frames(NULL, 0, &frames), PUSHBUS_NULL_POINTER);

    /* Zero-copy take outlives the batch. */
    const pushbus_message *kept = NULL;
    const uint8_t *data = NULL;
    size_t len = 0;
    OK(pushbus_batch_take(batch, 0, &kept));
    IS(pushbus_batch_take(batch, 5, &kept), PUSHBUS_INVALID_ARGUMENT);
    OK(pushbus_batch_release(batch));
    OK(pushbus_message_data(kept, &data, &len));
    SAME(data, len, "{\"text\":\"</script>\"}");
    pushbus_message_free(kept);
    pushbus_message_free(NULL);

    /* Nothing more: an empty drain. */
    OK(pushbus_poller_drain(poller, batch, events, 8, &count));
    CHECK(count == 0);
    IS(pushbus_poller_drain(poller, batch, NULL, 8, &count), PUSHBUS_NULL_POINTER);
    IS(pushbus_poller_drain(NULL, batch, events, 8, &count), PUSHBUS_NULL_POINTER);

    /* Resume token, then unsubscribe twice. */
    pushbus_buf token = {NULL, 0};
    OK(pushbus_subscription_token(poller, id, &token));
    CHECK(token.len == key_len && memcmp(token.ptr, key_text, key_len) == 0);
    pushbus_buf_free(&token);
    pushbus_buf_free(&token); /* harmless */
    CHECK(token.ptr == NULL && token.len == 0);
    OK(pushbus_unsubscribe(poller, id));
    IS(pushbus_unsubscribe(poller, id), PUSHBUS_UNKNOWN_SUBSCRIPTION);
    IS(pushbus_unsubscribe(poller, 424242), PUSHBUS_UNKNOWN_SUBSCRIPTION);
    IS(pushbus_subscription_token(poller, id, &token), PUSHBUS_UNKNOWN_SUBSCRIPTION);

    pushbus_stats stats;
    OK(pushbus_bus_stats(bus, &stats));
    CHECK(stats.published == 1 && stats.delivered == 1 && stats.subscriptions == 0);
    CHECK(stats.topics == 1 && stats.replay_bytes == 27); /* event type + payload */
    IS(pushbus_bus_stats(bus, NULL), PUSHBUS_NULL_POINTER);

    pushbus_batch_free(batch);
    pushbus_poller_free(poller);
    pushbus_bus_free(bus);
}

static void test_publish_errors(void) {
    pushbus_config *config = NULL;
    pushbus_bus *bus = NULL;
    pushbus_key key = {7, 7};
    const uint8_t big[9] = {0};
    OK(pushbus_config_new(&config));
    OK(pushbus_config_set_max_message_bytes(config, 8));
    OK(pushbus_config_set_janitor_interval_ms(config, 0));
    OK(pushbus_bus_new(config, &bus));
    pushbus_config_free(config);

    IS(pushbus_publish(NULL, S("t"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &key), PUSHBUS_NULL_POINTER);
    IS(pushbus_publish(bus, NULL, 3, NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &key), PUSHBUS_NULL_POINTER);
    IS(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, NULL, 1, &key), PUSHBUS_NULL_POINTER);
    IS(pushbus_publish(bus, S("\xff"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &key), PUSHBUS_INVALID_UTF8);
    IS(pushbus_publish(bus, S(""), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &key), PUSHBUS_INVALID_TOPIC);
    IS(pushbus_publish(bus, S("a b"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &key), PUSHBUS_INVALID_TOPIC);
    IS(pushbus_publish(bus, S("t.*"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &key), PUSHBUS_PATTERN_NOT_ALLOWED);
    IS(pushbus_publish(bus, S("t"), S("a\nevent: x"), PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &key), PUSHBUS_INVALID_EVENT);
    IS(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_BINARY, big, sizeof big, &key), PUSHBUS_MESSAGE_TOO_LARGE);
    IS(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"\xc3\x28", 2, &key), PUSHBUS_INVALID_UTF8);
    IS(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_JSON, (const uint8_t *)"1},{", 4, &key), PUSHBUS_INVALID_JSON);
    IS(pushbus_publish(bus, S("t"), NULL, 0, 3, (const uint8_t *)"x", 1, &key), PUSHBUS_INVALID_ARGUMENT);
    CHECK(key.epoch == 7 && key.seq == 7); /* out-pointers untouched on error */
    OK(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_BINARY, NULL, 0, NULL));

    pushbus_key head;
    OK(pushbus_bus_head(bus, S("t"), &head));
    CHECK(head.seq == 1);
    IS(pushbus_bus_head(bus, S("t.>"), &head), PUSHBUS_PATTERN_NOT_ALLOWED);
    IS(pushbus_bus_head(bus, S("t"), NULL), PUSHBUS_NULL_POINTER);
    OK(pushbus_bus_sweep(bus));
    IS(pushbus_bus_sweep(NULL), PUSHBUS_NULL_POINTER);
    pushbus_bus_free(bus);
}

/* A publisher continues the topic's keys, reaches subscribers, refuses what
 * pushbus_publish refuses without changing anything, holds its topic against
 * idle expiry, and outlives the bus handle. */
static void test_publisher(void) {
    pushbus_config *config = NULL;
    pushbus_bus *bus = NULL;
    pushbus_poller *poller = NULL;
    pushbus_publisher *publisher = NULL;
    pushbus_key key = {0, 0}, kept = {7, 7};
    const uint8_t big[9] = {0};
    uint64_t id = 0;
    OK(pushbus_config_new(&config));
    OK(pushbus_config_set_max_message_bytes(config, 8));
    OK(pushbus_config_set_topic_idle_ttl_ms(config, 1));
    OK(pushbus_config_set_janitor_interval_ms(config, 0));
    OK(pushbus_bus_new(config, &bus));
    pushbus_config_free(config);

    IS(pushbus_publisher_new(NULL, S("t"), &publisher), PUSHBUS_NULL_POINTER);
    IS(pushbus_publisher_new(bus, S("t"), NULL), PUSHBUS_NULL_POINTER);
    IS(pushbus_publisher_new(bus, NULL, 1, &publisher), PUSHBUS_NULL_POINTER);
    IS(pushbus_publisher_new(bus, S("\xff"), &publisher), PUSHBUS_INVALID_UTF8);
    IS(pushbus_publisher_new(bus, S("a b"), &publisher), PUSHBUS_INVALID_TOPIC);
    IS(pushbus_publisher_new(bus, S("t.>"), &publisher), PUSHBUS_PATTERN_NOT_ALLOWED);
    CHECK(publisher == NULL);

    pushbus_str topics[] = {{S("t")}};
    OK(pushbus_poller_new(bus, &poller));
    OK(pushbus_subscribe(poller, topics, 1, NULL, PUSHBUS_LAG_DEFAULT, &id));
    OK(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"a", 1, &key));
    OK(pushbus_publisher_new(bus, S("t"), &publisher));
    OK(pushbus_publisher_publish(publisher, S("message"), PUSHBUS_PAYLOAD_JSON, (const uint8_t *)"[2]", 3, &key));
    CHECK(key.seq == 2);

    IS(pushbus_publisher_publish(NULL, NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &kept), PUSHBUS_NULL_POINTER);
    IS(pushbus_publisher_publish(publisher, NULL, 0, PUSHBUS_PAYLOAD_TEXT, NULL, 1, &kept), PUSHBUS_NULL_POINTER);
    IS(pushbus_publisher_publish(publisher, S("a\nevent: x"), PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"x", 1, &kept), PUSHBUS_INVALID_EVENT);
    IS(pushbus_publisher_publish(publisher, NULL, 0, PUSHBUS_PAYLOAD_BINARY, big, sizeof big, &kept), PUSHBUS_MESSAGE_TOO_LARGE);
    IS(pushbus_publisher_publish(publisher, NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"\xc3\x28", 2, &kept), PUSHBUS_INVALID_UTF8);
    IS(pushbus_publisher_publish(publisher, NULL, 0, PUSHBUS_PAYLOAD_JSON, (const uint8_t *)"1},{", 4, &kept), PUSHBUS_INVALID_JSON);
    IS(pushbus_publisher_publish(publisher, NULL, 0, 3, (const uint8_t *)"x", 1, &kept), PUSHBUS_INVALID_ARGUMENT);
    CHECK(kept.epoch == 7 && kept.seq == 7); /* out-pointers untouched on error */

    /* Only the two accepted messages arrive, with the publisher's key. */
    pushbus_batch *batch = NULL;
    pushbus_event events[4];
    size_t count = 0;
    OK(pushbus_batch_new(&batch));
    OK(pushbus_poller_drain(poller, batch, events, 4, &count));
    CHECK(count == 2);
    CHECK(events[1].kind == PUSHBUS_EVENT_MESSAGE && events[1].message != NULL);
    CHECK(events[1].message->key.epoch == key.epoch && events[1].message->key.seq == 2);
    CHECK(events[1].message->data_len == 3 && memcmp(events[1].message->data, "[2]", 3) == 0);
    pushbus_batch_free(batch);

    /* Idle (no subscription, ttl over) but held by the publisher: kept. */
    OK(pushbus_unsubscribe(poller, id));
    pushbus_poller_free(poller);
    usleep(5000);
    OK(pushbus_bus_sweep(bus));
    pushbus_stats stats;
    OK(pushbus_bus_stats(bus, &stats));
    CHECK(stats.topics == 1 && stats.published == 2);
    pushbus_bus_free(bus); /* the publisher keeps the bus alive */
    pushbus_key next;
    OK(pushbus_publisher_publish(publisher, NULL, 0, PUSHBUS_PAYLOAD_BINARY, NULL, 0, &next));
    CHECK(next.epoch == key.epoch && next.seq == 3);
    pushbus_publisher_free(publisher);
    pushbus_publisher_free(NULL);
}

static void test_subscribe_errors_and_starts(void) {
    pushbus_bus *bus = new_bus(3);
    pushbus_poller *poller = NULL;
    pushbus_batch *batch = NULL;
    pushbus_event events[16];
    size_t count = 0;
    uint64_t id = 0;
    pushbus_key keys[6];
    OK(pushbus_poller_new(bus, &poller));
    OK(pushbus_batch_new(&batch));
    for (int i = 0; i < 6; i++) {
        OK(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"m", 1, &keys[i]));
    }
    pushbus_str one[] = {{S("t")}};
    pushbus_str two[] = {{S("t")}, {S("u.*")}};
    pushbus_str bad_topic[] = {{S("a..b")}};
    pushbus_str bad_pattern[] = {{S("a.>.b")}};
    pushbus_str bad_utf8[] = {{S("\xff")}};
    pushbus_str null_entry[] = {{NULL, 4}};
    pushbus_start garbage = {PUSHBUS_START_TOKEN, 0, S("not-a-key")};
    pushbus_start bad_kind = {99, 0, NULL, 0};
    IS(pushbus_subscribe(poller, one, 0, NULL, 0, &id), PUSHBUS_NO_TOPICS);
    IS(pushbus_subscribe(poller, NULL, 1, NULL, 0, &id), PUSHBUS_NULL_POINTER);
    IS(pushbus_subscribe(poller, null_entry, 1, NULL, 0, &id), PUSHBUS_NULL_POINTER);
    IS(pushbus_subscribe(poller, bad_topic, 1, NULL, 0, &id), PUSHBUS_INVALID_TOPIC);
    IS(pushbus_subscribe(poller, bad_pattern, 1, NULL, 0, &id), PUSHBUS_INVALID_PATTERN);
    IS(pushbus_subscribe(poller, bad_utf8, 1, NULL, 0, &id), PUSHBUS_INVALID_UTF8);
    IS(pushbus_subscribe(poller, one, 1, &garbage, 0, &id), PUSHBUS_BAD_TOKEN);
    IS(pushbus_subscribe(poller, one, 1, &bad_kind, 0, &id), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_subscribe(poller, one, 1, NULL, 9, &id), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_subscribe(poller, one, 1, NULL, 0, NULL), PUSHBUS_NULL_POINTER);

    /* A key resumes one topic only. */
    char text[PUSHBUS_KEY_MAX_LEN];
    size_t len = 0;
    OK(pushbus_key_format(keys[0], text, sizeof text, &len));
    pushbus_start stale = {PUSHBUS_START_TOKEN, 0, text, len};
    IS(pushbus_subscribe(poller, two, 2, &stale, 0, &id), PUSHBUS_BAD_TOKEN);

    /* From a key no longer held: a gap naming the loss, then the oldest. */
    OK(pushbus_subscribe(poller, one, 1, &stale, PUSHBUS_LAG_DEFAULT, &id));
    OK(pushbus_poller_drain(poller, batch, events, 16, &count));
    CHECK(count == 4);
    CHECK(events[0].kind == PUSHBUS_EVENT_GAP && events[0].subscription == id);
    CHECK(events[0].message == NULL && events[0].gap != NULL);
    CHECK(events[0].gap->lost == 2 && events[0].gap->to.seq == 3 && events[0].gap->from.seq == 1);
    SAME(events[0].gap->topic, events[0].gap->topic_len, "t");
    CHECK(events[0].gap->close_reason == 0);
    pushbus_frames frames;
    OK(pushbus_batch_frames(batch, 0, &frames));
    CHECK(frames.sse_len > 20 && memcmp(frames.sse + frames.sse_len - 2, "\n\n", 2) == 0);
    CHECK(memmem(frames.sse, frames.sse_len, "\nevent: gap\n", 12) != NULL);
    CHECK(events[1].kind == PUSHBUS_EVENT_MESSAGE && events[1].message->key.seq == 4);
    CHECK(events[3].message->key.seq == 6);

    pushbus_start last2 = {PUSHBUS_START_LAST, 2, NULL, 0};
    pushbus_start oldest = {PUSHBUS_START_OLDEST, 0, NULL, 0};
    uint64_t a = 0, b = 0;
    OK(pushbus_subscribe(poller, one, 1, &last2, 0, &a));
    OK(pushbus_subscribe(poller, one, 1, &oldest, 0, &b));
    OK(pushbus_poller_drain(poller, batch, events, 16, &count));
    size_t for_a = 0, for_b = 0, shared = 0;
    for (size_t i = 0; i < count; i++) {
        for_a += events[i].subscription == a;
        for_b += events[i].subscription == b;
        for (size_t j = 0; j < i; j++) {
            if (events[j].message->key.seq == events[i].message->key.seq) {
                /* Two deliveries of one message share its payload: no copy. */
                CHECK(events[j].message->data == events[i].message->data);
                shared++;
            }
        }
    }
    CHECK(for_a == 2 && for_b == 3 && shared == 2);

    /* Lag policy close. */
    uint64_t closing = 0;
    OK(pushbus_subscribe(poller, one, 1, NULL, PUSHBUS_LAG_CLOSE, &closing));
    for (int i = 0; i < 5; i++) {
        OK(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"m", 1, NULL));
    }
    OK(pushbus_poller_drain(poller, batch, events, 16, &count));
    int closed = 0;
    for (size_t i = 0; i < count; i++) {
        if (events[i].kind == PUSHBUS_EVENT_CLOSED) {
            closed = 1;
            CHECK(events[i].subscription == closing);
            CHECK(events[i].gap->close_reason == PUSHBUS_CLOSE_LAGGED && events[i].gap->lost == 2);
            SAME(events[i].gap->topic, events[i].gap->topic_len, "t");
            IS(pushbus_batch_frames(batch, i, &frames), PUSHBUS_INVALID_ARGUMENT);
        }
    }
    CHECK(closed);
    IS(pushbus_unsubscribe(poller, closing), PUSHBUS_UNKNOWN_SUBSCRIPTION);

    /* Composite tokens for several topics. */
    uint64_t multi = 0;
    pushbus_buf token = {NULL, 0};
    OK(pushbus_subscribe(poller, two, 2, NULL, 0, &multi));
    OK(pushbus_subscription_token(poller, multi, &token));
    OK(pushbus_token_check((const char *)token.ptr, token.len));
    CHECK(memchr(token.ptr, ':', token.len) != NULL);
    pushbus_buf_free(&token);

    pushbus_batch_free(batch);
    pushbus_poller_free(poller);
    pushbus_bus_free(bus);
}

static void test_fd_and_wait(void) {
    uint32_t modes[2] = {PUSHBUS_FD_EVENTFD, PUSHBUS_FD_PIPE};
    for (int m = 0; m < 2; m++) {
        pushbus_bus *bus = new_bus(16);
        pushbus_poller *poller = NULL;
        pushbus_batch *batch = NULL;
        pushbus_event events[4];
        size_t count = 0;
        uint64_t id = 0;
        int fd = -1, again = -1;
        bool ready = true;
        pushbus_str one[] = {{S("t")}};
        OK(pushbus_poller_new(bus, &poller));
        OK(pushbus_batch_new(&batch));
        OK(pushbus_subscribe(poller, one, 1, NULL, 0, &id));
        OK(pushbus_poller_fd(poller, modes[m], &fd));
        OK(pushbus_poller_fd(poller, modes[m], &again));
        CHECK(fd >= 0 && fd == again);
        IS(pushbus_poller_fd(poller, modes[1 - m], &again), PUSHBUS_INVALID_CONFIG);
        IS(pushbus_poller_fd(poller, 5, &again), PUSHBUS_INVALID_ARGUMENT);
        CHECK(!readable(fd));
        OK(pushbus_poller_wait(poller, 10, &ready));
        CHECK(!ready);
        OK(pushbus_publish(bus, S("t"), NULL, 0, PUSHBUS_PAYLOAD_TEXT, (const uint8_t *)"m", 1, NULL));
        CHECK(readable(fd));
        OK(pushbus_poller_wait(poller, -1, &ready));
        CHECK(ready);
        OK(pushbus_poller_drain(poller, batch, events, 4, &count));
        CHECK(count == 1);
        CHECK(!readable(fd));
        IS(pushbus_poller_wait(poller, 0, NULL), PUSHBUS_NULL_POINTER);
        pushbus_batch_free(batch);
        pushbus_poller_free(poller);
        pushbus_bus_free(bus);
    }
}

static void test_polls(void) {
    pushbus_bus *bus = new_bus(3);
    pushbus_poll_result *poll_result = NULL;
    pushbus_poll_info info;
    const uint8_t *json = NULL;
    size_t len = 0;
    pushbus_key keys[5];
    for (int i = 0; i < 5; i++) {
        OK(pushbus_publish(bus, S("t"), S("message"), PUSHBUS_PAYLOAD_JSON, (const uint8_t *)"[1]", 3, &keys[i]));
    }
    char text[PUSHBUS_KEY_MAX_LEN];
    size_t text_len = 0;
    OK(pushbus_key_format(keys[3], text, sizeof text, &text_len));
    pushbus_start after = {PUSHBUS_START_TOKEN, 0, text, text_len};
    OK(pushbus_poll(bus, S("t"), &after, 50, 0, &poll_result));
    OK(pushbus_poll_result_info(poll_result, &info));
    CHECK(info.count == 1 && !info.gap && info.key.seq == 5);
    OK(pushbus_poll_result_json(poll_result, &json, &len));
    CHECK(len > 20 && memcmp(json, "{\"key\":\"", 8) == 0);
    CHECK(memmem(json, len, "\"gap\":null}", 11) != NULL);
    pushbus_poll_result_free(poll_result);

    OK(pushbus_key_format(keys[0], text, sizeof text, &text_len));
    pushbus_start stale = {PUSHBUS_START_TOKEN, 0, text, text_len};
    OK(pushbus_poll(bus, S("t"), &stale, 50, 0, &poll_result));
    OK(pushbus_poll_result_info(poll_result, &info));
    CHECK(info.gap && info.count == 3);
    pushbus_poll_result_free(poll_result);

    /* Long poll with nothing newer: times out with the same key. */
    OK(pushbus_key_format(keys[4], text, sizeof text, &text_len));
    pushbus_start newest = {PUSHBUS_START_TOKEN, 0, text, text_len};
    OK(pushbus_poll(bus, S("t"), &newest, 50, 20, &poll_result));
    OK(pushbus_poll_result_info(poll_result, &info));
    CHECK(info.count == 0 && info.key.seq == 5 && info.key.epoch == keys[4].epoch);
    pushbus_poll_result_free(poll_result);

    pushbus_start garbage = {PUSHBUS_START_TOKEN, 0, S("zz")};
    poll_result = NULL;
    IS(pushbus_poll(bus, S("t"), &garbage, 50, 0, &poll_result), PUSHBUS_BAD_TOKEN);
    CHECK(poll_result == NULL);
    IS(pushbus_poll(bus, S("t.*"), NULL, 50, 0, &poll_result), PUSHBUS_PATTERN_NOT_ALLOWED);
    IS(pushbus_poll_result_json(NULL, &json, &len), PUSHBUS_NULL_POINTER);
    IS(pushbus_poll_result_info(NULL, &info), PUSHBUS_NULL_POINTER);
    pushbus_poll_result_free(NULL);
    pushbus_bus_free(bus);
}

static void test_presence(void) {
    pushbus_bus *bus = new_bus(16);
    pushbus_poller *poller = NULL;
    pushbus_buf list = {NULL, 0};
    bool was = false;
    uint64_t id = 0;
    pushbus_str room[] = {{S("room")}};
    OK(pushbus_poller_new(bus, &poller));
    OK(pushbus_subscribe(poller, room, 1, NULL, 0, &id));
    OK(pushbus_presence_join(poller, id, S("room"), S("ann"), S("{\"user\":\"ann\"}")));
    OK(pushbus_presence_lease(bus, S("room"), S("bob"), NULL, 0, 60000));
    OK(pushbus_presence_json(bus, S("room"), &list));
    CHECK(memmem(list.ptr, list.len, "{\"client\":\"ann\",\"info\":{\"user\":\"ann\"},\"since\":", 45) != NULL);
    CHECK(memmem(list.ptr, list.len, "{\"client\":\"bob\",\"info\":{},\"since\":", 34) != NULL);
    pushbus_buf_free(&list);
    IS(pushbus_presence_join(poller, id, S("room"), S("a\nb"), NULL, 0), PUSHBUS_INVALID_PRESENCE);
    IS(pushbus_presence_join(poller, id, S("room"), S("ann"), S("{bad")), PUSHBUS_INVALID_PRESENCE);
    IS(pushbus_presence_join(poller, 999, S("room"), S("ann"), NULL, 0), PUSHBUS_UNKNOWN_SUBSCRIPTION);
    IS(pushbus_presence_lease(bus, S("room"), S(""), NULL, 0, 1000), PUSHBUS_INVALID_PRESENCE);
    OK(pushbus_presence_leave(bus, S("room"), S("bob"), &was));
    CHECK(was);
    OK(pushbus_presence_leave(bus, S("room"), S("bob"), &was));
    CHECK(!was);
    OK(pushbus_presence_leave(bus, S("room"), S("bob"), NULL));
    OK(pushbus_unsubscribe(poller, id));
    OK(pushbus_presence_json(bus, S("room"), &list));
    SAME(list.ptr, list.len, "[]");
    pushbus_buf_free(&list);
    OK(pushbus_presence_json(bus, S("nowhere"), &list));
    SAME(list.ptr, list.len, "[]");
    pushbus_buf_free(&list);
    pushbus_buf_free(NULL);
    pushbus_poller_free(poller);
    pushbus_bus_free(bus);
}

static void test_keys_and_tokens(void) {
    pushbus_key key = {0xabc, 42}, parsed = {0, 0};
    char text[PUSHBUS_KEY_MAX_LEN];
    char tiny[3];
    size_t len = 0;
    OK(pushbus_key_format(key, text, sizeof text, &len));
    SAME(text, len, "abc-42");
    IS(pushbus_key_format(key, tiny, sizeof tiny, &len), PUSHBUS_BUFFER_TOO_SMALL);
    CHECK(len == 6);
    IS(pushbus_key_format(key, NULL, 0, &len), PUSHBUS_NULL_POINTER);
    OK(pushbus_key_parse(S("abc-42"), &parsed));
    CHECK(parsed.epoch == 0xabc && parsed.seq == 42);
    IS(pushbus_key_parse(S("abc-42\n"), &parsed), PUSHBUS_BAD_TOKEN);
    IS(pushbus_key_parse(S("a:1-1"), &parsed), PUSHBUS_BAD_TOKEN);
    IS(pushbus_key_parse(S("\xff"), &parsed), PUSHBUS_INVALID_UTF8);
    OK(pushbus_token_check(S("a:1-1,b:2-2")));
    IS(pushbus_token_check(S("b:1-1,a:2-2")), PUSHBUS_BAD_TOKEN);

    pushbus_start start;
    OK(pushbus_last_event_id(NULL, 0, NULL, 0, &start));
    CHECK(start.kind == PUSHBUS_START_NOW);
    const char *header = "ab-9", *query = "ab-3";
    OK(pushbus_last_event_id(header, 4, query, 4, &start));
    CHECK(start.kind == PUSHBUS_START_TOKEN && start.token == header && start.token_len == 4);
    OK(pushbus_last_event_id(NULL, 0, query, 4, &start));
    CHECK(start.kind == PUSHBUS_START_TOKEN && start.token == query);
    IS(pushbus_last_event_id(S("ab-9\r\nevil: 1"), NULL, 0, &start), PUSHBUS_BAD_TOKEN);
    IS(pushbus_last_event_id(S("ab-9\0"), NULL, 0, &start), PUSHBUS_BAD_TOKEN);
    IS(pushbus_last_event_id(S("garbage"), NULL, 0, &start), PUSHBUS_BAD_TOKEN);
    IS(pushbus_last_event_id(NULL, 0, NULL, 0, NULL), PUSHBUS_NULL_POINTER);
}

static void test_framing(void) {
    pushbus_buf buf = {NULL, 0};
    const uint8_t *data = NULL;
    size_t len = 0;
    OK(pushbus_sse_preamble(3000, &buf));
    CHECK(buf.len > 2048 && memcmp(buf.ptr, "retry: 3000\n:", 13) == 0);
    pushbus_buf_free(&buf);
    OK(pushbus_sse_heartbeat(&data, &len));
    SAME(data, len, ": ping\n\n");
    OK(pushbus_sse_event(S("k-1"), S("join"), S("a\r\nb\rc"), &buf));
    SAME(buf.ptr, buf.len, "id: k-1\nevent: join\ndata: a\ndata: b\ndata: c\n\n");
    pushbus_buf_free(&buf);
    OK(pushbus_sse_event(NULL, 0, NULL, 0, S(""), &buf));
    SAME(buf.ptr, buf.len, "data: \n\n");
    pushbus_buf_free(&buf);
    IS(pushbus_sse_event(S("k\n"), NULL, 0, S("x"), &buf), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_sse_event(S("k\0"), NULL, 0, S("x"), &buf), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_sse_event(NULL, 0, S("x\n\ndata: y"), S("x"), &buf), PUSHBUS_INVALID_EVENT);
    IS(pushbus_sse_event(NULL, 0, NULL, 0, S("\xff"), &buf), PUSHBUS_INVALID_UTF8);

    pushbus_key to = {0xab, 7};
    OK(pushbus_gap_envelope(S("chat.x"), S("\"</script>"), to, &buf));
    SAME(buf.ptr, buf.len, "{\"event\":\"gap\",\"topic\":\"chat.x\",\"from\":\"\\\"\\u003c/script>\",\"to\":\"ab-7\"}");
    pushbus_buf_free(&buf);

    OK(pushbus_xhr_preamble(&buf));
    CHECK(buf.len == 2049 && buf.ptr[2048] == '\n' && buf.ptr[0] == ' ');
    pushbus_buf_free(&buf);

    OK(pushbus_iframe_check_callback(S("parent.cb$1")));
    IS(pushbus_iframe_check_callback(S("alert(1);f")), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_iframe_check_callback(S("</script>")), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_iframe_check_callback(S("")), PUSHBUS_INVALID_ARGUMENT);
    OK(pushbus_iframe_preamble(&buf));
    CHECK(buf.len > 2048);
    pushbus_buf_free(&buf);
    OK(pushbus_iframe_script_open(S("cb"), &buf));
    SAME(buf.ptr, buf.len, "<script>parent.cb(");
    pushbus_buf_free(&buf);
    IS(pushbus_iframe_script_open(S("a b"), &buf), PUSHBUS_INVALID_ARGUMENT);
    OK(pushbus_iframe_script_close(&data, &len));
    SAME(data, len, ")</script>\n");
    IS(pushbus_iframe_script_close(NULL, &len), PUSHBUS_NULL_POINTER);
}

static void test_websocket(void) {
    uint8_t accept[PUSHBUS_WS_ACCEPT_LEN];
    OK(pushbus_ws_accept(S("dGhlIHNhbXBsZSBub25jZQ=="), accept));
    SAME(accept, sizeof accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    IS(pushbus_ws_accept(S("short"), accept), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_ws_accept(S("dGhlIHNhbXBsZSBub25jZQ=="), NULL), PUSHBUS_NULL_POINTER);

    uint8_t header[PUSHBUS_WS_HEADER_MAX_LEN];
    size_t header_len = 0;
    OK(pushbus_ws_frame_header(PUSHBUS_WS_TEXT, 5, header, &header_len));
    CHECK(header_len == 2 && header[0] == 0x81 && header[1] == 5);
    OK(pushbus_ws_frame_header(PUSHBUS_WS_BINARY, 70000, header, &header_len));
    CHECK(header_len == 10 && header[0] == 0x82 && header[1] == 127);
    IS(pushbus_ws_frame_header(PUSHBUS_WS_PING, 126, header, &header_len), PUSHBUS_INVALID_ARGUMENT);
    IS(pushbus_ws_frame_header(3, 1, header, &header_len), PUSHBUS_INVALID_ARGUMENT);

    pushbus_buf frame = {NULL, 0};
    OK(pushbus_ws_frame(PUSHBUS_WS_PONG, (const uint8_t *)"hi", 2, &frame));
    SAME(frame.ptr, frame.len, "\x8a\x02hi");
    pushbus_buf_free(&frame);
    OK(pushbus_ws_close_frame(1000, S("bye"), &frame));
    SAME(frame.ptr, frame.len, "\x88\x05\x03\xe8" "bye");
    pushbus_buf_free(&frame);
    IS(pushbus_ws_close_frame(1005, S(""), &frame), PUSHBUS_INVALID_ARGUMENT);

    /* RFC 6455 5.7: a masked "Hello", fed in two pieces. */
    const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    pushbus_ws_decoder *decoder = NULL;
    pushbus_ws_message message;
    size_t consumed = 0;
    OK(pushbus_ws_decoder_new(0, 0, &decoder));
    OK(pushbus_ws_decode(decoder, hello, 4, &consumed, &message));
    CHECK(consumed == 4 && message.kind == PUSHBUS_WS_NONE);
    OK(pushbus_ws_decode(decoder, hello + 4, sizeof hello - 4, &consumed, &message));
    CHECK(consumed == sizeof hello - 4 && message.kind == PUSHBUS_WS_TEXT);
    SAME(message.data, message.len, "Hello");
    /* Unmasked client frames close with 1002, and the decoder stays failed. */
    const uint8_t unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    IS(pushbus_ws_decode(decoder, unmasked, sizeof unmasked, &consumed, &message), PUSHBUS_WS_PROTOCOL);
    CHECK(message.close_code == 1002);
    IS(pushbus_ws_decode(decoder, hello, sizeof hello, &consumed, &message), PUSHBUS_WS_PROTOCOL);
    pushbus_ws_decoder_free(decoder);

    /* Invalid UTF-8 closes with 1007; too large with 1009. */
    const uint8_t bad_text[] = {0x81, 0x81, 0, 0, 0, 0, 0xff};
    OK(pushbus_ws_decoder_new(0, 0, &decoder));
    IS(pushbus_ws_decode(decoder, bad_text, sizeof bad_text, &consumed, &message), PUSHBUS_WS_PROTOCOL);
    CHECK(message.close_code == 1007);
    pushbus_ws_decoder_free(decoder);
    OK(pushbus_ws_decoder_new(4, 0, &decoder));
    IS(pushbus_ws_decode(decoder, hello, sizeof hello, &consumed, &message), PUSHBUS_WS_PROTOCOL);
    CHECK(message.close_code == 1009);
    pushbus_ws_decoder_free(decoder);
    pushbus_ws_decoder_free(NULL);
    IS(pushbus_ws_decode(NULL, hello, sizeof hello, &consumed, &message), PUSHBUS_NULL_POINTER);
}

/* HS256 of {"alg":"HS256","typ":"JWT"}.{"sub":"ann","exp":4102444800,"rooms":["lobby","team.*"]}
 * with the secret "secret", computed independently with Python's hmac. */
static const char TOKEN[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbm4iLCJleHAiOjQxMDI0NDQ4MDAsInJvb21zIjpbImxvYmJ5IiwidGVhbS4qIl19."
    "JPSaBVxcRWs3_dRgNn-RFP5H9El-_l0qAY9nJnCyYzw";

static void test_jwt(void) {
    const char *token = TOKEN;
    pushbus_claims *claims = NULL;
    const char *sub = NULL;
    size_t sub_len = 0;
    uint64_t exp = 0;
    bool allowed = false;
    size_t len = strlen(token);
    OK(pushbus_jwt_verify(token, len, (const uint8_t *)"secret", 6, 0, &claims));
    OK(pushbus_claims_sub(claims, &sub, &sub_len));
    SAME(sub, sub_len, "ann");
    OK(pushbus_claims_exp(claims, &exp));
    CHECK(exp == 4102444800ULL);
    OK(pushbus_claims_allows(claims, S("lobby"), &allowed));
    CHECK(allowed);
    OK(pushbus_claims_allows(claims, S("team.a"), &allowed));
    CHECK(allowed);
    OK(pushbus_claims_allows(claims, S("other"), &allowed));
    CHECK(!allowed);
    pushbus_claims_free(claims);
    pushbus_claims_free(NULL);
    claims = NULL;
    IS(pushbus_jwt_verify(token, len, (const uint8_t *)"wrong", 5, 0, &claims), PUSHBUS_INVALID_JWT);
    IS(pushbus_jwt_verify(token, len, (const uint8_t *)"secret", 6, 4102444801ULL, &claims), PUSHBUS_EXPIRED_JWT);
    IS(pushbus_jwt_verify(S("a.b"), (const uint8_t *)"secret", 6, 0, &claims), PUSHBUS_INVALID_JWT);
    IS(pushbus_jwt_verify(token, len, NULL, 0, 0, &claims), PUSHBUS_INVALID_CONFIG);
    CHECK(claims == NULL);
}

int main(int argc, char **argv) {
    test_version_and_status();
    test_config();
    test_publish_subscribe_drain();
    test_publish_errors();
    test_publisher();
    test_subscribe_errors_and_starts();
    test_fd_and_wait();
    test_polls();
    test_presence();
    test_keys_and_tokens();
    test_framing();
    test_websocket();
    test_jwt();
    (void)argc;
    return checks_report(argv[0]);
}
