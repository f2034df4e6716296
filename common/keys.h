/*
 * keys.h — every Redis key and channel name Chorus uses, built in one place.
 *
 * Rooms are grouped into P partitions (P is fixed for a deployment: every
 * gateway and worker must agree). All keys of a room, and the persistence
 * stream of its partition, share the hash tag "{pN}", so each script call
 * touches a single Redis Cluster hash slot, and a deployment can later shard
 * by partition across Redis Cluster or several Redis servers unchanged.
 *
 *   ch:{pN}:m:<room>            hash    seq, epoch              (room meta)
 *   ch:{pN}:s:<room>            stream  id "<seq>-0", field e   (catch-up window)
 *   ch:{pN}:p:<room>            zset    presence member -> expiry ms
 *   ch:{pN}:a:<room>            hash    user id -> role   (room access list, kept by the worker)
 *   ch:{pN}:d:<rlen>:<room><clen>:<cid><author>
 *                               string  "<seq>:<epoch>"          (publish dedup)
 *   ch:{pN}:r:<room>            channel room fan-out (pub/sub)
 *   ch:{pN}:persist             stream  events for the worker (consumer group)
 *   ch:hb:<node>                channel a node's self-heartbeat
 */
/* The kind of a key comes before the room id, and variable parts of the
 * dedup key are length-prefixed, so no two rooms (ids may contain ':') can
 * ever produce the same key. */
#ifndef CHORUS_KEYS_H
#define CHORUS_KEYS_H

#include <stddef.h>

#define CH_KEY_MAX 512
#define CH_DEFAULT_PARTITIONS 16

typedef struct {
    unsigned partition;
    char meta[CH_KEY_MAX];
    char stream[CH_KEY_MAX];
    char presence[CH_KEY_MAX];
    char acl[CH_KEY_MAX];
    char channel[CH_KEY_MAX];
    char persist[CH_KEY_MAX];
} ch_room_keys;

/* Stable partition of a room id (FNV-1a 32 modulo partitions). */
unsigned ch_room_partition(const char *room, size_t len, unsigned partitions);

/* Fills every per-room name. room must be a valid room id (<= 128 bytes). */
void ch_room_keys_build(ch_room_keys *k, const char *room, unsigned partitions);

/* Dedup key of (room, author, cid); returns its length or -1 if it does not fit. */
int ch_dedup_key(char *out, size_t n, const char *room, unsigned partitions,
                 const char *author, const char *cid);

/* Persistence stream of a partition. */
void ch_persist_key(char *out, size_t n, unsigned partition);

/* Heartbeat channel of a node. */
void ch_heartbeat_channel(char *out, size_t n, const char *node);

/* If channel names a room channel, returns a pointer to the room id inside it
 * and sets *room_len; otherwise NULL. */
const char *ch_room_from_channel(const char *channel, size_t len, size_t *room_len);

#endif
