/*
 * test_reduce_props.c — randomized properties of the room reducers.
 *
 *  1. Snapshots: for 2,000 random event sequences per room kind (several
 *     authors, valid and invalid events mixed, stale updates, undo/redo and
 *     clear, long runs that reach every window and history limit), the
 *     state after events 1..N, serialized and loaded again, then given the
 *     remaining events, is byte-identical (sorted compact JSON, written by
 *     the worker's serializer, common/json_out.h) to the full replay, for
 *     random cut points N. Events at or below N fed again to a snapshot
 *     change nothing.
 *  2. Robustness: garbage (wrong types, missing fields, huge numbers, deep
 *     nesting, non-object payloads and envelopes) never crashes a reducer,
 *     never returns an error, and leaves a state that survives a JSON round
 *     trip; neither do valid events applied to a corrupted state.
 *
 * Everything is driven by a fixed-seed PRNG, so failures reproduce.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "reduce.h"
#include "test.h"

/* States are serialized as the worker serializes snapshots. */
#define DUMP_STATE(v) ch_json_dumps((v), CH_JSON_SORT_KEYS, NULL)
#define SEQUENCES_PER_KIND 2000
#define CUTS_PER_SEQUENCE 3

/* --- PRNG -------------------------------------------------------------------- */

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
    uint64_t x = rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static size_t pick(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

/* 1 with probability p. */
static int chance(double p)
{
    return (double)(rnd() >> 11) / 9007199254740992.0 < p;
}

#define PICK(arr) (arr)[pick(sizeof(arr) / sizeof((arr)[0]))]

/* --- random values ------------------------------------------------------------- */

static const char *const authors[] = { "alice", "bob", "carol" };

/* A random JSON value of any type, nesting at most depth. */
static json_t *garbage(int depth)
{
    static const char *const strs[] = {
        "", "x", "a0", "todo", "k1", "o1", "#fff", "pen", "rect", "\xc3\xa9", "\xf0\x9f\x98\x80",
        "has space", "0", "-1", "1e999", "true", "null",
    };
    static const double reals[] = { 0.5, -0.5, 1e300, -1e300, 1e-320, 3.0, 1e7, 10000000.5,
                                    9007199254740993.0, -0.0 };
    static const json_int_t ints[] = { 0, 1, -1, 2, 5, 100, 9007199254740991LL,
                                       9007199254740992LL, -9007199254740992LL,
                                       (json_int_t)9223372036854775807LL };

    switch (pick(depth > 0 ? 9 : 6)) {
    case 0: return json_null();
    case 1: return json_boolean(chance(0.5));
    case 2: return json_integer(PICK(ints));
    case 3: return json_real(PICK(reals));
    case 4: return json_string(PICK(strs));
    case 5: {
        char buf[80];
        size_t n = pick(sizeof buf - 1), i;

        for (i = 0; i < n; i++)
            buf[i] = (char)(' ' + pick(95));
        buf[n] = '\0';
        return json_string(buf);
    }
    case 6: case 7: {
        json_t *a = json_array();
        size_t n = pick(5), i;

        for (i = 0; i < n; i++)
            json_array_append_new(a, garbage(depth - 1));
        return a;
    }
    default: {
        static const char *const keys[] = { "id", "text", "x", "points", "seq", "column" };
        json_t *o = json_object();
        size_t n = pick(4), i;

        for (i = 0; i < n; i++)
            json_object_set_new(o, PICK(keys), garbage(depth - 1));
        return o;
    }
    }
}

/* An array nested depth levels deep (built iteratively). */
static json_t *deep_array(size_t depth)
{
    json_t *v = json_integer(1);
    size_t i;

    for (i = 0; i < depth; i++) {
        json_t *a = json_array();

        json_array_append_new(a, v);
        v = a;
    }
    return v;
}

static json_t *rand_text(void)
{
    static const char *const odd[] = { "", " ", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80" };
    char buf[32];
    size_t n, i;

    if (chance(0.02))
        return json_string(PICK(odd));
    if (chance(0.01))
        return json_integer(5);
    n = 1 + pick(12);
    for (i = 0; i < n; i++)
        buf[i] = (char)('a' + pick(26));
    buf[n] = '\0';
    return json_string(buf);
}

/* --- sequence generators ------------------------------------------------------- */

/* How one sequence leans: mix weights drawn once per sequence. */
typedef struct {
    double create;    /* chat: share of creates */
    double clear;     /* whiteboard: share of clears */
    double undo;      /* whiteboard: share of undos (redos ~ 0.7x) */
    double cdel;      /* board: share of column deletes */
    int solo;         /* one author makes most events (reaches history limits) */
} profile;

static profile prof;
static char created[4096][16];   /* whiteboard ids added so far in this sequence */
static size_t ncreated;

static void chat_event(long long seq, const char **kind, json_t *p)
{
    double r = (double)(rnd() >> 11) / 9007199254740992.0;
    long long lo = seq > 260 ? seq - 260 : 1;

    if (r < prof.create) {
        *kind = "message.create";
        json_object_set_new(p, "text", rand_text());
        if (chance(0.3)) {
            json_t *m = json_array();
            size_t n = pick(4), i;

            for (i = 0; i < n; i++)
                json_array_append_new(m, json_string(PICK(authors)));
            json_object_set_new(p, "mentions", m);
        }
    } else if (r < prof.create + 0.2) {
        *kind = "message.edit";
        json_object_set_new(p, "target_seq", json_integer(lo + (long long)pick((size_t)(seq - lo + 1))));
        json_object_set_new(p, "text", rand_text());
        if (chance(0.3))
            json_object_set_new(p, "mentions", json_pack("[s]", PICK(authors)));
    } else if (r < prof.create + 0.3) {
        *kind = "message.delete";
        json_object_set_new(p, "target_seq", json_integer(lo + (long long)pick((size_t)(seq - lo + 1))));
    } else {
        *kind = chance(0.5) ? "message.react" : "card.move";
    }
}

static json_t *rand_pos(void)
{
    static const char *const good[] = { "a", "b", "c", "V", "aV", "0z", "z1", "b5", "Z", "k", "1" };
    static const char *const bad[] = { "a0", "", "!" };

    return json_string(chance(0.04) ? PICK(bad) : PICK(good));
}

static void board_event(long long seq, const char **kind, json_t *p)
{
    static const char *const cols[] = { "todo", "doing", "done", "x1", "x2" };
    static const char *const labels[] = { "bug", "ux", "p1", "\xc3\x9c" };
    static const char *const comments[] = { "m1", "m2", "m3" };
    double r = (double)(rnd() >> 11) / 9007199254740992.0;
    char card[16];

    (void)seq;
    snprintf(card, sizeof card, "k%zu", pick(chance(0.5) ? 10 : 60));
    if (r < 0.05) {
        *kind = "column.create";
        json_object_set_new(p, "id", json_string(PICK(cols)));
        json_object_set_new(p, "title", rand_text());
        json_object_set_new(p, "position", rand_pos());
    } else if (r < 0.08) {
        *kind = "column.rename";
        json_object_set_new(p, "id", json_string(PICK(cols)));
        json_object_set_new(p, "title", chance(0.5) ? json_string(chance(0.5) ? "A" : "B") : rand_text());
    } else if (r < 0.11) {
        *kind = "column.move";
        json_object_set_new(p, "id", json_string(PICK(cols)));
        json_object_set_new(p, "position", rand_pos());
    } else if (r < 0.11 + prof.cdel) {
        *kind = "column.delete";
        json_object_set_new(p, "id", json_string(PICK(cols)));
    } else if (r < 0.30) {
        *kind = "card.create";
        json_object_set_new(p, "id", json_string(card));
        json_object_set_new(p, "column", json_string(PICK(cols)));
        json_object_set_new(p, "title", rand_text());
        json_object_set_new(p, "position", rand_pos());
        if (chance(0.3))
            json_object_set_new(p, "description", rand_text());
    } else if (r < 0.45) {
        *kind = "card.update";
        json_object_set_new(p, "id", json_string(card));
        if (chance(0.6))
            json_object_set_new(p, "title", chance(0.5) ? json_string("T") : rand_text());
        if (chance(0.3))
            json_object_set_new(p, "description", chance(0.3) ? json_string("") : rand_text());
        if (chance(0.3)) {
            json_t *l = json_array();
            size_t n = pick(4), i;

            for (i = 0; i < n; i++)
                json_array_append_new(l, json_string(PICK(labels)));
            json_object_set_new(p, "labels", l);
        }
        if (chance(0.6))   /* often stale: exercises rejection */
            json_object_set_new(p, "base_version", json_integer(1 + (json_int_t)pick(6)));
    } else if (r < 0.58) {
        *kind = "card.move";
        json_object_set_new(p, "id", json_string(card));
        json_object_set_new(p, "column", json_string(PICK(cols)));
        json_object_set_new(p, "position", rand_pos());
    } else if (r < 0.62) {
        *kind = "card.delete";
        json_object_set_new(p, "id", json_string(card));
    } else if (r < 0.70) {
        *kind = chance(0.5) ? "card.assign" : "card.unassign";
        json_object_set_new(p, "id", json_string(card));
        json_object_set_new(p, "user", json_string(PICK(authors)));
    } else if (r < 0.80) {
        *kind = "card.label";
        json_object_set_new(p, "id", json_string(card));
        json_object_set_new(p, "label", json_string(PICK(labels)));
        json_object_set_new(p, "on", json_boolean(chance(0.6)));
    } else if (r < 0.92) {
        *kind = "comment.add";
        json_object_set_new(p, "card", json_string(card));
        json_object_set_new(p, "id", json_string(PICK(comments)));
        json_object_set_new(p, "text", rand_text());
    } else if (r < 0.98) {
        *kind = "comment.delete";
        json_object_set_new(p, "card", json_string(card));
        json_object_set_new(p, "id", json_string(PICK(comments)));
    } else {
        *kind = "bogus";
    }
}

static json_t *rand_coord(void)
{
    static const double vals[] = { 0, 1, -3, 2.5, 0.1, 1e7, -1e7, 123.456 };

    if (chance(0.02))
        return chance(0.5) ? json_real(1e7 + 1) : json_string("1");
    if (chance(0.3))
        return json_real((double)(int64_t)(rnd() % 2000000) / 1000.0 - 1000.0);
    return json_real(PICK(vals));
}

static const char *fresh_id(void)
{
    static char buf[16];

    if (chance(0.1) || ncreated == 0 || ncreated >= sizeof created / sizeof created[0])
        snprintf(buf, sizeof buf, "o%zu", pick(12));
    else
        snprintf(buf, sizeof buf, "n%zu", ncreated);
    if (ncreated < sizeof created / sizeof created[0])
        memcpy(created[ncreated++], buf, sizeof created[0]);
    return buf;
}

static const char *existing_id(void)
{
    static char buf[16];

    if (ncreated && chance(0.9))
        return created[pick(ncreated)];
    snprintf(buf, sizeof buf, "o%zu", pick(12));
    return buf;
}

static void wb_event(long long seq, const char **kind, json_t *p)
{
    static const char *const colors[] = { "#fff", "#123456", "#12345678", "#abcd", "#fff",
                                          "#000", "#111", "#222", "red", "#12" };
    static const double sizes[] = { 1, 4, 0.5, 500, 2, 3, 8, 16, 0, 501 };
    static const char *const shapes[] = { "rect", "ellipse", "line", "arrow", "text", "rect",
                                          "ellipse", "line", "arrow", "star" };
    double r = (double)(rnd() >> 11) / 9007199254740992.0;

    if (r < 0.25) {
        json_t *pts = json_array();
        size_t n = chance(0.05) ? 0 : 1 + pick(4), i;

        *kind = "stroke.add";
        for (i = 0; i < n; i++)
            json_array_append_new(pts, json_pack("[o,o]", rand_coord(), rand_coord()));
        json_object_set_new(p, "id", json_string(fresh_id()));
        json_object_set_new(p, "points", pts);
        json_object_set_new(p, "color", json_string(PICK(colors)));
        json_object_set_new(p, "size", json_real(PICK(sizes)));
        if (chance(0.5))
            json_object_set_new(p, "tool", json_string(chance(0.9) ? (chance(0.5) ? "pen" : "eraser") : "brush"));
    } else if (r < 0.37) {
        const char *shape = PICK(shapes);

        *kind = "shape.add";
        json_object_set_new(p, "id", json_string(fresh_id()));
        json_object_set_new(p, "shape", json_string(shape));
        json_object_set_new(p, "x", rand_coord());
        json_object_set_new(p, "y", rand_coord());
        json_object_set_new(p, "w", rand_coord());
        json_object_set_new(p, "h", rand_coord());
        json_object_set_new(p, "color", json_string("#000"));
        json_object_set_new(p, "size", json_integer(chance(0.5) ? 2 : 18));
        if (strcmp(shape, "text") == 0 || chance(0.2))
            json_object_set_new(p, "text", rand_text());
    } else if (r < 0.52) {
        *kind = "object.move";
        json_object_set_new(p, "id", json_string(existing_id()));
        json_object_set_new(p, "dx", rand_coord());
        json_object_set_new(p, "dy", rand_coord());
    } else if (r < 0.60) {
        *kind = "object.delete";
        json_object_set_new(p, "id", json_string(existing_id()));
    } else if (r < 0.60 + prof.clear) {
        *kind = "clear";
    } else if (r < 0.64 + prof.undo) {
        *kind = "undo";
        if (chance(0.1))
            json_object_set_new(p, "action", json_integer(1 + (json_int_t)pick((size_t)seq)));
    } else if (r < 0.64 + prof.undo * 1.7) {
        *kind = "redo";
        if (chance(0.1))
            json_object_set_new(p, "action", json_integer(1 + (json_int_t)pick((size_t)seq)));
    } else {
        *kind = "bogus";
    }
}

typedef void (*event_gen)(long long seq, const char **kind, json_t *payload);

/* A random sequence of n wire events for one room kind. */
static json_t *make_sequence(event_gen gen, size_t n)
{
    static const double creates[] = { 0.5, 0.8, 0.95 };
    static const double clears[] = { 0.0, 0.005, 0.04 };
    static const double undos[] = { 0.02, 0.1, 0.2 };
    static const double cdels[] = { 0.0, 0.005, 0.02 };
    json_t *events = json_array();
    size_t i;

    prof.create = PICK(creates);
    prof.clear = PICK(clears);
    prof.undo = PICK(undos);
    prof.cdel = PICK(cdels);
    prof.solo = chance(0.4);
    ncreated = 0;
    for (i = 0; i < n; i++) {
        long long seq = (long long)i + 1;
        const char *kind = "none";
        json_t *p = json_object(), *ev;
        const char *author = PICK(authors);

        gen(seq, &kind, p);
        if (prof.solo && chance(0.85))
            author = "alice";
        if (chance(0.05) && json_object_size(p) > 0) {
            /* spoil one field: wrong type or missing */
            const char *key = json_object_iter_key(json_object_iter(p));
            char k[64];

            snprintf(k, sizeof k, "%s", key);
            if (chance(0.5))
                json_object_set_new(p, k, garbage(2));
            else
                json_object_del(p, k);
        }
        ev = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:o}", "room", "r.1.1",
                       "seq", (json_int_t)seq, "epoch", (json_int_t)1, "ts",
                       (json_int_t)(1000 + seq * 10), "author", author, "session", "s",
                       "kind", kind, "cid", "c", "payload", p);
        /* spoil the envelope now and then */
        switch (pick(50)) {
        case 0: json_object_set_new(ev, "seq", json_integer(seq - 1)); break;
        case 1: json_object_del(ev, "author"); break;
        case 2: json_object_set_new(ev, "ts", json_string("x")); break;
        case 3: json_object_set_new(ev, "payload", garbage(2)); break;
        default: break;
        }
        json_array_append_new(events, ev);
    }
    return events;
}

/* --- property 1: snapshot + rest == full replay ------------------------------- */

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

static size_t seq_length(int whiteboard)
{
    static const size_t shortl[] = { 1, 3, 8, 20, 40, 60 };
    static const size_t longl[] = { 150, 300, 450 };
    static const size_t wb_longl[] = { 300, 600, 1200 };

    if (chance(0.9))
        return 1 + pick(PICK(shortl));
    return whiteboard ? PICK(wb_longl) : PICK(longl);
}

static void check_snapshots(const char *kind, event_gen gen)
{
    size_t s, mismatches = 0, checks = 0, errors = 0;

    for (s = 0; s < SEQUENCES_PER_KIND; s++) {
        size_t n = seq_length(strcmp(kind, "whiteboard") == 0);
        json_t *events = make_sequence(gen, n), *state = wk_state_new(kind);
        size_t cuts[CUTS_PER_SEQUENCE], c, i, next = 0;
        char *snap[CUTS_PER_SEQUENCE], *full;

        for (c = 0; c < CUTS_PER_SEQUENCE; c++)
            cuts[c] = pick(n + 1);
        qsort(cuts, CUTS_PER_SEQUENCE, sizeof cuts[0], cmp_size);
        for (i = 0; i <= n; i++) {
            while (next < CUTS_PER_SEQUENCE && cuts[next] == i)
                snap[next++] = DUMP_STATE(state);
            if (i < n && wk_reduce(kind, state, json_array_get(events, i)) == WK_ERROR)
                errors++;
        }
        full = DUMP_STATE(state);

        for (c = 0; c < CUTS_PER_SEQUENCE; c++) {
            json_t *st = json_loads(snap[c], 0, NULL);
            char *again, *got;
            size_t k;

            CHECK(st != NULL);
            if (!st)
                continue;
            /* events already in the snapshot are ignored */
            for (k = 0; k < 3 && cuts[c] > 0; k++)
                wk_reduce(kind, st, json_array_get(events, pick(cuts[c])));
            again = DUMP_STATE(st);
            if (strcmp(again, snap[c]) != 0)
                mismatches++;
            free(again);
            for (k = cuts[c]; k < n; k++)
                if (wk_reduce(kind, st, json_array_get(events, k)) == WK_ERROR)
                    errors++;
            got = DUMP_STATE(st);
            checks++;
            if (strcmp(got, full) != 0) {
                if (mismatches++ == 0)
                    fprintf(stderr, "%s: sequence %zu (%zu events), cut %zu:\n  full %.400s\n  snap %.400s\n",
                            kind, s, n, cuts[c], full, got);
            }
            free(got);
            json_decref(st);
            free(snap[c]);
        }
        free(full);
        json_decref(state);
        json_decref(events);
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(errors, 0);
    printf("%s: %d sequences, %zu snapshot checks\n", kind, SEQUENCES_PER_KIND, checks);
}

/* --- property 2: garbage never crashes ------------------------------------------ */

static const char *const all_kinds[] = {
    "message.create", "message.edit", "message.delete",
    "column.create", "column.rename", "column.move", "column.delete",
    "card.create", "card.update", "card.move", "card.delete", "card.assign", "card.unassign",
    "card.label", "comment.add", "comment.delete",
    "stroke.add", "shape.add", "object.move", "object.delete", "clear", "undo", "redo",
    "", "message", "x.y",
};

static const char *const field_names[] = {
    "text", "mentions", "target_seq", "id", "title", "position", "column", "description",
    "labels", "base_version", "user", "label", "on", "card", "points", "color", "size", "tool",
    "shape", "x", "y", "w", "h", "dx", "dy", "action",
};

/* A garbage event; seq is valid most of the time so the payload is reached. */
static json_t *garbage_event(long long *seq)
{
    json_t *ev = json_object(), *p;
    size_t i, n;

    if (chance(0.9))
        json_object_set_new(ev, "seq", json_integer(++*seq));
    else
        json_object_set_new(ev, "seq", garbage(1));
    if (chance(0.95))
        json_object_set_new(ev, "author", json_string(PICK(authors)));
    else
        json_object_set_new(ev, "author", garbage(1));
    json_object_set_new(ev, "kind", chance(0.95) ? json_string(PICK(all_kinds)) : garbage(1));
    json_object_set_new(ev, "ts", chance(0.8) ? json_integer(*seq * 10) : garbage(1));
    if (chance(0.2)) {
        p = garbage(4);
    } else {
        p = json_object();
        n = pick(8);
        for (i = 0; i < n; i++)
            json_object_set_new(p, PICK(field_names), chance(0.005) ? deep_array(2000) : garbage(3));
    }
    json_object_set_new(ev, "payload", p);
    return ev;
}

static void check_roundtrip(const json_t *state)
{
    char *s = DUMP_STATE(state);
    json_t *back = s ? json_loads(s, 0, NULL) : NULL;

    CHECK(back != NULL && json_equal(back, state));
    json_decref(back);
    free(s);
}

static void check_garbage(const char *kind, event_gen gen)
{
    json_t *state = wk_state_new(kind), *valid = make_sequence(gen, 300);
    long long seq = 0;
    size_t i, errors = 0;

    /* start from a populated state so lookups hit */
    for (i = 0; i < json_array_size(valid); i++)
        wk_reduce(kind, state, json_array_get(valid, i));
    seq = json_integer_value(json_object_get(state, "seq"));
    for (i = 0; i < 20000; i++) {
        json_t *ev;
        int rc;

        if (chance(0.02))
            ev = garbage(3);   /* not even an object, most of the time */
        else
            ev = garbage_event(&seq);
        rc = wk_reduce(kind, state, ev);
        if (rc != WK_APPLIED && rc != WK_IGNORED)
            errors++;
        json_decref(ev);
        if (i % 2000 == 0)
            check_roundtrip(state);
    }
    CHECK_EQ_INT(errors, 0);
    check_roundtrip(state);
    json_decref(valid);
    json_decref(state);
}

/* Replaces a random node of v (not v itself) by garbage. */
static void corrupt(json_t *v, int depth)
{
    size_t n;

    if (json_is_object(v) && (n = json_object_size(v)) > 0) {
        void *it = json_object_iter(v);
        size_t k = pick(n);
        json_t *child;
        char key[256];

        while (k-- > 0)
            it = json_object_iter_next(v, it);
        snprintf(key, sizeof key, "%s", json_object_iter_key(it));
        child = json_object_iter_value(it);
        if (depth > 0 && (json_is_object(child) || json_is_array(child)) && chance(0.7))
            corrupt(child, depth - 1);
        else
            json_object_set_new(v, key, garbage(2));
    } else if (json_is_array(v) && (n = json_array_size(v)) > 0) {
        size_t k = pick(n);
        json_t *child = json_array_get(v, k);

        if (depth > 0 && (json_is_object(child) || json_is_array(child)) && chance(0.7))
            corrupt(child, depth - 1);
        else
            json_array_set_new(v, k, garbage(2));
    }
}

/* A corrupted snapshot (inner values of the wrong type) must not crash a
 * reducer either; WK_ERROR is allowed when a top-level member is broken. */
static void check_corrupted_state(const char *kind, event_gen gen)
{
    size_t round;

    for (round = 0; round < 200; round++) {
        json_t *events = make_sequence(gen, 40 + pick(120));
        json_t *state = wk_state_new(kind);
        size_t i, split = json_array_size(events) / 2;

        for (i = 0; i < split; i++)
            wk_reduce(kind, state, json_array_get(events, i));
        for (i = 0; i < 1 + pick(4); i++)
            corrupt(state, 4);
        for (i = split; i < json_array_size(events); i++) {
            int rc = wk_reduce(kind, state, json_array_get(events, i));

            CHECK(rc == WK_APPLIED || rc == WK_IGNORED || rc == WK_ERROR);
        }
        json_decref(state);
        json_decref(events);
    }
}

int main(void)
{
    static const struct {
        const char *kind;
        event_gen gen;
    } kinds[] = {
        { "chat", chat_event },
        { "board", board_event },
        { "whiteboard", wb_event },
    };
    size_t k;

    for (k = 0; k < 3; k++) {
        check_snapshots(kinds[k].kind, kinds[k].gen);
        check_garbage(kinds[k].kind, kinds[k].gen);
        check_corrupted_state(kinds[k].kind, kinds[k].gen);
    }
    TEST_MAIN_END();
}
