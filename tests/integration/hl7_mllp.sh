# The hl7 source end to end, on loopback: messages sent over MLLP by this project's test
# sender and by an independent client (mllp_send of python3-hl7) are acknowledged and
# land as events; a resend of a committed control id is acknowledged AA again and changes
# nothing; a message that cannot be mapped is answered AE and one that cannot be parsed
# AR, both kept in kpid.rejected with their reasons; no patient name, address or birth
# date reaches kpid.event or the log; ACKs come only after the commit (the warehouse is
# held by a lock: no ACK until it goes).
source "$(dirname "$0")/lib.sh"
kpid_test_init hl7_mllp

client=$KPID_SOURCE_DIR/tests/integration/mllp_client.py
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
msgs=$KPID_WORK/msgs
mkdir "$msgs"

cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
log_level = "debug";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
sources = ( {
    name = "adt"; plugin = "hl7"; listen = "127.0.0.1:$port, [::1]:$port";
    timezone = "Asia/Dhaka"; subject_authority = "HOSP";
    mapping = (
        { message = [ "ADT^A01", "ADT^A08" ]; activity = "ADMISSION";
          time = [ "PV1-44", "EVN-6", "EVN-2" ];
          attrs = { ward = "PV1-3.1"; patient_class = "PV1-2"; }; },
        { message = "ADT^A11"; retract = "ADMISSION"; },
        { message = "ORU^R01"; activity = "LAB_RESULT"; foreach = "OBX"; time = "OBX-14";
          value = "OBX-5"; attrs = { test = "OBX-3.1"; unit = "OBX-6"; };
          key = [ "case_id", "activity", "OBX-3.1", "time" ]; }
    );
} );
CONF

# msg FILE SEGMENT...: one message, segments ended by CR, MLLP-framed.
msg() {
    local f=$1
    shift
    { printf '\013'; printf '%s\r' "$@"; printf '\034\r'; } >"$f"
}
pid_secret='PID|1||9988776^^^NATION^NI~P0001234^^^HOSP^MR||Secretname^Aigul||19800229|F|||Hiddenstreet 7^^Almaty'
msg "$msgs/a01" 'MSH|^~\&|ADT|HOSP|KPID|HOSP|20250301081500||ADT^A01^ADT_A01|M0001|P|2.5.1' \
    'EVN|A01|20250301081500' "$pid_secret" \
    'PV1|1|I|W3^12^1||||||||||||||||C0001|||||||||||||||||||||||||20250301080000'
msg "$msgs/oru" 'MSH|^~\&|LAB|HOSP|KPID|HOSP|20250301090000||ORU^R01|M0002|P|2.4' \
    "$pid_secret" 'PV1|1|I|W3||||||||||||||||C0001' \
    'OBX|1|NM|K^Potassium||4.1|mmol/L|||||F|||20250301084012' \
    'OBX|2|NM|NA^Sodium||140|mmol/L|||||F|||20250301084012+0500'
msg "$msgs/bad_value" 'MSH|^~\&|LAB|HOSP|KPID|HOSP|20250301090000||ORU^R01|M0003|P|2.5' \
    "$pid_secret" 'PV1|1|I|W3||||||||||||||||C0001' \
    'OBX|1|NM|K^Potassium||high|mmol/L|||||F|||20250301084012'
printf '\013this is not HL7\034\r' >"$msgs/garbage"
msg "$msgs/unmapped" 'MSH|^~\&|ADT|HOSP|KPID|HOSP|20250301090000||ADT^A31|M0004|P|2.5' "$pid_secret"

kpid_start "$KPID_WORK/kpid.conf"
for i in $(seq 1 100); do
    grep -q 'listening address=\[::1\]' "$KPID_LOG" && break
    sleep 0.1
done
grep -q 'listening address=\[::1\]' "$KPID_LOG" || fail "the hl7 source does not listen"

send() { python3 "$client" --port "$port" --deadline 30 "$@"; }

# 1. Mapped messages: AA, events with the mapped fields only.
out=$(send "$msgs/a01" "$msgs/oru") || fail "messages not acknowledged: $out"
assert_eq "$(printf '%s\n' "$out" | sort | tr '\n' ' ')" "M0001	AA M0002	AA " "ACKs"
assert_sql "SELECT string_agg(format('%s|%s|%s|%s|%s|%s', case_id, subject_id, activity,
                   to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), value, attrs),
                   ' ; ' ORDER BY activity, time, value)
            FROM kpid.event WHERE source = 'adt'" \
    "C0001|P0001234|ADMISSION|2025-03-01 02:00:00||{\"ward\": \"W3\", \"patient_class\": \"I\"} ; C0001|P0001234|LAB_RESULT|2025-03-01 02:40:12|4.1|{\"test\": \"K\", \"unit\": \"mmol/L\"} ; C0001|P0001234|LAB_RESULT|2025-03-01 03:40:12|140|{\"test\": \"NA\", \"unit\": \"mmol/L\"}" \
    "events of the A01 and the ORU (Dhaka is UTC+6 without an offset; +05:00 where written)"

# 2. A resend of a committed control id: AA, nothing changes.
before=$(sql "SELECT count(*), max(ingest_xid::text) FROM kpid.event WHERE source = 'adt'")
out=$(send "$msgs/a01") || fail "resend not acknowledged"
assert_eq "$out" "M0001	AA" "the resend's ACK"
assert_eq "$(sql "SELECT count(*), max(ingest_xid::text) FROM kpid.event WHERE source = 'adt'")" \
    "$before" "events after the resend"

# 3. Not mappable: AE, rejected with the reason; not parsable: AR; unmapped type: AA.
out=$(send "$msgs/bad_value" "$msgs/garbage" "$msgs/unmapped") || fail "no ACKs: $out"
assert_eq "$(printf '%s\n' "$out" | sort | tr '\n' ' ')" "	AR M0003	AE M0004	AA " \
    "ACKs of the bad messages"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'adt' AND locator LIKE
            'peer=127.0.0.1:%' AND reason LIKE 'not an HL7 v2 message: %'" 1 "the AR's rejection"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'adt'" 2 "rejected rows"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'adt' AND locator =
            'sender=LAB/HOSP control_id=M0003' AND reason LIKE '%OBX-5 is not a number'" 1 \
    "the AE's rejection"

# 4. An independent client: mllp_send of python3-hl7.
printf 'MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250302101500||ADT^A01|M0100|P|2.3\rEVN|A01|20250302101500\rPID|1||P0009999^^^HOSP^MR||Othername^X\rPV1|1|E|ED||||||||||||||||C0100\r' \
    >"$msgs/mllp_send.hl7"
ack=$(timeout 30 mllp_send --loose -p "$port" -f "$msgs/mllp_send.hl7" 127.0.0.1) ||
    fail "mllp_send failed: $ack"
case "$ack" in *MSA\|AA\|M0100*) ;; *) fail "mllp_send got no AA for M0100: $ack" ;; esac
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'adt' AND case_id = 'C0100'
            AND activity = 'ADMISSION' AND subject_id = 'P0009999'" 1 "mllp_send's event"

# 5. ACK after commit: while another session locks kpid.event, a message gets no ACK;
#    it comes once the lock goes.
msg "$msgs/a01b" 'MSH|^~\&|ADT|HOSP|KPID|HOSP|20250303081500||ADT^A01|M0200|P|2.5' \
    'EVN|A01|20250303081500' "$pid_secret" 'PV1|1|I|W4||||||||||||||||C0200'
lock_table kpid.event 'ACCESS EXCLUSIVE'
send --ack-timeout 3 --deadline 3 "$msgs/a01b" >"$KPID_WORK/early.txt" 2>&1 &&
    fail "an ACK came while the warehouse could not commit: $(cat "$KPID_WORK/early.txt")"
unlock_table
out=$(send "$msgs/a01b") || fail "no ACK after the lock went"
assert_eq "$out" "M0200	AA" "the ACK after the commit"
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'adt' AND case_id = 'C0200'" 1 \
    "the held message, once"

# 6. Retraction: A11 cancels C0001's admission.
msg "$msgs/a11" 'MSH|^~\&|ADT|HOSP|KPID|HOSP|20250301100000||ADT^A11|M0005|P|2.5' \
    'EVN|A11|20250301100000' "$pid_secret" 'PV1|1|I|W3||||||||||||||||C0001'
out=$(send "$msgs/a11") || fail "A11 not acknowledged"
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'adt' AND case_id = 'C0001'
            AND activity = 'ADMISSION'" 0 "the admission retracted by A11"

# 7. No name, address or birth date anywhere but kpid.rejected.raw.
for secret in Secretname Hiddenstreet 19800229 Othername; do
    grep -q "$secret" "$KPID_LOG" && fail "the log holds patient data ($secret)"
    assert_sql "SELECT count(*) FROM kpid.event WHERE event_key || case_id || coalesce(subject_id, '')
                || activity || attrs::text LIKE '%$secret%'" 0 "kpid.event holds $secret"
    assert_sql "SELECT count(*) FROM kpid.rejected WHERE locator || reason LIKE '%$secret%'" 0 \
        "kpid.rejected's locator or reason holds $secret"
done

# 8. The control ids kept are bounded: with dedup_max_ids = 1000, after 1,200 more
#    messages and a restart the oldest ids are gone from kpid.source_state, oldest first.
kpid_stop
python3 - "$msgs/many" <<'PY'
import sys
with open(sys.argv[1], 'wb') as f:
    for i in range(1200):
        f.write(b'\x0b' + ('MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250305081500||ADT^A01|N%05d|P|2.5\r'
                           'EVN|A01|20250305081500\rPID|1||P%05d^^^HOSP^MR\r'
                           'PV1|1|I|W9||||||||||||||||N%05d\r' % (i, i, i)).encode() + b'\x1c\r')
PY
sed -i 's/^    timezone = "Asia\/Dhaka";/    timezone = "Asia\/Dhaka"; dedup_max_ids = 1000;/' "$KPID_WORK/kpid.conf"
grep -q 'dedup_max_ids = 1000' "$KPID_WORK/kpid.conf" || fail "the test could not set dedup_max_ids"
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT true" 5
for i in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" 2>/dev/null && break
    sleep 0.1
done
out=$(send --deadline 60 "$msgs/many") || fail "the 1,200 messages were not acknowledged"
assert_eq "$(printf '%s\n' "$out" | grep -c $'\tAA$')" 1200 "ACKs of the 1,200 messages"
kpid_stop
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = 1000 FROM kpid.source_state WHERE source = 'adt' AND key LIKE 'ctl/%'" 30
assert_sql "SELECT min(key) FROM kpid.source_state WHERE source = 'adt' AND key LIKE 'ctl/%'" \
    "ctl/ADT|HOSP|N00200" "the oldest ids went first"
kpid_stop
