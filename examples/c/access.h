/* Who may read and post: CORS origins (ALLOWED_ORIGINS, else the same
 * origin only) and HS256 access tokens (JWT_SECRET). */
#ifndef CHAT_ACCESS_H
#define CHAT_ACCESS_H

#include <stdbool.h>

#include "chat.h"
#include "config.h"
#include "http.h"

/* The request's Origin when it may read the response: allow-listed, or
 * the server's own (http://<Host>). len 0 when absent, "null" or not allowed. */
struct http_slice access_cors_origin(const struct config *config, const struct http_request *req);

/* The outcome of access_authorize: status 0 when allowed, else the status
 * (401, 403, 400) and why. */
struct grant {
    int status;
    const char *why;
    struct user user; /* the token's `sub`; len 0: none */
};

/* With auth on, checks the bearer token (`Authorization: Bearer`, else
 * `?token=`) and that it allows `room`. With auth off, allows everything. */
struct grant access_authorize(const struct config *config, const struct http_request *req,
                              const struct http_query *query, const struct room *room);

#endif
