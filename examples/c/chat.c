#include "chat.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "swar.h"

/* The bytes of a room name, [A-Za-z0-9_-], as '1' in a byte per byte
 * value, 64 to a line: one load a byte, where five range tests a byte were
 * 190 instructions a POST (callgrind). */
static const char ROOM_BYTES[257] = "0000000000000000000000000000000000000000000001001111111111000000"
                                    "0111111111111111111111111110000101111111111111111111111111100000"
                                    "0000000000000000000000000000000000000000000000000000000000000000"
                                    "0000000000000000000000000000000000000000000000000000000000000000";

bool room_parse(const char *text, size_t len, struct room *out) {
    if (len < 1 || len > CHAT_MAX_ROOM) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (ROOM_BYTES[(unsigned char)text[i]] != '1') {
            return false;
        }
    }
    memcpy(out->name, text, len);
    out->name[len] = '\0';
    out->name_len = len;
    memcpy(out->topic, "chat.", 5);
    memcpy(out->topic + 5, text, len);
    out->topic_len = len + 5;
    out->topic[out->topic_len] = '\0';
    return true;
}

/* Whether bytes are UTF-8: ASCII is, and jansson checks any other string
 * as it makes it (a malloc and a free, half of checking a POST's user). */
static bool is_utf8(const char *text, size_t len) {
    size_t ascii = 0;
    while (ascii < len && (unsigned char)text[ascii] < 0x80) {
        ascii++;
    }
    if (ascii == len) {
        return true;
    }
    json_t *string = json_stringn(text, len);
    json_decref(string);
    return string != NULL;
}

static size_t utf8_chars(const char *text, size_t len) {
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        chars += ((unsigned char)text[i] & 0xc0) != 0x80;
    }
    return chars;
}

static bool valid_user(const char *text, size_t len) {
    if (len < 1 || len > CHAT_MAX_USER_BYTES || !is_utf8(text, len)) {
        return false;
    }
    size_t chars = utf8_chars(text, len);
    return chars >= 1 && chars <= CHAT_MAX_USER_CHARS;
}

bool user_parse(const char *text, size_t len, struct user *out) {
    if (!valid_user(text, len)) {
        return false;
    }
    memcpy(out->name, text, len);
    out->len = len;
    return true;
}

/* Whether a JSON value is exactly the string `expected`. */
static bool is_string(const json_t *value, const char *expected) {
    return json_is_string(value) && json_string_length(value) == strlen(expected) &&
           memcmp(json_string_value(value), expected, strlen(expected)) == 0;
}

/* Appends `text` (valid UTF-8 already) as a JSON string, escaped exactly as
 * jansson's dump escapes it: by hand, because json_pack and json_dumps
 * cost 13,000 of the 47,000 instructions a POST took (callgrind,
 * BENCHMARKS.md issue 8). */
static char *put_json_string(char *out, const char *text, size_t len) {
    static const char HEX[] = "0123456789ABCDEF";
    static const char SHORT[] = "btn\0fr"; /* the escapes of \b to \r; \v has none */
    *out++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c < 0x20) {
            *out++ = '\\';
            if (c >= '\b' && c <= '\r' && SHORT[c - '\b'] != '\0') {
                *out++ = SHORT[c - '\b'];
            } else {
                memcpy(out, "u00", 3);
                out[3] = HEX[c >> 4];
                out[4] = HEX[c & 15];
                out += 5;
            }
        } else {
            *out++ = (char)c;
        }
    }
    *out++ = '"';
    return out;
}

/* The published payload: {"user":..,"text":..}, compact, as the other
 * servers write it; NULL when memory runs out. */
static char *message_payload(const char *user, size_t user_len, const char *text, size_t text_len, size_t *len) {
    /* An escape is at most 6 bytes; the rest is 21. */
    char *payload = malloc(21 + 6 * (user_len + text_len));
    if (payload == NULL) {
        return NULL;
    }
    char *p = payload;
    memcpy(p, "{\"user\":", 8);
    p = put_json_string(p + 8, user, user_len);
    memcpy(p, ",\"text\":", 8);
    p = put_json_string(p + 8, text, text_len);
    *p++ = '}';
    *len = (size_t)(p - payload);
    return payload;
}

/* A post's two fields; a NULL field was missing or not a string. */
struct post_fields {
    const char *user;
    size_t user_len;
    const char *text;
    size_t text_len;
    /* The body itself when it is already the payload message_payload
     * would write for these fields; else NULL. */
    const char *payload;
    size_t payload_len;
};

static int publish_fields(pushbus_bus *bus, const struct room *room, const struct post_fields *fields,
                          const struct user *author, pushbus_key *key, const char **why) {
    const char *user = author ? author->name : fields->user;
    size_t user_len = author ? author->len : fields->user_len;
    if (user == NULL || !valid_user(user, user_len)) {
        *why = "user must be a string of 1-32 characters";
        return 400;
    }
    if (fields->text == NULL || fields->text_len < 1 || fields->text_len > CHAT_MAX_TEXT_BYTES) {
        *why = "text must be a string of 1-4096 bytes";
        return 400;
    }
    size_t payload_len = fields->payload_len;
    char *built = NULL;
    if (author != NULL || fields->payload == NULL) {
        built = message_payload(user, user_len, fields->text, fields->text_len, &payload_len);
        if (built == NULL) {
            *why = "out of memory";
            return 503;
        }
    }
    const char *payload = built ? built : fields->payload;
    pushbus_status status = pushbus_publish(bus, room->topic, room->topic_len, "message", 7, PUSHBUS_PAYLOAD_JSON,
                                            (const uint8_t *)payload, payload_len, key);
    free(built);
    if (status != PUSHBUS_OK) {
        *why = pushbus_status_str(status);
        return status == PUSHBUS_MESSAGE_TOO_LARGE ? 413 : 400;
    }
    return 0;
}

/* Marks the bytes of `word` that do not stand for themselves in a JSON
 * string as printable ASCII: below 0x20, 0x7f and above, '"' and '\\'. */
static uint64_t not_plain(uint64_t word) {
    return swar_below(word, 0x20) | swar_from(word, 0x7f) | swar_equal(word, '"') | swar_equal(word, '\\');
}

/* The end of the run at `at` of printable ASCII that stands for itself in
 * a JSON string (no '"', no '\\'), eight bytes at a time. */
static const char *skip_plain(const char *at, const char *end) { return swar_find(at, end, not_plain, '"'); }

/* Whether the body at `*at` starts with `literal`; if so, steps over it. */
static bool skip_literal(const char **at, const char *end, const char *literal, size_t len) {
    if ((size_t)(end - *at) < len || memcmp(*at, literal, len) != 0) {
        return false;
    }
    *at += len;
    return true;
}

/* The body as the web page and every client of ours sends it:
 * {"user":"..","text":".."}, compact, each string printable ASCII with
 * nothing escaped. Its fields are then the body's own bytes, already
 * valid UTF-8 and needing no unescaping, and the body is the payload
 * message_payload would write; any other body goes to jansson.
 * Why: jansson's json_loadb was 14,900 of the 31,700 instructions a POST
 * cost the server (callgrind, BENCHMARKS.md issue 8), and no parser in
 * Debian that is cheaper is as strict (lone surrogates, UTF-8, "\u0000"). */
static bool read_plain_post(const char *body, size_t len, struct post_fields *out) {
    const char *end = body + len;
    const char *at = body;
    if (!skip_literal(&at, end, "{\"user\":\"", 9)) {
        return false;
    }
    const char *user = at;
    const char *user_end = at = skip_plain(at, end);
    if (!skip_literal(&at, end, "\",\"text\":\"", 10)) {
        return false;
    }
    const char *text = at;
    const char *text_end = at = skip_plain(at, end);
    if (!skip_literal(&at, end, "\"}", 2) || at != end) {
        return false;
    }
    *out = (struct post_fields){.user = user, .user_len = (size_t)(user_end - user), .text = text,
                                .text_len = (size_t)(text_end - text), .payload = body, .payload_len = len};
    return true;
}

/* A jansson value's string and length; NULL when it is not a string. */
static const char *string_of(const json_t *value, size_t *len) {
    if (!json_is_string(value)) {
        *len = 0;
        return NULL;
    }
    *len = json_string_length(value);
    return json_string_value(value);
}

int chat_publish(pushbus_bus *bus, const struct room *room, const uint8_t *json, size_t len,
                 const struct user *author, bool from_websocket, pushbus_key *key, const char **why) {
    struct post_fields fields = {0};
    if (!from_websocket && read_plain_post((const char *)json, len, &fields)) {
        return publish_fields(bus, room, &fields, author, key, why);
    }
    /* JSON_ALLOW_NUL: a "\u0000" in a text is kept, not cut there. */
    json_t *body = json_loadb((const char *)json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (body == NULL) {
        *why = "the body is not valid JSON";
        return 400;
    }
    int status;
    if (!json_is_object(body)) {
        *why = "the body must be {\"user\": str, \"text\": str}";
        status = 400;
    } else if (from_websocket && !is_string(json_object_get(body, "type"), "message")) {
        *why = "a WebSocket post must have \"type\": \"message\"";
        status = 400;
    } else {
        fields.user = string_of(json_object_get(body, "user"), &fields.user_len);
        fields.text = string_of(json_object_get(body, "text"), &fields.text_len);
        status = publish_fields(bus, room, &fields, author, key, why);
    }
    json_decref(body);
    return status;
}

bool resume_from(pushbus_bus *bus, const struct room *room, const char *key, size_t key_len, struct resume *out) {
    *out = (struct resume){.start = {.kind = PUSHBUS_START_NOW}};
    if (key == NULL || key_len == 0) {
        return true;
    }
    pushbus_key parsed;
    if (pushbus_key_parse(key, key_len, &parsed) == PUSHBUS_OK) {
        out->start = (pushbus_start){.kind = PUSHBUS_START_TOKEN, .token = key, .token_len = key_len};
        return true;
    }
    pushbus_key head;
    if (pushbus_bus_head(bus, room->topic, room->topic_len, &head) != PUSHBUS_OK) {
        return false;
    }
    /* Any other epoch is not held: pushbus answers it with a gap from the
     * oldest message, which is exactly what a garbage key gets. */
    pushbus_key stale = {.epoch = head.epoch ^ 1, .seq = 1};
    size_t stale_len;
    pushbus_key_format(stale, out->stale_key, sizeof out->stale_key, &stale_len);
    out->start = (pushbus_start){.kind = PUSHBUS_START_TOKEN, .token = out->stale_key, .token_len = stale_len};

    size_t n = key_len < CHAT_MAX_REPORTED_KEY ? key_len : CHAT_MAX_REPORTED_KEY;
    while (n > 0 && n < key_len && ((unsigned char)key[n] & 0xc0) == 0x80) {
        n--; /* cut at a character boundary */
    }
    if (is_utf8(key, n)) {
        memcpy(out->bad_key, key, n);
        out->bad_key_len = n;
    } else {
        memcpy(out->bad_key, "invalid", 7);
        out->bad_key_len = 7;
    }
    out->bad_key_pending = true;
    return true;
}

bool resume_take_gap(struct resume *resume, const struct room *room, const pushbus_gap_info *gap,
                     pushbus_buf *envelope) {
    if (!resume->bad_key_pending) {
        return false;
    }
    resume->bad_key_pending = false;
    return pushbus_gap_envelope(room->topic, room->topic_len, resume->bad_key, resume->bad_key_len, gap->to,
                                envelope) == PUSHBUS_OK;
}
