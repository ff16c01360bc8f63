//! The report of `run --once`: text for people, JSON for programs, and the
//! exit code of the monitoring-plugins convention. Pure functions of the
//! results.
//!
//! Exit codes: 0 all OK, 1 a warning-severity breach, 2 a critical breach,
//! 3 a check could not be evaluated. When several apply, the most urgent
//! wins in the order Icinga ranks states: critical (2), then unknown (3),
//! then warning (1), so that a blind spot outranks a warning.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;

use crate::check::Severity;
use crate::check::history::{Point, Series, Trend, trend_with};
use crate::check::standards::{Basis, Measure, Requirement};
use crate::check::{CheckResult, GroupResult, Status};
use crate::cli::exit::Exit;
use crate::notify::render::{value_text, wait_sentence};

pub fn exit_code(results: &[CheckResult]) -> Exit {
    let breach = |severity| {
        results
            .iter()
            .any(|r| r.status == Status::Breach && r.severity == severity)
    };
    if breach(Severity::Critical) {
        Exit::CRITICAL
    } else if results.iter().any(|r| r.status == Status::Unknown) {
        Exit::UNKNOWN
    } else if breach(Severity::Warning) {
        Exit::WARNING
    } else {
        Exit::OK
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One warning per source whose data time is after `as_of`: the run is
/// meant to see the world as of then, and this data is from later (often a
/// file copied since, whose modification time is the copy's).
pub fn future_data(as_of: DateTime<Utc>, results: &[CheckResult], zone: Tz) -> Vec<String> {
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&zone)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    };
    let mut seen = std::collections::BTreeSet::new();
    results
        .iter()
        .filter_map(|r| Some((r, r.data_time.filter(|t| *t > as_of)?)))
        .filter(|(r, _)| seen.insert(r.source.clone()))
        .map(|(r, data_time)| {
            let advice = match r.data_time_origin {
                Some(origin) => format!(
                    " ({origin}, not read from the data; set `time_field` on the source to use a time the data carries)"
                ),
                None => String::new(),
            };
            format!(
                "warning: the data of source {:?} is as of {}{advice}, after the run's time {}",
                r.source,
                local(data_time),
                local(as_of)
            )
        })
        .collect()
}

/// The trend of group `g` of `r` as of this run: the recorded `recent`
/// series (`state::Store::recent_series`) with this run added.
pub fn group_trend(recent: &[Series], r: &CheckResult, g: &GroupResult) -> Trend {
    let key = g.label_text();
    let points = recent
        .iter()
        .find(|s| s.check_id == r.id && s.group_key == key)
        .map_or(&[][..], |s| &s.points[..]);
    trend_with(
        points,
        Point {
            at: r.evaluated_at,
            status: g.status,
            value: g.value.filter(|v| v.is_finite()),
            limit: g.limit,
        },
    )
}

/// A trend as JSON: `week_ago`, `four_weeks_ago` (null without a run
/// then), `direction` (`up`, `down`, `flat`, or null), `breached_runs` of
/// the last `runs`.
pub fn trend_json(trend: &Trend) -> Value {
    serde_json::to_value(TrendJson::of(trend)).unwrap_or(Value::Null)
}

/// The JSON report of `run --once`: `recent` is the recorded history
/// (empty without a state file). Serialized straight from the results,
/// not through a `serde_json::Value` (a tree of maps built, written and
/// freed: most of the time after the checks, for the hundreds of groups
/// of a large configuration). Keys are in alphabetical order, as a
/// `Value`'s map gives them.
pub fn json<'a>(
    as_of: DateTime<Utc>,
    results: &'a [CheckResult],
    recent: &'a [Series],
) -> impl Serialize + 'a {
    ReportJson {
        as_of: time(as_of),
        checks: results
            .iter()
            .map(|r| CheckJson {
                citation: r.citation.as_deref(),
                data_time: r.data_time.map(time),
                data_time_origin: r.data_time_origin,
                error: r.error.as_deref(),
                groups: r.groups.iter().map(|g| group_json(r, g, recent)).collect(),
                id: &r.id,
                limit: r.comparison.limit,
                op: r.comparison.op.as_str(),
                rejected_rows: &r.rejected_rows,
                severity: r.severity.as_str(),
                source: &r.source,
                standard: r.standard.as_ref().map(|s| s.id),
                status: r.status.as_str(),
                title: &r.title,
            })
            .collect(),
        exit_code: exit_code(results).code(),
    }
}

#[derive(Serialize)]
struct ReportJson<'a> {
    as_of: String,
    checks: Vec<CheckJson<'a>>,
    exit_code: u8,
}

#[derive(Serialize)]
struct CheckJson<'a> {
    citation: Option<&'a str>,
    data_time: Option<String>,
    data_time_origin: Option<&'static str>,
    error: Option<&'a str>,
    groups: Vec<GroupJson<'a>>,
    id: &'a str,
    limit: f64,
    op: &'static str,
    rejected_rows: &'a [String],
    severity: &'static str,
    source: &'a str,
    standard: Option<&'static str>,
    status: &'static str,
    title: &'a str,
}

/// A group; the fields in `Option`s skipped when absent are those of a
/// wait-time group only.
#[derive(Serialize)]
struct GroupJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    basis: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    citation: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<CountsJson>,
    detail: Option<&'a str>,
    error: Option<&'a str>,
    infinite: bool,
    labels: &'a BTreeMap<String, String>,
    limit: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    longest_open_wait: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mean_wait: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    median_wait: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    overdue_open: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p90_wait: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate: Option<Option<f64>>,
    rows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    standard: Option<&'static str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_by_plan: Option<bool>,
    trend: TrendJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'static str>,
    #[serde(serialize_with = "finite_or_null")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wait_limit: Option<f64>,
}

#[derive(Serialize)]
struct CountsJson {
    before_effective: u64,
    compliant: u64,
    extended: u64,
    noncompliant: u64,
    pending: u64,
    rejected: u64,
}

/// A trend as JSON ([`trend_json`]).
#[derive(Serialize)]
struct TrendJson {
    breached_runs: usize,
    direction: Option<&'static str>,
    #[serde(serialize_with = "finite_or_null")]
    four_weeks_ago: Option<f64>,
    runs: usize,
    #[serde(serialize_with = "finite_or_null")]
    week_ago: Option<f64>,
}

impl TrendJson {
    fn of(trend: &Trend) -> TrendJson {
        TrendJson {
            breached_runs: trend.breached_runs,
            direction: trend.direction.map(|d| d.as_str()),
            four_weeks_ago: trend.four_weeks_ago,
            runs: trend.runs,
            week_ago: trend.week_ago,
        }
    }
}

/// Finite numbers as JSON numbers; infinity (members per zero staff) and
/// unknown values as `null`.
fn finite_or_null<S: serde::Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value.filter(|v| v.is_finite()) {
        Some(v) => s.serialize_f64(v),
        None => s.serialize_none(),
    }
}

fn group_json<'a>(r: &'a CheckResult, g: &'a GroupResult, recent: &[Series]) -> GroupJson<'a> {
    let wait = g.wait.as_ref().zip(r.standard.as_ref());
    GroupJson {
        basis: wait.map(|(_, s)| s.basis.as_str()),
        citation: wait.map(|(_, s)| s.citation),
        confidence: wait.map(|(_, s)| s.confidence.letter()),
        counts: wait.map(|(w, _)| CountsJson {
            before_effective: w.counts.before_effective,
            compliant: w.counts.compliant,
            extended: w.counts.extended,
            noncompliant: w.counts.noncompliant,
            pending: w.counts.pending,
            rejected: w.counts.rejected,
        }),
        detail: g.detail.as_deref(),
        error: g.error.as_deref(),
        infinite: g.value.is_some_and(f64::is_infinite),
        labels: &g.labels,
        limit: g.limit,
        longest_open_wait: wait.map(|(w, _)| w.longest_open_wait),
        mean_wait: wait.map(|(w, _)| w.mean_wait),
        median_wait: wait.map(|(w, _)| w.median_wait),
        overdue_open: wait.map(|(w, _)| w.overdue_open),
        p90_wait: wait.map(|(w, _)| w.p90_wait),
        rate: wait.map(|(w, _)| w.rate),
        rows: g.rows,
        standard: wait.map(|(_, s)| s.id),
        status: g.status.as_str(),
        target: wait.map(|(w, _)| w.target),
        target_by_plan: wait.map(|(w, _)| w.target_by_plan),
        trend: TrendJson::of(&group_trend(recent, r, g)),
        unit: wait.map(|(w, _)| w.unit.as_str()),
        value: g.value,
        wait_limit: wait.map(|(w, _)| w.limit),
    }
}

pub fn text(as_of: DateTime<Utc>, results: &[CheckResult], zone: Tz) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "accesswatch report as of {}",
        as_of.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z")
    );
    for r in results {
        let state = match r.status {
            Status::Ok => "OK".to_owned(),
            Status::Breach => r.severity.as_str().to_uppercase(),
            Status::Unknown => "UNKNOWN".to_owned(),
            Status::NotInForce => "NOT IN FORCE".to_owned(),
        };
        let _ = writeln!(out, "\n{state:<9} {} ({})", r.title, r.id);
        if let Some(standard) = r.standard.as_ref().filter(|s| s.basis == Basis::Benchmark) {
            let _ = writeln!(
                out,
                "          {}: a benchmark, not law ({})",
                standard.id, standard.citation
            );
        }
        if let Some(data_time) = r.data_time {
            let origin = r
                .data_time_origin
                .map_or(String::new(), |o| format!("{o} "));
            let _ = writeln!(
                out,
                "          data as of {origin}{} (source {})",
                data_time.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z"),
                r.source
            );
        }
        if let Some(error) = &r.error {
            let _ = writeln!(out, "          {error}");
        }
        for rejected in &r.rejected_rows {
            let _ = writeln!(out, "          rejected {rejected}");
        }
        // A share reads as "60 %"; any other value carries its metric.
        let share = matches!(
            r.standard.as_ref().map(|s| &s.rule),
            Some(Requirement::WaitTime {
                measure: Measure::ShareWithinLimit,
                ..
            })
        );
        let unit = if share {
            String::new()
        } else {
            format!(" {}", r.metric)
        };
        for g in &r.groups {
            let value = g
                .value
                .map_or_else(|| "?".to_owned(), |v| value_text(r, v) + &unit);
            let mark = match g.status {
                Status::Ok => "ok",
                Status::Breach => "BREACH",
                Status::Unknown => "unknown",
                Status::NotInForce => "n/a",
            };
            let _ = writeln!(
                out,
                "          {mark:<8} {}: {value} (healthy {} {})",
                g.label_words(),
                r.comparison.op.as_str(),
                value_text(r, g.limit)
            );
            if let Some(sentence) = wait_sentence(r, g, false) {
                let _ = writeln!(out, "                   {sentence}");
            } else if let Some(error) = &g.error {
                let _ = writeln!(out, "                   {error}");
            }
            if let Some(detail) = &g.detail {
                let _ = writeln!(out, "                   {detail}");
            }
        }
    }
    out
}
