//! Threshold, ratio and freshness checks on file, PostgreSQL and HTTP
//! sources fold their rows per group instead of reading a table. Both
//! ways on the same data: `daemon::run::run` (folded) must give exactly what
//! `source::fetch` and `evaluate` over the table give, for hostile values,
//! missing fields, empty and unreadable sources, a ratio across two
//! sources and a `time_field`.

use std::path::Path;

use accesswatch::check::{CheckResult, Rule, Status};
use accesswatch::config::Config;

use crate::common::{ConfigText, write};

const AS_OF: &str = "2026-12-01T12:00:00Z";

/// The checks run on each source: every aggregate, a ratio, freshness of
/// a field and of the source, labels required, a field the source lacks.
fn checks_on(source: &str) -> String {
    let mut text = String::new();
    let mut add = |id: &str, keys: &str| {
        text += &format!(
            "\n[[check]]\nid = \"{source}-{id}\"\ntitle = \"{id}\"\nsource = \"{source}\"\n\
             severity = \"warning\"\n{keys}\n"
        );
    };
    for aggregate in ["worst", "sum", "mean", "min", "max", "count"] {
        add(
            &format!("{aggregate}-le"),
            &format!(
                "kind = \"threshold\"\nfield = \"wait\"\naggregate = \"{aggregate}\"\n\
                 op = \"<=\"\nlimit = 10\ngroup_by = [\"region\"]"
            ),
        );
        add(
            &format!("{aggregate}-gt"),
            &format!(
                "kind = \"threshold\"\nfield = \"wait\"\naggregate = \"{aggregate}\"\n\
                 op = \">\"\nlimit = 5"
            ),
        );
    }
    add(
        "labelled",
        "kind = \"threshold\"\nfield = \"wait\"\nop = \"<=\"\nlimit = 10\n\
         group_by = [\"region\", \"fte\"]\nrequire_labels = true",
    );
    add(
        "ratio",
        "kind = \"ratio\"\nnumerator = \"members\"\ndenominator = \"fte\"\nop = \"<=\"\n\
         limit = 3000\ngroup_by = [\"region\"]",
    );
    add(
        "fresh",
        "kind = \"freshness\"\nfield = \"seen\"\nmax_age = \"2d\"\ngroup_by = [\"region\"]",
    );
    add("fresh-source", "kind = \"freshness\"\nmax_age = \"2d\"");
    add(
        "absent",
        "kind = \"threshold\"\nfield = \"absent\"\naggregate = \"sum\"\nop = \"<=\"\nlimit = 1",
    );
    text
}

/// A ratio of `numerators`' members over `denominators`' FTE, by region.
fn joined(numerators: &str, denominators: &str) -> String {
    format!(
        "\n[[check]]\nid = \"joined-{numerators}-{denominators}\"\ntitle = \"joined\"\nkind = \"ratio\"\n\
         source = \"{denominators}\"\nnumerator_source = \"{numerators}\"\nnumerator = \"members\"\n\
         denominator = \"fte\"\ngroup_by = [\"region\"]\nop = \"<=\"\nlimit = 3000\nseverity = \"warning\"\n"
    )
}

/// Runs every check of the configuration at `path` folded (the daemon's
/// run) and on fetched tables, and asserts the results are the same; the
/// folded results.
pub(crate) fn both_ways(path: &Path) -> Vec<CheckResult> {
    let config = Config::load(path).unwrap();
    let as_of = AS_OF.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let folded = runtime
        .block_on(accesswatch::daemon::run::run(
            &config,
            &config.checks,
            as_of,
            None,
            &cancel,
        ))
        .unwrap();
    let zone = config.daemon.time_zone;
    let table = |id: &str| {
        let spec = config.source(id).unwrap();
        runtime
            .block_on(accesswatch::source::fetch(spec, as_of, zone, None))
            .map_err(|e| format!("{e:#}"))
    };
    for (check, got) in config.checks.iter().zip(&folded.results) {
        let denominators = table(&check.source);
        let denominators = denominators.as_ref().map_err(String::as_str);
        let mut expected = match &check.rule {
            Rule::Ratio {
                numerator_source: Some(other),
                ..
            } => {
                let numerators = table(other);
                accesswatch::evaluate::evaluate_joined(
                    check,
                    numerators.as_ref().map_err(String::as_str),
                    denominators,
                    as_of,
                )
            }
            _ => accesswatch::evaluate::evaluate(check, denominators, as_of),
        };
        expected.data_time_origin = got.data_time_origin;
        // A fetched body's malformed data does not name the URL, nor a
        // cut body's error the line; a folded body's does.
        let mut got = got.clone();
        if let (Some(folded), Some(_)) = (&got.error, &expected.error) {
            got.error = Some(without_get(folded));
        }
        assert_eq!(
            format!("{got:#?}"),
            format!("{expected:#?}"),
            "check {}",
            check.id
        );
    }
    folded.results
}

/// Adds a joined ratio for each of `pairs` (numerators, denominators) to
/// `config`, writes it in `dir` and runs it [`both_ways`]; asserts the
/// comparison covered groups of every status.
fn joined_both_ways(
    mut config: ConfigText,
    pairs: &[(&str, &str)],
    dir: &Path,
) -> Vec<CheckResult> {
    for (top, bottom) in pairs {
        config = config.section(&joined(top, bottom));
    }
    let results = both_ways(&config.write(dir));
    let statuses: Vec<Status> = results
        .iter()
        .flat_map(|r| r.groups.iter().map(|g| g.status))
        .collect();
    for status in [Status::Ok, Status::Breach, Status::Unknown] {
        assert!(statuses.contains(&status), "no {status:?} group");
    }
    results
}

/// Asserts that some result's error contains each of `expected`.
fn assert_errors(results: &[CheckResult], expected: &[&str]) {
    let errors: Vec<&str> = results.iter().filter_map(|r| r.error.as_deref()).collect();
    for expected in expected {
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "no error {expected:?} in {errors:#?}"
        );
    }
}

/// `error` without what only a folded body's error tells: the "GET <url>
/// failed after 1 try: " of malformed data, and where a cut body broke.
fn without_get(error: &str) -> String {
    let error = match error.split_once("GET ") {
        Some((before, get)) => match get.split_once(" failed after 1 try: ") {
            Some((_, after)) => format!("{before}{after}"),
            None => error.to_owned(),
        },
        None => error.to_owned(),
    };
    match error.split_once("reading the body after ") {
        Some((before, at)) => match at.split_once(": ") {
            Some((_, after)) => format!("{before}{after}"),
            None => error,
        },
        None => error,
    }
}

const CSV: &str = "region,wait,members,fte,seen\n\
                   a,5,3000,1,2026-11-30T12:00:00Z\n\
                   a,15,3100,1,2026-11-29\n\
                   b,NaN,1,1,x\n\
                   c,inf,0,0,\n\
                   d,-inf,1e400,1, \n\
                   e, 7 ,+5,0x10,2026-11-30T25:00:00Z\n\
                   f,1e308,1e308,1e-320,2026-11-30\n\
                   f,1e308,1e308,1,2026-11-31\n\
                   g,,1,1,2026-11-30\n\
                   g,3,1,1,2026-11-30\n\
                   ,4,1,,2026-11-30\n\
                   i,Jane Doe,1,1,2026-11-30\n\
                   \"j\nk\",\" 3\",\"4\",1,2026-11-30T00:00:00+14:00\n";

/// Keys in changing orders (the NDJSON reader remembers the last order).
const NDJSON: &str = "{\"seen\": \"2026-11-30\", \"fte\": 1, \"region\": \"a\", \"wait\": 5, \"members\": 1e300}\n\
                      \n\
                      {\"region\": \"a\", \"fte\": 0.5, \"wait\": \"12\", \"members\": 1e300, \"seen\": 5}\n\
                      {\"members\": true, \"region\": \"b\", \"fte\": [1], \"wait\": null}\n\
                      {\"wait\": {\"v\": 1}, \"fte\": \"\", \"region\": \"c\", \"members\": \"7\"}\n\
                      {\"region\": 5, \"members\": -1, \"wait\": 18446744073709551615, \"fte\": 1}\n\
                      {\"seen\": null, \"region\": true, \"members\": 1, \"fte\": 1}\n\
                      {\"fte\": \"1e999\", \"members\": \"inf\", \"wait\": \"NaN\", \"region\": \"d\"}\n\
                      {\"region\": \"e\", \"wait\": 1.5, \"members\": 1, \"wait\": 99, \"fte\": 1}\r\n\
                      {\"region\": \"e\", \"wait\": \"caf\\u00e9\", \"members\": 2, \"fte\": 1}\n";

#[test]
fn file_sources_fold_to_the_results_of_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "hostile.csv", CSV);
    write(dir.path(), "hostile.ndjson", NDJSON);
    let records: Vec<&str> = NDJSON.lines().filter(|l| !l.trim().is_empty()).collect();
    write(
        dir.path(),
        "hostile.json",
        &format!(
            "\n {{\"meta\": [1], \"data\": [{}], \"after\": {{}}}}",
            records.join(",\n")
        ),
    );
    write(
        dir.path(),
        "dated.csv",
        "region,wait,seen\na,1,2026-11-30\nb,2,2026-11-29T10:00:00Z\n",
    );
    write(dir.path(), "header.csv", "region,wait,members,fte,seen\n");
    write(dir.path(), "blank.ndjson", " \n\r\n\n");
    write(
        dir.path(),
        "ragged.csv",
        "region,wait,members,fte\na,1,1,1\nb,2,2\n",
    );
    write(
        dir.path(),
        "late-error.json",
        "{\"data\": [{\"region\": \"a\", \"wait\": 1}, 7, {\"region\": \"b\"}] x",
    );
    write(
        dir.path(),
        "not-object.json",
        "{\"data\": [{\"region\": \"a\", \"wait\": 1}, 7, {\"region\": \"b\"}]}",
    );
    write(
        dir.path(),
        "not-utf8.ndjson",
        "{\"region\": \"a\"}\n{\"region\": \n{\"region\": \"\u{1}\"}\n",
    );
    let mut bad = std::fs::read(dir.path().join("not-utf8.ndjson")).unwrap();
    bad.extend_from_slice(b"{\"region\": \"\xff\"}\n");
    std::fs::write(dir.path().join("not-utf8.ndjson"), bad).unwrap();
    let mut config = ConfigText::new()
        .los_angeles()
        .route("compliance", &["compliance@plan.example"]);
    for (id, file, extra) in [
        ("csv", "hostile.csv", ""),
        ("ndjson", "hostile.ndjson", ""),
        ("json", "hostile.json", "records = \"/data\"\n"),
        ("csv-timed", "hostile.csv", "time_field = \"seen\"\n"),
        ("dated", "dated.csv", "time_field = \"seen\"\n"),
        ("ndjson-timed", "hostile.ndjson", "time_field = \"seen\"\n"),
        ("header", "header.csv", ""),
        ("blank", "blank.ndjson", ""),
        ("ragged", "ragged.csv", ""),
        ("late-error", "late-error.json", "records = \"/data\"\n"),
        ("not-object", "not-object.json", "records = \"/data\"\n"),
        ("not-utf8", "not-utf8.ndjson", ""),
        ("missing", "missing.csv", ""),
    ] {
        config = config.section(&format!(
            "[[source]]\nid = \"{id}\"\nkind = \"file\"\npath = \"{file}\"\n{extra}"
        ));
        config = config.section(&checks_on(id));
    }
    let pairs = [
        ("csv", "ndjson"),
        ("ndjson", "json"),
        ("json", "csv"),
        ("header", "csv"),
        ("csv", "missing"),
        ("ragged", "dated"),
    ];
    let results = joined_both_ways(config, &pairs, dir.path());
    assert_errors(
        &results,
        &[
            "the ndjson data is empty",
            "line 3 has 3 fields but the header has 4",
            "record 2 is a number, not a JSON object",
            // A syntax error after the records comes first, as in a table.
            "malformed JSON at line 1 column 59: syntax error",
            "line 4 is not valid UTF-8",
            "reading the time_field `seen`: line 4: `seen` is not an RFC 3339 time",
            "returned no records",
            "missing.csv",
        ],
    );
}

/// A PostgreSQL source on the test server, its password read from a file.
fn pg_source(id: &str, database: &str, query: &str, extra: &str, password: &Path) -> String {
    crate::postgres::source(id, database, query, &format!("tls = \"disable\"\n{extra}")).replace(
        "password_env = \"PG_TEST_PASSWORD\"",
        &format!("password_file = \"{}\"", password.display()),
    )
}

#[test]
fn postgres_sources_fold_to_the_results_of_their_tables() {
    // More rows than one fetch of the portal, and every kind of value.
    let db = crate::postgres::server().database(
        "fold_both_ways",
        "CREATE TABLE staffing (region text, wait text, wait_f float8, members numeric, \
         fte int4, active bool, seen timestamptz, seen_text text); \
         INSERT INTO staffing SELECT 'r' || (i % 7), (i % 13)::text, (i % 11) * 1.5, \
         i * 100, 1 + i % 3, i % 2 = 0, TIMESTAMPTZ '2026-11-30 00:00+00' - i * INTERVAL '1 minute', \
         '2026-11-29' FROM generate_series(1, 25000) AS i; \
         INSERT INTO staffing VALUES \
         ('bad', 'NaN', 'NaN', 'NaN', 0, NULL, NULL, 'x'), \
         ('bad', ' 7 ', 'Infinity', 1e300, 0, true, NULL, ''), \
         ('inf', 'inf', '-Infinity', 0, 0, false, NULL, NULL), \
         ('', 'Jane Doe', NULL, NULL, NULL, NULL, NULL, '2026-11-31'), \
         (NULL, '', 1e308, 1e308, 1, NULL, NULL, NULL), \
         ('huge', '1e400', 1e308, 1e308, 1, NULL, NULL, NULL)",
    );
    let dir = tempfile::tempdir().unwrap();
    let password = write(dir.path(), "pg-password", crate::postgres::PASSWORD);
    write(
        dir.path(),
        "members.csv",
        "region,members\nr1,100000\nr2,5\nbad,1\nnone,3\n",
    );
    let text = "SELECT region, wait, members, fte, seen_text AS seen FROM staffing ORDER BY wait_f, region, members";
    let typed = "SELECT region, wait_f AS wait, members, fte, active, seen FROM staffing ORDER BY wait_f, region, members";
    let mut config = ConfigText::new()
        .los_angeles()
        .route("compliance", &["compliance@plan.example"])
        .section("[[source]]\nid = \"members\"\nkind = \"file\"\npath = \"members.csv\"\n");
    for (id, query, extra) in [
        ("pg-text", text, ""),
        ("pg-typed", typed, ""),
        ("pg-timed", typed, "time_field = \"seen\"\n"),
        ("pg-text-timed", text, "time_field = \"seen\"\n"),
        (
            "pg-empty",
            "SELECT region, wait, members, fte, seen FROM staffing WHERE false",
            "",
        ),
        ("pg-error", "SELECT region, nope FROM staffing", ""),
    ] {
        let source = pg_source(id, &db, query, "", &password).replace(
            "kind = \"postgres\"\n",
            &format!("kind = \"postgres\"\n{extra}"),
        );
        config = config.section(&source).section(&checks_on(id));
    }
    config = config
        .section(&joined("members", "pg-typed"))
        .section(&joined("pg-text", "members"))
        .section(&joined("pg-empty", "pg-typed"));
    let path = config.write(dir.path());
    let results = both_ways(&path);
    let typed = results.iter().find(|r| r.id == "pg-typed-sum-le").unwrap();
    assert_eq!(typed.status, Status::Breach, "{typed:#?}");
    let r1 = typed
        .groups
        .iter()
        .find(|g| g.labels["region"] == "r1")
        .unwrap();
    assert_eq!(r1.rows, 3572);
    assert_errors(
        &results,
        &[
            "returned no records",
            "SQLSTATE 42703",
            "reading the time_field `seen`: row",
        ],
    );
}

/// The hostile rows above from a real HTTP server, as CSV, NDJSON and
/// gzipped JSON: the daemon folds each body as it arrives and must give
/// what the fetched table gives, a `time_field` included; a ratio joins
/// an HTTP side with a file side. A body cut mid-way and a malformed
/// record mid-body make the checks unknown with nothing partial, and the
/// error names the URL and the line.
#[test]
fn http_sources_fold_to_the_results_of_their_tables() {
    use std::io::Write as _;

    use axum::Router;
    use axum::http::header;
    use axum::routing::get;

    accesswatch::source::http::install_crypto_provider();
    let records: Vec<&str> = NDJSON.lines().filter(|l| !l.trim().is_empty()).collect();
    let json = format!(
        "\n {{\"meta\": [1], \"data\": [{}], \"after\": {{}}}}",
        records.join(",\n")
    );
    let typed = |content_type: &'static str, body: &'static str| {
        get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) })
    };
    let server = crate::common::HttpServer::start(
        Router::new()
            .route("/hostile.csv", typed("text/csv", CSV))
            .route("/hostile", typed("application/x-ndjson", NDJSON))
            .route(
                "/dated.csv",
                typed(
                    "text/csv",
                    "region,wait,seen\na,1,2026-11-30\nb,2,2026-11-29T10:00:00Z\n",
                ),
            )
            .route(
                "/members.csv",
                typed(
                    "text/csv",
                    "region,members\na,100000\nb,5\nc,1\nnone,3\n",
                ),
            )
            .route(
                "/broken.ndjson",
                typed(
                    "application/x-ndjson",
                    "{\"region\": \"a\", \"wait\": 1}\n{\"region\": \"a\", \"wait\": 2}\n{\"region\": \"b\", \"wait\": \n",
                ),
            )
            .route("/empty.csv", typed("text/csv", ""))
            .route("/login.csv", typed("text/html", "<html>sign in</html>"))
            .route("/hostile.json", crate::http_stream::gzipped_json(&json)),
    );
    // Every try is cut after the first rows.
    let (cut, _) = crate::http_stream::raw_server(|_, _, stream| {
        let _ = write!(stream, "{}\r\n", crate::http_stream::CHUNKED);
        crate::http_stream::chunk(stream, CSV.as_bytes());
    });
    // Every other try is cut: a retry folds from the start, and no row of
    // the cut try is counted.
    let (flaky, tries) = crate::http_stream::raw_server(|_, connection, stream| {
        let _ = write!(stream, "{}\r\n", crate::http_stream::CHUNKED);
        crate::http_stream::chunk(stream, CSV.as_bytes());
        if connection % 2 == 0 {
            crate::http_stream::chunk(stream, b"");
        }
    });
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fte.csv", "region,fte\na,10\nb,0\nc,1\nd,2\n");
    let mut config = ConfigText::new()
        .los_angeles()
        .route("compliance", &["compliance@plan.example"])
        .section("[[source]]\nid = \"fte\"\nkind = \"file\"\npath = \"fte.csv\"\n");
    let cut_url = cut.join("cut.csv?key=secret").unwrap().to_string();
    for (id, url, extra) in [
        ("http-csv", server.url("/hostile.csv"), ""),
        ("http-ndjson", server.url("/hostile"), ""),
        (
            "http-json",
            server.url("/hostile.json"),
            "records = \"/data\"\n",
        ),
        (
            "http-csv-timed",
            server.url("/hostile.csv"),
            "time_field = \"seen\"\n",
        ),
        (
            "http-ndjson-timed",
            server.url("/hostile"),
            "time_field = \"seen\"\n",
        ),
        (
            "http-dated",
            server.url("/dated.csv"),
            "time_field = \"seen\"\n",
        ),
        ("http-members", server.url("/members.csv"), ""),
        (
            "http-broken",
            format!("{}?token=abc", server.url("/broken.ndjson")),
            "",
        ),
        ("http-empty", server.url("/empty.csv"), ""),
        ("http-login", server.url("/login.csv"), ""),
        (
            "http-cut",
            cut_url.clone(),
            "retries = 1\nretry_backoff = \"10ms\"\n",
        ),
        (
            "http-flaky",
            flaky.join("flaky.csv").unwrap().to_string(),
            "retries = 1\nretry_backoff = \"10ms\"\n",
        ),
    ] {
        config = config
            .section(&format!(
                "[[source]]\nid = \"{id}\"\nkind = \"http\"\nurl = \"{url}\"\n{extra}"
            ))
            .section(&checks_on(id));
    }
    let pairs = [
        ("http-members", "fte"),
        ("fte", "http-csv"),
        ("http-ndjson", "http-json"),
        ("http-cut", "fte"),
    ];
    let results = joined_both_ways(config, &pairs, dir.path());
    let joined = results
        .iter()
        .find(|r| r.id == "joined-http-members-fte")
        .unwrap();
    assert_eq!(joined.status, Status::Breach, "{joined:#?}");
    let flaky = results
        .iter()
        .find(|r| r.id == "http-flaky-count-gt")
        .unwrap();
    assert_eq!(flaky.groups[0].rows, 13, "{flaky:#?}");
    // Two tries for the daemon's one fold, two for each of the 17 tables.
    assert_eq!(tries.lock().unwrap().len(), 2 + 17 * 2);
    assert_errors(
        &results,
        &[
            "the csv data is empty",
            "reading the time_field `seen`: line 4: `seen` is not an RFC 3339 time",
            "answered with text/html, not csv data",
        ],
    );
    // A malformed value makes its group unknown, naming the line.
    let worst = results
        .iter()
        .find(|r| r.id == "http-csv-worst-le")
        .unwrap();
    let group_errors: Vec<&str> = worst
        .groups
        .iter()
        .filter_map(|g| g.error.as_deref())
        .collect();
    assert!(
        group_errors.contains(&"line 13: `wait` is text, not a number"),
        "{group_errors:#?}"
    );
    // A broken body: every check of the source unknown, no group counted,
    // and the error names the URL (without its query) and the line.
    let broken_url = server.url("/broken.ndjson");
    let cut_shown = cut_url.replace("?key=secret", "?…");
    for (source, error) in [
        (
            "http-broken",
            format!(
                "GET {broken_url}?… failed after 1 try: malformed JSON on line 3 column 24: the data ends too early (truncated?)"
            ),
        ),
        (
            "http-cut",
            format!(
                "GET {cut_shown} failed after 2 tries: reading the body after 341 bytes, in line 16: the response body was cut off"
            ),
        ),
    ] {
        let prefix = format!("{source}-");
        let broken: Vec<&CheckResult> = results
            .iter()
            .filter(|r| r.id.starts_with(&prefix))
            .collect();
        assert_eq!(broken.len(), 17, "{source}");
        for result in broken {
            assert_eq!(result.status, Status::Unknown, "{result:#?}");
            assert!(result.groups.is_empty(), "nothing partial: {result:#?}");
            let text = result.error.as_deref().unwrap();
            assert!(text.contains(&error), "{text}");
            assert!(!text.contains("secret") && !text.contains("abc"), "{text}");
        }
    }
}
