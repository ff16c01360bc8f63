//! Streaming a CSV file through a [`Fold`], on both cores: the plug that
//! streamed evaluation uses (the wait-time evaluator is one such fold; the
//! caller, not this module, decides which).
//!
//! The file is never held in memory. Its rows are cut at byte offsets
//! into ranges (up to sixteen per worker, of 2 MiB at least), each range
//! starting at the first line break after its offset; each worker takes
//! the next range not yet taken, reads it in blocks, and each block of
//! whole lines is checked once for a double quote and for a carriage
//! return that does not end a line, and once for UTF-8. Lines are then
//! split at the delimiter with `memchr`, and only the columns the fold
//! reads ([`Fold::columns`]) are cut out. Each worker folds its own copy
//! of the fold over all the ranges it takes; the copies are merged at the
//! end. A worker on a slower core, or on the rows of a file sorted by
//! date that fall in a check's window, takes fewer ranges instead of
//! holding the others up.
//!
//! A quoted field can hold a line break, so a line break is a row break
//! only as long as no quote came before it. A worker that meets a quote
//! (or a lone carriage return, which the CSV reader also takes as a line
//! break) reads the rest of the file, from the start of that block, with
//! the `csv` crate's quote-aware reader, and the workers after it stop:
//! everything before the first quote was split correctly, everything
//! after it is read by the reader that understands quotes (a worker that
//! had already read a range after it reads its earlier ranges again
//! into a new copy). Workers number rows by their range and their line
//! in it ([`line_key`]) and count each range's line breaks, so rows are
//! numbered by their line in the file once every range is read
//! ([`Fold::renumber`]).

use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use crate::evaluate::waittime::columns::Cells;
use crate::table::Layout;

/// What a streamed file's rows are folded into. Each worker folds its own
/// copy (`Clone`), and the copies are merged in file order.
pub trait Fold: Clone + Send {
    /// The columns (0-based) this fold reads; no other column of a row is
    /// cut out or checked for UTF-8.
    fn columns(&self) -> Vec<usize>;
    /// Takes one record; `line` is a key of its line ([`line_key`]): its
    /// range and its line counted from the range's start. Keys are in
    /// file order, so the first rows by key are the file's first.
    fn add(&mut self, line: u64, record: &Record<'_>);
    /// Replaces every line key this fold kept by what `line` gives for
    /// it: the line in the file, known once every range before has been
    /// read.
    fn renumber(&mut self, line: &dyn Fn(u64) -> u64);
    /// Takes in what another copy folded (other ranges of the file).
    fn merge(&mut self, other: Self);
}

/// Bits of a line key ([`Fold::add`]) below its range's number.
const RANGE_SHIFT: u32 = 40;

/// The key of line `line` (counted from 1) of range number `range`.
pub fn line_key(range: usize, line: u64) -> u64 {
    ((range as u64) << RANGE_SHIFT) | line
}

/// One row of a streamed file: the text of the columns the fold reads.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    text: &'a str,
    /// Where each column is in `text`, by column number; `ABSENT` for a
    /// column the row does not have or the fold does not read.
    spans: &'a [(u32, u32)],
}

const ABSENT: (u32, u32) = (u32::MAX, u32::MAX);

impl<'a> Record<'a> {
    /// The text of `column`, if the row has it and the fold reads it.
    pub fn get(&self, column: usize) -> Option<&'a str> {
        let (start, end) = *self.spans.get(column)?;
        if start == u32::MAX {
            return None;
        }
        self.text.get(start as usize..end as usize)
    }
}

impl Cells for Record<'_> {
    fn get(&self, column: usize) -> Option<&str> {
        Record::get(self, column)
    }

    fn bytes(&self, column: usize) -> Option<&[u8]> {
        let (start, end) = *self.spans.get(column)?;
        self.text.as_bytes().get(start as usize..end as usize)
    }
}

/// What a folded file gave.
#[derive(Debug)]
pub struct Folded<F> {
    pub fold: F,
    /// The file's modification time: what the data describes, lacking a
    /// time in the data.
    pub modified: DateTime<Utc>,
}

/// Files smaller than this are read by one worker.
const SPLIT_ABOVE: u64 = 8 * 1024 * 1024;
/// A file is cut into up to this many ranges per worker, each worker
/// taking the next range not yet taken as it finishes one: a worker on a
/// slower core, or on the part of a file sorted by date where a check's
/// window is, does not hold the others up.
const RANGES_PER_WORKER: u64 = 16;
/// No range is smaller than this (except in a file smaller than it).
const MIN_RANGE: u64 = 2 * 1024 * 1024;
const BUFFER: usize = 256 * 1024;
/// A row longer than this is an error (an appointment row is a few
/// hundred bytes; this keeps a file without line breaks from taking the
/// memory of its size).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// Folds every row of the CSV file at `path` with `workers` threads; the
/// fold is made from the file's header by `start`. A file's time falls
/// back to `fallback_time` when the file system has none.
pub fn fold_file<F: Fold>(
    path: &Path,
    layout: &Layout,
    workers: usize,
    fallback_time: DateTime<Utc>,
    start: impl FnOnce(&[String]) -> F,
) -> anyhow::Result<Folded<F>> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let metadata = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?;
    let modified = metadata
        .modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or(fallback_time);
    let workers = if metadata.len() < SPLIT_ABOVE {
        1
    } else {
        workers.max(1)
    };
    let ranges = (metadata.len() / MIN_RANGE).clamp(1, workers as u64 * RANGES_PER_WORKER);
    let fold = fold_ranges(
        file,
        path,
        layout,
        (workers, ranges as usize),
        |n, _| n,
        start,
    )?;
    Ok(Folded { fold, modified })
}

/// Folds the rows of `file` (at `path`) with `workers` threads, cut into
/// `ranges` byte ranges that the workers take in turn as they finish one:
/// the `n`-th taken is range `order(n, ranges)` (in file order but in
/// tests, which take them in other orders too).
fn fold_ranges<F: Fold>(
    file: File,
    path: &Path,
    layout: &Layout,
    (workers, ranges): (usize, usize),
    order: impl Fn(usize, usize) -> usize + Sync,
    start: impl FnOnce(&[String]) -> F,
) -> anyhow::Result<F> {
    let len = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let header = read_header(&file, layout, path)?;
    let first = start(&header.names);
    let plan = Plan {
        path,
        delimiter: layout.csv_delimiter,
        used: Used::new(&first.columns(), &header.names),
        stop: AtomicUsize::new(usize::MAX),
    };
    let ranges = ranges.max(1);
    let workers = workers.clamp(1, ranges);
    let body = len.saturating_sub(header.body_start);
    let bounds: Vec<u64> = (0..=ranges as u64)
        .map(|i| header.body_start + body * i / ranges as u64)
        .collect();
    let next = AtomicUsize::new(0);
    let read = |fold: &mut F, buffer: &mut Vec<u8>, index: usize| {
        plan.read_range(index, &bounds, fold, buffer)
    };
    let done = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let mut fold = first.clone();
                let (plan, next, read, order) = (&plan, &next, &read, &order);
                scope.spawn(move || {
                    let mut parts = Vec::new();
                    let mut buffer = Vec::new();
                    loop {
                        let ticket = next.fetch_add(1, Ordering::Relaxed);
                        if ticket >= ranges {
                            break;
                        }
                        let index = order(ticket, ranges);
                        if plan.stopped(index) {
                            continue;
                        }
                        let part = read(&mut fold, &mut buffer, index);
                        if !matches!(part, Ok(Part { to_end: false, .. })) {
                            // The ranges after this one are read by this
                            // worker (a quote) or not at all (an error);
                            // those before it are still taken (in the
                            // orders of the tests, some are left).
                            plan.stop.fetch_min(index, Ordering::Relaxed);
                        }
                        parts.push((index, part));
                    }
                    (fold, parts)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a CSV worker panicked"))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    // The ranges in file order, up to the first that read to the end of
    // the file (a quote) or could not be read; the lines before each.
    let mut owner: Vec<Option<usize>> = vec![None; ranges];
    let mut outcome: Vec<Option<Result<Part, Failure>>> = (0..ranges).map(|_| None).collect();
    let mut folds = Vec::with_capacity(done.len());
    for (worker, (fold, parts)) in done.into_iter().enumerate() {
        folds.push(fold);
        for (index, part) in parts {
            owner[index] = Some(worker);
            outcome[index] = Some(part);
        }
    }
    let mut lines_before = vec![header.lines; ranges];
    let mut last = ranges - 1;
    let mut lines = header.lines;
    for (index, part) in outcome.into_iter().enumerate() {
        // A range not taken is after the one that stopped the others.
        let Some(part) = part else { break };
        lines_before[index] = lines;
        match part {
            Ok(part) => {
                lines += part.lines;
                if part.to_end {
                    last = index;
                    break;
                }
            }
            Err(failure) => return Err(failure.error(path, lines)),
        }
    }
    // A worker that read a range after `last` (before it knew to stop)
    // counted rows that range `last` read to the end already: its ranges
    // up to `last` are read again, without them.
    for (worker, fold) in folds.iter_mut().enumerate() {
        let taken: Vec<usize> = (0..ranges).filter(|i| owner[*i] == Some(worker)).collect();
        if taken.iter().all(|index| *index <= last) {
            continue;
        }
        let mut again = first.clone();
        let mut buffer = Vec::new();
        for index in taken.into_iter().filter(|index| *index <= last) {
            match read(&mut again, &mut buffer, index) {
                Ok(part) if part.to_end == (index == last) => {}
                Ok(_) => anyhow::bail!("{} changed while it was read", path.display()),
                Err(failure) => return Err(failure.error(path, lines_before[index])),
            }
        }
        *fold = again;
    }
    let line = |key: u64| {
        let range = (key >> RANGE_SHIFT) as usize;
        lines_before.get(range).copied().unwrap_or(0) + (key & ((1 << RANGE_SHIFT) - 1))
    };
    let mut total: Option<F> = None;
    for mut fold in folds {
        fold.renumber(&line);
        match &mut total {
            None => total = Some(fold),
            Some(total) => total.merge(fold),
        }
    }
    Ok(total.unwrap_or(first))
}

struct Header {
    names: Vec<String>,
    /// The byte offset where the rows start.
    body_start: u64,
    /// Line breaks before `body_start`.
    lines: u64,
}

/// The header's column names and where the rows start.
fn read_header(file: &File, layout: &Layout, path: &Path) -> anyhow::Result<Header> {
    let mut reader = reader_builder(layout.csv_delimiter).from_reader(file);
    let mut record = csv::StringRecord::new();
    let found = reader
        .read_record(&mut record)
        .with_context(|| format!("reading the CSV header of {}", path.display()))?;
    anyhow::ensure!(found, "{} is empty: expected a header row", path.display());
    let names = record
        .iter()
        .map(|name| name.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut body_start = reader.position().byte();
    drop(reader);
    // The header's own bytes (and the byte after, which may be the line
    // feed of a CR LF the reader stopped before), to count its lines.
    let mut head = Vec::new();
    let mut file = file;
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.take(body_start + 1).read_to_end(&mut head))
        .with_context(|| format!("reading {}", path.display()))?;
    let end = (body_start as usize).min(head.len());
    if end > 0 && head[end - 1] == b'\r' && head.get(end) == Some(&b'\n') {
        body_start += 1;
    }
    let lines = memchr::memchr_iter(b'\n', &head[..(body_start as usize).min(head.len())]).count();
    Ok(Header {
        names,
        body_start,
        lines: lines as u64,
    })
}

fn reader_builder(delimiter: u8) -> csv::ReaderBuilder {
    let mut builder = csv::ReaderBuilder::new();
    builder
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .buffer_capacity(BUFFER);
    builder
}

/// The columns a fold reads, and the header's names for errors.
struct Used {
    /// Whether each column up to the last one read is read.
    wanted: Vec<bool>,
    names: Vec<String>,
}

impl Used {
    fn new(columns: &[usize], header: &[String]) -> Used {
        let width = columns.iter().max().map_or(0, |c| c + 1);
        let mut wanted = vec![false; width];
        for &column in columns {
            wanted[column] = true;
        }
        Used {
            wanted,
            names: header.to_vec(),
        }
    }

    fn width(&self) -> usize {
        self.wanted.len()
    }

    /// A record of the read columns of `line` (`scratch`'s spans are in
    /// `line`), copied into `scratch` after checking each for UTF-8.
    fn owned<'s>(&self, line: &[u8], scratch: &'s mut Scratch) -> Result<Record<'s>, String> {
        let field = |span: (u32, u32)| &line[span.0 as usize..span.1 as usize];
        self.check_utf8(
            scratch
                .spans
                .iter()
                .enumerate()
                .filter(|(_, s)| **s != ABSENT)
                .map(|(column, span)| (column, field(*span))),
        )?;
        scratch.text.clear();
        for span in scratch.spans.iter_mut().filter(|s| **s != ABSENT) {
            let start = scratch.text.len() as u32;
            // Checked just above.
            scratch
                .text
                .push_str(std::str::from_utf8(field(*span)).unwrap_or_default());
            *span = (start, scratch.text.len() as u32);
        }
        Ok(Record {
            text: &scratch.text,
            spans: &scratch.spans,
        })
    }

    /// Why the read columns of a row that is not all UTF-8 cannot be read,
    /// if one of them is not UTF-8.
    fn check_utf8<'a>(
        &self,
        fields: impl Iterator<Item = (usize, &'a [u8])>,
    ) -> Result<(), String> {
        for (column, bytes) in fields {
            if let Err(e) = std::str::from_utf8(bytes) {
                let name = self.names.get(column).map_or("", String::as_str);
                return Err(format!(
                    "column {} ({name:?}) is not valid UTF-8 (byte {} of the field); save the \
                     file as UTF-8",
                    column + 1,
                    e.valid_up_to() + 1
                ));
            }
        }
        Ok(())
    }
}

/// What a worker read.
struct Part {
    /// Line breaks in the rows it read.
    lines: u64,
    /// Whether it read on to the end of the file (it met a quote).
    to_end: bool,
}

enum Failure {
    Io(anyhow::Error),
    /// A row that cannot be read; `line` counts from the range's start.
    Row {
        line: u64,
        message: String,
    },
}

impl Failure {
    /// The error to report for a range of the file at `path` with
    /// `lines_before` line breaks before it.
    fn error(self, path: &Path, lines_before: u64) -> anyhow::Error {
        match self {
            Failure::Io(e) => e,
            Failure::Row { line, message } => {
                anyhow::anyhow!(
                    "{}: line {}: {message}",
                    path.display(),
                    lines_before + line
                )
            }
        }
    }
}

struct Plan<'p> {
    path: &'p Path,
    delimiter: u8,
    used: Used,
    /// The first range whose worker met a quote: the ones after it stop.
    stop: AtomicUsize,
}

/// A reused row: spans by column, and an owned copy of the read columns
/// for rows that are not all UTF-8 or come from the quote-aware reader.
#[derive(Default)]
struct Scratch {
    spans: Vec<(u32, u32)>,
    text: String,
}

impl Plan<'_> {
    fn io(&self, e: std::io::Error) -> Failure {
        Failure::Io(anyhow::Error::new(e).context(format!("reading {}", self.path.display())))
    }

    fn stopped(&self, index: usize) -> bool {
        self.stop.load(Ordering::Relaxed) < index
    }

    /// Reads the rows of range `index`, those that start in `lo..hi`
    /// between its `bounds` (the first range starts at a row; the others
    /// at the first line break at or after `lo - 1`), through `buffer`
    /// (a worker's, kept from range to range).
    fn read_range<F: Fold>(
        &self,
        index: usize,
        bounds: &[u64],
        fold: &mut F,
        buffer: &mut Vec<u8>,
    ) -> Result<Part, Failure> {
        let (lo, hi) = (bounds[index], bounds[index + 1]);
        let mut file = File::open(self.path).map_err(|e| self.io(e))?;
        let mut offset = if index == 0 { lo } else { lo - 1 };
        file.seek(SeekFrom::Start(offset)).map_err(|e| self.io(e))?;
        let mut skip = index > 0;
        // Back to its first size if a long row made it grow.
        buffer.resize(BUFFER, 0);
        buffer.shrink_to(BUFFER);
        let (mut start, mut filled) = (0usize, 0usize);
        let mut lines = 0u64;
        let mut eof = false;
        let mut scratch = Scratch::default();
        loop {
            if self.stopped(index) {
                return Ok(Part {
                    lines,
                    to_end: false,
                });
            }
            // Keep the unread part at the front and fill the rest.
            if start > 0 {
                buffer.copy_within(start..filled, 0);
                offset += start as u64;
                filled -= start;
                start = 0;
            }
            if filled == buffer.len() {
                if buffer.len() >= MAX_LINE {
                    return Err(Failure::Row {
                        line: lines + 1,
                        message: format!(
                            "the row is longer than {} MiB: is this a CSV file of appointments?",
                            MAX_LINE >> 20
                        ),
                    });
                }
                buffer.resize(buffer.len() * 2, 0);
            }
            if !eof {
                let n = file.read(&mut buffer[filled..]).map_err(|e| self.io(e))?;
                eof = n == 0;
                filled += n;
            }
            if skip {
                match memchr::memchr(b'\n', &buffer[..filled]) {
                    Some(at) => {
                        start = at + 1;
                        skip = false;
                    }
                    None if eof => break,
                    None => {
                        start = filled;
                        continue;
                    }
                }
            }
            if offset + start as u64 >= hi || (eof && start == filled) {
                break;
            }
            // The whole lines in the buffer that start before `hi`.
            let unread = &buffer[start..filled];
            let mut end = match memchr::memrchr(b'\n', unread) {
                Some(at) => start + at + 1,
                None if eof => filled,
                None => continue,
            };
            let mut last = false;
            if offset + end as u64 > hi {
                let from = (hi - 1 - offset) as usize;
                end = memchr::memchr(b'\n', &buffer[from..end]).map_or(end, |at| from + at + 1);
                last = true;
            }
            let block = &buffer[start..end];
            if needs_quote_reader(block) {
                self.stop.fetch_min(index, Ordering::Relaxed);
                let from = offset + start as u64;
                drop(file);
                let more = self.read_quoted(index, from, lines, fold, &mut scratch)?;
                return Ok(Part {
                    lines: lines + more,
                    to_end: true,
                });
            }
            lines = self.fold_block(block, index, lines, fold, &mut scratch)?;
            start = end;
            if last {
                break;
            }
        }
        Ok(Part {
            lines,
            to_end: false,
        })
    }

    /// Folds the whole lines of `block` (quote-free), the first being
    /// line `lines + 1` of the range; the line breaks counted after them.
    /// One pass finds both the delimiters and the line breaks.
    fn fold_block<F: Fold>(
        &self,
        block: &[u8],
        range: usize,
        mut lines: u64,
        fold: &mut F,
        scratch: &mut Scratch,
    ) -> Result<u64, Failure> {
        let text = super::utf8::text(block);
        let wanted = &self.used.wanted[..];
        scratch.spans.clear();
        scratch.spans.resize(wanted.len(), ABSENT);
        let (mut line_start, mut field, mut column) = (0usize, 0usize, 0usize);
        let mut hits = Hits::new(block, self.delimiter);
        loop {
            let hit = hits.next();
            let at = hit.unwrap_or(block.len());
            if hit.is_some() && block[at] == self.delimiter {
                if wanted.get(column) == Some(&true) {
                    scratch.spans[column] = (field as u32, at as u32);
                }
                column += 1;
                field = at + 1;
                continue;
            }
            // The end of a line: a line feed, or the end of the block.
            if hit.is_none() && line_start == block.len() {
                break;
            }
            let mut end = at;
            if end > line_start && block[end - 1] == b'\r' {
                end -= 1;
            }
            let line = lines + 1;
            if end > line_start {
                if end - line_start > MAX_LINE {
                    return Err(Failure::Row {
                        line,
                        message: format!("the row is longer than {} MiB", MAX_LINE >> 20),
                    });
                }
                if wanted.get(column) == Some(&true) {
                    scratch.spans[column] = (field.min(end) as u32, end as u32);
                }
                // The columns this row does not reach keep no span of an
                // earlier row's (those it reaches were all just set).
                if let Some(rest) = scratch.spans.get_mut(column + 1..) {
                    rest.fill(ABSENT);
                }
                let record = match text {
                    Some(text) => Record {
                        text,
                        spans: &scratch.spans,
                    },
                    None => self
                        .used
                        .owned(block, scratch)
                        .map_err(|message| Failure::Row { line, message })?,
                };
                fold.add(line_key(range, line), &record);
            }
            if hit.is_none() {
                break;
            }
            lines += 1;
            (line_start, field, column) = (at + 1, at + 1, 0);
        }
        Ok(lines)
    }

    /// Reads from byte `from` (a row's start) to the end of the file with
    /// the quote-aware reader; `lines` line breaks of the range came
    /// before. The line breaks it read.
    fn read_quoted<F: Fold>(
        &self,
        index: usize,
        from: u64,
        lines: u64,
        fold: &mut F,
        scratch: &mut Scratch,
    ) -> Result<u64, Failure> {
        let mut file = File::open(self.path).map_err(|e| self.io(e))?;
        file.seek(SeekFrom::Start(from)).map_err(|e| self.io(e))?;
        let mut reader = reader_builder(self.delimiter).from_reader(Tap::new(file));
        fold_quoted(
            &mut reader,
            &self.used,
            (index, lines),
            fold,
            scratch,
            || self.stopped(index),
            // Only I/O errors end a read here (the reader is flexible and
            // takes any bytes); the file changed or went away.
            |e| anyhow::anyhow!("reading {}: {e}", self.path.display()),
        )
    }
}

/// Folds the rows `reader` reads, on to its end or until `stopped`, with
/// the quote-aware reader; `lines` line breaks of range number `range`
/// came before its first row. The line breaks it read.
#[allow(clippy::too_many_arguments)]
fn fold_quoted<R: std::io::Read, F: Fold>(
    reader: &mut csv::Reader<Tap<R>>,
    used: &Used,
    (range, lines): (usize, u64),
    fold: &mut F,
    scratch: &mut Scratch,
    stopped: impl Fn() -> bool,
    io_error: impl Fn(csv::Error) -> anyhow::Error,
) -> Result<u64, Failure> {
    let mut record = csv::ByteRecord::new();
    let width = used.width();
    let mut count = 0u32;
    loop {
        count = count.wrapping_add(1);
        if count.is_multiple_of(4096) && stopped() {
            break;
        }
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(Failure::Io(io_error(e))),
        }
        // The reader numbers a row by where it began looking for it,
        // before the line breaks it skipped (a CR LF's LF, empty
        // lines): the row's own line is after those.
        let (scan, scan_line) = record.position().map_or((0, 1), |p| (p.byte(), p.line()));
        let skipped = reader.get_ref().line_breaks_from(scan);
        let next = reader.position().byte();
        reader.get_mut().forget_before(next);
        let line = lines + scan_line + skipped;
        if record.as_slice().len() > MAX_LINE {
            return Err(Failure::Row {
                line,
                message: format!("the row is longer than {} MiB", MAX_LINE >> 20),
            });
        }
        scratch.spans.clear();
        scratch.spans.resize(width, ABSENT);
        for (column, wanted) in used.wanted.iter().enumerate() {
            if let (true, Some(range)) = (*wanted, record.range(column)) {
                scratch.spans[column] = (range.start as u32, range.end as u32);
            }
        }
        let row = match std::str::from_utf8(record.as_slice()) {
            Ok(text) => Record {
                text,
                spans: &scratch.spans,
            },
            Err(_) => used
                .owned(record.as_slice(), scratch)
                .map_err(|message| Failure::Row { line, message })?,
        };
        fold.add(line_key(range, line), &row);
    }
    // The reader's line count is one past the line breaks it read.
    Ok(reader.position().line().saturating_sub(1))
}

/// Folds every row of the CSV read from `input` (an HTTP body as it
/// arrives) on this thread, with the quote-aware reader, into the fold
/// `start` makes from the header. Rows are numbered by their line in the
/// input, as [`fold_file`] numbers them.
pub fn fold_reader<F: Fold>(
    input: impl std::io::Read,
    layout: &Layout,
    start: impl FnOnce(&[String]) -> F,
) -> anyhow::Result<F> {
    let mut reader = reader_builder(layout.csv_delimiter).from_reader(Tap::new(input));
    let mut header = csv::StringRecord::new();
    let found = reader
        .read_record(&mut header)
        .context("reading the CSV header")?;
    anyhow::ensure!(found, "the CSV data is empty: expected a header row");
    let names: Vec<String> = header
        .iter()
        .map(|name| name.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let next = reader.position().byte();
    reader.get_mut().forget_before(next);
    let mut fold = start(&names);
    let used = Used::new(&fold.columns(), &names);
    let mut scratch = Scratch {
        spans: Vec::new(),
        text: String::new(),
    };
    match fold_quoted(
        &mut reader,
        &used,
        (0, 0),
        &mut fold,
        &mut scratch,
        || false,
        |e| anyhow::Error::new(e).context("reading the CSV data"),
    ) {
        Ok(_) => Ok(fold),
        Err(Failure::Io(e)) => Err(e),
        Err(Failure::Row { line, message }) => anyhow::bail!("line {line}: {message}"),
    }
}

/// A reader that keeps the bytes it gave out since the row being read,
/// to look at the line breaks before it.
struct Tap<R> {
    inner: R,
    kept: Vec<u8>,
    /// The offset (from where reading began) of `kept[0]`.
    kept_from: u64,
}

impl<R: std::io::Read> std::io::Read for Tap<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.kept.extend_from_slice(&buffer[..n]);
        Ok(n)
    }
}

impl<R> Tap<R> {
    fn new(inner: R) -> Tap<R> {
        Tap {
            inner,
            kept: Vec::new(),
            kept_from: 0,
        }
    }

    /// The line feeds in the run of line-break bytes at offset `at`.
    fn line_breaks_from(&self, at: u64) -> u64 {
        let from = at.saturating_sub(self.kept_from) as usize;
        self.kept
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .filter(|b| **b == b'\n')
            .count() as u64
    }

    fn forget_before(&mut self, at: u64) {
        let n = (at.saturating_sub(self.kept_from) as usize).min(self.kept.len());
        self.kept.drain(..n);
        self.kept_from += n as u64;
    }
}

/// The offsets of the delimiters and line feeds in a block, in order.
///
/// Sixty-four bytes at a time: sixteen bytes are compared with the
/// delimiter and the line feed at once into one bit each of a `u64`
/// (SSE2, in every x86-64 CPU, through `safe_arch`'s safe wrappers: the
/// crate forbids `unsafe`), and the hits are read off the mask with
/// `trailing_zeros`. The gaps between hits are short (a
/// field is ten or twenty bytes): `memchr::memchr2_iter`, built for long
/// gaps, spent more on starting each search than on searching (155 ms
/// against 98 ms for a loop eight bytes at a time in a `u64` over 200 MB
/// of the benchmark's CSV file, one core). `memchr` still finds the line
/// feeds and quotes of whole blocks, where the gaps are long.
struct Hits<'a> {
    bytes: &'a [u8],
    /// The offset of the chunk `mask` is of, and the next chunk's.
    chunk: usize,
    next: usize,
    /// One bit per byte of the chunk that is a hit, not yet given.
    mask: u64,
    delimiter: u8,
}

/// Bytes looked at together: one bit of a `u64` each.
const CHUNK: usize = 64;

/// The bytes of `chunk` that are `delimiter` or a line feed, one bit each.
#[cfg(target_arch = "x86_64")]
#[inline]
fn hit_mask(chunk: &[u8; CHUNK], delimiter: u8) -> u64 {
    use safe_arch::{cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i};
    let delimiters = safe_arch::set_splat_i8_m128i(delimiter as i8);
    let line_feeds = safe_arch::set_splat_i8_m128i(b'\n' as i8);
    let mut mask = 0u64;
    let (parts, _) = chunk.as_chunks::<16>();
    for (n, part) in parts.iter().enumerate() {
        let bytes = load_unaligned_m128i(part);
        let hits =
            cmp_eq_mask_i8_m128i(bytes, delimiters) | cmp_eq_mask_i8_m128i(bytes, line_feeds);
        mask |= u64::from(move_mask_i8_m128i(hits) as u16) << (16 * n);
    }
    mask
}

/// [`hit_mask`] a byte at a time, where SSE2 is not there.
#[cfg(not(target_arch = "x86_64"))]
fn hit_mask(chunk: &[u8; CHUNK], delimiter: u8) -> u64 {
    let mut mask = 0u64;
    for (i, byte) in chunk.iter().enumerate() {
        mask |= u64::from((*byte == delimiter) | (*byte == b'\n')) << i;
    }
    mask
}

impl<'a> Hits<'a> {
    fn new(bytes: &'a [u8], delimiter: u8) -> Hits<'a> {
        Hits {
            bytes,
            chunk: 0,
            next: 0,
            mask: 0,
            delimiter,
        }
    }
}

impl Iterator for Hits<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let rest = self.bytes.get(self.next..)?;
            if rest.is_empty() {
                return None;
            }
            self.mask = match rest.first_chunk::<CHUNK>() {
                Some(chunk) => hit_mask(chunk, self.delimiter),
                None => {
                    let mut chunk = [0u8; CHUNK];
                    chunk[..rest.len()].copy_from_slice(rest);
                    // Only the bytes that are there (the padding is
                    // zero, which a delimiter may be).
                    hit_mask(&chunk, self.delimiter) & ((1u64 << rest.len()) - 1)
                }
            };
            self.chunk = self.next;
            self.next += CHUNK;
        }
        let at = self.chunk + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// Whether a block of whole lines must be read by the quote-aware reader:
/// it holds a double quote, or a carriage return that is not part of a
/// CR LF line break (the CSV reader takes a lone one as a line break).
fn needs_quote_reader(block: &[u8]) -> bool {
    if memchr::memchr(b'"', block).is_some() {
        return true;
    }
    memchr::memchr_iter(b'\r', block).any(|at| at + 1 < block.len() && block[at + 1] != b'\n')
}

#[cfg(test)]
mod tests;
