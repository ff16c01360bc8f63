//! Small charts of a group's recorded series with its limit line: a PNG
//! for the HTML part of emails (Gmail and Outlook show no SVG; inline it by
//! Content-ID), an SVG for the period report, and a text sparkline for the
//! plain part. Pure functions of the points; the only module that knows
//! the `png` crate. Drawn by hand (lines, dots, no text), so no font or
//! plotting library is needed.

use std::fmt::Write as _;

use crate::check::Status;
use crate::check::history::Point;

const BACKGROUND: [u8; 3] = [255, 255, 255];
const FRAME: [u8; 3] = [200, 200, 200];
const LINE: [u8; 3] = [31, 78, 140];
const LIMIT: [u8; 3] = [200, 30, 30];
const BREACH: [u8; 3] = [200, 30, 30];

/// One character per point, ▁ (lowest) to █ (highest), a space where the
/// value is unknown: "▃▄▅▆ ▇█".
pub fn sparkline(points: &[Point]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let values: Vec<f64> = points
        .iter()
        .filter_map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    let (low, high) = bounds(&values);
    points
        .iter()
        .map(|p| match p.value.filter(|v| v.is_finite()) {
            Some(v) if high > low => {
                let index = ((v - low) / (high - low) * 7.0).round() as usize;
                BARS[index.min(7)]
            }
            Some(_) => BARS[3],
            None => ' ',
        })
        .collect()
}

fn bounds(values: &[f64]) -> (f64, f64) {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if low.is_finite() {
        (low, high)
    } else {
        (0.0, 0.0)
    }
}

/// Where points and the limit fall in a `width` × `height` picture.
struct Scale {
    width: f64,
    height: f64,
    low: f64,
    high: f64,
    start: i64,
    end: i64,
}

/// Room at each edge, so that a dot on the edge is drawn whole.
const MARGIN: f64 = 6.0;

impl Scale {
    /// Values and the limit, with a tenth of headroom either way.
    fn new(points: &[Point], width: u32, height: u32) -> Scale {
        let mut values: Vec<f64> = points
            .iter()
            .filter_map(|p| p.value)
            .filter(|v| v.is_finite())
            .collect();
        values.extend(points.iter().map(|p| p.limit).filter(|l| l.is_finite()));
        let (mut low, mut high) = bounds(&values);
        let pad = ((high - low) * 0.1).max(high.abs() * 0.01).max(1e-9);
        low -= pad;
        high += pad;
        let end = points.last().map_or(1, |p| p.at.timestamp());
        // A lone point is the latest: drawn at the right, where "now" is.
        let start = match points {
            [first, _, ..] => first.at.timestamp(),
            _ => end - 1,
        };
        Scale {
            width: f64::from(width),
            height: f64::from(height),
            low,
            high,
            start,
            end: end.max(start + 1),
        }
    }

    fn x(&self, point: &Point) -> f64 {
        let share = (point.at.timestamp() - self.start) as f64 / (self.end - self.start) as f64;
        MARGIN + share * (self.width - 2.0 * MARGIN - 1.0)
    }

    fn y(&self, value: f64) -> f64 {
        let share = (value - self.low) / (self.high - self.low);
        self.height - 1.0 - MARGIN - share * (self.height - 2.0 * MARGIN - 1.0)
    }

    /// The polyline's runs: consecutive points with values.
    fn runs(&self, points: &[Point]) -> Vec<Vec<(f64, f64)>> {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for point in points {
            match point.value.filter(|v| v.is_finite()) {
                Some(v) => {
                    if let Some(run) = runs.last_mut() {
                        run.push((self.x(point), self.y(v)));
                    }
                }
                None => runs.push(Vec::new()),
            }
        }
        runs.retain(|r| !r.is_empty());
        runs
    }
}

/// The limit of the latest point (limits rarely change; the line shows
/// the one in force at the end).
fn limit(points: &[Point]) -> Option<f64> {
    points.iter().rev().map(|p| p.limit).find(|l| l.is_finite())
}

/// An RGB raster.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Canvas {
        let mut pixels = Vec::with_capacity((width * height * 3) as usize);
        for _ in 0..width * height {
            pixels.extend_from_slice(&BACKGROUND);
        }
        Canvas {
            width,
            height,
            pixels,
        }
    }

    fn dot(&mut self, x: f64, y: f64, radius: i64, color: [u8; 3]) {
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                if dx * dx + dy * dy <= radius * radius {
                    self.set(cx + dx, cy + dy, color);
                }
            }
        }
    }

    fn set(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let index = ((y as u32 * self.width + x as u32) * 3) as usize;
        self.pixels[index..index + 3].copy_from_slice(&color);
    }

    /// A line two pixels wide; `dash` draws every other 6 pixels.
    fn line(&mut self, from: (f64, f64), to: (f64, f64), color: [u8; 3], dash: bool) {
        let steps = (to.0 - from.0)
            .abs()
            .max((to.1 - from.1).abs())
            .ceil()
            .max(1.0) as i64;
        for step in 0..=steps {
            if dash && (step / 6) % 2 == 1 {
                continue;
            }
            let t = step as f64 / steps as f64;
            let x = from.0 + (to.0 - from.0) * t;
            let y = from.1 + (to.1 - from.1) * t;
            self.dot(x, y, 1, color);
        }
    }

    fn frame(&mut self) {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        for x in 0..w {
            self.set(x, 0, FRAME);
            self.set(x, h - 1, FRAME);
        }
        for y in 0..h {
            self.set(0, y, FRAME);
            self.set(w - 1, y, FRAME);
        }
    }
}

/// A `width` × `height` PNG of `points` (oldest first): the series in blue,
/// breached runs as red dots, the limit as a dashed red line.
pub fn chart_png(points: &[Point], width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let (width, height) = (width.clamp(16, 2000), height.clamp(16, 2000));
    let scale = Scale::new(points, width, height);
    let mut canvas = Canvas::new(width, height);
    canvas.frame();
    if let Some(limit) = limit(points) {
        let y = scale.y(limit);
        canvas.line((MARGIN, y), (scale.width - MARGIN, y), LIMIT, true);
    }
    for run in scale.runs(points) {
        for pair in run.windows(2) {
            canvas.line(pair[0], pair[1], LINE, false);
        }
        if let [only] = run.as_slice() {
            canvas.dot(only.0, only.1, 2, LINE);
        }
    }
    for point in points.iter().filter(|p| p.status == Status::Breach) {
        if let Some(v) = point.value.filter(|v| v.is_finite()) {
            canvas.dot(scale.x(point), scale.y(v), 3, BREACH);
        }
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&canvas.pixels)?;
    writer.finish()?;
    Ok(bytes)
}

fn hex(color: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", color[0], color[1], color[2])
}

/// The same chart as inline SVG (for the period report), with `title` as
/// its accessible name.
pub fn chart_svg(points: &[Point], width: u32, height: u32, title: &str) -> String {
    let scale = Scale::new(points, width, height);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\"><title>{}</title>",
        crate::notify::render::escape(title)
    );
    let _ = write!(
        svg,
        "<rect x=\"0.5\" y=\"0.5\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"{}\"/>",
        width.saturating_sub(1),
        height.saturating_sub(1),
        hex(FRAME)
    );
    if let Some(limit) = limit(points) {
        let y = scale.y(limit);
        let _ = write!(
            svg,
            "<line x1=\"{MARGIN}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"1.5\" stroke-dasharray=\"6 6\"/>",
            scale.width - MARGIN,
            hex(LIMIT)
        );
    }
    for run in scale.runs(points) {
        let coordinates: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
            coordinates.join(" "),
            hex(LINE)
        );
    }
    for point in points.iter().filter(|p| p.status == Status::Breach) {
        if let Some(v) = point.value.filter(|v| v.is_finite()) {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                scale.x(point),
                scale.y(v),
                hex(BREACH)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};

    fn points(values: &[Option<f64>], limit: f64) -> Vec<Point> {
        let start = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                at: start + Duration::days(7 * i as i64),
                status: match v {
                    Some(v) if *v > limit => Status::Breach,
                    Some(_) => Status::Ok,
                    None => Status::Unknown,
                },
                value: *v,
                limit,
            })
            .collect()
    }

    fn check(values: &[Option<f64>], expected: &str) {
        assert_eq!(sparkline(&points(values, 10.0)), expected, "{values:?}");
    }

    #[test]
    fn sparklines_scale_from_lowest_to_highest() {
        check(
            &[
                Some(1.0),
                Some(2.0),
                Some(3.0),
                Some(4.0),
                Some(5.0),
                Some(6.0),
                Some(7.0),
                Some(8.0),
            ],
            "▁▂▃▄▅▆▇█",
        );
        check(&[Some(5.0), None, Some(5.0)], "▄ ▄");
        check(&[Some(0.0), Some(100.0), Some(f64::INFINITY)], "▁█ ");
        check(&[], "");
    }

    /// The PNG's pixels, decoded again.
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; decoder.output_buffer_size().unwrap()];
        let info = decoder.next_frame(&mut pixels).unwrap();
        (info.width, info.height, pixels)
    }

    fn has(pixels: &[u8], color: [u8; 3]) -> bool {
        pixels.chunks(3).any(|p| p == color)
    }

    #[test]
    fn the_png_shows_the_series_the_breaches_and_the_limit() {
        let series = points(&[Some(8.0), Some(9.0), None, Some(12.0), Some(11.0)], 10.0);
        let (width, height, pixels) = decode(&chart_png(&series, 240, 60).unwrap());
        assert_eq!((width, height), (240, 60));
        assert!(has(&pixels, LINE) && has(&pixels, BREACH) && has(&pixels, BACKGROUND));
        // The limit line is dashed across the middle rows: red pixels at
        // the left edge where no point is.
        let y = Scale::new(&series, 240, 60).y(10.0).round() as usize;
        let red_at = |x: usize| pixels[(y * 240 + x) * 3..(y * 240 + x) * 3 + 3] == LIMIT;
        assert!((4..12).any(red_at), "the limit line starts at the left");
        // Nothing recorded: a blank frame, still a valid picture.
        let (_, _, blank) = decode(&chart_png(&[], 50, 20).unwrap());
        assert!(!has(&blank, LINE));
    }

    #[test]
    fn the_svg_has_one_polyline_per_run_of_known_values() {
        let series = points(&[Some(8.0), Some(9.0), None, Some(12.0), Some(11.0)], 10.0);
        let svg = chart_svg(&series, 300, 80, "a < b");
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 2, "two runs in breach");
        assert!(svg.contains("stroke-dasharray"), "the limit line");
        assert!(svg.contains("<title>a &lt; b</title>"));
    }
}
