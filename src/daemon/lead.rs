//! Leadership when the state is on PostgreSQL and shared by several nodes:
//! the lease loop takes the leader lease when it is free, renews it every
//! third of `lease_ttl`, and steps down when it cannot (the lease passed
//! to another node, or the database did not answer for two thirds of the
//! TTL, before the lease can expire in the database's clock). The role
//! goes out on a `watch` channel: the daemon starts the schedules and the
//! delivery worker when it becomes [`Role::Leader`] and stops them when it
//! stops being one; `/healthz`, `/metrics` and `status` show it.
//!
//! The store's writes are fenced by the lease token the node holds
//! (`state::lease`), so a run or a claim started under a lease that has
//! since passed on commits nothing, however late it gets to its commit.
//!
//! [`missed`] decides, for a node that has just become leader, which jobs
//! owe a run: those with a tick due since the last tick any node ran.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::check::schedule::Schedule;
use crate::state::Store;
use crate::state::lease::Fencing;

/// What this node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The only node (SQLite): always runs everything.
    Single,
    Leader {
        node: String,
        token: i64,
    },
    Standby {
        node: String,
    },
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Leader { .. } => "leader",
            Role::Standby { .. } => "standby",
        }
    }

    /// Whether this node runs the schedules and sends email.
    pub fn leads(&self) -> bool {
        !matches!(self, Role::Standby { .. })
    }
}

/// How often the lease is renewed (or a standby tries to take it).
pub fn renew_every(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(500))
}

/// Runs until `shutdown`: takes, renews and gives up the lease of `node`,
/// publishing the role on `role`.
pub async fn lease_loop(
    store: Arc<Store>,
    node: String,
    ttl: Duration,
    role: watch::Sender<Role>,
    shutdown: CancellationToken,
) {
    let every = renew_every(ttl);
    // The lease as held: its token and when the last renewal that
    // succeeded was sent (the lease lasts at least `ttl` from then).
    let mut held: Option<(i64, Instant)> = None;
    let mut warned = false;
    loop {
        let attempt = Instant::now();
        held = match held {
            None => match call(&store, every, {
                let node = node.clone();
                move |s| s.try_lead(&node, ttl)
            })
            .await
            {
                Ok(Some(token)) => {
                    store.set_fencing(Fencing::Leader {
                        node: node.clone(),
                        token,
                    });
                    info!(node = %node, token, "this node leads: it runs the schedules and sends email");
                    role.send_replace(Role::Leader {
                        node: node.clone(),
                        token,
                    });
                    warned = false;
                    Some((token, attempt))
                }
                Ok(None) => {
                    warned = false;
                    None
                }
                Err(e) => {
                    if !warned {
                        warn!(error = %format!("{e:#}"), "cannot reach the state store to take the leader lease; standing by");
                        warned = true;
                    }
                    None
                }
            },
            Some((token, last_ok)) => {
                // Step down before the lease can expire in the database:
                // the renewal must answer within what is left of it.
                let left = (last_ok + ttl.saturating_sub(every)).saturating_duration_since(attempt);
                let renewed = if left.is_zero() {
                    Err(anyhow::anyhow!(
                        "no renewal succeeded for {}",
                        humantime::format_duration(ttl - every)
                    ))
                } else {
                    call(&store, left, {
                        let node = node.clone();
                        move |s| s.renew_lead(&node, token, ttl)
                    })
                    .await
                };
                match renewed {
                    Ok(true) => Some((token, attempt)),
                    Ok(false) => {
                        step_down(&store, &node, &role, "the lease passed to another node");
                        None
                    }
                    Err(e) if attempt + every >= last_ok + ttl.saturating_sub(every) => {
                        step_down(&store, &node, &role, &format!("{e:#}"));
                        None
                    }
                    Err(e) => {
                        warn!(error = %format!("{e:#}"), "cannot renew the leader lease; trying again");
                        Some((token, last_ok))
                    }
                }
            }
        };
        let name = role.borrow().as_str();
        let seen = call(&store, every, {
            let node = node.clone();
            move |s| s.seen(&node, name)
        });
        let _ = seen.await;
        let pause = every.saturating_sub(attempt.elapsed());
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

fn step_down(store: &Store, node: &str, role: &watch::Sender<Role>, why: &str) {
    store.set_fencing(Fencing::Standby);
    warn!(node = %node, reason = %why, "this node no longer leads; standing by");
    role.send_replace(Role::Standby {
        node: node.to_owned(),
    });
}

/// Runs a store call on a blocking thread, bounded by `limit`.
async fn call<T: Send + 'static>(
    store: &Arc<Store>,
    limit: Duration,
    work: impl FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let store = store.clone();
    let task = tokio::task::spawn_blocking(move || work(&store));
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(anyhow::anyhow!("the state store call failed: {e}")),
        Err(_) => Err(anyhow::anyhow!(
            "the state store did not answer within {}",
            humantime::format_duration(limit)
        )),
    }
}

/// Whether a job on `schedule` whose last run was for the tick `last`
/// (`None`: never ran) owes a run at `now`: a tick fell due since. Pure.
pub fn missed(schedule: &Schedule, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match last {
        None => true,
        Some(last) => schedule.ticks_between(last, now, 1) > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_tick_due_during_a_failover_is_owed_once() {
        let schedule = Schedule::parse("*/5 * * * *", chrono_tz::UTC).unwrap();
        let cases = [
            (None, "2026-11-30T06:01:00Z", true),
            (Some("2026-11-30T06:00:00Z"), "2026-11-30T06:04:59Z", false),
            (Some("2026-11-30T06:00:00Z"), "2026-11-30T06:05:00Z", true),
            (Some("2026-11-30T06:00:00Z"), "2026-11-30T06:17:00Z", true),
            // The last run was a catch-up after the tick.
            (Some("2026-11-30T06:06:10Z"), "2026-11-30T06:09:00Z", false),
        ];
        for (last, now, owed) in cases {
            assert_eq!(
                missed(&schedule, last.map(utc), utc(now)),
                owed,
                "last {last:?}, now {now}"
            );
        }
    }

    #[test]
    fn the_lease_is_renewed_three_times_a_ttl() {
        assert_eq!(
            renew_every(Duration::from_secs(30)),
            Duration::from_secs(10)
        );
        assert_eq!(
            renew_every(Duration::from_secs(1)),
            Duration::from_millis(500)
        );
    }
}
