/* Short and long polling (CHAT_API.md; TRANSPORTS.md 11-16): answers from
 * pushbus_poll, a held long poll waiting on a one-shot subscription. */
#ifndef CHAT_POLLS_H
#define CHAT_POLLS_H

#include <stdint.h>

#include "request.h"

struct conn;

/* GET /rooms/{room}/poll: answers at once; ETag and If-None-Match. */
void polls_short(const struct room_request *rq);

/* GET /rooms/{room}/longpoll: answers at once when something is newer
 * than the key, else holds the connection (CONN_LONGPOLL). */
void polls_long(const struct room_request *rq);

/* A held long poll: news for its subscription answers it. */
void longpoll_on_event(struct conn *c);

/* When a held long poll times out (answered with no messages). */
uint64_t longpoll_deadline(const struct conn *c);
void longpoll_on_timer(struct conn *c);

/* Releases a held long poll (its subscription) when its connection closes. */
void longpoll_release(struct conn *c);

#endif
