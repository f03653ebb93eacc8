# lib/hl7: one message parsed, every part read by path, DTM values, the ACK built and
# parsed back (the fallback ACK for what does not parse), and the input read as a path.
kpid_fuzz_target(hl7_parse fuzz_hl7_parse.c
    ${CMAKE_SOURCE_DIR}/lib/hl7/parse.c
    ${CMAKE_SOURCE_DIR}/lib/hl7/escape.c
    ${CMAKE_SOURCE_DIR}/lib/hl7/path.c
    ${CMAKE_SOURCE_DIR}/lib/hl7/charset.c
    ${CMAKE_SOURCE_DIR}/lib/hl7/dtm.c
    ${CMAKE_SOURCE_DIR}/lib/hl7/ack.c
    ${CMAKE_SOURCE_DIR}/lib/buf/buf.c
    ${CMAKE_SOURCE_DIR}/lib/text/utf8.c
    ${CMAKE_SOURCE_DIR}/lib/time/civil.c
    ${CMAKE_SOURCE_DIR}/lib/time/tz.c
    ${CMAKE_SOURCE_DIR}/lib/time/tz_rule.c
    ${CMAKE_SOURCE_DIR}/lib/time/tzif.c
    CORPUS corpus/hl7 NO_DAEMON)
target_include_directories(fuzz_hl7_parse PRIVATE ${CMAKE_SOURCE_DIR}/lib)
