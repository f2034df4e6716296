/*
 * lt_report.c — summary, SLO verdict, human table and JSON report.
 */
#include "lt_report.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

const double lt_report_quantiles[] = { 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1.0 };
const int lt_report_nquantiles = (int)(sizeof(lt_report_quantiles) / sizeof(lt_report_quantiles[0]));

int
lt_series_push(lt_series *s, const lt_series_row *row)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        lt_series_row *r = realloc(s->rows, cap * sizeof(*r));
        if (!r) return -1;
        s->rows = r;
        s->cap = cap;
    }
    s->rows[s->n++] = *row;
    return 0;
}

void
lt_series_free(lt_series *s)
{
    free(s->rows);
    memset(s, 0, sizeof(*s));
}

void
lt_fmt_us(double v, char *out, size_t outlen)
{
    if (v >= 1e6) snprintf(out, outlen, "%.2fs", v / 1e6);
    else if (v >= 1000) snprintf(out, outlen, "%.2fms", v / 1000.0);
    else snprintf(out, outlen, "%.0fus", v);
}

static double
per_s(uint64_t n, double seconds)
{
    return seconds > 0 ? (double)n / seconds : 0.0;
}

void
lt_report_compute(lt_report *rep)
{
    const lt_results *r = rep->res;
    const lt_counts *c = &r->counts;
    lt_summary *s = &rep->sum;
    memset(s, 0, sizeof(*s));
    for (uint32_t i = 0; i < r->nrooms; i++) {
        lt_room_check k;
        lt_room_compute(&r->rooms[i], &k);
        s->members += k.members;
        s->expected += k.expected;
        s->received += k.received;
        s->missing += k.missing;
        s->extra += k.extra;
        s->seq_conflicts += r->rooms[i].seqs.conflicts;
    }
    s->errors = lt_counts_errors(c);
    s->failed = r->initial_failed;
    if (r->connect_first_us && r->connect_last_us > r->connect_first_us) {
        s->connect_seconds = (double)(r->connect_last_us - r->connect_first_us) / 1e6;
        s->connects_per_s = per_s(r->initial_ready, s->connect_seconds);
    }
    if (r->start_us && r->end_us > r->start_us) s->run_seconds = (double)(r->end_us - r->start_us) / 1e6;
    s->sent_per_s = per_s(c->c[LT_C_SENT] + c->c[LT_C_SENT_EPH], s->run_seconds);
    s->acked_per_s = per_s(c->c[LT_C_ACKED], s->run_seconds);
    s->recv_per_s = per_s(c->c[LT_C_RECV], s->run_seconds);
    s->eph_per_s = per_s(c->c[LT_C_RECV_EPH], s->run_seconds);
    if (r->hist[LT_H_CATCHUP].count) s->catchup_all_s = (double)r->hist[LT_H_CATCHUP].max / 1e6;

    rep->slo_failed = lt_slo_eval(&rep->cfg->slo, lt_report_metric, rep, rep->slo_value, rep->slo_pass);
    if (rep->workers > 0 && rep->workers_failed == rep->workers) rep->exit_code = 1;
    else if (rep->slo_failed) rep->exit_code = 3;
    else if (rep->interrupted) rep->exit_code = 1; /* incomplete: not a pass */
    else rep->exit_code = 0;
}

double
lt_report_metric(void *ctx, const lt_slo_cond *c)
{
    const lt_report *rep = ctx;
    const lt_results *r = rep->res;
    if (c->is_latency) {
        int h = c->hist >= 0 ? c->hist : lt_config_main_hist(rep->cfg);
        const lt_hist *hist = &r->hist[h];
        switch (c->stat) {
        case 'x': return (double)hist->max;
        case 'n': return hist->count ? (double)hist->min : 0.0;
        case 'a': return lt_hist_mean(hist);
        default: return (double)lt_hist_quantile(hist, c->q);
        }
    }
    switch (c->count) {
    case LT_M_ERRORS: return (double)rep->sum.errors;
    case LT_M_GAPS: return (double)r->counts.c[LT_C_GAPS];
    case LT_M_DUPS: return (double)r->counts.c[LT_C_DUPS];
    case LT_M_REORDERS: return (double)r->counts.c[LT_C_REORDERS];
    case LT_M_MISSING: return (double)rep->sum.missing;
    case LT_M_EXTRA: return (double)rep->sum.extra;
    case LT_M_FAILED: return (double)rep->sum.failed;
    case LT_M_UNACKED: return (double)r->counts.err[LT_E_UNACKED];
    case LT_M_NOT_CAUGHT_UP: return (double)r->counts.err[LT_E_NOT_CAUGHT_UP];
    case LT_M_RECONNECTS: return (double)r->counts.c[LT_C_RECONNECTS];
    default: return 0.0;
    }
}

/* ------------------------------------------------------------ human table */

static void
print_hist(FILE *f, const char *label, const lt_hist *h)
{
    char a[24], b[24], c[24], d[24], e[24], m[24];
    if (!h->count) return;
    lt_fmt_us((double)lt_hist_quantile(h, 0.5), a, sizeof(a));
    lt_fmt_us((double)lt_hist_quantile(h, 0.9), b, sizeof(b));
    lt_fmt_us((double)lt_hist_quantile(h, 0.99), c, sizeof(c));
    lt_fmt_us((double)lt_hist_quantile(h, 0.999), d, sizeof(d));
    lt_fmt_us((double)h->max, e, sizeof(e));
    lt_fmt_us(lt_hist_mean(h), m, sizeof(m));
    fprintf(f, "  %-13s p50 %-9s p90 %-9s p99 %-9s p99.9 %-9s max %-9s mean %s  (n=%llu)\n", label, a, b,
            c, d, e, m, (unsigned long long)h->count);
}

void
lt_report_print(const lt_report *rep, FILE *f)
{
    const lt_config *cfg = rep->cfg;
    const lt_results *r = rep->res;
    const lt_counts *c = &r->counts;
    const lt_summary *s = &rep->sum;
    fprintf(f, "\nchorus-loadtest %s: %d procs, %ld clients (%ld subscribers + %ld publishers), %ld rooms, "
               "%d gateway URL%s\n",
            lt_scenario_names[cfg->scenario], rep->workers, lt_config_total_clients(cfg), cfg->connections,
            lt_config_separate_publishers(cfg), cfg->rooms, cfg->nurls, cfg->nurls == 1 ? "" : "s");
    if (rep->interrupted) fprintf(f, "  (interrupted)\n");
    fprintf(f, "  connections   %llu ready, %llu failed in %.2fs (%.0f/s); %llu open at the end\n",
            (unsigned long long)r->initial_ready, (unsigned long long)r->initial_failed, s->connect_seconds,
            s->connects_per_s, (unsigned long long)c->c[LT_C_CONN_OPEN]);
    if (s->run_seconds > 0)
        fprintf(f, "  run           %.2fs\n", s->run_seconds);
    if (c->c[LT_C_SENT] || c->c[LT_C_SENT_EPH])
        fprintf(f, "  publishes     %llu durable sent, %llu acked (%.0f/s); %llu ephemeral sent, %llu acked; "
                   "%llu waited for the in-flight cap\n",
                (unsigned long long)c->c[LT_C_SENT], (unsigned long long)c->c[LT_C_ACKED], s->acked_per_s,
                (unsigned long long)c->c[LT_C_SENT_EPH], (unsigned long long)c->c[LT_C_ACKED_EPH],
                (unsigned long long)c->c[LT_C_BEHIND]);
    if (c->c[LT_C_RECV] || s->expected)
        fprintf(f, "  deliveries    %llu received (%.0f/s), expected %llu over %llu members: missing %llu, "
                   "extra %llu\n",
                (unsigned long long)s->received, s->recv_per_s, (unsigned long long)s->expected,
                (unsigned long long)s->members, (unsigned long long)s->missing, (unsigned long long)s->extra);
    if (c->c[LT_C_RECV_EPH])
        fprintf(f, "  ephemeral     %llu received (%.0f/s)\n", (unsigned long long)c->c[LT_C_RECV_EPH],
                s->eph_per_s);
    if (c->c[LT_C_DROPPED])
        fprintf(f, "  reconnect     %llu dropped, %llu rejoined, %llu caught up (last after %.2fs), "
                   "%llu events via catch-up\n",
                (unsigned long long)c->c[LT_C_DROPPED], (unsigned long long)c->c[LT_C_RECONNECTS],
                (unsigned long long)c->c[LT_C_CAUGHT_UP], s->catchup_all_s,
                (unsigned long long)c->c[LT_C_RECV_CATCHUP]);
    if (c->c[LT_C_DISCONNECTS] || c->c[LT_C_RECONNECT_FAILS]) {
        const lt_hist *h = &r->hist[LT_H_RECONNECT];
        char p50[24] = "-", p99[24] = "-", mx[24] = "-";
        if (h->count) {
            lt_fmt_us((double)lt_hist_quantile(h, 0.5), p50, sizeof(p50));
            lt_fmt_us((double)lt_hist_quantile(h, 0.99), p99, sizeof(p99));
            lt_fmt_us((double)h->max, mx, sizeof(mx));
        }
        fprintf(f, "  reconnects    %llu connections lost, %llu rejoined (time to reconnect p50 %s p99 %s max %s); "
                   "%llu failed attempts retried\n",
                (unsigned long long)c->c[LT_C_DISCONNECTS], (unsigned long long)c->c[LT_C_RECONNECTS], p50, p99,
                mx, (unsigned long long)c->c[LT_C_RECONNECT_FAILS]);
        fprintf(f, "                causes");
        for (int i = 0; i < LT_E_COUNT; i++)
            if (c->retried[i]) fprintf(f, "  %s=%llu", lt_error_names[i], (unsigned long long)c->retried[i]);
        fprintf(f, "; %llu reconnect notices; %llu publishes resent with their cid (%llu already stored), "
                   "%llu ephemeral lost\n",
                (unsigned long long)c->c[LT_C_NOTICES], (unsigned long long)c->c[LT_C_RESENT],
                (unsigned long long)c->c[LT_C_DEDUPED], (unsigned long long)c->c[LT_C_EPH_LOST]);
    }
    if (s->seq_conflicts)
        fprintf(f, "  acks          %llu seqs acked for two different publishes\n",
                (unsigned long long)s->seq_conflicts);
    fprintf(f, "  correctness   gaps %llu  dups %llu  reorders %llu  missing %llu\n",
            (unsigned long long)c->c[LT_C_GAPS], (unsigned long long)c->c[LT_C_DUPS],
            (unsigned long long)c->c[LT_C_REORDERS], (unsigned long long)s->missing);
    fprintf(f, "  latency (from the intended send time)\n");
    print_hist(f, "delivery", &r->hist[LT_H_LATENCY]);
    print_hist(f, "ack", &r->hist[LT_H_ACK]);
    print_hist(f, "ephemeral", &r->hist[LT_H_EPH]);
    print_hist(f, "connect", &r->hist[LT_H_CONNECT]);
    print_hist(f, "catch-up", &r->hist[LT_H_CATCHUP]);
    print_hist(f, "reconnect", &r->hist[LT_H_RECONNECT]);
    if (rep->tester_cpu_s > 0)
        fprintf(f, "  tester        %.2f CPU seconds in %d worker process%s\n", rep->tester_cpu_s, rep->workers,
                rep->workers == 1 ? "" : "es");
    fprintf(f, "  errors        %llu", (unsigned long long)s->errors);
    for (int i = 0; i < LT_E_COUNT; i++)
        if (c->err[i]) fprintf(f, "  %s=%llu", lt_error_names[i], (unsigned long long)c->err[i]);
    fputc('\n', f);
    if (cfg->slo.n) {
        fprintf(f, "  SLO           %s\n", rep->slo_failed ? "FAILED" : "ok");
        for (int i = 0; i < cfg->slo.n; i++) {
            char v[32];
            lt_slo_format(&cfg->slo.c[i], rep->slo_value[i], v, sizeof(v));
            fprintf(f, "    %-4s %-28s measured %s\n", rep->slo_pass[i] ? "ok" : "FAIL", cfg->slo.c[i].text, v);
        }
    }
}

/* ------------------------------------------------------------ JSON */

static json_t *
hist_json(const lt_hist *h)
{
    json_t *o = json_object();
    json_t *pts = json_array();
    json_object_set_new(o, "unit", json_string("us"));
    json_object_set_new(o, "count", json_integer((json_int_t)h->count));
    json_object_set_new(o, "min", json_integer(h->count ? (json_int_t)h->min : 0));
    json_object_set_new(o, "mean", json_real(lt_hist_mean(h)));
    json_object_set_new(o, "p50", json_integer((json_int_t)lt_hist_quantile(h, 0.5)));
    json_object_set_new(o, "p90", json_integer((json_int_t)lt_hist_quantile(h, 0.9)));
    json_object_set_new(o, "p99", json_integer((json_int_t)lt_hist_quantile(h, 0.99)));
    json_object_set_new(o, "p999", json_integer((json_int_t)lt_hist_quantile(h, 0.999)));
    json_object_set_new(o, "p9999", json_integer((json_int_t)lt_hist_quantile(h, 0.9999)));
    json_object_set_new(o, "max", json_integer((json_int_t)h->max));
    for (int i = 0; i < lt_report_nquantiles; i++) {
        json_t *p = json_array();
        json_array_append_new(p, json_real(lt_report_quantiles[i]));
        json_array_append_new(p, json_integer((json_int_t)lt_hist_quantile(h, lt_report_quantiles[i])));
        json_array_append_new(pts, p);
    }
    json_object_set_new(o, "percentiles", pts);
    return o;
}

#define JI(v) json_integer((json_int_t)(v))

#define RANGES_MAX 64 /* runs of acked seqs listed per room */

/* The seqs acked in a room: count, bounds, conflicts and runs. */
static json_t *
seqset_json(const lt_seqset *set)
{
    int64_t runs[RANGES_MAX][2];
    json_t *o = json_object(), *ranges = json_array();
    size_t total = lt_seqset_ranges(set, runs, RANGES_MAX);
    for (size_t k = 0; k < total && k < RANGES_MAX; k++) {
        json_t *p = json_array();
        json_array_append_new(p, JI(runs[k][0]));
        json_array_append_new(p, JI(runs[k][1]));
        json_array_append_new(ranges, p);
    }
    json_object_set_new(o, "count", JI(set->count));
    json_object_set_new(o, "min", JI(set->count ? set->min : 0));
    json_object_set_new(o, "max", JI(set->count ? set->max : 0));
    json_object_set_new(o, "conflicts", JI(set->conflicts));
    json_object_set_new(o, "complete", json_boolean(!set->overflow));
    json_object_set_new(o, "ranges", ranges);
    json_object_set_new(o, "ranges_total", JI(total));
    return o;
}

int
lt_report_write_json(const lt_report *rep, FILE *f)
{
    const lt_config *cfg = rep->cfg;
    const lt_results *r = rep->res;
    const lt_counts *c = &r->counts;
    const lt_summary *s = &rep->sum;
    json_t *root = json_object();

    json_object_set_new(root, "tool", json_string("chorus-loadtest"));
    json_object_set_new(root, "format", JI(1));
    json_object_set_new(root, "scenario", json_string(lt_scenario_names[cfg->scenario]));
    json_object_set_new(root, "run_id", json_string(rep->run_id ? rep->run_id : ""));
    json_object_set_new(root, "interrupted", json_boolean(rep->interrupted));

    json_t *jc = json_object();
    json_t *urls = json_array(), *srcs = json_array();
    for (int i = 0; i < cfg->nurls; i++) json_array_append_new(urls, json_string(cfg->urls[i].text));
    for (int i = 0; i < cfg->nsources; i++) json_array_append_new(srcs, json_string(cfg->sources[i].text));
    json_object_set_new(jc, "urls", urls);
    json_object_set_new(jc, "sources", srcs);
    json_object_set_new(jc, "connections", JI(cfg->connections));
    json_object_set_new(jc, "publishers", JI(lt_config_separate_publishers(cfg)));
    json_object_set_new(jc, "rooms", JI(cfg->rooms));
    json_object_set_new(jc, "rate", json_real(cfg->rate));
    json_object_set_new(jc, "window", JI(cfg->window));
    json_object_set_new(jc, "payload", JI(cfg->payload));
    json_object_set_new(jc, "ramp_up", json_real(cfg->ramp_up));
    json_object_set_new(jc, "duration", json_real(cfg->duration));
    json_object_set_new(jc, "drain", json_real(cfg->drain));
    if (cfg->scenario == LT_SC_RECONNECT_STORM) json_object_set_new(jc, "drop_at", json_real(cfg->drop_at));
    if (cfg->scenario == LT_SC_WHITEBOARD) json_object_set_new(jc, "stroke_points", JI(cfg->stroke_points));
    json_object_set_new(jc, "procs", JI(rep->workers));
    json_object_set_new(jc, "reconnect", json_boolean(lt_config_reconnects(cfg)));
    json_object_set_new(jc, "backoff_min", json_real(cfg->backoff_min));
    json_object_set_new(jc, "backoff_max", json_real(cfg->backoff_max));
    json_t *via = json_array();
    for (int i = 0; i < cfg->ntoken_via; i++) json_array_append_new(via, json_string(lt_token_via_names[cfg->token_via[i]]));
    json_object_set_new(jc, "token_via", via);
    json_object_set_new(jc, "room_prefix", json_string(cfg->room_prefix));
    json_object_set_new(root, "config", jc);

    json_t *jt = json_object();
    json_object_set_new(jt, "connect_first_us", JI(r->connect_first_us));
    json_object_set_new(jt, "connect_last_us", JI(r->connect_last_us));
    json_object_set_new(jt, "start_us", JI(r->start_us));
    json_object_set_new(jt, "end_us", JI(r->end_us));
    if (r->drop_us) json_object_set_new(jt, "drop_us", JI(r->drop_us));
    json_object_set_new(jt, "connect_seconds", json_real(s->connect_seconds));
    json_object_set_new(jt, "run_seconds", json_real(s->run_seconds));
    json_object_set_new(jt, "tester_cpu_seconds", json_real(rep->tester_cpu_s));
    json_object_set_new(root, "timing", jt);

    json_t *jn = json_object();
    json_object_set_new(jn, "clients", JI(lt_config_total_clients(cfg)));
    json_object_set_new(jn, "ready", JI(r->initial_ready));
    json_object_set_new(jn, "failed", JI(r->initial_failed));
    json_object_set_new(jn, "connects_per_second", json_real(s->connects_per_s));
    json_object_set_new(jn, "attempts", JI(c->c[LT_C_CONN_ATTEMPTS]));
    json_object_set_new(jn, "open_at_end", JI(c->c[LT_C_CONN_OPEN]));
    json_object_set_new(root, "connections", jn);

    json_t *jp = json_object();
    json_object_set_new(jp, "sent", JI(c->c[LT_C_SENT]));
    json_object_set_new(jp, "acked", JI(c->c[LT_C_ACKED]));
    json_object_set_new(jp, "sent_ephemeral", JI(c->c[LT_C_SENT_EPH]));
    json_object_set_new(jp, "acked_ephemeral", JI(c->c[LT_C_ACKED_EPH]));
    json_object_set_new(jp, "unacked", JI(c->err[LT_E_UNACKED]));
    json_object_set_new(jp, "behind", JI(c->c[LT_C_BEHIND]));
    json_object_set_new(jp, "resent", JI(c->c[LT_C_RESENT]));
    json_object_set_new(jp, "deduplicated", JI(c->c[LT_C_DEDUPED]));
    json_object_set_new(jp, "ephemeral_lost", JI(c->c[LT_C_EPH_LOST]));
    json_object_set_new(jp, "seq_conflicts", JI(s->seq_conflicts));
    json_object_set_new(jp, "sent_per_second", json_real(s->sent_per_s));
    json_object_set_new(jp, "acked_per_second", json_real(s->acked_per_s));
    json_object_set_new(root, "publishes", jp);

    json_t *jd = json_object();
    json_object_set_new(jd, "received", JI(s->received));
    json_object_set_new(jd, "received_events", JI(c->c[LT_C_RECV]));
    json_object_set_new(jd, "received_per_second", json_real(s->recv_per_s));
    json_object_set_new(jd, "received_catchup", JI(c->c[LT_C_RECV_CATCHUP]));
    json_object_set_new(jd, "received_ephemeral", JI(c->c[LT_C_RECV_EPH]));
    json_object_set_new(jd, "members", JI(s->members));
    json_object_set_new(jd, "members_lost", JI(r->members_lost));
    json_object_set_new(jd, "expected", JI(s->expected));
    json_object_set_new(jd, "missing", JI(s->missing));
    json_object_set_new(jd, "extra", JI(s->extra));
    json_object_set_new(root, "deliveries", jd);

    json_t *jk = json_object();
    json_object_set_new(jk, "gaps", JI(c->c[LT_C_GAPS]));
    json_object_set_new(jk, "dups", JI(c->c[LT_C_DUPS]));
    json_object_set_new(jk, "reorders", JI(c->c[LT_C_REORDERS]));
    json_object_set_new(jk, "missing", JI(s->missing));
    json_object_set_new(root, "correctness", jk);

    if (cfg->scenario == LT_SC_RECONNECT_STORM || lt_config_reconnects(cfg)) {
        const lt_hist *h = &r->hist[LT_H_RECONNECT];
        json_t *jr = json_object(), *causes = json_object();
        json_object_set_new(jr, "enabled", json_boolean(lt_config_reconnects(cfg)));
        json_object_set_new(jr, "dropped", JI(c->c[LT_C_DROPPED]));
        json_object_set_new(jr, "disconnects", JI(c->c[LT_C_DISCONNECTS]));
        json_object_set_new(jr, "rejoined", JI(c->c[LT_C_RECONNECTS]));
        json_object_set_new(jr, "attempts_failed", JI(c->c[LT_C_RECONNECT_FAILS]));
        json_object_set_new(jr, "notices", JI(c->c[LT_C_NOTICES]));
        for (int i = 0; i < LT_E_COUNT; i++) json_object_set_new(causes, lt_error_names[i], JI(c->retried[i]));
        json_object_set_new(jr, "causes", causes);
        json_object_set_new(jr, "time_p50_us", JI(lt_hist_quantile(h, 0.5)));
        json_object_set_new(jr, "time_p99_us", JI(lt_hist_quantile(h, 0.99)));
        json_object_set_new(jr, "time_max_us", JI(h->max));
        json_object_set_new(jr, "caught_up", JI(c->c[LT_C_CAUGHT_UP]));
        json_object_set_new(jr, "not_caught_up", JI(c->err[LT_E_NOT_CAUGHT_UP]));
        json_object_set_new(jr, "all_caught_up_seconds", json_real(s->catchup_all_s));
        json_object_set_new(jr, "received_catchup", JI(c->c[LT_C_RECV_CATCHUP]));
        json_object_set_new(jr, "resent", JI(c->c[LT_C_RESENT]));
        json_object_set_new(jr, "deduplicated", JI(c->c[LT_C_DEDUPED]));
        json_object_set_new(jr, "ephemeral_lost", JI(c->c[LT_C_EPH_LOST]));
        json_object_set_new(root, "reconnect", jr);
    }

    json_t *jl = json_object();
    for (int i = 0; i < LT_H_COUNT; i++) json_object_set_new(jl, lt_hist_names[i], hist_json(&r->hist[i]));
    json_object_set_new(root, "latency", jl);

    json_t *je = json_object(), *kinds = json_object();
    json_object_set_new(je, "total", JI(s->errors));
    for (int i = 0; i < LT_E_COUNT; i++) json_object_set_new(kinds, lt_error_names[i], JI(c->err[i]));
    json_object_set_new(je, "by_kind", kinds);
    json_object_set_new(root, "errors", je);

    json_t *jcount = json_object();
    for (int i = 0; i < LT_C_COUNT; i++) json_object_set_new(jcount, lt_counter_names[i], JI(c->c[i]));
    json_object_set_new(root, "counters", jcount);

    json_t *rooms = json_array();
    for (uint32_t i = 0; i < r->nrooms && i < 10000; i++) {
        lt_room_check k;
        lt_room_compute(&r->rooms[i], &k);
        json_t *o = json_object();
        char name[LT_PREFIX_MAX + 24];
        snprintf(name, sizeof(name), "%s-%u", cfg->room_prefix, i);
        json_object_set_new(o, "room", json_string(name));
        json_object_set_new(o, "members", JI(k.members));
        json_object_set_new(o, "acked", JI(r->rooms[i].acked));
        json_object_set_new(o, "expected", JI(k.expected));
        json_object_set_new(o, "received", JI(k.received));
        json_object_set_new(o, "missing", JI(k.missing));
        json_object_set_new(o, "extra", JI(k.extra));
        json_object_set_new(o, "acked_seqs", seqset_json(&r->rooms[i].seqs));
        json_array_append_new(rooms, o);
    }
    json_object_set_new(root, "rooms", rooms);
    json_object_set_new(root, "rooms_truncated", json_boolean(r->nrooms > 10000));

    json_t *series = json_array();
    for (size_t i = 0; rep->series && i < rep->series->n; i++) {
        const lt_series_row *row = &rep->series->rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "t", json_real(row->t));
        json_object_set_new(o, "phase", json_string(row->phase ? row->phase : ""));
        json_object_set_new(o, "open", JI(row->open));
        json_object_set_new(o, "joined", JI(row->joined));
        json_object_set_new(o, "errors", JI(row->errors));
        json_object_set_new(o, "connects_per_second", json_real(row->connects_ps));
        json_object_set_new(o, "sent_per_second", json_real(row->sent_ps));
        json_object_set_new(o, "acked_per_second", json_real(row->acked_ps));
        json_object_set_new(o, "received_per_second", json_real(row->recv_ps));
        json_object_set_new(o, "ephemeral_per_second", json_real(row->eph_ps));
        json_object_set_new(o, "latency_count", JI(row->lat_count));
        json_object_set_new(o, "p50_us", JI(row->p50_us));
        json_object_set_new(o, "p99_us", JI(row->p99_us));
        json_object_set_new(o, "max_us", JI(row->max_us));
        json_array_append_new(series, o);
    }
    json_object_set_new(root, "series", series);

    json_t *js = json_object(), *conds = json_array();
    json_object_set_new(js, "expression", cfg->slo_text ? json_string(cfg->slo_text) : json_null());
    json_object_set_new(js, "pass", json_boolean(rep->slo_failed == 0));
    for (int i = 0; i < cfg->slo.n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "condition", json_string(cfg->slo.c[i].text));
        json_object_set_new(o, "value", json_real(rep->slo_value[i]));
        json_object_set_new(o, "limit", json_real(cfg->slo.c[i].limit));
        json_object_set_new(o, "unit", json_string(cfg->slo.c[i].is_latency ? "us" : "count"));
        json_object_set_new(o, "pass", json_boolean(rep->slo_pass[i]));
        json_array_append_new(conds, o);
    }
    json_object_set_new(js, "conditions", conds);
    json_object_set_new(root, "slo", js);
    json_object_set_new(root, "exit_code", JI(rep->exit_code));

    int rc = json_dumpf(root, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc == 0) fputc('\n', f);
    return rc == 0 && !ferror(f) ? 0 : -1;
}
