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
            for (key, json) in upserts {
                tx.exec(
                    "INSERT INTO source_rows (source_id, row_key, row_json) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source_id, row_key) DO UPDATE SET row_json = ?3",
                    args![source, key, json],
                )?;
            }
            for key in deletes {
                tx.exec(
                    "DELETE FROM source_rows WHERE source_id = ?1 AND row_key = ?2",
                    args![source, key],
                )?;
            }
            tx.exec(
                "INSERT INTO source_cursors (source_id, cursor, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source_id) DO UPDATE SET cursor = ?2, updated_at = ?3",
                args![source, cursor, time_text(now)],
            )?;
            Ok(())
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
