//! Fetching a source's data: the IO edge that feeds evaluation.
//!
//! [`fetch`] reads one [`SourceSpec`] (a file, or an HTTP GET in
//! [`http`], the only module that knows reqwest) and parses the bytes into
//! a [`Table`] with [`crate::table::parse`]. Every failure becomes an
//! `anyhow::Error` whose message names the source and what to change; the
//! caller logs it and marks the checks that use the source `unknown`.
//!
//! Each kind of source is a variant of [`spec::Location`] with a module
//! here: [`fhir`], [`nppes`], [`postgres`] (the only module that knows
//! tokio-postgres). A CSV file that wait-time checks read is not loaded
//! but streamed through a fold ([`csv_stream`]) that the caller plugs in.
//! This stage never evaluates: it yields rows.

pub mod csv_stream;
pub mod fhir;
pub mod http;
pub mod json_record;
pub mod json_stream;
pub mod nppes;
pub mod postgres;
pub mod pushdown;
pub mod spec;
pub mod utf8;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::source::spec::{Location, SourceSpec};
use crate::table::Format;
use crate::table::{self, Row, Table};

/// What a fetch may need besides its source's settings.
pub struct FetchContext<'a> {
    pub source: &'a SourceSpec,
    /// The evaluation time, and the data time when the source cannot tell.
    pub now: DateTime<Utc>,
    /// Where a bare date starts.
    pub zone: Tz,
    /// For sources that keep a cursor between runs (FHIR `_lastUpdated`);
    /// `None` in `run --once` without `--notify`.
    pub store: Option<&'a crate::state::Store>,
}

/// Fetches and parses `spec`. `now` is the time recorded as the data time
/// when the source cannot tell a better one; `zone` is where a bare date in
/// the `time_field` starts.
pub async fn fetch(
    spec: &SourceSpec,
    now: DateTime<Utc>,
    zone: Tz,
    store: Option<&crate::state::Store>,
) -> anyhow::Result<Table> {
    let context = FetchContext {
        source: spec,
        now,
        zone,
        store,
    };
    let (bytes, format, data_time) = match &spec.location {
        Location::File(path) => read_file(spec, path).await?,
        Location::Fhir(fhir) => return fhir::fetch(fhir, &context).await,
        Location::Nppes(nppes) => return nppes::fetch(nppes, &context).await,
        Location::Postgres(postgres) => return postgres::fetch(postgres, &context).await,
        Location::Http(http) => {
            let response = http::get(http).await?;
            let format = http_format(spec, http, response.content_type.as_deref())?;
            (
                response.body.to_vec(),
                format,
                response.last_modified.unwrap_or(now),
            )
        }
    };
    let mut table = table::parse(&bytes, format, &spec.layout, data_time)?;
    if let Some(field) = &spec.time_field {
        table.data_time = table::newest_time(&table, field, zone)
            .with_context(|| format!("reading the time_field `{field}`"))?;
    }
    Ok(table)
}

/// The format of an HTTP source's answer: the configured one, else its
/// content type's, else its URL's extension's; and never an HTML page.
fn http_format(
    spec: &SourceSpec,
    http: &spec::HttpSpec,
    content_type: Option<&str>,
) -> anyhow::Result<Format> {
    let format = spec
        .format
        .or_else(|| content_type.and_then(format_from_content_type))
        .or_else(|| format_from_extension(http.url.path()))
        .with_context(|| {
            format!(
                "cannot tell the format of {} (content type {:?}): set format = \"csv\", \"json\" or \"ndjson\"",
                http::display_url(&http.url),
                content_type.unwrap_or("none")
            )
        })?;
    check_content_type(content_type, format, &http.url)?;
    Ok(format)
}

/// Folds the body of the HTTP source `spec` as it arrives
/// ([`http::Client::get_folded`]): `fold` gets the body's format and the
/// body on a blocking thread. Also gives the data time: the answer's
/// `Last-Modified`, else `now`.
pub async fn fold_http<T: Send + 'static>(
    spec: &SourceSpec,
    now: DateTime<Utc>,
    fold: impl Fn(Format, http::BodyReader) -> anyhow::Result<T> + Send + Sync + 'static,
) -> anyhow::Result<(T, DateTime<Utc>)> {
    let Location::Http(http) = &spec.location else {
        anyhow::bail!("source {:?} is not an HTTP source", spec.id);
    };
    let owned = (spec.clone(), http.clone());
    let folded = http::Client::new(&http.options)?
        .get_folded(&http.url, move |answer, body| {
            let (spec, http) = &owned;
            let format = http_format(spec, http, answer.content_type.as_deref())?;
            Ok((fold(format, body)?, answer.last_modified.unwrap_or(now)))
        })
        .await?;
    Ok(folded)
}

/// A FHIR source that wait-time checks fold page by page instead of
/// reading into a table: an Appointment search without a `time_field`.
pub fn streamable_fhir(spec: &SourceSpec) -> Option<&fhir::FhirSpec> {
    match &spec.location {
        Location::Fhir(fhir)
            if spec.time_field.is_none() && fhir.resource == fhir::ResourceKind::Appointment =>
        {
            Some(fhir)
        }
        _ => None,
    }
}

/// An HTTP source that wait-time checks fold as its body arrives instead
/// of reading it into a table: any without a `time_field`.
pub fn streamable_http(spec: &SourceSpec) -> Option<&spec::HttpSpec> {
    match &spec.location {
        Location::Http(http) if spec.time_field.is_none() => Some(http),
        _ => None,
    }
}

async fn read_file(
    spec: &SourceSpec,
    path: &Path,
) -> anyhow::Result<(Vec<u8>, Format, DateTime<Utc>)> {
    let format = file_format(spec, path)?;
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    let modified = tokio::fs::metadata(path)
        .await
        .and_then(|m| m.modified())
        .with_context(|| format!("reading the modification time of {}", path.display()))?;
    Ok((bytes, format, DateTime::<Utc>::from(modified)))
}

/// The format of a file source: given, or by its extension.
fn file_format(spec: &SourceSpec, path: &Path) -> anyhow::Result<Format> {
    spec.format
        .or_else(|| format_from_extension(&path.to_string_lossy()))
        .with_context(|| {
            format!(
                "cannot tell the format of {} from its extension: set format = \"csv\", \"json\" or \"ndjson\"",
                path.display()
            )
        })
}

/// What a source's rows told besides their values, once all were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Every field name the rows may carry, after mapping.
    pub columns: BTreeSet<String>,
    /// What a row number counts: "line", "record" or "row".
    pub position: &'static str,
    /// The data time a fetched table has before its `time_field` is read:
    /// the file's modification time, or the evaluation time.
    pub data_time: DateTime<Utc>,
}

/// Whether the rows of `spec` can be read one at a time, without a
/// table: files ([`read_file_rows`]), PostgreSQL queries
/// ([`postgres::fold_rows`]) and HTTP bodies as they arrive
/// ([`fold_http`] with [`read_rows`]), with or without a `time_field`.
pub fn foldable(spec: &SourceSpec) -> bool {
    matches!(
        spec.location,
        Location::File(_) | Location::Postgres(_) | Location::Http(_)
    )
}

/// Reads the rows of the file source `spec` at `path` one at a time into
/// `each`, as [`fetch`] puts them in its table, holding one row (and for
/// JSON one record) at a time; blocking. The errors are [`fetch`]'s.
pub fn read_file_rows(
    spec: &SourceSpec,
    path: &Path,
    each: impl FnMut(Row),
) -> anyhow::Result<Shape> {
    let format = file_format(spec, path)?;
    let reading = || format!("reading {}", path.display());
    let file = std::fs::File::open(path).with_context(reading)?;
    let modified = file
        .metadata()
        .and_then(|m| m.modified())
        .with_context(|| format!("reading the modification time of {}", path.display()))?;
    let mut input = Failing {
        inner: file,
        error: None,
    };
    let columns = read_rows(&mut input, format, &spec.layout, each);
    // A file that cannot be read is that, not malformed data.
    if let Some(error) = input.error {
        return Err(error).with_context(reading);
    }
    Ok(Shape {
        columns: columns?,
        position: format.position(),
        data_time: DateTime::<Utc>::from(modified),
    })
}

/// Reads the rows of `input` in `format` one at a time into `each`, as
/// [`table::parse`] puts them in its table (CSV and NDJSON through
/// [`table::read_rows`], a JSON document through
/// [`json_stream::fold_rows`]); the columns. The errors are
/// [`table::parse`]'s.
pub fn read_rows(
    input: impl std::io::Read,
    format: Format,
    layout: &crate::table::Layout,
    each: impl FnMut(Row),
) -> Result<BTreeSet<String>, table::TableError> {
    match format {
        Format::Json => json_stream::fold_rows(
            std::io::BufReader::with_capacity(256 * 1024, input),
            layout,
            each,
        ),
        Format::Csv | Format::Ndjson => {
            table::read_rows(input, format, layout, json_stream::MAX_LINE, each)
        }
    }
}

/// A reader that keeps the first error it met.
struct Failing<R> {
    inner: R,
    error: Option<std::io::Error>,
}

impl<R: std::io::Read> std::io::Read for Failing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if self.error.is_none() && e.kind() != std::io::ErrorKind::Interrupted {
                self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        })
    }
}

/// The path of a file source in CSV format (given or by extension), which
/// wait-time checks stream instead of reading into a table.
pub fn streamable_csv(spec: &SourceSpec) -> Option<&Path> {
    streamable(spec).and_then(|(path, format)| (format == Format::Csv).then_some(path))
}

/// The path and format of a file source that wait-time checks stream
/// instead of reading into a table: any CSV file; a JSON or NDJSON file
/// without a `time_field` (whose newest time would need every row kept).
pub fn streamable(spec: &SourceSpec) -> Option<(&Path, Format)> {
    let Location::File(path) = &spec.location else {
        return None;
    };
    let format = spec
        .format
        .or_else(|| format_from_extension(&path.to_string_lossy()))?;
    (format == Format::Csv || spec.time_field.is_none()).then_some((path.as_path(), format))
}

/// The query of a PostgreSQL source that wait-time checks fold row by row
/// instead of reading into a table: any without a `time_field`.
pub fn streamable_query(spec: &SourceSpec) -> Option<&postgres::PostgresSpec> {
    match &spec.location {
        Location::Postgres(query) if spec.time_field.is_none() => Some(query),
        _ => None,
    }
}

/// A page of HTML where data was expected is a login page or a proxy's
/// error, not data: say so instead of "malformed JSON".
fn check_content_type(
    content_type: Option<&str>,
    format: Format,
    url: &url::Url,
) -> anyhow::Result<()> {
    let Some(content_type) = content_type else {
        return Ok(());
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if matches!(essence.as_str(), "text/html" | "application/xhtml+xml") {
        anyhow::bail!(
            "{} answered with {essence}, not {} data: check `url` and the credentials (a login page?)",
            http::display_url(url),
            format.as_str()
        );
    }
    Ok(())
}

fn format_from_extension(path: &str) -> Option<Format> {
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match extension.as_str() {
        "csv" => Some(Format::Csv),
        "json" => Some(Format::Json),
        "ndjson" | "jsonl" => Some(Format::Ndjson),
        _ => None,
    }
}

fn format_from_content_type(content_type: &str) -> Option<Format> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "text/csv" => Some(Format::Csv),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Some(Format::Ndjson),
        e if e == "application/json" || e.ends_with("+json") => Some(Format::Json),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_from_extension("a/b.CSV"), Some(Format::Csv));
        assert_eq!(format_from_extension("x.jsonl"), Some(Format::Ndjson));
        assert_eq!(format_from_extension("x"), None);
        assert_eq!(
            format_from_content_type("text/csv; charset=utf-8"),
            Some(Format::Csv)
        );
        assert_eq!(
            format_from_content_type("application/fhir+json"),
            Some(Format::Json)
        );
        assert_eq!(
            format_from_content_type("application/x-ndjson"),
            Some(Format::Ndjson)
        );
        assert_eq!(format_from_content_type("text/html"), None);
    }
}
