//! One run of a set of checks: fetch their sources, evaluate, notify.
//!
//! This is where the IO edges meet the pure core: sources are fetched
//! concurrently (each once, however many checks use it), checks are
//! evaluated with [`crate::evaluate::evaluate`]. Every source fetch and
//! check result is logged as one event with the documented field names.
//! Nothing here fails the run: a broken source makes its checks `unknown`.
//! What is told to whom is decided afterwards from the alert state
//! (`crate::alerts::record`) and sent by `crate::notify::delivery`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use std::path::Path;

use crate::check::{Check, CheckResult, Rule, Status};
use crate::config::Config;
use crate::evaluate::fold::{self, Folded, Groups, Part, Summary, Tally};
use crate::evaluate::{self, waittime::Evaluator};
use crate::source::spec::Location;
use crate::source::spec::SourceSpec;
use crate::source::{csv_stream, json_stream};
use crate::table::Format;
use crate::table::Table;

#[derive(Debug)]
pub struct RunOutcome {
    pub as_of: DateTime<Utc>,
    pub results: Vec<CheckResult>,
    /// Each source this run read, and whether it could be read.
    pub sources: crate::alerts::record::SourceOutcomes,
    /// How long each source took to fetch (and, for streamed files, to
    /// evaluate), in seconds.
    pub durations: BTreeMap<String, f64>,
}

/// Runs `checks` (all from `config`) as of `as_of`. `None` when `cancel`
/// fired while sources were being fetched: fetching is abandoned at once
/// (it changes nothing).
pub async fn run(
    config: &Config,
    checks: &[Check],
    as_of: DateTime<Utc>,
    store: Option<Arc<crate::state::Store>>,
    cancel: &CancellationToken,
) -> Option<RunOutcome> {
    let (pushed, checks_left): (Vec<&Check>, Vec<&Check>) =
        checks.iter().partition(|c| is_pushed(config, c));
    let (streamed, mut tabled): (Vec<&Check>, Vec<&Check>) = checks_left
        .into_iter()
        .partition(|c| is_streamed(config, c));
    // A FHIR search that other checks read as a table is fetched once, as
    // a table: an incremental one must not be synced twice at once.
    let tabled_sources: BTreeSet<&str> = tabled
        .iter()
        .flat_map(|c| std::iter::once(c.source.as_str()).chain(numerator_source(c)))
        .collect();
    let (shared, streamed): (Vec<&Check>, Vec<&Check>) = streamed.into_iter().partition(|c| {
        tabled_sources.contains(c.source.as_str())
            && config
                .source(&c.source)
                .is_some_and(|spec| crate::source::streamable_fhir(spec).is_some())
    });
    tabled.extend(shared);
    let needed: BTreeSet<&str> = tabled
        .iter()
        .flat_map(|c| std::iter::once(c.source.as_str()).chain(numerator_source(c)))
        .collect();
    // A source whose rows can be read one at a time is folded for its
    // threshold, ratio and freshness checks, unless a wait-time check
    // needs its table anyway.
    let as_tables: BTreeSet<&str> = tabled
        .iter()
        .filter(|c| matches!(c.rule, Rule::TimelyAccess(_)))
        .map(|c| c.source.as_str())
        .collect();
    let (folded_ids, fetched_ids): (Vec<&str>, Vec<&str>) = needed.into_iter().partition(|id| {
        !as_tables.contains(id) && config.source(id).is_some_and(crate::source::foldable)
    });
    let specs: Vec<SourceSpec> = fetched_ids
        .iter()
        .filter_map(|id| config.source(id).cloned())
        .collect();
    let work = async {
        tokio::join!(
            fetch_all(specs, as_of, config.daemon.time_zone, store.clone()),
            fold_all(config, &folded_ids, &tabled, as_of),
            stream_all(config, &streamed, as_of, store.clone()),
            push_all(config, &pushed, as_of)
        )
    };
    let (
        (tables, mut durations),
        (mut folds, folded_durations),
        (mut streamed_results, streamed_sources, streamed_durations),
        (pushed_results, pushed_sources, pushed_durations),
    ) = tokio::select! {
        done = work => done,
        () = cancel.cancelled() => return None,
    };
    streamed_results.extend(pushed_results);
    streamed_results.extend(evaluate_waits(&tabled, &tables, as_of));
    let results: Vec<CheckResult> = checks
        .iter()
        .map(|check| {
            let result = match streamed_results.remove(&check.id) {
                Some(result) => result,
                None if !matches!(check.rule, Rule::TimelyAccess(_)) => {
                    folded_result(check, &mut folds, &tables, as_of)
                }
                None => {
                    let table = match tables.get(&check.source) {
                        Some(Ok(table)) => Ok(table.as_ref()),
                        Some(Err(error)) => Err(error.as_str()),
                        None => Err("the source is not configured"),
                    };
                    evaluate::evaluate(check, table, as_of)
                }
            };
            let mut result = result;
            result.data_time_origin = config
                .source(&check.source)
                .and_then(SourceSpec::data_time_origin);
            log_result(&result);
            result
        })
        .collect();
    let mut sources: crate::alerts::record::SourceOutcomes = tables
        .iter()
        .map(|(id, table)| (id.clone(), table.as_ref().map(|_| ()).map_err(Clone::clone)))
        .collect();
    sources.extend(folds.iter().map(|(id, folded)| {
        (
            id.clone(),
            folded.as_ref().map(|_| ()).map_err(Clone::clone),
        )
    }));
    sources.extend(streamed_sources);
    sources.extend(pushed_sources);
    durations.extend(folded_durations);
    durations.extend(streamed_durations);
    durations.extend(pushed_durations);
    Some(RunOutcome {
        as_of,
        results,
        sources,
        durations,
    })
}

type Fetched = BTreeMap<String, Result<Arc<Table>, String>>;

/// Each folded source: its summary and the groups of each (check, part)
/// that reads it, or its error.
type Folds = BTreeMap<String, Result<SourceFold, String>>;

#[derive(Debug)]
struct SourceFold {
    summary: Summary,
    parts: BTreeMap<(String, Part), Groups>,
}

/// The result of a threshold, ratio, shortage or freshness `check` from
/// the folds of its sources (each part taken out: it serves one check),
/// or from their tables when they were fetched.
fn folded_result(
    check: &Check,
    folds: &mut Folds,
    tables: &Fetched,
    as_of: DateTime<Utc>,
) -> CheckResult {
    let mut sides: Vec<Result<(Summary, Groups), String>> = fold::parts(check)
        .into_iter()
        .map(
            |(source, part)| match (folds.get_mut(source), tables.get(source)) {
                (Some(Ok(folded)), _) => folded
                    .parts
                    .remove(&(check.id.clone(), part))
                    .map(|groups| (folded.summary.clone(), groups))
                    .ok_or_else(|| "the source was not read for this check".to_owned()),
                (Some(Err(error)), _) => Err(error.clone()),
                (None, Some(Ok(table))) => Ok(fold::fold_table(check, part, table)),
                (None, Some(Err(error))) => Err(error.clone()),
                (None, None) => Err("the source is not configured".to_owned()),
            },
        )
        .collect();
    // The errors outlive the match that lends them.
    let (top_error, bottom_error);
    let bottoms = match sides.pop() {
        Some(Ok(side)) => Ok(side),
        Some(Err(error)) => {
            bottom_error = error;
            Err(bottom_error.as_str())
        }
        None => Err("not evaluated"),
    };
    match sides.pop() {
        Some(Ok(side)) => evaluate::finish_joined(check, Ok(side), bottoms, as_of),
        Some(Err(error)) => {
            top_error = error;
            evaluate::finish_joined(check, Err(top_error.as_str()), bottoms, as_of)
        }
        None => evaluate::finish(check, bottoms, as_of),
    }
}

/// Reads each of `sources` once, folding its rows for every threshold,
/// ratio, shortage and freshness check among `checks` that reads it (a
/// file on a blocking thread, a PostgreSQL query through its portal, an
/// HTTP body as it arrives);
/// each source's fold or error and how long it took.
async fn fold_all(
    config: &Config,
    sources: &[&str],
    checks: &[&Check],
    as_of: DateTime<Utc>,
) -> (Folds, BTreeMap<String, f64>) {
    let zone = config.daemon.time_zone;
    let mut tasks = SourceTasks::new();
    for id in sources {
        let Some(spec) = config.source(id).cloned() else {
            continue;
        };
        let parts: Vec<(Check, Part)> = checks
            .iter()
            .flat_map(|check| {
                fold::parts(check)
                    .into_iter()
                    .filter(|(source, _)| source == id)
                    .map(|(_, part)| ((*check).clone(), part))
            })
            .collect();
        tasks.spawn(id, async move {
            let started = Instant::now();
            let result = fold_source(&spec, &parts, as_of, zone).await;
            let duration_ms = started.elapsed().as_millis() as u64;
            let result = match result {
                Ok(folded) => {
                    info!(source = %spec.id, duration_ms, rows = folded.summary.rows, status = "ok", "source fetched");
                    let keys = parts.iter().map(|(check, part)| (check.id.clone(), *part));
                    Ok(SourceFold {
                        summary: folded.summary,
                        parts: keys.zip(folded.parts).collect(),
                    })
                }
                Err(e) => {
                    let error = format!("{e:#}");
                    warn!(source = %spec.id, duration_ms, status = "error", error = %error, "source fetch failed");
                    Err(error)
                }
            };
            (result, started.elapsed().as_secs_f64())
        });
    }
    let mut folds = Folds::new();
    let mut durations = BTreeMap::new();
    while let Some((source, joined)) = tasks.next().await {
        match joined {
            Ok((result, seconds)) => {
                durations.insert(source.clone(), seconds);
                folds.insert(source, result);
            }
            Err(error) => {
                folds.insert(source, Err(error));
            }
        }
    }
    (folds, durations)
}

/// Folds the rows of the file, PostgreSQL or HTTP source `spec` for
/// `parts`.
async fn fold_source(
    spec: &SourceSpec,
    parts: &[(Check, Part)],
    as_of: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> anyhow::Result<Folded> {
    let time_field = spec.time_field.clone();
    let tally = move |parts: &[(Check, Part)]| {
        let parts: Vec<(&Check, Part)> = parts.iter().map(|(check, part)| (check, *part)).collect();
        Tally::new(&parts, time_field.as_deref().map(|field| (field, zone)))
    };
    match &spec.location {
        Location::File(path) => {
            let (spec, path, mut tally) = (spec.clone(), path.clone(), tally(parts));
            tokio::task::spawn_blocking(move || {
                let shape = crate::source::read_file_rows(&spec, &path, |row| tally.add(&row))?;
                tally.finish(shape.columns, shape.position, shape.data_time)
            })
            .await
            .map_err(|e| anyhow::anyhow!("reading the rows failed: {e}"))?
        }
        Location::Postgres(query) => {
            let context = crate::source::FetchContext {
                source: spec,
                now: as_of,
                zone,
                store: None,
            };
            let mut tally = tally(parts);
            let columns =
                crate::source::postgres::fold_rows(query, &context, |row| tally.add(&row)).await?;
            tally.finish(columns, "row", as_of)
        }
        Location::Http(_) => {
            // Each try of the GET folds its body from the start into a
            // new tally: a retry never counts a row twice.
            let (layout, parts) = (spec.layout.clone(), parts.to_vec());
            let ((tally, columns, position), data_time) =
                crate::source::fold_http(spec, as_of, move |format, body| {
                    let mut tally = tally(&parts);
                    let columns =
                        crate::source::read_rows(body, format, &layout, |row| tally.add(&row))?;
                    Ok((tally, columns, format.position()))
                })
                .await?;
            tally.finish(columns, position, data_time)
        }
        _ => anyhow::bail!("source {:?} is not read row by row", spec.id),
    }
}

/// Evaluates the wait-time checks among `checks` on the tables they read,
/// all checks of a source in one pass over its rows; results by check id.
/// A source that failed is left to [`evaluate::evaluate`].
fn evaluate_waits(
    checks: &[&Check],
    tables: &Fetched,
    as_of: DateTime<Utc>,
) -> BTreeMap<String, CheckResult> {
    let mut by_source: BTreeMap<&str, Vec<Check>> = BTreeMap::new();
    for check in checks {
        if matches!(check.rule, Rule::TimelyAccess(_)) {
            by_source
                .entry(&check.source)
                .or_default()
                .push((*check).clone());
        }
    }
    by_source
        .into_iter()
        .filter_map(|(source, checks)| match tables.get(source) {
            Some(Ok(table)) => Some(evaluate::waittime::evaluate_table_all(
                &checks, table, as_of,
            )),
            _ => None,
        })
        .flatten()
        .map(|result| (result.id.clone(), result))
        .collect()
}

/// The second source of a ratio check whose numerator comes from elsewhere.
fn numerator_source(check: &Check) -> Option<&str> {
    match &check.rule {
        Rule::Ratio {
            numerator_source: Some(other),
            ..
        } => Some(other),
        _ => None,
    }
}

/// Whether `check` is a wait-time check on a file that is streamed
/// instead of read into a table.
fn is_streamed(config: &Config, check: &Check) -> bool {
    matches!(check.rule, Rule::TimelyAccess(_))
        && config.source(&check.source).is_some_and(|spec| {
            crate::source::streamable(spec).is_some()
                || crate::source::streamable_query(spec).is_some()
                || crate::source::streamable_http(spec).is_some()
                || crate::source::streamable_fhir(spec).is_some()
        })
}

/// Whether `check` is a wait-time check to evaluate inside its
/// PostgreSQL source (`source::pushdown`).
fn is_pushed(config: &Config, check: &Check) -> bool {
    config
        .source(&check.source)
        .is_some_and(|spec| crate::source::pushdown::target(spec, check).is_some())
}

/// `checks` by the source they read, each source once.
fn by_source<'a>(checks: &[&'a Check]) -> BTreeMap<&'a str, Vec<Check>> {
    let mut by_source: BTreeMap<&str, Vec<Check>> = BTreeMap::new();
    for check in checks {
        by_source
            .entry(&check.source)
            .or_default()
            .push((*check).clone());
    }
    by_source
}

/// The results of `checks` when their source could not be read for
/// `error`: `unknown`, naming it.
fn unknown(checks: &[Check], error: &str, as_of: DateTime<Utc>) -> Vec<CheckResult> {
    checks
        .iter()
        .map(|check| evaluate::evaluate(check, Err(error), as_of))
        .collect()
}

/// What the task of a source of wait-time checks gave: whether the
/// source could be read, the results of its checks and the seconds it
/// took.
type SourceRun = (Result<(), String>, Vec<CheckResult>, f64);

/// Results by check id, each source's outcome and the seconds it took.
type Joined = (
    BTreeMap<String, CheckResult>,
    crate::alerts::record::SourceOutcomes,
    BTreeMap<String, f64>,
);

/// Joins the tasks of the sources of wait-time checks (`None`: nothing
/// to report). The checks of a source whose task failed (`by_source`
/// has them) are `unknown` with its error.
async fn join_runs(
    mut tasks: SourceTasks<Option<SourceRun>>,
    by_source: &BTreeMap<&str, Vec<Check>>,
    as_of: DateTime<Utc>,
) -> Joined {
    let mut joined = Joined::default();
    let (results, outcomes, durations) = &mut joined;
    while let Some((source, run)) = tasks.next().await {
        let (outcome, list) = match run {
            Ok(Some((outcome, list, seconds))) => {
                durations.insert(source.clone(), seconds);
                (outcome, list)
            }
            Ok(None) => continue,
            Err(error) => {
                let checks = by_source
                    .get(source.as_str())
                    .map_or(&[][..], Vec::as_slice);
                let list = unknown(checks, &error, as_of);
                (Err(error), list)
            }
        };
        outcomes.insert(source, outcome);
        results.extend(list.into_iter().map(|r| (r.id.clone(), r)));
    }
    joined
}

/// One task per source. A task that panics (a bug) gives its source an
/// error that says so, and its checks are `unknown` for that reason, not
/// for a source that seems not to be configured.
struct SourceTasks<T> {
    set: JoinSet<T>,
    sources: HashMap<tokio::task::Id, String>,
}

impl<T: Send + 'static> SourceTasks<T> {
    fn new() -> Self {
        SourceTasks {
            set: JoinSet::new(),
            sources: HashMap::new(),
        }
    }

    fn spawn(&mut self, source: &str, task: impl Future<Output = T> + Send + 'static) {
        let id = self.set.spawn(task).id();
        self.sources.insert(id, source.to_owned());
    }

    /// The next task to end: its source, and what it gave or, when it
    /// panicked, the error its source's checks report (logged here).
    async fn next(&mut self) -> Option<(String, Result<T, String>)> {
        Some(match self.set.join_next_with_id().await? {
            Ok((id, output)) => (self.sources.remove(&id).unwrap_or_default(), Ok(output)),
            Err(e) => {
                let source = self.sources.remove(&e.id()).unwrap_or_default();
                error!(source = %source, error = %e, "source task failed");
                let error = format!(
                    "reading the source failed on an internal error ({}): this is a bug, \
                     and the log has its message",
                    if e.is_panic() { "a panic" } else { "cancelled" }
                );
                (source, Err(error))
            }
        })
    }
}

/// Evaluates the pushed-down `checks` in their PostgreSQL sources, one
/// task per source; results by check id, each source's outcome and how
/// long it took.
async fn push_all(config: &Config, checks: &[&Check], as_of: DateTime<Utc>) -> Joined {
    let by_source = by_source(checks);
    let zone = config.daemon.time_zone;
    let mut tasks = SourceTasks::new();
    for (id, checks) in by_source.clone() {
        let Some(spec) = config.source(id).cloned() else {
            continue;
        };
        tasks.spawn(id, async move {
            let started = Instant::now();
            let pg = checks
                .first()
                .and_then(|c| crate::source::pushdown::target(&spec, c))?;
            let outcome = crate::source::pushdown::evaluate(&spec, pg, &checks, as_of, zone).await;
            let duration_ms = started.elapsed().as_millis() as u64;
            match &outcome.source {
                Ok(()) => info!(source = %spec.id, duration_ms, status = "ok", "source fetched"),
                Err(error) => {
                    warn!(source = %spec.id, duration_ms, status = "error", error = %error, "source fetch failed");
                }
            }
            Some((outcome.source, outcome.results, started.elapsed().as_secs_f64()))
        });
    }
    join_runs(tasks, &by_source, as_of).await
}

/// Streams each file that wait-time checks read, once for all of its
/// checks, on blocking threads; results by check id, and each file's
/// outcome.
async fn stream_all(
    config: &Config,
    checks: &[&Check],
    as_of: DateTime<Utc>,
    store: Option<Arc<crate::state::Store>>,
) -> Joined {
    let by_source = by_source(checks);
    let mut tasks = SourceTasks::new();
    for (id, checks) in by_source.clone() {
        let Some(spec) = config.source(id).cloned() else {
            continue;
        };
        let (zone, store) = (config.daemon.time_zone, store.clone());
        tasks.spawn(id, async move {
            let started = Instant::now();
            let result = stream_source(&spec, &checks, as_of, zone, store).await;
            Some(streamed(&spec, &checks, as_of, started, result))
        });
    }
    join_runs(tasks, &by_source, as_of).await
}

/// Streams the rows of `spec` into its wait-time `checks`: a PostgreSQL
/// query through its portal, a FHIR search page by page, an HTTP body as
/// it arrives, a file on a blocking thread (a CSV file on every core).
async fn stream_source(
    spec: &SourceSpec,
    checks: &[Check],
    as_of: DateTime<Utc>,
    zone: chrono_tz::Tz,
    store: Option<Arc<crate::state::Store>>,
) -> anyhow::Result<Vec<CheckResult>> {
    if crate::source::streamable_query(spec).is_some() {
        return stream_query(spec, checks, as_of, zone).await;
    }
    if crate::source::streamable_fhir(spec).is_some() {
        return stream_fhir(spec, checks, as_of, zone, store.as_deref()).await;
    }
    if crate::source::streamable_http(spec).is_some() {
        return stream_http(spec, checks, as_of).await;
    }
    let (spec, checks) = (spec.clone(), checks.to_vec());
    tokio::task::spawn_blocking(move || match crate::source::streamable(&spec) {
        Some((path, Format::Csv)) => stream_csv(path, &spec, &checks, as_of, workers()),
        Some((path, format)) => stream_records(path, format, &spec, &checks, as_of),
        None => Err(anyhow::anyhow!("source {:?} is not a file", spec.id)),
    })
    .await
    .map_err(|e| anyhow::anyhow!("reading the rows failed: {e}"))?
}

/// What a streamed source gave: whether it could be read, the results of
/// its checks and the seconds it took; logged.
fn streamed(
    spec: &SourceSpec,
    checks: &[Check],
    as_of: DateTime<Utc>,
    started: Instant,
    result: anyhow::Result<Vec<CheckResult>>,
) -> SourceRun {
    let duration_ms = started.elapsed().as_millis() as u64;
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(results) => {
            info!(source = %spec.id, duration_ms, status = "ok", "source fetched");
            (Ok(()), results, seconds)
        }
        Err(e) => {
            let error = format!("{e:#}");
            warn!(source = %spec.id, duration_ms, status = "error", error = %error, "source fetch failed");
            let results = unknown(checks, &error, as_of);
            (Err(error), results, seconds)
        }
    }
}

/// Evaluates the wait-time `checks` on the rows of a PostgreSQL query in
/// one pass, fetched a bounded number at a time: the wait-time evaluator
/// plugged into `postgres::fold`. The data time is the evaluation time,
/// as for a fetched query.
pub async fn stream_query(
    spec: &SourceSpec,
    checks: &[Check],
    as_of: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> anyhow::Result<Vec<CheckResult>> {
    let Some(query) = crate::source::streamable_query(spec) else {
        anyhow::bail!("source {:?} is not a PostgreSQL query", spec.id);
    };
    let context = crate::source::FetchContext {
        source: spec,
        now: as_of,
        zone,
        store: None,
    };
    let evaluator = crate::source::postgres::fold(
        query,
        &context,
        |header| Evaluator::new(checks, header, &spec.layout.fields, as_of),
        |evaluator, number, cells| evaluator.add(number, cells),
    )
    .await?;
    Ok(evaluator.finish_on(as_of, workers()))
}

/// Evaluates the wait-time `checks` on the CSV file at `path` in one pass
/// of `workers` threads: the wait-time evaluator plugged into
/// `csv_stream`'s fold.
pub fn stream_csv(
    path: &Path,
    spec: &SourceSpec,
    checks: &[Check],
    as_of: DateTime<Utc>,
    workers: usize,
) -> anyhow::Result<Vec<CheckResult>> {
    let folded = csv_stream::fold_file(path, &spec.layout, workers, as_of, |header| {
        WaitFold(Evaluator::new(checks, header, &spec.layout.fields, as_of))
    })?;
    Ok(folded.fold.0.finish_on(folded.modified, workers))
}

/// Evaluates the wait-time `checks` on the JSON or NDJSON file at `path`
/// in one pass, one record at a time (an NDJSON file on every core): the
/// wait-time evaluator plugged into `json_stream`'s fold.
pub fn stream_records(
    path: &Path,
    format: Format,
    spec: &SourceSpec,
    checks: &[Check],
    as_of: DateTime<Utc>,
) -> anyhow::Result<Vec<CheckResult>> {
    let names = Evaluator::record_names(checks);
    let mut evaluator = Evaluator::new(checks, &names, &BTreeMap::new(), as_of);
    let (streamed, modified) = if format == Format::Ndjson {
        let (folded, streamed, modified) = json_stream::fold_ndjson_file(
            path,
            &spec.layout,
            &names,
            workers(),
            as_of,
            evaluator,
            |evaluator, number, cells| evaluator.add(number, cells),
            Evaluator::renumber,
            Evaluator::merge,
        )?;
        evaluator = folded;
        (streamed, modified)
    } else {
        json_stream::fold_file(
            path,
            format,
            &spec.layout,
            &names,
            as_of,
            |number, cells| evaluator.add(number, cells),
        )?
    };
    columns_found(&mut evaluator, names, streamed);
    Ok(evaluator.finish_on(modified, workers()))
}

/// Tells `evaluator` which of `names` some streamed record had.
fn columns_found(evaluator: &mut Evaluator, names: Vec<String>, streamed: json_stream::Streamed) {
    let present: Vec<String> = names
        .into_iter()
        .zip(streamed.seen)
        .filter_map(|(name, seen)| seen.then_some(name))
        .collect();
    evaluator.columns_found(&present);
}

/// Evaluates the wait-time `checks` on the Appointments of a FHIR source
/// page by page, each page mapped, folded and dropped (`source::fhir::fold`;
/// with a store and `incremental = true`, the mirror's rows after a sync).
pub async fn stream_fhir(
    spec: &SourceSpec,
    checks: &[Check],
    as_of: DateTime<Utc>,
    zone: chrono_tz::Tz,
    store: Option<&crate::state::Store>,
) -> anyhow::Result<Vec<CheckResult>> {
    let Some(fhir) = crate::source::streamable_fhir(spec) else {
        anyhow::bail!("source {:?} is not a FHIR search", spec.id);
    };
    let context = crate::source::FetchContext {
        source: spec,
        now: as_of,
        zone,
        store,
    };
    let (evaluator, data_time) = crate::source::fhir::fold(
        fhir,
        &context,
        |header| Evaluator::new(checks, header, &BTreeMap::new(), as_of),
        |evaluator, number, cells| evaluator.add(number, cells),
    )
    .await?;
    Ok(evaluator.finish_on(data_time, workers()))
}

/// Evaluates the wait-time `checks` on the body of an HTTP source in one
/// pass as it arrives (`source::fold_http`): CSV through `csv_stream`,
/// JSON and NDJSON through `json_stream`, one record at a time.
pub async fn stream_http(
    spec: &SourceSpec,
    checks: &[Check],
    as_of: DateTime<Utc>,
) -> anyhow::Result<Vec<CheckResult>> {
    let (layout, checks) = (spec.layout.clone(), checks.to_vec());
    let (evaluator, data_time) =
        crate::source::fold_http(spec, as_of, move |format, body| match format {
            Format::Csv => Ok(csv_stream::fold_reader(body, &layout, |header| {
                WaitFold(Evaluator::new(&checks, header, &layout.fields, as_of))
            })?
            .0),
            Format::Json | Format::Ndjson => {
                let names = Evaluator::record_names(&checks);
                let mut evaluator = Evaluator::new(&checks, &names, &BTreeMap::new(), as_of);
                let body = std::io::BufReader::with_capacity(256 * 1024, body);
                let streamed =
                    json_stream::fold_reader(body, format, &layout, &names, |number, cells| {
                        evaluator.add(number, cells)
                    })?;
                columns_found(&mut evaluator, names, streamed);
                Ok(evaluator)
            }
        })
        .await?;
    Ok(evaluator.finish_on(data_time, workers()))
}

/// The wait-time evaluator as a fold of a streamed CSV file.
#[derive(Clone)]
struct WaitFold(Evaluator);

impl csv_stream::Fold for WaitFold {
    fn columns(&self) -> Vec<usize> {
        self.0.used_columns()
    }

    fn add(&mut self, line: u64, record: &csv_stream::Record<'_>) {
        self.0.add(line, record);
    }

    fn renumber(&mut self, line: &dyn Fn(u64) -> u64) {
        self.0.renumber_with(line);
    }

    fn merge(&mut self, other: WaitFold) {
        self.0.merge(other.0);
    }
}

/// Threads per streamed file: the cores available, at most 8.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

async fn fetch_all(
    specs: Vec<SourceSpec>,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    store: Option<Arc<crate::state::Store>>,
) -> (Fetched, BTreeMap<String, f64>) {
    let mut tasks = SourceTasks::new();
    for spec in specs {
        let store = store.clone();
        let id = spec.id.clone();
        tasks.spawn(&id, async move {
            let started = Instant::now();
            let result = crate::source::fetch(&spec, now, zone, store.as_deref())
                .await
                .map(Arc::new)
                .map_err(|e| format!("{e:#}"));
            let duration_ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(table) => info!(
                    source = %spec.id,
                    duration_ms,
                    rows = table.rows.len(),
                    status = "ok",
                    "source fetched"
                ),
                Err(error) => warn!(
                    source = %spec.id,
                    duration_ms,
                    status = "error",
                    error = %error,
                    "source fetch failed"
                ),
            }
            (result, started.elapsed().as_secs_f64())
        });
    }
    let mut fetched = Fetched::new();
    let mut durations = BTreeMap::new();
    while let Some((source, joined)) = tasks.next().await {
        match joined {
            Ok((result, seconds)) => {
                durations.insert(source.clone(), seconds);
                fetched.insert(source, result);
            }
            Err(error) => {
                fetched.insert(source, Err(error));
            }
        }
    }
    (fetched, durations)
}

fn log_result(result: &CheckResult) {
    let breached = result.breached().count();
    match result.status {
        Status::Ok | Status::NotInForce => info!(
            check = %result.id,
            status = result.status.as_str(),
            groups = result.groups.len(),
            "check evaluated"
        ),
        Status::Breach => warn!(
            check = %result.id,
            status = result.status.as_str(),
            severity = result.severity.as_str(),
            groups = result.groups.len(),
            breached,
            "check breached"
        ),
        Status::Unknown => warn!(
            check = %result.id,
            status = result.status.as_str(),
            groups = result.groups.len(),
            error = result.error.as_deref().unwrap_or("some groups could not be evaluated"),
            "check could not be evaluated"
        ),
    }
    for group in result.groups.iter().filter(|g| g.status != Status::Ok) {
        warn!(
            check = %result.id,
            group = %group.label_text(),
            status = group.status.as_str(),
            value = group.value.unwrap_or(f64::NAN),
            limit = group.limit,
            error = group.error.as_deref(),
            "group not ok"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::SourceTasks;

    /// A task that panics is its source's error, which says it is a bug;
    /// the other sources' tasks still give what they gave.
    #[tokio::test]
    async fn a_panicking_source_task_is_that_sources_error() {
        let mut tasks = SourceTasks::new();
        tasks.spawn("good", async { 7 });
        tasks.spawn("broken", async {
            if std::hint::black_box(true) {
                panic!("a bug");
            }
            0
        });
        let mut ended = Vec::new();
        while let Some(next) = tasks.next().await {
            ended.push(next);
        }
        ended.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            ended,
            vec![
                (
                    "broken".to_owned(),
                    Err("reading the source failed on an internal error (a panic): \
                         this is a bug, and the log has its message"
                        .to_owned())
                ),
                ("good".to_owned(), Ok(7)),
            ]
        );
    }
}
