/*
 * app.h — the worker process: its event loop, HTTP server, persistence
 * thread and API, wired together by main.c. The HTTP loop thread never
 * blocks: database work runs on the API's database threads (db.h) and the
 * persistence thread (persist.h).
 */
#ifndef CHORUS_WK_APP_H
#define CHORUS_WK_APP_H

#include <event2/event.h>
#include <evhtp/evhtp.h>

#include "config.h"

struct wk_persist;
struct wk_api;

typedef struct wk_app {
    struct event_base *base;
    const wk_config *cfg;
    evhtp_t *htp;                  /* routes: /healthz /readyz /metrics + the API's */
    struct wk_persist *persist;    /* persistence thread (persist.h) */
    struct wk_api *api;            /* API state (api.h) */
    int stopping;
} wk_app;

#endif
