//! The command-line edge: the arguments ([`args`], the only module that
//! knows clap), [`commands`] that dispatch each subcommand to the library,
//! the [`exit`] codes, the [`evidence`] commands (`backfill`, `verify-history`, `note`, `report`: the [`period`] report, in HTML by [`period_html`]), and what a person reads: the `run --once`
//! [`report`] and the [`operator`] views (`status`, `ack`, `render`, the
//! `check-config` summary). This is the top of the crate: nothing imports
//! it.

pub mod args;
pub mod commands;
pub mod evidence;
pub mod exit;
pub mod operator;
pub mod period;
pub mod period_html;
pub mod report;
