/* Tests on the eight bytes of a word at once (SWAR), for the scans of
 * request heads and bodies, where a byte at a time was a tenth of a POST's
 * instructions (callgrind, BENCHMARKS.md issue 8).
 *
 * A test marks each byte it finds with that byte's high bit. Marks are
 * exact up to the first one: a borrow or carry out of a marked byte may
 * mark a byte above it, never one below. So a scan trusts only the lowest
 * mark of a word. */
#ifndef CHAT_SWAR_H
#define CHAT_SWAR_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

/* Each byte of a word with its high bit, and with its low bit. */
#define SWAR_HIGH 0x8080808080808080u
#define SWAR_LOW 0x0101010101010101u

/* Marks the zero bytes of `word`. */
static inline uint64_t swar_zero(uint64_t word) { return (word - SWAR_LOW) & ~word & SWAR_HIGH; }

/* Marks the bytes equal to `byte`. */
static inline uint64_t swar_equal(uint64_t word, unsigned char byte) { return swar_zero(word ^ (byte * SWAR_LOW)); }

/* Marks the bytes below `limit` (at most 0x80). */
static inline uint64_t swar_below(uint64_t word, unsigned char limit) {
    return (word - limit * SWAR_LOW) & ~word & SWAR_HIGH;
}

/* Marks the bytes from `limit` (at least 0x01) up, 0x80-0xff included. */
static inline uint64_t swar_from(uint64_t word, unsigned char limit) {
    return ((word + (0x80u - limit) * SWAR_LOW) | word) & SWAR_HIGH;
}

/* The first byte of [at, end) that `marks` marks, or end. Eight bytes at a
 * time; the last few are read padded with `pad`, which `marks` must mark.
 * Inline, so that `marks` is inlined into the loop. */
static inline const char *swar_find(const char *at, const char *end, uint64_t (*marks)(uint64_t), char pad) {
    uint64_t word;
    for (; end - at >= 8; at += 8) {
        memcpy(&word, at, 8);
        uint64_t found = marks(le64toh(word)); /* the first byte is the lowest */
        if (found != 0) {
            return at + __builtin_ctzll(found) / 8;
        }
    }
    if (at == end) {
        return at;
    }
    char last[8];
    memset(last, pad, sizeof last);
    memcpy(last, at, (size_t)(end - at));
    memcpy(&word, last, 8);
    return at + __builtin_ctzll(marks(le64toh(word))) / 8;
}

#endif
