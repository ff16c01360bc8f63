//! The period report as one self-contained HTML file: inline CSS (with
//! print styles, so a browser's "Save as PDF" gives a clean document) and
//! inline SVG charts; no script, no external resource. Pure.

use std::fmt::Write as _;

use crate::check::Status;
use crate::daemon::period::{CheckPeriod, Period, local, value_text};
use crate::notify::chart::chart_svg;
use crate::notify::render::{escape, percent};
use crate::state::EpisodeRecord;

const STYLE: &str = "
body { font-family: system-ui, sans-serif; color: #222; margin: 2em; max-width: 1100px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.breach { color: #b00; font-weight: 600; }
.meta { color: #555; font-size: 0.9em; }
code { font-size: 0.85em; word-break: break-all; }
details summary { cursor: pointer; color: #555; }
@media print {
  body { margin: 0; max-width: none; font-size: 9.5pt; }
  h2 { break-before: auto; break-after: avoid; }
  table, figure, section.check { break-inside: avoid; }
  details > summary { display: none; }
  details { display: block; }
}
";

pub fn html(period: &Period) -> String {
    let zone = period.zone;
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<title>accesswatch report {} to {}</title>\n<style>{STYLE}</style></head><body>",
        escape(&local(period.from, zone)),
        escape(&local(period.to, zone))
    );
    let _ = writeln!(
        out,
        "<h1>accesswatch period report</h1>\n<p class=\"meta\">Period {} to {} (time zone {}). Generated {} from the state file <code>{}</code>.</p>",
        escape(&local(period.from, zone)),
        escape(&local(period.to, zone)),
        escape(zone.name()),
        escape(&local(period.generated_at, zone)),
        escape(&period.state_file)
    );
    match &period.head {
        Some(head) => {
            let _ = writeln!(
                out,
                "<p class=\"meta\" id=\"trail-head\">Tamper-evident trail: {} records; head record {} has SHA-256 <code>{}</code>. \
                 <code>accesswatch verify-history</code> checks a copy of the state file; its head must match this hash.</p>",
                head.records,
                head.id,
                escape(&head.hash)
            );
        }
        None => out.push_str("<p class=\"meta\">The trail is empty.</p>\n"),
    }
    out.push_str("<h2>Checks and groups</h2>\n");
    for check in &period.checks {
        check_section(&mut out, period, check);
    }
    episodes(&mut out, period);
    notes(&mut out, period);
    outages(&mut out, period);
    annual(&mut out, period);
    standards(&mut out, period);
    out.push_str("</body></html>\n");
    out
}

fn check_section(out: &mut String, period: &Period, check: &CheckPeriod) {
    let zone = period.zone;
    let limit = check.limit.map_or_else(String::new, |l| {
        format!("; healthy {} {}", check.op.as_str(), value_text(check, l))
    });
    let _ = writeln!(
        out,
        "<section class=\"check\"><h3>{} <small>({})</small></h3><p class=\"meta\">{} group(s){}</p>",
        escape(&check.title),
        escape(&check.id),
        check.groups.len(),
        escape(&limit)
    );
    if check.groups.is_empty() {
        out.push_str("<p>No evaluation recorded in the period.</p></section>\n");
        return;
    }
    out.push_str("<table><tr><th>Group</th><th>Runs</th><th>In breach</th><th>Median</th><th>Worst</th><th>When</th><th>Chart (dashed: limit; red: runs in breach)</th></tr>\n");
    for (series, summary) in &check.groups {
        let share = summary
            .breach_share()
            .map_or_else(|| "-".to_owned(), percent);
        let median = summary
            .median
            .map_or_else(|| "-".to_owned(), |m| value_text(check, m));
        let (worst, when) = summary.worst.map_or_else(
            || ("-".to_owned(), "-".to_owned()),
            |(v, at)| (value_text(check, v), local(at, zone)),
        );
        let title = format!("{} {}", check.id, series.group_key);
        let _ = writeln!(
            out,
            "<tr data-group=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num{}\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&series.group_key),
            escape(&series.group_key),
            summary.runs,
            if summary.breached > 0 { " breach" } else { "" },
            summary.breached,
            escape(&share),
            escape(&median),
            escape(&worst),
            escape(&when),
            chart_svg(&series.points, 260, 56, &title)
        );
    }
    out.push_str("</table>\n<details><summary>Every run</summary><table><tr><th>Group</th><th>Time</th><th>Status</th><th>Value</th></tr>\n");
    for (series, _) in &check.groups {
        for point in &series.points {
            let value = point
                .value
                .map_or_else(|| "-".to_owned(), |v| value_text(check, v));
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td{}>{}</td><td class=\"num\">{}</td></tr>",
                escape(&series.group_key),
                escape(&local(point.at, zone)),
                if point.status == Status::Breach {
                    " class=\"breach\""
                } else {
                    ""
                },
                point.status.as_str(),
                escape(&value)
            );
        }
    }
    out.push_str("</table></details></section>\n");
}

fn episodes(out: &mut String, period: &Period) {
    let zone = period.zone;
    out.push_str("<h2>Alerts: what was known and what followed</h2>\n");
    if period.episodes.is_empty() {
        out.push_str("<p>No alert was open in the period.</p>\n");
        return;
    }
    out.push_str("<table><tr><th>Check, group</th><th>Pending since</th><th>Fired</th><th>First told</th><th>Reminders and thread</th><th>Acknowledged</th><th>Resolved</th></tr>\n");
    for record in &period.episodes {
        let e = &record.episode;
        let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(|| "-".to_owned(), |t| local(t, zone))
        };
        let _ = writeln!(
            out,
            "<tr><td>{} {}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.check_id),
            escape(&e.group_key),
            e.severity.as_str(),
            escape(&local(e.started_at, zone)),
            escape(&when(e.firing_since)),
            first_told(record, zone),
            reminders(record, zone),
            acks(record, zone),
            escape(&resolution(record, zone))
        );
    }
    out.push_str("</table>\n");
}

fn first_told(record: &EpisodeRecord, zone: chrono_tz::Tz) -> String {
    match record.messages.first() {
        Some(m) => format!(
            "{}{}<br>route {}, {} recipient(s)<br><code>{}</code>",
            escape(&local(m.queued_at, zone)),
            if m.sent_at.is_none() {
                " (not yet sent)"
            } else {
                ""
            },
            escape(&m.route),
            m.recipients,
            escape(&m.message_id)
        ),
        None => "not told".to_owned(),
    }
}

fn reminders(record: &EpisodeRecord, zone: chrono_tz::Tz) -> String {
    // The thread also holds what other routes were told in the same run.
    let later: Vec<String> = record
        .messages
        .iter()
        .skip(1)
        .map(|m| escape(&format!("{} to {}", local(m.queued_at, zone), m.route)))
        .collect();
    format!(
        "{} reminder(s){}{}",
        record.episode.reminders,
        if later.is_empty() {
            ""
        } else {
            "; in the thread:<br>"
        },
        later.join("<br>")
    )
}

fn acks(record: &EpisodeRecord, zone: chrono_tz::Tz) -> String {
    let lines: Vec<String> = record
        .acks
        .iter()
        .map(|a| {
            let until = a.until.map_or_else(
                || "cleared".to_owned(),
                |u| format!("until {}", local(u, zone)),
            );
            let note = a
                .note
                .as_deref()
                .map_or_else(String::new, |n| format!(": {n}"));
            escape(&format!("{} at {}, {until}{note}", a.by, local(a.at, zone)))
        })
        .collect();
    if lines.is_empty() {
        "-".to_owned()
    } else {
        lines.join("<br>")
    }
}

fn resolution(record: &EpisodeRecord, zone: chrono_tz::Tz) -> String {
    let e = &record.episode;
    match (e.resolved_at, &record.note) {
        (Some(at), _) => {
            let told = e
                .resolution_notified_at
                .map_or_else(String::new, |t| format!("; told {}", local(t, zone)));
            format!("{}{told}", local(at, zone))
        }
        (None, Some(note)) if record.closed => format!("closed: {note}"),
        _ => format!("open ({})", e.phase.as_str()),
    }
}

fn notes(out: &mut String, period: &Period) {
    out.push_str("<h2>Notes</h2>\n");
    if period.notes.is_empty() {
        out.push_str("<p>No note was recorded in the period.</p>\n");
        return;
    }
    out.push_str("<table><tr><th>When</th><th>By</th><th>Check, groups</th><th>Note</th></tr>\n");
    for note in &period.notes {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>",
            escape(&local(note.at, period.zone)),
            escape(&note.by),
            escape(&note.check_id),
            escape(&crate::check::label_text(&note.labels)),
            escape(&note.text)
        );
    }
    out.push_str("</table>\n");
}

fn outages(out: &mut String, period: &Period) {
    out.push_str("<h2>Periods a source was unavailable</h2>\n");
    if period.outages.is_empty() {
        out.push_str("<p>Every recorded run could read its source.</p>\n");
        return;
    }
    out.push_str(
        "<table><tr><th>Source</th><th>Check</th><th>From</th><th>To</th><th>Runs</th></tr>\n",
    );
    for o in &period.outages {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            escape(&o.source),
            escape(&o.check_id),
            escape(&local(o.from, period.zone)),
            escape(&local(o.to, period.zone)),
            o.runs
        );
    }
    out.push_str("</table>\n");
}

fn annual(out: &mut String, period: &Period) {
    out.push_str("<h2>Annual view (DMHC Timely Access Compliance Report)</h2>\n");
    if period.annual.is_empty() {
        out.push_str(
            "<p>No wait-time check with a compliance rate was recorded in the period.</p>\n",
        );
        return;
    }
    out.push_str("<p class=\"meta\">Per network (group) and measurement year: the mean of the year's recorded rates of compliance against the target. Below it, a corrective action plan is due.</p>\n");
    out.push_str("<table><tr><th>Year</th><th>Standard</th><th>Network</th><th>Rate</th><th>Target</th><th>Runs</th><th>Corrective action plan</th></tr>\n");
    for a in &period.annual {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            a.year,
            escape(&a.standard),
            escape(&a.network),
            if a.needs_plan() { " breach" } else { "" },
            a.rate.map_or_else(|| "-".to_owned(), percent),
            percent(a.target),
            a.runs,
            if a.needs_plan() {
                "<span class=\"breach\">needed</span>"
            } else {
                "-"
            }
        );
    }
    out.push_str("</table>\n");
    let needing: Vec<String> = period
        .annual
        .iter()
        .filter(|a| a.needs_plan())
        .map(|a| format!("{} ({}, {})", a.network, a.standard, a.year))
        .collect();
    let _ = writeln!(
        out,
        "<p>Networks needing a corrective action plan: {}.</p>",
        if needing.is_empty() {
            "none".to_owned()
        } else {
            escape(&needing.join("; "))
        }
    );
}

fn standards(out: &mut String, period: &Period) {
    out.push_str("<h2>Standards, calendars and time zones</h2>\n<table><tr><th>Check</th><th>Standard</th><th>Citation</th><th>Basis</th><th>Confidence</th><th>Calendar</th><th>Time zone</th></tr>\n");
    for s in &period.standards {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.check_id),
            escape(&s.title),
            escape(s.standard.as_deref().unwrap_or("")),
            escape(&s.citation),
            escape(&s.basis),
            escape(&s.confidence),
            escape(s.calendar.as_deref().unwrap_or("-")),
            escape(&s.time_zone)
        );
    }
    let _ = writeln!(
        out,
        "</table>\n<p class=\"meta\">Times in this report are in {}; business days are counted on each standard's calendar.</p>",
        escape(period.zone.name())
    );
}
