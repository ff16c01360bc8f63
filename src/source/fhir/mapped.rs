//! Mapped records and the [`Table`] made of them. Pure.
//!
//! A record holds the canonical fields of one resource, plus internal
//! fields starting with `_` that the table never shows: `_request` ties
//! the appointments of one ServiceRequest together, `_period_start` and
//! `_period_end` say when a PractitionerRole is in force. They are
//! resolved here, at the evaluation time, so that rows kept in an
//! incremental mirror stay correct as time passes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{FhirSpec, ResourceKind};
use crate::table::{Row, Table, Value};

pub type Record = BTreeMap<String, Value>;

/// A resource after mapping: its id (the mirror's key), its
/// `meta.lastUpdated`, and its row (`None`: not a row, and deleted from
/// a mirror, like an entered-in-error appointment or an inactive role).
#[derive(Debug, Clone)]
pub struct Mapped {
    pub id: Option<String>,
    pub last_updated: Option<String>,
    pub row: Option<Record>,
}

pub fn text_value(text: Option<String>) -> Value {
    text.map_or(Value::Null, Value::Text)
}

pub const APPOINTMENT_COLUMNS: [&str; 6] = [
    "requested_at",
    "first_offered_at",
    "visit_type",
    "urgency",
    "provider_type",
    "modality",
];

pub const ROSTER_COLUMNS: [&str; 8] = [
    "network",
    "location",
    "taxonomy",
    "bh_category",
    "bh",
    "fte",
    "bh_fte",
    "deactivated_code",
];

/// The columns a source of `spec` always has, so that a check finds its
/// fields even when the search found nothing.
pub fn columns(spec: &FhirSpec) -> BTreeSet<String> {
    let fixed: &[&str] = match spec.resource {
        ResourceKind::PractitionerRole => &ROSTER_COLUMNS,
        _ => &APPOINTMENT_COLUMNS,
    };
    fixed
        .iter()
        .map(|c| (*c).to_owned())
        .chain(spec.mapping.labels.iter().map(|(name, _)| name.clone()))
        .collect()
}

/// The table of `records` as of `now`.
pub fn table(
    records: Vec<Record>,
    spec: &FhirSpec,
    now: DateTime<Utc>,
    data_time: DateTime<Utc>,
) -> Table {
    let records: Vec<Record> = records.into_iter().filter(|r| in_force(r, now)).collect();
    let records = group_requests(records);
    let rows = records
        .into_iter()
        .enumerate()
        .map(|(index, mut fields)| {
            fields.retain(|name, _| !name.starts_with('_'));
            Row {
                number: index + 1,
                fields,
            }
        })
        .collect();
    Table {
        columns: columns(spec),
        rows,
        position: "record",
        data_time,
    }
}

/// The rows of [`table`] made one record at a time, for a fold: the same
/// filter, grouping, columns and numbering, without holding the records.
/// A record of a ServiceRequest (`_request`) is held back, one per
/// request (the one whose offer stands so far), until [`Rows::finish`],
/// since a later page may hold an earlier offer.
pub struct Rows {
    header: Vec<String>,
    now: DateTime<Utc>,
    requests: BTreeMap<String, Record>,
    number: u64,
    cells: Vec<Option<String>>,
}

impl Rows {
    pub fn new(spec: &FhirSpec, now: DateTime<Utc>) -> Rows {
        let header: Vec<String> = columns(spec).into_iter().collect();
        Rows {
            cells: Vec::with_capacity(header.len()),
            header,
            now,
            requests: BTreeMap::new(),
            number: 0,
        }
    }

    /// The columns of every row's cells.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Takes one mapped record; `add` gets the row it makes, if any now.
    pub fn push(&mut self, record: Record, add: &mut impl FnMut(u64, &Vec<Option<String>>)) {
        if !in_force(&record, self.now) {
            return;
        }
        let Some(Value::Text(key)) = record.get("_request") else {
            return self.emit(&record, add);
        };
        match self.requests.get_mut(key) {
            Some(kept) => {
                if offer_rank(&record) < offer_rank(kept) {
                    *kept = record;
                }
            }
            None => {
                self.requests.insert(key.clone(), record);
            }
        }
    }

    /// Hands over the rows held back: one per ServiceRequest.
    pub fn finish(mut self, add: &mut impl FnMut(u64, &Vec<Option<String>>)) {
        for record in std::mem::take(&mut self.requests).into_values() {
            self.emit(&record, add);
        }
    }

    fn emit(&mut self, record: &Record, add: &mut impl FnMut(u64, &Vec<Option<String>>)) {
        self.number += 1;
        self.cells.clear();
        self.cells.extend(self.header.iter().map(|name| {
            record
                .get(name)
                .and_then(crate::evaluate::waittime::cell_text)
        }));
        add(self.number, &self.cells);
    }
}

/// Which record of a request stands, lowest first, as in
/// [`group_requests`]: the earliest parsable offer, then an unparsable
/// one, then none; the first seen among equals.
fn offer_rank(record: &Record) -> (u8, Option<DateTime<Utc>>) {
    match record.get("first_offered_at") {
        Some(Value::Text(text)) => match parse_instant(text) {
            Some(time) => (0, Some(time)),
            None => (1, None),
        },
        _ => (2, None),
    }
}

/// Whether a record's `_period_start`/`_period_end` (if any) cover `now`.
fn in_force(record: &Record, now: DateTime<Utc>) -> bool {
    let time = |name: &str| match record.get(name) {
        Some(Value::Text(text)) => parse_instant(text),
        _ => None,
    };
    time("_period_start").is_none_or(|start| start <= now)
        && time("_period_end").is_none_or(|end| now < end)
}

/// Merges the records of one ServiceRequest (`_request`) into one
/// request: its first offer is the earliest offer among them, and the
/// other fields come from the appointment of that offer (or the first).
fn group_requests(records: Vec<Record>) -> Vec<Record> {
    let mut alone = Vec::new();
    let mut groups: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for record in records {
        match record.get("_request") {
            Some(Value::Text(key)) => groups.entry(key.clone()).or_default().push(record),
            _ => alone.push(record),
        }
    }
    for (_, members) in groups {
        let offer = |r: &Record| match r.get("first_offered_at") {
            Some(Value::Text(text)) => parse_instant(text),
            _ => None,
        };
        let earliest = members
            .iter()
            .enumerate()
            .filter_map(|(i, r)| offer(r).map(|t| (t, i)))
            .min()
            .map(|(_, i)| i);
        // No parsable offer: an unparsable one (rejected downstream)
        // outranks "not offered", which would count the request as open.
        let chosen = earliest.or_else(|| {
            members
                .iter()
                .position(|r| matches!(r.get("first_offered_at"), Some(Value::Text(_))))
        });
        let mut members = members;
        alone.push(members.swap_remove(chosen.unwrap_or(0)));
    }
    alone
}

/// An RFC 3339 instant, or a date (its start in UTC), or a dateTime
/// without seconds or offset; enough to order FHIR times.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// A record as a JSON object, for the state store.
pub fn to_json(record: &Record) -> String {
    let object: serde_json::Map<String, serde_json::Value> = record
        .iter()
        .map(|(name, value)| {
            let json = match value {
                Value::Null | Value::Nested(_) => serde_json::Value::Null,
                Value::Bool(b) => serde_json::Value::Bool(*b),
                Value::Number(n) => serde_json::Number::from_f64(*n)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                Value::Text(t) => serde_json::Value::String(t.clone()),
            };
            (name.clone(), json)
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// A record read back from the state store.
pub fn from_json(text: &str) -> anyhow::Result<Record> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| anyhow::anyhow!("a row kept in the state store is not valid JSON"))?;
    let serde_json::Value::Object(object) = value else {
        anyhow::bail!("a row kept in the state store is not a JSON object");
    };
    Ok(object
        .into_iter()
        .map(|(name, json)| {
            let value = match json {
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Number),
                serde_json::Value::String(s) => Value::Text(s),
                _ => Value::Null,
            };
            (name, value)
        })
        .collect())
}
