/*
 * test_loadtest_hist.c — the load tester's latency histogram: bucket
 * geometry, percentiles within the 1% error bound on known distributions,
 * merging (equal to recording everything in one), and the pipe encoding.
 */
#include "lt_hist.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t
rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 2685821657736338717ULL;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The exact q-quantile of sorted values as the histogram defines it:
 * the value of rank ceil(q * n). */
static uint64_t
exact_quantile(const uint64_t *sorted, size_t n, double q)
{
    double r = q * (double)n;
    size_t rank = (size_t)r;
    if ((double)rank < r) rank++;
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

static int
within(uint64_t got, uint64_t want, double rel)
{
    double d = (double)got - (double)want;
    if (d < 0) d = -d;
    return d <= rel * (double)want + 0.5;
}

static void
test_geometry(void)
{
    int ok_cover = 1, ok_width = 1, ok_mono = 1;
    uint32_t prev = 0;
    for (uint64_t v = 0; v < 200000; v++) {
        uint32_t i = lt_hist_index(v);
        if (lt_hist_bucket_low(i) > v || lt_hist_bucket_high(i) < v) ok_cover = 0;
        if (i < prev) ok_mono = 0;
        prev = i;
    }
    for (uint32_t i = 0; i < LT_HIST_BUCKETS; i++) {
        uint64_t lo = lt_hist_bucket_low(i), hi = lt_hist_bucket_high(i);
        if (lt_hist_index(lo) != i || lt_hist_index(hi) != i) ok_cover = 0;
        if (i >= LT_HIST_LINEAR && (double)(hi - lo + 1) > (double)lo / 64.0) ok_width = 0;
        if (i + 1 < LT_HIST_BUCKETS && lt_hist_bucket_low(i + 1) != hi + 1) ok_cover = 0;
    }
    CHECK(ok_cover);
    CHECK(ok_width);
    CHECK(ok_mono);
    for (int b = 7; b < (int)LT_HIST_TOP_BIT; b++) {
        uint64_t v = 1ULL << b;
        CHECK(lt_hist_bucket_low(lt_hist_index(v)) == v);
    }
    CHECK_EQ_INT(lt_hist_index(LT_HIST_MAX), LT_HIST_BUCKETS - 1);
    CHECK_EQ_INT(lt_hist_index(UINT64_MAX), LT_HIST_BUCKETS - 1);
    CHECK_EQ_INT(lt_hist_index(0), 0);
    CHECK_EQ_INT(lt_hist_index(127), 127);
    CHECK_EQ_INT(lt_hist_index(128), 128);
}

static void
test_empty_and_small(void)
{
    lt_hist h;
    lt_hist_reset(&h);
    CHECK_EQ_INT(h.count, 0);
    CHECK_EQ_INT(lt_hist_quantile(&h, 0.5), 0);
    CHECK_EQ_INT(lt_hist_quantile(&h, 1.0), 0);
    CHECK(lt_hist_mean(&h) == 0.0);
    /* Values below 128 are exact. */
    for (uint64_t v = 1; v <= 100; v++) lt_hist_record(&h, v);
    CHECK_EQ_INT(lt_hist_quantile(&h, 0.5), 50);
    CHECK_EQ_INT(lt_hist_quantile(&h, 0.99), 99);
    CHECK_EQ_INT(lt_hist_quantile(&h, 0.0), 1);
    CHECK_EQ_INT(lt_hist_quantile(&h, 1.0), 100);
    CHECK_EQ_INT(h.min, 1);
    CHECK_EQ_INT(h.max, 100);
    CHECK(lt_hist_mean(&h) == 50.5);
    /* A single repeated value is reported exactly (clamped to min/max). */
    lt_hist_reset(&h);
    for (int i = 0; i < 1000; i++) lt_hist_record(&h, 12345);
    CHECK_EQ_INT(lt_hist_quantile(&h, 0.5), 12345);
    CHECK_EQ_INT(lt_hist_quantile(&h, 0.999), 12345);
    /* Negative (clock skew) counts as 0; huge values are clamped. */
    lt_hist_reset(&h);
    lt_hist_record_signed(&h, -5);
    lt_hist_record(&h, UINT64_MAX);
    CHECK_EQ_INT(h.min, 0);
    CHECK_EQ_INT(h.max, LT_HIST_MAX);
    CHECK_EQ_INT(h.count, 2);
}

static void
check_distribution(const char *name, uint64_t *vals, size_t n)
{
    lt_hist *h = malloc(sizeof(*h));
    static const double qs[] = { 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999 };
    int bad = 0;
    lt_hist_reset(h);
    for (size_t i = 0; i < n; i++) lt_hist_record(h, vals[i]);
    qsort(vals, n, sizeof(*vals), cmp_u64);
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        uint64_t got = lt_hist_quantile(h, qs[k]), want = exact_quantile(vals, n, qs[k]);
        if (!within(got, want, 0.01)) {
            fprintf(stderr, "%s: q=%g got %llu want %llu\n", name, qs[k], (unsigned long long)got,
                    (unsigned long long)want);
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(lt_hist_quantile(h, 1.0), vals[n - 1]);
    CHECK_EQ_INT(lt_hist_quantile(h, 0.0), vals[0]);
    CHECK_EQ_INT(h->count, n);
    free(h);
}

static void
test_distributions(void)
{
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof(*v));
    /* Uniform 1..1,000,000 (every value once, shuffled order irrelevant). */
    size_t m = 1000000;
    uint64_t *u = malloc(m * sizeof(*u));
    for (size_t i = 0; i < m; i++) u[i] = i + 1;
    check_distribution("uniform", u, m);
    free(u);
    /* Log-uniform over 1 µs .. 60 s. */
    for (size_t i = 0; i < n; i++) {
        double e = (double)(rnd() % 1000000) / 1000000.0 * 17.9;
        uint64_t x = 1;
        for (int k = 0; k < (int)e; k++) x *= 2;
        x += (uint64_t)((double)x * (e - (int)e));
        v[i] = x;
    }
    check_distribution("log-uniform", v, n);
    /* Bimodal: 99% near 1 ms, 1% near 250 ms (a tail). */
    for (size_t i = 0; i < n; i++) v[i] = (rnd() % 100 == 0) ? 250000 + rnd() % 50000 : 900 + rnd() % 200;
    check_distribution("bimodal", v, n);
    /* Exponential-like with mean ~2 ms. */
    for (size_t i = 0; i < n; i++) {
        uint64_t x = 0;
        while (rnd() % 8 != 0) x += 250;
        v[i] = x + rnd() % 250;
    }
    check_distribution("geometric", v, n);
    free(v);
}

static void
test_merge(void)
{
    lt_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *all = malloc(sizeof(*all));
    lt_hist_reset(a);
    lt_hist_reset(b);
    lt_hist_reset(all);
    for (int i = 0; i < 100000; i++) {
        uint64_t x = rnd() % 5000000;
        lt_hist_record(all, x);
        lt_hist_record(rnd() & 1 ? a : b, x);
    }
    lt_hist_merge(a, b);
    CHECK(memcmp(a, all, sizeof(*a)) == 0);
    CHECK_EQ_INT(lt_hist_quantile(a, 0.99), lt_hist_quantile(all, 0.99));
    /* Merging an empty histogram changes nothing, also into an empty one. */
    lt_hist_reset(b);
    lt_hist_merge(a, b);
    CHECK(memcmp(a, all, sizeof(*a)) == 0);
    lt_hist_merge(b, all);
    CHECK(memcmp(b, all, sizeof(*b)) == 0);
    free(a);
    free(b);
    free(all);
}

static void
test_encode(void)
{
    lt_hist *h = malloc(sizeof(*h)), *d = malloc(sizeof(*d));
    ch_buf buf;
    lt_hist_reset(h);
    for (int i = 0; i < 5000; i++) lt_hist_record(h, rnd() % 100000000);
    ch_buf_init(&buf);
    lt_hist_encode(&buf, h);
    CHECK(!buf.oom);
    const uint8_t *p = (const uint8_t *)buf.data;
    CHECK_EQ_INT(lt_hist_decode(&p, p + buf.len, d), 0);
    CHECK(p == (const uint8_t *)buf.data + buf.len);
    CHECK(memcmp(h, d, sizeof(*h)) == 0);
    /* Every truncation is refused. */
    int refused = 0;
    for (size_t cut = 0; cut < buf.len; cut += 7) {
        p = (const uint8_t *)buf.data;
        refused += lt_hist_decode(&p, p + cut, d) < 0;
    }
    CHECK_EQ_INT(refused, (int)((buf.len + 6) / 7));
    /* An empty histogram round-trips. */
    lt_hist_reset(h);
    ch_buf_reset(&buf);
    lt_hist_encode(&buf, h);
    p = (const uint8_t *)buf.data;
    CHECK_EQ_INT(lt_hist_decode(&p, p + buf.len, d), 0);
    CHECK(memcmp(h, d, sizeof(*h)) == 0);
    ch_buf_free(&buf);
    free(h);
    free(d);
}

int
main(void)
{
    test_geometry();
    test_empty_and_small();
    test_distributions();
    test_merge();
    test_encode();
    TEST_MAIN_END();
}
