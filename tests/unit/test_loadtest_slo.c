/*
 * test_loadtest_slo.c — SLO expressions: every accepted form, refusals
 * with a message, and evaluation of each operator.
 */
#include "lt_slo.h"
#include "lt_stats.h"
#include "test.h"

#include <string.h>

static void
test_valid(void)
{
    lt_slo s;
    char err[200] = "";
    CHECK_EQ_INT(lt_slo_parse("p99<20ms,errors=0,gaps=0", &s, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK(s.c[0].is_latency);
    CHECK_EQ_INT(s.c[0].hist, -1);
    CHECK(s.c[0].stat == 'q');
    CHECK(s.c[0].q == 0.99);
    CHECK(s.c[0].op == LT_SLO_LT);
    CHECK(s.c[0].limit == 20000.0);
    CHECK_EQ_STR(s.c[0].text, "p99<20ms");
    CHECK(!s.c[1].is_latency);
    CHECK_EQ_INT(s.c[1].count, LT_M_ERRORS);
    CHECK(s.c[1].op == LT_SLO_EQ);
    CHECK(s.c[1].limit == 0.0);
    CHECK_EQ_INT(s.c[2].count, LT_M_GAPS);

    CHECK_EQ_INT(lt_slo_parse(" p99.9 <= 1.5ms , p999<1500us,p9999>=2s, p50==300us ", &s, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n, 4);
    CHECK(s.c[0].q > 0.9989 && s.c[0].q < 0.9991);
    CHECK(s.c[0].op == LT_SLO_LE);
    CHECK(s.c[0].limit == 1500.0);
    CHECK_EQ_STR(s.c[0].text, "p99.9 <= 1.5ms");
    CHECK(s.c[1].q > 0.9989 && s.c[1].q < 0.9991);
    CHECK(s.c[1].limit == 1500.0);
    CHECK(s.c[2].q > 0.99989 && s.c[2].q < 0.99991);
    CHECK(s.c[2].op == LT_SLO_GE);
    CHECK(s.c[2].limit == 2e6);
    CHECK(s.c[3].q == 0.5);
    CHECK(s.c[3].op == LT_SLO_EQ);

    CHECK_EQ_INT(lt_slo_parse("connect.p99<50,catchup.max<10s,ack.mean<2ms,eph.min>0,latency.p90<5ms", &s,
                              err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n, 5);
    CHECK_EQ_INT(s.c[0].hist, LT_H_CONNECT);
    CHECK(s.c[0].limit == 50000.0); /* no unit: milliseconds */
    CHECK_EQ_INT(s.c[1].hist, LT_H_CATCHUP);
    CHECK(s.c[1].stat == 'x');
    CHECK(s.c[1].limit == 10e6);
    CHECK_EQ_INT(s.c[2].hist, LT_H_ACK);
    CHECK(s.c[2].stat == 'a');
    CHECK_EQ_INT(s.c[3].hist, LT_H_EPH);
    CHECK(s.c[3].stat == 'n');
    CHECK(s.c[3].op == LT_SLO_GT);
    CHECK_EQ_INT(s.c[4].hist, LT_H_LATENCY);

    CHECK_EQ_INT(lt_slo_parse("reconnect.p99<2s,reconnects>0", &s, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK(s.c[0].is_latency);
    CHECK_EQ_INT(s.c[0].hist, LT_H_RECONNECT);
    CHECK(s.c[0].limit == 2e6);
    CHECK(!s.c[1].is_latency);
    CHECK_EQ_INT(s.c[1].count, LT_M_RECONNECTS);
    CHECK(s.c[1].op == LT_SLO_GT);

    CHECK_EQ_INT(lt_slo_parse("dups=0,reorders=0,missing=0,extra<=10,failed=0,unacked=0,not_caught_up=0,max<1s",
                              &s, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n, 8);
    CHECK_EQ_INT(s.c[0].count, LT_M_DUPS);
    CHECK_EQ_INT(s.c[3].count, LT_M_EXTRA);
    CHECK(s.c[3].limit == 10.0);
    CHECK_EQ_INT(s.c[6].count, LT_M_NOT_CAUGHT_UP);
    CHECK(s.c[7].is_latency && s.c[7].stat == 'x');
}

static void
expect_invalid(const char *expr, const char *needle)
{
    lt_slo s;
    char err[200] = "";
    int rc = lt_slo_parse(expr, &s, err, sizeof(err));
    CHECK_EQ_INT(rc, -1);
    if (!strstr(err, needle)) {
        fprintf(stderr, "  '%s': message '%s' lacks '%s'\n", expr, err, needle);
        CHECK(0);
    }
}

static void
test_invalid(void)
{
    expect_invalid("", "empty");
    expect_invalid("p99<20ms,", "empty condition");
    expect_invalid("p99<20ms,,gaps=0", "empty condition");
    expect_invalid("p99", "expected <");
    expect_invalid("p99 20ms", "expected <");
    expect_invalid("p99<", "expected a value");
    expect_invalid("p99<abc", "not a non-negative number");
    expect_invalid("p99<-1ms", "not a non-negative number");
    expect_invalid("p99<5min", "unit");
    expect_invalid("errors<1ms", "no unit");
    expect_invalid("bananas<1", "unknown metric");
    expect_invalid("p9<1ms", "unknown metric");
    expect_invalid("p<1ms", "unknown metric");
    expect_invalid("p99.<1ms", "unknown metric");
    expect_invalid("p100.5<1ms", "unknown metric");
    expect_invalid("nosuch.p99<1ms", "unknown metric");
    expect_invalid("<5", "metric name");
    expect_invalid("p99!5", "expected <");
    CHECK_EQ_INT(lt_slo_parse(NULL, &(lt_slo){ 0 }, NULL, 0), -1);
}

static double
fake_value(void *ctx, const lt_slo_cond *c)
{
    (void)ctx;
    if (c->is_latency) return c->stat == 'x' ? 30000.0 : 12000.0;
    return c->count == LT_M_GAPS ? 2.0 : 0.0;
}

static void
test_eval(void)
{
    lt_slo s;
    char err[200];
    double v[LT_SLO_MAX];
    int pass[LT_SLO_MAX];
    CHECK_EQ_INT(lt_slo_parse("p99<20ms,max<20ms,errors=0,gaps=0,gaps<=2,gaps>1,gaps>=3,p50>12ms,p50>=12ms",
                              &s, err, sizeof(err)), 0);
    CHECK_EQ_INT(lt_slo_eval(&s, fake_value, NULL, v, pass), 4);
    CHECK_EQ_INT(pass[0], 1);
    CHECK(v[0] == 12000.0);
    CHECK_EQ_INT(pass[1], 0);
    CHECK(v[1] == 30000.0);
    CHECK_EQ_INT(pass[2], 1);
    CHECK_EQ_INT(pass[3], 0);
    CHECK(v[3] == 2.0);
    CHECK_EQ_INT(pass[4], 1);
    CHECK_EQ_INT(pass[5], 1);
    CHECK_EQ_INT(pass[6], 0);
    CHECK_EQ_INT(pass[7], 0);
    CHECK_EQ_INT(pass[8], 1);
    CHECK_EQ_INT(lt_slo_eval(&s, fake_value, NULL, NULL, NULL), 4);

    char out[32];
    lt_slo_format(&s.c[0], 12000.0, out, sizeof(out));
    CHECK_EQ_STR(out, "12ms");
    lt_slo_format(&s.c[0], 850.0, out, sizeof(out));
    CHECK_EQ_STR(out, "850us");
    lt_slo_format(&s.c[0], 2.5e6, out, sizeof(out));
    CHECK_EQ_STR(out, "2.5s");
    lt_slo_format(&s.c[2], 3.0, out, sizeof(out));
    CHECK_EQ_STR(out, "3");
}

int
main(void)
{
    test_valid();
    test_invalid();
    test_eval();
    TEST_MAIN_END();
}
