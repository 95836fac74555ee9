#include "http.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "swar.h"

/* RFC 9110 5.6.2's tchar: digits, letters and !#$%&'*+-.^_`|~, as '1' in
 * a byte per byte value, 64 to a line. A lookup with no range or bounds
 * test: every byte of every header name goes through it, and a bitmap
 * lookup and an end test was 12 instructions a byte. */
static const char TCHAR[257] = "0000000000000000000000000000000001011111001101101111111111000000"
                               "0111111111111111111111111110001111111111111111111111111111101010"
                               "0000000000000000000000000000000000000000000000000000000000000000"
                               "0000000000000000000000000000000000000000000000000000000000000000";

static bool is_tchar(unsigned char c) { return TCHAR[c] == '1'; }

/* RFC 9110 5.5: field-vchar, SP, HTAB and obs-text; never CR, LF, NUL or
 * another control character. */
static bool is_field_char(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Marks what ends a header value: controls (HTAB among them, which a value
 * may hold) and DEL. */
static uint64_t controls(uint64_t word) { return swar_below(word, 0x20) | swar_equal(word, 0x7f); }

/* Marks what ends a request target: SP and below, DEL and above. */
static uint64_t target_end(uint64_t word) { return swar_below(word, 0x21) | swar_from(word, 0x7f); }

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The first CRLF in [from, end), or NULL. memchr for each CR: glibc's
 * memmem sets up a search on every call, and finding the lines of a POST's
 * head that way cost 1,700 instructions of the 33,000 a published message
 * costs the server (callgrind). */
static const char *find_crlf(const char *from, const char *end) {
    for (const char *p = from; p < end; p++) {
        p = memchr(p, '\r', (size_t)(end - p));
        if (p == NULL || end - p < 2) {
            return NULL;
        }
        if (p[1] == '\n') {
            return p;
        }
    }
    return NULL;
}

/* The first CRLF CRLF (the end of a head) in [from, end), or NULL. */
static const char *find_blank_line(const char *from, const char *end) {
    for (const char *p = from; (p = find_crlf(p, end)) != NULL; p += 2) {
        if (end - p >= 4 && p[2] == '\r' && p[3] == '\n') {
            return p;
        }
    }
    return NULL;
}

/* method SP request-target SP HTTP-version (RFC 9112 3). */
static bool parse_request_line(const char *line, size_t len, struct http_request *req, int *status,
                               const char **why) {
    const char *end = line + len;
    const char *p = line;
    while (p < end && is_tchar((unsigned char)*p)) {
        p++;
    }
    if (p == line || p == end || *p != ' ') {
        *status = 400, *why = "malformed request line";
        return false;
    }
    req->method = (struct http_slice){line, (size_t)(p - line)};
    const char *target = ++p;
    p = swar_find(p, end, target_end, ' ');
    if (p == target || p == end || *p != ' ') {
        *status = 400, *why = "malformed request line";
        return false;
    }
    req->target = (struct http_slice){target, (size_t)(p - target)};
    const char *version = ++p;
    if (end - version != 8 || memcmp(version, "HTTP/", 5) != 0 || !is_digit(version[5]) ||
        version[6] != '.' || !is_digit(version[7])) {
        *status = 400, *why = "malformed HTTP version";
        return false;
    }
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
        *status = 505, *why = "only HTTP/1.0 and HTTP/1.1 are served";
        return false;
    }
    req->minor_version = version[7] - '0';

    if (http_slice_is(req->target, "*")) {
        if (!http_slice_is(req->method, "OPTIONS")) {
            *status = 400, *why = "the target * is for OPTIONS only";
            return false;
        }
        req->path = req->target;
        req->query = (struct http_slice){target + 1, 0};
        return true;
    }
    if (target[0] != '/' || memchr(target, '#', req->target.len) != NULL) {
        *status = 400, *why = "the target must be a path (origin-form)";
        return false;
    }
    const char *question = memchr(target, '?', req->target.len);
    const char *target_end = target + req->target.len;
    req->path = (struct http_slice){target, (size_t)((question ? question : target_end) - target)};
    req->query = question ? (struct http_slice){question + 1, (size_t)(target_end - question - 1)}
                          : (struct http_slice){target_end, 0};
    return true;
}

/* name ":" OWS value OWS CRLF (RFC 9112 5), the line at `line`, which
 * ends at the first CRLF before `limit` (there is one); *next is set past
 * it. The value is read to its first control character, eight bytes at a
 * time, which must be that CRLF: the scan finds the line's end and checks
 * the value at once. */
static bool parse_header_line(const char *line, const char *limit, struct http_header *header, const char **next,
                              int *status, const char **why) {
    const char *p = line;
    while (is_tchar((unsigned char)*p)) {
        p++; /* no end test: the line's CR stops it */
    }
    if (p == line || *p != ':') {
        /* Covers obs-fold (a line starting with whitespace) and whitespace
         * before the colon, both of which RFC 9112 says to reject. */
        *status = 400, *why = "malformed header line";
        return false;
    }
    header->name = (struct http_slice){line, (size_t)(p - line)};
    const char *value = p + 1;
    const char *end = value;
    while ((end = swar_find(end, limit, controls, '\r')) < limit && *end == '\t') {
        end++;
    }
    if (limit - end < 2 || end[0] != '\r' || end[1] != '\n') {
        *status = 400, *why = "a header value holds a control character";
        return false;
    }
    *next = end + 2;
    while (value < end && is_ows(*value)) {
        value++;
    }
    while (end > value && is_ows(end[-1])) {
        end--;
    }
    header->value = (struct http_slice){value, (size_t)(end - value)};
    return true;
}

static bool parse_content_length(struct http_slice value, size_t *out) {
    if (value.len == 0 || value.len > 18) {
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i < value.len; i++) {
        if (!is_digit(value.ptr[i])) {
            return false;
        }
        n = n * 10 + (size_t)(value.ptr[i] - '0');
    }
    *out = n;
    return true;
}

/* What the headers mean for framing and the connection. */
static bool check_headers(struct http_request *req, int *status, const char **why) {
    size_t hosts = 0;
    size_t lengths = 0;
    bool connection = false;
    req->keep_alive = req->minor_version == 1;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (http_slice_is_nocase(h->name, "host")) {
            hosts++;
        } else if (http_slice_is_nocase(h->name, "connection")) {
            connection = true; /* read below, for its tokens */
        } else if (http_slice_is_nocase(h->name, "content-length")) {
            if (++lengths > 1 || !parse_content_length(h->value, &req->content_length)) {
                *status = 400, *why = "bad Content-Length";
                return false;
            }
        } else if (http_slice_is_nocase(h->name, "transfer-encoding")) {
            if (req->chunked || !http_slice_is_nocase(h->value, "chunked")) {
                *status = 501, *why = "the only transfer coding understood is chunked";
                return false;
            }
            req->chunked = true;
        } else if (http_slice_is_nocase(h->name, "expect")) {
            if (!http_slice_is_nocase(h->value, "100-continue")) {
                *status = 417, *why = "only Expect: 100-continue is understood";
                return false;
            }
            req->expect_continue = true;
        }
    }
    if (hosts > 1 || (hosts == 0 && req->minor_version == 1)) {
        *status = 400, *why = "HTTP/1.1 requests need exactly one Host header";
        return false;
    }
    if (req->chunked && (lengths > 0 || req->minor_version == 0)) {
        /* Two framings, or chunks from a client that cannot send them: a
         * request another server could read differently (smuggling). */
        *status = 400, *why = "Transfer-Encoding with Content-Length, or on HTTP/1.0";
        return false;
    }
    if (req->content_length > HTTP_MAX_BODY) {
        *status = 413, *why = "the body is larger than 64 KiB";
        return false;
    }
    if (connection && http_header_has_token(req, "connection", "close")) {
        req->keep_alive = false;
    } else if (connection && http_header_has_token(req, "connection", "keep-alive")) {
        req->keep_alive = true;
    }
    return true;
}

enum http_parse_result http_parse_head(const char *buf, size_t len, size_t *scanned,
                                       struct http_request *req, int *status, const char **why) {
    const char *end = buf + len;
    size_t from = *scanned > 3 ? *scanned - 3 : 0;
    const char *blank = from < len ? find_blank_line(buf + from, end) : NULL;
    size_t line_window = len < HTTP_MAX_REQUEST_LINE + 2 ? len : HTTP_MAX_REQUEST_LINE + 2;
    const char *line_end = find_crlf(buf, buf + line_window);
    if (line_end == NULL) {
        if (blank == NULL && len < HTTP_MAX_REQUEST_LINE + 2) {
            *scanned = len;
            return HTTP_INCOMPLETE;
        }
        *status = 414, *why = "the request line is longer than 8 KiB";
        return HTTP_INVALID;
    }
    const char *headers = line_end + 2;
    if (blank == NULL) {
        if ((size_t)(end - headers) > HTTP_MAX_HEADER_BYTES + 2) {
            *status = 431, *why = "the headers are larger than 16 KiB";
            return HTTP_INVALID;
        }
        *scanned = len;
        return HTTP_INCOMPLETE;
    }
    memset(req, 0, offsetof(struct http_request, headers));
    req->head_len = (size_t)(blank + 4 - buf);
    if (!parse_request_line(buf, (size_t)(line_end - buf), req, status, why)) {
        return HTTP_INVALID;
    }
    /* blank + 2 is the end of the last header line (or of the request line). */
    const char *headers_end = blank + 2;
    if (headers_end > headers && (size_t)(headers_end - headers) > HTTP_MAX_HEADER_BYTES) {
        *status = 431, *why = "the headers are larger than 16 KiB";
        return HTTP_INVALID;
    }
    for (const char *p = headers; p < headers_end;) {
        if (req->header_count == HTTP_MAX_HEADERS) {
            *status = 431, *why = "more than 64 headers";
            return HTTP_INVALID;
        }
        if (!parse_header_line(p, headers_end, &req->headers[req->header_count], &p, status, why)) {
            return HTTP_INVALID;
        }
        req->header_count++;
    }
    return check_headers(req, status, why) ? HTTP_COMPLETE : HTTP_INVALID;
}

/* chunk-size [ chunk-ext ] CRLF, the CRLF at line_end: the size, or false. */
static bool parse_chunk_size(const char *line, const char *line_end, size_t *size) {
    const char *p = line;
    size_t n = 0;
    for (int v; p < line_end && (v = hex_value(*p)) >= 0; p++) {
        if (n > HTTP_MAX_BODY) {
            break; /* too large already: stop before it can overflow */
        }
        n = n * 16 + (size_t)v;
    }
    if (p == line || (p < line_end && *p != ';' && hex_value(*p) < 0)) {
        return false;
    }
    for (; p < line_end; p++) {
        if (!is_field_char((unsigned char)*p)) {
            return false;
        }
    }
    *size = n;
    return true;
}

enum http_parse_result http_parse_chunked(char *buf, size_t len, bool decode, size_t *encoded_len, size_t *body_len,
                                          int *status, const char **why) {
    const char *end = buf + len;
    size_t pos = 0;
    size_t body = 0;
    for (;;) {
        const char *line_end = find_crlf(buf + pos, end);
        size_t size;
        if (line_end == NULL) {
            return HTTP_INCOMPLETE;
        }
        if (!parse_chunk_size(buf + pos, line_end, &size)) {
            *status = 400, *why = "malformed chunk size";
            return HTTP_INVALID;
        }
        pos = (size_t)(line_end - buf) + 2;
        if (size == 0) {
            break;
        }
        if (size > HTTP_MAX_BODY - body) {
            *status = 413, *why = "the body is larger than 64 KiB";
            return HTTP_INVALID;
        }
        if (len - pos < size + 2) {
            return HTTP_INCOMPLETE;
        }
        if (buf[pos + size] != '\r' || buf[pos + size + 1] != '\n') {
            *status = 400, *why = "a chunk does not end with CRLF";
            return HTTP_INVALID;
        }
        if (decode) {
            memmove(buf + body, buf + pos, size);
        }
        body += size;
        pos += size + 2;
    }
    for (;;) { /* trailer fields, then the blank line */
        const char *line_end = find_crlf(buf + pos, end);
        struct http_header ignored;
        if (line_end == NULL) {
            return HTTP_INCOMPLETE;
        }
        if (line_end == buf + pos) {
            *encoded_len = pos + 2;
            *body_len = body;
            return HTTP_COMPLETE;
        }
        const char *next;
        if (!parse_header_line(buf + pos, line_end + 2, &ignored, &next, status, why)) {
            return HTTP_INVALID;
        }
        pos = (size_t)(next - buf);
    }
}

const struct http_slice *http_header(const struct http_request *req, const char *name) {
    for (size_t i = 0; i < req->header_count; i++) {
        if (http_slice_is_nocase(req->headers[i].name, name)) {
            return &req->headers[i].value;
        }
    }
    return NULL;
}

bool http_header_has_token(const struct http_request *req, const char *name, const char *token) {
    for (size_t i = 0; i < req->header_count; i++) {
        if (!http_slice_is_nocase(req->headers[i].name, name)) {
            continue;
        }
        const char *p = req->headers[i].value.ptr;
        const char *end = p + req->headers[i].value.len;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *item_end = comma ? comma : end;
            const char *a = p;
            const char *b = item_end;
            while (a < b && is_ows(*a)) {
                a++;
            }
            while (b > a && is_ows(b[-1])) {
                b--;
            }
            if (http_slice_is_nocase((struct http_slice){a, (size_t)(b - a)}, token)) {
                return true;
            }
            p = comma ? comma + 1 : end;
        }
    }
    return false;
}

const char *http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

bool http_percent_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *dst_len) {
    if (len == 0) {
        *dst_len = 0; /* and src may be NULL, which memchr and memcpy must not see */
        return true;
    }
    if (memchr(src, '%', len) == NULL && !(plus_is_space && memchr(src, '+', len) != NULL)) {
        /* Nothing to decode, as in most paths: copied whole, not a byte at a time. */
        memcpy(dst, src, len);
        *dst_len = len;
        return true;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '%') {
            int hi = i + 2 < len ? hex_value(src[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(src[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return false;
            }
            dst[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[n++] = plus_is_space && src[i] == '+' ? ' ' : src[i];
        }
    }
    *dst_len = n;
    return true;
}

bool http_query_parse(const char *query, size_t len, struct http_query *out) {
    out->count = 0;
    if (len > sizeof out->storage) {
        return false;
    }
    char *store = out->storage;
    const char *end = query + len;
    for (const char *p = query; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *item_end = amp ? amp : end;
        if (item_end > p) {
            if (out->count == HTTP_MAX_QUERY_PARAMS) {
                return false;
            }
            const char *eq = memchr(p, '=', (size_t)(item_end - p));
            const char *name_end = eq ? eq : item_end;
            struct http_param *param = &out->params[out->count++];
            size_t n;
            if (!http_percent_decode(p, (size_t)(name_end - p), true, store, &n)) {
                return false;
            }
            param->name = (struct http_slice){store, n};
            store += n;
            const char *value = eq ? eq + 1 : item_end;
            if (!http_percent_decode(value, (size_t)(item_end - value), true, store, &n)) {
                return false;
            }
            param->value = (struct http_slice){store, n};
            store += n;
        }
        p = amp ? amp + 1 : end;
    }
    return true;
}

const struct http_slice *http_query_get(const struct http_query *query, const char *name) {
    for (size_t i = 0; i < query->count; i++) {
        if (http_slice_is(query->params[i].name, name)) {
            return &query->params[i].value;
        }
    }
    return NULL;
}
