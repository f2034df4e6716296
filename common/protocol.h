/*
 * protocol.h — Chorus protocol v1 (JSON text frames; see docs/protocol.md).
 *
 * ch_request_parse turns one client text message into a validated
 * ch_request, or a ch_proto_error naming what is wrong; it never trusts
 * sizes, types or nesting. The ch_encode_* functions build server messages
 * as compact JSON text into a caller-supplied growable buffer.
 *
 * Identifiers (rooms, cids, kinds) are bounded, printable ASCII, so they can
 * be embedded in Redis keys and log lines without escaping.
 */
#ifndef CHORUS_PROTOCOL_H
#define CHORUS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define CH_PROTO_VERSION   1
#define CH_ROOM_MAX        128  /* room id: [A-Za-z0-9_.:-]{1,128} */
#define CH_CID_MAX         64   /* client message id: printable ASCII except '"' and '\\', 1..64 */
#define CH_KIND_MAX        64   /* event kind: [A-Za-z0-9_.:-]{1,64} */
#define CH_REQID_MAX       64   /* request id: string (<= 64 bytes) or integer, echoed back */
#define CH_TARGET_MAX      128  /* direct message target id */
#define CH_JSON_MAX_DEPTH  32   /* nesting limit for a whole message */
#define CH_TOKEN_MAX       4096

typedef enum {
    CH_REQ_HELLO = 1,  /* {"type":"hello"}                          -> welcome */
    CH_REQ_JOIN,       /* {"type":"join","room","since"?,"epoch"?}   -> joined | error */
    CH_REQ_LEAVE,      /* {"type":"leave","room"}                   -> left | error */
    CH_REQ_PUBLISH,    /* {"type":"publish","room","kind"?,"cid"?,"payload","ephemeral"?} -> ack | error */
    CH_REQ_DIRECT,     /* {"type":"direct","room","to":{"session"|"user"},"kind"?,"payload"} */
    CH_REQ_AUTH,       /* {"type":"auth","token"}                   -> authed | error */
    CH_REQ_PING        /* {"type":"ping"}                           -> pong */
} ch_req_type;

/* A parsed client request. Owns payload (malloc'd); release with ch_request_free. */
typedef struct {
    ch_req_type type;
    char id[CH_REQID_MAX + 3];   /* request id as JSON text ("\"abc\"" or "42"); "" if absent */
    char room[CH_ROOM_MAX + 1];  /* join, leave, publish, direct */
    int has_since;               /* join: since present */
    int64_t since;               /* join: last seq the client has (>= 0) */
    int has_epoch;               /* join: epoch present */
    int64_t epoch;               /* join: epoch the client's since refers to */
    char kind[CH_KIND_MAX + 1];  /* publish/direct: event kind, default "message" */
    char cid[CH_CID_MAX + 1];    /* publish: client message id (required unless ephemeral) */
    int ephemeral;               /* publish: 1 = not sequenced, not stored */
    char *payload;               /* publish/direct: compact JSON text of "payload" (any JSON
                                    value), NUL-terminated; owned */
    size_t payload_len;
    int to_user;                 /* direct: 1 = target is a user id, 0 = a session id */
    char to[CH_TARGET_MAX + 1];  /* direct: target id */
    char token[CH_TOKEN_MAX + 1];/* auth: the new access token */
} ch_request;

/* Error codes sent in {"type":"error","code":...}. Stable strings. */
#define CH_ERR_BAD_REQUEST      "bad_request"       /* malformed JSON / wrong field types */
#define CH_ERR_UNKNOWN_TYPE     "unknown_type"
#define CH_ERR_INVALID_ROOM     "invalid_room"
#define CH_ERR_NOT_JOINED       "not_joined"
#define CH_ERR_TOO_MANY_ROOMS   "too_many_rooms"
#define CH_ERR_RATE_LIMITED     "rate_limited"
#define CH_ERR_UNAVAILABLE      "unavailable"       /* Redis down: retry later */
#define CH_ERR_SNAPSHOT_REQUIRED "snapshot_required"
#define CH_ERR_FORBIDDEN        "forbidden"
#define CH_ERR_AUTH_FAILED      "auth_failed"
#define CH_ERR_TARGET_NOT_FOUND "target_not_found"

typedef struct {
    const char *code;                 /* one of CH_ERR_*, static */
    char message[160];                /* human explanation, NUL-terminated */
    char id[CH_REQID_MAX + 3];        /* request id as JSON text if it could be read, else "" */
} ch_proto_error;

/* Parses and validates one message of len bytes (need not be NUL-terminated,
 * may contain NUL bytes, which are an error). Returns 0 and fills *req, or
 * -1 and fills *err. Unknown fields are ignored; known fields with the wrong
 * type are errors. */
int ch_request_parse(const char *buf, size_t len, ch_request *req, ch_proto_error *err);
void ch_request_free(ch_request *req);

/* 1 if s (len bytes) is a valid room id / kind / cid. */
int ch_room_valid(const char *s, size_t len);
int ch_kind_valid(const char *s, size_t len);
int ch_cid_valid(const char *s, size_t len);

/* A growable output buffer. data is malloc'd and owned by the buffer; it is
 * always NUL-terminated. On allocation failure oom is set and appends become
 * no-ops, so callers check once at the end. */
typedef struct {
    char *data;
    size_t len, cap;
    int oom;
} ch_buf;

void ch_buf_init(ch_buf *b);
void ch_buf_free(ch_buf *b);
void ch_buf_reset(ch_buf *b);
/* Makes room for extra more bytes (plus the NUL) at data + len, for callers
 * that write in place and then advance len themselves (and keep the NUL).
 * 0, or -1 with oom set. */
int ch_buf_reserve(ch_buf *b, size_t extra);
void ch_buf_append(ch_buf *b, const char *s, size_t n);
void ch_buf_puts(ch_buf *b, const char *s);
void ch_buf_printf(ch_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes and escapes added). */
void ch_buf_json_string(ch_buf *b, const char *s, size_t n);

/* Server message encoders: each resets b and writes one complete message.
 * id is the request id as JSON text ("" to omit). */
void ch_encode_error(ch_buf *b, const char *id, const char *code, const char *message,
                     const char *room /* NULL to omit */);

/* The two halves of a durable event's JSON around the part publish.lua
 * fills in (seq, epoch, ts): prefix ends with "seq":, suffix starts with
 * ,"author": and closes the object. author_json is the author id as a JSON
 * string literal; payload is JSON text. Used by every server-side publisher
 * (gateway and worker) so events look the same whoever sent them. */
void ch_encode_event_halves(ch_buf *prefix, ch_buf *suffix, const char *room,
                            const char *author_json, const char *session, const char *kind,
                            const char *cid, const char *payload, size_t payload_len);

#endif
