//! PostgreSQL connections, the only module besides `source::postgres`
//! that knows tokio-postgres: connecting with TLS (`disable`, `require`,
//! `verify-full` through rustls with the ring provider), errors that name
//! `user@host:port/dbname` (never the password) and say what to change,
//! and [`Blocking`], the synchronous client the state store runs its
//! transactions on.
//!
//! The state store's code is synchronous (it is called from async tasks
//! and from the command line alike, as SQLite's is). tokio-postgres is
//! async, and the sync `postgres` crate would start a runtime inside the
//! daemon's (which panics), so [`Blocking`] owns one thread with a runtime
//! of its own and the connection; each call sends its statement there and
//! waits for the answer, blocking its caller as a SQLite write does.
//! `source::postgres` keeps what is about running a query and reading its
//! column types.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Socket};

use crate::check::Secret;

/// Server messages longer than this are cut (with "…").
pub const MAX_SERVER_MESSAGE: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Disable,
    /// Encrypted, without checking the server's certificate.
    Require,
    /// Encrypted, and the certificate must be valid for `host`.
    VerifyFull,
}

impl Tls {
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::Disable => "disable",
            Tls::Require => "require",
            Tls::VerifyFull => "verify-full",
        }
    }
}

/// Where to connect and how.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    /// `None` for servers that trust the client (trust, peer, certificate).
    pub password: Option<Secret>,
    pub tls: Tls,
    /// Extra CA certificates (PEM) for `verify-full`.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
}

impl Target {
    /// `user@host:port/dbname` (no credentials), for errors and `status`.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }
}

pub async fn connect(target: &Target) -> anyhow::Result<Client> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .dbname(&target.dbname)
        .user(&target.user)
        .application_name("accesswatch")
        .connect_timeout(target.connect_timeout);
    if let Some(password) = &target.password {
        config.password(password.expose());
    }
    let connecting = async {
        match target.tls {
            Tls::Disable => open(config.ssl_mode(SslMode::Disable), NoTls).await,
            Tls::Require | Tls::VerifyFull => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(target)?);
                open(config.ssl_mode(SslMode::Require), tls).await
            }
        }
        .map_err(|e| connect_error(target, &e))
    };
    // tokio-postgres bounds the TCP connect only; this bounds TLS and
    // authentication too.
    tokio::time::timeout(target.connect_timeout, connecting)
        .await
        .map_err(|_| {
            anyhow!(
                "cannot connect to postgres {}: no answer within connect_timeout = {}",
                target.describe(),
                humantime::format_duration(target.connect_timeout)
            )
        })?
}

/// Connects and drives the connection in a task of its own, which ends
/// when the client is dropped.
async fn open<T>(config: &tokio_postgres::Config, tls: T) -> Result<Client, tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn client_config(target: &Target) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match target.tls {
        Tls::VerifyFull => {
            let extra = match &target.ca_file {
                Some(path) => read_ca_file(path)?,
                None => Vec::new(),
            };
            Arc::new(
                rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                    .context("loading the system's CA certificates")?,
            )
        }
        _ => Arc::new(EncryptOnly(provider.clone())),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // PostgreSQL 17 checks the protocol name when the client sends one.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(config)
}

fn read_ca_file(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            anyhow!(
                "ca_file {} is not a readable PEM bundle: {e}",
                path.display()
            )
        })?;
    if certificates.is_empty() {
        anyhow::bail!("ca_file {} holds no certificate", path.display());
    }
    Ok(certificates)
}

/// `tls = "require"`: the connection is encrypted and the handshake is
/// signed, but any certificate is taken (like libpq's `sslmode=require`).
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An error while connecting or authenticating, with what to change.
fn connect_error(target: &Target, error: &tokio_postgres::Error) -> anyhow::Error {
    let target = target.describe();
    if let Some(db) = error.as_db_error() {
        let message = cut(db.message());
        return match *db.code() {
            SqlState::INVALID_PASSWORD => anyhow!(
                "password authentication failed for postgres {target}: check the password \
                 (password_file, password_env or password_credential) and `user`"
            ),
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION => anyhow!(
                "postgres {target} refused the connection ({message}): check `user`, `tls` and \
                 the server's pg_hba.conf"
            ),
            SqlState::INVALID_CATALOG_NAME => {
                anyhow!(
                    "postgres {target}: the database does not exist ({message}): check `dbname`"
                )
            }
            _ => anyhow!("cannot connect to postgres {target}: {message}"),
        };
    }
    let chain = error_chain(error);
    let advice = if chain.contains("server does not support TLS") {
        "; the server does not accept TLS: enable ssl on the server, or set tls = \"disable\" \
         on a network you trust"
    } else if chain.contains("certificate") {
        "; the server's certificate was not accepted: set ca_file to the CA that signed it, or \
         tls = \"require\" to encrypt without checking the certificate"
    } else if chain.contains("password missing") {
        "; the server asks for a password: set password_file, password_env or \
         password_credential"
    } else if chain.starts_with("error connecting to server") {
        "; check `host`, `port` and that the server is running"
    } else {
        ""
    };
    anyhow!("cannot connect to postgres {target}: {chain}{advice}")
}

/// The error's message and its causes, joined by ": ".
pub fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    cut(&text)
}

pub fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_SERVER_MESSAGE) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}

/// A value bound to, or read from, a statement of the state store.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    /// Integers and booleans (0 or 1).
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        // The server infers each parameter's type from the statement; the
        // value is written in that type.
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(n) => match *ty {
                Type::BOOL => (*n != 0).to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            SqlValue::Real(x) => x.to_sql(ty, out),
            SqlValue::Text(text) => text.as_str().to_sql(ty, out),
            SqlValue::Bytes(bytes) => bytes.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for SqlValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(match *ty {
            Type::BOOL => SqlValue::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::INT2 => SqlValue::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => SqlValue::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => SqlValue::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => SqlValue::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => SqlValue::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => SqlValue::Bytes(raw.to_vec()),
            Type::JSONB => {
                SqlValue::Text(std::str::from_utf8(raw.get(1..).unwrap_or_default())?.to_owned())
            }
            _ => SqlValue::Text(std::str::from_utf8(raw)?.to_owned()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(SqlValue::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// What [`Blocking`] asks its thread to do.
enum Request {
    /// Connects if not connected, then sends this (`BEGIN …`).
    Begin(String),
    Query(String, Vec<SqlValue>),
    /// Statements without parameters, in one round trip.
    Batch(String),
    Commit,
    Rollback,
}

type Reply = std::sync::mpsc::Sender<anyhow::Result<(Vec<Vec<SqlValue>>, u64)>>;

/// A synchronous client on a thread of its own (see the module's
/// documentation). It connects when a transaction begins and the
/// connection is gone (at start, or after an outage), and never runs a
/// statement of a transaction on a connection other than the one that
/// began it: a connection lost mid-transaction fails the transaction.
pub struct Blocking {
    requests: std::sync::Mutex<std::sync::mpsc::Sender<(Request, Reply)>>,
    target: Target,
}

impl std::fmt::Debug for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blocking({})", self.target.describe())
    }
}

impl Blocking {
    /// Starts the client's thread; `session` is run on every new
    /// connection; each statement is bounded by `statement_timeout` (on the
    /// server, and by the client with ten seconds more).
    pub fn start(
        target: Target,
        session: String,
        statement_timeout: Duration,
    ) -> anyhow::Result<Blocking> {
        let (sender, receiver) = std::sync::mpsc::channel::<(Request, Reply)>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the PostgreSQL client's runtime")?;
        let worker = Worker {
            target: target.clone(),
            session: format!(
                "SET statement_timeout = {}; {session}",
                statement_timeout.as_millis().max(1)
            ),
            bound: target.connect_timeout + statement_timeout + Duration::from_secs(10),
            client: None,
        };
        std::thread::Builder::new()
            .name("accesswatch-pg".to_owned())
            .spawn(move || runtime.block_on(worker.serve(receiver)))
            .context("starting the PostgreSQL client's thread")?;
        Ok(Blocking {
            requests: std::sync::Mutex::new(sender),
            target,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    fn call(&self, request: Request) -> anyhow::Result<(Vec<Vec<SqlValue>>, u64)> {
        let (reply, answer) = std::sync::mpsc::channel();
        self.requests
            .lock()
            .map_err(|_| anyhow!("the PostgreSQL client's lock was poisoned"))?
            .send((request, reply))
            .map_err(|_| anyhow!("the PostgreSQL client's thread has stopped"))?;
        answer
            .recv()
            .map_err(|_| anyhow!("the PostgreSQL client's thread has stopped"))?
    }

    /// Begins a transaction with `sql` (`BEGIN …`, and statements to run
    /// first), connecting first if needed.
    pub fn begin(&self, sql: &str) -> anyhow::Result<()> {
        self.call(Request::Begin(sql.to_owned())).map(|_| ())
    }

    pub fn commit(&self) -> anyhow::Result<()> {
        self.call(Request::Commit).map(|_| ())
    }

    pub fn rollback(&self) -> anyhow::Result<()> {
        self.call(Request::Rollback).map(|_| ())
    }

    /// Runs statements without parameters (a migration).
    pub fn batch(&self, sql: &str) -> anyhow::Result<()> {
        self.call(Request::Batch(sql.to_owned())).map(|_| ())
    }

    /// The rows `sql` returns, and the number of rows it changed.
    pub fn query(
        &self,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> anyhow::Result<(Vec<Vec<SqlValue>>, u64)> {
        self.call(Request::Query(sql.to_owned(), params))
    }
}

struct Worker {
    target: Target,
    session: String,
    bound: Duration,
    client: Option<Client>,
}

impl Worker {
    async fn serve(mut self, requests: std::sync::mpsc::Receiver<(Request, Reply)>) {
        // The receiver is synchronous: this thread has nothing else to do
        // while it waits, and the connection's task runs while a request
        // is being answered (the only time it has work).
        while let Ok((request, reply)) = requests.recv() {
            let answer = self.answer(request).await;
            let _ = reply.send(answer);
        }
    }

    async fn answer(&mut self, request: Request) -> anyhow::Result<(Vec<Vec<SqlValue>>, u64)> {
        if matches!(request, Request::Begin(_))
            && self.client.as_ref().is_none_or(Client::is_closed)
        {
            self.client = None;
            let client = connect(&self.target).await?;
            self.bounded(client.batch_execute(&self.session)).await?;
            self.client = Some(client);
        }
        let ends = matches!(request, Request::Commit | Request::Rollback);
        let Some(client) = self.client.as_ref() else {
            return Err(anyhow!(
                "lost the connection to postgres {} during a transaction; nothing of it was committed",
                self.target.describe()
            ));
        };
        let work = async {
            match request {
                Request::Begin(sql) => client.batch_execute(&sql).await.map(|()| (Vec::new(), 0)),
                Request::Commit => client
                    .batch_execute("COMMIT")
                    .await
                    .map(|()| (Vec::new(), 0)),
                Request::Rollback => client
                    .batch_execute("ROLLBACK")
                    .await
                    .map(|()| (Vec::new(), 0)),
                Request::Batch(sql) => client.batch_execute(&sql).await.map(|()| (Vec::new(), 0)),
                Request::Query(sql, params) => query(client, &sql, &params).await,
            }
        };
        let outcome = tokio::time::timeout(self.bound, work).await;
        let closed = client.is_closed();
        match outcome {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                // A failed COMMIT or ROLLBACK leaves the session in a state
                // nobody knows; a new transaction starts on a new one.
                if closed || ends {
                    self.client = None;
                }
                Err(state_error(&self.target, &error))
            }
            Err(_) => {
                self.client = None;
                Err(anyhow!(
                    "postgres {}: no answer within {}: the server or the network is stalled",
                    self.target.describe(),
                    humantime::format_duration(self.bound)
                ))
            }
        }
    }

    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.bound, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(state_error(&self.target, &error)),
            Err(_) => Err(anyhow!(
                "postgres {}: no answer within {}: the server or the network is stalled",
                self.target.describe(),
                humantime::format_duration(self.bound)
            )),
        }
    }
}

async fn query(
    client: &Client,
    sql: &str,
    params: &[SqlValue],
) -> Result<(Vec<Vec<SqlValue>>, u64), tokio_postgres::Error> {
    let statement = client.prepare(sql).await?;
    let values: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    if statement.columns().is_empty() {
        let changed = client.execute(&statement, &values).await?;
        return Ok((Vec::new(), changed));
    }
    let rows = client.query(&statement, &values).await?;
    let width = statement.columns().len();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values = Vec::with_capacity(width);
        for index in 0..width {
            values.push(row.try_get::<_, SqlValue>(index)?);
        }
        out.push(values);
    }
    let count = out.len() as u64;
    Ok((out, count))
}

/// An error of a state statement: the server's message (which describes
/// the statement: the state store's own SQL, never a source's data) with
/// its SQLSTATE, cut.
fn state_error(target: &Target, error: &tokio_postgres::Error) -> anyhow::Error {
    match error.as_db_error() {
        Some(db) => anyhow!(
            "postgres {}: {} (SQLSTATE {})",
            target.describe(),
            cut(db.message()),
            db.code().code()
        ),
        None => anyhow!("postgres {}: {}", target.describe(), error_chain(error)),
    }
}
