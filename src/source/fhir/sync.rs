//! Reading a whole search into mapped records, and the incremental mirror
//! on `_lastUpdated` kept in the state store.
//!
//! With a store and `incremental = true`, the first sync fetches
//! everything and keeps each mapped row under its resource id; later
//! syncs add `_lastUpdated=gt<cursor>` (the newest `meta.lastUpdated`
//! seen, or the first sync's start when no resource had one) and merge:
//! changed resources replace their rows, resources that stopped being rows
//! (entered-in-error, inactive) are deleted. A search can not return
//! resources deleted on the server, so the mirror starts over with a full
//! sync every `full_sync_every`, and whenever the source's settings
//! changed (the cursor remembers a fingerprint of them).

use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client::FhirClient;
use super::mapped::{self, Mapped, Record};
use super::resolve::Index;
use super::{FhirSpec, RequestedFrom, ResourceKind, appointment, roster};
use crate::source::FetchContext;
use crate::state::Store;
use crate::table::Table;

/// What a whole search gave.
#[derive(Debug, Default)]
pub struct Collected {
    pub records: Vec<Mapped>,
    /// The newest `meta.lastUpdated` of the matches, parsed and as written.
    pub newest: Option<DateTime<Utc>>,
    pub newest_text: Option<String>,
}

/// `_include`s a mapping needs: the ServiceRequests of `basedOn`, and the
/// resources labels are read from (through standard R4 search
/// parameters). Ones the operator wrote already are not repeated.
pub fn includes(
    spec: &FhirSpec,
    resource_type: &str,
    given: &[(String, String)],
) -> Vec<(String, String)> {
    let mut wanted = Vec::new();
    if resource_type == "Appointment"
        && spec.mapping.requested_from == RequestedFrom::ServiceRequest
    {
        wanted.push("Appointment:based-on");
    }
    let sources = spec
        .mapping
        .labels
        .iter()
        .map(|(_, s)| s)
        .chain(spec.mapping.fte.as_ref());
    for source in sources {
        let Some(via) = source.via.as_deref() else {
            continue;
        };
        let include = match (resource_type, via) {
            ("Appointment", "Location") => "Appointment:location",
            ("PractitionerRole", "Location") => "PractitionerRole:location",
            ("PractitionerRole", "Organization") => "PractitionerRole:organization",
            ("PractitionerRole", "HealthcareService") => "PractitionerRole:service",
            ("Schedule", _) => "Schedule:actor",
            _ => continue,
        };
        wanted.push(include);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for include in wanted {
        let present = given
            .iter()
            .chain(&out)
            .any(|(k, v)| k == "_include" && v == include);
        if !present {
            out.push(("_include".to_owned(), include.to_owned()));
        }
    }
    out
}

/// Fetches every page of the search of `spec` with `params` and maps its
/// resources.
pub async fn collect(
    spec: &FhirSpec,
    client: &FhirClient,
    params: &[(String, String)],
    source_id: &str,
) -> anyhow::Result<Collected> {
    let resource_type = spec.resource.as_str();
    let mut params = params.to_vec();
    params.extend(includes(spec, resource_type, &params));
    let mut pages = client.search(resource_type, &params);
    let mut authored: HashMap<String, Option<String>> = HashMap::new();
    let mut collected = Collected::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    while let Some(page) = pages.next().await? {
        for warning in &page.warnings {
            tracing::warn!(source = %source_id, page = page.number, warning = %warning, "fhir server warning");
        }
        if spec.resource == ResourceKind::Appointment
            && spec.mapping.requested_from == RequestedFrom::ServiceRequest
        {
            let index = page_index(&page);
            let mut missing: Vec<String> = page
                .matches
                .iter()
                .flat_map(|a| appointment::service_requests(a).into_iter().take(1))
                .filter(|key| index.resolve(key, &serde_json::Value::Null).is_none())
                .filter(|key| !authored.contains_key(key))
                .collect();
            missing.sort();
            missing.dedup();
            if !missing.is_empty() {
                authored.extend(client.authored_on(&missing).await?);
            }
        }
        let index = page_index(&page);
        for resource in &page.matches {
            let row = match spec.resource {
                ResourceKind::Appointment => {
                    appointment::map(resource, &index, &authored, &spec.mapping)
                }
                _ => roster::map(resource, &index, &spec.mapping),
            };
            let last_updated = resource
                .pointer("/meta/lastUpdated")
                .and_then(serde_json::Value::as_str);
            if let Some(text) = last_updated
                && let Some(time) = mapped::parse_instant(text)
                && collected.newest.is_none_or(|newest| time > newest)
            {
                collected.newest = Some(time);
                collected.newest_text = Some(text.to_owned());
            }
            let mapped = Mapped {
                id: resource
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
                last_updated: last_updated.map(str::to_owned),
                row,
            };
            // A resource changed while the search was paged may come on
            // two pages; it is one row, the later version.
            match mapped.id.as_ref().and_then(|id| seen.get(id)) {
                Some(&at) => collected.records[at] = mapped,
                None => {
                    if let Some(id) = &mapped.id {
                        seen.insert(id.clone(), collected.records.len());
                    }
                    collected.records.push(mapped);
                }
            }
        }
    }
    Ok(collected)
}

pub fn page_index(page: &super::bundle::Page) -> Index<'_> {
    Index::new(
        page.matches
            .iter()
            .map(|r| (None, r))
            .chain(page.included.iter().map(|(url, r)| (url.as_deref(), r))),
    )
}

/// What the store keeps between syncs.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    fingerprint: String,
    last_updated: String,
    full_sync_at: DateTime<Utc>,
}

/// An incremental sync into `store`, and the table of every row kept.
pub async fn fetch(
    spec: &FhirSpec,
    client: &FhirClient,
    context: &FetchContext<'_>,
    store: &Store,
) -> anyhow::Result<Table> {
    let source_id = context.source.id.as_str();
    let now = context.now;
    let fingerprint = fingerprint(spec);
    let previous = store
        .cursor(source_id)?
        .and_then(|text| serde_json::from_str::<Cursor>(&text).ok())
        .filter(|c| {
            // A full sync due beyond the calendar is never due.
            let due = c.full_sync_at.checked_add_signed(spec.full_sync_every);
            c.fingerprint == fingerprint && due.is_none_or(|due| now < due)
        });
    let mut params = spec.search.clone();
    if let Some(cursor) = &previous {
        params.push((
            "_lastUpdated".to_owned(),
            format!("gt{}", cursor.last_updated),
        ));
    }
    let collected = collect(spec, client, &params, source_id).await?;
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for (position, mapped) in collected.records.iter().enumerate() {
        let Some(id) = &mapped.id else {
            anyhow::bail!(
                "resource {} of the {} search has no id, which an incremental sync needs: set incremental = false",
                position + 1,
                spec.resource.as_str()
            );
        };
        match &mapped.row {
            Some(row) => upserts.push((id.clone(), mapped::to_json(row))),
            None => deletes.push(id.clone()),
        }
    }
    let last_updated = match (&previous, collected.newest_text.clone()) {
        (_, Some(newest)) if newer(&newest, previous.as_ref()) => newest,
        (Some(cursor), _) => cursor.last_updated.clone(),
        (None, newest) => {
            newest.unwrap_or_else(|| now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }
    };
    let cursor = Cursor {
        fingerprint,
        last_updated,
        full_sync_at: previous.as_ref().map_or(now, |c| c.full_sync_at),
    };
    if previous.is_none() {
        store.forget_rows(source_id)?;
    }
    store.sync_rows(
        source_id,
        &upserts,
        &deletes,
        &serde_json::to_string(&cursor)?,
        now,
    )?;
    tracing::debug!(source = %source_id, full = previous.is_none(), changed = upserts.len(), deleted = deletes.len(), "fhir sync");
    let rows = store
        .rows(source_id)?
        .iter()
        .map(|text| mapped::from_json(text))
        .collect::<anyhow::Result<Vec<Record>>>()?;
    let data_time = mapped::parse_instant(&cursor.last_updated)
        .unwrap_or(now)
        .min(now);
    Ok(mapped::table(rows, spec, now, data_time))
}

fn newer(candidate: &str, previous: Option<&Cursor>) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    match (
        mapped::parse_instant(candidate),
        mapped::parse_instant(&previous.last_updated),
    ) {
        (Some(a), Some(b)) => a > b,
        _ => true,
    }
}

/// A digest of every setting that changes which rows a sync keeps: a
/// change makes the next sync a full one. Stable across runs (FNV-1a
/// over the settings' debug text, which holds no secrets: they print
/// masked).
fn fingerprint(spec: &FhirSpec) -> String {
    let settings = format!(
        "v1 {} {:?} {:?} {:?}",
        spec.base, spec.resource, spec.search, spec.mapping
    );
    struct Fnv(u64);
    impl std::hash::Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for byte in bytes {
                self.0 ^= u64::from(*byte);
                self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    settings.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
