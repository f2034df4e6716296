/*
 * api.c — the HTTP side of the API: routing, authentication, CORS, body
 * limits, JSON errors, hand-off to the database threads, replies and
 * metrics; plus the helpers handlers share (replies, input, access checks).
 *
 * Request life cycle (one wk_req per request):
 *
 *   headers hook ── wk_req created, Content-Length checked, body hooks set
 *   body hook ───── counts bytes; past max_body they are dropped (413 later)
 *   route cb ────── CORS / preflight, route match (404/405), bearer token
 *                   (401), JSON body (400), then pause + queue (503 if full)
 *   database ────── handler fills status + body (another thread)
 *   job done ────── reply, resume, metrics
 *   fini hook ───── evhtp frees the request
 *
 * Ownership: the wk_req is freed by whichever of "job done" and "fini
 * hook" comes last (queued says whether a job still holds it; req is NULL
 * once evhtp freed the request). A cancelled job (shutdown) detaches the
 * hooks from a still-live request before freeing the wk_req.
 */
#include "clock.h"
#include "lua_scripts.h"
#include "api_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/rand.h>

#include "core_password.h"
#include "core_token.h"
#include "core_validate.h"
#include "json_out.h"
#include "log.h"

#define QUEUE_PER_THREAD 64
#define MAX_SEGMENTS     8
#define RESYNC_MIN_MS    500
#define RESYNC_MAX_MS    10000
#define SEG_RAW_MAX      (WK_PARAM_MAX * 3)   /* a segment before %XX decoding */
#define DRAIN_SLACK      (1u << 20)   /* bytes past max_body read and dropped before cutting */
#define OOM_BODY         "{\"error\":\"internal\",\"message\":\"out of memory\"}"


/* ------------------------------------------------------------ routes */

static const wk_route routes[] = {
    { htp_method_POST, "auth/register", wk_h_register, 0, 1, "POST /auth/register" },
    { htp_method_POST, "auth/login", wk_h_login, 0, 1, "POST /auth/login" },
    { htp_method_POST, "auth/refresh", wk_h_refresh, 0, 1, "POST /auth/refresh" },
    { htp_method_POST, "auth/logout", wk_h_logout, 0, 1, "POST /auth/logout" },
    { htp_method_GET, "auth/me", wk_h_me, 1, 0, "GET /auth/me" },

    { htp_method_POST, "workspaces", wk_h_ws_create, 1, 1, "POST /workspaces" },
    { htp_method_GET, "workspaces", wk_h_ws_list, 1, 0, "GET /workspaces" },
    { htp_method_GET, "workspaces/:id", wk_h_ws_get, 1, 0, "GET /workspaces/{id}" },
    { htp_method_PATCH, "workspaces/:id", wk_h_ws_update, 1, 1, "PATCH /workspaces/{id}" },
    { htp_method_DELETE, "workspaces/:id", wk_h_ws_delete, 1, 0, "DELETE /workspaces/{id}" },
    { htp_method_GET, "workspaces/:id/members", wk_h_members_list, 1, 0,
      "GET /workspaces/{id}/members" },
    { htp_method_POST, "workspaces/:id/members", wk_h_member_add, 1, 1,
      "POST /workspaces/{id}/members" },
    { htp_method_PATCH, "workspaces/:id/members/:uid", wk_h_member_update, 1, 1,
      "PATCH /workspaces/{id}/members/{user}" },
    { htp_method_DELETE, "workspaces/:id/members/:uid", wk_h_member_remove, 1, 0,
      "DELETE /workspaces/{id}/members/{user}" },
    { htp_method_GET, "workspaces/:id/unread", wk_h_unread, 1, 0, "GET /workspaces/{id}/unread" },
    { htp_method_GET, "workspaces/:id/rooms", wk_h_rooms_list, 1, 0, "GET /workspaces/{id}/rooms" },
    { htp_method_POST, "workspaces/:id/rooms", wk_h_room_create, 1, 1,
      "POST /workspaces/{id}/rooms" },
    { htp_method_GET, "workspaces/:id/boards", wk_h_boards_list, 1, 0,
      "GET /workspaces/{id}/boards" },
    { htp_method_POST, "workspaces/:id/boards", wk_h_board_create, 1, 1,
      "POST /workspaces/{id}/boards" },

    { htp_method_GET, "rooms/:room", wk_h_room_get, 1, 0, "GET /rooms/{room}" },
    { htp_method_PATCH, "rooms/:room", wk_h_room_update, 1, 1, "PATCH /rooms/{room}" },
    { htp_method_DELETE, "rooms/:room", wk_h_room_delete, 1, 0, "DELETE /rooms/{room}" },
    { htp_method_GET, "rooms/:room/events", wk_h_events_list, 1, 0, "GET /rooms/{room}/events" },
    { htp_method_POST, "rooms/:room/events", wk_h_events_publish, 1, 1,
      "POST /rooms/{room}/events" },
    { htp_method_GET, "rooms/:room/snapshot", wk_h_snapshot, 1, 0, "GET /rooms/{room}/snapshot" },
    { htp_method_PUT, "rooms/:room/read", wk_h_read_marker, 1, 1, "PUT /rooms/{room}/read" },
    { htp_method_GET, "rooms/:room/versions", wk_h_versions_list, 1, 0, "GET /rooms/{room}/versions" },
    { htp_method_POST, "rooms/:room/versions", wk_h_version_create, 1, 1,
      "POST /rooms/{room}/versions" },
    { htp_method_GET, "rooms/:room/versions/:id", wk_h_version_get, 1, 0,
      "GET /rooms/{room}/versions/{id}" },
    { htp_method_DELETE, "rooms/:room/versions/:id", wk_h_version_delete, 1, 0,
      "DELETE /rooms/{room}/versions/{id}" },

    { htp_method_GET, "boards/:room", wk_h_board_get, 1, 0, "GET /boards/{room}" },
    { htp_method_PATCH, "boards/:room", wk_h_board_update, 1, 1, "PATCH /boards/{room}" },
    { htp_method_DELETE, "boards/:room", wk_h_board_delete, 1, 0, "DELETE /boards/{room}" },
    { htp_method_GET, "boards/:room/cards", wk_h_cards_list, 1, 0, "GET /boards/{room}/cards" },
    { htp_method_POST, "boards/:room/cards", wk_h_card_create, 1, 1, "POST /boards/{room}/cards" },
    { htp_method_GET, "boards/:room/cards/:card", wk_h_card_get, 1, 0,
      "GET /boards/{room}/cards/{card}" },
    { htp_method_PATCH, "boards/:room/cards/:card", wk_h_card_update, 1, 1,
      "PATCH /boards/{room}/cards/{card}" },
    { htp_method_DELETE, "boards/:room/cards/:card", wk_h_card_delete, 1, 0,
      "DELETE /boards/{room}/cards/{card}" },
    { htp_method_POST, "boards/:room/cards/:card/assign", wk_h_card_assign, 1, 1,
      "POST /boards/{room}/cards/{card}/assign" },
    { htp_method_POST, "boards/:room/cards/:card/unassign", wk_h_card_unassign, 1, 1,
      "POST /boards/{room}/cards/{card}/unassign" },
    { htp_method_DELETE, "boards/:room/cards/:card/assign/:user", wk_h_card_unassign_path, 1, 0,
      "DELETE /boards/{room}/cards/{card}/assign/{user}" },
};
#define NROUTES ((int)(sizeof(routes) / sizeof(routes[0])))
#define ROUTE_OTHER NROUTES   /* metrics slot of unmatched requests */

/* ------------------------------------------------------------ metrics */

#define NBUCKETS 12
static const double bucket_s[NBUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25, 0.5, 1, 2.5, 5 };

typedef struct {
    unsigned long long buckets[NBUCKETS];   /* cumulative at output time, not here */
    unsigned long long count;
    double sum;
} route_hist;

struct wk_api_metrics {
    route_hist hist[NROUTES + 1];
    unsigned long long by_class[6];         /* index = status / 100 */
    unsigned long long errors;              /* 5xx answers */
};

static void
metrics_observe(wk_api *api, int route, int status, long long us)
{
    struct wk_api_metrics *m = api->metrics;
    route_hist *h = &m->hist[route < 0 || route > NROUTES ? ROUTE_OTHER : route];
    double s = (double)us / 1e6;

    for (int i = 0; i < NBUCKETS; i++)
        if (s <= bucket_s[i]) { h->buckets[i]++; break; }
    h->count++;
    h->sum += s;
    if (status >= 100 && status < 600) m->by_class[status / 100]++;
    if (status >= 500) m->errors++;
}

void
wk_api_metrics(struct wk_api *api, ch_buf *out)
{
    struct wk_api_metrics *m;

    if (!api) return;
    m = api->metrics;
    ch_buf_puts(out, "# HELP chorus_api_request_duration_seconds API request latency by route.\n"
                     "# TYPE chorus_api_request_duration_seconds histogram\n");
    for (int r = 0; r <= NROUTES; r++) {
        const route_hist *h = &m->hist[r];
        const char *label = r == ROUTE_OTHER ? "other" : routes[r].label;
        unsigned long long cum = 0;
        if (h->count == 0) continue;
        for (int i = 0; i < NBUCKETS; i++) {
            cum += h->buckets[i];
            ch_buf_printf(out, "chorus_api_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                          label, bucket_s[i], cum);
        }
        ch_buf_printf(out, "chorus_api_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                      label, h->count);
        ch_buf_printf(out, "chorus_api_request_duration_seconds_sum{route=\"%s\"} %.6f\n", label, h->sum);
        ch_buf_printf(out, "chorus_api_request_duration_seconds_count{route=\"%s\"} %llu\n", label,
                      h->count);
    }
    ch_buf_puts(out, "# HELP chorus_api_requests_total API answers by status class.\n"
                     "# TYPE chorus_api_requests_total counter\n");
    for (int c = 1; c <= 5; c++)
        ch_buf_printf(out, "chorus_api_requests_total{class=\"%dxx\"} %llu\n", c, m->by_class[c]);
    ch_buf_printf(out, "# HELP chorus_api_errors_total API answers with a 5xx status.\n"
                       "# TYPE chorus_api_errors_total counter\n"
                       "chorus_api_errors_total %llu\n", m->errors);
    ch_buf_printf(out, "# HELP chorus_api_queue_depth API jobs queued or running on database threads.\n"
                       "# TYPE chorus_api_queue_depth gauge\n"
                       "chorus_api_queue_depth %d\n", wk_db_depth(api->db));
    ch_buf_printf(out, "# HELP chorus_api_queue_rejected_total API requests refused with 503 (queue full).\n"
                       "# TYPE chorus_api_queue_rejected_total counter\n"
                       "chorus_api_queue_rejected_total %llu\n", wk_db_rejected(api->db));
    wk_snapcache_metrics(api->snapcache, out);
}

/* ------------------------------------------------------------ replies (any thread) */

/* Forgets any answer set before. */
static void
reply_clear(wk_req *r)
{
    json_decref(r->out);
    r->out = NULL;
    free(r->text);
    r->text = NULL;
    r->text_len = 0;
    wk_blob_unref(r->blob);
    r->blob = NULL;
    r->tail = NULL;
}

void
wk_reply(wk_req *r, int status, json_t *body)
{
    reply_clear(r);
    r->status = status;
    r->out = body;
}

void
wk_reply_json(wk_req *r, int status, json_t *body)
{
    if (!body) {
        wk_fail(r, 500, "internal", "out of memory", NULL);
        return;
    }
    wk_reply(r, status, body);
}

void
wk_reply_raw(wk_req *r, int status, char *head, size_t head_len, wk_blob *blob, const char *tail)
{
    reply_clear(r);
    r->status = status;
    r->text = head;
    r->text_len = head_len;
    r->blob = blob;
    r->tail = tail;
}

void
wk_fail(wk_req *r, int status, const char *code, const char *message, const char *field)
{
    json_t *o = json_pack("{s:s, s:s}", "error", code, "message", message);
    if (o && field) json_object_set_new(o, "field", json_string(field));
    wk_reply(r, status, o);
}

void
wk_invalid(wk_req *r, const char *field, const char *message)
{
    wk_fail(r, 400, "invalid", message, field);
}

void
wk_fail_internal(wk_dbc *c, wk_req *r)
{
    if (c->lost)
        wk_fail(r, 503, "unavailable", "the database or Redis is unreachable; retry", NULL);
    else
        wk_fail(r, 500, "internal", "internal error", NULL);
}

/* ------------------------------------------------------------ input helpers */

int
wk_body_str(wk_req *r, const char *field, const char **out, size_t *len)
{
    json_t *v = r->body ? json_object_get(r->body, field) : NULL;
    char msg[96];

    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        snprintf(msg, sizeof(msg), "%s must be a string", field);
        wk_invalid(r, field, msg);
        return -1;
    }
    *out = json_string_value(v);
    if (len) *len = json_string_length(v);
    return 1;
}

int
wk_body_str_req(wk_req *r, const char *field, const char **out, size_t *len)
{
    char msg[96];
    int rc = wk_body_str(r, field, out, len);

    if (rc < 0) return -1;
    if (rc == 0) {
        snprintf(msg, sizeof(msg), "%s is required", field);
        wk_invalid(r, field, msg);
        return -1;
    }
    return 0;
}

int
wk_body_int(wk_req *r, const char *field, long long *out)
{
    json_t *v = r->body ? json_object_get(r->body, field) : NULL;
    char msg[96];

    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == (double)(long long)d && d > -9007199254740992.0 && d < 9007199254740992.0) {
            *out = (long long)d;
            return 1;
        }
    }
    snprintf(msg, sizeof(msg), "%s must be an integer", field);
    wk_invalid(r, field, msg);
    return -1;
}

int
wk_query_int(wk_req *r, const char *key, long long min, long long max, long long *out)
{
    const char *q = r->query;
    size_t klen = strlen(key);
    char msg[96];

    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
            const char *v = q + klen + 1;
            size_t vn = n - klen - 1;
            char buf[24];
            char *end;
            long long x;
            if (vn == 0 || vn >= sizeof(buf)) goto bad;
            memcpy(buf, v, vn);
            buf[vn] = '\0';
            x = strtoll(buf, &end, 10);
            if (*end || x < min || x > max) goto bad;
            *out = x;
            return 1;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
bad:
    snprintf(msg, sizeof(msg), "%s must be an integer from %lld to %lld", key, min, max);
    wk_invalid(r, key, msg);
    return -1;
}

static int hexval(char c);

/* The raw (still encoded) value of query parameter key: 1 with *v, *vlen
 * ("" for a bare "key"), or 0 if absent. */
static int
query_find(const wk_req *r, const char *key, const char **v, size_t *vlen)
{
    const char *q = r->query;
    size_t klen = strlen(key);

    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len >= klen && strncmp(q, key, klen) == 0 && (len == klen || q[klen] == '=')) {
            *v = q + klen + (len > klen);
            *vlen = len - klen - (len > klen);
            return 1;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

int
wk_query_has(wk_req *r, const char *key)
{
    const char *v;
    size_t vlen;
    return query_find(r, key, &v, &vlen);
}

int
wk_query_str(wk_req *r, const char *key, char *out, size_t n)
{
    const char *v, *end;
    size_t vlen, o = 0;

    if (!query_find(r, key, &v, &vlen)) return 0;
    for (end = v + vlen; v < end; v++) {
        char ch = *v;
        if (ch == '+') ch = ' ';
        else if (ch == '%' && end - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
            ch = (char)(hexval(v[1]) << 4 | hexval(v[2]));
            v += 2;
        }
        if (o + 1 >= n || ch == '\0') return 0;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 1;
}

/* ------------------------------------------------------------ shared lookups */

int
wk_member_role(wk_dbc *c, wk_req *r, long long ws, wk_role *role)
{
    char wsb[24], ub[24];
    const char *p[2] = { wsb, ub };
    PGresult *res;

    snprintf(wsb, sizeof(wsb), "%lld", ws);
    snprintf(ub, sizeof(ub), "%lld", r->uid);
    res = wk_sql(c, "SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2",
                 2, p);
    if (!res) {
        wk_fail_internal(c, r);
        return -1;
    }
    *role = PQntuples(res) ? wk_role_parse(PQgetvalue(res, 0, 0)) : WK_ROLE_NONE;
    PQclear(res);
    return 0;
}

int
wk_workspace_access(wk_dbc *c, wk_req *r, const char *param, wk_action act, long long *ws_id,
                    wk_role *role)
{
    char ub[24];
    PGresult *res;

    if (!wk_parse_id(param, strlen(param), ws_id)) {
        wk_fail(r, 404, "not_found", "no such workspace", NULL);
        return -1;
    }
    snprintf(ub, sizeof(ub), "%lld", r->uid);
    const char *p[2] = { param, ub };
    res = wk_sql(c, "SELECT m.role FROM workspaces w LEFT JOIN workspace_members m "
                    "ON m.workspace_id = w.id AND m.user_id = $2 WHERE w.id = $1", 2, p);
    if (!res) {
        wk_fail_internal(c, r);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        wk_fail(r, 404, "not_found", "no such workspace", NULL);
        return -1;
    }
    *role = PQgetisnull(res, 0, 0) ? WK_ROLE_NONE : wk_role_parse(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (*role == WK_ROLE_NONE) {
        wk_fail(r, 403, "forbidden", "you are not a member of this workspace", NULL);
        return -1;
    }
    if (!wk_role_can(*role, act)) {
        wk_fail(r, 403, "forbidden", "your role does not allow this", NULL);
        return -1;
    }
    return 0;
}

int
wk_room_access(wk_dbc *c, wk_req *r, const char *id, wk_action act, wk_room *out)
{
    char ub[24];
    PGresult *res;
    size_t n = strlen(id);

    if (!ch_room_valid(id, n)) {
        wk_fail(r, 404, "not_found", "no such room", NULL);
        return -1;
    }
    snprintf(ub, sizeof(ub), "%lld", r->uid);
    const char *p[2] = { id, ub };
    res = wk_sql(c, "SELECT r.workspace_id, r.kind, r.archived, m.role FROM rooms r "
                    "LEFT JOIN workspace_members m ON m.workspace_id = r.workspace_id "
                    "AND m.user_id = $2 WHERE r.id = $1", 2, p);
    if (!res) {
        wk_fail_internal(c, r);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        wk_fail(r, 404, "not_found", "no such room", NULL);
        return -1;
    }
    snprintf(out->id, sizeof(out->id), "%s", id);
    out->workspace = atoll(PQgetvalue(res, 0, 0));
    snprintf(out->kind, sizeof(out->kind), "%s", PQgetvalue(res, 0, 1));
    out->archived = PQgetvalue(res, 0, 2)[0] == 't';
    out->role = PQgetisnull(res, 0, 3) ? WK_ROLE_NONE : wk_role_parse(PQgetvalue(res, 0, 3));
    PQclear(res);
    if (out->role == WK_ROLE_NONE) {
        wk_fail(r, 403, "forbidden", "you are not a member of this room's workspace", NULL);
        return -1;
    }
    if (!wk_role_can(out->role, act)) {
        wk_fail(r, 403, "forbidden", "your role does not allow this", NULL);
        return -1;
    }
    if (out->archived && act == WK_ACT_WRITE) {
        wk_fail(r, 409, "archived", "the room is archived", NULL);
        return -1;
    }
    return 0;
}

json_t *
wk_user_json(PGresult *res, int row, int col0)
{
    return json_pack("{s:I, s:s, s:s, s:s}",
                     "id", (json_int_t)atoll(PQgetvalue(res, row, col0)),
                     "username", PQgetvalue(res, row, col0 + 1),
                     "display_name", PQgetvalue(res, row, col0 + 2),
                     "created_at", PQgetvalue(res, row, col0 + 3));
}

json_t *
wk_room_json(PGresult *res, int row)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:b}",
                          "id", PQgetvalue(res, row, 0),
                          "workspace_id", (json_int_t)atoll(PQgetvalue(res, row, 1)),
                          "kind", PQgetvalue(res, row, 2),
                          "name", PQgetvalue(res, row, 3),
                          "created_by", (json_int_t)atoll(PQgetvalue(res, row, 4)),
                          "created_at", PQgetvalue(res, row, 5),
                          "archived", PQgetvalue(res, row, 6)[0] == 't');
    if (o && strcmp(PQgetvalue(res, row, 2), "board") == 0)
        json_object_set_new(o, "description", json_string(PQgetvalue(res, row, 7)));
    return o;
}

/* ------------------------------------------------------------ request objects */

static void
req_free(wk_req *r)
{
    free(r->query);
    json_decref(r->body);
    json_decref(r->out);
    free(r->text);
    wk_blob_unref(r->blob);
    free(r);
}

static evhtp_res on_req_fini(evhtp_request_t *req, void *arg);
static evhtp_res on_req_body(evhtp_request_t *req, struct evbuffer *buf, void *arg);

static void
detach_hooks(wk_req *r)
{
    if (!r->req) return;
    evhtp_request_set_hook(r->req, evhtp_hook_on_request_fini, NULL, NULL);
    evhtp_request_set_hook(r->req, evhtp_hook_on_read, NULL, NULL);
    r->req = NULL;
}

static evhtp_res
on_req_fini(evhtp_request_t *req, void *arg)
{
    (void)req;
    wk_req *r = arg;
    r->req = NULL;
    if (!r->queued)
        req_free(r);
    return EVHTP_RES_OK;
}

static evhtp_res
on_req_body(evhtp_request_t *req, struct evbuffer *buf, void *arg)
{
    (void)req;
    wk_req *r = arg;
    size_t n = evbuffer_get_length(buf);
    size_t max = r->api->cfg->max_body;

    r->body_seen += n;
    if (r->too_large || r->body_seen > max) {
        r->too_large = 1;
        evbuffer_drain(buf, n);   /* never buffered: answered 413 at the end */
        if (r->body_seen > max + DRAIN_SLACK)
            return EVHTP_RES_DATA_TOO_LONG;   /* evhtp drops the connection */
    }
    return EVHTP_RES_OK;
}

static evhtp_res
on_req_headers(evhtp_request_t *req, evhtp_headers_t *hdrs, void *arg)
{
    wk_api *api = arg;
    wk_req *r = calloc(1, sizeof(*r));
    const char *cl;

    if (!r) return EVHTP_RES_ERROR;
    r->api = api;
    r->req = req;
    r->t0_us = ch_mono_us();
    r->route_index = ROUTE_OTHER;
    cl = evhtp_kv_find(hdrs, "Content-Length");
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (n > api->cfg->max_body) r->too_large = 1;
    }
    /* evhtp's own limit becomes the hard cut-off; up to it, on_req_body
     * drops the excess so the client gets a 413 rather than a reset. */
    evhtp_request_set_max_body_size(req, (uint64_t)api->cfg->max_body + DRAIN_SLACK);
    evhtp_request_set_hook(req, evhtp_hook_on_request_fini, (evhtp_hook)on_req_fini, r);
    evhtp_request_set_hook(req, evhtp_hook_on_read, (evhtp_hook)on_req_body, r);
    return EVHTP_RES_OK;
}

/* The wk_req the headers hook attached to req (NULL if none). */
static wk_req *
req_of(evhtp_request_t *req)
{
    evhtp_hooks_t *h = evhtp_request_get_hooks(req);
    if (!h || h->on_request_fini != (evhtp_hook_request_fini_cb)on_req_fini) return NULL;
    return h->on_request_fini_arg;
}

/* ------------------------------------------------------------ sending */

static void
add_header(evhtp_request_t *req, const char *k, const char *v)
{
    evhtp_headers_add_header(req->headers_out, evhtp_header_new(k, v, 0, 1));
}

static void
add_cors(wk_req *r)
{
    if (r->origin[0]) {
        add_header(r->req, "Access-Control-Allow-Origin", r->origin);
        add_header(r->req, "Vary", "Origin");
    }
}

/* evbuffer cleanup of a blob added by reference (whichever thread frees
 * the buffer). */
static void
on_blob_sent(const void *data, size_t len, void *arg)
{
    (void)data; (void)len;
    wk_blob_unref(arg);
}

/* Sends status with body (JSON text, may be NULL; for a raw reply followed
 * by r->blob and r->tail) and records metrics. A body that cannot be
 * buffered whole (out of memory) is not sent cut short: a 500 goes instead. */
static void
send_now(wk_req *r, int status, const char *body, size_t len, const char *allow)
{
    evhtp_request_t *req = r->req;
    char ra[24];
    int ok = 1;

    if (!req) return;
    if ((body && len) || r->blob)
        add_header(req, "Content-Type", "application/json");
    if (body && len)
        ok = evbuffer_add(req->buffer_out, body, len) == 0;
    if (r->blob) {
        /* The reply's reference goes to the buffer, released when sent
         * (or drained below). */
        wk_blob *b = r->blob;
        r->blob = NULL;
        if (!ok || evbuffer_add_reference(req->buffer_out, b->data, b->len, on_blob_sent, b) < 0) {
            wk_blob_unref(b);
            ok = 0;
        }
        if (ok && r->tail) ok = evbuffer_add(req->buffer_out, r->tail, strlen(r->tail)) == 0;
    }
    if (!ok) {
        evbuffer_drain(req->buffer_out, evbuffer_get_length(req->buffer_out));
        evbuffer_add(req->buffer_out, OOM_BODY, sizeof(OOM_BODY) - 1);
        status = 500;
    }
    add_header(req, "Cache-Control", "no-store");
    add_cors(r);
    if (r->retry_after > 0) {
        snprintf(ra, sizeof(ra), "%d", r->retry_after);
        add_header(req, "Retry-After", ra);
    }
    if (status == 401)
        add_header(req, "WWW-Authenticate", "Bearer");
    if (allow)
        add_header(req, "Allow", allow);
    evhtp_send_reply(req, (evhtp_res)status);
    metrics_observe(r->api, r->route_index, status, ch_mono_us() - r->t0_us);
}

/* Answers on the loop thread with {"error","message"}. */
static void
send_error(wk_req *r, int status, const char *code, const char *message, const char *allow)
{
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_printf(&b, "{\"error\":\"%s\",\"message\":", code);
    ch_buf_json_string(&b, message, strlen(message));
    ch_buf_puts(&b, "}");
    send_now(r, status, b.oom ? NULL : b.data, b.oom ? 0 : b.len, allow);
    ch_buf_free(&b);
}

/* ------------------------------------------------------------ jobs */

static void
job_run(wk_dbc *c, void *arg)
{
    wk_req *r = arg;

    r->route->fn(c, r);
    if (r->status == 0)
        wk_fail(r, 500, "internal", "no answer", NULL);
    if (r->out) {
        r->text = ch_json_dumps(r->out, 0, &r->text_len);
        if (!r->text) {
            r->status = 500;
            r->text = strdup(OOM_BODY);
            r->text_len = r->text ? strlen(r->text) : 0;
        }
        json_decref(r->out);
        r->out = NULL;
    }
}

static void
job_done(void *arg, int cancelled)
{
    wk_req *r = arg;

    r->queued = 0;
    if (cancelled) {
        detach_hooks(r);
        req_free(r);
        return;
    }
    if (!r->req) {               /* the client went away meanwhile */
        req_free(r);
        return;
    }
    /* Still held (queued) while sending, so a request evhtp frees inside
     * evhtp_send_reply cannot free r under us. */
    r->queued = 1;
    send_now(r, r->status, r->text, r->text_len, NULL);
    r->queued = 0;
    if (!r->req) {
        req_free(r);
        return;
    }
    evhtp_request_resume(r->req);
}

/* ------------------------------------------------------------ routing */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes of one path segment in place; 0, or -1 if the
 * result is empty, longer than WK_PARAM_MAX or holds a control character. */
static int
segment_decode(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (hi < 0 || lo < 0) return -1;
            ch = (unsigned char)(hi << 4 | lo);
            p += 2;
        }
        if (ch < 0x20 || ch == 0x7f) return -1;
        *o++ = (char)ch;
    }
    *o = '\0';
    return o == s || (size_t)(o - s) > WK_PARAM_MAX ? -1 : 0;
}

/* Matches the path below the prefix against one route pattern. */
static int
route_match(const wk_route *rt, char segs[][SEG_RAW_MAX + 1], int nseg, wk_req *r)
{
    char pat[128];
    char *save = NULL, *tok;
    int i = 0, np = 0;

    snprintf(pat, sizeof(pat), "%s", rt->pattern);
    for (tok = strtok_r(pat, "/", &save); tok; tok = strtok_r(NULL, "/", &save), i++) {
        if (i >= nseg) return 0;
        if (tok[0] == ':') {
            if (r) snprintf(r->params[np], sizeof(r->params[np]), "%s", segs[i]);
            np++;
        } else if (strcmp(tok, segs[i]) != 0) {
            return 0;
        }
    }
    return i == nseg;
}

static const char *
method_name(htp_method m)
{
    switch (m) {
    case htp_method_GET: return "GET";
    case htp_method_POST: return "POST";
    case htp_method_PUT: return "PUT";
    case htp_method_PATCH: return "PATCH";
    case htp_method_DELETE: return "DELETE";
    default: return "";
    }
}

/* 1 if origin is on the CORS allowlist. */
static int
origin_allowed(const char *list, const char *origin)
{
    size_t n = strlen(origin);
    const char *p = list;

    if (!list[0] || !n) return 0;
    if (strcmp(list, "*") == 0) return 1;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        if ((size_t)(t - p) == n && strncmp(p, origin, n) == 0) return 1;
        p = e;
    }
    return 0;
}

/* The client's address: the first X-Forwarded-For hop, else the peer. */
static void
client_addr(evhtp_request_t *req, char *out, size_t n)
{
    const char *xff = evhtp_kv_find(req->headers_in, "X-Forwarded-For");
    evhtp_connection_t *conn = evhtp_request_get_connection(req);

    snprintf(out, n, "unknown");
    if (xff) {
        while (*xff == ' ') xff++;
        size_t len = strcspn(xff, ", ");
        if (len > 0 && len < n) {
            memcpy(out, xff, len);
            out[len] = '\0';
            return;
        }
    }
    if (conn && conn->saddr) {
        if (conn->saddr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)conn->saddr)->sin_addr, out, (socklen_t)n);
        else if (conn->saddr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)conn->saddr)->sin6_addr, out, (socklen_t)n);
    }
}

static int
authenticate(wk_api *api, wk_req *r, evhtp_request_t *req)
{
    const char *h = evhtp_kv_find(req->headers_in, "Authorization");
    const char *reason = "missing bearer token";
    ch_jwt_claims cl;

    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ') h++;
        if (ch_jwt_verify(&api->verify, h, strlen(h), time(NULL), &cl, &reason) == 0) {
            if (wk_parse_id(cl.sub, strlen(cl.sub), &r->uid)) {
                snprintf(r->uname, sizeof(r->uname), "%s", cl.name);
                return 0;
            }
            reason = "token subject is not a user id";
        }
    }
    send_error(r, 401, "unauthorized", reason, NULL);
    return -1;
}

static void
on_api(evhtp_request_t *req, void *arg)
{
    wk_api *api = arg;
    wk_req *r = req_of(req);
    char path[1024];
    char segs[MAX_SEGMENTS][SEG_RAW_MAX + 1];
    int nseg = 0;
    const char *origin;
    htp_method m = evhtp_request_get_method(req);

    if (!r) {   /* the headers hook failed to allocate */
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    origin = evhtp_kv_find(req->headers_in, "Origin");
    if (origin && strlen(origin) < sizeof(r->origin) && origin_allowed(api->cfg->allowed_origins, origin))
        snprintf(r->origin, sizeof(r->origin), "%s", origin);

    if (r->too_large) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the body is larger than %zu bytes", api->cfg->max_body);
        send_error(r, 413, "too_large", msg, NULL);
        return;
    }

    /* Path below the prefix, split into decoded segments; a trailing
     * slash is accepted. */
    const char *full = req->uri && req->uri->path ? req->uri->path->full : "";
    if (strncmp(full, WK_API_PREFIX, strlen(WK_API_PREFIX)) != 0 ||
        strlen(full) >= sizeof(path)) {
        send_error(r, 404, "not_found", "no such endpoint", NULL);
        return;
    }
    snprintf(path, sizeof(path), "%s", full + strlen(WK_API_PREFIX));
    {
        char *save = NULL;
        for (char *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
            if (nseg == MAX_SEGMENTS || strlen(s) > SEG_RAW_MAX) { nseg = -1; break; }
            memcpy(segs[nseg], s, strlen(s) + 1);
            if (segment_decode(segs[nseg]) < 0) { nseg = -1; break; }
            nseg++;
        }
    }
    if (nseg <= 0) {
        send_error(r, 404, "not_found", "no such endpoint", NULL);
        return;
    }

    /* Route: exact method, else 405 listing the methods of that path. */
    const wk_route *rt = NULL;
    char allow[64] = "";
    for (int i = 0; i < NROUTES; i++) {
        if (!route_match(&routes[i], segs, nseg, NULL)) continue;
        if (routes[i].method == m) {
            rt = &routes[i];
            r->route_index = i;
            break;
        }
        if (!strstr(allow, method_name(routes[i].method))) {
            if (allow[0]) strncat(allow, ", ", sizeof(allow) - strlen(allow) - 1);
            strncat(allow, method_name(routes[i].method), sizeof(allow) - strlen(allow) - 1);
        }
    }
    if (m == htp_method_OPTIONS) {
        /* CORS preflight (or a plain OPTIONS): no auth, no body. */
        if (!allow[0] && !rt) {
            send_error(r, 404, "not_found", "no such endpoint", NULL);
            return;
        }
        if (r->origin[0]) {
            add_header(req, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
            add_header(req, "Access-Control-Allow-Headers", "Authorization, Content-Type");
            add_header(req, "Access-Control-Max-Age", "600");
        }
        send_now(r, 204, NULL, 0, allow[0] ? allow : NULL);
        return;
    }
    if (!rt) {
        if (allow[0]) send_error(r, 405, "method_not_allowed", "method not allowed here", allow);
        else send_error(r, 404, "not_found", "no such endpoint", NULL);
        return;
    }
    route_match(rt, segs, nseg, r);
    r->route = rt;

    if (rt->auth && authenticate(api, r, req) < 0)
        return;

    if (rt->body) {
        size_t n = evbuffer_get_length(req->buffer_in);
        json_error_t err;
        if (n == 0) {
            r->body = json_object();
        } else {
            const char *data = (const char *)evbuffer_pullup(req->buffer_in, (ssize_t)n);
            r->body = data ? json_loadb(data, n, JSON_REJECT_DUPLICATES, &err) : NULL;
            if (!r->body) {
                send_error(r, 400, "invalid", "the body is not valid JSON", NULL);
                return;
            }
        }
        if (!json_is_object(r->body)) {
            send_error(r, 400, "invalid", "the body must be a JSON object", NULL);
            return;
        }
    }
    if (req->uri->query_raw && req->uri->query_raw[0]) {
        r->query = strdup((const char *)req->uri->query_raw);
        if (!r->query) {
            send_error(r, 500, "internal", "out of memory", NULL);
            return;
        }
    }
    client_addr(req, r->addr, sizeof(r->addr));

    r->queued = 1;
    if (wk_db_submit(api->db, job_run, job_done, r) < 0) {
        r->queued = 0;
        r->retry_after = 1;
        send_error(r, 503, "unavailable", "the API is overloaded; retry", NULL);
        return;
    }
    evhtp_request_pause(req);
}

/* ------------------------------------------------------------ access-list resync */

static void resync_schedule(wk_api *api);

static void
resync_done(void *arg, int cancelled)
{
    wk_req *r = arg;
    wk_api *api = r->api;
    int ok = !cancelled && r->status == 200;

    req_free(r);
    if (cancelled) return;
    api->resync_running = 0;
    if (ok) {
        api->resync_done = 1;
        CH_INFO("api: room access lists resynced from PostgreSQL", NULL);
        return;
    }
    resync_schedule(api);
}

static void
on_resync_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    wk_api *api = arg;
    static const wk_route resync_route = { htp_method_POST, "", wk_h_acl_resync, 0, 0, "resync" };
    wk_req *r = calloc(1, sizeof(*r));

    if (!r) { resync_schedule(api); return; }
    r->api = api;
    r->route = &resync_route;
    r->route_index = ROUTE_OTHER;
    if (wk_db_submit(api->db, job_run, resync_done, r) < 0) {
        free(r);
        resync_schedule(api);
        return;
    }
    api->resync_running = 1;
}

static void
resync_schedule(wk_api *api)
{
    struct timeval tv;

    if (api->resync_delay_ms == 0) api->resync_delay_ms = RESYNC_MIN_MS;
    else if ((api->resync_delay_ms *= 2) > RESYNC_MAX_MS) api->resync_delay_ms = RESYNC_MAX_MS;
    tv.tv_sec = api->resync_delay_ms / 1000;
    tv.tv_usec = (api->resync_delay_ms % 1000) * 1000;
    evtimer_add(api->resync_ev, &tv);
}

/* ------------------------------------------------------------ lifecycle */

int
wk_api_start(struct wk_app *app)
{
    const wk_config *cfg = app->cfg;
    wk_api *api = calloc(1, sizeof(*api));
    wk_db_config dc;
    struct timeval now = { 0, 0 };

    if (!api) return -1;
    api->app = app;
    api->cfg = cfg;
    api->metrics = calloc(1, sizeof(*api->metrics));
    if (!api->metrics) goto fail;

    api->verify.alg = cfg->jwt_alg;
    if (cfg->jwt_alg == CH_JWT_HS256) {
        api->verify.key = (const unsigned char *)cfg->jwt_key;
        api->verify.key_len = cfg->jwt_key_len;
    } else {
        api->verify_key = wk_public_pem(cfg->jwt_key, cfg->jwt_key_len);
        if (!api->verify_key) {
            CH_ERROR("api: the JWT key is not a private key PEM for the configured algorithm", NULL);
            goto fail;
        }
        api->verify.key = (const unsigned char *)api->verify_key;
        api->verify.key_len = strlen(api->verify_key);
    }
    if (!api->verify.key || api->verify.key_len == 0) {
        CH_ERROR("api: no JWT key configured", NULL);
        goto fail;
    }
    api->verify.issuer = cfg->jwt_issuer[0] ? cfg->jwt_issuer : NULL;
    api->verify.audience = cfg->jwt_audience[0] ? cfg->jwt_audience : NULL;
    api->verify.leeway = 30;
    {
        unsigned char secret[24];
        char pw[64];
        if (RAND_bytes(secret, sizeof(secret)) != 1) goto fail;
        for (size_t i = 0; i < sizeof(secret); i++) snprintf(pw + 2 * i, 3, "%02x", secret[i]);
        if (wk_password_hash(pw, strlen(pw), api->dummy_hash, sizeof(api->dummy_hash)) < 0) {
            CH_ERROR("api: argon2id self-test failed", NULL);
            goto fail;
        }
    }

    if (cfg->snapshot_cache > 0 && !(api->snapcache = wk_snapcache_new(cfg->snapshot_cache)))
        goto fail;

    memset(&dc, 0, sizeof(dc));
    dc.pg_conninfo = cfg->pg_conninfo;
    dc.redis_host = cfg->redis_host;
    dc.redis_port = cfg->redis_port;
    dc.redis_password = cfg->redis_password;
    dc.threads = cfg->db_threads > 0 ? cfg->db_threads : 4;
    dc.queue_max = dc.threads * QUEUE_PER_THREAD;
    dc.scripts[WK_SCRIPT_PUBLISH] = ch_lua_publish;
    dc.scripts[WK_SCRIPT_ROOM_INIT] = wk_lua_room_init;
    api->db = wk_db_new(app->base, &dc);
    if (!api->db) goto fail;

    api->resync_ev = evtimer_new(app->base, on_resync_timer, api);
    if (!api->resync_ev) goto fail;
    evtimer_add(api->resync_ev, &now);

    api->cb = evhtp_set_glob_cb(app->htp, WK_API_PREFIX "*", on_api, api);
    if (!api->cb) goto fail;
    evhtp_callback_set_hook(api->cb, evhtp_hook_on_headers, (evhtp_hook)on_req_headers, api);

    app->api = api;
    CH_INFO("api: started", " db_threads=%d queue_max=%d max_body=%zu snapshot_cache=%zu", dc.threads,
            dc.queue_max, cfg->max_body, cfg->snapshot_cache);
    return 0;
fail:
    app->api = api;
    wk_api_stop(app);
    return -1;
}

void
wk_api_stop(struct wk_app *app)
{
    wk_api *api = app->api;

    if (!api) return;
    wk_db_free(api->db);          /* cancels whatever is queued */
    wk_snapcache_free(api->snapcache);   /* after the threads: no build is running */
    if (api->resync_ev) event_free(api->resync_ev);
    free(api->verify_key);
    free(api->metrics);
    free(api);
    app->api = NULL;
}

int
wk_api_ready(struct wk_api *api, char *why, size_t whylen)
{
    if (!api) {
        snprintf(why, whylen, "API not started");
        return 0;
    }
    if (!wk_db_ready(api->db, why, whylen))
        return 0;
    if (!api->resync_done) {
        snprintf(why, whylen, "room access lists not yet synced");
        return 0;
    }
    return 1;
}
