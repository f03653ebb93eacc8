# The writer writes two transactions at once, on its two connections: a set's events of
# keys the set under way writes too (corrections, retractions and restatements close
# behind what they correct) are staged and applied once that one has committed, and a
# row PostgreSQL refuses there is isolated as anywhere else. The result is exactly what
# one transaction after the other would have made: the last statement of each key wins,
# retracted keys are gone, refused rows are in kpid.rejected, and a replay changes
# nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init writer_overlap

n=$(kpid_scale 6000 3000)
mkdir "$KPID_WORK/inbox"
# Events k-1 .. k-N (value i). Behind line i: every 7th, a correction of the key 150
# lines back (value -j); every 11th, a retraction of the key 120 lines back; every 13th,
# a restatement of the key 170 lines back (value j + 0.5), after its retraction when it
# had one; every 97th, a correction of the key 160 lines back with a value the warehouse
# refuses (666666: the constraint below), unless a restatement follows it (which would
# replace it within a transaction or not, as the sets fall). expected.tsv is the key's
# last accepted statement, or nothing.
awk -v n="$n" -v dir="$KPID_WORK" 'function ev(k, v) {
        printf "{\"event_key\":\"k-%d\",\"case_id\":\"C%d\",\"activity\":\"ADMISSION\",\"time\":\"2025-01-%02dT%02d:%02d:00Z\",\"value\":%s}\n",
            k, k, 1 + k % 28, k % 24, k % 60, v > dir "/inbox/a.ndjson"
    }
    BEGIN {
        for (i = 1; i <= n; i++) {
            ev(i, i); val[i] = i; live[i] = 1
            if (i % 7 == 0 && i > 150) { j = i - 150; ev(j, -j); val[j] = -j; live[j] = 1 }
            if (i % 11 == 0 && i > 120) {
                j = i - 120
                printf "{\"event_key\":\"k-%d\",\"retract\":true}\n", j > dir "/inbox/a.ndjson"
                live[j] = 0
            }
            if (i % 13 == 0 && i > 170) { j = i - 170; ev(j, j + 0.5); val[j] = j + 0.5; live[j] = 1 }
            if (i % 97 == 0 && i > 160 && (i + 10) % 13 != 0) { j = i - 160; ev(j, 666666); poison[j] = 1 }
        }
        for (k = 1; k <= n; k++)
            if (live[k])
                printf "k-%d\t%s\n", k, val[k] > dir "/expected.tsv"
        for (k in poison)
            printf "key:k-%d\n", k > dir "/poisoned.txt"
    }'

cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = {
    conninfo = "$KPID_TEST_CONNINFO";
    batch_max_rows = 400;
    flush_interval_ms = 0;
};
sources = (
    { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; interval = "100ms";
      batch_max_lines = 50; }
);
CONF
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"
sql "ALTER TABLE kpid.event ADD CONSTRAINT no_poison CHECK (value IS DISTINCT FROM 666666)" >/dev/null
sql "CREATE TABLE expected (event_key text PRIMARY KEY, value float8)" >/dev/null
sql "\\copy expected FROM '$KPID_WORK/expected.tsv'" >/dev/null

# assert_exact WHAT: kpid.event holds exactly expected's keys and values, each once.
assert_exact() {
    local wrong
    wrong=$(sql "SELECT e.event_key, e.value, x.value AS want FROM kpid.event e
                 FULL JOIN expected x USING (event_key) WHERE x.value IS DISTINCT FROM e.value
                 ORDER BY 1 LIMIT 5")
    [ -z "$wrong" ] || printf '%s: (key, stored, expected) %s\n' "$1" "$wrong" >&2
    assert_sql "SELECT count(*) FROM (SELECT event_key, value FROM kpid.event
                EXCEPT ALL SELECT * FROM expected) d" 0 "$1: events not expected"
    assert_sql "SELECT count(*) FROM (SELECT * FROM expected
                EXCEPT ALL SELECT event_key, value FROM kpid.event) d" 0 "$1: events missing"
    assert_eq "$(sql "SELECT locator FROM kpid.rejected ORDER BY locator COLLATE \"C\"")" \
        "$(LC_ALL=C sort "$KPID_WORK/poisoned.txt")" "$1: refused rows"
}

# writer_said FIELD: FIELD= of the writer's last stop line.
writer_said() {
    grep -o "writer stopped .*" "$KPID_LOG" | tail -1 | grep -o "$1=[0-9]*" | cut -d= -f2
}

kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"
assert_exact "first run"
assert_sql "SELECT count(*) FROM kpid.cursor WHERE source = 'events'" 1 "cursor"
at_once=$(writer_said at_once)
shared=$(writer_said shared_keys)
[ "${at_once:-0}" -gt 0 ] || fail "no transaction was sent while another was under way"
[ "${shared:-0}" -gt 0 ] || fail "no key of a transaction under way was staged behind it"
at_commit=$(grep -c "refused a staged row at commit" "$KPID_LOG" || true)
[ "$at_commit" -gt 0 ] || fail "no refused row was met in a transaction's deferred rows"
echo "first run: transactions=$(writer_said transactions) at_once=$at_once shared_keys=$shared" \
    "refused_at_commit=$at_commit"

# Replay from the start: every key is stored now, so every transaction probes and
# stages; still two at once, and nothing changes.
sql "DELETE FROM kpid.cursor" >/dev/null
before=$(sql "SELECT count(*), max(ingested_at) FROM kpid.event")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "replay exited with $KPID_EXIT"
assert_exact "replay"
[ "$(writer_said at_once)" -gt 0 ] || fail "the replay sent no two transactions at once"
