//! Threshold, ratio, shortage and freshness checks over hostile values,
//! against the outputs the table-based evaluation gave before checks were
//! folded per group (`tests/fixtures/fold/golden.txt`, written by the
//! implementation at commit 372775b and not regenerated since; one
//! message edited by hand since, where a number beyond `f64` was called
//! a syntax error): the fold must give the same results, messages
//! included.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::check::schedule::Schedule;
use crate::check::{Aggregate, Check, CheckResult, Comparison, Op, Rule, Severity};
use crate::table::{Format, Layout, Table};

pub(crate) fn check(id: &str, rule: Rule, op: Op, limit: f64, group_by: &[&str]) -> Check {
    Check {
        id: id.to_owned(),
        title: id.to_owned(),
        severity: Severity::Critical,
        citation: None,
        source: "s".to_owned(),
        group_by: group_by.iter().map(|g| (*g).to_owned()).collect(),
        require_labels: false,
        metric: "m".to_owned(),
        rule,
        comparison: Comparison { op, limit },
        schedule: Schedule::parse("@daily", chrono_tz::America::New_York).unwrap(),
        policy: Default::default(),
        clear_at: None,
    }
}

fn threshold(field: &str, aggregate: Aggregate) -> Rule {
    Rule::Threshold {
        field: field.to_owned(),
        aggregate,
    }
}

/// Every kind of check but wait times, on fields `region`, `wait`,
/// `members`, `fte`, `pop`, `core`, `psy`, `seen`.
pub(crate) fn checks() -> Vec<Check> {
    let mut checks = Vec::new();
    for (name, aggregate) in [
        ("worst", Aggregate::Worst),
        ("sum", Aggregate::Sum),
        ("mean", Aggregate::Mean),
        ("min", Aggregate::Min),
        ("max", Aggregate::Max),
        ("count", Aggregate::Count),
    ] {
        checks.push(check(
            &format!("{name}-le"),
            threshold("wait", aggregate),
            Op::Le,
            10.0,
            &["region"],
        ));
        checks.push(check(
            &format!("{name}-gt"),
            threshold("wait", aggregate),
            Op::Gt,
            5.0,
            &[],
        ));
    }
    let mut labelled = check(
        "worst-labelled",
        threshold("wait", Aggregate::Worst),
        Op::Le,
        10.0,
        &["region", "fte"],
    );
    labelled.require_labels = true;
    checks.push(labelled);
    checks.push(check(
        "ratio",
        Rule::Ratio {
            numerator: "members".to_owned(),
            denominator: "fte".to_owned(),
            numerator_source: None,
        },
        Op::Le,
        3000.0,
        &["region"],
    ));
    checks.push(check(
        "shortage",
        Rule::Shortage {
            population: "pop".to_owned(),
            core: "core".to_owned(),
            psychiatrists: "psy".to_owned(),
        },
        Op::Le,
        5000.0,
        &["region"],
    ));
    checks.push(check(
        "fresh",
        Rule::Freshness {
            field: Some("seen".to_owned()),
        },
        Op::Le,
        48.0,
        &["region"],
    ));
    checks.push(check(
        "fresh-source",
        Rule::Freshness { field: None },
        Op::Le,
        48.0,
        &[],
    ));
    checks.push(check(
        "no-field",
        threshold("absent", Aggregate::Sum),
        Op::Le,
        1.0,
        &["region"],
    ));
    checks
}

/// The inputs: CSV, NDJSON and JSON with bad values of every kind.
pub(crate) fn inputs() -> Vec<(&'static str, Format, &'static str)> {
    vec![
        (
            "csv-clean",
            Format::Csv,
            "region,wait,members,fte,pop,core,psy,seen\n\
             a,5,3000,1,10000,2,1,2026-11-30T12:00:00Z\n\
             a,15,3100,1,5000,1,0,2026-11-29\n\
             b,7,2000,1,100,0,0,2026-12-01T06:00:00-05:00\n",
        ),
        (
            "csv-hostile",
            Format::Csv,
            "region,wait,members,fte,pop,core,psy,seen\n\
             a,NaN,1,1,1,1,1,x\n\
             b,inf,1,0,1,1,1,\n\
             c,-inf,0,0,0,0,0, \n\
             d,Infinity,1e400,1,1,1,1,2026-13-01\n\
             e, 7 ,+5,0x10,1,1,1,2026-11-30T25:00:00Z\n\
             f,1e308,1e308,1e-320,1,1,1,2026-11-30\n\
             f,1e308,1e308,1,1,1,1,2026-11-31\n\
             g,,1,1,1,1,1,2026-11-30\n\
             g,3,1,1,1,1,1,2026-11-30\n\
             h,-0,1_000,١,1,1,1,2026-11-30\n\
             ,4,1,1,1,1,1,2026-11-30\n\
             \u{a0},5,1,1,1,1,1,2026-11-30\n\
             i,Jane Doe,1,1,1,1,1,2026-11-30\n\
             i,3,1,1,1,1,1,2026-11-30\n\
             j,  ,nan,1,1,1,1,2026-11-30\n\
             k,5e-324,-1,1,1,1,1,2026-11-30\n",
        ),
        ("csv-no-fte", Format::Csv, "region,wait\nsouth,1\n"),
        (
            "csv-header-only",
            Format::Csv,
            "region,wait,members,fte,pop,core,psy,seen\n",
        ),
        ("csv-blank", Format::Csv, " \n\r\n\t\n"),
        ("csv-empty", Format::Csv, ""),
        (
            "csv-ragged",
            Format::Csv,
            "region,wait,members,fte\na,1,1,1\nb,2,2\n",
        ),
        (
            "csv-quoted",
            Format::Csv,
            "region,wait,members,fte,seen\n\"a\nb\",\"1\",\"2\",\"1\",\"2026-11-30\"\n\"a,b\",\" 3\",4,1,2026-11-30T00:00:00+14:00\n",
        ),
        (
            "csv-duplicate-header",
            Format::Csv,
            "region,wait,region\na,1,b\n",
        ),
        ("csv-empty-name", Format::Csv, "region,,wait\na,1,2\n"),
        (
            "ndjson-hostile",
            Format::Ndjson,
            "{\"region\": \"a\", \"wait\": 5, \"members\": 1e300, \"fte\": 1, \"seen\": \"2026-11-30\"}\n\
             \n\
             {\"region\": \"a\", \"wait\": \"12\", \"members\": 1e300, \"fte\": 0.5, \"seen\": 5}\n\
             {\"region\": \"b\", \"wait\": null, \"members\": true, \"fte\": [1]}\n\
             {\"region\": \"c\", \"wait\": {\"v\": 1}, \"members\": \"7\", \"fte\": \"\"}\n\
             {\"region\": 5, \"wait\": 18446744073709551615, \"members\": -1, \"fte\": 1}\n\
             {\"region\": true, \"members\": 1, \"fte\": 1, \"seen\": null}\n\
             {\"region\": \"  \", \"wait\": 1, \"members\": 1, \"fte\": 1, \"seen\": \"2026-11-30T10:00:00+01:00\"}\n\
             {\"region\": \"d\", \"wait\": \"NaN\", \"members\": \"inf\", \"fte\": \"1e999\"}\n\
             \u{a0}\n\
             {\"region\": \"e\", \"wait\": 1.5, \"wait\": 99, \"members\": 1, \"fte\": 1}\r\n",
        ),
        (
            "ndjson-bad-line",
            Format::Ndjson,
            "{\"region\": \"a\", \"wait\": 5}\n{\"region\": \n{\"wait\": 1}\n",
        ),
        (
            "ndjson-not-object",
            Format::Ndjson,
            "{\"region\": \"a\", \"wait\": 5}\n[1]\n",
        ),
        ("ndjson-blank", Format::Ndjson, "\n \n\r\n"),
        ("ndjson-nbsp-only", Format::Ndjson, "\u{a0}\n"),
        (
            "ndjson-number-out-of-range",
            Format::Ndjson,
            "{\"region\": \"a\", \"wait\": 1e400}\n",
        ),
        (
            "json-records",
            Format::Json,
            "{\"meta\": 1, \"data\": [\
             {\"region\": \"a\", \"wait\": 5, \"members\": 3000, \"fte\": 1, \"pop\": 9000, \"core\": 1, \"psy\": 1, \"seen\": \"2026-11-30T00:00:00Z\"},\
             {\"region\": \"a\", \"wait\": \"x\", \"members\": 3000, \"fte\": 1},\
             {\"region\": \"b\", \"wait\": -3, \"members\": 0, \"fte\": 0, \"pop\": 1, \"core\": 0, \"psy\": 0, \"seen\": \"2026-11-29\"},\
             {\"region\": null, \"wait\": 2, \"other\": {\"deep\": [1, 2]}}\
             ], \"after\": [1]}",
        ),
        ("json-empty-array", Format::Json, "{\"data\": []}"),
        (
            "json-not-object",
            Format::Json,
            "{\"data\": [{\"region\": \"a\"}, 7]}",
        ),
        (
            "json-syntax",
            Format::Json,
            "\n\n{\"data\": [{\"region\": \"a\"},]}",
        ),
        ("json-no-records", Format::Json, "{\"rows\": []}"),
    ]
}

/// The layout of the inputs: JSON records under `/data`.
pub(crate) fn layout(format: Format) -> Layout {
    Layout {
        records: (format == Format::Json).then(|| "/data".to_owned()),
        ..Layout::default()
    }
}

pub(crate) fn now() -> DateTime<Utc> {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

/// A result as lines: everything the report and the alerts read.
pub(crate) fn render(result: &CheckResult) -> Vec<String> {
    let mut lines = vec![format!(
        "{} {} data_time={:?} error={:?} rejected={:?} without_group={}",
        result.id,
        result.status.as_str(),
        result.data_time,
        result.error,
        result.rejected_rows,
        result.rejected_without_group
    )];
    for g in &result.groups {
        lines.push(format!(
            "  {} {} value={:?} rows={} error={:?} detail={:?}",
            g.label_text(),
            g.status.as_str(),
            g.value,
            g.rows,
            g.error,
            g.detail
        ));
    }
    lines
}

/// Every check on every input, parsed into a table (with data time
/// `now - 30h`) and evaluated.
fn outputs() -> String {
    let data_time = now() - chrono::Duration::hours(30);
    let mut out = Vec::new();
    for (name, format, input) in inputs() {
        out.push(format!("# {name}"));
        let table: Result<Table, String> =
            crate::table::parse(input.as_bytes(), format, &layout(format), data_time)
                .map_err(|e| e.to_string());
        for check in checks() {
            let result = super::evaluate(&check, table.as_ref().map_err(String::as_str), now());
            out.extend(render(&result));
        }
    }
    // A ratio whose numerator comes from another source.
    let joined = check(
        "joined",
        Rule::Ratio {
            numerator: "members".to_owned(),
            denominator: "fte".to_owned(),
            numerator_source: Some("n".to_owned()),
        },
        Op::Le,
        3000.0,
        &["region"],
    );
    let all: BTreeMap<&str, (Format, &str)> =
        inputs().into_iter().map(|(n, f, i)| (n, (f, i))).collect();
    for (top, bottom) in [
        ("csv-clean", "ndjson-hostile"),
        ("ndjson-hostile", "csv-clean"),
        ("json-records", "csv-hostile"),
        ("csv-hostile", "json-records"),
        ("csv-no-fte", "csv-clean"),
        ("csv-header-only", "json-empty-array"),
        ("csv-blank", "csv-clean"),
        ("csv-clean", "csv-ragged"),
    ] {
        out.push(format!("# joined {top} / {bottom}"));
        let parse = |name: &str| {
            let (format, input) = all[name];
            crate::table::parse(input.as_bytes(), format, &layout(format), data_time)
                .map_err(|e| e.to_string())
        };
        let (tops, bottoms) = (parse(top), parse(bottom));
        let result = super::evaluate_joined(
            &joined,
            tops.as_ref().map_err(String::as_str),
            bottoms.as_ref().map_err(String::as_str),
            now(),
        );
        out.extend(render(&result));
    }
    out.push(String::new());
    out.join("\n")
}

#[test]
fn folded_checks_give_what_tables_gave() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fold/golden.txt"
    );
    let got = outputs();
    let expected = std::fs::read_to_string(path).unwrap();
    for (line, (got, expected)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, expected, "line {} of {path}", line + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count());
}
