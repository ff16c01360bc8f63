//! The command line itself.

use crate::common;

#[test]
fn version_names_the_git_revision() {
    let out = common::accesswatch(&["--version"], &[]);
    assert_eq!(out.code, 0);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(common::manifest_dir())
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    let line = out.stdout.trim();
    assert!(
        line.starts_with(&format!("accesswatch {} (git ", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    if !head.trim().is_empty() {
        assert!(line.contains(head.trim()), "{line} should name {head}");
    }
}
