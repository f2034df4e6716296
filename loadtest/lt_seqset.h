/*
 * lt_seqset.h — the set of seqs acked in one room, so a report can show
 * exactly which events the server confirmed (and an external check, e.g.
 * against PostgreSQL, can compare): its size, bounds, runs of consecutive
 * seqs, and how often a seq was acked twice (two publishes given the same
 * seq: a server error).
 *
 * A bitmap over [base, base + 64 * nwords), base a multiple of 64, grown
 * in either direction as seqs arrive; the acks of one run in one room are
 * dense, so this costs about one bit per acked event. A seq that would
 * stretch the span beyond LT_SEQSET_MAX_WORDS words is not stored: the set
 * is then marked overflow (count, min and max stay exact; the bits and the
 * ranges are incomplete).
 *
 * Sets of several workers merge by union; a seq present in both counts as
 * a conflict. Ownership: the set owns its words; lt_seqset_free releases
 * them. A zeroed struct is an empty set.
 */
#ifndef CHORUS_LT_SEQSET_H
#define CHORUS_LT_SEQSET_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h" /* ch_buf */

#define LT_SEQSET_MAX_WORDS (1u << 22) /* 32 MiB: a span of 268 M seqs */

typedef struct {
    int64_t base;        /* seq of bit 0 of w[0]; a multiple of 64 */
    uint64_t *w;         /* owned: nwords words, or NULL */
    uint32_t nwords;
    uint8_t overflow;    /* some seq was not stored (span limit or out of memory) */
    uint64_t count;      /* distinct seqs added (stored or not) */
    uint64_t conflicts;  /* adds of a seq already present */
    int64_t min, max;    /* bounds of the seqs added (valid when count > 0) */
} lt_seqset;

void lt_seqset_free(lt_seqset *s);

/* Adds seq: 1 if new, 0 if already present (a conflict), -1 if it could not
 * be stored (the set is marked overflow; it still counts as new). */
int lt_seqset_add(lt_seqset *s, int64_t seq);

/* 1 if seq is in the set. */
int lt_seqset_has(const lt_seqset *s, int64_t seq);

/* Adds every seq of src into dst; seqs in both count as conflicts.
 * 0, or -1 if dst overflowed on the way. */
int lt_seqset_merge(lt_seqset *dst, const lt_seqset *src);

/* Runs of consecutive seqs in increasing order: writes up to max [lo, hi]
 * pairs to out and returns how many runs there are in all. */
size_t lt_seqset_ranges(const lt_seqset *s, int64_t (*out)[2], size_t max);

/* Pipe format (lt_wire.h). With store_bits 0 only the counts go (the
 * receiver's copy is then marked overflow). Decode reads into an empty set;
 * 0, or -1 on malformed input. */
void lt_seqset_encode(ch_buf *out, const lt_seqset *s, int store_bits);
int lt_seqset_decode(const uint8_t **p, const uint8_t *end, lt_seqset *s);

#endif
