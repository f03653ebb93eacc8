# The hl7 source while the warehouse is down for 30 s: senders keep sending (and, as
# interface engines do, resend on new connections when an ACK is late; one pipelines its
# messages without waiting), the queue fills and the source stops reading; no ACK comes
# before the warehouse is back, then every message is acknowledged AA with its own
# control id, every one is stored once, and no resend is stored again.
# This test needs a server of its own to stop.
unset PGHOST PGPORT
source "$(dirname "$0")/lib.sh"
kpid_test_init hl7_outage

client=$KPID_SOURCE_DIR/tests/integration/mllp_client.py
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
msgs=$KPID_WORK/msgs
mkdir "$msgs"
down_s=$(kpid_scale 30 20)
per=$(kpid_scale 10 5) # messages per sender during the outage

cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
log_level = "debug";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
queue = { max_events = 8; }; # full during the outage: the source stops reading
sources = ( {
    name = "adt"; plugin = "hl7"; listen = "127.0.0.1:$port, [::1]:$port";
    idle_timeout = "5s"; # shorter than the outage: a sender not read is not idle
    mapping = ( { message = "ADT^A01"; activity = "ADMISSION"; time = "EVN-2"; } );
} );
CONF

# adts FILE PREFIX N: N framed A01s, control ids PREFIX001..., case C_<control id>.
adts() {
    local i
    for i in $(seq -f '%03g' 1 "$3"); do
        printf '\013MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301081500||ADT^A01|%s|P|2.5\r' "$2$i"
        printf 'EVN|A01|20250301081500\rPID|1||P%s^^^HOSP^MR\rPV1|1|I|W3||||||||||||||||C_%s\r\034\r' \
            "$2$i" "$2$i"
    done >"$1"
}

kpid_start "$KPID_WORK/kpid.conf"
for i in $(seq 1 100); do
    grep -q 'listening address=\[::1\]' "$KPID_LOG" && break
    sleep 0.1
done
grep -q 'listening address=\[::1\]' "$KPID_LOG" || fail "the hl7 source does not listen"

adts "$msgs/before" B 5
out=$(python3 "$client" --port "$port" --deadline 20 "$msgs/before") || fail "before the outage: $out"
assert_eq "$(printf '%s\n' "$out" | grep -c '	AA$')" 5 "ACKs before the outage"

kpid_pg_down
t_down=$(date +%s.%N)
_kpid_say "PostgreSQL stopped"
# Three impatient senders (ACK timeout 5 s: they reconnect and resend, again and again),
# one patient sender (waits on its connection), one over IPv6.
pids=()
start_sender() { # NAME ARGS...
    local name=$1
    shift
    adts "$msgs/$name" "$name" "$per"
    python3 "$client" --port "$port" --deadline 80 --times "$@" "$msgs/$name" \
        >"$KPID_WORK/$name.out" 2>"$KPID_WORK/$name.err" &
    pids+=($!)
    kpid_track_pid $!
}
start_sender I --ack-timeout 5
start_sender J --ack-timeout 5
start_sender K --ack-timeout 5
start_sender P --ack-timeout 70
start_sender V --ack-timeout 5 --host ::1
# Two senders that pipeline their messages: the first fills the queue; the second comes
# once the source has stopped reading, and its messages wait unread in the socket for
# longer than idle_timeout.
stream_sender() { # NAME
    adts "$msgs/$1" "$1" "$per"
    python3 "$client" --port "$port" --deadline 80 --ack-timeout 70 --stream --expect "$per" \
        "$msgs/$1" >"$KPID_WORK/$1.stream" 2>&1 &
    pids+=($!)
    kpid_track_pid $!
}
stream_sender Q
for i in $(seq 1 150); do
    grep -q 'source=adt queue full: not reading' "$KPID_LOG" && break
    sleep 0.1
done
grep -q 'source=adt queue full: not reading' "$KPID_LOG" || fail "the queue did not fill"
stream_sender S
for i in $(seq 1 "$down_s"); do
    sleep 1
    _kpid_alive "$KPID_PID" || fail "kpid died while PostgreSQL was down"
    # A sender arriving in the middle of the outage.
    [ "$i" -eq $((down_s / 2)) ] && start_sender M --ack-timeout 5
done
for f in "$KPID_WORK"/?.out; do
    [ -s "$f" ] && fail "an ACK came while PostgreSQL was down: $(cat "$f")"
done
kpid_pg_up
t_up=$(date +%s.%N)
_kpid_say "PostgreSQL started again"

for pid in "${pids[@]}"; do
    wait "$pid" || fail "a sender did not get every ACK (pid $pid)"
done
senders=$(printf '%s\n' I J K P V M)
for name in $senders; do
    want=$(for i in $(seq -f '%03g' 1 "$per"); do printf '%s AA;' "$name$i"; done)
    assert_eq "$(cut -f 1,2 "$KPID_WORK/$name.out" | tr '\t\n' ' ;')" "$want" "ACKs of sender $name"
    # No ACK before the warehouse was back (the sender's clock, not ours: allow 1 s).
    awk -F '\t' -v up="$t_up" '$3 < up - 1 { bad = 1 } END { exit bad }' "$KPID_WORK/$name.out" ||
        fail "sender $name got an ACK before PostgreSQL was back: $(cat "$KPID_WORK/$name.out")"
done
for name in Q S; do
    want=$(for i in $(seq -f '%03g' 1 "$per"); do printf '%s AA;' "$name$i"; done)
    assert_eq "$(tr '\t\n' ' ;' <"$KPID_WORK/$name.stream")" "$want" "ACKs of pipelining sender $name"
done
_kpid_say "outage from $t_down to $t_up; last ACK at $(cut -f 3 "$KPID_WORK"/?.out | sort -n | tail -n 1)"

total=$((5 + 8 * per))
assert_sql "SELECT count(*), count(DISTINCT case_id) FROM kpid.event WHERE source = 'adt'" \
    "$total|$total" "events: each message once"
assert_sql "SELECT count(*) FROM kpid.event_change" 0 "events written twice (changes)"
assert_sql "SELECT count(*) FROM kpid.source_state WHERE source = 'adt' AND key LIKE 'ctl/%'" \
    "$total" "control ids kept"
assert_sql "SELECT count(*) FROM kpid.rejected" 0 "rejected"

kpid_stop
metric() { grep "source=adt metric=$1 " "$KPID_LOG" | tail -n 1 | sed 's/.* value=//'; }
assert_eq "$(metric hl7_messages_total)" "$total" "messages handled (resends not counted)"
dups=$(metric hl7_duplicates_total)
[ "$dups" -ge 1 ] || fail "no resend reached kpid: the outage tested nothing"
_kpid_say "$dups resends answered from the control ids"
