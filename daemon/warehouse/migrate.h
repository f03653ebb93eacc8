/*
 * Warehouse migrations: the files of sql/ compiled in (see cmake/embed_sql.cmake),
 * applied in version order, each in its own transaction, recorded in
 * kpid.schema_version. An advisory lock keeps two instances from migrating at once.
 */
#ifndef KPID_MIGRATE_H
#define KPID_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct kpid_migration {
    int version;
    const char *name;
    const char *sql;
} kpid_migration;

extern const kpid_migration kpid_migrations[];
extern const size_t kpid_migrations_count;

/*
 * Brings the warehouse to the newest version this binary knows, then (re)applies the
 * roles' grants (grants.h), also when no migration was due. A warehouse newer than
 * that is refused (-EPROTO): an older kpid must not write into a schema it does not
 * know. Returns 0, -EPROTO, or -EIO (-EACCES when the warehouse refused kpid's role,
 * pgconn.h) with *ret_error freshly allocated; *ret_applied
 * (if not NULL) is the number of migrations applied.
 */
int kpid_migrate(PGconn *conn, int *ret_applied, char **ret_error);

/* The newest version this binary knows. */
int kpid_migrate_latest(void);

#endif
