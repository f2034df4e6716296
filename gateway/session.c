/*
 * session.c — one WebSocket connection after the upgrade: reading and
 * parsing frames, writing messages, the close handshake, liveness and
 * backpressure.
 *
 *   OPEN --server close / client close--> CLOSING --close frame flushed and
 *     |                                      |      peer's close seen, EOF,
 *     |                                      |      error or 5 s--> CLOSED
 *     +--EOF / socket error / ping timeout --------------------------> CLOSED
 *
 * CLOSED means detached: no socket, no memberships, off the node list. The
 * memory lives on while Redis callbacks hold references (see gateway.h).
 *
 * Backpressure: before anything is queued, the pending output is compared
 * with outbound_limit; a socket over it is closed (1008, "slow consumer")
 * and gets nothing more but the close frame, so one slow reader can neither
 * grow memory without bound nor delay anyone else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "metrics.h"

#define CLOSING_TIMEOUT_MS 5000
#define SMALL_COPY 1024     /* frames up to this size are copied, larger ones referenced */

/* ---- shared messages ---------------------------------------------------------- */

gw_msg *
gw_msg_new(const char *json, size_t len, int64_t seq, int64_t epoch)
{
    size_t h = ch_ws_header_size(len);
    if (len > UINT32_MAX - 16) return NULL;
    gw_msg *m = malloc(sizeof(*m) + h + len);
    if (!m) return NULL;
    m->refs = 1;
    m->seq = seq;
    m->epoch = epoch;
    ch_ws_header_encode(m->data, CH_WS_OP_TEXT, len);
    memcpy(m->data + h, json, len);
    m->len = (uint32_t)(h + len);
    return m;
}

void
gw_msg_release(gw_msg *m)
{
    if (m && --m->refs == 0) free(m);
}

static void
msg_cleanup(const void *data, size_t len, void *arg)
{
    (void)data; (void)len;
    gw_msg_release(arg);
}

/* ---- references ------------------------------------------------------------- */

void
gw_session_ref(gw_session *s)
{
    s->refs++;
}

void
gw_session_unref(gw_session *s)
{
    if (--s->refs == 0) {
        free(s->presence);
        free(s->user_json);
        free(s);
    }
}

/* ---- output ----------------------------------------------------------------- */

static void session_over_limit(gw_session *s);

/* Room for n more bytes? Closes the session as a slow consumer if not. */
static int
session_can_queue(gw_session *s, size_t n)
{
    if (s->state != GW_S_OPEN || !s->bev) return 0;
    size_t pending = evbuffer_get_length(bufferevent_get_output(s->bev));
    if (pending + n > s->node->cfg->outbound_limit) {
        session_over_limit(s);
        return 0;
    }
    return 1;
}

int
gw_session_send_json(gw_session *s, const char *json, size_t len)
{
    uint8_t hdr[10];
    size_t h = ch_ws_header_size(len);
    if (!session_can_queue(s, h + len)) return -1;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    ch_ws_header_encode(hdr, CH_WS_OP_TEXT, len);
    if (evbuffer_add(out, hdr, h) < 0 || evbuffer_add(out, json, len) < 0) return -1;
    GW_INC(frames_out_total);
    GW_ADD(bytes_out_total, h + len);
    return 0;
}

int
gw_session_send_buf(gw_session *s, const ch_buf *b)
{
    if (b->oom) return -1;
    return gw_session_send_json(s, b->data, b->len);
}

int
gw_session_send_msg(gw_session *s, gw_msg *m)
{
    if (!session_can_queue(s, m->len)) return -1;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    if (m->len <= SMALL_COPY) {
        if (evbuffer_add(out, m->data, m->len) < 0) return -1;
    } else {
        m->refs++;
        if (evbuffer_add_reference(out, m->data, m->len, msg_cleanup, m) < 0) {
            m->refs--;
            return -1;
        }
    }
    GW_INC(frames_out_total);
    GW_ADD(bytes_out_total, m->len);
    return 0;
}

void
gw_session_send_error(gw_session *s, const char *id, const char *code, const char *msg,
                      const char *room)
{
    ch_buf *b = &s->node->scratch;
    ch_encode_error(b, id ? id : "", code, msg, room);
    gw_session_send_buf(s, b);
}

/* Pings and pongs count against the outbound limit like everything else: a
 * client flooding pings without reading cannot grow our buffers. */
static void
send_control(gw_session *s, int opcode, const uint8_t *payload, size_t len)
{
    uint8_t frame[2 + 125];
    if (len > 125 || !session_can_queue(s, 2 + len)) return;
    size_t h = ch_ws_header_encode(frame, opcode, len);
    if (len) memcpy(frame + h, payload, len);
    bufferevent_write(s->bev, frame, h + len);
}

/* ---- closing ---------------------------------------------------------------- */

static void
on_close_flushed(struct bufferevent *bev, void *arg)
{
    gw_session *s = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) return;
    /* Our close frame is out. If the peer already sent its close, we are
     * done; otherwise wait (bounded by the tick) for its close frame. */
    if (s->peer_closed) gw_session_destroy(s);
    else shutdown(bufferevent_getfd(s->bev), SHUT_WR);
}

static void
start_closing(gw_session *s, uint16_t code, const char *reason)
{
    uint8_t frame[2 + 125];
    if (s->state != GW_S_OPEN) return;
    s->state = GW_S_CLOSING;
    s->closing_since_ms = ch_mono_ms();
    size_t len = ch_ws_close_encode(frame, code, reason);
    bufferevent_write(s->bev, frame, len);
    /* on_write sees CLOSING once the frame is flushed. */
}

void
gw_session_close(gw_session *s, uint16_t code, const char *reason)
{
    if (s->state != GW_S_OPEN) return;
    CH_DEBUG("closing session", " session=%s code=%u reason=\"%s\"", s->id, code, reason);
    start_closing(s, code, reason);
}

static void
session_over_limit(gw_session *s)
{
    GW_INC(slow_consumer_closes_total);
    CH_INFO("slow consumer closed", " session=%s user_limit=%zu", s->id, s->node->cfg->outbound_limit);
    gw_session_close(s, CH_WS_CLOSE_POLICY, "slow consumer: outbound buffer limit exceeded");
}

void
gw_session_destroy(gw_session *s)
{
    gw_node *n = s->node;
    if (s->state == GW_S_CLOSED) return;
    s->state = GW_S_CLOSED;
    while (s->members) gw_member_leave(s->members);
    if (s->prev) s->prev->next = s->next; else n->sessions = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    n->nsessions--;
    GW_DEC(connections);
    if (s->bev) {
        bufferevent_free(s->bev); /* closes the socket */
        s->bev = NULL;
    }
    ch_ws_parser_free(s->parser);
    s->parser = NULL;
    gw_session_unref(s); /* the node list's reference */
}

/* ---- input ------------------------------------------------------------------ */

static void
handle_text(gw_session *s, const uint8_t *data, size_t len)
{
    ch_request req;
    ch_proto_error err;
    if (ch_request_parse((const char *)data, len, &req, &err) < 0) {
        gw_session_send_error(s, err.id, err.code, err.message, NULL);
        return;
    }
    gw_handle_request(s, &req);
    ch_request_free(&req);
}

static void
handle_event(gw_session *s, const ch_ws_event *ev)
{
    switch (ev->type) {
    case CH_WS_EV_TEXT:
        GW_INC(frames_in_total);
        s->last_msg_ms = s->last_rx_ms;
        if (s->state == GW_S_OPEN) handle_text(s, ev->payload, ev->payload_len);
        break;
    case CH_WS_EV_BINARY:
        GW_INC(frames_in_total);
        gw_session_close(s, CH_WS_CLOSE_UNSUPPORTED, "protocol v1 uses JSON text messages");
        break;
    case CH_WS_EV_PING:
        if (s->state == GW_S_OPEN) send_control(s, CH_WS_OP_PONG, ev->payload, ev->payload_len);
        break;
    case CH_WS_EV_PONG:
        break;
    case CH_WS_EV_CLOSE:
        s->peer_closed = 1;
        if (s->state == GW_S_OPEN) {
            /* Echo the peer's code (RFC 6455 §5.5.1); no body if it sent none. */
            start_closing(s, ev->close_code, "");
        } else {
            /* We initiated; the handshake is complete. */
            gw_session_destroy(s);
        }
        break;
    }
}

static void
session_process_input(gw_session *s)
{
    struct evbuffer *in;
    gw_session_ref(s);
    while (s->state != GW_S_CLOSED && s->bev &&
           evbuffer_get_length(in = bufferevent_get_input(s->bev)) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
        size_t consumed = 0;
        ch_ws_event ev;
        ch_ws_result r = ch_ws_parser_feed(s->parser, v.iov_base, v.iov_len, &consumed, &ev);
        evbuffer_drain(in, consumed);
        GW_ADD(bytes_in_total, consumed);
        s->last_rx_ms = ch_mono_ms();
        s->pings_unanswered = 0;
        if (r == CH_WS_ERROR) {
            GW_INC(protocol_closes_total);
            if (s->state == GW_S_OPEN) {
                CH_DEBUG("protocol error", " session=%s code=%u reason=\"%s\"", s->id, ev.close_code, ev.reason);
                /* Fail the connection: close as soon as our frame is out. */
                s->peer_closed = 1;
                start_closing(s, ev.close_code, ev.reason);
                if (s->bev) bufferevent_disable(s->bev, EV_READ);
            } else {
                gw_session_destroy(s);
            }
            break;
        }
        if (r == CH_WS_EVENT) handle_event(s, &ev);
    }
    if (s->state == GW_S_OPEN) ch_ws_parser_shrink(s->parser);
    gw_session_unref(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    session_process_input(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    gw_session *s = arg;
    if (s->state == GW_S_CLOSING) on_close_flushed(bev, s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    gw_session *s = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        gw_session_ref(s);
        gw_session_destroy(s);
        gw_session_unref(s);
    }
}

/* ---- lifecycle --------------------------------------------------------------- */

static char *
json_string_dup(const char *s)
{
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_json_string(&b, s, strlen(s));
    if (b.oom) { ch_buf_free(&b); return NULL; }
    return b.data; /* ownership passes to the caller */
}

static void
send_welcome(gw_session *s, const char *id)
{
    const gw_config *cfg = s->node->cfg;
    ch_buf *b = &s->node->scratch;
    ch_buf_reset(b);
    ch_buf_puts(b, "{\"type\":\"welcome\",");
    if (id && id[0]) ch_buf_printf(b, "\"id\":%s,", id);
    ch_buf_printf(b, "\"node\":\"%s\",\"session\":\"%s\",\"user\":%s,\"protocol\":%d,"
                     "\"token_exp\":%lld,\"limits\":{\"max_message\":%zu,\"max_rooms\":%d,"
                     "\"publish_rate\":%d,\"outbound_limit\":%zu,\"ping_interval_ms\":%d}}",
                  s->node->node_id, s->id, s->user_json, CH_PROTO_VERSION, (long long)s->token_exp,
                  cfg->max_message, cfg->max_rooms, cfg->publish_rate, cfg->outbound_limit,
                  cfg->ping_interval * 1000);
    gw_session_send_buf(s, b);
}

void
gw_session_welcome(gw_session *s, const char *id)
{
    send_welcome(s, id);
}

gw_session *
gw_session_new(gw_node *n, struct bufferevent *bev, const ch_jwt_claims *claims)
{
    gw_session *s = calloc(1, sizeof(*s));
    ch_buf b;
    if (!s) return NULL;
    s->node = n;
    s->refs = 1;
    s->bev = bev;
    s->parser = ch_ws_parser_new(n->cfg->max_message, CH_WS_ROLE_SERVER);
    snprintf(s->id, sizeof(s->id), "%s.%x.%llu", n->node_id, n->boot,
             (unsigned long long)++n->session_seq);
    snprintf(s->user, sizeof(s->user), "%s", claims->sub);
    s->user_json = json_string_dup(claims->sub);
    ch_buf_init(&b);
    ch_buf_puts(&b, "{\"user\":");
    ch_buf_json_string(&b, claims->sub, strlen(claims->sub));
    ch_buf_puts(&b, ",\"name\":");
    ch_buf_json_string(&b, claims->name, strlen(claims->name));
    ch_buf_printf(&b, ",\"session\":\"%s\"}", s->id);
    s->presence = b.oom ? NULL : b.data;
    if (b.oom) ch_buf_free(&b);
    if (!s->parser || !s->user_json || !s->presence) {
        ch_ws_parser_free(s->parser);
        free(s->user_json);
        free(s->presence);
        free(s);
        return NULL;
    }
    s->token_exp = claims->exp;
    s->last_rx_ms = s->last_msg_ms = s->tokens_ms = ch_mono_ms();
    s->tokens = n->cfg->publish_rate;

    s->next = n->sessions;
    if (n->sessions) n->sessions->prev = s;
    n->sessions = s;
    n->nsessions++;
    GW_INC(connections);
    GW_INC(connections_total);

    bufferevent_setcb(bev, on_read, on_write, on_event, s);
    bufferevent_set_timeouts(bev, NULL, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    send_welcome(s, NULL);
    /* The HTTP layer drains the upgrade request from the input only after we
     * return; frames a client sent right behind it are read on the next
     * loop iteration. */
    bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    return s;
}

void
gw_session_tick(gw_session *s, uint64_t mono, int64_t wall_s)
{
    const gw_config *cfg = s->node->cfg;

    if (s->state == GW_S_CLOSING) {
        if (mono - s->closing_since_ms > CLOSING_TIMEOUT_MS) gw_session_destroy(s);
        return;
    }
    if (s->state != GW_S_OPEN) return;
    if (s->node->draining && s->drain_at_ms && mono >= s->drain_at_ms) {
        static const char hint[] = "{\"type\":\"reconnect\",\"reason\":\"draining\",\"after_ms\":0}";
        gw_session_send_json(s, hint, sizeof(hint) - 1);
        gw_session_close(s, CH_WS_CLOSE_GOING_AWAY, "server draining: reconnect");
        return;
    }
    if (s->token_exp && wall_s > s->token_exp) {
        gw_session_close(s, CH_WS_CLOSE_POLICY, "token expired: reconnect with a fresh token");
        return;
    }
    /* Idle: in no room and silent. A client listening in a room is not idle. */
    if (cfg->idle_timeout && s->nrooms == 0 &&
        mono - s->last_msg_ms > (uint64_t)cfg->idle_timeout * 1000) {
        gw_session_close(s, CH_WS_CLOSE_GOING_AWAY, "idle timeout: no room joined");
        return;
    }
    uint64_t quiet = mono - s->last_rx_ms;
    uint64_t every = (uint64_t)cfg->ping_interval * 1000;
    if (quiet >= every * (uint64_t)(s->pings_unanswered + 1)) {
        if (s->pings_unanswered >= cfg->pong_misses) {
            CH_DEBUG("ping timeout", " session=%s", s->id);
            gw_session_destroy(s);
            return;
        }
        s->pings_unanswered++;
        send_control(s, CH_WS_OP_PING, NULL, 0);
    }
}
