//! The email outbox: messages written in the same transaction as the state
//! change that caused them, sent by the delivery worker, marked sent only
//! after the server accepted them, and never dropped.

use chrono::{DateTime, Utc};
use rusqlite::Row;

use super::trail::Kind;
use super::{Store, Tx, parse_time, time_text};

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: Option<i64>,
    pub route: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Images the HTML part shows by `cid:`.
    pub images: Vec<InlineImage>,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// One PNG of a message's HTML part, referred to as `cid:<content_id>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InlineImage {
    pub content_id: String,
    #[serde(with = "png_base64")]
    pub png: Vec<u8>,
}

/// Images are kept as base64 text inside a JSON column.
mod png_base64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

const COLUMNS: &str = "id, route, recipients, subject, text_body, html_body, message_id, in_reply_to, refs, \
     created_at, attempts, next_attempt_at, last_error, images";

fn message(row: &Row<'_>) -> rusqlite::Result<OutboxMessage> {
    let recipients: String = row.get(2)?;
    let references: String = row.get(8)?;
    let time = |index: usize| -> rusqlite::Result<DateTime<Utc>> {
        let text: String = row.get(index)?;
        Ok(parse_time(&text).unwrap_or(DateTime::UNIX_EPOCH))
    };
    Ok(OutboxMessage {
        id: Some(row.get(0)?),
        route: row.get(1)?,
        recipients: serde_json::from_str(&recipients).unwrap_or_default(),
        subject: row.get(3)?,
        text: row.get(4)?,
        html: row.get(5)?,
        message_id: row.get(6)?,
        in_reply_to: row.get(7)?,
        references: serde_json::from_str(&references).unwrap_or_default(),
        created_at: time(9)?,
        attempts: row.get(10)?,
        next_attempt_at: time(11)?,
        last_error: row.get(12)?,
        // A message whose images cannot be read is still sent, without
        // them: its text says everything the charts show.
        images: serde_json::from_str(&row.get::<_, String>(13)?).unwrap_or_default(),
    })
}

/// Depth and age of the outbox, for `status` and metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutboxStats {
    pub unsent: u64,
    pub oldest_unsent: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent: u64,
}

impl OutboxStats {
    /// Whether the oldest unsent message has waited longer than `after`.
    pub fn undeliverable(&self, now: DateTime<Utc>, after: chrono::Duration) -> bool {
        self.oldest_unsent.is_some_and(|t| now - t > after)
    }
}

impl Tx<'_> {
    /// The subject of the queued message `message_id`, if it is still in
    /// the outbox: later messages of its thread keep it, so that mail
    /// clients that thread by subject keep them together.
    pub fn subject_of(&self, message_id: &str) -> anyhow::Result<Option<String>> {
        use rusqlite::OptionalExtension as _;
        Ok(self
            .inner
            .query_row(
                "SELECT subject FROM outbox WHERE message_id = ?1",
                [message_id],
                |row| row.get(0),
            )
            .optional()?)
    }

    pub fn enqueue(&self, m: &OutboxMessage) -> anyhow::Result<i64> {
        self.inner.execute(
            "INSERT INTO outbox (route, recipients, subject, text_body, html_body, message_id, in_reply_to, refs, created_at, next_attempt_at, images)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            rusqlite::params![
                m.route,
                serde_json::to_string(&m.recipients)?,
                m.subject,
                m.text,
                m.html,
                m.message_id,
                m.in_reply_to,
                serde_json::to_string(&m.references)?,
                time_text(m.created_at),
                time_text(m.next_attempt_at),
                serde_json::to_string(&m.images)?,
            ],
        )?;
        let id = self.inner.last_insert_rowid();
        self.chain(Kind::Notification, id)?;
        Ok(id)
    }
}

impl Store {
    /// Unsent messages whose next attempt is due at `now` (all unsent ones
    /// with `now = None`), oldest first, at most `limit`.
    pub fn due_messages(
        &self,
        now: Option<DateTime<Utc>>,
        limit: usize,
    ) -> anyhow::Result<Vec<OutboxMessage>> {
        // Later than any stored time (which all have four-digit years).
        let until = now.map_or_else(|| "9999-12-31T23:59:59.999999Z".to_owned(), time_text);
        self.read(|tx| {
            let sql = format!(
                "SELECT {COLUMNS} FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2"
            );
            let mut statement = tx.inner.prepare(&sql)?;
            let rows = statement.query_map(
                rusqlite::params![until, limit as i64],
                message,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// When the next unsent message is due, if any: a claimed one only
    /// when its claim has expired (`claim_expiry` after it was made), so a
    /// sender does not spin on a row another sender holds.
    pub fn next_attempt(
        &self,
        claim_expiry: chrono::Duration,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        self.read(|tx| {
            let (unclaimed, claimed): (Option<String>, Option<String>) = tx.inner.query_row(
                "SELECT min(CASE WHEN claimed_at IS NULL THEN next_attempt_at END), \
                        min(CASE WHEN claimed_at IS NOT NULL THEN max(next_attempt_at, claimed_at) END) \
                 FROM outbox WHERE sent_at IS NULL",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let unclaimed = unclaimed.as_deref().and_then(parse_time);
            let claimed = claimed
                .as_deref()
                .and_then(parse_time)
                .and_then(|t| t.checked_add_signed(claim_expiry));
            Ok(match (unclaimed, claimed) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            })
        })
    }

    /// Claims message `id` for one send attempt at `now`: true only if it
    /// is still unsent and nobody else holds a claim made after
    /// `stale_before` (a claim older than that belongs to a sender that
    /// died or was stopped mid-attempt). The claim is one atomic UPDATE,
    /// so of two senders on one database at most one gets it, and a row
    /// already marked sent is never sent again.
    pub fn claim(
        &self,
        id: i64,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        self.transaction(|tx| {
            let changed = tx.inner.execute(
                "UPDATE outbox SET claimed_at = ?2 WHERE id = ?1 AND sent_at IS NULL \
                 AND (claimed_at IS NULL OR claimed_at < ?3)",
                rusqlite::params![id, time_text(now), time_text(stale_before)],
            )?;
            Ok(changed == 1)
        })
    }

    pub fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.inner.execute(
                "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL, claimed_at = NULL WHERE id = ?1",
                rusqlite::params![id, time_text(now)],
            )?;
            tx.chain(Kind::Notification, id)
        })
    }

    pub fn mark_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.inner.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3, claimed_at = NULL WHERE id = ?1",
                rusqlite::params![id, error, time_text(next_attempt_at)],
            )?;
            Ok(())
        })
    }

    /// Marks a message as reported undeliverable; true the first time.
    pub fn report_stuck(&self, id: i64) -> anyhow::Result<bool> {
        self.transaction(|tx| {
            let changed = tx.inner.execute(
                "UPDATE outbox SET stuck_reported = 1 WHERE id = ?1 AND stuck_reported = 0",
                [id],
            )?;
            Ok(changed == 1)
        })
    }

    pub fn outbox_stats(&self) -> anyhow::Result<OutboxStats> {
        self.read(|tx| {
            let (unsent, oldest): (i64, Option<String>) = tx.inner.query_row(
                "SELECT count(*), min(created_at) FROM outbox WHERE sent_at IS NULL",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let sent: i64 = tx
                .inner
                .query_row("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL", [], |row| row.get(0))?;
            let last_error: Option<String> = tx
                .inner
                .query_row(
                    "SELECT last_error FROM outbox WHERE sent_at IS NULL AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
                    [],
                    |row| row.get(0),
                )
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?;
            Ok(OutboxStats {
                unsent: unsent as u64,
                oldest_unsent: oldest.as_deref().and_then(parse_time),
                last_error,
                sent: sent as u64,
            })
        })
    }
}
