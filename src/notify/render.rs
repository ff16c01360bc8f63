//! Rendering a [`Digest`] into an email: a pure function of the digest, the
//! evaluation time and the time zone to show times in.
//!
//! The subject says what and where (`[accesswatch] CRITICAL: 2 regions above
//! 3,000 members per therapist`); the body lists every breached group with
//! its value, limit, citation and data time, in a `text/plain` part and an
//! equivalent `text/html` part. Only labels, aggregates and counts appear:
//! no row of any source is ever quoted.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{Digest, DigestItem};
use crate::check::Notice;
use crate::check::history::Point;
use crate::check::standards::{Basis, ClockStart, Measure, Requirement, Standard, TargetOf};
use crate::check::{CheckResult, GroupResult, Status, WaitStats};
use crate::check::{Op, Severity};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Images the HTML part shows by `cid:` (a chart per breached group):
    /// sent as `multipart/related` parts beside the HTML.
    pub images: Vec<InlineImage>,
}

/// One PNG of the HTML part (the outbox keeps it with the message).
pub use crate::state::InlineImage;

/// At most this many charts in one message: a digest of many breached
/// groups stays a readable (and deliverable) size; the plain sparkline
/// is in every row regardless.
pub const MAX_CHARTS: usize = 8;

/// Size of an email chart in pixels (drawn at this size: its one-pixel
/// lines stay sharp, where a PNG scaled down by the client blurs them).
const CHART_SIZE: (u32, u32) = (240, 60);

pub fn render(digest: &Digest, prefix: &str, as_of: DateTime<Utc>, zone: Tz) -> RenderedEmail {
    let (html, images) = html_body(digest, as_of, zone);
    RenderedEmail {
        subject: subject(digest, prefix),
        text: text_body(digest, as_of, zone),
        html,
        images,
    }
}

/// The subject depends on the checks and groups concerned, not on their
/// values or on whether this is the first message, a reminder or the
/// resolution: every message about one alert has the same subject.
fn subject(digest: &Digest, prefix: &str) -> String {
    let breached: Vec<&DigestItem> = digest
        .items
        .iter()
        .filter(|i| i.concerned().next().is_some())
        .collect();
    let unknown = digest.items.len() - breached.len();
    let level = match breached.iter().map(|i| i.result.severity).max() {
        Some(Severity::Critical) => "CRITICAL",
        Some(Severity::Warning) => "WARNING",
        None => "UNKNOWN",
    };
    // Most severe first, in the digest's order otherwise.
    let mut groups: Vec<(&DigestItem, &GroupResult)> = breached
        .iter()
        .flat_map(|i| i.concerned().map(move |g| (*i, g)))
        .collect();
    groups.sort_by_key(|(i, _)| std::cmp::Reverse(i.result.severity));
    // "Where" once when every group told is in one place.
    let places: std::collections::BTreeSet<String> =
        groups.iter().map(|(_, g)| g.place()).collect();
    let common = (places.len() == 1)
        .then(|| places.into_iter().next())
        .flatten()
        .filter(|p| !p.is_empty());
    let mut parts: Vec<String> = groups
        .iter()
        .take(2)
        .map(|(item, group)| {
            let place = if common.is_some() || group.place().is_empty() {
                String::new()
            } else {
                format!("{} ", group.place())
            };
            format!("{place}{}", subject_part(item, group))
        })
        .collect();
    if groups.len() > 2 {
        parts.push(format!("{} more", groups.len() - 2));
    }
    if unknown > 0 {
        parts.push(format!(
            "{unknown} {} could not be evaluated",
            plural(unknown, "check", "checks")
        ));
    }
    match common {
        Some(place) => format!("{prefix} {level} {place}: {}", parts.join("; ")),
        None => format!("{prefix} {level}: {}", parts.join("; ")),
    }
}

/// "SB 221 follow-up 9.6 % (target 70 %)", "members per therapist 3,477
/// (≤ 3,000)": what, the value and the limit, shortest first.
fn subject_part(item: &DigestItem, group: &GroupResult) -> String {
    let r = &item.result;
    let what = match &r.standard {
        Some(standard) => standard.short,
        // A source's blind spot says which source.
        None if r.id.starts_with(crate::check::DATA_UNAVAILABLE) => r.title.as_str(),
        None => r.metric.as_str(),
    };
    let value = group
        .value
        .map_or_else(|| "?".to_owned(), |v| short_value(r, v));
    match group.wait.as_ref().and_then(|w| w.target.map(|t| (t, w))) {
        Some((target, _)) => format!("{what} {value} (target {})", percent(target)),
        None => format!(
            "{what} {value} ({} {})",
            op_symbol(r.comparison.op),
            short_value(r, r.comparison.limit)
        ),
    }
}

/// A value for a subject: shares as percentages, large numbers whole.
fn short_value(r: &CheckResult, value: f64) -> String {
    match r.standard.as_ref().map(|s| &s.rule) {
        Some(Requirement::WaitTime {
            measure: Measure::ShareWithinLimit,
            ..
        }) => percent(value),
        _ if value.abs() >= 100.0 && value.is_finite() => number(value.round()),
        _ => number(value),
    }
}

fn op_symbol(op: Op) -> &'static str {
    match op {
        Op::Lt => "<",
        Op::Le => "≤",
        Op::Gt => ">",
        Op::Ge => "≥",
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// 3000 → "3,000"; 3412.456 → "3,412.46"; infinity → "∞".
pub fn number(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "∞" } else { "-∞" }.to_owned();
    }
    if value.is_nan() {
        return "NaN".to_owned();
    }
    let rounded = format!("{:.2}", value.abs());
    let (whole, fraction) = rounded.split_once('.').unwrap_or((&rounded, ""));
    let fraction = fraction.trim_end_matches('0');
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && rounded != "0.00" {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

/// A time for people, in `zone`, to the minute: "2026-12-01 09:00 PST".
pub fn local_time(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A value or limit of `r` for people: a share as a percentage, any
/// other number with thousands separators.
pub fn value_text(r: &CheckResult, value: f64) -> String {
    match r.standard.as_ref().map(|s| &s.rule) {
        Some(Requirement::WaitTime {
            measure: Measure::ShareWithinLimit,
            ..
        }) => percent(value),
        _ => number(value),
    }
}

/// "71.3 %"
pub fn percent(share: f64) -> String {
    format!("{} %", number((share * 1000.0).round() / 10.0))
}

fn clock_phrase(clock: ClockStart) -> &'static str {
    match clock {
        ClockStart::Request => "the request",
        ClockStart::PriorAppointment => "the prior visit",
        ClockStart::Discharge => "discharge",
        ClockStart::CallStart => "the start of the call",
    }
}

/// "law", or "a benchmark, not law": never a benchmark shown as law.
pub fn basis_text(basis: Basis) -> &'static str {
    match basis {
        Basis::Law => "law",
        Basis::Benchmark => "a benchmark, not law",
    }
}

/// "70 %", "95 % of enrollees", "80 %, the plan's own (the law states
/// none)", or "none in force" before the law's target applies.
pub fn target_text(stats: &WaitStats, standard: &Standard) -> String {
    let Some(target) = stats.target else {
        return "none in force".to_owned();
    };
    let mut text = percent(target);
    if standard.target_of == TargetOf::Enrollees {
        text.push_str(" of enrollees");
    }
    if stats.target_by_plan {
        text.push_str(", the plan's own");
        if let Requirement::WaitTime { target: None, .. } = standard.rule {
            text.push_str(" (the law states none)");
        }
    }
    text
}

/// A wait-time group told in words, with the citation when `cite`:
/// "SB 221 follow-up …, within 10 business days of the prior visit: 71.3 %
/// of 1,204 requests in region socal-south met it (target 70 %); 37 members
/// are still waiting past the limit. H&S Code … (confidence S: …)"
pub fn wait_sentence(r: &CheckResult, group: &GroupResult, cite: bool) -> Option<String> {
    let (stats, standard) = (group.wait.as_ref()?, r.standard.as_ref()?);
    let Requirement::WaitTime { clock, measure, .. } = &standard.rule else {
        return None;
    };
    let within = stats.unit.words(stats.limit);
    let place = match group.labels.len() {
        0 => "across the plan".to_owned(),
        _ => format!(
            "in {}",
            group
                .labels
                .iter()
                .map(|(k, v)| crate::check::result::label_value_words(k, v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let c = &stats.counts;
    let measured = c.compliant + c.noncompliant;
    let body = match (measure, stats.rate, stats.mean_wait) {
        (Measure::MeanWait, _, Some(mean)) => format!(
            "the mean wait {place} was {} (limit {within})",
            stats.unit.words((mean * 10.0).round() / 10.0)
        ),
        (Measure::ShareWithinLimit, Some(rate), _) => format!(
            "{} of {} {} {place} met it (target {})",
            percent(rate),
            number(measured as f64),
            if *clock == ClockStart::CallStart {
                plural(measured as usize, "call", "calls")
            } else {
                plural(measured as usize, "request", "requests")
            },
            target_text(stats, standard)
        ),
        _ => format!("no request {place} could be measured yet"),
    };
    let waiting = match stats.overdue_open {
        0 => String::new(),
        1 => "; 1 member is still waiting past the limit".to_owned(),
        n => format!(
            "; {} members are still waiting past the limit",
            number(n as f64)
        ),
    };
    let waiting = match c.before_effective {
        0 => waiting,
        n => format!(
            "{waiting}; {} {} before the standard took effect, not judged",
            number(n as f64),
            plural(n as usize, "request came", "requests came")
        ),
    };
    let problem = match (&group.status, &group.error) {
        (Status::Unknown, Some(error)) => format!(" Could not be evaluated: {error}."),
        (Status::NotInForce, Some(error)) => format!(" Not judged: {error}."),
        _ => String::new(),
    };
    let citation = if cite {
        format!(
            " {} ({}; confidence {}: {})",
            standard.citation,
            basis_text(standard.basis),
            standard.confidence.letter(),
            standard.confidence.describe()
        )
    } else {
        String::new()
    };
    Some(format!(
        "{}, within {within} of {}: {body}{waiting}.{problem}{citation}",
        standard.title,
        clock_phrase(*clock),
    ))
}

fn intro(digest: &Digest, as_of: DateTime<Utc>, zone: Tz) -> String {
    let notices: Vec<Notice> = digest
        .items
        .iter()
        .flat_map(|i| i.notices.iter().copied())
        .collect();
    let when = local_time(as_of, zone);
    if notices.is_empty() {
        let breaches = digest.breach_count();
        return format!(
            "accesswatch found {breaches} {} of access standards in the run of {when}.",
            plural(breaches, "breach", "breaches"),
        );
    }
    let count = |kind: Notice| notices.iter().filter(|n| **n == kind).count();
    let parts: Vec<String> = [
        (count(Notice::Firing), "new alert", "new alerts"),
        (
            count(Notice::Reminder),
            "alert still firing",
            "alerts still firing",
        ),
        (count(Notice::Resolved), "alert resolved", "alerts resolved"),
        (
            count(Notice::Escalated),
            "alert escalated: firing and unacknowledged",
            "alerts escalated: firing and unacknowledged",
        ),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| format!("{n} {}", plural(n, one, many)))
    .collect();
    format!("accesswatch, run of {when}: {}.", parts.join(", "))
}

/// "[FIRING] ", "[STILL FIRING] ", "[RESOLVED] " before a group's line.
fn notice_tag(item: &DigestItem, index: usize) -> &'static str {
    match item.notices.get(index) {
        Some(Notice::Firing) => "[FIRING] ",
        Some(Notice::Reminder) => "[STILL FIRING] ",
        Some(Notice::Resolved) => "[RESOLVED] ",
        Some(Notice::Escalated) => "[ESCALATED] ",
        None => "",
    }
}

const FOOTER: &str = "This message carries aggregates and counts only, never member-level data.";

/// "<= 3,000": the healthy side of the limit.
fn limit_text(r: &CheckResult) -> String {
    format!(
        "{} {}",
        r.comparison.op.as_str(),
        number(r.comparison.limit)
    )
}

/// The labelled facts shown under each check's heading, in both parts.
fn facts(r: &CheckResult, zone: Tz) -> Vec<(&'static str, String)> {
    let standard = match (r.standard.as_ref().map(|s| &s.rule), r.comparison.op) {
        (
            Some(Requirement::WaitTime {
                measure: Measure::ShareWithinLimit,
                ..
            }),
            _,
        ) => {
            format!("at least {} {}", percent(r.comparison.limit), r.metric)
        }
        _ => format!("{} must be {}", r.metric, limit_text(r)),
    };
    let standard = match r.standard.as_ref().map(|s| s.basis) {
        Some(Basis::Benchmark) => format!("a benchmark, not law: {standard}"),
        _ => standard,
    };
    let mut facts = vec![("Standard", standard)];
    if let Some(citation) = &r.citation {
        facts.push(("Citation", citation.clone()));
    }
    if let Some(data_time) = r.data_time {
        let origin = r
            .data_time_origin
            .map_or(String::new(), |o| format!("{o} "));
        facts.push((
            "Data as of",
            format!(
                "{origin}{} (source {})",
                local_time(data_time, zone),
                r.source
            ),
        ));
    }
    if let Some(error) = &r.error {
        facts.push(("Could not be evaluated", error.clone()));
    }
    if let Some(rejected) = rejected_fact(r) {
        facts.push(("Rejected rows", rejected));
    }
    facts
}

/// How many rows of the whole check could not be counted, with the first
/// reasons (row numbers and field names, never values): data quality is a
/// finding too. `None` when no row was rejected.
fn rejected_fact(r: &CheckResult) -> Option<String> {
    let rejected: u64 = r
        .groups
        .iter()
        .filter_map(|g| g.wait.as_ref())
        .map(|w| w.counts.rejected)
        .sum::<u64>()
        + r.rejected_without_group;
    if rejected == 0 && r.rejected_rows.is_empty() {
        return None;
    }
    let rejected = rejected.max(r.rejected_rows.len() as u64);
    let shown = r.rejected_rows.len().min(3);
    let mut text = format!(
        "{} {} rejected",
        number(rejected as f64),
        plural(rejected as usize, "row", "rows")
    );
    if shown > 0 {
        let more = if (rejected as usize) > shown {
            "; …"
        } else {
            ""
        };
        text += &format!(" ({}{more})", r.rejected_rows[..shown].join("; "));
    }
    Some(text)
}

fn heading(r: &CheckResult) -> (String, &str, &str) {
    (r.severity.as_str().to_uppercase(), &r.title, &r.id)
}

/// One table of a check's groups: a header row and one row per group,
/// the same cells in both parts of the email.
struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// The status of each row, for its colour in HTML.
    statuses: Vec<Status>,
}

fn table(digest: &Digest, item: &DigestItem) -> Table {
    let r = &item.result;
    let wait = item.groups.iter().any(|g| g.wait.is_some());
    let header = if wait {
        vec![
            "Group",
            "Status",
            "Met the limit",
            "Target",
            "Requests",
            "Waiting past limit",
            "Median wait",
            "90th percentile",
            "Trend",
        ]
    } else {
        vec!["Group", "Status", "Value", "Limit", "Rows", "Trend"]
    };
    let mut rows = Vec::new();
    let mut statuses = Vec::new();
    for (index, group) in item.groups.iter().enumerate() {
        let tag = notice_tag(item, index)
            .trim()
            .trim_matches(['[', ']'])
            .to_owned();
        let status = match (tag.is_empty(), group.status) {
            (false, _) => tag,
            (true, Status::Breach) => r.severity.as_str().to_uppercase(),
            (true, status) => status.as_str().replace('_', " ").to_uppercase(),
        };
        let value = match group.value {
            Some(v) => value_text(r, v),
            None => group.error.clone().unwrap_or_else(|| "no value".to_owned()),
        };
        let trend = trend_text(digest, r, group);
        let row = match &group.wait {
            Some(w) => {
                let measured = w.counts.compliant + w.counts.noncompliant;
                let wait_words = |v: Option<f64>| {
                    v.map_or_else(
                        || "–".to_owned(),
                        |v| w.unit.words((v * 10.0).round() / 10.0),
                    )
                };
                let target = match r.standard.as_ref() {
                    Some(standard) => target_text(w, standard),
                    None => w.target.map_or_else(|| "none".to_owned(), percent),
                };
                let value = match w.rate {
                    Some(_) => value,
                    None => w.mean_wait.map_or(value, |m| {
                        format!("mean {}", w.unit.words((m * 10.0).round() / 10.0))
                    }),
                };
                vec![
                    group.label_words(),
                    status,
                    value,
                    target,
                    number(measured as f64),
                    number(w.overdue_open as f64),
                    wait_words(w.median_wait),
                    wait_words(w.p90_wait),
                    trend,
                ]
            }
            None => {
                let value = match &group.detail {
                    Some(detail) => format!("{value}; {detail}"),
                    None => value,
                };
                vec![
                    group.label_words(),
                    status,
                    value,
                    limit_text(r),
                    number(group.rows as f64),
                    trend,
                ]
            }
        };
        rows.push(row);
        statuses.push(group.status);
    }
    Table {
        header,
        rows,
        statuses,
    }
}

/// The group's recent history in words, with a text sparkline: "▃▄▆ up
/// from 3,300 a week before; 4 of the last 10 runs in breach".
fn trend_text(digest: &Digest, r: &CheckResult, group: &GroupResult) -> String {
    let (points, current) = history(digest, r, group);
    let trend = crate::check::history::trend_with(points, current);
    let all = series(points, current);
    let spark = super::chart::sparkline(&all[all.len().saturating_sub(12)..]);
    let week = match (trend.direction, trend.week_ago) {
        (Some(direction), Some(before)) => format!(
            " {} from {} a week before",
            direction.as_str(),
            value_text(r, before)
        ),
        _ => " no run a week before".to_owned(),
    };
    format!(
        "{spark}{week}; {} of the last {} {} in breach",
        trend.breached_runs,
        trend.runs,
        plural(trend.runs, "run", "runs")
    )
}

/// The group's recorded history (before this run) and this run as a point.
fn history<'a>(digest: &'a Digest, r: &CheckResult, group: &GroupResult) -> (&'a [Point], Point) {
    let key = group.label_text();
    let points: &[Point] = digest
        .series
        .iter()
        .find(|s| s.check_id == r.id && s.group_key == key)
        .map_or(&[], |s| &s.points);
    let current = Point {
        at: r.evaluated_at,
        status: group.status,
        value: group.value.filter(|v| v.is_finite()),
        limit: group.limit,
    };
    (points, current)
}

/// The history up to and including `current`, oldest first.
fn series(points: &[Point], current: Point) -> Vec<Point> {
    let mut all: Vec<Point> = points
        .iter()
        .filter(|p| p.at < current.at)
        .copied()
        .collect();
    all.push(current);
    all
}

/// The chart of a breached group for the HTML part: an `<img>` by
/// Content-ID and the PNG it names, or nothing when the PNG cannot be
/// drawn (the row's sparkline and words still say the trend).
fn chart_image(
    digest: &Digest,
    r: &CheckResult,
    group: &GroupResult,
    images: &mut Vec<InlineImage>,
) -> Option<String> {
    if group.status != Status::Breach || images.len() >= MAX_CHARTS {
        return None;
    }
    let (points, current) = history(digest, r, group);
    let all = series(points, current);
    let shown = &all[all.len().saturating_sub(26)..];
    let (width, height) = CHART_SIZE;
    let png = super::chart::chart_png(shown, width, height).ok()?;
    let content_id = format!("chart-{}@accesswatch", images.len() + 1);
    let alt = format!(
        "Chart of {} for {} over the last {} {}; the dashed red line is the limit {}",
        r.metric,
        group.label_words(),
        shown.len(),
        plural(shown.len(), "run", "runs"),
        limit_words(r, group)
    );
    let tag = format!(
        "<img src=\"cid:{content_id}\" width=\"{width}\" height=\"{height}\" alt=\"{}\" style=\"display:block;border:0\">",
        escape(&alt)
    );
    images.push(InlineImage { content_id, png });
    Some(tag)
}

/// The limit (or target) of a group in words, for a chart's text
/// alternative.
fn limit_words(r: &CheckResult, group: &GroupResult) -> String {
    match group.wait.as_ref().and_then(|w| w.target) {
        Some(target) => format!("(target {})", percent(target)),
        None => format!(
            "({} {})",
            op_symbol(r.comparison.op),
            value_text(r, group.limit)
        ),
    }
}

/// A table in aligned text, for the plain part.
fn text_table(out: &mut String, table: &Table) {
    let width = |column: usize| {
        std::iter::once(table.header[column].chars().count())
            .chain(table.rows.iter().map(|r| r[column].chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..table.header.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}", w = *w))
            .collect();
        format!("  {}", padded.join("  ").trim_end())
    };
    let _ = writeln!(out, "{}", line(table.header.clone()));
    let _ = writeln!(
        out,
        "{}",
        line(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect()
        )
    );
    for row in &table.rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

fn text_body(digest: &Digest, as_of: DateTime<Utc>, zone: Tz) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", intro(digest, as_of, zone));
    for item in &digest.items {
        let r = &item.result;
        let (severity, title, id) = heading(r);
        let _ = writeln!(out, "{severity}  {title} ({id})");
        for (label, value) in facts(r, zone) {
            let _ = writeln!(out, "  {label}: {value}");
        }
        if !item.groups.is_empty() {
            out.push('\n');
            text_table(&mut out, &table(digest, item));
        }
        for note in digest.notes.iter().filter(|n| n.check_id == r.id) {
            let _ = writeln!(out, "  {}", note_line(note, zone));
        }
        out.push('\n');
    }
    if let Some(url) = &digest.public_url {
        let _ = writeln!(out, "Status page: {url}");
    }
    let _ = writeln!(out, "-- \nRoute {:?}. {FOOTER}", digest.route.name);
    out
}

/// "Note by Dana Ruiz, 2026-12-01 09:12 PST (region=socal-south): CAP filed".
fn note_line(note: &crate::check::history::Note, zone: Tz) -> String {
    format!(
        "Note by {}, {} ({}): {}",
        note.by,
        local_time(note.at, zone),
        crate::check::label_text(&note.labels),
        note.text
    )
}

/// Colours of the status band and cells: strong backgrounds with white
/// text, which keep their contrast when a client darkens the message.
fn colours(status: Status, severity: Severity) -> (&'static str, &'static str) {
    match (status, severity) {
        (Status::Breach, Severity::Critical) => ("#b3261e", "#ffffff"),
        (Status::Breach, Severity::Warning) => ("#8a5a00", "#ffffff"),
        (Status::Ok, _) => ("#1e6b34", "#ffffff"),
        (Status::NotInForce, _) => ("#2f4f78", "#ffffff"),
        (Status::Unknown, _) => ("#555555", "#ffffff"),
    }
}

fn html_body(digest: &Digest, as_of: DateTime<Utc>, zone: Tz) -> (String, Vec<InlineImage>) {
    let mut images = Vec::new();
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"color-scheme\" content=\"light dark\"></head>\n\
         <body style=\"margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.4;color:#1b1b1b\">\n",
    );
    // The band: the worst that is being told, resolved when nothing is.
    let resolved_only = !digest.items.is_empty()
        && digest
            .items
            .iter()
            .all(|i| !i.notices.is_empty() && i.notices.iter().all(|n| *n == Notice::Resolved));
    let worst = digest
        .items
        .iter()
        .filter(|i| i.concerned().next().is_some())
        .map(|i| i.result.severity)
        .max();
    let (band, band_word) = match (resolved_only, worst) {
        (true, _) => (
            colours(Status::Ok, Severity::Warning),
            "RESOLVED".to_owned(),
        ),
        (false, Some(severity)) => (
            colours(Status::Breach, severity),
            severity.as_str().to_uppercase(),
        ),
        (false, None) => (
            colours(Status::Unknown, Severity::Warning),
            "UNKNOWN".to_owned(),
        ),
    };
    let _ = writeln!(
        out,
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"12\" cellspacing=\"0\" style=\"border-collapse:collapse\"><tr>\
         <td bgcolor=\"{0}\" style=\"background-color:{0};color:{1};font-size:16px\"><strong>{band_word}</strong> &nbsp; {2}</td></tr></table>",
        band.0,
        band.1,
        escape(&intro(digest, as_of, zone))
    );
    for item in &digest.items {
        let r = &item.result;
        let (severity, title, id) = heading(r);
        let _ = writeln!(
            out,
            "<h3 style=\"margin:20px 0 6px;font-size:16px\">{severity} &mdash; {} <span style=\"font-weight:normal;color:#555\">({})</span></h3>",
            escape(title),
            escape(id)
        );
        let lines: Vec<String> = facts(r, zone)
            .into_iter()
            .map(|(label, value)| format!("<strong>{label}:</strong> {}", escape(&value)))
            .collect();
        let _ = writeln!(
            out,
            "<p style=\"margin:0 0 8px\">{}</p>",
            lines.join("<br>\n")
        );
        if !item.groups.is_empty() {
            let table = table(digest, item);
            out.push_str("<table cellpadding=\"6\" cellspacing=\"0\" style=\"border-collapse:collapse;border:1px solid #bbbbbb\">\n<tr>");
            for cell in &table.header {
                let _ = write!(
                    out,
                    "<th align=\"left\" style=\"border:1px solid #bbbbbb;background-color:#eeeeee;color:#1b1b1b\">{}</th>",
                    escape(cell)
                );
            }
            out.push_str("</tr>\n");
            for (row, status) in table.rows.iter().zip(&table.statuses) {
                out.push_str("<tr>");
                for (index, cell) in row.iter().enumerate() {
                    if index == 1 {
                        let (background, text) = colours(*status, r.severity);
                        let _ = write!(
                            out,
                            "<td bgcolor=\"{background}\" style=\"border:1px solid #bbbbbb;background-color:{background};color:{text};font-weight:bold\">{}</td>",
                            escape(cell)
                        );
                    } else {
                        let _ = write!(
                            out,
                            "<td style=\"border:1px solid #bbbbbb\">{}</td>",
                            escape(cell)
                        );
                    }
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
            let charts: Vec<String> = item
                .concerned()
                .filter_map(|group| {
                    chart_image(digest, r, group, &mut images).map(|img| {
                        format!(
                            "<td style=\"padding:8px 12px 0 0;vertical-align:top;font-size:12px;color:#555555\">{}<br>{img}</td>",
                            escape(&group.label_words())
                        )
                    })
                })
                .collect();
            if !charts.is_empty() {
                // Two a row: a phone's screen holds two 240 px charts.
                let rows: Vec<String> = charts
                    .chunks(2)
                    .map(|pair| format!("<tr>{}</tr>", pair.join("")))
                    .collect();
                let _ = writeln!(
                    out,
                    "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\">{}</table>",
                    rows.join("")
                );
            }
        }
        for note in digest.notes.iter().filter(|n| n.check_id == r.id) {
            let _ = writeln!(out, "<p><i>{}</i></p>", escape(&note_line(note, zone)));
        }
    }
    if let Some(url) = &digest.public_url {
        let _ = writeln!(
            out,
            "<p><a href=\"{0}\" style=\"color:#0b4f9c\">Open the status page</a></p>",
            escape(url)
        );
    }
    let _ = writeln!(
        out,
        "<p style=\"color:#555555;font-size:12px\">Route {}. {FOOTER}</p>\n</body></html>",
        escape(&format!("{:?}", digest.route.name))
    );
    (out, images)
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whose target, of whom, and never a benchmark shown as law.
    #[test]
    fn targets_and_bases_say_whose_and_what() {
        use crate::check::standards::{Unit, find};
        let stats = |target: Option<f64>, by_plan: bool| WaitStats {
            counts: Default::default(),
            rate: Some(0.5),
            target,
            target_by_plan: by_plan,
            median_wait: None,
            p90_wait: None,
            mean_wait: None,
            overdue_open: 0,
            longest_open_wait: None,
            unit: Unit::BusinessDays,
            limit: 10.0,
        };
        let sb221 = find("ca-sb221/mh-follow-up").unwrap();
        let dmhc = find("ca-dmhc/non-urgent-mh-initial").unwrap();
        let maryland = find("md/bh-non-urgent").unwrap();
        let table = [
            (target_text(&stats(Some(0.7), false), &dmhc), "70 %"),
            (
                target_text(&stats(Some(0.8), true), &sb221),
                "80 %, the plan's own (the law states none)",
            ),
            (
                target_text(&stats(Some(0.8), true), &dmhc),
                "80 %, the plan's own",
            ),
            (target_text(&stats(None, false), &dmhc), "none in force"),
            (
                target_text(&stats(Some(0.95), false), &maryland),
                "95 % of enrollees",
            ),
        ];
        for (found, expected) in table {
            assert_eq!(found, expected);
        }
        let kp = find("kp-dmhc-2023/follow-up-average").unwrap();
        assert_eq!(basis_text(kp.basis), "a benchmark, not law");
        assert_eq!(basis_text(dmhc.basis), "law");
    }

    #[test]
    fn numbers() {
        let check = |value: f64, expected: &str| assert_eq!(number(value), expected, "{value}");
        check(3000.0, "3,000");
        check(3412.456, "3,412.46");
        check(0.5, "0.5");
        check(999.0, "999");
        check(1_234_567.0, "1,234,567");
        check(-1234.5, "-1,234.5");
        check(-0.001, "0");
        check(f64::INFINITY, "∞");
    }

    use crate::check::CheckResult;
    use crate::check::schedule::Schedule;
    use crate::check::{Check, Comparison, Route, Rule};
    use crate::notify::{Digest, DigestItem};
    use std::collections::BTreeMap;

    fn check_config(id: &str, group_by: &[&str], severity: Severity) -> Check {
        Check {
            id: id.to_owned(),
            title: id.to_owned(),
            severity,
            citation: None,
            source: "s".to_owned(),
            group_by: group_by.iter().map(|g| (*g).to_owned()).collect(),
            require_labels: false,
            metric: "members per therapist".to_owned(),
            rule: Rule::Ratio {
                numerator: "m".to_owned(),
                denominator: "f".to_owned(),
                numerator_source: None,
            },
            comparison: Comparison {
                op: Op::Le,
                limit: 3000.0,
            },
            schedule: Schedule::parse("@daily", chrono_tz::UTC).unwrap(),
            policy: Default::default(),
            clear_at: None,
        }
    }

    /// A result of `check` whose groups are `(labels, status)`.
    fn result(
        check: &Check,
        groups: &[(&[(&str, &str)], Status)],
        error: Option<&str>,
    ) -> CheckResult {
        CheckResult {
            id: check.id.clone(),
            title: check.title.clone(),
            severity: check.severity,
            citation: None,
            metric: check.metric.clone(),
            source: "s".to_owned(),
            comparison: check.comparison,
            status: Status::Breach,
            groups: groups
                .iter()
                .map(|(labels, status)| GroupResult {
                    labels: labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect::<BTreeMap<_, _>>(),
                    status: *status,
                    value: Some(3500.0),
                    limit: 3000.0,
                    rows: 1,
                    error: None,
                    wait: None,
                    detail: None,
                })
                .collect(),
            error: error.map(str::to_owned),
            data_time: None,
            data_time_origin: None,
            evaluated_at: DateTime::UNIX_EPOCH,
            rejected_rows: Vec::new(),
            rejected_without_group: 0,
            standard: None,
        }
    }

    fn check_subject(items: &[(&Check, &CheckResult)], expected: &str) {
        let route = Route {
            name: "r".to_owned(),
            to: vec![],
            checks: vec![],
            severities: vec![],
            labels: BTreeMap::new(),
            fallback: false,
            escalation: None,
        };
        let digest = Digest {
            notes: Vec::new(),
            series: Vec::new(),
            public_url: None,
            route,
            items: items
                .iter()
                .map(|(check, result)| DigestItem {
                    result: (*result).clone(),
                    check: (*check).clone(),
                    groups: result
                        .groups
                        .iter()
                        .filter(|g| g.status != Status::Ok)
                        .cloned()
                        .collect(),
                    notices: vec![],
                })
                .collect(),
        };
        assert_eq!(subject(&digest, "[aw]"), expected);
    }

    #[test]
    fn subjects_say_what_and_where() {
        let by_region = check_config("ratio", &["region"], Severity::Critical);
        let south: &[(&str, &str)] = &[("region", "socal-south")];
        let north: &[(&str, &str)] = &[("region", "socal-north")];
        let one = result(
            &by_region,
            &[(south, Status::Breach), (north, Status::Ok)],
            None,
        );
        check_subject(
            &[(&by_region, &one)],
            "[aw] CRITICAL socal-south: members per therapist 3,500 (≤ 3,000)",
        );
        let two = result(
            &by_region,
            &[(south, Status::Breach), (north, Status::Breach)],
            None,
        );
        check_subject(
            &[(&by_region, &two)],
            "[aw] CRITICAL: socal-south members per therapist 3,500 (≤ 3,000); socal-north members per therapist 3,500 (≤ 3,000)",
        );
        let ungrouped = check_config("plan", &[], Severity::Warning);
        let all = result(&ungrouped, &[(&[], Status::Breach)], None);
        check_subject(
            &[(&ungrouped, &all)],
            "[aw] WARNING: members per therapist 3,500 (≤ 3,000)",
        );
        check_subject(
            &[(&ungrouped, &all), (&by_region, &two)],
            "[aw] CRITICAL: socal-south members per therapist 3,500 (≤ 3,000); socal-north members per therapist 3,500 (≤ 3,000); 1 more",
        );
        let two_labels = check_config("pair", &["region", "network"], Severity::Critical);
        let pair: &[(&str, &str)] = &[("region", "south"), ("network", "hmo")];
        let paired = result(&two_labels, &[(pair, Status::Breach)], None);
        check_subject(
            &[(&two_labels, &paired)],
            "[aw] CRITICAL hmo/south: members per therapist 3,500 (≤ 3,000)",
        );
        let failed = result(&by_region, &[], Some("source down"));
        check_subject(
            &[(&by_region, &failed)],
            "[aw] UNKNOWN: 1 check could not be evaluated",
        );
        check_subject(
            &[(&ungrouped, &all), (&by_region, &failed)],
            "[aw] WARNING: members per therapist 3,500 (≤ 3,000); 1 check could not be evaluated",
        );
    }

    #[test]
    fn the_status_page_is_linked_when_its_address_is_set() {
        let by_region = check_config("ratio", &["region"], Severity::Critical);
        let south: &[(&str, &str)] = &[("region", "socal-south")];
        let one = result(&by_region, &[(south, Status::Breach)], None);
        let digest = |public_url: Option<&str>| Digest {
            notes: Vec::new(),
            series: Vec::new(),
            public_url: public_url.map(str::to_owned),
            route: Route {
                name: "r".to_owned(),
                to: vec![],
                checks: vec![],
                severities: vec![],
                labels: BTreeMap::new(),
                fallback: false,
                escalation: None,
            },
            items: vec![DigestItem {
                result: one.clone(),
                check: by_region.clone(),
                groups: one.groups.clone(),
                notices: vec![],
            }],
        };
        let url = "https://accesswatch.plan.example:9464/";
        let email = render(
            &digest(Some(url)),
            "[aw]",
            DateTime::UNIX_EPOCH,
            chrono_tz::UTC,
        );
        assert!(
            email.text.contains(&format!("Status page: {url}")),
            "{}",
            email.text
        );
        assert!(
            email.html.contains(&format!("<a href=\"{url}\"")),
            "{}",
            email.html
        );
        let email = render(&digest(None), "[aw]", DateTime::UNIX_EPOCH, chrono_tz::UTC);
        assert!(!email.text.contains("Status page"));
        assert!(!email.html.contains("<a href"));
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
