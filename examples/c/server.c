#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "polls.h"
#include "router.h"
#include "stream.h"
#include "subs.h"
#include "ws.h"

enum {
    EPOLL_EVENTS = 256,
    ACCEPTS_PER_TURN = 64,
    ACCEPT_PAUSE_MS = 100, /* out of file descriptors: try again after this */
    LINGER_MS = 2000,      /* how long a closing connection waits for the client's close */
    /* The most a connection buffers from its client: one whole request. */
    INPUT_LIMIT = HTTP_MAX_REQUEST,
};

/* epoll data of the fds that are not connections. */
static char LISTEN_TAG, SIGNAL_TAG, POLLER_TAG;

static pushbus_event drained[DRAIN_EVENTS];

void server_log(const struct server *server, const char *format, ...) {
    (void)server;
    va_list args;
    va_start(args, format);
    fputs("chat-server: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

static struct conn *conn_of(struct timer *t) {
    return (struct conn *)((char *)t - offsetof(struct conn, timer));
}

static void release_session(struct conn *c) {
    switch (c->mode) {
    case CONN_LONGPOLL: longpoll_release(c); break;
    case CONN_STREAM: stream_release(c); break;
    case CONN_WEBSOCKET: ws_release(c); break;
    default: break;
    }
}

void server_close(struct conn *c) {
    if (c->closed) {
        return;
    }
    struct server *server = c->server;
    release_session(c);
    c->closed = true;
    timer_cancel(&server->timers, &c->timer);
    close(c->fd); /* also leaves the epoll set */
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        server->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    c->next_closed = server->closed;
    server->closed = c;
    server->metrics.connections--;
}

/* Frees the connections closed during this loop turn. */
static void reap(struct server *server) {
    while (server->closed) {
        struct conn *c = server->closed;
        server->closed = c->next_closed;
        buf_free(&c->in);
        buf_free(&c->out);
        free(c);
    }
}

/* The response is written and the connection is to close: shut our side
 * and read until the client closes, so that unread request bytes do not
 * turn the close into a reset that could destroy the response in flight. */
static void start_linger(struct conn *c) {
    release_session(c);
    shutdown(c->fd, SHUT_WR);
    c->mode = CONN_LINGER;
    c->linger_until_ms = c->server->now_ms + LINGER_MS;
    buf_free(&c->in);
}

static uint64_t earliest(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The connection's next deadline, whatever its mode. */
static uint64_t deadline(const struct conn *c) {
    const struct config *config = &c->server->config;
    uint64_t at = c->out.len > 0 ? c->last_write_ms + config->write_timeout_ms : UINT64_MAX;
    switch (c->mode) {
    case CONN_HTTP:
        if (c->out.len == 0 && !c->close_when_written) {
            uint64_t since = c->request_since_ms > c->last_write_ms ? c->request_since_ms : c->last_write_ms;
            at = earliest(at, since + config->request_timeout_ms);
        }
        break;
    case CONN_LONGPOLL: at = earliest(at, longpoll_deadline(c)); break;
    case CONN_STREAM: at = earliest(at, stream_deadline(c)); break;
    case CONN_WEBSOCKET:
        if (!c->close_when_written) {
            at = earliest(at, ws_deadline(c));
        }
        break;
    case CONN_LINGER: at = earliest(at, c->linger_until_ms); break;
    }
    return at;
}

static bool wants_input(const struct conn *c) {
    switch (c->mode) {
    case CONN_HTTP: return !c->close_when_written && c->in.len < INPUT_LIMIT;
    case CONN_WEBSOCKET: return !c->close_when_written && ws_reading(c);
    default: return true; /* to notice a client that goes away */
    }
}

/* Brings the epoll interest and the timer in line with the state. */
static void refresh(struct conn *c) {
    struct server *server = c->server;
    uint32_t events = (wants_input(c) ? EPOLLIN : 0) | (c->out.len > 0 ? EPOLLOUT : 0);
    if (events != c->events) {
        struct epoll_event ev = {.events = events, .data.ptr = c};
        if (epoll_ctl(server->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
            server_log(server, "epoll_ctl: %s", strerror(errno));
            server_close(c);
            return;
        }
        c->events = events;
    }
    uint64_t at = deadline(c);
    /* Never due again this turn: a deadline that did not move cannot spin. */
    if (at <= server->now_ms) {
        at = server->now_ms + 1;
    }
    if (at == UINT64_MAX) {
        timer_cancel(&server->timers, &c->timer);
    } else if (c->timer.index != TIMER_IDLE && c->timer.at <= at) {
        /* A deadline that moved later keeps the earlier timer: it fires
         * early, the mode finds nothing due, and settle re-arms it then.
         * Moving it here sifted the heap after every write of a stream. */
    } else if (!timer_set(&server->timers, &c->timer, at)) {
        server_close(c);
    }
}

/* Hands buffered input to the mode; again when the mode changes (a
 * request that became a WebSocket, a stream that ended, with more bytes
 * behind it). */
static void dispatch_input(struct conn *c) {
    enum conn_mode before;
    do {
        before = c->mode;
        switch (c->mode) {
        case CONN_HTTP: router_on_input(c); break;
        case CONN_WEBSOCKET: ws_on_input(c); break;
        case CONN_LINGER: buf_consume(&c->in, c->in.len); break;
        default:
            /* A long poll's or a stream's client may pipeline a request,
             * kept for later, but not flood. */
            if (c->in.len >= INPUT_LIMIT) {
                server_close(c);
            }
            break;
        }
    } while (!c->closed && c->mode != before);
}

/* After anything happened to a connection: handle what became possible. */
static void settle(struct conn *c) {
    if (!c->closed && c->in.len > 0) {
        dispatch_input(c);
    }
    if (!c->closed && c->close_when_written && c->out.len == 0 && c->mode != CONN_LINGER) {
        start_linger(c);
    }
    if (!c->closed && c->mode != CONN_HTTP) {
        buf_shrink(&c->in, 0); /* streams and sockets rarely read: no idle buffer */
    }
    if (!c->closed) {
        refresh(c);
    }
}

static void on_readable(struct conn *c) {
    if (c->mode == CONN_LINGER) {
        char scratch[16 * 1024];
        ssize_t n = read(c->fd, scratch, sizeof scratch);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            server_close(c);
        }
        return;
    }
    switch (conn_read(c, INPUT_LIMIT)) {
    case CONN_READ_EOF:
        if (c->mode == CONN_HTTP && c->out.len > 0) {
            c->close_when_written = true; /* a client done sending still gets its response */
        } else {
            server_close(c);
        }
        break;
    case CONN_READ_ERROR: server_close(c); break;
    default: break;
    }
}

static void on_connection(struct conn *c, uint32_t events) {
    if (events & EPOLLERR) {
        server_close(c);
        return;
    }
    if ((events & EPOLLOUT) && !conn_flush(c)) {
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP)) {
        on_readable(c);
    }
    if (!c->closed) {
        settle(c);
    }
}

static void on_timer(struct conn *c) {
    struct server *server = c->server;
    uint64_t now = server->now_ms;
    if (c->out.len > 0 && now >= c->last_write_ms + server->config.write_timeout_ms) {
        server_close(c); /* a reader that took nothing for WRITE_TIMEOUT_SECONDS */
        return;
    }
    switch (c->mode) {
    case CONN_HTTP:
        if (c->out.len == 0 && now >= deadline(c)) {
            if (c->in.len > 0) {
                reply_refuse(c, 408, "the request was not complete in time");
            } else {
                server_close(c); /* an idle keep-alive connection */
            }
        }
        break;
    case CONN_LONGPOLL: longpoll_on_timer(c); break;
    case CONN_STREAM: stream_on_timer(c); break;
    case CONN_WEBSOCKET: ws_on_timer(c); break;
    case CONN_LINGER:
        if (now >= c->linger_until_ms) {
            server_close(c);
        }
        break;
    }
}

static void run_timers(struct server *server) {
    struct timer *t;
    while ((t = timer_due(&server->timers, server->now_ms)) != NULL) {
        struct conn *c = conn_of(t);
        timer_cancel(&server->timers, t);
        on_timer(c);
        settle(c);
    }
}

/* Hands each drained event to the connection its subscription feeds.
 * Frames are queued (conn_queue), and each connection the drain reached
 * is written once at its end: one writev for all of its events, where a
 * write per event made fan-out cost one syscall per delivery. The rounds
 * drain into batches of their own, so that no frame is released before it
 * is written or copied. */
static void drain(struct server *server) {
    int rounds = 0;
    while (rounds < DRAIN_ROUNDS) {
        pushbus_batch *batch = server->batches[rounds];
        size_t count = 0;
        if (pushbus_poller_drain(server->poller, batch, drained, DRAIN_EVENTS, &count) != PUSHBUS_OK) {
            break;
        }
        rounds++;
        for (size_t i = 0; i < count; i++) {
            struct conn *c = subs_find(server, drained[i].subscription);
            if (c == NULL || c->closed) {
                continue; /* closed earlier in this drain */
            }
            switch (c->mode) {
            case CONN_LONGPOLL: longpoll_on_event(c); break;
            case CONN_STREAM: stream_on_event(c, &drained[i], batch, i); break;
            case CONN_WEBSOCKET: ws_on_event(c, &drained[i], batch, i); break;
            default: break;
            }
            if (!c->touched) {
                c->touched = true;
                c->next_touched = server->touched;
                server->touched = c;
            }
        }
        if (count < DRAIN_EVENTS) {
            break;
        }
    }
    while (server->touched) {
        struct conn *c = server->touched;
        server->touched = c->next_touched;
        c->touched = false;
        if (conn_write_queued(c)) {
            settle(c);
        }
    }
    conn_queue_reset();
    for (int round = 0; round < rounds; round++) {
        pushbus_batch_release(server->batches[round]);
    }
}

static void accept_clients(struct server *server) {
    for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
        int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                server_log(server, "cannot accept: %s; pausing %d ms", strerror(errno), ACCEPT_PAUSE_MS);
                struct epoll_event ev = {.events = 0, .data.ptr = &LISTEN_TAG};
                epoll_ctl(server->epoll_fd, EPOLL_CTL_MOD, server->listen_fd, &ev);
                server->accept_paused_until_ms = server->now_ms + ACCEPT_PAUSE_MS;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (c == NULL || epoll_ctl(server->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            free(c);
            close(fd);
            continue;
        }
        c->server = server;
        c->fd = fd;
        c->events = EPOLLIN;
        c->timer.index = TIMER_IDLE;
        c->request_since_ms = server->now_ms;
        c->last_write_ms = server->now_ms;
        c->next = server->conns;
        if (server->conns) {
            server->conns->prev = c;
        }
        server->conns = c;
        server->metrics.connections++;
        refresh(c);
    }
}

static void resume_accepting(struct server *server) {
    if (server->accept_paused_until_ms != 0 && server->now_ms >= server->accept_paused_until_ms) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &LISTEN_TAG};
        epoll_ctl(server->epoll_fd, EPOLL_CTL_MOD, server->listen_fd, &ev);
        server->accept_paused_until_ms = 0;
    }
}

void server_run(struct server *server) {
    struct epoll_event events[EPOLL_EVENTS];
    while (!server->stopping) {
        server->now_ms = clock_ms();
        int wait = timer_wait_ms(&server->timers, server->now_ms);
        if (server->accept_paused_until_ms != 0 && (wait < 0 || wait > ACCEPT_PAUSE_MS)) {
            wait = ACCEPT_PAUSE_MS;
        }
        int n = epoll_wait(server->epoll_fd, events, EPOLL_EVENTS, wait);
        if (n < 0 && errno != EINTR) {
            server_log(server, "epoll_wait: %s", strerror(errno));
            return;
        }
        server->now_ms = clock_ms();
        /* The drain runs once every connection of this turn is handled,
         * not at the poller's place among them, so that it carries every
         * message this turn's POSTs published before it: at 1,000
         * subscribers, 0.079-0.089 writes a delivery instead of
         * 0.088-0.108 (BENCHMARKS.md, issue 8). */
        bool poller_ready = false;
        bool handled = false;
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &LISTEN_TAG) {
                accept_clients(server);
            } else if (tag == &SIGNAL_TAG) {
                server->stopping = true;
            } else if (tag == &POLLER_TAG) {
                poller_ready = true;
            } else if (!((struct conn *)tag)->closed) {
                on_connection(tag, events[i].events);
                handled = true;
            }
        }
        if (poller_ready || handled) {
            drain(server);
        }
        run_timers(server);
        resume_accepting(server);
        reap(server);
    }
}

static bool watch(struct server *server, int fd, void *tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(server->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

static bool listen_on_loopback(struct server *server) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(server->config.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int one = 1;
    server->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (server->listen_fd < 0 || setsockopt(server->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(server->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(server->listen_fd, SOMAXCONN) != 0 ||
        getsockname(server->listen_fd, (struct sockaddr *)&addr, &len) != 0) {
        server_log(server, "cannot listen on 127.0.0.1:%u: %s", server->config.port, strerror(errno));
        return false;
    }
    server->port = ntohs(addr.sin_port);
    return true;
}

/* SIGTERM and SIGINT arrive on a signalfd; they are blocked before the
 * bus starts its janitor thread, which inherits the mask. */
static bool take_signals(struct server *server) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-write is an EPIPE, not a death */
    if (sigprocmask(SIG_BLOCK, &signals, NULL) != 0 ||
        (server->signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        server_log(server, "cannot take SIGTERM and SIGINT: %s", strerror(errno));
        return false;
    }
    return true;
}

static bool start_bus(struct server *server) {
    pushbus_config *bus_config = NULL;
    pushbus_status status = pushbus_config_new(&bus_config);
    if (status == PUSHBUS_OK && server->config.replay_messages != 0) {
        status = pushbus_config_set_ring_max_messages(bus_config, server->config.replay_messages);
    }
    if (status == PUSHBUS_OK) {
        status = pushbus_bus_new(bus_config, &server->bus);
    }
    pushbus_config_free(bus_config);
    int fd = -1;
    if (status == PUSHBUS_OK && (status = pushbus_poller_new(server->bus, &server->poller)) == PUSHBUS_OK &&
        (status = pushbus_poller_fd(server->poller, PUSHBUS_FD_EVENTFD, &fd)) == PUSHBUS_OK) {
        for (int round = 0; round < DRAIN_ROUNDS && status == PUSHBUS_OK; round++) {
            status = pushbus_batch_new(&server->batches[round]);
        }
    }
    if (status != PUSHBUS_OK) {
        server_log(server, "cannot start pushbus: %s", pushbus_status_str(status));
        return false;
    }
    return watch(server, fd, &POLLER_TAG);
}

/* Room for many connections: the soft limit of open files up to the hard one. */
static void raise_fd_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

bool server_init(struct server *server, const struct config *config) {
    *server = (struct server){.config = *config, .epoll_fd = -1, .listen_fd = -1, .signal_fd = -1};
    raise_fd_limit();
    server->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (server->epoll_fd < 0) {
        server_log(server, "epoll_create1: %s", strerror(errno));
        return false;
    }
    return take_signals(server) && watch(server, server->signal_fd, &SIGNAL_TAG) && start_bus(server) &&
           listen_on_loopback(server) && watch(server, server->listen_fd, &LISTEN_TAG);
}

void server_free(struct server *server) {
    server->now_ms = clock_ms();
    while (server->conns) {
        struct conn *c = server->conns;
        if (c->mode == CONN_WEBSOCKET) {
            ws_going_away(c); /* best effort: one write, no waiting */
        }
        server_close(c);
    }
    reap(server);
    subs_forget_all(server);
    for (int round = 0; round < DRAIN_ROUNDS; round++) {
        pushbus_batch_free(server->batches[round]);
    }
    conn_queue_free();
    pushbus_poller_free(server->poller);
    pushbus_bus_free(server->bus);
    timer_heap_free(&server->timers);
    int fds[] = {server->listen_fd, server->signal_fd, server->epoll_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
}
