//! Log output: the only module that sets up tracing-subscriber.
//!
//! Logs go to stderr, so that stdout carries only reports. They are JSON
//! lines when stderr is not a terminal (files, pipes) or when
//! `log_format = "json"`, and human-readable text otherwise. Under
//! journald (`$JOURNAL_STREAM` names stderr), lines carry no timestamp of
//! their own (the journal has one) and start with the `<N>` priority
//! prefix that journald maps to its priority: error 3, warning 4, info 6,
//! debug and trace 7. `RUST_LOG`, when set, overrides `log_filter`.

use std::fmt;
use std::io::IsTerminal as _;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// Whether `filter` is a valid `log_filter`: comma-separated `level` or
/// `target=level` directives, as `RUST_LOG` takes them (a `Targets`
/// filter: no span or field filters, which would need the regex engine
/// of `EnvFilter` in every build); the error says why not.
pub fn check_filter(filter: &str) -> Result<(), String> {
    filter
        .parse::<Targets>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// How log lines are written (`[daemon] log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, text when it is.
    Auto,
    Json,
    Text,
}

/// Installs the global subscriber. Calling it twice is harmless (the second
/// call does nothing), which keeps tests simple.
pub fn init(format: LogFormat, filter: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| f.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            filter
                .parse::<Targets>()
                .unwrap_or_else(|_| Targets::new().with_default(Level::INFO))
        });
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !terminal && !under_journald(),
    };
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr);
    let _ = match (under_journald(), json) {
        (true, true) => builder
            .event_format(Journal(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .without_time(),
            ))
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .finish()
            .with(filter)
            .try_init(),
        (true, false) => builder
            .event_format(Journal(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_target(false)
                    .with_level(false)
                    .with_ansi(false),
            ))
            .finish()
            .with(filter)
            .try_init(),
        (false, true) => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish()
            .with(filter)
            .try_init(),
        (false, false) => builder
            .with_target(false)
            .with_ansi(terminal)
            .finish()
            .with(filter)
            .try_init(),
    };
}

/// Whether stderr is the stream systemd connected to the journal:
/// `$JOURNAL_STREAM` is its "device:inode".
fn under_journald() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(stderr) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    stream == format!("{}:{}", stderr.dev(), stderr.ino())
}

/// The syslog priority journald reads from a `<N>` line prefix.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Prefixes every line of an inner format with its journal priority.
struct Journal<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journal<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}
