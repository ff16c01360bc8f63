//! accesswatch watches whether a health plan's members can get mental health
//! care in time. It pulls staffing and wait-time data from configured
//! sources, checks it against access standards, and emails compliance staff
//! when a standard is breached.
//!
//! # Layout
//!
//! Data flows one way, and the modules are listed from the bottom up: each
//! imports only modules above it in this list.
//!
//! ```text
//! config ──> daemon (schedule) ──> source ──> evaluate ──> alerts ──> notify
//!  (TOML)                          (fetch)     (pure)     (record)   (render, outbox, mail)
//! ```
//!
//! - [`table`]: the table of records and the CSV, JSON and NDJSON parsers
//!   with the field mapping (pure; imports nothing of the crate).
//! - [`check`]: the vocabulary every stage speaks: `Check`, `Rule`,
//!   `CheckResult`, `Status`, an alert's `Episode` and `Policy`, the
//!   standards catalog, the business-day calendar, schedules, secrets.
//! - [`evaluate`]: threshold, ratio, freshness and wait-time checks (pure).
//! - [`state`]: the SQLite state store (evaluations, episodes, outbox).
//! - [`source`]: fetching a source (file, HTTP, FHIR, NPPES, PostgreSQL)
//!   into a table, or streaming a CSV file through a fold.
//! - [`notify`]: routing, rendering (pure), the outbox's delivery, mail.
//! - [`alerts`]: the alert lifecycle (pure) and recording a run.
//! - [`logging`]: tracing-subscriber set-up.
//! - [`config`]: reads the TOML file and assembles the vocabulary.
//! - [`daemon`]: one run, the scheduler, reload, systemd, metrics and the
//!   HTTP listener.
//! - [`cli`]: the command line, its commands and the operator's views.

#![forbid(unsafe_code)]

pub mod table;

pub mod check;

pub mod pg;

pub mod evaluate;
pub mod state;

pub mod source;

pub mod notify;

pub mod alerts;

pub mod logging;

pub mod config;

pub mod daemon;

pub mod cli;
