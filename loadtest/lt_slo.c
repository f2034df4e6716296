/*
 * lt_slo.c — SLO expressions; see lt_slo.h for the grammar.
 */
#include "lt_slo.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lt_stats.h"

const char *const lt_slo_count_names[LT_M_COUNT] = {
    [LT_M_ERRORS] = "errors", [LT_M_GAPS] = "gaps", [LT_M_DUPS] = "dups",
    [LT_M_REORDERS] = "reorders", [LT_M_MISSING] = "missing", [LT_M_EXTRA] = "extra",
    [LT_M_FAILED] = "failed", [LT_M_UNACKED] = "unacked", [LT_M_NOT_CAUGHT_UP] = "not_caught_up",
    [LT_M_RECONNECTS] = "reconnects",
};

static int
fail(char *err, size_t errlen, const char *fmt, const char *item)
{
    if (err && errlen) snprintf(err, errlen, fmt, item);
    return -1;
}

/* Parses a latency statistic name ("p99", "p99.9", "max"); 0 or -1. */
static int
parse_stat(const char *s, size_t n, lt_slo_cond *c)
{
    if (n == 3 && memcmp(s, "max", 3) == 0) { c->stat = 'x'; return 0; }
    if (n == 3 && memcmp(s, "min", 3) == 0) { c->stat = 'n'; return 0; }
    if (n == 4 && memcmp(s, "mean", 4) == 0) { c->stat = 'a'; return 0; }
    if (n < 3 || s[0] != 'p') return -1;
    char digits[24];
    size_t nd = 0;
    int dot = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '.') {
            if (dot || i == 1 || i == n - 1) return -1;
            dot = (int)i;
            continue;
        }
        if (!isdigit((unsigned char)s[i]) || nd + 1 >= sizeof(digits)) return -1;
        digits[nd++] = s[i];
    }
    digits[nd] = 0;
    double q;
    if (dot) {
        /* "p99.9": a percentage with a fraction. */
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(n - 1), s + 1);
        q = strtod(tmp, NULL) / 100.0;
    } else {
        /* "p999": 0.999. */
        if (nd < 2) return -1;
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "0.%s", digits);
        q = strtod(tmp, NULL);
    }
    if (!(q > 0.0 && q < 1.0)) return -1;
    c->stat = 'q';
    c->q = q;
    return 0;
}

static int
parse_metric(const char *s, size_t n, lt_slo_cond *c)
{
    for (int i = 0; i < LT_M_COUNT; i++) {
        if (strlen(lt_slo_count_names[i]) == n && memcmp(lt_slo_count_names[i], s, n) == 0) {
            c->is_latency = 0;
            c->count = i;
            return 0;
        }
    }
    c->is_latency = 1;
    c->hist = -1;
    const char *dot = memchr(s, '.', n);
    if (dot) {
        size_t hl = (size_t)(dot - s);
        int found = -1;
        for (int i = 0; i < LT_H_COUNT; i++)
            if (strlen(lt_hist_names[i]) == hl && memcmp(lt_hist_names[i], s, hl) == 0) found = i;
        if (found >= 0) {
            c->hist = found;
            s = dot + 1;
            n -= hl + 1;
        }
    }
    return parse_stat(s, n, c);
}

static int
parse_one(const char *s, size_t n, lt_slo_cond *c, char *err, size_t errlen)
{
    char item[128];
    snprintf(item, sizeof(item), "%.*s", (int)(n < 100 ? n : 100), s);
    memset(c, 0, sizeof(*c));
    snprintf(c->text, sizeof(c->text), "%.*s", (int)n, s);

    size_t i = 0;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) i++;
    size_t mlen = i;
    if (mlen == 0) return fail(err, errlen, "SLO condition '%s': expected a metric name", item);
    while (i < n && isspace((unsigned char)s[i])) i++;
    if (i >= n) return fail(err, errlen, "SLO condition '%s': expected <, <=, >, >= or =", item);
    if (s[i] == '<') { c->op = LT_SLO_LT; i++; if (i < n && s[i] == '=') { c->op = LT_SLO_LE; i++; } }
    else if (s[i] == '>') { c->op = LT_SLO_GT; i++; if (i < n && s[i] == '=') { c->op = LT_SLO_GE; i++; } }
    else if (s[i] == '=') { c->op = LT_SLO_EQ; i++; if (i < n && s[i] == '=') i++; }
    else return fail(err, errlen, "SLO condition '%s': expected <, <=, >, >= or =", item);
    if (parse_metric(s, mlen, c) < 0) return fail(err, errlen, "SLO condition '%s': unknown metric", item);
    while (i < n && isspace((unsigned char)s[i])) i++;

    char num[64];
    size_t vl = n - i;
    if (vl == 0 || vl >= sizeof(num)) return fail(err, errlen, "SLO condition '%s': expected a value", item);
    memcpy(num, s + i, vl);
    num[vl] = 0;
    char *end;
    errno = 0;
    double v = strtod(num, &end);
    if (end == num || errno || v < 0 || v != v)
        return fail(err, errlen, "SLO condition '%s': the value is not a non-negative number", item);
    const char *unit = end;
    if (c->is_latency) {
        if (!*unit || strcmp(unit, "ms") == 0) v *= 1000.0;
        else if (strcmp(unit, "us") == 0) { /* µs already */ }
        else if (strcmp(unit, "s") == 0) v *= 1e6;
        else return fail(err, errlen, "SLO condition '%s': latency unit must be us, ms or s", item);
    } else if (*unit) {
        return fail(err, errlen, "SLO condition '%s': a count takes no unit", item);
    }
    c->limit = v;
    return 0;
}

int
lt_slo_parse(const char *expr, lt_slo *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!expr) return fail(err, errlen, "%s", "empty SLO expression");
    const char *p = expr;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (n && isspace((unsigned char)*s)) { s++; n--; }
        while (n && isspace((unsigned char)s[n - 1])) n--;
        if (n == 0) return fail(err, errlen, "%s", "empty condition in SLO expression");
        if (out->n >= LT_SLO_MAX) return fail(err, errlen, "%s", "too many SLO conditions");
        if (parse_one(s, n, &out->c[out->n], err, errlen) < 0) return -1;
        out->n++;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

int
lt_slo_holds(const lt_slo_cond *c, double v)
{
    switch (c->op) {
    case LT_SLO_LT: return v < c->limit;
    case LT_SLO_LE: return v <= c->limit;
    case LT_SLO_GT: return v > c->limit;
    case LT_SLO_GE: return v >= c->limit;
    case LT_SLO_EQ: return v == c->limit;
    }
    return 0;
}

int
lt_slo_eval(const lt_slo *s, lt_slo_value_fn get, void *ctx, double *values, int *pass)
{
    int failed = 0;
    for (int i = 0; i < s->n; i++) {
        double v = get(ctx, &s->c[i]);
        int ok = lt_slo_holds(&s->c[i], v);
        if (values) values[i] = v;
        if (pass) pass[i] = ok;
        failed += !ok;
    }
    return failed;
}

void
lt_slo_format(const lt_slo_cond *c, double v, char *out, size_t outlen)
{
    if (!c->is_latency) snprintf(out, outlen, "%.0f", v);
    else if (v >= 1e6) snprintf(out, outlen, "%.3gs", v / 1e6);
    else if (v >= 1000) snprintf(out, outlen, "%.3gms", v / 1000.0);
    else snprintf(out, outlen, "%.0fus", v);
}
