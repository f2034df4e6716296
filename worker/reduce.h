/*
 * reduce.h — the room reducers: pure functions that fold a room's durable
 * events, in seq order, into the room's state (chat, board, whiteboard).
 *
 * The worker builds snapshots with them and the browser runs the same rules
 * (docs/reducers.md, checked by the shared vectors in tests/vectors/), so:
 *
 *   - a state is plain JSON: reduce(events 1..N), serialized and loaded
 *     again, then given events N+1..M, equals reduce(events 1..M);
 *   - the state is a pure function of the events: no clock, no randomness,
 *     no dependence on jansson's key order (everything ordered is sorted
 *     explicitly); the sorted compact text of two states built from the
 *     same events (ch_json_dumps with CH_JSON_SORT_KEYS, common/json_out.h,
 *     as the worker writes snapshots; or jansson's json_dumps with
 *     JSON_SORT_KEYS | JSON_COMPACT) is byte-identical;
 *   - every state holds "seq", the seq of the last event folded in; an event
 *     whose seq is not above it is ignored, so replaying overlapping ranges
 *     is harmless;
 *   - nothing in an event is trusted: a wrong type, a missing field, an
 *     unknown kind or an out-of-range value makes the event "ignored" (only
 *     "seq" advances), never a crash.
 *
 * Memory: states are jansson values owned by the caller (json_decref).
 * Reducers never keep a reference to the event or its payload.
 */
#ifndef CHORUS_WK_REDUCE_H
#define CHORUS_WK_REDUCE_H

#include <stddef.h>

#include <jansson.h>

/* Limits shared with the browser (docs/reducers.md lists them all). */
#define WK_CHAT_WINDOW        200   /* chat: messages kept in the state */
#define WK_BOARD_ACTIVITY     100   /* board: activity entries kept */
#define WK_WB_HISTORY         100   /* whiteboard: undo + redo entries per author */
#define WK_POSITION_MAX       128   /* board: longest position key, in characters */

/* Results of wk_reduce. */
#define WK_APPLIED   0    /* the event changed the state */
#define WK_IGNORED   1    /* the event changed nothing (except "seq") */
#define WK_ERROR   (-1)   /* out of memory, or state is not a state of that
                             kind: the state is unspecified, rebuild it */

/* A fresh empty state for "chat", "board" or "whiteboard"; NULL for any other
 * kind or when out of memory. The caller owns the result. */
json_t *wk_state_new(const char *room_kind);

/* Applies one durable event (the whole wire object: seq, ts, author, kind,
 * payload, ...) to state in place. Returns WK_APPLIED, WK_IGNORED or
 * WK_ERROR. event is only read. */
int wk_reduce(const char *room_kind, json_t *state, const json_t *event);

/* Folds an array of events into a new state (events that are not objects
 * are skipped like any other invalid event). NULL for an unknown kind or
 * when out of memory. The caller owns the result. */
json_t *wk_replay(const char *room_kind, const json_t *events);

/* The room kind encoded in a room id "<kind>.<workspace>.<number>" (e.g.
 * "board.12.5" -> "board"): a static string, or NULL if room_id has another
 * shape or kind. */
const char *wk_room_kind(const char *room_id);

/* Board positions are fractional-index keys (docs/reducers.md): 1 to
 * WK_POSITION_MAX characters of 0-9A-Za-z, the last not '0', ordered by
 * plain byte comparison. 1 if s is one. */
int wk_position_valid(const char *s);

/* Writes into out (n bytes) a key strictly between lo and hi, where NULL
 * means "no bound" on that side. Returns its length, or -1 if a bound is
 * invalid, lo >= hi, or the key would be longer than WK_POSITION_MAX or n-1
 * (the caller then respaces the column's keys). */
int wk_position_between(const char *lo, const char *hi, char *out, size_t n);

#endif
