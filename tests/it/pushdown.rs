//! Push-down against pulling, on the same PostgreSQL tables: every check
//! runs twice in one `run --once`, once evaluated in the database and once
//! with `pushdown = false`, and the two results must be identical, to the
//! last count, wait, rejected row and its number. The tables are made to
//! hit every path: both DST changes, holidays, open requests pending and
//! overdue, extensions, every unit, effective dates, value maps,
//! telehealth rules, rejected rows of every kind, `timestamptz`,
//! `timestamp` and `date` columns, a check zone other than the session's.
//! By hand on Citus (scripts/test-citus, tests/it/citus.rs) the tables are
//! distributed over two worker nodes, and the same comparison holds; the
//! coordinator's logged plans then show that each statement ran across the
//! shards, each worker counting its own rows.

use crate::citus;
use crate::common::{ConfigText, accesswatch};
use crate::postgres::{PASSWORD, check, run_once, server, source};

/// 6,000 requests and 1,500 calls, from arithmetic on the row number (no
/// randomness: the same rows every run), plus hand-made edge cases.
const TABLES: &str = r#"
CREATE SCHEMA access;
CREATE TABLE access.requests (
    id text PRIMARY KEY,
    requested_at timestamptz,
    requested_text text,
    prior_appointment_at timestamp,
    discharged_at date,
    offered_tz timestamptz,
    offered_local timestamp,
    visit_type text,
    urgency text,
    prior_auth boolean,
    provider_type text,
    extended_by_provider text,
    modality text,
    requested_modality text,
    region text,
    plan_id int
);
SET TimeZone = 'America/Los_Angeles';
INSERT INTO access.requests
SELECT 'R' || lpad(g::text, 5, '0'),
  start,
  to_char(start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  CASE WHEN g % 5 = 0 THEN NULL
       ELSE (start AT TIME ZONE 'America/Los_Angeles') - ((g * 37) % (20 * 24)) * interval '1 hour' END,
  CASE WHEN g % 6 = 0 OR NOT isfinite(start) THEN NULL
       ELSE (start AT TIME ZONE 'America/Los_Angeles')::date - (g % 3) END,
  CASE WHEN g % 7 = 0 THEN NULL
       WHEN g % 53 = 0 THEN start - interval '2 hours'
       WHEN g % 59 = 0 THEN 'infinity'::timestamptz
       ELSE start + ((g * 48271) % (25 * 24 * 60)) * interval '1 minute'
                  + ((g * 7) % 1000000) * interval '1 microsecond' END,
  CASE WHEN g % 7 = 0 THEN NULL
       WHEN g % 61 = 0 THEN 'infinity'::timestamp
       ELSE (start AT TIME ZONE 'America/Los_Angeles')
            + ((g * 16807) % (6 * 24 * 60)) * interval '1 minute' END,
  (ARRAY['initial', 'follow_up', 'initial', 'Initial', NULL])[1 + g % 5],
  (ARRAY['non_urgent', 'urgent', 'needs_attention', 'non_urgent', 'urgent', 'bogus', NULL])[1 + g % 7],
  (ARRAY[false, true, false, NULL])[1 + g % 4],
  (ARRAY['non_physician_mh', 'psychiatrist', 'LCSW', ' non_physician_sud ', 'primary_care',
         'astrologer', NULL, 'non_physician_mh', ''])[1 + g % 9],
  (ARRAY['false', 'false', 'true', 'no', 'Y', 'maybe', NULL, 'false', 'false', 'false', 'false'])[1 + g % 11],
  (ARRAY['in_person', 'telehealth', NULL, 'video', 'in_person', 'carrier pigeon', 'telehealth'])[1 + g % 7],
  (ARRAY['in_person', 'telehealth', NULL, 'hologram'])[1 + (g / 7) % 4],
  (ARRAY['north', 'south', ' south', 'east', '', NULL, 'north', 'south'])[1 + g % 8],
  1 + g % 3
FROM (
  SELECT g, CASE
    WHEN g % 97 = 0 THEN NULL
    WHEN g % 89 = 0 THEN 'infinity'::timestamptz
    WHEN g > 4000 THEN timestamptz '2026-11-30 17:00' - ((g * 7919) % (300 * 24 * 60)) * interval '1 minute'
    ELSE timestamptz '2026-11-30 17:00' - ((g * 7919) % (45 * 24 * 60)) * interval '1 minute'
         - ((g * 13) % 60) * interval '1 second' - ((g * 3) % 1000) * interval '1 millisecond'
  END AS start
  FROM generate_series(1, 6000) AS g
) AS s;
-- Edge cases: the window's first instant, a microsecond before it, and the
-- evaluation time itself;
-- limits met exactly and missed by a microsecond; both DST changes in
-- local times (01:30 on 2026-11-01 happens twice, 02:30 on 2026-03-08
-- never; in Berlin, 02:30 on 2026-03-29 never); holidays (Veterans Day, Thanksgiving); a follow-up offered
-- before its prior visit.
INSERT INTO access.requests (id, requested_at, prior_appointment_at, discharged_at, offered_tz,
    offered_local, visit_type, urgency, prior_auth, provider_type, extended_by_provider,
    modality, requested_modality, region, plan_id) VALUES
 ('E01', '2026-11-01 01:00Z', NULL, NULL, '2026-11-02 17:00', '2026-11-02 17:00', 'initial', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'edge', 1),
 ('E02', '2026-11-30 17:00', NULL, NULL, NULL, NULL, 'initial', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'edge', 1),
 ('E03', '2026-11-20 09:00', NULL, NULL, '2026-11-22 09:00', '2026-11-22 09:00', 'initial', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'edge', 1),
 ('E04', '2026-11-20 09:00', NULL, NULL, '2026-11-22 09:00:00.000001', '2026-11-22 09:00:00.000001', 'initial', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'edge', 1),
 ('E05', '2026-11-01 00:30', '2026-11-01 01:30', '2026-11-01', '2026-11-01 01:30-08', '2026-11-01 01:30', 'follow_up', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'dst', 1),
 ('E06', '2026-11-01 01:10-07', '2026-11-01 01:10', '2026-11-01', '2026-11-01 01:20-08', '2026-11-01 01:20', 'initial', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'dst', 1),
 ('E07', '2026-03-08 01:30', '2026-03-07 02:30', '2026-03-08', '2026-03-08 03:30', '2026-03-08 02:30', 'initial', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'dst', 1),
 ('E08', '2026-11-10 16:00', '2026-11-09 10:00', '2026-11-10', '2026-11-25 10:00', '2026-11-25 10:00', 'initial', 'non_urgent', false, 'non_physician_mh', 'false', NULL, NULL, 'holiday', 1),
 ('E09', '2026-11-10 16:00', '2026-11-09 10:00', '2026-11-10', '2026-11-27 10:00', '2026-11-27 10:00', 'initial', 'non_urgent', false, 'non_physician_mh', 'false', NULL, NULL, 'holiday', 1),
 ('E11', '2026-11-01 00:59:59.999999Z', NULL, NULL, '2026-11-02 17:00', '2026-11-02 17:00', 'initial', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'edge', 1),
 ('E12', '2026-03-29 00:10Z', '2026-03-29 02:40', '2026-03-29', '2026-03-29 00:40Z', '2026-03-29 02:30', 'initial', 'urgent', false, 'psychiatrist', 'false', NULL, NULL, 'dst', 1),
 ('E10', '2026-11-12 08:00', '2026-11-15 10:00', '2026-11-12', '2026-11-14 10:00', '2026-11-14 10:00', 'follow_up', 'non_urgent', false, 'non_physician_mh', 'false', NULL, NULL, 'holiday', 1);
CREATE TABLE access.calls (
    id int PRIMARY KEY,
    call_started_at timestamptz,
    answered_at timestamptz,
    region text
);
INSERT INTO access.calls
SELECT g,
  CASE WHEN g % 101 = 0 THEN NULL
       ELSE timestamptz '2026-11-30 17:00' - ((g * 7919) % (40 * 24 * 60)) * interval '1 minute'
            - ((g * 11) % 60) * interval '1 second' END,
  NULL,
  (ARRAY['north', 'south', NULL])[1 + g % 3]
FROM generate_series(1, 1500) AS g;
UPDATE access.calls SET answered_at = call_started_at
    + ((id * 37) % 3600) * interval '1 second' + ((id * 7) % 1000000) * interval '1 microsecond'
  WHERE id % 9 <> 0;
UPDATE access.calls SET answered_at = call_started_at + interval '30 minutes' WHERE id = 10;
UPDATE access.calls SET answered_at = call_started_at + interval '30 minutes 1 microsecond' WHERE id = 20;
UPDATE access.calls SET answered_at = call_started_at - interval '1 second' WHERE id = 30;
"#;

const REQUEST_COLUMNS: &str = "id, requested_at, prior_appointment_at, discharged_at, \
    visit_type, urgency, prior_auth, provider_type, extended_by_provider, modality, \
    requested_modality, region, plan_id";

/// Each check as `(id, source, extra keys)`; each runs pushed down (`ID`)
/// and pulled (`ID-pulled`).
const CHECKS: &[(&str, &str, &str)] = &[
    (
        "initial-bd",
        "requests-tz",
        "standard = \"ca-dmhc/non-urgent-mh-initial\"\ngroup_by = [\"region\"]\nmax_rejected = 0.6",
    ),
    (
        "initial-bd-local",
        "requests-local",
        "standard = \"ca-dmhc/non-urgent-mh-initial\"\ngroup_by = [\"region\", \"plan_id\"]\n\
         require_labels = true\nholidays = [\"2026-11-16\"]\nin_force_from = \"2026-11-10\"\n\
         telehealth = \"does_not_count\"\nmax_rejected = 0.6",
    ),
    (
        "follow-up",
        "requests-tz",
        "standard = \"ca-sb221/mh-follow-up\"\ntarget = 0.7\ngroup_by = [\"region\"]\ncalendar = \"ca-state\"",
    ),
    (
        "urgent-hours",
        "requests-local",
        "standard = \"ca-dmhc/urgent-no-prior-auth\"\ngroup_by = [\"region\"]\ntime_zone = \"America/New_York\"",
    ),
    (
        "urgent-hours-la",
        "requests-local",
        "standard = \"ca-dmhc/urgent-no-prior-auth\"\ngroup_by = [\"region\"]\nmax_rejected = 0.9",
    ),
    (
        "urgent-hours-tz",
        "requests-tz",
        "standard = \"ca-dmhc/urgent-no-prior-auth\"\ngroup_by = [\"region\"]\nmax_rejected = 0.9",
    ),
    (
        "urgent-hours-berlin",
        "requests-local",
        "standard = \"ca-dmhc/urgent-no-prior-auth\"\ngroup_by = [\"region\"]\n\
         time_zone = \"Europe/Berlin\"\nwindow = \"300d\"\nmax_rejected = 0.9",
    ),
    (
        "md-urgent-300d",
        "requests-tz",
        "standard = \"md/urgent\"\ngroup_by = [\"region\"]\nwindow = \"300d\"\nmax_rejected = 0.9",
    ),
    (
        "md-routine-days",
        "requests-tz",
        "standard = \"md/bh-non-urgent\"\ngroup_by = [\"provider_type\"]",
    ),
    (
        "ny-discharge",
        "requests-local",
        "standard = \"ny/bh-post-discharge\"\ntarget = 0.8\ngroup_by = [\"region\"]",
    ),
    (
        "phone-minutes",
        "calls",
        "standard = \"ca-dmhc/phone-triage\"\ntarget = 0.9\ngroup_by = [\"region\"]",
    ),
    (
        "text-times",
        "requests-text",
        "standard = \"ca-dmhc/non-urgent-mh-initial\"\ngroup_by = [\"region\"]",
    ),
];

/// A database `name` with [`TABLES`]; on Citus (tests/it/citus.rs) both
/// tables are distributed by `id` over the workers.
fn database(name: &str) -> String {
    let db = server().database(name, TABLES);
    if citus::enabled() {
        citus::distribute(&db, &[("access.requests", "id"), ("access.calls", "id")]);
    }
    db
}

fn config(db: &str) -> String {
    let order = "ORDER BY id";
    let mut config = source(
        "requests-tz",
        db,
        &format!(
            "SELECT {REQUEST_COLUMNS}, offered_tz AS first_offered_at, \
             CASE WHEN isfinite(requested_at) \
             THEN least(requested_at, timestamptz '2026-11-30 06:00') END AS loaded_at \
             FROM access.requests \
             WHERE requested_at IS NULL OR requested_at > $1 - interval '400 days' {order}"
        ),
        "tls = \"disable\"\nparams = [\"window_start\"]",
    )
    .replace(
        "kind = \"postgres\"\n",
        "kind = \"postgres\"\ntime_field = \"loaded_at\"\n",
    );
    config += "[source.values.provider_type]\nLCSW = \"non_physician_mh\"\n";
    config += &source(
        "requests-local",
        db,
        &format!(
            "SELECT {REQUEST_COLUMNS}, offered_local AS first_offered_at FROM access.requests {order}"
        ),
        "tls = \"disable\"",
    )
    .replace("kind = \"postgres\"\n", "kind = \"postgres\"\ntime_field = \"discharged_at\"\n");
    config += "[source.values.extended_by_provider]\nmaybe = \"no\"\n";
    config += &source(
        "calls",
        db,
        "SELECT id, call_started_at, answered_at, region FROM access.calls ORDER BY id",
        "tls = \"disable\"",
    );
    config += &source(
        "requests-text",
        db,
        &format!(
            "SELECT id, requested_text AS requested_at, offered_tz AS first_offered_at, visit_type, \
             urgency, prior_auth, provider_type, extended_by_provider, region FROM access.requests {order}"
        ),
        "tls = \"disable\"",
    );
    for (id, source, extra) in CHECKS {
        for (suffix, pushdown) in [("", ""), ("-pulled", "pushdown = false\n")] {
            config += &format!(
                "\n[[check]]\nid = \"{id}{suffix}\"\nkind = \"timely_access\"\nsource = \"{source}\"\n\
                 severity = \"warning\"\n{pushdown}{extra}\n"
            );
        }
    }
    config
}

#[test]
fn pushed_down_checks_give_the_same_results_as_pulling_the_rows() {
    let db = database("pushdown_equivalence");
    let (out, report) = run_once(&config(&db), &[]);
    // Some groups are unknown on purpose (rejected rows): exit 3.
    assert_eq!(out.code, 3, "{}", out.stderr);
    let mut seen = serde_json::Map::new();
    for (id, _, _) in CHECKS {
        let mut pushed = check(&report, id).clone();
        let mut pulled = check(&report, &format!("{id}-pulled")).clone();
        pushed["id"] = serde_json::Value::Null;
        pulled["id"] = serde_json::Value::Null;
        assert_eq!(
            pushed, pulled,
            "{id}: pushed down (left) and pulled (right) differ"
        );
        assert!(
            !pushed["groups"].as_array().unwrap().is_empty(),
            "{id} measured nothing: {pushed}"
        );
        for group in pushed["groups"].as_array().unwrap() {
            for (key, value) in group["counts"].as_object().into_iter().flatten() {
                let total = seen.entry(key.clone()).or_insert(0.into());
                *total = (total.as_u64().unwrap() + value.as_u64().unwrap()).into();
            }
            let overdue = seen.entry("overdue_open").or_insert(0.into());
            *overdue = (overdue.as_u64().unwrap() + group["overdue_open"].as_u64().unwrap()).into();
        }
        if *id == "text-times" {
            let fallback = out.log("check not pushed down; pulling the rows", "check", id);
            assert!(
                fallback["reason"]
                    .as_str()
                    .unwrap()
                    .contains("`requested_at` is column \"requested_at\" of type text"),
                "{fallback}"
            );
        } else {
            out.log("check evaluated in the database", "check", id);
        }
        let pulled_id = format!("{id}-pulled");
        assert!(
            !out.logs()
                .iter()
                .any(|e| e["message"] == "check evaluated in the database"
                    && e["check"] == pulled_id.as_str()),
            "{pulled_id} has pushdown = false"
        );
    }
    // The tables reach every kind of count, so a difference in any would
    // have shown.
    for key in [
        "compliant",
        "noncompliant",
        "pending",
        "extended",
        "rejected",
        "before_effective",
        "overdue_open",
    ] {
        assert!(
            seen[key].as_u64().unwrap() > 0,
            "no {key} counted: {seen:?}"
        );
    }
    // The data time comes from each source's time_field: a timestamptz
    // column, and a date column (its day's start in Los Angeles).
    assert_eq!(
        check(&report, "initial-bd")["data_time"],
        "2026-11-30T14:00:00Z"
    );
    assert_eq!(
        check(&report, "urgent-hours-la")["data_time"],
        "2026-11-30T08:00:00Z"
    );
    // Rejected rows are sampled with their numbers and reasons.
    let samples = check(&report, "initial-bd")["rejected_rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(samples.len(), 5, "{samples:?}");
    if citus::enabled() {
        // Each check's statement and each data-time statement ran as one
        // distributed query: every worker counted the rows of its shards,
        // and only the counts came to the coordinator.
        let counts = citus::plans(&db, "count(*)::int8 AS n");
        assert_eq!(counts.len(), CHECKS.len() - 1, "{counts:#?}");
        let data_times = citus::plans(&db, "count(*) FILTER (WHERE NOT");
        assert_eq!(data_times.len(), 2, "{data_times:#?}");
        for plan in counts.iter().chain(&data_times) {
            citus::assert_counted_on_the_workers(plan);
        }
        // The samples read the query's rows over the shards too (into the
        // coordinator, to number them in the query's order).
        let samples = citus::plans(&db, "WITH src AS MATERIALIZED");
        assert!(!samples.is_empty());
        for plan in &samples {
            assert!(plan.contains("Task Count: 32"), "{plan}");
        }
    }
}

#[test]
fn queries_that_cannot_be_wrapped_are_pulled_and_check_config_says_so() {
    let db = database("pushdown_fallback");
    let mut config = source(
        "requests",
        &db,
        &format!("SELECT {REQUEST_COLUMNS}, offered_tz AS first_offered_at FROM access.requests;"),
        "tls = \"disable\"",
    );
    config += "\n[[check]]\nid = \"initial\"\nkind = \"timely_access\"\nsource = \"requests\"\n\
               standard = \"ca-dmhc/non-urgent-mh-initial\"\ngroup_by = [\"region\"]\nmax_rejected = 0.6\n";
    let dir = tempfile::tempdir().unwrap();
    let path = ConfigText::new()
        .los_angeles()
        .route("compliance", &["compliance@plan.example"])
        .section(&config)
        .write(dir.path());
    let summary = accesswatch(
        &["--config", path.to_str().unwrap(), "check-config"],
        &[("PG_TEST_PASSWORD", PASSWORD)],
    );
    assert_eq!(summary.code, 0, "{}", summary.stderr);
    assert!(
        summary
            .stdout
            .contains("rows pulled, not pushed down: the query contains `;`"),
        "{}",
        summary.stdout
    );
    let (out, report) = run_once(&config, &[]);
    let fallback = out.log(
        "check not pushed down; pulling the rows",
        "check",
        "initial",
    );
    assert_eq!(fallback["reason"], "the query contains `;`");
    assert!(
        !check(&report, "initial")["groups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn check_config_tells_which_checks_are_pushed_down_and_refuses_pushdown_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::write(dir.path(), "requests.csv", "id,requested_at,region\n");
    let query = "SELECT * FROM access.requests WHERE requested_at > $1";
    let mut config = source(
        "warehouse",
        "analytics",
        query,
        "params = [\"window_start\"]",
    );
    config += "\n[[source]]\nid = \"export\"\nkind = \"file\"\npath = \"requests.csv\"\n";
    let timely = |id: &str, source: &str, extra: &str| {
        format!(
            "\n[[check]]\nid = \"{id}\"\nkind = \"timely_access\"\nsource = \"{source}\"\n\
             standard = \"ca-dmhc/non-urgent-mh-initial\"\n{extra}\n"
        )
    };
    config += &timely("pushed", "warehouse", "");
    config += &timely("pulled", "warehouse", "pushdown = false");
    config += &timely("from-file", "export", "");
    // A source whose checks are pulled unless they say otherwise.
    config += &source(
        "near",
        "analytics",
        query,
        "params = [\"window_start\"]\npushdown = false",
    );
    config += &timely("near-pulled", "near", "");
    config += &timely("near-pushed", "near", "pushdown = true");
    let text = ConfigText::new()
        .los_angeles()
        .route("compliance", &["compliance@plan.example"])
        .section(&config);
    let path = text.write(dir.path());
    let env = [("PG_TEST_PASSWORD", PASSWORD)];
    let out = accesswatch(&["--config", path.to_str().unwrap(), "check-config"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = |id: &str| {
        out.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no line for {id}:\n{}", out.stdout))
            .to_owned()
    };
    assert!(
        line("pushed").contains("; pushed down to the database"),
        "{}",
        out.stdout
    );
    assert!(
        line("pulled").contains("; rows pulled, not pushed down: pushdown = false"),
        "{}",
        out.stdout
    );
    assert!(!line("from-file").contains("pushed"), "{}", out.stdout);
    assert!(
        line("near-pulled")
            .contains("; rows pulled, not pushed down: pushdown = false (the source's)"),
        "{}",
        out.stdout
    );
    assert!(
        line("near-pushed").contains("; pushed down to the database"),
        "{}",
        out.stdout
    );

    // Not a boolean: the error names the key.
    let wrong = ConfigText::new()
        .los_angeles()
        .route("compliance", &["compliance@plan.example"])
        .section(&source("odd", "analytics", query, "pushdown = \"no\""));
    let out = accesswatch(
        &[
            "--config",
            wrong.write(dir.path()).to_str().unwrap(),
            "check-config",
        ],
        &env,
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(
            "`postgres.pushdown` in [[source]]: invalid type: string \"no\", expected a boolean"
        ),
        "{}",
        out.stderr
    );

    let path = text
        .section(&timely("file-pushdown", "export", "pushdown = true"))
        .write(dir.path());
    let out = accesswatch(&["--config", path.to_str().unwrap(), "check-config"], &env);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(
            "`pushdown` applies to checks on a PostgreSQL source (kind = \"postgres\"); source \
             \"export\" is not one: remove it"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_pushed_down_statement_past_the_statement_timeout_fails_the_source_without_pulling() {
    let db = server().database("pushdown_timeout", "");
    let query = "SELECT g::text AS id, now() AS requested_at, NULL::timestamptz AS first_offered_at, \
                 'initial' AS visit_type, 'non_urgent' AS urgency, false AS prior_auth, \
                 'psychiatrist' AS provider_type, 'north' AS region, pg_sleep(0.5) AS nap \
                 FROM generate_series(1, 20) AS g";
    let mut config = source(
        "slow",
        &db,
        query,
        "tls = \"disable\"\nstatement_timeout = \"1s\"",
    );
    config += "\n[[check]]\nid = \"initial\"\nkind = \"timely_access\"\nsource = \"slow\"\n\
               standard = \"ca-dmhc/non-urgent-mh-initial\"\ngroup_by = [\"region\"]\n";
    let started = std::time::Instant::now();
    let (out, report) = run_once(&config, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let initial = check(&report, "initial");
    assert!(
        initial["error"]
            .as_str()
            .unwrap_or_default()
            .contains("ran longer than statement_timeout = 1s"),
        "{initial}"
    );
    assert!(
        !out.stderr.contains("check not pushed down"),
        "a timeout is not retried by pulling:\n{}",
        out.stderr
    );
    out.log("source fetch failed", "source", "slow");
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
}
