#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: chat-server [--port N]\n"
    "environment: PORT (8080), ALLOWED_ORIGINS, JWT_SECRET, HEARTBEAT_SECONDS (15),\n"
    "  STREAM_BUDGET_BYTES (131072), REPLAY_MESSAGES, WEB_ROOT, WRITE_BUFFER_BYTES (1048576),\n"
    "  REQUEST_TIMEOUT_SECONDS (10), WRITE_TIMEOUT_SECONDS (10)\n";

/* A decimal integer in [min, max], digits only. */
static bool parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
    if (*text == '\0' || strlen(text) > 19) {
        return false;
    }
    uint64_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n < min || n > max) {
        return false;
    }
    *out = n;
    return true;
}

bool parse_seconds_ms(const char *text, size_t len, uint64_t *out_ms) {
    uint64_t ms = 0;
    size_t i = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
        if (i == 9) {
            return false; /* more than 31 years */
        }
        ms = ms * 10 + (uint64_t)(text[i] - '0');
    }
    if (i == 0) {
        return false;
    }
    ms *= 1000;
    if (i < len) {
        if (text[i] != '.' || i + 1 == len) {
            return false;
        }
        uint64_t scale = 100;
        for (i++; i < len; i++, scale /= 10) {
            if (text[i] < '0' || text[i] > '9') {
                return false;
            }
            ms += (uint64_t)(text[i] - '0') * scale; /* past milliseconds, scale is 0 */
        }
    }
    *out_ms = ms;
    return true;
}

static bool env_uint(const char *name, uint64_t min, uint64_t max, uint64_t *value) {
    const char *text = getenv(name);
    if (text == NULL || *text == '\0') {
        return true;
    }
    if (!parse_uint(text, min, max, value)) {
        fprintf(stderr, "chat-server: %s must be an integer from %llu to %llu, not '%s'\n", name,
                (unsigned long long)min, (unsigned long long)max, text);
        return false;
    }
    return true;
}

static bool env_seconds(const char *name, uint64_t *value_ms) {
    const char *text = getenv(name);
    if (text == NULL || *text == '\0') {
        return true;
    }
    uint64_t ms;
    if (!parse_seconds_ms(text, strlen(text), &ms) || ms == 0 || ms > 86400 * 1000) {
        fprintf(stderr, "chat-server: %s must be a positive number of seconds (at most 86400), not '%s'\n",
                name, text);
        return false;
    }
    *value_ms = ms;
    return true;
}

/* Splits ALLOWED_ORIGINS on commas, trimming spaces; empty items are skipped. */
static bool load_origins(struct config *config) {
    const char *text = getenv("ALLOWED_ORIGINS");
    for (const char *p = text; p && *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p;
        const char *b = end;
        while (a < b && *a == ' ') {
            a++;
        }
        while (b > a && b[-1] == ' ') {
            b--;
        }
        if (b > a) {
            if (config->origin_count == CONFIG_MAX_ORIGINS) {
                fprintf(stderr, "chat-server: ALLOWED_ORIGINS lists more than %d origins\n", CONFIG_MAX_ORIGINS);
                return false;
            }
            config->allowed_origins[config->origin_count++] = (struct http_slice){a, (size_t)(b - a)};
        }
        p = comma ? comma + 1 : end;
    }
    return true;
}

enum config_outcome config_load(struct config *config, int argc, char **argv) {
    *config = (struct config){
        .port = 8080,
        .heartbeat_ms = 15000,
        .stream_budget_bytes = 128 * 1024,
        .web_root = CHAT_DEFAULT_WEB_ROOT,
        .write_buffer_bytes = 1024 * 1024,
        .request_timeout_ms = 10000,
        .write_timeout_ms = 10000,
    };
    uint64_t port = config->port;
    uint64_t budget = config->stream_budget_bytes;
    uint64_t replay = 0;
    uint64_t write_buffer = config->write_buffer_bytes;
    if (!env_uint("PORT", 0, 65535, &port) || !env_seconds("HEARTBEAT_SECONDS", &config->heartbeat_ms) ||
        !env_uint("STREAM_BUDGET_BYTES", 1, UINT32_MAX, &budget) ||
        !env_uint("REPLAY_MESSAGES", 1, UINT32_MAX, &replay) ||
        !env_uint("WRITE_BUFFER_BYTES", 4096, UINT32_MAX, &write_buffer) ||
        !env_seconds("REQUEST_TIMEOUT_SECONDS", &config->request_timeout_ms) ||
        !env_seconds("WRITE_TIMEOUT_SECONDS", &config->write_timeout_ms) || !load_origins(config)) {
        return CONFIG_INVALID;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return CONFIG_HELP;
        }
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            if (!parse_uint(argv[++i], 0, 65535, &port)) {
                fprintf(stderr, "chat-server: --port must be an integer from 0 to 65535, not '%s'\n", argv[i]);
                return CONFIG_INVALID;
            }
        } else {
            fprintf(stderr, "chat-server: unknown argument '%s'\n%s", argv[i], USAGE);
            return CONFIG_INVALID;
        }
    }
    const char *secret = getenv("JWT_SECRET");
    config->jwt_secret = secret && *secret ? secret : NULL;
    const char *web_root = getenv("WEB_ROOT");
    if (web_root && *web_root) {
        config->web_root = web_root;
    }
    config->port = (uint16_t)port;
    config->stream_budget_bytes = (size_t)budget;
    config->replay_messages = (size_t)replay;
    config->write_buffer_bytes = (size_t)write_buffer;
    return CONFIG_RUN;
}
