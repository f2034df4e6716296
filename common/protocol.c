/*
 * protocol.c — Chorus protocol v1: request parsing/validation and the JSON
 * output buffer used by the server message encoders.
 *
 * Parsing (ch_request_parse) runs in four steps, each of which may reject
 * the message with a ch_proto_error:
 *
 *   1. raw-byte checks: no NUL bytes, and a pre-scan that counts '[' / '{'
 *      nesting outside strings and rejects anything deeper than
 *      CH_JSON_MAX_DEPTH before jansson (which recurses up to 2048 levels)
 *      ever sees it;
 *   2. jansson decoding with duplicate keys rejected and NUL in strings
 *      forbidden, so every string we read is valid UTF-8 without NUL and
 *      json_string_length() == strlen();
 *   3. the envelope: top level must be an object, "id" (if present) is
 *      read first so that every later error can echo it, then "type";
 *   4. the per-type fields, copied into fixed-size arrays of ch_request
 *      after their length and alphabet have been checked.
 *
 * Invariants:
 *   - On success every string field of ch_request is NUL-terminated and
 *     within its documented bounds and alphabet; payload is a malloc'd
 *     compact JSON text (json_out.h: reals in their shortest round-trip
 *     form) owned by the request (NULL for types without one).
 *   - On failure *req holds no allocation (ch_request_free is a no-op on
 *     it) and err->code is one of the static CH_ERR_* strings, err->message
 *     is printable ASCII of at most 159 bytes, err->id is the request id as
 *     JSON text if the top-level object was decoded and carried a valid id,
 *     else "".
 *   - The parser keeps no state between calls and is safe to call from
 *     several threads at once.
 *
 * ch_buf is an append-only byte buffer that is always NUL-terminated (an
 * empty buffer points at a shared static "" until the first append). After
 * an allocation failure oom is set, the contents stay as they were before
 * the failing append, and further appends do nothing until ch_buf_reset,
 * which starts a new message and clears oom. Appended bytes must not point
 * into the buffer itself (growing it may move the data).
 */
#include "protocol.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_out.h"

/* ------------------------------------------------------------------------ */
/* Identifier alphabets                                                      */
/* ------------------------------------------------------------------------ */

/* [A-Za-z0-9_.:-] */
static int is_ident_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '-';
}

/* Printable ASCII without space, '"' and '\\': safe in keys, logs and JSON. */
static int is_token_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\';
}

static int ident_valid(const char *s, size_t len, size_t max)
{
    if (s == NULL || len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_ident_char((unsigned char)s[i]))
            return 0;
    return 1;
}

static int token_valid(const char *s, size_t len, size_t max)
{
    if (s == NULL || len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_token_char((unsigned char)s[i]))
            return 0;
    return 1;
}

int ch_room_valid(const char *s, size_t len)
{
    return ident_valid(s, len, CH_ROOM_MAX);
}

int ch_kind_valid(const char *s, size_t len)
{
    return ident_valid(s, len, CH_KIND_MAX);
}

int ch_cid_valid(const char *s, size_t len)
{
    return token_valid(s, len, CH_CID_MAX);
}

/* A user id: non-empty, at most CH_TARGET_MAX bytes, no ASCII control
 * characters (the caller's string is already known to be valid UTF-8). */
static int user_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > CH_TARGET_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* ch_buf                                                                    */
/* ------------------------------------------------------------------------ */

/* What data points at while nothing has been allocated. Never written:
 * every write path first grows the buffer to a heap allocation. */
static char ch_buf_empty[1];

void ch_buf_init(ch_buf *b)
{
    b->data = ch_buf_empty;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}

void ch_buf_free(ch_buf *b)
{
    if (b->cap > 0)
        free(b->data);
    ch_buf_init(b);
}

void ch_buf_reset(ch_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->cap > 0)
        b->data[0] = '\0';
}

/* Ensures room for extra more bytes plus the terminating NUL. Returns 0, or
 * -1 with oom set. */
static int buf_reserve(ch_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (extra > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = realloc(b->cap > 0 ? b->data : NULL, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    if (b->cap == 0)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;
}

int ch_buf_reserve(ch_buf *b, size_t extra)
{
    return buf_reserve(b, extra);
}

void ch_buf_append(ch_buf *b, const char *s, size_t n)
{
    if (n == 0 || buf_reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ch_buf_puts(ch_buf *b, const char *s)
{
    ch_buf_append(b, s, strlen(s));
}

void ch_buf_printf(ch_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1; /* encoding error: treat like a failed append */
        return;
    }
    if ((size_t)n < sizeof small) {
        ch_buf_append(b, small, (size_t)n);
        return;
    }
    if (buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    int m = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (m != n) {
        b->data[b->len] = '\0';
        b->oom = 1;
        return;
    }
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if s[0] does not start
 * one (bad lead byte, truncated, overlong, surrogate, above U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

void ch_buf_json_string(ch_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    size_t i = 0;

    ch_buf_append(b, "\"", 1);
    if (n == 0) {
        ch_buf_append(b, "\"", 1);
        return;
    }
    while (i < n) {
        unsigned char c = p[i];
        char esc[7];
        const char *rep = NULL;
        size_t rep_len = 0, adv = 1;

        if (c == '"') {
            rep = "\\\"";
            rep_len = 2;
        } else if (c == '\\') {
            rep = "\\\\";
            rep_len = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            esc[6] = '\0';
            rep = esc;
            rep_len = 6;
        } else if (c >= 0x80) {
            adv = utf8_seq_len(p + i, n - i);
            if (adv == 0) {
                rep = "\\ufffd";
                rep_len = 6;
                adv = 1;
            }
        }
        if (rep != NULL) {
            ch_buf_append(b, s + run, i - run);
            ch_buf_append(b, rep, rep_len);
            run = i + adv;
        }
        i += adv;
    }
    ch_buf_append(b, s + run, n - run);
    ch_buf_append(b, "\"", 1);
}

void ch_encode_error(ch_buf *b, const char *id, const char *code, const char *message,
                     const char *room)
{
    ch_buf_reset(b);
    ch_buf_puts(b, "{\"type\":\"error\"");
    if (id != NULL && id[0] != '\0') {
        ch_buf_puts(b, ",\"id\":");
        ch_buf_puts(b, id);
    }
    ch_buf_puts(b, ",\"code\":");
    if (code == NULL)
        code = "";
    ch_buf_json_string(b, code, strlen(code));
    ch_buf_puts(b, ",\"message\":");
    if (message == NULL)
        message = "";
    ch_buf_json_string(b, message, strlen(message));
    if (room != NULL) {
        ch_buf_puts(b, ",\"room\":");
        ch_buf_json_string(b, room, strlen(room));
    }
    ch_buf_puts(b, "}");
}

/* ------------------------------------------------------------------------ */
/* Request parsing                                                           */
/* ------------------------------------------------------------------------ */

/* Fills err (keeping err->id) and returns -1. The message is forced to
 * printable ASCII so it is safe in logs whatever jansson quoted into it. */
static int fail(ch_proto_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(ch_proto_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n < 0)
        err->message[0] = '\0';
    for (char *m = err->message; *m != '\0'; m++) {
        unsigned char c = (unsigned char)*m;
        if (c < 0x20 || c > 0x7e)
            *m = '?';
    }
    return -1;
}

/* Cheap structural pre-scan of the raw bytes: the deepest '['/'{' nesting
 * outside strings must not exceed CH_JSON_MAX_DEPTH. Stops early (returning
 * 0) if the brackets stop making sense, since jansson then fails at or
 * before that point without having recursed deeper than what was counted. */
static int depth_ok(const char *buf, size_t len)
{
    int depth = 0, in_str = 0, esc = 0;

    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        switch (c) {
        case '"':
            in_str = 1;
            break;
        case '[':
        case '{':
            if (++depth > CH_JSON_MAX_DEPTH)
                return 0;
            break;
        case ']':
        case '}':
            if (--depth < 0)
                return 1;
            break;
        default:
            break;
        }
    }
    return 1;
}

/* Writes the request id as JSON text into out (CH_REQID_MAX + 3 bytes).
 * Strings are limited to CH_REQID_MAX bytes and their escaped form must fit
 * the echo buffer. Returns 0, or -1 with err filled. */
static int read_id(json_t *v, char *out, ch_proto_error *err)
{
    if (json_is_integer(v)) {
        snprintf(out, CH_REQID_MAX + 3, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    }
    if (!json_is_string(v))
        return fail(err, CH_ERR_BAD_REQUEST, "\"id\" must be a string or an integer");
    size_t n = json_string_length(v);
    if (n > CH_REQID_MAX)
        return fail(err, CH_ERR_BAD_REQUEST, "\"id\" longer than %d bytes", CH_REQID_MAX);

    ch_buf b;
    ch_buf_init(&b);
    ch_buf_json_string(&b, json_string_value(v), n);
    if (b.oom) {
        ch_buf_free(&b);
        return fail(err, CH_ERR_UNAVAILABLE, "out of memory");
    }
    if (b.len > CH_REQID_MAX + 2) {
        ch_buf_free(&b);
        return fail(err, CH_ERR_BAD_REQUEST, "\"id\" longer than %d bytes once escaped",
                    CH_REQID_MAX);
    }
    memcpy(out, b.data, b.len + 1);
    ch_buf_free(&b);
    return 0;
}

/* Copies a required room field. Missing or non-string is bad_request; a
 * string outside the room alphabet or length is invalid_room. */
static int read_room(json_t *obj, char *out, ch_proto_error *err)
{
    json_t *v = json_object_get(obj, "room");
    if (v == NULL)
        return fail(err, CH_ERR_BAD_REQUEST, "missing \"room\"");
    if (!json_is_string(v))
        return fail(err, CH_ERR_BAD_REQUEST, "\"room\" must be a string");
    size_t n = json_string_length(v);
    if (!ch_room_valid(json_string_value(v), n))
        return fail(err, CH_ERR_INVALID_ROOM,
                    "room must be 1..%d characters of [A-Za-z0-9_.:-]", CH_ROOM_MAX);
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

/* Optional non-negative integer field. */
static int read_uint_opt(json_t *obj, const char *key, int *has, int64_t *out,
                         ch_proto_error *err)
{
    json_t *v = json_object_get(obj, key);
    *has = 0;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(err, CH_ERR_BAD_REQUEST, "\"%s\" must be a non-negative integer", key);
    *has = 1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* Optional "kind"; defaults to "message". */
static int read_kind(json_t *obj, char *out, ch_proto_error *err)
{
    json_t *v = json_object_get(obj, "kind");
    if (v == NULL) {
        strcpy(out, "message");
        return 0;
    }
    if (!json_is_string(v) || !ch_kind_valid(json_string_value(v), json_string_length(v)))
        return fail(err, CH_ERR_BAD_REQUEST,
                    "\"kind\" must be 1..%d characters of [A-Za-z0-9_.:-]", CH_KIND_MAX);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* Required "payload" (any JSON value, null included) as compact JSON text. */
static int read_payload(json_t *obj, ch_request *req, ch_proto_error *err)
{
    json_t *v = json_object_get(obj, "payload");
    if (v == NULL)
        return fail(err, CH_ERR_BAD_REQUEST, "missing \"payload\"");
    size_t len = 0;
    char *text = ch_json_dumps(v, 0, &len);
    if (text == NULL)
        return fail(err, CH_ERR_UNAVAILABLE, "out of memory");
    req->payload = text;
    req->payload_len = len;
    return 0;
}

static int parse_hello(json_t *obj, ch_request *req, ch_proto_error *err)
{
    json_t *v = json_object_get(obj, "protocol");
    (void)req;
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) != CH_PROTO_VERSION))
        return fail(err, CH_ERR_BAD_REQUEST, "unsupported \"protocol\" (server speaks %d)",
                    CH_PROTO_VERSION);
    return 0;
}

static int parse_join(json_t *obj, ch_request *req, ch_proto_error *err)
{
    if (read_room(obj, req->room, err) < 0)
        return -1;
    if (read_uint_opt(obj, "since", &req->has_since, &req->since, err) < 0)
        return -1;
    return read_uint_opt(obj, "epoch", &req->has_epoch, &req->epoch, err);
}

static int parse_leave(json_t *obj, ch_request *req, ch_proto_error *err)
{
    return read_room(obj, req->room, err);
}

static int parse_publish(json_t *obj, ch_request *req, ch_proto_error *err)
{
    if (read_room(obj, req->room, err) < 0 || read_kind(obj, req->kind, err) < 0)
        return -1;

    json_t *v = json_object_get(obj, "ephemeral");
    if (v != NULL) {
        if (!json_is_boolean(v))
            return fail(err, CH_ERR_BAD_REQUEST, "\"ephemeral\" must be a boolean");
        req->ephemeral = json_is_true(v);
    }

    v = json_object_get(obj, "cid");
    if (v == NULL) {
        if (!req->ephemeral)
            return fail(err, CH_ERR_BAD_REQUEST, "missing \"cid\"");
    } else {
        if (!json_is_string(v) || !ch_cid_valid(json_string_value(v), json_string_length(v)))
            return fail(err, CH_ERR_BAD_REQUEST,
                        "\"cid\" must be 1..%d printable ASCII characters without '\"' or '\\'",
                        CH_CID_MAX);
        memcpy(req->cid, json_string_value(v), json_string_length(v) + 1);
    }
    return read_payload(obj, req, err);
}

static int parse_direct(json_t *obj, ch_request *req, ch_proto_error *err)
{
    if (read_room(obj, req->room, err) < 0 || read_kind(obj, req->kind, err) < 0)
        return -1;

    json_t *to = json_object_get(obj, "to");
    if (to == NULL)
        return fail(err, CH_ERR_BAD_REQUEST, "missing \"to\"");
    if (!json_is_object(to))
        return fail(err, CH_ERR_BAD_REQUEST, "\"to\" must be an object");
    json_t *session = json_object_get(to, "session");
    json_t *user = json_object_get(to, "user");
    if ((session == NULL) == (user == NULL))
        return fail(err, CH_ERR_BAD_REQUEST,
                    "\"to\" must have exactly one of \"session\" and \"user\"");
    if (session != NULL) {
        if (!json_is_string(session) ||
            !token_valid(json_string_value(session), json_string_length(session),
                         CH_TARGET_MAX))
            return fail(err, CH_ERR_BAD_REQUEST,
                        "\"session\" must be 1..%d printable ASCII characters without '\"' or '\\'",
                        CH_TARGET_MAX);
        memcpy(req->to, json_string_value(session), json_string_length(session) + 1);
        req->to_user = 0;
    } else {
        if (!json_is_string(user) ||
            !user_id_valid(json_string_value(user), json_string_length(user)))
            return fail(err, CH_ERR_BAD_REQUEST,
                        "\"user\" must be 1..%d bytes without control characters",
                        CH_TARGET_MAX);
        memcpy(req->to, json_string_value(user), json_string_length(user) + 1);
        req->to_user = 1;
    }
    return read_payload(obj, req, err);
}

static int parse_auth(json_t *obj, ch_request *req, ch_proto_error *err)
{
    json_t *v = json_object_get(obj, "token");
    if (v == NULL)
        return fail(err, CH_ERR_BAD_REQUEST, "missing \"token\"");
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    if (n == 0 || n > CH_TOKEN_MAX)
        return fail(err, CH_ERR_BAD_REQUEST, "\"token\" must be a string of 1..%d bytes",
                    CH_TOKEN_MAX);
    memcpy(req->token, json_string_value(v), n + 1);
    return 0;
}

static int parse_ping(json_t *obj, ch_request *req, ch_proto_error *err)
{
    (void)obj;
    (void)req;
    (void)err;
    return 0;
}

static const struct {
    const char *name;
    ch_req_type type;
    int (*parse)(json_t *obj, ch_request *req, ch_proto_error *err);
} req_types[] = {
    {"hello", CH_REQ_HELLO, parse_hello},       {"join", CH_REQ_JOIN, parse_join},
    {"leave", CH_REQ_LEAVE, parse_leave},       {"publish", CH_REQ_PUBLISH, parse_publish},
    {"direct", CH_REQ_DIRECT, parse_direct},    {"auth", CH_REQ_AUTH, parse_auth},
    {"ping", CH_REQ_PING, parse_ping},
};

/* Message for a jansson decoding error: position plus jansson's text. */
static int fail_json(ch_proto_error *err, const json_error_t *jerr)
{
    const char *code = CH_ERR_BAD_REQUEST;
    if (json_error_code(jerr) == json_error_out_of_memory)
        code = CH_ERR_UNAVAILABLE;
    return fail(err, code, "invalid JSON at line %d column %d: %.100s", jerr->line,
                jerr->column, jerr->text);
}

int ch_request_parse(const char *buf, size_t len, ch_request *req, ch_proto_error *err)
{
    json_t *root = NULL, *v;
    json_error_t jerr;
    const char *tname;
    size_t i, ntypes = sizeof req_types / sizeof req_types[0];
    int rc = -1;

    memset(req, 0, sizeof *req);
    err->code = NULL;
    err->message[0] = '\0';
    err->id[0] = '\0';

    if (buf == NULL && len > 0)
        return fail(err, CH_ERR_BAD_REQUEST, "no message");
    if (len > 0 && memchr(buf, '\0', len) != NULL)
        return fail(err, CH_ERR_BAD_REQUEST, "message contains a NUL byte");
    if (!depth_ok(buf, len))
        return fail(err, CH_ERR_BAD_REQUEST, "nesting too deep (limit %d)", CH_JSON_MAX_DEPTH);

    root = json_loadb(len > 0 ? buf : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        return fail_json(err, &jerr);
    if (!json_is_object(root)) {
        fail(err, CH_ERR_BAD_REQUEST, "message must be a JSON object");
        goto done;
    }

    v = json_object_get(root, "id");
    if (v != NULL) {
        char id[CH_REQID_MAX + 3];
        if (read_id(v, id, err) < 0)
            goto done;
        memcpy(req->id, id, sizeof id);
        memcpy(err->id, id, sizeof id);
    }

    v = json_object_get(root, "type");
    if (v == NULL) {
        fail(err, CH_ERR_BAD_REQUEST, "missing \"type\"");
        goto done;
    }
    if (!json_is_string(v)) {
        fail(err, CH_ERR_BAD_REQUEST, "\"type\" must be a string");
        goto done;
    }
    tname = json_string_value(v);
    for (i = 0; i < ntypes; i++)
        if (strcmp(tname, req_types[i].name) == 0)
            break;
    if (i == ntypes) {
        fail(err, CH_ERR_UNKNOWN_TYPE, "unknown type \"%.32s\"", tname);
        goto done;
    }
    req->type = req_types[i].type;
    if (req_types[i].parse(root, req, err) < 0)
        goto done;
    rc = 0;

done:
    json_decref(root);
    if (rc < 0) {
        ch_request_free(req);
        memset(req, 0, sizeof *req);
    } else {
        err->code = NULL;
        err->message[0] = '\0';
    }
    return rc;
}

void ch_request_free(ch_request *req)
{
    if (req == NULL)
        return;
    free(req->payload);
    req->payload = NULL;
    req->payload_len = 0;
}

void
ch_encode_event_halves(ch_buf *prefix, ch_buf *suffix, const char *room,
                       const char *author_json, const char *session, const char *kind,
                       const char *cid, const char *payload, size_t payload_len)
{
    ch_buf_reset(prefix);
    ch_buf_reset(suffix);
    ch_buf_puts(prefix, "{\"type\":\"event\",\"room\":");
    ch_buf_json_string(prefix, room, strlen(room));
    ch_buf_puts(prefix, ",\"seq\":");
    ch_buf_printf(suffix, ",\"author\":%s,\"session\":", author_json);
    ch_buf_json_string(suffix, session, strlen(session));
    ch_buf_puts(suffix, ",\"kind\":");
    ch_buf_json_string(suffix, kind, strlen(kind));
    ch_buf_puts(suffix, ",\"cid\":");
    ch_buf_json_string(suffix, cid, strlen(cid));
    ch_buf_puts(suffix, ",\"payload\":");
    ch_buf_append(suffix, payload, payload_len);
    ch_buf_puts(suffix, "}");
}
