//! The configuration loader, both stages, on any text: it may refuse the
//! text with problems, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A directory that does not exist: relative paths in the text (secret
    // files, file sources) resolve to nothing.
    let path = std::path::Path::new("/nonexistent/accesswatch-fuzz/accesswatch.toml");
    let _ = accesswatch::config::Config::from_text(path, text);
});
