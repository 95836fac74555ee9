/* WebSocket sessions (RFC 6455; TRANSPORTS.md 21-24) on pushbus's frame
 * decoder and encoder: the chat's socket (envelopes out, posts in) and
 * /ws-echo, which echoes every message (for conformance testing). */
#ifndef CHAT_WS_H
#define CHAT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pushbus.h"
#include "request.h"

struct conn;

/* GET /rooms/{room}/ws?key=K&user=U (Origin and token already checked). */
void ws_chat(const struct room_request *rq);

/* GET /ws-echo: no Origin or token needed; messages up to 16 MiB. */
void ws_echo(const struct request *q);

/* Whether an upgrade request's Origin may open a chat socket: absent
 * (not a browser) or allowed by CORS. */
bool ws_origin_allowed(const struct request *q);

/* Decodes what the client sent and answers it. */
void ws_on_input(struct conn *c);

/* Whether to read more now: not while much output waits (an echo of a
 * large message is written before the next is read). */
bool ws_reading(const struct conn *c);

/* Sends event `index` of the batch as a text frame. */
void ws_on_event(struct conn *c, const pushbus_event *event, const pushbus_batch *batch, size_t index);

/* Pings, and the end of a peer that has gone silent. */
uint64_t ws_deadline(const struct conn *c);
void ws_on_timer(struct conn *c);

/* The server stops: Close 1001. */
void ws_going_away(struct conn *c);

/* Releases the session (decoder, subscription) when its connection closes. */
void ws_release(struct conn *c);

#endif
