/*
 * test_utf8.c — the streaming UTF-8 validator against fixed vectors, against
 * an independent rule-based reference over every string of up to three bytes
 * and a pseudo-random sample of longer ones, and across every split point.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "utf8.h"

/* Reference: index of the first byte at which s stops being a prefix of
 * valid UTF-8, or n if every byte is acceptable so far. *complete is set when
 * s ends on a character boundary. Written from the RFC 3629 table rather than
 * as a DFA, so it checks the DFA independently. */
static size_t ref_first_bad(const uint8_t *s, size_t n, int *complete)
{
    size_t i = 0;

    *complete = 1;
    while (i < n) {
        uint8_t b = s[i];
        unsigned need, j;
        uint8_t lo = 0x80, hi = 0xBF;

        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b == 0xE0) {
            need = 2;
            lo = 0xA0;
        } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
            need = 2;
        } else if (b == 0xED) {
            need = 2;
            hi = 0x9F;
        } else if (b == 0xF0) {
            need = 3;
            lo = 0x90;
        } else if (b >= 0xF1 && b <= 0xF3) {
            need = 3;
        } else if (b == 0xF4) {
            need = 3;
            hi = 0x8F;
        } else {
            *complete = 0;
            return i;
        }
        for (j = 1; j <= need; j++) {
            uint8_t c;

            if (i + j >= n) {
                *complete = 0;
                return n;
            }
            c = s[i + j];
            if (j > 1) {
                lo = 0x80;
                hi = 0xBF;
            }
            if (c < lo || c > hi) {
                *complete = 0;
                return i + j;
            }
        }
        i += need + 1;
    }
    return n;
}

/* Compares the DFA, byte by byte, with the reference; 1 if they agree. */
static int agrees_with_ref(const uint8_t *s, size_t n)
{
    int complete;
    size_t bad = ref_first_bad(s, n, &complete);
    uint32_t st = CH_UTF8_ACCEPT;
    size_t i;

    for (i = 0; i < n; i++) {
        st = ch_utf8_feed(st, s + i, 1);
        if ((st == CH_UTF8_REJECT) != (i >= bad))
            return 0;
    }
    if (bad == n && complete != (st == CH_UTF8_ACCEPT))
        return 0;
    if (ch_utf8_valid(s, n) != (bad == n && complete))
        return 0;
    return 1;
}

static int valid_str(const char *s)
{
    return ch_utf8_valid((const uint8_t *)s, strlen(s));
}

/* Encodes code point cp (any value <= 0x10FFFF, surrogates included). */
static size_t encode_cp(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static void test_vectors(void)
{
    static const uint8_t overlong_c0[] = {0xC0, 0x80};
    static const uint8_t overlong_c1[] = {0xC1, 0xBF};
    static const uint8_t overlong_e0[] = {0xE0, 0x80, 0x80};
    static const uint8_t overlong_e0_9f[] = {0xE0, 0x9F, 0xBF};
    static const uint8_t overlong_f0[] = {0xF0, 0x8F, 0xBF, 0xBF};
    static const uint8_t surrogate_lo[] = {0xED, 0xA0, 0x80};
    static const uint8_t surrogate_hi[] = {0xED, 0xBF, 0xBF};
    static const uint8_t too_big[] = {0xF4, 0x90, 0x80, 0x80};
    static const uint8_t f5[] = {0xF5, 0x80, 0x80, 0x80};
    static const uint8_t ff[] = {0xFF};
    static const uint8_t lone_cont[] = {0x80};
    static const uint8_t max_cp[] = {0xF4, 0x8F, 0xBF, 0xBF};
    static const uint8_t last_before_surr[] = {0xED, 0x9F, 0xBF};
    static const uint8_t first_after_surr[] = {0xEE, 0x80, 0x80};
    static const uint8_t nul[] = {0x00};
    static const uint8_t truncated[] = {0xE2, 0x82};
    static const uint8_t cut_by_ascii[] = {0xE2, 0x41, 0xAC};
    static const uint8_t hello_kosme[] = {0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF,
                                          0x83, 0xCE, 0xBC, 0xCE, 0xB5};

    CHECK(ch_utf8_valid((const uint8_t *)"", 0));
    CHECK(ch_utf8_valid(NULL, 0));
    CHECK(valid_str("Hello, world"));
    CHECK(valid_str("caf\xC3\xA9"));                 /* é, 2 bytes */
    CHECK(valid_str("\xE2\x82\xAC 5"));              /* €, 3 bytes */
    CHECK(valid_str("\xF0\x9F\x98\x80"));            /* U+1F600, 4 bytes */
    CHECK(valid_str("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80"));
    CHECK(ch_utf8_valid(hello_kosme, sizeof hello_kosme));
    CHECK(ch_utf8_valid(max_cp, sizeof max_cp));
    CHECK(ch_utf8_valid(last_before_surr, sizeof last_before_surr));
    CHECK(ch_utf8_valid(first_after_surr, sizeof first_after_surr));
    CHECK(ch_utf8_valid(nul, sizeof nul));

    CHECK(!ch_utf8_valid(overlong_c0, sizeof overlong_c0));
    CHECK(!ch_utf8_valid(overlong_c1, sizeof overlong_c1));
    CHECK(!ch_utf8_valid(overlong_e0, sizeof overlong_e0));
    CHECK(!ch_utf8_valid(overlong_e0_9f, sizeof overlong_e0_9f));
    CHECK(!ch_utf8_valid(overlong_f0, sizeof overlong_f0));
    CHECK(!ch_utf8_valid(surrogate_lo, sizeof surrogate_lo));
    CHECK(!ch_utf8_valid(surrogate_hi, sizeof surrogate_hi));
    CHECK(!ch_utf8_valid(too_big, sizeof too_big));
    CHECK(!ch_utf8_valid(f5, sizeof f5));
    CHECK(!ch_utf8_valid(ff, sizeof ff));
    CHECK(!ch_utf8_valid(lone_cont, sizeof lone_cont));
    CHECK(!ch_utf8_valid(truncated, sizeof truncated));
    CHECK(!ch_utf8_valid(cut_by_ascii, sizeof cut_by_ascii));
}

/* Rejection happens at the first byte that makes the input impossible. */
static void test_fail_fast(void)
{
    static const uint8_t e0_80[] = {0xE0, 0x80};
    static const uint8_t ed_a0[] = {0xED, 0xA0};
    static const uint8_t f4_90[] = {0xF4, 0x90};
    static const uint8_t f0_80[] = {0xF0, 0x80};
    static const uint8_t c0[] = {0xC0};
    static const uint8_t f5[] = {0xF5};
    uint32_t st;

    CHECK_EQ_INT(ch_utf8_feed(CH_UTF8_ACCEPT, c0, 1), CH_UTF8_REJECT);
    CHECK_EQ_INT(ch_utf8_feed(CH_UTF8_ACCEPT, f5, 1), CH_UTF8_REJECT);
    CHECK_EQ_INT(ch_utf8_feed(CH_UTF8_ACCEPT, e0_80, 2), CH_UTF8_REJECT);
    CHECK_EQ_INT(ch_utf8_feed(CH_UTF8_ACCEPT, ed_a0, 2), CH_UTF8_REJECT);
    CHECK_EQ_INT(ch_utf8_feed(CH_UTF8_ACCEPT, f4_90, 2), CH_UTF8_REJECT);
    CHECK_EQ_INT(ch_utf8_feed(CH_UTF8_ACCEPT, f0_80, 2), CH_UTF8_REJECT);

    /* Leads alone are incomplete, neither accepted nor rejected. */
    st = ch_utf8_feed(CH_UTF8_ACCEPT, e0_80, 1);
    CHECK(st != CH_UTF8_ACCEPT && st != CH_UTF8_REJECT);
    st = ch_utf8_feed(CH_UTF8_ACCEPT, ed_a0, 1);
    CHECK(st != CH_UTF8_ACCEPT && st != CH_UTF8_REJECT);
    st = ch_utf8_feed(CH_UTF8_ACCEPT, f4_90, 1);
    CHECK(st != CH_UTF8_ACCEPT && st != CH_UTF8_REJECT);

    /* REJECT is sticky, whatever follows. */
    st = ch_utf8_feed(CH_UTF8_ACCEPT, c0, 1);
    st = ch_utf8_feed(st, (const uint8_t *)"abc", 3);
    CHECK_EQ_INT(st, CH_UTF8_REJECT);
    CHECK_EQ_INT(ch_utf8_feed(CH_UTF8_REJECT, NULL, 0), CH_UTF8_REJECT);
    CHECK_EQ_INT(ch_utf8_feed(CH_UTF8_ACCEPT, NULL, 0), CH_UTF8_ACCEPT);
}

/* Every code point: valid unless it is a surrogate. */
static void test_all_code_points(void)
{
    uint32_t cp;
    long bad = 0;

    for (cp = 0; cp <= 0x10FFFF; cp++) {
        uint8_t b[4];
        size_t n = encode_cp(cp, b);
        int want = !(cp >= 0xD800 && cp <= 0xDFFF);

        if (ch_utf8_valid(b, n) != want)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

/* Every string of one, two and three bytes agrees with the reference. */
static void test_exhaustive_short(void)
{
    uint8_t s[3];
    long bad = 0;
    unsigned a, b, c;

    for (a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        bad += !agrees_with_ref(s, 1);
        for (b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            bad += !agrees_with_ref(s, 2);
            for (c = 0; c < 256; c++) {
                s[2] = (uint8_t)c;
                bad += !agrees_with_ref(s, 3);
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static uint32_t rng_state = 12345u;

static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* Bytes biased toward the interesting boundaries of the encoding. */
static uint8_t interesting_byte(void)
{
    static const uint8_t picks[] = {
        0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
        0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5,
        0xFF};
    uint32_t r = rng();

    if (r & 1)
        return picks[(r >> 1) % sizeof picks];
    return (uint8_t)(r >> 3);
}

/* Random longer strings agree with the reference, and every split gives the
 * same state as a single feed. */
static void test_random_and_splits(void)
{
    long bad = 0, split_bad = 0;
    int iter;

    for (iter = 0; iter < 200000; iter++) {
        uint8_t s[12];
        size_t n = 4 + rng() % 9, i, k;
        uint32_t whole;

        for (i = 0; i < n; i++)
            s[i] = interesting_byte();
        /* Half of them start from a valid multi-byte character. */
        if (iter & 1) {
            uint32_t cp = rng() % 0x110000;
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0x20AC;
            encode_cp(cp, s);
        }
        bad += !agrees_with_ref(s, n);
        whole = ch_utf8_feed(CH_UTF8_ACCEPT, s, n);
        for (k = 0; k <= n; k++) {
            uint32_t st = ch_utf8_feed(CH_UTF8_ACCEPT, s, k);
            st = ch_utf8_feed(st, s + k, n - k);
            split_bad += st != whole;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(split_bad, 0);
}

/* Fixed texts, split at every pair of points, including ASCII runs long
 * enough to take the word-at-a-time path. */
static void test_streaming_splits(void)
{
    static const char *texts[] = {
        "plain ascii text that is longer than sixteen bytes",
        "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5 and \xF0\x9F\x98\x80 and \xE2\x82\xAC",
        "abcdefghijklmnop\xF4\x8F\xBF\xBFqrstuvwxyz0123456789\xC3\xA9",
        "abcdefghijklmnop\xED\xA0\x80qrstuvwxyz",     /* surrogate mid-text */
        "abcdefghijklmnopqrstuvwx\xE2\x82",          /* truncated at end */
        "0123456789abcdef\xC0\x80",                  /* overlong after a run */
    };
    static const uint32_t expect[] = {CH_UTF8_ACCEPT, CH_UTF8_ACCEPT, CH_UTF8_ACCEPT,
                                      CH_UTF8_REJECT, 0xFFFFFFFFu, CH_UTF8_REJECT};
    size_t t;

    for (t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        const uint8_t *s = (const uint8_t *)texts[t];
        size_t n = strlen(texts[t]), a, b;
        uint32_t whole = ch_utf8_feed(CH_UTF8_ACCEPT, s, n);
        long bad = 0;

        if (expect[t] == 0xFFFFFFFFu)
            CHECK(whole != CH_UTF8_ACCEPT && whole != CH_UTF8_REJECT);
        else
            CHECK_EQ_INT(whole, expect[t]);
        for (a = 0; a <= n; a++) {
            for (b = a; b <= n; b++) {
                uint32_t st = ch_utf8_feed(CH_UTF8_ACCEPT, s, a);
                st = ch_utf8_feed(st, s + a, b - a);
                st = ch_utf8_feed(st, s + b, n - b);
                bad += st != whole;
            }
        }
        CHECK_EQ_INT(bad, 0);
    }
}

int main(void)
{
    test_vectors();
    test_fail_fast();
    test_all_code_points();
    test_exhaustive_short();
    test_random_and_splits();
    test_streaming_splits();
    TEST_MAIN_END();
}
