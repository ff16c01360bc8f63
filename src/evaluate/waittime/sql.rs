//! Push-down: a wait-time check compiled into one SQL statement that a
//! PostgreSQL server runs over the source's own query, returning counts and
//! a histogram of waits per group instead of the rows.
//!
//! [`compile`] is pure: from the check, the names and kinds of the columns
//! the source query returns (the server describes them) and the evaluation
//! time, it writes `SELECT … FROM (<query>) AS src …` and the values to
//! bind after the query's own parameters. Every value goes in as a bound
//! parameter: the zone, the window, the effective dates, the spellings of
//! each selected value (after `[source.values]`) and the business-day
//! calendar, an `int[]` of cumulative business-day counts indexed by local
//! date. [`Plan::finish`] turns the rows the statement returns into the
//! [`CheckResult`] the pull engine would give, through the same
//! `GroupAcc::finish_sum`, so the two paths share every judgement after the
//! counting.
//!
//! Each row is classified as `CheckState::classify` does, in the same order
//! (labels, clock start, window, selection, effective date, extension,
//! offer, telehealth), and its wait counted in the same ticks. Where this
//! cannot be done exactly, [`compile`] says why and the caller pulls the
//! rows instead: a time column that is not `timestamptz`, `timestamp` or
//! `date`; a value column that is not text, an enum, a boolean or an
//! integer; a `time_field` not read from a `timestamptz` or `date` column
//! ([`data_time_statement`]); a query that cannot be wrapped. [`Plan::finish`]
//! also refuses (and the caller pulls) when an offer lies beyond the
//! calendar span bound to the statement. The statement's text is written
//! by `statement::Writer`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Datelike as _, Duration, NaiveDate, NaiveDateTime, Utc};

use super::Evaluator;
use super::accumulate::{GroupAcc, Outcome};
use super::timestamp::ZoneCache;
use crate::check::fields::{BOOL_SPELLINGS, Field, ValueMaps, parse_bool};
use crate::check::standards::{Modality, ProviderType, Telehealth, Unit, Urgency, VisitType};
use crate::check::{Check, CheckResult, Rule, WaitRule};
use crate::table::Value;

use statement::{LINE_PLACEHOLDER, QUERY_PLACEHOLDER, SOURCE_PLACEHOLDER, Writer};

/// How far after the evaluation date the bound business-day calendar
/// reaches: an offer later than this makes the check pull its rows.
const CALENDAR_YEARS_AHEAD: i64 = 3;

/// How many rejected rows are sampled (as the pull engine keeps).
const SAMPLES: usize = super::REJECTED_SAMPLES;

/// A column the source query returns, as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    pub name: String,
    pub kind: ColumnKind,
    /// The server's name of its type, for messages.
    pub type_name: String,
}

/// The kinds of column the push-down reads exactly as the pull path does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Timestamptz,
    Timestamp,
    Date,
    /// `text`, `varchar`, `char(n)`, `name` and enums.
    Text,
    Boolean,
    /// `smallint`, `integer`, `bigint`.
    Integer,
    Other,
}

/// A value bound to the statement after the query's own parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    TextArray(Vec<String>),
    IntArray(Vec<i32>),
    Int(Option<i32>),
    BigInt(i64),
    Float(f64),
    Timestamp(NaiveDateTime),
    Timestamptz(DateTime<Utc>),
}

/// A compiled check: the statement, the sampling statement for rejected
/// rows, and what is needed to read their answers.
#[derive(Debug, Clone)]
pub struct Plan {
    pub statement: String,
    /// The first rows the statement rejects, with their numbers: run only
    /// when some row was rejected.
    pub samples: String,
    /// Bound as `$N+1`, `$N+2`, … after the query's N parameters.
    pub params: Vec<SqlValue>,
    check: Check,
    header: Vec<String>,
    labels: usize,
    as_of: DateTime<Utc>,
}

/// What [`compile`] gives: a statement to run, or the result already (the
/// query lacks a column the check needs, which the pull engine reports
/// the same way without reading a row).
#[derive(Debug, Clone)]
pub enum Compiled {
    Statement(Box<Plan>),
    Result(Box<CheckResult>),
}

/// Why a query cannot be wrapped as a subquery, if it cannot: only a
/// single plain `SELECT`, `WITH` (without data-modifying statements) or
/// `VALUES` is, without `;` or a locking clause.
pub fn unwrappable(query: &str) -> Option<String> {
    let text = query.trim();
    let upper = text.to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let first = words.first().copied().unwrap_or_default();
    if !matches!(first, "SELECT" | "WITH" | "VALUES")
        || !text.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Some("the query does not start with SELECT, WITH or VALUES".to_owned());
    }
    if text.contains(';') {
        return Some("the query contains `;`".to_owned());
    }
    for pair in words.windows(2) {
        if pair[0] == "FOR" && matches!(pair[1], "UPDATE" | "SHARE" | "NO" | "KEY") {
            return Some(format!("the query has a locking clause (FOR {})", pair[1]));
        }
    }
    for word in ["INSERT", "UPDATE", "DELETE", "MERGE", "INTO"] {
        if words.contains(&word) {
            return Some(format!("the query contains {word}"));
        }
    }
    None
}

/// Why the server cannot run push-down statements exactly, from its
/// `server_version_num`: before PostgreSQL 14, `EXTRACT(EPOCH …)` is a
/// `double precision`, which cannot hold today's instants to the
/// microsecond, so waits in minutes and hours could be off at a limit.
pub fn unsupported_server(version_num: Option<&Value>) -> Option<String> {
    let version = match version_num {
        Some(Value::Text(text)) => text.trim().parse::<u32>().ok(),
        Some(Value::Number(n)) => Some(*n as u32),
        _ => None,
    };
    match version {
        Some(v) if v >= 140_000 => None,
        Some(v) => {
            // 130012 is 13.12; before 10, 90624 was 9.6.24.
            let release = if v >= 100_000 {
                (v / 10_000).to_string()
            } else {
                format!("{}.{}", v / 10_000, v % 10_000 / 100)
            };
            Some(format!(
                "the server is PostgreSQL {release}; push-down needs 14 or later"
            ))
        }
        None => Some("the server does not say which PostgreSQL version it is".to_owned()),
    }
}

/// Compiles `check` over `query` (which has `bound` parameters of its own)
/// whose result has `columns`, mapped by the source's `[source.fields]`
/// `mapping`, as of `as_of`. `Err`: why the rows must be pulled instead.
pub fn compile(
    check: &Check,
    query: &str,
    bound: usize,
    columns: &[SourceColumn],
    mapping: &BTreeMap<String, String>,
    as_of: DateTime<Utc>,
) -> Result<Compiled, String> {
    let Rule::TimelyAccess(rule) = &check.rule else {
        return Err("not a timely_access check".to_owned());
    };
    if let Some(reason) = unwrappable(query) {
        return Err(reason);
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    for (index, name) in names.iter().enumerate() {
        if names[..index].contains(name) {
            return Err(format!("the query returns two columns named {name:?}"));
        }
    }
    if let Some((canonical, _)) = mapping.iter().find(|(_, c)| !names.contains(&c.as_str())) {
        return Err(format!(
            "[source.fields] maps `{canonical}` to a column the query does not return"
        ));
    }
    // The pull path's header: mapped names and every column's own name.
    let header: Vec<String> = mapping
        .keys()
        .cloned()
        .chain(names.iter().map(|n| (*n).to_owned()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let evaluator = Evaluator::new(
        std::slice::from_ref(check),
        &header,
        &BTreeMap::new(),
        as_of,
    );
    if evaluator
        .checks
        .first()
        .is_none_or(|state| state.error.is_some())
    {
        return Ok(Compiled::Result(Box::new(
            evaluator
                .finish(as_of)
                .pop()
                .unwrap_or_else(|| crate::check::result::empty_result(check, as_of)),
        )));
    }
    let column = Resolver { columns, mapping };
    let mut writer = Writer {
        rule,
        check,
        bound,
        params: Vec::new(),
        whitespace: None,
        texts: Vec::new(),
    };
    let rows = writer.rows(&column, as_of)?;
    let labels = check.group_by.len();
    let group_columns: String = (0..labels).map(|i| format!("l{i}, ")).collect();
    let positions: Vec<String> = (1..=labels + 5).map(|i| i.to_string()).collect();
    let statement = format!(
        "SELECT {group_columns}k, r, w, xt, beyond, count(*)::int8 AS n, sum(o)::int8 AS open_sum, \
         max(o) AS open_max\nFROM ({}) AS d\nGROUP BY {}",
        rows.replace(LINE_PLACEHOLDER, "0").replace(
            SOURCE_PLACEHOLDER,
            &format!("(\n{QUERY_PLACEHOLDER}\n) AS src")
        ),
        positions.join(", ")
    )
    .replace(QUERY_PLACEHOLDER, query);
    // Rows are numbered in the order the query returns them. The query is a
    // materialized `WITH`, not a subquery: a server that runs the query in
    // pieces and numbers the rows as they come back (Citus, over its
    // shards) keeps the order of a statement's ORDER BY but not of a
    // subquery's.
    let samples = format!(
        "WITH src AS MATERIALIZED (\n{QUERY_PLACEHOLDER}\n)\nSELECT line, r FROM ({}) AS d\n\
         WHERE CASE WHEN fence_d = 1 THEN k = {REJECTED} END\nORDER BY line\nLIMIT {SAMPLES}",
        rows.replace(LINE_PLACEHOLDER, "row_number() OVER ()")
            .replace(SOURCE_PLACEHOLDER, "src")
    )
    .replace(QUERY_PLACEHOLDER, query);
    Ok(Compiled::Statement(Box::new(Plan {
        statement,
        samples,
        params: writer.params,
        check: check.clone(),
        header,
        labels,
        as_of,
    })))
}

/// Row kinds the statement returns (`k`).
const BEFORE_EFFECTIVE: i64 = 1;
const REJECTED: i64 = 2;
const COMPLIANT: i64 = 3;
const NONCOMPLIANT: i64 = 4;
const PENDING: i64 = 5;

/// Reasons a row is rejected (`r`), written as the pull engine words them
/// by [`reason`].
const CLOCK_EMPTY: i32 = 1;
const CLOCK_NOT_TIMESTAMP: i32 = 2;
const EXTENDED_NOT_BOOLEAN: i32 = 3;
const END_NOT_TIMESTAMP: i32 = 4;
const END_BEFORE_CLOCK: i32 = 5;
const MODALITY_UNKNOWN: i32 = 6;
const REQUESTED_MODALITY_UNKNOWN: i32 = 7;
/// `SELECTED_EMPTY + 2 × i` and `+ 1`: the i-th selected field is empty or
/// holds an unknown value (urgency, visit type, prior auth, provider type).
const SELECTED_EMPTY: i32 = 10;
/// `LABEL_EMPTY + i`: the i-th `group_by` field is empty.
const LABEL_EMPTY: i32 = 100;

const SELECTED: [Field; 4] = [
    Field::Urgency,
    Field::VisitType,
    Field::PriorAuth,
    Field::ProviderType,
];

/// The words of a rejection, as the pull engine writes them.
fn reason(rule: &WaitRule, check: &Check, code: i32) -> String {
    let clock = rule.clock_field().name();
    let end = rule.end_field().name();
    match code {
        CLOCK_EMPTY => format!("`{clock}` is empty"),
        CLOCK_NOT_TIMESTAMP => format!("`{clock}` is not a timestamp"),
        EXTENDED_NOT_BOOLEAN => "`extended_by_provider` is not true or false".to_owned(),
        END_NOT_TIMESTAMP => format!("`{end}` is not a timestamp"),
        END_BEFORE_CLOCK => format!("`{end}` is before `{clock}`"),
        MODALITY_UNKNOWN | REQUESTED_MODALITY_UNKNOWN => {
            let field = if code == MODALITY_UNKNOWN {
                Field::Modality
            } else {
                Field::RequestedModality
            };
            format!(
                "`{}` has an unknown value: use \"in_person\" or \"telehealth\"",
                field.name()
            )
        }
        LABEL_EMPTY.. => {
            let index = usize::try_from(code - LABEL_EMPTY).unwrap_or(usize::MAX);
            let field = check
                .group_by
                .get(index)
                .map_or("a group_by field", String::as_str);
            format!("`{field}` is empty (require_labels = true)")
        }
        SELECTED_EMPTY.. => {
            let offset = usize::try_from(code - SELECTED_EMPTY).unwrap_or(usize::MAX);
            let field = SELECTED.get(offset / 2).map_or("a field", |f| f.name());
            if offset % 2 == 0 {
                format!("`{field}` is empty")
            } else {
                format!("`{field}` has an unknown value")
            }
        }
        _ => "rejected".to_owned(),
    }
}

/// The statement that reads a source's `time_field` (`field`, mapped by
/// `[source.fields]`) in the database: the newest value the pull path
/// would read as a time, and how many it would refuse. `Err`: the column
/// is not a `timestamptz` or a `date` (the pull path reads no other type
/// as a time, and then fails the source): pull the rows.
pub fn data_time_statement(
    query: &str,
    bound: usize,
    columns: &[SourceColumn],
    mapping: &BTreeMap<String, String>,
    field: &str,
) -> Result<(String, Vec<SqlValue>), String> {
    let resolver = Resolver { columns, mapping };
    let column = resolver
        .get(field)
        .ok_or_else(|| format!("the query returns no column for the time_field `{field}`"))?;
    let c = format!("src.{}", ident(&column.name));
    let (low, high) = match column.kind {
        ColumnKind::Timestamptz => (
            SqlValue::Timestamptz(first_instant().and_utc()),
            SqlValue::Timestamptz(last_instant().and_utc()),
        ),
        ColumnKind::Date => (
            SqlValue::Timestamp(first_instant()),
            SqlValue::Timestamp(last_instant()),
        ),
        _ => {
            return Err(format!(
                "the time_field `{field}` is column {:?} of type {}: push-down reads it from \
                 timestamptz or date columns",
                column.name, column.type_name
            ));
        }
    };
    let (low_at, high_at) = (format!("${}", bound + 1), format!("${}", bound + 2));
    let cast = if column.kind == ColumnKind::Date {
        "::date"
    } else {
        "::timestamptz"
    };
    let valid = format!("{c} BETWEEN {low_at}{cast} AND {high_at}{cast}");
    Ok((
        format!(
            "SELECT max({c}) FILTER (WHERE {valid}), count(*) FILTER (WHERE NOT ({valid}))\n\
             FROM (\n{query}\n) AS src"
        ),
        vec![low, high],
    ))
}

/// The first and last instants the pull path reads (years 0 to 9999).
fn first_instant() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(0, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN)
}

fn last_instant() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .unwrap_or(NaiveDateTime::MAX)
}

/// Finds the column of a canonical name through `[source.fields]`.
struct Resolver<'c> {
    columns: &'c [SourceColumn],
    mapping: &'c BTreeMap<String, String>,
}

impl<'c> Resolver<'c> {
    fn get(&self, name: &str) -> Option<&'c SourceColumn> {
        let source = self.mapping.get(name).map_or(name, String::as_str);
        self.columns.iter().find(|c| c.name == source)
    }
}

/// A column name as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Plan {
    /// Whether the statement's rows say some row was rejected (and the
    /// samples are worth reading).
    pub fn any_rejected(&self, rows: &[Vec<Value>]) -> bool {
        rows.iter()
            .any(|row| number(row.get(self.labels)) == Some(REJECTED))
    }

    /// The check's result from the statement's `rows` and the `samples`
    /// (row number, reason code). `Err`: the counts cannot be trusted
    /// (an offer beyond the bound calendar): pull the rows instead.
    pub fn finish(
        self,
        rows: &[Vec<Value>],
        samples: &[Vec<Value>],
        data_time: DateTime<Utc>,
    ) -> Result<CheckResult, String> {
        let Rule::TimelyAccess(rule) = &self.check.rule else {
            return Err("not a timely_access check".to_owned());
        };
        let mut groups: HashMap<String, GroupAcc> = HashMap::new();
        let n = self.labels;
        for row in rows {
            let get = |i: usize| number(row.get(i));
            if matches!(row.get(n + 4), Some(Value::Bool(true))) {
                return Err(format!(
                    "a wait reaches beyond the business-day calendar bound to the statement \
                     ({CALENDAR_YEARS_AHEAD} years after the evaluation date)"
                ));
            }
            let key = super::row::join_key((0..n).map(|i| match row.get(i) {
                Some(Value::Text(text)) => text.as_str(),
                _ => crate::check::result::NO_LABEL,
            }));
            let wait = get(n + 2);
            let count = u64::try_from(get(n + 5).unwrap_or(0)).unwrap_or(0);
            let open_sum = get(n + 6).unwrap_or(0);
            let open_max = get(n + 7);
            let outcome = match get(n) {
                // Rows outside the window or the selection: counted by
                // nobody (they are not filtered in SQL, where a filter
                // would be pushed into the layers and computed again).
                Some(0) => continue,
                Some(BEFORE_EFFECTIVE) => Outcome::BeforeEffective,
                Some(REJECTED) => Outcome::Rejected(String::new()),
                Some(COMPLIANT) => Outcome::Compliant {
                    wait,
                    extended: matches!(row.get(n + 3), Some(Value::Bool(true))),
                },
                Some(NONCOMPLIANT) => Outcome::Noncompliant {
                    wait,
                    open_for: open_max,
                },
                Some(PENDING) => Outcome::Pending {
                    open_for: open_max.unwrap_or(0),
                },
                _ => return Err("the statement returned a row of no known kind".to_owned()),
            };
            groups
                .entry(key)
                .or_default()
                .count_many(outcome, count, open_sum);
        }
        let mut evaluator = Evaluator::new(
            std::slice::from_ref(&self.check),
            &self.header,
            &BTreeMap::new(),
            self.as_of,
        );
        let Evaluator { checks, reader, .. } = &mut evaluator;
        let Some(state) = checks.first_mut() else {
            return Err("not a timely_access check".to_owned());
        };
        for (key, acc) in groups {
            let number = reader.intern(state.labels, &key);
            *super::group_slot(&mut state.groups, number) = Some(acc);
        }
        state.rejected_samples = samples
            .iter()
            .filter_map(|row| {
                let line = u64::try_from(number(row.first())?).ok()?;
                let code = i32::try_from(number(row.get(1))?).ok()?;
                Some((line, reason(rule, &self.check, code)))
            })
            .take(SAMPLES)
            .collect();
        evaluator
            .finish(data_time)
            .pop()
            .ok_or_else(|| "no result".to_owned())
    }
}

fn number(value: Option<&Value>) -> Option<i64> {
    match value {
        Some(Value::Number(n)) => Some(*n as i64),
        _ => None,
    }
}

mod statement;

#[cfg(test)]
use statement::{business_day_counts, ceil_micros, epoch_day};

#[cfg(test)]
mod tests;
