/*
 * http.h — the worker's HTTP server (libevhtp on the loop thread): the
 * operational routes /healthz, /readyz and /metrics; the API (api.h)
 * registers its own routes on app->htp between start and listen.
 */
#ifndef CHORUS_WK_HTTP_H
#define CHORUS_WK_HTTP_H

#include "app.h"

int wk_http_start(wk_app *app);    /* creates app->htp with the operational routes */
int wk_http_listen(wk_app *app);   /* binds --listen */
void wk_http_unlisten(wk_app *app);
void wk_http_stop(wk_app *app);    /* frees app->htp */

#endif
