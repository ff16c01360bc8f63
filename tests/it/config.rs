//! `check-config` on every shipped example, on valid and invalid fixtures
//! (each invalid one with its exact `FILE:LINE:COL` messages), and on
//! hostile input: binary, huge, deeply nested, missing.

use std::path::{Path, PathBuf};

use accesswatch::config::Config;

use crate::common::{ConfigText, accesswatch, manifest_dir, write};

/// Environment the fixtures and examples refer to.
const ENV: &[(&str, &str)] = &[
    ("ACCESSWATCH_TEST_SMTP_PASSWORD", "fixture-password"),
    ("ACCESSWATCH_TEST_TOKEN", "fixture-token"),
];

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(manifest_dir())
        .unwrap()
        .display()
        .to_string()
}

/// A `$CREDENTIALS_DIRECTORY` holding a dummy value for every credential
/// named in `text` (`*_credential = "NAME"`), as systemd would provide.
fn credentials_for(text: &str, dir: &Path) {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || !line.contains("_credential") {
            continue;
        }
        if let Some((_, value)) = line.split_once('=') {
            let name = value.trim().trim_matches('"');
            write(dir, name, "dummy-secret-value\n");
        }
    }
}

#[test]
fn every_shipped_config_passes_check_config() {
    let files = toml_files("config");
    assert!(!files.is_empty(), "no config/*.toml found");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let credentials = tempfile::tempdir().unwrap();
        credentials_for(&text, credentials.path());
        let mut env = ENV.to_vec();
        env.push((
            "CREDENTIALS_DIRECTORY",
            credentials.path().to_str().unwrap(),
        ));
        let out = accesswatch(&["--config", &relative(file), "check-config"], &env);
        assert_eq!(out.code, 0, "{}:\n{}", file.display(), out.stderr);
        assert!(
            out.stdout.starts_with(&format!("{}: OK", relative(file))),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("next "),
            "the summary shows next run times:\n{}",
            out.stdout
        );
        assert!(!out.stdout.contains("dummy-secret-value"));
    }
}

/// Run by hand, as the README's install step does, outside systemd:
/// everything else is checked, each unread credential is named with where
/// the service will load it from, and `--credentials-directory` checks
/// them too.
#[test]
fn check_config_outside_systemd_names_the_credentials_it_could_not_read() {
    let file = "config/production.example.toml";
    let out = accesswatch(&["--config", file, "check-config"], ENV);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for name in ["smtp-password", "plan-api-token"] {
        let line = out
            .stderr
            .lines()
            .find(|l| l.contains(&format!("credential `{name}` not checked")))
            .unwrap_or_else(|| panic!("no warning about {name}:\n{}", out.stderr));
        assert!(line.starts_with(&format!("{file}:")), "{line}");
        assert!(
            line.contains(&format!("/etc/accesswatch/credentials/{name}")),
            "{line}"
        );
        assert!(line.contains("--credentials-directory"), "{line}");
    }
    // `--connect` cannot try the server without the password.
    let out = accesswatch(&["--config", file, "check-config", "--connect"], ENV);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("not tried: some credentials were not read"),
        "{}",
        out.stdout
    );

    let credentials = tempfile::tempdir().unwrap();
    let dir = credentials.path().to_str().unwrap();
    let out = accesswatch(
        &[
            "--config",
            file,
            "check-config",
            "--credentials-directory",
            dir,
        ],
        ENV,
    );
    assert_eq!(
        out.code, 1,
        "an empty directory: the credentials are missing"
    );
    assert!(
        out.stderr
            .contains(&format!("cannot read credential {dir}/smtp-password")),
        "{}",
        out.stderr
    );
    credentials_for(
        &std::fs::read_to_string(manifest_dir().join(file)).unwrap(),
        credentials.path(),
    );
    let out = accesswatch(
        &[
            "--config",
            file,
            "check-config",
            "--credentials-directory",
            dir,
        ],
        ENV,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("not checked"), "{}", out.stderr);
}

#[test]
fn valid_fixtures_pass() {
    let files = toml_files("tests/fixtures/config/valid");
    assert!(files.len() >= 2, "expected valid fixtures, found {files:?}");
    for file in &files {
        let out = accesswatch(&["--config", &relative(file), "check-config"], ENV);
        assert_eq!(out.code, 0, "{}:\n{}", file.display(), out.stderr);
    }
}

#[test]
fn invalid_fixtures_give_exactly_their_expected_messages() {
    let files = toml_files("tests/fixtures/config/invalid");
    assert!(
        files.len() >= 10,
        "expected invalid fixtures, found {files:?}"
    );
    for file in &files {
        let expected = std::fs::read_to_string(file.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{} has no .expected file", file.display()));
        let out = accesswatch(&["--config", &relative(file), "check-config"], ENV);
        assert_eq!(out.code, 1, "{}", file.display());
        assert_eq!(out.stdout, "", "nothing on stdout for an invalid file");
        let mut lines: Vec<&str> = out.stderr.lines().collect();
        let last = lines.pop().unwrap();
        assert_eq!(
            last,
            format!(
                "accesswatch: {} problem{} in {}",
                lines.len(),
                if lines.len() == 1 { "" } else { "s" },
                relative(file)
            )
        );
        let expected: Vec<&str> = expected.lines().collect();
        assert_eq!(lines, expected, "{}", file.display());
        for line in &lines {
            assert!(line.starts_with(&format!("{}:", relative(file))), "{line}");
        }
    }
}

#[test]
fn run_and_daemon_refuse_an_invalid_config() {
    let file = "tests/fixtures/config/invalid/email.toml";
    let once = accesswatch(&["--config", file, "run", "--once"], ENV);
    assert_eq!(once.code, 3, "run --once: unknown");
    assert!(
        once.stderr
            .contains("email.toml:4:8: `port` must be between 1 and 65535")
    );
    let daemon = accesswatch(&["--config", file, "run"], ENV);
    assert_eq!(
        daemon.code, 78,
        "the daemon exits EX_CONFIG, which the unit does not restart"
    );
}

#[test]
fn hostile_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, contents: &[u8], expected: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let out = accesswatch(&["--config", path.to_str().unwrap(), "check-config"], &[]);
        assert_eq!(out.code, 1, "{name}");
        assert!(
            out.stderr.contains(expected),
            "{name}: {:?} lacks {expected:?}",
            out.stderr
        );
    };
    check(
        "binary.toml",
        &[0xff, 0xfe, 0x00, 0x41, 0x80],
        "cannot read the configuration: stream did not contain valid UTF-8",
    );
    check(
        "nested.toml",
        format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes(),
        "this is not valid TOML",
    );
    check(
        "nul.toml",
        b"[email]\nfrom = \"a\x00b@plan.example\"\n",
        "this is not valid TOML",
    );
    let huge_string = format!(
        "[email]\nfrom = \"aw@plan.example\"\nhost = \"smtp.plan.example\"\nsubject_prefix = \"{}\"\nbogus = 1\n",
        "x".repeat(5_000_000)
    );
    check(
        "huge.toml",
        huge_string.as_bytes(),
        "huge.toml:5:1: unknown key `bogus` in [email]",
    );
    let missing = dir.path().join("missing.toml");
    let out = accesswatch(
        &["--config", missing.to_str().unwrap(), "check-config"],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("missing.toml: cannot read the configuration: No such file or directory"),
        "{}",
        out.stderr
    );
    let out = accesswatch(
        &["--config", dir.path().to_str().unwrap(), "check-config"],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("cannot read the configuration: Is a directory"),
        "{}",
        out.stderr
    );
}

#[test]
fn many_checks_validate_and_every_problem_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = ConfigText::new()
        .route("r", &["c@plan.example"])
        .section("[[source]]\nid = \"s\"\nkind = \"file\"\npath = \"s.csv\"")
        .build();
    for i in 0..2_000 {
        let op = if i % 500 == 7 { "=>" } else { ">=" };
        text += &format!(
            "[[check]]\nid = \"c{i}\"\ntitle = \"Check {i}\"\nkind = \"threshold\"\nsource = \"s\"\nfield = \"f\"\nop = \"{op}\"\nlimit = {i}\n"
        );
    }
    let path = write(dir.path(), "many.toml", &text);
    let out = accesswatch(&["--config", path.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("accesswatch: 4 problems"),
        "{}",
        out.stderr
    );
    let fixed = write(dir.path(), "fixed.toml", &text.replace("\"=>\"", "\">=\""));
    let out = accesswatch(&["--config", fixed.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("checks (2000):"));
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pw", "hunter2-smtp\n");
    write(dir.path(), "token", "hunter2-token\n");
    let text = "[email]\nfrom = \"aw@plan.example\"\nhost = \"smtp.plan.example\"\nusername = \"aw\"\npassword_file = \"pw\"\n\
                [[source]]\nid = \"api\"\nkind = \"http\"\nurl = \"https://api.plan.example/x.csv\"\nbearer_token_file = \"token\"\n\
                [[source.headers]]\nname = \"X-Key\"\nvalue_file = \"token\"\n";
    let path = write(dir.path(), "accesswatch.toml", text);
    let config = Config::load(&path).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("Secret(***)"));
    let out = accesswatch(&["--config", path.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("hunter2"));
}
