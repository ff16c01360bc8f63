//! Wait-time semantics, table by table, and a property test against a
//! plain reference implementation.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::check::CheckResult;
use crate::check::calendar::{Calendar, Preset};
use crate::check::schedule::Schedule;
use crate::check::standards;
use crate::check::{Comparison, Op, Severity};

const HEADER: &str = "id,requested_at,prior_appointment_at,discharged_at,first_offered_at,visit_type,urgency,prior_auth,provider_type,extended_by_provider,region";

/// A `timely_access` check of `standard` in Los Angeles time with the
/// us-federal calendar, grouped by region.
pub(super) fn check_of(standard: &str, tweak: impl FnOnce(&mut WaitRule)) -> Check {
    let standard = standards::find(standard).unwrap_or_else(|| panic!("no standard {standard}"));
    let standards::Requirement::WaitTime {
        selection,
        clock,
        limit,
        unit,
        target,
        measure,
    } = standard.rule.clone()
    else {
        panic!("not a wait-time standard");
    };
    let mut rule = WaitRule {
        effective: standard.effective,
        target_source: if target.is_some() {
            crate::check::TargetSource::Law
        } else {
            crate::check::TargetSource::Plan
        },
        target_from: standard.target_from,
        telehealth: standard.telehealth.unwrap_or(standards::Telehealth::Counts),
        standard,
        selection,
        clock,
        limit,
        unit,
        target: target.unwrap_or(0.9),
        measure,
        calendar: Arc::new(Calendar::new(Preset::UsFederal, &[])),
        time_zone: chrono_tz::America::Los_Angeles,
        window: chrono::Duration::days(30),
        max_rejected: 0.5,
        values: Arc::default(),
        pushdown: None,
    };
    tweak(&mut rule);
    Check {
        id: "c".to_owned(),
        title: "C".to_owned(),
        severity: Severity::Critical,
        citation: None,
        source: "s".to_owned(),
        group_by: vec!["region".to_owned()],
        require_labels: false,
        metric: "m".to_owned(),
        comparison: Comparison {
            op: Op::Ge,
            limit: rule.target,
        },
        rule: Rule::TimelyAccess(Box::new(rule)),
        schedule: Schedule::parse("@daily", chrono_tz::UTC).unwrap(),
        policy: Default::default(),
        clear_at: None,
    }
}

pub(super) fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Evaluates `rows` (CSV lines after [`HEADER`]) as of `as_of`.
fn evaluate(check: &Check, rows: &[&str], as_of: &str) -> CheckResult {
    evaluate_with(check, HEADER, rows, as_of)
}

/// Evaluates `rows` (CSV lines after `header`) as of `as_of`.
fn evaluate_with(check: &Check, header: &str, rows: &[&str], as_of: &str) -> CheckResult {
    let text = format!("{header}\n{}\n", rows.join("\n"));
    evaluate_text(std::slice::from_ref(check), &text, as_of)
        .pop()
        .unwrap()
}

/// Evaluates `checks` in one pass over the CSV `text` (a header first).
fn evaluate_text(checks: &[Check], text: &str, as_of: &str) -> Vec<CheckResult> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let mut evaluator = Evaluator::new(checks, &header, &BTreeMap::new(), utc(as_of));
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).unwrap() {
        evaluator.add(record.position().unwrap().line(), &record);
    }
    evaluator.finish(utc(as_of))
}

/// Counts of the one group as `c/n/p/e/r overdue`.
fn counts(result: &CheckResult) -> String {
    assert_eq!(result.groups.len(), 1, "{result:#?}");
    let w = result.groups[0].wait.as_ref().unwrap();
    let c = w.counts;
    format!(
        "{}/{}/{}/{}/{} overdue {}",
        c.compliant, c.noncompliant, c.pending, c.extended, c.rejected, w.overdue_open
    )
}

/// One row: request time, offer time (or ""), and extension.
fn row(requested: &str, offered: &str, extended: bool) -> String {
    format!("r,{requested},,,{offered},initial,non_urgent,false,non_physician_mh,{extended},south")
}

fn check_rows(check: &Check, rows: &[String], as_of: &str, expected: &str) {
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(counts(&evaluate(check, &rows, as_of)), expected, "{rows:?}");
}

const AS_OF: &str = "2026-11-30T17:00:00-08:00";

#[test]
fn business_day_limit_boundary() {
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    // Monday 2026-11-02 request. 10 business days later is Monday
    // 2026-11-16 (Veterans Day, Wed 11-11, is a federal holiday, so the
    // tenth business day is Tuesday 11-17).
    check_rows(
        &c,
        &[row(
            "2026-11-02T09:00:00-08:00",
            "2026-11-17T09:00:00-08:00",
            false,
        )],
        AS_OF,
        "1/0/0/0/0 overdue 0",
    );
    check_rows(
        &c,
        &[row(
            "2026-11-02T09:00:00-08:00",
            "2026-11-18T09:00:00-08:00",
            false,
        )],
        AS_OF,
        "0/1/0/0/0 overdue 0",
    );
    // Same-day offer and a Friday request offered the next Friday.
    check_rows(
        &c,
        &[row(
            "2026-11-06T09:00:00-08:00",
            "2026-11-06T16:00:00-08:00",
            false,
        )],
        AS_OF,
        "1/0/0/0/0 overdue 0",
    );
    let result = evaluate(
        &c,
        &[&row(
            "2026-11-06T09:00:00-08:00",
            "2026-11-13T09:00:00-08:00",
            false,
        )],
        AS_OF,
    );
    assert_eq!(
        result.groups[0].wait.as_ref().unwrap().median_wait,
        Some(4.0),
        "Fri→Fri across Veterans Day"
    );
    let result = evaluate(
        &c,
        &[&row(
            "2026-11-13T09:00:00-08:00",
            "2026-11-20T09:00:00-08:00",
            false,
        )],
        AS_OF,
    );
    assert_eq!(
        result.groups[0].wait.as_ref().unwrap().median_wait,
        Some(5.0),
        "Fri→Fri"
    );
}

#[test]
fn local_dates_come_from_the_check_zone() {
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |r| {
        r.window = chrono::Duration::days(60)
    });
    // 2026-11-07T03:00Z is Friday 11-06 19:00 in Los Angeles; the offer on
    // Monday is one business day later, not zero.
    let result = evaluate(
        &c,
        &[&row(
            "2026-11-07T03:00:00Z",
            "2026-11-09T10:00:00-08:00",
            false,
        )],
        AS_OF,
    );
    assert_eq!(
        result.groups[0].wait.as_ref().unwrap().median_wait,
        Some(1.0)
    );
    // Across the fall-back change (2026-11-01), offsets mixed.
    let result = evaluate(
        &c,
        &[&row(
            "2026-10-30T10:00:00-07:00",
            "2026-11-02T10:00:00Z",
            false,
        )],
        AS_OF,
    );
    assert_eq!(
        result.groups[0].wait.as_ref().unwrap().median_wait,
        Some(1.0)
    );
    // No offset: read as Los Angeles time; a bare date is that day's start.
    let result = evaluate(
        &c,
        &[&row("2026-11-06 23:30:00", "2026-11-09", false)],
        AS_OF,
    );
    assert_eq!(
        result.groups[0].wait.as_ref().unwrap().median_wait,
        Some(1.0)
    );
}

#[test]
fn extensions_and_open_requests() {
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    // Extended: compliant and counted as extended, late or not offered.
    check_rows(
        &c,
        &[row(
            "2026-11-02T09:00:00-08:00",
            "2026-11-30T09:00:00-08:00",
            true,
        )],
        AS_OF,
        "1/0/0/1/0 overdue 0",
    );
    check_rows(
        &c,
        &[row("2026-11-02T09:00:00-08:00", "", true)],
        AS_OF,
        "1/0/0/1/0 overdue 0",
    );
    // Open: on Monday 11-30, a request of Monday 11-16 has waited 9
    // business days (Thanksgiving 11-26): pending; one of 11-13 (Friday)
    // has waited 10: still pending; one of 11-12 has waited 11: overdue.
    check_rows(
        &c,
        &[row("2026-11-16T09:00:00-08:00", "", false)],
        AS_OF,
        "0/0/1/0/0 overdue 0",
    );
    check_rows(
        &c,
        &[row("2026-11-13T09:00:00-08:00", "", false)],
        AS_OF,
        "0/0/1/0/0 overdue 0",
    );
    check_rows(
        &c,
        &[row("2026-11-12T09:00:00-08:00", "", false)],
        AS_OF,
        "0/1/0/0/0 overdue 1",
    );
    let result = evaluate(
        &c,
        &[
            &row("2026-11-12T09:00:00-08:00", "", false),
            &row("2026-11-20T09:00:00-08:00", "", false),
        ],
        AS_OF,
    );
    let w = result.groups[0].wait.as_ref().unwrap();
    assert_eq!(w.longest_open_wait, Some(11.0));
    assert_eq!(w.rate, Some(0.0), "pending requests stay out of the rate");
}

#[test]
fn window_bounds() {
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    let offer = "2026-11-30T16:00:00-08:00";
    // The window is [as_of − 30 days, as_of]: 30 × 24 hours before
    // 2026-11-30T17:00-08:00 is 2026-10-31T18:00-07:00, across the DST
    // change; a request exactly then is inside.
    check_rows(
        &c,
        &[row("2026-10-31T18:00:00-07:00", offer, false)],
        AS_OF,
        "0/1/0/0/0 overdue 0",
    );
    check_rows(
        &c,
        &[row("2026-11-30T17:00:00-08:00", "", false)],
        AS_OF,
        "0/0/1/0/0 overdue 0",
    );
    let result = evaluate(
        &c,
        &[
            &row("2026-10-31T17:59:59.999-07:00", offer, false),
            &row("2026-11-30T17:00:00.001-08:00", "", false),
        ],
        AS_OF,
    );
    assert!(result.groups.is_empty());
    assert_eq!(result.status, Status::Unknown, "nothing to measure");
    let longer = check_of("ca-dmhc/non-urgent-mh-initial", |r| {
        r.window = chrono::Duration::days(60)
    });
    check_rows(
        &longer,
        &[row(
            "2026-10-15T09:00:00-07:00",
            "2026-10-16T09:00:00-07:00",
            false,
        )],
        AS_OF,
        "1/0/0/0/0 overdue 0",
    );
}

#[test]
fn bad_rows_are_rejected_with_their_line() {
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    let good = row(
        "2026-11-16T09:00:00-08:00",
        "2026-11-17T09:00:00-08:00",
        false,
    );
    let rows = [
        good.as_str(),
        "r,2026-13-45T10:00:00Z,,,,initial,non_urgent,false,non_physician_mh,false,south",
        "r,2026-11-16T09:00:00-08:00,,,,initial,soon,false,non_physician_mh,false,south",
        "r,2026-11-16T09:00:00-08:00,,,2026-11-15T09:00:00-08:00,initial,non_urgent,false,non_physician_mh,false,south",
        "r,,,,,initial,non_urgent,false,non_physician_mh,false,south",
        "r,2026-11-16T09:00:00-08:00,,,garbage,initial,non_urgent,false,non_physician_mh,false,south",
        "r,2026-11-16T09:00:00-08:00,,,,initial,non_urgent,false,non_physician_mh,maybe,south",
        "r,2026-11-16T09:00:00-08:00,,,,initial,non_urgent,false,non_physician_mh,false",
    ];
    let result = evaluate(&c, &rows, AS_OF);
    assert_eq!(
        result.groups[0].labels["region"], "(none)",
        "a short row has no region"
    );
    assert_eq!(result.groups[0].wait.as_ref().unwrap().counts.pending, 1);
    let rows = &rows[..7];
    let result = evaluate(&c, rows, AS_OF);
    assert_eq!(counts(&result), "1/0/0/0/6 overdue 0");
    assert_eq!(
        result.rejected_rows,
        [
            "row 3: `requested_at` is not a timestamp",
            "row 4: `urgency` has an unknown value",
            "row 5: `first_offered_at` is before `requested_at`",
            "row 6: `requested_at` is empty",
            "row 7: `first_offered_at` is not a timestamp",
        ]
    );
    // 6 of 7 rejected: above max_rejected (50 % here), so unknown.
    assert_eq!(result.groups[0].status, Status::Unknown);
    assert_eq!(result.status, Status::Unknown);
    let error = result.groups[0].error.as_ref().unwrap();
    assert!(error.contains("6 of 7 rows rejected (85.7 %)"), "{error}");
    // At the default 5 %: one bad row among 26 (3.8 %) is tolerated, one
    // among 20 (exactly 5 %) too, one among 19 (5.3 %) is not.
    let strict = check_of("ca-dmhc/non-urgent-mh-initial", |r| r.max_rejected = 0.05);
    let mut many: Vec<&str> = vec![good.as_str(); 25];
    many.push(rows[1]);
    assert_eq!(evaluate(&strict, &many, AS_OF).status, Status::Ok);
    many.truncate(19);
    many.push(rows[1]);
    assert_eq!(evaluate(&strict, &many, AS_OF).status, Status::Ok);
    many.truncate(18);
    many.push(rows[1]);
    assert_eq!(evaluate(&strict, &many, AS_OF).status, Status::Unknown);
}

#[test]
fn rows_outside_the_selection_are_skipped() {
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    let rows = [
        "r,2026-11-16T09:00:00-08:00,,,,follow_up,non_urgent,false,non_physician_mh,false,south",
        "r,2026-11-16T09:00:00-08:00,,,,initial,urgent,false,non_physician_mh,false,south",
        "r,2026-11-16T09:00:00-08:00,,,,initial,non_urgent,false,psychiatrist,false,south",
        "r,2026-11-16T09:00:00-08:00,,,2026-11-17,initial,non_urgent,,non_physician_mh,,south",
    ];
    // Only the last applies; its empty prior_auth is not selected on and
    // an empty extension is "no".
    assert_eq!(counts(&evaluate(&c, &rows, AS_OF)), "1/0/0/0/0 overdue 0");
}

#[test]
fn follow_ups_count_from_the_prior_visit() {
    let c = check_of("ca-sb221/mh-follow-up", |_| {});
    let rows = [
        // Prior visit Monday 11-02; requested later; offered 11-17: 10 business days.
        "r,2026-11-10T09:00:00-08:00,2026-11-02T09:00:00-08:00,,2026-11-17T09:00:00-08:00,follow_up,non_urgent,false,non_physician_mh,false,south",
        "r,2026-11-10T09:00:00-08:00,2026-11-02T09:00:00-08:00,,2026-11-18T09:00:00-08:00,follow_up,non_urgent,false,non_physician_mh,false,south",
        // A follow-up without its prior visit: rejected.
        "r,2026-11-10T09:00:00-08:00,,,2026-11-18T09:00:00-08:00,follow_up,non_urgent,false,non_physician_mh,false,south",
        // An initial visit has no prior visit: not counted at all.
        "r,2026-11-10T09:00:00-08:00,,,2026-11-18T09:00:00-08:00,initial,non_urgent,false,non_physician_mh,false,south",
    ];
    assert_eq!(counts(&evaluate(&c, &rows, AS_OF)), "1/1/0/0/1 overdue 0");
}

#[test]
fn hours_and_calendar_days() {
    let urgent = check_of("ca-dmhc/urgent-no-prior-auth", |_| {});
    let rows = [
        "r,2026-11-20T09:00:00-08:00,,,2026-11-22T08:59:00-08:00,initial,urgent,false,psychiatrist,false,south",
        "r,2026-11-20T09:00:00-08:00,,,2026-11-22T09:01:00-08:00,initial,urgent,false,psychiatrist,false,south",
        "r,2026-11-20T09:00:00-08:00,,,2026-11-22T09:00:00-08:00,initial,urgent,true,psychiatrist,false,south",
    ];
    let result = evaluate(&urgent, &rows, AS_OF);
    assert_eq!(counts(&result), "1/1/0/0/0 overdue 0");
    assert_eq!(
        result.groups[0].wait.as_ref().unwrap().unit,
        standards::Unit::Hours
    );
    // Open for more than 48 hours at the evaluation time: overdue.
    let open = ["r,2026-11-28T16:00:00-08:00,,,,initial,urgent,false,psychiatrist,false,south"];
    assert_eq!(
        counts(&evaluate(&urgent, &open, AS_OF)),
        "0/1/0/0/0 overdue 1"
    );
    let md = check_of("md/bh-non-urgent", |_| {});
    let rows = [
        "r,2026-11-20T09:00:00-08:00,,,2026-11-30T09:00:00-08:00,initial,non_urgent,false,psychiatrist,false,south",
        "r,2026-11-19T09:00:00-08:00,,,2026-11-30T09:00:00-08:00,initial,non_urgent,false,psychiatrist,false,south",
    ];
    assert_eq!(counts(&evaluate(&md, &rows, AS_OF)), "1/1/0/0/0 overdue 0");
}

#[test]
fn standards_not_yet_in_force() {
    let medicaid = check_of("us-cms/medicaid-outpatient-mh-sud", |_| {});
    let rows = [row(
        "2026-11-16T09:00:00-08:00",
        "2026-12-30T09:00:00-08:00",
        false,
    )];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let result = evaluate(&medicaid, &rows, AS_OF);
    assert_eq!(result.status, Status::NotInForce);
    assert_eq!(result.groups[0].status, Status::NotInForce);
    let later = evaluate(
        &medicaid,
        &[&row(
            "2027-07-20T09:00:00-07:00",
            "2027-09-30T09:00:00-07:00",
            false,
        )],
        "2027-07-30T17:00:00-07:00",
    );
    assert_eq!(later.status, Status::Breach);
}

#[test]
fn the_average_wait_standard_checks_the_mean() {
    let kp = check_of("kp-dmhc-2023/follow-up-average", |_| {});
    let follow_up = |offer: &str| {
        format!(
            "r,2026-11-10T09:00:00-08:00,2026-11-02T09:00:00-08:00,,{offer},follow_up,non_urgent,false,non_physician_mh,false,south"
        )
    };
    // Waits 10 and 12 business days: mean 11 > 10.
    let rows = [
        follow_up("2026-11-17T09:00:00-08:00"),
        follow_up("2026-11-19T09:00:00-08:00"),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let result = evaluate(&kp, &rows, AS_OF);
    assert_eq!(result.status, Status::Breach);
    assert_eq!(result.groups[0].value, Some(11.0));
    // Waits 8 and 12: mean 10, at the limit.
    let rows = [
        follow_up("2026-11-13T09:00:00-08:00"),
        follow_up("2026-11-19T09:00:00-08:00"),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(evaluate(&kp, &rows, AS_OF).status, Status::Ok);
}

#[test]
fn quantiles_are_nearest_rank() {
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |r| {
        r.calendar = Arc::new(Calendar::new(Preset::Weekdays, &[]))
    });
    // Waits 0..=9 business days from Monday 2026-11-16.
    let offers = [
        "2026-11-16",
        "2026-11-17",
        "2026-11-18",
        "2026-11-19",
        "2026-11-20",
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
    ];
    let rows: Vec<String> = offers
        .iter()
        .map(|o| {
            row(
                "2026-11-16T09:00:00-08:00",
                &format!("{o}T12:00:00-08:00"),
                false,
            )
        })
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let w = evaluate(&c, &rows, AS_OF).groups[0].wait.clone().unwrap();
    assert_eq!((w.median_wait, w.p90_wait), (Some(4.0), Some(8.0)));
    assert_eq!(w.mean_wait, Some(4.5));
}

#[test]
fn mapping_and_value_maps() {
    let mut maps = std::collections::HashMap::new();
    maps.insert(
        crate::check::fields::Field::ProviderType,
        [("LCSW".to_owned(), "non_physician_mh".to_owned())]
            .into_iter()
            .collect(),
    );
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |r| {
        r.values = Arc::new(crate::check::fields::ValueMaps::new(maps))
    });
    let header: Vec<String> = [
        "Requested",
        "Offered",
        "Visit",
        "Urgency",
        "Provider",
        "Region",
    ]
    .map(str::to_owned)
    .to_vec();
    let mapping: BTreeMap<String, String> = [
        ("requested_at", "Requested"),
        ("first_offered_at", "Offered"),
        ("visit_type", "Visit"),
        ("urgency", "Urgency"),
        ("provider_type", "Provider"),
        ("region", "Region"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .into_iter()
    .collect();
    let mut evaluator = Evaluator::new(std::slice::from_ref(&c), &header, &mapping, utc(AS_OF));
    let row: Vec<Option<String>> = [
        "2026-11-16T09:00:00-08:00",
        "2026-11-17",
        "initial",
        "non_urgent",
        "LCSW",
        "south",
    ]
    .map(|s| Some(s.to_owned()))
    .to_vec();
    evaluator.add(2, &row);
    let result = evaluator.finish(utc(AS_OF)).pop().unwrap();
    assert_eq!(counts(&result), "1/0/0/0/0 overdue 0");
    // A source without a column the standard needs: unknown, saying which.
    let header: Vec<String> = ["requested_at", "region"].map(str::to_owned).to_vec();
    let evaluator = Evaluator::new(
        std::slice::from_ref(&c),
        &header,
        &BTreeMap::new(),
        utc(AS_OF),
    );
    let result = evaluator.finish(utc(AS_OF)).pop().unwrap();
    assert_eq!(result.status, Status::Unknown);
    let error = result.error.unwrap();
    assert!(
        error.contains("has no `urgency`, `visit_type`, `provider_type`"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------
// Property test: the streaming evaluator against a plain reference.

mod property {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Case {
        requested: i64,
        offered: Option<i64>,
        extended: bool,
        urgent: bool,
        region: u8,
        bad: u8,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            0i64..(50 * 86_400),
            proptest::option::of(-86_400i64..(40 * 86_400)),
            proptest::bool::weighted(0.05),
            proptest::bool::weighted(0.2),
            0u8..3,
            0u8..40,
        )
            .prop_map(|(requested, offered, extended, urgent, region, bad)| Case {
                requested,
                offered,
                extended,
                urgent,
                region,
                bad,
            })
    }

    const START: i64 = 1_761_980_400; // 2025-11-01T07:00:00Z

    fn text(seconds: i64, zulu: bool) -> String {
        let t = DateTime::from_timestamp(START + seconds, 0).unwrap();
        if zulu {
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        } else {
            t.with_timezone(&chrono_tz::America::Los_Angeles)
                .to_rfc3339()
        }
    }

    fn csv_row(c: &Case) -> String {
        let requested = if c.bad == 1 {
            "2025-13-01".to_owned()
        } else {
            text(c.requested, c.region == 0)
        };
        let offered = c
            .offered
            .map(|o| text(c.requested + o, c.region != 1))
            .unwrap_or_default();
        let urgency = match (c.bad, c.urgent) {
            (2, _) => "soon",
            (_, true) => "urgent",
            _ => "non_urgent",
        };
        format!(
            "r,{requested},,,{offered},initial,{urgency},false,non_physician_mh,{},region{}",
            c.extended, c.region
        )
    }

    /// The semantics written plainly, one request at a time with chrono.
    fn reference(
        cases: &[Case],
        as_of: DateTime<Utc>,
        calendar: &Calendar,
    ) -> BTreeMap<String, [u64; 6]> {
        let zone = chrono_tz::America::Los_Angeles;
        let date = |seconds: i64| {
            DateTime::from_timestamp(START + seconds, 0)
                .unwrap()
                .with_timezone(&zone)
                .date_naive()
        };
        let as_of_date = as_of.with_timezone(&zone).date_naive();
        let bd = |from: NaiveDate, to: NaiveDate| {
            from.iter_days()
                .skip(1)
                .take_while(|d| *d <= to)
                .filter(|d| calendar.is_business_day(*d))
                .count() as i64
        };
        let mut out: BTreeMap<String, [u64; 6]> = BTreeMap::new();
        for c in cases {
            let counts = out.entry(format!("region{}", c.region)).or_default();
            // [compliant, noncompliant, pending, extended, rejected, overdue]
            if c.bad == 1 {
                counts[4] += 1;
                continue;
            }
            let t = START + c.requested;
            if t < as_of.timestamp() - 30 * 86_400 || t > as_of.timestamp() {
                continue;
            }
            if c.bad == 2 {
                counts[4] += 1;
                continue;
            }
            if c.urgent {
                continue;
            }
            if c.offered.is_some_and(|o| o < 0) {
                counts[4] += 1;
                continue;
            }
            if c.extended {
                counts[0] += 1;
                counts[3] += 1;
            } else if let Some(o) = c.offered {
                if bd(date(c.requested), date(c.requested + o)) <= 10 {
                    counts[0] += 1
                } else {
                    counts[1] += 1
                }
            } else if bd(date(c.requested), as_of_date) > 10 {
                counts[1] += 1;
                counts[5] += 1;
            } else {
                counts[2] += 1;
            }
        }
        out.retain(|_, c| c.iter().any(|n| *n > 0));
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn counts_agree_with_the_reference(cases in proptest::collection::vec(case(), 0..300)) {
            let check = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
            let as_of = "2025-12-10T17:00:00-08:00";
            let rows: Vec<String> = cases.iter().map(csv_row).collect();
            let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
            let result = evaluate(&check, &rows, as_of);
            let got: BTreeMap<String, [u64; 6]> = result.groups.iter().map(|g| {
                let w = g.wait.as_ref().unwrap();
                let c = w.counts;
                (g.labels["region"].clone(), [c.compliant, c.noncompliant, c.pending, c.extended, c.rejected, w.overdue_open])
            }).collect();
            let calendar = Calendar::new(Preset::UsFederal, &[]);
            prop_assert_eq!(got, reference(&cases, utc(as_of), &calendar));
        }

        #[test]
        fn merging_halves_equals_one_pass(cases in proptest::collection::vec(case(), 0..200), split in 0usize..200) {
            let check = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
            let as_of = utc("2025-12-10T17:00:00-08:00");
            let header: Vec<String> = HEADER.split(',').map(str::to_owned).collect();
            let rows: Vec<Vec<Option<String>>> = cases.iter().map(|c| csv_row(c).split(',').map(|s| Some(s.to_owned())).collect()).collect();
            let split = split.min(rows.len());
            let new = || Evaluator::new(std::slice::from_ref(&check), &header, &BTreeMap::new(), as_of);
            let (mut whole, mut first, mut second) = (new(), new(), new());
            for (i, row) in rows.iter().enumerate() {
                whole.add(i as u64 + 2, row);
                if i < split { first.add(i as u64 + 2, row) } else { second.add(i as u64 + 2, row) }
            }
            first.merge(second);
            let a = whole.finish(as_of);
            let b = first.finish(as_of);
            prop_assert_eq!(format!("{:?}", a), format!("{:?}", b));
        }

        /// One pass for many checks gives what each check gives alone:
        /// different standards, clocks, zones, windows, `group_by` and
        /// `require_labels` over rows with every kind of bad value, the
        /// results made on one thread or several.
        #[test]
        fn many_checks_in_one_pass_equal_each_alone(
            rows in proptest::collection::vec(varied_row(), 0..150),
            split in 0usize..150,
            limit in proptest::option::of(0usize..4),
            threads in 1usize..4,
        ) {
            let checks = varied_checks();
            let as_of = utc("2025-12-10T17:00:00-08:00");
            let header: Vec<String> = VARIED_HEADER.split(',').map(str::to_owned).collect();
            let rows: Vec<Vec<Option<String>>> = rows
                .iter()
                .map(|r| r.split(',').map(|s| Some(s.to_owned())).collect())
                .collect();
            let run = |checks: &[Check], split: usize, threads: usize| {
                // Checks that share counts, sharing up to `limit` groups
                // (then each counts on its own): in either part, both or
                // neither.
                let new = |part: usize| {
                    let mut evaluator = Evaluator::new(checks, &header, &BTreeMap::new(), as_of);
                    if let Some(limit) = limit {
                        evaluator.share_at_most(limit + part);
                    }
                    evaluator
                };
                let (mut first, mut second) = (new(0), new(split % 2));
                for (i, row) in rows.iter().enumerate() {
                    let part = if i < split { &mut first } else { &mut second };
                    part.add(i as u64 + 2, row);
                }
                first.merge(second);
                first.finish_on(as_of, threads)
            };
            prop_assert!(Evaluator::new(&checks, &header, &BTreeMap::new(), as_of).shares());
            let together = run(&checks, split.min(rows.len()), threads);
            prop_assert_eq!(together.len(), checks.len());
            for (check, got) in checks.iter().zip(&together) {
                let alone = run(std::slice::from_ref(check), rows.len(), 1);
                prop_assert_eq!(format!("{:?}", alone[0]), format!("{got:?}"), "check {}", check.id);
            }
        }
    }

    const VARIED_HEADER: &str = "id,requested_at,prior_appointment_at,first_offered_at,visit_type,urgency,prior_auth,provider_type,extended_by_provider,modality,requested_modality,region,line";

    /// A row with any mix of good, empty and bad values.
    fn varied_row() -> impl Strategy<Value = String> {
        let pick = |options: &'static [&'static str]| proptest::sample::select(options);
        (
            (0i64..(50 * 86_400), proptest::option::of(-86_400i64..(40 * 86_400)), proptest::option::of(1i64..(40 * 86_400)), 0u8..12),
            pick(&["initial", "follow_up", "", "again"]),
            pick(&["non_urgent", "urgent", "", "soon"]),
            pick(&["true", "false", "", "maybe"]),
            pick(&["non_physician_mh", "psychiatrist", "primary_care", "specialist", "", "healer"]),
            pick(&["false", "true", "", "perhaps"]),
            (pick(&["in_person", "telehealth", "", "carrier pigeon"]), pick(&["in_person", "telehealth", ""])),
            (pick(&["north", "south", ""]), pick(&["commercial", "medi-cal", ""])),
        )
            .prop_map(|((requested, offered, prior, form), visit, urgency, auth, provider, extended, (modality, requested_modality), (region, line))| {
                let stamp = |seconds: i64| match form % 4 {
                    0 => text(seconds, true),
                    1 => text(seconds, false),
                    2 => DateTime::from_timestamp(START + seconds, 0).unwrap().format("%Y-%m-%dT%H:%M:%S").to_string(),
                    _ => DateTime::from_timestamp(START + seconds, 0).unwrap().format("%Y-%m-%d").to_string(),
                };
                let requested_text = match form {
                    10 => String::new(),
                    11 => "2025-13-01".to_owned(),
                    _ => stamp(requested),
                };
                let prior = prior.map(|p| stamp(requested - p)).unwrap_or_default();
                let offered = offered.map(|o| stamp(requested + o)).unwrap_or_default();
                format!("r,{requested_text},{prior},{offered},{visit},{urgency},{auth},{provider},{extended},{modality},{requested_modality},{region},{line}")
            })
    }

    /// Checks that differ in everything a pass shares between them.
    fn varied_checks() -> Vec<Check> {
        let with = |id: &str, standard: &str, group_by: &[&str], tweak: fn(&mut WaitRule)| {
            let mut check = check_of(standard, tweak);
            check.id = id.to_owned();
            check.group_by = group_by.iter().map(|s| (*s).to_owned()).collect();
            check
        };
        let mut checks = vec![
            with(
                "initial-by-region",
                "ca-dmhc/non-urgent-mh-initial",
                &["region"],
                |_| {},
            ),
            with(
                "initial-overall",
                "ca-dmhc/non-urgent-mh-initial",
                &[],
                |_| {},
            ),
            with(
                "initial-by-region-line",
                "ca-dmhc/non-urgent-mh-initial",
                &["region", "line"],
                |r| {
                    r.window = chrono::Duration::days(10);
                },
            ),
            // Checks of one standard with other labels and windows: they
            // count together (`Shared`).
            with(
                "initial-by-line-region",
                "ca-dmhc/non-urgent-mh-initial",
                &["line", "region"],
                |r| {
                    r.window = chrono::Duration::days(20);
                },
            ),
            with(
                "initial-by-region-recent",
                "ca-dmhc/non-urgent-mh-initial",
                &["region"],
                |r| {
                    r.window = chrono::Duration::days(5);
                },
            ),
            with("follow-up", "ca-sb221/mh-follow-up", &["region"], |_| {}),
            with(
                "follow-up-by-line-recent",
                "ca-sb221/mh-follow-up",
                &["line"],
                |r| {
                    r.window = chrono::Duration::days(3);
                },
            ),
            with(
                "urgent-new-york",
                "ca-dmhc/urgent-no-prior-auth",
                &["line"],
                |r| {
                    r.time_zone = chrono_tz::America::New_York;
                },
            ),
            with(
                "urgent-auth",
                "ca-dmhc/urgent-prior-auth",
                &["region"],
                |r| {
                    r.telehealth = Telehealth::DoesNotCount;
                },
            ),
            with(
                "primary-care",
                "ca-dmhc/non-urgent-primary-care",
                &["region", "provider_type"],
                |r| {
                    r.telehealth = Telehealth::MemberChoice;
                },
            ),
            with(
                "average",
                "kp-dmhc-2023/follow-up-average",
                &["region"],
                |_| {},
            ),
            with("ma-routine", "us-cms/ma-bh-routine", &["line"], |r| {
                r.telehealth = Telehealth::UnlessInPersonRequested;
            }),
        ];
        let mut strict = with(
            "initial-strict",
            "ca-dmhc/non-urgent-mh-initial",
            &["region"],
            |_| {},
        );
        strict.require_labels = true;
        checks.push(strict);
        // One source's value map, as validation gives its checks: checks
        // of one standard then classify alike.
        let values = std::sync::Arc::new(crate::check::fields::ValueMaps::default());
        for check in &mut checks {
            if let Rule::TimelyAccess(rule) = &mut check.rule {
                rule.values = values.clone();
            }
        }
        checks
    }
}

/// Every wait-time standard of the catalog, evaluated on two requests made
/// from its own rule: one offered exactly at the limit (compliant) and one
/// offered just past it (non-compliant), with a request the standard does
/// not apply to beside them, evaluated after the standard took effect.
#[test]
fn every_wait_time_standard_of_the_catalog() {
    use chrono::TimeZone as _;
    let zone = chrono_tz::America::Los_Angeles;
    let mut tested = 0;
    for standard in standards::catalog() {
        let standards::Requirement::WaitTime {
            selection,
            unit,
            limit,
            clock,
            ..
        } = &standard.rule
        else {
            continue;
        };
        if *clock == standards::ClockStart::CallStart {
            // Call records have their own columns: `calls_are_timed_to_the_second`.
            continue;
        }
        let check = check_of(standard.id, |_| {});
        let Rule::TimelyAccess(rule) = &check.rule else {
            unreachable!()
        };
        let effective = standard
            .effective
            .unwrap_or(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let start_date = effective.max(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap())
            + chrono::Duration::days(7);
        let start = zone
            .from_local_datetime(&start_date.and_hms_opt(9, 0, 0).unwrap())
            .unwrap();
        // The offer at the limit, and one unit past it.
        let at_limit = match unit {
            standards::Unit::Hours => start + chrono::Duration::minutes((*limit * 60.0) as i64),
            standards::Unit::Minutes => start + chrono::Duration::seconds((*limit * 60.0) as i64),
            standards::Unit::CalendarDays => start + chrono::Duration::days(*limit as i64),
            standards::Unit::BusinessDays => {
                let mut day = start_date;
                while rule.calendar.business_days(start_date, day) < *limit as i64 {
                    day = day.succ_opt().unwrap();
                }
                zone.from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
                    .unwrap()
            }
        };
        let past = match unit {
            standards::Unit::Hours => at_limit + chrono::Duration::minutes(1),
            _ => {
                let mut day = at_limit.date_naive().succ_opt().unwrap();
                while *unit == standards::Unit::BusinessDays && !rule.calendar.is_business_day(day)
                {
                    day = day.succ_opt().unwrap();
                }
                zone.from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
                    .unwrap()
            }
        };
        let urgency = selection.urgency.map_or("non_urgent", |u| u.as_str());
        let visit = selection.visit_type.map_or("initial", |v| v.as_str());
        let prior_auth = selection.prior_auth.unwrap_or(false);
        let provider = selection
            .provider_types
            .first()
            .map_or("non_physician_mh", |p| p.as_str());
        let other_provider = if provider == "ancillary" {
            "primary_care"
        } else {
            "ancillary"
        };
        let line = |offer: &str, provider: &str| {
            let t = start.to_rfc3339();
            format!("r,{t},{t},{t},{offer},{visit},{urgency},{prior_auth},{provider},false,south")
        };
        let mut rows = vec![
            line(&at_limit.to_rfc3339(), provider),
            line(&past.to_rfc3339(), provider),
        ];
        if !selection.provider_types.is_empty() {
            rows.push(line(&past.to_rfc3339(), other_provider));
        }
        let as_of = (start + chrono::Duration::days(20)).to_rfc3339();
        let result = evaluate(
            &check,
            &rows.iter().map(String::as_str).collect::<Vec<_>>(),
            &as_of,
        );
        assert_eq!(counts(&result), "1/1/0/0/0 overdue 0", "{}", standard.id);
        assert_ne!(result.status, Status::NotInForce, "{}", standard.id);
        tested += 1;
    }
    assert_eq!(
        tested, 22,
        "every wait-time entry of sections 1 and 3 but the calls"
    );
}

/// Waits in business days across DST changes and weekends, in Los Angeles
/// and New York: (zone, request, offer, business days).
#[test]
fn business_day_waits_across_dst_and_weekends() {
    let la = chrono_tz::America::Los_Angeles;
    let ny = chrono_tz::America::New_York;
    #[rustfmt::skip]
    let cases = [
        // Spring forward, Sunday 2026-03-08: a Saturday-night request offered Monday.
        (la, "2026-03-08T01:30:00-08:00", "2026-03-09T09:00:00-07:00", 1),
        (ny, "2026-03-08T01:30:00-05:00", "2026-03-09T09:00:00-04:00", 1),
        // The same instants in UTC: 06:30Z is Saturday night in LA but
        // Sunday 01:30 in New York; both still one business day to Monday.
        (la, "2026-03-08T06:30:00Z", "2026-03-09T13:00:00Z", 1),
        (ny, "2026-03-08T06:30:00Z", "2026-03-09T13:00:00Z", 1),
        // One instant, two dates: Friday 00:30 in New York is Thursday in LA.
        (ny, "2026-03-06T05:30:00Z", "2026-03-06T18:00:00Z", 0),
        (la, "2026-03-06T05:30:00Z", "2026-03-06T18:00:00Z", 1),
        // Fall back, Sunday 2026-11-01.
        (la, "2026-10-30T16:00:00-07:00", "2026-11-02T08:00:00-08:00", 1),
        (ny, "2026-10-31T23:59:00-04:00", "2026-11-02T00:01:00-05:00", 1),
        (ny, "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", 0), // the repeated hour
        // Weekend requests.
        (la, "2026-11-07T10:00:00-08:00", "2026-11-09T10:00:00-08:00", 1),
        (la, "2026-11-07T10:00:00-08:00", "2026-11-08T10:00:00-08:00", 0),
        (ny, "2026-11-08T10:00:00-05:00", "2026-11-13T10:00:00-05:00", 4), // Veterans Day Wed 11-11
    ];
    for (zone, requested, offered, expected) in cases {
        let check = check_of("ca-dmhc/non-urgent-mh-initial", |r| {
            r.time_zone = zone;
            r.window = chrono::Duration::days(400);
        });
        let result = evaluate(&check, &[&row(requested, offered, false)], AS_OF);
        let wait = result
            .groups
            .first()
            .and_then(|g| g.wait.as_ref())
            .and_then(|w| w.median_wait);
        assert_eq!(
            wait,
            Some(expected as f64),
            "{zone} {requested} → {offered}"
        );
    }
}

/// Counts of the one group of `check` on one row of `header`, as of
/// `as_of`, with the group's status: `c/n/p/e/r before-effective status`.
fn one(check: &Check, header: &str, row: &str, as_of: &str) -> String {
    let result = evaluate_with(check, header, &[row], as_of);
    let group = &result.groups[0];
    let c = group.wait.as_ref().unwrap().counts;
    format!(
        "{}/{}/{}/{}/{} before {} {}",
        c.compliant,
        c.noncompliant,
        c.pending,
        c.extended,
        c.rejected,
        c.before_effective,
        group.status.as_str()
    )
}

/// Hours are exact: one second either side of 48 h, a fraction of a
/// second past it, and open requests as old.
#[test]
fn hour_limits_are_exact_to_the_fraction_of_a_second() {
    let c = check_of("ca-dmhc/urgent-no-prior-auth", |r| r.target = 0.5);
    let header = "requested_at,first_offered_at,urgency,prior_auth,region";
    let as_of = "2026-11-30T12:00:00Z";
    #[rustfmt::skip]
    let cases = [
        ("2026-11-20T08:00:00Z,2026-11-22T07:59:59Z", "1/0/0/0/0 before 0 ok"),
        ("2026-11-20T08:00:00Z,2026-11-22T08:00:00Z", "1/0/0/0/0 before 0 ok"),
        ("2026-11-20T08:00:00Z,2026-11-22T08:00:01Z", "0/1/0/0/0 before 0 breach"),
        ("2026-11-20T08:00:00Z,2026-11-22T08:00:00.5Z", "0/1/0/0/0 before 0 breach"),
        ("2026-11-20T08:00:00.25Z,2026-11-22T08:00:00.25Z", "1/0/0/0/0 before 0 ok"),
        ("2026-11-20T08:00:00.25Z,2026-11-22T08:00:00.250000001Z", "0/1/0/0/0 before 0 breach"),
        // Open requests: at exactly 48 h pending, a second later overdue.
        ("2026-11-28T12:00:00Z,", "0/0/1/0/0 before 0 unknown"),
        ("2026-11-28T11:59:59Z,", "0/1/0/0/0 before 0 breach"),
        ("2026-11-28T11:59:59.9Z,", "0/1/0/0/0 before 0 breach"),
    ];
    for (times, expected) in cases {
        let row = format!("{times},urgent,false,south");
        assert_eq!(one(&c, header, &row, as_of), expected, "{row}");
    }
}

/// Calls in minutes: one second either side of 30 minutes.
#[test]
fn calls_are_timed_to_the_second() {
    let c = check_of("ca-dmhc/phone-triage", |r| r.target = 0.5);
    let header = "call_started_at,answered_at,region";
    let as_of = "2026-11-30T12:00:00Z";
    #[rustfmt::skip]
    let cases = [
        ("2026-11-30T08:00:00Z,2026-11-30T08:30:00Z", "1/0/0/0/0 before 0 ok"),
        ("2026-11-30T08:00:00Z,2026-11-30T08:30:01Z", "0/1/0/0/0 before 0 breach"),
        ("2026-11-30T08:00:00Z,2026-11-30T07:59:00Z", "0/0/0/0/1 before 0 unknown"),
        ("2026-11-30T11:31:00Z,", "0/0/1/0/0 before 0 unknown"),
        ("2026-11-30T11:29:59Z,", "0/1/0/0/0 before 0 breach"),
    ];
    for (times, expected) in cases {
        let row = format!("{times},south");
        assert_eq!(one(&c, header, &row, as_of), expected, "{row}");
    }
}

/// Effective dates per request, at midnight in the check's zone: SUD
/// providers fall under DMHC's initial-visit standard from 2022-07-01
/// (Los Angeles), mental health providers long before.
#[test]
fn effective_dates_apply_per_request_and_provider_type() {
    // The 70 % target starts in 2023: judge 2022 by a target of the plan's.
    let c = check_of("ca-dmhc/non-urgent-mh-initial", |r| r.target_from = None);
    let header = "requested_at,first_offered_at,urgency,visit_type,provider_type,region";
    let as_of = "2022-07-20T12:00:00-07:00";
    #[rustfmt::skip]
    let cases = [
        ("2022-06-30T23:59:59-07:00", "non_physician_sud", "0/0/0/0/0 before 1 not_in_force"),
        ("2022-07-01T00:00:00-07:00", "non_physician_sud", "1/0/0/0/0 before 0 ok"),
        // 06:59 UTC on July 1st is still June 30th in Los Angeles.
        ("2022-07-01T06:59:59Z", "non_physician_sud", "0/0/0/0/0 before 1 not_in_force"),
        ("2022-07-01T07:00:00Z", "non_physician_sud", "1/0/0/0/0 before 0 ok"),
        ("2022-06-30T23:59:59-07:00", "non_physician_mh", "1/0/0/0/0 before 0 ok"),
    ];
    for (requested, provider, expected) in cases {
        let row =
            format!("{requested},2022-07-06T09:00:00-07:00,non_urgent,initial,{provider},south");
        assert_eq!(one(&c, header, &row, as_of), expected, "{row}");
    }
    // The plan's own start of a standard (`in_force_from`) counts the
    // same way.
    let medicaid = check_of("us-cms/medicaid-outpatient-mh-sud", |r| {
        r.effective = NaiveDate::from_ymd_opt(2027, 9, 1);
    });
    let header = "requested_at,first_offered_at,urgency,provider_type,region";
    let row =
        |requested: &str| format!("{requested},2027-09-02T09:00:00Z,non_urgent,psychiatrist,south");
    let result = evaluate_with(
        &medicaid,
        header,
        &[&row("2027-08-31T12:00:00Z"), &row("2027-09-01T12:00:00Z")],
        "2027-09-10T12:00:00Z",
    );
    let counts = result.groups[0].wait.as_ref().unwrap().counts;
    assert_eq!((counts.compliant, counts.before_effective), (1, 1));
}

/// DMHC's 70 % applies from measurement year 2023; before it a group is
/// not judged unless the check sets its own target.
#[test]
fn a_target_applies_from_its_own_date() {
    let header = "requested_at,first_offered_at,urgency,prior_auth,region";
    let late = "2022-12-10T08:00:00-08:00,2022-12-14T08:00:00-08:00,urgent,false,south";
    let law = check_of("ca-dmhc/urgent-no-prior-auth", |_| {});
    let result = evaluate_with(&law, header, &[late], "2022-12-20T12:00:00-08:00");
    assert_eq!(result.groups[0].status, Status::NotInForce);
    assert!(
        result.groups[0]
            .error
            .as_deref()
            .unwrap()
            .contains("2023-01-01")
    );
    let result = evaluate_with(&law, header, &[late], "2023-01-02T12:00:00-08:00");
    assert_eq!(
        result.groups[0].status,
        Status::Breach,
        "the target applies in 2023"
    );
    let plan = check_of("ca-dmhc/urgent-no-prior-auth", |r| {
        r.target_source = crate::check::TargetSource::Plan;
        r.target_from = None;
        r.target = 0.7;
    });
    let result = evaluate_with(&plan, header, &[late], "2022-12-20T12:00:00-08:00");
    assert_eq!(
        result.groups[0].status,
        Status::Breach,
        "the plan's own target"
    );
    assert!(result.groups[0].wait.as_ref().unwrap().target_by_plan);
}

/// No value is never healthy: a share group with nothing measured yet is
/// unknown; an average-wait group whose requests are all overdue is a
/// breach, counted as waiting at least until the evaluation time.
#[test]
fn no_value_is_never_healthy() {
    let share = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    let pending = row("2026-11-29T09:00:00-08:00", "", false);
    let result = evaluate(&share, &[&pending], AS_OF);
    assert_eq!(result.groups[0].value, None);
    assert_eq!(result.groups[0].status, Status::Unknown);
    let average = check_of("kp-dmhc-2023/follow-up-average", |_| {});
    let header = "requested_at,prior_appointment_at,first_offered_at,urgency,visit_type,provider_type,region";
    let overdue =
        |prior: &str| format!("{prior},{prior},,non_urgent,follow_up,non_physician_mh,south");
    let result = evaluate_with(
        &average,
        header,
        &[
            &overdue("2026-11-02T09:00:00-08:00"),
            &overdue("2026-11-05T09:00:00-08:00"),
        ],
        AS_OF,
    );
    let group = &result.groups[0];
    assert_eq!(group.status, Status::Breach, "{group:?}");
    let value = group.value.expect("a lower bound of the average");
    assert!(value > 10.0, "{value}");
    // Only pending requests: nothing to average yet, not healthy.
    let result = evaluate_with(
        &average,
        header,
        &[&overdue("2026-11-27T09:00:00-08:00")],
        AS_OF,
    );
    assert_eq!(result.groups[0].status, Status::Unknown);
}

/// Telehealth offers under each rule: the offer counts, or the request is
/// still waiting (here past the limit, so overdue).
#[test]
fn telehealth_offers_follow_the_standards_rule() {
    let header = "requested_at,first_offered_at,modality,requested_modality,urgency,visit_type,provider_type,region";
    let as_of = "2026-11-30T12:00:00-05:00";
    let row = |modality: &str, requested: &str| {
        format!(
            "2026-11-02T09:00:00-05:00,2026-11-04T09:00:00-05:00,{modality},{requested},non_urgent,initial,non_physician_mh,south"
        )
    };
    let rule = |telehealth| {
        check_of("ny/bh-initial", move |r| {
            r.telehealth = telehealth;
            r.time_zone = chrono_tz::America::New_York;
        })
    };
    use standards::Telehealth::*;
    #[rustfmt::skip]
    let cases = [
        (UnlessInPersonRequested, "telehealth", "", "1/0/0/0/0 before 0 ok"),
        (UnlessInPersonRequested, "telehealth", "in_person", "0/1/0/0/0 before 0 breach"),
        (UnlessInPersonRequested, "in_person", "in_person", "1/0/0/0/0 before 0 ok"),
        (MemberChoice, "telehealth", "", "0/1/0/0/0 before 0 breach"),
        (MemberChoice, "telehealth", "telehealth", "1/0/0/0/0 before 0 ok"),
        (DoesNotCount, "telehealth", "telehealth", "0/1/0/0/0 before 0 breach"),
        (Counts, "telehealth", "in_person", "1/0/0/0/0 before 0 ok"),
        (Counts, "", "", "1/0/0/0/0 before 0 ok"),
        (Counts, "video", "", "0/0/0/0/1 before 0 unknown"),
    ];
    for (telehealth, modality, requested, expected) in cases {
        let c = rule(telehealth);
        assert_eq!(
            one(&c, header, &row(modality, requested), as_of),
            expected,
            "{telehealth:?} {modality} {requested}"
        );
    }
}

/// Checks that differ only in their window (and `group_by` and
/// `require_labels`) share a classification; each must still count
/// exactly what it counts alone, rows at its window's edges included.
#[test]
fn checks_of_different_windows_count_as_each_alone() {
    let as_of = "2026-11-30T17:00:00-08:00";
    let end = utc(as_of).timestamp();
    let mut rows = Vec::new();
    let mut seed = 7u64;
    let mut next = |below: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % below
    };
    for i in 0..3000 {
        let back = match i % 10 {
            // Exactly at a window's start, and a second either side.
            0 => [7, 30, 90][next(3) as usize] * 86_400 + next(3) as i64 - 1,
            _ => next(100 * 86_400) as i64,
        };
        let requested = DateTime::from_timestamp(end - back, 0)
            .unwrap()
            .to_rfc3339();
        let requested = if next(50) == 0 {
            "soon".to_owned()
        } else {
            requested
        };
        let offered = match next(3) {
            0 => String::new(),
            _ => DateTime::from_timestamp(end - back + next(20 * 86_400) as i64, 0)
                .unwrap()
                .to_rfc3339(),
        };
        let urgency = ["non_urgent", "urgent", "", "bogus"][next(4) as usize];
        let region = ["north", "south", ""][next(3) as usize];
        rows.push(format!(
            "r{i},{requested},,,{offered},initial,{urgency},false,non_physician_mh,false,{region}"
        ));
    }
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    let mut checks = Vec::new();
    for (i, days) in [30, 7, 90, 30].into_iter().enumerate() {
        let mut check = check_of("ca-dmhc/non-urgent-mh-initial", |r| {
            r.window = chrono::Duration::days(days);
        });
        check.id = format!("c{i}");
        check.require_labels = i == 3;
        if i == 1 {
            check.group_by = vec![];
        }
        checks.push(check);
    }
    let run = |checks: &[Check]| evaluate_text(checks, &text, as_of);
    let together = run(&checks);
    for (check, result) in checks.iter().zip(&together) {
        let alone = run(std::slice::from_ref(check)).pop().unwrap();
        assert_eq!(format!("{alone:?}"), format!("{result:?}"), "{}", check.id);
        assert!(!result.groups.is_empty(), "{}", check.id);
    }
    // The windows made a difference.
    let rows_of = |r: &CheckResult| r.groups.iter().map(|g| g.rows).sum::<usize>();
    assert!(rows_of(&together[1]) < rows_of(&together[0]));
    assert!(rows_of(&together[0]) < rows_of(&together[2]));
}

/// Checks that count together (one standard, other windows and labels)
/// give what each gives alone at the edges of their windows: a request at
/// each window's first instant and a microsecond before it, at the
/// evaluation time and after it, and with an empty or unreadable request
/// time, in groups whose labels hold the key separators.
#[test]
fn checks_counting_together_keep_their_own_window_edges_and_labels() {
    let as_of = "2025-12-10T17:00:00-08:00";
    let values = std::sync::Arc::new(crate::check::fields::ValueMaps::default());
    let check = |id: &str, days: i64, group_by: &[&str]| {
        let mut check = check_of("ca-dmhc/non-urgent-mh-initial", |r| {
            r.window = chrono::Duration::days(days);
            r.values = values.clone();
        });
        check.id = id.to_owned();
        check.group_by = group_by.iter().map(|s| (*s).to_owned()).collect();
        check
    };
    let checks = [
        check("by-region-30", 30, &["region"]),
        check("overall-10", 10, &[]),
        check("by-id-region-10", 10, &["id", "region"]),
        check("by-region-id-5", 5, &["region", "id"]),
    ];
    let header: Vec<String> = HEADER.split(',').map(str::to_owned).collect();
    assert!(Evaluator::new(&checks, &header, &BTreeMap::new(), utc(as_of)).shares());
    let line = |id: &str, requested: &str, region: &str| {
        format!(
            "{id},{requested},,,2025-12-12T09:00:00-08:00,initial,non_urgent,false,\
             non_physician_mh,false,{region}"
        )
    };
    let mut rows = Vec::new();
    for (n, days) in [30, 10, 5].into_iter().enumerate() {
        let start = utc(as_of) - chrono::Duration::days(days);
        let before = start - chrono::Duration::microseconds(1);
        for (at, region) in [(start, "north"), (before, "south\u{1f}x")] {
            let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            rows.push(line(&format!("a{n}\u{1e}"), &at, region));
            rows.push(line(&format!("\u{1f}b{n}"), &at, "north\u{1e}\u{1f}"));
        }
    }
    rows.push(line("now", "2025-12-10T17:00:00-08:00", "north"));
    rows.push(line("later", "2025-12-10T17:00:00.000001-08:00", "north"));
    rows.push(line("empty", "", ""));
    rows.push(line("bad", "yesterday", "south"));
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    let together = evaluate_text(&checks, &text, as_of);
    for (check, got) in checks.iter().zip(&together) {
        let alone = evaluate_text(std::slice::from_ref(check), &text, as_of);
        assert_eq!(
            format!("{:?}", alone[0]),
            format!("{got:?}"),
            "{}",
            check.id
        );
        assert!(!got.groups.is_empty(), "{}", check.id);
    }
    // The 5-day check counts only the rows from its own window's start.
    let last = &together[3];
    let rows: usize = last.groups.iter().map(|g| g.rows).sum();
    assert_eq!(rows, 2 + 1 + 2, "{last:#?}");
}

/// The classes a window's [`Choice`] gives for a row are the classes
/// that would not skip it: those whose selection the row passes or
/// rejects (an empty or unknown field they select on), and those that
/// must see every row. Every wait-time standard of the catalog, over
/// every mix of urgency, visit type, prior authorization and provider
/// type, good, empty and unknown.
#[test]
fn a_windows_choice_is_the_classes_that_would_not_skip_the_row() {
    let mut checks: Vec<Check> = standards::catalog()
        .iter()
        .filter(|s| matches!(s.rule, standards::Requirement::WaitTime { .. }))
        .map(|s| {
            let mut check = check_of(s.id, |_| {});
            check.id = s.id.to_owned();
            check
        })
        .collect();
    assert!(checks.len() > 10, "{} wait-time standards", checks.len());
    let mut strict = check_of("ca-dmhc/non-urgent-primary-care", |_| {});
    strict.id = "strict".to_owned();
    strict.require_labels = true;
    checks.push(strict);
    // One source's value map, as validation gives its checks.
    let values = Arc::new(crate::check::fields::ValueMaps::default());
    for check in &mut checks {
        if let Rule::TimelyAccess(rule) = &mut check.rule {
            rule.values = values.clone();
        }
    }
    let as_of = utc("2025-12-10T17:00:00-08:00");
    let header: Vec<String> = "id,requested_at,prior_appointment_at,first_offered_at,visit_type,urgency,prior_auth,provider_type,extended_by_provider,modality,requested_modality,region,line"
        .split(',')
        .map(str::to_owned)
        .collect();
    let mut evaluator = Evaluator::new(&checks, &header, &BTreeMap::new(), as_of);
    let Evaluator {
        reader,
        checks: states,
        classes,
        windows,
        ..
    } = &mut evaluator;
    assert!(
        windows
            .iter()
            .any(|w| w.choice.is_some() && w.classes.len() > 10),
        "a window of many classes chooses among them"
    );
    let (mut seen, mut decided) = (0, 0);
    for visit in ["initial", "follow_up", "", "again"] {
        for urgency in ["non_urgent", "urgent", "needs_attention", "", "soon"] {
            for auth in ["true", "false", "", "maybe"] {
                for provider in [
                    "non_physician_mh",
                    "non_physician_sud",
                    "psychiatrist",
                    "primary_care",
                    "specialist",
                    "ancillary",
                    "",
                    "healer",
                ] {
                    let row: Vec<Option<String>> = format!(
                        "r,2025-12-01T10:00:00-08:00,2025-11-20T10:00:00-08:00,,{visit},{urgency},{auth},{provider},false,in_person,,north,commercial"
                    )
                    .split(',')
                    .map(|s| Some(s.to_owned()))
                    .collect();
                    let mut view = reader.view(&row);
                    for window in windows.iter() {
                        let Some(choice) = &window.choice else {
                            continue;
                        };
                        let picked = choice.classes(&mut view).to_vec();
                        // What the choice says of a class's selection is
                        // what the class's own selection says.
                        for c in &picked {
                            if let Some(provider) = c.selected {
                                let state = &states[classes[c.class].check];
                                assert_eq!(
                                    state.selects(&mut view),
                                    Selected::Yes(provider),
                                    "{visit} {urgency} {auth} {provider:?}"
                                );
                                assert!(!classes[c.class].require_labels);
                                decided += 1;
                            }
                        }
                        let mut chosen: Vec<usize> = picked.iter().map(|c| c.class).collect();
                        chosen.sort_unstable();
                        let mut expected: Vec<usize> = window
                            .classes
                            .iter()
                            .copied()
                            .filter(|c| {
                                let class = &classes[*c];
                                class.require_labels
                                    || states[class.check].selects(&mut view) != Selected::No
                            })
                            .collect();
                        expected.sort_unstable();
                        assert_eq!(chosen, expected, "{visit} {urgency} {auth} {provider}");
                        seen += 1;
                    }
                }
            }
        }
    }
    assert!(seen >= 640, "{seen}");
    assert!(decided >= 640, "{decided}");
}
