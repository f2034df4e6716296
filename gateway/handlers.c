/*
 * handlers.c — protocol v1 requests of one session (docs/protocol.md):
 * hello, join, leave, publish (durable and ephemeral), direct, auth, ping.
 *
 * A durable publish is acknowledged only after Redis replied to publish.lua,
 * so an ack means "sequenced and stored in Redis with seq N" (what that
 * survives depends on Redis's appendfsync, see docs/protocol.md). The
 * script also enforces the room's access list and the role the event needs
 * (common/policy.h): a refusal is answered with "forbidden" and takes no
 * seq; a publisher who is no longer on the list also loses the room, as if
 * the worker's kick had arrived. Publishes
 * and direct messages draw from a per-connection token bucket; a client that
 * keeps sending after being refused is closed with 1008.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "gateway.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"

/* Context of a durable publish; owns a session reference. */
typedef struct {
    gw_session *s;
    uint64_t t0_us;
    uint32_t gen;              /* the publisher's membership, to end it if refused */
    const char *refusal;       /* static: what a role refusal says (policy.h) */
    char id[CH_REQID_MAX + 3];
    char room[CH_ROOM_MAX + 1];
    char cid[CH_CID_MAX + 1];
} publish_ctx;

/* Takes one token; 0 if the client is over its rate (and maybe closed). */
static int
rate_take(gw_session *s, const ch_request *req)
{
    const gw_config *cfg = s->node->cfg;
    uint64_t now = ch_mono_ms();
    s->tokens += (double)(now - s->tokens_ms) * cfg->publish_rate / 1000.0;
    if (s->tokens > cfg->publish_rate) s->tokens = cfg->publish_rate;
    s->tokens_ms = now;
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return 1;
    }
    GW_INC(rate_limited_total);
    if (now - s->strikes_ms > 1000) { s->strikes_ms = now; s->rate_strikes = 0; }
    if (++s->rate_strikes > (uint32_t)cfg->publish_rate) {
        gw_session_close(s, CH_WS_CLOSE_POLICY, "publish rate limit exceeded repeatedly");
        return 0;
    }
    gw_session_send_error(s, req->id, CH_ERR_RATE_LIMITED, "publish rate limit exceeded; slow down",
                          req->room);
    return 0;
}

static gw_member *
joined_member(gw_session *s, const ch_request *req)
{
    gw_member *m = gw_member_find(s, req->room);
    if (!m || !m->joined_sent) {
        gw_session_send_error(s, req->id, CH_ERR_NOT_JOINED, "join the room first", req->room);
        return NULL;
    }
    return m;
}

/* publish.lua refused the event (reply "FORBIDDEN member|role"): tells the
 * client, and ends the membership of a publisher who is off the list. */
static void
publish_refused(publish_ctx *p, const redisReply *reply)
{
    gw_session *s = p->s;
    int not_member = reply->len >= 16 && strncmp(reply->str, "FORBIDDEN member", 16) == 0;

    GW_INC(publish_forbidden_total);
    if (s->state != GW_S_OPEN) return;
    gw_session_send_error(s, p->id, CH_ERR_FORBIDDEN, not_member ? CH_NOT_A_MEMBER_MESSAGE : p->refusal,
                          p->room);
    gw_member *m = not_member ? gw_member_find(s, p->room) : NULL;
    if (m && m->gen == p->gen && s->state == GW_S_OPEN) {
        gw_session_send_error(s, "", CH_ERR_FORBIDDEN, CH_NOT_A_MEMBER_MESSAGE, p->room);
        gw_member_leave(m);
    }
}

static void
on_publish_reply(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    redisReply *reply = r;
    publish_ctx *p = priv;
    gw_session *s = p->s;

    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "FORBIDDEN", 9) == 0) {
        publish_refused(p, reply);
        goto out;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
        GW_INC(publish_errors_total);
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            CH_WARN("publish script failed", " room=%s error=\"%.*s\"", p->room, (int)reply->len, reply->str);
            if (strncmp(reply->str, "NOSCRIPT", 8) == 0) gw_broker_scripts_lost(s->node->broker);
        }
        if (s->state == GW_S_OPEN)
            gw_session_send_error(s, p->id, CH_ERR_UNAVAILABLE,
                                  "publish not stored; retry with the same cid", p->room);
        goto out;
    }
    long long seq = reply->element[0]->integer, epoch = reply->element[1]->integer;
    int dup = reply->element[2]->integer != 0;
    GW_INC(publishes_total);
    if (dup) GW_INC(publish_duplicates_total);
    gw_metrics_observe_ack(ch_mono_us() - p->t0_us);
    if (s->state == GW_S_OPEN) {
        ch_buf *b = &s->node->scratch;
        ch_buf_reset(b);
        ch_buf_puts(b, "{\"type\":\"ack\",");
        if (p->id[0]) ch_buf_printf(b, "\"id\":%s,", p->id);
        ch_buf_printf(b, "\"room\":\"%s\",\"cid\":\"%s\",\"seq\":%lld,\"epoch\":%lld%s}", p->room,
                      p->cid, seq, epoch, dup ? ",\"duplicate\":true" : "");
        gw_session_send_buf(s, b);
    }
out:
    gw_session_unref(s);
    free(p);
}

static void
publish_durable(gw_session *s, const gw_member *m, const ch_request *req)
{
    gw_node *n = s->node;
    ch_room_keys k;
    char dedup[CH_KEY_MAX], window[16], dedup_s[16];
    ch_buf prefix, suffix;

    ch_room_keys_build(&k, req->room, n->cfg->partitions);
    if (ch_dedup_key(dedup, sizeof(dedup), req->room, n->cfg->partitions, s->user, req->cid) < 0) {
        gw_session_send_error(s, req->id, CH_ERR_BAD_REQUEST, "cid too long", req->room);
        return;
    }
    snprintf(window, sizeof(window), "%ld", n->cfg->stream_window);
    snprintf(dedup_s, sizeof(dedup_s), "%d", n->cfg->dedup_seconds);

    /* The script splices seq, epoch and ts between these two halves. */
    ch_buf_init(&prefix);
    ch_buf_init(&suffix);
    ch_encode_event_halves(&prefix, &suffix, req->room, s->user_json, s->id, req->kind, req->cid,
                           req->payload, req->payload_len);

    publish_ctx *p = malloc(sizeof(*p));
    if (!p || prefix.oom || suffix.oom) {
        free(p);
        gw_session_send_error(s, req->id, CH_ERR_UNAVAILABLE, "out of memory", req->room);
        goto done;
    }
    p->s = s;
    p->t0_us = ch_mono_us();
    p->gen = m->gen;
    p->refusal = ch_event_refusal(req->room, req->kind);
    snprintf(p->id, sizeof(p->id), "%s", req->id);
    snprintf(p->room, sizeof(p->room), "%s", req->room);
    snprintf(p->cid, sizeof(p->cid), "%s", req->cid);

    const char *args[18] = { k.meta, k.stream, k.persist, dedup, k.channel, k.acl,
                             prefix.data, suffix.data, window, dedup_s,
                             req->room, s->user, req->kind, req->cid, req->payload, s->id,
                             ch_role_name(ch_event_min_role(req->room, req->kind)),
                             n->cfg->room_acl_required ? "1" : "0" };
    size_t lens[18];
    for (int i = 0; i < 18; i++) lens[i] = strlen(args[i]);
    lens[14] = req->payload_len;
    gw_session_ref(s);
    if (gw_broker_script(n->broker, GW_SCRIPT_PUBLISH, on_publish_reply, p, 6, 18, args, lens) < 0) {
        gw_session_unref(s);
        free(p);
        GW_INC(publish_errors_total);
        gw_session_send_error(s, req->id, CH_ERR_UNAVAILABLE,
                              "Redis is unavailable; retry with the same cid", req->room);
    }
done:
    ch_buf_free(&prefix);
    ch_buf_free(&suffix);
}

/* Context of an ephemeral publish or direct message that wants an ack. */
typedef struct {
    gw_session *s;
    char id[CH_REQID_MAX + 3];
    char room[CH_ROOM_MAX + 1];
} forward_ctx;

static void
on_forward_reply(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    forward_ctx *f = priv;
    gw_session *s = f->s;
    redisReply *reply = r;
    if (s->state == GW_S_OPEN) {
        if (reply && reply->type == REDIS_REPLY_INTEGER) {
            ch_buf *b = &s->node->scratch;
            ch_buf_reset(b);
            ch_buf_printf(b, "{\"type\":\"ack\",\"id\":%s,\"room\":\"%s\"}", f->id, f->room);
            gw_session_send_buf(s, b);
        } else {
            gw_session_send_error(s, f->id, CH_ERR_UNAVAILABLE, "not forwarded", f->room);
        }
    }
    gw_session_unref(s);
    free(f);
}

/* PUBLISHes head + json on the room channel (no sequence, no storage). */
static void
forward(gw_session *s, const ch_request *req, const ch_buf *msg)
{
    gw_node *n = s->node;
    ch_room_keys k;
    forward_ctx *f = NULL;
    ch_room_keys_build(&k, req->room, n->cfg->partitions);
    const char *argv[3] = { "PUBLISH", k.channel, msg->data };
    size_t lens[3] = { 7, strlen(k.channel), msg->len };

    if (msg->oom) return;
    if (req->id[0] && (f = malloc(sizeof(*f)))) {
        f->s = s;
        snprintf(f->id, sizeof(f->id), "%s", req->id);
        snprintf(f->room, sizeof(f->room), "%s", req->room);
        gw_session_ref(s);
    }
    if (gw_broker_command(n->broker, f ? on_forward_reply : NULL, f, 3, argv, lens) < 0) {
        if (f) { gw_session_unref(s); free(f); }
        GW_INC(publish_errors_total);
        gw_session_send_error(s, req->id, CH_ERR_UNAVAILABLE, "Redis is unavailable", req->room);
        return;
    }
    GW_INC(publishes_ephemeral_total);
}

static void
publish_ephemeral(gw_session *s, const ch_request *req)
{
    ch_buf *b = &s->node->scratch;
    ch_buf_reset(b);
    ch_buf_printf(b, "X%s\n{\"type\":\"event\",\"room\":\"%s\",\"ephemeral\":true,\"author\":%s,"
                     "\"session\":\"%s\",\"kind\":\"%s\",\"ts\":%llu,\"payload\":",
                  s->id, req->room, s->user_json, s->id, req->kind, (unsigned long long)ch_wall_ms());
    ch_buf_append(b, req->payload, req->payload_len);
    ch_buf_puts(b, "}");
    forward(s, req, b);
}

static void
send_direct(gw_session *s, const ch_request *req)
{
    ch_buf *b = &s->node->scratch;
    ch_buf_reset(b);
    ch_buf_printf(b, "D%c", req->to_user ? 'u' : 's');
    ch_buf_puts(b, req->to);
    ch_buf_printf(b, "\n{\"type\":\"direct\",\"room\":\"%s\",\"from\":{\"user\":%s,\"session\":\"%s\"},"
                     "\"kind\":\"%s\",\"ts\":%llu,\"payload\":",
                  req->room, s->user_json, s->id, req->kind, (unsigned long long)ch_wall_ms());
    ch_buf_append(b, req->payload, req->payload_len);
    ch_buf_puts(b, "}");
    forward(s, req, b);
}

static void
handle_auth(gw_session *s, const ch_request *req)
{
    ch_jwt_claims claims;
    const char *reason = NULL;
    if (ch_jwt_verify(&s->node->jwt, req->token, strlen(req->token), time(NULL), &claims, &reason) < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "token refused: %s", reason ? reason : "invalid");
        gw_session_send_error(s, req->id, CH_ERR_AUTH_FAILED, msg, NULL);
        return;
    }
    if (strcmp(claims.sub, s->user) != 0) {
        gw_session_send_error(s, req->id, CH_ERR_AUTH_FAILED, "token is for another user", NULL);
        return;
    }
    s->token_exp = claims.exp;
    ch_buf *b = &s->node->scratch;
    ch_buf_reset(b);
    ch_buf_puts(b, "{\"type\":\"authed\",");
    if (req->id[0]) ch_buf_printf(b, "\"id\":%s,", req->id);
    ch_buf_printf(b, "\"exp\":%lld}", (long long)claims.exp);
    gw_session_send_buf(s, b);
}

void
gw_handle_request(gw_session *s, ch_request *req)
{
    gw_member *m;
    switch (req->type) {
    case CH_REQ_HELLO:
        gw_session_welcome(s, req->id);
        break;
    case CH_REQ_JOIN:
        gw_room_join(s, req);
        break;
    case CH_REQ_LEAVE: {
        if (!(m = gw_member_find(s, req->room))) {
            gw_session_send_error(s, req->id, CH_ERR_NOT_JOINED, "not in this room", req->room);
            break;
        }
        gw_member_leave(m);
        ch_buf *b = &s->node->scratch;
        ch_buf_reset(b);
        ch_buf_puts(b, "{\"type\":\"left\",");
        if (req->id[0]) ch_buf_printf(b, "\"id\":%s,", req->id);
        ch_buf_printf(b, "\"room\":\"%s\"}", req->room);
        gw_session_send_buf(s, b);
        break;
    }
    case CH_REQ_PUBLISH:
        if (!(m = joined_member(s, req)) || !rate_take(s, req)) break;
        if (req->ephemeral) publish_ephemeral(s, req);
        else publish_durable(s, m, req);
        break;
    case CH_REQ_DIRECT:
        if (!joined_member(s, req) || !rate_take(s, req)) break;
        send_direct(s, req);
        break;
    case CH_REQ_AUTH:
        handle_auth(s, req);
        break;
    case CH_REQ_PING: {
        ch_buf *b = &s->node->scratch;
        ch_buf_reset(b);
        ch_buf_puts(b, "{\"type\":\"pong\",");
        if (req->id[0]) ch_buf_printf(b, "\"id\":%s,", req->id);
        ch_buf_printf(b, "\"ts\":%llu}", (unsigned long long)ch_wall_ms());
        gw_session_send_buf(s, b);
        break;
    }
    }
}
