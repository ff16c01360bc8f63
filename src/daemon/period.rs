//! The period report (`accesswatch report`): what the state file says
//! about a period, as evidence for an auditor. [`gather`] reads it (the
//! configuration adds only titles, standards and sources); [`json`] and
//! [`csv`] here and `period_html::html` render it, purely.
//!
//! Numbers are recomputed from the recorded evaluations with
//! `check::history::summary`: share of runs in breach, worst value and
//! when, median. The annual view for wait-time checks follows the DMHC's
//! Timely Access Compliance Report: per network (the check's groups) and
//! measurement year (calendar year in the daemon's time zone), the rate of
//! compliance against the target (70 %), and the networks below it, which
//! need a corrective action plan. The rate of a year is the mean of its
//! recorded rates (each over the check's window); a filing counts each
//! request of the year once, so back it with a check whose window is the
//! year, evaluated at its end.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike as _, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::check::history::{Note, Series, Summary, summary};
use crate::check::standards::Measure;
use crate::check::{Check, Op, Rule, Status};
use crate::config::Config;
use crate::notify::render;
use crate::state::{EpisodeRecord, Head, Store};

/// A check's part of the report.
#[derive(Debug, Clone)]
pub struct CheckPeriod {
    pub id: String,
    pub title: String,
    pub op: Op,
    pub limit: Option<f64>,
    /// Values are shares (0..1) shown as percentages.
    pub share: bool,
    pub groups: Vec<(Series, Summary)>,
}

/// Consecutive runs in which a check could not be evaluated at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub source: String,
    pub check_id: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub runs: usize,
}

/// One network's year under one wait-time standard.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnualRate {
    pub check_id: String,
    pub standard: String,
    pub network: String,
    pub year: i32,
    pub rate: Option<f64>,
    pub runs: usize,
    pub target: f64,
}

impl AnnualRate {
    /// Below the target: a corrective action plan is due.
    pub fn needs_plan(&self) -> bool {
        self.rate.is_some_and(|r| r < self.target)
    }
}

/// A standard (or a check's own citation) the period was judged by.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardUsed {
    pub check_id: String,
    pub standard: Option<String>,
    pub title: String,
    pub citation: String,
    /// "law" or "benchmark"; "plan target" for a check without a standard.
    pub basis: String,
    pub confidence: String,
    pub calendar: Option<String>,
    pub time_zone: String,
}

#[derive(Debug, Clone)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub zone: Tz,
    pub generated_at: DateTime<Utc>,
    pub state_file: String,
    pub checks: Vec<CheckPeriod>,
    pub episodes: Vec<EpisodeRecord>,
    pub notes: Vec<Note>,
    pub outages: Vec<Outage>,
    pub annual: Vec<AnnualRate>,
    pub standards: Vec<StandardUsed>,
    pub head: Option<Head>,
}

/// Reads the period `from..to` of `checks` (every check recorded in it,
/// when empty) from `store`.
pub fn gather(
    config: &Config,
    store: &Store,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    checks: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<Period> {
    let zone = config.daemon.time_zone;
    store.read(|tx| {
        let ids = if checks.is_empty() {
            let mut ids = tx.recorded_checks(from, to)?;
            for check in &config.checks {
                if !ids.contains(&check.id) {
                    ids.push(check.id.clone());
                }
            }
            ids
        } else {
            checks.to_vec()
        };
        let mut period = Period {
            from,
            to,
            zone,
            generated_at: now,
            state_file: store.describe(),
            checks: Vec::new(),
            episodes: Vec::new(),
            notes: Vec::new(),
            outages: Vec::new(),
            annual: Vec::new(),
            standards: Vec::new(),
            head: tx.trail_head()?,
        };
        for id in &ids {
            let check = config.checks.iter().find(|c| &c.id == id);
            let series = tx.series(id, None, from, to)?;
            period.checks.push(check_period(id, check, series));
            let failures = tx.check_failures(id, from, to)?;
            let source = check.map_or_else(|| "?".to_owned(), |c| c.source.clone());
            period.outages.extend(outages(id, &source, &failures));
            if let Some(check) = check {
                period.standards.push(standard_used(check, zone));
            }
        }
        period.annual = period
            .checks
            .iter()
            .filter_map(|c| Some((c, config.checks.iter().find(|k| k.id == c.id)?)))
            .flat_map(|(c, check)| annual(c, check, zone))
            .collect();
        period.episodes = tx
            .episodes_between(from, to)?
            .into_iter()
            .filter(|e| {
                ids.contains(&e.episode.check_id)
                    || (checks.is_empty()
                        && e.episode
                            .check_id
                            .starts_with(crate::check::DATA_UNAVAILABLE))
            })
            .collect();
        // Notes written after the period about its findings belong here too.
        period.notes = tx
            .notes(None, from, to.max(now) + chrono::Duration::seconds(1))?
            .into_iter()
            .filter(|n| ids.contains(&n.check_id))
            .collect();
        Ok(period)
    })
}

fn check_period(id: &str, check: Option<&Check>, series: Vec<Series>) -> CheckPeriod {
    let op = check.map_or(Op::Le, |c| c.comparison.op);
    CheckPeriod {
        id: id.to_owned(),
        title: check.map_or_else(
            || format!("{id} (no longer configured)"),
            |c| c.title.clone(),
        ),
        op,
        limit: check.map(|c| c.comparison.limit),
        share: check.is_some_and(
            |c| matches!(&c.rule, Rule::TimelyAccess(w) if w.measure == Measure::ShareWithinLimit),
        ),
        groups: series
            .into_iter()
            .map(|s| {
                let summary = summary(&s.points, op);
                (s, summary)
            })
            .collect(),
    }
}

/// The runs in which a check could not be evaluated, grouped into
/// periods: failed runs at most a day apart make one period.
fn outages(check_id: &str, source: &str, failures: &[crate::state::CheckFailure]) -> Vec<Outage> {
    let mut outages: Vec<Outage> = Vec::new();
    for failure in failures {
        match outages.last_mut() {
            // Runs of one outage are at most a day apart.
            Some(o) if failure.at - o.to <= chrono::Duration::days(1) => {
                o.to = failure.at;
                o.runs += 1;
            }
            _ => outages.push(Outage {
                source: source.to_owned(),
                check_id: check_id.to_owned(),
                from: failure.at,
                to: failure.at,
                runs: 1,
            }),
        }
    }
    outages
}

fn standard_used(check: &Check, zone: Tz) -> StandardUsed {
    match &check.rule {
        Rule::TimelyAccess(wait) => StandardUsed {
            check_id: check.id.clone(),
            standard: Some(wait.standard.id.to_owned()),
            title: wait.standard.title.to_owned(),
            citation: wait.standard.citation.to_owned(),
            basis: wait.standard.basis.as_str().to_owned(),
            confidence: format!(
                "{} ({})",
                wait.standard.confidence.letter(),
                wait.standard.confidence.describe()
            ),
            calendar: Some(wait.calendar.preset().name().to_owned()),
            time_zone: wait.time_zone.name().to_owned(),
        },
        _ => StandardUsed {
            check_id: check.id.clone(),
            standard: None,
            title: check.title.clone(),
            citation: check.citation.clone().unwrap_or_default(),
            basis: "plan target".to_owned(),
            confidence: "-".to_owned(),
            calendar: None,
            time_zone: zone.name().to_owned(),
        },
    }
}

/// The DMHC-style view of a wait-time check: per network and year.
fn annual(period: &CheckPeriod, check: &Check, zone: Tz) -> Vec<AnnualRate> {
    let Rule::TimelyAccess(wait) = &check.rule else {
        return Vec::new();
    };
    if wait.measure != Measure::ShareWithinLimit {
        return Vec::new();
    }
    let mut rates = Vec::new();
    for (series, _) in &period.groups {
        let mut years: BTreeMap<i32, Vec<f64>> = BTreeMap::new();
        let mut runs: BTreeMap<i32, usize> = BTreeMap::new();
        for point in &series.points {
            let year = point.at.with_timezone(&zone).year();
            *runs.entry(year).or_default() += 1;
            if let Some(v) = point.value.filter(|v| v.is_finite()) {
                years.entry(year).or_default().push(v);
            }
        }
        for (year, count) in runs {
            let values = years.get(&year).map_or(&[][..], |v| &v[..]);
            rates.push(AnnualRate {
                check_id: check.id.clone(),
                standard: wait.standard.short.to_owned(),
                network: series.group_key.clone(),
                year,
                rate: (!values.is_empty())
                    .then(|| values.iter().sum::<f64>() / values.len() as f64),
                runs: count,
                target: wait.target,
            });
        }
    }
    rates
}

pub(super) fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) use crate::notify::render::local_time as local;

/// A value as the report shows it: a percentage for shares.
pub(super) fn value_text(check: &CheckPeriod, value: f64) -> String {
    if check.share {
        render::percent(value)
    } else {
        render::number(value)
    }
}

fn number(value: Option<f64>) -> Value {
    value
        .filter(|v| v.is_finite())
        .map_or(Value::Null, |v| json!(v))
}

pub fn json(period: &Period) -> Value {
    let checks: Vec<Value> = period
        .checks
        .iter()
        .map(|c| {
            let groups: Vec<Value> = c
                .groups
                .iter()
                .map(|(s, summary)| {
                    json!({
                        "group": s.group_key,
                        "labels": s.labels,
                        "runs": summary.runs,
                        "breached_runs": summary.breached,
                        "breach_share": number(summary.breach_share()),
                        "median": number(summary.median),
                        "worst": number(summary.worst.map(|w| w.0)),
                        "worst_at": summary.worst.map(|w| utc(w.1)),
                        "series": s.points.iter().map(|p| json!({
                            "at": utc(p.at),
                            "status": p.status.as_str(),
                            "value": number(p.value),
                            "limit": number(Some(p.limit)),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({"id": c.id, "title": c.title, "op": c.op.as_str(), "limit": c.limit, "groups": groups})
        })
        .collect();
    let episodes: Vec<Value> = period.episodes.iter().map(episode_json).collect();
    json!({
        "from": utc(period.from),
        "to": utc(period.to),
        "time_zone": period.zone.name(),
        "generated_at": utc(period.generated_at),
        "state_file": period.state_file,
        "trail_head": period.head.as_ref().map(|h| json!({"record": h.id, "sha256": h.hash, "records": h.records})),
        "checks": checks,
        "episodes": episodes,
        "notes": period.notes.iter().map(|n| json!({
            "check": n.check_id, "labels": n.labels, "text": n.text, "by": n.by, "at": utc(n.at),
        })).collect::<Vec<_>>(),
        "source_unavailable": period.outages.iter().map(|o| json!({
            "source": o.source, "check": o.check_id, "from": utc(o.from), "to": utc(o.to), "runs": o.runs,
        })).collect::<Vec<_>>(),
        "annual": period.annual.iter().map(|a| json!({
            "check": a.check_id, "standard": a.standard, "network": a.network, "year": a.year,
            "rate": number(a.rate), "runs": a.runs, "target": a.target,
            "corrective_action_plan": a.needs_plan(),
        })).collect::<Vec<_>>(),
        "standards": period.standards.iter().map(|s| json!({
            "check": s.check_id, "standard": s.standard, "title": s.title, "citation": s.citation,
            "basis": s.basis, "confidence": s.confidence, "calendar": s.calendar, "time_zone": s.time_zone,
        })).collect::<Vec<_>>(),
    })
}

fn episode_json(record: &EpisodeRecord) -> Value {
    let e = &record.episode;
    let first = record.messages.first();
    json!({
        "check": e.check_id,
        "group": e.group_key,
        "severity": e.severity.as_str(),
        "phase": e.phase.as_str(),
        "pending_since": utc(e.started_at),
        "fired_at": e.firing_since.map(utc),
        "first_told": first.map(|m| json!({
            "at": utc(m.queued_at), "sent_at": m.sent_at.map(utc), "route": m.route,
            "message_id": m.message_id, "recipients": m.recipients,
        })),
        "reminders": e.reminders,
        "thread": record.messages.iter().skip(1).map(|m| json!({
            "at": utc(m.queued_at), "sent_at": m.sent_at.map(utc), "route": m.route,
            "message_id": m.message_id, "recipients": m.recipients,
        })).collect::<Vec<_>>(),
        "acknowledgements": record.acks.iter().map(|a| json!({
            "by": a.by, "at": utc(a.at), "until": a.until.map(utc), "note": a.note,
        })).collect::<Vec<_>>(),
        "resolved_at": e.resolved_at.map(utc),
        "resolution_told_at": e.resolution_notified_at.map(utc),
        "closed": record.closed,
        "closing_note": record.note,
    })
}

/// One row per check, group and run: the columns of [`CSV_HEADER`].
pub fn csv(period: &Period) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER)?;
    for c in &period.checks {
        for (s, _) in &c.groups {
            for p in &s.points {
                let value = p.value.map(|v| v.to_string()).unwrap_or_default();
                writer.write_record([
                    c.id.as_str(),
                    c.title.as_str(),
                    s.group_key.as_str(),
                    &utc(p.at),
                    &local(p.at, period.zone),
                    p.status.as_str(),
                    &value,
                    c.op.as_str(),
                    &p.limit.to_string(),
                    if p.status == Status::Breach { "1" } else { "0" },
                ])?;
            }
        }
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8(bytes)?)
}

/// The CSV layout (README, "Evidence for audits").
pub const CSV_HEADER: [&str; 10] = [
    "check_id",
    "check_title",
    "group",
    "evaluated_at_utc",
    "evaluated_at_local",
    "status",
    "value",
    "op",
    "limit",
    "breach",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::CheckFailure;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH
            + chrono::Duration::days(20_000)
            + chrono::Duration::hours(hours)
    }

    fn check(failures: &[i64], expected: &[(i64, i64, usize)]) {
        let failures: Vec<CheckFailure> = failures
            .iter()
            .map(|h| CheckFailure {
                check_id: "c".to_owned(),
                at: at(*h),
            })
            .collect();
        let got: Vec<(DateTime<Utc>, DateTime<Utc>, usize)> = outages("c", "s", &failures)
            .into_iter()
            .map(|o| (o.from, o.to, o.runs))
            .collect();
        let expected: Vec<_> = expected
            .iter()
            .map(|(f, t, n)| (at(*f), at(*t), *n))
            .collect();
        assert_eq!(got, expected, "{failures:?}");
    }

    #[test]
    fn failed_runs_at_most_a_day_apart_are_one_outage() {
        check(&[], &[]);
        check(&[0], &[(0, 0, 1)]);
        check(&[0, 1, 25], &[(0, 25, 3)]);
        check(&[0, 1, 26, 200], &[(0, 1, 2), (26, 26, 1), (200, 200, 1)]);
    }

    #[test]
    fn a_network_below_the_target_needs_a_plan() {
        let rate = |rate: Option<f64>| AnnualRate {
            check_id: "c".to_owned(),
            standard: "s".to_owned(),
            network: "n".to_owned(),
            year: 2026,
            rate,
            runs: 1,
            target: 0.7,
        };
        assert!(rate(Some(0.69)).needs_plan());
        assert!(!rate(Some(0.7)).needs_plan());
        assert!(
            !rate(None).needs_plan(),
            "no data is not a finding of its own here"
        );
    }
}
