# shellcheck shell=bash
#
# deps.sh — installs the Debian packages the build, the tests and the run
# setup need, and nothing that is already there.
#
# Installed means dpkg reports status "ii"; a package that is only known to
# dpkg (removed, config-files) counts as missing. nodejs and npm are skipped
# when `node` and `npm` are already on PATH, because Node.js may come from a
# non-Debian install whose npm conflicts with Debian's. `apt-get update` runs
# at most once per shell, and only when something has to be installed.

# Packages needed to compile Chorus.
CHORUS_PKGS_BUILD=(build-essential cmake pkg-config libevent-dev libevhtp-dev
                   libonig-dev libhiredis-dev libjansson-dev libjwt-dev libssl-dev
                   libpq-dev libargon2-dev)
# Servers the integration tests and the run setup start themselves.
CHORUS_PKGS_SERVERS=(redis-server nginx postgresql)
# Only for scripts/test.sh: the fuzz toolchain, the test runner, the
# browser the web app tests drive (through npm playwright-core), and the
# tools that check the deploy configs (haproxy -c, promtool from
# prometheus, systemd-analyze).
CHORUS_PKGS_TEST=(clang libclang-rt-14-dev nodejs npm chromium haproxy prometheus systemd)
# Only for scripts/run.sh: openssl mints the dev token.
CHORUS_PKGS_RUN=(openssl)
export CHORUS_PKGS_BUILD CHORUS_PKGS_SERVERS CHORUS_PKGS_TEST CHORUS_PKGS_RUN

CHORUS_APT_UPDATED=${CHORUS_APT_UPDATED:-0}

# True if dpkg has the package fully installed.
chorus_pkg_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
    [[ $status == ii* ]]
}

# Prints, one per line, the packages among "$@" that still have to be installed.
chorus_deps_missing() {
    local pkg
    for pkg in "$@"; do
        case $pkg in
            nodejs|npm)
                if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
                    continue
                fi
                ;;
        esac
        chorus_pkg_installed "$pkg" || printf '%s\n' "$pkg"
    done
}

# Installs whichever of "$@" is missing. Needs root when anything is missing.
chorus_deps_ensure() {
    local missing=()
    if ! command -v dpkg-query >/dev/null 2>&1; then
        chorus_die "dpkg-query not found: these scripts target Debian 12"
    fi
    mapfile -t missing < <(chorus_deps_missing "$@")
    if ((${#missing[@]} == 0)); then
        chorus_info "all ${#} required packages are installed"
        return 0
    fi
    chorus_info "missing packages: ${missing[*]}"
    if ((EUID != 0)); then
        chorus_die "run as root, or install them first: sudo apt-get install -y ${missing[*]}"
    fi
    if [[ $CHORUS_APT_UPDATED != 1 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update
        CHORUS_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    # Check again: apt-get can succeed without installing (held packages).
    mapfile -t missing < <(chorus_deps_missing "$@")
    if ((${#missing[@]} != 0)); then
        chorus_die "still missing after apt-get install: ${missing[*]}"
    fi
}
