#include "router.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "polls.h"
#include "request.h"
#include "server.h"
#include "static_files.h"
#include "stream.h"
#include "ws.h"

/* Every endpoint under /rooms/{room}/. */
static void post_message(const struct room_request *rq);
static void connectors(const struct room_request *rq);

static const struct room_route {
    const char *action;
    const char *method;
    void (*handle)(const struct room_request *rq);
    bool websocket; /* its Origin is checked before its token */
} ROOM_ROUTES[] = {
    {"messages", "POST", post_message, false}, {"connectors", "GET", connectors, false},
    {"poll", "GET", polls_short, false},       {"longpoll", "GET", polls_long, false},
    {"events", "GET", stream_sse, false},      {"xhr", "GET", stream_xhr, false},
    {"iframe", "GET", stream_iframe, false},   {"ws", "GET", ws_chat, true},
};

static void post_message(const struct room_request *rq) {
    const struct request *q = rq->q;
    pushbus_key key;
    const char *why;
    int status = chat_publish(q->server->bus, &rq->room, q->body, q->body_len,
                              rq->token_user.len ? &rq->token_user : NULL, false, &key, &why);
    if (status != 0) {
        reply_error(&q->to, status, why, NULL, NULL);
        return;
    }
    /* {"id":"<key>"}: a key is [0-9a-f-], nothing to escape. */
    char json[PUSHBUS_KEY_MAX_LEN + 9];
    size_t len;
    memcpy(json, "{\"id\":\"", 7);
    pushbus_key_format(key, json + 7, PUSHBUS_KEY_MAX_LEN, &len);
    memcpy(json + 7 + len, "\"}", 2);
    reply_json(&q->to, 201, json, len + 9);
}

/* {"key": head, "connectors": [{"user", "since"}]} from pushbus's presence
 * list ([{"client", "info", "since"}]). */
static char *connectors_json(struct server *server, const struct room *room) {
    pushbus_buf presence = {0};
    pushbus_key head;
    char key[PUSHBUS_KEY_MAX_LEN];
    size_t key_len;
    if (pushbus_bus_head(server->bus, room->topic, room->topic_len, &head) != PUSHBUS_OK ||
        pushbus_presence_json(server->bus, room->topic, room->topic_len, &presence) != PUSHBUS_OK) {
        return NULL;
    }
    pushbus_key_format(head, key, sizeof key, &key_len);
    json_t *present = json_loadb((const char *)presence.ptr, presence.len, 0, NULL);
    pushbus_buf_free(&presence);
    json_t *people = json_array();
    size_t i;
    json_t *entry;
    json_array_foreach(present, i, entry) {
        json_array_append_new(people, json_pack("{s:O,s:O}", "user", json_object_get(entry, "client"), "since",
                                                json_object_get(entry, "since")));
    }
    json_t *answer = json_pack("{s:s%,s:o}", "key", key, key_len, "connectors", people);
    char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    json_decref(present);
    return text;
}

static void connectors(const struct room_request *rq) {
    char *json = connectors_json(rq->q->server, &rq->room);
    if (json == NULL) {
        reply_error(&rq->q->to, 503, "cannot read the room's presence", NULL, NULL);
        return;
    }
    reply_json(&rq->q->to, 200, json, strlen(json));
    free(json);
}

static void healthz(const struct request *q) {
    struct reply reply;
    reply_start(&reply, &q->to, 200);
    reply_header(&reply, "Content-Type", "text/plain; charset=utf-8");
    reply_header(&reply, "Cache-Control", "no-store");
    reply_end(&reply, &q->to, "ok", 2);
}

static void metrics(const struct request *q) {
    pushbus_stats stats;
    struct buf text = {0};
    if (pushbus_bus_stats(q->server->bus, &stats) != PUSHBUS_OK || !metrics_render(&q->server->metrics, &stats, &text)) {
        buf_free(&text);
        reply_error(&q->to, 503, "cannot read the counters", NULL, NULL);
        return;
    }
    struct reply reply;
    reply_start(&reply, &q->to, 200);
    reply_header(&reply, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    reply_header(&reply, "Cache-Control", "no-store");
    reply_end(&reply, &q->to, buf_bytes(&text), text.len);
    buf_free(&text);
}

/* OPTIONS: the CORS preflight, answered without authentication. */
static void preflight(const struct request *q) {
    if (q->to.origin.len == 0) {
        reply_error(&q->to, 403, "this origin is not allowed", NULL, NULL);
        return;
    }
    struct reply reply;
    reply_start(&reply, &q->to, 204);
    reply_header(&reply, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    reply_header(&reply, "Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, If-None-Match");
    reply_header(&reply, "Access-Control-Max-Age", "600");
    reply_end(&reply, &q->to, NULL, 0);
}

static bool method_is(const struct request *q, const char *method) { return http_slice_is(q->http->method, method); }

static void wrong_method(const struct request *q, const char *allowed) {
    reply_error(&q->to, 405, "method not allowed", "Allow", allowed);
}

/* /rooms/{room}/{action}: room, method, Origin (sockets), token, user. */
static void route_room(const struct request *q, const char *rest, size_t rest_len) {
    const char *slash = memchr(rest, '/', rest_len);
    const struct room_route *route = NULL;
    for (size_t i = 0; slash != NULL && route == NULL && i < sizeof ROOM_ROUTES / sizeof ROOM_ROUTES[0]; i++) {
        struct http_slice action = {slash + 1, (size_t)(rest + rest_len - slash - 1)};
        if (http_slice_is(action, ROOM_ROUTES[i].action)) {
            route = &ROOM_ROUTES[i];
        }
    }
    if (route == NULL) {
        reply_error(&q->to, 404, "not found", NULL, NULL);
        return;
    }
    struct room_request rq = {.q = q};
    if (!room_parse(rest, (size_t)(slash - rest), &rq.room)) {
        reply_error(&q->to, 400, "room must be 1-64 characters of A-Z a-z 0-9 _ -", NULL, NULL);
        return;
    }
    if (!method_is(q, route->method)) {
        wrong_method(q, route->method);
        return;
    }
    if (route->websocket && !ws_origin_allowed(q)) {
        reply_error(&q->to, 403, "this origin may not open a WebSocket", NULL, NULL);
        return;
    }
    struct grant grant = access_authorize(&q->server->config, q->http, &q->query, &rq.room);
    if (grant.status != 0) {
        reply_error(&q->to, grant.status, grant.why, grant.status == 401 ? "WWW-Authenticate" : NULL, "Bearer");
        return;
    }
    rq.token_user = grant.user;
    const struct http_slice *user = http_query_get(&q->query, "user");
    if (rq.token_user.len > 0) {
        rq.user = rq.token_user;
    } else if (user != NULL && user->len > 0 && !user_parse(user->ptr, user->len, &rq.user)) {
        reply_error(&q->to, 400, "user must be 1-32 characters", NULL, NULL);
        return;
    }
    route->handle(&rq);
}

static bool path_is(const struct request *q, const char *path) {
    return http_slice_is((struct http_slice){q->path, q->path_len}, path);
}

static void route(const struct request *q) {
    static const char rooms[] = "/rooms/";
    static const char files[] = "/static/";
    bool get = method_is(q, "GET") || method_is(q, "HEAD");
    if (method_is(q, "OPTIONS")) {
        preflight(q);
    } else if (q->path_len > strlen(rooms) && memcmp(q->path, rooms, strlen(rooms)) == 0) {
        route_room(q, q->path + strlen(rooms), q->path_len - strlen(rooms));
    } else if (path_is(q, "/healthz")) {
        get ? healthz(q) : wrong_method(q, "GET, HEAD");
    } else if (path_is(q, "/metrics")) {
        get ? metrics(q) : wrong_method(q, "GET, HEAD");
    } else if (path_is(q, "/")) {
        get ? static_serve(q, "index.html", strlen("index.html")) : wrong_method(q, "GET, HEAD");
    } else if (q->path_len > strlen(files) && memcmp(q->path, files, strlen(files)) == 0) {
        get ? static_serve(q, q->path + strlen(files), q->path_len - strlen(files)) : wrong_method(q, "GET, HEAD");
    } else if (path_is(q, "/ws-echo")) {
        method_is(q, "GET") ? ws_echo(q) : wrong_method(q, "GET");
    } else {
        reply_error(&q->to, 404, "not found", NULL, NULL);
    }
}

/* Decodes the path and query, then routes. The body follows the head. */
static void handle(struct conn *c, const struct http_request *http, size_t body_len) {
    struct server *server = c->server;
    /* Field by field: an initializer would zero the 18 KiB of path and
     * query storage on every request, which the decoders below fill. */
    struct request q;
    q.server = server;
    q.http = http;
    q.body = buf_bytes(&c->in) + http->head_len;
    q.body_len = body_len;
    q.to = (struct reply_to){
        .conn = c,
        .keep_alive = http->keep_alive,
        .head_only = http_slice_is(http->method, "HEAD"),
        .http11 = http->minor_version == 1,
        .never_stored = http_slice_is(http->method, "POST"),
        .origin = access_cors_origin(&server->config, http),
    };
    server->metrics.requests++;
    if (!http_percent_decode(http->path.ptr, http->path.len, false, q.path, &q.path_len) ||
        memchr(q.path, '\0', q.path_len) != NULL) {
        reply_error(&q.to, 400, "malformed percent-encoding in the path", NULL, NULL);
    } else if (!http_query_parse(http->query.ptr, http->query.len, &q.query)) {
        reply_error(&q.to, 400, "malformed query string (percent-encoding, or more than 64 parameters)", NULL, NULL);
    } else {
        route(&q);
    }
}

/* Where the body of a parsed head ends: HTTP_COMPLETE with its encoded
 * and decoded lengths (a chunked body is then decoded in place), or
 * HTTP_INCOMPLETE, or HTTP_INVALID with the status to answer. */
static enum http_parse_result body_of(struct conn *c, const struct http_request *http, size_t *encoded_len,
                                      size_t *body_len, int *status, const char **why) {
    char *body = (char *)buf_bytes(&c->in) + http->head_len;
    size_t available = c->in.len - http->head_len;
    if (!http->chunked) {
        *encoded_len = *body_len = http->content_length;
        return available >= http->content_length ? HTTP_COMPLETE : HTTP_INCOMPLETE;
    }
    enum http_parse_result parsed = http_parse_chunked(body, available, false, encoded_len, body_len, status, why);
    if (parsed == HTTP_COMPLETE) {
        /* Checked whole first: decoding moves bytes, which must happen once. */
        http_parse_chunked(body, available, true, encoded_len, body_len, status, why);
    } else if (parsed == HTTP_INCOMPLETE && c->in.len >= HTTP_MAX_REQUEST) {
        *status = 413, *why = "the chunked body's framing is larger than the server takes";
        return HTTP_INVALID;
    }
    return parsed;
}

/* Pipelined requests are answered while less than this waits unwritten:
 * their answers go out in one write, and a client that sends requests
 * without reading the answers is not served past it. */
enum { PIPELINED_ANSWERS_MAX = 16 * 1024 };

/* Answers the complete requests in `c->in`, one after another, until
 * their answers fill PIPELINED_ANSWERS_MAX: then true, to be called again
 * once they are written. */
static bool answer_requests(struct conn *c) {
    while (!c->closed && c->mode == CONN_HTTP && !c->close_when_written && c->in.len > 0) {
        if (c->out.len >= PIPELINED_ANSWERS_MAX) {
            return true;
        }
        struct http_request http;
        int status;
        const char *why;
        size_t encoded_len;
        size_t body_len;
        enum http_parse_result parsed =
            http_parse_head((const char *)buf_bytes(&c->in), c->in.len, &c->head_scanned, &http, &status, &why);
        if (parsed == HTTP_COMPLETE) {
            parsed = body_of(c, &http, &encoded_len, &body_len, &status, &why);
            if (parsed == HTTP_INCOMPLETE && http.expect_continue && !c->continue_sent) {
                static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
                c->continue_sent = conn_send_bytes(c, go_on, strlen(go_on));
            }
        }
        if (parsed == HTTP_INCOMPLETE) {
            return false;
        }
        if (parsed == HTTP_INVALID) {
            reply_refuse(c, status, why);
            return false;
        }
        handle(c, &http, body_len);
        if (c->closed) {
            return false;
        }
        buf_consume(&c->in, http.head_len + encoded_len);
        c->head_scanned = 0;
        c->continue_sent = false;
        c->request_since_ms = c->server->now_ms;
    }
    return false;
}

void router_on_input(struct conn *c) {
    bool more;
    do {
        conn_cork(c);
        more = answer_requests(c);
    } while (conn_uncork(c) && more && c->out.len == 0);
}
