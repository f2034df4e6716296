/*
 * http.c — HTTP routes of a gateway node.
 *
 * /ws: the opening handshake is checked by pure functions (ws_handshake.c,
 * jwt_auth.c) before anything is upgraded: a refusal is an HTTP status with
 * a JSON body (400/405/426 handshake, 401 token, 403 origin, 503 draining).
 * On success the 101 response is written straight to the connection's
 * bufferevent, which is taken over from libevhtp (Debian's 1.2.18 has no
 * WebSocket support); libevhtp frees its own connection state after the
 * callback returns.
 *
 * Every accepted connection gets an absolute deadline to deliver a complete
 * request (slowloris); idle keep-alive connections are bounded by evhtp's
 * read timeout.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/buffer.h>
#include <evhtp/evhtp.h>

#include "log.h"
#include "metrics.h"
#include "ws_handshake.h"

#define KEEPALIVE_IDLE_S 60
#define FD_RESERVE 64           /* descriptors kept free for Redis, logs, accept */

/* Per HTTP connection until it is upgraded or freed: its handshake deadline,
 * and its place in the list of open HTTP connections (freed at shutdown,
 * since evhtp_free does not free connections). */
typedef struct hs_deadline {
    struct event *ev;
    evhtp_connection_t *conn;
    struct hs_deadline *prev, *next;
    struct gw_http *http;
} hs_deadline;

typedef struct gw_http {
    evhtp_t *htp;
    gw_node *node;
    long max_sessions;
    hs_deadline *conns;       /* open, not upgraded HTTP connections */
} gw_http;

static void
reply_json(evhtp_request_t *req, int status, const char *body)
{
    evhtp_headers_add_header(req->headers_out,
                             evhtp_header_new("Content-Type", "application/json", 0, 0));
    evbuffer_add(req->buffer_out, body, strlen(body));
    evhtp_send_reply(req, (evhtp_res)status);
}

static void
refuse(evhtp_request_t *req, int status, const char *error, const char *message)
{
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_printf(&b, "{\"error\":\"%s\",\"message\":", error);
    ch_buf_json_string(&b, message, strlen(message));
    ch_buf_puts(&b, "}");
    GW_INC(handshakes_rejected_total);
    CH_DEBUG("upgrade refused", " status=%d error=%s reason=\"%s\"", status, error, message);
    reply_json(req, status, b.oom ? "{\"error\":\"refused\"}" : b.data);
    ch_buf_free(&b);
}

static void
deadline_free(hs_deadline *d)
{
    if (!d) return;
    if (d->prev) d->prev->next = d->next; else d->http->conns = d->next;
    if (d->next) d->next->prev = d->prev;
    event_free(d->ev);
    free(d);
}

static evhtp_res
on_conn_fini(evhtp_connection_t *conn, void *arg)
{
    (void)conn;
    deadline_free(arg);
    return EVHTP_RES_OK;
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    hs_deadline *d = arg;
    evhtp_connection_t *conn = d->conn;
    /* A keep-alive connection between requests is left to the idle timeout. */
    if (conn->request == NULL && conn->num_requests > 0) return;
    CH_DEBUG("handshake deadline passed", NULL);
    evhtp_connection_free(conn); /* runs on_conn_fini, which frees d */
}

static evhtp_res
on_accept(evhtp_connection_t *conn, void *arg)
{
    gw_http *h = arg;
    hs_deadline *d = malloc(sizeof(*d));
    if (!d) return EVHTP_RES_ERROR;
    d->conn = conn;
    d->http = h;
    d->ev = evtimer_new(h->node->base, on_deadline, d);
    if (!d->ev) { free(d); return EVHTP_RES_ERROR; }
    d->prev = NULL;
    d->next = h->conns;
    if (h->conns) h->conns->prev = d;
    h->conns = d;
    struct timeval tv = { h->node->cfg->handshake_timeout, 0 };
    evtimer_add(d->ev, &tv);
    evhtp_connection_set_hook(conn, evhtp_hook_on_connection_fini, (evhtp_hook)on_conn_fini, d);
    return EVHTP_RES_OK;
}

/* The access token: Authorization header, then subprotocol, then ?token=. */
static const char *
find_token(evhtp_request_t *req, const char *protocol, char *buf, size_t buflen)
{
    const char *auth = evhtp_header_find(req->headers_in, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        auth += 7;
        while (*auth == ' ') auth++;
        return auth;
    }
    if (protocol) {
        int n = ch_ws_protocol_token(protocol, buf, buflen);
        if (n > 0) return buf;
        if (n < 0) return ""; /* too long: refused by length */
    }
    if (req->uri && req->uri->query) {
        const char *q = evhtp_kv_find(req->uri->query, "token");
        if (q) return q;
    }
    return NULL;
}

static void
on_ws(evhtp_request_t *req, void *arg)
{
    gw_http *h = arg;
    gw_node *n = h->node;
    ch_ws_request wr;
    ch_ws_handshake hs;
    char tokbuf[CH_JWT_MAX_TOKEN + 2];

    if (n->draining) {
        evhtp_headers_add_header(req->headers_out, evhtp_header_new("Retry-After", "1", 0, 0));
        refuse(req, 503, "draining", "this gateway is shutting down; reconnect through the load balancer");
        return;
    }
    memset(&wr, 0, sizeof(wr));
    wr.method = evhtp_request_get_method(req) == htp_method_GET ? "GET" : "OTHER";
    wr.upgrade = evhtp_header_find(req->headers_in, "Upgrade");
    wr.connection = evhtp_header_find(req->headers_in, "Connection");
    wr.key = evhtp_header_find(req->headers_in, "Sec-WebSocket-Key");
    wr.version = evhtp_header_find(req->headers_in, "Sec-WebSocket-Version");
    wr.protocol = evhtp_header_find(req->headers_in, "Sec-WebSocket-Protocol");
    if (ch_ws_handshake_check(&wr, &hs) != 101) {
        if (hs.status == 426)
            evhtp_headers_add_header(req->headers_out, evhtp_header_new("Sec-WebSocket-Version", "13", 0, 0));
        refuse(req, hs.status, hs.status == 405 ? "method_not_allowed" : "bad_handshake", hs.reason);
        return;
    }
    const char *origin = evhtp_header_find(req->headers_in, "Origin");
    const char *host = evhtp_header_find(req->headers_in, "Host");
    if (!ch_ws_origin_allowed(origin, n->cfg->allowed_origins, host)) {
        refuse(req, 403, "forbidden_origin", "Origin not allowed");
        return;
    }
    const char *token = find_token(req, wr.protocol, tokbuf, sizeof(tokbuf));
    if (!token) {
        evhtp_headers_add_header(req->headers_out, evhtp_header_new("WWW-Authenticate", "Bearer", 0, 0));
        refuse(req, 401, "unauthorized", "missing access token");
        return;
    }
    ch_jwt_claims claims;
    const char *why = NULL;
    if (ch_jwt_verify(&n->jwt, token, strlen(token), time(NULL), &claims, &why) < 0) {
        evhtp_headers_add_header(req->headers_out,
                                 evhtp_header_new("WWW-Authenticate", "Bearer error=\"invalid_token\"", 0, 0));
        refuse(req, 401, "unauthorized", why ? why : "invalid token");
        return;
    }
    if (n->nsessions >= h->max_sessions) {
        refuse(req, 503, "over_capacity", "this gateway holds its maximum of connections");
        return;
    }

    evhtp_connection_t *conn = evhtp_request_get_connection(req);
    hs_deadline *d = conn->hooks ? conn->hooks->on_connection_fini_arg : NULL;
    struct bufferevent *bev = evhtp_connection_take_ownership(conn);
    deadline_free(d); /* take_ownership removed the fini hook */
    if (!bev) return;

    char head[256];
    int len = snprintf(head, sizeof(head),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                       hs.accept, hs.subprotocol ? "Sec-WebSocket-Protocol: " : "",
                       hs.subprotocol ? hs.subprotocol : "", hs.subprotocol ? "\r\n" : "");
    bufferevent_write(bev, head, (size_t)len);
    gw_session *s = gw_session_new(n, bev, &claims);
    if (!s) {
        bufferevent_free(bev);
        return;
    }
    CH_DEBUG("session open", " session=%s user_len=%zu", s->id, strlen(s->user));
}

static void
on_healthz(evhtp_request_t *req, void *arg)
{
    gw_http *h = arg;
    char body[128];
    snprintf(body, sizeof(body), "{\"status\":\"ok\",\"node\":\"%s\"}", h->node->node_id);
    reply_json(req, 200, body);
}

static void
on_readyz(evhtp_request_t *req, void *arg)
{
    gw_http *h = arg;
    int up = gw_broker_up(h->node->broker), draining = h->node->draining;
    char body[160];
    snprintf(body, sizeof(body), "{\"ready\":%s,\"redis\":\"%s\",\"draining\":%s}",
             up && !draining ? "true" : "false", up ? "up" : "down", draining ? "true" : "false");
    reply_json(req, up && !draining ? 200 : 503, body);
}

static void
on_metrics(evhtp_request_t *req, void *arg)
{
    gw_http *h = arg;
    ch_buf b;
    ch_buf_init(&b);
    gw_metrics_render(&b, h->node->node_id, h->node->draining);
    evhtp_headers_add_header(req->headers_out,
                             evhtp_header_new("Content-Type", "text/plain; version=0.0.4", 0, 0));
    if (!b.oom) evbuffer_add(req->buffer_out, b.data, b.len);
    evhtp_send_reply(req, b.oom ? EVHTP_RES_SERVERR : EVHTP_RES_OK);
    ch_buf_free(&b);
}

static void
on_not_found(evhtp_request_t *req, void *arg)
{
    (void)arg;
    reply_json(req, 404, "{\"error\":\"not_found\",\"message\":\"routes: /ws, /healthz, /readyz, /metrics\"}");
}

int
gw_http_start(gw_node *n)
{
    gw_http *h = calloc(1, sizeof(*h));
    struct rlimit rl;
    if (!h) return -1;
    h->node = n;
    h->max_sessions = 1L << 30;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        h->max_sessions = (long)rl.rlim_cur - FD_RESERVE;
    if (!(h->htp = evhtp_new(n->base, NULL))) goto fail;
    evhtp_enable_flag(h->htp, EVHTP_FLAG_ENABLE_REUSEPORT | EVHTP_FLAG_ENABLE_NODELAY);
    evhtp_set_max_body_size(h->htp, 64 * 1024);
    struct timeval idle = { KEEPALIVE_IDLE_S, 0 };
    evhtp_set_timeouts(h->htp, &idle, &idle);
    evhtp_set_post_accept_cb(h->htp, on_accept, h);
    if (!evhtp_set_cb(h->htp, "/ws", on_ws, h) || !evhtp_set_cb(h->htp, "/healthz", on_healthz, h) ||
        !evhtp_set_cb(h->htp, "/readyz", on_readyz, h) || !evhtp_set_cb(h->htp, "/metrics", on_metrics, h))
        goto fail;
    evhtp_set_gencb(h->htp, on_not_found, h);
    if (evhtp_bind_socket(h->htp, n->cfg->listen_host, (uint16_t)n->cfg->listen_port, 4096) < 0) {
        CH_ERROR("cannot listen", " addr=%s:%d", n->cfg->listen_host, n->cfg->listen_port);
        goto fail;
    }
    n->http = h;
    CH_INFO("listening", " addr=%s:%d", n->cfg->listen_host, n->cfg->listen_port);
    return 0;
fail:
    if (h->htp) evhtp_free(h->htp);
    free(h);
    return -1;
}

void
gw_http_stop(gw_node *n)
{
    gw_http *h = n->http;
    if (!h) return;
    while (h->conns) evhtp_connection_free(h->conns->conn); /* fini hook unlinks */
    evhtp_unbind_socket(h->htp);
    evhtp_free(h->htp);
    free(h);
    n->http = NULL;
}
