# shellcheck shell=bash
#
# net.sh — TCP helpers built on bash's /dev/tcp, so they need neither curl
# nor netcat. All addresses are loopback; host defaults to 127.0.0.1.

# True if something accepts TCP connections on host:port.
chorus_port_in_use() {
    local port=$1 host=${2:-127.0.0.1}
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# Prints a TCP port on 127.0.0.1 that nothing listens on, chosen at random
# below the kernel's ephemeral range (32768-60999) so outgoing connections
# do not take it meanwhile. Racy by nature: bind it soon.
chorus_free_port() {
    local lo=${1:-20000} hi=${2:-32000} port tries
    for ((tries = 0; tries < 200; tries++)); do
        port=$((lo + RANDOM % (hi - lo)))
        if ! chorus_port_in_use "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    chorus_warn "no free port found in $lo-$hi"
    return 1
}

# Waits until host:port accepts connections. Fails after timeout seconds, or
# at once if pid (optional) has exited meanwhile.
# Usage: chorus_wait_port PORT [TIMEOUT_S] [PID] [NAME] [HOST]
chorus_wait_port() {
    local port=$1 timeout=${2:-30} pid=${3:-} name=${4:-"port $1"} host=${5:-127.0.0.1}
    local deadline=$((SECONDS + timeout))
    while ! chorus_port_in_use "$port" "$host"; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            chorus_warn "$name exited before listening on $host:$port"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            chorus_warn "$name not listening on $host:$port after ${timeout}s"
            return 1
        fi
        sleep 0.1
    done
}

# Prints the HTTP status code of GET path on host:port (HTTP/1.0, no body
# read), or 000 if the connection or the read fails within 2 seconds.
# Usage: chorus_http_status PORT PATH [HOST]
chorus_http_status() {
    local port=$1 path=$2 host=${3:-127.0.0.1} line code=000
    if { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
        printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' \
            "$path" "$host" "$port" >&3 || true
        if IFS= read -r -t 2 line <&3; then
            line=${line%$'\r'}
            if [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]]; then
                code=${BASH_REMATCH[1]}
            fi
        fi
        exec 3<&- 3>&-
    fi
    printf '%s\n' "$code"
}

# Waits until GET path on port answers with the wanted status (default 200).
# Usage: chorus_wait_http PORT PATH [TIMEOUT_S] [PID] [NAME] [WANT]
chorus_wait_http() {
    local port=$1 path=$2 timeout=${3:-30} pid=${4:-} name=${5:-"port $1"} want=${6:-200}
    local deadline=$((SECONDS + timeout)) code
    while :; do
        code=$(chorus_http_status "$port" "$path")
        [[ $code == "$want" ]] && return 0
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            chorus_warn "$name exited before $path answered $want"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            chorus_warn "$name: $path answered $code, not $want, after ${timeout}s"
            return 1
        fi
        sleep 0.2
    done
}
