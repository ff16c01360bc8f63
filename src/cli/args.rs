//! The command line: the only module that knows clap.

use std::ffi::OsString;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::cli::exit::Exit;

/// "0.1.0 (git 1a2b3c4d5e6f)": the package version and the revision built.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("ACCESSWATCH_GIT_REVISION"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "accesswatch",
    version = VERSION,
    about = "Watches mental health access standards (wait times, staffing ratios) and emails compliance staff when one is breached"
)]
pub struct Args {
    /// The configuration file.
    #[arg(long, short, global = true, value_name = "PATH", default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration; print every problem, or a summary.
    /// Warns about files, hosts and databases that cannot be reached now.
    CheckConfig {
        /// Also fetch every source once and connect to the mail server
        /// (EHLO and AUTH, nothing sent); exit 1 if one fails.
        #[arg(long)]
        connect: bool,
        /// Read `*_credential` secrets from DIR (systemd's credentials are
        /// only there for the service). Without it, outside systemd, they
        /// are not read and `check-config` says where the service gets them.
        #[arg(long, value_name = "DIR")]
        credentials_directory: Option<std::path::PathBuf>,
    },
    /// Run the daemon, or with --once run every check once and report.
    Run(RunArgs),
    /// Show the current alerts and the email outbox from the state file.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an alert: mute its reminders until a time.
    Ack {
        /// The check id.
        check: String,
        /// Only the groups with this label (repeatable), like region=socal-south.
        #[arg(long, value_name = "K=V", value_parser = parse_label)]
        group: Vec<(String, String)>,
        /// Until when: RFC 3339 (2026-12-01T09:00:00-08:00) or a duration from now (24h, 3d).
        #[arg(long, value_name = "TIME", required_unless_present = "clear")]
        until: Option<String>,
        /// Who acknowledges (recorded).
        #[arg(long, value_name = "NAME")]
        by: String,
        /// Remove the acknowledgement instead.
        #[arg(long, conflicts_with = "until")]
        clear: bool,
        /// What was done (free text; never member data), recorded with it.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Record a note on a check's finding (free text; never member data).
    Note {
        /// The check id.
        check: String,
        /// Only the groups with this label (repeatable), like region=socal-south.
        #[arg(long, value_name = "K=V", value_parser = parse_label)]
        group: Vec<(String, String)>,
        /// The note: what was done (investigation, corrective action plan filed).
        text: String,
        /// Who writes it (recorded).
        #[arg(long, value_name = "NAME")]
        by: String,
    },
    /// Print the email a check would send now, both parts, without sending.
    Render {
        /// The check id.
        check: String,
        /// Only the groups with this label (repeatable).
        #[arg(long, value_name = "K=V", value_parser = parse_label)]
        group: Vec<(String, String)>,
    },
    /// Evaluate the checks as of past times from the sources and record the
    /// results as history; sends nothing and opens no alert.
    Backfill {
        /// The first time: RFC 3339 or a date (midnight in the daemon's time zone).
        #[arg(long, value_name = "TIME", value_parser = parse_as_of)]
        from: AsOf,
        /// The last time (included when a step lands on it).
        #[arg(long, value_name = "TIME", value_parser = parse_as_of)]
        to: AsOf,
        /// The step between evaluations: 1w, 1d, 12h.
        #[arg(long, value_name = "DURATION", default_value = "1w", value_parser = parse_every)]
        every: chrono::Duration,
        /// Only this check (repeatable); default: every check.
        #[arg(long = "check", value_name = "ID")]
        checks: Vec<String>,
    },
    /// Check the state file's tamper-evident trail; name the first broken
    /// record.
    VerifyHistory,
    /// Write the period report (evidence for an audit) from the state file.
    Report {
        /// The period's start: RFC 3339 or a date (midnight in the daemon's time zone).
        #[arg(long, value_name = "TIME", value_parser = parse_as_of)]
        from: AsOf,
        /// The period's end (excluded).
        #[arg(long, value_name = "TIME", value_parser = parse_as_of)]
        to: AsOf,
        /// Only this check (repeatable); default: every check.
        #[arg(long = "check", value_name = "ID")]
        checks: Vec<String>,
        #[arg(long, value_enum, default_value_t = PeriodFormat::Html)]
        format: PeriodFormat,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// List the built-in access standards (no configuration needed).
    Standards {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send a test message with the [email] settings.
    SendTestEmail {
        /// Recipient; default: every address of every route.
        #[arg(long, value_name = "ADDR")]
        to: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run every check once, print a report and exit with 0 (OK),
    /// 1 (warning), 2 (critical) or 3 (unknown).
    #[arg(long)]
    pub once: bool,
    /// Evaluate as of this time instead of now; with --once. RFC 3339
    /// (2026-11-27T06:00:00-08:00) or a date (2026-11-27: midnight in the
    /// daemon's time zone).
    #[arg(long, value_name = "TIME", requires = "once", value_parser = parse_as_of)]
    pub as_of: Option<AsOf>,
    /// Report format; with --once.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text, requires = "once")]
    pub report: ReportFormat,
    /// Also send the alert emails; with --once.
    #[arg(long, requires = "once")]
    pub notify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodFormat {
    Html,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// The arguments of this process, or the exit code after clap printed
/// why not (help and version: 0). A usage mistake exits 2, except for
/// `run --once`, a monitoring plugin, where 2 means CRITICAL: there it is 3
/// (UNKNOWN).
pub fn parse() -> Result<Args, Exit> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    Args::try_parse_from(&argv).map_err(|error| {
        let _ = error.print();
        if !error.use_stderr() {
            Exit::OK
        } else if is_run_once(&argv) {
            Exit::UNKNOWN
        } else {
            Exit::USAGE
        }
    })
}

/// Whether a command line that clap refused asks for `run --once`.
fn is_run_once(argv: &[OsString]) -> bool {
    argv.iter().skip(1).any(|a| a == "run") && argv.iter().any(|a| a == "--once")
}

/// `--as-of` as given: the time zone of a date is known only once the
/// configuration is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Instant(DateTime<Utc>),
    /// Midnight of this day in the daemon's time zone.
    Date(NaiveDate),
}

impl AsOf {
    /// The instant, with a date taken at its first moment in `zone` (midnight,
    /// or the end of a DST gap that swallows midnight).
    pub fn resolve(self, zone: chrono_tz::Tz) -> DateTime<Utc> {
        match self {
            AsOf::Instant(t) => t,
            AsOf::Date(day) => (0..24)
                .filter_map(|hour| {
                    zone.from_local_datetime(&day.and_hms_opt(hour, 0, 0)?)
                        .earliest()
                })
                .next()
                .map_or_else(
                    || day.and_time(chrono::NaiveTime::MIN).and_utc(),
                    |t| t.with_timezone(&Utc),
                ),
        }
    }
}

fn parse_as_of(text: &str) -> Result<AsOf, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(AsOf::Instant(t.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(AsOf::Date)
        .map_err(|_| {
            "write a time like 2026-11-29T06:00:00-08:00 (RFC 3339) or a date like 2026-11-29 (midnight in the daemon's time zone)".to_owned()
        })
}

fn parse_every(text: &str) -> Result<chrono::Duration, String> {
    humantime::parse_duration(text)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .filter(|d| *d >= chrono::Duration::minutes(1))
        .ok_or_else(|| "write a step of at least a minute, like 1w, 1d or 12h".to_owned())
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("write a label as KEY=VALUE, like region=socal-south".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, zone: chrono_tz::Tz, expected: Option<&str>) {
        let got = parse_as_of(text).ok().map(|a| a.resolve(zone).to_rfc3339());
        assert_eq!(got.as_deref(), expected, "{text} in {zone}");
    }

    #[test]
    fn as_of_is_a_time_or_a_date_at_midnight_in_the_zone() {
        let la = chrono_tz::America::Los_Angeles;
        check(
            "2026-11-27T06:00:00-08:00",
            la,
            Some("2026-11-27T14:00:00+00:00"),
        );
        check("2026-11-27", la, Some("2026-11-27T08:00:00+00:00"));
        check("2026-07-01", la, Some("2026-07-01T07:00:00+00:00"));
        check(
            "2026-11-27",
            chrono_tz::UTC,
            Some("2026-11-27T00:00:00+00:00"),
        );
        // Santiago skips from midnight to 01:00 when DST starts.
        check(
            "2026-09-06",
            chrono_tz::America::Santiago,
            Some("2026-09-06T04:00:00+00:00"),
        );
        check("27/11/2026", la, None);
        check("2026-11-27 06:00", la, None);
    }

    #[test]
    fn a_usage_mistake_of_run_once_is_unknown() {
        let argv = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(is_run_once(&argv(&[
            "accesswatch",
            "run",
            "--once",
            "--bogus"
        ])));
        assert!(is_run_once(&argv(&[
            "accesswatch",
            "-c",
            "x",
            "run",
            "--as-of",
            "x",
            "--once"
        ])));
        assert!(!is_run_once(&argv(&["accesswatch", "run", "--bogus"])));
        assert!(!is_run_once(&argv(&["accesswatch", "status", "--once"])));
    }
}
