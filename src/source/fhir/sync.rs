//! A search mapped page by page ([`pages`]): read whole into mapped
//! records ([`collect`]), or folded page by page ([`fold`]); and the
//! incremental mirror on `_lastUpdated` kept in the state store, written
//! and read back in batches ([`fetch`], [`fold_mirror`]).
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

use std::collections::{HashMap, HashSet};
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
    pub newest: Newest,
}

/// The newest `meta.lastUpdated` of a search's matches, parsed and as
/// written.
#[derive(Debug, Default)]
pub struct Newest {
    pub time: Option<DateTime<Utc>>,
    pub text: Option<String>,
}

impl Newest {
    fn see(&mut self, text: &str) {
        if let Some(time) = mapped::parse_instant(text)
            && self.time.is_none_or(|newest| time > newest)
        {
            self.time = Some(time);
            self.text = Some(text.to_owned());
        }
    }
}

/// Resources mapped before the mirror or a fold takes them: a batch.
pub const BATCH: usize = 5_000;

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

/// Fetches the pages of the search of `spec` with `params` one at a time
/// and hands each page's mapped resources to `each`, in order, before the
/// next page is fetched: a page is dropped once mapped. ServiceRequests
/// a page refers to but does not include are fetched for that page.
pub async fn pages(
    spec: &FhirSpec,
    client: &FhirClient,
    params: &[(String, String)],
    source_id: &str,
    mut each: impl FnMut(Vec<Mapped>) -> anyhow::Result<()>,
) -> anyhow::Result<Newest> {
    let resource_type = spec.resource.as_str();
    let mut params = params.to_vec();
    params.extend(includes(spec, resource_type, &params));
    let mut pages = client.search(resource_type, &params);
    let mut newest = Newest::default();
    while let Some(page) = pages.next().await? {
        for warning in &page.warnings {
            tracing::warn!(source = %source_id, page = page.number, warning = %warning, "fhir server warning");
        }
        let mut authored: HashMap<String, Option<String>> = HashMap::new();
        if spec.resource == ResourceKind::Appointment
            && spec.mapping.requested_from == RequestedFrom::ServiceRequest
        {
            let index = page_index(&page);
            let mut missing: Vec<String> = page
                .matches
                .iter()
                .flat_map(|a| appointment::service_requests(a).into_iter().take(1))
                .filter(|key| index.resolve(key, &serde_json::Value::Null).is_none())
                .collect();
            missing.sort();
            missing.dedup();
            if !missing.is_empty() {
                authored = client.authored_on(&missing).await?;
            }
        }
        let index = page_index(&page);
        let mut records = Vec::with_capacity(page.matches.len());
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
            if let Some(text) = last_updated {
                newest.see(text);
            }
            records.push(Mapped {
                id: resource
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
                last_updated: last_updated.map(str::to_owned),
                row,
            });
        }
        drop(index);
        drop(page);
        each(records)?;
    }
    Ok(newest)
}

/// Fetches every page of the search of `spec` with `params` and maps its
/// resources.
pub async fn collect(
    spec: &FhirSpec,
    client: &FhirClient,
    params: &[(String, String)],
    source_id: &str,
) -> anyhow::Result<Collected> {
    let mut records: Vec<Mapped> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let newest = pages(spec, client, params, source_id, |page| {
        for mapped in page {
            // A resource changed while the search was paged may come on
            // two pages; it is one row, the later version.
            match mapped.id.as_ref().and_then(|id| seen.get(id)) {
                Some(&at) => records[at] = mapped,
                None => {
                    if let Some(id) = &mapped.id {
                        seen.insert(id.clone(), records.len());
                    }
                    records.push(mapped);
                }
            }
        }
        Ok(())
    })
    .await?;
    Ok(Collected { records, newest })
}

/// How often a search is started again when a resource comes twice.
pub const SEARCH_TRIES: u32 = 3;

/// Folds the rows of the whole search of `spec` page by page, each page
/// mapped, folded and dropped ([`mapped::Rows`]); `start` makes the fold
/// from the rows' columns. A resource that comes twice (it changed while
/// the search was paged) cannot be taken back out of a fold: the search
/// starts again with a new fold, up to [`SEARCH_TRIES`] times. Also gives
/// the data time, the newest `meta.lastUpdated` (else `now`).
pub async fn fold<T>(
    spec: &FhirSpec,
    client: &FhirClient,
    context: &FetchContext<'_>,
    start: impl Fn(&[String]) -> T,
    add: &mut impl FnMut(&mut T, u64, &Vec<Option<String>>),
) -> anyhow::Result<(T, DateTime<Utc>)> {
    let source_id = context.source.id.as_str();
    for _ in 0..SEARCH_TRIES {
        let mut rows = mapped::Rows::new(spec, context.now);
        let mut fold = start(rows.header());
        let mut ids: HashSet<u64> = HashSet::new();
        let mut repeated = false;
        let mut folded = |number: u64, cells: &Vec<Option<String>>| add(&mut fold, number, cells);
        let newest = pages(spec, client, &spec.search, source_id, |page| {
            for mapped in page {
                if let Some(id) = &mapped.id
                    && !ids.insert(id_hash(id))
                {
                    repeated = true;
                    anyhow::bail!("a resource came twice");
                }
                if let Some(row) = mapped.row {
                    rows.push(row, &mut folded);
                }
            }
            Ok(())
        })
        .await;
        let newest = match newest {
            Err(_) if repeated => {
                tracing::info!(source = %source_id, "a resource came twice in the search (it changed while paged): searching again");
                continue;
            }
            other => other?,
        };
        rows.finish(&mut folded);
        return Ok((fold, newest.time.unwrap_or(context.now)));
    }
    anyhow::bail!(
        "the {} search returned a resource twice on each of {SEARCH_TRIES} tries: resources change while it is paged; \
         set incremental = true (the mirror keeps one row per resource) or narrow the search",
        spec.resource.as_str()
    )
}

/// A resource id as a 64-bit hash (SipHash with fixed keys: the same in
/// every run), which is all [`fold`] keeps of it.
fn id_hash(id: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
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
    let data_time = sync(spec, client, context, store).await?;
    let rows = store
        .rows(&context.source.id)?
        .iter()
        .map(|text| mapped::from_json(text))
        .collect::<anyhow::Result<Vec<Record>>>()?;
    Ok(mapped::table(rows, spec, context.now, data_time))
}

/// An incremental sync into `store`, then every row kept folded, read
/// from the store [`BATCH`] at a time ([`mapped::Rows`], as [`fold`]).
pub async fn fold_mirror<T>(
    spec: &FhirSpec,
    client: &FhirClient,
    context: &FetchContext<'_>,
    store: &Store,
    start: impl Fn(&[String]) -> T,
    add: &mut impl FnMut(&mut T, u64, &Vec<Option<String>>),
) -> anyhow::Result<(T, DateTime<Utc>)> {
    let data_time = sync(spec, client, context, store).await?;
    let mut rows = mapped::Rows::new(spec, context.now);
    let mut fold = start(rows.header());
    let mut folded = |number: u64, cells: &Vec<Option<String>>| add(&mut fold, number, cells);
    let mut after = String::new();
    loop {
        let batch = store.rows_after(&context.source.id, &after, BATCH as u32)?;
        let Some((last, _)) = batch.last() else { break };
        after.clone_from(last);
        for (_, text) in &batch {
            rows.push(mapped::from_json(text)?, &mut folded);
        }
    }
    rows.finish(&mut folded);
    Ok((fold, data_time))
}

/// Syncs the mirror of `spec` in `store`: what changed since the cursor
/// (everything, on a full sync), written [`BATCH`] changes at a time as
/// the pages come, then the new cursor. A sync cut short leaves the old
/// cursor (a full sync: none), so the next one fetches those changes
/// again. Gives the data time: the cursor's `_lastUpdated`, at most `now`.
async fn sync(
    spec: &FhirSpec,
    client: &FhirClient,
    context: &FetchContext<'_>,
    store: &Store,
) -> anyhow::Result<DateTime<Utc>> {
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
    // A full sync starts the mirror over, with the first batch.
    let mut forget = previous.is_none();
    let mut changes: Vec<(String, Option<String>)> = Vec::new();
    let (mut position, mut changed, mut deleted) = (0usize, 0usize, 0usize);
    let mut write = |changes: &mut Vec<(String, Option<String>)>| -> anyhow::Result<()> {
        if std::mem::take(&mut forget) {
            store.forget_rows(source_id)?;
        }
        store.mirror_rows(source_id, changes)?;
        changes.clear();
        Ok(())
    };
    let newest = pages(spec, client, &params, source_id, |page| {
        for mapped in page {
            position += 1;
            let Some(id) = mapped.id else {
                anyhow::bail!(
                    "resource {position} of the {} search has no id, which an incremental sync needs: set incremental = false",
                    spec.resource.as_str()
                );
            };
            match &mapped.row {
                Some(_) => changed += 1,
                None => deleted += 1,
            }
            changes.push((id, mapped.row.as_ref().map(mapped::to_json)));
        }
        if changes.len() >= BATCH {
            write(&mut changes)?;
        }
        Ok(())
    })
    .await?;
    write(&mut changes)?;
    let last_updated = match (&previous, newest.text) {
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
    store.set_cursor(source_id, &serde_json::to_string(&cursor)?, now)?;
    tracing::debug!(source = %source_id, full = previous.is_none(), changed, deleted, "fhir sync");
    Ok(mapped::parse_instant(&cursor.last_updated)
        .unwrap_or(now)
        .min(now))
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
