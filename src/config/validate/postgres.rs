//! `[[source]]` of kind "postgres": validating `[source.postgres]`.
//!
//! Every key is checked and every problem reported; the password is read
//! here (like every secret) so that `check-config` proves it can be read.
//! Whether the server answers is left to the first fetch.

use std::ops::Range;
use std::time::Duration;

use super::Validator;
use crate::config::Probe;
use crate::config::raw::*;
use crate::config::raw_postgres::RawPostgres;
use crate::source::postgres::{Param, PostgresSpec, Tls};

pub(super) fn postgres(
    v: &mut Validator,
    raw: &RawSource,
    span: &Range<usize>,
) -> Option<PostgresSpec> {
    keys_of_other_kinds(v, raw);
    let Some(pg) = &raw.postgres else {
        if !v.broken.contains("postgres") {
            v.problem(
                span.clone(),
                "missing table [source.postgres] for kind = \"postgres\": add one with \
                 `host`, `dbname`, `user` and `query`",
            );
        }
        return None;
    };
    let host = text(v, &pg.host, span, "host");
    let dbname = text(v, &pg.dbname, span, "dbname");
    let user = text(v, &pg.user, span, "user");
    let port = match &pg.port {
        None => 5432,
        Some(port) => u16::try_from(*port.get_ref())
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or_else(|| {
                v.problem(port.span(), "`port` must be between 1 and 65535");
                5432
            }),
    };
    if let (Some(host), Some(raw_host)) = (&host, &pg.host) {
        v.probe(
            raw_host.span(),
            Probe::Database {
                host: host.clone(),
                port,
            },
        );
    }
    let password = v.secret(
        "password",
        pg.password.as_ref(),
        &pg.password_file,
        &pg.password_env,
        &pg.password_credential,
    );
    let tls = tls_mode(v, pg.tls.as_ref());
    let ca_file = ca_file(v, pg, tls);
    let connect_timeout = v.duration(
        &pg.connect_timeout,
        "connect_timeout",
        Duration::from_secs(10),
    );
    let statement_timeout = statement_timeout(v, pg);
    let query = text(v, &pg.query, span, "query");
    let params = params(v, pg);
    Some(PostgresSpec {
        host: host?,
        port,
        dbname: dbname?,
        user: user?,
        password,
        tls,
        ca_file,
        connect_timeout,
        statement_timeout,
        query: query?,
        params: params?,
        pushdown: pg.pushdown.as_ref().is_none_or(|p| *p.get_ref()),
    })
}

/// A required, non-blank string of `[source.postgres]`.
fn text(
    v: &mut Validator,
    value: &Option<S<String>>,
    span: &Range<usize>,
    key: &str,
) -> Option<String> {
    let value = v.required(value, span, &format!("`{key}` in [source.postgres]"))?;
    v.non_empty(value, key)
}

/// `[[source]]` keys that mean nothing to a query: reported rather than
/// silently ignored. `connect_timeout` and `ca_file` exist for postgres
/// too, but under `[source.postgres]`.
fn keys_of_other_kinds(v: &mut Validator, raw: &RawSource) {
    let moved = [
        ("connect_timeout", &raw.connect_timeout),
        ("ca_file", &raw.ca_file),
    ];
    for (key, value) in moved {
        if let Some(value) = value {
            v.problem(
                value.span(),
                format!(
                    "`{key}` of a postgres source belongs under [source.postgres]; move it there"
                ),
            );
        }
    }
    let unused = [
        ("path", &raw.path),
        ("url", &raw.url),
        ("format", &raw.format),
        ("records", &raw.records),
        ("csv_delimiter", &raw.csv_delimiter),
        ("timeout", &raw.timeout),
        ("retry_backoff", &raw.retry_backoff),
        ("max_body_size", &raw.max_body_size),
        ("bearer_token_file", &raw.bearer_token_file),
        ("bearer_token_env", &raw.bearer_token_env),
        ("bearer_token_credential", &raw.bearer_token_credential),
    ];
    for (key, value) in unused {
        if let Some(value) = value {
            v.problem(
                value.span(),
                format!("`{key}` does not apply to kind = \"postgres\"; remove it"),
            );
        }
    }
    if let Some(retries) = &raw.retries {
        v.problem(
            retries.span(),
            "`retries` does not apply to kind = \"postgres\"; remove it",
        );
    }
}

fn ca_file(v: &mut Validator, pg: &RawPostgres, tls: Tls) -> Option<std::path::PathBuf> {
    let value = pg.ca_file.as_ref()?;
    if tls != Tls::VerifyFull {
        v.problem(
            value.span(),
            format!(
                "`ca_file` is only used with tls = \"verify-full\" (this source has tls = \"{}\"): \
                 remove it or set tls = \"verify-full\"",
                tls.as_str()
            ),
        );
        return None;
    }
    let path = v.path(value.get_ref());
    match std::fs::read(&path) {
        Ok(_) => Some(path),
        Err(e) => {
            v.problem(value.span(), format!("`ca_file` {}: {e}", path.display()));
            None
        }
    }
}

/// PostgreSQL counts `statement_timeout` in whole milliseconds, at most
/// 2^31 - 1 of them.
fn statement_timeout(v: &mut Validator, pg: &RawPostgres) -> Duration {
    let default = Duration::from_secs(60);
    let timeout = v.duration(&pg.statement_timeout, "statement_timeout", default);
    let Some(value) = &pg.statement_timeout else {
        return timeout;
    };
    if timeout < Duration::from_millis(1) || timeout.as_millis() > i32::MAX as u128 {
        v.problem(
            value.span(),
            "`statement_timeout` must be between 1ms and 24 days",
        );
        return default;
    }
    timeout
}

fn params(v: &mut Validator, pg: &RawPostgres) -> Option<Vec<Param>> {
    let Some(list) = &pg.params else {
        return Some(Vec::new());
    };
    let mut params = Vec::new();
    let mut valid = true;
    for (index, value) in list.get_ref().iter().enumerate() {
        let param = match value.get_ref().as_str() {
            "window_start" => Param::WindowStart,
            "as_of" => Param::AsOf,
            other => match other.strip_prefix("text:") {
                Some(literal) => Param::Text(literal.to_owned()),
                None => {
                    v.problem(
                        value.span(),
                        format!(
                            "`params` entry {other:?} (${}) is not a parameter: use \
                             \"window_start\" (the evaluation time minus 30 days), \"as_of\" \
                             (the evaluation time) or \"text:\" followed by a literal value",
                            index + 1
                        ),
                    );
                    valid = false;
                    continue;
                }
            },
        };
        params.push(param);
    }
    valid.then_some(params)
}

/// `tls`: `disable`, `require` or `verify-full` (the default), for a
/// PostgreSQL source and the PostgreSQL state alike.
pub(super) fn tls_mode(v: &mut Validator, raw: Option<&S<String>>) -> Tls {
    raw.and_then(|t| {
        v.choice(
            t,
            "tls",
            &[
                ("disable", Tls::Disable),
                ("require", Tls::Require),
                ("verify-full", Tls::VerifyFull),
            ],
        )
    })
    .unwrap_or(Tls::VerifyFull)
}
