//! Sources of kind "fhir": FHIR R4 searches turned into tables.
//!
//! Three resource types are understood, each with its own mapping to the
//! rows checks read:
//! - `Appointment` → appointment requests for `timely_access` checks
//!   ([`appointment`]);
//! - `Slot` → one row per Schedule with its next free slot, the "next
//!   available appointment" a secret-shopper survey measures ([`slot`]);
//! - `PractitionerRole` (Da Vinci PDex Plan-Net) → a roster with
//!   behavioral-health categories by NUCC taxonomy code ([`roster`]).
//!
//! [`client`] does the talking (token, paging by `next` links, limits),
//! [`bundle`] checks each page, [`resolve`] follows references into the
//! Bundle's included resources for labels, [`codes`] and [`nucc`] hold the
//! code maps, and [`sync`] keeps an incremental mirror in the state store
//! (`_lastUpdated`). This module ties them together and turns mapped
//! records into a [`Table`] ([`records`]).
//!
//! No member data leaves a fetch: rows carry canonical fields, codes and
//! labels of organizations and places, never a patient reference, a name
//! or an identifier; errors name page and entry numbers, not contents. A
//! resource id is used only as the key of a mirrored row.

pub mod appointment;
pub mod bundle;
pub mod client;
pub mod codes;
pub mod mapped;
pub mod nucc;
pub mod resolve;
pub mod roster;
pub mod slot;
pub mod sync;
#[cfg(test)]
mod tests;

use crate::check::Secret;
use crate::source::spec::HttpOptions;
use crate::table::Table;

use super::FetchContext;
pub use codes::CodeMaps;
pub use resolve::LabelSource;

/// A validated `[[source]]` of kind "fhir".
#[derive(Debug, Clone)]
pub struct FhirSpec {
    /// The server's base URL (`url`), without query or credentials.
    pub base: url::Url,
    pub http: HttpOptions,
    /// Client credentials for a token endpoint, when the source uses them
    /// instead of (or besides) a fixed bearer token.
    pub auth: Option<ClientCredentials>,
    pub resource: ResourceKind,
    /// Search parameters in the order given (a key may repeat).
    pub search: Vec<(String, String)>,
    /// Extra parameters of the Schedule search of a Slot source.
    pub schedule_search: Vec<(String, String)>,
    /// `_count`: a hint to the server, which may clamp it.
    pub count: Option<u32>,
    pub max_pages: u32,
    pub incremental: bool,
    /// How often an incremental source fetches everything again, which is
    /// how it learns about resources deleted on the server.
    pub full_sync_every: chrono::Duration,
    pub mapping: Mapping,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Appointment,
    Slot,
    PractitionerRole,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Appointment => "Appointment",
            ResourceKind::Slot => "Slot",
            ResourceKind::PractitionerRole => "PractitionerRole",
        }
    }
}

/// OAuth 2.0 client credentials (SMART backend services with a client
/// secret): POST `grant_type=client_credentials` with HTTP basic
/// authentication to `token_url`.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub token_url: url::Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scope: Option<String>,
}

/// Where an Appointment's request time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum RequestedFrom {
    /// `Appointment.created`.
    #[default]
    Created,
    /// `authoredOn` of the ServiceRequest in `Appointment.basedOn`; the
    /// appointments of one ServiceRequest are one request.
    ServiceRequest,
}

/// How resources become rows.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub codes: CodeMaps,
    /// Label name → where its value comes from, in the order given.
    pub labels: Vec<(String, LabelSource)>,
    pub requested_from: RequestedFrom,
    /// R4 `Appointment.priority` from 1 to this is urgent (iCalendar: 1 is
    /// the highest priority, 1 to 4 are "high"); 0 means undefined.
    pub urgent_priority: u32,
    pub default_visit_type: Option<String>,
    pub default_provider_type: Option<String>,
    pub default_urgency: Option<String>,
    /// Slot sources: how far ahead free slots are looked for.
    pub horizon: chrono::Duration,
    /// PractitionerRole sources: where a role's FTE is read; 1.0 without.
    pub fte: Option<LabelSource>,
}

impl Default for Mapping {
    fn default() -> Mapping {
        Mapping {
            codes: CodeMaps::default(),
            labels: Vec::new(),
            requested_from: RequestedFrom::Created,
            urgent_priority: 4,
            default_visit_type: None,
            default_provider_type: None,
            default_urgency: Some("non_urgent".to_owned()),
            horizon: chrono::Duration::days(60),
            fte: None,
        }
    }
}

impl FhirSpec {
    /// Where the data comes from, for `check-config` (no credentials).
    pub fn describe(&self) -> String {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(self.resource.as_str());
        }
        let mut text = super::http::display_url(&url);
        if self.incremental {
            text.push_str(" (incremental)");
        }
        text
    }
}

/// Fetches the source: the whole search, or with a state store and
/// `incremental = true`, what changed since the last sync merged into the
/// rows kept from before.
pub async fn fetch(spec: &FhirSpec, context: &FetchContext<'_>) -> anyhow::Result<Table> {
    let client = client::FhirClient::connect(spec).await?;
    let result = match spec.resource {
        ResourceKind::Slot => slot::fetch(spec, &client, context.now, &context.source.id).await,
        _ => match context
            .store
            .filter(|store| spec.incremental && store.writable())
        {
            Some(store) => sync::fetch(spec, &client, context, store).await,
            None => {
                let collected =
                    sync::collect(spec, &client, &spec.search, &context.source.id).await?;
                let data_time = collected.newest.time.unwrap_or(context.now);
                let rows = collected
                    .records
                    .into_iter()
                    .filter_map(|m| m.row)
                    .collect();
                Ok(mapped::table(rows, spec, context.now, data_time))
            }
        },
    };
    if result.is_err() {
        // A rejected token is the likeliest cause of a failed search; the
        // next fetch asks for a fresh one.
        client.forget_token(spec);
    }
    result
}

/// Folds the rows of an Appointment or PractitionerRole source page by
/// page instead of making a table: the search's ([`sync::fold`]), or with
/// a state store and `incremental = true` the mirror's after a sync
/// ([`sync::fold_mirror`]). `start` makes the fold from the rows'
/// columns (and again if the search must start over); `add` takes each
/// row with its number. Also gives the data time.
pub async fn fold<T>(
    spec: &FhirSpec,
    context: &FetchContext<'_>,
    start: impl Fn(&[String]) -> T,
    mut add: impl FnMut(&mut T, u64, &Vec<Option<String>>),
) -> anyhow::Result<(T, chrono::DateTime<chrono::Utc>)> {
    anyhow::ensure!(
        spec.resource != ResourceKind::Slot,
        "a Slot source is read whole (one row per schedule)"
    );
    let client = client::FhirClient::connect(spec).await?;
    let result = match context
        .store
        .filter(|store| spec.incremental && store.writable())
    {
        Some(store) => sync::fold_mirror(spec, &client, context, store, start, &mut add).await,
        None => sync::fold(spec, &client, context, start, &mut add).await,
    };
    if result.is_err() {
        client.forget_token(spec);
    }
    result
}
