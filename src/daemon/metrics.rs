//! Metrics in the Prometheus text format, and the health report.
//!
//! [`Metrics`] keeps what the last runs found (updated by the daemon after
//! each run); [`render`] turns it, with the outbox and alert counts from
//! the state store, into the text exposition format (pure). Names follow
//! the Prometheus conventions: an `accesswatch_` prefix, base units
//! (`_seconds`), `_total` for counters, and labels for the check, group
//! and source. Label values are labels and ids only, never data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::check::{CheckResult, Status};
use crate::check::{Episode, Phase};
use crate::state::OutboxStats;

#[derive(Debug, Default, Clone)]
pub struct SourceStats {
    pub last_duration_seconds: f64,
    pub errors_total: u64,
    pub last_success: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub results: BTreeMap<String, CheckResult>,
    pub sources: BTreeMap<String, SourceStats>,
    pub runs_total: u64,
    pub last_run: Option<DateTime<Utc>>,
    pub last_run_duration_seconds: f64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    snapshot: Mutex<Snapshot>,
}

impl Metrics {
    pub fn record_run(&self, outcome: &crate::daemon::run::RunOutcome, finished: DateTime<Utc>) {
        let Ok(mut s) = self.snapshot.lock() else {
            return;
        };
        s.runs_total += 1;
        s.last_run = Some(finished);
        s.last_run_duration_seconds =
            (finished - outcome.as_of).num_milliseconds().max(0) as f64 / 1000.0;
        for result in &outcome.results {
            s.results.insert(result.id.clone(), result.clone());
        }
        for (source, fetched) in &outcome.sources {
            let stats = s.sources.entry(source.clone()).or_default();
            stats.last_duration_seconds = outcome.durations.get(source).copied().unwrap_or(0.0);
            match fetched {
                Ok(()) => stats.last_success = Some(finished),
                Err(_) => stats.errors_total += 1,
            }
        }
    }

    /// Forgets checks no longer configured (after a reload).
    pub fn retain_checks(&self, ids: &[String]) {
        if let Ok(mut s) = self.snapshot.lock() {
            s.results.retain(|id, _| ids.contains(id));
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A label value with `\`, `"` and line breaks escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {}", number(value));
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {}", labels.join(","), number(value));
        }
    }
}

const STATUSES: [Status; 4] = [
    Status::Ok,
    Status::Breach,
    Status::Unknown,
    Status::NotInForce,
];

/// `accesswatch_role`: 1 for this node's role (`single`, `leader`,
/// `standby`), and the leader's fencing token.
pub fn render_role(role: &crate::daemon::lead::Role) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    f.header(
        "accesswatch_role",
        "gauge",
        "1 for this node's role: single (SQLite), leader or standby (PostgreSQL state shared by nodes).",
    );
    for name in ["single", "leader", "standby"] {
        f.sample(
            "accesswatch_role",
            &[("role", name)],
            f64::from(u8::from(role.as_str() == name)),
        );
    }
    if let crate::daemon::lead::Role::Leader { token, .. } = role {
        f.header(
            "accesswatch_lease_token",
            "gauge",
            "The fencing token of the leader lease this node holds.",
        );
        f.sample("accesswatch_lease_token", &[], *token as f64);
    }
    out
}

pub fn render(
    snapshot: &Snapshot,
    outbox: &OutboxStats,
    episodes: &[Episode],
    now: DateTime<Utc>,
    undeliverable: bool,
) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    f.header(
        "accesswatch_check_status",
        "gauge",
        "1 for the status of each check at its last run (ok, breach, unknown, not_in_force).",
    );
    for r in snapshot.results.values() {
        for status in STATUSES {
            f.sample(
                "accesswatch_check_status",
                &[("check", &r.id), ("status", status.as_str())],
                f64::from(u8::from(r.status == status)),
            );
        }
    }
    f.header(
        "accesswatch_group_status",
        "gauge",
        "1 for the status of each group of each check at its last run.",
    );
    for r in snapshot.results.values() {
        for g in &r.groups {
            let group = g.label_text();
            for status in STATUSES {
                f.sample(
                    "accesswatch_group_status",
                    &[
                        ("check", &r.id),
                        ("group", &group),
                        ("status", status.as_str()),
                    ],
                    f64::from(u8::from(g.status == status)),
                );
            }
        }
    }
    f.header(
        "accesswatch_group_value",
        "gauge",
        "The value of each group at the last run (ratio, count, share, mean wait, hours).",
    );
    for r in snapshot.results.values() {
        for g in r.groups.iter().filter(|g| g.value.is_some()) {
            f.sample(
                "accesswatch_group_value",
                &[("check", &r.id), ("group", &g.label_text())],
                g.value.unwrap_or(f64::NAN),
            );
        }
    }
    f.header(
        "accesswatch_group_limit",
        "gauge",
        "The limit each group's value is held to.",
    );
    for r in snapshot.results.values() {
        for g in &r.groups {
            f.sample(
                "accesswatch_group_limit",
                &[("check", &r.id), ("group", &g.label_text())],
                g.limit,
            );
        }
    }
    f.header(
        "accesswatch_group_compliance_ratio",
        "gauge",
        "Wait-time checks: the share of requests offered an appointment within the limit.",
    );
    for r in snapshot.results.values() {
        for g in &r.groups {
            if let Some(rate) = g.wait.as_ref().and_then(|w| w.rate) {
                f.sample(
                    "accesswatch_group_compliance_ratio",
                    &[("check", &r.id), ("group", &g.label_text())],
                    rate,
                );
            }
        }
    }
    f.header(
        "accesswatch_source_fetch_duration_seconds",
        "gauge",
        "How long the last fetch of each source took.",
    );
    for (source, s) in &snapshot.sources {
        f.sample(
            "accesswatch_source_fetch_duration_seconds",
            &[("source", source)],
            s.last_duration_seconds,
        );
    }
    f.header(
        "accesswatch_source_errors_total",
        "counter",
        "Failed fetches of each source since the daemon started.",
    );
    for (source, s) in &snapshot.sources {
        f.sample(
            "accesswatch_source_errors_total",
            &[("source", source)],
            s.errors_total as f64,
        );
    }
    f.header(
        "accesswatch_source_last_success_timestamp_seconds",
        "gauge",
        "When each source was last read successfully (Unix time).",
    );
    for (source, s) in &snapshot.sources {
        if let Some(t) = s.last_success {
            f.sample(
                "accesswatch_source_last_success_timestamp_seconds",
                &[("source", source)],
                t.timestamp() as f64,
            );
        }
    }
    f.header(
        "accesswatch_runs_total",
        "counter",
        "Runs since the daemon started.",
    );
    f.sample("accesswatch_runs_total", &[], snapshot.runs_total as f64);
    f.header(
        "accesswatch_last_run_timestamp_seconds",
        "gauge",
        "When the last run finished (Unix time).",
    );
    f.sample(
        "accesswatch_last_run_timestamp_seconds",
        &[],
        snapshot.last_run.map_or(0.0, |t| t.timestamp() as f64),
    );
    f.header(
        "accesswatch_last_run_duration_seconds",
        "gauge",
        "How long the last run took.",
    );
    f.sample(
        "accesswatch_last_run_duration_seconds",
        &[],
        snapshot.last_run_duration_seconds,
    );
    f.header("accesswatch_alerts", "gauge", "Open alerts by state.");
    for phase in [Phase::Pending, Phase::Firing] {
        let n = episodes.iter().filter(|e| e.phase == phase).count();
        f.sample("accesswatch_alerts", &[("state", phase.as_str())], n as f64);
    }
    f.header(
        "accesswatch_outbox_messages",
        "gauge",
        "Emails in the outbox not yet accepted by the SMTP server.",
    );
    f.sample("accesswatch_outbox_messages", &[], outbox.unsent as f64);
    f.header(
        "accesswatch_outbox_oldest_age_seconds",
        "gauge",
        "Age of the oldest unsent email (0 when none).",
    );
    f.sample(
        "accesswatch_outbox_oldest_age_seconds",
        &[],
        outbox
            .oldest_unsent
            .map_or(0.0, |t| (now - t).num_seconds().max(0) as f64),
    );
    f.header(
        "accesswatch_outbox_undeliverable",
        "gauge",
        "1 when an email has been unsent for longer than undeliverable_after.",
    );
    f.sample(
        "accesswatch_outbox_undeliverable",
        &[],
        f64::from(u8::from(undeliverable)),
    );
    f.header(
        "accesswatch_emails_sent_total",
        "counter",
        "Emails accepted by the SMTP server, as recorded in the state file.",
    );
    f.sample("accesswatch_emails_sent_total", &[], outbox.sent as f64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("two\nlines"), "two\\nlines");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(2.5), "2.5");
    }
}
