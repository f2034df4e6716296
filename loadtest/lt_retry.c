/*
 * lt_retry.c — reconnect policy and retry queue; see lt_retry.h.
 */
#include "lt_retry.h"

#include <stdlib.h>

#include "lt_stats.h"

int64_t
lt_backoff_delay(const lt_backoff *b, unsigned attempt, uint64_t rnd)
{
    int64_t cap = b->min_us > 0 ? b->min_us : 1;
    int64_t max = b->max_us > cap ? b->max_us : cap;
    for (unsigned k = 0; k < attempt && cap < max; k++) cap = cap > max / 2 ? max : cap * 2;
    int64_t half = cap / 2;
    return half + (int64_t)(rnd % (uint64_t)(cap - half + 1));
}

int
lt_retry_retryable(int err)
{
    switch (err) {
    case LT_E_SOCKET:
    case LT_E_CONNECT:
    case LT_E_TIMEOUT:
    case LT_E_HTTP_503:
    case LT_E_HTTP_OTHER:
    case LT_E_LOST:
    case LT_E_CLOSE_1001:
    case LT_E_CLOSE_OTHER:
        return 1;
    default:
        return 0;
    }
}

int
lt_retryq_init(lt_retryq *q, uint32_t cap)
{
    q->n = 0;
    q->cap = cap;
    q->e = calloc(cap ? cap : 1, sizeof(*q->e));
    return q->e ? 0 : -1;
}

void
lt_retryq_free(lt_retryq *q)
{
    free(q->e);
    q->e = NULL;
    q->n = q->cap = 0;
}

int
lt_retryq_push(lt_retryq *q, int64_t due, uint32_t id)
{
    if (q->n >= q->cap) return -1;
    uint32_t i = q->n++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (q->e[parent].due <= due) break;
        q->e[i] = q->e[parent];
        i = parent;
    }
    q->e[i].due = due;
    q->e[i].id = id;
    return 0;
}

int64_t
lt_retryq_peek(const lt_retryq *q)
{
    return q->n ? q->e[0].due : INT64_MAX;
}

int
lt_retryq_pop_due(lt_retryq *q, int64_t now, uint32_t *id)
{
    if (!q->n || q->e[0].due > now) return 0;
    *id = q->e[0].id;
    lt_retry_entry last = q->e[--q->n];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t md = last.due;
        if (l < q->n && q->e[l].due < md) { m = l; md = q->e[l].due; }
        if (r < q->n && q->e[r].due < md) m = r;
        if (m == i) break;
        q->e[i] = q->e[m];
        i = m;
    }
    if (q->n) q->e[i] = last;
    return 1;
}
