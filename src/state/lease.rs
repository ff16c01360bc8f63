//! Leadership among the daemons sharing one PostgreSQL state store: one
//! row (`leader_lease`) names the leader, its fencing token and when its
//! lease expires, all in the database's clock so the nodes' clocks do not
//! matter. A node takes the lease only once it has expired, which adds one
//! to the token; the leader renews it every few seconds. Every write the
//! leader commits checks, in its own transaction, that the lease is still
//! its own with that token ([`Fencing::Leader`], [`check_fence`]), and
//! locks the row while it commits so a takeover waits for it: a run or a
//! delivery that started under a lease since lost commits nothing.
//!
//! `nodes` records each node's role and when it was last seen, for
//! `status`; `job_ticks` the last schedule tick each job ran, so that a new
//! leader runs a tick that fell due during a failover once. These tables
//! are created, if missing, with the schema (they have no SQLite twin: a
//! SQLite file has one daemon, held by its lock file).

use anyhow::anyhow;
use chrono::{DateTime, Utc};

use super::sql::{Backend, args};
use super::{Store, Tx, parse_time, time_text};

pub(super) const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS leader_lease (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        node TEXT COLLATE \"C\" NOT NULL,
        token BIGINT NOT NULL,
        acquired_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL)",
    "CREATE TABLE IF NOT EXISTS nodes (
        node TEXT COLLATE \"C\" PRIMARY KEY,
        role TEXT COLLATE \"C\" NOT NULL,
        seen_at TIMESTAMPTZ NOT NULL)",
    "CREATE TABLE IF NOT EXISTS job_ticks (
        job TEXT COLLATE \"C\" PRIMARY KEY,
        tick TEXT COLLATE \"C\" NOT NULL)",
];

/// What a store's writes are fenced by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fencing {
    /// Nothing (SQLite; the command line's `ack` and `note`).
    None,
    /// Commit only while `node` holds the lease with `token`.
    Leader { node: String, token: i64 },
    /// A standby writes nothing.
    Standby,
}

/// Fails the transaction unless its fencing allows it to commit.
pub(super) fn check_fence(tx: &Tx<'_>, fencing: &Fencing) -> anyhow::Result<()> {
    match fencing {
        Fencing::None => Ok(()),
        Fencing::Standby => Err(anyhow!(
            "this node is a standby: it writes nothing until it holds the leader lease"
        )),
        Fencing::Leader { node, token } => {
            let held = tx.row(
                "SELECT 1 FROM leader_lease WHERE id = 1 AND node = ?1 AND token = ?2 \
                 AND expires_at > clock_timestamp() FOR SHARE",
                args![node, *token],
            )?;
            match held {
                Some(_) => Ok(()),
                None => Err(anyhow!(
                    "the leader lease (token {token}) passed to another node: nothing of this was committed"
                )),
            }
        }
    }
}

/// A node as `status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    pub node: String,
    pub role: String,
    /// Seconds since it was last seen (the database's clock).
    pub seen_ago: f64,
    pub leader: bool,
}

/// The lease as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRecord {
    pub node: String,
    pub token: i64,
    /// Seconds until it expires (negative: expired).
    pub expires_in: f64,
}

impl Store {
    /// Sets what this store's writes are fenced by.
    pub fn set_fencing(&self, fencing: Fencing) {
        if let Ok(mut fence) = self.fence.lock() {
            *fence = fencing;
        }
    }

    /// Takes the lease for `node` if it is free or expired: its new
    /// fencing token. `None`: another node holds it.
    pub fn try_lead(&self, node: &str, ttl: std::time::Duration) -> anyhow::Result<Option<i64>> {
        self.unfenced(|tx| {
            let row = tx.row(
                "INSERT INTO leader_lease (id, node, token, acquired_at, expires_at)
                 VALUES (1, ?1, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => ?2))
                 ON CONFLICT (id) DO UPDATE SET node = excluded.node, token = leader_lease.token + 1,
                     acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
                 WHERE leader_lease.expires_at <= clock_timestamp()
                 RETURNING token",
                args![node, ttl.as_secs_f64()],
            )?;
            row.map(|r| r.int(0)).transpose()
        })
    }

    /// Renews the lease `token` of `node`; false if it is no longer its.
    pub fn renew_lead(
        &self,
        node: &str,
        token: i64,
        ttl: std::time::Duration,
    ) -> anyhow::Result<bool> {
        self.unfenced(|tx| {
            let changed = tx.exec(
                "UPDATE leader_lease SET expires_at = clock_timestamp() + make_interval(secs => ?3)
                 WHERE id = 1 AND node = ?1 AND token = ?2 AND expires_at > clock_timestamp()",
                args![node, token, ttl.as_secs_f64()],
            )?;
            Ok(changed == 1)
        })
    }

    /// Gives the lease up at once (a clean shutdown): a standby need not
    /// wait for it to expire.
    pub fn resign(&self, node: &str, token: i64) -> anyhow::Result<()> {
        self.unfenced(|tx| {
            tx.exec(
                "UPDATE leader_lease SET expires_at = clock_timestamp() WHERE id = 1 AND node = ?1 AND token = ?2",
                args![node, token],
            )?;
            Ok(())
        })
    }

    /// Records that `node` is alive in `role` ("leader", "standby").
    pub fn seen(&self, node: &str, role: &str) -> anyhow::Result<()> {
        self.unfenced(|tx| {
            tx.exec(
                "INSERT INTO nodes (node, role, seen_at) VALUES (?1, ?2, clock_timestamp())
                 ON CONFLICT (node) DO UPDATE SET role = excluded.role, seen_at = excluded.seen_at",
                args![node, role],
            )?;
            Ok(())
        })
    }

    /// The lease, if any node ever held it (PostgreSQL only).
    pub fn lease(&self) -> anyhow::Result<Option<LeaseRecord>> {
        if !self.is_postgres() {
            return Ok(None);
        }
        self.read(|tx| {
            tx.row(
                "SELECT node, token, extract(epoch FROM expires_at - clock_timestamp())::float8 FROM leader_lease WHERE id = 1",
                vec![],
            )?
            .map(|r| {
                Ok(LeaseRecord {
                    node: r.text(0)?,
                    token: r.int(1)?,
                    expires_in: r.real(2)?,
                })
            })
            .transpose()
        })
    }

    /// Every node seen, most recently seen first (PostgreSQL only).
    pub fn nodes(&self) -> anyhow::Result<Vec<NodeRecord>> {
        if !self.is_postgres() {
            return Ok(Vec::new());
        }
        self.read(|tx| {
            tx.rows(
                "SELECT n.node, n.role, extract(epoch FROM clock_timestamp() - n.seen_at)::float8,
                        EXISTS (SELECT 1 FROM leader_lease l WHERE l.node = n.node AND l.expires_at > clock_timestamp())
                 FROM nodes n ORDER BY n.seen_at DESC, n.node",
                vec![],
            )?
            .into_iter()
            .map(|r| {
                Ok(NodeRecord {
                    node: r.text(0)?,
                    role: r.text(1)?,
                    seen_ago: r.real(2)?,
                    leader: r.bool(3)?,
                })
            })
            .collect()
        })
    }

    /// The last schedule tick `job` ran for (PostgreSQL only).
    pub fn last_tick(&self, job: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
        if !self.is_postgres() {
            return Ok(None);
        }
        self.read(|tx| {
            Ok(tx
                .row("SELECT tick FROM job_ticks WHERE job = ?1", args![job])?
                .and_then(|r| r.opt_text(0).ok().flatten())
                .as_deref()
                .and_then(parse_time))
        })
    }
}

impl Tx<'_> {
    /// Records that `job` ran its tick `tick`, in the run's transaction
    /// (PostgreSQL only; nothing on SQLite).
    pub fn record_tick(&self, job: &str, tick: DateTime<Utc>) -> anyhow::Result<()> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        self.exec(
            "INSERT INTO job_ticks (job, tick) VALUES (?1, ?2)
             ON CONFLICT (job) DO UPDATE SET tick = greatest(job_ticks.tick, excluded.tick)",
            args![job, time_text(tick)],
        )?;
        Ok(())
    }
}
