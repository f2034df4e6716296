#!/usr/bin/env bash
#
# w4_reconnect.sh — W4, reconnect storm (Chorus only: Nchan has no
# sequence numbers to resume from exactly): 10,000 subscribers in 100
# rooms (100 per room) and 100 publishers (one per room) publishing 1,000
# durable events/s in total; 4 s into a 10 s run every subscriber closes
# its socket at once and reconnects, rejoining with since = the last seq it
# has. Publishing continues throughout.
#
# Figures: time from the drop until every client has caught up (has the
# room's seq at its rejoin), catch-up time percentiles, gaps, duplicates,
# reorders and missing events over the whole run (the sequence check runs
# across the reconnect), events received from catch-up.
#
# 2 gateway processes (--workers 1 each), one Redis, the tester connected
# to both gateways round-robin (a client may come back on the other one).
# No non-default gateway flag (10 publishes/s per publisher).
#
# Usage: loadtest/bench/w4_reconnect.sh    (BENCH_REPEAT, BENCH_OUT: bench_lib.sh)
set -euo pipefail
# shellcheck source=bench_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench_lib.sh"

CLIENTS=${W4_CLIENTS:-10000}
ROOMS=${W4_ROOMS:-100}
PUBS=${W4_PUBLISHERS:-100}
RATE=${W4_RATE:-1000}
DURATION=${W4_DURATION:-10}
DROP_AT=${W4_DROP_AT:-4}
SERVERS=${W4_SERVERS:-2}
PROCS=${W4_PROCS:-2}

bench_init w4
bench_build

bench_machine_state
for ((rep = 1; rep <= BENCH_REPEAT; rep++)); do
    chorus_section "W4 chorus, repetition $rep/$BENCH_REPEAT"
    name=w4-chorus-$rep
    json=$BENCH_WORK/$name.json
    bench_wait_quiet
    bench_redis_start
    bench_gateways_start "$SERVERS"
    rc=0
    CHORUS_LOADTEST_SECRET=$BENCH_SECRET bench_run_tester "$BENCH_WORK/$name.txt" \
        "$BENCH_BIN/chorus-loadtest" reconnect-storm --url "$BENCH_GW_URLS" \
        --connections "$CLIENTS" --rooms "$ROOMS" --publishers "$PUBS" --rate "$RATE" \
        --duration "$DURATION" --drop-at "$DROP_AT" --procs "$PROCS" --room-prefix "$name" \
        --slo 'catchup.max<10s,gaps=0,dups=0,reorders=0,missing=0,not_caught_up=0' \
        --quiet --json "$json" || rc=$?
    cat "$BENCH_WORK/$name.txt"
    ((rc == 0)) || chorus_warn "the tester exited with $rc (3: an SLO condition failed)"
    bench_servers_stop
    [[ -s $json ]] || chorus_die "the tester wrote no report: $(tail -5 "$BENCH_WORK/$name.txt.err")"
    bench_keep "$json" "$name.json"
    bench_record W4 chorus "$rep" dropped "$(jq -r .reconnect.dropped "$json")"
    bench_record W4 chorus "$rep" caught_up "$(jq -r .reconnect.caught_up "$json")"
    bench_record W4 chorus "$rep" not_caught_up "$(jq -r .reconnect.not_caught_up "$json")"
    bench_record W4 chorus "$rep" all_caught_up_s "$(jq -r .reconnect.all_caught_up_seconds "$json")"
    bench_record W4 chorus "$rep" catchup_p50_ms "$(jq -r '.latency.catchup.p50 / 1000' "$json")"
    bench_record W4 chorus "$rep" catchup_p99_ms "$(jq -r '.latency.catchup.p99 / 1000' "$json")"
    bench_record W4 chorus "$rep" received_catchup "$(jq -r .reconnect.received_catchup "$json")"
    bench_record W4 chorus "$rep" gaps "$(jq -r .correctness.gaps "$json")"
    bench_record W4 chorus "$rep" dups "$(jq -r .correctness.dups "$json")"
    bench_record W4 chorus "$rep" reorders "$(jq -r .correctness.reorders "$json")"
    bench_record W4 chorus "$rep" missing "$(jq -r .correctness.missing "$json")"
    bench_record W4 chorus "$rep" deliveries_per_s "$(jq -r '.deliveries.received_per_second | floor' "$json")"
    bench_record W4 chorus "$rep" errors "$(jq -r .errors.total "$json")"
    bench_record W4 chorus "$rep" slo_pass "$(jq -r 'if .slo.pass then 1 else 0 end' "$json")"
done

bench_report_w4
