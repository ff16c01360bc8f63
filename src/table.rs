//! The table of records a source yields, and the parsers that build it from
//! CSV, JSON and NDJSON bytes.
//!
//! Parsing is pure: bytes, a [`Format`] and a [`Layout`] (the field
//! mapping and the format's options) in, a [`Table`] or a [`TableError`]
//! out. The field mapping of the configuration is applied here, so checks
//! only ever see the names they were configured with. This module imports
//! nothing else of the crate.
//!
//! No cell value ever appears in an error message: a source may hold
//! member-level data, and errors go to logs and emails. Errors name the
//! line or record number, the field, and what kind of value was found.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::BufRead as _;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Tz;

/// FxHash (rustc's): a multiply and a rotate per word, for maps keyed by
/// short strings that are looked up once or more per row (field names,
/// group keys). A map's size is bounded by names and groups, so SipHash's
/// defence against chosen collisions buys nothing there and costs a tenth
/// of a pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
        }
        for byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*byte)).wrapping_mul(SEED);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Ndjson,
}

impl Format {
    /// What a row number counts in this format: "line" or "record".
    pub fn position(self) -> &'static str {
        match self {
            Format::Json => "record",
            Format::Csv | Format::Ndjson => "line",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }
}

/// How a source's records become rows: the `[source.fields]` mapping and
/// the format's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Name used by checks → name (or JSON pointer) in the source.
    pub fields: BTreeMap<String, String>,
    /// JSON pointer to the array of records (JSON only); the document root
    /// when absent.
    pub records: Option<String>,
    pub csv_delimiter: u8,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            fields: BTreeMap::new(),
            records: None,
            csv_delimiter: b',',
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    /// A JSON object or array, kept only as a kind for error messages.
    Nested(&'static str),
}

impl Value {
    /// A short description of the kind of value, safe to log.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "empty",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::Text(_) => "text",
            Value::Nested(kind) => kind,
        }
    }

    /// The value as a number: JSON numbers, and text that is a plain
    /// decimal number (surrounding spaces allowed).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => t.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        }
    }

    /// The value as a label (for grouping): text as is, numbers and
    /// booleans printed; empty and nested values have no label.
    pub fn as_label(&self) -> Option<String> {
        match self {
            Value::Text(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line (CSV, NDJSON) or record (JSON) number in the source.
    pub number: usize,
    pub fields: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Table {
    /// Every field name the rows may carry, after mapping.
    pub columns: BTreeSet<String>,
    pub rows: Vec<Row>,
    /// What a row number counts: "line" or "record".
    pub position: &'static str,
    /// When the data was produced, as far as the source can tell (file
    /// modification time, HTTP `Last-Modified`, or the fetch time).
    pub data_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError(pub String);

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TableError {}

pub(crate) fn error(message: impl Into<String>) -> TableError {
    TableError(message.into())
}

/// The newest time in `field` over all rows: RFC 3339 (`2026-11-28T17:00:00Z`)
/// or a bare date (that day's start in `zone`). Empty cells are skipped.
pub fn newest_time(table: &Table, field: &str, zone: Tz) -> Result<DateTime<Utc>, TableError> {
    newest_time_of(table.rows.iter(), table.position, field, zone)
}

/// [`newest_time`] over some of a table's rows (one group's).
pub fn newest_time_of<'a>(
    rows: impl Iterator<Item = &'a Row>,
    position: &str,
    field: &str,
    zone: Tz,
) -> Result<DateTime<Utc>, TableError> {
    let mut newest = Newest::default();
    for row in rows {
        newest.add(row.number, row.fields.get(field), zone);
    }
    newest.finish(position, field)
}

/// The newest time of a field, folded one row at a time: the same value
/// and the same error (the first bad row's) as [`newest_time_of`] over
/// those rows, without keeping them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Newest {
    newest: Option<DateTime<Utc>>,
    /// The first row whose value is not a time, and its kind (`None`:
    /// text that is not a time).
    bad: Option<(usize, Option<&'static str>)>,
}

impl Newest {
    /// Takes row `number`'s value of the field (`None`: the row lacks it).
    pub fn add(&mut self, number: usize, value: Option<&Value>, zone: Tz) {
        if self.bad.is_some() {
            return;
        }
        match value {
            None | Some(Value::Null) => {}
            Some(Value::Text(text)) => match parse_time(text.trim(), zone) {
                Some(time) => self.newest = self.newest.max(Some(time)),
                None => self.bad = Some((number, None)),
            },
            Some(other) => self.bad = Some((number, Some(other.kind()))),
        }
    }

    /// The newest time, or why there is none; `position` names what a row
    /// number counts.
    pub fn finish(&self, position: &str, field: &str) -> Result<DateTime<Utc>, TableError> {
        match self.bad {
            Some((number, Some(kind))) => Err(error(format!(
                "{position} {number}: `{field}` is {kind}, not a time"
            ))),
            Some((number, None)) => Err(error(format!(
                "{position} {number}: `{field}` is not an RFC 3339 time or a date (like 2026-11-28T17:00:00Z)"
            ))),
            None => self
                .newest
                .ok_or_else(|| error(format!("no row has a time in `{field}`"))),
        }
    }
}

fn parse_time(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?;
    // `earliest` picks the first instant of a day that starts in a DST gap.
    Some(
        zone.from_local_datetime(&start)
            .earliest()?
            .with_timezone(&Utc),
    )
}

/// Parses `bytes` as `format` and applies the field mapping of `spec`.
pub fn parse(
    bytes: &[u8],
    format: Format,
    spec: &Layout,
    data_time: DateTime<Utc>,
) -> Result<Table, TableError> {
    if format == Format::Json {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(empty(format));
        }
        let mut table = parse_json(bytes, spec)?;
        table.data_time = data_time;
        return Ok(table);
    }
    let mut rows = Vec::new();
    let columns = read_rows(bytes, format, spec, u64::MAX, |row| rows.push(row))?;
    Ok(Table {
        columns,
        rows,
        position: format.position(),
        data_time,
    })
}

fn empty(format: Format) -> TableError {
    error(format!(
        "the {} data is empty: expected a header row or records",
        format.as_str()
    ))
}

/// Reads the rows of CSV or NDJSON `input` one at a time into `each`,
/// as [`parse`] makes them, without keeping them; the columns at the end.
/// The errors are [`parse`]'s too, in the same order (an input of white
/// space only is empty, whatever else is wrong with it; invalid UTF-8
/// anywhere in NDJSON comes before any other problem). An NDJSON line
/// longer than `max_line` bytes is an error rather than a buffer that
/// grows without bound. JSON documents are streamed by
/// `source::json_stream`.
pub fn read_rows(
    input: impl std::io::Read,
    format: Format,
    spec: &Layout,
    max_line: u64,
    each: impl FnMut(Row),
) -> Result<BTreeSet<String>, TableError> {
    let mut input = Blank {
        inner: input,
        blank: true,
    };
    let read = match format {
        Format::Csv => csv_rows(&mut input, spec, each),
        Format::Ndjson => ndjson_rows(
            std::io::BufReader::with_capacity(256 * 1024, &mut input),
            spec,
            max_line,
            each,
        ),
        Format::Json => return Err(error("JSON documents are streamed by json_stream")),
    };
    // Nothing but white space read, whether or not it made sense: empty
    // if the rest is white space too.
    let nothing = match &read {
        Ok((_, rows)) => *rows == 0,
        Err(_) => true,
    };
    if nothing && input.blank && input.rest_is_blank() {
        return Err(empty(format));
    }
    read.map(|(columns, _)| columns)
}

/// A reader that tells whether every byte it gave was ASCII white space.
struct Blank<R> {
    inner: R,
    blank: bool,
}

impl<R: std::io::Read> std::io::Read for Blank<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.blank {
            self.blank = buf[..n].iter().all(u8::is_ascii_whitespace);
        }
        Ok(n)
    }
}

impl<R: std::io::Read> Blank<R> {
    /// Reads the rest: whether it is all white space (a read error is not).
    fn rest_is_blank(&mut self) -> bool {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match std::io::Read::read(self, &mut buffer) {
                Ok(0) => return self.blank,
                Ok(_) if self.blank => {}
                Ok(_) | Err(_) => return false,
            }
        }
    }
}

/// CSV rows into `each`; the columns and the number of rows.
fn csv_rows(
    input: impl std::io::Read,
    spec: &Layout,
    mut each: impl FnMut(Row),
) -> Result<(BTreeSet<String>, usize), TableError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(spec.csv_delimiter)
        .trim(csv::Trim::Headers)
        .buffer_capacity(256 * 1024)
        .from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| error(format!("cannot read the CSV header: {}", csv_error(&e))))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut seen = BTreeSet::new();
    for name in &header {
        if name.is_empty() {
            return Err(error("the CSV header has an empty column name"));
        }
        if !seen.insert(name.as_str()) {
            return Err(error(format!("the CSV header names column {name:?} twice")));
        }
    }
    for (canonical, column) in &spec.fields {
        if !seen.contains(column.as_str()) {
            return Err(error(format!(
                "[source.fields] maps `{canonical}` to column {column:?}, which the CSV header \
                 does not have (it has: {}); fix the mapping or the file",
                header.join(", ")
            )));
        }
    }
    let mut count = 0;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(error(format!("bad CSV: {}", csv_error(&e)))),
        }
        let number = record.position().map_or(0, |p| p.line() as usize);
        let raw: BTreeMap<&str, Value> = header
            .iter()
            .zip(record.iter())
            .map(|(name, cell)| {
                let value = if cell.trim().is_empty() {
                    Value::Null
                } else {
                    Value::Text(cell.to_owned())
                };
                (name.as_str(), value)
            })
            .collect();
        let fields = map_fields(spec, header.iter().map(String::as_str), |name| {
            raw.get(name).cloned()
        });
        count += 1;
        each(Row { number, fields });
    }
    let columns = mapped_columns(spec, header.iter().map(String::as_str));
    Ok((columns, count))
}

/// A csv error without the record contents that its `Display` may quote.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {} has {len} fields but the header has {expected_len}",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {} is not valid UTF-8",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        csv::ErrorKind::Io(e) => e.to_string(),
        _ => "the data is not valid CSV".to_owned(),
    }
}

fn parse_json(bytes: &[u8], spec: &Layout) -> Result<Table, TableError> {
    let document: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        // The error as a reader meets it, as `json_stream` streams the
        // document: serde_json puts a number beyond `f64` one column
        // later there than in a slice.
        let e = serde_json::from_reader::<_, serde_json::Value>(bytes)
            .err()
            .unwrap_or(e);
        error(format!(
            "malformed JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            json_error_kind(&e)
        ))
    })?;
    let pointer = spec.records.as_deref().unwrap_or("");
    let records = document.pointer(pointer).ok_or_else(|| {
        error(format!(
            "the JSON pointer `records = {pointer:?}` finds nothing in the document; \
             point it at the array of records"
        ))
    })?;
    let serde_json::Value::Array(records) = records else {
        return Err(error(format!(
            "`records = {pointer:?}` points at {}, not an array of records",
            json_kind(records)
        )));
    };
    let mut rows = Vec::with_capacity(records.len());
    let mut names = BTreeSet::new();
    for (index, record) in records.iter().enumerate() {
        rows.push(json_row(record, index + 1, "record", spec, &mut names)?);
    }
    Ok(Table {
        columns: mapped_columns(spec, names.iter().map(String::as_str)),
        rows,
        position: "record",
        data_time: DateTime::<Utc>::MIN_UTC,
    })
}

/// NDJSON rows into `each`, line by line; the columns and the number of
/// rows.
fn ndjson_rows(
    mut input: impl std::io::BufRead,
    spec: &Layout,
    max_line: u64,
    mut each: impl FnMut(Row),
) -> Result<(BTreeSet<String>, usize), TableError> {
    let mut names = BTreeSet::new();
    let mut line = Vec::new();
    let mut number = 0usize;
    let mut count = 0;
    loop {
        line.clear();
        let read = std::io::Read::take(&mut input, max_line.saturating_add(1))
            .read_until(b'\n', &mut line)
            .map_err(|e| error(format!("reading the data: {e}")))?;
        if read == 0 {
            break;
        }
        number += 1;
        let row = (|| {
            if line.len() as u64 > max_line {
                return Err(error(format!(
                    "line {number} is longer than {} MiB: not one record per line?",
                    max_line >> 20
                )));
            }
            let text = std::str::from_utf8(&line)
                .map_err(|_| error(format!("line {number} is not valid UTF-8")))?;
            // As `str::lines` cuts them.
            let text = text.strip_suffix('\n').unwrap_or(text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.trim().is_empty() {
                return Ok(None);
            }
            let record: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                error(format!(
                    "malformed JSON on line {number} column {}: {}",
                    e.column(),
                    json_error_kind(&e)
                ))
            })?;
            json_row(&record, number, "line", spec, &mut names).map(Some)
        })();
        match row {
            Ok(Some(row)) => {
                count += 1;
                each(row);
            }
            Ok(None) => {}
            // The first line that is not UTF-8 is the error a parsed table
            // names (as when the file was read whole): this one, or one
            // further on.
            Err(e) if std::str::from_utf8(&line).is_err() => return Err(e),
            Err(e) => return Err(later_invalid_utf8(input, number).unwrap_or(e)),
        }
    }
    Ok((
        mapped_columns(spec, names.iter().map(String::as_str)),
        count,
    ))
}

/// The first line after line `number` of `input` that is not valid UTF-8,
/// as an error.
fn later_invalid_utf8(mut input: impl std::io::BufRead, mut number: usize) -> Option<TableError> {
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => number += 1,
        }
        if std::str::from_utf8(&line).is_err() {
            return Some(error(format!("line {number} is not valid UTF-8")));
        }
    }
}

/// One JSON record as a row, as [`parse`] makes it; its keys are added to
/// `names`.
pub fn json_row(
    record: &serde_json::Value,
    number: usize,
    position: &str,
    spec: &Layout,
    names: &mut BTreeSet<String>,
) -> Result<Row, TableError> {
    let serde_json::Value::Object(object) = record else {
        return Err(error(format!(
            "{position} {number} is {}, not a JSON object",
            json_kind(record)
        )));
    };
    for key in object.keys() {
        if !names.contains(key) {
            names.insert(key.clone());
        }
    }
    let fields = map_fields(spec, object.keys().map(String::as_str), |name| {
        if name.starts_with('/') {
            record.pointer(name).map(json_value)
        } else {
            object.get(name).map(json_value)
        }
    });
    Ok(Row { number, fields })
}

/// The cells `names` (names checks use, after the mapping) of one JSON
/// record as text, into `cells`, for streamed evaluation: what
/// [`parse`] would have put in the row's fields, without keeping the row.
/// `seen[i]` is set when the record has a value for `names[i]`, so that
/// the caller knows the columns of the whole source at its end.
pub fn json_cells(
    record: &serde_json::Value,
    number: u64,
    position: &str,
    layout: &Layout,
    names: &[String],
    cells: &mut Vec<Option<String>>,
    seen: &mut [bool],
) -> Result<(), TableError> {
    let serde_json::Value::Object(object) = record else {
        return Err(error(format!(
            "{position} {number} is {}, not a JSON object",
            json_kind(record)
        )));
    };
    cells.clear();
    for (index, name) in names.iter().enumerate() {
        let mapped = layout.fields.get(name).and_then(|source| {
            if source.starts_with('/') {
                record.pointer(source)
            } else {
                object.get(source)
            }
        });
        let value = mapped.or_else(|| object.get(name));
        if value.is_some() {
            seen[index] = true;
        }
        cells.push(value.map(json_value).and_then(|value| match value {
            Value::Text(text) => Some(text),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Nested(_) => None,
        }));
    }
    Ok(())
}

/// Applies the mapping: every source field keeps its own name, and each
/// mapped name takes the value of its source field (or JSON pointer).
pub(crate) fn map_fields<'a>(
    spec: &Layout,
    names: impl Iterator<Item = &'a str>,
    lookup: impl Fn(&str) -> Option<Value>,
) -> BTreeMap<String, Value> {
    let mut fields: BTreeMap<String, Value> = names
        .filter_map(|name| lookup(name).map(|value| (name.to_owned(), value)))
        .collect();
    for (canonical, source_name) in &spec.fields {
        if let Some(value) = lookup(source_name) {
            fields.insert(canonical.clone(), value);
        }
    }
    fields
}

/// The column names checks can use: the mapped names plus every source
/// name that is not itself mapped away.
pub(crate) fn mapped_columns<'a>(
    spec: &Layout,
    names: impl Iterator<Item = &'a str>,
) -> BTreeSet<String> {
    let mut columns: BTreeSet<String> = spec.fields.keys().cloned().collect();
    columns.extend(names.map(str::to_owned));
    columns
}

pub(crate) fn json_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Number),
        serde_json::Value::String(s) => {
            if s.trim().is_empty() {
                Value::Null
            } else {
                Value::Text(s.clone())
            }
        }
        serde_json::Value::Array(_) => Value::Nested("an array"),
        serde_json::Value::Object(_) => Value::Nested("an object"),
    }
}

pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde_json's message without any quoted input.
pub(crate) fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "the data ends too early (truncated?)",
        // serde_json has no other sign of this one than its message.
        serde_json::error::Category::Syntax if e.to_string().starts_with("number out of range") => {
            "a number beyond what a 64-bit float holds (such as 1e999); \
             write it within ±1.7e308, or as a string"
        }
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Io => "read error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn spec(fields: &[(&str, &str)], records: Option<&str>) -> Layout {
        Layout {
            records: records.map(str::to_owned),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            csv_delimiter: b',',
        }
    }

    /// Parses `input` and returns each row as `number: k=v, …` (values
    /// debug-printed), or the error message.
    fn check(input: &str, format: Format, spec: &Layout, expected: &[&str]) {
        let got: Vec<String> = match parse(input.as_bytes(), format, spec, DateTime::UNIX_EPOCH) {
            Ok(table) => table
                .rows
                .iter()
                .map(|row| {
                    let fields: Vec<String> = row
                        .fields
                        .iter()
                        .map(|(k, v)| format!("{k}={v:?}"))
                        .collect();
                    format!("{}: {}", row.number, fields.join(", "))
                })
                .collect(),
            Err(e) => vec![format!("error: {e}")],
        };
        assert_eq!(got, expected, "input: {input:?}");
    }

    #[test]
    fn csv_with_mapping() {
        let spec = spec(&[("members", "Enrolled")], None);
        check(
            "Region,Enrolled\nsouth,100\nnorth,\n",
            Format::Csv,
            &spec,
            &[
                "2: Enrolled=Text(\"100\"), Region=Text(\"south\"), members=Text(\"100\")",
                "3: Enrolled=Null, Region=Text(\"north\"), members=Null",
            ],
        );
    }

    #[test]
    fn csv_errors_name_the_line_and_never_quote_cells() {
        let plain = spec(&[], None);
        check(
            "a,b\n1,2\n3\n",
            Format::Csv,
            &plain,
            &["error: bad CSV: line 3 has 1 fields but the header has 2"],
        );
        check(
            "a,a\n1,2\n",
            Format::Csv,
            &plain,
            &["error: the CSV header names column \"a\" twice"],
        );
        check(
            "",
            Format::Csv,
            &plain,
            &["error: the csv data is empty: expected a header row or records"],
        );
        check(
            "  \n",
            Format::Csv,
            &plain,
            &["error: the csv data is empty: expected a header row or records"],
        );
        let mapped = spec(&[("members", "Enrolled")], None);
        check(
            "Region,Members\nsouth,100\n",
            Format::Csv,
            &mapped,
            &[
                "error: [source.fields] maps `members` to column \"Enrolled\", which the CSV header does not have (it has: Region, Members); fix the mapping or the file",
            ],
        );
    }

    #[test]
    fn json_records_by_pointer() {
        let spec = spec(&[("fte", "/staff/fte")], Some("/data"));
        check(
            r#"{"data": [{"region": "s", "staff": {"fte": 2.5}, "tags": [1]}, {"region": 7}]}"#,
            Format::Json,
            &spec,
            &[
                "1: fte=Number(2.5), region=Text(\"s\"), staff=Nested(\"an object\"), tags=Nested(\"an array\")",
                "2: region=Number(7.0)",
            ],
        );
    }

    #[test]
    fn json_errors() {
        let plain = spec(&[], None);
        let data = spec(&[], Some("/data"));
        check(
            r#"{"data": [1"#,
            Format::Json,
            &data,
            &["error: malformed JSON at line 1 column 11: the data ends too early (truncated?)"],
        );
        check(
            r#"{"data": [1,]}"#,
            Format::Json,
            &data,
            &["error: malformed JSON at line 1 column 13: syntax error"],
        );
        check(
            r#"{"other": []}"#,
            Format::Json,
            &data,
            &[
                "error: the JSON pointer `records = \"/data\"` finds nothing in the document; point it at the array of records",
            ],
        );
        check(
            r#"{"data": {"a": 1}}"#,
            Format::Json,
            &data,
            &["error: `records = \"/data\"` points at an object, not an array of records"],
        );
        check(
            r#"[{"a": 1}, "name"]"#,
            Format::Json,
            &plain,
            &["error: record 2 is a string, not a JSON object"],
        );
        check("[]", Format::Json, &plain, &[] as &[&str]);
    }

    #[test]
    fn ndjson() {
        let plain = spec(&[], None);
        check(
            "{\"a\": 1}\n\n{\"a\": \"x\"}\n",
            Format::Ndjson,
            &plain,
            &["1: a=Number(1.0)", "3: a=Text(\"x\")"],
        );
        check(
            "{\"a\": 1}\n{\"a\": \n",
            Format::Ndjson,
            &plain,
            &["error: malformed JSON on line 2 column 6: the data ends too early (truncated?)"],
        );
        check(
            "[1]\n",
            Format::Ndjson,
            &plain,
            &["error: line 1 is an array, not a JSON object"],
        );
    }

    /// The first NDJSON line that is not UTF-8 is named, even after a
    /// malformed line and before another that is not UTF-8.
    #[test]
    fn ndjson_names_the_first_line_that_is_not_utf8() {
        let plain = spec(&[], None);
        for input in [
            &b"{\"a\": 1}\n{\"a\": \"\xff\"}\n\xff\n"[..],
            &b"{\"a\": \n{\"a\": \"\xff\"}\n{\"a\": 2}\n\xff\n"[..],
        ] {
            let error = parse(input, Format::Ndjson, &plain, DateTime::UNIX_EPOCH).unwrap_err();
            assert_eq!(error.0, "line 2 is not valid UTF-8");
        }
    }

    #[test]
    fn newest_time_reads_dates_in_the_zone() {
        let spec = spec(&[], None);
        let table = parse(
            b"d\n2026-11-27\n2026-11-28T09:00:00Z\n\n",
            Format::Csv,
            &spec,
            DateTime::UNIX_EPOCH,
        )
        .unwrap();
        let newest = newest_time(&table, "d", chrono_tz::America::Los_Angeles).unwrap();
        assert_eq!(newest.to_rfc3339(), "2026-11-28T09:00:00+00:00");
        let table = parse(b"d\n2026-11-27\n", Format::Csv, &spec, DateTime::UNIX_EPOCH).unwrap();
        let newest = newest_time(&table, "d", chrono_tz::America::Los_Angeles).unwrap();
        assert_eq!(newest.to_rfc3339(), "2026-11-27T08:00:00+00:00");
        let table = parse(b"d\nyesterday\n", Format::Csv, &spec, DateTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            newest_time(&table, "d", chrono_tz::UTC).unwrap_err().0,
            "line 2: `d` is not an RFC 3339 time or a date (like 2026-11-28T17:00:00Z)"
        );
    }
}
