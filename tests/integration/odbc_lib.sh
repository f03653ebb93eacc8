# shellcheck shell=bash
# Helpers of the odbc tests (odbc_*.sh), on top of lib.sh: a small hospital information
# system in schema his of the test's database, read by a role that may only SELECT,
# through the PostgreSQL ODBC driver (psqlODBC, "PostgreSQL Unicode").
#
#   his_setup               schema his: encounters (an admission per row, corrections by
#                           updated_at, cancellation by status) and deleted (the tombstones
#                           of deleted encounters: a key must leave both queries' orders, or
#                           a replay of the encounters' overlap window brings it back);
#                           the role HIS_ROLE with USAGE and SELECT only (dropped at exit)
#   his_grant               SELECT on the tables of his made since
#   his_conninfo            the ODBC connection string of HIS_ROLE (a unix socket)
#   his_pg_conninfo         the same for plugin pgsql (libpq)
#   his_insert FIRST LAST [UPDATED_AT_SQL]
#                           encounters FIRST..LAST, updated_at now() unless given
#   his_expected_sql        SELECT of the events the encounters should give
#   assert_his_exact SOURCE kpid.event of SOURCE equals his_expected_sql, row for row
#   his_writes              n_tup_ins|n_tup_upd|n_tup_del of schema his (stats flushed)
#   his_admissions_query NAME [EXTRA]  a `queries` element reading his.encounters
#   his_retractions_query NAME         one reading his.deleted (kind = "retractions")

HIS_ROLE=kpid_his_$(printf '%s' "${KPID_TEST_NAME:-odbc}" | LC_ALL=C tr -c 'a-z0-9_' '_' | cut -c1-40)

# Drops the HIS role (its grants first), then runs lib.sh's cleanup.
_his_exit() {
    local rc=$?
    set +e
    psql -X -q -c "DROP OWNED BY $HIS_ROLE" >/dev/null 2>&1
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $HIS_ROLE" >/dev/null 2>&1
    (exit "$rc")
    _kpid_cleanup
}

his_setup() {
    trap _his_exit EXIT
    sql "DO \$\$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$HIS_ROLE') THEN
                 CREATE ROLE $HIS_ROLE LOGIN;
             END IF;
         END \$\$" -d postgres >/dev/null
    sql "CREATE SCHEMA his;
         CREATE TABLE his.encounters (
             encounter_id bigint PRIMARY KEY,
             visit_no text NOT NULL,
             mrn text,
             admitted_at timestamptz,
             ward text,
             status text NOT NULL DEFAULT 'active',
             score numeric,
             urgent boolean,
             ref uuid,
             note text,
             updated_at timestamptz NOT NULL DEFAULT now());
         CREATE INDEX ON his.encounters (updated_at, encounter_id);
         CREATE TABLE his.deleted (
             deletion_id bigint PRIMARY KEY,
             event_key text NOT NULL,
             updated_at timestamptz NOT NULL DEFAULT now());
         GRANT USAGE ON SCHEMA his TO $HIS_ROLE;
         GRANT SELECT ON ALL TABLES IN SCHEMA his TO $HIS_ROLE;" >/dev/null
}

# his_grant: SELECT on every table of schema his (again, after a test made more).
his_grant() {
    sql "GRANT SELECT ON ALL TABLES IN SCHEMA his TO $HIS_ROLE" >/dev/null
}

his_conninfo() {
    printf 'Driver=PostgreSQL Unicode;Servername=%s;Port=%s;Database=%s;Uid=%s' \
        "$PGHOST" "$PGPORT" "$KPID_TEST_DB" "$HIS_ROLE"
}

his_pg_conninfo() {
    printf 'host=%s port=%s dbname=%s user=%s' "$PGHOST" "$PGPORT" "$KPID_TEST_DB" "$HIS_ROLE"
}

# Rows of every kind the queries meet: a ward in UTF-8 beyond the BMP every third row,
# NULL wards, scores with fractions, booleans, uuids, and every 25th row a note of 10,000
# characters (longer than a block's slot: the query then reads row by row).
his_insert() {
    local first=$1 last=$2 updated=${3:-now()}
    sql "INSERT INTO his.encounters (encounter_id, visit_no, mrn, admitted_at, ward, score,
                                     urgent, ref, note, updated_at)
         SELECT i, 'V' || i, 'P' || (i % 97),
                timestamptz '2024-03-01 10:00:00.123456+01' + i * interval '17 minutes 3.5 seconds',
                CASE i % 3 WHEN 0 THEN 'Station Süd ✓ 🏥' WHEN 1 THEN 'ICU' END,
                CASE WHEN i % 4 <> 0 THEN i * 1.25 END, i % 2 = 0,
                md5(i::text)::uuid, CASE WHEN i % 25 = 0 THEN repeat('Ä', 10000) END, $updated
         FROM generate_series($first, $last) i" >/dev/null
}

his_expected_sql() {
    cat <<'SQL'
SELECT visit_no || '/ADMISSION/1' AS event_key, visit_no AS case_id, mrn AS subject_id,
       'ADMISSION' AS activity, admitted_at AS time, score::float8 AS value,
       jsonb_strip_nulls(jsonb_build_object('ward', ward, 'urgent', urgent, 'ref', ref::text,
                                            'note', note)) AS attrs
FROM his.encounters
WHERE status <> 'cancelled'
  AND visit_no || '/ADMISSION/1' NOT IN (SELECT event_key FROM his.deleted)
SQL
}

# assert_his_exact SOURCE: kpid.event of SOURCE is what his.encounters gives, each once.
assert_his_exact() {
    local source=$1 missing extra
    missing=$(sql "SELECT count(*) FROM ($(his_expected_sql) EXCEPT ALL
                   SELECT event_key, case_id, subject_id, activity, time, value, attrs
                   FROM kpid.event WHERE source = '$source') d")
    extra=$(sql "SELECT count(*) FROM (SELECT event_key, case_id, subject_id, activity, time,
                 value, attrs FROM kpid.event WHERE source = '$source'
                 EXCEPT ALL $(his_expected_sql)) d")
    if [ "$missing" != 0 ] || [ "$extra" != 0 ]; then
        fail "source $source: $missing events missing, $extra extra or different"
    fi
}

# his_wait_exact SOURCE [TIMEOUT_S]: waits until kpid.event of SOURCE is exact.
his_wait_exact() {
    local source=$1 max_s=${2:-60}
    wait_for "SELECT NOT EXISTS (($(his_expected_sql)) EXCEPT ALL
                  SELECT event_key, case_id, subject_id, activity, time, value, attrs
                  FROM kpid.event WHERE source = '$source')
              AND NOT EXISTS (SELECT event_key, case_id, subject_id, activity, time, value,
                  attrs FROM kpid.event WHERE source = '$source'
                  EXCEPT ALL ($(his_expected_sql)))" "$max_s"
}

# The writes every backend has reported on schema his (a backend reports at its
# transactions' ends and when it exits; call it with the readers stopped).
his_writes() {
    sql "SELECT pg_stat_force_next_flush()" >/dev/null
    sql "SELECT pg_stat_clear_snapshot();
         SELECT coalesce(sum(n_tup_ins), 0) || '|' || coalesce(sum(n_tup_upd), 0) || '|' ||
                coalesce(sum(n_tup_del), 0)
         FROM pg_stat_user_tables WHERE schemaname = 'his'" | tail -n 1
}

# his_admissions_query NAME [EXTRA_KEYS]: the admissions of his.encounters.
his_admissions_query() {
    cat <<CONF
{ name = "$1";
  sql = "SELECT e.encounter_id, e.visit_no || '/ADMISSION/1' AS event_key, e.visit_no, e.mrn, "
        "e.admitted_at, e.ward, e.score, e.urgent, e.ref, e.note, "
        "e.status = 'cancelled' AS cancelled, e.updated_at FROM his.encounters e";
  watermark = "updated_at"; watermark_type = "timestamp"; tiebreaker = "encounter_id";
  activity = "ADMISSION"; event_key = "event_key"; case_id = "visit_no"; subject_id = "mrn";
  time = "admitted_at"; value = "score";
  attributes = { ward = "ward"; urgent = "urgent"; ref = "ref"; note = "note"; };
  retract_when = "cancelled"; ${2:-} }
CONF
}

his_retractions_query() {
    cat <<CONF
{ name = "$1"; kind = "retractions";
  sql = "SELECT deletion_id, event_key, updated_at FROM his.deleted";
  watermark = "updated_at"; watermark_type = "timestamp"; tiebreaker = "deletion_id";
  event_key = "event_key"; }
CONF
}
