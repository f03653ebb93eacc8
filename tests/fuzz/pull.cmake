# lib/pull: the cursor of the HIS database sources as kpid.cursor hands it back, the
# watermarks and times a database prints, and a query's SQL checked for its shape.
kpid_fuzz_target(pull_cursor pull_cursor.c
    ${CMAKE_SOURCE_DIR}/lib/pull/cursor.c
    ${CMAKE_SOURCE_DIR}/lib/pull/position.c
    ${CMAKE_SOURCE_DIR}/lib/pull/sqlcheck.c
    ${CMAKE_SOURCE_DIR}/lib/pull/spec.c
    ${CMAKE_SOURCE_DIR}/lib/json/scan.c
    ${CMAKE_SOURCE_DIR}/lib/json/string.c
    ${CMAKE_SOURCE_DIR}/lib/json/number.c
    ${CMAKE_SOURCE_DIR}/lib/json/keys.c
    ${CMAKE_SOURCE_DIR}/lib/json/write.c
    ${CMAKE_SOURCE_DIR}/lib/buf/buf.c
    ${CMAKE_SOURCE_DIR}/lib/text/utf8.c
    ${CMAKE_SOURCE_DIR}/lib/text/ident.c
    ${CMAKE_SOURCE_DIR}/lib/time/rfc3339.c
    ${CMAKE_SOURCE_DIR}/lib/time/civil.c
    ${CMAKE_SOURCE_DIR}/lib/time/timestamp.c
    LIBS PkgConfig::LIBCONFIG Threads::Threads m
    CORPUS corpus/pull_cursor NO_DAEMON)
target_include_directories(fuzz_pull_cursor PRIVATE ${CMAKE_SOURCE_DIR}/lib)
