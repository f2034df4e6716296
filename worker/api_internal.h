/*
 * api_internal.h — what the API's files share (api.c routes and serves;
 * api_auth.c, api_workspaces.c, api_rooms.c, api_cards.c and
 * api_versions.c handle; api_acl.c keeps the gateways' room access lists;
 * api_state.c publishes and folds room state). Not for other modules: they
 * use api.h.
 *
 * Threads: a request is parsed and authenticated on the loop thread, then
 * its handler runs on a database thread (db.h) with the request's wk_req,
 * which it may read and whose output fields it fills. Handlers never touch
 * evhtp, and the loop thread never touches the output fields before the
 * job is done.
 */
#ifndef CHORUS_WK_API_INTERNAL_H
#define CHORUS_WK_API_INTERNAL_H

#include <stddef.h>

#include <evhtp/evhtp.h>
#include <jansson.h>

#include "api.h"
#include "app.h"
#include "core_roles.h"
#include "core_snapcache.h"
#include "db.h"
#include "jwt_auth.h"
#include "protocol.h"

#define WK_API_PREFIX      "/api/v1/"
#define WK_API_MAX_PARAMS  3
#define WK_PARAM_MAX       CH_ROOM_MAX
#define WK_STREAM_WINDOW   "10000"   /* room stream MAXLEN, as the gateways' default */
#define WK_DEDUP_SECONDS   "600"     /* publish dedup window, as the gateways' default */
#define WK_API_SESSION     "api"     /* "session" of events published through the API */

#define WK_SCRIPT_PUBLISH  0         /* index of publish.lua in the pool's scripts */
#define WK_SCRIPT_ROOM_INIT 1        /* index of wk_lua_room_init (api_state.c) */

/* Lua: a room's current epoch and seq, starting its epoch like join.lua
 * does when the room has no meta yet (api_state.c has the header). */
extern const char wk_lua_room_init[];

typedef struct wk_req wk_req;
typedef struct wk_api wk_api;

/* A handler: runs on a database thread, fills r's output (wk_reply / wk_fail). */
typedef void (*wk_handler)(wk_dbc *c, wk_req *r);

typedef struct {
    htp_method method;
    const char *pattern;     /* below /api/v1/, ':' segments capture, e.g. "rooms/:room" */
    wk_handler fn;           /* runs on a database thread */
    int auth;                /* 1: Authorization: Bearer <access token> required */
    int body;                /* 1: the body is parsed as a JSON object */
    const char *label;       /* metrics label, e.g. "POST /workspaces/{id}" */
} wk_route;

/* State shared by the whole API; read-only after wk_api_start except where
 * noted. */
struct wk_api {
    wk_app *app;
    const wk_config *cfg;
    wk_db *db;
    ch_jwt_config verify;            /* access-token verification (the gateways' rules) */
    char *verify_key;                /* RS/ES public PEM derived from the signing key; owned */
    char dummy_hash[192];            /* argon2id of a random secret: unknown users cost the same */
    struct event *resync_ev;         /* retries the start-up access-list resync */
    int resync_delay_ms;
    int resync_done;                 /* loop thread only */
    int resync_running;              /* loop thread only */
    struct wk_api_metrics *metrics;  /* loop thread only */
    wk_snapcache *snapcache;         /* room states for GET snapshot (any thread; NULL: none) */
    evhtp_callback_t *cb;            /* our route on app->htp */
};

/* One HTTP request. Created in the headers hook, freed when both the reply
 * is done (or was never needed) and evhtp has finished with the request. */
struct wk_req {
    /* --- input: set on the loop thread, read-only on the database thread */
    struct wk_api *api;
    const wk_route *route;
    int route_index;
    char params[WK_API_MAX_PARAMS][WK_PARAM_MAX + 1];   /* path captures, decoded */
    char *query;                 /* raw query string, owned, or NULL */
    json_t *body;                /* parsed JSON object, owned, or NULL */
    long long uid;               /* authenticated user id; 0 on public routes */
    char uname[CH_JWT_SUB_MAX + 1];  /* display name from the token */
    char addr[64];               /* client address (X-Forwarded-For first hop, else peer) */

    /* --- output: set on the database thread */
    int status;
    json_t *out;                 /* response body, owned, or NULL for none */
    char *text;                  /* out serialized on the database thread, or the
                                    head of a raw reply; malloc'd */
    size_t text_len;
    wk_blob *blob;               /* raw reply: sent after text, then tail; one reference */
    const char *tail;            /* raw reply: static text sent last, or NULL */
    int retry_after;             /* seconds for Retry-After, 0 = none */

    /* --- loop thread bookkeeping */
    evhtp_request_t *req;        /* NULL once evhtp has freed the request */
    long long t0_us;             /* when the headers arrived (monotonic) */
    size_t body_seen;            /* body bytes received */
    int too_large;               /* body over max_body: answered 413 */
    int queued;                  /* a database job holds this request */
    char origin[256];            /* allowed Origin to echo in CORS headers, or "" */
};

/* --- replies (database thread, inside a handler) ------------------------- */

/* Sets the answer; body is stolen (NULL for an empty body, e.g. 204). */
void wk_reply(wk_req *r, int status, json_t *body);
/* As wk_reply for a body that must be there (stolen): NULL, as json_pack
 * returns when out of memory, answers 500 instead. */
void wk_reply_json(wk_req *r, int status, json_t *body);
/* Sets an answer of ready JSON text: head (malloc'd, stolen), then blob
 * (a reference, stolen; sent without a copy), then tail (static). */
void wk_reply_raw(wk_req *r, int status, char *head, size_t head_len, wk_blob *blob,
                  const char *tail);
/* {"error": code, "message": message, "field"?: field}. */
void wk_fail(wk_req *r, int status, const char *code, const char *message, const char *field);
/* 400 invalid for field. */
void wk_invalid(wk_req *r, const char *field, const char *message);
/* After a failed wk_sql / wk_redis: 503 if a connection was lost, else 500. */
void wk_fail_internal(wk_dbc *c, wk_req *r);

/* --- request input (database thread) ------------------------------------- */

/* A string field of the body: 1 and *out (len in *len if given) when it is
 * a string; 0 when absent (or JSON null); -1 when present with another type
 * (400 already set). */
int wk_body_str(wk_req *r, const char *field, const char **out, size_t *len);
/* A required string field: 0 and *out, or -1 (400 set). */
int wk_body_str_req(wk_req *r, const char *field, const char **out, size_t *len);
/* An integer field: 1 and *out, 0 absent, -1 wrong type (400 set). */
int wk_body_int(wk_req *r, const char *field, long long *out);
/* A query parameter that must be an integer in [min, max]: 1 and *out,
 * 0 absent, -1 invalid (400 set). */
int wk_query_int(wk_req *r, const char *key, long long min, long long max, long long *out);
/* A query parameter as text (percent-decoded, at most n-1 bytes): 1, or 0
 * if absent or too long. */
int wk_query_str(wk_req *r, const char *key, char *out, size_t n);
/* 1 if the query string has the parameter key (with a value or not). */
int wk_query_has(wk_req *r, const char *key);

/* --- shared lookups (database thread) ------------------------------------ */

/* The caller's role in workspace ws: WK_ROLE_NONE if not a member.
 * -1 on a database error (reply set). */
int wk_member_role(wk_dbc *c, wk_req *r, long long ws, wk_role *role);

/* A room row and the caller's role in its workspace. */
typedef struct {
    char id[CH_ROOM_MAX + 1];
    long long workspace;
    char kind[16];
    int archived;
    wk_role role;
} wk_room;

/* Loads room id and checks the caller may perform act there: 0, or -1 with
 * the reply set (400 bad id, 404 unknown, 403 not a member / not allowed,
 * 409 archived when act is WK_ACT_WRITE). */
int wk_room_access(wk_dbc *c, wk_req *r, const char *id, wk_action act, wk_room *out);

/* Loads workspace ws (path parameter text) and checks the caller may
 * perform act: 0 and *ws_id / *role, or -1 with the reply set. */
int wk_workspace_access(wk_dbc *c, wk_req *r, const char *param, wk_action act,
                        long long *ws_id, wk_role *role);

/* A user as JSON from a row (id, username, display_name, created_at). */
json_t *wk_user_json(PGresult *res, int row, int col0);

/* A room row as JSON; columns: id, workspace_id, kind, name, created_by,
 * created_at, archived, description. */
#define WK_ROOM_COLUMNS "r.id, r.workspace_id, r.kind, r.name, r.created_by, " \
    "to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), r.archived, " \
    "coalesce(b.description, '')"
json_t *wk_room_json(PGresult *res, int row);

/* SQL for an ISO-8601 UTC timestamp of column col. */
#define WK_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* --- access lists (api_acl.c, database thread) ---------------------------- */

/* Rebuilds from PostgreSQL (as this connection sees it, so inside the
 * caller's transaction) the access list of room, or of every room of
 * workspace ws when room is NULL, or of every room when ws <= 0 too:
 * DEL + HSET of every member in one MULTI per room; archived rooms lose
 * theirs. 0, or -1. */
int wk_acl_rebuild(wk_dbc *c, wk_req *r, long long ws, const char *room);

/* Cuts the live memberships of users[0..nusers) (user ids as text) in
 * each of rooms[0..nrooms) with a kick on the room channel carrying
 * message; with drop, DELs those rooms' access lists first. 0, or -1. */
int wk_acl_kick(wk_dbc *c, wk_req *r, const char *const *rooms, int nrooms,
                const char *const *users, int nusers, const char *message, int drop);

/* --- publishing and state (api_state.c, database thread) ----------------- */

typedef struct {
    long long seq, epoch;
    int duplicate;
} wk_published;

/* Publishes one durable event in room rm (loaded by wk_room_access, so
 * rm->role is the caller's) through publish.lua, exactly as a gateway
 * would (author = uid, session "api"), after checking the event rules of
 * common/policy.h. payload is JSON text. A cid accepted within the dedup
 * window answers its original seq with duplicate set, whatever the role is
 * now. 0, or -1 with the reply set (403 when the role is too low or the
 * room's access list no longer holds the caller, 503). */
int wk_publish(wk_dbc *c, wk_req *r, const wk_room *rm, const char *kind, const char *cid,
               const char *payload, size_t payload_len, wk_published *out);

/* The room's current epoch and seq in Redis, starting its epoch (as
 * join.lua would) if it has none. 0, or -1 with the reply set. */
int wk_room_epoch(wk_dbc *c, wk_req *r, const char *room, long long *epoch, long long *seq);

/* A wire-format event object from a row with the columns seq, ts (ms),
 * author, type, cid, payload (text). New reference, NULL if out of memory. */
json_t *wk_event_from_row(PGresult *res, int row, const char *room, long long epoch);

/* --- rooms (api_rooms.c, database thread) --------------------------------- */

/* BEGIN, then lock workspace ws's row (serializes membership and room
 * changes of a workspace). 0, or -1 with the reply set (404 if gone). */
int wk_ws_lock(wk_dbc *c, wk_req *r, long long ws);

/* Inside the caller's transaction, with the workspace locked: creates a
 * room (and its boards row for kind "board") and its access list. The
 * room's JSON, or NULL with the reply set. */
json_t *wk_room_create(wk_dbc *c, wk_req *r, long long ws, const char *kind, const char *name,
                       const char *description);

/* A fresh cid "api-<16 hex>" (random). */
void wk_cid_new(char out[32]);

/* The current state of a room: latest snapshot of the room's current epoch
 * (Redis meta epoch, else the newest in PostgreSQL), plus every later event
 * from PostgreSQL, plus later ones from the Redis stream. Returns the state
 * (owned by the caller; its "seq" is the last event folded) and *epoch, or
 * NULL with the reply set. */
json_t *wk_state_load(wk_dbc *c, wk_req *r, const char *room, const char *kind,
                      long long *epoch);

/* The current state of a room as JSON text (sorted keys; json_out.h), for
 * GET /rooms/{room}/snapshot: as wk_state_load, through the API's snapshot
 * cache (core_snapcache.h) keyed by the room's current epoch and seq in
 * Redis. When the cache has nothing recent enough, a build starts from the
 * cached state or text of an older seq of the epoch, else from the newest
 * snapshot row, which is sent as stored when it is already at the current
 * seq. *blob is a reference for the caller, with *epoch and *seq (the
 * state's "seq"). 0, or -1 with the reply set. */
int wk_state_text(wk_dbc *c, wk_req *r, const char *room, const char *kind, long long *epoch,
                  long long *seq, wk_blob **blob);

/* The room's state as of seq upto (LLONG_MAX: as far as the history goes)
 * in epoch: the newest snapshot row of that epoch at or below upto (else
 * the empty state), the persisted events after it up to upto, then the
 * Redis stream's. The state's "seq" is the last event folded: below upto
 * when the history stops short of it. Owned by the caller; NULL with the
 * reply set. */
json_t *wk_state_at(wk_dbc *c, wk_req *r, const char *room, const char *kind, long long epoch,
                    long long upto);

/* Folds the Redis stream's events after the state's seq, up to and
 * including upto (LLONG_MAX: all of them), into state. When watch > 0,
 * *watch_rc receives wk_reduce's result for the event with that seq (-2 if
 * it was not seen). 0, or -1 with the reply set. */
int wk_state_advance(wk_dbc *c, wk_req *r, const char *room, const char *kind, json_t *state,
                     long long epoch, long long upto, long long watch, int *watch_rc);

/* --- handlers -------------------------------------------------------------- */

void wk_h_register(wk_dbc *c, wk_req *r);
void wk_h_login(wk_dbc *c, wk_req *r);
void wk_h_refresh(wk_dbc *c, wk_req *r);
void wk_h_logout(wk_dbc *c, wk_req *r);
void wk_h_me(wk_dbc *c, wk_req *r);

void wk_h_ws_create(wk_dbc *c, wk_req *r);
void wk_h_ws_list(wk_dbc *c, wk_req *r);
void wk_h_ws_get(wk_dbc *c, wk_req *r);
void wk_h_ws_update(wk_dbc *c, wk_req *r);
void wk_h_ws_delete(wk_dbc *c, wk_req *r);
void wk_h_members_list(wk_dbc *c, wk_req *r);
void wk_h_member_add(wk_dbc *c, wk_req *r);
void wk_h_member_update(wk_dbc *c, wk_req *r);
void wk_h_member_remove(wk_dbc *c, wk_req *r);
void wk_h_unread(wk_dbc *c, wk_req *r);

void wk_h_rooms_list(wk_dbc *c, wk_req *r);
void wk_h_room_create(wk_dbc *c, wk_req *r);
void wk_h_boards_list(wk_dbc *c, wk_req *r);
void wk_h_board_create(wk_dbc *c, wk_req *r);
void wk_h_room_get(wk_dbc *c, wk_req *r);
void wk_h_room_update(wk_dbc *c, wk_req *r);
void wk_h_room_delete(wk_dbc *c, wk_req *r);
void wk_h_board_get(wk_dbc *c, wk_req *r);
void wk_h_board_update(wk_dbc *c, wk_req *r);
void wk_h_board_delete(wk_dbc *c, wk_req *r);
void wk_h_events_list(wk_dbc *c, wk_req *r);
void wk_h_events_publish(wk_dbc *c, wk_req *r);
void wk_h_snapshot(wk_dbc *c, wk_req *r);
void wk_h_read_marker(wk_dbc *c, wk_req *r);

void wk_h_versions_list(wk_dbc *c, wk_req *r);
void wk_h_version_create(wk_dbc *c, wk_req *r);
void wk_h_version_get(wk_dbc *c, wk_req *r);
void wk_h_version_delete(wk_dbc *c, wk_req *r);

void wk_h_cards_list(wk_dbc *c, wk_req *r);
void wk_h_card_create(wk_dbc *c, wk_req *r);
void wk_h_card_get(wk_dbc *c, wk_req *r);
void wk_h_card_update(wk_dbc *c, wk_req *r);
void wk_h_card_delete(wk_dbc *c, wk_req *r);
void wk_h_card_assign(wk_dbc *c, wk_req *r);
void wk_h_card_unassign(wk_dbc *c, wk_req *r);
void wk_h_card_unassign_path(wk_dbc *c, wk_req *r);

/* Start-up resync job (api_acl.c). */
void wk_h_acl_resync(wk_dbc *c, wk_req *r);

#endif
