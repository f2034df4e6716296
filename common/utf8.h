/*
 * utf8.h — streaming UTF-8 validation (RFC 3629), usable across chunk and
 * fragment boundaries.
 *
 * Invariant: the state after feeding bytes b1..bn in any split equals the
 * state after feeding them at once. CH_UTF8_ACCEPT means "valid so far and at
 * a character boundary"; CH_UTF8_REJECT is sticky. Overlong forms,
 * surrogates (U+D800..U+DFFF) and code points above U+10FFFF are rejected
 * at the first byte that makes them impossible (fail fast).
 */
#ifndef CHORUS_UTF8_H
#define CHORUS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define CH_UTF8_ACCEPT 0u
#define CH_UTF8_REJECT 1u

/* Feeds len bytes; returns the new state (CH_UTF8_ACCEPT, CH_UTF8_REJECT or
 * an opaque "inside a character" value). */
uint32_t ch_utf8_feed(uint32_t state, const uint8_t *buf, size_t len);

/* 1 if buf is complete, valid UTF-8. */
int ch_utf8_valid(const uint8_t *buf, size_t len);

#endif
