//! An alert's vocabulary: the [`Episode`] of one (check, group), its
//! [`Phase`], the [`Policy`] that says when it fires and how often it
//! reminds, and the [`Notice`] owed. The lifecycle itself (what a run's
//! finding does to an episode) is `alerts`'s.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{Severity, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Firing,
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Firing => "firing",
            Phase::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        [Phase::Pending, Phase::Firing, Phase::Resolved]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// How long a breach must last, and how often to remind.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub for_runs: u32,
    pub for_duration: Duration,
    pub repeat_interval: Duration,
    pub repeat_backoff: f64,
    pub send_resolved: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            for_runs: 1,
            for_duration: Duration::zero(),
            repeat_interval: Duration::hours(24),
            repeat_backoff: 1.0,
            send_resolved: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// Row id in the state store; `None` until stored.
    pub id: Option<i64>,
    pub check_id: String,
    pub group_key: String,
    pub labels: BTreeMap<String, String>,
    pub severity: Severity,
    pub phase: Phase,
    pub started_at: DateTime<Utc>,
    pub firing_since: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Consecutive breached runs.
    pub breaches: u32,
    pub last_status: Status,
    pub last_value: Option<f64>,
    pub last_limit: f64,
    pub last_seen_at: DateTime<Utc>,
    /// When the firing notice was queued.
    pub notified_at: Option<DateTime<Utc>>,
    pub reminders: u32,
    pub next_reminder_at: Option<DateTime<Utc>>,
    pub resolution_notified_at: Option<DateTime<Utc>>,
    /// Message-ID of the first message about this episode.
    /// Per route, the Message-ID of the first message that route got
    /// about this episode: later ones reply to it, and a route is never
    /// threaded to a message only another route received.
    pub threads: BTreeMap<String, String>,
    pub ack_until: Option<DateTime<Utc>>,
    pub ack_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Firing,
    Reminder,
    Resolved,
    /// Told to an escalation route: fired long unacknowledged.
    Escalated,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Firing => "firing",
            Notice::Reminder => "reminder",
            Notice::Resolved => "resolved",
            Notice::Escalated => "escalated",
        }
    }
}
