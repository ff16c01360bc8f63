//! What the period report needs of the alert history: each episode that
//! was open during a period, with its acknowledgements and the emails that
//! told it (the first, by its Message-ID, and the reminders in its thread).

use chrono::{DateTime, Utc};

use super::episodes::{COLUMNS, episode};
use super::sql::{Backend, Row, args};
use super::{Store, Tx, time_text};
use crate::check::Episode;

/// An acknowledgement (or its clearing, `until = None`).
#[derive(Debug, Clone, PartialEq)]
pub struct AckRecord {
    pub by: String,
    pub at: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// An email that told an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub message_id: String,
    pub route: String,
    pub recipients: usize,
    pub queued_at: DateTime<Utc>,
    /// `None`: never accepted by the mail server (still in the outbox).
    pub sent_at: Option<DateTime<Utc>>,
}

/// An episode with what was done about it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeRecord {
    pub episode: Episode,
    /// Nothing more will be told (resolved and told, or its check removed).
    pub closed: bool,
    /// Why it was closed without resolving, if so.
    pub note: Option<String>,
    pub acks: Vec<AckRecord>,
    /// The first message (its Message-ID is the episode's thread), then
    /// the replies in its thread (reminders, resolution), oldest first.
    pub messages: Vec<MessageRecord>,
}

fn message(row: &Row) -> anyhow::Result<MessageRecord> {
    Ok(MessageRecord {
        message_id: row.text(0)?,
        route: row.text(1)?,
        recipients: serde_json::from_str::<Vec<String>>(&row.text(2)?).map_or(0, |r| r.len()),
        queued_at: row.time(3)?.unwrap_or(DateTime::UNIX_EPOCH),
        sent_at: row.time(4)?,
    })
}

impl Tx<'_> {
    /// The episodes open at some time in `from..to`, oldest first.
    pub fn episodes_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<EpisodeRecord>> {
        let sql = format!(
            "SELECT {COLUMNS}, closed, note FROM episodes
             WHERE started_at < ?2 AND coalesce(resolved_at, CASE WHEN closed = 1 THEN last_seen_at END, '9999') >= ?1
             ORDER BY started_at, id"
        );
        let rows = self.rows(&sql, args![time_text(from), time_text(to)])?;
        let mut records = Vec::new();
        for row in &rows {
            let (episode, closed, note) = (episode(row)?, row.bool(21)?, row.opt_text(22)?);
            let acks = self.acks_of(episode.id)?;
            // Every route's thread: the messages each route got.
            let mut messages = Vec::new();
            for thread in episode.threads.values() {
                messages.extend(self.thread(thread)?);
            }
            messages.sort_by_key(|m| m.queued_at);
            records.push(EpisodeRecord {
                episode,
                closed,
                note,
                acks,
                messages,
            });
        }
        Ok(records)
    }

    fn acks_of(&self, id: Option<i64>) -> anyhow::Result<Vec<AckRecord>> {
        self.rows(
            "SELECT by_whom, at, until, note FROM acks WHERE episode_id = ?1 ORDER BY at, id",
            args![id],
        )?
        .iter()
        .map(|row| {
            Ok(AckRecord {
                by: row.text(0)?,
                at: row.time(1)?.unwrap_or(DateTime::UNIX_EPOCH),
                until: row.time(2)?,
                note: row.opt_text(3)?,
            })
        })
        .collect()
    }

    /// The message `thread` and the messages that refer to it.
    fn thread(&self, thread: &str) -> anyhow::Result<Vec<MessageRecord>> {
        let references = match self.backend() {
            Backend::Sqlite => "json_each(outbox.refs)",
            Backend::Postgres => "json_array_elements_text(outbox.refs::json) AS refs(value)",
        };
        self.rows(
            &format!(
                "SELECT message_id, route, recipients, created_at, sent_at FROM outbox
                 WHERE message_id = ?1 OR EXISTS (SELECT 1 FROM {references} WHERE value = ?1)
                 ORDER BY message_id <> ?1, created_at, id"
            ),
            args![thread],
        )?
        .iter()
        .map(message)
        .collect()
    }
}

impl Store {
    /// [`Tx::episodes_between`] in a read transaction of its own.
    pub fn episodes_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<EpisodeRecord>> {
        self.read(|tx| tx.episodes_between(from, to))
    }
}
