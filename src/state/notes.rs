//! Notes staff record on findings (`note`, `ack --note`): free text kept
//! with the history and chained into the trail like any evidence.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::sql::{Row, args};
use super::trail::Kind;
use super::{Store, Tx, time_text};
use crate::check::history::Note;

fn note(row: &Row) -> anyhow::Result<Note> {
    Ok(Note {
        check_id: row.text(0)?,
        labels: serde_json::from_str(&row.text(1)?).unwrap_or_default(),
        text: row.text(2)?,
        by: row.text(3)?,
        at: row.time(4)?.unwrap_or(DateTime::UNIX_EPOCH),
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
        self.rows(
            "SELECT check_id, labels, text, by_whom, at FROM (
                 SELECT check_id, labels, text, by_whom, at, id, 0 AS source FROM notes
                 UNION ALL
                 SELECT e.check_id, e.labels, a.note, a.by_whom, a.at, a.id, 1 FROM acks a
                     JOIN episodes e ON e.id = a.episode_id WHERE a.note IS NOT NULL) AS all_notes
             WHERE (CAST(?1 AS TEXT) IS NULL OR check_id = ?1) AND at >= ?2 AND at < ?3
             ORDER BY at, source, id",
            args![check_id, time_text(from), time_text(to)],
        )?
        .iter()
        .map(note)
        .collect()
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
            let id = tx.insert(
                "INSERT INTO notes (check_id, group_key, labels, text, by_whom, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![
                    check_id,
                    crate::check::label_text(labels),
                    serde_json::to_string(labels)?,
                    text,
                    by,
                    time_text(now)
                ],
            )?;
            tx.chain(Kind::Note, id)
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
