/*
 * reduce_internal.h — what reduce.c shares with the per-kind reducers
 * (reduce_chat.c, reduce_board.c, reduce_whiteboard.c). Not for callers.
 *
 * The value readers (wkr_int, wkr_num, wkr_text, ...) are the single place
 * where untrusted JSON is checked: each returns "absent/invalid" for any
 * value of the wrong type or range, so a reducer never touches a payload
 * value it has not validated through one of them.
 */
#ifndef CHORUS_WK_REDUCE_INTERNAL_H
#define CHORUS_WK_REDUCE_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include "reduce.h"

/* Largest integer both C and JavaScript represent exactly (2^53 - 1). */
#define WKR_INT_LIMIT 9007199254740991LL

#define WKR_USER_MAX  128   /* bytes in a user id (JWT "sub") */
#define WKR_ID_MAX    64    /* characters in a client-chosen object id */

/* One durable event, validated envelope; strings point into the event. */
typedef struct {
    long long seq;            /* >= 1, above the state's seq */
    long long ts;             /* server time in ms; 0 if absent or invalid */
    const char *author;       /* 1..WKR_USER_MAX bytes of UTF-8, no NUL */
    const char *kind;         /* event kind, e.g. "card.move" */
    const json_t *payload;    /* the payload if it is an object, else NULL */
} wkr_event;

/* --- readers of untrusted values (NULL-safe) ------------------------------ */

/* 1 and *out if v is a number with an integral value within
 * +-WKR_INT_LIMIT (JSON 3 and 3.0 are the same number); else 0. */
int wkr_int(const json_t *v, long long *out);

/* 1 and *out if v is a finite number with |v| <= limit; else 0. */
int wkr_num(const json_t *v, double limit, double *out);

/* The string if v is a string of valid UTF-8 without U+0000 whose length in
 * code points is within [min_cp, max_cp]; else NULL. */
const char *wkr_text(const json_t *v, size_t min_cp, size_t max_cp);

/* The string if v is a string without U+0000 (so C string functions see
 * all of it), else NULL. For exact matches against ASCII vocabularies. */
const char *wkr_str(const json_t *v);

/* A user id: a string of 1..WKR_USER_MAX bytes of valid UTF-8, no U+0000. */
const char *wkr_user(const json_t *v);

/* An object id: 1..WKR_ID_MAX characters of A-Z a-z 0-9 _ . : - */
const char *wkr_id(const json_t *v);

/* Field name of the event's payload (NULL if the payload is not an object). */
const json_t *wkr_arg(const wkr_event *ev, const char *name);

/* --- state helpers --------------------------------------------------------- */

/* A number as JSON: an integer when x is integral and within
 * +-WKR_INT_LIMIT (so 2.0 and 2 serialize alike), else a real. */
json_t *wkr_num_new(double x);

/* Integer field of a state object, or dflt if missing or not a number. */
long long wkr_get_int(const json_t *obj, const char *key, long long dflt);

/* Number field of a state object, or 0 if missing or not a number. */
double wkr_get_num(const json_t *obj, const char *key);

/* String field of a state object, or "" if missing or not a string. */
const char *wkr_get_str(const json_t *obj, const char *key);

/* json_object_set_new / json_array_append_new that also fail on a NULL
 * value (a failed allocation upstream): 0, or -1 (val is released). */
int wkr_set(json_t *obj, const char *key, json_t *val);
int wkr_push(json_t *arr, json_t *val);

/* Drops elements from the front of arr until it holds at most max. */
void wkr_trim_front(json_t *arr, size_t max);

/* A set of strings kept as a sorted (byte order), duplicate-free array. */
int wkr_strset_has(const json_t *arr, const char *s);
int wkr_strset_add(json_t *arr, const char *s);       /* 0, or -1 */
void wkr_strset_del(json_t *arr, const char *s);

/* Counts code points of a valid UTF-8 string. */
size_t wkr_cp_len(const char *s);

/* --- per-kind reducers -----------------------------------------------------
 * _new: a fresh state; _shape_ok: 1 if state has the kind's top-level
 * members (checked before anything is changed); _apply: applies ev. */

json_t *wkr_chat_new(void);
int wkr_chat_shape_ok(const json_t *state);
int wkr_chat_apply(json_t *state, const wkr_event *ev);

json_t *wkr_board_new(void);
int wkr_board_shape_ok(const json_t *state);
int wkr_board_apply(json_t *state, const wkr_event *ev);

json_t *wkr_wb_new(void);
int wkr_wb_shape_ok(const json_t *state);
int wkr_wb_apply(json_t *state, const wkr_event *ev);

#endif
