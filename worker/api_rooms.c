/*
 * api_rooms.c — rooms and boards (a board is a room of kind "board" with a
 * boards row), room history, snapshots, read markers and server-side
 * publish.
 *
 * Room ids are "<kind>.<workspace id>.<n>" with n from room_number_seq, so
 * the kind (and the reducer) follow from the id alone. Deleting a room
 * archives it: its history stays readable by members, publishing is
 * refused (409), its access list is dropped and live members are kicked.
 *
 * History is what the worker has persisted to PostgreSQL (usually well
 * under a second behind Redis); a client that joins with since = the last
 * seq it read gets the rest from the gateway. A board's history can be
 * narrowed to the events about one card (?card=<id>). Snapshots are current: see
 * api_state.c.
 */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_validate.h"
#include "json_out.h"
#include "keys.h"
#include "reduce.h"

#define HISTORY_DEFAULT 50
#define HISTORY_MAX     500
#define PAYLOAD_MAX     65536
#define SEQ_MAX         9007199254740991LL

#define ROOM_SELECT "SELECT " WK_ROOM_COLUMNS " FROM rooms r LEFT JOIN boards b ON b.room_id = r.id "

int
wk_ws_lock(wk_dbc *c, wk_req *r, long long ws)
{
    char wsb[24];
    const char *p[1] = { wsb };
    PGresult *res;

    snprintf(wsb, sizeof(wsb), "%lld", ws);
    if (wk_sql_begin(c) < 0) goto db;
    res = wk_sql(c, "SELECT id FROM workspaces WHERE id = $1 FOR UPDATE", 1, p);
    if (!res) goto db;
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) {
        wk_fail(r, 404, "not_found", "no such workspace", NULL);
        return -1;
    }
    return 0;
db:
    wk_fail_internal(c, r);
    return -1;
}

json_t *
wk_room_create(wk_dbc *c, wk_req *r, long long ws, const char *kind, const char *name,
               const char *description)
{
    char id[CH_ROOM_MAX + 1], wsb[24], ub[24];
    PGresult *res;
    json_t *room;

    res = wk_sql(c, "SELECT nextval('room_number_seq')", 0, NULL);
    if (!res) goto db;
    snprintf(id, sizeof(id), "%s.%lld.%s", kind, ws, PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    snprintf(ub, sizeof(ub), "%lld", r->uid);
    {
        const char *p[5] = { id, wsb, kind, name, ub };
        if (wk_sql_exec(c, "INSERT INTO rooms (id, workspace_id, kind, name, created_by) "
                           "VALUES ($1, $2, $3, $4, $5)", 5, p) < 0)
            goto db;
    }
    if (strcmp(kind, "board") == 0) {
        const char *p[2] = { id, description ? description : "" };
        if (wk_sql_exec(c, "INSERT INTO boards (room_id, description) VALUES ($1, $2)", 2, p) < 0)
            goto db;
    }
    if (wk_acl_rebuild(c, r, ws, id) < 0) goto db;
    {
        const char *p[1] = { id };
        res = wk_sql(c, ROOM_SELECT "WHERE r.id = $1", 1, p);
    }
    if (!res) goto db;
    room = wk_room_json(res, 0);
    PQclear(res);
    if (!room) wk_fail(r, 500, "internal", "out of memory", NULL);
    return room;
db:
    wk_fail_internal(c, r);
    return NULL;
}

/* ------------------------------------------------------------ listing and creating */

static void
rooms_list(wk_dbc *c, wk_req *r, const char *only_kind)
{
    long long ws;
    wk_role role;
    char wsb[24], kind[16] = "", arch[8] = "";
    PGresult *res;

    if (wk_workspace_access(c, r, r->params[0], WK_ACT_VIEW, &ws, &role) < 0) return;
    if (only_kind) snprintf(kind, sizeof(kind), "%s", only_kind);
    else if (wk_query_str(r, "kind", kind, sizeof(kind)) && !wk_valid_room_kind(kind)) {
        wk_invalid(r, "kind", "kind must be chat, whiteboard or board");
        return;
    }
    wk_query_str(r, "archived", arch, sizeof(arch));
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    const char *p[3] = { wsb, kind[0] ? kind : NULL,
                         strcmp(arch, "1") == 0 || strcmp(arch, "true") == 0 ? "t" : "f" };
    res = wk_sql(c, ROOM_SELECT "WHERE r.workspace_id = $1 AND ($2::text IS NULL OR r.kind = $2) "
                    "AND ($3::boolean OR NOT r.archived) ORDER BY r.created_at, r.id", 3, p);
    if (!res) {
        wk_fail_internal(c, r);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(res); i++)
        json_array_append_new(arr, wk_room_json(res, i));
    PQclear(res);
    wk_reply(r, 200, json_pack("{s:o}", only_kind ? "boards" : "rooms", arr));
}

void wk_h_rooms_list(wk_dbc *c, wk_req *r) { rooms_list(c, r, NULL); }
void wk_h_boards_list(wk_dbc *c, wk_req *r) { rooms_list(c, r, "board"); }

static void
room_create(wk_dbc *c, wk_req *r, const char *forced_kind)
{
    long long ws;
    wk_role role;
    const char *kind = forced_kind, *name, *desc = NULL;
    size_t nlen, dlen = 0;

    if (wk_workspace_access(c, r, r->params[0], WK_ACT_ROOM_CREATE, &ws, &role) < 0) return;
    if (!forced_kind && wk_body_str_req(r, "kind", &kind, NULL) < 0) return;
    if (!wk_valid_room_kind(kind)) {
        wk_invalid(r, "kind", "kind must be chat, whiteboard or board");
        return;
    }
    if (wk_body_str_req(r, "name", &name, &nlen) < 0 ||
        wk_body_str(r, "description", &desc, &dlen) < 0)
        return;
    if (!wk_valid_label(name, nlen, WK_NAME_MAX)) {
        wk_invalid(r, "name", "name must be 1 to 100 characters without control characters");
        return;
    }
    if (desc && !wk_valid_text(desc, dlen, WK_DESC_MAX)) {
        wk_invalid(r, "description", "description must be at most 2000 characters");
        return;
    }
    if (wk_ws_lock(c, r, ws) < 0) return;
    json_t *room = wk_room_create(c, r, ws, kind, name, desc);
    if (!room) return;
    if (wk_sql_commit(c) < 0) {
        json_decref(room);
        wk_fail_internal(c, r);
        return;
    }
    wk_reply(r, 201, json_pack("{s:o}", forced_kind ? "board" : "room", room));
}

void wk_h_room_create(wk_dbc *c, wk_req *r) { room_create(c, r, NULL); }
void wk_h_board_create(wk_dbc *c, wk_req *r) { room_create(c, r, "board"); }

/* ------------------------------------------------------------ one room */

/* The room's JSON with the caller's role; NULL with the reply set. */
static json_t *
room_fetch(wk_dbc *c, wk_req *r, const wk_room *rm)
{
    const char *p[1] = { rm->id };
    PGresult *res = wk_sql(c, ROOM_SELECT "WHERE r.id = $1", 1, p);
    json_t *o;

    if (!res) {
        wk_fail_internal(c, r);
        return NULL;
    }
    o = PQntuples(res) ? wk_room_json(res, 0) : NULL;
    PQclear(res);
    if (!o) {
        wk_fail(r, 404, "not_found", "no such room", NULL);
        return NULL;
    }
    json_object_set_new(o, "role", json_string(wk_role_name(rm->role)));
    return o;
}

/* Access check that also insists on a board when board is set. */
static int
access_kind(wk_dbc *c, wk_req *r, wk_action act, int board, wk_room *rm)
{
    if (wk_room_access(c, r, r->params[0], act, rm) < 0) return -1;
    if (board && strcmp(rm->kind, "board") != 0) {
        wk_fail(r, 404, "not_found", "no such board", NULL);
        return -1;
    }
    return 0;
}

static void
room_get(wk_dbc *c, wk_req *r, int board)
{
    wk_room rm;
    if (access_kind(c, r, WK_ACT_VIEW, board, &rm) < 0) return;
    json_t *o = room_fetch(c, r, &rm);
    if (o) wk_reply(r, 200, json_pack("{s:o}", board ? "board" : "room", o));
}

void wk_h_room_get(wk_dbc *c, wk_req *r) { room_get(c, r, 0); }
void wk_h_board_get(wk_dbc *c, wk_req *r) { room_get(c, r, 1); }

static void
room_update(wk_dbc *c, wk_req *r, int board)
{
    wk_room rm;
    const char *name = NULL, *desc = NULL;
    size_t nlen = 0, dlen = 0;

    if (access_kind(c, r, WK_ACT_ROOM_MANAGE, board, &rm) < 0) return;
    if (wk_body_str(r, "name", &name, &nlen) < 0 || wk_body_str(r, "description", &desc, &dlen) < 0)
        return;
    if (name && !wk_valid_label(name, nlen, WK_NAME_MAX)) {
        wk_invalid(r, "name", "name must be 1 to 100 characters without control characters");
        return;
    }
    if (desc && (strcmp(rm.kind, "board") != 0 || !wk_valid_text(desc, dlen, WK_DESC_MAX))) {
        wk_invalid(r, "description", "description (boards only) must be at most 2000 characters");
        return;
    }
    if (!name && !desc) {
        wk_invalid(r, "name", "nothing to change: give name or description");
        return;
    }
    if (name) {
        const char *p[2] = { rm.id, name };
        if (wk_sql_exec(c, "UPDATE rooms SET name = $2 WHERE id = $1", 2, p) < 0) goto db;
    }
    if (desc) {
        const char *p[2] = { rm.id, desc };
        if (wk_sql_exec(c, "INSERT INTO boards (room_id, description) VALUES ($1, $2) "
                           "ON CONFLICT (room_id) DO UPDATE SET description = EXCLUDED.description",
                        2, p) < 0)
            goto db;
    }
    json_t *o = room_fetch(c, r, &rm);
    if (o) wk_reply(r, 200, json_pack("{s:o}", board ? "board" : "room", o));
    return;
db:
    wk_fail_internal(c, r);
}

void wk_h_room_update(wk_dbc *c, wk_req *r) { room_update(c, r, 0); }
void wk_h_board_update(wk_dbc *c, wk_req *r) { room_update(c, r, 1); }

static void
room_delete(wk_dbc *c, wk_req *r, int board)
{
    wk_room rm;
    char wsb[24];
    PGresult *res;

    if (access_kind(c, r, WK_ACT_ROOM_MANAGE, board, &rm) < 0) return;
    if (wk_ws_lock(c, r, rm.workspace) < 0) return;
    snprintf(wsb, sizeof(wsb), "%lld", rm.workspace);
    {
        const char *p[1] = { rm.id };
        if (wk_sql_exec(c, "UPDATE rooms SET archived = true WHERE id = $1", 1, p) < 0) goto db;
    }
    {
        const char *p[1] = { wsb };
        res = wk_sql(c, "SELECT user_id FROM workspace_members WHERE workspace_id = $1", 1, p);
    }
    if (!res) goto db;
    int n = PQntuples(res);
    const char **users = calloc((size_t)n + 1, sizeof(*users));
    if (!users) {
        PQclear(res);
        wk_fail(r, 500, "internal", "out of memory", NULL);
        return;
    }
    for (int i = 0; i < n; i++) users[i] = PQgetvalue(res, i, 0);
    const char *rooms[1] = { rm.id };
    int rc = wk_acl_kick(c, r, rooms, 1, users, n, "this room was archived", 1);
    free(users);
    PQclear(res);
    if (rc < 0 || wk_sql_commit(c) < 0) goto db;
    wk_reply(r, 204, NULL);
    return;
db:
    wk_fail_internal(c, r);
}

void wk_h_room_delete(wk_dbc *c, wk_req *r) { room_delete(c, r, 0); }
void wk_h_board_delete(wk_dbc *c, wk_req *r) { room_delete(c, r, 1); }

/* ------------------------------------------------------------ history */

/* A page of history: ascending from after, or the newest page below before
 * read backwards (and reversed by the caller). With the card filter ($6),
 * only the events about one card, in the shape of the events_card_idx
 * index (migrations/0003). */
#define EVENTS_PAGE "SELECT seq, (extract(epoch FROM created_at) * 1000)::bigint, author, type, cid, " \
    "payload::text FROM events WHERE room = $1 AND epoch = $2 AND seq > $3 AND seq < $4 "
#define CARD_FILTER "AND (type LIKE 'card.%' OR type LIKE 'comment.%') AND (CASE WHEN type LIKE " \
    "'card.%' THEN payload ->> 'id' ELSE payload ->> 'card' END) = $6 "
#define ASCENDING   "ORDER BY seq LIMIT $5"
#define DESCENDING  "ORDER BY seq DESC LIMIT $5"

static const char *const history_sql[2][2] = {   /* [card filter][backwards] */
    { EVENTS_PAGE ASCENDING, EVENTS_PAGE DESCENDING },
    { EVENTS_PAGE CARD_FILTER ASCENDING, EVENTS_PAGE CARD_FILTER DESCENDING },
};

/* The card filter of a history request: 0 (none), 1 with the id in card,
 * or -1 with the reply set (400). */
static int
history_card(wk_req *r, const wk_room *rm, char card[CH_KIND_MAX + 1])
{
    if (!wk_query_has(r, "card")) return 0;
    if (strcmp(rm->kind, "board") != 0) {
        wk_invalid(r, "card", "card filters the history of boards only");
        return -1;
    }
    if (!wk_query_str(r, "card", card, CH_KIND_MAX + 1) || !ch_kind_valid(card, strlen(card))) {
        wk_invalid(r, "card", "card must be 1 to 64 characters of A-Z a-z 0-9 _ . : -");
        return -1;
    }
    return 1;
}

void
wk_h_events_list(wk_dbc *c, wk_req *r)
{
    wk_room rm;
    long long after = -1, before = -1, limit = HISTORY_DEFAULT, epoch = -1, seq;
    int ha, hb, he, hc;
    char eb[24], ab[24], bb[24], lb[24], card[CH_KIND_MAX + 1] = "";
    PGresult *res;

    if (wk_room_access(c, r, r->params[0], WK_ACT_VIEW, &rm) < 0) return;
    if ((ha = wk_query_int(r, "after", 0, SEQ_MAX, &after)) < 0 ||
        (hb = wk_query_int(r, "before", 1, SEQ_MAX, &before)) < 0 ||
        wk_query_int(r, "limit", 1, HISTORY_MAX, &limit) < 0 ||
        (he = wk_query_int(r, "epoch", 0, SEQ_MAX, &epoch)) < 0 ||
        (hc = history_card(r, &rm, card)) < 0)
        return;
    if (!he) {
        const char *p[1] = { rm.id };
        res = wk_sql(c, "SELECT epoch FROM events WHERE room = $1 ORDER BY epoch DESC LIMIT 1", 1, p);
        if (!res) goto db;
        if (PQntuples(res)) epoch = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (epoch < 0 && wk_room_epoch(c, r, rm.id, &epoch, &seq) < 0)
            return;   /* nothing persisted yet: the epoch clients will join in */
    }
    snprintf(eb, sizeof(eb), "%lld", epoch);
    snprintf(ab, sizeof(ab), "%lld", ha ? after : 0);
    snprintf(bb, sizeof(bb), "%lld", hb ? before : SEQ_MAX);
    snprintf(lb, sizeof(lb), "%lld", limit + 1);
    const char *p[6] = { rm.id, eb, ab, bb, lb, card };
    int backwards = !ha;
    res = wk_sql(c, history_sql[hc][backwards], hc ? 6 : 5, p);
    if (!res) goto db;
    int n = PQntuples(res);
    int more = n > limit;
    if (more) n = (int)limit;
    json_t *arr = json_array();
    for (int k = 0; arr && k < n; k++) {
        int i = backwards ? n - 1 - k : k;
        json_array_append_new(arr, wk_event_from_row(res, i, rm.id, epoch));
    }
    PQclear(res);
    wk_reply(r, 200, json_pack("{s:o, s:I, s:b}", "events", arr, "epoch", (json_int_t)epoch,
                               "has_more", more));
    return;
db:
    wk_fail_internal(c, r);
}

/* ------------------------------------------------------------ publish */

void
wk_h_events_publish(wk_dbc *c, wk_req *r)
{
    wk_room rm;
    const char *kind = "message", *cid = NULL;
    size_t klen = 7, clen = 0;
    char cidbuf[32];
    wk_published pub;

    if (wk_body_str(r, "kind", &kind, &klen) < 0 || wk_body_str(r, "cid", &cid, &clen) < 0) return;
    if (!kind) { kind = "message"; klen = 7; }
    if (!ch_kind_valid(kind, klen)) {
        wk_invalid(r, "kind", "kind must be 1 to 64 characters of A-Z a-z 0-9 _ . : -");
        return;
    }
    if (cid && !ch_cid_valid(cid, clen)) {
        wk_invalid(r, "cid", "cid must be 1 to 64 printable ASCII characters other than \" and \\");
        return;
    }
    json_t *pv = json_object_get(r->body, "payload");
    size_t payload_len = 0;
    char *payload = ch_json_dumps(pv ? pv : json_null(), 0, &payload_len);
    if (!payload) {
        wk_fail(r, 500, "internal", "out of memory", NULL);
        return;
    }
    if (payload_len > PAYLOAD_MAX) {
        free(payload);
        wk_invalid(r, "payload", "payload is larger than 65536 bytes");
        return;
    }
    if (wk_room_access(c, r, r->params[0], WK_ACT_WRITE, &rm) < 0) {
        free(payload);
        return;
    }
    if (!cid) {
        wk_cid_new(cidbuf);
        cid = cidbuf;
    }
    int rc = wk_publish(c, r, &rm, kind, cid, payload, payload_len, &pub);
    free(payload);
    if (rc < 0) return;
    wk_reply(r, pub.duplicate ? 200 : 201,
             json_pack("{s:s, s:I, s:I, s:s, s:b}", "room", rm.id, "seq", (json_int_t)pub.seq,
                       "epoch", (json_int_t)pub.epoch, "cid", cid, "duplicate", pub.duplicate));
}

/* ------------------------------------------------------------ snapshot */

void
wk_h_snapshot(wk_dbc *c, wk_req *r)
{
    wk_room rm;
    long long epoch, seq;
    wk_blob *state;
    ch_buf head;

    if (wk_room_access(c, r, r->params[0], WK_ACT_VIEW, &rm) < 0) return;
    if (wk_state_text(c, r, rm.id, rm.kind, &epoch, &seq, &state) < 0) return;
    /* {"room","kind","seq","epoch","state"} with the state's text spliced in. */
    ch_buf_init(&head);
    ch_buf_puts(&head, "{\"room\":");
    ch_buf_json_string(&head, rm.id, strlen(rm.id));
    ch_buf_puts(&head, ",\"kind\":");
    ch_buf_json_string(&head, rm.kind, strlen(rm.kind));
    ch_buf_printf(&head, ",\"seq\":%lld,\"epoch\":%lld,\"state\":", seq, epoch);
    if (head.oom) {
        ch_buf_free(&head);
        wk_blob_unref(state);
        wk_fail(r, 500, "internal", "out of memory", NULL);
        return;
    }
    wk_reply_raw(r, 200, head.data, head.len, state, "}");
}

/* ------------------------------------------------------------ read markers */

void
wk_h_read_marker(wk_dbc *c, wk_req *r)
{
    wk_room rm;
    long long seq, epoch;
    int hs, he;
    char ub[24], sb[24], eb[24];
    PGresult *res;

    if ((hs = wk_body_int(r, "seq", &seq)) < 0 || (he = wk_body_int(r, "epoch", &epoch)) < 0) return;
    if (!hs || seq < 0 || seq > SEQ_MAX) {
        wk_invalid(r, "seq", "seq must be an integer >= 0");
        return;
    }
    if (!he || epoch < 0 || epoch > SEQ_MAX) {
        wk_invalid(r, "epoch", "epoch must be an integer >= 0");
        return;
    }
    if (wk_room_access(c, r, r->params[0], WK_ACT_VIEW, &rm) < 0) return;
    snprintf(ub, sizeof(ub), "%lld", r->uid);
    snprintf(sb, sizeof(sb), "%lld", seq);
    snprintf(eb, sizeof(eb), "%lld", epoch);
    const char *p[4] = { ub, rm.id, eb, sb };
    /* Only forward: a newer epoch, or a higher seq in the same epoch. */
    res = wk_sql(c, "INSERT INTO read_markers AS m (user_id, room, epoch, seq) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (user_id, room) DO UPDATE SET epoch = EXCLUDED.epoch, "
                    "seq = EXCLUDED.seq, updated_at = now() "
                    "WHERE (m.epoch, m.seq) < (EXCLUDED.epoch, EXCLUDED.seq)", 4, p);
    if (!res) goto db;
    PQclear(res);
    res = wk_sql(c, "SELECT epoch, seq FROM read_markers WHERE user_id = $1 AND room = $2", 2, p);
    if (!res) goto db;
    if (PQntuples(res) != 1) {
        PQclear(res);
        wk_fail(r, 500, "internal", "marker not stored", NULL);
        return;
    }
    wk_reply(r, 200, json_pack("{s:s, s:I, s:I}", "room", rm.id,
                               "epoch", (json_int_t)atoll(PQgetvalue(res, 0, 0)),
                               "seq", (json_int_t)atoll(PQgetvalue(res, 0, 1))));
    PQclear(res);
    return;
db:
    wk_fail_internal(c, r);
}
