//! ARCHITECTURE.md's invariants that a grep can check: the module graph
//! has no cycle, nothing below `cli`/`daemon` imports `config` or reads the
//! clock, and each outside crate is known by one module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir` but test files, with its text less line
/// comments and `#[cfg(test)] mod tests { … }` blocks.
fn sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, strip(&text)));
        }
    }
}

fn strip(text: &str) -> String {
    let mut code = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        code.push_str(&rest[..at]);
        let after = &rest[at..];
        match after.find('{') {
            Some(open) if after[..open].contains("mod ") => {
                let mut depth = 0;
                let mut end = after.len();
                for (i, c) in after[open..].char_indices() {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                rest = &after[end..];
            }
            _ => {
                code.push_str("#[cfg(test)]");
                rest = &after["#[cfg(test)]".len()..];
            }
        }
    }
    code.push_str(rest);
    code.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to (`src/X.rs` or `src/X/…`).
fn top(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

fn files() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    sources(&src(), &mut out);
    assert!(out.len() > 20, "found only {} source files", out.len());
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files() {
        let from = top(&path);
        if from == "lib" || from == "main" {
            continue;
        }
        let entry = edges.entry(from.clone()).or_default();
        for (at, _) in text.match_indices("crate::") {
            let tail = &text[at + "crate::".len()..];
            let names: Vec<&str> = if let Some(group) = tail.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                group
                    .split(',')
                    .filter_map(|p| p.trim().split("::").next())
                    .collect()
            } else {
                tail.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .into_iter()
                    .collect()
            };
            for name in names {
                if !name.is_empty() && name != from && src_has_module(name) {
                    entry.insert(name.to_owned());
                }
            }
        }
    }
    edges
}

fn src_has_module(name: &str) -> bool {
    src().join(format!("{name}.rs")).exists() || src().join(name).is_dir()
}

#[test]
fn no_cycle_between_top_level_modules() {
    let edges = graph();
    assert!(edges.len() >= 8, "modules: {edges:?}");
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = path.iter().position(|n| n == node) {
            panic!("cycle: {} -> {node}", path[at..].join(" -> "));
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
        done.insert(node.to_owned());
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn only_the_edges_import_config() {
    for (from, to) in graph() {
        if to.contains("config") {
            assert!(
                ["cli", "daemon"].contains(&from.as_str()),
                "{from} imports config; pass it the vocabulary (crate::check) instead"
            );
        }
    }
}

#[test]
fn only_the_edges_read_the_clock() {
    // The `.eml` file name is the one documented exception.
    let allowed = ["cli", "daemon"];
    for (path, text) in files() {
        let name = path.strip_prefix(src()).unwrap().display().to_string();
        if allowed.contains(&top(&path).as_str()) || name == "notify/mail.rs" {
            continue;
        }
        for needle in ["Utc::now()", "SystemTime::now()", "Local::now()"] {
            assert!(
                !text.contains(needle),
                "{name} calls {needle}; take a Clock or the time"
            );
        }
    }
}

#[test]
fn each_outside_crate_is_known_by_one_module() {
    let owners: &[(&str, &[&str])] = &[
        ("clap::", &["cli/args.rs", "main.rs"]),
        ("reqwest::", &["source/http.rs"]),
        // pg connects (TLS, errors, the state store's blocking client);
        // source::postgres runs a source's query and reads its column types.
        ("tokio_postgres::", &["pg.rs", "source/postgres.rs"]),
        ("lettre::", &["notify/mail.rs"]),
        ("croner::", &["check/schedule.rs"]),
        ("rusqlite::", &["state/"]),
        ("sd_notify::", &["daemon/systemd.rs"]),
        ("axum::", &["daemon/serve.rs", "daemon/web.rs"]),
        ("bcrypt::", &["daemon/web.rs"]),
        ("tokio_rustls::", &["daemon/web.rs"]),
        ("tracing_subscriber::", &["logging.rs"]),
        ("toml_edit::", &["config/load.rs"]),
        ("strsim::", &["config/suggest.rs"]),
        ("sha2::", &["state/trail.rs"]),
        ("png::", &["notify/chart.rs"]),
        ("hashbrown::", &["evaluate/waittime/row.rs"]),
    ];
    let all = files();
    for (krate, allowed) in owners {
        let users: Vec<String> = all
            .iter()
            .filter(|(_, text)| text.contains(krate))
            .map(|(path, _)| path.strip_prefix(src()).unwrap().display().to_string())
            .collect();
        assert!(!users.is_empty(), "nothing uses {krate}: update this list");
        for user in users {
            assert!(
                allowed.iter().any(|a| user.starts_with(a)),
                "{user} uses {krate}, which only {allowed:?} may know"
            );
        }
    }
}
