#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../..
#
# gateway_idle.sh — a quick figure for one gateway process: RSS per idle
# WebSocket connection (each joined to a room) and connect+join rate.
# Starts its own redis-server and a RelWithDebInfo gateway on free ports
# (build/release), opens the connections from Node (tests/integration),
# prints the figures, and stops everything.
#
# Usage: loadtest/bench/gateway_idle.sh [CONNECTIONS=10000] [ROOMS=100]
# (one process may hold at most ~20,000 sockets here: stay below that)
set -euo pipefail
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
source scripts/lib/common.sh
source scripts/lib/net.sh
source scripts/lib/services.sh

N=${1:-10000}
ROOMS=${2:-100}
SECRET=bench-secret-$RANDOM
WORK=$(mktemp -d)
GW_PID=
cleanup() {
    chorus_stop_pid "$GW_PID" gateway 5
    chorus_stop_pid "${CHORUS_REDIS_PID:-}" redis 5
    rm -rf "$WORK"
}
trap cleanup EXIT

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release --target chorus-gateway -j2 >/dev/null
[[ -d tests/integration/node_modules ]] || (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)

RPORT=$(chorus_free_port)
GPORT=$(chorus_free_port)
chorus_redis_start "$RPORT" "$WORK/redis" "$WORK/redis.log"
build/release/gateway/chorus-gateway --listen "127.0.0.1:$GPORT" --workers 1 --node-id bench \
    --redis "127.0.0.1:$RPORT" --jwt-secret "$SECRET" --log-level warn 2>"$WORK/gw.log" &
GW_PID=$!
chorus_wait_http "$GPORT" /readyz 20 "$GW_PID" gateway
rss() { awk '/VmRSS/ {print $2}' "/proc/$GW_PID/status"; }
before=$(rss)
node tests/integration/bench/idle-clients.mjs "$GPORT" "$N" "$ROOMS" "$SECRET" 4 >"$WORK/clients.json" &
CL=$!
# Measure while the clients hold their sockets.
for ((i = 0; i < 600; i++)); do [[ -s $WORK/clients.json ]] && break; sleep 0.1; done
sleep 1
after=$(rss)
conns=$(curl -s "http://127.0.0.1:$GPORT/metrics" | awk '$1 == "chorus_gateway_connections" {print $2}')
wait "$CL" || true
echo "clients: $(cat "$WORK/clients.json")"
echo "gateway connections: $conns"
echo "gateway RSS: ${before} KiB idle, ${after} KiB with $conns connections"
awk -v b="$before" -v a="$after" -v n="$conns" 'BEGIN { if (n > 0) printf "RSS per connection: %.2f KiB\n", (a - b) / n }'
