# shellcheck shell=bash
# bench/lib.sh: what the benchmarks share. Source it with root (the repository) and
# build (the build directory) set; it sources tests/lib/pg.sh (pg_start, pg_destroy).
#
#   bench_build TARGET...          bootstrap, configure Release, build the targets
#   bench_load_conf FILE DB GEN KEY
#                                  a kpid.conf that only loads GEN/*.ndjson into database DB
#                                  of the server PGHOST points at (no management model)
#   now                            wall-clock seconds, with nanoseconds
#   median                         the median of the numbers on stdin, one a line

source "$root/tests/lib/pg.sh"

bench_build() {
    "$root/scripts/bootstrap"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target "$@" >/dev/null
}

bench_load_conf() {
    cat >"$1" <<CONF
plugin_dir = "$build/plugins";
pseudonym_key_file = "$4";
warehouse = { conninfo = "host=$PGHOST port=$PGPORT dbname=$2 user=$KPID_PG_USER";
              batch_max_rows = 10000; flush_interval_ms = 200; };
sources = ( { name = "events"; plugin = "file"; path = "$3/*.ndjson"; } );
CONF
}

now() { date +%s.%N; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
