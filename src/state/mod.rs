//! The state store: one SQLite file in the state directory, the only
//! module that knows rusqlite.
//!
//! It keeps every evaluation result, the alert episodes ([`Episode`]), the
//! acknowledgements, the health of each source, and the email outbox.
//! `history` reads the evaluations back as series and trends. The
//! schema is versioned (`PRAGMA user_version`) and migrated forward at
//! start-up. A lock file beside the database ([`LOCK_FILE`]) keeps a second
//! daemon out; readers such as `accesswatch status` open the database
//! without it. Every problem at start-up names the file and says what to
//! do ([`open`]).
//!
//! All writes of one run happen in one transaction ([`Store::transaction`]):
//! the state change and the email it causes are stored together or not at
//! all.

mod episodes;
mod history;
mod mirror;
mod notes;
mod outbox;
mod period;
mod trail;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

pub use episodes::Acked;
pub use history::{CheckFailure, Trends};
pub use outbox::{InlineImage, OutboxMessage, OutboxStats};
pub use period::{AckRecord, EpisodeRecord, MessageRecord};
pub use trail::{Broken, Head};

pub const DB_FILE: &str = "accesswatch.db";
pub const LOCK_FILE: &str = "accesswatch.lock";

/// The schema, one entry per version: version N is reached by running
/// `MIGRATIONS[N - 1]`. Never edit a released entry; add one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    check_id TEXT NOT NULL,
    group_key TEXT NOT NULL,
    labels TEXT NOT NULL,
    status TEXT NOT NULL,
    value REAL,
    limit_value REAL,
    evaluated_at TEXT NOT NULL,
    data_time TEXT
);
CREATE INDEX evaluations_by_check ON evaluations (check_id, evaluated_at);
CREATE TABLE episodes (
    id INTEGER PRIMARY KEY,
    check_id TEXT NOT NULL,
    group_key TEXT NOT NULL,
    labels TEXT NOT NULL,
    severity TEXT NOT NULL,
    phase TEXT NOT NULL,
    started_at TEXT NOT NULL,
    firing_since TEXT,
    resolved_at TEXT,
    breaches INTEGER NOT NULL,
    last_status TEXT NOT NULL,
    last_value REAL,
    last_limit REAL NOT NULL,
    last_seen_at TEXT NOT NULL,
    notified_at TEXT,
    reminders INTEGER NOT NULL,
    next_reminder_at TEXT,
    resolution_notified_at TEXT,
    thread_id TEXT,
    ack_until TEXT,
    ack_by TEXT,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX one_open_episode ON episodes (check_id, group_key) WHERE closed = 0 AND phase <> 'resolved';
CREATE TABLE acks (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes (id),
    until TEXT,
    by_whom TEXT NOT NULL,
    at TEXT NOT NULL,
    cleared INTEGER NOT NULL
);
CREATE TABLE sources (
    source_id TEXT PRIMARY KEY,
    last_success_at TEXT,
    first_failure_at TEXT,
    last_error TEXT
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    route TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    message_id TEXT NOT NULL,
    in_reply_to TEXT,
    refs TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT,
    stuck_reported INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);
"#,
    r#"
CREATE TABLE source_cursors (
    source_id TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE source_rows (
    source_id TEXT NOT NULL,
    row_key TEXT NOT NULL,
    row_json TEXT NOT NULL,
    PRIMARY KEY (source_id, row_key)
);
"#,
    r#"
ALTER TABLE episodes ADD COLUMN note TEXT;
"#,
    r#"
ALTER TABLE outbox ADD COLUMN claimed_at TEXT;
"#,
    r#"
CREATE TABLE trail (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ref_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX trail_by_row ON trail (kind, ref_id, id);
CREATE INDEX trail_by_time ON trail (at);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    check_id TEXT NOT NULL,
    group_key TEXT NOT NULL,
    labels TEXT NOT NULL,
    text TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    at TEXT NOT NULL
);
ALTER TABLE acks ADD COLUMN note TEXT;
"#,
    r#"
ALTER TABLE outbox ADD COLUMN images TEXT NOT NULL DEFAULT '[]';
"#,
];

pub struct Store {
    connection: Mutex<Connection>,
    path: PathBuf,
    /// Held for the store's lifetime: the daemon's claim on the directory.
    _lock: Option<File>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

/// Opens (creating if needed) the state store in `directory` for the daemon
/// or `run --once --notify`: takes the lock, migrates, checks integrity.
pub fn open(directory: &Path) -> anyhow::Result<Store> {
    std::fs::create_dir_all(directory).map_err(|e| {
        anyhow!(
            "cannot create the state directory {}: {e}; create it writable for the daemon's user \
             (under systemd, StateDirectory=accesswatch does) or set [daemon] state_directory",
            directory.display()
        )
    })?;
    let lock = take_lock(directory)?;
    let path = directory.join(DB_FILE);
    let connection = Connection::open(&path).map_err(|e| open_error(&path, &e))?;
    // SQLite quietly falls back to read-only when it cannot write the file.
    if connection.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
        return Err(anyhow!(
            "cannot write the state file {}: it is read-only (file mode, `chattr +i`, or a read-only mount); \
             make it and its directory writable for the daemon's user",
            path.display()
        ));
    }
    prepare(&connection, &path)?;
    Ok(Store {
        connection: Mutex::new(connection),
        path,
        _lock: Some(lock),
    })
}

/// Opens an existing store for reading (`status`), without the lock.
pub fn open_read_only(directory: &Path) -> anyhow::Result<Store> {
    let path = directory.join(DB_FILE);
    if !path.exists() {
        return Err(anyhow!(
            "no state file at {}: the daemon has not run yet with this state_directory",
            path.display()
        ));
    }
    let connection = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| open_error(&path, &e))?;
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| open_error(&path, &e))?;
    match check_version(&connection, &path)? {
        0 => return Err(not_run_yet(&path)),
        version if version < MIGRATIONS.len() => return Err(older_schema(&path)),
        _ => {}
    }
    Ok(Store {
        connection: Mutex::new(connection),
        path,
        _lock: None,
    })
}

/// Opens an existing store for writing while the daemon may be running
/// (`ack`): no lock file, SQLite's own locking and a busy timeout keep the
/// two apart.
pub fn open_shared(directory: &Path) -> anyhow::Result<Store> {
    let path = directory.join(DB_FILE);
    if !path.exists() {
        return Err(anyhow!(
            "no state file at {}: the daemon has not run yet with this state_directory",
            path.display()
        ));
    }
    let connection = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| open_error(&path, &e))?;
    connection
        .busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| open_error(&path, &e))?;
    match check_version(&connection, &path)? {
        0 => return Err(not_run_yet(&path)),
        version if version < MIGRATIONS.len() => return Err(older_schema(&path)),
        _ => {}
    }
    Ok(Store {
        connection: Mutex::new(connection),
        path,
        _lock: None,
    })
}

/// A state file at schema version 0 holds no table: the daemon created it
/// and was stopped (or killed) before its first start-up finished.
fn not_run_yet(path: &Path) -> anyhow::Error {
    anyhow!(
        "the state file {} is empty: the daemon has not run yet with this state_directory \
         (or was stopped during its first start-up); start it once",
        path.display()
    )
}

fn older_schema(path: &Path) -> anyhow::Error {
    anyhow!(
        "the state file {} has an older schema: start the daemon once to migrate it",
        path.display()
    )
}

fn take_lock(directory: &Path) -> anyhow::Result<File> {
    let lock_path = directory.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            anyhow!(
                "cannot write in the state directory {} ({e}): make it writable for the daemon's user",
                directory.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow!(
            "the state file {} is in use by another running accesswatch (it holds {}): \
             stop the other instance, or give this one its own state_directory",
            directory.join(DB_FILE).display(),
            lock_path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow!("cannot lock {}: {e}", lock_path.display()))
        }
    }
}

fn open_error(path: &Path, error: &rusqlite::Error) -> anyhow::Error {
    let code = error.sqlite_error_code();
    match code {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => anyhow!(
            "the state file {} is corrupt ({error}): move it aside (mv {0} {0}.corrupt) and start again; \
             alert history starts afresh and open alerts are sent again",
            path.display()
        ),
        Some(
            rusqlite::ErrorCode::ReadOnly
            | rusqlite::ErrorCode::CannotOpen
            | rusqlite::ErrorCode::PermissionDenied,
        ) => {
            anyhow!(
                "cannot write the state file {} ({error}): make it and its directory writable for the daemon's user",
                path.display()
            )
        }
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => anyhow!(
            "the state file {} is locked by another process ({error}): stop the other accesswatch",
            path.display()
        ),
        _ => anyhow!("cannot open the state file {}: {error}", path.display()),
    }
}

/// WAL, foreign keys, integrity, and the schema migrations.
fn prepare(connection: &Connection, path: &Path) -> anyhow::Result<()> {
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| open_error(path, &e))?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| open_error(path, &e))?;
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(|e| open_error(path, &e))?;
    let check: String = connection
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|e| open_error(path, &e))?;
    if check != "ok" {
        return Err(anyhow!(
            "the state file {} is corrupt (quick_check: {check}): move it aside (mv {0} {0}.corrupt) and start again",
            path.display()
        ));
    }
    let version = check_version(connection, path)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let next = index + 1;
        connection
            .execute_batch(&format!(
                "BEGIN; {migration}; PRAGMA user_version = {next}; COMMIT;"
            ))
            .map_err(|e| {
                let _ = connection.execute_batch("ROLLBACK");
                open_error(path, &e)
            })
            .with_context(|| format!("migrating {} to schema version {next}", path.display()))?;
    }
    seal(connection, path)
}

/// A state file with history from before the trail existed gets every row
/// recorded once, so that verification covers it from then on.
fn seal(connection: &Connection, path: &Path) -> anyhow::Result<()> {
    let empty: bool = connection
        .query_row("SELECT NOT EXISTS (SELECT 1 FROM trail)", [], |row| {
            row.get(0)
        })
        .map_err(|e| open_error(path, &e))?;
    if !empty {
        return Ok(());
    }
    let transaction = connection
        .unchecked_transaction()
        .map_err(|e| open_error(path, &e))?;
    let tx = Tx { inner: transaction };
    tx.seal_existing()
        .with_context(|| format!("recording the history of {} in its trail", path.display()))?;
    tx.inner
        .commit()
        .with_context(|| format!("committing to {}", path.display()))
}

fn check_version(connection: &Connection, path: &Path) -> anyhow::Result<usize> {
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| open_error(path, &e))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(anyhow!(
            "the state file {} has schema version {version}, newer than this accesswatch knows ({known}): \
             run the newer accesswatch, or move the file aside",
            path.display()
        ));
    }
    Ok(version as usize)
}

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` in one transaction, committed only if it succeeds.
    pub fn transaction<T>(
        &self,
        work: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut connection = self
            .connection
            .lock()
            .map_err(|_| anyhow!("the state store's lock was poisoned"))?;
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .with_context(|| format!("starting a transaction on {}", self.path.display()))?;
        let tx = Tx { inner: transaction };
        let value = work(&tx)?;
        tx.inner
            .commit()
            .with_context(|| format!("committing to {}", self.path.display()))?;
        Ok(value)
    }

    /// Runs read-only `work` in a deferred transaction (works on a store
    /// opened read-only).
    pub fn read<T>(&self, work: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let mut connection = self
            .connection
            .lock()
            .map_err(|_| anyhow!("the state store's lock was poisoned"))?;
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)
            .with_context(|| format!("reading {}", self.path.display()))?;
        let tx = Tx { inner: transaction };
        work(&tx)
    }

    /// Whether the store can still be written (for health checks): a file
    /// can be made in its directory, and a write transaction begins.
    pub fn writable(&self) -> bool {
        let Some(directory) = self.path.parent() else {
            return false;
        };
        let probe = directory.join(".healthz-probe");
        let files = std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe));
        files.is_ok() && self.transaction(|_| Ok(())).is_ok()
    }
}

/// One transaction on the store.
pub struct Tx<'a> {
    inner: rusqlite::Transaction<'a>,
}

/// Times are stored as RFC 3339 UTC text with microseconds, which sorts.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Tx<'_> {
    /// Stores one evaluation result per group (or one for a check that
    /// could not be evaluated at all).
    pub fn record_result(&self, result: &crate::check::CheckResult) -> anyhow::Result<()> {
        let mut statement = self.inner.prepare_cached(
            "INSERT INTO evaluations (check_id, group_key, labels, status, value, limit_value, evaluated_at, data_time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let evaluated_at = time_text(result.evaluated_at);
        let data_time = result.data_time.map(time_text);
        if result.groups.is_empty() {
            statement.execute(rusqlite::params![
                result.id,
                "",
                "{}",
                result.status.as_str(),
                None::<f64>,
                result.comparison.limit,
                evaluated_at,
                data_time
            ])?;
            self.chain(trail::Kind::Evaluation, self.inner.last_insert_rowid())?;
        }
        for group in &result.groups {
            statement.execute(rusqlite::params![
                result.id,
                group.label_text(),
                serde_json::to_string(&group.labels)?,
                group.status.as_str(),
                group.value.filter(|v| v.is_finite()),
                group.limit,
                evaluated_at,
                data_time
            ])?;
            self.chain(trail::Kind::Evaluation, self.inner.last_insert_rowid())?;
        }
        Ok(())
    }

    /// Drops evaluation rows older than `before`, and the trail records
    /// older than that behind a checkpoint (`trail`).
    pub fn prune_evaluations(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        let pruned = self.inner.execute(
            "DELETE FROM evaluations WHERE evaluated_at < ?1",
            [time_text(before)],
        )?;
        self.checkpoint(before, pruned, now)?;
        Ok(pruned)
    }

    /// Records a source's fetch: `Ok` resets its failure clock; an error
    /// starts it (if not running). Returns when it started failing.
    pub fn record_source(
        &self,
        source: &str,
        outcome: Result<(), &str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        match outcome {
            Ok(()) => {
                self.inner.execute(
                    "INSERT INTO sources (source_id, last_success_at) VALUES (?1, ?2)
                     ON CONFLICT (source_id) DO UPDATE SET last_success_at = ?2, first_failure_at = NULL, last_error = NULL",
                    rusqlite::params![source, time_text(now)],
                )?;
                Ok(None)
            }
            Err(error) => {
                self.inner.execute(
                    "INSERT INTO sources (source_id, first_failure_at, last_error) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source_id) DO UPDATE SET first_failure_at = coalesce(first_failure_at, ?2), last_error = ?3",
                    rusqlite::params![source, time_text(now), error],
                )?;
                let first: Option<String> = self.inner.query_row(
                    "SELECT first_failure_at FROM sources WHERE source_id = ?1",
                    [source],
                    |row| row.get(0),
                )?;
                Ok(first.as_deref().and_then(parse_time))
            }
        }
    }
}

#[cfg(test)]
mod tests;
