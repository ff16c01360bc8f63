//! Schedules: any expression, in a zone with daylight saving time; one
//! that parses is asked for its next ticks around a DST change.
#![no_main]

use accesswatch::check::schedule::Schedule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for zone in [chrono_tz::America::Los_Angeles, chrono_tz::UTC] {
        let Ok(schedule) = Schedule::parse(text, zone) else {
            continue;
        };
        // 2026-11-01 08:00 UTC: an hour before Los Angeles falls back.
        let from = chrono::DateTime::UNIX_EPOCH + chrono::Duration::seconds(1_793_520_000);
        if let Some(next) = schedule.next_after(from) {
            let _ = schedule.next_after(next);
            let _ = schedule.ticks_between(from, next + chrono::Duration::days(2), 100);
        }
    }
});
