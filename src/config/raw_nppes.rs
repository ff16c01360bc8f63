//! Stage one of `[source.nppes]`: the keys of sources of kind "nppes".

use serde::Deserialize;

#[allow(unused_imports)]
use super::raw::S;

#[derive(Debug, Default, Deserialize)]
pub struct RawNppes {}
