//! The timestamp readers: the wait-time evaluator's (in a zone with
//! daylight saving time) and the FHIR mapping's.
#![no_main]

use accesswatch::evaluate::waittime::timestamp::{ZoneCache, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut cache = ZoneCache::new(chrono_tz::America::Los_Angeles);
    let _ = parse(text, &mut cache);
    let mut utc = ZoneCache::new(chrono_tz::UTC);
    let _ = parse(text, &mut utc);
    let _ = accesswatch::source::fhir::mapped::parse_instant(text);
});
