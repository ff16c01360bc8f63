//! Who may read the HTTP listener, and over what: HTTP basic
//! authentication against bcrypt hashes (`[daemon.web] basic_auth_users`,
//! the convention of Prometheus's web configuration) and TLS with a
//! certificate and key (`tls_cert_file`, `tls_key_file`). The only module
//! that knows bcrypt, base64 and tokio-rustls.
//!
//! `/healthz` stays open (a load balancer's probe); everything else needs
//! a user when users are configured. A refusal says only "authentication
//! required": nothing about the configuration, the users or why.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;

/// The users allowed in: name → bcrypt hash.
#[derive(Debug, Clone, Default)]
pub struct Users(Arc<BTreeMap<String, String>>);

impl Users {
    pub fn new(users: BTreeMap<String, String>) -> Users {
        Users(Arc::new(users))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the `Authorization` header names a user with the right
    /// password. bcrypt is slow by design, so it runs off the async
    /// workers.
    async fn allows(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        let Some(hash) = self.0.get(&user).cloned() else {
            return false;
        };
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }
}

/// The user and password of a `Basic` `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Middleware: lets `/healthz` and, with no users configured, everything
/// through; otherwise asks for a user.
pub async fn require_user(State(users): State<Users>, request: Request, next: Next) -> Response {
    if users.is_empty() || request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    if users.allows(request.headers()).await {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                "Basic realm=\"accesswatch\", charset=\"UTF-8\"",
            ),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        "authentication required\n",
    )
        .into_response()
}

/// The rustls server configuration of a PEM certificate chain and key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .with_context(|| {
            format!(
                "reading the certificate chain {} ([daemon.web] tls_cert_file): it must be PEM",
                cert.display()
            )
        })?;
    anyhow::ensure!(
        !chain.is_empty(),
        "{} holds no certificate ([daemon.web] tls_cert_file)",
        cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "reading the private key {} ([daemon.web] tls_key_file): it must be a PEM key",
            key.display()
        )
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("choosing TLS versions")?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .context("the certificate and key of [daemon.web] do not go together")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// How long a client has to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// A TLS listener for axum: connections are accepted and their handshakes
/// done on tasks of their own, so a slow or silent client never holds up
/// the others; failed handshakes are dropped.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (send, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let Ok((stream, address)) = tcp.accept().await else {
                    // Out of file descriptors and the like: breathe.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let (acceptor, sender) = (acceptor.clone(), send.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await
                    {
                        let _ = sender.send((tls, address)).await;
                    }
                });
                if send.is_closed() {
                    return;
                }
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task has ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read_from_the_header() {
        let header_of = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode("dana:s3cret:x");
        assert_eq!(
            basic_credentials(&header_of(&format!("Basic {encoded}"))),
            Some(("dana".to_owned(), "s3cret:x".to_owned()))
        );
        assert_eq!(basic_credentials(&header_of("Bearer abc")), None);
        assert_eq!(basic_credentials(&header_of("Basic !!!")), None);
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
    }
}
