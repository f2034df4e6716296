# shellcheck shell=bash
#
# services.sh — start and stop the servers Chorus runs beside its gateways:
# redis-server, PostgreSQL 15 and nginx, each as a private process with its
# data, socket, pid and log files under a folder the caller chooses. No
# system service is used or touched.
#
# Needs common.sh and net.sh. Long-running servers are started with setsid
# so a Ctrl-C on the terminal reaches only the calling script, which then
# stops them in order (nginx, gateways, redis, postgres). The start
# functions store the child's pid in a global (CHORUS_*_PID) rather than
# printing it, because a command substitution would make the server the
# child of a subshell that the caller cannot wait for.

CHORUS_PG_BIN=${CHORUS_PG_BIN:-/usr/lib/postgresql/15/bin}

# Sends SIG (default TERM; "-" sends nothing, for a process already
# signalled) to pid, waits up to timeout seconds for it to exit, then sends
# KILL. Reaps it if it is our child. Never fails.
# Usage: chorus_stop_pid PID NAME [TIMEOUT_S] [SIG]
chorus_stop_pid() {
    local pid=$1 name=$2 timeout=${3:-10} sig=${4:-TERM} i
    [[ -n $pid ]] || return 0
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        return 0
    fi
    if [[ $sig == - ]]; then
        chorus_info "waiting for $name (pid $pid) to exit"
    else
        chorus_info "stopping $name (pid $pid, SIG$sig)"
        kill "-$sig" "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        chorus_warn "$name did not stop within ${timeout}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# If pidfile names a live process whose command name is comm, stops it: it
# is a leftover of an earlier run that was killed without cleaning up.
# Usage: chorus_kill_stale PIDFILE COMM
chorus_kill_stale() {
    local pidfile=$1 comm=$2 pid actual
    [[ -f $pidfile ]] || return 0
    pid=$(<"$pidfile")
    rm -f "$pidfile"
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    actual=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
    if [[ $actual == "$comm"* ]]; then
        chorus_warn "stopping $comm left over from an earlier run (pid $pid)"
        chorus_stop_pid "$pid" "stale $comm" 10
    fi
}

# ---------------------------------------------------------------- redis

# True if redis on 127.0.0.1:port answers PING with +PONG (not -LOADING).
chorus_redis_ping() {
    local port=$1 line=
    {
        exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
        printf 'PING\r\n' >&3
        IFS= read -r -t 2 line <&3 || true
        exec 3<&- 3>&-
    } 2>/dev/null
    [[ $line == +PONG* ]]
}

# Starts redis-server in the foreground of a background job, with an
# append-only file in dir, and waits until it answers PING.
# Sets CHORUS_REDIS_PID.
# Usage: chorus_redis_start PORT DIR LOGFILE [APPENDFSYNC]
chorus_redis_start() {
    local port=$1 dir=$2 log=$3 fsync=${4:-everysec} i
    mkdir -p "$dir"
    setsid redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --appendonly yes --appendfsync "$fsync" --daemonize no \
        </dev/null >>"$log" 2>&1 &
    CHORUS_REDIS_PID=$!
    for ((i = 0; i < 300; i++)); do
        chorus_redis_ping "$port" && return 0
        if ! kill -0 "$CHORUS_REDIS_PID" 2>/dev/null; then
            chorus_warn "redis-server exited at start; see $log"
            tail -n 20 "$log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    chorus_warn "redis-server did not answer PING on port $port within 30s; see $log"
    return 1
}

# ------------------------------------------------------------- postgres
#
# initdb and postgres refuse to run as root, so as root every PostgreSQL
# command runs as an unprivileged OS user that owns the data folder; as a
# normal user they run as that user.

# Creates the system user if it does not exist (root only).
chorus_pg_user_ensure() {
    local user=$1
    ((EUID == 0)) || return 0
    id -u "$user" >/dev/null 2>&1 && return 0
    chorus_info "creating system user $user"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$user"
}

# Runs a command as the PostgreSQL OS user (as root), or as ourselves.
# Usage: chorus_pg_as USER CMD ARGS...
chorus_pg_as() {
    local user=$1
    shift
    if ((EUID == 0)); then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# Makes dir (and its parents) and gives it to the PostgreSQL user, mode 700.
chorus_pg_dir() {
    local user=$1 dir=$2
    mkdir -p "$dir"
    if ((EUID == 0)); then
        chown "$user:" "$dir"
    fi
    chmod 700 "$dir"
    if ! chorus_pg_as "$user" test -w "$dir" -a -x "$dir"; then
        chorus_die "user $user cannot use $dir: a parent folder is not searchable by it (move the repository, or set CHORUS_DATA_DIR)"
    fi
}

# Creates a cluster in datadir unless one is there. The database superuser
# is dbuser; local connections are trusted (the server listens on loopback
# and a socket folder only its user can enter).
# Usage: chorus_pg_init USER DATADIR DBUSER
chorus_pg_init() {
    local user=$1 datadir=$2 dbuser=$3
    chorus_pg_dir "$user" "$datadir"
    if [[ -f $datadir/PG_VERSION ]]; then
        chorus_info "PostgreSQL cluster already initialised in $datadir"
        return 0
    fi
    chorus_info "initdb $datadir (superuser $dbuser)"
    chorus_pg_as "$user" "$CHORUS_PG_BIN/initdb" -D "$datadir" --username="$dbuser" \
        --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
}

# True if a postmaster runs on datadir.
chorus_pg_running() {
    local user=$1 datadir=$2
    chorus_pg_as "$user" "$CHORUS_PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

# Starts PostgreSQL on 127.0.0.1:port with its socket in sockdir and waits
# until it accepts connections. A postmaster still running on datadir from
# an earlier run is stopped first.
# Usage: chorus_pg_start USER DATADIR PORT SOCKDIR LOGFILE
chorus_pg_start() {
    local user=$1 datadir=$2 port=$3 sockdir=$4 log=$5
    case $datadir$sockdir$log in
        *"'"* | *'"'* | *' '*) chorus_die "PostgreSQL paths must not contain quotes or spaces: $datadir" ;;
    esac
    if chorus_pg_running "$user" "$datadir"; then
        chorus_warn "PostgreSQL from an earlier run is still up on $datadir; restarting it"
        chorus_pg_stop "$user" "$datadir"
    fi
    chorus_pg_dir "$user" "$sockdir"
    chorus_pg_as "$user" "$CHORUS_PG_BIN/pg_ctl" -D "$datadir" -l "$log" -w -t 60 \
        -o "-p $port -k $sockdir -c listen_addresses=127.0.0.1" start >/dev/null ||
        {
            chorus_warn "PostgreSQL did not start; see $log"
            tail -n 20 "$log" >&2 || true
            return 1
        }
}

# Stops the postmaster on datadir (fast mode: running sessions are ended).
chorus_pg_stop() {
    local user=$1 datadir=$2
    chorus_pg_running "$user" "$datadir" || return 0
    chorus_info "stopping PostgreSQL ($datadir)"
    chorus_pg_as "$user" "$CHORUS_PG_BIN/pg_ctl" -D "$datadir" -m fast -w -t 30 stop >/dev/null ||
        chorus_warn "pg_ctl stop failed for $datadir"
}

# Creates database db owned by dbuser unless it exists.
# Usage: chorus_pg_createdb USER SOCKDIR PORT DBUSER DB
chorus_pg_createdb() {
    local user=$1 sockdir=$2 port=$3 dbuser=$4 db=$5 found
    # psql expands :'db' (a quoted literal) only in input it reads, not in -c.
    found=$(chorus_pg_as "$user" "$CHORUS_PG_BIN/psql" -h "$sockdir" -p "$port" -U "$dbuser" \
        -d postgres -tAX -v ON_ERROR_STOP=1 -v db="$db" 2>&1 \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db';") ||
        chorus_die "cannot query PostgreSQL: $found"
    if [[ $found != 1 ]]; then
        chorus_info "creating database $db"
        chorus_pg_as "$user" "$CHORUS_PG_BIN/createdb" -h "$sockdir" -p "$port" -U "$dbuser" "$db"
    fi
}

# ---------------------------------------------------------------- nginx

# Copies template to out, replacing each @KEY@ by its value. Fails if a
# placeholder is left.
# Usage: chorus_render TEMPLATE OUT KEY=VALUE...
chorus_render() {
    local template=$1 out=$2 kv key value text
    shift 2
    text=$(<"$template")
    for kv in "$@"; do
        key=${kv%%=*}
        value=${kv#*=}
        text=${text//"@$key@"/"$value"}
    done
    if [[ $text =~ @[A-Z0-9_]+@ ]]; then
        chorus_die "$template: placeholder ${BASH_REMATCH[0]} has no value"
    fi
    printf '%s\n' "$text" >"$out"
}

# Checks an nginx configuration. Usage: chorus_nginx_test CONF PREFIX
chorus_nginx_test() {
    local conf=$1 prefix=$2
    mkdir -p "$prefix/logs" "$prefix/tmp"
    nginx -t -q -c "$conf" -p "$prefix/" -e "$prefix/logs/error.log"
}

# Starts nginx in the foreground of a background job and waits for port.
# Sets CHORUS_NGINX_PID. Usage: chorus_nginx_start CONF PREFIX PORT
chorus_nginx_start() {
    local conf=$1 prefix=$2 port=$3
    mkdir -p "$prefix/logs" "$prefix/tmp"
    setsid nginx -c "$conf" -p "$prefix/" -e "$prefix/logs/error.log" -g 'daemon off;' \
        </dev/null >>"$prefix/logs/stdout.log" 2>&1 &
    CHORUS_NGINX_PID=$!
    chorus_wait_port "$port" 15 "$CHORUS_NGINX_PID" nginx || {
        tail -n 20 "$prefix/logs/error.log" >&2 || true
        return 1
    }
}
