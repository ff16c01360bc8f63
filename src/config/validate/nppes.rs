//! `[[source]]` of kind "nppes": validating `[source.nppes]`.

use std::ops::Range;

use super::Validator;
use super::source::http_options;
use crate::config::raw::*;
use crate::source::nppes::{DEFAULT_BASE_URL, NppesSpec, SEARCH_FIELDS};

pub(super) fn nppes(v: &mut Validator, raw: &RawSource, span: &Range<usize>) -> Option<NppesSpec> {
    let options = http_options(v, raw, span);
    let Some(nppes) = &raw.nppes else {
        v.problem(
            span.clone(),
            "kind = \"nppes\" needs a [source.nppes] table with `search`, like search = { state = \"CA\", taxonomy_description = \"Psychologist\" }",
        );
        return None;
    };
    let base_url = match &nppes.base_url {
        Some(_) => super::source::http_url(v, &nppes.base_url, span, "base_url", "nppes")?,
        None => url::Url::parse(DEFAULT_BASE_URL).ok()?,
    };
    let mut search = Vec::new();
    for (key, value) in nppes.search.iter().flatten() {
        if !SEARCH_FIELDS.contains(&key.as_str()) {
            v.problem(
                value.span(),
                format!(
                    "`search.{key}` is not an NPPES search field: use {}",
                    SEARCH_FIELDS.join(", ")
                ),
            );
            continue;
        }
        search.push((key.clone(), value.get_ref().clone()));
    }
    if search.is_empty() {
        v.problem(
            span.clone(),
            "[source.nppes] `search` needs at least one criterion, like state = \"CA\"",
        );
        return None;
    }
    let number = |v: &mut Validator,
                  value: &Option<S<i64>>,
                  key: &str,
                  range: std::ops::RangeInclusive<i64>,
                  default: i64| match value {
        None => default as u32,
        Some(n) if range.contains(n.get_ref()) => *n.get_ref() as u32,
        Some(n) => {
            v.problem(
                n.span(),
                format!(
                    "`{key}` must be between {} and {}",
                    range.start(),
                    range.end()
                ),
            );
            default as u32
        }
    };
    let limit = number(v, &nppes.limit, "limit", 1..=200, 200);
    let max_records = number(v, &nppes.max_records, "max_records", 1..=1200, 1200);
    Some(NppesSpec {
        base_url,
        search,
        limit,
        max_records,
        options,
    })
}
