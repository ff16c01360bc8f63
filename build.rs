//! Records the git revision the binary is built from, for `--version`.
//! Builds outside a git checkout (a crate tarball) say "unknown".
//!
//! Only `.git/HEAD` and the branch it names are watched: `git status` (to
//! say "modified") would rewrite `.git/index`, and watching the index made
//! every `cargo run` rebuild the crate.

use std::path::Path;
use std::process::Command;

fn main() {
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=ACCESSWATCH_GIT_REVISION={revision}");
    println!("cargo:rerun-if-changed=build.rs");
    let head = Path::new(".git/HEAD");
    if head.exists() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        // HEAD names a branch: watch its ref (loose or packed).
        if let Some(branch) = std::fs::read_to_string(head)
            .ok()
            .and_then(|text| text.trim().strip_prefix("ref: ").map(str::to_owned))
        {
            for path in [format!(".git/{branch}"), ".git/packed-refs".to_owned()] {
                if Path::new(&path).exists() {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
        }
    }
}
