#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../..
#
# worker_persist.sh — persistence figures for one chorus-worker: events
# persisted per second, and the publish -> PostgreSQL delay at a fixed rate.
# A benchmark, not a test. Starts its own redis-server and PostgreSQL 15
# (fsync and synchronous_commit on: the durable setting) on free ports, and an
# optimised worker (build/release, RelWithDebInfo); feeds events straight
# into the persistence streams with worker_persist_feed (laid out exactly as
# publish.lua writes them: chat rooms, "message.create", ~100-byte payloads,
# so reducers and snapshots run too); prints the figures and stops everything.
#
#   1. drain:  N events written while the worker is stopped, then the time
#              the worker takes to persist the backlog (pure throughput)
#   2. max:    N events fed as fast as Redis takes them while the worker runs
#   3. rate:   RATE events/s for SECONDS; delay = commit time - event ts, from
#              the worker's chorus_worker_persist_delay_seconds histogram
#              (p50/p99 interpolated in their bucket, max = the bucket's
#              upper bound), and the chorus_worker_persist_lag_seconds gauge
#              sampled every 0.5 s
#
# Usage: loadtest/bench/worker_persist.sh [N=500000] [RATE=20000] [SECONDS=30] [ROOMS=200]
# Environment: CHORUS_BENCH_BUILD (build/release), CHORUS_PG_USER (chorus),
#              WORKER_ARGS (extra chorus-worker flags, e.g. "--batch-max 2000")
# Targets: >= 50,000 events/s; delay <= 1 s at 20,000 events/s.
# chorus_free_port takes optional bounds, not this script's arguments:
# shellcheck disable=SC2119
set -euo pipefail
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
source scripts/lib/common.sh
source scripts/lib/net.sh
source scripts/lib/services.sh

N=${1:-500000}
RATE=${2:-20000}
SECS=${3:-30}
ROOMS=${4:-200}
BUILD=${CHORUS_BENCH_BUILD:-build/release}
PGUSER_OS=${CHORUS_PG_USER:-chorus}
SECRET=bench-secret-$RANDOM$RANDOM
WORK=$(mktemp -d /tmp/chorus-bench-persist.XXXXXX)
chmod 711 "$WORK"
WORKER_PID=
PG_STARTED=
cleanup() {
    chorus_stop_pid "$WORKER_PID" worker 10
    chorus_stop_pid "${CHORUS_REDIS_PID:-}" redis 5
    [[ -n $PG_STARTED ]] && chorus_pg_stop "$PGUSER_OS" "$WORK/pg/data"
    rm -rf "$WORK"
}
trap cleanup EXIT

chorus_section "build"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target chorus-worker -j2 >/dev/null
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -Icommon $(pkg-config --cflags hiredis) \
    loadtest/bench/worker_persist_feed.c common/keys.c $(pkg-config --libs hiredis) \
    -o "$WORK/feed"

chorus_section "services"
RPORT=$(chorus_free_port)
PGPORT=$(chorus_free_port)
WPORT=$(chorus_free_port)
chorus_redis_start "$RPORT" "$WORK/redis" "$WORK/redis.log"
chorus_pg_user_ensure "$PGUSER_OS"
mkdir -p "$WORK/pg"
chorus_pg_dir "$PGUSER_OS" "$WORK/pg"
chorus_pg_init "$PGUSER_OS" "$WORK/pg/data" chorus
chorus_pg_dir "$PGUSER_OS" "$WORK/pg/log"
chorus_pg_start "$PGUSER_OS" "$WORK/pg/data" "$PGPORT" "$WORK/pg/sock" "$WORK/pg/log/pg.log"
PG_STARTED=1
chorus_pg_createdb "$PGUSER_OS" "$WORK/pg/sock" "$PGPORT" chorus chorus
CONNINFO="host=127.0.0.1 port=$PGPORT dbname=chorus user=chorus"

metrics() { curl -fsS --max-time 5 "http://127.0.0.1:$WPORT/metrics"; }
# One metric's value; fails if the worker does not answer.
metric() {
    local text
    text=$(metrics) || return 1
    awk -v m="$1" '$1 == m { print $2 }' <<<"$text"
}
now() { date +%s.%N; }

start_worker() {
    # shellcheck disable=SC2086
    "$BUILD/worker/chorus-worker" serve --listen "127.0.0.1:$WPORT" --pg "$CONNINFO" \
        --redis "127.0.0.1:$RPORT" --jwt-secret "$SECRET" --migrations migrations \
        --consumer bench --log-level warn ${WORKER_ARGS:-} 2>>"$WORK/worker.log" &
    WORKER_PID=$!
    chorus_wait_http "$WPORT" /readyz 60 "$WORKER_PID" worker
}

# Waits until the worker has persisted `want` events; prints the time it happened.
wait_persisted() {
    local want=$1 got
    while :; do
        got=$(metric chorus_worker_events_persisted_total) || got=0
        if [[ ${got%.*} -ge $want ]]; then
            now
            return
        fi
        kill -0 "$WORKER_PID" 2>/dev/null || chorus_die "worker exited; see $WORK/worker.log"
        sleep 0.05
    done
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$WORKER_PID/stat"; }

# Histogram quantile from two scrapes (before, after) of a Prometheus histogram.
delay_stats() {
    awk -v name="chorus_worker_persist_delay_seconds_bucket" '
        FNR == 1 { file++ }
        index($1, name "{le=\"") == 1 {
            le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
            if (file == 1) before[le] = $2; else { after[le] = $2; order[++n] = le }
        }
        END {
            total = after[order[n]] - before[order[n]]
            if (total <= 0) { print "no events observed"; exit }
            split("0.5 0.99", qs, " ")
            for (qi = 1; qi <= 2; qi++) {
                want = qs[qi] * total; prev = 0; lo = 0
                for (i = 1; i <= n; i++) {
                    c = after[order[i]] - before[order[i]]
                    if (c >= want) {
                        hi = order[i] == "+Inf" ? lo : order[i] + 0
                        frac = c > prev ? (want - prev) / (c - prev) : 1
                        printf "p%s=%.4fs ", qs[qi] * 100, lo + (hi - lo) * frac
                        break
                    }
                    prev = c; lo = order[i] + 0
                }
            }
            lo = 0
            for (i = 1; i <= n; i++) {
                c = after[order[i]] - before[order[i]]
                if (c == total) { printf "max<=%ss (bucket bound) events=%d\n", order[i], total; break }
            }
        }' "$1" "$2"
}

chorus_section "1. drain: $N events written while the worker is stopped"
start_worker                       # applies the migrations and creates the group
chorus_stop_pid "$WORKER_PID" worker 10
WORKER_PID=
"$WORK/feed" --redis "127.0.0.1:$RPORT" --events "$N" --rooms "$ROOMS" --workspace 1 --rate 0
t0=$(now)
start_worker
c0=$(cpu_ticks)
t1=$(wait_persisted "$N")
c1=$(cpu_ticks)
DRAIN=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
CPU=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')
echo "drain: $N events in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s = $DRAIN events/s (from the worker's start; worker CPU ${CPU} s)"

chorus_section "2. max: $N events fed as fast as possible while the worker runs"
base=$(metric chorus_worker_events_persisted_total)
t0=$(now)
"$WORK/feed" --redis "127.0.0.1:$RPORT" --events "$N" --rooms "$ROOMS" --workspace 2 --rate 0
t1=$(wait_persisted $((base + N)))
MAX=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
echo "max: $N events persisted in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s = $MAX events/s"

chorus_section "3. rate: $RATE events/s for $SECS s"
sleep 2
metrics >"$WORK/m0"
base=$(metric chorus_worker_events_persisted_total)
: >"$WORK/lag"
(
    while :; do
        metric chorus_worker_persist_lag_seconds >>"$WORK/lag" || true
        sleep 0.5
    done
) &
SAMPLER=$!
FEED_OUT=$("$WORK/feed" --redis "127.0.0.1:$RPORT" --events $((RATE * SECS)) --rooms "$ROOMS" \
    --workspace 3 --rate "$RATE")
wait_persisted $((base + RATE * SECS)) >/dev/null
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
metrics >"$WORK/m1"
echo "feeder: $FEED_OUT"
echo "delay (ts -> commit): $(delay_stats "$WORK/m0" "$WORK/m1")"
sort -g "$WORK/lag" | awk '
    function at(q,  i) { i = int(NR * q + 0.5); if (i < 1) i = 1; if (i > NR) i = NR; return v[i] }
    { v[NR] = $1 }
    END {
        if (NR == 0) exit
        printf "lag gauge (oldest unpersisted entry, %d samples): p50=%.3fs p99=%.3fs max=%.3fs\n",
            NR, at(0.5), at(0.99), v[NR]
    }'

chorus_section "summary"
batches=$(metric chorus_worker_batches_total)
events=$(metric chorus_worker_batch_size_sum)
echo "persisted/s: drain $DRAIN, while feeding $MAX (target >= 50000)"
echo "batches: $batches, mean size $(awk -v e="$events" -v b="$batches" 'BEGIN { printf "%.0f", b ? e / b : 0 }')"
metrics | grep -E '^chorus_worker_(snapshots_saved_total|room_rebuilds_total|snapshot_queue_dropped_total|pg_errors_total|malformed_entries_total|trimmed_entries_total) '
