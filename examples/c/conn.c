#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

/* What one read asks for: a request head or a burst of frames, without
 * making every connection's input buffer large. */
enum { READ_CHUNK = 16 * 1024 };

/* One piece queued by conn_queue, in the drain-wide queue: borrowed bytes,
 * or a few copied ones. */
struct piece {
    const uint8_t *base; /* NULL: the bytes are in `copy` */
    size_t len;
    int next;            /* the connection's next piece */
    uint8_t copy[CONN_QUEUE_COPY_MAX];
};

/* The pieces of every connection touched by the drain; grown as needed,
 * emptied when the drain ends. */
static struct piece *pieces;
static int piece_count, piece_cap;
/* A connection's queue as writev takes it. */
static struct iovec gather[IOV_MAX];

static bool keep(struct conn *c, const struct iovec *iov, int count, size_t skip) {
    for (int i = 0; i < count; i++) {
        const uint8_t *base = iov[i].iov_base;
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        if (!buf_append(&c->out, base + skip, len - skip)) {
            server_log(c->server, "out of memory for a connection's output: closing it");
            server_close(c);
            return false;
        }
        skip = 0;
    }
    if (c->out_limit != 0 && c->out.len > c->out_limit) {
        c->server->metrics.slow_readers_closed++;
        server_close(c);
        return false;
    }
    return true;
}

static bool write_failed(struct conn *c) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return false;
    }
    /* EPIPE, ECONNRESET: the client has gone; nothing to report. */
    server_close(c);
    return true;
}

bool conn_send(struct conn *c, const struct iovec *iov, int count) {
    if (c->queue_count > 0 && !conn_write_queued(c)) {
        return false;
    }
    if (c->closed) {
        return false;
    }
    size_t written = 0;
    if (c->out.len == 0) {
        if (!c->corked) {
            /* Nothing queued: the common case writes without copying. */
            ssize_t n = writev(c->fd, iov, count > IOV_MAX ? IOV_MAX : count);
            if (n < 0 && write_failed(c)) {
                return false;
            }
            written = n > 0 ? (size_t)n : 0;
        }
        c->last_write_ms = c->server->now_ms; /* the write timeout counts from here */
    }
    return keep(c, iov, count, written);
}

static bool grow_pieces(int need) {
    if (need <= piece_cap) {
        return true;
    }
    int cap = piece_cap ? piece_cap : 1024;
    while (cap < need) {
        cap *= 2;
    }
    struct piece *grown = realloc(pieces, (size_t)cap * sizeof *grown);
    if (grown == NULL) {
        return false;
    }
    pieces = grown;
    piece_cap = cap;
    return true;
}

/* "%zx\r\n" without snprintf, which cost 690 instructions of the 1,600 a
 * delivery took in the fan-out (callgrind, BENCHMARKS.md issue 8). */
static size_t chunk_size_line(char out[CONN_QUEUE_COPY_MAX], size_t size) {
    static const char HEX[] = "0123456789abcdef";
    char digits[2 * sizeof size];
    size_t n = 0;
    do {
        digits[n++] = HEX[size & 15];
        size >>= 4;
    } while (size != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = digits[n - 1 - i];
    }
    out[n] = '\r';
    out[n + 1] = '\n';
    return n + 2;
}

static const struct iovec CRLF = {.iov_base = (void *)"\r\n", .iov_len = 2};

/* Appends pieces to the connection's queue; the caller made room. */
static void append(struct conn *c, const struct iovec *iov, int count, unsigned copy) {
    for (int i = 0; i < count; i++) {
        struct piece *p = &pieces[piece_count];
        p->len = iov[i].iov_len;
        p->base = iov[i].iov_base;
        p->next = -1;
        if (copy & (1u << i)) {
            assert(p->len <= sizeof p->copy);
            memcpy(p->copy, p->base, p->len);
            p->base = NULL;
        }
        if (c->queue_count == 0) {
            c->queue_first = piece_count;
        } else {
            pieces[c->queue_last].next = piece_count;
        }
        c->queue_last = piece_count++;
        c->queue_count++;
    }
}

static bool out_of_memory(struct conn *c) {
    server_log(c->server, "out of memory for a connection's output: closing it");
    server_close(c);
    return false;
}

/* Sizes the chunk being gathered and ends it with its CRLF; false when the
 * connection had to be closed. */
static bool close_chunk(struct conn *c) {
    if (!c->chunk_open) {
        return true;
    }
    c->chunk_open = false;
    if (!grow_pieces(piece_count + 1)) {
        return out_of_memory(c);
    }
    struct piece *size_line = &pieces[c->chunk_size_piece];
    size_line->len = chunk_size_line((char *)size_line->copy, c->chunk_len);
    append(c, &CRLF, 1, 0);
    return true;
}

/* Room in the queue for `count` more pieces of `c` (written first when its
 * writev would be too long); false when the connection is closed. */
static bool make_room(struct conn *c, int count) {
    if (c->queue_count + count > IOV_MAX && !conn_write_queued(c)) {
        return false;
    }
    return grow_pieces(piece_count + count) || out_of_memory(c);
}

bool conn_queue(struct conn *c, const struct iovec *iov, int count, unsigned copy) {
    if (c->closed) {
        return false;
    }
    if (c->out.len > 0) {
        return conn_send(c, iov, count); /* behind: it joins what waits in `out` */
    }
    if (!close_chunk(c) || !make_room(c, count)) {
        return false;
    }
    append(c, iov, count, copy);
    return true;
}

bool conn_send_chunk(struct conn *c, const struct iovec *parts, int count) {
    assert(count <= CONN_CHUNK_PARTS_MAX);
    char size_line[CONN_QUEUE_COPY_MAX];
    struct iovec iov[CONN_CHUNK_PARTS_MAX + 2];
    size_t len = 0;
    for (int i = 0; i < count; i++) {
        len += parts[i].iov_len;
        iov[i + 1] = parts[i];
    }
    iov[0] = (struct iovec){.iov_base = size_line, .iov_len = chunk_size_line(size_line, len)};
    iov[count + 1] = CRLF;
    return conn_send(c, iov, count + 2);
}

bool conn_queue_chunk(struct conn *c, const struct iovec *parts, int count) {
    if (c->closed) {
        return false;
    }
    if (c->out.len > 0) {
        return conn_send_chunk(c, parts, count); /* behind: it joins what waits in `out` */
    }
    /* Room for the parts and a size line; also for the CRLF, so that a
     * full queue is written before the chunk is cut, not after. */
    if (!make_room(c, count + 2)) {
        return false;
    }
    if (!c->chunk_open) {
        /* The size line's piece: empty, its bytes in its `copy` (a NULL
         * base), where close_chunk writes them. */
        c->chunk_size_piece = piece_count;
        append(c, &(struct iovec){.iov_base = NULL, .iov_len = 0}, 1, 0);
        c->chunk_open = true;
        c->chunk_len = 0;
    }
    append(c, parts, count, 0);
    for (int i = 0; i < count; i++) {
        c->chunk_len += parts[i].iov_len;
    }
    return true;
}

bool conn_write_queued(struct conn *c) {
    if (!close_chunk(c)) {
        return false;
    }
    int count = c->queue_count;
    c->queue_count = 0;
    if (c->closed) {
        return false; /* its session (and borrowed bytes) may be gone: nothing to read */
    }
    int n = 0;
    for (int i = c->queue_first; n < count; i = pieces[i].next) {
        const struct piece *p = &pieces[i];
        gather[n++] = (struct iovec){.iov_base = (void *)(p->base ? p->base : p->copy), .iov_len = p->len};
    }
    return n == 0 || conn_send(c, gather, n);
}

void conn_queue_reset(void) { piece_count = 0; }

void conn_queue_free(void) {
    free(pieces);
    pieces = NULL;
    piece_count = piece_cap = 0;
}

void conn_cork(struct conn *c) { c->corked = true; }

bool conn_uncork(struct conn *c) {
    c->corked = false;
    return !c->closed && conn_flush(c);
}

bool conn_send_bytes(struct conn *c, const void *bytes, size_t len) {
    struct iovec iov = {.iov_base = (void *)bytes, .iov_len = len};
    return conn_send(c, &iov, 1);
}

bool conn_flush(struct conn *c) {
    while (!c->closed && c->out.len > 0) {
        ssize_t n = write(c->fd, buf_bytes(&c->out), c->out.len);
        if (n < 0) {
            return !write_failed(c);
        }
        buf_consume(&c->out, (size_t)n);
        c->last_write_ms = c->server->now_ms;
    }
    /* A burst's memory (a 16 MiB echo, a replay) is not kept while idle. */
    buf_shrink(&c->out, 64 * 1024);
    return !c->closed;
}

enum conn_read_result conn_read(struct conn *c, size_t limit) {
    if (c->in.len >= limit) {
        return CONN_READ_NONE;
    }
    size_t room = limit - c->in.len;
    if (room > READ_CHUNK) {
        room = READ_CHUNK;
    }
    if (!buf_reserve(&c->in, room)) {
        return CONN_READ_ERROR;
    }
    ssize_t n = read(c->fd, buf_bytes(&c->in) + c->in.len, room);
    if (n > 0) {
        c->in.len += (size_t)n;
        return CONN_READ_DATA;
    }
    if (n == 0) {
        return CONN_READ_EOF;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? CONN_READ_NONE : CONN_READ_ERROR;
}
