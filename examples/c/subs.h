/* The subscriptions of the server's one poller, each routed to the
 * connection it feeds: a drain hands events by subscription id. */
#ifndef CHAT_SUBS_H
#define CHAT_SUBS_H

#include <stdbool.h>
#include <stdint.h>

#include "chat.h"
#include "pushbus.h"

struct server;
struct conn;

/* Subscribes `c` to the room from `start`; on failure *status says why. */
bool subs_open(struct server *server, struct conn *c, const struct room *room, const pushbus_start *start,
               uint64_t *id, pushbus_status *status);

/* Unsubscribes (leaving the presence it held) and forgets the route. */
void subs_close(struct server *server, uint64_t id);

/* The connection fed by subscription `id`, or NULL once it is closed. */
struct conn *subs_find(struct server *server, uint64_t id);

/* Forgets every route (the poller's free closes the subscriptions). */
void subs_forget_all(struct server *server);

#endif
