/* A parsed request as the handlers see it: the head, its decoded path
 * and query, its body, and how to answer it. */
#ifndef CHAT_REQUEST_H
#define CHAT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "http.h"
#include "reply.h"

struct server;

struct request {
    struct server *server;
    const struct http_request *http;
    struct reply_to to;
    char path[HTTP_MAX_REQUEST_LINE]; /* percent-decoded */
    size_t path_len;
    struct http_query query;
    const uint8_t *body;
    size_t body_len;
};

/* A request to /rooms/{room}/...: the room and who is asking. */
struct room_request {
    const struct request *q;
    struct room room;
    struct user token_user; /* the token's `sub` when auth is on; len 0: none */
    struct user user;       /* token_user, else the `user` query parameter; len 0: nobody */
};

#endif
