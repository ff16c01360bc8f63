//! `[[source]]` of kind "nppes": validating `[source.nppes]`.

use std::ops::Range;

use super::Validator;
use crate::config::raw::*;
use crate::source::nppes::NppesSpec;

pub(super) fn nppes(v: &mut Validator, _raw: &RawSource, span: &Range<usize>) -> Option<NppesSpec> {
    v.problem(span.clone(), "kind = \"nppes\" is not available yet");
    None
}
