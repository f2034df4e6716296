/*
 * lt_retry.h — the reconnect policy of a client whose connection ended:
 * which endings are retried, how long it waits before each attempt, and
 * the queue of clients waiting for their next attempt.
 *
 * Retried: every ending a server restart or a load balancer can cause —
 * close 1001 (drain), connection lost, connect refused or timed out, an
 * upgrade refused with 503 or another non-auth status, a close with an
 * unexpected code, a local socket error. Not retried: 401/403 (the token or
 * the origin is wrong), a malformed handshake or protocol error (a bug on
 * one side), close 1008 (the server judged the client abusive), and the
 * server's error messages (a refused rejoin: snapshot_required).
 *
 * Delay before attempt k (k = 0 for the first attempt after a loss):
 * exponential with "equal jitter",
 *
 *     cap_k = min(max, min * 2^k)
 *     delay = cap_k / 2 + uniform[0, cap_k / 2]
 *
 * so attempt 0 waits min/2 .. min and, once cap_k has reached max, every
 * attempt waits max/2 .. max. The jitter spreads clients that lost their
 * connections in the same instant (a gateway drain, a crash) so they do not
 * return in lockstep; the fixed half keeps a floor under every delay.
 *
 * The queue is a binary min-heap of (due time, client index) with a fixed
 * capacity (a client is in it at most once). Pure: no clock, no I/O, the
 * random number is an argument.
 */
#ifndef CHORUS_LT_RETRY_H
#define CHORUS_LT_RETRY_H

#include <stdint.h>

typedef struct {
    int64_t min_us;   /* cap of attempt 0 (> 0) */
    int64_t max_us;   /* largest cap (>= min_us) */
} lt_backoff;

/* Delay before attempt k (µs), with rnd any uniformly random 64-bit value. */
int64_t lt_backoff_delay(const lt_backoff *b, unsigned attempt, uint64_t rnd);

/* 1 if a connection that ended with error kind err (lt_error_kind) is
 * worth another attempt. */
int lt_retry_retryable(int err);

typedef struct {
    int64_t due;      /* monotonic µs at which the attempt is due */
    uint32_t id;      /* the client's index in its worker */
} lt_retry_entry;

typedef struct {
    lt_retry_entry *e; /* owned: cap entries, a heap on due */
    uint32_t n;        /* entries in use */
    uint32_t cap;
} lt_retryq;

/* 0, or -1 on allocation failure. */
int lt_retryq_init(lt_retryq *q, uint32_t cap);
void lt_retryq_free(lt_retryq *q);

/* Adds an entry; 0, or -1 if the queue is full. */
int lt_retryq_push(lt_retryq *q, int64_t due, uint32_t id);

/* Due time of the earliest entry, or INT64_MAX if empty. */
int64_t lt_retryq_peek(const lt_retryq *q);

/* If the earliest entry is due at time now, removes it, stores its id and
 * returns 1; else 0. */
int lt_retryq_pop_due(lt_retryq *q, int64_t now, uint32_t *id);

#endif
