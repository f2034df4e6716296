/*
 * test_loadtest_rate.c — the open-loop rate controller: intended times are
 * evenly spaced from the start, do not drift over a long run, and keep
 * their places after a stall (every overdue send comes due at once with
 * its original time).
 */
#include "lt_rate.h"
#include "test.h"

#include <stdint.h>

#define S 1700000000000000LL /* a start time in µs */

static void
test_spacing_no_drift(void)
{
    lt_rate r;
    lt_rate_init(&r, S, INT64_MAX, 1000.0, 0.0);
    CHECK_EQ_INT(lt_rate_intended(&r, 0), S);
    CHECK_EQ_INT(lt_rate_intended(&r, 1), S + 1000);
    CHECK_EQ_INT(lt_rate_intended(&r, 1000000), S + 1000000000LL);
    CHECK_EQ_INT(lt_rate_intended(&r, 86400000ULL), S + 86400000000LL);

    /* A period that is not a whole number of µs: never more than 1 µs off
     * the ideal time, and exactly on it every 3 sends. */
    lt_rate_init(&r, S, INT64_MAX, 3.0, 0.0);
    int off = 0;
    for (uint64_t k = 0; k < 3000000; k += 997) {
        double ideal = (double)S + (double)k * 1e6 / 3.0;
        double d = (double)lt_rate_intended(&r, k) - ideal;
        if (d > 1.0 || d < -1.0) off++;
    }
    CHECK_EQ_INT(off, 0);
    CHECK_EQ_INT(lt_rate_intended(&r, 3000), S + 1000000000LL);
    CHECK_EQ_INT(lt_rate_intended(&r, 3000000), S + 1000000000000LL);

    /* Consecutive gaps stay within 1 µs of the period. */
    lt_rate_init(&r, S, INT64_MAX, 7000.0, 0.0);
    int bad = 0;
    for (uint64_t k = 1; k < 100000; k++) {
        int64_t gap = lt_rate_intended(&r, k) - lt_rate_intended(&r, k - 1);
        if (gap < 142 || gap > 143) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static void
test_take_on_time(void)
{
    lt_rate r;
    int64_t t;
    lt_rate_init(&r, S, INT64_MAX, 500.0, 0.0);
    CHECK_EQ_INT(lt_rate_take(&r, S - 1, &t), 0);
    CHECK_EQ_INT(lt_rate_peek(&r), S);
    /* A sender woken exactly on time sends once per period. */
    int wrong = 0;
    for (int k = 0; k < 10000; k++) {
        int64_t now = S + (int64_t)k * 2000;
        if (lt_rate_take(&r, now, &t) != 1 || t != now) wrong++;
        if (lt_rate_take(&r, now, &t) != 0) wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(r.next, 10000);
    /* Waking late by a fraction of a period does not move the schedule. */
    lt_rate_init(&r, S, INT64_MAX, 500.0, 0.0);
    wrong = 0;
    for (int k = 0; k < 1000; k++) {
        int64_t now = S + (int64_t)k * 2000 + 1500;
        if (lt_rate_take(&r, now, &t) != 1 || t != S + (int64_t)k * 2000) wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
}

static void
test_stall_catch_up(void)
{
    lt_rate r;
    int64_t t;
    lt_rate_init(&r, S, INT64_MAX, 1000.0, 0.0);
    CHECK_EQ_INT(lt_rate_take(&r, S, &t), 1);
    CHECK_EQ_INT(t, S);
    /* The loop was blocked for 50.5 ms: sends 1..50 are all due now, each
     * with its own intended time; none is skipped or re-timed. */
    int64_t now = S + 50500;
    CHECK_EQ_INT(lt_rate_backlog(&r, now), 50);
    int n = 0, wrong = 0;
    while (lt_rate_take(&r, now, &t)) {
        n++;
        if (t != S + (int64_t)n * 1000) wrong++;
    }
    CHECK_EQ_INT(n, 50);
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(lt_rate_backlog(&r, now), 0);
    /* Then it is back on the original grid. */
    CHECK_EQ_INT(lt_rate_peek(&r), S + 51000);
    CHECK_EQ_INT(lt_rate_take(&r, S + 50999, &t), 0);
    CHECK_EQ_INT(lt_rate_take(&r, S + 51000, &t), 1);
    CHECK_EQ_INT(t, S + 51000);
    /* Later, 101 sends (0..100) are due and 52 were taken; a partial
     * catch-up (the sender could only send 3) keeps the order. */
    now = S + 100000;
    CHECK_EQ_INT(lt_rate_backlog(&r, now), 49);
    for (int i = 0; i < 3; i++) lt_rate_take(&r, now, &t);
    CHECK_EQ_INT(t, S + 54000);
    CHECK_EQ_INT(lt_rate_backlog(&r, now), 46);
}

static void
test_phase_end_unpaced(void)
{
    lt_rate r;
    int64_t t;
    /* Four publishers at 100/s each with phases i/4 interleave every 2.5 ms. */
    for (int i = 0; i < 4; i++) {
        lt_rate_init(&r, S, INT64_MAX, 100.0, i / 4.0);
        CHECK_EQ_INT(lt_rate_intended(&r, 0), S + i * 2500);
        CHECK_EQ_INT(lt_rate_intended(&r, 10), S + i * 2500 + 100000);
    }
    /* Nothing is intended at or after the end. */
    lt_rate_init(&r, S, S + 10000, 1000.0, 0.0);
    int n = 0;
    while (lt_rate_take(&r, S + 1000000, &t)) n++;
    CHECK_EQ_INT(n, 10);
    CHECK(lt_rate_peek(&r) == INT64_MAX);
    CHECK_EQ_INT(lt_rate_backlog(&r, S + 1000000), 0);
    /* Unpaced: always due, intended = now. */
    lt_rate_init(&r, S, S + 10, 0.0, 0.0);
    CHECK_EQ_INT(lt_rate_take(&r, S + 3, &t), 1);
    CHECK_EQ_INT(t, S + 3);
    CHECK_EQ_INT(lt_rate_take(&r, S + 5, &t), 1);
    CHECK_EQ_INT(t, S + 5);
    CHECK_EQ_INT(lt_rate_backlog(&r, S + 5), 0);
}

int
main(void)
{
    test_spacing_no_drift();
    test_take_on_time();
    test_stall_catch_up();
    test_phase_end_unpaced();
    TEST_MAIN_END();
}
