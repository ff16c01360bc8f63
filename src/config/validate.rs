//! Stage two: from the raw structs to the validated [`Config`].
//!
//! Every rule lives here, and every failed rule becomes one [`Problem`]
//! that names the key and says what to change. Validation goes on after a
//! problem so that all of them are reported together. Secrets are read here
//! (files, environment, systemd credentials), so `check-config` proves they
//! can be read.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;

use super::load::{Entry, RawConfig};
use super::raw::{RawCheck, RawDaemon, RawEmail, RawHeader, RawRoute, RawSource, S};
use super::secret::{Secret, SecretSource};
use super::*;
use crate::notify::mail as address;
use crate::schedule::Schedule;

pub const DEFAULT_SCHEDULE: &str = "0 6 * * *";
const DEFAULT_STATE_DIRECTORY: &str = "/var/lib/accesswatch";

struct Validator<'a> {
    problems: &'a mut Vec<Problem>,
    base: &'a Path,
    /// Keys of the entry being validated whose value had the wrong type:
    /// already reported in stage one, so not "missing" here.
    broken: BTreeSet<String>,
}

impl Validator<'_> {
    fn problem(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems.push(Problem::new(span, message));
    }

    fn required<'v, T>(
        &mut self,
        value: &'v Option<S<T>>,
        entry_span: &Range<usize>,
        what: &str,
    ) -> Option<&'v S<T>> {
        let key = what.split('`').nth(1).unwrap_or_default();
        if value.is_none() && !self.broken.contains(key) {
            self.problem(entry_span.clone(), format!("missing key {what}"));
        }
        value.as_ref()
    }

    /// A string from a fixed set, with a message listing the set.
    fn choice<T: Copy>(
        &mut self,
        value: &S<String>,
        key: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let found = options.iter().find(|(name, _)| *name == value.get_ref());
        if found.is_none() {
            let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            self.problem(
                value.span(),
                format!(
                    "`{key}` must be one of {}; got {:?}",
                    names.join(", "),
                    value.get_ref()
                ),
            );
        }
        found.map(|(_, v)| *v)
    }

    fn non_empty(&mut self, value: &S<String>, key: &str) -> Option<String> {
        if value.get_ref().trim().is_empty() {
            self.problem(value.span(), format!("`{key}` must not be empty"));
            return None;
        }
        Some(value.get_ref().clone())
    }

    fn duration(&mut self, value: &Option<S<String>>, key: &str, default: Duration) -> Duration {
        let Some(value) = value else { return default };
        match humantime::parse_duration(value.get_ref()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.problem(value.span(), format!("`{key}` must be longer than zero"));
                default
            }
            Err(e) => {
                self.problem(
                    value.span(),
                    format!(
                        "`{key}` is not a duration ({e}): write it like \"30s\", \"5m\" or \"1h 30m\""
                    ),
                );
                default
            }
        }
    }

    fn path(&self, value: &str) -> PathBuf {
        self.base.join(value)
    }

    fn time_zone(&mut self, value: &S<String>, key: &str) -> Option<Tz> {
        match Tz::from_str(value.get_ref()) {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.problem(
                    value.span(),
                    format!(
                        "`{key}` {:?} is not an IANA time zone: write it like \"America/Los_Angeles\" or \"UTC\"",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn schedule(&mut self, value: &S<String>, key: &str, tz: Tz) -> Option<Schedule> {
        match Schedule::parse(value.get_ref(), tz) {
            Ok(s) => Some(s),
            Err(e) => {
                self.problem(value.span(), format!("`{key}`: {e}"));
                None
            }
        }
    }

    /// A secret given by exactly one of `NAME_file`, `NAME_env` or
    /// `NAME_credential`. `inline` is the plain `NAME` key, which is refused
    /// for secrets so that they never sit in a world-readable config file.
    fn secret(
        &mut self,
        name: &str,
        inline: Option<&S<String>>,
        file: &Option<S<String>>,
        env: &Option<S<String>>,
        credential: &Option<S<String>>,
    ) -> Option<Secret> {
        if let Some(inline) = inline {
            self.problem(
                inline.span(),
                format!(
                    "`{name}` must not be written in the configuration file: \
                     use {name}_file, {name}_env or {name}_credential (systemd LoadCredential)"
                ),
            );
        }
        let given: Vec<(&S<String>, SecretSource)> = [
            file.as_ref()
                .map(|v| (v, SecretSource::File(Path::new(v.get_ref())))),
            env.as_ref()
                .map(|v| (v, SecretSource::Env(v.get_ref().as_str()))),
            credential
                .as_ref()
                .map(|v| (v, SecretSource::Credential(v.get_ref().as_str()))),
        ]
        .into_iter()
        .flatten()
        .collect();
        match given.as_slice() {
            [] => None,
            [(value, source)] => {
                let source = match source {
                    SecretSource::File(p) => SecretSource::File(&self.base.join(p)).read(),
                    other => other.read(),
                };
                match source {
                    Ok(secret) => Some(secret),
                    Err(e) => {
                        self.problem(value.span(), format!("{name}: {e}"));
                        None
                    }
                }
            }
            [_, (second, _), ..] => {
                self.problem(
                    second.span(),
                    format!("give only one of {name}_file, {name}_env and {name}_credential"),
                );
                None
            }
        }
    }
}

pub fn validate(
    raw: RawConfig,
    path: &Path,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<Config> {
    let mut v = Validator {
        problems,
        base,
        broken: BTreeSet::new(),
    };
    let daemon = daemon(&mut v, raw.daemon.as_ref());
    let default_schedule = match raw.daemon.as_ref().and_then(|d| d.value.schedule.as_ref()) {
        Some(value) => v.schedule(value, "schedule", daemon.time_zone),
        None => Schedule::parse(DEFAULT_SCHEDULE, daemon.time_zone).ok(),
    };
    let email = match &raw.email {
        Some(entry) => email(&mut v, entry),
        None if raw.sections.contains("email") => None,
        None => {
            v.problem(0..0, "missing section [email]: add one with `from` and the SMTP host (or transport = \"file\")");
            None
        }
    };
    let mut sources = Vec::new();
    let mut source_ids = BTreeSet::new();
    for entry in &raw.sources {
        if let Some(source) = source(&mut v, entry) {
            if !source_ids.insert(source.id.clone()) {
                let span = entry.value.id.as_ref().map_or(entry.span.clone(), S::span);
                v.problem(
                    span,
                    format!(
                        "source id {:?} is used twice: ids must be unique",
                        source.id
                    ),
                );
            }
            sources.push(source);
        }
    }
    let known_sources: BTreeSet<&str> = raw
        .sources
        .iter()
        .filter_map(|s| s.value.id.as_ref().map(|id| id.get_ref().as_str()))
        .chain(raw.broken_source_ids.iter().map(String::as_str))
        .collect();
    let mut checks = Vec::new();
    let mut check_ids = BTreeSet::new();
    for entry in &raw.checks {
        let check = check(
            &mut v,
            entry,
            &known_sources,
            daemon.time_zone,
            default_schedule.as_ref(),
        );
        if let Some(check) = check {
            if !check_ids.insert(check.id.clone()) {
                let span = entry.value.id.as_ref().map_or(entry.span.clone(), S::span);
                v.problem(
                    span,
                    format!("check id {:?} is used twice: ids must be unique", check.id),
                );
            }
            checks.push(check);
        }
    }
    let all_check_ids: BTreeSet<&str> = raw
        .checks
        .iter()
        .filter_map(|c| c.value.id.as_ref().map(|id| id.get_ref().as_str()))
        .collect();
    let mut routes = Vec::new();
    for entry in &raw.routes {
        routes.extend(route(&mut v, entry, &all_check_ids));
    }
    if !raw.checks.is_empty() && raw.routes.is_empty() {
        v.problem(
            raw.checks[0].span.clone(),
            "there are checks but no [[route]]: their alerts would reach nobody; \
             add a [[route]] with `to = [\"compliance@example.org\"]`",
        );
    }
    for (check, entry) in checks.iter().zip(&raw.checks) {
        let routed = routes.iter().any(|r| {
            (r.checks.is_empty() || r.checks.contains(&check.id))
                && (r.severities.is_empty() || r.severities.contains(&check.severity))
        });
        if !routes.is_empty() && !routed {
            v.problem(
                entry.span.clone(),
                format!(
                    "check {:?} ({}) matches no [[route]]: its alerts would reach nobody; \
                     add it to a route's `checks` or `severities`",
                    check.id,
                    check.severity.as_str()
                ),
            );
        }
    }
    Some(Config {
        path: path.to_owned(),
        daemon,
        email: email?,
        sources,
        checks,
        routes,
    })
}

fn daemon(v: &mut Validator, entry: Option<&Entry<RawDaemon>>) -> Daemon {
    let empty = RawDaemon::default();
    let raw = entry.map_or(&empty, |e| &e.value);
    let time_zone = raw
        .time_zone
        .as_ref()
        .and_then(|tz| v.time_zone(tz, "time_zone"))
        .unwrap_or(Tz::UTC);
    let state_directory = match &raw.state_directory {
        Some(dir) => v.path(dir.get_ref()),
        // systemd's StateDirectory= sets $STATE_DIRECTORY.
        None => std::env::var_os("STATE_DIRECTORY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIRECTORY)),
    };
    let log_format = raw
        .log_format
        .as_ref()
        .and_then(|f| {
            v.choice(
                f,
                "log_format",
                &[
                    ("auto", LogFormat::Auto),
                    ("json", LogFormat::Json),
                    ("text", LogFormat::Text),
                ],
            )
        })
        .unwrap_or(LogFormat::Auto);
    let log_filter = raw
        .log_filter
        .as_ref()
        .map_or_else(|| "info".to_owned(), |f| f.get_ref().clone());
    if let Some(filter) = &raw.log_filter
        && let Err(e) = tracing_subscriber::EnvFilter::try_new(filter.get_ref())
    {
        v.problem(
            filter.span(),
            format!("`log_filter` is not a valid filter ({e}): write it like \"info\" or \"accesswatch=debug,warn\""),
        );
    }
    Daemon {
        time_zone,
        state_directory,
        log_format,
        log_filter,
    }
}

fn email(v: &mut Validator, entry: &Entry<RawEmail>) -> Option<Email> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let from = v
        .required(&raw.from, span, "`from` in [email] (the sender address)")
        .cloned();
    let from = from.and_then(|from| match address::parse_mailbox(from.get_ref()) {
        Ok(mailbox) => Some(mailbox),
        Err(e) => {
            v.problem(
                from.span(),
                format!("`from` is not an email address ({e}): write it like \"accesswatch <alerts@plan.example>\""),
            );
            None
        }
    });
    let subject_prefix = raw
        .subject_prefix
        .as_ref()
        .map_or_else(|| "[accesswatch]".to_owned(), |p| p.get_ref().clone());
    let kind = raw.transport.as_ref().map_or(Some("smtp"), |t| {
        v.choice(t, "transport", &[("smtp", "smtp"), ("file", "file")])
    });
    let transport = match kind? {
        "file" => {
            let directory = v.required(
                &raw.directory,
                span,
                "`directory` in [email] (where .eml files go)",
            );
            let directory = directory.map(|d| v.path(d.get_ref()));
            for (key, value) in [
                ("host", &raw.host),
                ("tls", &raw.tls),
                ("username", &raw.username),
            ] {
                if let Some(value) = value {
                    v.problem(
                        value.span(),
                        format!("`{key}` applies to transport = \"smtp\" only; remove it"),
                    );
                }
            }
            Transport::File {
                directory: directory?,
            }
        }
        _ => Transport::Smtp(smtp(v, raw, span)?),
    };
    Some(Email {
        from: from?,
        subject_prefix,
        transport,
    })
}

fn smtp(v: &mut Validator, raw: &RawEmail, span: &Range<usize>) -> Option<Smtp> {
    if let Some(directory) = &raw.directory {
        v.problem(
            directory.span(),
            "`directory` applies to transport = \"file\" only; remove it or set transport = \"file\"",
        );
    }
    let host = v.required(&raw.host, span, "`host` in [email] (the SMTP server)");
    let host = host.and_then(|h| v.non_empty(h, "host"));
    let tls = raw.tls.as_ref().map_or(Some(TlsMode::Starttls), |t| {
        v.choice(
            t,
            "tls",
            &[
                ("starttls", TlsMode::Starttls),
                ("implicit", TlsMode::Implicit),
                ("none", TlsMode::None),
            ],
        )
    });
    let default_port = match tls {
        Some(TlsMode::Implicit) => 465,
        Some(TlsMode::None) => 25,
        _ => 587,
    };
    let port = match &raw.port {
        None => default_port,
        Some(port) => {
            match u16::try_from(*port.get_ref()) {
                Ok(p) if p > 0 => p,
                _ => {
                    v.problem(port.span(), "`port` must be between 1 and 65535 (587 for STARTTLS, 465 for implicit TLS)");
                    default_port
                }
            }
        }
    };
    let password = v.secret(
        "password",
        raw.password.as_ref(),
        &raw.password_file,
        &raw.password_env,
        &raw.password_credential,
    );
    let credentials = match (&raw.username, password) {
        (Some(username), Some(password)) => Some(SmtpCredentials {
            username: username.get_ref().clone(),
            password,
        }),
        (None, None) => None,
        (Some(username), None) => {
            if raw.password_file.is_none()
                && raw.password_env.is_none()
                && raw.password_credential.is_none()
            {
                v.problem(
                    username.span(),
                    "`username` is set but no password: add password_file, password_env or password_credential",
                );
            }
            None
        }
        (None, Some(_)) => {
            v.problem(
                span.clone(),
                "a password is set but no `username`: add username",
            );
            None
        }
    };
    if credentials.is_some() && tls == Some(TlsMode::None) {
        let tls_span = raw.tls.as_ref().map_or(span.clone(), S::span);
        v.problem(
            tls_span,
            "tls = \"none\" would send the SMTP password in the clear: use tls = \"starttls\" (port 587) or \"implicit\" (port 465)",
        );
    }
    let ca_file = raw.ca_file.as_ref().map(|f| v.path(f.get_ref()));
    if let (Some(path), Some(raw_path)) = (&ca_file, &raw.ca_file)
        && let Err(e) = std::fs::metadata(path)
    {
        v.problem(
            raw_path.span(),
            format!("`ca_file` {}: {e}", path.display()),
        );
    }
    let timeout = v.duration(&raw.timeout, "timeout", Duration::from_secs(30));
    Some(Smtp {
        host: host?,
        port,
        tls: tls?,
        credentials,
        ca_file,
        timeout,
    })
}

fn source(v: &mut Validator, entry: &Entry<RawSource>) -> Option<SourceSpec> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let id = v
        .required(&raw.id, span, "`id` in [[source]]")
        .and_then(|id| ident(v, id, "id"));
    let kind = v
        .required(
            &raw.kind,
            span,
            "`kind` in [[source]] (\"file\" or \"http\")",
        )
        .and_then(|k| v.choice(k, "kind", &[("file", "file"), ("http", "http")]));
    let format = raw.format.as_ref().and_then(|f| {
        v.choice(
            f,
            "format",
            &[
                ("csv", Format::Csv),
                ("json", Format::Json),
                ("ndjson", Format::Ndjson),
            ],
        )
    });
    if let Some(pointer) = &raw.records
        && !pointer.get_ref().is_empty()
        && !pointer.get_ref().starts_with('/')
    {
        v.problem(
            pointer.span(),
            "`records` is a JSON pointer and starts with \"/\", like \"/data/regions\" (\"\" is the whole document)",
        );
    }
    let fields: BTreeMap<String, String> = raw
        .fields
        .iter()
        .flatten()
        .map(|(k, f)| (k.clone(), f.get_ref().clone()))
        .collect();
    let csv_delimiter = match &raw.csv_delimiter {
        None => b',',
        Some(d) => match d.get_ref().as_bytes() {
            [byte] if byte.is_ascii() => *byte,
            _ => {
                v.problem(
                    d.span(),
                    "`csv_delimiter` must be one ASCII character, like \",\" or \";\"",
                );
                b','
            }
        },
    };
    let location = match kind? {
        "file" => {
            let path = v.required(&raw.path, span, "`path` in [[source]] of kind \"file\"")?;
            for (key, value) in [
                ("url", &raw.url),
                ("bearer_token_file", &raw.bearer_token_file),
            ] {
                if let Some(value) = value {
                    v.problem(
                        value.span(),
                        format!("`{key}` applies to kind = \"http\" only; remove it"),
                    );
                }
            }
            Location::File(v.path(path.get_ref()))
        }
        _ => Location::Http(http(v, raw, span)?),
    };
    Some(SourceSpec {
        id: id?,
        location,
        format,
        records: raw.records.as_ref().map(|r| r.get_ref().clone()),
        fields,
        time_field: raw.time_field.as_ref().map(|f| f.get_ref().clone()),
        csv_delimiter,
    })
}

fn http(v: &mut Validator, raw: &RawSource, span: &Range<usize>) -> Option<HttpSpec> {
    if let Some(path) = &raw.path {
        v.problem(
            path.span(),
            "`path` applies to kind = \"file\" only; remove it",
        );
    }
    let url = v.required(&raw.url, span, "`url` in [[source]] of kind \"http\"")?;
    let parsed = match url::Url::parse(url.get_ref()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(_) => {
            v.problem(url.span(), "`url` must start with http:// or https://");
            None
        }
        Err(e) => {
            v.problem(url.span(), format!("`url` is not a URL ({e})"));
            None
        }
    };
    if let Some(u) = &parsed
        && (!u.username().is_empty() || u.password().is_some())
    {
        v.problem(
            url.span(),
            "`url` must not carry credentials: use bearer_token_file (or _env, _credential) or a [[source.headers]] secret",
        );
    }
    let retries = match &raw.retries {
        None => 3,
        Some(r) => match u32::try_from(*r.get_ref()) {
            Ok(n) if n <= 10 => n,
            _ => {
                v.problem(r.span(), "`retries` must be between 0 and 10");
                3
            }
        },
    };
    let max_body_size = match &raw.max_body_size {
        None => 64 * 1024 * 1024,
        Some(size) => parse_size(size.get_ref()).unwrap_or_else(|e| {
            v.problem(size.span(), format!("`max_body_size`: {e}"));
            0
        }),
    };
    let mut headers = Vec::new();
    if let Some(token) = v.secret(
        "bearer_token",
        raw.bearer_token.as_ref(),
        &raw.bearer_token_file,
        &raw.bearer_token_env,
        &raw.bearer_token_credential,
    ) {
        headers.push(Header {
            name: "Authorization".to_owned(),
            value: Secret::new(format!("Bearer {}", token.expose())),
        });
    }
    for header in raw.headers.iter().flatten() {
        headers.extend(http_header(v, header, span));
    }
    Some(HttpSpec {
        url: parsed?,
        connect_timeout: v.duration(
            &raw.connect_timeout,
            "connect_timeout",
            Duration::from_secs(10),
        ),
        timeout: v.duration(&raw.timeout, "timeout", Duration::from_secs(60)),
        retries,
        retry_backoff: v.duration(&raw.retry_backoff, "retry_backoff", Duration::from_secs(1)),
        max_body_size,
        headers,
    })
}

/// `source_span`: where missing-key problems are reported, since an entry
/// of `[[source.headers]]` keeps no span of its own.
fn http_header(v: &mut Validator, raw: &RawHeader, source_span: &Range<usize>) -> Option<Header> {
    let span = source_span.clone();
    let name = v.required(&raw.name, &span, "`name` in [[source.headers]]")?;
    let valid_name = !name.get_ref().is_empty()
        && name
            .get_ref()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
    if !valid_name {
        v.problem(
            name.span(),
            format!("{:?} is not a valid HTTP header name", name.get_ref()),
        );
    }
    let secret = v.secret(
        "value",
        None,
        &raw.value_file,
        &raw.value_env,
        &raw.value_credential,
    );
    let value = match (&raw.value, secret) {
        (Some(plain), None) => Secret::new(plain.get_ref().clone()),
        (None, Some(secret)) => secret,
        (Some(plain), Some(_)) => {
            v.problem(
                plain.span(),
                "give either `value` or one of value_file, value_env, value_credential",
            );
            return None;
        }
        (None, None) => {
            if raw.value_file.is_none() && raw.value_env.is_none() && raw.value_credential.is_none()
            {
                v.problem(span, "missing key `value` (or value_file, value_env, value_credential) in [[source.headers]]");
            }
            return None;
        }
    };
    if value.expose().contains(['\r', '\n']) {
        v.problem(
            name.span(),
            format!(
                "the value of header {:?} contains a line break",
                name.get_ref()
            ),
        );
        return None;
    }
    valid_name.then(|| Header {
        name: name.get_ref().clone(),
        value,
    })
}

fn check(
    v: &mut Validator,
    entry: &Entry<RawCheck>,
    known_sources: &BTreeSet<&str>,
    default_tz: Tz,
    default_schedule: Option<&Schedule>,
) -> Option<Check> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let id = v
        .required(&raw.id, span, "`id` in [[check]]")
        .and_then(|id| ident(v, id, "id"));
    let title = v
        .required(&raw.title, span, "`title` in [[check]]")
        .and_then(|t| v.non_empty(t, "title"));
    let kind = v
        .required(
            &raw.kind,
            span,
            "`kind` in [[check]] (\"threshold\" or \"ratio\")",
        )
        .and_then(|k| v.choice(k, "kind", &[("threshold", "threshold"), ("ratio", "ratio")]));
    let source = v.required(
        &raw.source,
        span,
        "`source` in [[check]] (the id of a [[source]])",
    );
    if let Some(source) = source
        && !known_sources.contains(source.get_ref().as_str())
    {
        let known: Vec<&str> = known_sources.iter().copied().collect();
        v.problem(
            source.span(),
            format!(
                "`source` {:?} is not the id of any [[source]] (known: {})",
                source.get_ref(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        );
    }
    let severity = raw.severity.as_ref().map_or(Some(Severity::Warning), |s| {
        v.choice(
            s,
            "severity",
            &[
                ("warning", Severity::Warning),
                ("critical", Severity::Critical),
            ],
        )
    });
    let tz = match &raw.time_zone {
        Some(tz) => v.time_zone(tz, "time_zone"),
        None => Some(default_tz),
    };
    let schedule = match (&raw.schedule, tz) {
        (Some(expr), Some(tz)) => v.schedule(expr, "schedule", tz),
        (None, Some(tz)) => default_schedule.and_then(|d| Schedule::parse(d.expression(), tz).ok()),
        (_, None) => None,
    };
    let op = v
        .required(
            &raw.op,
            span,
            "`op` in [[check]] (the healthy side: \"<\", \"<=\", \">\" or \">=\")",
        )
        .and_then(|o| {
            v.choice(
                o,
                "op",
                &[("<", Op::Lt), ("<=", Op::Le), (">", Op::Gt), (">=", Op::Ge)],
            )
        });
    let limit = v
        .required(&raw.limit, span, "`limit` in [[check]]")
        .and_then(|l| {
            if l.get_ref().is_finite() {
                Some(*l.get_ref())
            } else {
                v.problem(l.span(), "`limit` must be a finite number");
                None
            }
        });
    let group_by: Vec<String> = raw
        .group_by
        .as_ref()
        .map(|g| g.get_ref().iter().map(|f| f.get_ref().clone()).collect())
        .unwrap_or_default();
    let rule = match kind? {
        "threshold" => {
            let field = v.required(
                &raw.field,
                span,
                "`field` in [[check]] of kind \"threshold\"",
            );
            let aggregate = raw.aggregate.as_ref().map_or(Some(Aggregate::Worst), |a| {
                v.choice(
                    a,
                    "aggregate",
                    &[
                        ("worst", Aggregate::Worst),
                        ("sum", Aggregate::Sum),
                        ("mean", Aggregate::Mean),
                        ("min", Aggregate::Min),
                        ("max", Aggregate::Max),
                    ],
                )
            });
            wrong_kind(
                v,
                &[
                    ("numerator", &raw.numerator),
                    ("denominator", &raw.denominator),
                ],
                "ratio",
            );
            Rule::Threshold {
                field: field?.get_ref().clone(),
                aggregate: aggregate?,
            }
        }
        _ => {
            let numerator = v.required(
                &raw.numerator,
                span,
                "`numerator` in [[check]] of kind \"ratio\"",
            );
            let denominator = v.required(
                &raw.denominator,
                span,
                "`denominator` in [[check]] of kind \"ratio\"",
            );
            wrong_kind(
                v,
                &[("field", &raw.field), ("aggregate", &raw.aggregate)],
                "threshold",
            );
            Rule::Ratio {
                numerator: numerator?.get_ref().clone(),
                denominator: denominator?.get_ref().clone(),
            }
        }
    };
    let metric = match (&raw.metric, &rule) {
        (Some(m), _) => m.get_ref().clone(),
        (None, Rule::Threshold { field, .. }) => field.replace('_', " "),
        (
            None,
            Rule::Ratio {
                numerator,
                denominator,
            },
        ) => {
            format!(
                "{} per {}",
                numerator.replace('_', " "),
                denominator.replace('_', " ")
            )
        }
    };
    Some(Check {
        id: id?,
        title: title?,
        severity: severity?,
        citation: raw.citation.as_ref().map(|c| c.get_ref().clone()),
        source: source?.get_ref().clone(),
        group_by,
        metric,
        rule,
        comparison: Comparison {
            op: op?,
            limit: limit?,
        },
        schedule: schedule?,
    })
}

fn wrong_kind(v: &mut Validator, keys: &[(&str, &Option<S<String>>)], kind: &str) {
    for (key, value) in keys {
        if let Some(value) = value {
            v.problem(
                value.span(),
                format!("`{key}` applies to kind = \"{kind}\" only; remove it"),
            );
        }
    }
}

fn route(v: &mut Validator, entry: &Entry<RawRoute>, check_ids: &BTreeSet<&str>) -> Option<Route> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let name = v
        .required(&raw.name, span, "`name` in [[route]]")
        .and_then(|n| v.non_empty(n, "name"));
    let to_raw = v.required(
        &raw.to,
        span,
        "`to` in [[route]] (a list of email addresses)",
    );
    let mut to = Vec::new();
    if let Some(list) = to_raw {
        if list.get_ref().is_empty() {
            v.problem(list.span(), "`to` must list at least one address");
        }
        for address in list.get_ref() {
            match address::parse_mailbox(address.get_ref()) {
                Ok(a) => to.push(a),
                Err(e) => v.problem(
                    address.span(),
                    format!("`to`: {:?} is not an email address ({e}): write it like \"compliance@plan.example\" or \"Compliance <compliance@plan.example>\"", address.get_ref()),
                ),
            }
        }
    }
    let mut checks = Vec::new();
    for check in raw.checks.iter().flat_map(|c| c.get_ref()) {
        if !check_ids.contains(check.get_ref().as_str()) {
            v.problem(
                check.span(),
                format!(
                    "`checks`: {:?} is not the id of any [[check]]",
                    check.get_ref()
                ),
            );
        }
        checks.push(check.get_ref().clone());
    }
    let mut severities = Vec::new();
    for severity in raw.severities.iter().flat_map(|s| s.get_ref()) {
        severities.extend(v.choice(
            severity,
            "severities",
            &[
                ("warning", Severity::Warning),
                ("critical", Severity::Critical),
            ],
        ));
    }
    let labels = raw
        .labels
        .iter()
        .flatten()
        .map(|(k, value)| (k.clone(), value.get_ref().clone()))
        .collect();
    Some(Route {
        name: name?,
        to,
        checks,
        severities,
        labels,
    })
}

/// Ids appear in logs, subjects and file names: keep them to a safe set.
fn ident(v: &mut Validator, value: &S<String>, key: &str) -> Option<String> {
    let s = value.get_ref();
    let ok = !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if !ok {
        v.problem(
            value.span(),
            format!("`{key}` {s:?} must be 1 to 100 letters, digits, '-', '_', '.' or '/'"),
        );
        return None;
    }
    Some(s.clone())
}

/// "64MiB", "500 kB", "1048576" → bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: write it like \"10MiB\" or \"500kB\""))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?}: use B, kB, KiB, MB, MiB, GB or GiB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} must be more than zero and less than 16 EiB"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("500 kB"), Ok(500_000));
        assert!(parse_size("ten MB").is_err());
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("0").is_err());
    }
}
