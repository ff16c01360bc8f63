//! Recording a run in the state store: every result, the alert
//! transitions it causes, and the emails those make due, all in one
//! transaction, so that a state change and the message it causes are
//! stored together or not at all. The delivery worker sends the messages
//! afterwards (`crate::notify::delivery`).
//!
//! Besides the checks' own groups, each source has a "data unavailable"
//! alert (`data-unavailable/SOURCE`), which breaches when the source has
//! failed for longer than its `max_stale`: a blind spot is itself a
//! compliance finding. Its checks' alerts stay as they were meanwhile
//! (`unknown` never resolves an alert).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tracing::{info, warn};

use crate::alerts::{self, Observation};
use crate::check::{
    Check, CheckResult, Comparison, DATA_UNAVAILABLE, Episode, GroupResult, Maintenance, Notice,
    Op, Phase, Policy, Route, Severity, Status,
};
use crate::notify::{Digest, DigestItem, follows, labels_match, render};
use crate::source::spec::SourceSpec;
use crate::state::{OutboxMessage, Store, Tx};

/// What a run's fetches came to, per source id: `Err` holds the error.
pub type SourceOutcomes = BTreeMap<String, Result<(), String>>;

/// What recording a run needs of the configuration; `config` builds it.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    pub checks: &'a [Check],
    pub routes: &'a [Route],
    pub maintenance: &'a [Maintenance],
    pub sources: &'a [SourceSpec],
    pub subject_prefix: &'a str,
    /// The right-hand side of Message-IDs: `[email] message_id_domain`,
    /// else the domain of `from`.
    pub message_id_domain: &'a str,
    /// `[daemon] public_url`: emails link to the status page.
    pub public_url: Option<&'a str>,
    pub time_zone: Tz,
    /// Evaluation results older than this are pruned.
    pub retention: chrono::Duration,
}

impl Setup<'_> {
    fn source(&self, id: &str) -> Option<&SourceSpec> {
        self.sources.iter().find(|s| s.id == id)
    }
}

/// What recording a run came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Emails queued in the outbox.
    pub queued: usize,
    /// Alerts due that no ordinary route received: they went to the
    /// fallback route if there is one, else to nobody. Either way the
    /// routing missed them, which `run --once --notify` reports as unknown.
    pub untold: usize,
}

/// Records `results` and `sources` of a run as of `now`; returns how many
/// emails were queued and how many alerts no ordinary route received.
pub fn record(
    store: &Store,
    config: &Setup<'_>,
    results: &[CheckResult],
    sources: &SourceOutcomes,
    now: DateTime<Utc>,
) -> anyhow::Result<Recorded> {
    store.transaction(|tx| {
        for result in results {
            tx.record_result(result)?;
        }
        // Nothing is older than the earliest time chrono knows.
        let before = now
            .checked_sub_signed(config.retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        tx.prune_evaluations(before, now)?;
        for result in results {
            observe_result(tx, config, result, now)?;
        }
        for (source, outcome) in sources {
            observe_source(tx, config, source, outcome, now)?;
        }
        notify(tx, config, results, sources, now)
    })
}

/// Records `results` as history only, for `backfill`: no alert state
/// changes, nothing is queued, nothing is pruned. Results of a check already
/// recorded as of the same time are skipped, so a backfill can be run again;
/// how many results were recorded.
pub fn record_history(store: &Store, results: &[CheckResult]) -> anyhow::Result<usize> {
    store.transaction(|tx| {
        let mut recorded = 0;
        for result in results {
            if !tx.recorded_at(&result.id, result.evaluated_at)? {
                tx.record_result(result)?;
                recorded += 1;
            }
        }
        Ok(recorded)
    })
}

fn transition(
    tx: &Tx<'_>,
    observation: &Observation,
    policy: &Policy,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let previous = tx.open_episode(&observation.check_id, &observation.group_key)?;
    let previous_id = previous.as_ref().and_then(|e| e.id);
    let before = previous.as_ref().map(|e| e.phase);
    match alerts::observe(previous, observation, policy, now) {
        Some(mut episode) => {
            if before != Some(episode.phase) {
                info!(
                    check = %episode.check_id,
                    group = %episode.group_key,
                    status = episode.phase.as_str(),
                    value = episode.last_value.unwrap_or(f64::NAN),
                    limit = episode.last_limit,
                    "alert state changed"
                );
            }
            tx.save_episode(&mut episode)
        }
        None => match previous_id {
            Some(id) => tx.delete_episode(id),
            None => Ok(()),
        },
    }
}

fn observe_result(
    tx: &Tx<'_>,
    config: &Setup<'_>,
    result: &CheckResult,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(check) = config.checks.iter().find(|c| c.id == result.id) else {
        return Ok(());
    };
    for group in &result.groups {
        let recovered = group.status == Status::Ok
            && match (check.clear_at, group.value) {
                (Some(clear), Some(value)) => Comparison {
                    op: check.comparison.op,
                    limit: clear,
                }
                .holds(value),
                _ => true,
            };
        let observation = Observation {
            check_id: check.id.clone(),
            group_key: group.label_text(),
            labels: group.labels.clone(),
            severity: check.severity,
            status: group.status,
            value: group.value,
            limit: group.limit,
            recovered,
        };
        transition(tx, &observation, &check.policy, now)?;
    }
    if result.error.is_some() {
        // The whole check could not be evaluated: its open alerts stay as
        // they are, marked unknown.
        for episode in tx.unclosed_episodes()? {
            if episode.check_id == check.id && episode.phase != Phase::Resolved {
                let observation = Observation {
                    check_id: episode.check_id.clone(),
                    group_key: episode.group_key.clone(),
                    labels: episode.labels.clone(),
                    severity: check.severity,
                    status: Status::Unknown,
                    value: None,
                    limit: episode.last_limit,
                    recovered: false,
                };
                transition(tx, &observation, &check.policy, now)?;
            }
        }
    }
    Ok(())
}

/// The checks reading `source`, most severe first.
fn checks_on<'a>(config: &'a Setup<'_>, source: &str) -> Vec<&'a Check> {
    let reads = |c: &&Check| {
        c.source == source
            || matches!(&c.rule, crate::check::Rule::Ratio { numerator_source: Some(other), .. } if other == source)
    };
    let mut checks: Vec<&Check> = config.checks.iter().filter(reads).collect();
    checks.sort_by_key(|c| std::cmp::Reverse(c.severity));
    checks
}

/// The data-unavailable alert's policy: fires at once (`max_stale` already
/// waited), reminds like the most severe check on the source.
fn data_policy(config: &Setup<'_>, source: &str) -> Option<Policy> {
    let check = checks_on(config, source).into_iter().next()?;
    Some(Policy {
        for_runs: 1,
        for_duration: chrono::Duration::zero(),
        ..check.policy.clone()
    })
}

fn observe_source(
    tx: &Tx<'_>,
    config: &Setup<'_>,
    source: &str,
    outcome: &Result<(), String>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let first_failure = tx.record_source(
        source,
        outcome.as_ref().map(|_| ()).map_err(String::as_str),
        now,
    )?;
    let (Some(spec), Some(policy)) = (config.source(source), data_policy(config, source)) else {
        return Ok(());
    };
    let severity = checks_on(config, source)
        .first()
        .map_or(Severity::Warning, |c| c.severity);
    let hours_failing = first_failure.map(|t| (now - t).num_minutes() as f64 / 60.0);
    let status = match first_failure {
        None => Status::Ok,
        Some(t) if now - t >= spec.max_stale => Status::Breach,
        Some(_) => Status::Unknown,
    };
    let observation = Observation {
        check_id: format!("{DATA_UNAVAILABLE}{source}"),
        group_key: crate::check::label_text(&BTreeMap::new()),
        labels: BTreeMap::new(),
        severity,
        status,
        value: hours_failing,
        limit: spec.max_stale.num_minutes() as f64 / 60.0,
        recovered: status == Status::Ok,
    };
    transition(tx, &observation, &policy, now)
}

fn policy_for(config: &Setup<'_>, check_id: &str) -> Option<Policy> {
    match check_id.strip_prefix(DATA_UNAVAILABLE) {
        Some(source) => data_policy(config, source),
        None => config
            .checks
            .iter()
            .find(|c| c.id == check_id)
            .map(|c| c.policy.clone()),
    }
}

/// Whether `route` is told about `episode`. The fallback route is told
/// only what no other route was, after them.
fn route_wants(config: &Setup<'_>, route: &Route, episode: &Episode) -> bool {
    if route.fallback {
        return false;
    }
    // A route told before (an escalation route) keeps being told: its
    // reminders and the resolution.
    if episode.threads.contains_key(&route.name) {
        return true;
    }
    match episode.check_id.strip_prefix(DATA_UNAVAILABLE) {
        // A blind spot goes to every route that follows a check of the
        // source, whatever its label matchers.
        Some(source) => checks_on(config, source)
            .iter()
            .any(|c| follows(route, &c.id, episode.severity)),
        None => {
            follows(route, &episode.check_id, episode.severity)
                && labels_match(route, &episode.labels)
        }
    }
}

fn notify(
    tx: &Tx<'_>,
    config: &Setup<'_>,
    results: &[CheckResult],
    sources: &SourceOutcomes,
    now: DateTime<Utc>,
) -> anyhow::Result<Recorded> {
    let mut due: Vec<(Episode, Notice, Policy)> = Vec::new();
    let unclosed = tx.unclosed_episodes()?;
    let escalations = escalations(config, &unclosed, now);
    for episode in unclosed {
        let (Some(id), Some(policy)) = (episode.id, policy_for(config, &episode.check_id)) else {
            continue;
        };
        let held = held(config, &episode, now);
        match alerts::due(&episode, &policy, now, held) {
            Some(notice) => due.push((episode, notice, policy)),
            None if episode.phase == Phase::Resolved && !held => tx.close_episode(id)?,
            None => {}
        }
    }
    let mut sent = Sent::default();
    for route in config.routes {
        let mine: Vec<&(Episode, Notice, Policy)> = due
            .iter()
            .filter(|(e, _, _)| route_wants(config, route, e))
            .collect();
        sent.enqueue(tx, config, route, &mine, results, sources, now)?;
    }
    let untold: Vec<&(Episode, Notice, Policy)> = due
        .iter()
        .filter(|(e, _, _)| e.id.is_some_and(|id| !sent.told.contains(&id)))
        .collect();
    let fallback = config.routes.iter().find(|r| r.fallback);
    for (episode, _, _) in &untold {
        match fallback {
            Some(route) => {
                warn!(check = %episode.check_id, group = %episode.group_key, route = %route.name, "alert matches no route; sent to the fallback route")
            }
            None => {
                warn!(check = %episode.check_id, group = %episode.group_key, "alert matches no route; nobody was told")
            }
        }
    }
    let untold_count = untold.len();
    if let Some(route) = fallback {
        sent.enqueue(tx, config, route, &untold, results, sources, now)?;
    }
    for (target, episodes) in &escalations {
        let Some(route) = config.routes.iter().find(|r| &r.name == target) else {
            continue;
        };
        let mine: Vec<&(Episode, Notice, Policy)> = episodes.iter().collect();
        for (episode, _, _) in &mine {
            info!(check = %episode.check_id, group = %episode.group_key, route = %route.name, "alert escalated: firing and unacknowledged");
        }
        sent.enqueue(tx, config, route, &mine, results, sources, now)?;
    }
    let Sent {
        threads, queued, ..
    } = sent;
    // Escalated episodes with nothing else due this run: keep the new
    // thread (the escalation route's record).
    let due_ids: BTreeSet<i64> = due.iter().filter_map(|(e, _, _)| e.id).collect();
    let escalated_only = escalations
        .into_values()
        .flatten()
        .filter(|(e, _, _)| e.id.is_some_and(|id| !due_ids.contains(&id)));
    for (episode, notice, policy) in due.into_iter().chain(escalated_only) {
        let mut episode = episode;
        let Some(id) = episode.id else { continue };
        alerts::mark_told(&mut episode, notice, &policy, now);
        for ((episode_id, route), thread) in &threads {
            if *episode_id == id {
                episode
                    .threads
                    .entry(route.clone())
                    .or_insert_with(|| thread.clone());
            }
        }
        tx.save_episode(&mut episode)?;
        if notice == Notice::Resolved {
            tx.close_episode(id)?;
        }
    }
    Ok(Recorded {
        queued,
        untold: untold_count,
    })
}

/// Whether a maintenance window holds `episode`'s notices back at `now`.
fn held(config: &Setup<'_>, episode: &Episode, now: DateTime<Utc>) -> bool {
    config
        .maintenance
        .iter()
        .any(|m| m.covers(&episode.check_id, &episode.labels, now))
}

/// The alerts due to be escalated now, by escalation route: critical,
/// firing unacknowledged for a route's `escalate_after`, and not yet told
/// to its `escalate_to`.
fn escalations(
    config: &Setup<'_>,
    unclosed: &[Episode],
    now: DateTime<Utc>,
) -> BTreeMap<String, Vec<(Episode, Notice, Policy)>> {
    let mut out: BTreeMap<String, Vec<(Episode, Notice, Policy)>> = BTreeMap::new();
    for episode in unclosed {
        let Some(policy) = policy_for(config, &episode.check_id) else {
            continue;
        };
        if held(config, episode, now) {
            continue;
        }
        let targets: BTreeSet<&str> = config
            .routes
            .iter()
            .filter(|r| route_wants(config, r, episode))
            .filter_map(|r| r.escalation.as_ref())
            .filter(|e| alerts::escalation_due(episode, e, now))
            .map(|e| e.to.as_str())
            .collect();
        for target in targets {
            out.entry(target.to_owned()).or_default().push((
                episode.clone(),
                Notice::Escalated,
                policy.clone(),
            ));
        }
    }
    out
}

/// The digests queued so far in one run: per (episode, route) the thread
/// its emails belong to, and the episodes some route was told about.
#[derive(Default)]
struct Sent {
    threads: BTreeMap<(i64, String), String>,
    told: BTreeSet<i64>,
    queued: usize,
}

impl Sent {
    /// Queues the digest of `mine` for `route`, if there is anything in it.
    #[allow(clippy::too_many_arguments)]
    fn enqueue(
        &mut self,
        tx: &Tx<'_>,
        config: &Setup<'_>,
        route: &Route,
        mine: &[&(Episode, Notice, Policy)],
        results: &[CheckResult],
        sources: &SourceOutcomes,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        if mine.is_empty() {
            return Ok(());
        }
        let mut digest = digest(config, route, mine, results, sources, now);
        digest.notes = notes_on(tx, mine, now)?;
        digest.series = tx.recent_series(now)?;
        let email = render::render(&digest, config.subject_prefix, now, config.time_zone);
        let message_id = new_message_id(now, config.message_id_domain);
        // Only messages this route received: another route's thread is
        // one these recipients never saw.
        let roots: Vec<String> = mine
            .iter()
            .filter_map(|(e, _, _)| {
                e.id.and_then(|id| self.threads.get(&(id, route.name.clone())).cloned())
                    .or_else(|| e.threads.get(&route.name).cloned())
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        tx.enqueue(&OutboxMessage {
            id: None,
            route: route.name.clone(),
            recipients: route.to.clone(),
            subject: match roots.first() {
                // A thread keeps the subject of its first message.
                Some(root) => tx.subject_of(root)?.unwrap_or(email.subject),
                None => email.subject,
            },
            text: email.text,
            html: email.html,
            images: email.images,
            message_id: message_id.clone(),
            in_reply_to: roots.first().cloned(),
            references: roots,
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
        })?;
        self.queued += 1;
        for (episode, _, _) in mine {
            if let Some(id) = episode.id {
                self.told.insert(id);
                if !episode.threads.contains_key(&route.name) {
                    self.threads
                        .entry((id, route.name.clone()))
                        .or_insert_with(|| message_id.clone());
                }
            }
        }
        Ok(())
    }
}

/// The digest of `notices` for `route`, with each group as this run saw it
/// (or, for a check this run did not evaluate, as last seen).
fn digest(
    config: &Setup<'_>,
    route: &Route,
    notices: &[&(Episode, Notice, Policy)],
    results: &[CheckResult],
    sources: &SourceOutcomes,
    now: DateTime<Utc>,
) -> Digest {
    let mut items: Vec<DigestItem> = Vec::new();
    for (episode, notice, _) in notices {
        let (check, result) = match episode.check_id.strip_prefix(DATA_UNAVAILABLE) {
            Some(source) => {
                let Some(item) = data_item(config, source, sources, now) else {
                    continue;
                };
                item
            }
            None => {
                let Some(check) = config.checks.iter().find(|c| c.id == episode.check_id) else {
                    continue;
                };
                let result = results
                    .iter()
                    .find(|r| r.id == check.id)
                    .cloned()
                    .unwrap_or_else(|| crate::check::result::empty_result(check, now));
                (check.clone(), result)
            }
        };
        let group = result
            .groups
            .iter()
            .find(|g| g.label_text() == episode.group_key)
            .cloned()
            .unwrap_or_else(|| group_from(episode));
        match items.iter_mut().find(|i| i.check.id == check.id) {
            Some(item) => {
                item.groups.push(group);
                item.notices.push(*notice);
            }
            None => items.push(DigestItem {
                result,
                check,
                groups: vec![group],
                notices: vec![*notice],
            }),
        }
    }
    // Whatever could not be evaluated this run rides along in the next
    // email: a blind spot is told as soon as there is something to tell,
    // and raises its own alert once it lasts longer than `max_stale`.
    for result in results {
        let Some(check) = config.checks.iter().find(|c| c.id == result.id) else {
            continue;
        };
        if result.error.is_some()
            && !route.fallback
            && follows(route, &check.id, check.severity)
            && !items.iter().any(|i| i.check.id == check.id)
        {
            items.push(DigestItem {
                result: result.clone(),
                check: check.clone(),
                groups: Vec::new(),
                notices: Vec::new(),
            });
        }
    }
    Digest {
        route: route.clone(),
        items,
        notes: Vec::new(),
        series: Vec::new(),
        public_url: config.public_url.map(str::to_owned),
    }
}

/// The notes on the episodes told, made since each started.
fn notes_on(
    tx: &Tx<'_>,
    told: &[&(Episode, Notice, Policy)],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<crate::check::history::Note>> {
    let mut notes: Vec<crate::check::history::Note> = Vec::new();
    for (episode, _, _) in told {
        let until = now + chrono::Duration::seconds(1);
        for note in tx.notes(Some(&episode.check_id), episode.started_at, until)? {
            if note.concerns(&episode.check_id, &episode.labels) && !notes.contains(&note) {
                notes.push(note);
            }
        }
    }
    Ok(notes)
}

fn group_from(episode: &Episode) -> GroupResult {
    GroupResult {
        labels: episode.labels.clone(),
        status: if episode.phase == Phase::Resolved {
            Status::Ok
        } else {
            episode.last_status
        },
        value: episode.last_value,
        limit: episode.last_limit,
        rows: 0,
        error: None,
        wait: None,
        detail: None,
    }
}

/// A check and result standing for a source's "data unavailable" alert.
fn data_item(
    config: &Setup<'_>,
    source: &str,
    sources: &SourceOutcomes,
    now: DateTime<Utc>,
) -> Option<(Check, CheckResult)> {
    let base = checks_on(config, source).first().copied()?.clone();
    let stale_hours = config
        .source(source)
        .map_or(0.0, |s| s.max_stale.num_minutes() as f64 / 60.0);
    let check = Check {
        id: format!("{DATA_UNAVAILABLE}{source}"),
        title: format!("Data unavailable: source {source}"),
        citation: None,
        group_by: Vec::new(),
        require_labels: false,
        metric: "hours without data".to_owned(),
        comparison: Comparison {
            op: Op::Le,
            limit: stale_hours,
        },
        clear_at: None,
        ..base
    };
    let mut result = crate::check::result::empty_result(&check, now);
    result.error = match sources.get(source) {
        Some(Err(error)) => Some(format!("source {source:?} has been failing: {error}")),
        _ => None,
    };
    Some((check, result))
}

/// A Message-ID unique to this message: time, process and a counter, at
/// the sender's domain (RFC 5322 asks for a domain the sender controls,
/// never a bare host name).
fn new_message_id(now: DateTime<Utc>, domain: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let host: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    format!(
        "<accesswatch.{}.{}.{}@{}>",
        now.timestamp_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        if host.is_empty() { "localhost" } else { &host }
    )
}
