//! Streaming NDJSON and JSON records through a fold, one record at a time:
//! the JSON counterpart of [`super::csv_stream`].
//!
//! NDJSON is read line by line; a JSON document is read as it comes, down
//! the `records` pointer to its array, whose elements are folded one by one
//! and dropped (nothing else of the document is kept). Each record becomes
//! the cells of the names the fold asks for ([`crate::table::json_cells`],
//! the same mapping [`crate::table::parse`] applies). Memory holds one
//! record, whatever the size of the source. Errors are those of
//! `table::parse`, naming the line or record, never a value.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek as _, SeekFrom};
use std::path::Path;

use anyhow::Context as _;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess};

use super::json_record::{self, Cells, Skip};
use crate::table::{self, Format, Layout, Row, TableError};

/// The longest NDJSON line (one record) taken: a longer one is an error
/// rather than a buffer that grows without bound.
pub const MAX_LINE: u64 = 16 * 1024 * 1024;

/// What a streamed source gave besides its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// Records folded.
    pub records: u64,
    /// Whether some record had a value for each name (mapped names always
    /// count as present, as in a parsed table's columns).
    pub seen: Vec<bool>,
}

/// Folds each record of `input` (`format` JSON or NDJSON) as the cells of
/// `names` into `add`, with its line (NDJSON) or record (JSON) number.
pub fn fold_reader(
    input: impl BufRead,
    format: Format,
    layout: &Layout,
    names: &[String],
    add: impl FnMut(u64, &Cells<'_>),
) -> Result<Streamed, TableError> {
    let mut sink = Sink::new(layout, names, add);
    match format {
        Format::Ndjson => {
            if !ndjson(input, &mut sink, 1)?.0 {
                return Err(empty(Format::Ndjson));
            }
        }
        Format::Json => json(input, layout, &mut sink)?,
        Format::Csv => return Err(table::error("CSV is streamed by csv_stream")),
    }
    Ok(streamed(layout, names, sink.seen(), sink.records))
}

fn streamed(layout: &Layout, names: &[String], mut seen: Vec<bool>, records: u64) -> Streamed {
    for (name, seen) in names.iter().zip(&mut seen) {
        *seen |= layout.fields.contains_key(name);
    }
    Streamed { records, seen }
}

/// NDJSON files smaller than this are read by one worker.
const SPLIT_ABOVE: u64 = 8 * 1024 * 1024;

/// Folds the NDJSON file at `path` on up to `workers` threads: the file is
/// cut at line breaks (a line break never falls inside an NDJSON record),
/// each part folded into its own copy of `start` with `add`, its lines
/// numbered from 1; then each copy's line numbers are moved past the
/// lines before its part (`renumber`) and the copies merged in file order
/// with `merge`. Also gives the file's modification time (`fallback_time`
/// when the file system has none).
#[allow(clippy::too_many_arguments)]
pub fn fold_ndjson_file<T: Clone + Send>(
    path: &Path,
    layout: &Layout,
    names: &[String],
    workers: usize,
    fallback_time: chrono::DateTime<chrono::Utc>,
    start: T,
    add: impl Fn(&mut T, u64, &Cells<'_>) + Sync,
    renumber: impl Fn(&mut T, u64),
    merge: impl Fn(&mut T, T),
) -> anyhow::Result<(T, Streamed, chrono::DateTime<chrono::Utc>)> {
    let context = || format!("reading {}", path.display());
    let file = File::open(path).with_context(context)?;
    let metadata = file.metadata().with_context(context)?;
    let modified = metadata
        .modified()
        .map_or(fallback_time, chrono::DateTime::from);
    let workers = if metadata.len() < SPLIT_ABOVE {
        1
    } else {
        workers
    };
    let parts = line_parts(file, metadata.len(), workers).with_context(context)?;
    let add = &add;
    let folded: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                let mut fold = start.clone();
                scope.spawn(move || {
                    let mut sink = Sink::new(layout, names, |number, cells: &Cells<'_>| {
                        add(&mut fold, number, cells)
                    });
                    let (any, lines) = fold_part(path, part, 1, &mut sink)?;
                    let (seen, records) = (sink.seen(), sink.records);
                    Ok::<_, anyhow::Error>((fold, seen, records, any, lines))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("an NDJSON worker panicked")))
            })
            .collect()
    });
    let mut total: Option<(T, Vec<bool>, u64, bool)> = None;
    let mut lines_before = 0;
    for (part, folded) in parts.iter().zip(folded) {
        let (mut fold, seen, records, any, lines) = match folded {
            Ok(folded) => folded,
            // The part's lines were numbered from 1: read it again for the
            // error with the line's number in the file.
            Err(error) if lines_before > 0 => {
                let mut sink = Sink::new(layout, names, |_, _: &Cells<'_>| {});
                let error = fold_part(path, part, lines_before + 1, &mut sink)
                    .err()
                    .unwrap_or(error);
                return Err(error).with_context(context);
            }
            Err(error) => return Err(error).with_context(context),
        };
        renumber(&mut fold, lines_before);
        lines_before += lines;
        match &mut total {
            None => total = Some((fold, seen, records, any)),
            Some((first, all_seen, all_records, all_any)) => {
                merge(first, fold);
                for (a, b) in all_seen.iter_mut().zip(seen) {
                    *a |= b;
                }
                *all_records += records;
                *all_any |= any;
            }
        }
    }
    let Some((fold, seen, records, true)) = total else {
        return Err(anyhow::Error::new(empty(Format::Ndjson))).with_context(context);
    };
    Ok((fold, streamed(layout, names, seen, records), modified))
}

/// Folds the lines of `part` of the file at `path` into `sink`, the first
/// numbered `first_line`: whether any line held a record, and how many
/// lines there were.
fn fold_part<F: FnMut(u64, &Cells<'_>)>(
    path: &Path,
    part: &Part,
    first_line: u64,
    sink: &mut Sink<'_, F>,
) -> anyhow::Result<(bool, u64)> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(part.start))?;
    let input = BufReader::with_capacity(256 * 1024, file.take(part.end - part.start));
    let (any, last) = ndjson(input, sink, first_line)?;
    Ok((any, last + 1 - first_line))
}

/// A byte range of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    start: u64,
    end: u64,
}

/// Cuts a file of `len` bytes into up to `workers` parts of about the same
/// size, each cut just after the first line break at or past its share.
fn line_parts(mut file: File, len: u64, workers: usize) -> std::io::Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    for worker in 1..workers as u64 {
        // A line break at `target - 1` or after ends the part.
        let mut offset = (len * worker / workers as u64).max(start + 1) - 1;
        file.seek(SeekFrom::Start(offset))?;
        let cut = loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break None;
            }
            if let Some(newline) = memchr::memchr(b'\n', &buffer[..n]) {
                break Some(offset + newline as u64 + 1);
            }
            offset += n as u64;
        };
        match cut {
            Some(cut) if cut < len => {
                parts.push(Part { start, end: cut });
                start = cut;
            }
            _ => break,
        }
    }
    parts.push(Part { start, end: len });
    Ok(parts)
}

/// [`fold_reader`] over the file at `path`; also gives the file's
/// modification time (`fallback_time` when the file system has none).
pub fn fold_file(
    path: &std::path::Path,
    format: Format,
    layout: &Layout,
    names: &[String],
    fallback_time: chrono::DateTime<chrono::Utc>,
    add: impl FnMut(u64, &Cells<'_>),
) -> anyhow::Result<(Streamed, chrono::DateTime<chrono::Utc>)> {
    use anyhow::Context as _;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let modified = file
        .metadata()
        .and_then(|m| m.modified())
        .map_or(fallback_time, chrono::DateTime::from);
    let input = std::io::BufReader::with_capacity(256 * 1024, file);
    let streamed = fold_reader(input, format, layout, names, add)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((streamed, modified))
}

/// What the records of a JSON document are read into: the cells of a
/// fold's names ([`Sink`]) or whole rows ([`RowSink`]).
trait Records {
    /// Reads the next record from `deserializer` and folds it; the inner
    /// error is a record that is not an object.
    fn read<'de, D: de::Deserializer<'de>>(
        &mut self,
        deserializer: D,
        number: u64,
        position: &str,
    ) -> Result<Result<(), TableError>, D::Error>;
}

/// Records read whole into rows, as [`table::parse`] makes them, for
/// checks folded per group.
struct RowSink<'a, F> {
    layout: &'a Layout,
    names: std::collections::BTreeSet<String>,
    each: F,
}

impl<F: FnMut(Row)> Records for RowSink<'_, F> {
    fn read<'de, D: de::Deserializer<'de>>(
        &mut self,
        deserializer: D,
        number: u64,
        position: &str,
    ) -> Result<Result<(), TableError>, D::Error> {
        let record = serde_json::Value::deserialize(deserializer)?;
        Ok(table::json_row(
            &record,
            number as usize,
            position,
            self.layout,
            &mut self.names,
        )
        .map(&mut self.each))
    }
}

/// Reads each record of the JSON document `input` (at the layout's
/// `records` pointer) into a row, as [`table::parse`] makes it, without
/// keeping the document or the rows; the columns at the end. The errors
/// are [`table::parse`]'s.
pub fn fold_rows(
    input: impl BufRead,
    layout: &Layout,
    each: impl FnMut(Row),
) -> Result<std::collections::BTreeSet<String>, TableError> {
    let mut sink = RowSink {
        layout,
        names: std::collections::BTreeSet::new(),
        each,
    };
    json(input, layout, &mut sink)?;
    Ok(table::mapped_columns(
        layout,
        sink.names.iter().map(String::as_str),
    ))
}

impl<'a, F> Sink<'a, F> {
    fn new(layout: &'a Layout, names: &'a [String], add: F) -> Sink<'a, F> {
        Sink {
            layout,
            names,
            cells: Vec::with_capacity(names.len()),
            seen: vec![false; names.len()],
            records: 0,
            add,
            targets: json_record::Targets::new(layout, names),
            record: json_record::Record::default(),
        }
    }
}

struct Sink<'a, F> {
    layout: &'a Layout,
    names: &'a [String],
    cells: Vec<Option<String>>,
    seen: Vec<bool>,
    records: u64,
    add: F,
    /// How keys become cells, unless a mapping is a JSON pointer (then
    /// each record is read whole into a `serde_json::Value`).
    targets: Option<json_record::Targets>,
    record: json_record::Record,
}

impl<F: FnMut(u64, &Cells<'_>)> Sink<'_, F> {
    fn record(
        &mut self,
        record: &serde_json::Value,
        number: u64,
        position: &str,
    ) -> Result<(), TableError> {
        table::json_cells(
            record,
            number,
            position,
            self.layout,
            self.names,
            &mut self.cells,
            &mut self.seen,
        )?;
        self.record.put_texts(&self.cells);
        self.fold_record("", number);
        Ok(())
    }

    /// Which names some record had.
    fn seen(&self) -> Vec<bool> {
        let mut seen = self.seen.clone();
        for (seen, also) in seen.iter_mut().zip(self.record.seen()) {
            *seen |= also;
        }
        seen
    }
}

impl<F: FnMut(u64, &Cells<'_>)> Sink<'_, F> {
    /// Folds the flat record at the start of `bytes`, read by scanning
    /// them up to its line break, or to their end when they are
    /// `complete` ([`json_record::read_flat`]); the length of its line,
    /// or `None` (nothing folded) when it is not one or not UTF-8.
    fn read_flat(&mut self, bytes: &[u8], complete: bool, number: u64) -> Option<usize> {
        let targets = self.targets.as_ref()?;
        let end = json_record::read_flat(bytes, complete, targets, &mut self.record)?;
        let line = super::utf8::text(bytes.get(..end)?)?;
        self.fold_record(line, number);
        Some(end)
    }

    /// Folds the record read into `record` (from `line` when it was read
    /// in place).
    fn fold_record(&mut self, line: &str, number: u64) {
        self.records += 1;
        (self.add)(number, &self.record.cells(line));
    }
}

/// Through `targets` when there are, else as a whole `serde_json::Value`.
impl<F: FnMut(u64, &Cells<'_>)> Records for Sink<'_, F> {
    fn read<'de, D: de::Deserializer<'de>>(
        &mut self,
        deserializer: D,
        number: u64,
        position: &str,
    ) -> Result<Result<(), TableError>, D::Error> {
        let Some(targets) = &self.targets else {
            let record = serde_json::Value::deserialize(deserializer)?;
            return Ok(self.record(&record, number, position));
        };
        if let Err(kind) = json_record::read(deserializer, targets, &mut self.record)? {
            return Ok(Err(table::error(format!(
                "{position} {number} is {kind}, not a JSON object"
            ))));
        }
        self.fold_record("", number);
        Ok(Ok(()))
    }
}

/// The next record of an array, folded.
struct RecordSeed<'s, S> {
    sink: &'s mut S,
    number: u64,
}

impl<'de, S: Records> DeserializeSeed<'de> for RecordSeed<'_, S> {
    type Value = Result<(), TableError>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        self.sink.read(deserializer, self.number, "record")
    }
}

fn empty(format: Format) -> TableError {
    table::error(format!(
        "the {} data is empty: expected a header row or records",
        format.as_str()
    ))
}

fn read_error(e: &std::io::Error) -> TableError {
    table::error(format!("reading the data: {e}"))
}

/// Folds the NDJSON lines of `input`, the first numbered `first_line`;
/// whether any line held a record, and the number of the last line
/// (`first_line - 1` when there was none).
fn ndjson<F: FnMut(u64, &Cells<'_>)>(
    mut input: impl BufRead,
    sink: &mut Sink<'_, F>,
    first_line: u64,
) -> Result<(bool, u64), TableError> {
    let mut line = Vec::new();
    let mut number = first_line - 1;
    let mut any = false;
    loop {
        let buffer = input.fill_buf().map_err(|e| read_error(&e))?;
        if buffer.is_empty() {
            break;
        }
        number += 1;
        // A flat record is read where it is in the buffer, its line break
        // found as it is read.
        if let Some(end) = sink.read_flat(buffer, false, number) {
            any = true;
            input.consume(end + 1);
            continue;
        }
        // Any other line within the buffer is read where it is (it is not
        // a flat record); one across its end is copied out first.
        if let Some(end) = memchr::memchr(b'\n', buffer) {
            let folded = ndjson_line(&buffer[..end], number, sink, &mut any, false);
            input.consume(end + 1);
            folded?;
            continue;
        }
        line.clear();
        input
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| read_error(&e))?;
        if line.len() as u64 > MAX_LINE {
            return Err(table::error(format!(
                "line {number} is longer than {} MiB: not one record per line?",
                MAX_LINE >> 20
            )));
        }
        ndjson_line(&line, number, sink, &mut any, true)?;
    }
    Ok((any, number))
}

/// Folds NDJSON line `number` (its line break or not), unless it is
/// blank; `any` is set when it is not. `flat`: whether it may be a flat
/// record ([`json_record::read_flat`]), else it is read by serde_json.
fn ndjson_line<F: FnMut(u64, &Cells<'_>)>(
    mut line: &[u8],
    number: u64,
    sink: &mut Sink<'_, F>,
    any: &mut bool,
    flat: bool,
) -> Result<(), TableError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    // As `table::parse` cuts a line (and `str::lines`): one line break.
    line = line.strip_suffix(b"\n").unwrap_or(line);
    line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = super::utf8::text(line)
        .ok_or_else(|| table::error(format!("line {number} is not valid UTF-8")))?;
    // White space beyond ASCII's makes a blank line too, as in a table.
    if !text.starts_with('{') && text.trim().is_empty() {
        return Ok(());
    }
    *any = true;
    if flat && sink.read_flat(text.as_bytes(), true, number).is_some() {
        return Ok(());
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    sink.read(&mut deserializer, number, "line")
        .and_then(|folded| deserializer.end().map(|()| folded))
        .map_err(|e| {
            // The error is that of the line read whole, as
            // `table::parse` reads it, whatever this reader read or
            // skipped before it gave up (serde's `IgnoredAny` named a
            // control character in a string one column earlier).
            let e = serde_json::from_str::<serde_json::Value>(text)
                .err()
                .unwrap_or(e);
            table::error(format!(
                "malformed JSON on line {number} column {}: {}",
                e.column(),
                table::json_error_kind(&e)
            ))
        })?
}

/// Skips leading white space; when anything follows it, the line breaks
/// skipped and the bytes skipped after the last one.
fn skip_white_space(input: &mut impl BufRead) -> std::io::Result<Option<(usize, usize)>> {
    let (mut lines, mut column) = (0, 0);
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(None);
        }
        let white = buffer
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        for byte in &buffer[..white] {
            if *byte == b'\n' {
                (lines, column) = (lines + 1, 0);
            } else {
                column += 1;
            }
        }
        let rest = white < buffer.len();
        input.consume(white);
        if rest {
            return Ok(Some((lines, column)));
        }
    }
}

/// Where the `records` pointer led.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Nothing,
    Array,
    Not(&'static str),
}

fn json(
    mut input: impl BufRead,
    layout: &Layout,
    sink: &mut impl Records,
) -> Result<(), TableError> {
    let Some((lines, column)) = skip_white_space(&mut input).map_err(|e| read_error(&e))? else {
        return Err(empty(Format::Json));
    };
    let pointer = layout.records.clone().unwrap_or_default();
    // serde_json's `pointer`: "" is the whole document, anything else
    // starts with '/' and its tokens unescape ~1 and ~0.
    let tokens: Option<Vec<String>> = if pointer.is_empty() {
        Some(Vec::new())
    } else {
        pointer.strip_prefix('/').map(|rest| {
            rest.split('/')
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect()
        })
    };
    let mut found = Found::Nothing;
    let mut failure = None;
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    let outcome = match &tokens {
        Some(tokens) => At {
            tokens,
            sink: &mut *sink,
            found: &mut found,
            failure: &mut failure,
        }
        .deserialize(&mut deserializer),
        None => Skip::deserialize(&mut deserializer).map(|_| ()),
    }
    .and_then(|()| deserializer.end());
    // A syntax error anywhere comes first, as when the document is parsed
    // whole; positions count the white space skipped.
    outcome.map_err(|e| {
        let (line, column) = match e.line() {
            1 => (1 + lines, e.column() + column),
            line => (line + lines, e.column()),
        };
        table::error(format!(
            "malformed JSON at line {line} column {column}: {}",
            table::json_error_kind(&e)
        ))
    })?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    match found {
        Found::Array => Ok(()),
        Found::Nothing => Err(table::error(format!(
            "the JSON pointer `records = {pointer:?}` finds nothing in the document; \
             point it at the array of records"
        ))),
        Found::Not(kind) => Err(table::error(format!(
            "`records = {pointer:?}` points at {kind}, not an array of records"
        ))),
    }
}

use serde::Deserialize as _;

/// The value at `tokens` below here: the array of records at the end of
/// the path, anything else skipped.
struct At<'s, S> {
    tokens: &'s [String],
    sink: &'s mut S,
    found: &'s mut Found,
    /// The first record that is not an object: the rest of the document
    /// is still read, for a syntax error that would come first.
    failure: &'s mut Option<TableError>,
}

impl<'de, S: Records> DeserializeSeed<'de> for At<'_, S> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: Records> de::Visitor<'de> for At<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON document")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((token, rest)) = self.tokens.split_first() else {
            // The array of records: fold each, keep none.
            *self.found = Found::Array;
            let mut number = 0u64;
            loop {
                number += 1;
                let seed = RecordSeed {
                    sink: &mut *self.sink,
                    number,
                };
                match seq.next_element_seed(seed)? {
                    None => return Ok(()),
                    Some(Ok(())) => {}
                    Some(Err(failure)) => {
                        *self.failure = Some(failure);
                        while seq.next_element::<Skip>()?.is_some() {}
                        return Ok(());
                    }
                }
            }
        };
        // An index: decimal, no leading zero (as serde_json reads one).
        let index = (token == "0" || !token.starts_with('0'))
            .then(|| token.parse::<usize>().ok())
            .flatten();
        let mut position = 0usize;
        loop {
            if Some(position) == index {
                let at = At {
                    tokens: rest,
                    sink: &mut *self.sink,
                    found: &mut *self.found,
                    failure: &mut *self.failure,
                };
                if seq.next_element_seed(at)?.is_none() {
                    return Ok(());
                }
            } else if seq.next_element::<Skip>()?.is_none() {
                return Ok(());
            }
            position += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((token, rest)) = self.tokens.split_first() else {
            *self.found = Found::Not("an object");
            while map.next_entry::<Skip, Skip>()?.is_some() {}
            return Ok(());
        };
        let mut taken = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !taken && key == token.as_str() {
                taken = true;
                map.next_value_seed(At {
                    tokens: rest,
                    sink: &mut *self.sink,
                    found: &mut *self.found,
                    failure: &mut *self.failure,
                })?;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar("a number")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar("a string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar("null")
    }
}

impl<S> At<'_, S> {
    /// A scalar where the path goes on finds nothing; at its end, it is
    /// not an array.
    fn scalar<E>(self, kind: &'static str) -> Result<(), E> {
        if self.tokens.is_empty() {
            *self.found = Found::Not(kind);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::waittime::cell_text;

    /// Streams `input` and shows each record as `number: cells`, or the
    /// error; and the same through `table::parse`, which must agree.
    fn check(input: &str, format: Format, records: Option<&str>, expected: &[&str]) {
        check_mapped("/where/region", input, format, records, expected);
    }

    /// [`check`] with `region` mapped to `source` (a key reads each record
    /// straight into cells; a JSON pointer needs it whole).
    fn check_mapped(
        source: &str,
        input: &str,
        format: Format,
        records: Option<&str>,
        expected: &[&str],
    ) {
        let layout = Layout {
            records: records.map(str::to_owned),
            fields: [("region".to_owned(), source.to_owned())]
                .into_iter()
                .collect(),
            csv_delimiter: b',',
        };
        let names = vec!["id".to_owned(), "region".to_owned()];
        let mut got = Vec::new();
        let streamed = fold_reader(input.as_bytes(), format, &layout, &names, |n, cells| {
            got.push(format!("{n}: {cells:?}"));
        });
        if let Err(e) = &streamed {
            got = vec![format!("error: {e}")];
        }
        assert_eq!(got, expected, "{input:?}");
        let parsed = table::parse(
            input.as_bytes(),
            format,
            &layout,
            chrono::DateTime::UNIX_EPOCH,
        );
        match (parsed, streamed) {
            (Err(a), Err(b)) => assert_eq!(a, b, "{input:?}"),
            (Ok(table), Ok(streamed)) => {
                assert_eq!(table.rows.len() as u64, streamed.records, "{input:?}");
                for (name, seen) in names.iter().zip(&streamed.seen) {
                    assert_eq!(table.columns.contains(name), *seen, "{name} in {input:?}");
                }
            }
            (a, b) => panic!("parse {a:?} but stream {b:?} for {input:?}"),
        }
    }

    #[test]
    fn ndjson_line_by_line() {
        check(
            "{\"id\": 7, \"where\": {\"region\": \"s\"}}\n\n{\"id\": \"x\", \"region\": null}\r\n",
            Format::Ndjson,
            None,
            &["1: [Some(\"7\"), Some(\"s\")]", "3: [Some(\"x\"), None]"],
        );
        check(
            "{\"id\": 1}\n{\"id\": \n",
            Format::Ndjson,
            None,
            &["error: malformed JSON on line 2 column 7: the data ends too early (truncated?)"],
        );
        check(
            "[1]\n",
            Format::Ndjson,
            None,
            &["error: line 1 is an array, not a JSON object"],
        );
        check(
            " \n\n",
            Format::Ndjson,
            None,
            &["error: the ndjson data is empty: expected a header row or records"],
        );
    }

    #[test]
    fn json_records_at_the_pointer_element_by_element() {
        let document = r#"{"meta": {"records": [{"id": 0}]}, "data": [{"id": 1, "deep": [[{}]]}, {"id": true, "where": {"region": "n"}}], "after": 1}"#;
        check(
            document,
            Format::Json,
            Some("/data"),
            &["1: [Some(\"1\"), None]", "2: [Some(\"true\"), Some(\"n\")]"],
        );
        check(
            r#"[[{"id": 1}], [{"id": 2}]]"#,
            Format::Json,
            Some("/1"),
            &["1: [Some(\"2\"), None]"],
        );
        check(
            r#"[{"id": 3}]"#,
            Format::Json,
            None,
            &["1: [Some(\"3\"), None]"],
        );
        check("[]", Format::Json, None, &[]);
    }

    #[test]
    fn json_errors_are_those_of_a_parsed_document() {
        for (input, records, expected) in [
            (
                r#"{"data": [{"id": 1}"#,
                "/data",
                "error: malformed JSON at line 1 column 19: the data ends too early (truncated?)",
            ),
            (
                r#"{"data": [{"id": 1},]}"#,
                "/data",
                "error: malformed JSON at line 1 column 21: syntax error",
            ),
            (
                r#"{"other": []}"#,
                "/data",
                "error: the JSON pointer `records = \"/data\"` finds nothing in the document; point it at the array of records",
            ),
            (
                r#"{"data": {"a": 1}}"#,
                "/data",
                "error: `records = \"/data\"` points at an object, not an array of records",
            ),
            (
                r#"{"data": "x"}"#,
                "/data",
                "error: `records = \"/data\"` points at a string, not an array of records",
            ),
            (
                r#"{"data": [{"id": 1}, "name"]}"#,
                "/data",
                "error: record 2 is a string, not a JSON object",
            ),
            (
                r#"{"data": []} x"#,
                "/data",
                "error: malformed JSON at line 1 column 14: syntax error",
            ),
            (
                "data",
                "",
                "error: malformed JSON at line 1 column 1: syntax error",
            ),
            (
                "  ",
                "",
                "error: the json data is empty: expected a header row or records",
            ),
            (
                r#"{"data": []}"#,
                "data",
                "error: the JSON pointer `records = \"data\"` finds nothing in the document; point it at the array of records",
            ),
            // A number beyond `f64` anywhere, read or skipped, as a
            // parsed document rejects it.
            (
                r#"{"meta": [1e999], "data": [{"id": 1}]}"#,
                "/data",
                "error: malformed JSON at line 1 column 16: a number beyond what a 64-bit float holds (such as 1e999); write it within ±1.7e308, or as a string",
            ),
            (
                r#"{"data": [{"id": 1, "x": {"y": -2e400}}]}"#,
                "/data",
                "error: malformed JSON at line 1 column 38: a number beyond what a 64-bit float holds (such as 1e999); write it within ±1.7e308, or as a string",
            ),
            (
                r#"{"data": [{"id": 1}, 2, {"x": 1e446744073709551615}]}"#,
                "/data",
                "error: malformed JSON at line 1 column 42: a number beyond what a 64-bit float holds (such as 1e999); write it within ±1.7e308, or as a string",
            ),
            (
                r#"{"data": [], "after": {"z": 1e999}}"#,
                "/data",
                "error: malformed JSON at line 1 column 34: a number beyond what a 64-bit float holds (such as 1e999); write it within ±1.7e308, or as a string",
            ),
        ] {
            check(input, Format::Json, Some(records), &[expected]);
            check_mapped("place", input, Format::Json, Some(records), &[expected]);
        }
    }

    /// A file cut at line breaks for two or three workers folds every
    /// record once, with its own line number, whichever worker read it;
    /// an error names its line in the file, the first one when there are
    /// several, whichever worker met it.
    #[test]
    fn ndjson_files_are_cut_at_line_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ndjson");
        let mut text = String::new();
        for i in 0..200_000 {
            if i % 1000 == 7 {
                text.push('\n');
            }
            text.push_str(&format!(
                "{{\"id\": {i}, \"note\": \"{}\"}}\n",
                "x".repeat(i % 50)
            ));
        }
        std::fs::write(&path, &text).unwrap();
        assert!(text.len() as u64 > SPLIT_ABOVE);
        for workers in [2, 3] {
            let parts = line_parts(File::open(&path).unwrap(), text.len() as u64, workers).unwrap();
            assert_eq!(parts.len(), workers);
            for (part, next) in parts.iter().zip(&parts[1..]) {
                assert_eq!(part.end, next.start);
                assert_eq!(&text[part.end as usize - 1..part.end as usize], "\n");
            }
            assert_eq!(
                (parts[0].start, parts[workers - 1].end),
                (0, text.len() as u64)
            );
        }
        let layout = Layout::default();
        let names = vec!["id".to_owned(), "region".to_owned()];
        let fold = |path: &Path, workers| {
            fold_ndjson_file(
                path,
                &layout,
                &names,
                workers,
                chrono::DateTime::UNIX_EPOCH,
                Vec::new(),
                |lines: &mut Vec<(u64, String)>, number, cells| {
                    lines.push((number, cells.get(0).unwrap().to_owned()))
                },
                |lines, before| lines.iter_mut().for_each(|(number, _)| *number += before),
                |lines, later| lines.extend(later),
            )
            .map_err(|e| format!("{e:#}"))
        };
        let expected: Vec<(u64, String)> = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.is_empty())
            .map(|(index, line)| {
                let id = serde_json::from_str::<serde_json::Value>(line).unwrap()["id"].clone();
                (index as u64 + 1, id.to_string())
            })
            .collect();
        for workers in [1, 2, 3] {
            let (lines, streamed, _) = fold(&path, workers).unwrap();
            assert_eq!(streamed.records, 200_000);
            assert_eq!(streamed.seen, [true, false]);
            assert_eq!(lines, expected, "{workers} workers");
        }
        // A malformed line near the end, then one near the start as well.
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let broken = |numbers: &[usize]| {
            let mut lines = lines.clone();
            for number in numbers {
                lines[number - 1] = "{\"id\": \n";
            }
            let path = dir.path().join("broken.ndjson");
            std::fs::write(&path, lines.concat()).unwrap();
            path
        };
        for (numbers, line) in [(&[190_001][..], 190_001), (&[190_001, 12][..], 12)] {
            let path = broken(numbers);
            let table = table::parse(
                std::fs::read(&path).unwrap().as_slice(),
                Format::Ndjson,
                &layout,
                chrono::DateTime::UNIX_EPOCH,
            )
            .unwrap_err();
            let expected = format!(
                "reading {}: malformed JSON on line {line} column 7: the data ends too early (truncated?)",
                path.display()
            );
            assert_eq!(format!("reading {}: {table}", path.display()), expected);
            for workers in [1, 2, 3] {
                assert_eq!(
                    fold(&path, workers).unwrap_err(),
                    expected,
                    "{workers} workers"
                );
            }
        }
        let empty = dir.path().join("empty.ndjson");
        std::fs::write(&empty, "\n \n").unwrap();
        let error = fold_ndjson_file(
            &empty,
            &layout,
            &names,
            2,
            chrono::DateTime::UNIX_EPOCH,
            (),
            |_, _, _| {},
            |_, _| {},
            |_, _| {},
        )
        .unwrap_err();
        assert!(
            format!("{error:#}")
                .ends_with("the ndjson data is empty: expected a header row or records"),
            "{error:#}"
        );
    }

    #[test]
    fn records_read_straight_into_cells_match_a_parsed_table() {
        let lines = "{\"id\": 7, \"place\": \"s\", \"region\": \"x\"}\n\
                     {\"id\": 1.5, \"region\": \"own\", \"skip\": {\"a\": [1, {\"b\": null}]}}\n\
                     {\"id\": \"  \", \"place\": null, \"region\": \"y\"}\n\
                     {\"id\": [1], \"place\": {}, \"id\": false}\n\
                     {\"id\": \"a\\u0041\", \"pl\\u0061ce\": 18446744073709551615}\n";
        let expected = [
            "1: [Some(\"7\"), Some(\"s\")]",
            "2: [Some(\"1.5\"), Some(\"own\")]",
            "3: [None, None]",
            "4: [Some(\"false\"), None]",
            "5: [Some(\"aA\"), Some(\"18446744073709552000\")]",
        ];
        check_mapped("place", lines, Format::Ndjson, None, &expected);
        let document = format!("{{\"r\": [{}]}}", lines.trim_end().replace('\n', ","));
        let expected: Vec<String> = expected.iter().map(|e| e.to_string()).collect();
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        check_mapped("place", &document, Format::Json, Some("/r"), &expected);
        check_mapped(
            "place",
            "{\"id\": 1}\n\"x\"\n",
            Format::Ndjson,
            None,
            &["error: line 2 is a string, not a JSON object"],
        );
        check_mapped(
            "place",
            "{\"id\": 1} 2\n",
            Format::Ndjson,
            None,
            &["error: malformed JSON on line 1 column 11: syntax error"],
        );
    }

    /// Hostile NDJSON read through buffers of every small size (so lines
    /// cross the buffer's end at every byte) and the usual one gives the
    /// cells of a parsed table's rows: buffers reused from record to
    /// record never leak a value into the next, a key feeding two names
    /// feeds both, escapes, CRLF, blank and long lines.
    #[test]
    fn ndjson_read_in_place_or_across_buffers_matches_a_parsed_table() {
        let long = "y".repeat(300 * 1024);
        let input = format!(
            "{{\"id\": \"a\", \"place\": \"north\", \"wait\": 12}}\r\n\
             {{\"id\": 2, \"wait\": null}}\n\
             \n   \t\n\
             {{\"place\": \"s\\u00e9\\n\\\"q\\\"\", \"region\": \"own\", \"id\": [1, {{\"x\": \"}}\"}}]}}\n\
             {{\"region\": \"only own\", \"wait\": \"  \"}}\r\r\n\
             {{\"id\": true, \"id\": false, \"wait\": 1e300, \"place\": -0.0}}\n\
             {{\"id\": \"{long}\", \"place\": \"x\"}}\n\
             {{\"wait\": 18446744073709551615}}\n\
             {{\"wai\": 1, \"place\": \"p\"}}\n\
             {{\"waits\": 2, \"place\": \"q\"}}\n\
             {{\"wait\": 3, \"plac\": \"r\"}}\n\
             {{\"wait\": 4, \"place\\u0022\": \"t\", \"place\": \"u\"}}\n\
             {{\"place\": 5, \"wait\": 6}}\n\
             {{\"wait\": 7, \"place\": \"v\"}}\n\
             {{}}"
        );
        let layout = Layout {
            fields: [
                ("region".to_owned(), "place".to_owned()),
                ("zone".to_owned(), "place".to_owned()),
            ]
            .into_iter()
            .collect(),
            ..Layout::default()
        };
        let names: Vec<String> = ["id", "region", "zone", "wait"]
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        let table = table::parse(
            input.as_bytes(),
            Format::Ndjson,
            &layout,
            chrono::DateTime::UNIX_EPOCH,
        )
        .unwrap();
        let expected: Vec<(u64, Vec<Option<String>>)> = table
            .rows
            .iter()
            .map(|row| {
                let cells = names
                    .iter()
                    .map(|name| row.fields.get(name).and_then(cell_text))
                    .collect();
                (row.number as u64, cells)
            })
            .collect();
        assert_eq!(expected.len(), 14);
        for capacity in (1..=24).chain([4096, 256 * 1024]) {
            let mut got = Vec::new();
            let reader = std::io::BufReader::with_capacity(capacity, input.as_bytes());
            let streamed = fold_reader(reader, Format::Ndjson, &layout, &names, |n, cells| {
                got.push((n, cells.to_vec()))
            })
            .unwrap();
            assert_eq!(got, expected, "buffer of {capacity} bytes");
            assert_eq!(streamed.records, 14);
        }
        // Errors name the line whichever way it was read.
        for (input, expected) in [
            (
                "{\"id\": 1}\n{\"id\": \"\\x\"}\n",
                "malformed JSON on line 2 column 10: syntax error",
            ),
            (
                "{\"id\": 1}\n\n{\"id\": 2} {}\n",
                "malformed JSON on line 3 column 11: syntax error",
            ),
            (
                "{\"id\": 1}\r\n7\r\n",
                "line 2 is a number, not a JSON object",
            ),
            ("{\"id\": \"a\tb\"}", ""),
            ("{\"id\": 01}", ""),
            ("{\"id\": +1}", ""),
            ("{\"id\": 1e999}", ""),
            // Out of `f64`'s range in a value nobody reads, and in an
            // exponent beyond `i32` (found by the proptest).
            ("{\"other\": 1e999}", ""),
            ("{\"id\": 1, \"other\": [2, {\"x\": -1e999}]}", ""),
            ("{\"wai\":1e446744073709551615}\n", ""),
            ("{\"id\": 1,}", ""),
            ("{\"id\": tru}", ""),
            ("{\"id\": 1} x", ""),
        ] {
            let parsed = table::parse(
                input.as_bytes(),
                Format::Ndjson,
                &layout,
                chrono::DateTime::UNIX_EPOCH,
            );
            // The table's error, which the literal (when there is one) names.
            let table_error = parsed.unwrap_err().0;
            if !expected.is_empty() {
                assert_eq!(table_error, expected);
            }
            let expected = table_error;
            for capacity in [1, 5, 64] {
                let reader = std::io::BufReader::with_capacity(capacity, input.as_bytes());
                let error =
                    fold_reader(reader, Format::Ndjson, &layout, &names, |_, _| {}).unwrap_err();
                assert_eq!(error.0, expected, "{input:?} in buffers of {capacity}");
            }
        }
        let mut invalid = b"{\"id\": 1}\n{\"id\": \"".to_vec();
        invalid.extend_from_slice(&[0xff, b'"', b'}', b'\n']);
        for capacity in [1, 3, 64] {
            let reader = std::io::BufReader::with_capacity(capacity, &invalid[..]);
            let error =
                fold_reader(reader, Format::Ndjson, &layout, &names, |_, _| {}).unwrap_err();
            assert_eq!(error.0, "line 2 is not valid UTF-8");
        }
    }

    /// Strings whose escape, control character or end falls on every byte
    /// of the eight-byte words the flat reader scans read as serde_json
    /// reads them.
    #[test]
    fn flat_records_match_serde_json_at_every_offset() {
        let layout = Layout::default();
        let names = vec!["id".to_owned(), "wait".to_owned()];
        for length in 0..20 {
            let x = "x".repeat(length);
            for input in [
                format!("{{\"id\": \"{x}\", \"wait\": \"{x}\\n{x}\"}}\n"),
                format!("{{\"id\": \"{x}\u{7f}é{x}\", \"wait\":\"{x}\\\"\"}}\n"),
                format!("{{\"id\": \"{x}\u{1}\"}}\n"),
                format!("{{\"{x}\": 1, \"id\": \"{x}\"}}\n"),
            ] {
                let parsed = table::parse(
                    input.as_bytes(),
                    Format::Ndjson,
                    &layout,
                    chrono::DateTime::UNIX_EPOCH,
                );
                let mut got = Vec::new();
                let streamed = fold_reader(
                    input.as_bytes(),
                    Format::Ndjson,
                    &layout,
                    &names,
                    |_, cells| got.push(cells.to_vec()),
                );
                match (parsed, streamed) {
                    (Ok(table), Ok(_)) => {
                        let expected: Vec<Vec<Option<String>>> = table
                            .rows
                            .iter()
                            .map(|row| {
                                names
                                    .iter()
                                    .map(|n| row.fields.get(n).and_then(cell_text))
                                    .collect()
                            })
                            .collect();
                        assert_eq!(got, expected, "{input:?}");
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b, "{input:?}"),
                    (a, b) => panic!("parse {a:?} but stream {b:?} for {input:?}"),
                }
            }
        }
    }
}
