#!/usr/bin/env python3
"""Checks hospgen's HL7 form (--hl7) against its own truth, without kpid's code.

Usage: check_hl7.py OUT_DIR MAPPING_CONF [--tz-offset +05:00] [--no-implied] [--with-ndjson]

Reads the MLLP-framed hl7-*.hl7 files of OUT_DIR, parses every message by hand (HL7 v2
syntax: MSH-18 charset, separators from MSH-1/MSH-2, escapes), applies the mapping rules
of MAPPING_CONF as docs/hl7-mapping.md defines them (message match, when, foreach, time
paths, case/subject, value, attrs, keys from content, retract), replays the streams and
compares the final events with expected.tsv: case_id, subject_id, activity, time, value
and attrs (attribute values as text: kpid compares text, so JSON 3 is "3"). Also checks
that the files are what a replaying sender needs (frames, a case's messages in one
stream), that python3-hl7's mllp_send reads them as framed (when the hl7 package is
importable) and that the hostile forms are present (charsets, escapes, versions,
offsets).

--with-ndjson (for --hl7-split): the feed is split between the HL7 streams and the
events-*.ndjson files. The NDJSON is replayed too (upsert by event_key, a retraction
deletes; the lines malformed.tsv lists skipped), no case is in both, and the final events
of both together are exactly expected.tsv.
"""
import collections
import datetime
import decimal
import glob
import json
import os
import re
import sys

# ---- a reader for the libconfig subset the mapping uses ---------------------------


def parse_libconfig(text):
    toks = []
    pos = 0
    tok_re = re.compile(r'\s+|#[^\n]*|//[^\n]*|/\*.*?\*/|"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_\-]*|'
                        r'-?[0-9][0-9.eE+\-]*|[=:;,(){}\[\]]', re.S)
    while pos < len(text):
        m = tok_re.match(text, pos)
        if not m:
            raise ValueError(f"libconfig: bad input at {text[pos:pos + 30]!r}")
        t = m.group(0)
        pos = m.end()
        if t[0].isspace() or t[0] == '#' or t.startswith('//') or t.startswith('/*'):
            continue
        toks.append(t)
    i = 0

    def value():
        nonlocal i
        t = toks[i]
        if t in '([{':
            close = {'(': ')', '[': ']', '{': '}'}[t]
            i += 1
            if t == '{':
                g = group(close)
                return g
            out = []
            while toks[i] != close:
                out.append(value())
                if toks[i] == ',':
                    i += 1
            i += 1
            return out
        i += 1
        if t[0] == '"':
            s = t[1:-1]
            while i < len(toks) and toks[i][0] == '"':  # adjacent strings concatenate
                s += toks[i][1:-1]
                i += 1
            return re.sub(r'\\(.)', lambda m: {'n': '\n', 't': '\t'}.get(m.group(1), m.group(1)), s)
        if t in ('true', 'false'):
            return t == 'true'
        return float(t) if '.' in t else int(t)

    def group(close):
        nonlocal i
        g = {}
        while i < len(toks) and toks[i] != close:
            name = toks[i]
            if name[0] == '"':
                name = name[1:-1]
            i += 1
            assert toks[i] in '=:', toks[i]
            i += 1
            g[name] = value()
            if i < len(toks) and toks[i] in ';,':
                i += 1
        i += 1
        return g

    return group(None)


# ---- HL7 v2 by hand ----------------------------------------------------------------

CHARSETS = {'': 'utf-8', 'UNICODE UTF-8': 'utf-8', 'UTF-8': 'utf-8', '8859/1': 'latin-1',
            'ASCII': 'ascii'}


class Msg:
    def __init__(self, raw):
        assert raw.startswith(b'MSH'), raw[:20]
        fs = chr(raw[3])
        head = raw.split(b'\r', 1)[0].decode('ascii', 'replace').split(fs)
        self.charset = head[17] if len(head) > 17 else ''
        text = raw.decode(CHARSETS[self.charset])
        self.text = text
        self.fs = fs
        enc = text[4:text.index(fs, 4)]
        self.cs, self.rs, self.es, self.ss = enc[0], enc[1], enc[2], enc[3]
        self.tc = enc[4] if len(enc) > 4 else None
        self.segs = []
        for line in re.split('\r\n|\r|\n', text):
            if not line:
                continue
            f = line.split(fs)
            if f[0] == 'MSH':  # MSH-1 is the separator, MSH-2 the encoding characters
                f = ['MSH', fs] + f[1:]
            self.segs.append(f)
        self.type = self.get(('MSH', 1, 9, 1, 1, 1))
        self.trigger = self.get(('MSH', 1, 9, 1, 2, 1))

    def occurrences(self, name):
        return [s for s in self.segs if s[0] == name]

    def unescape(self, v):
        es = self.es
        out, i = [], 0
        table = {'F': self.fs, 'S': self.cs, 'T': self.ss, 'R': self.rs, 'E': es}
        if self.tc:
            table['P'] = self.tc
        while i < len(v):
            c = v[i]
            j = v.find(es, i + 1) if c == es else -1
            if c == es and j > 0:
                seq = v[i + 1:j]
                if seq in table:
                    out.append(table[seq])
                elif seq[:1] == 'X':
                    out.append(bytes.fromhex(seq[1:]).decode(CHARSETS[self.charset]))
                else:
                    out.append(v[i:j + 1])
                i = j + 1
            else:
                out.append(c)
                i += 1
        return ''.join(out)

    def raw_at(self, seg, field, rep, comp, sub):
        if field >= len(seg):
            return None
        f = seg[field]
        if seg[0] == 'MSH' and field <= 2:
            return f
        reps = f.split(self.rs)
        if rep > len(reps):
            return None
        comps = reps[rep - 1].split(self.cs)
        if comp > len(comps):
            return None
        subs = comps[comp - 1].split(self.ss)
        if sub > len(subs):
            return None
        return subs[sub - 1]

    def get(self, path, seg=None):
        name, occ, field, rep, comp, sub = path
        if seg is None:
            occs = self.occurrences(name)
            if occ > len(occs):
                return None
            seg = occs[occ - 1]
        v = self.raw_at(seg, field, rep, comp, sub)
        if v is None or v == '' or v == '""':
            return None
        return self.unescape(v)

    def field_reps(self, name, field):
        occs = self.occurrences(name)
        if not occs or field >= len(occs[0]) or occs[0][field] == '':
            return []
        return occs[0][field].split(self.rs)


PATH_RE = re.compile(r'^([A-Z0-9]{3})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+))?(?:\.(\d+))?$')


def parse_path(p):
    m = PATH_RE.match(p)
    assert m, f"bad path {p}"
    name, occ, field, rep, comp, sub = m.groups()
    return (name, int(occ or 1), int(field), int(rep or 1), int(comp or 1), int(sub or 1),
            occ is not None)


DTM_RE = re.compile(r'^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$')


def parse_dtm(s, implied):
    m = DTM_RE.match(s)
    assert m, f"bad DTM {s!r}"
    y, mo, d, h, mi, se, frac, off = m.groups()
    if frac is not None:
        assert se is not None
    t = datetime.datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(se or 0),
                          int((frac or '').ljust(6, '0')))
    if off:
        sec = (int(off[1:3]) * 3600 + int(off[3:5]) * 60) * (1 if off[0] == '+' else -1)
    else:
        sec = implied
    return t - datetime.timedelta(seconds=sec)


# ---- the mapping -------------------------------------------------------------------


class Rule:
    def __init__(self, r):
        msgs = r['message']
        self.messages = msgs if isinstance(msgs, list) else [msgs]
        self.activity = r.get('activity')
        self.retract = r.get('retract')
        assert (self.activity is None) != (self.retract is None), r
        self.time = r.get('time', ['EVN-6', 'EVN-2', 'MSH-7'])
        self.case_id = r.get('case_id', 'PV1-19')
        self.subject_id = r.get('subject_id', 'PID-3')
        self.value = r.get('value')
        self.attrs = r.get('attrs', {})
        self.repeats = r.get('repeats', False)
        self.key = r.get('key', ['case_id', 'activity'] + (['time'] if self.repeats else []))
        self.foreach = r.get('foreach')
        # ( ( "PATH", [ "VALUE", ... ] ), ... ), a value list or a single string
        self.when = [(c[0], c[1] if isinstance(c[1], list) else [c[1]]) for c in r.get('when', [])]

    def matches(self, msg):
        for m in self.messages:
            t, g = m.split('^')
            if t == msg.type and (g == '*' or g == msg.trigger):
                return True
        return False


def read(msg, path_text, foreach, visited):
    name, occ, field, rep, comp, sub, occ_given = parse_path(path_text)
    if foreach == name and not occ_given:
        return msg.get((name, occ, field, rep, comp, sub), seg=visited)
    return msg.get((name, occ, field, rep, comp, sub))


def subject(msg, path_text, authority, foreach, visited):
    name, occ, field, rep, comp, sub, occ_given = parse_path(path_text)
    if re.search(r'\[\d+\]|\.', path_text.split('-', 1)[1]):
        return read(msg, path_text, foreach, visited)
    reps = msg.field_reps(name, field)
    if not reps:
        return None
    chosen = 1
    for k, r in enumerate(reps, 1):
        comps = r.split(msg.cs)
        if len(comps) > 3 and msg.unescape(comps[3]) == authority:
            chosen = k
            break
    return msg.get((name, occ, field, chosen, 1, 1))


def apply(rules, msg, state, authority, implied, stats):
    """Applies the rules to msg; returns the keys it touched."""
    touched = []
    for rule in rules:
        if not rule.matches(msg):
            continue
        targets = msg.occurrences(rule.foreach) if rule.foreach else [None]
        for visited in targets:
            ok = True
            for p, accepted in rule.when:
                v = read(msg, p, rule.foreach, visited)
                if (v if v is not None else '') not in accepted:
                    ok = False
            if not ok:
                continue
            t = None
            for p in rule.time:
                v = read(msg, p, rule.foreach, visited)
                if v is not None:
                    t = parse_dtm(v, implied)
                    break
            assert t is not None, f"no time in {msg.type}^{msg.trigger}"
            case = read(msg, rule.case_id, rule.foreach, visited)
            subj = subject(msg, rule.subject_id, authority, rule.foreach, visited)
            act = rule.activity or rule.retract
            parts = []
            for k in rule.key:
                if k == 'case_id':
                    parts.append(case)
                elif k == 'subject_id':
                    parts.append(subj)
                elif k == 'activity':
                    parts.append(act)
                elif k == 'time':
                    parts.append(t.isoformat())
                else:
                    parts.append(read(msg, k, rule.foreach, visited))
            assert all(p is not None for p in parts), (rule.key, parts, msg.text[:200])
            key = '/'.join(parts)
            touched.append(key)
            if rule.retract:
                stats['retract' if key in state else 'retract_unknown'] += 1
                state.pop(key, None)
                continue
            value = None
            if rule.value:
                v = read(msg, rule.value, rule.foreach, visited)
                value = decimal.Decimal(v) if v is not None else None
            attrs = {}
            for a, p in rule.attrs.items():
                v = read(msg, p, rule.foreach, visited)
                if v is not None:
                    attrs[a] = v
            stats['update' if key in state else 'new'] += 1
            state[key] = (case, subj, act, t, value, tuple(sorted(attrs.items())))
    return touched


def frames(path):
    data = open(path, 'rb').read()
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x0b, f"{path}: no start block at byte {i}"
        j = data.index(b'\x1c\r', i)
        body = data[i + 1:j]
        assert b'\x0b' not in body and b'\x1c' not in body
        assert body.endswith(b'\r'), f"{path}: last segment not ended by CR at byte {i}"
        out.append(body)
        i = j + 2
    return out


def copy_unescape(s):
    return re.sub(r'\\(.)', lambda m: {'t': '\t', 'n': '\n', 'r': '\r'}.get(m.group(1), m.group(1)), s)


def expected_rows(d):
    rows = []
    for line in open(os.path.join(d, 'expected.tsv'), encoding='utf-8'):
        f = line.rstrip('\n').split('\t')
        t = datetime.datetime.strptime(f[4], '%Y-%m-%d %H:%M:%S.%f+00')
        value = None if f[5] == '\\N' else decimal.Decimal(f[5])
        attrs = json.loads(copy_unescape(f[6]))
        attrs = tuple(sorted((k, v if isinstance(v, str) else json.dumps(v)) for k, v in attrs.items()))
        rows.append((None if f[1] == '\\N' else f[1], None if f[2] == '\\N' else f[2], f[3], t, value,
                     attrs))
    return rows


RFC3339_RE = re.compile(r'(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)$')


def parse_rfc3339(s):
    m = RFC3339_RE.match(s)
    assert m, f"bad time {s!r}"
    y, mo, d, h, mi, se, frac, off = m.groups()
    t = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(se), int((frac or '').ljust(6, '0')))
    sec = 0 if off == 'Z' else (int(off[1:3]) * 3600 + int(off[4:6]) * 60) * (1 if off[0] == '+' else -1)
    return t - datetime.timedelta(seconds=sec)


def ndjson_final(d):
    """The final events of a replay of d's events-*.ndjson, by event_key, as expected_rows
    gives them, and the number of event lines read."""
    bad = set()
    for line in open(os.path.join(d, 'malformed.tsv'), encoding='utf-8'):
        f, no, _ = line.rstrip('\n').split('\t')
        bad.add((f, int(no)))
    state, n = {}, 0
    for path in sorted(glob.glob(os.path.join(d, 'events-*.ndjson'))):
        name = os.path.basename(path)
        with open(path, 'rb') as fh:
            for no, raw in enumerate(fh, 1):
                if (name, no) in bad:
                    continue
                n += 1
                o = json.loads(raw, parse_float=decimal.Decimal)
                key = o['event_key']
                if o.get('retract') is True:
                    assert key in state, f"{name}:{no} retracts an unknown key"
                    del state[key]
                    continue
                value = o.get('value')
                attrs = tuple(sorted((k, v if isinstance(v, str) else json.dumps(v))
                                     for k, v in o.get('attrs', {}).items()))
                state[key] = (o.get('case_id'), o.get('subject_id'), o['activity'],
                              parse_rfc3339(o['time']), None if value is None else decimal.Decimal(value),
                              attrs)
    return state, n


def main():
    d, conf = sys.argv[1], sys.argv[2]
    off = '+05:00'
    if '--tz-offset' in sys.argv:
        off = sys.argv[sys.argv.index('--tz-offset') + 1]
    implied = (int(off[1:3]) * 3600 + int(off[4:6]) * 60) * (1 if off[0] == '+' else -1)
    rules = [Rule(r) for r in parse_libconfig(open(conf, encoding='utf-8').read())['mapping']]

    state, stats = {}, collections.Counter()
    key_stream = {}
    seen = collections.Counter()
    controls = set()
    files = sorted(glob.glob(os.path.join(d, 'hl7-*.hl7')))
    assert files, "no hl7-*.hl7 files"
    n_msgs = 0
    for si, path in enumerate(files):
        bodies = frames(path)
        try:  # python3-hl7's mllp_send reads the file so: the same messages
            import io
            import hl7
            import hl7.client
            got = list(hl7.client.read_stream(io.BytesIO(open(path, 'rb').read())))
            assert got == [b.rstrip(b'\r') for b in bodies], f"{path}: mllp_send splits differently"
            seen['mllp_send'] += 1
        except ImportError:
            hl7 = None
        for body in bodies:
            n_msgs += 1
            msg = Msg(body)
            if hl7 is not None and n_msgs % 7 == 0:
                h = hl7.parse(body.decode(CHARSETS[msg.charset]))
                assert str(h.segment('MSH')[9][0][0]) == msg.type, "python3-hl7 disagrees on MSH-9"
            control = msg.get(('MSH', 1, 10, 1, 1, 1))
            assert control not in controls, f"MSH-10 {control} twice"
            controls.add(control)
            seen['charset ' + (msg.charset or '(none)')] += 1
            if msg.charset == '8859/1' and any(b >= 0x80 for b in body):
                seen['8859/1 with Latin-1 letters'] += 1
            if msg.charset != '8859/1' and re.search('[\u0400-\u04ff]', msg.text):
                seen['UTF-8 with Cyrillic'] += 1
            for e in ('\\F\\', '\\S\\', '\\T\\', '\\R\\', '\\E\\', '\\P\\'):
                if e in msg.text:
                    seen['escape ' + e] += 1
            seen['version ' + msg.get(('MSH', 1, 12, 1, 1, 1))] += 1
            seen['MSH-7 offset' if re.search(r'[+-]\d{4}$', msg.get(('MSH', 1, 7, 1, 1, 1)))
                 else 'MSH-7 no offset'] += 1
            pid3 = msg.field_reps('PID', 3)
            if len(pid3) > 1:
                seen['PID-3 HOSP first' if 'HOSP' in pid3[0] else 'PID-3 HOSP second'] += 1
            for k in apply(rules, msg, state, 'HOSP', implied, stats):
                assert key_stream.setdefault(k, si) == si, f"key {k} in two streams"

    got = collections.Counter(state.values())
    nd_note = ''
    if '--with-ndjson' in sys.argv:
        nd, nd_lines = ndjson_final(d)
        nd_cases = {k.split('/', 1)[0] for k in nd}
        both = nd_cases & {v[0] for v in state.values() if v[0] is not None}
        assert not both, f"{len(both)} cases both in NDJSON and HL7, e.g. {sorted(both)[:3]}"
        got.update(nd.values())
        nd_note = f" + {nd_lines} NDJSON lines -> {len(nd)} events"
    want = collections.Counter(expected_rows(d))
    missing, extra = want - got, got - want
    for label, rows in (('missing', missing), ('unexpected', extra)):
        for r in list(rows)[:5]:
            print(f"{label}: {r}", file=sys.stderr)
    assert not missing and not extra, f"{sum(missing.values())} missing, {sum(extra.values())} unexpected"

    need = ['charset 8859/1', 'charset UNICODE UTF-8', 'charset (none)', '8859/1 with Latin-1 letters',
            'UTF-8 with Cyrillic', 'escape \\F\\', 'escape \\S\\', 'escape \\T\\', 'escape \\R\\',
            'escape \\E\\', 'version 2.3', 'version 2.8', 'MSH-7 offset', 'PID-3 HOSP first',
            'PID-3 HOSP second']
    if '--no-implied' in sys.argv:
        assert not seen['MSH-7 no offset'], "a time without an offset at a fractional-hour offset"
    else:
        need.append('MSH-7 no offset')
    absent = [n for n in need if not seen[n]]
    assert not absent, f"forms never written: {absent}"
    print(f"hl7: {n_msgs} messages in {len(files)} streams -> {len(state)} events{nd_note} = expected.tsv; "
          f"new {stats['new']} update {stats['update']} retract {stats['retract']}"
          f"{'' if seen['mllp_send'] else ' (python3-hl7 not found: mllp_send framing not checked)'}")


if __name__ == '__main__':
    main()
