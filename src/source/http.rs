//! HTTP for sources: the only module that knows reqwest (and rustls's
//! crypto provider). Every HTTP-based source kind (http, fhir, nppes) goes
//! through [`Client`].
//!
//! A request has a connect timeout and a total timeout, follows at most
//! five redirects (a redirect to another origin, scheme, host or port, is
//! followed without any configured header, since those may carry secrets;
//! reqwest itself would strip only `Authorization`), goes through the proxy of `HTTP_PROXY`/`HTTPS_PROXY`/
//! `NO_PROXY`, accepts gzip, and is retried a bounded number of times with
//! exponential back-off on connection errors, timeouts, 429 and 5xx,
//! waiting what `Retry-After` asks on 429 and 503 (up to five minutes). A
//! body is never read past `max_body_size`. GETs remember the `ETag` of
//! each URL and send `If-None-Match`; a 304 reuses the body kept from
//! before. [`Client::get_folded`] hands a body to a fold as it arrives
//! instead of reading it whole (`http` sources, but for wait-time checks
//! with a `time_field`), and
//! FHIR search pages skip the ETag cache ([`Client::get_uncached`]).
//! Error messages name the URL without its query string (which
//! may carry an API key) and never include a header value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, HeaderName, HeaderValue, IF_NONE_MATCH, LAST_MODIFIED,
    RETRY_AFTER,
};

use crate::source::spec::{HttpOptions, HttpSpec};

/// Installs the ring crypto provider for rustls; call once at start-up,
/// before any HTTP client or SMTP TLS connection is made.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Arc<Vec<u8>>,
    pub content_type: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    pub etag: Option<String>,
}

/// `scheme://host:port/path`, without credentials or query.
pub fn display_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    let had_query = shown.query().is_some();
    shown.set_query(None);
    shown.set_fragment(None);
    if had_query {
        format!("{shown}?…")
    } else {
        shown.to_string()
    }
}

struct Attempt {
    error: anyhow::Error,
    retryable: bool,
    /// What the server asked for in `Retry-After`.
    retry_after: Option<Duration>,
}

impl Attempt {
    /// The same failure, saying where in the body it came.
    fn at(self, place: &str) -> Attempt {
        Attempt {
            error: self.error.context(format!("reading the body {place}")),
            ..self
        }
    }
}

/// The outcome of a fold task: its own error, or a panic, ends the fetch
/// (a retry would read the same bytes).
fn settle<T>(folded: Result<anyhow::Result<T>, tokio::task::JoinError>) -> Result<T, Attempt> {
    let error = match folded {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(error)) => error,
        Err(panic) => anyhow!("reading the body failed: {panic}"),
    };
    Err(Attempt {
        error,
        retryable: false,
        retry_after: None,
    })
}

/// Chunks of a streamed body fetched ahead of the fold reading them.
pub const CHUNKS_AHEAD: usize = 16;

/// The largest streamed body kept in memory for a 304 (see
/// [`Client::get_folded`]).
pub const KEEP_FOR_ETAG: usize = 16 << 20;

/// A streamed request's total timeout, which reqwest would otherwise
/// take from `timeout`: its waits are bounded one by one instead.
const NO_TOTAL_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a folded body's answer said about it.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub content_type: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
}

/// A body arriving in chunks, read as `std::io::Read` on a blocking
/// thread. A failure of the transfer is an I/O error here; the fetch
/// reports the transfer's own error rather than the fold's.
pub struct BodyReader {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl BodyReader {
    fn new(chunks: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>) -> BodyReader {
        BodyReader {
            chunks,
            current: bytes::Bytes::new(),
        }
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.current = chunk?,
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}

/// The longest `Retry-After` honoured; longer requests fail the fetch.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Bodies kept per URL for `If-None-Match`: the process's own cache.
fn etag_cache() -> &'static Mutex<HashMap<String, Response>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Response>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

pub struct Client {
    inner: reqwest::Client,
    /// Like `inner` but without the configured headers: for a redirect
    /// that leaves the origin. `None` when no header is configured.
    bare: Option<reqwest::Client>,
    options: HttpOptions,
}

/// Scheme, host and port: where a configured header may be sent.
fn origin(url: &url::Url) -> (String, Option<String>, Option<u16>) {
    (
        url.scheme().to_owned(),
        url.host_str().map(str::to_owned),
        url.port_or_known_default(),
    )
}

const MAX_REDIRECTS: usize = 5;

/// reqwest follows redirects within the origin of the first URL; with
/// configured headers it stops at one that leaves it, which
/// [`Client::once`] follows with the bare client.
fn redirect_policy(stop_at_other_origins: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if stop_at_other_origins
            && attempt
                .previous()
                .first()
                .is_some_and(|first| origin(first) != origin(attempt.url()))
        {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

impl Client {
    pub fn new(options: &HttpOptions) -> anyhow::Result<Client> {
        let mut headers = HeaderMap::new();
        for header in &options.headers {
            let name = HeaderName::from_bytes(header.name.as_bytes())
                .with_context(|| format!("header name {:?}", header.name))?;
            let mut value = HeaderValue::from_str(header.value.expose()).map_err(|_| {
                anyhow!(
                    "the value of header {:?} is not a valid header value",
                    header.name
                )
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let secret_headers = !headers.is_empty();
        let inner = client_builder(options)?
            .default_headers(headers)
            .redirect(redirect_policy(secret_headers))
            .build()
            .context("building the HTTP client")?;
        let bare = if secret_headers {
            let bare = client_builder(options)?
                .redirect(redirect_policy(false))
                .build()
                .context("building the HTTP client")?;
            Some(bare)
        } else {
            None
        };
        Ok(Client {
            inner,
            bare,
            options: options.clone(),
        })
    }

    /// A GET of `url` with `accept`, and the body kept for its ETag
    /// (when `cached`).
    fn get_request(
        &self,
        url: &url::Url,
        accept: Option<&str>,
        cached: bool,
    ) -> (reqwest::RequestBuilder, Option<Response>) {
        let mut request = self.inner.get(url.clone());
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        if !cached {
            return (request, None);
        }
        let cached = etag_cache()
            .lock()
            .ok()
            .and_then(|c| c.get(url.as_str()).cloned());
        if let Some(etag) = cached.as_ref().and_then(|c| c.etag.clone()) {
            request = request.header(IF_NONE_MATCH, etag);
        }
        (request, cached)
    }

    /// GET `url` with `accept` as the Accept header, retried as the options
    /// say. A non-2xx answer is an error; a FHIR OperationOutcome in it is
    /// summarised by its issues' severities and codes, never its text.
    pub async fn get(&self, url: &url::Url, accept: Option<&str>) -> anyhow::Result<Response> {
        let response = self
            .retrying("GET", url, || {
                let (request, cached) = self.get_request(url, accept, true);
                self.once(request, cached)
            })
            .await?;
        if response.etag.is_some()
            && let Ok(mut cache) = etag_cache().lock()
        {
            cache.insert(url.to_string(), response.clone());
        }
        Ok(response)
    }

    /// [`Client::get`] without the ETag cache: for the pages of a search,
    /// which are many, seldom fetched twice unchanged, and would all be
    /// kept in memory.
    pub async fn get_uncached(
        &self,
        url: &url::Url,
        accept: Option<&str>,
    ) -> anyhow::Result<Response> {
        self.retrying("GET", url, || {
            let (request, _) = self.get_request(url, accept, false);
            self.once(request, None)
        })
        .await
    }

    /// GET `url` and fold its body as it arrives: `fold` reads it on a
    /// blocking thread (a [`BodyReader`]) while chunks are fetched, at
    /// most [`CHUNKS_AHEAD`] ahead of it, so the body is never held
    /// whole. The cap, gzip, retries and `Retry-After` apply as for
    /// [`Client::get`]; a failure after the body started (the connection
    /// cut, the cap exceeded, a malformed gzip stream) throws that fold
    /// away, and a retry folds from the start into a new one, so no row
    /// is ever counted twice. `timeout` bounds the wait for the answer and
    /// each wait for more of the body, not the whole transfer, which the
    /// cap bounds. A body of at most [`KEEP_FOR_ETAG`] bytes with an ETag
    /// is kept for a 304 as [`Client::get`] keeps it; a larger one is not
    /// kept (and its ETag not sent back), so a large source is fetched
    /// whole each time rather than held in memory between runs.
    pub async fn get_folded<T, F>(&self, url: &url::Url, fold: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: Fn(&Streamed, BodyReader) -> anyhow::Result<T> + Send + Sync + 'static,
    {
        let fold = Arc::new(fold);
        self.retrying("GET", url, || {
            let (request, cached) = self.get_request(url, None, true);
            self.fold_once(request.timeout(NO_TOTAL_TIMEOUT), cached, url, fold.clone())
        })
        .await
    }

    /// POST a form (a token request), with HTTP basic authentication.
    pub async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> anyhow::Result<Response> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        self.retrying("POST", url, || {
            let mut request = self
                .inner
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body.clone());
            if let Some((user, password)) = basic {
                request = request.basic_auth(user, Some(password));
            }
            self.once(request, None)
        })
        .await
    }

    async fn retrying<T, Fut>(
        &self,
        method: &str,
        url: &url::Url,
        mut once: impl FnMut() -> Fut,
    ) -> anyhow::Result<T>
    where
        Fut: Future<Output = Result<T, Attempt>>,
    {
        let shown = display_url(url);
        let mut attempt = 0;
        loop {
            match once().await {
                Ok(response) => return Ok(response),
                Err(failure) if failure.retryable && attempt < self.options.retries => {
                    let delay = failure
                        .retry_after
                        .unwrap_or_else(|| backoff(self.options.retry_backoff, attempt));
                    tracing::debug!(url = %shown, attempt = attempt + 1, delay_ms = delay.as_millis() as u64,
                        error = %format!("{:#}", failure.error), "retrying http request");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(failure) => {
                    let tries = attempt + 1;
                    return Err(failure.error.context(format!(
                        "{method} {shown} failed after {tries} {}",
                        if tries == 1 { "try" } else { "tries" }
                    )));
                }
            }
        }
    }

    /// One attempt of [`Client::get_folded`].
    async fn fold_once<T, F>(
        &self,
        request: reqwest::RequestBuilder,
        cached: Option<Response>,
        url: &url::Url,
        fold: Arc<F>,
    ) -> Result<T, Attempt>
    where
        T: Send + 'static,
        F: Fn(&Streamed, BodyReader) -> anyhow::Result<T> + Send + Sync + 'static,
    {
        let head = tokio::time::timeout(self.options.timeout, self.head(request))
            .await
            .map_err(|_| self.timed_out())??;
        let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        if head.not_modified
            && let Some(cached) = cached
        {
            let streamed = Streamed {
                content_type: cached.content_type.clone(),
                last_modified: cached.last_modified,
            };
            // The channel holds the one chunk; the fold reads it alone.
            let _ = sender.try_send(Ok(bytes::Bytes::copy_from_slice(&cached.body)));
            drop(sender);
            let folded =
                tokio::task::spawn_blocking(move || fold(&streamed, BodyReader::new(receiver)))
                    .await;
            return settle(folded);
        }
        let streamed = Streamed {
            content_type: head.content_type.clone(),
            last_modified: head.last_modified,
        };
        let task = tokio::task::spawn_blocking(move || fold(&streamed, BodyReader::new(receiver)));
        let mut response = head.response;
        let mut kept = head.etag.is_some().then(Vec::new);
        let pumped = self.pump(&mut response, &sender, &mut kept).await;
        if let Err(failure) = &pumped {
            let _ = sender
                .send(Err(std::io::Error::other(format!("{:#}", failure.error))))
                .await;
        }
        drop(sender);
        let folded = task.await;
        let whole = pumped?;
        let folded = settle(folded)?;
        if let (true, Some(etag), Some(body)) = (whole, head.etag, kept)
            && let Ok(mut cache) = etag_cache().lock()
        {
            cache.insert(
                url.to_string(),
                Response {
                    status: response.status().as_u16(),
                    body: Arc::new(body),
                    content_type: head.content_type,
                    last_modified: head.last_modified,
                    etag: Some(etag),
                },
            );
        }
        Ok(folded)
    }

    /// Reads the body chunk by chunk into `sender` (until the fold stops
    /// taking it), keeping a copy in `kept` while it is small enough;
    /// whether it was read to its end.
    async fn pump(
        &self,
        response: &mut reqwest::Response,
        sender: &tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
        kept: &mut Option<Vec<u8>>,
    ) -> Result<bool, Attempt> {
        let (mut bytes, mut lines) = (0u64, 1u64);
        let at = |bytes: u64, lines: u64| format!("after {bytes} bytes, in line {lines}");
        loop {
            let chunk = tokio::time::timeout(self.options.timeout, response.chunk())
                .await
                .map_err(|_| self.timed_out().at(&at(bytes, lines)))?
                .map_err(|e| self.transport(e).at(&at(bytes, lines)))?;
            let Some(chunk) = chunk else {
                return Ok(true);
            };
            if bytes + chunk.len() as u64 > self.options.max_body_size {
                return Err(self.too_big().at(&at(bytes, lines)));
            }
            bytes += chunk.len() as u64;
            lines += memchr::memchr_iter(b'\n', &chunk).count() as u64;
            if let Some(body) = kept {
                if body.len() + chunk.len() <= KEEP_FOR_ETAG {
                    body.extend_from_slice(&chunk);
                } else {
                    *kept = None;
                }
            }
            if sender.send(Ok(chunk)).await.is_err() {
                // The fold stopped (a malformed record): its error says why.
                return Ok(false);
            }
        }
    }

    fn timed_out(&self) -> Attempt {
        Attempt {
            retryable: true,
            error: anyhow!(timeout_text(&self.options)),
            retry_after: None,
        }
    }

    /// Follows a redirect that `inner` stopped at because it leaves the
    /// origin: with the bare client (no configured header), and for a GET
    /// only, since a POST carries a form with secrets of its own; with the
    /// request's own total `timeout` (a streamed GET's), if it has one.
    async fn leave_origin(
        &self,
        response: reqwest::Response,
        method: &reqwest::Method,
        accept: Option<HeaderValue>,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, Attempt> {
        let Some(bare) = &self.bare else {
            return Ok(response);
        };
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| response.url().join(l).ok());
        let Some(location) = location.filter(|_| response.status().is_redirection()) else {
            return Ok(response);
        };
        if origin(&location) == origin(response.url()) {
            return Ok(response);
        }
        if method != reqwest::Method::GET {
            return Err(Attempt {
                retryable: false,
                error: anyhow!(
                    "{method} {} was redirected to another server ({}): not sending the request there; \
                     configure the final URL instead",
                    display_url(response.url()),
                    display_url(&location)
                ),
                retry_after: None,
            });
        }
        let mut request = bare.get(location);
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        request.send().await.map_err(|e| self.transport(e))
    }

    fn transport(&self, e: reqwest::Error) -> Attempt {
        Attempt {
            retryable: e.is_timeout() || e.is_connect() || e.is_request() || cut_off(&e),
            error: anyhow!(describe(&e, &self.options)),
            retry_after: None,
        }
    }

    /// Sends `request` and reads the answer's status and headers: a
    /// failed status is an `Attempt` error (with the start of its body for
    /// an OperationOutcome), a body announced larger than the cap too.
    async fn head(&self, request: reqwest::RequestBuilder) -> Result<Head, Attempt> {
        let transport = |e: reqwest::Error| self.transport(e);
        let request = request.build().map_err(transport)?;
        let method = request.method().clone();
        let accept = request.headers().get(reqwest::header::ACCEPT).cloned();
        let timeout = request.timeout().copied();
        let response = self.inner.execute(request).await.map_err(transport)?;
        let mut response = self
            .leave_origin(response, &method, accept, timeout)
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let not_modified = status == StatusCode::NOT_MODIFIED;
        if !status.is_success() && !not_modified {
            let retry_after = retry_after(
                header(RETRY_AFTER).as_deref(),
                header(reqwest::header::DATE).as_deref(),
            );
            let body = read_body(&mut response, 2048).await.unwrap_or_default();
            return Err(Attempt {
                retryable: status.is_server_error() || status.as_u16() == 429,
                error: anyhow!(status_error(status, &body, header(CONTENT_TYPE).as_deref())),
                retry_after: retry_after.filter(|_| matches!(status.as_u16(), 429 | 503)),
            });
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.options.max_body_size)
        {
            return Err(self.too_big());
        }
        Ok(Head {
            response,
            not_modified,
            content_type: header(CONTENT_TYPE),
            last_modified: header(LAST_MODIFIED)
                .and_then(|v| DateTime::parse_from_rfc2822(&v).ok())
                .map(|t| t.with_timezone(&Utc)),
            etag: header(ETAG),
        })
    }

    fn too_big(&self) -> Attempt {
        Attempt {
            retryable: false,
            error: anyhow!(
                "the response body is larger than max_body_size ({} bytes): raise max_body_size or ask the server for less",
                self.options.max_body_size
            ),
            retry_after: None,
        }
    }

    async fn once(
        &self,
        request: reqwest::RequestBuilder,
        cached: Option<Response>,
    ) -> Result<Response, Attempt> {
        let mut head = self.head(request).await?;
        if head.not_modified
            && let Some(cached) = cached
        {
            return Ok(cached);
        }
        let body = read_body(&mut head.response, self.options.max_body_size)
            .await
            .map_err(|e| match e {
                BodyError::TooBig => self.too_big(),
                BodyError::Transport(e) => self.transport(e),
            })?;
        Ok(Response {
            status: head.response.status().as_u16(),
            body: Arc::new(body),
            content_type: head.content_type,
            last_modified: head.last_modified,
            etag: head.etag,
        })
    }
}

/// A successful answer's head, its body not read yet.
struct Head {
    response: reqwest::Response,
    /// 304: the kept body stands.
    not_modified: bool,
    content_type: Option<String>,
    last_modified: Option<DateTime<Utc>>,
    etag: Option<String>,
}

/// A client builder with `options`' timeouts, user agent and CA bundle.
fn client_builder(options: &HttpOptions) -> anyhow::Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.timeout)
        .user_agent(concat!("accesswatch/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &options.ca_file {
        let pem =
            std::fs::read(path).with_context(|| format!("reading ca_file {}", path.display()))?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("ca_file {} is not a PEM bundle", path.display()))?
        {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder)
}

enum BodyError {
    TooBig,
    Transport(reqwest::Error),
}

async fn read_body(response: &mut reqwest::Response, cap: u64) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(BodyError::TooBig);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` in seconds or as an HTTP date. A date is read against
/// the response's own `Date` (RFC 9110 §10.2.3), so neither clock skew
/// nor our clock matters; without a `Date` it is ignored (the usual
/// back-off applies).
fn retry_after(value: Option<&str>, date: Option<&str>) -> Option<Duration> {
    let value = value?.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let when = DateTime::parse_from_rfc2822(value).ok()?;
            let sent = DateTime::parse_from_rfc2822(date?.trim()).ok()?;
            (when - sent).to_std().unwrap_or(Duration::ZERO)
        }
    };
    (delay <= MAX_RETRY_AFTER).then_some(delay)
}

/// What went wrong, from the status and, for FHIR servers, the
/// OperationOutcome's diagnostics (an error description, not data).
fn status_error(status: StatusCode, body: &[u8], content_type: Option<&str>) -> String {
    let hint = match status.as_u16() {
        401 | 403 => ": check the bearer token, client credentials or header credentials",
        404 => ": check `url`",
        429 => ": the server asks to slow down",
        _ => "",
    };
    let outcome = content_type
        .filter(|c| c.contains("json"))
        .and_then(|_| operation_outcome(body))
        .map(|text| format!(" (OperationOutcome: {text})"))
        .unwrap_or_default();
    format!("the server answered HTTP {status}{hint}{outcome}")
}

/// The issues of a FHIR OperationOutcome: each issue's severity and code
/// with a fixed description of the code. Never the server's own words
/// (`diagnostics`, `details.text`): a server may write a member's name or
/// record number there, and this text reaches emails, reports and the state
/// file. The server's words are logged at debug level only, cut short.
pub fn operation_outcome(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if value.get("resourceType")?.as_str()? != "OperationOutcome" {
        return None;
    }
    let issues: Vec<String> = value
        .get("issue")?
        .as_array()?
        .iter()
        .map(|issue| {
            let field = |k: &str| issue.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let said = issue
                .pointer("/details/text")
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| field("diagnostics"));
            if !said.is_empty() {
                tracing::debug!(
                    diagnostics = %said.chars().take(200).collect::<String>(),
                    "the server's words in an OperationOutcome"
                );
            }
            let severity = match field("severity") {
                s @ ("fatal" | "error" | "warning" | "information") => s,
                _ => "(no severity)",
            };
            let (code, meaning) = issue_type(field("code"));
            format!("{severity} {code}: {meaning}")
        })
        .collect();
    (!issues.is_empty()).then(|| issues.join("; "))
}

/// A FHIR R4 IssueType code and what it means, in our words; a code
/// outside the value set is not repeated.
fn issue_type(code: &str) -> (&str, &'static str) {
    let meaning = match code {
        "invalid" => "the request is invalid",
        "structure" => "the request's structure is invalid",
        "required" => "a required element is missing",
        "value" => "a value is invalid",
        "invariant" => "a validation rule failed",
        "security" => "a security problem",
        "login" => "the client must log in",
        "unknown" => "the user or token is not known",
        "expired" => "the session or token has expired",
        "forbidden" => "the client is not allowed to do this",
        "suppressed" => "some information was withheld",
        "processing" => "the server could not process the request",
        "not-supported" => "the server does not support part of the request",
        "duplicate" => "a duplicate was found",
        "multiple-matches" => "several records matched",
        "not-found" => "something referred to was not found",
        "deleted" => "the resource was deleted",
        "too-long" => "the request or result is too long",
        "code-invalid" => "a code is not valid",
        "extension" => "an extension is not understood",
        "too-costly" => "the search is too costly for the server",
        "business-rule" => "a business rule refused it",
        "conflict" => "an edit conflicted",
        "transient" => "a transient problem",
        "lock-error" => "a lock could not be taken",
        "no-store" => "the server's store is unavailable",
        "exception" => "the server hit an unexpected error",
        "timeout" => "the server timed out",
        "incomplete" => "the results are incomplete",
        "throttled" => "the server is throttling requests",
        "informational" => "information only",
        _ => {
            return (
                "(unknown code)",
                "an issue the FHIR specification does not name",
            );
        }
    };
    (code, meaning)
}

/// `base × 2^attempt`, at most five minutes.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(attempt))
        .min(Duration::from_secs(300))
}

/// GET of a plain `http` source.
pub async fn get(spec: &HttpSpec) -> anyhow::Result<Response> {
    Client::new(&spec.options)?.get(&spec.url, None).await
}

/// Whether the body stopped coming (the connection closed or broke),
/// which reqwest reports as a body error (inside a decoding error when it
/// decompresses); a body error from the decompressor itself (an I/O
/// error in it) is a malformed stream instead, which a retry would only
/// read again.
fn cut_off(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(inner) = source {
        if inner
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_body)
        {
            return !inner
                .source()
                .is_some_and(|cause| cause.is::<std::io::Error>());
        }
        source = inner.source();
    }
    false
}

/// A body that decompression refused (see [`cut_off`]).
fn malformed(error: &reqwest::Error) -> bool {
    (error.is_decode() || error.is_body()) && !cut_off(error)
}

fn timeout_text(options: &HttpOptions) -> String {
    format!(
        "timed out (connect_timeout {}, timeout {}): the server is slow or unreachable; raise `timeout` if it is only slow",
        humantime::format_duration(options.connect_timeout),
        humantime::format_duration(options.timeout)
    )
}

/// reqwest's error without the URL it embeds (we name it ourselves).
fn describe(error: &reqwest::Error, options: &HttpOptions) -> String {
    if error.is_timeout() {
        return timeout_text(options);
    }
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        parts.push(inner.to_string());
        source = inner.source();
    }
    let detail = if parts.is_empty() {
        let mut text = error.to_string();
        if let Some(url) = error.url() {
            text = text.replace(url.as_str(), "");
        }
        text
    } else {
        parts.join(": ")
    };
    if error.is_connect() {
        format!("cannot connect: {detail}")
    } else if error.is_redirect() {
        format!("too many redirects: {detail}")
    } else if malformed(error) {
        format!(
            "the response body could not be decoded (a malformed or cut-off gzip stream?): {detail}"
        )
    } else if cut_off(error) {
        format!("the response body was cut off: {detail}")
    } else {
        detail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_url_hides_query_and_credentials() {
        let url = url::Url::parse("https://user:pw@api.example.org/v1/staff?key=abc#x").unwrap();
        assert_eq!(display_url(&url), "https://api.example.org/v1/staff?…");
        let url = url::Url::parse("http://127.0.0.1:8080/data.csv").unwrap();
        assert_eq!(display_url(&url), "http://127.0.0.1:8080/data.csv");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff(base, 0), Duration::from_millis(100));
        assert_eq!(backoff(base, 3), Duration::from_millis(800));
        assert_eq!(backoff(base, 40), Duration::from_secs(300));
    }

    #[test]
    fn retry_after_in_seconds_or_dates() {
        let date = Some("Mon, 01 Jan 2001 00:00:00 GMT");
        assert_eq!(retry_after(Some("2"), None), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("100000"), date), None, "too long to wait");
        assert_eq!(retry_after(Some("soon"), date), None);
        assert_eq!(
            retry_after(Some("Mon, 01 Jan 2001 00:00:07 GMT"), date),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(Some("Sun, 31 Dec 2000 23:00:00 GMT"), date),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        assert_eq!(
            retry_after(Some("Mon, 01 Jan 2001 00:00:07 GMT"), None),
            None,
            "no Date to read it against"
        );
    }

    #[test]
    fn operation_outcomes_are_summarised() {
        let body = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"Unknown search parameter 'foo'"}]}"#;
        assert_eq!(
            operation_outcome(body).as_deref(),
            Some("error invalid: the request is invalid"),
            "the server's words stay out"
        );
        let body = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"Jane Doe","code":"MRN-12345","details":{"text":"Patient MRN-12345 (Jane Doe) not found"}}]}"#;
        assert_eq!(
            operation_outcome(body).as_deref(),
            Some("(no severity) (unknown code): an issue the FHIR specification does not name")
        );
        assert_eq!(operation_outcome(b"{\"resourceType\":\"Bundle\"}"), None);
        assert_eq!(operation_outcome(b"not json"), None);
    }
}
