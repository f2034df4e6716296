/*
 * test_loadtest_retry.c — the reconnect policy: the backoff schedule
 * (exponential, equal jitter, capped), which connection endings are
 * retried, and the retry queue (earliest due first, bounded).
 */
#include "lt_retry.h"
#include "lt_stats.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t
rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * UINT64_C(2685821657736338717);
}

static void
test_backoff_schedule(void)
{
    lt_backoff b = { 100000, 5000000 }; /* 100 ms .. 5 s */
    /* The bounds of each attempt: cap_k = min(5 s, 100 ms * 2^k), delay in
     * [cap_k / 2, cap_k]. */
    const int64_t caps[] = { 100000, 200000, 400000, 800000, 1600000, 3200000, 5000000, 5000000, 5000000 };
    for (unsigned k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        int64_t lo = INT64_MAX, hi = 0;
        for (int i = 0; i < 20000; i++) {
            int64_t d = lt_backoff_delay(&b, k, rnd());
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        CHECK(lo >= caps[k] / 2);
        CHECK(hi <= caps[k]);
        /* Jitter really spreads: close to both ends of the interval. */
        CHECK(lo < caps[k] / 2 + caps[k] / 50);
        CHECK(hi > caps[k] - caps[k] / 50);
    }
    /* The extremes of the random number land exactly on the bounds. */
    CHECK_EQ_INT(lt_backoff_delay(&b, 0, 0), 50000);
    CHECK_EQ_INT(lt_backoff_delay(&b, 0, 50000), 100000);
    CHECK_EQ_INT(lt_backoff_delay(&b, 2, 0), 200000);
    /* Huge attempt numbers stay at the cap (no overflow). */
    CHECK_EQ_INT(lt_backoff_delay(&b, 1000, 0), 2500000);
    CHECK(lt_backoff_delay(&b, UINT32_MAX, UINT64_MAX) <= 5000000);
    /* The mean grows with the attempt until the cap. */
    double prev = 0;
    for (unsigned k = 0; k < 6; k++) {
        double sum = 0;
        for (int i = 0; i < 4000; i++) sum += (double)lt_backoff_delay(&b, k, rnd());
        CHECK(sum / 4000 > prev);
        prev = sum / 4000;
    }
    /* min == max: a constant cap; degenerate settings stay sane. */
    lt_backoff flat = { 1000, 1000 };
    for (unsigned k = 0; k < 10; k++) {
        int64_t d = lt_backoff_delay(&flat, k, rnd());
        CHECK(d >= 500 && d <= 1000);
    }
    lt_backoff odd = { 0, 0 };
    CHECK(lt_backoff_delay(&odd, 3, rnd()) <= 1);
    lt_backoff inverted = { 2000, 10 };
    int64_t d = lt_backoff_delay(&inverted, 5, rnd());
    CHECK(d >= 1000 && d <= 2000);
}

static void
test_retryable(void)
{
    /* A server restart or a load balancer: try again. */
    CHECK(lt_retry_retryable(LT_E_CLOSE_1001));
    CHECK(lt_retry_retryable(LT_E_LOST));
    CHECK(lt_retry_retryable(LT_E_CONNECT));
    CHECK(lt_retry_retryable(LT_E_TIMEOUT));
    CHECK(lt_retry_retryable(LT_E_HTTP_503));
    CHECK(lt_retry_retryable(LT_E_HTTP_OTHER));
    CHECK(lt_retry_retryable(LT_E_CLOSE_OTHER));
    CHECK(lt_retry_retryable(LT_E_SOCKET));
    /* The client is wrong, or was told off: stay down. */
    CHECK(!lt_retry_retryable(LT_E_HTTP_401));
    CHECK(!lt_retry_retryable(LT_E_HTTP_403));
    CHECK(!lt_retry_retryable(LT_E_BAD_HANDSHAKE));
    CHECK(!lt_retry_retryable(LT_E_PROTOCOL));
    CHECK(!lt_retry_retryable(LT_E_CLOSE_1008));
    CHECK(!lt_retry_retryable(LT_E_SNAPSHOT));
    CHECK(!lt_retry_retryable(LT_E_SERVER));
    CHECK(!lt_retry_retryable(LT_E_UNACKED));
    CHECK(!lt_retry_retryable(-1));
    CHECK(!lt_retry_retryable(LT_E_COUNT));
}

static void
test_queue(void)
{
    lt_retryq q;
    uint32_t id = 99;
    CHECK_EQ_INT(lt_retryq_init(&q, 1000), 0);
    CHECK(lt_retryq_peek(&q) == INT64_MAX);
    CHECK_EQ_INT(lt_retryq_pop_due(&q, INT64_MAX, &id), 0);
    CHECK_EQ_INT(id, 99);

    /* 1000 random due times come out in order, each id once. */
    int64_t due[1000];
    char seen[1000] = { 0 };
    for (uint32_t i = 0; i < 1000; i++) {
        due[i] = (int64_t)(rnd() % 100000);
        CHECK_EQ_INT(lt_retryq_push(&q, due[i], i), 0);
    }
    CHECK_EQ_INT(lt_retryq_push(&q, 5, 1000), -1); /* full */
    CHECK_EQ_INT(q.n, 1000);
    /* Nothing is due before the earliest entry. */
    int64_t first = lt_retryq_peek(&q);
    CHECK_EQ_INT(lt_retryq_pop_due(&q, first - 1, &id), 0);
    int64_t last = INT64_MIN;
    int popped = 0, ordered = 1, once = 1;
    /* Pop in two rounds: up to a cut-off, then the rest. */
    while (lt_retryq_pop_due(&q, 50000, &id)) {
        if (due[id] > 50000 || due[id] < last) ordered = 0;
        if (seen[id]++) once = 0;
        last = due[id];
        popped++;
    }
    CHECK(lt_retryq_peek(&q) > 50000);
    while (lt_retryq_pop_due(&q, INT64_MAX, &id)) {
        if (due[id] < last) ordered = 0;
        if (seen[id]++) once = 0;
        last = due[id];
        popped++;
    }
    CHECK(ordered);
    CHECK(once);
    CHECK_EQ_INT(popped, 1000);
    CHECK_EQ_INT(q.n, 0);

    /* Interleaved pushes and pops (clients failing again while others
     * come due): every pop is due, comes no earlier than the previous one
     * of the same round, and what stays is not due yet. */
    static int64_t due2[20000];
    int64_t now = 0;
    int bad = 0;
    uint32_t inq = 0;
    for (uint32_t round = 0; round < 20000; round++) {
        if (inq < 1000 && (rnd() % 3)) {
            due2[round] = now + (int64_t)(rnd() % 5000);
            CHECK_EQ_INT(lt_retryq_push(&q, due2[round], round), 0);
            inq++;
            continue;
        }
        now += 100;
        int64_t prev = INT64_MIN;
        while (lt_retryq_pop_due(&q, now, &id)) {
            if (due2[id] > now || due2[id] < prev) bad++;
            prev = due2[id];
            inq--;
        }
        if (lt_retryq_peek(&q) <= now) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(q.n, inq);
    lt_retryq_free(&q);
    CHECK(q.e == NULL);

    /* A zero-capacity queue refuses every push. */
    CHECK_EQ_INT(lt_retryq_init(&q, 0), 0);
    CHECK_EQ_INT(lt_retryq_push(&q, 1, 1), -1);
    lt_retryq_free(&q);
}

int
main(void)
{
    test_backoff_schedule();
    test_retryable();
    test_queue();
    TEST_MAIN_END();
}
