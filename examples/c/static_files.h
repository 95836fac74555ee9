/* The page's files (CHAT_API.md: GET / and GET /static/...) from WEB_ROOT, with
 * their content types, never a file outside it. */
#ifndef CHAT_STATIC_FILES_H
#define CHAT_STATIC_FILES_H

#include <stddef.h>

#include "request.h"

/* Answers with the file `name` (a decoded path relative to WEB_ROOT), or 404. */
void static_serve(const struct request *q, const char *name, size_t name_len);

#endif
