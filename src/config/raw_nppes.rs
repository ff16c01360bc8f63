//! Stage one of `[source.nppes]`: the keys of sources of kind "nppes".

use std::collections::BTreeMap;

use serde::Deserialize;

use super::raw::S;

#[derive(Debug, Default, Deserialize)]
pub struct RawNppes {
    pub base_url: Option<S<String>>,
    pub search: Option<BTreeMap<String, S<String>>>,
    pub limit: Option<S<i64>>,
    pub max_records: Option<S<i64>>,
}
