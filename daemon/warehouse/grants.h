/*
 * The warehouse's roles and their privileges: sql/grants.sql, compiled in (see
 * cmake/embed_sql.cmake), run after the migrations at every start and at --migrate, under
 * the migration lock (migrate.c). It creates kpid_reader, kpid_analyst and kpid_sql when
 * they are missing and kpid may (CREATEROLE), and (re)applies every grant, so that roles
 * a DBA creates later are granted at the next start.
 */
#ifndef KPID_GRANTS_H
#define KPID_GRANTS_H

#include <libpq-fe.h>

extern const char kpid_grants_sql[];

/*
 * Runs the grants script on conn (outside a transaction) and logs, as one warning each,
 * what it could not put in place (a role missing, kpid_sql not granted to kpid, kpid a
 * superuser), with the statements a DBA runs. Nothing of kpid's own work depends on it:
 * a failure of the script is a warning too, and kpid goes on; sql KPIs check their role
 * themselves before each run (kpi_sql.h).
 */
void kpid_grants_apply(PGconn *conn);

#endif
