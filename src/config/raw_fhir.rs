//! Stage one of `[source.fhir]`: the keys of sources of kind "fhir".

use serde::Deserialize;

#[allow(unused_imports)]
use super::raw::S;

#[derive(Debug, Default, Deserialize)]
pub struct RawFhir {}
