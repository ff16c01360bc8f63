//! Who is told what: routing check results to recipients, rendering the
//! email, and sending the outbox.
//!
//! [`follows`] and [`labels_match`] (pure) say whether a [`Route`] is told
//! about a check and group; [`render`] (pure) turns one [`Digest`]
//! into subject, text and HTML; [`chart`] (pure) draws a group's recorded
//! series as a PNG or SVG with its limit line, or a text sparkline;
//! [`delivery`] sends what the outbox holds
//! (marking a message sent only once the server took it); [`mail`] is the
//! only module that knows lettre and does the sending (SMTP or `.eml`
//! files), configured by [`spec`]. It never decides *whether* an alert is
//! due: that is `alerts`'s.
//!
//! Digests are built by `crate::alerts::record` from what the alert state says is
//! due (firing, reminders, resolutions, in [`DigestItem::notices`]) and by
//! `crate::cli::operator::render_check` for `accesswatch render`.

pub mod chart;
pub mod delivery;
pub mod mail;
pub mod page;
pub mod render;
pub mod spec;

use crate::check::Notice;
use crate::check::{Check, Route};
use crate::check::{CheckResult, GroupResult, Status};

/// What one route is told about one run.
#[derive(Debug, Clone)]
pub struct Digest {
    pub route: Route,
    pub items: Vec<DigestItem>,
    /// Notes staff recorded on the alerts told (each shown under its check).
    pub notes: Vec<crate::check::history::Note>,
}

#[derive(Debug, Clone)]
pub struct DigestItem {
    pub result: CheckResult,
    pub check: Check,
    /// The groups this message is about: those with a due notice (from the
    /// alert state), or, for `render` and for checks that could not be
    /// evaluated, the breached and unknown ones.
    pub groups: Vec<GroupResult>,
    /// One notice per group when the groups come from the alert state;
    /// empty otherwise.
    pub notices: Vec<Notice>,
}

impl DigestItem {
    /// The groups the subject is about.
    pub fn concerned(&self) -> impl Iterator<Item = &GroupResult> {
        let stateful = !self.notices.is_empty();
        self.groups
            .iter()
            .filter(move |g| stateful || g.status == Status::Breach)
    }
}

impl Digest {
    pub fn breach_count(&self) -> usize {
        self.items
            .iter()
            .flat_map(|i| &i.groups)
            .filter(|g| g.status == Status::Breach)
            .count()
    }
}

/// Whether `route` follows `check` (by id and severity; labels are per
/// group).
pub fn follows(route: &Route, check_id: &str, severity: crate::check::Severity) -> bool {
    (route.checks.is_empty() || route.checks.iter().any(|c| c == check_id))
        && (route.severities.is_empty() || route.severities.contains(&severity))
}

/// Whether `route`'s label matchers all hold for `labels`.
pub fn labels_match(route: &Route, labels: &std::collections::BTreeMap<String, String>) -> bool {
    route
        .labels
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
}
