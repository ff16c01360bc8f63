//! A real browser for the HTML a person reads: Debian's
//! `chromium-headless-shell` (scripts/test installs it and exports its path
//! as ACCESSWATCH_CHROMIUM). Each call runs a fresh headless browser with
//! its own profile, no sandbox (tests may run as root), no GPU, and nothing
//! that reaches the network (no background networking, component updates
//! or first-run fetches); the pages given are local files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    std::env::var_os("ACCESSWATCH_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium-headless-shell"))
}

/// `file://` for a path, a URL as it is.
fn url(url_or_file: &str) -> String {
    if url_or_file.contains("://") {
        url_or_file.to_owned()
    } else {
        let path = std::fs::canonicalize(url_or_file).expect("the page exists");
        format!("file://{}", path.display())
    }
}

/// What a run of the browser printed: stdout, and the console messages
/// (errors of the page's scripts and failed loads among them).
pub struct Run {
    pub stdout: String,
    pub console: Vec<String>,
}

fn run(args: &[&str], page: &str) -> Run {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url(page))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); run the tests with scripts/test, which installs chromium-headless-shell",
                chromium().display()
            )
        });
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        console: String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_owned)
            .collect(),
    }
}

/// The page's DOM after loading, as HTML, and what its console said.
pub fn dump_dom(url_or_file: &str) -> Run {
    run(&["--dump-dom"], url_or_file)
}

/// A `width` × `height` screenshot of the page as a PNG at `png_path`.
pub fn screenshot(url_or_file: &str, png_path: &Path, width: u32, height: u32) -> Run {
    run(
        &[
            &format!("--screenshot={}", png_path.display()),
            &format!("--window-size={width},{height}"),
        ],
        url_or_file,
    )
}

/// The pixels of `png` within `tolerance` of `colour` on each channel.
pub fn pixels_near(png: &Path, colour: [u8; 3], tolerance: u8) -> usize {
    let (pixels, channels) = decode(png);
    pixels
        .chunks(channels)
        .filter(|p| (0..3).all(|i| p[i].abs_diff(colour[i]) <= tolerance))
        .count()
}

fn decode(png: &Path) -> (Vec<u8>, usize) {
    let file = std::fs::File::open(png).expect("the screenshot exists");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("the screenshot is a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader
        .next_frame(&mut pixels)
        .expect("decoding the screenshot");
    pixels.truncate(info.buffer_size());
    (pixels, info.color_type.samples())
}

/// Whether the PNG shows more than a few colours (a blank or single-colour
/// page does not).
pub fn not_blank(png: &Path) -> bool {
    let (pixels, channels) = decode(png);
    let colours: std::collections::BTreeSet<&[u8]> =
        pixels.chunks(channels).take(5_000_000).collect();
    colours.len() > 8
}
