# plugins/hl7: the MLLP framer, fed the same stream whole, a byte at a time and in chunks
# the input draws, against a reference model; messages framed again by the encoder.
kpid_fuzz_target(mllp_frame fuzz_mllp_frame.c
    ${CMAKE_SOURCE_DIR}/plugins/hl7/mllp_frame.c
    ${CMAKE_SOURCE_DIR}/lib/buf/buf.c
    CORPUS corpus/mllp NO_DAEMON)
target_include_directories(fuzz_mllp_frame PRIVATE ${CMAKE_SOURCE_DIR}/plugins/hl7
    ${CMAKE_SOURCE_DIR}/lib)
