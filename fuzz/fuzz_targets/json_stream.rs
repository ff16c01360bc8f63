//! `source::json_stream::fold_reader` on any bytes, against
//! `table::parse` of the same bytes: the first byte picks JSON or NDJSON,
//! a records pointer and a field mapping (a key or a JSON pointer, which
//! take different paths). Neither may panic; when both read the data they
//! must agree on the number of records and on which names occur.
#![no_main]

use accesswatch::source::json_stream::fold_reader;
use accesswatch::table::{Format, Layout, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let format = if choice & 1 == 0 { Format::Json } else { Format::Ndjson };
    let mut layout = Layout::default();
    if choice & 0x20 != 0 {
        layout.records = Some("/data/rows".to_owned());
    }
    if choice & 0x40 != 0 {
        let source = if choice & 0x10 == 0 { "m" } else { "/staff/fte" };
        layout.fields.insert("members".to_owned(), source.to_owned());
    }
    let names = vec!["members".to_owned(), "region".to_owned(), "m".to_owned()];
    let streamed = fold_reader(bytes, format, &layout, &names, |_, cells| {
        assert_eq!(cells.len(), 3);
    });
    let parsed = parse(bytes, format, &layout, chrono::DateTime::UNIX_EPOCH);
    if let (Ok(streamed), Ok(table)) = (streamed, parsed) {
        assert_eq!(streamed.records, table.rows.len() as u64);
        for (name, seen) in names.iter().zip(&streamed.seen) {
            assert_eq!(table.columns.contains(name), *seen, "{name}");
        }
    }
});
