#!/usr/bin/env bash
# board_load.sh — the kanban board under load (see board_load.mjs): render
# time of a 2,000-card board in headless Chromium, and a card move's
# visibility latency to 50 other connected clients.
#
# Builds chorus-gateway and chorus-worker in a Release build (BENCH_BUILD,
# default build/release) unless BENCH_PREBUILT names a folder holding both,
# copies them to a temp folder so a rebuild mid-run cannot change them, and
# runs board_load.mjs on a fresh cluster (redis, PostgreSQL, worker, two
# gateways, nginx): bench_browser_run in bench_lib.sh.
#
# Environment: BOARD_CARDS (2000), BOARD_RUNS (5), BOARD_OBSERVERS (50),
# BOARD_MOVES (200), BOARD_MOVE_RATE (20 per second), BOARD_JSON (also
# write the figures as JSON there).
set -euo pipefail
# shellcheck source=bench_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench_lib.sh"

bench_init board-load
bench_browser_run board_load
