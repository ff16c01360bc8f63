//! Talking to a FHIR server: the access token, the search, and its pages.
//!
//! Requests go through [`crate::source::http::Client`] (retries,
//! `Retry-After`, body cap, OperationOutcome in errors) with `Accept:
//! application/fhir+json`; search pages bypass its ETag cache, which would
//! keep every page of a large search in memory. A search is paged by following each Bundle's
//! `next` link exactly as the server wrote it (resolved against the page's
//! URL when relative, never built by us), until a page has none. A search
//! stops with an error after `max_pages` pages, when a `next` link repeats
//! a URL already fetched, and when it points at another server (which
//! would be handed the source's credentials).
//!
//! Client credentials: `grant_type=client_credentials` (and `scope`) is
//! POSTed to `token_url` with HTTP basic authentication; the access token
//! is kept in the process until shortly before its `expires_in` and sent
//! as `Authorization: Bearer`. The token endpoint gets none of the
//! source's headers.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;

use super::bundle::{self, Page};
use super::{ClientCredentials, FhirSpec};
use crate::check::Secret;
use crate::source::http::{Client, display_url};
use crate::source::spec::Header;

pub const FHIR_JSON: &str = "application/fhir+json";

pub struct FhirClient {
    http: Client,
    base: url::Url,
    count: Option<u32>,
    max_pages: u32,
}

impl FhirClient {
    /// A client for `spec`, with an access token if it uses client
    /// credentials.
    pub async fn connect(spec: &FhirSpec) -> anyhow::Result<FhirClient> {
        let mut options = spec.http.clone();
        if let Some(auth) = &spec.auth {
            let token = access_token(auth, &spec.http).await?;
            options
                .headers
                .retain(|h| !h.name.eq_ignore_ascii_case("authorization"));
            options.headers.push(Header {
                name: "Authorization".to_owned(),
                value: Secret::new(format!("Bearer {}", token.expose())),
            });
        }
        Ok(FhirClient {
            http: Client::new(&options)?,
            base: spec.base.clone(),
            count: spec.count,
            max_pages: spec.max_pages,
        })
    }

    /// Drops the cached access token of `spec`, if any.
    pub fn forget_token(&self, spec: &FhirSpec) {
        if let Some(auth) = &spec.auth
            && let Ok(mut tokens) = tokens().lock()
        {
            tokens.remove(&token_key(auth));
        }
    }

    /// `[base]/[type]?params&_count=N`.
    pub fn search_url(&self, resource_type: &str, params: &[(String, String)]) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(resource_type);
        }
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in params {
                query.append_pair(key, value);
            }
            if let Some(count) = self.count {
                query.append_pair("_count", &count.to_string());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    /// The pages of a search for `resource_type` with `params`.
    pub fn search(&self, resource_type: &str, params: &[(String, String)]) -> Pager<'_> {
        Pager {
            client: self,
            resource_type: resource_type.to_owned(),
            next: Some(self.search_url(resource_type, params)),
            seen: HashSet::new(),
            fetched: 0,
        }
    }

    /// The `authoredOn` of each ServiceRequest in `keys` (`Type/id`), by
    /// `_id` searches of at most 50 ids; `None` for one the server does
    /// not return.
    pub async fn authored_on(
        &self,
        keys: &[String],
    ) -> anyhow::Result<HashMap<String, Option<String>>> {
        let mut found: HashMap<String, Option<String>> =
            keys.iter().map(|k| (k.clone(), None)).collect();
        for chunk in keys.chunks(50) {
            let ids: Vec<&str> = chunk
                .iter()
                .filter_map(|k| k.split_once('/'))
                .map(|(_, id)| id)
                .collect();
            let params = [("_id".to_owned(), ids.join(","))];
            let mut pages = self.search("ServiceRequest", &params);
            while let Some(page) = pages.next().await? {
                for request in &page.matches {
                    let Some(id) = request.get("id").and_then(Value::as_str) else {
                        continue;
                    };
                    let authored = request.get("authoredOn").and_then(Value::as_str);
                    found.insert(format!("ServiceRequest/{id}"), authored.map(str::to_owned));
                }
            }
        }
        Ok(found)
    }
}

/// The pages of one search, fetched one at a time.
pub struct Pager<'c> {
    client: &'c FhirClient,
    resource_type: String,
    next: Option<url::Url>,
    seen: HashSet<String>,
    fetched: u32,
}

impl Pager<'_> {
    /// The next page, or `None` after the last.
    pub async fn next(&mut self) -> anyhow::Result<Option<Page>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let number = self.fetched + 1;
        if number > self.client.max_pages {
            bail!(
                "the {} search has more than max_pages = {} pages: raise max_pages or narrow the search",
                self.resource_type,
                self.client.max_pages
            );
        }
        self.seen.insert(url.to_string());
        let response = self
            .client
            .http
            .get_uncached(&url, Some(FHIR_JSON))
            .await
            .with_context(|| {
                format!(
                    "fetching page {number} of the {} search",
                    self.resource_type
                )
            })?;
        if let Some(kind) = response.content_type.as_deref()
            && (kind.starts_with("text/html") || kind.starts_with("application/xhtml"))
        {
            bail!(
                "page {number} of the {} search ({}) is an HTML page, not FHIR JSON: check `url` and the credentials (a login page?)",
                self.resource_type,
                display_url(&url)
            );
        }
        let page = bundle::parse(&response.body, number, &self.resource_type)?;
        self.fetched = number;
        if let Some(next) = &page.next {
            let next = self.follow(&url, next, number)?;
            if self.seen.contains(next.as_str()) {
                bail!(
                    "page {number}'s next link repeats a page already fetched: the server's paging loops; stopped after {number} pages"
                );
            }
            self.next = Some(next);
        }
        Ok(Some(page))
    }

    /// The next page's URL as the server gave it, refused when it leaves
    /// the server of `url`.
    fn follow(&self, current: &url::Url, next: &str, number: u32) -> anyhow::Result<url::Url> {
        let next = current
            .join(next.trim())
            .map_err(|e| anyhow!("page {number}'s next link is not a URL ({e})"))?;
        let base = &self.client.base;
        let same_server = next.scheme() == base.scheme()
            && next.host_str() == base.host_str()
            && next.port_or_known_default() == base.port_or_known_default();
        if !same_server {
            bail!(
                "page {number}'s next link points at another server ({}): not following it with this source's credentials",
                next.host_str().unwrap_or("no host")
            );
        }
        Ok(next)
    }

    pub fn pages(&self) -> u32 {
        self.fetched
    }
}

/// Access tokens by token endpoint, client and scope, with when to stop
/// using them.
fn tokens() -> &'static Mutex<HashMap<String, (Secret, Instant)>> {
    static TOKENS: OnceLock<Mutex<HashMap<String, (Secret, Instant)>>> = OnceLock::new();
    TOKENS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn token_key(auth: &ClientCredentials) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        auth.token_url,
        auth.client_id,
        auth.scope.as_deref().unwrap_or("")
    )
}

/// A cached token still good for a while, or a new one.
pub async fn access_token(
    auth: &ClientCredentials,
    http: &crate::source::spec::HttpOptions,
) -> anyhow::Result<Secret> {
    // One token request at a time, so that sources sharing a client
    // started together ask once and the others find the cached token.
    static ASKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _asking = ASKING.lock().await;
    let key = token_key(auth);
    if let Ok(tokens) = tokens().lock()
        && let Some((token, until)) = tokens.get(&key)
        && Instant::now() < *until
    {
        return Ok(token.clone());
    }
    let mut options = http.clone();
    options.headers.clear();
    let client = Client::new(&options)?;
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &auth.scope {
        form.push(("scope", scope.as_str()));
    }
    let shown = display_url(&auth.token_url);
    let response = client
        .post_form(
            &auth.token_url,
            &form,
            Some((&auth.client_id, auth.client_secret.expose())),
        )
        .await
        .with_context(|| {
            format!("requesting an access token from token_url {shown} (check client_id, the client secret and scope)")
        })?;
    let (token, lifetime) = parse_token(&response.body)
        .with_context(|| format!("reading the access token from token_url {shown}"))?;
    if let Some(lifetime) = lifetime
        && let Ok(mut tokens) = tokens().lock()
    {
        tokens.insert(key, (token.clone(), Instant::now() + usable_for(lifetime)));
    }
    Ok(token)
}

/// The token and its lifetime from a token response (RFC 6749 §5.1).
fn parse_token(body: &[u8]) -> anyhow::Result<(Secret, Option<Duration>)> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        anyhow!("the answer is not JSON (an OAuth 2.0 token response was expected)")
    })?;
    let token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| anyhow!("the answer has no access_token"))?;
    if let Some(kind) = value.get("token_type").and_then(Value::as_str)
        && !kind.eq_ignore_ascii_case("bearer")
    {
        bail!("the token_type is {kind:?}, not \"bearer\"");
    }
    let lifetime = value
        .get("expires_in")
        .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64);
    Ok((Secret::new(token), lifetime))
}

/// How long to use a token of `lifetime`: until a minute before it
/// expires, or a tenth of a short lifetime before.
fn usable_for(lifetime: Duration) -> Duration {
    let margin = (lifetime / 10).min(Duration::from_secs(60));
    lifetime.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses() {
        let (token, lifetime) =
            parse_token(br#"{"access_token":"abc","token_type":"Bearer","expires_in":300}"#)
                .unwrap();
        assert_eq!(token.expose(), "abc");
        assert_eq!(lifetime, Some(Duration::from_secs(300)));
        assert_eq!(
            usable_for(Duration::from_secs(300)),
            Duration::from_secs(270)
        );
        assert_eq!(
            usable_for(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        let error = parse_token(br#"{"error":"invalid_client"}"#).unwrap_err();
        assert_eq!(error.to_string(), "the answer has no access_token");
        assert!(parse_token(br#"{"access_token":"x","token_type":"mac"}"#).is_err());
        assert!(parse_token(b"<html>").is_err());
    }
}
