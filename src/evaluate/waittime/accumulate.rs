//! What one request counts as ([`outcome`]), and the per-group totals
//! ([`GroupAcc`]) that become a group's result. Pure.
//!
//! Whether a wait is past the limit is decided exactly: to the nanosecond
//! for limits in minutes and hours, by whole local days for day units.
//! For the median and 90th percentile, waits are kept as a histogram of
//! "ticks" (whole days for day units, whole minutes for hours, whole
//! seconds for minutes), so memory depends on the spread of waits, not
//! on the number of rows.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::timestamp::Stamp;
use crate::check::standards::{Measure, Unit};
use crate::check::{Counts, TargetSource, WaitRule, WaitStats};
use crate::check::{GroupResult, Status};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Outside the window, or a request the standard does not apply to.
    Skipped,
    /// The request's clock started before the standard (or its provider
    /// type) took effect: not judged, counted apart.
    BeforeEffective,
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
        // Seconds of a minute, minutes of an hour.
        Unit::Minutes | Unit::Hours => 60,
        Unit::BusinessDays | Unit::CalendarDays => 1,
    }
}

/// The wait from `start` to `end` in whole ticks of the rule's unit.
fn wait_ticks(rule: &WaitRule, start: Stamp, end: Stamp) -> i64 {
    match rule.unit {
        Unit::Minutes => end.utc - start.utc - i64::from(end.nanos < start.nanos),
        Unit::Hours => (end.utc - start.utc - i64::from(end.nanos < start.nanos)).div_euclid(60),
        Unit::CalendarDays => i64::from(end.local_day - start.local_day),
        Unit::BusinessDays => rule
            .calendar
            .business_days_between(start.local_day, end.local_day),
    }
}

/// Whether the wait from `start` to `end`, `ticks` long ([`wait_ticks`]),
/// is past the limit: by whole days for day units (`ticks`, counted
/// once), exactly, to the nanosecond, for minutes and hours (48 h and 1 s
/// is past 48 h).
fn past_limit(rule: &WaitRule, start: Stamp, end: Stamp, ticks: i64) -> bool {
    let seconds = match rule.unit {
        Unit::Minutes => 60.0,
        Unit::Hours => 3600.0,
        Unit::BusinessDays | Unit::CalendarDays => return ticks as f64 > rule.limit,
    };
    let limit_nanos = (rule.limit * seconds * 1e9).round() as i128;
    start.nanos_until(end) > limit_nanos
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
    match offer {
        Some(offer) => {
            let wait = wait_ticks(rule, start, offer);
            if extended {
                Outcome::Compliant {
                    wait: Some(wait),
                    extended,
                }
            } else if past_limit(rule, start, offer, wait) {
                Outcome::Noncompliant {
                    wait: Some(wait),
                    open_for: None,
                }
            } else {
                Outcome::Compliant {
                    wait: Some(wait),
                    extended,
                }
            }
        }
        None if extended => Outcome::Compliant {
            wait: None,
            extended,
        },
        None => {
            let open_for = wait_ticks(rule, start, as_of);
            if past_limit(rule, start, as_of, open_for) {
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

/// How many waits of each length, in ticks. Short waits (most of them:
/// days, or minutes up to eight and a half hours) are counted in a vector
/// indexed by the wait. Long ones are appended to `pending` as they come
/// and merged, sorted, into `long` when `pending` has grown to a quarter
/// of it ([`Histogram::seal`]): writes that go one after another, not a
/// hash probe into a table that no cache holds once eighty checks count
/// a row in hundreds of groups (the probes were a sixteenth of such a
/// pass), and a merge that reads each list in order, a few times per
/// wait at most. The waits are in order when the group's result is made
/// ([`Histogram::sorted`]), and the counts that checks share are summed
/// into each check's groups by merging lists in order
/// (`Shared::roll_up`).
#[derive(Debug, Clone, Default)]
struct Histogram {
    dense: Vec<u64>,
    /// Long waits not yet in `long`, in the order they came.
    pending: Vec<(i64, u64)>,
    /// Long waits (not in `dense`), in increasing order, each once. A
    /// wait may be in both `pending` and `long`; [`Histogram::sorted`]
    /// adds them up.
    long: Vec<(i64, u64)>,
}

/// Waits below this many ticks are counted in `Histogram::dense`.
const DENSE_TICKS: i64 = 512;

/// `Histogram::pending` is merged into `long` at this many waits, or a
/// quarter of `long`'s if more (fewer in tests, to merge often).
#[cfg(not(test))]
const PENDING_MIN: usize = 256;
#[cfg(test)]
const PENDING_MIN: usize = 4;

impl Histogram {
    fn add(&mut self, wait: i64, n: u64) {
        match usize::try_from(wait) {
            Ok(index) if wait < DENSE_TICKS => {
                if self.dense.len() <= index {
                    self.dense.resize(index + 1, 0);
                }
                self.dense[index] += n;
            }
            _ => {
                self.pending.push((wait, n));
                if self.pending.len() >= PENDING_MIN.max(self.long.len() / 4) {
                    self.seal();
                }
            }
        }
    }

    /// Moves the waits of `pending` into `long`, in order.
    fn seal(&mut self) {
        if !self.pending.is_empty() {
            let mut pending = std::mem::take(&mut self.pending);
            in_order(&mut pending);
            self.long = merge_sorted(&pending, &self.long);
            pending.clear();
            // Its room is kept for the waits to come.
            self.pending = pending;
        }
    }

    /// (wait, how many) in increasing order of wait, each wait once.
    #[cfg(test)]
    fn sorted(mut self) -> Vec<(i64, u64)> {
        self.seal();
        let long = self.long;
        // Waits below zero (none, in practice) come before the dense ones.
        let below = long.partition_point(|(wait, _)| *wait < 0);
        let mut waits = Vec::with_capacity(long.len() + self.dense.len());
        waits.extend_from_slice(&long[..below]);
        waits.extend(
            self.dense
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(wait, n)| (wait as i64, *n)),
        );
        waits.extend_from_slice(&long[below..]);
        waits
    }

    fn merge(&mut self, other: &Histogram) {
        self.merge_short(other);
        if !other.long.is_empty() {
            self.long = merge_sorted(&self.long, &other.long);
        }
    }

    /// Adds `other`'s `dense` and `pending` waits (not its `long`).
    fn merge_short(&mut self, other: &Histogram) {
        if self.dense.len() < other.dense.len() {
            self.dense.resize(other.dense.len(), 0);
        }
        for (mine, theirs) in self.dense.iter_mut().zip(&other.dense) {
            *mine += theirs;
        }
        self.pending.extend_from_slice(&other.pending);
    }
}

/// Sorts (wait, how many) by wait, adding up the counts of each wait.
fn in_order(waits: &mut Vec<(i64, u64)>) {
    waits.sort_unstable_by_key(|(wait, _)| *wait);
    waits.dedup_by(|(wait, n), (kept, count)| {
        let same = wait == kept;
        if same {
            *count += *n;
        }
        same
    });
}

/// Two lists of (wait, how many) in increasing order of wait, each wait
/// once, as one such list: the counts of a wait in both are added.
fn merge_sorted(a: &[(i64, u64)], b: &[(i64, u64)]) -> Vec<(i64, u64)> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let ((wa, na), (wb, nb)) = (a[i], b[j]);
        if wa < wb {
            merged.push((wa, na));
            i += 1;
        } else if wb < wa {
            merged.push((wb, nb));
            j += 1;
        } else {
            merged.push((wa, na + nb));
            i += 1;
            j += 1;
        }
    }
    merged.extend_from_slice(&a[i..]);
    merged.extend_from_slice(&b[j..]);
    merged
}

/// The waits of a group as the sorted lists they are kept in (a group's
/// own, or those of every shared group a check's group is the sum of:
/// `Evaluator::finish_on`), and the measures read from them without merging
/// the lists into one: the total and the sum in one pass over each, a
/// quantile by a search on the wait, counting the waits up to it in each
/// list by a binary search. After the pass, merging the lists of a
/// check's parts (hundreds of them, for a check without `group_by`
/// among eighty) copied each wait once per level of the merge, a
/// twentieth of the 80-check run's time.
struct Waits<'a> {
    /// How many short waits (`Histogram::dense`, summed over the parts)
    /// are of at most each length: a running total.
    dense: Vec<u64>,
    runs: Vec<Run<'a>>,
    total: u64,
    /// The waits summed, exactly.
    sum: i128,
    /// The shortest and the longest wait, when there is one.
    span: Option<(i64, i64)>,
}

/// A list of long waits ([`Waits`]), and the running total of its
/// counts, from 0 (one more entry than the list).
struct Run<'a> {
    waits: &'a [(i64, u64)],
    counts: Vec<u64>,
}

impl<'a> Waits<'a> {
    /// `f` of the sum of `parts` (sealed or not) but for their sealed
    /// long waits ([`GroupAcc::sum_short`]), and of the waits of all of
    /// them.
    fn of<R>(parts: &[&GroupAcc], f: impl FnOnce(&GroupAcc, &Waits<'_>) -> R) -> R {
        let sum = GroupAcc::sum_short(parts);
        let long = parts.iter().map(|p| &p.waits.long[..]);
        let waits = Waits::new(&sum.waits.dense, long.chain([&sum.waits.long[..]]));
        f(&sum, &waits)
    }

    /// The waits of `dense` (how many of each short length) and of
    /// `runs` (each in increasing order of wait, each wait once).
    fn new(dense: &[u64], runs: impl IntoIterator<Item = &'a [(i64, u64)]>) -> Waits<'a> {
        let mut total = 0_u64;
        let mut sum = 0_i128;
        let mut span: Option<(i64, i64)> = None;
        let mut widen = |low: i64, high: i64| {
            span = Some(span.map_or((low, high), |(l, h)| (l.min(low), h.max(high))));
        };
        let mut running = Vec::with_capacity(dense.len());
        for (wait, n) in dense.iter().enumerate() {
            if *n > 0 {
                let wait = wait as i64;
                widen(wait, wait);
                sum += i128::from(wait) * i128::from(*n);
            }
            total += n;
            running.push(total);
        }
        let runs = runs
            .into_iter()
            .filter(|run| !run.is_empty())
            .map(|run| {
                widen(run[0].0, run[run.len() - 1].0);
                let mut seen = 0_u64;
                let mut counts = Vec::with_capacity(run.len() + 1);
                counts.push(0);
                for (wait, n) in run {
                    sum += i128::from(*wait) * i128::from(*n);
                    seen += n;
                    counts.push(seen);
                }
                total += seen;
                Run { waits: run, counts }
            })
            .collect();
        Waits {
            dense: running,
            runs,
            total,
            sum,
            span,
        }
    }

    fn total(&self) -> u64 {
        self.total
    }

    /// How many waits are of at most `wait` ticks.
    fn at_most(&self, wait: i64) -> u64 {
        let short = match usize::try_from(wait) {
            Ok(wait) => self
                .dense
                .get(wait.min(self.dense.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0),
            Err(_) => 0,
        };
        let long: u64 = (self.runs.iter())
            .map(|run| run.counts[run.waits.partition_point(|(w, _)| *w <= wait)])
            .sum();
        short + long
    }

    /// The value at 1-based rank ⌈q·n⌉ of the sorted waits (nearest
    /// rank): the shortest wait that many waits are at most.
    fn quantile(&self, q: f64) -> Option<i64> {
        let n = self.total;
        let (mut low, mut high) = self.span.filter(|_| n > 0)?;
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        // The answer is in `low..=high`; every wait is at most `high`.
        while low < high {
            let middle = ((i128::from(low) + i128::from(high)).div_euclid(2)) as i64;
            if self.at_most(middle) >= rank {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        Some(low)
    }

    /// The waits summed, in ticks.
    fn sum(&self) -> f64 {
        self.sum as f64
    }
}

#[derive(Debug, Clone, Default)]
pub struct GroupAcc {
    counts: Counts,
    /// Wait of each offered request, in ticks → how many.
    waits: Histogram,
    overdue_open: u64,
    /// The ticks open requests past the limit have waited so far, summed:
    /// an average-wait measure counts them as waiting at least that long.
    overdue_ticks: i64,
    longest_open: Option<i64>,
}

impl GroupAcc {
    pub fn count(&mut self, outcome: Outcome) {
        let open_sum = match outcome {
            Outcome::Noncompliant { open_for, .. } => open_for.unwrap_or(0),
            _ => 0,
        };
        self.count_many(outcome, 1, open_sum);
    }

    /// Counts `n` requests with the same outcome at once (the push-down
    /// reads them so from the database): an open request's `open_for` is
    /// the longest of them, `open_sum` their waits so far summed.
    pub fn count_many(&mut self, outcome: Outcome, n: u64, open_sum: i64) {
        let mut wait_seen = None;
        match outcome {
            Outcome::Skipped => {}
            Outcome::BeforeEffective => self.counts.before_effective += n,
            Outcome::Rejected(_) => self.counts.rejected += n,
            Outcome::Compliant { wait, extended } => {
                self.counts.compliant += n;
                self.counts.extended += if extended { n } else { 0 };
                wait_seen = wait;
            }
            Outcome::Noncompliant { wait, open_for } => {
                self.counts.noncompliant += n;
                wait_seen = wait;
                if let Some(open_for) = open_for {
                    self.overdue_open += n;
                    self.overdue_ticks = self.overdue_ticks.saturating_add(open_sum);
                    self.longest_open = self.longest_open.max(Some(open_for));
                }
            }
            Outcome::Pending { open_for } => {
                self.counts.pending += n;
                self.longest_open = self.longest_open.max(Some(open_for));
            }
        }
        if let Some(wait) = wait_seen {
            self.waits.add(wait, n);
        }
    }

    /// Puts the group's long waits in order ([`Histogram::seal`]): for
    /// counts about to be summed into many groups.
    pub fn seal(&mut self) {
        self.waits.seal();
    }

    /// The sum of `parts`, sealed ([`GroupAcc::seal`]): their long waits
    /// merged in pairs, then pairs of those, and so on, so that each wait
    /// is copied about log₂(parts) times, not once per part.
    pub fn sum(parts: &[&GroupAcc]) -> GroupAcc {
        let mut sum = GroupAcc::sum_short(parts);
        let mut lists: Vec<Vec<(i64, u64)>> = vec![std::mem::take(&mut sum.waits.long)];
        let mut slices = parts
            .iter()
            .map(|p| &p.waits.long[..])
            .filter(|l| !l.is_empty());
        while let Some(a) = slices.next() {
            lists.push(match slices.next() {
                Some(b) => merge_sorted(a, b),
                None => a.to_vec(),
            });
        }
        while lists.len() > 1 {
            let mut next = Vec::with_capacity(lists.len().div_ceil(2));
            let mut lists_left = lists.into_iter();
            while let Some(a) = lists_left.next() {
                next.push(match lists_left.next() {
                    Some(b) => merge_sorted(&a, &b),
                    None => a,
                });
            }
            lists = next;
        }
        sum.waits.long = lists.pop().unwrap_or_default();
        sum
    }

    /// The sum of `parts` but for their sealed long waits (`long`): the
    /// counts, the short waits, and the long waits not yet sealed, sealed
    /// into the sum's `long`.
    fn sum_short(parts: &[&GroupAcc]) -> GroupAcc {
        let mut sum = GroupAcc::default();
        for part in parts {
            sum.merge_with(part, Histogram::merge_short);
        }
        sum.waits.seal();
        sum
    }

    pub fn merge(&mut self, other: &GroupAcc) {
        self.merge_with(other, Histogram::merge);
    }

    /// Adds `other`'s counts, and its waits with `merge_waits`.
    fn merge_with(
        &mut self,
        other: &GroupAcc,
        merge_waits: impl FnOnce(&mut Histogram, &Histogram),
    ) {
        let (a, b) = (&mut self.counts, other.counts);
        a.compliant += b.compliant;
        a.noncompliant += b.noncompliant;
        a.pending += b.pending;
        a.extended += b.extended;
        a.rejected += b.rejected;
        a.before_effective += b.before_effective;
        merge_waits(&mut self.waits, &other.waits);
        self.overdue_open += other.overdue_open;
        self.overdue_ticks = self.overdue_ticks.saturating_add(other.overdue_ticks);
        self.longest_open = self.longest_open.max(other.longest_open);
    }

    /// The result, as of the local day `today`, of the group that is the
    /// sum of `parts` (one, for a group counted alone; sealed or not):
    /// what the [`GroupAcc::sum`] of them would give, without merging
    /// their long waits into one list ([`Waits`]).
    pub fn finish_sum(
        parts: &[&GroupAcc],
        labels: BTreeMap<String, String>,
        rule: &WaitRule,
        today: NaiveDate,
    ) -> GroupResult {
        Waits::of(parts, |sum, waits| {
            sum.judge_waits(waits, labels, rule, today)
        })
    }

    /// The group's result, its waits being `waits`.
    fn judge_waits(
        &self,
        waits: &Waits<'_>,
        labels: BTreeMap<String, String>,
        rule: &WaitRule,
        today: NaiveDate,
    ) -> GroupResult {
        let c = self.counts;
        let per = ticks_per_unit(rule.unit) as f64;
        let in_units = |ticks: i64| ticks as f64 / per;
        let measured = c.compliant + c.noncompliant;
        let rate = (measured > 0).then(|| c.compliant as f64 / measured as f64);
        let offered = waits.total();
        let mean = (offered > 0).then(|| waits.sum() / offered as f64 / per);
        let rows = measured + c.pending + c.rejected;
        let rejected_share = if rows == 0 {
            0.0
        } else {
            c.rejected as f64 / rows as f64
        };
        let target = rule.target_on(today);
        let (value, limit) = match rule.measure {
            Measure::ShareWithinLimit => (rate, rule.target),
            // An open request past the limit counts as waiting until the
            // evaluation time (a lower bound of its wait).
            Measure::MeanWait => {
                let n = offered + self.overdue_open;
                let total = waits.sum() + self.overdue_ticks as f64;
                ((n > 0).then(|| total / n as f64 / per), rule.limit)
            }
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
            judge(rule, value, target, c)
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
                target: (rule.measure == Measure::ShareWithinLimit)
                    .then_some(target)
                    .flatten(),
                target_by_plan: rule.target_source == TargetSource::Plan,
                median_wait: waits.quantile(0.5).map(in_units),
                p90_wait: waits.quantile(0.9).map(in_units),
                mean_wait: mean,
                overdue_open: self.overdue_open,
                longest_open_wait: self.longest_open.map(in_units),
                unit: rule.unit,
                limit: rule.limit,
            }),
            detail: None,
        }
    }
}

/// A group's status from its value. No value is never healthy: a group
/// with nothing measured yet is `unknown` (or not in force, when every
/// request came before the standard).
fn judge(
    rule: &WaitRule,
    value: Option<f64>,
    target: Option<f64>,
    c: Counts,
) -> (Status, Option<String>) {
    let Some(value) = value else {
        if c.compliant + c.noncompliant + c.pending + c.rejected == 0 && c.before_effective > 0 {
            return (
                Status::NotInForce,
                Some(format!(
                    "every request ({}) came before the standard took effect",
                    c.before_effective
                )),
            );
        }
        let error = match rule.measure {
            Measure::ShareWithinLimit => format!(
                "no request has been offered an appointment or passed the limit yet ({} pending)",
                c.pending
            ),
            Measure::MeanWait => format!(
                "no wait to average yet: nothing offered and nothing past the limit ({} pending)",
                c.pending
            ),
        };
        return (Status::Unknown, Some(error));
    };
    match rule.measure {
        Measure::ShareWithinLimit => match target {
            Some(target) if value >= target => (Status::Ok, None),
            Some(_) => (Status::Breach, None),
            None => (
                Status::NotInForce,
                rule.target_from.map(|from| {
                    format!(
                        "no compliance target before {from}: the law's target starts then; set \
                         `target` to judge earlier periods"
                    )
                }),
            ),
        },
        Measure::MeanWait if value <= rule.limit => (Status::Ok, None),
        Measure::MeanWait => (Status::Breach, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Waits merged from parts, by reference and in any split, sealed
        /// or not, are the waits counted in one: in order, each once,
        /// whether short (`dense`) or long (`pending`, `long`).
        #[test]
        fn merged_waits_are_the_waits_counted_in_one(
            waits in proptest::collection::vec((-20i64..2_000, 1u64..4), 0..300),
            split in 0usize..300,
            more in 0usize..300,
            seals in proptest::collection::vec(any::<bool>(), 4),
        ) {
            let mut whole = Histogram::default();
            let (mut first, mut second) = (Histogram::default(), Histogram::default());
            for (i, (wait, n)) in waits.iter().enumerate() {
                whole.add(*wait, *n);
                if i < split { first.add(*wait, *n) } else { second.add(*wait, *n) }
            }
            if seals[0] { first.seal() }
            if seals[1] { second.seal() }
            let mut merged = Histogram::default();
            // Waits counted into a group that also receives sealed ones.
            for (wait, n) in waits.iter().take(more) {
                merged.add(*wait, *n);
                whole.add(*wait, *n);
            }
            if seals[2] { merged.seal() }
            // The same parts summed at once, as `Shared::roll_up` does.
            let group = |waits: &Histogram| GroupAcc { waits: waits.clone(), ..GroupAcc::default() };
            let parts = [group(&second), group(&merged), group(&first)];
            let summed = GroupAcc::sum(&parts.iter().collect::<Vec<_>>());
            prop_assert!(summed.waits.pending.is_empty());
            merged.merge(&second);
            if seals[3] { merged.seal() }
            merged.merge(&first);
            if seals[2] {
                prop_assert!(merged.long.windows(2).all(|w| w[0].0 < w[1].0));
            }
            let sorted = whole.sorted();
            prop_assert_eq!(&merged.sorted(), &sorted);
            prop_assert_eq!(&summed.waits.sorted(), &sorted);
            prop_assert!(sorted.windows(2).all(|w| w[0].0 < w[1].0));
            let mut expected: Vec<i64> = waits
                .iter()
                .chain(waits.iter().take(more))
                .flat_map(|(wait, n)| std::iter::repeat_n(*wait, *n as usize))
                .collect();
            expected.sort_unstable();
            // The measures, from the one list and from the parts' lists
            // as they are (`GroupAcc::finish_sum`).
            let rank = |q: f64| ((q * expected.len() as f64).ceil() as usize).clamp(1, expected.len());
            let sum: i64 = expected.iter().sum();
            let measures = |waits: &Waits<'_>| {
                (waits.total(), waits.quantile(0.5), waits.quantile(0.9), waits.sum())
            };
            let wanted = if expected.is_empty() {
                (0, None, None, 0.0)
            } else {
                (expected.len() as u64, Some(expected[rank(0.5) - 1]), Some(expected[rank(0.9) - 1]), sum as f64)
            };
            prop_assert_eq!(measures(&Waits::new(&[], [&sorted[..]])), wanted);
            let parts: Vec<&GroupAcc> = parts.iter().collect();
            prop_assert_eq!(Waits::of(&parts, |_, waits| measures(waits)), wanted);
        }
    }
}
