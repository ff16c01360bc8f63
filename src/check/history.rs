//! The recorded history of a (check, group): its [`Series`] of
//! [`Point`]s as the state store keeps them, and what is said about it:
//! the [`Trend`] next to each current value (a week and four weeks
//! before, the direction, the runs in breach of the last few) and the
//! [`Summary`] of a period (share of runs in breach, worst value, median);
//! and the [`Note`]s staff record on a finding.
//!
//! Vocabulary and pure arithmetic only: `state` reads the points, `notify`
//! and `cli` show them. Every function takes the time it is asked about.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{Op, Status};

/// How many of the latest runs a [`Trend`] counts breaches among.
pub const RECENT_RUNS: usize = 10;

/// One recorded evaluation of a group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub status: Status,
    /// `None` when the group could not be evaluated; infinite values are
    /// recorded as `None` too.
    pub value: Option<f64>,
    pub limit: f64,
}

/// The recorded evaluations of one (check, group), oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub check_id: String,
    /// `label_text` of the labels: `region=socal-south`, or `all`.
    pub group_key: String,
    pub labels: BTreeMap<String, String>,
    pub points: Vec<Point>,
}

/// Which way the value moved over the last week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    /// Within 1 % (relative) of the value a week before.
    Flat,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Flat => "flat",
        }
    }

    /// An arrow for text and HTML.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Up => "↑",
            Direction::Down => "↓",
            Direction::Flat => "→",
        }
    }
}

/// The recent history shown next to a current value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// The value of the last run at least 7 days before `now`.
    pub week_ago: Option<f64>,
    /// The value of the last run at least 28 days before `now`.
    pub four_weeks_ago: Option<f64>,
    /// The latest value against `week_ago`; `None` without both.
    pub direction: Option<Direction>,
    /// Runs in breach among the last `runs` runs.
    pub breached_runs: usize,
    /// Runs counted: the last [`RECENT_RUNS`] (fewer if fewer were made).
    pub runs: usize,
}

impl Trend {
    /// "last week 2,900, four weeks ago 2,700, up; 3 of the last 10 runs in breach".
    pub fn sentence(&self, number: impl Fn(f64) -> String) -> String {
        let value = |v: Option<f64>| v.map_or_else(|| "no data".to_owned(), &number);
        let mut text = format!(
            "a week before {}, four weeks before {}",
            value(self.week_ago),
            value(self.four_weeks_ago)
        );
        if let Some(direction) = self.direction {
            text.push_str(&format!(", {}", direction.as_str()));
        }
        text.push_str(&format!(
            "; {} of the last {} runs in breach",
            self.breached_runs, self.runs
        ));
        text
    }
}

/// A note staff recorded on a finding (`accesswatch note`, or `ack
/// --note`): free text, shown in `status`, the period report and the next
/// email of the alert. Never a place for member data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub check_id: String,
    /// The labels the note is about: every group whose labels include
    /// these (none: every group of the check).
    pub labels: BTreeMap<String, String>,
    pub text: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

impl Note {
    /// Whether the note is about the group `labels` of `check_id`.
    pub fn concerns(&self, check_id: &str, labels: &BTreeMap<String, String>) -> bool {
        self.check_id == check_id && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// The value of the latest point at or before `at`.
pub fn value_at(points: &[Point], at: DateTime<Utc>) -> Option<f64> {
    points
        .iter()
        .rev()
        .find(|p| p.at <= at)
        .and_then(|p| p.value)
}

/// The trend of `points` (oldest first) as of `now`: points after `now`
/// are ignored.
pub fn trend(points: &[Point], now: DateTime<Utc>) -> Trend {
    let seen: Vec<&Point> = points.iter().filter(|p| p.at <= now).collect();
    let recent = &seen[seen.len().saturating_sub(RECENT_RUNS)..];
    let week_ago = value_at(points, now - Duration::days(7));
    let latest = seen.last().and_then(|p| p.value);
    let direction = match (latest, week_ago) {
        (Some(now), Some(before)) => Some(direction(before, now)),
        _ => None,
    };
    Trend {
        week_ago,
        four_weeks_ago: value_at(points, now - Duration::days(28)),
        direction,
        breached_runs: recent.iter().filter(|p| p.status == Status::Breach).count(),
        runs: recent.len(),
    }
}

/// The trend of a group as of `now` that includes a run not recorded yet
/// (`current`): `run --once` and `render` show it before recording.
pub fn trend_with(points: &[Point], current: Point) -> Trend {
    let mut all: Vec<Point> = points
        .iter()
        .copied()
        .filter(|p| p.at < current.at)
        .collect();
    all.push(current);
    trend(&all, current.at)
}

fn direction(before: f64, now: f64) -> Direction {
    let scale = before.abs().max(now.abs());
    if scale == 0.0 || (now - before).abs() <= 0.01 * scale {
        Direction::Flat
    } else if now > before {
        Direction::Up
    } else {
        Direction::Down
    }
}

/// What a period of a series came to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Runs recorded in the period.
    pub runs: usize,
    /// Of which in breach.
    pub breached: usize,
    /// Of which with a value.
    pub valued: usize,
    /// The value furthest on the failing side of the limit (largest for
    /// `<=`/`<`, smallest for `>=`/`>`), and when.
    pub worst: Option<(f64, DateTime<Utc>)>,
    pub median: Option<f64>,
}

impl Summary {
    /// The share of runs in breach, 0 to 1; `None` without runs.
    pub fn breach_share(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.breached as f64 / self.runs as f64)
    }
}

/// The summary of `points` for a check whose healthy side is `op`.
pub fn summary(points: &[Point], op: Op) -> Summary {
    let mut values: Vec<f64> = points
        .iter()
        .filter_map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    values.sort_by(f64::total_cmp);
    let median = match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[n / 2]),
        n => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    };
    let higher_is_worse = matches!(op, Op::Le | Op::Lt);
    let worst = points
        .iter()
        .filter_map(|p| p.value.filter(|v| v.is_finite()).map(|v| (v, p.at)))
        .reduce(|a, b| {
            let b_worse = if higher_is_worse {
                b.0 > a.0
            } else {
                b.0 < a.0
            };
            if b_worse { b } else { a }
        });
    Summary {
        runs: points.len(),
        breached: points.iter().filter(|p| p.status == Status::Breach).count(),
        valued: values.len(),
        worst,
        median,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::days(20_000 + d)
    }

    fn point(d: i64, value: Option<f64>, status: Status) -> Point {
        Point {
            at: day(d),
            status,
            value,
            limit: 3000.0,
        }
    }

    fn weekly(values: &[f64], limit: f64) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let status = if *v <= limit {
                    Status::Ok
                } else {
                    Status::Breach
                };
                point(7 * i as i64, Some(*v), status)
            })
            .collect()
    }

    fn check(points: &[Point], now: DateTime<Utc>, expected: Trend) {
        assert_eq!(trend(points, now), expected, "{points:?} at {now}");
    }

    #[test]
    fn trend_reads_the_values_a_week_and_four_weeks_before() {
        let points = weekly(&[2800.0, 2900.0, 3000.0, 3100.0, 3200.0], 3000.0);
        check(
            &points,
            day(28),
            Trend {
                week_ago: Some(3100.0),
                four_weeks_ago: Some(2800.0),
                direction: Some(Direction::Up),
                breached_runs: 2,
                runs: 5,
            },
        );
        // A day later the same runs are the latest at or before each mark.
        check(
            &points,
            day(29),
            Trend {
                week_ago: Some(3100.0),
                four_weeks_ago: Some(2800.0),
                direction: Some(Direction::Up),
                breached_runs: 2,
                runs: 5,
            },
        );
        // Before the history starts there is nothing to compare with, and
        // points after `now` do not count.
        check(
            &points,
            day(3),
            Trend {
                week_ago: None,
                four_weeks_ago: None,
                direction: None,
                breached_runs: 0,
                runs: 1,
            },
        );
    }

    #[test]
    fn a_run_not_yet_recorded_counts_as_the_latest() {
        let points = weekly(&[2800.0, 2900.0], 3000.0);
        let current = point(14, Some(3300.0), Status::Breach);
        let t = trend_with(&points, current);
        assert_eq!(t.week_ago, Some(2900.0));
        assert_eq!(t.direction, Some(Direction::Up));
        assert_eq!((t.breached_runs, t.runs), (1, 3));
    }

    #[test]
    fn direction_is_flat_within_one_percent() {
        let points = weekly(&[100.0, 100.5], 200.0);
        assert_eq!(trend(&points, day(7)).direction, Some(Direction::Flat));
        let points = weekly(&[100.0, 90.0], 200.0);
        assert_eq!(trend(&points, day(7)).direction, Some(Direction::Down));
        let points = weekly(&[0.0, 0.0], 200.0);
        assert_eq!(trend(&points, day(7)).direction, Some(Direction::Flat));
    }

    #[test]
    fn breaches_are_counted_among_the_last_ten_runs() {
        let values: Vec<f64> = (0..15).map(|i| if i < 5 { 5000.0 } else { 1.0 }).collect();
        let t = trend(&weekly(&values, 3000.0), day(7 * 14));
        assert_eq!((t.breached_runs, t.runs), (0, 10));
        let t = trend(&weekly(&values, 3000.0), day(7 * 9));
        assert_eq!((t.breached_runs, t.runs), (5, 10));
    }

    #[test]
    fn summary_counts_breaches_and_finds_the_worst_and_the_median() {
        let points = weekly(&[2800.0, 3300.0, 2900.0, 3100.0], 3000.0);
        let s = summary(&points, Op::Le);
        assert_eq!((s.runs, s.breached, s.valued), (4, 2, 4));
        assert_eq!(s.worst, Some((3300.0, day(7))));
        assert_eq!(s.median, Some(3000.0));
        assert_eq!(s.breach_share(), Some(0.5));
        // For a rate that must stay high, the worst is the lowest.
        let s = summary(&points, Op::Ge);
        assert_eq!(s.worst, Some((2800.0, day(0))));
        let mut with_gap = points.clone();
        with_gap.push(point(40, None, Status::Unknown));
        let s = summary(&with_gap, Op::Le);
        assert_eq!((s.runs, s.valued, s.median), (5, 4, Some(3000.0)));
        assert_eq!(summary(&[], Op::Le).breach_share(), None);
    }
}
