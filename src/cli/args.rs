//! The command line: the only module that knows clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
    CheckConfig,
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
    },
    /// Print the email a check would send now, both parts, without sending.
    Render {
        /// The check id.
        check: String,
        /// Only the groups with this label (repeatable).
        #[arg(long, value_name = "K=V", value_parser = parse_label)]
        group: Vec<(String, String)>,
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
    /// Evaluate as of this time (RFC 3339) instead of now; with --once.
    #[arg(long, value_name = "RFC3339", requires = "once", value_parser = parse_time)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Report format; with --once.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text, requires = "once")]
    pub report: ReportFormat,
    /// Also send the alert emails; with --once.
    #[arg(long, requires = "once")]
    pub notify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}: write it like 2026-11-29T06:00:00-08:00"))
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("write a label as KEY=VALUE, like region=socal-south".to_owned()),
    }
}
