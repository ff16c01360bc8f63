//! Reading the canonical appointment record from any source's columns.
//!
//! [`Columns`] resolves them once
//! against a source's header through the `[source.fields]` mapping (with no
//! mapping, a header that uses the canonical names just works), and
//! `ValueMaps` turns the source's own spellings (`"LCSW"`) into canonical
//! values (`"non_physician_mh"`). Rows are read through the [`Cells`] trait so
//! that CSV records and parsed JSON tables share one code path. Pure.

use std::collections::BTreeMap;

use crate::check::fields::Field;

/// Access to one row's cells by column index. `None`: no such cell, or
/// a cell that is not text.
pub trait Cells {
    fn get(&self, column: usize) -> Option<&str>;

    /// The bytes of [`Cells::get`] (a source may skip its checks that
    /// the text is cut at character boundaries: the bytes are compared,
    /// not read as text).
    fn bytes(&self, column: usize) -> Option<&[u8]> {
        self.get(column).map(str::as_bytes)
    }
}

impl Cells for csv::ByteRecord {
    fn get(&self, column: usize) -> Option<&str> {
        std::str::from_utf8(csv::ByteRecord::get(self, column)?).ok()
    }
}

impl Cells for Vec<Option<String>> {
    fn get(&self, column: usize) -> Option<&str> {
        self.as_slice().get(column)?.as_deref()
    }
}

/// Where each canonical field and label is in a source's rows.
#[derive(Debug, Clone)]
pub struct Columns {
    fields: [Option<usize>; Field::ALL.len()],
    labels: Vec<Option<usize>>,
}

impl Columns {
    /// Resolves the canonical fields and `labels` against `header`, through
    /// `mapping` (canonical name → source column).
    pub fn resolve(
        header: &[String],
        mapping: &BTreeMap<String, String>,
        labels: &[String],
    ) -> Columns {
        let find = |name: &str| {
            let column = mapping.get(name).map_or(name, String::as_str);
            header.iter().position(|h| h == column)
        };
        let mut fields = [None; Field::ALL.len()];
        for (slot, field) in fields.iter_mut().zip(Field::ALL) {
            *slot = find(field.name());
        }
        Columns {
            fields,
            labels: labels.iter().map(|l| find(l)).collect(),
        }
    }

    pub fn has(&self, field: Field) -> bool {
        self.fields[field as usize].is_some()
    }

    /// The trimmed, non-empty text of `field` in `row`.
    pub fn text<'r>(&self, row: &'r impl Cells, field: Field) -> Option<&'r str> {
        let text = trim(row.get(self.fields[field as usize]?)?);
        (!text.is_empty()).then_some(text)
    }

    pub fn label<'r>(&self, row: &'r impl Cells, index: usize) -> Option<&'r str> {
        let text = trim(row.get(self.labels.get(index).copied().flatten()?)?);
        (!text.is_empty()).then_some(text)
    }

    /// The cell of label `index` in `row` as it is (not trimmed).
    pub fn raw_label<'r>(&self, row: &'r impl Cells, index: usize) -> Option<&'r [u8]> {
        row.bytes(self.labels.get(index).copied().flatten()?)
    }

    /// The columns these fields and labels are in.
    pub fn used(&self) -> impl Iterator<Item = usize> + '_ {
        self.fields.iter().chain(&self.labels).filter_map(|c| *c)
    }

    /// The columns the labels are in.
    pub fn label_columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.labels.iter().filter_map(|c| *c)
    }

    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    pub fn missing_labels(&self) -> impl Iterator<Item = usize> + '_ {
        self.labels
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_none())
            .map(|(i, _)| i)
    }
}

/// `text.trim()`, with a fast answer for the usual cell that starts and
/// ends with a visible ASCII character (`str::trim` decodes characters
/// from both ends to test them for Unicode white space).
pub fn trim(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] | [first @ last]
            if first.is_ascii_graphic() && last.is_ascii_graphic() =>
        {
            text
        }
        _ => text.trim(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trim_is_str_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{a0}a",
            "a\u{3000}",
            "\ta\n",
            "é",
            " é ",
            "ab",
            "a b",
            "\u{85}x\u{85}",
            "x\u{2028}",
        ] {
            assert_eq!(super::trim(text), text.trim(), "{text:?}");
        }
    }
}
