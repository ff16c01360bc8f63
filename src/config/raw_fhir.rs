//! Stage one of `[source.fhir]`: the keys of sources of kind "fhir".
//!
//! The server's base URL is the `[[source]]` key `url`, and the HTTP keys
//! (timeouts, retries, body cap, CA bundle, bearer token, headers) stay at
//! the `[[source]]` level too; everything FHIR-specific is here.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::raw::S;

#[derive(Debug, Default, Deserialize)]
pub struct RawFhir {
    pub resource: Option<S<String>>,
    pub search: Option<BTreeMap<String, S<SearchValue>>>,
    pub count: Option<S<i64>>,
    pub max_pages: Option<S<i64>>,
    pub incremental: Option<S<bool>>,
    pub full_sync_every: Option<S<String>>,
    // client credentials
    pub token_url: Option<S<String>>,
    pub client_id: Option<S<String>>,
    pub client_secret: Option<S<String>>,
    pub client_secret_file: Option<S<String>>,
    pub client_secret_env: Option<S<String>>,
    pub client_secret_credential: Option<S<String>>,
    pub scope: Option<S<String>>,
    // mapping
    pub requested_from: Option<S<String>>,
    pub urgent_priority: Option<S<i64>>,
    pub default_visit_type: Option<S<String>>,
    pub default_provider_type: Option<S<String>>,
    pub default_urgency: Option<S<String>>,
    pub labels: Option<BTreeMap<String, S<String>>>,
    // Slot
    pub horizon: Option<S<String>>,
    pub schedule_search: Option<BTreeMap<String, S<SearchValue>>>,
    // PractitionerRole
    pub fte: Option<S<String>>,
    pub codes: Option<RawCodes>,
}

/// `[source.fhir.codes.FIELD]`: `"system|code"` or `"code"` → value.
#[derive(Debug, Default, Deserialize)]
pub struct RawCodes {
    pub provider_type: Option<BTreeMap<String, S<String>>>,
    pub visit_type: Option<BTreeMap<String, S<String>>>,
    pub urgency: Option<BTreeMap<String, S<String>>>,
    pub bh_category: Option<BTreeMap<String, S<String>>>,
}

/// A search parameter's value: one, or a list for a parameter that
/// repeats (`_include = ["Appointment:location", "Appointment:based-on"]`).
/// Numbers are taken as their text (`date`-like values must be strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchValue(pub Vec<String>);

impl<'de> Deserialize<'de> for SearchValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SearchValue, D::Error> {
        struct Values;
        impl<'de> Visitor<'de> for Values {
            type Value = SearchValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<SearchValue, E> {
                Ok(SearchValue(vec![value.to_owned()]))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<SearchValue, E> {
                Ok(SearchValue(vec![value.to_string()]))
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<SearchValue, E> {
                Ok(SearchValue(vec![value.to_string()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SearchValue, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<String>()? {
                    values.push(value);
                }
                Ok(SearchValue(values))
            }
        }
        deserializer.deserialize_any(Values)
    }
}
