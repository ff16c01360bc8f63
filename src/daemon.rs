//! The long-running daemon: jobs, their schedules, and shutdown.
//!
//! Checks that share a schedule (expression and time zone) form one
//! [`Job`]; each job is one task that runs its checks once at start-up and
//! then at every tick of its schedule. A job's runs are sequential, so a
//! job never overlaps itself: ticks that fall due while a run is still
//! going are skipped and logged. The scheduler is the only place below
//! `main` that reads the clock.
//!
//! Shutdown: when the [`CancellationToken`] is cancelled (SIGTERM, SIGINT),
//! jobs stop waiting for their next tick; runs in progress get
//! [`SHUTDOWN_GRACE`] to finish, after which they are dropped. Nothing a run
//! writes can be left half-written (`.eml` files are renamed into place).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, error, info, info_span, warn};

use crate::config::{Check, Config};
use crate::notify::mail::Mailer;
use crate::schedule::Schedule;
use crate::state::Store;

/// How long runs in progress may take to finish after SIGTERM; systemd's
/// default stop timeout is 90 s, the promise to operators is 10 s.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(7);

/// The longest single sleep: the scheduler wakes at least this often to
/// re-read the clock, so a suspended machine or a clock step is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Job {
    pub schedule: Schedule,
    pub checks: Vec<Check>,
}

impl Job {
    pub fn name(&self) -> String {
        format!(
            "{} {}",
            self.schedule.expression(),
            self.schedule.time_zone()
        )
    }
}

/// Groups the checks of `config` by schedule, in configuration order.
pub fn jobs(config: &Config) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    for check in &config.checks {
        match jobs.iter_mut().find(|j| j.schedule == check.schedule) {
            Some(job) => job.checks.push(check.clone()),
            None => jobs.push(Job {
                schedule: check.schedule.clone(),
                checks: vec![check.clone()],
            }),
        }
    }
    jobs
}

/// What every job needs: the configuration, the state store, a way to
/// wake the delivery worker, and the shutdown signal.
#[derive(Clone)]
struct Services {
    config: Arc<Config>,
    store: Arc<Store>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    host: Arc<str>,
}

/// Runs the daemon until `shutdown` is cancelled. Fails only at start-up:
/// mail settings that cannot be used, or a state store that cannot be
/// opened (corrupt, locked by another instance, not writable).
pub async fn run(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mailer = Arc::new(Mailer::new(&config.email)?);
    let store = Arc::new(crate::state::open(&config.daemon.state_directory)?);
    let jobs = jobs(&config);
    info!(
        config = %config.path.display(),
        state = %store.path().display(),
        checks = config.checks.len(),
        jobs = jobs.len(),
        transport = %mailer.describe(),
        "daemon started"
    );
    let services = Services {
        config: config.clone(),
        store: store.clone(),
        wake: Arc::new(Notify::new()),
        shutdown: shutdown.clone(),
        host: crate::commands::host_name().into(),
    };
    let tracker = TaskTracker::new();
    tracker.spawn(
        crate::delivery::worker(
            store,
            mailer,
            config.email.from.clone(),
            config.alerting.undeliverable_after,
            services.wake.clone(),
            shutdown.clone(),
        )
        .instrument(info_span!("delivery")),
    );
    tracker.spawn(start_jobs(jobs, services, tracker.clone()));
    tracker.close();
    shutdown.cancelled().await;
    info!("shutting down");
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            grace_ms = SHUTDOWN_GRACE.as_millis() as u64,
            "runs still in progress at shutdown were stopped"
        );
    }
    info!("stopped");
    Ok(())
}

/// The start-up run covers every check at once (so each route gets one
/// email, not one per schedule); then each job waits for its first tick.
async fn start_jobs(jobs: Vec<Job>, services: Services, tracker: TaskTracker) {
    let started = Utc::now();
    let span = info_span!("job", job = "start-up");
    run_and_log(&services, &services.config.checks, started)
        .instrument(span)
        .await;
    for job in jobs {
        let span = info_span!("job", job = %job.name());
        tracker.spawn(job_loop(job, started, services.clone()).instrument(span));
    }
}

async fn job_loop(job: Job, last_run: DateTime<Utc>, services: Services) {
    let mut due = last_run;
    loop {
        let finished = Utc::now();
        let plan = plan_next(&job.schedule, due, finished);
        if plan.skipped > 0 {
            warn!(
                skipped = plan.skipped,
                duration_ms = (finished - due).num_milliseconds(),
                "run took longer than the schedule interval; skipped ticks"
            );
        }
        let Some(next) = plan.next else {
            warn!("the schedule has no future run; this job stops");
            return;
        };
        info!(next_run = %next.with_timezone(&job.schedule.time_zone()).to_rfc3339(), "next run");
        if !sleep_until(next, &services.shutdown).await {
            return;
        }
        due = next;
        run_and_log(&services, &job.checks, due).await;
    }
}

/// One run: evaluate, record in the state store (which queues what is due
/// to be told), and wake the delivery worker.
async fn run_and_log(services: &Services, checks: &[Check], due: DateTime<Utc>) {
    let config = &services.config;
    let Some(outcome) = crate::run::run(
        config,
        checks,
        due,
        Some(services.store.clone()),
        &services.shutdown,
    )
    .await
    else {
        info!("run abandoned while fetching: shutting down");
        return;
    };
    let queued = crate::record::record(
        &services.store,
        config,
        &outcome.results,
        &outcome.sources,
        due,
        &services.host,
    );
    let queued = match queued {
        Ok(n) => n,
        Err(e) => {
            error!(error = %format!("{e:#}"), "cannot record the run in the state store; it will be evaluated again next run");
            0
        }
    };
    services.wake.notify_one();
    info!(
        checks = outcome.results.len(),
        emails_queued = queued,
        duration_ms = (Utc::now() - due).num_milliseconds().max(0),
        "run finished"
    );
}

/// What a job does after a run that was due at `due` finished at
/// `finished`: the ticks that fell due meanwhile are skipped (a job never
/// overlaps itself, and never runs twice to catch up), and it waits for the
/// first tick after `finished`.
#[derive(Debug, PartialEq, Eq)]
pub struct NextRun {
    pub skipped: usize,
    pub next: Option<DateTime<Utc>>,
}

pub fn plan_next(schedule: &Schedule, due: DateTime<Utc>, finished: DateTime<Utc>) -> NextRun {
    NextRun {
        skipped: schedule.ticks_between(due, finished, 10_000),
        next: schedule.next_after(finished),
    }
}

/// Sleeps until the wall-clock time `until`; false if shut down first.
async fn sleep_until(until: DateTime<Utc>, shutdown: &CancellationToken) -> bool {
    loop {
        let remaining = (until - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if remaining.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(remaining.min(MAX_SLEEP)) => {}
            () = shutdown.cancelled() => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn check(expression: &str, due: &str, finished: &str, skipped: usize, next: &str) {
        let schedule = Schedule::parse(expression, chrono_tz::UTC).unwrap();
        assert_eq!(
            plan_next(&schedule, utc(due), utc(finished)),
            NextRun {
                skipped,
                next: Some(utc(next))
            },
            "{expression} due {due} finished {finished}"
        );
    }

    #[test]
    fn a_short_run_waits_for_the_next_tick() {
        check(
            "*/5 * * * *",
            "2026-11-30T06:00:00Z",
            "2026-11-30T06:00:40Z",
            0,
            "2026-11-30T06:05:00Z",
        );
    }

    #[test]
    fn a_long_run_skips_the_ticks_it_overlapped() {
        // Due 06:00, still running at 06:05 and 06:10: both skipped, no
        // catch-up run, next at 06:15.
        check(
            "*/5 * * * *",
            "2026-11-30T06:00:00Z",
            "2026-11-30T06:12:00Z",
            2,
            "2026-11-30T06:15:00Z",
        );
        // Finishing exactly on a tick skips it too: it was due while running.
        check(
            "*/5 * * * *",
            "2026-11-30T06:00:00Z",
            "2026-11-30T06:05:00Z",
            1,
            "2026-11-30T06:10:00Z",
        );
    }

    #[test]
    fn start_up_run_counts_from_start() {
        // The start-up run is "due" when the daemon started.
        check(
            "0 6 * * *",
            "2026-11-30T05:59:30Z",
            "2026-11-30T06:00:10Z",
            1,
            "2026-12-01T06:00:00Z",
        );
        check(
            "0 6 * * *",
            "2026-11-30T05:00:00Z",
            "2026-11-30T05:00:01Z",
            0,
            "2026-11-30T06:00:00Z",
        );
    }
}
