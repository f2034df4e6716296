#!/usr/bin/env bash
#
# report.sh — prints the figure tables (medians and ranges over the
# repetitions) and the ratios against the aims from a results folder of
# run_all.sh (its figures.tsv), e.g. to write docs/benchmarks.md.
#
# Usage: loadtest/bench/report.sh RESULTS_FOLDER
set -euo pipefail
# shellcheck source=bench_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench_lib.sh"

DIR=${1:?usage: report.sh RESULTS_FOLDER}
[[ -f $DIR/figures.tsv ]] || chorus_die "$DIR/figures.tsv not found"
# bench_values reads the figures from $BENCH_WORK/figures.tsv.
BENCH_WORK=$(cd "$DIR" && pwd)
BENCH_REPEAT=$(awk -F'\t' '$3 > n { n = $3 } END { print n + 0 }' "$BENCH_WORK/figures.tsv")
has() { awk -F'\t' -v w="$1" '$1 == w { found = 1 } END { exit !found }' "$BENCH_WORK/figures.tsv"; }

if has W1; then
    bench_table W1 "chorus nchan" \
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
    bench_ratio W1 deliveries_per_server_cpu_s chorus nchan "deliveries per server CPU-second (aim: >= 2.00)"
    bench_ratio W1 deliveries_per_server_redis_cpu_s chorus nchan "deliveries per (server+Redis) CPU-second"
fi
if has W2; then
    bench_table W2 "chorus nchan" \
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
fi
mapfile -t w3 < <(awk -F'\t' '$1 ~ /^W3-/ {print $1}' "$BENCH_WORK/figures.tsv" | sort -u -t- -k2,2n)
for w in "${w3[@]}"; do
    bench_table "$w" "chorus nchan" \
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
    bench_ratio "$w" connects_per_s chorus nchan "connect rate (aim: > 1.00)"
done
if has W4; then
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
        errors:"errors" \
        slo_pass:"SLO pass (1 = all held)"
fi
