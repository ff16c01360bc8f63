//! When checks run: crontab(5) expressions in an IANA time zone.
//!
//! [`Schedule`] wraps `croner` (the one module that knows it), restricted to
//! what crontab(5) accepts: five fields or an `@` nickname, Sunday = 0 or 7,
//! day-of-month and day-of-week combined with OR when both are restricted.
//! Times are computed in the schedule's time zone, DST-safe the way Vixie
//! cron is: a job at a fixed wall-clock time that falls in the hour skipped
//! on the spring-forward day runs right after the jump, and one in the hour
//! repeated on the fall-back day runs once.
//!
//! Everything here is pure: the current time is always a parameter.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

#[derive(Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
    time_zone: Tz,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?} in {})", self.expression, self.time_zone)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.expression == other.expression && self.time_zone == other.time_zone
    }
}

const NICKNAMES: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// The crontab(5) form of a six-field (seconds first) or Quartz (seconds
/// first, `?`, weekdays 1-7 from Sunday, an optional year) expression, as
/// far as one exists: `0 0 6 ? * MON-FRI` is `0 6 * * 1-5`. `None` when
/// the seconds are not 0, the year is not `*`, or a field uses Quartz
/// syntax crontab lacks (`L`, `W`, `#`).
pub fn crontab_equivalent(expression: &str) -> Option<String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let (seconds, rest) = match fields.len() {
        6 => (fields[0], &fields[1..6]),
        7 if matches!(fields[6], "*" | "?") => (fields[0], &fields[1..6]),
        _ => return None,
    };
    if seconds != "0" || rest.iter().any(|f| f.contains(['L', 'W', '#'])) {
        return None;
    }
    let [minute, hour, day, month, weekday] = rest else {
        return None;
    };
    let star = |f: &str| {
        if f == "?" {
            "*".to_owned()
        } else {
            f.to_owned()
        }
    };
    // Quartz (which has `?`) numbers weekdays 1-7 from Sunday, crontab and
    // other six-field dialects 0-6; crontab takes the names too, but
    // numbers read better next to the other fields.
    let quartz = rest.contains(&"?");
    let mut crontab_weekday = String::new();
    let mut number = String::new();
    let mut after_slash = false;
    let flush = |number: &mut String, out: &mut String, step: bool| {
        if let Ok(n) = number.parse::<u8>() {
            let shift = !step && (1..=7).contains(&n);
            out.push_str(&if shift { n - 1 } else { n }.to_string());
        }
        number.clear();
    };
    let mut names = star(weekday).to_uppercase();
    for (index, name) in ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        .iter()
        .enumerate()
    {
        // Written in the numbering of the dialect, converted below.
        names = names.replace(name, &(index + usize::from(quartz)).to_string());
    }
    for c in names.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        flush(&mut number, &mut crontab_weekday, after_slash || !quartz);
        after_slash = c == '/';
        crontab_weekday.push(c);
    }
    flush(&mut number, &mut crontab_weekday, after_slash || !quartz);
    let weekday = crontab_weekday;
    Some(format!(
        "{minute} {hour} {} {} {weekday}",
        star(day),
        star(month)
    ))
}

impl Schedule {
    /// Parses a crontab(5) expression. The error is a sentence for the
    /// operator, saying what is accepted.
    pub fn parse(expression: &str, time_zone: Tz) -> Result<Schedule, String> {
        let trimmed = expression.trim();
        if trimmed.starts_with('@') {
            if trimmed == "@reboot" {
                return Err(
                    "@reboot is not a schedule here: the daemon already runs every \
                            check once at start-up; give a time such as \"0 6 * * *\""
                        .to_owned(),
                );
            }
            if !NICKNAMES.contains(&trimmed.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "unknown nickname {trimmed:?}: use one of {}",
                    NICKNAMES.join(", ")
                ));
            }
        } else {
            let fields = trimmed.split_whitespace().count();
            if fields != 5 {
                let hint = crontab_equivalent(trimmed).map_or_else(String::new, |c| {
                    format!(
                        "; read with seconds first (Quartz, Spring), that is {c:?} in crontab(5)"
                    )
                });
                return Err(format!(
                    "a schedule has 5 fields (minute hour day-of-month month day-of-week), \
                     as in crontab(5); {expression:?} has {fields}{hint}"
                ));
            }
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser
            .parse(trimmed)
            .map_err(|e| format!("{expression:?} is not a valid cron expression: {e}"))?;
        Ok(Schedule {
            expression: trimmed.to_owned(),
            cron,
            time_zone,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The same schedule in another zone (the expression is not read
    /// again).
    pub fn in_zone(&self, time_zone: Tz) -> Schedule {
        Schedule {
            time_zone,
            ..self.clone()
        }
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The first run strictly after `after`, or `None` if the expression
    /// never matches again (such as 30 February).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.time_zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// How many runs were due in `(after, until]`: the ticks a long run made
    /// the job skip. Counting stops at `limit`.
    pub fn ticks_between(&self, after: DateTime<Utc>, until: DateTime<Utc>, limit: usize) -> usize {
        let mut count = 0;
        let mut cursor = after;
        while count < limit {
            match self.next_after(cursor) {
                Some(next) if next <= until => {
                    count += 1;
                    cursor = next;
                }
                _ => break,
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn six_field_and_quartz_expressions_have_a_crontab_equivalent() {
        let check = |quartz: &str, crontab: Option<&str>| {
            assert_eq!(crontab_equivalent(quartz).as_deref(), crontab, "{quartz}");
        };
        check("0 0 6 ? * MON-FRI", Some("0 6 * * 1-5"));
        check("0 30 7 * * *", Some("30 7 * * *"));
        check("0 0 6 ? * 2-6", Some("0 6 * * 1-5"));
        check("0 0 6 ? * 1,7", Some("0 6 * * 0,6"));
        check("0 0 6 ? * */2", Some("0 6 * * */2"));
        // Without `?` it is not Quartz: weekdays are numbered as in crontab.
        check("0 0 6 * * 1-5", Some("0 6 * * 1-5"));
        check("0 0 6 * * MON-FRI", Some("0 6 * * 1-5"));
        check("0 0 6 ? * MON-FRI 2026", None);
        check("0 0 6 ? * MON-FRI *", Some("0 6 * * 1-5"));
        check("30 0 6 * * *", None);
        check("0 0 6 L * ?", None);
        check("0 6 * *", None);
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The runs of `expression` in `zone` after `start`, as UTC RFC 3339.
    fn runs(expression: &str, zone: Tz, start: &str, count: usize) -> Vec<String> {
        let schedule = Schedule::parse(expression, zone).unwrap();
        let mut out = Vec::new();
        let mut cursor = utc(start);
        for _ in 0..count {
            cursor = schedule.next_after(cursor).unwrap();
            out.push(cursor.to_rfc3339());
        }
        out
    }

    #[test]
    fn daily_in_los_angeles() {
        assert_eq!(
            runs(
                "0 6 * * *",
                chrono_tz::America::Los_Angeles,
                "2026-07-01T00:00:00Z",
                2
            ),
            ["2026-07-01T13:00:00+00:00", "2026-07-02T13:00:00+00:00"]
        );
    }

    #[test]
    fn spring_forward_gap_runs_once_right_after_the_jump() {
        // 2026-03-08: Los Angeles clocks go from 02:00 PST to 03:00 PDT, so
        // 02:30 does not exist that day. The job must still run that day.
        let got = runs(
            "30 2 * * *",
            chrono_tz::America::Los_Angeles,
            "2026-03-07T08:00:00Z",
            3,
        );
        assert_eq!(got[0], "2026-03-07T10:30:00+00:00"); // 02:30 PST the day before
        assert_eq!(got[1], "2026-03-08T10:00:00+00:00"); // 03:00 PDT, right after the jump
        assert_eq!(got[2], "2026-03-09T09:30:00+00:00"); // 02:30 PDT
    }

    #[test]
    fn fall_back_repeated_hour_runs_once() {
        // 2026-10-25: Berlin clocks go from 03:00 CEST back to 02:00 CET, so
        // 02:30 happens twice. The job runs once.
        let got = runs(
            "30 2 * * *",
            chrono_tz::Europe::Berlin,
            "2026-10-24T12:00:00Z",
            2,
        );
        assert_eq!(got[0], "2026-10-25T00:30:00+00:00"); // 02:30 CEST
        assert_eq!(got[1], "2026-10-26T01:30:00+00:00"); // next day, 02:30 CET
        // And in Los Angeles on 2026-11-01, 01:30 is the repeated time.
        let got = runs(
            "30 1 * * *",
            chrono_tz::America::Los_Angeles,
            "2026-10-31T12:00:00Z",
            2,
        );
        assert_eq!(got[0], "2026-11-01T08:30:00+00:00"); // 01:30 PDT
        assert_eq!(got[1], "2026-11-02T09:30:00+00:00"); // next day, 01:30 PST
    }

    #[test]
    fn hourly_jobs_keep_real_time_across_fall_back() {
        // An interval job runs every real hour, including both 01:00s.
        let got = runs(
            "0 * * * *",
            chrono_tz::America::Los_Angeles,
            "2026-11-01T07:30:00Z",
            3,
        );
        assert_eq!(
            got,
            [
                "2026-11-01T08:00:00+00:00",
                "2026-11-01T09:00:00+00:00",
                "2026-11-01T10:00:00+00:00"
            ]
        );
    }

    #[test]
    fn weekday_numbers_follow_crontab() {
        // crontab(5): 0 and 7 are Sunday, 1 is Monday. 2026-11-29 is a Sunday.
        let zone = chrono_tz::UTC;
        assert_eq!(
            runs("0 9 * * 1", zone, "2026-11-29T00:00:00Z", 1),
            ["2026-11-30T09:00:00+00:00"]
        );
        assert_eq!(
            runs("0 9 * * 0", zone, "2026-11-28T00:00:00Z", 1),
            ["2026-11-29T09:00:00+00:00"]
        );
        assert_eq!(
            runs("0 9 * * 7", zone, "2026-11-28T00:00:00Z", 1),
            ["2026-11-29T09:00:00+00:00"]
        );
        // Day of month OR day of week when both are restricted.
        assert_eq!(
            runs("0 0 1 * 1", zone, "2026-11-29T00:00:00Z", 2),
            ["2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00"]
        );
    }

    #[test]
    fn nicknames() {
        let zone = chrono_tz::UTC;
        assert_eq!(
            runs("@hourly", zone, "2026-11-29T05:10:00Z", 1),
            ["2026-11-29T06:00:00+00:00"]
        );
        assert_eq!(
            runs("@daily", zone, "2026-11-29T05:10:00Z", 1),
            ["2026-11-30T00:00:00+00:00"]
        );
        assert_eq!(
            runs("@weekly", zone, "2026-11-25T05:10:00Z", 1),
            ["2026-11-29T00:00:00+00:00"]
        );
        assert_eq!(
            runs("@monthly", zone, "2026-11-25T05:10:00Z", 1),
            ["2026-12-01T00:00:00+00:00"]
        );
    }

    #[test]
    fn rejected_expressions_say_why() {
        let check = |expression: &str, expected: &str| {
            let error = Schedule::parse(expression, chrono_tz::UTC).unwrap_err();
            assert!(error.contains(expected), "{expression}: {error}");
        };
        check("0 0 6 * * *", "has 6");
        check("* * *", "has 3");
        check("", "has 0");
        check("@reboot", "start-up");
        check("@fortnightly", "unknown nickname");
        check("61 * * * *", "not a valid cron expression");
        check("0 25 * * *", "not a valid cron expression");
    }

    #[test]
    fn ticks_between_counts_skipped_runs() {
        let schedule = Schedule::parse("*/5 * * * *", chrono_tz::UTC).unwrap();
        let start = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let end = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 17, 0).unwrap();
        assert_eq!(schedule.ticks_between(start, end, 100), 3);
        assert_eq!(schedule.ticks_between(start, end, 2), 2);
        assert_eq!(schedule.ticks_between(end, start, 100), 0);
    }
}
