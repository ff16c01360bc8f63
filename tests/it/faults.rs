//! The defects found under fault injection (issue 10), each replayed: a
//! reload never sends a message twice, a stalled SMTP server never wedges
//! delivery, secret headers never follow a redirect to another origin,
//! absurd durations are refused, a reload never overlaps a job with
//! itself, server-written text stays out of emails and state, and a state
//! file left empty by a kill is "not run yet".

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;

use crate::common::{
    self, ConfigText, Daemon, HttpServer, SmtpOptions, SmtpServer, accesswatch, write,
};

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

/// When each request to the slow source started and ended.
type Requests = Arc<Mutex<Vec<(Instant, Option<Instant>)>>>;

/// A source whose first answer takes until two seconds past the first
/// minute boundary at least ten seconds away (so that a `* * * * *` job
/// ticks while it is still being fetched); later answers are immediate.
fn slow_first_source(requests: Requests) -> HttpServer {
    HttpServer::start(Router::new().route(
        "/staffing.csv",
        get(move || {
            let requests = requests.clone();
            async move {
                let index = {
                    let mut list = requests.lock().unwrap();
                    list.push((Instant::now(), None));
                    list.len() - 1
                };
                if index == 0 {
                    let now = chrono::Utc::now();
                    let second = now.timestamp() % 60;
                    let to_boundary = 60 - second;
                    let wait = if to_boundary < 10 {
                        to_boundary + 60
                    } else {
                        to_boundary
                    } + 2;
                    tokio::time::sleep(Duration::from_secs(wait as u64)).await;
                }
                requests.lock().unwrap()[index].1 = Some(Instant::now());
                common::STAFFING_CSV
            }
        }),
    ))
}

#[test]
fn a_reload_during_a_run_never_overlaps_the_job_with_itself() {
    let dir = tempfile::tempdir().unwrap();
    let requests: Requests = Arc::default();
    let http = slow_first_source(requests.clone());
    let path = ConfigText::new()
        .los_angeles()
        .daemon("log_format = \"json\"")
        .section(&format!(
            "[[source]]\nid = \"staffing\"\nkind = \"http\"\nurl = \"{}\"\ntimeout = \"120s\"",
            http.url("/staffing.csv")
        ))
        .staffing_check("schedule = \"* * * * *\"")
        .route("all", &["c@plan.example"])
        .write(dir.path());
    let mut daemon = Daemon::start(&path, &[]);
    let started = |n: usize| requests.lock().unwrap().len() >= n;
    poll_until(Duration::from_secs(30), || started(1));
    daemon.signal("HUP");
    daemon.wait_for("\"configuration reloaded\"", Duration::from_secs(10));
    let finished = |n: usize| {
        let list = requests.lock().unwrap();
        list.len() >= n && list.iter().take(n).all(|(_, end)| end.is_some())
    };
    poll_until(Duration::from_secs(150), || finished(2));
    let list = requests.lock().unwrap().clone();
    let (first_end, second_start) = (list[0].1.unwrap(), list[1].0);
    assert!(
        second_start >= first_end,
        "the reloaded job fetched {:?} before the old run's fetch ended",
        first_end - second_start
    );
}

/// Polls `condition` every 20 ms until it holds; panics after `timeout`.
fn poll_until(timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A hostile SMTP server on 127.0.0.1: it accepts connections and then
/// says nothing (`trickle = false`) or sends `220-` and a byte a second
/// (`trickle = true`), never a whole greeting. Its port.
fn stalling_smtp_server(trickle: bool) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                use std::io::Write as _;
                if !trickle {
                    // Hold the connection open until the client leaves.
                    let mut buffer = [0u8; 64];
                    while matches!(std::io::Read::read(&mut stream, &mut buffer), Ok(n) if n > 0) {}
                    return;
                }
                if stream.write_all(b"220-").is_err() {
                    return;
                }
                while stream.write_all(b"x").is_ok() {
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
    });
    port
}

/// Runs the binary like [`accesswatch`], but kills it and fails the test
/// when it has not finished within `limit`.
fn accesswatch_within(args: &[&str], limit: Duration) -> common::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_accesswatch"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("accesswatch {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    common::Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn run_once_against_a_stalling_server(trickle: bool) {
    let dir = tempfile::tempdir().unwrap();
    let port = stalling_smtp_server(trickle);
    let config = staffing(dir.path())
        .email(&format!("{}\ntimeout = \"1s\"", common::plain_smtp(port)))
        .write(dir.path());
    let config = config.to_str().unwrap();
    let started = Instant::now();
    let out = accesswatch_within(
        &["--config", config, "run", "--once", "--notify"],
        Duration::from_secs(30),
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        out.code, 2,
        "critical, and the alert unsent: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("accepted the connection but did not answer within `timeout`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("stay in the outbox"), "{}", out.stderr);
    let status = accesswatch(&["--config", config, "status", "--json"], &[]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["outbox"]["unsent"], 1, "{status}");
}

#[test]
fn run_once_gives_up_on_an_smtp_server_that_never_greets() {
    run_once_against_a_stalling_server(false);
}

#[test]
fn run_once_gives_up_on_an_smtp_server_that_trickles() {
    run_once_against_a_stalling_server(true);
}

#[test]
fn the_daemon_logs_a_stalled_smtp_attempt_and_keeps_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let port = stalling_smtp_server(false);
    let path = staffing(dir.path())
        .email(&format!("{}\ntimeout = \"1s\"", common::plain_smtp(port)))
        .write(dir.path());
    let mut daemon = Daemon::start(&path, &[]);
    let line = daemon.wait_for("email failed; kept in the outbox", Duration::from_secs(30));
    assert!(line.contains("did not answer within `timeout`"), "{line}");
    assert!(line.contains("\"next_attempt\""), "{line}");
}

#[test]
fn durations_longer_than_a_century_are_refused_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    // Replayed from fault injection: each of these passed check-config and
    // then panicked in date arithmetic (`now - retention`, the next full
    // sync, `now + until`).
    let every_key = std::fs::read_to_string(
        common::manifest_dir().join("tests/fixtures/config/valid/every-key.toml"),
    )
    .unwrap()
    .replace("retention = \"365d\"", "retention = \"300000y\"");
    let fhir = std::fs::read_to_string(
        common::manifest_dir().join("tests/fixtures/config/valid/fhir.toml"),
    )
    .unwrap()
    .replace("full_sync_every = \"3d\"", "full_sync_every = \"300000y\"");
    for (name, text, place, key) in [
        ("every-key.toml", every_key, ":18:13:", "retention"),
        ("fhir.toml", fhir, ":25:19:", "full_sync_every"),
    ] {
        let path = write(dir.path(), name, &text);
        let out = accesswatch(&["--config", path.to_str().unwrap(), "check-config"], &[]);
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        let want = format!("{name}{place} `{key}` is \"300000y\", longer than 100 years");
        assert!(out.stderr.contains(&want), "{want} not in:\n{}", out.stderr);
    }
    let config = staffing(dir.path())
        .section("[alerting]\nrepeat_interval = \"999999y\"")
        .write(dir.path());
    let config = config.to_str().unwrap();
    let out = accesswatch(&["--config", config, "check-config"], &[]);
    assert!(
        out.stderr
            .contains("`repeat_interval` is \"999999y\", longer than 100 years"),
        "{}",
        out.stderr
    );

    let config = staffing(dir.path()).write(dir.path());
    let config = config.to_str().unwrap();
    let out = accesswatch(&["--config", config, "run", "--once", "--notify"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = accesswatch(
        &[
            "--config",
            config,
            "ack",
            "members-per-therapist",
            "--until",
            "300000y",
            "--by",
            "ops",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "a usage error, not a panic: {}", out.stderr);
    assert!(
        out.stderr
            .contains("--until is \"300000y\", longer than 100 years"),
        "{}",
        out.stderr
    );
}

/// The headers of each request a recording server received.
type SeenHeaders = Arc<Mutex<Vec<axum::http::HeaderMap>>>;

#[test]
fn an_http_redirect_to_another_origin_drops_the_configured_headers() {
    let seen: SeenHeaders = Arc::default();
    let recorded = seen.clone();
    let elsewhere = HttpServer::start(Router::new().route(
        "/staffing.csv",
        get(move |headers: axum::http::HeaderMap| {
            let recorded = recorded.clone();
            async move {
                recorded.lock().unwrap().push(headers);
                common::STAFFING_CSV
            }
        }),
    ));
    let first_seen: SeenHeaders = Arc::default();
    let first_recorded = first_seen.clone();
    let target = elsewhere.url("/staffing.csv");
    let http = HttpServer::start(Router::new().route(
        "/staffing.csv",
        get(move |headers: axum::http::HeaderMap| {
            let (recorded, target) = (first_recorded.clone(), target.clone());
            async move {
                recorded.lock().unwrap().push(headers);
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, target)],
                )
            }
        }),
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = ConfigText::new()
        .section(&format!(
            "[[source]]\nid = \"staffing\"\nkind = \"http\"\nurl = \"{}\"\n\
             [[source.headers]]\nname = \"X-Api-Key\"\nvalue_env = \"AW_TEST_KEY\"\n\
             [[source.headers]]\nname = \"Authorization\"\nvalue_env = \"AW_TEST_BEARER\"",
            http.url("/staffing.csv")
        ))
        .staffing_check("")
        .route("all", &["c@plan.example"])
        .write(dir.path());
    let out = accesswatch(
        &["--config", path.to_str().unwrap(), "run", "--once"],
        &[
            ("AW_TEST_KEY", "s3cret-key"),
            ("AW_TEST_BEARER", "Bearer s3cret-token"),
        ],
    );
    assert_eq!(
        out.code, 2,
        "the data came through the redirect: {}",
        out.stderr
    );
    let first = first_seen.lock().unwrap().clone();
    assert_eq!(first[0].get("x-api-key").unwrap(), "s3cret-key");
    let followed = seen.lock().unwrap().clone();
    assert_eq!(followed.len(), 1);
    for name in ["x-api-key", "authorization"] {
        assert!(
            followed[0].get(name).is_none(),
            "{name} followed the redirect"
        );
    }
}

/// What a careless server writes into its errors.
const IDENTITY: [&str; 2] = ["MRN-12345", "Jane Doe"];

#[test]
fn server_written_error_text_reaches_no_email_report_status_state_or_log() {
    let outcome = r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found",
        "diagnostics":"Patient MRN-12345 (Jane Doe) not found","details":{"text":"Patient MRN-12345 (Jane Doe) not found"}}]}"#;
    let http = HttpServer::start(
        Router::new().fallback(move |uri: axum::http::Uri| async move {
            let content_type = if uri.path().starts_with("/plain") {
                "text/plain"
            } else {
                "application/fhir+json"
            };
            (
                axum::http::StatusCode::NOT_FOUND,
                [(axum::http::header::CONTENT_TYPE, content_type)],
                if content_type == "text/plain" {
                    "Patient MRN-12345 (Jane Doe) not found".to_owned()
                } else {
                    outcome.to_owned()
                },
            )
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let source = |id: &str, kind: &str, path: &str, extra: &str| {
        format!(
            "[[source]]\nid = \"{id}\"\nkind = \"{kind}\"\nurl = \"{}\"\nretries = 0\n{extra}",
            http.url(path)
        )
    };
    let ratio = |id: &str, source: &str| {
        format!(
            "[[check]]\nid = \"{id}\"\ntitle = \"{id}\"\nkind = \"ratio\"\nsource = \"{source}\"\n\
             numerator = \"members\"\ndenominator = \"fte\"\nop = \"<=\"\nlimit = 3000\nseverity = \"critical\""
        )
    };
    let path = staffing(dir.path())
        .section(&source("outcome", "http", "/outcome.json", ""))
        .section(&source("plain", "http", "/plain.csv", ""))
        .section(&source("fhir", "fhir", "/fhir", "[source.fhir]\nresource = \"Appointment\""))
        .section(&ratio("outcome-check", "outcome"))
        .section(&ratio("plain-check", "plain"))
        .section(
            "[[check]]\nid = \"wait\"\nkind = \"timely_access\"\nstandard = \"ca-dmhc/non-urgent-mh-initial\"\n\
             source = \"fhir\"\ncalendar = \"us-federal\"",
        )
        .write(dir.path());
    let config = path.to_str().unwrap();
    let run = accesswatch(
        &[
            "--config", config, "run", "--once", "--notify", "--report", "json",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let status = accesswatch(&["--config", config, "status"], &[]);
    let status_json = accesswatch(&["--config", config, "status", "--json"], &[]);
    let mut emails = String::new();
    for entry in std::fs::read_dir(dir.path().join("outbox")).unwrap() {
        // Decoded: quoted-printable would split a name across lines.
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
        emails += message.subject().unwrap_or_default();
        emails += &message.body_text(0).unwrap_or_default();
        emails += &message.body_html(0).unwrap_or_default();
    }
    assert!(
        emails.contains("404"),
        "the emails say what failed: {emails}"
    );
    assert!(run.stdout.contains("error not-found"), "{}", run.stdout);
    let mut state = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("state")).unwrap() {
        state.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let state = String::from_utf8_lossy(&state);
    for (place, text) in [
        ("the emails", emails.as_str()),
        ("the report", run.stdout.as_str()),
        ("the log", run.stderr.as_str()),
        ("status", status.stdout.as_str()),
        ("status --json", status_json.stdout.as_str()),
        ("the state file", &state),
    ] {
        for identity in IDENTITY {
            assert!(!text.contains(identity), "{identity} in {place}:\n{text}");
        }
    }
}
