/*
 * lt_seqset.c — set of acked seqs; see lt_seqset.h.
 */
#include "lt_seqset.h"

#include <stdlib.h>
#include <string.h>

#include "lt_wire.h"

static int64_t
floor64(int64_t v)
{
    int64_t r = v % 64;
    return v - (r < 0 ? r + 64 : r);
}

void
lt_seqset_free(lt_seqset *s)
{
    free(s->w);
    memset(s, 0, sizeof(*s));
}

static void
note_bounds(lt_seqset *s, int64_t lo, int64_t hi)
{
    if (!s->count || lo < s->min) s->min = lo;
    if (!s->count || hi > s->max) s->max = hi;
}

/* Makes [lo, hi] storable. 0, or -1 if the span would be too large or
 * memory ran out (the set is then unchanged). */
static int
cover(lt_seqset *s, int64_t lo, int64_t hi)
{
    if (!s->nwords) {
        int64_t b = floor64(lo);
        uint64_t need = (uint64_t)(hi - b) / 64 + 1;
        if (need > LT_SEQSET_MAX_WORDS) return -1;
        uint64_t *w = calloc(need, sizeof(uint64_t));
        if (!w) return -1;
        s->w = w;
        s->base = b;
        s->nwords = (uint32_t)need;
        return 0;
    }
    int64_t nb = lo < s->base ? floor64(lo) : s->base;
    int64_t end = s->base + 64 * (int64_t)s->nwords; /* one past the last storable seq */
    uint64_t need = (uint64_t)((hi >= end ? hi : end - 1) - nb) / 64 + 1;
    if (nb == s->base && need <= s->nwords) return 0;
    if (need > LT_SEQSET_MAX_WORDS) return -1;
    /* Grow geometrically on the side that runs out, so a run that keeps
     * extending costs amortised O(1) per seq. */
    uint64_t cap = need;
    if (cap < (uint64_t)s->nwords * 2) cap = (uint64_t)s->nwords * 2;
    if (cap > LT_SEQSET_MAX_WORDS) cap = LT_SEQSET_MAX_WORDS;
    uint64_t shift = (uint64_t)(s->base - nb) / 64; /* words added below */
    if (shift && cap > need) {
        /* Extending downward: put the slack below too. */
        uint64_t extra = cap - need;
        nb -= 64 * (int64_t)extra;
        shift += extra;
    }
    uint64_t *w = calloc(cap, sizeof(uint64_t));
    if (!w) return -1;
    memcpy(w + shift, s->w, (size_t)s->nwords * sizeof(uint64_t));
    free(s->w);
    s->w = w;
    s->base = nb;
    s->nwords = (uint32_t)cap;
    return 0;
}

int
lt_seqset_has(const lt_seqset *s, int64_t seq)
{
    if (!s->nwords || seq < s->base) return 0;
    uint64_t off = (uint64_t)(seq - s->base);
    if (off / 64 >= s->nwords) return 0;
    return (s->w[off / 64] >> (off % 64)) & 1u;
}

int
lt_seqset_add(lt_seqset *s, int64_t seq)
{
    if (cover(s, seq, seq) < 0) {
        s->overflow = 1;
        note_bounds(s, seq, seq);
        s->count++;
        return -1;
    }
    uint64_t off = (uint64_t)(seq - s->base);
    uint64_t bit = UINT64_C(1) << (off % 64);
    if (s->w[off / 64] & bit) {
        s->conflicts++;
        return 0;
    }
    s->w[off / 64] |= bit;
    note_bounds(s, seq, seq);
    s->count++;
    return 1;
}

static uint64_t
stored_count(const lt_seqset *s)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < s->nwords; i++) n += (uint64_t)__builtin_popcountll(s->w[i]);
    return n;
}

int
lt_seqset_merge(lt_seqset *dst, const lt_seqset *src)
{
    int rc = 0, had = dst->count > 0;
    uint64_t stored = stored_count(src);
    dst->conflicts += src->conflicts;
    /* Seqs src could not store are counted, their bits are unknown. */
    if (src->overflow || src->count > stored) dst->overflow = 1;
    if (stored && cover(dst, src->base, src->base + 64 * (int64_t)src->nwords - 1) == 0) {
        uint64_t at = (uint64_t)(src->base - dst->base) / 64;
        for (uint32_t i = 0; i < src->nwords; i++) {
            uint64_t a = dst->w[at + i], b = src->w[i];
            dst->conflicts += (uint64_t)__builtin_popcountll(a & b);
            dst->count += (uint64_t)__builtin_popcountll(b & ~a);
            dst->w[at + i] = a | b;
        }
        dst->count += src->count - stored;
    } else {
        if (stored) {
            dst->overflow = 1;
            rc = -1;
        }
        dst->count += src->count;
    }
    if (src->count) {
        if (!had || src->min < dst->min) dst->min = src->min;
        if (!had || src->max > dst->max) dst->max = src->max;
    }
    return rc;
}

size_t
lt_seqset_ranges(const lt_seqset *s, int64_t (*out)[2], size_t max)
{
    size_t n = 0;
    int in_run = 0;
    int64_t lo = 0;
    for (uint32_t i = 0; i < s->nwords; i++) {
        uint64_t v = s->w[i];
        if ((!in_run && !v) || (in_run && v == ~UINT64_C(0))) continue;
        for (int b = 0; b < 64; b++) {
            int set = (int)((v >> b) & 1u);
            int64_t seq = s->base + 64 * (int64_t)i + b;
            if (set && !in_run) {
                in_run = 1;
                lo = seq;
            } else if (!set && in_run) {
                in_run = 0;
                if (n < max) {
                    out[n][0] = lo;
                    out[n][1] = seq - 1;
                }
                n++;
            }
        }
    }
    if (in_run) {
        if (n < max) {
            out[n][0] = lo;
            out[n][1] = s->base + 64 * (int64_t)s->nwords - 1;
        }
        n++;
    }
    return n;
}

void
lt_seqset_encode(ch_buf *out, const lt_seqset *s, int store_bits)
{
    /* Only the words from the first to the last non-zero one. */
    uint32_t first = 0, last = 0;
    int any = 0;
    if (store_bits) {
        for (uint32_t i = 0; i < s->nwords; i++) {
            if (!s->w[i]) continue;
            if (!any) first = i;
            last = i;
            any = 1;
        }
    }
    uint32_t n = any ? last - first + 1 : 0;
    lt_wire_u8(out, (uint8_t)(s->overflow || (!store_bits && s->count)));
    lt_wire_u64(out, s->count);
    lt_wire_u64(out, s->conflicts);
    lt_wire_i64(out, s->min);
    lt_wire_i64(out, s->max);
    lt_wire_i64(out, any ? s->base + 64 * (int64_t)first : 0);
    lt_wire_u32(out, n);
    if (n) ch_buf_append(out, (const char *)(s->w + first), (size_t)n * sizeof(uint64_t));
}

int
lt_seqset_decode(const uint8_t **p, const uint8_t *end, lt_seqset *s)
{
    lt_reader r = { *p, end, 0 };
    memset(s, 0, sizeof(*s));
    uint8_t overflow = lt_read_u8(&r);
    uint64_t count = lt_read_u64(&r), conflicts = lt_read_u64(&r);
    int64_t min = lt_read_i64(&r), max = lt_read_i64(&r), base = lt_read_i64(&r);
    uint32_t n = lt_read_u32(&r);
    if (r.err || overflow > 1 || n > LT_SEQSET_MAX_WORDS || floor64(base) != base ||
        (size_t)(r.end - r.p) / sizeof(uint64_t) < n)
        return -1;
    if (n) {
        s->w = malloc((size_t)n * sizeof(uint64_t));
        if (!s->w) return -1;
        lt_read_bytes(&r, s->w, (size_t)n * sizeof(uint64_t));
        s->nwords = n;
        s->base = base;
    }
    s->overflow = overflow;
    s->conflicts = conflicts;
    s->min = min;
    s->max = max;
    uint64_t stored = stored_count(s);
    /* The count covers at least the stored seqs; more only with overflow. */
    if (count < stored || (count > stored && !overflow) || (count && min > max)) {
        lt_seqset_free(s);
        return -1;
    }
    s->count = count;
    *p = r.p;
    return 0;
}
