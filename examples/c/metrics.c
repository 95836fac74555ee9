#include "metrics.h"

static bool metric(struct buf *out, const char *name, const char *type, const char *help, uint64_t value) {
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                      (unsigned long long)value);
}

bool metrics_render(const struct metrics *m, const pushbus_stats *s, struct buf *out) {
    static const char *const transports[TRANSPORT_COUNT] = {"sse", "xhr", "iframe", "ws", "longpoll"};
    bool ok = metric(out, "pushbus_published_total", "counter", "Messages published (presence events included).",
                     s->published) &&
              metric(out, "pushbus_delivered_total", "counter", "Messages handed to subscriptions.", s->delivered) &&
              metric(out, "pushbus_gaps_total", "counter", "Gap events: messages a reader will never see.", s->gaps) &&
              metric(out, "pushbus_lag_closes_total", "counter", "Subscriptions closed because they lagged.",
                     s->lag_closes) &&
              metric(out, "pushbus_subscriptions", "gauge", "Subscriptions open now.", s->subscriptions) &&
              metric(out, "pushbus_topics", "gauge", "Topics that exist now.", s->topics) &&
              metric(out, "pushbus_replay_bytes", "gauge", "Message bytes held by the replay rings.", s->replay_bytes) &&
              metric(out, "chat_requests_total", "counter", "HTTP requests parsed.", m->requests) &&
              metric(out, "chat_slow_readers_closed_total", "counter",
                     "Connections cut off because their reader did not keep up.", m->slow_readers_closed) &&
              metric(out, "chat_stream_budget_closed_total", "counter",
                     "XHR and iframe streams ended after their byte budget.", m->budget_closed) &&
              metric(out, "chat_ws_posts_dropped_total", "counter",
                     "WebSocket posts dropped: not JSON, not a message, or breaking the rules.", m->ws_posts_dropped) &&
              metric(out, "chat_connections", "gauge", "Client connections open now.", m->connections) &&
              buf_printf(out, "# HELP chat_open_streams Open streams and waiting long polls, by transport.\n"
                              "# TYPE chat_open_streams gauge\n");
    for (int t = 0; ok && t < TRANSPORT_COUNT; t++) {
        ok = buf_printf(out, "chat_open_streams{transport=\"%s\"} %llu\n", transports[t],
                        (unsigned long long)m->open_streams[t]);
    }
    return ok;
}
