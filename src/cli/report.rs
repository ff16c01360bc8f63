//! The report of `run --once`: text for people, JSON for programs, and the
//! exit code of the monitoring-plugins convention. Pure functions of the
//! results.
//!
//! Exit codes: 0 all OK, 1 a warning-severity breach, 2 a critical breach,
//! 3 a check could not be evaluated. When several apply, the most urgent
//! wins in the order Icinga ranks states: critical (2), then unknown (3),
//! then warning (1), so that a blind spot outranks a warning.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

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

/// Finite numbers as JSON numbers; infinity (members per zero staff) and
/// unknown values as `null`.
fn json_number(value: Option<f64>) -> Value {
    value
        .filter(|v| v.is_finite())
        .map_or(Value::Null, |v| json!(v))
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
    json!({
        "week_ago": json_number(trend.week_ago),
        "four_weeks_ago": json_number(trend.four_weeks_ago),
        "direction": trend.direction.map(|d| d.as_str()),
        "breached_runs": trend.breached_runs,
        "runs": trend.runs,
    })
}

/// `recent`: the recorded history (empty without a state file).
pub fn json(as_of: DateTime<Utc>, results: &[CheckResult], recent: &[Series]) -> Value {
    let checks: Vec<Value> = results
        .iter()
        .map(|r| {
            let groups: Vec<Value> = r
                .groups
                .iter()
                .map(|g| {
                    let mut group = group_json(r, g);
                    if let Value::Object(map) = &mut group {
                        map.insert("trend".to_owned(), trend_json(&group_trend(recent, r, g)));
                    }
                    group
                })
                .collect();
            let mut check = json!({
                "id": r.id,
                "title": r.title,
                "status": r.status.as_str(),
                "severity": r.severity.as_str(),
                "source": r.source,
                "op": r.comparison.op.as_str(),
                "limit": r.comparison.limit,
                "citation": r.citation,
                "data_time": r.data_time.map(time),
                "data_time_origin": r.data_time_origin,
                "error": r.error,
                "rejected_rows": r.rejected_rows,
                "standard": r.standard.as_ref().map(|s| s.id),
            });
            // Moved in, not copied: `json!` serializes what it is given
            // into a new `Value`, a deep copy of every group.
            if let Value::Object(map) = &mut check {
                map.insert("groups".to_owned(), Value::Array(groups));
            }
            check
        })
        .collect();
    let mut report = json!({
        "as_of": time(as_of),
        "exit_code": exit_code(results).code(),
    });
    if let Value::Object(map) = &mut report {
        map.insert("checks".to_owned(), Value::Array(checks));
    }
    report
}

fn group_json(r: &CheckResult, g: &GroupResult) -> Value {
    let mut group = json!({
        "labels": g.labels,
        "status": g.status.as_str(),
        "value": json_number(g.value),
        "infinite": g.value.is_some_and(f64::is_infinite),
        "limit": g.limit,
        "rows": g.rows,
        "error": g.error,
        "detail": g.detail,
    });
    if let (Some(w), Some(standard), Value::Object(map)) = (&g.wait, &r.standard, &mut group) {
        let extra = json!({
            "counts": {
                "compliant": w.counts.compliant,
                "noncompliant": w.counts.noncompliant,
                "pending": w.counts.pending,
                "extended": w.counts.extended,
                "rejected": w.counts.rejected,
                "before_effective": w.counts.before_effective,
            },
            "target_by_plan": w.target_by_plan,
            "rate": w.rate,
            "target": w.target,
            "median_wait": w.median_wait,
            "p90_wait": w.p90_wait,
            "mean_wait": w.mean_wait,
            "overdue_open": w.overdue_open,
            "longest_open_wait": w.longest_open_wait,
            "unit": w.unit.as_str(),
            "wait_limit": w.limit,
            "standard": standard.id,
            "citation": standard.citation,
            "confidence": standard.confidence.letter(),
            "basis": standard.basis.as_str(),
        });
        if let Value::Object(extra) = extra {
            map.extend(extra);
        }
    }
    group
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
