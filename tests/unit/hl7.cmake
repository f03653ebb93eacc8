# lib/hl7: HL7 v2 messages, each test linking only the library (no daemon/).
# The parse: realistic messages, separators, segment ends, charsets, errors, limits, cuts.
kpid_unit_test(hl7_parse test_hl7_parse.c LIBS kpid_hl7 NO_DAEMON)
# Values: escapes, \X..\ in each charset, controls, nulls, paths, raw spans, counts.
kpid_unit_test(hl7_value test_hl7_value.c LIBS kpid_hl7 NO_DAEMON)
# DTM/TS times: precisions, offsets, Europe/Berlin across DST changes, invalid times.
kpid_unit_test(hl7_dtm test_hl7_dtm.c LIBS kpid_hl7 NO_DAEMON)
# Acknowledgments: every field by value, ERR by version, separators, charsets, fallback.
kpid_unit_test(hl7_ack test_hl7_ack.c LIBS kpid_hl7 NO_DAEMON)
