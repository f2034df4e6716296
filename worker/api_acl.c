/*
 * api_acl.c — the room access lists the gateways enforce.
 *
 * For every live room of a workspace, Redis holds ch:{pN}:a:<room>, a hash
 * of user id -> role with exactly the workspace's members; join.lua refuses
 * anyone else. The worker keeps it:
 *
 *   room created, member added, role changed     rebuild the lists
 *   member removed                               rebuild, then kick the user
 *   room archived, workspace deleted             DEL the lists, kick everyone
 *   worker start                                 rebuild every room
 *
 * A rebuild is DEL + HSET of all members inside MULTI/EXEC, so a gateway
 * never sees a half-written list, and it is idempotent. Callers run it
 * inside their PostgreSQL transaction, after locking the workspace row
 * (SELECT ... FOR UPDATE) and before COMMIT: changes to one workspace are
 * serialized, and Redis sees them in commit order. If the COMMIT then
 * fails, Redis is ahead of PostgreSQL until the next change or restart.
 *
 * A kick is PUBLISH on the room channel of
 *   K<user id>\n{"type":"error","code":"forbidden","room":...,"message":...}
 * Each gateway sends that error to the user's sessions in the room and ends
 * their membership at once.
 */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"

#define ROOMS_PER_PIPELINE 64

/* One room's members while building its HSET. */
typedef struct {
    const char **argv;     /* "HSET", key, field, value, ... (strings borrowed) */
    size_t *lens;
    int argc, cap;
} hset_cmd;

static int
hset_push(hset_cmd *h, const char *s)
{
    if (h->argc == h->cap) {
        int cap = h->cap ? h->cap * 2 : 16;
        const char **a = realloc(h->argv, sizeof(*a) * (size_t)cap);
        if (!a) return -1;
        h->argv = a;
        size_t *l = realloc(h->lens, sizeof(*l) * (size_t)cap);
        if (!l) return -1;
        h->lens = l;
        h->cap = cap;
    }
    h->argv[h->argc] = s;
    h->lens[h->argc] = strlen(s);
    h->argc++;
    return 0;
}

/* Reads n replies; -1 if the connection failed or an EXEC was aborted. */
static int
read_replies(wk_dbc *c, int n)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        redisReply *rep;
        if (wk_redis_read(c, &rep) < 0) return -1;
        if (rep->type == REDIS_REPLY_ERROR) {
            CH_WARN("api: access-list update refused by Redis", " error=\"%s\"", rep->str);
            rc = -1;
        }
        freeReplyObject(rep);
    }
    return rc;
}

int
wk_acl_rebuild(wk_dbc *c, wk_req *r, long long ws, const char *room)
{
    char wsb[24];
    const char *p[2] = { wsb, room };
    PGresult *res;
    int rc = 0, pending = 0, rooms_in_pipe = 0;
    hset_cmd h = { 0 };
    ch_room_keys k[1];
    unsigned parts = r->api->cfg->partitions;

    snprintf(wsb, sizeof(wsb), "%lld", ws);
    res = wk_sql(c, "SELECT r.id, r.archived, m.user_id, m.role FROM rooms r "
                    "LEFT JOIN workspace_members m ON m.workspace_id = r.workspace_id AND NOT r.archived "
                    "WHERE ($1::bigint <= 0 OR r.workspace_id = $1::bigint) "
                    "AND ($2::text IS NULL OR r.id = $2::text) ORDER BY r.id", 2, p);
    if (!res) return -1;

    int n = PQntuples(res);
    for (int i = 0; i < n && rc == 0;) {
        const char *id = PQgetvalue(res, i, 0);
        int archived = PQgetvalue(res, i, 1)[0] == 't';
        int j = i;

        ch_room_keys_build(k, id, parts);
        h.argc = 0;
        if (hset_push(&h, "HSET") < 0 || hset_push(&h, k->acl) < 0) rc = -1;
        for (; j < n && strcmp(PQgetvalue(res, j, 0), id) == 0; j++) {
            if (PQgetisnull(res, j, 2)) continue;
            if (hset_push(&h, PQgetvalue(res, j, 2)) < 0 || hset_push(&h, PQgetvalue(res, j, 3)) < 0)
                rc = -1;
        }
        i = j;
        if (rc < 0) break;

        const char *del[2] = { "DEL", k->acl };
        size_t dell[2] = { 3, strlen(k->acl) };
        if (archived || h.argc == 2) {
            if (wk_redis_append(c, 2, del, dell) < 0) { rc = -1; break; }
            pending += 1;
        } else {
            const char *multi[1] = { "MULTI" }, *exec[1] = { "EXEC" };
            size_t ml[1] = { 5 }, el[1] = { 4 };
            if (wk_redis_append(c, 1, multi, ml) < 0 || wk_redis_append(c, 2, del, dell) < 0 ||
                wk_redis_append(c, h.argc, h.argv, h.lens) < 0 || wk_redis_append(c, 1, exec, el) < 0) {
                rc = -1;
                break;
            }
            pending += 4;
        }
        if (++rooms_in_pipe == ROOMS_PER_PIPELINE) {
            rc = read_replies(c, pending);
            pending = rooms_in_pipe = 0;
        }
    }
    if (rc == 0 && pending)
        rc = read_replies(c, pending);
    free(h.argv);
    free(h.lens);
    PQclear(res);
    return rc;
}

int
wk_acl_kick(wk_dbc *c, wk_req *r, const char *const *rooms, int nrooms, const char *const *users,
            int nusers, const char *message, int drop)
{
    ch_room_keys k;
    ch_buf msg;
    int pending = 0, rc = 0;

    ch_buf_init(&msg);
    for (int i = 0; i < nrooms && rc == 0; i++) {
        ch_room_keys_build(&k, rooms[i], r->api->cfg->partitions);
        if (drop) {
            const char *del[2] = { "DEL", k.acl };
            size_t dell[2] = { 3, strlen(k.acl) };
            if (wk_redis_append(c, 2, del, dell) < 0) { rc = -1; break; }
            pending++;
        }
        for (int u = 0; u < nusers; u++) {
            ch_buf_reset(&msg);
            ch_buf_printf(&msg, "K%s\n{\"type\":\"error\",\"code\":\"forbidden\",\"room\":", users[u]);
            ch_buf_json_string(&msg, rooms[i], strlen(rooms[i]));
            ch_buf_puts(&msg, ",\"message\":");
            ch_buf_json_string(&msg, message, strlen(message));
            ch_buf_puts(&msg, "}");
            if (msg.oom) { rc = -1; break; }
            const char *pub[3] = { "PUBLISH", k.channel, msg.data };
            size_t publ[3] = { 7, strlen(k.channel), msg.len };
            if (wk_redis_append(c, 3, pub, publ) < 0) { rc = -1; break; }
            pending++;
        }
        if (pending >= 256) {
            rc = read_replies(c, pending);
            pending = 0;
        }
    }
    if (rc == 0 && pending)
        rc = read_replies(c, pending);
    ch_buf_free(&msg);
    return rc;
}

void
wk_h_acl_resync(wk_dbc *c, wk_req *r)
{
    if (wk_acl_rebuild(c, r, 0, NULL) < 0) {
        wk_fail_internal(c, r);
        return;
    }
    wk_reply(r, 200, NULL);
}
