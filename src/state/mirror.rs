//! What incremental sources keep between runs: a cursor (the `_lastUpdated`
//! of the last FHIR sync) and the rows synced so far, keyed by resource id,
//! so that a run fetches only what changed and still sees everything.

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension as _;

use super::{Store, time_text};

impl Store {
    /// The cursor of `source`, if it has synced before.
    pub fn cursor(&self, source: &str) -> anyhow::Result<Option<String>> {
        self.read(|tx| {
            Ok(tx
                .inner
                .query_row(
                    "SELECT cursor FROM source_cursors WHERE source_id = ?1",
                    [source],
                    |row| row.get(0),
                )
                .optional()?)
        })
    }

    /// Stores the rows that changed (`upserts`: key → JSON row; `deletes`:
    /// keys gone) and the new cursor, in one transaction.
    pub fn sync_rows(
        &self,
        source: &str,
        upserts: &[(String, String)],
        deletes: &[String],
        cursor: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.transaction(|tx| {
            let mut put = tx.inner.prepare_cached(
                "INSERT INTO source_rows (source_id, row_key, row_json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source_id, row_key) DO UPDATE SET row_json = ?3",
            )?;
            for (key, json) in upserts {
                put.execute(rusqlite::params![source, key, json])?;
            }
            let mut delete = tx
                .inner
                .prepare_cached("DELETE FROM source_rows WHERE source_id = ?1 AND row_key = ?2")?;
            for key in deletes {
                delete.execute(rusqlite::params![source, key])?;
            }
            tx.inner.execute(
                "INSERT INTO source_cursors (source_id, cursor, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source_id) DO UPDATE SET cursor = ?2, updated_at = ?3",
                rusqlite::params![source, cursor, time_text(now)],
            )?;
            Ok(())
        })
    }

    /// Every row kept for `source`, as JSON text.
    pub fn rows(&self, source: &str) -> anyhow::Result<Vec<String>> {
        self.read(|tx| {
            let mut statement = tx.inner.prepare(
                "SELECT row_json FROM source_rows WHERE source_id = ?1 ORDER BY row_key",
            )?;
            let rows = statement.query_map([source], |row| row.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Forgets what `source` synced (its settings changed, or a full sync).
    pub fn forget_rows(&self, source: &str) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.inner
                .execute("DELETE FROM source_rows WHERE source_id = ?1", [source])?;
            tx.inner
                .execute("DELETE FROM source_cursors WHERE source_id = ?1", [source])?;
            Ok(())
        })
    }
}
