//! Streaming a CSV file through a [`Fold`], on both cores: the plug that
//! streamed evaluation uses (the wait-time evaluator is one such fold; the
//! caller, not this module, decides which).
//!
//! The file is never held in memory: each worker reads its own byte range
//! with a buffered reader and feeds one record at a time to its own copy
//! of the fold; the copies are merged at the end. A file is split only
//! when it has no double quote at all (so no quoted field can hold a line
//! break that a split would cut); otherwise one worker reads it all. The
//! same pre-scan counts line breaks, so every worker knows the line number
//! of its first row and rejected rows are reported by their real line.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use crate::table::Layout;

/// One row of a streamed file, as the CSV reader gives it (bytes, checked
/// for UTF-8 only by the fold that reads a field).
pub use csv::ByteRecord as Record;

/// What a streamed file's rows are folded into. Each worker folds its own
/// copy (`Clone`), and the copies are merged in file order.
pub trait Fold: Clone + Send {
    /// Takes one record; `line` is its line number in the file.
    fn add(&mut self, line: u64, record: &Record);
    /// Takes in what another copy folded (the rows after this copy's).
    fn merge(&mut self, later: Self);
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
    let (header, body_start) = read_header(&file, layout, path)?;
    let first = start(&header);
    let workers = if metadata.len() < SPLIT_ABOVE {
        1
    } else {
        workers
    };
    let chunks = chunks(path, body_start, metadata.len(), workers)?;
    let mut folds = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let mut fold = first.clone();
                scope.spawn(move || {
                    read_chunk(path, layout, chunk, &mut fold)?;
                    Ok::<_, anyhow::Error>(fold)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a CSV worker panicked")))
            })
            .collect::<anyhow::Result<Vec<F>>>()
    })?
    .into_iter();
    let mut total = folds.next().unwrap_or(first);
    for later in folds {
        total.merge(later);
    }
    Ok(Folded {
        fold: total,
        modified,
    })
}

fn reader_builder(layout: &Layout) -> csv::ReaderBuilder {
    let mut builder = csv::ReaderBuilder::new();
    builder
        .delimiter(layout.csv_delimiter)
        .flexible(true)
        .buffer_capacity(BUFFER);
    builder
}

/// The header's column names and the byte offset where the rows start.
fn read_header(file: &File, layout: &Layout, path: &Path) -> anyhow::Result<(Vec<String>, u64)> {
    let mut reader = reader_builder(layout).has_headers(false).from_reader(file);
    let mut record = csv::StringRecord::new();
    let found = reader
        .read_record(&mut record)
        .with_context(|| format!("reading the CSV header of {}", path.display()))?;
    anyhow::ensure!(found, "{} is empty: expected a header row", path.display());
    let header = record
        .iter()
        .map(|name| name.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    Ok((header, reader.position().byte()))
}

/// A byte range of the file and the line number of its first row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chunk {
    start: u64,
    end: u64,
    first_line: u64,
}

/// Splits the rows into up to `workers` ranges at line breaks, or one range
/// when the file holds a double quote.
fn chunks(path: &Path, body_start: u64, len: u64, workers: usize) -> anyhow::Result<Vec<Chunk>> {
    let whole = vec![Chunk {
        start: body_start,
        end: len,
        first_line: 2,
    }];
    if workers < 2 {
        return Ok(whole);
    }
    let mut file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    file.seek(SeekFrom::Start(body_start))?;
    let targets: Vec<u64> = (1..workers as u64)
        .map(|i| body_start + (len - body_start) * i / workers as u64)
        .collect();
    let mut cuts = Vec::new();
    let mut lines = 2u64;
    let mut offset = body_start;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        let block = &buffer[..n];
        if memchr::memchr(b'"', block).is_some() {
            return Ok(whole);
        }
        for newline in memchr::memchr_iter(b'\n', block) {
            lines += 1;
            let after = offset + newline as u64 + 1;
            if cuts.len() < targets.len() && after >= targets[cuts.len()] {
                cuts.push((after, lines));
            }
        }
        offset += n as u64;
    }
    let mut result = Vec::new();
    let (mut start, mut first_line) = (body_start, 2);
    for (cut, line) in cuts {
        result.push(Chunk {
            start,
            end: cut,
            first_line,
        });
        (start, first_line) = (cut, line);
    }
    result.push(Chunk {
        start,
        end: len,
        first_line,
    });
    Ok(result)
}

fn read_chunk(
    path: &Path,
    layout: &Layout,
    chunk: &Chunk,
    fold: &mut impl Fold,
) -> anyhow::Result<()> {
    let mut file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    file.seek(SeekFrom::Start(chunk.start))?;
    let input = BufReader::with_capacity(BUFFER, file.take(chunk.end - chunk.start));
    let mut reader = reader_builder(layout).has_headers(false).from_reader(input);
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line()) + chunk.first_line - 1;
                fold.add(line, &record);
            }
            Err(e) => {
                // Only I/O errors end a read here (the reader is flexible
                // and takes any bytes); the file changed or went away.
                return Err(anyhow::anyhow!("reading {}: {e}", path.display()));
            }
        }
    }
}

/// Folds every row of the CSV read from `input` (an HTTP body as it
/// arrives) on this thread, into the fold `start` makes from the header.
pub fn fold_reader<F: Fold>(
    input: impl Read,
    layout: &Layout,
    start: impl FnOnce(&[String]) -> F,
) -> anyhow::Result<F> {
    let mut reader = reader_builder(layout).has_headers(false).from_reader(input);
    let mut header = csv::StringRecord::new();
    let found = reader
        .read_record(&mut header)
        .context("reading the CSV header")?;
    anyhow::ensure!(found, "the CSV data is empty: expected a header row");
    let header: Vec<String> = header
        .iter()
        .map(|name| name.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut fold = start(&header);
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .context("reading the CSV data")?
    {
        fold.add(record.position().map_or(0, |p| p.line()), &record);
    }
    Ok(fold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_line_breaks_and_counts_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        let mut text = String::from("a,b\n");
        for i in 0..600_000 {
            text.push_str(&format!("{i},x\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let len = text.len() as u64;
        let parts = chunks(&path, 4, len, 2).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].start, 4);
        assert_eq!(parts[1].end, len);
        assert_eq!(parts[0].end, parts[1].start);
        // The second chunk starts right after a line break, and its first
        // line number is that line's.
        let cut = parts[1].start as usize;
        assert_eq!(&text[cut - 1..cut], "\n");
        let expected_line = text[..cut].matches('\n').count() as u64 + 1;
        assert_eq!(parts[1].first_line, expected_line);
        // A quote anywhere: one chunk.
        std::fs::write(&path, text.replacen("5,x", "5,\"x\"", 1)).unwrap();
        assert_eq!(chunks(&path, 4, len + 2, 2).unwrap().len(), 1);
    }
}
