//! The defects found under fault injection (issue 10), each replayed: a
//! reload never sends a message twice, a stalled SMTP server never wedges
//! delivery, secret headers never follow a redirect to another origin,
//! absurd durations are refused, a reload never overlaps a job with
//! itself, server-written text stays out of emails and state, and a state
//! file left empty by a kill is "not run yet".

use std::time::Duration;

use crate::common::{self, ConfigText, Daemon, SmtpOptions, SmtpServer, accesswatch, write};

/// The configuration of most tests here: the staffing check (which
/// breaches) on a file source, an `all` route, state in `state/`.
fn staffing(dir: &std::path::Path) -> ConfigText {
    write(dir, "staffing.csv", common::STAFFING_CSV);
    ConfigText::new()
        .los_angeles()
        .daemon("log_format = \"json\"")
        .staffing_source("")
        .staffing_check("")
        .route("all", &["c@plan.example"])
}

#[test]
fn status_of_a_state_file_left_empty_by_a_kill_says_not_run_yet() {
    let dir = tempfile::tempdir().unwrap();
    let config = staffing(dir.path()).write(dir.path());
    // A kill during the first start-up leaves the file created but not
    // migrated: schema version 0, no tables.
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/accesswatch.db"), b"").unwrap();
    let config = config.to_str().unwrap();
    for args in [
        vec!["--config", config, "status"],
        vec!["--config", config, "status", "--json"],
        vec![
            "--config",
            config,
            "ack",
            "members-per-therapist",
            "--until",
            "1d",
            "--by",
            "ops",
        ],
    ] {
        let out = accesswatch(&args, &[]);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("the daemon has not run yet"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("no such table"), "{}", out.stderr);
    }
    // And the daemon's own start-up migrates such a file.
    let out = accesswatch(&["--config", config, "run", "--once", "--notify"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = accesswatch(&["--config", config, "status"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let _ = Duration::ZERO;
}

/// The Message-ID of each message the SMTP server received.
fn message_ids(server: &SmtpServer) -> Vec<String> {
    server
        .messages()
        .iter()
        .map(|(raw, _)| {
            mail_parser::MessageParser::default()
                .parse(raw)
                .and_then(|m| m.message_id().map(str::to_owned))
                .expect("a Message-ID")
        })
        .collect()
}

#[test]
fn reloads_during_delivery_send_every_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(
        dir.path(),
        SmtpOptions {
            delay: Some(0.4),
            ..SmtpOptions::default()
        },
    );
    // Eight routes: the start-up run queues eight digests, which the slow
    // server takes more than three seconds to accept.
    let mut config = staffing(dir.path()).email(&common::plain_smtp(server.port));
    for n in 2..=8 {
        config = config.route(&format!("r{n}"), &[&format!("c{n}@plan.example")]);
    }
    let path = config.write(dir.path());
    let mut daemon = Daemon::start(&path, &[]);
    let line = daemon.wait_for("\"run finished\"", Duration::from_secs(30));
    assert!(line.contains("\"emails_queued\":8"), "{line}");
    daemon.wait_for("\"email sent\"", Duration::from_secs(30));
    for reloads in 1..=4 {
        daemon.signal("HUP");
        daemon.wait_for_count(
            "\"configuration reloaded\"",
            reloads,
            Duration::from_secs(10),
        );
    }
    daemon.wait_for_count("\"email sent\"", 8, Duration::from_secs(60));
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(15)).success());
    let ids = message_ids(&server);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "eight messages: {ids:?}");
    assert_eq!(ids.len(), 8, "each exactly once: {ids:?}");
}
