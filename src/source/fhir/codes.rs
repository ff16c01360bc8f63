//! Codes to canonical values: the operator's `[source.fhir.codes.*]`
//! maps first, then the built-in defaults. Pure.
//!
//! Codings are read from CodeableConcepts, R5 CodeableReferences
//! (`{"concept": …}`), bare Codings and lists of any of these, so R4 and
//! R5 shapes both work. A map key is `"system|code"` or just `"code"`
//! (any system); a value of `""` switches a built-in default off.
//!
//! Built-in defaults:
//! - `provider_type`: NUCC taxonomy codes ([`super::nucc::provider_type`]);
//! - `visit_type`: HL7 v2 table 0276 (appointment reason codes):
//!   `FOLLOWUP` → `follow_up`; `ROUTINE` and `WALKIN` → `initial`
//!   (the table keeps `FOLLOWUP` for "a follow up visit from a previous
//!   appointment", so a sender that codes follow-ups marks them so);
//!   `CHECKUP` and `EMERGENCY` say nothing about initial or follow-up;
//! - `urgency`: v2-0276 `EMERGENCY` → `urgent`, `ROUTINE` →
//!   `non_urgent`; v3 ActPriority (R5 `Appointment.priority`) `EM`, `UR`,
//!   `S`, `A` → `urgent`, `R`, `EL` → `non_urgent`;
//! - `bh_category`: NUCC behavioral-health codes ([`super::nucc`]).

use std::collections::BTreeMap;

use serde_json::Value;

use super::nucc;

pub const V2_0276: &str = "http://terminology.hl7.org/CodeSystem/v2-0276";
pub const ACT_PRIORITY: &str = "http://terminology.hl7.org/CodeSystem/v3-ActPriority";

/// `[source.fhir.codes.FIELD]`: `"system|code"` or `"code"` → value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CodeMaps {
    pub provider_type: BTreeMap<String, String>,
    pub visit_type: BTreeMap<String, String>,
    pub urgency: BTreeMap<String, String>,
    pub bh_category: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeField {
    ProviderType,
    VisitType,
    Urgency,
    BhCategory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coding<'a> {
    pub system: Option<&'a str>,
    pub code: &'a str,
}

/// Every coding in `value`, in order.
pub fn codings<'a>(value: &'a Value, out: &mut Vec<Coding<'a>>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| codings(item, out)),
        Value::Object(object) => {
            if let Some(concept) = object.get("concept") {
                codings(concept, out);
            }
            if let Some(list) = object.get("coding") {
                codings(list, out);
            }
            if let Some(code) = object.get("code").and_then(Value::as_str) {
                out.push(Coding {
                    system: object.get("system").and_then(Value::as_str),
                    code,
                });
            }
        }
        _ => {}
    }
}

/// The codings of the named elements of `resource`, element by element.
pub fn codings_of<'a>(resource: &'a Value, elements: &[&str]) -> Vec<Coding<'a>> {
    let mut out = Vec::new();
    for element in elements {
        if let Some(value) = resource.get(*element) {
            codings(value, &mut out);
        }
    }
    out
}

impl CodeMaps {
    fn map(&self, field: CodeField) -> &BTreeMap<String, String> {
        match field {
            CodeField::ProviderType => &self.provider_type,
            CodeField::VisitType => &self.visit_type,
            CodeField::Urgency => &self.urgency,
            CodeField::BhCategory => &self.bh_category,
        }
    }

    /// The operator's value for one coding: `Some("")` means "ignore".
    fn configured(&self, field: CodeField, coding: Coding<'_>) -> Option<&str> {
        let map = self.map(field);
        coding
            .system
            .and_then(|system| map.get(&format!("{system}|{}", coding.code)))
            .or_else(|| map.get(coding.code))
            .map(String::as_str)
    }

    /// Every value the codings give for `field`, the operator's maps
    /// before the built-in defaults.
    pub fn values<'s>(&'s self, field: CodeField, codings: &[Coding<'_>]) -> Vec<&'s str> {
        let mut found: Vec<&str> = codings
            .iter()
            .filter_map(|c| self.configured(field, *c))
            .filter(|v| !v.is_empty())
            .collect();
        for coding in codings {
            if self.configured(field, *coding).is_none()
                && let Some(value) = builtin(field, *coding)
            {
                found.push(value);
            }
        }
        found
    }

    /// The first value the codings give for `field`.
    pub fn first(&self, field: CodeField, codings: &[Coding<'_>]) -> Option<String> {
        self.values(field, codings).first().map(|v| (*v).to_owned())
    }
}

fn builtin(field: CodeField, coding: Coding<'_>) -> Option<&'static str> {
    let is = |system: &str| coding.system.is_none_or(|s| s == system);
    match field {
        CodeField::ProviderType | CodeField::BhCategory => {
            let nucc = match coding.system {
                Some(system) => system == nucc::SYSTEM,
                None => nucc::looks_like_nucc(coding.code),
            };
            if !nucc {
                return None;
            }
            if field == CodeField::ProviderType {
                nucc::provider_type(coding.code)
            } else {
                nucc::bh_category(coding.code).map(nucc::BhCategory::as_str)
            }
        }
        CodeField::VisitType if is(V2_0276) => match coding.code {
            "FOLLOWUP" => Some("follow_up"),
            "ROUTINE" | "WALKIN" => Some("initial"),
            _ => None,
        },
        CodeField::Urgency if is(V2_0276) && coding.code == "EMERGENCY" => Some("urgent"),
        CodeField::Urgency if is(V2_0276) && coding.code == "ROUTINE" => Some("non_urgent"),
        CodeField::Urgency if coding.system == Some(ACT_PRIORITY) => match coding.code {
            "EM" | "UR" | "S" | "A" => Some("urgent"),
            "R" | "EL" => Some("non_urgent"),
            _ => None,
        },
        _ => None,
    }
}
