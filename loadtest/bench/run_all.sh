#!/usr/bin/env bash
#
# run_all.sh — the standard benchmarks, Chorus and nginx + Nchan side by
# side: W1 fan-out throughput, W2 latency at a fixed load, W3 idle
# connections (50k and 100k), W4 reconnect storm (Chorus only). Each is
# repeated BENCH_REPEAT times (default 3) and reported as the median; see
# the scripts for the workloads and every non-default server flag, and
# docs/benchmarks.md for the results.
#
# Usage: loadtest/bench/run_all.sh [OUTPUT_FOLDER]
#   OUTPUT_FOLDER (default: a new /tmp/chorus-bench-results.XXXXXX) gets
#   the machine description, the full log (run_all.log), every tester JSON
#   report, figures.tsv (workload, system, repetition, metric, value) and
#   bin/, the binaries measured (built once at the start).
#   BENCH_ONLY="w1 w3" runs a subset.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$HERE/../../scripts/lib/common.sh"

OUT=${1:-$(mktemp -d /tmp/chorus-bench-results.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ONLY=${BENCH_ONLY:-"w1 w2 w3 w4"}
export BENCH_OUT=$OUT

machine() {
    echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpus:     $(nproc) ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"
    echo "kernel:   $(uname -sr)"
    echo "memory:   $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "nofile:   $(ulimit -Sn) soft, $(ulimit -Hn) hard"
    echo "redis:    $(redis-server --version | awk '{print $3}')"
    echo "nginx:    $(nginx -v 2>&1 | sed 's/^nginx version: //'), nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit:   $(git -C "$HERE/../.." rev-parse --short HEAD 2>/dev/null || echo unknown) (plus uncommitted changes, if any)"
    if [[ -d $OUT/bin ]]; then
        (cd "$OUT/bin" && sha256sum -- * | sed "s/^/binary:   /")
    fi
}

# Build once, so every workload runs the same binaries even if the sources
# change meanwhile; the copies are kept with the results.
(
    source "$HERE/bench_lib.sh"
    bench_init build
    bench_build
    mkdir -p "$OUT/bin"
    cp "$BENCH_BIN"/* "$OUT/bin/"
) || chorus_die "build failed"
export BENCH_PREBUILT=$OUT/bin

machine >"$OUT/machine.txt"
{
    chorus_section "machine"
    cat "$OUT/machine.txt"
    for w in $ONLY; do
        case $w in
            w1) script=w1_fanout.sh ;;
            w2) script=w2_latency.sh ;;
            w3) script=w3_idle.sh ;;
            w4) script=w4_reconnect.sh ;;
            *) chorus_die "unknown workload $w (w1 w2 w3 w4)" ;;
        esac
        "$HERE/$script" || chorus_warn "$script failed with status $?"
    done
    chorus_section "summary (medians over the repetitions)"
    "$HERE/report.sh" "$OUT" || true
    chorus_section "done"
    echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "results: $OUT"
} 2>&1 | tee "$OUT/run_all.log"
