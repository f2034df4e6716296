/*
 * lt_config.c — command line of chorus-loadtest; see lt_config.h.
 */
#include "lt_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lt_stats.h"

const char *const lt_scenario_names[LT_SC_COUNT] = {
    [LT_SC_FANOUT] = "fanout", [LT_SC_CHAT] = "chat", [LT_SC_WHITEBOARD] = "whiteboard",
    [LT_SC_CONNECT_STORM] = "connect-storm", [LT_SC_RECONNECT_STORM] = "reconnect-storm",
    [LT_SC_IDLE] = "idle",
};

const char *const lt_token_via_names[LT_TOKEN_VIA_COUNT] = {
    [LT_TOKEN_HEADER] = "header", [LT_TOKEN_QUERY] = "query", [LT_TOKEN_SUBPROTOCOL] = "subprotocol",
};

void
lt_config_usage(FILE *out)
{
    fputs(
"usage: chorus-loadtest SCENARIO [flags]\n"
"\n"
"Drives WebSocket clients against Chorus gateways (docs/protocol.md) and\n"
"reports latency percentiles, throughput and delivery correctness.\n"
"\n"
"scenarios:\n"
"  fanout           N subscribers in R rooms; P publishers publish durable events\n"
"                   at a total --rate; every member counts its deliveries\n"
"  chat             every client joins its room and publishes at rate/connections\n"
"  whiteboard       P drawers send ephemeral stroke points at --rate plus a durable\n"
"                   stroke every --stroke-points points; N viewers receive them\n"
"  connect-storm    open N connections as fast as possible (TCP + upgrade + JWT check\n"
"                   + welcome; no join) and report connects/s; holds them for\n"
"                   --duration (default 0)\n"
"  reconnect-storm  N clients in R rooms with P publishers; at --drop-at every\n"
"                   subscriber drops and rejoins with since=<last seq>; reports the\n"
"                   time until each has caught up, with gap/duplicate checks\n"
"  idle             hold N sockets joined to R rooms for --duration\n"
"\n"
"flags:\n"
"  --url URL             ws://host:port/ws; repeatable or comma-separated; clients\n"
"                        round-robin over them (required)\n"
"  --secret S            HS256 secret: mint a token per client (sub lt-<proc>-<n>,\n"
"                        exp now+2h); or set CHORUS_LOADTEST_SECRET\n"
"  --token T             use this token for every client (or CHORUS_LOADTEST_TOKEN)\n"
"  --token-via LIST      where clients put the token: header (Authorization: Bearer,\n"
"                        the default), query (?token=), subprotocol (bearer.<token>);\n"
"                        comma-separated: clients round-robin over the list\n"
"  --connections N       subscribers / clients (default 100)\n"
"  --rooms R             rooms (default 10)\n"
"  --publishers P        publishers (fanout, whiteboard, reconnect-storm; default R)\n"
"  --rate N              publishes per second in total; 0 = as fast as acks allow\n"
"                        with --window in flight per publisher (default 500)\n"
"  --window W            in-flight publishes per publisher at --rate 0 (default 16)\n"
"  --payload BYTES       payload padding (default 64)\n"
"  --ramp-up SECONDS     spread the connects over this time (default 0: as fast as\n"
"                        --max-pending allows)\n"
"  --duration SECONDS    traffic / holding time (default 10; connect-storm 0)\n"
"  --drop-at SECONDS     reconnect-storm: when to drop (default duration/2)\n"
"  --drain SECONDS       after the run, wait this long at most for deliveries and\n"
"                        catch-ups to complete (default 5)\n"
"  --stroke-points K     whiteboard: points per durable stroke (default 20)\n"
"  --handshake-timeout S connect + upgrade + welcome + joined (default 10)\n"
"  --max-pending N       connects in progress per process (default 1000)\n"
"  --reconnect           (default) a joined client whose connection ends (close 1001,\n"
"                        connection lost, ...) reconnects with backoff to the next\n"
"                        --url, rejoins with since=<last seq> and resends its\n"
"                        unacked publishes with their cids; every scenario but\n"
"                        connect-storm\n"
"  --no-reconnect        such a client stays down; its error is counted\n"
"  --backoff-min S       reconnect delay: first attempt min/2..min (default 0.1)\n"
"  --backoff-max S       ... doubling per failed attempt up to max/2..max (default 5)\n"
"  --source ADDRS        comma-separated local IPs to bind client sockets to,\n"
"                        round-robin (more than ~28k sockets per destination)\n"
"  --procs N             worker processes (default: enough for <= 15000 sockets each)\n"
"  --json FILE           write the JSON report\n"
"  --html FILE           write the self-contained HTML report\n"
"  --slo EXPR            conditions, e.g. 'p99<20ms,errors=0,gaps=0'; metrics:\n"
"                        p50 p90 p99 p999 min mean max (optionally prefixed\n"
"                        latency. ack. eph. connect. catchup. reconnect.), errors\n"
"                        gaps dups reorders missing extra failed unacked\n"
"                        not_caught_up reconnects\n"
"  --room-prefix STR     rooms are STR-0 .. STR-(R-1) (default lt)\n"
"  --quiet               no progress output\n"
"  --help                this text\n"
"\n"
"exit status: 0 ok (every SLO condition holds), 3 an SLO condition failed,\n"
"2 usage error, 1 the run failed or was interrupted (SIGINT/SIGTERM: the run\n"
"stops early but still drains and reports; a second signal aborts)\n"
"\n"
"examples:\n"
"  chorus-loadtest fanout --url ws://127.0.0.1:8080/ws --secret $S \\\n"
"      --connections 2000 --rooms 20 --publishers 20 --rate 1000 --duration 30 \\\n"
"      --slo 'p99<20ms,errors=0,gaps=0,missing=0' --json out.json --html out.html\n"
"  chorus-loadtest idle --url ws://127.0.0.1:8080/ws,ws://127.0.0.1:8081/ws \\\n"
"      --secret $S --connections 50000 --rooms 500 --source 127.0.0.1,127.0.0.2 \\\n"
"      --ramp-up 10 --duration 60\n"
"  chorus-loadtest reconnect-storm --url ws://127.0.0.1:8080/ws --secret $S \\\n"
"      --connections 10000 --rooms 100 --publishers 10 --rate 500 --duration 20 \\\n"
"      --slo 'catchup.max<10s,gaps=0,dups=0'\n"
"\n"
"The gateway limits publishes per connection (--publish-rate, default 100/s):\n"
"benchmarks with more per publisher must raise it.\n", out);
}

static int
usage_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int
parse_long(const char *flag, const char *v, long lo, long hi, long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi)
        return usage_err(err, errlen, "%s: expected an integer in [%ld, %ld], got '%s'", flag, lo, hi, v);
    *out = x;
    return 0;
}

static int
parse_double(const char *flag, const char *v, double lo, double hi, double *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !(x >= lo && x <= hi))
        return usage_err(err, errlen, "%s: expected a number in [%g, %g], got '%s'", flag, lo, hi, v);
    *out = x;
    return 0;
}

/* Resolves host (a name or IP literal) and port into u->addr. */
static int
resolve(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        hints.ai_flags = 0;
        rc = getaddrinfo(host, port, &hints, &res);
    }
    if (rc != 0 || !res) return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int
add_url(lt_config *cfg, const char *s, size_t n, char *err, size_t errlen)
{
    lt_url *u;
    char host[200], port[8] = "80";
    if (cfg->nurls >= LT_MAX_URLS) return usage_err(err, errlen, "--url: at most %d URLs", LT_MAX_URLS);
    u = &cfg->urls[cfg->nurls];
    memset(u, 0, sizeof(*u));
    if (n >= sizeof(u->text)) return usage_err(err, errlen, "--url: too long");
    memcpy(u->text, s, n);
    u->text[n] = 0;
    if (strncmp(u->text, "ws://", 5) != 0)
        return usage_err(err, errlen, "--url %s: only ws:// URLs are supported", u->text);
    const char *auth = u->text + 5;
    const char *slash = strchr(auth, '/');
    size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
    if (alen == 0 || alen >= sizeof(u->host)) return usage_err(err, errlen, "--url %s: bad host", u->text);
    memcpy(u->host, auth, alen);
    u->host[alen] = 0;
    snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "/ws");
    if (u->host[0] == '[') {
        const char *close = strchr(u->host, ']');
        if (!close) return usage_err(err, errlen, "--url %s: bad IPv6 literal", u->text);
        snprintf(host, sizeof(host), "%.*s", (int)(close - u->host - 1), u->host + 1);
        if (close[1] == ':') snprintf(port, sizeof(port), "%.7s", close + 2);
        else if (close[1]) return usage_err(err, errlen, "--url %s: bad host", u->text);
    } else {
        const char *colon = strrchr(u->host, ':');
        if (colon) {
            snprintf(host, sizeof(host), "%.*s", (int)(colon - u->host), u->host);
            snprintf(port, sizeof(port), "%.7s", colon + 1);
        } else {
            snprintf(host, sizeof(host), "%s", u->host);
        }
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 1 || p > 65535) return usage_err(err, errlen, "--url %s: bad port", u->text);
    if (resolve(host, port, &u->addr, &u->addr_len) < 0)
        return usage_err(err, errlen, "--url %s: cannot resolve '%s'", u->text, host);
    cfg->nurls++;
    return 0;
}

static int
add_source(lt_config *cfg, const char *s, size_t n, char *err, size_t errlen)
{
    if (cfg->nsources >= LT_MAX_SOURCES)
        return usage_err(err, errlen, "--source: at most %d addresses", LT_MAX_SOURCES);
    lt_source *src = &cfg->sources[cfg->nsources];
    memset(src, 0, sizeof(*src));
    if (n == 0 || n >= sizeof(src->text)) return usage_err(err, errlen, "--source: bad address");
    memcpy(src->text, s, n);
    src->text[n] = 0;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&src->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&src->addr;
    if (inet_pton(AF_INET, src->text, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        src->addr_len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, src->text, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        src->addr_len = sizeof(*a6);
    } else {
        return usage_err(err, errlen, "--source %s: not an IP address", src->text);
    }
    cfg->nsources++;
    return 0;
}

typedef int (*list_fn)(lt_config *, const char *, size_t, char *, size_t);

static int
add_list(lt_config *cfg, const char *v, list_fn fn, char *err, size_t errlen)
{
    for (;;) {
        const char *comma = strchr(v, ',');
        size_t n = comma ? (size_t)(comma - v) : strlen(v);
        while (n && isspace((unsigned char)*v)) { v++; n--; }
        while (n && isspace((unsigned char)v[n - 1])) n--;
        if (n && fn(cfg, v, n, err, errlen) < 0) return -1;
        if (!comma) return 0;
        v = comma + 1;
    }
}

static int
add_token_via(lt_config *cfg, const char *s, size_t n, char *err, size_t errlen)
{
    for (int k = 0; k < LT_TOKEN_VIA_COUNT; k++) {
        if (strlen(lt_token_via_names[k]) == n && memcmp(lt_token_via_names[k], s, n) == 0) {
            if (cfg->ntoken_via >= LT_TOKEN_VIA_COUNT)
                return usage_err(err, errlen, "--token-via: at most %d entries", LT_TOKEN_VIA_COUNT);
            cfg->token_via[cfg->ntoken_via++] = (uint8_t)k;
            return 0;
        }
    }
    return usage_err(err, errlen, "--token-via: '%.*s' is not header, query or subprotocol", (int)n, s);
}

static int
has_separate_publishers(lt_scenario s)
{
    return s == LT_SC_FANOUT || s == LT_SC_WHITEBOARD || s == LT_SC_RECONNECT_STORM;
}

int
lt_config_parse(int argc, char **argv, lt_config *cfg, FILE *out, char *err, size_t errlen)
{
    int scenario = -1, have_publishers = 0, have_duration = 0, have_rate = 0;
    memset(cfg, 0, sizeof(*cfg));
    cfg->connections = 100;
    cfg->rooms = 10;
    cfg->rate = 500;
    cfg->window = 16;
    cfg->payload = 64;
    cfg->duration = 10;
    cfg->drop_at = -1;
    cfg->drain = 5;
    cfg->handshake_timeout = 10;
    cfg->max_pending = 1000;
    cfg->stroke_points = 20;
    cfg->reconnect = 1;
    cfg->backoff_min = 0.1;
    cfg->backoff_max = 5;
    snprintf(cfg->room_prefix, sizeof(cfg->room_prefix), "lt");
    if (err && errlen) err[0] = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (scenario >= 0) return usage_err(err, errlen, "unexpected argument '%s'", a);
            for (int s = 0; s < LT_SC_COUNT; s++)
                if (strcmp(a, lt_scenario_names[s]) == 0) scenario = s;
            if (scenario < 0) return usage_err(err, errlen, "unknown scenario '%s'", a);
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            lt_config_usage(out);
            return 1;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            cfg->quiet = 1;
            continue;
        }
        if (strcmp(a, "--reconnect") == 0 || strcmp(a, "--no-reconnect") == 0) {
            cfg->reconnect = a[2] == 'r';
            continue;
        }
        /* Every other flag takes a value: "--flag value" or "--flag=value". */
        char flag[64];
        const char *v;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(flag, sizeof(flag), "%.*s", (int)(eq - a), a);
            v = eq + 1;
        } else {
            snprintf(flag, sizeof(flag), "%s", a);
            if (i + 1 >= argc) return usage_err(err, errlen, "%s needs a value", flag);
            v = argv[++i];
        }
        int rc = 0;
        if (strcmp(flag, "--url") == 0) rc = add_list(cfg, v, add_url, err, errlen);
        else if (strcmp(flag, "--source") == 0) rc = add_list(cfg, v, add_source, err, errlen);
        else if (strcmp(flag, "--token") == 0) cfg->token = v;
        else if (strcmp(flag, "--token-via") == 0) {
            cfg->ntoken_via = 0;
            rc = add_list(cfg, v, add_token_via, err, errlen);
            if (rc == 0 && cfg->ntoken_via == 0) return usage_err(err, errlen, "--token-via: empty list");
        }
        else if (strcmp(flag, "--secret") == 0) cfg->secret = v;
        else if (strcmp(flag, "--connections") == 0) rc = parse_long(flag, v, 0, 10000000, &cfg->connections, err, errlen);
        else if (strcmp(flag, "--rooms") == 0) rc = parse_long(flag, v, 1, 1000000, &cfg->rooms, err, errlen);
        else if (strcmp(flag, "--publishers") == 0) { rc = parse_long(flag, v, 0, 1000000, &cfg->publishers, err, errlen); have_publishers = 1; }
        else if (strcmp(flag, "--rate") == 0) { rc = parse_double(flag, v, 0, 1e9, &cfg->rate, err, errlen); have_rate = 1; }
        else if (strcmp(flag, "--window") == 0) rc = parse_long(flag, v, 1, 65536, &cfg->window, err, errlen);
        else if (strcmp(flag, "--payload") == 0) rc = parse_long(flag, v, 0, 60000, &cfg->payload, err, errlen);
        else if (strcmp(flag, "--ramp-up") == 0) rc = parse_double(flag, v, 0, 86400, &cfg->ramp_up, err, errlen);
        else if (strcmp(flag, "--duration") == 0) { rc = parse_double(flag, v, 0, 864000, &cfg->duration, err, errlen); have_duration = 1; }
        else if (strcmp(flag, "--drop-at") == 0) rc = parse_double(flag, v, 0, 864000, &cfg->drop_at, err, errlen);
        else if (strcmp(flag, "--drain") == 0) rc = parse_double(flag, v, 0, 3600, &cfg->drain, err, errlen);
        else if (strcmp(flag, "--handshake-timeout") == 0) rc = parse_double(flag, v, 0.1, 3600, &cfg->handshake_timeout, err, errlen);
        else if (strcmp(flag, "--max-pending") == 0) rc = parse_long(flag, v, 1, 1000000, &cfg->max_pending, err, errlen);
        else if (strcmp(flag, "--stroke-points") == 0) rc = parse_long(flag, v, 1, 1000000, &cfg->stroke_points, err, errlen);
        else if (strcmp(flag, "--backoff-min") == 0) rc = parse_double(flag, v, 0.001, 3600, &cfg->backoff_min, err, errlen);
        else if (strcmp(flag, "--backoff-max") == 0) rc = parse_double(flag, v, 0.001, 3600, &cfg->backoff_max, err, errlen);
        else if (strcmp(flag, "--procs") == 0) rc = parse_long(flag, v, 1, 256, &cfg->procs, err, errlen);
        else if (strcmp(flag, "--json") == 0) cfg->json_path = v;
        else if (strcmp(flag, "--html") == 0) cfg->html_path = v;
        else if (strcmp(flag, "--slo") == 0) {
            cfg->slo_text = v;
            rc = lt_slo_parse(v, &cfg->slo, err, errlen);
        } else if (strcmp(flag, "--room-prefix") == 0) {
            size_t n = strlen(v);
            if (n == 0 || n > LT_PREFIX_MAX) return usage_err(err, errlen, "--room-prefix: 1 to %d characters", LT_PREFIX_MAX);
            for (size_t k = 0; k < n; k++)
                if (!isalnum((unsigned char)v[k]) && !strchr("_.:-", v[k]))
                    return usage_err(err, errlen, "--room-prefix: only A-Z a-z 0-9 _ . : -");
            snprintf(cfg->room_prefix, sizeof(cfg->room_prefix), "%s", v);
        } else {
            return usage_err(err, errlen, "unknown flag %s (see --help)", flag);
        }
        if (rc < 0) return -1;
    }

    if (scenario < 0) return usage_err(err, errlen, "missing SCENARIO (see --help)");
    cfg->scenario = (lt_scenario)scenario;
    if (cfg->nurls == 0) return usage_err(err, errlen, "missing --url");
    if (!cfg->token && !cfg->secret) {
        cfg->secret = getenv("CHORUS_LOADTEST_SECRET");
        if (!cfg->secret) cfg->token = getenv("CHORUS_LOADTEST_TOKEN");
    }
    if (!cfg->token && !cfg->secret)
        return usage_err(err, errlen, "missing --secret or --token (or CHORUS_LOADTEST_SECRET)");
    if (cfg->token && cfg->secret) return usage_err(err, errlen, "give --secret or --token, not both");
    if (cfg->secret && !cfg->secret[0]) return usage_err(err, errlen, "--secret is empty");
    if (cfg->ntoken_via == 0) cfg->token_via[cfg->ntoken_via++] = LT_TOKEN_HEADER;
    if (cfg->backoff_max < cfg->backoff_min)
        return usage_err(err, errlen, "--backoff-max must not be below --backoff-min");
    if (!have_duration && cfg->scenario == LT_SC_CONNECT_STORM) cfg->duration = 0;
    if (!have_rate && cfg->scenario == LT_SC_WHITEBOARD) cfg->rate = 1000;
    if (has_separate_publishers(cfg->scenario)) {
        if (!have_publishers) cfg->publishers = cfg->rooms;
        if (cfg->publishers < 1 && cfg->scenario != LT_SC_RECONNECT_STORM)
            return usage_err(err, errlen, "%s needs --publishers >= 1", lt_scenario_names[cfg->scenario]);
    } else {
        cfg->publishers = 0;
    }
    if (lt_config_total_clients(cfg) < 1) return usage_err(err, errlen, "--connections must be >= 1");
    if (cfg->scenario == LT_SC_RECONNECT_STORM) {
        if (cfg->drop_at < 0) cfg->drop_at = cfg->duration / 2;
        if (cfg->drop_at > cfg->duration)
            return usage_err(err, errlen, "--drop-at must not be after --duration");
    }
    if (cfg->procs == 0) {
        long total = lt_config_total_clients(cfg);
        cfg->procs = (total + LT_SOCKETS_PER_PROC - 1) / LT_SOCKETS_PER_PROC;
        if (cfg->procs < 1) cfg->procs = 1;
    }
    return 0;
}

long
lt_config_separate_publishers(const lt_config *cfg)
{
    return has_separate_publishers(cfg->scenario) ? cfg->publishers : 0;
}

long
lt_config_total_clients(const lt_config *cfg)
{
    return cfg->connections + lt_config_separate_publishers(cfg);
}

int
lt_config_is_publisher(const lt_config *cfg, long g)
{
    if (cfg->scenario == LT_SC_CHAT) return 1;
    return g >= cfg->connections;
}

long
lt_config_room_of(const lt_config *cfg, long g)
{
    long i = g < cfg->connections ? g : g - cfg->connections;
    return i % cfg->rooms;
}

long
lt_config_publisher_index(const lt_config *cfg, long g)
{
    return cfg->scenario == LT_SC_CHAT ? g : g - cfg->connections;
}

long
lt_config_publisher_count(const lt_config *cfg)
{
    return cfg->scenario == LT_SC_CHAT ? cfg->connections : lt_config_separate_publishers(cfg);
}

int
lt_config_joins(const lt_config *cfg)
{
    return cfg->scenario != LT_SC_CONNECT_STORM;
}

int
lt_config_reconnects(const lt_config *cfg)
{
    return cfg->reconnect && lt_config_joins(cfg);
}

int
lt_config_main_hist(const lt_config *cfg)
{
    return cfg->scenario == LT_SC_CONNECT_STORM || cfg->scenario == LT_SC_IDLE ? LT_H_CONNECT : LT_H_LATENCY;
}
