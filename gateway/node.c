/*
 * node.c — one gateway node (one worker process): wires the broker's
 * events to the room index, runs the once-a-second housekeeping tick
 * (pings, timeouts, token expiry, presence refresh) and the drain.
 *
 * Drain (SIGTERM): /readyz turns 503 and new upgrades get 503 at once; each
 * open session is given a random moment inside the drain window at which it
 * receives {"type":"reconnect"} and a 1001 close, so clients reconnect
 * through the load balancer in a spread-out wave instead of a stampede. The
 * loop exits when the last session is gone, or at the window's end plus a
 * grace period.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

#define DRAIN_GRACE_MS 5000

static void on_msg(void *arg, const char *room, size_t len, const char *msg, size_t mlen)
{ gw_rooms_on_message(arg, room, len, msg, mlen); }
static void on_sub(void *arg, const char *room, size_t len) { gw_rooms_on_subscribed(arg, room, len); }
static void on_unsub(void *arg, const char *room, size_t len) { gw_rooms_on_unsubscribed(arg, room, len); }
static void on_up(void *arg) { gw_rooms_on_up(arg); }
static void on_down(void *arg) { gw_rooms_on_down(arg); }

static void
tick_sessions(gw_node *n)
{
    uint64_t mono = ch_mono_ms();
    int64_t wall = (int64_t)time(NULL);
    gw_session *s = n->sessions, *next;
    for (; s; s = next) {
        next = s->next; /* a tick may destroy s, never another session */
        gw_session_ref(s);
        gw_session_tick(s, mono, wall);
        gw_session_unref(s);
    }
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    gw_node *n = arg;
    static unsigned ticks;
    tick_sessions(n);
    unsigned every = (unsigned)n->cfg->presence_ttl / 3;
    if (every < 1) every = 1;
    if (++ticks % every == 0) gw_rooms_refresh_presence(n);
}

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    gw_node *n = arg;
    tick_sessions(n);
    if (n->nsessions == 0 || (uint64_t)ch_mono_ms() > n->drain_deadline_ms) {
        CH_INFO("drained", " sessions_left=%d", n->nsessions);
        event_base_loopexit(n->base, NULL);
    }
}

int
gw_node_init(gw_node *n, struct event_base *base, const gw_config *cfg, int worker)
{
    memset(n, 0, sizeof(*n));
    n->base = base;
    n->cfg = cfg;
    n->worker = worker;
    if (cfg->workers > 1) snprintf(n->node_id, sizeof(n->node_id), "%s-%d", cfg->node_id, worker);
    else snprintf(n->node_id, sizeof(n->node_id), "%s", cfg->node_id);
    srand((unsigned)(time(NULL) ^ (getpid() << 8)));
    n->boot = (uint32_t)rand() & 0xffffff;
    ch_buf_init(&n->scratch);

    n->jwt.alg = cfg->jwt_alg;
    n->jwt.key = (const unsigned char *)cfg->jwt_key;
    n->jwt.key_len = cfg->jwt_key_len;
    n->jwt.issuer = cfg->jwt_issuer[0] ? cfg->jwt_issuer : NULL;
    n->jwt.audience = cfg->jwt_audience[0] ? cfg->jwt_audience : NULL;
    n->jwt.leeway = cfg->jwt_leeway;
    n->jwt.max_token_len = CH_JWT_MAX_TOKEN;

    static const gw_broker_handlers handlers = { on_msg, on_sub, on_unsub, on_up, on_down };
    if (!(n->rooms = gw_rooms_new(n))) return -1;
    if (!(n->broker = gw_broker_new(base, cfg, n->node_id, &handlers, n))) return -1;
    if (gw_http_start(n) < 0) return -1;
    n->tick = event_new(base, -1, EV_PERSIST, on_tick, n);
    n->drain_tick = event_new(base, -1, EV_PERSIST, on_drain_tick, n);
    if (!n->tick || !n->drain_tick) return -1;
    struct timeval sec = { 1, 0 };
    event_add(n->tick, &sec);
    gw_broker_start(n->broker);
    return 0;
}

void
gw_node_start_drain(gw_node *n)
{
    if (n->draining) {
        /* A second signal: stop now. */
        event_base_loopexit(n->base, NULL);
        return;
    }
    n->draining = 1;
    uint64_t now = ch_mono_ms(), window = (uint64_t)n->cfg->drain_seconds * 1000;
    n->drain_deadline_ms = now + window + DRAIN_GRACE_MS;
    for (gw_session *s = n->sessions; s; s = s->next)
        s->drain_at_ms = now + (window ? (uint64_t)rand() % window : 0) + 1;
    CH_INFO("draining", " sessions=%d window_s=%d", n->nsessions, n->cfg->drain_seconds);
    struct timeval tv = { 0, 100000 };
    event_add(n->drain_tick, &tv);
}

void
gw_node_fini(gw_node *n)
{
    while (n->sessions) gw_session_destroy(n->sessions);
    gw_http_stop(n);
    if (n->tick) event_free(n->tick);
    if (n->drain_tick) event_free(n->drain_tick);
    gw_broker_free(n->broker);
    gw_rooms_free(n->rooms);
    ch_buf_free(&n->scratch);
}
