//! Email through a real SMTP server (aiosmtpd, run by
//! tests/support/smtp_server.py): plain, STARTTLS with AUTH, implicit TLS
//! with AUTH. Each delivered message is parsed as MIME and checked:
//! headers, both alternative parts, and the breached values. Failures give
//! operator advice and never crash the run.

use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders as _};

use crate::common::{
    self, Certificate, ConfigText, SmtpOptions, SmtpServer, accesswatch, certificate, plain_smtp,
    write,
};

/// A config with one breached critical ratio check (socal-south at
/// 3,476.79 members per therapist) routed to two recipients, and a
/// label-routed second route.
fn config(dir: &Path, email: &str) -> std::path::PathBuf {
    write(dir, "staffing.csv", common::STAFFING_CSV);
    ConfigText::new()
        .los_angeles()
        .from("accesswatch <accesswatch@plan.example>")
        .email(email)
        .staffing_source("")
        .staffing_check(
            "metric = \"members per therapist\"\n\
             citation = \"Plan staffing target; compare 28 CCR §1300.67.2(d)\"",
        )
        .route(
            "compliance",
            &["compliance@plan.example", "Analyst <analyst@plan.example>"],
        )
        .route("north-only", &["north@plan.example"])
        .section("labels = { region = \"socal-north\" }")
        .write(dir)
}

fn run_notify(config: &Path, env: &[(&str, &str)]) -> common::Output {
    accesswatch(
        &[
            "--config",
            config.to_str().unwrap(),
            "run",
            "--once",
            "--notify",
            "--as-of",
            "2026-11-30T14:00:00Z",
        ],
        env,
    )
}

/// Checks the one delivered alert: envelope, headers, both parts.
fn assert_alert(server: &SmtpServer, auth_user: Option<&str>) {
    let messages = server.messages();
    assert_eq!(
        messages.len(),
        1,
        "one email per run per route; the north-only route has no breach"
    );
    let (raw, envelope) = &messages[0];
    assert_eq!(envelope["mail_from"], "accesswatch@plan.example");
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["compliance@plan.example", "analyst@plan.example"])
    );
    assert_eq!(envelope["auth_user"], serde_json::json!(auth_user));
    let message = MessageParser::default().parse(raw).expect("a MIME message");
    assert_eq!(
        message.subject(),
        Some("[accesswatch] CRITICAL socal-south: members per therapist 3,477 (≤ 3,000)")
    );
    assert_eq!(
        message.from().unwrap().first().unwrap().address(),
        Some("accesswatch@plan.example")
    );
    let to: Vec<&str> = message
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, ["compliance@plan.example", "analyst@plan.example"]);
    assert!(message.message_id().is_some());
    assert!(
        message
            .header_raw("Content-Type")
            .unwrap()
            .contains("multipart/alternative"),
        "{:?}",
        message.header_raw("Content-Type")
    );
    assert_eq!(message.text_body_count(), 1);
    assert_eq!(message.html_body_count(), 1);
    let text = message.body_text(0).unwrap();
    for expected in [
        "CRITICAL  Members per FTE therapist (members-per-therapist)",
        "Standard: members per therapist must be <= 3,000",
        "Citation: Plan staffing target; compare 28 CCR §1300.67.2(d)",
        "Data as of: ",
        "accesswatch, run of 2026-11-30 06:00 PST: 1 new alert.",
    ] {
        assert!(
            text.contains(expected),
            "text part lacks {expected:?}:\n{text}"
        );
    }
    // The group's row of the table: group, status, value, limit, rows.
    let row = crate::common::row_cells(text.as_ref(), "region=socal-south");
    assert_eq!(
        row[..5],
        ["region=socal-south", "FIRING", "3,476.79", "<= 3,000", "1"],
        "{text}"
    );
    assert!(
        !text.contains("socal-north"),
        "only breached groups are listed"
    );
    let html = message.body_html(0).unwrap();
    // The breached group's chart: a PNG beside the HTML (multipart/related),
    // named by Content-ID, drawn at its 240 × 60 display size.
    let images = inline_images(&message);
    assert_eq!(images.len(), 1, "one chart for the one breached group");
    let (cid, png) = &images[0];
    assert!(
        html.contains(&format!("src=\"cid:{cid}\"")),
        "the HTML shows cid:{cid}:\n{html}"
    );
    let info = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .expect("a PNG");
    assert_eq!((info.info().width, info.info().height), (240, 60));
    assert!(
        html.contains("alt=\"Chart of members per therapist for region=socal-south over the last 1 run; the dashed red line is the limit (≤ 3,000)\""),
        "{html}"
    );
    for expected in [
        "<td style=\"border:1px solid #bbbbbb\">region=socal-south</td><td bgcolor=\"#b3261e\" style=\"border:1px solid #bbbbbb;background-color:#b3261e;color:#ffffff;font-weight:bold\">FIRING</td><td style=\"border:1px solid #bbbbbb\">3,476.79</td>",
        "<strong>Citation:</strong> Plan staffing target; compare 28 CCR §1300.67.2(d)",
    ] {
        assert!(
            html.contains(expected),
            "html part lacks {expected:?}:\n{html}"
        );
    }
}

/// The inline parts of `message`: (Content-ID without brackets, bytes),
/// each checked to be an `image/png` shown inline.
fn inline_images(message: &mail_parser::Message<'_>) -> Vec<(String, Vec<u8>)> {
    message
        .attachments()
        .map(|part| {
            let kind = part.content_type().expect("a Content-Type");
            assert_eq!(
                (kind.ctype(), kind.subtype()),
                ("image", Some("png")),
                "only charts are attached"
            );
            let disposition = part.content_disposition().expect("a disposition");
            assert_eq!(disposition.ctype(), "inline");
            let cid = part.content_id().expect("a Content-ID");
            (
                cid.trim_matches(['<', '>']).to_owned(),
                part.contents().to_vec(),
            )
        })
        .collect()
}

#[test]
fn plain_smtp_delivers_one_digest_per_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), SmtpOptions::default());
    let config = config(dir.path(), &plain_smtp(server.port));
    let out = run_notify(&config, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_alert(&server, None);
    let event = out.log("email sent", "route", "compliance");
    assert_eq!(event["status"], "sent");
    assert_eq!(event["recipients"], 2);
    assert!(event["duration_ms"].is_u64());
}

#[test]
fn starttls_with_auth_and_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = certificate(dir.path());
    let server = SmtpServer::start(
        dir.path(),
        SmtpOptions {
            starttls: true,
            auth: Some(("aw", "s3cret-pw")),
            certificate: Some(&certificate),
            ..SmtpOptions::default()
        },
    );
    write(dir.path(), "smtp-password", "s3cret-pw\n");
    let config = config(
        dir.path(),
        &format!(
            "host = \"localhost\"\nport = {}\ntls = \"starttls\"\nusername = \"aw\"\npassword_file = \"smtp-password\"\nca_file = \"{}\"",
            server.port,
            certificate.ca.display()
        ),
    );
    let out = run_notify(&config, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_alert(&server, Some("aw"));
    assert!(
        !out.stderr.contains("s3cret-pw"),
        "the password leaked:\n{}",
        out.stderr
    );
}

fn implicit_server(dir: &Path, certificate: &Certificate) -> SmtpServer {
    SmtpServer::start(
        dir,
        SmtpOptions {
            implicit_tls: true,
            auth: Some(("aw", "s3cret-pw")),
            certificate: Some(certificate),
            ..SmtpOptions::default()
        },
    )
}

#[test]
fn implicit_tls_with_a_systemd_credential() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = certificate(dir.path());
    let server = implicit_server(dir.path(), &certificate);
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    write(&credentials, "smtp-password", "s3cret-pw");
    let config = config(
        dir.path(),
        &format!(
            "host = \"localhost\"\nport = {}\ntls = \"implicit\"\nusername = \"aw\"\npassword_credential = \"smtp-password\"\nca_file = \"{}\"",
            server.port,
            certificate.ca.display()
        ),
    );
    let out = run_notify(
        &config,
        &[("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap())],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_alert(&server, Some("aw"));
}

#[test]
fn wrong_password_is_explained_and_the_run_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = certificate(dir.path());
    let server = implicit_server(dir.path(), &certificate);
    let config = config(
        dir.path(),
        &format!(
            "host = \"localhost\"\nport = {}\ntls = \"implicit\"\nusername = \"aw\"\npassword_env = \"PW\"\nca_file = \"{}\"",
            server.port,
            certificate.ca.display()
        ),
    );
    let out = run_notify(&config, &[("PW", "wrong-password")]);
    assert_eq!(
        out.code, 2,
        "the critical breach still decides the exit code"
    );
    assert!(
        out.stdout.contains("BREACH   region=socal-south"),
        "{}",
        out.stdout
    );
    let event = out.log("email failed; kept in the outbox", "route", "compliance");
    assert_eq!(event["status"], "failed");
    let error = event["error"].as_str().unwrap();
    assert!(error.contains("rejected the login (code 535"), "{error}");
    assert!(
        error.contains("check `username` and the password credential"),
        "{error}"
    );
    assert!(
        out.stderr
            .contains("alert email(s) could not be sent; they stay in the outbox")
    );
    assert!(!out.stderr.contains("wrong-password"));
    assert!(server.messages().is_empty());
}

#[test]
fn tls_mode_that_does_not_match_the_server_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = certificate(dir.path());
    // A STARTTLS server, but the client tries TLS from the first byte.
    let server = SmtpServer::start(
        dir.path(),
        SmtpOptions {
            starttls: true,
            certificate: Some(&certificate),
            ..SmtpOptions::default()
        },
    );
    let config = config(
        dir.path(),
        &format!(
            "host = \"localhost\"\nport = {}\ntls = \"implicit\"\ntimeout = \"5s\"\nca_file = \"{}\"",
            server.port,
            certificate.ca.display()
        ),
    );
    let out = run_notify(&config, &[]);
    let error = out.log("email failed; kept in the outbox", "route", "compliance")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains(
            "the server does not speak TLS on connect: with port 587 or 25 set tls = \"starttls\""
        ),
        "{error}"
    );
    // An untrusted certificate (no ca_file) is named as such.
    let config = config_without_ca(dir.path(), server.port);
    let out = run_notify(&config, &[]);
    let error = out.log("email failed; kept in the outbox", "route", "compliance")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains("certificate is not trusted: if it is signed by a private CA, set ca_file"),
        "{error}"
    );
}

fn config_without_ca(dir: &Path, port: u16) -> std::path::PathBuf {
    config(
        dir,
        &format!("host = \"localhost\"\nport = {port}\ntls = \"starttls\"\ntimeout = \"5s\""),
    )
}

#[test]
fn smtp_server_down_is_logged_with_advice() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &plain_smtp(port));
    let out = run_notify(&config, &[]);
    assert_eq!(out.code, 2);
    let error = out.log("email failed; kept in the outbox", "route", "compliance")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains(&format!(
            "SMTP server 127.0.0.1:{port} refused the connection"
        )),
        "{error}"
    );
}

#[test]
fn send_test_email_proves_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), SmtpOptions::default());
    let config = config(dir.path(), &plain_smtp(server.port));
    let out = accesswatch(
        &[
            "--config",
            config.to_str().unwrap(),
            "send-test-email",
            "--to",
            "ops@plan.example",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("sent a test message to ops@plan.example"),
        "{}",
        out.stdout
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].1["rcpt_tos"],
        serde_json::json!(["ops@plan.example"])
    );
    let message = MessageParser::default().parse(&messages[0].0).unwrap();
    assert_eq!(message.subject(), Some("[accesswatch] test message"));
    // Without --to it goes to every route's recipients.
    let out = accesswatch(
        &["--config", config.to_str().unwrap(), "send-test-email"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        server.messages()[1].1["rcpt_tos"],
        serde_json::json!([
            "analyst@plan.example",
            "compliance@plan.example",
            "north@plan.example"
        ])
    );
    // A failure exits 1 with the advice.
    drop(server);
    let out = accesswatch(
        &["--config", config.to_str().unwrap(), "send-test-email"],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("refused the connection"),
        "{}",
        out.stderr
    );
}

#[test]
fn file_transport_writes_complete_eml_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "transport = \"file\"\ndirectory = \"outbox\"");
    let out = run_notify(&config, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let raw = std::fs::read(&files[0]).unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        message.subject(),
        Some("[accesswatch] CRITICAL socal-south: members per therapist 3,477 (≤ 3,000)")
    );
    assert!(message.body_text(0).unwrap().contains("3,476.79"));
}

/// The HTML part as a person sees it: loaded in a real browser, its DOM
/// holds the band, the group's row and the citation; its screenshot is
/// not blank; it names no external resource and has no SVG or script.
#[test]
fn the_html_part_reads_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "transport = \"file\"\ndirectory = \"outbox\"");
    let out = run_notify(&config, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let file = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let raw = std::fs::read(&file).unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    let html = message.body_html(0).unwrap().into_owned();
    for absent in [
        "<svg",
        "<script",
        "src=\"http",
        "href=\"http",
        "<link",
        "@import",
    ] {
        assert!(!html.contains(absent), "{absent} in:\n{html}");
    }
    // As a mail client shows it: each cid: reference resolved to the
    // image part it names.
    let mut shown = html.clone();
    for (cid, png) in inline_images(&message) {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(&png);
        shown = shown.replace(
            &format!("cid:{cid}"),
            &format!("data:image/png;base64,{data}"),
        );
    }
    assert!(!shown.contains("cid:"), "every cid: names a part");
    let page = dir.path().join("email.html");
    std::fs::write(&page, &shown).unwrap();
    let dom = crate::browser::dump_dom(page.to_str().unwrap());
    assert!(dom.console.is_empty(), "console: {:?}", dom.console);
    for needle in [
        "CRITICAL",
        "region=socal-south",
        "FIRING",
        "3,476.79",
        "Plan staffing target; compare 28 CCR §1300.67.2(d)",
    ] {
        assert!(
            dom.stdout.contains(needle),
            "{needle} missing:\n{}",
            dom.stdout
        );
    }
    let shot = dir.path().join("email.png");
    crate::browser::screenshot(page.to_str().unwrap(), &shot, 900, 500);
    assert!(crate::browser::not_blank(&shot), "the screenshot is blank");
    // The chart is drawn: its limit line and breach dot are the chart's
    // red (200, 30, 30), which nothing else in the message uses.
    assert!(
        crate::browser::pixels_near(&shot, [200, 30, 30], 12) > 20,
        "the chart does not show in the screenshot"
    );
    if let Some(keep) = std::env::var_os("ACCESSWATCH_KEEP_SCREENSHOTS") {
        std::fs::copy(&shot, std::path::PathBuf::from(keep).join("email.png")).unwrap();
    }
}
