/*
 * test_ws_codec.c — the RFC 6455 frame parser and encoder.
 *
 * Input streams are built by a frame writer local to this file (independent
 * of the encoder under test) and fed whole, byte by byte, split at every
 * point and at every pair of points; the resulting event sequences, with
 * their payloads and the input offset at which each occurred, must match.
 * Truncated frames are placed against a PROT_NONE page so over-reads crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"
#include "utf8.h"
#include "ws_codec.h"

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* ---- building input ---------------------------------------------------- */

/* A growable byte string; owns d. */
struct bytes {
    uint8_t *d;
    size_t len, cap;
};

static void bytes_put(struct bytes *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        b->d = realloc(b->d, cap);
        if (!b->d)
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->d + b->len, src, n);
    b->len += n;
}

static void bytes_free(struct bytes *b)
{
    free(b->d);
    memset(b, 0, sizeof *b);
}

enum { LEN_SHORTEST = 0, LEN_16 = 16, LEN_64 = 64 };

/* Appends a frame with first byte b0, masked with key unless key is NULL.
 * form forces the 16- or 64-bit length encoding. */
static void put_frame(struct bytes *b, uint8_t b0, const uint8_t *key,
                      const void *payload, size_t len, int form)
{
    uint8_t h[14];
    size_t hn = 0, i;
    uint8_t m = key ? 0x80 : 0;

    h[hn++] = b0;
    if (form == LEN_SHORTEST && len < 126) {
        h[hn++] = (uint8_t)(m | len);
    } else if (form != LEN_64 && len <= 0xFFFF) {
        h[hn++] = (uint8_t)(m | 126);
        h[hn++] = (uint8_t)(len >> 8);
        h[hn++] = (uint8_t)len;
    } else {
        h[hn++] = (uint8_t)(m | 127);
        for (i = 0; i < 8; i++)
            h[hn++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    if (key) {
        memcpy(h + hn, key, 4);
        hn += 4;
    }
    bytes_put(b, h, hn);
    for (i = 0; i < len; i++) {
        uint8_t c = ((const uint8_t *)payload)[i];
        if (key)
            c ^= key[i & 3];
        bytes_put(b, &c, 1);
    }
}

static void put_str(struct bytes *b, uint8_t b0, const uint8_t *key, const char *s)
{
    put_frame(b, b0, key, s, strlen(s), LEN_SHORTEST);
}

/* Copies buf into memory that ends where a PROT_NONE page begins. */
struct guarded {
    uint8_t *map;
    size_t map_len;
    uint8_t *data;
};

static void guarded_make(struct guarded *g, const uint8_t *buf, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (len + page - 1) / page + 1;

    g->map_len = (data_pages + 1) * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        abort();
    if (mprotect(g->map + data_pages * page, page, PROT_NONE) != 0)
        abort();
    g->data = g->map + data_pages * page - len;
    if (len)
        memcpy(g->data, buf, len);
}

static void guarded_free(struct guarded *g)
{
    munmap(g->map, g->map_len);
}

/* ---- running the parser and recording what it says ---------------------- */

#define MAX_RECS 32

struct rec {
    int result;          /* CH_WS_EVENT or CH_WS_ERROR */
    int type;
    unsigned code;
    size_t len;
    uint8_t *data;       /* owned copy of the payload */
    char reason[128];
    size_t reason_len;
    size_t end;          /* input offset reached when it was reported */
};

struct run {
    struct rec recs[MAX_RECS];
    size_t n;
    int final;           /* CH_WS_AGAIN or CH_WS_ERROR */
    size_t consumed;     /* total input consumed */
    int violations;      /* contract breaches seen while feeding */
};

static void run_free(struct run *r)
{
    size_t i;
    for (i = 0; i < r->n; i++)
        free(r->recs[i].data);
    r->n = 0;
}

static void record(struct run *r, int result, const ch_ws_event *ev, size_t end)
{
    struct rec *x;

    if (r->n == MAX_RECS) {
        r->violations++;
        return;
    }
    x = &r->recs[r->n++];
    memset(x, 0, sizeof *x);
    x->result = result;
    x->end = end;
    x->code = ev->close_code;
    if (result == CH_WS_EVENT) {
        x->type = ev->type;
        x->len = ev->payload_len;
        if (ev->payload == NULL)
            r->violations++;
        x->data = malloc(ev->payload_len + 1);
        if (!x->data)
            abort();
        if (ev->payload_len)
            memcpy(x->data, ev->payload, ev->payload_len);
    }
    if (ev->reason_len >= sizeof x->reason || (ev->reason_len && !ev->reason)) {
        r->violations++;
    } else if (ev->reason_len) {
        memcpy(x->reason, ev->reason, ev->reason_len);
        x->reason_len = ev->reason_len;
    }
    if (result == CH_WS_ERROR && (ev->reason == NULL || ev->reason[0] == '\0'))
        r->violations++;
}

/* Feeds buf[0..len) cut at the increasing offsets cuts[0..ncuts). With
 * shrink set, calls ch_ws_parser_shrink after every feed that returned
 * AGAIN. */
static void run_cuts(struct run *r, int role, size_t max, const uint8_t *buf,
                     size_t len, const size_t *cuts, size_t ncuts, int shrink)
{
    ch_ws_parser *p = ch_ws_parser_new(max, role);
    size_t start = 0, piece;

    memset(r, 0, sizeof *r);
    r->final = CH_WS_AGAIN;
    if (!p)
        abort();
    for (piece = 0; piece <= ncuts; piece++) {
        size_t end = piece < ncuts ? cuts[piece] : len;
        size_t off = start;

        for (;;) {
            ch_ws_event ev;
            size_t used = (size_t)-1;
            ch_ws_result res = ch_ws_parser_feed(p, buf + off, end - off, &used, &ev);

            if (used > end - off) {
                r->violations++;
                goto out;
            }
            off += used;
            if (res == CH_WS_EVENT) {
                record(r, res, &ev, off);
                continue;
            }
            if (res == CH_WS_ERROR) {
                record(r, res, &ev, off);
                r->final = CH_WS_ERROR;
                /* Dead: a further feed fails the same way and uses nothing. */
                res = ch_ws_parser_feed(p, buf, len, &used, &ev);
                if (res != CH_WS_ERROR || used != 0 || ev.close_code != r->recs[r->n - 1].code)
                    r->violations++;
                goto out;
            }
            if (res != CH_WS_AGAIN || off != end)
                r->violations++;
            if (shrink)
                ch_ws_parser_shrink(p);
            break;
        }
        start = end;
    }
out:
    r->consumed = start;
    if (r->final == CH_WS_ERROR)
        r->consumed = r->recs[r->n - 1].end;
    ch_ws_parser_free(p);
}

static void run_whole(struct run *r, int role, size_t max, const uint8_t *buf, size_t len)
{
    run_cuts(r, role, max, buf, len, NULL, 0, 0);
}

/* Feeds in chunks of chunk bytes. */
static void run_chunked(struct run *r, int role, size_t max, const uint8_t *buf,
                        size_t len, size_t chunk, int shrink)
{
    size_t n = len ? (len - 1) / chunk : 0, i;
    size_t *cuts = malloc((n + 1) * sizeof *cuts);

    if (!cuts)
        abort();
    for (i = 0; i < n; i++)
        cuts[i] = (i + 1) * chunk;
    run_cuts(r, role, max, buf, len, cuts, n, shrink);
    free(cuts);
}

/* 1 if both runs reported the same things at the same input offsets. */
static int runs_equal(const struct run *a, const struct run *b)
{
    size_t i;

    if (a->violations || b->violations || a->n != b->n || a->final != b->final ||
        a->consumed != b->consumed)
        return 0;
    for (i = 0; i < a->n; i++) {
        const struct rec *x = &a->recs[i], *y = &b->recs[i];
        if (x->result != y->result || x->type != y->type || x->code != y->code ||
            x->len != y->len || x->end != y->end || x->reason_len != y->reason_len ||
            memcmp(x->reason, y->reason, x->reason_len) != 0)
            return 0;
        if (x->len && memcmp(x->data, y->data, x->len) != 0)
            return 0;
    }
    return 1;
}

/* Checks event i of r: an event of this type with this payload. */
#define CHECK_EVENT(r, i, t, payload, plen) do { \
    CHECK((r)->n > (size_t)(i)); \
    if ((r)->n > (size_t)(i)) { \
        CHECK_EQ_INT((r)->recs[i].result, CH_WS_EVENT); \
        CHECK_EQ_INT((r)->recs[i].type, (t)); \
        CHECK_EQ_INT((r)->recs[i].len, (plen)); \
        CHECK((r)->recs[i].len != (size_t)(plen) || \
              memcmp((r)->recs[i].data, (payload), (plen)) == 0); \
    } \
} while (0)

/* Checks that buf fails with code after exactly consumed bytes, whole,
 * byte by byte and at every split point, after n_events events. */
static void expect_error_at(int line, int role, size_t max, const uint8_t *buf,
                            size_t len, unsigned code, size_t consumed, size_t n_events)
{
    struct run whole, other;
    size_t k;
    int mismatches = 0;

    run_whole(&whole, role, max, buf, len);
    if (whole.final != CH_WS_ERROR || whole.n != n_events + 1 ||
        whole.recs[whole.n - 1].code != code || whole.consumed != consumed ||
        whole.violations) {
        test_failed++;
        fprintf(stderr, "%s:%d: expected error %u at %zu after %zu events; got final %d, "
                "%zu records, code %u, consumed %zu, violations %d\n", __FILE__, line,
                code, consumed, n_events, whole.final, whole.n,
                whole.n ? whole.recs[whole.n - 1].code : 0u, whole.consumed,
                whole.violations);
    } else {
        test_passed++;
    }
    run_chunked(&other, role, max, buf, len, 1, 0);
    mismatches += !runs_equal(&whole, &other);
    run_free(&other);
    for (k = 0; k <= len; k++) {
        run_cuts(&other, role, max, buf, len, &k, 1, 1);
        mismatches += !runs_equal(&whole, &other);
        run_free(&other);
    }
    if (mismatches) {
        test_failed++;
        fprintf(stderr, "%s:%d: %d split runs differ from the whole run\n", __FILE__,
                line, mismatches);
    } else {
        test_passed++;
    }
    run_free(&whole);
}

#define EXPECT_ERROR(role, max, b, code, consumed, nev) \
    expect_error_at(__LINE__, (role), (max), (b)->d, (b)->len, (code), (consumed), (nev))

/* ---- tests ------------------------------------------------------------- */

static void test_rfc_examples(void)
{
    static const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                           0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t unmasked_hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t fragmented[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
                                         0x80, 0x02, 0x6c, 0x6f};
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t masked_pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                          0x9f, 0x4d, 0x51, 0x58};
    uint8_t enc[16];
    struct bytes b = {0};
    uint8_t *payload;
    struct run r;
    size_t i;

    run_whole(&r, CH_WS_ROLE_SERVER, 1024, masked_hello, sizeof masked_hello);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_TEXT, "Hello", 5);
    CHECK_EQ_INT(r.recs[0].end, sizeof masked_hello);
    CHECK_EQ_INT(r.final, CH_WS_AGAIN);
    CHECK_EQ_INT(r.violations, 0);
    run_free(&r);

    run_whole(&r, CH_WS_ROLE_CLIENT, 1024, unmasked_hello, sizeof unmasked_hello);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_TEXT, "Hello", 5);
    run_free(&r);

    run_whole(&r, CH_WS_ROLE_CLIENT, 1024, fragmented, sizeof fragmented);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_TEXT, "Hello", 5);
    CHECK_EQ_INT(r.recs[0].end, sizeof fragmented);
    run_free(&r);

    run_whole(&r, CH_WS_ROLE_CLIENT, 1024, ping, sizeof ping);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_PING, "Hello", 5);
    run_free(&r);

    run_whole(&r, CH_WS_ROLE_SERVER, 1024, masked_pong, sizeof masked_pong);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_PONG, "Hello", 5);
    run_free(&r);

    /* The encoder reproduces the RFC's masked frame. */
    CHECK_EQ_INT(ch_ws_client_frame_encode(enc, 1, CH_WS_OP_TEXT,
                                           (const uint8_t *)"Hello", 5, KEY), 11);
    CHECK(memcmp(enc, masked_hello, sizeof masked_hello) == 0);

    /* 256 bytes in one unmasked frame (16-bit length): 0x82 0x7E 0x01 0x00. */
    payload = malloc(65536);
    if (!payload)
        abort();
    for (i = 0; i < 65536; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    bytes_put(&b, "\x82\x7E\x01\x00", 4);
    bytes_put(&b, payload, 256);
    run_whole(&r, CH_WS_ROLE_CLIENT, 65536, b.d, b.len);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_BINARY, payload, 256);
    run_free(&r);
    bytes_free(&b);

    /* 64 KiB in one unmasked frame (64-bit length). */
    bytes_put(&b, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    bytes_put(&b, payload, 65536);
    run_whole(&r, CH_WS_ROLE_CLIENT, 65536, b.d, b.len);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_BINARY, payload, 65536);
    CHECK_EQ_INT(r.consumed, 65546);
    run_free(&r);
    bytes_free(&b);
    free(payload);
}

/* Every truncated prefix of a valid frame: AGAIN, all consumed; the rest
 * then completes the frame. */
static void check_prefixes(int line, int role, const uint8_t *f, size_t len,
                           int type, const uint8_t *payload, size_t plen, size_t step)
{
    size_t k;
    int bad = 0;

    for (k = 0; k < len; k = (k < 64 || k + 64 >= len) ? k + 1 : k + step) {
        ch_ws_parser *p = ch_ws_parser_new(1u << 20, role);
        struct guarded g;
        ch_ws_event ev;
        size_t used = (size_t)-1;

        guarded_make(&g, f, k);
        if (ch_ws_parser_feed(p, g.data, k, &used, &ev) != CH_WS_AGAIN || used != k)
            bad++;
        guarded_free(&g);
        guarded_make(&g, f + k, len - k);
        if (ch_ws_parser_feed(p, g.data, len - k, &used, &ev) != CH_WS_EVENT ||
            used != len - k || (int)ev.type != type || ev.payload_len != plen ||
            (plen && memcmp(ev.payload, payload, plen) != 0))
            bad++;
        guarded_free(&g);
        ch_ws_parser_free(p);
    }
    if (bad) {
        test_failed++;
        fprintf(stderr, "%s:%d: %d truncated prefixes misbehaved\n", __FILE__, line, bad);
    } else {
        test_passed++;
    }
}

static void test_truncated_prefixes(void)
{
    struct bytes b = {0};
    uint8_t *big = malloc(70000);
    size_t i;

    if (!big)
        abort();
    for (i = 0; i < 70000; i++)
        big[i] = (uint8_t)(i ^ (i >> 8));

    put_str(&b, 0x81, KEY, "Hello");
    check_prefixes(__LINE__, CH_WS_ROLE_SERVER, b.d, b.len, CH_WS_EV_TEXT,
                   (const uint8_t *)"Hello", 5, 1);
    b.len = 0;
    put_str(&b, 0x81, KEY, "");
    check_prefixes(__LINE__, CH_WS_ROLE_SERVER, b.d, b.len, CH_WS_EV_TEXT, NULL, 0, 1);
    b.len = 0;
    put_str(&b, 0x89, KEY, "ping!");
    check_prefixes(__LINE__, CH_WS_ROLE_SERVER, b.d, b.len, CH_WS_EV_PING,
                   (const uint8_t *)"ping!", 5, 1);
    b.len = 0;
    put_str(&b, 0x88, KEY, "\x03\xe8\xE2\x82\xAC");
    check_prefixes(__LINE__, CH_WS_ROLE_SERVER, b.d, b.len, CH_WS_EV_CLOSE,
                   (const uint8_t *)"\x03\xe8\xE2\x82\xAC", 5, 1);
    b.len = 0;
    put_str(&b, 0x01, KEY, "He\xE2\x82");
    put_str(&b, 0x8A, KEY, "");
    check_prefixes(__LINE__, CH_WS_ROLE_SERVER, b.d, b.len, CH_WS_EV_PONG, NULL, 0, 1);
    b.len = 0;
    put_frame(&b, 0x82, KEY, big, 300, LEN_SHORTEST);
    check_prefixes(__LINE__, CH_WS_ROLE_SERVER, b.d, b.len, CH_WS_EV_BINARY, big, 300, 1);
    b.len = 0;
    put_frame(&b, 0x82, KEY, big, 70000, LEN_SHORTEST);
    check_prefixes(__LINE__, CH_WS_ROLE_SERVER, b.d, b.len, CH_WS_EV_BINARY, big,
                   70000, 997);
    b.len = 0;
    put_frame(&b, 0x82, NULL, big, 70000, LEN_SHORTEST);
    check_prefixes(__LINE__, CH_WS_ROLE_CLIENT, b.d, b.len, CH_WS_EV_BINARY, big,
                   70000, 1009);
    b.len = 0;
    put_str(&b, 0x81, NULL, "\xF0\x9F\x98\x80!");
    check_prefixes(__LINE__, CH_WS_ROLE_CLIENT, b.d, b.len, CH_WS_EV_TEXT,
                   (const uint8_t *)"\xF0\x9F\x98\x80!", 5, 1);
    bytes_free(&b);
    free(big);
}

/* A stream of several frames: the same events at every split. */
static void test_split_points(void)
{
    struct bytes b = {0};
    uint8_t bin[200];
    struct run whole, other;
    size_t i, k, j;
    int mismatches = 0;

    for (i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)(255 - i);
    put_str(&b, 0x81, KEY, "Hello");
    put_str(&b, 0x01, KEY, "Hel");                    /* text, not final */
    put_str(&b, 0x89, KEY, "p1");                     /* ping in between */
    put_str(&b, 0x00, KEY, "lo \xE2\x82");            /* continuation, € split */
    put_str(&b, 0x8A, KEY, "");                       /* empty pong */
    put_str(&b, 0x80, KEY, "\xAC!");                  /* final continuation */
    put_frame(&b, 0x82, KEY, bin, sizeof bin, LEN_SHORTEST); /* 16-bit length */
    put_str(&b, 0x82, KEY, "");                       /* empty binary */
    put_str(&b, 0x88, KEY, "\x03\xe8" "bye");         /* close 1000 "bye" */

    run_whole(&whole, CH_WS_ROLE_SERVER, 4096, b.d, b.len);
    CHECK_EQ_INT(whole.violations, 0);
    CHECK_EQ_INT(whole.final, CH_WS_AGAIN);
    CHECK_EQ_INT(whole.consumed, b.len);
    CHECK_EQ_INT(whole.n, 7);
    CHECK_EVENT(&whole, 0, CH_WS_EV_TEXT, "Hello", 5);
    CHECK_EVENT(&whole, 1, CH_WS_EV_PING, "p1", 2);
    CHECK_EVENT(&whole, 2, CH_WS_EV_PONG, "", 0);
    CHECK_EVENT(&whole, 3, CH_WS_EV_TEXT, "Hello \xE2\x82\xAC!", 10);
    CHECK_EVENT(&whole, 4, CH_WS_EV_BINARY, bin, sizeof bin);
    CHECK_EVENT(&whole, 5, CH_WS_EV_BINARY, "", 0);
    CHECK_EVENT(&whole, 6, CH_WS_EV_CLOSE, "\x03\xe8" "bye", 5);
    if (whole.n == 7) {
        CHECK_EQ_INT(whole.recs[6].code, 1000);
        CHECK_EQ_INT(whole.recs[6].reason_len, 3);
        CHECK(memcmp(whole.recs[6].reason, "bye", 3) == 0);
        CHECK_EQ_INT(whole.recs[6].end, b.len);
    }

    for (k = 1; k <= 17; k++) {
        run_chunked(&other, CH_WS_ROLE_SERVER, 4096, b.d, b.len, k, (int)(k & 1));
        mismatches += !runs_equal(&whole, &other);
        run_free(&other);
    }
    CHECK_EQ_INT(mismatches, 0);

    mismatches = 0;
    for (k = 0; k <= b.len; k++) {
        run_cuts(&other, CH_WS_ROLE_SERVER, 4096, b.d, b.len, &k, 1, 0);
        mismatches += !runs_equal(&whole, &other);
        run_free(&other);
    }
    CHECK_EQ_INT(mismatches, 0);

    /* Every pair of split points, shrinking the parser between feeds. */
    mismatches = 0;
    for (k = 0; k <= b.len; k++) {
        for (j = k; j <= b.len; j++) {
            size_t cuts[2] = {k, j};
            run_cuts(&other, CH_WS_ROLE_SERVER, 4096, b.d, b.len, cuts, 2, 1);
            mismatches += !runs_equal(&whole, &other);
            run_free(&other);
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    run_free(&whole);
    bytes_free(&b);
}

/* Control frames between fragments are delivered at once; the partial
 * message survives them, including a full 125-byte control payload. */
static void test_interleaved_control(void)
{
    struct bytes b = {0};
    char ctl[126];
    struct run r;

    memset(ctl, 'z', 125);
    ctl[125] = '\0';
    put_str(&b, 0x01, KEY, "frag-one|");
    put_str(&b, 0x89, KEY, ctl);
    put_str(&b, 0x00, KEY, "frag-two|");
    put_str(&b, 0x8A, KEY, "pong");
    put_str(&b, 0x88, KEY, "");
    put_str(&b, 0x80, KEY, "end");
    run_whole(&r, CH_WS_ROLE_SERVER, 100, b.d, b.len);
    CHECK_EQ_INT(r.violations, 0);
    CHECK_EQ_INT(r.final, CH_WS_AGAIN);
    CHECK_EQ_INT(r.n, 4);
    CHECK_EVENT(&r, 0, CH_WS_EV_PING, ctl, 125);
    CHECK_EVENT(&r, 1, CH_WS_EV_PONG, "pong", 4);
    CHECK_EVENT(&r, 2, CH_WS_EV_CLOSE, "", 0);
    if (r.n > 2)
        CHECK_EQ_INT(r.recs[2].code, CH_WS_CLOSE_NO_STATUS);
    CHECK_EVENT(&r, 3, CH_WS_EV_TEXT, "frag-one|frag-two|end", 21);
    run_free(&r);
    bytes_free(&b);
}

/* Each protocol error, its close code and where it is detected. */
static void test_errors(void)
{
    struct bytes b = {0};
    unsigned op;
    size_t i;
    static const unsigned bad_codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016,
                                         2000, 2999, 5000, 65535};

    /* Unmasked frame to a server. */
    put_str(&b, 0x81, NULL, "Hello");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 2, 0);
    /* Masked frame to a client. */
    b.len = 0;
    put_str(&b, 0x81, KEY, "Hello");
    EXPECT_ERROR(CH_WS_ROLE_CLIENT, 1024, &b, 1002, 2, 0);
    /* RSV1, RSV2, RSV3. */
    for (i = 0; i < 3; i++) {
        b.len = 0;
        put_str(&b, (uint8_t)(0x81 | (0x40 >> i)), KEY, "Hello");
        EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 1, 0);
    }
    /* Reserved opcodes, after a valid frame. */
    for (op = 3; op <= 0xF; op++) {
        if (op >= 8 && op <= 0xA)
            continue;
        b.len = 0;
        put_str(&b, 0x81, KEY, "ok");
        put_str(&b, (uint8_t)(0x80 | op), KEY, "x");
        EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 8 + 1, 1);
    }
    /* Fragmented control frames. */
    for (op = 8; op <= 0xA; op++) {
        b.len = 0;
        put_str(&b, (uint8_t)op, KEY, "");
        EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 1, 0);
    }
    /* Control frames over 125 bytes: 126 (16-bit form) and 127 (64-bit). */
    {
        char big[127];
        memset(big, 'a', sizeof big);
        b.len = 0;
        put_frame(&b, 0x89, KEY, big, 126, LEN_SHORTEST);
        EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 2, 0);
        b.len = 0;
        put_frame(&b, 0x88, KEY, big, 127, LEN_64);
        EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 2, 0);
        b.len = 0;
        put_frame(&b, 0x8A, KEY, big, 5, LEN_16);       /* small, but 126 form */
        EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 2, 0);
    }
    /* Continuation without a started message, first and after a message. */
    b.len = 0;
    put_str(&b, 0x80, KEY, "x");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 1, 0);
    b.len = 0;
    put_str(&b, 0x82, KEY, "whole");
    put_str(&b, 0x00, KEY, "x");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 12, 1);
    /* A new text or binary frame while a fragmented message is open. */
    b.len = 0;
    put_str(&b, 0x01, KEY, "abc");
    put_str(&b, 0x89, KEY, "");
    put_str(&b, 0x81, KEY, "def");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 9 + 6 + 1, 1);
    b.len = 0;
    put_str(&b, 0x02, KEY, "abc");
    put_str(&b, 0x02, KEY, "def");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 9 + 1, 0);
    /* 64-bit length with the top bit set. */
    b.len = 0;
    bytes_put(&b, "\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x05", 10);
    bytes_put(&b, KEY, 4);
    bytes_put(&b, "hello", 5);
    EXPECT_ERROR(CH_WS_ROLE_SERVER, (size_t)-1, &b, 1002, 3, 0);

    /* Invalid UTF-8: at the first bad byte, not at the end of the message. */
    b.len = 0;
    put_str(&b, 0x81, KEY, "ab\xC0\x80" "cd");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1007, 6 + 3, 0);
    b.len = 0;
    put_str(&b, 0x81, KEY, "x\xED\xA0\x80");             /* surrogate */
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1007, 6 + 3, 0);
    b.len = 0;
    put_str(&b, 0x81, KEY, "\xF4\x90\x80\x80");          /* > U+10FFFF */
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1007, 6 + 2, 0);
    b.len = 0;
    put_str(&b, 0x81, NULL, "\xE0\x80\x80");             /* overlong, client */
    EXPECT_ERROR(CH_WS_ROLE_CLIENT, 1024, &b, 1007, 2 + 2, 0);
    /* Split across fragments, with a ping between them. */
    b.len = 0;
    put_str(&b, 0x01, KEY, "a\xE2\x82");
    put_str(&b, 0x89, KEY, "p");
    put_str(&b, 0x80, KEY, "A");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1007, 9 + 7 + 7, 1);
    /* Truncated sequence at the end of the message, one frame or several. */
    b.len = 0;
    put_str(&b, 0x81, KEY, "ok\xE2\x82");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1007, 10, 0);
    b.len = 0;
    put_str(&b, 0x01, KEY, "ok\xF0");
    put_str(&b, 0x80, KEY, "");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1007, 9 + 6, 0);
    /* The same bytes in a binary message are fine. */
    b.len = 0;
    put_str(&b, 0x82, KEY, "ab\xC0\x80" "cd");
    {
        struct run r;
        run_whole(&r, CH_WS_ROLE_SERVER, 1024, b.d, b.len);
        CHECK_EQ_INT(r.n, 1);
        CHECK_EVENT(&r, 0, CH_WS_EV_BINARY, "ab\xC0\x80" "cd", 6);
        run_free(&r);
    }

    /* Close frames: 1-byte body, invalid codes, invalid reason. */
    b.len = 0;
    put_frame(&b, 0x88, KEY, "\x03", 1, LEN_SHORTEST);
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 7, 0);
    for (i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++) {
        uint8_t body[2] = {(uint8_t)(bad_codes[i] >> 8), (uint8_t)bad_codes[i]};
        b.len = 0;
        put_frame(&b, 0x88, KEY, body, 2, LEN_SHORTEST);
        EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1002, 8, 0);
    }
    b.len = 0;
    put_str(&b, 0x88, KEY, "\x03\xe8" "bad \xC3");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1007, 6 + 7, 0);
    b.len = 0;
    put_str(&b, 0x88, KEY, "\x03\xe8\xED\xB0\x80");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1024, &b, 1007, 6 + 5, 0);
    bytes_free(&b);
}

/* Valid close frames. */
static void test_close_frames(void)
{
    static const unsigned good_codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                          1010, 1011, 1012, 1013, 1014, 3000, 4000,
                                          4999};
    struct bytes b = {0};
    struct run r;
    size_t i;

    put_str(&b, 0x88, KEY, "");
    run_whole(&r, CH_WS_ROLE_SERVER, 1024, b.d, b.len);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_CLOSE, "", 0);
    CHECK_EQ_INT(r.recs[0].code, CH_WS_CLOSE_NO_STATUS);
    CHECK_EQ_INT(r.recs[0].reason_len, 0);
    run_free(&r);

    for (i = 0; i < sizeof good_codes / sizeof good_codes[0]; i++) {
        uint8_t body[6] = {(uint8_t)(good_codes[i] >> 8), (uint8_t)good_codes[i],
                           0xE2, 0x82, 0xAC, '!'};
        b.len = 0;
        put_frame(&b, 0x88, NULL, body, sizeof body, LEN_SHORTEST);
        run_whole(&r, CH_WS_ROLE_CLIENT, 1024, b.d, b.len);
        CHECK_EQ_INT(r.n, 1);
        CHECK_EVENT(&r, 0, CH_WS_EV_CLOSE, body, sizeof body);
        CHECK_EQ_INT(r.recs[0].code, good_codes[i]);
        CHECK_EQ_INT(r.recs[0].reason_len, 4);
        CHECK(memcmp(r.recs[0].reason, "\xE2\x82\xAC!", 4) == 0);
        run_free(&r);
    }
    bytes_free(&b);
}

static void test_close_code_valid(void)
{
    unsigned c;
    int bad = 0;

    for (c = 0; c < 70000; c++) {
        int want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
                   (c >= 3000 && c <= 4999);
        bad += ch_ws_close_code_valid(c) != want;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(ch_ws_close_code_valid(1000));
    CHECK(!ch_ws_close_code_valid(1004));
    CHECK(!ch_ws_close_code_valid(1005));
    CHECK(!ch_ws_close_code_valid(1006));
    CHECK(!ch_ws_close_code_valid(1015));
    CHECK(!ch_ws_close_code_valid(999));
    CHECK(!ch_ws_close_code_valid(2999));
    CHECK(ch_ws_close_code_valid(3000));
    CHECK(ch_ws_close_code_valid(4999));
    CHECK(!ch_ws_close_code_valid(5000));
}

/* 7-, 16- and 64-bit length forms, including non-minimal encodings. */
static void test_length_forms(void)
{
    static const size_t sizes[] = {0, 1, 124, 125, 126, 127, 65535, 65536, 70001};
    static const int forms[] = {LEN_SHORTEST, LEN_16, LEN_64};
    uint8_t *data = malloc(70001);
    struct bytes b = {0};
    size_t s, f, i;

    if (!data)
        abort();
    for (i = 0; i < 70001; i++)
        data[i] = (uint8_t)(i * 31);
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (f = 0; f < 3; f++) {
            struct run r, r7;
            size_t hdr;

            if (forms[f] == LEN_16 && sizes[s] > 0xFFFF)
                continue;
            b.len = 0;
            put_frame(&b, 0x82, KEY, data, sizes[s], forms[f]);
            hdr = b.len - sizes[s];
            run_whole(&r, CH_WS_ROLE_SERVER, 70001, b.d, b.len);
            CHECK_EQ_INT(r.violations, 0);
            CHECK_EQ_INT(r.n, 1);
            CHECK_EVENT(&r, 0, CH_WS_EV_BINARY, data, sizes[s]);
            CHECK_EQ_INT(r.consumed, b.len);
            if (forms[f] == LEN_SHORTEST)
                CHECK_EQ_INT(hdr, 4 + (sizes[s] < 126 ? 2 : sizes[s] <= 0xFFFF ? 4 : 10));
            /* Odd chunk sizes carry the mask phase across feeds. */
            run_chunked(&r7, CH_WS_ROLE_SERVER, 70001, b.d, b.len, 7 + f * 2, 0);
            CHECK(runs_equal(&r, &r7));
            run_free(&r);
            run_free(&r7);
        }
    }
    bytes_free(&b);
    free(data);
}

/* max_message: exactly the limit passes; one more fails from the header,
 * before any payload arrives; fragments add up. */
static void test_max_message(void)
{
    uint8_t *data = calloc(1, 70000);
    struct bytes b = {0};
    struct run r;
    char ctl[100];

    if (!data)
        abort();
    memset(data, 'x', 70000);

    put_frame(&b, 0x81, KEY, data, 1000, LEN_SHORTEST);
    run_whole(&r, CH_WS_ROLE_SERVER, 1000, b.d, b.len);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_TEXT, data, 1000);
    run_free(&r);

    b.len = 0;
    put_frame(&b, 0x81, KEY, data, 1001, LEN_SHORTEST);
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1000, &b, 1009, 8, 0);      /* 16-bit header */
    b.len = 0;
    put_frame(&b, 0x82, KEY, data, 101, LEN_SHORTEST);
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 100, &b, 1009, 6, 0);       /* 7-bit header */
    b.len = 0;
    put_frame(&b, 0x82, KEY, data, 65537, LEN_SHORTEST);
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 65536, &b, 1009, 14, 0);    /* 64-bit header */
    b.len = 0;
    put_frame(&b, 0x82, NULL, data, 65537, LEN_SHORTEST);
    EXPECT_ERROR(CH_WS_ROLE_CLIENT, 65536, &b, 1009, 10, 0);
    /* A huge declared length with no payload at all. */
    b.len = 0;
    bytes_put(&b, "\x82\xFF\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 10);
    bytes_put(&b, KEY, 4);
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1u << 20, &b, 1009, 14, 0);

    /* Across fragments: 600 + 400 fits in 1000, 600 + 401 does not. */
    b.len = 0;
    put_frame(&b, 0x01, KEY, data, 600, LEN_SHORTEST);
    put_frame(&b, 0x89, KEY, data, 5, LEN_SHORTEST);
    put_frame(&b, 0x80, KEY, data, 400, LEN_SHORTEST);
    run_whole(&r, CH_WS_ROLE_SERVER, 1000, b.d, b.len);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EVENT(&r, 1, CH_WS_EV_TEXT, data, 1000);
    run_free(&r);
    b.len = 0;
    put_frame(&b, 0x01, KEY, data, 600, LEN_SHORTEST);
    put_frame(&b, 0x00, KEY, data, 399, LEN_SHORTEST);
    put_frame(&b, 0x80, KEY, data, 2, LEN_SHORTEST);
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 1000, &b, 1009, 608 + 407 + 6, 0);

    /* Control frames do not count against the limit. */
    memset(ctl, 'c', sizeof ctl);
    b.len = 0;
    put_frame(&b, 0x89, KEY, ctl, sizeof ctl, LEN_SHORTEST);
    put_frame(&b, 0x81, KEY, data, 10, LEN_SHORTEST);
    run_whole(&r, CH_WS_ROLE_SERVER, 10, b.d, b.len);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EVENT(&r, 0, CH_WS_EV_PING, ctl, sizeof ctl);
    CHECK_EVENT(&r, 1, CH_WS_EV_TEXT, data, 10);
    run_free(&r);

    /* max_message 0: only empty messages. */
    b.len = 0;
    put_str(&b, 0x81, KEY, "");
    put_str(&b, 0x01, KEY, "");
    put_str(&b, 0x80, KEY, "");
    put_str(&b, 0x82, KEY, "x");
    EXPECT_ERROR(CH_WS_ROLE_SERVER, 0, &b, 1009, 6 + 6 + 6 + 6, 2);

    /* The limit applies per message, not per connection. */
    b.len = 0;
    put_frame(&b, 0x81, KEY, data, 1000, LEN_SHORTEST);
    put_frame(&b, 0x81, KEY, data, 1000, LEN_SHORTEST);
    run_whole(&r, CH_WS_ROLE_SERVER, 1000, b.d, b.len);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.final, CH_WS_AGAIN);
    run_free(&r);

    bytes_free(&b);
    free(data);
}

/* Empty messages, fragmented or not, of both types. */
static void test_empty_messages(void)
{
    struct bytes b = {0};
    struct run r;

    put_str(&b, 0x81, KEY, "");
    put_str(&b, 0x82, KEY, "");
    put_str(&b, 0x01, KEY, "");
    put_str(&b, 0x00, KEY, "");
    put_str(&b, 0x80, KEY, "");
    put_str(&b, 0x02, KEY, "");
    put_str(&b, 0x80, KEY, "a");
    run_whole(&r, CH_WS_ROLE_SERVER, 10, b.d, b.len);
    CHECK_EQ_INT(r.violations, 0);
    CHECK_EQ_INT(r.n, 4);
    CHECK_EVENT(&r, 0, CH_WS_EV_TEXT, "", 0);
    CHECK_EVENT(&r, 1, CH_WS_EV_BINARY, "", 0);
    CHECK_EVENT(&r, 2, CH_WS_EV_TEXT, "", 0);
    CHECK_EVENT(&r, 3, CH_WS_EV_BINARY, "a", 1);
    run_free(&r);
    bytes_free(&b);
}

/* Events point into the parser and stay valid until the next feed; shrink
 * keeps a partial message and releases an idle buffer. */
static void test_feed_api(void)
{
    ch_ws_parser *p = ch_ws_parser_new(1 << 16, CH_WS_ROLE_SERVER);
    struct bytes b = {0};
    ch_ws_event ev;
    size_t used, off;
    ch_ws_result res;

    CHECK(p != NULL);
    /* Empty input. */
    res = ch_ws_parser_feed(p, NULL, 0, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_AGAIN);
    CHECK_EQ_INT(used, 0);

    put_str(&b, 0x81, KEY, "one");
    put_str(&b, 0x82, KEY, "two");
    res = ch_ws_parser_feed(p, b.d, b.len, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_EVENT);
    CHECK_EQ_INT(used, 9);
    CHECK_EQ_INT(ev.type, CH_WS_EV_TEXT);
    CHECK(ev.payload_len == 3 && memcmp(ev.payload, "one", 3) == 0);
    off = used;
    res = ch_ws_parser_feed(p, b.d + off, b.len - off, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_EVENT);
    CHECK_EQ_INT(used, 9);
    CHECK_EQ_INT(ev.type, CH_WS_EV_BINARY);
    CHECK(ev.payload_len == 3 && memcmp(ev.payload, "two", 3) == 0);
    ch_ws_parser_shrink(p);

    /* Shrink in the middle of a message keeps what has arrived. */
    b.len = 0;
    put_str(&b, 0x01, KEY, "par");
    put_str(&b, 0x80, KEY, "tial");
    res = ch_ws_parser_feed(p, b.d, 11, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_AGAIN);
    CHECK_EQ_INT(used, 11);
    ch_ws_parser_shrink(p);
    res = ch_ws_parser_feed(p, b.d + 11, b.len - 11, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_EVENT);
    CHECK_EQ_INT(used, b.len - 11);
    CHECK(ev.payload_len == 7 && memcmp(ev.payload, "partial", 7) == 0);
    ch_ws_parser_shrink(p);
    ch_ws_parser_shrink(p);

    /* After an error the parser stays dead, even for valid input. */
    b.len = 0;
    put_str(&b, 0x81, NULL, "x");
    res = ch_ws_parser_feed(p, b.d, b.len, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_ERROR);
    CHECK_EQ_INT(ev.close_code, 1002);
    CHECK_EQ_STR(ev.reason, "unmasked client frame");
    CHECK_EQ_INT(ev.reason_len, strlen("unmasked client frame"));
    b.len = 0;
    put_str(&b, 0x81, KEY, "x");
    res = ch_ws_parser_feed(p, b.d, b.len, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_ERROR);
    CHECK_EQ_INT(used, 0);
    CHECK_EQ_INT(ev.close_code, 1002);
    res = ch_ws_parser_feed(p, NULL, 0, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_ERROR);
    ch_ws_parser_free(p);
    ch_ws_parser_free(NULL);

    /* Error reasons name the problem. */
    p = ch_ws_parser_new(4, CH_WS_ROLE_SERVER);
    b.len = 0;
    put_str(&b, 0x81, KEY, "12345");
    res = ch_ws_parser_feed(p, b.d, b.len, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_ERROR);
    CHECK_EQ_INT(ev.close_code, 1009);
    CHECK(ev.reason != NULL && strlen(ev.reason) > 0);
    ch_ws_parser_free(p);
    p = ch_ws_parser_new(64, CH_WS_ROLE_SERVER);
    b.len = 0;
    put_str(&b, 0x81, KEY, "\xFF");
    res = ch_ws_parser_feed(p, b.d, b.len, &used, &ev);
    CHECK_EQ_INT(res, CH_WS_ERROR);
    CHECK_EQ_STR(ev.reason, "invalid UTF-8 in text message");
    ch_ws_parser_free(p);
    bytes_free(&b);
}

static void test_header_encode(void)
{
    uint8_t out[16];

    CHECK_EQ_INT(ch_ws_header_size(0), 2);
    CHECK_EQ_INT(ch_ws_header_size(125), 2);
    CHECK_EQ_INT(ch_ws_header_size(126), 4);
    CHECK_EQ_INT(ch_ws_header_size(65535), 4);
    CHECK_EQ_INT(ch_ws_header_size(65536), 10);

    CHECK_EQ_INT(ch_ws_header_encode(out, CH_WS_OP_TEXT, 5), 2);
    CHECK(memcmp(out, "\x81\x05", 2) == 0);
    CHECK_EQ_INT(ch_ws_header_encode(out, CH_WS_OP_PING, 0), 2);
    CHECK(memcmp(out, "\x89\x00", 2) == 0);
    CHECK_EQ_INT(ch_ws_header_encode(out, CH_WS_OP_BINARY, 125), 2);
    CHECK(memcmp(out, "\x82\x7D", 2) == 0);
    CHECK_EQ_INT(ch_ws_header_encode(out, CH_WS_OP_BINARY, 126), 4);
    CHECK(memcmp(out, "\x82\x7E\x00\x7E", 4) == 0);
    CHECK_EQ_INT(ch_ws_header_encode(out, CH_WS_OP_BINARY, 256), 4);
    CHECK(memcmp(out, "\x82\x7E\x01\x00", 4) == 0);
    CHECK_EQ_INT(ch_ws_header_encode(out, CH_WS_OP_TEXT, 65535), 4);
    CHECK(memcmp(out, "\x81\x7E\xFF\xFF", 4) == 0);
    CHECK_EQ_INT(ch_ws_header_encode(out, CH_WS_OP_BINARY, 65536), 10);
    CHECK(memcmp(out, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10) == 0);
    if (sizeof(size_t) >= 8) {
        size_t big = (size_t)((uint64_t)0x0102030405060708u);
        CHECK_EQ_INT(ch_ws_header_encode(out, CH_WS_OP_BINARY, big), 10);
        CHECK(memcmp(out, "\x82\x7F\x01\x02\x03\x04\x05\x06\x07\x08", 10) == 0);
    }

    CHECK_EQ_INT(ch_ws_client_frame_encode(out, 0, CH_WS_OP_BINARY, NULL, 0, KEY), 6);
    CHECK(memcmp(out, "\x02\x80\x37\xfa\x21\x3d", 6) == 0);
}

/* Frames from ch_ws_header_encode parse back in a client-role parser. */
static void test_server_roundtrip(void)
{
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 100000};
    uint8_t *frame = malloc(100000 + 10);
    size_t s, i;

    if (!frame)
        abort();
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int op;
        for (op = CH_WS_OP_TEXT; op <= CH_WS_OP_BINARY; op++) {
            size_t h = ch_ws_header_encode(frame, op, sizes[s]);
            struct run r;

            CHECK_EQ_INT(h, ch_ws_header_size(sizes[s]));
            for (i = 0; i < sizes[s]; i++)
                frame[h + i] = (uint8_t)('a' + i % 26);
            run_whole(&r, CH_WS_ROLE_CLIENT, 100000, frame, h + sizes[s]);
            CHECK_EQ_INT(r.n, 1);
            CHECK_EVENT(&r, 0, op == CH_WS_OP_TEXT ? CH_WS_EV_TEXT : CH_WS_EV_BINARY,
                        frame + h, sizes[s]);
            CHECK_EQ_INT(r.consumed, h + sizes[s]);
            run_free(&r);
        }
    }
    free(frame);
}

static void test_close_encode(void)
{
    uint8_t out[129];
    char reason[201];
    struct run r;
    size_t n;

    n = ch_ws_close_encode(out, 1000, "bye");
    CHECK_EQ_INT(n, 7);
    CHECK(memcmp(out, "\x88\x05\x03\xe8" "bye", 7) == 0);
    n = ch_ws_close_encode(out, 4001, NULL);
    CHECK_EQ_INT(n, 4);
    CHECK(memcmp(out, "\x88\x02\x0f\xa1", 4) == 0);
    n = ch_ws_close_encode(out, 1001, "");
    CHECK_EQ_INT(n, 4);
    n = ch_ws_close_encode(out, CH_WS_CLOSE_NO_STATUS, "ignored");
    CHECK_EQ_INT(n, 2);
    CHECK(memcmp(out, "\x88\x00", 2) == 0);
    run_whole(&r, CH_WS_ROLE_CLIENT, 16, out, n);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EVENT(&r, 0, CH_WS_EV_CLOSE, "", 0);
    CHECK_EQ_INT(r.recs[0].code, CH_WS_CLOSE_NO_STATUS);
    run_free(&r);

    /* Long ASCII reason: cut to 123 bytes, payload 125. */
    memset(reason, 'r', 200);
    reason[200] = '\0';
    n = ch_ws_close_encode(out, 1008, reason);
    CHECK_EQ_INT(n, 127);
    CHECK_EQ_INT(out[1], 125);
    run_whole(&r, CH_WS_ROLE_CLIENT, 16, out, n);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.recs[0].code, 1008);
    CHECK_EQ_INT(r.recs[0].reason_len, 123);
    run_free(&r);

    /* A three-byte character straddling byte 123 is dropped whole. */
    memset(reason, 'r', 121);
    memcpy(reason + 121, "\xE2\x82\xAC", 3);     /* bytes 121..123 */
    strcpy(reason + 124, "tail");
    n = ch_ws_close_encode(out, 1011, reason);
    CHECK_EQ_INT(n, 2 + 2 + 121);
    run_whole(&r, CH_WS_ROLE_CLIENT, 16, out, n);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.final, CH_WS_AGAIN);
    CHECK_EQ_INT(r.recs[0].code, 1011);
    CHECK_EQ_INT(r.recs[0].reason_len, 121);
    run_free(&r);

    /* Ending exactly on a boundary keeps the character. */
    memset(reason, 'r', 120);
    memcpy(reason + 120, "\xE2\x82\xAC", 3);     /* bytes 120..122 */
    strcpy(reason + 123, "tail");
    n = ch_ws_close_encode(out, 1011, reason);
    CHECK_EQ_INT(n, 127);
    CHECK(memcmp(out + 124, "\xE2\x82\xAC", 3) == 0);
    run_whole(&r, CH_WS_ROLE_CLIENT, 16, out, n);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.recs[0].reason_len, 123);
    run_free(&r);

    /* A four-byte character at the end. */
    memset(reason, 'r', 122);
    memcpy(reason + 122, "\xF0\x9F\x98\x80", 4); /* bytes 122..125 */
    reason[126] = '\0';
    n = ch_ws_close_encode(out, 3000, reason);
    CHECK_EQ_INT(n, 2 + 2 + 122);
    CHECK(ch_utf8_valid(out + 4, n - 4));
}

/* Masked client frames, including fragments, parse back in a server. */
static void test_client_roundtrip(void)
{
    uint8_t frame[1024 + 14];
    uint8_t payload[1024];
    struct bytes b = {0};
    struct run r, r1;
    size_t n, i;
    static const uint8_t key2[4] = {0xde, 0xad, 0xbe, 0xef};

    for (i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13 + 1);
    n = ch_ws_client_frame_encode(frame, 0, CH_WS_OP_BINARY, payload, 300, KEY);
    CHECK_EQ_INT(n, 4 + 4 + 300);
    bytes_put(&b, frame, n);
    n = ch_ws_client_frame_encode(frame, 1, CH_WS_OP_PING, payload, 125, key2);
    CHECK_EQ_INT(n, 2 + 4 + 125);
    bytes_put(&b, frame, n);
    n = ch_ws_client_frame_encode(frame, 1, CH_WS_OP_CONT, payload + 300, 724, key2);
    bytes_put(&b, frame, n);
    n = ch_ws_client_frame_encode(frame, 1, CH_WS_OP_TEXT, (const uint8_t *)"\xC3\xA9t\xC3\xA9", 5, KEY);
    bytes_put(&b, frame, n);
    run_whole(&r, CH_WS_ROLE_SERVER, 1024, b.d, b.len);
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_INT(r.final, CH_WS_AGAIN);
    CHECK_EVENT(&r, 0, CH_WS_EV_PING, payload, 125);
    CHECK_EVENT(&r, 1, CH_WS_EV_BINARY, payload, 1024);
    CHECK_EVENT(&r, 2, CH_WS_EV_TEXT, "\xC3\xA9t\xC3\xA9", 5);
    for (i = 1; i <= 16; i++) {
        run_chunked(&r1, CH_WS_ROLE_SERVER, 1024, b.d, b.len, i, 1);
        CHECK(runs_equal(&r, &r1));
        run_free(&r1);
    }
    run_free(&r);
    bytes_free(&b);
}

int main(void)
{
    test_rfc_examples();
    test_truncated_prefixes();
    test_split_points();
    test_interleaved_control();
    test_errors();
    test_close_frames();
    test_close_code_valid();
    test_length_forms();
    test_max_message();
    test_empty_messages();
    test_feed_api();
    test_header_encode();
    test_server_roundtrip();
    test_close_encode();
    test_client_roundtrip();
    TEST_MAIN_END();
}
