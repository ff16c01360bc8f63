//! One JSON record read straight into the cells a fold asks for, without
//! building a `serde_json::Value` of it: each key is looked up as it is
//! read, the values of the keys nobody asked for are skipped, the others
//! become text as `table::json_cells` makes it (the reference, which
//! `json_stream` still uses when a mapping is a JSON pointer).

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::table::{KeyHasher, Layout};

type KeyMap = HashMap<String, Vec<(usize, bool)>, std::hash::BuildHasherDefault<KeyHasher>>;

/// Where each key of a record goes: the names it is the mapped source of
/// (`true`), and the names it is itself while mapped to another key
/// (`false`, used only when the record lacks that other key).
#[derive(Debug, Clone)]
pub struct Targets {
    by_key: KeyMap,
    names: usize,
}

impl Targets {
    /// `None` when a name is mapped to a JSON pointer, which needs the
    /// whole record.
    pub fn new(layout: &Layout, names: &[String]) -> Option<Targets> {
        let mut by_key = KeyMap::default();
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
        Some(Targets {
            by_key,
            names: names.len(),
        })
    }
}

/// One record's values by name: `Some(cell)` when the record had the key.
#[derive(Debug, Clone, Default)]
pub struct Record {
    mapped: Vec<Option<Option<String>>>,
    own: Vec<Option<Option<String>>>,
}

impl Record {
    /// The record's cells, and which names it had.
    pub fn cells(&mut self, cells: &mut Vec<Option<String>>, seen: &mut [bool]) {
        cells.clear();
        for (index, (mapped, own)) in self.mapped.iter_mut().zip(&mut self.own).enumerate() {
            let value = mapped.take().or_else(|| own.take());
            if value.is_some() {
                seen[index] = true;
            }
            cells.push(value.flatten());
            *own = None;
        }
    }
}

/// Reads one record from `deserializer` into `record`; `Ok(Err(kind))`
/// when it is not an object.
pub fn read<'de, D: de::Deserializer<'de>>(
    deserializer: D,
    targets: &Targets,
    record: &mut Record,
) -> Result<Result<(), &'static str>, D::Error> {
    if record.mapped.len() != targets.names {
        record.mapped = vec![None; targets.names];
        record.own = vec![None; targets.names];
    }
    deserializer.deserialize_any(RecordVisitor { targets, record })
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
            let mut cell = Some(map.next_value_seed(CellSeed)?);
            for (number, (index, mapped)) in targets.iter().enumerate() {
                let slot = if *mapped {
                    &mut self.record.mapped[*index]
                } else {
                    &mut self.record.own[*index]
                };
                // The last target takes the cell, the others a copy.
                *slot = if number + 1 == targets.len() {
                    cell.take()
                } else {
                    cell.clone()
                };
            }
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
        Ok(self.0.by_key.get(key).map(Vec::as_slice))
    }
}

/// A value as a cell's text: strings as they are (blank ones empty),
/// numbers as `f64` prints them, booleans as `true`/`false`; null, objects
/// and arrays empty.
struct CellSeed;

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok((!text.trim().is_empty()).then(|| text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok((!text.trim().is_empty()).then_some(text))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some((value as f64).to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some((value as f64).to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}
