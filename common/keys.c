/*
 * keys.c — Redis key and channel names (see keys.h for the layout).
 */
#include "keys.h"
#include "hash.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

unsigned
ch_room_partition(const char *room, size_t len, unsigned partitions)
{
    return partitions ? ch_fnv1a(room, len) % partitions : 0;
}

void
ch_room_keys_build(ch_room_keys *k, const char *room, unsigned partitions)
{
    unsigned p = ch_room_partition(room, strlen(room), partitions);
    k->partition = p;
    snprintf(k->meta, sizeof(k->meta), "ch:{p%u}:m:%s", p, room);
    snprintf(k->stream, sizeof(k->stream), "ch:{p%u}:s:%s", p, room);
    snprintf(k->presence, sizeof(k->presence), "ch:{p%u}:p:%s", p, room);
    snprintf(k->acl, sizeof(k->acl), "ch:{p%u}:a:%s", p, room);
    snprintf(k->channel, sizeof(k->channel), "ch:{p%u}:r:%s", p, room);
    ch_persist_key(k->persist, sizeof(k->persist), p);
}

int
ch_dedup_key(char *out, size_t n, const char *room, unsigned partitions,
             const char *author, const char *cid)
{
    unsigned p = ch_room_partition(room, strlen(room), partitions);
    int len = snprintf(out, n, "ch:{p%u}:d:%zu:%s%zu:%s%s", p, strlen(room), room,
                       strlen(cid), cid, author);
    return len < 0 || (size_t)len >= n ? -1 : len;
}

void
ch_persist_key(char *out, size_t n, unsigned partition)
{
    snprintf(out, n, "ch:{p%u}:persist", partition);
}

void
ch_heartbeat_channel(char *out, size_t n, const char *node)
{
    snprintf(out, n, "ch:hb:%s", node);
}

const char *
ch_room_from_channel(const char *channel, size_t len, size_t *room_len)
{
    /* "ch:{p<digits>}:r:<room>" */
    if (len < 9 || memcmp(channel, "ch:{p", 5) != 0) return NULL;
    size_t i = 5;
    while (i < len && channel[i] >= '0' && channel[i] <= '9') i++;
    if (i == 5 || len - i < 4 || memcmp(channel + i, "}:r:", 4) != 0) return NULL;
    i += 4;
    if (i >= len) return NULL;
    *room_len = len - i;
    return channel + i;
}
