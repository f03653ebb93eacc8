-- kpid warehouse, version 9: sql KPIs run with least privilege.
--
-- An sql KPI is the operator's own query. kpid runs it on a connection of its own, in a
-- READ ONLY transaction that is always rolled back, through kpid.sql_kpi_rows below,
-- which runs as role kpid_sql: NOLOGIN, a member of no role, with USAGE on schema kpid
-- and SELECT on kpid.event, kpid.kpi_value and the dashboards' views only (granted by
-- sql/grants.sql at every start). Being a SECURITY DEFINER function owned by kpid_sql is
-- what makes the boundary: PostgreSQL refuses to change role or session_authorization
-- inside a security-definer function, so the query cannot switch back to kpid's own
-- login role the way it could after a plain SET LOCAL ROLE (set_config('role', ...)).
-- See docs/kpi-semantics.md, "sql".
--
-- The function is created here as SECURITY INVOKER, owned by kpid: it runs as whoever
-- calls it, which gives no one anything. sql/grants.sql makes it SECURITY DEFINER and
-- gives it to kpid_sql as soon as that role exists and kpid is a member of it; the
-- daemon checks that (kpid.sql_kpi_role_problems) before every sql KPI and never runs
-- one otherwise.

-- Runs query, given $1 = period_start and $2 = period_end, and returns each row of it
-- as the text of a record ("(1.5,,"{""ward"": ""A""}")": each column's own output, in
-- order, empty for NULL). A statement that returns no rows at all (a command) is run as
-- one and yields a single NULL instead, so that the caller can tell it from a query
-- that returned nothing. The caller prepares the query first (one statement only) and
-- reads its column names and types from that.
CREATE FUNCTION kpid.sql_kpi_rows(query text, period_start timestamptz,
                                  period_end timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c  refcursor;
    r  record;
BEGIN
    BEGIN
        OPEN c FOR EXECUTE query USING period_start, period_end;
    EXCEPTION WHEN invalid_cursor_definition THEN
        EXECUTE query USING period_start, period_end;
        RETURN NEXT NULL;
        RETURN;
    END;
    LOOP
        FETCH c INTO r;
        EXIT WHEN NOT FOUND;
        RETURN NEXT r::text;
    END LOOP;
    CLOSE c;
END
$$;
REVOKE EXECUTE ON FUNCTION kpid.sql_kpi_rows(text, timestamptz, timestamptz) FROM PUBLIC;

-- Why sql KPIs cannot run yet, if they cannot: one row per problem with role kpid_sql
-- (problem, phrased after "role kpid_sql"), and what fixes it (remedy), first things
-- first; no row when all is in place. The role kpid logs in as is session_user.
CREATE FUNCTION kpid.sql_kpi_role_problems()
RETURNS TABLE (problem text, remedy text)
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
    WITH r AS (
        SELECT oid, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
               rolcanlogin
        FROM pg_roles WHERE rolname = 'kpid_sql'
    ), p AS (
        SELECT 1 AS ord, 'does not exist' AS problem,
               format('as a DBA run: CREATE ROLE kpid_sql NOLOGIN; GRANT kpid_sql TO %I; then'
                      ' restart kpid or run kpid --migrate', session_user) AS remedy
        WHERE NOT EXISTS (SELECT FROM r)
        UNION ALL
        SELECT 2, format('is not granted to %I, the role kpid logs in as', session_user),
               format('as a DBA run: GRANT kpid_sql TO %I; then restart kpid or run'
                      ' kpid --migrate', session_user)
        FROM r WHERE NOT pg_has_role(session_user, r.oid, 'MEMBER')
        UNION ALL
        SELECT 3, format('is a member of role %I', g.rolname),
               format('as a DBA run: REVOKE %I FROM kpid_sql;', g.rolname)
        FROM r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid
        UNION ALL
        SELECT 4, format('has the attribute %s', a.attribute),
               format('as a DBA run: ALTER ROLE kpid_sql NO%s;', a.attribute)
        FROM r CROSS JOIN LATERAL (VALUES (r.rolsuper, 'SUPERUSER'),
                                          (r.rolcreaterole, 'CREATEROLE'),
                                          (r.rolcreatedb, 'CREATEDB'),
                                          (r.rolreplication, 'REPLICATION'),
                                          (r.rolbypassrls, 'BYPASSRLS'),
                                          (r.rolcanlogin, 'LOGIN')) AS a (has, attribute)
        WHERE a.has
        UNION ALL
        SELECT 5, format('owns database %I', d.datname),
               format('as a DBA run: ALTER DATABASE %I OWNER TO %I;', d.datname, session_user)
        FROM r JOIN pg_database d ON d.datdba = r.oid AND d.datname = current_database()
        UNION ALL
        SELECT 6, 'does not own function kpid.sql_kpi_rows as SECURITY DEFINER yet',
               'restart kpid or run kpid --migrate'
        FROM r WHERE pg_has_role(session_user, r.oid, 'MEMBER')
          AND NOT EXISTS (SELECT FROM pg_proc f
                          WHERE f.oid = to_regprocedure(
                                    'kpid.sql_kpi_rows(text, timestamptz, timestamptz)')
                            AND f.proowner = r.oid AND f.prosecdef)
    )
    SELECT problem, remedy FROM p ORDER BY ord, problem
$$;
