//! Reading the recorded evaluations back: the history API the rest of the
//! program uses for trends (`status`, `render`, `run --once`, emails) and
//! the period report.
//!
//! - [`Tx::series`] / [`Store::series`]: per (check, group), the points
//!   (evaluated_at, status, value, limit) between two times, oldest first;
//! - [`Store::trends`]: the [`Trend`] of every group as of a time, from the
//!   last 35 days and the last [`RECENT_RUNS`] runs of each group
//!   ([`Store::recent_series`], to add a run not recorded yet);
//! - [`Tx::recorded_at`]: whether a check was already evaluated as of a
//!   time (`backfill` skips those).
//!
//! A run in which a whole check could not be evaluated (its source failed)
//! is recorded without a group; it is in no group's series. The period
//! report finds those runs with [`Tx::check_failures`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::episodes::status;
use super::sql::{Row, args};
use super::{Store, Tx, time_text};
use crate::check::history::{Point, RECENT_RUNS, Series, Trend, trend};

/// (check id, group key) → the group's trend.
pub type Trends = BTreeMap<(String, String), Trend>;

/// A run in which a whole check could not be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckFailure {
    pub check_id: String,
    pub at: DateTime<Utc>,
}

type Keyed = ((String, String, String), Point);

fn keyed(row: &Row) -> anyhow::Result<Keyed> {
    Ok((
        (row.text(0)?, row.text(1)?, row.text(2)?),
        Point {
            at: row.time(3)?.unwrap_or(DateTime::UNIX_EPOCH),
            status: status(&row.text(4)?),
            value: row.opt_real(5)?,
            limit: row.opt_real(6)?.unwrap_or(f64::NAN),
        },
    ))
}

/// Groups rows ordered by (check, group, time) into series.
fn collect(rows: Vec<Row>) -> anyhow::Result<Vec<Series>> {
    let mut series: Vec<Series> = Vec::new();
    for row in &rows {
        let ((check_id, group_key, labels), point) = keyed(row)?;
        match series.last_mut() {
            Some(s) if s.check_id == check_id && s.group_key == group_key => s.points.push(point),
            _ => series.push(Series {
                check_id,
                group_key,
                labels: serde_json::from_str(&labels).unwrap_or_default(),
                points: vec![point],
            }),
        }
    }
    Ok(series)
}

impl Tx<'_> {
    /// The series of `check_id` (of its group `group_key`, or of every
    /// group) with points in `from..to`, ordered by group key.
    pub fn series(
        &self,
        check_id: &str,
        group_key: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Series>> {
        collect(self.rows(
            "SELECT check_id, group_key, labels, evaluated_at, status, value, limit_value FROM evaluations
             WHERE check_id = ?1 AND group_key <> '' AND (CAST(?2 AS TEXT) IS NULL OR group_key = ?2)
               AND evaluated_at >= ?3 AND evaluated_at < ?4
             ORDER BY group_key, evaluated_at, id",
            args![check_id, group_key, time_text(from), time_text(to)],
        )?)
    }

    /// The checks with evaluations in `from..to`, by id.
    pub fn recorded_checks(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<String>> {
        self.rows(
            "SELECT DISTINCT check_id FROM evaluations WHERE evaluated_at >= ?1 AND evaluated_at < ?2 ORDER BY check_id",
            args![time_text(from), time_text(to)],
        )?
        .iter()
        .map(|row| row.text(0))
        .collect()
    }

    /// The runs in `from..to` in which `check_id` could not be evaluated
    /// at all (its source failed), oldest first.
    pub fn check_failures(
        &self,
        check_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<CheckFailure>> {
        let rows = self.rows(
            "SELECT evaluated_at FROM evaluations WHERE check_id = ?1 AND group_key = ''
               AND evaluated_at >= ?2 AND evaluated_at < ?3 ORDER BY evaluated_at",
            args![check_id, time_text(from), time_text(to)],
        )?;
        let mut failures = Vec::new();
        for row in &rows {
            if let Some(at) = row.time(0)? {
                failures.push(CheckFailure {
                    check_id: check_id.to_owned(),
                    at,
                });
            }
        }
        Ok(failures)
    }

    /// Whether `check_id` has a recorded evaluation at exactly `at`.
    pub fn recorded_at(&self, check_id: &str, at: DateTime<Utc>) -> anyhow::Result<bool> {
        self.one(
            "SELECT EXISTS (SELECT 1 FROM evaluations WHERE check_id = ?1 AND evaluated_at = ?2)",
            args![check_id, time_text(at)],
        )?
        .bool(0)
    }

    /// Whether any evaluation was ever recorded (or is still kept).
    pub fn has_history(&self) -> anyhow::Result<bool> {
        self.one("SELECT EXISTS (SELECT 1 FROM evaluations)", vec![])?
            .bool(0)
    }

    /// The trend of every group as of `now`.
    pub fn trends(&self, now: DateTime<Utc>) -> anyhow::Result<Trends> {
        Ok(self
            .recent_series(now)?
            .into_iter()
            .map(|s| {
                let trend = trend(&s.points, now);
                ((s.check_id, s.group_key), trend)
            })
            .collect())
    }

    /// What a trend as of `now` needs of every group: its points of the
    /// last 35 days and its last [`RECENT_RUNS`] points, up to `now`.
    pub fn recent_series(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<Series>> {
        // Enough for the values a week and four weeks before of a check run
        // at least weekly, and for the last runs of any check.
        let since = now - Duration::days(35);
        collect(self.rows(
            "SELECT check_id, group_key, labels, evaluated_at, status, value, limit_value FROM (
                 SELECT *, row_number() OVER (PARTITION BY check_id, group_key ORDER BY evaluated_at DESC, id DESC) AS latest
                 FROM evaluations WHERE group_key <> '' AND evaluated_at <= ?1) AS recent
             WHERE latest <= ?2 OR evaluated_at >= ?3
             ORDER BY check_id, group_key, evaluated_at, id",
            args![time_text(now), RECENT_RUNS as i64, time_text(since)],
        )?)
    }
}

impl Store {
    /// [`Tx::has_history`] in a read transaction of its own.
    pub fn has_history(&self) -> anyhow::Result<bool> {
        self.read(|tx| tx.has_history())
    }

    /// [`Tx::series`] in a read transaction of its own.
    pub fn series(
        &self,
        check_id: &str,
        group_key: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Series>> {
        self.read(|tx| tx.series(check_id, group_key, from, to))
    }

    /// [`Tx::recent_series`] in a read transaction of its own.
    pub fn recent_series(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<Series>> {
        self.read(|tx| tx.recent_series(now))
    }

    /// [`Tx::trends`] in a read transaction of its own.
    pub fn trends(&self, now: DateTime<Utc>) -> anyhow::Result<Trends> {
        self.read(|tx| tx.trends(now))
    }
}
