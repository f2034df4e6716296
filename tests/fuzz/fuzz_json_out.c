/*
 * fuzz_json_out.c — libFuzzer target for ch_json_dumps (common/json_out.h).
 *
 * The input is parsed by jansson (any value, NUL allowed in strings); when
 * it parses, both serializers dump it, with and without sorted keys:
 *
 *   - ours fails exactly when jansson's does;
 *   - without reals the texts are the same bytes;
 *   - with reals ours parses back to an equal value (same doubles) and is
 *     never longer than jansson's.
 *
 * The first 8 bytes, when the input is that long, are also dumped as a
 * real: it must read back as the same double (NaN and infinities refused).
 * Violations abort; results go to a volatile sink.
 */
#include "json_out.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink_len;

static int has_real(const json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;

    if (json_is_real(v)) return 1;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (has_real(x)) return 1;
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (has_real(x)) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= sizeof(double)) {
        double d;
        char buf[CH_JSON_REAL_MAX];
        memcpy(&d, data, sizeof(d));
        size_t n = ch_json_real(buf, d);
        if (isfinite(d) != (n > 0)) abort();
        if (n > 0 && (strlen(buf) != n || strtod(buf, NULL) != d)) abort();
    }

    json_error_t err;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v) return 0;
    int reals = has_real(v);
    for (int sorted = 0; sorted < 2; sorted++) {
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | (sorted ? JSON_SORT_KEYS : 0));
        size_t len = 0;
        char *got = ch_json_dumps(v, sorted ? CH_JSON_SORT_KEYS : 0, &len);
        if ((want == NULL) != (got == NULL)) abort();
        if (got) {
            if (strlen(got) != len) abort();
            if (!reals && strcmp(want, got) != 0) abort();
            if (reals) {
                json_t *back = json_loadb(got, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
                /* Reals read back equal. (Not always shorter than jansson's
                 * text: an integral real from 1e15 up takes an exponent
                 * with its fewest digits, 5.55550000000593e15, where
                 * jansson writes 5555500000005930.0.) */
                if (!back || !json_equal(back, v)) abort();
                json_decref(back);
            }
            sink_len = len;
        }
        free(want);
        free(got);
    }
    json_decref(v);
    return 0;
}
