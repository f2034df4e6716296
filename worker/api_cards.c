/*
 * api_cards.c — REST endpoints for board cards, compatible in spirit with
 * the board seed's card API (list, create, get, update, move, delete,
 * assign, unassign), on top of the board reducer (reduce_board.c).
 *
 * Cards are not rows: a board's cards live in its event history. A read
 * folds the current state (api_state.c); a write publishes the matching
 * event (card.create / card.update / card.move / card.delete / card.assign
 * / card.unassign, payloads as in docs/reducers.md) through publish.lua,
 * exactly like a WebSocket client, so REST and WebSocket clients share one
 * history. The reply shows the card as the reducer left it after exactly
 * that event (the state is folded up to the event's seq from the room
 * stream), and an event the reducer ignored is reported as 409.
 *
 * Optimistic concurrency: base_version (the card's "version" the client
 * saw) is checked here before publishing, and carried in card.update so
 * the reducer also refuses it if another change got in first.
 *
 * Positions are fractional-index keys; a client may give one, or an index
 * within the target column (0 = top), or nothing (the end of the column).
 */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_validate.h"
#include "json_out.h"
#include "reduce.h"

#define CARD_CID_MAX 60     /* leaves room for the ".m" of a PATCH's move event */

typedef struct {
    wk_room rm;
    json_t *state;          /* owned */
    long long epoch;
} board_ctx;

static void
board_close(board_ctx *b)
{
    json_decref(b->state);
    b->state = NULL;
}

/* Access check (a board the caller may act on) and its current state.
 * 0, or -1 with the reply set. */
static int
board_open(wk_dbc *c, wk_req *r, wk_action act, board_ctx *b)
{
    b->state = NULL;
    if (wk_room_access(c, r, r->params[0], act, &b->rm) < 0) return -1;
    if (strcmp(b->rm.kind, "board") != 0) {
        wk_fail(r, 404, "not_found", "no such board", NULL);
        return -1;
    }
    b->state = wk_state_load(c, r, b->rm.id, "board", &b->epoch);
    return b->state ? 0 : -1;
}

static json_t *
cards_of(board_ctx *b)
{
    return json_object_get(b->state, "cards");
}

/* The card with the id in path parameter 1 (borrowed), or NULL with 404. */
static json_t *
card_find(wk_req *r, board_ctx *b)
{
    json_t *card = json_object_get(cards_of(b), r->params[1]);
    if (!json_is_object(card)) {
        wk_fail(r, 404, "not_found", "no such card", NULL);
        return NULL;
    }
    return card;
}

/* A reply copy of card with the board's id. */
static json_t *
card_out(const json_t *card, const char *room)
{
    json_t *o = json_deep_copy(card);
    if (o) json_object_set_new(o, "board", json_string(room));
    return o;
}

/* Answers status with {card, seq, epoch} for card id in the state. */
static void
reply_card(wk_req *r, board_ctx *b, const char *id, int status)
{
    json_t *card = json_object_get(cards_of(b), id);
    if (!card) {
        wk_fail(r, 409, "conflict", "the card changed meanwhile; reload it", NULL);
        return;
    }
    wk_reply(r, status, json_pack("{s:o, s:I, s:I}", "card", card_out(card, b->rm.id),
                                  "seq", json_integer_value(json_object_get(b->state, "seq")),
                                  "epoch", (json_int_t)b->epoch));
}

/* The cid of this request (body "cid", else a fresh one) into out. 0, or
 * -1 with the reply set. */
static int
request_cid(wk_req *r, char out[CH_CID_MAX + 1])
{
    const char *cid;
    size_t len;
    int rc = wk_body_str(r, "cid", &cid, &len);

    if (rc < 0) return -1;
    if (rc == 0) {
        char tmp[32];
        wk_cid_new(tmp);
        snprintf(out, CH_CID_MAX + 1, "%s", tmp);
        return 0;
    }
    if (!ch_cid_valid(cid, len) || len > CARD_CID_MAX) {
        wk_invalid(r, "cid", "cid must be 1 to 60 printable ASCII characters other than \" and \\");
        return -1;
    }
    memcpy(out, cid, len + 1);
    return 0;
}

/* Publishes kind with payload (stolen) and folds the state up to it.
 * *applied: 1 applied, 0 ignored by the reducer, -1 unknown (a duplicate
 * retry of an event already folded). 0, or -1 with the reply set. */
static int
card_publish(wk_dbc *c, wk_req *r, board_ctx *b, const char *kind, json_t *payload,
             const char *cid, int *applied)
{
    wk_published pub;
    char *text;
    size_t len = 0;
    int rc, watch;

    *applied = -1;
    text = payload ? ch_json_dumps(payload, 0, &len) : NULL;
    json_decref(payload);
    if (!text) {
        wk_fail(r, 500, "internal", "out of memory", NULL);
        return -1;
    }
    rc = wk_publish(c, r, &b->rm, kind, cid, text, len, &pub);
    free(text);
    if (rc < 0) return -1;
    if (pub.epoch != b->epoch) {
        /* The room started a new epoch meanwhile: rebuild from scratch. */
        board_close(b);
        b->state = wk_state_load(c, r, b->rm.id, "board", &b->epoch);
        return b->state ? 0 : -1;
    }
    if (wk_state_advance(c, r, b->rm.id, "board", b->state, b->epoch, pub.seq, pub.seq, &watch) < 0)
        return -1;
    if (watch == WK_APPLIED) *applied = 1;
    else if (watch == WK_IGNORED) *applied = 0;
    return 0;
}

/* Sorted (position, id) positions of column col's cards, skipping card
 * skip. Returns a new array of the position strings' json values. */
static int
cmp_pos(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "position")),
                   json_string_value(json_object_get(y, "position")));
    if (c) return c;
    return strcmp(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
}

/* The cards of column col (borrowed, sorted), minus skip; *n their count.
 * malloc'd array (free it), or NULL when empty or out of memory. */
static const json_t **
column_cards(board_ctx *b, const char *col, const char *skip, size_t *n)
{
    json_t *cards = cards_of(b);
    const char *key;
    json_t *card;
    const json_t **v = calloc(json_object_size(cards) + 1, sizeof(*v));

    *n = 0;
    if (!v) return NULL;
    json_object_foreach(cards, key, card) {
        if (skip && strcmp(key, skip) == 0) continue;
        if (!json_is_string(json_object_get(card, "position"))) continue;
        if (strcmp(json_string_value(json_object_get(card, "column")), col) != 0) continue;
        v[(*n)++] = card;
    }
    qsort(v, *n, sizeof(*v), cmp_pos);
    return v;
}

/* The column named by value (its id, or the seed's "in_progress" for the
 * default "doing"): its id, borrowed from the state, or NULL. */
static const char *
column_resolve(board_ctx *b, const char *value)
{
    json_t *cols = json_object_get(b->state, "columns");
    json_t *col = json_object_get(cols, value);

    if (!col && strcmp(value, "in_progress") == 0)
        col = json_object_get(cols, "doing");
    return col ? json_string_value(json_object_get(col, "id")) : NULL;
}

/* The first column in display order (for cards created without one). */
static const char *
column_first(board_ctx *b)
{
    json_t *cols = json_object_get(b->state, "columns");
    const char *key, *best = NULL, *best_pos = NULL;
    json_t *col;

    json_object_foreach(cols, key, col) {
        const char *pos = json_string_value(json_object_get(col, "position"));
        if (!pos) continue;
        if (!best || strcmp(pos, best_pos) < 0 || (strcmp(pos, best_pos) == 0 && strcmp(key, best) < 0)) {
            best = key;
            best_pos = pos;
        }
    }
    return best;
}

/* Works out the position for a card (id skip, NULL for a new one) in
 * column col from the body's "position": a key, an index, or absent (the
 * end). Writes it into out. 0, or -1 with the reply set. */
static int
position_for(wk_req *r, board_ctx *b, const char *col, const char *skip, char *out, size_t n)
{
    json_t *pv = json_object_get(r->body, "position");
    size_t count;
    long long idx;
    const json_t **v;
    int len;

    if (json_is_string(pv)) {
        if (!wk_position_valid(json_string_value(pv))) {
            wk_invalid(r, "position", "position must be a fractional-index key (0-9A-Za-z, not ending in 0)");
            return -1;
        }
        snprintf(out, n, "%s", json_string_value(pv));
        return 0;
    }
    if (pv && !json_is_null(pv) && !json_is_integer(pv)) {
        wk_invalid(r, "position", "position must be a key or an index in the column");
        return -1;
    }
    v = column_cards(b, col, skip, &count);
    if (!v) {
        wk_fail(r, 500, "internal", "out of memory", NULL);
        return -1;
    }
    idx = json_is_integer(pv) ? json_integer_value(pv) : (long long)count;
    if (idx < 0) idx = 0;
    if (idx > (long long)count) idx = (long long)count;
    const char *lo = idx > 0 ? json_string_value(json_object_get(v[idx - 1], "position")) : NULL;
    const char *hi = idx < (long long)count ? json_string_value(json_object_get(v[idx], "position")) : NULL;
    len = wk_position_between(lo, hi, out, n);
    if (len < 0 && lo)   /* equal neighbours: go just after the lower one */
        len = wk_position_between(lo, NULL, out, n);
    free(v);
    if (len < 0) {
        wk_fail(r, 409, "conflict", "no position left between those cards; reorder the column", "position");
        return -1;
    }
    return 0;
}

/* The reducer's rule for card.update labels (docs/reducers.md). */
static int
labels_valid(const json_t *labels)
{
    size_t i;
    json_t *v;

    if (!json_is_array(labels) || json_array_size(labels) > 20) return 0;
    json_array_foreach(labels, i, v) {
        long n = json_is_string(v) ? wk_utf8_chars(json_string_value(v), json_string_length(v)) : -1;
        if (n < 1 || n > 32) return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ handlers */

void
wk_h_cards_list(wk_dbc *c, wk_req *r)
{
    board_ctx b;
    const char *key;
    json_t *col;
    char only[CH_KIND_MAX + 1] = "";

    if (board_open(c, r, WK_ACT_VIEW, &b) < 0) return;
    wk_query_str(r, "column", only, sizeof(only));
    json_t *cols = json_object_get(b.state, "columns");
    size_t ncol = json_object_size(cols), k = 0;
    const json_t **cv = calloc(ncol + 1, sizeof(*cv));
    json_t *out_cols = json_array(), *out_cards = json_array();
    if (!cv || !out_cols || !out_cards) {
        free(cv);
        json_decref(out_cols);
        json_decref(out_cards);
        board_close(&b);
        wk_fail(r, 500, "internal", "out of memory", NULL);
        return;
    }
    json_object_foreach(cols, key, col) cv[k++] = col;
    qsort(cv, k, sizeof(*cv), cmp_pos);
    for (size_t i = 0; i < k; i++) {
        const char *cid = json_string_value(json_object_get(cv[i], "id"));
        size_t n;
        json_array_append_new(out_cols, json_deep_copy(cv[i]));
        const char *want = only[0] ? column_resolve(&b, only) : NULL;
        if (only[0] && (!want || strcmp(want, cid) != 0)) continue;
        const json_t **v = column_cards(&b, cid, NULL, &n);
        for (size_t j = 0; v && j < n; j++) json_array_append_new(out_cards, card_out(v[j], b.rm.id));
        free(v);
    }
    free(cv);
    wk_reply(r, 200, json_pack("{s:s, s:I, s:I, s:o, s:o}", "board", b.rm.id,
                               "seq", json_integer_value(json_object_get(b.state, "seq")),
                               "epoch", (json_int_t)b.epoch, "columns", out_cols, "cards", out_cards));
    board_close(&b);
}

void
wk_h_card_get(wk_dbc *c, wk_req *r)
{
    board_ctx b;

    if (board_open(c, r, WK_ACT_VIEW, &b) < 0) return;
    if (card_find(r, &b)) reply_card(r, &b, r->params[1], 200);
    board_close(&b);
}

void
wk_h_card_create(wk_dbc *c, wk_req *r)
{
    board_ctx b = { 0 };
    const char *title, *desc = NULL, *colv = NULL, *id = NULL;
    size_t tlen, dlen = 0, ilen = 0;
    char cid[CH_CID_MAX + 1], pos[WK_POSITION_MAX + 1], idbuf[32];
    int applied;

    if (wk_body_str_req(r, "title", &title, &tlen) < 0 || wk_body_str(r, "description", &desc, &dlen) < 0 ||
        wk_body_str(r, "column", &colv, NULL) < 0 || wk_body_str(r, "id", &id, &ilen) < 0 ||
        request_cid(r, cid) < 0)
        return;
    if (wk_utf8_chars(title, tlen) < 1 || wk_utf8_chars(title, tlen) > 200) {
        wk_invalid(r, "title", "title must be 1 to 200 characters");
        return;
    }
    if (desc && (wk_utf8_chars(desc, dlen) < 0 || wk_utf8_chars(desc, dlen) > 10000)) {
        wk_invalid(r, "description", "description must be at most 10000 characters");
        return;
    }
    if (id && !ch_kind_valid(id, ilen)) {
        wk_invalid(r, "id", "id must be 1 to 64 characters of A-Z a-z 0-9 _ . : -");
        return;
    }
    if (board_open(c, r, WK_ACT_WRITE, &b) < 0) return;
    const char *col = colv ? column_resolve(&b, colv) : column_first(&b);
    if (!col) {
        wk_invalid(r, "column", "no such column on this board");
        goto out;
    }
    int derived = !id;
    if (!id) {
        /* Derived from the cid, so a retry with the same cid is the same card. */
        snprintf(idbuf, sizeof(idbuf), "c%.30s", cid);
        for (char *p = idbuf; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '_' || *p == '.' || *p == ':' || *p == '-'))
                *p = '_';
        id = idbuf;
    }
    if (json_object_get(cards_of(&b), id)) {
        /* A retry of this very create returns the card; anything else is a clash. */
        if (derived && json_object_get(r->body, "cid")) reply_card(r, &b, id, 200);
        else wk_fail(r, 409, "conflict", "a card with this id exists", "id");
        goto out;
    }
    if (position_for(r, &b, col, NULL, pos, sizeof(pos)) < 0) goto out;
    json_t *payload = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "column", col, "title", title,
                                "description", desc ? desc : "", "position", pos);
    if (card_publish(c, r, &b, "card.create", payload, cid, &applied) < 0) goto out;
    if (applied == 0) {
        wk_fail(r, 409, "conflict", "the card could not be created (the board changed meanwhile)", NULL);
        goto out;
    }
    reply_card(r, &b, id, 201);
out:
    board_close(&b);
}

void
wk_h_card_update(wk_dbc *c, wk_req *r)
{
    board_ctx b = { 0 };
    const char *title = NULL, *desc = NULL, *colv = NULL;
    size_t tlen = 0, dlen = 0;
    long long base = 0;
    int has_base, applied;
    char cid[CH_CID_MAX + 1], mcid[CH_CID_MAX + 1], pos[WK_POSITION_MAX + 1];
    json_t *labels = json_object_get(r->body, "labels");

    if (wk_body_str(r, "title", &title, &tlen) < 0 || wk_body_str(r, "description", &desc, &dlen) < 0 ||
        wk_body_str(r, "column", &colv, NULL) < 0 || (has_base = wk_body_int(r, "base_version", &base)) < 0 ||
        request_cid(r, cid) < 0)
        return;
    if (title && (wk_utf8_chars(title, tlen) < 1 || wk_utf8_chars(title, tlen) > 200)) {
        wk_invalid(r, "title", "title must be 1 to 200 characters");
        return;
    }
    if (desc && (wk_utf8_chars(desc, dlen) < 0 || wk_utf8_chars(desc, dlen) > 10000)) {
        wk_invalid(r, "description", "description must be at most 10000 characters");
        return;
    }
    if (labels && !labels_valid(labels)) {
        wk_invalid(r, "labels", "labels must be an array of at most 20 strings of 1 to 32 characters");
        return;
    }
    json_t *posv = json_object_get(r->body, "position");
    int wants_move = colv || (posv && !json_is_null(posv));
    int wants_edit = title || desc || labels;
    if (!wants_move && !wants_edit) {
        wk_invalid(r, "title", "nothing to change: give title, description, labels, column or position");
        return;
    }
    if (board_open(c, r, WK_ACT_WRITE, &b) < 0) return;
    json_t *card = card_find(r, &b);
    if (!card) goto out;
    long long version = json_integer_value(json_object_get(card, "version"));
    if (has_base && base != version) {
        wk_reply(r, 409, json_pack("{s:s, s:s, s:s, s:I, s:o}", "error", "conflict",
                                   "message", "the card changed since base_version",
                                   "field", "base_version", "version", (json_int_t)version,
                                   "card", card_out(card, b.rm.id)));
        goto out;
    }
    const char *id = r->params[1];
    if (wants_edit) {
        int changes = (title && strcmp(title, json_string_value(json_object_get(card, "title")))) ||
                      (desc && strcmp(desc, json_string_value(json_object_get(card, "description")))) ||
                      (labels && !json_equal(labels, json_object_get(card, "labels")));
        if (changes) {
            json_t *payload = json_pack("{s:s}", "id", id);
            if (payload && title) json_object_set_new(payload, "title", json_string(title));
            if (payload && desc) json_object_set_new(payload, "description", json_string(desc));
            if (payload && labels) json_object_set(payload, "labels", labels);
            if (payload && has_base) json_object_set_new(payload, "base_version", json_integer(base));
            if (card_publish(c, r, &b, "card.update", payload, cid, &applied) < 0) goto out;
            if (applied == 0) {
                json_t *now = json_object_get(cards_of(&b), id);
                wk_reply(r, 409, json_pack("{s:s, s:s, s:o*}", "error", "conflict",
                                           "message", "the update was not applied (stale base_version or invalid values)",
                                           "card", now ? card_out(now, b.rm.id) : NULL));
                goto out;
            }
        }
    }
    if (wants_move) {
        card = json_object_get(cards_of(&b), id);
        if (!card) {
            wk_fail(r, 409, "conflict", "the card was deleted meanwhile", NULL);
            goto out;
        }
        const char *col = colv ? column_resolve(&b, colv)
                               : json_string_value(json_object_get(card, "column"));
        if (!col) {
            wk_invalid(r, "column", "no such column on this board");
            goto out;
        }
        if (position_for(r, &b, col, id, pos, sizeof(pos)) < 0) goto out;
        int same = strcmp(col, json_string_value(json_object_get(card, "column"))) == 0 &&
                   strcmp(pos, json_string_value(json_object_get(card, "position"))) == 0;
        if (!same) {
            snprintf(mcid, sizeof(mcid), "%.*s.m", CARD_CID_MAX, cid);
            json_t *payload = json_pack("{s:s, s:s, s:s}", "id", id, "column", col, "position", pos);
            if (card_publish(c, r, &b, "card.move", payload, mcid, &applied) < 0) goto out;
            if (applied == 0) {
                wk_fail(r, 409, "conflict", "the move was not applied (the board changed meanwhile)", NULL);
                goto out;
            }
        }
    }
    reply_card(r, &b, id, 200);
out:
    board_close(&b);
}

void
wk_h_card_delete(wk_dbc *c, wk_req *r)
{
    board_ctx b = { 0 };
    char cid[CH_CID_MAX + 1];
    int applied;

    if (request_cid(r, cid) < 0) return;
    if (board_open(c, r, WK_ACT_WRITE, &b) < 0) return;
    if (!card_find(r, &b)) goto out;
    if (card_publish(c, r, &b, "card.delete", json_pack("{s:s}", "id", r->params[1]), cid, &applied) < 0)
        goto out;
    wk_reply(r, 204, NULL);
out:
    board_close(&b);
}

/* The user to (un)assign: body "user" or "user_id" (id as a number or a
 * decimal string), or path parameter 2; must be a workspace member. 0 and
 * out, or -1 with the reply set. */
static int
assignee(wk_dbc *c, wk_req *r, const board_ctx *b, int from_path, char out[24])
{
    long long uid = 0;
    char wsb[24];
    PGresult *res;

    if (from_path) {
        if (!wk_parse_id(r->params[2], strlen(r->params[2]), &uid)) {
            wk_fail(r, 404, "not_found", "no such user", NULL);
            return -1;
        }
    } else {
        const char *field = json_object_get(r->body, "user") ? "user" : "user_id";
        json_t *v = json_object_get(r->body, field);
        if (json_is_integer(v)) uid = json_integer_value(v);
        else if (json_is_string(v) && !wk_parse_id(json_string_value(v), json_string_length(v), &uid))
            uid = 0;
        if (uid <= 0) {
            wk_invalid(r, "user", "user must be a user id");
            return -1;
        }
    }
    snprintf(out, 24, "%lld", uid);
    snprintf(wsb, sizeof(wsb), "%lld", b->rm.workspace);
    const char *p[2] = { wsb, out };
    res = wk_sql(c, "SELECT 1 FROM workspace_members WHERE workspace_id = $1 AND user_id = $2", 2, p);
    if (!res) {
        wk_fail_internal(c, r);
        return -1;
    }
    int member = PQntuples(res) == 1;
    PQclear(res);
    if (!member) {
        wk_invalid(r, "user", "the user is not a member of this workspace");
        return -1;
    }
    return 0;
}

static void
card_assign(wk_dbc *c, wk_req *r, int on, int from_path)
{
    board_ctx b = { 0 };
    char cid[CH_CID_MAX + 1], user[24];
    int applied;

    if (request_cid(r, cid) < 0) return;
    if (board_open(c, r, WK_ACT_WRITE, &b) < 0) return;
    json_t *card = card_find(r, &b);
    if (!card) goto out;
    if (assignee(c, r, &b, from_path, user) < 0) goto out;
    int has = 0;
    json_t *set = json_object_get(card, "assignees");
    for (size_t i = 0; i < json_array_size(set); i++)
        if (strcmp(json_string_value(json_array_get(set, i)), user) == 0) has = 1;
    if (has != on) {
        json_t *payload = json_pack("{s:s, s:s}", "id", r->params[1], "user", user);
        if (card_publish(c, r, &b, on ? "card.assign" : "card.unassign", payload, cid, &applied) < 0)
            goto out;
        if (applied == 0) {
            wk_fail(r, 409, "conflict", "not applied (the card changed meanwhile, or too many assignees)", NULL);
            goto out;
        }
    }
    reply_card(r, &b, r->params[1], 200);
out:
    board_close(&b);
}

void wk_h_card_assign(wk_dbc *c, wk_req *r) { card_assign(c, r, 1, 0); }
void wk_h_card_unassign(wk_dbc *c, wk_req *r) { card_assign(c, r, 0, 0); }
void wk_h_card_unassign_path(wk_dbc *c, wk_req *r) { card_assign(c, r, 0, 1); }
