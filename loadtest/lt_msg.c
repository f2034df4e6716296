/*
 * lt_msg.c — top-level JSON object scanner; see lt_msg.h.
 */
#include "lt_msg.h"

#include <string.h>

static size_t
skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* s[i] == '"'; returns the index after the closing quote, or 0 on error. */
static size_t
skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return 0;
}

/* Returns the index after the value starting at s[i], or 0 on error. */
static size_t
skip_value(const char *s, size_t i, size_t n)
{
    if (i >= n) return 0;
    if (s[i] == '"') return skip_string(s, i, n);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                if (!(i = skip_string(s, i, n))) return 0;
                continue;
            }
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return 0;
    }
    size_t start = i;
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i > start ? i : 0;
}

typedef int (*member_fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen);

/* Calls fn for each member of the object at the start of s[0..n) until fn
 * returns non-zero (returned). Returns -1 on malformed input, 0 at the
 * closing brace, whose following index goes to *end. */
static int
each_member(const char *s, size_t n, member_fn fn, void *ctx, size_t *end)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{') return -1;
    i = skip_ws(s, i + 1, n);
    if (i < n && s[i] == '}') {
        *end = i + 1;
        return 0;
    }
    for (;;) {
        if (i >= n || s[i] != '"') return -1;
        size_t kend = skip_string(s, i, n);
        if (!kend) return -1;
        const char *key = s + i + 1;
        size_t klen = kend - i - 2;
        i = skip_ws(s, kend, n);
        if (i >= n || s[i] != ':') return -1;
        i = skip_ws(s, i + 1, n);
        size_t vend = skip_value(s, i, n);
        if (!vend) return -1;
        int r = fn(ctx, key, klen, s + i, vend - i);
        if (r) return r;
        i = skip_ws(s, vend, n);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, i + 1, n);
            continue;
        }
        if (i < n && s[i] == '}') {
            *end = i + 1;
            return 0;
        }
        return -1;
    }
}

int
lt_json_int(const char *v, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t x = 0;
    if (len && v[0] == '-') { neg = 1; i = 1; }
    if (i >= len) return -1;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        uint64_t d = (uint64_t)(v[i] - '0');
        if (x > (lim - d) / 10) return -1;
        x = x * 10 + d;
    }
    if (neg) *out = x == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)x;
    else *out = (int64_t)x;
    return 0;
}

#define KEY_IS(lit) (klen == sizeof(lit) - 1 && memcmp(key, lit, sizeof(lit) - 1) == 0)

static lt_msg_type
type_of(const char *v, size_t n)
{
    static const struct { const char *name; lt_msg_type t; } types[] = {
        {"event", LT_MSG_EVENT}, {"ack", LT_MSG_ACK}, {"presence", LT_MSG_PRESENCE},
        {"joined", LT_MSG_JOINED}, {"welcome", LT_MSG_WELCOME}, {"error", LT_MSG_ERROR},
        {"pong", LT_MSG_PONG}, {"reconnect", LT_MSG_RECONNECT}, {"left", LT_MSG_LEFT},
        {"authed", LT_MSG_AUTHED}, {"direct", LT_MSG_DIRECT},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i].name) == n && memcmp(types[i].name, v, n) == 0) return types[i].t;
    return LT_MSG_OTHER;
}

typedef struct {
    lt_msg *m;
    int has_type;
} parse_ctx;

static int
on_member(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
    parse_ctx *ctx = vctx;
    lt_msg *m = ctx->m;
    int is_str = vlen >= 2 && val[0] == '"';
    switch (key[0]) {
    case 't':
        if (KEY_IS("type") && is_str) {
            m->type = type_of(val + 1, vlen - 2);
            ctx->has_type = 1;
        }
        break;
    case 'r':
        if (KEY_IS("room") && is_str) { m->room = val + 1; m->room_len = vlen - 2; }
        break;
    case 's':
        if (KEY_IS("seq")) m->has_seq = lt_json_int(val, vlen, &m->seq) == 0;
        break;
    case 'e':
        if (KEY_IS("epoch")) m->has_epoch = lt_json_int(val, vlen, &m->epoch) == 0;
        else if (KEY_IS("ephemeral")) m->ephemeral = vlen == 4 && memcmp(val, "true", 4) == 0;
        break;
    case 'i':
        if (KEY_IS("id")) m->has_id = lt_json_int(val, vlen, &m->id) == 0;
        break;
    case 'c':
        if (KEY_IS("code") && is_str) { m->code = val + 1; m->code_len = vlen - 2; }
        break;
    case 'd':
        if (KEY_IS("duplicate")) m->duplicate = vlen == 4 && memcmp(val, "true", 4) == 0;
        break;
    case 'p':
        if (KEY_IS("payload")) {
            m->payload = val;
            m->payload_len = vlen;
            const char *t;
            size_t tl;
            if (val[0] == '{' && lt_json_get(val, vlen, "t", &t, &tl) == 0)
                m->has_t = lt_json_int(t, tl, &m->t) == 0;
        }
        break;
    default:
        break;
    }
    return 0;
}

int
lt_msg_parse(const char *s, size_t len, lt_msg *m)
{
    parse_ctx ctx = { m, 0 };
    size_t end = 0;
    memset(m, 0, sizeof(*m));
    if (each_member(s, len, on_member, &ctx, &end) < 0 || skip_ws(s, end, len) != len || !ctx.has_type) {
        m->type = LT_MSG_OTHER;
        return -1;
    }
    return 0;
}

typedef struct {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
} get_ctx;

static int
on_get(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
    get_ctx *g = vctx;
    if (klen != g->klen || memcmp(key, g->key, klen) != 0) return 0;
    g->val = val;
    g->vlen = vlen;
    return 1;
}

int
lt_json_get(const char *obj, size_t len, const char *key, const char **val, size_t *vlen)
{
    get_ctx g = { key, strlen(key), NULL, 0 };
    size_t end;
    if (each_member(obj, len, on_get, &g, &end) != 1) return -1;
    *val = g.val;
    *vlen = g.vlen;
    return 0;
}
