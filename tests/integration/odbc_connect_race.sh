# Many odbc sources connecting at the same moment, again and again: psqlODBC's connect
# calls setlocale(LC_CTYPE, "") and reads the name it returns, which a setlocale in
# another thread frees, so the plugin connects one source at a time. The daemon runs
# with setlocale_guard.so preloaded, which holds each setlocale call open for 2 ms and
# notes whether two threads were ever inside it at once: never, while every source
# connected (its query, which has a syntax error, failed) several times. Under the
# sanitizer build the read of freed memory also ended the daemon before the fix.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/odbc_lib.sh"
kpid_test_init odbc_connect_race
[ -n "${SETLOCALE_GUARD:-}" ] && [ -f "$SETLOCALE_GUARD" ] || fail "SETLOCALE_GUARD is not built"
his_setup
his_grant

# n sources whose query fails at its first page: each connects, fails, and is started
# again with backoff (1 s, then more), all of them at about the same moments.
n=24
sources=""
for i in $(seq 1 "$n"); do
    sources+="${sources:+,}{ name = \"r$i\"; plugin = \"odbc\"; conninfo = \"$(his_conninfo)\";
        interval = \"200ms\"; queries = ( { name = \"q$i\";
            sql = \"SELECT encounter_id AS k, updated_at FRM his.encounters\";
            watermark = \"updated_at\"; tiebreaker = \"k\"; activity = \"ADMISSION\";
            event_key = \"k\"; time = \"updated_at\"; } ); }"
done
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
sources = ( $sources );
CONF

guard=$KPID_WORK/setlocale.log
LD_PRELOAD=$SETLOCALE_GUARD SETLOCALE_GUARD_OUT=$guard \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
    kpid_start "$KPID_WORK/kpid.conf"
# Until every source has failed its query three times (three connects each), at most
# 30 s; the daemon must stay up all along.
for i in $(seq 1 300); do
    _kpid_alive "$KPID_PID" ||
        fail "kpid ended: $(grep -m1 -A12 'ERROR: AddressSanitizer' "$KPID_LOG")"
    failed=$(grep -c 'query failed query=q[0-9]* during="page" sqlstate=42601' "$KPID_LOG" || true)
    [ "$failed" -ge $((3 * n)) ] && break
    sleep 0.1
done
[ "$failed" -ge $((3 * n)) ] || fail "only $failed failed queries of $((3 * n)) in 30 s"
kpid_stop 0

calls=$(grep -c '^call$' "$guard" || true)
overlaps=$(grep -c '^overlap$' "$guard" || true)
printf 'odbc_connect_race: %s connects, setlocale called %s times, %s at once with another\n' \
    "$failed" "$((calls + overlaps))" "$overlaps" >&2
# The driver did call setlocale on each connect: the check below is not vacuous.
[ "$((calls + overlaps))" -ge $((3 * n)) ] ||
    fail "setlocale was called $((calls + overlaps)) times for $failed connects"
assert_eq "$overlaps" 0 "setlocale calls while another thread was inside setlocale"
