/*
 * gateway.h — the types shared by the gateway's subsystems (one worker
 * process = one node): the node, WebSocket sessions, rooms, room
 * memberships and shared outbound messages.
 *
 * Ownership and lifetimes
 *  - gw_node owns every session (node->sessions list) and every room (room
 *    index). One node per process; nothing is shared between processes but
 *    the listening port and the metrics block.
 *  - A session is reference counted: the node list holds one reference and
 *    every in-flight Redis request about it holds one. Closing a session
 *    (gw_session_destroy) detaches it from rooms and sockets at once and
 *    drops the list's reference; its memory goes when the last reference
 *    does, so a Redis reply for a closed session finds state CLOSED and is
 *    ignored. Callbacks hold a reference while they run, so a session is
 *    never freed under its own callback.
 *  - A membership (gw_member) links one session and one room; it is on the
 *    room's member list and the session's member list at the same time,
 *    always both or neither.
 *  - A gw_msg is one encoded WebSocket frame shared by reference count
 *    between every local socket it goes to.
 */
#ifndef CHORUS_GW_GATEWAY_H
#define CHORUS_GW_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "broker.h"
#include "config.h"
#include "jwt_auth.h"
#include "protocol.h"
#include "ws_codec.h"

typedef struct gw_session gw_session;
typedef struct gw_room gw_room;
typedef struct gw_member gw_member;
typedef struct gw_rooms gw_rooms;

/* ---- node ---------------------------------------------------------------- */

typedef struct gw_node {
    struct event_base *base;
    const gw_config *cfg;
    char node_id[64];          /* this process's node id towards Redis */
    int worker;                /* worker index, 0-based */
    ch_jwt_config jwt;         /* built from cfg once */
    gw_broker *broker;
    gw_rooms *rooms;
    gw_session *sessions;      /* all sessions: doubly linked via prev/next */
    int nsessions;
    uint64_t session_seq;      /* for session ids */
    uint32_t boot;             /* random per process start, part of session ids */
    uint32_t member_gen;       /* last membership generation handed out */
    int draining;              /* SIGTERM received */
    uint64_t drain_deadline_ms;
    struct event *tick;        /* 1 s housekeeping (pings, timeouts, presence) */
    struct event *drain_tick;  /* 100 ms while draining */
    void *http;                /* the HTTP server (http.c) */
    ch_buf scratch;            /* reusable encode buffer for the loop thread */
} gw_node;


/* node.c */
int gw_node_init(gw_node *n, struct event_base *base, const gw_config *cfg, int worker);
void gw_node_start_drain(gw_node *n);
void gw_node_fini(gw_node *n);

/* ---- shared outbound messages -------------------------------------------- */

typedef struct gw_msg {
    uint32_t refs;
    uint32_t len;              /* bytes in data: one complete WebSocket frame */
    int64_t seq;               /* durable events: the seq; else 0 */
    int64_t epoch;
    uint8_t data[];
} gw_msg;

/* Frames json (text opcode) into a new message with one reference. */
gw_msg *gw_msg_new(const char *json, size_t len, int64_t seq, int64_t epoch);
void gw_msg_release(gw_msg *m);

/* ---- sessions (session.c) ------------------------------------------------- */

typedef enum { GW_S_OPEN = 0, GW_S_CLOSING, GW_S_CLOSED } gw_session_state;

#define GW_SESSION_ID_MAX 80

struct gw_session {
    gw_node *node;
    gw_session *prev, *next;       /* node->sessions */
    struct bufferevent *bev;       /* owned; NULL once closed */
    ch_ws_parser *parser;          /* owned */
    gw_member *members;            /* memberships, linked by snext */
    int nrooms;
    uint32_t refs;
    uint8_t state;                 /* gw_session_state */
    uint8_t pings_unanswered;      /* pings sent since the client last sent anything */
    uint8_t peer_closed;           /* the client sent its close frame (or the connection
                                      failed): free it once our close frame is out */
    char id[GW_SESSION_ID_MAX];    /* "<node>.<boot>.<n>": unique across the cluster */
    char user[CH_JWT_SUB_MAX + 1]; /* JWT sub */
    char *presence;                /* {"user":..,"name":..,"session":..}; owned */
    char *user_json;               /* user id as a JSON string literal; owned */
    int64_t token_exp;             /* seconds since the epoch */
    uint64_t last_rx_ms;           /* monotonic: last bytes from the client */
    uint64_t last_msg_ms;          /* monotonic: last data message from the client */
    uint64_t drain_at_ms;          /* monotonic: when to close during a drain; 0 = unset */
    uint64_t closing_since_ms;
    double tokens;                 /* publish rate bucket */
    uint64_t tokens_ms;
    uint32_t rate_strikes;         /* refused requests in the current second */
    uint64_t strikes_ms;
};

/* Sends the welcome message (again, for a hello; id may be ""). */
void gw_session_welcome(gw_session *s, const char *id);
/* Takes over a connection that just completed the upgrade. Sends welcome. */
gw_session *gw_session_new(gw_node *n, struct bufferevent *bev, const ch_jwt_claims *claims);
void gw_session_ref(gw_session *s);
void gw_session_unref(gw_session *s);

/* Queues a text message (copied). Returns -1 if the session is not open or
 * was just closed as a slow consumer. */
int gw_session_send_json(gw_session *s, const char *json, size_t len);
int gw_session_send_buf(gw_session *s, const ch_buf *b);
/* Queues a shared frame (referenced or copied, never re-encoded). */
int gw_session_send_msg(gw_session *s, gw_msg *m);
/* Sends an error message. */
void gw_session_send_error(gw_session *s, const char *id, const char *code, const char *msg,
                           const char *room);
/* Starts the close handshake with code and reason. */
void gw_session_close(gw_session *s, uint16_t code, const char *reason);
/* Drops the connection and every membership now. */
void gw_session_destroy(gw_session *s);
/* Housekeeping once per tick: pings, timeouts, token expiry, drain. */
void gw_session_tick(gw_session *s, uint64_t mono, int64_t wall_s);

/* ---- requests (handlers.c) ------------------------------------------------ */

void gw_handle_request(gw_session *s, ch_request *req);

/* ---- rooms and memberships (room.c) --------------------------------------- */

typedef enum {
    GW_M_WAIT_SUB = 0,  /* waiting for the room's subscription to be confirmed */
    GW_M_JOINING,       /* join script in flight */
    GW_M_SYNCING,       /* joined; reading the stream to close a gap */
    GW_M_LIVE           /* joined; in order with the live channel */
} gw_member_state;

typedef struct gw_pending {
    struct gw_pending *next;
    gw_msg *msg;        /* one reference */
} gw_pending;

struct gw_member {
    gw_session *s;
    gw_room *room;
    gw_member *rprev, *rnext;      /* room->members */
    gw_member *snext;              /* s->members */
    int64_t last_seq;              /* last seq delivered to the client */
    int64_t epoch;
    int64_t since;                 /* requested since (-1 = live only) */
    int64_t since_epoch;           /* -1 = not given */
    uint8_t state;                 /* gw_member_state */
    uint8_t fetching;              /* a stream read is in flight */
    uint8_t joined_sent;           /* the client got "joined" */
    uint8_t resync;                /* re-joining after a Redis outage: no "joined" */
    uint8_t overflow;              /* pending buffer overflowed since the last read */
    uint16_t npending;
    gw_pending *pending, *pending_tail;  /* live events held while not LIVE */
    char *join_id;                 /* request id of the join, JSON text; owned; NULL after reply */
    uint32_t gen;                  /* identifies this membership in Redis callbacks */
};

gw_rooms *gw_rooms_new(gw_node *n);
void gw_rooms_free(gw_rooms *r);
size_t gw_rooms_count(const gw_rooms *r);

gw_member *gw_member_find(gw_session *s, const char *room);
/* Starts a join; replies (joined / error) arrive later. */
void gw_room_join(gw_session *s, const ch_request *req);
/* Removes a membership (announcing the presence leave). */
void gw_member_leave(gw_member *m);
/* Broker events. */
void gw_rooms_on_message(gw_node *n, const char *room, size_t len, const char *msg, size_t mlen);
void gw_rooms_on_subscribed(gw_node *n, const char *room, size_t len);
void gw_rooms_on_unsubscribed(gw_node *n, const char *room, size_t len);
void gw_rooms_on_up(gw_node *n);
void gw_rooms_on_down(gw_node *n);
/* Refreshes this node's presence entries (every presence_ttl / 3). */
void gw_rooms_refresh_presence(gw_node *n);

#endif
