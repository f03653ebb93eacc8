# shellcheck shell=bash
#
# What the pgsql source's tests share (sourced after lib.sh and kpid_test_init): a small
# hand-made HIS database beside the warehouse, read by a role that may only SELECT.
#
#   his_init [PGHOST]   creates database his_<test> and role his_<test> (LOGIN, no
#                       privilege but what his_grant gives) in the server at PGHOST (the
#                       test's own by default); both are dropped at exit
#   his_server DIR      starts a private PostgreSQL of its own for the HIS in DIR (pg.sh,
#                       in a subshell: the test's PG* variables stay), stopped and removed
#                       at exit; HIS_HOST is its socket directory, HIS_PG_DIR is DIR
#   his_sql SQL         runs SQL in the HIS database as the superuser, prints "a|b" rows
#   his_grant           lets the HIS role SELECT every table of schema his, nothing else
#   his_conninfo [K=V]  the libpq conninfo of the HIS role (and more keywords)
#   write_conf FILE SOURCES [GLOBAL]  a kpid.conf with the test's warehouse, no
#                       pseudonymization, the given sources list and global settings
#   metric NAME QUERY   the last logged value of the pgsql metric NAME of query QUERY

HIS_DB=his_$(printf '%s' "$KPID_TEST_NAME" | LC_ALL=C tr -c 'a-z0-9_' '_' | cut -c1-50)
HIS_ROLE=$HIS_DB
HIS_HOST='' # set by his_init (the test's server) or his_server
HIS_PORT=''
HIS_PG_DIR=''

_his_cleanup() {
    PGHOST=$HIS_HOST PGPORT=$HIS_PORT psql -X -q -d postgres \
        -c "DROP DATABASE IF EXISTS $HIS_DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $HIS_ROLE" \
        >/dev/null 2>&1 || true
}

# Runs the HIS cleanup, then lib.sh's (with the test's exit status).
_his_exit() {
    local rc=$?
    set +e
    if [ -n "$HIS_PG_DIR" ]; then
        (pg_destroy "$HIS_PG_DIR")
    else
        _his_cleanup
    fi
    (exit "$rc")
    _kpid_cleanup
}

his_init() {
    HIS_HOST=${1:-${HIS_HOST:-$PGHOST}}
    HIS_PORT=${HIS_PORT:-$PGPORT}
    _his_cleanup
    PGHOST=$HIS_HOST PGPORT=$HIS_PORT psql -X -q -v ON_ERROR_STOP=1 -d postgres \
        -c "CREATE DATABASE $HIS_DB" -c "CREATE ROLE $HIS_ROLE LOGIN" >/dev/null ||
        fail "cannot create the HIS database"
    trap _his_exit EXIT
    his_sql "CREATE SCHEMA his; REVOKE ALL ON SCHEMA public FROM PUBLIC" >/dev/null
}

his_server() {
    HIS_PG_DIR=$1
    trap _his_exit EXIT
    (pg_start "$HIS_PG_DIR" >/dev/null) || fail "cannot start the HIS's PostgreSQL"
    HIS_HOST=$(sed -n 's/^sock=//p' "$HIS_PG_DIR/pg.env")
    HIS_PORT=$KPID_PG_PORT
}

his_sql() {
    local out
    out=$(PGHOST=$HIS_HOST PGPORT=$HIS_PORT psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$HIS_DB" \
        -c "$1" 2>&1) || fail "HIS sql failed: $1: $out"
    printf '%s\n' "$out"
}

his_grant() {
    his_sql "GRANT USAGE ON SCHEMA his TO $HIS_ROLE;
             GRANT SELECT ON ALL TABLES IN SCHEMA his TO $HIS_ROLE" >/dev/null
}

his_conninfo() {
    printf 'host=%s port=%s dbname=%s user=%s%s\n' "$HIS_HOST" "$HIS_PORT" "$HIS_DB" "$HIS_ROLE" \
        "${1:+ $1}"
}

write_conf() {
    cat >"$1" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
log_level = "debug";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
${3:-}
sources = ( $2 );
CONF
}

metric() {
    grep "metric=$1 .*label.query=\"$2\"" "$KPID_LOG" | tail -n 1 | sed 's/.* value=//'
}
