#!/usr/bin/env bash
# Checks hospgen's HL7 form (--hl7): same seed, same bytes; an --hl7 run leaves the
# NDJSON of a run without it alone except for times cut to 4 fractional digits (same
# line count, same keys in the same order); and the messages, read by check_hl7.py
# through MAPPING (etc/hl7-mapping.conf), give exactly the final events of expected.tsv.
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
# Another offset: times without one are then written only where a whole-hour zone fits.
"$hg" --seed 12 --events 4000 --days 3 --tz-offset -03:30 --hl7 1 --out "$tmp/d" 2>/dev/null
"$py" "$here/check_hl7.py" "$tmp/d" "$mapping" --tz-offset -03:30 --no-implied
