//! Sources of kind "fhir" (not available yet).

use crate::table::Table;

use super::FetchContext;

#[derive(Debug, Clone)]
pub struct FhirSpec {}

impl FhirSpec {
    /// Where the data comes from, for `check-config` (no credentials).
    pub fn describe(&self) -> String {
        "fhir".to_owned()
    }
}

pub async fn fetch(_spec: &FhirSpec, _context: &FetchContext<'_>) -> anyhow::Result<Table> {
    anyhow::bail!("kind = \"fhir\" is not available yet")
}
