#include "warehouse/grants.h"

#include "ops/log.h"
#include "warehouse/pgconn.h"

void kpid_grants_apply(PGconn *conn)
{
    /* One implicit transaction: the DO block that creates and grants, then the report. */
    PGresult *res = PQexec(conn, kpid_grants_sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 3) {
        log_warning("cannot apply the warehouse roles' grants error=\"%s\"; dashboards, "
                    "analysts and sql KPIs may lack privileges until a start succeeds",
                    kpid_log_value(kpid_pg_error_line(conn, res)));
        PQclear(res);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++)
        log_warning("warehouse role=%s %s; %s", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                    PQgetvalue(res, i, 2));
    PQclear(res);
}
