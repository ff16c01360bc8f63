//! The evidence commands: `backfill` (history from the sources as of past
//! times), `verify-history` (the tamper-evident trail), `note`, and
//! `report` (the period report, `period` and `period_html`). The time arithmetic is pure and tested here; the commands do
//! the IO.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::check::Check;
use anyhow::Context as _;

use crate::cli::args::{AsOf, PeriodFormat};
use crate::cli::exit::Exit;
use crate::config::Config;
use crate::daemon::{period, period_html};

/// At most this many evaluation times per backfill: a step of 1m over a
/// year is a typo, not a plan.
const MAX_TIMES: usize = 5000;

/// The times `from`, `from + every`, … up to `to` (included). Between two
/// dates, a step of whole days keeps the local time of day (midnight) across
/// daylight-saving changes.
pub fn backfill_times(
    from: AsOf,
    to: AsOf,
    every: Duration,
    zone: Tz,
) -> Result<Vec<DateTime<Utc>>, String> {
    let (start, end) = (from.resolve(zone), to.resolve(zone));
    if end < start {
        return Err("--to is before --from: give the earlier time first".to_owned());
    }
    let whole_days = every.num_seconds() % 86_400 == 0;
    let mut times = Vec::new();
    for step in 0.. {
        let at = match (from, whole_days) {
            (AsOf::Date(day), true) => {
                let days = Duration::days(every.num_days() * step);
                AsOf::Date(day + days).resolve(zone)
            }
            _ => start + every * step as i32,
        };
        if at > end {
            break;
        }
        if times.len() == MAX_TIMES {
            return Err(format!(
                "more than {MAX_TIMES} evaluation times: give a larger --every or a shorter period"
            ));
        }
        times.push(at);
    }
    Ok(times)
}

/// The checks named by `--check` (all without one), or why not.
pub fn chosen_checks(config: &Config, ids: &[String]) -> Result<Vec<Check>, String> {
    if ids.is_empty() {
        return Ok(config.checks.clone());
    }
    ids.iter()
        .map(|id| {
            config
                .checks
                .iter()
                .find(|c| &c.id == id)
                .cloned()
                .ok_or_else(|| {
                    let known: Vec<&str> = config.checks.iter().map(|c| c.id.as_str()).collect();
                    format!("no check {id:?} (checks: {})", known.join(", "))
                })
        })
        .collect()
}

/// `backfill`: evaluates `checks` as of each time and records the results.
pub async fn backfill(config: &Config, checks: &[Check], times: &[DateTime<Utc>]) -> Exit {
    let store = match crate::state::open(&config.daemon.state_directory) {
        Ok(store) => std::sync::Arc::new(store),
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            return Exit::FAILURE;
        }
    };
    let never = CancellationToken::new();
    let zone = config.daemon.time_zone;
    let mut total = 0;
    for at in times {
        let (outcome, recorded) =
            match crate::daemon::backfill::record_at(config, checks, *at, &store, &never).await {
                Ok(Some(done)) => done,
                Ok(None) => return Exit::FAILURE,
                Err(e) => {
                    eprintln!("accesswatch: {e:#}");
                    return Exit::FAILURE;
                }
            };
        total += recorded;
        let statuses: Vec<String> = outcome
            .results
            .iter()
            .map(|r| format!("{} {}", r.id, r.status.as_str()))
            .collect();
        println!(
            "{}: {}{}",
            at.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z"),
            statuses.join(", "),
            if recorded < outcome.results.len() {
                " (some already recorded, kept)"
            } else {
                ""
            }
        );
    }
    println!(
        "recorded {total} evaluation(s) at {} time(s) in {}",
        times.len(),
        store.path().display()
    );
    Exit::OK
}

/// `verify-history`: 0 when the chain and every recorded row hold, 1 with
/// the first broken record named.
pub fn verify_history(config: &Config) -> Exit {
    let verified = crate::state::open_read_only(&config.daemon.state_directory)
        .and_then(|store| Ok((store.verify()?, store.path().to_path_buf())));
    match verified {
        Ok((Ok(Some(head)), path)) => {
            println!(
                "{}: the trail of {} records holds; head record {} has SHA-256 {}",
                path.display(),
                head.records,
                head.id,
                head.hash
            );
            Exit::OK
        }
        Ok((Ok(None), path)) => {
            println!(
                "{}: the trail is empty (nothing recorded yet)",
                path.display()
            );
            Exit::OK
        }
        Ok((Err(broken), path)) => {
            eprintln!(
                "accesswatch: {}: the history was changed outside accesswatch: {}; \
                 restore the file from a backup whose head hash an auditor holds, and keep this copy for the investigation",
                path.display(),
                broken.why
            );
            Exit::FAILURE
        }
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            Exit::FAILURE
        }
    }
}

/// `report`: the period report of `from..to` in `format`, to `output` or
/// standard output.
pub fn period_report(
    config: &Config,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    checks: &[String],
    format: PeriodFormat,
    output: Option<&std::path::Path>,
) -> Exit {
    if to <= from {
        eprintln!("accesswatch: --to is not after --from: give the earlier time first");
        return Exit::USAGE;
    }
    if let Err(why) = chosen_checks(config, checks) {
        eprintln!("accesswatch: {why}");
        return Exit::USAGE;
    }
    let text = crate::state::open_read_only(&config.daemon.state_directory).and_then(|store| {
        let period = period::gather(config, &store, (from, to), checks, Utc::now())?;
        match format {
            PeriodFormat::Html => Ok(period_html::html(&period)),
            PeriodFormat::Csv => period::csv(&period),
            PeriodFormat::Json => Ok(format!("{:#}\n", period::json(&period))),
        }
    });
    let written = text.and_then(|text| match output {
        Some(path) => write_atomically(path, &text),
        None => {
            print!("{text}");
            Ok(())
        }
    });
    match written {
        Ok(()) => Exit::OK,
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            Exit::FAILURE
        }
    }
}

/// Writes `text` to `path` under a temporary name, then renames it, so a
/// reader never sees half a report.
fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = std::path::PathBuf::from(temporary);
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .with_context(|| {
            format!(
                "writing the report to {}: choose a writable --output path",
                path.display()
            )
        })
}

/// `note`: records `text` on the groups of `check_id` matching `group`.
pub fn note(
    config: &Config,
    check_id: &str,
    group: &[(String, String)],
    text: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Exit {
    let known = config.checks.iter().any(|c| c.id == check_id)
        || check_id.starts_with(crate::check::DATA_UNAVAILABLE);
    if !known {
        let ids: Vec<&str> = config.checks.iter().map(|c| c.id.as_str()).collect();
        eprintln!(
            "accesswatch: no check {check_id:?} (checks: {})",
            ids.join(", ")
        );
        return Exit::USAGE;
    }
    if text.trim().is_empty() || by.trim().is_empty() {
        eprintln!("accesswatch: give the note's text and --by NAME");
        return Exit::USAGE;
    }
    let labels = group.iter().cloned().collect();
    let done = crate::state::open_shared(&config.daemon.state_directory)
        .and_then(|store| store.add_note(check_id, &labels, text, by, now));
    match done {
        Ok(()) => {
            println!(
                "noted on {check_id} {} by {by}",
                crate::check::label_text(&labels)
            );
            Exit::OK
        }
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            Exit::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn check(from: AsOf, to: AsOf, every: Duration, expected: Result<Vec<&str>, &str>) {
        let zone = chrono_tz::America::Los_Angeles;
        let got = backfill_times(from, to, every, zone).map(|times| {
            times
                .iter()
                .map(|t| t.with_timezone(&zone).format("%m-%d %H:%M").to_string())
                .collect::<Vec<_>>()
        });
        let expected = expected
            .map(|v| v.iter().map(|s| (*s).to_owned()).collect())
            .map_err(str::to_owned);
        match (&got, &expected) {
            (Err(g), Err(e)) => assert!(g.contains(e.as_str()), "{g}"),
            _ => assert_eq!(got, expected),
        }
    }

    fn date(text: &str) -> AsOf {
        AsOf::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn backfill_steps_keep_local_midnight_across_dst() {
        check(
            date("2026-10-25"),
            date("2026-11-08"),
            Duration::weeks(1),
            Ok(vec!["10-25 00:00", "11-01 00:00", "11-08 00:00"]),
        );
        check(
            date("2026-10-25"),
            date("2026-11-07"),
            Duration::weeks(1),
            Ok(vec!["10-25 00:00", "11-01 00:00"]),
        );
        // A step of hours is a step of elapsed time.
        let instant = |t: &str| AsOf::Instant(DateTime::parse_from_rfc3339(t).unwrap().to_utc());
        check(
            instant("2026-11-01T00:00:00-07:00"),
            instant("2026-11-01T12:00:00-08:00"),
            Duration::hours(12),
            Ok(vec!["11-01 00:00", "11-01 11:00"]),
        );
        check(
            date("2026-11-08"),
            date("2026-10-25"),
            Duration::weeks(1),
            Err("--to is before --from"),
        );
        check(
            date("2020-01-01"),
            date("2026-01-01"),
            Duration::hours(1),
            Err("more than 5000"),
        );
    }
}
