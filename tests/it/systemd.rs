//! The daemon as systemd sees it, on the real binary: notifications on a
//! datagram socket the test listens on (READY, STATUS, WATCHDOG,
//! RELOADING, STOPPING), and reloads on SIGHUP.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::common::{self, ConfigText, Daemon, write};

fn config(dir: &std::path::Path, schedule: &str, extra_check: &str) -> std::path::PathBuf {
    write(
        dir,
        "staffing.csv",
        "region,members,fte\nsouth,3500,1\nnorth,2000,1\n",
    );
    config_text(schedule, extra_check).write(dir)
}

/// The text of [`config`]: a critical ratio check that breaches for south
/// on `schedule`, with email to files.
fn config_text(schedule: &str, extra_check: &str) -> ConfigText {
    ConfigText::new()
        .los_angeles()
        .daemon("log_format = \"json\"")
        .staffing_source("")
        .staffing_check(&format!("schedule = \"{schedule}\""))
        .section(extra_check)
        .route("all", &["c@plan.example"])
}

const SECOND_CHECK: &str = r#"
[[check]]
id = "tight-ratio"
title = "Members per FTE therapist, tight"
kind = "ratio"
source = "staffing"
numerator = "members"
denominator = "fte"
group_by = ["region"]
op = "<="
limit = 1000
"#;

/// Collects notification datagrams until one contains `needle`.
fn wait_for_notice(
    socket: &UnixDatagram,
    seen: &mut Vec<(Instant, String)>,
    needle: &str,
    timeout: Duration,
) -> Instant {
    let deadline = Instant::now() + timeout;
    if let Some((at, _)) = seen.iter().find(|(_, m)| m.contains(needle)) {
        return *at;
    }
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no notification with {needle:?}; got {seen:?}"
        );
        socket.set_read_timeout(Some(left)).unwrap();
        if let Ok(n) = socket.recv(&mut buffer) {
            let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
            let at = Instant::now();
            seen.push((at, message.clone()));
            if message.contains(needle) {
                return at;
            }
        }
    }
}

#[test]
fn notifies_ready_status_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let path = config(dir.path(), "0 6 * * *", "");
    let mut daemon = Daemon::start(
        &path,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "600000"),
        ],
    );
    let mut seen = Vec::new();
    wait_for_notice(&socket, &mut seen, "READY=1", Duration::from_secs(20));
    let status = wait_for_notice(
        &socket,
        &mut seen,
        "STATUS=1 checks, 1 firing, outbox",
        Duration::from_secs(20),
    );
    let _ = status;
    // Watchdog pings at least every half WATCHDOG_USEC (300 ms), checked over 2 s.
    let start = Instant::now();
    let mut last = start;
    while start.elapsed() < Duration::from_secs(2) {
        let before = seen.len();
        let at = wait_for_notice(&socket, &mut seen, "WATCHDOG=1", Duration::from_secs(2));
        let _ = before;
        assert!(
            at - last <= Duration::from_millis(450),
            "a gap of {:?} between pings",
            at - last
        );
        last = at;
        seen.retain(|(_, m)| !m.contains("WATCHDOG=1"));
    }
    daemon.signal("TERM");
    wait_for_notice(&socket, &mut seen, "STOPPING=1", Duration::from_secs(10));
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn sighup_with_a_broken_configuration_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let path = config(dir.path(), "0 6 * * *", "");
    let mut daemon = Daemon::start(&path, &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())]);
    let mut seen = Vec::new();
    wait_for_notice(&socket, &mut seen, "READY=1", Duration::from_secs(20));
    daemon.wait_for("\"next run\"", Duration::from_secs(10));
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        good.replace("op = \"<=\"", "op = \"=<\"")
            .replace("limit = 3000", "limit = \"3000\""),
    )
    .unwrap();
    daemon.signal("HUP");
    wait_for_notice(&socket, &mut seen, "RELOADING=1", Duration::from_secs(10));
    let monotonic = seen
        .iter()
        .find(|(_, m)| m.contains("RELOADING=1"))
        .unwrap()
        .1
        .clone();
    assert!(monotonic.contains("MONOTONIC_USEC="), "{monotonic}");
    let problem = daemon.wait_for("configuration problem", Duration::from_secs(10));
    assert!(problem.contains("accesswatch.toml:"), "{problem}");
    daemon.wait_for("keeping the old one", Duration::from_secs(5));
    assert!(daemon.child.try_wait().unwrap().is_none(), "still running");
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn sighup_applies_a_new_schedule_and_drops_removed_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "0 6 * * *", SECOND_CHECK);
    let mut daemon = Daemon::start(&path, &[]);
    daemon.wait_for("\"run finished\"", Duration::from_secs(20));
    daemon.wait_for("\"next run\"", Duration::from_secs(10));
    // Every minute instead of 06:00, and the second check removed.
    config(dir.path(), "* * * * *", "");
    daemon.signal("HUP");
    let reloaded = daemon.wait_for("\"configuration reloaded\"", Duration::from_secs(10));
    assert!(
        reloaded.contains("\"removed\":1") && reloaded.contains("\"rescheduled\":1"),
        "{reloaded}"
    );
    let closed = daemon.wait_for("its open alerts are closed", Duration::from_secs(5));
    assert!(closed.contains("tight-ratio"), "{closed}");
    // The new job waits for the next minute, not for 06:00.
    let next = daemon.wait_for("* * * * * America/Los_Angeles", Duration::from_secs(10));
    assert!(next.contains("\"next run\""), "{next}");
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
    let status = common::accesswatch(
        &["--config", path.to_str().unwrap(), "status", "--json"],
        &[],
    );
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let checks: Vec<&str> = status["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["check"].as_str().unwrap())
        .collect();
    assert!(!checks.contains(&"tight-ratio"), "{checks:?}");
    assert!(checks.contains(&"members-per-therapist"));
}

/// A plain HTTP/1.0 GET on 127.0.0.1: status code and body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    let (status, _, body) = common::http_get(port, path, None);
    (status, body)
}

#[test]
fn metrics_parse_as_prometheus_text_and_healthz_tracks_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let path = config(dir.path(), "0 6 * * *", SECOND_CHECK);
    config_text("0 6 * * *", SECOND_CHECK)
        .daemon(&format!("listen = \"127.0.0.1:{port}\""))
        .write(dir.path());
    let mut daemon = Daemon::start(&path, &[]);
    daemon.wait_for("\"email sent\"", Duration::from_secs(20));
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    // Parsed by the reference parser, prometheus_client's.
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        out.setdefault(sample.name, []).append([sample.labels, sample.value])
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new(common::python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), body.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the parser rejected:\n{body}");
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let sample = |name: &str, labels: serde_json::Value| -> f64 {
        parsed[name]
            .as_array()
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .iter()
            .find(|s| s[0] == labels)
            .unwrap_or_else(|| panic!("no {name}{labels} in {body}"))[1]
            .as_f64()
            .unwrap()
    };
    let south = serde_json::json!({"check": "members-per-therapist", "group": "region=south"});
    assert_eq!(sample("accesswatch_group_value", south.clone()), 3500.0);
    assert_eq!(sample("accesswatch_group_limit", south), 3000.0);
    assert_eq!(
        sample(
            "accesswatch_group_status",
            serde_json::json!({"check": "members-per-therapist", "group": "region=south", "status": "breach"})
        ),
        1.0
    );
    assert_eq!(
        sample("accesswatch_alerts", serde_json::json!({"state": "firing"})),
        3.0
    );
    assert_eq!(sample("accesswatch_runs_total", serde_json::json!({})), 1.0);
    assert_eq!(
        sample("accesswatch_outbox_messages", serde_json::json!({})),
        0.0
    );
    assert_eq!(
        sample(
            "accesswatch_source_errors_total",
            serde_json::json!({"source": "staffing"})
        ),
        0.0
    );
    assert!(
        sample(
            "accesswatch_source_last_success_timestamp_seconds",
            serde_json::json!({"source": "staffing"})
        ) > 1.7e9
    );
    let (status, body) = http_get(port, "/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"state_store\":\"writable\""), "{body}");
    // A read-only state directory (an immutable one binds root too): 503.
    let state = dir.path().join("state");
    let chattr = |flag: &str| {
        assert!(
            std::process::Command::new("chattr")
                .arg(flag)
                .arg(&state)
                .status()
                .unwrap()
                .success()
        )
    };
    chattr("+i");
    let (status, body) = http_get(port, "/healthz");
    chattr("-i");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"state_store\":\"not writable\""), "{body}");
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}
