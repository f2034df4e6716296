/*
 * lt_wire.h — the byte format of the pipes between the parent and its
 * worker processes.
 *
 * A pipe carries records: a 4-byte body length, a 1-byte record type, then
 * the body. Integers are native-endian (both ends are the same binary,
 * forked). Writers append to a ch_buf; readers walk a bounded byte range
 * with an lt_reader whose err flag becomes sticky on the first overrun, so
 * callers check it once after a sequence of reads.
 */
#ifndef CHORUS_LT_WIRE_H
#define CHORUS_LT_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocol.h" /* ch_buf */

#define LT_WIRE_HEADER 5u            /* u32 length + u8 type */
#define LT_WIRE_MAX_BODY (64u << 20) /* sanity bound on one record */

/* Record types. Worker -> parent: */
#define LT_REC_HELLO     1  /* empty: the worker is up */
#define LT_REC_PROGRESS  2  /* lt_counts + interval latency histogram */
#define LT_REC_READY     3  /* lt_counts: every client joined or failed */
#define LT_REC_DRAINED   4  /* per-room acked counts: no publish in flight */
#define LT_REC_FINAL     5  /* lt_results (encoded) */
/* Parent -> worker: */
#define LT_REC_CONNECT   10 /* i64 wall-clock µs at which to start connecting */
#define LT_REC_GO        11 /* i64 scenario start (µs), i64 end (µs), i64 drop (µs or 0) */
#define LT_REC_ACKS      12 /* per-room acked counts summed over all workers */
#define LT_REC_STOP      13 /* end the run now (interrupt) */

static inline void lt_wire_u8(ch_buf *b, uint8_t v) { ch_buf_append(b, (const char *)&v, 1); }
static inline void lt_wire_u32(ch_buf *b, uint32_t v) { ch_buf_append(b, (const char *)&v, 4); }
static inline void lt_wire_u64(ch_buf *b, uint64_t v) { ch_buf_append(b, (const char *)&v, 8); }
static inline void lt_wire_i64(ch_buf *b, int64_t v) { ch_buf_append(b, (const char *)&v, 8); }

/* Starts a record of type t; returns the offset to pass to lt_wire_end. */
static inline size_t
lt_wire_begin(ch_buf *b, uint8_t t)
{
    size_t at = b->len;
    lt_wire_u32(b, 0);
    lt_wire_u8(b, t);
    return at;
}

/* Patches the body length of the record started at offset at. */
static inline void
lt_wire_end(ch_buf *b, size_t at)
{
    if (b->oom) return;
    uint32_t len = (uint32_t)(b->len - at - LT_WIRE_HEADER);
    memcpy(b->data + at, &len, 4);
}

typedef struct {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last byte */
    int err;            /* set on the first read past end */
} lt_reader;

static inline int
lt_read_bytes(lt_reader *r, void *out, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = 1;
        memset(out, 0, n);
        return -1;
    }
    memcpy(out, r->p, n);
    r->p += n;
    return 0;
}
static inline uint8_t lt_read_u8(lt_reader *r) { uint8_t v; lt_read_bytes(r, &v, 1); return v; }
static inline uint32_t lt_read_u32(lt_reader *r) { uint32_t v; lt_read_bytes(r, &v, 4); return v; }
static inline uint64_t lt_read_u64(lt_reader *r) { uint64_t v; lt_read_bytes(r, &v, 8); return v; }
static inline int64_t lt_read_i64(lt_reader *r) { int64_t v; lt_read_bytes(r, &v, 8); return v; }

/* Splits the next complete record off buf[0..len): returns the bytes it
 * takes (header + body) and sets the type, body and body length; 0 if incomplete;
 * -1 if the header is absurd. */
static inline long
lt_wire_next(const uint8_t *buf, size_t len, uint8_t *type, const uint8_t **body, size_t *body_len)
{
    uint32_t blen;
    if (len < LT_WIRE_HEADER) return 0;
    memcpy(&blen, buf, 4);
    if (blen > LT_WIRE_MAX_BODY) return -1;
    if (len < LT_WIRE_HEADER + (size_t)blen) return 0;
    *type = buf[4];
    *body = buf + LT_WIRE_HEADER;
    *body_len = blen;
    return (long)(LT_WIRE_HEADER + blen);
}

#endif
