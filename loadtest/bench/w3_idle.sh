#!/usr/bin/env bash
#
# w3_idle.sh — W3, idle connections, Chorus and nginx + Nchan side by side:
# 50,000 and then 100,000 WebSocket subscribers, 20 per room, held idle.
#
# Figures: server RSS per connection = (sum of the server processes' RSS
# while holding the connections - their RSS before) / connections held;
# the same with PSS (shared pages split between the processes that map
# them, which matters for nginx's shared memory zone); connect rate = the
# tester's ready connections / its connect phase (Chorus: TCP + upgrade +
# JWT check + welcome + join + joined; Nchan: TCP + upgrade, which
# subscribes, no authentication). For Chorus also the handshake alone
# (chorus-loadtest connect-storm: TCP + upgrade + JWT check + welcome, no
# join) on the same gateways right after, to split the cost.
#
# One process may hold at most 20,000 open files here, so:
#   Chorus  7 gateway processes (--workers 1 each, ~14,300 sockets each at
#           100k) on 7 ports, the tester round-robin over the 7 URLs; no
#           non-default gateway flag.
#   Nchan   nginx with 7 worker processes (worker_rlimit_nofile 20000,
#           worker_connections 19500, listen ... reuseport).
#   Tester  N / 12,500 worker processes (--procs), 8 loopback source
#           addresses 127.0.0.1-127.0.0.8 (--source), so no address runs
#           out of ephemeral ports towards one destination.
#
# Usage: loadtest/bench/w3_idle.sh        (BENCH_REPEAT, BENCH_OUT: bench_lib.sh)
#        W3_COUNTS="50000 100000" W3_SERVERS=7 W3_HOLD=15 to change the workload
set -euo pipefail
# shellcheck source=bench_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench_lib.sh"

COUNTS=${W3_COUNTS:-"50000 100000"}
SERVERS=${W3_SERVERS:-7}
PER_ROOM=${W3_PER_ROOM:-20}
HOLD=${W3_HOLD:-15}
SOURCES=${W3_SOURCES:-127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8}
SYSTEMS=${W3_SYSTEMS:-"chorus nchan"}

bench_init w3
bench_build

# The server processes that hold the connections.
w3_pids() {
    if [[ $1 == chorus ]]; then printf '%s\n' "${BENCH_GW_PIDS[*]}"; else printf '%s\n' "${BENCH_NGINX_WORKERS[*]}"; fi
}

w3_held() {
    if [[ $1 == chorus ]]; then bench_gateway_connections; else bench_nchan_subscribers; fi
}

# Waits until the servers hold N connections, or the count has not moved
# for 5 s (some failed), or the tester has exited. Prints the count.
w3_wait_held() {
    local sys=$1 n=$2 tester=$3 held=0 last=-1 still=0 i
    for ((i = 0; i < 600; i++)); do
        held=$(w3_held "$sys")
        held=${held:-0}
        ((held >= n)) && break
        kill -0 "$tester" 2>/dev/null || break
        if ((held == last)); then
            ((++still >= 25)) && break
        else
            still=0
        fi
        last=$held
        sleep 0.2
    done
    printf '%s\n' "$held"
}

bench_machine_state
for n in $COUNTS; do
    rooms=$((n / PER_ROOM))
    procs=$(((n + 12499) / 12500))
    for ((rep = 1; rep <= BENCH_REPEAT; rep++)); do
        for sys in $SYSTEMS; do
            chorus_section "W3 $sys, $n connections, repetition $rep/$BENCH_REPEAT"
            name=w3-$n-$sys-$rep
            json=$BENCH_WORK/$name.json
            bench_wait_quiet
            bench_redis_start
            if [[ $sys == chorus ]]; then
                bench_gateways_start "$SERVERS"
                tester=("$BENCH_BIN/chorus-loadtest" idle --url "$BENCH_GW_URLS" --quiet)
            else
                bench_nchan_start "$SERVERS"
                tester=("$BENCH_BIN/nchan-bench" idle --url "http://127.0.0.1:$BENCH_NGINX_PORT")
            fi
            # shellcheck disable=SC2046
            pids=$(w3_pids "$sys")
            sleep 1
            # shellcheck disable=SC2086
            rss0=$(bench_rss_kib $pids)
            # shellcheck disable=SC2086
            pss0=$(bench_pss_kib $pids)
            # shellcheck disable=SC2086
            bench_sampler_start "$BENCH_WORK/$name.cpu" "$pids" "$BENCH_REDIS_PID"
            CHORUS_LOADTEST_SECRET=$BENCH_SECRET "${tester[@]}" --connections "$n" --rooms "$rooms" \
                --source "$SOURCES" --procs "$procs" --duration "$HOLD" --room-prefix "$name" \
                --json "$json" >"$BENCH_WORK/$name.txt" 2>"$BENCH_WORK/$name.txt.err" &
            BENCH_TESTER_PID=$!
            held=$(w3_wait_held "$sys" "$n" "$BENCH_TESTER_PID")
            sleep 2
            held=$(w3_held "$sys")
            # shellcheck disable=SC2086
            rss1=$(bench_rss_kib $pids)
            # shellcheck disable=SC2086
            pss1=$(bench_pss_kib $pids)
            chorus_info "$sys holds $held connections: RSS $rss0 -> $rss1 KiB, PSS $pss0 -> $pss1 KiB"
            rc=0
            wait "$BENCH_TESTER_PID" || rc=$?
            BENCH_TESTER_PID=
            bench_sampler_stop
            cat "$BENCH_WORK/$name.txt"
            ((rc == 0)) || chorus_warn "$sys tester exited with $rc"
            if [[ $sys == chorus ]]; then
                # The handshake alone (TCP + upgrade + JWT check + welcome,
                # no join), on the same gateways, to split the connect cost.
                storm=$BENCH_WORK/$name-storm.json
                bench_sampler_start "$BENCH_WORK/$name-storm.cpu" "$pids" "$BENCH_REDIS_PID"
                CHORUS_LOADTEST_SECRET=$BENCH_SECRET bench_run_tester "$BENCH_WORK/$name-storm.txt" \
                    "$BENCH_BIN/chorus-loadtest" connect-storm --url "$BENCH_GW_URLS" --quiet \
                    --connections "$n" --source "$SOURCES" --procs "$procs" --json "$storm" ||
                    chorus_warn "connect-storm exited with $?"
                bench_sampler_stop
                cat "$BENCH_WORK/$name-storm.txt"
                if [[ -s $storm ]]; then
                    bench_keep "$storm" "$name-storm.json"
                    bench_record "W3-$n" "$sys" "$rep" connects_per_s_nojoin \
                        "$(jq -r '.connections.connects_per_second | floor' "$storm")"
                    read -r srv red < <(bench_cpu_window "$BENCH_WORK/$name-storm.cpu" \
                        "$(jq -r .timing.connect_first_us "$storm")" "$(jq -r .timing.connect_last_us "$storm")")
                    bench_record "W3-$n" "$sys" "$rep" server_us_per_connect_nojoin \
                        "$(awk -v c="$srv" -v r="$(jq -r .connections.connects_per_second "$storm")" \
                            'BEGIN { printf "%.0f", (r > 0 ? c * 1e6 / r : 0) }')"
                fi
            fi
            bench_servers_stop
            [[ -s $json ]] || chorus_die "$sys tester wrote no report: $(tail -5 "$BENCH_WORK/$name.txt.err")"
            bench_keep "$json" "$name.json"
            w="W3-$n"
            bench_record "$w" "$sys" "$rep" held "$held"
            bench_record "$w" "$sys" "$rep" ready "$(jq -r .connections.ready "$json")"
            bench_record "$w" "$sys" "$rep" failed "$(jq -r .connections.failed "$json")"
            bench_record "$w" "$sys" "$rep" connects_per_s "$(jq -r '.connections.connects_per_second | floor' "$json")"
            read -r srv red < <(bench_cpu_window "$BENCH_WORK/$name.cpu" \
                "$(jq -r .timing.connect_first_us "$json")" "$(jq -r .timing.connect_last_us "$json")")
            bench_record "$w" "$sys" "$rep" connect_server_cores "$srv"
            bench_record "$w" "$sys" "$rep" server_us_per_connect \
                "$(awk -v c="$srv" -v r="$(jq -r .connections.connects_per_second "$json")" \
                    'BEGIN { printf "%.0f", (r > 0 ? c * 1e6 / r : 0) }')"
            bench_record "$w" "$sys" "$rep" tester_cpu_s "$(jq -r .timing.tester_cpu_seconds "$json")"
            bench_record "$w" "$sys" "$rep" connect_redis_cores "$red"
            bench_record "$w" "$sys" "$rep" connect_p99_ms "$(jq -r '.latency.connect.p99 / 1000' "$json")"
            bench_record "$w" "$sys" "$rep" rss_idle_mib "$(awk -v a="$rss0" 'BEGIN { printf "%.1f", a / 1024 }')"
            bench_record "$w" "$sys" "$rep" rss_held_mib "$(awk -v a="$rss1" 'BEGIN { printf "%.1f", a / 1024 }')"
            bench_record "$w" "$sys" "$rep" rss_kib_per_conn \
                "$(awk -v a="$rss0" -v b="$rss1" -v n="$held" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) / n : 0) }')"
            bench_record "$w" "$sys" "$rep" pss_kib_per_conn \
                "$(awk -v a="$pss0" -v b="$pss1" -v n="$held" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) / n : 0) }')"
            bench_record "$w" "$sys" "$rep" errors "$(jq -r .errors.total "$json")"
        done
    done
done

for n in $COUNTS; do
    bench_report_w3 "W3-$n" "$SYSTEMS"
done
