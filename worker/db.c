/*
 * db.c — the API's database thread pool (see db.h for the contract).
 *
 * Invariants:
 *  - every accepted job is on the pool's `jobs` list from wk_db_submit until
 *    its done callback has been called, exactly once (on_job_done on the
 *    loop thread, or wk_db_free); the list and the queue are guarded by mu;
 *  - a job is in the FIFO (`head`..`tail`) only until a thread takes it;
 *    `depth` counts jobs queued or running, and never exceeds queue_max;
 *  - a database thread touches a job only between taking it and
 *    event_active; after that the loop thread owns it again;
 *  - each thread's connections (wk_dbc) are used by that thread only; the
 *    health flags other threads read are atomics.
 */
#include "clock.h"
#include "db.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define BACKOFF_MIN_MS   100
#define BACKOFF_MAX_MS   5000
#define HEALTH_EVERY_MS  2000
#define REDIS_CONNECT_MS 2000
#define REDIS_IO_MS      5000
#define PG_STATEMENT_TIMEOUT "15s"

typedef struct wk_db_job {
    wk_db_run_fn run;
    wk_db_done_fn done;
    void *arg;                       /* the caller's; never freed here */
    struct event *ev;                /* activated by the thread when run returned */
    struct wk_db *db;
    struct wk_db_job *qnext;         /* FIFO link while queued */
    struct wk_db_job *prev, *next;   /* `jobs` list links */
} wk_db_job;

typedef struct wk_db_thread {
    struct wk_db *db;
    pthread_t tid;
    int started;
    wk_dbc c;
    char shas[WK_DB_MAX_SCRIPTS][41];   /* SHA1 of each script on this Redis connection */
    long long pg_retry_at, redis_retry_at; /* monotonic ms: no reconnect attempt before */
    long pg_backoff, redis_backoff;     /* ms */
    long long last_check;               /* monotonic ms of the last health check */
    atomic_int pg_ok, redis_ok;         /* read by wk_db_ready from any thread */
} wk_db_thread;

struct wk_db {
    struct event_base *base;
    wk_db_config cfg;                /* strings borrowed from the caller */
    int nscripts;
    pthread_mutex_t mu;
    pthread_cond_t cv;               /* signalled on submit and stop */
    wk_db_job *head, *tail;          /* FIFO of jobs not yet taken */
    wk_db_job *jobs;                 /* every accepted job not yet done */
    int depth;                       /* queued + running */
    int stopping;
    unsigned long long rejected;
    wk_db_thread *threads;
    int nthreads;
};

/* ------------------------------------------------------------ PostgreSQL */

static void
pg_drop(wk_db_thread *t)
{
    if (t->c.pg) {
        PQfinish(t->c.pg);
        t->c.pg = NULL;
    }
    atomic_store(&t->pg_ok, 0);
}

static void
pg_failed_connect(wk_db_thread *t)
{
    t->pg_backoff = t->pg_backoff ? t->pg_backoff * 2 : BACKOFF_MIN_MS;
    if (t->pg_backoff > BACKOFF_MAX_MS) t->pg_backoff = BACKOFF_MAX_MS;
    t->pg_retry_at = ch_mono_ms() + t->pg_backoff;
}

int
wk_dbc_pg(wk_dbc *c)
{
    wk_db_thread *t = c->t;
    static const char *const keys[] = { "dbname", "connect_timeout", "application_name", NULL };
    const char *vals[] = { t->db->cfg.pg_conninfo, "5", "chorus-worker-api", NULL };

    if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    pg_drop(t);
    if (ch_mono_ms() < t->pg_retry_at) {
        c->lost = 1;
        return -1;
    }
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        if (t->pg_backoff == 0 || t->pg_backoff >= BACKOFF_MAX_MS) {
            char err[256];
            snprintf(err, sizeof(err), "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
            err[strcspn(err, "\r\n\"")] = '\0';
            CH_WARN("api: PostgreSQL connect failed", " error=\"%s\"", err);
        }
        pg_drop(t);
        pg_failed_connect(t);
        c->lost = 1;
        return -1;
    }
    PGresult *r = PQexec(c->pg, "SET statement_timeout = '" PG_STATEMENT_TIMEOUT "'");
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        pg_drop(t);
        pg_failed_connect(t);
        c->lost = 1;
        return -1;
    }
    if (t->pg_backoff)
        CH_INFO("api: PostgreSQL connected", NULL);
    t->pg_backoff = 0;
    t->pg_retry_at = 0;
    atomic_store(&t->pg_ok, 1);
    return 0;
}

PGresult *
wk_sql(wk_dbc *c, const char *sql, int n, const char *const *vals)
{
    PGresult *r;
    ExecStatusType st;

    c->sqlstate[0] = '\0';
    if (wk_dbc_pg(c) < 0) {
        snprintf(c->sqlstate, sizeof(c->sqlstate), "08006");
        return NULL;
    }
    r = PQexecParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0);
    st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        atomic_store(&c->t->pg_ok, 1);
        c->t->last_check = ch_mono_ms();
        return r;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "08006");
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->lost = 1;
        CH_WARN("api: PostgreSQL connection lost", NULL);
        pg_drop(c->t);
    } else if (strncmp(c->sqlstate, "23", 2) != 0 && strcmp(c->sqlstate, "40001") != 0 &&
               strcmp(c->sqlstate, "25P02") != 0) {
        /* Constraint violations are expected answers (409 and the like);
         * anything else is a bug or an outage worth a line. */
        const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        CH_WARN("api: SQL statement failed", " sqlstate=%s error=\"%s\"", c->sqlstate,
                msg ? msg : "unknown");
    }
    PQclear(r);
    return NULL;
}

long
wk_sql_exec(wk_dbc *c, const char *sql, int n, const char *const *vals)
{
    PGresult *r = wk_sql(c, sql, n, vals);
    long rows;

    if (!r) return -1;
    rows = atol(PQcmdTuples(r));
    PQclear(r);
    return rows;
}

int
wk_sql_begin(wk_dbc *c)
{
    return wk_sql_exec(c, "BEGIN", 0, NULL) < 0 ? -1 : 0;
}

int
wk_sql_commit(wk_dbc *c)
{
    return wk_sql_exec(c, "COMMIT", 0, NULL) < 0 ? -1 : 0;
}

void
wk_sql_rollback(wk_dbc *c)
{
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    PGresult *r = PQexec(c->pg, "ROLLBACK");
    PQclear(r);
}

/* ------------------------------------------------------------ Redis */

static void
redis_drop(wk_db_thread *t)
{
    if (t->c.redis) {
        redisFree(t->c.redis);
        t->c.redis = NULL;
    }
    atomic_store(&t->redis_ok, 0);
}

static void
redis_failed_connect(wk_db_thread *t, const char *why)
{
    if (t->redis_backoff == 0 || t->redis_backoff >= BACKOFF_MAX_MS)
        CH_WARN("api: Redis connect failed", " error=\"%s\"", why);
    redis_drop(t);
    t->redis_backoff = t->redis_backoff ? t->redis_backoff * 2 : BACKOFF_MIN_MS;
    if (t->redis_backoff > BACKOFF_MAX_MS) t->redis_backoff = BACKOFF_MAX_MS;
    t->redis_retry_at = ch_mono_ms() + t->redis_backoff;
}

int
wk_dbc_redis(wk_dbc *c)
{
    wk_db_thread *t = c->t;
    const wk_db_config *cfg = &t->db->cfg;
    struct timeval ctv = { REDIS_CONNECT_MS / 1000, (REDIS_CONNECT_MS % 1000) * 1000 };
    struct timeval iotv = { REDIS_IO_MS / 1000, (REDIS_IO_MS % 1000) * 1000 };
    redisReply *r;

    if (c->redis && !c->redis->err)
        return 0;
    redis_drop(t);
    if (ch_mono_ms() < t->redis_retry_at) {
        c->lost = 1;
        return -1;
    }
    c->redis = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, ctv);
    if (!c->redis || c->redis->err) {
        redis_failed_connect(t, c->redis ? c->redis->errstr : "out of memory");
        c->lost = 1;
        return -1;
    }
    redisSetTimeout(c->redis, iotv);
    if (cfg->redis_password && cfg->redis_password[0]) {
        r = redisCommand(c->redis, "AUTH %s", cfg->redis_password);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok) {
            redis_failed_connect(t, "AUTH refused");
            c->lost = 1;
            return -1;
        }
    }
    for (int i = 0; i < t->db->nscripts; i++) {
        r = redisCommand(c->redis, "SCRIPT LOAD %s", cfg->scripts[i]);
        int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok) memcpy(t->shas[i], r->str, 41);
        freeReplyObject(r);
        if (!ok) {
            redis_failed_connect(t, "SCRIPT LOAD failed");
            c->lost = 1;
            return -1;
        }
    }
    if (t->redis_backoff)
        CH_INFO("api: Redis connected", NULL);
    t->redis_backoff = 0;
    t->redis_retry_at = 0;
    atomic_store(&t->redis_ok, 1);
    return 0;
}

redisReply *
wk_redis(wk_dbc *c, int argc, const char **argv, const size_t *lens)
{
    redisReply *r;

    if (wk_dbc_redis(c) < 0)
        return NULL;
    r = redisCommandArgv(c->redis, argc, argv, lens);
    if (!r) {
        CH_WARN("api: Redis command failed", " error=\"%s\"", c->redis->errstr);
        c->lost = 1;
        redis_drop(c->t);
        return NULL;
    }
    c->t->last_check = ch_mono_ms();
    return r;
}

redisReply *
wk_redis_script(wk_dbc *c, int idx, int nkeys, int nargs, const char **argv, const size_t *lens)
{
    enum { MAXARGS = 32 };
    const char *av[MAXARGS + 3];
    size_t al[MAXARGS + 3];
    char nk[16];
    redisReply *r;
    int n = nkeys + nargs;

    if (idx < 0 || idx >= c->t->db->nscripts || n > MAXARGS || nkeys < 0 || nargs < 0)
        return NULL;
    if (wk_dbc_redis(c) < 0)
        return NULL;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    av[0] = "EVALSHA"; al[0] = 7;
    av[1] = c->t->shas[idx]; al[1] = 40;
    av[2] = nk; al[2] = strlen(nk);
    memcpy(av + 3, argv, sizeof(*argv) * (size_t)n);
    memcpy(al + 3, lens, sizeof(*lens) * (size_t)n);
    r = wk_redis(c, n + 3, av, al);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        av[0] = "EVAL"; al[0] = 4;
        av[1] = c->t->db->cfg.scripts[idx]; al[1] = strlen(av[1]);
        r = wk_redis(c, n + 3, av, al);
    }
    return r;
}

int
wk_redis_append(wk_dbc *c, int argc, const char **argv, const size_t *lens)
{
    if (wk_dbc_redis(c) < 0)
        return -1;
    if (redisAppendCommandArgv(c->redis, argc, argv, lens) != REDIS_OK) {
        c->lost = 1;
        redis_drop(c->t);
        return -1;
    }
    return 0;
}

int
wk_redis_read(wk_dbc *c, redisReply **out)
{
    void *r = NULL;

    *out = NULL;
    if (!c->redis)
        return -1;
    if (redisGetReply(c->redis, &r) != REDIS_OK || !r) {
        CH_WARN("api: Redis pipeline failed", " error=\"%s\"", c->redis->errstr);
        c->lost = 1;
        redis_drop(c->t);
        return -1;
    }
    *out = r;
    c->t->last_check = ch_mono_ms();
    return 0;
}

/* ------------------------------------------------------------ threads */

/* Checks (or reopens) both connections of an idle thread. */
static void
health_check(wk_db_thread *t)
{
    wk_dbc *c = &t->c;
    long long now = ch_mono_ms();

    if (now - t->last_check < HEALTH_EVERY_MS)
        return;
    t->last_check = now;
    if (wk_dbc_pg(c) == 0) {
        PGresult *r = PQexec(c->pg, "SELECT 1");
        int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (!ok) pg_drop(t);
    }
    if (wk_dbc_redis(c) == 0) {
        redisReply *r = redisCommand(c->redis, "PING");
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok) redis_drop(t);
    }
    c->lost = 0;
}

static void *
thread_main(void *arg)
{
    wk_db_thread *t = arg;
    wk_db *db = t->db;

    health_check(t);   /* connect now, so readiness does not wait for a first job */
    pthread_mutex_lock(&db->mu);
    for (;;) {
        while (!db->stopping && !db->head) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&db->cv, &db->mu, &ts) == ETIMEDOUT && !db->head &&
                !db->stopping) {
                pthread_mutex_unlock(&db->mu);
                health_check(t);
                pthread_mutex_lock(&db->mu);
            }
        }
        if (db->stopping)
            break;
        wk_db_job *j = db->head;
        db->head = j->qnext;
        if (!db->head) db->tail = NULL;
        j->qnext = NULL;
        pthread_mutex_unlock(&db->mu);

        t->c.lost = 0;
        t->c.sqlstate[0] = '\0';
        j->run(&t->c, j->arg);
        wk_sql_rollback(&t->c);   /* a job never leaves a transaction open */
        event_active(j->ev, EV_READ, 0);   /* the loop thread owns j from here */

        pthread_mutex_lock(&db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

/* Loop thread: a job's run has returned. */
static void
on_job_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    wk_db_job *j = arg;
    wk_db *db = j->db;

    pthread_mutex_lock(&db->mu);
    if (j->prev) j->prev->next = j->next; else db->jobs = j->next;
    if (j->next) j->next->prev = j->prev;
    db->depth--;
    pthread_mutex_unlock(&db->mu);
    j->done(j->arg, 0);
    event_free(j->ev);
    free(j);
}

wk_db *
wk_db_new(struct event_base *base, const wk_db_config *cfg)
{
    wk_db *db = calloc(1, sizeof(*db));
    pthread_condattr_t ca;

    if (!db) return NULL;
    db->base = base;
    db->cfg = *cfg;
    while (db->nscripts < WK_DB_MAX_SCRIPTS && cfg->scripts[db->nscripts]) db->nscripts++;
    if (db->cfg.threads < 1) db->cfg.threads = 1;
    if (db->cfg.queue_max < 1) db->cfg.queue_max = 1;
    if (pthread_mutex_init(&db->mu, NULL) != 0) { free(db); return NULL; }
    if (pthread_condattr_init(&ca) != 0 ||
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&db->cv, &ca) != 0) {
        pthread_mutex_destroy(&db->mu);
        free(db);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    db->threads = calloc((size_t)db->cfg.threads, sizeof(*db->threads));
    if (!db->threads) goto fail;
    for (int i = 0; i < db->cfg.threads; i++) {
        wk_db_thread *t = &db->threads[i];
        t->db = db;
        t->c.t = t;
        atomic_init(&t->pg_ok, 0);
        atomic_init(&t->redis_ok, 0);
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
            CH_ERROR("api: cannot start a database thread", " errno=%d", errno);
            goto fail;
        }
        t->started = 1;
        db->nthreads++;
    }
    return db;
fail:
    wk_db_free(db);
    return NULL;
}

void
wk_db_free(wk_db *db)
{
    if (!db) return;
    pthread_mutex_lock(&db->mu);
    db->stopping = 1;
    pthread_cond_broadcast(&db->cv);
    pthread_mutex_unlock(&db->mu);
    for (int i = 0; db->threads && i < db->cfg.threads; i++) {
        wk_db_thread *t = &db->threads[i];
        if (t->started) pthread_join(t->tid, NULL);
        pg_drop(t);
        redis_drop(t);
    }
    /* Threads are gone: whatever is left was never delivered. */
    while (db->jobs) {
        wk_db_job *j = db->jobs;
        db->jobs = j->next;
        j->done(j->arg, 1);
        event_free(j->ev);
        free(j);
    }
    free(db->threads);
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

int
wk_db_submit(wk_db *db, wk_db_run_fn run, wk_db_done_fn done, void *arg)
{
    wk_db_job *j = calloc(1, sizeof(*j));

    if (!j) return -1;
    j->run = run;
    j->done = done;
    j->arg = arg;
    j->db = db;
    j->ev = event_new(db->base, -1, 0, on_job_done, j);
    if (!j->ev) { free(j); return -1; }
    pthread_mutex_lock(&db->mu);
    if (db->stopping || db->depth >= db->cfg.queue_max) {
        db->rejected++;
        pthread_mutex_unlock(&db->mu);
        event_free(j->ev);
        free(j);
        return -1;
    }
    db->depth++;
    if (db->tail) db->tail->qnext = j; else db->head = j;
    db->tail = j;
    j->next = db->jobs;
    if (db->jobs) db->jobs->prev = j;
    db->jobs = j;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
    return 0;
}

int
wk_db_ready(wk_db *db, char *why, size_t whylen)
{
    int pg = 0, redis = 0;

    for (int i = 0; i < db->nthreads; i++) {
        int p = atomic_load(&db->threads[i].pg_ok), r = atomic_load(&db->threads[i].redis_ok);
        if (p && r) return 1;
        pg |= p;
        redis |= r;
    }
    if (why && whylen)
        snprintf(why, whylen, "%s", !pg && !redis ? "PostgreSQL and Redis unreachable"
                                  : !pg ? "PostgreSQL unreachable" : "Redis unreachable");
    return 0;
}

int
wk_db_depth(wk_db *db)
{
    pthread_mutex_lock(&db->mu);
    int d = db->depth;
    pthread_mutex_unlock(&db->mu);
    return d;
}

unsigned long long
wk_db_rejected(wk_db *db)
{
    pthread_mutex_lock(&db->mu);
    unsigned long long r = db->rejected;
    pthread_mutex_unlock(&db->mu);
    return r;
}
