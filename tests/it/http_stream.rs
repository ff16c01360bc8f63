//! HTTP bodies folded as they arrive (`Client::get_folded`, and wait-time
//! checks on HTTP sources through the real binary), against real servers
//! on 127.0.0.1: a hand-written HTTP/1.1 server where the test needs to
//! control the bytes on the wire (chunked transfer, a body cut mid-way, a
//! malformed gzip stream), axum where it does not.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accesswatch::source::http::{Client, KEEP_FOR_ETAG};
use accesswatch::source::spec::HttpOptions;
use axum::Router;
use axum::http::header;
use axum::routing::get;

use crate::common::{HttpServer, accesswatch};
use crate::wait_times::{AS_OF, CSV, assert_report, config};

fn options() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        retries: 2,
        retry_backoff: Duration::from_millis(20),
        max_body_size: 1 << 20,
        headers: Vec::new(),
        ca_file: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    accesswatch::source::http::install_crypto_provider();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A raw HTTP/1.1 server: `respond` gets the request head and the
/// connection's number (from 1) and writes the answer itself; the
/// connection is closed after it. Runs until the test ends.
pub(crate) fn raw_server(
    respond: impl Fn(&str, usize, &mut TcpStream) + Send + Sync + 'static,
) -> (url::Url, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for (number, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            seen.lock().unwrap().push(head.clone());
            respond(&head, number + 1, &mut stream);
            let _ = stream.flush();
        }
    });
    (base, heads)
}

pub(crate) fn chunk(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = write!(stream, "{:x}\r\n", bytes.len());
    let _ = stream.write_all(bytes);
    let _ = stream.write_all(b"\r\n");
    let _ = stream.flush();
}

pub(crate) const CHUNKED: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n";

fn rows(n: usize) -> String {
    let mut text = String::from("id,region\n");
    for i in 0..n {
        text.push_str(&format!("{i},r{}\n", i % 7));
    }
    text
}

/// Counts the lines of a body after its header, and how often it was
/// called.
fn counting(
    calls: Arc<AtomicUsize>,
) -> impl Fn(
    &accesswatch::source::http::Streamed,
    accesswatch::source::http::BodyReader,
) -> anyhow::Result<usize>
+ Send
+ Sync
+ 'static {
    move |_, body| {
        calls.fetch_add(1, Ordering::SeqCst);
        let mut lines = 0;
        for line in BufReader::new(body).lines() {
            line?;
            lines += 1;
        }
        Ok(lines - 1)
    }
}

/// The fold reads the first rows while the server still holds the rest
/// back: the body is folded as it arrives, not after.
#[test]
fn chunked_bodies_are_folded_as_they_arrive() {
    let first_read = Arc::new(AtomicBool::new(false));
    let waited_in_time = Arc::new(AtomicBool::new(false));
    let (flag, in_time) = (first_read.clone(), waited_in_time.clone());
    let (base, _) = raw_server(move |_, _, stream| {
        let _ = write!(stream, "{CHUNKED}\r\n");
        chunk(stream, b"id,region\n0,a\n");
        let started = Instant::now();
        while !flag.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        in_time.store(flag.load(Ordering::SeqCst), Ordering::SeqCst);
        for i in 1..1000 {
            chunk(stream, format!("{i},b\n").as_bytes());
        }
        chunk(stream, b"");
    });
    let url = base.join("rows.csv").unwrap();
    let lines = runtime()
        .block_on(
            Client::new(&options())
                .unwrap()
                .get_folded(&url, move |_, body| {
                    let mut reader = BufReader::new(body);
                    let mut line = String::new();
                    let mut count = 0;
                    while reader.read_line(&mut line)? > 0 {
                        count += 1;
                        if count == 2 {
                            first_read.store(true, Ordering::SeqCst);
                        }
                        line.clear();
                    }
                    Ok(count - 1)
                }),
        )
        .unwrap();
    assert_eq!(lines, 1000);
    assert!(
        waited_in_time.load(Ordering::SeqCst),
        "the first row was folded before the rest of the body was sent"
    );
}

#[test]
fn gzip_bodies_are_decompressed_as_they_stream() {
    let text = rows(200_000);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    let gzipped = encoder.finish().unwrap();
    let (base, heads) = raw_server(move |_, _, stream| {
        let _ = write!(stream, "{CHUNKED}Content-Encoding: gzip\r\n\r\n");
        for part in gzipped.chunks(4096) {
            chunk(stream, part);
        }
        chunk(stream, b"");
    });
    let mut options = options();
    options.max_body_size = text.len() as u64;
    let calls = Arc::new(AtomicUsize::new(0));
    let lines = runtime()
        .block_on(
            Client::new(&options)
                .unwrap()
                .get_folded(&base.join("rows.csv").unwrap(), counting(calls)),
        )
        .unwrap();
    assert_eq!(lines, 200_000);
    assert!(
        heads.lock().unwrap()[0]
            .to_ascii_lowercase()
            .contains("accept-encoding: gzip")
    );

    // The cap counts the bytes after decompression.
    options.max_body_size = text.len() as u64 - 1;
    let calls = Arc::new(AtomicUsize::new(0));
    let error = runtime()
        .block_on(
            Client::new(&options)
                .unwrap()
                .get_folded(&base.join("rows.csv").unwrap(), counting(calls)),
        )
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("larger than max_body_size"),
        "{error:#}"
    );
}

#[test]
fn a_malformed_gzip_stream_is_an_error_naming_the_url() {
    let (base, _) = raw_server(|_, _, stream| {
        let _ = write!(stream, "{CHUNKED}Content-Encoding: gzip\r\n\r\n");
        chunk(stream, b"this is not gzip at all, not even a header");
        chunk(stream, b"");
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let url = base.join("bad.csv?key=secret").unwrap();
    let error = runtime()
        .block_on(
            Client::new(&options())
                .unwrap()
                .get_folded(&url, counting(calls)),
        )
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.starts_with(&format!("GET {base}bad.csv?… failed after 1 try")),
        "{text}"
    );
    assert!(
        text.contains("could not be decoded (a malformed or cut-off gzip stream?)"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
}

/// A connection cut mid-body: every try folds from the start into a new
/// fold; the error names the URL, the bytes and the line where it broke.
#[test]
fn a_body_cut_mid_way_is_retried_from_the_start_or_fails_whole() {
    let (base, _) = raw_server(|_, _, stream| {
        let _ = write!(stream, "{CHUNKED}\r\n");
        chunk(stream, rows(50).as_bytes());
        // The connection closes without the last chunk.
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let error = runtime()
        .block_on(
            Client::new(&options())
                .unwrap()
                .get_folded(&base.join("cut.csv").unwrap(), counting(calls.clone())),
        )
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.starts_with(&format!(
            "GET {base}cut.csv failed after 3 tries: reading the body after "
        )),
        "{text}"
    );
    assert!(
        text.contains(" bytes, in line 52: the response body was cut off"),
        "{text}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3, "each try folds anew");

    // Cut on the first try only: the second try's fold is the result, and
    // no row of the first is counted.
    let (base, _) = raw_server(|_, connection, stream| {
        let _ = write!(stream, "{CHUNKED}\r\n");
        chunk(stream, rows(3000).as_bytes());
        if connection > 1 {
            chunk(stream, b"");
        }
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let lines = runtime()
        .block_on(
            Client::new(&options())
                .unwrap()
                .get_folded(&base.join("cut.csv").unwrap(), counting(calls.clone())),
        )
        .unwrap();
    assert_eq!(lines, 3000);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_body_past_the_cap_mid_stream_is_an_error_and_not_retried() {
    let (base, _) = raw_server(|_, _, stream| {
        let _ = write!(stream, "{CHUNKED}\r\n");
        let text = rows(200_000);
        for part in text.as_bytes().chunks(64 * 1024) {
            chunk(stream, part);
        }
        chunk(stream, b"");
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let error = runtime()
        .block_on(
            Client::new(&options())
                .unwrap()
                .get_folded(&base.join("big.csv").unwrap(), counting(calls.clone())),
        )
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.starts_with(&format!(
            "GET {base}big.csv failed after 1 try: reading the body after "
        )) && text.contains(" bytes, in line "),
        "{text}"
    );
    assert!(
        text.ends_with("the response body is larger than max_body_size (1048576 bytes): raise max_body_size or ask the server for less"),
        "{text}"
    );
}

/// A 304 folds the body kept from before; a body larger than
/// `KEEP_FOR_ETAG` is not kept, and its ETag not sent back.
#[test]
fn a_304_folds_the_kept_body_and_large_bodies_are_not_kept() {
    let big = "x\n".repeat(KEEP_FOR_ETAG / 2 + 1);
    let (base, heads) = raw_server(move |head, _, stream| {
        let path = head.split(' ').nth(1).unwrap_or("");
        let body = if path == "/small.csv" {
            rows(10)
        } else {
            format!("id\n{big}")
        };
        if head.contains("If-None-Match: \"v1\"") || head.contains("if-none-match: \"v1\"") {
            let _ = write!(
                stream,
                "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n"
            );
            return;
        }
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let mut options = options();
    options.max_body_size = 64 << 20;
    let calls = Arc::new(AtomicUsize::new(0));
    let runtime = runtime();
    let client = Client::new(&options).unwrap();
    for path in ["small.csv", "small.csv", "big.csv", "big.csv"] {
        let lines = runtime
            .block_on(client.get_folded(&base.join(path).unwrap(), counting(calls.clone())))
            .unwrap();
        assert_eq!(
            lines,
            if path == "small.csv" {
                10
            } else {
                KEEP_FOR_ETAG / 2 + 1
            }
        );
    }
    let heads = heads.lock().unwrap();
    let asked = |i: usize| heads[i].to_ascii_lowercase().contains("if-none-match");
    assert_eq!(
        (asked(0), asked(1), asked(2), asked(3)),
        (false, true, false, false),
        "{heads:?}"
    );
}

/// A GET route answering `json` gzipped, with `Content-Encoding: gzip`.
pub(crate) fn gzipped_json(json: &str) -> axum::routing::MethodRouter {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(json.as_bytes()).unwrap();
    let gzipped = encoder.finish().unwrap();
    get(move || {
        let gzipped = gzipped.clone();
        async move {
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                gzipped,
            )
        }
    })
}

/// The same requests as `wait_times` from an HTTP server, as CSV, NDJSON
/// and gzipped JSON, give the same report as the file.
#[test]
fn wait_time_checks_stream_http_sources_in_every_format() {
    let lines: Vec<&str> = CSV.lines().collect();
    let names: Vec<&str> = lines[0].split(',').collect();
    let records: Vec<serde_json::Value> = lines[1..]
        .iter()
        .map(|line| {
            let object: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .zip(line.split(','))
                .map(|(k, v)| {
                    let v = if v.is_empty() {
                        serde_json::Value::Null
                    } else {
                        v.into()
                    };
                    ((*k).to_owned(), v)
                })
                .collect();
            serde_json::Value::Object(object)
        })
        .collect();
    let ndjson: String = records.iter().map(|r| format!("{r}\n")).collect();
    let json = serde_json::json!({"data": records}).to_string();
    let server = HttpServer::start(
        Router::new()
            .route(
                "/a.csv",
                get(|| async { ([(header::CONTENT_TYPE, "text/csv")], CSV) }),
            )
            .route(
                "/a",
                get(move || {
                    let ndjson = ndjson.clone();
                    async move { ([(header::CONTENT_TYPE, "application/x-ndjson")], ndjson) }
                }),
            )
            .route("/a.json", gzipped_json(&json)),
    );
    for (path, extra) in [
        ("/a.csv", ""),
        ("/a", ""),
        ("/a.json", "records = \"/data\"\n"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &format!(
                "[[source]]\nid = \"appointments\"\nkind = \"http\"\nurl = \"{}\"\n{extra}",
                server.url(path)
            ),
        );
        let out = accesswatch(
            &[
                "--config", &config, "run", "--once", "--report", "json", "--as-of", AS_OF,
            ],
            &[],
        );
        assert_eq!(out.code, 2, "{path}: {}", out.stderr);
        assert_report(&serde_json::from_str(&out.stdout).unwrap());
    }
}

/// A malformed record mid-body: the checks are unknown, nothing partial
/// is counted, and the error names the URL and the line. An HTML page is
/// refused before any of it is read as data.
#[test]
fn a_malformed_record_in_a_streamed_body_makes_the_checks_unknown() {
    let server = HttpServer::start(
        Router::new()
            .route(
                "/a.ndjson",
                get(|| async {
                    "{\"region\": \"north\", \"requested_at\": \"2026-11-02\"}\n\
                     {\"region\": \"north\", \"requested_at\": \"2026-11-02\"}\n\
                     {\"region\": \"north\", \"requested_at\": \n"
                }),
            )
            .route(
                "/login.csv",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html")],
                        "<html>sign in</html>",
                    )
                }),
            ),
    );
    let dir = tempfile::tempdir().unwrap();
    let config_path = config(
        dir.path(),
        &format!(
            "[[source]]\nid = \"appointments\"\nkind = \"http\"\nurl = \"{}\"\n",
            server.url("/login.csv")
        ),
    );
    let out = accesswatch(
        &[
            "--config",
            &config_path,
            "run",
            "--once",
            "--report",
            "json",
            "--as-of",
            AS_OF,
        ],
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let error = report["checks"][0]["error"].as_str().unwrap();
    assert!(
        error.ends_with(
            "answered with text/html, not csv data: check `url` and the credentials (a login page?)"
        ),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!(
            "[[source]]\nid = \"appointments\"\nkind = \"http\"\nurl = \"{}?token=abc\"\n",
            server.url("/a.ndjson")
        ),
    );
    let out = accesswatch(
        &[
            "--config", &config, "run", "--once", "--report", "json", "--as-of", AS_OF,
        ],
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let check = &report["checks"][0];
    assert_eq!(check["status"], "unknown", "{report}");
    assert_eq!(
        check["groups"],
        serde_json::json!([]),
        "nothing partial: {report}"
    );
    let error = check["error"].as_str().unwrap();
    assert_eq!(
        error,
        format!(
            "source \"appointments\" failed: GET {}?… failed after 1 try: malformed JSON on line 3 column 36: the data ends too early (truncated?)",
            server.url("/a.ndjson")
        )
    );
}
