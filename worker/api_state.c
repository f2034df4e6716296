/*
 * api_state.c — server-side publishing and the current state of a room.
 *
 * Publishing goes through the very script the gateways run (publish.lua,
 * EVALSHA with EVAL fallback), with the event JSON halves from
 * ch_encode_event_halves, author = the user id and session "api": REST
 * and WebSocket clients see one history, sequenced once. The event rules
 * of common/policy.h are checked here against the caller's role in
 * PostgreSQL (403 before anything is sent, unless the cid is a retry of an
 * event already accepted: its dedup key then answers, as the script would),
 * and again by the script against the room's access list, which has the
 * last word: a member removed while the request ran is refused there.
 *
 * A room's current state is assembled from three sources, newest last:
 *
 *   snapshots (PostgreSQL)  latest row of the room's current epoch, else
 *                           the reducer's empty state at seq 0
 *   events (PostgreSQL)     every persisted event after that seq
 *   room stream (Redis)     events not persisted yet (the catch-up window)
 *
 * Each event is folded with the room kind's reducer (reduce.h), which
 * ignores events at or below the state's seq, so overlapping sources are
 * harmless; the Redis part is folded only while seqs stay contiguous, so
 * the result is always the exact state as of its "seq". The same fold
 * stops at any seq (wk_state_at): it then starts from the newest snapshot
 * row at or below it, and reads no event past it, for named versions.
 *
 * GET /rooms/{room}/snapshot goes through the API's snapshot cache
 * (core_snapcache.h; wk_state_text) and answers with the state's text:
 *
 *   room (epoch, seq) from Redis ──► cached text at that seq or later? ──► sent
 *                                          │ no
 *          cached state, else cached text (parsed), else the snapshot row:
 *          a row at the current seq is sent as stored (no parse);
 *          otherwise fold the events after it as above, serialize once
 *          (json_out.h: sorted keys, shortest reals), keep state and text
 *
 * Snapshot rows hold that same canonical text (persist.c writes them with
 * json_out.h), so a row, a cached text and a freshly built text of the same
 * state are the same bytes (rows saved before migration 0004 hold jsonb's
 * text form of the same values, served as is until a change replaces it).
 *
 * The current epoch is the Redis room meta's; a room with no meta gets one
 * from wk_lua_room_init exactly as join.lua would, so the epoch returned
 * here is the one a client will see when it joins.
 */
#include "api_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "json_out.h"
#include "keys.h"
#include "log.h"
#include "policy.h"
#include "reduce.h"

#define PG_PAGE      1000   /* events per PostgreSQL page while folding */
#define STREAM_PAGE  "500"  /* events per XRANGE while folding */

/*
 * room_init.lua — a room's epoch and seq, creating its meta if missing.
 * KEYS[1] room meta hash   ch:{pN}:m:<room>
 * KEYS[2] room stream      ch:{pN}:s:<room>
 * Reply: { epoch, seq }
 * Same start-of-epoch rule as join.lua and publish.lua: the epoch is the
 * server time in ms and any stale stream is dropped.
 */
const char wk_lua_room_init[] =
    "local epoch = redis.call('HGET', KEYS[1], 'epoch')\n"
    "if not epoch then\n"
    "  local t = redis.call('TIME')\n"
    "  epoch = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))\n"
    "  redis.call('DEL', KEYS[2])\n"
    "  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)\n"
    "end\n"
    "local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')\n"
    "return { tonumber(epoch), seq }\n";

void
wk_cid_new(char out[32])
{
    unsigned char b[8];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        static unsigned long long fallback;
        snprintf(out, 32, "api-%016llx", __atomic_add_fetch(&fallback, 1, __ATOMIC_RELAXED));
        return;
    }
    snprintf(out, 32, "api-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7]);
}

/*
 * The caller's role may not publish this kind. A cid that was accepted
 * within the dedup window is still a retry of that event, as publish.lua
 * would answer it (its dedup check comes before its access check): its
 * original seq comes back as a duplicate, and nothing is written. Any other
 * cid is refused with 403. 0 with *out set, or -1 with the reply set.
 */
static int
refused_or_duplicate(wk_dbc *c, wk_req *r, const char *room, const char *kind, const char *dedup,
                     wk_published *out)
{
    const char *argv[2] = { "GET", dedup };
    size_t lens[2] = { 3, strlen(dedup) };
    redisReply *rep = wk_redis(c, 2, argv, lens);
    long long seq, epoch;
    int end = 0, rc = -1;

    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        wk_fail(r, 503, "unavailable", "the event was not stored; retry with the same cid", NULL);
    } else if (rep->type == REDIS_REPLY_STRING &&
               sscanf(rep->str, "%lld:%lld%n", &seq, &epoch, &end) == 2 &&
               (size_t)end == rep->len) {
        out->seq = seq;
        out->epoch = epoch;
        out->duplicate = 1;
        rc = 0;
    } else {
        wk_fail(r, 403, "forbidden", ch_event_refusal(room, kind), NULL);
    }
    freeReplyObject(rep);
    return rc;
}

int
wk_publish(wk_dbc *c, wk_req *r, const wk_room *rm, const char *kind, const char *cid,
           const char *payload, size_t payload_len, wk_published *out)
{
    unsigned parts = r->api->cfg->partitions;
    const char *room = rm->id;
    ch_role need = ch_event_min_role(room, kind);
    ch_room_keys k;
    char dedup[CH_KEY_MAX], author[24], author_json[32];
    ch_buf prefix, suffix;
    redisReply *rep = NULL;
    int rc = -1;

    snprintf(author, sizeof(author), "%lld", r->uid);
    snprintf(author_json, sizeof(author_json), "\"%lld\"", r->uid);
    ch_room_keys_build(&k, room, parts);
    if (ch_dedup_key(dedup, sizeof(dedup), room, parts, author, cid) < 0) {
        wk_invalid(r, "cid", "cid too long");
        return -1;
    }
    if (!ch_role_allows((ch_role)rm->role, need))
        return refused_or_duplicate(c, r, room, kind, dedup, out);
    ch_buf_init(&prefix);
    ch_buf_init(&suffix);
    ch_encode_event_halves(&prefix, &suffix, room, author_json, WK_API_SESSION, kind, cid, payload,
                           payload_len);
    if (prefix.oom || suffix.oom) {
        wk_fail(r, 500, "internal", "out of memory", NULL);
        goto out;
    }
    /* A list is not required here: PostgreSQL has just confirmed the
     * membership, and a room's list, when present, still decides. */
    const char *argv[18] = { k.meta, k.stream, k.persist, dedup, k.channel, k.acl,
                             prefix.data, suffix.data, WK_STREAM_WINDOW, WK_DEDUP_SECONDS,
                             room, author, kind, cid, payload, WK_API_SESSION,
                             ch_role_name(need), "0" };
    size_t lens[18];
    for (int i = 0; i < 18; i++) lens[i] = strlen(argv[i]);
    lens[14] = payload_len;
    rep = wk_redis_script(c, WK_SCRIPT_PUBLISH, 6, 12, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "FORBIDDEN", 9) == 0) {
        int not_member = strncmp(rep->str, "FORBIDDEN member", 16) == 0;
        wk_fail(r, 403, "forbidden", not_member ? CH_NOT_A_MEMBER_MESSAGE : ch_event_refusal(room, kind),
                NULL);
        goto out;
    }
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER) {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            CH_WARN("api: publish script failed", " room=%s error=\"%s\"", room, rep->str);
        wk_fail(r, 503, "unavailable", "the event was not stored; retry with the same cid", NULL);
        goto out;
    }
    out->seq = rep->element[0]->integer;
    out->epoch = rep->element[1]->integer;
    out->duplicate = rep->element[2]->integer != 0;
    rc = 0;
out:
    freeReplyObject(rep);
    ch_buf_free(&prefix);
    ch_buf_free(&suffix);
    return rc;
}

json_t *
wk_event_from_row(PGresult *res, int row, const char *room, long long epoch)
{
    json_error_t err;
    const char *ptxt = PQgetvalue(res, row, 5);
    json_t *payload = json_loads(ptxt, JSON_DECODE_ANY, &err);

    if (!payload) payload = json_null();
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:o}",
                     "type", "event", "room", room,
                     "seq", (json_int_t)atoll(PQgetvalue(res, row, 0)),
                     "epoch", (json_int_t)epoch,
                     "ts", (json_int_t)atoll(PQgetvalue(res, row, 1)),
                     "author", PQgetvalue(res, row, 2),
                     "kind", PQgetvalue(res, row, 3),
                     "cid", PQgetvalue(res, row, 4),
                     "payload", payload);
}

/* The room's current epoch and seq from Redis (creating its meta if
 * missing). 0, or -1 with the reply set. */
static int
room_position(wk_dbc *c, wk_req *r, const char *room, long long *epoch, long long *seq)
{
    ch_room_keys k;
    redisReply *rep;

    ch_room_keys_build(&k, room, r->api->cfg->partitions);
    const char *argv[2] = { k.meta, k.stream };
    size_t lens[2] = { strlen(k.meta), strlen(k.stream) };
    rep = wk_redis_script(c, WK_SCRIPT_ROOM_INIT, 2, 0, argv, lens);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER || rep->element[1]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(rep);
        wk_fail(r, 503, "unavailable", "Redis is unreachable; retry", NULL);
        return -1;
    }
    *epoch = rep->element[0]->integer;
    *seq = rep->element[1]->integer;
    freeReplyObject(rep);
    return 0;
}

int
wk_room_epoch(wk_dbc *c, wk_req *r, const char *room, long long *epoch, long long *seq)
{
    return room_position(c, r, room, epoch, seq);
}

int
wk_state_advance(wk_dbc *c, wk_req *r, const char *room, const char *kind, json_t *state,
                 long long epoch, long long upto, long long watch, int *watch_rc)
{
    ch_room_keys k;
    char start[32], end[32];

    if (watch_rc) *watch_rc = -2;
    ch_room_keys_build(&k, room, r->api->cfg->partitions);
    if (upto == LLONG_MAX) snprintf(end, sizeof(end), "+");
    else snprintf(end, sizeof(end), "%lld-0", upto);
    for (;;) {
        long long have = json_integer_value(json_object_get(state, "seq"));
        if (have >= upto) return 0;
        snprintf(start, sizeof(start), "%lld-0", have + 1);
        const char *argv[6] = { "XRANGE", k.stream, start, end, "COUNT", STREAM_PAGE };
        size_t lens[6];
        for (int i = 0; i < 6; i++) lens[i] = strlen(argv[i]);
        redisReply *rep = wk_redis(c, 6, argv, lens);
        if (!rep || rep->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            wk_fail(r, 503, "unavailable", "Redis is unreachable; retry", NULL);
            return -1;
        }
        size_t n = rep->elements;
        int stop = n == 0;
        for (size_t i = 0; i < n && !stop; i++) {
            redisReply *e = rep->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
                e->element[1]->elements < 2) {
                stop = 1;
                break;
            }
            long long sq = atoll(e->element[0]->str);
            if (sq != have + 1) { stop = 1; break; }   /* a gap: stay exact, stop here */
            redisReply *v = e->element[1]->element[1];
            json_error_t err;
            json_t *ev = v->type == REDIS_REPLY_STRING ? json_loadb(v->str, v->len, 0, &err) : NULL;
            if (ev && json_integer_value(json_object_get(ev, "epoch")) != epoch) {
                json_decref(ev);
                stop = 1;
                break;
            }
            int rc = ev ? wk_reduce(kind, state, ev) : WK_IGNORED;
            if (!ev) json_object_set_new(state, "seq", json_integer(sq));
            json_decref(ev);
            if (rc == WK_ERROR) {
                freeReplyObject(rep);
                wk_fail(r, 500, "internal", "the room state could not be rebuilt", NULL);
                return -1;
            }
            if (sq == watch && watch_rc) *watch_rc = rc;
            have = sq;
        }
        freeReplyObject(rep);
        if (stop || n < (size_t)atoi(STREAM_PAGE)) return 0;
    }
}

/* The newest snapshot row of (room, epoch) at or below upto. A row whose
 * seq is at is returned as stored, as *text (a new blob), without parsing;
 * any other is parsed into *state (left NULL when there is none or it is
 * unusable). 0, or -1 with the reply set. */
static int
snapshot_row(wk_dbc *c, wk_req *r, const char *room, long long epoch, long long upto,
             long long at, json_t **state, wk_blob **text)
{
    char eb[24], ub[24];
    PGresult *res;

    *state = NULL;
    *text = NULL;
    snprintf(eb, sizeof(eb), "%lld", epoch);
    snprintf(ub, sizeof(ub), "%lld", upto);
    const char *p[3] = { room, eb, ub };
    res = wk_sql(c, "SELECT seq, state FROM snapshots WHERE room = $1 AND epoch = $2 "
                    "AND seq <= $3 ORDER BY seq DESC LIMIT 1", 3, p);
    if (!res) {
        wk_fail_internal(c, r);
        return -1;
    }
    if (PQntuples(res) == 1) {
        const char *t = PQgetvalue(res, 0, 1);
        size_t len = (size_t)PQgetlength(res, 0, 1);
        if (atoll(PQgetvalue(res, 0, 0)) == at && len > 1 && t[0] == '{' && t[len - 1] == '}') {
            *text = wk_blob_copy(t, len);
            PQclear(res);
            if (!*text) {
                wk_fail(r, 500, "internal", "out of memory", NULL);
                return -1;
            }
            return 0;
        }
        json_error_t err;
        *state = json_loadb(t, len, 0, &err);
        if (*state && !json_is_integer(json_object_get(*state, "seq"))) {
            json_decref(*state);
            *state = NULL;
        }
        if (!*state)
            CH_WARN("api: unreadable snapshot ignored", " room=%s", room);
    }
    PQclear(res);
    return 0;
}

/* Folds into state the persisted events after its seq, up to upto, then
 * the Redis stream's, each source up to its first gap. 0, or -1 with the
 * reply set (state is then partly folded: drop it). */
static int
state_fold(wk_dbc *c, wk_req *r, const char *room, const char *kind, json_t *state,
           long long epoch, long long upto)
{
    char eb[24], sb[24], ub[24];
    PGresult *res;

    snprintf(eb, sizeof(eb), "%lld", epoch);
    snprintf(ub, sizeof(ub), "%lld", upto);
    for (;;) {
        long long have = json_integer_value(json_object_get(state, "seq"));
        if (have >= upto) break;
        snprintf(sb, sizeof(sb), "%lld", have);
        const char *p[4] = { room, eb, sb, ub };
        res = wk_sql(c, "SELECT seq, (extract(epoch FROM created_at) * 1000)::bigint, author, type, "
                        "cid, payload::text FROM events WHERE room = $1 AND epoch = $2 AND seq > $3 "
                        "AND seq <= $4 ORDER BY seq LIMIT " "1000", 4, p);
        if (!res) {
            wk_fail_internal(c, r);
            return -1;
        }
        int n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            json_t *ev = wk_event_from_row(res, i, room, epoch);
            if (!ev) continue;
            long long sq = json_integer_value(json_object_get(ev, "seq"));
            int rc = sq == have + 1 ? wk_reduce(kind, state, ev) : WK_IGNORED;
            json_decref(ev);
            if (sq != have + 1) { n = 0; break; }   /* a gap: let Redis fill in */
            if (rc == WK_ERROR) {
                PQclear(res);
                wk_fail(r, 500, "internal", "the room state could not be rebuilt", NULL);
                return -1;
            }
            have = sq;
        }
        PQclear(res);
        if (n < PG_PAGE) break;
    }
    return wk_state_advance(c, r, room, kind, state, epoch, upto, 0, NULL);
}

json_t *
wk_state_at(wk_dbc *c, wk_req *r, const char *room, const char *kind, long long epoch,
            long long upto)
{
    json_t *state;
    wk_blob *text;

    if (snapshot_row(c, r, room, epoch, upto, -1, &state, &text) < 0) return NULL;
    if (!state) state = wk_state_new(kind);
    if (!state) {
        wk_fail(r, 500, "internal", "unknown room kind", NULL);
        return NULL;
    }
    if (state_fold(c, r, room, kind, state, epoch, upto) < 0) {
        json_decref(state);
        return NULL;
    }
    return state;
}

json_t *
wk_state_load(wk_dbc *c, wk_req *r, const char *room, const char *kind, long long *epoch)
{
    long long cur_seq;

    if (room_position(c, r, room, epoch, &cur_seq) < 0)
        return NULL;
    return wk_state_at(c, r, room, kind, *epoch, LLONG_MAX);
}

int
wk_state_text(wk_dbc *c, wk_req *r, const char *room, const char *kind, long long *epoch,
              long long *seq, wk_blob **blob)
{
    wk_snapcache *cache = r->api->snapcache;
    wk_snapc_lease l;
    json_t *state = NULL;
    wk_blob *text = NULL;
    long long cur;
    size_t heap = 0;
    int mode, lent;

    *blob = NULL;
    if (room_position(c, r, room, epoch, &cur) < 0) return -1;
    mode = wk_snapcache_get(cache, room, *epoch, cur, &l);
    if (mode == WK_SNAPC_HIT) {
        *blob = l.bytes;
        *seq = l.seq;
        return 0;
    }

    /* Start from the cached state, else its text, else the snapshot row
     * (sent as stored when it is at the current seq). */
    state = l.state;
    text = l.bytes;
    lent = state != NULL;
    if (!state && text) {
        json_error_t err;
        state = json_loadb(text->data, text->len, 0, &err);
        if (state && json_integer_value(json_object_get(state, "seq")) != l.seq) {
            json_decref(state);
            state = NULL;
        }
    }
    if (!state) {
        wk_blob_unref(text);
        if (snapshot_row(c, r, room, *epoch, LLONG_MAX, cur, &state, &text) < 0) goto fail;
        if (text) {
            *seq = cur;
            goto done;
        }
        if (!state) state = wk_state_new(kind);
        if (!state) {
            wk_fail(r, 500, "internal", "unknown room kind", NULL);
            goto fail;
        }
    }
    if (state_fold(c, r, room, kind, state, *epoch, LLONG_MAX) < 0) goto fail;
    *seq = json_integer_value(json_object_get(state, "seq"));

    if (lent && text && *seq == l.seq) {
        heap = l.state_heap;            /* unchanged (a gap): keep text and state */
    } else {
        ch_buf b;
        ch_json_stats st;
        wk_blob_unref(text);
        ch_buf_init(&b);
        if (ch_json_dump(&b, state, CH_JSON_SORT_KEYS, &st) < 0 || !(text = wk_blob_from_buf(&b))) {
            ch_buf_free(&b);
            text = NULL;
            wk_fail(r, 500, "internal", "the room state could not be serialized", NULL);
            goto fail;
        }
        heap = st.heap;
    }
done:
    if (mode == WK_SNAPC_BUILD)
        wk_snapcache_put(cache, &l, *epoch, *seq, state, heap, wk_blob_ref(text));
    else
        json_decref(state);
    *blob = text;
    return 0;
fail:
    if (mode == WK_SNAPC_BUILD)
        wk_snapcache_put(cache, &l, 0, 0, state, 0, NULL);
    else
        json_decref(state);
    wk_blob_unref(text);
    return -1;
}
