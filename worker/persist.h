/*
 * persist.h — the persistence thread: Redis persistence streams -> PostgreSQL.
 *
 * One dedicated thread per worker process reads every partition stream
 * ch:{pN}:persist through a consumer group, writes the events to the events
 * table in batches (one INSERT per batch, idempotent by (room, epoch, seq)),
 * acknowledges them only after the commit, folds them into per-room
 * snapshots with the room reducers, reclaims entries of dead consumers and
 * trims the streams behind the group. It owns its own blocking hiredis and
 * libpq connections and never touches the HTTP loop; the loop only calls
 * wk_persist_ready and wk_persist_metrics, which read atomics.
 *
 * Guarantees: an entry is acknowledged only once its row (or, for a
 * sequence conflict, its events_conflicts row) is committed; a stream is
 * never trimmed past an entry that is pending or undelivered in any group.
 * Several processes with different consumer names share the work.
 */
#ifndef CHORUS_WK_PERSIST_H
#define CHORUS_WK_PERSIST_H

#include <stddef.h>

#include "protocol.h"

struct wk_persist;

typedef struct {
    const char *pg_conninfo;     /* libpq connection string (never logged) */
    const char *redis_host;
    int redis_port;
    const char *redis_password;  /* NULL or "" for none (never logged) */
    unsigned partitions;         /* streams ch:{p0..pP-1}:persist */
    const char *group;           /* consumer group name */
    const char *consumer;        /* this process's consumer name, unique per process */
    int batch_max;               /* most events per INSERT */
    int batch_ms;                /* longest a batch waits to fill (and a read blocks) */
    int snapshot_every;          /* events per room between snapshots */
    int snapshot_seconds;        /* or seconds since a room's last snapshot */
    int claim_idle_ms;           /* pending entries idle this long are reclaimed */
} wk_persist_config;             /* strings must outlive the thread */

/* Spawns the thread (it connects by itself, retrying with backoff).
 * Returns NULL if the configuration is invalid or the thread cannot start. */
struct wk_persist *wk_persist_start(const wk_persist_config *cfg);

/* Asks the thread to finish the batch in hand (if PostgreSQL is up), joins
 * it and frees everything. NULL is a no-op. */
void wk_persist_stop(struct wk_persist *p);

/* 1 if PostgreSQL and Redis were both reachable at the thread's last
 * contact (at most about a second ago); otherwise 0 and a reason in why. */
int wk_persist_ready(struct wk_persist *p, char *why, size_t whylen);

/* Appends the chorus_worker_* persistence metrics (Prometheus text). */
void wk_persist_metrics(struct wk_persist *p, ch_buf *out);

#endif
