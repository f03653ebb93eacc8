# lib/hl7's mapper: rules from configuration text applied to parsed messages.
kpid_unit_test(hl7_map test_hl7_map.c LIBS kpid_hl7_map NO_DAEMON)
