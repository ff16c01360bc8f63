//! The command-line edge: the arguments ([`args`], the only module that
//! knows clap), [`commands`] that dispatch each subcommand to the library,
//! the [`exit`] codes, the [`evidence`] commands (`backfill`, `verify-history`, `note`, `report`: the period report of `daemon::period`), and what a person reads: the `run --once`
//! [`report`] and the [`operator`] views (`status`, `ack`, `render`, the
//! `check-config` summary). This is the top of the crate: nothing imports
//! it.

/// `print!` for the commands: a closed stdout (`accesswatch standards |
/// head`) ends the output quietly instead of panicking, and the command
/// goes on (`run --once --notify` still sends its alerts).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*)) };
}

/// `println!` for the commands, like [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

pub mod args;
pub mod commands;
pub mod evidence;
pub mod exit;
pub mod operator;
pub mod preflight;
pub mod report;

/// Writes to stdout; a reader that went away (broken pipe) is not an
/// error, any other failure is said once on stderr.
pub fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "accesswatch: cannot write to standard output: {e}"
            );
        }
    }
}
