//! One page of a FHIR search: checked to be a Bundle, split into the
//! matches and the included resources, with its `next` link. Pure.
//!
//! A page that is not JSON, not a Bundle, or has an entry without a
//! resource is an error naming the page (and entry) number; an
//! OperationOutcome answered with 200, or an `outcome` entry with an
//! error, is an error naming the issues' severities and codes with a fixed
//! description of each, never the server's own words (`diagnostics` may
//! name a member). Warnings in an `outcome` entry are passed back for the
//! log, the same way.

use anyhow::{anyhow, bail};
use serde_json::Value;

/// A searchset page, taken apart.
#[derive(Debug, Default)]
pub struct Page {
    /// 1-based.
    pub number: u32,
    /// Resources of the searched type (mode `match`, or no mode).
    pub matches: Vec<Value>,
    /// Everything else (`_include`d resources), with their `fullUrl`.
    pub included: Vec<(Option<String>, Value)>,
    /// The `next` link as the server wrote it.
    pub next: Option<String>,
    /// Issues of `outcome` entries below error severity.
    pub warnings: Vec<String>,
}

/// Reads page `number` of a search for `resource_type`.
pub fn parse(body: &[u8], number: u32, resource_type: &str) -> anyhow::Result<Page> {
    let mut document: Value = serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_eof() {
            "the body ends early (cut off in transit, or by a proxy)".to_owned()
        } else {
            format!("malformed JSON at line {} column {}", e.line(), e.column())
        };
        anyhow!("page {number} of the {resource_type} search is not valid JSON: {what}")
    })?;
    let kind = document
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind == "OperationOutcome" {
        bail!(
            "page {number} of the {resource_type} search is an OperationOutcome, not a Bundle: {}",
            outcome_summary(&document).unwrap_or_else(|| "no issues given".to_owned())
        );
    }
    if kind != "Bundle" {
        bail!(
            "page {number} of the {resource_type} search is {}, not a FHIR Bundle: check `url` (the FHIR base) and `resource`",
            describe_kind(&document)
        );
    }
    let mut page = Page {
        number,
        next: next_link(&document, number)?,
        ..Page::default()
    };
    // The entries are moved out of the document, never copied.
    let entries = match document.get_mut("entry").map(Value::take) {
        None | Some(Value::Null) => return Ok(page),
        Some(Value::Array(entries)) => entries,
        Some(_) => bail!("page {number}: `Bundle.entry` is not a list"),
    };
    drop(document);
    page.matches.reserve(entries.len());
    for (index, mut entry) in entries.into_iter().enumerate() {
        let position = index + 1;
        let resource = match entry.get_mut("resource").map(Value::take) {
            Some(resource @ Value::Object(_)) => resource,
            _ => bail!(
                "page {number}, entry {position} of the {resource_type} search has no resource (a malformed Bundle)"
            ),
        };
        let Some(entry_type) = resource.get("resourceType").and_then(Value::as_str) else {
            bail!("page {number}, entry {position}: the resource has no resourceType");
        };
        let mode = entry.pointer("/search/mode").and_then(Value::as_str);
        if mode == Some("outcome") || (entry_type == "OperationOutcome" && mode != Some("match")) {
            outcome_entry(&resource, number, &mut page)?;
            continue;
        }
        if entry_type == resource_type && mode != Some("include") {
            page.matches.push(resource);
        } else {
            let full_url = match entry.get_mut("fullUrl").map(Value::take) {
                Some(Value::String(url)) => Some(url),
                _ => None,
            };
            page.included.push((full_url, resource));
        }
    }
    Ok(page)
}

fn next_link(document: &Value, number: u32) -> anyhow::Result<Option<String>> {
    let Some(links) = document.get("link") else {
        return Ok(None);
    };
    let Some(links) = links.as_array() else {
        bail!("page {number}: `Bundle.link` is not a list");
    };
    for link in links {
        if link.get("relation").and_then(Value::as_str) == Some("next") {
            return match link.get("url").and_then(Value::as_str) {
                Some(url) if !url.trim().is_empty() => Ok(Some(url.to_owned())),
                _ => bail!("page {number}: the `next` link has no url"),
            };
        }
    }
    Ok(None)
}

fn outcome_entry(resource: &Value, number: u32, page: &mut Page) -> anyhow::Result<()> {
    let issues = resource.get("issue").and_then(Value::as_array);
    let failed = issues.into_iter().flatten().any(|issue| {
        matches!(
            issue.get("severity").and_then(Value::as_str),
            Some("error" | "fatal")
        )
    });
    let summary = outcome_summary(resource).unwrap_or_else(|| "no issues given".to_owned());
    if failed {
        bail!("page {number}: the server reported an error in the search: {summary}");
    }
    page.warnings.push(summary);
    Ok(())
}

/// "severity code: fixed description; …" of an OperationOutcome.
pub fn outcome_summary(resource: &Value) -> Option<String> {
    let bytes = serde_json::to_vec(resource).ok()?;
    crate::source::http::operation_outcome(&bytes)
}

/// What a non-Bundle document is, without quoting it.
fn describe_kind(document: &Value) -> String {
    match document {
        Value::Object(object) => match object.get("resourceType").and_then(Value::as_str) {
            Some(kind) if kind.len() <= 40 && kind.chars().all(|c| c.is_ascii_alphanumeric()) => {
                format!("a {kind}")
            }
            _ => "a JSON object without a FHIR resourceType".to_owned(),
        },
        Value::Array(_) => "a JSON list".to_owned(),
        _ => "a JSON scalar".to_owned(),
    }
}
