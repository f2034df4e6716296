#!/usr/bin/env bash
# whiteboard_render.sh — the whiteboard under load (see whiteboard_render.mjs):
# load-and-render time of a 10,000-stroke board in headless Chromium, and
# the frame time while 5 other users (and the page's own user) draw.
#
# Builds chorus-gateway and chorus-worker in a Release build (BENCH_BUILD,
# default build/release) unless BENCH_PREBUILT names a folder holding both,
# copies them to a temp folder so a rebuild mid-run cannot change them, and
# runs whiteboard_render.mjs on a fresh cluster (redis, PostgreSQL, worker,
# two gateways, nginx). Needs node, the tests/integration node_modules
# (npm ci there), redis-server, PostgreSQL, nginx and Debian's chromium.
#
# Environment: WB_STROKES (10000), WB_POINTS (120 raw samples per stroke), WB_RUNS (5),
# WB_DRAWERS (5), WB_SECONDS (15), WB_JSON (also write the figures as JSON
# there).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build/release}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/chorus-wb-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [[ -n ${BENCH_PREBUILT:-} ]]; then
  cp "$BENCH_PREBUILT/chorus-gateway" "$BENCH_PREBUILT/chorus-worker" "$WORK/"
else
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  echo "# building chorus-gateway and chorus-worker in $BUILD" >&2
  cmake --build "$BUILD" --target chorus-gateway chorus-worker -j"$(nproc)" >"$WORK/build.log" 2>&1 || {
    cat "$WORK/build.log" >&2
    exit 1
  }
  cp "$BUILD/gateway/chorus-gateway" "$BUILD/worker/chorus-worker" "$WORK/"
fi

if [[ ! -d $ROOT/tests/integration/node_modules/ws ]]; then
  (cd "$ROOT/tests/integration" && npm ci --no-audit --no-fund >/dev/null)
fi

CHORUS_GATEWAY_BIN=$WORK/chorus-gateway CHORUS_WORKER_BIN=$WORK/chorus-worker \
  node "$ROOT/loadtest/bench/whiteboard_render.mjs"
