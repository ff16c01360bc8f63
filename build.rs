//! Records the git revision the binary is built from, for `--version`.
//! Builds outside a git checkout (a crate tarball) say "unknown".
//!
//! Only HEAD and the branch it names are watched (found with `git
//! rev-parse --git-path`, so a worktree works too): `git status` (to say
//! "modified") would rewrite the index, and watching the index made every
//! `cargo run` rebuild the crate.

use std::path::Path;
use std::process::Command;

fn main() {
    let revision =
        git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=ACCESSWATCH_GIT_REVISION={revision}");
    println!("cargo:rerun-if-changed=build.rs");
    // HEAD and the branch it names (loose or packed). `git rev-parse
    // --git-path` finds them in a plain checkout (.git/HEAD) and in a
    // worktree, whose .git is a file pointing elsewhere.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// The trimmed output of a successful `git ARGS`.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
