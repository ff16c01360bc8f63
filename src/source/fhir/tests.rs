//! Mapping tests: every Appointment status, R4 and R5 shapes, code maps,
//! labels through included resources, roster classification, and pages
//! that are not what they should be. Resources are written from the R4
//! specification and the Plan-Net IG examples (synthetic).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use super::codes::CodeMaps;
use super::mapped::{self, Record};
use super::resolve::{self, Index, LabelSource};
use super::*;
use crate::table::Value;

const NUCC: &str = "http://nucc.org/provider-taxonomy";

fn text(record: &Record, field: &str) -> Option<String> {
    match record.get(field) {
        Some(Value::Text(t)) => Some(t.clone()),
        Some(Value::Null) | None => None,
        Some(other) => panic!("{field} is {other:?}"),
    }
}

fn appointment(status: &str, extra: Json) -> Json {
    let mut base = json!({
        "resourceType": "Appointment",
        "id": "a1",
        "status": status,
        "created": "2026-11-02T09:00:00-08:00",
        "start": "2026-11-09T10:00:00-08:00",
        "end": "2026-11-09T10:50:00-08:00",
        "participant": [
            {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/dr1"}, "status": "accepted"}
        ]
    });
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            base.as_object_mut().unwrap().remove(key);
        } else {
            base[key] = value.clone();
        }
    }
    base
}

fn map_appointment(resource: &Json, mapping: &Mapping) -> Option<Record> {
    appointment::map(resource, &Index::default(), &HashMap::new(), mapping)
}

/// `first_offered_at` for each status, with and without the details that
/// decide it.
#[test]
fn appointment_statuses() {
    let start = Some("2026-11-09T10:00:00-08:00");
    let needs_action = json!([
        {"actor": {"reference": "Patient/p1"}, "status": "needs-action"},
        {"actor": {"reference": "PractitionerRole/r1"}, "status": "needs-action"}
    ]);
    let provider_accepted = json!([
        {"actor": {"reference": "Patient/p1"}, "status": "needs-action"},
        {"actor": {"reference": "PractitionerRole/r1"}, "status": "accepted"}
    ]);
    let provider_declined = json!([
        {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
        {"actor": {"reference": "Practitioner/dr1"}, "status": "declined"}
    ]);
    let reason = |code: &str| json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": code}]});
    let cases: Vec<(&str, Json, Option<Option<&str>>)> = vec![
        ("booked", json!({}), Some(start)),
        ("arrived", json!({}), Some(start)),
        ("checked-in", json!({}), Some(start)),
        ("fulfilled", json!({}), Some(start)),
        ("noshow", json!({}), Some(start)),
        (
            "booked",
            json!({"start": null, "end": null}),
            Some(Some("missing start")),
        ),
        (
            "proposed",
            json!({"participant": provider_accepted.clone()}),
            Some(start),
        ),
        (
            "pending",
            json!({"participant": provider_accepted}),
            Some(start),
        ),
        (
            "proposed",
            json!({"participant": needs_action.clone()}),
            Some(None),
        ),
        ("pending", json!({"start": null, "end": null}), Some(None)),
        ("waitlist", json!({}), Some(None)),
        ("cancelled", json!({}), Some(start)),
        (
            "cancelled",
            json!({"cancelationReason": reason("pat-fb")}),
            Some(start),
        ),
        (
            "cancelled",
            json!({"cancelationReason": reason("prov-hosp")}),
            Some(None),
        ),
        (
            "cancelled",
            json!({"cancelationReason": reason("prov")}),
            Some(None),
        ),
        (
            "cancelled",
            json!({"cancellationReason": reason("maint")}),
            Some(None),
        ),
        (
            "cancelled",
            json!({"participant": provider_declined}),
            Some(None),
        ),
        ("cancelled", json!({"start": null, "end": null}), Some(None)),
        ("entered-in-error", json!({}), None),
        ("planned", json!({}), Some(Some("unknown status"))),
        ("", json!({"status": null}), Some(Some("unknown status"))),
    ];
    let mapping = Mapping::default();
    for (status, extra, expected) in cases {
        let resource = appointment(status, extra.clone());
        let record = map_appointment(&resource, &mapping);
        let got = record.as_ref().map(|r| text(r, "first_offered_at"));
        let expected = expected.map(|e| e.map(str::to_owned));
        assert_eq!(got, expected, "status {status:?} with {extra}");
        if let Some(record) = record {
            assert_eq!(
                text(&record, "requested_at").as_deref(),
                Some("2026-11-02T09:00:00-08:00")
            );
        }
    }
}

/// Provider type, visit type and urgency from R4 and R5 shapes.
#[test]
fn appointment_codes_in_r4_and_r5_shapes() {
    let mapping = Mapping::default();
    let fields = |resource: &Json, mapping: &Mapping| {
        let record = map_appointment(resource, mapping).unwrap();
        (
            text(&record, "provider_type"),
            text(&record, "visit_type"),
            text(&record, "urgency"),
        )
    };
    let s = |v: &str| Some(v.to_owned());
    let r4 = appointment(
        "booked",
        json!({
            "appointmentType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "FOLLOWUP"}]},
            "specialty": [{"coding": [{"system": NUCC, "code": "101YM0800X"}]}],
            "priority": 7
        }),
    );
    assert_eq!(
        fields(&r4, &mapping),
        (s("non_physician_mh"), s("follow_up"), s("non_urgent"))
    );
    let urgent = appointment(
        "booked",
        json!({"priority": 2, "specialty": [{"coding": [{"system": NUCC, "code": "2084P0800X"}]}]}),
    );
    assert_eq!(
        fields(&urgent, &mapping),
        (s("psychiatrist"), None, s("urgent"))
    );
    // Telehealth: an R5 virtualService, or ActCode VR; AMB is in person.
    let modality = |extra: Json| {
        text(
            &map_appointment(&appointment("booked", extra), &mapping).unwrap(),
            "modality",
        )
    };
    let act = |code: &str| json!({"serviceCategory": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code}]}]});
    assert_eq!(
        modality(json!({"virtualService": [{"channelType": {"code": "zoom"}}]})),
        s("telehealth")
    );
    assert_eq!(modality(act("VR")), s("telehealth"));
    assert_eq!(modality(act("AMB")), s("in_person"));
    assert_eq!(modality(json!({})), None);
    // An addiction counselor is a SUD provider.
    let sud = appointment(
        "booked",
        json!({"specialty": [{"coding": [{"system": NUCC, "code": "101YA0400X"}]}]}),
    );
    assert_eq!(fields(&sud, &mapping).0, s("non_physician_sud"));
    let undefined = appointment("booked", json!({"priority": 0}));
    assert_eq!(
        fields(&undefined, &mapping),
        (None, None, s("non_urgent")),
        "0 is undefined: the default"
    );
    let emergency = appointment(
        "booked",
        json!({"appointmentType": {"coding": [{"code": "EMERGENCY"}]}, "priority": 9}),
    );
    assert_eq!(fields(&emergency, &mapping).2, s("urgent"), "urgent wins");
    // R5: serviceType is a CodeableReference, priority a CodeableConcept,
    // class a list, cancellationReason with two l's.
    let r5 = appointment(
        "booked",
        json!({
            "class": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}]}],
            "serviceType": [{"concept": {"coding": [{"system": NUCC, "code": "1041C0700X"}]}}],
            "appointmentType": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "ROUTINE"}]}],
            "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActPriority", "code": "UR"}]}
        }),
    );
    assert_eq!(
        fields(&r5, &mapping),
        (s("non_physician_mh"), s("initial"), s("urgent"))
    );
    // The operator's maps come first; "" switches a built-in code off.
    let mut custom = Mapping {
        codes: CodeMaps {
            provider_type: [(
                "http://plan.example/clinician|LCSW".to_owned(),
                "non_physician_mh".to_owned(),
            )]
            .into(),
            visit_type: [("ROUTINE".to_owned(), String::new())].into(),
            ..CodeMaps::default()
        },
        default_visit_type: Some("initial".to_owned()),
        ..Mapping::default()
    };
    let local = appointment(
        "booked",
        json!({
            "serviceType": [{"coding": [{"system": "http://plan.example/clinician", "code": "LCSW"}]}],
            "specialty": [{"coding": [{"system": NUCC, "code": "2084P0800X"}]}],
            "appointmentType": {"coding": [{"code": "ROUTINE"}]}
        }),
    );
    assert_eq!(
        fields(&local, &custom),
        (s("non_physician_mh"), s("initial"), s("non_urgent"))
    );
    custom.default_visit_type = None;
    assert_eq!(
        fields(&local, &custom).1,
        None,
        "ROUTINE switched off, no default"
    );
}

/// Labels from an extension, an included Location, a contained one; the
/// provider type from an included PractitionerRole participant.
#[test]
fn labels_and_participants_from_the_bundle() {
    let location = json!({"resourceType": "Location", "id": "loc1", "name": "Oakland Clinic", "address": {"state": "CA"}});
    let role = json!({"resourceType": "PractitionerRole", "id": "r1", "specialty": [{"coding": [{"system": NUCC, "code": "106H00000X"}]}]});
    let index = Index::new([
        (None, &location),
        (
            Some("https://fhir.plan.example/r4/PractitionerRole/r1"),
            &role,
        ),
    ]);
    let resource = appointment(
        "booked",
        json!({
            "extension": [{"url": "http://plan.example/region", "valueString": "norcal-east"}],
            "participant": [
                {"actor": {"reference": "Patient/p1", "display": "Member Name"}, "status": "accepted"},
                {"actor": {"reference": "https://fhir.plan.example/r4/PractitionerRole/r1"}, "status": "accepted"},
                {"actor": {"reference": "Location/loc1"}, "status": "accepted"}
            ]
        }),
    );
    let mapping = Mapping {
        labels: vec![
            (
                "region".to_owned(),
                LabelSource::parse("extension:http://plan.example/region", "Appointment").unwrap(),
            ),
            (
                "state".to_owned(),
                LabelSource::parse("Location.address.state", "Appointment").unwrap(),
            ),
            (
                "clinic".to_owned(),
                LabelSource::parse("Location", "Appointment").unwrap(),
            ),
        ],
        ..Mapping::default()
    };
    let record = appointment::map(&resource, &index, &HashMap::new(), &mapping).unwrap();
    assert_eq!(text(&record, "region").as_deref(), Some("norcal-east"));
    assert_eq!(text(&record, "state").as_deref(), Some("CA"));
    assert_eq!(text(&record, "clinic").as_deref(), Some("Oakland Clinic"));
    assert_eq!(
        text(&record, "provider_type").as_deref(),
        Some("non_physician_mh")
    );
    // A contained Location, and one that is not in the Bundle (its display).
    let contained = appointment(
        "booked",
        json!({
            "contained": [{"resourceType": "Location", "id": "c1", "address": {"state": "NV"}}],
            "participant": [{"actor": {"reference": "#c1", "type": "Location"}, "status": "accepted"}]
        }),
    );
    let record = map_appointment(&contained, &mapping).unwrap();
    assert_eq!(text(&record, "state").as_deref(), Some("NV"));
    let elsewhere = appointment(
        "booked",
        json!({"participant": [{"actor": {"reference": "Location/x9", "display": "Fresno"}, "status": "accepted"}]}),
    );
    let record = map_appointment(&elsewhere, &mapping).unwrap();
    assert_eq!(
        (text(&record, "state"), text(&record, "clinic").as_deref()),
        (None, Some("Fresno"))
    );
    // Member resources are never label sources.
    assert!(
        LabelSource::parse("Patient.address.state", "Appointment")
            .unwrap_err()
            .contains("member data")
    );
    assert!(LabelSource::parse("Appointment", "Appointment").is_err());
    assert!(LabelSource::parse("Appointment.identifier.value", "Appointment").is_err());
    assert!(LabelSource::parse("Appointment.comment", "Appointment").is_err());
    assert!(LabelSource::parse("address state", "Appointment").is_err());
}

#[test]
fn references() {
    let check = |reference: &str, expected: Option<&str>| {
        assert_eq!(
            resolve::reference_key(reference).as_deref(),
            expected,
            "{reference}"
        );
    };
    check("Location/1", Some("Location/1"));
    check(
        "https://fhir.example/r4/Location/1/_history/3",
        Some("Location/1"),
    );
    check("Location?identifier=x|1", None);
    check("#c1", None);
    check("urn:uuid:1234", None);
}

/// The referral's authoredOn, from the Bundle or fetched besides; the
/// appointments of one referral become one request with its first offer.
#[test]
fn service_request_clock_and_grouping() {
    let mapping = Mapping {
        requested_from: RequestedFrom::ServiceRequest,
        ..Mapping::default()
    };
    let based_on = |id: &str| json!([{"reference": format!("ServiceRequest/{id}")}]);
    let included =
        json!({"resourceType": "ServiceRequest", "id": "sr1", "authoredOn": "2026-10-28"});
    let index = Index::new([(None, &included)]);
    let fetched: HashMap<String, Option<String>> = [(
        "ServiceRequest/sr2".to_owned(),
        Some("2026-10-30T12:00:00Z".to_owned()),
    )]
    .into();
    let map = |resource: Json| appointment::map(&resource, &index, &fetched, &mapping).unwrap();
    let cancelled_by_provider = map(appointment(
        "cancelled",
        json!({"basedOn": based_on("sr1"), "start": "2026-11-04T09:00:00-08:00", "cancelationReason": {"coding": [{"code": "prov-pers"}]}}),
    ));
    let rebooked = map(appointment(
        "booked",
        json!({"basedOn": based_on("sr1"), "start": "2026-11-12T09:00:00-08:00"}),
    ));
    let later = map(appointment(
        "booked",
        json!({"basedOn": based_on("sr1"), "start": "2026-11-20T09:00:00-08:00"}),
    ));
    let other = map(appointment("waitlist", json!({"basedOn": based_on("sr2")})));
    let unknown = map(appointment("booked", json!({"basedOn": based_on("sr3")})));
    let plain = map(appointment("booked", json!({})));
    assert_eq!(
        text(&rebooked, "requested_at").as_deref(),
        Some("2026-10-28")
    );
    assert_eq!(
        text(&other, "requested_at").as_deref(),
        Some("2026-10-30T12:00:00Z")
    );
    assert_eq!(
        text(&unknown, "requested_at"),
        None,
        "rejected downstream, not guessed"
    );
    assert_eq!(
        text(&plain, "requested_at").as_deref(),
        Some("2026-11-02T09:00:00-08:00")
    );
    let spec = spec(ResourceKind::Appointment, mapping.clone());
    let now: DateTime<Utc> = "2026-11-30T00:00:00Z".parse().unwrap();
    let table = mapped::table(
        vec![
            later.clone(),
            cancelled_by_provider.clone(),
            rebooked.clone(),
            other.clone(),
            unknown.clone(),
            plain.clone(),
        ],
        &spec,
        now,
        now,
    );
    assert_eq!(
        table.rows.len(),
        4,
        "sr1's three appointments are one request"
    );
    let offers: Vec<Option<String>> = table
        .rows
        .iter()
        .map(|r| match r.fields.get("first_offered_at") {
            Some(Value::Text(t)) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert!(offers.contains(&Some("2026-11-12T09:00:00-08:00".to_owned())));
    assert!(
        table
            .rows
            .iter()
            .all(|r| !r.fields.contains_key("_request"))
    );
    // Folded one record at a time, in either order: the same rows, cell
    // for cell, under the same numbers.
    for reversed in [false, true] {
        let mut records = vec![
            later.clone(),
            cancelled_by_provider.clone(),
            rebooked.clone(),
            other.clone(),
            unknown.clone(),
            plain.clone(),
        ];
        if reversed {
            records.reverse();
        }
        let table = mapped::table(records.clone(), &spec, now, now);
        let mut rows = mapped::Rows::new(&spec, now);
        let header = rows.header().to_vec();
        let mut folded = Vec::new();
        let mut add =
            |number: u64, cells: &Vec<Option<String>>| folded.push((number, cells.clone()));
        for record in records {
            rows.push(record, &mut add);
        }
        rows.finish(&mut add);
        let expected: Vec<(u64, Vec<Option<String>>)> = table
            .rows
            .iter()
            .map(|row| {
                let cells = header
                    .iter()
                    .map(|name| {
                        row.fields
                            .get(name)
                            .and_then(crate::evaluate::waittime::cell_text)
                    })
                    .collect();
                (row.number as u64, cells)
            })
            .collect();
        assert_eq!(folded, expected, "reversed: {reversed}");
    }
}

fn spec(resource: ResourceKind, mapping: Mapping) -> FhirSpec {
    FhirSpec {
        base: url::Url::parse("http://127.0.0.1/fhir").unwrap(),
        http: crate::source::spec::HttpOptions {
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
        mapping,
    }
}

fn role(id: &str, codes: &[&str], extra: Json) -> Json {
    let mut role = json!({
        "resourceType": "PractitionerRole",
        "id": id,
        "extension": [{
            "url": roster::NETWORK_EXTENSION,
            "valueReference": {"reference": "Organization/AcmeofCTStdNet", "display": "ACME CT Preferred Provider Network"}
        }],
        "active": true,
        "code": [{"coding": [{"system": "http://hl7.org/fhir/us/davinci-pdex-plan-net/CodeSystem/ProviderRoleCS", "code": "ph"}]}],
        "specialty": codes.iter().map(|c| json!({"coding": [{"system": NUCC, "code": c}]})).collect::<Vec<_>>(),
        "location": [{"reference": "Location/hartford", "display": "Hartford Behavioral Health"}]
    });
    for (key, value) in extra.as_object().unwrap() {
        role[key] = value.clone();
    }
    role
}

/// NUCC specialty codes (not `code`, which says "Physician" for
/// therapists in real directories) decide the category.
#[test]
fn roster_classification() {
    let mapping = Mapping::default();
    let cases = [
        (&["101YP2500X"][..], "counselor", 1.0, false),
        (&["103TC0700X"], "psychologist", 1.0, false),
        (&["1041C0700X"], "social_worker", 1.0, false),
        (&["106H00000X"], "mft", 1.0, false),
        (&["2084P0800X"], "psychiatrist", 1.0, false),
        (&["2084P0804X"], "psychiatrist", 1.0, false),
        (&["363LP0808X"], "psych_np", 1.0, false),
        (&["2084N0400X"], "other", 0.0, false),
        (&["207Q00000X"], "other", 0.0, false),
        (&["101YS0200X"], "other", 0.0, false),
        (&["103TP2700X"], "other", 0.0, true),
        (&["103TP2700X", "103TC0700X"], "psychologist", 1.0, true),
    ];
    for (codes, category, bh, deactivated) in cases {
        let record =
            roster::map(&role("r", codes, json!({})), &Index::default(), &mapping).unwrap();
        assert_eq!(
            text(&record, "bh_category").as_deref(),
            Some(category),
            "{codes:?}"
        );
        assert_eq!(record["bh"], Value::Number(bh), "{codes:?}");
        assert_eq!(record["bh_fte"], Value::Number(bh), "{codes:?}");
        assert_eq!(record["fte"], Value::Number(1.0));
        assert_eq!(
            record["deactivated_code"],
            Value::Bool(deactivated),
            "{codes:?}"
        );
        assert_eq!(text(&record, "taxonomy").as_deref(), Some(codes[0]));
    }
    let record = roster::map(
        &role("r", &["1041C0700X"], json!({})),
        &Index::default(),
        &mapping,
    )
    .unwrap();
    assert_eq!(
        text(&record, "network").as_deref(),
        Some("ACME CT Preferred Provider Network")
    );
    assert_eq!(
        text(&record, "location").as_deref(),
        Some("Hartford Behavioral Health")
    );
    // With the network included, its name; without display, the id.
    let network = json!({"resourceType": "Organization", "id": "AcmeofCTStdNet", "name": "ACME CT Standard Network"});
    let index = Index::new([(None, &network)]);
    let record = roster::map(&role("r", &["1041C0700X"], json!({})), &index, &mapping).unwrap();
    assert_eq!(
        text(&record, "network").as_deref(),
        Some("ACME CT Standard Network")
    );
    let bare = role(
        "r",
        &["1041C0700X"],
        json!({"extension": [{"url": roster::NETWORK_EXTENSION, "valueReference": {"reference": "Organization/net-2"}}]}),
    );
    assert_eq!(
        text(
            &roster::map(&bare, &Index::default(), &mapping).unwrap(),
            "network"
        )
        .as_deref(),
        Some("net-2")
    );
    assert!(
        roster::map(
            &role("r", &["1041C0700X"], json!({"active": false})),
            &Index::default(),
            &mapping
        )
        .is_none()
    );
}

#[test]
fn roster_fte_and_periods() {
    let mapping = Mapping {
        fte: Some(
            LabelSource::parse("extension:http://plan.example/fte", "PractitionerRole").unwrap(),
        ),
        ..Mapping::default()
    };
    let fte = |value: Json| {
        json!({"extension": [
            {"url": roster::NETWORK_EXTENSION, "valueReference": {"reference": "Organization/n1"}},
            {"url": "http://plan.example/fte", "valueDecimal": value}
        ]})
    };
    let half = roster::map(
        &role("a", &["106H00000X"], fte(json!(0.5))),
        &Index::default(),
        &mapping,
    )
    .unwrap();
    assert_eq!(
        (half["fte"].clone(), half["bh_fte"].clone()),
        (Value::Number(0.5), Value::Number(0.5))
    );
    let non_bh = roster::map(
        &role("b", &["207Q00000X"], fte(json!(0.8))),
        &Index::default(),
        &mapping,
    )
    .unwrap();
    assert_eq!(non_bh["bh_fte"], Value::Number(0.0));
    let bad = roster::map(
        &role("c", &["106H00000X"], fte(json!("full"))),
        &Index::default(),
        &mapping,
    )
    .unwrap();
    assert_eq!(
        (bad["fte"].clone(), bad["bh_fte"].clone()),
        (Value::Null, Value::Null)
    );
    // Periods are applied when the table is made, at the evaluation time.
    let ended = roster::map(
        &role(
            "d",
            &["106H00000X"],
            json!({"period": {"start": "2020-01-01", "end": "2026-06-30"}}),
        ),
        &Index::default(),
        &Mapping::default(),
    )
    .unwrap();
    let future = roster::map(
        &role(
            "e",
            &["106H00000X"],
            json!({"period": {"start": "2027-01-01"}}),
        ),
        &Index::default(),
        &Mapping::default(),
    )
    .unwrap();
    let current = roster::map(
        &role(
            "f",
            &["106H00000X"],
            json!({"period": {"start": "2026-01-01T00:00:00Z"}}),
        ),
        &Index::default(),
        &Mapping::default(),
    )
    .unwrap();
    let spec = spec(ResourceKind::PractitionerRole, Mapping::default());
    let now: DateTime<Utc> = "2026-11-30T00:00:00Z".parse().unwrap();
    let table = mapped::table(vec![ended, future, current], &spec, now, now);
    assert_eq!(table.rows.len(), 1);
    assert!(table.columns.contains("bh_fte") && table.columns.contains("network"));
}

/// Pages that are not a searchset Bundle, each a clear error.
#[test]
fn bundle_pages() {
    let check = |body: &str, expected: &str| {
        let error = bundle::parse(body.as_bytes(), 3, "Appointment")
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{body}: {error}");
    };
    check(
        "<html>",
        "page 3 of the Appointment search is not valid JSON: malformed JSON at line 1 column 1",
    );
    check(
        r#"{"resourceType":"Bundle","entry":[{"resource":{"resou"#,
        "the body ends early",
    );
    check(
        r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"too-costly","diagnostics":"too many matches"}]}"#,
        "is an OperationOutcome, not a Bundle: error too-costly: the search is too costly for the server",
    );
    check(
        r#"{"resourceType":"Patient"}"#,
        "is a Patient, not a FHIR Bundle",
    );
    check(r#"[1,2]"#, "is a JSON list, not a FHIR Bundle");
    check(
        r#"{"resourceType":"Bundle","entry":[{"fullUrl":"x"}]}"#,
        "page 3, entry 1 of the Appointment search has no resource",
    );
    check(
        r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]},"search":{"mode":"outcome"}}]}"#,
        "page 3: the server reported an error in the search: fatal exception",
    );
    let page = bundle::parse(
        br#"{"resourceType":"Bundle","type":"searchset",
             "link":[{"relation":"self","url":"s"},{"relation":"next","url":"https://h/fhir?_getpages=abc&_page=2"}],
             "entry":[
               {"resource":{"resourceType":"Appointment","id":"1"},"search":{"mode":"match"}},
               {"fullUrl":"https://h/fhir/Location/9","resource":{"resourceType":"Location","id":"9"},"search":{"mode":"include"}},
               {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"not-supported","diagnostics":"_sort ignored"}]},"search":{"mode":"outcome"}}
             ]}"#,
        1,
        "Appointment",
    )
    .unwrap();
    assert_eq!(page.matches.len(), 1);
    assert_eq!(page.included.len(), 1);
    assert_eq!(
        page.next.as_deref(),
        Some("https://h/fhir?_getpages=abc&_page=2")
    );
    assert_eq!(
        page.warnings,
        ["warning not-supported: the server does not support part of the request"]
    );
    let empty = bundle::parse(
        br#"{"resourceType":"Bundle","type":"searchset","total":0}"#,
        1,
        "Slot",
    )
    .unwrap();
    assert!(empty.matches.is_empty() && empty.next.is_none());
}

#[test]
fn records_survive_the_state_store() {
    let record: Record = [
        (
            "requested_at".to_owned(),
            Value::Text("2026-11-02".to_owned()),
        ),
        ("first_offered_at".to_owned(), Value::Null),
        ("bh".to_owned(), Value::Number(1.0)),
        ("deactivated_code".to_owned(), Value::Bool(false)),
    ]
    .into();
    assert_eq!(
        mapped::from_json(&mapped::to_json(&record)).unwrap(),
        record
    );
    assert!(mapped::from_json("[]").is_err());
}
