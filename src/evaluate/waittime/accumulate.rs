//! What one request counts as ([`outcome`]), and the per-group totals
//! ([`GroupAcc`]) that become a group's result. Pure.
//!
//! Waits are kept as a histogram of "ticks" (whole days for day units,
//! minutes for hours), so the median and 90th percentile are exact and
//! memory depends on the spread of waits, not on the number of rows.

use std::collections::BTreeMap;

use super::timestamp::Stamp;
use crate::check::standards::{Measure, Unit};
use crate::check::{Counts, WaitRule, WaitStats};
use crate::check::{GroupResult, Status};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Outside the window, or a request the standard does not apply to.
    Skipped,
    Rejected(String),
    Compliant {
        wait: Option<i64>,
        extended: bool,
    },
    Noncompliant {
        wait: Option<i64>,
        open_for: Option<i64>,
    },
    Pending {
        open_for: i64,
    },
}

impl Outcome {
    pub fn rejected(reason: impl Into<String>) -> Outcome {
        Outcome::Rejected(reason.into())
    }
}

fn ticks_per_unit(unit: Unit) -> i64 {
    match unit {
        Unit::Hours => 60,
        Unit::BusinessDays | Unit::CalendarDays => 1,
    }
}

/// The wait from `start` to `end` in ticks of the rule's unit.
fn wait_ticks(rule: &WaitRule, start: Stamp, end: Stamp) -> i64 {
    match rule.unit {
        Unit::Hours => (end.utc - start.utc).div_euclid(60),
        Unit::CalendarDays => i64::from(end.local_day - start.local_day),
        Unit::BusinessDays => rule
            .calendar
            .business_days(start.local_date(), end.local_date()),
    }
}

/// Whether a wait of `ticks` is past the limit.
fn past_limit(rule: &WaitRule, ticks: i64) -> bool {
    ticks as f64 > rule.limit * ticks_per_unit(rule.unit) as f64
}

/// Classifies one request that passed the window, selection and sanity
/// checks.
pub fn outcome(
    rule: &WaitRule,
    start: Stamp,
    offer: Option<Stamp>,
    extended: bool,
    as_of: Stamp,
) -> Outcome {
    let wait = offer.map(|offer| wait_ticks(rule, start, offer));
    if extended {
        return Outcome::Compliant { wait, extended };
    }
    match wait {
        Some(ticks) if past_limit(rule, ticks) => Outcome::Noncompliant {
            wait,
            open_for: None,
        },
        Some(_) => Outcome::Compliant { wait, extended },
        None => {
            let open_for = wait_ticks(rule, start, as_of);
            if past_limit(rule, open_for) {
                Outcome::Noncompliant {
                    wait: None,
                    open_for: Some(open_for),
                }
            } else {
                Outcome::Pending { open_for }
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct GroupAcc {
    counts: Counts,
    /// Wait of each offered request, in ticks → how many.
    waits: BTreeMap<i64, u64>,
    overdue_open: u64,
    longest_open: Option<i64>,
}

impl GroupAcc {
    pub fn count(&mut self, outcome: Outcome) {
        let mut wait_seen = None;
        match outcome {
            Outcome::Skipped => {}
            Outcome::Rejected(_) => self.counts.rejected += 1,
            Outcome::Compliant { wait, extended } => {
                self.counts.compliant += 1;
                self.counts.extended += u64::from(extended);
                wait_seen = wait;
            }
            Outcome::Noncompliant { wait, open_for } => {
                self.counts.noncompliant += 1;
                wait_seen = wait;
                if let Some(open_for) = open_for {
                    self.overdue_open += 1;
                    self.longest_open = self.longest_open.max(Some(open_for));
                }
            }
            Outcome::Pending { open_for } => {
                self.counts.pending += 1;
                self.longest_open = self.longest_open.max(Some(open_for));
            }
        }
        if let Some(wait) = wait_seen {
            *self.waits.entry(wait).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: GroupAcc) {
        let (a, b) = (&mut self.counts, other.counts);
        a.compliant += b.compliant;
        a.noncompliant += b.noncompliant;
        a.pending += b.pending;
        a.extended += b.extended;
        a.rejected += b.rejected;
        for (wait, n) in other.waits {
            *self.waits.entry(wait).or_default() += n;
        }
        self.overdue_open += other.overdue_open;
        self.longest_open = self.longest_open.max(other.longest_open);
    }

    /// The value at 1-based rank ⌈q·n⌉ of the sorted waits (nearest rank).
    fn quantile(&self, q: f64) -> Option<i64> {
        let n: u64 = self.waits.values().sum();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        self.waits.iter().find_map(|(wait, count)| {
            seen += count;
            (seen >= rank).then_some(*wait)
        })
    }

    fn mean(&self) -> Option<f64> {
        let n: u64 = self.waits.values().sum();
        let total: f64 = self.waits.iter().map(|(w, c)| *w as f64 * *c as f64).sum();
        (n > 0).then(|| total / n as f64)
    }

    pub fn finish(self, labels: BTreeMap<String, String>, rule: &WaitRule) -> GroupResult {
        let c = self.counts;
        let per = ticks_per_unit(rule.unit) as f64;
        let in_units = |ticks: i64| ticks as f64 / per;
        let measured = c.compliant + c.noncompliant;
        let rate = (measured > 0).then(|| c.compliant as f64 / measured as f64);
        let mean = self.mean().map(|m| m / per);
        let rows = measured + c.pending + c.rejected;
        let rejected_share = if rows == 0 {
            0.0
        } else {
            c.rejected as f64 / rows as f64
        };
        let (value, limit) = match rule.measure {
            Measure::ShareWithinLimit => (rate, rule.target),
            Measure::MeanWait => (mean, rule.limit),
        };
        let (status, error) = if rejected_share > rule.max_rejected {
            let error = format!(
                "{} of {rows} rows rejected ({:.1} %), more than max_rejected ({:.1} %)",
                c.rejected,
                rejected_share * 100.0,
                rule.max_rejected * 100.0
            );
            (Status::Unknown, Some(error))
        } else {
            let ok = match (rule.measure, value) {
                (_, None) => true,
                (Measure::ShareWithinLimit, Some(rate)) => rate >= rule.target,
                (Measure::MeanWait, Some(mean)) => mean <= rule.limit,
            };
            (if ok { Status::Ok } else { Status::Breach }, None)
        };
        GroupResult {
            labels,
            status,
            value,
            limit,
            rows: rows as usize,
            error,
            wait: Some(WaitStats {
                counts: c,
                rate,
                target: (rule.measure == Measure::ShareWithinLimit).then_some(rule.target),
                median_wait: self.quantile(0.5).map(in_units),
                p90_wait: self.quantile(0.9).map(in_units),
                mean_wait: mean,
                overdue_open: self.overdue_open,
                longest_open_wait: self.longest_open.map(in_units),
                unit: rule.unit,
                limit: rule.limit,
            }),
        }
    }
}
