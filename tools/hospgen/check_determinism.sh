#!/usr/bin/env bash
# Checks hospgen: same seed, same bytes; exact line counts; every event line is JSON;
# expected.tsv is the final state of a replay of the NDJSON (upsert by event_key,
# retraction deletes) and agrees with summary.tsv.
# Usage: check_determinism.sh /path/to/hospgen
set -euo pipefail

hg=${1:?usage: check_determinism.sh /path/to/hospgen}
n=20000
m=25
k=3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }

args=(--seed 7 --events "$n" --files "$k" --malformed "$m" --start 2025-03-01 --days 6)
"$hg" "${args[@]}" --out "$tmp/a" 2>"$tmp/a.log"
"$hg" "${args[@]}" --out "$tmp/b" 2>"$tmp/b.log"
"$hg" "${args[@]}" --seed 8 --out "$tmp/c" 2>/dev/null
"$hg" --seed 7 --events "$n" --start 2025-03-01 --days 6 --out "$tmp/d" 2>/dev/null

same=1
for f in "$tmp"/a/*; do
    cmp -s "$f" "$tmp/b/$(basename "$f")" || { same=0; bad "$(basename "$f") differs between runs"; }
done
[ "$same" = 1 ] && ok

# Another seed gives other events; --files and --malformed change no event.
if cmp -s "$tmp/a/expected.tsv" "$tmp/c/expected.tsv"; then bad "seeds 7 and 8 agree"; else ok; fi
if cmp -s "$tmp/a/expected.tsv" "$tmp/d/expected.tsv"; then ok; else bad "--files/--malformed changed expected.tsv"; fi

lines=$(cat "$tmp"/a/events-*.ndjson | wc -l)
if [ "$lines" -eq $((n + m)) ]; then ok; else bad "event files have $lines lines, want $((n + m))"; fi
bad_rows=$(wc -l <"$tmp/a/malformed.tsv")
if [ "$bad_rows" -eq "$m" ]; then ok; else bad "malformed.tsv has $bad_rows rows, want $m"; fi
files=$(ls "$tmp"/a/events-*.ndjson | wc -l)
if [ "$files" -eq "$k" ]; then ok; else bad "$files event files, want $k"; fi

# The events the KPI rules need (docs/kpi-semantics.md) are in the feed: without a case,
# without a subject, without a value where others have one, numbers and strings for one
# attribute, stays of zero length, ED visits registered twice, first events that tie.
if python3 - "$tmp/a" <<'EOF'; then ok; else bad "edge cases in the feed"; fi
import collections, os, sys

rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(sys.argv[1], "expected.tsv"))]
def count(pred):
    return sum(1 for r in rows if pred(r))
case = lambda r: r[0].split("/")[0]
need = {
    "no case": count(lambda r: r[1] == "\\N"),
    "no subject": count(lambda r: r[2] == "\\N"),
    "survey without a value": count(lambda r: r[3] == "SATISFACTION_SURVEY" and r[5] == "\\N"),
    "number attribute": count(lambda r: '"triage_level":3' in r[6]),
    "string attribute": count(lambda r: '"triage_level":"3"' in r[6]),
}
arrivals = collections.Counter(case(r) for r in rows if r[3] == "ED_ARRIVAL" and r[1] != "\\N")
need["visit registered twice"] = sum(1 for n in arrivals.values() if n > 1)
ties = collections.Counter((case(r), r[4]) for r in rows if r[3] == "ED_ARRIVAL")
need["arrivals at one instant"] = sum(1 for n in ties.values() if n > 1)
subject_ties = collections.Counter((r[2], r[4]) for r in rows if r[3] == "ED_ARRIVAL")
need["visits of one patient at one instant"] = sum(
    1 for (subject, t), n in subject_ties.items() if n > 1
    and len({case(r) for r in rows if r[3] == "ED_ARRIVAL" and r[2] == subject and r[4] == t}) > 1)
opened = {case(r): r[4] for r in rows if r[3] == "ADMISSION"}
need["stay of zero length"] = count(lambda r: r[3] == "DISCHARGE" and opened.get(case(r)) == r[4])
missing = [k for k, v in need.items() if v == 0]
assert not missing, f"none of: {', '.join(missing)}"
EOF

# JSON, replay, expected.tsv, summary.tsv: one pass in Python.
if python3 - "$tmp/a" "$n" "$tmp/d" <<'EOF'; then ok; else bad "content checks"; fi
import datetime, decimal, glob, json, os, sys

def load_bad(d):
    bad = {}
    for row in open(os.path.join(d, "malformed.tsv"), encoding="utf-8"):
        f, line, kind = row.rstrip("\n").split("\t")
        bad[(f, int(line))] = kind
    return bad

def events(d):
    """Yields (file, line number, parsed object) of every event line, in output order."""
    bad = load_bad(d)
    for path in sorted(glob.glob(os.path.join(d, "events-*.ndjson"))):
        f = os.path.basename(path)
        with open(path, "rb") as fh:
            for no, raw in enumerate(fh, 1):
                if (f, no) in bad:
                    continue
                yield f, no, json.loads(raw)

def utc(s):
    t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t.astimezone(datetime.timezone.utc)

def copy_unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            nxt = s[i + 1]
            out.append({"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)

def replay(d):
    state, n = {}, 0
    for f, no, o in events(d):
        n += 1
        if o.get("retract") is True:
            assert o["event_key"] in state, f"{f}:{no} retracts an unknown key"
            del state[o["event_key"]]
        else:
            state[o["event_key"]] = o
    return state, n

def expected(d):
    rows = {}
    for line in open(os.path.join(d, "expected.tsv"), encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        assert len(f) == 7, line
        key = copy_unescape(f[0])
        assert key not in rows, f"duplicate key {key}"
        rows[key] = f
    return rows

d, n = sys.argv[1], int(sys.argv[2])
state, seen = replay(d)
assert seen == n, f"{seen} event lines parsed, want {n}"
rows = expected(d)
assert set(rows) == set(state), (
    f"expected.tsv and replay differ: {len(set(rows) ^ set(state))} keys")
for key, o in state.items():
    f = rows[key]
    # An event without a case or subject has none in expected.tsv either.
    assert f[1] == o.get("case_id", "\\N") and f[2] == o.get("subject_id", "\\N"), key
    assert f[3] == o["activity"], key
    t = datetime.datetime.strptime(f[4], "%Y-%m-%d %H:%M:%S.%f+00").replace(
        tzinfo=datetime.timezone.utc)
    assert t == utc(o["time"]), (key, f[4], o["time"])
    if "value" in o:
        assert decimal.Decimal(f[5]) == decimal.Decimal(str(o["value"])), key
    else:
        assert f[5] == "\\N", key
    assert json.loads(copy_unescape(f[6])) == o.get("attrs", {}), key

counts = {}
for f in rows.values():
    counts[f[3]] = counts.get(f[3], 0) + 1
summary = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "summary.tsv"))]
assert summary[-1] == ["TOTAL", str(len(rows))], summary[-1]
assert [s[0] for s in summary[:-1]] == sorted(counts), "summary not sorted"
assert {s[0]: int(s[1]) for s in summary[:-1]} == counts, "summary counts"

# --files and --malformed only move lines between files: same lines, same order.
a = [o for _, _, o in events(d)]
one = [o for _, _, o in events(sys.argv[3])]
assert a == one, "--files/--malformed changed the event lines"
EOF

if [ "$fail" -eq 0 ]; then
    echo "hospgen: $pass passed, 0 failed"
else
    echo "hospgen: $pass passed, $fail failed"
    exit 1
fi
