//! Sources of kind "postgres": one SQL query whose rows become a [`Table`].
//!
//! With `pg` (which connects: TLS through rustls with the ring provider,
//! `disable`, `require`, which encrypts without checking the certificate,
//! or `verify-full`, which checks it against the system roots plus
//! `ca_file`), the only module that knows tokio-postgres; this one runs
//! the query and reads its column types. A fetch opens one connection, sets `statement_timeout`,
//! makes the session read-only and its time zone the daemon's, runs the
//! query with its bound parameters and closes the connection. Column names
//! are field names; `[source.fields]` maps them like any table's.
//!
//! Every failure is an error naming `user@host:port/dbname` (never the
//! password) and what to change. Server messages describe the query, not
//! data, and are cut to [`MAX_SERVER_MESSAGE`] characters; the messages of
//! data exceptions (SQLSTATE class 22), which quote the offending value, are
//! cut before the quote. No cell value reaches an error.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use tokio_postgres::Client;
use tokio_postgres::error::{ErrorPosition, SqlState};
use tokio_postgres::types::{FromSql, Kind, ToSql, Type};

use super::FetchContext;
use crate::check::Secret;
use crate::evaluate::waittime::sql::{ColumnKind, SourceColumn, SqlValue};
use crate::pg::{cut, error_chain};
use crate::source::spec::SourceSpec;
use crate::table::{self, Row, Table, Value};

/// How far back `window_start` reaches from the evaluation time.
const WINDOW: chrono::Duration = chrono::Duration::days(30);

pub use crate::pg::MAX_SERVER_MESSAGE;

#[derive(Debug, Clone)]
pub struct PostgresSpec {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    /// `None` for servers that trust the client (trust, peer, certificate).
    pub password: Option<Secret>,
    pub tls: Tls,
    /// Extra CA certificates (PEM) for `verify-full`.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    pub query: String,
    /// Bound in order as `$1`, `$2`, …
    pub params: Vec<Param>,
    /// Whether its wait-time checks are pushed down when they do not say
    /// (`[source.postgres] pushdown`, default true).
    pub pushdown: bool,
}

pub use crate::pg::Tls;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// The evaluation time minus 30 days, a `timestamptz`.
    WindowStart,
    /// The evaluation time, a `timestamptz`.
    AsOf,
    /// A literal `text` value.
    Text(String),
}

impl PostgresSpec {
    /// Where the data comes from, for `check-config` and errors:
    /// `user@host:port/dbname` (no credentials).
    pub fn describe(&self) -> String {
        self.target().describe()
    }

    /// Where to connect, for [`crate::pg::connect`].
    pub fn target(&self) -> crate::pg::Target {
        crate::pg::Target {
            host: self.host.clone(),
            port: self.port,
            dbname: self.dbname.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            tls: self.tls,
            ca_file: self.ca_file.clone(),
            connect_timeout: self.connect_timeout,
        }
    }
}

pub async fn fetch(spec: &PostgresSpec, context: &FetchContext<'_>) -> anyhow::Result<Table> {
    let (columns, rows) = bounded(spec, run_query(spec, context)).await?;
    let mut table = build_table(context.source, &columns, rows, context.now)
        .with_context(|| format!("reading the rows of postgres {}", spec.describe()))?;
    if let Some(field) = &context.source.time_field {
        table.data_time = table::newest_time(&table, field, context.zone)
            .with_context(|| format!("reading the time_field `{field}`"))?;
    }
    Ok(table)
}

/// Rows fetched at a time through the portal of a folded query: the most
/// rows [`fold`] holds at once.
pub const FETCH_ROWS: i32 = 10_000;

/// Runs the query and folds its rows without keeping them: they are
/// fetched [`FETCH_ROWS`] at a time through a portal. `start` makes the
/// fold from the query's column names; `add` takes each row, numbered
/// from one, as the text of its cells, as a table's cells read. Errors are
/// those of [`fetch`].
pub async fn fold<F>(
    spec: &PostgresSpec,
    context: &FetchContext<'_>,
    start: impl FnOnce(&[String]) -> F,
    mut add: impl FnMut(&mut F, u64, &Vec<Option<String>>),
) -> anyhow::Result<F> {
    let prefix = format!("reading the rows of postgres {}: ", spec.describe());
    let (fold, _) = bounded(
        spec,
        portal_rows(
            spec,
            context,
            &prefix,
            |columns| (start(columns), Vec::with_capacity(columns.len())),
            |(fold, cells), number, values| {
                cells.clear();
                cells.extend(values.iter().map(|value| match value {
                    Value::Text(text) => Some(text.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    Value::Null | Value::Nested(_) => None,
                }));
                add(fold, number, cells);
            },
        ),
    )
    .await?;
    Ok(fold)
}

/// Runs the query and hands each row to `each` as [`fetch`]'s table holds
/// it (named and mapped by `[source.fields]`, numbered from one), fetched
/// [`FETCH_ROWS`] at a time through a portal, without keeping them; the
/// columns at the end. Errors are [`fetch`]'s.
pub async fn fold_rows(
    spec: &PostgresSpec,
    context: &FetchContext<'_>,
    each: impl FnMut(Row),
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let layout = &context.source.layout;
    let (names, _) = bounded(
        spec,
        portal_rows(
            spec,
            context,
            "",
            |columns| (columns.to_vec(), each),
            |(names, each), number, values| {
                let fields = table::map_fields(layout, names.iter().map(String::as_str), |name| {
                    let position = names.iter().position(|c| c == name)?;
                    values.get(position).cloned()
                });
                each(Row {
                    number: number as usize,
                    fields,
                });
            },
        ),
    )
    .await?;
    Ok(table::mapped_columns(
        layout,
        names.iter().map(String::as_str),
    ))
}

/// `work` under the bound of a query: the server enforces
/// statement_timeout; this is for a server or network that stops
/// answering altogether.
async fn bounded<T>(
    spec: &PostgresSpec,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let bound = spec.connect_timeout + spec.statement_timeout + Duration::from_secs(10);
    tokio::time::timeout(bound, work).await.map_err(|_| {
        anyhow!(
            "postgres {}: no answer within {} (connect_timeout + statement_timeout + 10s): \
             the server or the network is stalled",
            spec.describe(),
            humantime::format_duration(bound)
        )
    })?
}

/// Runs the query in a read-only transaction and reads its rows through
/// a portal, [`FETCH_ROWS`] at a time: `start` makes a state from the
/// column names (once they are checked), `row` takes each row's values
/// into it, numbered from one. A
/// cell that cannot be read is an error starting with `prefix`.
async fn portal_rows<S>(
    spec: &PostgresSpec,
    context: &FetchContext<'_>,
    prefix: &str,
    start: impl FnOnce(&[String]) -> S,
    mut row: impl FnMut(&mut S, u64, &[Value]),
) -> anyhow::Result<S> {
    let mut client = session(spec, context.zone).await?;
    let (statement, values) = prepare(&client, spec, context).await?;
    let names: Vec<String> = statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    check_columns(context.source, &names)
        .with_context(|| format!("reading the rows of postgres {}", spec.describe()))?;
    let mut state = start(&names);
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|(v, _)| v.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let transaction = client
        .transaction()
        .await
        .map_err(|e| query_error(spec, &e))?;
    let portal = transaction
        .bind(&statement, &params)
        .await
        .map_err(|e| query_error(spec, &e))?;
    let mut number = 0u64;
    let mut cells: Vec<Value> = Vec::with_capacity(names.len());
    loop {
        let rows = transaction
            .query_portal(&portal, FETCH_ROWS)
            .await
            .map_err(|e| query_error(spec, &e))?;
        if rows.is_empty() {
            break;
        }
        for fetched in &rows {
            number += 1;
            cells.clear();
            for (i, column) in statement.columns().iter().enumerate() {
                let Cell(value) = fetched.try_get(i).map_err(|_| {
                    anyhow!(
                        "{prefix}row {number}: column `{}` (type {}) could not be read",
                        column.name(),
                        column.type_().name()
                    )
                })?;
                cells.push(value);
            }
            row(&mut state, number, &cells);
        }
    }
    Ok(state)
}

/// Connects and sets the session up: statement timeout, read-only, the
/// daemon's time zone.
async fn session(spec: &PostgresSpec, zone: chrono_tz::Tz) -> anyhow::Result<Client> {
    let client = crate::pg::connect(&spec.target()).await?;
    // A monitor only reads; the daemon's zone makes `timestamp` columns
    // compare with the parameters as the checks read them.
    let settings = format!(
        "SET statement_timeout = {}; SET default_transaction_read_only = on; SET TimeZone = '{}'",
        spec.statement_timeout.as_millis().max(1),
        zone.name()
    );
    client
        .batch_execute(&settings)
        .await
        .map_err(|e| query_error(spec, &e))?;
    Ok(client)
}

/// Prepares the query on a session; its bound parameters.
async fn prepare(
    client: &Client,
    spec: &PostgresSpec,
    context: &FetchContext<'_>,
) -> anyhow::Result<(tokio_postgres::Statement, Vec<Bound>)> {
    let values = bind(&spec.params, context.now);
    let types: Vec<Type> = values.iter().map(|(_, t)| t.clone()).collect();
    let statement = client
        .prepare_typed(&spec.query, &types)
        .await
        .map_err(|e| query_error(spec, &e))?;
    Ok((statement, values))
}

/// Connects, runs the query and returns its column names and rows.
async fn run_query(
    spec: &PostgresSpec,
    context: &FetchContext<'_>,
) -> anyhow::Result<(Vec<String>, Vec<Vec<Value>>)> {
    let client = session(spec, context.zone).await?;
    let (statement, values) = prepare(&client, spec, context).await?;
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|(v, _)| v.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = client
        .query(&statement, &params)
        .await
        .map_err(|e| query_error(spec, &e))?;
    let columns = statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    Ok((columns, read_rows(statement.columns(), &rows)?))
}

type Bound = (Box<dyn ToSql + Sync + Send>, Type);

/// A session for push-down statements (`source::pushdown`): read-only, in
/// the daemon's zone, with the source's statement timeout, like a fetch.
pub struct Session<'a> {
    client: Client,
    spec: &'a PostgresSpec,
    now: DateTime<Utc>,
}

impl<'a> Session<'a> {
    pub async fn open(
        spec: &'a PostgresSpec,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Session<'a>> {
        Ok(Session {
            client: session(spec, zone).await?,
            spec,
            now,
        })
    }

    /// The names and kinds of the columns the source's query returns,
    /// from the server's description of it (nothing is run).
    pub async fn describe(&self) -> anyhow::Result<Vec<SourceColumn>> {
        let types: Vec<Type> = bind(&self.spec.params, self.now)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let statement = self
            .client
            .prepare_typed(&self.spec.query, &types)
            .await
            .map_err(|e| query_error(self.spec, &e))?;
        Ok(statement
            .columns()
            .iter()
            .map(|c| SourceColumn {
                name: c.name().to_owned(),
                kind: column_kind(c.type_()),
                type_name: c.type_().name().to_owned(),
            })
            .collect())
    }

    /// Runs `sql`, which wraps the source's query: its parameters first,
    /// then `extra`.
    pub async fn rows(&self, sql: &str, extra: &[SqlValue]) -> anyhow::Result<Vec<Vec<Value>>> {
        let mut values = bind(&self.spec.params, self.now);
        values.extend(extra.iter().map(sql_value));
        let types: Vec<Type> = values.iter().map(|(_, t)| t.clone()).collect();
        let statement = self
            .client
            .prepare_typed(sql, &types)
            .await
            .map_err(|e| query_error(self.spec, &e))?;
        let params: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|(v, _)| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = self
            .client
            .query(&statement, &params)
            .await
            .map_err(|e| query_error(self.spec, &e))?;
        read_rows(statement.columns(), &rows)
    }
}

/// How the push-down reads a column of type `ty`: the kinds whose values
/// it can turn into what the pull path reads.
fn column_kind(ty: &Type) -> ColumnKind {
    match *ty {
        Type::TIMESTAMPTZ => ColumnKind::Timestamptz,
        Type::TIMESTAMP => ColumnKind::Timestamp,
        Type::DATE => ColumnKind::Date,
        Type::BOOL => ColumnKind::Boolean,
        Type::INT2 | Type::INT4 | Type::INT8 => ColumnKind::Integer,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => ColumnKind::Text,
        _ if matches!(ty.kind(), Kind::Enum(_)) => ColumnKind::Text,
        _ => ColumnKind::Other,
    }
}

fn sql_value(value: &SqlValue) -> Bound {
    match value {
        SqlValue::Text(text) => (Box::new(text.clone()), Type::TEXT),
        SqlValue::TextArray(list) => (Box::new(list.clone()), Type::TEXT_ARRAY),
        SqlValue::IntArray(list) => (Box::new(list.clone()), Type::INT4_ARRAY),
        SqlValue::Int(n) => (Box::new(*n), Type::INT4),
        SqlValue::BigInt(n) => (Box::new(*n), Type::INT8),
        SqlValue::Float(n) => (Box::new(*n), Type::FLOAT8),
        SqlValue::Timestamp(time) => (Box::new(*time), Type::TIMESTAMP),
        SqlValue::Timestamptz(time) => (Box::new(*time), Type::TIMESTAMPTZ),
    }
}

/// The values of `params` for a run at `now`, with their SQL types.
fn bind(params: &[Param], now: DateTime<Utc>) -> Vec<Bound> {
    params
        .iter()
        .map(|param| -> Bound {
            match param {
                Param::WindowStart => (Box::new(now - WINDOW), Type::TIMESTAMPTZ),
                Param::AsOf => (Box::new(now), Type::TIMESTAMPTZ),
                Param::Text(text) => (Box::new(text.clone()), Type::TEXT),
            }
        })
        .collect()
}

fn read_rows(
    columns: &[tokio_postgres::Column],
    rows: &[tokio_postgres::Row],
) -> anyhow::Result<Vec<Vec<Value>>> {
    rows.iter()
        .enumerate()
        .map(|(index, row)| {
            (0..columns.len())
                .map(|i| {
                    let Cell(value) = row.try_get(i).map_err(|_| {
                        anyhow!(
                            "row {}: column `{}` (type {}) could not be read",
                            index + 1,
                            columns[i].name(),
                            columns[i].type_().name()
                        )
                    })?;
                    Ok(value)
                })
                .collect()
        })
        .collect()
}

/// An error while setting up the session or running the query.
fn query_error(spec: &PostgresSpec, error: &tokio_postgres::Error) -> anyhow::Error {
    let target = spec.describe();
    let Some(db) = error.as_db_error() else {
        return anyhow!(
            "the query on postgres {target} failed: {}",
            error_chain(error)
        );
    };
    if *db.code() == SqlState::QUERY_CANCELED && db.message().contains("statement timeout") {
        return anyhow!(
            "the query on postgres {target} ran longer than statement_timeout = {}: make it \
             faster (an index, a narrower window) or raise statement_timeout",
            humantime::format_duration(spec.statement_timeout)
        );
    }
    let code = db.code().code();
    // Data exceptions quote the value that failed ("invalid input syntax
    // for type integer: \"…\""); keep only the part before the value.
    let message = if code.starts_with("22") {
        db.message().split(':').next().unwrap_or_default()
    } else {
        db.message()
    };
    let mut text = message.to_owned();
    if let Some(ErrorPosition::Original(position)) = db.position() {
        let _ = write!(text, " at character {position} of the query");
    }
    if let Some(hint) = db.hint().filter(|_| !code.starts_with("22")) {
        let _ = write!(text, "; hint: {hint}");
    }
    anyhow!(
        "the query on postgres {target} failed: {} (SQLSTATE {code})",
        cut(&text)
    )
}

/// Rows as a [`Table`]: the query's column names are the field names,
/// mapped by `[source.fields]`; row numbers count from 1.
fn build_table(
    source: &SourceSpec,
    columns: &[String],
    rows: Vec<Vec<Value>>,
    now: DateTime<Utc>,
) -> anyhow::Result<Table> {
    check_columns(source, columns)?;
    let names = || columns.iter().map(String::as_str);
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(index, values)| {
            let fields = table::map_fields(&source.layout, names(), |name| {
                let position = columns.iter().position(|c| c == name)?;
                values.get(position).cloned()
            });
            Row {
                number: index + 1,
                fields,
            }
        })
        .collect();
    Ok(Table {
        columns: table::mapped_columns(&source.layout, names()),
        rows,
        position: "row",
        data_time: now,
    })
}

/// The query's column names are distinct and hold every mapped column.
fn check_columns(source: &SourceSpec, columns: &[String]) -> anyhow::Result<()> {
    for (index, name) in columns.iter().enumerate() {
        if columns[..index].contains(name) {
            anyhow::bail!(
                "the query returns two columns named {name:?}: give them distinct names with AS"
            );
        }
    }
    for (canonical, column) in &source.layout.fields {
        if !columns.contains(column) {
            anyhow::bail!(
                "[source.fields] maps `{canonical}` to column {column:?}, which the query does \
                 not return (it returns: {}); fix the mapping or the query",
                columns.join(", ")
            );
        }
    }
    Ok(())
}

/// One cell of any type, read from PostgreSQL's binary format.
struct Cell(Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, Box<dyn StdError + Sync + Send>> {
        cell(ty, raw).map(Cell)
    }

    fn from_sql_null(_: &Type) -> Result<Cell, Box<dyn StdError + Sync + Send>> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

type CellResult = Result<Value, Box<dyn StdError + Sync + Send>>;

fn cell(ty: &Type, raw: &[u8]) -> CellResult {
    let value = match *ty {
        Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
        Type::INT2 => Value::Number(f64::from(i16::from_sql(ty, raw)?)),
        Type::INT4 => Value::Number(f64::from(i32::from_sql(ty, raw)?)),
        // Beyond 2^53 an integer loses its last digits, as in JSON.
        Type::INT8 => Value::Number(i64::from_sql(ty, raw)? as f64),
        Type::OID => Value::Number(f64::from(u32::from_sql(ty, raw)?)),
        Type::FLOAT4 => number(f64::from(f32::from_sql(ty, raw)?)),
        Type::FLOAT8 => number(f64::from_sql(ty, raw)?),
        Type::NUMERIC => {
            let text = numeric_text(raw).ok_or("malformed numeric")?;
            text.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map_or(Value::Text(text), Value::Number)
        }
        Type::TIMESTAMPTZ => match infinity(raw)? {
            Some(text) => Value::Text(text.to_owned()),
            None => Value::Text(
                DateTime::<Utc>::from_sql(ty, raw)?.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ),
        },
        Type::TIMESTAMP => match infinity(raw)? {
            Some(text) => Value::Text(text.to_owned()),
            None => Value::Text(
                NaiveDateTime::from_sql(ty, raw)?
                    .format("%Y-%m-%dT%H:%M:%S%.f")
                    .to_string(),
            ),
        },
        Type::DATE => match i32::from_sql(&Type::INT4, raw)? {
            i32::MAX => Value::Text("infinity".to_owned()),
            i32::MIN => Value::Text("-infinity".to_owned()),
            _ => Value::Text(NaiveDate::from_sql(ty, raw)?.format("%Y-%m-%d").to_string()),
        },
        Type::UUID => Value::Text(uuid_text(raw).ok_or("malformed uuid")?),
        Type::JSON | Type::JSONB => Value::Nested("JSON"),
        _ => match ty.kind() {
            Kind::Domain(base) => return cell(base, raw),
            // An enum's binary form is its label.
            Kind::Enum(_) => text(raw)?,
            Kind::Array(_) => Value::Nested("an array"),
            _ if <String as FromSql>::accepts(ty) => text(raw)?,
            _ => Value::Nested("an unsupported type"),
        },
    };
    Ok(value)
}

/// Text as in CSV and JSON sources: blank is empty.
fn text(raw: &[u8]) -> CellResult {
    let text = std::str::from_utf8(raw)?;
    Ok(if text.trim().is_empty() {
        Value::Null
    } else {
        Value::Text(text.to_owned())
    })
}

/// NaN and infinities are not numbers a check can compare; as text they
/// make the group `unknown`, as such a cell would in a CSV file.
fn number(n: f64) -> Value {
    if n.is_finite() {
        Value::Number(n)
    } else {
        Value::Text(n.to_string())
    }
}

/// `infinity` and `-infinity` of a timestamp (the extreme microsecond
/// counts), which chrono cannot represent.
fn infinity(raw: &[u8]) -> Result<Option<&'static str>, Box<dyn StdError + Sync + Send>> {
    Ok(match i64::from_sql(&Type::INT8, raw)? {
        i64::MAX => Some("infinity"),
        i64::MIN => Some("-infinity"),
        _ => None,
    })
}

/// The decimal text of a `numeric` in binary form: digit count, weight (of
/// the first base-10000 digit), sign, display scale, then the digits.
fn numeric_text(raw: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*raw.get(2 * i)?, *raw.get(2 * i + 1)?]))
    };
    let count = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let scale = usize::from(word(3)?);
    if raw.len() != 8 + 2 * count {
        return None;
    }
    let digits: Vec<u16> = (0..count).map(|i| word(4 + i)).collect::<Option<_>>()?;
    let digit = |index: i64| -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let prefix = match sign {
        0x0000 => "",
        0x4000 => "-",
        0xC000 => return Some("NaN".to_owned()),
        0xD000 => return Some("Infinity".to_owned()),
        0xF000 => return Some("-Infinity".to_owned()),
        _ => return None,
    };
    let mut text = prefix.to_owned();
    if weight < 0 {
        text.push('0');
    }
    for index in 0..=weight {
        if index == 0 {
            let _ = write!(text, "{}", digit(index));
        } else {
            let _ = write!(text, "{:04}", digit(index));
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let groups = scale.div_ceil(4) as i64;
        for k in 1..=groups {
            let _ = write!(fraction, "{:04}", digit(weight + k));
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    Some(text)
}

fn uuid_text(raw: &[u8]) -> Option<String> {
    if raw.len() != 16 {
        return None;
    }
    let mut text = String::with_capacity(36);
    for (index, byte) in raw.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        let _ = write!(text, "{byte:02x}");
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `numeric` in binary form from its parts.
    fn numeric(weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for word in [digits.len() as u16, weight as u16, sign, scale]
            .into_iter()
            .chain(digits.iter().copied())
        {
            raw.extend_from_slice(&word.to_be_bytes());
        }
        raw
    }

    /// Reads `raw` as a cell of type `ty`; `expected` is the value
    /// debug-printed, or "error".
    fn check(ty: &Type, raw: &[u8], expected: &str) {
        let got = cell(ty, raw).map_or_else(|_| "error".to_owned(), |v| format!("{v:?}"));
        assert_eq!(got, expected, "{ty} {raw:?}");
    }

    #[test]
    fn numerics_as_numbers() {
        check(&Type::NUMERIC, &numeric(0, 0, 0, &[]), "Number(0.0)");
        check(
            &Type::NUMERIC,
            &numeric(0, 0, 2, &[12, 5000]),
            "Number(12.5)",
        );
        check(
            &Type::NUMERIC,
            &numeric(1, 0x4000, 0, &[1, 2345]),
            "Number(-12345.0)",
        );
        check(
            &Type::NUMERIC,
            &numeric(2, 0, 0, &[1]),
            "Number(100000000.0)",
        );
        check(&Type::NUMERIC, &numeric(-1, 0, 4, &[1]), "Number(0.0001)");
        check(
            &Type::NUMERIC,
            &numeric(-2, 0, 6, &[1200]),
            "Number(1.2e-5)",
        );
        check(&Type::NUMERIC, &numeric(0, 0xC000, 0, &[]), "Text(\"NaN\")");
        check(
            &Type::NUMERIC,
            &numeric(0, 0xF000, 0, &[]),
            "Text(\"-Infinity\")",
        );
        check(&Type::NUMERIC, &numeric(0, 0x1234, 0, &[]), "error");
        check(&Type::NUMERIC, &[0, 1, 0, 0], "error");
        assert_eq!(
            numeric_text(&numeric(0, 0, 3, &[118, 5000])).as_deref(),
            Some("118.500")
        );
        assert_eq!(
            numeric_text(&numeric(-2, 0, 6, &[1200])).as_deref(),
            Some("0.000012")
        );
    }

    #[test]
    fn other_types() {
        check(&Type::BOOL, &[1], "Bool(true)");
        check(&Type::INT2, &7i16.to_be_bytes(), "Number(7.0)");
        check(&Type::INT4, &(-7i32).to_be_bytes(), "Number(-7.0)");
        check(&Type::INT8, &412_000i64.to_be_bytes(), "Number(412000.0)");
        check(&Type::FLOAT8, &1.5f64.to_be_bytes(), "Number(1.5)");
        check(&Type::FLOAT8, &f64::NAN.to_be_bytes(), "Text(\"NaN\")");
        check(&Type::FLOAT4, &f32::INFINITY.to_be_bytes(), "Text(\"inf\")");
        check(&Type::TEXT, b"north", "Text(\"north\")");
        check(&Type::VARCHAR, b"  ", "Null");
        check(&Type::TEXT, &[0xff], "error");
        // Microseconds since 2000-01-01.
        let noon = 12 * 3600 * 1_000_000i64;
        check(
            &Type::TIMESTAMPTZ,
            &noon.to_be_bytes(),
            "Text(\"2000-01-01T12:00:00Z\")",
        );
        check(
            &Type::TIMESTAMPTZ,
            &(noon + 250_000).to_be_bytes(),
            "Text(\"2000-01-01T12:00:00.250Z\")",
        );
        check(
            &Type::TIMESTAMP,
            &noon.to_be_bytes(),
            "Text(\"2000-01-01T12:00:00\")",
        );
        check(
            &Type::TIMESTAMP,
            &i64::MAX.to_be_bytes(),
            "Text(\"infinity\")",
        );
        check(&Type::DATE, &(-1i32).to_be_bytes(), "Text(\"1999-12-31\")");
        check(&Type::DATE, &i32::MIN.to_be_bytes(), "Text(\"-infinity\")");
        check(
            &Type::UUID,
            &[
                0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
                0x0a, 0x11,
            ],
            "Text(\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\")",
        );
        check(&Type::JSONB, b"\x01{}", "Nested(\"JSON\")");
        check(&Type::INT4_ARRAY, &[], "Nested(\"an array\")");
        check(&Type::POINT, &[0; 16], "Nested(\"an unsupported type\")");
    }

    #[test]
    fn long_server_messages_are_cut() {
        assert_eq!(cut("short"), "short");
        let long = "é".repeat(400);
        assert_eq!(cut(&long).chars().count(), MAX_SERVER_MESSAGE + 1);
    }
}
