-- What the HIS role of etc/his-pgsql.conf may read, and nothing else: the tables its
-- queries name, and of patients and staff only the identifiers (the demographics stay
-- out of reach). The role must exist. Run it in the HIS database as its owner:
--
--   psql -d his -v role=kpid_his -f his-pgsql-grants.sql
--
-- The snapshot_xmin bound reads pg_current_snapshot(), which needs no grant.
GRANT USAGE ON SCHEMA his TO :"role";
GRANT SELECT ON his.departments, his.wards, his.ed_visits, his.ed_registrations,
    his.encounters, his.transfers, his.infections, his.deaths, his.charges,
    his.surveys, his.lab_orders, his.lab_results, his.surgeries, his.appointments,
    his.training_sessions, his.staff_training, his.staff_headcount,
    his.deleted_rows TO :"role";
GRANT SELECT (patient_id, mrn) ON his.patients TO :"role";
GRANT SELECT (staff_id, employee_no, role) ON his.staff TO :"role";
