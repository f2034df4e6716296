/*
 * test_loadtest_report.c — the parts between the workers and the reports:
 * per-room delivery accounting, merging worker results, their pipe
 * encoding, the command line, and the JSON and HTML reports (parsed back /
 * checked for self-containment).
 */
#include "lt_config.h"
#include "lt_report.h"
#include "lt_results.h"
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void
test_room_accounting(void)
{
    lt_room_result room = { 0 };
    lt_room_check k;
    room.acked = 10;
    CHECK_EQ_INT(lt_room_add(&room, 10, 3), 0);
    CHECK_EQ_INT(lt_room_add(&room, 8, 2), 0);
    CHECK_EQ_INT(lt_room_add(&room, 10, 2), 0);
    CHECK_EQ_INT(lt_room_add(&room, 12, 1), 0);
    CHECK_EQ_INT(lt_room_add(&room, 99, 0), 0); /* no members: nothing */
    CHECK_EQ_INT(room.n, 3);
    lt_room_compute(&room, &k);
    CHECK_EQ_INT(k.members, 8);
    CHECK_EQ_INT(k.expected, 80);
    CHECK_EQ_INT(k.received, 50 + 16 + 12);
    CHECK_EQ_INT(k.missing, 4);
    CHECK_EQ_INT(k.extra, 2);
    /* Many distinct values grow the pair array. */
    for (uint64_t d = 100; d < 200; d++) CHECK_EQ_INT(lt_room_add(&room, d, 1), 0);
    CHECK_EQ_INT(room.n, 103);
    free(room.d);
}

/* Fills r as a worker would: counts, a few latencies, two rooms. */
static void
fake_worker(lt_results *r, uint64_t base, int64_t t0)
{
    r->connect_first_us = t0;
    r->connect_last_us = t0 + 500000;
    r->start_us = t0 + 1000000;
    r->end_us = t0 + 4000000;
    r->initial_ready = 150;
    r->initial_failed = base % 2;
    r->counts.c[LT_C_SENT] = 300;
    r->counts.c[LT_C_ACKED] = 300;
    r->counts.c[LT_C_RECV] = 4500;
    r->counts.c[LT_C_CONN_OPEN] = 150;
    r->counts.err[LT_E_RATE_LIMITED] = base;
    for (uint64_t v = 1; v <= 1000; v++) lt_hist_record(&r->hist[LT_H_LATENCY], v * 10 + base);
    lt_hist_record(&r->hist[LT_H_CONNECT], 5000);
    r->rooms[0].acked = 150;
    lt_room_add(&r->rooms[0], 300, 10);
    r->rooms[2].acked = 150;
    lt_room_add(&r->rooms[2], 300, 5);
    /* Two workers' acks interleave: worker base 1 got the odd seqs, base 2
     * the even ones. */
    for (int64_t q = (int64_t)(base % 2 ? 1 : 2); q <= 300; q += 2) {
        lt_seqset_add(&r->rooms[0].seqs, q);
        lt_seqset_add(&r->rooms[2].seqs, q);
    }
    r->counts.retried[LT_E_CLOSE_1001] = 4 * base;
    r->counts.c[LT_C_DISCONNECTS] = 4 * base;
    r->counts.c[LT_C_RECONNECTS] = 4 * base;
    lt_hist_record(&r->hist[LT_H_RECONNECT], 80000 + base);
}

static void
test_merge_and_encode(void)
{
    lt_results a, b, d;
    CHECK_EQ_INT(lt_results_init(&a, 3), 0);
    CHECK_EQ_INT(lt_results_init(&b, 3), 0);
    fake_worker(&a, 1, 1000000000);
    fake_worker(&b, 2, 1000000100);

    ch_buf buf;
    ch_buf_init(&buf);
    lt_results_encode(&buf, &b);
    CHECK(!buf.oom);
    CHECK_EQ_INT(lt_results_init(&d, 3), 0);
    CHECK_EQ_INT(lt_results_decode((const uint8_t *)buf.data, buf.len, &d), 0);
    CHECK(memcmp(&d.counts, &b.counts, sizeof(d.counts)) == 0);
    CHECK(memcmp(d.hist, b.hist, sizeof(d.hist)) == 0);
    CHECK_EQ_INT(d.rooms[0].acked, 150);
    CHECK_EQ_INT(d.rooms[1].acked, 0);
    CHECK_EQ_INT(d.rooms[2].n, 1);
    CHECK_EQ_INT(d.rooms[2].d[0].members, 5);
    CHECK_EQ_INT(d.start_us, b.start_us);
    CHECK_EQ_INT(d.rooms[0].seqs.count, 150);
    CHECK(lt_seqset_has(&d.rooms[0].seqs, 300) && !lt_seqset_has(&d.rooms[0].seqs, 299));
    CHECK_EQ_INT(d.rooms[1].seqs.count, 0);
    CHECK_EQ_INT(d.counts.retried[LT_E_CLOSE_1001], 8);
    lt_results_free(&d);
    /* Truncated or padded records are refused. */
    int refused = 0, tries = 0;
    for (size_t cut = 0; cut < buf.len; cut += 13, tries++) {
        lt_results t;
        lt_results_init(&t, 3);
        refused += lt_results_decode((const uint8_t *)buf.data, cut, &t) < 0;
        lt_results_free(&t);
    }
    CHECK_EQ_INT(refused, tries);
    ch_buf_append(&buf, "x", 1);
    lt_results_init(&d, 3);
    CHECK_EQ_INT(lt_results_decode((const uint8_t *)buf.data, buf.len, &d), -1);
    lt_results_free(&d);
    /* A room index beyond this run's rooms is refused. */
    lt_results_init(&d, 2);
    ch_buf_reset(&buf);
    lt_results_encode(&buf, &b);
    CHECK_EQ_INT(lt_results_decode((const uint8_t *)buf.data, buf.len, &d), -1);
    lt_results_free(&d);
    ch_buf_free(&buf);

    CHECK_EQ_INT(lt_results_merge(&a, &b), 0);
    CHECK_EQ_INT(a.connect_first_us, 1000000000);
    CHECK_EQ_INT(a.end_us, 1000000100 + 4000000);
    CHECK_EQ_INT(a.initial_ready, 300);
    CHECK_EQ_INT(a.initial_failed, 1);
    CHECK_EQ_INT(a.counts.c[LT_C_SENT], 600);
    CHECK_EQ_INT(a.counts.err[LT_E_RATE_LIMITED], 3);
    CHECK_EQ_INT(a.hist[LT_H_LATENCY].count, 2000);
    CHECK_EQ_INT(a.hist[LT_H_LATENCY].min, 11);
    CHECK_EQ_INT(a.hist[LT_H_LATENCY].max, 10002);
    CHECK_EQ_INT(a.rooms[0].acked, 300);
    CHECK_EQ_INT(a.rooms[0].n, 1);
    /* The merged seqs are 1..300, none acked twice. */
    int64_t runs[2][2];
    CHECK_EQ_INT(a.rooms[0].seqs.count, 300);
    CHECK_EQ_INT(a.rooms[0].seqs.conflicts, 0);
    CHECK_EQ_INT(lt_seqset_ranges(&a.rooms[0].seqs, runs, 2), 1);
    CHECK_EQ_INT(runs[0][0], 1);
    CHECK_EQ_INT(runs[0][1], 300);
    CHECK_EQ_INT(a.counts.retried[LT_E_CLOSE_1001], 12);
    CHECK_EQ_INT(lt_counts_retried(&a.counts), 12);
    CHECK_EQ_INT(lt_counts_errors(&a.counts), 3); /* retried endings are not errors */
    CHECK_EQ_INT(a.rooms[0].d[0].members, 20);
    lt_room_check k;
    lt_room_compute(&a.rooms[0], &k);
    CHECK_EQ_INT(k.expected, 6000);
    CHECK_EQ_INT(k.received, 6000);
    CHECK_EQ_INT(k.missing, 0);
    lt_results_free(&a);
    lt_results_free(&b);
}

static int
parse(lt_config *cfg, const char *const *args, char *err, size_t errlen)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"chorus-loadtest";
    for (; *args; args++) argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = lt_config_parse(argc, argv, cfg, devnull, err, errlen);
    fclose(devnull);
    return rc;
}

static void
expect_usage_error(const char *const *args, const char *needle)
{
    static lt_config cfg;
    char err[512] = "";
    CHECK_EQ_INT(parse(&cfg, args, err, sizeof(err)), -1);
    if (!strstr(err, needle)) {
        fprintf(stderr, "  usage error '%s' lacks '%s'\n", err, needle);
        CHECK(0);
    }
}

static void
test_config(void)
{
    static lt_config cfg;
    char err[512] = "";
    const char *full[] = { "fanout", "--url", "ws://127.0.0.1:8080/ws,ws://127.0.0.1:8081/chorus", "--url=ws://[::1]:9000",
                           "--secret", "s3", "--connections", "300", "--rooms", "10", "--publishers", "4",
                           "--rate", "500", "--duration", "3", "--procs", "2", "--json", "out.json",
                           "--slo", "p99<20ms,errors=0", "--source", "127.0.0.2, 127.0.0.3", "--room-prefix",
                           "bench.x", "--payload", "100", "--quiet", NULL };
    CHECK_EQ_INT(parse(&cfg, full, err, sizeof(err)), 0);
    CHECK_EQ_INT(cfg.scenario, LT_SC_FANOUT);
    CHECK_EQ_INT(cfg.nurls, 3);
    CHECK_EQ_STR(cfg.urls[0].host, "127.0.0.1:8080");
    CHECK_EQ_STR(cfg.urls[0].path, "/ws");
    CHECK_EQ_STR(cfg.urls[1].path, "/chorus");
    CHECK_EQ_STR(cfg.urls[2].host, "[::1]:9000");
    CHECK_EQ_STR(cfg.urls[2].path, "/ws");
    CHECK_EQ_INT(cfg.urls[2].addr.ss_family, AF_INET6);
    CHECK_EQ_INT(cfg.nsources, 2);
    CHECK_EQ_STR(cfg.sources[1].text, "127.0.0.3");
    CHECK_EQ_STR(cfg.secret, "s3");
    CHECK_EQ_INT(cfg.connections, 300);
    CHECK_EQ_INT(cfg.publishers, 4);
    CHECK(cfg.rate == 500.0);
    CHECK_EQ_INT(cfg.procs, 2);
    CHECK_EQ_INT(cfg.slo.n, 2);
    CHECK_EQ_STR(cfg.room_prefix, "bench.x");
    CHECK_EQ_INT(cfg.payload, 100);
    CHECK(cfg.quiet);
    /* Reconnect is on by default, with 100 ms .. 5 s of backoff; tokens go
     * in the Authorization header. */
    CHECK(cfg.reconnect);
    CHECK(lt_config_reconnects(&cfg));
    CHECK(cfg.backoff_min == 0.1);
    CHECK(cfg.backoff_max == 5.0);
    CHECK_EQ_INT(cfg.ntoken_via, 1);
    CHECK_EQ_INT(cfg.token_via[0], LT_TOKEN_HEADER);
    /* Layout: 300 subscribers then 4 publishers, rooms round-robin. */
    CHECK_EQ_INT(lt_config_total_clients(&cfg), 304);
    CHECK(!lt_config_is_publisher(&cfg, 299));
    CHECK(lt_config_is_publisher(&cfg, 300));
    CHECK_EQ_INT(lt_config_room_of(&cfg, 23), 3);
    CHECK_EQ_INT(lt_config_room_of(&cfg, 303), 3);
    CHECK_EQ_INT(lt_config_publisher_index(&cfg, 302), 2);
    CHECK_EQ_INT(lt_config_publisher_count(&cfg), 4);

    /* Defaults: publishers = rooms, procs from the socket count. */
    const char *dflt[] = { "reconnect-storm", "--url", "ws://localhost:1/ws", "--token", "t", "--connections",
                           "40000", "--rooms", "7", "--duration", "8", NULL };
    CHECK_EQ_INT(parse(&cfg, dflt, err, sizeof(err)), 0);
    CHECK_EQ_INT(cfg.publishers, 7);
    CHECK_EQ_INT(cfg.procs, 3);
    CHECK(cfg.drop_at == 4.0);
    CHECK_EQ_STR(cfg.room_prefix, "lt");
    CHECK_EQ_INT(cfg.window, 16);
    CHECK_EQ_INT(lt_config_main_hist(&cfg), LT_H_LATENCY);

    const char *chat[] = { "chat", "--url", "ws://127.0.0.1:1", "--token", "t", "--publishers", "9", NULL };
    CHECK_EQ_INT(parse(&cfg, chat, err, sizeof(err)), 0);
    CHECK_EQ_INT(lt_config_separate_publishers(&cfg), 0);
    CHECK_EQ_INT(lt_config_publisher_count(&cfg), 100);
    CHECK(lt_config_is_publisher(&cfg, 5));

    const char *recon[] = { "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--no-reconnect",
                            "--token-via", "query, subprotocol,header", "--backoff-min", "0.05",
                            "--backoff-max=2", NULL };
    CHECK_EQ_INT(parse(&cfg, recon, err, sizeof(err)), 0);
    CHECK(!cfg.reconnect);
    CHECK(!lt_config_reconnects(&cfg));
    CHECK_EQ_INT(cfg.ntoken_via, 3);
    CHECK_EQ_INT(cfg.token_via[0], LT_TOKEN_QUERY);
    CHECK_EQ_INT(cfg.token_via[1], LT_TOKEN_SUBPROTOCOL);
    CHECK_EQ_INT(cfg.token_via[2], LT_TOKEN_HEADER);
    CHECK(cfg.backoff_min == 0.05);
    CHECK(cfg.backoff_max == 2.0);
    const char *recon2[] = { "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--no-reconnect", "--reconnect",
                             NULL };
    CHECK_EQ_INT(parse(&cfg, recon2, err, sizeof(err)), 0);
    CHECK(lt_config_reconnects(&cfg));

    const char *storm[] = { "connect-storm", "--url", "ws://127.0.0.1:1", "--token", "t", NULL };
    CHECK_EQ_INT(parse(&cfg, storm, err, sizeof(err)), 0);
    CHECK(cfg.duration == 0.0);
    CHECK(!lt_config_reconnects(&cfg)); /* no room to rejoin */
    CHECK_EQ_INT(lt_config_main_hist(&cfg), LT_H_CONNECT);

    const char *help[] = { "--help", NULL };
    CHECK_EQ_INT(parse(&cfg, help, err, sizeof(err)), 1);

    expect_usage_error((const char *const[]){ "--url", "ws://127.0.0.1:1", "--token", "t", NULL }, "SCENARIO");
    expect_usage_error((const char *const[]){ "flood", NULL }, "unknown scenario");
    expect_usage_error((const char *const[]){ "idle", "--token", "t", NULL }, "--url");
    expect_usage_error((const char *const[]){ "idle", "--url", "http://x:1", "--token", "t", NULL }, "ws://");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:0", "--token", "t", NULL }, "port");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", NULL }, "--secret");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--secret", "s",
                                              NULL }, "not both");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--connections",
                                              "many", NULL }, "--connections");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--rate", "-1",
                                              NULL }, "--rate");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--slo",
                                              "p99<<1", NULL }, "SLO");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--source",
                                              "not-an-ip", NULL }, "--source");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--room-prefix",
                                              "a b", NULL }, "--room-prefix");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--bogus", "1",
                                              NULL }, "unknown flag");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--rooms",
                                              NULL }, "needs a value");
    expect_usage_error((const char *const[]){ "fanout", "--url", "ws://127.0.0.1:1", "--token", "t", "--publishers",
                                              "0", NULL }, "--publishers");
    expect_usage_error((const char *const[]){ "reconnect-storm", "--url", "ws://127.0.0.1:1", "--token", "t",
                                              "--duration", "4", "--drop-at", "5", NULL }, "--drop-at");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--token-via",
                                              "cookie", NULL }, "--token-via");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--token-via",
                                              ",", NULL }, "--token-via");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--backoff-min",
                                              "2", "--backoff-max", "1", NULL }, "--backoff-max");
    expect_usage_error((const char *const[]){ "idle", "--url", "ws://127.0.0.1:1", "--token", "t", "--backoff-min",
                                              "0", NULL }, "--backoff-min");
}

/* A finished run with one room short of deliveries. */
static void
make_report(lt_config *cfg, lt_results *r, lt_series *s, lt_report *rep, const char *slo)
{
    char err[256];
    const char *args[] = { "fanout", "--url", "ws://127.0.0.1:8080/ws", "--secret", "x<y>&\"z", "--connections",
                           "20", "--rooms", "3", "--publishers", "2", "--slo", slo, NULL };
    CHECK_EQ_INT(parse(cfg, args, err, sizeof(err)), 0);
    lt_results_init(r, 3);
    fake_worker(r, 0, 1700000000000000LL);
    r->rooms[1].acked = 10;
    lt_room_add(&r->rooms[1], 9, 2);
    r->hist[LT_H_ACK] = r->hist[LT_H_LATENCY];
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < 5; i++) {
        lt_series_row row = { .t = i + 1.0, .phase = "running", .open = 22, .joined = 22, .sent_ps = 100,
                              .acked_ps = 100, .recv_ps = 1500, .lat_count = i ? 100u : 0u, .p50_us = 800,
                              .p99_us = 2000, .max_us = 3000 };
        CHECK_EQ_INT(lt_series_push(s, &row), 0);
    }
    memset(rep, 0, sizeof(*rep));
    rep->cfg = cfg;
    rep->res = r;
    rep->series = s;
    rep->run_id = "abc123";
    rep->workers = 2;
    lt_report_compute(rep);
}

static void
test_json_report(void)
{
    static lt_config cfg;
    lt_results r;
    lt_series s;
    lt_report rep;
    make_report(&cfg, &r, &s, &rep, "p99<20ms,errors=0,missing=0");
    CHECK_EQ_INT(rep.sum.members, 17);
    CHECK_EQ_INT(rep.sum.expected, 150 * 15 + 20);
    CHECK_EQ_INT(rep.sum.missing, 2);
    CHECK_EQ_INT(rep.slo_failed, 1);
    CHECK_EQ_INT(rep.slo_pass[0], 1);
    CHECK_EQ_INT(rep.slo_pass[2], 0);
    CHECK_EQ_INT(rep.exit_code, 3);
    CHECK(rep.sum.run_seconds == 3.0);
    CHECK(rep.sum.acked_per_s == 100.0);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_EQ_INT(lt_report_write_json(&rep, f), 0);
    fclose(f);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    CHECK(root != NULL);
    if (root) {
        CHECK_EQ_STR(json_string_value(json_object_get(root, "scenario")), "fanout");
        json_t *d = json_object_get(root, "deliveries");
        CHECK_EQ_INT(json_integer_value(json_object_get(d, "expected")), 2270);
        CHECK_EQ_INT(json_integer_value(json_object_get(d, "missing")), 2);
        json_t *rooms = json_object_get(root, "rooms");
        CHECK_EQ_INT(json_array_size(rooms), 3);
        json_t *r1 = json_array_get(rooms, 1);
        CHECK_EQ_STR(json_string_value(json_object_get(r1, "room")), "lt-1");
        CHECK_EQ_INT(json_integer_value(json_object_get(r1, "members")), 2);
        CHECK_EQ_INT(json_integer_value(json_object_get(r1, "acked")), 10);
        CHECK_EQ_INT(json_integer_value(json_object_get(r1, "received")), 18);
        /* Room 0: its acked seqs, as runs. */
        json_t *seqs = json_object_get(json_array_get(rooms, 0), "acked_seqs");
        CHECK_EQ_INT(json_integer_value(json_object_get(seqs, "count")), 150);
        CHECK_EQ_INT(json_integer_value(json_object_get(seqs, "min")), 2);
        CHECK_EQ_INT(json_integer_value(json_object_get(seqs, "max")), 300);
        CHECK_EQ_INT(json_integer_value(json_object_get(seqs, "conflicts")), 0);
        CHECK(json_is_true(json_object_get(seqs, "complete")));
        CHECK_EQ_INT(json_integer_value(json_object_get(seqs, "ranges_total")), 150);
        CHECK_EQ_INT(json_array_size(json_object_get(seqs, "ranges")), 64);
        json_t *run0 = json_array_get(json_object_get(seqs, "ranges"), 0);
        CHECK_EQ_INT(json_integer_value(json_array_get(run0, 0)), 2);
        CHECK_EQ_INT(json_integer_value(json_array_get(run0, 1)), 2);
        /* Reconnects: counted apart from errors, with the time to reconnect. */
        json_t *rc = json_object_get(root, "reconnect");
        CHECK(json_is_true(json_object_get(rc, "enabled")));
        CHECK_EQ_INT(json_integer_value(json_object_get(rc, "disconnects")), 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(rc, "time_p50_us")), 80000);
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(rc, "causes"), "close_1001")), 0);
        CHECK(json_is_true(json_object_get(json_object_get(root, "config"), "reconnect")));
        CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(json_object_get(root, "config"), "token_via"),
                                                      0)), "header");
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(root, "publishes"), "seq_conflicts")), 0);
        json_t *lat = json_object_get(json_object_get(root, "latency"), "latency");
        CHECK_EQ_INT(json_integer_value(json_object_get(lat, "count")), 1000);
        CHECK_EQ_INT(json_integer_value(json_object_get(lat, "max")), 10000);
        CHECK(json_array_size(json_object_get(lat, "percentiles")) == (size_t)lt_report_nquantiles);
        json_t *errs = json_object_get(json_object_get(root, "errors"), "by_kind");
        CHECK_EQ_INT(json_integer_value(json_object_get(errs, "rate_limited")), 0);
        CHECK_EQ_INT(json_array_size(json_object_get(root, "series")), 5);
        json_t *slo = json_object_get(root, "slo");
        CHECK(json_is_false(json_object_get(slo, "pass")));
        CHECK_EQ_INT(json_array_size(json_object_get(slo, "conditions")), 3);
        CHECK_EQ_INT(json_integer_value(json_object_get(root, "exit_code")), 3);
        /* The secret never appears in a report. */
        CHECK(strstr(text, "x<y>") == NULL);
        json_decref(root);
    }
    free(text);

    text = NULL;
    f = open_memstream(&text, &len);
    lt_report_print(&rep, f);
    fclose(f);
    CHECK(strstr(text, "missing 2") != NULL);
    CHECK(strstr(text, "FAIL missing=0") != NULL);
    CHECK(strstr(text, "reconnects") == NULL); /* nothing was lost */
    free(text);

    /* Connections lost and survived: a reconnects line with the causes. */
    r.counts.c[LT_C_DISCONNECTS] = 3;
    r.counts.c[LT_C_RECONNECTS] = 3;
    r.counts.c[LT_C_RESENT] = 5;
    r.counts.c[LT_C_DEDUPED] = 2;
    r.counts.retried[LT_E_CLOSE_1001] = 2;
    r.counts.retried[LT_E_LOST] = 1;
    lt_report_compute(&rep);
    CHECK_EQ_INT(rep.sum.errors, 0);
    text = NULL;
    f = open_memstream(&text, &len);
    lt_report_print(&rep, f);
    fclose(f);
    CHECK(strstr(text, "3 connections lost, 3 rejoined") != NULL);
    CHECK(strstr(text, "close_1001=2") != NULL);
    CHECK(strstr(text, "connection_lost=1") != NULL);
    CHECK(strstr(text, "5 publishes resent with their cid (2 already stored)") != NULL);
    CHECK(strstr(text, "  reconnect     p50") != NULL);
    free(text);
    lt_series_free(&s);
    lt_results_free(&r);
}

static void
test_html_report(void)
{
    static lt_config cfg;
    lt_results r;
    lt_series s;
    lt_report rep;
    make_report(&cfg, &r, &s, &rep, "errors=0");
    r.counts.c[LT_C_DISCONNECTS] = 3;
    r.counts.retried[LT_E_CLOSE_1001] = 3;
    lt_report_compute(&rep);
    CHECK_EQ_INT(rep.exit_code, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_EQ_INT(lt_report_write_html(&rep, f), 0);
    fclose(f);
    CHECK(strncmp(text, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(text, "</html>") != NULL);
    int svgs = 0;
    for (const char *p = text; (p = strstr(p, "<svg")); p++) svgs++;
    CHECK_EQ_INT(svgs, 5); /* 2 by percentile, throughput, connections, latency per second */
    CHECK(strstr(text, "<polyline") != NULL);
    CHECK(strstr(text, "3 connections lost") != NULL);
    CHECK(strstr(text, "close_1001 3") != NULL);
    CHECK(strstr(text, "Connect, reconnect and catch-up time") != NULL);
    /* Self-contained: no scripts, links or fetched resources. */
    CHECK(strstr(text, "<script") == NULL);
    CHECK(strstr(text, "src=") == NULL);
    CHECK(strstr(text, "href=") == NULL);
    CHECK(strstr(text, "@import") == NULL);
    CHECK(strstr(text, "x<y>") == NULL);
    free(text);
    lt_series_free(&s);
    lt_results_free(&r);
}

int
main(void)
{
    test_room_accounting();
    test_merge_and_encode();
    test_config();
    test_json_report();
    test_html_report();
    TEST_MAIN_END();
}
