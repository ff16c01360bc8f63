//! `[[source]]` of kind "fhir": validating `[source.fhir]`.
//!
//! `url` (the FHIR base) and the HTTP keys are read at the `[[source]]`
//! level with the other HTTP-based kinds; the keys of `[source.fhir]` are
//! checked here, each against the resource types it applies to.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use super::source::{http_options, http_url};
use super::{Validator, ident};
use crate::check::standards::{ProviderType, Urgency, VisitType};
use crate::config::raw::*;
use crate::config::raw_fhir::{RawCodes, RawFhir, SearchValue};
use crate::source::fhir::mapped::{APPOINTMENT_COLUMNS, ROSTER_COLUMNS};
use crate::source::fhir::nucc::BhCategory;
use crate::source::fhir::{
    ClientCredentials, CodeMaps, FhirSpec, LabelSource, Mapping, RequestedFrom, ResourceKind,
};

use ResourceKind::{Appointment, PractitionerRole, Slot};

pub(super) fn fhir(v: &mut Validator, raw: &RawSource, span: &Range<usize>) -> Option<FhirSpec> {
    let not_here: [(&str, Option<Range<usize>>); 6] = [
        ("path", raw.path.as_ref().map(S::span)),
        ("format", raw.format.as_ref().map(S::span)),
        ("records", raw.records.as_ref().map(S::span)),
        ("csv_delimiter", raw.csv_delimiter.as_ref().map(S::span)),
        ("time_field", raw.time_field.as_ref().map(S::span)),
        (
            "[source.fields]",
            raw.fields.iter().flatten().next().map(|(_, f)| f.span()),
        ),
    ];
    for (key, found) in not_here {
        if let Some(at) = found {
            v.problem(
                at,
                format!(
                    "`{key}` does not apply to kind = \"fhir\" (rows come with canonical field names; \
                     the data time is the newest meta.lastUpdated); remove it"
                ),
            );
        }
    }
    let base = http_url(v, &raw.url, span, "url", "fhir");
    if let Some(base) = &base
        && (base.query().is_some() || base.fragment().is_some())
    {
        v.problem(
            raw.url.as_ref().map_or(span.clone(), S::span),
            "`url` is the FHIR base (like \"https://fhir.plan.example/r4\"), without a query: \
             put search parameters in [source.fhir] search",
        );
    }
    let http = http_options(v, raw, span);
    let Some(fhir) = &raw.fhir else {
        v.problem(
            span.clone(),
            "missing section [source.fhir] for kind = \"fhir\": add it with \
             resource = \"Appointment\", \"Slot\" or \"PractitionerRole\"",
        );
        return None;
    };
    let resource = v
        .required(&fhir.resource, span, "`resource` in [source.fhir]")
        .and_then(|r| {
            v.choice(
                r,
                "resource",
                &[
                    ("Appointment", Appointment),
                    ("Slot", Slot),
                    ("PractitionerRole", PractitionerRole),
                ],
            )
        });
    let incremental = fhir.incremental.as_ref().is_some_and(|i| *i.get_ref());
    let search = search(v, &fhir.search, "search", incremental);
    let schedule_search = search_only(v, &fhir.schedule_search, "schedule_search");
    let count = fhir
        .count
        .as_ref()
        .and_then(|c| bounded(v, c, "count", 1, 10_000));
    let max_pages = fhir
        .max_pages
        .as_ref()
        .map_or(Some(1000), |m| bounded(v, m, "max_pages", 1, 1_000_000));
    let full_sync_every = v.duration(
        &fhir.full_sync_every,
        "full_sync_every",
        Duration::from_secs(7 * 86_400),
    );
    if let Some(every) = &fhir.full_sync_every
        && !incremental
    {
        v.problem(
            every.span(),
            "`full_sync_every` applies with incremental = true only; remove it",
        );
    }
    let auth = client_credentials(v, fhir, raw, span);
    let resource = resource?;
    if incremental && resource == Slot {
        let at = fhir.incremental.as_ref().map_or(span.clone(), S::span);
        v.problem(
            at,
            "`incremental` applies to resource = \"Appointment\" and \"PractitionerRole\": \
             free slots describe the present; remove it",
        );
    }
    applies(
        v,
        "schedule_search",
        first_span(&fhir.schedule_search),
        resource,
        &[Slot],
    );
    let mapping = mapping(v, fhir, resource)?;
    Some(FhirSpec {
        base: base?,
        http,
        auth,
        resource,
        search,
        schedule_search,
        count,
        max_pages: max_pages?,
        incremental,
        full_sync_every: chrono::Duration::from_std(full_sync_every)
            .unwrap_or(chrono::Duration::days(7)),
        mapping,
    })
}

fn first_span<T>(map: &Option<BTreeMap<String, S<T>>>) -> Option<Range<usize>> {
    map.iter().flatten().next().map(|(_, value)| value.span())
}

/// Reports `key` (at `at`) when `resource` is not one it applies to.
fn applies(
    v: &mut Validator,
    key: &str,
    at: Option<Range<usize>>,
    resource: ResourceKind,
    to: &[ResourceKind],
) {
    if let Some(at) = at
        && !to.contains(&resource)
    {
        let names: Vec<String> = to.iter().map(|r| format!("\"{}\"", r.as_str())).collect();
        v.problem(
            at,
            format!(
                "`{key}` applies to resource = {} only; remove it",
                names.join(" or ")
            ),
        );
    }
}

fn bounded(v: &mut Validator, value: &S<i64>, key: &str, min: i64, max: i64) -> Option<u32> {
    match u32::try_from(*value.get_ref()) {
        Ok(n) if i64::from(n) >= min && i64::from(n) <= max => Some(n),
        _ => {
            v.problem(
                value.span(),
                format!("`{key}` must be a whole number from {min} to {max}"),
            );
            None
        }
    }
}

fn search_only(
    v: &mut Validator,
    table: &Option<BTreeMap<String, S<SearchValue>>>,
    key: &str,
) -> Vec<(String, String)> {
    search(v, table, key, false)
}

/// Search parameters in the file's order, one pair per value.
fn search(
    v: &mut Validator,
    table: &Option<BTreeMap<String, S<SearchValue>>>,
    key: &str,
    incremental: bool,
) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut entries: Vec<(&String, &S<SearchValue>)> = table.iter().flatten().collect();
    entries.sort_by_key(|(_, value)| value.span().start);
    for (name, value) in entries {
        let reserved = match name.as_str() {
            "_count" => Some("use `count` in [source.fhir] instead"),
            "_format" => Some("the source always asks for application/fhir+json; remove it"),
            "_lastUpdated" if incremental => Some(
                "incremental = true adds `_lastUpdated` itself; remove it or set incremental = false",
            ),
            "" => Some("a search parameter needs a name"),
            _ => None,
        };
        if let Some(advice) = reserved {
            v.problem(value.span(), format!("`{name}` in `{key}`: {advice}"));
            continue;
        }
        if value.get_ref().0.is_empty() || value.get_ref().0.iter().any(|s| s.trim().is_empty()) {
            v.problem(
                value.span(),
                format!("`{name}` in `{key}` has an empty value"),
            );
            continue;
        }
        for one in &value.get_ref().0 {
            params.push((name.clone(), one.clone()));
        }
    }
    params
}

fn client_credentials(
    v: &mut Validator,
    fhir: &RawFhir,
    raw: &RawSource,
    span: &Range<usize>,
) -> Option<ClientCredentials> {
    let secret_given = fhir.client_secret_file.is_some()
        || fhir.client_secret_env.is_some()
        || fhir.client_secret_credential.is_some();
    let any = fhir.token_url.is_some() || fhir.client_id.is_some() || secret_given;
    let secret = v.secret(
        "client_secret",
        fhir.client_secret.as_ref(),
        &fhir.client_secret_file,
        &fhir.client_secret_env,
        &fhir.client_secret_credential,
    );
    if !any {
        if let Some(scope) = &fhir.scope {
            v.problem(
                scope.span(),
                "`scope` applies with client credentials (token_url, client_id, client_secret_file) only; remove it",
            );
        }
        return None;
    }
    let what = "with client credentials in [source.fhir]";
    let token_url = match &fhir.token_url {
        None => {
            v.problem(span.clone(), format!("missing key `token_url` {what}"));
            None
        }
        Some(url) => token_url(v, url),
    };
    let client_id = match &fhir.client_id {
        None => {
            v.problem(span.clone(), format!("missing key `client_id` {what}"));
            None
        }
        Some(id) => v.non_empty(id, "client_id"),
    };
    if !secret_given && fhir.client_secret.is_none() {
        v.problem(
            span.clone(),
            format!("missing key `client_secret_file` (or client_secret_env, client_secret_credential) {what}"),
        );
    }
    let bearer = [
        &raw.bearer_token_file,
        &raw.bearer_token_env,
        &raw.bearer_token_credential,
    ];
    if let Some(given) = bearer.into_iter().flatten().next() {
        v.problem(
            given.span(),
            "give either a bearer token or client credentials (token_url, client_id, client_secret_*), not both",
        );
    }
    Some(ClientCredentials {
        token_url: token_url?,
        client_id: client_id?,
        client_secret: secret?,
        scope: fhir.scope.as_ref().map(|s| s.get_ref().clone()),
    })
}

fn token_url(v: &mut Validator, value: &S<String>) -> Option<url::Url> {
    match url::Url::parse(value.get_ref()) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.username().is_empty()
                && url.password().is_none() =>
        {
            Some(url)
        }
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            v.problem(
                value.span(),
                "`token_url` must not carry credentials: use client_id and client_secret_file (or _env, _credential)",
            );
            None
        }
        Ok(_) => {
            v.problem(
                value.span(),
                "`token_url` must start with http:// or https://",
            );
            None
        }
        Err(e) => {
            v.problem(value.span(), format!("`token_url` is not a URL ({e})"));
            None
        }
    }
}

fn mapping(v: &mut Validator, fhir: &RawFhir, resource: ResourceKind) -> Option<Mapping> {
    let mut mapping = Mapping::default();
    if let Some(from) = &fhir.requested_from {
        applies(
            v,
            "requested_from",
            Some(from.span()),
            resource,
            &[Appointment],
        );
        mapping.requested_from = v
            .choice(
                from,
                "requested_from",
                &[
                    ("created", RequestedFrom::Created),
                    ("service-request", RequestedFrom::ServiceRequest),
                ],
            )
            .unwrap_or_default();
    }
    if let Some(priority) = &fhir.urgent_priority {
        applies(
            v,
            "urgent_priority",
            Some(priority.span()),
            resource,
            &[Appointment],
        );
        mapping.urgent_priority = bounded(v, priority, "urgent_priority", 0, 9).unwrap_or(4);
    }
    let canonical =
        |v: &mut Validator, value: &Option<S<String>>, key: &str, ok: fn(&str) -> bool| {
            let value = value.as_ref()?;
            if !ok(value.get_ref()) {
                v.problem(
                    value.span(),
                    format!(
                        "{:?} is not a value of `{}`",
                        value.get_ref(),
                        key.trim_start_matches("default_")
                    ),
                );
                return None;
            }
            Some(value.get_ref().clone())
        };
    applies(
        v,
        "default_visit_type",
        fhir.default_visit_type.as_ref().map(S::span),
        resource,
        &[Appointment],
    );
    applies(
        v,
        "default_urgency",
        fhir.default_urgency.as_ref().map(S::span),
        resource,
        &[Appointment],
    );
    applies(
        v,
        "default_provider_type",
        fhir.default_provider_type.as_ref().map(S::span),
        resource,
        &[Appointment, Slot],
    );
    mapping.default_visit_type =
        canonical(v, &fhir.default_visit_type, "default_visit_type", |t| {
            VisitType::parse(t).is_some()
        });
    mapping.default_provider_type = canonical(
        v,
        &fhir.default_provider_type,
        "default_provider_type",
        |t| ProviderType::parse(t).is_some(),
    );
    if fhir.default_urgency.is_some() {
        mapping.default_urgency = canonical(v, &fhir.default_urgency, "default_urgency", |t| {
            Urgency::parse(t).is_some()
        });
    }
    if let Some(horizon) = &fhir.horizon {
        applies(v, "horizon", Some(horizon.span()), resource, &[Slot]);
        let std = v.duration(&fhir.horizon, "horizon", Duration::from_secs(60 * 86_400));
        if std > Duration::from_secs(366 * 86_400) {
            v.problem(horizon.span(), "`horizon` must be at most a year");
        }
        mapping.horizon = chrono::Duration::from_std(std).unwrap_or(mapping.horizon);
    }
    let own_type = if resource == Slot {
        "Schedule"
    } else {
        resource.as_str()
    };
    if let Some(fte) = &fhir.fte {
        applies(v, "fte", Some(fte.span()), resource, &[PractitionerRole]);
        match LabelSource::parse(fte.get_ref(), own_type) {
            Ok(source) => mapping.fte = Some(source),
            Err(e) => v.problem(fte.span(), format!("`fte`: {e}")),
        }
    }
    mapping.labels = labels(v, &fhir.labels, resource, own_type);
    if let Some(codes) = &fhir.codes {
        mapping.codes = code_maps(v, codes, resource);
    }
    Some(mapping)
}

fn labels(
    v: &mut Validator,
    table: &Option<BTreeMap<String, S<String>>>,
    resource: ResourceKind,
    own_type: &str,
) -> Vec<(String, LabelSource)> {
    let computed: &[&str] = match resource {
        PractitionerRole => &ROSTER_COLUMNS,
        _ => &APPOINTMENT_COLUMNS,
    };
    let mut labels = Vec::new();
    let mut entries: Vec<(&String, &S<String>)> = table.iter().flatten().collect();
    entries.sort_by_key(|(_, value)| value.span().start);
    for (name, value) in entries {
        let named = S::new(value.span(), name.clone());
        if ident(v, &named, &format!("labels.{name}")).is_none() {
            continue;
        }
        if computed.contains(&name.as_str()) || name.starts_with('_') {
            v.problem(
                value.span(),
                format!(
                    "label `{name}` would replace a column the source computes; choose another name"
                ),
            );
            continue;
        }
        match LabelSource::parse(value.get_ref(), own_type) {
            Ok(source) if resource == Slot && source.via.as_deref() == Some("Slot") => v.problem(
                value.span(),
                format!(
                    "label `{name}`: the rows of a Slot source are Schedules, so labels are read from each Schedule: \
                     write \"Schedule.…\", \"extension:URL\" or a type its actor is, like \"Location.address.state\""
                ),
            ),
            Ok(source) => labels.push((name.clone(), source)),
            Err(e) => v.problem(value.span(), format!("label `{name}`: {e}")),
        }
    }
    labels
}

fn code_maps(v: &mut Validator, codes: &RawCodes, resource: ResourceKind) -> CodeMaps {
    let mut table = |field, raw, to: &[ResourceKind], valid: fn(&str) -> bool| {
        code_map(v, field, raw, resource, to, valid)
    };
    CodeMaps {
        provider_type: table(
            "provider_type",
            &codes.provider_type,
            &[Appointment, Slot],
            |t| ProviderType::parse(t).is_some(),
        ),
        visit_type: table("visit_type", &codes.visit_type, &[Appointment], |t| {
            VisitType::parse(t).is_some()
        }),
        urgency: table("urgency", &codes.urgency, &[Appointment], |t| {
            Urgency::parse(t).is_some()
        }),
        bh_category: table(
            "bh_category",
            &codes.bh_category,
            &[PractitionerRole],
            |t| BhCategory::parse(t).is_some(),
        ),
    }
}

/// One `[source.fhir.codes.FIELD]` table, its codes and values checked.
fn code_map(
    v: &mut Validator,
    field: &str,
    table: &Option<BTreeMap<String, S<String>>>,
    resource: ResourceKind,
    to: &[ResourceKind],
    valid: fn(&str) -> bool,
) -> BTreeMap<String, String> {
    let key = format!("[source.fhir.codes.{field}]");
    applies(v, &key, first_span(table), resource, to);
    let mut map = BTreeMap::new();
    for (code, value) in table.iter().flatten() {
        let code_ok = match code.split_once('|') {
            Some((system, code)) => !system.is_empty() && !code.is_empty() && !code.contains('|'),
            None => !code.is_empty(),
        };
        if !code_ok {
            v.problem(
                value.span(),
                format!("{key}: {code:?} is not \"system|code\" or \"code\""),
            );
        }
        if !value.get_ref().is_empty() && !valid(value.get_ref()) {
            v.problem(
                value.span(),
                format!(
                    "{key}: {:?} is not a value of `{field}` (\"\" switches a built-in code off)",
                    value.get_ref()
                ),
            );
        }
        map.insert(code.clone(), value.get_ref().clone());
    }
    map
}
