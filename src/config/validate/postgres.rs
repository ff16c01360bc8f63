//! `[[source]]` of kind "postgres": validating `[source.postgres]`.

use std::ops::Range;

use super::Validator;
use crate::config::raw::*;
use crate::source::postgres::PostgresSpec;

pub(super) fn postgres(
    v: &mut Validator,
    _raw: &RawSource,
    span: &Range<usize>,
) -> Option<PostgresSpec> {
    v.problem(span.clone(), "kind = \"postgres\" is not available yet");
    None
}
