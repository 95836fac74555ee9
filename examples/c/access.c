#include "access.h"

#include <string.h>
#include <strings.h>

#include "pushbus.h"

struct http_slice access_cors_origin(const struct config *config, const struct http_request *req) {
    const struct http_slice none = {NULL, 0};
    const struct http_slice *origin = http_header(req, "origin");
    if (origin == NULL || origin->len == 0 || http_slice_is(*origin, "null")) {
        return none;
    }
    for (size_t i = 0; i < config->origin_count; i++) {
        const struct http_slice *allowed = &config->allowed_origins[i];
        if (allowed->len == origin->len && memcmp(allowed->ptr, origin->ptr, origin->len) == 0) {
            return *origin;
        }
    }
    const struct http_slice *host = http_header(req, "host");
    const size_t scheme = strlen("http://");
    if (host != NULL && origin->len == scheme + host->len && memcmp(origin->ptr, "http://", scheme) == 0 &&
        memcmp(origin->ptr + scheme, host->ptr, host->len) == 0) {
        return *origin;
    }
    return none;
}

/* The bearer token of the Authorization header, else of ?token=. */
static struct http_slice bearer_token(const struct http_request *req, const struct http_query *query) {
    const struct http_slice *header = http_header(req, "authorization");
    if (header != NULL && header->len > 7 && strncasecmp(header->ptr, "bearer ", 7) == 0) {
        struct http_slice token = {header->ptr + 7, header->len - 7};
        while (token.len > 0 && (token.ptr[0] == ' ' || token.ptr[0] == '\t')) {
            token.ptr++, token.len--;
        }
        return token;
    }
    const struct http_slice *param = http_query_get(query, "token");
    return param ? *param : (struct http_slice){NULL, 0};
}

static struct grant refuse(int status, const char *why) {
    return (struct grant){.status = status, .why = why};
}

struct grant access_authorize(const struct config *config, const struct http_request *req,
                              const struct http_query *query, const struct room *room) {
    struct grant grant = {0};
    if (config->jwt_secret == NULL) {
        return grant;
    }
    struct http_slice token = bearer_token(req, query);
    if (token.len == 0) {
        return refuse(401, "a bearer token is required");
    }
    pushbus_claims *claims = NULL;
    pushbus_status status = pushbus_jwt_verify(token.ptr, token.len, (const uint8_t *)config->jwt_secret,
                                               strlen(config->jwt_secret), 0, &claims);
    if (status == PUSHBUS_EXPIRED_JWT) {
        return refuse(401, "the token has expired");
    }
    if (status != PUSHBUS_OK) {
        return refuse(401, "the token is invalid");
    }
    bool allowed = false;
    const char *sub = NULL;
    size_t sub_len = 0;
    if (pushbus_claims_allows(claims, room->name, room->name_len, &allowed) != PUSHBUS_OK || !allowed) {
        grant = refuse(403, "the token does not allow this room");
    } else if (pushbus_claims_sub(claims, &sub, &sub_len) == PUSHBUS_OK && sub != NULL &&
               !user_parse(sub, sub_len, &grant.user)) {
        grant = refuse(400, "the token's sub is not a user name of 1-32 characters");
    }
    pushbus_claims_free(claims);
    return grant;
}
