//! The state store: one SQLite file in the state directory (the default),
//! or a PostgreSQL database shared by the nodes of a pair (`postgres`);
//! the only module that knows rusqlite. Both run the same statements
//! (`sql`) on the same schema: the PostgreSQL one is SQLite's, translated
//! ([`postgres_ddl`]).
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
pub mod lease;
mod mirror;
mod notes;
mod outbox;
mod period;
mod postgres;
pub(crate) mod sql;
mod trail;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use sql::args;

pub use episodes::Acked;
pub use history::{CheckFailure, Trends};
pub use outbox::{InlineImage, OutboxMessage, OutboxStats};
pub use period::{AckRecord, EpisodeRecord, MessageRecord};
pub use postgres::{PostgresState, postgres_ddl};
pub use trail::{Broken, Head};

/// Where the state lives.
#[derive(Debug, Clone)]
pub enum Location {
    /// `accesswatch.db` (SQLite) in this directory.
    Directory(PathBuf),
    /// A PostgreSQL database (`[state] url`).
    Postgres(PostgresState),
}

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
    db: Db,
    path: PathBuf,
    /// Held for the store's lifetime: the daemon's claim on the directory.
    _lock: Option<File>,
    /// On PostgreSQL, the lease a node's writes are fenced by (`lease`).
    fence: Mutex<lease::Fencing>,
}

/// A SQLite transaction that writes (and commits) or only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SqliteMode {
    Write,
    Read,
}

// A process has one or two stores: their size does not matter.
#[allow(clippy::large_enum_variant)]
enum Db {
    Sqlite(Mutex<Connection>),
    /// The lock keeps a transaction's statements together on the one
    /// connection.
    Postgres {
        client: crate::pg::Blocking,
        lock: Mutex<()>,
        /// A connection of its own for the lease, so that renewing it
        /// never waits for a run's transaction (it connects only when used).
        lease: crate::pg::Blocking,
        lease_lock: Mutex<()>,
    },
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.describe())
    }
}

/// Opens (creating if needed) the state store at `location` for the daemon
/// or `run --once --notify`: takes the lock, migrates, checks integrity.
pub fn open(location: &Location) -> anyhow::Result<Store> {
    match location {
        Location::Directory(directory) => open_file(directory),
        Location::Postgres(settings) => postgres::open(settings, true).context(POSTGRES_FIX),
    }
}

/// What to check when the PostgreSQL state store cannot be opened.
const POSTGRES_FIX: &str = "opening the state store of [state] url: check the host, port, user and      database in `url`, the password (password_file, password_env or password_credential) and `tls`,      and that the server is running";

/// Opens an existing store for reading (`status`), without the lock.
pub fn open_read_only(location: &Location) -> anyhow::Result<Store> {
    match location {
        Location::Directory(directory) => open_file_read_only(directory),
        Location::Postgres(settings) => postgres::open(settings, false).context(POSTGRES_FIX),
    }
}

/// Opens an existing store for writing while the daemon may be running
/// (`ack`, `note`).
pub fn open_shared(location: &Location) -> anyhow::Result<Store> {
    match location {
        Location::Directory(directory) => open_file_shared(directory),
        Location::Postgres(settings) => postgres::open(settings, false).context(POSTGRES_FIX),
    }
}

impl Store {
    fn sqlite(connection: Connection, path: PathBuf, lock: Option<File>) -> Store {
        Store {
            db: Db::Sqlite(Mutex::new(connection)),
            path,
            _lock: lock,
            fence: Mutex::new(lease::Fencing::None),
        }
    }
}

fn open_file(directory: &Path) -> anyhow::Result<Store> {
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
    Ok(Store::sqlite(connection, path, Some(lock)))
}

fn open_file_read_only(directory: &Path) -> anyhow::Result<Store> {
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
    Ok(Store::sqlite(connection, path, None))
}

/// No lock file: SQLite's own locking and a busy timeout keep `ack` and
/// the daemon apart.
fn open_file_shared(directory: &Path) -> anyhow::Result<Store> {
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
    Ok(Store::sqlite(connection, path, None))
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
    let tx = Tx {
        conn: TxConn::Sqlite(transaction),
    };
    tx.seal_existing()
        .with_context(|| format!("recording the history of {} in its trail", path.display()))?;
    tx.into_sqlite()?
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
    /// The state file, or for PostgreSQL `user@host:port/dbname`.
    pub fn describe(&self) -> String {
        match &self.db {
            Db::Sqlite(_) => self.path.display().to_string(),
            Db::Postgres { client, .. } => format!("postgres {}", client.target().describe()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres { .. })
    }

    /// Runs `work` in one transaction, committed only if it succeeds (and,
    /// on PostgreSQL, only if the lease it is fenced by is still held).
    pub fn transaction<T>(
        &self,
        work: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        match &self.db {
            Db::Sqlite(connection) => self.in_sqlite(connection, SqliteMode::Write, work),
            Db::Postgres { client, lock, .. } => {
                let fencing = self.fencing()?;
                postgres::transaction(client, lock, &fencing, postgres::Mode::Write, work)
                    .with_context(|| format!("writing to {}", self.describe()))
            }
        }
    }

    /// [`Store::transaction`] without the fencing: for what records a fact
    /// that happened whoever leads now (an SMTP server accepted a message,
    /// or refused it). A node that lost the lease mid-send still marks the
    /// message sent, so the new leader does not send it again.
    pub fn transaction_unfenced<T>(
        &self,
        work: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        match &self.db {
            Db::Sqlite(_) => self.transaction(work),
            Db::Postgres { client, lock, .. } => postgres::transaction(
                client,
                lock,
                &lease::Fencing::None,
                postgres::Mode::Write,
                work,
            )
            .with_context(|| format!("writing to {}", self.describe())),
        }
    }

    /// Runs read-only `work` in a deferred transaction (works on a store
    /// opened read-only).
    pub fn read<T>(&self, work: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>) -> anyhow::Result<T> {
        match &self.db {
            Db::Sqlite(connection) => self.in_sqlite(connection, SqliteMode::Read, work),
            Db::Postgres { client, lock, .. } => postgres::transaction(
                client,
                lock,
                &lease::Fencing::None,
                postgres::Mode::Read,
                work,
            )
            .with_context(|| format!("reading {}", self.describe())),
        }
    }

    /// Whether the store can still be written (for health checks): a file
    /// can be made in its directory, and a write transaction begins.
    pub fn writable(&self) -> bool {
        if self.is_postgres() {
            return self.read(|_| Ok(())).is_ok();
        }
        let Some(directory) = self.path.parent() else {
            return false;
        };
        let probe = directory.join(".healthz-probe");
        let files = std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe));
        files.is_ok() && self.transaction(|_| Ok(())).is_ok()
    }

    /// A PostgreSQL transaction outside the writers' lock and the fencing,
    /// for the lease itself.
    fn unfenced<T>(&self, work: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>) -> anyhow::Result<T> {
        match &self.db {
            Db::Sqlite(_) => Err(anyhow!(
                "leadership needs the state on PostgreSQL ([state] url)"
            )),
            Db::Postgres {
                lease, lease_lock, ..
            } => postgres::transaction(
                lease,
                lease_lock,
                &lease::Fencing::None,
                postgres::Mode::Unlocked,
                work,
            )
            .with_context(|| format!("updating the leader lease on {}", self.describe())),
        }
    }

    /// One SQLite transaction: a write takes the database's write lock at
    /// once (`IMMEDIATE`) and commits if `work` succeeds; a read is
    /// deferred and commits nothing.
    fn in_sqlite<T>(
        &self,
        connection: &Mutex<Connection>,
        mode: SqliteMode,
        work: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut connection = connection
            .lock()
            .map_err(|_| anyhow!("the state store's lock was poisoned"))?;
        let (behavior, doing) = match mode {
            SqliteMode::Write => (
                rusqlite::TransactionBehavior::Immediate,
                "starting a transaction on",
            ),
            SqliteMode::Read => (rusqlite::TransactionBehavior::Deferred, "reading"),
        };
        let transaction = connection
            .transaction_with_behavior(behavior)
            .with_context(|| format!("{doing} {}", self.describe()))?;
        let tx = Tx {
            conn: TxConn::Sqlite(transaction),
        };
        let value = work(&tx)?;
        if mode == SqliteMode::Write {
            tx.into_sqlite()?
                .commit()
                .with_context(|| format!("committing to {}", self.describe()))?;
        }
        Ok(value)
    }

    fn fencing(&self) -> anyhow::Result<lease::Fencing> {
        Ok(self
            .fence
            .lock()
            .map_err(|_| anyhow!("the state store's lock was poisoned"))?
            .clone())
    }

    /// Runs `sql` as is (for tests that play an outsider editing rows).
    #[cfg(test)]
    pub(crate) fn raw(&self, sql: &str) -> anyhow::Result<()> {
        match &self.db {
            Db::Sqlite(connection) => Ok(connection.lock().unwrap().execute_batch(sql)?),
            Db::Postgres { client, .. } => client.batch(sql),
        }
    }
}

/// One transaction on the store.
pub struct Tx<'a> {
    conn: TxConn<'a>,
}

enum TxConn<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(&'a crate::pg::Blocking),
}

impl<'a> Tx<'a> {
    fn into_sqlite(self) -> anyhow::Result<rusqlite::Transaction<'a>> {
        match self.conn {
            TxConn::Sqlite(transaction) => Ok(transaction),
            TxConn::Postgres(_) => Err(anyhow!("not a SQLite transaction")),
        }
    }
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
        const SQL: &str = "INSERT INTO evaluations (check_id, group_key, labels, status, value, limit_value, evaluated_at, data_time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
        let evaluated_at = time_text(result.evaluated_at);
        let data_time = result.data_time.map(time_text);
        if result.groups.is_empty() {
            let id = self.insert(
                SQL,
                args![
                    result.id,
                    "",
                    "{}",
                    result.status.as_str(),
                    None::<f64>,
                    result.comparison.limit,
                    evaluated_at,
                    data_time
                ],
            )?;
            self.chain(trail::Kind::Evaluation, id)?;
        }
        for group in &result.groups {
            let id = self.insert(
                SQL,
                args![
                    result.id,
                    group.label_text(),
                    serde_json::to_string(&group.labels)?,
                    group.status.as_str(),
                    group.value.filter(|v| v.is_finite()),
                    group.limit,
                    evaluated_at,
                    data_time
                ],
            )?;
            self.chain(trail::Kind::Evaluation, id)?;
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
        let pruned = self.exec(
            "DELETE FROM evaluations WHERE evaluated_at < ?1",
            args![time_text(before)],
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
                self.exec(
                    "INSERT INTO sources (source_id, last_success_at) VALUES (?1, ?2)
                     ON CONFLICT (source_id) DO UPDATE SET last_success_at = ?2, first_failure_at = NULL, last_error = NULL",
                    args![source, time_text(now)],
                )?;
                Ok(None)
            }
            Err(error) => {
                self.exec(
                    "INSERT INTO sources (source_id, first_failure_at, last_error) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source_id) DO UPDATE SET first_failure_at = coalesce(sources.first_failure_at, ?2), last_error = ?3",
                    args![source, time_text(now), error],
                )?;
                let first = self.one(
                    "SELECT first_failure_at FROM sources WHERE source_id = ?1",
                    args![source],
                )?;
                first.time(0)
            }
        }
    }
}

#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;
