# The harness stops what a test started also when the test fails.
# 1. A script that starts a server with tests/lib/pg.sh and stops it in its EXIT trap,
#    after a command that failed: the server is gone when the script has ended. (A bare
#    "return" in pg.sh made bash return the failed command's status from inside the
#    trap, pg_stop took the server for someone else's, and scripts/test left its
#    PostgreSQL running after every failed run.)
# 2. A failing test with a private PostgreSQL (PGHOST unset) and a running daemon: both
#    gone when it has ended, its work directory removed, its exit status 1.
source "$(dirname "$0")/lib.sh"
kpid_test_init harness_cleanup

# 1. pg_stop in an EXIT trap after a failed command.
trap_pg=$KPID_WORK/trap-pg
cat >"$KPID_WORK/trap.sh" <<'SH'
set -euo pipefail
source "$1/tests/lib/pg.sh"
trap 'pg_stop "$2"' EXIT
pg_start "$2" >/dev/null
echo "$KPID_PG_PID" >"$3"
false
SH
if bash "$KPID_WORK/trap.sh" "$KPID_SOURCE_DIR" "$trap_pg" "$KPID_WORK/trap.pid" \
    2>>"$KPID_LOG"; then
    fail "the script with a failing command exited 0"
fi
pid=$(cat "$KPID_WORK/trap.pid")
[ -n "$pid" ] || fail "the script did not start its server"
if ! _pg_wait_gone "$pid" 10; then
    pg_destroy "$trap_pg"
    fail "the server (pid $pid) still ran after the script's EXIT trap stopped it"
fi
pg_destroy "$trap_pg"

# 2. A failing test with a private PostgreSQL and a daemon.
cat >"$KPID_WORK/failing.sh" <<'SH'
source "$KPID_SOURCE_DIR/tests/integration/lib.sh"
kpid_test_init harness_cleanup_inner
mkdir "$KPID_WORK/inbox"
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonym_key_file = "$KPID_TEST_KEY_FILE";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
sources = ( { name = "files"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
CONF
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) > 0 FROM pg_stat_activity
          WHERE usename = '$KPID_PG_USER' AND datname = current_database()"
printf '%s %s %s\n' "$KPID_PID" "$KPID_PG_PID" "$KPID_WORK" >"$OUT"
fail "deliberate failure"
SH
out=$KPID_WORK/failing.out
rc=0
env -u PGHOST -u PGDATABASE OUT="$out" KPID_TEST_NAME=harness_cleanup_inner \
    bash "$KPID_WORK/failing.sh" 2>>"$KPID_LOG" || rc=$?
assert_eq "$rc" 1 "exit status of the failing test"
read -r daemon server work <"$out" || fail "the failing test did not get as far as its daemon"
[ -n "$daemon" ] && [ -n "$server" ] && [ -n "$work" ] || fail "incomplete: $(cat "$out")"
_pg_wait_gone "$daemon" 10 || fail "the failing test's daemon (pid $daemon) still runs"
_pg_wait_gone "$server" 10 || fail "the failing test's private PostgreSQL (pid $server) still runs"
[ ! -e "$work" ] || fail "the failing test's work directory $work is still there"
