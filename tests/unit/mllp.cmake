# plugins/hl7: MLLP framing (frames cut anywhere, garbage, oversized, broken and restarted
# frames, a randomly cut stream of known frames) and the encoder for ACKs.
kpid_unit_test(mllp_frame test_mllp_frame.c LIBS kpid_hl7_mllp NO_DAEMON)
