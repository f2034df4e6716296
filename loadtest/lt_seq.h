/*
 * lt_seq.h — per (client, room) sequence checker for durable events.
 *
 * The checker holds the highest seq received (last) and a 64-bit window
 * saying which of last, last-1, ..., last-63 have been received. It starts
 * at the position the client joined at (joined.seq, or its since): every
 * seq at or below it counts as already received.
 *
 * Classification of an arriving seq s:
 *   s == last + 1         in order (LT_SEQ_OK)
 *   s >  last + 1         gap: s - last - 1 seqs were skipped (LT_SEQ_GAP;
 *                         *missing says how many); s becomes last
 *   s <= last, in the window and not yet received
 *                         reorder: a skipped seq arrived late (LT_SEQ_REORDER)
 *   s <= last otherwise   duplicate: already received, at or below the join
 *                         position, or more than 63 behind last (too old to
 *                         tell; counted as a duplicate) (LT_SEQ_DUP)
 * OK, GAP and REORDER arrivals are new (unique) deliveries; DUP ones are not.
 *
 * 16 bytes per (client, room); no allocation.
 */
#ifndef CHORUS_LT_SEQ_H
#define CHORUS_LT_SEQ_H

#include <stdint.h>

typedef enum { LT_SEQ_OK = 0, LT_SEQ_GAP, LT_SEQ_REORDER, LT_SEQ_DUP } lt_seq_result;

typedef struct {
    int64_t last;    /* highest seq received (or the join position) */
    uint64_t seen;   /* bit i set: seq last - i received (or at/below the join position) */
} lt_seq;

/* Starts checking after position base (the client has everything <= base). */
void lt_seq_init(lt_seq *s, int64_t base);

/* Classifies seq; for LT_SEQ_GAP, *missing (if not NULL) gets the number of
 * seqs skipped (otherwise 0). */
lt_seq_result lt_seq_observe(lt_seq *s, int64_t seq, uint64_t *missing);

#endif
