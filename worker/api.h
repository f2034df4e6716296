/*
 * api.h — the worker's HTTP API (JSON under /api/v1; docs/api.md): auth,
 * workspaces, members and roles, rooms and boards, history, snapshots,
 * read markers, server-side publish, card endpoints, and the room access
 * lists the gateways enforce.
 *
 * All database and Redis work runs on the API's own thread pool (db.h);
 * the loop thread only parses, authenticates, queues and replies.
 */
#ifndef CHORUS_WK_API_H
#define CHORUS_WK_API_H

#include <stddef.h>

#include "app.h"
#include "protocol.h"

struct wk_api;

/* Creates app->api: database thread pool, Redis, routes on app->htp, and a
 * background resync of every room's access list. Loop thread, before the
 * loop runs. 0, or -1 (logged; app->api stays NULL). */
int  wk_api_start(struct wk_app *app);

/* Joins the threads, cancels queued requests and frees everything
 * (app->api becomes NULL). Loop thread, after the loop stopped. */
void wk_api_stop(struct wk_app *app);

/* 1 if PostgreSQL and Redis are reachable (and the start-up access-list
 * resync is done); else 0 and a reason in why. Never blocks. */
int  wk_api_ready(struct wk_api *api, char *why, size_t whylen);

/* Appends Prometheus text: request latency by route (histogram), requests
 * by status class, errors, queue depth and refusals. Loop thread. */
void wk_api_metrics(struct wk_api *api, ch_buf *out);

#endif
