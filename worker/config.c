/*
 * config.c — worker settings (see config.h): one table of options, shared
 * parsing in common/options.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "log.h"
#include "options.h"

#define DEV_SECRET "chorus-dev-secret-change-me"

enum {
    O_LISTEN, O_PG, O_REDIS, O_REDIS_PASSWORD, O_PARTITIONS, O_MIGRATIONS, O_CONSUMER, O_GROUP,
    O_BATCH_MAX, O_BATCH_MS, O_SNAP_EVERY, O_SNAP_SECONDS, O_CLAIM_IDLE,
    O_DB_THREADS, O_SNAP_CACHE, O_JWT_ALG, O_JWT_SECRET, O_JWT_KEY_FILE, O_JWT_ISSUER, O_JWT_AUDIENCE,
    O_ACCESS_TTL, O_REFRESH_TTL, O_MAX_BODY, O_MAX_VERSIONS, O_ORIGINS, O_LOG_LEVEL, O_COUNT
};

static const ch_option opts[O_COUNT] = {
    [O_LISTEN]        = { "--listen", "CHORUS_WORKER_LISTEN", "0.0.0.0:8090", "HOST:PORT of the HTTP API, /healthz, /readyz, /metrics" },
    [O_PG]            = { "--pg", "CHORUS_PG", "host=127.0.0.1 port=5432 dbname=chorus user=chorus", "libpq connection string (prefer the variable when it holds a password)" },
    [O_REDIS]         = { "--redis", "CHORUS_REDIS", "127.0.0.1:6379", "Redis HOST:PORT" },
    [O_REDIS_PASSWORD]= { "--redis-password", "CHORUS_REDIS_PASSWORD", NULL, "Redis AUTH password (prefer the variable)" },
    [O_PARTITIONS]    = { "--partitions", "CHORUS_PARTITIONS", "16", "room partitions; identical on every gateway and worker" },
    [O_MIGRATIONS]    = { "--migrations", "CHORUS_MIGRATIONS", "migrations", "folder of numbered .sql migrations" },
    [O_CONSUMER]      = { "--consumer", "CHORUS_CONSUMER", NULL, "this process's consumer name (default: hostname-pid); must be unique" },
    [O_GROUP]         = { "--group", "CHORUS_GROUP", "chorus-persist", "persistence consumer group" },
    [O_BATCH_MAX]     = { "--batch-max", "CHORUS_BATCH_MAX", "1000", "events per PostgreSQL write" },
    [O_BATCH_MS]      = { "--batch-ms", "CHORUS_BATCH_MS", "20", "longest wait in ms to fill a batch" },
    [O_SNAP_EVERY]    = { "--snapshot-every", "CHORUS_SNAPSHOT_EVERY", "500", "events per room between snapshots" },
    [O_SNAP_SECONDS]  = { "--snapshot-seconds", "CHORUS_SNAPSHOT_SECONDS", "30", "seconds after which a changed room is snapshotted" },
    [O_CLAIM_IDLE]    = { "--claim-idle-ms", "CHORUS_CLAIM_IDLE_MS", "30000", "reclaim stream entries a dead consumer left pending this long" },
    [O_DB_THREADS]    = { "--db-threads", "CHORUS_DB_THREADS", "4", "PostgreSQL connections serving the API" },
    [O_SNAP_CACHE]    = { "--snapshot-cache-mb", "CHORUS_SNAPSHOT_CACHE_MB", "256", "MiB of room states the API keeps for GET /rooms/{room}/snapshot (0: none)" },
    [O_JWT_ALG]       = { "--jwt-alg", "CHORUS_JWT_ALG", "HS256", "access token algorithm: HS256, RS256 or ES256" },
    [O_JWT_SECRET]    = { "--jwt-secret", "CHORUS_JWT_SECRET", NULL, "HS256 secret shared with the gateways (prefer the variable; dev default if unset)" },
    [O_JWT_KEY_FILE]  = { "--jwt-key-file", "CHORUS_JWT_PRIVATE_KEY_FILE", NULL, "RS256/ES256 private key PEM for signing" },
    [O_JWT_ISSUER]    = { "--jwt-issuer", "CHORUS_JWT_ISSUER", NULL, "iss claim of issued tokens" },
    [O_JWT_AUDIENCE]  = { "--jwt-audience", "CHORUS_JWT_AUDIENCE", NULL, "aud claim of issued tokens" },
    [O_ACCESS_TTL]    = { "--access-ttl", "CHORUS_ACCESS_TTL", "900", "seconds an access token lives" },
    [O_REFRESH_TTL]   = { "--refresh-ttl", "CHORUS_REFRESH_TTL", "2592000", "seconds a refresh token lives" },
    [O_MAX_BODY]      = { "--max-body", "CHORUS_MAX_BODY", "262144", "largest request body in bytes (413 above)" },
    [O_MAX_VERSIONS]  = { "--max-versions", "CHORUS_MAX_VERSIONS", "200", "named versions a room keeps at most (409 for one more)" },
    [O_ORIGINS]       = { "--allowed-origins", "CHORUS_ALLOWED_ORIGINS", NULL, "comma-separated CORS origins; '*' any (default: none)" },
    [O_LOG_LEVEL]     = { "--log-level", "CHORUS_LOG_LEVEL", "info", "debug, info, warn or error" },
};

static void
usage(FILE *f, const char *prog)
{
    fprintf(f,
            "Usage: %s [serve|migrate] [options]\n\n"
            "Chorus worker. serve (default): applies migrations, persists room events from\n"
            "Redis into PostgreSQL, saves snapshots, serves the HTTP API and /healthz,\n"
            "/readyz, /metrics. migrate: applies migrations and exits.\n\nOptions:\n", prog);
    ch_options_usage(f, opts, O_COUNT);
    fprintf(f,
            "\nExamples:\n"
            "  CHORUS_JWT_SECRET=s3cret %s serve --pg 'host=db dbname=chorus user=chorus' --redis 10.0.0.5:6379\n"
            "  %s migrate --pg 'host=127.0.0.1 port=5433 dbname=chorus user=chorus'\n",
            prog, prog);
}

static int
load_private_key(wk_config *cfg, const char *path, const char *alg)
{
    cfg->jwt_key = ch_option_read_file(path, &cfg->jwt_key_len);
    if (!cfg->jwt_key) {
        fprintf(stderr, "config: cannot read --jwt-key-file %s\n", path);
        return -1;
    }
    BIO *bio = BIO_new_mem_buf(cfg->jwt_key, (int)cfg->jwt_key_len);
    EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    int want = cfg->jwt_alg == CH_JWT_RS256 ? EVP_PKEY_RSA : EVP_PKEY_EC;
    int ok = pk && EVP_PKEY_base_id(pk) == want;
    EVP_PKEY_free(pk);
    BIO_free(bio);
    if (!ok) fprintf(stderr, "config: --jwt-key-file %s is not a %s private key PEM\n", path, alg);
    return ok ? 0 : -1;
}

int
wk_config_parse(wk_config *cfg, int argc, char **argv)
{
    const char *val[O_COUNT];
    const char *cmd = NULL;
    long n;

    int r = ch_options_collect(opts, O_COUNT, argc, argv, val, &cmd, 1);
    if (r == 1) {
        usage(stdout, argv[0]);
        return 1;
    }
    if (r < 0) return -1;

    memset(cfg, 0, sizeof(*cfg));
    if (!cmd) cmd = "serve";
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0) {
        fprintf(stderr, "config: unknown command '%s': use serve or migrate\n", cmd);
        return -1;
    }
    snprintf(cfg->command, sizeof(cfg->command), "%s", cmd);
    if (ch_option_hostport("--listen", val[O_LISTEN], cfg->listen_host, sizeof(cfg->listen_host),
                           &cfg->listen_port) < 0 ||
        ch_option_hostport("--redis", val[O_REDIS], cfg->redis_host, sizeof(cfg->redis_host),
                           &cfg->redis_port) < 0)
        return -1;
    if (strlen(val[O_PG]) >= sizeof(cfg->pg_conninfo)) {
        fprintf(stderr, "config: --pg too long\n");
        return -1;
    }
    snprintf(cfg->pg_conninfo, sizeof(cfg->pg_conninfo), "%s", val[O_PG]);
    if (val[O_REDIS_PASSWORD])
        snprintf(cfg->redis_password, sizeof(cfg->redis_password), "%s", val[O_REDIS_PASSWORD]);
    snprintf(cfg->migrations_dir, sizeof(cfg->migrations_dir), "%s", val[O_MIGRATIONS]);
    if (val[O_CONSUMER]) {
        snprintf(cfg->consumer, sizeof(cfg->consumer), "%s", val[O_CONSUMER]);
    } else {
        char host[40] = "worker";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(cfg->consumer, sizeof(cfg->consumer), "%s-%d", host, (int)getpid());
    }
    snprintf(cfg->group, sizeof(cfg->group), "%s", val[O_GROUP]);

#define INT_OPT(idx, field, min, max) \
    do { if (ch_option_long(opts[idx].flag, val[idx], min, max, &n) < 0) return -1; cfg->field = n; } while (0)
    INT_OPT(O_PARTITIONS, partitions, 1, 65536);
    INT_OPT(O_BATCH_MAX, batch_max, 1, 100000);
    INT_OPT(O_BATCH_MS, batch_ms, 1, 10000);
    INT_OPT(O_SNAP_EVERY, snapshot_every, 1, 10000000);
    INT_OPT(O_SNAP_SECONDS, snapshot_seconds, 1, 86400);
    INT_OPT(O_CLAIM_IDLE, claim_idle_ms, 100, 86400000);
    INT_OPT(O_DB_THREADS, db_threads, 1, 64);
    INT_OPT(O_SNAP_CACHE, snapshot_cache, 0, 1L << 20);
    cfg->snapshot_cache <<= 20;
    INT_OPT(O_ACCESS_TTL, access_ttl, 10, 86400);
    INT_OPT(O_REFRESH_TTL, refresh_ttl, 60, 365 * 86400);
    INT_OPT(O_MAX_BODY, max_body, 1024, 64L << 20);
    INT_OPT(O_MAX_VERSIONS, max_versions, 1, 100000);
#undef INT_OPT

    int lvl = ch_log_level_parse(val[O_LOG_LEVEL]);
    if (lvl < 0) {
        fprintf(stderr, "config: --log-level: unknown level '%s'\n", val[O_LOG_LEVEL]);
        return -1;
    }
    cfg->log_level = lvl;

    cfg->jwt_alg = ch_jwt_alg_parse(val[O_JWT_ALG]);
    if (!cfg->jwt_alg) {
        fprintf(stderr, "config: --jwt-alg: use HS256, RS256 or ES256\n");
        return -1;
    }
    if (cfg->jwt_alg == CH_JWT_HS256) {
        const char *secret = val[O_JWT_SECRET];
        if (!secret) {
            secret = DEV_SECRET;
            cfg->jwt_key_is_dev_default = 1;
        }
        cfg->jwt_key = strdup(secret);
        cfg->jwt_key_len = strlen(secret);
        if (!cfg->jwt_key) return -1;
    } else {
        if (!val[O_JWT_KEY_FILE]) {
            fprintf(stderr, "config: %s needs --jwt-key-file (a private key)\n", val[O_JWT_ALG]);
            return -1;
        }
        if (load_private_key(cfg, val[O_JWT_KEY_FILE], val[O_JWT_ALG]) < 0) return -1;
    }
    if (val[O_JWT_ISSUER]) snprintf(cfg->jwt_issuer, sizeof(cfg->jwt_issuer), "%s", val[O_JWT_ISSUER]);
    if (val[O_JWT_AUDIENCE]) snprintf(cfg->jwt_audience, sizeof(cfg->jwt_audience), "%s", val[O_JWT_AUDIENCE]);
    if (val[O_ORIGINS]) snprintf(cfg->allowed_origins, sizeof(cfg->allowed_origins), "%s", val[O_ORIGINS]);
    return 0;
}

void
wk_config_free(wk_config *cfg)
{
    if (cfg->jwt_key) {
        memset(cfg->jwt_key, 0, cfg->jwt_key_len);
        free(cfg->jwt_key);
        cfg->jwt_key = NULL;
    }
}
