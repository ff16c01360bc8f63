//! Reading a row once for every wait-time check of its source.
//!
//! Eighty checks on one source must not read a row eighty times. The
//! [`Reader`] holds what the checks share: where each canonical field is
//! (one mapping per source), one [`ZoneCache`] per time zone in use, the
//! source's value maps, and one interner of group keys per distinct
//! `group_by`. A [`View`] of one row then reads each field at most once:
//! its text (trimmed, checked for UTF-8 once), each timestamp once per
//! zone, each coded value (urgency, visit type, ...) once per value map,
//! and its group key once per `group_by`, each only when a check first
//! asks for it. Checks see the same values they would have read on their
//! own, so one pass gives the results of one pass per check. Pure.

use std::collections::HashMap;
use std::sync::Arc;

use chrono_tz::Tz;

use super::columns::{Cells, Columns};
use super::timestamp::{self, Stamp, ZoneCache};
use crate::check::fields::{Field, ValueMaps, parse_bool};
use crate::check::result::NO_LABEL;
use crate::check::standards::{Modality, ProviderType, Urgency, VisitType};
use crate::table::KeyHasher;

/// One field of one row, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read<T> {
    /// No such column, or an empty cell.
    Empty,
    /// A value that is not of the field's kind (a timestamp that does not
    /// parse, an urgency that is not one).
    Invalid,
    Value(T),
}

impl<T> Read<T> {
    fn from_text(text: Option<&str>, parse: impl FnOnce(&str) -> Option<T>) -> Read<T> {
        match text {
            None => Read::Empty,
            Some(text) => parse(text).map_or(Read::Invalid, Read::Value),
        }
    }
}

/// A value cached for the row numbered `row` (a per-row generation, so that
/// nothing needs clearing between rows).
#[derive(Debug, Clone, Copy)]
struct Slot<T> {
    row: u64,
    value: T,
}

impl<T: Copy> Slot<T> {
    fn empty(value: T) -> Slot<T> {
        Slot { row: 0, value }
    }
}

/// A row's coded values under one value map.
#[derive(Debug, Clone, Copy)]
struct Coded {
    urgency: Slot<Read<Urgency>>,
    visit_type: Slot<Read<VisitType>>,
    prior_auth: Slot<Read<bool>>,
    provider_type: Slot<Read<ProviderType>>,
    extended: Slot<Read<bool>>,
    modality: Slot<Read<Modality>>,
    requested_modality: Slot<Read<Modality>>,
}

impl Default for Coded {
    fn default() -> Coded {
        Coded {
            urgency: Slot::empty(Read::Empty),
            visit_type: Slot::empty(Read::Empty),
            prior_auth: Slot::empty(Read::Empty),
            provider_type: Slot::empty(Read::Empty),
            extended: Slot::empty(Read::Empty),
            modality: Slot::empty(Read::Empty),
            requested_modality: Slot::empty(Read::Empty),
        }
    }
}

/// Group keys are a source's labels, read once per row and `group_by`:
/// hashed with [`KeyHasher`], not SipHash (a tenth of a pass).
type KeyMap = HashMap<String, usize, std::hash::BuildHasherDefault<KeyHasher>>;

/// The groups of one `group_by`: each distinct key gets a number, which
/// indexes the per-check group counts.
#[derive(Debug, Clone)]
pub struct LabelSet {
    names: Vec<String>,
    columns: Columns,
    ids: KeyMap,
    keys: Vec<String>,
    /// This row's group and its first empty label, if any.
    current: Slot<(usize, Option<usize>)>,
    /// The rows' label cells as they are, before trimming and joining.
    raw: RawGroups,
}

/// Label sets of up to this many labels are found by their cells as they
/// are ([`RawGroups`]).
const RAW_LABELS: usize = 4;

/// The most cell tuples [`RawGroups`] keeps (about 170 bytes each, and
/// their cells): past it, new ones are read the long way (trimmed, joined
/// and interned) every time, so that labels of many values (a provider's
/// number) cost no more memory than their keys already do.
const RAW_ENTRIES: usize = 1 << 14;

/// The group of each tuple of label cells seen, as the cells are: a row's
/// group is found by a hash of its cells and a comparison with the
/// tuple's, without trimming, checking, joining or copying them (which,
/// for eighty checks grouped by three labels, was an eighth of the pass).
/// A tuple seen for the first time is read the long way ([`join_key`],
/// [`LabelSet::intern`]), so group numbers are given in the same order,
/// and cells that differ only in white space are two tuples of one group.
#[derive(Debug, Clone, Default)]
struct RawGroups {
    table: hashbrown::HashTable<RawEntry>,
    /// The cells of every tuple, one after another.
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct RawEntry {
    hash: u64,
    /// What [`Word::of`] made of each cell.
    words: [Word; RAW_LABELS],
    /// Where each cell of the tuple ends in `RawGroups::bytes`; the first
    /// starts at `start`. Read only for a tuple with a cell over 16 bytes
    /// (the words of shorter cells hold every byte).
    start: usize,
    ends: [usize; RAW_LABELS],
    value: (usize, Option<usize>),
}

/// A cell's first and last eight bytes (four, for a cell of four to
/// seven; the first, middle and last for a shorter one) and its length:
/// for a cell of up to 16 bytes, every byte of it, so that two such cells
/// are the same when their words are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Word {
    first: u64,
    last: u64,
    len: usize,
}

impl Word {
    fn of(cell: &[u8]) -> Word {
        let n = cell.len();
        let eight = |at: usize| u64::from_le_bytes(cell[at..at + 8].try_into().unwrap_or([0; 8]));
        let four = |at: usize| {
            u64::from(u32::from_le_bytes(
                cell[at..at + 4].try_into().unwrap_or([0; 4]),
            ))
        };
        let (first, last) = match n {
            8.. => (eight(0), eight(n - 8)),
            4..8 => (four(0), four(n - 4)),
            1..4 => (
                u64::from(cell[0]) | u64::from(cell[n / 2]) << 8 | u64::from(cell[n - 1]) << 16,
                0,
            ),
            0 => (0, 0),
        };
        Word {
            first,
            last,
            len: n,
        }
    }
}

impl RawGroups {
    /// The hash of a tuple of cells, from their [`Word`]s ([`KeyHasher`],
    /// as the group keys are hashed).
    fn hash(words: &[Word]) -> u64 {
        use std::hash::Hasher as _;
        let mut hasher = KeyHasher::default();
        for word in words {
            hasher.write_u64(word.first);
            hasher.write_u64(word.last);
            hasher.write_usize(word.len);
        }
        hasher.finish()
    }

    /// The group of the tuple `cells`, whose words are `words` (the
    /// same number of them, then [`Word::default`]) and hash `hash`;
    /// `short` when every cell is of 16 bytes or fewer.
    fn find(
        &self,
        hash: u64,
        words: &[Word; RAW_LABELS],
        short: bool,
        cells: &[&[u8]],
    ) -> Option<(usize, Option<usize>)> {
        let bytes = &self.bytes;
        let same = |entry: &RawEntry| {
            entry.hash == hash
                && entry.words == *words
                && (short || {
                    let mut start = entry.start;
                    cells.iter().zip(entry.ends).all(|(cell, end)| {
                        let same = bytes.get(start..end) == Some(*cell);
                        start = end;
                        same
                    })
                })
        };
        self.table.find(hash, same).map(|entry| entry.value)
    }

    fn insert(
        &mut self,
        hash: u64,
        words: &[Word; RAW_LABELS],
        cells: &[&[u8]],
        value: (usize, Option<usize>),
    ) {
        if self.table.len() >= RAW_ENTRIES {
            return;
        }
        let start = self.bytes.len();
        let mut ends = [start; RAW_LABELS];
        for (cell, end) in cells.iter().zip(&mut ends) {
            self.bytes.extend_from_slice(cell);
            *end = self.bytes.len();
        }
        let entry = RawEntry {
            hash,
            words: *words,
            start,
            ends,
            value,
        };
        self.table.insert_unique(hash, entry, |e| e.hash);
    }
}

impl LabelSet {
    fn new(header: &[String], names: &[String]) -> LabelSet {
        LabelSet {
            names: names.to_vec(),
            columns: Columns::resolve(header, &Default::default(), names),
            ids: KeyMap::default(),
            keys: Vec::new(),
            current: Slot::empty((0, None)),
            raw: RawGroups::default(),
        }
    }

    /// The number of `key`, given one if new.
    fn intern(&mut self, key: &str) -> usize {
        if let Some(id) = self.ids.get(key) {
            return *id;
        }
        let id = self.keys.len();
        self.keys.push(key.to_owned());
        self.ids.insert(key.to_owned(), id);
        id
    }

    /// The key of group number `id`: its labels joined by U+001F.
    pub fn key(&self, id: usize) -> &str {
        &self.keys[id]
    }
}

/// What the wait-time checks of one source share while reading its rows.
#[derive(Debug, Clone)]
pub struct Reader {
    /// Where each canonical field is (the labels are in `label_sets`).
    columns: Columns,
    zones: Vec<ZoneCache>,
    stamps: Vec<[Slot<Read<Stamp>>; Field::ALL.len()]>,
    values: Vec<Arc<ValueMaps>>,
    coded: Vec<Coded>,
    label_sets: Vec<LabelSet>,
    key: String,
    row: u64,
}

impl Reader {
    /// A reader of rows with `header`, through the source's field
    /// `mapping`.
    pub fn new(header: &[String], mapping: &std::collections::BTreeMap<String, String>) -> Reader {
        Reader {
            columns: Columns::resolve(header, mapping, &[]),
            zones: Vec::new(),
            stamps: Vec::new(),
            values: Vec::new(),
            coded: Vec::new(),
            label_sets: Vec::new(),
            key: String::new(),
            row: 0,
        }
    }

    /// The number of group `key` in label set `set`, given one if new (for
    /// counts read by key, as the push-down reads them).
    pub fn intern(&mut self, set: usize, key: &str) -> usize {
        self.label_sets[set].intern(key)
    }

    /// The number of `zone` among the zones in use, added if new.
    pub fn zone(&mut self, zone: Tz) -> usize {
        if let Some(index) = self.zones.iter().position(|z| z.zone() == zone) {
            return index;
        }
        self.zones.push(ZoneCache::new(zone));
        self.stamps
            .push([Slot::empty(Read::Empty); Field::ALL.len()]);
        self.zones.len() - 1
    }

    /// The stamp of an instant in zone number `zone`.
    pub fn stamp_in(&mut self, zone: usize, utc: i64) -> Stamp {
        self.zones[zone].stamp(utc)
    }

    /// The number of the value map `values`, added if new (maps are the
    /// same when they are the same allocation: the source's).
    pub fn values(&mut self, values: &Arc<ValueMaps>) -> usize {
        if let Some(index) = self.values.iter().position(|v| Arc::ptr_eq(v, values)) {
            return index;
        }
        self.values.push(values.clone());
        self.coded.push(Coded::default());
        self.values.len() - 1
    }

    /// The number of the label set `names` (`group_by`), added if new.
    pub fn label_set(&mut self, header: &[String], names: &[String]) -> usize {
        if let Some(index) = self.label_sets.iter().position(|s| s.names == names) {
            return index;
        }
        self.label_sets.push(LabelSet::new(header, names));
        self.label_sets.len() - 1
    }

    /// The labels of group `id` of label set `set`.
    pub fn group_labels(&self, set: usize, id: usize) -> Vec<String> {
        split_key(&self.label_sets[set].keys[id])
    }

    /// The number, in label set `to`, of the group whose labels are those
    /// at `positions` of `labels` (a group's [`Reader::group_labels`] in
    /// another set), added to `to` if new: the group `to` would have
    /// given the same row.
    pub fn project(&mut self, labels: &[String], to: usize, positions: &[usize]) -> usize {
        let key = join_key(
            positions
                .iter()
                .map(|p| labels.get(*p).map_or(NO_LABEL, String::as_str)),
        );
        self.label_sets[to].intern(&key)
    }

    pub fn labels(&self, set: usize) -> &LabelSet {
        &self.label_sets[set]
    }

    /// The columns any check may read: the canonical fields and every
    /// label set's labels, in increasing order.
    pub fn used_columns(&self) -> Vec<usize> {
        let mut used: Vec<usize> = self
            .columns
            .used()
            .chain(
                self.label_sets
                    .iter()
                    .flat_map(|s| s.columns.label_columns()),
            )
            .collect();
        used.sort_unstable();
        used.dedup();
        used
    }

    /// A view of the next row.
    pub fn view<'a, 'r, R: Cells>(&'a mut self, row: &'r R) -> View<'a, 'r, R> {
        self.row += 1;
        View {
            reader: self,
            row,
            texts: [None; Field::ALL.len()],
        }
    }

    /// The group numbers of `other`'s keys in this reader's label set
    /// `set` (added when new): how counts of another part of the source
    /// are merged into this one's.
    pub fn renumber(&mut self, set: usize, other: &Reader) -> Vec<usize> {
        let mine = &mut self.label_sets[set];
        other.label_sets[set]
            .keys
            .iter()
            .map(|key| mine.intern(key))
            .collect()
    }
}

/// One row, read for every check as it asks.
pub struct View<'a, 'r, R> {
    reader: &'a mut Reader,
    row: &'r R,
    /// Each field's trimmed text, once read (`Some(None)`: empty).
    texts: [Option<Option<&'r str>>; Field::ALL.len()],
}

impl<'r, R: Cells> View<'_, 'r, R> {
    /// The reader this row is read by.
    pub fn reader(&mut self) -> &mut Reader {
        self.reader
    }

    /// The trimmed, non-empty text of `field`.
    pub fn text(&mut self, field: Field) -> Option<&'r str> {
        let slot = &mut self.texts[field as usize];
        if let Some(text) = *slot {
            return text;
        }
        let text = self.reader.columns.text(self.row, field);
        *slot = Some(text);
        text
    }

    /// `field` as a timestamp in zone number `zone`.
    pub fn stamp(&mut self, zone: usize, field: Field) -> Read<Stamp> {
        let row = self.reader.row;
        let cached = self.reader.stamps[zone][field as usize];
        if cached.row == row {
            return cached.value;
        }
        let text = self.text(field);
        let cache = &mut self.reader.zones[zone];
        let value = Read::from_text(text, |t| timestamp::parse(t, cache));
        self.reader.stamps[zone][field as usize] = Slot { row, value };
        value
    }

    /// `field` as a coded value under value map `values`. Generic over
    /// `slot` and `parse` (not function pointers) so that each field's
    /// reading is compiled in place: checks ask for these on every row.
    #[inline]
    fn coded<T: Copy>(
        &mut self,
        values: usize,
        field: Field,
        slot: impl Fn(&mut Coded) -> &mut Slot<Read<T>>,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Read<T> {
        let row = self.reader.row;
        let cached = *slot(&mut self.reader.coded[values]);
        if cached.row == row {
            return cached.value;
        }
        let text = self.text(field);
        let maps = &self.reader.values[values];
        let value = Read::from_text(text, |t| parse(maps.canonical(field, t)));
        *slot(&mut self.reader.coded[values]) = Slot { row, value };
        value
    }

    pub fn urgency(&mut self, values: usize) -> Read<Urgency> {
        self.coded(values, Field::Urgency, |c| &mut c.urgency, Urgency::parse)
    }

    pub fn visit_type(&mut self, values: usize) -> Read<VisitType> {
        self.coded(
            values,
            Field::VisitType,
            |c| &mut c.visit_type,
            VisitType::parse,
        )
    }

    pub fn prior_auth(&mut self, values: usize) -> Read<bool> {
        self.coded(values, Field::PriorAuth, |c| &mut c.prior_auth, parse_bool)
    }

    pub fn provider_type(&mut self, values: usize) -> Read<ProviderType> {
        self.coded(
            values,
            Field::ProviderType,
            |c| &mut c.provider_type,
            ProviderType::parse,
        )
    }

    pub fn extended(&mut self, values: usize) -> Read<bool> {
        self.coded(
            values,
            Field::ExtendedByProvider,
            |c| &mut c.extended,
            parse_bool,
        )
    }

    /// `field` (`modality` or `requested_modality`) as a modality.
    pub fn modality(&mut self, values: usize, field: Field) -> Read<Modality> {
        if field == Field::RequestedModality {
            self.coded(
                values,
                field,
                |c| &mut c.requested_modality,
                Modality::parse,
            )
        } else {
            self.coded(values, field, |c| &mut c.modality, Modality::parse)
        }
    }

    /// The row's group number in label set `set`, and the index of its
    /// first empty label, if any.
    pub fn group(&mut self, set: usize) -> (usize, Option<usize>) {
        let row = self.reader.row;
        let labels = &mut self.reader.label_sets[set];
        if labels.current.row == row {
            return labels.current.value;
        }
        let cells = self.row;
        let count = labels.columns.label_count();
        if count > RAW_LABELS {
            let value = labels.read(cells, &mut self.reader.key);
            labels.current = Slot { row, value };
            return value;
        }
        let mut raw: [&[u8]; RAW_LABELS] = [&[]; RAW_LABELS];
        let mut words = [Word::default(); RAW_LABELS];
        let mut short = true;
        for index in 0..count {
            let cell = labels.columns.raw_label(cells, index).unwrap_or_default();
            raw[index] = cell;
            words[index] = Word::of(cell);
            short &= cell.len() <= 16;
        }
        let raw = &raw[..count];
        let hash = RawGroups::hash(&words[..count]);
        let value = match labels.raw.find(hash, &words, short, raw) {
            Some(value) => value,
            None => {
                let value = labels.read(cells, &mut self.reader.key);
                labels.raw.insert(hash, &words, raw, value);
                value
            }
        };
        labels.current = Slot { row, value };
        value
    }
}

impl LabelSet {
    /// The group of the row `cells` and its first empty label, read the
    /// long way: each label trimmed, the key joined in `key` and interned.
    fn read(&mut self, cells: &impl Cells, key: &mut String) -> (usize, Option<usize>) {
        key.clear();
        let mut missing = None;
        let columns = &self.columns;
        push_key(
            key,
            (0..columns.label_count()).map(|index| {
                let label = columns.label(cells, index);
                if label.is_none() && missing.is_none() {
                    missing = Some(index);
                }
                label.unwrap_or(NO_LABEL)
            }),
        );
        (self.intern(key), missing)
    }
}

/// The key of a group: its labels joined by U+001F, with U+001E and
/// U+001F in a label each after a U+001E, so that a key can be split back
/// into the labels it was made of ([`split_key`]), whatever they hold.
pub fn join_key<'a>(labels: impl Iterator<Item = &'a str>) -> String {
    let mut key = String::new();
    push_key(&mut key, labels);
    key
}

/// Pushes the key of `labels` ([`join_key`]) onto `key`: into a buffer
/// kept from row to row, as each row's group is read.
fn push_key<'a>(key: &mut String, labels: impl Iterator<Item = &'a str>) {
    for (n, label) in labels.enumerate() {
        if n > 0 {
            key.push('\u{1f}');
        }
        push_escaped(key, label);
    }
}

/// Pushes `label` onto a key ([`join_key`]).
fn push_escaped(key: &mut String, label: &str) {
    if !has_control(label.as_bytes()) {
        key.push_str(label);
        return;
    }
    for c in label.chars() {
        if c == '\u{1e}' || c == '\u{1f}' {
            key.push('\u{1e}');
        }
        key.push(c);
    }
}

/// Whether `bytes` has a byte below U+0020 (which U+001E and U+001F
/// are): eight bytes at a time, as a label is read on every row.
fn has_control(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = bytes.chunks_exact(8);
    let below = |word: u64| word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    let found = words
        .by_ref()
        .any(|w| below(u64::from_ne_bytes(w.try_into().unwrap_or([0x20; 8]))));
    found || words.remainder().iter().any(|b| *b < 0x20)
}

/// The labels of a key ([`join_key`]).
pub fn split_key(key: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut label = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\u{1e}' => label.extend(chars.next()),
            '\u{1f}' => labels.push(std::mem::take(&mut label)),
            c => label.push(c),
        }
    }
    labels.push(label);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_back_into_their_labels_whatever_they_hold() {
        let labels = [
            "",
            "north",
            "a\u{1f}b",
            "\u{1e}",
            "\u{1e}\u{1f}\u{1f}",
            "long label over eight bytes \u{1f} with a separator",
            "ünïcödé \u{1e}",
            "\t\n",
        ];
        for a in labels {
            for b in labels {
                let key = join_key([a, b].into_iter());
                assert_eq!(split_key(&key), [a, b], "{key:?}");
            }
            assert_eq!(split_key(&join_key([a].into_iter())), [a]);
        }
        for (n, byte) in (0u8..=0x7f).enumerate() {
            let mut text = vec![b'x'; n % 19];
            text.push(byte);
            text.extend(std::iter::repeat_n(b'y', n % 7));
            assert_eq!(has_control(&text), byte < 0x20, "{text:?}");
        }
        assert!(!has_control("ünïcödé labels over eight".as_bytes()));
    }

    /// Groups read by their cells as they are (`RawGroups`) are the
    /// groups read the long way, numbered in the same order: cells that
    /// differ in white space only, empty and missing cells, long cells
    /// that differ only in their middle bytes, and control characters.
    #[test]
    fn groups_found_by_their_cells_are_the_groups_of_their_labels() {
        let header: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let names = header.clone();
        let long = |middle: char| format!("a label of over sixteen bytes {middle} ending alike");
        let texts = [
            "north".to_owned(),
            " north".to_owned(),
            "north ".to_owned(),
            String::new(),
            "  ".to_owned(),
            long('x'),
            long('y'),
            "a\u{1f}b".to_owned(),
            "a\u{1e}b".to_owned(),
            "n".to_owned(),
            "no".to_owned(),
            "nor".to_owned(),
            "nort".to_owned(),
            "sixteen bytes ok".to_owned(),
            "sixteen bytes oK".to_owned(),
            "ünïcödé".to_owned(),
        ];
        let mut reader = Reader::new(&header, &Default::default());
        let set = reader.label_set(&header, &names);
        let mut keys: Vec<String> = Vec::new();
        let mut n = 0usize;
        for round in 0..3 {
            for (i, a) in texts.iter().enumerate() {
                for b in [&texts[(i * 7 + round) % texts.len()], &texts[0]] {
                    let c = &texts[(i + n) % texts.len()];
                    n += 1;
                    let cells: Vec<Option<String>> = vec![
                        Some(a.clone()),
                        (!n.is_multiple_of(5)).then(|| b.clone()),
                        Some(c.clone()),
                    ];
                    let labels: Vec<&str> = cells
                        .iter()
                        .map(|cell| match cell.as_deref().map(str::trim) {
                            None | Some("") => NO_LABEL,
                            Some(label) => label,
                        })
                        .collect();
                    let key = join_key(labels.iter().copied());
                    let number = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                        keys.push(key.clone());
                        keys.len() - 1
                    });
                    let missing = labels.iter().position(|l| *l == NO_LABEL);
                    let mut view = reader.view(&cells);
                    assert_eq!(view.group(set), (number, missing), "{cells:?}");
                    // Read again for the same row: the row's slot.
                    assert_eq!(view.group(set), (number, missing), "{cells:?}");
                }
            }
        }
        assert_eq!(reader.labels(set).keys, keys);
        // Short cells are the same exactly when their words are.
        let short: Vec<&[u8]> = texts
            .iter()
            .map(|t| t.as_bytes())
            .filter(|t| t.len() <= 16)
            .collect();
        for a in &short {
            for b in &short {
                assert_eq!(Word::of(a) == Word::of(b), a == b, "{a:?} {b:?}");
            }
        }
    }

    /// Past the most tuples it keeps, groups are still found, the long
    /// way: every row's group is its label's, numbered in order.
    #[test]
    fn groups_past_the_tuples_kept_are_read_the_long_way() {
        let header = vec!["provider".to_owned()];
        let mut reader = Reader::new(&header, &Default::default());
        let set = reader.label_set(&header, &header);
        let count = RAW_ENTRIES + 1000;
        for round in 0..2 {
            for n in 0..count {
                let row = vec![Some(format!("provider {n}"))];
                let mut view = reader.view(&row);
                assert_eq!(view.group(set), (n, None), "round {round}");
            }
        }
        assert_eq!(reader.labels(set).raw.table.len(), RAW_ENTRIES);
    }
}
