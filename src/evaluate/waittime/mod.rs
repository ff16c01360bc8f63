//! Appointment wait-time compliance (`kind = "timely_access"` checks):
//! per group, the share of appointment requests offered an appointment
//! within a standard's limit.
//!
//! The evaluation streams: an [`Evaluator`] takes one row at a time
//! ([`Evaluator::add`]) and keeps only counts and a histogram of waits per
//! group, so memory does not grow with the number of rows. Evaluators of
//! separate chunks of a file are combined with [`Evaluator::merge`], which
//! is how the CSV driver in `source::csv_stream` uses both cores.
//!
//! Semantics, per row of a check (the standards file is the reference):
//! 1. the clock-start time (request, prior visit or discharge) must parse,
//!    else the row is rejected; outside the window it is skipped. An empty
//!    prior-visit or discharge time rejects only a row the standard
//!    applies to (an initial visit has no prior visit);
//! 2. the fields the standard selects on must hold known values, else the
//!    row is rejected; rows the standard does not apply to are skipped;
//! 3. an offer that does not parse or comes before the clock start is
//!    rejected;
//! 4. `extended_by_provider`: compliant, and counted as extended;
//!    offered within the limit: compliant; later: non-compliant;
//!    not offered and the limit already passed at the evaluation time:
//!    non-compliant and overdue; otherwise pending (left out of the rate).
//!
//! Waits in business days count the business days `d` with
//! `clock-start date < d <= offer date`, in the check's zone. Pure: the
//! evaluation time is a parameter.

mod accumulate;
pub mod columns;
pub mod sql;
pub mod timestamp;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use accumulate::{GroupAcc, Outcome};
use columns::{Cells, Columns};
use timestamp::{Stamp, ZoneCache};

use crate::check::fields::{Field, ValueMaps};
use crate::check::standards::{Modality, ProviderType, Telehealth, Urgency, VisitType};
use crate::check::{Check, CheckResult, Rule, Status, WaitRule};
use crate::table::{Table, Value};

/// How many rejected rows are kept, with their reasons, per check.
const REJECTED_SAMPLES: usize = 5;

/// The running evaluation of every wait-time check on one source.
#[derive(Debug, Clone)]
pub struct Evaluator {
    as_of: DateTime<Utc>,
    checks: Vec<CheckState>,
}

#[derive(Debug, Clone)]
struct CheckState {
    check: Check,
    rule: Arc<WaitRule>,
    columns: Columns,
    values: Arc<ValueMaps>,
    /// Set when the source lacks a column the check needs: nothing is
    /// counted and the check is `unknown`.
    error: Option<String>,
    zone: ZoneCache,
    as_of: Stamp,
    groups: HashMap<String, GroupAcc>,
    key: String,
    rejected_samples: Vec<(u64, String)>,
}

impl Evaluator {
    /// An evaluator for the `timely_access` checks among `checks` over
    /// rows with `header`, through the source's field `mapping`.
    pub fn new(
        checks: &[Check],
        header: &[String],
        mapping: &BTreeMap<String, String>,
        as_of: DateTime<Utc>,
    ) -> Evaluator {
        let checks = checks
            .iter()
            .filter_map(|check| {
                let Rule::TimelyAccess(rule) = &check.rule else {
                    return None;
                };
                let rule = Arc::new((**rule).clone());
                let columns = Columns::resolve(header, mapping, &check.group_by);
                let mut zone = ZoneCache::new(rule.time_zone);
                let as_of_stamp = zone
                    .stamp(as_of.timestamp())
                    .with_nanos(as_of.timestamp_subsec_nanos());
                Some(CheckState {
                    error: missing_columns(check, &rule, &columns, header, mapping),
                    check: check.clone(),
                    values: rule.values.clone(),
                    rule,
                    columns,
                    zone,
                    as_of: as_of_stamp,
                    groups: HashMap::new(),
                    key: String::new(),
                    rejected_samples: Vec::new(),
                })
            })
            .collect();
        Evaluator { as_of, checks }
    }

    /// Counts one row; `line` is its line (or record) number in the source.
    pub fn add(&mut self, line: u64, row: &impl Cells) {
        for state in &mut self.checks {
            if state.error.is_none() {
                state.add(line, row);
            }
        }
    }

    /// Adds the counts of `other`, an evaluator of another part of the same
    /// source built with the same arguments.
    pub fn merge(&mut self, other: Evaluator) {
        for (mine, theirs) in self.checks.iter_mut().zip(other.checks) {
            for (key, acc) in theirs.groups {
                mine.groups.entry(key).or_default().merge(acc);
            }
            mine.rejected_samples.extend(theirs.rejected_samples);
            mine.rejected_samples.sort_unstable();
            mine.rejected_samples.truncate(REJECTED_SAMPLES);
        }
    }

    /// The results, one per check. `data_time` is when the data was made.
    pub fn finish(self, data_time: DateTime<Utc>) -> Vec<CheckResult> {
        let as_of = self.as_of;
        self.checks
            .into_iter()
            .map(|state| state.finish(as_of, data_time))
            .collect()
    }
}

fn missing_columns(
    check: &Check,
    rule: &WaitRule,
    columns: &Columns,
    header: &[String],
    mapping: &BTreeMap<String, String>,
) -> Option<String> {
    let mut needed: Vec<String> = std::iter::once(rule.clock_field())
        .chain(rule.selected_fields())
        .filter(|f| !columns.has(*f))
        .map(|f| f.name().to_owned())
        .collect();
    needed.extend(columns.missing_labels().map(|i| check.group_by[i].clone()));
    if needed.is_empty() {
        return None;
    }
    let shown: Vec<String> = needed
        .iter()
        .map(|n| match mapping.get(n) {
            Some(column) => format!("`{n}` (mapped to column {column:?})"),
            None => format!("`{n}`"),
        })
        .collect();
    Some(format!(
        "source {:?} has no {} (it has: {}); map with [source.fields] {} = \"column name\"",
        check.source,
        shown.join(", "),
        header.join(", "),
        needed[0]
    ))
}

impl CheckState {
    fn add(&mut self, line: u64, row: &impl Cells) {
        self.fill_key(row);
        let outcome = match self.missing_required_label(row) {
            Some(reason) => Outcome::rejected(reason),
            None => self.classify(row),
        };
        if let Outcome::Rejected(reason) = &outcome
            && self.rejected_samples.len() < REJECTED_SAMPLES
        {
            self.rejected_samples.push((line, reason.clone()));
        }
        if let Some(acc) = self.groups.get_mut(self.key.as_str()) {
            acc.count(outcome);
        } else if !matches!(outcome, Outcome::Skipped) {
            let mut acc = GroupAcc::default();
            acc.count(outcome);
            self.groups.insert(self.key.clone(), acc);
        }
    }

    /// With `require_labels`, why `row` has no group: the first `group_by`
    /// field it has no value for. It is then rejected, and counted in the
    /// group "no FIELD", which `max_rejected` keeps from firing.
    fn missing_required_label(&self, row: &impl Cells) -> Option<String> {
        if !self.check.require_labels {
            return None;
        }
        let index =
            (0..self.columns.label_count()).find(|&i| self.columns.label(row, i).is_none())?;
        let field = self
            .check
            .group_by
            .get(index)
            .map_or("a group_by field", String::as_str);
        Some(format!("`{field}` is empty (require_labels = true)"))
    }

    /// The group key of `row`: its labels joined by U+001F.
    fn fill_key(&mut self, row: &impl Cells) {
        self.key.clear();
        for index in 0..self.columns.label_count() {
            if index > 0 {
                self.key.push('\u{1f}');
            }
            self.key
                .push_str(self.columns.label(row, index).unwrap_or(NO_LABEL));
        }
    }

    fn classify(&mut self, row: &impl Cells) -> Outcome {
        let rule = &*self.rule;
        let clock = rule.clock_field();
        let Some(start_text) = self.columns.text(row, clock) else {
            // Every row is a request and needs its request time; a prior
            // visit or a discharge is needed only by the rows the standard
            // applies to (follow-ups, post-discharge visits).
            if clock != Field::RequestedAt && !matches!(self.selects(row), Ok(Some(_))) {
                return Outcome::Skipped;
            }
            return Outcome::rejected(format!("`{}` is empty", clock.name()));
        };
        let Some(start) = timestamp::parse(start_text, &mut self.zone) else {
            return Outcome::rejected(format!("`{}` is not a timestamp", clock.name()));
        };
        // The window is [as_of − window, as_of]: a request exactly at its
        // start is inside.
        let window_start = Stamp {
            utc: self.as_of.utc - rule.window.num_seconds(),
            ..self.as_of
        };
        if (start.utc, start.nanos) < (window_start.utc, window_start.nanos)
            || (start.utc, start.nanos) > (self.as_of.utc, self.as_of.nanos)
        {
            return Outcome::Skipped;
        }
        let provider = match self.selects(row) {
            Ok(Some(provider)) => provider,
            Ok(None) => return Outcome::Skipped,
            Err(reason) => return Outcome::Rejected(reason),
        };
        if rule
            .effective_for(provider)
            .is_some_and(|effective| start.local_date() < effective)
        {
            return Outcome::BeforeEffective;
        }
        let extended = match self.columns.text(row, Field::ExtendedByProvider) {
            None => false,
            Some(text) => {
                match crate::check::fields::parse_bool(
                    self.values.canonical(Field::ExtendedByProvider, text),
                ) {
                    Some(b) => b,
                    None => {
                        return Outcome::rejected("`extended_by_provider` is not true or false");
                    }
                }
            }
        };
        let end = rule.end_field();
        let offer = match self.columns.text(row, end) {
            None => None,
            Some(text) => match timestamp::parse(text, &mut self.zone) {
                None => return Outcome::rejected(format!("`{}` is not a timestamp", end.name())),
                Some(offer) if offer < start => {
                    return Outcome::rejected(format!(
                        "`{}` is before `{}`",
                        end.name(),
                        clock.name()
                    ));
                }
                Some(offer) => Some(offer),
            },
        };
        let offer = match self.telehealth_counts(row) {
            Ok(true) => offer,
            // A telehealth offer the standard does not count: the request
            // is still waiting for one it does.
            Ok(false) => None,
            Err(reason) => return Outcome::Rejected(reason),
        };
        accumulate::outcome(rule, start, offer, extended, self.as_of)
    }

    /// Whether the offer of `row` counts under the standard's telehealth
    /// rule. An offer of unknown modality (no `modality`) counts.
    fn telehealth_counts(&self, row: &impl Cells) -> Result<bool, String> {
        let modality = |field: Field| -> Result<Option<Modality>, String> {
            match self.columns.text(row, field) {
                None => Ok(None),
                Some(text) => Modality::parse(self.values.canonical(field, text))
                    .map(Some)
                    .ok_or_else(|| {
                        format!(
                            "`{}` has an unknown value: use \"in_person\" or \"telehealth\"",
                            field.name()
                        )
                    }),
            }
        };
        if modality(Field::Modality)? != Some(Modality::Telehealth) {
            return Ok(true);
        }
        let requested = modality(Field::RequestedModality)?;
        Ok(match self.rule.telehealth {
            Telehealth::Counts => true,
            Telehealth::UnlessInPersonRequested => requested != Some(Modality::InPerson),
            Telehealth::MemberChoice => requested == Some(Modality::Telehealth),
            Telehealth::DoesNotCount => false,
        })
    }

    /// Whether the standard applies to `row` (`Some`, with the row's
    /// provider type when it has one); an error when a field it selects on
    /// is empty or holds an unknown value.
    fn selects(&self, row: &impl Cells) -> Result<Option<Option<ProviderType>>, String> {
        let s = &self.rule.selection;
        let get = |field: Field| -> Result<&str, String> {
            let text = self
                .columns
                .text(row, field)
                .ok_or_else(|| format!("`{}` is empty", field.name()))?;
            Ok(self.values.canonical(field, text))
        };
        let unknown = |field: Field| format!("`{}` has an unknown value", field.name());
        if let Some(wanted) = s.urgency {
            let value =
                Urgency::parse(get(Field::Urgency)?).ok_or_else(|| unknown(Field::Urgency))?;
            if value != wanted {
                return Ok(None);
            }
        }
        if let Some(wanted) = s.visit_type {
            let value = VisitType::parse(get(Field::VisitType)?)
                .ok_or_else(|| unknown(Field::VisitType))?;
            if value != wanted {
                return Ok(None);
            }
        }
        if let Some(wanted) = s.prior_auth {
            let value = crate::check::fields::parse_bool(get(Field::PriorAuth)?)
                .ok_or_else(|| unknown(Field::PriorAuth))?;
            if value != wanted {
                return Ok(None);
            }
        }
        if s.provider_types.is_empty() {
            return Ok(Some(None));
        }
        let value = ProviderType::parse(get(Field::ProviderType)?)
            .ok_or_else(|| unknown(Field::ProviderType))?;
        if !s.provider_types.contains(&value) {
            return Ok(None);
        }
        Ok(Some(Some(value)))
    }

    fn finish(self, as_of: DateTime<Utc>, data_time: DateTime<Utc>) -> CheckResult {
        let rule = &*self.rule;
        let mut result = crate::check::result::empty_result(&self.check, as_of);
        result.data_time = Some(data_time);
        result.rejected_rows = self
            .rejected_samples
            .iter()
            .map(|(line, reason)| format!("row {line}: {reason}"))
            .collect();
        if let Some(error) = self.error {
            result.error = Some(error);
            return result;
        }
        let today = self.as_of.local_date();
        let in_force = rule.effective.is_none_or(|effective| effective <= today);
        let mut groups: Vec<_> = self
            .groups
            .into_iter()
            .map(|(key, acc)| acc.finish(labels(&self.check.group_by, &key), rule, today))
            .collect();
        groups.sort_by(|a, b| a.labels.cmp(&b.labels));
        if !in_force {
            for group in &mut groups {
                group.status = Status::NotInForce;
            }
        }
        result.status = if !in_force {
            Status::NotInForce
        } else if groups.is_empty() {
            result.error = Some(format!(
                "no appointment requests in the {} days before the evaluation time match the standard",
                rule.window.num_days()
            ));
            Status::Unknown
        } else {
            crate::check::result::worst(&groups)
        };
        result.groups = groups;
        result
    }
}

use crate::check::result::NO_LABEL;

/// Evaluates one wait-time check on a parsed table (JSON, NDJSON, HTTP
/// sources), whose field mapping has already been applied.
pub fn evaluate_table(check: &Check, table: &Table, as_of: DateTime<Utc>) -> CheckResult {
    let header: Vec<String> = table.columns.iter().cloned().collect();
    let mut evaluator = Evaluator::new(
        std::slice::from_ref(check),
        &header,
        &BTreeMap::new(),
        as_of,
    );
    for row in &table.rows {
        let cells: Vec<Option<String>> = header
            .iter()
            .map(|name| row.fields.get(name).and_then(cell_text))
            .collect();
        evaluator.add(row.number as u64, &cells);
    }
    let mut results = evaluator.finish(table.data_time);
    results
        .pop()
        .unwrap_or_else(|| crate::check::result::empty_result(check, as_of))
}

fn cell_text(value: &Value) -> Option<String> {
    match value {
        Value::Text(text) => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Nested(_) => None,
    }
}

fn labels(names: &[String], key: &str) -> BTreeMap<String, String> {
    if names.is_empty() {
        return BTreeMap::new();
    }
    names
        .iter()
        .cloned()
        .zip(key.split('\u{1f}').map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests;
