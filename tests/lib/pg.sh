# shellcheck shell=bash
#
# A private, throwaway PostgreSQL for tests and the demo. Source this file, then:
#
#   pg_start DIR      initdb into DIR (first time only) and start the server; exports
#                     PGHOST PGPORT PGUSER=postgres PGDATABASE=postgres KPID_PG_PID
#                     KPID_PG_DIR KPID_PG_USER=kpid
#   pg_createdb NAME  CREATE DATABASE NAME in the server PGHOST points at
#   pg_create_warehouse NAME [ROLE]
#                     CREATE DATABASE NAME and in it schema kpid owned by ROLE (kpid):
#                     what a DBA prepares for kpid, which then needs no other privilege
#   pg_stop DIR       fast shutdown (SIGINT) by pid, bounded, then SIGKILL; keeps the data
#   pg_kill DIR [SIG] crash-like stop: SIGQUIT (immediate shutdown, WAL recovery at the next
#                     start) by default; KILL also kills the server's children
#   pg_restart DIR    pg_stop (if running) and pg_start on the same data and socket
#   pg_destroy DIR    pg_stop (if running) and remove the instance (also a /tmp fallback)
#   pg_dropdb NAME    DROP DATABASE IF EXISTS NAME WITH (FORCE)
#
# Roles: the cluster's superuser is postgres (PGUSER, for the tests' own SQL, as a DBA's);
# kpid runs as KPID_PG_USER (kpid), a login role that is no superuser and may only create
# roles (CREATEROLE, for kpid_reader, kpid_analyst and kpid_sql): the least a hospital's
# warehouse grants it besides the ownership of schema kpid.
#
# Layout of DIR: data/ (the cluster), sock/ (the only socket; no TCP), log/postgresql.log,
# pg.env (what pg_start found out; read by the other functions). PostgreSQL refuses to run
# as root: when the caller is root the server runs as "nobody" (runuser). If nobody cannot
# reach DIR (a parent directory without search permission, e.g. /root) or the socket path
# would be too long, data/ and sock/ live in a mktemp -d directory under /tmp instead; the
# log stays in DIR. pg_start says where.
#
# Every loop is bounded in count and time; every function is safe under set -euo pipefail
# and returns non-zero (with a message on stderr) when it fails. Processes are only ever
# signalled by pid, never by name.

KPID_PG_PORT=${KPID_PG_PORT:-5432}
KPID_PG_SUPERUSER=postgres
KPID_PG_USER=${KPID_PG_USER:-kpid}
KPID_PG_WAIT_S=${KPID_PG_WAIT_S:-30}

_pg_say() { printf 'pg.sh: %s\n' "$*" >&2; }

# The directory with initdb, postgres and pg_isready.
_pg_bindir() {
    local d
    if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then
        printf '%s\n' "$PG_BINDIR"
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
            printf '%s\n' "$d"
            return 0
        fi
    fi
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
            printf '%s\n' "$d"
            return 0
        fi
    done
    _pg_say "cannot find initdb/postgres (set PG_BINDIR, or run scripts/bootstrap)"
    return 1
}

# Runs a command as the user the server runs as (nobody when we are root), from /.
_pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && exec runuser -u nobody -- "$@")
    else
        (cd / && exec "$@")
    fi
}

# Absolute path of DIR (which need not exist yet).
_pg_abs() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}

# True when pid is a live (not zombie) process. A zombie still answers kill -0 until its
# parent reaps it, and the parent (bash) may reap it at any moment: a stat file that
# vanishes between the two checks means the process is gone.
_pg_alive() {
    local pid=$1 stat='' state
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [ -d /proc/self ] || return 0 # no procfs: kill -0 is all we know
    { stat=$(<"/proc/$pid/stat"); } 2>/dev/null || return 1
    [ -n "$stat" ] || return 1
    state=${stat##*) }
    state=${state%% *}
    [ "$state" != Z ] && [ "$state" != X ]
}

# True when pid is this instance's postmaster ($_pg_data): alive, and running in that
# data directory (the postmaster's working directory). postmaster.pid outlives a killed
# server, and its pid may belong to any other process since: that one must be neither
# signalled nor taken for a running server.
_pg_is_ours() {
    local pid=$1 cwd='' comm=''
    _pg_alive "$pid" || return 1
    [ -d /proc/self ] || return 0 # no procfs: kill -0 is all we know
    if cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) && [ -n "$cwd" ]; then
        # "return $?", not a bare "return": in a function that an EXIT trap calls (a
        # script's cleanup), bash's bare return gives the status the script had before
        # the trap, and a failed run's cleanup took its server for someone else's.
        [ "$cwd" = "$(cd "$_pg_data" 2>/dev/null && pwd -P)" ]
        return $?
    fi
    # Another user's process (the server runs as nobody when the tests run as root and
    # /proc hides its directory): its name at least.
    { comm=$(<"/proc/$pid/comm"); } 2>/dev/null || return 1
    [ "$comm" = postgres ]
}

# Waits at most $2 seconds for pid $1 to end. Returns 0 when it ended.
_pg_wait_gone() {
    local pid=$1 max_s=$2 i
    for ((i = 0; i < max_s * 10; i++)); do
        _pg_alive "$pid" || return 0
        sleep 0.1
    done
    ! _pg_alive "$pid"
}

# Reads DIR/pg.env into _pg_root _pg_data _pg_sock _pg_log _pg_fallback _pg_pid.
_pg_load() {
    local dir=$1 k v
    _pg_root='' _pg_data='' _pg_sock='' _pg_log='' _pg_fallback=0 _pg_pid=''
    [ -f "$dir/pg.env" ] || {
        _pg_say "$dir is not a pg.sh instance (no pg.env)"
        return 1
    }
    while IFS='=' read -r k v; do
        case "$k" in
        root) _pg_root=$v ;;
        data) _pg_data=$v ;;
        sock) _pg_sock=$v ;;
        log) _pg_log=$v ;;
        fallback) _pg_fallback=$v ;;
        esac
    done <"$dir/pg.env"
    # The postmaster's pid: the first line of postmaster.pid while it runs.
    if [ -n "$_pg_data" ] && [ -r "$_pg_data/postmaster.pid" ]; then
        _pg_pid=$(head -n 1 "$_pg_data/postmaster.pid" 2>/dev/null || true)
        case "$_pg_pid" in '' | *[!0-9]*) _pg_pid='' ;; esac
    fi
    return 0
}

# Lays out a new instance in DIR and writes DIR/pg.env.
_pg_layout() {
    local dir=$1 root fallback=0
    mkdir -p "$dir/log" || return 1
    chmod a+x "$dir" || return 1 # the instance's own directory: let nobody traverse it
    root=$dir
    if [ "$(id -u)" -eq 0 ] && ! runuser -u nobody -- test -x "$dir" 2>/dev/null; then
        fallback=1
    fi
    # A unix socket path holds at most 107 bytes: sock/.s.PGSQL.NNNNN must fit.
    if [ $((${#dir} + 24)) -gt 100 ]; then
        fallback=1
    fi
    if [ "$fallback" -eq 1 ]; then
        root=$(mktemp -d /tmp/kpid-pg.XXXXXX) || return 1
        chmod 0755 "$root" || return 1
        _pg_say "user nobody cannot use $dir (or the socket path is too long): the instance lives in $root"
    fi
    mkdir -p "$root/data" "$root/sock" || return 1
    chmod 0700 "$root/data" || return 1
    chmod 0755 "$root/sock" || return 1
    if [ "$(id -u)" -eq 0 ]; then
        chown nobody: "$root/data" "$root/sock" || return 1
    fi
    printf 'root=%s\ndata=%s\nsock=%s\nlog=%s\nfallback=%s\n' \
        "$root" "$root/data" "$root/sock" "$dir/log/postgresql.log" "$fallback" \
        >"$dir/pg.env" || return 1
}

_pg_export() {
    export PGHOST=$_pg_sock
    export PGPORT=$KPID_PG_PORT
    export PGUSER=$KPID_PG_SUPERUSER
    export KPID_PG_USER
    export PGDATABASE=postgres
    export KPID_PG_PID=$_pg_pid
    export KPID_PG_DIR=$1
    export KPID_PG_LOG=$_pg_log
}

# pg_start DIR: see the top of the file.
pg_start() {
    local dir bindir pid i launcher
    [ $# -eq 1 ] || {
        _pg_say "usage: pg_start DIR"
        return 2
    }
    dir=$(_pg_abs "$1")
    bindir=$(_pg_bindir) || return 1

    if [ -f "$dir/pg.env" ]; then
        _pg_load "$dir" || return 1
        if [ ! -d "$_pg_data" ]; then
            _pg_say "$dir/pg.env names $_pg_data, which is gone: remove $dir and start again"
            return 1
        fi
        if [ -n "$_pg_pid" ] && _pg_is_ours "$_pg_pid"; then
            _pg_say "already running in $dir (pid $_pg_pid)"
            _pg_export "$dir"
            return 0
        fi
    else
        _pg_layout "$dir" || return 1
        _pg_load "$dir" || return 1
    fi

    if [ ! -f "$_pg_data/PG_VERSION" ]; then
        # -N: initdb's own files need no fsync (we simulate server crashes, not OS
        # crashes); the server itself runs with fsync=on.
        if ! _pg_as "$bindir/initdb" -D "$_pg_data" -U "$KPID_PG_SUPERUSER" --auth=trust -E UTF8 \
            --locale=C -N >>"$_pg_log" 2>&1; then
            _pg_say "initdb failed; its output:"
            tail -n 30 "$_pg_log" >&2 || true
            return 1
        fi
        cat >>"$_pg_data/postgresql.conf" <<EOF || return 1

# --- kpid tests/lib/pg.sh ---
listen_addresses = ''
unix_socket_directories = '$_pg_sock'
unix_socket_permissions = 0777
port = $KPID_PG_PORT
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 32MB
max_connections = 100
max_wal_size = 256MB
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
timezone = 'UTC'
EOF
    fi

    # One role logs in with a password (the tests of a wrong password); everyone else is
    # trusted. First match wins, so the line goes first; idempotent for old directories.
    if ! grep -q '^local all kpid_password scram-sha-256' "$_pg_data/pg_hba.conf"; then
        { printf 'local all kpid_password scram-sha-256\n'; cat "$_pg_data/pg_hba.conf"; } \
            >"$_pg_data/pg_hba.conf.new" && cat "$_pg_data/pg_hba.conf.new" >"$_pg_data/pg_hba.conf" &&
            rm -f "$_pg_data/pg_hba.conf.new" || return 1
    fi
    rm -f "$_pg_sock/.s.PGSQL.$KPID_PG_PORT" "$_pg_sock/.s.PGSQL.$KPID_PG_PORT.lock" 2>/dev/null || true
    # The shell (not the server) opens the log, so it may live where nobody cannot write.
    # setsid: a Ctrl-C in the terminal reaches the script's trap, not the server; -w: if
    # setsid must fork, it waits, so the launcher lives exactly as long as the server.
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && exec setsid -w runuser -u nobody -- "$bindir/postgres" -D "$_pg_data") \
            </dev/null >>"$_pg_log" 2>&1 &
    else
        (cd / && exec setsid -w "$bindir/postgres" -D "$_pg_data") </dev/null >>"$_pg_log" 2>&1 &
    fi
    launcher=$!

    pid=''
    for ((i = 0; i < KPID_PG_WAIT_S * 5; i++)); do
        if [ -z "$pid" ] && [ -r "$_pg_data/postmaster.pid" ]; then
            pid=$(head -n 1 "$_pg_data/postmaster.pid" 2>/dev/null || true)
            case "$pid" in '' | *[!0-9]*) pid='' ;; esac
        fi
        if [ -n "$pid" ] &&
            "$bindir/pg_isready" -q -h "$_pg_sock" -p "$KPID_PG_PORT" -U "$KPID_PG_SUPERUSER" -d postgres -t 1 >/dev/null 2>&1; then
            break
        fi
        if ! _pg_alive "$launcher" && { [ -z "$pid" ] || ! _pg_alive "$pid"; }; then
            _pg_say "postgres exited during start-up; the end of $_pg_log:"
            tail -n 30 "$_pg_log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
    if [ -z "$pid" ] ||
        ! "$bindir/pg_isready" -q -h "$_pg_sock" -p "$KPID_PG_PORT" -U "$KPID_PG_SUPERUSER" -d postgres -t 1 >/dev/null 2>&1; then
        _pg_say "postgres did not accept connections within ${KPID_PG_WAIT_S}s; the end of $_pg_log:"
        tail -n 30 "$_pg_log" >&2 || true
        if [ -n "$pid" ] && _pg_is_ours "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        return 1
    fi
    _pg_pid=$pid
    _pg_export "$dir"
    # kpid's own role (idempotent: the data directory may be an old one).
    if ! printf '%s\n' "SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER CREATEROLE', :'role')
            WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \\gexec" |
        psql -X -q -v ON_ERROR_STOP=1 -d postgres -v role="$KPID_PG_USER" >/dev/null; then
        _pg_say "cannot create role $KPID_PG_USER"
        return 1
    fi
    return 0
}

# pg_stop DIR: fast shutdown by pid; bounded; keeps the data directory.
pg_stop() {
    local dir
    [ $# -eq 1 ] || {
        _pg_say "usage: pg_stop DIR"
        return 2
    }
    dir=$(_pg_abs "$1")
    [ -f "$dir/pg.env" ] || return 0
    _pg_load "$dir" || return 1
    if [ -z "$_pg_pid" ] || ! _pg_is_ours "$_pg_pid"; then
        return 0
    fi
    kill -INT "$_pg_pid" 2>/dev/null || true
    if ! _pg_wait_gone "$_pg_pid" "$KPID_PG_WAIT_S"; then
        _pg_say "postgres (pid $_pg_pid) did not stop within ${KPID_PG_WAIT_S}s: killing it"
        _pg_kill_tree "$_pg_pid"
    fi
    return 0
}

# SIGKILLs pid and its direct children (the server's backends), and waits for them.
_pg_kill_tree() {
    local pid=$1 children c
    children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
    kill -KILL "$pid" 2>/dev/null || true
    for c in $children; do
        kill -KILL "$c" 2>/dev/null || true
    done
    _pg_wait_gone "$pid" 10 || _pg_say "pid $pid survived SIGKILL"
    for c in $children; do
        _pg_wait_gone "$c" 10 || true
    done
}

# pg_kill DIR [QUIT|KILL]: stops the server as a crash would. QUIT (the default) is
# PostgreSQL's immediate shutdown: no checkpoint, WAL recovery at the next start. KILL
# kills the postmaster and its backends outright.
pg_kill() {
    local dir sig=${2:-QUIT}
    [ $# -ge 1 ] || {
        _pg_say "usage: pg_kill DIR [QUIT|KILL]"
        return 2
    }
    dir=$(_pg_abs "$1")
    _pg_load "$dir" || return 1
    if [ -z "$_pg_pid" ] || ! _pg_is_ours "$_pg_pid"; then
        return 0
    fi
    case "$sig" in
    KILL | SIGKILL | 9) _pg_kill_tree "$_pg_pid" ;;
    QUIT | SIGQUIT | 3)
        kill -QUIT "$_pg_pid" 2>/dev/null || true
        _pg_wait_gone "$_pg_pid" "$KPID_PG_WAIT_S" || _pg_kill_tree "$_pg_pid"
        ;;
    *)
        _pg_say "pg_kill: signal must be QUIT or KILL, not $sig"
        return 2
        ;;
    esac
    return 0
}

# pg_restart DIR: stop (if running) and start again on the same data and socket.
pg_restart() {
    [ $# -eq 1 ] || {
        _pg_say "usage: pg_restart DIR"
        return 2
    }
    pg_stop "$1" || return 1
    pg_start "$1"
}

# pg_destroy DIR: stop (if running) and remove DIR and its /tmp fallback, if any.
pg_destroy() {
    local dir
    [ $# -eq 1 ] || {
        _pg_say "usage: pg_destroy DIR"
        return 2
    }
    dir=$(_pg_abs "$1")
    [ -e "$dir" ] || return 0
    if [ -f "$dir/pg.env" ]; then
        pg_stop "$dir" || return 1
        _pg_load "$dir" || return 1
        if [ "$_pg_fallback" = 1 ]; then
            case "$_pg_root" in
            /tmp/kpid-pg.*) rm -rf -- "$_pg_root" ;;
            esac
        fi
    fi
    rm -rf -- "$dir"
}

# pg_createdb NAME: creates a database in the server at PGHOST.
pg_createdb() {
    [ $# -eq 1 ] || {
        _pg_say "usage: pg_createdb NAME"
        return 2
    }
    # psql interpolates :"name" (quoted as an identifier) only in its input, not in -c.
    printf '%s\n' 'CREATE DATABASE :"name";' |
        psql -X -q -v ON_ERROR_STOP=1 -d postgres -v name="$1" >/dev/null
}

# pg_create_warehouse NAME [ROLE]: a database with schema kpid owned by ROLE (default
# KPID_PG_USER), as a DBA prepares one for kpid.
pg_create_warehouse() {
    [ $# -ge 1 ] && [ $# -le 2 ] || {
        _pg_say "usage: pg_create_warehouse NAME [ROLE]"
        return 2
    }
    pg_createdb "$1" || return 1
    printf '%s\n' 'CREATE SCHEMA kpid AUTHORIZATION :"role";' |
        psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v role="${2:-$KPID_PG_USER}" >/dev/null
}

# pg_dropdb NAME: drops a database if it exists, disconnecting its sessions.
pg_dropdb() {
    [ $# -eq 1 ] || {
        _pg_say "usage: pg_dropdb NAME"
        return 2
    }
    printf '%s\n' 'SET client_min_messages = warning;' \
        'DROP DATABASE IF EXISTS :"name" WITH (FORCE);' |
        psql -X -q -v ON_ERROR_STOP=1 -d postgres -v name="$1" >/dev/null
}

# The server's own client programs (psql, pg_isready, pg_dump) first in PATH: Debian's
# /usr/bin/psql is pg_wrapper, a Perl script that costs ~35 ms of processor per call
# before the binary's ~9 ms, and the tests call psql thousands of times (every poll).
_pg_client_path() {
    local d
    d=$(_pg_bindir 2>/dev/null) || return 0
    case ":$PATH:" in
    *":$d:"*) ;;
    *) export PATH="$d:$PATH" ;;
    esac
}
_pg_client_path
