# shellcheck shell=bash
# bench/lib.sh: what the benchmarks share. Source it with root (the repository) and
# build (the build directory) set; it sources tests/lib/pg.sh (pg_start, pg_destroy).
#
#   bench_build TARGET...          bootstrap, configure Release, build the targets
#   bench_load_conf FILE DB GEN KEY
#                                  a kpid.conf that only loads GEN/*.ndjson into database DB
#                                  of the server PGHOST points at (no management model)
#   bench_demo_conf FILE DB INBOX KEY
#                                  etc/demo.conf.in for database DB of the server PGHOST
#                                  points at, its file source reading INBOX/*.ndjson
#   bench_tune_server DIR          settings a production warehouse on this machine would
#                                  have, for the pg.sh server in DIR (restarted); prints them
#   bench_create_icu_warehouse NAME
#                                  pg_create_warehouse NAME, in an ICU locale (not C)
#   bench_model_indexes FILE       the indexes model sync makes on kpid.event for the KPIs
#                                  of configuration FILE, made now
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
warehouse = { conninfo = "host=$PGHOST port=$PGPORT dbname=$2 user=$KPID_PG_USER"; };
sources = ( { name = "events"; plugin = "file"; path = "$3/*.ndjson"; } );
CONF
}

_bench_esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; } # for the right side of s|||

# etc/demo.conf.in with its placeholders filled: the demo's management model (18 KPIs)
# and its file source, on database DB. Returns non-zero if a placeholder is left.
bench_demo_conf() {
    local f=$1 db=$2 inbox=$3 key=$4
    sed -e "s|@PLUGIN_DIR@|$(_bench_esc "$build/plugins")|g" \
        -e "s|@KEY_FILE@|$(_bench_esc "$key")|g" -e "s|@PGHOST@|$(_bench_esc "$PGHOST")|g" \
        -e "s|@INBOX@|$(_bench_esc "$inbox")|g" \
        -e "s|dbname=kpi |port=$PGPORT dbname=$(_bench_esc "$db") |" \
        "$root/etc/demo.conf.in" >"$f" || return 1
    if grep -q '@[A-Z_]*@' "$f" || ! grep -q "dbname=$db " "$f"; then
        printf 'bench: cannot fill in %s\n' "$root/etc/demo.conf.in" >&2
        return 1
    fi
}

# The settings of a production warehouse, sized for this machine from /proc/meminfo and
# nproc (bench/ingest's header explains them): written with ALTER SYSTEM into the server
# of the pg.sh instance in DIR (PGHOST points at it), which is then restarted. Durability
# stays as pg.sh has it: fsync, synchronous_commit and full_page_writes on. Prints
# "name = value" for each, as the restarted server reports it; returns non-zero when a
# setting is refused or the server does not come back.
bench_tune_server() {
    local dir=$1 mem_mb cpus sb ecs mwm par wc
    mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
    cpus=$(nproc)
    sb=$((mem_mb / 4 > 8192 ? 8192 : mem_mb / 4))       # 25 % of RAM, at most 8 GB
    ecs=$((mem_mb / 2))                                  # 50 % of RAM
    mwm=$((mem_mb / 16 > 2048 ? 2048 : mem_mb / 16))     # 1/16 of RAM, at most 2 GB
    par=$((cpus / 2 < 1 ? 1 : (cpus / 2 > 4 ? 4 : cpus / 2)))
    wc=on
    if [ "$(psql -X -A -t -d postgres -c "SELECT 'lz4' = ANY (enumvals) FROM pg_settings
                                            WHERE name = 'wal_compression'")" = t ]; then
        wc=lz4
    fi
    psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL || return 1
ALTER SYSTEM SET shared_buffers = '${sb}MB';
ALTER SYSTEM SET effective_cache_size = '${ecs}MB';
ALTER SYSTEM SET maintenance_work_mem = '${mwm}MB';
ALTER SYSTEM SET max_wal_size = '4GB';
ALTER SYSTEM SET min_wal_size = '1GB';
ALTER SYSTEM SET wal_compression = '$wc';
ALTER SYSTEM SET wal_buffers = '64MB';
ALTER SYSTEM SET checkpoint_timeout = '15min';
ALTER SYSTEM SET checkpoint_completion_target = 0.9;
ALTER SYSTEM SET max_worker_processes = $((cpus > 8 ? cpus : 8));
ALTER SYSTEM SET max_parallel_workers = $cpus;
ALTER SYSTEM SET max_parallel_workers_per_gather = $par;
ALTER SYSTEM SET max_parallel_maintenance_workers = $par;
ALTER SYSTEM SET fsync = on;
ALTER SYSTEM SET synchronous_commit = on;
ALTER SYSTEM SET full_page_writes = on;
SQL
    pg_restart "$dir" >/dev/null || return 1
    psql -X -A -t -v ON_ERROR_STOP=1 -d postgres -c "
        SELECT name || ' = ' || current_setting(name)
        FROM unnest(ARRAY['shared_buffers', 'effective_cache_size', 'maintenance_work_mem',
                          'max_wal_size', 'min_wal_size', 'wal_compression', 'wal_buffers',
                          'checkpoint_timeout', 'checkpoint_completion_target',
                          'max_parallel_workers', 'max_parallel_workers_per_gather',
                          'max_parallel_maintenance_workers', 'work_mem', 'fsync',
                          'synchronous_commit', 'full_page_writes']) WITH ORDINALITY s(name, i)
        ORDER BY i"
}

# A database NAME as pg_create_warehouse makes it (schema kpid owned by KPID_PG_USER),
# but in an ICU locale, as a hospital's database would be: collation from ICU locale
# BENCH_ICU_LOCALE (default en-US), LC_COLLATE and LC_CTYPE C.UTF-8 (the only UTF-8 libc
# locale a minimal Debian has). Prints nothing; returns non-zero on failure.
bench_create_icu_warehouse() {
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -v name="$1" \
        -v icu="${BENCH_ICU_LOCALE:-en-US}" >/dev/null <<'SQL' || return 1
CREATE DATABASE :"name" TEMPLATE template0 ENCODING 'UTF8'
    LOCALE_PROVIDER icu ICU_LOCALE :'icu' LOCALE 'C.UTF-8';
SQL
    printf '%s\n' 'CREATE SCHEMA kpid AUTHORIZATION :"role";' |
        psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v role="$KPID_PG_USER" >/dev/null
}

# Syncs the management model of configuration FILE into its warehouse, which makes the
# indexes its KPIs read on kpid.event (model sync, CREATE INDEX CONCURRENTLY), as kpid
# does at start-up: `kpid backfill` of one day (cheap on a log still empty, no matter
# what it evaluates). A configuration without a model (bench_load_conf) never syncs, so
# the indexes stay. Returns non-zero, with kpid's output on stderr, on failure.
bench_model_indexes() {
    local out
    out=$("$build/bin/kpid" -c "$1" backfill --from 2000-01-01 --to 2000-01-02 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
}

now() { date +%s.%N; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
