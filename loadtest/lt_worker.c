/*
 * lt_worker.c — a worker process: connects its clients, runs the scenario,
 * checks every delivery, and reports to the parent. See lt_worker.h for
 * the phases.
 *
 * Clients: client g of the run belongs to this worker if g % nprocs ==
 * index. A client holds one connection and one room. Its states:
 *
 *   WAIT --start--> CONNECTING --welcome, join sent--> JOINING --joined--> LIVE
 *    ^ ^                |                                  |              |  |
 *    | |                +-- failure, not retried ----------+-> FAILED <---+  |
 *    | |                |                                  |                 |
 *    | +-- backoff <----+-- retryable failure of a rejoin -+                 |
 *    | |   (retry queue)                                                     |
 *    | +------------------- retryable loss (--reconnect) --------------------+
 *    +--------------------- reconnect-storm drop (LIVE subscribers) ---------+
 *
 * Reconnect (--reconnect, lt_retry.h): a client that has joined once and
 * whose connection ends in a retryable way (close 1001 after a reconnect
 * notice, connection lost, ...) is not failed. It waits in the retry queue
 * for its backoff delay, connects to the next URL and rejoins with since =
 * the last seq it has and the room's epoch, so its sequence checker
 * continues without a gap or a duplicate: what it missed meanwhile arrives
 * through catch-up. A failed attempt goes back to the queue with a longer
 * delay, until the run ends. A member stays a member throughout. Endings
 * survived this way are tallied in counts.retried, not as errors.
 *
 * Publishers: a client with a lt_pub follows an open-loop schedule
 * (lt_rate.h) or, at --rate 0, keeps --window publishes in flight. Every
 * publish carries an integer id (a durable one also the cid
 * <run>.<client>.<id>); the ack (or error) with that id completes it.
 * In-flight publishes live in an lt_inflight ring, grown on demand up to
 * PUB_RING_MAX; while the slot for the next id is taken, the publisher
 * waits (counted as "behind") and its schedule does not move. When its
 * connection is lost, its durable publishes stay in flight; after the
 * rejoin they are sent again with the same ids and cids (the gateway's
 * dedup answers one already stored with its original seq), then the
 * schedule resumes: overdue sends go out at once with their intended times,
 * so the outage shows in the latency. Each publish is acked, and counted,
 * once.
 *
 * Latency: the intended send time (µs, CLOCK_REALTIME) is the payload's
 * "t"; a receiver records now - t for live durable events (LT_H_LATENCY)
 * and ephemeral events (LT_H_EPH). Events received while catching up after
 * a rejoin are counted, not timed.
 */
#include "clock.h"
#include "lt_worker.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lt_conn.h"
#include "lt_hist.h"
#include "lt_inflight.h"
#include "lt_jwt.h"
#include "lt_msg.h"
#include "lt_rate.h"
#include "lt_results.h"
#include "lt_retry.h"
#include "lt_seq.h"
#include "lt_wire.h"

#define PUB_RING_MIN   16u
#define PUB_RING_MAX   65536u
#define MAX_MESSAGE    (16u << 20)  /* joined replies carry presence lists */
#define ACK_WAIT_US    5000000      /* after the end: wait this long at most for acks */
#define CHECK_US       20000        /* drain condition polling */
#define BURST_REFRESH  256          /* re-read the clock every so many sends */

typedef enum { CS_WAIT = 0, CS_CONNECTING, CS_JOINING, CS_LIVE, CS_FAILED } client_state;

typedef enum {
    PH_INIT = 0, PH_CONNECTING, PH_READY, PH_RUNNING, PH_DRAIN_ACKS, PH_WAIT_ACKS, PH_DRAIN_DELIVERIES, PH_DONE
} worker_phase;

struct lt_worker;

/* Publisher state; owned by its client. */
typedef struct {
    lt_rate rate;         /* the schedule (unused at --rate 0) */
    struct event *timer;  /* owned: fires at the next intended time */
    lt_inflight fl;       /* owned: publishes sent, not yet acked or refused */
    uint64_t next_id;     /* id of the last publish sent (ids start at 1) */
    uint64_t points;      /* whiteboard: publishes sent (every K-th is durable) */
} lt_pub;

typedef struct {
    lt_conn conn;         /* first: callbacks get &conn */
    lt_seq seq;           /* durable seq checker for the room */
    int64_t epoch;        /* the room's epoch from joined */
    int64_t target;       /* after a rejoin: the room's seq in joined */
    int64_t t0_us;        /* monotonic µs the current connect started */
    int64_t down_us;      /* wall µs the connection was lost or dropped; 0 when not rejoining */
    uint64_t delivered;   /* unique durable events received in the room */
    lt_pub *pub;          /* owned; NULL for pure subscribers */
    struct lt_worker *w;  /* not owned */
    uint32_t g;           /* global client index */
    uint32_t room;        /* room number */
    uint32_t hint_ms;     /* after_ms of a reconnect notice on this connection */
    uint8_t st;           /* client_state */
    uint8_t open;         /* counted in LT_C_CONN_OPEN */
    uint8_t member;       /* joined before the traffic; counts in the delivery check */
    uint8_t rejoin;       /* has joined once: the next join carries since/epoch */
    uint8_t catching_up;  /* rejoined (or rejoining), not caught up yet */
    uint8_t attempt;      /* failed reconnect attempts since the loss (backoff exponent) */
    uint8_t url_shift;    /* added to the client's URL index; one more per reconnect */
} lt_client;

typedef struct lt_worker {
    const lt_config *cfg;
    int index, nprocs;
    const char *run_id;
    struct event_base *base;         /* owned */
    lt_net net;
    worker_phase phase;
    lt_client *clients;              /* owned: nclients */
    uint32_t nclients;
    uint32_t *queue;                 /* owned: client indexes waiting to connect (ring of nclients) */
    lt_retryq retryq;                /* owned: clients waiting for their reconnect delay */
    lt_backoff backoff;              /* --backoff-min / --backoff-max */
    uint64_t qhead, qtail;           /* ring positions (monotonic) */
    uint64_t qstarted;               /* clients started in the connect phase (ramp-up position) */
    uint32_t pending;                /* connects in progress (start .. joined/failed) */
    uint32_t settled;                /* connect phase: clients joined or failed */
    uint64_t inflight;               /* publishes in flight over all publishers */
    uint64_t *room_acked;            /* owned: durable acks per room by this worker */
    uint64_t *global_acked;          /* owned: per-room acks of all workers (after ACKS) */
    lt_counts counts;
    lt_hist hist[LT_H_COUNT];
    lt_hist interval;                /* delivery latencies since the last PROGRESS */
    lt_results res;                  /* filled at the end */
    int64_t t_connect_mono;          /* connect phase start (monotonic µs) */
    int64_t connect_first_us, connect_last_us, start_us, end_us, drop_us, drop_actual_us;
    int64_t phase_deadline;          /* drain phases: monotonic deadline */
    uint64_t initial_ready, initial_failed, members_lost;
    double pub_rate;                 /* publishes per second per publisher (0 = window) */
    long npubs;                      /* publishers in the whole run */
    int warned_rate;
    struct bufferevent *from_parent; /* owned */
    struct bufferevent *to_parent;   /* owned */
    struct event *progress_timer, *pump_timer, *phase_timer, *end_timer, *drop_timer;
    struct event *retry_timer;       /* fires when the earliest retry queue entry is due */
    char *scratch;                   /* owned: publish message buffer */
    size_t scratch_cap;
    char *padding;                   /* owned: cfg->payload 'x' characters */
    int exit_status;
} lt_worker;

/* ------------------------------------------------------------ clocks */

static void
arm(struct event *ev, int64_t delay_us)
{
    struct timeval tv;
    if (delay_us < 0) delay_us = 0;
    tv.tv_sec = (time_t)(delay_us / 1000000);
    tv.tv_usec = (suseconds_t)(delay_us % 1000000);
    event_add(ev, &tv);
}

/* ------------------------------------------------------------ parent pipe */

static void
send_record(lt_worker *w, uint8_t type, const ch_buf *body)
{
    ch_buf b;
    ch_buf_init(&b);
    size_t at = lt_wire_begin(&b, type);
    if (body) ch_buf_append(&b, body->data, body->len);
    lt_wire_end(&b, at);
    if (!b.oom) bufferevent_write(w->to_parent, b.data, b.len);
    else CH_ERROR("out of memory for a record to the parent", " type=%d", type);
    ch_buf_free(&b);
}

static void finish(lt_worker *w);
static void pump(lt_worker *w);
static void pub_pump(lt_client *c);
static void pub_lost(lt_worker *w, lt_client *c);
static void pub_resume(lt_worker *w, lt_client *c);

/* ------------------------------------------------------------ connect phase */

static void
enqueue(lt_worker *w, lt_client *c)
{
    w->queue[w->qtail++ % w->nclients] = (uint32_t)(c - w->clients);
}

static void
settle(lt_worker *w)
{
    if (w->phase != PH_CONNECTING) return;
    if (++w->settled < w->nclients) return;
    w->connect_last_us = ch_wall_us();
    w->phase = PH_READY;
    ch_buf body;
    ch_buf_init(&body);
    ch_buf_append(&body, (const char *)&w->counts, sizeof(w->counts));
    send_record(w, LT_REC_READY, &body);
    ch_buf_free(&body);
}

/* The client gives up (its error was already counted). */
static void
client_failed(lt_worker *w, lt_client *c)
{
    int was_pending = c->st == CS_CONNECTING || c->st == CS_JOINING;
    c->st = CS_FAILED;
    if (c->member) {
        c->member = 0;
        w->members_lost++;
    }
    if (c->catching_up) c->catching_up = 0;
    c->down_us = 0;
    if (c->pub) {
        if (c->pub->timer) event_del(c->pub->timer);
        uint32_t n = lt_inflight_clear(&c->pub->fl);
        w->counts.err[LT_E_UNACKED] += n;
        w->inflight -= n;
    }
    if (was_pending) {
        w->pending--;
        if (!c->rejoin) {
            w->initial_failed++;
            settle(w);
        }
    }
}

/* Arms the retry timer for the earliest entry of the retry queue. */
static void
arm_retry(lt_worker *w)
{
    int64_t due = lt_retryq_peek(&w->retryq);
    if (due == INT64_MAX) event_del(w->retry_timer);
    else arm(w->retry_timer, due - ch_mono_us());
}

/* c's connection (or its attempt to reconnect) ended with a retryable
 * error: c waits for its backoff delay in the retry queue, then starts
 * again on the next URL (see the top of this file). */
static void
schedule_reconnect(lt_worker *w, lt_client *c, int err)
{
    const lt_config *cfg = w->cfg;
    w->counts.retried[err]++;
    if (c->st == CS_LIVE) {
        /* A set-up connection ended: a new outage starts. */
        w->counts.c[LT_C_DISCONNECTS]++;
        c->down_us = ch_wall_us();
        c->attempt = 0;
        c->catching_up = 1;
        if (c->pub) pub_lost(w, c);
    } else {
        if (c->st == CS_CONNECTING || c->st == CS_JOINING) w->pending--;
        w->counts.c[LT_C_RECONNECT_FAILS]++;
    }
    c->st = CS_WAIT;
    c->url_shift = (uint8_t)((c->url_shift + 1u) % (uint32_t)cfg->nurls);
    int64_t delay = lt_backoff_delay(&w->backoff, c->attempt, lt_net_random(&w->net));
    if (c->attempt < UINT8_MAX) c->attempt++;
    /* A reconnect notice's after_ms is a lower bound, within the backoff cap. */
    int64_t hint = (int64_t)c->hint_ms * 1000;
    if (hint > w->backoff.max_us) hint = w->backoff.max_us;
    if (hint > delay) delay = hint;
    c->hint_ms = 0;
    int64_t due = ch_mono_us() + delay;
    if (lt_retryq_push(&w->retryq, due, (uint32_t)(c - w->clients)) < 0) {
        /* Cannot happen (a client is queued at most once); fail safe. */
        CH_ERROR("retry queue full", " client=%u", c->g);
        w->counts.err[err]++;
        client_failed(w, c);
        return;
    }
    if (lt_retryq_peek(&w->retryq) == due) arm_retry(w);
}

/* c's connection, or its attempt to connect, ended with error err: retried
 * if --reconnect applies, else counted as an error and c fails. The
 * gauges (open, joined) must already be adjusted. */
static void
client_lost(lt_worker *w, lt_client *c, int err)
{
    if (lt_config_reconnects(w->cfg) && w->phase != PH_DONE && (c->st == CS_LIVE || c->rejoin) &&
        lt_retry_retryable(err)) {
        schedule_reconnect(w, c, err);
        return;
    }
    w->counts.err[err]++;
    client_failed(w, c);
}

/* Clients whose reconnect delay is over join the connect queue. */
static void
on_retry_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lt_worker *w = arg;
    int64_t now = ch_mono_us();
    uint32_t id;
    while (lt_retryq_pop_due(&w->retryq, now, &id)) {
        lt_client *c = &w->clients[id];
        if (c->st == CS_WAIT && w->phase != PH_DONE) enqueue(w, c);
    }
    arm_retry(w);
    pump(w);
}

/* Starts c's connection; its connect time counts from t0 (monotonic µs:
 * its ramp-up slot, or now). */
static void
start_client(lt_worker *w, lt_client *c, int64_t t0)
{
    const lt_config *cfg = w->cfg;
    char tok[1024];
    const char *token = cfg->token;
    size_t token_len = token ? strlen(token) : 0;
    int err;
    if (cfg->secret) {
        char sub[64];
        long long now = (long long)time(NULL);
        snprintf(sub, sizeof(sub), "lt-%d-%u", w->index, c->g);
        int n = lt_jwt_mint(tok, sizeof(tok), cfg->secret, strlen(cfg->secret), sub, now, now + 7200);
        if (n < 0) {
            w->counts.err[LT_E_SOCKET]++;
            c->st = CS_CONNECTING;
            w->pending++;
            client_failed(w, c);
            return;
        }
        token = tok;
        token_len = (size_t)n;
    }
    uint32_t nurls = (uint32_t)cfg->nurls;
    const lt_url *url = &cfg->urls[(c->g + c->url_shift) % nurls];
    const lt_source *src =
        cfg->nsources ? &cfg->sources[(c->g / nurls) % (uint32_t)cfg->nsources] : NULL;
    int via = cfg->token_via[c->g % (uint32_t)cfg->ntoken_via];
    c->t0_us = t0;
    c->hint_ms = 0;
    c->st = CS_CONNECTING;
    w->pending++;
    if (!w->connect_first_us) w->connect_first_us = ch_wall_us();
    if (lt_conn_start(&c->conn, &w->net, url, src, token, token_len, via, &err) < 0) client_lost(w, c, err);
}

/* Starts queued clients while fewer than --max-pending connects are in
 * progress; in the connect phase with --ramp-up, not before their slot. */
static void
pump(lt_worker *w)
{
    const lt_config *cfg = w->cfg;
    int ramp = w->phase == PH_CONNECTING && cfg->ramp_up > 0;
    while (w->qhead != w->qtail && w->pending < (uint64_t)cfg->max_pending) {
        lt_client *c = &w->clients[w->queue[w->qhead % w->nclients]];
        int64_t now = ch_mono_us(), t0 = now;
        int first = ramp && !c->rejoin;
        if (first) {
            /* Timed from its slot, so waiting for --max-pending counts too. */
            t0 = w->t_connect_mono + (int64_t)((double)w->qstarted * cfg->ramp_up * 1e6 / (double)w->nclients);
            if (t0 > now) {
                if (!evtimer_pending(w->pump_timer, NULL)) arm(w->pump_timer, t0 - now);
                return;
            }
        }
        w->qhead++;
        if (first) w->qstarted++;
        if (c->st != CS_WAIT) continue; /* failed while queued */
        start_client(w, c, t0);
    }
}

static void
on_pump_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

/* ------------------------------------------------------------ messages */

static void
send_join(lt_worker *w, lt_client *c)
{
    char msg[256];
    int n;
    if (c->rejoin)
        n = snprintf(msg, sizeof(msg), "{\"type\":\"join\",\"id\":0,\"room\":\"%s-%u\",\"since\":%lld,\"epoch\":%lld}",
                     w->cfg->room_prefix, c->room, (long long)c->seq.last, (long long)c->epoch);
    else
        n = snprintf(msg, sizeof(msg), "{\"type\":\"join\",\"id\":0,\"room\":\"%s-%u\"}", w->cfg->room_prefix,
                     c->room);
    lt_conn_send_text(&c->conn, msg, (size_t)n);
}

static void
caught_up(lt_worker *w, lt_client *c)
{
    c->catching_up = 0;
    w->counts.c[LT_C_CAUGHT_UP]++;
    lt_hist_record_signed(&w->hist[LT_H_CATCHUP], ch_wall_us() - c->down_us);
    c->down_us = 0;
}

static void
check_welcome_limits(lt_worker *w, lt_client *c, const char *msg, size_t len)
{
    const char *lim, *pr;
    size_t ll, pl;
    int64_t rate;
    if (w->warned_rate || !c->pub || w->pub_rate <= 0) return;
    if (lt_json_get(msg, len, "limits", &lim, &ll) < 0 || lt_json_get(lim, ll, "publish_rate", &pr, &pl) < 0 ||
        lt_json_int(pr, pl, &rate) < 0)
        return;
    w->warned_rate = 1;
    if (w->pub_rate > (double)rate)
        CH_WARN("publish rate per connection above the gateway's limit: expect rate_limited errors "
                "(raise the gateway's --publish-rate)",
                " per_publisher=%.1f gateway_limit=%lld", w->pub_rate, (long long)rate);
}

static int
error_kind(const lt_msg *m)
{
#define CODE_IS(lit) (m->code_len == sizeof(lit) - 1 && memcmp(m->code, lit, sizeof(lit) - 1) == 0)
    if (!m->code) return LT_E_SERVER;
    if (CODE_IS("rate_limited")) return LT_E_RATE_LIMITED;
    if (CODE_IS("unavailable")) return LT_E_UNAVAILABLE;
    if (CODE_IS("snapshot_required")) return LT_E_SNAPSHOT;
    return LT_E_SERVER;
#undef CODE_IS
}

/* Completes in-flight publish id into *slot; returns 1 if it was in flight. */
static int
pub_complete(lt_worker *w, lt_client *c, int64_t id, lt_inflight_slot *slot)
{
    lt_pub *p = c->pub;
    if (!p || id <= 0 || !lt_inflight_complete(&p->fl, (uint64_t)id, slot)) return 0;
    w->inflight--;
    return 1;
}

static void
on_durable_event(lt_worker *w, lt_client *c, const lt_msg *m, int64_t now)
{
    uint64_t missing;
    lt_seq_result r = lt_seq_observe(&c->seq, m->seq, &missing);
    switch (r) {
    case LT_SEQ_OK: break;
    case LT_SEQ_GAP: w->counts.c[LT_C_GAPS] += missing; break;
    case LT_SEQ_REORDER: w->counts.c[LT_C_REORDERS]++; break;
    case LT_SEQ_DUP: w->counts.c[LT_C_DUPS]++; return;
    }
    c->delivered++;
    w->counts.c[LT_C_RECV]++;
    if (c->catching_up) {
        w->counts.c[LT_C_RECV_CATCHUP]++;
        if (c->seq.last >= c->target) caught_up(w, c);
        return;
    }
    if (m->has_t) {
        lt_hist_record_signed(&w->hist[LT_H_LATENCY], now - m->t);
        lt_hist_record_signed(&w->interval, now - m->t);
    }
}

static void
on_text(lt_conn *conn, const char *msg, size_t len)
{
    lt_client *c = (lt_client *)conn;
    lt_worker *w = c->w;
    lt_msg m;
    if (lt_msg_parse(msg, len, &m) < 0) {
        w->counts.err[LT_E_PROTOCOL]++;
        return;
    }
    switch (m.type) {
    case LT_MSG_WELCOME:
        if (c->st != CS_CONNECTING) break;
        lt_hist_record_signed(&w->hist[LT_H_CONNECT], ch_mono_us() - c->t0_us);
        w->counts.c[LT_C_CONN_OK]++;
        w->counts.c[LT_C_CONN_OPEN]++;
        c->open = 1;
        check_welcome_limits(w, c, msg, len);
        if (!lt_config_joins(w->cfg)) {
            /* Set up at the welcome: no room, no sequence to check. */
            c->st = CS_LIVE;
            lt_conn_handshake_done(&c->conn);
            w->pending--;
            if (w->phase == PH_CONNECTING) {
                w->initial_ready++;
                settle(w);
            }
            pump(w);
            break;
        }
        c->st = CS_JOINING;
        send_join(w, c);
        break;
    case LT_MSG_JOINED:
        if (c->st != CS_JOINING || !m.has_seq) break;
        c->st = CS_LIVE;
        lt_conn_handshake_done(&c->conn);
        w->pending--;
        w->counts.c[LT_C_JOINED]++;
        if (c->rejoin) {
            w->counts.c[LT_C_RECONNECTS]++;
            if (c->down_us) lt_hist_record_signed(&w->hist[LT_H_RECONNECT], ch_wall_us() - c->down_us);
            c->attempt = 0;
            c->target = m.seq;
            if (c->seq.last >= c->target) caught_up(w, c);
            if (c->pub) pub_resume(w, c);
        } else {
            lt_seq_init(&c->seq, m.seq);
            c->epoch = m.has_epoch ? m.epoch : 0;
            c->rejoin = 1;
            if (w->phase == PH_CONNECTING) {
                c->member = 1;
                w->initial_ready++;
                settle(w);
            }
        }
        pump(w);
        break;
    case LT_MSG_EVENT: {
        int64_t now = ch_wall_us();
        if (c->st != CS_LIVE) {
            w->counts.err[LT_E_PROTOCOL]++;
            break;
        }
        if (m.ephemeral) {
            w->counts.c[LT_C_RECV_EPH]++;
            if (m.has_t && !c->catching_up) lt_hist_record_signed(&w->hist[LT_H_EPH], now - m.t);
        } else if (m.has_seq) {
            on_durable_event(w, c, &m, now);
        }
        break;
    }
    case LT_MSG_ACK: {
        lt_inflight_slot slot;
        if (!m.has_id || !pub_complete(w, c, m.id, &slot)) break;
        lt_hist_record_signed(&w->hist[LT_H_ACK], ch_wall_us() - slot.intended);
        if (m.has_seq) {
            /* The first answer for this id, so each cid counts once. */
            w->counts.c[LT_C_ACKED]++;
            w->room_acked[c->room]++;
            lt_seqset_add(&w->res.rooms[c->room].seqs, m.seq);
            switch (lt_inflight_ack_kind(&slot, m.duplicate)) {
            case LT_ACK_NEW: break;
            case LT_ACK_DEDUP: w->counts.c[LT_C_DEDUPED]++; break;
            case LT_ACK_WRONG_DUP: w->counts.err[LT_E_DUP_ACK]++; break;
            }
        } else {
            w->counts.c[LT_C_ACKED_EPH]++;
        }
        pub_pump(c);
        break;
    }
    case LT_MSG_RECONNECT: {
        /* The gateway drains: a 1001 close follows (then the client
         * reconnects, not before after_ms). */
        const char *v;
        size_t vl;
        int64_t ms;
        w->counts.c[LT_C_NOTICES]++;
        if (lt_json_get(msg, len, "after_ms", &v, &vl) == 0 && lt_json_int(v, vl, &ms) == 0 && ms > 0)
            c->hint_ms = ms > 3600000 ? 3600000u : (uint32_t)ms;
        break;
    }
    case LT_MSG_ERROR: {
        lt_inflight_slot slot;
        w->counts.err[error_kind(&m)]++;
        if (c->st == CS_JOINING && (!m.has_id || m.id == 0)) {
            /* The join was refused (snapshot_required after a rejoin, ...). */
            lt_conn_close(&c->conn);
            if (c->open) {
                c->open = 0;
                w->counts.c[LT_C_CONN_OPEN]--;
            }
            client_failed(w, c);
            break;
        }
        if (m.has_id && pub_complete(w, c, m.id, &slot)) pub_pump(c);
        break;
    }
    case LT_MSG_PRESENCE:
        w->counts.c[LT_C_PRESENCE]++;
        break;
    default:
        break;
    }
}

static void
on_closed(lt_conn *conn, int err)
{
    lt_client *c = (lt_client *)conn;
    lt_worker *w = c->w;
    if (c->open) {
        c->open = 0;
        w->counts.c[LT_C_CONN_OPEN]--;
    }
    if (c->st == CS_LIVE && lt_config_joins(w->cfg)) w->counts.c[LT_C_JOINED]--;
    client_lost(w, c, err);
    pump(w);
}

/* ------------------------------------------------------------ publishing */

/* Sends publish id of c: durable with its cid <run>.<client>.<id> (the
 * same text when resent), or an ephemeral stroke point. 0, or -1 if it
 * could not be sent. */
static int
write_publish(lt_worker *w, lt_client *c, uint64_t id, int64_t intended, int durable)
{
    const lt_config *cfg = w->cfg;
    lt_pub *p = c->pub;
    int n;
    if (durable)
        n = snprintf(w->scratch, w->scratch_cap,
                     "{\"type\":\"publish\",\"id\":%llu,\"room\":\"%s-%u\",\"kind\":\"%s\",\"cid\":\"%s.%u.%llu\","
                     "\"payload\":{\"t\":%lld,\"p\":\"%s\"}}",
                     (unsigned long long)id, cfg->room_prefix, c->room,
                     cfg->scenario == LT_SC_WHITEBOARD ? "stroke" : "message", w->run_id, c->g,
                     (unsigned long long)id, (long long)intended, w->padding);
    else
        n = snprintf(w->scratch, w->scratch_cap,
                     "{\"type\":\"publish\",\"id\":%llu,\"room\":\"%s-%u\",\"kind\":\"stroke.point\","
                     "\"ephemeral\":true,\"payload\":{\"t\":%lld,\"x\":%u,\"y\":%u,\"p\":\"%s\"}}",
                     (unsigned long long)id, cfg->room_prefix, c->room, (long long)intended,
                     (unsigned)(p->points * 7 % 1024), (unsigned)(p->points * 13 % 768), w->padding);
    if (n < 0 || (size_t)n >= w->scratch_cap) return -1;
    return lt_conn_send_text(&c->conn, w->scratch, (size_t)n);
}

static int
send_publish(lt_worker *w, lt_client *c, int64_t intended)
{
    const lt_config *cfg = w->cfg;
    lt_pub *p = c->pub;
    uint64_t id = p->next_id + 1;
    int durable = 1;
    if (cfg->scenario == LT_SC_WHITEBOARD) durable = (p->points + 1) % (uint64_t)cfg->stroke_points == 0;
    if (write_publish(w, c, id, intended, durable) < 0) return -1;
    p->next_id = id;
    p->points++;
    lt_inflight_add(&p->fl, id, intended, durable);
    w->inflight++;
    w->counts.c[durable ? LT_C_SENT : LT_C_SENT_EPH]++;
    return 0;
}

/* c's connection is lost: its schedule pauses, its ephemeral publishes in
 * flight are forgotten, its durable ones wait for pub_resume. */
static void
pub_lost(lt_worker *w, lt_client *c)
{
    lt_pub *p = c->pub;
    event_del(p->timer);
    uint32_t forgotten = lt_inflight_lost(&p->fl);
    w->counts.c[LT_C_EPH_LOST] += forgotten;
    w->inflight -= forgotten;
}

/* c rejoined: its durable publishes still in flight are sent again, in
 * their original order, with the same ids and cids; then the schedule
 * resumes. */
static void
pub_resume(lt_worker *w, lt_client *c)
{
    lt_pub *p = c->pub;
    uint64_t id = 0;
    while ((id = lt_inflight_next_durable(&p->fl, id, p->next_id)) != 0) {
        const lt_inflight_slot *s = lt_inflight_get(&p->fl, id);
        if (write_publish(w, c, id, s->intended, 1) < 0) break;
        w->counts.c[LT_C_RESENT]++;
    }
    pub_pump(c);
}

/* Sends whatever the schedule (or the window) allows now, then arms the
 * timer for the next intended time. */
static void
pub_pump(lt_client *c)
{
    lt_worker *w = c->w;
    lt_pub *p = c->pub;
    if (!p || w->phase != PH_RUNNING || c->st != CS_LIVE) return;
    int64_t now = ch_wall_us();
    if (w->pub_rate <= 0) {
        while (p->fl.n < (uint32_t)w->cfg->window && now < w->end_us) {
            if (!lt_inflight_make_room(&p->fl, p->next_id + 1, PUB_RING_MAX)) {
                w->counts.c[LT_C_BEHIND]++;
                return;
            }
            if (send_publish(w, c, now) < 0) return;
            now = ch_wall_us();
        }
        return;
    }
    int burst = 0;
    for (;;) {
        int64_t t = lt_rate_peek(&p->rate);
        if (t == INT64_MAX) return;
        if (t > now) {
            arm(p->timer, t - now);
            return;
        }
        if (!lt_inflight_make_room(&p->fl, p->next_id + 1, PUB_RING_MAX)) {
            /* Resumed by the next ack; the schedule keeps its times. */
            w->counts.c[LT_C_BEHIND]++;
            return;
        }
        int64_t intended;
        lt_rate_take(&p->rate, now, &intended);
        if (send_publish(w, c, intended) < 0) return;
        if (++burst % BURST_REFRESH == 0) now = ch_wall_us();
    }
}

static void
on_pub_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pub_pump(arg);
}

/* ------------------------------------------------------------ phases */

static void
send_progress(lt_worker *w)
{
    ch_buf body;
    ch_buf_init(&body);
    ch_buf_append(&body, (const char *)&w->counts, sizeof(w->counts));
    lt_hist_encode(&body, &w->interval);
    send_record(w, LT_REC_PROGRESS, &body);
    ch_buf_free(&body);
    lt_hist_reset(&w->interval);
}

/* Progress goes out on whole wall-clock seconds, in every worker alike; the
 * parent samples half a second later, so each of its rows holds exactly one
 * record per worker. */
static void
arm_progress(lt_worker *w)
{
    arm(w->progress_timer, 1000000 - ch_wall_us() % 1000000);
}

static void
on_progress_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lt_worker *w = arg;
    send_progress(w);
    arm_progress(w);
}

static void
drained_acks(lt_worker *w)
{
    if (w->inflight) {
        w->counts.err[LT_E_UNACKED] += w->inflight;
        for (uint32_t i = 0; i < w->nclients; i++) {
            lt_pub *p = w->clients[i].pub;
            if (!p) continue;
            lt_inflight_clear(&p->fl);
        }
        w->inflight = 0;
    }
    w->phase = PH_WAIT_ACKS;
    ch_buf body;
    ch_buf_init(&body);
    lt_wire_u32(&body, (uint32_t)w->cfg->rooms);
    ch_buf_append(&body, (const char *)w->room_acked, (size_t)w->cfg->rooms * sizeof(uint64_t));
    send_record(w, LT_REC_DRAINED, &body);
    ch_buf_free(&body);
}

/* Every member has every acked event of its room, and no rejoin is pending. */
static int
deliveries_complete(lt_worker *w)
{
    for (uint32_t i = 0; i < w->nclients; i++) {
        lt_client *c = &w->clients[i];
        if (c->catching_up) return 0;
        if (c->member && c->delivered < w->global_acked[c->room]) return 0;
    }
    return 1;
}

static void
on_phase_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lt_worker *w = arg;
    int64_t now = ch_mono_us();
    if (w->phase == PH_DRAIN_ACKS) {
        if (w->inflight == 0 || now >= w->phase_deadline) drained_acks(w);
        else arm(w->phase_timer, CHECK_US);
    } else if (w->phase == PH_DRAIN_DELIVERIES) {
        if (deliveries_complete(w) || now >= w->phase_deadline) finish(w);
        else arm(w->phase_timer, CHECK_US);
    } else if (w->phase == PH_INIT) {
        /* The connect phase starts now. */
        w->phase = PH_CONNECTING;
        w->t_connect_mono = ch_mono_us();
        if (w->nclients == 0) {
            w->phase = PH_READY;
            send_record(w, LT_REC_READY, NULL);
            return;
        }
        pump(w);
    }
}

static void
end_run(lt_worker *w)
{
    if (w->phase != PH_RUNNING) return;
    w->end_us = ch_wall_us() < w->end_us ? ch_wall_us() : w->end_us;
    w->phase = PH_DRAIN_ACKS;
    event_del(w->end_timer);
    event_del(w->drop_timer);
    for (uint32_t i = 0; i < w->nclients; i++)
        if (w->clients[i].pub) event_del(w->clients[i].pub->timer);
    w->phase_deadline = ch_mono_us() + ACK_WAIT_US;
    arm(w->phase_timer, 0);
}

static void
on_end_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    end_run(arg);
}

/* Reconnect storm: every live subscriber drops its connection at once and
 * rejoins with since = the last seq it has. */
static void
on_drop_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lt_worker *w = arg;
    if (w->phase != PH_RUNNING) return;
    w->drop_actual_us = ch_wall_us();
    for (uint32_t i = 0; i < w->nclients; i++) {
        lt_client *c = &w->clients[i];
        if (c->pub || c->st != CS_LIVE) continue;
        lt_conn_close(&c->conn);
        if (c->open) {
            c->open = 0;
            w->counts.c[LT_C_CONN_OPEN]--;
        }
        w->counts.c[LT_C_JOINED]--;
        w->counts.c[LT_C_DROPPED]++;
        c->st = CS_WAIT;
        c->catching_up = 1;
        c->down_us = w->drop_actual_us;
        c->attempt = 0;
        enqueue(w, c);
    }
    pump(w);
}

static void
start_run(lt_worker *w, int64_t start, int64_t end, int64_t drop)
{
    const lt_config *cfg = w->cfg;
    int64_t now = ch_wall_us();
    w->start_us = start;
    w->end_us = end;
    w->drop_us = drop;
    w->phase = PH_RUNNING;
    for (uint32_t i = 0; i < w->nclients; i++) {
        lt_client *c = &w->clients[i];
        if (!c->pub || c->st == CS_FAILED) continue;
        long pi = lt_config_publisher_index(cfg, c->g);
        lt_rate_init(&c->pub->rate, start, end, w->pub_rate, w->npubs ? (double)pi / (double)w->npubs : 0.0);
        /* One that is reconnecting starts when it has rejoined (pub_resume). */
        if (c->st == CS_LIVE) arm(c->pub->timer, (w->pub_rate > 0 ? lt_rate_peek(&c->pub->rate) : start) - now);
    }
    arm(w->end_timer, end - now);
    if (drop) arm(w->drop_timer, drop - now);
}

static void
finish(lt_worker *w)
{
    if (w->phase == PH_DONE) return;
    w->phase = PH_DONE;
    event_del(w->phase_timer);
    event_del(w->progress_timer);
    event_del(w->pump_timer);
    event_del(w->end_timer);
    event_del(w->drop_timer);
    event_del(w->retry_timer);
    for (uint32_t i = 0; i < w->nclients; i++) {
        lt_client *c = &w->clients[i];
        if (c->pub) event_del(c->pub->timer);
        if (c->catching_up) w->counts.err[LT_E_NOT_CAUGHT_UP]++;
        if (c->member) lt_room_add(&w->res.rooms[c->room], c->delivered, 1);
    }
    send_progress(w);
    lt_results *r = &w->res;
    r->connect_first_us = w->connect_first_us;
    r->connect_last_us = w->connect_last_us;
    r->start_us = w->start_us;
    r->end_us = w->end_us;
    r->drop_us = w->drop_actual_us;
    r->initial_ready = w->initial_ready;
    r->initial_failed = w->initial_failed;
    r->members_lost = w->members_lost;
    r->counts = w->counts;
    memcpy(r->hist, w->hist, sizeof(w->hist));
    for (uint32_t i = 0; i < r->nrooms; i++) r->rooms[i].acked = w->room_acked[i];
    ch_buf body;
    ch_buf_init(&body);
    lt_results_encode(&body, r);
    send_record(w, LT_REC_FINAL, &body);
    ch_buf_free(&body);
    /* The loop ends when the record is written (on_parent_written). */
    if (evbuffer_get_length(bufferevent_get_output(w->to_parent)) == 0) event_base_loopbreak(w->base);
}

/* ------------------------------------------------------------ parent records */

static void
handle_record(lt_worker *w, uint8_t type, const uint8_t *body, size_t len)
{
    lt_reader r = { body, body + len, 0 };
    switch (type) {
    case LT_REC_CONNECT: {
        int64_t at = lt_read_i64(&r);
        if (r.err || w->phase != PH_INIT) break;
        arm(w->phase_timer, at - ch_wall_us());
        break;
    }
    case LT_REC_GO: {
        int64_t start = lt_read_i64(&r), end = lt_read_i64(&r), drop = lt_read_i64(&r);
        if (r.err || w->phase != PH_READY) break;
        start_run(w, start, end, drop);
        break;
    }
    case LT_REC_ACKS: {
        uint32_t n = lt_read_u32(&r);
        if (r.err || w->phase != PH_WAIT_ACKS || n != (uint32_t)w->cfg->rooms ||
            len != 4 + (size_t)n * sizeof(uint64_t))
            break;
        memcpy(w->global_acked, body + 4, (size_t)n * sizeof(uint64_t));
        w->phase = PH_DRAIN_DELIVERIES;
        w->phase_deadline = ch_mono_us() + (int64_t)(w->cfg->drain * 1e6);
        arm(w->phase_timer, 0);
        break;
    }
    case LT_REC_STOP:
        if (w->phase == PH_RUNNING) end_run(w);
        else if (w->phase < PH_RUNNING) finish(w);
        break;
    default:
        break;
    }
}

static void
on_parent_read(struct bufferevent *bev, void *arg)
{
    lt_worker *w = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail < LT_WIRE_HEADER) return;
        const uint8_t *p = evbuffer_pullup(in, LT_WIRE_HEADER);
        uint32_t blen;
        memcpy(&blen, p, 4);
        if (blen > LT_WIRE_MAX_BODY) {
            CH_ERROR("bad record from the parent", " len=%u", blen);
            finish(w);
            return;
        }
        if (avail < LT_WIRE_HEADER + (size_t)blen) return;
        p = evbuffer_pullup(in, (ev_ssize_t)(LT_WIRE_HEADER + blen));
        uint8_t type;
        const uint8_t *body;
        size_t body_len;
        long used = lt_wire_next(p, LT_WIRE_HEADER + blen, &type, &body, &body_len);
        if (used <= 0) return;
        handle_record(w, type, body, body_len);
        evbuffer_drain(in, (size_t)used);
        if (w->phase == PH_DONE) return;
    }
}

static void
on_parent_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    lt_worker *w = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        /* The parent is gone: nobody to report to. */
        w->exit_status = 1;
        event_base_loopbreak(w->base);
    }
}

static void
on_parent_written(struct bufferevent *bev, void *arg)
{
    (void)bev;
    lt_worker *w = arg;
    if (w->phase == PH_DONE) event_base_loopbreak(w->base);
}

/* ------------------------------------------------------------ setup */

static void
raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void
worker_free(lt_worker *w)
{
    for (uint32_t i = 0; w->clients && i < w->nclients; i++) {
        lt_client *c = &w->clients[i];
        lt_conn_close(&c->conn);
        if (c->pub) {
            if (c->pub->timer) event_free(c->pub->timer);
            lt_inflight_free(&c->pub->fl);
            free(c->pub);
        }
    }
    if (w->from_parent) bufferevent_free(w->from_parent);
    if (w->to_parent) bufferevent_free(w->to_parent);
    struct event **evs[] = { &w->progress_timer, &w->pump_timer, &w->phase_timer, &w->end_timer, &w->drop_timer,
                             &w->retry_timer };
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (*evs[i]) event_free(*evs[i]);
    if (w->base) event_base_free(w->base);
    lt_results_free(&w->res);
    free(w->clients);
    free(w->queue);
    lt_retryq_free(&w->retryq);
    free(w->room_acked);
    free(w->global_acked);
    free(w->scratch);
    free(w->padding);
}

int
lt_worker_run(const lt_config *cfg, int index, int nprocs, int rfd, int wfd, const char *run_id)
{
    lt_worker *w = calloc(1, sizeof(*w));
    struct event_config *ec = NULL;
    int status = 1;
    char node[32];

    snprintf(node, sizeof(node), "w%d", index);
    ch_log_init("loadtest", node, CH_LOG_WARN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN); /* the parent handles ^C and tells us to stop */
    raise_nofile();
    if (!w) goto out_fds;
    w->cfg = cfg;
    w->index = index;
    w->nprocs = nprocs;
    w->run_id = run_id;
    w->exit_status = 0;
    for (int i = 0; i < LT_H_COUNT; i++) lt_hist_reset(&w->hist[i]);
    lt_hist_reset(&w->interval);
    w->npubs = lt_config_publisher_count(cfg);
    w->pub_rate = cfg->rate > 0 && w->npubs > 0 ? cfg->rate / (double)w->npubs : 0.0;

    if (!(ec = event_config_new())) goto fail;
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    w->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!w->base) goto fail;

    long total = lt_config_total_clients(cfg);
    for (long g = index; g < total; g += nprocs) w->nclients++;
    w->clients = calloc(w->nclients ? w->nclients : 1, sizeof(*w->clients));
    w->queue = calloc(w->nclients ? w->nclients : 1, sizeof(*w->queue));
    w->room_acked = calloc((size_t)cfg->rooms, sizeof(uint64_t));
    w->global_acked = calloc((size_t)cfg->rooms, sizeof(uint64_t));
    w->scratch_cap = (size_t)cfg->payload + 512;
    w->scratch = malloc(w->scratch_cap);
    w->padding = malloc((size_t)cfg->payload + 1);
    if (!w->clients || !w->queue || !w->room_acked || !w->global_acked || !w->scratch || !w->padding ||
        lt_results_init(&w->res, (uint32_t)cfg->rooms) < 0 || lt_retryq_init(&w->retryq, w->nclients) < 0)
        goto fail;
    w->backoff.min_us = (int64_t)(cfg->backoff_min * 1e6);
    w->backoff.max_us = (int64_t)(cfg->backoff_max * 1e6);
    memset(w->padding, 'x', (size_t)cfg->payload);
    w->padding[cfg->payload] = 0;

    w->net.base = w->base;
    w->net.ops.on_text = on_text;
    w->net.ops.on_closed = on_closed;
    w->net.counts = &w->counts;
    w->net.rng = (uint64_t)ch_wall_us() ^ ((uint64_t)getpid() << 32) ^ UINT64_C(0x9e3779b97f4a7c15);
    w->net.handshake.tv_sec = (time_t)cfg->handshake_timeout;
    w->net.handshake.tv_usec = (suseconds_t)((cfg->handshake_timeout - (double)(time_t)cfg->handshake_timeout) * 1e6);
    w->net.max_message = MAX_MESSAGE;

    uint32_t k = 0;
    for (long g = index; g < total; g += nprocs, k++) {
        lt_client *c = &w->clients[k];
        c->w = w;
        c->g = (uint32_t)g;
        c->room = (uint32_t)lt_config_room_of(cfg, g);
        if (lt_config_is_publisher(cfg, g)) {
            c->pub = calloc(1, sizeof(*c->pub));
            if (!c->pub) goto fail;
            if (lt_inflight_init(&c->pub->fl, PUB_RING_MIN) < 0) goto fail;
            c->pub->timer = evtimer_new(w->base, on_pub_timer, c);
            if (!c->pub->timer) goto fail;
        }
        enqueue(w, c);
    }

    w->progress_timer = evtimer_new(w->base, on_progress_timer, w);
    w->pump_timer = evtimer_new(w->base, on_pump_timer, w);
    w->phase_timer = evtimer_new(w->base, on_phase_timer, w);
    w->end_timer = evtimer_new(w->base, on_end_timer, w);
    w->drop_timer = evtimer_new(w->base, on_drop_timer, w);
    w->retry_timer = evtimer_new(w->base, on_retry_timer, w);
    w->from_parent = bufferevent_socket_new(w->base, rfd, BEV_OPT_CLOSE_ON_FREE);
    if (w->from_parent) rfd = -1;
    w->to_parent = bufferevent_socket_new(w->base, wfd, BEV_OPT_CLOSE_ON_FREE);
    if (w->to_parent) wfd = -1;
    if (!w->progress_timer || !w->pump_timer || !w->phase_timer || !w->end_timer || !w->drop_timer ||
        !w->retry_timer || !w->from_parent || !w->to_parent)
        goto fail;
    bufferevent_setcb(w->from_parent, on_parent_read, NULL, on_parent_event, w);
    bufferevent_setcb(w->to_parent, NULL, on_parent_written, on_parent_event, w);
    bufferevent_enable(w->from_parent, EV_READ);
    bufferevent_enable(w->to_parent, EV_WRITE);

    send_record(w, LT_REC_HELLO, NULL);
    arm_progress(w);
    event_base_dispatch(w->base);
    status = w->exit_status;
    goto done;

fail:
    CH_ERROR("worker setup failed", " index=%d errno=%d", index, errno);
    status = 1;
done:
    worker_free(w);
    free(w);
out_fds:
    if (rfd >= 0) close(rfd);
    if (wfd >= 0) close(wfd);
    return status;
}
