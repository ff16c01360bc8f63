//! `[alerting]`, the per-check alerting keys (`for`, `clear_at`,
//! `repeat_interval`, `repeat_backoff`, `send_resolved`), `max_stale` of
//! sources, and `[[maintenance]]` windows.

use std::collections::{BTreeMap, BTreeSet};

use super::Validator;
use crate::check::Policy;
use crate::config::load::Entry;
use crate::config::raw::*;
use crate::config::*;

/// What `[alerting]` sets for every check and source that does not set it.
#[derive(Debug, Clone)]
pub(super) struct Defaults {
    pub policy: Policy,
    pub max_stale: chrono::Duration,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            policy: Policy::default(),
            max_stale: chrono::Duration::hours(26),
        }
    }
}

fn duration(
    v: &mut Validator,
    value: &Option<S<String>>,
    key: &str,
    default: chrono::Duration,
) -> chrono::Duration {
    let std_default = default.to_std().unwrap_or_default();
    chrono::Duration::from_std(v.duration(value, key, std_default)).unwrap_or(default)
}

pub(super) fn alerting(
    v: &mut Validator,
    entry: Option<&Entry<RawAlerting>>,
) -> (Defaults, Alerting) {
    let empty = RawAlerting::default();
    let raw = entry.map_or(&empty, |e| &e.value);
    let base = Defaults::default();
    let policy = policy(
        v,
        &raw.for_,
        &raw.repeat_interval,
        &raw.repeat_backoff,
        &raw.send_resolved,
        &base.policy,
    );
    let defaults = Defaults {
        policy,
        max_stale: duration(v, &raw.max_stale, "max_stale", base.max_stale),
    };
    let alerting = Alerting {
        undeliverable_after: duration(
            v,
            &raw.undeliverable_after,
            "undeliverable_after",
            chrono::Duration::hours(6),
        ),
        retention: duration(v, &raw.retention, "retention", chrono::Duration::days(400)),
    };
    (defaults, alerting)
}

/// A policy from the given keys, each defaulting to `base`.
pub(super) fn policy(
    v: &mut Validator,
    for_: &Option<S<String>>,
    repeat_interval: &Option<S<String>>,
    repeat_backoff: &Option<S<f64>>,
    send_resolved: &Option<S<bool>>,
    base: &Policy,
) -> Policy {
    let mut policy = base.clone();
    if let Some(value) = for_ {
        let text = value.get_ref().trim();
        let runs = text
            .strip_suffix("runs")
            .or_else(|| text.strip_suffix("run"))
            .map(|n| n.trim().parse::<u32>());
        match runs {
            Some(Ok(n)) if n >= 1 => {
                policy.for_runs = n;
                policy.for_duration = chrono::Duration::zero();
            }
            Some(_) => v.problem(
                value.span(),
                "`for` counts at least one run, like \"3 runs\"",
            ),
            None => match super::parse_duration(text) {
                Ok(d) => {
                    policy.for_runs = 1;
                    policy.for_duration = chrono::Duration::from_std(d).unwrap_or_default();
                }
                Err(e) if humantime::parse_duration(text).is_ok() => {
                    v.problem(value.span(), format!("`for` {e}"))
                }
                Err(_) => v.problem(
                    value.span(),
                    "`for` is a number of consecutive runs (\"3 runs\") or a duration (\"2h\")",
                ),
            },
        }
    }
    let interval = base.repeat_interval.to_std().unwrap_or_default();
    policy.repeat_interval =
        chrono::Duration::from_std(v.duration(repeat_interval, "repeat_interval", interval))
            .unwrap_or(base.repeat_interval);
    if let Some(backoff) = repeat_backoff {
        if v.finite(backoff, "repeat_backoff")
            .is_some_and(|b| (1.0..=10.0).contains(&b))
        {
            policy.repeat_backoff = *backoff.get_ref();
        } else {
            v.problem(
                backoff.span(),
                "`repeat_backoff` multiplies the reminder interval: between 1 (none) and 10",
            );
        }
    }
    if let Some(send) = send_resolved {
        policy.send_resolved = *send.get_ref();
    }
    policy
}

/// `clear_at` must lie on the healthy side of the limit, or it would never
/// let an alert resolve.
pub(super) fn clear_at(
    v: &mut Validator,
    raw: &RawCheck,
    comparison: Option<Comparison>,
) -> Option<f64> {
    let value = raw.clear_at.as_ref()?;
    let clear = v.finite(value, "clear_at")?;
    if let Some(c) = comparison
        && !c.holds(clear)
    {
        v.problem(
            value.span(),
            format!(
                "`clear_at` = {clear} is on the breached side of `{} {}`: pick a value that is healthy, past the limit",
                c.op.as_str(),
                c.limit
            ),
        );
        return None;
    }
    Some(clear)
}

pub(super) fn maintenance(
    v: &mut Validator,
    entry: &Entry<RawMaintenance>,
    default_tz: Tz,
    check_ids: &BTreeSet<&str>,
) -> Option<Maintenance> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let name = v
        .required(&raw.name, span, "`name` in [[maintenance]]")
        .map(|n| n.get_ref().clone());
    let tz = match &raw.time_zone {
        Some(tz) => v.time_zone(tz, "time_zone"),
        None => Some(default_tz),
    };
    let mut time = |key: &str, value: &Option<S<String>>| {
        let value = v.required(
            value,
            span,
            &format!("`{key}` in [[maintenance]] (like \"2026-12-24T18:00\")"),
        )?;
        match parse_local(value.get_ref(), tz?) {
            Some(t) => Some(t),
            None => {
                v.problem(
                    value.span(),
                    format!("`{key}` is not a time: write it like \"2026-12-24T18:00\" (in time_zone) or with an offset"),
                );
                None
            }
        }
    };
    let (start, end) = (time("start", &raw.start), time("end", &raw.end));
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        v.problem(span.clone(), "[[maintenance]] `end` must be after `start`");
        return None;
    }
    let checks = super::check_ids(v, &raw.checks, check_ids);
    let labels: BTreeMap<String, String> = raw
        .labels
        .iter()
        .flatten()
        .map(|(k, value)| (k.clone(), value.get_ref().clone()))
        .collect();
    Some(Maintenance {
        name: name?,
        start: start?,
        end: end?,
        checks,
        labels,
    })
}

/// RFC 3339, or a local date and time (minutes or seconds) in `zone`.
fn parse_local(text: &str, zone: Tz) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone as _;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    let naive = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.to_utc())
}
