/*
 * test_protocol.c — unit tests for common/protocol.c: every request type
 * with all of its fields, every rejection with its error code, request id
 * echo, the nesting limit, payload re-encoding, ch_buf and ch_encode_error.
 */
#include "protocol.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Parses a NUL-terminated message, expecting success. */
static int parse_ok(const char *msg, ch_request *req)
{
    ch_proto_error err;
    int rc = ch_request_parse(msg, strlen(msg), req, &err);
    if (rc != 0)
        fprintf(stderr, "  unexpected error %s (%s) for: %.200s\n", err.code ? err.code : "?",
                err.message, msg);
    return rc;
}

/* Parses len bytes expecting failure; returns the error code ("" on success)
 * and leaves the error in *err. Also checks the invariants every error must
 * keep: a printable-ASCII message under 160 bytes and no payload. */
static const char *parse_err_n(const char *msg, size_t len, ch_proto_error *err)
{
    ch_request req;
    int rc = ch_request_parse(msg, len, &req, err);
    if (rc == 0) {
        ch_request_free(&req);
        return "";
    }
    CHECK(req.payload == NULL);
    CHECK(err->code != NULL);
    size_t mlen = strnlen(err->message, sizeof err->message);
    int printable = 1;
    for (size_t i = 0; i < mlen; i++)
        if ((unsigned char)err->message[i] < 0x20 || (unsigned char)err->message[i] > 0x7e)
            printable = 0;
    CHECK(mlen > 0 && mlen < sizeof err->message && printable);
    return err->code ? err->code : "(null)";
}

static const char *parse_err(const char *msg, ch_proto_error *err)
{
    return parse_err_n(msg, strlen(msg), err);
}

/* Shorthand: just the error code of msg. */
static const char *code_of(const char *msg)
{
    ch_proto_error err;
    return parse_err(msg, &err);
}

/* Builds {"type":"publish",...,"payload":<depth brackets>} into a malloc'd
 * string; the whole message then nests depth + 1 levels. */
static char *nested_publish(int depth)
{
    const char *head = "{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":";
    size_t hl = strlen(head);
    char *s = malloc(hl + 2 * (size_t)depth + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, head, hl);
    memset(s + hl, '[', (size_t)depth);
    memset(s + hl + depth, ']', (size_t)depth);
    s[hl + 2 * (size_t)depth] = '}';
    s[hl + 2 * (size_t)depth + 1] = '\0';
    return s;
}

static void test_hello(void)
{
    ch_request req;

    CHECK_EQ_INT(parse_ok("{\"type\":\"hello\"}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_HELLO);
    CHECK_EQ_STR(req.id, "");
    CHECK(req.payload == NULL);
    ch_request_free(&req);

    CHECK_EQ_INT(parse_ok("{\"type\":\"hello\",\"protocol\":1,\"id\":\"h1\",\"extra\":[1]}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_HELLO);
    CHECK_EQ_STR(req.id, "\"h1\"");
    ch_request_free(&req);

    CHECK_EQ_STR(code_of("{\"type\":\"hello\",\"protocol\":2}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"hello\",\"protocol\":\"1\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"hello\",\"protocol\":1.0}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"hello\",\"protocol\":true}"), CH_ERR_BAD_REQUEST);
}

static void test_join(void)
{
    ch_request req;

    CHECK_EQ_INT(parse_ok("{\"type\":\"join\",\"room\":\"doc:42\"}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_JOIN);
    CHECK_EQ_STR(req.room, "doc:42");
    CHECK_EQ_INT(req.has_since, 0);
    CHECK_EQ_INT(req.has_epoch, 0);
    CHECK_EQ_STR(req.id, "");
    ch_request_free(&req);

    CHECK_EQ_INT(parse_ok("{\"id\":7,\"type\":\"join\",\"room\":\"A-z_0.9:x\",\"since\":0,"
                          "\"epoch\":9223372036854775807}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_JOIN);
    CHECK_EQ_STR(req.id, "7");
    CHECK_EQ_STR(req.room, "A-z_0.9:x");
    CHECK_EQ_INT(req.has_since, 1);
    CHECK_EQ_INT(req.since, 0);
    CHECK_EQ_INT(req.has_epoch, 1);
    CHECK(req.epoch == INT64_MAX);
    ch_request_free(&req);

    CHECK_EQ_INT(parse_ok("{\"type\":\"join\",\"room\":\"r\",\"since\":123456789012}", &req), 0);
    CHECK_EQ_INT(req.has_since, 1);
    CHECK(req.since == 123456789012LL);
    CHECK_EQ_INT(req.has_epoch, 0);
    ch_request_free(&req);

    /* Room: longest allowed, then invalid forms. */
    char msg[512];
    char room[CH_ROOM_MAX + 2];
    memset(room, 'r', CH_ROOM_MAX);
    room[CH_ROOM_MAX] = '\0';
    snprintf(msg, sizeof msg, "{\"type\":\"join\",\"room\":\"%s\"}", room);
    CHECK_EQ_INT(parse_ok(msg, &req), 0);
    CHECK_EQ_INT(strlen(req.room), CH_ROOM_MAX);
    ch_request_free(&req);
    room[CH_ROOM_MAX] = 'r';
    room[CH_ROOM_MAX + 1] = '\0';
    snprintf(msg, sizeof msg, "{\"type\":\"join\",\"room\":\"%s\"}", room);
    CHECK_EQ_STR(code_of(msg), CH_ERR_INVALID_ROOM);

    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"\"}"), CH_ERR_INVALID_ROOM);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"a b\"}"), CH_ERR_INVALID_ROOM);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"a/b\"}"), CH_ERR_INVALID_ROOM);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"caf\\u00e9\"}"), CH_ERR_INVALID_ROOM);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"a\\nb\"}"), CH_ERR_INVALID_ROOM);
    CHECK_EQ_STR(code_of("{\"type\":\"join\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":5}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":null}"), CH_ERR_BAD_REQUEST);

    /* since / epoch */
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":-1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":\"5\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":1.5}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":2.0}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":null}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"epoch\":-3}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"epoch\":true}"), CH_ERR_BAD_REQUEST);
    /* Numbers outside int64 / double. */
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":9223372036854775808}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":"
                         "99999999999999999999999999999999999999}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":1e400}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"join\",\"room\":\"r\",\"since\":1e3}"), CH_ERR_BAD_REQUEST);
}

static void test_leave(void)
{
    ch_request req;

    CHECK_EQ_INT(parse_ok("{\"type\":\"leave\",\"room\":\"lobby\",\"id\":\"x\"}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_LEAVE);
    CHECK_EQ_STR(req.room, "lobby");
    CHECK_EQ_STR(req.id, "\"x\"");
    CHECK(req.payload == NULL);
    ch_request_free(&req);

    CHECK_EQ_STR(code_of("{\"type\":\"leave\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"leave\",\"room\":\"no!\"}"), CH_ERR_INVALID_ROOM);
}

static void test_publish(void)
{
    ch_request req;

    CHECK_EQ_INT(parse_ok("{\"type\":\"publish\",\"id\":\"p1\",\"room\":\"doc.1\",\"kind\":\"cursor:move\","
                          "\"cid\":\"c-1!~\",\"payload\": {\"a\": [1, 2], \"b\" : \"x y\"}}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_PUBLISH);
    CHECK_EQ_STR(req.id, "\"p1\"");
    CHECK_EQ_STR(req.room, "doc.1");
    CHECK_EQ_STR(req.kind, "cursor:move");
    CHECK_EQ_STR(req.cid, "c-1!~");
    CHECK_EQ_INT(req.ephemeral, 0);
    CHECK_EQ_STR(req.payload, "{\"a\":[1,2],\"b\":\"x y\"}");
    CHECK_EQ_INT(req.payload_len, strlen("{\"a\":[1,2],\"b\":\"x y\"}"));
    ch_request_free(&req);
    CHECK(req.payload == NULL);
    CHECK_EQ_INT(req.payload_len, 0);
    ch_request_free(&req); /* second free is harmless */

    /* Defaults: kind "message"; payload may be null; explicit ephemeral false. */
    CHECK_EQ_INT(parse_ok("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":null,"
                          "\"ephemeral\":false}", &req), 0);
    CHECK_EQ_STR(req.kind, "message");
    CHECK_EQ_STR(req.payload, "null");
    CHECK_EQ_INT(req.payload_len, 4);
    CHECK_EQ_INT(req.ephemeral, 0);
    CHECK_EQ_STR(req.id, "");
    ch_request_free(&req);

    /* Ephemeral without cid. */
    CHECK_EQ_INT(parse_ok("{\"type\":\"publish\",\"room\":\"r\",\"ephemeral\":true,"
                          "\"payload\":\"caf\\u00e9 \\\"q\\\"\"}", &req), 0);
    CHECK_EQ_INT(req.ephemeral, 1);
    CHECK_EQ_STR(req.cid, "");
    CHECK_EQ_STR(req.payload, "\"caf\xc3\xa9 \\\"q\\\"\"");
    ch_request_free(&req);

    /* Ephemeral with cid keeps it. */
    CHECK_EQ_INT(parse_ok("{\"type\":\"publish\",\"room\":\"r\",\"ephemeral\":true,\"cid\":\"k\","
                          "\"payload\":[1.5,-0,true]}", &req), 0);
    CHECK_EQ_INT(req.ephemeral, 1);
    CHECK_EQ_STR(req.cid, "k");
    CHECK_EQ_STR(req.payload, "[1.5,0,true]");
    ch_request_free(&req);

    /* Scalars as payload. */
    CHECK_EQ_INT(parse_ok("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":42}", &req), 0);
    CHECK_EQ_STR(req.payload, "42");
    ch_request_free(&req);

    /* Longest cid and kind. */
    char msg[512], cid[CH_CID_MAX + 2], kind[CH_KIND_MAX + 2];
    memset(cid, 'c', CH_CID_MAX);
    cid[CH_CID_MAX] = '\0';
    memset(kind, 'k', CH_KIND_MAX);
    kind[CH_KIND_MAX] = '\0';
    snprintf(msg, sizeof msg,
             "{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"%s\",\"kind\":\"%s\",\"payload\":{}}",
             cid, kind);
    CHECK_EQ_INT(parse_ok(msg, &req), 0);
    CHECK_EQ_INT(strlen(req.cid), CH_CID_MAX);
    CHECK_EQ_INT(strlen(req.kind), CH_KIND_MAX);
    CHECK_EQ_STR(req.payload, "{}");
    ch_request_free(&req);
    cid[CH_CID_MAX] = 'c';
    cid[CH_CID_MAX + 1] = '\0';
    snprintf(msg, sizeof msg, "{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"%s\",\"payload\":{}}", cid);
    CHECK_EQ_STR(code_of(msg), CH_ERR_BAD_REQUEST);
    kind[CH_KIND_MAX] = 'k';
    kind[CH_KIND_MAX + 1] = '\0';
    snprintf(msg, sizeof msg,
             "{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"kind\":\"%s\",\"payload\":{}}", kind);
    CHECK_EQ_STR(code_of(msg), CH_ERR_BAD_REQUEST);

    /* Rejections. */
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"payload\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"ephemeral\":false,\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"ephemeral\":1,\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"ephemeral\":\"true\",\"cid\":\"c\","
                         "\"payload\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"a\\\"b\",\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"a\\\\b\",\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"a b\",\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"\",\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":7,\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"caf\\u00e9\",\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"kind\":\"a b\","
                         "\"payload\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"kind\":\"\","
                         "\"payload\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"kind\":null,"
                         "\"payload\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r r\",\"cid\":\"c\",\"payload\":1}"),
                 CH_ERR_INVALID_ROOM);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"cid\":\"c\",\"payload\":1}"), CH_ERR_BAD_REQUEST);
    /* Huge numbers inside the payload. */
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":"
                         "[123456789012345678901234567890]}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":-1e999}"),
                 CH_ERR_BAD_REQUEST);
}

static void test_direct(void)
{
    ch_request req;

    CHECK_EQ_INT(parse_ok("{\"type\":\"direct\",\"id\":3,\"room\":\"r1\",\"to\":{\"session\":\"s-abc:1\"},"
                          "\"kind\":\"ping.x\",\"payload\":{\"k\":[]}}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_DIRECT);
    CHECK_EQ_STR(req.id, "3");
    CHECK_EQ_STR(req.room, "r1");
    CHECK_EQ_INT(req.to_user, 0);
    CHECK_EQ_STR(req.to, "s-abc:1");
    CHECK_EQ_STR(req.kind, "ping.x");
    CHECK_EQ_STR(req.payload, "{\"k\":[]}");
    CHECK_EQ_INT(req.payload_len, 8);
    ch_request_free(&req);

    CHECK_EQ_INT(parse_ok("{\"type\":\"direct\",\"room\":\"r1\",\"to\":{\"user\":\"Jos\\u00e9 Smith\"},"
                          "\"payload\":\"hi\"}", &req), 0);
    CHECK_EQ_INT(req.to_user, 1);
    CHECK_EQ_STR(req.to, "Jos\xc3\xa9 Smith");
    CHECK_EQ_STR(req.kind, "message");
    CHECK_EQ_STR(req.payload, "\"hi\"");
    ch_request_free(&req);

    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"session\":\"s\",\"user\":\"u\"},"
                         "\"payload\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{},\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"other\":\"x\"},\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"payload\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":\"s\",\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"session\":\"s\"}}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"session\":\"\"},\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"session\":\"a\\\"b\"},"
                         "\"payload\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"session\":3},\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"user\":\"\"},\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"user\":\"a\\tb\"},\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"user\":null},\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"\",\"to\":{\"user\":\"u\"},\"payload\":1}"),
                 CH_ERR_INVALID_ROOM);
    CHECK_EQ_STR(code_of("{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"user\":\"u\"},\"kind\":\"k k\","
                         "\"payload\":1}"), CH_ERR_BAD_REQUEST);

    /* Target length limit. */
    char msg[512], to[CH_TARGET_MAX + 2];
    memset(to, 'u', CH_TARGET_MAX);
    to[CH_TARGET_MAX] = '\0';
    snprintf(msg, sizeof msg, "{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"user\":\"%s\"},\"payload\":0}", to);
    CHECK_EQ_INT(parse_ok(msg, &req), 0);
    CHECK_EQ_INT(strlen(req.to), CH_TARGET_MAX);
    ch_request_free(&req);
    to[CH_TARGET_MAX] = 'u';
    to[CH_TARGET_MAX + 1] = '\0';
    snprintf(msg, sizeof msg, "{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"user\":\"%s\"},\"payload\":0}", to);
    CHECK_EQ_STR(code_of(msg), CH_ERR_BAD_REQUEST);
    snprintf(msg, sizeof msg, "{\"type\":\"direct\",\"room\":\"r\",\"to\":{\"session\":\"%s\"},\"payload\":0}", to);
    CHECK_EQ_STR(code_of(msg), CH_ERR_BAD_REQUEST);
}

static void test_auth_ping(void)
{
    ch_request req;

    CHECK_EQ_INT(parse_ok("{\"type\":\"auth\",\"token\":\"eyJ.abc.def\",\"id\":\"a\"}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_AUTH);
    CHECK_EQ_STR(req.token, "eyJ.abc.def");
    CHECK_EQ_STR(req.id, "\"a\"");
    ch_request_free(&req);

    size_t hl = strlen("{\"type\":\"auth\",\"token\":\"");
    char *msg = malloc(hl + CH_TOKEN_MAX + 4);
    CHECK(msg != NULL);
    if (msg != NULL) {
        memcpy(msg, "{\"type\":\"auth\",\"token\":\"", hl);
        memset(msg + hl, 't', CH_TOKEN_MAX);
        strcpy(msg + hl + CH_TOKEN_MAX, "\"}");
        CHECK_EQ_INT(parse_ok(msg, &req), 0);
        CHECK_EQ_INT(strlen(req.token), CH_TOKEN_MAX);
        ch_request_free(&req);
        msg[hl + CH_TOKEN_MAX] = 't';
        strcpy(msg + hl + CH_TOKEN_MAX + 1, "\"}");
        CHECK_EQ_STR(code_of(msg), CH_ERR_BAD_REQUEST);
        free(msg);
    }
    CHECK_EQ_STR(code_of("{\"type\":\"auth\",\"token\":\"\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"auth\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"auth\",\"token\":123}"), CH_ERR_BAD_REQUEST);

    CHECK_EQ_INT(parse_ok("{\"type\":\"ping\"}", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_PING);
    CHECK_EQ_STR(req.id, "");
    ch_request_free(&req);
    CHECK_EQ_INT(parse_ok(" \r\n\t{ \"id\" : -12 , \"type\" : \"ping\" } \n", &req), 0);
    CHECK_EQ_INT(req.type, CH_REQ_PING);
    CHECK_EQ_STR(req.id, "-12");
    ch_request_free(&req);
}

static void test_envelope(void)
{
    ch_proto_error err;

    CHECK_EQ_STR(parse_err("{\"type\":\"ping\"", &err), CH_ERR_BAD_REQUEST);
    CHECK(strstr(err.message, "invalid JSON") != NULL);
    CHECK(strstr(err.message, "column") != NULL);
    CHECK_EQ_STR(err.id, "");
    CHECK_EQ_STR(parse_err("", &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(parse_err_n(NULL, 0, &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\"} x"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{'type':'ping'}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"x\":\"\xff\"}"), CH_ERR_BAD_REQUEST);

    /* Not an object. */
    CHECK_EQ_STR(parse_err("[{\"type\":\"ping\"}]", &err), CH_ERR_BAD_REQUEST);
    CHECK(strstr(err.message, "object") != NULL);
    CHECK_EQ_STR(code_of("\"ping\""), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("42"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("null"), CH_ERR_BAD_REQUEST);

    /* type */
    CHECK_EQ_STR(code_of("{}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"room\":\"r\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":1}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":null}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":[\"ping\"]}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(parse_err("{\"type\":\"subscribe\"}", &err), CH_ERR_UNKNOWN_TYPE);
    CHECK_EQ_STR(err.message, "unknown type \"subscribe\"");
    /* The echoed type is cut short and forced to printable ASCII. */
    CHECK_EQ_STR(parse_err("{\"type\":\"a\\nb\\u00e9cdefghijklmnopqrstuvwxyz0123456789\"}", &err),
                 CH_ERR_UNKNOWN_TYPE);
    CHECK_EQ_STR(err.message, "unknown type \"a?b??cdefghijklmnopqrstuvwxyz012\"");
    CHECK_EQ_STR(code_of("{\"type\":\"\"}"), CH_ERR_UNKNOWN_TYPE);
    CHECK_EQ_STR(code_of("{\"type\":\"PING\"}"), CH_ERR_UNKNOWN_TYPE);
    CHECK_EQ_STR(code_of("{\"type\":\"ping \"}"), CH_ERR_UNKNOWN_TYPE);

    /* Duplicate keys, at the top and inside the payload. */
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"type\":\"ping\"}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"a\",\"room\":\"b\",\"cid\":\"c\",\"payload\":1}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":{\"k\":1,\"k\":2}}"),
                 CH_ERR_BAD_REQUEST);

    /* NUL bytes: raw, and escaped inside a string or a key. */
    static const char raw_nul[] = "{\"type\":\"ping\",\"x\":\"a\0b\"}";
    CHECK_EQ_STR(parse_err_n(raw_nul, sizeof raw_nul - 1, &err), CH_ERR_BAD_REQUEST);
    CHECK(strstr(err.message, "NUL") != NULL);
    static const char trailing_nul[] = "{\"type\":\"ping\"}\0";
    CHECK_EQ_STR(parse_err_n(trailing_nul, sizeof trailing_nul - 1, &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":\"a\\u0000b\"}"),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"a\\u0000\":1}"), CH_ERR_BAD_REQUEST);

    /* The input need not be NUL-terminated: only len bytes are read. */
    ch_request req;
    const char *two = "{\"type\":\"ping\"}{\"type\":\"hello\"}";
    CHECK_EQ_INT(ch_request_parse(two, 15, &req, &err), 0);
    CHECK_EQ_INT(req.type, CH_REQ_PING);
    ch_request_free(&req);

    /* Long garbage: the message stays bounded and printable. */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 1] = '\0';
    CHECK_EQ_STR(parse_err(big, &err), CH_ERR_BAD_REQUEST);
    CHECK(strlen(err.message) < sizeof err.message);
}

static void test_ids(void)
{
    ch_request req;
    ch_proto_error err;

    CHECK_EQ_INT(parse_ok("{\"type\":\"ping\",\"id\":\"abc\"}", &req), 0);
    CHECK_EQ_STR(req.id, "\"abc\"");
    ch_request_free(&req);
    CHECK_EQ_INT(parse_ok("{\"type\":\"ping\",\"id\":42}", &req), 0);
    CHECK_EQ_STR(req.id, "42");
    ch_request_free(&req);
    CHECK_EQ_INT(parse_ok("{\"type\":\"ping\",\"id\":-9223372036854775808}", &req), 0);
    CHECK_EQ_STR(req.id, "-9223372036854775808");
    ch_request_free(&req);
    CHECK_EQ_INT(parse_ok("{\"type\":\"ping\",\"id\":\"\"}", &req), 0);
    CHECK_EQ_STR(req.id, "\"\"");
    ch_request_free(&req);
    /* Escapes are re-encoded; non-ASCII UTF-8 passes through. */
    CHECK_EQ_INT(parse_ok("{\"type\":\"ping\",\"id\":\"a\\\"b\\\\c\\n\\u00e9\\/\"}", &req), 0);
    CHECK_EQ_STR(req.id, "\"a\\\"b\\\\c\\u000a\xc3\xa9/\"");
    ch_request_free(&req);

    /* 64 bytes is the limit, raw and once escaped. */
    char msg[512], id[CH_REQID_MAX + 2];
    memset(id, 'i', CH_REQID_MAX);
    id[CH_REQID_MAX] = '\0';
    snprintf(msg, sizeof msg, "{\"type\":\"ping\",\"id\":\"%s\"}", id);
    CHECK_EQ_INT(parse_ok(msg, &req), 0);
    CHECK_EQ_INT(strlen(req.id), CH_REQID_MAX + 2);
    ch_request_free(&req);
    id[CH_REQID_MAX] = 'i';
    id[CH_REQID_MAX + 1] = '\0';
    snprintf(msg, sizeof msg, "{\"type\":\"ping\",\"id\":\"%s\"}", id);
    CHECK_EQ_STR(parse_err(msg, &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "");
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"id\":\"\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\"}"),
                 CH_ERR_BAD_REQUEST);

    /* Other id types. */
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"id\":1.5}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"id\":1e2}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"id\":null}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"id\":true}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"id\":[1]}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"id\":{\"a\":1}}"), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(code_of("{\"type\":\"ping\",\"id\":99999999999999999999}"), CH_ERR_BAD_REQUEST);

    /* The id is echoed in errors once the object decoded. */
    CHECK_EQ_STR(parse_err("{\"id\":\"j1\",\"type\":\"join\",\"room\":\"bad room\"}", &err),
                 CH_ERR_INVALID_ROOM);
    CHECK_EQ_STR(err.id, "\"j1\"");
    CHECK_EQ_STR(parse_err("{\"type\":\"join\",\"room\":\"r\",\"since\":-1,\"id\":5}", &err),
                 CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "5");
    CHECK_EQ_STR(parse_err("{\"id\":77}", &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "77");
    CHECK_EQ_STR(parse_err("{\"id\":\"u\",\"type\":\"nope\"}", &err), CH_ERR_UNKNOWN_TYPE);
    CHECK_EQ_STR(err.id, "\"u\"");
    CHECK_EQ_STR(parse_err("{\"id\":\"q\",\"type\":3}", &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "\"q\"");
    CHECK_EQ_STR(parse_err("{\"id\":\"t\",\"type\":\"auth\",\"token\":\"\"}", &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "\"t\"");
    /* ...but not when the JSON itself is broken or the id is invalid. */
    CHECK_EQ_STR(parse_err("{\"id\":\"x\",\"type\":\"ping\"", &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "");
    CHECK_EQ_STR(parse_err("{\"id\":\"x\",\"id\":\"y\",\"type\":\"ping\"}", &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "");
    CHECK_EQ_STR(parse_err("{\"id\":false,\"type\":\"ping\"}", &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "");

    /* A failed parse leaves no stale id behind from a previous call. */
    CHECK_EQ_STR(parse_err("[]", &err), CH_ERR_BAD_REQUEST);
    CHECK_EQ_STR(err.id, "");
}

static void test_depth(void)
{
    ch_request req;
    ch_proto_error err;

    /* The outer object is level 1, so 31 arrays in the payload make 32. */
    char *msg = nested_publish(CH_JSON_MAX_DEPTH - 1);
    CHECK(msg != NULL);
    if (msg != NULL) {
        CHECK_EQ_INT(parse_ok(msg, &req), 0);
        CHECK(req.payload != NULL && strlen(req.payload) == 2 * (CH_JSON_MAX_DEPTH - 1));
        ch_request_free(&req);
        free(msg);
    }
    msg = nested_publish(CH_JSON_MAX_DEPTH);
    CHECK(msg != NULL);
    if (msg != NULL) {
        CHECK_EQ_STR(parse_err(msg, &err), CH_ERR_BAD_REQUEST);
        CHECK(strstr(err.message, "nesting too deep") != NULL);
        free(msg);
    }
    /* Far beyond jansson's own limit: rejected by the pre-scan. */
    msg = nested_publish(100000);
    CHECK(msg != NULL);
    if (msg != NULL) {
        CHECK_EQ_STR(parse_err(msg, &err), CH_ERR_BAD_REQUEST);
        CHECK(strstr(err.message, "nesting too deep") != NULL);
        free(msg);
    }
    /* Unbalanced opening brackets only. */
    char open[200];
    memset(open, '{', sizeof open - 1);
    open[sizeof open - 1] = '\0';
    CHECK_EQ_STR(parse_err(open, &err), CH_ERR_BAD_REQUEST);
    CHECK(strstr(err.message, "nesting too deep") != NULL);

    /* Mixed objects and arrays count alike. */
    char mixed[1024] = "{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":";
    for (int i = 0; i < 16; i++)
        strcat(mixed, "{\"k\":[");
    strcat(mixed, "0");
    for (int i = 0; i < 16; i++)
        strcat(mixed, "]}");
    strcat(mixed, "}");
    CHECK_EQ_STR(parse_err(mixed, &err), CH_ERR_BAD_REQUEST); /* 1 + 32 = 33 */
    CHECK(strstr(err.message, "nesting too deep") != NULL);

    /* Brackets inside strings, including after escaped quotes, do not count. */
    char str[1024] = "{\"type\":\"publish\",\"room\":\"r\",\"cid\":\"c\",\"payload\":\"\\\"\\\\";
    size_t n = strlen(str);
    memset(str + n, '[', 100);
    strcpy(str + n + 100, "{{{\"}");
    CHECK_EQ_INT(parse_ok(str, &req), 0);
    CHECK(req.payload != NULL && req.payload[0] == '"');
    ch_request_free(&req);
    CHECK_EQ_INT(parse_ok("{\"type\":\"ping\",\"k[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\":1}", &req), 0);
    ch_request_free(&req);
}

static void test_validators(void)
{
    CHECK_EQ_INT(ch_room_valid("a", 1), 1);
    CHECK_EQ_INT(ch_room_valid("a", 0), 0);
    CHECK_EQ_INT(ch_room_valid("ab", 1), 1); /* only len bytes are looked at */
    CHECK_EQ_INT(ch_room_valid("a b", 3), 0);
    CHECK_EQ_INT(ch_room_valid("a\0b", 3), 0);
    CHECK_EQ_INT(ch_room_valid("Az09_.:-", 8), 1);
    CHECK_EQ_INT(ch_kind_valid("msg", 3), 1);
    CHECK_EQ_INT(ch_kind_valid("m/g", 3), 0);
    char k[CH_KIND_MAX + 1];
    memset(k, 'k', sizeof k);
    CHECK_EQ_INT(ch_kind_valid(k, CH_KIND_MAX), 1);
    CHECK_EQ_INT(ch_kind_valid(k, CH_KIND_MAX + 1), 0);
    CHECK_EQ_INT(ch_cid_valid("!~", 2), 1);
    CHECK_EQ_INT(ch_cid_valid("a\"", 2), 0);
    CHECK_EQ_INT(ch_cid_valid("a\\", 2), 0);
    CHECK_EQ_INT(ch_cid_valid(" ", 1), 0);
    CHECK_EQ_INT(ch_cid_valid("\x7f", 1), 0);
    CHECK_EQ_INT(ch_cid_valid("\xc3\xa9", 2), 0);
    CHECK_EQ_INT(ch_cid_valid("", 0), 0);
}

/* Escapes n bytes and returns the text in a static buffer. */
static const char *esc(const char *s, size_t n)
{
    static char out[512];
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_json_string(&b, s, n);
    CHECK(!b.oom);
    CHECK_EQ_INT(strlen(b.data), b.len);
    snprintf(out, sizeof out, "%s", b.data);
    /* Whatever went in, the output is valid JSON. */
    json_error_t jerr;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    CHECK(v != NULL && json_is_string(v));
    json_decref(v);
    ch_buf_free(&b);
    return out;
}

static void test_buf(void)
{
    ch_buf b;

    ch_buf_init(&b);
    CHECK(b.data != NULL);
    CHECK_EQ_STR(b.data, "");
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(b.oom, 0);
    ch_buf_reset(&b);
    CHECK_EQ_STR(b.data, "");
    ch_buf_append(&b, "abc", 3);
    ch_buf_append(&b, "", 0);
    ch_buf_puts(&b, "def");
    ch_buf_printf(&b, "-%d-%s", 42, "x");
    CHECK_EQ_STR(b.data, "abcdef-42-x");
    CHECK_EQ_INT(b.len, 11);
    ch_buf_append(&b, "z\0y", 3);
    CHECK_EQ_INT(b.len, 14);
    CHECK(memcmp(b.data, "abcdef-42-xz\0y", 15) == 0);
    ch_buf_reset(&b);
    CHECK_EQ_STR(b.data, "");
    CHECK_EQ_INT(b.len, 0);

    /* Growth well past the first allocation, and a printf longer than its
     * stack scratch buffer. */
    for (int i = 0; i < 1000; i++)
        ch_buf_puts(&b, "0123456789");
    CHECK_EQ_INT(b.len, 10000);
    CHECK_EQ_INT(strlen(b.data), 10000);
    CHECK(b.cap > b.len);
    ch_buf_reset(&b);
    char big[1000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ch_buf_printf(&b, "<%s>%d", big, 7);
    CHECK_EQ_INT(b.len, 1002);
    CHECK(b.data[0] == '<' && b.data[1000] == '>' && b.data[1001] == '7' && b.data[1002] == '\0');
    CHECK_EQ_INT(b.oom, 0);
    ch_buf_free(&b);
    CHECK_EQ_STR(b.data, "");
    CHECK_EQ_INT(b.len, 0);
    ch_buf_free(&b); /* idempotent */

    /* oom: appends become no-ops until reset. */
    ch_buf_init(&b);
    ch_buf_puts(&b, "keep");
    b.oom = 1;
    ch_buf_puts(&b, "lost");
    ch_buf_printf(&b, "%s", "lost");
    ch_buf_json_string(&b, "lost", 4);
    CHECK_EQ_STR(b.data, "keep");
    CHECK_EQ_INT(b.len, 4);
    ch_buf_reset(&b);
    CHECK_EQ_INT(b.oom, 0);
    ch_buf_puts(&b, "new");
    CHECK_EQ_STR(b.data, "new");
    ch_buf_free(&b);

    /* JSON string escaping. */
    CHECK_EQ_STR(esc("", 0), "\"\"");
    CHECK_EQ_STR(esc("plain text", 10), "\"plain text\"");
    CHECK_EQ_STR(esc("a\"b\\c/d", 7), "\"a\\\"b\\\\c/d\"");
    CHECK_EQ_STR(esc("\n\r\t\b\f\x01\x1f", 7),
                 "\"\\u000a\\u000d\\u0009\\u0008\\u000c\\u0001\\u001f\"");
    CHECK_EQ_STR(esc("a\0b", 3), "\"a\\u0000b\"");
    CHECK_EQ_STR(esc("\x7f", 1), "\"\x7f\"");
    CHECK_EQ_STR(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14),
                 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    CHECK_EQ_STR(esc("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7), "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
    /* Invalid UTF-8: one replacement per offending byte. */
    CHECK_EQ_STR(esc("a\xff" "b", 3), "\"a\\ufffdb\"");
    CHECK_EQ_STR(esc("\x80", 1), "\"\\ufffd\"");
    CHECK_EQ_STR(esc("\xc3", 1), "\"\\ufffd\"");                      /* truncated */
    CHECK_EQ_STR(esc("\xe2\x82" "x", 3), "\"\\ufffd\\ufffdx\"");       /* truncated */
    CHECK_EQ_STR(esc("\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");            /* overlong */
    CHECK_EQ_STR(esc("\xe0\x80\xaf", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* overlong */
    CHECK_EQ_STR(esc("\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    CHECK_EQ_STR(esc("\xf4\x90\x80\x80", 4),
                 "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");                  /* > U+10FFFF */
    CHECK_EQ_STR(esc("\xf5\x80", 2), "\"\\ufffd\\ufffd\"");
    CHECK_EQ_STR(esc("\xc3\xa9\xa9", 3), "\"\xc3\xa9\\ufffd\"");       /* stray continuation */

    /* Appending to existing content. */
    ch_buf_init(&b);
    ch_buf_puts(&b, "x=");
    ch_buf_json_string(&b, "q\"", 2);
    CHECK_EQ_STR(b.data, "x=\"q\\\"\"");
    ch_buf_free(&b);
}

static void test_encode_error(void)
{
    ch_buf b;
    ch_buf_init(&b);

    ch_buf_puts(&b, "stale content");
    ch_encode_error(&b, "\"r1\"", CH_ERR_INVALID_ROOM, "bad \"room\"\n", "lobby");
    CHECK_EQ_STR(b.data, "{\"type\":\"error\",\"id\":\"r1\",\"code\":\"invalid_room\","
                         "\"message\":\"bad \\\"room\\\"\\u000a\",\"room\":\"lobby\"}");
    CHECK_EQ_INT(b.len, strlen(b.data));
    CHECK_EQ_INT(b.oom, 0);

    ch_encode_error(&b, "", CH_ERR_BAD_REQUEST, "missing \"type\"", NULL);
    CHECK_EQ_STR(b.data, "{\"type\":\"error\",\"code\":\"bad_request\","
                         "\"message\":\"missing \\\"type\\\"\"}");

    ch_encode_error(&b, "42", CH_ERR_RATE_LIMITED, "slow down", NULL);
    CHECK_EQ_STR(b.data, "{\"type\":\"error\",\"id\":42,\"code\":\"rate_limited\","
                         "\"message\":\"slow down\"}");

    /* From a parse error straight to the wire. */
    ch_request req;
    ch_proto_error err;
    const char *in = "{\"id\":\"z\\\"1\",\"type\":\"join\",\"room\":\"\"}";
    CHECK_EQ_INT(ch_request_parse(in, strlen(in), &req, &err), -1);
    ch_encode_error(&b, err.id, err.code, err.message, NULL);
    json_error_t jerr;
    json_t *v = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(v != NULL);
    if (v != NULL) {
        CHECK_EQ_STR(json_string_value(json_object_get(v, "type")), "error");
        CHECK_EQ_STR(json_string_value(json_object_get(v, "id")), "z\"1");
        CHECK_EQ_STR(json_string_value(json_object_get(v, "code")), CH_ERR_INVALID_ROOM);
        CHECK(json_object_get(v, "room") == NULL);
        json_decref(v);
    }
    ch_buf_free(&b);
}

int main(void)
{
    test_hello();
    test_join();
    test_leave();
    test_publish();
    test_direct();
    test_auth_ping();
    test_envelope();
    test_ids();
    test_depth();
    test_validators();
    test_buf();
    test_encode_error();
    TEST_MAIN_END();
}
