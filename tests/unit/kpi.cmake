# The KPI engine's and the warehouse's side of kpid, and the libraries they use.

# lib/retry: capped backoff with jitter, and logging once per change of state.
kpid_unit_test(retry test_retry.c LIBS kpid_retry)
