/*
 * utf8.c — streaming UTF-8 validation as a table-driven DFA.
 *
 * Each byte maps to one of twelve classes; the state after a byte is
 * transition[state][class]. The states are:
 *
 *   0 ACCEPT   at a character boundary
 *   1 REJECT   invalid input seen (sticky: every class maps back to REJECT)
 *   2          one continuation byte (80..BF) still due
 *   3          two continuation bytes (80..BF) due
 *   4          after E0: next byte must be A0..BF (else overlong), then one more
 *   5          after ED: next byte must be 80..9F (else surrogate), then one more
 *   6          three continuation bytes (80..BF) due
 *   7          after F0: next byte must be 90..BF (else overlong), then two more
 *   8          after F4: next byte must be 80..8F (else > U+10FFFF), then two more
 *
 * Invariants: the value of ACCEPT and REJECT match CH_UTF8_ACCEPT and
 * CH_UTF8_REJECT; every state other than ACCEPT and REJECT stands for a
 * prefix of a valid character, so a byte that makes the input impossible
 * moves to REJECT at once. Because the DFA has no other memory, feeding input
 * in pieces gives the same state as feeding it whole.
 */
#include "utf8.h"

#include <string.h>

enum { UTF8_NSTATES = 9, UTF8_NCLASSES = 12 };

/* Byte classes:
 *  0: 00..7F  ASCII              6: E0      three-byte lead, A0..BF next
 *  1: 80..8F  continuation       7: E1..EC, EE..EF  three-byte lead
 *  2: 90..9F  continuation       8: ED      three-byte lead, 80..9F next
 *  3: A0..BF  continuation       9: F0      four-byte lead, 90..BF next
 *  4: C0, C1, F5..FF never valid 10: F1..F3 four-byte lead
 *  5: C2..DF  two-byte lead      11: F4     four-byte lead, 80..8F next */
static const uint8_t utf8_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 10 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 70 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 90 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* A0 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* B0 */
    4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* C0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* D0 */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7, /* E0 */
    9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* F0 */
};

/* transition[state * UTF8_NCLASSES + class] */
static const uint8_t utf8_transition[UTF8_NSTATES * UTF8_NCLASSES] = {
 /* class:  0  1  2  3  4  5  6  7  8  9 10 11 */
 /* 0 */    0, 1, 1, 1, 1, 2, 4, 3, 5, 7, 6, 8,
 /* 1 */    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
 /* 2 */    1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
 /* 3 */    1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1,
 /* 4 */    1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1,
 /* 5 */    1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1,
 /* 6 */    1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
 /* 7 */    1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
 /* 8 */    1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

uint32_t ch_utf8_feed(uint32_t state, const uint8_t *buf, size_t len)
{
    size_t i = 0;

    if (state >= UTF8_NSTATES)
        return CH_UTF8_REJECT;
    while (i < len) {
        if (state == CH_UTF8_ACCEPT) {
            /* Skip runs of ASCII eight bytes at a time. */
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, buf + i, sizeof w);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            if (i == len)
                break;
        }
        state = utf8_transition[state * UTF8_NCLASSES + utf8_class[buf[i++]]];
        if (state == CH_UTF8_REJECT)
            break;
    }
    return state;
}

int ch_utf8_valid(const uint8_t *buf, size_t len)
{
    return ch_utf8_feed(CH_UTF8_ACCEPT, buf, len) == CH_UTF8_ACCEPT;
}
