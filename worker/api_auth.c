/*
 * api_auth.c — accounts and sessions: register, login (rate-limited),
 * refresh-token rotation with reuse detection, logout, me.
 *
 * Invariants:
 *  - passwords are hashed with argon2id (core_password.h) and never logged
 *    or stored; tokens are never logged; refresh tokens are stored only as
 *    SHA-256 (bytea);
 *  - a refresh token is used at most once: rotation revokes it and links it
 *    to its successor (replaced_by) in the same transaction that creates
 *    the successor; presenting a revoked token revokes every token that
 *    descends from it, so a stolen token and the legitimate one cannot both
 *    stay alive;
 *  - failed logins are recorded in login_failures; at LOGIN_MAX_USER
 *    failures for a username or LOGIN_MAX_ADDR for a client address within
 *    LOGIN_WINDOW_S, logins are refused with 429 and Retry-After before any
 *    password check (refused attempts are not recorded, so the window ends);
 *  - an unknown username costs one argon2id verification too (against a
 *    dummy hash), so response times do not reveal which usernames exist.
 */
#include "api_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_password.h"
#include "core_token.h"
#include "core_validate.h"

#define LOGIN_WINDOW_S   300
#define LOGIN_MAX_USER   5
#define LOGIN_MAX_ADDR   20
#define LOGIN_NAME_KEEP  64      /* bytes of a failed username recorded */

#define USER_COLS "id, username, display_name, " WK_TS("created_at")

/* "\x<hex>" of a token's SHA-256, for a bytea parameter. */
static int
token_hash_param(const char *tok, size_t len, char out[2 + 2 * WK_SHA256_LEN + 1])
{
    unsigned char h[WK_SHA256_LEN];

    if (wk_sha256(tok, len, h) < 0) return -1;
    out[0] = '\\';
    out[1] = 'x';
    for (int i = 0; i < WK_SHA256_LEN; i++) snprintf(out + 2 + 2 * i, 3, "%02x", h[i]);
    return 0;
}

/* Creates a refresh token for uid, mints an access token, and answers
 * status with {user, access_token, token_type, expires_in, refresh_token,
 * refresh_expires_in}. user is stolen. With replaces > 0 the new token
 * revokes and replaces that one. Runs inside the caller's transaction if
 * any. 0, or -1 with the reply set. */
static int
issue_tokens(wk_dbc *c, wk_req *r, json_t *user, long long uid, const char *name, int status,
             long long replaces)
{
    const wk_config *cfg = r->api->cfg;
    wk_mint_config mc = { cfg->jwt_alg, (const unsigned char *)cfg->jwt_key, cfg->jwt_key_len,
                          cfg->jwt_issuer, cfg->jwt_audience, cfg->access_ttl };
    char refresh[WK_REFRESH_LEN + 1], hash[2 + 2 * WK_SHA256_LEN + 1];
    char ub[24], ttl[24], newid[24], oldid[24];
    char *access = NULL;
    PGresult *res;

    if (!user || wk_refresh_new(refresh) < 0 || token_hash_param(refresh, WK_REFRESH_LEN, hash) < 0)
        goto internal;
    snprintf(ub, sizeof(ub), "%lld", uid);
    snprintf(ttl, sizeof(ttl), "%d", cfg->refresh_ttl);
    {
        const char *p[3] = { ub, hash, ttl };
        res = wk_sql(c, "INSERT INTO refresh_tokens (user_id, token_hash, expires_at) "
                        "VALUES ($1, $2::bytea, now() + $3::int * interval '1 second') RETURNING id",
                     3, p);
    }
    if (!res) goto db;
    snprintf(newid, sizeof(newid), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (replaces > 0) {
        snprintf(oldid, sizeof(oldid), "%lld", replaces);
        const char *p[2] = { oldid, newid };
        if (wk_sql_exec(c, "UPDATE refresh_tokens SET revoked_at = now(), replaced_by = $2 "
                           "WHERE id = $1", 2, p) < 0)
            goto db;
    }
    access = wk_token_mint(&mc, uid, name, time(NULL));
    if (!access) goto internal;
    wk_reply(r, status, json_pack("{s:o, s:s, s:s, s:i, s:s, s:i}", "user", user,
                                  "access_token", access, "token_type", "Bearer",
                                  "expires_in", cfg->access_ttl, "refresh_token", refresh,
                                  "refresh_expires_in", cfg->refresh_ttl));
    free(access);
    return 0;
db:
    json_decref(user);
    wk_fail_internal(c, r);
    return -1;
internal:
    json_decref(user);
    wk_fail(r, 500, "internal", "could not issue tokens", NULL);
    return -1;
}

void
wk_h_register(wk_dbc *c, wk_req *r)
{
    const char *username, *password, *display = NULL;
    size_t ulen, plen, dlen = 0;
    char hash[WK_PW_ENCODED_MAX];
    PGresult *res;

    if (wk_body_str_req(r, "username", &username, &ulen) < 0 ||
        wk_body_str_req(r, "password", &password, &plen) < 0 ||
        wk_body_str(r, "display_name", &display, &dlen) < 0)
        return;
    if (!wk_valid_username(username, ulen)) {
        wk_invalid(r, "username", "username must be 3 to 32 characters of a-z 0-9 _ . -");
        return;
    }
    if (!wk_valid_password(password, plen)) {
        wk_invalid(r, "password", "password must be 8 to 256 characters");
        return;
    }
    if (!display) {
        display = username;
        dlen = ulen;
    }
    if (!wk_valid_label(display, dlen, WK_DISPLAY_MAX)) {
        wk_invalid(r, "display_name",
                   "display_name must be 1 to 64 characters without control characters");
        return;
    }
    if (wk_password_hash(password, plen, hash, sizeof(hash)) < 0) {
        wk_fail(r, 500, "internal", "could not hash the password", NULL);
        return;
    }
    if (wk_sql_begin(c) < 0) goto db;
    {
        const char *p[3] = { username, display, hash };
        res = wk_sql(c, "INSERT INTO users (username, display_name, password_hash) "
                        "VALUES ($1, $2, $3) RETURNING " USER_COLS, 3, p);
    }
    if (!res) {
        if (strcmp(c->sqlstate, "23505") == 0) {
            wk_fail(r, 409, "conflict", "this username is taken", "username");
            return;
        }
        goto db;
    }
    long long uid = atoll(PQgetvalue(res, 0, 0));
    json_t *user = wk_user_json(res, 0, 0);
    PQclear(res);
    if (issue_tokens(c, r, user, uid, display, 201, 0) < 0)
        return;
    if (wk_sql_commit(c) < 0) goto db;
    return;
db:
    wk_fail_internal(c, r);
}

/* Failures in the window for a username and for an address, and the
 * seconds until the oldest of each leaves the window. -1 on error. */
static int
login_limits(wk_dbc *c, wk_req *r, const char *name, long *ucount, long *uretry, long *acount,
             long *aretry)
{
    char win[16];
    snprintf(win, sizeof(win), "%d", LOGIN_WINDOW_S);
    const char *p[3] = { name, r->addr, win };
    PGresult *res = wk_sql(c,
        "SELECT count(*), coalesce(ceil(extract(epoch FROM min(at) + $3::int * interval '1 second'"
        " - now())), 0)::bigint FROM login_failures"
        " WHERE username = $1 AND at > now() - $3::int * interval '1 second' "
        "UNION ALL "
        "SELECT count(*), coalesce(ceil(extract(epoch FROM min(at) + $3::int * interval '1 second'"
        " - now())), 0)::bigint FROM login_failures"
        " WHERE address = $2 AND at > now() - $3::int * interval '1 second'", 3, p);

    if (!res || PQntuples(res) != 2) {
        PQclear(res);
        return -1;
    }
    *ucount = atol(PQgetvalue(res, 0, 0));
    *uretry = atol(PQgetvalue(res, 0, 1));
    *acount = atol(PQgetvalue(res, 1, 0));
    *aretry = atol(PQgetvalue(res, 1, 1));
    PQclear(res);
    return 0;
}

void
wk_h_login(wk_dbc *c, wk_req *r)
{
    const char *username, *password;
    size_t ulen, plen;
    char name[LOGIN_NAME_KEEP + 1];
    long ucount, uretry, acount, aretry;
    PGresult *res;
    int ok;

    if (wk_body_str_req(r, "username", &username, &ulen) < 0 ||
        wk_body_str_req(r, "password", &password, &plen) < 0)
        return;
    /* Usernames are lower case: accept any case at login. */
    size_t n = ulen < LOGIN_NAME_KEEP ? ulen : LOGIN_NAME_KEEP;
    for (size_t i = 0; i < n; i++) name[i] = (char)tolower((unsigned char)username[i]);
    name[n] = '\0';
    if (strlen(name) != n) n = strlen(name);   /* an embedded NUL ends it */

    if (login_limits(c, r, name, &ucount, &uretry, &acount, &aretry) < 0) goto db;
    if (ucount >= LOGIN_MAX_USER || acount >= LOGIN_MAX_ADDR) {
        long retry = ucount >= LOGIN_MAX_USER ? uretry : 0;
        if (acount >= LOGIN_MAX_ADDR && aretry > retry) retry = aretry;
        r->retry_after = retry > 0 ? (int)retry : 1;
        wk_fail(r, 429, "rate_limited", "too many failed logins; retry later", NULL);
        return;
    }

    const char *hash = r->api->dummy_hash;
    int known = 0;
    res = NULL;
    if (wk_valid_username(name, n) && n == ulen) {
        const char *p[1] = { name };
        res = wk_sql(c, "SELECT " USER_COLS ", password_hash FROM users WHERE username = $1", 1, p);
        if (!res) goto db;
        if (PQntuples(res) == 1) {
            hash = PQgetvalue(res, 0, 4);
            known = 1;
        }
    }
    /* Longer passwords were never accepted at registration: no need to hash. */
    ok = wk_valid_password(password, plen) ? wk_password_verify(hash, password, plen) : 0;
    if (ok < 0) {
        PQclear(res);
        wk_fail(r, 500, "internal", "could not check the password", NULL);
        return;
    }
    if (!ok || !known) {
        PQclear(res);
        char win[16];
        snprintf(win, sizeof(win), "%d", LOGIN_WINDOW_S);
        const char *p[3] = { name, r->addr, win };
        /* Record this failure; drop this name's and address's expired ones. */
        if (wk_sql_exec(c, "INSERT INTO login_failures (username, address) VALUES ($1, $2)", 2, p) < 0 ||
            wk_sql_exec(c, "DELETE FROM login_failures WHERE (username = $1 OR address = $2) "
                           "AND at < now() - $3::int * interval '1 second'", 3, p) < 0)
            goto db;
        wk_fail(r, 401, "unauthorized", "wrong username or password", NULL);
        return;
    }
    long long uid = atoll(PQgetvalue(res, 0, 0));
    char display[WK_DISPLAY_MAX * 4 + 1];
    snprintf(display, sizeof(display), "%s", PQgetvalue(res, 0, 2));
    json_t *user = wk_user_json(res, 0, 0);
    PQclear(res);
    {
        const char *p[1] = { name };
        if (wk_sql_exec(c, "DELETE FROM login_failures WHERE username = $1", 1, p) < 0) {
            json_decref(user);
            goto db;
        }
    }
    issue_tokens(c, r, user, uid, display, 200, 0);
    return;
db:
    wk_fail_internal(c, r);
}

/* The refresh_token field as a hash parameter; -1 with the reply set. */
static int
refresh_param(wk_req *r, char out[2 + 2 * WK_SHA256_LEN + 1], int *valid)
{
    const char *tok;
    size_t len;

    if (wk_body_str_req(r, "refresh_token", &tok, &len) < 0)
        return -1;
    *valid = wk_refresh_valid(tok, len);
    if (*valid && token_hash_param(tok, len, out) < 0) {
        wk_fail(r, 500, "internal", "hash failed", NULL);
        return -1;
    }
    return 0;
}

void
wk_h_refresh(wk_dbc *c, wk_req *r)
{
    char hash[2 + 2 * WK_SHA256_LEN + 1];
    int valid;
    PGresult *res;

    if (refresh_param(r, hash, &valid) < 0) return;
    if (!valid) {
        wk_fail(r, 401, "unauthorized", "invalid refresh token", NULL);
        return;
    }
    if (wk_sql_begin(c) < 0) goto db;
    {
        const char *p[1] = { hash };
        res = wk_sql(c, "SELECT t.id, t.revoked_at IS NOT NULL, t.expires_at <= now(), "
                        "u.id, u.username, u.display_name, " WK_TS("u.created_at")
                        " FROM refresh_tokens t JOIN users u ON u.id = t.user_id "
                        "WHERE t.token_hash = $1::bytea FOR UPDATE OF t", 1, p);
    }
    if (!res) goto db;
    if (PQntuples(res) == 0) {
        PQclear(res);
        wk_fail(r, 401, "unauthorized", "invalid refresh token", NULL);
        return;
    }
    long long tid = atoll(PQgetvalue(res, 0, 0));
    int revoked = PQgetvalue(res, 0, 1)[0] == 't';
    int expired = PQgetvalue(res, 0, 2)[0] == 't';
    if (revoked) {
        /* Reuse: revoke this token's whole line of successors. */
        char tb[24];
        PQclear(res);
        snprintf(tb, sizeof(tb), "%lld", tid);
        const char *p[1] = { tb };
        if (wk_sql_exec(c, "WITH RECURSIVE chain(id) AS ("
                           "  SELECT replaced_by FROM refresh_tokens WHERE id = $1 AND replaced_by IS NOT NULL"
                           "  UNION SELECT t.replaced_by FROM refresh_tokens t JOIN chain ON t.id = chain.id"
                           "  WHERE t.replaced_by IS NOT NULL) "
                           "UPDATE refresh_tokens SET revoked_at = now() "
                           "WHERE id IN (SELECT id FROM chain) AND revoked_at IS NULL", 1, p) < 0 ||
            wk_sql_commit(c) < 0)
            goto db;
        wk_fail(r, 401, "token_reused",
                "this refresh token was already used; every token issued from it is revoked", NULL);
        return;
    }
    if (expired) {
        PQclear(res);
        wk_fail(r, 401, "unauthorized", "refresh token expired", NULL);
        return;
    }
    long long uid = atoll(PQgetvalue(res, 0, 3));
    char display[WK_DISPLAY_MAX * 4 + 1];
    snprintf(display, sizeof(display), "%s", PQgetvalue(res, 0, 5));
    json_t *user = wk_user_json(res, 0, 3);
    PQclear(res);
    if (issue_tokens(c, r, user, uid, display, 200, tid) < 0)
        return;
    if (wk_sql_commit(c) < 0) goto db;
    return;
db:
    wk_fail_internal(c, r);
}

void
wk_h_logout(wk_dbc *c, wk_req *r)
{
    char hash[2 + 2 * WK_SHA256_LEN + 1];
    int valid;

    if (refresh_param(r, hash, &valid) < 0) return;
    if (valid) {
        const char *p[1] = { hash };
        if (wk_sql_exec(c, "UPDATE refresh_tokens SET revoked_at = now() "
                           "WHERE token_hash = $1::bytea AND revoked_at IS NULL", 1, p) < 0) {
            wk_fail_internal(c, r);
            return;
        }
    }
    wk_reply(r, 204, NULL);
}

void
wk_h_me(wk_dbc *c, wk_req *r)
{
    char ub[24];
    const char *p[1] = { ub };
    PGresult *res;

    snprintf(ub, sizeof(ub), "%lld", r->uid);
    res = wk_sql(c, "SELECT " USER_COLS " FROM users WHERE id = $1", 1, p);
    if (!res) {
        wk_fail_internal(c, r);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        wk_fail(r, 401, "unauthorized", "the account no longer exists", NULL);
        return;
    }
    wk_reply(r, 200, json_pack("{s:o}", "user", wk_user_json(res, 0, 0)));
    PQclear(res);
}
