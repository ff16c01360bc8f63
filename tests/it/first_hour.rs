//! The first hour of an operator (issue 14): install the package, write a
//! configuration, make the usual mistakes and recover. Each test is one
//! item of the issue, on the real binary.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, ConfigText, write};

/// The assets of `[package.metadata.deb]` in Cargo.toml: (source,
/// destination, mode).
fn deb_assets() -> Vec<(String, String, u32)> {
    let manifest = std::fs::read_to_string(common::manifest_dir().join("Cargo.toml")).unwrap();
    let manifest: toml_edit::DocumentMut = manifest.parse().unwrap();
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("[package.metadata.deb] assets");
    assets
        .iter()
        .map(|asset| {
            let asset = asset
                .as_array()
                .expect("an asset is [source, destination, mode]");
            let text = |i: usize| asset.get(i).and_then(|v| v.as_str()).unwrap().to_owned();
            let mode = u32::from_str_radix(&text(2), 8).expect("an octal mode");
            (text(0), text(1), mode)
        })
        .collect()
}

fn is_root() -> bool {
    let id = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&id.stdout).trim() == "0"
}

/// The mode a root-owned installed file gets here. As root (CI), `mode`
/// itself, and the binary runs as `nobody`. Otherwise the files are ours
/// and we cannot run as anyone else, so the owner's permissions are made
/// those `mode` gives everybody else: we then read exactly what the
/// service's dynamic user could.
fn installed_mode(mode: u32) -> u32 {
    if is_root() {
        mode
    } else {
        (mode & 0o007) * 0o111
    }
}

/// Makes a directory with `mode`, owned by root.
fn directory(path: &Path, mode: u32) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(installed_mode(mode))).unwrap();
}

/// Copies a file into place with `mode`, owned by root.
fn install(from: &Path, to: &Path, mode: u32) {
    std::fs::copy(from, to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(installed_mode(mode))).unwrap();
}

/// Item 1. The packaged configuration is readable by the service's dynamic
/// user. The layout is what the package installs: the binary and the
/// configuration at the paths and modes of `[package.metadata.deb]`
/// assets, /etc/accesswatch 0755 and its credentials/ 0700 as postinst
/// makes them, all owned by root. The binary is the debug one this suite
/// built, not a .deb: building the package needs cargo-deb and a release
/// build (~10 min on the CI machine), too slow for every test run, while
/// what broke, the mode of the file, is read here from the very list
/// cargo-deb packages (scripts/package checks the built .deb shows the
/// same mode). The binary then runs `check-config` as `nobody`, as systemd's
/// DynamicUser would, with the credentials systemd would hand it.
#[test]
fn the_installed_configuration_is_readable_by_an_unprivileged_user() {
    let assets = deb_assets();
    let (config_source, _, config_mode) = assets
        .iter()
        .find(|(_, to, _)| to == "etc/accesswatch/accesswatch.toml")
        .expect("the package installs /etc/accesswatch/accesswatch.toml");
    let (_, _, binary_mode) = assets
        .iter()
        .find(|(from, _, _)| from == "target/release/accesswatch")
        .expect("the package installs the binary");
    let postinst =
        std::fs::read_to_string(common::manifest_dir().join("systemd/debian/postinst")).unwrap();
    assert!(
        postinst.contains("install -d -m 0755 /etc/accesswatch\n"),
        "{postinst}"
    );
    assert!(
        postinst.contains("install -d -m 0700 /etc/accesswatch/credentials\n"),
        "{postinst}"
    );

    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    directory(root, 0o755);
    directory(&root.join("usr/bin"), 0o755);
    directory(&root.join("etc/accesswatch"), 0o755);
    directory(&root.join("etc/accesswatch/credentials"), 0o700);
    let binary = root.join("usr/bin/accesswatch");
    install(
        Path::new(env!("CARGO_BIN_EXE_accesswatch")),
        &binary,
        *binary_mode,
    );
    let config = root.join("etc/accesswatch/accesswatch.toml");
    install(
        &common::manifest_dir().join(config_source),
        &config,
        *config_mode,
    );
    // What systemd hands the service: private copies of the credentials
    // the dynamic user may read.
    let credentials = root.join("run-credentials");
    directory(&credentials, 0o755);
    for name in ["smtp-password", "plan-api-token"] {
        write(&credentials, name, "not-a-real-secret");
    }

    let output = unprivileged(&binary)
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(": OK"), "{stdout}");
}

/// A command that runs `program` as an unprivileged user: `nobody` when
/// the tests run as root, else the current user (see [`installed_mode`]).
fn unprivileged(program: &Path) -> Command {
    if !is_root() {
        return Command::new(program);
    }
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(program);
    command
}

/// The configuration of the routing tests: socal-south breaches (critical)
/// and the only ordinary route wants socal-north; `extra` is added at the
/// end.
fn label_routed(dir: &Path, extra: &str) -> PathBuf {
    write(dir, "staffing.csv", common::STAFFING_CSV);
    ConfigText::new()
        .los_angeles()
        .staffing_source("")
        .staffing_check("")
        .route("north-only", &["north@plan.example"])
        .section("labels = { region = \"socal-north\" }")
        .section(extra)
        .write(dir)
}

/// The .eml files written by the file transport, each as its "To: "
/// line, its "Subject: " line and its decoded text part.
fn emails(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let raw = std::fs::read(p).unwrap();
            let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let to: Vec<&str> = message
                .to()
                .unwrap()
                .iter()
                .filter_map(|a| a.address())
                .collect();
            format!(
                "To: {}\nSubject: {}\n{}",
                to.join(", "),
                message.subject().unwrap_or(""),
                message.body_text(0).unwrap()
            )
        })
        .collect()
}

/// Item 2. A check followed only by label-filtered routes is refused, with
/// the place and the two ways out.
#[test]
fn a_check_followed_only_by_label_filtered_routes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = label_routed(dir.path(), "");
    let out = common::accesswatch(&["--config", config.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("is followed only by routes with a label filter"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let text = std::fs::read_to_string(&config).unwrap();
    let check_line = 1 + text.lines().position(|l| l == "[[check]]").unwrap();
    assert!(
        line.starts_with(&format!("{}:{check_line}:1: ", config.display())),
        "FILE:LINE:COL of the [[check]]: {line}"
    );
    assert!(
        line.contains("\"north-only\" (region=socal-north)"),
        "{line}"
    );
    assert!(line.contains("fallback = true"), "{line}");
}

/// Item 2. With a fallback route, an alert no ordinary route wants goes to
/// the fallback, and `run --once --notify` says so and exits 3 (UNKNOWN).
#[test]
fn an_alert_no_route_wants_goes_to_the_fallback_route() {
    let dir = tempfile::tempdir().unwrap();
    let config = label_routed(
        dir.path(),
        "[[route]]\nname = \"catch-all\"\nto = [\"fallback@plan.example\"]\nfallback = true",
    );
    let config = config.to_str().unwrap();
    let checked = common::accesswatch(&["--config", config, "check-config"], &[]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);

    let out = common::accesswatch(&["--config", config, "run", "--once", "--notify"], &[]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "1 alert(s) matched no [[route]] and went to the fallback route \"catch-all\""
        ),
        "{}",
        out.stderr
    );
    let emails = emails(dir.path());
    assert_eq!(emails.len(), 1, "only the fallback has something to say");
    assert!(
        emails[0].contains("To: fallback@plan.example"),
        "{}",
        emails[0]
    );
    assert!(emails[0].contains("socal-south"), "{}", emails[0]);

    // A fallback route takes no filters: it is the catch-all.
    let dir = tempfile::tempdir().unwrap();
    let config = label_routed(
        dir.path(),
        "[[route]]\nname = \"catch-all\"\nto = [\"f@plan.example\"]\nfallback = true\nseverities = [\"critical\"]",
    );
    let out = common::accesswatch(&["--config", config.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("remove its `severities`"),
        "{}",
        out.stderr
    );
}

/// Item 3. A command-line mistake of `run --once` is UNKNOWN (3), not
/// CRITICAL; the other subcommands keep 2; `--as-of` takes a date, which
/// is midnight in the daemon's zone.
#[test]
fn run_once_usage_mistakes_are_unknown_and_as_of_takes_a_date() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "staffing.csv", common::STAFFING_CSV);
    let config = ConfigText::new()
        .los_angeles()
        .staffing_source("")
        .staffing_check("")
        .route("all", &["c@plan.example"])
        .write(dir.path());
    let config = config.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config];
        all.extend_from_slice(args);
        common::accesswatch(&all, &[])
    };

    for mistake in [
        &["run", "--once", "--as-of", "27/11/2026"][..],
        &["run", "--once", "--bogus"],
        &["run", "--as-of", "2026-11-27", "--once", "--report", "yaml"],
    ] {
        let out = run(mistake);
        assert_eq!(out.code, 3, "{mistake:?}: {}", out.stderr);
        assert!(out.stderr.contains("error:"), "{}", out.stderr);
    }
    let out = run(&["run", "--once", "--as-of", "yesterday"]);
    assert!(
        out.stderr.contains("or a date like 2026-11-29"),
        "{}",
        out.stderr
    );
    assert_eq!(run(&["status", "--bogus"]).code, 2);
    assert_eq!(run(&["ack", "x"]).code, 2);
    assert_eq!(run(&["run", "--once", "--help"]).code, 0);

    let out = run(&["run", "--once", "--as-of", "2026-11-27", "--report", "json"]);
    assert_eq!(out.code, 2, "socal-south breaches: {}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["as_of"], "2026-11-27T08:00:00Z");
}

/// Item 4. `render` tells an ok group, a group that does not exist and a
/// misspelled label apart instead of rendering an empty "UNKNOWN" email.
#[test]
fn render_says_when_a_group_is_ok_or_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "staffing.csv", common::STAFFING_CSV);
    let config = ConfigText::new()
        .staffing_source("")
        .staffing_check("")
        .route("all", &["c@plan.example"])
        .write(dir.path());
    let render = |group: &str| {
        common::accesswatch(
            &[
                "--config",
                config.to_str().unwrap(),
                "render",
                "members-per-therapist",
                "--group",
                group,
            ],
            &[],
        )
    };

    let out = render("region=socal-north");
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The group's line, then its trend (issue 12).
    assert!(
        out.stdout.starts_with(
            "group region=socal-north is ok (2,462.81, limit <= 3,000): nothing would be sent\n"
        ),
        "{}",
        out.stdout
    );

    let out = render("region=socal-east");
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr.trim(),
        "accesswatch: no group region=socal-east; groups are: \
         region=norcal-east; region=socal-north; region=socal-south"
    );

    let out = render("regoin=socal-south");
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        "accesswatch: no label `regoin`; labels are: region"
    );

    let out = render("region=socal-south");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("Subject: "), "{}", out.stdout);
    assert!(out.stdout.contains("socal-south"), "{}", out.stdout);
    assert!(!out.stdout.contains("socal-north"), "{}", out.stdout);
}

/// Item 6. Without `time_field`, the data time of a file is its
/// modification time: the report and the email say so, and a run as of a
/// time before it warns.
#[test]
fn a_data_time_not_read_from_the_data_says_where_it_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "staffing.csv", common::STAFFING_CSV);
    // Copied on 2026-12-02 at 06:18 in Los Angeles.
    let copied = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_221_080);
    std::fs::File::options()
        .write(true)
        .open(&csv)
        .unwrap()
        .set_modified(copied)
        .unwrap();
    let config = ConfigText::new()
        .los_angeles()
        .staffing_source("")
        .staffing_check("")
        .route("all", &["c@plan.example"])
        .write(dir.path());
    let out = common::accesswatch(
        &[
            "--config",
            config.to_str().unwrap(),
            "run",
            "--once",
            "--notify",
            "--as-of",
            "2026-11-27",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("data as of file modified 2026-12-02 06:18 PST (source staffing)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(
            "accesswatch: warning: the data of source \"staffing\" is as of 2026-12-02 06:18 PST \
             (file modified, not read from the data; set `time_field` on the source to use a time \
             the data carries), after the run's time 2026-11-27 00:00 PST"
        ),
        "{}",
        out.stderr
    );
    let emails = emails(dir.path());
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0].contains("Data as of: file modified 2026-12-02 06:18 PST (source staffing)"),
        "{}",
        emails[0]
    );
}

/// Item 10. Every command whose stdout is closed before it writes (`|
/// head` that has read enough) exits as it would have, without a panic.
/// The pipe's reading end is closed before the command starts, so every
/// write meets a broken pipe.
#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "staffing.csv", common::STAFFING_CSV);
    let config = ConfigText::new()
        .los_angeles()
        .staffing_source("")
        .staffing_check("")
        .route("all", &["c@plan.example"])
        .write(dir.path());
    let config = config.to_str().unwrap();
    let commands: [(&[&str], i32); 7] = [
        (&["standards"], 0),
        (&["standards", "--json"], 0),
        (&["--config", config, "check-config"], 0),
        (&["--config", config, "run", "--once"], 2),
        (
            &[
                "--config", config, "run", "--once", "--report", "json", "--notify",
            ],
            2,
        ),
        (&["--config", config, "status"], 0),
        (&["--config", config, "render", "members-per-therapist"], 0),
    ];
    for (args, code) in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_accesswatch"))
            .args(args)
            .stdout(writer)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
    // --notify still sent its alert.
    assert_eq!(emails(dir.path()).len(), 1);
}

/// Item 11. A plain secret is refused wherever it is written, with one
/// message that names the keys to use instead.
#[test]
fn a_plain_secret_is_refused_in_every_place_with_one_message() {
    let smtp = "host = \"127.0.0.1\"\nport = 2525\nusername = \"aw\"\npassword = \"hunter2\"";
    let file = "transport = \"file\"\ndirectory = \"outbox\"\npassword = \"hunter2\"";
    let cases: [(&str, &str, &str); 6] = [
        (file, "", "password"),
        (smtp, "", "password"),
        ("", "bearer_token = \"hunter2\"", "bearer_token"),
        (
            "",
            "url = \"http://127.0.0.1:1/x.csv\"\nbearer_token = \"hunter2\"",
            "bearer_token",
        ),
        (
            "",
            "[source.postgres]\nhost = \"127.0.0.1\"\nuser = \"aw\"\ndbname = \"plan\"\nquery = \"select 1\"\npassword = \"hunter2\"",
            "password",
        ),
        (
            "",
            "bearer_token = \"hunter2\"\n[source.nppes]\nstate = \"CA\"",
            "bearer_token",
        ),
    ];
    for (email, source, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "staffing.csv", common::STAFFING_CSV);
        let kind = match source {
            s if s.starts_with("url") => "kind = \"http\"\n",
            s if s.starts_with("[source.postgres]") => "kind = \"postgres\"\n",
            s if s.contains("[source.nppes]") => "kind = \"nppes\"\n",
            _ => "kind = \"file\"\npath = \"staffing.csv\"\n",
        };
        let mut text = ConfigText::new();
        if !email.is_empty() {
            text = text.email(email);
        }
        let config = text
            .section(&format!("[[source]]\nid = \"staffing\"\n{kind}{source}"))
            .staffing_check("")
            .route("all", &["c@plan.example"])
            .write(dir.path());
        let out = common::accesswatch(&["--config", config.to_str().unwrap(), "check-config"], &[]);
        assert_eq!(out.code, 1, "{email} {source}: {}", out.stderr);
        let about_secrets: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("password") || l.contains("bearer_token"))
            .collect();
        assert_eq!(
            about_secrets.len(),
            1,
            "one message about the secret for {email} {source}:\n{}",
            out.stderr
        );
        assert!(
            about_secrets[0].contains(&format!(
                "`{key}` must not be written in the configuration file: use {key}_file, {key}_env or {key}_credential"
            )),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    }
}

/// Item 8. `ack` refuses a time that has passed, says whose
/// acknowledgement it replaces, prints times in the daemon's zone to the
/// minute, and `status` shows no reminder due before the acknowledgement
/// ends.
#[test]
fn ack_refuses_the_past_and_names_the_acknowledgement_it_replaces() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "staffing.csv", common::STAFFING_CSV);
    let config = ConfigText::new()
        .los_angeles()
        .staffing_source("")
        .staffing_check("repeat_interval = \"24h\"")
        .route("all", &["c@plan.example"])
        .write(dir.path());
    let config = config.to_str().unwrap();
    let run = common::accesswatch(&["--config", config, "run", "--once", "--notify"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let ack = |until: &str, by: &str| {
        common::accesswatch(
            &[
                "--config",
                config,
                "ack",
                "members-per-therapist",
                "--until",
                until,
                "--by",
                by,
            ],
            &[],
        )
    };

    let out = ack("2026-01-01T00:00:00Z", "alice");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--until \"2026-01-01T00:00:00Z\" is 2025-12-31 16:00 PST, which has passed"),
        "{}",
        out.stderr
    );
    assert!(
        common::accesswatch(&["--config", config, "status"], &[])
            .stdout
            .contains("next reminder")
    );

    let out = ack("3d", "alice");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out.stdout.lines().next().unwrap();
    let until = line
        .strip_prefix("acknowledged 1 alert(s) of members-per-therapist until ")
        .and_then(|rest| rest.strip_suffix(" by alice"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    // "2026-12-05 09:08 PST": to the minute, in the daemon's zone.
    assert_eq!(until.len(), "2026-12-05 09:08 PST".len(), "{until}");
    assert!(
        until.ends_with(" PST") || until.ends_with(" PDT"),
        "{until}"
    );

    let out = ack("4d", "bob");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "replaced the acknowledgement by alice until {until} of 1 alert(s): region=socal-south"
        )),
        "{}",
        out.stdout
    );

    let status = common::accesswatch(&["--config", config, "status"], &[]);
    let line = status
        .stdout
        .lines()
        .find(|l| l.contains("region=socal-south"))
        .unwrap_or_else(|| panic!("{}", status.stdout));
    assert!(line.contains("acknowledged by bob until"), "{line}");
    // Item 9: the value in the check's units, with its limit.
    assert!(
        line.contains("; last 3,476.79 members per fte (limit <= 3,000, breach)"),
        "{line}"
    );
    assert!(
        !line.contains("next reminder"),
        "the 24 h reminder falls inside the acknowledgement: {line}"
    );
}

/// Item 7. Rows without a value for a `group_by` label form the group "no
/// region", in words, in the report and the email; with `require_labels =
/// true` on the source they are rejected instead, with their reason.
#[test]
fn rows_without_a_label_are_a_group_in_words_or_rejected() {
    let csv = "region,members,fte\nsocal-south,412000,118.5\n,5000,1\nsocal-north,298000,121\n";
    let run = |source_extra: &str| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "staffing.csv", csv);
        let config = ConfigText::new()
            .los_angeles()
            .staffing_source(source_extra)
            .staffing_check("")
            .route("all", &["c@plan.example"])
            .write(dir.path());
        let out = common::accesswatch(
            &[
                "--config",
                config.to_str().unwrap(),
                "run",
                "--once",
                "--notify",
            ],
            &[],
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        let emails = emails(dir.path());
        assert_eq!(emails.len(), 1);
        (out.stdout, emails[0].clone())
    };

    let (report, email) = run("");
    assert!(
        report.contains("BREACH   no region: 5,000 members per fte"),
        "{report}"
    );
    assert!(!report.contains("(none)"), "{report}");
    assert!(
        email.contains("- [FIRING] no region: 5,000 members per fte (limit"),
        "{email}"
    );
    assert!(!email.contains("(none)"), "{email}");

    let (report, email) = run("require_labels = true");
    assert!(!report.contains("no region"), "{report}");
    assert!(
        report.contains("rejected row 3: `region` is empty (require_labels = true)"),
        "{report}"
    );
    assert!(
        email.contains(
            "Rejected rows: 1 row rejected (row 3: `region` is empty (require_labels = true))"
        ),
        "{email}"
    );
}

/// Item 13. Misspelled keys, standard ids, check ids in routes,
/// calendars and zones get the nearest known name; a Quartz schedule gets
/// its crontab(5) equivalent.
#[test]
fn misspellings_get_the_nearest_name_and_quartz_its_crontab() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "staffing.csv", common::STAFFING_CSV);
    let config = ConfigText::new()
        .daemon("time_zone = \"America/Los_Angles\"")
        .staffing_source("")
        .staffing_check("schedule = \"0 0 6 ? * MON-FRI\"\nseverty = \"critical\"")
        .section(
            "[[check]]\nid = \"wait\"\nkind = \"timely_access\"\nstandard = \"ca-dmhc/non-urgent-mh-intial\"\nsource = \"staffing\"",
        )
        .section(
            "[[check]]\nid = \"wait2\"\nkind = \"timely_access\"\nstandard = \"ca-dmhc/non-urgent-mh-initial\"\nsource = \"staffing\"\ncalendar = \"us-federl\"",
        )
        .route("all", &["c@plan.example"])
        .section("checks = [\"members-per-therapst\"]")
        .write(dir.path());
    let out = common::accesswatch(&["--config", config.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.code, 1);
    for expected in [
        "unknown key `severty` in [[check]]: did you mean `severity`?",
        "is not an IANA time zone, did you mean `America/Los_Angeles`?",
        "is not in the catalog, did you mean `ca-dmhc/non-urgent-mh-initial`?",
        "\"weekdays\", did you mean `us-federal`?",
        "is not the id of any [[check]], did you mean `members-per-therapist`?",
        "\"0 0 6 ? * MON-FRI\" has 6; read with seconds first (Quartz, Spring), that is \"0 6 * * 1-5\" in crontab(5)",
    ] {
        assert!(out.stderr.contains(expected), "{expected}:\n{}", out.stderr);
    }
}

/// Item 12. `check-config` warns, without failing, about a source file
/// that does not exist, a host that does not resolve and a database that
/// does not answer, each on its own line with FILE:LINE:COL.
#[test]
fn check_config_warns_about_what_would_fail_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let closed = common::free_port();
    let config = ConfigText::new()
        .section("[[source]]\nid = \"staffing\"\nkind = \"file\"\npath = \"staffing-typo.csv\"")
        .staffing_check("")
        .section("[[source]]\nid = \"api\"\nkind = \"http\"\nurl = \"https://reporting.no-such-host.invalid/staffing.csv\"")
        .section(&format!(
            "[[source]]\nid = \"db\"\nkind = \"postgres\"\n[source.postgres]\nhost = \"127.0.0.1\"\nport = {closed}\nuser = \"aw\"\ndbname = \"plan\"\nquery = \"select 1\""
        ))
        .route("all", &["c@plan.example"])
        .write(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    let line_of = |needle: &str| 1 + text.lines().position(|l| l.contains(needle)).unwrap();
    let out = common::accesswatch(&["--config", config.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(": OK"), "{}", out.stdout);
    let at = |needle: &str, column: usize| {
        format!(
            "{}:{}:{column}: warning: ",
            config.display(),
            line_of(needle)
        )
    };
    let warnings: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(warnings.len(), 3, "{}", out.stderr);
    assert!(
        warnings[0].starts_with(&at("staffing-typo.csv", 8)),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("staffing-typo.csv cannot be read now"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].starts_with(&at("no-such-host.invalid", 7)),
        "{}",
        warnings[1]
    );
    assert!(
        warnings[1].contains("host \"reporting.no-such-host.invalid\" does not resolve"),
        "{}",
        warnings[1]
    );
    assert!(
        warnings[2].starts_with(&at("host = \"127.0.0.1\"", 8)),
        "{}",
        warnings[2]
    );
    assert!(
        warnings[2].contains(&format!(
            "the database at 127.0.0.1:{closed} does not answer"
        )),
        "{}",
        warnings[2]
    );
}

/// Item 12. `check-config --connect` fetches every source once and talks
/// to the SMTP server (EHLO, nothing sent), and reports each; a failure
/// makes it exit 1.
#[test]
fn check_config_connect_tries_every_source_and_the_mail_server() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = common::SmtpServer::start(dir.path(), common::SmtpOptions::default());
    let http = common::HttpServer::start(
        axum::Router::new()
            .route(
                "/staffing.csv",
                axum::routing::get(|| async { common::STAFFING_CSV }),
            )
            .route(
                "/gone.csv",
                axum::routing::get(|| async { (axum::http::StatusCode::NOT_FOUND, "gone") }),
            ),
    );
    let config = |path: &str| {
        ConfigText::new()
            .email(&common::plain_smtp(smtp.port))
            .section(&format!(
                "[[source]]\nid = \"staffing\"\nkind = \"http\"\nurl = \"{}\"\nretries = 0",
                http.url(path)
            ))
            .staffing_check("")
            .route("all", &["c@plan.example"])
            .write(dir.path())
    };

    let out = common::accesswatch(
        &[
            "--config",
            config("/staffing.csv").to_str().unwrap(),
            "check-config",
            "--connect",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("  source staffing: ok, 3 rows"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "  email smtp://127.0.0.1:{} (none): ok, connected, EHLO",
            smtp.port
        )),
        "{}",
        out.stdout
    );
    assert!(smtp.messages().is_empty(), "nothing is sent");

    let out = common::accesswatch(
        &[
            "--config",
            config("/gone.csv").to_str().unwrap(),
            "check-config",
            "--connect",
        ],
        &[],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("  source staffing: FAILED: "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("404"), "{}", out.stdout);
}
