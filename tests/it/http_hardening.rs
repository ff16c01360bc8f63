//! What every HTTP-based source gets from the shared client, against real
//! servers on 127.0.0.1: gzip, ETag / If-None-Match, Retry-After on 429 and
//! 503, a custom CA bundle (a real HTTPS server), content-type checks, the
//! redirect limit and a proxy from the environment.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use accesswatch::source::http::Client;
use accesswatch::source::spec::HttpOptions;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::common::{self, ConfigText, HttpServer, accesswatch, certificate, wait_until, write};

fn options() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        retries: 2,
        retry_backoff: Duration::from_millis(50),
        max_body_size: 1 << 20,
        headers: Vec::new(),
        ca_file: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    accesswatch::source::http::install_crypto_provider();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn url(server: &HttpServer, path: &str) -> url::Url {
    url::Url::parse(&server.url(path)).unwrap()
}

#[test]
fn gzip_bodies_are_accepted_and_decompressed() {
    let server = HttpServer::start(Router::new().route(
        "/data.json",
        get(|headers: HeaderMap| async move {
            let accepts = headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert!(accepts.contains("gzip"), "{accepts}");
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder
                .write_all(br#"[{"region": "south", "members": 3500, "fte": 1}]"#)
                .unwrap();
            (
                [
                    (header::CONTENT_ENCODING, "gzip"),
                    (header::CONTENT_TYPE, "application/json"),
                ],
                encoder.finish().unwrap(),
            )
        }),
    ));
    let response = runtime()
        .block_on(async {
            Client::new(&options())
                .unwrap()
                .get(&url(&server, "/data.json"), None)
                .await
        })
        .unwrap();
    assert_eq!(
        &response.body[..],
        br#"[{"region": "south", "members": 3500, "fte": 1}]"#
    );
}

#[test]
fn etags_are_sent_back_and_304_reuses_the_body() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let server = HttpServer::start(Router::new().route(
        "/etag.csv",
        get(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    == Some("\"v1\"")
                {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                (
                    [(header::ETAG, "\"v1\""), (header::CONTENT_TYPE, "text/csv")],
                    "a,b\n1,2\n",
                )
                    .into_response()
            }
        }),
    ));
    let (first, second) = runtime().block_on(async {
        let client = Client::new(&options()).unwrap();
        let first = client.get(&url(&server, "/etag.csv"), None).await.unwrap();
        let second = client.get(&url(&server, "/etag.csv"), None).await.unwrap();
        (first, second)
    });
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(first.body, second.body, "the 304 gave back the kept body");
    assert_eq!(&second.body[..], b"a,b\n1,2\n");
}

#[test]
fn retry_after_is_honoured_on_429_and_503() {
    for status in [
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::SERVICE_UNAVAILABLE,
    ] {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let server = HttpServer::start(Router::new().route(
            "/busy",
            get(move || {
                let counter = counter.clone();
                async move {
                    if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                        return (status, [(header::RETRY_AFTER, "1")], "slow down").into_response();
                    }
                    ([(header::CONTENT_TYPE, "text/csv")], "a\n1\n").into_response()
                }
            }),
        ));
        let started = Instant::now();
        let response = runtime().block_on(async {
            Client::new(&options())
                .unwrap()
                .get(&url(&server, "/busy"), None)
                .await
        });
        assert!(response.is_ok(), "{status}: {response:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert!(
            started.elapsed() >= Duration::from_millis(950),
            "waited {:?}, not the 1 s asked",
            started.elapsed()
        );
    }
}

#[test]
fn redirect_loops_are_cut_off() {
    let server = HttpServer::start(Router::new().route(
        "/loop",
        get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
    ));
    let error = runtime()
        .block_on(async {
            Client::new(&options())
                .unwrap()
                .get(&url(&server, "/loop"), None)
                .await
        })
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("too many redirects"),
        "{error:#}"
    );
}

const STAFFING: &str = "region,members,fte\nsouth,3500,1\n";

fn check_config(dir: &std::path::Path, source: &str) -> std::path::PathBuf {
    ConfigText::new()
        .route("r", &["c@plan.example"])
        .section(&format!(
            "[[source]]\nid = \"s\"\nkind = \"http\"\nretries = 0\n{source}\n\
             [[check]]\nid = \"c\"\ntitle = \"C\"\nkind = \"ratio\"\nsource = \"s\"\nnumerator = \"members\"\n\
             denominator = \"fte\"\ngroup_by = [\"region\"]\nop = \"<=\"\nlimit = 3000\n"
        ))
        .write(dir)
}

fn run(path: &std::path::Path, env: &[(&str, &str)]) -> serde_json::Value {
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--report",
            "json",
        ],
        env,
    );
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stderr))
}

#[test]
fn an_html_page_is_not_data() {
    let server = HttpServer::start(Router::new().route(
        "/login",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<html>Please sign in</html>",
            )
        }),
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = check_config(
        dir.path(),
        &format!("url = \"{}\"\nformat = \"csv\"", server.url("/login")),
    );
    let report = run(&path, &[]);
    let error = report["checks"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("answered with text/html, not csv data: check `url` and the credentials"),
        "{error}"
    );
}

#[test]
fn a_proxy_from_the_environment_is_used() {
    // A "proxy" that answers every request itself, and records its target.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let proxy = HttpServer::start(Router::new().fallback(move |uri: Uri| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(uri.to_string());
            ([(header::CONTENT_TYPE, "text/csv")], STAFFING)
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let path = check_config(
        dir.path(),
        "url = \"http://staffing.plan.invalid/staffing.csv\"",
    );
    let proxy_url = proxy.url("");
    let report = run(
        &path,
        &[("HTTP_PROXY", &proxy_url), ("http_proxy", &proxy_url)],
    );
    assert_eq!(report["checks"][0]["status"], "breach", "{report}");
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.as_slice(),
        ["http://staffing.plan.invalid/staffing.csv"]
    );
}

#[test]
fn a_private_ca_bundle_is_trusted_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let tls = certificate(dir.path());
    let served = dir.path().join("www");
    std::fs::create_dir(&served).unwrap();
    write(&served, "staffing.csv", STAFFING);
    let port_file = dir.path().join("https.port");
    let mut server = Command::new(common::python())
        .arg(common::manifest_dir().join("tests/support/https_server.py"))
        .arg("--dir")
        .arg(&served)
        .arg("--cert")
        .arg(&tls.cert)
        .arg("--key")
        .arg(&tls.key)
        .arg("--port-file")
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let port = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&port_file).ok()
    })
    .expect("the HTTPS server did not start");
    let url = format!("https://localhost:{port}/staffing.csv");
    let trusted = check_config(
        dir.path(),
        &format!("url = \"{url}\"\nca_file = \"{}\"", tls.ca.display()),
    );
    let report = run(&trusted, &[]);
    assert_eq!(report["checks"][0]["status"], "breach", "{report}");
    let untrusted = check_config(dir.path(), &format!("url = \"{url}\""));
    let report = run(&untrusted, &[]);
    let error = report["checks"][0]["error"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(error.contains("certificate"), "{error}");
    let _ = server.kill();
    let _ = server.wait();
}
