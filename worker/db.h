/*
 * db.h — the API's database thread pool.
 *
 * N threads, each with its own blocking PostgreSQL connection and its own
 * blocking Redis connection, take jobs from one bounded FIFO. The event
 * loop thread submits a job (run + done + arg); run(conn, arg) executes on
 * a database thread; then done(arg, 0) runs back on the loop thread (the
 * thread activates a per-job libevent event, which needs
 * evthread_use_pthreads() before the event base was created). So the loop
 * thread never waits for PostgreSQL or Redis.
 *
 *   loop thread                         database thread
 *   wk_db_submit ──► queue (bounded) ──► run(conn, arg)
 *   done(arg, 0) ◄── event_active ◄──────┘
 *
 * Ownership: arg belongs to the caller; the pool never frees it. Exactly
 * one of these happens for every accepted job: done(arg, 0) on the loop
 * thread after run, or done(arg, 1) from wk_db_free (the job was queued or
 * finished but not yet delivered when the pool stopped; run may not have
 * been called). A refused submit calls neither.
 *
 * Connections are opened lazily and reopened after a failure with a
 * backoff (100 ms doubling to 5 s); an idle thread checks its connections
 * every 2 s, which keeps wk_db_ready current. Lua scripts given at creation
 * are loaded (SCRIPT LOAD) on every Redis connect and run with EVALSHA,
 * falling back to EVAL on NOSCRIPT.
 */
#ifndef CHORUS_WK_DB_H
#define CHORUS_WK_DB_H

#include <stddef.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#define WK_DB_MAX_SCRIPTS 4

typedef struct wk_db wk_db;

/* What a job sees: its thread's connections. Only used on that thread. */
typedef struct wk_dbc {
    PGconn *pg;                  /* NULL while disconnected; owned by the pool */
    redisContext *redis;         /* NULL while disconnected; owned by the pool */
    char sqlstate[6];            /* SQLSTATE of the last failed statement, "" if none */
    int lost;                    /* the last failure was a lost connection (answer 503) */
    struct wk_db_thread *t;      /* private to db.c: backoff, scripts, health */
} wk_dbc;

typedef struct {
    const char *pg_conninfo;
    const char *redis_host;
    int redis_port;
    const char *redis_password;  /* "" for none */
    int threads;                 /* >= 1 */
    int queue_max;               /* submitted jobs waiting or running, at most */
    const char *scripts[WK_DB_MAX_SCRIPTS];   /* Lua texts (static), NULL-terminated */
} wk_db_config;

typedef void (*wk_db_run_fn)(wk_dbc *c, void *arg);
typedef void (*wk_db_done_fn)(void *arg, int cancelled);

/* Starts the threads. cfg strings must outlive the pool. NULL on failure. */
wk_db *wk_db_new(struct event_base *base, const wk_db_config *cfg);

/* Stops the threads (a running job finishes first), cancels what is left
 * (done(arg, 1)), closes the connections and frees the pool. Loop thread,
 * with the loop no longer dispatching. NULL is allowed. */
void wk_db_free(wk_db *db);

/* Queues a job. 0, or -1 when the queue is full or the pool is stopping
 * (then neither run nor done is ever called). Loop thread only. */
int wk_db_submit(wk_db *db, wk_db_run_fn run, wk_db_done_fn done, void *arg);

/* 1 if some thread has working PostgreSQL and Redis connections; else 0
 * and a reason in why. Never blocks; any thread. */
int wk_db_ready(wk_db *db, char *why, size_t whylen);

/* Jobs waiting or running now; jobs refused because the queue was full. */
int wk_db_depth(wk_db *db);
unsigned long long wk_db_rejected(wk_db *db);

/* --- on a database thread, inside run ------------------------------------ */

/* Makes sure the connection is up (reconnecting if its backoff allows).
 * 0, or -1 (c->lost is set). */
int wk_dbc_pg(wk_dbc *c);
int wk_dbc_redis(wk_dbc *c);

/* PQexecParams with text parameters (vals[i] NULL = SQL NULL). Returns the
 * result when it is PGRES_TUPLES_OK or PGRES_COMMAND_OK (the caller
 * PQclears it); otherwise NULL with c->sqlstate set, and c->lost if the
 * connection is gone (it is then reopened on next use). Never logs
 * parameter values. */
PGresult *wk_sql(wk_dbc *c, const char *sql, int n, const char *const *vals);

/* wk_sql for statements whose rows are not needed: the number of rows
 * affected (>= 0), or -1. */
long wk_sql_exec(wk_dbc *c, const char *sql, int n, const char *const *vals);

/* BEGIN / COMMIT / ROLLBACK. 0 or -1. rollback is harmless outside a
 * transaction and after a lost connection. */
int wk_sql_begin(wk_dbc *c);
int wk_sql_commit(wk_dbc *c);
void wk_sql_rollback(wk_dbc *c);

/* One Redis command (binary-safe). The reply (freeReplyObject by the
 * caller), or NULL on an I/O error (the connection is dropped, c->lost
 * set). An error reply is returned as a reply. */
redisReply *wk_redis(wk_dbc *c, int argc, const char **argv, const size_t *lens);

/* EVALSHA of script number idx (EVAL on NOSCRIPT). argv holds the keys
 * then the arguments (nkeys + nargs entries). As wk_redis. */
redisReply *wk_redis_script(wk_dbc *c, int idx, int nkeys, int nargs, const char **argv,
                            const size_t *lens);

/* Pipelining: append commands, then read exactly as many replies. A
 * failed append or read drops the connection (c->lost set) and returns
 * -1; the remaining replies are then lost with it. */
int wk_redis_append(wk_dbc *c, int argc, const char **argv, const size_t *lens);
int wk_redis_read(wk_dbc *c, redisReply **out);

#endif
