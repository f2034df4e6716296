/*
 * lt_rate.h — open-loop rate controller: the intended send times of one
 * publisher.
 *
 * Send k (k = 0, 1, 2, ...) is intended at start + round(k * period), where
 * start already includes the publisher's phase offset. The schedule is a
 * pure function of k, computed from the scenario start and never from the
 * previous actual send, so it does not drift and a stall does not shift it:
 * after the loop was blocked, every overdue send is due at once, each with
 * its original intended time, and latency measured from that time includes
 * the stall (no coordinated omission).
 *
 * A period of 0 means "unpaced": the caller sends whenever its window of
 * in-flight requests allows, and the intended time is the actual time.
 */
#ifndef CHORUS_LT_RATE_H
#define CHORUS_LT_RATE_H

#include <stdint.h>

typedef struct {
    int64_t start_us;   /* intended time of send 0 (µs, wall clock) */
    int64_t end_us;     /* no send is intended at or after this time */
    double period_us;   /* µs between intended sends; 0 = unpaced */
    uint64_t next;      /* index of the next send */
} lt_rate;

/* rate: sends per second for this publisher (0 = unpaced). phase in [0, 1)
 * offsets the schedule by that fraction of a period, so P publishers with
 * phases i/P interleave evenly. */
void lt_rate_init(lt_rate *r, int64_t start_us, int64_t end_us, double rate, double phase);

/* Intended time of send k. */
int64_t lt_rate_intended(const lt_rate *r, uint64_t k);

/* Intended time of the next send, or INT64_MAX if the schedule has ended. */
int64_t lt_rate_peek(const lt_rate *r);

/* If the next send is due at time now (intended <= now, before end), stores
 * its intended time in *intended, advances, and returns 1; else 0. */
int lt_rate_take(lt_rate *r, int64_t now, int64_t *intended);

/* Sends due at time now that have not been taken (the backlog). */
uint64_t lt_rate_backlog(const lt_rate *r, int64_t now);

#endif
