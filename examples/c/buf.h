/* A growable byte buffer with a consumed front, for socket input and output. */
#ifndef CHAT_BUF_H
#define CHAT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The bytes are data[head .. head + len); consuming from the front only
 * moves head, so a large buffer written out in pieces is never shifted
 * more than once per append. */
struct buf {
    uint8_t *data;
    size_t head;
    size_t len;
    size_t cap;
};

/* The first unconsumed byte. */
static inline uint8_t *buf_bytes(const struct buf *b) { return b->data + b->head; }

/* Makes room for `extra` more bytes after the current ones; false when
 * memory runs out (the buffer is unchanged). */
bool buf_reserve(struct buf *b, size_t extra);

/* Appends bytes; false when memory runs out (the buffer is unchanged).
 * Inline: a response head is two dozen short appends, most of constants,
 * which then compile to a few stores (a call and a reserve each were a
 * tenth of a POST's instructions: callgrind, BENCHMARKS.md issue 8). */
static inline bool buf_append(struct buf *b, const void *bytes, size_t n) {
    if (n == 0) {
        return true;
    }
    if (b->cap - b->head - b->len < n && !buf_reserve(b, n)) {
        return false;
    }
    memcpy(b->data + b->head + b->len, bytes, n);
    b->len += n;
    return true;
}

/* Appends the decimal digits of n; false when memory runs out. For the
 * hot replies, where buf_printf's two vsnprintf passes showed up. */
bool buf_append_decimal(struct buf *b, size_t n);

/* Appends printf-formatted text; false when memory runs out. */
bool buf_printf(struct buf *b, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Drops n bytes from the front. */
void buf_consume(struct buf *b, size_t n);

/* Frees the memory of an empty buffer whose capacity grew past `keep`, so
 * an idle connection does not hold on to a burst's memory. */
void buf_shrink(struct buf *b, size_t keep);

void buf_free(struct buf *b);

#endif
