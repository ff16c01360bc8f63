"""The wait-time computation written plainly in DuckDB SQL.

    python duckdb_sql.py APPOINTMENTS.csv

Prints {"groups": {REGION: {...}}} (see common.py). Standard
ca-dmhc/non-urgent-mh-initial as of 2026-11-30T17:00:00-08:00, America/Los_Angeles,
us-federal holidays, per region.

Business days: a calendar table with a running count of business days up to
each date, joined twice; wait = index(offer date) - index(request date) = the
business days d with request date < d <= offer date. Quantiles by nearest
rank, with the rank computed explicitly (ceil(q * n)) rather than trusting
quantile_disc's definition. DuckDB runs with its defaults (all cores).
"""

import sys

import duckdb

import common as c

QUERY = """
WITH
params AS (
    SELECT
        CAST($as_of AS TIMESTAMPTZ) AS as_of,
        CAST($as_of AS TIMESTAMPTZ) - INTERVAL ($window_hours) HOUR AS window_start,
        CAST(timezone($tz, CAST($as_of AS TIMESTAMPTZ)) AS DATE) AS as_of_date
),
holidays AS (
    SELECT CAST(unnest($holidays) AS DATE) AS day
),
calendar AS (
    SELECT day, sum(business) OVER (ORDER BY day) AS bd_index
    FROM (
        SELECT CAST(r.range AS DATE) AS day,
               CASE WHEN isodow(r.range) <= 5 AND h.day IS NULL THEN 1 ELSE 0 END AS business
        FROM range(DATE '1970-01-01', DATE '2100-01-01', INTERVAL 1 DAY) AS r
        LEFT JOIN holidays AS h ON h.day = CAST(r.range AS DATE)
    )
),
raw AS (
    SELECT * FROM read_csv($path, header = true, all_varchar = true)
),
parsed AS (
    SELECT
        coalesce(nullif(region, ''), $no_region) AS region,
        try_cast(requested_at AS TIMESTAMPTZ) AS requested,
        nullif(first_offered_at, '') AS offer_text,
        try_cast(first_offered_at AS TIMESTAMPTZ) AS offered,
        visit_type, urgency, provider_type, prior_auth,
        coalesce(extended_by_provider, '') AS extended_by_provider
    FROM raw
),
classified AS (
    SELECT
        p.*,
        CASE
            WHEN requested IS NULL THEN 'rejected'
            WHEN NOT (requested >= params.window_start AND requested <= params.as_of) THEN 'skipped'
            WHEN NOT coalesce(
                    list_contains($visit_types, visit_type)
                    AND list_contains($urgencies, urgency)
                    AND list_contains($provider_types, provider_type)
                    AND prior_auth IN ('true', 'false')
                    AND extended_by_provider IN ('true', 'false', ''), false) THEN 'rejected'
            WHEN NOT (visit_type = $sel_visit AND urgency = $sel_urgency AND provider_type = $sel_provider)
                THEN 'skipped'
            WHEN offer_text IS NOT NULL AND (offered IS NULL OR offered < requested) THEN 'rejected'
            ELSE 'evaluated'
        END AS status,
        CAST(timezone($tz, requested) AS DATE) AS request_date,
        CAST(timezone($tz, offered) AS DATE) AS offer_date
    FROM parsed AS p, params
),
evaluated AS (
    SELECT
        e.region,
        e.offer_text IS NOT NULL AS is_offered,
        e.extended_by_provider = 'true' AS is_extended,
        co.bd_index - cr.bd_index AS wait,
        ca.bd_index - cr.bd_index AS elapsed
    FROM classified AS e
    CROSS JOIN params
    JOIN calendar AS cr ON cr.day = e.request_date
    LEFT JOIN calendar AS co ON co.day = e.offer_date
    JOIN calendar AS ca ON ca.day = params.as_of_date
    WHERE e.status = 'evaluated'
),
outcomes AS (
    SELECT
        region,
        is_extended OR (is_offered AND wait <= $limit) AS compliant,
        NOT is_extended AND ((is_offered AND wait > $limit) OR (NOT is_offered AND elapsed > $limit)) AS noncompliant,
        NOT is_extended AND NOT is_offered AND elapsed <= $limit AS pending,
        is_extended AS extended,
        NOT is_extended AND NOT is_offered AND elapsed > $limit AS overdue_open,
        CASE WHEN is_offered THEN wait END AS wait
    FROM evaluated
),
counts AS (
    SELECT region,
        count(*) FILTER (WHERE compliant) AS compliant,
        count(*) FILTER (WHERE noncompliant) AS noncompliant,
        count(*) FILTER (WHERE pending) AS pending,
        count(*) FILTER (WHERE extended) AS extended,
        count(*) FILTER (WHERE overdue_open) AS overdue_open
    FROM outcomes
    GROUP BY region
),
rejected AS (
    SELECT region, count(*) AS rejected FROM classified WHERE status = 'rejected' GROUP BY region
),
ranked AS (
    SELECT region, wait,
        row_number() OVER (PARTITION BY region ORDER BY wait) AS rank,
        count(*) OVER (PARTITION BY region) AS n
    FROM outcomes
    WHERE wait IS NOT NULL
),
quantiles AS (
    SELECT region,
        min(wait) FILTER (WHERE rank = ceil($q_median * n)) AS median_wait,
        min(wait) FILTER (WHERE rank = ceil($q_p90 * n)) AS p90_wait
    FROM ranked
    GROUP BY region
)
SELECT
    coalesce(c.region, r.region) AS region,
    coalesce(c.compliant, 0), coalesce(c.noncompliant, 0), coalesce(c.pending, 0),
    coalesce(c.extended, 0), coalesce(r.rejected, 0),
    q.median_wait, q.p90_wait, coalesce(c.overdue_open, 0)
FROM counts AS c
FULL OUTER JOIN rejected AS r ON r.region = c.region
LEFT JOIN quantiles AS q ON q.region = coalesce(c.region, r.region)
ORDER BY 1
"""


def main(path: str) -> None:
    con = duckdb.connect()
    params = {
        "path": path,
        "as_of": c.AS_OF,
        "window_hours": c.WINDOW_HOURS,
        "tz": c.TIME_ZONE,
        "holidays": c.HOLIDAY_STRINGS,
        "no_region": c.NO_REGION,
        "visit_types": list(c.VISIT_TYPES),
        "urgencies": list(c.URGENCIES),
        "provider_types": list(c.PROVIDER_TYPES),
        "sel_visit": c.SELECT_VISIT_TYPE,
        "sel_urgency": c.SELECT_URGENCY,
        "sel_provider": c.SELECT_PROVIDER_TYPE,
        "limit": c.LIMIT_BD,
        "q_median": c.Q_MEDIAN,
        "q_p90": c.Q_P90,
    }
    groups = {}
    for region, comp, noncomp, pend, ext, rej, median, p90, overdue in con.execute(QUERY, params).fetchall():
        counts = dict(compliant=comp, noncompliant=noncomp, pending=pend, extended=ext, rejected=rej)
        groups[region] = c.group_result(counts, median, p90, overdue)
    c.dump(groups)


if __name__ == "__main__":
    main(sys.argv[1])
