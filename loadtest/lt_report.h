/*
 * lt_report.h — the end of a run: a summary computed from the merged
 * results, the SLO verdict, and three renderings of it: the human table
 * (stdout), the JSON report and the self-contained HTML report.
 *
 * Also the time series the parent builds from the workers' progress
 * records (one row per second).
 */
#ifndef CHORUS_LT_REPORT_H
#define CHORUS_LT_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "lt_config.h"
#include "lt_results.h"

typedef struct {
    double t;                 /* seconds since the parent started the run */
    const char *phase;        /* static: "connecting", "running", "draining" */
    uint64_t open;            /* connections open */
    uint64_t joined;          /* clients joined */
    uint64_t errors;          /* errors so far (cumulative) */
    double connects_ps;       /* welcomes per second in this interval */
    double sent_ps;           /* publishes (durable + ephemeral) per second */
    double acked_ps;          /* durable acks per second */
    double recv_ps;           /* durable deliveries per second */
    double eph_ps;            /* ephemeral deliveries per second */
    uint64_t lat_count;       /* delivery latencies recorded in this interval */
    uint64_t p50_us, p99_us, max_us; /* their percentiles (0 if none) */
} lt_series_row;

typedef struct {
    lt_series_row *rows;      /* owned (malloc) */
    size_t n, cap;
} lt_series;

int lt_series_push(lt_series *s, const lt_series_row *row);
void lt_series_free(lt_series *s);

typedef struct {
    uint64_t members, expected, received, missing, extra;
    uint64_t errors;          /* all error kinds */
    uint64_t failed;          /* clients that never joined in the connect phase */
    double connect_seconds;   /* first connect attempt -> last client settled */
    double connects_per_s;    /* clients joined / connect_seconds */
    double run_seconds;       /* traffic start -> end */
    double sent_per_s, acked_per_s, recv_per_s, eph_per_s;
    double catchup_all_s;     /* longest catch-up: drop or loss -> caught up */
    uint64_t seq_conflicts;   /* acked seqs given to two publishes (all rooms) */
} lt_summary;

typedef struct {
    const lt_config *cfg;
    const lt_results *res;    /* merged over workers */
    const lt_series *series;  /* may be NULL */
    const char *run_id;
    int workers;              /* worker processes started */
    int workers_failed;       /* of which died before reporting */
    int interrupted;          /* the run was stopped by a signal */
    double tester_cpu_s;      /* user + system CPU seconds of the worker processes */
    lt_summary sum;           /* filled by lt_report_compute */
    int slo_failed;           /* conditions that failed */
    double slo_value[LT_SLO_MAX];
    int slo_pass[LT_SLO_MAX];
    int exit_code;            /* 0; 3 if an SLO condition failed; 1 if every worker
                                 failed or the run was interrupted */
} lt_report;

/* Fills rep->sum, evaluates the SLO and sets exit_code. */
void lt_report_compute(lt_report *rep);

/* The measured value of an SLO metric (an lt_slo_value_fn; ctx = lt_report). */
double lt_report_metric(void *ctx, const lt_slo_cond *c);

/* Human-readable duration of v µs: "812us", "1.23ms", "2.50s". */
void lt_fmt_us(double v, char *out, size_t outlen);

void lt_report_print(const lt_report *rep, FILE *f);
/* 0, or -1 on a write error. */
int lt_report_write_json(const lt_report *rep, FILE *f);
int lt_report_write_html(const lt_report *rep, FILE *f);

/* Quantiles shown in reports and plots. */
extern const double lt_report_quantiles[];
extern const int lt_report_nquantiles;

#endif
