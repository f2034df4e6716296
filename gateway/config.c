/*
 * config.c — gateway settings. One table lists every option once: its flag,
 * its environment variable, its default and its help line, so --help, the
 * environment and the flags can never disagree.
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
    O_LISTEN, O_WORKERS, O_NODE, O_REDIS, O_REDIS_PASSWORD, O_PARTITIONS,
    O_JWT_ALG, O_JWT_SECRET, O_JWT_KEY_FILE, O_JWT_ISSUER, O_JWT_AUDIENCE, O_JWT_LEEWAY,
    O_ORIGINS, O_ROOM_ACL, O_MAX_MESSAGE, O_MAX_ROOMS, O_PUBLISH_RATE, O_OUTBOUND, O_PING, O_PONG_MISSES,
    O_HANDSHAKE, O_IDLE, O_DRAIN, O_WINDOW, O_DEDUP, O_PRESENCE_TTL, O_CATCHUP_PAGE,
    O_LOG_LEVEL, O_COUNT
};

static const ch_option opts[O_COUNT] = {
    [O_LISTEN]        = { "--listen", "CHORUS_LISTEN", "0.0.0.0:8080", "HOST:PORT to serve HTTP and /ws on" },
    [O_WORKERS]       = { "--workers", "CHORUS_WORKERS", NULL, "worker processes sharing the port (default: CPU count)" },
    [O_NODE]          = { "--node-id", "CHORUS_NODE_ID", NULL, "node id (default: hostname-pid)" },
    [O_REDIS]         = { "--redis", "CHORUS_REDIS", "127.0.0.1:6379", "Redis HOST:PORT (a name is resolved again before every reconnect)" },
    [O_REDIS_PASSWORD]= { "--redis-password", "CHORUS_REDIS_PASSWORD", NULL, "Redis AUTH password (prefer the variable)" },
    [O_PARTITIONS]    = { "--partitions", "CHORUS_PARTITIONS", "16", "room partitions; identical on every node and worker" },
    [O_JWT_ALG]       = { "--jwt-alg", "CHORUS_JWT_ALG", "HS256", "accepted JWT algorithm: HS256, RS256 or ES256" },
    [O_JWT_SECRET]    = { "--jwt-secret", "CHORUS_JWT_SECRET", NULL, "HS256 secret (prefer the variable; dev default if unset)" },
    [O_JWT_KEY_FILE]  = { "--jwt-key-file", "CHORUS_JWT_KEY_FILE", NULL, "RS256/ES256 public key PEM file" },
    [O_JWT_ISSUER]    = { "--jwt-issuer", "CHORUS_JWT_ISSUER", NULL, "required iss claim" },
    [O_JWT_AUDIENCE]  = { "--jwt-audience", "CHORUS_JWT_AUDIENCE", NULL, "required aud claim" },
    [O_JWT_LEEWAY]    = { "--jwt-leeway", "CHORUS_JWT_LEEWAY", "30", "seconds of clock skew allowed for exp/nbf" },
    [O_ORIGINS]       = { "--allowed-origins", "CHORUS_ALLOWED_ORIGINS", NULL, "comma-separated Origin allowlist; '*' any (default: same host)" },
    [O_ROOM_ACL]      = { "--room-acl", "CHORUS_ROOM_ACL", "open", "required: only users on a room's access list (kept by the worker) may join; open: rooms without a list admit any authenticated user" },
    [O_MAX_MESSAGE]   = { "--max-message", "CHORUS_MAX_MESSAGE", "65536", "largest WebSocket message in bytes (close 1009 above)" },
    [O_MAX_ROOMS]     = { "--max-rooms", "CHORUS_MAX_ROOMS", "100", "rooms one connection may join" },
    [O_PUBLISH_RATE]  = { "--publish-rate", "CHORUS_PUBLISH_RATE", "100", "publishes per second per connection" },
    [O_OUTBOUND]      = { "--outbound-limit", "CHORUS_OUTBOUND_LIMIT", "1048576", "pending outbound bytes before a slow consumer is closed" },
    [O_PING]          = { "--ping-interval", "CHORUS_PING_INTERVAL", "20", "seconds between server pings" },
    [O_PONG_MISSES]   = { "--pong-misses", "CHORUS_PONG_MISSES", "2", "unanswered pings before dropping a connection" },
    [O_HANDSHAKE]     = { "--handshake-timeout", "CHORUS_HANDSHAKE_TIMEOUT", "10", "seconds to complete the HTTP request/upgrade" },
    [O_IDLE]          = { "--idle-timeout", "CHORUS_IDLE_TIMEOUT", "300", "seconds a connection in no room may stay silent; 0 = forever" },
    [O_DRAIN]         = { "--drain-seconds", "CHORUS_DRAIN_SECONDS", "10", "SIGTERM drain window over which clients are closed" },
    [O_WINDOW]        = { "--stream-window", "CHORUS_STREAM_WINDOW", "10000", "events kept per room for catch-up" },
    [O_DEDUP]         = { "--dedup-seconds", "CHORUS_DEDUP_SECONDS", "600", "window in which a retried publish returns its first seq" },
    [O_PRESENCE_TTL]  = { "--presence-ttl", "CHORUS_PRESENCE_TTL", "30", "seconds a presence entry of a silent node survives" },
    [O_CATCHUP_PAGE]  = { "--catchup-page", "CHORUS_CATCHUP_PAGE", "500", "events per catch-up read from Redis" },
    [O_LOG_LEVEL]     = { "--log-level", "CHORUS_LOG_LEVEL", "info", "debug, info, warn or error" },
};

static void
usage(FILE *f, const char *prog)
{
    fprintf(f,
            "Usage: %s [options]\n\n"
            "Chorus gateway: terminates WebSockets on /ws and fans room events out through Redis.\n"
            "Also serves /healthz, /readyz and /metrics. Every option can be set by its\n"
            "environment variable; a flag wins.\n\nOptions:\n", prog);
    ch_options_usage(f, opts, O_COUNT);
    fprintf(f,
            "\nExamples:\n"
            "  CHORUS_JWT_SECRET=s3cret %s --listen 0.0.0.0:9001 --redis 127.0.0.1:6379\n"
            "  %s --workers 2 --jwt-alg RS256 --jwt-key-file /etc/chorus/jwt.pub\n",
            prog, prog);
}

int
gw_config_parse(gw_config *cfg, int argc, char **argv)
{
    const char *val[O_COUNT];
    long n;

    int r = ch_options_collect(opts, O_COUNT, argc, argv, val, NULL, 0);
    if (r == 1) {
        usage(stdout, argv[0]);
        return 1;
    }
    if (r < 0) return -1;

    memset(cfg, 0, sizeof(*cfg));
    if (ch_option_hostport("--listen", val[O_LISTEN], cfg->listen_host, sizeof(cfg->listen_host),
                       &cfg->listen_port) < 0)
        return -1;
    if (ch_option_hostport("--redis", val[O_REDIS], cfg->redis_host, sizeof(cfg->redis_host),
                       &cfg->redis_port) < 0)
        return -1;

    if (val[O_WORKERS]) {
        if (ch_option_long("--workers", val[O_WORKERS], 1, 256, &n) < 0) return -1;
        cfg->workers = (int)n;
    } else {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = cpus > 0 ? (int)cpus : 1;
    }
    if (val[O_NODE]) {
        if (strlen(val[O_NODE]) >= sizeof(cfg->node_id) - 5) {
            fprintf(stderr, "config: --node-id too long\n");
            return -1;
        }
        snprintf(cfg->node_id, sizeof(cfg->node_id), "%s", val[O_NODE]);
    } else {
        char host[32] = "gw";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(cfg->node_id, sizeof(cfg->node_id), "%s-%d", host, (int)getpid());
    }
    if (val[O_REDIS_PASSWORD])
        snprintf(cfg->redis_password, sizeof(cfg->redis_password), "%s", val[O_REDIS_PASSWORD]);

#define INT_OPT(idx, field, min, max) \
    do { if (ch_option_long(opts[idx].flag, val[idx], min, max, &n) < 0) return -1; cfg->field = n; } while (0)
    INT_OPT(O_PARTITIONS, partitions, 1, 65536);
    INT_OPT(O_JWT_LEEWAY, jwt_leeway, 0, 3600);
    INT_OPT(O_MAX_MESSAGE, max_message, 126, 64L << 20);
    INT_OPT(O_MAX_ROOMS, max_rooms, 1, 100000);
    INT_OPT(O_PUBLISH_RATE, publish_rate, 1, 1000000);
    INT_OPT(O_OUTBOUND, outbound_limit, 4096, 1L << 30);
    INT_OPT(O_PING, ping_interval, 1, 3600);
    INT_OPT(O_PONG_MISSES, pong_misses, 1, 100);
    INT_OPT(O_HANDSHAKE, handshake_timeout, 1, 3600);
    INT_OPT(O_IDLE, idle_timeout, 0, 7 * 86400);
    INT_OPT(O_DRAIN, drain_seconds, 0, 3600);
    INT_OPT(O_WINDOW, stream_window, 10, 10000000);
    INT_OPT(O_DEDUP, dedup_seconds, 1, 7 * 86400);
    INT_OPT(O_PRESENCE_TTL, presence_ttl, 3, 3600);
    INT_OPT(O_CATCHUP_PAGE, catchup_page, 1, 100000);
#undef INT_OPT

    int lvl = ch_log_level_parse(val[O_LOG_LEVEL]);
    if (lvl < 0) { fprintf(stderr, "config: --log-level: unknown level '%s'\n", val[O_LOG_LEVEL]); return -1; }
    cfg->log_level = lvl;

    cfg->jwt_alg = ch_jwt_alg_parse(val[O_JWT_ALG]);
    if (!cfg->jwt_alg) { fprintf(stderr, "config: --jwt-alg: use HS256, RS256 or ES256\n"); return -1; }
    if (cfg->jwt_alg == CH_JWT_HS256) {
        const char *secret = val[O_JWT_SECRET];
        if (!secret) { secret = DEV_SECRET; cfg->jwt_key_is_dev_default = 1; }
        cfg->jwt_key = strdup(secret);
        cfg->jwt_key_len = strlen(secret);
    } else {
        if (!val[O_JWT_KEY_FILE]) { fprintf(stderr, "config: %s needs --jwt-key-file\n", val[O_JWT_ALG]); return -1; }
        cfg->jwt_key = ch_option_read_file(val[O_JWT_KEY_FILE], &cfg->jwt_key_len);
        if (!cfg->jwt_key) { fprintf(stderr, "config: cannot read --jwt-key-file %s\n", val[O_JWT_KEY_FILE]); return -1; }
        /* A bad key would make every token look forged: refuse to start. */
        BIO *bio = BIO_new_mem_buf(cfg->jwt_key, (int)cfg->jwt_key_len);
        EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        int want = cfg->jwt_alg == CH_JWT_RS256 ? EVP_PKEY_RSA : EVP_PKEY_EC;
        int ok = pk && EVP_PKEY_base_id(pk) == want;
        EVP_PKEY_free(pk);
        BIO_free(bio);
        if (!ok) {
            fprintf(stderr, "config: --jwt-key-file %s is not a %s public key PEM\n",
                    val[O_JWT_KEY_FILE], val[O_JWT_ALG]);
            return -1;
        }
    }
    if (!cfg->jwt_key || cfg->jwt_key_len == 0) { fprintf(stderr, "config: empty JWT key\n"); return -1; }
    if (val[O_JWT_ISSUER]) snprintf(cfg->jwt_issuer, sizeof(cfg->jwt_issuer), "%s", val[O_JWT_ISSUER]);
    if (val[O_JWT_AUDIENCE]) snprintf(cfg->jwt_audience, sizeof(cfg->jwt_audience), "%s", val[O_JWT_AUDIENCE]);
    if (strcmp(val[O_ROOM_ACL], "required") == 0) cfg->room_acl_required = 1;
    else if (strcmp(val[O_ROOM_ACL], "open") != 0) {
        fprintf(stderr, "config: --room-acl: use 'required' or 'open'\n");
        return -1;
    }
    if (val[O_ORIGINS]) snprintf(cfg->allowed_origins, sizeof(cfg->allowed_origins), "%s", val[O_ORIGINS]);
    return 0;
}

void
gw_config_free(gw_config *cfg)
{
    if (cfg->jwt_key) {
        memset(cfg->jwt_key, 0, cfg->jwt_key_len);
        free(cfg->jwt_key);
        cfg->jwt_key = NULL;
    }
}
