/*
 * test_json_out.c — common/json_out.c against jansson and strtod.
 *
 *  1. Without reals, the text is byte-identical to jansson 2.14's
 *     json_dumps(JSON_COMPACT | JSON_ENCODE_ANY [| JSON_SORT_KEYS]): fixed
 *     documents with every escape, UTF-8 of each length, keys that are
 *     prefixes of others and keys with NUL, extreme integers; random
 *     documents; the reducer vectors' states and events (tests/vectors).
 *  2. Refusals as jansson's: invalid UTF-8, nesting past the limit.
 *  3. Reals: the documented examples (0.1, 612.9, 1e21, -0.0, 5e-324,
 *     DBL_MAX, ...); for random doubles (bit patterns, short decimals,
 *     binary fractions, values around the fast path's bounds) the text reads
 *     back as the same double, equals the reference (the first of %.15g,
 *     %.16g, %.17g — %.1g.. for subnormals — that reads back, with
 *     jansson's touches) and has as few significant digits as any "%.Ng"
 *     that reads back.
 *  4. With reals, the text parses back (jansson) to an equal value.
 *  5. The heap estimate of ch_json_stats against mallinfo2.
 *
 * The vectors are found from this source file's path (__FILE__), or in
 * $CHORUS_VECTORS_DIR when set.
 *
 * Fixed-seed PRNG: failures reproduce.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <dirent.h>
#include <float.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "test.h"


static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

/* --- helpers -------------------------------------------------------------- */

/* 1 if ours and jansson's texts of v are the same bytes (both flag sets). */
static int same_as_jansson(const json_t *v, int verbose)
{
    int ok = 1;
    for (int sorted = 0; sorted < 2; sorted++) {
        size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | (sorted ? JSON_SORT_KEYS : 0);
        char *want = json_dumps(v, flags);
        size_t len = 0;
        char *got = ch_json_dumps(v, sorted ? CH_JSON_SORT_KEYS : 0, &len);
        int eq = want && got && strcmp(want, got) == 0 && len == strlen(want);
        if (!eq && verbose)
            fprintf(stderr, "  jansson: %.300s\n  ours:    %.300s\n", want ? want : "(null)",
                    got ? got : "(null)");
        ok &= eq;
        free(want);
        free(got);
    }
    return ok;
}

static int has_real(const json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;

    if (json_is_real(v)) return 1;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (has_real(x)) return 1;
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (has_real(x)) return 1;
    }
    return 0;
}

/* --- 1. byte equality without reals ----------------------------------------- */

static void test_fixed_documents(void)
{
    char all_ctl[40];
    for (int i = 0; i < 32; i++) all_ctl[i] = (char)(i + 1 < 32 ? i + 1 : 0x7f);
    all_ctl[31] = '\0';

    json_t *doc = json_object();
    json_object_set_new(doc, "ctl", json_string(all_ctl));
    json_object_set_new(doc, "esc", json_string("q\" b\\ s/ t\t n\n r\r f\f b\b del\x7f end"));
    json_object_set_new(doc, "utf8", json_string("é ü — € 𝄞 \xf4\x8f\xbf\xbf \xef\xbf\xbf \xc2\x80"));
    json_object_set_new(doc, "nul", json_stringn("a\0b", 3));
    json_object_set_new(doc, "empty", json_string(""));
    json_object_set_new(doc, "ints", json_pack("[I, I, I, I, I]", (json_int_t)0, (json_int_t)-1,
                                               (json_int_t)LLONG_MAX, (json_int_t)LLONG_MIN,
                                               (json_int_t)9007199254740993LL));
    json_object_set_new(doc, "lits", json_pack("[b, b, n, [], {}, [[]], {\"\": {}}]", 1, 0));
    /* Keys that are prefixes of each other, bytes above 0x7f, a NUL inside. */
    json_t *keys = json_object();
    const char *names[] = { "b", "a", "ab", "aa", "a\xc3\xa9", "A", "", "z\x7f", "\xf0\x9d\x84\x9e", "a b" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        json_object_set_new(keys, names[i], json_integer((json_int_t)i));
    json_object_setn_new(keys, "a\0c", 3, json_true());
    json_object_setn_new(keys, "a\0", 2, json_false());
    json_object_set_new(keys, "esc\"\n\\", json_null());
    json_object_set_new(doc, "keys", keys);
    json_object_set_new(doc, "deep", json_pack("[[[[[{s:[{s:[]}]}]]]]]", "x", "y"));
    CHECK(same_as_jansson(doc, 1));

    /* Scalars at the top level (JSON_ENCODE_ANY). */
    json_t *scalars[] = { json_integer(42), json_string("x\ny"), json_true(), json_false(), json_null() };
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        CHECK(same_as_jansson(scalars[i], 1));
        json_decref(scalars[i]);
    }

    /* Every control character and a long string with escapes spread out. */
    for (int c = 0; c < 0x80; c++) {
        char s[4] = { 'x', (char)c, 'y', 0 };
        json_t *v = json_stringn(s, 3);
        CHECK(same_as_jansson(v, 1));
        json_decref(v);
    }
    json_decref(doc);
}

static const char *const frags[] = {
    "a", "b", "ab", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f",
    "é", "€", "𝄞", "\xef\xbf\xbd", "id", "points", "seq",
};

static json_t *random_string(void)
{
    char buf[64];
    size_t n = 0, parts = rndn(5);
    for (size_t i = 0; i < parts; i++) {
        const char *f = frags[rndn(sizeof(frags) / sizeof(frags[0]))];
        size_t l = strlen(f);
        if (n + l >= sizeof(buf)) break;
        memcpy(buf + n, f, l);
        n += l;
    }
    return json_stringn(buf, n);
}

/* A random document; reals only when with_reals. */
static json_t *random_value(int depth, int with_reals)
{
    unsigned pick = depth > 4 ? rndn(6) : rndn(8);
    switch (pick) {
    case 0: return json_integer((json_int_t)(rnd() >> rndn(64)) * (rndn(2) ? 1 : -1));
    case 1: return random_string();
    case 2: return rndn(3) == 0 ? json_null() : json_boolean(rndn(2));
    case 3: return json_integer((json_int_t)rndn(2000) - 1000);
    case 4: return with_reals ? json_real((double)(int)rndn(100000) / 4.0 + 0.1 * rndn(3)) : json_integer(7);
    case 5: return random_string();
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rndn(6); i > 0; i--) json_array_append_new(a, random_value(depth + 1, with_reals));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rndn(7); i > 0; i--) {
            json_t *k = random_string();
            json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                 random_value(depth + 1, with_reals));
            json_decref(k);
        }
        return o;
    }
    }
}

static void test_random_documents(void)
{
    int bad = 0;
    for (int i = 0; i < 3000; i++) {
        json_t *v = random_value(0, 0);
        if (!same_as_jansson(v, bad < 3)) bad++;
        json_decref(v);
    }
    CHECK_EQ_INT(bad, 0);
}

/* Every state and event of the vector files: byte-identical when it holds
 * no real, else equal after a round trip. */
static void check_vector_values(json_t *v, int *n, int *bad)
{
    size_t i;
    const char *k;
    json_t *x;

    (*n)++;
    if (!has_real(v)) {
        if (!same_as_jansson(v, *bad < 3)) (*bad)++;
    } else {
        char *t = ch_json_dumps(v, CH_JSON_SORT_KEYS, NULL);
        json_t *back = t ? json_loads(t, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
        if (!back || !json_equal(back, v)) {
            if ((*bad)++ < 3) fprintf(stderr, "  vector round trip failed: %.300s\n", t ? t : "(null)");
        }
        json_decref(back);
        free(t);
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (json_is_object(x) || json_is_array(x)) check_vector_values(x, n, bad);
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x) if (json_is_object(x) || json_is_array(x)) check_vector_values(x, n, bad);
    }
}

static void test_vectors(void)
{
    char dir[4096];
    const char *env = getenv("CHORUS_VECTORS_DIR");
    const char *self = __FILE__, *suffix = "tests/unit/test_json_out.c";
    size_t sl = strlen(self), sn = strlen(suffix);

    if (env && *env) snprintf(dir, sizeof(dir), "%s", env);
    else if (sl >= sn && strcmp(self + sl - sn, suffix) == 0)
        snprintf(dir, sizeof(dir), "%.*stests/vectors", (int)(sl - sn), self);
    else snprintf(dir, sizeof(dir), "tests/vectors");
    DIR *d = opendir(dir);
    int files = 0, n = 0, bad = 0;
    struct dirent *de;

    CHECK(d != NULL);
    if (!d) return;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0) continue;
        char path[4400];
        json_error_t err;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        json_t *v = json_load_file(path, JSON_ALLOW_NUL, &err);
        CHECK(v != NULL);
        if (!v) continue;
        files++;
        check_vector_values(v, &n, &bad);
        json_decref(v);
    }
    closedir(d);
    CHECK(files >= 3);
    CHECK(n > 100);
    CHECK_EQ_INT(bad, 0);
}

/* --- 2. refusals ------------------------------------------------------------ */

static void test_refusals(void)
{
    const char *bad[] = { "\xff", "a\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *a = json_array();
        json_array_append_new(a, json_stringn_nocheck(bad[i], strlen(bad[i])));
        char *j = json_dumps(a, JSON_COMPACT);
        char *o = ch_json_dumps(a, 0, NULL);
        CHECK(j == NULL);
        CHECK(o == NULL);
        free(j);
        free(o);
        json_decref(a);
    }

    /* Nesting: CH_JSON_OUT_MAX_DEPTH levels dump, one more does not. */
    json_t *v = json_array();
    for (int i = 1; i < CH_JSON_OUT_MAX_DEPTH; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, v);
        v = outer;
    }
    char *t = ch_json_dumps(v, 0, NULL);
    CHECK(t != NULL && strlen(t) == 2 * CH_JSON_OUT_MAX_DEPTH);
    free(t);
    json_t *more = json_pack("{s:o}", "k", v);
    t = ch_json_dumps(more, CH_JSON_SORT_KEYS, NULL);
    CHECK(t == NULL);
    free(t);
    json_decref(more);
}

/* --- 3. reals ----------------------------------------------------------------- */

/* The reference: the first of %.15g, %.16g, %.17g (from %.1g for
 * subnormals) that strtod reads back, then jansson's touches. */
static void ref_real(char *out, double d)
{
    int p = d != 0 && fabs(d) < DBL_MIN ? 1 : 15;
    for (; p < 17; p++) {
        snprintf(out, 40, "%.*g", p, d);
        if (strtod(out, NULL) == d) break;
    }
    if (p == 17) snprintf(out, 40, "%.17g", d);
    char *e = strchr(out, 'e');
    if (!e) {
        if (!strchr(out, '.')) strcat(out, ".0");
        return;
    }
    char *s = e + 1;
    char *from = s;
    if (*from == '+') from++;
    else if (*from == '-') s = ++from;
    while (*from == '0' && from[1]) from++;
    memmove(s, from, strlen(from) + 1);
}

/* Fewest significant digits of any "%.Ng" that reads back as d. */
static int min_digits(double d)
{
    char buf[40];
    for (int p = 1; p < 17; p++) {
        snprintf(buf, sizeof(buf), "%.*g", p, d);
        if (strtod(buf, NULL) == d) return p;
    }
    return 17;
}

/* Significant digits in a number's text ("-0.00120e5" -> 2). */
static int sig_digits(const char *s)
{
    char m[40];
    size_t n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') m[n++] = *s;
    m[n] = '\0';
    size_t a = 0, b = n;
    while (a < b && m[a] == '0') a++;
    while (b > a && m[b - 1] == '0') b--;
    return b > a ? (int)(b - a) : 1;
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof(a)) == 0; }

static int check_real(double d, int verbose)
{
    char got[CH_JSON_REAL_MAX], want[48];
    size_t n = ch_json_real(got, d);
    ref_real(want, d);
    int ok = n == strlen(got) && n > 0 && strcmp(got, want) == 0 && same_bits(strtod(got, NULL), d) &&
             sig_digits(got) == min_digits(d);
    if (!ok && verbose)
        fprintf(stderr, "  real %.17g (%a): got \"%s\", want \"%s\", digits %d/%d\n", d, d, got, want,
                sig_digits(got), min_digits(d));
    return ok;
}

static void test_real_examples(void)
{
    static const struct { double d; const char *text; } ex[] = {
        { 0.1, "0.1" },
        { 612.9, "612.9" },
        { 612.25, "612.25" },
        { -612.9, "-612.9" },
        { 0.3, "0.3" },
        { 0.1 + 0.2, "0.30000000000000004" },
        { 1e21, "1e21" },
        { 1e15, "1e15" },
        { 1e-7, "1e-7" },
        { 0.0001, "0.0001" },
        { 0.00001234, "1.234e-5" },
        { 3.0, "3.0" },
        { -0.0, "-0.0" },
        { 0.0, "0.0" },
        { 5e-324, "5e-324" },
        { -5e-324, "-5e-324" },
        { 2.2250738585072014e-308, "2.2250738585072014e-308" },
        { 1.7976931348623157e308, "1.7976931348623157e308" },
        { 9007199254740992.0, "9007199254740992.0" },
        { 123456789012345.6, "123456789012345.6" },
        { 1234567.0001, "1234567.0001" },
        { 2.5e-5, "2.5e-5" },
        { 1.5e300, "1.5e300" },
        { 1.0 / 3.0, "0.3333333333333333" },
        { 2.0 / 3.0, "0.6666666666666666" },
        { 100.0, "100.0" },
        { 999999999999999.9, "999999999999999.9" },
        { 612.3000000000001, "612.3000000000001" },
        { 0.30000000000000004 * 3, "0.9000000000000001" },
        { 1234567890.00390625, "1234567890.0039062" },    /* a tie at the 17th digit: to even */
        { 1234567890.01171875, "1234567890.0117188" },
        { 123456789012345.25, "123456789012345.25" },
        { 0.1 * 3, "0.30000000000000004" },
        { (double)(float)612.3, "612.2999877929688" },
    };
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        char got[CH_JSON_REAL_MAX];
        ch_json_real(got, ex[i].d);
        CHECK_EQ_STR(got, ex[i].text);
        CHECK(check_real(ex[i].d, 1));
    }
    char buf[CH_JSON_REAL_MAX];
    CHECK_EQ_INT(ch_json_real(buf, INFINITY), 0);
    CHECK_EQ_INT(ch_json_real(buf, -INFINITY), 0);
    CHECK_EQ_INT(ch_json_real(buf, NAN), 0);

    /* In a document: 612.9 instead of jansson's 612.89999999999998. */
    json_t *v = json_pack("{s:[[f,f]], s:f, s:i}", "points", 612.9, 0.25, "size", 0.1, "n", 3);
    char *t = ch_json_dumps(v, CH_JSON_SORT_KEYS, NULL);
    CHECK_EQ_STR(t, "{\"n\":3,\"points\":[[612.9,0.25]],\"size\":0.1}");
    free(t);
    json_decref(v);
}

static void test_real_random(void)
{
    int bad = 0, total = 0;
    for (int i = 0; i < 60000; i++) {         /* any finite double */
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (!isfinite(d)) continue;
        total++;
        if (!check_real(d, bad < 5)) bad++;
    }
    for (int i = 0; i < 60000; i++) {         /* short decimals, as people type them */
        double m = (double)(rnd() % 10000000000ull) * (rndn(2) ? 1 : -1);
        double d = m / pow(10, rndn(12)) * pow(10, (int)rndn(9) - 4);
        total++;
        if (!check_real(d, bad < 5)) bad++;
    }
    for (int i = 0; i < 60000; i++) {         /* binary fractions (quarter units and finer) */
        double d = ldexp((double)(int64_t)(rnd() % 100000000ull) - 50000000, -(int)rndn(12));
        total++;
        if (!check_real(d, bad < 5)) bad++;
    }
    static const double edges[] = { 1e-4, 1e15, 1e-5, 1e14, 1e16, 1e21, 1e22, 1e23, DBL_MIN, 1.0, 0.5 };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {   /* around the fast path's bounds */
        double d = edges[i];
        for (int k = 0; k < 50; k++) {
            total += 2;
            if (!check_real(d, bad < 5)) bad++;
            if (!check_real(-d, bad < 5)) bad++;
            d = nextafter(d, k < 25 ? INFINITY : 0);
            if (k == 24) d = nextafter(edges[i], 0);
        }
    }
    for (int i = 0; i < 60000; i++) {         /* any double of the fixed-notation range */
        double d = ldexp(1.0 + (double)(rnd() >> 11) / 9007199254740992.0, (int)rndn(64) - 14);
        if (!(d >= 1e-4 && d < 1e15)) continue;
        total++;
        if (!check_real(d, bad < 5)) bad++;
    }
    for (int i = 0; i < 30000; i++) {         /* arithmetic leftovers: 0.1 steps, float32 inputs */
        double k = (double)(int)rndn(20000000) - 10000000;
        double d = i % 3 == 0 ? k * 0.1 : i % 3 == 1 ? (k / 7) * 0.3 : (double)(float)(k / 3.7);
        total++;
        if (!check_real(d, bad < 5)) bad++;
    }
    for (int i = 0; i < 30000; i++) {         /* exact halves at the 16th and 17th digit */
        int di = 1 + (int)rndn(15), j = 1 + (int)rndn(30);
        double ip = floor(pow(10, di - 1) + (double)(rnd() % 1000000000000000ull) / 1e15 * 9 * pow(10, di - 1));
        double d = ip + ldexp((double)(rnd() % (1ull << (j < 20 ? j : 20)) | 1), -j);
        if (d - ip <= 0 || d - ip >= 1) continue;
        total++;
        if (!check_real(d, bad < 5)) bad++;
    }
    for (int e = 1; e <= 1074; e += 7) {      /* subnormals and the smallest normals */
        double d = ldexp(1.0 + (double)rndn(1000) / 1000, -e - 1022 + 50);
        total++;
        if (!check_real(d, bad < 5)) bad++;
    }
    CHECK(total > 280000);
    CHECK_EQ_INT(bad, 0);
}

/* --- 4. documents with reals --------------------------------------------------- */

static void test_reals_in_documents(void)
{
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        json_t *v = random_value(0, 1);
        char *t = ch_json_dumps(v, CH_JSON_SORT_KEYS, NULL);
        json_t *back = t ? json_loads(t, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
        if (!back || !json_equal(back, v)) {
            if (bad++ < 3) fprintf(stderr, "  round trip failed: %.300s\n", t ? t : "(null)");
        }
        json_decref(back);
        free(t);
        json_decref(v);
    }
    CHECK_EQ_INT(bad, 0);
}

/* Appending to a buffer that already holds text; stats. */
static void test_append_and_stats(void)
{
    ch_buf b;
    ch_json_stats st;
    json_t *v = json_pack("{s:[i,f,s], s:{s:n}}", "a", 1, 2.5, "xy", "bb", "c");

    ch_buf_init(&b);
    ch_buf_puts(&b, "{\"state\":");
    CHECK_EQ_INT(ch_json_dump(&b, v, CH_JSON_SORT_KEYS, &st), 0);
    ch_buf_puts(&b, "}");
    CHECK_EQ_STR(b.data, "{\"state\":{\"a\":[1,2.5,\"xy\"],\"bb\":{\"c\":null}}}");
    CHECK_EQ_INT(st.values, 7);
    CHECK(st.heap > 0);
    ch_buf_free(&b);
    json_decref(v);
}

/* stats.heap against glibc's own count for parsed documents (skipped when
 * a sanitizer's allocator stands in for glibc's: mallinfo2 sees nothing). */
static void test_heap_estimate(void)
{
    for (int round = 0; round < 3; round++) {
        json_t *doc = json_object();
        for (int i = 0; i < 300 * (round + 1); i++) {
            json_t *o = random_value(1, 1);
            char key[32];
            snprintf(key, sizeof(key), "k%d", i);
            json_object_set_new(doc, key, round == 2 ? json_pack("[[f,f],[f,f],[i,i]]", 1.25, 2.5, 3.75, 4.0, 5, 6) : o);
            if (round == 2) json_decref(o);
        }
        char *t = ch_json_dumps(doc, 0, NULL);
        json_decref(doc);
        struct mallinfo2 m0 = mallinfo2();
        json_t *v = json_loads(t, JSON_ALLOW_NUL, NULL);
        struct mallinfo2 m1 = mallinfo2();
        size_t used = m1.uordblks - m0.uordblks;
        ch_buf b;
        ch_json_stats st;
        ch_buf_init(&b);
        CHECK_EQ_INT(ch_json_dump(&b, v, 0, &st), 0);
        if (used > 0) {
            double ratio = (double)st.heap / (double)used;
            if (!(ratio > 0.85 && ratio < 1.15))
                fprintf(stderr, "  heap estimate %zu for %zu bytes used\n", st.heap, used);
            CHECK(ratio > 0.85 && ratio < 1.15);
        }
        ch_buf_free(&b);
        json_decref(v);
        free(t);
    }
}

int main(void)
{
    test_fixed_documents();
    test_random_documents();
    test_vectors();
    test_refusals();
    test_real_examples();
    test_real_random();
    test_reals_in_documents();
    test_append_and_stats();
    test_heap_estimate();
    TEST_MAIN_END();
}
