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
use rusqlite::Row;

use super::episodes::status;
use super::{Store, Tx, parse_time, time_text};
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

fn keyed(row: &Row<'_>) -> rusqlite::Result<Keyed> {
    let at: String = row.get(3)?;
    Ok((
        (row.get(0)?, row.get(1)?, row.get(2)?),
        Point {
            at: parse_time(&at).unwrap_or(DateTime::UNIX_EPOCH),
            status: status(&row.get::<_, String>(4)?),
            value: row.get(5)?,
            limit: row.get::<_, Option<f64>>(6)?.unwrap_or(f64::NAN),
        },
    ))
}

/// Groups rows ordered by (check, group, time) into series.
fn collect(rows: impl Iterator<Item = rusqlite::Result<Keyed>>) -> anyhow::Result<Vec<Series>> {
    let mut series: Vec<Series> = Vec::new();
    for row in rows {
        let ((check_id, group_key, labels), point) = row?;
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
        let mut statement = self.inner.prepare_cached(
            "SELECT check_id, group_key, labels, evaluated_at, status, value, limit_value FROM evaluations
             WHERE check_id = ?1 AND group_key <> '' AND (?2 IS NULL OR group_key = ?2)
               AND evaluated_at >= ?3 AND evaluated_at < ?4
             ORDER BY group_key, evaluated_at, id",
        )?;
        let rows = statement.query_map(
            rusqlite::params![check_id, group_key, time_text(from), time_text(to)],
            keyed,
        )?;
        collect(rows)
    }

    /// The checks with evaluations in `from..to`, by id.
    pub fn recorded_checks(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<String>> {
        let mut statement = self.inner.prepare_cached(
            "SELECT DISTINCT check_id FROM evaluations WHERE evaluated_at >= ?1 AND evaluated_at < ?2 ORDER BY check_id",
        )?;
        let rows = statement.query_map([time_text(from), time_text(to)], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The runs in `from..to` in which `check_id` could not be evaluated
    /// at all (its source failed), oldest first.
    pub fn check_failures(
        &self,
        check_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<CheckFailure>> {
        let mut statement = self.inner.prepare_cached(
            "SELECT evaluated_at FROM evaluations WHERE check_id = ?1 AND group_key = ''
               AND evaluated_at >= ?2 AND evaluated_at < ?3 ORDER BY evaluated_at",
        )?;
        let rows = statement.query_map(
            rusqlite::params![check_id, time_text(from), time_text(to)],
            |row| row.get::<_, String>(0),
        )?;
        let mut failures = Vec::new();
        for at in rows {
            if let Some(at) = parse_time(&at?) {
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
        let mut statement = self.inner.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM evaluations WHERE check_id = ?1 AND evaluated_at = ?2)",
        )?;
        Ok(statement.query_row(rusqlite::params![check_id, time_text(at)], |row| row.get(0))?)
    }

    /// Whether any evaluation was ever recorded (or is still kept).
    pub fn has_history(&self) -> anyhow::Result<bool> {
        Ok(self
            .inner
            .query_row("SELECT EXISTS (SELECT 1 FROM evaluations)", [], |row| {
                row.get(0)
            })?)
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
        let mut statement = self.inner.prepare_cached(
            "SELECT check_id, group_key, labels, evaluated_at, status, value, limit_value FROM (
                 SELECT *, row_number() OVER (PARTITION BY check_id, group_key ORDER BY evaluated_at DESC, id DESC) AS latest
                 FROM evaluations WHERE group_key <> '' AND evaluated_at <= ?1)
             WHERE latest <= ?2 OR evaluated_at >= ?3
             ORDER BY check_id, group_key, evaluated_at, id",
        )?;
        let rows = statement.query_map(
            rusqlite::params![time_text(now), RECENT_RUNS as i64, time_text(since)],
            keyed,
        )?;
        collect(rows)
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
