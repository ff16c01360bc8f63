//! Evaluating checks against tables: pure functions, no IO, no clock.
//!
//! [`evaluate`] takes one [`Check`], the table of its source (or the
//! source's error) and the evaluation time, and returns a [`CheckResult`]
//! with one [`GroupResult`] per combination of the check's label fields.
//! A problem with the data makes a group or the whole check `unknown`, with
//! a message that names the field and row but never quotes a cell.
//!
//! Every check but wait times is computed from its rows folded per group
//! ([`fold`]): [`evaluate`] folds a table's rows, a streamed source folds
//! its rows as they come, and [`finish`] (or [`finish_joined`]) makes the
//! same result from either.

pub mod fold;
pub mod waittime;

#[cfg(test)]
mod golden;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::check::result::{empty_result, worst};
use crate::check::{Aggregate, Check, CheckResult, Comparison, GroupResult, Op, Rule, Status};
use crate::table::Table;
use fold::{Group, Groups, Numbers, Part, Summary};

/// Evaluates `check` on `table` (or reports the source's error) as of `now`.
pub fn evaluate(check: &Check, table: Result<&Table, &str>, now: DateTime<Utc>) -> CheckResult {
    if let Rule::TimelyAccess(_) = &check.rule {
        return match table {
            Ok(table) => crate::evaluate::waittime::evaluate_table(check, table, now),
            Err(error) => {
                let mut result = empty_result(check, now);
                result.error = Some(format!("source {:?} failed: {error}", check.source));
                result
            }
        };
    }
    let folded = table.map(|table| fold::fold_table(check, Part::Check, table));
    finish(check, folded, now)
}

/// The result of `check` (not a wait-time check) from its source's folded
/// rows (or the source's error).
pub fn finish(
    check: &Check,
    folded: Result<(Summary, Groups), &str>,
    now: DateTime<Utc>,
) -> CheckResult {
    let mut result = empty_result(check, now);
    let (summary, groups) = match folded {
        Ok(folded) => folded,
        Err(error) => {
            result.error = Some(format!("source {:?} failed: {error}", check.source));
            return result;
        }
    };
    result.data_time = Some(summary.data_time);
    if let Rule::Freshness { field: None } = &check.rule {
        return source_freshness(check, &summary, now, result);
    }
    if let Err(error) = required_columns(check, &summary.columns) {
        result.error = Some(error);
        return result;
    }
    if summary.rows == 0 {
        result.error = Some(format!("source {:?} returned no records", check.source));
        return result;
    }
    // With require_labels, a row without a group is rejected: left out
    // of every group, counted and shown with its reason.
    result.rejected_without_group = groups.unlabelled;
    result.rejected_rows = groups
        .rejected
        .iter()
        .map(|(number, field)| format!("row {number}: `{field}` is empty (require_labels = true)"))
        .collect();
    result.groups = groups
        .groups
        .into_iter()
        .map(|(labels, group)| evaluate_group(check, labels, &group, summary.position, now))
        .collect();
    result.status = worst(&result.groups);
    result
}

/// Hours from `time` to `now`, to a tenth.
fn hours_since(time: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    ((now - time).num_seconds() as f64 / 360.0).round() / 10.0
}

/// Freshness from the source's own data time (file modification time,
/// HTTP Last-Modified): one group.
fn source_freshness(
    check: &Check,
    summary: &Summary,
    now: DateTime<Utc>,
    mut result: CheckResult,
) -> CheckResult {
    // The fetch time stands in when a source tells nothing; it would make
    // any source look fresh.
    if summary.data_time == now {
        result.error = Some(format!(
            "source {:?} tells no data time (no Last-Modified, no time_field): set `field` to a time column",
            check.source
        ));
        return result;
    }
    let value = hours_since(summary.data_time, now);
    let (status, value, error) = judge(Ok(value), check.comparison);
    result.groups = vec![GroupResult {
        labels: BTreeMap::new(),
        status,
        value,
        limit: check.comparison.limit,
        rows: summary.rows,
        error,
        wait: None,
        detail: None,
    }];
    result.status = status;
    result
}

/// Per group: the sum of a field and the number of rows, or why not.
type GroupSums = BTreeMap<BTreeMap<String, String>, Result<(f64, usize), String>>;

/// A ratio whose numerator comes from another source: the sums of each
/// side per group, joined on the group labels. A group present on one side
/// only cannot be computed and is `unknown`.
pub fn evaluate_joined(
    check: &Check,
    numerators: Result<&Table, &str>,
    denominators: Result<&Table, &str>,
    now: DateTime<Utc>,
) -> CheckResult {
    if fold::parts(check).len() != 2 {
        return evaluate(check, denominators, now);
    }
    let tops = numerators.map(|table| fold::fold_table(check, Part::Numerator, table));
    let bottoms = denominators.map(|table| fold::fold_table(check, Part::Denominator, table));
    finish_joined(check, tops, bottoms, now)
}

/// [`evaluate_joined`] from each side's folded rows ([`Part::Numerator`]
/// and [`Part::Denominator`]), or each source's error.
pub fn finish_joined(
    check: &Check,
    numerators: Result<(Summary, Groups), &str>,
    denominators: Result<(Summary, Groups), &str>,
    now: DateTime<Utc>,
) -> CheckResult {
    let mut result = empty_result(check, now);
    let Rule::Ratio {
        numerator,
        denominator,
        numerator_source: Some(other),
    } = &check.rule
    else {
        return finish(check, denominators, now);
    };
    let (tops, bottoms) = match (numerators, denominators) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => {
            result.error = Some(format!("source {other:?} failed: {e}"));
            return result;
        }
        (_, Err(e)) => {
            result.error = Some(format!("source {:?} failed: {e}", check.source));
            return result;
        }
    };
    result.data_time = Some(tops.0.data_time.min(bottoms.0.data_time));
    let sums = |(summary, groups): (Summary, Groups),
                field: &str,
                source: &str|
     -> Result<GroupSums, String> {
        for needed in check
            .group_by
            .iter()
            .chain(std::iter::once(&field.to_owned()))
        {
            if !summary.columns.contains(needed) {
                return Err(format!(
                    "source {source:?} has no field `{needed}`; map it with [source.fields]"
                ));
            }
        }
        Ok(groups
            .groups
            .into_iter()
            .map(|(k, group)| {
                let sum = group.numbers[0].sum(summary.position, field);
                (k, sum.map(|sum| (sum, group.rows)))
            })
            .collect())
    };
    let (tops, bottoms) = match (
        sums(tops, numerator, other),
        sums(bottoms, denominator, &check.source),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            result.error = Some(e);
            return result;
        }
    };
    let keys: BTreeSet<_> = tops.keys().chain(bottoms.keys()).cloned().collect();
    result.groups = keys
        .into_iter()
        .map(|labels| {
            let value = match (tops.get(&labels), bottoms.get(&labels)) {
                (Some(Ok((top, _))), Some(Ok((bottom, _)))) => ratio(*top, *bottom, denominator),
                (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e.clone()),
                (None, _) => Err(format!("no rows in source {other:?} for this group")),
                (_, None) => Err(format!(
                    "no rows in source {:?} for this group",
                    check.source
                )),
            };
            let rows = bottoms
                .get(&labels)
                .and_then(|r| r.as_ref().ok())
                .map_or(0, |(_, n)| *n);
            let (status, value, error) = judge(value, check.comparison);
            GroupResult {
                labels,
                status,
                value,
                limit: check.comparison.limit,
                rows,
                error,
                wait: None,
                detail: None,
            }
        })
        .collect();
    result.status = worst(&result.groups);
    if result.groups.is_empty() {
        result.error = Some("both sources returned no records".to_owned());
        result.status = Status::Unknown;
    }
    result
}

fn required_columns(check: &Check, columns: &BTreeSet<String>) -> Result<(), String> {
    let value_fields: Vec<&String> = match &check.rule {
        Rule::Threshold { field, .. } => vec![field],
        Rule::Ratio {
            numerator,
            denominator,
            numerator_source: None,
        } => vec![numerator, denominator],
        Rule::Ratio { denominator, .. } => vec![denominator],
        Rule::Freshness { field } => field.iter().collect(),
        Rule::Shortage {
            population,
            core,
            psychiatrists,
        } => vec![population, core, psychiatrists],
        Rule::TimelyAccess(_) => vec![],
    };
    for field in check.group_by.iter().chain(value_fields) {
        if !columns.contains(field) {
            let known: Vec<&str> = columns.iter().map(String::as_str).collect();
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

fn evaluate_group(
    check: &Check,
    labels: BTreeMap<String, String>,
    group: &Group,
    position: &str,
    now: DateTime<Utc>,
) -> GroupResult {
    let limit = check.comparison.limit;
    // The sum of the rule's `index`th field, or its first bad row.
    let sum = |index: usize, field: &str| group.numbers[index].sum(position, field);
    if let Rule::Shortage {
        population,
        core,
        psychiatrists,
    } = &check.rule
    {
        let ratios = sum(0, population).and_then(|people| {
            let per_core = ratio(people, sum(1, core)?, core)?;
            let per_psychiatrist = ratio(people, sum(2, psychiatrists)?, psychiatrists)?;
            Ok((per_core, per_psychiatrist))
        });
        return shortage_group(labels, ratios, group.rows, limit);
    }
    let value = match &check.rule {
        Rule::Threshold { field, aggregate } => sum(0, field).map(|_| {
            aggregate_value(
                &group.numbers[0],
                group.rows,
                *aggregate,
                check.comparison.op,
            )
        }),
        Rule::Ratio {
            numerator,
            denominator,
            ..
        } => sum(0, numerator).and_then(|top| {
            let bottom = sum(1, denominator)?;
            ratio(top, bottom, denominator)
        }),
        Rule::Freshness { field: Some(field) } => group
            .newest
            .finish(position, field)
            .map(|newest| hours_since(newest, now))
            .map_err(|e| e.0),
        Rule::Freshness { field: None } | Rule::TimelyAccess(_) | Rule::Shortage { .. } => {
            Err("this check is not evaluated per row".to_owned())
        }
    };
    let (status, value, error) = judge(value, check.comparison);
    GroupResult {
        labels,
        status,
        value,
        limit,
        rows: group.rows,
        error,
        wait: None,
        detail: None,
    }
}

/// A group under HRSA's shortage rule: the value is the population per
/// core professional; the status follows the rule over both ratios.
fn shortage_group(
    labels: BTreeMap<String, String>,
    ratios: Result<(f64, f64), String>,
    rows: usize,
    limit: f64,
) -> GroupResult {
    let (status, value, error, detail) = match ratios {
        Ok((per_core, per_psychiatrist)) => {
            let short = crate::check::standards::hpsa_shortage(per_core, per_psychiatrist);
            let detail = format!(
                "population per psychiatrist {}; {}",
                per_psychiatrist.round(),
                if short {
                    "a shortage under HRSA's rule (a benchmark)"
                } else {
                    "no shortage under HRSA's rule"
                }
            );
            let status = if short { Status::Breach } else { Status::Ok };
            (status, Some(per_core), None, Some(detail))
        }
        Err(error) => (Status::Unknown, None, Some(error), None),
    };
    GroupResult {
        labels,
        status,
        value,
        limit,
        rows,
        error,
        wait: None,
        detail,
    }
}

fn ratio(numerator: f64, denominator: f64, denominator_name: &str) -> Result<f64, String> {
    if denominator == 0.0 {
        if numerator == 0.0 {
            return Err(format!(
                "0 / 0: both `{denominator_name}` and the numerator are zero"
            ));
        }
        // Members and no therapists at all: infinitely many per therapist.
        return Ok(numerator.signum() * f64::INFINITY);
    }
    Ok(numerator / denominator)
}

/// A group's value under `aggregate` from its `rows` numbers folded.
fn aggregate_value(numbers: &Numbers, rows: usize, aggregate: Aggregate, op: Op) -> f64 {
    match aggregate {
        Aggregate::Sum => numbers.sum,
        Aggregate::Count => rows as f64,
        Aggregate::Mean => numbers.sum / rows as f64,
        Aggregate::Max => numbers.max,
        Aggregate::Min => numbers.min,
        Aggregate::Worst => match op {
            Op::Lt | Op::Le => numbers.max,
            Op::Gt | Op::Ge => numbers.min,
        },
    }
}

/// A group's status from its value, or from why there is none.
fn judge(
    value: Result<f64, String>,
    comparison: Comparison,
) -> (Status, Option<f64>, Option<String>) {
    match value {
        Ok(value) if comparison.holds(value) => (Status::Ok, Some(value), None),
        Ok(value) => (Status::Breach, Some(value), None),
        Err(error) => (Status::Unknown, None, Some(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_with(rule: Rule, op: Op, limit: f64, group_by: &[&str]) -> Check {
        super::golden::check("c", rule, op, limit, group_by)
    }

    fn ratio() -> Rule {
        Rule::Ratio {
            numerator: "members".to_owned(),
            denominator: "fte".to_owned(),
            numerator_source: None,
        }
    }

    fn threshold(aggregate: Aggregate) -> Rule {
        Rule::Threshold {
            field: "wait".to_owned(),
            aggregate,
        }
    }

    fn table(csv: &str) -> Table {
        crate::table::parse(
            csv.as_bytes(),
            crate::table::Format::Csv,
            &crate::table::Layout::default(),
            DateTime::UNIX_EPOCH,
        )
        .unwrap()
    }

    /// Evaluates and renders the result as `STATUS` plus one
    /// `labels status value` line per group (or the error).
    fn check(check: &Check, csv: &str, expected: &[&str]) {
        let table = table(csv);
        let result = evaluate(check, Ok(&table), DateTime::UNIX_EPOCH);
        let mut got = vec![result.status.as_str().to_owned()];
        if let Some(error) = &result.error {
            got.push(format!("error: {error}"));
        }
        for g in &result.groups {
            let value = g
                .value
                .map_or_else(|| g.error.clone().unwrap_or_default(), |v| v.to_string());
            got.push(format!("{} {} {value}", g.label_text(), g.status.as_str()));
        }
        assert_eq!(got, expected, "csv: {csv:?}");
    }

    #[test]
    fn ratio_sums_rows_per_group() {
        let c = check_with(ratio(), Op::Le, 3000.0, &["region"]);
        check(
            &c,
            "region,members,fte\nsouth,3000,1\nsouth,3100,1\nnorth,2000,1\n",
            &["breach", "region=north ok 2000", "region=south breach 3050"],
        );
        check(
            &c,
            "region,members,fte\nsouth,3000,1\n",
            &["ok", "region=south ok 3000"],
        );
        let strict = check_with(ratio(), Op::Lt, 3000.0, &["region"]);
        check(
            &strict,
            "region,members,fte\nsouth,3000,1\n",
            &["breach", "region=south breach 3000"],
        );
    }

    #[test]
    fn zero_staff_is_an_infinite_breach_and_zero_over_zero_unknown() {
        let c = check_with(ratio(), Op::Le, 3000.0, &["region"]);
        check(
            &c,
            "region,members,fte\nsouth,500,0\n",
            &["breach", "region=south breach inf"],
        );
        check(
            &c,
            "region,members,fte\nsouth,0,0\n",
            &[
                "unknown",
                "region=south unknown 0 / 0: both `fte` and the numerator are zero",
            ],
        );
    }

    #[test]
    fn threshold_aggregates() {
        let csv = "region,wait\na,5\na,15\nb,7\n";
        check(
            &check_with(threshold(Aggregate::Worst), Op::Le, 10.0, &["region"]),
            csv,
            &["breach", "region=a breach 15", "region=b ok 7"],
        );
        check(
            &check_with(threshold(Aggregate::Worst), Op::Ge, 6.0, &["region"]),
            csv,
            &["breach", "region=a breach 5", "region=b ok 7"],
        );
        check(
            &check_with(threshold(Aggregate::Mean), Op::Le, 10.0, &["region"]),
            csv,
            &["ok", "region=a ok 10", "region=b ok 7"],
        );
        check(
            &check_with(threshold(Aggregate::Sum), Op::Le, 10.0, &[]),
            csv,
            &["breach", "all breach 27"],
        );
        check(
            &check_with(threshold(Aggregate::Min), Op::Gt, 5.0, &[]),
            csv,
            &["breach", "all breach 5"],
        );
        check(
            &check_with(threshold(Aggregate::Max), Op::Lt, 15.0, &[]),
            csv,
            &["breach", "all breach 15"],
        );
    }

    #[test]
    fn bad_values_make_the_group_unknown_without_quoting_them() {
        let c = check_with(threshold(Aggregate::Worst), Op::Le, 10.0, &["region"]);
        check(
            &c,
            "region,wait\na,Jane Doe\nb,3\nc,\n",
            &[
                "unknown",
                "region=a unknown line 2: `wait` is text, not a number",
                "region=b ok 3",
                "region=c unknown line 4: `wait` is empty, not a number",
            ],
        );
        // A breach elsewhere still makes the check a breach.
        check(
            &c,
            "region,wait\na,x\nb,30\n",
            &[
                "breach",
                "region=a unknown line 2: `wait` is text, not a number",
                "region=b breach 30",
            ],
        );
        // A row without the label is grouped under "(none)".
        check(&c, "region,wait\n,3\n", &["ok", "region=(none) ok 3"]);
    }

    #[test]
    fn missing_fields_empty_tables_and_source_errors() {
        let c = check_with(ratio(), Op::Le, 3000.0, &["region"]);
        check(
            &c,
            "region,members\nsouth,1\n",
            &[
                "unknown",
                "error: source \"s\" has no field `fte` (it has: members, region); map it with [source.fields] fte = \"name in the source\"",
            ],
        );
        check(
            &c,
            "region,members,fte\n",
            &["unknown", "error: source \"s\" returned no records"],
        );
        let result = evaluate(&c, Err("GET http://x/ failed"), DateTime::UNIX_EPOCH);
        assert_eq!(result.status, Status::Unknown);
        assert_eq!(
            result.error.as_deref(),
            Some("source \"s\" failed: GET http://x/ failed")
        );
    }
}
