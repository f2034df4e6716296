/*
 * lt_hist.h — a log-bucketed latency histogram (HDR style) over unsigned
 * integer values (microseconds in this tool).
 *
 * Layout: values below 128 each have their own bucket; above, every power
 * of two [2^b, 2^(b+1)) is split into 64 equal sub-buckets. A bucket's
 * width is therefore at most 1/64 of its lower bound, and a percentile is
 * reported as the bucket midpoint (clamped to the exact min and max), so
 * the relative error of any reported percentile is below 1/128 (0.8%).
 * Values from 0 up to LT_HIST_MAX (2^36 - 1, about 19 hours) are tracked;
 * larger ones are clamped to it.
 *
 * Invariants: count == sum of all buckets; min/max are the exact extreme
 * values recorded (min == UINT64_MAX and max == 0 while count == 0);
 * merging adds buckets, counts and sums, so merge(a, b) equals recording
 * every value of a and b into one histogram.
 *
 * The struct is plain data (about 16 KiB): copy it, embed it, send it
 * through lt_hist_encode/lt_hist_decode.
 */
#ifndef CHORUS_LT_HIST_H
#define CHORUS_LT_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h" /* ch_buf */

#define LT_HIST_LINEAR   128u  /* exact buckets for 0..127 */
#define LT_HIST_SUB      64u   /* sub-buckets per power of two above */
#define LT_HIST_TOP_BIT  36u   /* values < 2^36 */
#define LT_HIST_MAX      ((UINT64_C(1) << LT_HIST_TOP_BIT) - 1)
#define LT_HIST_BUCKETS  (LT_HIST_LINEAR + (LT_HIST_TOP_BIT - 7u) * LT_HIST_SUB)

typedef struct {
    uint64_t count;                  /* values recorded */
    uint64_t sum;                    /* sum of (clamped) values, for the mean */
    uint64_t min;                    /* smallest value; UINT64_MAX when empty */
    uint64_t max;                    /* largest value; 0 when empty */
    uint64_t b[LT_HIST_BUCKETS];     /* per-bucket counts */
} lt_hist;

void lt_hist_reset(lt_hist *h);
void lt_hist_record(lt_hist *h, uint64_t v);
/* Records a signed value; negatives (clock skew between processes) count as 0. */
void lt_hist_record_signed(lt_hist *h, int64_t v);
void lt_hist_merge(lt_hist *dst, const lt_hist *src);

/* Value at quantile q in [0, 1]: the smallest bucket whose cumulative count
 * reaches ceil(q * count), reported as its midpoint clamped to [min, max].
 * q <= 0 gives min, q >= 1 gives max. 0 when empty. */
uint64_t lt_hist_quantile(const lt_hist *h, double q);
double lt_hist_mean(const lt_hist *h);

/* Bucket geometry, for iteration (plots) and tests. */
uint32_t lt_hist_index(uint64_t v);
uint64_t lt_hist_bucket_low(uint32_t idx);   /* smallest value of the bucket */
uint64_t lt_hist_bucket_high(uint32_t idx);  /* largest value of the bucket */

/* Sparse binary form for the worker pipes: appends to out (a ch_buf) /
 * reads from *p (advancing it; end bounds the input). decode returns 0, or
 * -1 on malformed input (h is then unspecified). Same-binary only (native
 * byte order). */
void lt_hist_encode(ch_buf *out, const lt_hist *h);
int lt_hist_decode(const uint8_t **p, const uint8_t *end, lt_hist *h);

#endif
