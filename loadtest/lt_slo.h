/*
 * lt_slo.h — service-level objectives given on the command line, e.g.
 *   --slo 'p99<20ms,errors=0,gaps=0,connect.p99<=50ms'
 *
 * Grammar (whitespace around items is ignored):
 *   slo       := condition ("," condition)*
 *   condition := metric op value
 *   op        := "<" | "<=" | ">" | ">=" | "=" | "=="
 *   metric    := [hist "."] stat | count
 *   hist      := latency | ack | eph | connect | catchup | reconnect (default: the
 *                scenario's main latency: connect for connect-storm and
 *                idle, delivery latency otherwise)
 *   stat      := p50 | p90 | p99 | p999 | p9999 | pNN.N | min | mean | max
 *                ("p" + digits means 0.<digits>: p999 = 99.9th percentile;
 *                 "p99.9" is the same)
 *   count     := errors | gaps | dups | reorders | missing | extra |
 *                failed | unacked | not_caught_up | reconnects
 *   value     := number [unit]; latencies take us, ms (the default) or s,
 *                counts take a plain number
 *
 * Pure: parsing and evaluation against values supplied by a callback.
 */
#ifndef CHORUS_LT_SLO_H
#define CHORUS_LT_SLO_H

#include <stddef.h>

#define LT_SLO_MAX 32

typedef enum { LT_SLO_LT = 0, LT_SLO_LE, LT_SLO_GT, LT_SLO_GE, LT_SLO_EQ } lt_slo_op;

typedef enum {
    LT_M_ERRORS = 0, LT_M_GAPS, LT_M_DUPS, LT_M_REORDERS, LT_M_MISSING, LT_M_EXTRA,
    LT_M_FAILED, LT_M_UNACKED, LT_M_NOT_CAUGHT_UP, LT_M_RECONNECTS, LT_M_COUNT
} lt_slo_count;

typedef struct {
    char text[64];    /* the condition as written, trimmed (truncated if longer) */
    int is_latency;   /* 1: a histogram statistic; 0: a count */
    int hist;         /* latency: lt_hist_id, or -1 for the scenario default */
    char stat;        /* latency: 'q' quantile, 'n' min, 'a' mean, 'x' max */
    double q;         /* latency, stat 'q': quantile in (0, 1) */
    int count;        /* count: lt_slo_count */
    lt_slo_op op;
    double limit;     /* latency: µs; count: the number */
} lt_slo_cond;

typedef struct {
    lt_slo_cond c[LT_SLO_MAX];
    int n;
} lt_slo;

extern const char *const lt_slo_count_names[LT_M_COUNT];

/* Parses expr into *out. Returns 0, or -1 with a message in err. An empty
 * expression is an error. */
int lt_slo_parse(const char *expr, lt_slo *out, char *err, size_t errlen);

/* 1 if value satisfies the condition. */
int lt_slo_holds(const lt_slo_cond *c, double value);

/* Supplies the measured value of a condition's metric (µs or a count). */
typedef double (*lt_slo_value_fn)(void *ctx, const lt_slo_cond *c);

/* Evaluates every condition: values[i] and pass[i] (arrays of s->n, may be
 * NULL) get the measured value and the outcome. Returns the number of
 * conditions that failed. */
int lt_slo_eval(const lt_slo *s, lt_slo_value_fn get, void *ctx, double *values, int *pass);

/* Formats a condition's limit or a measured value for humans ("20ms", "0"). */
void lt_slo_format(const lt_slo_cond *c, double v, char *out, size_t outlen);

#endif
