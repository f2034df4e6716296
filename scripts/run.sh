#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# run.sh — builds Chorus (RelWithDebInfo, build/release) and runs a local
# cluster in the foreground, with all state under ./data (gitignored):
#
#   nginx :8080 ──round-robin──┬── chorus-gateway gw1 :9001 ──┐
#     /ws (WebSocket)          └── chorus-gateway gw2 :9002 ──┴── redis :6380
#     /healthz /readyz /metrics                                   (data/redis, AOF)
#     /api/ ───────────────────── chorus-worker :9010 ── PostgreSQL 15 :5433
#                                  (persistence, snapshots,    database "chorus"
#                                   HTTP API)                   (data/pg)
#
# Ctrl-C (SIGINT) or SIGTERM stops everything: nginx, then the gateways
# (they drain), then the worker, then redis, then PostgreSQL.
#
# Environment (all optional):
#   CHORUS_HTTP_PORT (8080)  CHORUS_GW1_PORT (9001)  CHORUS_GW2_PORT (9002)
#   CHORUS_REDIS_PORT (6380) CHORUS_PG_PORT (5433)   CHORUS_DATA_DIR (./data)
#   CHORUS_WORKER_PORT (9010)
#   CHORUS_JWT_SECRET (a dev default)  CHORUS_LOG_LEVEL (info)
#   CHORUS_REDIS_APPENDFSYNC (everysec; "always": an acked event survives a
#                            machine crash, see docs/protocol.md)
#   CHORUS_PG_USER (chorus: the OS user that owns the PostgreSQL files)
#
# Options:
#   --services-only   start redis, PostgreSQL and nginx but neither build nor
#                     start the gateways (to run them by hand, e.g. in gdb)
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/lib/common.sh
source scripts/lib/deps.sh
source scripts/lib/net.sh
source scripts/lib/services.sh
source scripts/lib/jwt.sh

usage() {
    sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

SERVICES_ONLY=0
for arg in "$@"; do
    case $arg in
        --services-only) SERVICES_ONLY=1 ;;
        -h | --help) usage; exit 0 ;;
        *) chorus_die "unknown argument: $arg (see --help)" ;;
    esac
done

DEV_SECRET=chorus-dev-secret-not-for-production
HTTP_PORT=${CHORUS_HTTP_PORT:-8080}
GW1_PORT=${CHORUS_GW1_PORT:-9001}
GW2_PORT=${CHORUS_GW2_PORT:-9002}
REDIS_PORT=${CHORUS_REDIS_PORT:-6380}
REDIS_FSYNC=${CHORUS_REDIS_APPENDFSYNC:-everysec}
[[ $REDIS_FSYNC == everysec || $REDIS_FSYNC == always ]] ||
    chorus_die "CHORUS_REDIS_APPENDFSYNC must be everysec or always"
PG_PORT=${CHORUS_PG_PORT:-5433}
WORKER_PORT=${CHORUS_WORKER_PORT:-9010}
JWT_SECRET=${CHORUS_JWT_SECRET:-$DEV_SECRET}
LOG_LEVEL=${CHORUS_LOG_LEVEL:-info}
PG_USER=${CHORUS_PG_USER:-chorus}
PG_DBUSER=chorus
PG_DB=chorus
DATA=${CHORUS_DATA_DIR:-$ROOT/data}
BUILD_DIR=$ROOT/build/release
GATEWAY_BIN=$BUILD_DIR/gateway/chorus-gateway
WORKER_BIN=$BUILD_DIR/worker/chorus-worker

for var in HTTP_PORT GW1_PORT GW2_PORT REDIS_PORT PG_PORT WORKER_PORT; do
    port=${!var}
    if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        chorus_die "CHORUS_$var must be a TCP port, not '$port'"
    fi
done
if [[ $(printf '%s\n' "$HTTP_PORT" "$GW1_PORT" "$GW2_PORT" "$REDIS_PORT" "$PG_PORT" "$WORKER_PORT" |
    sort -u | wc -l) -ne 6 ]]; then
    chorus_die "the six ports must differ: $HTTP_PORT $GW1_PORT $GW2_PORT $REDIS_PORT $PG_PORT $WORKER_PORT"
fi

# ------------------------------------------------------------ shutdown

REDIS_PID=
NGINX_PID=
GW1_PID=
GW2_PID=
WORKER_PID=
PG_STARTED=0
STOPPING=0

# Stops whatever was started, in dependency order. Idempotent.
shutdown_all() {
    ((STOPPING)) && return 0
    STOPPING=1
    trap '' INT TERM
    chorus_section "Stopping"
    chorus_stop_pid "$NGINX_PID" nginx 10
    # Both gateways drain their clients (close 1001) at the same time.
    local pid
    for pid in "$GW1_PID" "$GW2_PID"; do
        if [[ -n $pid ]]; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    chorus_stop_pid "$GW1_PID" gw1 15 -
    chorus_stop_pid "$GW2_PID" gw2 15 -
    chorus_stop_pid "$WORKER_PID" worker 15
    chorus_stop_pid "$REDIS_PID" redis 15
    if ((PG_STARTED)); then
        chorus_pg_stop "$PG_USER" "$PG_DATA"
    fi
    rm -f "$DATA"/run/*.pid
    chorus_info "stopped"
}

on_signal() {
    printf '\n' >&2
    chorus_info "received SIG$1"
    shutdown_all
    trap - EXIT
    exit "$2"
}
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap shutdown_all EXIT

# ------------------------------------------------------------ packages, build

chorus_section "Dependencies"
if ((SERVICES_ONLY)); then
    chorus_deps_ensure "${CHORUS_PKGS_SERVERS[@]}" "${CHORUS_PKGS_RUN[@]}"
else
    chorus_deps_ensure "${CHORUS_PKGS_BUILD[@]}" "${CHORUS_PKGS_SERVERS[@]}" "${CHORUS_PKGS_RUN[@]}"
    chorus_section "Build (RelWithDebInfo, build/release)"
    if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
        cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF
    fi
    cmake --build "$BUILD_DIR" -j2
    [[ -x $GATEWAY_BIN ]] || chorus_die "build did not produce $GATEWAY_BIN"
    [[ -x $WORKER_BIN ]] || chorus_die "build did not produce $WORKER_BIN"
fi

# ------------------------------------------------------------ data folder

mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
# The PostgreSQL user must be able to reach data/pg.
chmod u+rwx,go+x "$DATA"
mkdir -p "$DATA/redis" "$DATA/logs" "$DATA/run" "$DATA/nginx"
PG_DIR=$DATA/pg
PG_DATA=$PG_DIR/data
PG_SOCK=$PG_DIR/sock
# A unix socket path holds at most 107 bytes.
if ((${#PG_SOCK} + ${#PG_PORT} + 12 > 107)); then
    PG_SOCK=/tmp/chorus-pg-$PG_PORT
fi

# Leftovers of a run that was killed without cleaning up.
chorus_kill_stale "$DATA/run/nginx.pid" nginx
chorus_kill_stale "$DATA/run/gw1.pid" chorus-gateway
chorus_kill_stale "$DATA/run/gw2.pid" chorus-gateway
chorus_kill_stale "$DATA/run/worker.pid" chorus-worker
chorus_kill_stale "$DATA/run/redis.pid" redis-server

check_port_free() {
    local port=$1 var=$2
    if chorus_port_in_use "$port"; then
        chorus_die "port $port is in use (set $var to choose another)"
    fi
}

# ------------------------------------------------------------ redis

chorus_section "Redis on 127.0.0.1:$REDIS_PORT"
check_port_free "$REDIS_PORT" CHORUS_REDIS_PORT
chorus_redis_start "$REDIS_PORT" "$DATA/redis" "$DATA/logs/redis.log" "$REDIS_FSYNC"
REDIS_PID=$CHORUS_REDIS_PID
echo "$REDIS_PID" >"$DATA/run/redis.pid"
chorus_info "redis-server pid $REDIS_PID, AOF in $DATA/redis"

# ------------------------------------------------------------ postgres

chorus_section "PostgreSQL 15 on 127.0.0.1:$PG_PORT"
if ! chorus_pg_user_ensure "$PG_USER"; then
    chorus_warn "could not create user $PG_USER; using nobody"
    PG_USER=nobody
fi
chorus_pg_dir "$PG_USER" "$PG_DIR"
chorus_pg_init "$PG_USER" "$PG_DATA" "$PG_DBUSER"
if ! chorus_pg_running "$PG_USER" "$PG_DATA"; then
    check_port_free "$PG_PORT" CHORUS_PG_PORT
fi
PG_STARTED=1
chorus_pg_start "$PG_USER" "$PG_DATA" "$PG_PORT" "$PG_SOCK" "$PG_DIR/postgres.log"
chorus_pg_createdb "$PG_USER" "$PG_SOCK" "$PG_PORT" "$PG_DBUSER" "$PG_DB"
PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=$PG_DBUSER"
chorus_info "database $PG_CONNINFO (socket $PG_SOCK)"

# ------------------------------------------------------------ gateways

# Starts one gateway, sets GW1_PID/GW2_PID and waits for its /healthz.
start_gateway() {
    local name=$1 port=$2 pid
    check_port_free "$port" "CHORUS_${name^^}_PORT"
    CHORUS_JWT_SECRET=$JWT_SECRET setsid "$GATEWAY_BIN" --listen "127.0.0.1:$port" --workers 1 \
        --node-id "$name" --redis "127.0.0.1:$REDIS_PORT" --room-acl required --log-level "$LOG_LEVEL" \
        </dev/null >>"$DATA/logs/$name.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DATA/run/$name.pid"
    printf -v "${name^^}_PID" '%s' "$pid"
    if ! chorus_wait_http "$port" /healthz 30 "$pid" "$name"; then
        tail -n 30 "$DATA/logs/$name.log" >&2 || true
        chorus_die "$name did not become healthy; log: $DATA/logs/$name.log"
    fi
    chorus_info "$name pid $pid on 127.0.0.1:$port"
}

if ((SERVICES_ONLY)); then
    chorus_section "Gateways: not started (--services-only)"
    chorus_info "start them on ports $GW1_PORT and $GW2_PORT with --redis 127.0.0.1:$REDIS_PORT"
else
    chorus_section "Gateways gw1 :$GW1_PORT, gw2 :$GW2_PORT"
    start_gateway gw1 "$GW1_PORT"
    start_gateway gw2 "$GW2_PORT"
fi

# ------------------------------------------------------------ worker

# Applies migrations/, then persists events, saves snapshots and serves the
# API; it also keeps the rooms' access lists in Redis (gateways run with
# --room-acl required).
if ((SERVICES_ONLY)); then
    chorus_section "Worker: not started (--services-only)"
else
    chorus_section "Worker on 127.0.0.1:$WORKER_PORT"
    check_port_free "$WORKER_PORT" CHORUS_WORKER_PORT
    CHORUS_JWT_SECRET=$JWT_SECRET CHORUS_PG=$PG_CONNINFO setsid "$WORKER_BIN" serve \
        --listen "127.0.0.1:$WORKER_PORT" --redis "127.0.0.1:$REDIS_PORT" \
        --migrations "$ROOT/migrations" --consumer worker1 --log-level "$LOG_LEVEL" \
        </dev/null >>"$DATA/logs/worker.log" 2>&1 &
    WORKER_PID=$!
    echo "$WORKER_PID" >"$DATA/run/worker.pid"
    if ! chorus_wait_http "$WORKER_PORT" /readyz 60 "$WORKER_PID" worker; then
        tail -n 30 "$DATA/logs/worker.log" >&2 || true
        chorus_die "the worker did not become ready; log: $DATA/logs/worker.log"
    fi
    chorus_info "worker pid $WORKER_PID on 127.0.0.1:$WORKER_PORT"
fi

# ------------------------------------------------------------ nginx

chorus_section "nginx on 127.0.0.1:$HTTP_PORT"
check_port_free "$HTTP_PORT" CHORUS_HTTP_PORT
NGINX_PREFIX=$DATA/nginx
LISTEN_V6=
# Browsers may resolve localhost to ::1 first.
if grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
    LISTEN_V6="listen [::1]:$HTTP_PORT;"
fi
chorus_render deploy/nginx/dev.conf.in "$NGINX_PREFIX/nginx.conf" \
    "PREFIX=$NGINX_PREFIX" "HTTP_PORT=$HTTP_PORT" "LISTEN_V6=$LISTEN_V6" \
    "GW1_PORT=$GW1_PORT" "GW2_PORT=$GW2_PORT" "WORKER_PORT=$WORKER_PORT" \
    "WEB_ROOT=$ROOT/web" "MIME_TYPES=/etc/nginx/mime.types"
chorus_nginx_test "$NGINX_PREFIX/nginx.conf" "$NGINX_PREFIX" ||
    chorus_die "generated nginx config is invalid: $NGINX_PREFIX/nginx.conf"
chorus_nginx_start "$NGINX_PREFIX/nginx.conf" "$NGINX_PREFIX" "$HTTP_PORT"
NGINX_PID=$CHORUS_NGINX_PID
echo "$NGINX_PID" >"$DATA/run/nginx.pid"

# ------------------------------------------------------------ banner

DEV_TOKEN=$(chorus_jwt_hs256 "$JWT_SECRET" \
    "$(printf '{"sub":"dev","name":"Dev","exp":%d}' "$(($(chorus_now) + 86400))")")

chorus_section "Chorus is running"
cat <<EOF
  URL         http://localhost:$HTTP_PORT   (WebSocket: ws://localhost:$HTTP_PORT/ws)
  gateways    gw1 127.0.0.1:$GW1_PORT   gw2 127.0.0.1:$GW2_PORT
  worker      127.0.0.1:$WORKER_PORT   (API: http://localhost:$HTTP_PORT/api/v1, docs/api.md)
  redis       127.0.0.1:$REDIS_PORT   (data in $DATA/redis)
  postgres    $PG_CONNINFO
  logs        $DATA/logs/  $NGINX_PREFIX/logs/  $PG_DIR/postgres.log
EOF
if [[ $JWT_SECRET == "$DEV_SECRET" ]]; then
    echo "  WARNING     JWT secret: dev default secret, set CHORUS_JWT_SECRET in production"
fi
cat <<EOF
  dev token   (sub=dev, name=Dev, valid 24 h)
$DEV_TOKEN

  e.g.  ws://localhost:$HTTP_PORT/ws?token=<dev token>   or   Authorization: Bearer <dev token>
Press Ctrl-C to stop.
EOF

# ------------------------------------------------------------ supervise

# Exits (and so stops everything) as soon as one component dies.
tick=0
while :; do
    for name in REDIS GW1 GW2 WORKER NGINX; do
        pid_var=${name}_PID
        pid=${!pid_var}
        [[ -n $pid ]] || continue
        if ! kill -0 "$pid" 2>/dev/null; then
            status=0
            wait "$pid" || status=$?
            chorus_die "${name,,} (pid $pid) exited with status $status; see $DATA/logs/"
        fi
    done
    if ((++tick % 5 == 0)) && ! chorus_pg_running "$PG_USER" "$PG_DATA"; then
        chorus_die "PostgreSQL stopped; see $PG_DIR/postgres.log"
    fi
    sleep 1 &
    wait $! || true
done
