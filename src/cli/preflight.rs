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
