/* The server's own counters, and /metrics in the Prometheus text format. */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "pushbus.h"

enum transport { TRANSPORT_SSE, TRANSPORT_XHR, TRANSPORT_IFRAME, TRANSPORT_WS, TRANSPORT_LONGPOLL, TRANSPORT_COUNT };

struct metrics {
    uint64_t requests;                       /* requests parsed */
    uint64_t slow_readers_closed;            /* cut off with a full output buffer */
    uint64_t budget_closed;                  /* XHR and iframe streams ended by their budget */
    uint64_t ws_posts_dropped;               /* WebSocket posts that broke the rules */
    uint64_t connections;                    /* open now */
    uint64_t open_streams[TRANSPORT_COUNT];  /* open now, by transport */
};

/* Renders the bus's counters and these; false when memory runs out. */
bool metrics_render(const struct metrics *metrics, const pushbus_stats *stats, struct buf *out);

#endif
