# The plugin SDK's host side: the registry of typed plugin metrics (ABI 1.2). The
# queue's try_push and wait_room are in unit.queue (CMakeLists.txt).
kpid_unit_test(plugin_metrics test_plugin_metrics.c LIBS kpidcore)
