//! `cargo bench --bench timely_access`: how fast the wait-time evaluation
//! streams a CSV file, with one worker and with all cores.
//!
//! Writes a synthetic appointments file (default 1,000,000 rows; set
//! `ACCESSWATCH_BENCH_ROWS`) under target/bench/, then evaluates the
//! `ca-dmhc/non-urgent-mh-initial` standard on it. `scripts/bench` runs
//! the full comparison with pandas + numpy and DuckDB on 5 million rows.
//! Under `cargo test` (no `--bench` argument) it runs on 2,000 rows only,
//! as a smoke test.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use accesswatch::config::Config;

const REGIONS: [&str; 6] = [
    "socal-south",
    "socal-north",
    "norcal-east",
    "central-valley",
    "inland-empire",
    "bay-area",
];
const PROVIDERS: [&str; 5] = [
    "non_physician_mh",
    "non_physician_mh",
    "psychiatrist",
    "primary_care",
    "specialist",
];

/// A small deterministic generator (xorshift), so the file is the same on
/// every run without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn write_csv(path: &Path, rows: u64) {
    let as_of = 1_796_086_800i64; // 2026-12-01T01:00:00Z = 2026-11-30T17:00-08:00
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "id,requested_at,prior_appointment_at,first_offered_at,visit_type,urgency,prior_auth,provider_type,extended_by_provider,region").unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let stamp = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    for i in 0..rows {
        let requested = as_of - rng.below(60 * 86_400) as i64;
        let region = rng.below(6) as usize;
        let slow = 1 + region as u64 * 3;
        let offered = if rng.below(10) == 0 {
            String::new()
        } else {
            stamp(requested + rng.below(slow * 4 * 86_400) as i64)
        };
        let visit = if rng.below(10) < 6 {
            "initial"
        } else {
            "follow_up"
        };
        let urgency = if rng.below(100) < 85 {
            "non_urgent"
        } else {
            "urgent"
        };
        let provider = PROVIDERS[rng.below(5) as usize];
        let extended = rng.below(50) == 0;
        writeln!(
            out,
            "R{i:08},{},,{offered},{visit},{urgency},false,{provider},{extended},{}",
            stamp(requested),
            REGIONS[region]
        )
        .unwrap();
    }
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let rows: u64 = if benchmarking {
        std::env::var("ACCESSWATCH_BENCH_ROWS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1_000_000)
    } else {
        2_000
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join(format!("rust-bench-{rows}.csv"));
    if !csv.exists() {
        write_csv(&csv, rows);
    }
    let config_text = format!(
        "[daemon]\ntime_zone = \"America/Los_Angeles\"\n[email]\ntransport = \"file\"\ndirectory = \"out\"\nfrom = \"b@plan.example\"\n\
         [[source]]\nid = \"a\"\nkind = \"file\"\npath = \"{}\"\n\
         [[check]]\nid = \"mh\"\nkind = \"timely_access\"\nstandard = \"ca-dmhc/non-urgent-mh-initial\"\nsource = \"a\"\ngroup_by = [\"region\"]\ncalendar = \"us-federal\"\n\
         [[route]]\nname = \"r\"\nto = [\"b@plan.example\"]\n",
        csv.display()
    );
    let config = Config::from_text(&dir.join("bench.toml"), &config_text).unwrap();
    let spec = &config.sources[0];
    let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-30T17:00:00-08:00")
        .unwrap()
        .to_utc();
    for workers in [1, 2] {
        let started = Instant::now();
        let results = accesswatch::daemon::run::stream_csv(
            accesswatch::source::streamable_csv(spec).unwrap(),
            spec,
            &config.checks,
            as_of,
            workers,
        )
        .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let counted: u64 = results[0]
            .groups
            .iter()
            .filter_map(|g| g.wait.as_ref())
            .map(|w| w.counts.compliant + w.counts.noncompliant + w.counts.pending)
            .sum();
        assert!(counted > 0, "nothing was counted");
        println!(
            "timely_access/{rows} rows/{workers} worker(s): {seconds:.3} s, {:.0} rows/s",
            rows as f64 / seconds
        );
    }
}
