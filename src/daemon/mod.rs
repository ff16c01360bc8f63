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
//! With the state on PostgreSQL (`[state] url`), several daemons may share
//! it: [`lead`] keeps the leader lease, and only the leader runs the jobs
//! and the delivery worker ([`Leading`]); a standby serves `/healthz` and
//! `/metrics` and takes over when the lease passes to it, first running
//! once each job whose tick fell due since its last run.
//!
//! Shutdown: when the [`CancellationToken`] is cancelled (SIGTERM, SIGINT),
//! jobs stop waiting for their next tick; runs in progress get
//! [`SHUTDOWN_GRACE`] to finish, after which they are dropped. Nothing a run
//! writes can be left half-written (`.eml` files are renamed into place).

pub mod backfill;
pub mod heartbeat;
pub mod lead;
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
use crate::state::lease::Fencing;
use crate::state::{Location, Store};
use lead::Role;

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
    let store = Arc::new(crate::state::open(&config.daemon.state)?);
    let (outgoing, outgoing_now) = watch::channel(Arc::new(outgoing_settings(
        &config,
        Mailer::new(&config.email)?,
    )));
    let watchdog = crate::daemon::systemd::watchdog_interval();
    let tracker = TaskTracker::new();
    let heartbeat = Arc::new(Heartbeat::default());
    let metrics = Arc::new(crate::daemon::metrics::Metrics::default());
    let (role, mut role_now) = watch::channel(Role::Single);
    if let Location::Postgres(settings) = &config.daemon.state {
        store.set_fencing(Fencing::Standby);
        role.send_replace(Role::Standby {
            node: settings.node.clone(),
        });
        tracker.spawn(lead::lease_loop(
            store.clone(),
            settings.node.clone(),
            settings.lease_ttl,
            role.clone(),
            shutdown.clone(),
        ));
    }
    // The configuration the status page reports on: swapped on reload.
    let (pages_config, pages_config_now) = watch::channel(config.clone());
    if let Some(address) = config.daemon.listen {
        let served = crate::daemon::serve::ServeState {
            config: pages_config_now,
            zone: config.daemon.time_zone,
            metrics: metrics.clone(),
            store: store.clone(),
            heartbeat: heartbeat.clone(),
            role: role_now.clone(),
            stale_after: watchdog.map_or(MAX_SLEEP, |w| (w / 2).min(MAX_SLEEP)) * 2
                + Duration::from_secs(60),
            undeliverable_after: config.alerting.undeliverable_after,
        };
        tracker.spawn(
            crate::daemon::serve::start(address, served, &config.daemon.web, shutdown.clone())
                .await?,
        );
    }
    let wake = Arc::new(Notify::new());
    let runs = Arc::new(RunLocks::default());
    let lasting = |stop: &CancellationToken| Lasting {
        store: store.clone(),
        wake: wake.clone(),
        runs: runs.clone(),
        heartbeat: heartbeat.clone(),
        metrics: metrics.clone(),
        shutdown: stop.clone(),
        watchdog,
        tracker: tracker.clone(),
        outgoing: outgoing_now.clone(),
    };
    let first_run = if store.is_postgres() {
        StartRun::Missed
    } else {
        StartRun::All
    };
    let mut leading = role_now
        .borrow_and_update()
        .leads()
        .then(|| Leading::start(config.clone(), lasting(&shutdown.child_token()), first_run));
    if let Some(interval) = watchdog {
        tracker.spawn(watchdog_loop(interval, heartbeat.clone(), shutdown.clone()));
    }
    info!(
        config = %config.path.display(),
        state = %store.describe(),
        role = role_now.borrow().as_str(),
        checks = config.checks.len(),
        watchdog_ms = watchdog.map(|w| w.as_millis() as u64),
        "daemon started"
    );
    crate::daemon::systemd::ready(&format!("{} checks, starting", config.checks.len()));
    let mut current = config;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Ok(()) = role_now.changed() => {
                let leads = role_now.borrow_and_update().leads();
                leading = change_role(leading, leads, || {
                    Leading::start(current.clone(), lasting(&shutdown.child_token()), StartRun::Missed)
                });
            }
            Some(()) = reload.recv() => {
                let leads = role_now.borrow().leads();
                if let Some((next, mailer)) = reload_config(&current, &store, leads) {
                    let ids: Vec<String> = next.checks.iter().map(|c| c.id.clone()).collect();
                    metrics.retain_checks(&ids);
                    outgoing.send_replace(Arc::new(outgoing_settings(&next, mailer)));
                    pages_config.send_replace(next.clone());
                    if let Some(leading) = &mut leading {
                        leading.reload(next.clone());
                    }
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
    // Runs in progress have finished: hand the lease over at once.
    if let Role::Leader { node, token } = role.borrow().clone() {
        match store.resign(&node, token) {
            Ok(()) => info!(node = %node, "gave up the leader lease"),
            Err(e) => {
                warn!(error = %format!("{e:#}"), "cannot give up the leader lease; it expires after lease_ttl")
            }
        }
    }
    info!("stopped");
    Ok(())
}

/// Starts or stops the leader's work as the role says.
fn change_role(
    leading: Option<Leading>,
    leads: bool,
    start: impl FnOnce() -> Leading,
) -> Option<Leading> {
    match (leading, leads) {
        (None, true) => Some(start()),
        (Some(leading), false) => {
            leading.stop.cancel();
            // A standby's job loops are stopped, not stuck.
            leading.lasting.heartbeat.clear();
            None
        }
        (leading, _) => leading,
    }
}

/// What runs while this node leads: the delivery worker and the jobs of
/// the configuration in force. Stopping it cancels both (runs in progress
/// are abandoned; whatever they would commit is fenced off anyway).
struct Leading {
    stop: CancellationToken,
    generation: CancellationToken,
    lasting: Lasting,
}

impl Leading {
    fn start(config: Arc<Config>, lasting: Lasting, first_run: StartRun) -> Leading {
        // One delivery worker while this node leads: a reload swaps the
        // settings it reads, never starts a second sender.
        let delivery = {
            let (store, wake, stop) = (
                lasting.store.clone(),
                lasting.wake.clone(),
                lasting.shutdown.clone(),
            );
            let in_flight = lasting.heartbeat.delivery.clone();
            let outgoing_now = lasting.outgoing.clone();
            move || {
                crate::notify::delivery::worker(
                    store.clone(),
                    outgoing_now.clone(),
                    wake.clone(),
                    stop.clone(),
                    crate::check::clock::Clock::new(Utc::now),
                    in_flight.clone(),
                )
                .instrument(info_span!("delivery"))
            }
        };
        let stop = lasting.shutdown.clone();
        lasting
            .tracker
            .spawn(async move { supervise("delivery", RESTART_PAUSE, &stop, delivery).await });
        let generation = start_generation(config, &lasting, first_run);
        Leading {
            stop: lasting.shutdown.clone(),
            generation,
            lasting,
        }
    }

    fn reload(&mut self, next: Arc<Config>) {
        self.generation.cancel();
        self.generation = start_generation(next, &self.lasting, StartRun::None);
    }
}

/// How the delivery worker sends with `config`.
fn outgoing_settings(config: &Config, mailer: Mailer) -> Outgoing {
    Outgoing {
        mailer,
        from: config.email.from.clone(),
        undeliverable_after: config.alerting.undeliverable_after,
    }
}

/// What outlives a reload. `shutdown` ends this node's leadership (or
/// the process).
#[derive(Clone)]
struct Lasting {
    store: Arc<Store>,
    wake: Arc<Notify>,
    runs: Arc<RunLocks>,
    heartbeat: Arc<Heartbeat>,
    metrics: Arc<crate::daemon::metrics::Metrics>,
    shutdown: CancellationToken,
    watchdog: Option<Duration>,
    tracker: TaskTracker,
    outgoing: watch::Receiver<Arc<Outgoing>>,
}

/// Which checks a configuration's jobs run before their first tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartRun {
    /// Every check, in one run (a single node's start).
    All,
    /// The checks of the jobs with a tick due since their last run
    /// ([`lead::missed`]; a node that has just become leader).
    Missed,
    /// None (a reload).
    None,
}

/// Starts the jobs of one configuration; returns the token that ends
/// them (their runs in progress finish).
fn start_generation(
    config: Arc<Config>,
    shared: &Lasting,
    first_run: StartRun,
) -> CancellationToken {
    let (store, tracker) = (&shared.store, &shared.tracker);
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
        first_run,
    ));
    generation
}

/// Reads and validates the configuration again, with a mailer for its
/// `[email]`; `None` (and every problem logged) when it does not
/// validate, so the old one keeps running.
fn reload_config(current: &Config, store: &Store, leads: bool) -> Option<(Arc<Config>, Mailer)> {
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
    if !leads && !plan.removed.is_empty() {
        info!(
            removed = plan.removed.len(),
            "checks removed; the leader closes their open alerts when it reloads"
        );
    }
    for check in plan.removed.iter().filter(|_| leads) {
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
    first_run: StartRun,
) {
    let started = Utc::now();
    let owed = match first_run {
        StartRun::All => jobs.clone(),
        StartRun::None => Vec::new(),
        StartRun::Missed => owed_jobs(&jobs, &services.store, started).await,
    };
    if !owed.is_empty() {
        let span = info_span!("job", job = "start-up");
        services.heartbeat.beat("start-up");
        let context = services.clone();
        let checks: Vec<Check> = owed.iter().flat_map(|j| j.checks.clone()).collect();
        let names: Vec<String> = owed.iter().map(Job::name).collect();
        let run = async move {
            crate::daemon::backfill::first_start(
                &context.config,
                &context.store,
                started,
                &context.shutdown,
            )
            .await;
            run_and_log(&context, &checks, started, &names, None).await;
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

/// The jobs with a tick due since the last tick any node ran for them.
async fn owed_jobs(jobs: &[Job], store: &Arc<Store>, now: DateTime<Utc>) -> Vec<Job> {
    let store = store.clone();
    let all = jobs.to_vec();
    let owed = tokio::task::spawn_blocking(move || {
        all.into_iter()
            .filter(|job| match store.last_tick(&job.name()) {
                Ok(last) => lead::missed(&job.schedule, last, now),
                Err(e) => {
                    // Better a run too many than a tick lost.
                    warn!(job = %job.name(), error = %format!("{e:#}"), "cannot read the job's last tick; running it");
                    true
                }
            })
            .collect::<Vec<Job>>()
    })
    .await;
    let owed = owed.unwrap_or_else(|_| jobs.to_vec());
    for job in &owed {
        info!(job = %job.name(), "running the job once: a tick fell due since its last run");
    }
    owed
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
        run_and_log(&services, &job.checks, due, &[job.name()], Some(&job)).await;
    }
}

/// One run: evaluate, record in the state store (which queues what is due
/// to be told), wake the delivery worker, and tell systemd how things are.
async fn run_and_log(
    services: &JobContext,
    checks: &[Check],
    due: DateTime<Utc>,
    names: &[String],
    job: Option<&Job>,
) {
    let config = &services.config;
    let _running = tokio::select! {
        guards = services.runs.hold(names) => guards,
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
        Ok(recorded) => {
            record_ticks(&services.store, names, due);
            recorded.queued
        }
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

/// Records that the jobs `names` ran their tick `due` (PostgreSQL: what a
/// new leader reads to run a missed tick once). A failure costs at most a
/// second run of the tick on the next leader.
fn record_ticks(store: &Store, names: &[String], due: DateTime<Utc>) {
    if !store.is_postgres() {
        return;
    }
    let recorded = store.transaction(|tx| {
        for name in names {
            tx.record_tick(name, due)?;
        }
        Ok(())
    });
    if let Err(e) = recorded {
        warn!(error = %format!("{e:#}"), "cannot record the run's tick");
    }
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
