#include "warehouse/migrate.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "warehouse/grants.h"
#include "ops/log.h"
#include "warehouse/pgconn.h"

/* pg_advisory_lock key: "kpid" in ASCII, then 1 for migrations. */
#define MIGRATE_LOCK "SELECT pg_advisory_lock(1802529124, 1)"
#define MIGRATE_UNLOCK "SELECT pg_advisory_unlock(1802529124, 1)"

int kpid_migrate_latest(void)
{
    return kpid_migrations_count ? kpid_migrations[kpid_migrations_count - 1].version : 0;
}

/* kpid_pg_fail, but -EACCES when the warehouse refused kpid's role (pgconn.h). */
static int failed(char **ret_error, const char *what, const char *state, const char *msg)
{
    int r = kpid_pg_fail(ret_error, what, msg);
    return kpid_pg_refused(state) ? -EACCES : r;
}

int kpid_migrate(PGconn *conn, int *ret_applied, char **ret_error)
{
    const char *msg, *state = NULL;
    PGresult *res;
    int64_t found;
    int current, applied = 0, r;

    *ret_error = NULL;
    if (kpid_pg_exec(conn, MIGRATE_LOCK, &state, &msg) < 0)
        return failed(ret_error, "cannot lock the warehouse for migration", state, msg);
    /* CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema is
     * there: a DBA who made kpid the owner of schema kpid grants nothing else. */
    if (kpid_pg_exec(conn,
                     "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'kpid')"
                     " THEN CREATE SCHEMA kpid; END IF; END $$;"
                     "CREATE TABLE IF NOT EXISTS kpid.schema_version ("
                     " version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     &state, &msg) < 0) {
        r = failed(ret_error, "cannot create kpid.schema_version", state, msg);
        goto out;
    }
    res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM kpid.schema_version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        r = failed(ret_error, "cannot read kpid.schema_version",
                   PQresultErrorField(res, PG_DIAG_SQLSTATE), kpid_pg_error_line(conn, res));
        PQclear(res);
        goto out;
    }
    r = kpid_pg_int64(PQgetvalue(res, 0, 0), &found);
    PQclear(res);
    if (r < 0 || found < 0 || found > INT_MAX) {
        r = kpid_pg_fail(ret_error, "cannot read kpid.schema_version", "not a version number");
        goto out;
    }
    current = (int)found;

    if (current > kpid_migrate_latest()) {
        if (asprintf(ret_error,
                     "warehouse schema version %d is newer than this kpid knows (%d); "
                     "upgrade kpid, or point it at another database",
                     current, kpid_migrate_latest()) < 0)
            *ret_error = NULL;
        r = -EPROTO;
        goto out;
    }
    for (size_t i = 0; i < kpid_migrations_count; i++) {
        const kpid_migration *m = &kpid_migrations[i];
        char version[16];
        const char *params[2] = {version, m->name};

        if (m->version <= current)
            continue;
        snprintf(version, sizeof(version), "%d", m->version);
        /* A migration may build an index over a long event log: no statement_timeout. */
        if (kpid_pg_exec(conn, "BEGIN; SET LOCAL statement_timeout = 0", &state, &msg) < 0) {
            r = failed(ret_error, m->name, state, msg);
            goto out;
        }
        if (kpid_pg_exec(conn, m->sql, &state, &msg) < 0) {
            r = failed(ret_error, m->name, state, msg);
            kpid_pg_exec(conn, "ROLLBACK", NULL, NULL);
            goto out;
        }
        res = PQexecParams(conn, "INSERT INTO kpid.schema_version (version, name) VALUES ($1, $2)",
                           2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            r = kpid_pg_fail(ret_error, m->name, kpid_pg_error_line(conn, res));
            PQclear(res);
            kpid_pg_exec(conn, "ROLLBACK", NULL, NULL);
            goto out;
        }
        PQclear(res);
        if (kpid_pg_exec(conn, "COMMIT", NULL, &msg) < 0) {
            r = kpid_pg_fail(ret_error, m->name, msg);
            goto out;
        }
        log_info("migration applied version=%d name=%s", m->version, m->name);
        applied++;
    }
    /* After the migrations, at every start: roles a DBA created since get their grants. */
    kpid_grants_apply(conn);
    r = 0;
out:
    kpid_pg_exec(conn, MIGRATE_UNLOCK, NULL, NULL);
    if (ret_applied)
        *ret_applied = applied;
    return r;
}
