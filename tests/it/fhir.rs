//! FHIR sources against a real HTTP server on 127.0.0.1 serving Bundles
//! written from the R4 specification and the Plan-Net IG examples
//! (tests/fixtures/fhir, synthetic): paging by opaque next links, every
//! kind of bad page, 429 with Retry-After, client credentials, the
//! incremental mirror, free slots, the Plan-Net roster, and wait-time
//! checks over Appointments end to end through the binary.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::common::{self, ConfigText, HttpServer, accesswatch, manifest_dir, write};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    /// `path?query`, as the client sent it.
    fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The first path segment: which case of a test this request is for.
    fn case(&self) -> &str {
        self.path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
    }
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    headers: Vec<(&'static str, String)>,
}

fn fhir(body: String) -> Reply {
    Reply {
        status: 200,
        content_type: "application/fhir+json;charset=utf-8",
        body,
        headers: Vec::new(),
    }
}

fn status(code: u16, content_type: &'static str, body: String) -> Reply {
    Reply {
        status: code,
        content_type,
        body,
        headers: Vec::new(),
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(manifest_dir().join("tests/fixtures/fhir").join(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A FHIR server whose answers `respond` decides. In bodies, `{base}/fhir`
/// becomes `http://HOST/CASE`, so each case's links point back at itself.
fn server(respond: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> (HttpServer, Log) {
    let log: Log = Arc::default();
    let respond = Arc::new(respond);
    let seen_log = log.clone();
    let router = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
            let respond = respond.clone();
            let log = seen_log.clone();
            async move {
                let seen = Seen {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    query: uri.query().unwrap_or("").to_owned(),
                    headers,
                    body,
                };
                log.lock().unwrap().push(seen.clone());
                let reply = respond(&seen);
                let host = seen
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("127.0.0.1")
                    .to_owned();
                let body = reply
                    .body
                    .replace("{base}/fhir", &format!("http://{host}/{}", seen.case()));
                let mut response: Response = (
                    StatusCode::from_u16(reply.status).unwrap(),
                    [(header::CONTENT_TYPE, reply.content_type)],
                    body,
                )
                    .into_response();
                for (name, value) in reply.headers {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                response
            }
        },
    );
    (HttpServer::start(router), log)
}

/// A server that promises a longer body than it sends, then hangs up.
fn cut_off_server() -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 4000\r\n\
                  Connection: close\r\n\r\n{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[",
            );
        }
    });
    format!("http://{addr}/fhir")
}

const AS_OF: &str = "2026-11-30T17:00:00-08:00";

fn header() -> String {
    ConfigText::new()
        .los_angeles()
        .route("all", &["c@plan.example"])
        .build()
}

/// A `[[source]]` of kind fhir; `fhir` goes into `[source.fhir]`.
fn source(id: &str, url: &str, extra: &str, fhir: &str) -> String {
    let retries = if extra.contains("retries") {
        ""
    } else {
        "retries = 0\n"
    };
    format!(
        "[[source]]\nid = \"{id}\"\nkind = \"fhir\"\nurl = \"{url}\"\n{retries}timeout = \"5s\"\n{extra}\n\
         [source.fhir]\n{fhir}\n\n"
    )
}

const REGION_LABEL: &str = "[source.fhir.labels]\nregion = \"extension:http://plan.example/fhir/StructureDefinition/region\"\n";

/// The DMHC first-therapy-visit standard over `source`, by region.
fn timely(id: &str, source: &str, group: &str) -> String {
    format!(
        "[[check]]\nid = \"{id}\"\nkind = \"timely_access\"\nstandard = \"ca-dmhc/non-urgent-mh-initial\"\n\
         source = \"{source}\"\ngroup_by = [\"{group}\"]\ncalendar = \"us-federal\"\n\n"
    )
}

fn run_once(
    dir: &std::path::Path,
    config: &str,
    extra: &[&str],
) -> (common::Output, serde_json::Value) {
    let path = write(dir, "accesswatch.toml", config);
    let mut args = vec![
        "--config",
        path.to_str().unwrap(),
        "run",
        "--once",
        "--as-of",
        AS_OF,
        "--report",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = accesswatch(&args, &[]);
    let report = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    (out, report)
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

fn group<'a>(check: &'a serde_json::Value, label: &str, value: &str) -> &'a serde_json::Value {
    check["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"][label] == value)
        .unwrap_or_else(|| panic!("no group {label}={value} in {check}"))
}

fn counts(compliant: u64, noncompliant: u64, pending: u64) -> serde_json::Value {
    serde_json::json!({"compliant": compliant, "noncompliant": noncompliant, "pending": pending, "extended": 0, "rejected": 0, "before_effective": 0})
}

const PAGE_2: &str = "_getpages=c0ffee-4f1d&_getpagesoffset=3&_count=3&_bundletype=searchset";
const PAGE_3: &str = "_getpages=c0ffee-4f1d&_getpagesoffset=6&_count=3&_bundletype=searchset";

/// The three pages of the Appointment search, by case.
fn paged(seen: &Seen) -> Option<String> {
    let first = seen.path.ends_with("/Appointment");
    match (first, seen.query.as_str()) {
        (true, _) => Some(fixture("appointments-page-1.json")),
        (false, PAGE_2) => Some(fixture("appointments-page-2.json")),
        (false, PAGE_3) => Some(fixture("appointments-page-3.json")),
        _ => None,
    }
}

/// A wait-time check over three pages of Appointments, and one source per
/// way a search can fail: each failure makes its own check unknown with
/// an error that says what happened, and the run goes on.
#[test]
fn searches_page_by_next_links_and_every_failure_is_named() {
    let rate_limited = Arc::new(AtomicUsize::new(0));
    let hits = rate_limited.clone();
    let (http, log) = server(move |seen| {
        let page = || paged(seen).expect("a page of the search");
        match seen.case() {
            "paged" | "capped" => {
                paged(seen).map_or_else(|| status(404, "text/plain", String::new()), fhir)
            }
            "empty" => fhir(fixture("empty-searchset.json")),
            "malformed" if seen.query == PAGE_2 => fhir(fixture("malformed-page.json")),
            "malformed" => fhir(page()),
            "outcome" => status(
                400,
                "application/fhir+json",
                fixture("outcome-invalid-parameter.json"),
            ),
            "outcome200" => fhir(fixture("outcome-in-bundle.json")),
            "throttled" => {
                if hits.fetch_add(1, Ordering::SeqCst) == 0 {
                    let mut reply = status(429, "text/plain", "slow down".to_owned());
                    reply.headers.push(("retry-after", "1".to_owned()));
                    reply
                } else {
                    fhir(fixture("empty-searchset.json"))
                }
            }
            "truncated" => {
                let body = fixture("appointments-page-1.json");
                fhir(body[..body.len() / 2].to_owned())
            }
            // Page 2 says its next page is page 2 again.
            "loop" => fhir(page().replace(PAGE_3, PAGE_2)),
            "elsewhere" => fhir(page().replace("{base}/fhir?", "http://127.0.0.2:9/fhir?")),
            "login" => status(
                200,
                "text/html; charset=utf-8",
                "<html>sign in</html>".to_owned(),
            ),
            other => panic!("unexpected case {other}"),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    config += &source(
        "paged",
        &http.url("/paged"),
        "",
        &format!(
            "resource = \"Appointment\"\nsearch = {{ \"service-category\" = \"8\", status = [\"booked,fulfilled,noshow,cancelled\", \"waitlist,proposed,pending,entered-in-error\"] }}\ncount = 3\n\
             {REGION_LABEL}[source.fhir.codes.provider_type]\n\"http://plan.example/fhir/CodeSystem/clinician|LCSW\" = \"non_physician_mh\"\n"
        ),
    );
    config += &timely("paged", "paged", "region");
    let failing = [
        ("empty", "", ""),
        (
            "malformed",
            "",
            "page 2, entry 2 of the Appointment search has no resource (a malformed Bundle)",
        ),
        (
            "outcome",
            "",
            "HTTP 400 Bad Request (OperationOutcome: error invalid: the request is invalid)",
        ),
        (
            "outcome200",
            "",
            "page 1: the server reported an error in the search: error too-costly: the search is too costly for the server",
        ),
        ("throttled", "retries = 2\nretry_backoff = \"30s\"", ""),
        (
            "truncated",
            "",
            "page 1 of the Appointment search is not valid JSON: the body ends early",
        ),
        (
            "loop",
            "",
            "page 2's next link repeats a page already fetched: the server's paging loops; stopped after 2 pages",
        ),
        (
            "elsewhere",
            "",
            "page 1's next link points at another server (127.0.0.2): not following it",
        ),
        (
            "capped",
            "",
            "the Appointment search has more than max_pages = 2 pages",
        ),
        ("login", "", "is an HTML page, not FHIR JSON"),
    ];
    for (case, extra, _) in failing {
        let fhir = if case == "capped" {
            "resource = \"Appointment\"\nmax_pages = 2\n"
        } else {
            "resource = \"Appointment\"\n"
        };
        config += &source(
            case,
            &http.url(&format!("/{case}")),
            extra,
            &format!("{fhir}{REGION_LABEL}"),
        );
        config += &timely(case, case, "region");
    }
    config += &source(
        "cut",
        &cut_off_server(),
        "",
        &format!("resource = \"Appointment\"\n{REGION_LABEL}"),
    );
    config += &timely("cut", "cut", "region");
    let started = Instant::now();
    let (out, report) = run_once(dir.path(), &config, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "Retry-After (1 s) was not honoured over retry_backoff (30 s)"
    );

    // The wait-time check over the three pages.
    let paged = check(&report, "paged");
    assert_eq!(paged["status"], "breach", "{paged}");
    assert_eq!(
        group(paged, "region", "socal-south")["counts"],
        counts(3, 3, 0)
    );
    assert_eq!(group(paged, "region", "north")["counts"], counts(2, 0, 1));
    assert_eq!(group(paged, "region", "north")["status"], "ok");
    assert_eq!(
        paged["data_time"], "2026-11-25T18:00:00Z",
        "the newest meta.lastUpdated"
    );
    // The first URL is ours; the next ones are the server's, verbatim.
    let targets: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.case() == "paged")
        .map(Seen::target)
        .collect();
    assert_eq!(
        targets,
        [
            "/paged/Appointment?service-category=8&status=booked%2Cfulfilled%2Cnoshow%2Ccancelled&status=waitlist%2Cproposed%2Cpending%2Centered-in-error&_count=3".to_owned(),
            format!("/paged?{PAGE_2}"),
            format!("/paged?{PAGE_3}"),
        ]
    );
    let accept = log.lock().unwrap()[0].headers.get(header::ACCEPT).cloned();
    assert_eq!(accept.unwrap(), "application/fhir+json");

    for (case, _, expected) in failing {
        let result = check(&report, case);
        if expected.is_empty() {
            // Fetched; no requests to evaluate is the check's own matter.
            out.log("source fetched", "source", case);
            let error = result["error"].as_str().unwrap_or("");
            assert!(
                error.is_empty() || error.starts_with("no appointment requests"),
                "{case}: {result}"
            );
        } else {
            assert_eq!(result["status"], "unknown", "{case}: {result}");
            let error = result["error"].as_str().unwrap();
            assert!(error.contains(expected), "{case}: {error}");
            assert!(!error.contains("example-member"), "{case}: {error}");
        }
    }
    assert_eq!(
        rate_limited.load(Ordering::SeqCst),
        2,
        "429, then the retry"
    );
    // Streamed page by page: the log has no row count, the check no group.
    assert_eq!(out.log("source fetched", "source", "empty")["status"], "ok");
    assert_eq!(check(&report, "empty")["groups"], serde_json::json!([]));
    let cut = check(&report, "cut")["error"].as_str().unwrap().to_owned();
    assert!(cut.contains("the response body was cut off"), "{cut}");
    assert!(
        !out.stderr.contains("example-member"),
        "member data in the log"
    );
}

/// Client credentials: the token endpoint sees basic authentication and
/// grant_type, the FHIR server the bearer token; two sources with the
/// same client share one token. A wrong secret fails at the token
/// endpoint, without the secret in the message.
#[test]
fn client_credentials_token_flow() {
    let token_requests = Arc::new(AtomicUsize::new(0));
    let asked = token_requests.clone();
    let (http, log) = server(move |seen| {
        if seen.path == "/oauth/token" {
            asked.fetch_add(1, Ordering::SeqCst);
            let basic = seen
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            // base64("accesswatch:s3cret/+")
            let form: Vec<(String, String)> = url::form_urlencoded::parse(seen.body.as_bytes())
                .into_owned()
                .collect();
            let good = seen.method == "POST"
                && basic == Some("Basic YWNjZXNzd2F0Y2g6czNjcmV0Lys=")
                && form.contains(&("grant_type".to_owned(), "client_credentials".to_owned()))
                && form.contains(&(
                    "scope".to_owned(),
                    "system/Appointment.read system/PractitionerRole.read".to_owned(),
                ));
            return if good {
                status(
                    200,
                    "application/json",
                    r#"{"access_token":"tok-7f3e","token_type":"Bearer","expires_in":300}"#
                        .to_owned(),
                )
            } else {
                status(
                    401,
                    "application/json",
                    r#"{"error":"invalid_client"}"#.to_owned(),
                )
            };
        }
        let bearer = seen
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if bearer != Some("Bearer tok-7f3e") {
            return status(
                401,
                "application/fhir+json",
                fixture("outcome-invalid-parameter.json"),
            );
        }
        match seen.case() {
            "roles" => fhir(fixture("practitioner-roles.json")),
            _ => fhir(fixture("empty-searchset.json")),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secret", "s3cret/+\n");
    write(dir.path(), "wrong", "guess\n");
    let credentials = |secret: &str| {
        format!(
            "token_url = \"{}\"\nclient_id = \"accesswatch\"\nclient_secret_file = \"{secret}\"\n\
             scope = \"system/Appointment.read system/PractitionerRole.read\"\n",
            http.url("/oauth/token")
        )
    };
    let mut config = header();
    config += &source(
        "appointments",
        &http.url("/appointments"),
        "",
        &format!(
            "resource = \"Appointment\"\n{}{REGION_LABEL}",
            credentials("secret")
        ),
    );
    config += &timely("appointments", "appointments", "region");
    config += &source(
        "roles",
        &http.url("/roles"),
        "",
        &format!("resource = \"PractitionerRole\"\n{}", credentials("secret")),
    );
    config += "[[check]]\nid = \"roles\"\ntitle = \"Roles\"\nkind = \"threshold\"\nsource = \"roles\"\nfield = \"bh\"\naggregate = \"sum\"\nop = \">=\"\nlimit = 1\n\n";
    let (out, report) = run_once(dir.path(), &config, &[]);
    out.log("source fetched", "source", "appointments");
    assert_eq!(check(&report, "roles")["status"], "ok", "{report}");
    assert_eq!(
        token_requests.load(Ordering::SeqCst),
        1,
        "one token for both sources"
    );
    assert!(!out.stderr.contains("tok-7f3e") && !out.stderr.contains("s3cret"));
    assert_eq!(
        log.lock()
            .unwrap()
            .iter()
            .filter(|s| s.path != "/oauth/token")
            .count(),
        2
    );

    let mut config = header();
    config += &source(
        "appointments",
        &http.url("/appointments"),
        "",
        &format!(
            "resource = \"Appointment\"\n{}{REGION_LABEL}",
            credentials("wrong")
        ),
    );
    config += &timely("appointments", "appointments", "region");
    let (out, report) = run_once(dir.path(), &config, &[]);
    let error = check(&report, "appointments")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains("requesting an access token from token_url http://127.0.0.1:"),
        "{error}"
    );
    assert!(error.contains("HTTP 401 Unauthorized"), "{error}");
    assert!(!error.contains("guess") && !out.stderr.contains("guess"));
}

/// With a state store (`run --once --notify`), the first run fetches
/// everything, the second asks for `_lastUpdated=gt<newest>` and merges:
/// an update replaces its row, entered-in-error deletes it, a new one is
/// added. Nothing of the member reaches the store.
#[test]
fn incremental_sync_merges_what_changed() {
    let (http, log) = server(|seen| {
        if !seen.query.contains("_lastUpdated") {
            fhir(fixture("sync-full.json"))
        } else if seen
            .query
            .contains("_lastUpdated=gt2026-11-20T10%3A00%3A00Z")
        {
            fhir(fixture("sync-changes.json"))
        } else {
            fhir(fixture("empty-searchset.json"))
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    config += &source(
        "sync",
        &http.url("/sync"),
        "",
        &format!("resource = \"Appointment\"\nincremental = true\n{REGION_LABEL}"),
    );
    config += &timely("sync", "sync", "region");
    let south = |report: &serde_json::Value| {
        group(check(report, "sync"), "region", "socal-south")["counts"].clone()
    };

    let (_, first) = run_once(dir.path(), &config, &["--notify"]);
    assert_eq!(south(&first), counts(2, 1, 0), "{first}");
    let (_, second) = run_once(dir.path(), &config, &["--notify"]);
    assert_eq!(
        south(&second),
        counts(2, 0, 1),
        "s2 booked, s3 deleted, s4 new: {second}"
    );
    let (_, third) = run_once(dir.path(), &config, &["--notify"]);
    assert_eq!(south(&third), counts(2, 0, 1), "nothing changed: {third}");
    let queries: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.query.clone())
        .collect();
    assert_eq!(queries.len(), 3);
    assert!(!queries[0].contains("_lastUpdated"), "{queries:?}");
    assert!(
        queries[1].ends_with("_lastUpdated=gt2026-11-20T10%3A00%3A00Z"),
        "{queries:?}"
    );
    assert!(
        queries[2].ends_with("_lastUpdated=gt2026-11-27T10%3A00%3A00.250%2B00%3A00"),
        "{queries:?}"
    );
    // Without the store (no --notify), a full fetch.
    let (_, once) = run_once(dir.path(), &config, &[]);
    assert_eq!(south(&once), counts(2, 1, 0));

    let db = rusqlite::Connection::open(dir.path().join("state/accesswatch.db")).unwrap();
    let rows: Vec<(String, String)> = db
        .prepare(
            "SELECT row_key, row_json FROM source_rows WHERE source_id = 'sync' ORDER BY row_key",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["s1", "s2", "s4"]);
    for (_, json) in &rows {
        assert!(
            !json.contains("Patient") && !json.contains("example-member"),
            "{json}"
        );
    }
}

/// The referral date comes from the ServiceRequest in basedOn; the server
/// does not include them, so they are fetched by _id. The appointments of
/// one referral are one request, first offered at the earliest offer that
/// the provider did not cancel.
#[test]
fn service_requests_not_included_are_fetched_by_id() {
    let (http, log) = server(|seen| match seen.path.as_str() {
        "/referrals/Appointment" => fhir(fixture("appointments-based-on.json")),
        "/referrals/ServiceRequest" => fhir(fixture("service-requests.json")),
        other => panic!("unexpected {other}"),
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    config += &source(
        "referrals",
        &http.url("/referrals"),
        "",
        &format!(
            "resource = \"Appointment\"\nrequested_from = \"service-request\"\n{REGION_LABEL}"
        ),
    );
    config += &timely("referrals", "referrals", "region");
    let (_, report) = run_once(dir.path(), &config, &[]);
    assert_eq!(
        group(check(&report, "referrals"), "region", "socal-south")["counts"],
        counts(1, 1, 0),
        "{report}"
    );
    let targets: Vec<String> = log.lock().unwrap().iter().map(Seen::target).collect();
    assert_eq!(
        targets,
        [
            "/referrals/Appointment?_include=Appointment%3Abased-on",
            "/referrals/ServiceRequest?_id=sr-1%2Csr-2"
        ]
    );
}

/// Free slots: one row per active Schedule with its next free slot; a
/// schedule with none within the horizon counts as not offered in time.
#[test]
fn next_available_slot_per_schedule() {
    let (http, log) = server(|seen| match (seen.path.as_str(), seen.query.as_str()) {
        ("/slots/Schedule", _) => fhir(fixture("schedules.json")),
        ("/slots/Slot", "_page_token=Zm9vYmFy") => fhir(fixture("slots-page-2.json")),
        ("/slots/Slot", _) => fhir(fixture("slots-page-1.json")),
        (other, _) => panic!("unexpected {other}"),
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    config += &source(
        "slots",
        &http.url("/slots"),
        "",
        "resource = \"Slot\"\nschedule_search = { \"service-category\" = \"8\" }\n\
         labels = { county = \"Location.extension:http://plan.example/fhir/StructureDefinition/county\" }\n",
    );
    config += &timely("next-available", "slots", "county")
        .replace("calendar", "window = \"1d\"\ncalendar");
    let (out, report) = run_once(dir.path(), &config, &[]);
    let result = check(&report, "next-available");
    assert_eq!(result["status"], "breach", "{result}");
    assert_eq!(
        group(result, "county", "Alameda")["counts"],
        counts(1, 1, 0)
    );
    assert_eq!(
        group(result, "county", "Fresno")["counts"],
        counts(0, 1, 0),
        "no slot within 60 days"
    );
    assert_eq!(
        out.log("source fetched", "source", "slots")["rows"],
        3,
        "sched-4 is inactive"
    );
    let targets: Vec<String> = log.lock().unwrap().iter().map(Seen::target).collect();
    assert_eq!(
        targets,
        [
            "/slots/Schedule?service-category=8&active=true&_include=Schedule%3Aactor",
            "/slots/Slot?status=free&start=ge2026-12-01T01%3A00%3A00Z&start=lt2027-01-30T01%3A00%3A00Z",
            "/slots/Slot?_page_token=Zm9vYmFy",
        ]
    );
}

/// The Plan-Net roster: roles classified by NUCC specialty (a deactivated
/// code flagged and not counted, inactive and ended roles left out), per
/// network named by the included Organizations, with FTE from an
/// extension; ratio and threshold checks over it.
#[test]
fn plan_net_roster_by_network() {
    let (http, _log) = server(|_| fhir(fixture("practitioner-roles.json")));
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    config += &source(
        "directory",
        &http.url("/directory"),
        "",
        "resource = \"PractitionerRole\"\nsearch = { _include = \"PractitionerRole:network\" }\n\
         fte = \"extension:http://plan.example/fhir/StructureDefinition/fte\"\n\
         labels = { state = \"Location.address.state\" }\n",
    );
    config += "[[check]]\nid = \"bh-share\"\ntitle = \"BH share\"\nkind = \"ratio\"\nsource = \"directory\"\nnumerator = \"bh_fte\"\ndenominator = \"fte\"\n\
               group_by = [\"network\"]\nop = \">=\"\nlimit = 0.58\n\n\
               [[check]]\nid = \"bh-fte\"\ntitle = \"BH FTE\"\nkind = \"threshold\"\nsource = \"directory\"\nfield = \"bh_fte\"\naggregate = \"sum\"\n\
               group_by = [\"network\", \"state\"]\nop = \">=\"\nlimit = 2\n\n\
               [[check]]\nid = \"deactivated\"\ntitle = \"Deactivated\"\nkind = \"threshold\"\nsource = \"directory\"\nfield = \"bh\"\naggregate = \"sum\"\n\
               group_by = [\"network\", \"deactivated_code\"]\nop = \">=\"\nlimit = 0\n\n\
               [[source]]\nid = \"membership\"\nkind = \"file\"\npath = \"membership.csv\"\n\n\
               [[check]]\nid = \"members-per-bh-fte\"\ntitle = \"Members per BH FTE\"\nkind = \"ratio\"\nsource = \"directory\"\n\
               numerator_source = \"membership\"\nnumerator = \"members\"\ndenominator = \"bh_fte\"\n\
               group_by = [\"network\"]\nop = \"<=\"\nlimit = 2600\n\n";
    std::fs::write(
        dir.path().join("membership.csv"),
        "network,members\nACME CT Standard Network,5000\nACME CT Premium Network,100000\n",
    )
    .unwrap();
    let (_, report) = run_once(dir.path(), &config, &[]);
    // Members from the enrollment file over behavioral-health FTE from the
    // directory, joined on the network.
    let members = check(&report, "members-per-bh-fte");
    let standard = group(members, "network", "ACME CT Standard Network");
    assert_eq!(
        standard["value"], 2000.0,
        "5,000 members over 2.5 FTE: {standard}"
    );
    assert_eq!(standard["status"], "ok");
    assert_eq!(
        group(members, "network", "ACME CT Premium Network")["status"],
        "breach"
    );
    let share = check(&report, "bh-share");
    let standard = group(share, "network", "ACME CT Standard Network");
    assert_eq!(standard["status"], "breach");
    assert!(
        (standard["value"].as_f64().unwrap() - 2.5 / 4.5).abs() < 1e-9,
        "{standard}"
    );
    let premium = group(share, "network", "ACME CT Premium Network");
    assert_eq!(premium["status"], "ok");
    assert!(
        (premium["value"].as_f64().unwrap() - 0.6).abs() < 1e-9,
        "{premium}"
    );
    assert_eq!(premium["rows"], 3, "the ended role is left out");
    let fte = check(&report, "bh-fte");
    assert_eq!(
        group(fte, "network", "ACME CT Premium Network")["status"],
        "breach"
    );
    assert_eq!(
        group(fte, "network", "ACME CT Standard Network")["labels"]["state"],
        "CT"
    );
    let deactivated = check(&report, "deactivated");
    let flagged = deactivated["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"]["deactivated_code"] == "true")
        .unwrap_or_else(|| panic!("{deactivated}"));
    assert_eq!(
        (flagged["rows"].clone(), flagged["value"].clone()),
        (1.into(), 0.0.into())
    );
}

/// A FHIR server that redirects the search to another server (another
/// port: another origin): the source's configured headers, which may carry
/// secrets, are not sent there.
#[test]
fn a_redirect_to_another_origin_drops_the_configured_headers() {
    let (elsewhere, elsewhere_log) = server(|_| fhir(fixture("empty-searchset.json")));
    let target = elsewhere.url("/moved/Appointment");
    let (http, log) = server(move |_| {
        let mut reply = status(307, "text/plain", String::new());
        reply.headers.push(("location", target.clone()));
        reply
    });
    let dir = tempfile::tempdir().unwrap();
    let config = header()
        + &source(
            "fhir",
            &http.url("/redirect/fhir"),
            "[[source.headers]]\nname = \"X-Api-Key\"\nvalue_env = \"AW_TEST_FHIR_KEY\"\n",
            "resource = \"Appointment\"",
        )
        + &timely("wait", "fhir", "region");
    let path = write(dir.path(), "accesswatch.toml", &config);
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--as-of",
            AS_OF,
        ],
        &[("AW_TEST_FHIR_KEY", "s3cret-fhir-key")],
    );
    let key = |seen: &Seen| {
        seen.headers
            .get("x-api-key")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let asked = log.lock().unwrap().clone();
    assert_eq!(
        key(&asked[0]).as_deref(),
        Some("s3cret-fhir-key"),
        "{}",
        out.stderr
    );
    let followed = elsewhere_log.lock().unwrap().clone();
    assert!(
        !followed.is_empty(),
        "the redirect was followed: {}",
        out.stderr
    );
    for seen in &followed {
        assert_eq!(key(seen), None, "the key went to {}", seen.target());
    }
}

/// Appointment `i` of a generated search: requested Monday 2026-11-02,
/// offered `i % 20` days later, in region north (even `i`) or
/// socal-south (odd). With the us-federal calendar, offers up to 11-17
/// (offsets 0 to 15) are within 10 business days: per 20 appointments,
/// 8 of each region compliant and 2 not.
fn generated_appointment(id: &str, i: usize) -> serde_json::Value {
    let region = if i.is_multiple_of(2) {
        "north"
    } else {
        "socal-south"
    };
    serde_json::json!({"fullUrl": format!("http://x/fhir/Appointment/{id}"), "resource": {
        "resourceType": "Appointment",
        "id": id,
        "meta": {"lastUpdated": format!("2026-11-{:02}T10:00:00Z", 3 + i % 20)},
        "status": "booked",
        "created": "2026-11-02T09:00:00-08:00",
        "start": format!("2026-11-{:02}T10:00:00-08:00", 2 + i % 20),
        "appointmentType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "ROUTINE"}]},
        "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "1041C0700X"}]}],
        "extension": [{"url": "http://plan.example/fhir/StructureDefinition/region", "valueString": region}],
        "participant": [{"actor": {"reference": "Patient/example-member"}, "status": "accepted"}]
    }})
}

/// Page `page` (from 1) of `pages` of a generated search of `per_page`
/// appointments; `repeat_first` puts appointment 0 again on page 3.
fn generated_page(
    base: &str,
    page: usize,
    pages: usize,
    per_page: usize,
    repeat_first: bool,
) -> String {
    let mut entries: Vec<serde_json::Value> = (0..per_page)
        .map(|k| {
            let i = (page - 1) * per_page + k;
            generated_appointment(&format!("a-{i}"), i)
        })
        .collect();
    if repeat_first && page == 3 {
        entries[0] = generated_appointment("a-0", 0);
    }
    let mut bundle =
        serde_json::json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
    if page < pages {
        bundle["link"] =
            serde_json::json!([{"relation": "next", "url": format!("{base}?page={}", page + 1)}]);
    }
    bundle.to_string()
}

/// The page a generated search's request asks for.
fn page_asked(seen: &Seen) -> usize {
    seen.query
        .split('&')
        .find_map(|p| p.strip_prefix("page="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// A search of 60 pages folded page by page gives the counts of every
/// appointment once; a failure on page 7 leaves nothing partial; a
/// resource repeated on a later page starts the search again (once here),
/// and one repeated on every try is an error; an incremental source
/// writes its mirror in batches and folds it back the same.
#[test]
fn many_pages_are_folded_page_by_page() {
    let searches_of_dup = Arc::new(AtomicUsize::new(0));
    let dup_searches = searches_of_dup.clone();
    let (http, log) = server(move |seen| {
        let page = page_asked(seen);
        let base = format!("http://127.0.0.1{}", seen.path);
        let base = seen
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map_or(base, |host| format!("http://{host}{}", seen.path));
        match seen.case() {
            "broken" if page == 7 => status(500, "text/plain", "down".to_owned()),
            "dup" => {
                if page == 1 {
                    dup_searches.fetch_add(1, Ordering::SeqCst);
                }
                let first_try = dup_searches.load(Ordering::SeqCst) == 1;
                fhir(generated_page(&base, page, 10, 40, first_try))
            }
            "dupalways" => fhir(generated_page(&base, page, 10, 40, true)),
            "mirror" => fhir(generated_page(&base, page, 30, 400, false)),
            _ => fhir(generated_page(&base, page, 60, 40, false)),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    for case in ["many", "broken", "dup", "dupalways"] {
        config += &source(
            case,
            &http.url(&format!("/{case}")),
            "",
            &format!("resource = \"Appointment\"\nmax_pages = 100\n{REGION_LABEL}"),
        );
        config += &timely(case, case, "region");
    }
    config += &source(
        "mirror",
        &http.url("/mirror"),
        "",
        &format!("resource = \"Appointment\"\nincremental = true\n{REGION_LABEL}"),
    );
    config += &timely("mirror", "mirror", "region");
    let (out, report) = run_once(dir.path(), &config, &["--notify"]);

    let many = check(&report, "many");
    for region in ["north", "socal-south"] {
        assert_eq!(
            group(many, "region", region)["counts"],
            counts(960, 240, 0),
            "{many}"
        );
    }
    assert_eq!(many["data_time"], "2026-11-22T10:00:00Z", "{many}");
    let pages: Vec<usize> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.case() == "many")
        .map(page_asked)
        .collect();
    assert_eq!(pages, (1..=60).collect::<Vec<_>>());

    let broken = check(&report, "broken");
    assert_eq!(broken["status"], "unknown", "{broken}");
    assert_eq!(broken["groups"], serde_json::json!([]), "nothing partial");
    let error = broken["error"].as_str().unwrap();
    assert!(
        error.contains("fetching page 7 of the Appointment search") && error.contains("HTTP 500"),
        "{error}"
    );

    let dup = check(&report, "dup");
    for region in ["north", "socal-south"] {
        assert_eq!(
            group(dup, "region", region)["counts"],
            counts(160, 40, 0),
            "each appointment once: {dup}"
        );
    }
    assert_eq!(
        searches_of_dup.load(Ordering::SeqCst),
        2,
        "searched again once"
    );
    let always = check(&report, "dupalways");
    assert_eq!(always["status"], "unknown");
    assert_eq!(always["groups"], serde_json::json!([]));
    assert!(
        always["error"]
            .as_str()
            .unwrap()
            .contains("the Appointment search returned a resource twice on each of 3 tries"),
        "{always}"
    );

    // 12,000 appointments: the mirror written and read in batches.
    let mirror = check(&report, "mirror");
    for region in ["north", "socal-south"] {
        assert_eq!(
            group(mirror, "region", region)["counts"],
            counts(4800, 1200, 0),
            "{mirror}"
        );
    }
    let db = rusqlite::Connection::open(dir.path().join("state/accesswatch.db")).unwrap();
    let kept: i64 = db
        .query_row(
            "SELECT count(*) FROM source_rows WHERE source_id = 'mirror'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 12_000);
    assert!(!out.stderr.contains("example-member"));
}

/// A sync that fails on a later page leaves the cursor where it was, so
/// the next sync fetches everything again, and the checks are unknown.
#[test]
fn a_mirror_sync_cut_short_keeps_its_old_cursor() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failing = fail.clone();
    let (http, log) = server(move |seen| {
        let page = page_asked(seen);
        let base = format!(
            "http://{}{}",
            seen.headers[header::HOST].to_str().unwrap(),
            seen.path
        );
        if failing.load(Ordering::SeqCst) && page == 20 {
            return status(500, "text/plain", "down".to_owned());
        }
        fhir(generated_page(&base, page, 25, 400, false))
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    config += &source(
        "mirror",
        &http.url("/mirror"),
        "",
        &format!("resource = \"Appointment\"\nincremental = true\n{REGION_LABEL}"),
    );
    config += &timely("mirror", "mirror", "region");
    fail.store(true, Ordering::SeqCst);
    let (_, first) = run_once(dir.path(), &config, &["--notify"]);
    assert_eq!(check(&first, "mirror")["status"], "unknown", "{first}");
    fail.store(false, Ordering::SeqCst);
    let (_, second) = run_once(dir.path(), &config, &["--notify"]);
    let north = group(check(&second, "mirror"), "region", "north");
    assert_eq!(north["counts"], counts(4000, 1000, 0), "{second}");
    let queries: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| page_asked(s) == 1)
        .map(|s| s.query.clone())
        .collect();
    assert_eq!(queries.len(), 2);
    assert!(
        queries.iter().all(|q| !q.contains("_lastUpdated")),
        "both syncs full: {queries:?}"
    );
}

/// An incremental source that a wait-time check and another check both
/// read is synced once per run (as a table), never twice at once.
#[test]
fn a_mirror_read_by_other_checks_too_is_synced_once() {
    let (http, log) = server(move |seen| {
        let base = format!(
            "http://{}{}",
            seen.headers[header::HOST].to_str().unwrap(),
            seen.path
        );
        fhir(generated_page(&base, page_asked(seen), 3, 20, false))
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = header();
    config += &source(
        "mirror",
        &http.url("/mirror"),
        "",
        &format!("resource = \"Appointment\"\nincremental = true\n{REGION_LABEL}"),
    );
    config += &timely("mirror", "mirror", "region");
    config += "[[check]]\nid = \"fresh\"\ntitle = \"Mirror fresh\"\nkind = \"freshness\"\nsource = \"mirror\"\nmax_age = \"3650d\"\n\n";
    let (_, report) = run_once(dir.path(), &config, &["--notify"]);
    let north = group(check(&report, "mirror"), "region", "north");
    assert_eq!(north["counts"], counts(24, 6, 0), "{report}");
    let first_pages = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| page_asked(s) == 1)
        .count();
    assert_eq!(first_pages, 1, "one sync");
}
