/*
 * nchan-bench.c — a minimal load client for nginx + Nchan, measuring the
 * way chorus-loadtest measures Chorus (docs/loadtest.md), so the benchmark
 * scripts in loadtest/bench can put the two side by side.
 *
 *   subscriber  WebSocket GET /sub/<prefix>-<room>; every text message is
 *               one delivery
 *   publisher   HTTP/1.1 POST /pub/<prefix>-<room> on keep-alive
 *               connections; 201/202 is the ack (Nchan has stored the
 *               message in Redis and published it)
 *
 * Same method as chorus-loadtest:
 *  - Layout: subscriber g (0 <= g < N) is in room g % R, publisher p in
 *    room p % R (client index N + p); client g is run by process g % procs
 *    and binds source address g % nsources (one URL).
 *  - Payload {"t":<intended send time, µs CLOCK_REALTIME>,"p":"xxx…"} with
 *    --payload bytes of padding; a receiver records now - t (latency from
 *    the intended send time, no coordinated omission).
 *  - Open loop at --rate N: publisher i sends k at start + i/P of a period
 *    + k * P/N s (lt_rate.c); an HTTP connection carries one request at a
 *    time, so a publisher has --window connections and a due publish waits
 *    for a free one with its intended time kept ("behind" counts waits).
 *    --rate 0: closed loop, every publisher connection sends the next
 *    publish as soon as the previous one is answered (--window requests in
 *    flight per publisher, like chorus-loadtest's --window).
 *  - Log-bucketed histograms (lt_hist.c), merged bucket by bucket over the
 *    worker processes.
 *  - Phases: connect everything, then a common start 0.3 s ahead, traffic
 *    until start + duration, wait up to 5 s for in-flight publishes, then
 *    up to --drain s until every member has received the acked count of its
 *    room. Deliveries/s = deliveries to members / duration.
 *  - Check: Nchan messages carry no sequence number, so only counts are
 *    checked: missing = sum over members of max(0, acked in room - received).
 *
 * Scenarios: fanout (above) and idle (subscribers only, held for
 * --duration; connect rate = ready / connect phase).
 *
 * Build: loadtest/bench/nchan/build.sh (gcc; libevent, OpenSSL, jansson).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "lt_hist.h"
#include "lt_rate.h"
#include "ws_codec.h"
#include "ws_handshake.h"

#define MAX_SOURCES   64
#define HEAD_MAX      16384
#define MAX_MESSAGE   (1u << 20)
#define ACK_WAIT_US   5000000
#define CHECK_US      20000

/* ------------------------------------------------------------ config */

typedef struct {
    int idle;                       /* scenario: 0 fanout, 1 idle */
    char host[128];                 /* Host header */
    struct sockaddr_in addr;        /* server */
    struct sockaddr_in sources[MAX_SOURCES];
    int nsources;
    long connections, rooms, publishers, window, payload, procs, max_pending;
    double rate, duration, drain, handshake_timeout;
    char prefix[64];
    const char *json_path;
} config;

static config cfg = {
    .connections = 100, .rooms = 10, .publishers = -1, .window = 16, .payload = 64, .procs = 1,
    .max_pending = 1000, .rate = 500, .duration = 10, .drain = 5, .handshake_timeout = 10,
    .prefix = "nb",
};

/* ------------------------------------------------------------ results */

enum { E_SOCKET, E_CONNECT, E_TIMEOUT, E_HTTP, E_BAD_HANDSHAKE, E_PROTOCOL, E_LOST, E_CLOSED, E_PUB_STATUS,
       E_UNACKED, E_COUNT };
static const char *const err_names[E_COUNT] = {
    "socket", "connect_failed", "handshake_timeout", "http_status", "bad_handshake", "protocol",
    "connection_lost", "closed_by_server", "publish_status", "unacked",
};
enum { H_LATENCY, H_ACK, H_CONNECT, H_COUNT };

typedef struct {
    uint64_t ready, failed, open_at_end, sent, acked, received, members, members_lost, expected, missing, extra;
    uint64_t behind, err[E_COUNT];
    int64_t connect_first_us, connect_last_us;
    double cpu_seconds;
} counts;

/* Records between the parent and a worker: a type, then a fixed body. */
enum { REC_READY = 1, REC_START, REC_ACKED, REC_TOTALS, REC_FINAL };

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

/* Blocking full read/write on the parent-worker pipes. */
static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
send_rec(int fd, uint32_t type, const void *body, size_t len)
{
    return write_all(fd, &type, sizeof(type)) < 0 || (len && write_all(fd, body, len) < 0) ? -1 : 0;
}

static int
recv_rec(int fd, uint32_t want, void *body, size_t len)
{
    uint32_t type;
    if (read_all(fd, &type, sizeof(type)) < 0 || type != want) return -1;
    return len ? read_all(fd, body, len) : 0;
}

/* ------------------------------------------------------------ worker state */

struct worker;
enum { ST_IDLE = 0, ST_CONNECTING, ST_OPEN, ST_FAILED };

typedef struct {
    struct bufferevent *bev;
    ch_ws_parser *parser;
    struct worker *w;
    int64_t t0;                     /* monotonic µs the connect started */
    uint64_t received;
    uint32_t room;
    uint8_t state, member;
    char accept[29];
} sub;

struct pub;
typedef struct {
    struct bufferevent *bev;
    struct pub *p;
    int64_t intended;               /* in-flight publish: its intended time */
    size_t body_left;
    int status;
    uint8_t state, busy, in_body;
} pconn;

typedef struct pub {
    struct worker *w;
    lt_rate rate;
    struct event *timer;
    pconn *conns;
    uint32_t room;
    uint32_t idx;                   /* publisher index 0 .. P-1 (its phase) */
    int waiting;                    /* a due publish waits for a free connection */
} pub;

typedef enum { PH_CONNECT, PH_READY, PH_RUN, PH_ACKS, PH_DRAIN, PH_DONE } phase_t;

typedef struct worker {
    int index, to_parent, from_parent;
    struct event_base *base;
    phase_t phase;
    sub *subs;
    uint32_t nsubs;
    pub *pubs;
    uint32_t npubs;
    uint32_t *qsrc;                 /* connects to start, in order: source address index, */
    void **qitems;                  /* the subscriber or publisher connection, */
    uint8_t *qkind;                 /* 0 subscriber, 1 publisher connection */
    size_t qlen, qhead;
    uint32_t pending, settled, total;
    uint64_t inflight;
    uint64_t *room_acked, *totals;
    int64_t start_us, end_us, deadline;
    counts c;
    lt_hist hist[H_COUNT];
    struct event *timer;            /* end of the run, then the drain checks */
    uint64_t rng;
    char *body;                     /* publish request buffer */
    size_t body_cap;
    struct timeval hs_timeout;
} worker;

static uint64_t
rnd(worker *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * UINT64_C(2685821657736338717);
}

static void pump(worker *w);
static void pub_pump(pub *p);
static void settled(worker *w);

static struct bufferevent *
open_socket(worker *w, uint32_t g, int *err)
{
    int one = 1;
    *err = E_SOCKET;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (cfg.nsources) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *)&cfg.sources[g % (uint32_t)cfg.nsources],
                 sizeof(struct sockaddr_in)) < 0) {
            close(fd);
            return NULL;
        }
    }
    struct bufferevent *bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        close(fd);
        return NULL;
    }
    if (bufferevent_socket_connect(bev, (const struct sockaddr *)&cfg.addr, sizeof(cfg.addr)) < 0) {
        *err = errno == EADDRNOTAVAIL ? E_SOCKET : E_CONNECT;
        bufferevent_free(bev);
        return NULL;
    }
    bufferevent_set_timeouts(bev, &w->hs_timeout, &w->hs_timeout);
    return bev;
}

/* ------------------------------------------------------------ subscribers */

static void
sub_down(sub *s, int err)
{
    worker *w = s->w;
    int was_connecting = s->state == ST_CONNECTING;
    if (s->bev) bufferevent_free(s->bev);
    s->bev = NULL;
    if (s->parser) ch_ws_parser_free(s->parser);
    s->parser = NULL;
    s->state = ST_FAILED;
    w->c.err[err]++;
    if (s->member) {
        s->member = 0;
        w->c.members_lost++;
    }
    if (was_connecting) {
        w->pending--;
        w->c.failed++;
        settled(w);
        pump(w);
    }
}

static void
send_frame(sub *s, int opcode, const uint8_t *payload, size_t len)
{
    uint8_t frame[256];
    uint64_t r = rnd(s->w);
    uint8_t key[4];
    memcpy(key, &r, 4);
    if (len > 125) return;
    size_t n = ch_ws_client_frame_encode(frame, 1, opcode, payload, len, key);
    bufferevent_write(s->bev, frame, n);
}

/* Extracts "t": from a delivery. */
static int
parse_t(const uint8_t *p, size_t len, int64_t *t)
{
    static const char key[] = "\"t\":";
    for (size_t i = 0; i + sizeof(key) - 1 < len; i++) {
        if (p[i] == '"' && memcmp(p + i, key, sizeof(key) - 1) == 0) {
            size_t j = i + sizeof(key) - 1;
            int64_t v = 0;
            int digits = 0;
            while (j < len && p[j] >= '0' && p[j] <= '9') {
                v = v * 10 + (p[j++] - '0');
                digits++;
            }
            if (!digits) return -1;
            *t = v;
            return 0;
        }
    }
    return -1;
}

/* Returns -1 if the subscriber went down. */
static int
sub_event(sub *s, const ch_ws_event *ev)
{
    worker *w = s->w;
    switch (ev->type) {
    case CH_WS_EV_TEXT: {
        int64_t t, now = ch_wall_us();
        s->received++;
        if (s->member) w->c.received++;
        if (parse_t(ev->payload, ev->payload_len, &t) == 0) lt_hist_record_signed(&w->hist[H_LATENCY], now - t);
        return 0;
    }
    case CH_WS_EV_PING:
        send_frame(s, CH_WS_OP_PONG, ev->payload, ev->payload_len);
        return 0;
    case CH_WS_EV_PONG:
        return 0;
    case CH_WS_EV_CLOSE:
        sub_down(s, E_CLOSED);
        return -1;
    default:
        sub_down(s, E_PROTOCOL);
        return -1;
    }
}

static int
sub_head(sub *s, struct evbuffer *in)
{
    worker *w = s->w;
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) {
        if (evbuffer_get_length(in) > HEAD_MAX) sub_down(s, E_BAD_HANDSHAKE);
        return evbuffer_get_length(in) > HEAD_MAX ? -1 : 0;
    }
    size_t hl = (size_t)end.pos + 4;
    char *h = (char *)evbuffer_pullup(in, (ev_ssize_t)hl);
    if (!h || hl < 12 || strncmp(h, "HTTP/1.", 7) != 0) {
        sub_down(s, E_BAD_HANDSHAKE);
        return -1;
    }
    if (atoi(h + 9) != 101) {
        sub_down(s, E_HTTP);
        return -1;
    }
    int ok = 0;
    static const char name[] = "\nsec-websocket-accept:";
    for (size_t i = 0; i + sizeof(name) - 1 < hl; i++) {
        if (h[i] == '\n' && strncasecmp(h + i, name, sizeof(name) - 1) == 0) {
            const char *v = h + i + sizeof(name) - 1;
            while (*v == ' ') v++;
            ok = strncmp(v, s->accept, 28) == 0;
            break;
        }
    }
    if (!ok) {
        sub_down(s, E_BAD_HANDSHAKE);
        return -1;
    }
    evbuffer_drain(in, hl);
    s->parser = ch_ws_parser_new(MAX_MESSAGE, CH_WS_ROLE_CLIENT);
    if (!s->parser) {
        sub_down(s, E_SOCKET);
        return -1;
    }
    s->state = ST_OPEN;
    bufferevent_set_timeouts(s->bev, NULL, NULL);
    lt_hist_record_signed(&w->hist[H_CONNECT], ch_mono_us() - s->t0);
    w->c.ready++;
    w->pending--;
    if (w->phase == PH_CONNECT) s->member = 1;
    settled(w);
    pump(w);
    return 1;
}

static void
sub_read(struct bufferevent *bev, void *arg)
{
    sub *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (s->state == ST_CONNECTING && sub_head(s, in) <= 0) return;
    struct evbuffer_iovec v[8];
    while (evbuffer_get_length(in) > 0) {
        int n = evbuffer_peek(in, -1, NULL, v, 8);
        if (n > 8) n = 8;
        size_t used_total = 0;
        for (int i = 0; i < n; i++) {
            const uint8_t *p = v[i].iov_base;
            size_t left = v[i].iov_len;
            while (left) {
                size_t used = 0;
                ch_ws_event ev;
                ch_ws_result r = ch_ws_parser_feed(s->parser, p, left, &used, &ev);
                p += used;
                left -= used;
                used_total += used;
                if (r == CH_WS_ERROR) {
                    sub_down(s, E_PROTOCOL);
                    return;
                }
                if (r == CH_WS_EVENT && sub_event(s, &ev) < 0) return;
            }
        }
        evbuffer_drain(in, used_total);
    }
    ch_ws_parser_shrink(s->parser);
}

static void
sub_event_cb(struct bufferevent *bev, short what, void *arg)
{
    sub *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) return;
    sub_down(s, (what & BEV_EVENT_TIMEOUT) ? E_TIMEOUT : s->state == ST_CONNECTING ? E_CONNECT : E_LOST);
}

static void
sub_start(worker *w, sub *s, uint32_t g)
{
    int err;
    unsigned char raw[16];
    char key[32], req[512];
    s->t0 = ch_mono_us();
    s->state = ST_CONNECTING;
    w->pending++;
    if (!w->c.connect_first_us) w->c.connect_first_us = ch_wall_us();
    s->bev = open_socket(w, g, &err);
    if (!s->bev) {
        sub_down(s, err);
        return;
    }
    uint64_t r1 = rnd(w), r2 = rnd(w);
    memcpy(raw, &r1, 8);
    memcpy(raw + 8, &r2, 8);
    EVP_EncodeBlock((unsigned char *)key, raw, 16);
    ch_ws_accept_key(key, s->accept);
    int n = snprintf(req, sizeof(req),
                     "GET /sub/%s-%u HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     cfg.prefix, s->room, cfg.host, key);
    bufferevent_setcb(s->bev, sub_read, NULL, sub_event_cb, s);
    bufferevent_enable(s->bev, EV_READ);
    bufferevent_write(s->bev, req, (size_t)n);
}

/* ------------------------------------------------------------ publishers */

static void
pconn_down(pconn *pc, int err)
{
    worker *w = pc->p->w;
    int was_connecting = pc->state == ST_CONNECTING;
    if (pc->bev) bufferevent_free(pc->bev);
    pc->bev = NULL;
    pc->state = ST_FAILED;
    w->c.err[err]++;
    if (pc->busy) {
        pc->busy = 0;
        w->inflight--;
        w->c.err[E_UNACKED]++;
    }
    if (was_connecting) {
        w->pending--;
        w->c.failed++;
        settled(w);
        pump(w);
    }
}

static void
pconn_send(pconn *pc, int64_t intended)
{
    worker *w = pc->p->w;
    size_t need = (size_t)cfg.payload + 512;
    if (w->body_cap < need) {
        w->body = realloc(w->body, need);
        w->body_cap = need;
    }
    char body[64];
    int bl = snprintf(body, sizeof(body), "{\"t\":%" PRId64 ",\"p\":\"", intended);
    size_t blen = (size_t)bl + (size_t)cfg.payload + 2;
    int n = snprintf(w->body, w->body_cap,
                     "POST /pub/%s-%u HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     cfg.prefix, pc->p->room, cfg.host, blen, body);
    char *q = w->body + n;
    memset(q, 'x', (size_t)cfg.payload);
    q += cfg.payload;
    *q++ = '"';
    *q++ = '}';
    bufferevent_write(pc->bev, w->body, (size_t)(q - w->body));
    pc->busy = 1;
    pc->intended = intended;
    pc->status = 0;
    pc->in_body = 0;
    w->inflight++;
    w->c.sent++;
}

/* One response is complete. */
static void
pconn_done(pconn *pc)
{
    worker *w = pc->p->w;
    pc->busy = 0;
    w->inflight--;
    if (pc->status == 201 || pc->status == 202) {
        w->c.acked++;
        w->room_acked[pc->p->room]++;
        lt_hist_record_signed(&w->hist[H_ACK], ch_wall_us() - pc->intended);
    } else {
        w->c.err[E_PUB_STATUS]++;
    }
    pub_pump(pc->p);
}

static void
pconn_read(struct bufferevent *bev, void *arg)
{
    pconn *pc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (evbuffer_get_length(in) > 0) {
        if (!pc->busy) {
            pconn_down(pc, E_PROTOCOL);
            return;
        }
        if (!pc->in_body) {
            struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (end.pos < 0) return;
            size_t hl = (size_t)end.pos + 4;
            char *h = (char *)evbuffer_pullup(in, (ev_ssize_t)hl);
            if (!h || hl < 12 || strncmp(h, "HTTP/1.", 7) != 0) {
                pconn_down(pc, E_PROTOCOL);
                return;
            }
            pc->status = atoi(h + 9);
            pc->body_left = 0;
            static const char name[] = "\ncontent-length:";
            for (size_t i = 0; i + sizeof(name) - 1 < hl; i++)
                if (h[i] == '\n' && strncasecmp(h + i, name, sizeof(name) - 1) == 0) {
                    pc->body_left = (size_t)strtoull(h + i + sizeof(name) - 1, NULL, 10);
                    break;
                }
            evbuffer_drain(in, hl);
            pc->in_body = 1;
        }
        size_t avail = evbuffer_get_length(in);
        size_t take = avail < pc->body_left ? avail : pc->body_left;
        evbuffer_drain(in, take);
        pc->body_left -= take;
        if (pc->body_left) return;
        pc->in_body = 0;
        pconn_done(pc);
    }
}

static void
pconn_event(struct bufferevent *bev, short what, void *arg)
{
    pconn *pc = arg;
    worker *w = pc->p->w;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        /* A keep-alive connection is ready when TCP is up. */
        pc->state = ST_OPEN;
        bufferevent_set_timeouts(pc->bev, NULL, NULL);
        w->pending--;
        w->c.ready++;
        settled(w);
        pump(w);
        if (w->phase == PH_RUN) pub_pump(pc->p);
        return;
    }
    pconn_down(pc, (what & BEV_EVENT_TIMEOUT) ? E_TIMEOUT : pc->state == ST_CONNECTING ? E_CONNECT : E_LOST);
}

static void
pconn_start(worker *w, pconn *pc, uint32_t g)
{
    int err;
    pc->state = ST_CONNECTING;
    w->pending++;
    if (!w->c.connect_first_us) w->c.connect_first_us = ch_wall_us();
    pc->bev = open_socket(w, g, &err);
    if (!pc->bev) {
        pconn_down(pc, err);
        return;
    }
    bufferevent_setcb(pc->bev, pconn_read, NULL, pconn_event, pc);
    bufferevent_enable(pc->bev, EV_READ);
}

static pconn *
free_conn(pub *p)
{
    for (long i = 0; i < cfg.window; i++)
        if (p->conns[i].state == ST_OPEN && !p->conns[i].busy) return &p->conns[i];
    return NULL;
}

/* Sends whatever is due on free connections; arms the timer for the next. */
static void
pub_pump(pub *p)
{
    worker *w = p->w;
    if (w->phase != PH_RUN) return;
    int64_t now = ch_wall_us();
    if (now >= w->end_us) return;
    pconn *pc;
    if (cfg.rate <= 0) {
        while ((pc = free_conn(p))) pconn_send(pc, now);
        return;
    }
    for (;;) {
        int64_t t = lt_rate_peek(&p->rate);
        if (t == INT64_MAX) return;
        if (t > now) {
            arm(p->timer, t - now);
            return;
        }
        pc = free_conn(p);
        if (!pc) {
            if (!p->waiting) w->c.behind++;
            p->waiting = 1;
            return;
        }
        p->waiting = 0;
        int64_t intended;
        lt_rate_take(&p->rate, now, &intended);
        pconn_send(pc, intended);
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
pump(worker *w)
{
    while (w->qhead < w->qlen && w->pending < (uint64_t)cfg.max_pending) {
        size_t i = w->qhead++;
        uint32_t g = w->qsrc[i];
        if (w->qkind[i] == 0) sub_start(w, w->qitems[i], g);
        else pconn_start(w, w->qitems[i], g);
    }
}

static void
settled(worker *w)
{
    if (w->phase != PH_CONNECT) return;
    if (++w->settled < w->total) return;
    w->c.connect_last_us = ch_wall_us();
    w->phase = PH_READY;
    send_rec(w->to_parent, REC_READY, &w->c, sizeof(w->c));
}

static void
on_timer(evutil_socket_t fd, short what, void *arg);

static void
finish(worker *w)
{
    struct rusage ru;
    w->phase = PH_DONE;
    w->c.missing = w->c.expected = w->c.extra = w->c.members = w->c.open_at_end = 0;
    for (uint32_t i = 0; i < w->nsubs; i++) {
        sub *s = &w->subs[i];
        if (s->state == ST_OPEN) w->c.open_at_end++;
        if (!s->member) continue;
        uint64_t a = w->totals[s->room];
        w->c.members++;
        w->c.expected += a;
        if (s->received < a) w->c.missing += a - s->received;
        else w->c.extra += s->received - a;
    }
    for (uint32_t i = 0; i < w->npubs; i++)
        for (long k = 0; k < cfg.window; k++)
            if (w->pubs[i].conns[k].state == ST_OPEN) w->c.open_at_end++;
    getrusage(RUSAGE_SELF, &ru);
    w->c.cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                       ru.ru_stime.tv_usec / 1e6;
    /* Per room: members, deliveries to members, missing. */
    size_t rb = sizeof(uint64_t) * (size_t)cfg.rooms;
    uint64_t *per = calloc(3, rb);
    if (!per) exit(1);
    for (uint32_t i = 0; i < w->nsubs; i++) {
        sub *s = &w->subs[i];
        if (!s->member) continue;
        uint64_t a = w->totals[s->room];
        per[s->room]++;
        per[cfg.rooms + s->room] += s->received;
        per[2 * cfg.rooms + s->room] += s->received < a ? a - s->received : 0;
    }
    send_rec(w->to_parent, REC_FINAL, &w->c, sizeof(w->c));
    write_all(w->to_parent, w->hist, sizeof(w->hist));
    write_all(w->to_parent, per, 3 * rb);
    free(per);
    event_base_loopbreak(w->base);
}

static int
drained(worker *w)
{
    for (uint32_t i = 0; i < w->nsubs; i++) {
        sub *s = &w->subs[i];
        if (s->member && s->received < w->totals[s->room]) return 0;
    }
    return 1;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    worker *w = arg;
    (void)fd;
    (void)what;
    switch (w->phase) {
    case PH_RUN: /* the end time */
        w->phase = PH_ACKS;
        w->deadline = ch_mono_us() + ACK_WAIT_US;
        /* fall through */
    case PH_ACKS:
        if (w->inflight && ch_mono_us() < w->deadline) {
            arm(w->timer, CHECK_US);
            return;
        }
        /* Unanswered publishes: counted when their connections close at exit. */
        send_rec(w->to_parent, REC_ACKED, w->room_acked, sizeof(uint64_t) * (size_t)cfg.rooms);
        if (recv_rec(w->from_parent, REC_TOTALS, w->totals, sizeof(uint64_t) * (size_t)cfg.rooms) < 0) exit(1);
        w->phase = PH_DRAIN;
        w->deadline = ch_mono_us() + (int64_t)(cfg.drain * 1e6);
        /* fall through */
    case PH_DRAIN:
        if (!drained(w) && ch_mono_us() < w->deadline) {
            arm(w->timer, CHECK_US);
            return;
        }
        w->c.err[E_UNACKED] += w->inflight;
        finish(w);
        return;
    default:
        return;
    }
}

/* START from the parent: the common start and end times. */
static void
on_parent(evutil_socket_t fd, short what, void *arg)
{
    worker *w = arg;
    int64_t t[2];
    (void)what;
    if (recv_rec(fd, REC_START, t, sizeof(t)) < 0) exit(1);
    w->start_us = t[0];
    w->end_us = t[1];
    w->phase = PH_RUN;
    double per_pub = cfg.publishers > 0 ? cfg.rate / (double)cfg.publishers : 0;
    for (uint32_t i = 0; i < w->npubs; i++) {
        pub *p = &w->pubs[i];
        lt_rate_init(&p->rate, w->start_us, w->end_us, per_pub, (double)p->idx / (double)cfg.publishers);
        arm(p->timer, w->start_us - ch_wall_us());
    }
    arm(w->timer, w->end_us - ch_wall_us());
}

static int
run_worker(int index, int to_parent, int from_parent)
{
    worker W;
    worker *w = &W;
    memset(w, 0, sizeof(*w));
    w->index = index;
    w->to_parent = to_parent;
    w->from_parent = from_parent;
    w->rng = (uint64_t)ch_wall_us() ^ ((uint64_t)getpid() << 32) ^ UINT64_C(0x9e3779b97f4a7c15);
    w->hs_timeout.tv_sec = (time_t)cfg.handshake_timeout;
    w->hs_timeout.tv_usec = (suseconds_t)((cfg.handshake_timeout - (double)(time_t)cfg.handshake_timeout) * 1e6);
    for (int i = 0; i < H_COUNT; i++) lt_hist_reset(&w->hist[i]);
    /* Timers to the microsecond (epoll_wait alone rounds up to the next
     * millisecond), as chorus-loadtest's workers. */
    struct event_config *ec = event_config_new();
    if (!ec) return 1;
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    w->base = event_base_new_with_config(ec);
    event_config_free(ec);
    w->room_acked = calloc((size_t)cfg.rooms, sizeof(uint64_t));
    w->totals = calloc((size_t)cfg.rooms, sizeof(uint64_t));
    long npub = cfg.idle ? 0 : cfg.publishers;
    uint64_t total = (uint64_t)cfg.connections + (uint64_t)npub;
    w->subs = calloc((size_t)(cfg.connections / cfg.procs + 1), sizeof(sub));
    w->pubs = calloc((size_t)(npub / cfg.procs + 1), sizeof(pub));
    size_t qcap = (size_t)(cfg.connections / cfg.procs + 1) + (size_t)(npub / cfg.procs + 1) * (size_t)cfg.window;
    w->qsrc = calloc(qcap, sizeof(uint32_t));
    w->qitems = calloc(qcap, sizeof(void *));
    w->qkind = calloc(qcap, 1);
    if (!w->base || !w->room_acked || !w->totals || !w->subs || !w->pubs || !w->qsrc || !w->qitems || !w->qkind)
        return 1;
    for (uint64_t g = (uint64_t)index; g < total; g += (uint64_t)cfg.procs) {
        if (g < (uint64_t)cfg.connections) {
            sub *s = &w->subs[w->nsubs++];
            s->w = w;
            s->room = (uint32_t)(g % (uint64_t)cfg.rooms);
            w->qsrc[w->qlen] = (uint32_t)g;
            w->qitems[w->qlen] = s;
            w->qkind[w->qlen++] = 0;
        } else {
            uint64_t pi = g - (uint64_t)cfg.connections;
            pub *p = &w->pubs[w->npubs++];
            p->w = w;
            p->room = (uint32_t)(pi % (uint64_t)cfg.rooms);
            p->idx = (uint32_t)pi;
            p->timer = evtimer_new(w->base, on_pub_timer, p);
            p->conns = calloc((size_t)cfg.window, sizeof(pconn));
            if (!p->timer || !p->conns) return 1;
            for (long k = 0; k < cfg.window; k++) {
                p->conns[k].p = p;
                w->qsrc[w->qlen] = (uint32_t)(g + (uint64_t)k);
                w->qitems[w->qlen] = &p->conns[k];
                w->qkind[w->qlen++] = 1;
            }
        }
    }
    w->total = (uint32_t)w->qlen;
    w->timer = evtimer_new(w->base, on_timer, w);
    struct event *pev = event_new(w->base, from_parent, EV_READ, on_parent, w);
    event_add(pev, NULL);
    w->phase = PH_CONNECT;
    if (w->total == 0) {
        w->phase = PH_READY;
        w->c.connect_first_us = w->c.connect_last_us = ch_wall_us();
        send_rec(to_parent, REC_READY, &w->c, sizeof(w->c));
    }
    pump(w);
    event_base_dispatch(w->base);
    return 0;
}

/* ------------------------------------------------------------ parent */

static void
hist_json(FILE *f, const char *name, const lt_hist *h, int last)
{
    fprintf(f,
            "    \"%s\": {\"count\": %" PRIu64 ", \"min\": %" PRIu64 ", \"mean\": %.1f, \"p50\": %" PRIu64
            ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 "}%s\n",
            name, h->count, h->count ? h->min : 0, lt_hist_mean(h), lt_hist_quantile(h, 0.5),
            lt_hist_quantile(h, 0.9), lt_hist_quantile(h, 0.99), lt_hist_quantile(h, 0.999), h->max,
            last ? "" : ",");
}

static void
fmt_us(char *out, size_t n, uint64_t us)
{
    if (us >= 1000000) snprintf(out, n, "%.2fs", us / 1e6);
    else if (us >= 1000) snprintf(out, n, "%.2fms", us / 1e3);
    else snprintf(out, n, "%" PRIu64 "us", us);
}

static void
hist_line(const char *name, const lt_hist *h)
{
    char a[32], b[32], c[32], d[32], e[32];
    fmt_us(a, sizeof(a), lt_hist_quantile(h, 0.5));
    fmt_us(b, sizeof(b), lt_hist_quantile(h, 0.9));
    fmt_us(c, sizeof(c), lt_hist_quantile(h, 0.99));
    fmt_us(d, sizeof(d), lt_hist_quantile(h, 0.999));
    fmt_us(e, sizeof(e), h->max);
    printf("  %-10s p50 %-9s p90 %-9s p99 %-9s p99.9 %-9s max %-9s (n=%" PRIu64 ")\n", name, a, b, c, d, e,
           h->count);
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: nchan-bench fanout|idle --url http://HOST:PORT [flags]\n\n"
            "  --connections N   WebSocket subscribers on /sub/<prefix>-<room> (default 100)\n"
            "  --rooms R         channels (default 10)\n"
            "  --publishers P    fanout: publishers POSTing to /pub/<prefix>-<room> (default R)\n"
            "  --rate N          publishes/s in total, open loop; 0 = closed loop (default 500)\n"
            "  --window W        HTTP connections per publisher = requests in flight (default 16)\n"
            "  --payload BYTES   padding in {\"t\":..,\"p\":\"xxx\"} (default 64)\n"
            "  --duration S      traffic / holding time (default 10)\n"
            "  --drain S         wait at most this long for deliveries after the run (default 5)\n"
            "  --procs N         worker processes (default 1)\n"
            "  --source ADDRS    comma-separated local IPv4 addresses, round-robin\n"
            "  --max-pending N   connects in progress per process (default 1000)\n"
            "  --handshake-timeout S  (default 10)\n"
            "  --room-prefix STR (default nb)\n"
            "  --json FILE       write a JSON report (keys as chorus-loadtest's)\n");
}

static int
parse_args(int argc, char **argv)
{
    if (argc < 2) return -1;
    if (strcmp(argv[1], "fanout") == 0) cfg.idle = 0;
    else if (strcmp(argv[1], "idle") == 0) cfg.idle = 1;
    else return -1;
    const char *url = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (OPT("--url")) url = v;
        else if (OPT("--connections")) cfg.connections = atol(v);
        else if (OPT("--rooms")) cfg.rooms = atol(v);
        else if (OPT("--publishers")) cfg.publishers = atol(v);
        else if (OPT("--rate")) cfg.rate = atof(v);
        else if (OPT("--window")) cfg.window = atol(v);
        else if (OPT("--payload")) cfg.payload = atol(v);
        else if (OPT("--duration")) cfg.duration = atof(v);
        else if (OPT("--drain")) cfg.drain = atof(v);
        else if (OPT("--procs")) cfg.procs = atol(v);
        else if (OPT("--max-pending")) cfg.max_pending = atol(v);
        else if (OPT("--handshake-timeout")) cfg.handshake_timeout = atof(v);
        else if (OPT("--room-prefix")) snprintf(cfg.prefix, sizeof(cfg.prefix), "%s", v);
        else if (OPT("--json")) cfg.json_path = v;
        else if (OPT("--source")) {
            char buf[4096];
            snprintf(buf, sizeof(buf), "%s", v);
            for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (cfg.nsources == MAX_SOURCES) return -1;
                struct sockaddr_in *s = &cfg.sources[cfg.nsources++];
                s->sin_family = AF_INET;
                if (inet_pton(AF_INET, t, &s->sin_addr) != 1) return -1;
            }
        } else return -1;
#undef OPT
    }
    if (!url || strncmp(url, "http://", 7) != 0) return -1;
    char hostport[128];
    snprintf(hostport, sizeof(hostport), "%s", url + 7);
    char *slash = strchr(hostport, '/');
    if (slash) *slash = 0;
    snprintf(cfg.host, sizeof(cfg.host), "%s", hostport);
    char *colon = strrchr(hostport, ':');
    if (!colon) return -1;
    *colon = 0;
    cfg.addr.sin_family = AF_INET;
    cfg.addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, hostport, &cfg.addr.sin_addr) != 1) return -1;
    if (cfg.publishers < 0) cfg.publishers = cfg.rooms;
    if (cfg.connections < 0 || cfg.rooms < 1 || cfg.window < 1 || cfg.procs < 1 || cfg.payload < 0 ||
        cfg.duration < 0 || cfg.max_pending < 1 || cfg.rate < 0)
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv) < 0) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int nprocs = (int)cfg.procs;
    int (*up)[2] = calloc((size_t)nprocs, sizeof(*up));
    int (*down)[2] = calloc((size_t)nprocs, sizeof(*down));
    pid_t *pids = calloc((size_t)nprocs, sizeof(pid_t));
    for (int i = 0; i < nprocs; i++) {
        if (pipe(up[i]) < 0 || pipe(down[i]) < 0) return 1;
        pids[i] = fork();
        if (pids[i] < 0) return 1;
        if (pids[i] == 0) {
            /* Keep only this worker's ends (the parent closed its copies
             * of the other workers' ends already). */
            for (int j = 0; j <= i; j++) {
                close(up[j][0]);
                close(down[j][1]);
            }
            _exit(run_worker(i, up[i][1], down[i][0]));
        }
        close(up[i][1]);
        close(down[i][0]);
    }

    /* Connect phase. */
    counts sum;
    memset(&sum, 0, sizeof(sum));
    int64_t first = INT64_MAX, last = 0;
    for (int i = 0; i < nprocs; i++) {
        counts c;
        if (recv_rec(up[i][0], REC_READY, &c, sizeof(c)) < 0) {
            fprintf(stderr, "nchan-bench: worker %d failed in the connect phase\n", i);
            return 1;
        }
        sum.ready += c.ready;
        sum.failed += c.failed;
        if (c.connect_first_us && c.connect_first_us < first) first = c.connect_first_us;
        if (c.connect_last_us > last) last = c.connect_last_us;
    }
    uint64_t ready = sum.ready, failed = sum.failed;
    fprintf(stderr, "nchan-bench: %" PRIu64 " connections ready, %" PRIu64 " failed in %.2fs\n", ready, failed,
            (last - first) / 1e6);
    int64_t t[2];
    t[0] = ch_wall_us() + 300000;
    t[1] = t[0] + (int64_t)(cfg.duration * 1e6);
    for (int i = 0; i < nprocs; i++) send_rec(down[i][1], REC_START, t, sizeof(t));

    /* Acks per room, summed, back to every worker. */
    uint64_t *acked = calloc((size_t)cfg.rooms, sizeof(uint64_t));
    uint64_t *part = calloc((size_t)cfg.rooms, sizeof(uint64_t));
    for (int i = 0; i < nprocs; i++) {
        if (recv_rec(up[i][0], REC_ACKED, part, sizeof(uint64_t) * (size_t)cfg.rooms) < 0) return 1;
        for (long r = 0; r < cfg.rooms; r++) acked[r] += part[r];
    }
    for (int i = 0; i < nprocs; i++) send_rec(down[i][1], REC_TOTALS, acked, sizeof(uint64_t) * (size_t)cfg.rooms);

    /* Final counts and histograms. */
    lt_hist hist[H_COUNT], part_h[H_COUNT];
    uint64_t *rooms = calloc(3, sizeof(uint64_t) * (size_t)cfg.rooms);
    uint64_t *rooms_part = calloc(3, sizeof(uint64_t) * (size_t)cfg.rooms);
    if (!rooms || !rooms_part) return 1;
    for (int k = 0; k < H_COUNT; k++) lt_hist_reset(&hist[k]);
    memset(&sum, 0, sizeof(sum));
    for (int i = 0; i < nprocs; i++) {
        counts c;
        if (recv_rec(up[i][0], REC_FINAL, &c, sizeof(c)) < 0 || read_all(up[i][0], part_h, sizeof(part_h)) < 0 ||
            read_all(up[i][0], rooms_part, 3 * sizeof(uint64_t) * (size_t)cfg.rooms) < 0)
            return 1;
        for (long r = 0; r < 3 * cfg.rooms; r++) rooms[r] += rooms_part[r];
        for (int k = 0; k < H_COUNT; k++) lt_hist_merge(&hist[k], &part_h[k]);
        sum.open_at_end += c.open_at_end;
        sum.sent += c.sent;
        sum.acked += c.acked;
        sum.received += c.received;
        sum.members += c.members;
        sum.members_lost += c.members_lost;
        sum.expected += c.expected;
        sum.missing += c.missing;
        sum.extra += c.extra;
        sum.behind += c.behind;
        for (int k = 0; k < E_COUNT; k++) sum.err[k] += c.err[k];
        sum.cpu_seconds += c.cpu_seconds;
    }
    for (int i = 0; i < nprocs; i++) waitpid(pids[i], NULL, 0);

    double connect_s = last > first ? (last - first) / 1e6 : 0;
    double cps = connect_s > 0 ? (double)ready / connect_s : 0;
    uint64_t errors = 0;
    for (int k = 0; k < E_COUNT; k++) errors += sum.err[k];
    double dur = cfg.duration > 0 ? cfg.duration : 1;

    if (cfg.idle)
        printf("nchan-bench idle: %ld procs, %ld subscribers, %ld rooms, %s\n", cfg.procs, cfg.connections,
               cfg.rooms, cfg.host);
    else
        printf("nchan-bench fanout: %ld procs, %ld subscribers + %ld publishers x %ld connections, %ld rooms, %s\n",
               cfg.procs, cfg.connections, cfg.publishers, cfg.window, cfg.rooms, cfg.host);
    printf("  connections   %" PRIu64 " ready, %" PRIu64 " failed in %.2fs (%.0f/s); %" PRIu64
           " open at the end\n",
           ready, failed, connect_s, cps, sum.open_at_end);
    printf("  run           %.2fs\n", cfg.duration);
    if (!cfg.idle) {
        printf("  publishes     %" PRIu64 " sent, %" PRIu64 " acked (%.0f/s); %" PRIu64
               " waited for a connection\n",
               sum.sent, sum.acked, sum.acked / dur, sum.behind);
        printf("  deliveries    %" PRIu64 " received (%.0f/s), expected %" PRIu64 " over %" PRIu64
               " members: missing %" PRIu64 ", extra %" PRIu64 "\n",
               sum.received, sum.received / dur, sum.expected, sum.members, sum.missing, sum.extra);
    }
    printf("  latency (from the intended send time)\n");
    if (!cfg.idle) {
        hist_line("delivery", &hist[H_LATENCY]);
        hist_line("ack", &hist[H_ACK]);
    }
    hist_line("connect", &hist[H_CONNECT]);
    printf("  tester        %.2f CPU seconds in %ld worker processes\n", sum.cpu_seconds, cfg.procs);
    printf("  errors        %" PRIu64, errors);
    for (int k = 0; k < E_COUNT; k++)
        if (sum.err[k]) printf("  %s %" PRIu64, err_names[k], sum.err[k]);
    printf("\n");

    if (cfg.json_path) {
        FILE *f = fopen(cfg.json_path, "w");
        if (!f) {
            perror(cfg.json_path);
            return 1;
        }
        fprintf(f, "{\n  \"tool\": \"nchan-bench\", \"scenario\": \"%s\",\n", cfg.idle ? "idle" : "fanout");
        fprintf(f,
                "  \"config\": {\"url\": \"http://%s\", \"connections\": %ld, \"rooms\": %ld, \"publishers\": %ld, "
                "\"rate\": %g, \"window\": %ld, \"payload\": %ld, \"duration\": %g, \"drain\": %g, \"procs\": %ld, "
                "\"sources\": %d, \"room_prefix\": \"%s\"},\n",
                cfg.host, cfg.connections, cfg.rooms, cfg.idle ? 0 : cfg.publishers, cfg.rate, cfg.window,
                cfg.payload, cfg.duration, cfg.drain, cfg.procs, cfg.nsources, cfg.prefix);
        fprintf(f,
                "  \"timing\": {\"connect_first_us\": %" PRId64 ", \"connect_last_us\": %" PRId64
                ", \"start_us\": %" PRId64 ", \"end_us\": %" PRId64
                ", \"connect_seconds\": %.6f, \"run_seconds\": %g, \"tester_cpu_seconds\": %.3f},\n",
                first == INT64_MAX ? 0 : first, last, t[0], t[1], connect_s, cfg.duration, sum.cpu_seconds);
        fprintf(f,
                "  \"connections\": {\"clients\": %ld, \"ready\": %" PRIu64 ", \"failed\": %" PRIu64
                ", \"connects_per_second\": %.1f, \"open_at_end\": %" PRIu64 "},\n",
                cfg.connections + (cfg.idle ? 0 : cfg.publishers * cfg.window), ready, failed, cps,
                sum.open_at_end);
        fprintf(f,
                "  \"publishes\": {\"sent\": %" PRIu64 ", \"acked\": %" PRIu64 ", \"unacked\": %" PRIu64
                ", \"behind\": %" PRIu64 ", \"acked_per_second\": %.1f},\n",
                sum.sent, sum.acked, sum.err[E_UNACKED], sum.behind, sum.acked / dur);
        fprintf(f,
                "  \"deliveries\": {\"received\": %" PRIu64 ", \"received_per_second\": %.1f, \"members\": %" PRIu64
                ", \"members_lost\": %" PRIu64 ", \"expected\": %" PRIu64 ", \"missing\": %" PRIu64
                ", \"extra\": %" PRIu64 "},\n",
                sum.received, sum.received / dur, sum.members, sum.members_lost, sum.expected, sum.missing,
                sum.extra);
        fprintf(f, "  \"latency\": {\n");
        hist_json(f, "latency", &hist[H_LATENCY], 0);
        hist_json(f, "ack", &hist[H_ACK], 0);
        hist_json(f, "connect", &hist[H_CONNECT], 1);
        fprintf(f, "  },\n  \"errors\": {\"total\": %" PRIu64 ", \"by_kind\": {", errors);
        for (int k = 0, n = 0; k < E_COUNT; k++)
            if (sum.err[k]) fprintf(f, "%s\"%s\": %" PRIu64, n++ ? ", " : "", err_names[k], sum.err[k]);
        fprintf(f, "}},\n  \"rooms\": [");
        for (long r = 0; r < cfg.rooms && r < 10000; r++)
            fprintf(f,
                    "%s\n    {\"room\": \"%s-%ld\", \"members\": %" PRIu64 ", \"acked\": %" PRIu64
                    ", \"received\": %" PRIu64 ", \"missing\": %" PRIu64 "}",
                    r ? "," : "", cfg.prefix, r, rooms[r], acked[r], rooms[cfg.rooms + r], rooms[2 * cfg.rooms + r]);
        fprintf(f, "\n  ]\n}\n");
        fclose(f);
    }
    return errors || sum.missing ? 3 : 0;
}
