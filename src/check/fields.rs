//! The canonical fields of an appointment record ([`Field`]) and the
//! source's spellings of their values ([`ValueMaps`]). Sources map their
//! columns onto these; the wait-time evaluator reads them.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Id,
    RequestedAt,
    PriorAppointmentAt,
    DischargedAt,
    FirstOfferedAt,
    VisitType,
    Urgency,
    PriorAuth,
    ProviderType,
    ExtendedByProvider,
    Modality,
    RequestedModality,
    CallStartedAt,
    AnsweredAt,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::Id,
        Field::RequestedAt,
        Field::PriorAppointmentAt,
        Field::DischargedAt,
        Field::FirstOfferedAt,
        Field::VisitType,
        Field::Urgency,
        Field::PriorAuth,
        Field::ProviderType,
        Field::ExtendedByProvider,
        Field::Modality,
        Field::RequestedModality,
        Field::CallStartedAt,
        Field::AnsweredAt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::RequestedAt => "requested_at",
            Field::PriorAppointmentAt => "prior_appointment_at",
            Field::DischargedAt => "discharged_at",
            Field::FirstOfferedAt => "first_offered_at",
            Field::VisitType => "visit_type",
            Field::Urgency => "urgency",
            Field::PriorAuth => "prior_auth",
            Field::ProviderType => "provider_type",
            Field::ExtendedByProvider => "extended_by_provider",
            Field::Modality => "modality",
            Field::RequestedModality => "requested_modality",
            Field::CallStartedAt => "call_started_at",
            Field::AnsweredAt => "answered_at",
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Fields whose values are looked up in `[source.values]`.
    pub fn has_values(self) -> bool {
        matches!(
            self,
            Field::VisitType
                | Field::Urgency
                | Field::PriorAuth
                | Field::ProviderType
                | Field::ExtendedByProvider
                | Field::Modality
                | Field::RequestedModality
        )
    }
}

/// The source's spellings of canonical values: field → (source value →
/// canonical value). Values not listed are taken as they are.
#[derive(Debug, Clone, Default)]
pub struct ValueMaps {
    maps: HashMap<Field, HashMap<String, String>>,
}

impl ValueMaps {
    pub fn new(maps: HashMap<Field, HashMap<String, String>>) -> ValueMaps {
        ValueMaps { maps }
    }

    /// The source's spellings listed for `field`.
    pub fn spellings(&self, field: Field) -> impl Iterator<Item = &str> {
        self.maps
            .get(&field)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    pub fn canonical<'a>(&'a self, field: Field, text: &'a str) -> &'a str {
        self.maps
            .get(&field)
            .and_then(|m| m.get(text))
            .map_or(text, String::as_str)
    }
}

/// Every spelling [`parse_bool`] accepts.
pub const BOOL_SPELLINGS: [&str; 18] = [
    "true", "TRUE", "True", "yes", "Yes", "YES", "y", "Y", "1", "false", "FALSE", "False", "no",
    "No", "NO", "n", "N", "0",
];

/// `true`/`false`, and the usual spellings of yes and no.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "TRUE" | "True" | "yes" | "Yes" | "YES" | "y" | "Y" | "1" => Some(true),
        "false" | "FALSE" | "False" | "no" | "No" | "NO" | "n" | "N" | "0" => Some(false),
        _ => None,
    }
}
