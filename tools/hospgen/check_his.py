#!/usr/bin/env python3
"""Helpers of check_his.sh, in plain Python (no packages, no kpid code).

  check_his.py sql CONF          prints SQL that runs every query of CONF (a source
                                 fragment of plugin pgsql, etc/his-pgsql.conf) with the
                                 mapping's column logic applied, into temporary tables:
                                   mapped(query, kind, event_key, case_id, subject_id,
                                          activity, time, value, attrs, retract)
                                   selected(query, col, v)   every value a query selects
                                   retracting(query)  the queries that may retract
  check_his.py ndjson DIR OUT    replays DIR's events-*.ndjson (malformed lines skipped,
                                 the last line of a key wins, a retraction deletes) into
                                 OUT, rows as expected.tsv's

The mapping semantics are those of the HIS sources' contract: one event per row, the
activity a constant or a column, attributes name -> column with NULL left out and values
as text, a row whose retract_when column is true retracts its event_key, and every row of
a query of kind "retractions" retracts its event_key.
"""
import glob
import json
import os
import re
import sys
from decimal import Decimal


class ConfigError(Exception):
    pass


def parse_libconfig(text):
    """Parses the libconfig subset the fragment uses: settings (= or :, ; or , or
    nothing after), groups, lists, arrays, strings (escapes, adjacent ones joined),
    integers, floats, booleans; #, // and /* */ comments. Returns a dict."""
    tok = re.compile(r'''
        (?P<ws>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.\d*(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)L{0,2})
      | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
      | (?P<punct>[=:;,{}()\[\]])
      | (?P<inc>@include)
    ''', re.S | re.X)
    toks = []
    pos = 0
    while pos < len(text):
        m = tok.match(text, pos)
        if not m:
            raise ConfigError("cannot read %r at line %d" % (text[pos:pos + 20],
                                                               text.count("\n", 0, pos) + 1))
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        if kind == "inc":
            raise ConfigError("@include is not supported here")
        toks.append((kind, m.group(kind)))
    toks.append(("end", ""))
    i = 0

    def peek():
        return toks[i]

    def take(kind=None, val=None):
        nonlocal i
        k, v = toks[i]
        if (kind and k != kind) or (val and v != val):
            raise ConfigError("expected %s, found %r" % (val or kind, v))
        i += 1
        return v

    def unquote(s):
        esc = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "\\": "\\", '"': '"'}
        out = []
        j = 1
        while j < len(s) - 1:
            c = s[j]
            if c == "\\":
                n = s[j + 1]
                if n == "x":
                    out.append(chr(int(s[j + 2:j + 4], 16)))
                    j += 4
                    continue
                out.append(esc.get(n, n))
                j += 2
                continue
            out.append(c)
            j += 1
        return "".join(out)

    def value():
        k, v = peek()
        if k == "str":
            parts = []
            while peek()[0] == "str":
                parts.append(unquote(take("str")))
            return "".join(parts)
        if k == "num":
            take()
            v = v.rstrip("L")
            if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", v):
                return int(v, 16)
            return float(v) if re.search(r"[.eE]", v) else int(v)
        if k == "name" and v.lower() in ("true", "false"):
            take()
            return v.lower() == "true"
        if v == "{":
            take()
            g = settings("}")
            take("punct", "}")
            return g
        if v in ("(", "["):
            close = ")" if v == "(" else "]"
            take()
            items = []
            while peek()[1] != close:
                items.append(value())
                if peek()[1] == ",":
                    take()
                elif peek()[1] != close:
                    raise ConfigError("expected , or %s, found %r" % (close, peek()[1]))
            take("punct", close)
            return items
        raise ConfigError("unexpected %r" % v)

    def settings(close):
        g = {}
        while peek()[1] != close and peek()[0] != "end":
            name = take("name")
            if peek()[1] not in ("=", ":"):
                raise ConfigError("expected = after %s" % name)
            take()
            if name in g:
                raise ConfigError("duplicate setting %s" % name)
            g[name] = value()
            if peek()[1] in (";", ","):
                take()
        return g

    g = settings("")
    if peek()[0] != "end":
        raise ConfigError("unexpected %r" % peek()[1])
    return g


def ident(name):
    return '"' + name.replace('"', '""') + '"'


def literal(s):
    return "'" + s.replace("'", "''") + "'"


def column(q, key, cast):
    """The SQL of result column q[key] cast to cast, or NULL of that type."""
    if key in q:
        return "(q.%s)::%s" % (ident(q[key]), cast)
    return "NULL::%s" % cast


def mapping_sql(conf):
    queries = conf.get("queries")
    if not isinstance(queries, list) or not queries:
        raise ConfigError("no queries")
    out = ["CREATE TEMP TABLE mapped (query text, kind text, event_key text, case_id text, "
           "subject_id text, activity text, time timestamptz, value numeric, attrs jsonb, "
           "retract boolean);",
           "CREATE TEMP TABLE selected (query text, col text, v text);",
           "CREATE TEMP TABLE retracting (query text);"]
    names = set()
    for q in queries:
        name = q.get("name", "")
        if not re.fullmatch(r"[a-z0-9_]{1,32}", name) or name in names:
            raise ConfigError("query name %r is not [a-z0-9_]{1,32} or not unique" % name)
        names.add(name)
        for key in ("sql", "watermark", "watermark_type", "tiebreaker", "event_key"):
            if key not in q:
                raise ConfigError("query %s has no %s" % (name, key))
        sql = q["sql"]
        if re.search(r"\b(ORDER\s+BY|LIMIT)\b", sql, re.I):
            raise ConfigError("query %s: no ORDER BY or LIMIT (the plugin pages)" % name)
        kind = q.get("kind", "events")
        if kind == "retractions":
            row = ["%s" % literal(name), "'retractions'", column(q, "event_key", "text")]
            row += ["NULL::text"] * 3 + ["NULL::timestamptz", "NULL::numeric", "NULL::jsonb",
                                         "true"]
        elif kind == "events":
            if "time" not in q or ("activity" in q) == ("activity_column" in q):
                raise ConfigError("query %s needs time and one of activity, activity_column"
                                  % name)
            activity = (literal(q["activity"]) if "activity" in q
                        else column(q, "activity_column", "text"))
            pairs = ", ".join("%s, %s" % (literal(k), "(q.%s)::text" % ident(v))
                              for k, v in q.get("attributes", {}).items())
            attrs = ("jsonb_strip_nulls(jsonb_build_object(%s))" % pairs if pairs
                     else "'{}'::jsonb")
            retract = ("coalesce((q.%s)::boolean, false)" % ident(q["retract_when"])
                       if "retract_when" in q else "false")
            row = [literal(name), "'events'", column(q, "event_key", "text"),
                   column(q, "case_id", "text"), column(q, "subject_id", "text"), activity,
                   column(q, "time", "timestamptz"), column(q, "value", "numeric"), attrs,
                   retract]
        else:
            raise ConfigError("query %s: kind %r" % (name, kind))
        if kind == "retractions" or "retract_when" in q:
            out.append("INSERT INTO retracting VALUES (%s);" % literal(name))
        out.append("INSERT INTO mapped SELECT %s FROM (%s) AS q;" % (", ".join(row), sql))
        out.append("INSERT INTO selected SELECT DISTINCT %s, sel.k, sel.v FROM (%s) AS q, "
                   "jsonb_each_text(to_jsonb(q)) AS sel(k, v);" % (literal(name), sql))
    return "\n".join(out) + "\n"


def copy_text(s):
    if s is None:
        return "\\N"
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def replay_ndjson(d, out):
    bad = set()
    for row in open(os.path.join(d, "malformed.tsv"), encoding="utf-8"):
        f, line, _ = row.rstrip("\n").split("\t")
        bad.add((f, int(line)))
    final = {}
    for path in sorted(glob.glob(os.path.join(d, "events-*.ndjson"))):
        f = os.path.basename(path)
        with open(path, "rb") as fh:
            for no, raw in enumerate(fh, 1):
                if (f, no) in bad:
                    continue
                j = json.loads(raw, parse_float=Decimal)
                key = j["event_key"]
                final.pop(key, None)  # the last line of a key wins, in feed order
                if not j.get("retract"):
                    final[key] = j
    with open(out, "w", encoding="utf-8") as fh:
        for key, j in final.items():
            value = j.get("value")
            attrs = {k: v if isinstance(v, str) else str(v)
                     for k, v in (j.get("attrs") or {}).items()}
            fh.write("\t".join([
                copy_text(key), copy_text(j.get("case_id")), copy_text(j.get("subject_id")),
                copy_text(j["activity"]), copy_text(j["time"]),
                "\\N" if value is None else str(value),
                copy_text(json.dumps(attrs, ensure_ascii=False))]) + "\n")


def main(argv):
    if len(argv) == 3 and argv[1] == "sql":
        with open(argv[2], encoding="utf-8") as fh:
            conf = parse_libconfig(fh.read())
        sys.stdout.write(mapping_sql(conf))
        return 0
    if len(argv) == 4 and argv[1] == "ndjson":
        replay_ndjson(argv[2], argv[3])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except ConfigError as e:
        sys.stderr.write("check_his.py: %s\n" % e)
        sys.exit(1)
