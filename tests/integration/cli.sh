# The command line: --help, --version, usage errors, --check-config (0 or 78 with every
# FILE:LINE, schedules that never fire and deep nesting among them), --migrate
# (idempotent, refuses a newer schema).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init cli

"$KPID_BIN" --help | grep -q -- "--check-config" || fail "--help"
"$KPID_BIN" --version | grep -q "^kpid [0-9]" || fail "--version"
rc=0; "$KPID_BIN" --no-such-option 2>/dev/null || rc=$?
assert_eq "$rc" 64 "exit status of a usage error"

mkdir "$KPID_WORK/inbox"
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson"
kpid_run "$KPID_WORK/kpid.conf" --check-config || fail "valid config refused: $(tail -5 "$KPID_LOG")"

# Every error of a bad file is reported, each with its line.
cat >"$KPID_WORK/bad.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
colour = "blue";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; batch_max_rows = "many"; };
sources = (
    { name = "a"; plugin = "file"; path = "/x/*.ndjson"; interval = "5 parsecs"; },
    { name = "a"; plugin = "file"; path = "/y/*.ndjson"; },
    { name = "b"; plugin = "nosuchplugin"; },
    { name = "c"; plugin = "file"; }
);
CONF
kpid_run "$KPID_WORK/bad.conf" --check-config && fail "a bad configuration was accepted"
assert_eq "$KPID_EXIT" 78 "exit status of --check-config on errors"
for pattern in 'bad.conf:3: unknown key "colour"' 'bad.conf:4: .*batch_max_rows' \
    'bad.conf:6: .*interval' 'bad.conf:7: .*duplicate source name "a"' \
    'bad.conf:8: .*nosuchplugin' 'bad.conf:9: .*path'; do
    grep -q "$pattern" "$KPID_LOG" || fail "no message matching: $pattern"
done
# The daemon refuses to start on it too.
kpid_run "$KPID_WORK/bad.conf" && fail "the daemon started on a bad configuration"
assert_eq "$KPID_EXIT" 78 "exit status of the daemon on errors"

# A schedule that never fires, nesting deeper than the limit and queue bounds that
# would not bound memory are configuration errors; a leap-day schedule is not.
cat >"$KPID_WORK/never.conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
queue = { max_bytes = 9223372036854775807L; };
objectives = ( { id = "o"; name = "O"; perspective = "internal"; } );
processes = (
  { id = "p"; name = "P"; category = "main"; timezone = "UTC"; schedule = "0 0 30 2 *"; },
  { id = "q"; name = "Q"; category = "main"; timezone = "UTC"; schedule = "0 0 29 2 *"; }
);
CONF
kpid_run "$KPID_WORK/never.conf" --check-config && fail "a schedule that never fires was accepted"
assert_eq "$KPID_EXIT" 78 "exit status of --check-config on a schedule that never fires"
grep -qF 'never.conf:3: "max_bytes" in queue must be between 65536 and 4294967296, not 9223372036854775807' \
    "$KPID_LOG" || fail "no FILE:LINE for an unbounded queue"
grep -qF 'never.conf:6: schedule never fires: "0 0 30 2 *" in process "p": February has no day 30' \
    "$KPID_LOG" || fail "no FILE:LINE for the schedule that never fires"
[ "$(grep -c 'never.conf:' "$KPID_LOG")" = 2 ] || fail "the leap-day schedule was refused"
{
    printf 'pseudonymize = false;\nwarehouse = { conninfo = "x"; };\nx = '
    for ((i = 0; i < 2500; i++)); do printf '{ a = '; done
    printf '1;'
    for ((i = 0; i < 2500; i++)); do printf ' };'; done
    printf '\n'
} >"$KPID_WORK/deep.conf"
kpid_run "$KPID_WORK/deep.conf" --check-config && fail "nesting 2500 groups deep was accepted"
assert_eq "$KPID_EXIT" 78 "exit status of --check-config on deep nesting"
grep -qF 'deep.conf:3: nesting too deep: at most 100 levels of groups, lists and arrays' \
    "$KPID_LOG" || fail "no FILE:LINE for deep nesting"

# --migrate is idempotent and records each version once.
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "second --migrate exited with $KPID_EXIT"
assert_sql "SELECT count(*) = count(DISTINCT version) AND count(*) > 0 FROM kpid.schema_version" t \
    "schema versions"
for t in event cursor rejected; do
    assert_sql "SELECT to_regclass('kpid.$t') IS NOT NULL" t "table kpid.$t"
done
# A warehouse newer than the binary is refused with a clear message.
sql "INSERT INTO kpid.schema_version (version, name) VALUES (999, 'from the future')" >/dev/null
kpid_run "$KPID_WORK/kpid.conf" --migrate && fail "a newer schema was accepted"
grep -q "schema version 999 is newer than this kpid knows" "$KPID_LOG" || fail "no message for a newer schema"
