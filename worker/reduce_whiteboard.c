/*
 * reduce_whiteboard.c — the whiteboard reducer: objects, per-author
 * undo/redo and undoable clear.
 *
 * State:
 *   {"seq": N,
 *    "objects": {id: object},
 *    "history": {author: {"undo": [action, ...], "redo": [action, ...]}}}
 *
 * An object is a stroke or a shape, drawn in z-order = ascending "seq" (the
 * seq of the event that added it), translated by (dx, dy). It carries
 * "hidden_by", the sorted seqs of what currently hides it, and "hidden"
 * (hidden_by is not empty):
 *   - its own seq: its author undid adding it;
 *   - an object.delete's seq: that delete;
 *   - a clear's seq: that clear.
 * Undo and redo add or remove exactly one action's own hider (or reverse
 * one move), so they never cancel what someone else did: the object stays
 * hidden while any other hider remains.
 *
 * Actions (history entries), most recent last:
 *   {seq, op:"add", id}  {seq, op:"move", id, dx, dy}  {seq, op:"delete", id}
 *   {seq, op:"clear", ids:[...]}
 * An entry names its target by id; the object is the one with that id whose
 * seq equals the entry's seq (add) or is below it (others). An id freed by
 * garbage collection and reused later belongs to a newer object, which an
 * old entry therefore never touches.
 *
 * A new action (add, move, delete, clear), once validated against the
 * unchanged state: discards its author's redo stack; for adds, makes room
 * if "objects" is full; takes effect; pushes its entry; trims the undo
 * stack to WK_WB_HISTORY entries.
 *
 * Invariants:
 *   - undo + redo of one author hold at most WK_WB_HISTORY entries; an
 *     author has a key from their first action on;
 *   - every hider of an object is the seq of an entry still held in some
 *     author's undo stack (delete, clear) or redo stack (undone add). When
 *     such an entry leaves the stacks for good (the oldest undo entry is
 *     dropped; a new action empties the redo stack; a full board expires
 *     the oldest one) the object can never reappear and is removed from
 *     "objects" (garbage collection);
 *   - "objects" holds at most WB_OBJECTS_MAX objects.
 */
#include <stdlib.h>
#include <string.h>

#include "reduce_internal.h"

#define WB_OBJECTS_MAX  10000      /* objects held, hidden ones included */
#define WB_POINTS_MAX   2000       /* points in one stroke */
#define WB_COORD_MAX    10000000.0 /* |x|, |y|, |w|, |h|, |dx|, |dy| in an event */
#define WB_SIZE_MAX     500.0
#define WB_TEXT_MAX     2000       /* code points of a shape's text */

json_t *wkr_wb_new(void)
{
    return json_pack("{s:i, s:{}, s:{}}", "seq", 0, "objects", "history");
}

/* --- validation -------------------------------------------------------------- */

/* "#" and 3, 4, 6 or 8 hex digits. */
static const char *color_arg(const wkr_event *ev)
{
    const char *s = wkr_str(wkr_arg(ev, "color"));
    size_t n;

    if (!s || s[0] != '#')
        return NULL;
    for (n = 1; s[n]; n++) {
        char c = s[n];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return NULL;
    }
    n--;
    return (n == 3 || n == 4 || n == 6 || n == 8) ? s : NULL;
}

static int size_arg(const wkr_event *ev, double *out)
{
    return wkr_num(wkr_arg(ev, "size"), WB_SIZE_MAX, out) && *out > 0;
}

static int coord_arg(const wkr_event *ev, const char *name, double *out)
{
    return wkr_num(wkr_arg(ev, name), WB_COORD_MAX, out);
}

/* A normalized copy of a valid points array; NULL with *bad = 1 if invalid,
 * NULL with *bad = 0 when out of memory. */
static json_t *points_arg(const wkr_event *ev, int *bad)
{
    const json_t *v = wkr_arg(ev, "points");
    json_t *out;
    size_t i, n = json_array_size(v);

    *bad = 1;
    if (!json_is_array(v) || n < 1 || n > WB_POINTS_MAX)
        return NULL;
    for (i = 0; i < n; i++) {
        const json_t *p = json_array_get(v, i);
        double x, y;

        if (!json_is_array(p) || json_array_size(p) != 2 ||
            !wkr_num(json_array_get(p, 0), WB_COORD_MAX, &x) ||
            !wkr_num(json_array_get(p, 1), WB_COORD_MAX, &y))
            return NULL;
    }
    *bad = 0;
    out = json_array();
    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        const json_t *p = json_array_get(v, i);
        json_t *q = json_array();

        if (wkr_push(out, q) < 0 ||
            wkr_push(q, wkr_num_new(json_number_value(json_array_get(p, 0)))) < 0 ||
            wkr_push(q, wkr_num_new(json_number_value(json_array_get(p, 1)))) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* --- hiders ----------------------------------------------------------------- */

/* Keeps "hidden" equal to (hidden_by is not empty). */
static int sync_hidden(json_t *obj)
{
    return wkr_set(obj, "hidden", json_boolean(json_array_size(json_object_get(obj, "hidden_by")) > 0));
}

static int hider_has(const json_t *obj, long long seq)
{
    const json_t *hb = json_object_get(obj, "hidden_by");
    size_t i;

    for (i = 0; i < json_array_size(hb); i++)
        if (json_integer_value(json_array_get(hb, i)) == seq)
            return 1;
    return 0;
}

static int hider_add(json_t *obj, long long seq)
{
    json_t *hb = json_object_get(obj, "hidden_by");
    size_t i;

    if (!json_is_array(hb))
        return 0;
    for (i = 0; i < json_array_size(hb); i++) {
        long long h = json_integer_value(json_array_get(hb, i));

        if (h == seq)
            return 0;
        if (h > seq)
            break;
    }
    if (json_array_insert_new(hb, i, json_integer(seq)) < 0)
        return -1;
    return sync_hidden(obj);
}

static int hider_del(json_t *obj, long long seq)
{
    json_t *hb = json_object_get(obj, "hidden_by");
    size_t i;

    for (i = 0; i < json_array_size(hb); i++) {
        if (json_integer_value(json_array_get(hb, i)) == seq) {
            json_array_remove(hb, i);
            return sync_hidden(obj);
        }
    }
    return 0;
}

static int is_visible(const json_t *obj)
{
    return json_array_size(json_object_get(obj, "hidden_by")) == 0;
}

/* --- history ---------------------------------------------------------------- */

/* The object an entry refers to by id, or NULL (see the header comment). */
static json_t *entry_object(json_t *objects, const char *id, long long entry_seq, int is_add)
{
    json_t *o = json_object_get(objects, id);
    long long s;

    if (!json_is_object(o))
        return NULL;
    s = wkr_get_int(o, "seq", 0);
    if (is_add ? s != entry_seq : s >= entry_seq)
        return NULL;
    return o;
}

/* Removes the object if it still carries the hider seq (it can then never be
 * shown again). */
static void collect(json_t *objects, const char *id, long long seq, int is_add)
{
    json_t *o = entry_object(objects, id, seq, is_add);

    if (o && hider_has(o, seq))
        json_object_del(objects, id);
}

/* An entry leaves the stacks for good: undone adds (redo dropped) and
 * in-effect deletes and clears (undo overflow) become permanent. */
static void entry_dropped(json_t *objects, const json_t *e, int from_redo)
{
    const char *op = wkr_get_str(e, "op");
    long long seq = wkr_get_int(e, "seq", 0);

    if (from_redo) {
        if (strcmp(op, "add") == 0)
            collect(objects, wkr_get_str(e, "id"), seq, 1);
    } else if (strcmp(op, "delete") == 0) {
        collect(objects, wkr_get_str(e, "id"), seq, 0);
    } else if (strcmp(op, "clear") == 0) {
        const json_t *ids = json_object_get(e, "ids");
        size_t i;

        for (i = 0; i < json_array_size(ids); i++) {
            const char *id = json_string_value(json_array_get(ids, i));

            if (id)
                collect(objects, id, seq, 0);
        }
    }
}

/* The author's {"undo", "redo"} pair, created if create is set. */
static json_t *author_history(json_t *state, const char *author, int create)
{
    json_t *hist = json_object_get(state, "history");
    json_t *h = json_object_get(hist, author);

    if (json_is_object(h) && json_is_array(json_object_get(h, "undo")) &&
        json_is_array(json_object_get(h, "redo")))
        return h;
    if (!create)
        return NULL;
    if (wkr_set(hist, author, json_pack("{s:[], s:[]}", "undo", "redo")) < 0)
        return NULL;
    return json_object_get(hist, author);
}

/* Starts a new action of ev's author (already validated): its redo stack
 * is discarded, so the adds it had undone become permanent. Called before
 * the action changes anything. */
static int begin_action(json_t *state, const wkr_event *ev)
{
    json_t *objects = json_object_get(state, "objects");
    json_t *h = author_history(state, ev->author, 1);
    json_t *redo = json_object_get(h, "redo");
    size_t i;

    if (!h)
        return -1;
    for (i = 0; i < json_array_size(redo); i++)
        entry_dropped(objects, json_array_get(redo, i), 1);
    json_array_clear(redo);
    return 0;
}

/* Ends a new action: pushes its entry (consumed) on the author's undo stack
 * and drops the oldest entries beyond WK_WB_HISTORY. */
static int end_action(json_t *state, const wkr_event *ev, json_t *entry)
{
    json_t *objects = json_object_get(state, "objects");
    json_t *h = author_history(state, ev->author, 0);
    json_t *undo = json_object_get(h, "undo");

    if (!entry || !h) {
        json_decref(entry);
        return WK_ERROR;
    }
    if (wkr_push(undo, entry) < 0)
        return WK_ERROR;
    while (json_array_size(undo) > WK_WB_HISTORY) {
        entry_dropped(objects, json_array_get(undo, 0), 0);
        json_array_remove(undo, 0);
    }
    return WK_APPLIED;
}

/* --- actions ---------------------------------------------------------------- */

/* Fields every object starts with; the caller adds the type's fields. */
static json_t *object_new(const wkr_event *ev, const char *id, const char *type)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:b, s:[]}", "id", id, "type", type,
                     "author", ev->author, "seq", (json_int_t)ev->seq, "ts", (json_int_t)ev->ts,
                     "dx", 0, "dy", 0, "hidden", 0, "hidden_by");
}

/* Frees places while objects is full by expiring, oldest seq first, the
 * entries that keep hidden objects: delete and clear entries of undo stacks,
 * add entries of redo stacks (the add was undone). */
static void make_room(json_t *state)
{
    json_t *objects = json_object_get(state, "objects");
    json_t *hist = json_object_get(state, "history");

    while (json_object_size(objects) >= WB_OBJECTS_MAX) {
        json_t *best_arr = NULL, *h;
        size_t best_i = 0, i;
        long long best_seq = 0;
        int best_redo = 0, redo;
        const char *author;

        json_object_foreach(hist, author, h) {
            for (redo = 0; redo < 2; redo++) {
                json_t *arr = json_object_get(h, redo ? "redo" : "undo");

                for (i = 0; i < json_array_size(arr); i++) {
                    const json_t *e = json_array_get(arr, i);
                    const char *op = wkr_get_str(e, "op");
                    long long seq = wkr_get_int(e, "seq", 0);

                    if (redo ? strcmp(op, "add") != 0
                             : strcmp(op, "delete") != 0 && strcmp(op, "clear") != 0)
                        continue;
                    if (!best_arr || seq < best_seq) {
                        best_arr = arr;
                        best_i = i;
                        best_seq = seq;
                        best_redo = redo;
                    }
                }
            }
        }
        if (!best_arr)
            return;
        entry_dropped(objects, json_array_get(best_arr, best_i), best_redo);
        json_array_remove(best_arr, best_i);
    }
}

static int add_object(json_t *state, const wkr_event *ev, const char *id, json_t *obj)
{
    if (!obj)
        return WK_ERROR;
    if (begin_action(state, ev) < 0) {
        json_decref(obj);
        return WK_ERROR;
    }
    make_room(state);
    if (wkr_set(json_object_get(state, "objects"), id, obj) < 0)
        return WK_ERROR;
    return end_action(state, ev, json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)ev->seq,
                                       "op", "add", "id", id));
}

/* A new object id: valid, unused, and a place for one more object (objects
 * is not full, or some object in it is hidden and can be expired). */
static const char *new_id_arg(json_t *state, const wkr_event *ev)
{
    json_t *objects = json_object_get(state, "objects");
    const char *id = wkr_id(wkr_arg(ev, "id"));
    const char *key;
    json_t *o;

    if (!id || json_object_get(objects, id))
        return NULL;
    if (json_object_size(objects) < WB_OBJECTS_MAX)
        return id;
    json_object_foreach(objects, key, o)
        if (json_is_object(o) && !is_visible(o))
            return id;
    return NULL;
}

static int stroke_add(json_t *state, const wkr_event *ev)
{
    const char *id = new_id_arg(state, ev);
    const char *color = color_arg(ev);
    const json_t *tv = wkr_arg(ev, "tool");
    const char *tool = tv ? wkr_str(tv) : "pen";
    json_t *points, *obj;
    double size;
    int bad;

    if (!id || !color || !size_arg(ev, &size) || !tool ||
        (strcmp(tool, "pen") != 0 && strcmp(tool, "eraser") != 0))
        return WK_IGNORED;
    points = points_arg(ev, &bad);
    if (!points)
        return bad ? WK_IGNORED : WK_ERROR;
    obj = object_new(ev, id, "stroke");
    if (!obj || wkr_set(obj, "points", points) < 0 || wkr_set(obj, "color", json_string(color)) < 0 ||
        wkr_set(obj, "size", wkr_num_new(size)) < 0 ||
        wkr_set(obj, "tool", json_string(tool)) < 0) {
        if (!obj)
            json_decref(points);
        json_decref(obj);
        return WK_ERROR;
    }
    return add_object(state, ev, id, obj);
}

static int shape_add(json_t *state, const wkr_event *ev)
{
    static const char *const shapes[] = { "rect", "ellipse", "line", "arrow", "text" };
    const char *id = new_id_arg(state, ev);
    const char *color = color_arg(ev);
    const char *shape = wkr_str(wkr_arg(ev, "shape"));
    const json_t *tv = wkr_arg(ev, "text");
    const char *text = NULL;
    double x, y, w, h, size;
    json_t *obj;
    size_t i;
    int known = 0;

    for (i = 0; shape && i < sizeof shapes / sizeof shapes[0]; i++)
        known |= strcmp(shape, shapes[i]) == 0;
    if (!id || !color || !known || !size_arg(ev, &size) || !coord_arg(ev, "x", &x) ||
        !coord_arg(ev, "y", &y) || !coord_arg(ev, "w", &w) || !coord_arg(ev, "h", &h))
        return WK_IGNORED;
    if (tv && !(text = wkr_text(tv, 1, WB_TEXT_MAX)))
        return WK_IGNORED;
    if (!text && strcmp(shape, "text") == 0)
        return WK_IGNORED;
    obj = object_new(ev, id, shape);
    if (!obj || wkr_set(obj, "x", wkr_num_new(x)) < 0 || wkr_set(obj, "y", wkr_num_new(y)) < 0 ||
        wkr_set(obj, "w", wkr_num_new(w)) < 0 || wkr_set(obj, "h", wkr_num_new(h)) < 0 ||
        wkr_set(obj, "color", json_string(color)) < 0 ||
        wkr_set(obj, "size", wkr_num_new(size)) < 0 ||
        (text && wkr_set(obj, "text", json_string(text)) < 0)) {
        json_decref(obj);
        return WK_ERROR;
    }
    return add_object(state, ev, id, obj);
}

/* The visible object named by the payload's "id", or NULL. */
static json_t *visible_arg(json_t *state, const wkr_event *ev)
{
    const char *id = wkr_id(wkr_arg(ev, "id"));
    json_t *o = id ? json_object_get(json_object_get(state, "objects"), id) : NULL;

    return json_is_object(o) && is_visible(o) ? o : NULL;
}

/* Translates obj by sign * (dx, dy). */
static int translate(json_t *obj, double dx, double dy, int sign)
{
    double ox = wkr_get_num(obj, "dx"), oy = wkr_get_num(obj, "dy");

    if (sign > 0) {
        ox += dx;
        oy += dy;
    } else {
        ox -= dx;
        oy -= dy;
    }
    if (wkr_set(obj, "dx", wkr_num_new(ox)) < 0 || wkr_set(obj, "dy", wkr_num_new(oy)) < 0)
        return -1;
    return 0;
}

static int object_move(json_t *state, const wkr_event *ev)
{
    json_t *o = visible_arg(state, ev);
    double dx, dy;

    if (!o || !coord_arg(ev, "dx", &dx) || !coord_arg(ev, "dy", &dy) || (dx == 0 && dy == 0))
        return WK_IGNORED;
    if (begin_action(state, ev) < 0 || translate(o, dx, dy, 1) < 0)
        return WK_ERROR;
    return end_action(state, ev, json_pack("{s:I, s:s, s:s, s:o, s:o}", "seq", (json_int_t)ev->seq,
                                       "op", "move", "id", wkr_get_str(o, "id"),
                                       "dx", wkr_num_new(dx), "dy", wkr_num_new(dy)));
}

static int object_delete(json_t *state, const wkr_event *ev)
{
    json_t *o = visible_arg(state, ev);

    if (!o)
        return WK_IGNORED;
    if (begin_action(state, ev) < 0 || hider_add(o, ev->seq) < 0)
        return WK_ERROR;
    return end_action(state, ev, json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)ev->seq,
                                       "op", "delete", "id", wkr_get_str(o, "id")));
}

typedef struct {
    long long seq;
    const char *id;
} obj_ref;

static int obj_ref_cmp(const void *a, const void *b)
{
    const obj_ref *x = a, *y = b;

    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int wb_clear(json_t *state, const wkr_event *ev)
{
    json_t *objects = json_object_get(state, "objects");
    size_t n = json_object_size(objects), i = 0, visible = 0;
    obj_ref *refs;
    json_t *ids, *o;
    const char *key;
    int rc = WK_ERROR;

    json_object_foreach(objects, key, o)
        visible += is_visible(o);
    if (visible == 0)
        return WK_IGNORED;
    if (begin_action(state, ev) < 0)
        return WK_ERROR;
    n = json_object_size(objects);
    refs = malloc(n * sizeof *refs);
    ids = json_array();
    if (!refs || !ids)
        goto out;
    json_object_foreach(objects, key, o) {
        refs[i].seq = wkr_get_int(o, "seq", 0);
        refs[i].id = key;
        i++;
    }
    qsort(refs, n, sizeof *refs, obj_ref_cmp);
    for (i = 0; i < n; i++) {
        if (hider_add(json_object_get(objects, refs[i].id), ev->seq) < 0 ||
            wkr_push(ids, json_string(refs[i].id)) < 0)
            goto out;
    }
    rc = end_action(state, ev, json_pack("{s:I, s:s, s:O}", "seq", (json_int_t)ev->seq,
                                     "op", "clear", "ids", ids));
out:
    json_decref(ids);
    free(refs);
    return rc;
}

/* Reverts (undo) or re-applies (redo) one entry. */
static int replay_entry(json_t *objects, const json_t *e, int redo)
{
    const char *op = wkr_get_str(e, "op");
    long long seq = wkr_get_int(e, "seq", 0);
    const char *id = wkr_get_str(e, "id");
    json_t *o;

    if (strcmp(op, "add") == 0) {
        if (!(o = entry_object(objects, id, seq, 1)))
            return 0;
        return redo ? hider_del(o, seq) : hider_add(o, seq);
    }
    if (strcmp(op, "move") == 0) {
        if (!(o = entry_object(objects, id, seq, 0)))
            return 0;
        return translate(o, wkr_get_num(e, "dx"), wkr_get_num(e, "dy"), redo ? 1 : -1);
    }
    if (strcmp(op, "delete") == 0) {
        if (!(o = entry_object(objects, id, seq, 0)))
            return 0;
        return redo ? hider_add(o, seq) : hider_del(o, seq);
    }
    if (strcmp(op, "clear") == 0) {
        const json_t *ids = json_object_get(e, "ids");
        size_t i;

        for (i = 0; i < json_array_size(ids); i++) {
            const char *cid = json_string_value(json_array_get(ids, i));

            if (!cid || !(o = entry_object(objects, cid, seq, 0)))
                continue;
            if ((redo ? hider_add(o, seq) : hider_del(o, seq)) < 0)
                return -1;
        }
    }
    return 0;
}

/* undo (redo = 0) or redo (redo = 1): moves the top entry of one stack of
 * the author to the other, reverting or re-applying it. */
static int undo_redo(json_t *state, const wkr_event *ev, int redo)
{
    json_t *h = author_history(state, ev->author, 0);
    json_t *from = json_object_get(h, redo ? "redo" : "undo");
    json_t *to = json_object_get(h, redo ? "undo" : "redo");
    const json_t *av = wkr_arg(ev, "action");
    size_t n = json_array_size(from);
    json_t *e;
    long long want;

    if (!h || n == 0)
        return WK_IGNORED;
    e = json_array_get(from, n - 1);
    if (av && (!wkr_int(av, &want) || want != wkr_get_int(e, "seq", 0)))
        return WK_IGNORED;
    if (replay_entry(json_object_get(state, "objects"), e, redo) < 0)
        return WK_ERROR;
    if (json_array_append(to, e) < 0)
        return WK_ERROR;
    json_array_remove(from, n - 1);
    return WK_APPLIED;
}

int wkr_wb_shape_ok(const json_t *state)
{
    return json_is_object(json_object_get(state, "objects")) &&
           json_is_object(json_object_get(state, "history"));
}

int wkr_wb_apply(json_t *state, const wkr_event *ev)
{
    int rc;

    if (strcmp(ev->kind, "stroke.add") == 0)
        rc = stroke_add(state, ev);
    else if (strcmp(ev->kind, "shape.add") == 0)
        rc = shape_add(state, ev);
    else if (strcmp(ev->kind, "object.move") == 0)
        rc = object_move(state, ev);
    else if (strcmp(ev->kind, "object.delete") == 0)
        rc = object_delete(state, ev);
    else if (strcmp(ev->kind, "clear") == 0)
        rc = wb_clear(state, ev);
    else if (strcmp(ev->kind, "undo") == 0)
        rc = undo_redo(state, ev, 0);
    else if (strcmp(ev->kind, "redo") == 0)
        rc = undo_redo(state, ev, 1);
    else
        rc = WK_IGNORED;
    return rc;
}
