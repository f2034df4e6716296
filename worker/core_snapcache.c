/*
 * core_snapcache.c — the API's cache of room states (see core_snapcache.h).
 *
 * Entries live in a chained hash table (room id) and on an LRU list (most
 * recently used first). An entry's cost is its bytes, its state's
 * estimated heap and a fixed overhead; used is the sum over all entries.
 * Entry life cycle:
 *
 *   get, no entry ──► new entry, building ──put ok──► bytes (+ state)
 *                          │                              │
 *                          └──put failed or too big       ├─ get (older seq)
 *                                  ──► removed            ▼
 *                                           building (state lent out)
 *                                                         │
 *                                put ok: new bytes/state; failed: old bytes
 *
 * Every build has an id, unique in the cache and increasing. A request that
 * waits for a build remembers its id; when the build ends without storing
 * anything (failed, or too big to keep), the request is answered BYPASS:
 * its own build then runs at once, beside the others, instead of each
 * waiter in turn becoming the room's one builder of a state that will not
 * be kept either. It knows that build stored nothing when the room's entry
 * is gone, is a newer one (born after that build), or records that build
 * as its last one left unstored.
 *
 * Eviction runs at the end of each put, skipping entries being built.
 */
#include "core_snapcache.h"
#include "hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUCKETS        4096           /* power of two */
#define ENTRY_OVERHEAD 256            /* entry struct, room id, blob header */

typedef struct snap_ent {
    char *room;                       /* owned */
    uint32_t hash;
    long long epoch, seq;             /* what bytes and state are */
    wk_blob *bytes;                   /* one reference; NULL until the first build ends */
    json_t *state;                    /* the state at seq, or NULL (not kept / lent out) */
    size_t state_heap;                /* estimated heap of state (0 without one) */
    size_t cost;                      /* counted in used */
    int building;                     /* a thread is building: not evicted, not built again */
    unsigned long long build_id;      /* id of the current (or latest) build */
    unsigned long long born_id;       /* id of the build that created the entry */
    unsigned long long unstored_id;   /* id of the latest build that stored nothing, or 0 */
    struct snap_ent *hnext;           /* hash chain */
    struct snap_ent *lprev, *lnext;   /* LRU list, most recent first */
} snap_ent;

struct wk_snapcache {
    pthread_mutex_t mu;
    pthread_cond_t built;             /* broadcast whenever a build ends */
    size_t budget;                    /* bytes */
    size_t used;                      /* sum of the entries' costs (under mu) */
    size_t nents;                     /* under mu */
    snap_ent *buckets[BUCKETS];       /* under mu */
    snap_ent *lru_head, *lru_tail;    /* under mu */
    unsigned long long last_build_id; /* ids given to builds so far (under mu) */
    atomic_ullong hits, builds, bypasses, evictions;
};

/* What a put gives up: freed once the lock is released (a big state takes
 * a while to free). */
typedef struct {
    json_t *state;
    wk_blob *blob;
} garbage_item;

typedef struct {
    garbage_item *items;              /* malloc'd */
    size_t n, cap;
} garbage;

/* ------------------------------------------------------------------ blobs */

wk_blob *
wk_blob_wrap(char *data, size_t len)
{
    wk_blob *b = malloc(sizeof(*b));
    if (!b) {
        free(data);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data = data;
    return b;
}

wk_blob *
wk_blob_copy(const char *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    memcpy(copy, data, len);
    copy[len] = '\0';
    return wk_blob_wrap(copy, len);
}

wk_blob *
wk_blob_from_buf(ch_buf *buf)
{
    if (buf->oom || buf->cap == 0) {
        ch_buf_free(buf);
        return NULL;
    }
    wk_blob *b = wk_blob_wrap(buf->data, buf->len);
    ch_buf_init(buf);
    return b;
}

wk_blob *
wk_blob_ref(wk_blob *b)
{
    if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void
wk_blob_unref(wk_blob *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        free(b->data);
        free(b);
    }
}

/* ------------------------------------------------------------------ entries */

static uint32_t
hash_room(const char *s)
{
    return ch_fnv1a(s, strlen(s));
}

static void
lru_unlink(wk_snapcache *c, snap_ent *e)
{
    if (e->lprev) e->lprev->lnext = e->lnext;
    else c->lru_head = e->lnext;
    if (e->lnext) e->lnext->lprev = e->lprev;
    else c->lru_tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void
lru_front(wk_snapcache *c, snap_ent *e)
{
    if (c->lru_head == e) return;
    if (e->lprev || e->lnext || c->lru_tail == e) lru_unlink(c, e);
    e->lnext = c->lru_head;
    if (c->lru_head) c->lru_head->lprev = e;
    c->lru_head = e;
    if (!c->lru_tail) c->lru_tail = e;
}

static snap_ent *
find(wk_snapcache *c, const char *room, uint32_t h)
{
    for (snap_ent *e = c->buckets[h & (BUCKETS - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->room, room) == 0) return e;
    return NULL;
}

/* Re-counts e's cost into used. */
static void
recost(wk_snapcache *c, snap_ent *e)
{
    size_t cost = ENTRY_OVERHEAD + (e->bytes ? e->bytes->len : 0) + (e->state ? e->state_heap : 0);
    c->used = c->used - e->cost + cost;
    e->cost = cost;
}

static void
drop_later(garbage *g, json_t *state, wk_blob *blob)
{
    if (!state && !blob) return;
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 8;
        garbage_item *a = realloc(g->items, nc * sizeof(*a));
        if (!a) {                     /* no memory for the list: free now, under the lock */
            json_decref(state);
            wk_blob_unref(blob);
            return;
        }
        g->items = a;
        g->cap = nc;
    }
    g->items[g->n++] = (garbage_item){ state, blob };
}

static void
drop_now(garbage *g)
{
    for (size_t i = 0; i < g->n; i++) {
        json_decref(g->items[i].state);
        wk_blob_unref(g->items[i].blob);
    }
    free(g->items);
    memset(g, 0, sizeof(*g));
}

static void
remove_ent(wk_snapcache *c, snap_ent *e, garbage *g)
{
    snap_ent **pp = &c->buckets[e->hash & (BUCKETS - 1)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->used -= e->cost;
    c->nents--;
    drop_later(g, e->state, e->bytes);
    free(e->room);
    free(e);
}

/* Gives states, then whole entries, of the least recently used rooms back
 * until the budget and the entry limit hold. Entries being built stay. */
static void
evict(wk_snapcache *c, garbage *g)
{
    for (snap_ent *e = c->lru_tail; e && c->used > c->budget; e = e->lprev) {
        if (e->building || !e->state) continue;
        drop_later(g, e->state, NULL);
        e->state = NULL;
        e->state_heap = 0;
        recost(c, e);
    }
    for (snap_ent *e = c->lru_tail; e && (c->used > c->budget || c->nents > WK_SNAPC_MAX_ENTRIES);) {
        snap_ent *prev = e->lprev;
        if (!e->building) {
            remove_ent(c, e, g);
            atomic_fetch_add_explicit(&c->evictions, 1, memory_order_relaxed);
        }
        e = prev;
    }
}

/* ------------------------------------------------------------------ API */

wk_snapcache *
wk_snapcache_new(size_t budget)
{
    if (budget == 0) return NULL;
    wk_snapcache *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&c->built, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    c->budget = budget;
    return c;
}

void
wk_snapcache_free(wk_snapcache *c)
{
    garbage g = { .n = 0 };

    if (!c) return;
    while (c->lru_head) remove_ent(c, c->lru_head, &g);
    drop_now(&g);
    pthread_cond_destroy(&c->built);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int
wk_snapcache_get(wk_snapcache *c, const char *room, long long epoch, long long seq,
                 wk_snapc_lease *l)
{
    struct timespec deadline;
    uint32_t h = hash_room(room);
    unsigned long long waited = 0;    /* the build this request last waited for */

    memset(l, 0, sizeof(*l));
    if (!c) return WK_SNAPC_BYPASS;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += WK_SNAPC_WAIT_MS / 1000;
    deadline.tv_nsec += (long)(WK_SNAPC_WAIT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&c->mu);
    for (;;) {
        snap_ent *e = find(c, room, h);
        if (e && e->bytes && e->epoch == epoch && e->seq >= seq) {
            l->bytes = wk_blob_ref(e->bytes);
            l->seq = e->seq;
            lru_front(c, e);
            pthread_mutex_unlock(&c->mu);
            atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
            return WK_SNAPC_HIT;
        }
        if (waited && (!e || e->born_id > waited || e->unstored_id >= waited))
            break;                    /* that build stored nothing: build without the cache */
        if (e && e->building) {
            waited = e->build_id;
            int rc = pthread_cond_timedwait(&c->built, &c->mu, &deadline);
            if (rc == ETIMEDOUT) break;
            continue;
        }
        if (!e) {
            if (!(e = calloc(1, sizeof(*e))) || !(e->room = strdup(room))) {
                free(e);
                break;
            }
            e->hash = h;
            e->hnext = c->buckets[h & (BUCKETS - 1)];
            c->buckets[h & (BUCKETS - 1)] = e;
            c->nents++;
            recost(c, e);
            e->born_id = c->last_build_id + 1;
        }
        e->building = 1;
        e->build_id = ++c->last_build_id;
        if (e->bytes && e->epoch == epoch) {
            l->bytes = wk_blob_ref(e->bytes);
            l->seq = e->seq;
            l->state = e->state;
            l->state_heap = e->state_heap;
            e->state = NULL;
            e->state_heap = 0;
            recost(c, e);
        }
        l->ent = e;
        lru_front(c, e);
        pthread_mutex_unlock(&c->mu);
        atomic_fetch_add_explicit(&c->builds, 1, memory_order_relaxed);
        return WK_SNAPC_BUILD;
    }
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add_explicit(&c->bypasses, 1, memory_order_relaxed);
    return WK_SNAPC_BYPASS;
}

void
wk_snapcache_put(wk_snapcache *c, wk_snapc_lease *l, long long epoch, long long seq,
                 json_t *state, size_t state_heap, wk_blob *bytes)
{
    snap_ent *e = l->ent;
    garbage g = { .n = 0 };

    l->ent = NULL;
    if (!c || !e) {
        json_decref(state);
        wk_blob_unref(bytes);
        return;
    }
    pthread_mutex_lock(&c->mu);
    e->building = 0;
    if (bytes) {
        drop_later(&g, e->state, e->bytes);
        e->bytes = bytes;
        e->epoch = epoch;
        e->seq = seq;
        e->state = NULL;
        e->state_heap = 0;
        if (state && state_heap + bytes->len + ENTRY_OVERHEAD <= c->budget / 2) {
            e->state = state;
            e->state_heap = state_heap;
        } else {
            drop_later(&g, state, NULL);
        }
        recost(c, e);
        lru_front(c, e);
        if (e->cost > c->budget) remove_ent(c, e, &g);   /* served, but too big to keep */
    } else {
        drop_later(&g, state, NULL);
        e->unstored_id = e->build_id;
        if (!e->bytes) remove_ent(c, e, &g);
    }
    evict(c, &g);
    pthread_cond_broadcast(&c->built);
    pthread_mutex_unlock(&c->mu);
    drop_now(&g);
}

void
wk_snapcache_metrics(wk_snapcache *c, ch_buf *out)
{
    size_t used = 0, n = 0, budget = 0;

    if (c) {
        pthread_mutex_lock(&c->mu);
        used = c->used;
        n = c->nents;
        budget = c->budget;
        pthread_mutex_unlock(&c->mu);
    }
    ch_buf_printf(out, "# HELP chorus_api_snapshot_cache_requests_total Snapshot requests by cache outcome.\n"
                       "# TYPE chorus_api_snapshot_cache_requests_total counter\n"
                       "chorus_api_snapshot_cache_requests_total{outcome=\"hit\"} %llu\n"
                       "chorus_api_snapshot_cache_requests_total{outcome=\"build\"} %llu\n"
                       "chorus_api_snapshot_cache_requests_total{outcome=\"bypass\"} %llu\n",
                  c ? (unsigned long long)atomic_load(&c->hits) : 0ULL,
                  c ? (unsigned long long)atomic_load(&c->builds) : 0ULL,
                  c ? (unsigned long long)atomic_load(&c->bypasses) : 0ULL);
    ch_buf_printf(out, "# HELP chorus_api_snapshot_cache_evictions_total Rooms dropped from the snapshot cache.\n"
                       "# TYPE chorus_api_snapshot_cache_evictions_total counter\n"
                       "chorus_api_snapshot_cache_evictions_total %llu\n",
                  c ? (unsigned long long)atomic_load(&c->evictions) : 0ULL);
    ch_buf_printf(out, "# HELP chorus_api_snapshot_cache_bytes Estimated memory of the snapshot cache.\n"
                       "# TYPE chorus_api_snapshot_cache_bytes gauge\n"
                       "chorus_api_snapshot_cache_bytes %zu\n"
                       "# HELP chorus_api_snapshot_cache_budget_bytes The snapshot cache's memory budget.\n"
                       "# TYPE chorus_api_snapshot_cache_budget_bytes gauge\n"
                       "chorus_api_snapshot_cache_budget_bytes %zu\n"
                       "# HELP chorus_api_snapshot_cache_rooms Rooms in the snapshot cache.\n"
                       "# TYPE chorus_api_snapshot_cache_rooms gauge\n"
                       "chorus_api_snapshot_cache_rooms %zu\n",
                  used, budget, n);
}
