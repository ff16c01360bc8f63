//! One JSON record read straight into the cells a fold asks for, without
//! building a `serde_json::Value` of it: each key is looked up as it is
//! read, the values of the keys nobody asked for are skipped, the others
//! become text as `table::json_cells` makes it (the reference, which
//! `json_stream` still uses when a mapping is a JSON pointer).

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

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
    /// The number of the record the cell belongs to: a cell of another
    /// record is absent (so that a record need not clear every cell).
    record: u64,
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
    /// Counts the records read: the current one's cells have its number.
    number: u64,
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
    places: Vec<Place>,
}

#[derive(Debug, Clone, Copy)]
struct Place {
    /// Where the place's bytes are in `glue`.
    start: usize,
    end: usize,
    /// What its key feeds.
    feeds: Option<usize>,
    /// Whether its bytes end with the opening quote of a string value.
    string: bool,
}

impl Template {
    /// When `bytes` at `at` start with the bytes of `place`: their
    /// length, what the place's key feeds and whether a string follows.
    #[inline]
    fn matches(
        &self,
        place: usize,
        bytes: &[u8],
        at: usize,
    ) -> Option<(usize, Option<usize>, bool)> {
        let place = self.places.get(place)?;
        let glue = self.glue.get(place.start..place.end)?;
        if !starts_with(bytes.get(at..)?, glue) {
            return None;
        }
        // Bytes that end in white space match only where the line's white
        // space ends too (a string's end with its quote).
        if !place.string && matches!(bytes.get(at + glue.len()), Some(b' ' | b'\t' | b'\r')) {
            return None;
        }
        Some((glue.len(), place.feeds, place.string))
    }

    /// Makes `glue` the bytes of `place` and forgets the places after it.
    fn set(&mut self, place: usize, glue: &[u8], feeds: Option<usize>, string: bool) {
        self.places.truncate(place);
        let start = self.places.last().map_or(0, |last| last.end);
        self.glue.truncate(start);
        self.glue.extend_from_slice(glue);
        self.places.push(Place {
            start,
            end: self.glue.len(),
            feeds,
            string,
        });
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
            if mapped || !cell.mapped || cell.record != self.number {
                *cell = Cell {
                    record: self.number,
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
        self.number += 1;
        self.written.clear();
    }

    /// The cells of the record just read from `line`.
    pub fn cells<'a>(&'a self, line: &'a str) -> Cells<'a> {
        Cells {
            line,
            written: &self.written,
            cells: &self.cells,
            number: self.number,
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
                    record: self.number,
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
    /// The record's number: other cells are absent.
    number: u64,
}

impl<'a> Cells<'a> {
    /// The text of the cell of name `index`; `None` when the record has
    /// none (no such key, null, blank, an object or an array).
    pub fn get(&self, index: usize) -> Option<&'a str> {
        let cell = self.cells.get(index).filter(|c| c.record == self.number)?;
        match cell.state {
            State::Line => self.line.get(cell.start..cell.end),
            State::Written => self.written.get(cell.start..cell.end),
            State::Absent | State::Empty => None,
        }
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
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
/// booleans and nulls, as an export writes them) at the start of `bytes`
/// into `record`, scanning its bytes directly, up to the line break after
/// it, or up to the end of `bytes` when they are `complete` (a whole
/// line); the length of its line, without the line break. `None`, with
/// nothing read, for anything else (escapes, nested values, malformed
/// JSON, a line that goes on after `bytes`), which [`read`] then reads
/// through serde_json with its exact errors. The cells are those [`read`]
/// gives, slices of the line once it is found to be UTF-8
/// ([`Record::cells`]).
pub fn read_flat(
    bytes: &[u8],
    complete: bool,
    targets: &Targets,
    record: &mut Record,
) -> Option<usize> {
    record.start(targets);
    let read = Flat {
        bytes,
        complete,
        at: 0,
    }
    .record(targets, record);
    if read.is_none() {
        record.clear();
    }
    read
}

/// A cursor over one line for [`read_flat`]; `None` gives up.
struct Flat<'a> {
    bytes: &'a [u8],
    /// Whether `bytes` end where the line does.
    complete: bool,
    at: usize,
}

/// Eight copies of a byte.
const fn lanes(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

impl<'a> Flat<'a> {
    /// JSON's white space but the line break, which ends the line.
    fn white(&mut self) {
        while let Some(b' ' | b'\t' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.bytes.get(self.at) == Some(&expected)).then(|| self.at += 1)
    }

    /// A string without escapes or control characters, after its quote;
    /// moves past its closing quote.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at;
        let end = self.string_end()?;
        std::str::from_utf8(self.bytes.get(start..end)?).ok()
    }

    /// Where the string after the quote here ends (its closing quote),
    /// moving past that quote; `None` for an escape or a control
    /// character. Eight bytes at a time, each word checked at once for
    /// all three.
    #[inline(always)]
    fn string_end(&mut self) -> Option<usize> {
        const HIGH: u64 = lanes(0x80);
        // A flag in the high bit of each byte below `n`, exact up to the
        // first (lowest) flagged byte (the borrow of a flagged byte can
        // flag the next): which is all that is used.
        let below = |word: u64, n: u8| word.wrapping_sub(lanes(n)) & !word & HIGH;
        // With bit 1 flipped, a quote (0x22) becomes 0x20 and the control
        // characters stay below 0x20, while nothing else falls below 0x21:
        // one test for both.
        let special = |word: u64| below(word ^ lanes(0x02), 0x21) | below(word ^ lanes(b'\\'), 1);
        let mut at = self.at;
        while let Some(chunk) = self.bytes.get(at..at + 8) {
            let found = special(u64::from_le_bytes(chunk.try_into().ok()?));
            if found != 0 {
                // The lowest flag is the first special byte.
                at += (found.trailing_zeros() / 8) as usize;
                return self.closing_quote(at);
            }
            at += 8;
        }
        // Fewer than eight bytes are left.
        while self
            .bytes
            .get(at)
            .is_some_and(|b| *b >= 0x20 && *b != b'"' && *b != b'\\')
        {
            at += 1;
        }
        self.closing_quote(at)
    }

    /// `at` if it is a quote, moving past it.
    fn closing_quote(&mut self, at: usize) -> Option<usize> {
        (self.bytes.get(at) == Some(&b'"')).then(|| {
            self.at = at + 1;
            at
        })
    }

    fn record(&mut self, targets: &Targets, record: &mut Record) -> Option<usize> {
        let mut place = 0;
        loop {
            let (feeds, string) = match record.template.matches(place, self.bytes, self.at) {
                // The bytes up to the value are those the last record had
                // at this place: the same separator and key, read before.
                Some((length, feeds, string)) => {
                    self.at += length;
                    (feeds, string)
                }
                None => {
                    let start = self.at;
                    if !self.before_key(place == 0)? {
                        return self.end();
                    }
                    let key = self.string()?;
                    let feeds = targets.find(key);
                    self.white();
                    self.byte(b':')?;
                    self.white();
                    // A string's opening quote is taken with the key. The
                    // value must have begun: bytes cut short inside the
                    // white space before it would make a place too short.
                    let string = *self.bytes.get(self.at)? == b'"';
                    self.at += usize::from(string);
                    let glue = self.bytes.get(start..self.at)?;
                    record.template.set(place, glue, feeds, string);
                    (feeds, string)
                }
            };
            place += 1;
            let (state, start, end) = if string {
                self.string_value()?
            } else {
                self.value(&mut record.written)?
            };
            if let Some(feeds) = feeds {
                record.put(&targets.feeds[feeds], state, start, end);
            }
        }
    }

    /// Moves past what comes before a key (the record's opening brace for
    /// the first, else a comma, with white space) and the key's opening
    /// quote; `false` at the record's closing brace instead.
    fn before_key(&mut self, first: bool) -> Option<bool> {
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

    /// Only white space after the record, up to the line break or the
    /// end of a complete line: where the line ends.
    fn end(&mut self) -> Option<usize> {
        self.white();
        let end = match self.bytes.get(self.at) {
            Some(b'\n') => true,
            None => self.complete,
            Some(_) => false,
        };
        end.then_some(self.at)
    }

    /// The cell of the string after the quote here: its place in the
    /// line, or empty when it is blank.
    #[inline(always)]
    fn string_value(&mut self) -> Option<(State, usize, usize)> {
        let start = self.at;
        let end = self.string_end()?;
        // Most cells start with a character that is neither white space
        // nor beyond ASCII: only the others need a trim.
        let plain = start < end
            && self
                .bytes
                .get(start)
                .is_some_and(|b| (0x21..0x80).contains(b));
        Some(
            if !plain && blank(std::str::from_utf8(self.bytes.get(start..end)?).ok()?) {
                (State::Empty, 0, 0)
            } else {
                (State::Line, start, end)
            },
        )
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
                return self.string_value();
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

/// A value nobody reads, skipped as a `serde_json::Value` reads it:
/// unlike serde's `IgnoredAny`, a number beyond `f64` (`1e999`) is an
/// error here too, as it is when `table::parse` reads the document whole.
pub struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
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
                map.next_value::<Skip>()?;
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
        while seq.next_element::<Skip>()?.is_some() {}
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
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(State::Empty)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(State::Empty)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::evaluate::waittime::cell_text;
    use crate::source::json_stream::fold_reader;
    use crate::table::{self, Format, Layout};

    /// `region` and `zone` both read `place` (one key feeding two names,
    /// each also a key of its own).
    fn layout() -> Layout {
        Layout {
            fields: [
                ("region".to_owned(), "place".to_owned()),
                ("zone".to_owned(), "place".to_owned()),
            ]
            .into_iter()
            .collect(),
            ..Layout::default()
        }
    }

    const NAMES: [&str; 4] = ["id", "region", "zone", "wait"];

    /// Streams the NDJSON `input` through buffers of each of `capacities`
    /// bytes and checks that it gives the cells of a parsed table's rows,
    /// or the parsed table's error, word for word.
    fn check(input: &[u8], capacities: &[usize]) {
        check_as(input, Format::Ndjson, layout(), capacities);
    }

    /// [`check`] for `input` in `format`, read through `layout`.
    fn check_as(input: &[u8], format: Format, layout: Layout, capacities: &[usize]) {
        let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
        let expected = table::parse(input, format, &layout, chrono::DateTime::UNIX_EPOCH)
            .map(|table| {
                table
                    .rows
                    .iter()
                    .map(|row| {
                        let cells = names
                            .iter()
                            .map(|name| row.fields.get(name).and_then(cell_text))
                            .collect::<Vec<_>>();
                        (row.number as u64, cells)
                    })
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.0);
        for &capacity in capacities {
            let mut got = Vec::new();
            let reader = std::io::BufReader::with_capacity(capacity, input);
            let streamed = fold_reader(reader, format, &layout, &names, |n, cells| {
                got.push((n, cells.to_vec()))
            })
            .map(|_| got)
            .map_err(|e| e.0);
            if streamed != expected {
                let input = String::from_utf8_lossy(input);
                let input: String = input.chars().take(2000).collect();
                panic!(
                    "{streamed:?}\nbut a table gives\n{expected:?}\nfor {input:?} in buffers of {capacity}"
                );
            }
        }
    }

    /// Every ASCII byte, and a few beyond, at every place of the words the
    /// string scan reads, in a value and in a key: quotes end the string,
    /// backslashes and control characters (but not DEL or space) send the
    /// record to serde_json, whose cells and errors are the same.
    #[test]
    fn every_byte_at_every_offset_of_a_string_reads_as_serde_json_reads_it() {
        let mut specials: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        specials.extend(["é", "\u{2028}", "漢", "😀", "\\\"", "\\u0000", "\\n"].map(str::to_owned));
        let mut inputs = 0;
        for special in &specials {
            for before in 0..18 {
                let x = "x".repeat(before);
                let input = format!(
                    "{{\"id\": \"{x}{special}{x}\", \"wait\": \"{x}{special}\"}}\n\
                     {{\"id\": \"{x}{special}{x}\", \"wait\": \"{x}{special}\"}}\n\
                     {{\"{x}{special}\": 1, \"id\": \"{x}\"}}\n"
                );
                check(input.as_bytes(), &[256 * 1024]);
                inputs += 1;
            }
        }
        assert_eq!(inputs, specials.len() * 18);
    }

    /// Records that repeat the last one's keys and spacing (read by
    /// comparing the bytes between values) and records that differ from
    /// it anywhere: a key, its spacing, a value's kind, one key more or
    /// fewer, a byte changed or the line cut short.
    #[test]
    fn records_like_and_unlike_the_last_read_as_serde_json_reads_them() {
        let long = format!("\"{}\"", "y".repeat(70_000));
        let lines = [
            "{\"id\": \"a\", \"place\": \"north\", \"wait\": \"1\"}".to_owned(),
            // The same keys and spacing, other values and kinds.
            "{\"id\": \"bb\", \"place\": 7, \"wait\": null}".to_owned(),
            "{\"id\": \"\", \"place\": \"  \", \"wait\": true}".to_owned(),
            "{\"id\": \"c\\nd\", \"place\": [\"x\"], \"wait\": {\"a\": \"}\"}}".to_owned(),
            format!("{{\"id\": {long}, \"place\": \"é\", \"wait\": -0.5e3}}"),
            // A key one letter longer, shorter or other, and spacing.
            "{\"id\": \"e\", \"placed\": \"f\", \"wait\": \"2\"}".to_owned(),
            "{\"id\": \"e\", \"plac\": \"f\", \"wait\": \"2\"}".to_owned(),
            "{\"id\": \"e\", \"place\":\"g\", \"wait\": \"2\"}".to_owned(),
            "{\"id\": \"e\",\t\"place\" : \"h\" ,\"wait\": \"2\" }".to_owned(),
            "{\"id\": \"e\", \"pl\\u0061ce\": \"i\", \"wait\": \"2\"}".to_owned(),
            // A key fewer, a key more, duplicates, another order.
            "{\"id\": \"j\", \"place\": \"k\"}".to_owned(),
            "{\"id\": \"j\", \"place\": \"k\", \"wait\": \"3\", \"region\": \"own\"}".to_owned(),
            "{\"id\": \"l\", \"place\": \"m\", \"wait\": \"4\", \"wait\": null}".to_owned(),
            "{\"place\": \"n\", \"id\": \"o\", \"zone\": \"z\"}".to_owned(),
            "{}".to_owned(),
            "  {\"id\": \"p\"}  ".to_owned(),
            // Blank lines, white space beyond JSON's included.
            " \t\u{b}\u{c}\u{a0}\u{2028}\u{3000}".to_owned(),
            String::new(),
            "\r".to_owned(),
        ];
        let mut input = String::new();
        for line in &lines {
            input.push_str(line);
            input.push('\n');
            // Then the first record again, its keys read anew.
            input.push_str(&lines[0]);
            input.push_str("\r\n");
        }
        check(input.as_bytes(), &[1, 7, 64, 4096, 256 * 1024]);
        // Each line after a record like the first, cut short at every
        // byte and with each byte replaced by a hostile one.
        let first = lines[0].as_bytes();
        let mut inputs = 0;
        for line in lines
            .iter()
            .map(String::as_bytes)
            .filter(|l| l.len() < 1000)
        {
            for at in 0..=line.len() {
                let mut input = [first, b"\n", &line[..at], b"\n"].concat();
                check(&input, &[256 * 1024]);
                for hostile in [
                    b'"', b'\\', b'{', b'}', b',', b':', b' ', b'\t', b'\r', b'\n', 0x01, 0x7f,
                    0xff,
                ] {
                    if at < line.len() {
                        input.truncate(first.len() + 1);
                        input.extend_from_slice(line);
                        input[first.len() + 1 + at] = hostile;
                        input.push(b'\n');
                        check(&input, &[256 * 1024]);
                        inputs += 1;
                    }
                }
            }
        }
        assert!(inputs > 3000, "{inputs}");
    }

    /// A flat record is read by the flat reader (not left to serde_json)
    /// whatever record came before it, whole or cut short as at the end of
    /// a buffer: what the reader keeps of the last record never sticks.
    #[test]
    fn a_flat_record_reads_flat_whatever_came_before() {
        let layout = layout();
        let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
        let targets = super::Targets::new(&layout, &names).unwrap();
        let lines = [
            "{\"id\": \"a\", \"place\": \"north\", \"wait\": 1}",
            "{\"id\": \"a\", \"place\": \"north\", \"wait\":  1}",
            "{\"id\":  \"a\", \"place\":\"north\",\"wait\" :  1 }",
            "{\"id\":\t\"a\", \"place\": null, \"wait\": \"1\"}",
            " {\"wait\": true, \"id\": \"a\", \"zone\": -2.5e1}\r",
            "{}",
        ];
        let mut pairs = 0;
        for before in lines {
            for after in lines {
                for cut in 0..=before.len() {
                    let mut record = super::Record::default();
                    let before = &before.as_bytes()[..cut];
                    super::read_flat(before, false, &targets, &mut record);
                    super::read_flat(before, true, &targets, &mut record);
                    let line = format!("{after}\n");
                    for (bytes, complete) in [(line.as_bytes(), false), (after.as_bytes(), true)] {
                        assert_eq!(
                            super::read_flat(bytes, complete, &targets, &mut record),
                            Some(after.len()),
                            "{after:?} after {:?}",
                            String::from_utf8_lossy(before)
                        );
                    }
                    pairs += 1;
                }
            }
        }
        assert!(pairs > 1200, "{pairs}");
    }

    /// One piece of a generated record.
    const KEYS: [&str; 8] = [
        "\"id\"",
        "\"place\"",
        "\"wait\"",
        "\"region\"",
        "\"zone\"",
        "\"wai\"",
        "\"pl\\u0061ce\"",
        "\"é\"",
    ];
    const VALUES: [&str; 16] = [
        "\"a\"",
        "\"2026-11-05T09:05:00-08:00\"",
        "\"\"",
        "\" \\t\"",
        "\"s\\u00e9\\n\"",
        "\"漢 é\"",
        "1",
        "-0.0",
        "1e300",
        "18446744073709551615",
        "true",
        "false",
        "null",
        "[1, {\"x\": \"}\"}]",
        "{}",
        "\"a\tb\"",
    ];
    /// Values around a document's records as well as [`VALUES`]: out of
    /// `f64`'s range, or malformed.
    const AROUND: [&str; 4] = ["1e999", "[0, -2e400]", "01", "{\"x\": tru}"];

    const SPACES: [&str; 4] = ["", " ", "  ", "\t"];

    /// A record's keys and the spacing around each.
    fn shape() -> impl Strategy<Value = Vec<(usize, usize)>> {
        proptest::collection::vec((0..KEYS.len(), 0..SPACES.len()), 0..6)
    }

    /// A line: values for the shape's keys, maybe one key or spacing
    /// changed, maybe a byte replaced or the line cut short.
    type Line = (
        Vec<usize>,
        Option<(usize, usize, usize)>,
        Option<(usize, u8)>,
        Option<usize>,
    );

    fn line() -> impl Strategy<Value = Line> {
        (
            proptest::collection::vec(0..VALUES.len(), 6),
            proptest::option::weighted(0.2, (0..6usize, 0..KEYS.len(), 0..SPACES.len())),
            proptest::option::weighted(0.1, (0..200usize, any::<u8>())),
            proptest::option::weighted(0.05, 0..200usize),
        )
    }

    fn render(shape: &[(usize, usize)], line: &Line) -> Vec<u8> {
        let (values, change, replace, cut) = line;
        let mut shape = shape.to_vec();
        if let Some((place, key, space)) = *change
            && let Some(entry) = shape.get_mut(place)
        {
            *entry = (key, space);
        }
        let mut text = String::from("{");
        for (place, (key, space)) in shape.iter().enumerate() {
            let space = SPACES[*space];
            if place > 0 {
                text.push(',');
                text.push_str(space);
            }
            text.push_str(KEYS[*key]);
            text.push_str(space);
            text.push(':');
            text.push_str(space);
            text.push_str(VALUES[values[place]]);
        }
        text.push('}');
        let mut bytes = text.into_bytes();
        if let Some((at, byte)) = *replace
            && let Some(target) = bytes.get_mut(at)
        {
            *target = byte;
        }
        if let Some(at) = *cut {
            bytes.truncate(at);
        }
        bytes.push(b'\n');
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Lines of one shape with a few that differ, read in place or
        /// across buffer boundaries, give a parsed table's cells or error.
        #[test]
        fn generated_records_read_as_serde_json_reads_them(
            shape in shape(),
            lines in proptest::collection::vec(line(), 1..12),
        ) {
            let input: Vec<u8> = lines.iter().flat_map(|line| render(&shape, line)).collect();
            // A parsed table names the first line that is not UTF-8 even
            // after another error (as when the file was read whole); a
            // stream names the first error (tested on its own).
            prop_assume!(std::str::from_utf8(&input).is_ok());
            check(&input, &[3, 17, 256 * 1024]);
        }

        /// The same records in a JSON document's records array, with
        /// values around it that nobody reads: the document's records, or
        /// its parse error, at the same line and column.
        #[test]
        fn generated_records_in_a_document_read_as_serde_json_reads_them(
            shape in shape(),
            lines in proptest::collection::vec(line(), 0..8),
            around in proptest::collection::vec(0..VALUES.len() + AROUND.len(), 2),
        ) {
            let value = |i: usize| VALUES.get(i).copied().unwrap_or_else(|| AROUND[i - VALUES.len()]);
            let mut input = format!("{{\"before\": [{}],\n \"data\": [", value(around[0])).into_bytes();
            for (place, line) in lines.iter().enumerate() {
                if place > 0 {
                    input.extend_from_slice(b",\n");
                }
                let mut record = render(&shape, line);
                record.pop();
                input.extend_from_slice(&record);
            }
            input.extend_from_slice(format!("], \"after\": {{\"x\": {}}}}}", value(around[1])).as_bytes());
            // A parsed document names the first error, a UTF-8 one too.
            prop_assume!(std::str::from_utf8(&input).is_ok());
            let layout = Layout {
                records: Some("/data".to_owned()),
                ..layout()
            };
            check_as(&input, Format::Json, layout, &[3, 17, 256 * 1024]);
        }
    }
}
