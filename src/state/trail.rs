//! The tamper-evident trail: every write that is evidence (an evaluation,
//! each change of an alert episode, an acknowledgement, a note, an email
//! queued and sent) appends a record to the `trail` table holding a
//! canonical copy of the row as written and the SHA-256 of that record
//! chained to the hash of the one before. [`Store::verify`] recomputes the
//! chain and compares each row with its latest record, so a row edited,
//! inserted or deleted by hand, or a trail record changed or removed, is
//! found and named.
//!
//! The canonical copy is made by the database itself (`json_object` over
//! the row, [`Kind::snapshot`]; `json_build_object` on PostgreSQL), both
//! when writing and when verifying, so the two always agree on the text of
//! an unchanged row.
//!
//! Retention: when old evaluations are pruned, the oldest trail records
//! (those older than the retention, never the head) go too, and a
//! `checkpoint` record is appended naming the last record removed and its
//! hash. The first remaining record's link is then checked against it, and
//! an evaluation whose row was pruned is expected to be missing. A closed
//! episode whose records were all pruned is no longer individually
//! verifiable; the report's head hash, kept by the auditor, still pins
//! everything before it.

use std::fmt::Write as _;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use super::sql::{Backend, args};
use super::{Store, Tx, time_text};

/// The previous hash of the first record ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a trail record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Evaluation,
    Episode,
    Ack,
    Note,
    /// An email in the outbox: when queued, and again when sent.
    Notification,
    /// Records removed by retention (body: through, through_hash, before).
    Checkpoint,
}

const KINDS: [Kind; 5] = [
    Kind::Evaluation,
    Kind::Episode,
    Kind::Ack,
    Kind::Note,
    Kind::Notification,
];

/// The table a kind records, the SQL of its canonical copy, and the
/// column of the time it speaks of.
struct Snapshot {
    table: &'static str,
    json: &'static str,
    at: &'static str,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Evaluation => "evaluation",
            Kind::Episode => "episode",
            Kind::Ack => "ack",
            Kind::Note => "note",
            Kind::Notification => "notification",
            Kind::Checkpoint => "checkpoint",
        }
    }

    fn snapshot(self) -> Option<Snapshot> {
        let (table, json, at) = match self {
            Kind::Evaluation => (
                "evaluations",
                "json_object('check_id', check_id, 'group_key', group_key, 'labels', labels, 'status', status, \
                 'value', value, 'limit', limit_value, 'evaluated_at', evaluated_at, 'data_time', data_time)",
                "evaluated_at",
            ),
            Kind::Episode => (
                "episodes",
                "json_object('check_id', check_id, 'group_key', group_key, 'labels', labels, 'severity', severity, \
                 'phase', phase, 'started_at', started_at, 'firing_since', firing_since, 'resolved_at', resolved_at, \
                 'breaches', breaches, 'last_status', last_status, 'last_value', last_value, 'last_limit', last_limit, \
                 'last_seen_at', last_seen_at, 'notified_at', notified_at, 'reminders', reminders, \
                 'next_reminder_at', next_reminder_at, 'resolution_notified_at', resolution_notified_at, \
                 'thread_id', thread_id, 'ack_until', ack_until, 'ack_by', ack_by, 'closed', closed, 'note', note)",
                "last_seen_at",
            ),
            Kind::Ack => (
                "acks",
                "json_object('episode_id', episode_id, 'until', until, 'by', by_whom, 'at', at, 'cleared', cleared, \
                 'note', note)",
                "at",
            ),
            Kind::Note => (
                "notes",
                "json_object('check_id', check_id, 'group_key', group_key, 'labels', labels, 'text', text, \
                 'by', by_whom, 'at', at)",
                "at",
            ),
            Kind::Notification => (
                "outbox",
                "json_object('route', route, 'recipients', recipients, 'subject', subject, 'text_body', text_body, \
                 'html_body', html_body, 'message_id', message_id, 'in_reply_to', in_reply_to, 'refs', refs, \
                 'created_at', created_at, 'sent_at', sent_at)",
                "coalesce(sent_at, created_at)",
            ),
            Kind::Checkpoint => return None,
        };
        Some(Snapshot { table, json, at })
    }
}

/// The SHA-256 (hex) of a record chained to `prev`.
fn record_hash(prev: &str, id: i64, kind: &str, ref_id: i64, at: &str, body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{prev}\n{id}\n{kind}\n{ref_id}\n{at}\n").as_bytes());
    hasher.update(body.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in hasher.finalize() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The latest record of the trail: what an auditor keeps to match a copy
/// of the state file (or a report) later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: i64,
    pub hash: String,
    pub records: i64,
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The trail record, or `None` for a row that has no record at all.
    pub record: Option<i64>,
    /// What is wrong, naming the row.
    pub why: String,
}

impl Tx<'_> {
    /// Appends a record of the row `ref_id` of `kind` as it is now (or of
    /// its removal).
    pub(super) fn chain(&self, kind: Kind, ref_id: i64) -> anyhow::Result<()> {
        let Some(snapshot) = kind.snapshot() else {
            return Ok(());
        };
        let sql = format!(
            "SELECT {}, {} FROM {} WHERE id = ?1",
            self.json(snapshot.json),
            snapshot.at,
            snapshot.table
        );
        let (body, at) = match self.row(&sql, args![ref_id])? {
            Some(row) => (row.text(0)?, row.text(1)?),
            // Removed: the record says so, at the time of its last record.
            None => {
                let at = self
                    .row(
                        "SELECT at FROM trail WHERE kind = ?1 AND ref_id = ?2 ORDER BY id DESC LIMIT 1",
                        args![kind.as_str(), ref_id],
                    )?
                    .map(|row| row.text(0))
                    .transpose()?;
                ("null".to_owned(), at.unwrap_or_default())
            }
        };
        self.append(kind, ref_id, &at, &body)
    }

    /// The canonical JSON text of a row, in this backend's SQL.
    fn json(&self, sqlite: &str) -> String {
        match self.backend() {
            Backend::Sqlite => sqlite.to_owned(),
            Backend::Postgres => format!(
                "({})::text",
                sqlite.replace("json_object(", "json_build_object(")
            ),
        }
    }

    fn append(&self, kind: Kind, ref_id: i64, at: &str, body: &str) -> anyhow::Result<()> {
        let head = self.row(
            "SELECT id, hash FROM trail ORDER BY id DESC LIMIT 1",
            vec![],
        )?;
        let (id, prev) = match head {
            Some(row) => (row.int(0)? + 1, row.text(1)?),
            None => (1, GENESIS.to_owned()),
        };
        let hash = record_hash(&prev, id, kind.as_str(), ref_id, at, body);
        self.exec(
            "INSERT INTO trail (id, kind, ref_id, at, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            args![id, kind.as_str(), ref_id, at, body, prev, hash],
        )
        .context("appending to the trail")?;
        Ok(())
    }

    /// Records every existing row, oldest first: run once when the trail
    /// is created on a state file that has history already.
    pub(super) fn seal_existing(&self) -> anyhow::Result<()> {
        for kind in KINDS {
            let Some(snapshot) = kind.snapshot() else {
                continue;
            };
            let ids: Vec<i64> = self
                .rows(
                    &format!("SELECT id FROM {} ORDER BY id", snapshot.table),
                    vec![],
                )?
                .iter()
                .map(|row| row.int(0))
                .collect::<anyhow::Result<_>>()?;
            for id in ids {
                self.chain(kind, id)?;
            }
        }
        Ok(())
    }

    /// After evaluations older than `before` were pruned (`pruned` rows):
    /// removes the trail records older than `before` (never the head) and
    /// appends a checkpoint that keeps the chain verifiable.
    pub(super) fn checkpoint(
        &self,
        before: DateTime<Utc>,
        pruned: usize,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let before = time_text(before);
        let ends = self.one("SELECT min(id), max(id) FROM trail", vec![])?;
        let (Some(first), Some(head)) = (ends.opt_int(0)?, ends.opt_int(1)?) else {
            return Ok(());
        };
        let first_recent = self
            .one("SELECT min(id) FROM trail WHERE at >= ?1", args![before])?
            .opt_int(0)?;
        let through = first_recent.map_or(head, |id| id - 1).min(head - 1);
        if through < first && pruned == 0 {
            return Ok(());
        }
        let (through, through_hash): (i64, String) = if through >= first {
            let hash = self
                .one("SELECT hash FROM trail WHERE id = ?1", args![through])?
                .text(0)?;
            (through, hash)
        } else {
            let prev = self
                .one("SELECT prev_hash FROM trail WHERE id = ?1", args![first])?
                .text(0)?;
            (first - 1, prev)
        };
        let removed = self.exec("DELETE FROM trail WHERE id <= ?1", args![through])?;
        let body = serde_json::json!({
            "through": through,
            "through_hash": through_hash,
            "records_removed": removed,
            "evaluations_pruned": pruned,
            "before": before,
        });
        self.append(
            Kind::Checkpoint,
            through,
            &time_text(now),
            &body.to_string(),
        )
    }

    /// The latest record, if any.
    pub fn trail_head(&self) -> anyhow::Result<Option<Head>> {
        self.row(
            "SELECT id, hash, (SELECT count(*) FROM trail) FROM trail ORDER BY id DESC LIMIT 1",
            vec![],
        )?
        .map(|row| {
            Ok(Head {
                id: row.int(0)?,
                hash: row.text(1)?,
                records: row.int(2)?,
            })
        })
        .transpose()
    }
}

/// One trail record as read back.
struct Record {
    id: i64,
    kind: String,
    ref_id: i64,
    at: String,
    body: String,
    prev: String,
    hash: String,
}

impl Store {
    /// The latest trail record.
    pub fn trail_head(&self) -> anyhow::Result<Option<Head>> {
        self.read(|tx| tx.trail_head())
    }

    /// Checks the chain and every recorded row: the head, or the first
    /// record (or row) found broken.
    pub fn verify(&self) -> anyhow::Result<Result<Option<Head>, Broken>> {
        self.read(|tx| {
            let mut problems: Vec<Broken> = Vec::new();
            if let Some(broken) = verify_chain(tx)? {
                problems.push(broken);
            }
            let before = pruned_before(tx)?;
            for kind in KINDS {
                problems.extend(verify_rows(tx, kind, before.as_deref())?);
            }
            // The first in the trail's order; rows with no record last.
            problems.sort_by_key(|b| b.record.unwrap_or(i64::MAX));
            match problems.into_iter().next() {
                Some(broken) => Ok(Err(broken)),
                None => Ok(Ok(tx.trail_head()?)),
            }
        })
    }
}

/// The latest retention cutoff a checkpoint records.
fn pruned_before(tx: &Tx<'_>) -> anyhow::Result<Option<String>> {
    let before = match tx.backend() {
        Backend::Sqlite => "json_extract(body, '$.before')",
        Backend::Postgres => "(body::json ->> 'before')",
    };
    tx.one(
        &format!("SELECT max({before}) FROM trail WHERE kind = 'checkpoint'"),
        vec![],
    )?
    .opt_text(0)
}

/// Walks the chain in order; the first record whose hash or link is wrong.
fn verify_chain(tx: &Tx<'_>) -> anyhow::Result<Option<Broken>> {
    let rows = tx.rows(
        "SELECT id, kind, ref_id, at, body, prev_hash, hash FROM trail ORDER BY id",
        vec![],
    )?;
    let mut previous: Option<(i64, String)> = None;
    for row in rows {
        let record = Record {
            id: row.int(0)?,
            kind: row.text(1)?,
            ref_id: row.int(2)?,
            at: row.text(3)?,
            body: row.text(4)?,
            prev: row.text(5)?,
            hash: row.text(6)?,
        };
        let linked = match &previous {
            Some((id, hash)) => record.id == id + 1 && &record.prev == hash,
            None => record.prev == GENESIS || checkpoint_explains(tx, &record)?,
        };
        if !linked {
            return Ok(Some(Broken {
                record: Some(record.id),
                why: format!(
                    "trail record {} does not follow the one before it: a record was removed or replaced",
                    record.id
                ),
            }));
        }
        let hash = record_hash(
            &record.prev,
            record.id,
            &record.kind,
            record.ref_id,
            &record.at,
            &record.body,
        );
        if hash != record.hash {
            return Ok(Some(Broken {
                record: Some(record.id),
                why: format!(
                    "trail record {} ({} {}) was changed after it was written: its hash does not match",
                    record.id, record.kind, record.ref_id
                ),
            }));
        }
        previous = Some((record.id, record.hash));
    }
    Ok(None)
}

/// Whether a checkpoint vouches for the link of the first record left
/// after pruning.
fn checkpoint_explains(tx: &Tx<'_>, first: &Record) -> anyhow::Result<bool> {
    let (through, through_hash) = match tx.backend() {
        Backend::Sqlite => (
            "json_extract(body, '$.through')",
            "json_extract(body, '$.through_hash')",
        ),
        Backend::Postgres => (
            "(body::json ->> 'through')::bigint",
            "(body::json ->> 'through_hash')",
        ),
    };
    tx.one(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM trail WHERE kind = 'checkpoint'
                 AND {through} = ?1 AND {through_hash} = ?2)"
        ),
        args![first.id - 1, first.prev],
    )?
    .bool(0)
}

/// Rows of `kind` that differ from their latest record, and rows with no
/// record.
fn verify_rows(tx: &Tx<'_>, kind: Kind, before: Option<&str>) -> anyhow::Result<Vec<Broken>> {
    let Some(snapshot) = kind.snapshot() else {
        return Ok(Vec::new());
    };
    let Snapshot { table, json, .. } = snapshot;
    let json = tx.json(json);
    let differs = match tx.backend() {
        Backend::Sqlite => "IS NOT",
        Backend::Postgres => "IS DISTINCT FROM",
    };
    // A pruned evaluation is expected to be gone.
    let pruned = if kind == Kind::Evaluation {
        before
    } else {
        None
    };
    let sql = format!(
        "SELECT t.id, t.ref_id, t.body FROM trail t
         WHERE t.kind = ?1 AND t.id = (SELECT max(u.id) FROM trail u WHERE u.kind = t.kind AND u.ref_id = t.ref_id)
           AND t.body {differs} coalesce((SELECT {json} FROM {table} r WHERE r.id = t.ref_id), 'null')
           AND NOT (CAST(?2 AS TEXT) IS NOT NULL AND t.at < ?2 AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.id = t.ref_id))
         ORDER BY t.id LIMIT 1"
    );
    let mut problems = Vec::new();
    let changed = match tx.row(&sql, args![kind.as_str(), pruned])? {
        Some(row) => Some((row.int(0)?, row.int(1)?, row.text(2)?)),
        None => None,
    };
    if let Some((record, ref_id, body)) = changed {
        let what = describe(kind, ref_id, &body);
        problems.push(Broken {
            record: Some(record),
            why: format!(
                "{what} differs from trail record {record}: the row was edited, added or deleted outside accesswatch"
            ),
        });
    }
    // Rows never recorded; after pruning, old rows of the kinds that are
    // kept (episodes, acks, notes, emails) may have lost their records.
    let trail_pruned = pruned_before(tx)?.is_some();
    if kind == Kind::Evaluation || !trail_pruned {
        let sql = format!(
            "SELECT r.id, {json} FROM {table} r WHERE NOT EXISTS
                 (SELECT 1 FROM trail t WHERE t.kind = ?1 AND t.ref_id = r.id) ORDER BY r.id LIMIT 1"
        );
        let unrecorded = match tx.row(&sql, args![kind.as_str()])? {
            Some(row) => Some((row.int(0)?, row.text(1)?)),
            None => None,
        };
        if let Some((ref_id, body)) = unrecorded {
            problems.push(Broken {
                record: None,
                why: format!(
                    "{} is in no trail record: it was added outside accesswatch",
                    describe(kind, ref_id, &body)
                ),
            });
        }
    }
    Ok(problems)
}

/// "evaluation 12 (check mh-initial-wait, group region=socal-south, at …)".
fn describe(kind: Kind, ref_id: i64, body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let mut details = Vec::new();
    if let Some(check) = field("check_id") {
        details.push(format!("check {check}"));
    }
    if let Some(group) = field("group_key") {
        details.push(format!("group {group}"));
    }
    if let Some(at) = field("evaluated_at").or_else(|| field("at")) {
        details.push(format!("at {at}"));
    }
    if let Some(id) = field("message_id") {
        details.push(format!("Message-ID {id}"));
    }
    let table = kind.snapshot().map_or("trail", |s| s.table);
    if details.is_empty() {
        format!("{} {ref_id} (table {table})", kind.as_str())
    } else {
        format!(
            "{} {ref_id} (table {table}; {})",
            kind.as_str(),
            details.join(", ")
        )
    }
}
