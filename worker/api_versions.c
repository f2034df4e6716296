/*
 * api_versions.c — named versions of a room: a member saves the room's
 * reducer state as of one seq under a name, lists, loads and deletes them.
 *
 *   POST   /rooms/{room}/versions        {name, seq?}   members; 409 archived,
 *                                                       taken name, or full
 *   GET    /rooms/{room}/versions                       members; newest first
 *   GET    /rooms/{room}/versions/{id}                  members; with the state
 *   DELETE /rooms/{room}/versions/{id}                  its creator, admins, owners
 *
 * The state is folded when the version is created (api_state.c,
 * wk_state_at: the newest snapshot row at or below the seq, then persisted
 * events, then the Redis stream, never past the seq) in the room's current
 * epoch, and stored whole in room_versions (migrations/0003), so loading a
 * version never depends on history trimmed since. The default seq is the
 * room's current one, the seq of the state GET /rooms/{room}/snapshot
 * returns.
 *
 * The state is stored as its canonical text (json_out.h: sorted keys,
 * shortest reals), the bytes GET /rooms/{room}/snapshot would send for it,
 * and a GET of the version sends those bytes as stored, spliced between
 * the version's other fields and the closing braces, without parsing them.
 *
 * A room keeps at most --max-versions versions: the insert counts the
 * room's versions in the same statement. Two creations racing at the
 * limit may both pass it (each counts before the other's row exists),
 * which only lets the room go one or two over; the limit bounds storage,
 * it is not an invariant anything else relies on.
 */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_validate.h"
#include "json_out.h"

#define SEQ_MAX         9007199254740991LL

#define VERSION_COLUMNS "id, room, epoch, seq, name, created_by, " WK_TS("created_at")

/* A version row as JSON; columns as VERSION_COLUMNS. */
static json_t *
version_json(PGresult *res, int row)
{
    json_t *by = PQgetisnull(res, row, 5) ? json_null()
                                          : json_integer(atoll(PQgetvalue(res, row, 5)));
    return json_pack("{s:I, s:s, s:I, s:I, s:s, s:o, s:s}",
                     "id", (json_int_t)atoll(PQgetvalue(res, row, 0)),
                     "room", PQgetvalue(res, row, 1),
                     "epoch", (json_int_t)atoll(PQgetvalue(res, row, 2)),
                     "seq", (json_int_t)atoll(PQgetvalue(res, row, 3)),
                     "name", PQgetvalue(res, row, 4),
                     "created_by", by,
                     "created_at", PQgetvalue(res, row, 6));
}

static int
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* The body's "name", trimmed of ASCII white space and validated, into out
 * (at least WK_NAME_MAX * 4 + 1 bytes). 0, or -1 with the reply set. */
static int
version_name(wk_req *r, char *out)
{
    const char *name;
    size_t len;

    if (wk_body_str_req(r, "name", &name, &len) < 0) return -1;
    while (len > 0 && is_space(*name)) { name++; len--; }
    while (len > 0 && is_space(name[len - 1])) len--;
    if (len > WK_NAME_MAX * 4 || !wk_valid_label(name, len, WK_NAME_MAX)) {
        wk_invalid(r, "name", "name must be 1 to 100 characters without control characters");
        return -1;
    }
    memcpy(out, name, len);
    out[len] = '\0';
    return 0;
}

/* The room's state for a new version: as of seq when has_seq, else the
 * current one. Owned by the caller, with *epoch; NULL with the reply set. */
static json_t *
version_state(wk_dbc *c, wk_req *r, const wk_room *rm, int has_seq, long long seq, long long *epoch)
{
    long long cur;
    char msg[96];
    json_t *state;

    if (!has_seq) return wk_state_load(c, r, rm->id, rm->kind, epoch);
    if (wk_room_epoch(c, r, rm->id, epoch, &cur) < 0) return NULL;
    if (seq > cur) {
        snprintf(msg, sizeof(msg), "seq must be at most the room's current seq, %lld", cur);
        wk_invalid(r, "seq", msg);
        return NULL;
    }
    state = wk_state_at(c, r, rm->id, rm->kind, *epoch, seq);
    if (state && json_integer_value(json_object_get(state, "seq")) != seq) {
        json_decref(state);
        snprintf(msg, sizeof(msg), "the room's history no longer reaches seq %lld", seq);
        wk_fail(r, 409, "conflict", msg, "seq");
        return NULL;
    }
    return state;
}

void
wk_h_version_create(wk_dbc *c, wk_req *r)
{
    wk_room rm;
    char name[WK_NAME_MAX * 4 + 1], eb[24], sb[24], ub[24], mb[24], msg[96];
    long long seq = 0, epoch;
    int has_seq;
    PGresult *res;

    if (wk_room_access(c, r, r->params[0], WK_ACT_WRITE, &rm) < 0) return;
    if (version_name(r, name) < 0 || (has_seq = wk_body_int(r, "seq", &seq)) < 0) return;
    if (has_seq && (seq < 0 || seq > SEQ_MAX)) {
        wk_invalid(r, "seq", "seq must be an integer >= 0");
        return;
    }
    json_t *state = version_state(c, r, &rm, has_seq, seq, &epoch);
    if (!state) return;
    seq = json_integer_value(json_object_get(state, "seq"));
    char *text = ch_json_dumps(state, CH_JSON_SORT_KEYS, NULL);
    json_decref(state);
    if (!text) {
        wk_fail(r, 500, "internal", "out of memory", NULL);
        return;
    }
    snprintf(eb, sizeof(eb), "%lld", epoch);
    snprintf(sb, sizeof(sb), "%lld", seq);
    snprintf(ub, sizeof(ub), "%lld", r->uid);
    snprintf(mb, sizeof(mb), "%d", r->api->cfg->max_versions);
    const char *p[7] = { rm.id, eb, sb, name, text, ub, mb };
    /* One row: the new version's columns (all NULL when nothing was
     * inserted), then the room's count before, then whether the name was
     * taken then. */
    res = wk_sql(c, "WITH cur AS (SELECT count(*) AS n, coalesce(bool_or(name = $4::text), false) AS taken "
                    "             FROM room_versions WHERE room = $1::text), "
                    "ins AS (INSERT INTO room_versions (room, epoch, seq, name, state, created_by) "
                    "        SELECT $1::text, $2::bigint, $3::bigint, $4::text, $5::text, $6::bigint "
                    "        FROM cur WHERE cur.n < $7::bigint "
                    "        ON CONFLICT (room, name) DO NOTHING "
                    "        RETURNING " VERSION_COLUMNS ") "
                    "SELECT ins.*, cur.n, cur.taken FROM cur LEFT JOIN ins ON true", 7, p);
    free(text);
    if (!res) {
        wk_fail_internal(c, r);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        int full = PQntuples(res) == 1 && atoll(PQgetvalue(res, 0, 7)) >= r->api->cfg->max_versions &&
                   strcmp(PQgetvalue(res, 0, 8), "t") != 0;
        PQclear(res);
        if (full) {
            snprintf(msg, sizeof(msg), "a room keeps at most %d named versions; delete one first",
                     r->api->cfg->max_versions);
            wk_fail(r, 409, "conflict", msg, "name");
        } else {
            wk_fail(r, 409, "conflict", "this room already has a version with that name", "name");
        }
        return;
    }
    wk_reply_json(r, 201, json_pack("{s:o}", "version", version_json(res, 0)));
    PQclear(res);
}

void
wk_h_versions_list(wk_dbc *c, wk_req *r)
{
    wk_room rm;
    PGresult *res;
    char mb[24];

    if (wk_room_access(c, r, r->params[0], WK_ACT_VIEW, &rm) < 0) return;
    snprintf(mb, sizeof(mb), "%d", r->api->cfg->max_versions);
    const char *p[2] = { rm.id, mb };
    res = wk_sql(c, "SELECT " VERSION_COLUMNS " FROM room_versions WHERE room = $1 "
                    "ORDER BY id DESC LIMIT $2::bigint", 2, p);
    if (!res) {
        wk_fail_internal(c, r);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(res); i++)
        json_array_append_new(arr, version_json(res, i));
    PQclear(res);
    wk_reply_json(r, 200, json_pack("{s:o}", "versions", arr));
}

/* Access check and the id in path parameter 1: 0, or -1 with the reply
 * set (404 for an id that cannot be one). */
static int
version_open(wk_dbc *c, wk_req *r, wk_action act, wk_room *rm, char idb[24])
{
    long long id;

    if (wk_room_access(c, r, r->params[0], act, rm) < 0) return -1;
    if (!wk_parse_id(r->params[1], strlen(r->params[1]), &id)) {
        wk_fail(r, 404, "not_found", "no such version", NULL);
        return -1;
    }
    snprintf(idb, 24, "%lld", id);
    return 0;
}

void
wk_h_version_get(wk_dbc *c, wk_req *r)
{
    wk_room rm;
    char idb[24];
    PGresult *res;
    json_t *v;
    wk_blob *state;
    ch_buf head;

    if (version_open(c, r, WK_ACT_VIEW, &rm, idb) < 0) return;
    const char *p[2] = { rm.id, idb };
    res = wk_sql(c, "SELECT " VERSION_COLUMNS ", state FROM room_versions "
                    "WHERE room = $1 AND id = $2", 2, p);
    if (!res) {
        wk_fail_internal(c, r);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        wk_fail(r, 404, "not_found", "no such version", NULL);
        return;
    }
    /* {"version": {<the version's fields>, "state": <stored text>}}: the
     * fields' object without its closing brace, then the state. */
    v = version_json(res, 0);
    state = wk_blob_copy(PQgetvalue(res, 0, 7), (size_t)PQgetlength(res, 0, 7));
    PQclear(res);
    ch_buf_init(&head);
    ch_buf_puts(&head, "{\"version\":");
    if (!v || !state || ch_json_dump(&head, v, 0, NULL) < 0) goto oom;
    head.len--;
    ch_buf_puts(&head, ",\"state\":");
    if (head.oom) goto oom;
    json_decref(v);
    wk_reply_raw(r, 200, head.data, head.len, state, "}}");
    return;
oom:
    json_decref(v);
    wk_blob_unref(state);
    ch_buf_free(&head);
    wk_fail(r, 500, "internal", "out of memory", NULL);
}

void
wk_h_version_delete(wk_dbc *c, wk_req *r)
{
    wk_room rm;
    char idb[24];
    PGresult *res;

    if (version_open(c, r, WK_ACT_WRITE, &rm, idb) < 0) return;
    const char *p[2] = { rm.id, idb };
    res = wk_sql(c, "SELECT created_by FROM room_versions WHERE room = $1 AND id = $2", 2, p);
    if (!res) goto db;
    if (PQntuples(res) == 0) {
        PQclear(res);
        wk_fail(r, 404, "not_found", "no such version", NULL);
        return;
    }
    int mine = !PQgetisnull(res, 0, 0) && atoll(PQgetvalue(res, 0, 0)) == r->uid;
    PQclear(res);
    if (!mine && !wk_role_can(rm.role, WK_ACT_VERSIONS_MANAGE)) {
        wk_fail(r, 403, "forbidden", "only its creator, admins and owners can delete a version", NULL);
        return;
    }
    if (wk_sql_exec(c, "DELETE FROM room_versions WHERE room = $1 AND id = $2", 2, p) < 0) goto db;
    wk_reply(r, 204, NULL);
    return;
db:
    wk_fail_internal(c, r);
}
