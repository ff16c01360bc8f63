//! The NPPES NPI Registry source against a real HTTP server playing the
//! API: paging with limit and skip, counting by city, and errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::RawQuery;
use axum::http::header;
use axum::routing::get;

use crate::common::{ConfigText, HttpServer, accesswatch};

/// Seven synthetic psychologists: four in OAKLAND, three in FRESNO.
fn provider(n: usize) -> serde_json::Value {
    let (city, postal) = if n < 4 {
        ("OAKLAND", "946120001")
    } else {
        ("FRESNO", "93721")
    };
    let number = if n.is_multiple_of(2) {
        serde_json::json!(1_000_000_000 + n)
    } else {
        serde_json::json!(format!("{}", 1_000_000_000 + n))
    };
    serde_json::json!({
        "enumeration_type": "NPI-1", "number": number, "last_updated_epoch": 1_700_000_000 + n,
        "addresses": [{"address_purpose": "LOCATION", "city": city, "state": "CA", "postal_code": postal}],
        "taxonomies": [{"code": "103TC0700X", "desc": "Psychologist, Clinical", "primary": true, "state": "CA"}]
    })
}

fn server(seen: Arc<Mutex<Vec<HashMap<String, String>>>>) -> HttpServer {
    let router = Router::new().route(
        "/api/",
        get(move |RawQuery(raw): RawQuery| {
            let seen = seen.clone();
            async move {
                let query: HashMap<String, String> =
                    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
                let json = |value: serde_json::Value| ([(header::CONTENT_TYPE, "application/json")], value.to_string());
                seen.lock().unwrap().push(query.clone());
                if query.get("state").map(String::as_str) == Some("ZZ") {
                    return json(serde_json::json!({"Errors": [{"field": "state", "number": "07", "description": "Field state is invalid"}]}));
                }
                let limit: usize = query["limit"].parse().unwrap();
                let skip: usize = query["skip"].parse().unwrap();
                let results: Vec<_> = (skip..(skip + limit).min(7)).map(provider).collect();
                json(serde_json::json!({"result_count": results.len(), "results": results}))
            }
        }),
    );
    HttpServer::start(router)
}

fn config(dir: &std::path::Path, url: &str, state: &str) -> std::path::PathBuf {
    ConfigText::new()
        .section(&format!(
            r#"[[source]]
id = "npi"
kind = "nppes"
retries = 0

[source.nppes]
base_url = "{url}"
search = {{ state = "{state}", taxonomy_description = "Psychologist" }}
limit = 2

[[check]]
id = "psychologists-per-city"
title = "Licensed psychologists per city"
kind = "threshold"
source = "npi"
field = "providers"
aggregate = "count"
group_by = ["city"]
op = ">="
limit = 4"#
        ))
        .route("r", &["c@plan.example"])
        .write(dir)
}

#[test]
fn pages_and_counts_providers_by_city() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let http = server(seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &http.url("/api/"), "CA");
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--report",
            "json",
        ],
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let groups = report["checks"][0]["groups"].as_array().unwrap();
    let count =
        |city: &str| groups.iter().find(|g| g["labels"]["city"] == city).unwrap()["value"].clone();
    assert_eq!(count("OAKLAND"), 4.0);
    assert_eq!(count("FRESNO"), 3.0);
    assert_eq!(out.code, 1, "FRESNO is below 4: a warning");
    let seen = seen.lock().unwrap();
    let skips: Vec<&str> = seen.iter().map(|q| q["skip"].as_str()).collect();
    assert_eq!(skips, ["0", "2", "4", "6"], "pages until a short one");
    assert!(seen.iter().all(|q| q["version"] == "2.1"
        && q["limit"] == "2"
        && q["taxonomy_description"] == "Psychologist"));
    assert!(
        !out.stderr.contains("1000000001"),
        "NPIs never reach the log"
    );
}

#[test]
fn an_errors_payload_is_the_sources_error() {
    let http = server(Arc::default());
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &http.url("/api/"), "ZZ");
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--report",
            "json",
        ],
        &[],
    );
    assert_eq!(out.code, 3);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let error = report["checks"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("NPPES refused the search: Field state is invalid (field state, error 07)"),
        "{error}"
    );
}
