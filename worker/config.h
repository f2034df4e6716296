/*
 * config.h — worker settings from flags and CHORUS_* environment variables
 * (a flag wins over its variable, which wins over the default). Parsed once
 * in main(); read-only afterwards and safe to read from any thread.
 */
#ifndef CHORUS_WK_CONFIG_H
#define CHORUS_WK_CONFIG_H

#include <stddef.h>

#include "jwt_auth.h"

typedef struct {
    char command[16];          /* "serve" (default) or "migrate" */
    char listen_host[64];
    int listen_port;           /* HTTP API, /healthz, /readyz, /metrics */
    char pg_conninfo[1024];    /* libpq connection string; secret parts never logged */
    char redis_host[256];
    int redis_port;
    char redis_password[256];  /* secret */
    unsigned partitions;       /* must equal the gateways' --partitions */
    char migrations_dir[1024];
    char consumer[64];         /* this process's name in the persistence consumer group */
    char group[64];            /* consumer group name */

    /* Persistence */
    int batch_max;             /* events per PostgreSQL transaction */
    int batch_ms;              /* longest wait to fill a batch */
    int snapshot_every;        /* events per room between snapshots */
    int snapshot_seconds;      /* or seconds since the room's last snapshot */
    int claim_idle_ms;         /* pending entries idle this long are reclaimed */

    /* API */
    int db_threads;            /* PostgreSQL connections serving the API */
    size_t snapshot_cache;     /* bytes of the API's room state cache (0: none) */
    ch_jwt_alg jwt_alg;        /* HS256 for minting; RS256/ES256 need a private key */
    char *jwt_key;             /* HS256 secret or private key PEM; owned; never logged */
    size_t jwt_key_len;
    int jwt_key_is_dev_default;
    char jwt_issuer[256];
    char jwt_audience[256];
    int access_ttl;            /* seconds an access token lives */
    int refresh_ttl;           /* seconds a refresh token lives */
    size_t max_body;           /* request body limit in bytes */
    int max_versions;          /* named versions per room at most */
    char allowed_origins[1024];/* CORS allowlist for browsers; "" = none, "*" = any */
    int log_level;
} wk_config;

/* Fills cfg. Returns 0 to run, 1 if --help was printed, -1 on error. */
int wk_config_parse(wk_config *cfg, int argc, char **argv);
void wk_config_free(wk_config *cfg);

#endif
