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
    bool corked;              /* conn_send keeps bytes in `out` for conn_uncork */
    struct timer timer;       /* its one deadline (see server.c) */
    union {
        struct longpoll *longpoll;
        struct stream *stream;
        struct ws_session *ws;
    } session;                /* the mode's own state */
    struct conn *prev, *next; /* the server's open connections */
    struct conn *next_closed; /* the server's closed ones, waiting to be freed */
    /* Bytes queued during a drain (conn_queue): `queue_count` pieces from
     * `queue_first` on, written with one writev when the drain ends. */
    int queue_first, queue_last, queue_count;
    /* The HTTP chunk conn_queue_chunk is gathering at the queue's end, if
     * `chunk_open`: its size-line piece (filled in when the chunk is
     * closed) and the length of its data so far. */
    bool chunk_open;
    int chunk_size_piece;
    size_t chunk_len;
    bool touched;              /* an event reached it in this drain (server.c) */
    struct conn *next_touched; /* the drain's other touched connections */
};

/* Sends the bytes of iov: written at once when nothing is waiting and the
 * connection is not corked, the rest copied to `out` for EPOLLOUT. False when the connection is closed
 * (now or before): the socket failed, memory ran out, or `out` passed its
 * limit (a reader that does not read: cut off, it resumes with its key). */
bool conn_send(struct conn *c, const struct iovec *iov, int count);

/* Holds what conn_send sends in `out` until conn_uncork, which writes it
 * all at once: the answers to pipelined requests take one write, not one
 * each. */
void conn_cork(struct conn *c);

/* Ends conn_cork and writes what it held. False when the connection is
 * closed. */
bool conn_uncork(struct conn *c);

/* Like conn_send, but a drain's events queue their frames to be written
 * together by conn_write_queued: one syscall per connection per drain,
 * not one per event. Pieces whose bit is set in `copy` are copied (at most
 * CONN_QUEUE_COPY_MAX bytes: a frame header); the others
 * are borrowed and must stay valid until the queue is written (a batch's
 * frames: its batch is released after). Ends up in conn_send when the
 * connection is already behind (`out` not empty). */
bool conn_queue(struct conn *c, const struct iovec *iov, int count, unsigned copy);

enum { CONN_QUEUE_COPY_MAX = 24 };

/* The most parts of one chunk: an iframe's script open, envelope, close. */
enum { CONN_CHUNK_PARTS_MAX = 3 };

/* Sends `parts` as one HTTP chunk (size line, data, CRLF), as conn_send. */
bool conn_send_chunk(struct conn *c, const struct iovec *parts, int count);

/* Like conn_queue, for the data of an HTTP chunk, all of it borrowed:
 * consecutive calls in a drain gather into one chunk, sized when it is
 * written, so a drain's events cost a connection one size line and one
 * CRLF in all instead of one each (fewer pieces to queue, to writev and to
 * copy: BENCHMARKS.md, issue 8). Ends up in conn_send_chunk when the
 * connection is already behind. */
bool conn_queue_chunk(struct conn *c, const struct iovec *parts, int count);

/* Writes what conn_queue queued for the connection (conn_send's rules:
 * the rest goes to `out`, a reader past `out_limit` is cut off); false when
 * the connection is closed. conn_send writes the queue first on its own,
 * so bytes always leave in the order they were given. */
bool conn_write_queued(struct conn *c);

/* Forgets every queued piece once the drain's connections are written. */
void conn_queue_reset(void);

/* Frees the queue's memory (at exit). */
void conn_queue_free(void);

/* conn_send of one piece. */
bool conn_send_bytes(struct conn *c, const void *bytes, size_t len);

/* Writes what `out` holds; false when the connection was closed. */
bool conn_flush(struct conn *c);

enum conn_read_result { CONN_READ_DATA, CONN_READ_NONE, CONN_READ_EOF, CONN_READ_ERROR };

/* Reads once into `in`, keeping it at most `limit` bytes. */
enum conn_read_result conn_read(struct conn *c, size_t limit);

#endif
