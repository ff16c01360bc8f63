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
mod suggest;
mod validate;

pub use validate::{LONGEST_DURATION, parse_duration};

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

// The vocabulary the validators (`validate::*`, through `use
// crate::config::*`) assemble.
use crate::check::{
    Aggregate, Check, Comparison, Escalation, Maintenance, Op, Route, Rule, Secret, Severity,
};
use crate::logging::LogFormat;
use crate::notify::spec::{Email, Smtp, SmtpCredentials, TlsMode, Transport};
use crate::source::spec::{Header, HttpOptions, HttpSpec, Location, SourceSpec};
use crate::table::{Format, Layout};

pub const DEFAULT_PATH: &str = "/etc/accesswatch/accesswatch.toml";

/// Something of the file that only shows at run time, which
/// `check-config` looks at and warns about (never fails on): a file that
/// does not exist yet, a host name that does not resolve, a database that
/// does not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    File(PathBuf),
    /// A `*_credential` not read: `check-config` outside systemd, with no
    /// $CREDENTIALS_DIRECTORY (`key` is the secret's key, `name` the
    /// credential's).
    Credential {
        key: String,
        name: String,
    },
    Host {
        host: String,
        port: u16,
    },
    Database {
        host: String,
        port: u16,
    },
}

/// Where `*_credential` secrets are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `$CREDENTIALS_DIRECTORY`, which systemd sets; a missing one is an
    /// error (the daemon and `run`).
    Environment,
    /// A directory given on the command line
    /// (`check-config --credentials-directory`).
    Directory(PathBuf),
    /// `$CREDENTIALS_DIRECTORY` if set; otherwise not read, and reported
    /// (`check-config` run by hand).
    IfAvailable,
}

/// A [`Probe`] and where its value is written: `FILE:LINE:COL`.
#[derive(Debug, Clone)]
pub struct Located {
    pub at: String,
    pub probe: Probe,
}

#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    pub daemon: Daemon,
    pub email: Email,
    pub alerting: Alerting,
    pub sources: Vec<SourceSpec>,
    pub checks: Vec<Check>,
    /// What `check-config` checks beyond the text.
    pub probes: Vec<Located>,
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

#[derive(Debug)]
pub struct Daemon {
    pub time_zone: Tz,
    pub state_directory: PathBuf,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// Where to serve the status page, `/metrics` and `/healthz`; none by
    /// default.
    pub listen: Option<std::net::SocketAddr>,
    /// The status page's address as people reach it, for links in emails.
    pub public_url: Option<url::Url>,
    /// Who may read the pages and metrics, and TLS.
    pub web: Web,
    /// On a state file with no history yet, record this far back of
    /// weekly history from the sources before the first run.
    pub backfill_on_first_start: Option<chrono::Duration>,
}

/// `[daemon.web]`: users of the pages and metrics, and TLS.
#[derive(Debug, Clone, Default)]
pub struct Web {
    /// User name → bcrypt hash. Empty: no authentication (loopback only).
    pub users: BTreeMap<String, String>,
    /// PEM certificate chain and private key files.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Whether `hash` looks like a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, a
/// cost, 53 more characters): a password written here by mistake is
/// refused, never used.
pub fn is_bcrypt(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    hash.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && hash[7..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
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
        Config::load_with(path, &Credentials::Environment)
    }

    /// Reads and validates the file at `path`, reading systemd credentials
    /// as `credentials` says.
    pub fn load_with(path: &Path, credentials: &Credentials) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            lines: vec![format!(
                "{}: cannot read the configuration: {e}",
                path.display()
            )],
        })?;
        Config::from_text_with(path, &text, credentials)
    }

    /// Validates `text` as if read from `path` (which names the file in
    /// messages and anchors relative paths).
    pub fn from_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::from_text_with(path, text, &Credentials::Environment)
    }

    fn from_text_with(
        path: &Path,
        text: &str,
        credentials: &Credentials,
    ) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let base = path.parent().unwrap_or(Path::new("."));
        let mut probes = Vec::new();
        let config = load::parse(text, &mut problems).and_then(|raw| {
            validate::validate(raw, path, base, credentials, &mut problems, &mut probes)
        });
        match config {
            Some(mut config) if problems.is_empty() => {
                config.probes = probes
                    .into_iter()
                    .map(|(span, probe)| {
                        let (line, column) = line_column(text, span.start);
                        Located {
                            at: format!("{}:{line}:{column}", path.display()),
                            probe,
                        }
                    })
                    .collect();
                Ok(config)
            }
            _ => Err(ConfigError::new(path, text, problems)),
        }
    }

    pub fn source(&self, id: &str) -> Option<&SourceSpec> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// What recording a run needs of this configuration.
    pub fn record_setup(&self) -> crate::alerts::record::Setup<'_> {
        crate::alerts::record::Setup {
            checks: &self.checks,
            routes: &self.routes,
            maintenance: &self.maintenance,
            sources: &self.sources,
            subject_prefix: &self.email.subject_prefix,
            message_id_domain: &self.email.message_id_domain,
            public_url: self.daemon.public_url.as_ref().map(|u| u.as_str()),
            time_zone: self.daemon.time_zone,
            retention: self.alerting.retention,
        }
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
