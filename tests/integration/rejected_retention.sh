# Rejected input is patient data: its raw text is kept for each source's
# rejected_retention and no dashboard role can read it (README, "Warehouse tables";
# sql/012_rejected_retention.sql). On a private PostgreSQL, since roles are the cluster's.
#
# kpid_reader and kpid_analyst, by SET ROLE and as a login role that is a member, are
# refused kpid.rejected, kpid.rejected_retention, kpid.cursor, kpid.source_state and
# kpid.event; so is kpid_sql, but for kpid.event. A grant on kpid.rejected made by hand
# to kpid_reader or kpid_analyst is revoked at the next start. kpid --once purges:
# raw is set to NULL in rows older than their source's retention (a configured source's
# own; a source no longer configured with the retention recorded for it, else 14 days),
# in batches of 10000, with one log line per source; every row keeps its locator, reason
# and time, and nothing younger than its retention, nor any other column, is touched. A
# line the file source rejects with a retention of 2s keeps its raw until 2 s have
# passed, and loses it at the next --once after that. The daemon purges at start.
unset PGHOST PGPORT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init rejected_retention

mkdir "$KPID_WORK/inbox" "$KPID_WORK/long"
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 50; };
sources = (
    { name = "short"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; interval = "100ms";
      rejected_raw = "full"; rejected_retention = "2s"; },
    { name = "long"; plugin = "file"; path = "$KPID_WORK/long/*.ndjson"; interval = "100ms";
      rejected_retention = "30d"; }
);
CONF
kpid_run "$KPID_WORK/kpid.conf" --check-config || fail "--check-config exited with $KPID_EXIT"
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"

# --- no dashboard role reads rejected input or events -------------------------------------
denied() { # ROLE SQL [LOGIN]: the statement fails with permission denied, as ROLE
    local out
    if [ -n "${3:-}" ]; then
        out=$(psql -X -A -t -q -U "$1" -c "$2" 2>&1) && fail "$1 could run: $2"
    else
        out=$(psql -X -A -t -q -c "SET ROLE $1; $2" 2>&1) && fail "$1 could run: $2"
    fi
    case "$out" in *"permission denied for table"*) ;; *) fail "$1: $2: want permission denied, got: $out" ;; esac
}
sql "CREATE ROLE rj_dashboard LOGIN IN ROLE kpid_reader; CREATE ROLE rj_analyst LOGIN IN ROLE kpid_analyst" >/dev/null
for role in kpid_reader kpid_analyst kpid_sql; do
    tables='rejected rejected_retention cursor source_state'
    [ "$role" = kpid_sql ] || tables="$tables event" # sql KPIs read the event log
    for t in $tables; do
        denied "$role" "SELECT count(*) FROM kpid.$t"
        denied "$role" "UPDATE kpid.$t SET source = source"
        assert_sql "SELECT has_table_privilege('$role', 'kpid.$t', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')" \
            f "$role has no privilege on kpid.$t"
    done
    assert_sql "SELECT has_column_privilege('$role', 'kpid.rejected', 'raw', 'SELECT')" f "$role: raw"
done
for login in rj_dashboard rj_analyst; do
    denied "$login" "SELECT raw FROM kpid.rejected" login
    denied "$login" "SELECT count(*) FROM kpid.event" login
done
assert_sql "SET ROLE rj_dashboard; SELECT count(*) >= 0 FROM kpid.scorecard" t "a dashboard still reads the scorecard"
# A grant made by hand on rejected input does not survive the next start.
sql "GRANT SELECT ON kpid.rejected TO kpid_reader; GRANT SELECT (locator, raw) ON kpid.rejected TO kpid_analyst;
     GRANT SELECT ON kpid.rejected_retention TO kpid_reader" >/dev/null
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"
denied rj_dashboard "SELECT raw FROM kpid.rejected" login
denied rj_analyst "SELECT raw FROM kpid.rejected" login
denied kpid_reader "SELECT * FROM kpid.rejected_retention"

# --- rejected rows of every kind of source, old and recent --------------------------------
# short (2s): 25000 old rows (three batches); long (30d): 20 days old; gone (not
# configured, nothing recorded: 14 days); other (another instance's, recorded: 2 days).
sql "INSERT INTO kpid.rejected_retention (source, retention) VALUES ('other', '2 days');
     INSERT INTO kpid.rejected (source, locator, reason, raw, rejected_at)
     SELECT 'short', 'old:' || i, 'bad line', 'patient ' || i, now() - interval '1 hour'
     FROM generate_series(1, 25000) i;
     INSERT INTO kpid.rejected (source, locator, reason, raw, rejected_at) VALUES
       ('long', 'long:old', 'bad', 'raw long old', now() - interval '20 days'),
       ('long', 'long:new', 'bad', 'raw long new', now() - interval '1 hour'),
       ('gone', 'gone:old', 'bad', 'raw gone old', now() - interval '15 days'),
       ('gone', 'gone:new', 'bad', 'raw gone new', now() - interval '13 days'),
       ('other', 'other:old', 'bad', 'raw other old', now() - interval '3 days'),
       ('other', 'other:new', 'bad', 'raw other new', now() - interval '1 day'),
       ('other', 'other:none', 'bad', NULL, now() - interval '3 days')" >/dev/null
sql "CREATE TABLE before AS SELECT id, source, locator, reason, rejected_at FROM kpid.rejected" >/dev/null
# One line the file source rejects now, with its raw text ("full").
printf 'not json at all\n' >"$KPID_WORK/inbox/a.ndjson"

kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"
assert_sql "SELECT raw FROM kpid.rejected WHERE source = 'short' AND locator LIKE '%a.ndjson:1'" \
    "not json at all" "a line rejected just now keeps its raw text"
assert_sql "SELECT count(*) FILTER (WHERE raw IS NULL), count(*) FROM kpid.rejected
            WHERE source = 'short' AND locator LIKE 'old:%'" "25000|25000" "short: every old raw purged"
assert_sql "SELECT string_agg(locator || '=' || coalesce(raw, 'NULL'), ',' ORDER BY locator)
            FROM kpid.rejected WHERE source IN ('long', 'gone', 'other')" \
    "gone:new=raw gone new,gone:old=NULL,long:new=raw long new,long:old=raw long old,other:new=raw other new,other:none=NULL,other:old=NULL" \
    "each source purged with its retention"
assert_sql "SELECT count(*) FROM (SELECT * FROM before EXCEPT
            SELECT id, source, locator, reason, rejected_at FROM kpid.rejected) d" 0 \
    "every row stays, with its locator, reason and time"
assert_sql "SELECT count(*) - (SELECT count(*) FROM before) FROM kpid.rejected" 1 "no row deleted"
assert_sql "SELECT string_agg(source || '=' || retention, ',' ORDER BY source)
            FROM kpid.rejected_retention" "long=30 days,other=2 days,short=00:00:02" \
    "the configured retentions are recorded"
assert_eq "$(grep -o 'rejected raw purged .*' "$KPID_LOG" | sort | tr '\n' ' ')" \
    "rejected raw purged source=gone rows=1 rejected raw purged source=other rows=1 rejected raw purged source=short rows=25000 " \
    "one log line per source purged"

# The line rejected at the first --once is older than 2 s at the next one.
sleep 2.5
kpid_run "$KPID_WORK/kpid.conf" --once || fail "second kpid --once exited with $KPID_EXIT"
assert_sql "SELECT raw IS NULL, reason <> '' FROM kpid.rejected
            WHERE source = 'short' AND locator LIKE '%a.ndjson:1'" "t|t" \
    "after 2 s the rejected line's raw is purged, its reason stays"
assert_eq "$(grep -c 'rejected raw purged source=short rows=1$' "$KPID_LOG")" 1 "the second purge's line"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'long' AND raw IS NOT NULL" 2 \
    "long is still untouched"

# --- the daemon purges at start -------------------------------------------------------------
sql "INSERT INTO kpid.rejected (source, locator, reason, raw, rejected_at)
     VALUES ('long', 'long:older', 'bad', 'raw', now() - interval '31 days')" >/dev/null
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT raw IS NULL FROM kpid.rejected WHERE locator = 'long:older'"
kpid_stop
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'long' AND raw IS NOT NULL" 2 \
    "the daemon purged only what was past its retention"
grep -q 'rejected raw purged source=long rows=1$' "$KPID_LOG" || fail "no log line of the daemon's purge"

sql "DROP OWNED BY rj_dashboard, rj_analyst; DROP ROLE rj_dashboard, rj_analyst" >/dev/null
