/*
 * test_loadtest_msg.c — the load tester's scanner for server messages
 * (every message type it uses, escapes and nesting it must skip, every
 * truncated prefix refused without reading past the end) and its token
 * minting, checked with the gateway's own verifier.
 */
#include "jwt_auth.h"
#include "lt_jwt.h"
#include "lt_msg.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT "{\"type\":\"event\",\"room\":\"lt-3\",\"seq\":21,\"epoch\":1795326021244,\"ts\":1795326031125," \
              "\"author\":\"al\\\"ice\",\"session\":\"gw1.5f2a1c.17\",\"kind\":\"message\",\"cid\":\"r.1.2\"," \
              "\"payload\":{\"p\":\"}{][\\\"x\",\"nested\":{\"t\":5},\"t\":1700000000123456}}"

/* Parses a copy placed in its own allocation, so reading past the end is
 * caught by AddressSanitizer. */
static int
parse_exact(const char *s, size_t n, lt_msg *m)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    int rc = lt_msg_parse(copy, n, m);
    /* Pointers into copy must not be used after this; keep only scalars. */
    m->room = m->code = m->payload = NULL;
    free(copy);
    return rc;
}

static void
test_event(void)
{
    lt_msg m;
    CHECK_EQ_INT(lt_msg_parse(EVENT, strlen(EVENT), &m), 0);
    CHECK_EQ_INT(m.type, LT_MSG_EVENT);
    CHECK(m.has_seq);
    CHECK_EQ_INT(m.seq, 21);
    CHECK(m.has_epoch);
    CHECK_EQ_INT(m.epoch, 1795326021244LL);
    CHECK(m.room && m.room_len == 4 && memcmp(m.room, "lt-3", 4) == 0);
    CHECK(!m.ephemeral);
    CHECK(!m.has_id);
    CHECK(m.has_t);
    CHECK_EQ_INT(m.t, 1700000000123456LL);
    CHECK(m.payload && m.payload[0] == '{' && m.payload[m.payload_len - 1] == '}');

    const char *eph = "{ \"type\" : \"event\" , \"room\":\"wb\",\"ephemeral\":true,\"author\":\"bob\","
                      "\"kind\":\"stroke.point\",\"ts\":1,\"payload\":{\"t\":77,\"x\":[1,2,{\"y\":\"]\"}]}}";
    CHECK_EQ_INT(lt_msg_parse(eph, strlen(eph), &m), 0);
    CHECK_EQ_INT(m.type, LT_MSG_EVENT);
    CHECK(m.ephemeral);
    CHECK(!m.has_seq);
    CHECK(m.has_t);
    CHECK_EQ_INT(m.t, 77);

    /* A payload that is not an object, or whose t is not an integer. */
    const char *p1 = "{\"type\":\"event\",\"seq\":1,\"payload\":[1,2]}";
    CHECK_EQ_INT(lt_msg_parse(p1, strlen(p1), &m), 0);
    CHECK(!m.has_t);
    const char *p2 = "{\"type\":\"event\",\"seq\":1,\"payload\":{\"t\":\"soon\"}}";
    CHECK_EQ_INT(lt_msg_parse(p2, strlen(p2), &m), 0);
    CHECK(!m.has_t);
    const char *p3 = "{\"type\":\"event\",\"seq\":1,\"payload\":{\"t\":1.5}}";
    CHECK_EQ_INT(lt_msg_parse(p3, strlen(p3), &m), 0);
    CHECK(!m.has_t);
}

static void
test_other_types(void)
{
    lt_msg m;
    const char *ack = "{\"type\":\"ack\",\"id\":4,\"room\":\"board:42\",\"cid\":\"c-8f1e\",\"seq\":21,"
                      "\"epoch\":1795326021244,\"duplicate\":true}";
    CHECK_EQ_INT(lt_msg_parse(ack, strlen(ack), &m), 0);
    CHECK_EQ_INT(m.type, LT_MSG_ACK);
    CHECK(m.has_id);
    CHECK_EQ_INT(m.id, 4);
    CHECK_EQ_INT(m.seq, 21);
    CHECK(m.duplicate);

    const char *eack = "{\"type\":\"ack\",\"id\":9,\"room\":\"r\"}";
    CHECK_EQ_INT(lt_msg_parse(eack, strlen(eack), &m), 0);
    CHECK(m.has_id && !m.has_seq && !m.duplicate);

    const char *err = "{\"type\":\"error\",\"id\":\"x\",\"code\":\"rate_limited\",\"message\":\"slow, \\\"down\\\"\","
                      "\"room\":\"r\"}";
    CHECK_EQ_INT(lt_msg_parse(err, strlen(err), &m), 0);
    CHECK_EQ_INT(m.type, LT_MSG_ERROR);
    CHECK(!m.has_id); /* a string id is not an integer */
    CHECK(m.code && m.code_len == 12 && memcmp(m.code, "rate_limited", 12) == 0);

    const char *joined = "{\"type\":\"joined\",\"id\":0,\"room\":\"lt-0\",\"seq\":20,\"epoch\":17,"
                         "\"presence\":[{\"user\":\"a\",\"name\":\"A\",\"session\":\"s\"},{\"user\":\"b\"}]}";
    CHECK_EQ_INT(lt_msg_parse(joined, strlen(joined), &m), 0);
    CHECK_EQ_INT(m.type, LT_MSG_JOINED);
    CHECK(m.has_id);
    CHECK_EQ_INT(m.id, 0);
    CHECK_EQ_INT(m.seq, 20);
    CHECK_EQ_INT(m.epoch, 17);

    const char *welcome = "{\"type\":\"welcome\",\"node\":\"gw1\",\"session\":\"gw1.1.2\",\"user\":\"lt-0-1\","
                          "\"protocol\":1,\"token_exp\":1795329621,\"limits\":{\"max_message\":65536,"
                          "\"max_rooms\":100,\"publish_rate\":100,\"outbound_limit\":1048576}}";
    CHECK_EQ_INT(lt_msg_parse(welcome, strlen(welcome), &m), 0);
    CHECK_EQ_INT(m.type, LT_MSG_WELCOME);
    const char *lim, *pr;
    size_t ll, pl;
    int64_t rate = 0;
    CHECK_EQ_INT(lt_json_get(welcome, strlen(welcome), "limits", &lim, &ll), 0);
    CHECK_EQ_INT(lt_json_get(lim, ll, "publish_rate", &pr, &pl), 0);
    CHECK_EQ_INT(lt_json_int(pr, pl, &rate), 0);
    CHECK_EQ_INT(rate, 100);
    CHECK_EQ_INT(lt_json_get(lim, ll, "nope", &pr, &pl), -1);

    static const struct { const char *json; lt_msg_type t; } simple[] = {
        { "{\"type\":\"presence\",\"room\":\"r\",\"action\":\"join\"}", LT_MSG_PRESENCE },
        { "{\"type\":\"pong\",\"id\":6,\"ts\":1}", LT_MSG_PONG },
        { "{\"type\":\"reconnect\",\"reason\":\"draining\",\"after_ms\":0}", LT_MSG_RECONNECT },
        { "{\"type\":\"left\",\"room\":\"r\"}", LT_MSG_LEFT },
        { "{\"type\":\"authed\",\"exp\":5}", LT_MSG_AUTHED },
        { "{\"type\":\"direct\",\"room\":\"r\",\"payload\":null}", LT_MSG_DIRECT },
        { "{\"type\":\"brand-new\"}", LT_MSG_OTHER },
        { "{}", LT_MSG_OTHER },
    };
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        lt_msg_parse(simple[i].json, strlen(simple[i].json), &m);
        CHECK_EQ_INT(m.type, simple[i].t);
    }
}

static void
test_malformed(void)
{
    lt_msg m;
    static const char *bad[] = {
        "", "[]", "\"event\"", "{\"type\":1}", "{\"room\":\"r\"}", "{\"type\":\"event\"",
        "{\"type\":\"event\",}", "{\"type\" \"event\"}", "{type:\"event\"}", "{\"type\":\"event\"}x",
        "{\"type\":\"event\",\"payload\":{\"t\":1}", "{\"type\":\"ev\\",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = lt_msg_parse(bad[i], strlen(bad[i]), &m);
        if (rc != -1) fprintf(stderr, "  accepted malformed: %s\n", bad[i]);
        CHECK_EQ_INT(rc, -1);
        CHECK_EQ_INT(m.type, LT_MSG_OTHER);
    }
    /* Every proper prefix of a valid message is refused, without reading
     * past its end. */
    size_t n = strlen(EVENT), refused = 0;
    for (size_t cut = 0; cut < n; cut++) refused += parse_exact(EVENT, cut, &m) == -1;
    CHECK_EQ_INT(refused, n);
    CHECK_EQ_INT(parse_exact(EVENT, n, &m), 0);

    int64_t v;
    CHECK_EQ_INT(lt_json_int("0", 1, &v), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(lt_json_int("-42", 3, &v), 0);
    CHECK_EQ_INT(v, -42);
    CHECK_EQ_INT(lt_json_int("9223372036854775807", 19, &v), 0);
    CHECK(v == INT64_MAX);
    CHECK_EQ_INT(lt_json_int("9223372036854775808", 19, &v), -1);
    CHECK_EQ_INT(lt_json_int("-9223372036854775808", 20, &v), 0);
    CHECK(v == INT64_MIN);
    CHECK_EQ_INT(lt_json_int("-9223372036854775809", 20, &v), -1);
    CHECK_EQ_INT(lt_json_int("1e3", 3, &v), -1);
    CHECK_EQ_INT(lt_json_int("-", 1, &v), -1);
    CHECK_EQ_INT(lt_json_int("", 0, &v), -1);
    CHECK_EQ_INT(lt_json_int("12a", 3, &v), -1);
}

static void
test_jwt(void)
{
    char tok[1024];
    const char *secret = "loadtest-secret-0123456789";
    long long now = (long long)time(NULL);
    int n = lt_jwt_mint(tok, sizeof(tok), secret, strlen(secret), "lt-1-42", now, now + 7200);
    CHECK(n > 0);
    CHECK_EQ_INT(strlen(tok), n);
    CHECK(strchr(tok, '=') == NULL && strchr(tok, '+') == NULL && strchr(tok, '/') == NULL);

    ch_jwt_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.alg = CH_JWT_HS256;
    cfg.key = (const unsigned char *)secret;
    cfg.key_len = strlen(secret);
    cfg.leeway = 30;
    ch_jwt_claims claims;
    const char *why = NULL;
    CHECK_EQ_INT(ch_jwt_verify(&cfg, tok, (size_t)n, (time_t)now, &claims, &why), 0);
    CHECK_EQ_STR(claims.sub, "lt-1-42");
    CHECK_EQ_INT(claims.exp, now + 7200);

    cfg.key = (const unsigned char *)"another-secret";
    cfg.key_len = strlen("another-secret");
    CHECK_EQ_INT(ch_jwt_verify(&cfg, tok, (size_t)n, (time_t)now, &claims, &why), -1);

    /* Expired tokens are refused by the gateway's check too. */
    cfg.key = (const unsigned char *)secret;
    cfg.key_len = strlen(secret);
    n = lt_jwt_mint(tok, sizeof(tok), secret, strlen(secret), "lt-0-0", now - 7200, now - 3600);
    CHECK_EQ_INT(ch_jwt_verify(&cfg, tok, (size_t)n, (time_t)now, &claims, &why), -1);

    CHECK_EQ_INT(lt_jwt_mint(tok, 20, secret, strlen(secret), "lt-0-0", now, now + 1), -1);

    char out[16];
    CHECK_EQ_INT(lt_base64url((const unsigned char *)"", 0, out), 0);
    CHECK_EQ_INT(lt_base64url((const unsigned char *)"f", 1, out), 2);
    CHECK_EQ_STR(out, "Zg");
    lt_base64url((const unsigned char *)"fo", 2, out);
    CHECK_EQ_STR(out, "Zm8");
    lt_base64url((const unsigned char *)"foo", 3, out);
    CHECK_EQ_STR(out, "Zm9v");
    lt_base64url((const unsigned char *)"\xfb\xff", 2, out);
    CHECK_EQ_STR(out, "-_8");
}

int
main(void)
{
    test_event();
    test_other_types();
    test_malformed();
    test_jwt();
    TEST_MAIN_END();
}
