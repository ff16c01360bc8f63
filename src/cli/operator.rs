//! The operator's view of a running system: `status` (alerts and outbox
//! from the state file), `ack` (mute reminders), `render` (the email a
//! check would send now). Text rendering here is pure; the commands in
//! `crate::cli::commands` do the IO.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::check::Rule;
use crate::check::history::{Note, Point, Series, Trend};
use crate::check::standards::Measure;
use crate::check::{Check, CheckResult};
use crate::check::{Episode, Phase};
use crate::config::Config;
use crate::notify::render::local_time as local;
use crate::notify::spec::Transport;
use crate::notify::{Digest, DigestItem, chart, render};
use crate::source::spec::Location;
use crate::state::{Acked, OutboxStats};

fn rfc3339(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(SecondsFormat::Secs, true))
    })
}

/// What `status` shows besides the alerts and the outbox.
#[derive(Debug, Default)]
pub struct StatusView {
    /// Notes made since the oldest alert started.
    pub notes: Vec<Note>,
    pub trends: crate::state::Trends,
    /// The nodes sharing a PostgreSQL state (none on SQLite), and the
    /// lease.
    pub nodes: Vec<crate::state::lease::NodeRecord>,
    pub lease: Option<crate::state::lease::LeaseRecord>,
}

/// "nodes: a (leader, token 4, seen 2s ago), b (standby, seen 1s ago)";
/// empty on SQLite.
fn nodes_text(view: &StatusView) -> String {
    if view.nodes.is_empty() {
        return String::new();
    }
    let nodes: Vec<String> = view
        .nodes
        .iter()
        .map(|n| {
            let role = if n.leader { "leader" } else { "standby" };
            let token = match &view.lease {
                Some(lease) if n.leader && lease.node == n.node => {
                    format!(", token {}", lease.token)
                }
                _ => String::new(),
            };
            format!(
                "{} ({role}{token}, seen {:.0}s ago)",
                n.node,
                n.seen_ago.max(0.0)
            )
        })
        .collect();
    let leader = if view.nodes.iter().any(|n| n.leader) {
        ""
    } else {
        "; NO LEADER: no node holds the lease"
    };
    format!("nodes: {}{leader}\n", nodes.join(", "))
}

fn trend_of<'a>(view: &'a StatusView, e: &Episode) -> Option<&'a Trend> {
    view.trends.get(&(e.check_id.clone(), e.group_key.clone()))
}

/// `--- trends ---` and one line per group of `result` matching `labels`:
/// its sparkline over the recorded runs and this one, and its trend.
/// Nothing when the check has no recorded history.
pub fn trend_lines(
    result: &CheckResult,
    labels: &BTreeMap<String, String>,
    recent: &[Series],
) -> String {
    if !recent.iter().any(|s| s.check_id == result.id) {
        return String::new();
    }
    let mut out = String::from("--- trends ---\n");
    for g in &result.groups {
        if !labels.iter().all(|(k, v)| g.labels.get(k) == Some(v)) {
            continue;
        }
        let trend = crate::cli::report::group_trend(recent, result, g);
        let key = g.label_text();
        let mut points: Vec<Point> = recent
            .iter()
            .find(|s| s.check_id == result.id && s.group_key == key)
            .map(|s| s.points.clone())
            .unwrap_or_default();
        points.push(Point {
            at: result.evaluated_at,
            status: g.status,
            value: g.value.filter(|v| v.is_finite()),
            limit: g.limit,
        });
        let _ = writeln!(
            out,
            "{key}: {} {}",
            chart::sparkline(&points),
            trend.sentence(|v| render::value_text(result, v))
        );
    }
    out
}

/// The notes on `episode`'s group made since it started.
fn notes_on<'a>(notes: &'a [Note], episode: &'a Episode) -> impl Iterator<Item = &'a Note> {
    notes
        .iter()
        .filter(|n| n.concerns(&episode.check_id, &episode.labels) && n.at >= episode.started_at)
}

pub fn status_json(
    episodes: &[Episode],
    outbox: &OutboxStats,
    view: &StatusView,
    now: DateTime<Utc>,
    after: chrono::Duration,
) -> Value {
    let alerts: Vec<Value> = episodes
        .iter()
        .map(|e| {
            json!({
                "check": e.check_id,
                "group": e.group_key,
                "labels": e.labels,
                "state": e.phase.as_str(),
                "severity": e.severity.as_str(),
                "since": rfc3339(Some(e.firing_since.unwrap_or(e.started_at))),
                "last_status": e.last_status.as_str(),
                "last_value": e.last_value,
                "limit": e.last_limit,
                "last_seen": rfc3339(Some(e.last_seen_at)),
                "notified": rfc3339(e.notified_at),
                "next_reminder": rfc3339(e.next_reminder_at),
                "ack_until": rfc3339(e.ack_until),
                "ack_by": e.ack_by,
                "trend": trend_of(view, e).map(crate::cli::report::trend_json),
                "notes": notes_on(&view.notes, e).map(|n| json!({
                    "text": n.text,
                    "by": n.by,
                    "at": rfc3339(Some(n.at)),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let nodes: Vec<serde_json::Value> = view
        .nodes
        .iter()
        .map(|n| json!({"node": n.node, "role": if n.leader { "leader" } else { "standby" }, "seen_seconds_ago": n.seen_ago}))
        .collect();
    json!({
        "alerts": alerts,
        "nodes": nodes,
        "lease": view.lease.as_ref().map(|l| json!({"node": l.node, "token": l.token, "expires_in_seconds": l.expires_in})),
        "outbox": {
            "unsent": outbox.unsent,
            "oldest_unsent": rfc3339(outbox.oldest_unsent),
            "undeliverable": outbox.undeliverable(now, after),
            "last_error": outbox.last_error,
            "sent": outbox.sent,
        }
    })
}

/// An alert's last value and its limit in the check's units: "59.9 %
/// (target 70 %)" for a share of requests, "3,476.79 members per therapist
/// (limit <= 3,000)" otherwise. A data-unavailable alert (no check) counts
/// hours of failing fetches.
fn value_and_limit(
    check_id: &str,
    check: Option<&Check>,
    value: Option<f64>,
    limit: f64,
) -> String {
    let share = check.is_some_and(
        |c| matches!(&c.rule, Rule::TimelyAccess(w) if w.measure == Measure::ShareWithinLimit),
    );
    if share {
        let value = value.map_or_else(|| "?".to_owned(), render::percent);
        return format!("{value} (target {}", render::percent(limit));
    }
    let value = value.map_or_else(|| "?".to_owned(), render::number);
    match check {
        Some(c) => format!(
            "{value} {} (limit {} {}",
            c.metric,
            c.comparison.op.as_str(),
            render::number(limit)
        ),
        None if check_id.starts_with(crate::check::DATA_UNAVAILABLE) => format!(
            "{value} hours failing (limit {} hours",
            render::number(limit)
        ),
        None => format!("{value} (limit {}", render::number(limit)),
    }
}

pub fn status_text(
    episodes: &[Episode],
    checks: &[Check],
    outbox: &OutboxStats,
    view: &StatusView,
    now: DateTime<Utc>,
    after: chrono::Duration,
    zone: Tz,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "alerts ({}):", episodes.len());
    if episodes.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for e in episodes {
        let state = e.phase.as_str().to_uppercase();
        let since = local(e.firing_since.unwrap_or(e.started_at), zone);
        let check = checks.iter().find(|c| c.id == e.check_id);
        let _ = write!(
            out,
            "  {:<8} {} {} since {since}; last {}, {})",
            state,
            e.check_id,
            crate::check::result::label_words(&e.labels),
            value_and_limit(&e.check_id, check, e.last_value, e.last_limit),
            e.last_status.as_str()
        );
        // Reminders are muted while acknowledged: a reminder due before
        // the acknowledgement ends is not sent then.
        let acked_until = e.ack_until.filter(|until| *until > now);
        if e.phase == Phase::Firing
            && let Some(next) = e.next_reminder_at
            && acked_until.is_none_or(|until| next > until)
        {
            let _ = write!(out, "; next reminder {}", local(next, zone));
        }
        if let (Some(until), Some(by)) = (e.ack_until, &e.ack_by)
            && until > now
        {
            let _ = write!(out, "; acknowledged by {by} until {}", local(until, zone));
        }
        out.push('\n');
        if let Some(trend) = trend_of(view, e) {
            let share = check.is_some_and(
                |c| matches!(&c.rule, Rule::TimelyAccess(w) if w.measure == Measure::ShareWithinLimit),
            );
            let number = |v: f64| {
                if share {
                    render::percent(v)
                } else {
                    render::number(v)
                }
            };
            let _ = writeln!(out, "           trend: {}", trend.sentence(number));
        }
        for note in notes_on(&view.notes, e) {
            let _ = writeln!(
                out,
                "           note by {} at {}: {}",
                note.by,
                local(note.at, zone),
                note.text
            );
        }
    }
    let _ = write!(out, "\noutbox: {} unsent", outbox.unsent);
    if let Some(oldest) = outbox.oldest_unsent {
        let _ = write!(out, " (oldest queued {})", local(oldest, zone));
    }
    if outbox.undeliverable(now, after) {
        out.push_str(", UNDELIVERABLE for longer than undeliverable_after");
    }
    if let Some(error) = &outbox.last_error {
        let _ = write!(out, "; last error: {error}");
    }
    let _ = writeln!(out, "; {} sent", outbox.sent);
    out.push_str(&nodes_text(view));
    out
}

/// What `render` has to say about a check and the groups asked for.
#[derive(Debug)]
pub enum Rendering {
    /// The email the check would send now.
    Email(render::RenderedEmail),
    /// Every group asked for is ok: one line per group, nothing to send.
    Healthy(String),
    /// A `--group` that names no group or no label: what exists instead.
    NoSuchGroup(String),
    /// No route follows the check.
    NoRoute,
}

/// The email `result`'s check would send now for the groups matching
/// `labels`, or why there is none.
pub fn render_check(
    config: &Config,
    result: &CheckResult,
    labels: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Rendering {
    let Some(check) = config.checks.iter().find(|c| c.id == result.id) else {
        return Rendering::NoRoute;
    };
    let Some(route) = config
        .routes
        .iter()
        .find(|r| crate::notify::follows(r, &check.id, check.severity))
    else {
        return Rendering::NoRoute;
    };
    if result.error.is_none()
        && let Some(missing) = missing_group(check, result, labels)
    {
        return Rendering::NoSuchGroup(missing);
    }
    let matching: Vec<_> = result
        .groups
        .iter()
        .filter(|g| labels.iter().all(|(k, v)| g.labels.get(k) == Some(v)))
        .cloned()
        .collect();
    let problems: Vec<_> = matching
        .iter()
        .filter(|g| g.status != crate::check::Status::Ok)
        .cloned()
        .collect();
    if result.error.is_none() && problems.is_empty() {
        let lines: String = matching
            .iter()
            .map(|g| {
                let value = g
                    .value
                    .map_or("no value".to_owned(), |v| render::value_text(result, v));
                format!(
                    "group {} is ok ({value}, limit {} {}): nothing would be sent\n",
                    crate::check::result::label_words(&g.labels),
                    check.comparison.op.as_str(),
                    render::value_text(result, g.limit),
                )
            })
            .collect();
        return Rendering::Healthy(lines);
    }
    let digest = Digest {
        notes: Vec::new(),
        series: Vec::new(),
        public_url: config.daemon.public_url.as_ref().map(|u| u.to_string()),
        route: route.clone(),
        items: vec![DigestItem {
            result: result.clone(),
            check: check.clone(),
            groups: problems,
            notices: Vec::new(),
        }],
    };
    Rendering::Email(render::render(
        &digest,
        &config.email.subject_prefix,
        now,
        config.daemon.time_zone,
    ))
}

/// Why `labels` select no group of `result`: a label key the check does
/// not group by, or a value no group has, with what there is instead.
fn missing_group(
    check: &crate::check::Check,
    result: &CheckResult,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    if let Some(key) = labels.keys().find(|k| !check.group_by.contains(k)) {
        return Some(if check.group_by.is_empty() {
            format!("no label `{key}`: check {:?} has no groups", check.id)
        } else {
            format!(
                "no label `{key}`; labels are: {}",
                check.group_by.join(", ")
            )
        });
    }
    let found = result
        .groups
        .iter()
        .any(|g| labels.iter().all(|(k, v)| g.labels.get(k) == Some(v)));
    if found {
        return None;
    }
    let groups: Vec<String> = result.groups.iter().map(|g| g.label_words()).collect();
    Some(format!(
        "no group {}; groups are: {}",
        crate::check::result::label_text(labels),
        if groups.is_empty() {
            "none".to_owned()
        } else {
            groups.join("; ")
        }
    ))
}

/// `--until`: RFC 3339, or a duration from `now` like "24h" or "3d"; a
/// time that has passed is refused.
pub fn parse_until(text: &str, now: DateTime<Utc>, zone: Tz) -> Result<DateTime<Utc>, String> {
    let until = match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.to_utc(),
        Err(_) => {
            let duration = crate::config::parse_duration(text).map_err(|e| {
                if humantime::parse_duration(text).is_ok() {
                    format!("--until {e}")
                } else {
                    format!("--until {text:?}: write a time like 2026-12-01T09:00:00-08:00 or a duration like 24h")
                }
            })?;
            chrono::Duration::from_std(duration)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .ok_or_else(|| {
                    format!("--until {text:?} is too far in the future: give a nearer time")
                })?
        }
    };
    if until <= now {
        return Err(format!(
            "--until {text:?} is {}, which has passed (it is {} now): give a later time or a duration like 24h; --clear removes an acknowledgement",
            local(until, zone),
            local(now, zone)
        ));
    }
    Ok(until)
}

/// What `ack` did, in the daemon's zone: how many alerts, until when, and
/// whose acknowledgements in force it replaced.
pub fn ack_text(check: &str, acked: &Acked, until: DateTime<Utc>, by: &str, zone: Tz) -> String {
    let mut out = format!(
        "acknowledged {} alert(s) of {check} until {} by {by}\n",
        acked.episodes,
        local(until, zone)
    );
    let mut replaced: BTreeMap<(&str, DateTime<Utc>), Vec<&str>> = BTreeMap::new();
    for (who, when, group) in &acked.replaced {
        replaced.entry((who, *when)).or_default().push(group);
    }
    for ((who, when), groups) in replaced {
        let _ = writeln!(
            out,
            "replaced the acknowledgement by {who} until {} of {} alert(s): {}",
            local(when, zone),
            groups.len(),
            groups.join("; ")
        );
    }
    out
}

/// The one-screen summary printed by `check-config`.
pub fn config_summary(config: &Config, now: chrono::DateTime<Utc>) -> String {
    let mut out = String::new();
    let zone = config.daemon.time_zone;
    let transport = match &config.email.transport {
        Transport::Smtp(s) => format!(
            "smtp://{}:{} (tls {}{})",
            s.host,
            s.port,
            s.tls.as_str(),
            if s.credentials.is_some() {
                ", auth"
            } else {
                ""
            }
        ),
        Transport::File { directory } => format!("files in {}", directory.display()),
    };
    let _ = writeln!(out, "{}: OK", config.path.display());
    let state = match &config.daemon.state {
        crate::state::Location::Directory(directory) => {
            format!("state directory {}", directory.display())
        }
        crate::state::Location::Postgres(settings) => format!(
            "state on postgres {} (tls {}) as node {}, lease_ttl {}",
            settings.target.describe(),
            settings.target.tls.as_str(),
            settings.node,
            humantime::format_duration(settings.lease_ttl)
        ),
    };
    let _ = writeln!(
        out,
        "time zone {zone}; {state}; email from {} via {transport}",
        config.email.from
    );
    let _ = writeln!(out, "\nsources ({}):", config.sources.len());
    for source in &config.sources {
        let (kind, location) = match &source.location {
            Location::File(path) => ("file", path.display().to_string()),
            Location::Http(http) => ("http", crate::source::http::display_url(&http.url)),
            Location::Fhir(fhir) => ("fhir", fhir.describe()),
            Location::Nppes(nppes) => ("nppes", nppes.describe()),
            Location::Postgres(postgres) => ("pg", postgres.describe()),
        };
        let _ = writeln!(out, "  {:<24} {kind:<5} {location}", source.id);
    }
    let _ = writeln!(out, "\nchecks ({}):", config.checks.len());
    for check in &config.checks {
        let kind = match check.rule {
            Rule::Threshold { .. } => "threshold",
            Rule::Ratio { .. } => "ratio",
            Rule::Shortage { .. } => "shortage",
            Rule::TimelyAccess(_) => "timely",
            Rule::Freshness { .. } => "freshness",
        };
        let next = check.schedule.next_after(now).map_or_else(
            || "never".to_owned(),
            |t| {
                t.with_timezone(&check.schedule.time_zone())
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            },
        );
        let what = match &check.rule {
            Rule::TimelyAccess(rule) => {
                let whose = match rule.target_source {
                    crate::check::TargetSource::Plan => " (the plan's target)",
                    crate::check::TargetSource::Law => "",
                };
                let start = if rule.standard.needs_start
                    && rule.effective == rule.standard.effective
                {
                    format!(
                        "; in force from {} at the earliest: set `in_force_from` to the plan's rating period",
                        rule.standard.effective_text
                    )
                } else {
                    String::new()
                };
                format!(
                    "{}: {}{whose} within {}; dates in {}{start}{}",
                    rule.standard.id,
                    crate::notify::render::percent(rule.target),
                    rule.unit.words(rule.limit),
                    rule.time_zone,
                    pushdown_note(config, check)
                )
            }
            _ => format!(
                "{} {} {}",
                check.metric,
                check.comparison.op.as_str(),
                crate::notify::render::number(check.comparison.limit)
            ),
        };
        let _ = writeln!(
            out,
            "  {:<24} {kind:<9} {:<8} {what}  \"{}\" {}  next {next}",
            check.id,
            check.severity.as_str(),
            check.schedule.expression(),
            check.schedule.time_zone()
        );
    }
    let _ = writeln!(out, "\nroutes ({}):", config.routes.len());
    for route in &config.routes {
        let checks = if route.checks.is_empty() {
            "all checks".to_owned()
        } else {
            route.checks.join(", ")
        };
        let severities = if route.severities.is_empty() {
            "any severity".to_owned()
        } else {
            route
                .severities
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let labels = if route.labels.is_empty() {
            String::new()
        } else {
            format!("; labels {}", crate::check::label_text(&route.labels))
        };
        let _ = writeln!(
            out,
            "  {:<24} -> {} ({checks}; {severities}{labels})",
            route.name,
            route.to.join(", ")
        );
    }
    if !config.maintenance.is_empty() {
        let _ = writeln!(out, "\nmaintenance windows ({}):", config.maintenance.len());
        for window in &config.maintenance {
            let local = |t: chrono::DateTime<Utc>| {
                t.with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            };
            let _ = writeln!(
                out,
                "  {:<24} {} – {}",
                window.name,
                local(window.start),
                local(window.end)
            );
        }
    }
    if let Some(address) = config.daemon.listen {
        let _ = writeln!(out, "\nserving /metrics and /healthz on {address}");
    }
    out
}

/// For a wait-time check on a PostgreSQL source: whether it is evaluated
/// in the database, or why its rows are pulled.
fn pushdown_note(config: &Config, check: &Check) -> String {
    let Some(spec) = config.source(&check.source) else {
        return String::new();
    };
    if !matches!(spec.location, Location::Postgres(_)) {
        return String::new();
    }
    match crate::source::pushdown::configured_fallback(spec, check) {
        Some(reason) => format!("; rows pulled, not pushed down: {reason}"),
        None => "; pushed down to the database".to_owned(),
    }
}
