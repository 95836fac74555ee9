/* HTTP responses: a head built header by header, then sent with its body,
 * or opened as a stream. Every response carries the CORS headers its
 * request earned (CHAT_API.md, "OPTIONS"; TRANSPORTS.md 9, 25, 26). */
#ifndef CHAT_REPLY_H
#define CHAT_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "http.h"

struct conn;

/* What a response needs to know of its request; long polls keep a copy. */
struct reply_to {
    struct conn *conn;
    bool keep_alive;          /* the client keeps the connection */
    bool head_only;           /* HEAD: everything but the body */
    bool http11;              /* HTTP/1.1: streams are chunked, and the connection
                               * persists unless a side says close (RFC 9112 9.3) */
    bool never_stored;        /* POST: no cache keeps its answer (RFC 9110 9.3.3) */
    struct http_slice origin; /* an Origin that CORS allows, echoed; len 0: none */
};

struct reply {
    struct buf *head; /* reply.c's one head buffer: one reply is built at a time */
    int status;
    bool failed; /* memory ran out while building it */
};

/* Starts a response: status line, Date, Vary (unless never stored) and the
 * CORS headers. */
void reply_start(struct reply *reply, const struct reply_to *to, int status);

/* Records that an append to the head failed (memory ran out), when !ok:
 * the reply is then not sent. */
static inline void reply_add(struct reply *reply, bool ok) {
    if (!ok) {
        reply->failed = true;
    }
}

/* Appends one header line; values hold no NUL (the parser refuses it, and
 * the others are C strings). Always inline, so that the lengths of literal
 * names and values are known when compiled: a POST's reply has three
 * headers, and GCC, left to choose, kept a copy that called strlen twice a
 * header. */
__attribute__((always_inline)) static inline void reply_header_n(struct reply *reply, const char *name, const char *value, size_t len) {
    reply_add(reply, buf_append(reply->head, name, strlen(name)) && buf_append(reply->head, ": ", 2) &&
                         buf_append(reply->head, value, len) && buf_append(reply->head, "\r\n", 2));
}

__attribute__((always_inline)) static inline void reply_header(struct reply *reply, const char *name,
                                                                const char *value) {
    reply_header_n(reply, name, value, strlen(value));
}

/* Ends the head with Content-Length and Connection and sends it with the
 * body. Without keep-alive the connection closes once it is written. */
void reply_end(struct reply *reply, const struct reply_to *to, const void *body, size_t len);

/* Ends the head of a stream (chunked on HTTP/1.1, else closed at its end)
 * and sends it; false when the connection closed. */
bool reply_end_stream(struct reply *reply, const struct reply_to *to);

/* A JSON body {"error": why}, with one extra header when name is not NULL. */
void reply_error(const struct reply_to *to, int status, const char *why, const char *name, const char *value);

/* A JSON body, no-store. */
void reply_json(const struct reply_to *to, int status, const char *json, size_t len);

/* For a request that could not be parsed: a JSON error, then close. */
void reply_refuse(struct conn *c, int status, const char *why);

#endif
