/*
 * reduce_chat.c — the chat reducer.
 *
 * State: {"seq": N, "messages": [message, ...]} with the last
 * WK_CHAT_WINDOW messages in ascending seq order (tombstones included).
 * A message is {seq, author, ts, text, mentions?, edited_ts?}; a deleted
 * one is the tombstone {seq, author, ts, deleted: true}.
 *
 * Invariants: messages is sorted by seq and holds at most WK_CHAT_WINDOW
 * entries; edits and deletes only ever address messages still in the
 * window, so a snapshot (which holds exactly the window) decides them the
 * same way as a full replay.
 */
#include <string.h>

#include "reduce_internal.h"

#define CHAT_TEXT_MAX      4000   /* code points in a message */
#define CHAT_MENTIONS_MAX  50     /* distinct user ids in mentions */

json_t *wkr_chat_new(void)
{
    return json_pack("{s:i, s:[]}", "seq", 0, "messages");
}

/* Validated mentions: NULL payload value -> *out = NULL (none). Returns 1 if
 * valid (then *out is a new array, first-occurrence order, or NULL when
 * empty), 0 if invalid, -1 when out of memory. */
static int parse_mentions(const json_t *v, json_t **out)
{
    json_t *list;
    size_t i, j;

    *out = NULL;
    if (!v)
        return 1;
    if (!json_is_array(v) || json_array_size(v) > CHAT_MENTIONS_MAX)
        return 0;
    for (i = 0; i < json_array_size(v); i++)
        if (!wkr_user(json_array_get(v, i)))
            return 0;
    if (json_array_size(v) == 0)
        return 1;
    list = json_array();
    if (!list)
        return -1;
    for (i = 0; i < json_array_size(v); i++) {
        const char *u = json_string_value(json_array_get(v, i));
        int dup = 0;

        for (j = 0; j < json_array_size(list) && !dup; j++)
            dup = strcmp(json_string_value(json_array_get(list, j)), u) == 0;
        if (!dup && wkr_push(list, json_string(u)) < 0) {
            json_decref(list);
            return -1;
        }
    }
    *out = list;
    return 1;
}

/* The message with the given seq in the window, or NULL. */
static json_t *find_message(json_t *msgs, long long seq)
{
    size_t lo = 0, hi = json_array_size(msgs);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        json_t *m = json_array_get(msgs, mid);
        long long s = wkr_get_int(m, "seq", 0);

        if (s == seq)
            return json_is_object(m) ? m : NULL;
        if (s < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int chat_create(json_t *msgs, const wkr_event *ev)
{
    const char *text = wkr_text(wkr_arg(ev, "text"), 1, CHAT_TEXT_MAX);
    json_t *mentions, *m;
    int rc;

    if (!text)
        return WK_IGNORED;
    rc = parse_mentions(wkr_arg(ev, "mentions"), &mentions);
    if (rc <= 0)
        return rc < 0 ? WK_ERROR : WK_IGNORED;
    m = json_pack("{s:I, s:s, s:I, s:s}", "seq", (json_int_t)ev->seq, "author", ev->author,
                  "ts", (json_int_t)ev->ts, "text", text);
    if (!m || (mentions && wkr_set(m, "mentions", mentions) < 0)) {
        if (!m)
            json_decref(mentions);
        json_decref(m);
        return WK_ERROR;
    }
    if (wkr_push(msgs, m) < 0)
        return WK_ERROR;
    wkr_trim_front(msgs, WK_CHAT_WINDOW);
    return WK_APPLIED;
}

/* The target of an edit or delete: in the window, not deleted, written by
 * the event's author; else NULL. */
static json_t *own_live_target(json_t *msgs, const wkr_event *ev)
{
    long long target;
    json_t *m;

    if (!wkr_int(wkr_arg(ev, "target_seq"), &target))
        return NULL;
    m = find_message(msgs, target);
    if (!m || json_is_true(json_object_get(m, "deleted")))
        return NULL;
    if (strcmp(wkr_get_str(m, "author"), ev->author) != 0)
        return NULL;
    return m;
}

static int chat_edit(json_t *msgs, const wkr_event *ev)
{
    const char *text = wkr_text(wkr_arg(ev, "text"), 1, CHAT_TEXT_MAX);
    json_t *m = own_live_target(msgs, ev), *mentions;
    int rc;

    if (!text || !m)
        return WK_IGNORED;
    rc = parse_mentions(wkr_arg(ev, "mentions"), &mentions);
    if (rc <= 0)
        return rc < 0 ? WK_ERROR : WK_IGNORED;
    if (wkr_set(m, "text", json_string(text)) < 0 ||
        wkr_set(m, "edited_ts", json_integer(ev->ts)) < 0) {
        json_decref(mentions);
        return WK_ERROR;
    }
    if (mentions)
        return wkr_set(m, "mentions", mentions) < 0 ? WK_ERROR : WK_APPLIED;
    json_object_del(m, "mentions");
    return WK_APPLIED;
}

static int chat_delete(json_t *msgs, const wkr_event *ev)
{
    json_t *m = own_live_target(msgs, ev);

    if (!m)
        return WK_IGNORED;
    json_object_del(m, "text");
    json_object_del(m, "mentions");
    json_object_del(m, "edited_ts");
    return wkr_set(m, "deleted", json_true()) < 0 ? WK_ERROR : WK_APPLIED;
}

int wkr_chat_shape_ok(const json_t *state)
{
    return json_is_array(json_object_get(state, "messages"));
}

int wkr_chat_apply(json_t *state, const wkr_event *ev)
{
    json_t *msgs = json_object_get(state, "messages");

    if (strcmp(ev->kind, "message.create") == 0)
        return chat_create(msgs, ev);
    if (strcmp(ev->kind, "message.edit") == 0)
        return chat_edit(msgs, ev);
    if (strcmp(ev->kind, "message.delete") == 0)
        return chat_delete(msgs, ev);
    return WK_IGNORED;
}
