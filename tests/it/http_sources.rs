//! HTTP sources against a real HTTP server on 127.0.0.1: the happy paths
//! (CSV, JSON with a pointer, NDJSON, bearer token) and every kind of bad
//! response. A bad source makes its check `unknown` with a clear logged
//! error; the other checks of the run go on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;

use crate::common::{ConfigText, HttpServer, STAFFING_CSV, accesswatch, write};

fn server(hits_500: Arc<AtomicUsize>) -> HttpServer {
    let router = Router::new()
        .route(
            "/staffing.csv",
            get(|headers: HeaderMap| async move {
                if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some("Bearer t0ken") {
                    return (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "text/plain")], String::new());
                }
                (StatusCode::OK, [(header::CONTENT_TYPE, "text/csv")], STAFFING_CSV.to_owned())
            }),
        )
        .route(
            "/staffing.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json"), (header::LAST_MODIFIED, "Fri, 27 Nov 2026 17:00:00 GMT")],
                    r#"{"data": {"regions": [{"name": "socal-south", "m": 412000, "staff": {"fte": 118.5}}, {"name": "socal-north", "m": 298000, "staff": {"fte": 121}}]}}"#,
                )
            }),
        )
        .route(
            "/staffing.ndjson",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/x-ndjson")],
                    "{\"region\": \"socal-south\", \"members\": 412000, \"fte\": 118.5}\n{\"region\": \"socal-north\", \"members\": 298000, \"fte\": 121}\n",
                )
            }),
        )
        .route(
            "/error500",
            get(move || {
                let hits = hits_500.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::INTERNAL_SERVER_ERROR, "database is down")
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                // The scenario: a server slower than the source's timeout.
                tokio::time::sleep(Duration::from_secs(30)).await;
                ([(header::CONTENT_TYPE, "text/csv")], STAFFING_CSV)
            }),
        )
        .route(
            "/malformed.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], r#"{"regions": [{"region": "a", "members": 1"#) }),
        )
        .route(
            "/big.json",
            get(|| async {
                let row = r#"{"region": "a", "members": 1, "fte": 1},"#;
                let body = format!("[{}{{}}]", row.repeat(100_000));
                ([(header::CONTENT_TYPE, "application/json")], body)
            }),
        )
        .route(
            "/missing-column.csv",
            get(|| async { ([(header::CONTENT_TYPE, "text/csv")], "region,members\nsocal-south,412000\n") }),
        )
        .route(
            "/empty.csv",
            get(|| async { ([(header::CONTENT_TYPE, "text/csv")], "") }),
        );
    HttpServer::start(router)
}

fn source(id: &str, url: &str, extra: &str) -> String {
    format!(
        "[[source]]\nid = \"{id}\"\nkind = \"http\"\nurl = \"{url}\"\nretries = 2\nretry_backoff = \"50ms\"\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\n{extra}\n"
    )
}

fn ratio_check(id: &str, source: &str) -> String {
    format!(
        "[[check]]\nid = \"{id}\"\ntitle = \"Members per therapist ({id})\"\nkind = \"ratio\"\nsource = \"{source}\"\n\
         numerator = \"members\"\ndenominator = \"fte\"\ngroup_by = [\"region\"]\nop = \"<=\"\nlimit = 3000\nseverity = \"critical\"\n"
    )
}

/// Email to files and one route; the tests add sources and checks.
fn header() -> String {
    ConfigText::new().route("all", &["c@plan.example"]).build()
}

fn report(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{stdout}"))
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

#[test]
fn good_sources_in_every_format_with_a_bearer_token() {
    let hits = Arc::new(AtomicUsize::new(0));
    let http = server(hits);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "token", "t0ken\n");
    let mut config = header();
    config += &source(
        "csv",
        &http.url("/staffing.csv"),
        "bearer_token_file = \"token\"",
    );
    config += &source(
        "json",
        &http.url("/staffing.json"),
        "records = \"/data/regions\"\n[source.fields]\nregion = \"name\"\nmembers = \"m\"\nfte = \"/staff/fte\"",
    );
    config += &source("ndjson", &http.url("/staffing.ndjson"), "");
    config += &source("no-token", &http.url("/staffing.csv"), "");
    for id in ["csv", "json", "ndjson", "no-token"] {
        config += &ratio_check(id, id);
    }
    let path = write(dir.path(), "accesswatch.toml", &config);
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--report",
            "json",
        ],
        &[],
    );
    let report = report(&out.stdout);
    for id in ["csv", "json", "ndjson"] {
        let c = check(&report, id);
        assert_eq!(c["status"], "breach", "{id}: {c}");
        let south = c["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["labels"]["region"] == "socal-south")
            .unwrap();
        assert_eq!(south["status"], "breach");
        assert!(
            (south["value"].as_f64().unwrap() - 3476.79).abs() < 0.01,
            "{south}"
        );
        assert_eq!(south["limit"], 3000.0);
    }
    assert_eq!(check(&report, "json")["data_time"], "2026-11-27T17:00:00Z");
    let denied = check(&report, "no-token");
    assert_eq!(denied["status"], "unknown");
    assert!(
        denied["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 401 Unauthorized: check the bearer token"),
        "{denied}"
    );
    assert_eq!(out.code, 2, "a critical breach outranks an unknown check");
    assert!(
        !out.stderr.contains("t0ken"),
        "the token leaked into the log:\n{}",
        out.stderr
    );
}

#[test]
fn bad_responses_make_checks_unknown_and_the_run_goes_on() {
    let hits = Arc::new(AtomicUsize::new(0));
    let http = server(hits.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    let cases = [
        (
            "server-error",
            "/error500",
            "",
            "the server answered HTTP 500 Internal Server Error",
        ),
        ("timeout", "/slow", "", "timed out"),
        (
            "malformed",
            "/malformed.json",
            "records = \"/regions\"",
            "malformed JSON at line 1 column 41: the data ends too early (truncated?)",
        ),
        (
            "too-big",
            "/big.json",
            "max_body_size = \"1MiB\"",
            "the response body is larger than max_body_size (1048576 bytes)",
        ),
        (
            "missing-column",
            "/missing-column.csv",
            "",
            "has no field `fte` (it has: members, region)",
        ),
        ("empty", "/empty.csv", "", "the csv data is empty"),
    ];
    for (id, path, extra, _) in &cases {
        config += &source(id, &http.url(path), extra);
        config += &ratio_check(id, id);
    }
    // One healthy check: the run must still evaluate it.
    config += "[[source]]\nid = \"healthy\"\nkind = \"http\"\n";
    config += &format!(
        "url = \"{}\"\nbearer_token_env = \"TOKEN\"\n",
        http.url("/staffing.csv")
    );
    config += "[[check]]\nid = \"healthy\"\ntitle = \"Loose limit\"\nkind = \"ratio\"\nsource = \"healthy\"\n\
               numerator = \"members\"\ndenominator = \"fte\"\nop = \"<=\"\nlimit = 10000\n";
    let path = write(dir.path(), "accesswatch.toml", &config);
    let started = std::time::Instant::now();
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--report",
            "json",
        ],
        &[("TOKEN", "t0ken")],
    );
    let report = report(&out.stdout);
    for (id, _, _, expected) in &cases {
        let c = check(&report, id);
        assert_eq!(c["status"], "unknown", "{id}: {c}");
        let error = c["error"].as_str().unwrap();
        assert!(
            error.contains(expected),
            "{id}: {error:?} should contain {expected:?}"
        );
        if *id != "missing-column" {
            let event = out.log("source fetch failed", "source", id);
            assert_eq!(event["status"], "error");
            assert!(
                event["error"].as_str().unwrap().contains(expected),
                "{event}"
            );
            assert!(event["duration_ms"].is_u64());
        }
        let event = out.log("check could not be evaluated", "check", id);
        assert_eq!(event["status"], "unknown");
    }
    assert_eq!(check(&report, "healthy")["status"], "ok");
    assert_eq!(out.code, 3, "unknown checks exit 3:\n{}", out.stderr);
    // 500 is retried: one try and two retries.
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let error = check(&report, "server-error")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("failed after 3 tries"), "{error}");
    // Timeouts bound the run: three tries of one second plus back-off.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    // No response body and no cell ever reaches the log.
    assert!(!out.stderr.contains("database is down"));
}

#[test]
fn connection_refused_is_a_source_error() {
    // Bind and drop a listener to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    config += &source(
        "down",
        &format!("http://127.0.0.1:{port}/x.csv"),
        "retries = 0",
    );
    config = config.replace("retries = 2\n", "");
    config += &ratio_check("down", "down");
    let path = write(dir.path(), "accesswatch.toml", &config);
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--report",
            "json",
        ],
        &[],
    );
    let c = report(&out.stdout)["checks"][0].clone();
    assert_eq!(c["status"], "unknown");
    let error = c["error"].as_str().unwrap();
    assert!(error.contains("cannot connect"), "{error}");
    assert!(
        error.contains(&format!(
            "GET http://127.0.0.1:{port}/x.csv failed after 1 try"
        )),
        "{error}"
    );
    assert_eq!(out.code, 3);
}
