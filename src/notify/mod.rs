//! Who is told what: routing check results to recipients, rendering the
//! email, and sending it.
//!
//! [`digests`] (pure) picks, for each [`Route`], the breached and
//! unevaluable results it matches; [`render`] (pure) turns one [`Digest`]
//! into subject, text and HTML; [`mail`] is the only module that knows
//! lettre and does the sending (SMTP or `.eml` files).
//!
//! Two paths build digests: [`digests`] for the stateless `run --once
//! --notify` (every breached and unevaluable group, every run), and
//! `crate::record` for the daemon (only what the alert state says is due:
//! firing, reminders, resolutions), which fills [`DigestItem::notices`].

pub mod mail;
pub mod render;

use crate::alerts::Notice;
use crate::config::{Check, Route};
use crate::evaluate::{CheckResult, GroupResult, Status};

/// What one route is told about one run.
#[derive(Debug, Clone)]
pub struct Digest {
    pub route: Route,
    pub items: Vec<DigestItem>,
}

#[derive(Debug, Clone)]
pub struct DigestItem {
    pub result: CheckResult,
    pub check: Check,
    /// The groups this message is about: breached and unknown ones in the
    /// stateless path, the ones with a due notice in the stateful one.
    pub groups: Vec<GroupResult>,
    /// One notice per group in the stateful path; empty otherwise.
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

/// The digests of one run: one per route that has something to say.
pub fn digests(routes: &[Route], checks: &[Check], results: &[CheckResult]) -> Vec<Digest> {
    routes
        .iter()
        .filter_map(|route| {
            let items: Vec<DigestItem> = results
                .iter()
                .filter_map(|result| {
                    let check = checks.iter().find(|c| c.id == result.id)?;
                    digest_item(route, check, result)
                })
                .collect();
            (!items.is_empty()).then(|| Digest {
                route: route.clone(),
                items,
            })
        })
        .collect()
}

/// Whether `route` follows `check` (by id and severity; labels are per
/// group).
pub fn follows(route: &Route, check_id: &str, severity: crate::config::Severity) -> bool {
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

fn digest_item(route: &Route, check: &Check, result: &CheckResult) -> Option<DigestItem> {
    if !follows(route, &result.id, result.severity) {
        return None;
    }
    let groups: Vec<GroupResult> = result
        .groups
        .iter()
        .filter(|g| g.status == Status::Breach || g.status == Status::Unknown)
        .filter(|g| labels_match(route, &g.labels))
        .cloned()
        .collect();
    // A check that could not be evaluated at all is a blind spot for every
    // route that follows the check, whatever labels the route selects.
    let whole_check_failed = result.error.is_some();
    (whole_check_failed || !groups.is_empty()).then(|| DigestItem {
        result: result.clone(),
        check: check.clone(),
        groups,
        notices: Vec::new(),
    })
}
