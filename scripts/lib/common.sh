# shellcheck shell=bash
#
# common.sh — logging and small utilities shared by the Chorus scripts.
# Sourced, never executed. Every function is prefixed chorus_ and writes
# diagnostics to stderr so stdout stays usable for values.

# Prints a section header, so a long log can be scanned by stage.
chorus_section() {
    printf '\n==== %s ====\n' "$*" >&2
}

chorus_info() {
    printf '[chorus] %s\n' "$*" >&2
}

chorus_warn() {
    printf '[chorus] WARNING: %s\n' "$*" >&2
}

# Prints the message and exits the calling shell with status 1.
chorus_die() {
    printf '[chorus] ERROR: %s\n' "$*" >&2
    exit 1
}

# Seconds since the epoch (integer).
chorus_now() {
    date +%s
}
