/*
 * broker.c — Redis connections of one gateway node (see broker.h).
 *
 * State machine (both connections move together):
 *
 *   DOWN --connect--> CONNECTING --both connected, AUTH ok, scripts loaded,
 *     ^                   |          heartbeat channel subscribed--> UP
 *     |                   | error                                     |
 *     +---- retry timer <-+------ disconnect / stall / error ---------+
 *
 * Going DOWN frees both contexts (hiredis answers every pending callback
 * with a NULL reply) and arms a retry timer with exponential backoff and
 * jitter (100 ms doubling to 5 s). hiredis 0.14 never answers a PING sent on
 * a subscribed connection, so liveness of both connections is checked by a
 * self-heartbeat: every second the command connection PUBLISHes to the
 * node's own channel, which the subscriber connection listens to. A
 * heartbeat not acknowledged or not received within 3 s means Redis (or the
 * path to it) stalled, and the broker goes DOWN and reconnects.
 *
 * A Redis host given by name is resolved with evdns on the loop before each
 * connect (hiredis would call the blocking getaddrinfo), so a slow resolver
 * never stalls the gateway and a Redis that moved is found again.
 */
#include "lua_scripts.h"
#include "broker.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/dns.h>
#include <hiredis/adapters/libevent.h>

#include "clock.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"


static const char *const script_text[GW_SCRIPT_COUNT] = { ch_lua_publish, ch_lua_join, ch_lua_presence };
static const char *const script_name[GW_SCRIPT_COUNT] = { "publish", "join", "presence" };

#define HB_INTERVAL_MS 1000
#define HB_STALL_MS    3000
#define RETRY_MIN_MS   100
#define RETRY_MAX_MS   5000

struct gw_broker {
    struct event_base *base;
    const gw_config *cfg;
    gw_broker_handlers h;
    void *arg;
    redisAsyncContext *cmd;     /* command connection; NULL when down */
    redisAsyncContext *sub;     /* subscriber connection; NULL when down */
    int cmd_connected, sub_connected;
    int init_pending;           /* setup replies still awaited before UP */
    int up;
    int ever_up;
    int attempts;               /* consecutive failed attempts, for backoff */
    uint64_t up_since_ms;
    uint64_t hb_sent_ms;        /* last heartbeat PUBLISH sent (0: none outstanding) */
    uint64_t hb_rx_ms;          /* last heartbeat received on the subscriber */
    struct event *retry_timer;
    struct event *hb_timer;
    struct evdns_base *dns;     /* resolver for a Redis host name; NULL for an IP */
    struct evdns_getaddrinfo_request *dns_req; /* lookup in flight */
    char redis_ip[256];         /* the address connected to (an IP literal) */
    char hb_channel[CH_KEY_MAX];
    char sha[GW_SCRIPT_COUNT][41];
};

static void broker_connect(gw_broker *b);

static void
schedule_retry(gw_broker *b)
{
    if (evtimer_pending(b->retry_timer, NULL)) return;
    long ms = RETRY_MIN_MS;
    for (int i = 0; i < b->attempts && ms < RETRY_MAX_MS; i++) ms *= 2;
    if (ms > RETRY_MAX_MS) ms = RETRY_MAX_MS;
    ms = ms / 2 + rand() % (ms / 2 + 1); /* jitter: [ms/2, ms] */
    b->attempts++;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(b->retry_timer, &tv);
}

/* Takes both connections down (idempotent) and schedules a reconnect. */
static void
broker_down(gw_broker *b, const char *why)
{
    redisAsyncContext *c;
    int was_up = b->up;

    b->up = 0;
    b->cmd_connected = b->sub_connected = 0;
    b->init_pending = 0;
    b->hb_sent_ms = 0;
    __atomic_store_n(&gw_stats->redis_up, 0, __ATOMIC_RELAXED);
    /* Clear the fields first: the disconnect callbacks these frees trigger
     * then see a context that is no longer ours and do nothing. */
    if ((c = b->cmd)) { b->cmd = NULL; redisAsyncFree(c); }
    if ((c = b->sub)) { b->sub = NULL; redisAsyncFree(c); }
    if (was_up) {
        CH_WARN("redis down", " reason=\"%s\"", why);
        if (b->h.on_down) b->h.on_down(b->arg);
    } else {
        CH_DEBUG("redis connect failed", " reason=\"%s\"", why);
    }
    schedule_retry(b);
}

static void
maybe_up(gw_broker *b)
{
    if (b->up || !b->cmd_connected || !b->sub_connected || b->init_pending > 0) return;
    b->up = 1;
    b->attempts = 0;
    b->up_since_ms = b->hb_rx_ms = ch_mono_ms();
    b->hb_sent_ms = 0;
    __atomic_store_n(&gw_stats->redis_up, 1, __ATOMIC_RELAXED);
    if (b->ever_up) GW_INC(redis_reconnects_total);
    b->ever_up = 1;
    CH_INFO("redis up", " addr=%s:%d", b->cfg->redis_host, b->cfg->redis_port);
    if (b->h.on_up) b->h.on_up(b->arg);
}

static int
ours(gw_broker *b, const redisAsyncContext *c)
{
    return c == b->cmd || c == b->sub;
}

static void
on_connect(const redisAsyncContext *c, int status)
{
    gw_broker *b = c->data;
    if (!ours(b, c)) return;
    if (status != REDIS_OK) {
        /* hiredis frees this context after we return. */
        if (c == b->cmd) b->cmd = NULL; else b->sub = NULL;
        broker_down(b, c->errstr);
        return;
    }
    if (c == b->cmd) b->cmd_connected = 1; else b->sub_connected = 1;
    maybe_up(b);
}

static void
on_disconnect(const redisAsyncContext *c, int status)
{
    gw_broker *b = c->data;
    if (!ours(b, c)) return;
    if (c == b->cmd) b->cmd = NULL; else b->sub = NULL;
    broker_down(b, status == REDIS_OK ? "connection closed" : c->errstr);
}

/* Replies to AUTH and SCRIPT LOAD during setup; priv is the script index + 1
 * for SCRIPT LOAD, NULL for AUTH. */
static void
on_init_reply(redisAsyncContext *c, void *r, void *priv)
{
    gw_broker *b = c->data;
    redisReply *reply = r;
    if (!reply || !ours(b, c)) return;
    if (reply->type == REDIS_REPLY_ERROR) {
        CH_ERROR("redis setup failed", " error=\"%.*s\"", (int)reply->len, reply->str);
        broker_down(b, "setup error");
        return;
    }
    if (priv) {
        int i = (int)((intptr_t)priv - 1);
        if (reply->type == REDIS_REPLY_STRING && reply->len == 40)
            memcpy(b->sha[i], reply->str, 41);
    }
    if (b->init_pending > 0 && --b->init_pending == 0) maybe_up(b);
}

/* Everything the subscriber connection receives. */
static void
on_sub_reply(redisAsyncContext *c, void *r, void *priv)
{
    gw_broker *b = c->data;
    redisReply *reply = r;
    (void)priv;
    if (!reply || c != b->sub || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    redisReply *kind = reply->element[0], *chan = reply->element[1];
    if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING) return;

    int is_hb = strcmp(chan->str, b->hb_channel) == 0;
    size_t room_len = 0;
    const char *room = is_hb ? NULL : ch_room_from_channel(chan->str, chan->len, &room_len);

    if (strcmp(kind->str, "message") == 0) {
        redisReply *msg = reply->element[2];
        if (is_hb) b->hb_rx_ms = ch_mono_ms();
        else if (room && msg->type == REDIS_REPLY_STRING && b->h.on_message)
            b->h.on_message(b->arg, room, room_len, msg->str, msg->len);
    } else if (strcmp(kind->str, "subscribe") == 0) {
        if (is_hb) {
            if (b->init_pending > 0 && --b->init_pending == 0) maybe_up(b);
        } else if (room && b->h.on_subscribed) {
            b->h.on_subscribed(b->arg, room, room_len);
        }
    } else if (strcmp(kind->str, "unsubscribe") == 0) {
        if (room && b->h.on_unsubscribed) b->h.on_unsubscribed(b->arg, room, room_len);
    }
}

static redisAsyncContext *
open_one(gw_broker *b)
{
    redisAsyncContext *c = redisAsyncConnect(b->redis_ip, b->cfg->redis_port);
    if (!c) return NULL;
    if (c->err) {
        CH_DEBUG("redis connect error", " error=\"%s\"", c->errstr);
        redisAsyncFree(c);
        return NULL;
    }
    c->data = b;
    if (redisLibeventAttach(c, b->base) != REDIS_OK) {
        redisAsyncFree(c);
        return NULL;
    }
    redisAsyncSetConnectCallback(c, on_connect);
    redisAsyncSetDisconnectCallback(c, on_disconnect);
    return c;
}

static void broker_open(gw_broker *b);

static void
on_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
    gw_broker *b = arg;
    b->dns_req = NULL;
    if (err == EVUTIL_EAI_CANCEL) return;
    if (err || !res) {
        CH_WARN("cannot resolve the Redis host", " host=%s error=\"%s\"", b->cfg->redis_host,
                evutil_gai_strerror(err));
        schedule_retry(b);
        return;
    }
    const void *addr = res->ai_family == AF_INET6
                           ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                           : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    if (!inet_ntop(res->ai_family, addr, b->redis_ip, sizeof(b->redis_ip))) {
        evutil_freeaddrinfo(res);
        schedule_retry(b);
        return;
    }
    evutil_freeaddrinfo(res);
    broker_open(b);
}

/* Resolves the Redis host if it is a name, then opens both connections. */
static void
broker_connect(gw_broker *b)
{
    if (!b->dns) {
        broker_open(b);
        return;
    }
    if (b->dns_req) return;
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    b->dns_req = evdns_getaddrinfo(b->dns, b->cfg->redis_host, NULL, &hints, on_resolved, b);
}

static void
broker_open(gw_broker *b)
{
    b->cmd = open_one(b);
    b->sub = b->cmd ? open_one(b) : NULL;
    if (!b->cmd || !b->sub) {
        broker_down(b, "cannot create connection");
        return;
    }
    b->init_pending = 0;
    if (b->cfg->redis_password[0]) {
        const char *argv[2] = { "AUTH", b->cfg->redis_password };
        redisAsyncCommandArgv(b->cmd, on_init_reply, NULL, 2, argv, NULL);
        redisAsyncCommandArgv(b->sub, on_init_reply, NULL, 2, argv, NULL);
        b->init_pending += 2;
    }
    for (int i = 0; i < GW_SCRIPT_COUNT; i++) {
        const char *argv[3] = { "SCRIPT", "LOAD", script_text[i] };
        redisAsyncCommandArgv(b->cmd, on_init_reply, (void *)(intptr_t)(i + 1), 3, argv, NULL);
        b->init_pending++;
    }
    const char *sargv[2] = { "SUBSCRIBE", b->hb_channel };
    redisAsyncCommandArgv(b->sub, on_sub_reply, NULL, 2, sargv, NULL);
    b->init_pending++;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    gw_broker *b = arg;
    if (!b->cmd && !b->sub && !b->dns_req) broker_connect(b);
}

static void
on_hb_ack(redisAsyncContext *c, void *r, void *priv)
{
    gw_broker *b = c->data;
    (void)priv;
    if (r && c == b->cmd) b->hb_sent_ms = 0;
}

static void
on_hb_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    gw_broker *b = arg;
    if (!b->up) return;
    uint64_t now = ch_mono_ms();
    if (b->hb_sent_ms && now - b->hb_sent_ms > HB_STALL_MS) {
        broker_down(b, "command connection stalled (heartbeat unanswered)");
        return;
    }
    if (now - b->hb_rx_ms > HB_STALL_MS && now - b->up_since_ms > HB_STALL_MS) {
        broker_down(b, "subscriber connection stalled (heartbeat not received)");
        return;
    }
    if (!b->hb_sent_ms) {
        char ts[24];
        snprintf(ts, sizeof(ts), "%llu", (unsigned long long)now);
        const char *argv[3] = { "PUBLISH", b->hb_channel, ts };
        if (redisAsyncCommandArgv(b->cmd, on_hb_ack, NULL, 3, argv, NULL) == REDIS_OK)
            b->hb_sent_ms = now;
    }
}

gw_broker *
gw_broker_new(struct event_base *base, const gw_config *cfg, const char *node_id,
              const gw_broker_handlers *h, void *arg)
{
    gw_broker *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->base = base;
    b->cfg = cfg;
    b->h = *h;
    b->arg = arg;
    ch_heartbeat_channel(b->hb_channel, sizeof(b->hb_channel), node_id);
    struct in6_addr a6;
    if (inet_pton(AF_INET, cfg->redis_host, &a6) == 1 || inet_pton(AF_INET6, cfg->redis_host, &a6) == 1) {
        snprintf(b->redis_ip, sizeof(b->redis_ip), "%s", cfg->redis_host);
    } else if (!(b->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                                   EVDNS_BASE_DISABLE_WHEN_INACTIVE))) {
        gw_broker_free(b);
        return NULL;
    }
    b->retry_timer = evtimer_new(base, on_retry, b);
    b->hb_timer = event_new(base, -1, EV_PERSIST, on_hb_timer, b);
    if (!b->retry_timer || !b->hb_timer) {
        gw_broker_free(b);
        return NULL;
    }
    struct timeval tv = { HB_INTERVAL_MS / 1000, (HB_INTERVAL_MS % 1000) * 1000 };
    event_add(b->hb_timer, &tv);
    return b;
}

void
gw_broker_start(gw_broker *b)
{
    broker_connect(b);
}

void
gw_broker_free(gw_broker *b)
{
    redisAsyncContext *c;
    if (!b) return;
    b->h.on_down = NULL;
    b->up = 0;
    if ((c = b->cmd)) { b->cmd = NULL; redisAsyncFree(c); }
    if ((c = b->sub)) { b->sub = NULL; redisAsyncFree(c); }
    if (b->dns_req) evdns_getaddrinfo_cancel(b->dns_req); /* calls on_resolved, which clears it */
    if (b->dns) evdns_base_free(b->dns, 0);
    if (b->retry_timer) event_free(b->retry_timer);
    if (b->hb_timer) event_free(b->hb_timer);
    free(b);
}

int
gw_broker_up(const gw_broker *b)
{
    return b->up;
}

static int
sub_command(gw_broker *b, const char *verb, const char *channel)
{
    if (!b->up) return -1;
    const char *argv[2] = { verb, channel };
    return redisAsyncCommandArgv(b->sub, on_sub_reply, NULL, 2, argv, NULL) == REDIS_OK ? 0 : -1;
}

int
gw_broker_subscribe(gw_broker *b, const char *channel)
{
    return sub_command(b, "SUBSCRIBE", channel);
}

int
gw_broker_unsubscribe(gw_broker *b, const char *channel)
{
    return sub_command(b, "UNSUBSCRIBE", channel);
}

int
gw_broker_command(gw_broker *b, redisCallbackFn *fn, void *priv,
                  int argc, const char **argv, const size_t *argvlen)
{
    if (!b->up) return -1;
    return redisAsyncCommandArgv(b->cmd, fn, priv, argc, argv, argvlen) == REDIS_OK ? 0 : -1;
}

#define SCRIPT_MAX_ARGS 24

int
gw_broker_script(gw_broker *b, gw_script s, redisCallbackFn *fn, void *priv,
                 int nkeys, int nargs, const char **args, const size_t *lens)
{
    const char *argv[SCRIPT_MAX_ARGS + 3];
    size_t argvlen[SCRIPT_MAX_ARGS + 3];
    char nk[12];

    if (!b->up || nargs > SCRIPT_MAX_ARGS || !b->sha[s][0]) return -1;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVALSHA"; argvlen[0] = 7;
    argv[1] = b->sha[s]; argvlen[1] = 40;
    argv[2] = nk; argvlen[2] = strlen(nk);
    for (int i = 0; i < nargs; i++) {
        argv[i + 3] = args[i];
        argvlen[i + 3] = lens ? lens[i] : strlen(args[i]);
    }
    return redisAsyncCommandArgv(b->cmd, fn, priv, nargs + 3, argv, argvlen) == REDIS_OK ? 0 : -1;
}

void
gw_broker_scripts_lost(gw_broker *b)
{
    if (!b->up) return;
    CH_WARN("redis scripts missing, reloading", NULL);
    for (int i = 0; i < GW_SCRIPT_COUNT; i++) {
        const char *argv[3] = { "SCRIPT", "LOAD", script_text[i] };
        redisAsyncCommandArgv(b->cmd, on_init_reply, (void *)(intptr_t)(i + 1), 3, argv, NULL);
        CH_DEBUG("reloading script", " name=%s", script_name[i]);
    }
}
