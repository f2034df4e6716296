/*
 * lt_conn.h — one client WebSocket connection of the load tester, on a
 * libevent bufferevent (no thread per socket).
 *
 *   IDLE --lt_conn_start--> CONNECTING --TCP up--> UPGRADING --101 + valid
 *    ^                          |                      |       accept--> OPEN
 *    |                          | refused/timeout      | other status,    |
 *    |                          v                      v bad accept       |
 *    +------------------- on_closed(err) <-------------+------------------+
 *    |                                                   EOF, reset, close
 *    +---- lt_conn_close (local, no callback) ---------- frame, protocol error
 *
 * The upgrade request (with the token in an "Authorization: Bearer"
 * header, a ?token= query parameter or a "bearer.<token>" subprotocol
 * entry) is queued right after the connect is started. In OPEN, server frames go through
 * the codec (client role: frames must be unmasked); text messages are handed
 * to ops.on_text, pings are answered with pongs, a close frame is echoed
 * and ends the connection with an error kind naming its code.
 *
 * Invariants
 *  - A connection is never torn down while its read callback is on the
 *    stack: closes requested there are deferred to the end of the callback
 *    (the parser owns the bytes on_text is looking at).
 *  - on_closed is called exactly once per connection that ends for a
 *    reason other than lt_conn_close, after its resources are released, so
 *    the callee may start the connection again.
 *  - Memory per idle OPEN connection: this struct, the bufferevent and its
 *    two empty evbuffers, and the parser without a message buffer (it is
 *    shrunk after every read).
 */
#ifndef CHORUS_LT_CONN_H
#define CHORUS_LT_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "lt_config.h"
#include "lt_stats.h"
#include "ws_codec.h"

struct event_base;
struct bufferevent;
typedef struct lt_conn lt_conn;

typedef struct {
    /* A complete text message (valid UTF-8, not NUL-terminated). */
    void (*on_text)(lt_conn *c, const char *msg, size_t len);
    /* The connection ended: err is an lt_error_kind. */
    void (*on_closed)(lt_conn *c, int err);
} lt_conn_ops;

/* Shared by every connection of a worker. */
typedef struct {
    struct event_base *base;      /* not owned */
    lt_conn_ops ops;
    lt_counts *counts;            /* bytes in/out are added here; not owned */
    uint64_t rng;                 /* xorshift64 state for keys and masks */
    struct timeval handshake;     /* connect + upgrade + welcome + joined */
    size_t max_message;           /* largest server message accepted */
} lt_net;

typedef enum { LT_CONN_IDLE = 0, LT_CONN_CONNECTING, LT_CONN_UPGRADING, LT_CONN_OPEN } lt_conn_state;

struct lt_conn {
    struct bufferevent *bev;      /* owned; NULL when IDLE */
    ch_ws_parser *parser;         /* owned; created at OPEN */
    lt_net *net;                  /* not owned */
    char accept[29];              /* expected Sec-WebSocket-Accept */
    uint8_t state;                /* lt_conn_state */
    uint8_t in_read;              /* inside on_read: teardown deferred */
    uint8_t doomed;               /* teardown requested inside on_read */
    int8_t doomed_err;            /* error to report then, or -1 for a local close */
};

/* Starts connecting (binding to src first if not NULL) and queues the
 * upgrade request carrying the token as via (lt_token_via) says. Returns 0,
 * or -1 with *err set (nothing to clean up). */
int lt_conn_start(lt_conn *c, lt_net *net, const lt_url *url, const lt_source *src, const char *token,
                  size_t token_len, int via, int *err);

/* Sends one text message (masked frame). Returns 0, or -1 if not OPEN. */
int lt_conn_send_text(lt_conn *c, const char *msg, size_t len);

/* Ends the connection without a callback (deferred inside on_read). */
void lt_conn_close(lt_conn *c);

/* The session is set up: stop the handshake timeout. */
void lt_conn_handshake_done(lt_conn *c);

/* xorshift64* step over net->rng. */
uint64_t lt_net_random(lt_net *net);

#endif
