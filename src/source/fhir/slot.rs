//! Slot sources: the next available appointment of each schedule.
//!
//! The active Schedules are searched first (with `schedule_search`), then
//! the free Slots from the evaluation time to the end of the horizon
//! (`Slot?status=free&start=ge<now>&start=lt<now + horizon>` plus
//! `search`). Each Schedule becomes one row, as if a request were made at
//! the evaluation time: `requested_at` = now, `first_offered_at` = the
//! start of its earliest free slot, `visit_type = "initial"`, `urgency =
//! "non_urgent"`, `provider_type` from the Schedule's (else that slot's)
//! `serviceType`/`specialty` codes or its PractitionerRole actor's
//! specialty, and the configured labels read from the Schedule. A
//! schedule with no free slot within the horizon gets the horizon's end as
//! its offer: "nothing free in 60 days" counts as not within any
//! standard. Slots of schedules the Schedule search did not return are
//! ignored. A `timely_access` check over this table measures the share of
//! providers whose next non-urgent availability is within the standard,
//! as DMHC's appointment availability survey does.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::client::FhirClient;
use super::codes::{CodeField, codings_of};
use super::mapped::{self, Record, text_value};
use super::resolve;
use super::sync::{includes, page_index};
use super::{FhirSpec, Mapping};
use crate::table::Table;

const CODED: [&str; 4] = [
    "serviceType",
    "specialty",
    "serviceCategory",
    "appointmentType",
];

/// One schedule's row in the making.
struct Schedule {
    record: Record,
    /// The earliest free slot seen, and that slot's provider type.
    earliest: Option<(DateTime<Utc>, Option<String>)>,
}

pub async fn fetch(
    spec: &FhirSpec,
    client: &FhirClient,
    now: DateTime<Utc>,
    source_id: &str,
) -> anyhow::Result<Table> {
    let mut schedules = schedules(spec, client, source_id).await?;
    let horizon_end = now
        .checked_add_signed(spec.mapping.horizon)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut params = spec.search.clone();
    if !params.iter().any(|(k, _)| k == "status") {
        params.push(("status".to_owned(), "free".to_owned()));
    }
    params.push(("start".to_owned(), format!("ge{}", instant(now))));
    params.push(("start".to_owned(), format!("lt{}", instant(horizon_end))));
    let mut pages = client.search("Slot", &params);
    while let Some(page) = pages.next().await? {
        for slot in &page.matches {
            observe(slot, &mut schedules, now, horizon_end, &spec.mapping);
        }
    }
    let rows = schedules
        .into_values()
        .map(|schedule| finish(schedule, now, horizon_end, &spec.mapping))
        .collect();
    Ok(mapped::table(rows, spec, now, now))
}

/// The active Schedules by `Schedule/id`, each with its record so far.
async fn schedules(
    spec: &FhirSpec,
    client: &FhirClient,
    source_id: &str,
) -> anyhow::Result<BTreeMap<String, Schedule>> {
    let mut params = spec.schedule_search.clone();
    if !params.iter().any(|(k, _)| k == "active") {
        params.push(("active".to_owned(), "true".to_owned()));
    }
    params.extend(includes(spec, "Schedule", &params));
    let mut pages = client.search("Schedule", &params);
    let mut schedules = BTreeMap::new();
    while let Some(page) = pages.next().await? {
        for warning in &page.warnings {
            tracing::warn!(source = %source_id, page = page.number, warning = %warning, "fhir server warning");
        }
        let index = page_index(&page);
        for schedule in &page.matches {
            let id = schedule.get("id").and_then(Value::as_str);
            if schedule.get("active").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let Some(id) = id else { continue };
            let mut record = Record::new();
            let codings = codings_of(schedule, &CODED);
            let provider_type = spec
                .mapping
                .codes
                .first(CodeField::ProviderType, &codings)
                .or_else(|| {
                    resolve::referenced(schedule, "PractitionerRole", &index)
                        .into_iter()
                        .find_map(|role| {
                            let codings = codings_of(role, &["specialty", "code"]);
                            spec.mapping.codes.first(CodeField::ProviderType, &codings)
                        })
                });
            record.insert("provider_type".to_owned(), text_value(provider_type));
            for (name, source) in &spec.mapping.labels {
                record.insert(
                    name.clone(),
                    text_value(resolve::label(schedule, source, &index)),
                );
            }
            schedules.insert(
                format!("Schedule/{id}"),
                Schedule {
                    record,
                    earliest: None,
                },
            );
        }
    }
    Ok(schedules)
}

/// Notes a free slot's start on its schedule if it is the earliest yet.
fn observe(
    slot: &Value,
    schedules: &mut BTreeMap<String, Schedule>,
    now: DateTime<Utc>,
    horizon_end: DateTime<Utc>,
    mapping: &Mapping,
) {
    if slot.get("status").and_then(Value::as_str) != Some("free") {
        return;
    }
    let key = slot
        .pointer("/schedule/reference")
        .and_then(Value::as_str)
        .and_then(resolve::reference_key);
    let Some(schedule) = key.and_then(|key| schedules.get_mut(&key)) else {
        return;
    };
    let Some(start) = slot
        .get("start")
        .and_then(Value::as_str)
        .and_then(mapped::parse_instant)
        .filter(|start| *start >= now && *start < horizon_end)
    else {
        return;
    };
    if schedule
        .earliest
        .as_ref()
        .is_none_or(|(earliest, _)| start < *earliest)
    {
        let codings = codings_of(slot, &CODED);
        schedule.earliest = Some((
            start,
            mapping.codes.first(CodeField::ProviderType, &codings),
        ));
    }
}

fn finish(
    schedule: Schedule,
    now: DateTime<Utc>,
    horizon_end: DateTime<Utc>,
    mapping: &Mapping,
) -> Record {
    let Schedule {
        mut record,
        earliest,
    } = schedule;
    let (offer, slot_provider_type) = match earliest {
        Some((start, provider_type)) => (start, provider_type),
        None => (horizon_end, None),
    };
    if matches!(
        record.get("provider_type"),
        None | Some(crate::table::Value::Null)
    ) {
        let provider_type = slot_provider_type.or_else(|| mapping.default_provider_type.clone());
        record.insert("provider_type".to_owned(), text_value(provider_type));
    }
    record.insert("requested_at".to_owned(), text_value(Some(instant(now))));
    record.insert(
        "first_offered_at".to_owned(),
        text_value(Some(instant(offer))),
    );
    record.insert(
        "visit_type".to_owned(),
        text_value(Some("initial".to_owned())),
    );
    record.insert(
        "urgency".to_owned(),
        text_value(Some("non_urgent".to_owned())),
    );
    record
}

fn instant(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}
