/*
 * lt_conn.c — client WebSocket connection; see lt_conn.h for the state
 * machine and invariants.
 */
#include "lt_conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol.h"
#include "ws_handshake.h"

#define HEAD_MAX 16384  /* largest HTTP response head accepted */

uint64_t
lt_net_random(lt_net *net)
{
    uint64_t x = net->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    net->rng = x;
    return x * UINT64_C(2685821657736338717);
}

static void
teardown(lt_conn *c)
{
    if (c->bev) bufferevent_free(c->bev);
    c->bev = NULL;
    if (c->parser) ch_ws_parser_free(c->parser);
    c->parser = NULL;
    c->state = LT_CONN_IDLE;
}

/* The connection ends for a remote reason (or a protocol error). */
static void
fail(lt_conn *c, int err)
{
    if (c->in_read) {
        if (!c->doomed) {
            c->doomed = 1;
            c->doomed_err = (int8_t)err;
        }
        return;
    }
    teardown(c);
    c->net->ops.on_closed(c, err);
}

void
lt_conn_close(lt_conn *c)
{
    if (c->in_read) {
        if (!c->doomed) {
            c->doomed = 1;
            c->doomed_err = -1;
        }
        return;
    }
    teardown(c);
}

void
lt_conn_handshake_done(lt_conn *c)
{
    if (c->bev) bufferevent_set_timeouts(c->bev, NULL, NULL);
}

static int
send_frame(lt_conn *c, int opcode, const uint8_t *payload, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer_iovec v;
    size_t flen = ch_ws_header_size(len) + 4 + len;
    uint64_t r = lt_net_random(c->net);
    uint8_t key[4];
    memcpy(key, &r, 4);
    if (evbuffer_reserve_space(out, (ev_ssize_t)flen, &v, 1) < 1 || v.iov_len < flen) return -1;
    v.iov_len = ch_ws_client_frame_encode(v.iov_base, 1, opcode, payload, len, key);
    if (evbuffer_commit_space(out, &v, 1) < 0) return -1;
    c->net->counts->c[LT_C_BYTES_OUT] += len;
    return 0;
}

int
lt_conn_send_text(lt_conn *c, const char *msg, size_t len)
{
    if (c->state != LT_CONN_OPEN || c->doomed) return -1;
    return send_frame(c, CH_WS_OP_TEXT, (const uint8_t *)msg, len);
}

/* Maps an HTTP refusal status to an error kind. */
static int
http_error(int status)
{
    switch (status) {
    case 401: return LT_E_HTTP_401;
    case 403: return LT_E_HTTP_403;
    case 503: return LT_E_HTTP_503;
    default: return LT_E_HTTP_OTHER;
    }
}

/* Reads the 101 response head. Returns 1 when OPEN, 0 if more input is
 * needed, -1 after failing the connection. */
static int
read_head(lt_conn *c, struct evbuffer *in)
{
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) {
        if (evbuffer_get_length(in) > HEAD_MAX) {
            fail(c, LT_E_BAD_HANDSHAKE);
            return -1;
        }
        return 0;
    }
    size_t hl = (size_t)end.pos + 4;
    const char *h = (const char *)evbuffer_pullup(in, (ev_ssize_t)hl);
    if (!h || hl < 12 || strncmp(h, "HTTP/1.", 7) != 0) {
        fail(c, LT_E_BAD_HANDSHAKE);
        return -1;
    }
    int status = atoi(h + 9);
    if (status != 101) {
        fail(c, http_error(status));
        return -1;
    }
    /* Find Sec-WebSocket-Accept among the header lines. */
    int accept_ok = 0;
    const char *p = memchr(h, '\n', hl);
    const char *stop = h + hl;
    static const char name[] = "sec-websocket-accept:";
    while (p && p + 1 < stop) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(stop - line));
        if (!eol) break;
        size_t ll = (size_t)(eol - line);
        if (ll > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
            const char *v = line + sizeof(name) - 1;
            const char *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            accept_ok = (size_t)(ve - v) == 28 && memcmp(v, c->accept, 28) == 0;
        }
        p = eol;
    }
    if (!accept_ok) {
        fail(c, LT_E_BAD_HANDSHAKE);
        return -1;
    }
    evbuffer_drain(in, hl);
    c->parser = ch_ws_parser_new(c->net->max_message, CH_WS_ROLE_CLIENT);
    if (!c->parser) {
        fail(c, LT_E_SOCKET);
        return -1;
    }
    c->state = LT_CONN_OPEN;
    return 1;
}

static void
handle_event(lt_conn *c, const ch_ws_event *ev)
{
    switch (ev->type) {
    case CH_WS_EV_TEXT:
        c->net->counts->c[LT_C_BYTES_IN] += ev->payload_len;
        c->net->ops.on_text(c, (const char *)ev->payload, ev->payload_len);
        break;
    case CH_WS_EV_BINARY:
        fail(c, LT_E_PROTOCOL);
        break;
    case CH_WS_EV_PING:
        send_frame(c, CH_WS_OP_PONG, ev->payload, ev->payload_len);
        break;
    case CH_WS_EV_PONG:
        break;
    case CH_WS_EV_CLOSE: {
        uint8_t frame[2] = { 0, 0 };
        uint16_t code = ev->close_code;
        if (code != CH_WS_CLOSE_NO_STATUS) {
            frame[0] = (uint8_t)(code >> 8);
            frame[1] = (uint8_t)code;
            send_frame(c, CH_WS_OP_CLOSE, frame, 2);
        } else {
            send_frame(c, CH_WS_OP_CLOSE, frame, 0);
        }
        fail(c, code == CH_WS_CLOSE_GOING_AWAY ? LT_E_CLOSE_1001
                : code == CH_WS_CLOSE_POLICY   ? LT_E_CLOSE_1008
                                               : LT_E_CLOSE_OTHER);
        break;
    }
    }
}

static void
read_frames(lt_conn *c, struct evbuffer *in)
{
    struct evbuffer_iovec v[8];
    while (!c->doomed && evbuffer_get_length(in) > 0) {
        int n = evbuffer_peek(in, -1, NULL, v, 8);
        if (n > 8) n = 8;
        size_t used_total = 0;
        for (int i = 0; i < n && !c->doomed; i++) {
            const uint8_t *p = v[i].iov_base;
            size_t left = v[i].iov_len;
            while (left && !c->doomed) {
                size_t used = 0;
                ch_ws_event ev;
                ch_ws_result r = ch_ws_parser_feed(c->parser, p, left, &used, &ev);
                p += used;
                left -= used;
                used_total += used;
                if (r == CH_WS_EVENT) handle_event(c, &ev);
                else if (r == CH_WS_ERROR) fail(c, LT_E_PROTOCOL);
            }
        }
        evbuffer_drain(in, used_total);
    }
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    lt_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    c->in_read = 1;
    if (c->state == LT_CONN_CONNECTING) c->state = LT_CONN_UPGRADING;
    if (c->state == LT_CONN_UPGRADING && read_head(c, in) <= 0) goto out;
    if (c->state == LT_CONN_OPEN) read_frames(c, in);
out:
    c->in_read = 0;
    if (c->doomed) {
        int err = c->doomed_err;
        c->doomed = 0;
        teardown(c);
        if (err >= 0) c->net->ops.on_closed(c, err);
        return;
    }
    if (c->parser) ch_ws_parser_shrink(c->parser);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    lt_conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        c->state = LT_CONN_UPGRADING;
        return;
    }
    int err;
    if (what & BEV_EVENT_TIMEOUT) err = LT_E_TIMEOUT;
    else if (c->state == LT_CONN_CONNECTING) err = LT_E_CONNECT;
    else err = LT_E_LOST;
    teardown(c);
    c->net->ops.on_closed(c, err);
}

int
lt_conn_start(lt_conn *c, lt_net *net, const lt_url *url, const lt_source *src, const char *token,
              size_t token_len, int via, int *err)
{
    int fd = -1, one = 1;
    struct bufferevent *bev = NULL;
    unsigned char raw[16];
    char key[32];
    char req[CH_TOKEN_MAX + 1024];

    c->net = net;
    c->in_read = 0;
    c->doomed = 0;
    *err = LT_E_SOCKET;
    if (token_len > CH_TOKEN_MAX) goto fail;
    fd = socket(url->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (src) {
        /* Defer the port choice to connect(), so the same local port can
         * serve several destinations (ports are then per 4-tuple). */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *)&src->addr, src->addr_len) < 0) goto fail;
    }
    bev = bufferevent_socket_new(net->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) goto fail;
    fd = -1; /* owned by bev now */
    bufferevent_setcb(bev, on_read, NULL, on_event, c);
    bufferevent_set_timeouts(bev, &net->handshake, &net->handshake);
    c->bev = bev;
    c->state = LT_CONN_CONNECTING;
    if (bufferevent_enable(bev, EV_READ) < 0) goto fail;
    if (bufferevent_socket_connect(bev, (const struct sockaddr *)&url->addr, (int)url->addr_len) < 0) {
        /* Out of local ports is a limit of this side (see --source). */
        *err = errno == EADDRNOTAVAIL ? LT_E_SOCKET : LT_E_CONNECT;
        goto fail;
    }

    uint64_t r1 = lt_net_random(net), r2 = lt_net_random(net);
    memcpy(raw, &r1, 8);
    memcpy(raw + 8, &r2, 8);
    EVP_EncodeBlock((unsigned char *)key, raw, 16);
    ch_ws_accept_key(key, c->accept);
    int tl = (int)token_len, n;
    if (via == LT_TOKEN_QUERY)
        n = snprintf(req, sizeof(req),
                     "GET %s%ctoken=%.*s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     url->path, strchr(url->path, '?') ? '&' : '?', tl, token, url->host, key);
    else if (via == LT_TOKEN_SUBPROTOCOL)
        n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: chorus.v1, bearer.%.*s\r\n\r\n",
                     url->path, url->host, key, tl, token);
    else
        n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Authorization: Bearer %.*s\r\n\r\n",
                     url->path, url->host, key, tl, token);
    if (n < 0 || (size_t)n >= sizeof(req) || bufferevent_write(bev, req, (size_t)n) < 0) goto fail;
    net->counts->c[LT_C_CONN_ATTEMPTS]++;
    return 0;

fail:
    if (fd >= 0) close(fd);
    if (bev) bufferevent_free(bev);
    c->bev = NULL;
    c->state = LT_CONN_IDLE;
    return -1;
}
