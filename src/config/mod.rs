//! The configuration: one TOML file, read in two stages.
//!
//! Stage one ([`load`], [`raw`]) reads the text into serde structs that
//! mirror the file, keeping the span of every value. Stage two
//! ([`validate`]) turns them into the types below, in which every value has
//! been checked and parsed: schedules, time zones, URLs, durations, email
//! addresses and secrets. There is no `Option` here that "must be `Some` at
//! run time". Both stages report every problem they find, each as
//! `FILE:LINE:COL: message`, so the operator fixes them in one pass.
//!
//! Relative paths in the file are resolved against the file's directory.

mod load;
mod raw;
pub mod raw_fhir;
pub mod raw_nppes;
pub mod raw_postgres;
pub mod secret;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use crate::schedule::Schedule;
pub use secret::Secret;

pub const DEFAULT_PATH: &str = "/etc/accesswatch/accesswatch.toml";

#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    pub daemon: Daemon,
    pub email: Email,
    pub alerting: Alerting,
    pub sources: Vec<SourceSpec>,
    pub checks: Vec<Check>,
    pub routes: Vec<Route>,
    pub maintenance: Vec<Maintenance>,
}

/// `[alerting]` settings that are not per check.
#[derive(Debug, Clone)]
pub struct Alerting {
    /// An email still unsent after this long is reported as undeliverable
    /// (and kept, and still retried).
    pub undeliverable_after: chrono::Duration,
    /// Evaluation results older than this are pruned from the state store.
    pub retention: chrono::Duration,
}

/// A window in which notifications are held back.
#[derive(Debug, Clone)]
pub struct Maintenance {
    pub name: String,
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
    /// Empty: every check.
    pub checks: Vec<String>,
    /// Every label listed must have this value.
    pub labels: BTreeMap<String, String>,
}

impl Maintenance {
    pub fn covers(
        &self,
        check_id: &str,
        labels: &BTreeMap<String, String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        self.start <= now
            && now < self.end
            && (self.checks.is_empty() || self.checks.iter().any(|c| c == check_id))
            && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

#[derive(Debug)]
pub struct Daemon {
    pub time_zone: Tz,
    pub state_directory: PathBuf,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// Where to serve `/metrics` and `/healthz`; none by default.
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, text when it is.
    Auto,
    Json,
    Text,
}

#[derive(Debug)]
pub struct Email {
    pub from: String,
    pub subject_prefix: String,
    pub transport: Transport,
}

#[derive(Debug)]
pub enum Transport {
    Smtp(Smtp),
    /// Writes each message as an `.eml` file into the directory.
    File {
        directory: PathBuf,
    },
}

#[derive(Debug)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<SmtpCredentials>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Starttls,
    Implicit,
    None,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Starttls => "starttls",
            TlsMode::Implicit => "implicit",
            TlsMode::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub id: String,
    pub location: Location,
    /// `None`: guessed from the file extension or the HTTP content type.
    pub format: Option<Format>,
    /// JSON pointer to the array of records (JSON only); the document root
    /// when absent.
    pub records: Option<String>,
    /// Name used by checks → name (or JSON pointer) in the source.
    pub fields: BTreeMap<String, String>,
    /// Canonical field → (source value → canonical value).
    pub values: std::sync::Arc<crate::waittime::record::ValueMaps>,
    /// Field holding the time the data describes; the fetch time otherwise.
    pub time_field: Option<String>,
    /// Failing for longer than this raises a "data unavailable" alert.
    pub max_stale: chrono::Duration,
    pub csv_delimiter: u8,
}

#[derive(Debug, Clone)]
pub enum Location {
    File(PathBuf),
    Http(HttpSpec),
    Fhir(Box<crate::source::fhir::FhirSpec>),
    Nppes(Box<crate::source::nppes::NppesSpec>),
    Postgres(Box<crate::source::postgres::PostgresSpec>),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Ndjson,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub citation: Option<String>,
    pub source: String,
    pub group_by: Vec<String>,
    /// What the value measures, for subjects: "members per therapist".
    pub metric: String,
    pub rule: Rule,
    pub comparison: Comparison,
    pub schedule: Schedule,
    /// When to fire and how often to remind.
    pub policy: crate::alerts::Policy,
    /// Recovery threshold: a firing alert resolves only once the value is
    /// on the healthy side of this too.
    pub clear_at: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Rule {
    Threshold {
        field: String,
        aggregate: Aggregate,
    },
    Ratio {
        numerator: String,
        denominator: String,
        /// Where the numerator comes from when not from `source` (members
        /// from the enrollment system, clinicians from the directory);
        /// the two are joined on the group labels.
        numerator_source: Option<String>,
    },
    /// How old the newest record is, in hours: `field` per group, or the
    /// source's own data time.
    Freshness {
        field: Option<String>,
    },
    /// Appointment wait times against a standard of the catalog.
    TimelyAccess(Box<crate::waittime::WaitRule>),
}

/// How a threshold check combines several rows of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// The row farthest on the wrong side of the limit decides.
    Worst,
    Sum,
    Mean,
    Min,
    Max,
    /// The number of rows.
    Count,
}

/// The condition a healthy value satisfies: `value op limit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub op: Op,
    pub limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub to: Vec<String>,
    /// Empty: every check.
    pub checks: Vec<String>,
    /// Empty: every severity.
    pub severities: Vec<Severity>,
    /// Every label listed must have exactly this value.
    pub labels: BTreeMap<String, String>,
}

/// One thing wrong with the file, at a byte range of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub span: Range<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Problem {
        Problem {
            span,
            message: message.into(),
        }
    }
}

/// Every problem found in one file, printed one per line as
/// `FILE:LINE:COL: message`.
#[derive(Debug)]
pub struct ConfigError {
    pub lines: Vec<String>,
}

impl ConfigError {
    fn new(path: &Path, text: &str, mut problems: Vec<Problem>) -> ConfigError {
        problems.sort_by_key(|p| p.span.start);
        let lines = problems
            .into_iter()
            .map(|p| {
                let (line, column) = line_column(text, p.span.start);
                format!("{}:{line}:{column}: {}", path.display(), p.message)
            })
            .collect();
        ConfigError { lines }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            lines: vec![format!(
                "{}: cannot read the configuration: {e}",
                path.display()
            )],
        })?;
        Config::from_text(path, &text)
    }

    /// Validates `text` as if read from `path` (which names the file in
    /// messages and anchors relative paths).
    pub fn from_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let base = path.parent().unwrap_or(Path::new("."));
        let config = load::parse(text, &mut problems)
            .and_then(|raw| validate::validate(raw, path, base, &mut problems));
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError::new(path, text, problems)),
        }
    }

    pub fn source(&self, id: &str) -> Option<&SourceSpec> {
        self.sources.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, 1000), (3, 1));
    }
}
