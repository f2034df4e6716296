#!/usr/bin/env bash
#
# w2_latency.sh — W2, latency at a fixed load, Chorus and nginx + Nchan
# side by side: 1,000 WebSocket subscribers in 10 rooms (100 per room), 10
# publishers (one per room) at 200 publishes/s in total (20 per publisher,
# open loop), so 20,000 deliveries/s, for 10 s; 64-byte payloads.
#
# Figures: delivery latency from the intended send time (p50, p99, p99.9,
# max), publish ack p99, deliveries/s, server and Redis CPU.
#
# Chorus: 2 gateway processes (--workers 1 each), one Redis, the tester
# connected to both gateways round-robin; publishers and subscribers of a
# room are spread over both gateways, so most deliveries cross from one
# gateway to the other through Redis. No non-default gateway flag (20
# publishes/s per publisher is below the default --publish-rate 100).
# Nchan: nginx with 2 worker processes, one Redis; each publisher has 4
# keep-alive HTTP connections, so a slow answer does not hold the next
# publish back (a publish waiting for a free connection keeps its intended
# time, so the wait counts in its latency).
#
# Usage: loadtest/bench/w2_latency.sh      (BENCH_REPEAT, BENCH_OUT: bench_lib.sh)
set -euo pipefail
# shellcheck source=bench_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench_lib.sh"

SUBS=${W2_SUBSCRIBERS:-1000}
ROOMS=${W2_ROOMS:-10}
PUBS=${W2_PUBLISHERS:-10}
RATE=${W2_RATE:-200}
PAYLOAD=${W2_PAYLOAD:-64}
DURATION=${W2_DURATION:-10}
SERVERS=${W2_SERVERS:-2}
PROCS=${W2_PROCS:-2}
SYSTEMS=${W2_SYSTEMS:-"chorus nchan"}

bench_init w2
bench_build

bench_machine_state
for ((rep = 1; rep <= BENCH_REPEAT; rep++)); do
    for sys in $SYSTEMS; do
        chorus_section "W2 $sys, repetition $rep/$BENCH_REPEAT"
        bench_fanout_once "$sys" "w2-$sys-$rep" "$SERVERS" "" \
            --connections "$SUBS" --rooms "$ROOMS" --publishers "$PUBS" --rate "$RATE" --window 4 \
            --payload "$PAYLOAD" --duration "$DURATION" --procs "$PROCS" --room-prefix "w2-$sys-$rep"
        bench_fanout_record W2 "$sys" "$rep" "w2-$sys-$rep" "$DURATION"
    done
done

bench_report_w2 "$SYSTEMS"
