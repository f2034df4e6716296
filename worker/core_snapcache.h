/*
 * core_snapcache.h — the API's cache of room states for GET
 * /rooms/{room}/snapshot, shared by the database threads.
 *
 * An entry holds one room's state as of (epoch, seq): always its JSON text
 * (the bytes the API sends, shared by reference count with replies still
 * being written), and, while it fits the budget, the state itself, so that
 * later events are folded into it without parsing the text again.
 *
 * A request first reads the room's current (epoch, seq) from Redis, then
 * asks the cache:
 *
 *   HIT     the entry is in that epoch at that seq or later: its bytes are
 *           the answer (nothing to parse, fold or serialize);
 *   BUILD   the caller builds the state and hands it back with
 *           wk_snapcache_put. It gets the entry's state (now held by it
 *           alone, so folding needs no copy) or the entry's older bytes of
 *           the same epoch to start from; otherwise it starts from
 *           PostgreSQL. At most one build per room runs at a time: other
 *           requests for that room serve the entry's bytes when they are
 *           recent enough for them, else wait for the build to end;
 *   BYPASS  no cache (disabled, out of memory, a build held the room
 *           longer than WK_SNAPC_WAIT_MS, or the build waited for stored
 *           nothing because it failed or its state was too big to keep):
 *           the caller builds on its own and puts nothing.
 *
 * Invariants:
 *  - an entry's bytes, and its state when present, are exactly the room's
 *    state at the entry's (epoch, seq); a seq only grows within an epoch, so
 *    bytes at seq >= the request's are never stale for it;
 *  - an entry being built is neither evicted nor built by another thread,
 *    and only its builder touches the state it took;
 *  - the entries' estimated memory (bytes, state heap, bookkeeping) stays
 *    within the budget after every put: states of the least recently used
 *    entries go first, then whole entries; a state is kept only when it
 *    and its bytes take at most half of the budget, and a text larger than
 *    the budget is not kept at all. States and bytes given up are freed
 *    outside the lock.
 *
 * Threads: every function may be called from any thread; one mutex guards
 * the entries, a condition variable wakes the requests waiting for a build.
 */
#ifndef CHORUS_WK_CORE_SNAPCACHE_H
#define CHORUS_WK_CORE_SNAPCACHE_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#include "protocol.h"

#define WK_SNAPC_WAIT_MS      20000  /* longest wait for another thread's build */
#define WK_SNAPC_MAX_ENTRIES  16384  /* rooms cached at most, whatever their size */

/* Immutable bytes shared by reference count (any thread). */
typedef struct {
    atomic_long refs;
    size_t len;
    char *data;          /* malloc'd, owned; NUL-terminated */
} wk_blob;

/* A blob owning data (malloc'd, len bytes plus a NUL), with one reference.
 * NULL when out of memory (data is then freed). */
wk_blob *wk_blob_wrap(char *data, size_t len);
/* A blob holding a copy of len bytes at data (plus a NUL); NULL when out
 * of memory. */
wk_blob *wk_blob_copy(const char *data, size_t len);
/* Takes the text out of b (ch_buf_init'ed afterwards) into a new blob. */
wk_blob *wk_blob_from_buf(ch_buf *b);
wk_blob *wk_blob_ref(wk_blob *b);
void wk_blob_unref(wk_blob *b);     /* NULL is fine */

typedef struct wk_snapcache wk_snapcache;

enum { WK_SNAPC_HIT, WK_SNAPC_BUILD, WK_SNAPC_BYPASS };

/* What wk_snapcache_get hands out; the caller owns every reference in it. */
typedef struct {
    wk_blob *bytes;      /* HIT: the answer; BUILD: older bytes of the same
                            epoch to start from, or NULL */
    long long seq;       /* seq of bytes (and of state) */
    json_t *state;       /* BUILD: the entry's state at seq, held by the
                            caller alone, or NULL */
    size_t state_heap;   /* its estimated heap (as given to put) */
    void *ent;           /* BUILD: the entry being built (for put) */
} wk_snapc_lease;

/* A cache of at most budget bytes; NULL when budget is 0 or out of memory
 * (every get then answers BYPASS). */
wk_snapcache *wk_snapcache_new(size_t budget);
/* Frees everything. No build may be running. */
void wk_snapcache_free(wk_snapcache *c);

/* For a request that saw room at (epoch, seq): HIT, BUILD or BYPASS, with
 * *l filled in as described above. c may be NULL. */
int wk_snapcache_get(wk_snapcache *c, const char *room, long long epoch, long long seq,
                     wk_snapc_lease *l);

/* Ends the build of l (after BUILD only). On success bytes (stolen) is the
 * state's text at (epoch, seq) and state (stolen, may be NULL) the state
 * itself, whose heap use is state_heap (ch_json_stats.heap). On failure
 * bytes is NULL: the entry keeps what it had before, state is freed. */
void wk_snapcache_put(wk_snapcache *c, wk_snapc_lease *l, long long epoch, long long seq,
                      json_t *state, size_t state_heap, wk_blob *bytes);

/* Appends the cache's Prometheus metrics to out. c may be NULL. */
void wk_snapcache_metrics(wk_snapcache *c, ch_buf *out);

#endif
