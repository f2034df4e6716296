/*
 * reduce.c — reducer dispatch, the event envelope, the readers of untrusted
 * values shared by the three reducers, room-id parsing and board position
 * keys.
 *
 * The envelope rule, common to every kind (docs/reducers.md, "Envelope"):
 * an event that is not an object, or whose seq is not an integer above the
 * state's seq, is ignored entirely. Otherwise the state's seq becomes the
 * event's seq, whatever else happens; the event then takes effect only if
 * its author is a valid user id, its kind is known to the room kind and its
 * payload passes that kind's checks.
 */
#include <string.h>

#include "reduce_internal.h"

/* --- readers of untrusted values ------------------------------------------ */

int wkr_int(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        long long x = json_integer_value(v);

        if (x < -WKR_INT_LIMIT || x > WKR_INT_LIMIT)
            return 0;
        *out = x;
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        long long x;

        if (!(d >= (double)-WKR_INT_LIMIT && d <= (double)WKR_INT_LIMIT))
            return 0;
        x = (long long)d;
        if ((double)x != d)
            return 0;
        *out = x;
        return 1;
    }
    return 0;
}

int wkr_num(const json_t *v, double limit, double *out)
{
    double d;

    if (!json_is_number(v))
        return 0;
    d = json_number_value(v);
    if (!(d >= -limit && d <= limit))   /* also false for NaN */
        return 0;
    *out = d;
    return 1;
}

json_t *wkr_num_new(double x)
{
    if (x >= (double)-WKR_INT_LIMIT && x <= (double)WKR_INT_LIMIT) {
        long long i = (long long)x;

        if ((double)i == x)
            return json_integer(i);
        return json_real(x);
    }
    if (x > 0 || x < 0)   /* finite or infinite, but not NaN */
        return json_real(x);
    return json_integer(0);
}

/* Validates UTF-8 (RFC 3629: no overlongs, surrogates or values above
 * U+10FFFF) and rejects NUL; returns the number of code points or
 * (size_t)-1. */
static size_t utf8_count(const unsigned char *s, size_t n)
{
    size_t i = 0, cps = 0;

    while (i < n) {
        unsigned char b = s[i];
        size_t need, j;
        unsigned char lo = 0x80, hi = 0xBF;

        if (b == 0)
            return (size_t)-1;
        if (b < 0x80) {
            i++;
            cps++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0)
                lo = 0xA0;
            else if (b == 0xED)
                hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0)
                lo = 0x90;
            else if (b == 0xF4)
                hi = 0x8F;
        } else {
            return (size_t)-1;
        }
        if (n - i <= need)
            return (size_t)-1;
        for (j = 1; j <= need; j++) {
            unsigned char c = s[i + j];

            if (c < lo || c > hi)
                return (size_t)-1;
            lo = 0x80;
            hi = 0xBF;
        }
        i += need + 1;
        cps++;
    }
    return cps;
}

size_t wkr_cp_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

const char *wkr_text(const json_t *v, size_t min_cp, size_t max_cp)
{
    const char *s;
    size_t cps;

    if (!json_is_string(v))
        return NULL;
    s = json_string_value(v);
    cps = utf8_count((const unsigned char *)s, json_string_length(v));
    if (cps == (size_t)-1 || cps < min_cp || cps > max_cp)
        return NULL;
    return s;
}

const char *wkr_str(const json_t *v)
{
    const char *s = json_string_value(v);

    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

const char *wkr_user(const json_t *v)
{
    size_t len;

    if (!json_is_string(v))
        return NULL;
    len = json_string_length(v);
    if (len < 1 || len > WKR_USER_MAX)
        return NULL;
    if (utf8_count((const unsigned char *)json_string_value(v), len) == (size_t)-1)
        return NULL;
    return json_string_value(v);
}

const char *wkr_id(const json_t *v)
{
    const char *s;
    size_t len, i;

    if (!json_is_string(v))
        return NULL;
    s = json_string_value(v);
    len = json_string_length(v);
    if (len < 1 || len > WKR_ID_MAX)
        return NULL;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return NULL;
    }
    return s;
}

const json_t *wkr_arg(const wkr_event *ev, const char *name)
{
    return ev->payload ? json_object_get(ev->payload, name) : NULL;
}

/* --- state helpers --------------------------------------------------------- */

long long wkr_get_int(const json_t *obj, const char *key, long long dflt)
{
    long long x;

    return wkr_int(json_object_get(obj, key), &x) ? x : dflt;
}

double wkr_get_num(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_number(v) ? json_number_value(v) : 0.0;
}

const char *wkr_get_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

int wkr_set(json_t *obj, const char *key, json_t *val)
{
    if (!val)
        return -1;
    return json_object_set_new(obj, key, val) == 0 ? 0 : -1;
}

int wkr_push(json_t *arr, json_t *val)
{
    if (!val)
        return -1;
    return json_array_append_new(arr, val) == 0 ? 0 : -1;
}

void wkr_trim_front(json_t *arr, size_t max)
{
    while (json_array_size(arr) > max)
        json_array_remove(arr, 0);
}

/* Index of the first element >= s in a sorted string array. */
static size_t strset_lower(const json_t *arr, const char *s)
{
    size_t lo = 0, hi = json_array_size(arr);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = json_string_value(json_array_get(arr, mid));

        if (strcmp(m ? m : "", s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int wkr_strset_has(const json_t *arr, const char *s)
{
    size_t i = strset_lower(arr, s);
    const char *m = json_string_value(json_array_get(arr, i));

    return m && strcmp(m, s) == 0;
}

int wkr_strset_add(json_t *arr, const char *s)
{
    size_t i = strset_lower(arr, s);
    const char *m = json_string_value(json_array_get(arr, i));
    json_t *v;

    if (m && strcmp(m, s) == 0)
        return 0;
    v = json_string(s);
    if (!v)
        return -1;
    return json_array_insert_new(arr, i, v) == 0 ? 0 : -1;
}

void wkr_strset_del(json_t *arr, const char *s)
{
    size_t i = strset_lower(arr, s);
    const char *m = json_string_value(json_array_get(arr, i));

    if (m && strcmp(m, s) == 0)
        json_array_remove(arr, i);
}

/* --- dispatch -------------------------------------------------------------- */

typedef struct {
    const char *kind;
    json_t *(*make)(void);
    int (*shape_ok)(const json_t *state);
    int (*apply)(json_t *state, const wkr_event *ev);
} reducer_def;

static const reducer_def reducers[] = {
    { "chat", wkr_chat_new, wkr_chat_shape_ok, wkr_chat_apply },
    { "board", wkr_board_new, wkr_board_shape_ok, wkr_board_apply },
    { "whiteboard", wkr_wb_new, wkr_wb_shape_ok, wkr_wb_apply },
};

static const reducer_def *reducer_find(const char *kind)
{
    size_t i;

    if (!kind)
        return NULL;
    for (i = 0; i < sizeof reducers / sizeof reducers[0]; i++)
        if (strcmp(reducers[i].kind, kind) == 0)
            return &reducers[i];
    return NULL;
}

json_t *wk_state_new(const char *room_kind)
{
    const reducer_def *r = reducer_find(room_kind);

    return r ? r->make() : NULL;
}

int wk_reduce(const char *room_kind, json_t *state, const json_t *event)
{
    const reducer_def *r = reducer_find(room_kind);
    wkr_event ev;
    long long state_seq;
    const json_t *payload;

    if (!r || !json_is_object(state) || !wkr_int(json_object_get(state, "seq"), &state_seq) ||
        !r->shape_ok(state))
        return WK_ERROR;
    if (!json_is_object(event))
        return WK_IGNORED;
    if (!wkr_int(json_object_get(event, "seq"), &ev.seq) || ev.seq < 1 || ev.seq <= state_seq)
        return WK_IGNORED;
    if (wkr_set(state, "seq", json_integer(ev.seq)) < 0)
        return WK_ERROR;

    ev.author = wkr_user(json_object_get(event, "author"));
    ev.kind = wkr_str(json_object_get(event, "kind"));
    if (!ev.author || !ev.kind)
        return WK_IGNORED;
    if (!wkr_int(json_object_get(event, "ts"), &ev.ts) || ev.ts < 0)
        ev.ts = 0;
    payload = json_object_get(event, "payload");
    ev.payload = json_is_object(payload) ? payload : NULL;
    return r->apply(state, &ev);
}

json_t *wk_replay(const char *room_kind, const json_t *events)
{
    json_t *state = wk_state_new(room_kind);
    size_t i;

    if (!state)
        return NULL;
    for (i = 0; i < json_array_size(events); i++) {
        if (wk_reduce(room_kind, state, json_array_get(events, i)) == WK_ERROR) {
            json_decref(state);
            return NULL;
        }
    }
    return state;
}

/* --- room ids -------------------------------------------------------------- */

/* Length of a run of 1..19 decimal digits at s, or 0. */
static size_t digit_run(const char *s)
{
    size_t n = 0;

    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n <= 19 ? n : 0;
}

const char *wk_room_kind(const char *room_id)
{
    const char *dot, *p;
    size_t i, n;

    if (!room_id)
        return NULL;
    dot = strchr(room_id, '.');
    if (!dot)
        return NULL;
    p = dot + 1;
    n = digit_run(p);
    if (n == 0 || p[n] != '.')
        return NULL;
    p += n + 1;
    n = digit_run(p);
    if (n == 0 || p[n] != '\0')
        return NULL;
    for (i = 0; i < sizeof reducers / sizeof reducers[0]; i++) {
        size_t klen = strlen(reducers[i].kind);

        if ((size_t)(dot - room_id) == klen && memcmp(room_id, reducers[i].kind, klen) == 0)
            return reducers[i].kind;
    }
    return NULL;
}

/* --- board position keys ----------------------------------------------------
 *
 * A key is a base-62 fraction 0.d1d2...dk (digits 0-9 A-Z a-z in ASCII
 * order) with dk != 0, so byte order equals numeric order and between any
 * two keys there is another one. The generator below is the one the
 * browser implements (docs/reducers.md gives it step by step).
 */

static const char pos_digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int pos_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 36;
    return -1;
}

int wk_position_valid(const char *s)
{
    size_t i;

    if (!s || !*s)
        return 0;
    for (i = 0; s[i]; i++)
        if (i >= WK_POSITION_MAX || pos_val(s[i]) < 0)
            return 0;
    return s[i - 1] != '0';
}

/* Output buffer for key building: fails once the key would not fit. */
typedef struct {
    char *out;
    size_t cap;    /* usable characters, excluding the NUL */
    size_t len;
    int overflow;
} pos_buf;

static void pb_put(pos_buf *b, const char *s, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = 1;
        return;
    }
    memcpy(b->out + b->len, s, n);
    b->len += n;
}

static void pb_digit(pos_buf *b, int v)
{
    pb_put(b, &pos_digits[v], 1);
}

/* Smallest-growth key above k (k valid): bump the first digit that is not
 * 'z'; if all are 'z', append '1'. */
static void pos_after(pos_buf *b, const char *k, size_t klen)
{
    size_t i;

    for (i = 0; i < klen; i++) {
        if (k[i] != 'z') {
            pb_put(b, k, i);
            pb_digit(b, pos_val(k[i]) + 1);
            return;
        }
    }
    pb_put(b, k, klen);
    pb_put(b, "1", 1);
}

/* A key below k (k non-empty, last digit not '0'): lower the first digit
 * that is at least '2'; if there is none (k is made of '0' and '1' and ends
 * in '1'), replace the last '1' by "0z". */
static void pos_before(pos_buf *b, const char *k, size_t klen)
{
    size_t i;

    for (i = 0; i < klen; i++) {
        if (pos_val(k[i]) >= 2) {
            pb_put(b, k, i);
            pb_digit(b, pos_val(k[i]) - 1);
            return;
        }
    }
    pb_put(b, k, klen - 1);
    pb_put(b, "0z", 2);
}

int wk_position_between(const char *lo, const char *hi, char *out, size_t n)
{
    pos_buf b;

    if (!out || n == 0)
        return -1;
    if ((lo && !wk_position_valid(lo)) || (hi && !wk_position_valid(hi)))
        return -1;
    if (lo && hi && strcmp(lo, hi) >= 0)
        return -1;
    b.out = out;
    b.cap = n - 1 < WK_POSITION_MAX ? n - 1 : WK_POSITION_MAX;
    b.len = 0;
    b.overflow = 0;

    if (!lo && !hi) {
        pb_put(&b, "V", 1);
    } else if (!hi) {
        pos_after(&b, lo, strlen(lo));
    } else if (!lo) {
        pos_before(&b, hi, strlen(hi));
    } else {
        size_t i = 0, lolen = strlen(lo), hilen = strlen(hi);

        while (i < lolen && lo[i] == hi[i])
            i++;
        if (i == lolen) {
            /* lo is a prefix of hi: extend lo below the rest of hi. */
            pb_put(&b, hi, i);
            pos_before(&b, hi + i, hilen - i);
        } else {
            int dlo = pos_val(lo[i]), dhi = pos_val(hi[i]);

            if (dhi - dlo >= 2) {
                pb_put(&b, lo, i);
                pb_digit(&b, (dlo + dhi) / 2);
            } else {
                /* adjacent digits: keep lo's digit, go above the rest of lo */
                pb_put(&b, lo, i + 1);
                if (i + 1 == lolen)
                    pb_put(&b, "V", 1);
                else
                    pos_after(&b, lo + i + 1, lolen - i - 1);
            }
        }
    }
    if (b.overflow)
        return -1;
    out[b.len] = '\0';
    return (int)b.len;
}
