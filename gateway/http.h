/*
 * http.h — the gateway's HTTP side (libevhtp): /ws upgrade with origin and
 * token checks, /healthz, /readyz, /metrics, and the handshake deadline.
 */
#ifndef CHORUS_GW_HTTP_H
#define CHORUS_GW_HTTP_H

#include "gateway.h"

/* Binds the listening socket (SO_REUSEPORT) and installs the routes. */
int gw_http_start(gw_node *n);
void gw_http_stop(gw_node *n);

#endif
