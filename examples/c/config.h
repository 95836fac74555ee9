/* The server's settings: the environment every example server reads
 * (examples/README.md) and this server's own, checked strictly. */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

enum { CONFIG_MAX_ORIGINS = 64 };

struct config {
    uint16_t port;                   /* PORT or --port; 0: any free port */
    struct http_slice allowed_origins[CONFIG_MAX_ORIGINS]; /* ALLOWED_ORIGINS */
    size_t origin_count;
    const char *jwt_secret;          /* JWT_SECRET; NULL: no auth */
    uint64_t heartbeat_ms;           /* HEARTBEAT_SECONDS */
    size_t stream_budget_bytes;      /* STREAM_BUDGET_BYTES */
    size_t replay_messages;          /* REPLAY_MESSAGES; 0: pushbus's default */
    const char *web_root;            /* WEB_ROOT */
    size_t write_buffer_bytes;       /* WRITE_BUFFER_BYTES: a stream's reader is cut off past it */
    uint64_t request_timeout_ms;     /* REQUEST_TIMEOUT_SECONDS: headers and body, idle keep-alive */
    uint64_t write_timeout_ms;       /* WRITE_TIMEOUT_SECONDS: a reader that takes nothing for this long */
};

/* Seconds written as digits with an optional fraction ("15", "0.5"), in
 * milliseconds; false for anything else (signs, exponents, "nan"). */
bool parse_seconds_ms(const char *text, size_t len, uint64_t *out_ms);

enum config_outcome {
    CONFIG_RUN,     /* start the server */
    CONFIG_HELP,    /* the usage was printed: exit 0 */
    CONFIG_INVALID, /* why was printed to stderr: exit 2 */
};

/* Fills `config` from the environment and the arguments (--port N wins
 * over PORT; --help). The strings stay owned by the environment. */
enum config_outcome config_load(struct config *config, int argc, char **argv);

#endif
