//! `[[source]]` of kind "fhir": validating `[source.fhir]`.

use std::ops::Range;

use super::Validator;
use crate::config::raw::*;
use crate::source::fhir::FhirSpec;

pub(super) fn fhir(v: &mut Validator, _raw: &RawSource, span: &Range<usize>) -> Option<FhirSpec> {
    v.problem(span.clone(), "kind = \"fhir\" is not available yet");
    None
}
