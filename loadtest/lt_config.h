/*
 * lt_config.h — the load tester's command line, and the layout of the
 * simulated clients it implies.
 *
 * Layout: clients have global indexes 0 .. total-1. Indexes below
 * --connections are the subscribers (in chat each also publishes); in
 * fanout, whiteboard and reconnect-storm the next --publishers indexes are
 * the publishers, separate connections that are members of their room too.
 * Subscriber g is in room g % rooms, publisher p in room p % rooms.
 * Client g uses URL g % nurls (moving on to the next URL with every
 * reconnect), source address (g / nurls) % nsources and token placement
 * g % ntoken_via, and is run by worker process g % procs.
 */
#ifndef CHORUS_LT_CONFIG_H
#define CHORUS_LT_CONFIG_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "lt_slo.h"

#define LT_MAX_URLS     64
#define LT_MAX_SOURCES  64
#define LT_PREFIX_MAX   48
#define LT_SOCKETS_PER_PROC 15000

typedef enum {
    LT_SC_FANOUT = 0, LT_SC_CHAT, LT_SC_WHITEBOARD, LT_SC_CONNECT_STORM, LT_SC_RECONNECT_STORM,
    LT_SC_IDLE, LT_SC_COUNT
} lt_scenario;

extern const char *const lt_scenario_names[LT_SC_COUNT];

typedef struct {
    char text[256];                 /* the URL as given */
    char host[200];                 /* Host header value (host[:port] as given) */
    char path[200];                 /* request target, e.g. "/ws" */
    struct sockaddr_storage addr;   /* resolved once at start */
    socklen_t addr_len;
} lt_url;

/* Where a client puts its token in the upgrade request (docs/protocol.md). */
typedef enum { LT_TOKEN_HEADER = 0, LT_TOKEN_QUERY, LT_TOKEN_SUBPROTOCOL, LT_TOKEN_VIA_COUNT } lt_token_via;

extern const char *const lt_token_via_names[LT_TOKEN_VIA_COUNT];

typedef struct {
    char text[64];                  /* the address as given */
    struct sockaddr_storage addr;   /* port 0 */
    socklen_t addr_len;
} lt_source;

typedef struct {
    lt_scenario scenario;
    lt_url urls[LT_MAX_URLS];
    int nurls;
    lt_source sources[LT_MAX_SOURCES];
    int nsources;
    uint8_t token_via[LT_TOKEN_VIA_COUNT]; /* --token-via: placements, round-robin over clients */
    int ntoken_via;
    const char *token;              /* --token: one token for every client (not owned) */
    const char *secret;             /* --secret: mint one token per client (not owned) */
    long connections;               /* subscribers */
    long rooms;
    long publishers;                /* separate publishers (fanout, whiteboard, reconnect-storm) */
    double rate;                    /* publishes per second, total; 0 = window-limited */
    long window;                    /* in-flight publishes per publisher when rate is 0 */
    long payload;                   /* payload padding bytes */
    double ramp_up;                 /* seconds over which connects are spread */
    double duration;                /* seconds of traffic (or holding) */
    double drop_at;                 /* reconnect-storm: seconds into the run to drop; <0 = duration/2 */
    double drain;                   /* seconds to wait for deliveries after the run */
    double handshake_timeout;       /* seconds for connect + upgrade + welcome + joined */
    long max_pending;               /* connects in progress per worker */
    long stroke_points;             /* whiteboard: ephemeral points per durable stroke */
    int reconnect;                  /* reconnect joined clients whose connection ends (default 1) */
    double backoff_min;             /* seconds: cap of the first reconnect delay */
    double backoff_max;             /* seconds: largest reconnect delay */
    long procs;                     /* worker processes */
    const char *json_path;          /* --json FILE or NULL */
    const char *html_path;          /* --html FILE or NULL */
    const char *slo_text;           /* --slo as given, or NULL */
    lt_slo slo;
    char room_prefix[LT_PREFIX_MAX + 1];
    int quiet;
} lt_config;

/* Parses argv into *cfg (resolving URLs, which may block briefly: call
 * before any event loop). Returns 0 to run, 1 if help was printed to out,
 * -1 on a usage error (message in err). Reads CHORUS_LOADTEST_SECRET and
 * CHORUS_LOADTEST_TOKEN when neither --secret nor --token is given. */
int lt_config_parse(int argc, char **argv, lt_config *cfg, FILE *out, char *err, size_t errlen);

void lt_config_usage(FILE *out);

/* Layout helpers (see the top of this file). */
long lt_config_separate_publishers(const lt_config *cfg);
long lt_config_total_clients(const lt_config *cfg);
int lt_config_is_publisher(const lt_config *cfg, long g);
long lt_config_room_of(const lt_config *cfg, long g);
/* Index of publisher g among all publishers, and their number. */
long lt_config_publisher_index(const lt_config *cfg, long g);
long lt_config_publisher_count(const lt_config *cfg);
/* 1 if clients join their room (all scenarios but connect-storm, whose
 * clients stop at the welcome so the handshake path is measured alone). */
int lt_config_joins(const lt_config *cfg);
/* 1 if clients that lost their connection after joining reconnect and
 * rejoin (--reconnect, in every scenario that joins). */
int lt_config_reconnects(const lt_config *cfg);
/* The scenario's default latency histogram for SLOs (lt_hist_id). */
int lt_config_main_hist(const lt_config *cfg);

#endif
