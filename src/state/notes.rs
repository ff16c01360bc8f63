//! Notes staff record on findings (`note`, `ack --note`): free text kept
//! with the history and chained into the trail like any evidence.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::Row;

use super::trail::Kind;
use super::{Store, Tx, parse_time, time_text};
use crate::check::history::Note;

fn note(row: &Row<'_>) -> rusqlite::Result<Note> {
    let labels: String = row.get(1)?;
    let at: String = row.get(4)?;
    Ok(Note {
        check_id: row.get(0)?,
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        text: row.get(2)?,
        by: row.get(3)?,
        at: parse_time(&at).unwrap_or(DateTime::UNIX_EPOCH),
    })
}

impl Tx<'_> {
    /// The notes on `check_id` (every check with `None`) made in
    /// `from..to`, oldest first: those of `note` and those given with an
    /// acknowledgement (about the acknowledged episode's group).
    pub fn notes(
        &self,
        check_id: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Note>> {
        let mut statement = self.inner.prepare_cached(
            "SELECT check_id, labels, text, by_whom, at FROM (
                 SELECT check_id, labels, text, by_whom, at, id, 0 AS source FROM notes
                 UNION ALL
                 SELECT e.check_id, e.labels, a.note, a.by_whom, a.at, a.id, 1 FROM acks a
                     JOIN episodes e ON e.id = a.episode_id WHERE a.note IS NOT NULL)
             WHERE (?1 IS NULL OR check_id = ?1) AND at >= ?2 AND at < ?3
             ORDER BY at, source, id",
        )?;
        let rows = statement.query_map(
            rusqlite::params![check_id, time_text(from), time_text(to)],
            note,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// Records a note on the groups of `check_id` whose labels include
    /// `labels`.
    pub fn add_note(
        &self,
        check_id: &str,
        labels: &BTreeMap<String, String>,
        text: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.inner.execute(
                "INSERT INTO notes (check_id, group_key, labels, text, by_whom, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    check_id,
                    crate::check::label_text(labels),
                    serde_json::to_string(labels)?,
                    text,
                    by,
                    time_text(now)
                ],
            )?;
            tx.chain(Kind::Note, tx.inner.last_insert_rowid())
        })
    }

    /// [`Tx::notes`] in a read transaction of its own.
    pub fn notes(
        &self,
        check_id: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Note>> {
        self.read(|tx| tx.notes(check_id, from, to))
    }
}
