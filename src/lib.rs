//! accesswatch watches whether a health plan's members can get mental health
//! care in time. It pulls staffing and wait-time data from configured
//! sources, checks it against access standards, and emails compliance staff
//! when a standard is breached.
//!
//! # Layout
//!
//! Data flows one way, and the modules are listed in that order:
//!
//! ```text
//! config ──> schedule ──> source ──> table ──> evaluate ──> notify
//!                          (fetch)   (parse)    (pure)     (render, mail)
//! ```
//!
//! - [`config`]: the TOML file, read in two stages (raw, validated), every
//!   problem reported as `FILE:LINE:COL: message`; secrets.
//! - [`schedule`]: crontab(5) schedules in IANA time zones (pure).
//! - [`source`]: fetching a source's bytes (file, HTTP).
//! - [`table`]: parsing CSV, JSON and NDJSON into a table of records and
//!   applying the field mapping (pure).
//! - [`evaluate`]: threshold and ratio checks per group (pure).
//! - [`notify`]: routing results to recipients, rendering the email (pure),
//!   sending it over SMTP or into `.eml` files.
//! - [`report`]: the `run --once` report and its exit code (pure).
//! - [`run`]: one run of a set of checks: fetch, evaluate, notify, log.
//! - [`daemon`]: jobs, their schedules, shutdown.
//! - [`logging`], [`cli`], [`commands`]: the edges.

#![forbid(unsafe_code)]

pub mod alerts;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod evaluate;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod operator;
pub mod record;
pub mod report;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod source;
pub mod standards;
pub mod state;
pub mod systemd;
pub mod table;
pub mod waittime;
