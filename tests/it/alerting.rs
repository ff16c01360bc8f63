//! Alert state and durable delivery, through the real binary, a real
//! SQLite state file and the aiosmtpd SMTP server: outages, restarts,
//! flapping data, stale sources, threading, acknowledgements, maintenance
//! windows and start-up errors. Each `run --once --notify --as-of T` is one
//! run of a fresh process, as a restart of the daemon would be.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mail_parser::MessageParser;

use crate::common::{
    self, ConfigText, Daemon, SmtpOptions, SmtpServer, accesswatch, free_port, plain_smtp,
    wait_until, write,
};

const T0: &str = "2026-11-30T14:00:00Z";

/// `T0` plus `hours`.
fn at(hours: f64) -> String {
    let t0 = chrono::DateTime::parse_from_rfc3339(T0).unwrap();
    (t0 + chrono::Duration::minutes((hours * 60.0) as i64)).to_rfc3339()
}

/// Staffing where socal-south has `south` members per FTE and north 2,000.
fn staffing(dir: &Path, south: u32) {
    write(
        dir,
        "staffing.csv",
        &format!("region,members,fte\nsocal-south,{south},1\nnorth,2000,1\n"),
    );
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    port: u16,
}

fn setup(check_extra: &str, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    staffing(dir.path(), 3500);
    let config = ConfigText::new()
        .los_angeles()
        .daemon("log_format = \"json\"")
        .from("accesswatch <aw@plan.example>")
        .email(&format!("{}\ntimeout = \"5s\"", plain_smtp(port)))
        .staffing_source("max_stale = \"2h\"")
        .staffing_check(&format!(
            "metric = \"members per therapist\"\n{check_extra}"
        ))
        .route("compliance", &["compliance@plan.example"])
        .section(extra)
        .write(dir.path());
    Setup { dir, config, port }
}

impl Setup {
    fn run(&self, when: &str) -> common::Output {
        accesswatch(
            &[
                "--config",
                self.config.to_str().unwrap(),
                "run",
                "--once",
                "--notify",
                "--as-of",
                when,
            ],
            &[],
        )
    }

    fn smtp(&self) -> SmtpServer {
        SmtpServer::start(
            self.dir.path(),
            SmtpOptions {
                port: self.port,
                ..SmtpOptions::default()
            },
        )
    }

    fn status(&self) -> serde_json::Value {
        let out = accesswatch(
            &[
                "--config",
                self.config.to_str().unwrap(),
                "status",
                "--json",
            ],
            &[],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// The delivered messages, parsed: (subject, Message-ID, In-Reply-To,
    /// References, text).
    fn mail(&self, server: &SmtpServer) -> Vec<Mail> {
        server
            .messages()
            .iter()
            .map(|(raw, _)| {
                let m = MessageParser::default().parse(raw).unwrap();
                let header = |name: &str| m.header_raw(name).map(|h| h.trim().to_owned());
                Mail {
                    subject: m.subject().unwrap_or_default().to_owned(),
                    message_id: header("Message-ID").unwrap_or_default(),
                    in_reply_to: header("In-Reply-To"),
                    references: header("References"),
                    text: m.body_text(0).unwrap_or_default().replace('\n', " "),
                }
            })
            .collect()
    }
}

#[derive(Debug)]
struct Mail {
    subject: String,
    message_id: String,
    in_reply_to: Option<String>,
    references: Option<String>,
    text: String,
}

#[test]
fn an_smtp_outage_delays_but_never_loses_or_repeats_an_alert() {
    let s = setup("", "");
    // Two runs with the SMTP server down: the alert is queued once.
    let out = s.run(&at(0.0));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("could not be sent; they stay in the outbox"),
        "{}",
        out.stderr
    );
    let out = s.run(&at(1.0));
    assert_eq!(out.code, 2);
    let status = s.status();
    assert_eq!(status["outbox"]["unsent"], 1, "{status}");
    assert!(
        status["outbox"]["last_error"]
            .as_str()
            .unwrap()
            .contains("refused the connection")
    );
    assert_eq!(status["alerts"][0]["state"], "firing");
    // The server is back: the queued message goes out, once.
    let server = s.smtp();
    let out = s.run(&at(2.0));
    assert_eq!(out.code, 2, "{}", out.stderr);
    s.run(&at(3.0));
    let mail = s.mail(&server);
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert!(
        mail[0].text.contains("[FIRING] region=socal-south: 3,500"),
        "{}",
        mail[0].text
    );
    assert_eq!(s.status()["outbox"]["unsent"], 0);
}

#[test]
fn reminders_thread_with_the_first_message_across_restarts() {
    let s = setup("repeat_interval = \"24h\"", "");
    let server = s.smtp();
    s.run(&at(0.0));
    // Later runs are new processes: no re-alert, the reminder clock goes on.
    for hours in [1.0, 12.0, 23.5] {
        s.run(&at(hours));
    }
    assert_eq!(s.mail(&server).len(), 1);
    s.run(&at(24.5));
    staffing(s.dir.path(), 2000);
    s.run(&at(30.0));
    let mail = s.mail(&server);
    assert_eq!(mail.len(), 3, "firing, one reminder, resolved: {mail:#?}");
    assert!(
        mail[1].text.contains("[STILL FIRING] region=socal-south"),
        "{}",
        mail[1].text
    );
    assert!(
        mail[2].text.contains(
            "[RESOLVED] region=socal-south: 2,000 members per therapist, within the limit"
        ),
        "{}",
        mail[2].text
    );
    let first = &mail[0].message_id;
    assert!(first.starts_with("<accesswatch."), "{first}");
    for later in &mail[1..] {
        assert_eq!(
            later.subject, mail[0].subject,
            "one stable subject per episode"
        );
        assert_eq!(later.in_reply_to.as_ref(), Some(first));
        assert!(later.references.as_ref().unwrap().contains(first.as_str()));
        assert_ne!(&later.message_id, first);
    }
    assert_eq!(mail[0].in_reply_to, None);
    // Resolved: nothing more, and a new breach is a new thread.
    staffing(s.dir.path(), 3600);
    s.run(&at(31.0));
    let mail = s.mail(&server);
    assert_eq!(mail.len(), 4);
    assert_eq!(mail[3].in_reply_to, None);
}

/// Threads are per route: a regional director's reminder replies to the
/// message the director got, never to one only the compliance team got;
/// Message-IDs carry the sender's domain, not the machine's name.
#[test]
fn each_route_has_its_own_thread_and_message_ids_use_the_senders_domain() {
    let s = setup(
        "repeat_interval = \"24h\"",
        "[[route]]\nname = \"director\"\nto = [\"director@plan.example\"]\nlabels = { region = \"socal-south\" }",
    );
    let server = s.smtp();
    s.run(&at(0.0));
    s.run(&at(24.5));
    let mail = s.mail(&server);
    assert_eq!(
        mail.len(),
        4,
        "a firing and a reminder for each route: {mail:#?}"
    );
    let recipients: Vec<String> = server
        .messages()
        .iter()
        .map(|(_, envelope)| envelope["rcpt_tos"].to_string())
        .collect();
    for message in &mail {
        assert!(
            message.message_id.ends_with("@plan.example>"),
            "{}",
            message.message_id
        );
    }
    for (first, reminder) in [(0, 2), (1, 3)] {
        assert_eq!(mail[first].in_reply_to, None);
        assert_eq!(recipients[first], recipients[reminder], "{recipients:?}");
        assert_eq!(
            mail[reminder].in_reply_to.as_ref(),
            Some(&mail[first].message_id),
            "{reminder} replies to its own route's first message"
        );
        let references = mail[reminder].references.as_deref().unwrap();
        let other = &mail[1 - first].message_id;
        assert!(!references.contains(other.as_str()), "{references}");
    }
}

/// A critical alert firing unacknowledged for `escalate_after` is told to
/// the `escalate_to` route once; reminders then reach it too; an
/// acknowledgement before then stops the escalation.
#[test]
fn unacknowledged_critical_alerts_escalate_once() {
    let escalating = "escalate_after = \"4h\"\nescalate_to = \"director\"\n\
                      [[route]]\nname = \"director\"\nto = [\"director@plan.example\"]\n\
                      severities = [\"warning\"]";
    let s = setup("repeat_interval = \"24h\"", escalating);
    let server = s.smtp();
    let to = |server: &SmtpServer| -> Vec<String> {
        server
            .messages()
            .iter()
            .map(|(_, envelope)| envelope["rcpt_tos"][0].as_str().unwrap().to_owned())
            .collect()
    };
    s.run(&at(0.0));
    s.run(&at(3.9));
    assert_eq!(
        to(&server),
        ["compliance@plan.example"],
        "not yet: under 4 h"
    );
    s.run(&at(4.1));
    s.run(&at(5.0));
    assert_eq!(
        to(&server),
        ["compliance@plan.example", "director@plan.example"],
        "escalated once"
    );
    let mail = s.mail(&server);
    assert!(
        mail[1].text.contains("[ESCALATED] region=socal-south"),
        "{}",
        mail[1].text
    );
    assert!(
        mail[1]
            .text
            .contains("escalated: firing and unacknowledged"),
        "{}",
        mail[1].text
    );
    assert_eq!(mail[1].in_reply_to, None, "the director's own thread");
    s.run(&at(24.5));
    let mut reminded = to(&server)[2..].to_vec();
    reminded.sort();
    assert_eq!(
        reminded,
        ["compliance@plan.example", "director@plan.example"],
        "reminders follow the escalation route too"
    );
    let recipients = to(&server);
    let director_reminder = (2..4)
        .find(|i| recipients[*i] == "director@plan.example")
        .unwrap();
    assert_eq!(
        s.mail(&server)[director_reminder].in_reply_to.as_ref(),
        Some(&mail[1].message_id),
        "the director's reminder replies to the escalation it got"
    );

    // Acknowledged within the 4 hours: never escalated.
    let s = setup("repeat_interval = \"24h\"", escalating);
    let server = s.smtp();
    s.run(&at(0.0));
    let out = accesswatch(
        &[
            "--config",
            s.config.to_str().unwrap(),
            "ack",
            "members-per-therapist",
            "--until",
            "2030-01-01T00:00:00Z",
            "--by",
            "dana",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    s.run(&at(4.5));
    s.run(&at(30.0));
    assert_eq!(
        to(&server),
        ["compliance@plan.example"],
        "acknowledged: no escalation"
    );
}

#[test]
fn clear_at_keeps_a_hovering_value_from_flapping() {
    let s = setup("clear_at = 2800", "");
    let server = s.smtp();
    for (hour, south) in [
        (0.0, 3010),
        (1.0, 2990),
        (2.0, 3005),
        (3.0, 2995),
        (4.0, 3001),
        (5.0, 2990),
    ] {
        staffing(s.dir.path(), south);
        s.run(&at(hour));
    }
    assert_eq!(s.mail(&server).len(), 1, "one alert, no storm");
    staffing(s.dir.path(), 2700);
    s.run(&at(6.0));
    let mail = s.mail(&server);
    assert_eq!(mail.len(), 2);
    assert!(mail[1].text.contains("[RESOLVED]"));
}

#[test]
fn a_stale_source_raises_data_unavailable_and_keeps_its_alerts() {
    let s = setup("", "");
    let server = s.smtp();
    s.run(&at(0.0));
    std::fs::remove_file(s.dir.path().join("staffing.csv")).unwrap();
    // Failing for one hour: within max_stale (2h), nothing new is due.
    let out = s.run(&at(1.0));
    assert_eq!(out.code, 3);
    assert_eq!(s.mail(&server).len(), 1);
    // Failing for three hours: the blind spot is an alert of its own.
    s.run(&at(3.0));
    let mail = s.mail(&server);
    assert_eq!(mail.len(), 2, "{mail:#?}");
    assert!(
        mail[1]
            .subject
            .contains("Data unavailable: source staffing"),
        "{}",
        mail[1].subject
    );
    assert!(mail[1].text.contains("[FIRING]"), "{}", mail[1].text);
    assert!(
        mail[1].text.contains("No such file or directory"),
        "{}",
        mail[1].text
    );
    let status = s.status();
    let alerts = status["alerts"].as_array().unwrap();
    let south = alerts
        .iter()
        .find(|a| a["check"] == "members-per-therapist")
        .unwrap();
    assert_eq!(south["state"], "firing", "unknown never resolves an alert");
    assert_eq!(south["last_status"], "unknown");
    // The source is back: the data-unavailable alert resolves; the breach
    // it was hiding is still firing and not told again.
    staffing(s.dir.path(), 3500);
    s.run(&at(4.0));
    let mail = s.mail(&server);
    assert_eq!(mail.len(), 3, "{mail:#?}");
    assert!(
        mail[2].subject.contains("Data unavailable"),
        "{}",
        mail[2].subject
    );
    assert!(mail[2].text.contains("[RESOLVED]"), "{}", mail[2].text);
    let status = s.status();
    assert_eq!(status["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(status["alerts"][0]["state"], "firing");
}

#[test]
fn acknowledgements_mute_reminders_and_are_recorded() {
    let s = setup("repeat_interval = \"24h\"", "");
    let server = s.smtp();
    s.run(&at(0.0));
    let config = s.config.to_str().unwrap();
    let out = accesswatch(
        &[
            "--config",
            config,
            "ack",
            "members-per-therapist",
            "--group",
            "region=socal-south",
            "--until",
            "2030-01-01T00:00:00Z",
            "--by",
            "dana",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("acknowledged 1 alert(s)"));
    s.run(&at(25.0));
    assert_eq!(s.mail(&server).len(), 1, "acknowledged: no reminder");
    let status = s.status();
    assert_eq!(status["alerts"][0]["ack_by"], "dana");
    assert_eq!(status["alerts"][0]["ack_until"], "2030-01-01T00:00:00Z");
    let text = accesswatch(&["--config", config, "status"], &[]);
    assert!(
        text.stdout.contains("acknowledged by dana"),
        "{}",
        text.stdout
    );
    let out = accesswatch(
        &[
            "--config",
            config,
            "ack",
            "members-per-therapist",
            "--clear",
            "--by",
            "dana",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    s.run(&at(26.0));
    assert_eq!(
        s.mail(&server).len(),
        2,
        "reminder after the acknowledgement was cleared"
    );
    let out = accesswatch(
        &[
            "--config",
            config,
            "ack",
            "no-such-check",
            "--until",
            "1h",
            "--by",
            "dana",
        ],
        &[],
    );
    assert_eq!(out.code, 1);
}

#[test]
fn maintenance_windows_hold_notifications_until_they_end() {
    let window = "[[maintenance]]\nname = \"data migration\"\nstart = \"2026-11-30T05:00\"\nend = \"2026-11-30T08:00\"\n";
    let s = setup("", window);
    let server = s.smtp();
    // 14:00Z is 06:00 in Los Angeles: inside the window.
    s.run(&at(0.0));
    s.run(&at(1.0));
    assert!(s.mail(&server).is_empty(), "held back");
    s.run(&at(2.5));
    let mail = s.mail(&server);
    assert_eq!(mail.len(), 1, "sent once the window ended");
    assert!(mail[0].text.contains("[FIRING]"));
}

#[test]
fn the_daemon_delivers_what_a_killed_daemon_left_in_the_outbox() {
    let s = setup("", "");
    // SMTP down: the daemon queues the alert and cannot send it.
    let mut daemon = Daemon::start(&s.config, &[]);
    daemon.wait_for("email failed; kept in the outbox", Duration::from_secs(20));
    daemon.signal("KILL");
    daemon.wait_exit(Duration::from_secs(5));
    let server = s.smtp();
    let mut daemon = Daemon::start(&s.config, &[]);
    daemon.wait_for("\"email sent\"", Duration::from_secs(20));
    daemon.wait_for("\"next run\"", Duration::from_secs(10));
    // Whatever the start-up run queued has been sent too (a repeat would
    // be), before the daemon stops.
    wait_until(Duration::from_secs(10), || {
        (s.status()["outbox"]["unsent"] == 0).then_some(())
    })
    .expect("the outbox was not emptied");
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
    let mail = s.mail(&server);
    assert_eq!(mail.len(), 1, "nothing lost, nothing repeated: {mail:#?}");
}

#[test]
fn state_file_problems_stop_the_start_with_the_fix() {
    // Locked by another running daemon.
    let s = setup("", "");
    let mut first = Daemon::start(&s.config, &[]);
    first.wait_for("\"run finished\"", Duration::from_secs(20));
    let second = accesswatch(&["--config", s.config.to_str().unwrap(), "run"], &[]);
    assert_eq!(second.code, 1);
    assert!(
        second
            .stderr
            .contains("is in use by another running accesswatch"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("accesswatch.db"),
        "{}",
        second.stderr
    );
    // `status` still reads it while the daemon runs.
    assert_eq!(s.status()["alerts"][0]["state"], "firing");
    first.signal("TERM");
    assert!(first.wait_exit(Duration::from_secs(10)).success());
    // Corrupt.
    std::fs::write(
        s.dir.path().join("state/accesswatch.db"),
        vec![0x13u8; 4096],
    )
    .unwrap();
    let _ = std::fs::remove_file(s.dir.path().join("state/accesswatch.db-wal"));
    let out = accesswatch(&["--config", s.config.to_str().unwrap(), "run"], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("is corrupt"), "{}", out.stderr);
    assert!(out.stderr.contains("mv "), "{}", out.stderr);
    // Read-only: an immutable file (`chattr +i`, which binds root too).
    std::fs::remove_file(s.dir.path().join("state/accesswatch.db")).unwrap();
    assert_eq!(s.run(&at(0.0)).code, 2, "a fresh state file");
    let db = s.dir.path().join("state/accesswatch.db");
    let chattr = |flag: &str| {
        let status = std::process::Command::new("chattr")
            .arg(flag)
            .arg(&db)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "chattr {flag} failed: the test needs a file system with immutable files"
        );
    };
    chattr("+i");
    let out = accesswatch(&["--config", s.config.to_str().unwrap(), "run"], &[]);
    chattr("-i");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot write the state file"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("it is read-only"), "{}", out.stderr);
    // Not writable (a place even root cannot create a directory in).
    let text = std::fs::read_to_string(&s.config).unwrap().replace(
        "state_directory = \"state\"",
        "state_directory = \"/proc/accesswatch-state\"",
    );
    write(s.dir.path(), "accesswatch.toml", &text);
    let out = accesswatch(&["--config", s.config.to_str().unwrap(), "run"], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("cannot create the state directory /proc/accesswatch-state"),
        "{}",
        out.stderr
    );
}

#[test]
fn render_prints_both_parts_without_sending() {
    let s = setup("", "");
    let server = s.smtp();
    let out = accesswatch(
        &[
            "--config",
            s.config.to_str().unwrap(),
            "render",
            "members-per-therapist",
            "--group",
            "region=socal-south",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(
            "Subject: [accesswatch] CRITICAL: region socal-south above 3,000 members per therapist"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("--- text/plain ---"));
    assert!(out.stdout.contains("--- text/html ---"));
    assert!(
        out.stdout
            .contains("<td>region=socal-south</td><td>3,500</td>"),
        "{}",
        out.stdout
    );
    assert!(s.mail(&server).is_empty());
    assert!(
        !s.dir.path().join("state").exists(),
        "render touches no state"
    );
}

#[test]
fn an_email_stuck_past_undeliverable_after_is_reported_once_and_kept() {
    let s = setup("", "[alerting]\nundeliverable_after = \"1h\"\n");
    // A run of nine days ago whose email could never be sent.
    let long_ago = "2026-11-20T14:00:00Z";
    let out = s.run(long_ago);
    let stuck: Vec<serde_json::Value> = out
        .logs()
        .into_iter()
        .filter(|e| e["status"] == "undeliverable")
        .collect();
    assert_eq!(stuck.len(), 1, "{}", out.stderr);
    assert_eq!(stuck[0]["level"], "ERROR");
    let status = s.status();
    assert_eq!(status["outbox"]["undeliverable"], true, "{status}");
    assert_eq!(status["outbox"]["unsent"], 1, "kept");
    let text = accesswatch(&["--config", s.config.to_str().unwrap(), "status"], &[]);
    assert!(text.stdout.contains("UNDELIVERABLE"), "{}", text.stdout);
    // Reported once: the next failed attempt says nothing more at error level.
    let out = s.run(long_ago);
    assert!(
        out.logs().iter().all(|e| e["status"] != "undeliverable"),
        "{}",
        out.stderr
    );
    // And delivered once the server is back.
    let server = s.smtp();
    s.run(long_ago);
    assert_eq!(s.mail(&server).len(), 1);
    assert_eq!(s.status()["outbox"]["undeliverable"], false);
}
