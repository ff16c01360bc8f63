//! Stage one of `[source.postgres]`: the keys of sources of kind "postgres".

use serde::Deserialize;

#[allow(unused_imports)]
use super::raw::S;

#[derive(Debug, Default, Deserialize)]
pub struct RawPostgres {}
