/* A small, strict HTTP/1.1 request parser (RFC 9112) with fixed limits.
 *
 * It parses a request head held in one buffer and points into it: nothing
 * is copied, so the buffer must not change while the request is used.
 * Anything it does not accept gets the status to answer with and a reason:
 * a server that is stricter than its clients never misreads a request. */
#ifndef CHAT_HTTP_H
#define CHAT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

enum {
    HTTP_MAX_REQUEST_LINE = 8 * 1024, /* longer: 414 */
    HTTP_MAX_HEADER_BYTES = 16 * 1024, /* all header lines together; more: 431 */
    HTTP_MAX_HEADERS = 64,             /* more: 431 */
    HTTP_MAX_BODY = 64 * 1024,         /* a larger body (Content-Length or decoded chunks): 413 */
    /* A chunked body's framing (size lines, trailers) beyond its data. */
    HTTP_MAX_CHUNK_FRAMING = 16 * 1024,
    HTTP_MAX_QUERY_PARAMS = 64,        /* more: 400 */
    /* The most a whole request (head and body) can take. */
    HTTP_MAX_REQUEST = HTTP_MAX_REQUEST_LINE + 2 + HTTP_MAX_HEADER_BYTES + 2 + HTTP_MAX_BODY + HTTP_MAX_CHUNK_FRAMING,
};

struct http_slice {
    const char *ptr;
    size_t len;
};

struct http_header {
    struct http_slice name;
    struct http_slice value; /* without the whitespace around it */
};

struct http_request {
    struct http_slice method;
    struct http_slice target; /* origin-form ("/path?query") or "*" */
    struct http_slice path;   /* the target before '?', still percent-encoded */
    struct http_slice query;  /* after '?', still encoded; empty when none */
    int minor_version;        /* HTTP/1.0 or HTTP/1.1 */
    size_t head_len;          /* request line, headers and the blank line */
    size_t content_length;    /* 0 when absent */
    bool chunked;             /* "Transfer-Encoding: chunked": the body is chunks */
    bool keep_alive;          /* what the client asked for (Connection, version) */
    bool expect_continue;     /* "Expect: 100-continue" */
    size_t header_count;
    /* Last: only the first header_count are set, and a parse clears the
     * fields above, not these 2 KiB. */
    struct http_header headers[HTTP_MAX_HEADERS];
};

enum http_parse_result {
    HTTP_INCOMPLETE, /* read more; *scanned remembers how far it looked */
    HTTP_COMPLETE,   /* the head is parsed (the body may still be coming) */
    HTTP_INVALID,    /* answer *status with *why, then close */
};

/* Parses the request head at the start of buf[0..len). `scanned` carries,
 * between calls on a growing buffer, how much was searched for the end of
 * the head (start it at 0). */
enum http_parse_result http_parse_head(const char *buf, size_t len, size_t *scanned,
                                       struct http_request *req, int *status, const char **why);

/* Decodes a chunked body (RFC 9112 7.1) at the start of buf[0..len).
 * HTTP_COMPLETE: *encoded_len is its length (trailers included) and
 * *body_len the size of its data, which, when `decode`, is moved to the
 * start of buf (decoding never writes ahead of what it reads). Data over
 * HTTP_MAX_BODY is 413; chunk extensions and trailer fields are checked and
 * ignored. */
enum http_parse_result http_parse_chunked(char *buf, size_t len, bool decode, size_t *encoded_len, size_t *body_len,
                                          int *status, const char **why);

/* The value of the first header called `name` (case-insensitive), or NULL. */
const struct http_slice *http_header(const struct http_request *req, const char *name);

/* Whether a comma-separated header (Connection, Upgrade) lists `token`,
 * case-insensitively, in any of its occurrences. */
bool http_header_has_token(const struct http_request *req, const char *name, const char *token);

/* The reason phrase of a status code. */
const char *http_reason(int status);

/* Percent-decodes src into dst (room for len bytes: decoding never grows),
 * '+' as a space when plus_is_space (query strings). False when a '%' is
 * not followed by two hex digits. */
bool http_percent_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *dst_len);

struct http_param {
    struct http_slice name;
    struct http_slice value;
};

/* A decoded query string: parameters point into `storage`. */
struct http_query {
    struct http_param params[HTTP_MAX_QUERY_PARAMS];
    size_t count;
    char storage[HTTP_MAX_REQUEST_LINE];
};

/* Decodes "a=1&b=x%20y" into out. False when it is malformed (bad percent
 * encoding) or has more than HTTP_MAX_QUERY_PARAMS parameters. */
bool http_query_parse(const char *query, size_t len, struct http_query *out);

/* The first parameter called `name`, or NULL. */
const struct http_slice *http_query_get(const struct http_query *query, const char *name);

/* Whether a slice equals a NUL-terminated string, exactly or ignoring
 * ASCII case. Inline: the strings are literals, whose lengths then fold
 * (routing a POST compared a dozen; callgrind, BENCHMARKS.md issue 8). */
static inline bool http_slice_is(struct http_slice s, const char *text) {
    return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

static inline bool http_slice_is_nocase(struct http_slice s, const char *text) {
    return s.len == strlen(text) && strncasecmp(s.ptr, text, s.len) == 0;
}

#endif
