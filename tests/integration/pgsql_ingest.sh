# The pgsql source reads a hand-made HIS database exactly: a few hundred encounters and
# lab results over pages of 10 rows whose watermarks are shared by 7 (and 4) rows, so
# that pages end inside groups of equal watermarks; rows with a NULL event_key, a NULL
# time or an invalid activity are rejected with their locators, the rest goes on; a
# cancelled encounter (retract_when) and a tombstone table (kind = "retractions") retract
# events; updates replace events; a replay from the beginning changes nothing. The HIS
# role may only SELECT.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pgsql_common.sh"
kpid_test_init pgsql_ingest
his_init

his_sql "
CREATE TABLE his.patients (patient_id int PRIMARY KEY, mrn text NOT NULL);
CREATE TABLE his.encounters (
    encounter_id bigint PRIMARY KEY, patient_id int NOT NULL REFERENCES his.patients,
    admitted_at timestamptz, ward text, class text, cancelled boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL);
CREATE INDEX ON his.encounters (updated_at, encounter_id);
CREATE TABLE his.lab_results (
    result_id text PRIMARY KEY, encounter_id bigint NOT NULL, code text NOT NULL,
    kind text NOT NULL, value numeric, flags jsonb, resulted_at timestamptz NOT NULL,
    row_version bigint NOT NULL);
CREATE INDEX ON his.lab_results (row_version, result_id);
CREATE TABLE his.deleted_results (result_id text PRIMARY KEY, deleted_seq bigint NOT NULL);
INSERT INTO his.patients SELECT i, 'MRN' || lpad(i::text, 5, '0') FROM generate_series(1, 60) i;
INSERT INTO his.encounters
SELECT i, i % 60 + 1,
       CASE WHEN i % 89 = 0 THEN NULL ELSE '2024-03-01 00:00+00'::timestamptz + i * interval '17 min' END,
       CASE WHEN i % 6 = 0 THEN NULL ELSE 'W' || i % 5 END, (ARRAY['I', 'O', 'E'])[i % 3 + 1],
       i % 50 = 0, '2024-03-01 08:00+00'::timestamptz + (i / 7) * interval '1 s'
FROM generate_series(1, 400) i;
INSERT INTO his.lab_results
SELECT 'R' || lpad(i::text, 4, '0'), i % 400 + 1, (ARRAY['GLU', 'K', 'NA'])[i % 3 + 1],
       CASE WHEN i % 10 = 0 THEN 'lab result' WHEN i % 2 = 0 THEN 'LAB_ORDER' ELSE 'LAB_RESULT' END,
       CASE WHEN i % 7 = 0 THEN NULL ELSE i * 0.5 END,
       CASE WHEN i % 4 = 0 THEN '{\"abnormal\": true, \"n\": [1, 2]}'::jsonb END,
       '2024-03-02 00:00+00'::timestamptz + i * interval '3 min 0.25 s', i / 4
FROM generate_series(1, 300) i;"
his_grant

admissions='{ name = "admissions";
    sql = "SELECT CASE WHEN e.encounter_id % 97 = 0 THEN NULL ELSE '"'enc:'"' || e.encounter_id END AS event_key,
                  e.encounter_id, p.mrn, e.admitted_at, e.ward, e.class, e.cancelled, e.updated_at
           FROM his.encounters e JOIN his.patients p USING (patient_id) -- no ORDER BY";
    watermark = "updated_at"; watermark_type = "timestamp"; tiebreaker = "encounter_id";
    overlap = "5m"; activity = "ADMISSION"; event_key = "event_key"; case_id = "encounter_id";
    subject_id = "mrn"; time = "admitted_at"; attributes = { ward = "ward"; patient_class = "class"; };
    retract_when = "cancelled"; }'
labs='{ name = "labs";
    sql = "SELECT '"'lab:'"' || result_id AS key, result_id, encounter_id, code, kind, value, flags,
                  resulted_at, row_version FROM his.lab_results;";
    watermark = "row_version"; watermark_type = "integer"; tiebreaker = "result_id";
    activity_column = "kind"; event_key = "key"; case_id = "encounter_id"; time = "resulted_at";
    value = "value"; attributes = { code = "code"; flags = "flags"; }; }'
tombs='{ name = "deleted_results"; kind = "retractions";
    sql = "SELECT '"'lab:'"' || result_id AS key, result_id, deleted_seq FROM his.deleted_results";
    watermark = "deleted_seq"; watermark_type = "integer"; tiebreaker = "result_id";
    event_key = "key"; }'
write_conf "$KPID_WORK/kpid.conf" "{ name = \"his\"; plugin = \"pgsql\";
    conninfo = \"$(his_conninfo)\"; page_size = 10; interval = \"100ms\";
    queries = ( $admissions, $labs, $tombs ); }"

# expected: the events the HIS holds, as kpid.event should (time in UTC, attrs as jsonb).
expected() {
    PGTZ=UTC his_sql "
    SELECT 'enc:' || e.encounter_id, e.encounter_id, p.mrn, 'ADMISSION', e.admitted_at, NULL,
           jsonb_strip_nulls(jsonb_build_object('ward', e.ward, 'patient_class', e.class))::text
    FROM his.encounters e JOIN his.patients p USING (patient_id)
    WHERE NOT e.cancelled AND e.encounter_id % 97 <> 0 AND e.admitted_at IS NOT NULL
    UNION ALL
    SELECT 'lab:' || result_id, encounter_id, NULL, kind, resulted_at, value::float8,
           jsonb_strip_nulls(jsonb_build_object('code', code, 'flags', flags))::text
    FROM his.lab_results
    WHERE kind <> 'lab result'
    ORDER BY 1" | LC_ALL=C sort
}
stored() {
    PGTZ=UTC sql "SELECT event_key, case_id, subject_id, activity, time, value, attrs::text
                  FROM kpid.event WHERE source = 'his'" | LC_ALL=C sort
}
assert_exact() {
    expected >"$KPID_WORK/expected"
    stored >"$KPID_WORK/stored"
    diff "$KPID_WORK/expected" "$KPID_WORK/stored" >"$KPID_WORK/diff" ||
        fail "$1: kpid.event differs from the HIS (< HIS, > kpid): $(head -n 20 "$KPID_WORK/diff")"
    _kpid_say "$1: $(wc -l <"$KPID_WORK/expected") events as the HIS holds them"
}

kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"
assert_exact "first run"
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'his' AND activity = 'ADMISSION'" 384 \
    "admissions: 400 - 8 cancelled - 4 NULL keys - 4 NULL times"
assert_sql "SELECT string_agg(locator || ' ' || reason, ',' ORDER BY locator COLLATE \"C\")
            FROM kpid.rejected WHERE locator LIKE 'query:admissions %'" \
    "query:admissions key:178 time is NULL,query:admissions key:194 event_key is NULL,query:admissions key:267 time is NULL,query:admissions key:291 event_key is NULL,query:admissions key:356 time is NULL,query:admissions key:388 event_key is NULL,query:admissions key:89 time is NULL,query:admissions key:97 event_key is NULL" \
    "rejected encounters"
assert_sql "SELECT count(*), bool_and(reason = 'activity is not [A-Z0-9_]{1,64}'), bool_and(raw IS NULL)
            FROM kpid.rejected WHERE locator LIKE 'query:labs key:R%'" "30|t|t" "rejected lab results"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE raw IS NOT NULL" 0 "no raw row data kept"
cursor=$(sql "SELECT cursor FROM kpid.cursor WHERE source = 'his'")
assert_eq "$cursor" '{"v":1,"queries":{"admissions":{"type":"timestamp","watermark_column":"updated_at","tiebreaker_column":"encounter_id","watermark":"2024-03-01 08:00:57+00","tiebreaker":"400"},"labs":{"type":"integer","watermark_column":"row_version","tiebreaker_column":"result_id","watermark":"75","tiebreaker":"R0300"}}}' \
    "the cursor: the last row of each query"
# Pages of 10: 40 full pages of admissions and one empty one; 30 and 1 of labs.
assert_eq "$(metric pgsql_pages_total admissions)" 41 "pages of admissions"
assert_eq "$(metric pgsql_rows_total labs)" 300 "rows of labs"
assert_eq "$(metric pgsql_rejected_total labs)" 30 "rejected rows of labs"
grep -q 'source=his connected to the HIS .* user=his_pgsql_ingest database=his_pgsql_ingest' \
    "$KPID_LOG" || fail "no connection logged"

# Nothing new: a second run writes nothing (the overlap window is read again; the
# writer leaves unchanged events alone).
mark=$(sql "SELECT max(ingested_at) FROM kpid.event")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "second run exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event WHERE ingested_at > '$mark'" 0 "rows rewritten"
assert_sql "SELECT count(*) FROM kpid.event_change" 0 "events changed"

# Updates, cancellations, a corrected row, new rows, deleted lab results (the HIS keeps
# their keys in a tombstone table), a changed lab value.
his_sql "
UPDATE his.encounters SET ward = 'X' || coalesce(ward, ''), updated_at = now() WHERE encounter_id % 11 = 0;
UPDATE his.encounters SET cancelled = true, updated_at = now() WHERE encounter_id % 13 = 0;
UPDATE his.encounters SET admitted_at = '2024-03-05 12:00+01', updated_at = now() WHERE encounter_id = 89;
INSERT INTO his.encounters SELECT i, 1, now() - interval '1 h', 'W9', 'I', false, now()
    FROM generate_series(401, 425) i;
WITH d AS (DELETE FROM his.lab_results WHERE result_id LIKE '%3' RETURNING result_id)
INSERT INTO his.deleted_results SELECT result_id, row_number() OVER (ORDER BY result_id) FROM d;
UPDATE his.lab_results SET value = 999, row_version = 1000 WHERE result_id IN ('R0001', 'R0002');
INSERT INTO his.lab_results VALUES ('R0301', 5, 'K', 'LAB_RESULT', 4.5, NULL, now(), 76);" >/dev/null
kpid_run "$KPID_WORK/kpid.conf" --once || fail "third run exited with $KPID_EXIT"
assert_exact "after updates"
assert_sql "SELECT count(*) FROM kpid.event WHERE event_key = 'enc:89'" 1 "a corrected row"
assert_sql "SELECT count(*) FROM kpid.event WHERE event_key IN ('enc:13', 'enc:26', 'lab:R0003')" 0 \
    "retracted events"

# From the beginning again (the cursor deleted): every row is read again, none changes.
mark=$(sql "SELECT max(ingested_at) FROM kpid.event")
changes=$(sql "SELECT count(*) FROM kpid.event_change")
sql "DELETE FROM kpid.cursor WHERE source = 'his'" >/dev/null
kpid_run "$KPID_WORK/kpid.conf" --once || fail "replay exited with $KPID_EXIT"
assert_exact "replayed from the beginning"
assert_sql "SELECT count(*) FROM kpid.event WHERE ingested_at > '$mark'" 0 "rows rewritten by a replay"
assert_sql "SELECT count(*) FROM kpid.event_change" "$changes" "events changed by a replay"

# A changed order (the tiebreaker) reads that query from its beginning, with a warning.
sed -i 's/tiebreaker = "encounter_id"/tiebreaker = "event_key"/' "$KPID_WORK/kpid.conf"
kpid_run "$KPID_WORK/kpid.conf" --once || fail "run with a changed order exited with $KPID_EXIT"
grep -q "source=his the query's order changed since its cursor was stored: reading it from its beginning query=admissions" \
    "$KPID_LOG" || fail "no warning for a changed order"
assert_exact "after a changed order"

# The HIS role may read, nothing else; the HIS saw no writes.
assert_eq "$(his_sql "SELECT bool_or(has_table_privilege('$HIS_ROLE', c.oid, p))
                      FROM pg_class c, unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
                      WHERE c.relnamespace = 'his'::regnamespace AND c.relkind = 'r'")" f \
    "the HIS role's privileges"
assert_eq "$(his_sql "SELECT count(*) FROM his.encounters WHERE xmax <> '0'")" 0 "rows locked"
grep -E 'source=his (query failed|HIS connection lost)' "$KPID_LOG" && fail "a query failed"
! grep -E 'MRN0' "$KPID_LOG" || fail "patient identifiers in the log"
