/*
 * fuzz_protocol.c — libFuzzer target for the protocol v1 request parser.
 *
 * Feeds raw bytes to ch_request_parse and checks what it promises:
 *   - success: identifiers are within their bounds and alphabets, the id is
 *     JSON text, and publish/direct payloads are themselves valid JSON
 *     whose length matches payload_len;
 *   - failure: a known code, a bounded printable message, and an error
 *     frame built by ch_encode_error that jansson reads back intact.
 * The same bytes are also run through ch_buf_json_string, whose output must
 * always decode as a JSON string.
 */
#include "protocol.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void require(int cond)
{
    if (!cond)
        abort();
}

/* The request id, if any, must decode as a JSON string or integer. */
static void check_id_text(const char *id)
{
    if (id[0] == '\0')
        return;
    json_error_t jerr;
    json_t *v = json_loads(id, JSON_DECODE_ANY, &jerr);
    require(v != NULL && (json_is_string(v) || json_is_integer(v)));
    json_decref(v);
}

static void check_request(const ch_request *req)
{
    check_id_text(req->id);
    switch (req->type) {
    case CH_REQ_JOIN:
    case CH_REQ_LEAVE:
        require(ch_room_valid(req->room, strlen(req->room)));
        require(!req->has_since || req->since >= 0);
        require(!req->has_epoch || req->epoch >= 0);
        require(req->payload == NULL);
        break;
    case CH_REQ_PUBLISH:
    case CH_REQ_DIRECT: {
        require(ch_room_valid(req->room, strlen(req->room)));
        require(ch_kind_valid(req->kind, strlen(req->kind)));
        if (req->type == CH_REQ_PUBLISH && !req->ephemeral)
            require(ch_cid_valid(req->cid, strlen(req->cid)));
        if (req->type == CH_REQ_DIRECT)
            require(req->to[0] != '\0');
        require(req->payload != NULL);
        require(strlen(req->payload) == req->payload_len);
        json_error_t jerr;
        json_t *v = json_loadb(req->payload, req->payload_len, JSON_DECODE_ANY, &jerr);
        require(v != NULL);
        json_decref(v);
        break;
    }
    case CH_REQ_AUTH:
        require(req->token[0] != '\0');
        break;
    case CH_REQ_HELLO:
    case CH_REQ_PING:
        require(req->payload == NULL);
        break;
    default:
        abort();
    }
}

static void check_error(const ch_proto_error *err)
{
    require(err->code != NULL);
    size_t mlen = strnlen(err->message, sizeof err->message);
    require(mlen < sizeof err->message);
    for (size_t i = 0; i < mlen; i++)
        require(err->message[i] >= 0x20 && err->message[i] <= 0x7e);
    check_id_text(err->id);

    ch_buf b;
    ch_buf_init(&b);
    ch_encode_error(&b, err->id, err->code, err->message, "room");
    require(!b.oom);
    json_error_t jerr;
    json_t *v = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
    require(v != NULL);
    require(strcmp(json_string_value(json_object_get(v, "code")), err->code) == 0);
    require(strcmp(json_string_value(json_object_get(v, "message")), err->message) == 0);
    json_decref(v);
    ch_buf_free(&b);
}

/* Any byte string escapes to a valid JSON string literal. */
static void check_escape(const uint8_t *data, size_t size)
{
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_json_string(&b, (const char *)data, size);
    require(!b.oom);
    require(strlen(b.data) == b.len);
    json_error_t jerr;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    require(v != NULL && json_is_string(v));
    json_decref(v);
    ch_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ch_request req;
    ch_proto_error err;

    int rc = ch_request_parse((const char *)data, size, &req, &err);
    sink += (size_t)rc + req.payload_len + (size_t)req.type;
    if (rc == 0)
        check_request(&req);
    else
        check_error(&err);
    ch_request_free(&req);

    check_escape(data, size);
    return 0;
}
