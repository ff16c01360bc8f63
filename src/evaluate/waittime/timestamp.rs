//! Reading appointment timestamps fast: millions of rows each carry two or
//! three of them.
//!
//! Accepted forms: RFC 3339 with an offset or `Z` (`2026-11-02T09:15:00-08:00`,
//! fractions of a second allowed, `T` or a space between date and time);
//! the same without an offset, read as local time in the check's time
//! zone; and a bare date (`2026-11-02`), that day's start in the zone. A
//! [`Stamp`] keeps both the instant and the local date in the check's zone,
//! since waits in days are counted between local dates.
//!
//! The hot path parses the digits by hand and looks up the zone's UTC
//! offset per UTC day in a table indexed by the day ([`ZoneCache`]),
//! instead of searching the zone's transitions for every row. Pure: no
//! clock, no IO.

use chrono::{NaiveDate, NaiveDateTime, Offset as _, TimeZone as _};
use chrono_tz::Tz;

/// An instant (seconds since the Unix epoch, UTC, and the nanoseconds of
/// the second, kept so that a wait a fraction of a second past a limit in
/// hours is past it) and its local date in the check's zone (days since
/// 1970-01-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub utc: i64,
    pub nanos: u32,
    pub local_day: i32,
}

impl Stamp {
    /// Nanoseconds from `self` to `later` (negative when `later` is
    /// earlier).
    pub fn nanos_until(self, later: Stamp) -> i128 {
        (i128::from(later.utc) - i128::from(self.utc)) * 1_000_000_000
            + (i128::from(later.nanos) - i128::from(self.nanos))
    }

    /// The instant alone (seconds, nanoseconds), to order stamps by.
    pub fn instant(self) -> (i64, u32) {
        (self.utc, self.nanos)
    }

    /// The same stamp with the fraction of its second.
    pub fn with_nanos(self, nanos: u32) -> Stamp {
        Stamp { nanos, ..self }
    }

    pub fn local_date(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.local_day + UNIX_EPOCH_DAY_FROM_CE)
            .unwrap_or(NaiveDate::MIN)
    }
}

const UNIX_EPOCH_DAY_FROM_CE: i32 = 719_163;

/// The day number of `date` (days since 1970-01-01), as in
/// [`Stamp::local_day`].
pub fn day_number(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAY_FROM_CE
}

/// UTC offsets of one zone, cached per UTC day in a table indexed by the
/// day, about eleven years around the first instant asked for: a lookup
/// is an index into 16 KiB, not a hash (nor a search of the zone's
/// transitions). A day is cached when the zone keeps one offset all day
/// (read at five instants of it, six hours apart and its last second:
/// no zone changes its offset twice in a day); on the days of a change,
/// and outside the table, the offset is computed each time.
#[derive(Debug, Clone)]
pub struct ZoneCache {
    zone: Tz,
    /// The day of `days[0]`.
    base: i64,
    /// Seconds east of UTC all day, `UNKNOWN` where not read yet, or
    /// `CHANGES` on a day the offset changes; empty until the first
    /// lookup.
    days: Vec<i32>,
}

/// Days in the table (2^12: 11.2 years, 16 KiB).
const TABLE: i64 = 1 << 12;
const UNKNOWN: i32 = i32::MIN;
const CHANGES: i32 = i32::MIN + 1;

impl ZoneCache {
    pub fn new(zone: Tz) -> ZoneCache {
        ZoneCache {
            zone,
            base: 0,
            days: Vec::new(),
        }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Seconds east of UTC in the zone at the instant `utc`.
    #[inline]
    fn offset_at(&mut self, utc: i64) -> i32 {
        let day = utc.div_euclid(86_400);
        if self.days.is_empty() {
            self.base = day - TABLE / 2;
            self.days = vec![UNKNOWN; TABLE as usize];
        }
        let Some(index) = usize::try_from(day - self.base)
            .ok()
            .filter(|i| *i < self.days.len())
        else {
            return self.computed(utc);
        };
        match self.days[index] {
            UNKNOWN => {
                let start = day * 86_400;
                let offset = self.computed(start);
                let same = [6 * 3600, 12 * 3600, 18 * 3600, 86_399]
                    .into_iter()
                    .all(|second| self.computed(start + second) == offset);
                self.days[index] = if same { offset } else { CHANGES };
                if same { offset } else { self.computed(utc) }
            }
            CHANGES => self.computed(utc),
            offset => offset,
        }
    }

    /// The offset at `utc`, from the zone's rules.
    fn computed(&self, utc: i64) -> i32 {
        chrono::DateTime::from_timestamp(utc, 0)
            .map(|t| {
                self.zone
                    .offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc()
            })
            .unwrap_or(0)
    }

    /// The stamp of an instant.
    #[inline]
    pub fn stamp(&mut self, utc: i64) -> Stamp {
        let local = utc + i64::from(self.offset_at(utc));
        Stamp {
            utc,
            nanos: 0,
            local_day: local.div_euclid(86_400) as i32,
        }
    }

    /// The stamp of a local wall-clock time. In the hour repeated on the
    /// fall-back day the earlier instant is taken; a time skipped by the
    /// spring-forward jump is read with the offset in force before it.
    fn stamp_local(&mut self, local: NaiveDateTime) -> Option<Stamp> {
        let utc = match self.zone.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => t.timestamp(),
            chrono::LocalResult::Ambiguous(early, _) => early.timestamp(),
            chrono::LocalResult::None => {
                let before = self.zone.offset_from_utc_datetime(&local).fix();
                local.and_utc().timestamp() - i64::from(before.local_minus_utc())
            }
        };
        Some(Stamp {
            utc,
            nanos: 0,
            local_day: days_from_civil(local.year(), local.month(), local.day()),
        })
    }
}

/// Days from 1970-01-01 to a valid date from year -2000 on (H. Hinnant's
/// `days_from_civil` on years moved 2,000 later, five whole 400-year
/// eras, so that the arithmetic is unsigned: integer arithmetic only;
/// chrono's own conversions were a tenth of reading a timestamp).
#[inline]
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    const SHIFT_YEARS: i32 = 2000;
    const SHIFT_DAYS: i32 = 5 * 146_097;
    let year = (year + SHIFT_YEARS) as u32 - u32::from(month <= 2);
    let era = year / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era) as i32 - 719_468 - SHIFT_DAYS
}

use chrono::Datelike as _;

/// Parses `text` in one of the accepted forms; `None` if it is none of them.
/// Whether it is one does not depend on the zone (which only places a
/// time without an offset).
pub fn parse(text: &str, cache: &mut ZoneCache) -> Option<Stamp> {
    let text = super::columns::trim(text);
    match exact(text.as_bytes()) {
        Exact::Utc(utc) => Some(cache.stamp(utc)),
        Exact::Invalid => None,
        Exact::Other => parse_any(text, cache),
    }
}

/// What [`exact`] made of a timestamp.
enum Exact {
    /// The instant, in seconds.
    Utc(i64),
    /// Not a timestamp.
    Invalid,
    /// Not of the usual form: read by [`parse_any`].
    Other,
}

/// The usual form, `YYYY-MM-DDTHH:MM:SS` and `Z` or `±HH:MM` (what most
/// systems write), read at fixed places: the length tells the offset's
/// form, and the fourteen digits are tested together rather than one by
/// one as they are read (a quarter of a pass over one check's rows went
/// to reading timestamps). Gives what [`parse_any`] would (the test
/// `exact_form_reads_as_any_form` compares them).
fn exact(bytes: &[u8]) -> Exact {
    let (b, offset): (&[u8; 19], &[u8]) = match bytes.len() {
        20 | 25 => (bytes[..19].try_into().unwrap_or(&[0; 19]), &bytes[19..]),
        _ => return Exact::Other,
    };
    if !matches!(b[10], b'T' | b't' | b' ')
        || b[4] != b'-'
        || b[7] != b'-'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Exact::Other;
    }
    let d = |i: usize| u32::from(b[i].wrapping_sub(b'0'));
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    if digits.iter().fold(0, |bad, &i| bad | u32::from(d(i) > 9)) != 0 {
        return Exact::Invalid;
    }
    let east = match offset {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let o = |c: &u8| u32::from(c.wrapping_sub(b'0'));
            let (h1, h2, m1, m2) = (o(h1), o(h2), o(m1), o(m2));
            if h1 > 9 || h2 > 9 || m1 > 9 || m2 > 9 {
                return Exact::Invalid;
            }
            let (hours, minutes) = (h1 * 10 + h2, m1 * 10 + m2);
            if hours > 23 || minutes > 59 {
                return Exact::Invalid;
            }
            let east = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' { -east } else { east }
        }
        _ => return Exact::Other,
    };
    let year = (d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3)) as i32;
    let (month, day) = (d(5) * 10 + d(6), d(8) * 10 + d(9));
    let (hour, minute) = (d(11) * 10 + d(12), d(14) * 10 + d(15));
    // A leap second (60, and no more, as RFC 3339 has it) is read as the
    // last second of its minute.
    let second = d(17) * 10 + d(18);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Exact::Invalid;
    }
    let wall = i64::from(days_from_civil(year, month, day)) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second.min(59));
    Exact::Utc(wall - east)
}

/// The days of `month` (1 to 12) of `year`.
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parses `text` (trimmed) in any of the accepted forms.
fn parse_any(text: &str, cache: &mut ZoneCache) -> Option<Stamp> {
    let bytes = text.as_bytes();
    let (year, month, day) = parse_date(bytes.get(..10)?)?;
    let date = || NaiveDate::from_ymd_opt(year, month, day);
    if bytes.len() == 10 {
        return cache.stamp_local(date()?.and_hms_opt(0, 0, 0)?);
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    let (hour, minute) = (two(bytes, 11)?, two_after(bytes, 13, b':')?);
    let (second, mut rest) = match bytes.get(16) {
        Some(b':') => (two(bytes, 17)?, 19),
        _ => (0, 16),
    };
    let mut nanos = 0u32;
    if matches!(bytes.get(rest), Some(b'.' | b',')) {
        rest += 1;
        let digits = bytes[rest..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        // Nanoseconds from the first nine digits; further digits are
        // below what anything measures.
        for position in 0..9 {
            let digit = bytes[rest..rest + digits]
                .get(position)
                .map_or(0, |b| u32::from(b - b'0'));
            nanos = nanos * 10 + digit;
        }
        rest += digits;
    }
    // A leap second (60, and no more) is read as the last second of its
    // minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let second = second.min(59);
    // The wall-clock time as if it were UTC, without chrono's checks
    // (done above and in `parse_date`): the hot path.
    let wall = i64::from(days_from_civil(year, month, day)) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second);
    let stamp = match &bytes[rest..] {
        [] => cache.stamp_local(date()?.and_hms_opt(hour, minute, second)?),
        [b'Z' | b'z'] => Some(cache.stamp(wall)),
        [sign @ (b'+' | b'-'), offset @ ..] => {
            let (hours, minutes) = match offset {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (digit2(*h1, *h2)?, digit2(*m1, *m2)?),
                [h1, h2] => (digit2(*h1, *h2)?, 0),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let east = i64::from(hours * 3600 + minutes * 60);
            let east = if *sign == b'-' { -east } else { east };
            Some(cache.stamp(wall - east))
        }
        _ => None,
    };
    stamp.map(|s| s.with_nanos(nanos))
}

/// A valid `YYYY-MM-DD` date as (year, month, day).
fn parse_date(bytes: &[u8]) -> Option<(i32, u32, u32)> {
    let [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] = bytes else {
        return None;
    };
    let year = (digit2(*y1, *y2)? * 100 + digit2(*y3, *y4)?) as i32;
    let (month, day) = (digit2(*m1, *m2)?, digit2(*d1, *d2)?);
    if !(1..=12).contains(&month) {
        return None;
    }
    (1..=days_in_month(year, month))
        .contains(&day)
        .then_some((year, month, day))
}

fn digit2(a: u8, b: u8) -> Option<u32> {
    if a.is_ascii_digit() && b.is_ascii_digit() {
        Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
    } else {
        None
    }
}

fn two(bytes: &[u8], at: usize) -> Option<u32> {
    digit2(*bytes.get(at)?, *bytes.get(at + 1)?)
}

fn two_after(bytes: &[u8], at: usize, separator: u8) -> Option<u32> {
    if *bytes.get(at)? != separator {
        return None;
    }
    two(bytes, at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses in Los Angeles time and shows the instant (RFC 3339, UTC)
    /// and the local date, or "none".
    fn check(text: &str, expected: &str) {
        let mut cache = ZoneCache::new(chrono_tz::America::Los_Angeles);
        let got = match parse(text, &mut cache) {
            Some(stamp) => format!(
                "{} {}",
                chrono::DateTime::from_timestamp(stamp.utc, 0)
                    .unwrap()
                    .to_rfc3339(),
                stamp.local_date()
            ),
            None => "none".to_owned(),
        };
        assert_eq!(got, expected, "{text:?}");
    }

    #[test]
    fn offsets_and_zulu() {
        check(
            "2026-11-02T09:15:00-08:00",
            "2026-11-02T17:15:00+00:00 2026-11-02",
        );
        check(
            "2026-11-02T17:15:00Z",
            "2026-11-02T17:15:00+00:00 2026-11-02",
        );
        // Late evening UTC is still the previous day in Los Angeles.
        check(
            "2026-11-03T05:00:00Z",
            "2026-11-03T05:00:00+00:00 2026-11-02",
        );
        check(
            "2026-11-03T05:00:00.123456Z",
            "2026-11-03T05:00:00+00:00 2026-11-02",
        );
        check(
            "2026-11-03 05:00:00+0000",
            "2026-11-03T05:00:00+00:00 2026-11-02",
        );
        check(
            "2026-11-03T05:00+01:00",
            "2026-11-03T04:00:00+00:00 2026-11-02",
        );
        check(
            "  2026-07-01T12:00:00-07:00 ",
            "2026-07-01T19:00:00+00:00 2026-07-01",
        );
        check(
            "2026-12-31T23:59:60Z",
            "2026-12-31T23:59:59+00:00 2026-12-31",
        );
    }

    #[test]
    fn local_times_and_dates_use_the_zone() {
        check(
            "2026-11-02T09:15:00",
            "2026-11-02T17:15:00+00:00 2026-11-02",
        );
        check(
            "2026-07-02T09:15:00",
            "2026-07-02T16:15:00+00:00 2026-07-02",
        );
        check("2026-11-02", "2026-11-02T08:00:00+00:00 2026-11-02");
        // 01:30 happens twice on 2026-11-01: the first (PDT) is taken.
        check(
            "2026-11-01T01:30:00",
            "2026-11-01T08:30:00+00:00 2026-11-01",
        );
        // 02:30 does not exist on 2026-03-08: read with the PST offset.
        check(
            "2026-03-08T02:30:00",
            "2026-03-08T10:30:00+00:00 2026-03-08",
        );
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for text in [
            "",
            "2026-13-45T10:00:00Z",
            "2026-02-30",
            "26-11-02",
            "2026/11/02",
            "2026-11-02T25:00:00Z",
            "2026-11-02T10:00:61Z",
            "2026-11-02T10:00:99",
            "2026-11-02 10:00:75+01:00",
            "2026-11-02T10:00:61.5-08:00",
            "2026-11-02T10:00:00+24:00",
            "2026-11-02T10:00:00 PST",
            "2026-11-02T10",
            "2026-11-02T10:00:00.Z",
            "yesterday",
            "2026-11-02X10:00:00Z",
            "2026-11-02T10:00:00+1",
        ] {
            check(text, "none");
        }
    }

    /// The usual form read at fixed places gives what the general reader
    /// gives: every byte of both exact lengths replaced by each byte that
    /// matters there, every date of four years at two times, and random
    /// mutations (proptest).
    #[test]
    fn exact_form_reads_as_any_form() {
        fn same(text: &str) {
            let (mut a, mut b) = (
                ZoneCache::new(Tz::America__Los_Angeles),
                ZoneCache::new(Tz::America__Los_Angeles),
            );
            assert_eq!(
                parse(text, &mut a),
                parse_any(super::super::columns::trim(text), &mut b),
                "{text:?}"
            );
        }
        let fast = |text: &str| !matches!(exact(text.as_bytes()), Exact::Other);
        let bytes = b"0123456789-+:TtZz .,x\xff\x00";
        for base in [
            "2024-02-29T23:59:59Z",
            "1999-12-31T00:00:60+14:30",
            "2026-11-01T01:30:00-07:00",
        ] {
            same(base);
            assert!(fast(base), "{base:?} should be read at fixed places");
            for at in 0..base.len() {
                for byte in bytes {
                    let mut text = base.as_bytes().to_vec();
                    text[at] = *byte;
                    if let Ok(text) = String::from_utf8(text) {
                        same(&text);
                    }
                }
            }
        }
        let mut day = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
        while day.year() < 2027 {
            for time in ["T00:00:00Z", "T23:59:59-08:00", " 12:30:00+05:45"] {
                let text = format!("{day}{time}");
                same(&text);
                assert!(fast(&text), "{text:?} should be read at fixed places");
            }
            day = day.succ_opt().unwrap();
        }
        for month in 0..=13 {
            for d in 0..=32 {
                same(&format!("2100-{month:02}-{d:02}T10:00:00Z"));
                same(&format!("2000-{month:02}-{d:02}T10:00:00+01:00"));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn exact_form_reads_as_any_form_whatever_the_bytes(
            base in proptest::sample::select(vec![
                "2026-11-02T09:15:00-08:00",
                "2026-03-08T10:30:00Z",
                "2026-11-01T09:00:00+00:00",
            ]),
            changes in proptest::collection::vec((0usize..25, 0x20u8..0x7f), 0..4),
        ) {
            let mut text = base.as_bytes().to_vec();
            for (at, byte) in changes {
                if at < text.len() {
                    text[at] = byte;
                }
            }
            let text = String::from_utf8(text).unwrap();
            let (mut a, mut b) = (ZoneCache::new(Tz::Asia__Kathmandu), ZoneCache::new(Tz::Asia__Kathmandu));
            proptest::prop_assert_eq!(parse(&text, &mut a), parse_any(super::super::columns::trim(&text), &mut b), "{:?}", text);
        }
    }

    #[test]
    fn parse_date_refuses_what_chrono_refuses() {
        for year in [1900, 2000, 2023, 2024, 2100] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let chrono = NaiveDate::from_ymd_opt(year, month, day)
                        .map(|d| (d.year(), d.month(), d.day()));
                    assert_eq!(parse_date(text.as_bytes()), chrono, "{text}");
                }
            }
        }
    }

    #[test]
    fn days_from_civil_is_chronos() {
        let mut date = NaiveDate::from_ymd_opt(-1000, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        while date < end {
            let day = days_from_civil(date.year(), date.month(), date.day());
            assert_eq!(
                day,
                date.num_days_from_ce() - UNIX_EPOCH_DAY_FROM_CE,
                "{date}"
            );
            // A stamp's day number and its date order alike.
            assert_eq!(day, day_number(date), "{date}");
            let stamp = Stamp {
                utc: 0,
                nanos: 0,
                local_day: day,
            };
            assert_eq!(stamp.local_date(), date);
            if (0..10_000).contains(&date.year()) {
                let text = date.format("%Y-%m-%d").to_string();
                assert_eq!(
                    parse_date(text.as_bytes()),
                    Some((date.year(), date.month(), date.day()))
                );
            }
            date = date.succ_opt().unwrap();
        }
    }

    /// The cached offset against the zone's rules at every quarter hour
    /// (and a second either side of it) over three years, in zones that
    /// change on the hour, on the half hour, at a quarter to, not at all,
    /// and one that changed its base offset.
    #[test]
    fn cache_gives_the_zones_offsets_at_every_quarter_hour() {
        let zones = [
            chrono_tz::America::Los_Angeles,
            chrono_tz::Europe::Berlin,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Pacific::Chatham,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::America::Sao_Paulo,
            chrono_tz::UTC,
        ];
        let start = 1_704_067_200; // 2024-01-01T00:00:00Z
        for zone in zones {
            let mut cache = ZoneCache::new(zone);
            for step in 0..(3 * 366 * 24 * 4) {
                for utc in [
                    start + step * 900 - 1,
                    start + step * 900,
                    start + step * 900 + 1,
                ] {
                    let expected = chrono::DateTime::from_timestamp(utc, 0)
                        .unwrap()
                        .with_timezone(&zone)
                        .offset()
                        .fix()
                        .local_minus_utc();
                    assert_eq!(cache.offset_at(utc), expected, "{zone} {utc}");
                }
            }
            // Outside the table: computed.
            for utc in [-5_000_000_000, 0, 9_000_000_000] {
                let expected = zone
                    .offset_from_utc_datetime(
                        &chrono::DateTime::from_timestamp(utc, 0)
                            .unwrap()
                            .naive_utc(),
                    )
                    .fix()
                    .local_minus_utc();
                assert_eq!(cache.offset_at(utc), expected, "{zone} {utc}");
            }
        }
    }

    #[test]
    fn cache_gives_the_same_answers_as_chrono_across_a_year() {
        let mut cache = ZoneCache::new(chrono_tz::America::New_York);
        let start = 1_767_225_600; // 2026-01-01T00:00:00Z
        for step in 0..(366 * 24 * 4) {
            let utc = start + step * 900 + 7;
            let expected = chrono::DateTime::from_timestamp(utc, 0)
                .unwrap()
                .with_timezone(&chrono_tz::America::New_York)
                .date_naive();
            assert_eq!(cache.stamp(utc).local_date(), expected, "{utc}");
        }
    }
}
