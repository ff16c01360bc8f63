//! The statement text: what can be wrapped, which columns can be read in
//! the database, and that values go in as parameters, never as text. The
//! counts themselves are checked against the pull engine on a real server
//! (tests/it/pushdown.rs).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::*;
use crate::check::fields::ValueMaps;
use crate::evaluate::waittime::tests::{check_of, utc};

fn column(name: &str, kind: ColumnKind) -> SourceColumn {
    SourceColumn {
        name: name.to_owned(),
        kind,
        type_name: format!("{kind:?}").to_lowercase(),
    }
}

fn appointments() -> Vec<SourceColumn> {
    use ColumnKind::*;
    vec![
        column("id", Text),
        column("requested_at", Timestamptz),
        column("first_offered_at", Timestamp),
        column("visit_type", Text),
        column("urgency", Text),
        column("prior_auth", Boolean),
        column("provider_type", Text),
        column("extended_by_provider", Boolean),
        column("modality", Text),
        column("region", Text),
    ]
}

const QUERY: &str = "SELECT * FROM access.requests WHERE requested_at > $1";

fn compiled(check: &Check, columns: &[SourceColumn]) -> Result<Compiled, String> {
    compile(
        check,
        QUERY,
        1,
        columns,
        &BTreeMap::new(),
        utc("2026-11-30T17:00:00-08:00"),
    )
}

/// `query` can be wrapped (`None`) or why not.
fn check(query: &str, expected: Option<&str>) {
    assert_eq!(unwrappable(query).as_deref(), expected, "{query}");
}

#[test]
fn what_can_be_wrapped() {
    check(QUERY, None);
    check(
        "  with recent AS (SELECT 1) SELECT * FROM recent\n-- note\n",
        None,
    );
    check("VALUES (1, 2)", None);
    check("SELECT 1;", Some("the query contains `;`"));
    check(
        "SELECT * FROM t; DROP TABLE t",
        Some("the query contains `;`"),
    );
    check(
        "SELECT * FROM t FOR UPDATE",
        Some("the query has a locking clause (FOR UPDATE)"),
    );
    check(
        "select * from t for no key update",
        Some("the query has a locking clause (FOR NO)"),
    );
    check(
        "WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone",
        Some("the query contains DELETE"),
    );
    check("SELECT * INTO copy FROM t", Some("the query contains INTO"));
    check(
        "TABLE access.requests",
        Some("the query does not start with SELECT, WITH or VALUES"),
    );
    check(
        "(SELECT 1)",
        Some("the query does not start with SELECT, WITH or VALUES"),
    );
}

#[test]
fn values_are_bound_never_written_into_the_statement() {
    let mut maps = HashMap::new();
    maps.insert(
        Field::ProviderType,
        HashMap::from([("LCSW'; --".to_owned(), "non_physician_mh".to_owned())]),
    );
    let check = check_of("ca-dmhc/non-urgent-mh-initial", |rule| {
        rule.values = Arc::new(ValueMaps::new(maps));
    });
    let Ok(Compiled::Statement(plan)) = compiled(&check, &appointments()) else {
        panic!("not compiled");
    };
    for text in [plan.statement.as_str(), plan.samples.as_str()] {
        assert!(text.contains(QUERY), "the query is wrapped: {text}");
        for value in [
            "LCSW",
            "America/Los_Angeles",
            "non_physician_mh",
            "2026",
            "non_urgent",
        ] {
            assert!(
                !text.contains(value),
                "{value} is bound, not written: {text}"
            );
        }
    }
    // The query's own parameter stays $1; ours follow it.
    assert!(plan.statement.contains("$2"));
    assert!(!plan.statement.contains("$0"));
    let spellings = plan
        .params
        .iter()
        .find_map(|p| match p {
            SqlValue::TextArray(list) if list.iter().any(|s| s.starts_with("LCSW")) => Some(list),
            _ => None,
        })
        .expect("the provider types' spellings are bound");
    assert!(spellings.contains(&"non_physician_mh".to_owned()));
    assert!(
        plan.params
            .contains(&SqlValue::Text("America/Los_Angeles".to_owned()))
    );
    assert!(plan.samples.contains("row_number() OVER ()"));
    assert!(!plan.statement.contains("row_number"));
    // The samples number the rows of the query held whole in a `WITH`
    // (in its order, on Citus too); the counts read it as a subquery.
    assert!(
        plan.samples
            .starts_with(&format!("WITH src AS MATERIALIZED (\n{QUERY}\n)\n")),
        "{}",
        plan.samples
    );
    assert!(
        plan.statement
            .contains(&format!("FROM (\n{QUERY}\n) AS src)"))
    );
    assert!(!plan.statement.contains("WITH"));
}

#[test]
fn columns_that_cannot_be_read_exactly_fall_back() {
    let check = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    let mut columns = appointments();
    columns[1] = column("requested_at", ColumnKind::Text);
    assert_eq!(
        compiled(&check, &columns).err().as_deref(),
        Some(
            "`requested_at` is column \"requested_at\" of type text: push-down reads \
             timestamptz, timestamp or date columns"
        )
    );
    let mut columns = appointments();
    columns[9] = column("region", ColumnKind::Other);
    assert_eq!(
        compiled(&check, &columns).err().as_deref(),
        Some(
            "`region` (group_by) is column \"region\" of type other: push-down reads text, \
             enums, booleans and integers"
        )
    );
    let mut columns = appointments();
    columns.push(column("region", ColumnKind::Text));
    assert_eq!(
        compiled(&check, &columns).err().as_deref(),
        Some("the query returns two columns named \"region\"")
    );
}

#[test]
fn a_missing_column_gives_the_pull_engines_error_without_a_statement() {
    let check = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    let columns: Vec<_> = appointments()
        .into_iter()
        .filter(|c| c.name != "urgency")
        .collect();
    let Ok(Compiled::Result(result)) = compiled(&check, &columns) else {
        panic!("expected a result");
    };
    let error = result.error.unwrap_or_default();
    assert!(error.contains("has no `urgency`"), "{error}");
}

#[test]
fn mapped_columns_are_read_by_their_source_names() {
    let check = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    let mut columns = appointments();
    columns[9] = column("Area", ColumnKind::Text);
    let mapping = BTreeMap::from([("region".to_owned(), "Area".to_owned())]);
    let Ok(Compiled::Statement(plan)) = compile(
        &check,
        QUERY,
        1,
        &columns,
        &mapping,
        utc("2026-11-30T17:00:00-08:00"),
    ) else {
        panic!("not compiled");
    };
    assert!(plan.statement.contains("src.\"Area\"::text"));
}

#[test]
fn rejection_reasons_read_as_the_pull_engine_writes_them() {
    let check = check_of("ca-sb221/mh-follow-up", |_| {});
    let Rule::TimelyAccess(rule) = &check.rule else {
        unreachable!()
    };
    for (code, expected) in [
        (CLOCK_EMPTY, "`prior_appointment_at` is empty"),
        (
            END_BEFORE_CLOCK,
            "`first_offered_at` is before `prior_appointment_at`",
        ),
        (SELECTED_EMPTY + 2, "`visit_type` is empty"),
        (SELECTED_EMPTY + 7, "`provider_type` has an unknown value"),
        (LABEL_EMPTY, "`region` is empty (require_labels = true)"),
        (
            REQUESTED_MODALITY_UNKNOWN,
            "`requested_modality` has an unknown value: use \"in_person\" or \"telehealth\"",
        ),
    ] {
        assert_eq!(reason(rule, &check, code), expected);
    }
}

#[test]
fn business_day_counts_are_cumulative_from_the_base_day() {
    let calendar =
        crate::check::calendar::Calendar::new(crate::check::calendar::Preset::UsFederal, &[]);
    // 2026-11-25 (Wed) to 2026-11-30 (Mon): Thanksgiving and the weekend
    // are closed.
    let base = epoch_day(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
    assert_eq!(
        business_day_counts(&calendar, base, base + 5),
        vec![0, 0, 1, 1, 1, 2]
    );
}

#[test]
fn the_window_start_rounds_up_to_the_servers_microsecond() {
    let time = utc("2026-11-30T17:00:00.000000500Z");
    assert_eq!(ceil_micros(time), utc("2026-11-30T17:00:00.000001Z"));
    let whole = utc("2026-11-30T17:00:00.000002Z");
    assert_eq!(ceil_micros(whole), whole);
}

#[test]
fn the_time_field_is_read_from_timestamptz_and_date_columns_only() {
    let mut columns = appointments();
    columns.push(column("loaded", ColumnKind::Timestamptz));
    columns.push(column("loaded_text", ColumnKind::Text));
    let mapping = BTreeMap::from([("loaded_at".to_owned(), "loaded".to_owned())]);
    let (statement, params) =
        data_time_statement(QUERY, 1, &columns, &mapping, "loaded_at").expect("a statement");
    assert!(statement.contains("max(src.\"loaded\")"), "{statement}");
    assert!(
        statement.contains("$2::timestamptz AND $3::timestamptz"),
        "{statement}"
    );
    assert!(statement.contains(QUERY));
    assert_eq!(params.len(), 2);
    assert_eq!(
        data_time_statement(QUERY, 1, &columns, &mapping, "loaded_text")
            .err()
            .as_deref(),
        Some(
            "the time_field `loaded_text` is column \"loaded_text\" of type text: push-down \
             reads it from timestamptz or date columns"
        )
    );
    assert_eq!(
        data_time_statement(QUERY, 1, &columns, &mapping, "nowhere")
            .err()
            .as_deref(),
        Some("the query returns no column for the time_field `nowhere`")
    );
}

#[test]
fn servers_before_postgresql_14_are_not_pushed_down_to() {
    let version = |text: &str| unsupported_server(Some(&Value::Text(text.to_owned())));
    assert_eq!(version("150018"), None);
    assert_eq!(version("140000"), None);
    assert_eq!(
        version("130012").as_deref(),
        Some("the server is PostgreSQL 13; push-down needs 14 or later")
    );
    assert_eq!(
        version("90624").as_deref(),
        Some("the server is PostgreSQL 9.6; push-down needs 14 or later")
    );
    assert!(unsupported_server(None).is_some());
    assert!(version("vanilla").is_some());
}

/// A statement row: label, kind, reason, wait, extended, beyond, count,
/// open_sum, open_max.
#[allow(clippy::too_many_arguments)]
fn answer(
    region: Option<&str>,
    kind: i64,
    reason: Option<i32>,
    wait: Option<i64>,
    extended: Option<bool>,
    beyond: bool,
    count: i64,
    open: Option<(i64, i64)>,
) -> Vec<Value> {
    let number = |n: Option<i64>| n.map_or(Value::Null, |n| Value::Number(n as f64));
    vec![
        region.map_or(Value::Null, |r| Value::Text(r.to_owned())),
        Value::Number(kind as f64),
        number(reason.map(i64::from)),
        number(wait),
        extended.map_or(Value::Null, Value::Bool),
        Value::Bool(beyond),
        Value::Number(count as f64),
        number(open.map(|(sum, _)| sum)),
        number(open.map(|(_, max)| max)),
    ]
}

fn plan() -> Plan {
    let check = check_of("ca-dmhc/non-urgent-mh-initial", |_| {});
    match compiled(&check, &appointments()) {
        Ok(Compiled::Statement(plan)) => *plan,
        _ => panic!("not compiled"),
    }
}

#[test]
fn the_answer_becomes_the_pull_engines_result() {
    let rows = vec![
        answer(Some("north"), 0, None, None, None, false, 100, None),
        answer(
            Some("north"),
            COMPLIANT,
            None,
            Some(2),
            Some(false),
            false,
            3,
            None,
        ),
        answer(
            Some("north"),
            COMPLIANT,
            None,
            Some(12),
            Some(true),
            false,
            1,
            None,
        ),
        answer(
            Some("north"),
            NONCOMPLIANT,
            None,
            Some(12),
            None,
            false,
            1,
            None,
        ),
        answer(
            Some("north"),
            NONCOMPLIANT,
            None,
            None,
            None,
            false,
            2,
            Some((30, 16)),
        ),
        answer(
            Some("north"),
            PENDING,
            None,
            None,
            None,
            false,
            2,
            Some((6, 4)),
        ),
        answer(
            None,
            REJECTED,
            Some(CLOCK_EMPTY),
            None,
            None,
            false,
            1,
            None,
        ),
        answer(None, BEFORE_EFFECTIVE, None, None, None, false, 1, None),
    ];
    let samples = vec![vec![
        Value::Number(7.0),
        Value::Number(f64::from(CLOCK_EMPTY)),
    ]];
    let plan = plan();
    assert!(plan.any_rejected(&rows));
    let data_time = utc("2026-11-30T06:00:00Z");
    let result = plan.finish(&rows, &samples, data_time).expect("a result");
    assert_eq!(result.data_time, Some(data_time));
    assert_eq!(result.rejected_rows, vec!["row 7: `requested_at` is empty"]);
    assert_eq!(result.groups.len(), 2, "{:?}", result.groups);
    let north = result
        .groups
        .iter()
        .find(|g| g.labels["region"] == "north")
        .expect("north");
    let wait = north.wait.as_ref().expect("wait stats");
    let c = wait.counts;
    assert_eq!(
        (
            c.compliant,
            c.noncompliant,
            c.pending,
            c.extended,
            c.rejected
        ),
        (4, 3, 2, 1, 0)
    );
    // Offered waits 2, 2, 2, 12, 12: median 2, 90th percentile 12.
    assert_eq!(wait.median_wait, Some(2.0));
    assert_eq!(wait.p90_wait, Some(12.0));
    assert_eq!(wait.mean_wait, Some(6.0));
    assert_eq!(wait.overdue_open, 2);
    assert_eq!(wait.longest_open_wait, Some(16.0));
    assert_eq!(north.value, Some(4.0 / 7.0));
    let none = result
        .groups
        .iter()
        .find(|g| g.labels["region"] == crate::check::result::NO_LABEL)
        .expect("the group without a region");
    let c = none.wait.as_ref().expect("wait stats").counts;
    assert_eq!((c.rejected, c.before_effective), (1, 1));
}

#[test]
fn an_offer_beyond_the_bound_calendar_sends_the_check_back_to_pulling() {
    let rows = vec![answer(
        Some("north"),
        COMPLIANT,
        None,
        None,
        Some(false),
        true,
        1,
        None,
    )];
    let error = plan()
        .finish(&rows, &[], utc("2026-11-30T06:00:00Z"))
        .expect_err("beyond the calendar");
    assert!(
        error.contains("beyond the business-day calendar"),
        "{error}"
    );
}
