//! The NPPES NPI Registry API, version 2.1: licensed providers by state,
//! city, postal code and taxonomy.
//!
//! Pages with `limit` and `skip` (the API takes at most 200 per page and a
//! skip of at most 1,000, so at most 1,200 records per search), turns an
//! `Errors` payload into an error that quotes the API's description (it
//! describes the query), and accepts `number` as an integer or a string.
//! One row per provider: `npi`, `enumeration_type`, `state`, `city`,
//! `postal_code` (five digits) of the practice location, the primary
//! taxonomy's `taxonomy_code`, `taxonomy_desc` and `license_state`, and
//! `providers` = 1, so that a ratio's denominator or a `count` aggregate
//! counts providers. The NPI stays inside the process: rows are counted,
//! never shown.

use std::collections::BTreeMap;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::FetchContext;
use super::http::{Client, display_url};
use crate::source::spec::HttpOptions;
use crate::table::{Row, Table, Value};

pub const DEFAULT_BASE_URL: &str = "https://npiregistry.cms.hhs.gov/api/";

/// The search parameters of API version 2.1 that make sense here.
pub const SEARCH_FIELDS: &[&str] = &[
    "number",
    "enumeration_type",
    "taxonomy_description",
    "first_name",
    "last_name",
    "organization_name",
    "address_purpose",
    "city",
    "state",
    "postal_code",
    "country_code",
];

/// The API refuses a skip past this.
const MAX_SKIP: u32 = 1000;

#[derive(Debug, Clone)]
pub struct NppesSpec {
    pub base_url: url::Url,
    pub search: Vec<(String, String)>,
    pub limit: u32,
    pub max_records: u32,
    pub options: HttpOptions,
}

impl NppesSpec {
    /// Where the data comes from, for `check-config` (no credentials).
    pub fn describe(&self) -> String {
        let criteria: Vec<String> = self
            .search
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} ({})", display_url(&self.base_url), criteria.join(", "))
    }

    fn page_url(&self, skip: u32) -> url::Url {
        let mut url = self.base_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("version", "2.1");
            for (key, value) in &self.search {
                query.append_pair(key, value);
            }
            query.append_pair("limit", &self.limit.to_string());
            query.append_pair("skip", &skip.to_string());
        }
        url
    }
}

pub async fn fetch(spec: &NppesSpec, context: &FetchContext<'_>) -> anyhow::Result<Table> {
    let client = Client::new(&spec.options)?;
    let mut rows = Vec::new();
    let mut skip = 0;
    let mut newest: Option<DateTime<Utc>> = None;
    loop {
        let url = spec.page_url(skip);
        let response = client.get(&url, Some("application/json")).await?;
        let page = parse_page(&response.body).with_context(|| {
            format!(
                "NPPES page at skip {skip} from {}",
                display_url(&spec.base_url)
            )
        })?;
        let count = page.len() as u32;
        for result in page {
            newest = newest.max(result.updated);
            rows.push(Row {
                number: rows.len() + 1,
                fields: result.fields,
            });
        }
        skip += spec.limit;
        if count < spec.limit || skip >= spec.max_records || skip > MAX_SKIP {
            break;
        }
    }
    let source = context.source;
    let columns = crate::table::mapped_columns(&source.layout, COLUMNS.iter().copied());
    let rows = rows
        .into_iter()
        .map(|row| Row {
            number: row.number,
            fields: crate::table::map_fields(&source.layout, COLUMNS.iter().copied(), |name| {
                row.fields.get(name).cloned()
            }),
        })
        .collect();
    Ok(Table {
        columns,
        rows,
        position: "record",
        data_time: newest.unwrap_or(context.now),
    })
}

const COLUMNS: &[&str] = &[
    "npi",
    "enumeration_type",
    "state",
    "city",
    "postal_code",
    "taxonomy_code",
    "taxonomy_desc",
    "license_state",
    "providers",
];

#[derive(Debug)]
struct Provider {
    fields: BTreeMap<String, Value>,
    updated: Option<DateTime<Utc>>,
}

/// One page of results, or the API's `Errors`.
fn parse_page(body: &[u8]) -> anyhow::Result<Vec<Provider>> {
    let document: Json = serde_json::from_slice(body).map_err(|e| {
        anyhow!(
            "the answer is not JSON (line {}, column {}): a truncated or non-API response",
            e.line(),
            e.column()
        )
    })?;
    if let Some(errors) = document.get("Errors").and_then(Json::as_array) {
        let text: Vec<String> = errors
            .iter()
            .map(|e| {
                let field = |k: &str| e.get(k).map(json_text).unwrap_or_default();
                format!(
                    "{} (field {}, error {})",
                    field("description"),
                    field("field"),
                    field("number")
                )
            })
            .collect();
        return Err(anyhow!("NPPES refused the search: {}", text.join("; ")));
    }
    let results = document
        .get("results")
        .and_then(Json::as_array)
        .ok_or_else(|| anyhow!("the answer has no `results` array: is base_url the NPPES API?"))?;
    Ok(results.iter().map(provider).collect())
}

/// Text of a JSON string or number (`number` comes as either).
fn json_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// States and territories by name, for the registry's records that spell
/// a state out ("GEORGIA") where most give its USPS code ("GA").
const STATES: [(&str, &str); 56] = [
    ("AL", "ALABAMA"),
    ("AK", "ALASKA"),
    ("AZ", "ARIZONA"),
    ("AR", "ARKANSAS"),
    ("CA", "CALIFORNIA"),
    ("CO", "COLORADO"),
    ("CT", "CONNECTICUT"),
    ("DE", "DELAWARE"),
    ("DC", "DISTRICT OF COLUMBIA"),
    ("FL", "FLORIDA"),
    ("GA", "GEORGIA"),
    ("HI", "HAWAII"),
    ("ID", "IDAHO"),
    ("IL", "ILLINOIS"),
    ("IN", "INDIANA"),
    ("IA", "IOWA"),
    ("KS", "KANSAS"),
    ("KY", "KENTUCKY"),
    ("LA", "LOUISIANA"),
    ("ME", "MAINE"),
    ("MD", "MARYLAND"),
    ("MA", "MASSACHUSETTS"),
    ("MI", "MICHIGAN"),
    ("MN", "MINNESOTA"),
    ("MS", "MISSISSIPPI"),
    ("MO", "MISSOURI"),
    ("MT", "MONTANA"),
    ("NE", "NEBRASKA"),
    ("NV", "NEVADA"),
    ("NH", "NEW HAMPSHIRE"),
    ("NJ", "NEW JERSEY"),
    ("NM", "NEW MEXICO"),
    ("NY", "NEW YORK"),
    ("NC", "NORTH CAROLINA"),
    ("ND", "NORTH DAKOTA"),
    ("OH", "OHIO"),
    ("OK", "OKLAHOMA"),
    ("OR", "OREGON"),
    ("PA", "PENNSYLVANIA"),
    ("RI", "RHODE ISLAND"),
    ("SC", "SOUTH CAROLINA"),
    ("SD", "SOUTH DAKOTA"),
    ("TN", "TENNESSEE"),
    ("TX", "TEXAS"),
    ("UT", "UTAH"),
    ("VT", "VERMONT"),
    ("VA", "VIRGINIA"),
    ("WA", "WASHINGTON"),
    ("WV", "WEST VIRGINIA"),
    ("WI", "WISCONSIN"),
    ("WY", "WYOMING"),
    ("PR", "PUERTO RICO"),
    ("GU", "GUAM"),
    ("VI", "VIRGIN ISLANDS"),
    ("AS", "AMERICAN SAMOA"),
    ("MP", "NORTHERN MARIANA ISLANDS"),
];

/// A state as its USPS code: "GEORGIA", "Georgia" and "ga" are "GA", so
/// that they group together; anything else is kept as it is.
fn usps_state(value: Value) -> Value {
    let Value::Text(text) = &value else {
        return value;
    };
    let upper = text.trim().to_uppercase();
    STATES
        .iter()
        .find(|(code, name)| **code == upper || **name == upper)
        .map_or(value, |(code, _)| Value::Text((*code).to_owned()))
}

fn provider(result: &Json) -> Provider {
    let text = |value: Option<&Json>| {
        value
            .map(json_text)
            .filter(|t| !t.is_empty())
            .map_or(Value::Null, Value::Text)
    };
    let location = result
        .get("addresses")
        .and_then(Json::as_array)
        .and_then(|a| {
            a.iter()
                .find(|addr| addr.get("address_purpose").and_then(Json::as_str) == Some("LOCATION"))
        });
    let taxonomy = result
        .get("taxonomies")
        .and_then(Json::as_array)
        .and_then(|list| {
            list.iter()
                .find(|t| t.get("primary").and_then(Json::as_bool) == Some(true))
                .or_else(|| list.first())
        });
    let postal = location
        .and_then(|l| l.get("postal_code"))
        .map(json_text)
        .map(|p| p.chars().take(5).collect::<String>())
        .filter(|p| !p.is_empty())
        .map_or(Value::Null, Value::Text);
    let mut fields = BTreeMap::new();
    fields.insert("npi".to_owned(), text(result.get("number")));
    fields.insert(
        "enumeration_type".to_owned(),
        text(result.get("enumeration_type")),
    );
    fields.insert(
        "state".to_owned(),
        usps_state(text(location.and_then(|l| l.get("state")))),
    );
    fields.insert(
        "city".to_owned(),
        text(location.and_then(|l| l.get("city"))),
    );
    fields.insert("postal_code".to_owned(), postal);
    fields.insert(
        "taxonomy_code".to_owned(),
        text(taxonomy.and_then(|t| t.get("code"))),
    );
    fields.insert(
        "taxonomy_desc".to_owned(),
        text(taxonomy.and_then(|t| t.get("desc"))),
    );
    fields.insert(
        "license_state".to_owned(),
        usps_state(text(taxonomy.and_then(|t| t.get("state")))),
    );
    fields.insert("providers".to_owned(), Value::Number(1.0));
    let updated = result
        .get("last_updated_epoch")
        .and_then(|v| json_text(v).parse::<i64>().ok())
        .and_then(|epoch| DateTime::from_timestamp(epoch, 0));
    Provider { fields, updated }
}

#[cfg(test)]
mod tests {
    #[test]
    fn states_are_usps_codes() {
        use super::{Value, usps_state};
        let text = |s: &str| Value::Text(s.to_owned());
        for (input, expected) in [
            ("GA", "GA"),
            ("GEORGIA", "GA"),
            ("Georgia", "GA"),
            (" ga ", "GA"),
            ("District of Columbia", "DC"),
            ("ZZ", "ZZ"),
        ] {
            assert_eq!(usps_state(text(input)), text(expected), "{input}");
        }
        assert_eq!(usps_state(Value::Null), Value::Null);
    }

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/nppes/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn a_page_of_results() {
        let page = parse_page(&fixture("page-psychologists.json")).unwrap();
        assert_eq!(page.len(), 3);
        let first = &page[0].fields;
        assert_eq!(
            first["npi"],
            Value::Text("1000000001".to_owned()),
            "an integer number"
        );
        assert_eq!(
            page[1].fields["npi"],
            Value::Text("1000000002".to_owned()),
            "a string number"
        );
        assert_eq!(first["state"], Value::Text("CA".to_owned()));
        assert_eq!(first["postal_code"], Value::Text("94612".to_owned()));
        assert_eq!(first["taxonomy_code"], Value::Text("103TC0700X".to_owned()));
        assert_eq!(
            page[2].fields["taxonomy_code"],
            Value::Text("101YP2500X".to_owned()),
            "the primary taxonomy"
        );
        assert!(page[0].updated.is_some());
    }

    #[test]
    fn errors_and_junk() {
        let error = parse_page(&fixture("error-no-criteria.json"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "NPPES refused the search: No valid search criteria provided (field generic, error 04)"
        );
        assert!(
            parse_page(br#"{"results": [{"number": 1"#)
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
        assert!(
            parse_page(br#"{"foo": 1}"#)
                .unwrap_err()
                .to_string()
                .contains("no `results`")
        );
        assert!(
            parse_page(br#"{"result_count": 0, "results": []}"#)
                .unwrap()
                .is_empty()
        );
    }
}
