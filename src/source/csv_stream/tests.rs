//! The byte-range reader against the `csv` crate's reader: the same rows,
//! the same line numbers, whatever the quotes, line breaks and ranges.

use super::*;

/// Collects every row it is given: (line, the read columns' text).
#[derive(Debug, Clone, Default, PartialEq)]
struct Collect {
    columns: Vec<usize>,
    rows: Vec<(u64, Vec<Option<String>>)>,
}

impl Fold for Collect {
    fn columns(&self) -> Vec<usize> {
        self.columns.clone()
    }

    fn add(&mut self, line: u64, record: &Record<'_>) {
        let cells = self
            .columns
            .iter()
            .map(|c| record.get(*c).map(str::to_owned))
            .collect();
        self.rows.push((line, cells));
    }

    /// Renumbers, and puts the rows in file order (a worker's copy has
    /// the rows of the ranges it took, in the order it took them).
    fn renumber(&mut self, line: &dyn Fn(u64) -> u64) {
        for (number, _) in &mut self.rows {
            *number = line(*number);
        }
        self.rows.sort_by_key(|(line, _)| *line);
    }

    /// The rows of both, in file order (a worker's copy has the rows of
    /// the ranges it took).
    fn merge(&mut self, other: Collect) {
        self.rows.extend(other.rows);
        self.rows.sort_by_key(|(line, _)| *line);
    }
}

/// What the `csv` crate reads from `bytes`: the rows after the header,
/// by the line they start on.
fn expected(bytes: &[u8], columns: &[usize]) -> Vec<(u64, Vec<Option<String>>)> {
    let mut reader = reader_builder(b',').from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut rows = Vec::new();
    let mut first = true;
    while reader.read_byte_record(&mut record).unwrap() {
        if std::mem::take(&mut first) {
            continue;
        }
        // The line the row's first byte is on (the reader's own number
        // is where it began looking, before skipped line breaks).
        let mut at = record.position().unwrap().byte() as usize;
        while matches!(bytes.get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        let line = 1 + memchr::memchr_iter(b'\n', &bytes[..at]).count() as u64;
        let cells = columns
            .iter()
            .map(|c| {
                record
                    .get(*c)
                    .map(|b| String::from_utf8(b.to_vec()).unwrap())
            })
            .collect();
        rows.push((line, cells));
    }
    rows
}

/// `bytes` read by `workers`, each taking three ranges on average.
fn fold(bytes: &[u8], columns: &[usize], workers: usize) -> anyhow::Result<Collect> {
    fold_in(bytes, columns, workers, 3 * workers, ORDERS[0])
}

/// Orders in which ranges are taken: the file's (as `fold_file` takes
/// them), backwards (every range after a quote is read before it, and
/// read again without the rows it counted), and from both ends in turn.
const ORDERS: [fn(usize, usize) -> usize; 3] = [
    |n, _| n,
    |n, ranges| ranges - 1 - n,
    |n, ranges| {
        if n % 2 == 0 {
            n / 2
        } else {
            ranges - 1 - n / 2
        }
    },
];

fn fold_in(
    bytes: &[u8],
    columns: &[usize],
    workers: usize,
    ranges: usize,
    order: fn(usize, usize) -> usize,
) -> anyhow::Result<Collect> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, bytes).unwrap();
    let file = File::open(&path).unwrap();
    let layout = Layout::default();
    fold_ranges(file, &path, &layout, (workers, ranges), order, |_| {
        Collect {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    })
}

/// The rows of `bytes` read by 1 to 7 workers, in as many ranges as
/// workers or more, taken in any order, are the `csv` crate's.
fn same_as_csv(bytes: &[u8], columns: &[usize]) {
    let want = expected(bytes, columns);
    for workers in 1..=7 {
        for ranges in [workers, 2 * workers + 1, 5 * workers] {
            for (o, order) in ORDERS.into_iter().enumerate() {
                let got = fold_in(bytes, columns, workers, ranges, order).unwrap();
                assert_eq!(
                    got.rows,
                    want,
                    "{workers} workers, {ranges} ranges, order {o}, input {:?}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }
}

/// A small deterministic generator (no dependency for a test).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn field(rng: &mut Lcg, quotes: bool) -> String {
    match rng.next(if quotes { 8 } else { 5 }) {
        0 => String::new(),
        1 => " padded ".to_owned(),
        2 => format!("2026-11-{:02}T09:15:00Z", 1 + rng.next(28)),
        3 => "héllo wörld".to_owned(),
        4 => format!("v{}", rng.next(1000)),
        5 => "\"a, quoted\nfield\"".to_owned(),
        6 => "\"with \"\"escaped\"\" quotes\r\nand a CR LF\"".to_owned(),
        _ => "\"\n\n\"".to_owned(),
    }
}

fn random_file(seed: u64, rows: usize, quotes: bool, crlf: bool) -> Vec<u8> {
    let mut rng = Lcg(seed);
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = format!("a,b,c,d{eol}");
    for _ in 0..rows {
        let n = 1 + rng.next(5) as usize;
        let fields: Vec<String> = (0..n).map(|_| field(&mut rng, quotes)).collect();
        text.push_str(&fields.join(","));
        if rng.next(10) == 0 {
            text.push_str(eol); // an empty line
        }
        text.push_str(eol);
    }
    text.into_bytes()
}

#[test]
fn quote_free_files_read_like_the_csv_crate() {
    for seed in 0..20 {
        for crlf in [false, true] {
            same_as_csv(&random_file(seed, 200, false, crlf), &[0, 2]);
        }
    }
}

#[test]
fn quotes_straddling_range_boundaries_read_like_the_csv_crate() {
    // Quoted fields with line breaks everywhere: with up to 7 ranges of a
    // few hundred bytes, many ranges start inside a quoted field.
    for seed in 0..40 {
        for crlf in [false, true] {
            same_as_csv(&random_file(seed, 60, true, crlf), &[0, 1, 3]);
        }
    }
    // One quote late in a long quote-free file: the ranges before it are
    // split, the rest is read by the quote-aware reader.
    let mut text = random_file(7, 3000, false, false);
    text.extend_from_slice(b"x,\"late\nquote\",y\nlast,row\n");
    same_as_csv(&text, &[0, 1]);
    // One quote early.
    let mut text = b"a,b\n\"early\nquote\",1\n".to_vec();
    text.extend(random_file(8, 3000, false, false).into_iter().skip(8));
    same_as_csv(&text, &[0, 1]);
}

#[test]
fn crlf_bom_last_line_and_empty_lines() {
    same_as_csv(b"\xef\xbb\xbfa,b\r\n1,2\r\n\r\n3,4\r\n", &[0, 1]);
    same_as_csv(b"a,b\n1,2\n3,4", &[0, 1]);
    same_as_csv(b"a,b\r\n1,2\r\n3,4", &[0, 1]);
    same_as_csv(b"a,b\r\n1,2\r\n3,4\r", &[0, 1]);
    same_as_csv(b"a,b\n\n\n1,2\n\n", &[1]);
    // A lone carriage return is a line break to the CSV reader.
    same_as_csv(b"a,b\n1,2\r3,4\n5,6\n", &[0, 1]);
    // Rows shorter and longer than the header.
    same_as_csv(b"a,b,c\n1\n1,2,3,4,5\n,,\n", &[0, 2]);
    let got = fold(b"\xef\xbb\xbfa,b\r\n1,2\r\n\r\nbad,4\r\n", &[0], 2).unwrap();
    assert_eq!(
        got.rows,
        vec![(2, vec![Some("1".into())]), (4, vec![Some("bad".into())])]
    );
}

#[test]
fn empty_and_header_only_files() {
    let error = fold(b"", &[0], 2).unwrap_err();
    assert!(
        format!("{error:#}").contains("is empty: expected a header row"),
        "{error:#}"
    );
    for text in [&b"a,b"[..], b"a,b\n", b"a,b\r\n", b"a,b\n\n\n"] {
        for workers in 1..=3 {
            assert_eq!(fold(text, &[0, 1], workers).unwrap().rows, vec![]);
        }
    }
}

#[test]
fn invalid_utf8_in_a_read_column_names_the_line_and_column() {
    let mut text = b"id,requested_at,region\n1,2026-11-02,north\n2,".to_vec();
    text.extend_from_slice(b"2026-11-0\xff,south\n3,2026-11-03,east\n");
    // Column 2 (`requested_at`) is read: an error that names it.
    for workers in 1..=3 {
        let error = fold(&text, &[1, 2], workers).unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("line 3: column 2 (\"requested_at\") is not valid UTF-8 (byte 10"),
            "{message}"
        );
    }
    // The same byte in a column no check reads is no error, and the row
    // is read.
    let mut text = b"id,requested_at,region\n1,2026-11-02,north\n2\xff,".to_vec();
    text.extend_from_slice(b"2026-11-04,s\xc3\xbcd\n");
    let got = fold(&text, &[1, 2], 2).unwrap();
    assert_eq!(
        got.rows[1],
        (3, vec![Some("2026-11-04".into()), Some("s\u{fc}d".into())])
    );
    // And in a file read by the quote-aware reader.
    let mut quoted = b"id,requested_at,region\n\"1\",2026-11-02,north\n2,".to_vec();
    quoted.extend_from_slice(b"2026-11-0\xff,south\n");
    let error = fold(&quoted, &[1], 1).unwrap_err();
    assert!(
        format!("{error:#}").contains("line 3: column 2 (\"requested_at\")"),
        "{error:#}"
    );
}

#[test]
fn huge_lines() {
    // Longer than the read buffer: the buffer grows.
    let long = "x".repeat(3 * BUFFER);
    let text = format!("a,b\n1,{long}\n2,y\n{long},3\n");
    same_as_csv(text.as_bytes(), &[0, 1]);
    // Longer than any row may be: an error naming the line, not the
    // memory of the file.
    let text = format!("a,b\n1,2\n3,{}\n", "x".repeat(MAX_LINE + 10));
    let error = fold(text.as_bytes(), &[0, 1], 1).unwrap_err();
    assert!(
        format!("{error:#}").contains("line 3: the row is longer than 16 MiB"),
        "{error:#}"
    );
}

#[test]
fn only_the_read_columns_are_cut_out() {
    let got = fold(b"a,b,c,d\n1,2,3,4\n", &[1, 3], 1).unwrap();
    assert_eq!(
        got.rows,
        vec![(2, vec![Some("2".into()), Some("4".into())])]
    );
    // A fold that reads no column still sees every row.
    let got = fold(b"a\n1\n2\n", &[], 2).unwrap();
    assert_eq!(got.rows.len(), 2);
}

#[test]
fn hits_are_the_delimiters_and_line_feeds() {
    let mut rng = Lcg(3);
    // Every length over three chunks of 64 bytes and their tails; a zero
    // delimiter, as the padding of a tail is zero.
    for len in 0..200 {
        for delimiter in [b',', b';', b'\t', b'|', 0] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    [b'a', b',', b';', b'\n', b'\t', b'|', 0, 0xff, 0x80, 0x0b]
                        [rng.next(10) as usize]
                })
                .collect();
            let want: Vec<usize> = memchr::memchr2_iter(delimiter, b'\n', &bytes).collect();
            assert_eq!(
                Hits::new(&bytes, delimiter).collect::<Vec<_>>(),
                want,
                "{bytes:?}"
            );
        }
    }
}
