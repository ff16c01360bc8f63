//! Streaming a CSV file through a [`Fold`], on both cores: the plug that
//! streamed evaluation uses (the wait-time evaluator is one such fold; the
//! caller, not this module, decides which).
//!
//! The file is never held in memory. Its rows are cut at byte offsets
//! into one range per worker, each range starting at the first line break
//! after its offset; each worker reads its range in blocks, and each
//! block of whole lines is checked once for a double quote and for a
//! carriage return that does not end a line, and once for UTF-8. Lines
//! are then split at the delimiter with `memchr`, and only the columns
//! the fold reads ([`Fold::columns`]) are cut out. Each worker folds its
//! own copy of the fold; the copies are merged in file order.
//!
//! A quoted field can hold a line break, so a line break is a row break
//! only as long as no quote came before it. A worker that meets a quote
//! (or a lone carriage return, which the CSV reader also takes as a line
//! break) reads the rest of the file, from the start of that block, with
//! the `csv` crate's quote-aware reader, and the workers after it stop:
//! everything before the first quote was split correctly, everything
//! after it is read by the reader that understands quotes. Workers count
//! their line breaks, so rows are numbered by their line in the file
//! once the ranges are put back in order ([`Fold::renumber`]).

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
    /// Takes one record; `line` is its line number counted from the
    /// start of the worker's range (see [`Fold::renumber`]).
    fn add(&mut self, line: u64, record: &Record<'_>);
    /// Adds `lines_before` to every line number this fold kept: the
    /// lines of the file before the worker's range.
    fn renumber(&mut self, lines_before: u64);
    /// Takes in what another copy folded (the rows after this copy's).
    fn merge(&mut self, later: Self);
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
        workers
    };
    let fold = fold_ranges(file, path, layout, workers, start)?;
    Ok(Folded { fold, modified })
}

/// Folds the rows of `file` (at `path`) in `workers` byte ranges.
fn fold_ranges<F: Fold>(
    file: File,
    path: &Path,
    layout: &Layout,
    workers: usize,
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
    let workers = workers.max(1);
    let body = len.saturating_sub(header.body_start);
    let bounds: Vec<u64> = (0..=workers as u64)
        .map(|i| header.body_start + body * i / workers as u64)
        .collect();
    let parts = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .enumerate()
            .map(|(index, range)| {
                let mut fold = first.clone();
                let plan = &plan;
                let (lo, hi) = (range[0], range[1]);
                scope.spawn(move || {
                    let part = plan.read_range(index, lo, hi, &mut fold);
                    (fold, part)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a CSV worker panicked"))
            })
            .collect::<Vec<_>>()
    });
    // Put the ranges back in order: up to the first that read to the end
    // of the file (the ones after it stopped, or read rows it has read).
    let mut total: Option<F> = None;
    let mut lines_before = header.lines;
    for part in parts {
        let (mut fold, part) = part?;
        let part = match part {
            Ok(part) => part,
            Err(Failure::Io(e)) => return Err(e),
            Err(Failure::Row { line, message }) => {
                anyhow::bail!(
                    "{}: line {}: {message}",
                    path.display(),
                    lines_before + line
                )
            }
        };
        fold.renumber(lines_before);
        lines_before += part.lines;
        match &mut total {
            None => total = Some(fold),
            Some(total) => total.merge(fold),
        }
        if part.to_end {
            break;
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

    /// Reads the rows that start in `lo..hi` (the first range starts at a
    /// row; the others at the first line break at or after `lo - 1`).
    fn read_range<F: Fold>(
        &self,
        index: usize,
        lo: u64,
        hi: u64,
        fold: &mut F,
    ) -> Result<Part, Failure> {
        let mut file = File::open(self.path).map_err(|e| self.io(e))?;
        let mut offset = if index == 0 { lo } else { lo - 1 };
        file.seek(SeekFrom::Start(offset)).map_err(|e| self.io(e))?;
        let mut skip = index > 0;
        let mut buffer = vec![0u8; BUFFER];
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
            lines = self.fold_block(block, lines, fold, &mut scratch)?;
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
                fold.add(line, &record);
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
            lines,
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
/// the quote-aware reader; `lines` line breaks came before its first row.
/// The line breaks it read.
#[allow(clippy::too_many_arguments)]
fn fold_quoted<R: std::io::Read, F: Fold>(
    reader: &mut csv::Reader<Tap<R>>,
    used: &Used,
    lines: u64,
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
        fold.add(line, &row);
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
        0,
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
