//! The command line: the only module that knows clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "accesswatch",
    version,
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
