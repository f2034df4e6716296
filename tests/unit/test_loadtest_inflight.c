/*
 * test_loadtest_inflight.c — in-flight publish bookkeeping across a lost
 * connection: acks complete each id once, a loss forgets ephemeral
 * publishes and keeps durable ones for resending in send order (same ids,
 * so the same cids), acks after a resend are classified (new / already
 * stored / wrongly deduplicated), and the ring grows, and stops growing,
 * as documented.
 */
#include "lt_inflight.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

/* Collects the durable ids pending a resend, in order. */
static size_t
resend_list(const lt_inflight *f, uint64_t last, uint64_t *out, size_t max)
{
    size_t n = 0;
    uint64_t id = 0;
    while ((id = lt_inflight_next_durable(f, id, last)) != 0 && n < max) out[n++] = id;
    return n;
}

static void
test_complete_once(void)
{
    lt_inflight f;
    lt_inflight_slot s;
    CHECK_EQ_INT(lt_inflight_init(&f, 16), 0);
    for (uint64_t id = 1; id <= 10; id++) {
        CHECK_EQ_INT(lt_inflight_make_room(&f, id, 1024), 1);
        lt_inflight_add(&f, id, (int64_t)id * 1000, 1);
    }
    CHECK_EQ_INT(f.n, 10);
    CHECK_EQ_INT(lt_inflight_complete(&f, 4, &s), 1);
    CHECK_EQ_INT(s.id, 4);
    CHECK_EQ_INT(s.intended, 4000);
    CHECK_EQ_INT(s.durable, 1);
    CHECK_EQ_INT(s.resent, 0);
    /* A second answer for the same id, an unknown id, id 0: ignored. */
    CHECK_EQ_INT(lt_inflight_complete(&f, 4, &s), 0);
    CHECK_EQ_INT(lt_inflight_complete(&f, 11, NULL), 0);
    CHECK_EQ_INT(lt_inflight_complete(&f, 0, NULL), 0);
    /* An id that shares a slot with one in flight is not that one. */
    CHECK_EQ_INT(lt_inflight_complete(&f, 4 + 16, NULL), 0);
    CHECK(lt_inflight_get(&f, 5) != NULL);
    CHECK(lt_inflight_get(&f, 4) == NULL);
    CHECK(lt_inflight_get(&f, 0) == NULL);
    CHECK_EQ_INT(f.n, 9);
    CHECK_EQ_INT(lt_inflight_clear(&f), 9);
    CHECK_EQ_INT(f.n, 0);
    CHECK(lt_inflight_get(&f, 5) == NULL);
    lt_inflight_free(&f);
}

static void
test_lost_and_resend(void)
{
    lt_inflight f;
    lt_inflight_slot s;
    uint64_t ids[64];
    CHECK_EQ_INT(lt_inflight_init(&f, 16), 0);
    /* Whiteboard-like: every 4th publish durable, the rest ephemeral. */
    for (uint64_t id = 1; id <= 12; id++) {
        CHECK_EQ_INT(lt_inflight_make_room(&f, id, 1024), 1);
        lt_inflight_add(&f, id, (int64_t)id, id % 4 == 0);
    }
    /* Some answers arrive before the loss. */
    CHECK_EQ_INT(lt_inflight_complete(&f, 1, NULL), 1);
    CHECK_EQ_INT(lt_inflight_complete(&f, 4, NULL), 1);
    CHECK_EQ_INT(f.n, 10);
    /* Before any loss nothing is marked for resending, but the durable
     * ones are listed in order. */
    CHECK_EQ_INT(resend_list(&f, 12, ids, 64), 2);
    CHECK_EQ_INT(ids[0], 8);
    CHECK_EQ_INT(ids[1], 12);

    /* Connection lost: the 8 ephemeral ones are forgotten, 8 and 12 stay. */
    CHECK_EQ_INT(lt_inflight_lost(&f), 8);
    CHECK_EQ_INT(f.n, 2);
    CHECK(lt_inflight_get(&f, 2) == NULL);
    CHECK(lt_inflight_get(&f, 8)->resent);
    CHECK(lt_inflight_get(&f, 12)->resent);
    CHECK_EQ_INT(lt_inflight_get(&f, 12)->intended, 12); /* latency still from the first intent */
    CHECK_EQ_INT(resend_list(&f, 12, ids, 64), 2);
    CHECK_EQ_INT(ids[0], 8);
    CHECK_EQ_INT(ids[1], 12);

    /* After the rejoin: 8's first send had been stored (the ack was lost):
     * the gateway answers the same cid with duplicate:true. 12 had not:
     * a fresh ack. Each completes exactly once. */
    CHECK_EQ_INT(lt_inflight_complete(&f, 8, &s), 1);
    CHECK_EQ_INT(lt_inflight_ack_kind(&s, 1), LT_ACK_DEDUP);
    CHECK_EQ_INT(lt_inflight_complete(&f, 12, &s), 1);
    CHECK_EQ_INT(lt_inflight_ack_kind(&s, 0), LT_ACK_NEW);
    CHECK_EQ_INT(f.n, 0);
    CHECK_EQ_INT(resend_list(&f, 12, ids, 64), 0);

    /* New publishes after the rejoin start unmarked: a duplicate:true for
     * a cid sent once is the server's mistake. */
    CHECK_EQ_INT(lt_inflight_make_room(&f, 13, 1024), 1);
    lt_inflight_add(&f, 13, 13, 1);
    CHECK_EQ_INT(lt_inflight_complete(&f, 13, &s), 1);
    CHECK_EQ_INT(lt_inflight_ack_kind(&s, 1), LT_ACK_WRONG_DUP);
    CHECK_EQ_INT(lt_inflight_ack_kind(&s, 0), LT_ACK_NEW);

    /* Two losses in a row (the first rejoin failed): still one slot each. */
    CHECK_EQ_INT(lt_inflight_make_room(&f, 14, 1024), 1);
    lt_inflight_add(&f, 14, 14, 1);
    CHECK_EQ_INT(lt_inflight_lost(&f), 0);
    CHECK_EQ_INT(lt_inflight_lost(&f), 0);
    CHECK_EQ_INT(f.n, 1);
    CHECK_EQ_INT(resend_list(&f, 14, ids, 64), 1);
    lt_inflight_free(&f);
}

static void
test_growth_and_order(void)
{
    lt_inflight f;
    uint64_t ids[4096];
    CHECK_EQ_INT(lt_inflight_init(&f, 16), 0);
    /* 1000 durable publishes in flight: the ring grows to hold them all. */
    for (uint64_t id = 1; id <= 1000; id++) {
        CHECK_EQ_INT(lt_inflight_make_room(&f, id, 65536), 1);
        lt_inflight_add(&f, id, (int64_t)id, 1);
    }
    CHECK_EQ_INT(f.mask + 1, 1024);
    /* Answers for a scattered half, then the loss. */
    for (uint64_t id = 1; id <= 1000; id += 2) CHECK_EQ_INT(lt_inflight_complete(&f, id, NULL), 1);
    CHECK_EQ_INT(lt_inflight_lost(&f), 0);
    size_t n = resend_list(&f, 1000, ids, 4096);
    CHECK_EQ_INT(n, 500);
    int ordered = 1;
    for (size_t i = 0; i < n; i++)
        if (ids[i] != 2 * (i + 1)) ordered = 0;
    CHECK(ordered);
    /* The walk starts no lower than one ring below the last id. */
    CHECK_EQ_INT(lt_inflight_next_durable(&f, 0, 1000), 2);
    CHECK_EQ_INT(lt_inflight_next_durable(&f, 998, 1000), 1000);
    CHECK_EQ_INT(lt_inflight_next_durable(&f, 1000, 1000), 0);
    lt_inflight_free(&f);

    /* At the limit the publisher must wait; an answer frees the slot. */
    CHECK_EQ_INT(lt_inflight_init(&f, 4), 0);
    for (uint64_t id = 1; id <= 8; id++) {
        CHECK_EQ_INT(lt_inflight_make_room(&f, id, 8), 1);
        lt_inflight_add(&f, id, 0, 1);
    }
    CHECK_EQ_INT(lt_inflight_make_room(&f, 9, 8), 0);
    CHECK_EQ_INT(lt_inflight_complete(&f, 1, NULL), 1);
    CHECK_EQ_INT(lt_inflight_make_room(&f, 9, 8), 1);
    lt_inflight_add(&f, 9, 0, 1);
    /* Ids 2..9 in flight within the last 8: listed in order. */
    CHECK_EQ_INT(resend_list(&f, 9, ids, 64), 8);
    CHECK_EQ_INT(ids[0], 2);
    CHECK_EQ_INT(ids[7], 9);
    lt_inflight_free(&f);

    /* A size that is not a power of two falls back to 16. */
    CHECK_EQ_INT(lt_inflight_init(&f, 12), 0);
    CHECK_EQ_INT(f.mask, 15);
    lt_inflight_free(&f);
}

int
main(void)
{
    test_complete_once();
    test_lost_and_resend();
    test_growth_and_order();
    TEST_MAIN_END();
}
