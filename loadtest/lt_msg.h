/*
 * lt_msg.h — a small scanner for the server's JSON messages
 * (docs/protocol.md), fast enough for every delivery of a load test.
 *
 * It walks the top-level object once, skipping values it does not need
 * (strings with escapes, nested objects and arrays), and records the fields
 * the load tester uses. It never allocates; string fields point into the
 * input (raw JSON string contents, escapes not decoded: room ids, error
 * codes and types never contain escapes). It does not validate the JSON
 * fully: it only promises not to read outside [s, s + len).
 */
#ifndef CHORUS_LT_MSG_H
#define CHORUS_LT_MSG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LT_MSG_OTHER = 0, LT_MSG_WELCOME, LT_MSG_JOINED, LT_MSG_EVENT, LT_MSG_ACK, LT_MSG_ERROR,
    LT_MSG_PRESENCE, LT_MSG_PONG, LT_MSG_RECONNECT, LT_MSG_LEFT, LT_MSG_AUTHED, LT_MSG_DIRECT
} lt_msg_type;

typedef struct {
    lt_msg_type type;
    int has_id;             /* "id" was an integer */
    int64_t id;
    int has_seq;
    int64_t seq;
    int has_epoch;
    int64_t epoch;
    int ephemeral;          /* "ephemeral":true */
    int duplicate;          /* "duplicate":true */
    int has_t;              /* payload was an object with an integer "t" */
    int64_t t;              /* payload.t: the intended send time (µs) */
    const char *room;       /* contents of "room" (not NUL-terminated), or NULL */
    size_t room_len;
    const char *code;       /* contents of "code" (errors), or NULL */
    size_t code_len;
    const char *payload;    /* raw JSON text of "payload", or NULL */
    size_t payload_len;
} lt_msg;

/* Scans one message. Returns 0, or -1 if it is not a JSON object with a
 * string "type" (m->type is then LT_MSG_OTHER). */
int lt_msg_parse(const char *s, size_t len, lt_msg *m);

/* Finds key in the top-level object obj[0..len); val and vlen get the raw
 * value text. Returns 0, or -1 if absent or malformed. */
int lt_json_get(const char *obj, size_t len, const char *key, const char **val, size_t *vlen);

/* Parses a JSON integer (no fraction, no exponent). Returns 0 or -1. */
int lt_json_int(const char *v, size_t len, int64_t *out);

#endif
