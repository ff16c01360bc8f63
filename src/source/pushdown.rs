//! Wait-time checks evaluated inside a PostgreSQL source (`pushdown`):
//! the check goes to the server as one statement
//! (`evaluate::waittime::sql`) and only counts and a histogram of waits
//! per group come back, instead of every row.
//!
//! Where the push-down cannot give exactly what pulling the rows gives
//! (`pushdown = false`, a `time_field`, a query that cannot be wrapped, a
//! column of a type it does not read, a statement the server refuses), the
//! check pulls the rows as any other and the log says why. This module
//! runs the statements (through `source::postgres`, which alone knows
//! tokio-postgres) and falls back; what to ask and how to read the answer
//! is the pure `sql` module's.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tracing::{debug, info};

use super::postgres::{PostgresSpec, Session};
use super::spec::{Location, SourceSpec};
use crate::check::{Check, CheckResult, Rule};
use crate::evaluate::waittime::sql::{self, Compiled};

/// What one source's push-down gave: a result per check, and whether the
/// source could be read (an error makes every check of it `unknown`).
pub struct Outcome {
    pub results: Vec<CheckResult>,
    pub source: Result<(), String>,
}

/// The PostgreSQL settings of `spec` when `check` is to be pushed down to
/// it: a `timely_access` check with `pushdown` on, on a PostgreSQL source.
pub fn target<'a>(spec: &'a SourceSpec, check: &Check) -> Option<&'a PostgresSpec> {
    let Rule::TimelyAccess(rule) = &check.rule else {
        return None;
    };
    match &spec.location {
        Location::Postgres(pg) if rule.pushdown.unwrap_or(pg.pushdown) => Some(pg),
        _ => None,
    }
}

/// Why `check` cannot be pushed down to `spec`, as far as the
/// configuration tells (the server may still say no: a column's type); for
/// `check-config`. `None` when it will be tried, or when the source is not
/// PostgreSQL.
pub fn configured_fallback(spec: &SourceSpec, check: &Check) -> Option<String> {
    let Rule::TimelyAccess(rule) = &check.rule else {
        return None;
    };
    let Location::Postgres(pg) = &spec.location else {
        return None;
    };
    match rule.pushdown {
        Some(false) => return Some("pushdown = false".to_owned()),
        None if !pg.pushdown => return Some("pushdown = false (the source's)".to_owned()),
        _ => {}
    }
    sql::unwrappable(&pg.query)
}

/// Evaluates `checks` (all on `spec`, each with [`target`]) as of `now`,
/// in the database where possible, pulling the rows for the others.
pub async fn evaluate(
    spec: &SourceSpec,
    pg: &PostgresSpec,
    checks: &[Check],
    now: DateTime<Utc>,
    zone: Tz,
) -> Outcome {
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    let mut pull: Vec<usize> = Vec::new();
    let mut tried: Vec<usize> = Vec::new();
    for (index, check) in checks.iter().enumerate() {
        match configured_fallback(spec, check) {
            Some(reason) => {
                log_fallback(spec, check, &reason);
                pull.push(index);
            }
            None => tried.push(index),
        }
    }
    if !tried.is_empty() {
        // As a fetch is bounded: the server enforces statement_timeout per
        // statement (the description, the time_field, and two per check);
        // this bounds a server or network that stops answering.
        let statements = u32::try_from(2 + 2 * tried.len()).unwrap_or(u32::MAX);
        let bound = pg.connect_timeout
            + pg.statement_timeout.saturating_mul(statements)
            + Duration::from_secs(10);
        let work = push_down(spec, pg, checks, &tried, now, zone);
        match tokio::time::timeout(bound, work).await {
            Ok(Ok(pushed)) => {
                for (index, result) in pushed {
                    match result {
                        Ok(result) => results[index] = Some(result),
                        Err(reason) => {
                            log_fallback(spec, &checks[index], &reason);
                            pull.push(index);
                        }
                    }
                }
            }
            Ok(Err(error)) => return failed(checks, now, &format!("{error:#}")),
            Err(_) => {
                let error = format!(
                    "postgres {}: no answer within {} (connect_timeout + {statements} × \
                     statement_timeout + 10s): the server or the network is stalled",
                    pg.describe(),
                    humantime::format_duration(bound)
                );
                return failed(checks, now, &error);
            }
        }
    }
    let mut source = Ok(());
    if !pull.is_empty() {
        let table = super::fetch(spec, now, zone, None)
            .await
            .map_err(|e| format!("{e:#}"));
        for index in pull {
            let check = &checks[index];
            results[index] = Some(match &table {
                Ok(table) => crate::evaluate::evaluate(check, Ok(table), now),
                Err(error) => crate::evaluate::evaluate(check, Err(error.as_str()), now),
            });
        }
        source = table.map(|_| ());
    }
    Outcome {
        results: results
            .into_iter()
            .zip(checks)
            .map(|(result, check)| {
                result
                    .unwrap_or_else(|| crate::evaluate::evaluate(check, Err("not evaluated"), now))
            })
            .collect(),
        source,
    }
}

/// Every check `unknown` with the source's `error`.
fn failed(checks: &[Check], now: DateTime<Utc>, error: &str) -> Outcome {
    Outcome {
        results: checks
            .iter()
            .map(|check| crate::evaluate::evaluate(check, Err(error), now))
            .collect(),
        source: Err(error.to_owned()),
    }
}

type Pushed = Vec<(usize, Result<CheckResult, String>)>;

/// Opens one session and runs the statement of each check in `tried`. An
/// error: the source could not be reached or described (a failed source);
/// a check's own `Err`: why its rows must be pulled.
async fn push_down(
    spec: &SourceSpec,
    pg: &PostgresSpec,
    checks: &[Check],
    tried: &[usize],
    now: DateTime<Utc>,
    zone: Tz,
) -> anyhow::Result<Pushed> {
    let session = Session::open(pg, zone, now).await?;
    let version = session
        .rows("SELECT current_setting('server_version_num')", &[])
        .await?;
    if let Some(reason) = sql::unsupported_server(version.first().and_then(|row| row.first())) {
        return Ok(tried.iter().map(|&i| (i, Err(reason.clone()))).collect());
    }
    let columns = session.describe().await?;
    let data_time = match &spec.time_field {
        None => Ok(now),
        Some(field) => data_time(&session, spec, pg, &columns, field, zone).await?,
    };
    let data_time = match data_time {
        Ok(time) => time,
        Err(reason) => return Ok(tried.iter().map(|&i| (i, Err(reason.clone()))).collect()),
    };
    let mut pushed = Vec::new();
    for &index in tried {
        let check = &checks[index];
        let started = Instant::now();
        let result = match sql::compile(
            check,
            &pg.query,
            pg.params.len(),
            &columns,
            &spec.layout.fields,
            now,
        ) {
            Ok(Compiled::Result(mut result)) => {
                result.data_time = Some(data_time);
                Ok(*result)
            }
            Ok(Compiled::Statement(plan)) => run_plan(&session, *plan, data_time).await?,
            Err(reason) => Err(reason),
        };
        if let Ok(result) = &result {
            info!(
                source = %spec.id,
                check = %check.id,
                duration_ms = started.elapsed().as_millis() as u64,
                groups = result.groups.len(),
                pushdown = true,
                "check evaluated in the database"
            );
        }
        pushed.push((index, result));
    }
    Ok(pushed)
}

/// Runs a compiled check and reads its result; the inner `Err` says why
/// to pull. The outer error is the source's failure: the statement
/// timeout, which pulling the rows would only meet again, later.
async fn run_plan(
    session: &Session<'_>,
    plan: sql::Plan,
    data_time: DateTime<Utc>,
) -> anyhow::Result<Result<CheckResult, String>> {
    // The statement holds placeholders, never values: safe to log.
    debug!(statement = %plan.statement, "push-down statement");
    let rows = match session.rows(&plan.statement, &plan.params).await {
        Ok(rows) => rows,
        Err(error) => return refused(error),
    };
    let samples = if plan.any_rejected(&rows) {
        match session.rows(&plan.samples, &plan.params).await {
            Ok(rows) => rows,
            Err(error) => return refused(error),
        }
    } else {
        Vec::new()
    };
    Ok(plan.finish(&rows, &samples, data_time))
}

/// The source's data time from its `time_field`, read in the database as
/// the pull path reads it from the rows (the newest time; a bare date is
/// its day's start in `zone`). The inner `Err`: pull the rows (which then
/// report the same failure the pull path would).
async fn data_time(
    session: &Session<'_>,
    spec: &SourceSpec,
    pg: &PostgresSpec,
    columns: &[sql::SourceColumn],
    field: &str,
    zone: Tz,
) -> anyhow::Result<Result<DateTime<Utc>, String>> {
    let (statement, params) = match sql::data_time_statement(
        &pg.query,
        pg.params.len(),
        columns,
        &spec.layout.fields,
        field,
    ) {
        Ok(statement) => statement,
        Err(reason) => return Ok(Err(reason)),
    };
    let rows = match session.rows(&statement, &params).await {
        Ok(rows) => rows,
        Err(error) => return refused(error),
    };
    let row = rows.first().cloned().unwrap_or_default();
    let refused = row
        .get(1)
        .is_some_and(|n| *n != crate::table::Value::Number(0.0));
    let newest = row.into_iter().next().unwrap_or(crate::table::Value::Null);
    if refused || newest == crate::table::Value::Null {
        return Ok(Err(format!(
            "the time_field `{field}` has no time, or a value the pull path refuses"
        )));
    }
    let table = crate::table::Table {
        columns: std::iter::once(field.to_owned()).collect(),
        rows: vec![crate::table::Row {
            number: 1,
            fields: std::iter::once((field.to_owned(), newest)).collect(),
        }],
        position: "row",
        data_time: DateTime::<Utc>::MIN_UTC,
    };
    Ok(crate::table::newest_time(&table, field, zone).map_err(|e| format!("{e}")))
}

/// A statement the server refused is the push-down's limitation, not the
/// source's failure: the rows are pulled, and the pull reports a real
/// failure. A statement timeout is the source's.
fn refused<T>(error: anyhow::Error) -> anyhow::Result<Result<T, String>> {
    let text = format!("{error:#}");
    if text.contains("statement_timeout") {
        return Err(error);
    }
    Ok(Err(format!(
        "the server refused the push-down statement: {text}"
    )))
}

fn log_fallback(spec: &SourceSpec, check: &Check, reason: &str) {
    info!(
        source = %spec.id,
        check = %check.id,
        reason = %reason,
        pushdown = false,
        "check not pushed down; pulling the rows"
    );
}
