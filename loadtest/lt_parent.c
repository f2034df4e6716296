/*
 * lt_parent.c — forks the workers and drives them through the phases with
 * barriers: CONNECT once every worker said HELLO, GO once every worker is
 * READY (so every subscriber is in its room before the first publish),
 * ACKS (the per-room sums) once every worker has DRAINED its publishes,
 * and the reports once every worker sent FINAL. A worker whose pipe closes
 * early is counted as failed and no longer waited for.
 *
 * Every second it turns the workers' latest PROGRESS counts into one row
 * of the time series and one progress line (stderr: overwritten in place
 * on a terminal, one line per second otherwise, nothing with --quiet).
 *
 * Signals: the first SIGINT/SIGTERM sends STOP (the run ends early but
 * still drains and reports); the second kills the workers.
 */
#include "clock.h"
#include "lt_parent.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lt_report.h"
#include "lt_results.h"
#include "lt_wire.h"
#include "lt_worker.h"

#define CONNECT_DELAY_US 100000  /* CONNECT: start connecting this far ahead */
#define GO_DELAY_US      300000  /* GO: traffic starts this far ahead */
#define REAP_WAIT_US     5000000 /* after the reports: wait for workers to exit */

typedef enum { P_HELLO = 0, P_CONNECTING, P_RUNNING, P_DRAINING, P_DONE } parent_phase;

typedef struct {
    pid_t pid;
    int rfd, wfd;                /* until the bufferevents own them */
    struct bufferevent *in;      /* owned: records from the worker */
    struct bufferevent *out;     /* owned: records to the worker */
    int stage;                   /* highest of HELLO/READY/DRAINED/FINAL received */
    int dead;                    /* its pipe ended before FINAL */
    lt_counts last;              /* counts from its latest PROGRESS or READY */
} lt_kid;

typedef struct {
    const lt_config *cfg;
    struct event_base *base;     /* owned */
    lt_kid *kids;                /* owned: n */
    int n;
    parent_phase phase;
    int interrupted;             /* signals received */
    int tty;                     /* stderr is a terminal */
    int64_t t0_real;             /* start of the run (wall µs) */
    int64_t prev_at;             /* wall µs the previous row's counts refer to */
    int64_t last_tick_mono;      /* when the previous row was taken */
    lt_counts prev;              /* totals at the previous tick */
    lt_hist sec;                 /* delivery latencies reported since the previous tick */
    lt_series series;
    uint64_t *acked;             /* owned: per-room acks summed from DRAINED */
    lt_results merged;
    int finals;
    struct event *tick, *sigint, *sigterm;
    char run_id[24];
} lt_parent;

static void
send_to(lt_kid *k, uint8_t type, const void *body, size_t len)
{
    ch_buf b;
    if (k->dead || !k->out) return;
    ch_buf_init(&b);
    size_t at = lt_wire_begin(&b, type);
    if (len) ch_buf_append(&b, body, len);
    lt_wire_end(&b, at);
    if (!b.oom) bufferevent_write(k->out, b.data, b.len);
    ch_buf_free(&b);
}

static void
send_all(lt_parent *p, uint8_t type, const void *body, size_t len)
{
    for (int i = 0; i < p->n; i++) send_to(&p->kids[i], type, body, len);
}

/* 1 if every live worker has reached stage. */
static int
all_at(const lt_parent *p, int stage)
{
    for (int i = 0; i < p->n; i++)
        if (!p->kids[i].dead && p->kids[i].stage < stage) return 0;
    return 1;
}

/* Moves the run forward when a barrier is complete. */
static void
advance(lt_parent *p)
{
    const lt_config *cfg = p->cfg;
    if (p->phase == P_HELLO && all_at(p, LT_REC_HELLO)) {
        int64_t at = ch_wall_us() + CONNECT_DELAY_US;
        send_all(p, LT_REC_CONNECT, &at, sizeof(at));
        p->phase = P_CONNECTING;
    }
    if (p->phase == P_CONNECTING && all_at(p, LT_REC_READY)) {
        int64_t v[3];
        v[0] = ch_wall_us() + GO_DELAY_US;
        v[1] = v[0] + (int64_t)(cfg->duration * 1e6);
        v[2] = cfg->scenario == LT_SC_RECONNECT_STORM ? v[0] + (int64_t)(cfg->drop_at * 1e6) : 0;
        send_all(p, LT_REC_GO, v, sizeof(v));
        p->phase = P_RUNNING;
    }
    if (p->phase == P_RUNNING && all_at(p, LT_REC_DRAINED)) {
        ch_buf b;
        ch_buf_init(&b);
        lt_wire_u32(&b, (uint32_t)cfg->rooms);
        ch_buf_append(&b, (const char *)p->acked, (size_t)cfg->rooms * sizeof(uint64_t));
        if (!b.oom) send_all(p, LT_REC_ACKS, b.data, b.len);
        ch_buf_free(&b);
        p->phase = P_DRAINING;
    }
    if (all_at(p, LT_REC_FINAL)) {
        p->phase = P_DONE;
        event_base_loopbreak(p->base);
    }
}

static void
kid_gone(lt_parent *p, lt_kid *k)
{
    if (k->dead || k->stage >= LT_REC_FINAL) return;
    k->dead = 1;
    p->merged.counts.err[LT_E_WORKER]++;
    CH_ERROR("worker ended without reporting", " pid=%d", (int)k->pid);
    advance(p);
}

static void
handle_record(lt_parent *p, lt_kid *k, uint8_t type, const uint8_t *body, size_t len)
{
    switch (type) {
    case LT_REC_HELLO:
        break;
    case LT_REC_PROGRESS: {
        const uint8_t *q = body + sizeof(lt_counts);
        lt_hist h;
        if (len < sizeof(lt_counts)) return;
        memcpy(&k->last, body, sizeof(lt_counts));
        if (lt_hist_decode(&q, body + len, &h) == 0) lt_hist_merge(&p->sec, &h);
        return;
    }
    case LT_REC_READY:
        if (len >= sizeof(lt_counts)) memcpy(&k->last, body, sizeof(lt_counts));
        break;
    case LT_REC_DRAINED: {
        lt_reader r = { body, body + len, 0 };
        uint32_t n = lt_read_u32(&r);
        if (r.err || n != (uint32_t)p->cfg->rooms || len != 4 + (size_t)n * sizeof(uint64_t)) return;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, body + 4 + (size_t)i * 8, 8);
            p->acked[i] += v;
        }
        break;
    }
    case LT_REC_FINAL: {
        lt_results r;
        if (lt_results_init(&r, (uint32_t)p->cfg->rooms) < 0) return;
        if (lt_results_decode(body, len, &r) == 0) {
            lt_results_merge(&p->merged, &r);
            memcpy(&k->last, &r.counts, sizeof(r.counts));
            p->finals++;
        } else {
            CH_ERROR("malformed final report from a worker", " pid=%d", (int)k->pid);
        }
        lt_results_free(&r);
        break;
    }
    default:
        return;
    }
    if (type > k->stage) k->stage = type;
    advance(p);
}

typedef struct {
    lt_parent *p;
    lt_kid *k;
} kid_ref;

static void
on_kid_read(struct bufferevent *bev, void *arg)
{
    kid_ref *ref = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail < LT_WIRE_HEADER) return;
        const uint8_t *hp = evbuffer_pullup(in, LT_WIRE_HEADER);
        uint32_t blen;
        memcpy(&blen, hp, 4);
        if (blen > LT_WIRE_MAX_BODY) {
            kid_gone(ref->p, ref->k);
            bufferevent_disable(bev, EV_READ);
            return;
        }
        if (avail < LT_WIRE_HEADER + (size_t)blen) return;
        const uint8_t *rec = evbuffer_pullup(in, (ev_ssize_t)(LT_WIRE_HEADER + blen));
        uint8_t type;
        const uint8_t *body;
        size_t body_len;
        long used = lt_wire_next(rec, LT_WIRE_HEADER + blen, &type, &body, &body_len);
        if (used <= 0) return;
        handle_record(ref->p, ref->k, type, body, body_len);
        evbuffer_drain(in, (size_t)used);
    }
}

static void
on_kid_event(struct bufferevent *bev, short what, void *arg)
{
    kid_ref *ref = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        kid_gone(ref->p, ref->k);
    }
}

static const char *
phase_name(parent_phase ph)
{
    switch (ph) {
    case P_HELLO: return "starting";
    case P_CONNECTING: return "connecting";
    case P_RUNNING: return "running";
    case P_DRAINING: return "draining";
    default: return "done";
    }
}

/* Ticks fall half a second after the whole wall-clock seconds on which the
 * workers send their progress (see lt_worker.c). */
static void
arm_tick(lt_parent *p)
{
    int64_t d = 1500000 - ch_wall_us() % 1000000;
    if (d > 1000000) d -= 1000000;
    if (d < 200000) d += 1000000;
    struct timeval tv = { (time_t)(d / 1000000), (suseconds_t)(d % 1000000) };
    event_add(p->tick, &tv);
}

/* Appends a time series row covering the time since the previous one and,
 * if show, prints the progress line. */
static void
sample(lt_parent *p, int show)
{
    int64_t now = ch_mono_us();
    /* The counts are as of the whole second the workers reported at, or,
     * at the end, as of now (their final records are in). */
    int64_t at = show ? ch_wall_us() / 1000000 * 1000000 : ch_wall_us();
    double dt = (double)(at - p->prev_at) / 1e6;
    lt_counts tot;
    memset(&tot, 0, sizeof(tot));
    for (int i = 0; i < p->n; i++) lt_counts_add(&tot, &p->kids[i].last);
    if (dt <= 0) dt = 1;
#define RATE(idx) ((double)(tot.c[idx] - p->prev.c[idx]) / dt)
    lt_series_row row;
    memset(&row, 0, sizeof(row));
    row.t = (double)(at - p->t0_real) / 1e6;
    row.phase = phase_name(p->phase);
    row.open = tot.c[LT_C_CONN_OPEN];
    row.joined = tot.c[LT_C_JOINED];
    row.errors = lt_counts_errors(&tot);
    row.connects_ps = RATE(LT_C_CONN_OK);
    row.sent_ps = RATE(LT_C_SENT) + RATE(LT_C_SENT_EPH);
    row.acked_ps = RATE(LT_C_ACKED);
    row.recv_ps = RATE(LT_C_RECV);
    row.eph_ps = RATE(LT_C_RECV_EPH);
#undef RATE
    row.lat_count = p->sec.count;
    row.p50_us = lt_hist_quantile(&p->sec, 0.5);
    row.p99_us = lt_hist_quantile(&p->sec, 0.99);
    row.max_us = p->sec.max;
    lt_series_push(&p->series, &row);
    lt_hist_reset(&p->sec);
    p->prev = tot;
    p->prev_at = at;
    p->last_tick_mono = now;

    if (show && !p->cfg->quiet) {
        char p99[24] = "-";
        if (row.lat_count) lt_fmt_us((double)row.p99_us, p99, sizeof(p99));
        fprintf(stderr,
                "%s[%6.1fs %-10s] open %llu joined %llu  connects %.0f/s  sent %.0f/s  acked %.0f/s  "
                "delivered %.0f/s  p99 %s  errors %llu  gaps %llu  dups %llu%s",
                p->tty ? "\r" : "", row.t, row.phase, (unsigned long long)row.open,
                (unsigned long long)row.joined, row.connects_ps, row.sent_ps, row.acked_ps,
                row.recv_ps + row.eph_ps, p99, (unsigned long long)row.errors,
                (unsigned long long)tot.c[LT_C_GAPS], (unsigned long long)tot.c[LT_C_DUPS],
                p->tty ? "\033[K" : "\n");
        fflush(stderr);
    }
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lt_parent *p = arg;
    sample(p, 1);
    arm_tick(p);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    lt_parent *p = arg;
    if (p->interrupted++ == 0) {
        CH_WARN("interrupted: stopping the run (again to abort)", " signal=%d", (int)sig);
        send_all(p, LT_REC_STOP, NULL, 0);
        return;
    }
    for (int i = 0; i < p->n; i++)
        if (p->kids[i].pid > 0) kill(p->kids[i].pid, SIGKILL);
    event_base_loopbreak(p->base);
}

/* Waits for every worker; SIGKILL after REAP_WAIT_US. */
static void
reap(lt_parent *p)
{
    int64_t deadline = ch_mono_us() + REAP_WAIT_US;
    for (int i = 0; i < p->n; i++) {
        lt_kid *k = &p->kids[i];
        int st;
        if (k->pid <= 0) continue;
        for (;;) {
            pid_t r = waitpid(k->pid, &st, WNOHANG);
            if (r == k->pid || (r < 0 && errno != EINTR)) break;
            if (ch_mono_us() >= deadline) {
                kill(k->pid, SIGKILL);
                waitpid(k->pid, &st, 0);
                break;
            }
            usleep(10000);
        }
        k->pid = 0;
    }
}

static int
write_file(const char *path, const lt_report *rep, int (*fn)(const lt_report *, FILE *))
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "chorus-loadtest: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = fn(rep, f);
    if (fclose(f) != 0) rc = -1;
    if (rc < 0) fprintf(stderr, "chorus-loadtest: error writing %s\n", path);
    return rc;
}

int
lt_parent_run(const lt_config *cfg)
{
    lt_parent *p = calloc(1, sizeof(*p));
    kid_ref *refs = NULL;
    int status = 1;
    if (!p) return 1;
    ch_log_init("loadtest", "parent", CH_LOG_WARN);
    signal(SIGPIPE, SIG_IGN);
    p->cfg = cfg;
    long total = lt_config_total_clients(cfg);
    p->n = (int)(cfg->procs < total ? cfg->procs : total);
    if (p->n < 1) p->n = 1;
    snprintf(p->run_id, sizeof(p->run_id), "%llx",
             (unsigned long long)(((uint64_t)ch_wall_us() / 1000) ^ ((uint64_t)getpid() << 24)) & 0xffffffffffULL);
    p->tty = isatty(STDERR_FILENO);
    lt_hist_reset(&p->sec);
    p->kids = calloc((size_t)p->n, sizeof(*p->kids));
    refs = calloc((size_t)p->n, sizeof(*refs));
    p->acked = calloc((size_t)cfg->rooms, sizeof(uint64_t));
    if (!p->kids || !refs || !p->acked || lt_results_init(&p->merged, (uint32_t)cfg->rooms) < 0) goto fail;

    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < p->n; i++) {
        int p2c[2], c2p[2];
        lt_kid *k = &p->kids[i];
        k->rfd = k->wfd = -1;
        if (pipe2(p2c, O_CLOEXEC) < 0) goto fail;
        if (pipe2(c2p, O_CLOEXEC) < 0) {
            close(p2c[0]);
            close(p2c[1]);
            goto fail;
        }
        pid_t pid = fork();
        if (pid < 0) {
            close(p2c[0]); close(p2c[1]); close(c2p[0]); close(c2p[1]);
            goto fail;
        }
        if (pid == 0) {
            /* Worker: keep only its own two pipe ends. */
            for (int j = 0; j < i; j++) {
                close(p->kids[j].rfd);
                close(p->kids[j].wfd);
            }
            close(p2c[1]);
            close(c2p[0]);
            int st = lt_worker_run(cfg, i, p->n, p2c[0], c2p[1], p->run_id);
            free(refs);
            free(p->kids);
            free(p->acked);
            lt_results_free(&p->merged);
            free(p);
            exit(st);
        }
        close(p2c[0]);
        close(c2p[1]);
        k->pid = pid;
        k->rfd = c2p[0];
        k->wfd = p2c[1];
    }

    if (!(p->base = event_base_new())) goto fail;
    for (int i = 0; i < p->n; i++) {
        lt_kid *k = &p->kids[i];
        refs[i].p = p;
        refs[i].k = k;
        k->in = bufferevent_socket_new(p->base, k->rfd, BEV_OPT_CLOSE_ON_FREE);
        if (k->in) k->rfd = -1;
        k->out = bufferevent_socket_new(p->base, k->wfd, BEV_OPT_CLOSE_ON_FREE);
        if (k->out) k->wfd = -1;
        if (!k->in || !k->out) goto fail;
        bufferevent_setcb(k->in, on_kid_read, NULL, on_kid_event, &refs[i]);
        bufferevent_setcb(k->out, NULL, NULL, on_kid_event, &refs[i]);
        bufferevent_enable(k->in, EV_READ);
        bufferevent_enable(k->out, EV_WRITE);
    }
    p->tick = evtimer_new(p->base, on_tick, p);
    p->sigint = evsignal_new(p->base, SIGINT, on_signal, p);
    p->sigterm = evsignal_new(p->base, SIGTERM, on_signal, p);
    if (!p->tick || !p->sigint || !p->sigterm) goto fail;
    event_add(p->sigint, NULL);
    event_add(p->sigterm, NULL);
    p->t0_real = p->prev_at = ch_wall_us();
    p->last_tick_mono = ch_mono_us();
    arm_tick(p);

    event_base_dispatch(p->base);
    /* The tail since the last tick (the final counts are in by now). */
    if (ch_mono_us() - p->last_tick_mono > 100000) sample(p, 0);
    if (!cfg->quiet && p->tty) fputc('\n', stderr);
    if (p->phase != P_DONE) {
        /* Aborted: count the workers that never reported. */
        for (int i = 0; i < p->n; i++)
            if (!p->kids[i].dead && p->kids[i].stage < LT_REC_FINAL) p->merged.counts.err[LT_E_WORKER]++;
    }
    /* Close the pipes first so a worker waiting on us sees EOF. */
    for (int i = 0; i < p->n; i++) {
        if (p->kids[i].in) bufferevent_free(p->kids[i].in);
        if (p->kids[i].out) bufferevent_free(p->kids[i].out);
        p->kids[i].in = p->kids[i].out = NULL;
    }
    reap(p);
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
              (double)ru.ru_stime.tv_usec / 1e6;

    lt_report rep;
    memset(&rep, 0, sizeof(rep));
    rep.cfg = cfg;
    rep.res = &p->merged;
    rep.series = &p->series;
    rep.run_id = p->run_id;
    rep.workers = p->n;
    rep.workers_failed = p->n - p->finals;
    rep.interrupted = p->interrupted > 0;
    rep.tester_cpu_s = cpu;
    lt_report_compute(&rep);
    lt_report_print(&rep, stdout);
    fflush(stdout);
    status = rep.exit_code;
    if (cfg->json_path && write_file(cfg->json_path, &rep, lt_report_write_json) < 0 && status == 0) status = 1;
    if (cfg->html_path && write_file(cfg->html_path, &rep, lt_report_write_html) < 0 && status == 0) status = 1;
    goto done;

fail:
    fprintf(stderr, "chorus-loadtest: cannot start the workers: %s\n", strerror(errno));
    for (int i = 0; p->kids && i < p->n; i++)
        if (p->kids[i].pid > 0) kill(p->kids[i].pid, SIGKILL);
    if (p->kids) reap(p);
    status = 1;
done:
    for (int i = 0; p->kids && i < p->n; i++) {
        if (p->kids[i].in) bufferevent_free(p->kids[i].in);
        if (p->kids[i].out) bufferevent_free(p->kids[i].out);
        if (p->kids[i].rfd >= 0) close(p->kids[i].rfd);
        if (p->kids[i].wfd >= 0) close(p->kids[i].wfd);
    }
    if (p->tick) event_free(p->tick);
    if (p->sigint) event_free(p->sigint);
    if (p->sigterm) event_free(p->sigterm);
    if (p->base) event_base_free(p->base);
    lt_series_free(&p->series);
    lt_results_free(&p->merged);
    free(p->acked);
    free(p->kids);
    free(refs);
    free(p);
    return status;
}
