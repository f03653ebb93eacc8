# lib/hl7: HL7 v2 messages, each test linking only the library (no daemon/).
# The parse: realistic messages, separators, segment ends, charsets, errors, limits, cuts.
kpid_unit_test(hl7_parse test_hl7_parse.c LIBS kpid_hl7 NO_DAEMON)
