# shellcheck shell=bash
#
# Common functions of the integration tests. A test script starts with
#
#   source "$(dirname "$0")/lib.sh"
#   kpid_test_init my_test
#
# and can then run alone (bash tests/integration/my_test.sh, after a build in build/) or
# under ctest (kpid_integration_test() in CMakeLists.txt passes the paths below).
#
# Environment the tests get (defaults in brackets, for running a test alone):
#   KPID_SOURCE_DIR   the source tree                    [two levels above this file]
#   KPID_BUILD_DIR    the build tree                     [$KPID_SOURCE_DIR/build]
#   KPID_BIN          the daemon                         [$KPID_BUILD_DIR/bin/kpid]
#   KPID_PLUGIN_DIR   the built plugins                  [$KPID_BUILD_DIR/plugins]
#   HOSPGEN           the synthetic hospital generator   [$KPID_BUILD_DIR/bin/hospgen]
#   KPID_TEST_SCALE   "normal" or "small" (sanitizer runs) [normal]; see kpid_scale
#   PGHOST PGPORT PGUSER  the running PostgreSQL (scripts/test starts one); when PGHOST
#                     is unset, kpid_test_init starts a private one and stops it at exit.
#                     PGUSER is its superuser: the tests' own SQL runs as a DBA's would
#   KPID_PG_USER      the role kpid connects as: no superuser, owner of schema kpid [kpid]
#
# After kpid_test_init NAME:
#   KPID_WORK         a fresh work directory, removed at exit (KPID_TEST_KEEP=1 keeps it)
#   KPID_TEST_DB      a fresh database t_NAME (dropped at exit when the test passed) with
#                     schema kpid owned by KPID_PG_USER; PGDATABASE points at it, so plain
#                     psql / sql "..." use it (as PGUSER)
#   KPID_TEST_CONNINFO  "host=... port=... dbname=... user=KPID_PG_USER" for
#                     warehouse.conninfo
#   KPID_TEST_KEY_FILE  a pseudonym key (64 hex digits, mode 0600)
#   KPID_LOG          $KPID_WORK/kpid.log, where kpid_start and kpid_run write
#   KPID_TEST_PG_DIR  the private PostgreSQL's directory (only when PGHOST was unset);
#                     kpid_pg_down / kpid_pg_up stop and start it
#
# Everything the test starts (daemons, a private PostgreSQL, processes registered with
# kpid_track_pid) is stopped by pid at exit, also when the test fails. A test signals a
# process it started with kpid_signal_child (or kpid_stop, kpid_kill, kpid_signal), never
# with a bare kill: tests run in parallel, and the pid of a process that ended may
# already be another test's.

set -euo pipefail

_kpid_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/pg.sh
source "$_kpid_lib_dir/../lib/pg.sh"

: "${KPID_SOURCE_DIR:=$(cd "$_kpid_lib_dir/../.." && pwd)}"
: "${KPID_BUILD_DIR:=$KPID_SOURCE_DIR/build}"
: "${KPID_BIN:=$KPID_BUILD_DIR/bin/kpid}"
: "${KPID_PLUGIN_DIR:=$KPID_BUILD_DIR/plugins}"
: "${HOSPGEN:=$KPID_BUILD_DIR/bin/hospgen}"
: "${KPID_TEST_SCALE:=normal}"
export KPID_SOURCE_DIR KPID_BUILD_DIR KPID_BIN KPID_PLUGIN_DIR HOSPGEN KPID_TEST_SCALE

KPID_TEST_NAME=${KPID_TEST_NAME:-$(basename "$0" .sh)}
KPID_WORK=''
KPID_LOG=''
KPID_PID=''        # the daemon started last by kpid_start, '' when none runs
KPID_EXIT=''       # exit status of the daemon stopped last
_kpid_pids=()      # every pid to stop at exit
_kpid_private_pg='' # the private PostgreSQL's directory, when we started one
_kpid_dropdb=''

_kpid_say() { printf '%s: %s\n' "$KPID_TEST_NAME" "$*" >&2; }

# True while pid is a running child of this shell: not ended, and not another process
# that took the pid of one that ended and was reaped (_kpid_our_child, below). Every pid
# a test starts is a child of its shell.
_kpid_alive() { _pg_alive "$1" && _kpid_our_child "$1"; }

# _kpid_await_signals PID: waits (at most 10 s) until the daemon takes SIGHUP, SIGINT and
# SIGTERM itself: it blocks them first thing in main, and while its main thread waits for
# them in sigtimedwait the kernel shows them unblocked. A signal sent before that (the
# shell's child not yet exec'd, a sanitizer runtime still starting) would kill it by the
# default action instead of stopping or reloading it. Returns at once if it is gone.
_kpid_await_signals() {
    local pid=$1 i blk wchan
    [ -r "/proc/$pid/status" ] || return 0 # no procfs: nothing to wait on
    for ((i = 0; i < 100; i++)); do
        _kpid_alive "$pid" || return 0
        blk=$(awk '$1 == "SigBlk:" { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 0
        [ -n "$blk" ] || return 0
        (((0x$blk & 0x4003) == 0x4003)) && return 0
        { wchan=$(<"/proc/$pid/wchan"); } 2>/dev/null || return 0
        [[ $wchan == *sigtimedwait* ]] && return 0
        sleep 0.1
    done
}

# True when pid is a child of this test's shell. Tracked pids are children; one that
# ended and was reaped may have been reused by another test's process since (pid_max
# is often 32768, and the suite starts many processes), which must not be signalled.
_kpid_our_child() {
    local stat=''
    [ -d /proc/self ] || return 0 # no procfs: trust the pid
    { stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
    stat=${stat##*) } # after the command name, which may hold spaces and parentheses
    set -- $stat      # state ppid ...
    [ "${2:-}" = "$$" ]
}

# kpid_signal_child SIGNAL PID: sends SIGNAL to PID only while it is a child of this
# shell (alive, or ended and not yet reaped). The shell reaps a background child as soon
# as it ends, and the kernel may give its pid to a process of another test at once: a
# signal sent to a stale pid could stop that test (a SIGTERM inside a redirected block
# even ends it without a word). Returns 1 when nothing was sent.
kpid_signal_child() {
    _kpid_our_child "$2" || return 1
    kill -"$1" "$2" 2>/dev/null
}

# Sends SIGTERM to pid, waits at most max_s seconds, then SIGKILLs it.
_kpid_terminate() {
    local pid=$1 max_s=${2:-10} i
    _kpid_alive "$pid" || return 0
    kpid_signal_child TERM "$pid" || return 0
    for ((i = 0; i < max_s * 10; i++)); do
        _kpid_alive "$pid" || return 0
        sleep 0.1
    done
    _kpid_say "pid $pid ignored SIGTERM for ${max_s}s: killing it"
    kpid_signal_child KILL "$pid" || return 0
    for ((i = 0; i < 50; i++)); do
        _kpid_alive "$pid" || return 0
        sleep 0.1
    done
}

_kpid_cleanup() {
    local rc=$? pid
    set +e
    trap '' PIPE # whoever read our output (ctest) may be gone: cleaning up matters more
    for pid in "${_kpid_pids[@]}"; do
        _kpid_terminate "$pid" 5
    done
    if [ -n "$_kpid_private_pg" ]; then
        if [ "${KPID_TEST_KEEP:-0}" = 1 ]; then
            pg_stop "$_kpid_private_pg"
            _kpid_say "keeping the private PostgreSQL in $_kpid_private_pg (start it with pg_start)"
        else
            pg_destroy "$_kpid_private_pg"
        fi
    elif [ -n "$_kpid_dropdb" ]; then
        if [ "$rc" -eq 0 ] && [ "${KPID_TEST_KEEP:-0}" != 1 ]; then
            pg_dropdb "$_kpid_dropdb" 2>/dev/null
        else
            _kpid_say "keeping database $_kpid_dropdb (PGHOST=$PGHOST) for inspection"
        fi
    fi
    if [ -n "$KPID_WORK" ] && [ -d "$KPID_WORK" ]; then
        if [ "${KPID_TEST_KEEP:-0}" = 1 ]; then
            _kpid_say "keeping $KPID_WORK"
        else
            rm -rf -- "$KPID_WORK"
        fi
    fi
    if [ "$rc" -eq 0 ]; then
        _kpid_say "PASS"
    else
        _kpid_say "FAIL (exit $rc)"
    fi
    exit "$rc"
}

# kpid_test_init NAME: work directory, database, key; installs the exit trap.
kpid_test_init() {
    local name=${1:-$KPID_TEST_NAME}
    KPID_TEST_NAME=$name
    trap _kpid_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    [ -x "$KPID_BIN" ] || fail "no daemon at KPID_BIN=$KPID_BIN (build first)"

    KPID_WORK=$(mktemp -d "${TMPDIR:-/tmp}/kpid-test-$name.XXXXXX")
    chmod 0711 "$KPID_WORK" # a private PostgreSQL runs as nobody below it
    KPID_LOG=$KPID_WORK/kpid.log
    export KPID_WORK KPID_LOG

    if [ -z "${PGHOST:-}" ]; then
        _kpid_private_pg=$KPID_WORK/pg
        KPID_TEST_PG_DIR=$_kpid_private_pg
        export KPID_TEST_PG_DIR
        pg_start "$_kpid_private_pg" || fail "cannot start a private PostgreSQL"
        _kpid_say "private PostgreSQL in $_kpid_private_pg (PGHOST=$PGHOST)"
    fi
    export PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} KPID_PG_USER=${KPID_PG_USER:-kpid}

    # One database per test, named after it: tests run in parallel in one server.
    KPID_TEST_DB=t_$(printf '%s' "$name" | LC_ALL=C tr '[:upper:]' '[:lower:]' | LC_ALL=C tr -c 'a-z0-9_' '_' | cut -c1-60)
    pg_dropdb "$KPID_TEST_DB" || fail "cannot drop database $KPID_TEST_DB"
    pg_create_warehouse "$KPID_TEST_DB" || fail "cannot create database $KPID_TEST_DB"
    _kpid_dropdb=$KPID_TEST_DB
    export KPID_TEST_DB PGDATABASE=$KPID_TEST_DB
    export KPID_TEST_CONNINFO="host=$PGHOST port=$PGPORT dbname=$KPID_TEST_DB user=$KPID_PG_USER"

    KPID_TEST_KEY_FILE=$KPID_WORK/pseudonym.key
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$KPID_TEST_KEY_FILE" &&
        echo >>"$KPID_TEST_KEY_FILE")
    export KPID_TEST_KEY_FILE
}

# kpid_pg_down [stop|QUIT|KILL] and kpid_pg_up: stop the test's own PostgreSQL (fast
# shutdown, or crash-like with QUIT/KILL) and start it again on the same data and socket,
# with PGDATABASE still the test's database. Only for a private server: a test that needs
# them does `unset PGHOST PGPORT` before sourcing lib.sh. KPID_TEST_PG_DIR is its dir.
kpid_pg_down() {
    [ -n "$_kpid_private_pg" ] || fail "kpid_pg_down: the test has no private PostgreSQL"
    case "${1:-stop}" in
    stop) pg_stop "$_kpid_private_pg" || fail "cannot stop PostgreSQL" ;;
    *) pg_kill "$_kpid_private_pg" "$1" || fail "cannot kill PostgreSQL" ;;
    esac
}
kpid_pg_up() {
    [ -n "$_kpid_private_pg" ] || fail "kpid_pg_up: the test has no private PostgreSQL"
    pg_start "$_kpid_private_pg" || fail "cannot start PostgreSQL again"
    export PGDATABASE=$KPID_TEST_DB
}

# kpid_scale NORMAL SMALL: prints NORMAL, or SMALL when KPID_TEST_SCALE=small.
kpid_scale() {
    if [ "$KPID_TEST_SCALE" = small ]; then
        printf '%s\n' "$2"
    else
        printf '%s\n' "$1"
    fi
}

# kpid_track_pid PID: stop this process (SIGTERM, then SIGKILL) at exit.
kpid_track_pid() {
    _kpid_pids+=("$1")
}

# kpid_start CONF [ARGS...]: starts the daemon in the background; KPID_PID is its pid.
# Its output is appended to $KPID_LOG.
kpid_start() {
    local conf=$1
    shift
    [ -z "$KPID_PID" ] || ! _kpid_alive "$KPID_PID" ||
        fail "kpid_start: a daemon (pid $KPID_PID) is still running"
    printf -- '--- kpid_start %s %s\n' "$conf" "$*" >>"$KPID_LOG"
    KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$conf" "$@" </dev/null >>"$KPID_LOG" 2>&1 &
    KPID_PID=$!
    KPID_EXIT=''
    kpid_track_pid "$KPID_PID"
}

# kpid_run CONF [ARGS...]: runs the daemon in the foreground (--once, --migrate,
# --check-config); returns its exit status, which is also in KPID_EXIT.
kpid_run() {
    local conf=$1
    shift
    printf -- '--- kpid_run %s %s\n' "$conf" "$*" >>"$KPID_LOG"
    KPID_EXIT=0
    KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$conf" "$@" </dev/null >>"$KPID_LOG" 2>&1 ||
        KPID_EXIT=$?
    return "$KPID_EXIT"
}

# Reaps the daemon's status into KPID_EXIT (the daemon is a child of this shell).
_kpid_reap() {
    KPID_EXIT=0
    wait "$KPID_PID" 2>/dev/null || KPID_EXIT=$?
    KPID_PID=''
}

# kpid_stop [EXPECTED|any] [TIMEOUT_S]: SIGTERM by pid, waits at most TIMEOUT_S (15)
# seconds, then SIGKILL. Fails the test unless the exit status is EXPECTED (0) or "any".
kpid_stop() {
    local want=${1:-0} max_s=${2:-15} i pid=$KPID_PID
    [ -n "$pid" ] || fail "kpid_stop: no daemon was started"
    _kpid_await_signals "$pid"
    kpid_signal_child TERM "$pid" || true
    for ((i = 0; i < max_s * 10; i++)); do
        _kpid_alive "$pid" || break
        sleep 0.1
    done
    if [ "$i" -ge $((max_s * 10)) ]; then # the loop ran out: still alive
        kpid_signal_child KILL "$pid" || true
        _kpid_reap
        fail "kpid did not exit within ${max_s}s of SIGTERM"
    fi
    _kpid_reap
    if [ "$want" != any ] && [ "$KPID_EXIT" != "$want" ]; then
        fail "kpid exited with status $KPID_EXIT, expected $want"
    fi
}

# kpid_kill [SIGNAL]: kills the daemon (SIGKILL by default: a crash) and waits for it,
# at most 30 s (a sanitizer build on a loaded machine can take seconds to tear down).
kpid_kill() {
    local sig=${1:-KILL} pid=$KPID_PID i
    [ -n "$pid" ] || fail "kpid_kill: no daemon was started"
    kpid_signal_child "$sig" "$pid" || true
    for ((i = 0; i < 300; i++)); do
        _kpid_alive "$pid" || break
        sleep 0.1
    done
    # Decided by the loop, not by another check: the shell may reap the dead daemon at
    # any moment, and a check racing with that must not turn "gone" into "alive".
    if [ "$i" -ge 300 ]; then
        local t
        ps -o pid,ppid,stat,wchan:20,comm -p "$pid" >&2 || true
        for t in /proc/"$pid"/task/*; do
            printf '%s: thread %s state %s wchan %s\n' "$KPID_TEST_NAME" "$(cat "$t/comm" 2>/dev/null)" \
                "$(awk '{print $3}' "$t/stat" 2>/dev/null)" "$(cat "$t/wchan" 2>/dev/null)" >&2
        done
        fail "kpid survived SIG$sig for 30s"
    fi
    _kpid_reap
}

# kpid_signal SIGNAL: sends a signal (HUP for reload) to the running daemon.
kpid_signal() {
    if [ -z "$KPID_PID" ] || ! _kpid_alive "$KPID_PID"; then
        fail "kpid_signal: the daemon is not running"
    fi
    _kpid_await_signals "$KPID_PID"
    kpid_signal_child "$1" "$KPID_PID" || fail "kpid_signal: the daemon is not running"
}

# sql QUERY [PSQL ARGS...]: runs one query in the test database, prints unaligned
# tuples only ("a|b" per row). Fails the test on an SQL error.
sql() {
    local q=$1 out
    shift
    out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 "$@" -c "$q" 2>&1) ||
        fail "sql failed: $q: $out"
    printf '%s\n' "$out"
}

# wait_for "SQL returning t" [TIMEOUT_S]: polls until the query returns t; fails the test
# after TIMEOUT_S (30) seconds, or at once when the daemon started by kpid_start died.
# Polls every 0.2 s, after 5 s of waiting every 0.5 s and after 20 s every second: a long
# wait (a backlog, a count over a large table) need not cost a psql and a query five times
# a second.
wait_for() {
    local q=$1 max_s=${2:-30} out='' start waited pause=0.2
    start=$(date +%s)
    while :; do
        out=$(psql -X -A -t -q -c "$q" 2>&1) || true
        [ "$out" = t ] && return 0
        if [ -n "$KPID_PID" ] && ! _kpid_alive "$KPID_PID"; then
            _kpid_reap
            fail "kpid exited (status $KPID_EXIT) while waiting for: $q"
        fi
        waited=$(($(date +%s) - start))
        if [ "$waited" -ge "$max_s" ]; then
            fail "timed out after ${max_s}s waiting for: $q (last result: ${out:-empty})"
        fi
        if [ "$waited" -ge 20 ]; then
            pause=1
        elif [ "$waited" -ge 5 ]; then
            pause=0.5
        fi
        sleep "$pause"
    done
}

# lock_table TABLE MODE: another session takes LOCK TABLE TABLE IN MODE MODE (such as
# "ACCESS EXCLUSIVE") and holds it, once granted, until unlock_table or the test's end
# (its psql is stopped at exit). One held lock at a time.
_kpid_locker=()
lock_table() {
    local name='' w
    [ "${#_kpid_locker[@]}" -eq 0 ] || fail "lock_table: a lock on ${_kpid_locker[1]} is held"
    for w in $2; do # "SHARE UPDATE EXCLUSIVE": ShareUpdateExclusive
        w=${w,,}
        name+=${w^}
    done
    psql -X -A -t -q -v ON_ERROR_STOP=1 >"$KPID_WORK/locker.txt" 2>&1 <<SQL &
SELECT pg_backend_pid();
BEGIN;
LOCK TABLE $1 IN $2 MODE;
SELECT pg_sleep(600);
COMMIT;
SQL
    kpid_track_pid $!
    wait_for "SELECT count(*) = 1 FROM pg_locks WHERE relation = '$1'::regclass
              AND mode = '${name}Lock' AND granted" 20
    _kpid_locker=("$(head -n 1 "$KPID_WORK/locker.txt")" "$1" "${name}Lock")
    case "${_kpid_locker[0]}" in '' | *[!0-9]*) fail "lock_table: no backend pid from the locker" ;; esac
}

# unlock_table: ends the session of lock_table and waits until its lock is gone.
unlock_table() {
    [ "${#_kpid_locker[@]}" -eq 3 ] || fail "unlock_table: no lock is held"
    assert_sql "SELECT pg_terminate_backend(${_kpid_locker[0]})" t "ending the locker"
    wait_for "SELECT count(*) = 0 FROM pg_locks WHERE relation = '${_kpid_locker[1]}'::regclass
              AND mode = '${_kpid_locker[2]}'" 20
    _kpid_locker=()
}

# assert_eq GOT WANT MSG
assert_eq() {
    if [ "$1" != "$2" ]; then
        fail "${3:-values differ}: got '$1', want '$2'"
    fi
}

# assert_sql "SQL" WANT MSG: the query's output equals WANT.
assert_sql() {
    assert_eq "$(sql "$1")" "$2" "${3:-$1}"
}

# fail MSG: prints MSG and the end of the daemon's log, and ends the test (exit 1).
fail() {
    _kpid_say "FAIL: $*"
    if [ -n "$KPID_LOG" ] && [ -s "$KPID_LOG" ]; then
        printf -- '--- last 40 lines of %s\n' "$KPID_LOG" >&2
        tail -n 40 "$KPID_LOG" >&2 || true
        printf -- '---\n' >&2
    fi
    exit 1
}
