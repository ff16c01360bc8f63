//! Plan-Net PractitionerRole → one roster row per role. Pure.
//!
//! A role counts while `active` is not `false` and its `period` covers
//! the evaluation time. It is classified by the NUCC codes of its
//! `specialty`, not its `code`: real directories code therapists' roles
//! as "Physician". Columns:
//! - `network`: the Plan-Net `network-reference` extension's network
//!   (the included Organization's name, else the reference's display,
//!   else its id);
//! - `location`: the first `location`, named the same way;
//! - `taxonomy`: the first NUCC code of `specialty`;
//! - `bh_category`: `psychologist`, `social_worker`, `mft`, `counselor`,
//!   `psychiatrist`, `psych_np` or `other` (the first specialty code with
//!   a category; deactivated codes have none);
//! - `bh`: 1 for a behavioral-health role, else 0;
//! - `fte`: from `fte` in `[source.fhir]` (an extension or element),
//!   1 when the role has none, empty when it is not a number; `bh_fte`: `fte` for a behavioral-health role, else 0, so that
//!   a ratio check can use `denominator = "bh_fte"`;
//! - `deactivated_code`: whether a specialty code is deactivated in NUCC;
//! - every configured label.

use serde_json::Value;

use super::Mapping;
use super::codes::{CodeField, codings_of};
use super::mapped::{Record, text_value};
use super::nucc::{self, BhCategory};
use super::resolve::{self, Index};
use crate::table::Value as Cell;

pub const NETWORK_EXTENSION: &str =
    "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/network-reference";

/// Maps one PractitionerRole; `None` for an inactive role.
pub fn map(resource: &Value, index: &Index<'_>, mapping: &Mapping) -> Option<Record> {
    if resource.get("active").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let mut record = Record::new();
    for (bound, name) in [("start", "_period_start"), ("end", "_period_end")] {
        let time = resource
            .pointer(&format!("/period/{bound}"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if time.is_some() {
            record.insert(name.to_owned(), text_value(time));
        }
    }
    let network = resolve::extension_value(resource, NETWORK_EXTENSION)
        .and_then(|reference| resolve::reference_label(reference, resource, index));
    record.insert("network".to_owned(), text_value(network));
    let location = resource
        .get("location")
        .and_then(Value::as_array)
        .and_then(|list| list.first())
        .and_then(|reference| resolve::reference_label(reference, resource, index));
    record.insert("location".to_owned(), text_value(location));
    let codings = codings_of(resource, &["specialty"]);
    let taxonomy = codings
        .iter()
        .find(|c| c.system == Some(nucc::SYSTEM) || nucc::looks_like_nucc(c.code))
        .map(|c| c.code.to_owned());
    record.insert("taxonomy".to_owned(), text_value(taxonomy));
    let deactivated = codings.iter().any(|c| nucc::is_deactivated(c.code));
    let category = mapping
        .codes
        .first(CodeField::BhCategory, &codings)
        .and_then(|c| BhCategory::parse(&c))
        .unwrap_or(BhCategory::Other);
    let bh = category != BhCategory::Other;
    record.insert(
        "bh_category".to_owned(),
        Cell::Text(category.as_str().to_owned()),
    );
    record.insert("bh".to_owned(), Cell::Number(if bh { 1.0 } else { 0.0 }));
    let fte = match mapping
        .fte
        .as_ref()
        .and_then(|s| resolve::label(resource, s, index))
    {
        None => Some(1.0),
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0),
    };
    // An FTE that is there but not a number leaves the cells empty, so
    // that the ratio check names the record instead of counting 1.
    let number = |n: Option<f64>| n.map_or(Cell::Null, Cell::Number);
    record.insert("fte".to_owned(), number(fte));
    record.insert(
        "bh_fte".to_owned(),
        number(fte.map(|f| if bh { f } else { 0.0 })),
    );
    record.insert("deactivated_code".to_owned(), Cell::Bool(deactivated));
    for (name, source) in &mapping.labels {
        record.insert(
            name.clone(),
            text_value(resolve::label(resource, source, index)),
        );
    }
    Some(record)
}
