#include "static_files.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

enum { MAX_FILE_BYTES = 4 * 1024 * 1024 };

static const char *content_type(const char *name, size_t len) {
    static const struct {
        const char *extension;
        const char *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},    {".json", "application/json; charset=utf-8"},
        {".svg", "image/svg+xml"},              {".png", "image/png"},
        {".ico", "image/x-icon"},               {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i].extension);
        if (len > n && strncasecmp(name + len - n, types[i].extension, n) == 0) {
            return types[i].type;
        }
    }
    return "application/octet-stream";
}

/* Segments of [A-Za-z0-9._-] that do not start with a dot, joined by
 * single slashes: no "..", no hidden file, no encoded separator tricks. */
static bool is_safe_name(const char *name, size_t len) {
    bool segment_start = true;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '/') {
            if (segment_start) {
                return false;
            }
            segment_start = true;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || (c == '.' && !segment_start);
        if (!ok) {
            return false;
        }
        segment_start = false;
    }
    return len > 0 && !segment_start;
}

/* Opens root/name if, symlinks resolved, it is a regular file inside root. */
static int open_inside(const char *root, const char *name, size_t name_len) {
    char root_real[PATH_MAX];
    char path[PATH_MAX];
    char path_real[PATH_MAX];
    if (realpath(root, root_real) == NULL ||
        snprintf(path, sizeof path, "%s/%.*s", root_real, (int)name_len, name) >= (int)sizeof path ||
        realpath(path, path_real) == NULL) {
        return -1;
    }
    size_t root_len = strlen(root_real);
    if (strncmp(path_real, root_real, root_len) != 0 || path_real[root_len] != '/') {
        return -1;
    }
    int fd = open(path_real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads a whole small file; false when it cannot be read or is too big. */
static bool read_file(int fd, struct buf *out) {
    for (;;) {
        if (out->len > MAX_FILE_BYTES || !buf_reserve(out, 16 * 1024)) {
            return false;
        }
        ssize_t n = read(fd, buf_bytes(out) + out->len, 16 * 1024);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            return true;
        }
        out->len += (size_t)n;
    }
}

void static_serve(const struct request *q, const char *name, size_t name_len) {
    int fd = is_safe_name(name, name_len) ? open_inside(q->server->config.web_root, name, name_len) : -1;
    if (fd < 0) {
        reply_error(&q->to, 404, "not found", NULL, NULL);
        return;
    }
    struct buf file = {0};
    bool ok = read_file(fd, &file);
    close(fd);
    if (!ok) {
        buf_free(&file);
        reply_error(&q->to, 500, "the file cannot be read", NULL, NULL);
        return;
    }
    struct reply reply;
    reply_start(&reply, &q->to, 200);
    reply_header(&reply, "Content-Type", content_type(name, name_len));
    reply_header(&reply, "Cache-Control", "no-cache");
    reply_header(&reply, "X-Content-Type-Options", "nosniff");
    reply_end(&reply, &q->to, buf_bytes(&file), file.len);
    buf_free(&file);
}
