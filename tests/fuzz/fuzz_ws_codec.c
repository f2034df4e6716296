/*
 * fuzz_ws_codec.c — libFuzzer target for the RFC 6455 frame parser.
 *
 * Input layout:
 *   byte 0       bit 0: role (0 server, 1 client); bits 1-3: max_message
 *                choice; bits 4-7: count n of chunk-size bytes that follow
 *   bytes 1..n   chunk sizes, used in turn (0: an empty feed, then 1 byte)
 *   rest         the byte stream
 *
 * The stream is parsed twice: in one feed loop over the whole buffer, and in
 * chunks of the sizes above, shrinking the parser after every AGAIN. Both
 * runs must report the same events (type, payload, close code, reason) at
 * the same stream offsets and end the same way. Every result is also checked
 * against the parser's contract. Then ch_ws_close_encode round-trips a
 * reason taken from the stream through a client-role parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static const size_t max_choices[8] = {0, 1, 125, 126, 1000, 65535, 65536, 1u << 20};

#define MAX_EVENTS 4096

/* What one event looked like; payload and reason by length and hash. */
struct seen {
    int result;
    int type;
    unsigned code;
    size_t len;
    uint64_t hash;
    size_t reason_len;
    uint64_t reason_hash;
    size_t end;
};

struct log {
    struct seen ev[MAX_EVENTS];
    size_t n;
    int final;
    size_t end;
};

static struct log whole_log, chunk_log;

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static uint64_t hash_bytes(const uint8_t *s, size_t n)
{
    uint64_t h = 1469598103934665603u;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211u;
    }
    return h;
}

/* Checks ev against the contract for result res, then logs it. Returns 0
 * when the log is full. */
static int note(struct log *lg, ch_ws_result res, const ch_ws_event *ev,
                size_t max_message, size_t end)
{
    struct seen *s;

    if (res == CH_WS_EVENT) {
        REQUIRE(ev->payload != NULL);
        switch (ev->type) {
        case CH_WS_EV_TEXT:
            REQUIRE(ev->payload_len <= max_message);
            REQUIRE(ch_utf8_valid(ev->payload, ev->payload_len));
            break;
        case CH_WS_EV_BINARY:
            REQUIRE(ev->payload_len <= max_message);
            break;
        case CH_WS_EV_PING:
        case CH_WS_EV_PONG:
            REQUIRE(ev->payload_len <= 125);
            break;
        case CH_WS_EV_CLOSE:
            REQUIRE(ev->payload_len <= 125);
            if (ev->payload_len == 0) {
                REQUIRE(ev->close_code == CH_WS_CLOSE_NO_STATUS);
                REQUIRE(ev->reason_len == 0);
            } else {
                REQUIRE(ch_ws_close_code_valid(ev->close_code));
                REQUIRE(ev->reason_len + 2 == ev->payload_len);
                REQUIRE(ch_utf8_valid((const uint8_t *)ev->reason, ev->reason_len));
            }
            break;
        default:
            REQUIRE(0);
        }
    } else {
        REQUIRE(res == CH_WS_ERROR);
        REQUIRE(ev->close_code == CH_WS_CLOSE_PROTOCOL ||
                ev->close_code == CH_WS_CLOSE_INVALID_DATA ||
                ev->close_code == CH_WS_CLOSE_TOO_BIG ||
                ev->close_code == CH_WS_CLOSE_INTERNAL);
        REQUIRE(ev->reason != NULL && ev->reason_len == strlen(ev->reason));
    }
    if (ev->payload_len)
        sink += ev->payload[0] + ev->payload[ev->payload_len - 1];
    if (lg->n == MAX_EVENTS)
        return 0;
    s = &lg->ev[lg->n++];
    s->result = res;
    s->type = res == CH_WS_EVENT ? (int)ev->type : 0;
    s->code = ev->close_code;
    s->len = ev->payload_len;
    s->hash = ev->payload_len ? hash_bytes(ev->payload, ev->payload_len) : 0;
    s->reason_len = ev->reason_len;
    s->reason_hash = ev->reason_len ? hash_bytes((const uint8_t *)ev->reason, ev->reason_len) : 0;
    s->end = end;
    return 1;
}

static int seen_equal(const struct seen *a, const struct seen *b)
{
    return a->result == b->result && a->type == b->type && a->code == b->code &&
           a->len == b->len && a->hash == b->hash && a->reason_len == b->reason_len &&
           a->reason_hash == b->reason_hash && a->end == b->end;
}

/* After an error the parser must stay dead. */
static void check_dead(ch_ws_parser *p, const uint8_t *buf, size_t len, unsigned code)
{
    ch_ws_event ev;
    size_t used = 1;

    REQUIRE(ch_ws_parser_feed(p, buf, len, &used, &ev) == CH_WS_ERROR);
    REQUIRE(used == 0 && ev.close_code == code);
}

static void parse_whole(struct log *lg, int role, size_t max, const uint8_t *buf, size_t len)
{
    ch_ws_parser *p = ch_ws_parser_new(max, role);
    size_t off = 0;

    lg->n = 0;
    lg->final = CH_WS_AGAIN;
    if (!p)
        abort();
    for (;;) {
        ch_ws_event ev;
        size_t used = (size_t)-1;
        ch_ws_result res = ch_ws_parser_feed(p, buf + off, len - off, &used, &ev);

        REQUIRE(used <= len - off);
        off += used;
        if (res == CH_WS_AGAIN) {
            REQUIRE(off == len);
            break;
        }
        if (!note(lg, res, &ev, max, off))
            break;
        if (res == CH_WS_ERROR) {
            lg->final = CH_WS_ERROR;
            check_dead(p, buf, len, ev.close_code);
            break;
        }
    }
    lg->end = off;
    ch_ws_parser_free(p);
}

static void parse_chunked(struct log *lg, int role, size_t max, const uint8_t *buf,
                          size_t len, const uint8_t *sizes, size_t nsizes)
{
    ch_ws_parser *p = ch_ws_parser_new(max, role);
    size_t off = 0, turn = 0;

    lg->n = 0;
    lg->final = CH_WS_AGAIN;
    if (!p)
        abort();
    while (off < len || turn == 0) {
        size_t piece = nsizes ? sizes[turn % nsizes] : 1;
        size_t end;

        turn++;
        if (piece == 0) {
            /* An empty feed changes nothing; then move on by one byte. */
            ch_ws_event ev;
            size_t used = (size_t)-1;

            REQUIRE(ch_ws_parser_feed(p, buf + off, 0, &used, &ev) == CH_WS_AGAIN);
            REQUIRE(used == 0);
            piece = 1;
        }
        if (piece > len - off)
            piece = len - off;
        end = off + piece;
        for (;;) {
            ch_ws_event ev;
            size_t used = (size_t)-1;
            ch_ws_result res = ch_ws_parser_feed(p, buf + off, end - off, &used, &ev);

            REQUIRE(used <= end - off);
            off += used;
            if (res == CH_WS_AGAIN) {
                REQUIRE(off == end);
                ch_ws_parser_shrink(p);
                break;
            }
            if (!note(lg, res, &ev, max, off))
                goto out;
            if (res == CH_WS_ERROR) {
                lg->final = CH_WS_ERROR;
                check_dead(p, buf, len, ev.close_code);
                goto out;
            }
        }
    }
out:
    lg->end = off;
    ch_ws_parser_free(p);
}

/* Encodes a close frame with a reason cut from the stream and parses it. */
static void close_roundtrip(const uint8_t *buf, size_t len)
{
    char reason[200];
    uint8_t frame[129];
    size_t rlen = len < sizeof reason - 1 ? len : sizeof reason - 1, n;
    ch_ws_parser *p;
    ch_ws_event ev;
    size_t used;
    uint16_t code = (uint16_t)(len ? 1000 + buf[0] % 4 : 1000);

    memcpy(reason, buf, rlen);
    reason[rlen] = '\0';
    rlen = strlen(reason);
    if (!ch_utf8_valid((const uint8_t *)reason, rlen))
        return;
    n = ch_ws_close_encode(frame, code, reason);
    REQUIRE(n >= 4 && n <= 127);
    p = ch_ws_parser_new(0, CH_WS_ROLE_CLIENT);
    if (!p)
        abort();
    REQUIRE(ch_ws_parser_feed(p, frame, n, &used, &ev) == CH_WS_EVENT);
    REQUIRE(used == n && ev.type == CH_WS_EV_CLOSE && ev.close_code == code);
    REQUIRE(ev.reason_len <= rlen && memcmp(ev.reason, reason, ev.reason_len) == 0);
    REQUIRE(rlen <= 123 ? ev.reason_len == rlen : ev.reason_len + 3 >= 123);
    ch_ws_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t nsizes, i;
    const uint8_t *sizes, *stream;
    size_t len, max;
    int role;

    if (size < 1)
        return 0;
    role = data[0] & 1 ? CH_WS_ROLE_CLIENT : CH_WS_ROLE_SERVER;
    max = max_choices[(data[0] >> 1) & 7];
    nsizes = data[0] >> 4;
    if (nsizes > size - 1)
        nsizes = size - 1;
    sizes = data + 1;
    stream = data + 1 + nsizes;
    len = size - 1 - nsizes;

    parse_whole(&whole_log, role, max, stream, len);
    parse_chunked(&chunk_log, role, max, stream, len, sizes, nsizes);

    REQUIRE(whole_log.n == chunk_log.n);
    if (whole_log.n < MAX_EVENTS) {
        REQUIRE(whole_log.final == chunk_log.final);
        REQUIRE(whole_log.end == chunk_log.end);
    }
    for (i = 0; i < whole_log.n; i++)
        REQUIRE(seen_equal(&whole_log.ev[i], &chunk_log.ev[i]));

    close_roundtrip(stream, len);
    sink += whole_log.n;
    return 0;
}
