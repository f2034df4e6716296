/*
 * lt_inflight.c — in-flight publishes of one publisher; see lt_inflight.h.
 */
#include "lt_inflight.h"

#include <stdlib.h>
#include <string.h>

int
lt_inflight_init(lt_inflight *f, uint32_t size)
{
    if (size < 1 || (size & (size - 1))) size = 16;
    f->ring = calloc(size, sizeof(*f->ring));
    f->mask = size - 1;
    f->n = 0;
    return f->ring ? 0 : -1;
}

void
lt_inflight_free(lt_inflight *f)
{
    free(f->ring);
    f->ring = NULL;
    f->mask = 0;
    f->n = 0;
}

int
lt_inflight_make_room(lt_inflight *f, uint64_t id, uint32_t max)
{
    if (!f->ring[id & f->mask].id) return 1;
    uint32_t size = f->mask + 1;
    if (size >= max) return 0;
    /* Grow until every in-flight id and the new one have distinct slots. */
    for (uint32_t nsize = size * 2; nsize <= max && nsize > size; nsize *= 2) {
        lt_inflight_slot *nr = calloc(nsize, sizeof(*nr));
        if (!nr) return 0;
        int clash = 0;
        for (uint32_t i = 0; i < size && !clash; i++) {
            if (!f->ring[i].id) continue;
            lt_inflight_slot *d = &nr[f->ring[i].id & (nsize - 1)];
            if (d->id) clash = 1;
            else *d = f->ring[i];
        }
        if (!clash && !nr[id & (nsize - 1)].id) {
            free(f->ring);
            f->ring = nr;
            f->mask = nsize - 1;
            return 1;
        }
        free(nr);
    }
    return 0;
}

void
lt_inflight_add(lt_inflight *f, uint64_t id, int64_t intended, int durable)
{
    lt_inflight_slot *s = &f->ring[id & f->mask];
    s->id = id;
    s->intended = intended;
    s->durable = durable ? 1 : 0;
    s->resent = 0;
    f->n++;
}

const lt_inflight_slot *
lt_inflight_get(const lt_inflight *f, uint64_t id)
{
    if (!id) return NULL;
    const lt_inflight_slot *s = &f->ring[id & f->mask];
    return s->id == id ? s : NULL;
}

int
lt_inflight_complete(lt_inflight *f, uint64_t id, lt_inflight_slot *out)
{
    if (!id) return 0;
    lt_inflight_slot *s = &f->ring[id & f->mask];
    if (s->id != id) return 0;
    if (out) *out = *s;
    memset(s, 0, sizeof(*s));
    f->n--;
    return 1;
}

uint32_t
lt_inflight_lost(lt_inflight *f)
{
    uint32_t forgotten = 0;
    for (uint32_t i = 0; i <= f->mask && f->n; i++) {
        lt_inflight_slot *s = &f->ring[i];
        if (!s->id) continue;
        if (s->durable) {
            s->resent = 1;
        } else {
            memset(s, 0, sizeof(*s));
            f->n--;
            forgotten++;
        }
    }
    return forgotten;
}

uint64_t
lt_inflight_next_durable(const lt_inflight *f, uint64_t after, uint64_t last)
{
    uint64_t size = (uint64_t)f->mask + 1;
    uint64_t from = after + 1;
    if (last >= size && from < last - size + 1) from = last - size + 1;
    for (uint64_t id = from; id <= last && id != 0; id++) {
        const lt_inflight_slot *s = &f->ring[id & f->mask];
        if (s->id == id && s->durable) return id;
    }
    return 0;
}

uint32_t
lt_inflight_clear(lt_inflight *f)
{
    uint32_t n = f->n;
    memset(f->ring, 0, ((size_t)f->mask + 1) * sizeof(*f->ring));
    f->n = 0;
    return n;
}

lt_ack_kind
lt_inflight_ack_kind(const lt_inflight_slot *s, int duplicate)
{
    if (!duplicate) return LT_ACK_NEW;
    return s->resent ? LT_ACK_DEDUP : LT_ACK_WRONG_DUP;
}
