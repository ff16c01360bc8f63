//! What evaluating a check gives: a [`CheckResult`] with one
//! [`GroupResult`] per combination of labels, each with a [`Status`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::standards::{Standard, Unit};
use super::{Check, Comparison, Rule, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Breach,
    Unknown,
    /// The standard is not yet in force at the evaluation time.
    NotInForce,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Breach => "breach",
            Status::Unknown => "unknown",
            Status::NotInForce => "not_in_force",
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
    /// Where `data_time` comes from when it is not read from the data
    /// ("file modified"): a copied file has the copy's time. `None` when a
    /// field of the data says it (`time_field`).
    pub data_time_origin: Option<&'static str>,
    pub evaluated_at: DateTime<Utc>,
    /// The first few rows the check could not count, with why.
    pub rejected_rows: Vec<String>,
    /// Rows rejected before they reached a group (no value for a
    /// `group_by` field with `require_labels`); the groups' own counts
    /// hold the rest.
    pub rejected_without_group: u64,
    /// The standard of a wait-time check.
    pub standard: Option<Standard>,
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
    /// Counts and waits of a wait-time check's group.
    pub wait: Option<WaitStats>,
    /// What else decided the status, in words (the second ratio of a
    /// shortage rule).
    pub detail: Option<String>,
}

impl GroupResult {
    /// `region=socal-south, network=hmo`, or `all` for an ungrouped check.
    pub fn label_text(&self) -> String {
        label_text(&self.labels)
    }

    /// The labels for people ([`label_words`]).
    pub fn label_words(&self) -> String {
        label_words(&self.labels)
    }

    /// Where the group is, shortest: its label values ("socal-south",
    /// "socal-south/hmo", "no region"), or "" for an ungrouped check.
    pub fn place(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| missing_label(k, v).unwrap_or_else(|| v.clone()))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The label value of a row that has none for a `group_by` field: its
/// group's key in the state store. People read it as "no region"
/// ([`label_words`]).
pub const NO_LABEL: &str = "(none)";

/// "no region" for a label the rows did not have; `None` for a value.
fn missing_label(key: &str, value: &str) -> Option<String> {
    (value == NO_LABEL).then(|| format!("no {}", key.replace('_', " ")))
}

/// A group's labels for people: `region=socal-south`, and for a label the
/// rows did not have, `no region`; `all` for an ungrouped check.
pub fn label_words(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "all".to_owned();
    }
    labels
        .iter()
        .map(|(k, v)| missing_label(k, v).unwrap_or_else(|| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One label value for people: the value, or "no region".
pub fn label_value_words(key: &str, value: &str) -> String {
    match value {
        NO_LABEL => format!("no {}", key.replace('_', " ")),
        _ => value.to_owned(),
    }
}

/// The group key: `region=socal-south, network=hmo`, or `all`.
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

/// A result of `check` with no groups yet, status `unknown`.
pub fn empty_result(check: &Check, now: DateTime<Utc>) -> CheckResult {
    let standard = match &check.rule {
        Rule::TimelyAccess(rule) => Some(rule.standard.clone()),
        _ => None,
    };
    CheckResult {
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
        data_time_origin: None,
        evaluated_at: now,
        rejected_rows: Vec::new(),
        rejected_without_group: 0,
        standard,
    }
}

/// A check's status from its groups: breach if any group breached, else
/// unknown if any could not be evaluated, else ok.
pub fn worst(groups: &[GroupResult]) -> Status {
    if groups.iter().any(|g| g.status == Status::Breach) {
        Status::Breach
    } else if groups.iter().any(|g| g.status == Status::Unknown) {
        Status::Unknown
    } else {
        Status::Ok
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub compliant: u64,
    pub noncompliant: u64,
    pub pending: u64,
    pub extended: u64,
    pub rejected: u64,
    /// Requests whose clock started before the standard (or their
    /// provider type) took effect: not judged, counted apart.
    pub before_effective: u64,
}

/// What the email and the report say about one group of a wait-time check.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitStats {
    pub counts: Counts,
    pub rate: Option<f64>,
    /// The target in force; `None` when none is (before the law's target
    /// applies) or for an average-wait measure.
    pub target: Option<f64>,
    /// The target is the check's own, not the law's.
    pub target_by_plan: bool,
    pub median_wait: Option<f64>,
    pub p90_wait: Option<f64>,
    pub mean_wait: Option<f64>,
    pub overdue_open: u64,
    pub longest_open_wait: Option<f64>,
    pub unit: Unit,
    pub limit: f64,
}
