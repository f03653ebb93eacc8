#include "ingest/source_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "warehouse/pgconn.h"

/* WITH HOLD is not needed: the cursor lives exactly as long as the transaction. */
static const char SQL_DECLARE[] =
    "DECLARE kpid_state NO SCROLL CURSOR FOR SELECT key, value FROM kpid.source_state"
    " WHERE source = $1 ORDER BY key";

#define STR(x) #x
#define XSTR(x) STR(x)
static const char SQL_FETCH[] = "FETCH " XSTR(KPID_STATE_PAGE_ROWS) " FROM kpid_state";

int kpid_source_state_load(const kpid_pg_target *warehouse, const char *source,
                           int (*fn)(void *arg, const char *key, const char *value), void *arg,
                           char **ret_error)
{
    const char *params[1] = {source};
    char *msg = NULL;
    PGresult *res = NULL;
    PGconn *conn = NULL;
    int r;

    *ret_error = NULL;
    r = kpid_pg_open(warehouse, &conn, &msg);
    if (r < 0) {
        int e = r;
        r = kpid_pg_fail(ret_error, "cannot connect to the warehouse", msg ? msg : "out of memory");
        free(msg);
        return e == -EACCES ? e : r;
    }
    /* One snapshot for all pages. */
    r = kpid_pg_query(conn, "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ", 0, NULL, NULL,
                      "cannot begin reading kpid.source_state", ret_error);
    if (r == 0)
        r = kpid_pg_query(conn, SQL_DECLARE, 1, params, NULL, "cannot read kpid.source_state",
                          ret_error);
    while (r == 0) {
        r = kpid_pg_query(conn, SQL_FETCH, 0, NULL, &res, "cannot read kpid.source_state",
                          ret_error);
        if (r < 0)
            break;
        int n = PQntuples(res);
        for (int i = 0; i < n && r == 0; i++)
            r = fn(arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        PQclear(res);
        res = NULL;
        if (n < KPID_STATE_PAGE_ROWS)
            break;
    }
    /* A read-only transaction: ending it either way changes nothing. */
    if (r == 0)
        r = kpid_pg_query(conn, "COMMIT", 0, NULL, NULL, "cannot end reading kpid.source_state",
                          ret_error);
    PQfinish(conn);
    if (r < 0 && r != -EIO && r != -EACCES) {
        free(*ret_error);
        *ret_error = NULL;
    }
    return r;
}
