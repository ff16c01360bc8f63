//! Secrets: SMTP passwords, HTTP tokens and header values.
//!
//! A [`Secret`] is read once while the configuration is validated, from a
//! file (`*_file`), an environment variable (`*_env`) or a systemd
//! credential (`*_credential`, read from `$CREDENTIALS_DIRECTORY/NAME`, which
//! `LoadCredential=` fills). Its `Debug` and `Display` print a mask, so a
//! secret cannot reach a log line or an error message by accident; the one
//! way out is [`Secret::expose`], called only where the value is handed to
//! the SMTP or HTTP client.

use std::fmt;
use std::path::Path;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret given in the clear; used for header values that are not
    /// confidential (`value = "application/json"`) and in tests.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret is kept, as the configuration names it.
pub enum SecretSource<'a> {
    File(&'a Path),
    Env(&'a str),
    Credential(&'a str),
}

impl SecretSource<'_> {
    /// Reads the secret. Trailing newlines are trimmed (files written with
    /// `echo` end in one); an empty secret is an error, since it is always
    /// a mistake. The error says where we looked, never what we found.
    pub fn read(&self) -> Result<Secret, String> {
        self.read_in(None)
    }

    /// Reads the secret, taking credentials from `credentials` when given
    /// (`check-config --credentials-directory`) instead of
    /// `$CREDENTIALS_DIRECTORY`.
    pub fn read_in(&self, credentials: Option<&Path>) -> Result<Secret, String> {
        let value = match self {
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            SecretSource::Env(name) => std::env::var(name).map_err(|_| {
                format!("environment variable {name} is not set (or not valid UTF-8)")
            })?,
            SecretSource::Credential(name) => {
                let directory = credentials
                    .map(|d| d.as_os_str().to_owned())
                    .or_else(|| std::env::var_os("CREDENTIALS_DIRECTORY"))
                    .ok_or_else(|| {
                        format!(
                            "credential `{name}` needs $CREDENTIALS_DIRECTORY, which systemd sets \
                         for a unit with LoadCredential={name}:/path; outside systemd use the \
                         *_file or *_env key instead"
                        )
                    })?;
                let path = Path::new(&directory).join(name);
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read credential {}: {e}", path.display()))?
            }
        };
        let value = value.trim_end_matches(['\r', '\n']).to_owned();
        if value.is_empty() {
            return Err("the secret is empty".to_owned());
        }
        Ok(Secret(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_mask_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn file_secret_trims_newline_and_rejects_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(SecretSource::File(&path).read().unwrap().expose(), "s3cret");
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(
            SecretSource::File(&path).read().unwrap_err(),
            "the secret is empty"
        );
        let missing = dir.path().join("missing");
        assert!(
            SecretSource::File(&missing)
                .read()
                .unwrap_err()
                .contains("cannot read")
        );
    }
}
