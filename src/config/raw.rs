//! Stage one of the configuration: serde structs that mirror the TOML file
//! exactly, every value wrapped in [`Spanned`] so that stage two
//! ([`super::validate`]) can point at the line and column of a bad value.
//!
//! Enumerations (`tls`, `kind`, `op`, …) stay strings here so that a wrong
//! value gets a message listing the allowed ones instead of serde's generic
//! "unknown variant". Nothing here has defaults or meaning; that is stage two.
//!
//! Unknown keys are not rejected by serde (which would stop at the first):
//! [`super::load`] collects every ignored key with `serde_ignored` instead.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
pub struct RawDaemon {
    pub time_zone: Option<S<String>>,
    pub state_directory: Option<S<String>>,
    pub log_format: Option<S<String>>,
    pub log_filter: Option<S<String>>,
    pub schedule: Option<S<String>>,
    pub listen: Option<S<String>>,
    pub public_url: Option<S<String>>,
    pub backfill_on_first_start: Option<S<String>>,
    pub web: Option<RawWeb>,
}

/// `[daemon.web]`: who may read the pages and metrics, and TLS (as
/// Prometheus's web configuration has them).
#[derive(Debug, Default, Deserialize)]
pub struct RawWeb {
    pub basic_auth_users: Option<BTreeMap<String, S<String>>>,
    pub tls_cert_file: Option<S<String>>,
    pub tls_key_file: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawEmail {
    pub transport: Option<S<String>>,
    pub from: Option<S<String>>,
    pub subject_prefix: Option<S<String>>,
    pub message_id_domain: Option<S<String>>,
    // smtp
    pub host: Option<S<String>>,
    pub port: Option<S<i64>>,
    pub tls: Option<S<String>>,
    pub username: Option<S<String>>,
    pub password: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_credential: Option<S<String>>,
    pub ca_file: Option<S<String>>,
    pub timeout: Option<S<String>>,
    // file
    pub directory: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RawSource {
    pub id: Option<S<String>>,
    pub kind: Option<S<String>>,
    pub format: Option<S<String>>,
    pub records: Option<S<String>>,
    pub fields: Option<BTreeMap<String, S<String>>>,
    pub values: Option<BTreeMap<String, BTreeMap<String, S<String>>>>,
    pub time_field: Option<S<String>>,
    pub require_labels: Option<S<bool>>,
    pub max_stale: Option<S<String>>,
    pub csv_delimiter: Option<S<String>>,
    // file
    pub path: Option<S<String>>,
    // http
    pub url: Option<S<String>>,
    pub connect_timeout: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub retries: Option<S<i64>>,
    pub retry_backoff: Option<S<String>>,
    pub max_body_size: Option<S<String>>,
    pub bearer_token: Option<S<String>>,
    pub bearer_token_file: Option<S<String>>,
    pub bearer_token_env: Option<S<String>>,
    pub bearer_token_credential: Option<S<String>>,
    pub headers: Option<Vec<RawHeader>>,
    pub ca_file: Option<S<String>>,
    /// `[source.fhir]`, `[source.nppes]`, `[source.postgres]`: the keys of
    /// those kinds.
    pub fhir: Option<super::raw_fhir::RawFhir>,
    pub nppes: Option<super::raw_nppes::RawNppes>,
    pub postgres: Option<super::raw_postgres::RawPostgres>,
}

#[derive(Debug, Deserialize)]
pub struct RawHeader {
    pub name: Option<S<String>>,
    pub value: Option<S<String>>,
    pub value_file: Option<S<String>>,
    pub value_env: Option<S<String>>,
    pub value_credential: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RawCheck {
    pub id: Option<S<String>>,
    pub title: Option<S<String>>,
    pub kind: Option<S<String>>,
    pub source: Option<S<String>>,
    pub severity: Option<S<String>>,
    pub citation: Option<S<String>>,
    pub schedule: Option<S<String>>,
    pub time_zone: Option<S<String>>,
    pub group_by: Option<S<Vec<S<String>>>>,
    pub require_labels: Option<S<bool>>,
    pub metric: Option<S<String>>,
    pub op: Option<S<String>>,
    pub limit: Option<S<f64>>,
    // threshold
    pub field: Option<S<String>>,
    pub aggregate: Option<S<String>>,
    // ratio
    pub numerator: Option<S<String>>,
    pub denominator: Option<S<String>>,
    pub numerator_source: Option<S<String>>,
    // freshness
    pub max_age: Option<S<String>>,
    // timely_access
    pub standard: Option<S<String>>,
    pub target: Option<S<f64>>,
    pub in_force_from: Option<S<String>>,
    pub psychiatrists: Option<S<String>>,
    pub telehealth: Option<S<String>>,
    pub urgency: Option<S<String>>,
    pub visit_type: Option<S<String>>,
    pub prior_auth: Option<S<bool>>,
    pub provider_types: Option<S<Vec<S<String>>>>,
    pub calendar: Option<S<String>>,
    pub holidays: Option<S<Vec<S<String>>>>,
    pub holidays_file: Option<S<String>>,
    pub window: Option<S<String>>,
    pub max_rejected: Option<S<f64>>,
    // alerting
    #[serde(rename = "for")]
    pub for_: Option<S<String>>,
    pub clear_at: Option<S<f64>>,
    pub repeat_interval: Option<S<String>>,
    pub repeat_backoff: Option<S<f64>>,
    pub send_resolved: Option<S<bool>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawAlerting {
    #[serde(rename = "for")]
    pub for_: Option<S<String>>,
    pub repeat_interval: Option<S<String>>,
    pub repeat_backoff: Option<S<f64>>,
    pub send_resolved: Option<S<bool>>,
    pub max_stale: Option<S<String>>,
    pub undeliverable_after: Option<S<String>>,
    pub retention: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RawMaintenance {
    pub name: Option<S<String>>,
    pub start: Option<S<String>>,
    pub end: Option<S<String>>,
    pub time_zone: Option<S<String>>,
    pub checks: Option<S<Vec<S<String>>>>,
    pub labels: Option<BTreeMap<String, S<String>>>,
}

#[derive(Debug, Deserialize)]
pub struct RawRoute {
    pub name: Option<S<String>>,
    pub to: Option<S<Vec<S<String>>>>,
    pub checks: Option<S<Vec<S<String>>>>,
    pub severities: Option<S<Vec<S<String>>>>,
    pub labels: Option<BTreeMap<String, S<String>>>,
    pub fallback: Option<S<bool>>,
    pub escalate_after: Option<S<String>>,
    pub escalate_to: Option<S<String>>,
}
