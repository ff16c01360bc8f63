//! Sending email: the only module that knows lettre.
//!
//! [`Mailer`] sends a [`RenderedEmail`] either over SMTP (`tls = "starttls"`,
//! `"implicit"` or `"none"`, optional AUTH) or by writing an `.eml` file
//! into a folder. A file is written under a temporary name and renamed, so
//! a reader never sees half a message. SMTP failures are turned into a
//! sentence that tells the operator what to change ([`advice`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render::RenderedEmail;
use crate::notify::spec::{Email, Smtp, TlsMode, Transport};

/// Checks that `text` is one mailbox (`name <addr@host>` or `addr@host`)
/// and returns it in normal form.
pub fn parse_mailbox(text: &str) -> Result<String, String> {
    text.trim()
        .parse::<Mailbox>()
        .map(|m| m.to_string())
        .map_err(|e| e.to_string())
}

pub enum Mailer {
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        settings: SmtpSummary,
    },
    File {
        directory: PathBuf,
    },
}

/// What the advice needs to know about the SMTP settings.
#[derive(Debug, Clone)]
pub struct SmtpSummary {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub auth: bool,
    pub timeout: Duration,
}

impl Mailer {
    pub fn new(email: &Email) -> anyhow::Result<Mailer> {
        match &email.transport {
            Transport::File { directory } => Ok(Mailer::File {
                directory: directory.clone(),
            }),
            Transport::Smtp(smtp) => Ok(Mailer::Smtp {
                transport: Box::new(smtp_transport(smtp)?),
                settings: SmtpSummary {
                    host: smtp.host.clone(),
                    port: smtp.port,
                    tls: smtp.tls,
                    auth: smtp.credentials.is_some(),
                    timeout: smtp.timeout,
                },
            }),
        }
    }

    /// A short description for logs: `smtp://host:587 (starttls)` or
    /// `file:/var/lib/accesswatch/mail`.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { settings, .. } => format!(
                "smtp://{}:{} ({})",
                settings.host,
                settings.port,
                settings.tls.as_str()
            ),
            Mailer::File { directory } => format!("file:{}", directory.display()),
        }
    }

    /// The longest one message can take to send: over SMTP twice
    /// `timeout` (connect, greeting and every command together), for a
    /// file a minute. [`Mailer::send_threaded`] gives up after it.
    pub fn longest_attempt(&self) -> Duration {
        match self {
            Mailer::Smtp { settings, .. } => settings.timeout.saturating_mul(2),
            Mailer::File { .. } => Duration::from_secs(60),
        }
    }

    /// Sends one message to `to`. The error is already phrased for the
    /// operator.
    pub async fn send(
        &self,
        from: &str,
        to: &[String],
        email: &RenderedEmail,
    ) -> anyhow::Result<()> {
        self.send_threaded(from, to, email, &Threading::default())
            .await
    }

    /// Sends with a given Message-ID and thread headers (the outbox keeps
    /// them, so a message sent twice after a crash is recognisably the same).
    pub async fn send_threaded(
        &self,
        from: &str,
        to: &[String],
        email: &RenderedEmail,
        threading: &Threading,
    ) -> anyhow::Result<()> {
        let message = build_message(from, to, email, threading)?;
        let deadline = self.longest_attempt();
        match self {
            Mailer::Smtp {
                transport,
                settings,
            } => {
                // lettre's async transport applies `timeout` to the TCP
                // connect only; a server that accepts and then stalls (no
                // greeting, a byte a second) is bounded here, for the
                // whole message. Dropping the future closes the connection.
                match tokio::time::timeout(deadline, transport.send(message)).await {
                    Ok(sent) => sent
                        .map(drop)
                        .map_err(|e| anyhow::anyhow!(advice(&e, settings))),
                    Err(_) => Err(anyhow::anyhow!(stalled(settings))),
                }
            }
            Mailer::File { directory } => {
                match tokio::time::timeout(deadline, write_eml(directory, &message.formatted()))
                    .await
                {
                    Ok(written) => written,
                    Err(_) => Err(anyhow::anyhow!(
                        "writing the message into {} took longer than {}s: check the disk or mount behind it",
                        directory.display(),
                        deadline.as_secs()
                    )),
                }
            }
        }
    }
}

fn smtp_transport(smtp: &Smtp) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let tls = match smtp.tls {
        TlsMode::None => Tls::None,
        TlsMode::Starttls => Tls::Required(tls_parameters(smtp)?),
        TlsMode::Implicit => Tls::Wrapper(tls_parameters(smtp)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(smtp.timeout));
    if let Some(credentials) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(
            credentials.username.clone(),
            credentials.password.expose().to_owned(),
        ));
    }
    Ok(builder.build())
}

fn tls_parameters(smtp: &Smtp) -> anyhow::Result<TlsParameters> {
    let mut builder = TlsParameters::builder(smtp.host.clone());
    if let Some(ca_file) = &smtp.ca_file {
        let pem = std::fs::read(ca_file)
            .with_context(|| format!("reading the SMTP ca_file {}", ca_file.display()))?;
        let certificate = Certificate::from_pem(&pem)
            .with_context(|| format!("ca_file {} is not a PEM certificate", ca_file.display()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().context("setting up TLS for SMTP")
}

/// Message-ID and the headers that make mail clients thread messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Threading {
    /// `None`: lettre makes one up.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

fn build_message(
    from: &str,
    to: &[String],
    email: &RenderedEmail,
    threading: &Threading,
) -> anyhow::Result<Message> {
    let mut builder = Message::builder()
        .message_id(threading.message_id.clone())
        .from(from.parse().context("parsing the sender address")?)
        .subject(email.subject.clone());
    if let Some(parent) = &threading.in_reply_to {
        builder = builder.in_reply_to(parent.clone());
    }
    if !threading.references.is_empty() {
        builder = builder.references(threading.references.join(" "));
    }
    for recipient in to {
        builder = builder.to(recipient
            .parse()
            .with_context(|| format!("parsing recipient {recipient:?}"))?);
    }
    let body = if email.images.is_empty() {
        MultiPart::alternative_plain_html(email.text.clone(), email.html.clone())
    } else {
        // text/plain | (text/html + its images by Content-ID): what Gmail
        // and Outlook show inline, where they would not show SVG.
        let related = email.images.iter().fold(
            MultiPart::related().singlepart(SinglePart::html(email.html.clone())),
            |related, image| {
                related.singlepart(Attachment::new_inline(image.content_id.clone()).body(
                    image.png.clone(),
                    // A constant the media-type grammar accepts: no
                    // config or data reaches this parse.
                    ContentType::parse("image/png").expect("a valid media type"),
                ))
            },
        );
        MultiPart::alternative()
            .singlepart(SinglePart::plain(email.text.clone()))
            .multipart(related)
    };
    builder.multipart(body).context("building the message")
}

/// Writes `bytes` to a new `.eml` file in `directory`, atomically.
async fn write_eml(directory: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    tokio::fs::create_dir_all(directory)
        .await
        .with_context(|| format!("creating the mail folder {}", directory.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let name = format!(
        "{stamp}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let temporary = directory.join(format!(".{name}.tmp"));
    let target = directory.join(format!("{name}.eml"));
    tokio::fs::write(&temporary, bytes)
        .await
        .with_context(|| format!("writing {}", temporary.display()))?;
    tokio::fs::rename(&temporary, &target)
        .await
        .with_context(|| format!("renaming {} to {}", temporary.display(), target.display()))?;
    Ok(())
}

impl Mailer {
    /// Connects once without sending (`check-config --connect`): for SMTP,
    /// TLS as configured, EHLO and AUTH; for files, that the folder can be
    /// written. The error is phrased for the operator.
    pub async fn check(&self) -> anyhow::Result<String> {
        match self {
            Mailer::Smtp {
                transport,
                settings,
            } => {
                let ok = transport
                    .test_connection()
                    .await
                    .map_err(|e| anyhow::anyhow!(advice(&e, settings)))?;
                anyhow::ensure!(
                    ok,
                    "SMTP server {}:{} did not answer NOOP",
                    settings.host,
                    settings.port
                );
                let auth = if settings.auth { ", AUTH accepted" } else { "" };
                Ok(format!("connected, EHLO{auth}"))
            }
            Mailer::File { directory } => {
                tokio::fs::create_dir_all(directory)
                    .await
                    .with_context(|| format!("creating the mail folder {}", directory.display()))?;
                let probe = directory.join(format!(".check-config-{}.tmp", std::process::id()));
                tokio::fs::write(&probe, b"")
                    .await
                    .with_context(|| format!("writing in {}", directory.display()))?;
                let _ = tokio::fs::remove_file(&probe).await;
                Ok(format!("{} is writable", directory.display()))
            }
        }
    }
}

/// Turns a lettre error into a sentence that says what went wrong and what
/// to change in `[email]`.
fn advice(error: &lettre::transport::smtp::Error, smtp: &SmtpSummary) -> String {
    let detail = error_chain(error);
    let at = format!("SMTP server {}:{}", smtp.host, smtp.port);
    let lower = detail.to_ascii_lowercase();
    if error.is_timeout() {
        let hint = match smtp.tls {
            TlsMode::Starttls | TlsMode::None if smtp.port == 465 => {
                "; port 465 expects TLS from the first byte: set tls = \"implicit\""
            }
            _ => "; check host, port and firewall, or raise `timeout`",
        };
        return format!("{at} did not answer in time{hint} ({detail})");
    }
    if lower.contains("connection refused") {
        return format!(
            "{at} refused the connection: check `host` and `port` and that the server is running ({detail})"
        );
    }
    if error.is_tls()
        || lower.contains("tls")
        || lower.contains("certificate")
        || lower.contains("corrupt message")
        || lower.contains("handshake")
    {
        let hint = if lower.contains("certificate") || lower.contains("unknownissuer") {
            "the server's certificate is not trusted: if it is signed by a private CA, set ca_file = \"/path/to/ca.pem\""
        } else if smtp.tls == TlsMode::Implicit && smtp.port != 465 {
            "the server does not speak TLS on connect: with port 587 or 25 set tls = \"starttls\""
        } else if smtp.tls == TlsMode::Starttls && smtp.port == 465 {
            "server closed the connection during TLS: with port 465 set tls = \"implicit\""
        } else {
            "check that `tls` matches the port (587: \"starttls\", 465: \"implicit\")"
        };
        return format!("TLS with {at} failed: {hint} ({detail})");
    }
    if lower.contains("starttls") || lower.contains("no tls") {
        return format!(
            "{at} does not offer STARTTLS: use tls = \"implicit\" on port 465, or tls = \"none\" only on a trusted network ({detail})"
        );
    }
    if let Some(code) = error.status() {
        let code_text = code.to_string();
        if code_text.starts_with("535")
            || code_text.starts_with("534")
            || code_text.starts_with("530")
        {
            return format!(
                "{at} rejected the login (code {code_text}): check `username` and the password credential ({detail})"
            );
        }
        if code_text.starts_with("55") {
            return format!(
                "{at} refused the message (code {code_text}): check `from` and the route's `to` addresses, and that the server relays for this sender ({detail})"
            );
        }
        if error.is_transient() {
            return format!(
                "{at} is busy or failing temporarily (code {code_text}); the next run will try again ({detail})"
            );
        }
        return format!("{at} refused the message (code {code_text}) ({detail})");
    }
    if lower.contains("closed") || lower.contains("eof") || lower.contains("reset") {
        let hint = match (smtp.tls, smtp.port) {
            (TlsMode::Starttls | TlsMode::None, 465) => {
                "server closed the connection during TLS: with port 465 set tls = \"implicit\""
            }
            _ => "the server closed the connection; check that `tls` matches the port",
        };
        return format!("{at}: {hint} ({detail})");
    }
    if !smtp.auth && lower.contains("auth") {
        return format!(
            "{at} requires a login: set `username` and password_file (or _env, _credential) ({detail})"
        );
    }
    format!("sending through {at} failed: {detail}")
}

/// The advice for a server that accepted the connection and then did not
/// finish the exchange in time.
fn stalled(smtp: &SmtpSummary) -> String {
    let seconds = smtp.timeout.as_secs_f64();
    let port_hint = match smtp.tls {
        TlsMode::Starttls | TlsMode::None if smtp.port == 465 => {
            "; port 465 expects TLS from the first byte: set tls = \"implicit\""
        }
        _ => "",
    };
    format!(
        "the SMTP server {}:{} accepted the connection but did not answer within `timeout` ({seconds}s; \
         the whole message may take twice that){port_hint}: check that `host` and `port` point at an SMTP \
         server and that `tls` matches the port, or raise `timeout` for a slow server",
        smtp.host, smtp.port
    )
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

/// This machine's name, for Message-IDs and the test email.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// The plain message of `send-test-email`.
pub fn test_email(describe: &str, host: &str) -> RenderedEmail {
    let text = format!(
        "This is a test message from accesswatch on {host}, sent through {describe}.\n\
         If you can read it, the [email] settings work.\n"
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body><p>This is a test message from accesswatch on {host}, sent through {describe}.</p>\
         <p>If you can read it, the [email] settings work.</p></body></html>\n"
    );
    RenderedEmail {
        subject: "[accesswatch] test message".to_owned(),
        text,
        html,
        images: Vec::new(),
    }
}
