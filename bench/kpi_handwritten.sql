-- bench/kpi_handwritten.sql: the KPIs of etc/demo.conf.in for one period, written by hand
-- from docs/kpi-semantics.md (not from kpid's compiler), as the baseline of bench/kpi.
--
--   psql -v start='2026-01-31 19:00+00' -v end='2026-02-28 19:00+00' -f bench/kpi_handwritten.sql
--
-- :'start' and :'end' are the period [start, end) as timestamptz (the demo's processes
-- run on Asia/Almaty time, so a month starts at 19:00 UTC the day before). Each KPI is
-- one statement whose row (kpi, value, numerator, denominator, n, excluded: the members
-- left out because their case or subject is missing) goes into the table public.hand,
-- an ordinary (logged) table, each INSERT its own transaction: stored as durably as
-- kpid stores its values in kpid.kpi_value, each KPI's commit a WAL flush, as kpid's
-- is; the ratio KPIs read their two inputs from there, as kpid's read theirs from
-- kpid.kpi_value. The last statement prints every row: kpi|value|numerator|
-- denominator|n|excluded. bench/kpi runs this file with \timing on and reads each KPI's
-- time after its "\echo kpi ID" line.
--
-- Shapes: a duration KPI takes the period's first `from` event per case (DISTINCT ON),
-- drops cases with an earlier `from` before the period (an index probe), and finds the
-- end with a LATERAL first-`to` lookup; a proportion (the demo's are all per case,
-- basis "case") takes the cases the same way and tests its conditions with EXISTS
-- probes; a census walks the openings within the lookback (365 days) the same way as a
-- duration, clipped to the period, without stays of zero length. The members without a
-- case (events of the anchor activity in the period with no case_id) are counted
-- beside.

\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.hand;
RESET client_min_messages;
CREATE TABLE public.hand (
    kpi text PRIMARY KEY,
    value float8,
    numerator float8,
    denominator float8,
    n bigint,
    excluded bigint
);

-- duration: ED_ARRIVAL -> PHYSICIAN_SEEN, median, minutes.
\echo kpi ed_door_to_doctor
INSERT INTO public.hand
SELECT 'ed_door_to_doctor',
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.time - a.time) / 60),
       NULL, NULL, count(s.time),
       (SELECT count(*) FROM kpid.event
        WHERE activity = 'ED_ARRIVAL' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT DISTINCT ON (case_id) case_id, time
      FROM kpid.event
      WHERE activity = 'ED_ARRIVAL' AND time >= :'start' AND time < :'end'
        AND case_id IS NOT NULL
      ORDER BY case_id, time) a
CROSS JOIN LATERAL (SELECT t.time FROM kpid.event t
                    WHERE t.case_id = a.case_id AND t.activity = 'PHYSICIAN_SEEN'
                      AND t.time >= a.time
                    ORDER BY t.time LIMIT 1) s
WHERE NOT EXISTS (SELECT FROM kpid.event p
                  WHERE p.case_id = a.case_id AND p.activity = 'ED_ARRIVAL'
                    AND p.time < :'start');

-- proportion per visit: the cases whose first ED arrival is in the period, and those of
-- them with an LWBS event.
\echo kpi ed_lwbs_rate
INSERT INTO public.hand
SELECT 'ed_lwbs_rate', count(*) FILTER (WHERE lwbs)::float8 / NULLIF(count(*), 0),
       count(*) FILTER (WHERE lwbs), count(*), count(*),
       (SELECT count(*) FROM kpid.event
        WHERE activity = 'ED_ARRIVAL' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT EXISTS (SELECT FROM kpid.event x
                     WHERE x.case_id = a.case_id
                       AND x.activity = 'ED_LEFT_WITHOUT_BEING_SEEN') AS lwbs
      FROM (SELECT DISTINCT ON (case_id) case_id, time
            FROM kpid.event
            WHERE activity = 'ED_ARRIVAL' AND time >= :'start' AND time < :'end'
              AND case_id IS NOT NULL
            ORDER BY case_id, time) a
      WHERE NOT EXISTS (SELECT FROM kpid.event p
                        WHERE p.case_id = a.case_id AND p.activity = 'ED_ARRIVAL'
                          AND p.time < :'start')) m;

-- duration: ADMISSION -> DISCHARGE, mean, days.
\echo kpi average_length_of_stay
INSERT INTO public.hand
SELECT 'average_length_of_stay', avg(extract(epoch FROM s.time - a.time) / 86400),
       NULL, NULL, count(s.time),
       (SELECT count(*) FROM kpid.event
        WHERE activity = 'ADMISSION' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT DISTINCT ON (case_id) case_id, time
      FROM kpid.event
      WHERE activity = 'ADMISSION' AND time >= :'start' AND time < :'end'
        AND case_id IS NOT NULL
      ORDER BY case_id, time) a
CROSS JOIN LATERAL (SELECT t.time FROM kpid.event t
                    WHERE t.case_id = a.case_id AND t.activity = 'DISCHARGE'
                      AND t.time >= a.time
                    ORDER BY t.time LIMIT 1) s
WHERE NOT EXISTS (SELECT FROM kpid.event p
                  WHERE p.case_id = a.case_id AND p.activity = 'ADMISSION'
                    AND p.time < :'start');

-- census: stays open during the period (first ADMISSION within the 365-day lookback, to
-- the first DISCHARGE at or after it, never one of zero length), average open stays /
-- capacity 400.
\echo kpi bed_occupancy
INSERT INTO public.hand
SELECT 'bed_occupancy', avg_open / 400, avg_open, 400, n, (SELECT count(*) FROM kpid.event
        WHERE activity = 'ADMISSION' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT coalesce(sum(extract(epoch FROM least(coalesce(c.closed, :'end'), :'end')
                                             - greatest(o.opened, :'start'))), 0)
             / extract(epoch FROM :'end'::timestamptz - :'start'::timestamptz) AS avg_open,
             count(*) AS n
      FROM (SELECT DISTINCT ON (case_id) case_id, time AS opened
            FROM kpid.event
            WHERE activity = 'ADMISSION' AND case_id IS NOT NULL AND time < :'end'
              AND time >= :'start'::timestamptz - interval '365 days'
            ORDER BY case_id, time) o
      LEFT JOIN LATERAL (SELECT t.time AS closed FROM kpid.event t
                         WHERE t.case_id = o.case_id AND t.activity = 'DISCHARGE'
                           AND t.time >= o.opened
                         ORDER BY t.time LIMIT 1) c ON true
      WHERE (c.closed IS NULL OR c.closed > :'start' AND c.closed > o.opened)
        AND NOT EXISTS (SELECT FROM kpid.event p
                        WHERE p.case_id = o.case_id AND p.activity = 'ADMISSION'
                          AND p.time < :'start'::timestamptz - interval '365 days')) s;

-- proportion per stay: the cases whose first discharge is in the period, followed by an
-- admission of the same patient within 30 days of it; stays ending in death excluded.
-- A discharge without a case, or a first discharge without a patient (the readmission
-- cannot be followed), is left out and counted.
\echo kpi readmission_30d
INSERT INTO public.hand
SELECT 'readmission_30d',
       count(*) FILTER (WHERE followed AND NOT died AND readmitted)::float8
           / NULLIF(count(*) FILTER (WHERE followed AND NOT died), 0),
       count(*) FILTER (WHERE followed AND NOT died AND readmitted),
       count(*) FILTER (WHERE followed AND NOT died), count(*) FILTER (WHERE followed),
       count(*) FILTER (WHERE NOT followed) + (SELECT count(*) FROM kpid.event
        WHERE activity = 'DISCHARGE' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT d.subject_id IS NOT NULL AS followed,
             EXISTS (SELECT FROM kpid.event x
                     WHERE x.case_id = d.case_id AND x.activity = 'DEATH') AS died,
             EXISTS (SELECT FROM kpid.event x
                     WHERE x.subject_id = d.subject_id AND x.activity = 'ADMISSION'
                       AND x.time > d.time AND x.time <= d.time + interval '30 days')
                 AS readmitted
      FROM (SELECT DISTINCT ON (case_id) case_id, subject_id, time
            FROM kpid.event
            WHERE activity = 'DISCHARGE' AND time >= :'start' AND time < :'end'
              AND case_id IS NOT NULL
            ORDER BY case_id, time, source, event_key) d
      WHERE NOT EXISTS (SELECT FROM kpid.event p
                        WHERE p.case_id = d.case_id AND p.activity = 'DISCHARGE'
                          AND p.time < :'start')) m;

-- proportion per stay: the cases whose first admission is in the period, and those of
-- them with a death.
\echo kpi in_hospital_mortality
INSERT INTO public.hand
SELECT 'in_hospital_mortality', count(*) FILTER (WHERE died)::float8 / NULLIF(count(*), 0),
       count(*) FILTER (WHERE died), count(*), count(*), (SELECT count(*) FROM kpid.event
        WHERE activity = 'ADMISSION' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT EXISTS (SELECT FROM kpid.event x
                     WHERE x.case_id = a.case_id AND x.activity = 'DEATH') AS died
      FROM (SELECT DISTINCT ON (case_id) case_id, time
            FROM kpid.event
            WHERE activity = 'ADMISSION' AND time >= :'start' AND time < :'end'
              AND case_id IS NOT NULL
            ORDER BY case_id, time) a
      WHERE NOT EXISTS (SELECT FROM kpid.event p
                        WHERE p.case_id = a.case_id AND p.activity = 'ADMISSION'
                          AND p.time < :'start')) m;

-- proportion per surgery case: the cases first scheduled in the period, and those of
-- them with a cancellation.
\echo kpi surgery_cancellation_rate
INSERT INTO public.hand
SELECT 'surgery_cancellation_rate',
       count(*) FILTER (WHERE cancelled)::float8 / NULLIF(count(*), 0),
       count(*) FILTER (WHERE cancelled), count(*), count(*), (SELECT count(*) FROM kpid.event
        WHERE activity = 'SURGERY_SCHEDULED' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT EXISTS (SELECT FROM kpid.event x
                     WHERE x.case_id = a.case_id AND x.activity = 'SURGERY_CANCELLED')
                 AS cancelled
      FROM (SELECT DISTINCT ON (case_id) case_id, time
            FROM kpid.event
            WHERE activity = 'SURGERY_SCHEDULED' AND time >= :'start' AND time < :'end'
              AND case_id IS NOT NULL
            ORDER BY case_id, time) a
      WHERE NOT EXISTS (SELECT FROM kpid.event p
                        WHERE p.case_id = a.case_id AND p.activity = 'SURGERY_SCHEDULED'
                          AND p.time < :'start')) m;

-- duration: APPOINTMENT_BOOKED -> APPOINTMENT_SEEN, mean, days.
\echo kpi outpatient_waiting_time
INSERT INTO public.hand
SELECT 'outpatient_waiting_time', avg(extract(epoch FROM s.time - a.time) / 86400),
       NULL, NULL, count(s.time),
       (SELECT count(*) FROM kpid.event
        WHERE activity = 'APPOINTMENT_BOOKED' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT DISTINCT ON (case_id) case_id, time
      FROM kpid.event
      WHERE activity = 'APPOINTMENT_BOOKED' AND time >= :'start' AND time < :'end'
        AND case_id IS NOT NULL
      ORDER BY case_id, time) a
CROSS JOIN LATERAL (SELECT t.time FROM kpid.event t
                    WHERE t.case_id = a.case_id AND t.activity = 'APPOINTMENT_SEEN'
                      AND t.time >= a.time
                    ORDER BY t.time LIMIT 1) s
WHERE NOT EXISTS (SELECT FROM kpid.event p
                  WHERE p.case_id = a.case_id AND p.activity = 'APPOINTMENT_BOOKED'
                    AND p.time < :'start');

-- duration: LAB_ORDER -> LAB_RESULT, 90th percentile, minutes.
\echo kpi lab_turnaround_p90
INSERT INTO public.hand
SELECT 'lab_turnaround_p90',
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM s.time - a.time) / 60),
       NULL, NULL, count(s.time),
       (SELECT count(*) FROM kpid.event
        WHERE activity = 'LAB_ORDER' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT DISTINCT ON (case_id) case_id, time
      FROM kpid.event
      WHERE activity = 'LAB_ORDER' AND time >= :'start' AND time < :'end'
        AND case_id IS NOT NULL
      ORDER BY case_id, time) a
CROSS JOIN LATERAL (SELECT t.time FROM kpid.event t
                    WHERE t.case_id = a.case_id AND t.activity = 'LAB_RESULT'
                      AND t.time >= a.time
                    ORDER BY t.time LIMIT 1) s
WHERE NOT EXISTS (SELECT FROM kpid.event p
                  WHERE p.case_id = a.case_id AND p.activity = 'LAB_ORDER'
                    AND p.time < :'start');

-- duration, within: the share of the period's lab orders resulted within 60 minutes
-- (orders never resulted count in the denominator).
\echo kpi lab_within_60
INSERT INTO public.hand
SELECT 'lab_within_60', count(*) FILTER (WHERE s.time <= a.time + interval '60 minutes')::float8
                        / NULLIF(count(*), 0),
       count(*) FILTER (WHERE s.time <= a.time + interval '60 minutes'), count(*), count(*),
       (SELECT count(*) FROM kpid.event
        WHERE activity = 'LAB_ORDER' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT DISTINCT ON (case_id) case_id, time
      FROM kpid.event
      WHERE activity = 'LAB_ORDER' AND time >= :'start' AND time < :'end'
        AND case_id IS NOT NULL
      ORDER BY case_id, time) a
LEFT JOIN LATERAL (SELECT t.time FROM kpid.event t
                   WHERE t.case_id = a.case_id AND t.activity = 'LAB_RESULT'
                     AND t.time >= a.time
                   ORDER BY t.time LIMIT 1) s ON true
WHERE NOT EXISTS (SELECT FROM kpid.event p
                  WHERE p.case_id = a.case_id AND p.activity = 'LAB_ORDER'
                    AND p.time < :'start');

-- count: hospital-acquired infections.
\echo kpi hai_count
INSERT INTO public.hand
SELECT 'hai_count', count(*), NULL, NULL, count(*), NULL
FROM kpid.event
WHERE activity = 'HOSPITAL_ACQUIRED_INFECTION' AND time >= :'start' AND time < :'end';

-- census, case_days: the days each stay is open within the period, summed.
\echo kpi patient_days
INSERT INTO public.hand
SELECT 'patient_days',
       coalesce(sum(extract(epoch FROM least(coalesce(c.closed, :'end'), :'end')
                                       - greatest(o.opened, :'start'))), 0) / 86400,
       NULL, NULL, count(*), (SELECT count(*) FROM kpid.event
        WHERE activity = 'ADMISSION' AND time >= :'start' AND time < :'end' AND case_id IS NULL)
FROM (SELECT DISTINCT ON (case_id) case_id, time AS opened
      FROM kpid.event
      WHERE activity = 'ADMISSION' AND case_id IS NOT NULL AND time < :'end'
        AND time >= :'start'::timestamptz - interval '365 days'
      ORDER BY case_id, time) o
LEFT JOIN LATERAL (SELECT t.time AS closed FROM kpid.event t
                   WHERE t.case_id = o.case_id AND t.activity = 'DISCHARGE'
                     AND t.time >= o.opened
                   ORDER BY t.time LIMIT 1) c ON true
WHERE (c.closed IS NULL OR c.closed > :'start' AND c.closed > o.opened)
  AND NOT EXISTS (SELECT FROM kpid.event p
                  WHERE p.case_id = o.case_id AND p.activity = 'ADMISSION'
                    AND p.time < :'start'::timestamptz - interval '365 days');

-- ratio: HAI per 1000 patient-days, from the two values above.
\echo kpi hai_per_1000_patient_days
INSERT INTO public.hand
SELECT 'hai_per_1000_patient_days', h.value / NULLIF(d.value, 0) * 1000, h.value, d.value, NULL,
       NULL
FROM public.hand h, public.hand d
WHERE h.kpi = 'hai_count' AND d.kpi = 'patient_days';

-- value: training hours, sum (0 over none); n counts the events with a value.
\echo kpi training_hours
INSERT INTO public.hand
SELECT 'training_hours', coalesce(sum(value), 0), NULL, NULL, count(value), NULL
FROM kpid.event
WHERE activity = 'TRAINING_HOURS' AND time >= :'start' AND time < :'end';

-- value: staff headcount, sum.
\echo kpi headcount
INSERT INTO public.hand
SELECT 'headcount', coalesce(sum(value), 0), NULL, NULL, count(value), NULL
FROM kpid.event
WHERE activity = 'STAFF_HEADCOUNT' AND time >= :'start' AND time < :'end';

-- ratio: training hours per employee, factor 1.
\echo kpi training_hours_per_employee
INSERT INTO public.hand
SELECT 'training_hours_per_employee', h.value / NULLIF(d.value, 0), h.value, d.value, NULL,
       NULL
FROM public.hand h, public.hand d
WHERE h.kpi = 'training_hours' AND d.kpi = 'headcount';

-- value: patient satisfaction, mean score.
\echo kpi patient_satisfaction
INSERT INTO public.hand
SELECT 'patient_satisfaction', avg(value), NULL, NULL, count(value), NULL
FROM kpid.event
WHERE activity = 'SATISFACTION_SURVEY' AND time >= :'start' AND time < :'end';

-- value: cost per case, mean.
\echo kpi cost_per_case
INSERT INTO public.hand
SELECT 'cost_per_case', avg(value), NULL, NULL, count(value), NULL
FROM kpid.event
WHERE activity = 'COST' AND time >= :'start' AND time < :'end';

\echo results
SELECT kpi, value, numerator, denominator, n, excluded FROM public.hand ORDER BY kpi;
