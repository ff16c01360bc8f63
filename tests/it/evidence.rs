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
    let store = accesswatch::state::open_read_only(&accesswatch::state::Location::Directory(
        dir.path().join("demo/state"),
    ))
    .unwrap();
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
    assert_eq!(
        series.len(),
        7,
        "one series per region and (none): {series:?}"
    );
    for s in &series {
        assert_eq!(s.points.len(), 13, "every week of the twelve: {s:?}");
    }
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
    assert_eq!(compared, 13 * 7, "every run of every region");
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
    let store = accesswatch::state::open_read_only(&accesswatch::state::Location::Directory(
        dir.path().join("demo/state"),
    ))
    .unwrap();
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
    // socal-south is in breach in every run of the twelve weeks and this one.
    assert_eq!(trend["breached_runs"], 10, "{trend}");
    assert_eq!(trend["runs"], 10, "{trend}");
    assert!(["up", "down", "flat"].contains(&trend["direction"].as_str().unwrap()));
    // `status` reads the clock: its trend is as of today.
    let status = accesswatch(&["--config", config, "status"], &[]);
    assert!(
        status.stdout.contains("trend: a week before ")
            && status.stdout.contains("10 of the last 10 runs in breach"),
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

/// The demo with history: twelve weeks backfilled, a run that fires its
/// alerts, an acknowledgement with a note and a note; the configuration.
fn demo_with_history(dir: &Path) -> String {
    let config = demo(dir);
    let out = backfill_demo(&config, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let config = config.to_str().unwrap().to_owned();
    let run = run_demo_once(&config, "2026-11-27T06:00:00-08:00");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let ack = accesswatch(
        &[
            "--config",
            &config,
            "ack",
            "members-per-therapist",
            "--group",
            "region=socal-south",
            "--until",
            "2026-12-30T00:00:00Z",
            "--by",
            "Dana Ruiz",
            "--note",
            "Recruiting two therapists",
        ],
        &[],
    );
    assert_eq!(ack.code, 0, "{}", ack.stderr);
    let note = accesswatch(
        &[
            "--config",
            &config,
            "note",
            "mh-initial-wait",
            "--group",
            "region=socal-south",
            "Corrective action plan filed with DMHC",
            "--by",
            "Lee Chen",
        ],
        &[],
    );
    assert_eq!(note.code, 0, "{}", note.stderr);
    config
}

fn report(config: &str, format: &str, output: &Path) {
    let out = accesswatch(
        &[
            "--config",
            config,
            "report",
            "--from",
            "2026-09-01",
            "--to",
            "2026-12-01",
            "--format",
            format,
            "--output",
            output.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// (status, value) of every recorded run of (check, group) in the period,
/// read straight from the state file.
fn evaluations(dir: &Path, check: &str, group: &str) -> Vec<(String, Option<f64>)> {
    let connection = rusqlite::Connection::open(dir.join("demo/state/accesswatch.db")).unwrap();
    let mut statement = connection
        .prepare(
            "SELECT status, value FROM evaluations WHERE check_id = ?1 AND group_key = ?2
             AND evaluated_at >= '2026-09-01T07' AND evaluated_at < '2026-12-01T08' ORDER BY evaluated_at",
        )
        .unwrap();
    statement
        .query_map([check, group], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Equal but for the last bit serde_json's float parsing may change.
fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1.0),
        (a, b) => a == b,
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

#[test]
fn the_period_report_recomputes_from_the_evaluations_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_with_history(dir.path());
    let json_path = dir.path().join("report.json");
    report(&config, "json", &json_path);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let mut groups_checked = 0;
    for check in json["checks"].as_array().unwrap() {
        let id = check["id"].as_str().unwrap();
        for group in check["groups"].as_array().unwrap() {
            let key = group["group"].as_str().unwrap();
            let runs = evaluations(dir.path(), id, key);
            let breached = runs.iter().filter(|(s, _)| s == "breach").count();
            let values: Vec<f64> = runs.iter().filter_map(|(_, v)| *v).collect();
            assert_eq!(group["runs"], runs.len(), "{id} {key}");
            assert_eq!(group["breached_runs"], breached, "{id} {key}");
            assert!(
                close(group["median"].as_f64(), median(values.clone())),
                "{id} {key}"
            );
            let worst = if check["op"] == "<=" || check["op"] == "<" {
                values.iter().copied().reduce(f64::max)
            } else {
                values.iter().copied().reduce(f64::min)
            };
            assert!(close(group["worst"].as_f64(), worst), "{id} {key}");
            assert_eq!(group["series"].as_array().unwrap().len(), runs.len());
            groups_checked += 1;
        }
    }
    assert!(groups_checked >= 20, "{groups_checked} groups");
    // The alert and what followed.
    let episode = json["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["check"] == "members-per-therapist" && e["group"] == "region=socal-south")
        .unwrap();
    assert_eq!(episode["pending_since"], "2026-11-27T14:00:00Z");
    assert_eq!(episode["fired_at"], "2026-11-27T14:00:00Z");
    let first = &episode["first_told"];
    assert!(
        first["message_id"]
            .as_str()
            .unwrap()
            .starts_with("<accesswatch.")
    );
    assert!(first["recipients"].as_u64().unwrap() >= 1);
    assert_eq!(episode["acknowledgements"][0]["by"], "Dana Ruiz");
    assert_eq!(
        episode["acknowledgements"][0]["note"],
        "Recruiting two therapists"
    );
    assert_eq!(
        json["notes"].as_array().unwrap().len(),
        2,
        "the ack's note and the note"
    );
    // The DMHC view: socal-south is below 70 % on first visits in 2026.
    let needing: Vec<&str> = json["annual"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["check"] == "mh-initial-wait" && a["corrective_action_plan"] == true)
        .map(|a| a["network"].as_str().unwrap())
        .collect();
    assert_eq!(needing, ["region=socal-south"]);
    let standard = json["standards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"] == "mh-initial-wait")
        .unwrap();
    assert_eq!(standard["basis"], "law");
    assert_eq!(standard["calendar"], "ca-state");
    // The head hash is the one verify-history prints.
    let verify = accesswatch(&["--config", &config, "verify-history"], &[]);
    assert!(
        verify
            .stdout
            .contains(json["trail_head"]["sha256"].as_str().unwrap()),
        "{}",
        verify.stdout
    );

    // Mistakes on the command line say what to change.
    let backwards = accesswatch(
        &[
            "--config",
            &config,
            "report",
            "--from",
            "2026-12-01",
            "--to",
            "2026-09-01",
        ],
        &[],
    );
    assert_eq!(backwards.code, 2);
    assert!(
        backwards.stderr.contains("give the earlier time first"),
        "{}",
        backwards.stderr
    );
    let unknown = accesswatch(
        &[
            "--config",
            &config,
            "report",
            "--from",
            "2026-09-01",
            "--to",
            "2026-12-01",
            "--check",
            "nope",
        ],
        &[],
    );
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("mh-initial-wait"),
        "{}",
        unknown.stderr
    );

    // The CSV, read by Python's csv module: one row per check, group and run.
    let csv_path = dir.path().join("report.csv");
    report(&config, "csv", &csv_path);
    let script = "import csv, json, sys\nrows = list(csv.DictReader(open(sys.argv[1], newline='')))\nprint(json.dumps(rows))";
    let python = std::process::Command::new(crate::common::python())
        .args(["-c", script, csv_path.to_str().unwrap()])
        .output()
        .expect("the venv's python");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&python.stdout).unwrap();
    let south: Vec<_> = rows
        .iter()
        .filter(|r| r["check_id"] == "mh-initial-wait" && r["group"] == "region=socal-south")
        .collect();
    let recorded = evaluations(dir.path(), "mh-initial-wait", "region=socal-south");
    assert_eq!(south.len(), recorded.len());
    for (row, (status, value)) in south.iter().zip(&recorded) {
        assert_eq!(row["status"], status.as_str());
        // Written with Rust's shortest round-trip formatting: exact.
        let parsed: Option<f64> = row["value"].as_str().unwrap().parse().ok();
        assert_eq!(parsed, *value, "{row:?}");
    }
    let total: usize = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["groups"].as_array().unwrap())
        .map(|g| g["runs"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(rows.len(), total, "every run, once");
}

#[test]
fn the_html_report_opens_in_a_browser_with_each_groups_numbers() {
    use accesswatch::notify::render::{number, percent};
    let dir = tempfile::tempdir().unwrap();
    let config = demo_with_history(dir.path());
    let html_path = dir.path().join("report.html");
    report(&config, "html", &html_path);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "self-contained"
    );
    let page = crate::browser::dump_dom(html_path.to_str().unwrap());
    assert!(page.console.is_empty(), "console: {:?}", page.console);
    let dom = page.stdout;
    let json_path = dir.path().join("report.json");
    report(&config, "json", &json_path);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let mut rows = 0;
    for check in json["checks"].as_array().unwrap() {
        let share =
            check["id"] != "members-per-therapist" && check["id"] != "therapist-vacancy-rate";
        let text = |v: f64| if share { percent(v) } else { number(v) };
        for group in check["groups"].as_array().unwrap() {
            let key = group["group"].as_str().unwrap();
            // The group's row in this check's table.
            let section = dom
                .split("<section class=\"check\">")
                .find(|s| s.contains(&format!("({})</small>", check["id"].as_str().unwrap())))
                .unwrap();
            let start = section.find(&format!("data-group=\"{key}\"")).unwrap();
            let row = &section[start..start + section[start..].find("</tr>").unwrap()];
            let runs = format!(">{}</td>", group["runs"]);
            assert!(row.contains(&runs), "{key}: {row}");
            let breached = format!(">{} (", group["breached_runs"]);
            assert!(row.contains(&breached), "{key}: {row}");
            if let Some(median) = group["median"].as_f64() {
                assert!(
                    row.contains(&format!(">{}</td>", text(median))),
                    "{key} median: {row}"
                );
            }
            if let Some(worst) = group["worst"].as_f64() {
                assert!(
                    row.contains(&format!(">{}</td>", text(worst))),
                    "{key} worst: {row}"
                );
            }
            assert!(row.contains("<svg"), "a chart");
            rows += 1;
        }
    }
    assert!(rows >= 20, "{rows} rows checked");
    assert!(dom.contains(json["trail_head"]["sha256"].as_str().unwrap()));
    assert!(dom.contains("Corrective action plan filed with DMHC"));
    assert!(dom.contains("Networks needing a corrective action plan: region=socal-south"));
    let png = dir.path().join("report.png");
    let shot = crate::browser::screenshot(html_path.to_str().unwrap(), &png, 1200, 1800);
    assert!(shot.console.is_empty(), "console: {:?}", shot.console);
    assert!(
        crate::browser::not_blank(&png),
        "the screenshot shows the report"
    );
    if let Some(keep) = std::env::var_os("ACCESSWATCH_KEEP_REPORT_PNG") {
        std::fs::copy(&png, keep).unwrap();
    }
}

/// The demo as the README runs it: a fresh state file gets twelve weeks of
/// weekly history before the first run (`backfill_on_first_start`), so the
/// first emails and `status` already carry trends; a second start finds
/// history and records none.
#[test]
fn the_demo_daemon_starts_with_twelve_weeks_of_history() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("backfill_on_first_start = \"12w\""),
        "the demo asks for it"
    );
    let started = chrono::Utc::now();
    let mut daemon = crate::common::Daemon::start(&config, &[]);
    let line = daemon.wait_for(
        "first-start history recorded",
        std::time::Duration::from_secs(120),
    );
    assert!(line.contains("nothing was sent"), "{line}");
    daemon.wait_for("run finished", std::time::Duration::from_secs(60));
    daemon.signal("TERM");
    assert!(
        daemon
            .wait_exit(std::time::Duration::from_secs(30))
            .success()
    );

    let store = accesswatch::state::open_read_only(&accesswatch::state::Location::Directory(
        dir.path().join("demo/state"),
    ))
    .unwrap();
    let series = store
        .series(
            "members-per-therapist",
            None,
            started - chrono::Duration::weeks(13),
            chrono::Utc::now(),
        )
        .unwrap();
    assert!(!series.is_empty());
    for s in &series {
        assert_eq!(s.points.len(), 13, "twelve weeks and the first run: {s:?}");
        let steps: Vec<i64> = s
            .points
            .windows(2)
            .take(11)
            .map(|w| (w[1].at - w[0].at).num_seconds())
            .collect();
        assert!(steps.iter().all(|s| *s == 7 * 86_400), "weekly: {steps:?}");
    }
    // Only the first run told anyone: history opens no alert by itself.
    let episodes = store.episodes().unwrap();
    assert!(
        episodes.iter().all(|e| e.started_at >= started),
        "{episodes:?}"
    );
    drop(store);

    let status = accesswatch(&["--config", config.to_str().unwrap(), "status"], &[]);
    assert!(
        status.stdout.contains("a week before"),
        "status shows the trend at once:\n{}",
        status.stdout
    );
    // Shares read as percentages in the trend too, never as fractions.
    assert!(!status.stdout.contains("before 0."), "{}", status.stdout);

    let mut again = crate::common::Daemon::start(&config, &[]);
    again.wait_for("run finished", std::time::Duration::from_secs(60));
    again.signal("TERM");
    assert!(
        again
            .wait_exit(std::time::Duration::from_secs(30))
            .success()
    );
    assert!(
        !again.seen.iter().any(|l| l.contains("first-start history")),
        "a state file with history is not backfilled again:\n{}",
        again.seen.join("\n")
    );
}
