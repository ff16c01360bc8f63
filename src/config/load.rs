//! Reading the TOML text into the raw structs of [`super::raw`], collecting
//! every problem instead of stopping at the first.
//!
//! Each top-level section and each `[[source]]`, `[[check]]` and `[[route]]`
//! entry is deserialized on its own, so a type error in one entry does not
//! hide the problems of the others, and every unknown key is reported (found
//! with `serde_ignored`, located with the spans `toml_edit` keeps).

use std::collections::BTreeSet;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml_edit::{Document, Item};

use super::Problem;
use super::raw::{
    RawAlerting, RawCheck, RawDaemon, RawEmail, RawMaintenance, RawRoute, RawSource, RawState,
};

/// One entry of the file as read, with the span of its table header so that
/// a missing key can be reported where the entry starts.
#[derive(Debug)]
pub struct Entry<T> {
    pub value: T,
    pub span: Range<usize>,
    /// Keys whose value had the wrong type (already reported).
    pub broken: BTreeSet<String>,
}

/// The whole file after stage one. Entries that could not be read are left
/// out and their problems recorded; `broken_source_ids` remembers the ids of
/// unreadable sources so that checks naming them are not reported twice.
#[derive(Debug, Default)]
pub struct RawConfig {
    pub daemon: Option<Entry<RawDaemon>>,
    pub state: Option<Entry<RawState>>,
    pub email: Option<Entry<RawEmail>>,
    pub sources: Vec<Entry<RawSource>>,
    pub checks: Vec<Entry<RawCheck>>,
    pub routes: Vec<Entry<RawRoute>>,
    pub alerting: Option<Entry<RawAlerting>>,
    pub maintenance: Vec<Entry<RawMaintenance>>,
    pub broken_source_ids: Vec<String>,
    /// Top-level keys present in the file, readable or not.
    pub sections: BTreeSet<String>,
}

const SECTIONS: &str =
    "[daemon], [state], [email], [alerting], [[source]], [[check]], [[route]] and [[maintenance]]";

/// Reads `text`; `None` when it is not TOML at all (the syntax error is in
/// `problems` and nothing else can be checked).
pub fn parse(text: &str, problems: &mut Vec<Problem>) -> Option<RawConfig> {
    let mut raw = RawConfig::default();
    let document = match Document::parse(text.to_owned()) {
        Ok(document) => document,
        Err(error) => {
            let message = error.message().trim().to_owned();
            problems.push(Problem::new(
                error.span().unwrap_or(0..0),
                format!("this is not valid TOML: {message}"),
            ));
            return None;
        }
    };
    for (key, item) in document.as_table().iter() {
        let key_span = document
            .as_table()
            .key(key)
            .and_then(|k| k.span())
            .unwrap_or(0..0);
        raw.sections.insert(key.to_owned());
        match key {
            "daemon" => raw.daemon = read_table(item, "[daemon]", key_span, problems),
            "email" => raw.email = read_table(item, "[email]", key_span, problems),
            "state" => raw.state = read_table(item, "[state]", key_span, problems),
            "alerting" => raw.alerting = read_table(item, "[alerting]", key_span, problems),
            "maintenance" => {
                for element in array_elements(item, key, key_span.clone(), problems) {
                    raw.maintenance.extend(read_table(
                        &element,
                        "[[maintenance]]",
                        key_span.clone(),
                        problems,
                    ));
                }
            }
            "source" => {
                for element in array_elements(item, key, key_span.clone(), problems) {
                    match read_table::<RawSource>(
                        &element,
                        "[[source]]",
                        key_span.clone(),
                        problems,
                    ) {
                        Some(entry) => raw.sources.push(entry),
                        None => {
                            if let Some(id) = element.get("id").and_then(Item::as_str) {
                                raw.broken_source_ids.push(id.to_owned());
                            }
                        }
                    }
                }
            }
            "check" => {
                for element in array_elements(item, key, key_span.clone(), problems) {
                    raw.checks.extend(read_table(
                        &element,
                        "[[check]]",
                        key_span.clone(),
                        problems,
                    ));
                }
            }
            "route" => {
                for element in array_elements(item, key, key_span.clone(), problems) {
                    raw.routes.extend(read_table(
                        &element,
                        "[[route]]",
                        key_span.clone(),
                        problems,
                    ));
                }
            }
            other => problems.push(Problem::new(
                key_span,
                format!("unknown section `{other}`: the file has {SECTIONS}"),
            )),
        }
    }
    Some(raw)
}

/// The elements of `[[name]]`; a plain `[name]` table is reported, since
/// the sections that take several entries must be written with double
/// brackets. Elements are cloned into items (spans stay) so that
/// [`read_table`] reads every kind of entry the same way.
fn array_elements(
    item: &Item,
    name: &str,
    key_span: Range<usize>,
    problems: &mut Vec<Problem>,
) -> Vec<Item> {
    match item {
        Item::ArrayOfTables(array) => array.iter().map(|t| Item::Table(t.clone())).collect(),
        _ => {
            problems.push(Problem::new(
                key_span,
                format!("`{name}` must be written as [[{name}]] (one block per {name})"),
            ));
            Vec::new()
        }
    }
}

/// Deserializes one entry. A value of the wrong type is reported and its
/// key removed, and the entry read again, so that every wrong value of the
/// entry is reported at once; the removed keys are listed in
/// [`Entry::broken`] so that stage two does not also call them missing.
fn read_table<T: DeserializeOwned>(
    item: &Item,
    section: &str,
    fallback_span: Range<usize>,
    problems: &mut Vec<Problem>,
) -> Option<Entry<T>> {
    let span = item.span().unwrap_or(fallback_span);
    let Some(toml_edit::Value::InlineTable(mut table)) = item.clone().into_value().ok() else {
        problems.push(Problem::new(span, format!("{section} must be a table")));
        return None;
    };
    let mut broken = BTreeSet::new();
    for attempt in 0.. {
        let mut unknown = Vec::new();
        let deserializer = toml_edit::Value::InlineTable(table.clone()).into_deserializer();
        let result: Result<T, _> = serde_ignored::deserialize(deserializer, |path| {
            unknown.push(path_segments(&path));
        });
        if attempt == 0 {
            for path in unknown {
                let key_span = locate_key(item, &path).unwrap_or(span.clone());
                let dotted = path.join(".");
                // Top-level keys only: the fields of nested tables are not
                // known here.
                let nearest = match path.as_slice() {
                    [key] => super::suggest::nearest(
                        key,
                        super::suggest::field_names::<T>().iter().copied(),
                    ),
                    _ => None,
                };
                let advice = nearest.map_or_else(
                    || "remove it or check its spelling".to_owned(),
                    |name| format!("did you mean `{name}`?"),
                );
                problems.push(Problem::new(
                    key_span,
                    format!("unknown key `{dotted}` in {section}: {advice}"),
                ));
            }
        }
        let error = match result {
            Ok(value) => {
                return Some(Entry {
                    value,
                    span,
                    broken,
                });
            }
            Err(error) => error,
        };
        let error_span = error.span().unwrap_or(span.clone());
        let culprit = culprit(&table, error_span.start);
        let message = friendly_type_error(error.message().trim());
        match culprit {
            Some(path) if attempt < 64 => {
                let key = path.join(".");
                problems.push(Problem::new(
                    error_span,
                    format!("`{key}` in {section}: {message}"),
                ));
                remove_path(&mut table, &path);
                broken.insert(key);
            }
            _ => {
                problems.push(Problem::new(error_span, format!("in {section}: {message}")));
                return None;
            }
        }
    }
    None
}

/// The key path (`["postgres", "port"]`) of the value at byte `position`,
/// looking into nested tables (`[source.postgres]`).
fn culprit(table: &toml_edit::InlineTable, position: usize) -> Option<Vec<String>> {
    for (key, value) in table.iter() {
        if value.span().is_some_and(|s| s.contains(&position)) {
            return Some(vec![key.to_owned()]);
        }
        if let toml_edit::Value::InlineTable(inner) = value
            && let Some(mut rest) = culprit(inner, position)
        {
            rest.insert(0, key.to_owned());
            return Some(rest);
        }
        if let toml_edit::Value::Array(array) = value {
            let inside = array.iter().any(|element| match element {
                toml_edit::Value::InlineTable(inner) => culprit(inner, position).is_some(),
                other => other.span().is_some_and(|s| s.contains(&position)),
            });
            if inside {
                return Some(vec![key.to_owned()]);
            }
        }
    }
    None
}

/// Removes the value at `path` from `table`.
fn remove_path(table: &mut toml_edit::InlineTable, path: &[String]) {
    match path {
        [] => {}
        [key] => {
            table.remove(key);
        }
        [key, rest @ ..] => {
            if let Some(toml_edit::Value::InlineTable(inner)) = table.get_mut(key) {
                remove_path(inner, rest);
            }
        }
    }
}

/// serde's type names in words an operator knows.
fn friendly_type_error(message: &str) -> String {
    message
        .replace("expected f64", "expected a number")
        .replace("expected i64", "expected a whole number")
        .replace("expected a sequence", "expected a list like [\"a\", \"b\"]")
        .replace("expected a map", "expected a table")
        .replace(
            "expected struct RawHeader",
            "expected a table with `name` and `value`",
        )
}

use serde::de::IntoDeserializer as _;

/// The key names along a `serde_ignored` path, without the private keys
/// that `serde_spanned` uses internally.
fn path_segments(path: &serde_ignored::Path<'_>) -> Vec<String> {
    let mut segments = Vec::new();
    collect_segments(path, &mut segments);
    segments.retain(|s| !s.starts_with("$__serde_spanned"));
    segments
}

fn collect_segments(path: &serde_ignored::Path<'_>, out: &mut Vec<String>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            collect_segments(parent, out);
            out.push(index.to_string());
        }
        Path::Map { parent, key } => {
            collect_segments(parent, out);
            out.push(key.clone());
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => collect_segments(parent, out),
    }
}

/// The span of the last key of `path` inside `item`, following tables,
/// inline tables and arrays.
fn locate_key(item: &Item, path: &[String]) -> Option<Range<usize>> {
    let (last, parents) = path.split_last()?;
    let mut current = item;
    for segment in parents {
        if let Ok(index) = segment.parse::<usize>() {
            current = current.get(index)?;
        } else {
            current = current.get(segment.as_str())?;
        }
    }
    match current {
        Item::Table(table) => table.key(last).and_then(|k| k.span()),
        Item::Value(toml_edit::Value::InlineTable(table)) => table.key(last).and_then(|k| k.span()),
        _ => None,
    }
}
