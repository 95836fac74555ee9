#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool buf_reserve(struct buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len) {
        return false;
    }
    size_t need = b->len + extra;
    if (b->head + need <= b->cap) {
        return true;
    }
    if (need <= b->cap) {
        /* Room enough once the consumed front is reclaimed. */
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
        return true;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    uint8_t *data = malloc(cap);
    if (data == NULL) {
        return false;
    }
    if (b->len > 0) {
        memcpy(data, b->data + b->head, b->len);
    }
    free(b->data);
    b->data = data;
    b->head = 0;
    b->cap = cap;
    return true;
}

bool buf_append_decimal(struct buf *b, size_t n) {
    char digits[20]; /* SIZE_MAX has at most 20 */
    size_t at = sizeof digits;
    do {
        digits[--at] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    return buf_append(b, digits + at, sizeof digits - at);
}

bool buf_printf(struct buf *b, const char *format, ...) {
    va_list args;
    va_start(args, format);
    int n = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (n < 0 || !buf_reserve(b, (size_t)n + 1)) {
        return false;
    }
    va_start(args, format);
    vsnprintf((char *)b->data + b->head + b->len, (size_t)n + 1, format, args);
    va_end(args);
    b->len += (size_t)n;
    return true;
}

void buf_consume(struct buf *b, size_t n) {
    if (n >= b->len) {
        b->head = 0;
        b->len = 0;
        return;
    }
    b->head += n;
    b->len -= n;
}

void buf_shrink(struct buf *b, size_t keep) {
    if (b->len == 0 && b->cap > keep) {
        buf_free(b);
    }
}

void buf_free(struct buf *b) {
    free(b->data);
    *b = (struct buf){0};
}
