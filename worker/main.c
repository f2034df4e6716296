/*
 * main.c — the chorus-worker binary: parses the configuration, applies the
 * migrations (retrying while PostgreSQL is unreachable), then runs the
 * persistence thread, the API's database threads and the HTTP loop until
 * SIGTERM/SIGINT, and shuts them down in reverse order.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "api.h"
#include "app.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "persist.h"

#define MIGRATE_RETRY_MAX_S 10

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    wk_app *app = arg;
    CH_INFO("signal received, stopping", " signal=%d", (int)sig);
    app->stopping = 1;
    event_base_loopexit(app->base, NULL);
}

/* Applies migrations; for "serve", keeps retrying until PostgreSQL answers. */
static int
migrate(const wk_config *cfg, int retry)
{
    char err[512];
    unsigned delay = 1;
    for (;;) {
        if (wk_migrate(cfg->pg_conninfo, cfg->migrations_dir, err, sizeof(err)) == 0) return 0;
        CH_ERROR("migrations failed", " error=\"%s\" retry_s=%u", err, retry ? delay : 0);
        if (!retry) return -1;
        sleep(delay);
        if (delay < MIGRATE_RETRY_MAX_S) delay *= 2;
    }
}

static int
serve(const wk_config *cfg)
{
    wk_app app;
    struct event *sigterm = NULL, *sigint = NULL;
    int rc = 1;

    memset(&app, 0, sizeof(app));
    app.cfg = cfg;
    if (!(app.base = event_base_new())) return 1;

    wk_persist_config pc = {
        .pg_conninfo = cfg->pg_conninfo, .redis_host = cfg->redis_host, .redis_port = cfg->redis_port,
        .redis_password = cfg->redis_password[0] ? cfg->redis_password : NULL,
        .partitions = cfg->partitions, .group = cfg->group, .consumer = cfg->consumer,
        .batch_max = cfg->batch_max, .batch_ms = cfg->batch_ms, .snapshot_every = cfg->snapshot_every,
        .snapshot_seconds = cfg->snapshot_seconds, .claim_idle_ms = cfg->claim_idle_ms,
    };
    if (wk_http_start(&app) < 0) goto out;
    if (!(app.persist = wk_persist_start(&pc))) {
        CH_ERROR("cannot start persistence", NULL);
        goto out;
    }
    if (wk_api_start(&app) < 0) {
        CH_ERROR("cannot start the API", NULL);
        goto out;
    }
    if (wk_http_listen(&app) < 0) goto out;
    sigterm = evsignal_new(app.base, SIGTERM, on_signal, &app);
    sigint = evsignal_new(app.base, SIGINT, on_signal, &app);
    if (!sigterm || !sigint || event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0) goto out;
    CH_INFO("serving", " listen=%s:%d partitions=%u consumer=%s", cfg->listen_host, cfg->listen_port,
            cfg->partitions, cfg->consumer);
    event_base_dispatch(app.base);
    rc = 0;
out:
    if (sigterm) event_free(sigterm);
    if (sigint) event_free(sigint);
    wk_http_unlisten(&app);
    if (app.api) wk_api_stop(&app);
    if (app.persist) wk_persist_stop(app.persist);
    wk_http_stop(&app);
    event_base_free(app.base);
    CH_INFO("exit", " code=%d", rc);
    return rc;
}

int
main(int argc, char **argv)
{
    wk_config cfg;
    int rc = wk_config_parse(&cfg, argc, argv);
    if (rc != 0) return rc > 0 ? 0 : 2;

    signal(SIGPIPE, SIG_IGN);
    ch_log_init("worker", cfg.consumer, (ch_log_level)cfg.log_level);
    if (cfg.jwt_key_is_dev_default)
        CH_WARN("using the built-in development JWT secret; set CHORUS_JWT_SECRET in production", NULL);
    if (evthread_use_pthreads() < 0) {
        CH_ERROR("libevent has no pthread support", NULL);
        return 1;
    }
    if (strcmp(cfg.command, "migrate") == 0) {
        rc = migrate(&cfg, 0) == 0 ? 0 : 1;
    } else {
        migrate(&cfg, 1);
        rc = serve(&cfg);
    }
    wk_config_free(&cfg);
    return rc;
}
