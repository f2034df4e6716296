/*
 * persist.c — the persistence thread and its snapshot thread (see persist.h).
 *
 * Persistence thread, with blocking connections of its own:
 *
 *   connect Redis (AUTH, XGROUP CREATE <stream> <group> 0 MKSTREAM, every partition)
 *   connect PostgreSQL (prepare statements)
 *   loop:
 *     every second: XAUTOCLAIM entries idle > claim_idle_ms (every 2 s),
 *                   XINFO GROUPS / XPENDING -> lag gauges and XTRIM MINID,
 *                   removal of long-idle consumers without pending entries
 *                   (every minute), a PostgreSQL probe when idle
 *     XREADGROUP ... STREAMS s0..sN <ids>   ids: per-stream cursors from "0"
 *                                           while re-reading our own pending
 *                                           entries after a (re)connect, then ">"
 *     for each chunk of <= batch_max entries of the reply:
 *       validate (malformed -> logged, counted, acked, written nowhere)
 *       INSERT ... SELECT FROM unnest($1..$8) ON CONFLICT DO NOTHING   (one statement)
 *       fewer rows than events? -> compare the existing rows' author/cid:
 *           same: a replay (duplicate); different: a sequence conflict ->
 *           row in events_conflicts, room moved to a new epoch in Redis
 *       XACK the chunk's ids (only now)
 *       hand the committed events of rooms with a reducer to the snapshot thread
 *
 * Snapshot thread, with a PostgreSQL connection of its own: takes committed
 * events from a bounded queue and folds them, in seq order per room, into
 * an LRU cache of room states; when an event does not follow the cached
 * state (cache miss, restart, new epoch, an event dropped because the queue
 * was full, or events persisted by another worker) it rebuilds the state
 * from the newest snapshot and the events in PostgreSQL. It saves a
 * snapshot every snapshot_every events or snapshot_seconds per room and
 * keeps the newest SNAPSHOTS_KEPT. Reducing never slows persistence down:
 * when the queue is full, events are dropped from it and the next event of
 * that room triggers a catch-up read from PostgreSQL instead.
 *
 * Batching: a read returns what the streams hold right now (up to batch_max
 * per stream) and it is written at once, so an idle system persists an
 * event within a few round trips; under load, entries pile up while the
 * previous batch is written and batches grow by themselves up to batch_max.
 * A read blocks at most batch_ms when the streams are empty. Two batches
 * alternate: while one batch's INSERT runs in PostgreSQL (sent without
 * waiting), the next reply is read from Redis and parsed into the other;
 * the first is then finished (result, XACK) before the second is sent, so
 * at most one statement is ever outstanding and the lookahead is one batch.
 *
 * Failures: a PostgreSQL error keeps the chunk in hand and retries with
 * backoff (100 ms doubling to 5 s), reading nothing new meanwhile (Redis
 * keeps the backlog; at most the one batch read ahead waits in memory). A data error (SQLSTATE class 22/23) retries the chunk
 * one event at a time and treats the events PostgreSQL refuses as malformed,
 * so one bad entry never blocks a stream. A Redis error drops the connection
 * and the reply in hand; after the reconnect our pending entries are read
 * again from the PEL. Everything written is idempotent.
 *
 * Invariants:
 *  - an entry is XACKed only after the statement holding its row (or its
 *    events_conflicts row) committed;
 *  - XTRIM MINID uses, over every group of the stream, the oldest pending id
 *    or else the last-delivered id, so nothing unacknowledged is trimmed;
 *  - a cached room state is the reduction of events 1..seq of its epoch, all
 *    of which are in PostgreSQL; snapshots are written only from such states;
 *  - at most one statement is outstanding on the events connection; a
 *    chunk's INSERT result is read before anything else is sent on it;
 *  - memory is bounded: two Redis replies, two chunks (batch_max items each),
 *    the snapshot queue (SNAP_QUEUE events) and WK_PERSIST_CACHE_ROOMS states.
 *
 * Threads: fields are marked with the thread that owns them; the HTTP loop
 * only reads the atomics in wk_metrics.
 */
#include "clock.h"
#include "hash.h"
#include "lua_scripts.h"
#include "persist.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "json_out.h"
#include "keys.h"
#include "log.h"
#include "reduce.h"
#include "utf8.h"

#define WK_PERSIST_CACHE_ROOMS 1000  /* room states kept in memory (LRU) */
#define CACHE_BUCKETS          2048  /* power of two */
#define SNAP_QUEUE             16384 /* committed events waiting for the reducers */
#define SNAP_POP               256   /* events taken from the queue at once */
#define HOUSEKEEP_MS           1000
#define CLAIM_EVERY_MS         2000
#define PRUNE_EVERY_MS         60000 /* removal of long-gone consumers */
#define PRUNE_IDLE_MS          3600000
#define PROBE_MS               1000  /* health probe of an idle connection */
#define BACKOFF_MIN_MS         100
#define BACKOFF_MAX_MS         5000
#define REBUILD_PAGE           1000  /* events per SELECT when rebuilding a room */
#define SNAPSHOTS_KEPT         3     /* newest snapshots kept per room */
#define AUTHOR_MAX             256
#define SESSION_MAX            256
#define MALFORMED_LOG_FIRST    100   /* then one line per 1000 */
#define BATCH_MAX_LIMIT        100000
#define NARR                   8     /* arrays of the INSERT */

/* ------------------------------------------------------------------ metrics */

static const double size_bounds[] = { 1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000 };
#define NSIZE (sizeof(size_bounds) / sizeof(size_bounds[0]))
static const double delay_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                       0.5, 1, 2.5, 5, 10, 30, 60 };
#define NDELAY (sizeof(delay_bounds) / sizeof(delay_bounds[0]))

/* Written by the two threads, read by the HTTP loop. */
typedef struct {
    _Atomic uint64_t persisted;       /* new rows in events */
    _Atomic uint64_t duplicates;      /* entries whose identical row was already there */
    _Atomic uint64_t batches;         /* INSERT statements committed */
    _Atomic uint64_t size_bucket[NSIZE + 1];   /* batch sizes (per bucket, not cumulative) */
    _Atomic uint64_t size_sum;
    _Atomic uint64_t write_us;        /* total time spent writing batches */
    _Atomic uint64_t delay_bucket[NDELAY + 1]; /* event ts -> commit */
    _Atomic uint64_t delay_sum_us;
    _Atomic uint64_t malformed;
    _Atomic uint64_t pg_errors;
    _Atomic uint64_t redis_errors;
    _Atomic uint64_t reclaimed;
    _Atomic uint64_t trimmed;
    _Atomic uint64_t seq_conflicts;
    _Atomic uint64_t snapshots;       /* snapshot thread */
    _Atomic uint64_t snapshot_errors; /* failed saves and reducer errors */
    _Atomic uint64_t rebuilds;        /* room states rebuilt from PostgreSQL */
    _Atomic uint64_t snap_dropped;    /* events not queued for the reducers (queue full) */
    _Atomic int64_t lag_events;       /* undelivered + pending entries of our group */
    _Atomic int64_t lag_ms;           /* now - time of the oldest unpersisted entry */
    _Atomic int64_t cache_rooms;
    _Atomic int pg_up;
    _Atomic int redis_up;
} wk_metrics;

/* ------------------------------------------------------------------ types */

enum { IT_OK = 0, IT_MALFORMED, IT_CONFLICT };

/* One persistence stream entry of the chunk in hand. The strings point into
 * the Redis reply being processed, which outlives the chunk; hiredis
 * NUL-terminates every string and validation rejects embedded NULs. */
typedef struct {
    const char *id;           /* stream entry id */
    unsigned stream;          /* partition */
    const char *room, *author, *kind, *cid, *session, *payload;
    size_t payload_len;
    long long seq, epoch, ts;
    json_t *pj;               /* parsed payload (owned until handed on), NULL if malformed */
    int state;                /* IT_* */
} pitem;

/* A Redis reply shared by the chunks whose items point into it; freed with
 * its last reference. */
typedef struct {
    redisReply *reply;        /* owned */
    int refs;                 /* chunks using it, plus the reader while it parses */
} reply_ref;

/* A batch: at most batch_max entries, written by one INSERT. Two exist so
 * that one is filled from Redis while the other's INSERT runs. */
typedef struct {
    pitem *items;             /* cfg.batch_max slots, owned */
    int nitems;               /* items in use */
    int *order;               /* valid items sorted by (room, epoch, seq) */
    int norder;               /* entries in order */
    int *by_stream;           /* items with an id, sorted by stream (for XACK) */
    ch_buf arr[NARR];         /* array literals of its INSERT, reused */
    reply_ref *src;           /* the reply its strings point into (one reference) */
    int in_flight;            /* its INSERT was sent; the result is not read yet */
    int64_t sent_us;          /* monotonic us when it was sent */
} chunk;

/* A committed event on its way to the snapshot thread. One allocation: the
 * strings live in text[] after the struct. Owned by whoever holds it. */
typedef struct {
    const char *rkind;        /* room kind (static, from wk_room_kind) */
    const char *room, *author, *session, *kind, *cid;
    long long seq, epoch, ts;
    json_t *payload;          /* owned */
    char text[];
} snap_ev;

/* A cached room state: the reduction of events 1..seq of epoch. */
typedef struct room_ent {
    char *room;               /* owned */
    const char *kind;         /* static string from wk_room_kind */
    long long epoch;
    long long seq;            /* last seq folded in (equals the state's "seq") */
    json_t *state;            /* owned */
    long long snap_seq;       /* seq of the newest snapshot saved or loaded (0: none) */
    int64_t snap_at;          /* monotonic ms of that save, or of the entry's creation */
    uint32_t hash;
    struct room_ent *hnext;            /* hash chain */
    struct room_ent *lprev, *lnext;    /* LRU list: head is the most recently used */
} room_ent;

/* A PostgreSQL connection and its reconnect state, used by one thread. */
typedef struct {
    PGconn *conn;             /* NULL while down; owned */
    int64_t next_try;         /* monotonic ms of the next connect attempt */
    int backoff;              /* current backoff in ms (0 after a success) */
    int64_t last_ok;          /* monotonic ms of the last statement that worked */
    int is_main;              /* 1: the persistence connection (drives pg_up) */
    const char *name;         /* application_name, and "who" in logs */
} pg_link;

/* Result of a PostgreSQL step. */
enum { PGS_OK = 0, PGS_CONN, PGS_TRANSIENT, PGS_DATA };

struct wk_persist {
    wk_persist_config cfg;    /* copy; the strings are borrowed from the caller */
    atomic_int stop;          /* set by wk_persist_stop */
    wk_metrics m;             /* shared counters and gauges */

    /* persistence thread */
    pthread_t thread;
    int thread_started;       /* thread is joinable */
    char **streams;           /* cfg.partitions stream names, owned */
    char (*pel_ids)[48];      /* per stream: last id re-read from our PEL */
    int pel_phase;            /* 1: re-reading our pending entries before ">" */
    const char **argv;        /* scratch argv for XREADGROUP / XACK (owned array; */
    size_t *argvlen;          /*  the strings are borrowed for one command) */
    size_t argv_cap;          /* slots in argv and argvlen */
    redisContext *rc;         /* NULL while Redis is down; owned */
    int64_t redis_next_try;   /* monotonic ms of the next connect attempt */
    int redis_backoff;        /* current backoff in ms (0 after a success) */
    int64_t redis_last_ok;    /* monotonic ms of the last command that worked */
    pg_link pg;               /* the events connection */
    int64_t next_housekeep;   /* monotonic ms of the next housekeeping round */
    int64_t next_claim;       /* monotonic ms of the next XAUTOCLAIM round */
    int64_t next_prune;       /* monotonic ms of the next consumer pruning */
    chunk chunks[2];          /* owned; filling and flight point into it */
    chunk *filling;           /* the chunk entries are read into */
    chunk *flight;            /* the chunk whose INSERT was sent (or is to be
                                 retried), or NULL; at most one statement is
                                 ever outstanding on pg */
    uint64_t malformed_seen;  /* for log rate limiting */

    /* queue between the threads: guarded by snap_mu */
    pthread_mutex_t snap_mu;
    pthread_cond_t snap_cv;   /* signalled when events arrive or on close */
    int snap_sync_ready;      /* mutex and condvar initialised */
    snap_ev **ring;           /* SNAP_QUEUE slots, owned with the events in them */
    unsigned ring_head;       /* oldest queued event */
    unsigned ring_count;      /* queued events */
    int snap_closing;         /* the snapshot thread should exit */

    /* snapshot thread */
    pthread_t snap_thread;
    int snap_started;         /* snap_thread is joinable */
    pg_link spg;              /* the snapshots connection */
    room_ent *buckets[CACHE_BUCKETS];  /* room cache: hash chains */
    room_ent *lru_head, *lru_tail;     /* room cache: recency list */
    int nrooms;               /* entries in the room cache */
};

/* ------------------------------------------------------------------ time */

static int
stopping(struct wk_persist *p)
{
    return atomic_load_explicit(&p->stop, memory_order_relaxed);
}

static void
nap_ms(int ms)
{
    if (ms <= 0) return;
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int
backoff_next(int cur)
{
    int n = cur < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : cur * 2;
    return n > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : n;
}

/* ------------------------------------------------------------------ helpers */

/* Strict decimal int64. */
static int
parse_ll(const char *s, size_t n, long long *out)
{
    if (n == 0 || n > 20) return 0;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1) return 0;
    }
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (!neg && v > (unsigned long long)LLONG_MAX) return 0;
    if (neg && v > (unsigned long long)LLONG_MAX + 1ULL) return 0;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 1;
}

/* A stream id "ms-seq" as two numbers; 0 if it is not one. */
static int
parse_id(const char *s, uint64_t *ms, uint64_t *sq)
{
    char *end;
    errno = 0;
    unsigned long long a = strtoull(s, &end, 10);
    if (end == s || errno != 0) return 0;
    unsigned long long b = 0;
    if (*end == '-') {
        const char *t = end + 1;
        b = strtoull(t, &end, 10);
        if (end == t || errno != 0) return 0;
    }
    if (*end != '\0') return 0;
    *ms = a;
    *sq = b;
    return 1;
}

/* -1, 0, 1 comparing two stream ids (unparsable ones count as 0-0). */
static int
cmp_id(const char *a, const char *b)
{
    uint64_t am = 0, as = 0, bm = 0, bs = 0;
    (void)parse_id(a, &am, &as);
    (void)parse_id(b, &bm, &bs);
    if (am != bm) return am < bm ? -1 : 1;
    if (as != bs) return as < bs ? -1 : 1;
    return 0;
}

static int
text_ok(const char *s, size_t n, size_t max, int allow_empty)
{
    if (n > max || (n == 0 && !allow_empty)) return 0;
    if (memchr(s, '\0', n) != NULL) return 0;
    return ch_utf8_valid((const uint8_t *)s, n);
}

/* Appends s as one element of a PostgreSQL text array literal. */
static void
arr_text(ch_buf *b, const char *s, size_t n)
{
    ch_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            ch_buf_append(b, s + run, i - run);
            ch_buf_append(b, "\\", 1);
            run = i;
        }
    }
    ch_buf_append(b, s + run, n - run);
    ch_buf_append(b, "\"", 1);
}

static void
arr_int(ch_buf *b, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    ch_buf_append(b, tmp, (size_t)n);
}

static int
ensure_argv(struct wk_persist *p, size_t n)
{
    if (n <= p->argv_cap) return 0;
    size_t cap = p->argv_cap ? p->argv_cap : 64;
    while (cap < n) cap *= 2;
    const char **a = realloc(p->argv, cap * sizeof(*a));
    if (a == NULL) return -1;
    p->argv = a;
    size_t *l = realloc(p->argvlen, cap * sizeof(*l));
    if (l == NULL) return -1;
    p->argvlen = l;
    p->argv_cap = cap;
    return 0;
}

static void
argv_set(struct wk_persist *p, size_t i, const char *s)
{
    p->argv[i] = s;
    p->argvlen[i] = strlen(s);
}

/* ------------------------------------------------------------------ redis */

static void
rd_drop(struct wk_persist *p, const char *why)
{
    if (p->rc != NULL) {
        CH_WARN("persist: redis connection lost", " err=\"%s\"",
                why ? why : (p->rc->err ? p->rc->errstr : "unknown"));
        redisFree(p->rc);
        p->rc = NULL;
    }
    atomic_fetch_add(&p->m.redis_errors, 1);
    atomic_store(&p->m.redis_up, 0);
    p->redis_backoff = backoff_next(p->redis_backoff);
    p->redis_next_try = ch_mono_ms() + p->redis_backoff;
}

/* Runs one command. Returns the reply (the caller frees it), or NULL after
 * a connection failure (the connection is then dropped). Error replies are
 * returned to the caller. */
static redisReply *
rd_cmd(struct wk_persist *p, int argc, const char **argv, const size_t *argvlen)
{
    if (p->rc == NULL) return NULL;
    redisReply *r = redisCommandArgv(p->rc, argc, argv, argvlen);
    if (r == NULL) {
        rd_drop(p, NULL);
        return NULL;
    }
    p->redis_last_ok = ch_mono_ms();
    return r;
}

/* rd_cmd with up to 16 NUL-terminated arguments. */
static redisReply *
rd_cmdv(struct wk_persist *p, int argc, ...)
{
    const char *argv[16];
    size_t lens[16];
    if (argc > 16) return NULL;
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        argv[i] = va_arg(ap, const char *);
        lens[i] = strlen(argv[i]);
    }
    va_end(ap);
    return rd_cmd(p, argc, argv, lens);
}

static int
is_error(const redisReply *r, const char *prefix)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR &&
           (prefix == NULL || strncmp(r->str, prefix, strlen(prefix)) == 0);
}

static void
rd_connect(struct wk_persist *p)
{
    const wk_persist_config *c = &p->cfg;
    struct timeval tv = { 2, 0 };
    redisContext *rc = redisConnectWithTimeout(c->redis_host, c->redis_port, tv);
    if (rc == NULL || rc->err) {
        if (p->redis_backoff == 0 || p->redis_backoff >= BACKOFF_MAX_MS)
            CH_WARN("persist: cannot connect to redis", " addr=%s:%d err=\"%s\"", c->redis_host,
                    c->redis_port, rc ? rc->errstr : "out of memory");
        if (rc) redisFree(rc);
        rd_drop(p, NULL);
        return;
    }
    int cmd_ms = c->batch_ms + 5000;     /* a read may block batch_ms */
    struct timeval ctv = { cmd_ms / 1000, (cmd_ms % 1000) * 1000 };
    if (redisSetTimeout(rc, ctv) != REDIS_OK || redisEnableKeepAlive(rc) != REDIS_OK) {
        redisFree(rc);
        rd_drop(p, NULL);
        return;
    }
    p->rc = rc;

    redisReply *r;
    if (c->redis_password != NULL && c->redis_password[0] != '\0') {
        r = rd_cmdv(p, 2, "AUTH", c->redis_password);
        if (r == NULL) return;
        if (r->type == REDIS_REPLY_ERROR) {
            CH_ERROR("persist: redis AUTH refused", " err=\"%s\"", r->str);
            freeReplyObject(r);
            rd_drop(p, "AUTH refused");
            return;
        }
        freeReplyObject(r);
    }
    for (unsigned i = 0; i < c->partitions; i++) {
        r = rd_cmdv(p, 6, "XGROUP", "CREATE", p->streams[i], c->group, "0", "MKSTREAM");
        if (r == NULL) return;
        if (r->type == REDIS_REPLY_ERROR && !is_error(r, "BUSYGROUP")) {
            CH_ERROR("persist: XGROUP CREATE failed", " stream=%s err=\"%s\"", p->streams[i],
                     r->str);
            freeReplyObject(r);
            rd_drop(p, "XGROUP CREATE failed");
            return;
        }
        freeReplyObject(r);
    }
    /* Our own pending entries first: delivered earlier but never acked. */
    p->pel_phase = 1;
    for (unsigned i = 0; i < c->partitions; i++)
        snprintf(p->pel_ids[i], sizeof(p->pel_ids[i]), "0");
    p->redis_backoff = 0;
    atomic_store(&p->m.redis_up, 1);
    CH_INFO("persist: redis connected", " addr=%s:%d streams=%u group=%s consumer=%s",
            c->redis_host, c->redis_port, c->partitions, c->group, c->consumer);
}

/* ------------------------------------------------------------------ postgres */

static const char SQL_INSERT[] =
    "INSERT INTO events (room, epoch, seq, author, type, cid, payload, created_at) "
    "SELECT r, e, s, a, k, c, p::jsonb, timestamptz 'epoch' + t * interval '1 millisecond' "
    "FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::int8[]) AS u(r, e, s, a, k, c, p, t) "
    "ON CONFLICT DO NOTHING";

static const char SQL_CHECK[] =
    "SELECT u.i, ev.author, ev.cid "
    "FROM unnest($1::text[], $2::int8[], $3::int8[]) WITH ORDINALITY AS u(r, e, s, i) "
    "JOIN events ev ON ev.room = u.r AND ev.epoch = u.e AND ev.seq = u.s";

static const char SQL_CONFLICT[] =
    "INSERT INTO events_conflicts (room, epoch, seq, author, type, cid, payload, created_at, "
    "session, stream_id) VALUES ($1, $2::int8, $3::int8, $4, $5, $6, $7::jsonb, "
    "timestamptz 'epoch' + $8::int8 * interval '1 millisecond', $9, $10) "
    "ON CONFLICT DO NOTHING";

static const char SQL_SNAP_GET[] =
    "SELECT seq, state FROM snapshots WHERE room = $1 AND epoch = $2::int8 "
    "ORDER BY seq DESC LIMIT 1";

static const char SQL_EVENTS_AFTER[] =
    "SELECT seq, author, type, cid, payload::text, "
    "(extract(epoch FROM created_at) * 1000)::int8 "
    "FROM events WHERE room = $1 AND epoch = $2::int8 AND seq > $3::int8 "
    "ORDER BY seq LIMIT $4::int8";

static const char SQL_SNAP_PUT[] =
    "INSERT INTO snapshots (room, epoch, seq, state) VALUES ($1, $2::int8, $3::int8, $4) "
    "ON CONFLICT DO NOTHING";

#define STR_(x) #x
#define STR(x) STR_(x)
static const char SQL_SNAP_TRIM[] =
    "DELETE FROM snapshots WHERE room = $1 AND (epoch, seq) IN ("
    "SELECT epoch, seq FROM snapshots WHERE room = $1 "
    "ORDER BY epoch DESC, seq DESC OFFSET " STR(SNAPSHOTS_KEPT) ")";

typedef struct {
    const char *name, *sql;
    int nparams;
} stmt_def;

static const stmt_def main_stmts[] = {
    { "wk_ins", SQL_INSERT, 8 },
    { "wk_chk", SQL_CHECK, 3 },
    { "wk_conf", SQL_CONFLICT, 10 },
};

static const stmt_def snap_stmts[] = {
    { "wk_snap_get", SQL_SNAP_GET, 2 },
    { "wk_ev_after", SQL_EVENTS_AFTER, 4 },
    { "wk_snap_put", SQL_SNAP_PUT, 4 },
    { "wk_snap_trim", SQL_SNAP_TRIM, 1 },
};

/* Copies a libpq message onto one line without quotes. */
static const char *
one_line(const char *in, char *buf, size_t n)
{
    snprintf(buf, n, "%s", in ? in : "out of memory");
    for (char *s = buf; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t' || *s == '"') *s = ' ';
    size_t l = strlen(buf);
    while (l > 0 && buf[l - 1] == ' ') buf[--l] = '\0';
    return buf;
}

static void
pg_drop(struct wk_persist *p, pg_link *l, const char *why)
{
    if (l->conn != NULL) {
        CH_WARN("persist: postgres connection lost", " conn=%s err=\"%s\"", l->name,
                why ? why : "");
        PQfinish(l->conn);
        l->conn = NULL;
    }
    if (l->is_main) atomic_store(&p->m.pg_up, 0);
    l->backoff = backoff_next(l->backoff);
    l->next_try = ch_mono_ms() + l->backoff;
}

/* Classifies a failed result (r may be NULL) and counts the error; drops
 * the connection when it is the connection that failed. */
static int
pg_classify(struct wk_persist *p, pg_link *l, PGresult *r, const char *what)
{
    atomic_fetch_add(&p->m.pg_errors, 1);
    char msg[512];
    /* The primary message only: DETAIL lines may quote row data. */
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    one_line(primary ? primary : (l->conn ? PQerrorMessage(l->conn) : NULL), msg, sizeof(msg));
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (l->conn == NULL || PQstatus(l->conn) != CONNECTION_OK || state == NULL ||
        strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
        pg_drop(p, l, msg);
        return PGS_CONN;
    }
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) {
        CH_WARN("persist: data refused by postgres", " step=%s sqlstate=%s err=\"%s\"", what,
                state, msg);
        return PGS_DATA;
    }
    CH_WARN("persist: postgres error", " conn=%s step=%s sqlstate=%s err=\"%s\"", l->name, what,
            state, msg);
    return PGS_TRANSIENT;
}

/* One connection attempt; prepares stmts. On failure schedules the next. */
static void
pg_connect(struct wk_persist *p, pg_link *l, const stmt_def *stmts, size_t nstmts)
{
    /* Keywords before dbname are defaults: the caller's conninfo (expanded
     * from dbname) overrides them. */
    const char *kw[] = { "connect_timeout", "keepalives_idle", "keepalives_interval",
                         "keepalives_count", "application_name", "dbname", NULL };
    const char *val[] = { "5", "30", "10", "3", l->name, p->cfg.pg_conninfo, NULL };
    PGconn *c = PQconnectdbParams(kw, val, 1);
    char msg[512];
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        if (l->backoff == 0 || l->backoff >= BACKOFF_MAX_MS)
            CH_WARN("persist: cannot connect to postgres", " conn=%s err=\"%s\"", l->name,
                    one_line(c ? PQerrorMessage(c) : NULL, msg, sizeof(msg)));
        goto fail;
    }
    if (PQsetClientEncoding(c, "UTF8") != 0) goto setup_failed;
    PGresult *r = PQexec(c, "SET statement_timeout = '60s'");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) goto setup_failed;
    for (size_t i = 0; i < nstmts; i++) {
        r = PQprepare(c, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) goto setup_failed;
    }
    l->conn = c;
    l->backoff = 0;
    l->last_ok = ch_mono_ms();
    if (l->is_main) atomic_store(&p->m.pg_up, 1);
    CH_INFO("persist: postgres connected", " conn=%s", l->name);
    return;
setup_failed:
    CH_WARN("persist: postgres session setup failed", " conn=%s err=\"%s\"", l->name,
            one_line(PQerrorMessage(c), msg, sizeof(msg)));
fail:
    if (c) PQfinish(c);
    atomic_fetch_add(&p->m.pg_errors, 1);
    pg_drop(p, l, NULL);
}

static PGresult *
pg_exec(pg_link *l, const char *stmt, int n, const char *const *vals)
{
    PGresult *r = PQexecPrepared(l->conn, stmt, n, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) l->last_ok = ch_mono_ms();
    return r;
}

/* Runs "SELECT 1" if the connection was idle for PROBE_MS. */
static void
pg_probe(struct wk_persist *p, pg_link *l)
{
    if (l->conn == NULL || ch_mono_ms() - l->last_ok < PROBE_MS) return;
    PGresult *r = PQexec(l->conn, "SELECT 1");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) l->last_ok = ch_mono_ms();
    else pg_classify(p, l, r, "probe");
    PQclear(r);
}

static void streams_maintain(struct wk_persist *p);

/* Waits (with backoff) until the persistence connection is up. 0, or -1 if
 * asked to stop meanwhile. Meanwhile the streams are still maintained (lag
 * gauges, trimming), which also probes Redis. */
static int
pg_wait(struct wk_persist *p)
{
    while (p->pg.conn == NULL) {
        if (stopping(p)) return -1;
        int64_t now = ch_mono_ms();
        if (now >= p->pg.next_try) {
            pg_connect(p, &p->pg, main_stmts, sizeof(main_stmts) / sizeof(main_stmts[0]));
            continue;
        }
        if (p->rc != NULL && now - p->redis_last_ok >= PROBE_MS) {
            streams_maintain(p);
            p->redis_last_ok = ch_mono_ms();
        }
        int64_t wait = p->pg.next_try - now;
        nap_ms(wait > 50 ? 50 : (int)wait);
    }
    return 0;
}

/* ================================================================== snapshot thread */

/* ------------------------------------------------------------------ room cache */

static uint32_t
hash_room(const char *s)
{
    return ch_fnv1a(s, strlen(s));
}

static void
lru_unlink(struct wk_persist *p, room_ent *e)
{
    if (e->lprev) e->lprev->lnext = e->lnext;
    else p->lru_head = e->lnext;
    if (e->lnext) e->lnext->lprev = e->lprev;
    else p->lru_tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void
lru_push_front(struct wk_persist *p, room_ent *e)
{
    e->lprev = NULL;
    e->lnext = p->lru_head;
    if (p->lru_head) p->lru_head->lprev = e;
    p->lru_head = e;
    if (p->lru_tail == NULL) p->lru_tail = e;
}

/* The room's entry (made the most recently used), or NULL. */
static room_ent *
cache_find(struct wk_persist *p, const char *room)
{
    uint32_t h = hash_room(room);
    for (room_ent *e = p->buckets[h & (CACHE_BUCKETS - 1)]; e; e = e->hnext) {
        if (e->hash == h && strcmp(e->room, room) == 0) {
            lru_unlink(p, e);
            lru_push_front(p, e);
            return e;
        }
    }
    return NULL;
}

static void
cache_remove(struct wk_persist *p, room_ent *e)
{
    room_ent **pp = &p->buckets[e->hash & (CACHE_BUCKETS - 1)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(p, e);
    json_decref(e->state);
    free(e->room);
    free(e);
    p->nrooms--;
    atomic_store(&p->m.cache_rooms, p->nrooms);
}

/* A new entry without a state, evicting the least recently used room if the
 * cache is full (unsaved changes of an evicted room are rebuilt from
 * PostgreSQL when it comes back). NULL when out of memory. */
static room_ent *
cache_add(struct wk_persist *p, const char *room, const char *kind)
{
    if (p->nrooms >= WK_PERSIST_CACHE_ROOMS && p->lru_tail != NULL) cache_remove(p, p->lru_tail);
    room_ent *e = calloc(1, sizeof(*e));
    if (e == NULL) return NULL;
    e->room = strdup(room);
    if (e->room == NULL) {
        free(e);
        return NULL;
    }
    e->kind = kind;
    e->hash = hash_room(room);
    room_ent **b = &p->buckets[e->hash & (CACHE_BUCKETS - 1)];
    e->hnext = *b;
    *b = e;
    lru_push_front(p, e);
    p->nrooms++;
    atomic_store(&p->m.cache_rooms, p->nrooms);
    return e;
}

/* ------------------------------------------------------------------ snapshots */

/* Saves e's state as a snapshot (its canonical text: sorted keys, shortest
 * reals, as the API serves it) and keeps only the newest SNAPSHOTS_KEPT.
 * Returns a PGS_* status. */
static int
snapshot_save(struct wk_persist *p, room_ent *e)
{
    char *text = ch_json_dumps(e->state, CH_JSON_SORT_KEYS, NULL);
    if (text == NULL) {
        atomic_fetch_add(&p->m.snapshot_errors, 1);
        return PGS_TRANSIENT;
    }
    char ep[24], sq[24];
    snprintf(ep, sizeof(ep), "%lld", e->epoch);
    snprintf(sq, sizeof(sq), "%lld", e->seq);
    const char *v[4] = { e->room, ep, sq, text };
    PGresult *r = pg_exec(&p->spg, "wk_snap_put", 4, v);
    free(text);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        int st = pg_classify(p, &p->spg, r, "snapshot insert");
        PQclear(r);
        atomic_fetch_add(&p->m.snapshot_errors, 1);
        return st;
    }
    PQclear(r);
    const char *tv[1] = { e->room };
    r = pg_exec(&p->spg, "wk_snap_trim", 1, tv);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        int st = pg_classify(p, &p->spg, r, "snapshot trim");
        PQclear(r);
        return st;
    }
    PQclear(r);
    e->snap_seq = e->seq;
    e->snap_at = ch_mono_ms();
    atomic_fetch_add(&p->m.snapshots, 1);
    CH_DEBUG("persist: snapshot saved", " room=%s epoch=%lld seq=%lld", e->room, e->epoch, e->seq);
    return PGS_OK;
}

/* Folds one wire event into e. Returns 0, or -1 if the reducer failed (the
 * entry is then removed: its state is unspecified). */
static int
room_fold(struct wk_persist *p, room_ent *e, json_t *ev, long long seq)
{
    int rc = ev ? wk_reduce(e->kind, e->state, ev) : WK_ERROR;
    if (rc == WK_ERROR) {
        CH_WARN("persist: reducer failed, room state dropped", " room=%s seq=%lld", e->room, seq);
        atomic_fetch_add(&p->m.snapshot_errors, 1);
        cache_remove(p, e);
        return -1;
    }
    e->seq = seq;
    return 0;
}

/* The wire event object the reducers take; NULL when out of memory. */
static json_t *
event_new(const char *room, long long seq, long long epoch, long long ts, const char *author,
          const char *session, const char *kind, const char *cid, json_t *payload)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:O}", "type", "event",
                     "room", room, "seq", (json_int_t)seq, "epoch", (json_int_t)epoch, "ts",
                     (json_int_t)ts, "author", author, "session", session, "kind", kind, "cid",
                     cid, "payload", payload);
}

/* Brings room's state for epoch up to date from PostgreSQL: from the entry
 * itself when it is in that epoch, else from the newest snapshot of
 * (room, epoch) or an empty state; then the events after it, up to the first
 * gap. Returns the entry, or NULL (entry dropped) on a database or reducer
 * failure; *pgs receives the PGS_* status. */
static room_ent *
room_rebuild(struct wk_persist *p, room_ent *e, const char *room, const char *kind,
             long long epoch, int *pgs)
{
    char ep[24], after[24], lim[24];
    *pgs = PGS_OK;
    atomic_fetch_add(&p->m.rebuilds, 1);
    snprintf(ep, sizeof(ep), "%lld", epoch);
    if (e == NULL || e->epoch != epoch) {
        json_t *state = NULL;
        long long seq = 0;
        const char *v[2] = { room, ep };
        PGresult *r = pg_exec(&p->spg, "wk_snap_get", 2, v);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            *pgs = pg_classify(p, &p->spg, r, "snapshot read");
            PQclear(r);
            if (e) cache_remove(p, e);
            return NULL;
        }
        if (PQntuples(r) == 1) {
            long long s = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            json_error_t jerr;
            json_t *st = json_loads(PQgetvalue(r, 0, 1), 0, &jerr);
            json_t *sv = st ? json_object_get(st, "seq") : NULL;
            if (json_is_object(st) && json_is_integer(sv) && json_integer_value(sv) == s) {
                state = st;
                seq = s;
            } else {
                CH_WARN("persist: unusable snapshot ignored", " room=%s epoch=%lld seq=%lld", room,
                        epoch, s);
                json_decref(st);
            }
        }
        PQclear(r);
        if (state == NULL) state = wk_state_new(kind);
        if (state == NULL) {
            if (e) cache_remove(p, e);
            return NULL;
        }
        if (e == NULL) e = cache_add(p, room, kind);
        if (e == NULL) {
            json_decref(state);
            return NULL;
        }
        json_decref(e->state);
        e->state = state;
        e->epoch = epoch;
        e->seq = seq;
        e->snap_seq = seq;
        e->snap_at = ch_mono_ms();
    }
    snprintf(lim, sizeof(lim), "%d", REBUILD_PAGE);
    for (;;) {
        snprintf(after, sizeof(after), "%lld", e->seq);
        const char *v[4] = { room, ep, after, lim };
        PGresult *r = pg_exec(&p->spg, "wk_ev_after", 4, v);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            *pgs = pg_classify(p, &p->spg, r, "events read");
            PQclear(r);
            cache_remove(p, e);
            return NULL;
        }
        int n = PQntuples(r), gap = 0;
        for (int i = 0; i < n; i++) {
            long long seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            if (seq != e->seq + 1) {
                gap = 1;              /* not persisted yet (another worker's batch) */
                break;
            }
            json_error_t jerr;
            json_t *pl = json_loads(PQgetvalue(r, i, 4), JSON_DECODE_ANY, &jerr);
            json_t *ev = pl ? event_new(room, seq, epoch, strtoll(PQgetvalue(r, i, 5), NULL, 10),
                                        PQgetvalue(r, i, 1), "", PQgetvalue(r, i, 2),
                                        PQgetvalue(r, i, 3), pl)
                            : NULL;
            json_decref(pl);
            int fr = room_fold(p, e, ev, seq);
            json_decref(ev);
            if (fr < 0) {
                PQclear(r);
                return NULL;
            }
        }
        PQclear(r);
        if (gap || n < REBUILD_PAGE) break;
    }
    return e;
}

/* Folds one committed event into its room's state and saves a snapshot when
 * one is due. Returns a PGS_* status (PGS_CONN: PostgreSQL went away). */
static int
room_apply(struct wk_persist *p, const snap_ev *ev)
{
    room_ent *e = cache_find(p, ev->room);
    if (e != NULL && (ev->epoch < e->epoch || (ev->epoch == e->epoch && ev->seq <= e->seq)))
        return PGS_OK;                       /* an older epoch, or already folded in */
    if (e == NULL || ev->epoch != e->epoch || ev->seq != e->seq + 1) {
        int st;
        e = room_rebuild(p, e, ev->room, ev->rkind, ev->epoch, &st);
        if (e == NULL) return st;
        if (ev->seq <= e->seq) goto snap;    /* the rebuild read it from PostgreSQL */
        if (ev->seq != e->seq + 1) return PGS_OK;   /* earlier events not in PostgreSQL yet */
    }
    {
        json_t *wire = event_new(ev->room, ev->seq, ev->epoch, ev->ts, ev->author, ev->session,
                                 ev->kind, ev->cid, ev->payload);
        int fr = room_fold(p, e, wire, ev->seq);
        json_decref(wire);
        if (fr < 0) return PGS_OK;
    }
snap:
    if (e->seq - e->snap_seq >= p->cfg.snapshot_every) return snapshot_save(p, e);
    return PGS_OK;
}

/* Saves the rooms whose newest snapshot is older than snapshot_seconds. */
static void
snapshots_by_time(struct wk_persist *p)
{
    int64_t now = ch_mono_ms();
    int64_t age = (int64_t)p->cfg.snapshot_seconds * 1000;
    for (room_ent *e = p->lru_head; e != NULL && p->spg.conn != NULL; e = e->lnext) {
        if (e->seq > e->snap_seq && now - e->snap_at >= age) {
            if (snapshot_save(p, e) == PGS_CONN) return;
        }
    }
}

/* ------------------------------------------------------------------ queue */

static void
snap_ev_free(snap_ev *ev)
{
    if (ev == NULL) return;
    json_decref(ev->payload);
    free(ev);
}

/* A queued copy of a committed item; takes over it->pj. NULL when out of memory. */
static snap_ev *
snap_ev_new(pitem *it, const char *rkind)
{
    size_t lr = strlen(it->room) + 1, la = strlen(it->author) + 1, ls = strlen(it->session) + 1,
           lk = strlen(it->kind) + 1, lc = strlen(it->cid) + 1;
    snap_ev *ev = malloc(sizeof(*ev) + lr + la + ls + lk + lc);
    if (ev == NULL) return NULL;
    char *t = ev->text;
    ev->room = memcpy(t, it->room, lr);
    ev->author = memcpy(t += lr, it->author, la);
    ev->session = memcpy(t += la, it->session, ls);
    ev->kind = memcpy(t += ls, it->kind, lk);
    ev->cid = memcpy(t += lk, it->cid, lc);
    ev->rkind = rkind;
    ev->seq = it->seq;
    ev->epoch = it->epoch;
    ev->ts = it->ts;
    ev->payload = it->pj;
    it->pj = NULL;
    return ev;
}

/* Hands c's committed events of reducible rooms to the snapshot thread;
 * what does not fit in the queue is dropped (and rebuilt later). */
static void
snap_push_chunk(struct wk_persist *p, chunk *c)
{
    uint64_t dropped = 0;
    int pushed = 0;
    pthread_mutex_lock(&p->snap_mu);
    for (int k = 0; k < c->norder; k++) {
        pitem *it = &c->items[c->order[k]];
        if (it->state != IT_OK) continue;
        const char *rkind = wk_room_kind(it->room);
        if (rkind == NULL) continue;
        if (p->ring_count == SNAP_QUEUE || p->snap_closing) {
            dropped++;
            continue;
        }
        snap_ev *ev = snap_ev_new(it, rkind);
        if (ev == NULL) {
            dropped++;
            continue;
        }
        p->ring[(p->ring_head + p->ring_count) % SNAP_QUEUE] = ev;
        p->ring_count++;
        pushed++;
    }
    if (pushed) pthread_cond_signal(&p->snap_cv);
    pthread_mutex_unlock(&p->snap_mu);
    if (dropped) atomic_fetch_add(&p->m.snap_dropped, dropped);
}

static void *
snap_main(void *arg)
{
    struct wk_persist *p = arg;
    snap_ev *batch[SNAP_POP];
    int64_t next_timer = ch_mono_ms() + HOUSEKEEP_MS;
    for (;;) {
        int n = 0, closing;
        pthread_mutex_lock(&p->snap_mu);
        while (p->ring_count == 0 && !p->snap_closing) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += 200 * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&p->snap_cv, &p->snap_mu, &dl) == ETIMEDOUT) break;
        }
        closing = p->snap_closing;
        while (n < SNAP_POP && p->ring_count > 0) {
            batch[n++] = p->ring[p->ring_head];
            p->ring_head = (p->ring_head + 1) % SNAP_QUEUE;
            p->ring_count--;
        }
        pthread_mutex_unlock(&p->snap_mu);

        if (closing) {               /* stopping: what is queued is in PostgreSQL already */
            for (int i = 0; i < n; i++) snap_ev_free(batch[i]);
            break;
        }
        int64_t now = ch_mono_ms();
        if (p->spg.conn == NULL && now >= p->spg.next_try)
            pg_connect(p, &p->spg, snap_stmts, sizeof(snap_stmts) / sizeof(snap_stmts[0]));
        for (int i = 0; i < n; i++) {
            /* Without a connection the event is skipped; the room's next
             * event then sees a gap and catches up from PostgreSQL. */
            if (p->spg.conn != NULL) (void)room_apply(p, batch[i]);
            snap_ev_free(batch[i]);
        }
        if (now >= next_timer) {
            /* The probe finds a connection PostgreSQL closed while idle
             * before an event needs it. */
            pg_probe(p, &p->spg);
            if (p->spg.conn != NULL) snapshots_by_time(p);
            next_timer = ch_mono_ms() + HOUSEKEEP_MS;
        }
    }
    while (p->lru_head) cache_remove(p, p->lru_head);
    if (p->spg.conn) {
        PQfinish(p->spg.conn);
        p->spg.conn = NULL;
    }
    return NULL;
}

/* ================================================================== persistence thread */

/* ------------------------------------------------------------------ entries */

static void
malformed(struct wk_persist *p, pitem *it, const char *why)
{
    it->state = IT_MALFORMED;
    json_decref(it->pj);
    it->pj = NULL;
    atomic_fetch_add(&p->m.malformed, 1);
    uint64_t n = ++p->malformed_seen;
    if (n <= MALFORMED_LOG_FIRST || n % 1000 == 0)
        CH_WARN("persist: malformed entry acknowledged and skipped",
                " stream=%s id=%s reason=\"%s\" malformed_total=%" PRIu64,
                p->streams[it->stream], it->id, why, n);
}

#define BAD(why) do { malformed(p, it, why); return; } while (0)

/* The id of an entry Redis did not give one (never acked). */
static const char no_id[] = "?";

/* Fills it from a stream entry [id, [field, value, ...]] and validates it. */
static void
item_parse(struct wk_persist *p, pitem *it, unsigned stream, const redisReply *entry)
{
    memset(it, 0, sizeof(*it));
    it->stream = stream;
    it->id = no_id;
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
        BAD("not a stream entry");
    it->id = entry->element[0]->str;
    const redisReply *f = entry->element[1];
    if (f->type != REDIS_REPLY_ARRAY) BAD("entry deleted before it was persisted");
    const redisReply *room = NULL, *seq = NULL, *epoch = NULL, *author = NULL, *kind = NULL,
                     *cid = NULL, *ts = NULL, *payload = NULL, *session = NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        const char *s = k->str;
        switch (k->len) {
        case 2: if (memcmp(s, "ts", 2) == 0) ts = v; break;
        case 3:
            if (memcmp(s, "seq", 3) == 0) seq = v;
            else if (memcmp(s, "cid", 3) == 0) cid = v;
            break;
        case 4:
            if (memcmp(s, "room", 4) == 0) room = v;
            else if (memcmp(s, "kind", 4) == 0) kind = v;
            break;
        case 5: if (memcmp(s, "epoch", 5) == 0) epoch = v; break;
        case 6: if (memcmp(s, "author", 6) == 0) author = v; break;
        case 7:
            if (memcmp(s, "payload", 7) == 0) payload = v;
            else if (memcmp(s, "session", 7) == 0) session = v;
            break;
        default: break;
        }
    }
    if (!room || !seq || !epoch || !author || !kind || !ts || !payload) BAD("missing field");
    if (!ch_room_valid(room->str, room->len)) BAD("invalid room");
    if (!ch_kind_valid(kind->str, kind->len)) BAD("invalid kind");
    if (!text_ok(author->str, author->len, AUTHOR_MAX, 0)) BAD("invalid author");
    if (cid && !text_ok(cid->str, cid->len, CH_CID_MAX, 1)) BAD("invalid cid");
    if (session && !text_ok(session->str, session->len, SESSION_MAX, 1)) BAD("invalid session");
    if (!parse_ll(seq->str, seq->len, &it->seq) || it->seq < 1) BAD("invalid seq");
    if (!parse_ll(epoch->str, epoch->len, &it->epoch) || it->epoch < 0) BAD("invalid epoch");
    if (!parse_ll(ts->str, ts->len, &it->ts) || it->ts < 0 || it->ts > 253402300799999LL)
        BAD("invalid ts");
    json_error_t jerr;
    it->pj = json_loadb(payload->str, payload->len, JSON_DECODE_ANY, &jerr);
    if (it->pj == NULL) BAD("payload is not JSON");
    it->room = room->str;
    it->kind = kind->str;
    it->author = author->str;
    it->cid = cid ? cid->str : "";
    it->session = session ? session->str : "";
    it->payload = payload->str;
    it->payload_len = payload->len;
    it->state = IT_OK;
}

#undef BAD

/* ------------------------------------------------------------------ chunks
 *
 *   filling ──full or end of reply──► chunk_submit: complete the flight
 *                                     (if any), then send this chunk's
 *                                     INSERT and make it the flight
 *   flight ──chunk_complete──► read the result (retry synchronously on
 *                              error) ─► conflicts ─► XACK ─► snapshot queue
 *
 * While a chunk's INSERT runs in PostgreSQL, the next reply is read from
 * Redis and parsed into the other chunk. Only one statement is ever
 * outstanding on the events connection.
 */

static void
rref_put(reply_ref *rr)
{
    if (rr != NULL && --rr->refs == 0) {
        freeReplyObject(rr->reply);
        free(rr);
    }
}

/* Empties c (its payloads and its reference to the reply). Its INSERT
 * result must have been read. */
static void
chunk_clear(chunk *c)
{
    for (int i = 0; i < c->nitems; i++) {
        json_decref(c->items[i].pj);
        c->items[i].pj = NULL;
    }
    c->nitems = 0;
    c->norder = 0;
    rref_put(c->src);
    c->src = NULL;
}

static int
cmp_key(const void *a, const void *b, void *ctx)
{
    const pitem *items = ctx;
    const pitem *x = &items[*(const int *)a], *y = &items[*(const int *)b];
    int c = strcmp(x->room, y->room);
    if (c) return c;
    if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return 0;
}

static int
cmp_stream(const void *a, const void *b, void *ctx)
{
    const pitem *items = ctx;
    int ia = *(const int *)a, ib = *(const int *)b;
    unsigned x = items[ia].stream, y = items[ib].stream;
    if (x != y) return x < y ? -1 : 1;
    return (ia > ib) - (ia < ib);
}

/* Lists c's valid items in key order: index-friendly, and two writers
 * never lock rows in opposite orders. */
static void
chunk_order(chunk *c)
{
    c->norder = 0;
    for (int i = 0; i < c->nitems; i++)
        if (c->items[i].state == IT_OK) c->order[c->norder++] = i;
    qsort_r(c->order, (size_t)c->norder, sizeof(int), cmp_key, c->items);
}

/* Builds the eight array literals from c's items idx[0..n-1]. */
static int
build_arrays(chunk *c, const int *idx, int n)
{
    for (int a = 0; a < NARR; a++) {
        ch_buf_reset(&c->arr[a]);
        ch_buf_append(&c->arr[a], "{", 1);
    }
    for (int k = 0; k < n; k++) {
        const pitem *it = &c->items[idx[k]];
        if (k > 0)
            for (int a = 0; a < NARR; a++) ch_buf_append(&c->arr[a], ",", 1);
        arr_text(&c->arr[0], it->room, strlen(it->room));
        arr_int(&c->arr[1], it->epoch);
        arr_int(&c->arr[2], it->seq);
        arr_text(&c->arr[3], it->author, strlen(it->author));
        arr_text(&c->arr[4], it->kind, strlen(it->kind));
        arr_text(&c->arr[5], it->cid, strlen(it->cid));
        arr_text(&c->arr[6], it->payload, it->payload_len);
        arr_int(&c->arr[7], it->ts);
    }
    int oom = 0;
    for (int a = 0; a < NARR; a++) {
        ch_buf_append(&c->arr[a], "}", 1);
        oom |= c->arr[a].oom;
    }
    if (oom) {
        /* Start the buffers afresh: an out-of-memory buffer stays unusable. */
        for (int a = 0; a < NARR; a++) {
            ch_buf_free(&c->arr[a]);
            ch_buf_init(&c->arr[a]);
        }
        CH_ERROR("persist: out of memory building a batch", " events=%d", n);
        return -1;
    }
    return 0;
}

/* One synchronous INSERT of c's items idx[0..n-1]; *inserted receives the
 * new row count. */
static int
pg_insert(struct wk_persist *p, chunk *c, const int *idx, int n, long *inserted)
{
    if (build_arrays(c, idx, n) < 0) return PGS_TRANSIENT;
    const char *v[NARR];
    for (int a = 0; a < NARR; a++) v[a] = c->arr[a].data;
    PGresult *r = pg_exec(&p->pg, "wk_ins", NARR, v);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        int st = pg_classify(p, &p->pg, r, "insert events");
        PQclear(r);
        return st;
    }
    *inserted = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return PGS_OK;
}

/* Called when fewer rows were inserted than events sent: finds the events
 * whose (room, epoch, seq) row holds another event (author or cid differ),
 * stores them in events_conflicts and marks them IT_CONFLICT. *nconf
 * receives their count. */
static int
pg_conflicts(struct wk_persist *p, chunk *c, int *nconf)
{
    *nconf = 0;
    if (build_arrays(c, c->order, c->norder) < 0) return PGS_TRANSIENT;
    const char *v[3] = { c->arr[0].data, c->arr[1].data, c->arr[2].data };
    PGresult *r = pg_exec(&p->pg, "wk_chk", 3, v);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int st = pg_classify(p, &p->pg, r, "conflict check");
        PQclear(r);
        return st;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        long k = strtol(PQgetvalue(r, i, 0), NULL, 10) - 1;
        if (k < 0 || k >= c->norder) continue;
        pitem *it = &c->items[c->order[k]];
        if (strcmp(PQgetvalue(r, i, 1), it->author) != 0 || strcmp(PQgetvalue(r, i, 2), it->cid) != 0)
            it->state = IT_CONFLICT;
    }
    PQclear(r);
    for (int k = 0; k < c->norder; k++) {
        pitem *it = &c->items[c->order[k]];
        if (it->state != IT_CONFLICT) continue;
        (*nconf)++;
        char ep[24], sq[24], ts[24];
        snprintf(ep, sizeof(ep), "%lld", it->epoch);
        snprintf(sq, sizeof(sq), "%lld", it->seq);
        snprintf(ts, sizeof(ts), "%lld", it->ts);
        const char *cv[10] = { it->room, ep, sq, it->author, it->kind, it->cid, it->payload, ts,
                               it->session, it->id };
        r = pg_exec(&p->pg, "wk_conf", 10, cv);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            int st = pg_classify(p, &p->pg, r, "store conflict");
            PQclear(r);
            if (st != PGS_DATA) return st;
            malformed(p, it, "conflicting event refused by postgres");
            continue;
        }
        if (strtol(PQcmdTuples(r), NULL, 10) > 0) {   /* not a replay of a stored conflict */
            atomic_fetch_add(&p->m.seq_conflicts, 1);
            CH_ERROR("persist: sequence conflict: (room, epoch, seq) already holds another "
                     "event, so Redis lost acknowledged writes; event kept in events_conflicts",
                     " room=%s epoch=%lld seq=%lld author=\"%s\" cid=\"%s\" id=%s", it->room,
                     it->epoch, it->seq, it->author, it->cid, it->id);
        }
        PQclear(r);
    }
    return PGS_OK;
}


/* Runs ch_lua_new_epoch once per conflicting (room, epoch) of c. 0, or -1 if
 * Redis failed. */
static int
redis_new_epochs(struct wk_persist *p, chunk *c)
{
    const char *last_room = NULL;
    long long last_epoch = -1;
    for (int k = 0; k < c->norder; k++) {
        const pitem *it = &c->items[c->order[k]];
        if (it->state != IT_CONFLICT) continue;
        if (last_room && strcmp(last_room, it->room) == 0 && last_epoch == it->epoch) continue;
        last_room = it->room;
        last_epoch = it->epoch;
        ch_room_keys keys;
        ch_room_keys_build(&keys, it->room, p->cfg.partitions);
        char ep[24];
        snprintf(ep, sizeof(ep), "%lld", it->epoch);
        redisReply *r = rd_cmdv(p, 6, "EVAL", ch_lua_new_epoch, "2", keys.meta, keys.stream, ep);
        if (r == NULL) return -1;
        if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
            CH_ERROR("persist: room moved to a new epoch after a sequence conflict",
                     " room=%s old_epoch=%lld new_epoch=%lld", it->room, it->epoch, r->integer);
        else if (r->type == REDIS_REPLY_ERROR)
            CH_ERROR("persist: new-epoch script failed", " room=%s err=\"%s\"", it->room, r->str);
        freeReplyObject(r);
    }
    return 0;
}

/* XACKs every item of c that has an id (malformed and conflicting ones
 * included), one pipelined XACK per stream. 0, or -1 if Redis failed. */
static int
chunk_ack(struct wk_persist *p, chunk *c)
{
    if (p->rc == NULL) return -1;
    if (ensure_argv(p, (size_t)c->nitems + 3) < 0) return -1;
    int nids = 0;
    for (int i = 0; i < c->nitems; i++)
        if (c->items[i].id != no_id) c->by_stream[nids++] = i;
    qsort_r(c->by_stream, (size_t)nids, sizeof(int), cmp_stream, c->items);
    int appended = 0;
    for (int i = 0; i < nids;) {
        unsigned s = c->items[c->by_stream[i]].stream;
        size_t n = 3;
        for (; i < nids && c->items[c->by_stream[i]].stream == s; i++)
            argv_set(p, n++, c->items[c->by_stream[i]].id);
        argv_set(p, 0, "XACK");
        argv_set(p, 1, p->streams[s]);
        argv_set(p, 2, p->cfg.group);
        if (redisAppendCommandArgv(p->rc, (int)n, p->argv, p->argvlen) != REDIS_OK) {
            rd_drop(p, "out of memory");
            return -1;
        }
        appended++;
    }
    for (int i = 0; i < appended; i++) {
        void *rep = NULL;
        if (redisGetReply(p->rc, &rep) != REDIS_OK) {
            rd_drop(p, NULL);
            return -1;
        }
        redisReply *r = rep;
        if (r->type == REDIS_REPLY_ERROR) CH_WARN("persist: XACK failed", " err=\"%s\"", r->str);
        freeReplyObject(r);
    }
    p->redis_last_ok = ch_mono_ms();
    return 0;
}

static void
observe(struct wk_persist *p, chunk *c, long inserted, int64_t write_us)
{
    int nvalid = c->norder;
    atomic_fetch_add(&p->m.batches, 1);
    atomic_fetch_add(&p->m.size_sum, (uint64_t)nvalid);
    size_t b = 0;
    while (b < NSIZE && (double)nvalid > size_bounds[b]) b++;
    atomic_fetch_add(&p->m.size_bucket[b], 1);
    atomic_fetch_add(&p->m.write_us, (uint64_t)write_us);
    atomic_fetch_add(&p->m.persisted, (uint64_t)inserted);

    uint64_t local[NDELAY + 1] = { 0 };
    uint64_t sum_us = 0;
    int64_t now = ch_wall_ms();
    for (int k = 0; k < c->norder; k++) {
        const pitem *it = &c->items[c->order[k]];
        if (it->state != IT_OK) continue;
        int64_t d = now - it->ts;
        if (d < 0) d = 0;
        double sec = (double)d / 1000.0;
        size_t i = 0;
        while (i < NDELAY && sec > delay_bounds[i]) i++;
        local[i]++;
        sum_us += (uint64_t)d * 1000;
    }
    for (size_t i = 0; i <= NDELAY; i++)
        if (local[i]) atomic_fetch_add(&p->m.delay_bucket[i], local[i]);
    atomic_fetch_add(&p->m.delay_sum_us, sum_us);
}

/* Writes c synchronously, retrying until it is committed. Returns 0, or -1
 * if asked to stop meanwhile (the chunk is then abandoned). */
static int
chunk_write_sync(struct wk_persist *p, chunk *c, long *inserted, int *nconf)
{
    int retry_backoff = 0;
    *inserted = 0;
    *nconf = 0;
    while (c->norder > 0) {
        if (pg_wait(p) < 0) return -1;
        int st = pg_insert(p, c, c->order, c->norder, inserted);
        if (st == PGS_DATA) {
            /* Find the events PostgreSQL refuses; the others go in one by one. */
            *inserted = 0;
            st = PGS_OK;
            for (int k = 0; k < c->norder && st == PGS_OK; k++) {
                long one = 0;
                st = pg_insert(p, c, &c->order[k], 1, &one);
                if (st == PGS_DATA) {
                    malformed(p, &c->items[c->order[k]], "refused by postgres");
                    st = PGS_OK;
                }
                *inserted += one;
            }
            /* The refused events are out for good (counted now, acked later). */
            int w = 0;
            for (int k = 0; k < c->norder; k++)
                if (c->items[c->order[k]].state == IT_OK) c->order[w++] = c->order[k];
            c->norder = w;
        }
        if (st == PGS_OK && *inserted < c->norder) st = pg_conflicts(p, c, nconf);
        if (st == PGS_OK) return 0;
        for (int k = 0; k < c->norder; k++)
            if (c->items[c->order[k]].state == IT_CONFLICT) c->items[c->order[k]].state = IT_OK;
        *nconf = 0;
        if (stopping(p)) return -1;
        if (st != PGS_CONN) {        /* a reconnect has its own backoff */
            retry_backoff = backoff_next(retry_backoff);
            for (int w = 0; w < retry_backoff && !stopping(p); w += 50) nap_ms(50);
        }
    }
    return 0;
}

/* Reads the results of c's INSERT, if one is outstanding: returns the
 * first (the caller clears it) and discards the rest. */
static PGresult *
chunk_result(struct wk_persist *p, chunk *c)
{
    PGresult *first = NULL, *r;
    if (!c->in_flight) return NULL;
    c->in_flight = 0;
    if (p->pg.conn == NULL) return NULL;     /* cannot happen: pg is not dropped meanwhile */
    while ((r = PQgetResult(p->pg.conn)) != NULL) {
        if (first == NULL) first = r;
        else PQclear(r);
    }
    return first;
}

static void
chunk_abandon(struct wk_persist *p, chunk *c)
{
    PQclear(chunk_result(p, c));
    chunk_clear(c);
}

/* Sends c's INSERT without waiting for it. If it cannot be sent, c stays
 * unsent and chunk_complete writes it synchronously. */
static void
chunk_send(struct wk_persist *p, chunk *c)
{
    chunk_order(c);
    c->sent_us = ch_mono_us();
    if (c->norder == 0 || p->pg.conn == NULL || build_arrays(c, c->order, c->norder) < 0) return;
    const char *v[NARR];
    for (int a = 0; a < NARR; a++) v[a] = c->arr[a].data;
    if (PQsendQueryPrepared(p->pg.conn, "wk_ins", NARR, v, NULL, NULL, 0) == 1)
        c->in_flight = 1;
    else
        pg_classify(p, &p->pg, NULL, "send insert");
}

/* Finishes c: reads its INSERT result (or writes it synchronously after an
 * error), handles conflicts, acknowledges its entries and queues it for the
 * snapshots. 0, or -1 if it was abandoned (Redis lost, or stopping while
 * PostgreSQL is down): its entries stay pending and are read again later. */
static int
chunk_complete(struct wk_persist *p, chunk *c)
{
    long inserted = 0;
    int nconf = 0, st = PGS_TRANSIENT;
    if (c->in_flight) {
        PGresult *r = chunk_result(p, c);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            inserted = strtol(PQcmdTuples(r), NULL, 10);
            p->pg.last_ok = ch_mono_ms();
            st = PGS_OK;
        } else {
            st = pg_classify(p, &p->pg, r, "insert events");
        }
        PQclear(r);
        if (st == PGS_OK && inserted < c->norder) st = pg_conflicts(p, c, &nconf);
    } else if (c->norder == 0) {
        st = PGS_OK;
    }
    if (st != PGS_OK) {
        for (int k = 0; k < c->norder; k++)
            if (c->items[c->order[k]].state == IT_CONFLICT) c->items[c->order[k]].state = IT_OK;
        if (stopping(p) && p->pg.conn == NULL) goto abandon;
        if (chunk_write_sync(p, c, &inserted, &nconf) < 0) goto abandon;
    }
    int64_t write_us = ch_mono_us() - c->sent_us;
    if (nconf > 0 && redis_new_epochs(p, c) < 0) goto abandon;
    if (chunk_ack(p, c) < 0) goto abandon;
    if (c->norder > 0) {
        observe(p, c, inserted, write_us);
        long dup = (long)c->norder - inserted - nconf;
        if (dup > 0) atomic_fetch_add(&p->m.duplicates, (uint64_t)dup);
        snap_push_chunk(p, c);
    }
    chunk_clear(c);
    return 0;
abandon:
    chunk_abandon(p, c);
    return -1;
}

/* Completes the chunk in flight, if any. 0, or -1 if it was abandoned. */
static int
flight_complete(struct wk_persist *p)
{
    chunk *c = p->flight;
    if (c == NULL) return 0;
    p->flight = NULL;
    return chunk_complete(p, c);
}

/* Drops both chunks (after a Redis failure: their entries stay pending). */
static void
chunks_abandon(struct wk_persist *p)
{
    if (p->flight) chunk_abandon(p, p->flight);
    p->flight = NULL;
    chunk_clear(p->filling);
}

/* Completes the flight, then sends the filling chunk and makes it the
 * flight. 0, or -1 if processing must stop (both chunks are then dropped). */
static int
chunk_submit(struct wk_persist *p)
{
    chunk *c = p->filling;
    if (c->nitems == 0) return 0;
    if (flight_complete(p) < 0) {
        chunk_clear(c);
        return -1;
    }
    chunk_send(p, c);
    p->flight = c;
    p->filling = c == &p->chunks[0] ? &p->chunks[1] : &p->chunks[0];
    return 0;
}

/* Adds the entries of one stream (an array of [id, fields] in rr's reply)
 * to the filling chunk, submitting it whenever it is full. Returns 0, or -1
 * if processing must stop. */
static int
take_entries(struct wk_persist *p, reply_ref *rr, unsigned stream, const redisReply *entries,
             int *count)
{
    if (entries == NULL || entries->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i < entries->elements; i++) {
        chunk *c = p->filling;
        if (c->src != rr) {          /* a chunk never spans two replies */
            if (c->nitems > 0 && chunk_submit(p) < 0) return -1;
            c = p->filling;
            c->src = rr;
            rr->refs++;
        }
        item_parse(p, &c->items[c->nitems++], stream, entries->element[i]);
        (*count)++;
        if (c->nitems == p->cfg.batch_max && chunk_submit(p) < 0) return -1;
    }
    return 0;
}

/* Wraps a reply for take_entries; the caller drops its reference with
 * rref_put. NULL when out of memory (the reply is then freed). */
static reply_ref *
rref_new(redisReply *r)
{
    reply_ref *rr = malloc(sizeof(*rr));
    if (rr == NULL) {
        freeReplyObject(r);
        return NULL;
    }
    rr->reply = r;
    rr->refs = 1;
    return rr;
}

/* The partition of a stream name "ch:{pN}:persist", or -1. */
static int
stream_index(struct wk_persist *p, const redisReply *name)
{
    if (name->type != REDIS_REPLY_STRING) return -1;
    const char *s = name->str;
    if (strncmp(s, "ch:{p", 5) != 0) return -1;
    char *end;
    unsigned long n = strtoul(s + 5, &end, 10);
    if (end == s + 5 || n >= p->cfg.partitions || strcmp(p->streams[n], s) != 0) return -1;
    return (int)n;
}

/* One XREADGROUP over every stream; its entries are persisted. With a
 * chunk in flight the read does not block, so that chunk is finished at
 * once when the streams are empty. */
static void
read_once(struct wk_persist *p, int block_ms)
{
    unsigned np = p->cfg.partitions;
    size_t argc = 0;
    char count_arg[16], block_arg[16];
    if (ensure_argv(p, 9 + 2 * (size_t)np) < 0) {
        nap_ms(100);
        return;
    }
    snprintf(count_arg, sizeof(count_arg), "%d", p->cfg.batch_max);
    snprintf(block_arg, sizeof(block_arg), "%d", block_ms < 1 ? 1 : block_ms);
    argv_set(p, argc++, "XREADGROUP");
    argv_set(p, argc++, "GROUP");
    argv_set(p, argc++, p->cfg.group);
    argv_set(p, argc++, p->cfg.consumer);
    argv_set(p, argc++, "COUNT");
    argv_set(p, argc++, count_arg);
    if (!p->pel_phase && p->flight == NULL) {   /* BLOCK 0 would mean forever: never 0 */
        argv_set(p, argc++, "BLOCK");
        argv_set(p, argc++, block_arg);
    }
    argv_set(p, argc++, "STREAMS");
    for (unsigned i = 0; i < np; i++) argv_set(p, argc++, p->streams[i]);
    for (unsigned i = 0; i < np; i++) argv_set(p, argc++, p->pel_phase ? p->pel_ids[i] : ">");

    redisReply *r = rd_cmd(p, (int)argc, p->argv, p->argvlen);
    if (r == NULL) {
        chunks_abandon(p);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        CH_WARN("persist: XREADGROUP failed", " err=\"%s\"", r->str);
        int nogroup = is_error(r, "NOGROUP");
        freeReplyObject(r);
        if (flight_complete(p) < 0) return;
        if (nogroup) rd_drop(p, "consumer group missing; reconnecting to recreate it");
        else nap_ms(100);
        return;
    }
    reply_ref *rr = rref_new(r);
    if (rr == NULL) {
        chunks_abandon(p);
        rd_drop(p, "out of memory");
        return;
    }
    int total = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *sr = r->element[i];
            if (sr->type != REDIS_REPLY_ARRAY || sr->elements < 2) continue;
            int s = stream_index(p, sr->element[0]);
            if (s < 0) continue;
            const redisReply *entries = sr->element[1];
            if (p->pel_phase && entries->type == REDIS_REPLY_ARRAY && entries->elements > 0) {
                const redisReply *last = entries->element[entries->elements - 1];
                if (last->type == REDIS_REPLY_ARRAY && last->elements > 0 &&
                    last->element[0]->type == REDIS_REPLY_STRING)
                    snprintf(p->pel_ids[s], sizeof(p->pel_ids[s]), "%s", last->element[0]->str);
            }
            if (take_entries(p, rr, (unsigned)s, entries, &total) < 0) goto out;
        }
    }
    if (total == 0) {
        (void)flight_complete(p);    /* nothing new: finish the one in flight now */
    } else if (chunk_submit(p) < 0) {
        goto out;
    }
    if (p->pel_phase) {
        if (total > 0) CH_INFO("persist: re-read pending entries", " count=%d", total);
        else p->pel_phase = 0;
    }
out:
    rref_put(rr);
}

/* ------------------------------------------------------------------ housekeeping */

/* Takes over entries idle longer than claim_idle_ms (their consumer died)
 * and persists them. */
static void
claim_idle(struct wk_persist *p)
{
    char idle[24], count[24];
    snprintf(idle, sizeof(idle), "%d", p->cfg.claim_idle_ms);
    snprintf(count, sizeof(count), "%d", p->cfg.batch_max);
    for (unsigned s = 0; s < p->cfg.partitions && p->rc && p->pg.conn && !stopping(p); s++) {
        redisReply *r = rd_cmdv(p, 8, "XAUTOCLAIM", p->streams[s], p->cfg.group,
                                p->cfg.consumer, idle, "0-0", "COUNT", count);
        if (r == NULL) return;
        if (r->type == REDIS_REPLY_ERROR) {
            CH_WARN("persist: XAUTOCLAIM failed", " stream=%s err=\"%s\"", p->streams[s], r->str);
            freeReplyObject(r);
            continue;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[1]->type != REDIS_REPLY_ARRAY || r->element[1]->elements == 0) {
            freeReplyObject(r);
            continue;
        }
        reply_ref *rr = rref_new(r);
        if (rr == NULL) return;
        int n = 0;
        int rc = take_entries(p, rr, s, r->element[1], &n);
        if (rc == 0) rc = chunk_submit(p);
        if (rc == 0) rc = flight_complete(p);
        rref_put(rr);
        atomic_fetch_add(&p->m.reclaimed, (uint64_t)n);
        CH_INFO("persist: reclaimed idle entries", " stream=%s count=%d", p->streams[s], n);
        if (rc < 0) return;
    }
}

/* Value of key in a flat [k1, v1, k2, v2, ...] reply, or NULL. */
static const redisReply *
kv_get(const redisReply *r, const char *key)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];
        if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) &&
            strcmp(k->str, key) == 0)
            return r->element[i + 1];
    }
    return NULL;
}

/* The oldest pending id of a group into out: 1, 0 if there is none, -1 if
 * Redis failed. */
static int
oldest_pending(struct wk_persist *p, const char *stream, const char *group, char *out, size_t n)
{
    redisReply *r = rd_cmdv(p, 3, "XPENDING", stream, group);
    if (r == NULL) return -1;
    int ok = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(out, n, "%s", r->element[1]->str);
        ok = 1;
    }
    freeReplyObject(r);
    return ok;
}

/*
 * For each stream: the lag of our group (gauges), then XTRIM MINID at the
 * oldest id some group still needs: per group its oldest pending id, or
 * its last-delivered id when nothing is pending. Entries below that are
 * acknowledged by every group; an entry delivered later has a larger id.
 */
static void
streams_maintain(struct wk_persist *p)
{
    int64_t lag_events = 0;
    uint64_t oldest_ms = 0;
    int have_oldest = 0;
    for (unsigned s = 0; s < p->cfg.partitions && p->rc && !stopping(p); s++) {
        const char *stream = p->streams[s];
        redisReply *g = rd_cmdv(p, 3, "XINFO", "GROUPS", stream);
        if (g == NULL) return;
        if (g->type != REDIS_REPLY_ARRAY || g->elements == 0) {
            freeReplyObject(g);
            continue;
        }
        char minid[48] = "";
        int trim_ok = 1;
        for (size_t i = 0; i < g->elements && trim_ok; i++) {
            const redisReply *gi = g->element[i];
            const redisReply *name = kv_get(gi, "name"), *pending = kv_get(gi, "pending"),
                             *last = kv_get(gi, "last-delivered-id"), *lag = kv_get(gi, "lag");
            if (!name || name->type != REDIS_REPLY_STRING || !pending ||
                pending->type != REDIS_REPLY_INTEGER || !last || last->type != REDIS_REPLY_STRING) {
                trim_ok = 0;
                break;
            }
            char gmin[48];
            if (pending->integer > 0) {
                int rc = oldest_pending(p, stream, name->str, gmin, sizeof(gmin));
                if (rc < 0) {
                    freeReplyObject(g);
                    return;
                }
                if (rc == 0) {       /* acked meanwhile: decide next time */
                    trim_ok = 0;
                    break;
                }
            } else {
                snprintf(gmin, sizeof(gmin), "%s", last->str);
            }
            if (minid[0] == '\0' || cmp_id(gmin, minid) < 0)
                snprintf(minid, sizeof(minid), "%s", gmin);
            if (strcmp(name->str, p->cfg.group) != 0) continue;

            /* Our group: undelivered + pending, and the oldest of them. */
            long long undelivered = 0;
            if (lag && lag->type == REDIS_REPLY_INTEGER) {
                undelivered = lag->integer;
            } else {                 /* lag unknown: estimate from the length */
                redisReply *l = rd_cmdv(p, 2, "XLEN", stream);
                if (l == NULL) {
                    freeReplyObject(g);
                    return;
                }
                if (l->type == REDIS_REPLY_INTEGER && l->integer > pending->integer)
                    undelivered = l->integer - pending->integer;
                freeReplyObject(l);
            }
            lag_events += pending->integer + undelivered;
            uint64_t ms = 0, sq = 0;
            if (pending->integer > 0) {
                if (parse_id(gmin, &ms, &sq) && (!have_oldest || ms < oldest_ms)) {
                    oldest_ms = ms;
                    have_oldest = 1;
                }
            } else if (undelivered > 0) {
                char from[64];
                snprintf(from, sizeof(from), "(%s", last->str);
                redisReply *x = rd_cmdv(p, 6, "XRANGE", stream, from, "+", "COUNT", "1");
                if (x == NULL) {
                    freeReplyObject(g);
                    return;
                }
                if (x->type == REDIS_REPLY_ARRAY && x->elements == 1 &&
                    x->element[0]->type == REDIS_REPLY_ARRAY && x->element[0]->elements > 0 &&
                    x->element[0]->element[0]->type == REDIS_REPLY_STRING &&
                    parse_id(x->element[0]->element[0]->str, &ms, &sq) &&
                    (!have_oldest || ms < oldest_ms)) {
                    oldest_ms = ms;
                    have_oldest = 1;
                }
                freeReplyObject(x);
            }
        }
        freeReplyObject(g);
        if (!trim_ok || minid[0] == '\0' || strcmp(minid, "0-0") == 0) continue;
        redisReply *t = rd_cmdv(p, 4, "XTRIM", stream, "MINID", minid);
        if (t == NULL) return;
        if (t->type == REDIS_REPLY_INTEGER && t->integer > 0)
            atomic_fetch_add(&p->m.trimmed, (uint64_t)t->integer);
        else if (t->type == REDIS_REPLY_ERROR)
            CH_WARN("persist: XTRIM failed", " stream=%s err=\"%s\"", stream, t->str);
        freeReplyObject(t);
    }
    atomic_store(&p->m.lag_events, lag_events);
    int64_t lag_ms = 0;
    if (have_oldest) {
        lag_ms = ch_wall_ms() - (int64_t)oldest_ms;
        if (lag_ms < 0) lag_ms = 0;
    }
    atomic_store(&p->m.lag_ms, lag_ms);
}


static void
prune_consumers(struct wk_persist *p)
{
    char idle[24];
    snprintf(idle, sizeof(idle), "%d", PRUNE_IDLE_MS);
    for (unsigned s = 0; s < p->cfg.partitions && p->rc && !stopping(p); s++) {
        redisReply *r = rd_cmdv(p, 7, "EVAL", ch_lua_prune_consumers, "1", p->streams[s],
                                p->cfg.group, p->cfg.consumer, idle);
        if (r == NULL) return;
        if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
            CH_INFO("persist: removed idle consumers without pending entries",
                    " stream=%s count=%lld", p->streams[s], r->integer);
        else if (r->type == REDIS_REPLY_ERROR)
            CH_WARN("persist: consumer pruning failed", " stream=%s err=\"%s\"", p->streams[s],
                    r->str);
        freeReplyObject(r);
    }
}

static void
housekeep(struct wk_persist *p)
{
    /* Synchronous steps follow: nothing may be outstanding on pg. */
    if (flight_complete(p) < 0) return;
    int64_t now = ch_mono_ms();
    if (now >= p->next_claim) {
        claim_idle(p);
        p->next_claim = now + CLAIM_EVERY_MS;
    }
    if (p->rc && now >= p->next_prune) {
        prune_consumers(p);
        p->next_prune = now + PRUNE_EVERY_MS;
    }
    if (p->rc) streams_maintain(p);
    pg_probe(p, &p->pg);
}

/* ------------------------------------------------------------------ thread */

static void *
persist_main(void *arg)
{
    struct wk_persist *p = arg;
    int64_t now = ch_mono_ms();
    p->next_housekeep = now;
    p->next_claim = now + CLAIM_EVERY_MS;
    p->next_prune = now + PRUNE_EVERY_MS;
    while (!stopping(p)) {
        now = ch_mono_ms();
        if (p->rc == NULL) {
            chunks_abandon(p);       /* their entries are read again after the reconnect */
            if (now >= p->redis_next_try) {
                rd_connect(p);
            } else {
                pg_probe(p, &p->pg);
                int64_t w = p->redis_next_try - now;
                nap_ms(w > 50 ? 50 : (int)w);
            }
            continue;
        }
        if (p->pg.conn == NULL) {
            if (pg_wait(p) < 0) break;
            continue;
        }
        if (now >= p->next_housekeep) {
            housekeep(p);
            p->next_housekeep = ch_mono_ms() + HOUSEKEEP_MS;
            continue;
        }
        int64_t until = p->next_housekeep - now;
        read_once(p, p->cfg.batch_ms < until ? p->cfg.batch_ms : (int)until);
    }
    /* Stopping: finish the batch in hand (abandoned if PostgreSQL is down). */
    (void)flight_complete(p);
    chunk_clear(p->filling);
    if (p->rc) {
        redisFree(p->rc);
        p->rc = NULL;
    }
    if (p->pg.conn) {
        PQfinish(p->pg.conn);
        p->pg.conn = NULL;
    }
    atomic_store(&p->m.redis_up, 0);
    atomic_store(&p->m.pg_up, 0);
    return NULL;
}

/* ------------------------------------------------------------------ public */

/* Frees everything; both threads must have been joined (or never started). */
static void
persist_free(struct wk_persist *p)
{
    for (int i = 0; i < 2; i++) {
        chunk *c = &p->chunks[i];
        if (c->items) chunk_clear(c);
        free(c->items);
        free(c->order);
        free(c->by_stream);
        for (int a = 0; a < NARR; a++) ch_buf_free(&c->arr[a]);
    }
    while (p->lru_head) cache_remove(p, p->lru_head);
    if (p->ring) {
        for (unsigned i = 0; i < p->ring_count; i++)
            snap_ev_free(p->ring[(p->ring_head + i) % SNAP_QUEUE]);
        free(p->ring);
    }
    if (p->snap_sync_ready) {
        pthread_cond_destroy(&p->snap_cv);
        pthread_mutex_destroy(&p->snap_mu);
    }
    if (p->streams) {
        for (unsigned i = 0; i < p->cfg.partitions; i++) free(p->streams[i]);
        free(p->streams);
    }
    free(p->pel_ids);
    free(p->argv);
    free(p->argvlen);
    if (p->rc) redisFree(p->rc);
    if (p->pg.conn) PQfinish(p->pg.conn);
    if (p->spg.conn) PQfinish(p->spg.conn);
    free(p);
}

/* Tells the snapshot thread to finish and joins it. */
static void
snap_thread_stop(struct wk_persist *p)
{
    if (!p->snap_started) return;
    pthread_mutex_lock(&p->snap_mu);
    p->snap_closing = 1;
    pthread_cond_signal(&p->snap_cv);
    pthread_mutex_unlock(&p->snap_mu);
    pthread_join(p->snap_thread, NULL);
    p->snap_started = 0;
}

struct wk_persist *
wk_persist_start(const wk_persist_config *cfg)
{
    if (cfg == NULL || cfg->pg_conninfo == NULL || cfg->redis_host == NULL ||
        cfg->group == NULL || cfg->group[0] == '\0' || cfg->consumer == NULL ||
        cfg->consumer[0] == '\0' || cfg->partitions < 1 || cfg->partitions > 1000000 ||
        cfg->batch_max < 1 || cfg->batch_max > BATCH_MAX_LIMIT || cfg->batch_ms < 1 ||
        cfg->snapshot_every < 1 || cfg->snapshot_seconds < 1 || cfg->claim_idle_ms < 1 ||
        cfg->redis_port < 1 || cfg->redis_port > 65535) {
        CH_ERROR("persist: invalid configuration", NULL);
        return NULL;
    }
    /* Seed jansson's hash function here, on the caller's thread, before
     * two more threads start building JSON values. */
    json_object_seed(0);
    struct wk_persist *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    p->cfg = *cfg;
    atomic_init(&p->stop, 0);
    for (int i = 0; i < 2; i++) {
        chunk *c = &p->chunks[i];
        for (int a = 0; a < NARR; a++) ch_buf_init(&c->arr[a]);
        c->items = calloc((size_t)cfg->batch_max, sizeof(pitem));
        c->order = calloc((size_t)cfg->batch_max, sizeof(int));
        c->by_stream = calloc((size_t)cfg->batch_max, sizeof(int));
        if (!c->items || !c->order || !c->by_stream) goto fail;
    }
    p->filling = &p->chunks[0];
    p->pg.is_main = 1;
    p->pg.name = "chorus-worker-persist";
    p->spg.name = "chorus-worker-snapshots";
    p->streams = calloc(cfg->partitions, sizeof(char *));
    p->pel_ids = calloc(cfg->partitions, sizeof(*p->pel_ids));
    p->ring = calloc(SNAP_QUEUE, sizeof(snap_ev *));
    if (!p->streams || !p->pel_ids || !p->ring) goto fail;
    for (unsigned i = 0; i < cfg->partitions; i++) {
        char name[CH_KEY_MAX];
        ch_persist_key(name, sizeof(name), i);
        p->streams[i] = strdup(name);
        if (p->streams[i] == NULL) goto fail;
    }
    if (pthread_mutex_init(&p->snap_mu, NULL) != 0) goto fail;
    if (pthread_cond_init(&p->snap_cv, NULL) != 0) {
        pthread_mutex_destroy(&p->snap_mu);
        goto fail;
    }
    p->snap_sync_ready = 1;
    int err = pthread_create(&p->snap_thread, NULL, snap_main, p);
    if (err != 0) {
        CH_ERROR("persist: cannot start the snapshot thread", " err=\"%s\"", strerror(err));
        goto fail;
    }
    p->snap_started = 1;
    err = pthread_create(&p->thread, NULL, persist_main, p);
    if (err != 0) {
        CH_ERROR("persist: cannot start the persistence thread", " err=\"%s\"", strerror(err));
        goto fail;
    }
    p->thread_started = 1;
    CH_INFO("persist: started", " partitions=%u group=%s consumer=%s batch_max=%d batch_ms=%d",
            cfg->partitions, cfg->group, cfg->consumer, cfg->batch_max, cfg->batch_ms);
    return p;
fail:
    snap_thread_stop(p);
    persist_free(p);
    return NULL;
}

void
wk_persist_stop(struct wk_persist *p)
{
    if (p == NULL) return;
    atomic_store(&p->stop, 1);
    if (p->thread_started) pthread_join(p->thread, NULL);
    snap_thread_stop(p);
    persist_free(p);
    CH_INFO("persist: stopped", NULL);
}

int
wk_persist_ready(struct wk_persist *p, char *why, size_t whylen)
{
    const char *reason = NULL;
    if (p == NULL) reason = "persistence not started";
    else if (!atomic_load(&p->m.pg_up)) reason = "postgres unreachable";
    else if (!atomic_load(&p->m.redis_up)) reason = "redis unreachable";
    if (reason == NULL) return 1;
    if (why != NULL && whylen > 0) snprintf(why, whylen, "%s", reason);
    return 0;
}

/* ------------------------------------------------------------------ metrics text */

static void
metric(ch_buf *out, const char *name, const char *type, const char *help, const char *value)
{
    ch_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name, value);
}

static void
metric_u(ch_buf *out, const char *name, const char *type, const char *help, uint64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%" PRIu64, v);
    metric(out, name, type, help, s);
}

static void
histogram(ch_buf *out, const char *name, const char *help, const double *bounds, size_t nb,
          _Atomic uint64_t *buckets, double sum)
{
    ch_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < nb; i++) {
        cum += atomic_load(&buckets[i]);
        ch_buf_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cum);
    }
    cum += atomic_load(&buckets[nb]);
    ch_buf_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    ch_buf_printf(out, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, sum, name, cum);
}

void
wk_persist_metrics(struct wk_persist *p, ch_buf *out)
{
    if (p == NULL) return;
    wk_metrics *m = &p->m;
    char s[48];
    metric_u(out, "chorus_worker_events_persisted_total", "counter",
             "Events written to PostgreSQL (new rows).", atomic_load(&m->persisted));
    metric_u(out, "chorus_worker_events_duplicate_total", "counter",
             "Entries whose identical row was already in PostgreSQL (replays after a crash).",
             atomic_load(&m->duplicates));
    metric_u(out, "chorus_worker_batches_total", "counter", "Batches committed to PostgreSQL.",
             atomic_load(&m->batches));
    histogram(out, "chorus_worker_batch_size", "Events per committed batch.", size_bounds, NSIZE,
              m->size_bucket, (double)atomic_load(&m->size_sum));
    snprintf(s, sizeof(s), "%.6f", (double)atomic_load(&m->write_us) / 1e6);
    metric(out, "chorus_worker_batch_write_seconds_total", "counter",
           "Time spent writing batches to PostgreSQL.", s);
    histogram(out, "chorus_worker_persist_delay_seconds",
              "Time from an event's publish (its ts) to its commit in PostgreSQL.", delay_bounds,
              NDELAY, m->delay_bucket, (double)atomic_load(&m->delay_sum_us) / 1e6);
    metric_u(out, "chorus_worker_malformed_entries_total", "counter",
             "Persistence stream entries skipped as malformed (acknowledged, stored nowhere).",
             atomic_load(&m->malformed));
    metric_u(out, "chorus_worker_pg_errors_total", "counter",
             "PostgreSQL errors seen by the persistence and snapshot threads.",
             atomic_load(&m->pg_errors));
    metric_u(out, "chorus_worker_redis_errors_total", "counter",
             "Redis connection failures seen by the persistence thread.",
             atomic_load(&m->redis_errors));
    metric_u(out, "chorus_worker_reclaimed_entries_total", "counter",
             "Pending entries taken over from idle consumers.", atomic_load(&m->reclaimed));
    metric_u(out, "chorus_worker_trimmed_entries_total", "counter",
             "Acknowledged entries trimmed from the persistence streams.",
             atomic_load(&m->trimmed));
    metric_u(out, "chorus_worker_seq_conflicts_total", "counter",
             "Events whose (room, epoch, seq) already held another event (kept in "
             "events_conflicts).", atomic_load(&m->seq_conflicts));
    metric_u(out, "chorus_worker_snapshots_saved_total", "counter", "Room snapshots written.",
             atomic_load(&m->snapshots));
    metric_u(out, "chorus_worker_snapshot_errors_total", "counter",
             "Snapshot writes or reductions that failed.", atomic_load(&m->snapshot_errors));
    metric_u(out, "chorus_worker_room_rebuilds_total", "counter",
             "Room states rebuilt from PostgreSQL (cache miss, gap or new epoch).",
             atomic_load(&m->rebuilds));
    metric_u(out, "chorus_worker_snapshot_queue_dropped_total", "counter",
             "Committed events not queued for the reducers because the queue was full.",
             atomic_load(&m->snap_dropped));
    snprintf(s, sizeof(s), "%" PRId64, atomic_load(&m->lag_events));
    metric(out, "chorus_worker_persist_lag_events", "gauge",
           "Entries of the persistence streams not yet persisted (undelivered + pending).", s);
    snprintf(s, sizeof(s), "%.3f", (double)atomic_load(&m->lag_ms) / 1000.0);
    metric(out, "chorus_worker_persist_lag_seconds", "gauge",
           "Age of the oldest entry not yet persisted (0 when caught up).", s);
    snprintf(s, sizeof(s), "%" PRId64, atomic_load(&m->cache_rooms));
    metric(out, "chorus_worker_room_cache_rooms", "gauge", "Room states held in memory.", s);
    metric_u(out, "chorus_worker_pg_up", "gauge",
             "1 if the persistence thread's PostgreSQL connection works.",
             (uint64_t)atomic_load(&m->pg_up));
    metric_u(out, "chorus_worker_redis_up", "gauge",
             "1 if the persistence thread's Redis connection works.",
             (uint64_t)atomic_load(&m->redis_up));
}
