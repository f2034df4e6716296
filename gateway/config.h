/*
 * config.h — gateway settings from command-line flags and CHORUS_*
 * environment variables (a flag wins over its variable, which wins over the
 * default). Parsed once in main(); read-only afterwards.
 */
#ifndef CHORUS_GW_CONFIG_H
#define CHORUS_GW_CONFIG_H

#include <stddef.h>

#include "jwt_auth.h"

typedef struct {
    char listen_host[64];      /* --listen host part */
    int listen_port;           /* --listen port part */
    int workers;               /* processes sharing the port (SO_REUSEPORT) */
    char node_id[48];          /* base node id; workers append "-<n>" when > 1 */
    char redis_host[256];
    int redis_port;
    char redis_password[256];  /* secret: never logged */
    unsigned partitions;       /* room partitions (must match every node and worker) */

    ch_jwt_alg jwt_alg;
    char *jwt_key;             /* secret or PEM; owned; never logged */
    size_t jwt_key_len;
    int jwt_key_is_dev_default;
    char jwt_issuer[256];
    char jwt_audience[256];
    long jwt_leeway;

    int room_acl_required;     /* 1: a room without an access list is closed */
    char allowed_origins[1024];/* comma-separated; "" = same host only; "*" = any */

    size_t max_message;        /* bytes per WebSocket message (1009 above) */
    int max_rooms;             /* rooms one connection may join */
    int publish_rate;          /* publishes per second per connection */
    size_t outbound_limit;     /* pending bytes per connection before slow-consumer close */
    int ping_interval;         /* seconds between server pings */
    int pong_misses;           /* unanswered pings before the connection is dropped */
    int handshake_timeout;     /* seconds to complete the HTTP upgrade */
    int idle_timeout;          /* seconds a connection in no room may stay silent (0: off) */
    int drain_seconds;         /* SIGTERM: closes are spread over this window */
    long stream_window;        /* events kept per room for catch-up */
    int dedup_seconds;         /* publish retry window for (author, cid) */
    int presence_ttl;          /* seconds a presence entry lives without refresh */
    int catchup_page;          /* events per catch-up read */
    int log_level;
} gw_config;

/* Fills cfg from argv and the environment. Returns 0 to run, 1 if --help was
 * printed, -1 on a configuration error (already reported on stderr). */
int gw_config_parse(gw_config *cfg, int argc, char **argv);
void gw_config_free(gw_config *cfg);

#endif
