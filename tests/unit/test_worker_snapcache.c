/*
 * test_worker_snapcache.c — the API's room state cache (worker/core_snapcache.c)
 * without a database: hits by (epoch, seq), builds that borrow the cached
 * state or text, failed builds, new epochs, one build per room with the
 * others waiting, waiters answered BYPASS when the build stores nothing,
 * the memory budget (states go before entries, a state too big for half
 * the budget is not kept), the room limit, and blobs that outlive their
 * entry (run under ASan).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_snapcache.h"
#include "json_out.h"
#include "test.h"

static wk_blob *blob_of(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    memcpy(d, s, n + 1);
    return wk_blob_wrap(d, n);
}

static json_t *state_at(long long seq) { return json_pack("{s:I}", "seq", (json_int_t)seq); }

/* Whether the cache's metrics hold line. */
static int metrics_have(wk_snapcache *c, const char *line)
{
    ch_buf m;
    ch_buf_init(&m);
    wk_snapcache_metrics(c, &m);
    int found = m.data && strstr(m.data, line) != NULL;
    ch_buf_free(&m);
    return found;
}

static void test_disabled(void)
{
    wk_snapc_lease l;
    CHECK(wk_snapcache_new(0) == NULL);
    CHECK_EQ_INT(wk_snapcache_get(NULL, "chat.1.1", 1, 1, &l), WK_SNAPC_BYPASS);
    CHECK(l.bytes == NULL && l.state == NULL);
    wk_snapcache_put(NULL, &l, 1, 1, state_at(1), 10, blob_of("{}"));   /* frees both */
}

static void test_hit_build_put(void)
{
    wk_snapcache *c = wk_snapcache_new(1 << 20);
    wk_snapc_lease l, l2;

    /* Nothing yet: build from scratch. */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 5, &l), WK_SNAPC_BUILD);
    CHECK(l.bytes == NULL && l.state == NULL && l.ent != NULL);
    wk_snapcache_put(c, &l, 100, 5, state_at(5), 64, blob_of("{\"seq\":5}"));

    /* Same or older seq: the same bytes. */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 5, &l), WK_SNAPC_HIT);
    CHECK_EQ_STR(l.bytes->data, "{\"seq\":5}");
    CHECK_EQ_INT(l.seq, 5);
    wk_blob_unref(l.bytes);
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 3, &l), WK_SNAPC_HIT);
    CHECK_EQ_INT(l.seq, 5);
    wk_blob_unref(l.bytes);
    /* Another room, another epoch: not this entry. */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.2", 100, 5, &l2), WK_SNAPC_BUILD);
    wk_snapcache_put(c, &l2, 0, 0, NULL, 0, NULL);     /* failed: the new entry goes */

    /* The room moved on: the builder gets the state and the older text. */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 7, &l), WK_SNAPC_BUILD);
    CHECK(l.state != NULL && l.bytes != NULL);
    CHECK_EQ_INT(l.seq, 5);
    CHECK_EQ_INT(l.state_heap, 64);
    CHECK_EQ_INT(json_integer_value(json_object_get(l.state, "seq")), 5);
    /* Meanwhile a request that saw seq 5 is served the old bytes... */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 5, &l2), WK_SNAPC_HIT);
    CHECK_EQ_STR(l2.bytes->data, "{\"seq\":5}");
    wk_blob_unref(l2.bytes);
    json_object_set_new(l.state, "seq", json_integer(7));
    wk_blob_unref(l.bytes);
    wk_snapcache_put(c, &l, 100, 7, l.state, 64, blob_of("{\"seq\":7}"));
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 7, &l), WK_SNAPC_HIT);
    CHECK_EQ_STR(l.bytes->data, "{\"seq\":7}");
    wk_blob *held = l.bytes;

    /* A failed build keeps the old text (its state was lent and is gone). */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 9, &l), WK_SNAPC_BUILD);
    CHECK(l.state != NULL);
    wk_blob_unref(l.bytes);
    wk_snapcache_put(c, &l, 0, 0, l.state, 0, NULL);
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 7, &l), WK_SNAPC_HIT);
    wk_blob_unref(l.bytes);
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 9, &l), WK_SNAPC_BUILD);
    CHECK(l.state == NULL && l.bytes != NULL);     /* text only now */
    wk_blob_unref(l.bytes);
    wk_snapcache_put(c, &l, 100, 9, NULL, 0, blob_of("{\"seq\":9}"));

    /* A new epoch: nothing to start from, and the old epoch's text is gone
     * once the build succeeds. */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 200, 0, &l), WK_SNAPC_BUILD);
    CHECK(l.state == NULL && l.bytes == NULL);
    wk_snapcache_put(c, &l, 200, 0, state_at(0), 32, blob_of("{\"seq\":0}"));
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 100, 9, &l), WK_SNAPC_BUILD);
    CHECK(l.bytes == NULL);
    wk_snapcache_put(c, &l, 0, 0, NULL, 0, NULL);
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.1", 200, 0, &l), WK_SNAPC_HIT);
    wk_blob_unref(l.bytes);

    /* A blob handed out earlier outlives the entry's replacement. */
    CHECK_EQ_STR(held->data, "{\"seq\":7}");
    wk_blob_unref(held);

    CHECK(metrics_have(c, "chorus_api_snapshot_cache_requests_total{outcome=\"hit\"} 6\n"));
    CHECK(metrics_have(c, "chorus_api_snapshot_cache_rooms 1\n"));
    wk_snapcache_free(c);
}

/* A text of n bytes. */
static wk_blob *blob_n(size_t n)
{
    char *d = malloc(n + 1);
    memset(d, 'x', n);
    d[n] = '\0';
    return wk_blob_wrap(d, n);
}

static size_t cache_bytes(wk_snapcache *c)
{
    ch_buf m;
    size_t v = 0;
    ch_buf_init(&m);
    wk_snapcache_metrics(c, &m);
    const char *p = strstr(m.data, "\nchorus_api_snapshot_cache_bytes ");
    if (p) v = (size_t)strtoull(p + strlen("\nchorus_api_snapshot_cache_bytes "), NULL, 10);
    ch_buf_free(&m);
    return v;
}

static void test_budget(void)
{
    const size_t budget = 100000;
    wk_snapcache *c = wk_snapcache_new(budget);
    wk_snapc_lease l;
    char room[32];

    /* Ten rooms of 5,000 bytes with states of 3,000: 80,000 in all. */
    for (int i = 0; i < 10; i++) {
        snprintf(room, sizeof(room), "chat.1.%d", i);
        CHECK_EQ_INT(wk_snapcache_get(c, room, 1, 1, &l), WK_SNAPC_BUILD);
        wk_snapcache_put(c, &l, 1, 1, state_at(1), 3000, blob_n(5000));
    }
    CHECK(cache_bytes(c) <= budget);
    CHECK(cache_bytes(c) >= 80000);
    /* Room 0 used again: most recent. */
    CHECK_EQ_INT(wk_snapcache_get(c, "chat.1.0", 1, 1, &l), WK_SNAPC_HIT);
    wk_blob_unref(l.bytes);

    /* One more of 30,000: over budget; the least recently used rooms give
     * their states back first, and nobody's text goes. */
    CHECK_EQ_INT(wk_snapcache_get(c, "board.1.1", 1, 1, &l), WK_SNAPC_BUILD);
    wk_snapcache_put(c, &l, 1, 1, state_at(1), 10000, blob_n(20000));
    CHECK(cache_bytes(c) <= budget);
    for (int i = 0; i < 10; i++) {
        snprintf(room, sizeof(room), "chat.1.%d", i);
        CHECK_EQ_INT(wk_snapcache_get(c, room, 1, 2, &l), WK_SNAPC_BUILD);
        CHECK(l.bytes != NULL);                         /* text still there */
        if (i == 0) CHECK(l.state != NULL);             /* recently used: state kept */
        if (i == 1) CHECK(l.state == NULL);             /* least recently used: given back */
        wk_blob_unref(l.bytes);
        wk_snapcache_put(c, &l, 1, 2, l.state, l.state ? 3000 : 0, blob_n(5000));
    }
    CHECK(cache_bytes(c) <= budget);

    /* A state bigger than half the budget is not kept, its text is. */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.9", 1, 1, &l), WK_SNAPC_BUILD);
    wk_snapcache_put(c, &l, 1, 1, state_at(1), budget / 2, blob_n(10000));
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.9", 1, 2, &l), WK_SNAPC_BUILD);
    CHECK(l.state == NULL && l.bytes != NULL);
    wk_blob_unref(l.bytes);
    wk_snapcache_put(c, &l, 0, 0, NULL, 0, NULL);

    /* A text bigger than the whole budget is served but not kept. */
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.8", 1, 1, &l), WK_SNAPC_BUILD);
    wk_blob *big = blob_n(budget + 1);
    wk_snapcache_put(c, &l, 1, 1, NULL, 0, wk_blob_ref(big));
    CHECK(cache_bytes(c) <= budget);
    CHECK_EQ_INT(big->data[budget], 'x');
    wk_blob_unref(big);
    CHECK_EQ_INT(wk_snapcache_get(c, "whiteboard.1.8", 1, 1, &l), WK_SNAPC_BUILD);
    wk_snapcache_put(c, &l, 0, 0, NULL, 0, NULL);
    wk_snapcache_free(c);

    /* The room limit. */
    c = wk_snapcache_new((size_t)1 << 40);
    for (int i = 0; i < WK_SNAPC_MAX_ENTRIES + 50; i++) {
        snprintf(room, sizeof(room), "chat.2.%d", i);
        CHECK_EQ_INT(wk_snapcache_get(c, room, 1, 1, &l), WK_SNAPC_BUILD);
        wk_snapcache_put(c, &l, 1, 1, NULL, 0, blob_n(2));
    }
    char want[64];
    snprintf(want, sizeof(want), "chorus_api_snapshot_cache_rooms %d\n", WK_SNAPC_MAX_ENTRIES);
    CHECK(metrics_have(c, want));
    CHECK(metrics_have(c, "chorus_api_snapshot_cache_evictions_total 50\n"));
    CHECK_EQ_INT(wk_snapcache_get(c, "chat.2.0", 1, 1, &l), WK_SNAPC_BUILD);   /* the oldest went */
    wk_snapcache_put(c, &l, 0, 0, NULL, 0, NULL);
    wk_snapcache_free(c);
}

/* --- one build per room ------------------------------------------------------ */

typedef struct {
    wk_snapcache *c;
    long long want_seq;
    int mode;
    long long got_seq;
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    wk_snapc_lease l;
    w->mode = wk_snapcache_get(w->c, "board.1.1", 1, w->want_seq, &l);
    w->got_seq = l.seq;
    if (w->mode == WK_SNAPC_HIT) wk_blob_unref(l.bytes);
    else if (w->mode == WK_SNAPC_BUILD) {
        wk_blob_unref(l.bytes);
        wk_snapcache_put(w->c, &l, 1, w->want_seq, l.state, 1, blob_of("{}"));
    }
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Starts n threads asking for board.1.1 at seqs[i] and checks that all of
 * them wait for the build the caller holds. */
static void waiters_start(wk_snapcache *c, waiter *w, pthread_t *t, int n, const long long *seqs)
{
    for (int i = 0; i < n; i++) {
        w[i] = (waiter){ .c = c, .want_seq = seqs[i], .mode = -1 };
        pthread_create(&t[i], NULL, wait_thread, &w[i]);
    }
    sleep_ms(100);
    for (int i = 0; i < n; i++) CHECK_EQ_INT(w[i].mode, -1);   /* all waiting for the build */
}

static void test_single_build(void)
{
    wk_snapcache *c = wk_snapcache_new(1 << 20);
    wk_snapc_lease l;
    pthread_t t[4];
    waiter w[4];

    CHECK_EQ_INT(wk_snapcache_get(c, "board.1.1", 1, 10, &l), WK_SNAPC_BUILD);
    waiters_start(c, w, t, 4, (const long long[]){ 10, 10, 10, 11 });
    wk_snapcache_put(c, &l, 1, 10, state_at(10), 32, blob_of("{\"seq\":10}"));
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(w[i].mode, WK_SNAPC_HIT);
        CHECK(w[i].got_seq == 10 || w[i].got_seq == 11);
    }
    /* The one that saw seq 11 built it (starting from seq 10). */
    CHECK_EQ_INT(w[3].mode, WK_SNAPC_BUILD);
    CHECK_EQ_INT(w[3].got_seq, 10);
    CHECK_EQ_INT(wk_snapcache_get(c, "board.1.1", 1, 11, &l), WK_SNAPC_HIT);
    wk_blob_unref(l.bytes);
    wk_snapcache_free(c);
}

/* Waiters on a build that stores nothing (too big to keep, or failed) are
 * answered BYPASS together: none of them becomes the next builder in turn. */
static void test_unstored_build(void)
{
    const size_t budget = 10000;
    wk_snapcache *c = wk_snapcache_new(budget);
    wk_snapc_lease l;
    pthread_t t[4];
    waiter w[4];

    /* Too big for the budget. */
    CHECK_EQ_INT(wk_snapcache_get(c, "board.1.1", 1, 10, &l), WK_SNAPC_BUILD);
    waiters_start(c, w, t, 4, (const long long[]){ 10, 10, 9, 9 });
    wk_snapcache_put(c, &l, 1, 10, state_at(10), 32, blob_n(budget + 1));
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(w[i].mode, WK_SNAPC_BYPASS);
    }
    /* A later request tries the cache again. */
    CHECK_EQ_INT(wk_snapcache_get(c, "board.1.1", 1, 10, &l), WK_SNAPC_BUILD);
    wk_snapcache_put(c, &l, 1, 10, NULL, 0, blob_of("{\"seq\":10}"));

    /* A failed build that keeps older bytes: the waiters that need newer
     * ones bypass too. */
    CHECK_EQ_INT(wk_snapcache_get(c, "board.1.1", 1, 12, &l), WK_SNAPC_BUILD);
    waiters_start(c, w, t, 3, (const long long[]){ 12, 12, 12 });
    wk_blob_unref(l.bytes);
    wk_snapcache_put(c, &l, 0, 0, l.state, 0, NULL);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(w[i].mode, WK_SNAPC_BYPASS);
    }
    CHECK_EQ_INT(wk_snapcache_get(c, "board.1.1", 1, 10, &l), WK_SNAPC_HIT);
    wk_blob_unref(l.bytes);

    CHECK(metrics_have(c, "chorus_api_snapshot_cache_requests_total{outcome=\"build\"} 3\n"));
    CHECK(metrics_have(c, "chorus_api_snapshot_cache_requests_total{outcome=\"bypass\"} 7\n"));
    wk_snapcache_free(c);
}

int main(void)
{
    test_disabled();
    test_hit_build_put();
    test_budget();
    test_single_build();
    test_unstored_build();
    TEST_MAIN_END();
}
