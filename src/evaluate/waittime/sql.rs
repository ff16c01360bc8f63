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
//! `GroupAcc::finish`, so the two paths share every judgement after the
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
//! calendar span bound to the statement.

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
        rows.replace(LINE_PLACEHOLDER, "0"),
        positions.join(", ")
    )
    .replace(QUERY_PLACEHOLDER, query);
    let samples = format!(
        "SELECT line, r FROM ({}) AS d\nWHERE CASE WHEN fence_d = 1 THEN k = {REJECTED} END\nORDER BY line\nLIMIT {SAMPLES}",
        rows.replace(LINE_PLACEHOLDER, "row_number() OVER ()")
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

/// Keeps the server from merging a layer of the statement into the next
/// (PostgreSQL does not pull up a subquery with a set-returning function
/// in its select list): merged, every reference to a derived column would
/// compute it again, many times over in the deeper layers. Unlike
/// `OFFSET 0` it leaves the statement parallel-safe.
fn fence(layer: &str) -> String {
    format!("generate_series(1, 1) AS fence_{layer}")
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

struct Writer<'a> {
    rule: &'a WaitRule,
    check: &'a Check,
    bound: usize,
    params: Vec<SqlValue>,
    whitespace: Option<String>,
    /// The trimmed texts of value columns, computed once per row in the
    /// statement's first layer (`t0`, `t1`, …) and coded in the next.
    texts: Vec<String>,
}

/// A time column read three ways: the instant, whether the pull path
/// would read it as a timestamp, and its local date in the check's zone
/// (infinite when the column is).
struct TimeExprs {
    instant: String,
    valid: String,
    date: String,
}

impl Writer<'_> {
    /// Binds `value` and returns its placeholder.
    fn bind(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        format!("${}", self.bound + self.params.len())
    }

    /// The characters Rust's `str::trim` removes, bound once.
    fn whitespace(&mut self) -> String {
        if let Some(placeholder) = &self.whitespace {
            return placeholder.clone();
        }
        let chars: String = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        let placeholder = self.bind(SqlValue::Text(chars));
        self.whitespace = Some(placeholder.clone());
        placeholder
    }

    /// The trimmed, non-empty text of a value column (`NULL` when empty).
    fn text(&mut self, column: &SourceColumn, what: &str) -> Result<String, String> {
        if !matches!(
            column.kind,
            ColumnKind::Text | ColumnKind::Boolean | ColumnKind::Integer
        ) {
            return Err(format!(
                "{what} is column {:?} of type {}: push-down reads text, enums, booleans and \
                 integers",
                column.name, column.type_name
            ));
        }
        if column.kind != ColumnKind::Text {
            // A boolean's or an integer's text has no blanks to trim.
            return Ok(format!("src.{}::text", ident(&column.name)));
        }
        let ws = self.whitespace();
        Ok(format!(
            "NULLIF(btrim(src.{}::text, {ws}), '')",
            ident(&column.name)
        ))
    }

    fn time(
        &mut self,
        column: &SourceColumn,
        field: Field,
        zone: &str,
    ) -> Result<TimeExprs, String> {
        let c = format!("src.{}", ident(&column.name));
        // The pull path reads only years 0 to 9999 (of the UTC text of a
        // `timestamptz`, of the local text of the others).
        let (first, last) = (first_instant(), last_instant());
        let naive = match column.kind {
            ColumnKind::Timestamptz => {
                let low = self.bind(SqlValue::Timestamptz(first.and_utc()));
                let high = self.bind(SqlValue::Timestamptz(last.and_utc()));
                return Ok(TimeExprs {
                    instant: c.clone(),
                    valid: format!("({c} BETWEEN {low}::timestamptz AND {high}::timestamptz)"),
                    date: format!("({c} AT TIME ZONE {zone})::date"),
                });
            }
            ColumnKind::Timestamp => c,
            ColumnKind::Date => format!("{c}::timestamp"),
            _ => {
                return Err(format!(
                    "`{}` is column {:?} of type {}: push-down reads timestamptz, timestamp or \
                     date columns",
                    field.name(),
                    column.name,
                    column.type_name
                ));
            }
        };
        let low = self.bind(SqlValue::Timestamp(first));
        let high = self.bind(SqlValue::Timestamp(last));
        // A local time read in the zone as the pull path reads it
        // (`timestamp::ZoneCache`). PostgreSQL takes the later of the two
        // instants of a repeated hour; the pull path the earlier one. A
        // time the clocks skip the pull path reads with the offset in force
        // at the instant whose UTC reading is the local time (the offset
        // before the change in zones west of UTC, after it in zones east).
        let p = format!("({naive} AT TIME ZONE {zone})");
        let as_utc = format!("({naive} AT TIME ZONE 'UTC')");
        let instant = format!(
            "(CASE WHEN (({p} - interval '1 hour') AT TIME ZONE {zone}) = {naive} \
             THEN {p} - interval '1 hour' \
             WHEN (({p} - interval '30 minutes') AT TIME ZONE {zone}) = {naive} \
             THEN {p} - interval '30 minutes' \
             WHEN ({p} AT TIME ZONE {zone}) <> {naive} \
             THEN {as_utc} - (({as_utc} AT TIME ZONE {zone}) - {naive}) \
             ELSE {p} END)"
        );
        Ok(TimeExprs {
            instant,
            valid: format!("({naive} BETWEEN {low}::timestamp AND {high}::timestamp)"),
            date: format!("{naive}::date"),
        })
    }

    /// A code per row for a value column: the code of its spelling, -1
    /// for a spelling not listed, -9 when empty.
    fn code(&mut self, text: &str, spellings: Vec<(String, i32)>) -> String {
        let var = format!("t{}", self.texts.len());
        self.texts.push(format!("{text} AS {var}"));
        let text = var;
        let (names, codes): (Vec<String>, Vec<i32>) = spellings.into_iter().unzip();
        let names = self.bind(SqlValue::TextArray(names));
        let codes = self.bind(SqlValue::IntArray(codes));
        format!(
            "(CASE WHEN {text} IS NULL THEN -9 ELSE COALESCE(({codes}::int4[])[array_position({names}::text[], {text})], -1) END)"
        )
    }

    /// The per-row statement body: one row per source row with its group
    /// labels `l0…`, kind `k`, reason `r`, wait `w`, extension `xt`, open
    /// wait `o` and `beyond`. [`LINE_PLACEHOLDER`] stands for the row number.
    fn rows(&mut self, column: &Resolver<'_>, as_of: DateTime<Utc>) -> Result<String, String> {
        let rule = self.rule;
        let check = self.check;
        let values = rule.values.clone();
        let zone = self.bind(SqlValue::Text(rule.time_zone.name().to_owned()));
        // The first layer reads the columns (labels, times, trimmed texts);
        // the second codes them.
        let mut base: Vec<String> = Vec::new();
        let mut select: Vec<String> = vec!["a0.*".to_owned()];
        for (index, label) in check.group_by.iter().enumerate() {
            let col = column
                .get(label)
                .ok_or_else(|| format!("no column for `{label}`"))?;
            let text = self.text(col, &format!("`{label}` (group_by)"))?;
            base.push(format!("{text} AS l{index}"));
        }
        let clock_field = rule.clock_field();
        let clock_col = column
            .get(clock_field.name())
            .ok_or_else(|| format!("no column for `{}`", clock_field.name()))?;
        let clock = self.time(clock_col, clock_field, &zone)?;
        base.push(format!(
            "{} AS cs, {} AS cv, {} AS cdate",
            clock.instant, clock.valid, clock.date
        ));
        select.push("CASE WHEN cv THEN cdate - DATE '1970-01-01' END AS cd".to_owned());
        let end_field = rule.end_field();
        match column.get(end_field.name()) {
            Some(col) => {
                let end = self.time(col, end_field, &zone)?;
                base.push(format!(
                    "{} AS es, {} AS ev, {} AS edate",
                    end.instant, end.valid, end.date
                ));
                select.push("CASE WHEN ev THEN edate - DATE '1970-01-01' END AS ed".to_owned());
            }
            None => {
                base.push("NULL::timestamptz AS es, NULL::boolean AS ev".to_owned());
                select.push("NULL::int4 AS ed".to_owned());
            }
        }
        // Selection: one code per selected field.
        let s = &rule.selection;
        let mut selected: Vec<(usize, String)> = Vec::new();
        if let Some(wanted) = s.urgency {
            let spellings = spellings(
                &values,
                Field::Urgency,
                Urgency::ALL.iter().map(|u| u.as_str()),
                |t| Urgency::parse(t).map(|u| i32::from(u == wanted)),
            );
            selected.push((0, self.value_code(column, Field::Urgency, spellings)?));
        }
        if let Some(wanted) = s.visit_type {
            let spellings = spellings(
                &values,
                Field::VisitType,
                VisitType::ALL.iter().map(|u| u.as_str()),
                |t| VisitType::parse(t).map(|u| i32::from(u == wanted)),
            );
            selected.push((1, self.value_code(column, Field::VisitType, spellings)?));
        }
        if let Some(wanted) = s.prior_auth {
            let spellings = spellings(&values, Field::PriorAuth, BOOL_SPELLINGS.into_iter(), |t| {
                parse_bool(t).map(|b| i32::from(b == wanted))
            });
            selected.push((2, self.value_code(column, Field::PriorAuth, spellings)?));
        }
        // Provider type: 0 when not selected, else its 1-based place in
        // the selection, which indexes the effective dates.
        let mut effective = None;
        if !s.provider_types.is_empty() {
            let wanted = s.provider_types.clone();
            let spellings = spellings(
                &values,
                Field::ProviderType,
                ProviderType::ALL.iter().map(|u| u.as_str()),
                |t| {
                    ProviderType::parse(t).map(|p| {
                        wanted
                            .iter()
                            .position(|w| *w == p)
                            .map_or(0, |i| i32::try_from(i + 1).unwrap_or(0))
                    })
                },
            );
            selected.push((3, self.value_code(column, Field::ProviderType, spellings)?));
            let dates: Vec<i32> = wanted
                .iter()
                .map(|p| rule.effective_for(Some(*p)).map_or(i32::MIN, epoch_day))
                .collect();
            let dates = self.bind(SqlValue::IntArray(dates));
            effective = Some(format!("({dates}::int4[])[s3]"));
        }
        let effective = match effective {
            Some(e) => e,
            None => self.bind(SqlValue::Int(rule.effective.map(epoch_day))) + "::int4",
        };
        for (index, code) in &selected {
            select.push(format!("{code} AS s{index}"));
        }
        let extended = match column.get(Field::ExtendedByProvider.name()) {
            Some(col) => {
                let spellings = spellings(
                    &values,
                    Field::ExtendedByProvider,
                    BOOL_SPELLINGS.into_iter(),
                    |t| parse_bool(t).map(i32::from),
                );
                let text = self.text(col, "`extended_by_provider`")?;
                self.code(&text, spellings)
            }
            None => "-9".to_owned(),
        };
        select.push(format!("{extended} AS x"));
        for (name, field) in [("m", Field::Modality), ("rm", Field::RequestedModality)] {
            let code = match column.get(field.name()) {
                Some(col) => {
                    let spellings = spellings(
                        &values,
                        field,
                        Modality::ALL.iter().map(|m| m.as_str()),
                        |t| Modality::parse(t).map(|m| i32::from(m == Modality::Telehealth)),
                    );
                    let text = self.text(col, &format!("`{}`", field.name()))?;
                    self.code(&text, spellings)
                }
                None => "-9".to_owned(),
            };
            select.push(format!("{code} AS {name}"));
        }
        base.append(&mut self.texts);
        base.push(format!("{LINE_PLACEHOLDER} AS line"));
        base.push(fence("a0"));
        select.push(fence("a"));
        let per_row = format!(
            "SELECT {}\nFROM (SELECT {}\nFROM (\n{}\n) AS src) AS a0",
            select.join(",\n  "),
            base.join(",\n  "),
            QUERY_PLACEHOLDER
        );

        // Selection: >0 applies, 0 does not, <0 rejected with reason −sel.
        let mut sel = String::from("CASE");
        for (index, _) in &selected {
            let empty = SELECTED_EMPTY + 2 * i32::try_from(*index).unwrap_or(0);
            let _ = write!(
                sel,
                " WHEN s{index} = -9 THEN {} WHEN s{index} = -1 THEN {} WHEN s{index} = 0 THEN 0",
                -empty,
                -(empty + 1)
            );
        }
        sel.push_str(" ELSE 1 END");
        if selected.is_empty() {
            sel = "1".to_owned();
        }
        let label_missing = if check.require_labels && !check.group_by.is_empty() {
            let mut text = String::from("CASE");
            for index in 0..check.group_by.len() {
                let _ = write!(
                    text,
                    " WHEN l{index} IS NULL THEN {}",
                    LABEL_EMPTY + index as i32
                );
            }
            text + " END"
        } else {
            "NULL::int4".to_owned()
        };
        let counts = match rule.telehealth {
            Telehealth::Counts => "1",
            Telehealth::UnlessInPersonRequested => "CASE WHEN rm = 0 THEN 0 ELSE 1 END",
            Telehealth::MemberChoice => "CASE WHEN rm = 1 THEN 1 ELSE 0 END",
            Telehealth::DoesNotCount => "0",
        };
        let telehealth = format!(
            "CASE WHEN m = -9 OR m = 0 THEN 1 WHEN m = -1 THEN -{MODALITY_UNKNOWN} \
             WHEN rm = -1 THEN -{REQUESTED_MODALITY_UNKNOWN} ELSE {counts} END"
        );
        let judged = format!(
            "SELECT a.*, {sel} AS sel, {label_missing} AS lab, {effective} AS eff, {telehealth} AS tel, {}\nFROM ({per_row}) AS a",
            fence("b")
        );

        // Window, with the evaluation time to the microsecond the server
        // keeps, and the nanoseconds below it added where waits are exact.
        let window_start = ceil_micros(as_of - rule.window);
        let ws = self.bind(SqlValue::Timestamptz(window_start));
        let asof = self.bind(SqlValue::Timestamptz(as_of));
        let frac = i64::from(as_of.timestamp_subsec_nanos() % 1000);
        let mut zone_cache = ZoneCache::new(rule.time_zone);
        let as_of_day = zone_cache.stamp(as_of.timestamp()).local_day;
        let window_day = zone_cache.stamp(window_start.timestamp()).local_day;
        let clock_empty = if clock_field == Field::RequestedAt {
            REJECTED.to_string()
        } else {
            format!("CASE WHEN sel > 0 THEN {REJECTED} ELSE 0 END")
        };
        let pre = format!(
            "CASE WHEN lab IS NOT NULL THEN {REJECTED} \
             WHEN cs IS NULL THEN {clock_empty} \
             WHEN NOT cv THEN {REJECTED} \
             WHEN cs < {ws} OR cs > {asof} THEN 0 \
             WHEN sel = 0 THEN 0 \
             WHEN sel < 0 THEN {REJECTED} \
             WHEN cd < eff THEN {BEFORE_EFFECTIVE} \
             WHEN x = -1 THEN {REJECTED} \
             WHEN es IS NOT NULL AND NOT ev THEN {REJECTED} \
             WHEN es IS NOT NULL AND es < cs THEN {REJECTED} \
             WHEN tel < 0 THEN {REJECTED} END"
        );
        let why = format!(
            "CASE WHEN lab IS NOT NULL THEN lab \
             WHEN cs IS NULL THEN {CLOCK_EMPTY} \
             WHEN NOT cv THEN {CLOCK_NOT_TIMESTAMP} \
             WHEN cs < {ws} OR cs > {asof} THEN NULL \
             WHEN sel = 0 THEN NULL \
             WHEN sel < 0 THEN -sel \
             WHEN cd < eff THEN NULL \
             WHEN x = -1 THEN {EXTENDED_NOT_BOOLEAN} \
             WHEN es IS NOT NULL AND NOT ev THEN {END_NOT_TIMESTAMP} \
             WHEN es IS NOT NULL AND es < cs THEN {END_BEFORE_CLOCK} \
             WHEN tel < 0 THEN -tel END"
        );
        let offered = format!(
            "SELECT b.*, {pre} AS pre, {why} AS why, \
             CASE WHEN tel = 1 THEN es END AS ofr, CASE WHEN tel = 1 THEN ed END AS ofd, {}\nFROM ({judged}) AS b",
            fence("c")
        );

        // Waits in ticks, and whether they are past the limit.
        let (wait, open, past_offer, past_open) = match rule.unit {
            Unit::BusinessDays | Unit::CalendarDays => {
                let limit = self.bind(SqlValue::Float(rule.limit));
                let asof_day = self.bind(SqlValue::Int(Some(as_of_day)));
                let (wait, open) = if rule.unit == Unit::CalendarDays {
                    ("(ofd - cd)".to_owned(), format!("({asof_day} - cd)"))
                } else {
                    let base = window_day - 2;
                    let last = as_of_day + i32::try_from(CALENDAR_YEARS_AHEAD * 366).unwrap_or(0);
                    let cumulative = business_day_counts(&rule.calendar, base, last);
                    let cum = self.bind(SqlValue::IntArray(cumulative));
                    let base_param = self.bind(SqlValue::Int(Some(base)));
                    let at = |day: &str| format!("({cum}::int4[])[{day} - {base_param}::int4 + 1]");
                    (
                        format!("({} - {})", at("ofd"), at("cd")),
                        format!("({} - {})", at(&format!("{asof_day}::int4")), at("cd")),
                    )
                };
                let past_offer = format!("({wait})::float8 > {limit}::float8");
                let past_open = format!("({open})::float8 > {limit}::float8");
                (wait, open, past_offer, past_open)
            }
            Unit::Minutes | Unit::Hours => {
                let seconds = if rule.unit == Unit::Minutes {
                    60.0
                } else {
                    3600.0
                };
                let limit_nanos = (rule.limit * seconds * 1e9).round() as i64;
                let limit = self.bind(SqlValue::BigInt(limit_nanos));
                let frac = self.bind(SqlValue::BigInt(frac));
                let tick = if rule.unit == Unit::Minutes {
                    "1000000000"
                } else {
                    "60000000000"
                };
                let nanos = |end: &str, extra: &str| {
                    format!(
                        "((EXTRACT(EPOCH FROM {end}) - EXTRACT(EPOCH FROM cs)) * 1000000000 + {extra})"
                    )
                };
                let offer_nanos = nanos("ofr", "0");
                let open_nanos = nanos(&format!("{asof}::timestamptz"), &format!("{frac}::int8"));
                (
                    format!("floor({offer_nanos} / {tick})::int8"),
                    format!("floor({open_nanos} / {tick})::int8"),
                    format!("{offer_nanos} > {limit}::int8"),
                    format!("{open_nanos} > {limit}::int8"),
                )
            }
        };
        let kind = format!(
            "CASE WHEN pre IS NOT NULL THEN pre \
             WHEN x = 1 THEN {COMPLIANT} \
             WHEN ofr IS NOT NULL AND {past_offer} THEN {NONCOMPLIANT} \
             WHEN ofr IS NOT NULL THEN {COMPLIANT} \
             WHEN {past_open} THEN {NONCOMPLIANT} \
             ELSE {PENDING} END"
        );
        let labels: String = (0..check.group_by.len())
            .map(|i| format!("l{i}, "))
            .collect();
        let classified = format!(
            "SELECT {labels}line, {kind} AS k, why AS r, \
             CASE WHEN pre IS NULL AND ofr IS NOT NULL THEN {wait} END AS w0, \
             CASE WHEN pre IS NULL AND ofr IS NULL THEN {open} END AS o0, (x = 1) AS x1, ofr, {}\nFROM ({offered}) AS c",
            fence("d")
        );
        Ok(format!(
            "SELECT {labels}line, k, CASE WHEN k = {REJECTED} THEN r END AS r, \
             CASE WHEN k IN ({COMPLIANT}, {NONCOMPLIANT}) THEN w0 END AS w, \
             CASE WHEN k = {COMPLIANT} THEN x1 END AS xt, \
             CASE WHEN k IN ({NONCOMPLIANT}, {PENDING}) THEN o0 END AS o, \
             (k IN ({COMPLIANT}, {NONCOMPLIANT}) AND ofr IS NOT NULL AND w0 IS NULL) \
             OR (k IN ({NONCOMPLIANT}, {PENDING}) AND ofr IS NULL AND o0 IS NULL) AS beyond, fence_d\n\
             FROM ({classified}) AS e"
        ))
    }

    fn value_code(
        &mut self,
        column: &Resolver<'_>,
        field: Field,
        spellings: Vec<(String, i32)>,
    ) -> Result<String, String> {
        let col = column
            .get(field.name())
            .ok_or_else(|| format!("no column for `{}`", field.name()))?;
        let text = self.text(col, &format!("`{}`", field.name()))?;
        Ok(self.code(&text, spellings))
    }
}

/// Where the source's query goes in the statement text; replaced last,
/// once every other part is written.
const QUERY_PLACEHOLDER: &str = "{query}";

/// Where each row's number goes: `row_number() OVER ()` in the sampling
/// statement, 0 in the main one (where numbering would serialize the scan).
const LINE_PLACEHOLDER: &str = "{line}";

/// Every spelling of `field`'s values that `parse` knows after
/// `[source.values]`, with its code: the canonical spellings not mapped
/// away, and the source's own.
fn spellings<'a>(
    values: &ValueMaps,
    field: Field,
    canonical: impl Iterator<Item = &'a str>,
    parse: impl Fn(&str) -> Option<i32>,
) -> Vec<(String, i32)> {
    let mut all: BTreeSet<&str> = canonical.collect();
    all.extend(values.spellings(field));
    all.into_iter()
        .filter_map(|text| parse(values.canonical(field, text)).map(|code| (text.to_owned(), code)))
        .collect()
}

/// Business days in (base, d] for every day d from base to last (days
/// since 1970-01-01): `cum[d − base + 1]` in SQL's 1-based arrays.
fn business_day_counts(
    calendar: &crate::check::calendar::Calendar,
    base: i32,
    last: i32,
) -> Vec<i32> {
    let Some(from) = day_date(base) else {
        return Vec::new();
    };
    (base..=last)
        .map(|day| {
            day_date(day).map_or(0, |date| {
                i32::try_from(calendar.business_days(from, date)).unwrap_or(i32::MAX)
            })
        })
        .collect()
}

fn epoch_day(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - 719_163
}

fn day_date(day: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(719_163)?)
}

/// `time` rounded up to a whole microsecond, the server's precision.
fn ceil_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    let below = time.timestamp_subsec_nanos() % 1000;
    if below == 0 {
        time
    } else {
        time + Duration::nanoseconds(i64::from(1000 - below))
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
            let key = (0..n)
                .map(|i| match row.get(i) {
                    Some(Value::Text(text)) => text.as_str(),
                    _ => crate::check::result::NO_LABEL,
                })
                .collect::<Vec<_>>()
                .join("\u{1f}");
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
        let Some(state) = evaluator.checks.first_mut() else {
            return Err("not a timely_access check".to_owned());
        };
        state.groups = groups;
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

#[cfg(test)]
mod tests;
