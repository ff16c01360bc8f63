//! The life of an alert, per (check, group): `ok → pending → firing →
//! resolved`, and what is due to be told when. Pure: the time is a
//! parameter, and the state store keeps the [`Episode`]s between runs.
//!
//! - A breach opens a *pending* episode; it *fires* once it has been
//!   breached for `for` (a number of consecutive runs, or a duration).
//! - A pending episode that recovers is dropped: nobody was told.
//! - A firing episode *resolves* when the value is healthy again and, with
//!   `clear_at`, also on the healthy side of that recovery threshold, so a
//!   value hovering at the limit does not flap.
//! - `unknown` (data missing or unreadable) changes nothing: it never
//!   resolves an alert and never fires one.
//! - Due notices ([`due`]): a firing episode not yet told; a reminder every
//!   `repeat_interval` (growing by `repeat_backoff` each time, at most a
//!   week) unless acknowledged; one resolution message if the firing was
//!   told and `send_resolved` is on. A maintenance window holds all of them
//!   back; they are still due when it ends.
//!
//! This stage owns the lifecycle (here, pure) and [`record`]ing a run:
//! results, transitions and the emails they make due, in one transaction
//! of the state store. It uses `notify` to route and render and `state` to
//! keep; it never fetches, evaluates or sends.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

pub mod record;

use crate::check::{Episode, Escalation, Notice, Phase, Policy, Severity, Status};

/// The longest gap between reminders, whatever the back-off.
const MAX_REPEAT: Duration = Duration::days(7);

/// One run's finding about one (check, group).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub check_id: String,
    pub group_key: String,
    pub labels: BTreeMap<String, String>,
    pub severity: Severity,
    pub status: Status,
    pub value: Option<f64>,
    pub limit: f64,
    /// Healthy and, with `clear_at`, past the recovery threshold too.
    pub recovered: bool,
}

/// The episode after `observation`, or `None` when there is none (never
/// breached, or a pending one that recovered).
pub fn observe(
    previous: Option<Episode>,
    observation: &Observation,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<Episode> {
    let o = observation;
    let Some(mut episode) = previous.filter(|e| e.phase != Phase::Resolved) else {
        return (o.status == Status::Breach).then(|| fire_if_due(new_episode(o, now), policy, now));
    };
    episode.last_status = o.status;
    episode.last_seen_at = now;
    episode.severity = o.severity;
    if o.value.is_some() {
        episode.last_value = o.value;
        episode.last_limit = o.limit;
    }
    match (o.status, episode.phase) {
        (Status::Breach, _) => {
            episode.breaches += 1;
            Some(fire_if_due(episode, policy, now))
        }
        (Status::Unknown | Status::NotInForce, _) => Some(episode),
        (Status::Ok, Phase::Pending) => None,
        (Status::Ok, _) if o.recovered => {
            episode.phase = Phase::Resolved;
            episode.resolved_at = Some(now);
            episode.breaches = 0;
            Some(episode)
        }
        // Healthy but not past clear_at: still firing, no longer breaching.
        (Status::Ok, _) => {
            episode.breaches = 0;
            Some(episode)
        }
    }
}

fn new_episode(o: &Observation, now: DateTime<Utc>) -> Episode {
    Episode {
        id: None,
        check_id: o.check_id.clone(),
        group_key: o.group_key.clone(),
        labels: o.labels.clone(),
        severity: o.severity,
        phase: Phase::Pending,
        started_at: now,
        firing_since: None,
        resolved_at: None,
        breaches: 1,
        last_status: o.status,
        last_value: o.value,
        last_limit: o.limit,
        last_seen_at: now,
        notified_at: None,
        reminders: 0,
        next_reminder_at: None,
        resolution_notified_at: None,
        threads: BTreeMap::new(),
        ack_until: None,
        ack_by: None,
    }
}

fn fire_if_due(mut episode: Episode, policy: &Policy, now: DateTime<Utc>) -> Episode {
    if episode.phase == Phase::Pending
        && episode.breaches >= policy.for_runs
        && now - episode.started_at >= policy.for_duration
    {
        episode.phase = Phase::Firing;
        episode.firing_since = Some(now);
    }
    episode
}

/// What is due to be told about `episode` now; `None` in a maintenance
/// window, which holds every notice back until it ends.
pub fn due(
    episode: &Episode,
    policy: &Policy,
    now: DateTime<Utc>,
    in_maintenance: bool,
) -> Option<Notice> {
    if in_maintenance {
        return None;
    }
    match episode.phase {
        Phase::Pending => None,
        Phase::Firing if episode.notified_at.is_none() => Some(Notice::Firing),
        Phase::Firing => {
            let acknowledged = episode.ack_until.is_some_and(|until| until > now);
            let reminder_due = episode.next_reminder_at.is_some_and(|at| at <= now);
            (reminder_due && !acknowledged).then_some(Notice::Reminder)
        }
        Phase::Resolved => (policy.send_resolved
            && episode.notified_at.is_some()
            && episode.resolution_notified_at.is_none())
        .then_some(Notice::Resolved),
    }
}

/// Whether `episode` is due to be escalated by a route with `escalation`
/// at `now`: critical, firing and told for at least `after`, not
/// acknowledged, and not yet told to the escalation route.
pub fn escalation_due(episode: &Episode, escalation: &Escalation, now: DateTime<Utc>) -> bool {
    let acknowledged = episode.ack_until.is_some_and(|until| until > now);
    episode.phase == Phase::Firing
        && episode.severity == Severity::Critical
        && episode.notified_at.is_some()
        && episode
            .firing_since
            .is_some_and(|since| now - since >= escalation.after)
        && !acknowledged
        && !episode.threads.contains_key(&escalation.to)
}

/// Records that `notice` was queued for `episode` at `now`.
pub fn mark_told(episode: &mut Episode, notice: Notice, policy: &Policy, now: DateTime<Utc>) {
    match notice {
        Notice::Firing | Notice::Reminder => {
            if notice == Notice::Firing {
                episode.notified_at = Some(now);
            } else {
                episode.reminders += 1;
            }
            let factor = policy
                .repeat_backoff
                .max(1.0)
                .powi(episode.reminders as i32);
            let seconds = (policy.repeat_interval.num_seconds() as f64 * factor)
                .min(MAX_REPEAT.num_seconds() as f64);
            episode.next_reminder_at = now.checked_add_signed(Duration::seconds(seconds as i64));
        }
        Notice::Resolved => episode.resolution_notified_at = Some(now),
        // The escalation route's thread is its record (`threads`); the
        // reminder schedule goes on as it was.
        Notice::Escalated => {}
    }
}

#[cfg(test)]
mod tests;
