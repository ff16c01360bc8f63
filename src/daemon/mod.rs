//! The long-running daemon: jobs, their schedules, reload and shutdown;
//! with [`run`] (one run of a set of checks: fetch, evaluate), [`systemd`]
//! (notifications, the only module that knows sd-notify), [`serve`] (the
//! `[daemon] listen` HTTP listener, the only module that knows axum),
//! [`metrics`] and the [`heartbeat`] the watchdog reads. This is an edge:
//! it reads the clock and the configuration, and hands values down.
//!
//! Checks that share a schedule (expression and time zone) form one
//! [`Job`]; each job is one task that runs its checks once at start-up and
//! then at every tick of its schedule. A job's runs are sequential, so a
//! job never overlaps itself: ticks that fall due while a run is still
//! going are skipped and logged, and after a reload a job's run waits for
//! the old configuration's run of the same job ([`RunLocks`]).
//!
//! Shutdown: when the [`CancellationToken`] is cancelled (SIGTERM, SIGINT),
//! jobs stop waiting for their next tick; runs in progress get
//! [`SHUTDOWN_GRACE`] to finish, after which they are dropped. Nothing a run
//! writes can be left half-written (`.eml` files are renamed into place).

pub mod backfill;
pub mod heartbeat;
pub mod metrics;
pub mod period;
pub mod period_html;
pub mod run;
pub mod serve;
pub mod supervise;
pub mod systemd;
pub mod web;

use heartbeat::Heartbeat;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use supervise::{RESTART_PAUSE, supervise};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, error, info, info_span, warn};

use crate::check::Check;
use crate::check::schedule::Schedule;
use crate::config::Config;
use crate::notify::delivery::Outgoing;
use crate::notify::mail::Mailer;
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

/// What every job needs: the configuration of its generation, the state
/// store, a way to wake the delivery worker, the heartbeat, and two
/// tokens: `generation` ends when a reload replaces the jobs (runs in
/// progress finish), `shutdown` ends everything (fetches are abandoned).
/// One lock per job name, shared by every configuration generation: a run
/// holds its job's lock, so after a reload the new generation's run of a
/// job waits for the old generation's run of the same job, and a job never
/// overlaps itself.
#[derive(Default)]
struct RunLocks {
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl RunLocks {
    /// Holds the locks of every job in `names` (taken in sorted order, so
    /// two runs never wait on each other in a circle).
    async fn hold(&self, names: &[String]) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let mut names = names.to_vec();
        names.sort();
        names.dedup();
        let locks: Vec<_> = {
            // A panic while inserting cannot leave the map inconsistent,
            // so a poisoned lock is used as it is.
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            names
                .iter()
                .map(|name| locks.entry(name.clone()).or_default().clone())
                .collect()
        };
        let mut guards = Vec::with_capacity(locks.len());
        for lock in locks {
            guards.push(lock.lock_owned().await);
        }
        guards
    }
}

#[derive(Clone)]
struct JobContext {
    config: Arc<Config>,
    store: Arc<Store>,
    wake: Arc<Notify>,
    heartbeat: Arc<Heartbeat>,
    metrics: Arc<crate::daemon::metrics::Metrics>,
    runs: Arc<RunLocks>,
    generation: CancellationToken,
    shutdown: CancellationToken,
    max_sleep: Duration,
}

/// Runs the daemon until `shutdown` is cancelled, reloading the
/// configuration at `path` whenever `reload` receives. Fails only at
/// start-up: mail settings that cannot be used, or a state store that
/// cannot be opened (corrupt, locked by another instance, not writable).
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    mut reload: mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    let store = Arc::new(crate::state::open(&config.daemon.state_directory)?);
    let (outgoing, outgoing_now) = watch::channel(Arc::new(outgoing_settings(
        &config,
        Mailer::new(&config.email)?,
    )));
    let watchdog = crate::daemon::systemd::watchdog_interval();
    let tracker = TaskTracker::new();
    let heartbeat = Arc::new(Heartbeat::default());
    let metrics = Arc::new(crate::daemon::metrics::Metrics::default());
    // The configuration the status page reports on: swapped on reload.
    let (pages_config, pages_config_now) = watch::channel(config.clone());
    if let Some(address) = config.daemon.listen {
        let served = crate::daemon::serve::ServeState {
            config: pages_config_now,
            zone: config.daemon.time_zone,
            metrics: metrics.clone(),
            store: store.clone(),
            heartbeat: heartbeat.clone(),
            stale_after: watchdog.map_or(MAX_SLEEP, |w| (w / 2).min(MAX_SLEEP)) * 2
                + Duration::from_secs(60),
            undeliverable_after: config.alerting.undeliverable_after,
        };
        tracker.spawn(
            crate::daemon::serve::start(address, served, &config.daemon.web, shutdown.clone())
                .await?,
        );
    }
    // One delivery worker for the life of the process: a reload swaps
    // the settings it reads, never starts a second sender.
    let wake = Arc::new(Notify::new());
    let delivery = {
        let (store, wake, shutdown) = (store.clone(), wake.clone(), shutdown.clone());
        let in_flight = heartbeat.delivery.clone();
        move || {
            crate::notify::delivery::worker(
                store.clone(),
                outgoing_now.clone(),
                wake.clone(),
                shutdown.clone(),
                crate::check::clock::Clock::new(Utc::now),
                in_flight.clone(),
            )
            .instrument(info_span!("delivery"))
        }
    };
    let stop = shutdown.clone();
    tracker.spawn(async move { supervise("delivery", RESTART_PAUSE, &stop, delivery).await });
    let runs = Arc::new(RunLocks::default());
    let shared = Lasting {
        store: &store,
        wake: &wake,
        runs: &runs,
        heartbeat: &heartbeat,
        metrics: &metrics,
        shutdown: &shutdown,
        watchdog,
        tracker: &tracker,
    };
    let mut generation = start_generation(config.clone(), &shared, true);
    if let Some(interval) = watchdog {
        tracker.spawn(watchdog_loop(interval, heartbeat.clone(), shutdown.clone()));
    }
    info!(
        config = %config.path.display(),
        state = %store.path().display(),
        checks = config.checks.len(),
        watchdog_ms = watchdog.map(|w| w.as_millis() as u64),
        "daemon started"
    );
    crate::daemon::systemd::ready(&format!("{} checks, starting", config.checks.len()));
    let mut current = config;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(()) = reload.recv() => {
                if let Some((next, mailer)) = reload_config(&current, &store) {
                    generation.cancel();
                    let ids: Vec<String> = next.checks.iter().map(|c| c.id.clone()).collect();
                    metrics.retain_checks(&ids);
                    outgoing.send_replace(Arc::new(outgoing_settings(&next, mailer)));
                    pages_config.send_replace(next.clone());
                    generation = start_generation(next.clone(), &shared, false);
                    current = next;
                }
                crate::daemon::systemd::ready(&format!("{} checks, reloaded", current.checks.len()));
            }
        }
    }
    tracker.close();
    crate::daemon::systemd::stopping();
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

/// How the delivery worker sends with `config`.
fn outgoing_settings(config: &Config, mailer: Mailer) -> Outgoing {
    Outgoing {
        mailer,
        from: config.email.from.clone(),
        undeliverable_after: config.alerting.undeliverable_after,
    }
}

/// What outlives a reload.
struct Lasting<'a> {
    store: &'a Arc<Store>,
    wake: &'a Arc<Notify>,
    runs: &'a Arc<RunLocks>,
    heartbeat: &'a Arc<Heartbeat>,
    metrics: &'a Arc<crate::daemon::metrics::Metrics>,
    shutdown: &'a CancellationToken,
    watchdog: Option<Duration>,
    tracker: &'a TaskTracker,
}

/// Starts the jobs of one configuration; returns the token that ends
/// them (their runs in progress finish).
fn start_generation(
    config: Arc<Config>,
    shared: &Lasting<'_>,
    run_at_start: bool,
) -> CancellationToken {
    let (store, tracker) = (shared.store, shared.tracker);
    let generation = shared.shutdown.child_token();
    shared.heartbeat.clear();
    let services = JobContext {
        config: config.clone(),
        store: store.clone(),
        wake: shared.wake.clone(),
        heartbeat: shared.heartbeat.clone(),
        metrics: shared.metrics.clone(),
        runs: shared.runs.clone(),
        generation: generation.clone(),
        shutdown: shared.shutdown.clone(),
        max_sleep: shared
            .watchdog
            .map_or(MAX_SLEEP, |w| (w / 2).min(MAX_SLEEP)),
    };
    tracker.spawn(start_jobs(
        jobs(&config),
        services,
        tracker.clone(),
        run_at_start,
    ));
    generation
}

/// Reads and validates the configuration again, with a mailer for its
/// `[email]`; `None` (and every problem logged) when it does not
/// validate, so the old one keeps running.
fn reload_config(current: &Config, store: &Store) -> Option<(Arc<Config>, Mailer)> {
    crate::daemon::systemd::reloading();
    info!(config = %current.path.display(), "reloading the configuration");
    let next = match Config::load(&current.path) {
        Ok(next) => next,
        Err(errors) => {
            for line in &errors.lines {
                error!(error = %line, "configuration problem");
            }
            error!(
                problems = errors.lines.len(),
                "the new configuration does not validate; keeping the old one"
            );
            return None;
        }
    };
    let mailer = match Mailer::new(&next.email) {
        Ok(mailer) => mailer,
        Err(e) => {
            error!(error = %format!("{e:#}"), "the new [email] settings cannot be used; keeping the old configuration");
            return None;
        }
    };
    if next.daemon.state_directory != current.daemon.state_directory {
        warn!("a new state_directory takes effect only after a restart");
    }
    let plan = reload_plan(&current.checks, &next.checks);
    for check in &plan.removed {
        match store.close_check(check, "the check was removed from the configuration") {
            Ok(n) => {
                info!(check = %check, episodes = n, "check removed; its open alerts are closed")
            }
            Err(e) => {
                error!(check = %check, error = %format!("{e:#}"), "cannot close the alerts of a removed check")
            }
        }
    }
    info!(
        added = plan.added.len(),
        removed = plan.removed.len(),
        rescheduled = plan.rescheduled.len(),
        "configuration reloaded"
    );
    Some((Arc::new(next), mailer))
}

/// What a reload changes, by check id.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub rescheduled: Vec<String>,
}

/// What a reload from `old` to `new` checks changes: checks added,
/// removed (their open alerts are closed), and rescheduled. Pure.
pub fn reload_plan(old: &[Check], new: &[Check]) -> ReloadPlan {
    let mut plan = ReloadPlan::default();
    for check in new {
        match old.iter().find(|c| c.id == check.id) {
            None => plan.added.push(check.id.clone()),
            Some(before) if before.schedule != check.schedule => {
                plan.rescheduled.push(check.id.clone())
            }
            Some(_) => {}
        }
    }
    plan.removed = old
        .iter()
        .filter(|c| !new.iter().any(|n| n.id == c.id))
        .map(|c| c.id.clone())
        .collect();
    plan
}

/// Pings systemd's watchdog every half interval while every job is alive.
async fn watchdog_loop(interval: Duration, heartbeat: Arc<Heartbeat>, shutdown: CancellationToken) {
    loop {
        let stale = heartbeat.stale(interval);
        if stale.is_empty() {
            crate::daemon::systemd::watchdog();
        } else {
            error!(jobs = %stale.join(", "), "the scheduler is stuck; not pinging the watchdog, systemd will restart the service");
        }
        tokio::select! {
            () = tokio::time::sleep(interval / 2) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// The start-up run covers every check at once (so each route gets one
/// email, not one per schedule); then each job waits for its first tick.
/// After a reload there is no such run: jobs wait for their next tick.
async fn start_jobs(
    jobs: Vec<Job>,
    services: JobContext,
    tracker: TaskTracker,
    run_at_start: bool,
) {
    let started = Utc::now();
    if run_at_start {
        let span = info_span!("job", job = "start-up");
        services.heartbeat.beat("start-up");
        let context = services.clone();
        let run = async move {
            crate::daemon::backfill::first_start(
                &context.config,
                &context.store,
                started,
                &context.shutdown,
            )
            .await;
            run_and_log(&context, &context.config.checks, started, None).await;
        };
        // A panic in the start-up run is logged; the jobs start anyway.
        supervise("start-up", Duration::ZERO, &services.shutdown, {
            let mut once = Some(run.instrument(span));
            move || {
                let run = once.take();
                async move {
                    if let Some(run) = run {
                        run.await;
                    }
                }
            }
        })
        .await;
        services.heartbeat.clear();
    }
    for job in jobs {
        let span = info_span!("job", job = %job.name());
        services.heartbeat.beat(&job.name());
        let name = job.name();
        let context = services.clone();
        // The first loop counts from the start-up run; one started again
        // after a panic waits for the next tick from then.
        let mut last_run = Some(started);
        let start = move || {
            let last = last_run.take().unwrap_or_else(Utc::now);
            job_loop(job.clone(), last, context.clone()).instrument(span.clone())
        };
        let shutdown = services.shutdown.clone();
        tracker.spawn(async move { supervise(&name, RESTART_PAUSE, &shutdown, start).await });
    }
}

async fn job_loop(job: Job, last_run: DateTime<Utc>, services: JobContext) {
    let name = job.name();
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
        let woke = sleep_until(next, &services.generation, services.max_sleep, || {
            services.heartbeat.beat(&name)
        })
        .await;
        if !woke {
            return;
        }
        due = next;
        services.heartbeat.beat(&name);
        run_and_log(&services, &job.checks, due, Some(&job)).await;
    }
}

/// One run: evaluate, record in the state store (which queues what is due
/// to be told), wake the delivery worker, and tell systemd how things are.
async fn run_and_log(
    services: &JobContext,
    checks: &[Check],
    due: DateTime<Utc>,
    job: Option<&Job>,
) {
    let config = &services.config;
    // The start-up run covers every job.
    let names: Vec<String> = match job {
        Some(job) => vec![job.name()],
        None => jobs(config).iter().map(Job::name).collect(),
    };
    let _running = tokio::select! {
        guards = services.runs.hold(&names) => guards,
        () = services.shutdown.cancelled() => return,
    };
    let Some(outcome) = crate::daemon::run::run(
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
    let queued = crate::alerts::record::record(
        &services.store,
        &config.record_setup(),
        &outcome.results,
        &outcome.sources,
        due,
    );
    let queued = match queued {
        Ok(recorded) => recorded.queued,
        Err(e) => {
            error!(error = %format!("{e:#}"), "cannot record the run in the state store; it will be evaluated again next run");
            0
        }
    };
    services.wake.notify_one();
    services.metrics.record_run(&outcome, Utc::now());
    info!(
        checks = outcome.results.len(),
        emails_queued = queued,
        duration_ms = (Utc::now() - due).num_milliseconds().max(0),
        "run finished"
    );
    crate::daemon::systemd::status(&status_line(services, job));
}

/// "12 checks, 2 firing, outbox 0, next run 06:00 PST"
fn status_line(services: &JobContext, job: Option<&Job>) -> String {
    let firing = services
        .store
        .episodes()
        .map(|e| {
            e.iter()
                .filter(|e| e.phase == crate::check::Phase::Firing)
                .count()
        })
        .unwrap_or(0);
    let outbox = services.store.outbox_stats().map(|s| s.unsent).unwrap_or(0);
    let next = job
        .and_then(|j| {
            j.schedule
                .next_after(Utc::now())
                .map(|t| (t, j.schedule.time_zone()))
        })
        .map(|(t, zone)| format!(", next run {}", t.with_timezone(&zone).format("%H:%M %Z")))
        .unwrap_or_default();
    format!(
        "{} checks, {firing} firing, outbox {outbox}{next}",
        services.config.checks.len()
    )
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

/// Sleeps until the wall-clock time `until`, in pieces of at most
/// `max_sleep` (calling `beat` after each); false if cancelled first.
async fn sleep_until(
    until: DateTime<Utc>,
    cancel: &CancellationToken,
    max_sleep: Duration,
    beat: impl Fn(),
) -> bool {
    loop {
        let remaining = (until - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if remaining.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(remaining.min(max_sleep)) => beat(),
            () = cancel.cancelled() => return false,
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

    /// A check `id` run on `expression`, otherwise alike.
    fn scheduled(id: &str, expression: &str) -> Check {
        use crate::check::{Comparison, Op, Rule, Severity};
        Check {
            id: id.to_owned(),
            title: id.to_owned(),
            severity: Severity::Critical,
            citation: None,
            source: "s".to_owned(),
            group_by: Vec::new(),
            require_labels: false,
            metric: "m".to_owned(),
            rule: Rule::Freshness { field: None },
            comparison: Comparison {
                op: Op::Le,
                limit: 1.0,
            },
            schedule: Schedule::parse(expression, chrono_tz::UTC).unwrap(),
            policy: Default::default(),
            clear_at: None,
        }
    }

    #[test]
    fn reload_plans() {
        type Checks<'a> = &'a [(&'a str, &'a str)];
        // old checks, new checks → (added, removed, rescheduled)
        let cases: &[(Checks, Checks, [&[&str]; 3])] = &[
            (&[], &[], [&[], &[], &[]]),
            (&[("a", "@daily")], &[("a", "@daily")], [&[], &[], &[]]),
            (&[], &[("a", "@daily")], [&["a"], &[], &[]]),
            (&[("a", "@daily")], &[], [&[], &["a"], &[]]),
            (
                &[("a", "@daily")],
                &[("a", "0 6 * * 1-5")],
                [&[], &[], &["a"]],
            ),
            (
                &[("a", "@daily"), ("b", "@hourly"), ("c", "@daily")],
                &[("c", "@daily"), ("b", "@daily"), ("d", "@hourly")],
                [&["d"], &["a"], &["b"]],
            ),
        ];
        for (old, new, [added, removed, rescheduled]) in cases {
            let build = |list: Checks| -> Vec<Check> {
                list.iter().map(|(id, e)| scheduled(id, e)).collect()
            };
            let plan = reload_plan(&build(old), &build(new));
            let names = |v: &[String]| v.to_vec();
            let want = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            assert_eq!(names(&plan.added), want(added), "added: {old:?} → {new:?}");
            assert_eq!(
                names(&plan.removed),
                want(removed),
                "removed: {old:?} → {new:?}"
            );
            assert_eq!(
                names(&plan.rescheduled),
                want(rescheduled),
                "rescheduled: {old:?} → {new:?}"
            );
        }
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
