#include "reply.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

/* The Date header's value (RFC 9110 6.6.1) and its length, formatted once
 * per second. */
static const char *http_date(size_t *len) {
    static char text[40];
    static size_t text_len;
    static time_t formatted_at = (time_t)-1;
    time_t now = time(NULL);
    if (now != formatted_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        text_len = strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        formatted_at = now;
    }
    *len = text_len;
    return text;
}

/* Every head is built here and sent before the next starts, so its memory
 * is allocated once, not per response (a malloc and free of 4 KiB a POST). */
static struct buf head_buffer;
/* A head that grew past this (a long echoed Origin) is not kept. */
enum { HEAD_BUFFER_KEEP = 4096 };

void reply_start(struct reply *reply, const struct reply_to *to, int status) {
    head_buffer.len = 0;
    *reply = (struct reply){.head = &head_buffer, .status = status};
    const char *reason = http_reason(status);
    size_t date_len;
    const char *date = http_date(&date_len);
    /* Statuses are three digits (RFC 9110 15). */
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10), (char)('0' + status % 10), ' '};
    reply_add(reply, buf_append(reply->head, "HTTP/1.1 ", 9) && buf_append(reply->head, code, sizeof code) &&
                         buf_append(reply->head, reason, strlen(reason)) &&
                         buf_append(reply->head, "\r\nDate: ", 8) && buf_append(reply->head, date, date_len) &&
                         buf_append(reply->head, "\r\n", 2));
    /* The answer depends on the Origin (CORS), which a cache must know;
     * an answer no cache keeps does not need to say so. */
    if (!to->never_stored) {
        reply_header(reply, "Vary", "Origin");
    }
    if (to->origin.len > 0) {
        reply_header_n(reply, "Access-Control-Allow-Origin", to->origin.ptr, to->origin.len);
        reply_header(reply, "Access-Control-Allow-Credentials", "true");
        reply_header(reply, "Access-Control-Expose-Headers", "ETag");
    }
}

/* Connection: close when the connection ends after this response, and
 * keep-alive only to an HTTP/1.0 client that asked for it: HTTP/1.1
 * connections persist unless a side says close (RFC 9112 9.3), and a
 * header fewer is one fewer for every client to parse on every POST. */
static void connection_header(struct reply *reply, const struct reply_to *to) {
    if (!to->keep_alive) {
        reply_header(reply, "Connection", "close");
    } else if (!to->http11) {
        reply_header(reply, "Connection", "keep-alive");
    }
}

/* Sends the finished head (and body); false when the connection closed. */
static bool send_head(struct reply *reply, const struct reply_to *to, const void *body, size_t len) {
    reply_add(reply, buf_append(reply->head, "\r\n", 2));
    bool sent = false;
    if (reply->failed) {
        server_log(to->conn->server, "out of memory for a response head: closing the connection");
        server_close(to->conn);
    } else {
        struct iovec iov[2] = {
            {.iov_base = buf_bytes(reply->head), .iov_len = reply->head->len},
            {.iov_base = (void *)body, .iov_len = to->head_only ? 0 : len},
        };
        sent = conn_send(to->conn, iov, 2);
    }
    reply->head->len = 0;
    buf_shrink(reply->head, HEAD_BUFFER_KEEP);
    return sent;
}

void reply_end(struct reply *reply, const struct reply_to *to, const void *body, size_t len) {
    bool bodyless = reply->status == 204 || reply->status == 304;
    if (!bodyless) {
        reply_add(reply, buf_append(reply->head, "Content-Length: ", 16) && buf_append_decimal(reply->head, len) &&
                             buf_append(reply->head, "\r\n", 2));
    }
    connection_header(reply, to);
    if (send_head(reply, to, bodyless ? NULL : body, bodyless ? 0 : len) && !to->keep_alive) {
        to->conn->close_when_written = true;
    }
}

bool reply_end_stream(struct reply *reply, const struct reply_to *to) {
    if (to->http11) {
        reply_header(reply, "Transfer-Encoding", "chunked");
        connection_header(reply, to);
    } else {
        reply_header(reply, "Connection", "close");
    }
    return send_head(reply, to, NULL, 0);
}

/* Cache-Control: no-store, except on an answer no cache keeps anyway. A
 * POST's answer, without it and Vary, has two headers fewer for its client
 * to parse, once a message published. */
static void no_store(struct reply *reply, const struct reply_to *to) {
    if (!to->never_stored) {
        reply_header(reply, "Cache-Control", "no-store");
    }
}

/* {"error": why}, escaped by jansson; NULL when memory runs out. */
static char *error_json(const char *why) {
    json_t *object = json_pack("{s:s}", "error", why);
    char *text = object ? json_dumps(object, JSON_COMPACT) : NULL;
    json_decref(object);
    return text;
}

void reply_error(const struct reply_to *to, int status, const char *why, const char *name, const char *value) {
    char *json = error_json(why);
    struct reply reply;
    reply_start(&reply, to, status);
    reply_header(&reply, "Content-Type", "application/json; charset=utf-8");
    no_store(&reply, to);
    if (name != NULL) {
        reply_header(&reply, name, value);
    }
    reply_add(&reply, json != NULL);
    reply_end(&reply, to, json, json ? strlen(json) : 0);
    free(json);
}

void reply_json(const struct reply_to *to, int status, const char *json, size_t len) {
    struct reply reply;
    reply_start(&reply, to, status);
    reply_header(&reply, "Content-Type", "application/json; charset=utf-8");
    no_store(&reply, to);
    reply_end(&reply, to, json, len);
}

void reply_refuse(struct conn *c, int status, const char *why) {
    struct reply_to to = {.conn = c, .keep_alive = false};
    reply_error(&to, status, why, NULL, NULL);
    c->close_when_written = true;
}
