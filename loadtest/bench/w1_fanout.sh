#!/usr/bin/env bash
#
# w1_fanout.sh — W1, fan-out throughput, Chorus and nginx + Nchan side by
# side: 2,000 WebSocket subscribers in 20 rooms (100 per room), 20
# publishers (one per room) publishing 64-byte payloads as fast as the
# server accepts them (closed loop: 16 publishes in flight per publisher),
# for 10 s.
#
# Figures: deliveries/s; deliveries per second of server CPU (the gateway
# processes' or the nginx workers' utime + stime over the run window,
# sampled every 100 ms from /proc/<pid>/stat); Redis CPU separately;
# delivery latency percentiles (closed loop: from the actual send time).
#
# Chorus: 2 gateway processes (--workers 1 each) and one Redis; the tester
# connects to both gateways round-robin (no load balancer in the path).
# Non-default gateway flags:
#   --publish-rate 1000000     a publisher sends thousands of publishes/s
#                              (default limit 100/s per connection)
#   --outbound-limit 16777216  16 MiB of pending output before a socket is
#                              cut as a slow consumer (default 1 MiB): the
#                              tester shares the two cores and may fall
#                              behind for a moment at this rate
# Nchan: nginx with 2 worker processes (loadtest/bench/nchan/nginx.conf.in)
# and one Redis; each publisher has 16 keep-alive HTTP connections (one
# request in flight on each), so both sides keep 16 publishes in flight
# per publisher.
#
# Usage: loadtest/bench/w1_fanout.sh            (BENCH_REPEAT, BENCH_OUT: bench_lib.sh)
#        W1_DURATION=10 W1_SUBSCRIBERS=2000 ... to change the workload
set -euo pipefail
# shellcheck source=bench_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench_lib.sh"

SUBS=${W1_SUBSCRIBERS:-2000}
ROOMS=${W1_ROOMS:-20}
PUBS=${W1_PUBLISHERS:-20}
WINDOW=${W1_WINDOW:-16}
PAYLOAD=${W1_PAYLOAD:-64}
DURATION=${W1_DURATION:-10}
SERVERS=${W1_SERVERS:-2}
PROCS=${W1_PROCS:-2}
SYSTEMS=${W1_SYSTEMS:-"chorus nchan"}

bench_init w1
bench_build

bench_machine_state
for ((rep = 1; rep <= BENCH_REPEAT; rep++)); do
    for sys in $SYSTEMS; do
        chorus_section "W1 $sys, repetition $rep/$BENCH_REPEAT"
        bench_fanout_once "$sys" "w1-$sys-$rep" "$SERVERS" \
            "--publish-rate 1000000 --outbound-limit 16777216" \
            --connections "$SUBS" --rooms "$ROOMS" --publishers "$PUBS" --rate 0 --window "$WINDOW" \
            --payload "$PAYLOAD" --duration "$DURATION" --procs "$PROCS" --room-prefix "w1-$sys-$rep"
        bench_fanout_record W1 "$sys" "$rep" "w1-$sys-$rep" "$DURATION"
    done
done

bench_report_w1 "$SYSTEMS"
