//! What `check-config` checks beyond the text: warnings about what would
//! only fail at run time (a file that does not exist, a host name that does
//! not resolve, a database that does not answer), and with `--connect` one
//! try of every source and of the mail server. IO, at the edge; the
//! configuration says what to look at (`Config::probes`).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, Probe};

/// How long one name lookup or connection may take before it is reported.
const PATIENCE: Duration = Duration::from_secs(5);

/// One `FILE:LINE:COL: warning: …` line per probe that fails, in the
/// order of the file; the probes run concurrently, so a slow resolver
/// costs its timeout once.
pub async fn warnings(config: &Config) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, located) in config.probes.iter().enumerate() {
        let located = located.clone();
        tasks.spawn(async move {
            let problem = look(&located.probe).await;
            (
                index,
                problem.map(|p| format!("{}: warning: {p}", located.at)),
            )
        });
    }
    let mut found = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok((index, Some(line))) = done {
            found.push((index, line));
        }
    }
    found.sort();
    found.into_iter().map(|(_, line)| line).collect()
}

async fn look(probe: &Probe) -> Option<String> {
    match probe {
        Probe::Credential { key, name } => {
            let (path, from) = match credential_paths(&unit_files()).remove(name) {
                Some(path) => (path, "the installed unit's LoadCredential="),
                None => (
                    format!("{CREDENTIALS}/{name}"),
                    "the packaged unit's convention; add LoadCredential= for it",
                ),
            };
            Some(format!(
                "{key}: credential `{name}` not checked: outside systemd there is no \
                 $CREDENTIALS_DIRECTORY; the service loads it from {path} ({from}); check it \
                 with `accesswatch check-config --credentials-directory {}`",
                path.rsplit_once('/').map_or(CREDENTIALS, |(dir, _)| dir)
            ))
        }
        Probe::File(path) => match tokio::fs::metadata(path).await {
            Ok(_) => None,
            Err(e) => Some(format!(
                "{} cannot be read now ({e}); runs will find this source unavailable until it exists",
                path.display()
            )),
        },
        Probe::Host { host, port } => resolve(host, *port)
            .await
            .err()
            .map(|e| format!("host {host:?} does not resolve ({e}): check its spelling")),
        Probe::Database { host, port } => {
            if let Err(e) = resolve(host, *port).await {
                return Some(format!(
                    "host {host:?} does not resolve ({e}): check its spelling"
                ));
            }
            let connect = tokio::net::TcpStream::connect((host.as_str(), *port));
            match tokio::time::timeout(PATIENCE, connect).await {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(format!(
                    "the database at {host}:{port} does not answer ({e}): check `host`, `port` and that the server is running"
                )),
                Err(_) => Some(format!(
                    "the database at {host}:{port} did not answer within {} s: check `host`, `port` and the firewall",
                    PATIENCE.as_secs()
                )),
            }
        }
    }
}

/// Where the packaged unit loads credentials from.
const CREDENTIALS: &str = "/etc/accesswatch/credentials";

/// The texts of the installed unit and its drop-ins, in the order systemd
/// reads them (later lines win).
fn unit_files() -> Vec<String> {
    let mut paths: Vec<std::path::PathBuf> = [
        "/usr/lib/systemd/system/accesswatch.service",
        "/lib/systemd/system/accesswatch.service",
        "/etc/systemd/system/accesswatch.service",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .collect();
    if let Ok(entries) = std::fs::read_dir("/etc/systemd/system/accesswatch.service.d") {
        let mut drop_ins: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        drop_ins.sort();
        paths.extend(drop_ins);
    }
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

/// Credential name → path of the `LoadCredential=NAME:PATH` lines of
/// `units` (later ones win; an empty `LoadCredential=` clears the list,
/// as systemd does). Pure.
pub fn credential_paths(units: &[String]) -> std::collections::BTreeMap<String, String> {
    let mut paths = std::collections::BTreeMap::new();
    for line in units.iter().flat_map(|text| text.lines()) {
        let Some(value) = line.trim().strip_prefix("LoadCredential=") else {
            continue;
        };
        match value.split_once(':') {
            Some((name, path)) if !name.is_empty() => {
                paths.insert(name.trim().to_owned(), path.trim().to_owned());
            }
            _ if value.trim().is_empty() => paths.clear(),
            _ => {}
        }
    }
    paths
}

async fn resolve(host: &str, port: u16) -> Result<(), String> {
    match tokio::time::timeout(PATIENCE, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(mut addresses)) => addresses
            .next()
            .map(|_| ())
            .ok_or_else(|| "no address".to_owned()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", PATIENCE.as_secs())),
    }
}

/// `--connect`: one line per source and one for the mail server, each
/// "ok" or "FAILED" with why; whether all succeeded.
pub async fn connect(config: &Config, now: DateTime<Utc>) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut all_ok = true;
    for spec in &config.sources {
        let fetched = crate::source::fetch(spec, now, config.daemon.time_zone, None).await;
        match fetched {
            Ok(table) => lines.push(format!(
                "source {}: ok, {} {}",
                spec.id,
                table.rows.len(),
                if table.rows.len() == 1 { "row" } else { "rows" }
            )),
            Err(e) => {
                all_ok = false;
                lines.push(format!("source {}: FAILED: {e:#}", spec.id));
            }
        }
    }
    let mail = match crate::notify::mail::Mailer::new(&config.email) {
        Ok(mailer) => mailer
            .check()
            .await
            .map(|done| format!("email {}: ok, {done}", mailer.describe()))
            .map_err(|e| format!("email {}: FAILED: {e:#}", mailer.describe())),
        Err(e) => Err(format!("email: FAILED: {e:#}")),
    };
    match mail {
        Ok(line) => lines.push(line),
        Err(line) => {
            all_ok = false;
            lines.push(line);
        }
    }
    (lines, all_ok)
}

#[cfg(test)]
mod tests {
    use super::credential_paths;

    #[test]
    fn load_credential_lines_name_their_paths() {
        let unit = "[Service]\nLoadCredential=smtp-password:/etc/accesswatch/credentials/smtp-password\n\
                    SetCredential=smtp-password:\\n\nLoadCredential=token:/etc/a/token\n";
        let drop_in = "[Service]\nLoadCredential=\nLoadCredential=token:/srv/secrets/token\n";
        let paths = credential_paths(&[unit.to_owned()]);
        assert_eq!(
            paths["smtp-password"],
            "/etc/accesswatch/credentials/smtp-password"
        );
        assert_eq!(paths["token"], "/etc/a/token");
        let paths = credential_paths(&[unit.to_owned(), drop_in.to_owned()]);
        assert_eq!(paths.len(), 1, "an empty LoadCredential= clears the list");
        assert_eq!(paths["token"], "/srv/secrets/token");
    }
}
