/*
 * json_out.c — compact JSON text of jansson values (see json_out.h).
 *
 * One pass over the value, writing straight into one growable ch_buf: no
 * allocation per value. Sorted objects collect their members on a scratch
 * stack shared by the whole dump (one allocation, grown by doubling), sort
 * them there and pop them when the object is done.
 *
 * Reals. A decimal D with at most 15 significant digits that reads back as
 * the double d is what "%.15g" prints for d, when d is normal: 15-digit
 * decimals are further apart than two doubles, so rounding d to 15 digits
 * gives D again. The fast path looks for such a D directly for
 * 1e-4 <= |d| < 1e15 (where "%g" writes no exponent): for k = 0, 1, ... it
 * rounds |d| * 10^k to an integer m below 10^15 and keeps the first m with
 * m / 10^k == |d| (both exact doubles, so the division is the correctly
 * rounded value of the decimal m·10^-k, i.e. what strtod gives for it).
 * For m < 10^15 the error of |d| * 10^k is far below 1/2, so the first k
 * found is the number of decimals of D and m has no trailing zero.
 *
 * When there is no such D, the answer is "%.16g" or "%.17g": the 16- or
 * 17-digit decimal nearest d (ties to even, as printf rounds). In the same range it
 * is computed exactly: |d| * 10^k is p + err with err from fma, p < 10^17
 * is within 8 of an integer, so rounding p and settling halves by the sign
 * of err gives the digits; the 16-digit one reads back as d when m / 10^k
 * (a division of exact doubles while m < 2^53; strtod above) is d. Other
 * values (exponents, subnormals) take the slow path: snprintf at
 * increasing precision and strtod.
 */
#include "json_out.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;
    size_t len;
    json_t *value;
} member;

typedef struct {
    ch_buf *b;
    unsigned flags;
    ch_json_stats *st;
    member *stack;     /* sorted objects' members, innermost object last; owned */
    size_t top, cap;
} dumper;

/* jansson 2.14's structures, for ch_json_stats.heap: json_t is a type and
 * a reference count (16 bytes); an integer or real adds its value, a string
 * a pointer and a length (then the text in a block of its own), an array
 * its size, capacity and table pointer (a table of 8 slots, doubled when
 * full), an object a hashtable (size, buckets, order, two list heads) with
 * 8 buckets of two pointers (doubled when full) and one block per member
 * (two list links, hash, value, key length, then the key and its NUL). */
#define NUMBER_SIZE  24
#define STRING_SIZE  32
#define ARRAY_SIZE   40
#define OBJECT_SIZE  72
#define BUCKET_SIZE  16
#define PAIR_HEAD    56

/* The size of glibc's malloc chunk for a request of n bytes. */
static inline size_t
chunk(size_t n)
{
    size_t c = (n + 8 + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

/* Powers of ten exact as doubles (10^22 is the last one). */
static const double pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* ------------------------------------------------------------------ output */

/* Room for n more bytes and the NUL; the test inline, the growth not. */
static inline int
room(ch_buf *b, size_t n)
{
    if (!b->oom && b->cap - b->len > n) return 0;
    return ch_buf_reserve(b, n);
}

static inline int
put(ch_buf *b, const char *s, size_t n)
{
    if (room(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int
put_c(ch_buf *b, char c)
{
    if (room(b, 1) < 0) return -1;
    b->data[b->len++] = c;
    return 0;
}

/* Writes the decimal digits of x (at most 20) so that they end just before
 * end; returns where they start. */
static char *
u64_digits(char *end, uint64_t x)
{
    char *p = end;
    do {
        *--p = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    return p;
}

static int
put_int(ch_buf *b, long long v)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = u64_digits(end, u);
    if (v < 0) *--p = '-';
    return put(b, p, (size_t)(end - p));
}

/* ------------------------------------------------------------------ reals */

/* 10^0 .. 10^19 */
static const uint64_t pow10_u64[] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

/* Writes [-]m·10^-k as "%g" does without an exponent (trailing zeros of the
 * fraction dropped), then jansson's ".0" when no fraction is left; returns
 * the length. m < 10^17, k <= 22. */
static size_t
write_fixed(char *out, int neg, uint64_t m, int k)
{
    char digits[24], *end = digits + sizeof(digits);
    uint64_t ip = k < 20 ? m / pow10_u64[k] : 0, fp = k < 20 ? m % pow10_u64[k] : m;
    char *p = out;

    if (neg) *p++ = '-';
    char *d = u64_digits(end, ip);
    memcpy(p, d, (size_t)(end - d));
    p += end - d;
    *p++ = '.';
    if (fp == 0) {
        *p++ = '0';
    } else {
        while (fp % 10 == 0) {
            fp /= 10;
            k--;
        }
        d = u64_digits(end, fp);
        size_t n = (size_t)(end - d);
        memset(p, '0', (size_t)k - n);
        p += (size_t)k - n;
        memcpy(p, d, n);
        p += n;
    }
    *p = '\0';
    return (size_t)(p - out);
}

/* The fast path for 15 digits (header comment): writes |d| as m·10^-k and
 * returns the length, or 0 when it does not apply. */
static size_t
real_fast(char *out, double d)
{
    double a = fabs(d);
    if (!(a >= 1e-4 && a < 1e15)) return 0;
    for (int k = 0; k < (int)(sizeof(pow10_exact) / sizeof(pow10_exact[0])); k++) {
        double s = a * pow10_exact[k];
        if (s >= 1e15) return 0;
        double m = nearbyint(s);
        if (m / pow10_exact[k] == a) return write_fixed(out, signbit(d) != 0, (uint64_t)m, k);
    }
    return 0;
}

/* The n-digit decimal nearest to a (n = 16 or 17, 1e-4 <= a < 1e15), ties
 * to even, as printf rounds: m in [10^(n-1), 10^n) with a ~ m·10^-k. The
 * product a·10^k is exact as p + err (fma), and p < 10^17 holds it to
 * within 8, so m is p rounded with err deciding halves. 0, or -1 (then
 * printf decides). */
static int
round_digits(double a, int n, uint64_t *m, int *k)
{
    int x = (int)floor(log10(a));                /* may be off by one: checked */

    for (int tries = 0; tries < 3; tries++) {
        int kk = n - 1 - x;
        if (kk < 0 || kk > 22) return -1;
        double s = pow10_exact[kk], lo = pow10_exact[n - 1], hi = pow10_exact[n];
        double p = a * s;
        double err = fma(a, s, -p);
        if (p < lo || (p == lo && err < 0)) {    /* a < 10^x */
            x--;
            continue;
        }
        if (p > hi || (p == hi && err >= 0)) {   /* a >= 10^(x+1) */
            x++;
            continue;
        }
        uint64_t r;
        if (p < 4503599627370496.0) {            /* 2^52: p may have a fraction */
            double q = nearbyint(p), f = p - q;  /* exact; q even when |f| is 1/2 */
            r = (uint64_t)q;
            if (f == 0.5 && err > 0) r++;
            else if (f == -0.5 && err < 0) r--;
        } else {                                 /* p is an integer, |err| <= 8 */
            double fl = floor(err), fr = err - fl;
            r = (uint64_t)((int64_t)p + (int64_t)fl);
            if (fr > 0.5 || (fr == 0.5 && (r & 1))) r++;
        }
        if (r == pow10_u64[n]) {                 /* rounded up to 10^(x+1) */
            if (kk == 0) return -1;
            r = pow10_u64[n - 1];
            kk--;
        }
        *m = r;
        *k = kk;
        return 0;
    }
    return -1;
}

/* 16 or 17 digits for 1e-4 <= |d| < 1e15 once real_fast found no 15-digit
 * form: the nearest 16-digit decimal when it reads back as d (checked by a
 * division when its digits fit a double, else by strtod), else the nearest
 * 17-digit one, which always does. Returns the length, or 0 (printf then). */
static size_t
real_exact(char *out, double d)
{
    double a = fabs(d);
    int neg = signbit(d) != 0, k;
    uint64_t m;

    if (!(a >= 1e-4 && a < 1e15) || round_digits(a, 16, &m, &k) < 0) return 0;
    if (m <= 9007199254740992ull) {
        if ((double)m / pow10_exact[k] == a) return write_fixed(out, neg, m, k);
    } else {
        size_t n = write_fixed(out, neg, m, k);
        if (strtod(out, NULL) == d) return n;
    }
    if (round_digits(a, 17, &m, &k) < 0) return 0;
    return write_fixed(out, neg, m, k);
}

size_t
ch_json_real(char *out, double d)
{
    size_t n;
    int prec;

    if (!isfinite(d)) return 0;
    if ((n = real_fast(out, d)) > 0 || (n = real_exact(out, d)) > 0) return n;

    /* Normal doubles need 15 digits at least (the fast path above found
     * every value that has 15 or fewer); subnormals may need fewer. */
    prec = d != 0 && fabs(d) < DBL_MIN ? 1 : 15;
    for (;; prec++) {
        int r = snprintf(out, CH_JSON_REAL_MAX, "%.*g", prec, d);
        if (r <= 0 || r >= CH_JSON_REAL_MAX) return 0;
        n = (size_t)r;
        if (prec >= 17 || strtod(out, NULL) == d) break;
    }

    /* jansson's touches: a '.' or an exponent always, and the exponent
     * without '+' or leading zeros. */
    char *e = strchr(out, 'e');
    if (!e) {
        if (!strchr(out, '.')) {
            out[n++] = '.';
            out[n++] = '0';
            out[n] = '\0';
        }
        return n;
    }
    char *from = e + 1, *to = e + 1;
    if (*from == '-') to = ++from;
    else if (*from == '+') from++;
    while (*from == '0' && from[1] != '\0') from++;
    memmove(to, from, strlen(from) + 1);
    return strlen(out);
}

/* ------------------------------------------------------------------ strings */

/* Length of the valid UTF-8 sequence at s[0..n) (lead byte >= 0x80), or 0
 * (bad lead byte, truncated, overlong, surrogate, above U+10FFFF). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;

    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        else if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        else if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

static int
put_string(ch_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0, i = 0;

    if (room(b, n + 2) < 0) return -1;
    b->data[b->len++] = '"';
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = utf8_len(s + i, n - i);
            if (l == 0) return -1;
            i += l;
            continue;
        }
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            elen = 6;
        }
        if (put(b, str + run, i - run) < 0 || put(b, esc, elen) < 0) return -1;
        run = ++i;
    }
    if (put(b, str + run, n - run) < 0) return -1;
    return put_c(b, '"');
}

/* ------------------------------------------------------------------ values */

static int
cmp_member(const void *x, const void *y)
{
    const member *a = x, *b = y;
    int r = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    if (r) return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Room for n more members on the scratch stack. 0, or -1. */
static int
stack_reserve(dumper *d, size_t n)
{
    if (d->cap - d->top >= n) return 0;
    size_t cap = d->cap ? d->cap : 64;
    while (cap - d->top < n) {
        if (cap > SIZE_MAX / 2 / sizeof(member)) return -1;
        cap *= 2;
    }
    member *m = realloc(d->stack, cap * sizeof(member));
    if (!m) {
        d->b->oom = 1;
        return -1;
    }
    d->stack = m;
    d->cap = cap;
    return 0;
}

static int dump_value(dumper *d, const json_t *v, int depth);

static int
dump_member(dumper *d, const char *key, size_t len, const json_t *v, int first, int depth)
{
    if (!first && put_c(d->b, ',') < 0) return -1;
    if (d->st) d->st->heap += chunk(PAIR_HEAD + len + 1);
    if (put_string(d->b, key, len) < 0 || put_c(d->b, ':') < 0) return -1;
    return dump_value(d, v, depth);
}

static int
dump_object(dumper *d, const json_t *v, int depth)
{
    json_t *o = (json_t *)v;   /* jansson's iterators take a non-const object */
    size_t n = json_object_size(o);
    int first = 1;

    if (d->st) {
        size_t buckets = 8;
        while (buckets < n) buckets *= 2;
        d->st->heap += chunk(OBJECT_SIZE) + chunk(BUCKET_SIZE * buckets);
    }
    if (put_c(d->b, '{') < 0) return -1;
    if (!(d->flags & CH_JSON_SORT_KEYS) || n < 2) {
        for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it), first = 0)
            if (dump_member(d, json_object_iter_key(it), json_object_iter_key_len(it),
                            json_object_iter_value(it), first, depth) < 0)
                return -1;
        return put_c(d->b, '}');
    }

    if (stack_reserve(d, n) < 0) return -1;
    size_t base = d->top, k = 0;
    for (void *it = json_object_iter(o); it && k < n; it = json_object_iter_next(o, it), k++) {
        member *m = &d->stack[base + k];
        m->key = json_object_iter_key(it);
        m->len = json_object_iter_key_len(it);
        m->value = json_object_iter_value(it);
    }
    d->top = base + k;
    qsort(d->stack + base, k, sizeof(member), cmp_member);
    for (size_t i = 0; i < k; i++) {
        /* d->stack may move while the member's value is dumped: index it. */
        member m = d->stack[base + i];
        if (dump_member(d, m.key, m.len, m.value, i == 0, depth) < 0) return -1;
    }
    d->top = base;
    return put_c(d->b, '}');
}

static int
dump_value(dumper *d, const json_t *v, int depth)
{
    char tmp[CH_JSON_REAL_MAX];
    size_t n;

    if (!v) return -1;
    if (d->st) d->st->values++;
    if ((json_is_object(v) || json_is_array(v)) && depth >= CH_JSON_OUT_MAX_DEPTH) return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return dump_object(d, v, depth + 1);
    case JSON_ARRAY:
        n = json_array_size(v);
        if (d->st) {
            size_t cap = 8;
            while (cap < n) cap *= 2;
            d->st->heap += chunk(ARRAY_SIZE) + chunk(sizeof(json_t *) * cap);
        }
        if (put_c(d->b, '[') < 0) return -1;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && put_c(d->b, ',') < 0) return -1;
            if (dump_value(d, json_array_get(v, i), depth + 1) < 0) return -1;
        }
        return put_c(d->b, ']');
    default:
        break;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        n = json_string_length(v);
        if (d->st) d->st->heap += chunk(STRING_SIZE) + chunk(n + 1);
        return put_string(d->b, json_string_value(v), n);
    case JSON_INTEGER:
        if (d->st) d->st->heap += chunk(NUMBER_SIZE);
        return put_int(d->b, (long long)json_integer_value(v));
    case JSON_REAL:
        if (d->st) d->st->heap += chunk(NUMBER_SIZE);
        n = ch_json_real(tmp, json_real_value(v));
        return n ? put(d->b, tmp, n) : -1;
    case JSON_TRUE:
        return put(d->b, "true", 4);
    case JSON_FALSE:
        return put(d->b, "false", 5);
    case JSON_NULL:
        return put(d->b, "null", 4);
    default:
        return -1;
    }
}

int
ch_json_dump(ch_buf *b, const json_t *v, unsigned flags, ch_json_stats *stats)
{
    dumper d = { .b = b, .flags = flags, .st = stats };
    int rc;

    if (stats) memset(stats, 0, sizeof(*stats));
    rc = dump_value(&d, v, 0);
    free(d.stack);
    if (b->cap > 0) b->data[b->len] = '\0';
    return rc < 0 || b->oom ? -1 : 0;
}

char *
ch_json_dumps(const json_t *v, unsigned flags, size_t *len)
{
    ch_buf b;

    ch_buf_init(&b);
    if (ch_json_dump(&b, v, flags, NULL) < 0 || b.cap == 0) {
        ch_buf_free(&b);
        return NULL;
    }
    if (len) *len = b.len;
    return b.data;   /* heap memory: cap > 0 */
}
