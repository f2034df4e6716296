/*
 * http.c — /healthz (the process runs), /readyz (PostgreSQL and Redis are
 * reachable for both persistence and the API), /metrics (Prometheus text
 * from persistence and the API).
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api.h"
#include "log.h"
#include "persist.h"
#include "protocol.h"

/* Open HTTP connections, freed at shutdown (evhtp_free does not). */
typedef struct conn_link {
    evhtp_connection_t *conn;
    struct conn_link *prev, *next;
} conn_link;

static conn_link *open_conns;

static evhtp_res
on_conn_fini(evhtp_connection_t *conn, void *arg)
{
    conn_link *l = arg;
    (void)conn;
    if (l->prev) l->prev->next = l->next; else open_conns = l->next;
    if (l->next) l->next->prev = l->prev;
    free(l);
    return EVHTP_RES_OK;
}

static evhtp_res
on_accept(evhtp_connection_t *conn, void *arg)
{
    (void)arg;
    conn_link *l = calloc(1, sizeof(*l));
    if (!l) return EVHTP_RES_ERROR;
    l->conn = conn;
    l->next = open_conns;
    if (open_conns) open_conns->prev = l;
    open_conns = l;
    evhtp_connection_set_hook(conn, evhtp_hook_on_connection_fini, (evhtp_hook)on_conn_fini, l);
    return EVHTP_RES_OK;
}

static void
reply(evhtp_request_t *req, int status, const char *type, const char *body, size_t len)
{
    evhtp_headers_add_header(req->headers_out, evhtp_header_new("Content-Type", type, 0, 0));
    evbuffer_add(req->buffer_out, body, len);
    evhtp_send_reply(req, (evhtp_res)status);
}

static void
on_healthz(evhtp_request_t *req, void *arg)
{
    (void)arg;
    static const char body[] = "{\"status\":\"ok\"}";
    reply(req, 200, "application/json", body, sizeof(body) - 1);
}

static void
on_readyz(evhtp_request_t *req, void *arg)
{
    wk_app *app = arg;
    char pwhy[160] = "", awhy[160] = "";
    int p = app->persist && wk_persist_ready(app->persist, pwhy, sizeof(pwhy));
    int a = app->api && wk_api_ready(app->api, awhy, sizeof(awhy));
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_printf(&b, "{\"ready\":%s,\"persistence\":", p && a ? "true" : "false");
    ch_buf_json_string(&b, p ? "ok" : pwhy, strlen(p ? "ok" : pwhy));
    ch_buf_puts(&b, ",\"api\":");
    ch_buf_json_string(&b, a ? "ok" : awhy, strlen(a ? "ok" : awhy));
    ch_buf_puts(&b, "}");
    reply(req, p && a ? 200 : 503, "application/json", b.oom ? "{}" : b.data, b.oom ? 2 : b.len);
    ch_buf_free(&b);
}

static void
on_metrics(evhtp_request_t *req, void *arg)
{
    wk_app *app = arg;
    ch_buf b;
    ch_buf_init(&b);
    if (app->persist) wk_persist_metrics(app->persist, &b);
    if (app->api) wk_api_metrics(app->api, &b);
    if (b.oom) reply(req, 500, "text/plain", "out of memory\n", 14);
    else reply(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    ch_buf_free(&b);
}

int
wk_http_start(wk_app *app)
{
    if (!(app->htp = evhtp_new(app->base, NULL))) return -1;
    evhtp_set_max_body_size(app->htp, app->cfg->max_body);
    struct timeval idle = { 60, 0 };
    evhtp_set_timeouts(app->htp, &idle, &idle);
    evhtp_set_post_accept_cb(app->htp, on_accept, app);
    if (!evhtp_set_cb(app->htp, "/healthz", on_healthz, app) ||
        !evhtp_set_cb(app->htp, "/readyz", on_readyz, app) ||
        !evhtp_set_cb(app->htp, "/metrics", on_metrics, app))
        return -1;
    return 0;
}

int
wk_http_listen(wk_app *app)
{
    if (evhtp_bind_socket(app->htp, app->cfg->listen_host, (uint16_t)app->cfg->listen_port, 1024) < 0) {
        CH_ERROR("cannot listen", " addr=%s:%d", app->cfg->listen_host, app->cfg->listen_port);
        return -1;
    }
    CH_INFO("listening", " addr=%s:%d", app->cfg->listen_host, app->cfg->listen_port);
    return 0;
}

void
wk_http_unlisten(wk_app *app)
{
    if (app->htp) evhtp_unbind_socket(app->htp);
}

void
wk_http_stop(wk_app *app)
{
    while (open_conns) evhtp_connection_free(open_conns->conn); /* the fini hook unlinks */
    if (app->htp) evhtp_free(app->htp);
    app->htp = NULL;
}
