//! Appointment → one appointment request for wait-time checks. Pure.
//!
//! `requested_at` is `created`, or with `requested_from =
//! "service-request"` the `authoredOn` of the ServiceRequest in `basedOn`
//! (an Appointment without one falls back to `created`; one whose
//! ServiceRequest cannot be found has no request time, and the check
//! rejects and counts it).
//!
//! `first_offered_at` follows the status, because "the offered
//! appointment counts, not the one the member took":
//! - `booked`, `arrived`, `checked-in`, `fulfilled`: offered at `start`;
//! - `noshow`: offered at `start` (the member did not come; it was offered);
//! - `proposed`, `pending`: offered at `start` only when it has one and
//!   every provider-side participant (Practitioner, PractitionerRole,
//!   HealthcareService, Location, Device, CareTeam, Organization) has
//!   accepted: the provider has offered that time and the member has not
//!   answered yet; otherwise not offered yet;
//! - `waitlist`: not offered (a wish for a time is not an offer);
//! - `cancelled`: offered at `start` when it has one, unless the
//!   cancellation came from the provider's side (reason `prov`, `prov-*`
//!   or `maint` in `cancelationReason`, R5 `cancellationReason`, or a
//!   provider-side participant who `declined`): a member declining does
//!   not make the plan non-compliant, a provider withdrawing does;
//! - `entered-in-error`: not a request at all; dropped (and deleted from
//!   an incremental mirror).
//!
//! A status outside the value set, or a booked-like status without a
//! `start` (which invariant app-3 forbids), is passed on as an unparsable
//! `first_offered_at`, so the check rejects and counts the row instead of
//! guessing.

use std::collections::HashMap;

use serde_json::Value;

use super::codes::{CodeField, Coding, codings_of};
use super::mapped::{Record, text_value};
use super::resolve::{self, Index};
use super::{Mapping, RequestedFrom};

/// Elements whose codes classify an Appointment, in order of preference.
const CODED: [&str; 6] = [
    "appointmentType",
    "serviceType",
    "specialty",
    "serviceCategory",
    "class",
    "priority",
];

const PROVIDER_SIDE: [&str; 7] = [
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
    "Location",
    "Device",
    "CareTeam",
    "Organization",
];

/// What `first_offered_at` becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer<'a> {
    At(&'a str),
    NotYet,
    /// The row is passed on unparsable (see the module comment).
    Invalid(&'static str),
}

/// The offer an Appointment stands for; `None` for `entered-in-error`.
pub fn offer(resource: &Value) -> Option<Offer<'_>> {
    let start = resource
        .get("start")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty());
    let status = resource.get("status").and_then(Value::as_str).unwrap_or("");
    let offer = match status {
        "entered-in-error" => return None,
        "booked" | "arrived" | "checked-in" | "fulfilled" | "noshow" => {
            start.map_or(Offer::Invalid("missing start"), Offer::At)
        }
        "proposed" | "pending" => match start {
            Some(start) if provider_side_accepted(resource) => Offer::At(start),
            _ => Offer::NotYet,
        },
        "waitlist" => Offer::NotYet,
        "cancelled" => match start {
            Some(start) if !cancelled_by_provider(resource) => Offer::At(start),
            _ => Offer::NotYet,
        },
        _ => Offer::Invalid("unknown status"),
    };
    Some(offer)
}

/// `(participant status, is provider side)` of each participant with an
/// actor.
fn participants(resource: &Value) -> impl Iterator<Item = (Option<&str>, bool)> {
    resource
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let actor = p.get("actor")?;
            let kind = resolve::reference_type(actor);
            let provider = kind.is_some_and(|k| PROVIDER_SIDE.contains(&k.as_str()));
            Some((p.get("status").and_then(Value::as_str), provider))
        })
}

fn provider_side_accepted(resource: &Value) -> bool {
    let mut any = false;
    for (status, provider) in participants(resource) {
        if provider {
            any = true;
            if status != Some("accepted") {
                return false;
            }
        }
    }
    any
}

fn cancelled_by_provider(resource: &Value) -> bool {
    let reasons = codings_of(resource, &["cancelationReason", "cancellationReason"]);
    let by_reason = reasons
        .iter()
        .any(|c| c.code == "prov" || c.code.starts_with("prov-") || c.code == "maint");
    by_reason
        || participants(resource).any(|(status, provider)| provider && status == Some("declined"))
}

/// The ServiceRequests of `basedOn`, by `Type/id`.
pub fn service_requests(resource: &Value) -> Vec<String> {
    resource
        .get("basedOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| resolve::reference_type(r).as_deref() == Some("ServiceRequest"))
        .filter_map(|r| resolve::reference_key(r.get("reference")?.as_str()?))
        .collect()
}

/// Maps one Appointment. `authored` holds the `authoredOn` of
/// ServiceRequests fetched besides the page (by `Type/id`).
pub fn map(
    resource: &Value,
    index: &Index<'_>,
    authored: &HashMap<String, Option<String>>,
    mapping: &Mapping,
) -> Option<Record> {
    let offer = offer(resource)?;
    let mut record = Record::new();
    let created = resource.get("created").and_then(Value::as_str);
    let requested_at = match mapping.requested_from {
        RequestedFrom::Created => created.map(str::to_owned),
        RequestedFrom::ServiceRequest => match service_requests(resource).first() {
            None => created.map(str::to_owned),
            Some(key) => {
                record.insert("_request".to_owned(), text_value(Some(request_key(key))));
                index
                    .resolve(key, resource)
                    .and_then(|r| r.get("authoredOn"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| authored.get(key).cloned().flatten())
            }
        },
    };
    record.insert("requested_at".to_owned(), text_value(requested_at));
    let first_offered_at = match offer {
        Offer::At(start) => Some(start.to_owned()),
        Offer::NotYet => None,
        Offer::Invalid(why) => Some(why.to_owned()),
    };
    record.insert("first_offered_at".to_owned(), text_value(first_offered_at));
    let codings = codings_of(resource, &CODED);
    let codes = &mapping.codes;
    let visit_type = codes
        .first(CodeField::VisitType, &codings)
        .or_else(|| mapping.default_visit_type.clone());
    record.insert("visit_type".to_owned(), text_value(visit_type));
    record.insert(
        "urgency".to_owned(),
        text_value(urgency(resource, &codings, mapping)),
    );
    let provider_type = codes
        .first(CodeField::ProviderType, &codings)
        .or_else(|| provider_type_of_participants(resource, index, mapping))
        .or_else(|| mapping.default_provider_type.clone());
    record.insert("provider_type".to_owned(), text_value(provider_type));
    record.insert(
        "modality".to_owned(),
        text_value(modality(resource, &codings).map(str::to_owned)),
    );
    for (name, source) in &mapping.labels {
        record.insert(
            name.clone(),
            text_value(resolve::label(resource, source, index)),
        );
    }
    Some(record)
}

/// How the appointment is held: `telehealth` for an R5 `virtualService`
/// or a v3 ActCode `VR` (virtual) code, `in_person` for an ActCode `AMB`
/// (ambulatory) code; unknown otherwise, which counts as any offer does.
fn modality(resource: &Value, codings: &[Coding<'_>]) -> Option<&'static str> {
    let virtual_service = resource
        .get("virtualService")
        .and_then(Value::as_array)
        .is_some_and(|v| !v.is_empty());
    let act_code = |code: &str| {
        codings.iter().any(|c| {
            c.code == code && c.system == Some("http://terminology.hl7.org/CodeSystem/v3-ActCode")
        })
    };
    if virtual_service || act_code("VR") {
        Some("telehealth")
    } else if act_code("AMB") {
        Some("in_person")
    } else {
        None
    }
}

/// Urgent if any code or the R4 priority says so; else non-urgent if one
/// says so; else the default.
fn urgency(resource: &Value, codings: &[Coding<'_>], mapping: &Mapping) -> Option<String> {
    let values = mapping.codes.values(CodeField::Urgency, codings);
    let priority = resource
        .get("priority")
        .and_then(Value::as_u64)
        .filter(|p| *p > 0);
    let urgent_by_priority = priority.is_some_and(|p| p <= u64::from(mapping.urgent_priority));
    if urgent_by_priority || values.contains(&"urgent") {
        return Some("urgent".to_owned());
    }
    if let Some(first) = values.first() {
        return Some((*first).to_owned());
    }
    if priority.is_some() {
        return Some("non_urgent".to_owned());
    }
    mapping.default_urgency.clone()
}

/// The provider type of an included PractitionerRole or HealthcareService
/// participant, by its specialty.
fn provider_type_of_participants(
    resource: &Value,
    index: &Index<'_>,
    mapping: &Mapping,
) -> Option<String> {
    ["PractitionerRole", "HealthcareService"]
        .into_iter()
        .flat_map(|kind| resolve::referenced(resource, kind, index))
        .find_map(|target| {
            let codings = codings_of(target, &["specialty", "type", "code"]);
            mapping.codes.first(CodeField::ProviderType, &codings)
        })
}

/// A key that ties the appointments of one ServiceRequest together
/// without keeping its id: a hash of it.
fn request_key(reference: &str) -> String {
    // FNV-1a: stable across runs and Rust versions, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in reference.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}
