/* HTTP streams (CHAT_API.md "Streams"; TRANSPORTS.md 1-10, 17-20):
 * Server-Sent Events, XHR streaming (NDJSON) and hidden-iframe streaming,
 * chunked, each event written whole, with heartbeats and, for XHR and
 * iframe, a byte budget after which the stream ends cleanly. */
#ifndef CHAT_STREAM_H
#define CHAT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "pushbus.h"
#include "request.h"

struct conn;

/* GET /rooms/{room}/events: resumes from Last-Event-ID, else ?lastEventId=. */
void stream_sse(const struct room_request *rq);

/* GET /rooms/{room}/xhr?key=K */
void stream_xhr(const struct room_request *rq);

/* GET /rooms/{room}/iframe?key=K&cb=F */
void stream_iframe(const struct room_request *rq);

/* Writes event `index` of the batch, framed for the stream. */
void stream_on_event(struct conn *c, const pushbus_event *event, const pushbus_batch *batch, size_t index);

/* When the stream's next heartbeat is due, and sending it. */
uint64_t stream_deadline(const struct conn *c);
void stream_on_timer(struct conn *c);

/* Releases the stream (subscription, presence) when its connection closes. */
void stream_release(struct conn *c);

#endif
