#!/usr/bin/env bash
# Checks hospgen's HL7 form (--hl7): same seed, same bytes; an --hl7 run leaves the
# NDJSON of a run without it alone except for times cut to 4 fractional digits (same
# line count, same keys in the same order); and the messages, read by check_hl7.py
# through MAPPING (etc/hl7-mapping.conf), give exactly the final events of expected.tsv.
# --hl7-split: the hospital of the run without --hl7 (its NDJSON without the lines of the
# HL7 streams' cases, summary.tsv, expected.tsv but for the times of the HL7 cases, cut
# to 4 digits), only the HL7 streams' files, and NDJSON and HL7 replayed together give
# expected.tsv.
# Usage: check_hl7.sh /path/to/hospgen /path/to/hl7-mapping.conf
set -euo pipefail

hg=${1:?usage: check_hl7.sh /path/to/hospgen /path/to/hl7-mapping.conf}
mapping=${2:?usage: check_hl7.sh /path/to/hospgen /path/to/hl7-mapping.conf}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The checker needs only python3; with the hl7 package (Debian python3-hl7) it also
# checks that mllp_send reads the files as framed.
py=python3
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import hl7' 2>/dev/null; then
        py=$p
        break
    fi
done

args=(--seed 11 --events 12000 --files 2 --malformed 5 --start 2025-03-01 --days 5)
"$hg" "${args[@]}" --hl7 3 --out "$tmp/a" 2>/dev/null
"$hg" "${args[@]}" --hl7 3 --out "$tmp/b" 2>/dev/null
"$hg" "${args[@]}" --out "$tmp/c" 2>/dev/null
for f in "$tmp"/a/*; do
    cmp -s "$f" "$tmp/b/$(basename "$f")" || { echo "FAIL: $(basename "$f") differs between runs" >&2; exit 1; }
done
keys() { cat "$1"/events-*.ndjson | sed -n 's/^{"event_key":"\([^"]*\)".*/\1/p'; }
if ! cmp -s <(keys "$tmp/a") <(keys "$tmp/c"); then
    echo "FAIL: --hl7 changed the event lines beyond their times" >&2
    exit 1
fi
"$py" "$here/check_hl7.py" "$tmp/a" "$mapping"

# Stream 1 of 3 as HL7 only, streams 2 and 3 as NDJSON only; c is the run without --hl7.
"$hg" "${args[@]}" --hl7 3 --hl7-split 1 --out "$tmp/s" 2>/dev/null
cmp -s "$tmp/c/summary.tsv" "$tmp/s/summary.tsv" || { echo "FAIL: --hl7-split changed summary.tsv" >&2; exit 1; }
if ! cmp -s <(cut -f 1-4,6- "$tmp/c/expected.tsv") <(cut -f 1-4,6- "$tmp/s/expected.tsv"); then
    echo "FAIL: --hl7-split changed expected.tsv beyond times" >&2
    exit 1
fi
if [ ! -e "$tmp/s/hl7-0001.hl7" ] || [ -e "$tmp/s/hl7-0002.hl7" ] || [ -e "$tmp/s/hl7-0003.hl7" ]; then
    echo "FAIL: --hl7-split 1 wrote the HL7 of streams 2..3" >&2
    exit 1
fi
# The NDJSON of the split: the lines of the run without --hl7 (malformed ones too) but
# those of the cases it left out, in the same order. A key's case is the text before its
# first '/'.
export LC_ALL=C
cases() { cat "$1"/events-*.ndjson | sed -n 's/^{"event_key":"\([^"/]*\)\/.*/\1/p' | sort -u; }
cases "$tmp/s" >"$tmp/s.cases"
if ! cmp -s <(cat "$tmp"/s/events-*.ndjson) <(cat "$tmp"/c/events-*.ndjson | awk '
        NR == FNR { keep[$0] = 1; next }
        !match($0, /^\{"event_key":"[^"\/]*\//) { print; next }
        substr($0, 15, RLENGTH - 15) in keep' "$tmp/s.cases" -); then
    echo "FAIL: the NDJSON of --hl7-split is not the run's without --hl7 less whole cases" >&2
    exit 1
fi
if [ "$(wc -l <"$tmp/s/malformed.tsv")" != "$(wc -l <"$tmp/c/malformed.tsv")" ]; then
    echo "FAIL: --hl7-split changed the number of malformed lines" >&2
    exit 1
fi
"$py" "$here/check_hl7.py" "$tmp/s" "$mapping" --with-ndjson
# Another offset: times without one are then written only where a whole-hour zone fits.
"$hg" --seed 12 --events 4000 --days 3 --tz-offset -03:30 --hl7 1 --out "$tmp/d" 2>/dev/null
"$py" "$here/check_hl7.py" "$tmp/d" "$mapping" --tz-offset -03:30 --no-implied
