//! Business-day calendars: which dates count as business days, and how many business days
//! separate a request from the appointment offered for it. This module owns the holiday
//! presets (`us-federal`, `ca-state`, `weekdays`), the arithmetic of standards.md §4, and the
//! syntax of an operator's date file. It does no IO and never reads the clock: reading the
//! file, choosing the time zone and turning timestamps into dates are the caller's business.
//!
//! # Presets
//!
//! `us-federal` is the eleven holidays of 5 U.S.C. §6103: New Year's Day, Birthday of Martin
//! Luther King, Jr. (3rd Monday of January), Washington's Birthday (3rd Monday of February),
//! Memorial Day (last Monday of May), Juneteenth National Independence Day (June 19, from 2021
//! only), Independence Day, Labor Day (1st Monday of September), Columbus Day (2nd Monday of
//! October), Veterans Day (November 11), Thanksgiving Day (4th Thursday of November) and
//! Christmas Day. A holiday on a Saturday is observed the Friday before, one on a Sunday the
//! Monday after, so New Year's Day on a Saturday is observed on December 31 of the year before.
//! Today's rules are projected backwards: the table is for arithmetic, not history, so it does
//! not model when MLK Day or the Monday holidays began.
//!
//! `ca-state` is the days California state offices close, i.e. the CalHR paid-holiday
//! schedule, not the longer list of Government Code §6700: New Year's Day, Martin Luther King
//! Jr. Day (3rd Monday of January), Presidents' Day (3rd Monday of February), Cesar Chavez Day
//! (March 31), Memorial Day, Independence Day, Labor Day, Veterans Day, Thanksgiving Day, the
//! Day after Thanksgiving and Christmas Day. Per §6701 a fixed-date holiday on a Sunday is
//! observed the Monday after and, alone among them, Veterans Day on a Saturday is observed the
//! Friday before; any other Saturday holiday is not moved (employees get holiday credit and
//! offices are closed that day anyway). Left out: every Sunday, which §6700 also lists (no
//! weekend day is a business day anyway), and, because state offices stay open on them, Lunar
//! New Year, Lincoln Day (February 12), Genocide Remembrance Day (April 24), Juneteenth,
//! Admission Day (September 9), Native American Day (4th Friday of September), Columbus Day
//! (2nd Monday of October) and Good Friday from noon to 3 p.m. Juneteenth is in §6700 since AB 1655 (2022), but
//! like Lunar New Year and Native American Day it is a day state employees may take in lieu of
//! their personal holiday, not an office closure. Confidence: high for the eleven days and the
//! shift rules (seen in the §6700/§6701 text and in copies of the CalHR 2013, 2014 and 2024
//! schedules); medium for Juneteenth staying out in years after 2024, which was not seen in a
//! current CalHR schedule (AB 1655's digest says employees may "elect to take time off",
//! which is not a closure). Operators add any day to any preset with `holidays = [...]` or a
//! date file.
//!
//! `weekdays` is Monday to Friday with no holidays.

use std::fmt;
use std::sync::Arc;

use chrono::Weekday::{Mon, Thu};
use chrono::{Datelike, NaiveDate, Weekday};

use self::Shift::{NearestWeekday, SundayToMonday};

/// A named set of holidays that a calendar starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    UsFederal,
    CaState,
    Weekdays,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::UsFederal, Preset::CaState, Preset::Weekdays];

    /// The preset called `name` in configuration, e.g. "us-federal".
    pub fn parse(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|preset| preset.name() == name)
    }

    /// The days the preset closes, for `accesswatch standards`.
    pub fn describe(self) -> &'static str {
        match self {
            Preset::UsFederal => {
                "Monday to Friday less the eleven holidays of 5 U.S.C. §6103: New Year's Day, \
                 Martin Luther King Jr. Day (3rd Monday of January), Washington's Birthday (3rd \
                 Monday of February), Memorial Day (last Monday of May), Juneteenth (June 19, \
                 from 2021), Independence Day, Labor Day (1st Monday of September), Columbus Day \
                 (2nd Monday of October), Veterans Day (November 11), Thanksgiving (4th Thursday \
                 of November), Christmas Day; a Saturday holiday is observed the Friday before, a \
                 Sunday one the Monday after"
            }
            Preset::CaState => {
                "Monday to Friday less the days California state offices close (CalHR): New \
                 Year's Day, Martin Luther King Jr. Day, Presidents' Day, Cesar Chavez Day (March \
                 31), Memorial Day, Independence Day, Labor Day, Veterans Day, Thanksgiving, the \
                 day after Thanksgiving, Christmas Day; a Sunday holiday is observed the Monday \
                 after (Gov. Code §6701), Veterans Day on a Saturday the Friday before; not \
                 closed: Lunar New Year, Lincoln Day, Genocide Remembrance Day, Juneteenth, \
                 Admission Day, Native American Day, Columbus Day"
            }
            Preset::Weekdays => "Monday to Friday, no holidays",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Preset::UsFederal => "us-federal",
            Preset::CaState => "ca-state",
            Preset::Weekdays => "weekdays",
        }
    }

    fn rules(self) -> &'static [HolidayRule] {
        match self {
            Preset::UsFederal => &US_FEDERAL,
            Preset::CaState => &CA_STATE,
            Preset::Weekdays => &[],
        }
    }
}

/// Where in its year a holiday falls, before any weekend shift.
#[derive(Clone, Copy)]
enum When {
    Fixed { month: u32, day: u32 },
    Nth { month: u32, weekday: Weekday, n: u8 },
    Last { month: u32, weekday: Weekday },
    DayAfterNth { month: u32, weekday: Weekday, n: u8 },
}

/// How a holiday that falls on a weekend is moved to the day offices close.
#[derive(Clone, Copy)]
enum Shift {
    /// Saturday to the Friday before, Sunday to the Monday after (5 U.S.C. §6103(b)).
    NearestWeekday,
    /// Sunday to the Monday after; Saturday stays (Gov. Code §6701).
    SundayToMonday,
}

#[derive(Clone, Copy)]
struct HolidayRule {
    name: &'static str,
    when: When,
    shift: Shift,
    first_year: i32,
}

const fn rule(name: &'static str, when: When, shift: Shift) -> HolidayRule {
    HolidayRule {
        name,
        when,
        shift,
        first_year: i32::MIN,
    }
}

const fn fixed(month: u32, day: u32) -> When {
    When::Fixed { month, day }
}

const fn nth(month: u32, weekday: Weekday, n: u8) -> When {
    When::Nth { month, weekday, n }
}

const fn last(month: u32, weekday: Weekday) -> When {
    When::Last { month, weekday }
}

const fn day_after(month: u32, weekday: Weekday, n: u8) -> When {
    When::DayAfterNth { month, weekday, n }
}

const US_FEDERAL: [HolidayRule; 11] = [
    rule("New Year's Day", fixed(1, 1), NearestWeekday),
    rule(
        "Birthday of Martin Luther King, Jr.",
        nth(1, Mon, 3),
        NearestWeekday,
    ),
    rule("Washington's Birthday", nth(2, Mon, 3), NearestWeekday),
    rule("Memorial Day", last(5, Mon), NearestWeekday),
    // Juneteenth became a federal holiday on 2021-06-17, in time for its 2021 observance.
    HolidayRule {
        first_year: 2021,
        ..rule(
            "Juneteenth National Independence Day",
            fixed(6, 19),
            NearestWeekday,
        )
    },
    rule("Independence Day", fixed(7, 4), NearestWeekday),
    rule("Labor Day", nth(9, Mon, 1), NearestWeekday),
    rule("Columbus Day", nth(10, Mon, 2), NearestWeekday),
    rule("Veterans Day", fixed(11, 11), NearestWeekday),
    rule("Thanksgiving Day", nth(11, Thu, 4), NearestWeekday),
    rule("Christmas Day", fixed(12, 25), NearestWeekday),
];

const CA_STATE: [HolidayRule; 11] = [
    rule("New Year's Day", fixed(1, 1), SundayToMonday),
    rule("Martin Luther King Jr. Day", nth(1, Mon, 3), SundayToMonday),
    rule("Presidents' Day", nth(2, Mon, 3), SundayToMonday),
    rule("Cesar Chavez Day", fixed(3, 31), SundayToMonday),
    rule("Memorial Day", last(5, Mon), SundayToMonday),
    rule("Independence Day", fixed(7, 4), SundayToMonday),
    rule("Labor Day", nth(9, Mon, 1), SundayToMonday),
    // §6701 moves only Veterans Day off a Saturday.
    rule("Veterans Day", fixed(11, 11), NearestWeekday),
    rule("Thanksgiving Day", nth(11, Thu, 4), SundayToMonday),
    rule(
        "Day after Thanksgiving",
        day_after(11, Thu, 4),
        SundayToMonday,
    ),
    rule("Christmas Day", fixed(12, 25), SundayToMonday),
];

impl HolidayRule {
    /// The day offices close for this holiday of `year`; None before the holiday existed
    /// or where the date falls outside chrono's range.
    fn observed(&self, year: i32) -> Option<NaiveDate> {
        if year < self.first_year {
            return None;
        }
        let actual = match self.when {
            When::Fixed { month, day } => NaiveDate::from_ymd_opt(year, month, day),
            When::Nth { month, weekday, n } => {
                NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
            }
            When::Last { month, weekday } => {
                NaiveDate::from_weekday_of_month_opt(year, month, weekday, 5)
                    .or_else(|| NaiveDate::from_weekday_of_month_opt(year, month, weekday, 4))
            }
            When::DayAfterNth { month, weekday, n } => {
                NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)?.succ_opt()
            }
        }?;
        match (actual.weekday(), self.shift) {
            (Weekday::Sat, Shift::NearestWeekday) => actual.pred_opt(),
            (Weekday::Sun, _) => actual.succ_opt(),
            _ => Some(actual),
        }
    }
}

/// The dates covered by the precomputed table; outside it, answers are computed on demand.
const TABLE_FIRST: NaiveDate = constant_date(1900, 1, 1);
const TABLE_LAST: NaiveDate = constant_date(2199, 12, 31);

/// `TABLE_FIRST` as days since 1970-01-01.
const TABLE_FIRST_UNIX_DAY: i64 = -25_567;
const UNIX_EPOCH_DAY_FROM_CE: i32 = 719_163;

/// Builds a date from constants; an invalid one fails the build, never a running daemon.
const fn constant_date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

/// `counts[i]` is the number of business days in `TABLE_FIRST .. TABLE_FIRST + i days`, so a
/// count between two dates is one subtraction. A newtype so that `Debug` of a calendar (and of
/// any config holding one) prints a summary instead of 110,000 numbers; an `Arc` so that
/// cloning a calendar on config reload copies no table.
#[derive(Clone)]
struct CumulativeCounts(Arc<[i32]>);

impl fmt::Debug for CumulativeCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CumulativeCounts({} entries)", self.0.len())
    }
}

/// A preset's holidays plus the operator's extra dates, ready to count business days.
#[derive(Debug, Clone)]
pub struct Calendar {
    preset: Preset,
    /// Sorted and deduplicated, for binary search outside the table's range.
    extra: Vec<NaiveDate>,
    counts: CumulativeCounts,
}

impl Calendar {
    /// Whether `other` has the same non-business days (the same preset and
    /// extra dates).
    pub fn same_days(&self, other: &Calendar) -> bool {
        self.preset == other.preset && self.extra == other.extra
    }

    /// The preset's holidays plus `extra` dates (operator-added; a weekend date is harmless).
    pub fn new(preset: Preset, extra: &[NaiveDate]) -> Calendar {
        let mut extra = extra.to_vec();
        extra.sort_unstable();
        extra.dedup();
        let counts = if extra.is_empty() {
            preset_counts(preset)
        } else {
            build_counts(preset, &extra)
        };
        Calendar {
            preset,
            extra,
            counts,
        }
    }

    pub fn preset(&self) -> Preset {
        self.preset
    }

    /// Monday to Friday and neither a holiday of the preset nor an extra date.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        let counted = table_index(date).and_then(|index| {
            let before = self.counts.0.get(index)?;
            let after = self.counts.0.get(index + 1)?;
            Some(after > before)
        });
        counted.unwrap_or_else(|| {
            is_weekday(date)
                && self.extra.binary_search(&date).is_err()
                && !is_preset_holiday(self.preset, date)
        })
    }

    /// Number of business days d with from < d <= to: a same-day offer is 0, a Friday request
    /// offered the next Friday is 5. When to < from, the negative of business_days(to, from).
    /// O(1) for dates in 1900-01-01..=2199-12-31, slower but still correct outside.
    pub fn business_days(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.business_days(to, from);
        }
        match (self.count_through(from), self.count_through(to)) {
            (Some(through_from), Some(through_to)) => through_to - through_from,
            _ => self.business_days_untabled(from, to),
        }
    }

    /// [`Calendar::business_days`] between two dates given as days since
    /// 1970-01-01: the table's answer without making dates, for the
    /// million-row path.
    pub fn business_days_between(&self, from: i32, to: i32) -> i64 {
        let through = |day: i32| {
            let index = usize::try_from(i64::from(day) - TABLE_FIRST_UNIX_DAY).ok()?;
            self.counts.0.get(index + 1).map(|&count| i64::from(count))
        };
        match (through(from), through(to)) {
            (Some(through_from), Some(through_to)) => through_to - through_from,
            _ => {
                let date = |day: i32| {
                    NaiveDate::from_num_days_from_ce_opt(day + UNIX_EPOCH_DAY_FROM_CE)
                        .unwrap_or(NaiveDate::MIN)
                };
                self.business_days(date(from), date(to))
            }
        }
    }

    /// The preset's holidays observed in `year`, as (observed date, name), sorted by date.
    /// A holiday belongs to its own year even when observed in another: New Year's Day 2022
    /// (a Saturday) is listed under 2022 with the US-federal observed date 2021-12-31.
    pub fn holidays(year: i32, preset: Preset) -> Vec<(NaiveDate, &'static str)> {
        let mut holidays: Vec<_> = preset
            .rules()
            .iter()
            .filter_map(|rule| Some((rule.observed(year)?, rule.name)))
            .collect();
        holidays.sort_by_key(|&(date, _)| date);
        holidays
    }

    /// Business days in TABLE_FIRST..=date, when date is inside the table.
    fn count_through(&self, date: NaiveDate) -> Option<i64> {
        let index = table_index(date)?;
        self.counts.0.get(index + 1).map(|&count| i64::from(count))
    }

    /// Counts without the table, for dates outside it: weekdays by arithmetic, minus the
    /// holidays and extra dates that fall on a weekday in the span. Costs one holiday list per
    /// year spanned, not one step per day.
    fn business_days_untabled(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let in_span = |date: &NaiveDate| from < *date && *date <= to && is_weekday(*date);
        // A holiday's observed date can fall in the year before its own, hence `to.year() + 1`.
        // Observed dates of one preset never coincide (a test checks a full 400-year cycle),
        // so no holiday is subtracted twice.
        let holidays = (from.year()..=to.year().saturating_add(1))
            .flat_map(|year| Calendar::holidays(year, self.preset))
            .filter(|(date, _)| in_span(date))
            .count();
        let extras = self
            .extra
            .iter()
            .filter(|date| in_span(date) && !is_preset_holiday(self.preset, **date))
            .count();
        let closed = i64::try_from(holidays + extras).unwrap_or(i64::MAX);
        weekdays_through(to) - weekdays_through(from) - closed
    }
}

fn is_weekday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn is_preset_holiday(preset: Preset, date: NaiveDate) -> bool {
    [date.year(), date.year().saturating_add(1)]
        .into_iter()
        .any(|year| {
            Calendar::holidays(year, preset)
                .iter()
                .any(|&(day, _)| day == date)
        })
}

/// A signed count of weekdays from a fixed origin up to and including `date`; only
/// differences mean anything. Day 1 of chrono's common-era count, 0001-01-01, was a Monday, so
/// counting `days` days from the day before it makes every block of 7 start on a Monday.
fn weekdays_through(date: NaiveDate) -> i64 {
    let days = i64::from(date.num_days_from_ce());
    5 * days.div_euclid(7) + days.rem_euclid(7).min(5)
}

fn table_index(date: NaiveDate) -> Option<usize> {
    if date < TABLE_FIRST || date > TABLE_LAST {
        return None;
    }
    usize::try_from((date - TABLE_FIRST).num_days()).ok()
}

/// The table of a preset with no extra dates, built once per process:
/// eighty checks on the same calendar share one (building one is a few
/// milliseconds; a configuration can have hundreds of checks).
fn preset_counts(preset: Preset) -> CumulativeCounts {
    static TABLES: [std::sync::OnceLock<CumulativeCounts>; Preset::ALL.len()] =
        [const { std::sync::OnceLock::new() }; Preset::ALL.len()];
    let index = Preset::ALL.iter().position(|p| *p == preset).unwrap_or(0);
    TABLES[index]
        .get_or_init(|| build_counts(Preset::ALL[index], &[]))
        .clone()
}

fn build_counts(preset: Preset, extra: &[NaiveDate]) -> CumulativeCounts {
    let days = table_index(TABLE_LAST).map_or(0, |last| last + 1);
    // Monday to Friday by each day's place in the week, not a date per
    // day (300 years of `NaiveDate`s were most of the table's cost).
    let first = TABLE_FIRST.weekday().num_days_from_monday() as usize;
    let mut open: Vec<bool> = (0..days).map(|day| (first + day) % 7 < 5).collect();
    let holidays = (TABLE_FIRST.year()..=TABLE_LAST.year() + 1)
        .flat_map(|year| Calendar::holidays(year, preset))
        .map(|(date, _)| date);
    for date in holidays.chain(extra.iter().copied()) {
        if let Some(slot) = table_index(date).and_then(|index| open.get_mut(index)) {
            *slot = false;
        }
    }
    let mut counts = Vec::with_capacity(days + 1);
    let mut running = 0_i32;
    counts.push(running);
    for is_open in open {
        running += i32::from(is_open);
        counts.push(running);
    }
    CumulativeCounts(counts.into())
}

/// Parses a file of dates: one ISO date (YYYY-MM-DD) per line; blank lines and lines starting
/// with '#' ignored; a trailing "# comment" after a date allowed. A file with no dates is
/// valid (an operator may empty it rather than delete it). The error names the first bad line
/// only and says what to write instead.
pub fn parse_date_file(text: &str) -> Result<Vec<NaiveDate>, String> {
    // Editors on Windows may prepend a byte-order mark; it is not part of the first date.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut dates = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let content = line
            .split_once('#')
            .map_or(line, |(before, _)| before)
            .trim();
        if content.is_empty() {
            continue;
        }
        let date = parse_iso_date(content).map_err(|why| format!("line {}: {why}", index + 1))?;
        dates.push(date);
    }
    Ok(dates)
}

fn parse_iso_date(text: &str) -> Result<NaiveDate, String> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes
            .iter()
            .enumerate()
            .all(|(position, &byte)| match position {
                4 | 7 => byte == b'-',
                _ => byte.is_ascii_digit(),
            });
    if !shaped {
        if let Some((first, _)) = text.split_once(char::is_whitespace)
            && parse_iso_date(first).is_ok()
        {
            return Err(format!(
                "unexpected text after the date in {}; start a comment with '#'",
                quoted(text)
            ));
        }
        return Err(format!(
            "{} is not a date; write one date per line as YYYY-MM-DD, e.g. 2026-12-24",
            quoted(text)
        ));
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0_u32, |value, digit| value * 10 + u32::from(digit - b'0'))
    };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let year = i32::try_from(year).unwrap_or(i32::MAX);
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| no_such_day(text, year, month, day))
}

fn no_such_day(text: &str, year: i32, month: u32, day: u32) -> String {
    if !(1..=12).contains(&month) {
        return format!("{text} has month {month:02}; months run from 01 to 12");
    }
    let length = (28..=31)
        .rev()
        .find(|&last| NaiveDate::from_ymd_opt(year, month, last).is_some())
        .unwrap_or(28);
    format!("{text} does not exist: {year}-{month:02} has {length} days, not {day}")
}

/// The offending text, quoted and cut short so a binary file does not flood the message.
fn quoted(text: &str) -> String {
    const LIMIT: usize = 40;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn business_days_between_day_numbers_is_business_days() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!((TABLE_FIRST - epoch).num_days(), TABLE_FIRST_UNIX_DAY);
        let calendar = Calendar::new(Preset::UsFederal, &[constant_date(2026, 12, 24)]);
        let day = |d: NaiveDate| (d - epoch).num_days() as i32;
        let dates = [
            constant_date(1899, 12, 30),
            constant_date(1900, 1, 1),
            constant_date(1970, 1, 1),
            constant_date(2026, 11, 25),
            constant_date(2026, 12, 24),
            constant_date(2027, 1, 4),
            constant_date(2199, 12, 31),
            constant_date(2200, 1, 3),
        ];
        for from in dates {
            for to in dates {
                assert_eq!(
                    calendar.business_days_between(day(from), day(to)),
                    calendar.business_days(from, to),
                    "{from} {to}"
                );
            }
        }
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test dates are valid")
    }

    const US_NAMES: [&str; 11] = [
        "New Year's Day",
        "Birthday of Martin Luther King, Jr.",
        "Washington's Birthday",
        "Memorial Day",
        "Juneteenth National Independence Day",
        "Independence Day",
        "Labor Day",
        "Columbus Day",
        "Veterans Day",
        "Thanksgiving Day",
        "Christmas Day",
    ];

    const CA_NAMES: [&str; 11] = [
        "New Year's Day",
        "Martin Luther King Jr. Day",
        "Presidents' Day",
        "Cesar Chavez Day",
        "Memorial Day",
        "Independence Day",
        "Labor Day",
        "Veterans Day",
        "Thanksgiving Day",
        "Day after Thanksgiving",
        "Christmas Day",
    ];

    /// Observed us-federal dates, derived by hand from the rules and cross-checked with a
    /// separate program, in the order of `US_NAMES` (which is also date order).
    #[rustfmt::skip]
    const US_FEDERAL_2021_2030: [(i32, [&str; 11]); 10] = [
        (2021, ["2021-01-01", "2021-01-18", "2021-02-15", "2021-05-31", "2021-06-18", "2021-07-05",
                "2021-09-06", "2021-10-11", "2021-11-11", "2021-11-25", "2021-12-24"]),
        (2022, ["2021-12-31", "2022-01-17", "2022-02-21", "2022-05-30", "2022-06-20", "2022-07-04",
                "2022-09-05", "2022-10-10", "2022-11-11", "2022-11-24", "2022-12-26"]),
        (2023, ["2023-01-02", "2023-01-16", "2023-02-20", "2023-05-29", "2023-06-19", "2023-07-04",
                "2023-09-04", "2023-10-09", "2023-11-10", "2023-11-23", "2023-12-25"]),
        (2024, ["2024-01-01", "2024-01-15", "2024-02-19", "2024-05-27", "2024-06-19", "2024-07-04",
                "2024-09-02", "2024-10-14", "2024-11-11", "2024-11-28", "2024-12-25"]),
        (2025, ["2025-01-01", "2025-01-20", "2025-02-17", "2025-05-26", "2025-06-19", "2025-07-04",
                "2025-09-01", "2025-10-13", "2025-11-11", "2025-11-27", "2025-12-25"]),
        (2026, ["2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03",
                "2026-09-07", "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25"]),
        (2027, ["2027-01-01", "2027-01-18", "2027-02-15", "2027-05-31", "2027-06-18", "2027-07-05",
                "2027-09-06", "2027-10-11", "2027-11-11", "2027-11-25", "2027-12-24"]),
        (2028, ["2027-12-31", "2028-01-17", "2028-02-21", "2028-05-29", "2028-06-19", "2028-07-04",
                "2028-09-04", "2028-10-09", "2028-11-10", "2028-11-23", "2028-12-25"]),
        (2029, ["2029-01-01", "2029-01-15", "2029-02-19", "2029-05-28", "2029-06-19", "2029-07-04",
                "2029-09-03", "2029-10-08", "2029-11-12", "2029-11-22", "2029-12-25"]),
        (2030, ["2030-01-01", "2030-01-21", "2030-02-18", "2030-05-27", "2030-06-19", "2030-07-04",
                "2030-09-02", "2030-10-14", "2030-11-11", "2030-11-28", "2030-12-25"]),
    ];

    /// Observed ca-state dates, in the order of `CA_NAMES`.
    #[rustfmt::skip]
    const CA_STATE_YEARS: [(i32, [&str; 11]); 5] = [
        (2025, ["2025-01-01", "2025-01-20", "2025-02-17", "2025-03-31", "2025-05-26", "2025-07-04",
                "2025-09-01", "2025-11-11", "2025-11-27", "2025-11-28", "2025-12-25"]),
        // July 4 on a Saturday stays put.
        (2026, ["2026-01-01", "2026-01-19", "2026-02-16", "2026-03-31", "2026-05-25", "2026-07-04",
                "2026-09-07", "2026-11-11", "2026-11-26", "2026-11-27", "2026-12-25"]),
        // January 1 on a Sunday moves to Monday; Veterans Day on a Saturday moves to Friday.
        (2023, ["2023-01-02", "2023-01-16", "2023-02-20", "2023-03-31", "2023-05-29", "2023-07-04",
                "2023-09-04", "2023-11-10", "2023-11-23", "2023-11-24", "2023-12-25"]),
        // As in the CalHR 2024 schedule: Cesar Chavez Day (a Sunday) observed Monday April 1.
        (2024, ["2024-01-01", "2024-01-15", "2024-02-19", "2024-04-01", "2024-05-27", "2024-07-04",
                "2024-09-02", "2024-11-11", "2024-11-28", "2024-11-29", "2024-12-25"]),
        // January 1 on a Saturday stays put; December 25 on a Sunday moves to Monday.
        (2022, ["2022-01-01", "2022-01-17", "2022-02-21", "2022-03-31", "2022-05-30", "2022-07-04",
                "2022-09-05", "2022-11-11", "2022-11-24", "2022-11-25", "2022-12-26"]),
    ];

    fn check_holidays(preset: Preset, year: i32, names: &[&str], dates: &[&str]) {
        let dates = dates.iter().map(|text| date(text));
        let expected: Vec<_> = dates.zip(names.iter().copied()).collect();
        let listed = Calendar::holidays(year, preset);
        assert_eq!(listed, expected, "{} {year}", preset.name());
    }

    #[test]
    fn holiday_tables() {
        for (year, dates) in US_FEDERAL_2021_2030 {
            check_holidays(Preset::UsFederal, year, &US_NAMES, &dates);
        }
        for (year, dates) in CA_STATE_YEARS {
            check_holidays(Preset::CaState, year, &CA_NAMES, &dates);
        }
        check_holidays(Preset::Weekdays, 2026, &[], &[]);
    }

    #[test]
    fn juneteenth_starts_in_2021() {
        let holidays_2020 = Calendar::holidays(2020, Preset::UsFederal);
        let names: Vec<_> = holidays_2020.iter().map(|&(_, name)| name).collect();
        assert_eq!(names.len(), 10);
        assert!(!names.contains(&"Juneteenth National Independence Day"));
    }

    #[test]
    fn observed_new_year_in_the_year_before() {
        let federal = Calendar::new(Preset::UsFederal, &[]);
        let state = Calendar::new(Preset::CaState, &[]);
        assert!(!federal.is_business_day(date("2021-12-31")));
        assert!(state.is_business_day(date("2021-12-31")));
        assert!(!federal.is_business_day(date("2027-12-31")));
        // Outside the table: New Year's Day 2203 falls on a Saturday.
        assert!(!federal.is_business_day(date("2202-12-31")));
        assert!(state.is_business_day(date("2202-12-31")));
    }

    /// Observed dates of one preset never coincide over a full 400-year Gregorian cycle, so
    /// they never do; the untabled count relies on that.
    #[test]
    fn observed_dates_are_distinct() {
        for preset in Preset::ALL {
            let mut seen = HashSet::new();
            for year in 1900..=2300 {
                for (day, name) in Calendar::holidays(year, preset) {
                    assert!(
                        seen.insert(day),
                        "{} {year}: {name} on {day}",
                        preset.name()
                    );
                }
            }
        }
    }

    #[test]
    fn preset_names_round_trip() {
        for preset in Preset::ALL {
            assert_eq!(Preset::parse(preset.name()), Some(preset));
        }
        assert_eq!(Preset::parse("US-Federal"), None);
        assert_eq!(Preset::parse(""), None);
    }

    /// Counts business days one day at a time from the holiday lists, independently of the
    /// table and of the weekday arithmetic.
    fn reference_count(preset: Preset, extra: &[NaiveDate], from: NaiveDate, to: NaiveDate) -> i64 {
        let (low, high, sign) = if from <= to {
            (from, to, 1)
        } else {
            (to, from, -1)
        };
        let closed: HashSet<NaiveDate> = (low.year()..=high.year() + 1)
            .flat_map(|year| Calendar::holidays(year, preset))
            .map(|(day, _)| day)
            .chain(extra.iter().copied())
            .collect();
        let open = low
            .iter_days()
            .skip(1)
            .take_while(|day| *day <= high)
            .filter(|day| day.weekday().number_from_monday() <= 5 && !closed.contains(day))
            .count();
        sign * i64::try_from(open).expect("small count")
    }

    fn check(preset: Preset, extra: &[&str], from: &str, to: &str, expected: i64) {
        let extra: Vec<_> = extra.iter().map(|text| date(text)).collect();
        let calendar = Calendar::new(preset, &extra);
        let (from, to) = (date(from), date(to));
        let counted = calendar.business_days(from, to);
        assert_eq!(counted, expected, "{} {from} -> {to}", preset.name());
        let reference = reference_count(preset, &extra, from, to);
        assert_eq!(counted, reference, "reference {from} -> {to}");
        assert_eq!(
            calendar.business_days(to, from),
            -expected,
            "reversed {from} -> {to}"
        );
    }

    /// Expected counts come from the rules by hand for short spans and from a separate program
    /// for long ones; `check` also compares each with `reference_count`.
    #[rustfmt::skip]
    const BUSINESS_DAYS: &[(Preset, &[&str], &str, &str, i64)] = &[
        (Preset::UsFederal, &[], "2026-03-06", "2026-03-06", 0), // same day
        (Preset::UsFederal, &[], "2026-03-06", "2026-03-13", 5), // Friday to next Friday
        (Preset::UsFederal, &[], "2026-03-06", "2026-03-09", 1), // Friday to Monday
        (Preset::UsFederal, &[], "2026-03-07", "2026-03-09", 1), // Saturday to Monday
        (Preset::UsFederal, &[], "2026-03-07", "2026-03-08", 0), // Saturday to Sunday
        // Wednesday before Thanksgiving to the Monday after: the Friday counts federally.
        (Preset::UsFederal, &[], "2026-11-25", "2026-11-30", 2),
        (Preset::CaState, &[], "2026-11-25", "2026-11-30", 1),
        (Preset::Weekdays, &[], "2026-11-25", "2026-11-30", 3),
        // Across New Year: 2025-12-31 to 2026-01-02 skips January 1.
        (Preset::UsFederal, &[], "2025-12-31", "2026-01-02", 1),
        // New Year's Day 2022 is observed federally on Friday 2021-12-31, not by the state.
        (Preset::UsFederal, &[], "2021-12-30", "2022-01-03", 1),
        (Preset::CaState, &[], "2021-12-30", "2022-01-03", 2),
        // Extra dates: Christmas Eve closes; a Saturday and a duplicate holiday are harmless.
        (Preset::UsFederal, &[], "2026-12-23", "2026-12-28", 2),
        (Preset::UsFederal, &["2026-12-24", "2026-12-26", "2026-12-25"], "2026-12-23", "2026-12-28", 1),
        (Preset::Weekdays, &["2026-12-24"], "2026-12-23", "2026-12-28", 2),
        // A long span, spans across the table's edges, and spans far outside it.
        (Preset::UsFederal, &[], "2021-01-01", "2030-12-31", 2498),
        (Preset::CaState, &[], "1899-12-01", "1900-01-31", 40),
        (Preset::UsFederal, &[], "2199-12-01", "2200-01-31", 42),
        (Preset::UsFederal, &["2250-03-03", "2250-03-08"], "2250-01-01", "2250-12-31", 249),
        (Preset::CaState, &[], "1066-10-14", "1067-10-14", 250),
    ];

    #[test]
    fn business_days_examples() {
        for &(preset, extra, from, to, expected) in BUSINESS_DAYS {
            check(preset, extra, from, to, expected);
        }
    }

    #[test]
    fn business_days_match_reference_on_scattered_spans() {
        // A fixed xorshift walk over spans inside, across and outside the table.
        let base = date("1890-01-01");
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chrono::Duration::days(i64::try_from(state % bound).expect("bounded"))
        };
        let extra = [date("1999-12-31"), date("2150-07-07"), date("2203-01-05")];
        for preset in Preset::ALL {
            let calendar = Calendar::new(preset, &extra);
            for _ in 0..60 {
                let from = base + next(115_000);
                let to = from + next(2_000) - chrono::Duration::days(1_000);
                let expected = reference_count(preset, &extra, from, to);
                assert_eq!(calendar.business_days(from, to), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn is_business_day_agrees_inside_and_outside_the_table() {
        let extra = [date("2200-01-05")];
        let calendar = Calendar::new(Preset::UsFederal, &extra);
        for day in date("2199-12-20").iter_days().take(30) {
            let before = day.pred_opt().expect("in range");
            let open = reference_count(Preset::UsFederal, &extra, before, day) == 1;
            assert_eq!(calendar.is_business_day(day), open, "{day}");
        }
        assert!(!calendar.is_business_day(date("2200-01-05")));
        assert!(!calendar.is_business_day(date("2199-12-25")));
    }

    #[test]
    fn the_table_is_weekdays_less_holidays_over_its_whole_span() {
        // Every fifth day of the table's three centuries (every weekday
        // turns up: five and seven are coprime), against the dates read
        // one by one.
        for preset in Preset::ALL {
            let calendar = Calendar::new(preset, &[]);
            for day in TABLE_FIRST.iter_days().step_by(5) {
                if day > TABLE_LAST {
                    break;
                }
                let open = is_weekday(day) && !is_preset_holiday(preset, day);
                assert_eq!(calendar.is_business_day(day), open, "{preset:?} {day}");
            }
        }
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let calendar = Calendar::new(Preset::UsFederal, &[NaiveDate::MAX, NaiveDate::MIN]);
        let total = calendar.business_days(NaiveDate::MIN, NaiveDate::MAX);
        assert!(total > 0);
        assert_eq!(
            calendar.business_days(NaiveDate::MAX, NaiveDate::MIN),
            -total
        );
        assert!(!calendar.is_business_day(NaiveDate::MAX));
        assert!(!calendar.is_business_day(NaiveDate::MIN));
    }

    const NOT_A_DATE: &str =
        "is not a date; write one date per line as YYYY-MM-DD, e.g. 2026-12-24";

    fn check_file(text: &str, expected: Result<&[&str], String>) {
        let expected = expected.map(|dates| dates.iter().map(|text| date(text)).collect());
        assert_eq!(parse_date_file(text), expected, "{text:?}");
    }

    #[test]
    fn parse_date_file_examples() {
        let bad = |line: usize, why: &str| Err(format!("line {line}: {why}"));
        check_file("", Ok(&[]));
        check_file("# only comments\n\n   \n", Ok(&[]));
        check_file("2026-12-24", Ok(&["2026-12-24"]));
        let windows = "\u{feff}# closures\r\n2026-12-24  # Christmas Eve\r\n\r\n  2026-12-31\t\n";
        check_file(windows, Ok(&["2026-12-24", "2026-12-31"]));
        check_file(
            "2026-12-24\n2026/12/31\n",
            bad(2, &format!("\"2026/12/31\" {NOT_A_DATE}")),
        );
        let trailing =
            "unexpected text after the date in \"2026-12-24 Eve\"; start a comment with '#'";
        check_file("2026-12-24 Eve\n", bad(1, trailing));
        let february = "2026-02-30 does not exist: 2026-02 has 28 days, not 30";
        check_file("\n2026-02-30\n", bad(2, february));
        let leap = "2024-02-30 does not exist: 2024-02 has 29 days, not 30";
        check_file("2024-02-30", bad(1, leap));
        let month = "2026-13-01 has month 13; months run from 01 to 12";
        check_file("2026-13-01", bad(1, month));
        check_file("2026-1-5", bad(1, &format!("\"2026-1-5\" {NOT_A_DATE}")));
        check_file(
            "２０２６-01-01",
            bad(1, &format!("\"２０２６-01-01\" {NOT_A_DATE}")),
        );
        // Only the first bad line is reported, and a long one is cut short.
        check_file("x\ny\n", bad(1, &format!("\"x\" {NOT_A_DATE}")));
        let cut = format!("\"{}\"… {NOT_A_DATE}", "z".repeat(40));
        check_file(&"z".repeat(500), bad(1, &cut));
    }

    #[test]
    fn parse_date_file_with_many_lines() {
        let days: Vec<NaiveDate> = date("1900-01-01").iter_days().take(100_000).collect();
        let mut text: String = days.iter().map(|day| format!("{day}\n")).collect();
        assert_eq!(parse_date_file(&text), Ok(days));
        text.push_str("2026-02-29\n");
        let why = "line 100001: 2026-02-29 does not exist: 2026-02 has 28 days, not 29";
        assert_eq!(parse_date_file(&text), Err(why.to_owned()));
    }
}
