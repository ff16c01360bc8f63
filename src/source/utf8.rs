//! UTF-8 checks of the text that streamed sources read: whole blocks of a
//! CSV file and lines of an NDJSON file, a few bytes at a time with SIMD
//! (`simdutf8`, which falls back to plain code where the CPU lacks it).
//! The one module that uses `simdutf8`. Pure.

/// `bytes` as text, if they are valid UTF-8.
pub fn text(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_valid_utf8_only() {
        let cases: [&[u8]; 7] = [
            b"",
            b"plain ascii, a,b,c\n",
            "ünïcödé 日本 🦀".as_bytes(),
            b"\xff",
            b"ok then \xc3",
            b"\xed\xa0\x80 (a surrogate)",
            b"\xf4\x90\x80\x80 (past U+10FFFF)",
        ];
        for bytes in cases {
            assert_eq!(
                super::text(bytes),
                std::str::from_utf8(bytes).ok(),
                "{bytes:?}"
            );
        }
        // Long enough for the vector code, with the bad byte at every place.
        let long = "a".repeat(200);
        for at in 0..long.len() {
            let mut bytes = long.clone().into_bytes();
            bytes[at] = 0x80;
            assert_eq!(super::text(&bytes), None, "{at}");
        }
        assert_eq!(super::text(long.as_bytes()), Some(long.as_str()));
    }
}
