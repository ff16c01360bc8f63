//! The real daemon process: start-up run, signals, and a failing source
//! that never stops it.

use std::time::{Duration, Instant};

use crate::common::{self, ConfigText, Daemon, write};

fn config(dir: &std::path::Path, extra_source: &str) -> std::path::PathBuf {
    write(dir, "staffing.csv", common::STAFFING_CSV);
    ConfigText::new()
        .los_angeles()
        .daemon("log_format = \"json\"")
        .staffing_source("")
        .section(extra_source)
        .staffing_check("schedule = \"*/5 * * * *\"")
        .route("all", &["c@plan.example"])
        .write(dir)
}

fn eml_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("outbox"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn stops_cleanly_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "");
    let mut daemon = Daemon::start(&path, &[]);
    let line = daemon.wait_for("\"run finished\"", Duration::from_secs(20));
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["emails_queued"], 1, "{line}");
    daemon.wait_for("\"email sent\"", Duration::from_secs(10));
    daemon.wait_for("\"next run\"", Duration::from_secs(5));
    let sent = Instant::now();
    daemon.signal(signal);
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    assert!(sent.elapsed() < Duration::from_secs(10));
    daemon.wait_for("\"stopped\"", Duration::from_secs(1));
    let files = eml_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files.iter().all(|f| f.ends_with(".eml")),
        "nothing half-written: {files:?}"
    );
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    stops_cleanly_on("TERM");
}

#[test]
fn sigint_stops_the_daemon_cleanly() {
    stops_cleanly_on("INT");
}

#[test]
fn a_failing_source_never_stops_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broken = format!(
        "\n[[source]]\nid = \"down\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/x.csv\"\nretries = 0\n\n\
         [[check]]\nid = \"from-down\"\ntitle = \"From a source that is down\"\nkind = \"threshold\"\nsource = \"down\"\n\
         field = \"x\"\nop = \"<\"\nlimit = 1\nseverity = \"warning\"\n"
    );
    let path = config(dir.path(), &broken);
    let mut daemon = Daemon::start(&path, &[]);
    let failed = daemon.wait_for("\"source fetch failed\"", Duration::from_secs(20));
    assert!(
        failed.contains("\"source\":\"down\"") && failed.contains("cannot connect"),
        "{failed}"
    );
    daemon.wait_for("\"check could not be evaluated\"", Duration::from_secs(5));
    daemon.wait_for("\"run finished\"", Duration::from_secs(5));
    daemon.wait_for("\"email sent\"", Duration::from_secs(10));
    // Still alive after the failure, and waiting for its next run.
    daemon.wait_for("\"next run\"", Duration::from_secs(5));
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon exited"
    );
    // The blind spot is in the email, next to the breach.
    let files = eml_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let eml = std::fs::read(dir.path().join("outbox").join(&files[0])).unwrap();
    let message = mail_parser::MessageParser::default().parse(&eml).unwrap();
    let subject = message.subject().unwrap();
    assert!(
        subject.starts_with("[accesswatch] CRITICAL socal-south: members per fte 3,477 (≤ 3,000)"),
        "{subject}"
    );
    assert!(
        subject.ends_with("; 1 check could not be evaluated"),
        "{subject}"
    );
    let text = message.body_text(0).unwrap();
    assert!(
        text.contains("Could not be evaluated: source \"down\" failed: GET http://127.0.0.1:"),
        "{text}"
    );
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn sigterm_during_a_slow_fetch_exits_promptly() {
    use axum::routing::get;
    let http = common::HttpServer::start(axum::Router::new().route(
        "/slow.csv",
        get(|| async {
            // The scenario: a fetch still under way when SIGTERM comes.
            tokio::time::sleep(Duration::from_secs(60)).await;
            "x\n1\n"
        }),
    ));
    let dir = tempfile::tempdir().unwrap();
    let slow = format!(
        "\n[[source]]\nid = \"slow\"\nkind = \"http\"\nurl = \"{}\"\ntimeout = \"50s\"\n\n\
         [[check]]\nid = \"from-slow\"\ntitle = \"Slow\"\nkind = \"threshold\"\nsource = \"slow\"\n\
         field = \"x\"\nop = \"<\"\nlimit = 1\n",
        http.url("/slow.csv")
    );
    let path = config(dir.path(), &slow);
    let mut daemon = Daemon::start(&path, &[]);
    daemon.wait_for("\"source fetched\"", Duration::from_secs(20));
    let sent = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "took {:?}",
        sent.elapsed()
    );
    daemon.wait_for(
        "run abandoned while fetching: shutting down",
        Duration::from_secs(1),
    );
    assert!(
        eml_files(dir.path()).is_empty(),
        "an abandoned run sends nothing"
    );
    // The state file is whole: it opens, passes its integrity check, and
    // holds nothing half-recorded.
    let store = accesswatch::state::open(&accesswatch::state::Location::Directory(
        dir.path().join("state"),
    ))
    .expect("the state file is consistent");
    assert!(store.episodes().unwrap().is_empty());
    assert_eq!(store.outbox_stats().unwrap().unsent, 0);
}
