/* The event loop: one epoll set holding the listening socket, the signal
 * fd, the pushbus poller's fd and every connection; one timer heap. */
#ifndef CHAT_SERVER_H
#define CHAT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "conn.h"
#include "metrics.h"
#include "pushbus.h"
#include "timer.h"

struct sub_route;

/* A loop turn drains at most DRAIN_ROUNDS x DRAIN_EVENTS deliveries (one
 * pushbus_poller_drain each), then sockets get their turn. A message is a
 * delivery to each subscriber, so this bound decides how many messages a
 * subscriber gets in one write: at 1,000 subscribers the former 256 x 8
 * gave 16 a write and 0.067 writes a delivery; 4,096 x 32 gives 58 and
 * 0.017, and the server's CPU a delivery went from 0.31 to 0.17-0.22 us
 * (server-cost.sh; Redis writes 0.018). The price: a request that arrives
 * during a long turn (tens of ms at most) waits for its end, and the
 * turn's write queue stays allocated (peak RSS there 10.5 -> 16.8 MB). */
enum { DRAIN_ROUNDS = 32, DRAIN_EVENTS = 4096 };

struct server {
    struct config config;
    pushbus_bus *bus;
    pushbus_poller *poller; /* every subscription of every connection */
    /* One per drain round: every round's frames stay valid until the
     * drain's queued writes are done (see drain in server.c). */
    pushbus_batch *batches[DRAIN_ROUNDS];
    int epoll_fd;
    int listen_fd;
    int signal_fd;
    uint16_t port;           /* the port listened on (PORT 0 picks one) */
    uint64_t now_ms;         /* the loop's clock, read once per turn */
    uint64_t accept_paused_until_ms; /* out of fds: accepting resumes then; 0: accepting */
    bool stopping;
    struct timer_heap timers;
    struct sub_route *routes; /* subscription id -> connection (subs.c) */
    struct sub_route *last_route; /* subs_find's last answer: a drain's events come in runs per subscription */
    struct conn *conns;       /* open connections */
    struct conn *closed;      /* closed this turn: freed at its end */
    struct conn *touched;     /* reached by an event in the drain under way */
    struct metrics metrics;
};

/* Creates the bus and its poller, listens on 127.0.0.1 and blocks
 * SIGTERM and SIGINT into a signalfd. False (after saying why) on failure;
 * server_free then releases what was made. */
bool server_init(struct server *server, const struct config *config);

/* Runs until SIGTERM or SIGINT. */
void server_run(struct server *server);

/* Closes every connection and frees everything. */
void server_free(struct server *server);

/* Closes a connection now: its session is released (subscription closed,
 * presence left), its fd closed; the memory is freed at the end of the
 * loop turn, so callers holding the pointer stay safe. */
void server_close(struct conn *c);

/* A line on stderr (never a token or a secret). */
void server_log(const struct server *server, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
