/*
 * api_workspaces.c — workspaces, their members and roles, and unread
 * counts.
 *
 * Invariants:
 *  - a workspace always has at least one owner (core_roles.h rules; the
 *    owner count is read under the workspace row lock, so two concurrent
 *    demotions cannot both pass);
 *  - every change to membership runs in one transaction that first locks
 *    the workspace row, then updates PostgreSQL, then the rooms' access
 *    lists in Redis (api_acl.c), then commits;
 *  - a new workspace comes with its owner and a chat room "general".
 */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_validate.h"
#include "keys.h"

#define WS_COLS "w.id, w.name, w.created_by, " WK_TS("w.created_at") ", " \
    "(SELECT count(*) FROM workspace_members x WHERE x.workspace_id = w.id)"
#define MEMBER_COLS "u.id, u.username, u.display_name, m.role, " WK_TS("m.added_at")

/* Workspace JSON from WS_COLS at col 0 and the caller's role. */
static json_t *
ws_json(PGresult *res, int row, const char *role)
{
    return json_pack("{s:I, s:s, s:I, s:s, s:I, s:s}",
                     "id", (json_int_t)atoll(PQgetvalue(res, row, 0)),
                     "name", PQgetvalue(res, row, 1),
                     "created_by", (json_int_t)atoll(PQgetvalue(res, row, 2)),
                     "created_at", PQgetvalue(res, row, 3),
                     "member_count", (json_int_t)atoll(PQgetvalue(res, row, 4)),
                     "role", role);
}

static json_t *
member_json(PGresult *res, int row)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s}",
                     "user_id", (json_int_t)atoll(PQgetvalue(res, row, 0)),
                     "username", PQgetvalue(res, row, 1),
                     "display_name", PQgetvalue(res, row, 2),
                     "role", PQgetvalue(res, row, 3),
                     "added_at", PQgetvalue(res, row, 4));
}

/* The workspace's JSON for the caller (role given); NULL with the reply set. */
static json_t *
ws_fetch(wk_dbc *c, wk_req *r, long long ws, wk_role role)
{
    char wsb[24];
    const char *p[1] = { wsb };
    PGresult *res;
    json_t *o;

    snprintf(wsb, sizeof(wsb), "%lld", ws);
    res = wk_sql(c, "SELECT " WS_COLS " FROM workspaces w WHERE w.id = $1", 1, p);
    if (!res) {
        wk_fail_internal(c, r);
        return NULL;
    }
    o = PQntuples(res) ? ws_json(res, 0, wk_role_name(role)) : NULL;
    PQclear(res);
    if (!o) wk_fail(r, 404, "not_found", "no such workspace", NULL);
    return o;
}

static int
valid_ws_name(wk_req *r, const char *name, size_t len)
{
    if (wk_valid_label(name, len, WK_NAME_MAX)) return 1;
    wk_invalid(r, "name", "name must be 1 to 100 characters without control characters");
    return 0;
}

void
wk_h_ws_create(wk_dbc *c, wk_req *r)
{
    const char *name;
    size_t len;
    char ub[24], wsb[24];
    PGresult *res;

    if (wk_body_str_req(r, "name", &name, &len) < 0 || !valid_ws_name(r, name, len)) return;
    snprintf(ub, sizeof(ub), "%lld", r->uid);
    if (wk_sql_begin(c) < 0) goto db;
    {
        const char *p[2] = { name, ub };
        res = wk_sql(c, "INSERT INTO workspaces (name, created_by) VALUES ($1, $2) RETURNING id", 2, p);
    }
    if (!res) {
        if (strcmp(c->sqlstate, "23503") == 0) {   /* the account is gone */
            wk_fail(r, 401, "unauthorized", "the account no longer exists", NULL);
            return;
        }
        goto db;
    }
    long long ws = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    {
        const char *p[2] = { wsb, ub };
        if (wk_sql_exec(c, "INSERT INTO workspace_members (workspace_id, user_id, role) "
                           "VALUES ($1, $2, 'owner')", 2, p) < 0)
            goto db;
    }
    json_t *general = wk_room_create(c, r, ws, "chat", "general", NULL);
    if (!general) return;
    json_t *o = ws_fetch(c, r, ws, WK_ROLE_OWNER);
    if (!o) {
        json_decref(general);
        return;
    }
    if (wk_sql_commit(c) < 0) {
        json_decref(general);
        json_decref(o);
        goto db;
    }
    wk_reply(r, 201, json_pack("{s:o, s:[o]}", "workspace", o, "rooms", general));
    return;
db:
    wk_fail_internal(c, r);
}

void
wk_h_ws_list(wk_dbc *c, wk_req *r)
{
    char ub[24];
    const char *p[1] = { ub };
    PGresult *res;

    snprintf(ub, sizeof(ub), "%lld", r->uid);
    res = wk_sql(c, "SELECT " WS_COLS ", m.role FROM workspace_members m "
                    "JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY w.id",
                 1, p);
    if (!res) {
        wk_fail_internal(c, r);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(res); i++)
        json_array_append_new(arr, ws_json(res, i, PQgetvalue(res, i, 5)));
    PQclear(res);
    wk_reply(r, 200, json_pack("{s:o}", "workspaces", arr));
}

void
wk_h_ws_get(wk_dbc *c, wk_req *r)
{
    long long ws;
    wk_role role;

    if (wk_workspace_access(c, r, r->params[0], WK_ACT_VIEW, &ws, &role) < 0) return;
    json_t *o = ws_fetch(c, r, ws, role);
    if (o) wk_reply(r, 200, json_pack("{s:o}", "workspace", o));
}

void
wk_h_ws_update(wk_dbc *c, wk_req *r)
{
    long long ws;
    wk_role role;
    const char *name;
    size_t len;
    char wsb[24];

    if (wk_workspace_access(c, r, r->params[0], WK_ACT_WS_RENAME, &ws, &role) < 0) return;
    if (wk_body_str_req(r, "name", &name, &len) < 0 || !valid_ws_name(r, name, len)) return;
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    const char *p[2] = { wsb, name };
    if (wk_sql_exec(c, "UPDATE workspaces SET name = $2 WHERE id = $1", 2, p) < 0) {
        wk_fail_internal(c, r);
        return;
    }
    json_t *o = ws_fetch(c, r, ws, role);
    if (o) wk_reply(r, 200, json_pack("{s:o}", "workspace", o));
}

/* The values of column 0 of res as an array of strings borrowed from res
 * (free the array only). NULL if out of memory. */
static const char **
column_strings(PGresult *res)
{
    int n = PQntuples(res);
    const char **v = calloc((size_t)n + 1, sizeof(*v));
    for (int i = 0; v && i < n; i++) v[i] = PQgetvalue(res, i, 0);
    return v;
}

void
wk_h_ws_delete(wk_dbc *c, wk_req *r)
{
    long long ws;
    wk_role role;
    char wsb[24];
    PGresult *rooms = NULL, *users = NULL;
    const char **rv = NULL, **uv = NULL;

    if (wk_workspace_access(c, r, r->params[0], WK_ACT_WS_DELETE, &ws, &role) < 0) return;
    if (wk_ws_lock(c, r, ws) < 0) return;
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    const char *p[1] = { wsb };
    rooms = wk_sql(c, "SELECT id FROM rooms WHERE workspace_id = $1", 1, p);
    users = rooms ? wk_sql(c, "SELECT user_id FROM workspace_members WHERE workspace_id = $1", 1, p)
                  : NULL;
    if (!rooms || !users) goto db;
    rv = column_strings(rooms);
    uv = column_strings(users);
    if (!rv || !uv) {
        wk_fail(r, 500, "internal", "out of memory", NULL);
        goto out;
    }
    if (wk_sql_exec(c, "DELETE FROM workspaces WHERE id = $1", 1, p) < 0) goto db;
    if (wk_acl_kick(c, r, rv, PQntuples(rooms), uv, PQntuples(users),
                    "this workspace was deleted", 1) < 0 ||
        wk_sql_commit(c) < 0)
        goto db;
    wk_reply(r, 204, NULL);
    goto out;
db:
    wk_fail_internal(c, r);
out:
    free(rv);
    free(uv);
    PQclear(rooms);
    PQclear(users);
}

/* ------------------------------------------------------------ members */

void
wk_h_members_list(wk_dbc *c, wk_req *r)
{
    long long ws;
    wk_role role;
    char wsb[24];
    PGresult *res;

    if (wk_workspace_access(c, r, r->params[0], WK_ACT_VIEW, &ws, &role) < 0) return;
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    const char *p[1] = { wsb };
    res = wk_sql(c, "SELECT " MEMBER_COLS " FROM workspace_members m JOIN users u ON u.id = m.user_id "
                    "WHERE m.workspace_id = $1 ORDER BY CASE m.role WHEN 'owner' THEN 0 "
                    "WHEN 'admin' THEN 1 ELSE 2 END, u.username", 1, p);
    if (!res) {
        wk_fail_internal(c, r);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(res); i++)
        json_array_append_new(arr, member_json(res, i));
    PQclear(res);
    wk_reply(r, 200, json_pack("{s:o}", "members", arr));
}

/* Maps a rule verdict to a reply; 0 if allowed. */
static int
rule_reply(wk_req *r, wk_rule rule)
{
    switch (rule) {
    case WK_RULE_OK: return 0;
    case WK_RULE_FORBIDDEN:
        wk_fail(r, 403, "forbidden", "your role does not allow this change", NULL);
        return -1;
    case WK_RULE_INVALID:
        wk_invalid(r, "role", "this role cannot be given this way");
        return -1;
    case WK_RULE_LAST_OWNER:
        wk_fail(r, 409, "last_owner", "a workspace must keep at least one owner", NULL);
        return -1;
    }
    return -1;
}

/* Locks workspace param and reads the caller's role and the owner count
 * under the lock. 0, or -1 with the reply set. */
static int
lock_members(wk_dbc *c, wk_req *r, const char *param, long long *ws, wk_role *actor, long *owners)
{
    char wsb[24];
    PGresult *res;

    if (!wk_parse_id(param, strlen(param), ws)) {
        wk_fail(r, 404, "not_found", "no such workspace", NULL);
        return -1;
    }
    if (wk_ws_lock(c, r, *ws) < 0) return -1;
    if (wk_member_role(c, r, *ws, actor) < 0) return -1;
    if (*actor == WK_ROLE_NONE) {
        wk_fail(r, 403, "forbidden", "you are not a member of this workspace", NULL);
        return -1;
    }
    snprintf(wsb, sizeof(wsb), "%lld", *ws);
    const char *p[1] = { wsb };
    res = wk_sql(c, "SELECT count(*) FROM workspace_members WHERE workspace_id = $1 AND role = 'owner'",
                 1, p);
    if (!res) {
        wk_fail_internal(c, r);
        return -1;
    }
    *owners = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* The member row of uid in ws as JSON; NULL with the reply set. */
static json_t *
member_fetch(wk_dbc *c, wk_req *r, long long ws, long long uid)
{
    char wsb[24], ub[24];
    PGresult *res;
    json_t *o;

    snprintf(wsb, sizeof(wsb), "%lld", ws);
    snprintf(ub, sizeof(ub), "%lld", uid);
    const char *p[2] = { wsb, ub };
    res = wk_sql(c, "SELECT " MEMBER_COLS " FROM workspace_members m JOIN users u ON u.id = m.user_id "
                    "WHERE m.workspace_id = $1 AND m.user_id = $2", 2, p);
    if (!res) {
        wk_fail_internal(c, r);
        return NULL;
    }
    o = PQntuples(res) ? member_json(res, 0) : NULL;
    PQclear(res);
    if (!o) wk_fail(r, 404, "not_found", "no such member", NULL);
    return o;
}

void
wk_h_member_add(wk_dbc *c, wk_req *r)
{
    long long ws, uid = 0;
    wk_role actor, granted = WK_ROLE_MEMBER;
    long owners;
    const char *username = NULL, *role = NULL;
    size_t ulen = 0;
    int has_id;
    char wsb[24], ub[24];
    PGresult *res;

    if (wk_body_str(r, "username", &username, &ulen) < 0 ||
        (has_id = wk_body_int(r, "user_id", &uid)) < 0 || wk_body_str(r, "role", &role, NULL) < 0)
        return;
    if (!username && !has_id) {
        wk_invalid(r, "username", "username (or user_id) is required");
        return;
    }
    if (role && (granted = wk_role_parse(role)) == WK_ROLE_NONE) {
        wk_invalid(r, "role", "role must be member or admin");
        return;
    }
    if (lock_members(c, r, r->params[0], &ws, &actor, &owners) < 0) return;
    if (rule_reply(r, wk_member_add_check(actor, granted)) < 0) return;

    if (username && !wk_valid_username(username, ulen)) {
        wk_fail(r, 404, "not_found", "no such user", "username");
        return;
    }
    if (username) {
        const char *p[1] = { username };
        res = wk_sql(c, "SELECT id FROM users WHERE username = $1", 1, p);
    } else {
        snprintf(ub, sizeof(ub), "%lld", uid);
        const char *p[1] = { ub };
        res = wk_sql(c, "SELECT id FROM users WHERE id = $1", 1, p);
    }
    if (!res) goto db;
    if (PQntuples(res) == 0) {
        PQclear(res);
        wk_fail(r, 404, "not_found", "no such user", username ? "username" : "user_id");
        return;
    }
    uid = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    snprintf(ub, sizeof(ub), "%lld", uid);
    {
        const char *p[3] = { wsb, ub, wk_role_name(granted) };
        long n = wk_sql_exec(c, "INSERT INTO workspace_members (workspace_id, user_id, role) "
                                "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, p);
        if (n < 0) goto db;
        if (n == 0) {
            wk_fail(r, 409, "conflict", "already a member of this workspace", "username");
            return;
        }
    }
    if (wk_acl_rebuild(c, r, ws, NULL) < 0) goto db;
    json_t *m = member_fetch(c, r, ws, uid);
    if (!m) return;
    if (wk_sql_commit(c) < 0) {
        json_decref(m);
        goto db;
    }
    wk_reply(r, 201, json_pack("{s:o}", "member", m));
    return;
db:
    wk_fail_internal(c, r);
}

/* The target user id from the path and its current role (under the lock).
 * 0, or -1 with the reply set. */
static int
target_role(wk_dbc *c, wk_req *r, long long ws, long long *uid, wk_role *role)
{
    char wsb[24];
    PGresult *res;

    if (!wk_parse_id(r->params[1], strlen(r->params[1]), uid)) {
        wk_fail(r, 404, "not_found", "no such member", NULL);
        return -1;
    }
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    const char *p[2] = { wsb, r->params[1] };
    res = wk_sql(c, "SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2", 2, p);
    if (!res) {
        wk_fail_internal(c, r);
        return -1;
    }
    *role = PQntuples(res) ? wk_role_parse(PQgetvalue(res, 0, 0)) : WK_ROLE_NONE;
    PQclear(res);
    if (*role == WK_ROLE_NONE) {
        wk_fail(r, 404, "not_found", "no such member", NULL);
        return -1;
    }
    return 0;
}

void
wk_h_member_update(wk_dbc *c, wk_req *r)
{
    long long ws, uid;
    wk_role actor, current, wanted;
    long owners;
    const char *role;
    char wsb[24];

    if (wk_body_str_req(r, "role", &role, NULL) < 0) return;
    if ((wanted = wk_role_parse(role)) == WK_ROLE_NONE) {
        wk_invalid(r, "role", "role must be owner, admin or member");
        return;
    }
    if (lock_members(c, r, r->params[0], &ws, &actor, &owners) < 0) return;
    if (target_role(c, r, ws, &uid, &current) < 0) return;
    if (rule_reply(r, wk_member_change_check(actor, uid == r->uid, current, wanted, owners)) < 0)
        return;
    if (wanted != current) {
        snprintf(wsb, sizeof(wsb), "%lld", ws);
        const char *p[3] = { wsb, r->params[1], wk_role_name(wanted) };
        if (wk_sql_exec(c, "UPDATE workspace_members SET role = $3 "
                           "WHERE workspace_id = $1 AND user_id = $2", 3, p) < 0 ||
            wk_acl_rebuild(c, r, ws, NULL) < 0)
            goto db;
    }
    json_t *m = member_fetch(c, r, ws, uid);
    if (!m) return;
    if (wk_sql_commit(c) < 0) {
        json_decref(m);
        goto db;
    }
    wk_reply(r, 200, json_pack("{s:o}", "member", m));
    return;
db:
    wk_fail_internal(c, r);
}

void
wk_h_member_remove(wk_dbc *c, wk_req *r)
{
    long long ws, uid;
    wk_role actor, current;
    long owners;
    char wsb[24];
    PGresult *rooms = NULL;
    const char **rv = NULL;

    if (lock_members(c, r, r->params[0], &ws, &actor, &owners) < 0) return;
    if (target_role(c, r, ws, &uid, &current) < 0) return;
    if (rule_reply(r, wk_member_remove_check(actor, uid == r->uid, current, owners)) < 0) return;
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    {
        const char *p[2] = { wsb, r->params[1] };
        if (wk_sql_exec(c, "DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2",
                        2, p) < 0)
            goto db;
    }
    {
        const char *p[1] = { wsb };
        rooms = wk_sql(c, "SELECT id FROM rooms WHERE workspace_id = $1 AND NOT archived", 1, p);
    }
    if (!rooms) goto db;
    rv = column_strings(rooms);
    if (!rv) {
        wk_fail(r, 500, "internal", "out of memory", NULL);
        goto out;
    }
    const char *users[1] = { r->params[1] };
    if (wk_acl_rebuild(c, r, ws, NULL) < 0 ||
        wk_acl_kick(c, r, rv, PQntuples(rooms), users, 1, "you were removed from this workspace", 0) < 0 ||
        wk_sql_commit(c) < 0)
        goto db;
    wk_reply(r, 204, NULL);
    goto out;
db:
    wk_fail_internal(c, r);
out:
    free(rv);
    PQclear(rooms);
}

/* ------------------------------------------------------------ unread */

void
wk_h_unread(wk_dbc *c, wk_req *r)
{
    long long ws;
    wk_role role;
    char wsb[24], ub[24];
    PGresult *res;
    unsigned parts = r->api->cfg->partitions;

    if (wk_workspace_access(c, r, r->params[0], WK_ACT_VIEW, &ws, &role) < 0) return;
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    snprintf(ub, sizeof(ub), "%lld", r->uid);
    const char *p[2] = { wsb, ub };
    res = wk_sql(c, "SELECT r.id, r.kind, coalesce(m.epoch, -1), coalesce(m.seq, 0), "
                    "coalesce(e.epoch, -1), coalesce(e.seq, 0) FROM rooms r "
                    "LEFT JOIN read_markers m ON m.room = r.id AND m.user_id = $2 "
                    "LEFT JOIN LATERAL (SELECT epoch, seq FROM events WHERE room = r.id "
                    "  ORDER BY epoch DESC, seq DESC LIMIT 1) e ON true "
                    "WHERE r.workspace_id = $1 AND NOT r.archived ORDER BY r.id", 2, p);
    if (!res) goto db;
    int n = PQntuples(res);
    /* The newest position is Redis's room meta (events not yet persisted
     * count too); PostgreSQL's newest event when the meta is gone. */
    for (int i = 0; i < n; i++) {
        ch_room_keys k;
        ch_room_keys_build(&k, PQgetvalue(res, i, 0), parts);
        const char *argv[4] = { "HMGET", k.meta, "epoch", "seq" };
        size_t lens[4] = { 5, strlen(k.meta), 5, 3 };
        if (wk_redis_append(c, 4, argv, lens) < 0) {
            PQclear(res);
            goto db;
        }
    }
    json_t *arr = json_array();
    int failed = 0;
    for (int i = 0; i < n; i++) {
        redisReply *rep = NULL;
        if (!failed && wk_redis_read(c, &rep) < 0) failed = 1;
        if (failed) continue;
        long long mark_epoch = atoll(PQgetvalue(res, i, 2)), mark_seq = atoll(PQgetvalue(res, i, 3));
        long long epoch = atoll(PQgetvalue(res, i, 4)), last = atoll(PQgetvalue(res, i, 5));
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
            rep->element[0]->type == REDIS_REPLY_STRING && rep->element[1]->type == REDIS_REPLY_STRING) {
            epoch = atoll(rep->element[0]->str);
            last = atoll(rep->element[1]->str);
        }
        freeReplyObject(rep);
        long long unread = mark_epoch == epoch ? last - mark_seq : last;
        if (unread < 0) unread = 0;
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "room", PQgetvalue(res, i, 0),
                              "kind", PQgetvalue(res, i, 1), "unread", (json_int_t)unread,
                              "last_seq", (json_int_t)last, "epoch", (json_int_t)(epoch < 0 ? 0 : epoch),
                              "read_seq", (json_int_t)(mark_epoch == epoch ? mark_seq : 0));
        if (arr) json_array_append_new(arr, o);
        else json_decref(o);
    }
    PQclear(res);
    if (failed) {
        json_decref(arr);
        goto db;
    }
    wk_reply(r, 200, arr);
    return;
db:
    wk_fail_internal(c, r);
}
