/*
 * lt_inflight.h — the publishes of one publisher that wait for their
 * answer, and what happens to them when the connection is lost.
 *
 * Every publish carries an integer id (1, 2, ...); a durable one also a
 * cid derived from the id, so sending the same id again reuses the cid.
 * The ack (or error) with that id completes it. In-flight publishes live in
 * a ring indexed by id & mask, grown on demand up to a limit; every id in
 * flight is within the last ring-size ids sent, so walking those ids visits
 * the slots in send order.
 *
 * Connection lost (lt_inflight_lost):
 *   - ephemeral publishes are forgotten (never stored, never replayed);
 *   - durable ones stay and are marked resent: after the rejoin they are
 *     sent again with the same id and cid. The gateway's dedup answers a
 *     cid it already stored with the original seq and "duplicate":true, so
 *     each publish is acked, and counted, exactly once — whether its first
 *     send was stored (the ack was lost) or not.
 *
 *   ack "duplicate":true   slot resent   meaning (lt_inflight_ack_kind)
 *   no                     any           LT_ACK_NEW: stored now
 *   yes                    yes           LT_ACK_DEDUP: the first send was
 *                                        stored, its ack was lost
 *   yes                    no            LT_ACK_WRONG_DUP: the cid was never
 *                                        sent before: a server error
 *
 * Ownership: lt_inflight owns its ring; lt_inflight_free releases it.
 */
#ifndef CHORUS_LT_INFLIGHT_H
#define CHORUS_LT_INFLIGHT_H

#include <stdint.h>

typedef struct {
    uint64_t id;        /* publish id in this slot; 0 = free */
    int64_t intended;   /* its intended send time (µs, wall clock) */
    uint8_t durable;    /* 1: durable (has a cid); 0: ephemeral */
    uint8_t resent;     /* in flight when a connection was lost: sent again after the rejoin */
} lt_inflight_slot;

typedef struct {
    lt_inflight_slot *ring; /* owned: mask + 1 slots (a power of two) */
    uint32_t mask;
    uint32_t n;             /* slots in use */
} lt_inflight;

typedef enum { LT_ACK_NEW = 0, LT_ACK_DEDUP, LT_ACK_WRONG_DUP } lt_ack_kind;

/* size: initial ring size (a power of two). 0, or -1 on allocation failure. */
int lt_inflight_init(lt_inflight *f, uint32_t size);
void lt_inflight_free(lt_inflight *f);

/* Makes sure id can be stored, growing the ring (up to max slots, a power of
 * two) if its slot is taken. 1 if it can, 0 if not (the ring is at its
 * limit, or out of memory): the publisher must wait for an answer. */
int lt_inflight_make_room(lt_inflight *f, uint64_t id, uint32_t max);

/* Records a sent publish (after lt_inflight_make_room said 1). */
void lt_inflight_add(lt_inflight *f, uint64_t id, int64_t intended, int durable);

/* Completes id: copies its slot to *out (if not NULL), frees it and
 * returns 1; 0 if id is not in flight. */
int lt_inflight_complete(lt_inflight *f, uint64_t id, lt_inflight_slot *out);

/* The connection was lost: forgets ephemeral publishes (returns how many)
 * and marks every durable one resent. */
uint32_t lt_inflight_lost(lt_inflight *f);

/* The durable publish with the smallest id greater than after, among ids up
 * to last (the highest id sent); 0 if none. Walks at most one ring size. */
uint64_t lt_inflight_next_durable(const lt_inflight *f, uint64_t after, uint64_t last);

/* The slot of an in-flight id, or NULL. */
const lt_inflight_slot *lt_inflight_get(const lt_inflight *f, uint64_t id);

/* Forgets everything; returns how many were in flight. */
uint32_t lt_inflight_clear(lt_inflight *f);

/* Classifies an ack for slot s (see the table above). */
lt_ack_kind lt_inflight_ack_kind(const lt_inflight_slot *s, int duplicate);

#endif
