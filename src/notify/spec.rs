//! The mail settings (`[email]`) as validated values: who sends, and
//! through which [`Transport`]. `config` assembles them; `mail` sends.

use std::path::PathBuf;
use std::time::Duration;

use crate::check::Secret;

#[derive(Debug)]
pub struct Email {
    pub from: String,
    pub subject_prefix: String,
    /// The domain of Message-IDs.
    pub message_id_domain: String,
    pub transport: Transport,
}

#[derive(Debug)]
pub enum Transport {
    Smtp(Smtp),
    /// Writes each message as an `.eml` file into the directory.
    File {
        directory: PathBuf,
    },
}

#[derive(Debug)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<SmtpCredentials>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Starttls,
    Implicit,
    None,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Starttls => "starttls",
            TlsMode::Implicit => "implicit",
            TlsMode::None => "none",
        }
    }
}
