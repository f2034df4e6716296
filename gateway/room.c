/*
 * room.c — the room index of one node and the delivery state machine of each
 * membership.
 *
 * Invariants
 *  - A room exists while it has members or a SUBSCRIBE/UNSUBSCRIBE is in
 *    flight. The node holds exactly one Redis subscription per room with
 *    local members; an UNSUBSCRIBE is never overtaken by a SUBSCRIBE of the
 *    same channel (hiredis 0.14 would drop the new subscription's callback),
 *    so a join during UNSUBSCRIBING waits for the confirmation.
 *  - Each membership delivers durable events to its client exactly once and
 *    in seq order: m->last_seq is the last one sent; an event with
 *    seq <= last_seq is dropped, seq == last_seq + 1 is sent, anything
 *    further ahead is held and the gap is read from the room stream first.
 *
 * Membership states
 *
 *   WAIT_SUB --room subscribed--> JOINING --join.lua ok--> SYNCING --stream read
 *      ^                             |                        |    reaches held
 *      |                             | snapshot required       |    events
 *      |                             v                        v
 *      |                        (error, removed)             LIVE --gap--> SYNCING
 *      +----------- Redis down (joined members only; resync on up) ----------+
 *
 * Live events arriving while not LIVE are held (bounded; on overflow they
 * are dropped and read back from the stream, which holds them too). The
 * subscription is confirmed before join.lua runs, so every event is either
 * in the join/stream reads or arrives live: together they leave no gap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "hash.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"

#define GW_MAX_PENDING 4096
#define PRESENCE_BATCH 20

typedef enum { SUB_NONE = 0, SUB_SUBSCRIBING, SUB_SUBSCRIBED, SUB_UNSUBSCRIBING } sub_state;

struct gw_room {
    gw_room *hnext;           /* hash chain */
    gw_member *members;       /* doubly linked via rprev/rnext */
    int nmembers;
    uint8_t sub;              /* sub_state */
    uint32_t hash;
    size_t id_len;
    char id[];                /* NUL-terminated room id */
};

struct gw_rooms {
    gw_node *node;
    gw_room **buckets;
    size_t nbuckets;          /* power of two */
    size_t count;
};

/* Context of a Redis request about one membership; owns a session ref. */
typedef struct {
    gw_session *s;
    uint32_t gen;
    char room[CH_ROOM_MAX + 1];
} member_ctx;

static void member_start_join(gw_member *m);
static void member_fetch(gw_member *m);
static void member_drain(gw_member *m);
static void member_remove(gw_member *m, int announce);

/* ---- index --------------------------------------------------------------- */

static uint32_t
hash_id(const char *s, size_t len)
{
    return ch_fnv1a(s, len);
}

gw_rooms *
gw_rooms_new(gw_node *n)
{
    gw_rooms *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->node = n;
    r->nbuckets = 64;
    r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
    if (!r->buckets) { free(r); return NULL; }
    return r;
}

size_t
gw_rooms_count(const gw_rooms *r)
{
    return r->count;
}

static gw_room *
room_find(gw_rooms *r, const char *id, size_t len)
{
    uint32_t h = hash_id(id, len);
    for (gw_room *x = r->buckets[h & (r->nbuckets - 1)]; x; x = x->hnext)
        if (x->hash == h && x->id_len == len && memcmp(x->id, id, len) == 0) return x;
    return NULL;
}

static void
rooms_grow(gw_rooms *r)
{
    size_t nb = r->nbuckets * 2;
    gw_room **b = calloc(nb, sizeof(*b));
    if (!b) return; /* keep the longer chains */
    for (size_t i = 0; i < r->nbuckets; i++) {
        gw_room *x = r->buckets[i], *next;
        for (; x; x = next) {
            next = x->hnext;
            x->hnext = b[x->hash & (nb - 1)];
            b[x->hash & (nb - 1)] = x;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = nb;
}

static gw_room *
room_get(gw_rooms *r, const char *id)
{
    size_t len = strlen(id);
    gw_room *x = room_find(r, id, len);
    if (x) return x;
    if (!(x = calloc(1, sizeof(*x) + len + 1))) return NULL;
    memcpy(x->id, id, len + 1);
    x->id_len = len;
    x->hash = hash_id(id, len);
    if (r->count >= r->nbuckets) rooms_grow(r);
    size_t b = x->hash & (r->nbuckets - 1);
    x->hnext = r->buckets[b];
    r->buckets[b] = x;
    r->count++;
    GW_INC(rooms);
    return x;
}

static void
room_free(gw_rooms *r, gw_room *x)
{
    gw_room **pp = &r->buckets[x->hash & (r->nbuckets - 1)];
    while (*pp && *pp != x) pp = &(*pp)->hnext;
    if (*pp) *pp = x->hnext;
    r->count--;
    GW_DEC(rooms);
    free(x);
}

static void
room_channel(const gw_node *n, const gw_room *x, char *out, size_t len)
{
    ch_room_keys k;
    ch_room_keys_build(&k, x->id, n->cfg->partitions);
    snprintf(out, len, "%s", k.channel);
}

static void
room_subscribe(gw_node *n, gw_room *x)
{
    char ch[CH_KEY_MAX];
    room_channel(n, x, ch, sizeof(ch));
    if (gw_broker_subscribe(n->broker, ch) == 0) x->sub = SUB_SUBSCRIBING;
}

/* Called when a room may have become unused. */
static void
room_release(gw_node *n, gw_room *x)
{
    if (x->nmembers > 0) return;
    if (x->sub == SUB_SUBSCRIBED) {
        char ch[CH_KEY_MAX];
        room_channel(n, x, ch, sizeof(ch));
        if (gw_broker_unsubscribe(n->broker, ch) == 0) {
            x->sub = SUB_UNSUBSCRIBING;
            return;
        }
        x->sub = SUB_NONE;
    }
    if (x->sub == SUB_NONE) room_free(n->rooms, x);
    /* SUBSCRIBING / UNSUBSCRIBING: decided when Redis confirms. */
}

void
gw_rooms_free(gw_rooms *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        gw_room *x = r->buckets[i], *next;
        for (; x; x = next) { next = x->hnext; free(x); }
    }
    free(r->buckets);
    free(r);
}

/* ---- memberships ----------------------------------------------------------- */

gw_member *
gw_member_find(gw_session *s, const char *room)
{
    for (gw_member *m = s->members; m; m = m->snext)
        if (strcmp(m->room->id, room) == 0) return m;
    return NULL;
}

static member_ctx *
ctx_new(gw_member *m)
{
    member_ctx *c = malloc(sizeof(*c));
    if (!c) return NULL;
    c->s = m->s;
    c->gen = m->gen;
    snprintf(c->room, sizeof(c->room), "%s", m->room->id);
    gw_session_ref(m->s);
    return c;
}

/* Returns the membership a reply is about, if it still exists; frees ctx. */
static gw_member *
ctx_take(member_ctx *c, gw_session **sp)
{
    gw_session *s = c->s;
    gw_member *m = NULL;
    if (s->state != GW_S_CLOSED) {
        m = gw_member_find(s, c->room);
        if (m && m->gen != c->gen) m = NULL;
    }
    free(c);
    *sp = s;  /* caller unrefs */
    return m;
}

static void
pending_clear(gw_member *m)
{
    gw_pending *p = m->pending, *next;
    for (; p; p = next) {
        next = p->next;
        gw_msg_release(p->msg);
        free(p);
    }
    m->pending = m->pending_tail = NULL;
    m->npending = 0;
}

static void
pending_hold(gw_member *m, gw_msg *msg)
{
    if (m->npending >= GW_MAX_PENDING) {
        /* Everything held is also in the room stream: read it from there. */
        pending_clear(m);
        m->overflow = 1;
    }
    gw_pending *p = malloc(sizeof(*p));
    if (!p) { m->overflow = 1; return; }
    p->next = NULL;
    p->msg = msg;
    msg->refs++;
    if (m->pending_tail) m->pending_tail->next = p; else m->pending = p;
    m->pending_tail = p;
    m->npending++;
}

static void
member_send_snapshot_required(gw_member *m, int64_t seq, int64_t epoch)
{
    ch_buf *b = &m->s->node->scratch;
    GW_INC(snapshot_required_total);
    ch_buf_reset(b);
    ch_buf_puts(b, "{\"type\":\"error\",");
    if (m->join_id && !m->joined_sent) ch_buf_printf(b, "\"id\":%s,", m->join_id);
    ch_buf_printf(b, "\"code\":\"%s\",\"room\":\"%s\",\"seq\":%lld,\"epoch\":%lld,"
                     "\"message\":\"the room's history no longer reaches your position: "
                     "load the snapshot, then join with its seq as since\"}",
                  CH_ERR_SNAPSHOT_REQUIRED, m->room->id, (long long)seq, (long long)epoch);
    gw_session_send_buf(m->s, b);
}

/* Fails a membership the client has not been told about yet, or tells it
 * its room must be reloaded, and removes it. */
static void
member_fail(gw_member *m, const char *code, const char *message)
{
    if (!m->joined_sent)
        gw_session_send_error(m->s, m->join_id ? m->join_id : "", code, message, m->room->id);
    else
        gw_session_send_error(m->s, "", code, message, m->room->id);
    member_remove(m, 1);
}

static void
member_deliver_json(gw_member *m, const char *json, size_t len, int64_t seq)
{
    m->last_seq = seq;
    if (gw_session_send_json(m->s, json, len) == 0) GW_INC(catchup_events_total);
}

static void
on_fetch_reply(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    redisReply *reply = r;
    gw_session *s;
    gw_member *m = ctx_take(priv, &s);

    if (m) {
        m->fetching = 0;
        if (!reply) {
            /* Redis went away: the down handler resyncs joined members. */
        } else if (reply->type != REDIS_REPLY_ARRAY) {
            member_fail(m, CH_ERR_UNAVAILABLE, "catch-up read failed; rejoin with since");
        } else {
            int gap = 0;
            for (size_t i = 0; i < reply->elements && !gap; i++) {
                redisReply *e = reply->element[i];
                if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
                long long seq = strtoll(e->element[0]->str, NULL, 10);
                redisReply *f = e->element[1];
                if (seq <= m->last_seq) continue;
                if (seq != m->last_seq + 1) { gap = 1; break; }
                if (f->type == REDIS_REPLY_ARRAY && f->elements >= 2)
                    member_deliver_json(m, f->element[1]->str, f->element[1]->len, seq);
            }
            if (gap || (reply->elements == 0 && m->pending &&
                        m->pending->msg->seq > m->last_seq + 1 && !m->overflow)) {
                /* The stream was trimmed past our position. */
                member_send_snapshot_required(m, m->last_seq, m->epoch);
                member_remove(m, 1);
            } else if (reply->elements >= (size_t)s->node->cfg->catchup_page) {
                member_fetch(m);
            } else {
                member_drain(m);
            }
        }
    }
    gw_session_unref(s);
}

/* Reads the room stream from last_seq + 1. */
static void
member_fetch(gw_member *m)
{
    gw_node *n = m->s->node;
    ch_room_keys k;
    char start[32], count[16];

    m->state = GW_M_SYNCING;
    if (m->fetching) return;
    member_ctx *c = ctx_new(m);
    if (!c) return;
    ch_room_keys_build(&k, m->room->id, n->cfg->partitions);
    snprintf(start, sizeof(start), "%lld-0", (long long)(m->last_seq + 1));
    snprintf(count, sizeof(count), "%d", n->cfg->catchup_page);
    const char *argv[6] = { "XRANGE", k.stream, start, "+", "COUNT", count };
    if (gw_broker_command(n->broker, on_fetch_reply, c, 6, argv, NULL) < 0) {
        gw_session_unref(c->s);
        free(c);
        return; /* down: resynced on up */
    }
    m->fetching = 1;
}

/* Delivers held live events in order; goes LIVE or reads the next gap. */
static void
member_drain(gw_member *m)
{
    while (m->pending) {
        gw_pending *p = m->pending;
        gw_msg *msg = p->msg;
        if (msg->epoch != m->epoch) {
            member_send_snapshot_required(m, m->last_seq, msg->epoch);
            member_remove(m, 1);
            return;
        }
        if (msg->seq > m->last_seq + 1) {
            member_fetch(m);
            return;
        }
        if (msg->seq == m->last_seq + 1) {
            m->last_seq = msg->seq;
            if (gw_session_send_msg(m->s, msg) == 0) GW_INC(events_delivered_total);
            if (m->s->state != GW_S_OPEN) return;
        }
        m->pending = p->next;
        if (!m->pending) m->pending_tail = NULL;
        m->npending--;
        gw_msg_release(msg);
        free(p);
    }
    if (m->overflow) {
        m->overflow = 0;
        member_fetch(m);
        return;
    }
    m->state = GW_M_LIVE;
}

static void
append_presence_list(ch_buf *b, const redisReply *list)
{
    ch_buf_puts(b, "[");
    for (size_t i = 0; list && i < list->elements; i++) {
        if (list->element[i]->type != REDIS_REPLY_STRING) continue;
        if (i) ch_buf_puts(b, ",");
        ch_buf_append(b, list->element[i]->str, list->element[i]->len);
    }
    ch_buf_puts(b, "]");
}

static void
on_join_reply(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    redisReply *reply = r;
    gw_session *s;
    gw_member *m = ctx_take(priv, &s);

    if (!m) goto out;
    if (!reply) {
        if (!m->joined_sent) member_fail(m, CH_ERR_UNAVAILABLE, "Redis is unavailable; retry");
        else m->state = GW_M_WAIT_SUB;
        goto out;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        if (strncmp(reply->str, "NOSCRIPT", 8) == 0) gw_broker_scripts_lost(s->node->broker);
        CH_WARN("join script failed", " room=%s error=\"%.*s\"", m->room->id, (int)reply->len, reply->str);
        member_fail(m, CH_ERR_UNAVAILABLE, "join failed; retry");
        goto out;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 6) {
        member_fail(m, CH_ERR_UNAVAILABLE, "join failed; retry");
        goto out;
    }
    long long status = reply->element[0]->integer;
    long long seq = reply->element[1]->integer;
    long long epoch = reply->element[2]->integer;
    redisReply *events = reply->element[3];
    redisReply *presence = reply->element[4];
    int more = reply->element[5]->integer != 0;

    if (status == 2) {
        member_fail(m, CH_ERR_FORBIDDEN, "not a member of this room's workspace");
        goto out;
    }
    if (status != 0) {
        /* join.lua added no presence; a resyncing member still has its old entry. */
        member_send_snapshot_required(m, seq, epoch);
        member_remove(m, m->joined_sent);
        goto out;
    }
    m->epoch = epoch;
    if (!m->resync) m->last_seq = m->since >= 0 ? m->since : seq;
    m->resync = 0;
    if (!m->joined_sent) {
        ch_buf *b = &s->node->scratch;
        ch_buf_reset(b);
        ch_buf_puts(b, "{\"type\":\"joined\",");
        if (m->join_id) ch_buf_printf(b, "\"id\":%s,", m->join_id);
        ch_buf_printf(b, "\"room\":\"%s\",\"seq\":%lld,\"epoch\":%lld,\"presence\":",
                      m->room->id, seq, epoch);
        append_presence_list(b, presence);
        ch_buf_puts(b, "}");
        gw_session_send_buf(s, b);
        m->joined_sent = 1;
        free(m->join_id);
        m->join_id = NULL;
    }
    for (size_t i = 0; i < events->elements && s->state == GW_S_OPEN; i++) {
        redisReply *e = events->element[i];
        if (e->type == REDIS_REPLY_STRING) member_deliver_json(m, e->str, e->len, m->last_seq + 1);
    }
    if (s->state != GW_S_OPEN) goto out;
    if (more) member_fetch(m);
    else member_drain(m);
out:
    gw_session_unref(s);
}

static void
member_start_join(gw_member *m)
{
    gw_node *n = m->s->node;
    ch_room_keys k;
    char since[24], epoch[24], page[16], ttl[16], room_json[CH_ROOM_MAX + 3];

    m->state = GW_M_JOINING;
    ch_room_keys_build(&k, m->room->id, n->cfg->partitions);
    snprintf(since, sizeof(since), "%lld", (long long)(m->resync ? m->last_seq : m->since));
    snprintf(epoch, sizeof(epoch), "%lld", (long long)(m->resync ? m->epoch : m->since_epoch));
    snprintf(page, sizeof(page), "%d", n->cfg->catchup_page);
    snprintf(ttl, sizeof(ttl), "%d", n->cfg->presence_ttl * 1000);
    snprintf(room_json, sizeof(room_json), "\"%s\"", m->room->id);
    const char *args[13] = { k.meta, k.stream, k.presence, k.channel, k.acl,
                             since, epoch, page, m->s->presence, ttl, room_json, m->s->user,
                             n->cfg->room_acl_required ? "1" : "0" };
    member_ctx *c = ctx_new(m);
    if (!c || gw_broker_script(n->broker, GW_SCRIPT_JOIN, on_join_reply, c, 5, 13, args, NULL) < 0) {
        if (c) { gw_session_unref(c->s); free(c); }
        if (!m->joined_sent) member_fail(m, CH_ERR_UNAVAILABLE, "Redis is unavailable; retry");
        else m->state = GW_M_WAIT_SUB;
    }
}

void
gw_room_join(gw_session *s, const ch_request *req)
{
    gw_node *n = s->node;
    gw_member *m = gw_member_find(s, req->room);

    if (m) member_remove(m, 1); /* a re-join restarts from the given since */
    if (s->nrooms >= n->cfg->max_rooms) {
        gw_session_send_error(s, req->id, CH_ERR_TOO_MANY_ROOMS, "room limit reached", req->room);
        return;
    }
    if (!gw_broker_up(n->broker)) {
        gw_session_send_error(s, req->id, CH_ERR_UNAVAILABLE, "Redis is unavailable; retry", req->room);
        return;
    }
    gw_room *x = room_get(n->rooms, req->room);
    if (!x || !(m = calloc(1, sizeof(*m)))) {
        if (x) room_release(n, x);
        gw_session_send_error(s, req->id, CH_ERR_UNAVAILABLE, "out of memory", req->room);
        return;
    }
    m->s = s;
    m->room = x;
    m->gen = ++n->member_gen;
    m->since = req->has_since ? req->since : -1;
    m->since_epoch = req->has_epoch ? req->epoch : -1;
    m->last_seq = -1;
    m->state = GW_M_WAIT_SUB;
    if (req->id[0]) m->join_id = strdup(req->id);
    /* Link into both lists. */
    m->rnext = x->members;
    if (x->members) x->members->rprev = m;
    x->members = m;
    x->nmembers++;
    m->snext = s->members;
    s->members = m;
    s->nrooms++;

    switch (x->sub) {
    case SUB_NONE: room_subscribe(n, x); break;
    case SUB_SUBSCRIBED: member_start_join(m); break;
    default: break; /* confirmation pending */
    }
}

/* Unlinks and frees a membership; announce: send the presence leave. */
static void
member_remove(gw_member *m, int announce)
{
    gw_session *s = m->s;
    gw_room *x = m->room;
    gw_node *n = s->node;

    if (announce && (m->state != GW_M_WAIT_SUB || m->joined_sent) && gw_broker_up(n->broker)) {
        ch_room_keys k;
        char room_json[CH_ROOM_MAX + 3];
        ch_room_keys_build(&k, x->id, n->cfg->partitions);
        snprintf(room_json, sizeof(room_json), "\"%s\"", x->id);
        const char *args[6] = { k.presence, k.channel, "leave", "0", room_json, s->presence };
        gw_broker_script(n->broker, GW_SCRIPT_PRESENCE, NULL, NULL, 2, 6, args, NULL);
    }
    if (m->rprev) m->rprev->rnext = m->rnext; else x->members = m->rnext;
    if (m->rnext) m->rnext->rprev = m->rprev;
    x->nmembers--;
    gw_member **pp = &s->members;
    while (*pp && *pp != m) pp = &(*pp)->snext;
    if (*pp) *pp = m->snext;
    s->nrooms--;
    pending_clear(m);
    free(m->join_id);
    free(m);
    room_release(n, x);
}

void
gw_member_leave(gw_member *m)
{
    member_remove(m, 1);
}

/* ---- broker events ---------------------------------------------------------- */

/* Parses "<seq>:<epoch>\n" after the type byte; returns the JSON start. */
static const char *
parse_event_header(const char *msg, size_t len, int64_t *seq, int64_t *epoch)
{
    const char *end = memchr(msg, '\n', len);
    if (!end) return NULL;
    char *p;
    *seq = strtoll(msg + 1, &p, 10);
    if (*p != ':') return NULL;
    *epoch = strtoll(p + 1, &p, 10);
    return p == end ? end + 1 : NULL;
}

void
gw_rooms_on_message(gw_node *n, const char *room, size_t len, const char *msg, size_t mlen)
{
    gw_room *x = room_find(n->rooms, room, len);
    if (!x || mlen < 2 || !x->members) return;

    const char *nl = memchr(msg, '\n', mlen);
    if (!nl) return;
    const char *json = nl + 1;
    size_t jlen = mlen - (size_t)(json - msg);
    int64_t seq = 0, epoch = 0;
    char type = msg[0];
    const char *target = msg + 1;
    size_t tlen = (size_t)(nl - target);

    if (type == 'E' && !parse_event_header(msg, mlen, &seq, &epoch)) return;
    if (type == 'D') {
        if (tlen < 1) return;
        target++;
        tlen--;
    }
    gw_msg *shared = gw_msg_new(json, jlen, seq, epoch);
    if (!shared) return;

    gw_member *m = x->members, *next;
    for (; m; m = next) {
        next = m->rnext; /* m may be removed below */
        gw_session *s = m->s;
        switch (type) {
        case 'E':
            if (m->state != GW_M_LIVE) { pending_hold(m, shared); break; }
            if (epoch != m->epoch) {
                member_send_snapshot_required(m, m->last_seq, epoch);
                member_remove(m, 1);
                break;
            }
            if (seq <= m->last_seq) break;
            if (seq == m->last_seq + 1) {
                m->last_seq = seq;
                if (gw_session_send_msg(s, shared) == 0) GW_INC(events_delivered_total);
            } else {
                pending_hold(m, shared);
                member_fetch(m);
            }
            break;
        case 'X': /* ephemeral: "X<sender session>" — not echoed to the sender */
            if (m->joined_sent && !(strlen(s->id) == tlen && memcmp(s->id, target, tlen) == 0))
                gw_session_send_msg(s, shared);
            break;
        case 'P':
            if (m->joined_sent) gw_session_send_msg(s, shared);
            break;
        case 'K': /* kick: "K<user>" — removed from the room's access list */
            if (strlen(s->user) == tlen && memcmp(s->user, target, tlen) == 0) {
                gw_session_send_msg(s, shared);
                member_remove(m, 1);
            }
            break;
        case 'D': { /* direct: "Ds<session>" or "Du<user>" */
            const char *who = msg[1] == 'u' ? s->user : s->id;
            if (m->joined_sent && strlen(who) == tlen && memcmp(who, target, tlen) == 0)
                gw_session_send_msg(s, shared);
            break;
        }
        default:
            break;
        }
    }
    gw_msg_release(shared);
}

void
gw_rooms_on_subscribed(gw_node *n, const char *room, size_t len)
{
    gw_room *x = room_find(n->rooms, room, len);
    if (!x) return;
    x->sub = SUB_SUBSCRIBED;
    if (!x->members) { room_release(n, x); return; }
    gw_member *m = x->members, *next;
    for (; m; m = next) {
        next = m->rnext;
        if (m->state == GW_M_WAIT_SUB) member_start_join(m);
    }
}

void
gw_rooms_on_unsubscribed(gw_node *n, const char *room, size_t len)
{
    gw_room *x = room_find(n->rooms, room, len);
    if (!x || x->sub != SUB_UNSUBSCRIBING) return;
    x->sub = SUB_NONE;
    if (x->members) room_subscribe(n, x);
    else room_free(n->rooms, x);
}

void
gw_rooms_on_down(gw_node *n)
{
    gw_rooms *r = n->rooms;
    for (size_t i = 0; i < r->nbuckets; i++) {
        gw_room *x = r->buckets[i], *xnext;
        for (; x; x = xnext) {
            xnext = x->hnext;
            x->sub = SUB_NONE; /* Redis forgot every subscription */
            if (!x->members) { room_free(r, x); continue; }
            /* Failing the last member frees the room: do not touch x after. */
            gw_member *m = x->members, *next;
            for (; m; m = next) {
                next = m->rnext;
                if (!m->joined_sent) {
                    member_fail(m, CH_ERR_UNAVAILABLE, "Redis is unavailable; retry");
                    continue;
                }
                pending_clear(m);
                m->state = GW_M_WAIT_SUB;
                m->resync = 1;
                m->fetching = 0;
                m->overflow = 0;
            }
        }
    }
}

void
gw_rooms_on_up(gw_node *n)
{
    gw_rooms *r = n->rooms;
    for (size_t i = 0; i < r->nbuckets; i++)
        for (gw_room *x = r->buckets[i]; x; x = x->hnext)
            if (x->members && x->sub == SUB_NONE) room_subscribe(n, x);
}

void
gw_rooms_refresh_presence(gw_node *n)
{
    gw_rooms *r = n->rooms;
    char ttl[16], room_json[CH_ROOM_MAX + 3];
    const char *args[5 + PRESENCE_BATCH];
    ch_room_keys k;

    if (!gw_broker_up(n->broker)) return;
    snprintf(ttl, sizeof(ttl), "%d", n->cfg->presence_ttl * 1000);
    for (size_t i = 0; i < r->nbuckets; i++) {
        for (gw_room *x = r->buckets[i]; x; x = x->hnext) {
            if (!x->members) continue;
            ch_room_keys_build(&k, x->id, n->cfg->partitions);
            snprintf(room_json, sizeof(room_json), "\"%s\"", x->id);
            args[0] = k.presence; args[1] = k.channel; args[2] = "refresh";
            args[3] = ttl; args[4] = room_json;
            int na = 5;
            for (gw_member *m = x->members; m; m = m->rnext) {
                if (!m->joined_sent) continue;
                args[na++] = m->s->presence;
                if (na == 5 + PRESENCE_BATCH) {
                    gw_broker_script(n->broker, GW_SCRIPT_PRESENCE, NULL, NULL, 2, na, args, NULL);
                    na = 5;
                }
            }
            if (na > 5) gw_broker_script(n->broker, GW_SCRIPT_PRESENCE, NULL, NULL, 2, na, args, NULL);
        }
    }
}
