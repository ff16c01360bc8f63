//! Sources of kind "postgres" (not available yet).

use crate::table::Table;

use super::FetchContext;

#[derive(Debug, Clone)]
pub struct PostgresSpec {}

impl PostgresSpec {
    /// Where the data comes from, for `check-config` (no credentials).
    pub fn describe(&self) -> String {
        "postgres".to_owned()
    }
}

pub async fn fetch(_spec: &PostgresSpec, _context: &FetchContext<'_>) -> anyhow::Result<Table> {
    anyhow::bail!("kind = \"postgres\" is not available yet")
}
