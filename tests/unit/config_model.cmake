# The configuration, the management model and the libraries they brought to lib/
# (unit.config and unit.model are registered in CMakeLists.txt).

# lib/text: UTF-8 validation and the identifier rules.
kpid_unit_test(text test_text.c LIBS kpid_text NO_DAEMON)

# lib/names: tables of the names of enum values.
kpid_unit_test(names test_names.c LIBS kpid_names NO_DAEMON)
