//! Reading values out of resources for labels, and following references
//! into the resources a Bundle page includes. Pure.
//!
//! A label is written as one of:
//! - `extension:URL`: the value of the resource's extension with that URL;
//! - `Type.path.to.element` with `Type` the searched resource type: an
//!   element of the resource itself (`Appointment.serviceCategory`);
//! - `Type.path` or `Type.extension:URL` with another `Type`: the same,
//!   read from a resource of that type that the resource references and
//!   the page includes (`Location.address.state` through an Appointment's
//!   participant, a PractitionerRole's location, a Schedule's actor);
//! - `Type` alone: the referenced resource's name.
//!
//! References to Patient, RelatedPerson, Person and Group are never
//! followed: labels end up in emails, and those resources are members.

use std::collections::HashMap;

use serde_json::Value;

/// Resource types whose content must never become a label.
pub const MEMBER_TYPES: [&str; 4] = ["Patient", "RelatedPerson", "Person", "Group"];

/// Elements never read for labels: identifiers and free text, which may
/// name or describe a member.
const NOT_LABELS: [&str; 8] = [
    "identifier",
    "text",
    "comment",
    "description",
    "note",
    "patientInstruction",
    "contained",
    "subject",
];

/// Where a label (or the FTE) is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelSource {
    /// `None`: the resource itself; else a referenced resource type.
    pub via: Option<String>,
    pub path: Path,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Path {
    /// Element names from the resource down; empty: the reference's name.
    Elements(Vec<String>),
    /// `extension:URL`.
    Extension(String),
}

impl LabelSource {
    /// Parses a label's spelling for a source of `own_type`; the error
    /// says what is wrong.
    pub fn parse(text: &str, own_type: &str) -> Result<LabelSource, String> {
        let text = text.trim();
        if let Some(url) = text.strip_prefix("extension:") {
            return extension(url).map(|path| LabelSource { via: None, path });
        }
        let (kind, rest) = match text.split_once('.') {
            Some((kind, rest)) => (kind, Some(rest)),
            None => (text, None),
        };
        let type_like = kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && kind.chars().all(|c| c.is_ascii_alphanumeric());
        if !type_like {
            return Err(format!(
                "{text:?} is neither \"extension:URL\" nor \"Type.element\" (like \"Location.address.state\")"
            ));
        }
        if MEMBER_TYPES.contains(&kind) {
            return Err(format!(
                "labels may not be read from {kind} resources: they would put member data in reports and emails"
            ));
        }
        let path = match rest {
            None => Path::Elements(Vec::new()),
            Some(rest) => match rest.strip_prefix("extension:") {
                Some(url) => extension(url)?,
                None => {
                    let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
                    let valid = segments.iter().all(|s| {
                        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    });
                    if !valid {
                        return Err(format!(
                            "{text:?}: the element path after `{kind}.` must be names separated by dots, like \"address.state\""
                        ));
                    }
                    if let Some(free) = segments.iter().find(|s| NOT_LABELS.contains(&s.as_str())) {
                        return Err(format!(
                            "{text:?}: `{free}` may identify a member or hold free text; labels may not be read from it"
                        ));
                    }
                    Path::Elements(segments)
                }
            },
        };
        let via = (kind != own_type).then(|| kind.to_owned());
        if via.is_none() && path == Path::Elements(Vec::new()) {
            return Err(format!(
                "{text:?} names the resource itself: add an element, like \"{kind}.serviceCategory\""
            ));
        }
        Ok(LabelSource { via, path })
    }
}

fn extension(url: &str) -> Result<Path, String> {
    if url.trim().is_empty() || url.contains(char::is_whitespace) {
        return Err("`extension:` must be followed by the extension's URL".to_owned());
    }
    Ok(Path::Extension(url.to_owned()))
}

/// The resources of one page (and any fetched besides), by `Type/id` and
/// by `fullUrl`.
#[derive(Debug, Default)]
pub struct Index<'a> {
    by_reference: HashMap<String, &'a Value>,
}

impl<'a> Index<'a> {
    pub fn new(resources: impl IntoIterator<Item = (Option<&'a str>, &'a Value)>) -> Index<'a> {
        let mut index = Index::default();
        for (full_url, resource) in resources {
            index.add(full_url, resource);
        }
        index
    }

    pub fn add(&mut self, full_url: Option<&str>, resource: &'a Value) {
        if let Some(full_url) = full_url {
            self.by_reference.insert(full_url.to_owned(), resource);
        }
        let kind = resource.get("resourceType").and_then(Value::as_str);
        let id = resource.get("id").and_then(Value::as_str);
        if let (Some(kind), Some(id)) = (kind, id) {
            self.by_reference.insert(format!("{kind}/{id}"), resource);
        }
    }

    /// The resource `reference` points at, looked up in `within`'s
    /// contained resources for `#id`, else in the index.
    pub fn resolve(&self, reference: &str, within: &'a Value) -> Option<&'a Value> {
        if let Some(id) = reference.strip_prefix('#') {
            return within
                .get("contained")?
                .as_array()?
                .iter()
                .find(|r| r.get("id").and_then(Value::as_str) == Some(id));
        }
        if let Some(found) = self.by_reference.get(reference) {
            return Some(found);
        }
        self.by_reference.get(&reference_key(reference)?).copied()
    }
}

/// `Type/id` of a relative or absolute literal reference (a version
/// suffix dropped); `None` for conditional or contained references.
pub fn reference_key(reference: &str) -> Option<String> {
    if reference.contains('?') || reference.starts_with('#') {
        return None;
    }
    let trimmed = match reference.find("/_history/") {
        Some(at) => &reference[..at],
        None => reference,
    };
    let mut segments = trimmed.rsplit('/');
    let id = segments.next().filter(|s| !s.is_empty())?;
    let kind = segments
        .next()
        .filter(|s| s.chars().next().is_some_and(|c| c.is_ascii_uppercase()))?;
    Some(format!("{kind}/{id}"))
}

/// The resource type a Reference object points at: its `type`, else the
/// type in its literal reference.
pub fn reference_type(reference: &Value) -> Option<String> {
    if let Some(kind) = reference.get("type").and_then(Value::as_str) {
        return Some(kind.to_owned());
    }
    let key = reference_key(reference.get("reference")?.as_str()?)?;
    key.split_once('/').map(|(kind, _)| kind.to_owned())
}

/// Every Reference object in `resource` (outside `contained`), in
/// document order.
pub fn references(resource: &Value) -> Vec<&Value> {
    fn walk<'v>(value: &'v Value, out: &mut Vec<&'v Value>, top: bool) {
        match value {
            Value::Object(object) => {
                if !top && object.get("reference").is_some_and(Value::is_string) {
                    out.push(value);
                }
                for (key, child) in object {
                    if !(top && key == "contained") {
                        walk(child, out, false);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out, false)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(resource, &mut out, true);
    out
}

/// The resources of `kind` that `resource` references and `index` has.
pub fn referenced<'a>(resource: &'a Value, kind: &str, index: &Index<'a>) -> Vec<&'a Value> {
    references(resource)
        .into_iter()
        .filter(|r| reference_type(r).as_deref() == Some(kind))
        .filter_map(|r| index.resolve(r.get("reference")?.as_str()?, resource))
        .collect()
}

/// The value of `source` for `resource`, as label text.
pub fn label(resource: &Value, source: &LabelSource, index: &Index<'_>) -> Option<String> {
    let Some(kind) = &source.via else {
        return read_path(resource, &source.path, index);
    };
    for reference in references(resource) {
        if reference_type(reference).as_deref() != Some(kind.as_str()) {
            continue;
        }
        let found = if source.path == Path::Elements(Vec::new()) {
            reference_label(reference, resource, index)
        } else {
            reference
                .get("reference")
                .and_then(Value::as_str)
                .and_then(|r| index.resolve(r, resource))
                .and_then(|target| read_path(target, &source.path, index))
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn read_path(resource: &Value, path: &Path, index: &Index<'_>) -> Option<String> {
    match path {
        Path::Extension(url) => {
            extension_value(resource, url).and_then(|v| text(v, resource, index))
        }
        Path::Elements(segments) => {
            let mut values = vec![resource];
            for segment in segments {
                values = values
                    .into_iter()
                    .filter_map(|v| v.get(segment))
                    .flat_map(|v| match v {
                        Value::Array(items) => items.iter().collect::<Vec<_>>(),
                        other => vec![other],
                    })
                    .collect();
            }
            values.into_iter().find_map(|v| text(v, resource, index))
        }
    }
}

/// The `value[x]` of the resource's extension with `url`.
pub fn extension_value<'v>(resource: &'v Value, url: &str) -> Option<&'v Value> {
    resource
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(url))?
        .as_object()?
        .iter()
        .find(|(key, _)| key.starts_with("value"))
        .map(|(_, value)| value)
}

/// A value as label text: strings and numbers as they are; a Coding or
/// CodeableConcept by its first code; a Reference by the name of what it
/// points at; an extension by its value.
pub fn text(value: &Value, within: &Value, index: &Index<'_>) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items.iter().find_map(|v| text(v, within, index)),
        Value::Object(object) => {
            if object.contains_key("reference") || object.contains_key("identifier") {
                return reference_label(value, within, index);
            }
            for key in ["code", "coding", "concept", "value"] {
                if let Some(found) = object.get(key).and_then(|v| text(v, within, index)) {
                    return Some(found);
                }
            }
            if let Some(found) = object
                .iter()
                .find(|(key, _)| key.starts_with("value"))
                .and_then(|(_, v)| text(v, within, index))
            {
                return Some(found);
            }
            object
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        Value::Null => None,
    }
}

/// What a Reference names: the included resource's `name`, else the
/// reference's `display`, else the id in it. Nothing for member types.
pub fn reference_label(reference: &Value, within: &Value, index: &Index<'_>) -> Option<String> {
    let kind = reference_type(reference);
    if kind.as_deref().is_none_or(|k| MEMBER_TYPES.contains(&k)) {
        return None;
    }
    let literal = reference.get("reference").and_then(Value::as_str);
    let name = literal
        .and_then(|r| index.resolve(r, within))
        .and_then(|target| target.get("name"))
        .and_then(Value::as_str);
    let display = reference.get("display").and_then(Value::as_str);
    let id = literal
        .and_then(reference_key)
        .and_then(|key| key.split_once('/').map(|(_, id)| id.to_owned()));
    name.or(display)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or(id)
}
