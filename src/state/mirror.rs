//! What incremental sources keep between runs: a cursor (the `_lastUpdated`
//! of the last FHIR sync) and the rows synced so far, keyed by resource id,
//! so that a run fetches only what changed and still sees everything.

use chrono::{DateTime, Utc};

use super::sql::args;
use super::{Store, time_text};

impl Store {
    /// The cursor of `source`, if it has synced before.
    pub fn cursor(&self, source: &str) -> anyhow::Result<Option<String>> {
        self.read(|tx| {
            tx.row(
                "SELECT cursor FROM source_cursors WHERE source_id = ?1",
                args![source],
            )?
            .map(|row| row.text(0))
            .transpose()
        })
    }

    /// Stores a batch of rows that changed, in order (key → the JSON row,
    /// or `None`: the key is gone), in one transaction. A sync writes its
    /// changes batch by batch and the cursor last ([`Store::set_cursor`]),
    /// so a sync cut short is fetched again from the old cursor.
    pub fn mirror_rows(
        &self,
        source: &str,
        changes: &[(String, Option<String>)],
    ) -> anyhow::Result<()> {
        self.transaction(|tx| {
            for (key, json) in changes {
                match json {
                    Some(json) => tx.exec(
                        "INSERT INTO source_rows (source_id, row_key, row_json) VALUES (?1, ?2, ?3)
                         ON CONFLICT (source_id, row_key) DO UPDATE SET row_json = ?3",
                        args![source, key, json],
                    )?,
                    None => tx.exec(
                        "DELETE FROM source_rows WHERE source_id = ?1 AND row_key = ?2",
                        args![source, key],
                    )?,
                };
            }
            Ok(())
        })
    }

    /// Stores the cursor of `source` after its rows.
    pub fn set_cursor(&self, source: &str, cursor: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.exec(
                "INSERT INTO source_cursors (source_id, cursor, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source_id) DO UPDATE SET cursor = ?2, updated_at = ?3",
                args![source, cursor, time_text(now)],
            )?;
            Ok(())
        })
    }

    /// Up to `limit` rows kept for `source` after the key `after`, in key
    /// order, with their keys: the mirror read a batch at a time.
    pub fn rows_after(
        &self,
        source: &str,
        after: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<(String, String)>> {
        self.read(|tx| {
            tx.rows(
                "SELECT row_key, row_json FROM source_rows WHERE source_id = ?1 AND row_key > ?2
                 ORDER BY row_key LIMIT ?3",
                args![source, after, i64::from(limit)],
            )?
            .iter()
            .map(|row| Ok((row.text(0)?, row.text(1)?)))
            .collect()
        })
    }

    /// Every row kept for `source`, as JSON text.
    pub fn rows(&self, source: &str) -> anyhow::Result<Vec<String>> {
        self.read(|tx| {
            tx.rows(
                "SELECT row_json FROM source_rows WHERE source_id = ?1 ORDER BY row_key",
                args![source],
            )?
            .iter()
            .map(|row| row.text(0))
            .collect()
        })
    }

    /// Forgets what `source` synced (its settings changed, or a full sync).
    pub fn forget_rows(&self, source: &str) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.exec(
                "DELETE FROM source_rows WHERE source_id = ?1",
                args![source],
            )?;
            tx.exec(
                "DELETE FROM source_cursors WHERE source_id = ?1",
                args![source],
            )?;
            Ok(())
        })
    }
}
