/*
 * lt_html.c — the self-contained HTML report: inline CSS and SVG, no
 * scripts, no external resources. Charts: latency by percentile (x on the
 * usual log scale 0%, 90%, 99%, 99.9%, ...), throughput, connections and
 * per-second latency over time; then the same tables as the text report.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lt_report.h"

#define W 760.0
#define H 300.0
#define ML 70.0
#define MR 150.0
#define MT 34.0
#define MB 44.0

typedef struct {
    const char *name;
    const char *color;
    const double *x;
    const double *y;
    size_t n;
} svg_series;

static void
esc(ch_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': ch_buf_puts(b, "&lt;"); break;
        case '>': ch_buf_puts(b, "&gt;"); break;
        case '&': ch_buf_puts(b, "&amp;"); break;
        case '"': ch_buf_puts(b, "&quot;"); break;
        default: ch_buf_append(b, s, 1);
        }
    }
}

static double
nice_step(double range)
{
    if (!(range > 0)) return 1;
    double raw = range / 5.0;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void
fmt_tick(char *out, size_t n, double v)
{
    if (v != 0 && (fabs(v) >= 1e6 || fabs(v) < 0.01)) snprintf(out, n, "%.2g", v);
    else if (fabs(v - round(v)) < 1e-9) snprintf(out, n, "%.0f", v);
    else snprintf(out, n, "%.2f", v);
}

static const char *pct_labels[] = { "0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%" };

/* A line chart. xpct: x values are -log10(1 - q) and ticks are labelled as
 * percentiles. */
static void
svg_chart(ch_buf *b, const char *title, const char *xlabel, const char *ylabel, const svg_series *s, int ns,
          int xpct)
{
    double xmin = INFINITY, xmax = -INFINITY, ymax = 0;
    size_t points = 0;
    for (int i = 0; i < ns; i++) {
        for (size_t k = 0; k < s[i].n; k++) {
            if (s[i].x[k] < xmin) xmin = s[i].x[k];
            if (s[i].x[k] > xmax) xmax = s[i].x[k];
            if (s[i].y[k] > ymax) ymax = s[i].y[k];
            points++;
        }
    }
    ch_buf_printf(b, "<figure><figcaption>");
    esc(b, title);
    ch_buf_printf(b, "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                     "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n",
                  W, H, W, H);
    if (!points) {
        ch_buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#888\">no data</text></svg></figure>\n", W / 2 - 30,
                      H / 2);
        return;
    }
    if (xpct) {
        xmin = 0;
        xmax = ceil(xmax);
        if (xmax < 2) xmax = 2;
    }
    if (xmax <= xmin) xmax = xmin + 1;
    double ystep = nice_step(ymax > 0 ? ymax : 1);
    double ytop = ceil((ymax > 0 ? ymax : 1) / ystep) * ystep;
    double pw = W - ML - MR, ph = H - MT - MB;
#define PX(v) (ML + ((v) - xmin) / (xmax - xmin) * pw)
#define PY(v) (MT + ph - (v) / ytop * ph)
    ch_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
                     "stroke=\"#ccc\"/>\n",
                  ML, MT, pw, ph);
    char t[32];
    for (double v = 0; v <= ytop + ystep / 2; v += ystep) {
        fmt_tick(t, sizeof(t), v);
        ch_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                         "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                      ML, ML + pw, PY(v), PY(v), ML - 6, PY(v) + 4, t);
    }
    if (xpct) {
        for (int k = 0; k <= (int)xmax && k < 7; k++)
            ch_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                          PX(k), PX(k), MT, MT + ph, PX(k), MT + ph + 16, pct_labels[k]);
    } else {
        double xstep = nice_step(xmax - xmin);
        for (double v = ceil(xmin / xstep) * xstep; v <= xmax + xstep / 1000; v += xstep) {
            fmt_tick(t, sizeof(t), v);
            ch_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                          PX(v), PX(v), MT, MT + ph, PX(v), MT + ph + 16, t);
        }
    }
    ch_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ML + pw / 2, H - 8);
    esc(b, xlabel);
    ch_buf_printf(b, "</text><text transform=\"translate(14,%.1f) rotate(-90)\" text-anchor=\"middle\">",
                  MT + ph / 2);
    esc(b, ylabel);
    ch_buf_puts(b, "</text>\n");
    for (int i = 0; i < ns; i++) {
        if (!s[i].n) continue;
        ch_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", s[i].color);
        for (size_t k = 0; k < s[i].n; k++) ch_buf_printf(b, "%.1f,%.1f ", PX(s[i].x[k]), PY(s[i].y[k]));
        ch_buf_puts(b, "\"/>\n");
        double ly = MT + 12 + 16 * i;
        ch_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>"
                         "<text x=\"%.1f\" y=\"%.1f\">",
                      ML + pw + 10, ML + pw + 28, ly, ly, s[i].color, ML + pw + 32, ly + 4);
        esc(b, s[i].name);
        ch_buf_puts(b, "</text>\n");
    }
#undef PX
#undef PY
    ch_buf_puts(b, "</svg></figure>\n");
}

/* Step curve of h by percentile: x = -log10(1 - q), y = ms. Arrays are
 * malloc'd into xs and ys (the caller frees them); returns the point count. */
static size_t
percentile_curve(const lt_hist *h, double **xs, double **ys)
{
    size_t cap = 2 * LT_HIST_BUCKETS + 2, n = 0;
    *xs = malloc(cap * sizeof(double));
    *ys = malloc(cap * sizeof(double));
    if (!*xs || !*ys || !h->count) return 0;
    double xcap = ceil(log10((double)h->count));
    if (xcap < 2) xcap = 2;
    if (xcap > 6) xcap = 6;
    uint64_t cum = 0;
    for (uint32_t i = 0; i < LT_HIST_BUCKETS; i++) {
        if (!h->b[i]) continue;
        double q0 = (double)cum / (double)h->count;
        cum += h->b[i];
        double q1 = (double)cum / (double)h->count;
        uint64_t v = lt_hist_bucket_high(i);
        if (v > h->max) v = h->max;
        double x0 = q0 < 1 ? -log10(1 - q0) : xcap, x1 = q1 < 1 ? -log10(1 - q1) : xcap;
        if (x0 > xcap) x0 = xcap;
        if (x1 > xcap) x1 = xcap;
        (*xs)[n] = x0; (*ys)[n++] = (double)v / 1000.0;
        (*xs)[n] = x1; (*ys)[n++] = (double)v / 1000.0;
    }
    return n;
}

static void
row(ch_buf *b, const char *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
row(ch_buf *b, const char *k, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    ch_buf_puts(b, "<tr><th>");
    esc(b, k);
    ch_buf_puts(b, "</th><td>");
    esc(b, v);
    ch_buf_puts(b, "</td></tr>\n");
}

int
lt_report_write_html(const lt_report *rep, FILE *f)
{
    const lt_config *cfg = rep->cfg;
    const lt_results *r = rep->res;
    const lt_counts *c = &r->counts;
    const lt_summary *s = &rep->sum;
    ch_buf b;
    ch_buf_init(&b);

    ch_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                      "<title>chorus-loadtest %s</title>\n<style>\n"
                      "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}\n"
                      "h1{font-size:20px}h2{font-size:16px;margin-top:28px}\n"
                      "table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;"
                      "text-align:left;font-size:13px}th{color:#555;font-weight:600}\n"
                      "figure{margin:12px 0}figcaption{font-weight:600;font-size:13px;margin-bottom:4px}\n"
                      ".ok{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}\n"
                      "</style></head><body>\n",
                  lt_scenario_names[cfg->scenario]);
    ch_buf_printf(&b, "<h1>chorus-loadtest: %s</h1>\n", lt_scenario_names[cfg->scenario]);
    if (cfg->slo.n)
        ch_buf_printf(&b, "<p>SLO: <span class=\"%s\">%s</span></p>\n", rep->slo_failed ? "fail" : "ok",
                      rep->slo_failed ? "FAILED" : "all conditions hold");
    if (rep->interrupted) ch_buf_puts(&b, "<p class=\"fail\">The run was interrupted.</p>\n");

    ch_buf_puts(&b, "<h2>Setup</h2><table>\n");
    char urls[400] = "";
    for (int i = 0; i < cfg->nurls; i++) {
        size_t l = strlen(urls);
        snprintf(urls + l, sizeof(urls) - l, "%s%s", i ? ", " : "", cfg->urls[i].text);
    }
    row(&b, "gateways", "%s", urls);
    row(&b, "clients", "%ld subscribers + %ld publishers in %ld rooms, %d processes", cfg->connections,
        lt_config_separate_publishers(cfg), cfg->rooms, rep->workers);
    if (cfg->rate > 0) row(&b, "target rate", "%.0f publishes/s in total", cfg->rate);
    else row(&b, "target rate", "unpaced, %ld in flight per publisher", cfg->window);
    row(&b, "payload", "%ld bytes of padding", cfg->payload);
    row(&b, "duration", "%.1fs (ramp-up %.1fs, drain up to %.1fs)", cfg->duration, cfg->ramp_up, cfg->drain);
    if (lt_config_reconnects(cfg))
        row(&b, "reconnect", "on: backoff %.2fs .. %.2fs with jitter, next URL, rejoin with since",
            cfg->backoff_min, cfg->backoff_max);
    else
        row(&b, "reconnect", "off");
    row(&b, "run id", "%s", rep->run_id ? rep->run_id : "");
    ch_buf_puts(&b, "</table>\n");

    ch_buf_puts(&b, "<h2>Results</h2><table>\n");
    row(&b, "connections", "%llu ready, %llu failed in %.2fs (%.0f/s)", (unsigned long long)r->initial_ready,
        (unsigned long long)r->initial_failed, s->connect_seconds, s->connects_per_s);
    row(&b, "publishes", "%llu durable sent, %llu acked (%.0f/s); %llu ephemeral", (unsigned long long)c->c[LT_C_SENT],
        (unsigned long long)c->c[LT_C_ACKED], s->acked_per_s, (unsigned long long)c->c[LT_C_SENT_EPH]);
    row(&b, "deliveries", "%llu received (%.0f/s), expected %llu over %llu members", (unsigned long long)s->received,
        s->recv_per_s, (unsigned long long)s->expected, (unsigned long long)s->members);
    row(&b, "correctness", "gaps %llu, dups %llu, reorders %llu, missing %llu, extra %llu",
        (unsigned long long)c->c[LT_C_GAPS], (unsigned long long)c->c[LT_C_DUPS],
        (unsigned long long)c->c[LT_C_REORDERS], (unsigned long long)s->missing, (unsigned long long)s->extra);
    if (c->c[LT_C_DROPPED])
        row(&b, "reconnect storm", "%llu dropped, %llu caught up, last after %.2fs",
            (unsigned long long)c->c[LT_C_DROPPED], (unsigned long long)c->c[LT_C_CAUGHT_UP], s->catchup_all_s);
    if (c->c[LT_C_DISCONNECTS] || c->c[LT_C_RECONNECT_FAILS]) {
        const lt_hist *h = &r->hist[LT_H_RECONNECT];
        char p50[24] = "-", p99[24] = "-", causes[256] = "";
        if (h->count) {
            lt_fmt_us((double)lt_hist_quantile(h, 0.5), p50, sizeof(p50));
            lt_fmt_us((double)lt_hist_quantile(h, 0.99), p99, sizeof(p99));
        }
        for (int i = 0; i < LT_E_COUNT; i++) {
            size_t l = strlen(causes);
            if (c->retried[i])
                snprintf(causes + l, sizeof(causes) - l, "%s%s %llu", l ? ", " : "", lt_error_names[i],
                         (unsigned long long)c->retried[i]);
        }
        row(&b, "reconnects", "%llu connections lost, %llu rejoined; time to reconnect p50 %s, p99 %s; "
            "%llu failed attempts retried",
            (unsigned long long)c->c[LT_C_DISCONNECTS], (unsigned long long)c->c[LT_C_RECONNECTS], p50, p99,
            (unsigned long long)c->c[LT_C_RECONNECT_FAILS]);
        row(&b, "reconnect causes", "%s", causes);
        row(&b, "resent publishes", "%llu resent with their cid, %llu of them already stored; %llu ephemeral lost",
            (unsigned long long)c->c[LT_C_RESENT], (unsigned long long)c->c[LT_C_DEDUPED],
            (unsigned long long)c->c[LT_C_EPH_LOST]);
    }
    if (s->seq_conflicts)
        row(&b, "seq conflicts", "%llu acked seqs given to two publishes", (unsigned long long)s->seq_conflicts);
    row(&b, "errors", "%llu", (unsigned long long)s->errors);
    for (int i = 0; i < LT_E_COUNT; i++)
        if (c->err[i]) row(&b, lt_error_names[i], "%llu", (unsigned long long)c->err[i]);
    ch_buf_puts(&b, "</table>\n");

    if (cfg->slo.n) {
        ch_buf_puts(&b, "<h2>SLO</h2><table><tr><th>condition</th><th>measured</th><th></th></tr>\n");
        for (int i = 0; i < cfg->slo.n; i++) {
            char v[32];
            lt_slo_format(&cfg->slo.c[i], rep->slo_value[i], v, sizeof(v));
            ch_buf_puts(&b, "<tr><td>");
            esc(&b, cfg->slo.c[i].text);
            ch_buf_printf(&b, "</td><td>%s</td><td class=\"%s\">%s</td></tr>\n", v,
                          rep->slo_pass[i] ? "ok" : "fail", rep->slo_pass[i] ? "ok" : "FAIL");
        }
        ch_buf_puts(&b, "</table>\n");
    }

    ch_buf_puts(&b, "<h2>Latency</h2><p>Measured from the intended send time of each publish (open loop), "
                    "in milliseconds.</p>\n<table><tr><th></th><th>count</th>");
    for (int q = 0; q < lt_report_nquantiles; q++) {
        double pq = lt_report_quantiles[q] * 100;
        ch_buf_printf(&b, "<th>%s%g</th>", pq >= 100 ? "max" : "p", pq >= 100 ? 0 : pq);
    }
    ch_buf_puts(&b, "</tr>\n");
    static const char *hlabel[LT_H_COUNT] = { "delivery", "ack", "ephemeral", "connect", "catch-up", "reconnect" };
    static const char *hcolor[LT_H_COUNT] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728", "#8c564b" };
    for (int i = 0; i < LT_H_COUNT; i++) {
        const lt_hist *h = &r->hist[i];
        if (!h->count) continue;
        ch_buf_printf(&b, "<tr><th>%s</th><td>%llu</td>", hlabel[i], (unsigned long long)h->count);
        for (int q = 0; q < lt_report_nquantiles; q++)
            ch_buf_printf(&b, "<td>%.3f</td>", (double)lt_hist_quantile(h, lt_report_quantiles[q]) / 1000.0);
        ch_buf_puts(&b, "</tr>\n");
    }
    ch_buf_puts(&b, "</table>\n");

    /* Publish latencies and connection times differ by orders of magnitude:
     * one chart each. */
    svg_series ps[LT_H_COUNT], cs_[LT_H_COUNT];
    double *px[LT_H_COUNT] = { 0 }, *py[LT_H_COUNT] = { 0 };
    int nps = 0, ncs = 0;
    for (int i = 0; i < LT_H_COUNT; i++) {
        size_t n = percentile_curve(&r->hist[i], &px[i], &py[i]);
        if (!n) continue;
        svg_series one = { hlabel[i], hcolor[i], px[i], py[i], n };
        if (i == LT_H_CONNECT || i == LT_H_CATCHUP || i == LT_H_RECONNECT) cs_[ncs++] = one;
        else ps[nps++] = one;
    }
    if (nps) svg_chart(&b, "Publish latency by percentile", "percentile", "ms", ps, nps, 1);
    if (ncs) svg_chart(&b, "Connect, reconnect and catch-up time by percentile", "percentile", "ms", cs_, ncs, 1);
    for (int i = 0; i < LT_H_COUNT; i++) {
        free(px[i]);
        free(py[i]);
    }

    size_t n = rep->series ? rep->series->n : 0;
    double *t = calloc(n ? n : 1, sizeof(double));
    double *v[8];
    for (int i = 0; i < 8; i++) v[i] = calloc(n ? n : 1, sizeof(double));
    if (t && v[0] && v[1] && v[2] && v[3] && v[4] && v[5] && v[6] && v[7]) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const lt_series_row *sr = &rep->series->rows[i];
            t[i] = sr->t;
            v[0][i] = sr->sent_ps;
            v[1][i] = sr->acked_ps;
            v[2][i] = sr->recv_ps;
            v[3][i] = sr->eph_ps;
            v[4][i] = sr->connects_ps;
            v[5][i] = (double)sr->open;
            v[6][i] = (double)sr->joined;
        }
        svg_series tp[] = {
            { "sent/s", "#ff7f0e", t, v[0], n }, { "acked/s", "#9467bd", t, v[1], n },
            { "delivered/s", "#1f77b4", t, v[2], n }, { "ephemeral/s", "#2ca02c", t, v[3], n },
            { "connects/s", "#8c564b", t, v[4], n },
        };
        ch_buf_puts(&b, "<h2>Over time</h2>\n");
        svg_chart(&b, "Throughput", "seconds", "per second", tp, 5, 0);
        svg_series cs[] = { { "open", "#1f77b4", t, v[5], n }, { "joined", "#2ca02c", t, v[6], n } };
        svg_chart(&b, "Connections", "seconds", "connections", cs, 2, 0);
        /* Per-second latency, only seconds with deliveries. */
        double *lt = calloc(n ? n : 1, sizeof(double)), *l50 = calloc(n ? n : 1, sizeof(double)),
               *l99 = calloc(n ? n : 1, sizeof(double)), *lmax = calloc(n ? n : 1, sizeof(double));
        if (lt && l50 && l99 && lmax) {
            for (size_t i = 0; i < n; i++) {
                const lt_series_row *sr = &rep->series->rows[i];
                if (!sr->lat_count) continue;
                lt[m] = sr->t;
                l50[m] = (double)sr->p50_us / 1000.0;
                l99[m] = (double)sr->p99_us / 1000.0;
                lmax[m] = (double)sr->max_us / 1000.0;
                m++;
            }
            svg_series ls[] = { { "p50", "#2ca02c", lt, l50, m }, { "p99", "#ff7f0e", lt, l99, m },
                                { "max", "#d62728", lt, lmax, m } };
            svg_chart(&b, "Delivery latency per second", "seconds", "ms", ls, 3, 0);
        }
        free(lt);
        free(l50);
        free(l99);
        free(lmax);
    }
    free(t);
    for (int i = 0; i < 8; i++) free(v[i]);

    /* Rooms with a delivery shortfall first, at most 50 rows. */
    ch_buf_puts(&b, "<h2>Rooms</h2><table><tr><th>room</th><th>members</th><th>acked</th><th>expected</th>"
                    "<th>received</th><th>missing</th><th>extra</th></tr>\n");
    int shown = 0;
    for (int pass = 0; pass < 2 && shown < 50; pass++) {
        for (uint32_t i = 0; i < r->nrooms && shown < 50; i++) {
            lt_room_check k;
            lt_room_compute(&r->rooms[i], &k);
            int bad = k.missing || k.extra;
            if ((pass == 0) != bad) continue;
            ch_buf_printf(&b, "<tr><td>");
            esc(&b, cfg->room_prefix);
            ch_buf_printf(&b, "-%u</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td%s>%llu</td>"
                              "<td>%llu</td></tr>\n",
                          i, (unsigned long long)k.members, (unsigned long long)r->rooms[i].acked,
                          (unsigned long long)k.expected, (unsigned long long)k.received,
                          k.missing ? " class=\"fail\"" : "", (unsigned long long)k.missing,
                          (unsigned long long)k.extra);
            shown++;
        }
    }
    ch_buf_puts(&b, "</table>\n");
    if (r->nrooms > 50) ch_buf_printf(&b, "<p>%u rooms in total; the JSON report lists them all.</p>\n", r->nrooms);
    ch_buf_puts(&b, "</body></html>\n");

    int rc = -1;
    if (!b.oom && fwrite(b.data, 1, b.len, f) == b.len && !ferror(f)) rc = 0;
    ch_buf_free(&b);
    return rc;
}
