/* The chat's HTTP routes (CHAT_API.md "Endpoints"): parses each request
 * buffered on a connection and hands it to its handler. */
#ifndef CHAT_ROUTER_H
#define CHAT_ROUTER_H

struct conn;

/* Answers the complete requests in the connection's input, one at a time
 * and only while nothing waits to be written (responses stay in order and
 * a client cannot pile them up). A request may turn the connection into a
 * long poll, a stream or a WebSocket. */
void router_on_input(struct conn *c);

#endif
