//! Alert episodes and acknowledgements in the state store.

use std::collections::BTreeMap;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};

use super::sql::{Row, SqlValue, args};
use super::trail::Kind;
use super::{Store, Tx, time_text};
use crate::check::Severity;
use crate::check::Status;
use crate::check::{Episode, Phase};

pub(super) const COLUMNS: &str = "id, check_id, group_key, labels, severity, phase, started_at, firing_since, resolved_at, \
     breaches, last_status, last_value, last_limit, last_seen_at, notified_at, reminders, next_reminder_at, \
     resolution_notified_at, thread_id, ack_until, ack_by";

fn severity(text: &str) -> Severity {
    if text == "critical" {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

pub(super) fn status(text: &str) -> Status {
    match text {
        "ok" => Status::Ok,
        "breach" => Status::Breach,
        "not_in_force" => Status::NotInForce,
        _ => Status::Unknown,
    }
}

pub(super) fn episode(row: &Row) -> anyhow::Result<Episode> {
    let now = DateTime::UNIX_EPOCH;
    Ok(Episode {
        id: Some(row.int(0)?),
        check_id: row.text(1)?,
        group_key: row.text(2)?,
        labels: serde_json::from_str::<BTreeMap<String, String>>(&row.text(3)?).unwrap_or_default(),
        severity: severity(&row.text(4)?),
        phase: Phase::parse(&row.text(5)?).unwrap_or(Phase::Firing),
        started_at: row.time(6)?.unwrap_or(now),
        firing_since: row.time(7)?,
        resolved_at: row.time(8)?,
        breaches: row.count(9)?,
        last_status: status(&row.text(10)?),
        last_value: row.opt_real(11)?,
        last_limit: row.real(12)?,
        last_seen_at: row.time(13)?.unwrap_or(now),
        notified_at: row.time(14)?,
        reminders: row.count(15)?,
        next_reminder_at: row.time(16)?,
        resolution_notified_at: row.time(17)?,
        threads: threads(row.opt_text(18)?),
        ack_until: row.time(19)?,
        ack_by: row.opt_text(20)?,
    })
}

/// The `thread_id` column: a JSON object of route → Message-ID. A value
/// from before threads were kept per route (a bare Message-ID) names no
/// route, so each route starts a thread of its own.
fn threads(text: Option<String>) -> BTreeMap<String, String> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn threads_text(threads: &BTreeMap<String, String>) -> Option<String> {
    (!threads.is_empty()).then(|| serde_json::to_string(threads).unwrap_or_default())
}

impl Tx<'_> {
    /// The pending or firing episode of (check, group), if any.
    pub fn open_episode(&self, check_id: &str, group_key: &str) -> anyhow::Result<Option<Episode>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM episodes WHERE check_id = ?1 AND group_key = ?2 AND closed = 0 AND phase <> 'resolved'"
        );
        self.row(&sql, args![check_id, group_key])?
            .as_ref()
            .map(episode)
            .transpose()
    }

    /// Every episode not yet closed: pending, firing, and resolved ones
    /// whose resolution may still be due.
    pub fn unclosed_episodes(&self) -> anyhow::Result<Vec<Episode>> {
        let sql = format!("SELECT {COLUMNS} FROM episodes WHERE closed = 0 ORDER BY id");
        self.rows(&sql, vec![])?.iter().map(episode).collect()
    }

    /// Inserts or updates `episode`, setting its id.
    pub fn save_episode(&self, episode: &mut Episode) -> anyhow::Result<()> {
        let labels = serde_json::to_string(&episode.labels)?;
        let e = &*episode;
        let mut values: Vec<SqlValue> = args![
            e.check_id,
            e.group_key,
            labels,
            e.severity.as_str(),
            e.phase.as_str(),
            time_text(e.started_at),
            e.firing_since.map(time_text),
            e.resolved_at.map(time_text),
            e.breaches,
            e.last_status.as_str(),
            e.last_value.filter(|v| v.is_finite()),
            e.last_limit,
            time_text(e.last_seen_at),
            e.notified_at.map(time_text),
            e.reminders,
            e.next_reminder_at.map(time_text),
            e.resolution_notified_at.map(time_text),
            threads_text(&e.threads),
            e.ack_until.map(time_text),
            e.ack_by,
        ];
        match e.id {
            Some(id) => {
                let sql = "UPDATE episodes SET check_id = ?1, group_key = ?2, labels = ?3, severity = ?4, phase = ?5, \
                     started_at = ?6, firing_since = ?7, resolved_at = ?8, breaches = ?9, last_status = ?10, \
                     last_value = ?11, last_limit = ?12, last_seen_at = ?13, notified_at = ?14, reminders = ?15, \
                     next_reminder_at = ?16, resolution_notified_at = ?17, thread_id = ?18, ack_until = ?19, \
                     ack_by = ?20 WHERE id = ?21";
                values.push(SqlValue::Int(id));
                self.exec(sql, values)?;
                self.chain(Kind::Episode, id)?;
            }
            None => {
                let sql = format!(
                    "INSERT INTO episodes ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                    COLUMNS.trim_start_matches("id, ")
                );
                let id = self.insert(&sql, values)?;
                episode.id = Some(id);
                self.chain(Kind::Episode, id)?;
            }
        }
        Ok(())
    }

    /// Removes a pending episode that recovered before it fired.
    pub fn delete_episode(&self, id: i64) -> anyhow::Result<()> {
        self.exec("DELETE FROM episodes WHERE id = ?1", args![id])?;
        self.chain(Kind::Episode, id)
    }

    /// Marks a resolved episode as done: nothing more will be told.
    pub fn close_episode(&self, id: i64) -> anyhow::Result<()> {
        self.exec("UPDATE episodes SET closed = 1 WHERE id = ?1", args![id])?;
        self.chain(Kind::Episode, id)
    }
}

/// What `ack` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub episodes: usize,
    /// The acknowledgements still in force that this one replaced: who,
    /// until when, and the group.
    pub replaced: Vec<(String, DateTime<Utc>, String)>,
}

impl Store {
    /// Acknowledges the open episodes of `check_id` (those whose labels
    /// include every `group` pair): their reminders are muted until
    /// `until`. `until = None` clears the acknowledgement. Recorded in
    /// `acks`, with `note` if given.
    pub fn ack(
        &self,
        check_id: &str,
        group: &BTreeMap<String, String>,
        until: Option<DateTime<Utc>>,
        by: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Acked> {
        self.transaction(|tx| {
            let mut count = 0;
            let mut replaced = Vec::new();
            for mut episode in tx.unclosed_episodes()? {
                let matches = episode.check_id == check_id
                    && episode.phase != Phase::Resolved
                    && group.iter().all(|(k, v)| episode.labels.get(k) == Some(v));
                if !matches {
                    continue;
                }
                if let (Some(old_until), Some(old_by)) = (episode.ack_until, &episode.ack_by)
                    && old_until > now
                {
                    replaced.push((old_by.clone(), old_until, episode.group_key.clone()));
                }
                episode.ack_until = until;
                episode.ack_by = until.map(|_| by.to_owned());
                tx.save_episode(&mut episode)?;
                let id = episode.id.ok_or_else(|| anyhow!("episode without id"))?;
                let ack = tx
                    .insert(
                        "INSERT INTO acks (episode_id, until, by_whom, at, cleared, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        args![id, until.map(time_text), by, time_text(now), until.is_none(), note],
                    )
                    .context("recording the acknowledgement")?;
                tx.chain(Kind::Ack, ack)?;
                count += 1;
            }
            Ok(Acked {
                episodes: count,
                replaced,
            })
        })
    }

    /// Closes every open episode of `check_id` (removed from the
    /// configuration) with `note`; how many.
    pub fn close_check(&self, check_id: &str, note: &str) -> anyhow::Result<usize> {
        self.transaction(|tx| {
            let ids: Vec<i64> = tx
                .rows(
                    "SELECT id FROM episodes WHERE check_id = ?1 AND closed = 0",
                    args![check_id],
                )?
                .iter()
                .map(|row| row.int(0))
                .collect::<anyhow::Result<_>>()?;
            tx.exec(
                "UPDATE episodes SET closed = 1, note = ?2 WHERE check_id = ?1 AND closed = 0",
                args![check_id, note],
            )?;
            for id in &ids {
                tx.chain(Kind::Episode, *id)?;
            }
            Ok(ids.len())
        })
    }

    /// Every episode not closed, for `status`.
    pub fn episodes(&self) -> anyhow::Result<Vec<Episode>> {
        self.read(|tx| tx.unclosed_episodes())
    }
}
