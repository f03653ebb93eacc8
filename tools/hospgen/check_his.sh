#!/usr/bin/env bash
# Checks hospgen's HIS form (--his) against CONF (etc/his-pgsql.conf), independently of
# any kpid plugin:
#   - same seed, same bytes (his.sql too); --his leaves every other file alone; his.sql
#     does not depend on --files or --malformed;
#   - his.sql loads with psql -v ON_ERROR_STOP=1 into an empty database of a private
#     PostgreSQL (tests/lib/pg.sh);
#   - every query of CONF, run as a role that may read only the tables (and of patients
#     and staff only the identifiers), with the mapping's column logic applied in SQL
#     (check_his.py), gives exactly the rows of expected.tsv: event_key, case_id,
#     subject_id, activity, time, value, attrs as jsonb with values as text (EXCEPT ALL
#     both ways, counts); no key twice; retractions by status and by tombstone both
#     present, each query's; no demographic (names, addresses, birth dates, phones,
#     national ids) among the values the queries select;
#   - an UPDATE moves the row's row_xid (the trigger);
#   - --his-share: the hospital of the run without --his (summary.tsv and expected.tsv the
#     same), the NDJSON that run's less whole cases, and the HIS and the NDJSON replayed
#     together give expected.tsv, no case in both; and beside --hl7-split (three routes)
#     the HIS gives exactly its cases' rows and check_hl7.py finds the others in the HL7
#     and the NDJSON.
# Usage: check_his.sh /path/to/hospgen /path/to/his-pgsql.conf
# Exits 77 (skipped) without a PostgreSQL server; stops the server it starts, also on
# failure.
set -euo pipefail

hg=$(readlink -f "${1:?usage: check_his.sh /path/to/hospgen /path/to/his-pgsql.conf}")
conf=$(readlink -f "${2:?usage: check_his.sh /path/to/hospgen /path/to/his-pgsql.conf}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../tests/lib/pg.sh
. "$here/../../tests/lib/pg.sh"
if ! _pg_bindir >/dev/null 2>&1; then
    echo "check_his: no PostgreSQL server (initdb, postgres): skipped"
    exit 77
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
cleanup() {
    pg_destroy "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "check_his: FAIL: $*" >&2
    exit 1
}

# Seed 7 of this size has every kind of retraction, a cancelled discharge among them.
args=(--seed 7 --events 60000 --files 2 --malformed 5 --start 2025-03-01 --days 30)
"$hg" "${args[@]}" --his --out "$tmp/a" 2>/dev/null
"$hg" "${args[@]}" --his --out "$tmp/b" 2>/dev/null
"$hg" "${args[@]}" --out "$tmp/c" 2>/dev/null
"$hg" --seed 7 --events 60000 --files 3 --start 2025-03-01 --days 30 --his --out "$tmp/d" 2>/dev/null
"$hg" "${args[@]}" --his --his-share 40 --out "$tmp/s" 2>/dev/null

for f in "$tmp"/a/*; do
    cmp -s "$f" "$tmp/b/$(basename "$f")" || fail "$(basename "$f") differs between two runs"
done
for f in "$tmp"/c/*; do
    cmp -s "$f" "$tmp/a/$(basename "$f")" || fail "--his changed $(basename "$f")"
done
[ "$(ls "$tmp/a" | wc -l)" = "$(($(ls "$tmp/c" | wc -l) + 1))" ] || fail "--his wrote more than his.sql"
cmp -s "$tmp/a/his.sql" "$tmp/d/his.sql" || fail "--files/--malformed changed his.sql"
ls -a "$tmp/a" | grep -q '^\.his-' && fail "temporary files left behind"

# The split: the hospital of the run without --his, its NDJSON less the lines of whole
# cases (a key's case is the text before its first '/'), malformed lines kept.
cmp -s "$tmp/c/summary.tsv" "$tmp/s/summary.tsv" || fail "--his-share changed summary.tsv"
cmp -s "$tmp/c/expected.tsv" "$tmp/s/expected.tsv" || fail "--his-share changed expected.tsv"
export LC_ALL=C
cases() { cat "$1"/events-*.ndjson | sed -n 's/^{"event_key":"\([^"/]*\)\/.*/\1/p' | sort -u; }
cases "$tmp/s" >"$tmp/s.cases"
if ! cmp -s <(cat "$tmp"/s/events-*.ndjson) <(cat "$tmp"/c/events-*.ndjson | awk '
        NR == FNR { keep[$0] = 1; next }
        !match($0, /^\{"event_key":"[^"\/]*\//) { print; next }
        substr($0, 15, RLENGTH - 15) in keep' "$tmp/s.cases" -); then
    fail "the NDJSON of --his-share is not the run's without --his less whole cases"
fi
[ "$(wc -l <"$tmp/s/malformed.tsv")" = "$(wc -l <"$tmp/c/malformed.tsv")" ] ||
    fail "--his-share changed the number of malformed lines"
python3 "$here/check_his.py" ndjson "$tmp/s" "$tmp/s.ndjson.tsv"
python3 "$here/check_his.py" sql "$conf" >"$tmp/mapping.sql"

# Creates database $1, loads $2/his.sql into it and grants the HIS role what
# his-pgsql-grants.sql (beside CONF) grants: SELECT on the tables, of patients and staff
# on the identifiers only, so that a query that touched a demographic would fail.
load_his() {
    pg_createdb "$1"
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$2/his.sql" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<'EOF'
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kpid_his') THEN
        CREATE ROLE kpid_his NOLOGIN;
    END IF;
END $$;
EOF
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v role=kpid_his \
        -f "$(dirname "$conf")/his-pgsql-grants.sql" >/dev/null
}

pg_start "$tmp/pg" >/dev/null
load_his his_a "$tmp/a"
load_his his_s "$tmp/s"

# Runs the mapping as kpid_his in database $1 and compares the final events with the
# expected rows (file $2) and, when given, the NDJSON replay (file $3). Prints one line.
compare() {
    local db=$1 expected=$2 ndjson=${3:-}
    psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" <<EOF
CREATE TEMP TABLE expected (event_key text, case_id text, subject_id text, activity text,
    time timestamptz, value numeric, attrs jsonb);
\copy expected FROM '$expected'
CREATE TEMP TABLE ndjson (LIKE expected);
$( [ -n "$ndjson" ] && echo "\\copy ndjson FROM '$ndjson'" )
SET ROLE kpid_his;
\i $tmp/mapping.sql
RESET ROLE;
CREATE TEMP VIEW his_final AS SELECT event_key, case_id, subject_id, activity, time, value,
    attrs FROM mapped WHERE NOT retract;
CREATE TEMP VIEW got AS TABLE his_final UNION ALL TABLE ndjson;
CREATE TEMP VIEW want AS SELECT event_key, case_id, subject_id, activity, time, value,
    coalesce((SELECT jsonb_object_agg(k, v) FROM jsonb_each_text(attrs) AS a(k, v)), '{}')
    AS attrs FROM expected;
CREATE TEMP TABLE demographic AS
    SELECT DISTINCT v FROM his.patients, LATERAL (VALUES (family_name), (given_name),
        (street), (city), (national_id), (phone), (birth_date::text)) AS x(v)
    WHERE v IS NOT NULL
    UNION SELECT family_name FROM his.staff UNION SELECT given_name FROM his.staff;
SELECT 'rows=' || (SELECT count(*) FROM want)
    || ' got=' || (SELECT count(*) FROM got)
    || ' missing=' || (SELECT count(*) FROM (TABLE want EXCEPT ALL TABLE got) x)
    || ' extra=' || (SELECT count(*) FROM (TABLE got EXCEPT ALL TABLE want) x)
    || ' dup_keys=' || (SELECT count(*) FROM (SELECT event_key FROM mapped
                                              GROUP BY 1 HAVING count(*) > 1) x)
    || ' his_events=' || (SELECT count(*) FROM his_final)
    || ' status_retractions=' || (SELECT count(*) FROM mapped WHERE retract AND kind = 'events')
    || ' tombstones=' || (SELECT count(*) FROM mapped WHERE kind = 'retractions')
    || ' queries_without_retraction=' || coalesce((SELECT string_agg(query, ',')
           FROM retracting r WHERE NOT EXISTS (SELECT FROM mapped m
                                               WHERE m.query = r.query AND m.retract)), '-')
    || ' cases_in_both=' || (SELECT count(*) FROM (
           SELECT split_part(event_key, '/', 1) FROM his_final
           INTERSECT SELECT split_part(event_key, '/', 1) FROM ndjson) x)
    || ' demographics=' || (SELECT count(*) FROM demographic)
    || ' leaks=' || (SELECT count(*) FROM selected s JOIN demographic d ON s.v = d.v)
    || ' leaks_within=' || (SELECT count(*) FROM selected s JOIN demographic d
                             ON length(d.v) >= 4 AND d.v !~ '^[-+0-9 ]*$'
                             AND strpos(s.v, d.v) > 0)
    || ' demographic_columns=' || (SELECT count(*) FROM (SELECT DISTINCT col FROM selected) c
           WHERE col ~ '(family|given|birth|street|city|postcode|phone|national)');
EOF
}

ra=$(compare his_a "$tmp/a/expected.tsv")
echo "check_his: whole hospital: $ra"
rs=$(compare his_s "$tmp/s/expected.tsv" "$tmp/s.ndjson.tsv")
echo "check_his: --his-share 40: $rs"

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
for r in "$ra" "$rs"; do
    [ "$(field "$r" rows)" = "$(field "$r" got)" ] || fail "row counts differ"
    for k in missing extra dup_keys cases_in_both leaks leaks_within demographic_columns; do
        [ "$(field "$r" "$k")" = 0 ] || fail "$k=$(field "$r" "$k")"
    done
    [ "$(field "$r" his_events)" -gt 0 ] || fail "no events from the HIS"
    [ "$(field "$r" demographics)" -gt 0 ] || fail "the HIS holds no demographics to look for"
done
[ "$(field "$ra" his_events)" = "$(field "$ra" rows)" ] || fail "the HIS is not the whole hospital"
[ "$(field "$ra" status_retractions)" -gt 0 ] || fail "no retraction by status"
[ "$(field "$ra" tombstones)" -gt 0 ] || fail "no retraction by tombstone"
[ "$(field "$ra" queries_without_retraction)" = - ] ||
    fail "queries without a retraction in the sample: $(field "$ra" queries_without_retraction)"
[ "$(field "$rs" his_events)" -lt "$(field "$rs" rows)" ] || fail "--his-share 40 left nothing to the NDJSON"
# The trigger: an update gives the row its transaction's id, later than the load's.
later=$(psql -X -q -t -A -v ON_ERROR_STOP=1 -d his_a <<'EOF'
CREATE TEMP TABLE before AS SELECT row_xid FROM his.wards WHERE ward_id = 1;
UPDATE his.wards SET beds = beds + 1 WHERE ward_id = 1;
SELECT (SELECT row_xid FROM his.wards WHERE ward_id = 1) > (SELECT row_xid FROM before);
EOF
)
[ "$later" = t ] || fail "an UPDATE did not move row_xid"

# Three routes: 30 % of the cases in the HIS, of the others those of HL7 streams 1..3 of 8
# as HL7 and the rest as NDJSON. The HIS gives exactly the rows of its cases; check_hl7.py
# finds the rest of expected.tsv in the HL7 and the NDJSON together.
"$hg" "${args[@]}" --hl7 8 --hl7-split 3 --his --his-share 30 --out "$tmp/t" 2>/dev/null
load_his his_t "$tmp/t"
psql -X -q -v ON_ERROR_STOP=1 -d his_t >/dev/null <<EOF
SET ROLE kpid_his;
\i $tmp/mapping.sql
RESET ROLE;
\copy (SELECT DISTINCT split_part(event_key, '/', 1) FROM mapped) TO '$tmp/t.cases'
EOF
mkdir "$tmp/t2"
awk -v his="$tmp/t.his.tsv" -v rest="$tmp/t2/expected.tsv" '
    NR == FNR { in_his[$0] = 1; next }
    { c = $1; sub(/\/.*/, "", c); print > (c in in_his ? his : rest) }' "$tmp/t.cases" "$tmp/t/expected.tsv"
ln -s "$tmp"/t/events-*.ndjson "$tmp"/t/hl7-*.hl7 "$tmp/t/malformed.tsv" "$tmp/t2/"
rt=$(compare his_t "$tmp/t.his.tsv")
echo "check_his: --his-share 30 beside --hl7-split: HIS: $rt"
for k in missing extra dup_keys leaks leaks_within; do
    [ "$(field "$rt" "$k")" = 0 ] || fail "three routes: $k=$(field "$rt" "$k")"
done
[ "$(field "$rt" rows)" = "$(field "$rt" got)" ] || fail "three routes: row counts differ"
python3 "$here/check_hl7.py" "$tmp/t2" "$here/../../etc/hl7-mapping.conf" --with-ndjson ||
    fail "three routes: HL7 and NDJSON are not the rest of expected.tsv"
echo "check_his: 1 passed, 0 failed"
