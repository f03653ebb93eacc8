#!/usr/bin/env python3
"""A test sender of HL7 v2 over MLLP over TLS (Python's ssl module, not kpid's code).

    hl7_tls_client.py --port P --ca CA [--cert C --key K] [--tls12] [--plain]
                      [--mode send|split|pipeline|refused|hold|stall]
                      [--go FILE] [--gap S] [--half-close] [--deadline S] [--ack-timeout S]
                      FILE...

Connects to 127.0.0.1:P with TLS, verifying the server's certificate against CA (its
subjectAltName must hold IP 127.0.0.1), presenting the client certificate C (key K) when
given; --tls12 offers TLS 1.2 only; --plain speaks plain TCP. FILE... hold MLLP frames
(0x0B message 0x1C 0x0D); every loop is bounded by --deadline (default 30 s) and every wait
for an ACK by --ack-timeout (default 10 s).

  send      each message in one write (one TLS record), waiting for its ACK before the
            next; with --go FILE, after the first ACK it waits until FILE exists; with
            --half-close, sends the one message, ends its sending side (a TCP FIN, no
            close_notify, as many senders do) and then waits for the ACK.
  split     each message in three writes (three records, 0.2 s apart), cut after the
            start byte and between the end bytes 0x1C and 0x0D; ACK before the next.
  pipeline  every message in one write (several frames in one record when they fit),
            then reads the ACKs; with --gap S, each message in a write of its own, S
            seconds apart, without waiting for ACKs (they are read after the last).
  refused   sends the first message and expects no ACK: the handshake fails, or the
            server closes the connection (TLS 1.3 ends the client's handshake before the
            server has checked its certificate).
  hold      completes the handshake, sends nothing, waits until the server closes.
  stall     plain TCP: sends the first byte of a TLS handshake record (0x16) and nothing
            more, then waits until the server closes.

Prints "MSA-2<TAB>MSA-1" per ACK in the order they came (send, split, pipeline), exits 1
when an ACK's MSA-2 is not the message's MSH-10 or an ACK is missing.
refused prints "REFUSED<TAB>how" (exit 0) or "ACK<TAB>MSA-2<TAB>MSA-1" (exit 1).
hold and stall print "CLOSED<TAB>S", S the seconds until the server closed (exit 0), or
exit 1 at the deadline. Exit 2: cannot connect or the handshake failed (send, split,
pipeline, hold).
"""
import argparse
import os
import socket
import ssl
import sys
import time

SB, EB, CR = b'\x0b', b'\x1c', b'\x0d'


def frames_of(paths):
    out = []
    for path in paths:
        data = open(path, 'rb').read()
        for part in data.split(SB)[1:]:
            end = part.find(EB + CR)
            if end >= 0:
                out.append(part[:end])
    return out


def control_id(msg):
    seg = msg.split(CR)[0]
    fields = seg.split(msg[3:4])
    return fields[9].decode() if len(fields) > 9 else ''


def msa(ack):
    for seg in ack.split(CR):
        if seg[:4] == b'MSA|':
            f = seg.split(b'|')
            return (f[2].decode() if len(f) > 2 else '', f[1].decode() if len(f) > 1 else '')
    return ('', '')


class Conn:
    def __init__(self, args):
        self.args = args
        self.buf = b''
        raw = socket.create_connection(('127.0.0.1', args.port), timeout=args.ack_timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.plain or args.mode == 'stall':
            self.sock = raw
            return
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(args.ca)
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key)
        if args.tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.sock = ctx.wrap_socket(raw, server_hostname='127.0.0.1')

    def ack(self, deadline):
        """The next ACK frame, or None when the server closed; raises on timeout."""
        for _ in range(10000):
            start = self.buf.find(SB)
            end = self.buf.find(EB + CR, start + 1) if start >= 0 else -1
            if end >= 0:
                frame = self.buf[start + 1:end]
                self.buf = self.buf[end + 2:]
                return frame
            left = min(self.args.ack_timeout, deadline - time.monotonic())
            if left <= 0:
                raise TimeoutError('no ACK in time')
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        raise TimeoutError('too many reads without an ACK')


def expect_acks(conn, msgs, deadline):
    ok = True
    for m in msgs:
        a = conn.ack(deadline)
        if a is None:
            print('no ACK for %s: connection closed' % control_id(m), file=sys.stderr)
            return False
        id2, code = msa(a)
        print('%s\t%s' % (id2, code), flush=True)
        if id2 != control_id(m):
            print('ACK for %s names %s' % (control_id(m), id2), file=sys.stderr)
            ok = False
    return ok


def wait_closed(conn, deadline, t0):
    """Reads until the server closes; prints CLOSED and returns 0, or 1 at the deadline."""
    while time.monotonic() < deadline:
        try:
            conn.sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
            if not conn.sock.recv(4096):
                break
        except (socket.timeout, TimeoutError):
            continue
        except (ssl.SSLError, OSError):
            break
    else:
        print('still open at the deadline', file=sys.stderr)
        return 1
    print('CLOSED\t%.1f' % (time.monotonic() - t0), flush=True)
    return 0


def refused(args, msgs, deadline):
    try:
        conn = Conn(args)
    except ssl.SSLError as e:
        print('REFUSED\thandshake: %s' % e.reason, flush=True)
        return 0
    except OSError as e:
        print('REFUSED\tconnect: %s' % e, flush=True)
        return 0
    try:
        conn.sock.sendall(SB + msgs[0] + EB + CR)
        a = conn.ack(deadline)
    except ssl.SSLError as e:
        print('REFUSED\talert: %s' % e.reason, flush=True)
        return 0
    except (TimeoutError, socket.timeout):
        print('neither refused nor acknowledged within the ACK timeout', file=sys.stderr)
        return 1
    except OSError as e:
        print('REFUSED\t%s' % e.strerror, flush=True)
        return 0
    if a is None:
        print('REFUSED\tclosed', flush=True)
        return 0
    print('ACK\t%s\t%s' % msa(a), flush=True)
    return 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--ca')
    p.add_argument('--cert')
    p.add_argument('--key')
    p.add_argument('--tls12', action='store_true')
    p.add_argument('--plain', action='store_true')
    p.add_argument('--mode', default='send',
                   choices=['send', 'split', 'pipeline', 'refused', 'hold', 'stall'])
    p.add_argument('--go')
    p.add_argument('--gap', type=float)
    p.add_argument('--half-close', action='store_true')
    p.add_argument('--deadline', type=float, default=30)
    p.add_argument('--ack-timeout', type=float, default=10)
    p.add_argument('files', nargs='*')
    args = p.parse_args()
    t0 = time.monotonic()
    deadline = t0 + args.deadline
    msgs = frames_of(args.files)

    if args.mode == 'refused':
        return refused(args, msgs, deadline)
    try:
        conn = Conn(args)
    except (OSError, ssl.SSLError) as e:
        print('cannot connect: %s' % e, file=sys.stderr)
        return 2
    if args.mode == 'stall':
        conn.sock.sendall(b'\x16')
        return wait_closed(conn, deadline, t0)
    if args.mode == 'hold':  # wrap_socket did the handshake
        print('HOLDING', flush=True)
        return wait_closed(conn, deadline, t0)
    try:
        if args.mode == 'pipeline' and args.gap:
            for m in msgs:
                conn.sock.sendall(SB + m + EB + CR)
                time.sleep(args.gap)
            return 0 if expect_acks(conn, msgs, deadline) else 1
        if args.mode == 'pipeline':
            conn.sock.sendall(b''.join(SB + m + EB + CR for m in msgs))
            return 0 if expect_acks(conn, msgs, deadline) else 1
        for i, m in enumerate(msgs):
            if args.mode == 'split':
                for piece in (SB, m + EB, CR):
                    conn.sock.sendall(piece)
                    time.sleep(0.2)
            else:
                conn.sock.sendall(SB + m + EB + CR)
            if args.half_close:  # the plain socket's shutdown: SSLSocket's drops TLS
                socket.socket.shutdown(conn.sock, socket.SHUT_WR)
            if not expect_acks(conn, [m], deadline):
                return 1
            if i == 0 and args.go:
                while not os.path.exists(args.go):
                    if time.monotonic() >= deadline:
                        print('no %s before the deadline' % args.go, file=sys.stderr)
                        return 1
                    time.sleep(0.1)
    except (OSError, ssl.SSLError, TimeoutError) as e:
        print('failed: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
