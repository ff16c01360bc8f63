//! `[state]`: the state store on PostgreSQL, shared by the nodes of a pair.
//!
//! `url` names the server, port, database and user
//! (`postgres://USER@HOST:PORT/DBNAME`); the password comes, like every
//! secret, from `password_file`, `password_env` or `password_credential`,
//! never from the URL. `tls`, `ca_file`, `connect_timeout` and
//! `statement_timeout` are those of a PostgreSQL source. `node` names this
//! daemon among the nodes (default: the host name) and `lease_ttl` is how
//! long a leader that stopped renewing keeps the lease (default 30s).

use std::time::Duration;

use super::Validator;
use crate::config::Probe;
use crate::config::load::Entry;
use crate::config::raw::RawState;
use crate::pg::{Target, Tls};
use crate::state::{Location, PostgresState};

const URL_FORM: &str = "write it as \"postgres://USER@HOST:5432/DBNAME\"";

pub(super) fn state(v: &mut Validator, entry: &Entry<RawState>) -> Option<Location> {
    let raw = &entry.value;
    let Some(url) = &raw.url else {
        v.problem(
            entry.span.clone(),
            format!(
                "[state] needs `url`, the PostgreSQL database the nodes share ({URL_FORM}); \
                 without [state] the state is the SQLite file in [daemon] state_directory"
            ),
        );
        return None;
    };
    let parsed = url::Url::parse(url.get_ref()).ok();
    let (host, port, user, dbname) = match parsed.as_ref().and_then(parts) {
        Some(parts) => parts,
        None => {
            v.problem(
                url.span(),
                format!("[state] `url` is not a PostgreSQL URL: {URL_FORM}"),
            );
            return None;
        }
    };
    let parsed = parsed?;
    if parsed.password().is_some() {
        v.problem(
            url.span(),
            "[state] `url` holds a password: remove it from the URL and give it with \
             password_file, password_env or password_credential",
        );
    }
    if parsed.query().is_some() {
        v.problem(
            url.span(),
            "[state] `url` takes no options after `?`: set `tls`, `ca_file`, `connect_timeout` \
             and `statement_timeout` as keys of [state]",
        );
    }
    v.probe(
        url.span(),
        Probe::Database {
            host: host.clone(),
            port,
        },
    );
    let password = v.secret(
        "password",
        raw.password.as_ref(),
        &raw.password_file,
        &raw.password_env,
        &raw.password_credential,
    );
    let tls = super::postgres::tls_mode(v, raw.tls.as_ref());
    let ca_file = raw.ca_file.as_ref().and_then(|value| {
        if tls != Tls::VerifyFull {
            v.problem(
                value.span(),
                "[state] `ca_file` is only used with tls = \"verify-full\": remove it or set tls = \"verify-full\"",
            );
            return None;
        }
        let path = v.path(value.get_ref());
        match std::fs::read(&path) {
            Ok(_) => Some(path),
            Err(e) => {
                v.problem(value.span(), format!("[state] `ca_file` {}: {e}", path.display()));
                None
            }
        }
    });
    let connect_timeout = v.duration(
        &raw.connect_timeout,
        "connect_timeout",
        Duration::from_secs(10),
    );
    let statement_timeout = v.duration(
        &raw.statement_timeout,
        "statement_timeout",
        Duration::from_secs(30),
    );
    if let Some(value) = &raw.statement_timeout
        && statement_timeout.as_millis() > i32::MAX as u128
    {
        v.problem(
            value.span(),
            "`statement_timeout` must be between 1ms and 24 days",
        );
    }
    let lease_ttl = v.duration(&raw.lease_ttl, "lease_ttl", Duration::from_secs(30));
    if let Some(value) = &raw.lease_ttl
        && !(Duration::from_secs(3)..=Duration::from_secs(3600)).contains(&lease_ttl)
    {
        v.problem(
            value.span(),
            "`lease_ttl` must be between 3s and 1h: the leader renews its lease every third of it",
        );
    }
    let node = match &raw.node {
        Some(node) => v.non_empty(node, "node")?,
        None => default_node(),
    };
    Some(Location::Postgres(PostgresState {
        target: Target {
            host,
            port,
            dbname,
            user,
            password,
            tls,
            ca_file,
            connect_timeout,
        },
        statement_timeout,
        node,
        lease_ttl,
    }))
}

/// Host, port, user and database of a `postgres://` URL.
fn parts(url: &url::Url) -> Option<(String, u16, String, String)> {
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return None;
    }
    let host = url.host_str().filter(|h| !h.is_empty())?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let user = percent(url.username())?;
    let dbname = percent(url.path().trim_start_matches('/'))?;
    if user.is_empty() || dbname.is_empty() || dbname.contains('/') {
        return None;
    }
    Some((host, url.port().unwrap_or(5432), user, dbname))
}

fn percent(text: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// This host's name, which names the node unless `node` does: from
/// /etc/hostname (readable under the unit's sandbox, where `ProcSubset=pid`
/// hides /proc/sys), else the kernel's.
fn default_node() -> String {
    ["/etc/hostname", "/proc/sys/kernel/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|h| h.trim().to_owned())
        .find(|h| !h.is_empty())
        .unwrap_or_else(|| "accesswatch".to_owned())
}
