/*
 * test_loadtest_seqset.c — the set of acked seqs per room: adding (new,
 * repeated, out of order, growing both ways), runs of consecutive seqs,
 * merging the sets of several workers (union, overlaps counted as
 * conflicts), the pipe encoding (round trip, truncation, counts only) and
 * the span limit.
 */
#include "lt_seqset.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
test_add_and_ranges(void)
{
    lt_seqset s;
    int64_t r[8][2];
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(lt_seqset_ranges(&s, r, 8), 0);
    CHECK_EQ_INT(lt_seqset_add(&s, 5), 1);
    CHECK_EQ_INT(lt_seqset_add(&s, 5), 0);
    CHECK_EQ_INT(s.conflicts, 1);
    CHECK_EQ_INT(s.count, 1);
    /* Out of order, across words, growing down and up. */
    for (int64_t q = 300; q >= 1; q--)
        if (q != 5 && q != 100 && q != 101) CHECK_EQ_INT(lt_seqset_add(&s, q), 1);
    CHECK_EQ_INT(s.count, 298);
    CHECK_EQ_INT(s.min, 1);
    CHECK_EQ_INT(s.max, 300);
    CHECK(lt_seqset_has(&s, 1) && lt_seqset_has(&s, 300) && !lt_seqset_has(&s, 100) && !lt_seqset_has(&s, 0));
    CHECK(!lt_seqset_has(&s, 301) && !lt_seqset_has(&s, -64) && !lt_seqset_has(&s, 100000));
    CHECK_EQ_INT(lt_seqset_ranges(&s, r, 8), 2);
    CHECK_EQ_INT(r[0][0], 1);
    CHECK_EQ_INT(r[0][1], 99);
    CHECK_EQ_INT(r[1][0], 102);
    CHECK_EQ_INT(r[1][1], 300);
    /* Filling the hole joins the runs. */
    lt_seqset_add(&s, 100);
    lt_seqset_add(&s, 101);
    CHECK_EQ_INT(lt_seqset_ranges(&s, r, 8), 1);
    CHECK_EQ_INT(r[0][1], 300);
    /* More runs than room in out: all counted, the first ones written. */
    for (int64_t q = 1000; q < 1100; q += 2) lt_seqset_add(&s, q);
    CHECK_EQ_INT(lt_seqset_ranges(&s, r, 8), 51);
    CHECK_EQ_INT(r[1][0], 1000);
    CHECK_EQ_INT(r[7][0], 1012);
    /* A run ending exactly at the end of the bitmap. */
    lt_seqset t;
    memset(&t, 0, sizeof(t));
    for (int64_t q = 64; q < 128; q++) lt_seqset_add(&t, q);
    CHECK_EQ_INT(lt_seqset_ranges(&t, r, 8), 1);
    CHECK_EQ_INT(r[0][0], 64);
    CHECK_EQ_INT(r[0][1], 127);
    lt_seqset_free(&t);
    lt_seqset_free(&s);
    CHECK(s.w == NULL && s.count == 0);

    /* Long runs grow geometrically: one seq at a time up to a million. */
    for (int64_t q = 1; q <= 1000000; q++) lt_seqset_add(&s, q);
    CHECK_EQ_INT(s.count, 1000000);
    CHECK_EQ_INT(lt_seqset_ranges(&s, r, 8), 1);
    CHECK_EQ_INT(r[0][1], 1000000);
    CHECK(s.nwords < 2 * (1000000 / 64 + 1) + 2);
    lt_seqset_free(&s);
}

/* Two workers' acks in one room: interleaved seqs, together 1..n. */
static void
test_merge(void)
{
    lt_seqset a, b, m;
    int64_t r[4][2];
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&m, 0, sizeof(m));
    for (int64_t q = 1; q <= 1000; q++) lt_seqset_add(q % 3 ? &a : &b, q);
    CHECK(lt_seqset_ranges(&a, r, 4) > 1);
    CHECK_EQ_INT(lt_seqset_merge(&m, &a), 0);
    CHECK_EQ_INT(lt_seqset_merge(&m, &b), 0);
    CHECK_EQ_INT(m.count, 1000);
    CHECK_EQ_INT(m.conflicts, 0);
    CHECK_EQ_INT(m.min, 1);
    CHECK_EQ_INT(m.max, 1000);
    CHECK_EQ_INT(lt_seqset_ranges(&m, r, 4), 1);
    CHECK_EQ_INT(r[0][0], 1);
    CHECK_EQ_INT(r[0][1], 1000);
    /* The same seq acked in two workers: a conflict, counted once. */
    lt_seqset c;
    memset(&c, 0, sizeof(c));
    lt_seqset_add(&c, 500);
    lt_seqset_add(&c, 2000);
    lt_seqset_add(&c, 2000);
    CHECK_EQ_INT(lt_seqset_merge(&m, &c), 0);
    CHECK_EQ_INT(m.conflicts, 2); /* 500 across sets, 2000 inside c */
    CHECK_EQ_INT(m.count, 1001);
    CHECK_EQ_INT(m.max, 2000);
    /* Merging an empty set, and into an empty set from a far-off base. */
    lt_seqset e;
    memset(&e, 0, sizeof(e));
    CHECK_EQ_INT(lt_seqset_merge(&m, &e), 0);
    CHECK_EQ_INT(m.count, 1001);
    lt_seqset far;
    memset(&far, 0, sizeof(far));
    lt_seqset_add(&far, -70);
    CHECK_EQ_INT(lt_seqset_merge(&m, &far), 0);
    CHECK_EQ_INT(m.min, -70);
    CHECK(lt_seqset_has(&m, -70) && lt_seqset_has(&m, 1000));
    lt_seqset_free(&far);
    lt_seqset_free(&a);
    lt_seqset_free(&b);
    lt_seqset_free(&c);
    lt_seqset_free(&m);
}

static void
test_encode(void)
{
    lt_seqset s, d;
    ch_buf b;
    memset(&s, 0, sizeof(s));
    for (int64_t q = 200; q <= 900; q += 1 + (q % 7 == 0)) lt_seqset_add(&s, q);
    lt_seqset_add(&s, 300);
    ch_buf_init(&b);
    lt_seqset_encode(&b, &s, 1);
    CHECK(!b.oom);
    const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
    CHECK_EQ_INT(lt_seqset_decode(&p, end, &d), 0);
    CHECK(p == end);
    CHECK_EQ_INT(d.count, s.count);
    CHECK_EQ_INT(d.conflicts, 1);
    CHECK_EQ_INT(d.min, 200);
    CHECK_EQ_INT(d.max, s.max);
    CHECK_EQ_INT(d.overflow, 0);
    int same = 1;
    for (int64_t q = 150; q <= 950; q++)
        if (lt_seqset_has(&s, q) != lt_seqset_has(&d, q)) same = 0;
    CHECK(same);
    lt_seqset_free(&d);
    /* Every truncation is refused. */
    int refused = 0;
    for (size_t cut = 0; cut < b.len; cut++) {
        p = (const uint8_t *)b.data;
        refused += lt_seqset_decode(&p, p + cut, &d) < 0;
    }
    CHECK_EQ_INT(refused, (long long)b.len);
    /* A count that does not match the bits (without overflow) is refused. */
    ch_buf_reset(&b);
    lt_seqset_encode(&b, &s, 1);
    uint64_t bogus = s.count + 1;
    memcpy(b.data + 1, &bogus, 8);
    p = (const uint8_t *)b.data;
    CHECK_EQ_INT(lt_seqset_decode(&p, p + b.len, &d), -1);
    /* Counts only: the receiver knows how many, not which. */
    ch_buf_reset(&b);
    lt_seqset_encode(&b, &s, 0);
    p = (const uint8_t *)b.data;
    CHECK_EQ_INT(lt_seqset_decode(&p, p + b.len, &d), 0);
    CHECK_EQ_INT(d.count, s.count);
    CHECK_EQ_INT(d.overflow, 1);
    CHECK_EQ_INT(d.nwords, 0);
    lt_seqset m;
    memset(&m, 0, sizeof(m));
    lt_seqset_merge(&m, &d);
    CHECK_EQ_INT(m.count, s.count);
    CHECK_EQ_INT(m.overflow, 1);
    CHECK_EQ_INT(m.min, 200);
    lt_seqset_free(&m);
    lt_seqset_free(&d);
    /* An empty set round-trips. */
    lt_seqset e;
    memset(&e, 0, sizeof(e));
    ch_buf_reset(&b);
    lt_seqset_encode(&b, &e, 1);
    p = (const uint8_t *)b.data;
    CHECK_EQ_INT(lt_seqset_decode(&p, p + b.len, &d), 0);
    CHECK_EQ_INT(d.count, 0);
    CHECK_EQ_INT(d.overflow, 0);
    lt_seqset_free(&d);
    ch_buf_free(&b);
    lt_seqset_free(&s);
}

static void
test_span_limit(void)
{
    lt_seqset s;
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(lt_seqset_add(&s, 1), 1);
    /* Beyond the span that can be tracked: counted, not stored. */
    int64_t far = 1 + 64 * (int64_t)LT_SEQSET_MAX_WORDS;
    CHECK_EQ_INT(lt_seqset_add(&s, far), -1);
    CHECK_EQ_INT(s.overflow, 1);
    CHECK_EQ_INT(s.count, 2);
    CHECK_EQ_INT(s.max, far);
    CHECK(!lt_seqset_has(&s, far));
    CHECK_EQ_INT(lt_seqset_add(&s, 2), 1);
    lt_seqset_free(&s);
}

int
main(void)
{
    test_add_and_ranges();
    test_merge();
    test_encode();
    test_span_limit();
    TEST_MAIN_END();
}
