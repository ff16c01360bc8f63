//! Wait-time checks through the real binary: the report's fields, the
//! email's sentence, JSON sources, and `accesswatch standards`.

use mail_parser::MessageParser;

use crate::common::{ConfigText, accesswatch, write};

/// Requests of Monday 2026-11-02 (Los Angeles): socal-south has 3 of 5
/// offered within 10 business days (the 10th is Tuesday 11-17, after
/// Veterans Day), one offered late, one still waiting; north has 2 of 2.
pub(crate) const CSV: &str = "\
id,requested_at,prior_appointment_at,first_offered_at,visit_type,urgency,prior_auth,provider_type,extended_by_provider,region
R1,2026-11-02T09:00:00-08:00,,2026-11-03T09:00:00-08:00,initial,non_urgent,false,non_physician_mh,false,socal-south
R2,2026-11-02T09:00:00-08:00,,2026-11-17T09:00:00-08:00,initial,non_urgent,false,non_physician_mh,false,socal-south
R3,2026-11-02T09:00:00-08:00,,2026-11-18T09:00:00-08:00,initial,non_urgent,false,non_physician_mh,false,socal-south
R4,2026-11-02T09:00:00-08:00,,,initial,non_urgent,false,non_physician_mh,false,socal-south
R5,2026-11-02T09:00:00-08:00,,2026-12-01T09:00:00-08:00,initial,non_urgent,false,non_physician_mh,true,socal-south
R6,2026-11-02T17:00:00Z,,2026-11-04T09:00:00-08:00,initial,non_urgent,false,non_physician_mh,false,north
R7,2026-11-20,,2026-11-20,initial,non_urgent,false,LCSW,false,north
R8,2026-11-02T09:00:00-08:00,,2026-11-04T09:00:00-08:00,follow_up,non_urgent,false,non_physician_mh,false,north
";

pub(crate) fn config(dir: &std::path::Path, source: &str) -> String {
    ConfigText::new()
        .los_angeles()
        .section(source)
        .section(
            r#"[source.values.provider_type]
LCSW = "non_physician_mh"

[[check]]
id = "mh-initial"
kind = "timely_access"
standard = "ca-dmhc/non-urgent-mh-initial"
source = "appointments"
group_by = ["region"]
calendar = "us-federal"
severity = "critical""#,
        )
        .route("compliance", &["compliance@plan.example"])
        .write(dir)
        .to_str()
        .unwrap()
        .to_owned()
}

pub(crate) const AS_OF: &str = "2026-11-30T17:00:00-08:00";

fn group<'a>(report: &'a serde_json::Value, region: &str) -> &'a serde_json::Value {
    report["checks"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"]["region"] == region)
        .unwrap_or_else(|| panic!("no group {region} in {report}"))
}

pub(crate) fn assert_report(report: &serde_json::Value) {
    let check = &report["checks"][0];
    assert_eq!(check["status"], "breach");
    assert_eq!(check["standard"], "ca-dmhc/non-urgent-mh-initial");
    let south = group(report, "socal-south");
    assert_eq!(
        south["counts"],
        serde_json::json!({"compliant": 3, "noncompliant": 2, "pending": 0, "extended": 1, "rejected": 0, "before_effective": 0})
    );
    assert_eq!(south["rate"], 0.6);
    assert_eq!(south["target"], 0.7);
    assert_eq!(south["status"], "breach");
    // Offered waits 1, 10, 11 and 19 business days (the extended one too;
    // Thanksgiving is a holiday); the open one has waited 18.
    assert_eq!(south["median_wait"], 10.0);
    assert_eq!(south["p90_wait"], 19.0);
    assert_eq!(south["overdue_open"], 1);
    assert_eq!(south["longest_open_wait"], 18.0);
    assert_eq!(south["unit"], "business_days");
    assert_eq!(south["standard"], "ca-dmhc/non-urgent-mh-initial");
    assert!(south["citation"].as_str().unwrap().contains("1300.67.2.2"));
    let north = group(report, "north");
    assert_eq!(north["counts"]["compliant"], 2);
    assert_eq!(north["rate"], 1.0);
    assert_eq!(north["status"], "ok");
}

#[test]
fn csv_report_fields_and_email_sentence() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "appointments.csv", CSV);
    let path = config(
        dir.path(),
        "[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.csv\"",
    );
    let out = accesswatch(
        &[
            "--config", &path, "run", "--once", "--report", "json", "--as-of", AS_OF, "--notify",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_report(&serde_json::from_str(&out.stdout).unwrap());
    let mail: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(mail.len(), 1);
    let raw = std::fs::read(&mail[0]).unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        message.subject(),
        Some("[accesswatch] CRITICAL socal-south: therapy initial visit 60 % (target 70 %)")
    );
    let body = message.body_text(0).unwrap();
    // The group's row: rate, target, requests measured, members waiting
    // past the limit, median and 90th-percentile wait.
    let row = crate::common::row_cells(&body, "region=socal-south");
    assert_eq!(
        row[..8],
        [
            "region=socal-south",
            "FIRING",
            "60 %",
            "70 %",
            "5",
            "1",
            "10 business days",
            "19 business days"
        ],
        "{body}"
    );
    let text = body.replace('\n', " ");
    // The citation once per check, with its basis and confidence.
    let citation = "28 CCR §1300.67.2.2(c)(5); H&S Code §1367.03(a)(5); SB 221 (2021) for SUD \
                    (standard ca-dmhc/non-urgent-mh-initial, law; confidence V:";
    assert_eq!(text.matches(citation).count(), 1, "{text}");
    assert!(
        !text.contains("R1") && !text.contains("R4"),
        "no record identifiers in email"
    );
    let html = message.body_html(0).unwrap();
    assert!(
        html.contains(">60 %</td>") && html.contains(">70 %</td>"),
        "{html}"
    );
}

#[test]
fn json_sources_give_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = CSV.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let records: Vec<serde_json::Value> = lines
        .map(|line| {
            let object: serde_json::Map<String, serde_json::Value> = header
                .iter()
                .zip(line.split(','))
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        if v.is_empty() {
                            serde_json::Value::Null
                        } else {
                            v.into()
                        },
                    )
                })
                .collect();
            serde_json::Value::Object(object)
        })
        .collect();
    write(
        dir.path(),
        "appointments.json",
        &serde_json::json!({"entry": records}).to_string(),
    );
    let path = config(
        dir.path(),
        "[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.json\"\nrecords = \"/entry\"",
    );
    let out = accesswatch(
        &[
            "--config", &path, "run", "--once", "--report", "json", "--as-of", AS_OF,
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_report(&serde_json::from_str(&out.stdout).unwrap());
}

#[test]
fn rejected_rows_are_reported_by_line_and_never_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let bad = format!(
        "{CSV}R9,2026-11-31T09:00:00Z,,,initial,non_urgent,false,non_physician_mh,false,north\n\
         R10,2026-11-20T09:00:00Z,,,initial,Jane Doe,false,non_physician_mh,false,north\n"
    );
    write(dir.path(), "appointments.csv", &bad);
    let path = config(
        dir.path(),
        "[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.csv\"",
    );
    let out = accesswatch(
        &[
            "--config", &path, "run", "--once", "--report", "json", "--as-of", AS_OF,
        ],
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        report["checks"][0]["rejected_rows"],
        serde_json::json!([
            "row 10: `requested_at` is not a timestamp",
            "row 11: `urgency` has an unknown value"
        ])
    );
    let north = group(&report, "north");
    assert_eq!(north["counts"]["rejected"], 2);
    // 2 of 4 rows rejected is above the default 5 %.
    assert_eq!(north["status"], "unknown");
    assert!(
        north["error"]
            .as_str()
            .unwrap()
            .contains("2 of 4 rows rejected (50.0 %)")
    );
    assert!(!out.stdout.contains("Jane Doe") && !out.stderr.contains("Jane Doe"));
    assert!(!out.stdout.contains("R10"));
}

/// Issue 14.5: the email of a check shows how many rows were rejected,
/// with the first reasons, in both parts, and never a cell's value.
#[test]
fn rejected_rows_are_in_the_email_by_count_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = format!(
        "{CSV}R9,2026-11-31T09:00:00Z,,,initial,non_urgent,false,non_physician_mh,false,north\n\
         R10,2026-11-20T09:00:00Z,,,initial,Jane Doe,false,non_physician_mh,false,north\n"
    );
    write(dir.path(), "appointments.csv", &bad);
    let path = config(
        dir.path(),
        "[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.csv\"",
    );
    let out = accesswatch(
        &[
            "--config", &path, "run", "--once", "--as-of", AS_OF, "--notify",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let mail: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(mail.len(), 1);
    let raw = std::fs::read(&mail[0]).unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    let fact = "Rejected rows: 2 rows rejected (row 10: `requested_at` is not a timestamp; \
                row 11: `urgency` has an unknown value)";
    let text = message.body_text(0).unwrap();
    assert!(text.contains(fact), "{text}");
    let html = message.body_html(0).unwrap();
    assert!(
        html.contains(
            "<strong>Rejected rows:</strong> 2 rows rejected (row 10: `requested_at` is not a timestamp"
        ),
        "{html}"
    );
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains("Jane Doe") && !raw.contains("2026-11-31"));
}

/// Issue 14.9: `status` shows a share of requests as a percentage with
/// its target, as the email does, not as a fraction.
#[test]
fn status_shows_shares_as_percentages() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "appointments.csv", CSV);
    let path = config(
        dir.path(),
        "[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.csv\"",
    );
    let out = accesswatch(
        &[
            "--config", &path, "run", "--once", "--as-of", AS_OF, "--notify",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = accesswatch(&["--config", &path, "status"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "region=socal-south since 2026-11-30 17:00 PST; last 60 % (target 70 %, breach)"
        ),
        "{}",
        out.stdout
    );
}

/// Issue 14.7: with `require_labels = true`, a request without a region
/// is rejected with its reason; without it, it counts in "no region".
#[test]
fn require_labels_rejects_requests_without_a_group() {
    let unlabelled = format!(
        "{CSV}R9,2026-11-20T09:00:00Z,,2026-11-21T09:00:00Z,initial,non_urgent,false,non_physician_mh,false,\n"
    );
    for (extra, rejected) in [("", false), ("\nrequire_labels = true", true)] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "appointments.csv", &unlabelled);
        let path = config(
            dir.path(),
            &format!(
                "[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.csv\"{extra}"
            ),
        );
        let out = accesswatch(&["--config", &path, "run", "--once", "--as-of", AS_OF], &[]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(
            out.stdout
                .contains("rejected row 10: `region` is empty (require_labels = true)"),
            rejected,
            "{}",
            out.stdout
        );
        assert_eq!(
            out.stdout.contains("no region: 100 %"),
            !rejected,
            "{}",
            out.stdout
        );
        assert!(!out.stdout.contains("(none)"), "{}", out.stdout);
    }
}

#[test]
fn standards_lists_every_catalog_entry() {
    let out = accesswatch(&["standards", "--json"], &[]);
    assert_eq!(out.code, 0);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    for id in [
        "ca-dmhc/urgent-no-prior-auth",
        "ca-dmhc/urgent-prior-auth",
        "ca-dmhc/non-urgent-primary-care",
        "ca-dmhc/non-urgent-specialist",
        "ca-dmhc/non-urgent-mh-initial",
        "ca-sb221/mh-follow-up",
        "ca-dmhc/non-urgent-ancillary",
        "us-cms/medicaid-outpatient-mh-sud",
        "us-cms/medicaid-primary-care",
        "us-cms/ffe-behavioral-health",
        "us-cms/ffe-primary-care",
        "us-cms/ffe-specialty",
        "ny/bh-initial",
        "ny/bh-post-discharge",
        "md/urgent",
        "md/bh-non-urgent",
        "co-medicaid/bh-urgent",
        "co-medicaid/bh-non-urgent",
        "or-medicaid/bh-routine-assessment",
        "ca-dmhc/physician-ratio",
        "ca-dmhc/pcp-ratio",
        "md/bh-ratio",
        "md/sud-ratio",
        "us-hrsa/mh-hpsa",
        "us-cms/ma-bh-non-urgent",
        "us-cms/ma-bh-routine",
        "ca-dmhc/phone-triage",
        "ca-dmhc/customer-service-phone",
        "kp-dmhc-2023/follow-up-average",
        "nuhw-2025/non-appointment-hours",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let sb221 = list
        .iter()
        .find(|s| s["id"] == "ca-sb221/mh-follow-up")
        .unwrap();
    assert_eq!(sb221["limit"], 10.0);
    assert_eq!(sb221["unit"], "business_days");
    assert_eq!(sb221["clock_start"], "prior_appointment");
    assert_eq!(sb221["confidence"], "S");
    assert_eq!(sb221["effective"], "2022-07-01");
    assert_eq!(
        sb221["target"],
        serde_json::Value::Null,
        "the law states none"
    );
    assert_eq!(sb221["basis"], "law");
    let kp = list
        .iter()
        .find(|s| s["id"] == "kp-dmhc-2023/follow-up-average")
        .unwrap();
    assert_eq!(kp["basis"], "benchmark", "a finding, not a settlement term");
    let text = accesswatch(&["standards"], &[]);
    assert_eq!(text.code, 0);
    assert!(text.stdout.contains("ca-sb221/mh-follow-up"));
    assert!(text.stdout.contains("confidence    S: "));
}

#[test]
fn staffing_standards_of_the_catalog_set_ratio_and_threshold_limits() {
    let dir = tempfile::tempdir().unwrap();
    // north is within every staffing standard, south breaches each.
    write(
        dir.path(),
        "staffing.csv",
        "region,members,physicians,pcps,bh,sud,population,core_mh,psychiatrists,hours\n\
         north,100000,100,60,60,55,120000,25,10,6\n\
         south,100000,80,40,45,45,120000,18,5,4\n",
    );
    let mut text = ConfigText::new()
        .staffing_source("")
        .route("r", &["c@plan.example"])
        .build();
    let ratios = [
        ("ca-dmhc/physician-ratio", "members", "physicians"),
        ("ca-dmhc/pcp-ratio", "members", "pcps"),
        ("md/bh-ratio", "members", "bh"),
        ("md/sud-ratio", "members", "sud"),
        ("us-hrsa/mh-hpsa", "population", "core_mh"),
    ];
    for (standard, numerator, denominator) in ratios {
        text += &format!(
            "[[check]]\nid = \"{standard}\"\nkind = \"ratio\"\nstandard = \"{standard}\"\nsource = \"staffing\"\n\
             numerator = \"{numerator}\"\ndenominator = \"{denominator}\"\ngroup_by = [\"region\"]\n"
        );
        if standard == "us-hrsa/mh-hpsa" {
            // The shortage rule's second ratio: south has 24,000 people
            // per psychiatrist and 6,667 per core professional, a shortage;
            // north 12,000 and 4,800, none.
            text += "psychiatrists = \"psychiatrists\"\n";
        }
    }
    text += "[[check]]\nid = \"nuhw\"\nkind = \"threshold\"\nstandard = \"nuhw-2025/non-appointment-hours\"\n\
             source = \"staffing\"\nfield = \"hours\"\ngroup_by = [\"region\"]\n";
    let path = write(dir.path(), "accesswatch.toml", &text);
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
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 6);
    for check in checks {
        let id = check["id"].as_str().unwrap();
        assert_eq!(check["status"], "breach", "{id}: {check}");
        assert_eq!(
            group(&serde_json::json!({"checks": [check]}), "north")["status"],
            "ok",
            "{id}"
        );
        assert_eq!(
            group(&serde_json::json!({"checks": [check]}), "south")["status"],
            "breach",
            "{id}"
        );
        assert!(
            check["citation"]
                .as_str()
                .unwrap()
                .contains(&format!("standard {id}")),
            "{check}"
        );
    }
    let limits: Vec<f64> = checks
        .iter()
        .map(|c| c["limit"].as_f64().unwrap())
        .collect();
    assert_eq!(limits, [1200.0, 2000.0, 2000.0, 2000.0, 6000.0, 5.0]);
}

/// With no `time_zone` on the check or the daemon, a California standard
/// counts local dates in Los Angeles: a Monday 17:00 PST request (01:00
/// UTC Tuesday) offered on the Wednesday two weeks later waits 11 business
/// days there (10 in UTC), past the limit. A check's own zone wins, and
/// `check-config` says which zone each check uses.
#[test]
fn california_dates_default_to_los_angeles() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "appointments.csv",
        "requested_at,first_offered_at,visit_type,urgency,provider_type,region\n\
         2026-11-02T17:00:00-08:00,2026-11-18T09:00:00-08:00,initial,non_urgent,non_physician_mh,south\n",
    );
    let check = |zone: &str| {
        ConfigText::new()
            .section("[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.csv\"")
            .section(&format!(
                "[[check]]\nid = \"mh\"\nkind = \"timely_access\"\nstandard = \"ca-dmhc/non-urgent-mh-initial\"\n\
                 source = \"appointments\"\ngroup_by = [\"region\"]\ncalendar = \"us-federal\"\nwindow = \"60d\"\n{zone}"
            ))
            .route("r", &["c@plan.example"])
            .write(dir.path())
            .to_str()
            .unwrap()
            .to_owned()
    };
    let run = |path: &str| {
        let out = accesswatch(
            &[
                "--config", path, "run", "--once", "--report", "json", "--as-of", AS_OF,
            ],
            &[],
        );
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        group(&report, "south")["counts"].clone()
    };
    let default = check("");
    assert_eq!(
        run(&default)["noncompliant"],
        1,
        "11 business days in Los Angeles"
    );
    let summary = accesswatch(&["--config", &default, "check-config"], &[]);
    assert!(
        summary.stdout.contains("dates in America/Los_Angeles"),
        "{}",
        summary.stdout
    );
    let utc = check("time_zone = \"UTC\"");
    assert_eq!(run(&utc)["compliant"], 1, "10 business days in UTC");
    let summary = accesswatch(&["--config", &utc, "check-config"], &[]);
    assert!(
        summary.stdout.contains("dates in UTC"),
        "{}",
        summary.stdout
    );
}

/// A Medicaid standard starts with the plan's own rating period:
/// `check-config` says when `in_force_from` is not set, and a check with
/// it judges nothing before that day.
#[test]
fn medicaid_checks_name_their_rating_period() {
    let dir = tempfile::tempdir().unwrap();
    let config = |extra: &str| {
        ConfigText::new()
            .section("[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.csv\"")
            .section(&format!(
                "[[check]]\nid = \"medicaid\"\nkind = \"timely_access\"\n\
                 standard = \"us-cms/medicaid-outpatient-mh-sud\"\nsource = \"appointments\"\n{extra}"
            ))
            .route("r", &["c@plan.example"])
            .write(dir.path())
            .to_str()
            .unwrap()
            .to_owned()
    };
    let unset = accesswatch(&["--config", &config(""), "check-config"], &[]);
    assert_eq!(unset.code, 0, "{}", unset.stderr);
    assert!(
        unset.stdout.contains("set `in_force_from`"),
        "{}",
        unset.stdout
    );
    let set = accesswatch(
        &[
            "--config",
            &config("in_force_from = \"2027-10-01\""),
            "check-config",
        ],
        &[],
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert!(
        !set.stdout.contains("set `in_force_from`"),
        "{}",
        set.stdout
    );
}

/// All the wait-time checks of a source are evaluated in one pass over its
/// rows; each check's result is the one it gives alone, for a CSV file and
/// for an NDJSON file (both streamed) and for the same NDJSON served over
/// HTTP (read into a table).
#[test]
fn several_checks_on_one_source_equal_each_alone() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "appointments.csv", CSV);
    let mut lines = CSV.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let ndjson: String = lines
        .map(|line| {
            let object: serde_json::Map<String, serde_json::Value> = header
                .iter()
                .zip(line.split(','))
                .map(|(k, v)| {
                    let value = if v.is_empty() {
                        serde_json::Value::Null
                    } else {
                        v.into()
                    };
                    ((*k).to_owned(), value)
                })
                .collect();
            format!("{}\n", serde_json::Value::Object(object))
        })
        .collect();
    write(dir.path(), "appointments.ndjson", &ndjson);
    let served = ndjson.clone();
    let server = crate::common::HttpServer::start(axum::Router::new().route(
        "/appointments",
        axum::routing::get(move || {
            let body = served.clone();
            async move { ([("content-type", "application/x-ndjson")], body) }
        }),
    ));
    let checks = [
        (
            "by-region",
            "ca-dmhc/non-urgent-mh-initial",
            r#"["region"]"#,
            "",
        ),
        ("overall", "ca-dmhc/non-urgent-mh-initial", "[]", ""),
        (
            "strict",
            "ca-dmhc/non-urgent-mh-initial",
            r#"["region"]"#,
            "require_labels = true\nwindow = \"20d\"\n",
        ),
        (
            "follow-up",
            "ca-sb221/mh-follow-up",
            r#"["region"]"#,
            "target = 0.7\n",
        ),
        (
            "by-provider",
            "ca-dmhc/non-urgent-mh-initial",
            r#"["provider_type", "region"]"#,
            "window = \"60d\"\n",
        ),
    ];
    let report = |source: &str, chosen: &[usize]| -> serde_json::Value {
        let mut text = ConfigText::new()
            .los_angeles()
            .section(source)
            .section("[source.values.provider_type]\nLCSW = \"non_physician_mh\"");
        for index in chosen {
            let (id, standard, group_by, extra) = checks[*index];
            text = text.section(&format!(
                "[[check]]\nid = \"{id}\"\nkind = \"timely_access\"\nstandard = \"{standard}\"\nsource = \"appointments\"\ngroup_by = {group_by}\n{extra}"
            ));
        }
        let path = text
            .route("compliance", &["compliance@plan.example"])
            .write(dir.path());
        let out = accesswatch(
            &[
                "--config",
                path.to_str().unwrap(),
                "run",
                "--once",
                "--report",
                "json",
                "--as-of",
                AS_OF,
            ],
            &[],
        );
        assert!(out.code <= 3, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };
    let url = server.url("/appointments");
    for source in [
        "[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.csv\""
            .to_owned(),
        "[[source]]\nid = \"appointments\"\nkind = \"file\"\npath = \"appointments.ndjson\""
            .to_owned(),
        format!("[[source]]\nid = \"appointments\"\nkind = \"http\"\nurl = \"{url}\""),
    ] {
        let all: Vec<usize> = (0..checks.len()).collect();
        let together = report(&source, &all);
        let together = together["checks"].as_array().unwrap();
        assert_eq!(together.len(), checks.len());
        for (index, (id, ..)) in checks.iter().enumerate() {
            let alone = report(&source, &[index]);
            let got = together.iter().find(|c| c["id"] == *id).unwrap();
            assert_eq!(&alone["checks"][0], got, "{id} from {source}");
            assert!(
                !got["groups"].as_array().unwrap().is_empty(),
                "{id} from {source} counted nothing: {got}"
            );
        }
    }
}
