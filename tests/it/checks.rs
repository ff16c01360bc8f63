//! Check kinds beyond one-source thresholds: ratios across two sources,
//! counts, and data freshness.

use std::time::{Duration, SystemTime};

use crate::common::{ConfigText, accesswatch, write};

/// Email to files and one route; the tests add sources and checks.
fn head() -> ConfigText {
    ConfigText::new().route("r", &["c@plan.example"])
}

fn run_json(dir: &std::path::Path, config: &ConfigText, as_of: &str) -> (i32, serde_json::Value) {
    let path = config.write(dir);
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--report",
            "json",
            "--as-of",
            as_of,
        ],
        &[],
    );
    (
        out.code,
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr)),
    )
}

fn group<'a>(check: &'a serde_json::Value, key: &str, value: &str) -> &'a serde_json::Value {
    check["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"][key] == value)
        .unwrap_or_else(|| panic!("{check}"))
}

#[test]
fn members_per_clinician_across_two_sources() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "membership.csv",
        "network,members\nhmo,300000\nppo,90000\nepo,5000\n",
    );
    write(
        dir.path(),
        "roster.csv",
        "network,bh_fte\nhmo,100\nhmo,20\nppo,50\nmedicaid,10\n",
    );
    let config = head().section(
        "[[source]]\nid = \"membership\"\nkind = \"file\"\npath = \"membership.csv\"\n\
         [[source]]\nid = \"roster\"\nkind = \"file\"\npath = \"roster.csv\"\n\
         [[check]]\nid = \"members-per-bh-fte\"\ntitle = \"Members per FTE behavioral health clinician\"\nkind = \"ratio\"\n\
         source = \"roster\"\nnumerator_source = \"membership\"\nnumerator = \"members\"\ndenominator = \"bh_fte\"\n\
         group_by = [\"network\"]\nop = \"<=\"\nlimit = 2000\nseverity = \"critical\"\n"
    );
    let (code, report) = run_json(dir.path(), &config, "2026-11-30T14:00:00Z");
    assert_eq!(code, 2);
    let check = &report["checks"][0];
    assert_eq!(group(check, "network", "hmo")["value"], 2500.0);
    assert_eq!(group(check, "network", "hmo")["status"], "breach");
    assert_eq!(group(check, "network", "ppo")["value"], 1800.0);
    assert_eq!(group(check, "network", "ppo")["status"], "ok");
    let epo = group(check, "network", "epo");
    assert_eq!(epo["status"], "unknown");
    assert!(
        epo["error"]
            .as_str()
            .unwrap()
            .contains("no rows in source \"roster\""),
        "{epo}"
    );
    assert_eq!(group(check, "network", "medicaid")["status"], "unknown");
    // A missing numerator source is that source's failure.
    std::fs::remove_file(dir.path().join("membership.csv")).unwrap();
    let (code, report) = run_json(dir.path(), &config, "2026-11-30T14:00:00Z");
    assert_eq!(code, 3);
    assert!(
        report["checks"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("source \"membership\" failed")
    );
}

#[test]
fn counts_per_group() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "providers.csv",
        "county,npi_kind\nalameda,1\nalameda,1\nfresno,1\n",
    );
    let config = head().section(
        "[[source]]\nid = \"p\"\nkind = \"file\"\npath = \"providers.csv\"\n\
         [[check]]\nid = \"psychologists\"\ntitle = \"Licensed psychologists per county\"\nkind = \"threshold\"\nsource = \"p\"\n\
         field = \"npi_kind\"\naggregate = \"count\"\ngroup_by = [\"county\"]\nop = \">=\"\nlimit = 2\n"
    );
    let (code, report) = run_json(dir.path(), &config, "2026-11-30T14:00:00Z");
    assert_eq!(code, 1);
    let check = &report["checks"][0];
    assert_eq!(group(check, "county", "alameda")["value"], 2.0);
    assert_eq!(group(check, "county", "fresno")["status"], "breach");
}

#[test]
fn freshness_from_a_time_column_or_the_file_itself() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "feed.csv",
        "region,updated\nnorth,2026-11-30T10:00:00Z\nsouth,2026-11-27\nsouth,2026-11-26\n",
    );
    let config = head()
        .daemon("time_zone = \"America/Los_Angeles\"")
        .section(
            "[[source]]\nid = \"feed\"\nkind = \"file\"\npath = \"feed.csv\"\n\
             [[check]]\nid = \"fresh-per-region\"\ntitle = \"Feed updated daily\"\nkind = \"freshness\"\nsource = \"feed\"\n\
             field = \"updated\"\ngroup_by = [\"region\"]\nmax_age = \"26h\"\nseverity = \"critical\"\n\
             [[check]]\nid = \"file-age\"\ntitle = \"Feed file written daily\"\nkind = \"freshness\"\nsource = \"feed\"\nmax_age = \"26h\"\n",
        );
    // The file was written three days before the evaluation time.
    let file = std::fs::File::options()
        .write(true)
        .open(dir.path().join("feed.csv"))
        .unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3 * 86_400))
        .unwrap();
    drop(file);
    let now = chrono::Utc::now();
    let (code, report) = run_json(dir.path(), &config, &now.to_rfc3339());
    assert_eq!(code, 2);
    let per_region = &report["checks"][0];
    assert_eq!(group(per_region, "region", "south")["status"], "breach");
    let file_age = &report["checks"][1];
    assert_eq!(file_age["status"], "breach");
    let hours = file_age["groups"][0]["value"].as_f64().unwrap();
    assert!((71.9..=72.1).contains(&hours), "{hours}");
    // As of shortly after the north row, it is fresh.
    let (_, report) = run_json(dir.path(), &config, "2026-11-30T12:00:00Z");
    let north = group(&report["checks"][0], "region", "north");
    assert_eq!(north["value"], 2.0);
    assert_eq!(north["status"], "ok");
}
