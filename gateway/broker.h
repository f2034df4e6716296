/*
 * broker.h — the gateway's link to Redis: one command connection and one
 * subscriber connection (async hiredis on the node's event loop), script
 * loading, reconnect with backoff, and stall detection.
 *
 * The broker is "up" when both connections are established, the Lua scripts
 * are loaded and the node's heartbeat channel is subscribed. While it is
 * down every command fails at once (returns -1), so callers answer
 * "unavailable" instead of waiting. When it comes back up it calls on_up,
 * and the caller resubscribes its rooms: hiredis forgets subscriptions with
 * the connection.
 */
#ifndef CHORUS_GW_BROKER_H
#define CHORUS_GW_BROKER_H

#include <stddef.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "config.h"

typedef enum { GW_SCRIPT_PUBLISH = 0, GW_SCRIPT_JOIN, GW_SCRIPT_PRESENCE, GW_SCRIPT_COUNT } gw_script;

typedef struct {
    /* A message on a room channel: room id (not NUL-terminated) and payload. */
    void (*on_message)(void *arg, const char *room, size_t room_len, const char *msg, size_t len);
    /* SUBSCRIBE / UNSUBSCRIBE of a room channel confirmed. */
    void (*on_subscribed)(void *arg, const char *room, size_t room_len);
    void (*on_unsubscribed)(void *arg, const char *room, size_t room_len);
    void (*on_up)(void *arg);
    void (*on_down)(void *arg);
} gw_broker_handlers;

typedef struct gw_broker gw_broker;

gw_broker *gw_broker_new(struct event_base *base, const gw_config *cfg, const char *node_id,
                         const gw_broker_handlers *h, void *arg);
/* Starts connecting (and reconnecting, until freed). */
void gw_broker_start(gw_broker *b);
void gw_broker_free(gw_broker *b);
int gw_broker_up(const gw_broker *b);

/* SUBSCRIBE / UNSUBSCRIBE a channel on the subscriber connection. -1 if down. */
int gw_broker_subscribe(gw_broker *b, const char *channel);
int gw_broker_unsubscribe(gw_broker *b, const char *channel);

/* A command on the command connection. fn gets (ctx, reply, priv); reply is
 * NULL if the connection went away before answering. fn may be NULL.
 * Returns -1 (fn not called) if the broker is down. */
int gw_broker_command(gw_broker *b, redisCallbackFn *fn, void *priv,
                      int argc, const char **argv, const size_t *argvlen);

/* EVALSHA of a loaded script: args are the keys followed by the arguments. */
int gw_broker_script(gw_broker *b, gw_script s, redisCallbackFn *fn, void *priv,
                     int nkeys, int nargs, const char **args, const size_t *lens);

/* Tells the broker a reply said NOSCRIPT (scripts flushed): it reloads them. */
void gw_broker_scripts_lost(gw_broker *b);

#endif
