# lib/: the libraries that plugins and the daemon link, each test linking only its
# library (no daemon/ on the include path).

# lib/buf: the growable buffer.
kpid_unit_test(buf test_buf.c LIBS kpid_buf NO_DAEMON)

# lib/time: civil dates, time zones (TZif) and RFC 3339 timestamps.
kpid_unit_test(tz test_tz.c time_fixture.c LIBS kpid_time NO_DAEMON)
kpid_unit_test(rfc3339 test_rfc3339.c LIBS kpid_time NO_DAEMON)

# lib/json: the scanner's walk, values and errors (the NDJSON tests hold it to jansson).
kpid_unit_test(json test_json.c LIBS kpid_json NO_DAEMON)
