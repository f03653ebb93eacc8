# The HL7 form of a generated hospital (hospgen --hl7: 8 streams, a case in one stream)
# sent over 8 concurrent MLLP connections through etc/hl7-mapping.conf yields exactly the
# final events of its NDJSON form (expected.tsv: case, subject, activity, time, value,
# attributes; the event keys differ by design: HL7's come from content). kpid is killed
# with SIGKILL three times in the middle of the stream; the senders reconnect and resend
# what was not acknowledged. In the end every message is acknowledged AA, nothing is
# lost and nothing counted twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init hl7_hospital

events=$(kpid_scale 20000 4000)
gen=$KPID_WORK/gen
"$HOSPGEN" --seed 11 --events "$events" --out "$gen" --hl7 8 --start 2025-03-01 --days 20 \
    2>"$KPID_WORK/hospgen.log" || fail "hospgen failed: $(cat "$KPID_WORK/hospgen.log")"
messages=0
for f in "$gen"/hl7-*.hl7; do
    messages=$((messages + $(tr -cd '\013' <"$f" | wc -c)))
done
[ "$messages" -ge "$events" ] || fail "hospgen wrote $messages messages for $events events"
rows=$(wc -l <"$gen/expected.tsv")

# @include paths are relative to the configuration file's directory.
cp "$KPID_SOURCE_DIR/etc/hl7-mapping.conf" "$KPID_WORK/"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
sources = ( {
    name = "hl7"; plugin = "hl7"; listen = "127.0.0.1:$port";
    timezone = "Etc/GMT-5"; subject_authority = "HOSP"; strict = true;
    @include "hl7-mapping.conf"
} );
CONF

wait_listening() {
    local i
    for ((i = 0; i < 150; i++)); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" \
            2>/dev/null && return 0
        _kpid_alive "$KPID_PID" || fail "kpid exited before it listened"
        sleep 0.1
    done
    fail "kpid does not listen on $port"
}

kpid_start "$KPID_WORK/kpid.conf"
wait_listening
python3 "$KPID_SOURCE_DIR/tests/integration/mllp_client.py" --port "$port" --conns 8 \
    --deadline 240 --ack-timeout 5 "$gen"/hl7-*.hl7 >"$KPID_WORK/acks.txt" \
    2>"$KPID_WORK/sender.log" &
sender=$!
kpid_track_pid "$sender"

# Three crashes, each once a further quarter of the events is in.
for k in 1 2 3; do
    wait_for "SELECT count(*) >= $((rows * k / 4)) FROM kpid.event WHERE source = 'hl7'" 120
    kpid_kill KILL
    kpid_start "$KPID_WORK/kpid.conf"
    wait_listening
done

sender_rc=0
wait "$sender" || sender_rc=$?
[ "$sender_rc" -eq 0 ] || fail "the senders did not get every ACK: $(tail -5 "$KPID_WORK/sender.log")"
assert_eq "$(wc -l <"$KPID_WORK/acks.txt")" "$messages" "messages acknowledged"
# AA, or CA for the messages that ask for enhanced mode (MSH-15 AL).
assert_eq "$(grep -cvE $'\t(AA|CA)$' "$KPID_WORK/acks.txt")" 0 "messages acknowledged other than AA/CA"

# Let the last commits land, then compare with the NDJSON form's final state.
kpid_stop
load_expected "$gen"
# Attributes compared as text: the NDJSON form writes some digit values as JSON numbers.
norm="(SELECT coalesce(jsonb_object_agg(k, v #>> '{}'), '{}') FROM jsonb_each(attrs) AS e(k, v))"
compare="SELECT case_id, subject_id, activity, time, value, $norm"
missing=$(sql "SELECT count(*) FROM ($compare FROM expected EXCEPT ALL
                                     $compare FROM kpid.event WHERE source = 'hl7') d" )
extra=$(sql "SELECT count(*) FROM ($compare FROM kpid.event WHERE source = 'hl7' EXCEPT ALL
                                   $compare FROM expected) d" )
if [ "$missing" != 0 ] || [ "$extra" != 0 ]; then
    sql "(SELECT 'missing', * FROM ($compare FROM expected EXCEPT ALL
                                    $compare FROM kpid.event WHERE source = 'hl7') d LIMIT 5)
         UNION ALL
         (SELECT 'extra', * FROM ($compare FROM kpid.event WHERE source = 'hl7' EXCEPT ALL
                                  $compare FROM expected) d LIMIT 5)" >&2 || true
    fail "kpid.event from HL7 differs from the NDJSON form: $missing missing, $extra unexpected"
fi
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'hl7'" "$rows" "event count"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'hl7'" 0 "rejected messages"

# The messages' demographics (hospgen's fixed lists: names, streets, phones, national
# ids, doctors) reach neither the warehouse nor the log.
for secret in Sørensen Әбдіқадыров Þórsdóttir Dubois-Nœl Françoise Ғалым Hauptstraße \
    'Abay Ave' 'Baker St' 'Сейфуллин' '+7 701 555' KZMOH Bekova Okafor; do
    grep -qF -- "$secret" "$KPID_LOG" && fail "the log holds patient data ($secret)"
    assert_sql "SELECT count(*) FROM kpid.event WHERE strpos(event_key || coalesce(case_id, '')
                || coalesce(subject_id, '') || attrs::text, \$s\$$secret\$s\$) > 0" 0 \
        "kpid.event holds $secret"
done
