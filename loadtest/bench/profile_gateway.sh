#!/usr/bin/env bash
#
# profile_gateway.sh — CPU profile of the Chorus gateway processes under one
# of the benchmark workloads, with perf (linux-perf): samples every gateway
# process at 499 Hz with call graphs (DWARF unwinding: the Release build
# keeps no frame pointers) while the tester runs, then prints the functions
# with the most CPU time, by self time and including callees.
#
#   w1  W1 fan-out at full speed: 2 gateways, 2,000 subscribers / 20 rooms,
#       20 publishers, closed loop (w1_fanout.sh's gateway flags)
#   w2  W2: 2 gateways, 1,000 subscribers / 10 rooms, 200 publishes/s
#   w3  W3 connect phase: 7 gateways, 30,000 subscribers joining 1,500
#       rooms (20 per room), as fast as the tester goes
#   w3h the handshake alone: 7 gateways, connect-storm of 30,000 clients
#       (TCP + upgrade + JWT check + welcome, no join)
#
# Usage: loadtest/bench/profile_gateway.sh w1|w2|w3|w3h [SECONDS=8]
#   BENCH_OUT=DIR keeps perf.data and the reports there.
set -euo pipefail
# shellcheck source=bench_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench_lib.sh"

WL=${1:?usage: profile_gateway.sh w1|w2|w3|w3h [SECONDS]}
SECS=${2:-8}
command -v perf >/dev/null || chorus_deps_ensure linux-perf

bench_init "profile-$WL"
bench_build
bench_redis_start
case $WL in
    w1)
        bench_gateways_start 2 --publish-rate 1000000 --outbound-limit 16777216
        args=(fanout --connections 2000 --rooms 20 --publishers 20 --rate 0 --window 16 --duration "$SECS" --procs 2)
        ;;
    w2)
        bench_gateways_start 2
        args=(fanout --connections 1000 --rooms 10 --publishers 10 --rate 200 --duration "$SECS" --procs 2)
        ;;
    w3)
        bench_gateways_start 7
        # shellcheck disable=SC2054 # --source takes one comma-separated list
        args=(idle --connections 30000 --rooms 1500 --duration 1 --procs 4
              --source 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4)
        ;;
    w3h)
        bench_gateways_start 7
        # shellcheck disable=SC2054 # --source takes one comma-separated list
        args=(connect-storm --connections 30000 --procs 4
              --source 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4)
        ;;
    *) chorus_die "unknown workload $WL (w1 w2 w3 w3h)" ;;
esac

pids=$(IFS=,; printf '%s' "${BENCH_GW_PIDS[*]}")
perf record -F 499 --call-graph dwarf,16384 -p "$pids" -o "$BENCH_WORK/perf.data" \
    >"$BENCH_WORK/perf-record.log" 2>&1 &
perf_pid=$!
sleep 0.5
rc=0
CHORUS_LOADTEST_SECRET=$BENCH_SECRET bench_run_tester "$BENCH_WORK/tester.txt" \
    "$BENCH_BIN/chorus-loadtest" "${args[@]}" --url "$BENCH_GW_URLS" --room-prefix "prof-$WL" --quiet || rc=$?
kill -INT "$perf_pid" 2>/dev/null || true
wait "$perf_pid" 2>/dev/null || true
cat "$BENCH_WORK/tester.txt"
((rc == 0)) || chorus_warn "tester exited with $rc"

report() {
    perf report -i "$BENCH_WORK/perf.data" --stdio --percent-limit 0.5 -g none "$@" 2>/dev/null |
        grep -v '^#' | grep -v '^$' | grep -v ' 0x0000'
}
report --no-children --sort dso,symbol >"$BENCH_WORK/self.txt"
report --children --sort symbol >"$BENCH_WORK/children.txt"
{
    echo "== $WL: self time (function's own code), all gateway processes"
    head -30 "$BENCH_WORK/self.txt"
    echo
    echo "== $WL: including callees"
    head -45 "$BENCH_WORK/children.txt"
    echo
    echo "== $WL: system calls (including callees)"
    grep -E '__x64_sys_|do_writev|do_epoll_ctl' "$BENCH_WORK/children.txt" | head -20
} | tee "$BENCH_WORK/perf-report.txt"
if [[ -n $BENCH_OUT ]]; then
    cp "$BENCH_WORK/perf-report.txt" "$BENCH_OUT/perf-$WL.txt"
    cat "$BENCH_WORK/self.txt" >"$BENCH_OUT/perf-$WL-self-full.txt"
    cat "$BENCH_WORK/children.txt" >"$BENCH_OUT/perf-$WL-children-full.txt"
fi
