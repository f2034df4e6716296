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
    bench_report_w1 "chorus nchan"
fi
if has W2; then
    bench_report_w2 "chorus nchan"
fi
mapfile -t w3 < <(awk -F'\t' '$1 ~ /^W3-/ {print $1}' "$BENCH_WORK/figures.tsv" | sort -u -t- -k2,2n)
for w in "${w3[@]}"; do
    bench_report_w3 "$w" "chorus nchan"
done
if has W4; then
    bench_report_w4
fi
