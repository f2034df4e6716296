/*
 * fuzz_reduce.c — libFuzzer target for the room reducers: the first byte
 * picks the room kind, the rest is a JSON event or array of events folded
 * into a fresh state. The reducers must never crash, leak or produce a
 * state that does not survive a JSON round trip unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "reduce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const kinds[] = { "chat", "board", "whiteboard" };
    if (size < 1) return 0;
    const char *kind = kinds[data[0] % 3];
    json_error_t err;
    json_t *events = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, &err);
    json_t *state = wk_state_new(kind);
    if (!state) {
        json_decref(events);
        return 0;
    }
    if (json_is_array(events)) {
        size_t i;
        json_t *ev;
        json_array_foreach(events, i, ev) wk_reduce(kind, state, ev);
    } else if (events) {
        wk_reduce(kind, state, events);
    }
    char *dump = json_dumps(state, JSON_SORT_KEYS | JSON_COMPACT);
    if (dump) {
        json_t *again = json_loads(dump, 0, &err);
        char *dump2 = again ? json_dumps(again, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        if (!dump2 || strcmp(dump, dump2) != 0) abort(); /* state must round-trip */
        sink += strlen(dump2);
        free(dump2);
        json_decref(again);
        free(dump);
    }
    json_decref(state);
    json_decref(events);
    return 0;
}
