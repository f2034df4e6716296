/*
 * ws_codec.c — RFC 6455 framing: incremental frame parser and frame encoder.
 *
 * The parser is driven one header byte, or one run of payload bytes, at a
 * time, so input may be split anywhere:
 *
 *   +------+  byte 0: FIN, RSV, opcode   +------+
 *   | HDR0 |---------------------------->| HDR1 |  byte 1: MASK, len7
 *   +------+                             +------+
 *      ^                     len7 = 126/127 |    | len7 < 126
 *      |                                    v    |
 *      |                          +--------+     |
 *      |          2 or 8 bytes    | EXTLEN |     |
 *      |                          +--------+     |
 *      |                                    |    |
 *      |                                    v    v
 *      |                               length known
 *      |                          masked |         | unmasked
 *      |                                 v         |
 *      |                           +------+        |
 *      |                 4 bytes   | MASK |        |
 *      |                           +------+        |
 *      |                                 v         v
 *      |                        header complete: size check (1009)
 *      |                                      |
 *      |  frame complete     +---------+      |
 *      +---------------------| PAYLOAD |<-----+
 *        (an event, or the   +---------+  payload bytes, unmasked into
 *         next fragment is due)           ctl or msg, text checked as UTF-8
 *
 *   Any state, on a protocol error: dead (err != 0), sticky.
 *
 * Invariants
 *  - msg_len <= msg_cap and msg_cap <= max_message.
 *  - msg_op is TEXT or BINARY from the header of a data message's first
 *    frame until its final frame completes; 0 otherwise. Only while msg_op is
 *    0 may the message buffer be released.
 *  - msg_len + remaining <= max_message while a data frame's payload is read:
 *    the header check guarantees it, so the buffer never has to grow past the
 *    limit and excess payload is never stored.
 *  - Control payloads go to the fixed ctl array (<= 125 bytes, checked at
 *    HDR1); they never touch msg, so a partial data message survives them.
 *  - mask_pos is the offset into the current frame's payload modulo 4.
 *  - utf8 is the validator state over all text payload bytes stored so far
 *    for the current message; it is never REJECT outside the dead state.
 *  - Every error is found at the byte that proves it, so the total input
 *    consumed before CH_WS_ERROR does not depend on how input was split.
 */
#include "ws_codec.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* First allocation of the message buffer (smaller if the message is known
 * to be smaller). */
#define MSG_MIN_CAP 256u

#define CTL_MAX 125u

enum parse_state { ST_HDR0, ST_HDR1, ST_EXTLEN, ST_MASK, ST_PAYLOAD };

enum parse_error {
    ERR_NONE = 0,
    ERR_RSV,
    ERR_OPCODE,
    ERR_CTL_FRAGMENTED,
    ERR_CTL_TOO_LONG,
    ERR_CONT_NO_START,
    ERR_DATA_IN_FRAGMENT,
    ERR_UNMASKED,
    ERR_MASKED,
    ERR_LEN64,
    ERR_TOO_BIG,
    ERR_TEXT_UTF8,
    ERR_CLOSE_LEN,
    ERR_CLOSE_CODE,
    ERR_CLOSE_UTF8,
    ERR_NOMEM
};

static const struct {
    uint16_t code;
    const char *reason;
} parse_errors[] = {
    [ERR_NONE] = {0, ""},
    [ERR_RSV] = {CH_WS_CLOSE_PROTOCOL, "reserved bits set"},
    [ERR_OPCODE] = {CH_WS_CLOSE_PROTOCOL, "reserved opcode"},
    [ERR_CTL_FRAGMENTED] = {CH_WS_CLOSE_PROTOCOL, "fragmented control frame"},
    [ERR_CTL_TOO_LONG] = {CH_WS_CLOSE_PROTOCOL, "control frame payload over 125 bytes"},
    [ERR_CONT_NO_START] = {CH_WS_CLOSE_PROTOCOL, "continuation frame without a message"},
    [ERR_DATA_IN_FRAGMENT] = {CH_WS_CLOSE_PROTOCOL, "new data frame inside a fragmented message"},
    [ERR_UNMASKED] = {CH_WS_CLOSE_PROTOCOL, "unmasked client frame"},
    [ERR_MASKED] = {CH_WS_CLOSE_PROTOCOL, "masked server frame"},
    [ERR_LEN64] = {CH_WS_CLOSE_PROTOCOL, "64-bit payload length with the top bit set"},
    [ERR_TOO_BIG] = {CH_WS_CLOSE_TOO_BIG, "message exceeds the size limit"},
    [ERR_TEXT_UTF8] = {CH_WS_CLOSE_INVALID_DATA, "invalid UTF-8 in text message"},
    [ERR_CLOSE_LEN] = {CH_WS_CLOSE_PROTOCOL, "close frame with a 1-byte body"},
    [ERR_CLOSE_CODE] = {CH_WS_CLOSE_PROTOCOL, "invalid close code"},
    [ERR_CLOSE_UTF8] = {CH_WS_CLOSE_INVALID_DATA, "invalid UTF-8 in close reason"},
    [ERR_NOMEM] = {CH_WS_CLOSE_INTERNAL, "out of memory"},
};

/* One per connection: keep it small. The message buffer is allocated only
 * when a data payload byte arrives. */
struct ch_ws_parser {
    uint8_t *msg;         /* owned (malloc): payload of the data message in
                             progress, or of the last one delivered; NULL
                             until needed; freed by shrink and free */
    size_t msg_cap;       /* bytes allocated at msg (<= max_message) */
    size_t msg_len;       /* payload bytes of the current data message so far */
    size_t max_message;   /* limit on the total payload of one data message */
    uint64_t remaining;   /* EXTLEN: length being assembled; PAYLOAD: bytes
                             of the current frame still to come */
    uint32_t utf8;        /* UTF-8 state of the text message in progress */
    uint8_t mask[4];      /* masking key of the current frame */
    uint8_t state;        /* enum parse_state */
    uint8_t err;          /* enum parse_error; non-zero means dead */
    uint8_t role;         /* CH_WS_ROLE_SERVER or CH_WS_ROLE_CLIENT */
    uint8_t opcode;       /* opcode of the current frame */
    uint8_t fin;          /* FIN bit of the current frame */
    uint8_t masked;       /* the current frame carries a masking key */
    uint8_t hdr_left;     /* EXTLEN, MASK: bytes still to read in this state */
    uint8_t mask_pos;     /* payload offset in the current frame, mod 4 */
    uint8_t msg_op;       /* TEXT or BINARY while a data message is in
                             progress, else 0 */
    uint8_t ctl_len;      /* payload bytes of the current control frame */
    uint8_t ctl[CTL_MAX]; /* payload of the current control frame */
};

static int is_control(unsigned opcode)
{
    return (opcode & 0x8) != 0;
}

ch_ws_parser *ch_ws_parser_new(size_t max_message, int role)
{
    ch_ws_parser *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    p->max_message = max_message;
    p->role = role == CH_WS_ROLE_CLIENT ? CH_WS_ROLE_CLIENT : CH_WS_ROLE_SERVER;
    p->state = ST_HDR0;
    p->utf8 = CH_UTF8_ACCEPT;
    return p;
}

void ch_ws_parser_free(ch_ws_parser *p)
{
    if (!p)
        return;
    free(p->msg);
    free(p);
}

/* Frees the message buffer unless a data message is in progress. This also
 * ends the life of the payload of a data event already returned. */
void ch_ws_parser_shrink(ch_ws_parser *p)
{
    if (p->msg_op)
        return;
    free(p->msg);
    p->msg = NULL;
    p->msg_cap = 0;
    p->msg_len = 0;
}

/* Unmasks n bytes from src into dst, continuing the key at *pos. */
static void unmask(uint8_t *dst, const uint8_t *src, size_t n,
                   const uint8_t key[4], uint8_t *pos)
{
    size_t i = 0;
    unsigned k = *pos;

    /* Bring the key back to phase 0, then work a word at a time. */
    while (i < n && k != 0) {
        dst[i] = src[i] ^ key[k];
        k = (k + 1) & 3;
        i++;
    }
    if (n - i >= 8) {
        const uint8_t key8[8] = {key[0], key[1], key[2], key[3],
                                 key[0], key[1], key[2], key[3]};
        uint64_t kw;

        memcpy(&kw, key8, sizeof kw);
        for (; n - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, src + i, sizeof w);
            w ^= kw;
            memcpy(dst + i, &w, sizeof w);
        }
    }
    for (; i < n; i++) {
        dst[i] = src[i] ^ key[k];
        k = (k + 1) & 3;
    }
    *pos = (uint8_t)k;
}

/* Checks byte 0 (FIN, RSV1-3, opcode) against the fragmentation state. */
static int on_hdr0(ch_ws_parser *p, uint8_t b)
{
    unsigned op = b & 0x0F;

    if (b & 0x70)
        return ERR_RSV;
    p->fin = (uint8_t)(b >> 7);
    p->opcode = (uint8_t)op;
    switch (op) {
    case CH_WS_OP_CONT:
        if (!p->msg_op)
            return ERR_CONT_NO_START;
        break;
    case CH_WS_OP_TEXT:
    case CH_WS_OP_BINARY:
        if (p->msg_op)
            return ERR_DATA_IN_FRAGMENT;
        p->msg_op = (uint8_t)op;
        p->msg_len = 0;
        p->utf8 = CH_UTF8_ACCEPT;
        break;
    case CH_WS_OP_CLOSE:
    case CH_WS_OP_PING:
    case CH_WS_OP_PONG:
        if (!p->fin)
            return ERR_CTL_FRAGMENTED;
        p->ctl_len = 0;
        break;
    default:
        return ERR_OPCODE;
    }
    return ERR_NONE;
}

/* The header is complete: enforce the message size limit, start the payload. */
static int on_header_done(ch_ws_parser *p)
{
    p->state = ST_PAYLOAD;
    p->mask_pos = 0;
    if (!is_control(p->opcode) && p->remaining > p->max_message - p->msg_len)
        return ERR_TOO_BIG;
    return ERR_NONE;
}

/* Consumes one header byte. Sets *done when the header is complete. */
static int on_header_byte(ch_ws_parser *p, uint8_t b, int *done)
{
    unsigned len7;

    *done = 0;
    switch (p->state) {
    case ST_HDR0:
        p->state = ST_HDR1;
        return on_hdr0(p, b);
    case ST_HDR1:
        p->masked = (uint8_t)(b >> 7);
        len7 = b & 0x7F;
        if (p->role == CH_WS_ROLE_SERVER && !p->masked)
            return ERR_UNMASKED;
        if (p->role == CH_WS_ROLE_CLIENT && p->masked)
            return ERR_MASKED;
        if (is_control(p->opcode) && len7 > CTL_MAX)
            return ERR_CTL_TOO_LONG;
        p->remaining = 0;
        if (len7 >= 126) {
            p->state = ST_EXTLEN;
            p->hdr_left = len7 == 126 ? 2 : 8;
            return ERR_NONE;
        }
        p->remaining = len7;
        break;
    case ST_EXTLEN:
        if (p->hdr_left == 8 && (b & 0x80))
            return ERR_LEN64;
        p->remaining = (p->remaining << 8) | b;
        if (--p->hdr_left)
            return ERR_NONE;
        break;
    case ST_MASK:
        p->mask[4 - p->hdr_left] = b;
        if (--p->hdr_left)
            return ERR_NONE;
        *done = 1;
        return on_header_done(p);
    default:
        return ERR_NONE;
    }
    /* The length is known. */
    if (p->masked) {
        p->state = ST_MASK;
        p->hdr_left = 4;
        return ERR_NONE;
    }
    *done = 1;
    return on_header_done(p);
}

/* Makes room for n more bytes of message payload. Growth is geometric and
 * capped by the message's known final size or by max_message. */
static int msg_reserve(ch_ws_parser *p, size_t n)
{
    size_t need = p->msg_len + n;
    size_t cap, limit;
    uint8_t *nb;

    if (need <= p->msg_cap)
        return 1;
    limit = p->fin ? p->msg_len + (size_t)p->remaining : p->max_message;
    cap = p->msg_cap ? p->msg_cap : MSG_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > limit)
        cap = limit;
    nb = realloc(p->msg, cap);
    if (!nb)
        return 0;
    p->msg = nb;
    p->msg_cap = cap;
    return 1;
}

/* Offset of the byte at which UTF-8 validation starting from state fails. */
static size_t utf8_reject_offset(uint32_t state, const uint8_t *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        state = ch_utf8_feed(state, s + i, 1);
        if (state == CH_UTF8_REJECT)
            break;
    }
    return i;
}

/* Stores n (> 0, <= remaining) payload bytes of the current frame. On a
 * UTF-8 error *used stops just past the offending byte. */
static int on_payload(ch_ws_parser *p, const uint8_t *src, size_t n, size_t *used)
{
    uint8_t *dst;

    *used = n;
    if (is_control(p->opcode)) {
        dst = p->ctl + p->ctl_len;
        p->ctl_len = (uint8_t)(p->ctl_len + n);
    } else {
        if (!msg_reserve(p, n))
            return ERR_NOMEM;
        dst = p->msg + p->msg_len;
        p->msg_len += n;
    }
    if (p->masked)
        unmask(dst, src, n, p->mask, &p->mask_pos);
    else
        memcpy(dst, src, n);
    p->remaining -= n;
    if (!is_control(p->opcode) && p->msg_op == CH_WS_OP_TEXT) {
        uint32_t st = ch_utf8_feed(p->utf8, dst, n);
        if (st == CH_UTF8_REJECT) {
            *used = utf8_reject_offset(p->utf8, dst, n) + 1;
            return ERR_TEXT_UTF8;
        }
        p->utf8 = st;
    }
    return ERR_NONE;
}

/* The current frame's payload is complete. Fills *ev and sets *have_event
 * when the frame ends an event. */
static int on_frame_done(ch_ws_parser *p, ch_ws_event *ev, int *have_event)
{
    *have_event = 0;
    p->state = ST_HDR0;
    switch (p->opcode) {
    case CH_WS_OP_PING:
    case CH_WS_OP_PONG:
        ev->type = p->opcode == CH_WS_OP_PING ? CH_WS_EV_PING : CH_WS_EV_PONG;
        ev->payload = p->ctl;
        ev->payload_len = p->ctl_len;
        break;
    case CH_WS_OP_CLOSE:
        ev->type = CH_WS_EV_CLOSE;
        ev->payload = p->ctl;
        ev->payload_len = p->ctl_len;
        if (p->ctl_len == 0) {
            ev->close_code = CH_WS_CLOSE_NO_STATUS;
            ev->reason = (const char *)p->ctl;
            ev->reason_len = 0;
            break;
        }
        if (p->ctl_len == 1)
            return ERR_CLOSE_LEN;
        ev->close_code = (uint16_t)(p->ctl[0] << 8 | p->ctl[1]);
        if (!ch_ws_close_code_valid(ev->close_code))
            return ERR_CLOSE_CODE;
        if (!ch_utf8_valid(p->ctl + 2, p->ctl_len - 2u))
            return ERR_CLOSE_UTF8;
        ev->reason = (const char *)(p->ctl + 2);
        ev->reason_len = p->ctl_len - 2u;
        break;
    default: /* a data frame */
        if (!p->fin)
            return ERR_NONE;
        if (p->msg_op == CH_WS_OP_TEXT && p->utf8 != CH_UTF8_ACCEPT)
            return ERR_TEXT_UTF8;
        ev->type = p->msg_op == CH_WS_OP_TEXT ? CH_WS_EV_TEXT : CH_WS_EV_BINARY;
        /* An empty message still gets a valid pointer. */
        ev->payload = p->msg_len ? p->msg : p->ctl;
        ev->payload_len = p->msg_len;
        p->msg_op = 0;
        p->msg_len = 0;
        p->utf8 = CH_UTF8_ACCEPT;
        break;
    }
    *have_event = 1;
    return ERR_NONE;
}

ch_ws_result ch_ws_parser_feed(ch_ws_parser *p, const uint8_t *buf, size_t len,
                               size_t *consumed, ch_ws_event *ev)
{
    size_t i = 0;
    int err = ERR_NONE;

    memset(ev, 0, sizeof *ev);
    if (p->err)
        goto fail;
    while (i < len) {
        int frame_done;

        if (p->state != ST_PAYLOAD) {
            int header_done;

            err = on_header_byte(p, buf[i++], &header_done);
            if (err)
                goto fail;
            frame_done = header_done && p->remaining == 0;
        } else {
            size_t n = len - i, used;

            if (n > p->remaining)
                n = (size_t)p->remaining;
            err = on_payload(p, buf + i, n, &used);
            i += used;
            if (err)
                goto fail;
            frame_done = p->remaining == 0;
        }
        if (frame_done) {
            int have_event;

            err = on_frame_done(p, ev, &have_event);
            if (err)
                goto fail;
            if (have_event) {
                *consumed = i;
                return CH_WS_EVENT;
            }
        }
    }
    *consumed = i;
    return CH_WS_AGAIN;

fail:
    if (err)
        p->err = (uint8_t)err;
    memset(ev, 0, sizeof *ev);
    ev->close_code = parse_errors[p->err].code;
    ev->reason = parse_errors[p->err].reason;
    ev->reason_len = strlen(ev->reason);
    *consumed = i;
    return CH_WS_ERROR;
}

int ch_ws_close_code_valid(unsigned code)
{
    if (code >= 1000 && code <= 1003)
        return 1;
    if (code >= 1007 && code <= 1014)
        return 1;
    return code >= 3000 && code <= 4999;
}

size_t ch_ws_header_size(size_t len)
{
    if (len < 126)
        return 2;
    if (len <= 0xFFFF)
        return 4;
    return 10;
}

/* Writes the length field (byte 1 and any extended length) after byte 0. */
static size_t put_length(uint8_t *out, size_t len, uint8_t mask_bit)
{
    uint64_t v = len;
    int i;

    if (len < 126) {
        out[1] = (uint8_t)(mask_bit | len);
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = (uint8_t)(mask_bit | 126);
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = (uint8_t)(mask_bit | 127);
    for (i = 9; i >= 2; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
    return 10;
}

size_t ch_ws_header_encode(uint8_t *out, int opcode, size_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    return put_length(out, len, 0);
}

size_t ch_ws_close_encode(uint8_t *out, uint16_t code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    size_t h;

    if (code == CH_WS_CLOSE_NO_STATUS)
        return ch_ws_header_encode(out, CH_WS_OP_CLOSE, 0);
    if (rlen > CTL_MAX - 2) {
        /* Cut before a character's first byte, never inside it. */
        rlen = CTL_MAX - 2;
        while (rlen > 0 && ((uint8_t)reason[rlen] & 0xC0) == 0x80)
            rlen--;
    }
    h = ch_ws_header_encode(out, CH_WS_OP_CLOSE, 2 + rlen);
    out[h] = (uint8_t)(code >> 8);
    out[h + 1] = (uint8_t)code;
    if (rlen)
        memcpy(out + h + 2, reason, rlen);
    return h + 2 + rlen;
}

size_t ch_ws_client_frame_encode(uint8_t *out, int fin, int opcode,
                                 const uint8_t *payload, size_t len,
                                 const uint8_t mask_key[4])
{
    size_t h;
    uint8_t pos = 0;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    h = put_length(out, len, 0x80);
    memcpy(out + h, mask_key, 4);
    h += 4;
    if (len)
        unmask(out + h, payload, len, mask_key, &pos);
    return h + len;
}
