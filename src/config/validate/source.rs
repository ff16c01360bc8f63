//! `[[source]]`: location, format, mapping, and the HTTP settings.

use std::ops::Range;

use std::collections::HashMap;

use super::{Validator, ident};
use crate::check::fields::{Field, ValueMaps};
use crate::config::load::Entry;
use crate::config::raw::*;
use crate::config::*;

pub(super) fn source(v: &mut Validator, entry: &Entry<RawSource>) -> Option<SourceSpec> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let id = v
        .required(&raw.id, span, "`id` in [[source]]")
        .and_then(|id| ident(v, id, "id"));
    let kind = v
        .required(
            &raw.kind,
            span,
            "`kind` in [[source]] (\"file\", \"http\", \"fhir\", \"nppes\" or \"postgres\")",
        )
        .and_then(|k| {
            v.choice(
                k,
                "kind",
                &[
                    ("file", "file"),
                    ("http", "http"),
                    ("fhir", "fhir"),
                    ("nppes", "nppes"),
                    ("postgres", "postgres"),
                ],
            )
        });
    let format = raw.format.as_ref().and_then(|f| {
        v.choice(
            f,
            "format",
            &[
                ("csv", Format::Csv),
                ("json", Format::Json),
                ("ndjson", Format::Ndjson),
            ],
        )
    });
    if let Some(pointer) = &raw.records
        && !pointer.get_ref().is_empty()
        && !pointer.get_ref().starts_with('/')
    {
        v.problem(
            pointer.span(),
            "`records` is a JSON pointer and starts with \"/\", like \"/data/regions\" (\"\" is the whole document)",
        );
    }
    let fields: BTreeMap<String, String> = raw
        .fields
        .iter()
        .flatten()
        .map(|(k, f)| (k.clone(), f.get_ref().clone()))
        .collect();
    let csv_delimiter = match &raw.csv_delimiter {
        None => b',',
        Some(d) => match d.get_ref().as_bytes() {
            // A line break or a quote cannot separate fields: the
            // reader splits rows at line breaks and quotes fields.
            [byte] if byte.is_ascii() && !matches!(byte, b'\n' | b'\r' | b'"') => *byte,
            _ => {
                v.problem(
                    d.span(),
                    "`csv_delimiter` must be one ASCII character other than a line break or a \
                     double quote, like \",\" or \";\"",
                );
                b','
            }
        },
    };
    // http, fhir and nppes read a bearer token (and refuse a plain one
    // there); the other kinds must refuse it too, not ignore it.
    if matches!(kind, Some("file" | "postgres")) {
        v.plain_secret("bearer_token", raw.bearer_token.as_ref());
    }
    let location = match kind? {
        "file" => {
            let path = v.required(&raw.path, span, "`path` in [[source]] of kind \"file\"")?;
            for (key, value) in [
                ("url", &raw.url),
                ("bearer_token_file", &raw.bearer_token_file),
                ("bearer_token_env", &raw.bearer_token_env),
                ("bearer_token_credential", &raw.bearer_token_credential),
            ] {
                if let Some(value) = value {
                    v.problem(
                        value.span(),
                        format!("`{key}` applies to kind = \"http\" only; remove it"),
                    );
                }
            }
            let resolved = v.path(path.get_ref());
            v.probe(path.span(), Probe::File(resolved.clone()));
            Location::File(resolved)
        }
        "http" => Location::Http(http(v, raw, span)?),
        "fhir" => Location::Fhir(Box::new(super::fhir::fhir(v, raw, span)?)),
        "nppes" => Location::Nppes(Box::new(super::nppes::nppes(v, raw, span)?)),
        _ => Location::Postgres(Box::new(super::postgres::postgres(v, raw, span)?)),
    };
    Some(SourceSpec {
        id: id?,
        location,
        format,
        layout: Layout {
            records: raw.records.as_ref().map(|r| r.get_ref().clone()),
            fields,
            csv_delimiter,
        },
        values: value_maps(v, raw),
        time_field: raw.time_field.as_ref().map(|f| f.get_ref().clone()),
        max_stale: {
            let default = v.defaults.max_stale;
            chrono::Duration::from_std(v.duration(
                &raw.max_stale,
                "max_stale",
                default.to_std().unwrap_or_default(),
            ))
            .unwrap_or(default)
        },
    })
}

/// `[source.values.FIELD]` tables: the source's spellings of the
/// canonical values of appointment fields.
fn value_maps(v: &mut Validator, raw: &RawSource) -> std::sync::Arc<ValueMaps> {
    let mut maps = HashMap::new();
    for (name, table) in raw.values.iter().flatten() {
        let Some(field) = Field::parse(name).filter(|f| f.has_values()) else {
            let span = table.values().next().map_or(0..0, S::span);
            v.problem(
                span,
                format!(
                    "[source.values.{name}]: values can be mapped for visit_type, urgency, prior_auth, provider_type, extended_by_provider, modality and requested_modality"
                ),
            );
            continue;
        };
        let mut map = HashMap::new();
        for (from, to) in table {
            if !canonical_value(field, to.get_ref()) {
                v.problem(
                    to.span(),
                    format!("{:?} is not a value of `{name}`", to.get_ref()),
                );
            }
            map.insert(from.clone(), to.get_ref().clone());
        }
        maps.insert(field, map);
    }
    std::sync::Arc::new(ValueMaps::new(maps))
}

fn canonical_value(field: Field, text: &str) -> bool {
    use crate::check::standards::{Modality, ProviderType, Urgency, VisitType};
    match field {
        Field::Modality | Field::RequestedModality => Modality::parse(text).is_some(),
        Field::Urgency => Urgency::parse(text).is_some(),
        Field::VisitType => VisitType::parse(text).is_some(),
        Field::ProviderType => ProviderType::parse(text).is_some(),
        _ => crate::check::fields::parse_bool(text).is_some(),
    }
}

fn http(v: &mut Validator, raw: &RawSource, span: &Range<usize>) -> Option<HttpSpec> {
    if let Some(path) = &raw.path {
        v.problem(
            path.span(),
            "`path` applies to kind = \"file\" only; remove it",
        );
    }
    let url = http_url(v, &raw.url, span, "url", "http");
    let options = http_options(v, raw, span);
    Some(HttpSpec { url: url?, options })
}

/// A required `http://` or `https://` URL without credentials in it.
pub(super) fn http_url(
    v: &mut Validator,
    value: &Option<S<String>>,
    span: &Range<usize>,
    key: &str,
    kind: &str,
) -> Option<url::Url> {
    let url = v.required(
        value,
        span,
        &format!("`{key}` in [[source]] of kind \"{kind}\""),
    )?;
    let parsed = match url::Url::parse(url.get_ref()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(_) => {
            v.problem(
                url.span(),
                format!("`{key}` must start with http:// or https://"),
            );
            return None;
        }
        Err(e) => {
            v.problem(url.span(), format!("`{key}` is not a URL ({e})"));
            return None;
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        v.problem(
            url.span(),
            format!("`{key}` must not carry credentials: use bearer_token_file (or _env, _credential) or a [[source.headers]] secret"),
        );
        return None;
    }
    if let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        v.probe(url.span(), Probe::Host { host, port });
    }
    Some(parsed)
}

/// Timeouts, retries, body cap, CA bundle and headers: every HTTP-based
/// source kind takes these keys.
pub(super) fn http_options(v: &mut Validator, raw: &RawSource, span: &Range<usize>) -> HttpOptions {
    let retries = match &raw.retries {
        None => 3,
        Some(r) => match u32::try_from(*r.get_ref()) {
            Ok(n) if n <= 10 => n,
            _ => {
                v.problem(r.span(), "`retries` must be between 0 and 10");
                3
            }
        },
    };
    let max_body_size = match &raw.max_body_size {
        None => 64 * 1024 * 1024,
        Some(size) => parse_size(size.get_ref()).unwrap_or_else(|e| {
            v.problem(size.span(), format!("`max_body_size`: {e}"));
            0
        }),
    };
    let mut headers = Vec::new();
    if let Some(token) = v.secret(
        "bearer_token",
        raw.bearer_token.as_ref(),
        &raw.bearer_token_file,
        &raw.bearer_token_env,
        &raw.bearer_token_credential,
    ) {
        headers.push(Header {
            name: "Authorization".to_owned(),
            value: Secret::new(format!("Bearer {}", token.expose())),
        });
    }
    for header in raw.headers.iter().flatten() {
        headers.extend(http_header(v, header, span));
    }
    let ca_file = raw.ca_file.as_ref().and_then(|f| {
        let path = v.path(f.get_ref());
        match std::fs::read(&path) {
            Ok(_) => Some(path),
            Err(e) => {
                v.problem(f.span(), format!("`ca_file` {}: {e}", path.display()));
                None
            }
        }
    });
    HttpOptions {
        connect_timeout: v.duration(
            &raw.connect_timeout,
            "connect_timeout",
            Duration::from_secs(10),
        ),
        timeout: v.duration(&raw.timeout, "timeout", Duration::from_secs(60)),
        retries,
        retry_backoff: v.duration(&raw.retry_backoff, "retry_backoff", Duration::from_secs(1)),
        max_body_size,
        headers,
        ca_file,
    }
}

/// `source_span`: where missing-key problems are reported, since an entry
/// of `[[source.headers]]` keeps no span of its own.
fn http_header(v: &mut Validator, raw: &RawHeader, source_span: &Range<usize>) -> Option<Header> {
    let span = source_span.clone();
    let name = v.required(&raw.name, &span, "`name` in [[source.headers]]")?;
    let valid_name = !name.get_ref().is_empty()
        && name
            .get_ref()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
    if !valid_name {
        v.problem(
            name.span(),
            format!("{:?} is not a valid HTTP header name", name.get_ref()),
        );
    }
    let secret = v.secret(
        "value",
        None,
        &raw.value_file,
        &raw.value_env,
        &raw.value_credential,
    );
    let value = match (&raw.value, secret) {
        (Some(plain), None) => Secret::new(plain.get_ref().clone()),
        (None, Some(secret)) => secret,
        (Some(plain), Some(_)) => {
            v.problem(
                plain.span(),
                "give either `value` or one of value_file, value_env, value_credential",
            );
            return None;
        }
        (None, None) => {
            if raw.value_file.is_none() && raw.value_env.is_none() && raw.value_credential.is_none()
            {
                v.problem(span, "missing key `value` (or value_file, value_env, value_credential) in [[source.headers]]");
            }
            return None;
        }
    };
    if value.expose().contains(['\r', '\n']) {
        v.problem(
            name.span(),
            format!(
                "the value of header {:?} contains a line break",
                name.get_ref()
            ),
        );
        return None;
    }
    valid_name.then(|| Header {
        name: name.get_ref().clone(),
        value,
    })
}

/// "64MiB", "500 kB", "1048576" → bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: write it like \"10MiB\" or \"500kB\""))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?}: use B, kB, KiB, MB, MiB, GB or GiB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} must be more than zero and less than 16 EiB"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("500 kB"), Ok(500_000));
        assert!(parse_size("ten MB").is_err());
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("0").is_err());
    }
}
