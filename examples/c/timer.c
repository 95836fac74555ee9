#include "timer.h"

#include <stdlib.h>
#include <time.h>

uint64_t clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void place(struct timer_heap *heap, size_t i, struct timer *t) {
    heap->items[i] = t;
    t->index = i;
}

static void sift_up(struct timer_heap *heap, size_t i) {
    struct timer *t = heap->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap->items[parent]->at <= t->at) {
            break;
        }
        place(heap, i, heap->items[parent]);
        i = parent;
    }
    place(heap, i, t);
}

static void sift_down(struct timer_heap *heap, size_t i) {
    struct timer *t = heap->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap->len) {
            break;
        }
        if (child + 1 < heap->len && heap->items[child + 1]->at < heap->items[child]->at) {
            child++;
        }
        if (heap->items[child]->at >= t->at) {
            break;
        }
        place(heap, i, heap->items[child]);
        i = child;
    }
    place(heap, i, t);
}

bool timer_set(struct timer_heap *heap, struct timer *t, uint64_t at) {
    if (t->index != TIMER_IDLE) {
        uint64_t before = t->at;
        t->at = at;
        if (at < before) {
            sift_up(heap, t->index);
        } else {
            sift_down(heap, t->index);
        }
        return true;
    }
    if (heap->len == heap->cap) {
        size_t cap = heap->cap ? heap->cap * 2 : 64;
        struct timer **items = realloc(heap->items, cap * sizeof *items);
        if (items == NULL) {
            return false;
        }
        heap->items = items;
        heap->cap = cap;
    }
    t->at = at;
    place(heap, heap->len++, t);
    sift_up(heap, t->index);
    return true;
}

void timer_cancel(struct timer_heap *heap, struct timer *t) {
    if (t->index == TIMER_IDLE) {
        return;
    }
    size_t i = t->index;
    t->index = TIMER_IDLE;
    struct timer *last = heap->items[--heap->len];
    if (last == t) {
        return;
    }
    place(heap, i, last);
    sift_down(heap, i);
    sift_up(heap, last->index);
}

struct timer *timer_due(const struct timer_heap *heap, uint64_t now) {
    return heap->len > 0 && heap->items[0]->at <= now ? heap->items[0] : NULL;
}

int timer_wait_ms(const struct timer_heap *heap, uint64_t now) {
    if (heap->len == 0) {
        return -1;
    }
    uint64_t at = heap->items[0]->at;
    if (at <= now) {
        return 0;
    }
    uint64_t wait = at - now;
    return wait > 60000 ? 60000 : (int)wait;
}

void timer_heap_free(struct timer_heap *heap) {
    free(heap->items);
    *heap = (struct timer_heap){0};
}
