//! `[email]`: transport, sender, SMTP settings and the password.

use std::ops::Range;

use super::Validator;
use crate::config::load::Entry;
use crate::config::raw::*;
use crate::config::*;
use crate::notify::mail as address;

pub(super) fn email(v: &mut Validator, entry: &Entry<RawEmail>) -> Option<Email> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let from = v
        .required(&raw.from, span, "`from` in [email] (the sender address)")
        .cloned();
    let from = from.and_then(|from| match address::parse_mailbox(from.get_ref()) {
        Ok(mailbox) => Some(mailbox),
        Err(e) => {
            v.problem(
                from.span(),
                format!("`from` is not an email address ({e}): write it like \"accesswatch <alerts@plan.example>\""),
            );
            None
        }
    });
    let subject_prefix = raw
        .subject_prefix
        .as_ref()
        .map_or_else(|| "[accesswatch]".to_owned(), |p| p.get_ref().clone());
    let kind = raw.transport.as_ref().map_or(Some("smtp"), |t| {
        v.choice(t, "transport", &[("smtp", "smtp"), ("file", "file")])
    });
    let transport = match kind? {
        "file" => {
            let directory = v.required(
                &raw.directory,
                span,
                "`directory` in [email] (where .eml files go)",
            );
            let directory = directory.map(|d| v.path(d.get_ref()));
            v.plain_secret("password", raw.password.as_ref());
            for (key, value) in [
                ("host", &raw.host),
                ("tls", &raw.tls),
                ("username", &raw.username),
                ("password_file", &raw.password_file),
                ("password_env", &raw.password_env),
                ("password_credential", &raw.password_credential),
            ] {
                if let Some(value) = value {
                    v.problem(
                        value.span(),
                        format!("`{key}` applies to transport = \"smtp\" only; remove it"),
                    );
                }
            }
            Transport::File {
                directory: directory?,
            }
        }
        _ => Transport::Smtp(smtp(v, raw, span)?),
    };
    let from = from?;
    let message_id_domain = match &raw.message_id_domain {
        Some(domain) => {
            let text = domain.get_ref().trim();
            let valid = !text.is_empty()
                && text.len() <= 253
                && text.split('.').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !valid {
                v.problem(
                    domain.span(),
                    "`message_id_domain` must be a domain name, like \"plan.example\"",
                );
            }
            text.to_owned()
        }
        None => domain_of(&from),
    };
    Some(Email {
        from,
        subject_prefix,
        message_id_domain,
        transport,
    })
}

/// The domain of a mailbox: `Alerts <alerts@plan.example>` → `plan.example`.
fn domain_of(mailbox: &str) -> String {
    mailbox
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim_end_matches('>').trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn smtp(v: &mut Validator, raw: &RawEmail, span: &Range<usize>) -> Option<Smtp> {
    if let Some(directory) = &raw.directory {
        v.problem(
            directory.span(),
            "`directory` applies to transport = \"file\" only; remove it or set transport = \"file\"",
        );
    }
    let host = v.required(&raw.host, span, "`host` in [email] (the SMTP server)");
    let host = host.and_then(|h| v.non_empty(h, "host"));
    let tls = raw.tls.as_ref().map_or(Some(TlsMode::Starttls), |t| {
        v.choice(
            t,
            "tls",
            &[
                ("starttls", TlsMode::Starttls),
                ("implicit", TlsMode::Implicit),
                ("none", TlsMode::None),
            ],
        )
    });
    let default_port = match tls {
        Some(TlsMode::Implicit) => 465,
        Some(TlsMode::None) => 25,
        _ => 587,
    };
    let port = match &raw.port {
        None => default_port,
        Some(port) => {
            match u16::try_from(*port.get_ref()) {
                Ok(p) if p > 0 => p,
                _ => {
                    v.problem(port.span(), "`port` must be between 1 and 65535 (587 for STARTTLS, 465 for implicit TLS)");
                    default_port
                }
            }
        }
    };
    let password = v.secret(
        "password",
        raw.password.as_ref(),
        &raw.password_file,
        &raw.password_env,
        &raw.password_credential,
    );
    let credentials = match (&raw.username, password) {
        (Some(username), Some(password)) => Some(SmtpCredentials {
            username: username.get_ref().clone(),
            password,
        }),
        (None, None) => None,
        (Some(username), None) => {
            // A plain `password` has its own message, which names the keys.
            if raw.password.is_none()
                && raw.password_file.is_none()
                && raw.password_env.is_none()
                && raw.password_credential.is_none()
            {
                v.problem(
                    username.span(),
                    "`username` is set but no password: add password_file, password_env or password_credential",
                );
            }
            None
        }
        (None, Some(_)) => {
            v.problem(
                span.clone(),
                "a password is set but no `username`: add username",
            );
            None
        }
    };
    if credentials.is_some() && tls == Some(TlsMode::None) {
        let tls_span = raw.tls.as_ref().map_or(span.clone(), S::span);
        v.problem(
            tls_span,
            "tls = \"none\" would send the SMTP password in the clear: use tls = \"starttls\" (port 587) or \"implicit\" (port 465)",
        );
    }
    let ca_file = raw.ca_file.as_ref().map(|f| v.path(f.get_ref()));
    if let (Some(path), Some(raw_path)) = (&ca_file, &raw.ca_file)
        && let Err(e) = std::fs::metadata(path)
    {
        v.problem(
            raw_path.span(),
            format!("`ca_file` {}: {e}", path.display()),
        );
    }
    let timeout = v.duration(&raw.timeout, "timeout", Duration::from_secs(30));
    if let (Some(host), Some(raw_host)) = (&host, &raw.host) {
        v.probe(
            raw_host.span(),
            Probe::Host {
                host: host.clone(),
                port,
            },
        );
    }
    Some(Smtp {
        host: host?,
        port,
        tls: tls?,
        credentials,
        ca_file,
        timeout,
    })
}
