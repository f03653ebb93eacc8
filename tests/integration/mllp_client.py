#!/usr/bin/env python3
"""A test sender of HL7 v2 over MLLP, as an interface engine behaves, and as worse ones do.

    mllp_client.py --port P [--host H] [--conns N] [--deadline S] [--ack-timeout S]
                   [--hold] [--times] FILE...
    mllp_client.py --port P [--host H] --stream [--raw] [--chunk N --interval S | --trickle
                   | --straddle] [--expect N] [--disconnect-before-ack | --half-close
                   | --no-read] FILE...
    mllp_client.py --port P [--host H] --idle N [--deadline S]

Reads the messages of FILE... (MLLP frames 0x0B msg 0x1C 0x0D, as hospgen writes them; or
plain text with one message per paragraph, segments on lines), spreads the files over N
connections (file i on connection i % N, each file's messages in order), sends each
message and waits for its ACK before the next, as senders in original mode do. An ACK
whose MSA-2 is not the message's MSH-10 is an error. When the connection fails or the
ACK does not come within --ack-timeout, it reconnects (capped backoff) and sends the
unacknowledged message again, until --deadline. Prints one line per message,
"MSH-10<TAB>MSA-1", in each connection's order, and exits 0 when every message got an
ACK, 1 otherwise. --hold sends the first byte of the first message and then nothing,
until the deadline (a stalled sender). --times adds a third column: the wall-clock time
(seconds since the epoch) the ACK came.

--stream sends the messages of FILE... framed, one after another on one connection
without waiting for ACKs (with --raw: the files' bytes as they are, framing, garbage and
all), in pieces of --chunk bytes every --interval seconds (--trickle: one byte a second;
--straddle: pieces from the middle of one frame to the middle of the next, so that no
piece ends between frames), reading ACKs meanwhile. Then it reads until --expect ACKs
came, the server closed, or nothing came for --ack-timeout seconds. Prints
"MSA-2<TAB>MSA-1" per ACK in the order they came and, when the server closed the
connection, "CLOSED<TAB>S": S the seconds from the first byte sent.
--disconnect-before-ack closes the connection as soon as everything is sent, reading
nothing, and prints nothing; --half-close only ends the sending side, and reads on. --no-read sends without ever reading (with a small receive
buffer) until everything is sent or a send makes no progress for 2 s, prints
"SENT<TAB>BYTES<TAB>TOTAL", then waits, still not reading, until the server closes the
connection ("CLOSED<TAB>S", S the seconds since the last byte went out) or the deadline.
Exits 0, or 2 when it cannot connect.

--idle N opens N connections and sends nothing on them: prints "connected=N connect_s=S"
once all are open, then watches them until every one is closed by the server or the
deadline, and prints "closed=K min_s=A max_s=B" (the seconds each lived, from its own
connect). Exits 0, or 2 when not all could connect.
"""
import argparse
import resource
import selectors
import socket
import sys
import threading
import time

SB, EB, CR = b'\x0b', b'\x1c', b'\x0d'


def messages_of(path):
    data = open(path, 'rb').read()
    if SB in data:
        out = []
        for part in data.split(SB)[1:]:
            end = part.find(EB + CR)
            if end >= 0:
                out.append(part[:end])
        return out
    text = data.replace(b'\r\n', b'\n').replace(b'\r', b'\n')
    return [b'\r'.join(p.strip(b'\n').split(b'\n')) + b'\r'
            for p in text.split(b'\n\n') if p.strip()]


def field(msg, seg, n):
    """The n-th field of the first segment seg (MSH counted as the standard does)."""
    sep = msg[3:4]
    for s in msg.replace(b'\n', b'\r').split(b'\r'):
        if s[:3] == seg:
            parts = s.split(sep)
            if seg == b'MSH':
                n -= 1
            return parts[n].split(msg[4:5])[0] if n < len(parts) else b''
    return b''


class Sender:
    def __init__(self, args, msgs, out):
        self.args, self.msgs, self.out = args, msgs, out
        self.sock, self.buf, self.failed = None, b'', False

    def connect(self, deadline):
        delay = 0.05
        while time.monotonic() < deadline:
            try:
                self.sock = socket.create_connection((self.args.host, self.args.port), timeout=5)
                self.buf = b''
                return True
            except OSError:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        return False

    def read_ack(self, until):
        while True:
            start = self.buf.find(SB)
            end = self.buf.find(EB + CR, start + 1) if start >= 0 else -1
            if end >= 0:
                ack = self.buf[start + 1:end]
                self.buf = self.buf[end + 2:]
                return ack
            left = until - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('closed')
            self.buf += chunk

    def run(self):
        deadline = time.monotonic() + self.args.deadline
        if not self.connect(deadline):
            self.failed = True
            return
        if self.args.hold:
            self.sock.sendall(SB + self.msgs[0][:1])
            time.sleep(max(0, deadline - time.monotonic()))
            self.sock.close()
            return
        for msg in self.msgs:
            ctl = field(msg, b'MSH', 10)
            while True:
                if time.monotonic() >= deadline:
                    self.failed = True
                    return
                try:
                    if self.sock is None and not self.connect(deadline):
                        continue
                    self.sock.sendall(SB + msg + EB + CR)
                    ack = self.read_ack(min(deadline, time.monotonic() + self.args.ack_timeout))
                    if ack is None:
                        raise TimeoutError('no ACK')
                except (OSError, ConnectionError, TimeoutError):
                    if self.sock:
                        self.sock.close()
                    self.sock = None
                    continue
                if field(ack, b'MSA', 2) != ctl:
                    sys.stderr.write('ACK for %r names %r\n' % (ctl, field(ack, b'MSA', 2)))
                    self.failed = True
                line = '%s\t%s' % (ctl.decode('ascii', 'replace'),
                                   field(ack, b'MSA', 1).decode('ascii', 'replace'))
                if self.args.times:
                    line += '\t%.3f' % time.time()
                self.out.append(line)
                break
        if self.sock:
            self.sock.close()


def ack_line(ack):
    return '%s\t%s' % (field(ack, b'MSA', 2).decode('ascii', 'replace'),
                       field(ack, b'MSA', 1).decode('ascii', 'replace'))


def stream(args):
    """--stream: one connection, everything sent without waiting; see the docstring."""
    if args.raw:
        data = b''.join(open(f, 'rb').read() for f in args.files)
        frames = [data]
    else:
        frames = [SB + m + EB + CR for f in args.files for m in messages_of(f)]
        data = b''.join(frames)
    if args.straddle:
        pieces, rest = [], b''
        for fr in frames:
            pieces.append(rest + fr[:len(fr) // 2])
            rest = fr[len(fr) // 2:]
        pieces.append(rest)
    else:
        chunk = args.chunk or len(data) or 1
        pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    deadline = time.monotonic() + args.deadline
    try:
        sock = socket.create_connection((args.host, args.port), timeout=5)
    except OSError as e:
        sys.stderr.write('cannot connect: %s\n' % e)
        return 2
    if args.no_read:
        return no_read(sock, data, deadline)
    buf, acks, closed, start = b'', 0, False, time.monotonic()

    def take(block_s):
        """Reads what came within block_s seconds; False once the server closed."""
        nonlocal buf, acks
        sock.settimeout(max(block_s, 0.001))
        try:
            got = sock.recv(65536)
        except socket.timeout:
            return True
        except OSError:
            return False
        if not got:
            return False
        buf += got
        while True:
            s0 = buf.find(SB)
            e0 = buf.find(EB + CR, s0 + 1) if s0 >= 0 else -1
            if e0 < 0:
                return True
            print(ack_line(buf[s0 + 1:e0]), flush=True)
            buf = buf[e0 + 2:]
            acks += 1

    for piece in pieces:
        if closed or time.monotonic() >= deadline:
            break
        try:
            sock.sendall(piece)
        except OSError:
            closed = True
            break
        if args.disconnect_before_ack:
            continue
        # Read while waiting for the next piece: the server may close us meanwhile.
        until = time.monotonic() + args.interval
        while not closed:
            left = until - time.monotonic()
            if not take(min(left, 0.05)):
                closed = True
            if left <= 0:
                break
    if args.disconnect_before_ack:
        sock.close()
        return 0
    if args.half_close and not closed:
        sock.shutdown(socket.SHUT_WR)
    last = time.monotonic()
    while not closed and acks < args.expect_n and time.monotonic() < deadline:
        if time.monotonic() - last >= args.ack_timeout:
            break
        n = acks
        if not take(0.1):
            closed = True
        if acks > n:
            last = time.monotonic()
    if closed:
        print('CLOSED\t%.1f' % (time.monotonic() - start), flush=True)
    sock.close()
    return 0


def no_read(sock, data, deadline):
    """--no-read: a sender that never reads its ACKs."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.settimeout(2)
    sent = 0
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += sock.send(data[sent:sent + 65536])
        except OSError:  # socket.timeout included: no progress for 2 s
            break
    print('SENT\t%d\t%d' % (sent, len(data)), flush=True)
    stop = time.monotonic()
    while time.monotonic() < deadline:
        # The connection's state, seen without reading its bytes: 1 is ESTABLISHED.
        if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != 1:
            print('CLOSED\t%.1f' % (time.monotonic() - stop), flush=True)
            break
        time.sleep(0.1)
    sock.close()
    return 0


def idle(args):
    """--idle N: N silent connections, watched until the server closes them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.idle + 64 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.idle + 64, hard))
    deadline = time.monotonic() + args.deadline
    sel = selectors.DefaultSelector()
    begun, opened = time.monotonic(), 0
    for _ in range(args.idle):
        if time.monotonic() >= deadline:
            break
        try:
            s = socket.create_connection((args.host, args.port), timeout=5)
        except OSError as e:
            sys.stderr.write('connection %d: %s\n' % (opened + 1, e))
            break
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, time.monotonic())
        opened += 1
    print('connected=%d connect_s=%.1f' % (opened, time.monotonic() - begun), flush=True)
    lives = []
    while len(lives) < opened and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=min(0.2, max(0.0, deadline - time.monotonic()))):
            try:
                got = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                got = b''
            if got:
                continue  # an ACK for nothing: not expected, ignored
            lives.append(time.monotonic() - key.data)
            sel.unregister(key.fileobj)
            key.fileobj.close()
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print('closed=%d min_s=%.1f max_s=%.1f' % (len(lives), min(lives, default=0),
                                                max(lives, default=0)), flush=True)
    return 0 if opened == args.idle else 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--conns', type=int, default=1)
    ap.add_argument('--deadline', type=float, default=60)
    ap.add_argument('--ack-timeout', type=float, default=10)
    ap.add_argument('--hold', action='store_true')
    ap.add_argument('--times', action='store_true')
    ap.add_argument('--stream', action='store_true')
    ap.add_argument('--raw', action='store_true')
    ap.add_argument('--chunk', type=int, default=0)
    ap.add_argument('--interval', type=float, default=0)
    ap.add_argument('--trickle', action='store_true')
    ap.add_argument('--straddle', action='store_true')
    ap.add_argument('--expect', dest='expect_n', type=int, default=1 << 30)
    ap.add_argument('--disconnect-before-ack', action='store_true')
    ap.add_argument('--no-read', action='store_true')
    ap.add_argument('--half-close', action='store_true')
    ap.add_argument('--idle', type=int, default=0)
    ap.add_argument('files', nargs='*')
    args = ap.parse_args()
    if args.idle:
        sys.exit(idle(args))
    if not args.files:
        ap.error('no FILE')
    if args.trickle:
        args.stream, args.chunk, args.interval = True, 1, 1.0
    if args.stream:
        sys.exit(stream(args))
    per_conn = [[] for _ in range(args.conns)]
    for i, f in enumerate(args.files):
        per_conn[i % args.conns].extend(messages_of(f))
    outs = [[] for _ in range(args.conns)]
    senders = [Sender(args, m, o) for m, o in zip(per_conn, outs) if m]
    threads = [threading.Thread(target=s.run) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in outs:
        for line in o:
            print(line)
    sys.exit(1 if any(s.failed for s in senders) else 0)


if __name__ == '__main__':
    main()
