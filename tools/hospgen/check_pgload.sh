#!/usr/bin/env bash
# Loads hospgen's expected.tsv into a throw-away PostgreSQL with \copy, replays the
# NDJSON in SQL (last line per event_key wins, a retraction deletes) and checks that
# both give the same rows, jsonb attrs included, and that summary.tsv agrees.
# Usage: check_pgload.sh /path/to/hospgen [events] [pg-bindir]
# Runs the server as 'nobody' when started as root; stops it on exit.
set -euo pipefail

hg=$(readlink -f "${1:?usage: check_pgload.sh /path/to/hospgen [events] [pg-bindir]}")
n=${2:-200000}
pgbin=${3:-/usr/lib/postgresql/15/bin}
if [ ! -x "$pgbin/postgres" ]; then
    echo "check_pgload: no PostgreSQL server in $pgbin: skipped"
    exit 0
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
as=()
if [ "$(id -u)" -eq 0 ]; then
    chown nobody "$tmp"
    as=(runuser -u nobody --)
fi
pid=
cleanup() {
    if [ -n "$pid" ]; then
        # Fast shutdown of our postmaster (its pid file names it), then of the wrapper.
        local pm
        pm=$(head -1 "$tmp/data/postmaster.pid" 2>/dev/null || true)
        [ -n "$pm" ] && kill -INT "$pm" 2>/dev/null
        kill -INT "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"${as[@]}" "$hg" --seed 11 --events "$n" --files 3 --malformed 30 --days 20 --out "$tmp/out" 2>/dev/null

# The NDJSON lines that are not malformed, as CSV rows (file, line, json) for COPY.
"${as[@]}" python3 - "$tmp/out" "$tmp/lines.csv" <<'EOF'
import csv, glob, os, sys
d, out = sys.argv[1], sys.argv[2]
bad = set()
for row in open(os.path.join(d, "malformed.tsv")):
    f, line, _ = row.rstrip("\n").split("\t")
    bad.add((f, int(line)))
with open(out, "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    for path in sorted(glob.glob(os.path.join(d, "events-*.ndjson"))):
        f = os.path.basename(path)
        num = int(f[7:11])
        for no, raw in enumerate(open(path, "rb"), 1):
            if (f, no) not in bad:
                w.writerow([num, no, raw.decode("utf-8").rstrip("\n")])
EOF

"${as[@]}" "$pgbin/initdb" -D "$tmp/data" -U postgres -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1
"${as[@]}" "$pgbin/postgres" -D "$tmp/data" -k "$tmp" -c listen_addresses= -c fsync=off \
    >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    "$pgbin/pg_isready" -q -h "$tmp" -U postgres && break
    sleep 0.1
done

result=$("${as[@]}" "$pgbin/psql" -h "$tmp" -U postgres -X -q -t -A -v ON_ERROR_STOP=1 <<EOF
CREATE TABLE expected (event_key text PRIMARY KEY, case_id text,
    subject_id text, activity text NOT NULL, time timestamptz NOT NULL,
    value numeric, attrs jsonb NOT NULL);
\copy expected FROM '$tmp/out/expected.tsv'
CREATE TABLE raw (file int, line int, j jsonb);
\copy raw FROM '$tmp/lines.csv' WITH (FORMAT csv)
CREATE TABLE replay AS
SELECT j->>'event_key' AS event_key, j->>'case_id' AS case_id, j->>'subject_id' AS subject_id,
       j->>'activity' AS activity, (j->>'time')::timestamptz AS time,
       (j->>'value')::numeric AS value, coalesce(j->'attrs', '{}') AS attrs
FROM (SELECT DISTINCT ON (j->>'event_key') j FROM raw
      ORDER BY j->>'event_key', file DESC, line DESC) last
WHERE NOT coalesce((j->>'retract')::boolean, false);
CREATE TABLE summary (activity text, n bigint);
\copy summary FROM '$tmp/out/summary.tsv'
SELECT 'rows=' || (SELECT count(*) FROM expected)
    || ' missing=' || (SELECT count(*) FROM (TABLE replay EXCEPT TABLE expected) x)
    || ' extra=' || (SELECT count(*) FROM (TABLE expected EXCEPT TABLE replay) x)
    || ' summary_off=' || (SELECT count(*) FROM (
           SELECT activity, count(*) FROM expected GROUP BY activity
           UNION ALL SELECT 'TOTAL', count(*) FROM expected
           EXCEPT TABLE summary) x)
    || ' non_ascii_attrs=' || (SELECT count(*) FROM expected WHERE attrs::text ~ '[^\x01-\x7f]');
EOF
)
echo "check_pgload: $result"
case "$result" in
rows=*" missing=0 extra=0 summary_off=0 "*) echo "check_pgload: 1 passed, 0 failed" ;;
*) echo "check_pgload: 0 passed, 1 failed"; exit 1 ;;
esac
