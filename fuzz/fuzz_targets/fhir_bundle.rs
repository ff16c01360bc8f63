//! One page of a FHIR search, parsed and every match mapped as an
//! Appointment and as a PractitionerRole, then made into a table.
#![no_main]

use std::collections::HashMap;

use accesswatch::source::fhir::mapped;
use accesswatch::source::fhir::resolve::Index;
use accesswatch::source::fhir::{FhirSpec, Mapping, ResourceKind, appointment, bundle, roster};
use libfuzzer_sys::fuzz_target;

fn spec(resource: ResourceKind) -> FhirSpec {
    FhirSpec {
        base: url::Url::parse("http://127.0.0.1/fhir").expect("a URL"),
        http: accesswatch::source::spec::HttpOptions {
            connect_timeout: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            retries: 0,
            retry_backoff: std::time::Duration::from_millis(10),
            max_body_size: 1 << 20,
            headers: Vec::new(),
            ca_file: None,
        },
        auth: None,
        resource,
        search: Vec::new(),
        schedule_search: Vec::new(),
        count: None,
        max_pages: 10,
        incremental: false,
        full_sync_every: chrono::Duration::days(7),
        mapping: Mapping::default(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(page) = bundle::parse(data, 1, "Appointment") else {
        return;
    };
    let index = Index::new(
        page.included
            .iter()
            .map(|(url, resource)| (url.as_deref(), resource)),
    );
    let mapping = Mapping::default();
    let now = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000);
    let appointments: Vec<_> = page
        .matches
        .iter()
        .filter_map(|r| appointment::map(r, &index, &HashMap::new(), &mapping))
        .collect();
    for record in &appointments {
        let _ = mapped::from_json(&mapped::to_json(record));
    }
    let _ = mapped::table(appointments, &spec(ResourceKind::Appointment), now, now);
    let roles: Vec<_> = page
        .matches
        .iter()
        .filter_map(|r| roster::map(r, &index, &mapping))
        .collect();
    let _ = mapped::table(roles, &spec(ResourceKind::PractitionerRole), now, now);
});
