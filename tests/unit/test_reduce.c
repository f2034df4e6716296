/*
 * test_reduce.c — the room reducers against the shared vectors in
 * tests/vectors (the same files the browser's reducers must pass), plus
 * what the vectors cannot hold: the API edges (room ids, unknown kinds, the
 * envelope), board position keys, the 5000-card and 10,000-object limits,
 * and out-of-memory paths.
 *
 * Each vector is checked twice: the full replay must equal the expected
 * state, and so must snapshot splits (events 1..k folded, serialized,
 * loaded, then events k+1..n; every k for short cases, ~40 for long ones).
 *
 * The vectors are found from this source file's path (__FILE__), or in
 * $CHORUS_VECTORS_DIR when set.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "reduce.h"
#include "test.h"

static char vectors_dir[4096];

static void locate_vectors(void)
{
    const char *env = getenv("CHORUS_VECTORS_DIR");
    const char *self = __FILE__;
    const char *suffix = "tests/unit/test_reduce.c";
    size_t n = strlen(self), sn = strlen(suffix);

    if (env && *env) {
        snprintf(vectors_dir, sizeof vectors_dir, "%s", env);
        return;
    }
    if (n >= sn && strcmp(self + n - sn, suffix) == 0)
        snprintf(vectors_dir, sizeof vectors_dir, "%.*stests/vectors", (int)(n - sn), self);
    else
        snprintf(vectors_dir, sizeof vectors_dir, "tests/vectors");
}

/* As the worker serializes states (common/json_out.h). */
static char *dump(const json_t *v)
{
    return ch_json_dumps(v, CH_JSON_SORT_KEYS, NULL);
}

/* Folds events[from..to) into state; returns 0, or -1 on WK_ERROR. */
static int fold(const char *kind, json_t *state, const json_t *events, size_t from, size_t to)
{
    size_t i;

    for (i = from; i < to; i++)
        if (wk_reduce(kind, state, json_array_get(events, i)) == WK_ERROR)
            return -1;
    return 0;
}

/* Serializes and reloads a state, as a snapshot would be. */
static json_t *roundtrip(const json_t *state)
{
    char *s = dump(state);
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;

    free(s);
    return v;
}

static int cases_checked;

static void report_mismatch(const char *file, const char *name, const char *what,
                            const json_t *got, const json_t *want)
{
    char *g = dump(got), *w = dump(want);

    fprintf(stderr, "%s: case \"%s\" (%s):\n  got  %s\n  want %s\n", file, name, what,
            g ? g : "(null)", w ? w : "(null)");
    free(g);
    free(w);
}

static void check_case(const char *file, const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *kind = json_string_value(json_object_get(c, "room_kind"));
    const json_t *events = json_object_get(c, "events");
    const json_t *want = json_object_get(c, "state");
    json_t *state;
    size_t k, n = json_array_size(events);
    int ok;

    CHECK(name != NULL);
    CHECK(kind != NULL);
    CHECK(json_is_array(events));
    CHECK(json_is_object(want));
    if (!name || !kind || !json_is_array(events) || !want)
        return;
    cases_checked++;

    state = wk_state_new(kind);
    CHECK(state != NULL);
    if (!state)
        return;
    CHECK_EQ_INT(fold(kind, state, events, 0, n), 0);
    ok = json_equal(state, want);
    CHECK(ok);
    if (!ok)
        report_mismatch(file, name, "full replay", state, want);
    json_decref(state);

    /* every snapshot split gives the same state (about 40 evenly spaced
     * splits for long cases) */
    for (k = 0; k <= n; k += n > 40 ? n / 40 : 1) {
        json_t *prefix = wk_state_new(kind), *snap;

        fold(kind, prefix, events, 0, k);
        snap = roundtrip(prefix);
        json_decref(prefix);
        CHECK(snap != NULL);
        if (!snap)
            continue;
        CHECK_EQ_INT(fold(kind, snap, events, k, n), 0);
        ok = json_equal(snap, want);
        CHECK(ok);
        if (!ok) {
            char what[64];

            snprintf(what, sizeof what, "snapshot after %zu events", k);
            report_mismatch(file, name, what, snap, want);
        }
        json_decref(snap);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_vectors(void)
{
    DIR *d = opendir(vectors_dir);
    struct dirent *de;
    char *names[256];
    size_t nfiles = 0, i;
    int kinds_seen[3] = { 0, 0, 0 };

    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", vectors_dir);
        return;
    }
    while ((de = readdir(d)) != NULL && nfiles < 256) {
        size_t len = strlen(de->d_name);

        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
            names[nfiles++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, nfiles, sizeof names[0], cmp_str);
    CHECK(nfiles >= 3);

    for (i = 0; i < nfiles; i++) {
        char path[4400];
        json_error_t err;
        json_t *cases;
        size_t j;

        snprintf(path, sizeof path, "%s/%s", vectors_dir, names[i]);
        cases = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
        CHECK(json_is_array(cases));
        if (!cases) {
            fprintf(stderr, "%s:%d: %s\n", path, err.line, err.text);
        } else {
            for (j = 0; j < json_array_size(cases); j++) {
                const json_t *c = json_array_get(cases, j);
                const char *kind = json_string_value(json_object_get(c, "room_kind"));

                if (kind && strcmp(kind, "chat") == 0)
                    kinds_seen[0]++;
                else if (kind && strcmp(kind, "board") == 0)
                    kinds_seen[1]++;
                else if (kind && strcmp(kind, "whiteboard") == 0)
                    kinds_seen[2]++;
                check_case(names[i], c);
            }
        }
        json_decref(cases);
        free(names[i]);
    }
    CHECK(kinds_seen[0] > 0 && kinds_seen[1] > 0 && kinds_seen[2] > 0);
    printf("vectors: %zu files, %d cases (chat %d, board %d, whiteboard %d)\n", nfiles,
           cases_checked, kinds_seen[0], kinds_seen[1], kinds_seen[2]);
}

static void test_room_kind(void)
{
    CHECK_EQ_STR(wk_room_kind("chat.12.3"), "chat");
    CHECK_EQ_STR(wk_room_kind("whiteboard.12.4"), "whiteboard");
    CHECK_EQ_STR(wk_room_kind("board.12.5"), "board");
    CHECK_EQ_STR(wk_room_kind("board.0.0"), "board");
    CHECK_EQ_STR(wk_room_kind("chat.1234567890123456789.1"), "chat");
    CHECK(wk_room_kind(NULL) == NULL);
    CHECK(wk_room_kind("") == NULL);
    CHECK(wk_room_kind("chat") == NULL);
    CHECK(wk_room_kind("chat.") == NULL);
    CHECK(wk_room_kind("chat.12") == NULL);
    CHECK(wk_room_kind("chat.12.") == NULL);
    CHECK(wk_room_kind("chat..3") == NULL);
    CHECK(wk_room_kind("chat.12.3.4") == NULL);
    CHECK(wk_room_kind("chat.12.3x") == NULL);
    CHECK(wk_room_kind("chat.a.3") == NULL);
    CHECK(wk_room_kind("chat.-1.3") == NULL);
    CHECK(wk_room_kind("chat.12345678901234567890.1") == NULL);
    CHECK(wk_room_kind("Chat.12.3") == NULL);
    CHECK(wk_room_kind("chatty.12.3") == NULL);
    CHECK(wk_room_kind("cha.12.3") == NULL);
    CHECK(wk_room_kind("board:42") == NULL);
    CHECK(wk_room_kind(".12.3") == NULL);
    CHECK(wk_room_kind("kanban.1.2") == NULL);
}

static void test_api_edges(void)
{
    json_t *st, *ev;
    char *before, *after;

    CHECK(wk_state_new(NULL) == NULL);
    CHECK(wk_state_new("") == NULL);
    CHECK(wk_state_new("kanban") == NULL);
    CHECK(wk_replay("kanban", NULL) == NULL);

    st = wk_state_new("chat");
    ev = json_pack("{s:i, s:s, s:s, s:i, s:{s:s}}", "seq", 1, "author", "a", "kind",
                   "message.create", "ts", 5, "payload", "text", "hi");
    CHECK_EQ_INT(wk_reduce("kanban", st, ev), WK_ERROR);
    CHECK_EQ_INT(wk_reduce(NULL, st, ev), WK_ERROR);
    CHECK_EQ_INT(wk_reduce("chat", NULL, ev), WK_ERROR);
    CHECK_EQ_INT(wk_reduce("board", st, ev), WK_ERROR);    /* a chat state is not a board */
    CHECK_EQ_INT(wk_reduce("chat", st, NULL), WK_IGNORED);
    CHECK_EQ_INT(wk_reduce("chat", st, ev), WK_APPLIED);
    before = dump(st);
    CHECK_EQ_INT(wk_reduce("chat", st, ev), WK_IGNORED);  /* same seq again */
    after = dump(st);
    CHECK_EQ_STR(after, before);
    free(before);
    free(after);
    json_decref(ev);
    json_decref(st);

    /* a state without a usable seq cannot be reduced */
    st = json_pack("{s:s, s:[]}", "seq", "x", "messages");
    ev = json_pack("{s:i, s:s, s:s}", "seq", 1, "author", "a", "kind", "message.create");
    CHECK_EQ_INT(wk_reduce("chat", st, ev), WK_ERROR);
    json_decref(st);
    st = json_pack("{s:i, s:{}}", "seq", 0, "messages");
    CHECK_EQ_INT(wk_reduce("chat", st, ev), WK_ERROR);
    json_decref(st);
    json_decref(ev);

    /* every new state is already JSON-stable */
    {
        static const char *const kinds[] = { "chat", "board", "whiteboard" };
        size_t i;

        for (i = 0; i < 3; i++) {
            json_t *s1 = wk_state_new(kinds[i]), *s2 = roundtrip(s1);

            CHECK(s1 != NULL);
            CHECK(json_equal(s1, s2));
            CHECK_EQ_INT(json_integer_value(json_object_get(s1, "seq")), 0);
            json_decref(s1);
            json_decref(s2);
        }
    }
}

/* --- position keys --------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void test_position_valid(void)
{
    char long_key[WK_POSITION_MAX + 2];

    CHECK(wk_position_valid("a"));
    CHECK(wk_position_valid("V"));
    CHECK(wk_position_valid("0V"));
    CHECK(wk_position_valid("zz1"));
    CHECK(wk_position_valid("09AZaz1"));
    CHECK(!wk_position_valid(NULL));
    CHECK(!wk_position_valid(""));
    CHECK(!wk_position_valid("0"));
    CHECK(!wk_position_valid("a0"));
    CHECK(!wk_position_valid("a-"));
    CHECK(!wk_position_valid("a b"));
    CHECK(!wk_position_valid("\xc3\xa9"));
    memset(long_key, 'a', WK_POSITION_MAX);
    long_key[WK_POSITION_MAX] = '\0';
    CHECK(wk_position_valid(long_key));
    long_key[WK_POSITION_MAX] = 'a';
    long_key[WK_POSITION_MAX + 1] = '\0';
    CHECK(!wk_position_valid(long_key));
}

static void check_between(const char *lo, const char *hi, const char *want)
{
    char out[WK_POSITION_MAX + 1];
    int n = wk_position_between(lo, hi, out, sizeof out);

    CHECK(n > 0);
    if (n > 0)
        CHECK_EQ_STR(out, want);
}

static void test_position_between(void)
{
    char out[WK_POSITION_MAX + 1], keys[64][WK_POSITION_MAX + 1];
    char tiny[3];
    size_t nkeys, i, round;

    /* the documented examples */
    check_between(NULL, NULL, "V");
    check_between("a", NULL, "b");
    check_between("z", NULL, "z1");
    check_between("zz", NULL, "zz1");
    check_between("zy5", NULL, "zz");
    check_between(NULL, "b", "a");
    check_between(NULL, "1", "0z");
    check_between(NULL, "01", "00z");
    check_between(NULL, "1V", "1U");
    check_between("a", "c", "b");
    check_between("a", "b", "aV");
    check_between("a", "aV", "aU");
    check_between("aF", "aV", "aN");
    check_between("a", "a01", "a00z");
    check_between("a1", "b", "a2");
    check_between("az", "b", "az1");
    check_between("0V", "1", "0W");
    check_between("V", "k", "c");

    /* refusals */
    CHECK_EQ_INT(wk_position_between("b", "a", out, sizeof out), -1);
    CHECK_EQ_INT(wk_position_between("a", "a", out, sizeof out), -1);
    CHECK_EQ_INT(wk_position_between("a0", NULL, out, sizeof out), -1);
    CHECK_EQ_INT(wk_position_between(NULL, "", out, sizeof out), -1);
    CHECK_EQ_INT(wk_position_between("a", NULL, NULL, 0), -1);
    CHECK_EQ_INT(wk_position_between("a", NULL, tiny, 1), -1);
    CHECK_EQ_INT(wk_position_between("zz", NULL, tiny, sizeof tiny), -1);
    CHECK_EQ_INT(wk_position_between("zy", NULL, tiny, sizeof tiny), 2);
    {
        char zs[WK_POSITION_MAX + 1];

        memset(zs, 'z', WK_POSITION_MAX);
        zs[WK_POSITION_MAX] = '\0';
        CHECK_EQ_INT(wk_position_between(zs, NULL, out, sizeof out), -1);
    }

    /* random insertions into a list keep it strictly increasing */
    for (round = 0; round < 200; round++) {
        nkeys = 0;
        for (i = 0; i < 60; i++) {
            size_t at = nkeys ? (size_t)(rnd() % (nkeys + 1)) : 0;
            const char *lo = at > 0 ? keys[at - 1] : NULL;
            const char *hi = at < nkeys ? keys[at] : NULL;
            int n = wk_position_between(lo, hi, out, sizeof out);

            CHECK(n >= 0);
            if (n < 0)
                break;
            CHECK(wk_position_valid(out));
            CHECK(!lo || strcmp(lo, out) < 0);
            CHECK(!hi || strcmp(out, hi) < 0);
            memmove(keys[at + 1], keys[at], (nkeys - at) * sizeof keys[0]);
            memcpy(keys[at], out, (size_t)n + 1);
            nkeys++;
        }
    }

    /* appending and prepending grow keys by one character per ~60 keys */
    {
        char cur[WK_POSITION_MAX + 1];
        int n;

        strcpy(cur, "V");
        for (i = 0; i < 1000; i++) {
            n = wk_position_between(cur, NULL, out, sizeof out);
            CHECK(n > 0);
            if (n <= 0)
                break;
            CHECK(strcmp(cur, out) < 0);
            memcpy(cur, out, (size_t)n + 1);
        }
        CHECK(strlen(cur) <= 1000 / 61 + 2);
        strcpy(cur, "V");
        for (i = 0; i < 1000; i++) {
            n = wk_position_between(NULL, cur, out, sizeof out);
            CHECK(n > 0);
            if (n <= 0)
                break;
            CHECK(strcmp(out, cur) < 0);
            memcpy(cur, out, (size_t)n + 1);
        }
        CHECK(strlen(cur) <= 1000 / 61 + 3);
    }
}

/* --- limits too large for the shared vectors ---------------------------------- */

static json_t *wire(long long seq, const char *author, const char *kind, json_t *payload)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:o}", "room", "x.1.1",
                     "seq", (json_int_t)seq, "epoch", (json_int_t)1, "ts", (json_int_t)(seq * 1000),
                     "author", author, "session", "s", "kind", kind, "cid", "c", "payload", payload);
}

/* Applies one event built by wire(); returns wk_reduce's result. */
static int apply(const char *kind, json_t *state, json_t *ev)
{
    int rc = wk_reduce(kind, state, ev);

    json_decref(ev);
    return rc;
}

static void test_board_card_limit(void)
{
    json_t *st = wk_state_new("board");
    long long seq = 0;
    char id[32];
    int i, applied = 0;

    for (i = 0; i < 5001; i++) {
        snprintf(id, sizeof id, "k%d", i);
        applied += apply("board", st, wire(++seq, "alice", "card.create",
                                           json_pack("{s:s, s:s, s:s, s:s}", "id", id, "column",
                                                     "todo", "title", "t", "position", "a")))
                   == WK_APPLIED;
    }
    CHECK_EQ_INT(applied, 5000);
    CHECK_EQ_INT(json_object_size(json_object_get(st, "cards")), 5000);
    CHECK_EQ_INT(json_array_size(json_object_get(st, "activity")), WK_BOARD_ACTIVITY);
    /* room again after a delete */
    CHECK_EQ_INT(apply("board", st, wire(++seq, "bob", "card.delete", json_pack("{s:s}", "id", "k0"))),
                 WK_APPLIED);
    CHECK_EQ_INT(apply("board", st, wire(++seq, "bob", "card.create",
                                         json_pack("{s:s, s:s, s:s, s:s}", "id", "k5000", "column",
                                                   "done", "title", "t", "position", "a"))),
                 WK_APPLIED);
    /* deleting a column deletes its 4999 remaining cards */
    CHECK_EQ_INT(apply("board", st, wire(++seq, "bob", "column.delete", json_pack("{s:s}", "id", "todo"))),
                 WK_APPLIED);
    CHECK_EQ_INT(json_object_size(json_object_get(st, "cards")), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(st, "activity"),
                                                                  WK_BOARD_ACTIVITY - 1), "summary")),
                 "deleted column \"To Do\" and 4999 cards");
    json_decref(st);
}

static json_t *small_stroke(const char *id)
{
    return json_pack("{s:s, s:[[i,i]], s:s, s:i}", "id", id, "points", 0, 0, "color", "#000",
                     "size", 1);
}

static void test_whiteboard_object_limit(void)
{
    json_t *st = wk_state_new("whiteboard"), *objects;
    long long seq = 0;
    char id[32];
    int i, applied = 0;

    for (i = 0; i < 10001; i++) {
        snprintf(id, sizeof id, "s%d", i);
        applied += apply("whiteboard", st, wire(++seq, i % 2 ? "alice" : "bob", "stroke.add",
                                                small_stroke(id))) == WK_APPLIED;
    }
    objects = json_object_get(st, "objects");
    CHECK_EQ_INT(applied, 10000);
    CHECK_EQ_INT(json_object_size(objects), 10000);
    CHECK(json_object_get(objects, "s10000") == NULL);

    /* full with a hidden object: the oldest entry keeping one expires */
    CHECK_EQ_INT(apply("whiteboard", st, wire(++seq, "alice", "undo", json_object())), WK_APPLIED);
    CHECK_EQ_INT(apply("whiteboard", st, wire(++seq, "bob", "stroke.add", small_stroke("b1"))),
                 WK_APPLIED);
    CHECK_EQ_INT(json_object_size(objects), 10000);
    CHECK(json_object_get(objects, "s9999") == NULL);
    CHECK(json_object_get(objects, "b1") != NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(json_object_get(st, "history"),
                                                                 "alice"), "redo")), 0);

    /* a full board that was cleared makes room by forgetting that clear */
    CHECK_EQ_INT(apply("whiteboard", st, wire(++seq, "carol", "clear", json_object())), WK_APPLIED);
    CHECK_EQ_INT(apply("whiteboard", st, wire(++seq, "carol", "stroke.add", small_stroke("c1"))),
                 WK_APPLIED);
    CHECK_EQ_INT(json_object_size(objects), 1);
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(json_object_get(st, "history"),
                                                                 "carol"), "undo")), 1);
    json_decref(st);
}

/* --- out of memory ----------------------------------------------------------------
 * jansson allocates through hooks: fail the n-th allocation inside wk_reduce
 * and require WK_ERROR or success, never a crash or a leak (ASan checks). */

static long alloc_budget = -1;   /* allocations left before failing; -1: unlimited */
static long alloc_failures;

static void *budget_malloc(size_t n)
{
    if (alloc_budget == 0) {
        alloc_failures++;
        return NULL;
    }
    if (alloc_budget > 0)
        alloc_budget--;
    return malloc(n);
}

static void test_out_of_memory(void)
{
    static const char *const kinds[] = { "chat", "board", "whiteboard" };
    static const char *const evs[3][6] = {
        { "{\"kind\":\"message.create\",\"payload\":{\"text\":\"hi\",\"mentions\":[\"bob\",\"carol\"]}}",
          "{\"kind\":\"message.edit\",\"payload\":{\"target_seq\":1,\"text\":\"hey\",\"mentions\":[\"bob\"]}}",
          "{\"kind\":\"message.delete\",\"payload\":{\"target_seq\":1}}", NULL },
        { "{\"kind\":\"column.create\",\"payload\":{\"id\":\"x\",\"title\":\"X\",\"position\":\"d\"}}",
          "{\"kind\":\"card.create\",\"payload\":{\"id\":\"k1\",\"column\":\"x\",\"title\":\"T\",\"position\":\"a\"}}",
          "{\"kind\":\"card.update\",\"payload\":{\"id\":\"k1\",\"title\":\"U\",\"labels\":[\"b\",\"a\"]}}",
          "{\"kind\":\"card.assign\",\"payload\":{\"id\":\"k1\",\"user\":\"bob\"}}",
          "{\"kind\":\"comment.add\",\"payload\":{\"card\":\"k1\",\"id\":\"m\",\"text\":\"c\"}}",
          "{\"kind\":\"column.delete\",\"payload\":{\"id\":\"x\"}}" },
        { "{\"kind\":\"stroke.add\",\"payload\":{\"id\":\"s1\",\"points\":[[0,0],[1,2.5]],\"color\":\"#000\",\"size\":2}}",
          "{\"kind\":\"shape.add\",\"payload\":{\"id\":\"t1\",\"shape\":\"text\",\"x\":0,\"y\":0,\"w\":1,\"h\":1,\"color\":\"#000\",\"size\":2,\"text\":\"a\"}}",
          "{\"kind\":\"object.move\",\"payload\":{\"id\":\"s1\",\"dx\":1.5,\"dy\":2}}",
          "{\"kind\":\"clear\",\"payload\":{}}",
          "{\"kind\":\"undo\",\"payload\":{}}",
          "{\"kind\":\"object.delete\",\"payload\":{\"id\":\"t1\"}}" },
    };
    size_t k, e;
    long budget;

    for (k = 0; k < 3; k++) {
        for (budget = 0; budget < 60; budget++) {
            json_t *st = wk_state_new(kinds[k]);
            int failed = 0;

            for (e = 0; e < 6 && evs[k][e] && !failed; e++) {
                json_t *ev = json_loads(evs[k][e], 0, NULL);
                int rc;

                json_object_set_new(ev, "seq", json_integer((json_int_t)e + 1));
                json_object_set_new(ev, "author", json_string("alice"));
                json_object_set_new(ev, "ts", json_integer(5));
                alloc_budget = budget;
                rc = wk_reduce(kinds[k], st, ev);
                alloc_budget = -1;
                CHECK(rc == WK_APPLIED || rc == WK_ERROR);
                failed = rc == WK_ERROR;
                json_decref(ev);
            }
            json_decref(st);
        }
    }
    CHECK(alloc_failures > 0);
}

int main(void)
{
    json_set_alloc_funcs(budget_malloc, free);
    locate_vectors();
    test_room_kind();
    test_api_edges();
    test_position_valid();
    test_position_between();
    test_vectors();
    test_board_card_limit();
    test_whiteboard_object_limit();
    test_out_of_memory();
    TEST_MAIN_END();
}
