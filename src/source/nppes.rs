//! Sources of kind "nppes" (not available yet).

use crate::table::Table;

use super::FetchContext;

#[derive(Debug, Clone)]
pub struct NppesSpec {}

impl NppesSpec {
    /// Where the data comes from, for `check-config` (no credentials).
    pub fn describe(&self) -> String {
        "nppes".to_owned()
    }
}

pub async fn fetch(_spec: &NppesSpec, _context: &FetchContext<'_>) -> anyhow::Result<Table> {
    anyhow::bail!("kind = \"nppes\" is not available yet")
}
