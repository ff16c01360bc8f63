//! Who is told what: routing check results to recipients, rendering the
//! email, and sending it.
//!
//! [`digests`] (pure) picks, for each [`Route`], the breached and
//! unevaluable results it matches; [`render`] (pure) turns one [`Digest`]
//! into subject, text and HTML; [`mail`] is the only module that knows
//! lettre and does the sending (SMTP or `.eml` files).
//!
//! Alert state (told once, reminded, resolved) is not kept here yet: every
//! run that finds a breach sends it again. The alert-state issue adds that
//! between evaluation and this module.

pub mod mail;
pub mod render;

use crate::config::{Check, Route};
use crate::evaluate::{CheckResult, GroupResult, Status};

/// What one route is told about one run.
#[derive(Debug)]
pub struct Digest<'a> {
    pub route: &'a Route,
    pub items: Vec<DigestItem<'a>>,
}

#[derive(Debug)]
pub struct DigestItem<'a> {
    pub result: &'a CheckResult,
    pub check: &'a Check,
    /// Breached and unknown groups of this check that the route matches.
    pub groups: Vec<&'a GroupResult>,
}

impl Digest<'_> {
    pub fn breach_count(&self) -> usize {
        self.items
            .iter()
            .flat_map(|i| &i.groups)
            .filter(|g| g.status == Status::Breach)
            .count()
    }
}

/// The digests of one run: one per route that has something to say.
pub fn digests<'a>(
    routes: &'a [Route],
    checks: &'a [Check],
    results: &'a [CheckResult],
) -> Vec<Digest<'a>> {
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
            (!items.is_empty()).then_some(Digest { route, items })
        })
        .collect()
}

fn digest_item<'a>(
    route: &Route,
    check: &'a Check,
    result: &'a CheckResult,
) -> Option<DigestItem<'a>> {
    let check_matches = (route.checks.is_empty() || route.checks.contains(&result.id))
        && (route.severities.is_empty() || route.severities.contains(&result.severity));
    if !check_matches {
        return None;
    }
    let groups: Vec<&GroupResult> = result
        .groups
        .iter()
        .filter(|g| g.status != Status::Ok)
        .filter(|g| {
            route
                .labels
                .iter()
                .all(|(key, value)| g.labels.get(key) == Some(value))
        })
        .collect();
    // A check that could not be evaluated at all is a blind spot for every
    // route that follows the check, whatever labels the route selects.
    let whole_check_failed = result.error.is_some();
    (whole_check_failed || !groups.is_empty()).then_some(DigestItem {
        result,
        check,
        groups,
    })
}
