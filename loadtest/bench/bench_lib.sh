# shellcheck shell=bash
# shellcheck disable=SC2119 # chorus_free_port is called without its optional range
#
# bench_lib.sh — shared by the side-by-side benchmarks (w1_fanout.sh,
# w2_latency.sh, w3_idle.sh, w4_reconnect.sh, run_all.sh) and the browser
# benchmarks (board_load.sh, whiteboard_render.sh: bench_browser_run).
# Sourced, never executed.
#
# Each benchmark: builds a Release build in build/release if needed and
# copies the binaries it runs into a temp folder (so a rebuild by someone
# else mid-run cannot change them); starts, on free loopback ports, a
# redis-server (appendonly yes, appendfsync everysec) plus either Chorus
# gateways (one process each: --workers 1) or nginx + Nchan (as many worker
# processes as the Chorus side has gateway processes); runs the tester;
# reads the server processes' CPU (utime + stime from /proc/<pid>/stat) and
# memory; stops everything it started (trap on EXIT, INT and TERM).
#
# Environment:
#   BENCH_REPEAT   repetitions of each measurement (default 3; the median
#                  is reported)
#   BENCH_OUT      folder to keep the tester JSON reports and the figures
#                  (TSV) in; default: only printed
#   BENCH_BUILD    build folder (default build/release)
#   BENCH_PREBUILT folder holding chorus-gateway, chorus-loadtest and
#                  nchan-bench already built: use them, build nothing
#                  (run_all.sh builds once and passes it to every workload)
#   BENCH_KEEP     1: keep the temp folder (logs, reports, CPU samples)
#   BENCH_QUIET_WAIT  seconds to wait at most, before each measurement, for
#                  the machine to be quiet (default 0: do not wait)

BENCH_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$BENCH_ROOT/scripts/lib/common.sh"
# shellcheck source=../../scripts/lib/net.sh
source "$BENCH_ROOT/scripts/lib/net.sh"
# shellcheck source=../../scripts/lib/services.sh
source "$BENCH_ROOT/scripts/lib/services.sh"
# shellcheck source=../../scripts/lib/deps.sh
source "$BENCH_ROOT/scripts/lib/deps.sh"

BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_OUT=${BENCH_OUT:-}
BENCH_BUILD=${BENCH_BUILD:-$BENCH_ROOT/build/release}
BENCH_SECRET=bench-secret-$RANDOM$RANDOM
BENCH_WORK=
BENCH_BIN=
BENCH_SAMPLER_PID=
BENCH_GW_PIDS=()
BENCH_GW_PORTS=()
BENCH_GW_URLS=
BENCH_NGINX_PID=
BENCH_NGINX_PORT=
BENCH_NGINX_WORKERS=()
BENCH_REDIS_PID=
BENCH_REDIS_PORT=
BENCH_TESTER_PID=
BENCH_HZ=$(getconf CLK_TCK)

# ------------------------------------------------------------- lifecycle

# Creates the temp folder and installs the cleanup trap.
# Usage: bench_init NAME
bench_init() {
    BENCH_WORK=$(mktemp -d "/tmp/chorus-bench-$1.XXXXXX")
    BENCH_BIN=$BENCH_WORK/bin
    mkdir -p "$BENCH_BIN"
    if [[ -n $BENCH_OUT ]]; then
        mkdir -p "$BENCH_OUT"
        BENCH_OUT=$(cd "$BENCH_OUT" && pwd)
    fi
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $BENCH_TESTER_PID ]]; then
        chorus_stop_pid "$BENCH_TESTER_PID" tester 10 INT
    fi
    bench_servers_stop
    if [[ -n $BENCH_WORK && ${BENCH_KEEP:-0} != 1 ]]; then
        rm -rf "$BENCH_WORK"
    elif [[ -n $BENCH_WORK ]]; then
        chorus_info "kept $BENCH_WORK"
    fi
    exit "$rc"
}

# Stops every server this script started (nginx, gateways, redis), and the
# CPU sampler.
bench_servers_stop() {
    bench_sampler_stop
    if [[ -n $BENCH_NGINX_PID ]]; then
        chorus_stop_pid "$BENCH_NGINX_PID" nginx 10 TERM
        BENCH_NGINX_PID=
        BENCH_NGINX_WORKERS=()
    fi
    local pid
    for pid in "${BENCH_GW_PIDS[@]}"; do
        chorus_stop_pid "$pid" gateway 15 TERM
    done
    BENCH_GW_PIDS=()
    BENCH_GW_PORTS=()
    if [[ -n $BENCH_REDIS_PID ]]; then
        chorus_stop_pid "$BENCH_REDIS_PID" redis-server 10
        BENCH_REDIS_PID=
    fi
}

# ------------------------------------------------------------- build

# Release build of the gateway and the tester (build/release), nchan-bench
# with gcc; copies of the three binaries go to $BENCH_BIN.
bench_build() {
    if [[ -n ${BENCH_PREBUILT:-} ]]; then
        cp "$BENCH_PREBUILT/chorus-gateway" "$BENCH_PREBUILT/chorus-loadtest" "$BENCH_PREBUILT/nchan-bench" \
            "$BENCH_BIN/" || chorus_die "BENCH_PREBUILT=$BENCH_PREBUILT lacks the binaries"
        return 0
    fi
    chorus_deps_ensure "${CHORUS_PKGS_BUILD[@]}" redis-server nginx libnginx-mod-nchan jq curl
    bench_release_build chorus-gateway chorus-loadtest
    cp "$BENCH_BUILD/gateway/chorus-gateway" "$BENCH_BUILD/loadtest/chorus-loadtest" "$BENCH_BIN/"
    "$BENCH_ROOT/loadtest/bench/nchan/build.sh" "$BENCH_BIN/nchan-bench"
}

# Builds targets in BENCH_BUILD, configured as Release first unless it is;
# the log goes to $BENCH_WORK/build.log, its tail to stderr on failure.
# Usage: bench_release_build TARGET...
bench_release_build() {
    local type=
    if [[ -f $BENCH_BUILD/CMakeCache.txt ]]; then
        type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BENCH_BUILD/CMakeCache.txt")
    fi
    if [[ $type != Release ]]; then
        chorus_info "configuring $BENCH_BUILD as Release (was: ${type:-not configured})"
        cmake -S "$BENCH_ROOT" -B "$BENCH_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
    chorus_info "building $* in $BENCH_BUILD"
    cmake --build "$BENCH_BUILD" --target "$@" -j"$(nproc)" >"$BENCH_WORK/build.log" 2>&1 ||
        chorus_die "the build failed (see below); nothing was measured
$(tail -20 "$BENCH_WORK/build.log")"
}

# ------------------------------------------------------------- browser benchmarks

# Runs a browser benchmark, loadtest/bench/NAME.mjs (see browser_bench.mjs),
# on copies of chorus-gateway and chorus-worker: from BENCH_PREBUILT (a
# folder holding both), else from a Release build in BENCH_BUILD. The
# program starts its own cluster (redis, PostgreSQL, the worker, two
# gateways, nginx) and headless Chromium, and prints the figures. Needs
# bench_init, node, the tests/integration node_modules (npm ci there if
# missing), redis-server, PostgreSQL, nginx and Debian's chromium.
# Usage: bench_browser_run NAME
bench_browser_run() {
    local prog=$BENCH_ROOT/loadtest/bench/$1.mjs
    [[ -f $prog ]] || chorus_die "no browser benchmark $prog"
    if [[ -n ${BENCH_PREBUILT:-} ]]; then
        cp "$BENCH_PREBUILT/chorus-gateway" "$BENCH_PREBUILT/chorus-worker" "$BENCH_BIN/" ||
            chorus_die "BENCH_PREBUILT=$BENCH_PREBUILT lacks chorus-gateway or chorus-worker"
    else
        bench_release_build chorus-gateway chorus-worker
        cp "$BENCH_BUILD/gateway/chorus-gateway" "$BENCH_BUILD/worker/chorus-worker" "$BENCH_BIN/"
    fi
    if [[ ! -d $BENCH_ROOT/tests/integration/node_modules/ws ]]; then
        (cd "$BENCH_ROOT/tests/integration" && npm ci --no-audit --no-fund >/dev/null)
    fi
    CHORUS_GATEWAY_BIN=$BENCH_BIN/chorus-gateway CHORUS_WORKER_BIN=$BENCH_BIN/chorus-worker node "$prog"
}

# ------------------------------------------------------------- servers

# redis-server with an append-only file fsynced every second.
bench_redis_start() {
    BENCH_REDIS_PORT=$(chorus_free_port)
    chorus_redis_start "$BENCH_REDIS_PORT" "$BENCH_WORK/redis" "$BENCH_WORK/redis.log" everysec ||
        chorus_die "redis-server did not start"
    BENCH_REDIS_PID=$CHORUS_REDIS_PID
}

# Starts N gateway processes (--workers 1 each) on free ports with the run's
# secret, plus any extra flags; sets BENCH_GW_PIDS, BENCH_GW_PORTS and
# BENCH_GW_URLS (comma-separated ws:// URLs).
# Usage: bench_gateways_start N [FLAGS...]
bench_gateways_start() {
    local n=$1 i port pid urls=()
    shift
    for ((i = 0; i < n; i++)); do
        port=$(chorus_free_port)
        CHORUS_JWT_SECRET=$BENCH_SECRET setsid "$BENCH_BIN/chorus-gateway" \
            --listen "127.0.0.1:$port" --workers 1 --node-id "bench-$i" \
            --redis "127.0.0.1:$BENCH_REDIS_PORT" --log-level warn "$@" \
            </dev/null 2>>"$BENCH_WORK/gateway-$i.log" >&2 &
        pid=$!
        BENCH_GW_PIDS+=("$pid")
        BENCH_GW_PORTS+=("$port")
        urls+=("ws://127.0.0.1:$port/ws")
    done
    for ((i = 0; i < n; i++)); do
        chorus_wait_http "${BENCH_GW_PORTS[i]}" /readyz 30 "${BENCH_GW_PIDS[i]}" "gateway $i" ||
            chorus_die "gateway $i did not become ready; see $BENCH_WORK/gateway-$i.log"
    done
    BENCH_GW_URLS=$(IFS=,; printf '%s' "${urls[*]}")
}

# Sum of chorus_gateway_connections over the running gateways.
bench_gateway_connections() {
    local port sum=0 v
    for port in "${BENCH_GW_PORTS[@]}"; do
        v=$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" |
            awk '$1 == "chorus_gateway_connections" {print $2}')
        sum=$((sum + ${v:-0}))
    done
    printf '%s\n' "$sum"
}

# Sum of one counter of /metrics over the running gateways.
bench_gateway_metric() {
    local name=$1 port sum=0 v
    for port in "${BENCH_GW_PORTS[@]}"; do
        v=$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" |
            awk -v n="chorus_gateway_$name" '$1 == n {print $2}')
        sum=$((sum + ${v:-0}))
    done
    printf '%s\n' "$sum"
}

# nginx + Nchan with WORKERS worker processes (config:
# loadtest/bench/nchan/nginx.conf.in); sets BENCH_NGINX_PID (the master),
# BENCH_NGINX_PORT and BENCH_NGINX_WORKERS.
# Usage: bench_nchan_start WORKERS
bench_nchan_start() {
    local workers=$1 prefix=$BENCH_WORK/nginx i
    BENCH_NGINX_PORT=$(chorus_free_port)
    mkdir -p "$prefix/logs" "$prefix/tmp"
    chorus_render "$BENCH_ROOT/loadtest/bench/nchan/nginx.conf.in" "$prefix/nginx.conf" \
        PREFIX="$prefix" WORKERS="$workers" WORKER_CONNECTIONS=19500 \
        PORT="$BENCH_NGINX_PORT" REDIS_PORT="$BENCH_REDIS_PORT"
    chorus_nginx_test "$prefix/nginx.conf" "$prefix" || chorus_die "nginx configuration test failed"
    chorus_nginx_start "$prefix/nginx.conf" "$prefix" "$BENCH_NGINX_PORT" || chorus_die "nginx did not start"
    BENCH_NGINX_PID=$CHORUS_NGINX_PID
    for ((i = 0; i < 100; i++)); do
        mapfile -t BENCH_NGINX_WORKERS < <(ps -o pid= --ppid "$BENCH_NGINX_PID" | tr -d ' ')
        ((${#BENCH_NGINX_WORKERS[@]} >= workers)) && break
        sleep 0.1
    done
    ((${#BENCH_NGINX_WORKERS[@]} == workers)) ||
        chorus_die "nginx has ${#BENCH_NGINX_WORKERS[@]} worker processes, not $workers"
    chorus_wait_http "$BENCH_NGINX_PORT" /nchan_status 15 "$BENCH_NGINX_PID" nginx ||
        chorus_die "nginx did not answer /nchan_status"
}

# Subscribers Nchan holds (nchan_stub_status).
bench_nchan_subscribers() {
    curl -s --max-time 2 "http://127.0.0.1:$BENCH_NGINX_PORT/nchan_status" |
        awk -F': ' '$1 == "subscribers" {print $2}'
}

# ------------------------------------------------------------- measurements

# Sum of utime + stime (clock ticks) of the pids.
bench_ticks() {
    local sum=0 pid line f
    for pid in "$@"; do
        read -r line <"/proc/$pid/stat" 2>/dev/null || continue
        # Fields after the command name: state is 3, utime 14, stime 15.
        read -ra f <<<"${line##*) }"
        sum=$((sum + f[11] + f[12]))
    done
    printf '%s\n' "$sum"
}

# Sum of VmRSS (KiB) of the pids.
bench_rss_kib() {
    local sum=0 pid v
    for pid in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    printf '%s\n' "$sum"
}

# Sum of Pss (KiB): shared pages split between the processes mapping them.
bench_pss_kib() {
    local sum=0 pid v
    for pid in "$@"; do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    printf '%s\n' "$sum"
}

# Samples, every 100 ms, the CPU ticks of the server processes and of Redis
# into FILE as "<µs since the epoch> <server ticks> <redis ticks>".
# Usage: bench_sampler_start FILE "SERVER_PIDS" REDIS_PID
bench_sampler_start() {
    local file=$1 servers=$2 redis=$3
    (
        # shellcheck disable=SC2086
        while :; do
            printf '%s %s %s\n' "${EPOCHREALTIME/./}" "$(bench_ticks $servers)" "$(bench_ticks "$redis")"
            sleep 0.1
        done
    ) >"$file" &
    BENCH_SAMPLER_PID=$!
}

bench_sampler_stop() {
    if [[ -n $BENCH_SAMPLER_PID ]]; then
        # One more sample after the end of the run.
        sleep 0.25
        kill "$BENCH_SAMPLER_PID" 2>/dev/null || true
        wait "$BENCH_SAMPLER_PID" 2>/dev/null || true
        BENCH_SAMPLER_PID=
    fi
}

# CPU used between two wall-clock times (µs), from a sampler file: prints
# "<server cores> <redis cores>" (CPU seconds per second), over the samples
# just outside [start, end].
# Usage: bench_cpu_window FILE START_US END_US
bench_cpu_window() {
    awk -v s_us="$2" -v e_us="$3" -v hz="$BENCH_HZ" '
        NR == 1 || $1 <= s_us { t0 = $1; a0 = $2; r0 = $3 }
        !done { t1 = $1; a1 = $2; r1 = $3 }
        $1 >= e_us { done = 1 }
        END {
            if (t1 <= t0) { print "0 0"; exit }
            dt = (t1 - t0) / 1e6
            printf "%.3f %.3f\n", (a1 - a0) / hz / dt, (r1 - r0) / hz / dt
        }' "$1"
}

# Number formatting for the tables: integers as they are, otherwise
# 0 decimals from 100, 1 from 10, else 3 significant digits.
BENCH_AWK_FMT='function fmt(v) { if (v == int(v)) return sprintf("%d", v)
    a = v < 0 ? -v : v
    return a >= 100 ? sprintf("%.0f", v) : a >= 10 ? sprintf("%.1f", v) : sprintf("%.3g", v) }'

# Median of the numbers given (upper median for an even count).
bench_median() {
    printf '%s\n' "$@" | sort -g | awk "$BENCH_AWK_FMT"'{ v[NR] = $1 } END { if (NR) print fmt(v[int(NR / 2) + 1]) }'
}

# "min–max" of the numbers given.
bench_range() {
    printf '%s\n' "$@" | sort -g |
        awk "$BENCH_AWK_FMT"'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s\n", fmt(lo), fmt(hi) }'
}

# Prints load, the busiest processes, and warns when the machine is busy.
bench_machine_state() {
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    chorus_info "load average: $load ($(nproc) CPUs)"
    ps -eo pcpu=,pid=,comm= --sort=-pcpu | head -5 | while read -r cpu pid comm; do
        chorus_info "  ${cpu}% CPU  $comm ($pid)"
    done
    local busy
    busy=$(bench_cpu_busy)
    if ((busy >= 20)); then
        chorus_warn "the machine is busy (${busy}% CPU over 2 s): figures may be lower than on a quiet machine"
    else
        chorus_info "machine quiet now (${busy}% CPU over 2 s)"
    fi
}

# Percentage of all CPUs busy over the next 2 seconds (from /proc/stat).
bench_cpu_busy() {
    local a b
    a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
    sleep 2
    b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; idle = y[2] - x[2]
        printf "%.0f\n", (busy + idle > 0 ? 100 * busy / (busy + idle) : 0) }'
}

# With BENCH_QUIET_WAIT=SECONDS, waits up to that long until the machine
# is quiet (under 20% CPU busy over 2 s) before a measurement; says so
# either way. Other engineers' tests share this machine.
bench_wait_quiet() {
    local limit=${BENCH_QUIET_WAIT:-0} start=$SECONDS busy
    ((limit > 0)) || return 0
    while :; do
        busy=$(bench_cpu_busy)
        if ((busy < 20)); then
            chorus_info "machine quiet enough (${busy}% CPU busy)"
            return 0
        fi
        if ((SECONDS - start >= limit)); then
            chorus_warn "machine still busy (${busy}% CPU) after waiting ${limit}s; measuring anyway"
            return 0
        fi
        sleep 3
    done
}

# Runs a tester command in the background (so the trap can stop it) and
# waits for it; returns its exit status.
# Usage: bench_run_tester LOG CMD ARGS...
bench_run_tester() {
    local log=$1 rc=0
    shift
    "$@" >"$log" 2>"$log.err" &
    BENCH_TESTER_PID=$!
    wait "$BENCH_TESTER_PID" || rc=$?
    BENCH_TESTER_PID=
    return "$rc"
}

# Keeps a file in BENCH_OUT (if set). Usage: bench_keep FILE NAME
bench_keep() {
    [[ -n $BENCH_OUT ]] && cp "$1" "$BENCH_OUT/$2"
    return 0
}

# Appends one TSV row to BENCH_OUT/figures.tsv (if set) and to the run's
# own list: workload, system, repetition, metric, value.
bench_record() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_WORK/figures.tsv"
    [[ -n $BENCH_OUT ]] && printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_OUT/figures.tsv"
    return 0
}

# Values of one metric over the repetitions. Usage: bench_values WORKLOAD SYSTEM METRIC
bench_values() {
    awk -F'\t' -v w="$1" -v s="$2" -v m="$3" '$1 == w && $2 == s && $4 == m {print $5}' "$BENCH_WORK/figures.tsv"
}

# Prints a side-by-side table of medians (and ranges) for the metrics.
# Usage: bench_table WORKLOAD "SYSTEM..." METRIC:LABEL...
bench_table() {
    local w=$1 systems=$2 sys spec metric label vals
    shift 2
    printf '\n%s — median of %s repetitions (min–max)\n' "$w" "$BENCH_REPEAT"
    printf '%-42s' "figure"
    for sys in $systems; do printf ' | %-26s' "$sys"; done
    printf '\n'
    for spec in "$@"; do
        metric=${spec%%:*}
        label=${spec#*:}
        printf '%-42s' "$label"
        for sys in $systems; do
            mapfile -t vals < <(bench_values "$w" "$sys" "$metric")
            if ((${#vals[@]} == 0)); then
                printf ' | %-26s' "-"
            else
                printf ' | %-26s' "$(bench_median "${vals[@]}") ($(bench_range "${vals[@]}"))"
            fi
        done
        printf '\n'
    done
}

# ------------------------------------------------------------- fan-out runs

# One fan-out measurement of SYS (chorus or nchan) on fresh servers: Redis,
# then SERVERS gateway processes (with GATEWAY_FLAGS, word-split) or an
# nginx + Nchan with SERVERS workers, the tester with TESTER_ARGS (flags
# both testers share), CPU sampled over the run. Leaves NAME.json,
# NAME.cpu and NAME.txt in $BENCH_WORK and stops the servers.
# Usage: bench_fanout_once SYS NAME SERVERS "GATEWAY_FLAGS" TESTER_ARGS...
bench_fanout_once() {
    local sys=$1 name=$2 servers=$3 gwflags=$4 rc=0 slow
    shift 4
    local json=$BENCH_WORK/$name.json samples=$BENCH_WORK/$name.cpu txt=$BENCH_WORK/$name.txt
    bench_wait_quiet
    bench_redis_start
    if [[ $sys == chorus ]]; then
        # shellcheck disable=SC2086
        bench_gateways_start "$servers" $gwflags
        bench_sampler_start "$samples" "${BENCH_GW_PIDS[*]}" "$BENCH_REDIS_PID"
        CHORUS_LOADTEST_SECRET=$BENCH_SECRET bench_run_tester "$txt" \
            "$BENCH_BIN/chorus-loadtest" fanout --url "$BENCH_GW_URLS" "$@" --quiet --json "$json" || rc=$?
        bench_sampler_stop
        slow=$(bench_gateway_metric slow_consumer_closes_total)
        ((slow == 0)) || chorus_warn "the gateways closed $slow slow consumers"
    else
        bench_nchan_start "$servers"
        bench_sampler_start "$samples" "${BENCH_NGINX_WORKERS[*]}" "$BENCH_REDIS_PID"
        bench_run_tester "$txt" \
            "$BENCH_BIN/nchan-bench" fanout --url "http://127.0.0.1:$BENCH_NGINX_PORT" "$@" --json "$json" || rc=$?
        bench_sampler_stop
    fi
    cat "$txt"
    ((rc == 0)) || chorus_warn "$sys tester exited with $rc"
    bench_servers_stop
    [[ -s $json ]] || chorus_die "$sys tester wrote no report; stderr: $(tail -5 "$txt.err")"
    bench_keep "$json" "$name.json"
}

# Records the figures of one fan-out run (see bench_fanout_once).
# Usage: bench_fanout_record WORKLOAD SYS REP NAME DURATION
bench_fanout_record() {
    local w=$1 sys=$2 rep=$3 json=$BENCH_WORK/$4.json samples=$BENCH_WORK/$4.cpu dur=$5 start end srv red dps
    start=$(jq -r .timing.start_us "$json")
    end=$(jq -r .timing.end_us "$json")
    read -r srv red < <(bench_cpu_window "$samples" "$start" "$end")
    dps=$(jq -r .deliveries.received_per_second "$json")
    bench_record "$w" "$sys" "$rep" deliveries_per_s "$(printf '%.0f' "$dps")"
    bench_record "$w" "$sys" "$rep" publishes_per_s "$(jq -r '.publishes.acked_per_second | floor' "$json")"
    bench_record "$w" "$sys" "$rep" server_cores "$srv"
    bench_record "$w" "$sys" "$rep" redis_cores "$red"
    bench_record "$w" "$sys" "$rep" deliveries_per_server_cpu_s \
        "$(awk -v d="$dps" -v c="$srv" 'BEGIN { printf "%.0f", (c > 0 ? d / c : 0) }')"
    bench_record "$w" "$sys" "$rep" deliveries_per_server_redis_cpu_s \
        "$(awk -v d="$dps" -v c="$srv" -v r="$red" 'BEGIN { printf "%.0f", (c + r > 0 ? d / (c + r) : 0) }')"
    local q
    for q in p50 p90 p99 p999 max; do
        bench_record "$w" "$sys" "$rep" "${q}_ms" "$(jq -r ".latency.latency.$q / 1000" "$json")"
    done
    bench_record "$w" "$sys" "$rep" ack_p99_ms "$(jq -r '.latency.ack.p99 / 1000' "$json")"
    bench_record "$w" "$sys" "$rep" missing "$(jq -r .deliveries.missing "$json")"
    bench_record "$w" "$sys" "$rep" errors "$(jq -r .errors.total "$json")"
    bench_record "$w" "$sys" "$rep" tester_cores \
        "$(jq -r --arg d "$dur" '.timing.tester_cpu_seconds / ($d | tonumber) * 100 | round / 100' "$json")"
}

# Prints "A/B = x.xx" for the medians of one metric of two systems.
# Usage: bench_ratio WORKLOAD METRIC SYS_A SYS_B LABEL
bench_ratio() {
    local a b
    mapfile -t va < <(bench_values "$1" "$3" "$2")
    mapfile -t vb < <(bench_values "$1" "$4" "$2")
    ((${#va[@]} && ${#vb[@]})) || return 0
    a=$(bench_median "${va[@]}")
    b=$(bench_median "${vb[@]}")
    awk -v a="$a" -v b="$b" -v l="$5" -v x="$3" -v y="$4" \
        'BEGIN { if (b > 0) printf "%s: %s / %s = %.2f\n", l, x, y, a / b }'
}

# ------------------------------------------------------------ figure tables
# One definition per workload, shared by its script and report.sh.

# Usage: bench_report_w1 SYSTEMS
bench_report_w1() {
    bench_table W1 "$1" \
        deliveries_per_s:"deliveries/s" \
        publishes_per_s:"publishes acked/s" \
        server_cores:"server CPU (cores)" \
        redis_cores:"Redis CPU (cores)" \
        deliveries_per_server_cpu_s:"deliveries per server CPU-second" \
        deliveries_per_server_redis_cpu_s:"deliveries per (server+Redis) CPU-s" \
        p50_ms:"delivery p50 (ms)" \
        p99_ms:"delivery p99 (ms)" \
        max_ms:"delivery max (ms)" \
        missing:"missing deliveries" \
        errors:"errors" \
        tester_cores:"tester CPU (cores)"
    echo
    bench_ratio W1 deliveries_per_server_cpu_s chorus nchan "deliveries per server CPU-second (aim: >= 2.00)"
    bench_ratio W1 deliveries_per_server_redis_cpu_s chorus nchan "deliveries per (server+Redis) CPU-second"
}

# Usage: bench_report_w2 SYSTEMS
bench_report_w2() {
    bench_table W2 "$1" \
        deliveries_per_s:"deliveries/s" \
        p50_ms:"delivery p50 (ms)" \
        p90_ms:"delivery p90 (ms)" \
        p99_ms:"delivery p99 (ms)" \
        p999_ms:"delivery p99.9 (ms)" \
        max_ms:"delivery max (ms)" \
        ack_p99_ms:"publish ack p99 (ms)" \
        server_cores:"server CPU (cores)" \
        redis_cores:"Redis CPU (cores)" \
        missing:"missing deliveries" \
        errors:"errors" \
        tester_cores:"tester CPU (cores)"
}

# Usage: bench_report_w3 NAME SYSTEMS   (NAME: W3-<connections>)
bench_report_w3() {
    bench_table "$1" "$2" \
        held:"connections held (server count)" \
        failed:"failed connects" \
        connects_per_s:"connect rate (/s)" \
        connects_per_s_nojoin:"connect rate, no join (connect-storm)" \
        connect_p99_ms:"connect p99 (ms)" \
        connect_server_cores:"server CPU while connecting (cores)" \
        connect_redis_cores:"Redis CPU while connecting (cores)" \
        server_us_per_connect:"server CPU per connect (us)" \
        server_us_per_connect_nojoin:"server CPU per connect, no join (us)" \
        tester_cpu_s:"tester CPU, whole run (s)" \
        rss_idle_mib:"server RSS before (MiB)" \
        rss_held_mib:"server RSS holding them (MiB)" \
        rss_kib_per_conn:"server RSS per connection (KiB)" \
        pss_kib_per_conn:"server PSS per connection (KiB)" \
        errors:"errors"
    echo
    bench_ratio "$1" connects_per_s chorus nchan "connect rate (aim: > 1.00)"
}

# Usage: bench_report_w4
bench_report_w4() {
    bench_table W4 chorus \
        dropped:"clients dropped at once" \
        caught_up:"caught up" \
        not_caught_up:"not caught up" \
        all_caught_up_s:"drop -> all caught up (s)" \
        catchup_p50_ms:"catch-up p50 (ms)" \
        catchup_p99_ms:"catch-up p99 (ms)" \
        received_catchup:"events received by catch-up" \
        gaps:"gaps" \
        dups:"duplicates" \
        reorders:"reorders" \
        missing:"missing" \
        deliveries_per_s:"deliveries/s (whole run)" \
        errors:"errors (incl. the intended drops)" \
        slo_pass:"SLO pass (1 = all held)"
}
