//! Evidence for audits (issue 12): `backfill` records history from the
//! sources as of past times, the history reads back as the engine gave it.

use std::path::{Path, PathBuf};

use crate::common::{accesswatch, manifest_dir};

/// A copy of the demo (config/accesswatch.toml and config/demo/) in `dir`,
/// so that its state file and mail stay there; the configuration's path.
fn demo(dir: &Path) -> PathBuf {
    let demo = dir.join("demo");
    std::fs::create_dir(&demo).unwrap();
    let mut copied = 0;
    for entry in std::fs::read_dir(manifest_dir().join("config/demo")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), demo.join(entry.file_name())).unwrap();
            copied += 1;
        }
    }
    assert!(copied >= 3, "the demo data was copied");
    let path = dir.join("accesswatch.toml");
    std::fs::copy(manifest_dir().join("config/accesswatch.toml"), &path).unwrap();
    path
}

/// The twelve weeks the README's demo section backfills.
const DEMO_BACKFILL: [&str; 8] = [
    "backfill",
    "--from",
    "2026-09-04",
    "--to",
    "2026-11-27",
    "--every",
    "1w",
    "--check",
];

fn backfill_demo(config: &Path, checks: &[&str]) -> crate::common::Output {
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(&DEMO_BACKFILL[..7]);
    for check in checks {
        args.extend_from_slice(&[DEMO_BACKFILL[7], check]);
    }
    accesswatch(&args, &[])
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[test]
fn backfill_records_the_series_the_engine_gives_run_by_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo(dir.path());
    let out = backfill_demo(&config, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("at 13 time(s)"), "{}", out.stdout);
    assert!(
        !dir.path().join("demo/outbox").exists(),
        "backfill sends nothing"
    );
    let store = accesswatch::state::open_read_only(&dir.path().join("demo/state")).unwrap();
    assert!(store.episodes().unwrap().is_empty(), "and opens no alert");
    assert_eq!(store.outbox_stats().unwrap().unsent, 0);
    let series = store
        .series(
            "mh-initial-wait",
            None,
            at("2026-09-01T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(series.len(), 6, "one series per region: {series:?}");
    assert_eq!(series[0].points.len(), 13, "every week of the twelve");
    // Each week's values are those `run --once --as-of` gives that day.
    let mut compared = 0;
    for point in &series[0].points {
        let day = point
            .at
            .with_timezone(&chrono_tz::America::Los_Angeles)
            .format("%Y-%m-%d")
            .to_string();
        let out = accesswatch(
            &[
                "--config",
                config.to_str().unwrap(),
                "run",
                "--once",
                "--as-of",
                &day,
                "--report",
                "json",
            ],
            &[],
        );
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let groups = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "mh-initial-wait")
            .unwrap()["groups"]
            .as_array()
            .unwrap();
        for s in &series {
            let recorded = s.points.iter().find(|p| p.at == point.at);
            let group = groups
                .iter()
                .find(|g| g["labels"]["region"] == s.labels["region"].as_str());
            match (recorded, group) {
                (Some(recorded), Some(group)) => {
                    assert_eq!(group["status"], recorded.status.as_str(), "{day} {s:?}");
                    // serde_json parses floats to within an ulp (its
                    // float_roundtrip feature is off); SQLite keeps them exact.
                    let same = match (group["value"].as_f64(), recorded.value) {
                        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                        (a, b) => a == b,
                    };
                    assert!(
                        same,
                        "{day} {}: {} vs {:?}",
                        s.group_key, group["value"], recorded.value
                    );
                    compared += 1;
                }
                (None, None) => {}
                _ => panic!(
                    "{day} {}: recorded {recorded:?}, run --once {group:?}",
                    s.group_key
                ),
            }
        }
    }
    assert!(compared > 13 * 3, "compared {compared} values");
    // Running it again records nothing twice.
    let again = backfill_demo(&config, &["mh-initial-wait"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("recorded 0 evaluation(s)"),
        "{}",
        again.stdout
    );
    let unknown = backfill_demo(&config, &["no-such-check"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("mh-initial-wait"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn verify_history_names_a_row_edited_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo(dir.path());
    let out = backfill_demo(&config, &["members-per-therapist"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let config = config.to_str().unwrap();
    let out = accesswatch(&["--config", config, "verify-history"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("the trail of 52 records holds"),
        "{}",
        out.stdout
    );
    let head = out
        .stdout
        .split("SHA-256 ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(head.len(), 64, "{head}");
    // Someone lowers a recorded ratio in the state file.
    let db = dir.path().join("demo/state/accesswatch.db");
    let connection = rusqlite::Connection::open(&db).unwrap();
    let (id, group): (i64, String) = connection
        .query_row(
            "SELECT id, group_key FROM evaluations WHERE status = 'breach' ORDER BY id LIMIT 1 OFFSET 3",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    connection
        .execute(
            "UPDATE evaluations SET value = 2999, status = 'ok' WHERE id = ?1",
            [id],
        )
        .unwrap();
    drop(connection);
    let out = accesswatch(&["--config", config, "verify-history"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "evaluation {id} (table evaluations; check members-per-therapist, group {group}, at 2026-09-25"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("differs from trail record"),
        "{}",
        out.stderr
    );
}

fn run_demo_once(config: &str, as_of: &str) -> crate::common::Output {
    accesswatch(
        &[
            "--config", config, "run", "--once", "--notify", "--as-of", as_of,
        ],
        &[],
    )
}

#[test]
fn notes_show_in_status_and_the_next_reminder() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo(dir.path());
    let config = config.to_str().unwrap();
    let now = chrono::Utc::now();
    let first = run_demo_once(config, &now.to_rfc3339());
    assert_eq!(first.code, 2, "{}", first.stderr);
    let out = accesswatch(
        &[
            "--config",
            config,
            "note",
            "members-per-therapist",
            "--group",
            "region=socal-south",
            "Corrective action plan filed with DMHC",
            "--by",
            "Dana Ruiz",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = accesswatch(
        &[
            "--config",
            config,
            "ack",
            "members-per-therapist",
            "--group",
            "region=socal-south",
            "--until",
            "1h",
            "--by",
            "Lee",
            "--note",
            "Recruiting two FTE",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = accesswatch(
        &["--config", config, "note", "nope", "x", "--by", "Lee"],
        &[],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("members-per-therapist"),
        "{}",
        out.stderr
    );
    let status = accesswatch(&["--config", config, "status"], &[]);
    assert!(
        status.stdout.contains("note by Dana Ruiz at ")
            && status
                .stdout
                .contains(": Corrective action plan filed with DMHC")
            && status.stdout.contains("note by Lee at "),
        "{}",
        status.stdout
    );
    let json = accesswatch(&["--config", config, "status", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let south = json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["check"] == "members-per-therapist" && a["labels"]["region"] == "socal-south")
        .unwrap();
    assert_eq!(
        south["notes"][0]["text"],
        "Corrective action plan filed with DMHC"
    );
    assert_eq!(south["notes"][1]["by"], "Lee");
    // Two days later the reminder carries both notes.
    let outbox = dir.path().join("demo/outbox");
    let before: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let later = run_demo_once(config, &(now + chrono::Duration::days(2)).to_rfc3339());
    assert_eq!(later.code, 2, "{}", later.stderr);
    let reminders: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !before.contains(p))
        .map(|p| {
            let eml = std::fs::read(p).unwrap();
            let message = mail_parser::MessageParser::default().parse(&eml).unwrap();
            message.body_text(0).unwrap().into_owned()
        })
        .collect();
    assert!(!reminders.is_empty(), "reminders were written");
    let with_note = reminders
        .iter()
        .filter(|m| {
            m.contains("Note by Dana Ruiz") && m.contains("Corrective action plan filed with DMHC")
        })
        .count();
    assert!(with_note >= 1, "{reminders:?}");
    // The notes are in the trail too.
    let out = accesswatch(&["--config", config, "verify-history"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn trends_show_in_the_json_report_status_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo(dir.path());
    let out = backfill_demo(&config, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let store = accesswatch::state::open_read_only(&dir.path().join("demo/state")).unwrap();
    let south = store
        .series(
            "mh-initial-wait",
            Some("region=socal-south"),
            at("2026-09-01T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
        )
        .unwrap()
        .remove(0);
    drop(store);
    let value_on = |day: &str| {
        south
            .points
            .iter()
            .find(|p| p.at == at(day))
            .and_then(|p| p.value)
            .unwrap()
    };
    let config = config.to_str().unwrap();
    let as_of = "2026-11-27T06:00:00-08:00";
    let out = accesswatch(
        &[
            "--config", config, "run", "--once", "--as-of", as_of, "--notify", "--report", "json",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "mh-initial-wait")
        .unwrap();
    let group = check["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"]["region"] == "socal-south")
        .unwrap();
    let trend = &group["trend"];
    let close =
        |json: &serde_json::Value, value: f64| (json.as_f64().unwrap() - value).abs() < 1e-9;
    assert!(
        close(&trend["week_ago"], value_on("2026-11-20T08:00:00Z")),
        "{trend}"
    );
    assert!(
        close(&trend["four_weeks_ago"], value_on("2026-10-30T07:00:00Z")),
        "{trend}"
    );
    // socal-south is in breach in every run since its data starts (7 weeks)
    // and in this one; its earlier weeks had no requests at all.
    assert_eq!(trend["breached_runs"], 8, "{trend}");
    assert_eq!(trend["runs"], 8, "{trend}");
    assert!(["up", "down", "flat"].contains(&trend["direction"].as_str().unwrap()));
    // `status` reads the clock: its trend is as of today.
    let status = accesswatch(&["--config", config, "status"], &[]);
    assert!(
        status.stdout.contains("trend: a week before ")
            && status.stdout.contains("8 of the last 8 runs in breach"),
        "{}",
        status.stdout
    );
    let json = accesswatch(&["--config", config, "status", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        json["alerts"][0]["trend"]["runs"].as_u64().unwrap() >= 1,
        "{json}"
    );
    let render = accesswatch(
        &[
            "--config",
            config,
            "render",
            "members-per-therapist",
            "--group",
            "region=socal-south",
        ],
        &[],
    );
    assert_eq!(render.code, 0, "{}", render.stderr);
    assert!(
        render
            .stdout
            .contains("--- trends ---\nregion=socal-south: "),
        "{}",
        render.stdout
    );
    assert!(
        render.stdout.contains("of the last 10 runs in breach"),
        "{}",
        render.stdout
    );
}
