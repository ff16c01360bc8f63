//! Stage two: from the raw structs to the validated [`Config`].
//!
//! Every rule lives here, and every failed rule becomes one [`Problem`]
//! that names the key and says what to change. Validation goes on after a
//! problem so that all of them are reported together. Secrets are read here
//! (files, environment, systemd credentials), so `check-config` proves they
//! can be read.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;

use super::load::{Entry, RawConfig};
use super::raw::{RawDaemon, S};
use super::suggest::did_you_mean;
use super::*;
use crate::check::schedule::Schedule;
use crate::check::secret::{Secret, SecretSource};

mod alerting;
mod check;
mod email;
mod fhir;
mod nppes;
mod postgres;
mod source;
mod state;
mod timely;

use check::{Zones, check, route};
use email::email;
use source::source;

pub const DEFAULT_SCHEDULE: &str = "0 6 * * *";

/// The longest duration any key (or `ack --until`) accepts: a hundred
/// years. A longer one is surely a typo, and date arithmetic with it could
/// leave the calendar chrono can represent.
pub const LONGEST_DURATION: Duration = Duration::from_secs(36_525 * 86_400);

/// Parses a duration of at most [`LONGEST_DURATION`]. The error completes
/// a sentence that starts with the key's name.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| {
        format!("is not a duration ({e}): write it like \"30s\", \"5m\" or \"1h 30m\"")
    })?;
    if duration > LONGEST_DURATION {
        return Err(format!(
            "is {text:?}, longer than 100 years: write a shorter duration, like \"400d\""
        ));
    }
    Ok(duration)
}
const DEFAULT_STATE_DIRECTORY: &str = "/var/lib/accesswatch";

struct Validator<'a> {
    problems: &'a mut Vec<Problem>,
    /// What `check-config` looks at beyond the text, with where.
    probes: &'a mut Vec<(Range<usize>, Probe)>,
    base: &'a Path,
    credentials: &'a Credentials,
    /// Keys of the entry being validated whose value had the wrong type:
    /// already reported in stage one, so not "missing" here.
    broken: BTreeSet<String>,
    /// What `[alerting]` sets for checks and sources.
    defaults: alerting::Defaults,
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
            let hint = did_you_mean(value.get_ref(), options.iter().map(|(n, _)| *n));
            self.problem(
                value.span(),
                format!(
                    "`{key}` must be one of {}; got {:?}{hint}",
                    names.join(", "),
                    value.get_ref()
                ),
            );
        }
        found.map(|(_, v)| *v)
    }

    fn finite(&mut self, value: &S<f64>, key: &str) -> Option<f64> {
        if value.get_ref().is_finite() {
            Some(*value.get_ref())
        } else {
            self.problem(value.span(), format!("`{key}` must be a finite number"));
            None
        }
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
        match parse_duration(value.get_ref()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.problem(value.span(), format!("`{key}` must be longer than zero"));
                default
            }
            Err(e) => {
                self.problem(value.span(), format!("`{key}` {e}"));
                default
            }
        }
    }

    /// Notes something for `check-config` to look at, at `span`.
    fn probe(&mut self, span: Range<usize>, probe: Probe) {
        self.probes.push((span, probe));
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
                        "`{key}` {:?} is not an IANA time zone{}: write it like \"America/Los_Angeles\" or \"UTC\"",
                        value.get_ref(),
                        did_you_mean(value.get_ref(), chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()))
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

    /// Refuses the plain `NAME` key of a secret, wherever it appears.
    pub(super) fn plain_secret(&mut self, name: &str, inline: Option<&S<String>>) {
        if let Some(inline) = inline {
            self.problem(
                inline.span(),
                format!(
                    "`{name}` must not be written in the configuration file: \
                     use {name}_file, {name}_env or {name}_credential (systemd LoadCredential)"
                ),
            );
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
        self.plain_secret(name, inline);
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
                let directory = match self.credentials {
                    Credentials::Directory(d) => Some(d.as_path()),
                    Credentials::Environment | Credentials::IfAvailable => None,
                };
                if let SecretSource::Credential(credential) = source
                    && *self.credentials == Credentials::IfAvailable
                    && std::env::var_os("CREDENTIALS_DIRECTORY").is_none()
                {
                    // Outside systemd: check everything else; say which
                    // credential was not read and where it will come from.
                    self.probes.push((
                        value.span(),
                        Probe::Credential {
                            key: name.to_owned(),
                            name: (*credential).to_owned(),
                        },
                    ));
                    return Some(Secret::new(String::new()));
                }
                let source = match source {
                    SecretSource::File(p) => SecretSource::File(&self.base.join(p)).read(),
                    other => other.read_in(directory),
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
    credentials: &Credentials,
    problems: &mut Vec<Problem>,
    probes: &mut Vec<(Range<usize>, Probe)>,
) -> Option<Config> {
    let mut v = Validator {
        problems,
        probes,
        base,
        credentials,
        broken: BTreeSet::new(),
        defaults: alerting::Defaults::default(),
    };
    let mut daemon = daemon(&mut v, raw.daemon.as_ref());
    if let Some(entry) = &raw.state
        && let Some(location) = state::state(&mut v, entry)
    {
        daemon.state = location;
    }
    let (defaults, alerting) = alerting::alerting(&mut v, raw.alerting.as_ref());
    v.defaults = defaults;
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
            Zones {
                daemon: daemon.time_zone,
                daemon_set: raw
                    .daemon
                    .as_ref()
                    .is_some_and(|d| d.value.time_zone.is_some()),
            },
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
            if let Some(problem) = slot_horizon_too_short(&check, &sources) {
                let span = entry
                    .value
                    .standard
                    .as_ref()
                    .map_or(entry.span.clone(), S::span);
                v.problem(span, problem);
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
        let Some(route) = route(&mut v, entry, &all_check_ids) else {
            continue;
        };
        if route.fallback && routes.iter().any(|r: &Route| r.fallback) {
            v.problem(
                entry.span.clone(),
                format!(
                    "route {:?} is a second route with `fallback = true`: keep one",
                    route.name
                ),
            );
        }
        routes.push(route);
    }
    escalation_targets(&mut v, &raw.routes);
    if !raw.checks.is_empty() && raw.routes.is_empty() {
        v.problem(
            raw.checks[0].span.clone(),
            "there are checks but no [[route]]: their alerts would reach nobody; \
             add a [[route]] with `to = [\"compliance@example.org\"]`",
        );
    }
    let fallbacks: Vec<&Route> = routes.iter().filter(|r| r.fallback).collect();
    for (check, entry) in checks.iter().zip(&raw.checks) {
        let following: Vec<&Route> = routes
            .iter()
            .filter(|r| crate::notify::follows(r, &check.id, check.severity))
            .collect();
        let routed = !following.is_empty();
        if routed && fallbacks.is_empty() && following.iter().all(|r| !r.labels.is_empty()) {
            let filters: Vec<String> = following
                .iter()
                .map(|r| {
                    let labels: Vec<String> =
                        r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{:?} ({})", r.name, labels.join(", "))
                })
                .collect();
            v.problem(
                entry.span.clone(),
                format!(
                    "check {:?} is followed only by routes with a label filter ({}): an alert \
                     of any other group would reach nobody; add a [[route]] without `labels` \
                     that follows it, or a catch-all [[route]] with `fallback = true`",
                    check.id,
                    filters.join("; ")
                ),
            );
        }
        if let Some(pushdown) = &entry.value.pushdown
            && let Some(source) = sources.iter().find(|s| s.id == check.source)
            && !matches!(source.location, Location::Postgres(_))
        {
            v.problem(
                pushdown.span(),
                format!(
                    "`pushdown` applies to checks on a PostgreSQL source (kind = \"postgres\"); \
                     source {:?} is not one: remove it",
                    source.id
                ),
            );
        }
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
    share_value_maps(&mut checks, &sources);
    for (check, entry) in checks.iter_mut().zip(&raw.checks) {
        if entry.value.require_labels.is_none() {
            check.require_labels = raw.sources.iter().any(|source| {
                source
                    .value
                    .id
                    .as_ref()
                    .is_some_and(|id| *id.get_ref() == check.source)
                    && source
                        .value
                        .require_labels
                        .as_ref()
                        .is_some_and(|r| *r.get_ref())
            });
        }
    }
    let maintenance = raw
        .maintenance
        .iter()
        .filter_map(|entry| alerting::maintenance(&mut v, entry, daemon.time_zone, &all_check_ids))
        .collect();
    Some(Config {
        alerting,
        maintenance,
        path: path.to_owned(),
        daemon,
        email: email?,
        sources,
        checks,
        routes,
        probes: Vec::new(),
    })
}

/// Gives each wait-time check its source's `[source.values]`.
fn share_value_maps(checks: &mut [Check], sources: &[SourceSpec]) {
    for check in checks {
        if let Rule::TimelyAccess(rule) = &mut check.rule
            && let Some(source) = sources.iter().find(|s| s.id == check.source)
        {
            rule.values = source.values.clone();
        }
    }
}

/// Every `escalate_to` names another route.
fn escalation_targets(v: &mut Validator, raw: &[Entry<super::raw::RawRoute>]) {
    let names: BTreeSet<&str> = raw
        .iter()
        .filter_map(|r| r.value.name.as_ref().map(|n| n.get_ref().as_str()))
        .collect();
    for entry in raw {
        let Some(to) = &entry.value.escalate_to else {
            continue;
        };
        let own = entry.value.name.as_ref().map(|n| n.get_ref().as_str());
        if own == Some(to.get_ref().as_str()) {
            v.problem(
                to.span(),
                "`escalate_to` names this route itself: name the route told when an alert is escalated",
            );
        } else if !names.contains(to.get_ref().as_str()) {
            let known: Vec<&str> = names.iter().copied().collect();
            v.problem(
                to.span(),
                format!(
                    "`escalate_to`: there is no route {:?} (routes: {})",
                    to.get_ref(),
                    known.join(", ")
                ),
            );
        }
    }
}

/// A wait-time check on a FHIR Slot source whose horizon is not longer
/// than the standard's limit: a schedule with nothing free in the horizon
/// gets the horizon's end as its offer, which would count as compliant.
fn slot_horizon_too_short(check: &Check, sources: &[SourceSpec]) -> Option<String> {
    use crate::check::standards::Unit;
    let Rule::TimelyAccess(rule) = &check.rule else {
        return None;
    };
    let source = sources.iter().find(|s| s.id == check.source)?;
    let Location::Fhir(fhir) = &source.location else {
        return None;
    };
    if fhir.resource != crate::source::fhir::ResourceKind::Slot {
        return None;
    }
    // The longest the limit can take in real time: business days count
    // weekends and up to a week of holidays.
    let needed = match rule.unit {
        Unit::Minutes => chrono::Duration::seconds((rule.limit * 60.0).ceil() as i64),
        Unit::Hours => chrono::Duration::seconds((rule.limit * 3600.0).ceil() as i64),
        Unit::CalendarDays => chrono::Duration::days(rule.limit.ceil() as i64),
        Unit::BusinessDays => chrono::Duration::days((rule.limit / 5.0).ceil() as i64 * 7 + 7),
    };
    let horizon = fhir.mapping.horizon;
    (horizon <= needed).then(|| {
        format!(
            "source {:?} looks {} days ahead for free slots (`horizon`), not longer than the \
             standard's limit of {}: a schedule with nothing free would count as compliant; set \
             `horizon` on the source to at least \"{}d\"",
            source.id,
            horizon.num_days(),
            rule.unit.words(rule.limit),
            needed.num_days() + 1
        )
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
        && let Err(e) = crate::logging::check_filter(filter.get_ref())
    {
        v.problem(
            filter.span(),
            format!("`log_filter` is not a valid filter ({e}): write it like \"info\" or \"accesswatch=debug,warn\""),
        );
    }
    let listen = raw.listen.as_ref().and_then(|l| match l.get_ref().parse() {
        Ok(address) => Some(address),
        Err(_) => {
            v.problem(
                l.span(),
                "`listen` is an address and port, like \"127.0.0.1:9464\" or \"[::1]:9464\"",
            );
            None
        }
    });
    let public_url = raw.public_url.as_ref().and_then(|u| {
        match url::Url::parse(u.get_ref()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
            _ => {
                v.problem(
                    u.span(),
                    "`public_url` is the status page's address as people reach it, like \"https://accesswatch.plan.example:9464/\"",
                );
                None
            }
        }
    });
    let web = web(v, raw.web.as_ref(), raw.listen.as_ref(), listen);
    let backfill_on_first_start = raw.backfill_on_first_start.as_ref().and_then(|span| {
        let weeks = |d: Duration| d.as_secs() / (7 * 86_400);
        match parse_duration(span.get_ref()) {
            Ok(d) if weeks(d) >= 1 && weeks(d) <= 520 => {
                chrono::Duration::from_std(d).ok()
            }
            Ok(_) => {
                v.problem(
                    span.span(),
                    "`backfill_on_first_start` is a whole number of weeks from 1 to 520, like \"12w\" or \"52w\" (the history is weekly)",
                );
                None
            }
            Err(e) => {
                v.problem(span.span(), format!("`backfill_on_first_start` {e}"));
                None
            }
        }
    });
    Daemon {
        time_zone,
        state: crate::state::Location::Directory(state_directory.clone()),
        state_directory,
        log_format,
        log_filter,
        listen,
        public_url,
        web,
        backfill_on_first_start,
    }
}

/// `[daemon.web]`. A listen address other than loopback needs users: the
/// pages show a plan's compliance state, and metrics its checks.
fn web(
    v: &mut Validator,
    raw: Option<&super::raw::RawWeb>,
    listen_raw: Option<&S<String>>,
    listen: Option<std::net::SocketAddr>,
) -> Web {
    let empty = super::raw::RawWeb::default();
    let raw = raw.unwrap_or(&empty);
    let mut users = std::collections::BTreeMap::new();
    for (name, hash) in raw.basic_auth_users.iter().flatten() {
        if is_bcrypt(hash.get_ref()) {
            users.insert(name.clone(), hash.get_ref().clone());
        } else {
            v.problem(
                hash.span(),
                format!(
                    "basic_auth_users.{name} must be a bcrypt hash, never a password: make one with \
                     `htpasswd -nbBC 10 {name} PASSWORD` (the part after the colon)"
                ),
            );
        }
    }
    let tls = match (&raw.tls_cert_file, &raw.tls_key_file) {
        (Some(cert), Some(key)) => Some((v.path(cert.get_ref()), v.path(key.get_ref()))),
        (None, None) => None,
        (Some(one), None) | (None, Some(one)) => {
            v.problem(
                one.span(),
                "give both `tls_cert_file` and `tls_key_file` (PEM files), or neither",
            );
            None
        }
    };
    if let (Some(address), Some(span)) = (listen, listen_raw)
        && !address.ip().is_loopback()
        && raw.basic_auth_users.as_ref().is_none_or(|u| u.is_empty())
    {
        v.problem(
            span.span(),
            format!(
                "`listen` = \"{address}\" is reachable from other machines: add users under \
                 [daemon.web] basic_auth_users (bcrypt hashes), and TLS with tls_cert_file and \
                 tls_key_file, or listen on 127.0.0.1"
            ),
        );
    }
    Web { users, tls }
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

/// A `checks = [...]` list (of a route or a maintenance window): each must
/// name a configured check.
fn check_ids(
    v: &mut Validator,
    list: &Option<S<Vec<S<String>>>>,
    known: &BTreeSet<&str>,
) -> Vec<String> {
    let mut checks = Vec::new();
    for check in list.iter().flat_map(|c| c.get_ref()) {
        if !known.contains(check.get_ref().as_str()) {
            v.problem(
                check.span(),
                format!(
                    "`checks`: {:?} is not the id of any [[check]]{}",
                    check.get_ref(),
                    did_you_mean(check.get_ref(), known.iter().copied())
                ),
            );
        }
        checks.push(check.get_ref().clone());
    }
    checks
}

/// ", did you mean `ca-dmhc/non-urgent-mh-initial`?" for a standard id
/// that is nearly one of the catalog's.
fn standard_hint(id: &str) -> String {
    let catalog = crate::check::standards::catalog();
    did_you_mean(id, catalog.iter().map(|s| s.id))
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
