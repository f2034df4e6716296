/*
 * hash.h — FNV-1a, 32 bits: the one string hash of Chorus (room partitions,
 * the gateway's room index, the worker's room caches). Not for anything an
 * attacker could exploit by collision beyond a longer bucket chain.
 */
#ifndef CHORUS_HASH_H
#define CHORUS_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t
ch_fnv1a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

#endif
