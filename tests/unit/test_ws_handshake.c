/*
 * test_ws_handshake.c — the RFC 6455 opening-handshake helpers: accept key,
 * every refusal of ch_ws_handshake_check, the bearer entry of
 * Sec-WebSocket-Protocol, and the Origin allowlist.
 */
#include "ws_handshake.h"
#include "test.h"

#include <string.h>

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* A request a browser would send, for tests to alter one field at a time. */
static ch_ws_request good_request(void)
{
    ch_ws_request r;

    r.method = "GET";
    r.upgrade = "websocket";
    r.connection = "Upgrade";
    r.key = RFC_KEY;
    r.version = "13";
    r.protocol = NULL;
    return r;
}

/* Runs the check and verifies status, and that the return value matches. */
static void expect_status(const ch_ws_request *r, int status, ch_ws_handshake *hs)
{
    int rc;

    memset(hs, 0x5a, sizeof *hs);
    rc = ch_ws_handshake_check(r, hs);
    CHECK_EQ_INT(rc, status);
    CHECK_EQ_INT(hs->status, status);
    if (status == 101) {
        CHECK(hs->reason == NULL);
        CHECK_EQ_STR(hs->accept, RFC_ACCEPT);
    } else {
        CHECK(hs->reason != NULL);
        CHECK(hs->subprotocol == NULL);
    }
}

static void test_accept_key(void)
{
    char out[29];

    ch_ws_accept_key(RFC_KEY, out);
    CHECK_EQ_STR(out, RFC_ACCEPT);
    CHECK_EQ_INT(strlen(out), 28);
    ch_ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out);
    CHECK_EQ_STR(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

static void test_success(void)
{
    ch_ws_request r = good_request();
    ch_ws_handshake hs;

    expect_status(&r, 101, &hs);
    CHECK(hs.subprotocol == NULL);

    /* Case and list variations browsers and proxies produce. */
    r.upgrade = "WebSocket";
    r.connection = "keep-alive, Upgrade";
    expect_status(&r, 101, &hs);
    r.upgrade = "h2c, websocket";
    r.connection = "keep-alive,upgrade";
    expect_status(&r, 101, &hs);
    r.connection = " UPGRADE ";
    r.version = " 13 ";
    r.key = "  " RFC_KEY "\t";
    expect_status(&r, 101, &hs);

    r = good_request();
    r.protocol = "chorus.v1";
    expect_status(&r, 101, &hs);
    CHECK_EQ_STR(hs.subprotocol, CH_WS_SUBPROTOCOL);
    r.protocol = "chorus.v1, bearer.abc.def.ghi";
    expect_status(&r, 101, &hs);
    CHECK_EQ_STR(hs.subprotocol, CH_WS_SUBPROTOCOL);
    r.protocol = "bearer.abc.def.ghi,chorus.v1";
    expect_status(&r, 101, &hs);
    CHECK_EQ_STR(hs.subprotocol, CH_WS_SUBPROTOCOL);
}

static void test_refusals(void)
{
    ch_ws_request r;
    ch_ws_handshake hs;

    r = good_request();
    r.method = "POST";
    expect_status(&r, 405, &hs);
    r.method = "get";
    expect_status(&r, 405, &hs);
    r.method = NULL;
    expect_status(&r, 405, &hs);

    r = good_request();
    r.upgrade = NULL;
    expect_status(&r, 426, &hs);
    CHECK_EQ_STR(hs.reason, "Upgrade: websocket required");
    r.upgrade = "h2c";
    expect_status(&r, 426, &hs);
    r.upgrade = "websockets";
    expect_status(&r, 426, &hs);

    r = good_request();
    r.connection = NULL;
    expect_status(&r, 400, &hs);
    r.connection = "keep-alive";
    expect_status(&r, 400, &hs);
    r.connection = "keep-alive, upgraded";
    expect_status(&r, 400, &hs);
    r.connection = "";
    expect_status(&r, 400, &hs);

    r = good_request();
    r.version = NULL;
    expect_status(&r, 426, &hs);
    CHECK(strstr(hs.reason, "13") != NULL);
    r.version = "8";
    expect_status(&r, 426, &hs);
    CHECK(strstr(hs.reason, "13") != NULL);
    r.version = "13, 8";
    expect_status(&r, 426, &hs);
    r.version = "130";
    expect_status(&r, 426, &hs);

    r = good_request();
    r.key = NULL;
    expect_status(&r, 400, &hs);
    r.key = "dGhlIHNhbXBsZSBub25j";          /* 15 bytes */
    expect_status(&r, 400, &hs);
    r.key = "dGhlIHNhbXBsZSBub25jZQ";        /* unpadded */
    expect_status(&r, 400, &hs);
    r.key = "dGhlIHNhbXBsZSBub25jZSE=";      /* 17 bytes */
    expect_status(&r, 400, &hs);
    r.key = "dGhlIHNhbXBsZSBub25j!Q==";      /* bad character */
    expect_status(&r, 400, &hs);
    r.key = "";
    expect_status(&r, 400, &hs);

    r = good_request();
    r.protocol = "bearer.abc.def.ghi";
    expect_status(&r, 400, &hs);
    CHECK_EQ_STR(hs.reason, "subprotocol chorus.v1 required");
    r.protocol = "chorus.v2, CHORUS.V1";
    expect_status(&r, 400, &hs);
    r.protocol = "";
    expect_status(&r, 400, &hs);

    /* Checks run in order: method before upgrade before version. */
    r = good_request();
    r.method = "PUT";
    r.upgrade = NULL;
    r.version = "8";
    expect_status(&r, 405, &hs);
    r.method = "GET";
    expect_status(&r, 426, &hs);
    CHECK_EQ_STR(hs.reason, "Upgrade: websocket required");

    expect_status(NULL, 400, &hs);
}

static void test_protocol_token(void)
{
    char out[64], tiny[4];

    CHECK_EQ_INT(ch_ws_protocol_token("chorus.v1, bearer.abc.def.ghi", out, sizeof out), 11);
    CHECK_EQ_STR(out, "abc.def.ghi");
    CHECK_EQ_INT(ch_ws_protocol_token("bearer.xyz,chorus.v1", out, sizeof out), 3);
    CHECK_EQ_STR(out, "xyz");
    CHECK_EQ_INT(ch_ws_protocol_token(" \tbearer.t1 , bearer.t2", out, sizeof out), 2);
    CHECK_EQ_STR(out, "t1");
    CHECK_EQ_INT(ch_ws_protocol_token("chorus.v1", out, sizeof out), 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(ch_ws_protocol_token("chorus.v1, bearer.", out, sizeof out), 0);
    CHECK_EQ_INT(ch_ws_protocol_token("xbearer.abc", out, sizeof out), 0);
    CHECK_EQ_INT(ch_ws_protocol_token(NULL, out, sizeof out), 0);
    CHECK_EQ_INT(ch_ws_protocol_token("", out, sizeof out), 0);

    CHECK_EQ_INT(ch_ws_protocol_token("bearer.abc", tiny, sizeof tiny), 3);
    CHECK_EQ_STR(tiny, "abc");
    CHECK_EQ_INT(ch_ws_protocol_token("bearer.abcd", tiny, sizeof tiny), -1);
    CHECK_EQ_STR(tiny, "");
    CHECK_EQ_INT(ch_ws_protocol_token("bearer.abcd", tiny, 0), -1);
}

static void test_origin(void)
{
    /* No Origin header: non-browser client. */
    CHECK_EQ_INT(ch_ws_origin_allowed(NULL, NULL, "chat.example"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed(NULL, "https://a.example", NULL), 1);

    /* No allowlist: same host[:port] as Host. */
    CHECK_EQ_INT(ch_ws_origin_allowed("https://chat.example", NULL, "chat.example"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://Chat.Example", "", "chat.EXAMPLE"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("http://localhost:8080", NULL, "localhost:8080"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("http://localhost:8080", NULL, "localhost:8081"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("http://localhost:8080", NULL, "localhost"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://evil.example", NULL, "chat.example"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://chat.example.evil", NULL, "chat.example"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://chat.example", NULL, NULL), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://chat.example", " , ", "chat.example"), 1);
    /* Default ports are equivalent to none. */
    CHECK_EQ_INT(ch_ws_origin_allowed("http://a.com", NULL, "a.com:80"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://a.com", NULL, "a.com:443"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://a.com:443", NULL, "a.com"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://a.com", NULL, "a.com:80"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("http://[::1]:8080", NULL, "[::1]:8080"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("http://[::1]", NULL, "[::1]:80"), 1);
    /* Malformed origins. */
    CHECK_EQ_INT(ch_ws_origin_allowed("chat.example", NULL, "chat.example"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://", NULL, ""), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://chat.example/", NULL, "chat.example"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://u@chat.example", NULL, "chat.example"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("", NULL, "chat.example"), 0);

    /* "null" only with "*". */
    CHECK_EQ_INT(ch_ws_origin_allowed("null", NULL, "chat.example"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("null", "https://chat.example", "chat.example"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("null", "https://chat.example, *", "chat.example"), 1);

    /* Explicit allowlist. */
    CHECK_EQ_INT(ch_ws_origin_allowed("https://app.example.com",
                                      "https://app.example.com, http://localhost:3000",
                                      "gw.example.com"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("http://localhost:3000",
                                      "https://app.example.com , http://localhost:3000 ",
                                      "gw.example.com"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("HTTPS://APP.EXAMPLE.COM", "https://app.example.com", "x"), 1);
    CHECK_EQ_INT(ch_ws_origin_allowed("http://app.example.com", "https://app.example.com", "x"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://app.example.com:8443", "https://app.example.com", "x"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://app.example.co", "https://app.example.com", "x"), 0);
    /* With an allowlist, matching Host is not enough. */
    CHECK_EQ_INT(ch_ws_origin_allowed("https://gw.example.com", "https://app.example.com",
                                      "gw.example.com"), 0);
    CHECK_EQ_INT(ch_ws_origin_allowed("https://anything.example", "*", "x"), 1);
}

int main(void)
{
    test_accept_key();
    test_success();
    test_refusals();
    test_protocol_token();
    test_origin();
    TEST_MAIN_END();
}
