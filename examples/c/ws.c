#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "subs.h"

enum {
    /* Reading stops while more than this waits to be written. */
    WS_PAUSE_BYTES = 64 * 1024,
    /* A peer silent (not even a pong) for this many heartbeats is gone. */
    WS_SILENT_HEARTBEATS = 3,
    WS_MIN_SILENCE_MS = 5000,
};

struct ws_session {
    bool chat;                   /* a room's socket; else /ws-echo */
    pushbus_ws_decoder *decoder;
    bool subscribed;
    uint64_t sub;
    struct room room;
    struct user author; /* the token's user: posts are in its name */
    struct resume resume;
    uint64_t last_heard_ms;
    uint64_t next_ping_ms;
};

/* `borrowed`: the data stays valid until the drain ends (a batch's
 * frames), so the frame is queued (conn_queue) with a copy of its header. */
static bool send_frame(struct conn *c, uint32_t opcode, const uint8_t *data, size_t len, bool borrowed) {
    uint8_t header[PUSHBUS_WS_HEADER_MAX_LEN];
    size_t header_len;
    if (pushbus_ws_frame_header(opcode, len, header, &header_len) != PUSHBUS_OK) {
        server_close(c);
        return false;
    }
    struct iovec iov[2] = {{.iov_base = header, .iov_len = header_len}, {.iov_base = (void *)data, .iov_len = len}};
    return borrowed ? conn_queue(c, iov, 2, 1u) : conn_send(c, iov, 2);
}

static void unsubscribe(struct conn *c, struct ws_session *s) {
    if (s->subscribed) {
        subs_close(c->server, s->sub);
        s->subscribed = false;
    }
}

/* Sends a Close (code 0: one without a code), after which the connection
 * only waits for the peer's: it lingers once the Close is written. Used
 * both to start the closing handshake and to echo the peer's Close with
 * its code (RFC 6455 5.5.1). */
static void send_close(struct conn *c, uint16_t code, const char *reason) {
    pushbus_buf frame = {0};
    unsubscribe(c, c->session.ws);
    pushbus_status status = code == 0 ? pushbus_ws_frame(PUSHBUS_WS_CLOSE, NULL, 0, &frame)
                                      : pushbus_ws_close_frame(code, reason, strlen(reason), &frame);
    if (status != PUSHBUS_OK) {
        server_close(c);
        return;
    }
    if (conn_send_bytes(c, frame.ptr, frame.len)) {
        c->close_when_written = true;
    }
    pushbus_buf_free(&frame);
}

static void on_message(struct conn *c, const pushbus_ws_message *message) {
    struct ws_session *s = c->session.ws;
    switch (message->kind) {
    case PUSHBUS_WS_TEXT:
    case PUSHBUS_WS_BINARY:
        if (!s->chat) {
            send_frame(c, message->kind, message->data, message->len, false);
        } else if (message->kind == PUSHBUS_WS_TEXT) {
            pushbus_key key;
            const char *why;
            /* A post that breaks the rules is dropped: there is no status
             * to answer with. Counted, not logged: a client must not be
             * able to flood the log. */
            if (chat_publish(c->server->bus, &s->room, message->data, message->len, s->author.len ? &s->author : NULL,
                             true, &key, &why) != 0) {
                c->server->metrics.ws_posts_dropped++;
            }
        }
        break;
    case PUSHBUS_WS_PING:
        send_frame(c, PUSHBUS_WS_PONG, message->data, message->len, false);
        break;
    case PUSHBUS_WS_CLOSE:
        send_close(c, message->close_code, "");
        break;
    default: /* a Pong: hearing from the peer is all it is for */
        break;
    }
}

static const char *close_reason(uint16_t code) {
    switch (code) {
    case 1007: return "invalid UTF-8";
    case 1009: return "message too big";
    default: return "protocol error";
    }
}

void ws_on_input(struct conn *c) {
    struct ws_session *s = c->session.ws;
    if (c->in.len > 0) {
        s->last_heard_ms = c->server->now_ms;
    }
    while (!c->closed && !c->close_when_written && c->in.len > 0 && ws_reading(c)) {
        size_t consumed = 0;
        pushbus_ws_message message;
        pushbus_status status = pushbus_ws_decode(s->decoder, buf_bytes(&c->in), c->in.len, &consumed, &message);
        buf_consume(&c->in, consumed);
        if (status == PUSHBUS_WS_PROTOCOL) {
            send_close(c, message.close_code, close_reason(message.close_code));
            return;
        }
        if (status != PUSHBUS_OK) {
            server_close(c);
            return;
        }
        if (message.kind == PUSHBUS_WS_NONE) {
            break;
        }
        on_message(c, &message);
    }
}

bool ws_reading(const struct conn *c) { return c->out.len <= WS_PAUSE_BYTES; }

void ws_on_event(struct conn *c, const pushbus_event *event, const pushbus_batch *batch, size_t index) {
    struct ws_session *s = c->session.ws;
    pushbus_buf gap_envelope = {0};
    pushbus_frames frames;
    if (event->kind == PUSHBUS_EVENT_CLOSED) {
        send_close(c, 1011, "the subscription closed: reconnect with your key");
    } else if (event->kind == PUSHBUS_EVENT_GAP && resume_take_gap(&s->resume, &s->room, event->gap, &gap_envelope)) {
        send_frame(c, PUSHBUS_WS_TEXT, gap_envelope.ptr, gap_envelope.len, false);
        pushbus_buf_free(&gap_envelope);
    } else if (pushbus_batch_frames(batch, index, &frames) == PUSHBUS_OK) {
        send_frame(c, PUSHBUS_WS_TEXT, frames.envelope, frames.envelope_len, true);
    } else {
        server_close(c);
    }
}

static uint64_t silence_limit_ms(const struct conn *c) {
    uint64_t limit = WS_SILENT_HEARTBEATS * c->server->config.heartbeat_ms;
    return limit < WS_MIN_SILENCE_MS ? WS_MIN_SILENCE_MS : limit;
}

uint64_t ws_deadline(const struct conn *c) {
    const struct ws_session *s = c->session.ws;
    uint64_t silent_at = s->last_heard_ms + silence_limit_ms(c);
    return s->next_ping_ms < silent_at ? s->next_ping_ms : silent_at;
}

void ws_on_timer(struct conn *c) {
    struct ws_session *s = c->session.ws;
    uint64_t now = c->server->now_ms;
    if (c->close_when_written) {
        return; /* closing: the write timeout bounds the wait */
    }
    /* While output waits, the write timeout judges the peer instead. */
    if (c->out.len == 0 && now >= s->last_heard_ms + silence_limit_ms(c)) {
        server_close(c);
        return;
    }
    if (now >= s->next_ping_ms) {
        s->next_ping_ms = now + c->server->config.heartbeat_ms;
        send_frame(c, PUSHBUS_WS_PING, NULL, 0, false);
    }
}

void ws_going_away(struct conn *c) {
    if (!c->close_when_written) {
        send_close(c, 1001, "the server is shutting down");
    }
}

void ws_release(struct conn *c) {
    struct ws_session *s = c->session.ws;
    if (s == NULL) {
        return;
    }
    unsubscribe(c, s);
    if (s->chat) {
        c->server->metrics.open_streams[TRANSPORT_WS]--;
    }
    pushbus_ws_decoder_free(s->decoder);
    free(s);
    c->session.ws = NULL;
}

bool ws_origin_allowed(const struct request *q) {
    return http_header(q->http, "origin") == NULL || q->to.origin.len > 0;
}

/* Checks the upgrade request (RFC 6455 4.2.1) and computes the accept
 * value; on failure answers it (400, or 426 for another version). */
static bool check_handshake(const struct request *q, uint8_t accept[PUSHBUS_WS_ACCEPT_LEN]) {
    const struct http_slice *version = http_header(q->http, "sec-websocket-version");
    const struct http_slice *key = http_header(q->http, "sec-websocket-key");
    if (q->http->minor_version != 1 || !http_header_has_token(q->http, "upgrade", "websocket") ||
        !http_header_has_token(q->http, "connection", "upgrade") || version == NULL) {
        reply_error(&q->to, 400, "not a WebSocket handshake", NULL, NULL);
        return false;
    }
    if (!http_slice_is(*version, "13")) {
        reply_error(&q->to, 426, "WebSocket version 13 only", "Sec-WebSocket-Version", "13");
        return false;
    }
    if (key == NULL || pushbus_ws_accept(key->ptr, key->len, accept) != PUSHBUS_OK) {
        reply_error(&q->to, 400, "Sec-WebSocket-Key must be the base64 of 16 bytes", NULL, NULL);
        return false;
    }
    return true;
}

/* The 101 that turns the connection into a WebSocket owned by `s`. */
static void upgrade(const struct request *q, struct ws_session *s, const uint8_t accept[PUSHBUS_WS_ACCEPT_LEN],
                    size_t out_limit) {
    struct conn *c = q->to.conn;
    char head[160];
    int len = snprintf(head, sizeof head,
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %.*s\r\n\r\n",
                       PUSHBUS_WS_ACCEPT_LEN, (const char *)accept);
    s->last_heard_ms = q->server->now_ms;
    s->next_ping_ms = q->server->now_ms + q->server->config.heartbeat_ms;
    c->session.ws = s;
    c->mode = CONN_WEBSOCKET;
    c->out_limit = out_limit;
    conn_send_bytes(c, head, (size_t)len);
}

static struct ws_session *new_session(const struct request *q, bool chat, size_t max_message) {
    struct ws_session *s = calloc(1, sizeof *s);
    if (s == NULL || pushbus_ws_decoder_new(max_message, 0, &s->decoder) != PUSHBUS_OK) {
        free(s);
        reply_error(&q->to, 503, "out of memory", NULL, NULL);
        return NULL;
    }
    s->chat = chat;
    return s;
}

static void free_session(struct ws_session *s) {
    pushbus_ws_decoder_free(s->decoder);
    free(s);
}

void ws_echo(const struct request *q) {
    uint8_t accept[PUSHBUS_WS_ACCEPT_LEN];
    if (!check_handshake(q, accept)) {
        return;
    }
    /* 0: the decoder's defaults, 16 MiB per message and 65,536 fragments.
     * No output limit: reading pauses while an echo is written instead. */
    struct ws_session *s = new_session(q, false, 0);
    if (s != NULL) {
        upgrade(q, s, accept, 0);
    }
}

void ws_chat(const struct room_request *rq) {
    const struct request *q = rq->q;
    struct server *server = q->server;
    struct conn *c = q->to.conn;
    uint8_t accept[PUSHBUS_WS_ACCEPT_LEN];
    if (!check_handshake(q, accept)) {
        return;
    }
    /* Posts are chat messages: the HTTP body limit applies (1009 above). */
    struct ws_session *s = new_session(q, true, HTTP_MAX_BODY);
    if (s == NULL) {
        return;
    }
    const struct http_slice *key = http_query_get(&q->query, "key");
    pushbus_status status = PUSHBUS_IO;
    s->room = rq->room;
    s->author = rq->token_user;
    if (!resume_from(server->bus, &rq->room, key ? key->ptr : NULL, key ? key->len : 0, &s->resume) ||
        !subs_open(server, c, &rq->room, &s->resume.start, &s->sub, &status)) {
        free_session(s);
        reply_error(&q->to, 503, "cannot subscribe now; try again later", NULL, NULL);
        return;
    }
    s->subscribed = true;
    if (rq->user.len > 0) {
        status = pushbus_presence_join(server->poller, s->sub, rq->room.topic, rq->room.topic_len, rq->user.name,
                                       rq->user.len, NULL, 0);
        if (status != PUSHBUS_OK) {
            subs_close(server, s->sub);
            free_session(s);
            reply_error(&q->to, 400, pushbus_status_str(status), NULL, NULL);
            return;
        }
    }
    server->metrics.open_streams[TRANSPORT_WS]++;
    upgrade(q, s, accept, server->config.write_buffer_bytes);
}
