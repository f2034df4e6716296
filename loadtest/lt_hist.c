/*
 * lt_hist.c — log-bucketed histogram; see lt_hist.h for the layout and the
 * error bound.
 *
 * Index of a value v >= 128 with highest set bit b (7 <= b < 36):
 *   shift = b - 6, m = v >> shift (64 <= m < 128),
 *   idx = 128 + (shift - 1) * 64 + (m - 64).
 * Bucket idx covers [m << shift, ((m + 1) << shift) - 1].
 */
#include "lt_hist.h"

#include <string.h>

#include "lt_wire.h"

void
lt_hist_reset(lt_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

uint32_t
lt_hist_index(uint64_t v)
{
    if (v > LT_HIST_MAX) v = LT_HIST_MAX;
    if (v < LT_HIST_LINEAR) return (uint32_t)v;
    unsigned b = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = b - 6u;
    uint64_t m = v >> shift;
    return LT_HIST_LINEAR + (shift - 1u) * LT_HIST_SUB + (uint32_t)(m - LT_HIST_SUB);
}

uint64_t
lt_hist_bucket_low(uint32_t idx)
{
    if (idx < LT_HIST_LINEAR) return idx;
    uint32_t k = idx - LT_HIST_LINEAR;
    unsigned shift = k / LT_HIST_SUB + 1u;
    uint64_t m = LT_HIST_SUB + k % LT_HIST_SUB;
    return m << shift;
}

uint64_t
lt_hist_bucket_high(uint32_t idx)
{
    if (idx < LT_HIST_LINEAR) return idx;
    uint32_t k = idx - LT_HIST_LINEAR;
    unsigned shift = k / LT_HIST_SUB + 1u;
    return lt_hist_bucket_low(idx) + (UINT64_C(1) << shift) - 1u;
}

void
lt_hist_record(lt_hist *h, uint64_t v)
{
    if (v > LT_HIST_MAX) v = LT_HIST_MAX;
    h->b[lt_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

void
lt_hist_record_signed(lt_hist *h, int64_t v)
{
    lt_hist_record(h, v < 0 ? 0 : (uint64_t)v);
}

void
lt_hist_merge(lt_hist *dst, const lt_hist *src)
{
    if (!src->count) return;
    for (uint32_t i = 0; i < LT_HIST_BUCKETS; i++) dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t
lt_hist_quantile(const lt_hist *h, double q)
{
    if (!h->count) return 0;
    if (q <= 0.0) return h->min;
    if (q >= 1.0) return h->max;
    double r = q * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r) rank++;
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t cum = 0;
    for (uint32_t i = 0; i < LT_HIST_BUCKETS; i++) {
        cum += h->b[i];
        if (cum >= rank) {
            uint64_t lo = lt_hist_bucket_low(i), hi = lt_hist_bucket_high(i);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min) mid = h->min;
            if (mid > h->max) mid = h->max;
            return mid;
        }
    }
    return h->max;
}

double
lt_hist_mean(const lt_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

void
lt_hist_encode(ch_buf *out, const lt_hist *h)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < LT_HIST_BUCKETS; i++) n += h->b[i] != 0;
    lt_wire_u64(out, h->count);
    lt_wire_u64(out, h->sum);
    lt_wire_u64(out, h->min);
    lt_wire_u64(out, h->max);
    lt_wire_u32(out, n);
    for (uint32_t i = 0; i < LT_HIST_BUCKETS; i++) {
        if (!h->b[i]) continue;
        lt_wire_u32(out, i);
        lt_wire_u64(out, h->b[i]);
    }
}

int
lt_hist_decode(const uint8_t **p, const uint8_t *end, lt_hist *h)
{
    lt_reader r = { *p, end, 0 };
    uint64_t total = 0;
    lt_hist_reset(h);
    h->count = lt_read_u64(&r);
    h->sum = lt_read_u64(&r);
    h->min = lt_read_u64(&r);
    h->max = lt_read_u64(&r);
    uint32_t n = lt_read_u32(&r);
    if (r.err || n > LT_HIST_BUCKETS) return -1;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = lt_read_u32(&r);
        uint64_t c = lt_read_u64(&r);
        if (r.err || i >= LT_HIST_BUCKETS) return -1;
        h->b[i] += c;
        total += c;
    }
    if (total != h->count) return -1;
    *p = r.p;
    return 0;
}
