# The hl7 source against bad input and hostile senders, on loopback, each answered as
# documented while the other connections go on being served:
#
#  A. on one connection, in order: a malformed segment, no MSH, wrong separators, frames
#     cut short (by a new 0x0B, by 0x1C without 0x0D, inside MSH), a frame over
#     max_message_bytes (AR, and the next frame on the connection AA), bytes outside
#     frames (skipped and counted exactly), two messages without MSH-10 and one with a
#     300-byte MSH-10 (AR each, none taken for a resend), a long non-ASCII MSH-4 (AA);
#     random binary garbage on another source (no crash, a row per accidental frame,
#     the frame after it AA);
#  B. at once: 1,000 idle connections (all accepted, closed at idle_timeout), a sender
#     trickling one byte a second (closed at read_timeout from its frame's start), a
#     sender whose every read ends inside a frame (never timed out), one trickling bytes
#     between frames (closed at idle_timeout: garbage is no activity), and a normal sender
#     that gets its ACKs fast meanwhile; then connections beyond the daemon's descriptor
#     limit (no spinning, logged once, served once descriptors are free);
#  C. enhanced mode: MSH-15 AL, NE, ER, SU;
#  D. a sender that disconnects before its ACK (while the warehouse is locked; its
#     message is committed once, the daemon does not spin meanwhile), one that half-closes
#     in the middle of a frame (still gets the ACK it is owed), a resend on a new
#     connection (AA, nothing changes), the resend of a committed AE (AE, no second
#     rejection);
#  E. IPv6 ::1;  F. allow-list refusal;  G. max_connections exceeded; neither floods the
#     log;
#  H. meanwhile, a sender that never reads its ACKs: no longer read once it owes too many
#     (memory stays bounded), closed when it has taken none for idle_timeout.
source "$(dirname "$0")/lib.sh"
kpid_test_init hl7_hostile

client=$KPID_SOURCE_DIR/tests/integration/mllp_client.py
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
read -r port small_port fenced_port <<<"$ports"
msgs=$KPID_WORK/msgs
mkdir "$msgs"
slack=$(kpid_scale 1 3) # seconds of extra tolerance under the sanitizers
n_idle=1000

cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
log_level = "debug";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
sources = ( {
    name = "main"; plugin = "hl7"; listen = "127.0.0.1:$port, [::1]:$port";
    max_message_bytes = 4096; max_connections = 1100;
    idle_timeout = "5s"; read_timeout = "3s";
    mapping = (
        { message = "ADT^A01"; activity = "ADMISSION"; time = "EVN-2"; },
        { message = "ORU^R01"; activity = "LAB_RESULT"; time = "OBX-14"; value = "OBX-5"; }
    );
}, {
    name = "small"; plugin = "hl7"; listen = "127.0.0.1:$small_port"; max_connections = 2;
    idle_timeout = "5s"; read_timeout = "3s";
    mapping = ( { message = "ADT^A01"; activity = "ADMISSION"; time = "EVN-2"; } );
}, {
    name = "fenced"; plugin = "hl7"; listen = "127.0.0.1:$fenced_port"; allow = "10.0.0.0/8";
    mapping = ( { message = "ADT^A01"; activity = "ADMISSION"; time = "EVN-2"; } );
} );
CONF

# adt_text ID [MSH-15 [VERSION]]: an A01 with control id ID for case C_ID, unframed.
adt_text() {
    printf 'MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301081500||ADT^A01|%s|P|%s|||%s\r' \
        "$1" "${3:-2.5}" "${2:-}"
    printf 'EVN|A01|20250301081500\rPID|1||P%s^^^HOSP^MR||Secretname^Aigul\r' "$1"
    printf 'PV1|1|I|W3||||||||||||||||C_%s\r' "$1"
}
# frame TEXT...: MLLP frames of the texts.
frame() {
    local t
    for t in "$@"; do printf '\013%s\034\r' "$t"; done
}
adt() { frame "$(adt_text "$@")"; }
# oru_bad ID [MSH-15]: an ORU whose OBX-5 is not a number (AE).
oru_bad() {
    frame "$(printf 'MSH|^~\\&|LAB|HOSP|KPID|HOSP|20250301090000||ORU^R01|%s|P|2.5|||%s\rPID|1||P1^^^HOSP^MR\rPV1|1|I|W3||||||||||||||||C_%s\rOBX|1|NM|K^Potassium||high|mmol/L|||||F|||20250301084012\r' "$1" "${2:-}" "$1")"
}

send() { python3 "$client" --port "$port" --deadline 30 "$@"; }
stream() { python3 "$client" --port "$port" --deadline 30 --ack-timeout 3 --stream "$@"; }
events_of() { sql "SELECT count(*) FROM kpid.event WHERE source = '${2:-main}' AND case_id = 'C_$1'"; }
log_count() { grep -c -- "$1" "$KPID_LOG" || true; }

kpid_start "$KPID_WORK/kpid.conf"
for i in $(seq 1 100); do
    grep -q "listening address=127.0.0.1:$fenced_port" "$KPID_LOG" &&
        grep -q 'listening address=\[::1\]' "$KPID_LOG" && break
    sleep 0.1
done
grep -q "listening address=127.0.0.1:$fenced_port" "$KPID_LOG" || fail "the hl7 sources do not listen"

# ---- A. Malformed input on one connection, each frame answered in order ------------------
long_id=$(printf 'L%0299d' 0)
long_facility=$(printf 'é%.0s' $(seq 1 200)) # cut inside a character in the state key
{
    frame "$(printf 'MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301081500||ADT^A01|B001|P|2.5\rP!D|1\r')"
    frame "$(printf 'PID|1||P1^^^HOSP^MR\rPV1|1|I|W3\r')"
    frame "$(printf 'MSH|^^\\&|ADT|HOSP|KPID|HOSP|20250301081500||ADT^A01|B003|P|2.5\r')"
    frame "$(printf 'MSHa^~\\&aADTaHOSPaKPIDaHOSPa20250301081500aaADT^A01aB004aPa2.5\r')"
    printf '\013%s' "$(adt_text B005)" # cut short by the next frame's 0x0B: no answer
    adt B006
    printf '\013%s\034x' "$(adt_text B007)" # 0x1C without 0x0D: broken (AR); x is skipped
    frame 'MSH|^~\&|ADT|HO'
    printf '\013%s' "$(adt_text B008)" # over max_message_bytes (4096)
    for i in $(seq 1 80); do printf 'NTE|%d|L|%s\r' "$i" "$(printf '%060d' 0)"; done
    printf '\034\r'
    adt B009
    head -c 3000 /dev/zero | tr '\0' 'z' # between frames: skipped
    python3 -c 'import sys; sys.stdout.buffer.write(bytes(b for b in range(256) if b != 11) * 8)'
    adt B010
    adt '' && adt '' # no MSH-10: refused, neither taken for a resend of the other
    adt "$long_id"   # MSH-10 longer than a state key
    frame "$(adt_text B012 | sed "s/|HOSP|KPID|/|$long_facility|KPID|/")"
} >"$msgs/bad.bin"
skipped_expected=$((1 + 3000 + 255 * 8))
out=$(stream --raw --expect 14 "$msgs/bad.bin")
assert_eq "$(printf '%s\n' "$out" | tr '\t\n' ' ;')" \
    "B001 AR; AR;B003 AR;B004 AR;B006 AA;B007 AR; AR;B008 AR;B009 AA;B010 AA; AR; AR;$long_id AR;B012 AA;" \
    "ACKs of the malformed frames (MSA-2 the control id where one can be read)"
assert_sql "SELECT string_agg(case_id, ' ' ORDER BY case_id) FROM kpid.event WHERE source = 'main'" \
    "C_B006 C_B009 C_B010 C_B012" "events of the well-formed frames, none of the cut one"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'main'" 10 "rejected frames"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'main'
            AND reason = 'MSH-10 (message control id) is missing'" 3 "frames without MSH-10"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'main'
            AND reason = 'MSH-10 (message control id) is longer than kpid keeps'" 1 \
    "the frame with a long MSH-10"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'main'
            AND reason = 'message larger than max_message_bytes (4096)'" 1 "the oversized frame"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'main'
            AND reason = 'MLLP frame ended by 0x1C without 0x0D'" 1 "the broken frame"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'main'
            AND reason LIKE 'not an HL7 v2 message: %'" 4 "the unparsable frames"

# Random binary garbage (every byte value, 0x0B and 0x1C included) then a message: the
# garbage's accidental frames are refused (AR), the message after it is accepted.
python3 -c 'import random, sys; r = random.Random(7); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(65536)))' \
    >"$msgs/random.bin"
adt S001 >>"$msgs/random.bin"
out=$(python3 "$client" --port "$small_port" --deadline 30 --ack-timeout 2 --stream --raw "$msgs/random.bin")
assert_eq "$(printf '%s\n' "$out" | tail -n 1)" "S001	AA" "the message after the garbage"
n_ar=$(printf '%s\n' "$out" | grep -c '	AR$' || true)
assert_eq "$(printf '%s\n' "$out" | wc -l)" "$((n_ar + 1))" "every other answer an AR"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'small'" "$n_ar" "rejected garbage frames"
assert_eq "$(events_of S001 small)" 1 "the event after the garbage"

# ---- B. 1,000 idle connections, a trickler and a straddler, and a normal sender ----------
python3 "$client" --port "$port" --idle "$n_idle" --deadline 40 >"$KPID_WORK/idle.out" 2>&1 &
idle_pid=$!
kpid_track_pid "$idle_pid"
for i in $(seq 1 300); do
    grep -q '^connected=' "$KPID_WORK/idle.out" && break
    sleep 0.1
done
grep -q "^connected=$n_idle " "$KPID_WORK/idle.out" || fail "idle connections: $(cat "$KPID_WORK/idle.out")"
# Trickle: one byte a second, never a whole frame; read_timeout is 3 s.
adt T001 >"$msgs/trickle"
stream --trickle "$msgs/trickle" >"$KPID_WORK/trickle.out" 2>&1 &
trickle_pid=$!
kpid_track_pid "$trickle_pid"
# Straddle: 12 frames, one piece every 0.5 s, every piece ending inside a frame: each
# frame arrives within read_timeout, though the connection is never between frames at
# the end of a read for longer than it.
for i in $(seq -w 1 12); do adt "P0$i"; done >"$msgs/straddle"
stream --straddle --interval 0.5 --expect 12 "$msgs/straddle" >"$KPID_WORK/straddle.out" 2>&1 &
straddle_pid=$!
kpid_track_pid "$straddle_pid"
# Garbage trickled between frames, a byte every 0.5 s, is no activity: closed as idle.
head -c 40 /dev/zero | tr '\0' 'z' >"$msgs/ztrickle"
python3 "$client" --port "$small_port" --deadline 30 --ack-timeout 3 --stream --raw --chunk 1 \
    --interval 0.5 "$msgs/ztrickle" >"$KPID_WORK/ztrickle.out" 2>&1 &
ztrickle_pid=$!
kpid_track_pid "$ztrickle_pid"
# Meanwhile a normal sender: 20 messages, each waiting for its ACK.
for i in $(seq -w 1 20); do adt "N0$i"; done >"$msgs/normal"
t0=$(date +%s%N)
out=$(send --ack-timeout 5 "$msgs/normal") || fail "the normal sender failed: $out"
t_normal_ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "$(printf '%s\n' "$out" | grep -c '	AA$')" 20 "AAs of the normal sender"
[ "$t_normal_ms" -lt $((3000 * slack)) ] ||
    fail "20 ACKs took ${t_normal_ms} ms beside $n_idle idle connections"
_kpid_say "20 messages acknowledged in ${t_normal_ms} ms beside $n_idle idle connections"

wait "$trickle_pid" || fail "the trickling sender failed"
t_closed=$(sed -n 's/^CLOSED\t//p' "$KPID_WORK/trickle.out")
[ -n "$t_closed" ] || fail "the trickling sender was not closed: $(cat "$KPID_WORK/trickle.out")"
awk -v t="$t_closed" -v s="$slack" 'BEGIN { exit !(t >= 3.0 && t <= 5.5 + s) }' ||
    fail "the trickling sender was closed after ${t_closed} s, not at read_timeout (3 s)"
assert_eq "$(wc -l <"$KPID_WORK/trickle.out")" 1 "the trickler got no ACK"
assert_eq "$(events_of T001)" 0 "the trickled message"
wait "$ztrickle_pid" || fail "the garbage trickler failed"
t_closed=$(sed -n 's/^CLOSED\t//p' "$KPID_WORK/ztrickle.out")
[ -n "$t_closed" ] || fail "the garbage trickler was not closed: $(cat "$KPID_WORK/ztrickle.out")"
awk -v t="$t_closed" -v s="$slack" 'BEGIN { exit !(t >= 5.0 && t <= 8 + s) }' ||
    fail "the garbage trickler was closed after ${t_closed} s, not at idle_timeout (5 s)"
wait "$straddle_pid" || fail "the straddling sender failed"
assert_eq "$(tr '\t\n' ' ;' <"$KPID_WORK/straddle.out")" \
    "$(for i in $(seq -w 1 12); do printf 'P0%s AA;' "$i"; done)" "ACKs of the straddling sender"

wait "$idle_pid" || fail "the idle connections: $(cat "$KPID_WORK/idle.out")"
read -r closed min_s max_s < <(sed -n 's/^closed=\([0-9]*\) min_s=\(.*\) max_s=\(.*\)/\1 \2 \3/p' "$KPID_WORK/idle.out")
assert_eq "$closed" "$n_idle" "idle connections closed by the server"
awk -v a="$min_s" -v b="$max_s" -v s="$slack" 'BEGIN { exit !(a >= 4.9 && b <= 8 + s) }' ||
    fail "idle connections lived $min_s to $max_s s, not idle_timeout (5 s)"
assert_eq "$(grep -c 'source=main connection closed .*reason="idle timeout"' "$KPID_LOG")" \
    "$n_idle" "idle timeouts logged"
assert_eq "$(log_count 'source=main connection refused')" 0 "refusals on main"

# ---- B2. Out of file descriptors: connections beyond the daemon's descriptor limit wait
# in the backlog; the source does not spin on the listener meanwhile, says so once, and
# accepts again when descriptors are free.
nofile=$(prlimit --pid "$KPID_PID" --nofile --noheadings --output SOFT)
n_fd=$(find "/proc/$KPID_PID/fd" -mindepth 1 | wc -l)
prlimit --pid "$KPID_PID" --nofile=$((n_fd + 20)): || fail "cannot lower kpid's descriptor limit"
python3 "$client" --port "$port" --idle 60 --deadline 3 >"$KPID_WORK/fds.out" 2>&1 &
fds_pid=$!
kpid_track_pid "$fds_pid"
cpu() { awk '{ print $14 + $15 }' "/proc/$KPID_PID/stat"; }
sleep 1
c0=$(cpu)
sleep 1.5
c1=$(cpu)
wait "$fds_pid" || fail "the connections beyond the descriptor limit: $(cat "$KPID_WORK/fds.out")"
prlimit --pid "$KPID_PID" --nofile="$nofile": || fail "cannot restore kpid's descriptor limit"
[ $((c1 - c0)) -lt $((40 * slack)) ] ||
    fail "kpid used $((c1 - c0)) clock ticks in 1.5 s with connections it had no descriptors for"
adt N100 >"$msgs/n100"
assert_eq "$(send "$msgs/n100")" "N100	AA" "a sender once descriptors are free"
assert_eq "$(log_count 'source=main out of file descriptors')" 1 "descriptor shortage logged"
assert_eq "$(log_count 'source=main accepting connections again')" 1 "its end logged"

# ---- C. Enhanced mode: the commit ACK as MSH-15 asks -------------------------------------
{
    adt E001 AL                                            # CA
    adt E002 NE                                            # no ACK
    adt E003 ER                                            # success: no ACK
    oru_bad E004 ER                                        # CE
    adt E005 AL 2.1                                        # unsupported version: CR
    adt E006 SU                                            # CA
    oru_bad E007 SU                                        # an error: no ACK
    adt E008                                               # original mode: AA
} >"$msgs/enhanced"
out=$(stream --expect 5 "$msgs/enhanced")
assert_eq "$(printf '%s\n' "$out" | tr '\t\n' ' ;')" "E001 CA;E004 CE;E005 CR;E006 CA;E008 AA;" \
    "enhanced-mode ACKs"
assert_sql "SELECT string_agg(case_id, ' ' ORDER BY case_id) FROM kpid.event
            WHERE source = 'main' AND case_id LIKE 'C_E%'" "C_E001 C_E002 C_E003 C_E006 C_E008" \
    "events of the enhanced-mode messages, acknowledged or not"
assert_sql "SELECT string_agg(right(locator, 4), ' ' ORDER BY right(locator, 4))
            FROM kpid.rejected WHERE source = 'main' AND locator LIKE '%control_id=E%'" \
    "E004 E005 E007" "rejected enhanced-mode messages"

# ---- D. A sender gone before its ACK; resends of committed control ids -------------------
# The warehouse is held by a lock, so that the ACK is still owed when the sender is gone.
lock_table kpid.event 'ACCESS EXCLUSIVE'
adt D001 >"$msgs/d001"
stream --disconnect-before-ack "$msgs/d001"
# And one that sends a message and half of another, then ends its side and waits: the
# half is dropped, the ACK it owes is not cut by read_timeout (3 s) while the lock holds.
{
    adt D002
    printf '\013%s' "$(adt_text D003)"
} >"$msgs/d002"
stream --raw --half-close --expect 1 --ack-timeout 20 "$msgs/d002" >"$KPID_WORK/half.out" 2>&1 &
half_pid=$!
kpid_track_pid "$half_pid"
t_half=$(date +%s%N)
# While its ACK waits for the commit, the source sleeps in epoll: it does not spin on
# the half-closed connection.
sleep 0.5
c0=$(cpu)
sleep 2
c1=$(cpu)
[ $((c1 - c0)) -lt $((50 * slack)) ] ||
    fail "kpid used $((c1 - c0)) clock ticks in 2 s, waiting with a closed sender's ACK owed"
while [ $(($(date +%s%N) - t_half)) -lt 4500000000 ]; do sleep 0.2; done # past read_timeout
unlock_table
wait_for "SELECT count(*) = 1 FROM kpid.source_state WHERE source = 'main'
          AND key = 'ctl/ADT|HOSP|D001'" 20
wait "$half_pid" || fail "the half-closing sender: $(cat "$KPID_WORK/half.out")"
assert_eq "$(cat "$KPID_WORK/half.out")" "D002	AA" "the ACK owed to a half-closed connection"
assert_eq "$(events_of D002) $(events_of D003)" "1 0" "the half-closing sender's messages"
assert_eq "$(events_of D001)" 1 "the message of the sender gone before its ACK"
before=$(sql "SELECT count(*), max(ingest_xid::text) FROM kpid.event WHERE source = 'main'")
out=$(send "$msgs/d001") || fail "the resend was not acknowledged: $out"
assert_eq "$out" "D001	AA" "the resend's ACK"
assert_eq "$(sql "SELECT count(*), max(ingest_xid::text) FROM kpid.event WHERE source = 'main'")" \
    "$before" "events after the resend"
assert_sql "SELECT count(*) FROM kpid.event_change" 0 "events written twice (changes)"
# A committed AE, resent: AE again, the rejection not recorded again.
oru_bad R001 >"$msgs/r001"
assert_eq "$(send "$msgs/r001")" "R001	AE" "the AE"
rej=$(sql "SELECT count(*), max(rejected_at) FROM kpid.rejected WHERE locator LIKE '%control_id=R001'")
assert_eq "$(send "$msgs/r001")" "R001	AE" "the resent AE"
assert_eq "$(sql "SELECT count(*), max(rejected_at) FROM kpid.rejected WHERE locator LIKE '%control_id=R001'")" \
    "$rej" "the rejection after the resend"

# ---- H (in the background while E to G run). A sender that sends without reading its
# ACKs: resends of a committed message, answered at once, pile up on its connection, so
# the source stops reading it, and closes it when it has not taken an ACK for idle_timeout.
n_flood=100000 # 16 MB: more than the kernel's buffers hold
python3 -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1], "rb").read() * int(sys.argv[2]))' \
    <(adt B006) "$n_flood" >"$msgs/flood"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$KPID_PID/status"; }
rss0=$(rss)
stream --no-read --deadline $((20 + 4 * slack)) "$msgs/flood" >"$KPID_WORK/flood.out" 2>&1 &
flood_pid=$!
kpid_track_pid "$flood_pid"

# ---- E. IPv6 -----------------------------------------------------------------------------
adt V001 >"$msgs/v001"
assert_eq "$(send --host ::1 "$msgs/v001")" "V001	AA" "the ACK over ::1"
assert_eq "$(events_of V001)" 1 "the event sent over ::1"
grep -q 'source=main connection opened peer=\[::1\]:' "$KPID_LOG" || fail "no connection from ::1 logged"

# ---- F. allow = "10.0.0.0/8" refuses 127.0.0.1, and says so without flooding the log ------
adt F001 >"$msgs/f001"
for i in $(seq 1 10); do
    out=$(python3 "$client" --port "$fenced_port" --deadline 10 --ack-timeout 3 --stream "$msgs/f001")
    case "$out" in CLOSED*) ;; *) fail "a sender outside allow got: $out" ;; esac
done
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'fenced'" 0 "events from a refused sender"
assert_eq "$(log_count 'source=fenced connection refused peer=127.0.0.1:.*not in allow')" 1 \
    "refusals by allow logged (10 refused)"

# ---- G. max_connections = 2: the extra connections are closed at once --------------------
python3 "$client" --port "$small_port" --idle 2 --deadline 4 >"$KPID_WORK/hold.out" 2>&1 &
hold_pid=$!
kpid_track_pid "$hold_pid"
for i in $(seq 1 100); do
    grep -q '^connected=' "$KPID_WORK/hold.out" && break
    sleep 0.1
done
grep -q '^connected=2 ' "$KPID_WORK/hold.out" || fail "the 2 connections: $(cat "$KPID_WORK/hold.out")"
out=$(python3 "$client" --port "$small_port" --idle 30 --deadline 10 | tail -n 1)
case "$out" in "closed=30 min_s="*" max_s=0."*) ;; *) fail "connections over max_connections: $out" ;; esac
wait "$hold_pid" || fail "the 2 connections: $(cat "$KPID_WORK/hold.out")"
assert_eq "$(tail -n 1 "$KPID_WORK/hold.out")" "closed=0 min_s=0.0 max_s=0.0" \
    "the 2 connections within max_connections"
adt S002 >"$msgs/s002"
assert_eq "$(python3 "$client" --port "$small_port" --deadline 10 "$msgs/s002")" "S002	AA" \
    "a sender once there is room"
assert_eq "$(log_count 'source=small connection refused')" 1 "refusals logged (30 refused)"
assert_eq "$(log_count 'source=small accepting connections again refused=30')" 1 \
    "the end of the refusals logged"

# ---- H, continued -------------------------------------------------------------------------
wait "$flood_pid" || fail "the sender that does not read: $(cat "$KPID_WORK/flood.out")"
read -r _ sent total < <(grep '^SENT' "$KPID_WORK/flood.out")
[ "$sent" -lt "$total" ] ||
    fail "kpid read all $total bytes of a sender that does not read its ACKs"
t_closed=$(sed -n 's/^CLOSED\t//p' "$KPID_WORK/flood.out")
[ -n "$t_closed" ] || fail "the sender that does not read was not closed: $(cat "$KPID_WORK/flood.out")"
awk -v t="$t_closed" -v s="$slack" 'BEGIN { exit !(t <= 5 + 2 + s) }' ||
    fail "the sender that does not read was closed $t_closed s after it stalled"
assert_eq "$(log_count 'reason="ACKs not read for idle_timeout"')" 1 "closed for not reading ACKs"
_kpid_say "a sender not reading its ACKs: $sent of $total bytes sent before kpid stopped reading, closed ${t_closed} s after it stalled, kpid's RSS $rss0 -> $(rss) KiB"

# ---- The end: the counters, and no patient data in the log ------------------------------
kpid_stop
metric() { grep "source=$1 metric=$2 " "$KPID_LOG" | tail -n 1 | sed 's/.* value=//'; }
assert_eq "$(metric main hl7_skipped_bytes_total)" "$skipped_expected" "bytes skipped on main"
assert_eq "$(metric main hl7_connections)" 0 "connections left open"
grep -q Secretname "$KPID_LOG" && fail "the log holds patient data"
grep -qi 'sanitizer\|runtime error' "$KPID_LOG" && fail "the sanitizers reported"
true
