#!/usr/bin/env bash
# whiteboard_render.sh — the whiteboard under load (see whiteboard_render.mjs):
# load-and-render time of a 10,000-stroke board in headless Chromium, and
# the frame time while 5 other users (and the page's own user) draw.
#
# Builds chorus-gateway and chorus-worker in a Release build (BENCH_BUILD,
# default build/release) unless BENCH_PREBUILT names a folder holding both,
# copies them to a temp folder so a rebuild mid-run cannot change them, and
# runs whiteboard_render.mjs on a fresh cluster (redis, PostgreSQL, worker,
# two gateways, nginx): bench_browser_run in bench_lib.sh.
#
# Environment: WB_STROKES (10000), WB_POINTS (120 raw samples per stroke), WB_RUNS (5),
# WB_DRAWERS (5), WB_SECONDS (15), WB_JSON (also write the figures as JSON
# there), WB_PARALLEL (off: full renders on the main thread only), WB_DEBUG.
set -euo pipefail
# shellcheck source=bench_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench_lib.sh"

bench_init whiteboard-render
bench_browser_run whiteboard_render
