# The file source loses no line to inode reuse, copytruncate or a rename out of the
# pattern (issue 7, items 1-3), against the real daemon, real files and PostgreSQL:
#   - a file deleted and a new, longer one that gets its inode, live (the old file was
#     closed: max_open_files = 1) and while kpid is stopped: the new file is read from
#     its first line;
#   - copytruncate with new data past the old position before the next poll;
#   - a rename out of the pattern with an unread tail while kpid runs (every line
#     lands, also those the writer appends after the rename), and while it is stopped
#     (one warning line saying what is not read).
# Each step checks the exact set of event keys. The poll interval is long (500 ms), so
# that each change lands between two polls, as the findings describe.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init file_rotation

inbox=$KPID_WORK/inbox
mkdir "$inbox"
write_conf "$KPID_WORK/kpid.conf" "$inbox/*.ndjson"
sed -i 's/interval = "100ms";/interval = "500ms"; max_open_files = 1; rotate_wait = "2s";/' \
    "$KPID_WORK/kpid.conf"
grep -q 'max_open_files = 1;' "$KPID_WORK/kpid.conf" || fail "the configuration was not adapted"

# gen PREFIX FROM TO: events PREFIX-FROM .. PREFIX-TO, one line each.
gen() {
    awk -v p="$1" -v a="$2" -v b="$3" 'BEGIN {
        for (i = a; i <= b; i++)
            printf "{\"event_key\":\"%s-%d\",\"case_id\":\"C%d\",\"activity\":\"ADMISSION\",\"time\":\"2025-02-%02dT10:00:00Z\",\"value\":%d}\n", p, i, i, 1 + i % 28, i
    }'
}
# expect PREFIX FROM TO: adds those keys to the expected set.
expected=$KPID_WORK/expected.keys
: >"$expected"
expect() {
    awk -v p="$1" -v a="$2" -v b="$3" 'BEGIN { for (i = a; i <= b; i++) printf "%s-%d\n", p, i }' >>"$expected"
}
# assert_keys WHAT: kpid.event holds exactly the expected keys, once each (waits for
# them first while the daemon runs).
assert_keys() {
    local want n
    want=$(LC_ALL=C sort "$expected" | tr '\n' ',' | sed 's/,$//')
    n=$(wc -l <"$expected")
    if [ -n "$KPID_PID" ]; then
        wait_for "SELECT count(*) >= $n FROM kpid.event" 30
        sleep 1.2 # two more polls: nothing more may come
    fi
    assert_sql "SELECT string_agg(event_key, ',' ORDER BY event_key COLLATE \"C\") FROM kpid.event" \
        "$want" "$1: the event keys"
}
# swap_inode OLD NAME PREFIX FROM TO: deletes inbox/OLD and writes the lines as
# inbox/NAME so that the new file gets OLD's inode; returns 1 (having deleted OLD) when
# the file system does not give it. ext4 gives a new file the first free inode of its
# directory's group that was not deleted in an earlier second (those count as recently
# deleted for a minute): so this starts at the beginning of a second, deletes OLD and at
# once creates empty files outside the pattern until one of them has OLD's inode; that
# one gets the lines and its name. Most times it does; the callers try again with
# another file, and fail loudly when it never does.
swap_inode() {
    local old=$1 name=$2 ino ns got
    ino=$(stat -c %i "$inbox/$old")
    ns=$(date +%N)
    sleep "$(printf '0.%09d' $((1000000000 - 10#$ns)))"
    rm "$inbox/$old"
    (cd "$inbox" && touch spare-{1..3000}.tmp)
    got=$(find "$inbox" -maxdepth 1 -name 'spare-*.tmp' -inum "$ino")
    if [ -n "$got" ]; then
        gen "$3" "$4" "$5" >"$got"
        mv "$got" "$inbox/$name"
    fi
    rm -f "$inbox"/spare-*.tmp
    [ -n "$got" ] && [ "$(stat -c %i "$inbox/$name")" = "$ino" ]
}

# ---- inode reuse, live ----
# A file is read; z is read after it, so that its descriptor is closed (max_open_files
# = 1) and its inode is free once it is deleted. Then, with kpid frozen (SIGSTOP) so
# that no poll falls in between, it is deleted and b, longer, gets its inode.
gen z 1 1 >"$inbox/z.ndjson"
expect z 1 1
kpid_start "$KPID_WORK/kpid.conf"
swapped=''
for try in 1 2 3 4 5; do
    gen "a$try" 1 10 >"$inbox/a$try.ndjson"
    expect "a$try" 1 10
    assert_keys "victim $try"
    gen z $((try + 1)) $((try + 1)) >>"$inbox/z.ndjson"
    expect z $((try + 1)) $((try + 1))
    assert_keys "z after victim $try"
    kpid_signal_child STOP "$KPID_PID" || fail "the daemon is gone before SIGSTOP"
    if swap_inode "a$try.ndjson" b.ndjson b 1 25; then
        swapped=yes
    fi
    kpid_signal_child CONT "$KPID_PID" || fail "the daemon is gone before SIGCONT"
    [ -n "$swapped" ] && break
done
[ -n "$swapped" ] || fail "the file system never reused an inode in 5 tries: inode reuse cannot be shown here"
expect b 1 25
assert_keys "a new file on a freed inode, live"
grep -q 'file was replaced or truncated since it was read, reading it again from the start: path="[^"]*/b.ndjson"' \
    "$KPID_LOG" || fail "no notice about the replaced file"

# ---- inode reuse across a restart ----
swapped=''
for try in 1 2 3 4 5; do
    kpid_stop 0
    if swap_inode b.ndjson c.ndjson c 1 40; then
        swapped=yes
        break
    fi
    # b is gone: another file read, for the next try.
    gen b 1 25 >"$inbox/b.ndjson"
    kpid_start "$KPID_WORK/kpid.conf"
    wait_for "SELECT count(*) > 0 FROM kpid.source_state s WHERE source = 'events' AND
              key = 'f:' || $(stat -c '%d' "$inbox/b.ndjson") || ':' || $(stat -c '%i' "$inbox/b.ndjson")
              AND value LIKE '%\"line\":25,%'" 30
done
[ -n "$swapped" ] || fail "the file system never reused an inode in 5 tries: inode reuse cannot be shown here"
expect c 1 40
kpid_start "$KPID_WORK/kpid.conf"
assert_keys "a new file on a freed inode, across a restart"

# ---- copytruncate, new data past the old position before the next poll ----
gen t 1 5 >"$inbox/t.ndjson"
expect t 1 5
assert_keys "before copytruncate"
ino=$(stat -c %i "$inbox/t.ndjson")
# What logrotate's copytruncate does, and the writer's next lines, all at once.
cp "$inbox/t.ndjson" "$KPID_WORK/t.ndjson.1"
truncate -s 0 "$inbox/t.ndjson"
gen u 1 12 >>"$inbox/t.ndjson"
[ "$(stat -c %i "$inbox/t.ndjson")" = "$ino" ] || fail "copytruncate changed the inode"
[ "$(stat -c %s "$inbox/t.ndjson")" -gt "$(stat -c %s "$KPID_WORK/t.ndjson.1")" ] ||
    fail "the new data does not pass the old position"
expect u 1 12
assert_keys "copytruncate"
assert_sql "SELECT count(*) FROM kpid.rejected" 0 "no half line rejected"

# ---- rename out of the pattern with an unread tail, live ----
gen r 1 5 >"$inbox/r.ndjson"
expect r 1 5
assert_keys "before the rename"
# logrotate's create: the tail is written, the file renamed, a new one created; the
# writer appends to the renamed file a moment longer.
gen r 6 10 >>"$inbox/r.ndjson"
mv "$inbox/r.ndjson" "$inbox/r.ndjson.1"
gen s 1 3 >"$inbox/r.ndjson"
gen r 11 12 >>"$inbox/r.ndjson.1"
expect r 6 12
expect s 1 3
assert_keys "rename out of the pattern, live"
sleep 2.5 # rotate_wait: the renamed file is released
gen s 4 4 >>"$inbox/r.ndjson"
expect s 4 4
assert_keys "after the release"

# ---- rename out of the pattern while kpid is stopped ----
kpid_stop 0
gen s 5 8 >>"$inbox/r.ndjson"
unread=$(gen s 5 8 | wc -c)
mv "$inbox/r.ndjson" "$inbox/r.ndjson.2"
kpid_start "$KPID_WORK/kpid.conf"
sleep 1.5
assert_keys "rename out of the pattern, stopped: the tail is not read"
kpid_stop 0
n=$(grep -c 'file left the pattern with bytes not yet read' "$KPID_LOG" || true)
assert_eq "$n" 1 "warnings about the renamed file"
grep -q "source=events file left the pattern with bytes not yet read, which will not be read: path=\"$inbox/r.ndjson\" renamed_to=\"r.ndjson.2\" unread_bytes=$unread hint=\"widen the pattern" \
    "$KPID_LOG" || fail "the warning does not name the old path, the new name and the unread bytes"
# The cursor stayed small: positions are state, one row per file followed.
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'events'" '{"v":2}' "the cursor"
assert_sql "SELECT count(*) FROM kpid.source_state WHERE source = 'events'" 3 \
    "state rows: z, c and t; the renamed files were forgotten"
