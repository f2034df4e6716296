/*
 * lt_rate.c — open-loop schedule; see lt_rate.h.
 */
#include "lt_rate.h"

#include <math.h>

void
lt_rate_init(lt_rate *r, int64_t start_us, int64_t end_us, double rate, double phase)
{
    r->period_us = rate > 0.0 ? 1e6 / rate : 0.0;
    r->start_us = start_us + (int64_t)llround(phase * r->period_us);
    r->end_us = end_us;
    r->next = 0;
}

int64_t
lt_rate_intended(const lt_rate *r, uint64_t k)
{
    return r->start_us + (int64_t)llround((double)k * r->period_us);
}

int64_t
lt_rate_peek(const lt_rate *r)
{
    int64_t t = lt_rate_intended(r, r->next);
    return t >= r->end_us ? INT64_MAX : t;
}

int
lt_rate_take(lt_rate *r, int64_t now, int64_t *intended)
{
    int64_t t = lt_rate_peek(r);
    if (t == INT64_MAX || t > now) return 0;
    *intended = r->period_us > 0.0 ? t : now;
    r->next++;
    return 1;
}

uint64_t
lt_rate_backlog(const lt_rate *r, int64_t now)
{
    if (r->period_us <= 0.0 || now < r->start_us) return 0;
    int64_t until = now < r->end_us ? now : r->end_us - 1;
    if (until < r->start_us) return 0;
    /* Largest k with intended(k) <= until, estimated then corrected for rounding. */
    uint64_t k = (uint64_t)((double)(until - r->start_us) / r->period_us);
    while (lt_rate_intended(r, k + 1) <= until) k++;
    while (k > 0 && lt_rate_intended(r, k) > until) k--;
    uint64_t due = k + 1;
    return due > r->next ? due - r->next : 0;
}
