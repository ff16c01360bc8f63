//! Stage one of `[source.postgres]`: the keys of sources of kind "postgres".
//!
//! Mirrors the table exactly; `tls` and the `params` names stay strings so
//! that stage two can list the allowed values when one is wrong.

use serde::Deserialize;

use super::raw::S;

#[derive(Debug, Default, Deserialize)]
pub struct RawPostgres {
    pub host: Option<S<String>>,
    pub port: Option<S<i64>>,
    pub dbname: Option<S<String>>,
    pub user: Option<S<String>>,
    /// Refused in stage two: a password never sits in the file.
    pub password: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_credential: Option<S<String>>,
    pub tls: Option<S<String>>,
    pub ca_file: Option<S<String>>,
    pub connect_timeout: Option<S<String>>,
    pub statement_timeout: Option<S<String>>,
    pub query: Option<S<String>>,
    pub params: Option<S<Vec<S<String>>>>,
    /// Whether the source's wait-time checks are pushed down, unless a
    /// check says otherwise.
    pub pushdown: Option<S<bool>>,
}
