/* The pushbus chat server in C: every transport of CHAT_API.md on one
 * epoll loop, with its own strict HTTP/1.1 parser and pushbus's C ABI for
 * the fan-out, resume, presence and framing.
 *
 *   chat-server [--port N]      (environment: see README.md) */
#include <stdio.h>

#include "config.h"
#include "server.h"

int main(int argc, char **argv) {
    struct config config;
    switch (config_load(&config, argc, argv)) {
    case CONFIG_HELP: return 0;
    case CONFIG_INVALID: return 2;
    case CONFIG_RUN: break;
    }
    struct server server;
    if (!server_init(&server, &config)) {
        server_free(&server);
        return 1;
    }
    printf("listening on http://127.0.0.1:%u\n", (unsigned)server.port);
    fflush(stdout);
    server_run(&server);
    server_free(&server);
    return 0;
}
