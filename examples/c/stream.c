#include "stream.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "subs.h"

enum {
    SSE_RETRY_MS = 3000,
    SSE_SHED_RETRY_MS = 10000, /* when no subscription can be made: come back later */
};

struct stream {
    enum transport kind; /* TRANSPORT_SSE, _XHR or _IFRAME */
    uint64_t sub;
    struct room room;
    struct resume resume;
    pushbus_buf script_open; /* iframe: "<script>parent.F(" */
    size_t sent;             /* body bytes written */
    size_t budget;           /* end after this many; 0: never */
    bool chunked;
    bool keep_alive;
    uint64_t last_sent_ms; /* heartbeats fill silences */
};

static const uint8_t NEWLINE[] = "\n";
static const uint8_t NULL_JSON[] = "null";

/* Writes the parts as one HTTP chunk (bare on HTTP/1.0, where the stream
 * ends with the connection). `borrowed`: the parts stay valid until the
 * drain ends (a batch's frames), so they are queued, and join the chunk
 * the drain's earlier events for this connection opened (conn_queue_chunk). */
static bool send_chunk(struct conn *c, struct stream *s, const struct iovec *parts, int count, bool borrowed) {
    assert(count <= CONN_CHUNK_PARTS_MAX);
    for (int i = 0; i < count; i++) {
        s->sent += parts[i].iov_len;
    }
    s->last_sent_ms = c->server->now_ms;
    if (!s->chunked) {
        return borrowed ? conn_queue(c, parts, count, 0) : conn_send(c, parts, count);
    }
    return borrowed ? conn_queue_chunk(c, parts, count) : conn_send_chunk(c, parts, count);
}

static struct iovec part(const void *bytes, size_t len) { return (struct iovec){.iov_base = (void *)bytes, .iov_len = len}; }

/* One message or gap: an SSE event as pushbus framed it, else its envelope
 * as an NDJSON line or a script. */
static bool send_event(struct conn *c, struct stream *s, const uint8_t *sse, size_t sse_len, const uint8_t *envelope,
                       size_t envelope_len, bool borrowed) {
    switch (s->kind) {
    case TRANSPORT_SSE: {
        struct iovec parts[] = {part(sse, sse_len)};
        return send_chunk(c, s, parts, 1, borrowed);
    }
    case TRANSPORT_XHR: {
        struct iovec parts[] = {part(envelope, envelope_len), part(NEWLINE, 1)};
        return send_chunk(c, s, parts, 2, borrowed);
    }
    default: {
        const uint8_t *close;
        size_t close_len;
        pushbus_iframe_script_close(&close, &close_len);
        struct iovec parts[] = {part(s->script_open.ptr, s->script_open.len), part(envelope, envelope_len),
                                part(close, close_len)};
        return send_chunk(c, s, parts, 3, borrowed);
    }
    }
}

static bool send_heartbeat(struct conn *c, struct stream *s) {
    if (s->kind == TRANSPORT_SSE) {
        const uint8_t *ping;
        size_t len;
        pushbus_sse_heartbeat(&ping, &len);
        struct iovec parts[] = {part(ping, len)};
        return send_chunk(c, s, parts, 1, false);
    }
    if (s->kind == TRANSPORT_XHR) {
        struct iovec parts[] = {part(NEWLINE, 1)};
        return send_chunk(c, s, parts, 1, false);
    }
    return send_event(c, s, NULL, 0, NULL_JSON, 4, false);
}

/* Ends the stream cleanly: the last chunk, then the connection serves
 * requests again (or closes, without keep-alive or chunking). */
static void stream_end(struct conn *c) {
    struct stream *s = c->session.stream;
    bool reusable = s->chunked && s->keep_alive;
    if (s->chunked && !conn_send_bytes(c, "0\r\n\r\n", 5)) {
        return; /* closed: server_close released the stream */
    }
    stream_release(c);
    c->mode = CONN_HTTP;
    c->out_limit = 0;
    c->request_since_ms = c->server->now_ms;
    c->close_when_written = c->close_when_written || !reusable;
}

/* The gap that follows an unparsable key, naming the client's key. */
static bool send_rewritten_gap(struct conn *c, struct stream *s, const pushbus_gap_info *gap, const pushbus_buf *envelope) {
    if (s->kind != TRANSPORT_SSE) {
        return send_event(c, s, NULL, 0, envelope->ptr, envelope->len, false);
    }
    char id[PUSHBUS_KEY_MAX_LEN];
    size_t id_len;
    pushbus_buf event = {0};
    pushbus_key_format(gap->to, id, sizeof id, &id_len);
    if (pushbus_sse_event(id, id_len, "gap", 3, (const char *)envelope->ptr, envelope->len, &event) != PUSHBUS_OK) {
        server_close(c);
        return false;
    }
    bool sent = send_event(c, s, event.ptr, event.len, NULL, 0, false);
    pushbus_buf_free(&event);
    return sent;
}

void stream_on_event(struct conn *c, const pushbus_event *event, const pushbus_batch *batch, size_t index) {
    struct stream *s = c->session.stream;
    pushbus_buf gap_envelope = {0};
    pushbus_frames frames;
    bool sent;
    if (event->kind == PUSHBUS_EVENT_CLOSED) {
        stream_end(c);
        return;
    }
    if (event->kind == PUSHBUS_EVENT_GAP && resume_take_gap(&s->resume, &s->room, event->gap, &gap_envelope)) {
        sent = send_rewritten_gap(c, s, event->gap, &gap_envelope);
        pushbus_buf_free(&gap_envelope);
    } else if (pushbus_batch_frames(batch, index, &frames) == PUSHBUS_OK) {
        sent = send_event(c, s, frames.sse, frames.sse_len, frames.envelope, frames.envelope_len, true);
    } else {
        server_close(c);
        return;
    }
    if (sent && s->budget != 0 && s->sent >= s->budget) {
        c->server->metrics.budget_closed++;
        stream_end(c);
    }
}

uint64_t stream_deadline(const struct conn *c) {
    const struct stream *s = c->session.stream;
    return s->last_sent_ms + c->server->config.heartbeat_ms;
}

void stream_on_timer(struct conn *c) {
    struct stream *s = c->session.stream;
    if (c->server->now_ms >= stream_deadline(c) && send_heartbeat(c, s) && s->budget != 0 && s->sent >= s->budget) {
        c->server->metrics.budget_closed++;
        stream_end(c);
    }
}

void stream_release(struct conn *c) {
    struct stream *s = c->session.stream;
    if (s == NULL) {
        return;
    }
    subs_close(c->server, s->sub);
    c->server->metrics.open_streams[s->kind]--;
    pushbus_buf_free(&s->script_open);
    free(s);
    c->session.stream = NULL;
}

/* An SSE client that cannot be subscribed is asked to come back later:
 * an error status would end its EventSource for good (TRANSPORTS.md 8). */
static void shed_sse(const struct request *q) {
    pushbus_buf preamble = {0};
    struct reply reply;
    struct reply_to to = q->to;
    to.keep_alive = false;
    reply_start(&reply, &to, 200);
    reply_header(&reply, "Content-Type", "text/event-stream; charset=utf-8");
    reply_header(&reply, "Cache-Control", "no-store");
    pushbus_sse_preamble(SSE_SHED_RETRY_MS, &preamble);
    reply_end(&reply, &to, preamble.ptr, preamble.len);
    pushbus_buf_free(&preamble);
}

/* Subscribes from the key, joins the user, sends the head and the
 * preamble: the connection is a stream from then on. `s` is taken. */
static void stream_open(const struct room_request *rq, struct stream *s, const char *key, size_t key_len,
                        const char *content_type, pushbus_buf *preamble) {
    const struct request *q = rq->q;
    struct server *server = q->server;
    struct conn *c = q->to.conn;
    pushbus_status status = PUSHBUS_IO;
    s->room = rq->room;
    s->chunked = q->to.http11;
    s->keep_alive = q->to.keep_alive;
    if (!resume_from(server->bus, &rq->room, key, key_len, &s->resume) ||
        !subs_open(server, c, &rq->room, &s->resume.start, &s->sub, &status)) {
        server_log(server, "cannot subscribe a stream: %s", pushbus_status_str(status));
        enum transport kind = s->kind;
        pushbus_buf_free(&s->script_open);
        free(s);
        if (kind == TRANSPORT_SSE) {
            shed_sse(q);
        } else {
            reply_error(&q->to, 503, "cannot subscribe now; try again later", NULL, NULL);
        }
        return;
    }
    c->session.stream = s;
    c->mode = CONN_STREAM;
    server->metrics.open_streams[s->kind]++;
    if (rq->user.len > 0) {
        status = pushbus_presence_join(server->poller, s->sub, rq->room.topic, rq->room.topic_len, rq->user.name,
                                       rq->user.len, NULL, 0);
        if (status != PUSHBUS_OK) {
            stream_release(c);
            c->mode = CONN_HTTP;
            reply_error(&q->to, 400, pushbus_status_str(status), NULL, NULL);
            return;
        }
    }
    struct reply reply;
    reply_start(&reply, &q->to, 200);
    reply_header(&reply, "Content-Type", content_type);
    reply_header(&reply, "Cache-Control", "no-store");
    reply_header(&reply, "X-Accel-Buffering", "no");
    reply_header(&reply, "X-Content-Type-Options", "nosniff");
    if (reply_end_stream(&reply, &q->to)) {
        c->out_limit = server->config.write_buffer_bytes;
        struct iovec parts[] = {part(preamble->ptr, preamble->len)};
        send_chunk(c, s, parts, 1, false);
    }
}

static struct stream *new_stream(const struct request *q, enum transport kind, size_t budget) {
    struct stream *s = calloc(1, sizeof *s);
    if (s == NULL) {
        reply_error(&q->to, 503, "out of memory", NULL, NULL);
        return NULL;
    }
    s->kind = kind;
    s->budget = budget;
    return s;
}

void stream_sse(const struct room_request *rq) {
    const struct request *q = rq->q;
    const struct http_slice *header = http_header(q->http, "last-event-id");
    const struct http_slice *query = http_query_get(&q->query, "lastEventId");
    /* The header wins, even when the query names another key. An id
     * pushbus refuses (too long, CR, LF, NUL, garbage) still resumes: from
     * a gap, as resume_from does for any key that does not parse. */
    pushbus_start chosen;
    struct http_slice chosen_key;
    const struct http_slice *key = header && header->len > 0 ? header : query;
    if (pushbus_last_event_id(header ? header->ptr : NULL, header ? header->len : 0, query ? query->ptr : NULL,
                              query ? query->len : 0, &chosen) == PUSHBUS_OK) {
        chosen_key = (struct http_slice){chosen.token, chosen.token_len};
        key = chosen.kind == PUSHBUS_START_NOW ? NULL : &chosen_key;
    }
    pushbus_buf preamble = {0};
    struct stream *s = new_stream(q, TRANSPORT_SSE, 0);
    if (s == NULL) {
        return;
    }
    pushbus_sse_preamble(SSE_RETRY_MS, &preamble);
    stream_open(rq, s, key ? key->ptr : NULL, key ? key->len : 0, "text/event-stream; charset=utf-8", &preamble);
    pushbus_buf_free(&preamble);
}

void stream_xhr(const struct room_request *rq) {
    const struct request *q = rq->q;
    const struct http_slice *key = http_query_get(&q->query, "key");
    pushbus_buf preamble = {0};
    struct stream *s = new_stream(q, TRANSPORT_XHR, q->server->config.stream_budget_bytes);
    if (s == NULL) {
        return;
    }
    pushbus_xhr_preamble(&preamble);
    stream_open(rq, s, key ? key->ptr : NULL, key ? key->len : 0, "application/x-ndjson; charset=utf-8", &preamble);
    pushbus_buf_free(&preamble);
}

void stream_iframe(const struct room_request *rq) {
    const struct request *q = rq->q;
    const struct http_slice *callback = http_query_get(&q->query, "cb");
    const struct http_slice *key = http_query_get(&q->query, "key");
    pushbus_buf preamble = {0};
    pushbus_buf script_open = {0};
    if (callback == NULL ||
        pushbus_iframe_script_open(callback->ptr, callback->len, &script_open) != PUSHBUS_OK) {
        reply_error(&q->to, 400, "cb must match [A-Za-z_$][A-Za-z0-9_$.]{0,63}", NULL, NULL);
        return;
    }
    struct stream *s = new_stream(q, TRANSPORT_IFRAME, q->server->config.stream_budget_bytes);
    if (s == NULL) {
        pushbus_buf_free(&script_open);
        return;
    }
    s->script_open = script_open;
    pushbus_iframe_preamble(&preamble);
    stream_open(rq, s, key ? key->ptr : NULL, key ? key->len : 0, "text/html; charset=utf-8", &preamble);
    pushbus_buf_free(&preamble);
}
