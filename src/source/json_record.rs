//! One JSON record read straight into the cells a fold asks for, without
//! building a `serde_json::Value` of it: each key is looked up as it is
//! read, the values of the keys nobody asked for are skipped, the others
//! become text as `table::json_cells` makes it (the reference, which
//! `json_stream` still uses when a mapping is a JSON pointer).

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::table::{KeyHasher, Layout};

type KeyMap = HashMap<String, usize, std::hash::BuildHasherDefault<KeyHasher>>;

/// Where each key of a record goes: the names it is the mapped source of
/// (`true`), and the names it is itself while mapped to another key
/// (`false`, used only when the record lacks that other key).
#[derive(Debug, Clone)]
pub struct Targets {
    /// Each key's place in `feeds`.
    by_key: KeyMap,
    /// The names each key feeds: (index, mapped).
    feeds: Vec<Box<[(usize, bool)]>>,
    names: usize,
}

impl Targets {
    /// What `key` feeds: its place in `feeds`.
    fn find(&self, key: &str) -> Option<usize> {
        self.by_key.get(key).copied()
    }
}

impl Targets {
    /// `None` when a name is mapped to a JSON pointer, which needs the
    /// whole record.
    pub fn new(layout: &Layout, names: &[String]) -> Option<Targets> {
        let mut by_key: HashMap<String, Vec<(usize, bool)>> = HashMap::new();
        for (index, name) in names.iter().enumerate() {
            match layout.fields.get(name) {
                Some(source) if source.starts_with('/') => return None,
                Some(source) => {
                    by_key
                        .entry(source.clone())
                        .or_default()
                        .push((index, true));
                    if source != name {
                        by_key.entry(name.clone()).or_default().push((index, false));
                    }
                }
                None => by_key.entry(name.clone()).or_default().push((index, true)),
            }
        }
        let mut feeds = Vec::new();
        let by_key = by_key
            .into_iter()
            .map(|(key, targets)| {
                feeds.push(targets.into_boxed_slice());
                (key, feeds.len() - 1)
            })
            .collect();
        Some(Targets {
            by_key,
            feeds,
            names: names.len(),
        })
    }
}

/// Where one name's cell is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cell {
    state: State,
    /// Whether the value came from the name's mapped source key (which
    /// wins over a key of the name's own).
    mapped: bool,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// The record has no such key.
    #[default]
    Absent,
    /// Null, blank, an object or an array: no cell.
    Empty,
    /// The cell is `start..end` of the record's line (a string read in
    /// place).
    Line,
    /// The cell is `start..end` of the text written for the record
    /// (numbers, booleans, strings with escapes).
    Written,
}

/// One record's cells by name, each a slice of the line it was read
/// from or of the text written for it: no cell is copied into a buffer
/// of its own, and the buffers are kept from record to record (a record
/// allocates nothing once they have grown to its values).
#[derive(Debug, Clone, Default)]
pub struct Record {
    cells: Vec<Cell>,
    /// The text of the cells that are not slices of the line.
    written: String,
    /// Whether some record had a value for each name.
    seen: Vec<bool>,
    /// What came before each value of the last flat record.
    template: Template,
}

/// The bytes before each value of the last flat record read (the
/// separator, the key, the colon and the white space around them), with
/// what each key feeds. Records of one export repeat their keys in one
/// order with the same spacing: when the bytes after a value are those
/// the last record had after its value at the same place, they are the
/// same key, read and looked up before, and need not be read again.
#[derive(Debug, Clone, Default)]
struct Template {
    /// Each place's bytes, one after the other.
    glue: Vec<u8>,
    /// Where each place's bytes are in `glue`, and what its key feeds.
    places: Vec<(usize, usize, Option<usize>)>,
}

impl Template {
    /// When `bytes` at `at` start with the bytes of `place`: their length
    /// and what the place's key feeds.
    fn matches(&self, place: usize, bytes: &[u8], at: usize) -> Option<(usize, Option<usize>)> {
        let &(start, end, feeds) = self.places.get(place)?;
        let glue = self.glue.get(start..end)?;
        starts_with(bytes.get(at..)?, glue).then_some((glue.len(), feeds))
    }

    /// Makes `glue` the bytes of `place` and forgets the places after it.
    fn set(&mut self, place: usize, glue: &[u8], feeds: Option<usize>) {
        self.places.truncate(place);
        let start = self.places.last().map_or(0, |last| last.1);
        self.glue.truncate(start);
        self.glue.extend_from_slice(glue);
        self.places.push((start, self.glue.len(), feeds));
    }
}

/// Whether `bytes` starts with `prefix`, compared eight bytes at a time:
/// the prefixes here (a key and its separators) are shorter than what a
/// call to `memcmp` costs.
fn starts_with(bytes: &[u8], prefix: &[u8]) -> bool {
    let Some(bytes) = bytes.get(..prefix.len()) else {
        return false;
    };
    let word = |bytes: &[u8], at: usize| {
        bytes
            .get(at..at + 8)
            .map(|word| u64::from_ne_bytes(word.try_into().unwrap_or_default()))
    };
    let length = prefix.len();
    if length < 8 {
        return bytes == prefix;
    }
    let mut at = 0;
    while at + 8 < length {
        if word(bytes, at) != word(prefix, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, which may overlap the word before.
    word(bytes, length - 8) == word(prefix, length - 8)
}

impl Record {
    /// Gives a value (`state` and `start..end` in the line or the written
    /// text) to its `targets`.
    fn put(&mut self, targets: &[(usize, bool)], state: State, start: usize, end: usize) {
        for &(index, mapped) in targets {
            let cell = &mut self.cells[index];
            // A name's mapped source wins over its own key.
            if mapped || !cell.mapped || cell.state == State::Absent {
                *cell = Cell {
                    state,
                    mapped,
                    start,
                    end,
                };
            }
            self.seen[index] = true;
        }
    }

    /// Forgets what a record read so far.
    fn clear(&mut self) {
        for cell in &mut self.cells {
            cell.state = State::Absent;
        }
        self.written.clear();
    }

    /// The cells of the record just read from `line`.
    pub fn cells<'a>(&'a self, line: &'a str) -> Cells<'a> {
        Cells {
            line,
            written: &self.written,
            cells: &self.cells,
        }
    }

    /// Makes `texts` (one for each name) the record's cells.
    pub fn put_texts(&mut self, texts: &[Option<String>]) {
        if self.cells.len() != texts.len() {
            self.cells = vec![Cell::default(); texts.len()];
            self.seen = vec![false; texts.len()];
        }
        self.clear();
        for (cell, text) in self.cells.iter_mut().zip(texts) {
            if let Some(text) = text {
                let start = self.written.len();
                self.written.push_str(text);
                *cell = Cell {
                    state: State::Written,
                    mapped: false,
                    start,
                    end: self.written.len(),
                };
            }
        }
    }

    /// Which names some record read so far had.
    pub fn seen(&self) -> &[bool] {
        &self.seen
    }
}

/// One record's cells: `get(i)` for `names[i]`.
#[derive(Clone, Copy)]
pub struct Cells<'a> {
    line: &'a str,
    written: &'a str,
    cells: &'a [Cell],
}

impl<'a> Cells<'a> {
    /// The text of the cell of name `index`; `None` when the record has
    /// none (no such key, null, blank, an object or an array).
    pub fn get(&self, index: usize) -> Option<&'a str> {
        let cell = self.cells.get(index)?;
        match cell.state {
            State::Line => self.line.get(cell.start..cell.end),
            State::Written => self.written.get(cell.start..cell.end),
            State::Absent | State::Empty => None,
        }
    }

    /// Every cell, in the order of the names.
    pub fn to_vec(&self) -> Vec<Option<String>> {
        (0..self.cells.len())
            .map(|index| self.get(index).map(str::to_owned))
            .collect()
    }
}

impl fmt::Debug for Cells<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries((0..self.cells.len()).map(|index| self.get(index)))
            .finish()
    }
}

impl crate::evaluate::waittime::columns::Cells for Cells<'_> {
    fn get(&self, column: usize) -> Option<&str> {
        Cells::get(self, column)
    }
}

/// Reads one record from `deserializer` into `record`; `Ok(Err(kind))`
/// when it is not an object.
pub fn read<'de, D: de::Deserializer<'de>>(
    deserializer: D,
    targets: &Targets,
    record: &mut Record,
) -> Result<Result<(), &'static str>, D::Error> {
    record.start(targets);
    deserializer.deserialize_any(RecordVisitor { targets, record })
}

impl Record {
    /// Readies the record for the next one, with a cell for each name.
    fn start(&mut self, targets: &Targets) {
        if self.cells.len() != targets.names {
            self.cells = vec![Cell::default(); targets.names];
            self.seen = vec![false; targets.names];
        }
        self.clear();
    }
}

/// Reads one flat record (an object of strings without escapes, numbers,
/// booleans and nulls, as an export writes them) from `line` into
/// `record`, scanning its bytes directly; `false`, with nothing read, for
/// anything else (escapes, nested values, white space other than JSON's,
/// malformed JSON), which [`read`] then reads through serde_json with its
/// exact errors. The cells are those [`read`] gives.
pub fn read_flat(line: &str, targets: &Targets, record: &mut Record) -> bool {
    record.start(targets);
    let read = Flat {
        text: line,
        bytes: line.as_bytes(),
        at: 0,
    }
    .record(targets, record)
    .is_some();
    if !read {
        record.clear();
    }
    read
}

/// A cursor over one line for [`read_flat`]; `None` gives up.
struct Flat<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

/// Eight copies of a byte.
const fn lanes(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

impl<'a> Flat<'a> {
    fn white(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.bytes.get(self.at) == Some(&expected)).then(|| self.at += 1)
    }

    /// A string without escapes or control characters, after its quote:
    /// eight bytes at a time, each word checked at once for a quote, a
    /// backslash or a control character.
    fn string(&mut self) -> Option<&'a str> {
        const HIGH: u64 = lanes(0x80);
        let start = self.at;
        let mut at = start;
        let special = |word: u64| {
            let zero = |v: u64| v.wrapping_sub(lanes(1)) & !v & HIGH;
            zero(word ^ lanes(b'"'))
                | zero(word ^ lanes(b'\\'))
                | (word.wrapping_sub(lanes(0x20)) & !word & HIGH)
        };
        while let Some(chunk) = self.bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().ok()?);
            let found = special(word);
            if found != 0 {
                // The lowest flag is the first special byte.
                at += (found.trailing_zeros() / 8) as usize;
                break;
            }
            at += 8;
        }
        while self
            .bytes
            .get(at)
            .is_some_and(|b| *b >= 0x20 && *b != b'"' && *b != b'\\')
        {
            at += 1;
        }
        if self.bytes.get(at) != Some(&b'"') {
            return None;
        }
        self.at = at + 1;
        // Both ends are ASCII quotes: character boundaries.
        self.text.get(start..at)
    }

    fn record(&mut self, targets: &Targets, record: &mut Record) -> Option<()> {
        let mut place = 0;
        loop {
            let feeds = match record.template.matches(place, self.bytes, self.at) {
                // The bytes up to the value are those the last record had
                // at this place: the same separator and key, read before.
                Some((length, feeds)) => {
                    self.at += length;
                    feeds
                }
                None => {
                    let start = self.at;
                    if !self.to_key(place == 0)? {
                        return self.end();
                    }
                    let key = self.string()?;
                    let feeds = targets.find(key);
                    self.white();
                    self.byte(b':')?;
                    self.white();
                    record
                        .template
                        .set(place, self.bytes.get(start..self.at)?, feeds);
                    feeds
                }
            };
            place += 1;
            let (state, start, end) = self.value(&mut record.written)?;
            if let Some(feeds) = feeds {
                record.put(&targets.feeds[feeds], state, start, end);
            }
        }
    }

    /// Moves past what comes before a key (the record's opening brace for
    /// the first, else a comma, with white space) and the key's opening
    /// quote; `false` at the record's closing brace instead.
    fn to_key(&mut self, first: bool) -> Option<bool> {
        self.white();
        match (first, *self.bytes.get(self.at)?) {
            (true, b'{') | (false, b',') => self.at += 1,
            (false, b'}') => {
                self.at += 1;
                return Some(false);
            }
            _ => return None,
        }
        self.white();
        if first && self.byte(b'}').is_some() {
            return Some(false);
        }
        self.byte(b'"')?;
        Some(true)
    }

    /// Only white space after the record.
    fn end(&mut self) -> Option<()> {
        self.white();
        (self.at == self.bytes.len()).then_some(())
    }

    /// A scalar value's cell as [`CellSeed`] makes it: a string is a
    /// slice of the line, anything else is written at the end of
    /// `written`. Its state and where its text is.
    fn value(&mut self, written: &mut String) -> Option<(State, usize, usize)> {
        let rest = self.bytes.get(self.at..)?;
        let literal = |word: &[u8]| rest.starts_with(word).then_some(word.len());
        let start = written.len();
        let text = &mut *written;
        let state = match rest.first()? {
            b'"' => {
                self.at += 1;
                let start = self.at;
                let value = self.string()?;
                return Some(if blank(value) {
                    (State::Empty, 0, 0)
                } else {
                    (State::Line, start, start + value.len())
                });
            }
            b't' => {
                self.at += literal(b"true")?;
                text.push_str("true");
                State::Written
            }
            b'f' => {
                self.at += literal(b"false")?;
                text.push_str("false");
                State::Written
            }
            b'n' => {
                self.at += literal(b"null")?;
                State::Empty
            }
            b'-' | b'0'..=b'9' => {
                let length = rest
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(rest.len());
                // serde_json reads the number, as the slow path would.
                let number = std::str::from_utf8(&rest[..length]).ok()?;
                let mut deserializer = serde_json::Deserializer::from_str(number);
                let state = CellSeed(text).deserialize(&mut deserializer).ok()?;
                deserializer.end().ok()?;
                self.at += length;
                state
            }
            _ => return None,
        };
        Some((state, start, written.len()))
    }
}

struct RecordVisitor<'s> {
    targets: &'s Targets,
    record: &'s mut Record,
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = Result<(), &'static str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(targets) = map.next_key_seed(KeySeed(self.targets))? {
            let Some(targets) = targets else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let start = self.record.written.len();
            let state = map.next_value_seed(CellSeed(&mut self.record.written))?;
            let end = self.record.written.len();
            self.record.put(targets, state, start, end);
        }
        Ok(Ok(()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("an array"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("a string"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err("null"))
    }
}

/// A key, looked up without keeping it.
struct KeySeed<'s>(&'s Targets);

impl<'de, 's> DeserializeSeed<'de> for KeySeed<'s> {
    type Value = Option<&'s [(usize, bool)]>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for KeySeed<'s> {
    type Value = Option<&'s [(usize, bool)]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.find(key).map(|place| &self.0.feeds[place][..]))
    }
}

/// A value as a cell's text, written into the buffer: strings as they
/// are (blank ones empty), numbers as `f64` prints them, booleans as
/// `true`/`false`; null, objects and arrays empty.
struct CellSeed<'s>(&'s mut String);

impl<'de> DeserializeSeed<'de> for CellSeed<'_> {
    type Value = State;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Whether a string is blank (no cell): empty or only white space.
fn blank(text: &str) -> bool {
    // Most cells start with a character that is not white space (ASCII
    // white space is 9 to 13 and 32); only the others need a trim.
    let plain = text
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii() && !matches!(b, 9..=13 | b' '));
    !plain && text.trim().is_empty()
}

impl CellSeed<'_> {
    /// A string's cell: none when it is blank.
    fn text(self, text: &str) -> State {
        if blank(text) {
            return State::Empty;
        }
        self.0.push_str(text);
        State::Written
    }

    fn number(self, value: f64) -> State {
        use std::fmt::Write as _;
        let _ = write!(self.0, "{value}");
        State::Written
    }
}

impl<'de> Visitor<'de> for CellSeed<'_> {
    type Value = State;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(self.text(text))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        self.0.push_str(if value { "true" } else { "false" });
        Ok(State::Written)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(self.number(value as f64))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(self.number(value as f64))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(self.number(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(State::Empty)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(State::Empty)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(State::Empty)
    }
}
