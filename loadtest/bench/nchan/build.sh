#!/usr/bin/env bash
#
# build.sh — compiles nchan-bench (the Nchan side of the benchmarks) with
# gcc against the load tester's histogram and rate schedule
# (loadtest/lt_hist.c, loadtest/lt_rate.c) and the shared WebSocket codec
# and handshake helpers (common/), so both sides measure the same way.
#
# Usage: loadtest/bench/nchan/build.sh OUTPUT_BINARY
# Needs gcc, libevent-dev, libssl-dev, libjansson-dev (the Chorus build deps).
set -euo pipefail
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${1:?usage: build.sh OUTPUT_BINARY}
gcc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter \
    -I"$ROOT/loadtest" -I"$ROOT/common" \
    "$ROOT/loadtest/bench/nchan/nchan-bench.c" \
    "$ROOT/loadtest/lt_hist.c" "$ROOT/loadtest/lt_rate.c" \
    "$ROOT/common/ws_codec.c" "$ROOT/common/utf8.c" "$ROOT/common/ws_handshake.c" \
    "$ROOT/common/protocol.c" \
    -o "$OUT" -levent -lcrypto -ljansson -lm
