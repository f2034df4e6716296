/*
 * json_out.h — compact JSON text of jansson values, with every real in its
 * shortest round-trip form.
 *
 * The output is byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY [| JSON_SORT_KEYS]) of jansson 2.14 writes, except for
 * reals: jansson prints them with "%.17g" (612.9 becomes
 * 612.89999999999998); here a finite real is written with the fewest
 * significant digits that read back (strtod) as the same double: the
 * first of "%.15g", "%.16g", "%.17g" that does, and for subnormals the
 * first of "%.1g" .. "%.17g". The digits are those JavaScript's
 * JSON.stringify chooses; only the notation may differ (1e21 here, 1e+21
 * there). As in jansson, a real always keeps a '.' or an exponent ("3.0"),
 * exponents have no '+' and no leading zeros, integers are printed as
 * integers, strings keep their UTF-8 as is and escape only '"', '\\' and
 * control characters (\b \f \n \r \t, else \u00XX with upper-case hex).
 *
 * Failures are jansson's: a string that is not valid UTF-8, a non-finite
 * real (jansson never makes one) or nesting deeper than CH_JSON_OUT_MAX_DEPTH
 * (which also stops a value that contains itself).
 *
 * Threads: no shared state; any number of threads may dump at once (the
 * values themselves must not change meanwhile, as for json_dumps).
 */
#ifndef CHORUS_JSON_OUT_H
#define CHORUS_JSON_OUT_H

#include <stddef.h>

#include <jansson.h>

#include "protocol.h"

#define CH_JSON_SORT_KEYS     0x1u  /* object members in key byte order (JSON_SORT_KEYS) */
#define CH_JSON_OUT_MAX_DEPTH 2048 /* deepest nesting dumped (jansson parses at most 2048) */
#define CH_JSON_REAL_MAX      32     /* room for the text of any real, with its NUL */

/* What a dump walked, for callers that budget the memory of the value. */
typedef struct {
    size_t values;      /* every value, containers included */
    size_t heap;        /* heap bytes jansson 2.14 holds for the value, estimated
                           from its structures and glibc's chunk sizes */
} ch_json_stats;

/* Appends the text of v to b. 0, or -1 (b->oom set when out of memory; b
 * is then left with a partial text that the caller discards). stats, when
 * not NULL, is filled in. */
int ch_json_dump(ch_buf *b, const json_t *v, unsigned flags, ch_json_stats *stats);

/* The text of v in a new malloc'd, NUL-terminated buffer (owned by the
 * caller), its length in *len when len is not NULL; NULL on failure. */
char *ch_json_dumps(const json_t *v, unsigned flags, size_t *len);

/* Writes the JSON text of the real d to out (CH_JSON_REAL_MAX bytes) with
 * its NUL; returns its length, or 0 when d is not finite. */
size_t ch_json_real(char *out, double d);

#endif
