//! What a source is, as the configuration describes it: where it lives
//! ([`Location`]), how its records are read ([`SourceSpec`]) and how HTTP
//! servers are talked to ([`HttpOptions`]). `config` assembles these;
//! `source` fetches them.

use std::path::PathBuf;
use std::time::Duration;

use super::fhir::FhirSpec;
use super::nppes::NppesSpec;
use super::postgres::PostgresSpec;
use crate::check::Secret;
use crate::check::fields::ValueMaps;
use crate::table::{Format, Layout};

#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub id: String,
    pub location: Location,
    /// `None`: guessed from the file extension or the HTTP content type.
    pub format: Option<Format>,
    /// The field mapping and the format's options.
    pub layout: Layout,
    /// Canonical field → (source value → canonical value).
    pub values: std::sync::Arc<ValueMaps>,
    /// Field holding the time the data describes; the fetch time otherwise.
    pub time_field: Option<String>,
    /// Failing for longer than this raises a "data unavailable" alert.
    pub max_stale: chrono::Duration,
}

impl SourceSpec {
    /// Where the data time of this source comes from when no field of the
    /// data gives it: `None` when `time_field` is set, or when the source
    /// reads it from the records (FHIR `meta.lastUpdated`, NPPES).
    pub fn data_time_origin(&self) -> Option<&'static str> {
        if self.time_field.is_some() {
            return None;
        }
        match self.location {
            Location::File(_) => Some("file modified"),
            Location::Http(_) => Some("Last-Modified or fetched"),
            Location::Postgres(_) => Some("fetched"),
            Location::Fhir(_) | Location::Nppes(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Location {
    File(PathBuf),
    Http(HttpSpec),
    Fhir(Box<FhirSpec>),
    Nppes(Box<NppesSpec>),
    Postgres(Box<PostgresSpec>),
}

#[derive(Debug, Clone)]
pub struct HttpSpec {
    pub url: url::Url,
    pub options: HttpOptions,
}

/// How every HTTP-based source talks to its server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub max_body_size: u64,
    pub headers: Vec<Header>,
    /// PEM bundle of extra CA certificates to trust.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub name: String,
    pub value: Secret,
}
