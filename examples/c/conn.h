/* One client connection: its socket, bounded input and output buffers,
 * and non-blocking writes that never stall the loop. */
#ifndef CHAT_CONN_H
#define CHAT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"
#include "timer.h"

struct server;
struct longpoll;
struct stream;
struct ws_session;

enum conn_mode {
    CONN_HTTP,      /* reading requests, writing their responses */
    CONN_LONGPOLL,  /* a long poll waiting for news */
    CONN_STREAM,    /* an SSE, XHR or iframe stream */
    CONN_WEBSOCKET, /* after the 101 */
    CONN_LINGER,    /* done: our side is shut, dropping what the client still sends */
};

struct conn {
    struct server *server;
    int fd;
    enum conn_mode mode;
    bool closed;              /* its fd is closed; freed at the end of the loop turn */
    uint32_t events;          /* the epoll interest set now */
    struct buf in;            /* bytes read and not yet handled */
    struct buf out;           /* bytes the socket has not taken yet */
    size_t out_limit;         /* past this many bytes in `out` the reader is cut off; 0: none */
    uint64_t last_write_ms;   /* when the socket last took bytes (or `out` filled) */
    uint64_t request_since_ms;/* when the wait for the current request began */
    uint64_t linger_until_ms; /* CONN_LINGER: when to stop waiting for the client's close */
    size_t head_scanned;      /* how far the request head was searched */
    bool continue_sent;       /* "100 Continue" answered for this request */
    bool close_when_written;  /* once `out` is empty, shut down and linger */
    struct timer timer;       /* its one deadline (see server.c) */
    union {
        struct longpoll *longpoll;
        struct stream *stream;
        struct ws_session *ws;
    } session;                /* the mode's own state */
    struct conn *prev, *next; /* the server's open connections */
    struct conn *next_closed; /* the server's closed ones, waiting to be freed */
};

/* Sends the bytes of iov: written at once when nothing is waiting, the
 * rest copied to `out` for EPOLLOUT. False when the connection is closed
 * (now or before): the socket failed, memory ran out, or `out` passed its
 * limit (a reader that does not read: cut off, it resumes with its key). */
bool conn_send(struct conn *c, const struct iovec *iov, int count);

/* conn_send of one piece. */
bool conn_send_bytes(struct conn *c, const void *bytes, size_t len);

/* Writes what `out` holds; false when the connection was closed. */
bool conn_flush(struct conn *c);

enum conn_read_result { CONN_READ_DATA, CONN_READ_NONE, CONN_READ_EOF, CONN_READ_ERROR };

/* Reads once into `in`, keeping it at most `limit` bytes. */
enum conn_read_result conn_read(struct conn *c, size_t limit);

#endif
