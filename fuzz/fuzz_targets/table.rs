//! `table::parse` on any bytes: the first byte picks the format, the CSV
//! delimiter and whether a JSON records pointer and field mapping are set.
#![no_main]

use accesswatch::table::{Format, Layout, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let format = match choice % 3 {
        0 => Format::Csv,
        1 => Format::Json,
        _ => Format::Ndjson,
    };
    let mut layout = Layout {
        csv_delimiter: if choice & 0x10 == 0 { b',' } else { b';' },
        ..Layout::default()
    };
    if choice & 0x20 != 0 {
        layout.records = Some("/data/rows".to_owned());
    }
    if choice & 0x40 != 0 {
        layout.fields.insert("members".to_owned(), "m".to_owned());
        layout
            .fields
            .insert("fte".to_owned(), "/staff/fte".to_owned());
    }
    let _ = parse(bytes, format, &layout, chrono::DateTime::UNIX_EPOCH);
});
