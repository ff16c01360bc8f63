//! The exit codes of every subcommand, by name.
//!
//! Two conventions meet here. `run --once` is a monitoring plugin (Nagios,
//! Icinga): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. The other subcommands
//! follow the usual shell convention (0 success, 1 failure, 2 a usage
//! mistake) and the daemon uses sysexits' EX_CONFIG for a configuration
//! it cannot start with, which systemd's `RestartPreventExitStatus=`
//! names. The numbers overlap between the conventions, so this is a
//! newtype with named constants rather than an enum.

/// A process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(u8);

impl Exit {
    /// Success; for `run --once`, every check is ok.
    pub const OK: Exit = Exit(0);
    /// The command could not do what was asked.
    pub const FAILURE: Exit = Exit(1);
    /// A command-line value that is not valid (`ack --until yesterday`);
    /// for `run --once` a usage mistake is `UNKNOWN` instead.
    pub const USAGE: Exit = Exit(2);
    /// `run --once`: a check of severity `warning` breached.
    pub const WARNING: Exit = Exit(1);
    /// `run --once`: a check of severity `critical` breached.
    pub const CRITICAL: Exit = Exit(2);
    /// `run --once`: a check could not be evaluated, or the run itself
    /// failed (command line, configuration, state file, an alert that was
    /// not sent or that no route received).
    pub const UNKNOWN: Exit = Exit(3);
    /// The async runtime could not start (sysexits EX_SOFTWARE).
    pub const SOFTWARE: Exit = Exit(70);
    /// The daemon's configuration does not validate (sysexits EX_CONFIG).
    pub const CONFIG: Exit = Exit(78);

    pub fn code(self) -> u8 {
        self.0
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(exit.0)
    }
}
