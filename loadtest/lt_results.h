/*
 * lt_results.h — what a worker reports at the end of a run, and how the
 * parent merges the reports of all workers.
 *
 * Delivery accounting per room: every member (a client joined before the
 * traffic started and still a member at the end) should receive every
 * durable event acked in its room. A worker does not know the acks of the
 * other workers, so it reports, per room, the acks of its own publishers
 * and the distribution of its members' unique delivery counts as
 * (deliveries, members) pairs — few distinct values in practice. After
 * merging, a room's expected deliveries are acked * members, and
 *   missing = sum over pairs of members * max(0, acked - deliveries),
 *   extra   = sum over pairs of members * max(0, deliveries - acked)
 * (extra: events stored but whose ack never arrived, e.g. at a timeout).
 *
 * Each room also carries the set of seqs its acks carried (lt_seqset.h),
 * merged by union, so the report can list exactly which events were
 * confirmed and whether two publishes ever got the same seq.
 *
 * Ownership: lt_results owns its rooms array and every pair array and seq
 * set in it; lt_results_free releases them.
 */
#ifndef CHORUS_LT_RESULTS_H
#define CHORUS_LT_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "lt_hist.h"
#include "lt_seqset.h"
#include "lt_stats.h"
#include "protocol.h"

typedef struct {
    uint64_t deliveries;   /* unique durable events one member received */
    uint64_t members;      /* members that received exactly that many */
} lt_dcount;

typedef struct {
    uint64_t acked;        /* durable publishes acked in this room */
    uint32_t n;            /* pairs in d */
    uint32_t cap;          /* pairs allocated */
    lt_dcount *d;          /* owned (malloc) */
    lt_seqset seqs;        /* owned: the seqs of those acks */
} lt_room_result;

typedef struct {
    int64_t connect_first_us;  /* first connect attempt of the connect phase (wall µs; 0 = none) */
    int64_t connect_last_us;   /* last client settled (joined or failed) in that phase */
    int64_t start_us;          /* traffic start (wall µs) */
    int64_t end_us;            /* traffic end */
    int64_t drop_us;           /* reconnect-storm drop (0 = none) */
    uint64_t initial_ready;    /* clients set up in the connect phase (welcome, and joined
                                  unless the scenario does not join) */
    uint64_t initial_failed;   /* clients that failed in the connect phase */
    uint64_t members_lost;     /* members whose connection ended during the run */
    lt_counts counts;
    lt_hist hist[LT_H_COUNT];
    uint32_t nrooms;
    lt_room_result *rooms;     /* owned: nrooms entries, index = room number */
} lt_results;

/* Initialises r (zero counts, empty histograms) with nrooms rooms.
 * Returns 0 or -1 on allocation failure. */
int lt_results_init(lt_results *r, uint32_t nrooms);
void lt_results_free(lt_results *r);

/* Adds members that received deliveries unique events to room. 0 or -1 (OOM). */
int lt_room_add(lt_room_result *room, uint64_t deliveries, uint64_t members);

/* Adds src into dst (counts, histograms, rooms; earliest/latest times).
 * Both must have the same nrooms. 0 or -1 (OOM). */
int lt_results_merge(lt_results *dst, const lt_results *src);

/* Per-room check (see above). */
typedef struct {
    uint64_t members, expected, received, missing, extra;
} lt_room_check;
void lt_room_compute(const lt_room_result *room, lt_room_check *out);

/* Serialises r for the pipe (only rooms with data). The seq sets' bits
 * are sent while they fit in LT_RESULTS_SEQ_BUDGET bytes in all; beyond
 * that only their counts (the parent's sets are then marked overflow). */
#define LT_RESULTS_SEQ_BUDGET (32u << 20)
void lt_results_encode(ch_buf *out, const lt_results *r);
/* Reads an encoded result into r, which must have been initialised with the
 * same nrooms. 0, or -1 on malformed input. */
int lt_results_decode(const uint8_t *p, size_t len, lt_results *r);

#endif
