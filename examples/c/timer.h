/* Deadlines: a binary min-heap of timers, each embedded in its owner (one
 * per connection), that can be moved or cancelled in O(log n). */
#ifndef CHAT_TIMER_H
#define CHAT_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMER_IDLE SIZE_MAX

struct timer {
    uint64_t at;  /* monotonic milliseconds */
    size_t index; /* its place in the heap, or TIMER_IDLE */
};

struct timer_heap {
    struct timer **items;
    size_t len;
    size_t cap;
};

/* Monotonic time in milliseconds. */
uint64_t clock_ms(void);

/* Schedules t at `at` (moving it if it is scheduled); false when memory
 * runs out (t is then unscheduled). */
bool timer_set(struct timer_heap *heap, struct timer *t, uint64_t at);

/* Unschedules t; nothing when it is not scheduled. */
void timer_cancel(struct timer_heap *heap, struct timer *t);

/* The earliest timer if it is due at `now`, else NULL. */
struct timer *timer_due(const struct timer_heap *heap, uint64_t now);

/* Milliseconds until the earliest timer (for epoll_wait): -1 when none. */
int timer_wait_ms(const struct timer_heap *heap, uint64_t now);

void timer_heap_free(struct timer_heap *heap);

#endif
