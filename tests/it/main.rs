//! The integration tests, all in one test binary (`it`) with a module per
//! topic: they run the real `accesswatch` binary against real servers on
//! 127.0.0.1 (HTTP, HTTPS, SMTP via aiosmtpd, PostgreSQL), and a few use
//! the library directly. `common` holds the shared helpers, among them
//! `ConfigText`, which builds the configuration files the tests run with;
//! tests/support has the Python servers and tests/fixtures the data files.
//!
//! Run them the project's way with `scripts/test`, which installs what they
//! need. One module: `cargo test --test it alerting::`; one test:
//! `cargo test --test it alerting::render_prints_both_parts_without_sending`.

mod browser;
mod common;

mod alerting;
mod architecture;
mod checks;
mod citus;
mod cli;
mod config;
mod daemon;
mod email;
mod evidence;
mod faults;
mod fhir;
mod first_hour;
mod fold;
mod ha;
mod http_hardening;
mod http_sources;
mod http_stream;
mod nppes;
mod postgres;
mod pushdown;
mod run_once;
mod status_page;
mod systemd;
mod wait_times;
