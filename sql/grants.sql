-- The warehouse's roles and their privileges. Not a migration: kpid runs this script
-- after the migrations at every start and at `kpid --migrate` (daemon/grants.c), under
-- the migration lock, so that a role a DBA created since the last start is granted at
-- the next one, and privileges that drifted are put right. Every statement in it is
-- idempotent. Roles are global to the PostgreSQL cluster; everything else here belongs
-- to this database.
--
--   kpid_reader   dashboards: USAGE on schema kpid, SELECT on the views scorecard,
--                 perspective_score, process_landscape and on kpid.kpi_value; never raw
--                 events or rejected input
--   kpid_analyst  drill-down: USAGE on schema kpid, EXECUTE on kpid.kpi_cases
--
-- Rejected input (kpid.rejected, and kpid.rejected_retention beside it) may be patient
-- data: no role but kpid's own has a privilege on it. What was granted on it to the two
-- roles above, by hand, is revoked at every start; kpid_sql loses it with the rest.
--   kpid_sql      what sql KPIs run as (sql/009_sql_kpi_role.sql): NOLOGIN, a member of
--                 no role; USAGE on schema kpid and SELECT on kpid.event, kpid.kpi_value
--                 and the three views, exactly (other privileges on the schema's tables
--                 are revoked); owner of kpid.sql_kpi_rows; kpid's login role is a
--                 member of it
--
-- kpid creates the roles that are missing when it may (CREATEROLE); otherwise a DBA
-- does. The last statement lists what is still missing, which kpid logs as warnings
-- with the statements a DBA runs.
DO $grants$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['kpid_reader', 'kpid_analyst', 'kpid_sql'] LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role_name);
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
        EXCEPTION
            -- No CREATEROLE: reported below.
            WHEN insufficient_privilege THEN NULL;
            -- Another session (another kpid, on another database of the cluster) created
            -- it at the same moment: it is there now.
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END LOOP;

    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'kpid_reader') THEN
        GRANT USAGE ON SCHEMA kpid TO kpid_reader;
        GRANT SELECT ON kpid.scorecard, kpid.perspective_score, kpid.process_landscape,
                        kpid.kpi_value TO kpid_reader;
        REVOKE ALL ON kpid.rejected, kpid.rejected_retention FROM kpid_reader;
    END IF;

    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'kpid_analyst') THEN
        GRANT USAGE ON SCHEMA kpid TO kpid_analyst;
        GRANT EXECUTE ON FUNCTION kpid.kpi_cases(text, timestamptz, timestamptz, text, jsonb)
            TO kpid_analyst;
        REVOKE ALL ON kpid.rejected, kpid.rejected_retention FROM kpid_analyst;
    END IF;

    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'kpid_sql') THEN
        IF NOT pg_catalog.pg_has_role('kpid_sql', 'MEMBER') THEN
            BEGIN
                GRANT kpid_sql TO SESSION_USER;
            EXCEPTION
                -- A DBA created the role and kept it: reported below.
                WHEN insufficient_privilege THEN NULL;
                WHEN unique_violation THEN NULL;
            END;
        END IF;
        REVOKE ALL ON ALL TABLES IN SCHEMA kpid FROM kpid_sql;
        GRANT USAGE ON SCHEMA kpid TO kpid_sql;
        GRANT SELECT ON kpid.event, kpid.kpi_value, kpid.scorecard, kpid.perspective_score,
                        kpid.process_landscape TO kpid_sql;
        -- The function runs as its owner. ALTER ... OWNER TO needs the new owner to have
        -- CREATE on the schema: it has it for this moment only, in this transaction.
        IF pg_catalog.pg_has_role('kpid_sql', 'MEMBER') AND NOT EXISTS (
            SELECT FROM pg_catalog.pg_proc f
            WHERE f.oid = 'kpid.sql_kpi_rows(text, timestamptz, timestamptz)'::regprocedure
              AND f.proowner = 'kpid_sql'::regrole AND f.prosecdef)
        THEN
            GRANT CREATE ON SCHEMA kpid TO kpid_sql;
            ALTER FUNCTION kpid.sql_kpi_rows(text, timestamptz, timestamptz) SECURITY DEFINER;
            ALTER FUNCTION kpid.sql_kpi_rows(text, timestamptz, timestamptz) OWNER TO kpid_sql;
            REVOKE CREATE ON SCHEMA kpid FROM kpid_sql;
        END IF;
    END IF;
END
$grants$;

-- What is not in place: role, problem (phrased after the role's name) and remedy.
SELECT w.role, w.problem, w.remedy FROM (
    SELECT 1 AS ord, session_user::text AS role,
           'is a superuser, which kpid never needs' AS problem,
           'connect as a role that is no superuser: the owner of schema kpid, with'
           ' CREATEROLE or with the roles created by a DBA (see kpid.conf(5), warehouse)'
               AS remedy
    WHERE (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user)
    UNION ALL
    SELECT 2, m.role,
           'does not exist and kpid may not create it (no CREATEROLE): ' || m.effect,
           format('as a DBA run: CREATE ROLE %I NOLOGIN; then restart kpid or run'
                  ' kpid --migrate', m.role)
    FROM (VALUES ('kpid_reader', 'dashboards cannot read kpid.scorecard'),
                 ('kpid_analyst', 'analysts cannot call kpid.kpi_cases')) AS m (role, effect)
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = m.role)
    UNION ALL
    SELECT 3, 'kpid_sql', p.problem || ': sql KPIs are not evaluated', p.remedy
    FROM kpid.sql_kpi_role_problems() AS p
) AS w
ORDER BY w.ord;
