/*
 * lt_results.c — per-worker results: merge, delivery check, pipe format.
 */
#include "lt_results.h"

#include <stdlib.h>
#include <string.h>

#include "lt_wire.h"

int
lt_results_init(lt_results *r, uint32_t nrooms)
{
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < LT_H_COUNT; i++) lt_hist_reset(&r->hist[i]);
    r->nrooms = nrooms;
    r->rooms = calloc(nrooms ? nrooms : 1, sizeof(*r->rooms));
    return r->rooms ? 0 : -1;
}

void
lt_results_free(lt_results *r)
{
    if (r->rooms)
        for (uint32_t i = 0; i < r->nrooms; i++) {
            free(r->rooms[i].d);
            lt_seqset_free(&r->rooms[i].seqs);
        }
    free(r->rooms);
    r->rooms = NULL;
    r->nrooms = 0;
}

int
lt_room_add(lt_room_result *room, uint64_t deliveries, uint64_t members)
{
    if (!members) return 0;
    for (uint32_t i = 0; i < room->n; i++) {
        if (room->d[i].deliveries == deliveries) {
            room->d[i].members += members;
            return 0;
        }
    }
    if (room->n == room->cap) {
        uint32_t cap = room->cap ? room->cap * 2 : 4;
        lt_dcount *d = realloc(room->d, cap * sizeof(*d));
        if (!d) return -1;
        room->d = d;
        room->cap = cap;
    }
    room->d[room->n].deliveries = deliveries;
    room->d[room->n].members = members;
    room->n++;
    return 0;
}

static int64_t
min_set(int64_t a, int64_t b)
{
    if (!a) return b;
    if (!b) return a;
    return a < b ? a : b;
}

static int64_t
max_i(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int
lt_results_merge(lt_results *dst, const lt_results *src)
{
    dst->connect_first_us = min_set(dst->connect_first_us, src->connect_first_us);
    dst->connect_last_us = max_i(dst->connect_last_us, src->connect_last_us);
    dst->start_us = min_set(dst->start_us, src->start_us);
    dst->end_us = max_i(dst->end_us, src->end_us);
    dst->drop_us = min_set(dst->drop_us, src->drop_us);
    dst->initial_ready += src->initial_ready;
    dst->initial_failed += src->initial_failed;
    dst->members_lost += src->members_lost;
    lt_counts_add(&dst->counts, &src->counts);
    for (int i = 0; i < LT_H_COUNT; i++) lt_hist_merge(&dst->hist[i], &src->hist[i]);
    uint32_t n = dst->nrooms < src->nrooms ? dst->nrooms : src->nrooms;
    for (uint32_t i = 0; i < n; i++) {
        dst->rooms[i].acked += src->rooms[i].acked;
        lt_seqset_merge(&dst->rooms[i].seqs, &src->rooms[i].seqs);
        for (uint32_t k = 0; k < src->rooms[i].n; k++)
            if (lt_room_add(&dst->rooms[i], src->rooms[i].d[k].deliveries, src->rooms[i].d[k].members) < 0)
                return -1;
    }
    return 0;
}

void
lt_room_compute(const lt_room_result *room, lt_room_check *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < room->n; i++) {
        const lt_dcount *d = &room->d[i];
        out->members += d->members;
        out->received += d->deliveries * d->members;
        if (d->deliveries < room->acked) out->missing += (room->acked - d->deliveries) * d->members;
        else out->extra += (d->deliveries - room->acked) * d->members;
    }
    out->expected = room->acked * out->members;
}

void
lt_results_encode(ch_buf *out, const lt_results *r)
{
    lt_wire_i64(out, r->connect_first_us);
    lt_wire_i64(out, r->connect_last_us);
    lt_wire_i64(out, r->start_us);
    lt_wire_i64(out, r->end_us);
    lt_wire_i64(out, r->drop_us);
    lt_wire_u64(out, r->initial_ready);
    lt_wire_u64(out, r->initial_failed);
    lt_wire_u64(out, r->members_lost);
    ch_buf_append(out, (const char *)&r->counts, sizeof(r->counts));
    for (int i = 0; i < LT_H_COUNT; i++) lt_hist_encode(out, &r->hist[i]);
    uint32_t used = 0;
    for (uint32_t i = 0; i < r->nrooms; i++) used += r->rooms[i].acked || r->rooms[i].n || r->rooms[i].seqs.count;
    lt_wire_u32(out, used);
    size_t budget = LT_RESULTS_SEQ_BUDGET;
    for (uint32_t i = 0; i < r->nrooms; i++) {
        const lt_room_result *room = &r->rooms[i];
        if (!room->acked && !room->n && !room->seqs.count) continue;
        lt_wire_u32(out, i);
        lt_wire_u64(out, room->acked);
        lt_wire_u32(out, room->n);
        for (uint32_t k = 0; k < room->n; k++) {
            lt_wire_u64(out, room->d[k].deliveries);
            lt_wire_u64(out, room->d[k].members);
        }
        size_t bytes = (size_t)room->seqs.nwords * sizeof(uint64_t);
        int bits = bytes <= budget;
        if (bits) budget -= bytes;
        lt_seqset_encode(out, &room->seqs, bits);
    }
}

int
lt_results_decode(const uint8_t *p, size_t len, lt_results *r)
{
    lt_reader rd = { p, p + len, 0 };
    r->connect_first_us = lt_read_i64(&rd);
    r->connect_last_us = lt_read_i64(&rd);
    r->start_us = lt_read_i64(&rd);
    r->end_us = lt_read_i64(&rd);
    r->drop_us = lt_read_i64(&rd);
    r->initial_ready = lt_read_u64(&rd);
    r->initial_failed = lt_read_u64(&rd);
    r->members_lost = lt_read_u64(&rd);
    lt_read_bytes(&rd, &r->counts, sizeof(r->counts));
    if (rd.err) return -1;
    for (int i = 0; i < LT_H_COUNT; i++)
        if (lt_hist_decode(&rd.p, rd.end, &r->hist[i]) < 0) return -1;
    uint32_t used = lt_read_u32(&rd);
    if (rd.err || used > r->nrooms) return -1;
    for (uint32_t k = 0; k < used; k++) {
        uint32_t i = lt_read_u32(&rd);
        uint64_t acked = lt_read_u64(&rd);
        uint32_t n = lt_read_u32(&rd);
        if (rd.err || i >= r->nrooms || n > (uint32_t)((size_t)(rd.end - rd.p) / 16)) return -1;
        r->rooms[i].acked += acked;
        for (uint32_t j = 0; j < n; j++) {
            uint64_t d = lt_read_u64(&rd), m = lt_read_u64(&rd);
            if (rd.err || lt_room_add(&r->rooms[i], d, m) < 0) return -1;
        }
        lt_seqset set;
        if (rd.err || lt_seqset_decode(&rd.p, rd.end, &set) < 0) return -1;
        lt_seqset_merge(&r->rooms[i].seqs, &set); /* on overflow the set says so */
        lt_seqset_free(&set);
    }
    return rd.err || rd.p != rd.end ? -1 : 0;
}
