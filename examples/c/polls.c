#include "polls.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "subs.h"

enum {
    SHORT_POLL_LAST = 50, /* a poll without a key: the last 50 messages */
    POLL_MAX = 1000,      /* messages in one answer */
    LEASE_MS = 30000,     /* presence of a polling client */
    LONGPOLL_DEFAULT_MS = 25000,
    LONGPOLL_MAX_MS = 60000,
};

struct longpoll {
    uint64_t sub;
    struct room room;
    char key[PUSHBUS_KEY_MAX_LEN]; /* answers hold what follows it */
    size_t key_len;
    uint64_t until_ms;
    struct reply_to to; /* its origin points into origin_copy */
    char *origin_copy;
};

/* Polls renew the user's presence for LEASE_MS; false after answering 400. */
static bool lease(const struct room_request *rq) {
    if (rq->user.len == 0) {
        return true;
    }
    pushbus_status status = pushbus_presence_lease(rq->q->server->bus, rq->room.topic, rq->room.topic_len,
                                                   rq->user.name, rq->user.len, NULL, 0, LEASE_MS);
    if (status != PUSHBUS_OK) {
        reply_error(&rq->q->to, 400, pushbus_status_str(status), NULL, NULL);
        return false;
    }
    return true;
}

/* 200 with the poll's JSON, its key as ETag. */
static void answer(const struct reply_to *to, const pushbus_poll_result *result) {
    const uint8_t *json;
    size_t json_len;
    pushbus_poll_info info;
    char key[PUSHBUS_KEY_MAX_LEN];
    size_t key_len;
    pushbus_poll_result_json(result, &json, &json_len);
    pushbus_poll_result_info(result, &info);
    pushbus_key_format(info.key, key, sizeof key, &key_len);
    struct reply reply;
    reply_start(&reply, to, 200);
    reply_header(&reply, "Content-Type", "application/json; charset=utf-8");
    reply_header(&reply, "Cache-Control", "no-store");
    reply_header_n(&reply, "ETag", key, key_len);
    reply_end(&reply, to, json, json_len);
}

static pushbus_status poll_after(struct server *server, const struct room *room, const char *key, size_t key_len,
                                 pushbus_poll_result **result) {
    pushbus_start start = {.kind = PUSHBUS_START_TOKEN, .token = key, .token_len = key_len};
    return pushbus_poll(server->bus, room->topic, room->topic_len, &start, POLL_MAX, 0, result);
}

static bool is_key(const struct http_slice *text) {
    pushbus_key key;
    return pushbus_key_parse(text->ptr, text->len, &key) == PUSHBUS_OK;
}

/* If-None-Match without W/ and quotes; len 0 when absent. */
static struct http_slice entity_tag(const struct http_request *req) {
    const struct http_slice *header = http_header(req, "if-none-match");
    struct http_slice tag = header ? *header : (struct http_slice){NULL, 0};
    if (tag.len >= 2 && memcmp(tag.ptr, "W/", 2) == 0) {
        tag.ptr += 2, tag.len -= 2;
    }
    if (tag.len >= 2 && tag.ptr[0] == '"' && tag.ptr[tag.len - 1] == '"') {
        tag.ptr++, tag.len -= 2;
    }
    return tag;
}

static bool is_head(struct server *server, const struct room *room, struct http_slice tag) {
    pushbus_key head;
    char text[PUSHBUS_KEY_MAX_LEN];
    size_t len;
    return pushbus_bus_head(server->bus, room->topic, room->topic_len, &head) == PUSHBUS_OK &&
           pushbus_key_format(head, text, sizeof text, &len) == PUSHBUS_OK && len == tag.len &&
           memcmp(text, tag.ptr, len) == 0;
}

void polls_short(const struct room_request *rq) {
    const struct request *q = rq->q;
    const struct http_slice *key = http_query_get(&q->query, "key");
    struct http_slice seen = entity_tag(q->http);
    if ((key != NULL && key->len > 0 && !is_key(key)) || (seen.len > 0 && !is_key(&seen))) {
        reply_error(&q->to, 400, "the key does not parse", NULL, NULL);
        return;
    }
    if (!lease(rq)) {
        return;
    }
    pushbus_poll_result *result = NULL;
    pushbus_status status;
    if (key != NULL && key->len > 0) {
        status = poll_after(q->server, &rq->room, key->ptr, key->len, &result);
    } else {
        pushbus_start last = {.kind = PUSHBUS_START_LAST, .last_n = SHORT_POLL_LAST};
        status = pushbus_poll(q->server->bus, rq->room.topic, rq->room.topic_len, &last, SHORT_POLL_LAST, 0, &result);
    }
    if (status != PUSHBUS_OK) {
        reply_error(&q->to, 503, pushbus_status_str(status), NULL, NULL);
    } else if (seen.len > 0 && is_head(q->server, &rq->room, seen)) {
        struct reply reply;
        reply_start(&reply, &q->to, 304);
        reply_header(&reply, "Cache-Control", "no-store");
        reply_header_n(&reply, "ETag", seen.ptr, seen.len);
        reply_end(&reply, &q->to, NULL, 0);
    } else {
        answer(&q->to, result);
    }
    pushbus_poll_result_free(result);
}

/* ?timeout= in milliseconds: default 25 s, at most 60 s; false if malformed. */
static bool longpoll_timeout(const struct request *q, uint64_t *ms) {
    const struct http_slice *text = http_query_get(&q->query, "timeout");
    *ms = LONGPOLL_DEFAULT_MS;
    if (text == NULL || text->len == 0) {
        return true;
    }
    if (!parse_seconds_ms(text->ptr, text->len, ms)) {
        return false;
    }
    if (*ms > LONGPOLL_MAX_MS) {
        *ms = LONGPOLL_MAX_MS;
    }
    return true;
}

/* Holds the request on a subscription from `key`: anything published
 * after it, even between the poll and now, wakes it. */
static void hold(const struct room_request *rq, const char *key, size_t key_len, uint64_t timeout_ms) {
    const struct request *q = rq->q;
    struct conn *c = q->to.conn;
    struct longpoll *lp = calloc(1, sizeof *lp);
    if (lp != NULL && q->to.origin.len > 0) {
        lp->origin_copy = malloc(q->to.origin.len);
    }
    pushbus_start start = {.kind = PUSHBUS_START_TOKEN, .token = key, .token_len = key_len};
    pushbus_status status = PUSHBUS_IO;
    if (lp == NULL || (q->to.origin.len > 0 && lp->origin_copy == NULL) ||
        !subs_open(q->server, c, &rq->room, &start, &lp->sub, &status)) {
        if (lp != NULL) {
            free(lp->origin_copy);
        }
        free(lp);
        reply_error(&q->to, 503, pushbus_status_str(status), NULL, NULL);
        return;
    }
    lp->room = rq->room;
    memcpy(lp->key, key, key_len);
    lp->key_len = key_len;
    lp->until_ms = q->server->now_ms + timeout_ms;
    lp->to = q->to;
    if (lp->origin_copy != NULL) {
        memcpy(lp->origin_copy, q->to.origin.ptr, q->to.origin.len);
        lp->to.origin.ptr = lp->origin_copy;
    }
    c->session.longpoll = lp;
    c->mode = CONN_LONGPOLL;
    q->server->metrics.open_streams[TRANSPORT_LONGPOLL]++;
}

void polls_long(const struct room_request *rq) {
    const struct request *q = rq->q;
    uint64_t timeout_ms;
    if (!longpoll_timeout(q, &timeout_ms)) {
        reply_error(&q->to, 400, "timeout must be a number of seconds", NULL, NULL);
        return;
    }
    const struct http_slice *given = http_query_get(&q->query, "key");
    char head_key[PUSHBUS_KEY_MAX_LEN];
    struct http_slice key;
    if (given != NULL && given->len > 0) {
        if (!is_key(given) || given->len >= sizeof head_key) {
            reply_error(&q->to, 400, "the key does not parse", NULL, NULL);
            return;
        }
        key = *given;
    } else {
        pushbus_key head;
        if (pushbus_bus_head(q->server->bus, rq->room.topic, rq->room.topic_len, &head) != PUSHBUS_OK) {
            reply_error(&q->to, 503, "cannot read the room", NULL, NULL);
            return;
        }
        pushbus_key_format(head, head_key, sizeof head_key, &key.len);
        key.ptr = head_key;
    }
    if (!lease(rq)) {
        return;
    }
    pushbus_poll_result *result = NULL;
    pushbus_status status = poll_after(q->server, &rq->room, key.ptr, key.len, &result);
    if (status != PUSHBUS_OK) {
        reply_error(&q->to, 503, pushbus_status_str(status), NULL, NULL);
        return;
    }
    pushbus_poll_info info;
    pushbus_poll_result_info(result, &info);
    if (info.count > 0 || info.gap || timeout_ms == 0) {
        answer(&q->to, result);
    } else {
        hold(rq, key.ptr, key.len, timeout_ms);
    }
    pushbus_poll_result_free(result);
}

/* Answers a held long poll with what follows its key (maybe nothing) and
 * returns the connection to reading requests. */
static void finish(struct conn *c) {
    struct longpoll *lp = c->session.longpoll;
    pushbus_poll_result *result = NULL;
    pushbus_status status = poll_after(c->server, &lp->room, lp->key, lp->key_len, &result);
    c->mode = CONN_HTTP;
    c->request_since_ms = c->server->now_ms;
    if (status == PUSHBUS_OK) {
        answer(&lp->to, result);
    } else {
        reply_error(&lp->to, 503, pushbus_status_str(status), NULL, NULL);
    }
    pushbus_poll_result_free(result);
    longpoll_release(c); /* only now: the answer borrowed its origin */
}

void longpoll_on_event(struct conn *c) { finish(c); }

uint64_t longpoll_deadline(const struct conn *c) { return c->session.longpoll->until_ms; }

void longpoll_on_timer(struct conn *c) {
    if (c->server->now_ms >= c->session.longpoll->until_ms) {
        finish(c);
    }
}

void longpoll_release(struct conn *c) {
    struct longpoll *lp = c->session.longpoll;
    if (lp == NULL) {
        return;
    }
    subs_close(c->server, lp->sub);
    c->server->metrics.open_streams[TRANSPORT_LONGPOLL]--;
    free(lp->origin_copy);
    free(lp);
    c->session.longpoll = NULL;
}
