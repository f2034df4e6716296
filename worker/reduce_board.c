/*
 * reduce_board.c — the kanban board reducer.
 *
 * State:
 *   {"seq": N,
 *    "columns": {id: {id, title, position}},
 *    "cards":   {id: {id, column, position, title, description, labels,
 *                     assignees, comments, version, created_by,
 *                     created_ts, updated_ts}},
 *    "activity": [{seq, ts, author, kind, summary, card? | column?}, ...]}
 *
 * Columns and cards are keyed by their client-chosen ids; their display
 * order is (position, id) in byte order, positions being fractional-index
 * keys (wk_position_valid), so every client sorts alike without the
 * reducer keeping arrays in order.
 *
 * Invariants: every card's column exists (deleting a column deletes its
 * cards); labels and assignees are sorted, duplicate-free arrays; version
 * counts changes to the card's own fields and starts at 1 (comments do not
 * change it); activity holds the last WK_BOARD_ACTIVITY applied events in
 * seq order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reduce_internal.h"

#define BOARD_COLUMNS_MAX    50
#define BOARD_CARDS_MAX      5000
#define COLUMN_TITLE_MAX     100     /* code points */
#define CARD_TITLE_MAX       200
#define CARD_DESC_MAX        10000
#define LABEL_MAX            32
#define CARD_LABELS_MAX      20
#define CARD_ASSIGNEES_MAX   20
#define CARD_COMMENTS_MAX    500
#define COMMENT_TEXT_MAX     4000

json_t *wkr_board_new(void)
{
    return json_pack("{s:i, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}},"
                     " s:{}, s:[]}",
                     "seq", 0,
                     "columns",
                     "todo", "id", "todo", "title", "To Do", "position", "a",
                     "doing", "id", "doing", "title", "In Progress", "position", "b",
                     "done", "id", "done", "title", "Done", "position", "c",
                     "cards", "activity");
}

/* A new JSON string built like printf; NULL when out of memory. */
__attribute__((format(printf, 1, 2)))
static json_t *fmt_string(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *buf;
    json_t *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    buf = malloc((size_t)n + 1);
    if (!buf)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s = json_stringn(buf, (size_t)n);
    free(buf);
    return s;
}

/* Appends an activity entry; summary is consumed. ref_key is "card" or
 * "column" (or NULL) and ref_id its value. */
static int log_activity(json_t *state, const wkr_event *ev, const char *ref_key,
                        const char *ref_id, json_t *summary)
{
    json_t *log = json_object_get(state, "activity");
    json_t *e;

    if (!summary)
        return WK_ERROR;
    e = json_pack("{s:I, s:I, s:s, s:s, s:o}", "seq", (json_int_t)ev->seq,
                  "ts", (json_int_t)ev->ts, "author", ev->author, "kind", ev->kind,
                  "summary", summary);
    if (!e)
        return WK_ERROR;
    if (ref_key && wkr_set(e, ref_key, json_string(ref_id)) < 0) {
        json_decref(e);
        return WK_ERROR;
    }
    if (wkr_push(log, e) < 0)
        return WK_ERROR;
    wkr_trim_front(log, WK_BOARD_ACTIVITY);
    return WK_APPLIED;
}

static const char *position_arg(const wkr_event *ev)
{
    const char *s = wkr_str(wkr_arg(ev, "position"));

    return s && wk_position_valid(s) ? s : NULL;
}

/* Records a change to a card's own fields: version + 1, updated_ts. */
static int touch_card(json_t *card, const wkr_event *ev)
{
    long long v = wkr_get_int(card, "version", 0);

    if (wkr_set(card, "version", json_integer(v + 1)) < 0 ||
        wkr_set(card, "updated_ts", json_integer(ev->ts)) < 0)
        return -1;
    return 0;
}

/* The card a payload field names, or NULL. */
static json_t *card_arg(json_t *state, const wkr_event *ev, const char *field)
{
    const char *id = wkr_id(wkr_arg(ev, field));
    json_t *card;

    if (!id)
        return NULL;
    card = json_object_get(json_object_get(state, "cards"), id);
    return json_is_object(card) ? card : NULL;
}

static json_t *column_arg(json_t *state, const wkr_event *ev, const char *field)
{
    const char *id = wkr_id(wkr_arg(ev, field));
    json_t *col;

    if (!id)
        return NULL;
    col = json_object_get(json_object_get(state, "columns"), id);
    return json_is_object(col) ? col : NULL;
}

/* --- columns --------------------------------------------------------------- */

static int column_create(json_t *state, const wkr_event *ev)
{
    json_t *cols = json_object_get(state, "columns");
    const char *id = wkr_id(wkr_arg(ev, "id"));
    const char *title = wkr_text(wkr_arg(ev, "title"), 1, COLUMN_TITLE_MAX);
    const char *pos = position_arg(ev);

    if (!id || !title || !pos || json_object_get(cols, id) ||
        json_object_size(cols) >= BOARD_COLUMNS_MAX)
        return WK_IGNORED;
    if (wkr_set(cols, id, json_pack("{s:s, s:s, s:s}", "id", id, "title", title,
                                    "position", pos)) < 0)
        return WK_ERROR;
    return log_activity(state, ev, "column", id, fmt_string("added column \"%s\"", title));
}

static int column_rename(json_t *state, const wkr_event *ev)
{
    json_t *col = column_arg(state, ev, "id");
    const char *title = wkr_text(wkr_arg(ev, "title"), 1, COLUMN_TITLE_MAX);
    json_t *summary;

    if (!col || !title || strcmp(wkr_get_str(col, "title"), title) == 0)
        return WK_IGNORED;
    summary = fmt_string("renamed column \"%s\" to \"%s\"", wkr_get_str(col, "title"), title);
    if (wkr_set(col, "title", json_string(title)) < 0) {
        json_decref(summary);
        return WK_ERROR;
    }
    return log_activity(state, ev, "column", wkr_get_str(col, "id"), summary);
}

static int column_move(json_t *state, const wkr_event *ev)
{
    json_t *col = column_arg(state, ev, "id");
    const char *pos = position_arg(ev);

    if (!col || !pos || strcmp(wkr_get_str(col, "position"), pos) == 0)
        return WK_IGNORED;
    if (wkr_set(col, "position", json_string(pos)) < 0)
        return WK_ERROR;
    return log_activity(state, ev, "column", wkr_get_str(col, "id"),
                        fmt_string("moved column \"%s\"", wkr_get_str(col, "title")));
}

static int column_delete(json_t *state, const wkr_event *ev)
{
    json_t *cols = json_object_get(state, "columns");
    json_t *cards = json_object_get(state, "cards");
    const char *id = wkr_id(wkr_arg(ev, "id"));
    json_t *col, *summary, *doomed;
    const char *key;
    json_t *card;
    size_t i, n;

    if (!id || !(col = json_object_get(cols, id)))
        return WK_IGNORED;
    doomed = json_array();
    if (!doomed)
        return WK_ERROR;
    json_object_foreach(cards, key, card) {
        if (strcmp(wkr_get_str(card, "column"), id) == 0 && wkr_push(doomed, json_string(key)) < 0) {
            json_decref(doomed);
            return WK_ERROR;
        }
    }
    n = json_array_size(doomed);
    for (i = 0; i < n; i++)
        json_object_del(cards, json_string_value(json_array_get(doomed, i)));
    json_decref(doomed);
    if (n == 0)
        summary = fmt_string("deleted column \"%s\"", wkr_get_str(col, "title"));
    else
        summary = fmt_string("deleted column \"%s\" and %zu card%s", wkr_get_str(col, "title"),
                             n, n == 1 ? "" : "s");
    /* id points into the event, so it outlives the column. */
    json_object_del(cols, id);
    return log_activity(state, ev, "column", id, summary);
}

/* --- cards ----------------------------------------------------------------- */

static int card_create(json_t *state, const wkr_event *ev)
{
    json_t *cards = json_object_get(state, "cards");
    const char *id = wkr_id(wkr_arg(ev, "id"));
    json_t *col = column_arg(state, ev, "column");
    const char *title = wkr_text(wkr_arg(ev, "title"), 1, CARD_TITLE_MAX);
    const json_t *dv = wkr_arg(ev, "description");
    const char *desc = dv ? wkr_text(dv, 0, CARD_DESC_MAX) : "";
    const char *pos = position_arg(ev);
    json_t *card;

    if (!id || !col || !title || !desc || !pos || json_object_get(cards, id) ||
        json_object_size(cards) >= BOARD_CARDS_MAX)
        return WK_IGNORED;
    card = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:[], s:[], s:i, s:s, s:I, s:I}",
                     "id", id, "column", wkr_get_str(col, "id"), "position", pos,
                     "title", title, "description", desc, "labels", "assignees", "comments",
                     "version", 1, "created_by", ev->author, "created_ts", (json_int_t)ev->ts,
                     "updated_ts", (json_int_t)ev->ts);
    if (wkr_set(cards, id, card) < 0)
        return WK_ERROR;
    return log_activity(state, ev, "card", id,
                        fmt_string("added card \"%s\" to \"%s\"", title, wkr_get_str(col, "title")));
}

/* Validated labels for card.update: 1 and a new sorted set in *out, or 0. */
static int parse_labels(const json_t *v, json_t **out)
{
    json_t *set;
    size_t i;

    *out = NULL;
    if (!json_is_array(v) || json_array_size(v) > CARD_LABELS_MAX)
        return 0;
    for (i = 0; i < json_array_size(v); i++)
        if (!wkr_text(json_array_get(v, i), 1, LABEL_MAX))
            return 0;
    set = json_array();
    if (!set)
        return -1;
    for (i = 0; i < json_array_size(v); i++) {
        if (wkr_strset_add(set, json_string_value(json_array_get(v, i))) < 0) {
            json_decref(set);
            return -1;
        }
    }
    *out = set;
    return 1;
}

static int card_update(json_t *state, const wkr_event *ev)
{
    json_t *card = card_arg(state, ev, "id");
    const json_t *tv = wkr_arg(ev, "title"), *dv = wkr_arg(ev, "description");
    const json_t *lv = wkr_arg(ev, "labels"), *bv = wkr_arg(ev, "base_version");
    const char *title = NULL, *desc = NULL;
    json_t *labels = NULL;
    long long base;

    if (!card || (!tv && !dv && !lv))
        return WK_IGNORED;
    if ((tv && !(title = wkr_text(tv, 1, CARD_TITLE_MAX))) ||
        (dv && !(desc = wkr_text(dv, 0, CARD_DESC_MAX))))
        return WK_IGNORED;
    if (bv && (!wkr_int(bv, &base) || base != wkr_get_int(card, "version", 0)))
        return WK_IGNORED;
    if (lv) {
        int rc = parse_labels(lv, &labels);

        if (rc <= 0)
            return rc < 0 ? WK_ERROR : WK_IGNORED;
    }
    if ((!title || strcmp(title, wkr_get_str(card, "title")) == 0) &&
        (!desc || strcmp(desc, wkr_get_str(card, "description")) == 0) &&
        (!labels || json_equal(labels, json_object_get(card, "labels")))) {
        json_decref(labels);
        return WK_IGNORED;   /* changes nothing */
    }
    if ((title && wkr_set(card, "title", json_string(title)) < 0) ||
        (desc && wkr_set(card, "description", json_string(desc)) < 0)) {
        json_decref(labels);
        return WK_ERROR;
    }
    if ((labels && wkr_set(card, "labels", labels) < 0) || touch_card(card, ev) < 0)
        return WK_ERROR;
    return log_activity(state, ev, "card", wkr_get_str(card, "id"),
                        fmt_string("edited card \"%s\"", wkr_get_str(card, "title")));
}

static int card_move(json_t *state, const wkr_event *ev)
{
    json_t *card = card_arg(state, ev, "id");
    json_t *to = column_arg(state, ev, "column");
    const char *pos = position_arg(ev);
    json_t *from, *summary;

    if (!card || !to || !pos)
        return WK_IGNORED;
    from = json_object_get(json_object_get(state, "columns"), wkr_get_str(card, "column"));
    if (from == to && strcmp(wkr_get_str(card, "position"), pos) == 0)
        return WK_IGNORED;
    if (from == to)
        summary = fmt_string("reordered card \"%s\" in \"%s\"", wkr_get_str(card, "title"),
                             wkr_get_str(to, "title"));
    else
        summary = fmt_string("moved card \"%s\" from \"%s\" to \"%s\"", wkr_get_str(card, "title"),
                             wkr_get_str(from, "title"), wkr_get_str(to, "title"));
    if (wkr_set(card, "column", json_string(wkr_get_str(to, "id"))) < 0 ||
        wkr_set(card, "position", json_string(pos)) < 0 || touch_card(card, ev) < 0) {
        json_decref(summary);
        return WK_ERROR;
    }
    return log_activity(state, ev, "card", wkr_get_str(card, "id"), summary);
}

static int card_delete(json_t *state, const wkr_event *ev)
{
    json_t *card = card_arg(state, ev, "id");
    json_t *summary;
    const char *id;

    if (!card)
        return WK_IGNORED;
    id = wkr_id(wkr_arg(ev, "id"));
    summary = fmt_string("deleted card \"%s\"", wkr_get_str(card, "title"));
    json_object_del(json_object_get(state, "cards"), id);
    return log_activity(state, ev, "card", id, summary);
}

static int card_assign(json_t *state, const wkr_event *ev, int on)
{
    json_t *card = card_arg(state, ev, "id");
    const char *user = wkr_user(wkr_arg(ev, "user"));
    json_t *set = json_object_get(card, "assignees");
    json_t *summary;

    if (!card || !user || !json_is_array(set) || wkr_strset_has(set, user) == on)
        return WK_IGNORED;
    if (on && json_array_size(set) >= CARD_ASSIGNEES_MAX)
        return WK_IGNORED;
    if (on) {
        if (wkr_strset_add(set, user) < 0)
            return WK_ERROR;
        summary = fmt_string("assigned %s to card \"%s\"", user, wkr_get_str(card, "title"));
    } else {
        wkr_strset_del(set, user);
        summary = fmt_string("unassigned %s from card \"%s\"", user, wkr_get_str(card, "title"));
    }
    if (touch_card(card, ev) < 0) {
        json_decref(summary);
        return WK_ERROR;
    }
    return log_activity(state, ev, "card", wkr_get_str(card, "id"), summary);
}

static int card_label(json_t *state, const wkr_event *ev)
{
    json_t *card = card_arg(state, ev, "id");
    const char *label = wkr_text(wkr_arg(ev, "label"), 1, LABEL_MAX);
    const json_t *onv = wkr_arg(ev, "on");
    json_t *set = json_object_get(card, "labels");
    json_t *summary;
    int on;

    if (!card || !label || !json_is_boolean(onv) || !json_is_array(set))
        return WK_IGNORED;
    on = json_is_true(onv);
    if (wkr_strset_has(set, label) == on)
        return WK_IGNORED;
    if (on && json_array_size(set) >= CARD_LABELS_MAX)
        return WK_IGNORED;
    if (on) {
        if (wkr_strset_add(set, label) < 0)
            return WK_ERROR;
        summary = fmt_string("added label \"%s\" to card \"%s\"", label, wkr_get_str(card, "title"));
    } else {
        wkr_strset_del(set, label);
        summary = fmt_string("removed label \"%s\" from card \"%s\"", label,
                             wkr_get_str(card, "title"));
    }
    if (touch_card(card, ev) < 0) {
        json_decref(summary);
        return WK_ERROR;
    }
    return log_activity(state, ev, "card", wkr_get_str(card, "id"), summary);
}

/* --- comments -------------------------------------------------------------- */

/* Index of the comment with the given id, or -1. */
static long find_comment(const json_t *comments, const char *id)
{
    size_t i;

    for (i = 0; i < json_array_size(comments); i++)
        if (strcmp(wkr_get_str(json_array_get(comments, i), "id"), id) == 0)
            return (long)i;
    return -1;
}

static int comment_add(json_t *state, const wkr_event *ev)
{
    json_t *card = card_arg(state, ev, "card");
    const char *id = wkr_id(wkr_arg(ev, "id"));
    const char *text = wkr_text(wkr_arg(ev, "text"), 1, COMMENT_TEXT_MAX);
    json_t *comments = json_object_get(card, "comments");

    if (!card || !id || !text || !json_is_array(comments) || find_comment(comments, id) >= 0 ||
        json_array_size(comments) >= CARD_COMMENTS_MAX)
        return WK_IGNORED;
    if (wkr_push(comments, json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", id, "author", ev->author,
                                     "text", text, "ts", (json_int_t)ev->ts,
                                     "seq", (json_int_t)ev->seq)) < 0)
        return WK_ERROR;
    return log_activity(state, ev, "card", wkr_get_str(card, "id"),
                        fmt_string("commented on card \"%s\"", wkr_get_str(card, "title")));
}

static int comment_delete(json_t *state, const wkr_event *ev)
{
    json_t *card = card_arg(state, ev, "card");
    const char *id = wkr_id(wkr_arg(ev, "id"));
    json_t *comments = json_object_get(card, "comments");
    long i;

    if (!card || !id || (i = find_comment(comments, id)) < 0)
        return WK_IGNORED;
    if (strcmp(wkr_get_str(json_array_get(comments, (size_t)i), "author"), ev->author) != 0)
        return WK_IGNORED;
    json_array_remove(comments, (size_t)i);
    return log_activity(state, ev, "card", wkr_get_str(card, "id"),
                        fmt_string("deleted a comment on card \"%s\"", wkr_get_str(card, "title")));
}

int wkr_board_shape_ok(const json_t *state)
{
    return json_is_object(json_object_get(state, "columns")) &&
           json_is_object(json_object_get(state, "cards")) &&
           json_is_array(json_object_get(state, "activity"));
}

int wkr_board_apply(json_t *state, const wkr_event *ev)
{
    static const struct {
        const char *kind;
        int (*fn)(json_t *, const wkr_event *);
    } table[] = {
        { "column.create", column_create },
        { "column.rename", column_rename },
        { "column.move", column_move },
        { "column.delete", column_delete },
        { "card.create", card_create },
        { "card.update", card_update },
        { "card.move", card_move },
        { "card.delete", card_delete },
        { "card.label", card_label },
        { "comment.add", comment_add },
        { "comment.delete", comment_delete },
    };
    size_t i;

    if (strcmp(ev->kind, "card.assign") == 0)
        return card_assign(state, ev, 1);
    if (strcmp(ev->kind, "card.unassign") == 0)
        return card_assign(state, ev, 0);
    for (i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(ev->kind, table[i].kind) == 0)
            return table[i].fn(state, ev);
    return WK_IGNORED;
}
