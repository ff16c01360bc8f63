//! HTTP GET for sources: the only module that knows reqwest (and rustls's
//! crypto provider).
//!
//! A GET has a connect timeout and a total timeout, is retried a bounded
//! number of times with exponential back-off on connection errors,
//! timeouts, 429 and 5xx, and never reads more than `max_body_size` bytes.
//! Error messages name the URL without its query string (which may carry
//! an API key) and never include a header value.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LAST_MODIFIED};

use crate::config::HttpSpec;

/// Installs the ring crypto provider for rustls; call once at start-up,
/// before any HTTP client or SMTP TLS connection is made.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub struct Response {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
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
}

pub async fn get(spec: &HttpSpec) -> anyhow::Result<Response> {
    let client = client(spec)?;
    let url = display_url(&spec.url);
    let mut attempt = 0;
    loop {
        match get_once(&client, spec).await {
            Ok(response) => return Ok(response),
            Err(failure) if failure.retryable && attempt < spec.retries => {
                let delay = backoff(spec.retry_backoff, attempt);
                tracing::debug!(url = %url, attempt = attempt + 1, delay_ms = delay.as_millis() as u64,
                    error = %format!("{:#}", failure.error), "retrying http source");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(failure) => {
                let tries = attempt + 1;
                return Err(failure.error.context(format!(
                    "GET {url} failed after {tries} {}",
                    if tries == 1 { "try" } else { "tries" }
                )));
            }
        }
    }
}

/// `base × 2^attempt`, at most five minutes.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(attempt))
        .min(Duration::from_secs(300))
}

fn client(spec: &HttpSpec) -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    for header in &spec.headers {
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
    reqwest::Client::builder()
        .connect_timeout(spec.connect_timeout)
        .timeout(spec.timeout)
        .default_headers(headers)
        .user_agent(concat!("accesswatch/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .context("building the HTTP client")
}

async fn get_once(client: &reqwest::Client, spec: &HttpSpec) -> Result<Response, Attempt> {
    let transport = |e: reqwest::Error| Attempt {
        retryable: e.is_timeout() || e.is_connect() || e.is_request() || e.is_body(),
        error: anyhow!(describe(&e, spec)),
    };
    let mut response = client
        .get(spec.url.clone())
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    if !status.is_success() {
        return Err(Attempt {
            retryable: status.is_server_error() || status.as_u16() == 429,
            error: anyhow!(
                "the server answered HTTP {status}{}",
                match status.as_u16() {
                    401 | 403 => ": check the bearer token or header credentials",
                    404 => ": check `url`",
                    _ => "",
                }
            ),
        });
    }
    let headers = response.headers();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let last_modified = headers
        .get(LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.with_timezone(&Utc));
    let too_big = || Attempt {
        retryable: false,
        error: anyhow!(
            "the response body is larger than max_body_size ({} bytes): raise max_body_size or ask the server for less",
            spec.max_body_size
        ),
    };
    if response
        .content_length()
        .is_some_and(|n| n > spec.max_body_size)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() as u64 + chunk.len() as u64 > spec.max_body_size {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        body,
        content_type,
        last_modified,
    })
}

/// reqwest's error without the URL it embeds (we name it ourselves).
fn describe(error: &reqwest::Error, spec: &HttpSpec) -> String {
    if error.is_timeout() {
        return format!(
            "timed out (connect_timeout {}, timeout {}): the server is slow or unreachable; raise `timeout` if it is only slow",
            humantime::format_duration(spec.connect_timeout),
            humantime::format_duration(spec.timeout)
        );
    }
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        parts.push(inner.to_string());
        source = inner.source();
    }
    let detail = if parts.is_empty() {
        error.without_url_string()
    } else {
        parts.join(": ")
    };
    if error.is_connect() {
        format!("cannot connect: {detail}")
    } else if error.is_redirect() {
        format!("too many redirects: {detail}")
    } else if error.is_body() || error.is_decode() {
        format!("the response body was cut off: {detail}")
    } else {
        detail
    }
}

trait WithoutUrl {
    fn without_url_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_string(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "");
        }
        text
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
}
