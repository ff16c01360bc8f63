//! The text of a push-down statement: [`Writer`] writes the layers of
//! `SELECT … FROM (<query>) AS src` (or `FROM src`, a `WITH`) that read
//! each row's columns, code its values through the bound spellings,
//! classify it as the pull engine does and measure its wait, binding every
//! value as a parameter.

use super::*;

pub(super) struct Writer<'a> {
    pub(super) rule: &'a WaitRule,
    pub(super) check: &'a Check,
    pub(super) bound: usize,
    pub(super) params: Vec<SqlValue>,
    pub(super) whitespace: Option<String>,
    /// The trimmed texts of value columns, computed once per row in the
    /// statement's first layer (`t0`, `t1`, …) and coded in the next.
    pub(super) texts: Vec<String>,
}

/// A time column read three ways: the instant, whether the pull path
/// would read it as a timestamp, and its local date in the check's zone
/// (infinite when the column is).
struct TimeExprs {
    instant: String,
    valid: String,
    date: String,
    /// The local time read, for a `timestamp` or `date` column (whose
    /// `instant` is [`local_instant`] of it); `None` for `timestamptz`.
    local: Option<String>,
}

/// The instant of the local time `naive` in `zone`, read as the pull path
/// reads it (`timestamp::ZoneCache`). PostgreSQL takes the later of the
/// two instants of a repeated hour; the pull path the earlier one. A time
/// the clocks skip the pull path reads with the offset in force at the
/// instant whose UTC reading is the local time (the offset before the
/// change in zones west of UTC, after it in zones east).
fn local_instant(naive: &str, zone: &str) -> String {
    let p = format!("({naive} AT TIME ZONE {zone})");
    let as_utc = format!("({naive} AT TIME ZONE 'UTC')");
    format!(
        "(CASE WHEN (({p} - interval '1 hour') AT TIME ZONE {zone}) = {naive} \
         THEN {p} - interval '1 hour' \
         WHEN (({p} - interval '30 minutes') AT TIME ZONE {zone}) = {naive} \
         THEN {p} - interval '30 minutes' \
         WHEN ({p} AT TIME ZONE {zone}) <> {naive} \
         THEN {as_utc} - (({as_utc} AT TIME ZONE {zone}) - {naive}) \
         ELSE {p} END)"
    )
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
                    local: None,
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
        Ok(TimeExprs {
            instant: local_instant(&naive, zone),
            valid: format!("({naive} BETWEEN {low}::timestamp AND {high}::timestamp)"),
            date: format!("{naive}::date"),
            local: Some(naive),
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
    pub(super) fn rows(
        &mut self,
        column: &Resolver<'_>,
        as_of: DateTime<Utc>,
    ) -> Result<String, String> {
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
        // The instant of a local end time (a `timestamp` or `date` column)
        // takes several zone conversions: it is read only for the rows the
        // standard selects (`judged`, below), the only rows whose
        // classification reads it.
        let mut selected_end = None;
        match column.get(end_field.name()) {
            Some(col) => {
                let end = self.time(col, end_field, &zone)?;
                match end.local {
                    Some(local) => {
                        base.push(format!(
                            "{local} AS elocal, {} AS ev, {} AS edate",
                            end.valid, end.date
                        ));
                        selected_end = Some(local_instant("elocal", &zone));
                    }
                    None => base.push(format!(
                        "{} AS es, {} AS ev, {} AS edate",
                        end.instant, end.valid, end.date
                    )),
                }
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
            "SELECT {}\nFROM (SELECT {}\nFROM {SOURCE_PLACEHOLDER}) AS a0",
            select.join(",\n  "),
            base.join(",\n  "),
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
        // The end's instant, for a local end time: for a row the standard
        // does not select (`sel` 0 or below) the classification stops
        // before it reads `es`, and `ofr` is read only when it did not.
        let end_instant = match selected_end {
            Some(instant) if selected.is_empty() => format!("{instant} AS es, "),
            Some(instant) => {
                let all: Vec<String> = selected.iter().map(|(i, _)| format!("s{i} > 0")).collect();
                format!("CASE WHEN {} THEN {instant} END AS es, ", all.join(" AND "))
            }
            None => String::new(),
        };
        let judged = format!(
            "SELECT a.*, {end_instant}{sel} AS sel, {label_missing} AS lab, {effective} AS eff, {telehealth} AS tel, {}\nFROM ({per_row}) AS a",
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
pub(super) const QUERY_PLACEHOLDER: &str = "{query}";

/// Where the rows are read from, as `src`: the query as a subquery,
/// `(<query>) AS src`, in the main statement, and in the sampling
/// statement a materialized `WITH src` holding the query.
pub(super) const SOURCE_PLACEHOLDER: &str = "{source}";

/// Where each row's number goes: `row_number() OVER ()` in the sampling
/// statement, 0 in the main one (where numbering would serialize the scan).
pub(super) const LINE_PLACEHOLDER: &str = "{line}";

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
pub(super) fn business_day_counts(
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

pub(super) fn epoch_day(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - 719_163
}

fn day_date(day: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(719_163)?)
}

/// `time` rounded up to a whole microsecond, the server's precision.
pub(super) fn ceil_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    let below = time.timestamp_subsec_nanos() % 1000;
    if below == 0 {
        time
    } else {
        time + Duration::nanoseconds(i64::from(1000 - below))
    }
}

/// Keeps the server from merging a layer of the statement into the next
/// (PostgreSQL does not pull up a subquery with a set-returning function
/// in its select list): merged, every reference to a derived column would
/// compute it again, many times over in the deeper layers. Unlike
/// `OFFSET 0` it leaves the statement parallel-safe.
fn fence(layer: &str) -> String {
    format!("generate_series(1, 1) AS fence_{layer}")
}
