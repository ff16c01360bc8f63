//! Evaluating checks against tables: pure functions, no IO, no clock.
//!
//! [`evaluate`] takes one [`Check`], the table of its source (or the
//! source's error) and the evaluation time, and returns a [`CheckResult`]
//! with one [`GroupResult`] per combination of the check's label fields.
//! A problem with the data makes a group or the whole check `unknown`, with
//! a message that names the field and row but never quotes a cell.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::{Aggregate, Check, Comparison, Op, Rule, Severity};
use crate::table::{Row, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Breach,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Breach => "breach",
            Status::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub citation: Option<String>,
    pub metric: String,
    pub source: String,
    pub comparison: Comparison,
    pub status: Status,
    pub groups: Vec<GroupResult>,
    /// Why the check could not be evaluated at all.
    pub error: Option<String>,
    pub data_time: Option<DateTime<Utc>>,
    pub evaluated_at: DateTime<Utc>,
}

impl CheckResult {
    pub fn breached(&self) -> impl Iterator<Item = &GroupResult> {
        self.groups.iter().filter(|g| g.status == Status::Breach)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupResult {
    pub labels: BTreeMap<String, String>,
    pub status: Status,
    /// `None` when it could not be computed; may be infinite (members per
    /// zero therapists).
    pub value: Option<f64>,
    pub limit: f64,
    /// Rows that went into the value.
    pub rows: usize,
    pub error: Option<String>,
}

impl GroupResult {
    /// `region=socal-south, network=hmo`, or `all` for an ungrouped check.
    pub fn label_text(&self) -> String {
        label_text(&self.labels)
    }
}

pub fn label_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "all".to_owned();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Evaluates `check` on `table` (or reports the source's error) as of `now`.
pub fn evaluate(check: &Check, table: Result<&Table, &str>, now: DateTime<Utc>) -> CheckResult {
    let mut result = CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        severity: check.severity,
        citation: check.citation.clone(),
        metric: check.metric.clone(),
        source: check.source.clone(),
        comparison: check.comparison,
        status: Status::Unknown,
        groups: Vec::new(),
        error: None,
        data_time: None,
        evaluated_at: now,
    };
    let table = match table {
        Ok(table) => table,
        Err(error) => {
            result.error = Some(format!("source {:?} failed: {error}", check.source));
            return result;
        }
    };
    result.data_time = Some(table.data_time);
    if let Err(error) = required_columns(check, table) {
        result.error = Some(error);
        return result;
    }
    if table.rows.is_empty() {
        result.error = Some(format!("source {:?} returned no records", check.source));
        return result;
    }
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<&Row>> = BTreeMap::new();
    for row in &table.rows {
        groups.entry(group_key(check, row)).or_default().push(row);
    }
    result.groups = groups
        .into_iter()
        .map(|(labels, rows)| evaluate_group(check, labels, &rows, table.position))
        .collect();
    result.status = if result.groups.iter().any(|g| g.status == Status::Breach) {
        Status::Breach
    } else if result.groups.iter().any(|g| g.status == Status::Unknown) {
        Status::Unknown
    } else {
        Status::Ok
    };
    result
}

fn required_columns(check: &Check, table: &Table) -> Result<(), String> {
    let value_fields: Vec<&String> = match &check.rule {
        Rule::Threshold { field, .. } => vec![field],
        Rule::Ratio {
            numerator,
            denominator,
        } => vec![numerator, denominator],
    };
    for field in check.group_by.iter().chain(value_fields) {
        if !table.columns.contains(field) {
            let known: Vec<&str> = table.columns.iter().map(String::as_str).collect();
            return Err(format!(
                "source {:?} has no field `{field}` (it has: {}); map it with \
                 [source.fields] {field} = \"name in the source\"",
                check.source,
                known.join(", ")
            ));
        }
    }
    Ok(())
}

fn group_key(check: &Check, row: &Row) -> BTreeMap<String, String> {
    check
        .group_by
        .iter()
        .map(|field| {
            let label = row
                .fields
                .get(field)
                .and_then(|v| v.as_label())
                .unwrap_or_else(|| "(none)".to_owned());
            (field.clone(), label)
        })
        .collect()
}

fn evaluate_group(
    check: &Check,
    labels: BTreeMap<String, String>,
    rows: &[&Row],
    position: &str,
) -> GroupResult {
    let limit = check.comparison.limit;
    let value = match &check.rule {
        Rule::Threshold { field, aggregate } => numbers(rows, field, position)
            .map(|values| aggregate_values(&values, *aggregate, check.comparison.op)),
        Rule::Ratio {
            numerator,
            denominator,
        } => numbers(rows, numerator, position).and_then(|top| {
            let bottom = numbers(rows, denominator, position)?;
            ratio(top.iter().sum(), bottom.iter().sum(), denominator)
        }),
    };
    let (status, value, error) = match value {
        Ok(value) if satisfies(value, check.comparison) => (Status::Ok, Some(value), None),
        Ok(value) => (Status::Breach, Some(value), None),
        Err(error) => (Status::Unknown, None, Some(error)),
    };
    GroupResult {
        labels,
        status,
        value,
        limit,
        rows: rows.len(),
        error,
    }
}

fn numbers(rows: &[&Row], field: &str, position: &str) -> Result<Vec<f64>, String> {
    rows.iter()
        .map(|row| {
            let value = row.fields.get(field);
            value.and_then(|v| v.as_number()).ok_or_else(|| {
                let kind = value.map_or("missing", |v| v.kind());
                format!("{position} {}: `{field}` is {kind}, not a number", row.number)
            })
        })
        .collect()
}

fn ratio(numerator: f64, denominator: f64, denominator_name: &str) -> Result<f64, String> {
    if denominator == 0.0 {
        if numerator == 0.0 {
            return Err(format!("0 / 0: both `{denominator_name}` and the numerator are zero"));
        }
        // Members and no therapists at all: infinitely many per therapist.
        return Ok(numerator.signum() * f64::INFINITY);
    }
    Ok(numerator / denominator)
}

fn aggregate_values(values: &[f64], aggregate: Aggregate, op: Op) -> f64 {
    let max = || values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = || values.iter().copied().fold(f64::INFINITY, f64::min);
    match aggregate {
        Aggregate::Sum => values.iter().sum(),
        Aggregate::Mean => values.iter().sum::<f64>() / values.len() as f64,
        Aggregate::Max => max(),
        Aggregate::Min => min(),
        Aggregate::Worst => match op {
            Op::Lt | Op::Le => max(),
            Op::Gt | Op::Ge => min(),
        },
    }
}

/// Whether `value` is on the healthy side of the limit.
pub fn satisfies(value: f64, comparison: Comparison) -> bool {
    let limit = comparison.limit;
    match comparison.op {
        Op::Lt => value < limit,
        Op::Le => value <= limit,
        Op::Gt => value > limit,
        Op::Ge => value >= limit,
    }
}
