/* The chat contract's rules (CHAT_API.md): room names, users, posted
 * messages, and where a stream resumes from a client's key. */
#ifndef CHAT_CHAT_H
#define CHAT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pushbus.h"

enum {
    CHAT_MAX_ROOM = 64,
    CHAT_MAX_USER_CHARS = 32,
    CHAT_MAX_USER_BYTES = 4 * CHAT_MAX_USER_CHARS,
    CHAT_MAX_TEXT_BYTES = 4096,
    /* A key a client sent that did not parse is echoed in its gap, cut to this. */
    CHAT_MAX_REPORTED_KEY = 256,
};

/* A room and its pushbus topic, "chat.<room>". */
struct room {
    char name[CHAT_MAX_ROOM + 1];
    size_t name_len;
    char topic[CHAT_MAX_ROOM + 6];
    size_t topic_len;
};

/* False unless `text` is 1-64 characters of [A-Za-z0-9_-]. */
bool room_parse(const char *text, size_t len, struct room *out);

/* A user name; len 0: nobody. */
struct user {
    char name[CHAT_MAX_USER_BYTES];
    size_t len;
};

/* False unless `text` is 1-32 characters of UTF-8. */
bool user_parse(const char *text, size_t len, struct user *out);

/* Publishes a posted message, `{"user": str, "text": str}` (a WebSocket's
 * also needs `"type": "message"`), as the JSON payload of a `message`
 * event; `author` (NULL: none), a token's user, overrides the body's.
 * Returns 0 and the key, or the status to answer (400, 413) and why,
 * with nothing published. */
int chat_publish(pushbus_bus *bus, const struct room *room, const uint8_t *json, size_t len,
                 const struct user *author, bool from_websocket, pushbus_key *key, const char **why);

/* Where a stream starts. A key that does not parse starts from a key of
 * another epoch, so the first event is a gap from the oldest message held;
 * that gap is then reported with the client's own text. */
struct resume {
    pushbus_start start;
    char stale_key[PUSHBUS_KEY_MAX_LEN];
    bool bad_key_pending; /* the first gap must name bad_key */
    char bad_key[CHAT_MAX_REPORTED_KEY];
    size_t bad_key_len;
};

/* Fills `out` for a client's key (NULL or empty: live). The start may
 * point into `key`: keep it until subscribed. False when the room's head
 * could not be read. */
bool resume_from(pushbus_bus *bus, const struct room *room, const char *key, size_t key_len, struct resume *out);

/* For the first gap after an unparsable key: its envelope naming the
 * client's key, in `envelope` (free it with pushbus_buf_free). False when
 * the gap is pushbus's own (its frames are right as they are). */
bool resume_take_gap(struct resume *resume, const struct room *room, const pushbus_gap_info *gap,
                     pushbus_buf *envelope);

#endif
