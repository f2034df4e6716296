#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
#
# test.sh — the one test command (CI runs it through .ci/run).
#
#   1. installs missing Debian packages (scripts/lib/deps.sh)
#   2. npm ci in tests/integration
#   3. ASan+UBSan Debug build in build/asan, then ctest: unit tests and the
#      integration suite (real redis-server and chorus-gateway processes)
#   4. libFuzzer build in build/fuzz (clang), then ctest -L fuzz, each target
#      for CHORUS_FUZZ_SECONDS (default 20) seconds
#
# Works from any directory; exits non-zero on the first failure. The last
# line is the summary: "summary: N passed, N failed" over all ctest tests.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/lib/common.sh
source scripts/lib/deps.sh

STAGE=setup
PASSED=0
FAILED=0
DONE=()
STARTED=$SECONDS

finish() {
    local rc=$?
    local took=$((SECONDS - STARTED))
    printf '\n' >&2
    if ((rc == 0)); then
        echo "test.sh: OK in ${took}s: ${DONE[*]}"
        echo "summary: $PASSED passed, $FAILED failed"
    else
        echo "test.sh: FAILED in stage '$STAGE' (exit $rc) after ${took}s; ctest so far: $PASSED passed, $FAILED failed"
    fi
}
trap finish EXIT

FUZZ_SECONDS=${CHORUS_FUZZ_SECONDS:-20}
[[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || chorus_die "CHORUS_FUZZ_SECONDS must be a number of seconds"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}

# Usage: stage KEY TITLE — KEY names the stage in the closing lines.
stage() {
    STAGE=$1
    chorus_section "$2"
}

stage_done() {
    DONE+=("$STAGE")
}

# Runs ctest with the given arguments, shows its output, and adds its
# counts to PASSED/FAILED. Fails if ctest fails or runs no test.
run_ctest() {
    local log rc line total failed
    log=$(mktemp)
    set +e
    ctest --no-tests=error "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    # "100% tests passed, 0 tests failed out of 12"
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
    rm -f "$log"
    if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
        failed=${BASH_REMATCH[1]}
        total=${BASH_REMATCH[2]}
        PASSED=$((PASSED + total - failed))
        FAILED=$((FAILED + failed))
    elif ((rc == 0)); then
        chorus_die "could not read ctest's result line"
    fi
    return "$rc"
}

stage deps "Dependencies"
chorus_deps_ensure "${CHORUS_PKGS_BUILD[@]}" "${CHORUS_PKGS_SERVERS[@]}" "${CHORUS_PKGS_TEST[@]}"
stage_done

stage npm "npm ci (tests/integration)"
command -v node >/dev/null || chorus_die "node not found"
chorus_info "node $(node --version), npm $(npm --version)"
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
stage_done

stage asan-build "Build: ASan+UBSan (build/asan)"
cmake -S . -B build/asan -DCHORUS_WERROR=ON -DCHORUS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build build/asan -j2
stage_done

stage asan-tests "Tests: unit + integration (build/asan)"
run_ctest --test-dir build/asan --output-on-failure
stage_done

stage fuzz-build "Build: libFuzzer (build/fuzz)"
CC=clang cmake -S . -B build/fuzz -DCHORUS_FUZZ=ON -DCHORUS_FUZZ_SECONDS="$FUZZ_SECONDS"
cmake --build build/fuzz -j2
stage_done

stage fuzz "Fuzz: ${FUZZ_SECONDS}s per target (build/fuzz)"
run_ctest --test-dir build/fuzz -L fuzz --output-on-failure
stage_done
