//! The domain's vocabulary: what a check is, the rule it applies, the
//! result it gives, the alert it may raise, and the law it cites. Every
//! stage speaks these types; this module imports none of the stages (only
//! `table`'s formats, through nothing), so dependencies point one way:
//! `config` reads TOML and *assembles* these values, `evaluate` judges them,
//! `alerts` and `notify` act on the results.
//!
//! - this file: [`Check`], [`Rule`], [`Comparison`]/[`Op`], [`Severity`],
//!   [`Aggregate`], [`Route`], [`Maintenance`];
//! - [`result`]: [`CheckResult`], [`GroupResult`], [`Status`], the wait-time
//!   [`WaitStats`];
//! - [`alert`]: an alert's [`Episode`], [`Phase`], [`Policy`] and [`Notice`];
//! - [`history`]: a group's recorded [`Series`](history::Series), its
//!   [`Trend`](history::Trend) and a period's [`Summary`](history::Summary);
//! - [`wait`]: [`WaitRule`], a validated `timely_access` rule;
//! - [`fields`]: the canonical appointment fields and value maps;
//! - [`standards`]: the built-in catalog of access standards (data);
//! - [`calendar`]: business days (pure arithmetic);
//! - [`schedule`]: crontab(5) schedules (the only module that knows croner);
//! - [`clock`]: [`Clock`](clock::Clock), the time as a parameter;
//! - [`secret`]: [`Secret`], a value that masks itself.

pub mod alert;
pub mod calendar;
pub mod clock;
pub mod fields;
pub mod history;
pub mod result;
pub mod schedule;
pub mod secret;
pub mod standards;
pub mod wait;

use std::collections::BTreeMap;

/// The check id prefix of a source's "data unavailable" alert
/// (`data-unavailable/SOURCE`), which `alerts::record` raises when a source
/// has failed for longer than its `max_stale`.
pub const DATA_UNAVAILABLE: &str = "data-unavailable/";

pub use alert::{Episode, Notice, Phase, Policy};
pub use result::{CheckResult, Counts, GroupResult, Status, WaitStats, label_text};
use schedule::Schedule;
pub use secret::Secret;
pub use wait::{TargetSource, WaitRule};

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

#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub citation: Option<String>,
    pub source: String,
    pub group_by: Vec<String>,
    /// A row with no value for a `group_by` field is rejected (counted and
    /// shown with its reason) instead of counted in the group "no FIELD".
    pub require_labels: bool,
    /// What the value measures, for subjects: "members per therapist".
    pub metric: String,
    pub rule: Rule,
    pub comparison: Comparison,
    pub schedule: Schedule,
    /// When to fire and how often to remind.
    pub policy: Policy,
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
    TimelyAccess(Box<WaitRule>),
    /// HRSA's mental health shortage rule over two ratios
    /// (`standards::hpsa_shortage`): `population` per `core` professional
    /// (the value shown) and per psychiatrist.
    Shortage {
        population: String,
        core: String,
        psychiatrists: String,
    },
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

impl Comparison {
    /// Whether `value` is on the healthy side of the limit.
    pub fn holds(self, value: f64) -> bool {
        let limit = self.limit;
        match self.op {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
        }
    }
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
    /// Receives every alert that no other route received (and nothing
    /// else); `checks`, `severities` and `labels` are then empty.
    pub fallback: bool,
    /// A critical alert this route follows that has fired this long
    /// without an acknowledgement is told, once, to another route.
    pub escalation: Option<Escalation>,
}

/// `escalate_after` and `escalate_to` of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub after: chrono::Duration,
    /// The name of the route told.
    pub to: String,
}
