//! The status page of the running daemon (`[daemon] listen`): `/` and
//! `/check/ID` over plain HTTP, users with bcrypt hashes, TLS with a
//! certificate and key, and the configuration that refuses an address
//! reachable from other machines without users.

use std::time::Duration;

use crate::common::{self, ConfigText, Daemon, accesswatch, http_get as get, write};

/// "s3cret" hashed with bcrypt (cost 4, so the tests stay quick).
const HASH: &str = "$2b$04$66eybSRooF8PYC6YzuhtCOyGx327GQ8VJl7Q7QOV2nasnCJnIpTsS";

/// Staffing where socal-south breaches 3,000 members per therapist.
fn staffing(dir: &std::path::Path) {
    write(
        dir,
        "staffing.csv",
        "region,members,fte\nsocal-south,3500,1\nnorth,2000,1\n",
    );
}

fn config(dir: &std::path::Path, port: u16, web: &str) -> std::path::PathBuf {
    staffing(dir);
    ConfigText::new()
        .los_angeles()
        .daemon(&format!(
            "log_format = \"json\"\nlisten = \"127.0.0.1:{port}\"\n{web}"
        ))
        .staffing_source("")
        .staffing_check("metric = \"members per therapist\"")
        .route("compliance", &["compliance@plan.example"])
        .write(dir)
}

#[test]
fn the_page_shows_every_group_and_each_checks_history() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let path = config(dir.path(), port, "");
    let mut daemon = Daemon::start(&path, &[]);
    daemon.wait_for("\"run finished\"", Duration::from_secs(30));
    let (status, head, body) = get(port, "/", None);
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_lowercase().contains("content-type: text/html"),
        "{head}"
    );
    for needle in [
        "<table>",
        "<th scope=\"col\">Status</th>",
        "region=socal-south",
        "region=north",
        "3,500",
        "2,000",
        "critical",
        "firing since",
        "href=\"/check/members-per-therapist\"",
    ] {
        assert!(body.contains(needle), "{needle} missing from:\n{body}");
    }
    assert!(
        !body.contains("<script"),
        "no script: it works with JavaScript off"
    );
    let (status, _, page) = get(port, "/check/members-per-therapist", None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<svg"), "a history chart: {page}");
    assert!(
        page.contains("<title>History of members per therapist"),
        "{page}"
    );
    assert!(page.contains("Last runs of region=socal-south"), "{page}");
    let (status, _, body) = get(port, "/check/no-such-check", None);
    assert_eq!((status, body.as_str()), (404, "not found\n"));
    // The period report of the last 30 days, from the page's links.
    assert!(
        page.contains("href=\"/report?days=30&amp;format=html\""),
        "{page}"
    );
    let (status, head, report) = get(port, "/report?days=30&format=html", None);
    assert_eq!(status, 200, "{report}");
    assert!(head.to_lowercase().contains("text/html"), "{head}");
    assert!(report.contains("region=socal-south"), "{report}");
    let (status, head, csv) = get(port, "/report?days=90&format=csv", None);
    assert_eq!(status, 200, "{csv}");
    assert!(head.to_lowercase().contains("text/csv"), "{head}");
    assert!(csv.contains("members-per-therapist"), "{csv}");
    let (status, _, _) = get(port, "/report?days=0&format=pdf", None);
    assert_eq!(status, 400);

    // As a person sees it: a real browser, its DOM and a screenshot.
    let url = format!("http://127.0.0.1:{port}/");
    let dom = crate::browser::dump_dom(&url);
    assert!(dom.console.is_empty(), "console: {:?}", dom.console);
    for needle in [
        "region=socal-south",
        "3,500",
        "critical",
        "region=north",
        "2,000",
        ">ok<",
    ] {
        assert!(
            dom.stdout.contains(needle),
            "{needle} missing from the DOM:\n{}",
            dom.stdout
        );
    }
    let shot = dir.path().join("status.png");
    crate::browser::screenshot(&url, &shot, 1200, 500);
    assert!(crate::browser::not_blank(&shot), "the screenshot is blank");
    let check_url = format!("http://127.0.0.1:{port}/check/members-per-therapist");
    let dom = crate::browser::dump_dom(&check_url);
    assert!(
        dom.stdout.contains("History of members per therapist"),
        "{}",
        dom.stdout
    );
    let check_shot = dir.path().join("check.png");
    crate::browser::screenshot(&check_url, &check_shot, 1000, 900);
    assert!(crate::browser::not_blank(&check_shot));
    if let Some(keep) = std::env::var_os("ACCESSWATCH_KEEP_SCREENSHOTS") {
        let keep = std::path::PathBuf::from(keep);
        std::fs::copy(&shot, keep.join("status-page.png")).unwrap();
        std::fs::copy(&check_shot, keep.join("status-check.png")).unwrap();
    }
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn users_guard_everything_but_healthz_and_tls_serves_it() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let certificate = common::certificate(dir.path());
    let port = common::free_port();
    let web = format!(
        "[daemon.web]\nbasic_auth_users = {{ dana = \"{HASH}\" }}\n\
         tls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        certificate.cert.display(),
        certificate.key.display()
    );
    let path = config(dir.path(), port, &web);
    let mut daemon = Daemon::start(&path, &[]);
    daemon.wait_for("\"run finished\"", Duration::from_secs(30));
    // Python's urllib over TLS, trusting the test CA only.
    let fetch = |path: &str, user: Option<(&str, &str)>| -> (u16, String) {
        let auth = user.map_or(String::new(), |(u, p)| {
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        });
        let script = format!(
            r#"
import ssl, sys, urllib.request, urllib.error
context = ssl.create_default_context(cafile={ca:?})
request = urllib.request.Request("https://127.0.0.1:{port}{path}")
if {auth:?}:
    request.add_header("Authorization", "Basic " + {auth:?})
try:
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        print(response.status); sys.stdout.write(response.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); sys.stdout.write(e.read().decode())
"#,
            ca = certificate.ca.display().to_string(),
        );
        let output = std::process::Command::new(common::python())
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let (status, body) = text.split_once('\n').unwrap();
        (status.parse().unwrap(), body.to_owned())
    };
    let (status, body) = fetch("/healthz", None);
    assert_eq!(status, 200, "healthz stays open: {body}");
    for path in ["/", "/metrics", "/check/members-per-therapist"] {
        let (status, body) = fetch(path, None);
        assert_eq!(
            (status, body.as_str()),
            (401, "authentication required\n"),
            "{path}"
        );
        let (status, _) = fetch(path, Some(("dana", "wrong")));
        assert_eq!(status, 401, "{path}");
        let (status, _) = fetch(path, Some(("mallory", "s3cret")));
        assert_eq!(status, 401, "{path}");
        let (status, body) = fetch(path, Some(("dana", "s3cret")));
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Plain HTTP to the TLS port gets no page.
    let plain = std::panic::catch_unwind(|| get(port, "/", None));
    assert!(plain.is_err() || plain.unwrap().0 != 200);
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn an_address_others_can_reach_needs_users() {
    let dir = tempfile::tempdir().unwrap();
    staffing(dir.path());
    let text = |web: &str| {
        ConfigText::new()
            .daemon(&format!("listen = \"0.0.0.0:9464\"\n{web}"))
            .staffing_source("")
            .staffing_check("")
            .route("r", &["c@plan.example"])
            .write(dir.path())
    };
    let out = accesswatch(
        &["--config", text("").to_str().unwrap(), "check-config"],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("reachable from other machines: add users under [daemon.web]"),
        "{}",
        out.stderr
    );
    let out = accesswatch(
        &[
            "--config",
            text("[daemon.web]\nbasic_auth_users = { dana = \"s3cret\" }")
                .to_str()
                .unwrap(),
            "check-config",
        ],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("must be a bcrypt hash, never a password"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    let out = accesswatch(
        &[
            "--config",
            text(&format!(
                "[daemon.web]\nbasic_auth_users = {{ dana = \"{HASH}\" }}"
            ))
            .to_str()
            .unwrap(),
            "check-config",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}
