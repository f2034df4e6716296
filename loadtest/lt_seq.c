/*
 * lt_seq.c — sequence checker; see lt_seq.h for the definitions.
 */
#include "lt_seq.h"

void
lt_seq_init(lt_seq *s, int64_t base)
{
    s->last = base;
    s->seen = ~UINT64_C(0);
}

lt_seq_result
lt_seq_observe(lt_seq *s, int64_t seq, uint64_t *missing)
{
    if (missing) *missing = 0;
    if (seq == s->last + 1) {
        s->seen = (s->seen << 1) | 1u;
        s->last = seq;
        return LT_SEQ_OK;
    }
    if (seq > s->last + 1) {
        uint64_t d = (uint64_t)(seq - s->last);
        if (missing) *missing = d - 1;
        s->seen = (d >= 64 ? 0 : s->seen << d) | 1u;
        s->last = seq;
        return LT_SEQ_GAP;
    }
    uint64_t off = (uint64_t)(s->last - seq);
    if (off < 64 && !(s->seen & (UINT64_C(1) << off))) {
        s->seen |= UINT64_C(1) << off;
        return LT_SEQ_REORDER;
    }
    return LT_SEQ_DUP;
}
