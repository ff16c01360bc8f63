//! `run --once`: the report in both formats, the exit codes of the
//! monitoring-plugins convention, `--as-of`, the demo configuration, and
//! the log output choices.

use std::path::Path;

use crate::common::{ConfigText, accesswatch, manifest_dir, write};

/// One threshold check of the given severity over a CSV; `limit` decides
/// whether it breaches (the value is 15).
fn config(dir: &Path, severity: &str, limit: u32, extra: &str) -> String {
    write(dir, "waits.csv", "region,days\nsouth,15\nnorth,4\n");
    ConfigText::new()
        .daemon("state_directory = \"state\"")
        .daemon(extra)
        .section(&format!(
            "[[source]]\nid = \"waits\"\nkind = \"file\"\npath = \"waits.csv\"\n\
             [[check]]\nid = \"wait-days\"\ntitle = \"Days to first appointment\"\nkind = \"threshold\"\nsource = \"waits\"\n\
             field = \"days\"\ngroup_by = [\"region\"]\nop = \"<=\"\nlimit = {limit}\nseverity = \"{severity}\""
        ))
        .route("r", &["c@plan.example"])
        .write(dir)
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn exit_codes_follow_the_monitoring_plugins_convention() {
    let dir = tempfile::tempdir().unwrap();
    for (severity, limit, expected) in
        [("critical", 20, 0), ("warning", 10, 1), ("critical", 10, 2)]
    {
        let path = config(dir.path(), severity, limit, "");
        let out = accesswatch(&["--config", &path, "run", "--once"], &[]);
        assert_eq!(
            out.code, expected,
            "{severity} limit {limit}:\n{}{}",
            out.stdout, out.stderr
        );
    }
    std::fs::remove_file(dir.path().join("waits.csv")).unwrap();
    let path = dir.path().join("accesswatch.toml");
    let out = accesswatch(&["--config", path.to_str().unwrap(), "run", "--once"], &[]);
    assert_eq!(out.code, 3, "a missing file cannot be evaluated");
    assert!(
        out.stdout
            .contains("UNKNOWN   Days to first appointment (wait-days)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("waits.csv: No such file or directory"),
        "{}",
        out.stdout
    );
    // No email without --notify.
    assert!(!dir.path().join("outbox").exists());
}

#[test]
fn json_report_keeps_its_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "warning", 10, "");
    let out = accesswatch(
        &[
            "--config",
            &path,
            "run",
            "--once",
            "--report",
            "json",
            "--as-of",
            "2026-11-30T06:00:00-08:00",
        ],
        &[],
    );
    assert_eq!(out.code, 1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["as_of"], "2026-11-30T14:00:00Z");
    let check = &report["checks"][0];
    assert_eq!(check["id"], "wait-days");
    assert_eq!(check["status"], "breach");
    assert_eq!(check["severity"], "warning");
    assert_eq!(check["error"], serde_json::Value::Null);
    let groups = check["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["labels"], serde_json::json!({"region": "north"}));
    assert_eq!(groups[0]["status"], "ok");
    assert_eq!(groups[0]["value"], 4.0);
    assert_eq!(groups[0]["limit"], 10.0);
    assert_eq!(groups[1]["labels"], serde_json::json!({"region": "south"}));
    assert_eq!(groups[1]["status"], "breach");
    assert_eq!(groups[1]["value"], 15.0);
}

#[test]
fn notify_sends_and_without_it_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "critical", 10, "");
    accesswatch(&["--config", &path, "run", "--once"], &[]);
    assert!(!dir.path().join("outbox").exists());
    let out = accesswatch(&["--config", &path, "run", "--once", "--notify"], &[]);
    assert_eq!(out.code, 2);
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        1
    );
    // --as-of and --notify need --once.
    let out = accesswatch(&["--config", &path, "run", "--notify"], &[]);
    assert_eq!(out.code, 2, "a usage error");
    assert!(out.stderr.contains("--once"), "{}", out.stderr);
}

#[test]
fn the_demo_configuration_shows_a_real_alert() {
    // Copy config/ so that the demo writes its mail into a temporary place.
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    std::fs::create_dir(&demo).unwrap();
    for entry in std::fs::read_dir(manifest_dir().join("config/demo")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), demo.join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(
        manifest_dir().join("config/accesswatch.toml"),
        dir.path().join("accesswatch.toml"),
    )
    .unwrap();
    let path = dir.path().join("accesswatch.toml");
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--notify",
            "--report",
            "json",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let ratio = &report["checks"][0];
    assert_eq!(ratio["id"], "members-per-therapist");
    let breached: Vec<&serde_json::Value> = ratio["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["status"] == "breach")
        .collect();
    assert_eq!(
        breached.len(),
        1,
        "exactly one region is above 3,000 members per therapist"
    );
    assert_eq!(breached[0]["labels"]["region"], "socal-south");
    let mail: Vec<_> = std::fs::read_dir(demo.join("outbox")).unwrap().collect();
    assert_eq!(
        mail.len(),
        2,
        "one email per route: compliance and the socal-south director"
    );
}

#[test]
fn log_format_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    // Default: stderr is a pipe here, so JSON lines with the documented fields.
    let path = config(dir.path(), "critical", 10, "");
    let out = accesswatch(&["--config", &path, "run", "--once"], &[]);
    let fetched = out.log("source fetched", "source", "waits");
    assert_eq!(fetched["status"], "ok");
    assert!(fetched["duration_ms"].is_u64());
    let group = out.log("group not ok", "check", "wait-days");
    assert_eq!(group["group"], "region=south");
    assert_eq!(group["value"], 15.0);
    assert_eq!(group["limit"], 10.0);
    assert_eq!(group["status"], "breach");
    assert_eq!(group["level"], "WARN");
    assert!(group["timestamp"].is_string());
    // log_format = "text": human-readable.
    let path = config(dir.path(), "critical", 10, "log_format = \"text\"");
    let out = accesswatch(&["--config", &path, "run", "--once"], &[]);
    assert!(out.logs().is_empty(), "{}", out.stderr);
    assert!(
        out.stderr.contains("source fetched source=waits"),
        "{}",
        out.stderr
    );
    // RUST_LOG overrides log_filter.
    let out = accesswatch(
        &["--config", &path, "run", "--once"],
        &[("RUST_LOG", "error")],
    );
    assert_eq!(out.stderr, "");
    let path = config(
        dir.path(),
        "critical",
        10,
        "log_filter = \"warn\"\nlog_format = \"json\"",
    );
    let out = accesswatch(&["--config", &path, "run", "--once"], &[]);
    assert!(
        out.logs().iter().all(|e| e["level"] != "INFO"),
        "{}",
        out.stderr
    );
    assert!(!out.logs().is_empty());
}

#[test]
fn under_journald_lines_carry_a_priority_and_no_timestamp() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    for (extra, json) in [("", false), ("log_format = \"json\"", true)] {
        let path = config(dir.path(), "critical", 10, extra);
        let log = dir.path().join("journal.log");
        let file = std::fs::File::create(&log).unwrap();
        let meta = file.metadata().unwrap();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_accesswatch"))
            .args(["--config", &path, "run", "--once"])
            .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2));
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(!lines.is_empty());
        for line in &lines {
            assert!(
                line.starts_with("<6>") || line.starts_with("<4>") || line.starts_with("<3>"),
                "{line}"
            );
            assert!(!line.contains("2026-11-"), "no timestamp: {line}");
        }
        let fetched = lines.iter().find(|l| l.contains("source fetched")).unwrap();
        assert!(fetched.starts_with("<6>"), "{fetched}");
        let breached = lines.iter().find(|l| l.contains("check breached")).unwrap();
        assert!(breached.starts_with("<4>"), "{breached}");
        if json {
            let value: serde_json::Value = serde_json::from_str(&breached[3..]).unwrap();
            assert_eq!(value["check"], "wait-days");
            assert!(value.get("timestamp").is_none());
        } else {
            assert!(breached.contains("check=wait-days"), "{breached}");
        }
    }
}
