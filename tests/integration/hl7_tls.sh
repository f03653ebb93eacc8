# The hl7 source with TLS and client certificates, on loopback. A throwaway CA signs the
# server's certificate and one client's; another client's is self-signed. Python's ssl
# module (hl7_tls_client.py) and `openssl s_client` are the senders, never kpid's code.
#
#  1. init refuses a missing key file, a key of another certificate, an encrypted key
#     (without asking for a pass phrase), tls_* keys without tls_cert, a file without a CA
#     certificate, an unknown tls_min_version or cipher list, and tls_verify_client
#     without tls_ca, naming the key and the file; no key material reaches the log;
#  2. the good client (TLS 1.3 and 1.2, and s_client) gets AA ACKs whose MSA-2 is the
#     message's MSH-10, and the events land, exactly;
#  3. a self-signed client (TLS 1.3 and 1.2), a client without a certificate and a
#     plain-text MLLP sender are refused (no ACK, no rows, one notice line each), while a
#     good connection opened before them keeps working after them; with
#     tls_verify_client = false a client without a certificate is served, a self-signed
#     one still refused; tls_ciphers decides TLS 1.2's cipher;
#  4. a frame split across TLS records, and several frames in one record; a sender that
#     half-closes (FIN, no close_notify) after its message still gets its ACK;
#  5. a handshake that stalls is closed at read_timeout;
#  6. back-pressure and ACK after commit over TLS: while kpid.event is locked the queue
#     fills, the source stops reading, no ACK comes; after the lock every message is
#     acknowledged in order and stored once;
#  7. a stop with a TLS connection open ends it (close_notify) and exits 0; after a
#     reload to tls_min_version = "1.3" a TLS 1.2 client is refused.
source "$(dirname "$0")/lib.sh"
kpid_test_init hl7_tls

client=$KPID_SOURCE_DIR/tests/integration/hl7_tls_client.py
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pki=$KPID_WORK/pki
msgs=$KPID_WORK/msgs
mkdir "$pki" "$msgs"

# ---- A CA, the server's certificate (IP 127.0.0.1), a client signed by the CA, a
#      self-signed client. EC P-256: quick to make.
ossl() { openssl "$@" >>"$KPID_WORK/openssl.log" 2>&1 || fail "openssl $1 failed: $(tail -n 5 "$KPID_WORK/openssl.log")"; }
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ossl req -x509 "${newkey[@]}" -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
    -subj "/CN=kpid test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
# signed NAME SUBJECT EXTENSIONS: NAME.key and NAME.pem, signed by the CA.
signed() {
    ossl req "${newkey[@]}" -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "$2"
    printf '%s\n' "$3" >"$pki/$1.ext"
    ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
        -days 2 -out "$pki/$1.pem" -extfile "$pki/$1.ext"
}
signed server "/CN=kpid.test" "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
signed good "/CN=interface-engine" "extendedKeyUsage=clientAuth"
ossl req -x509 "${newkey[@]}" -keyout "$pki/self.key" -out "$pki/self.pem" -days 2 \
    -subj "/CN=interface-engine" -addext "extendedKeyUsage=clientAuth"
# The server's key under a pass phrase: not supported, and kpid must not ask for one.
ossl pkey -in "$pki/server.key" -aes256 -passout pass:secret -out "$pki/encrypted.key"
chmod 0600 "$pki"/*.key

# msg FILE CONTROL_ID CASE: one framed ADT^A01 (a patient's name in PID-5: it must not
# reach the log).
msg() {
    printf '\013MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301081500||ADT^A01|%s|P|2.5\rEVN|A01|20250301081500\rPID|1||P%s^^^HOSP^MR||Secretname^Aigul\rPV1|1|I|W3||||||||||||||||%s\r\034\r' \
        "$2" "$2" "$3" >"$1"
}

# wait_log PATTERN [TIMEOUT_S [FROM_LINE]]: waits until the log has a line matching
# PATTERN (grep -E), from line FROM_LINE (1) on.
wait_log() {
    local i
    for ((i = 0; i < ${2:-20} * 10; i++)); do
        tail -n "+${3:-1}" "$KPID_LOG" | grep -qE -- "$1" && return 0
        sleep 0.1
    done
    fail "no log line matching: $1"
}

# conf FILE SOURCES: a configuration with these sources.
conf() {
    cat >"$1" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
log_level = "debug";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
queue = { max_events = 8; }; # full while kpid.event is locked (part 6)
sources = ( $2 );
CONF
}
map='mapping = ( { message = "ADT^A01"; activity = "ADMISSION"; time = "EVN-2"; } );'

# ---- 1. Errors at init, one source each (a source that fails init is retried with
#         backoff; the daemon goes on).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
conf "$KPID_WORK/bad.conf" "
    { name = \"missing\"; plugin = \"hl7\"; listen = \"127.0.0.1:$(free_port)\"; $map
      tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/nonexistent.key\"; },
    { name = \"mismatch\"; plugin = \"hl7\"; listen = \"127.0.0.1:$(free_port)\"; $map
      tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/good.key\"; },
    { name = \"nocert\"; plugin = \"hl7\"; listen = \"127.0.0.1:$(free_port)\"; $map
      tls_ca = \"$pki/ca.pem\"; },
    { name = \"version\"; plugin = \"hl7\"; listen = \"127.0.0.1:$(free_port)\"; $map
      tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/server.key\"; tls_min_version = \"1.1\"; },
    { name = \"notpem\"; plugin = \"hl7\"; listen = \"127.0.0.1:$(free_port)\"; $map
      tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/server.key\"; tls_ca = \"$pki/good.ext\"; },
    { name = \"encrypted\"; plugin = \"hl7\"; listen = \"127.0.0.1:$(free_port)\"; $map
      tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/encrypted.key\"; },
    { name = \"ciphers\"; plugin = \"hl7\"; listen = \"127.0.0.1:$(free_port)\"; $map
      tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/server.key\"; tls_ciphers = \"NO-SUCH-CIPHER\"; },
    { name = \"verifynoca\"; plugin = \"hl7\"; listen = \"127.0.0.1:$(free_port)\"; $map
      tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/server.key\"; tls_verify_client = true; }"
kpid_start "$KPID_WORK/bad.conf"
wait_log "source=missing .*tls_key \"$pki/nonexistent.key\" cannot be read: No such file or directory"
wait_log "source=mismatch .*tls_key \"$pki/good.key\" does not belong to the certificate of tls_cert \"$pki/server.pem\": key values mismatch"
wait_log 'source=nocert .*tls_ca is set but tls_cert is not'
wait_log 'source=version .*tls_min_version must be "1.2" or "1.3", not "1.1"'
wait_log "source=notpem .*tls_ca \"$pki/good.ext\" holds no usable PEM CA certificate"
wait_log "source=encrypted .*tls_key \"$pki/encrypted.key\" is not a usable PEM private key: .*\\(a key encrypted with a pass phrase is not supported\\)"
wait_log 'source=ciphers .*tls_ciphers "NO-SUCH-CIPHER" names no cipher OpenSSL offers'
wait_log 'source=verifynoca .*tls_verify_client is true but tls_ca is not set'
kpid_stop

# ---- 2. The good client.
# Source opt: a certificate is optional there (one presented must still verify), and
# TLS 1.2 has one cipher.
port2=$(free_port)
conf "$KPID_WORK/kpid.conf" "{
    name = \"adt\"; plugin = \"hl7\"; listen = \"127.0.0.1:$port\"; $map
    read_timeout = \"3s\"; batch_max_messages = 2;
    tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/server.key\"; tls_ca = \"$pki/ca.pem\"; }, {
    name = \"opt\"; plugin = \"hl7\"; listen = \"127.0.0.1:$port2\"; $map
    tls_cert = \"$pki/server.pem\"; tls_key = \"$pki/server.key\"; tls_ca = \"$pki/ca.pem\";
    tls_verify_client = false; tls_ciphers = \"ECDHE-ECDSA-AES128-GCM-SHA256\"; }"
kpid_start "$KPID_WORK/kpid.conf"
wait_log "listening address=127.0.0.1:$port"
wait_log "listening address=127.0.0.1:$port2"
grep -q 'source=adt TLS on min_version=1.2 client_certificate=required' "$KPID_LOG" ||
    fail "no line saying that TLS is on"
grep -q 'source=opt TLS on min_version=1.2 client_certificate=optional' "$KPID_LOG" ||
    fail "no line saying that TLS is on with optional client certificates"

good=(python3 "$client" --port "$port" --ca "$pki/ca.pem" --cert "$pki/good.pem" --key "$pki/good.key")
msg "$msgs/g1" G0001 C0001
msg "$msgs/g2" G0002 C0002
out=$("${good[@]}" "$msgs/g1" "$msgs/g2") || fail "the good client (TLS 1.3): $out"
assert_eq "$(printf '%s\n' "$out" | tr '\n' ' ')" "G0001	AA G0002	AA " "ACKs over TLS 1.3"
grep -qE 'TLS established peer=127\.0\.0\.1:[0-9]+ version=TLSv1\.3 .*client="/CN=interface-engine"' \
    "$KPID_LOG" || fail "no debug line for the TLS 1.3 connection"
msg "$msgs/g3" G0003 C0003
out=$("${good[@]}" --tls12 "$msgs/g3") || fail "the good client (TLS 1.2): $out"
assert_eq "$out" "G0003	AA" "the ACK over TLS 1.2"
grep -qE 'TLS established peer=127\.0\.0\.1:[0-9]+ version=TLSv1\.2 ' "$KPID_LOG" ||
    fail "no debug line for the TLS 1.2 connection"
# openssl s_client: the message, then its input stays open until the ACK is there (at
# most 10 s), then ends: -no_ign_eof, as -quiet alone would wait for the peer to close.
msg "$msgs/g4" G0004 C0004
(
    cat "$msgs/g4"
    for ((i = 0; i < 100; i++)); do
        grep -qa 'MSA|' "$KPID_WORK/s_client.out" 2>/dev/null && break
        sleep 0.1
    done
) | timeout 20 openssl s_client -quiet -no_ign_eof -connect "127.0.0.1:$port" \
    -CAfile "$pki/ca.pem" -cert "$pki/good.pem" -key "$pki/good.key" -verify_return_error \
    >"$KPID_WORK/s_client.out" 2>"$KPID_WORK/s_client.err" || true
grep -qa 'MSA|AA|G0004' "$KPID_WORK/s_client.out" ||
    fail "s_client got no AA for G0004: $(tr '\r' '\n' <"$KPID_WORK/s_client.out") $(cat "$KPID_WORK/s_client.err")"
assert_sql "SELECT string_agg(format('%s|%s|%s|%s', event_key IS NOT NULL, case_id, activity,
                   to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')), ' ; ' ORDER BY case_id)
            FROM kpid.event WHERE source = 'adt'" \
    "t|C0001|ADMISSION|2025-03-01 08:15:00 ; t|C0002|ADMISSION|2025-03-01 08:15:00 ; t|C0003|ADMISSION|2025-03-01 08:15:00 ; t|C0004|ADMISSION|2025-03-01 08:15:00" \
    "the events of the good clients"

# ---- 3. Refused senders, while a good connection stays open between two messages.
msg "$msgs/k1" K0001 C0101
msg "$msgs/k2" K0002 C0102
"${good[@]}" --go "$KPID_WORK/go" --deadline 60 "$msgs/k1" "$msgs/k2" >"$KPID_WORK/keep.out" \
    2>"$KPID_WORK/keep.err" &
keep=$!
kpid_track_pid "$keep"
for ((i = 0; i < 100; i++)); do
    [ -s "$KPID_WORK/keep.out" ] && break
    sleep 0.1
done
assert_eq "$(cat "$KPID_WORK/keep.out")" "K0001	AA" "the kept connection's first ACK"

refused() { # NAME ARGS...: a sender that must be refused
    local name=$1 out
    shift
    msg "$msgs/$name" "R_$name" "C_$name"
    out=$(python3 "$client" --port "$port" --mode refused --ack-timeout 10 --deadline 20 "$@" \
        "$msgs/$name") || fail "$name was not refused: $out"
    _kpid_say "$name: $out"
}
before=$(grep -c 'TLS handshake failed peer=' "$KPID_LOG" || true)
refused self13 --ca "$pki/ca.pem" --cert "$pki/self.pem" --key "$pki/self.key"
refused self12 --ca "$pki/ca.pem" --cert "$pki/self.pem" --key "$pki/self.key" --tls12
refused nocert13 --ca "$pki/ca.pem"
refused nocert12 --ca "$pki/ca.pem" --tls12
refused plain --plain
wait_log 'TLS handshake failed peer=127\.0\.0\.1:[0-9]+ reason="certificate verify failed: self-signed certificate"'
wait_log 'TLS handshake failed peer=127\.0\.0\.1:[0-9]+ reason="peer did not return a certificate"'
wait_log 'TLS handshake failed peer=127\.0\.0\.1:[0-9]+ reason="not TLS: plain-text MLLP on a TLS port"'
assert_eq "$(($(grep -c 'TLS handshake failed peer=' "$KPID_LOG") - before))" 5 \
    "one line per refused sender"
touch "$KPID_WORK/go"
wait "$keep" || fail "the kept connection failed after the refusals: $(cat "$KPID_WORK/keep.err")"
assert_eq "$(tr '\n' ' ' <"$KPID_WORK/keep.out")" "K0001	AA K0002	AA " \
    "the kept connection's ACKs"
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'adt' AND case_id LIKE 'C\\_%'" 0 \
    "rows of refused senders"
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'adt' AND case_id IN ('C0101', 'C0102')" 2 \
    "rows of the kept connection"
# Source opt: no certificate is fine, a self-signed one is not; TLS 1.2 with its cipher.
msg "$msgs/o1" O0001 C0111
out=$(python3 "$client" --port "$port2" --ca "$pki/ca.pem" --tls12 "$msgs/o1") ||
    fail "a client without a certificate where it is optional: $out"
assert_eq "$out" "O0001	AA" "the ACK without a client certificate"
grep -qE 'source=opt TLS established peer=127\.0\.0\.1:[0-9]+ version=TLSv1\.2 cipher=ECDHE-ECDSA-AES128-GCM-SHA256 client="none"' \
    "$KPID_LOG" || fail "no debug line for opt's connection with tls_ciphers' cipher"
refused optself --port "$port2" --ca "$pki/ca.pem" --cert "$pki/self.pem" --key "$pki/self.key"
wait_log 'source=opt TLS handshake failed peer=127\.0\.0\.1:[0-9]+ reason="certificate verify failed: self-signed certificate"'
assert_sql "SELECT string_agg(case_id, ' ') FROM kpid.event WHERE source = 'opt'" C0111 \
    "rows of source opt"

# ---- 4. A frame split across records; several frames in one record.
msg "$msgs/s1" S0001 C0201
msg "$msgs/s2" S0002 C0202
out=$("${good[@]}" --mode split "$msgs/s1" "$msgs/s2") || fail "split frames: $out"
assert_eq "$(printf '%s\n' "$out" | tr '\n' ' ')" "S0001	AA S0002	AA " "ACKs of split frames"
for i in 1 2 3 4 5; do msg "$msgs/p$i" "P000$i" "C030$i"; done
out=$("${good[@]}" --mode pipeline "$msgs"/p[1-5]) || fail "frames in one record: $out"
assert_eq "$(printf '%s\n' "$out" | tr '\n' ' ')" "P0001	AA P0002	AA P0003	AA P0004	AA P0005	AA " \
    "ACKs of frames in one record"
# A sender that ends its side (FIN, no close_notify) right after its message still gets
# the ACK over TLS.
msg "$msgs/h1" H0001 C0401
out=$("${good[@]}" --half-close "$msgs/h1") || fail "half-close: $out"
assert_eq "$out" "H0001	AA" "the ACK after the sender's half-close"
assert_sql "SELECT string_agg(case_id, ' ' ORDER BY case_id) FROM kpid.event WHERE source = 'adt'
            AND case_id BETWEEN 'C0201' AND 'C0499'" "C0201 C0202 C0301 C0302 C0303 C0304 C0305 C0401" \
    "rows of split frames, of frames in one record and of the half-closed sender"

# ---- 5. A handshake that stalls after its first byte: closed at read_timeout (3 s).
out=$(python3 "$client" --port "$port" --mode stall --deadline 20) || fail "stalled handshake: $out"
secs=${out#CLOSED	}
python3 -c "import sys; sys.exit(0 if 2.5 <= $secs <= 10 else 1)" ||
    fail "the stalled handshake was closed after ${secs}s, not at read_timeout (3 s)"
wait_log 'TLS handshake failed peer=127\.0\.0\.1:[0-9]+ reason="not done within read_timeout"'

# ---- 6. Back-pressure and ACK after commit: kpid.event locked, 20 messages pipelined in
#         20 records (batches of 2, a queue of 8 events: the source stops reading).
for i in $(seq -w 1 20); do msg "$msgs/b$i" "B00$i" "C05$i"; done
lock_table kpid.event 'ACCESS EXCLUSIVE'
"${good[@]}" --mode pipeline --gap 0.05 --ack-timeout 60 --deadline 90 "$msgs"/b[0-9][0-9] \
    >"$KPID_WORK/bp.out" 2>"$KPID_WORK/bp.err" &
bp=$!
kpid_track_pid "$bp"
wait_log 'queue full: not reading from senders' 30
sleep 2
[ ! -s "$KPID_WORK/bp.out" ] || fail "an ACK came while the warehouse was locked: $(cat "$KPID_WORK/bp.out")"
unlock_table
wait "$bp" || fail "the pipelined messages after the lock: $(cat "$KPID_WORK/bp.err")"
assert_eq "$(grep -c '	AA$' "$KPID_WORK/bp.out")" 20 "ACKs after the lock"
assert_eq "$(cut -f1 "$KPID_WORK/bp.out" | tr '\n' ' ')" \
    "$(for i in $(seq -w 1 20); do printf 'B00%s ' "$i"; done)" "the ACKs' order"
assert_sql "SELECT count(*), count(DISTINCT case_id) FROM kpid.event WHERE source = 'adt'
            AND case_id BETWEEN 'C0501' AND 'C0520'" "20|20" "rows of the pipelined messages"

# ---- 7. A stop with a TLS connection open; then tls_min_version = "1.3", by a reload.
python3 "$client" --port "$port" --ca "$pki/ca.pem" --cert "$pki/good.pem" --key "$pki/good.key" \
    --mode hold --deadline 60 >"$KPID_WORK/hold.out" 2>"$KPID_WORK/hold.err" &
hold=$!
kpid_track_pid "$hold"
for ((i = 0; i < 100; i++)); do
    grep -q HOLDING "$KPID_WORK/hold.out" && break
    sleep 0.1
done
grep -q HOLDING "$KPID_WORK/hold.out" || fail "the held connection: $(cat "$KPID_WORK/hold.err")"
kpid_stop
wait "$hold" || fail "the held connection was not closed by the stop: $(cat "$KPID_WORK/hold.err")"

# A reload reads the tls_* keys (and the files) again.
from=$(($(wc -l <"$KPID_LOG") + 1))
kpid_start "$KPID_WORK/kpid.conf"
wait_log "source=opt listening address=127.0.0.1:$port2" 20 "$from"
sed -i 's/name = "adt"; /name = "adt"; tls_min_version = "1.3"; /' "$KPID_WORK/kpid.conf"
from=$(($(wc -l <"$KPID_LOG") + 1))
kpid_signal HUP
wait_log 'configuration reloaded' 20 "$from"
wait_log 'source=adt TLS on min_version=1.3 client_certificate=required' 20 "$from"
wait_log "source=adt listening address=127.0.0.1:$port\$" 20 "$from"
refused old12 --ca "$pki/ca.pem" --cert "$pki/good.pem" --key "$pki/good.key" --tls12
msg "$msgs/v1" V0001 C0601
out=$("${good[@]}" "$msgs/v1") || fail "TLS 1.3 with tls_min_version 1.3: $out"
assert_eq "$out" "V0001	AA" "the ACK with tls_min_version 1.3"
kpid_stop

# No patient data and no key material in the log.
grep -q Secretname "$KPID_LOG" && fail "the log holds patient data"
grep -q 'PRIVATE KEY' "$KPID_LOG" && fail "the log holds a private key"
for k in "$pki"/*.key; do
    line=$(sed -n 2p "$k")
    grep -qF -- "$line" "$KPID_LOG" && fail "the log holds a line of $k"
done
true
