//! The status page that `[daemon] listen` serves: `/`, every check and
//! group as a grid coloured by status, and `/check/ID`, each group's
//! history with its limit line, the alerts, notes and the standard. Pure:
//! values in, HTML out; `daemon::serve` reads the state and does the IO.
//!
//! Server-rendered HTML with one small stylesheet and inline SVG, no
//! script: it works with JavaScript off. Accessible by construction:
//! tables with header cells and captions, colours that keep 4.5:1 contrast
//! with a word for every status (colour is never the only signal), and a
//! text alternative (`<title>`) for every chart. It shows labels,
//! aggregates and counts, as the emails do, never member-level data.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::chart;
use super::render::{escape, local_time as local, percent, value_text};
use crate::check::history::{Note, Series};
use crate::check::{CheckResult, Episode, GroupResult, Phase, Status};

/// What the pages show: the latest result of each check, the open alerts,
/// the recorded history and notes, as of `now` in `zone`.
pub struct Overview<'a> {
    pub now: DateTime<Utc>,
    pub zone: Tz,
    pub results: &'a [CheckResult],
    pub episodes: &'a [Episode],
    pub series: &'a [Series],
    pub notes: &'a [Note],
    /// When the last run finished; `None` before the first.
    pub last_run: Option<DateTime<Utc>>,
}

const STYLE: &str = "\
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5rem;color:#1b1b1b;background:#fff}\
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}\
p.meta{color:#444;margin:0 0 1rem}a{color:#0b4f9c}\
table{border-collapse:collapse;margin:.5rem 0 1rem;min-width:60%}\
caption{text-align:left;font-weight:600;padding:.25rem 0}\
th,td{border:1px solid #c9c9c9;padding:.35rem .6rem;text-align:left;vertical-align:middle}\
th{background:#f1f1f1}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.ok{background:#e3f4e8;color:#0f5132}.breach-critical{background:#fbe1e1;color:#7a0c0c}\
.breach-warning{background:#fff1cc;color:#5c3d00}.unknown{background:#ececec;color:#333}\
.not_in_force{background:#e6eef8;color:#173a63}\
.status{font-weight:700;text-transform:uppercase;font-size:.8rem;letter-spacing:.03em}\
svg{vertical-align:middle}ul.notes{margin:.25rem 0 1rem}\
@media (prefers-color-scheme:dark){body{background:#121212;color:#eee}th{background:#2a2a2a}\
th,td{border-color:#555}a{color:#8ab4f8}p.meta{color:#bbb}\
.ok{background:#12351f;color:#b8f0c8}.breach-critical{background:#4a1010;color:#ffd0d0}\
.breach-warning{background:#4a3a00;color:#ffe9a8}.unknown{background:#333;color:#ddd}\
.not_in_force{background:#15283f;color:#cfe0f7}}\
@media print{a{color:inherit}}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

/// The CSS class and the word of a group's status.
fn status_class(result: &CheckResult, status: Status) -> (&'static str, String) {
    match status {
        Status::Ok => ("ok", "ok".to_owned()),
        Status::Breach => match result.severity {
            crate::check::Severity::Critical => ("breach-critical", "critical".to_owned()),
            crate::check::Severity::Warning => ("breach-warning", "warning".to_owned()),
        },
        Status::Unknown => ("unknown", "unknown".to_owned()),
        Status::NotInForce => ("not_in_force", "not in force".to_owned()),
    }
}

fn series_of<'a>(o: &'a Overview<'_>, check: &str, group: &GroupResult) -> Option<&'a Series> {
    let key = group.label_text();
    o.series
        .iter()
        .find(|s| s.check_id == check && s.group_key == key)
}

fn episode_of<'a>(o: &'a Overview<'_>, check: &str, group: &GroupResult) -> Option<&'a Episode> {
    let key = group.label_text();
    o.episodes
        .iter()
        .find(|e| e.check_id == check && e.group_key == key && e.phase != Phase::Resolved)
}

/// The open alert of a group in words: "firing since …, acknowledged by
/// dana until …, last told …", or "pending".
fn alert_text(episode: Option<&Episode>, zone: Tz, now: DateTime<Utc>) -> String {
    let Some(e) = episode else {
        return "none".to_owned();
    };
    let mut parts = Vec::new();
    match (e.phase, e.firing_since) {
        (Phase::Firing, Some(since)) => parts.push(format!("firing since {}", local(since, zone))),
        (Phase::Pending, _) => parts.push(format!("pending since {}", local(e.started_at, zone))),
        _ => parts.push(e.phase.as_str().to_owned()),
    }
    if let (Some(until), Some(by)) = (e.ack_until, &e.ack_by)
        && until > now
    {
        parts.push(format!(
            "acknowledged by {} until {}",
            escape(by),
            local(until, zone)
        ));
    }
    if let Some(told) = e.notified_at {
        parts.push(format!("first told {}", local(told, zone)));
    }
    if e.reminders > 0 {
        parts.push(format!(
            "{} reminder{}",
            e.reminders,
            if e.reminders == 1 { "" } else { "s" }
        ));
    }
    parts.join("; ")
}

fn value_cell(result: &CheckResult, group: &GroupResult) -> String {
    match group.value {
        Some(v) => value_text(result, v),
        None => "no value".to_owned(),
    }
}

fn limit_cell(result: &CheckResult, group: &GroupResult) -> String {
    match group.wait.as_ref().and_then(|w| w.target.map(|t| (t, w))) {
        Some((target, _)) => format!("target {}", percent(target)),
        None => format!(
            "{} {}",
            result.comparison.op.as_str(),
            value_text(result, group.limit)
        ),
    }
}

fn trend_cell(o: &Overview<'_>, result: &CheckResult, group: &GroupResult) -> String {
    let Some(series) = series_of(o, &result.id, group).filter(|s| s.points.len() >= 2) else {
        return "not enough history yet".to_owned();
    };
    let title = format!(
        "{} of {} over {} runs, from {} to {}",
        result.metric,
        group.label_text(),
        series.points.len(),
        series
            .points
            .first()
            .and_then(|p| p.value)
            .map_or("no value".to_owned(), |v| value_text(result, v)),
        series
            .points
            .last()
            .and_then(|p| p.value)
            .map_or("no value".to_owned(), |v| value_text(result, v)),
    );
    chart::chart_svg(&series.points, 120, 28, &title)
}

/// `/`: every check and group as a grid coloured by status.
pub fn index(o: &Overview<'_>) -> String {
    let mut body = String::from("<h1>accesswatch: access to care, as of the last run</h1>");
    let _ = write!(
        body,
        "<p class=\"meta\">Page made {}; last run {}. Aggregates and counts only, never member-level data.</p>",
        local(o.now, o.zone),
        o.last_run
            .map_or("not yet finished".to_owned(), |t| local(t, o.zone))
    );
    if o.results.is_empty() {
        body.push_str(
            "<p>No run has finished since the daemon started: the first run is under way.</p>",
        );
        return page("accesswatch status", &body);
    }
    body.push_str(
        "<table><caption>Checks and groups</caption><thead><tr>\
         <th scope=\"col\">Check</th><th scope=\"col\">Group</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Value</th><th scope=\"col\">Limit or target</th>\
         <th scope=\"col\">Trend</th><th scope=\"col\">Alert</th></tr></thead><tbody>",
    );
    for result in o.results {
        let link = format!(
            "<a href=\"/check/{}\">{}</a>",
            escape(&url_path(&result.id)),
            escape(&result.title)
        );
        if result.groups.is_empty() {
            let (class, word) = status_class(result, result.status);
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{link}</th><td>all</td><td class=\"{class} status\">{word}</td>\
                 <td colspan=\"4\">{}</td></tr>",
                escape(result.error.as_deref().unwrap_or("no groups"))
            );
            continue;
        }
        for group in &result.groups {
            let (class, word) = status_class(result, group.status);
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{link}</th><td>{}</td><td class=\"{class} status\">{word}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(&group.label_text()),
                escape(&value_cell(result, group)),
                escape(&limit_cell(result, group)),
                trend_cell(o, result, group),
                alert_text(episode_of(o, &result.id, group), o.zone, o.now),
            );
        }
    }
    body.push_str("</tbody></table>");
    body.push_str(
        "<p class=\"meta\"><a href=\"/metrics\">Prometheus metrics</a> · <a href=\"/healthz\">health</a></p>",
    );
    page("accesswatch status", &body)
}

/// `/check/ID`: each group's history with the limit line, the alerts,
/// notes, and the standard with its citation. `None`: no such check.
pub fn check(o: &Overview<'_>, id: &str, reports: &[(u32, String, String)]) -> Option<String> {
    let result = o.results.iter().find(|r| r.id == id)?;
    let mut body = format!(
        "<p><a href=\"/\">← all checks</a></p><h1>{}</h1><p class=\"meta\">Check <code>{}</code>; {} {} {}. Page made {}.</p>",
        escape(&result.title),
        escape(&result.id),
        escape(&result.metric),
        result.comparison.op.as_str(),
        escape(&value_text(result, result.comparison.limit)),
        local(o.now, o.zone),
    );
    if let Some(standard) = &result.standard {
        let _ = write!(
            body,
            "<h2>Standard</h2><p>{} (<code>{}</code>): {}. {} — {}; confidence {}: {}.</p>",
            escape(standard.title),
            escape(standard.id),
            escape(standard.applies_to),
            escape(standard.citation),
            super::render::basis_text(standard.basis),
            standard.confidence.letter(),
            escape(standard.confidence.describe())
        );
    } else if let Some(citation) = &result.citation {
        let _ = write!(body, "<h2>Standard</h2><p>{}</p>", escape(citation));
    }
    if let Some(error) = &result.error {
        let _ = write!(
            body,
            "<p><strong>Could not be evaluated:</strong> {}</p>",
            escape(error)
        );
    }
    for group in &result.groups {
        let (class, word) = status_class(result, group.status);
        let _ = write!(
            body,
            "<h2>{}</h2><p><span class=\"{class} status\">{word}</span> {} ({})</p>",
            escape(&group.label_text()),
            escape(&value_cell(result, group)),
            escape(&limit_cell(result, group)),
        );
        match series_of(o, &result.id, group) {
            Some(series) if !series.points.is_empty() => {
                let title = format!(
                    "History of {} for {}: {} runs; the dashed line is the limit",
                    result.metric,
                    group.label_text(),
                    series.points.len()
                );
                body.push_str(&chart::chart_svg(&series.points, 640, 160, &title));
                history_table(&mut body, result, series, o.zone);
            }
            _ => body.push_str("<p>No recorded history yet.</p>"),
        }
        let _ = write!(
            body,
            "<p>Alert: {}</p>",
            alert_text(episode_of(o, &result.id, group), o.zone, o.now)
        );
        let notes: Vec<&Note> = o
            .notes
            .iter()
            .filter(|n| n.concerns(&result.id, &group.labels))
            .collect();
        if !notes.is_empty() {
            body.push_str("<ul class=\"notes\">");
            for note in notes {
                let _ = write!(
                    body,
                    "<li>{} — {}, {}</li>",
                    escape(&note.text),
                    escape(&note.by),
                    local(note.at, o.zone)
                );
            }
            body.push_str("</ul>");
        }
    }
    if !reports.is_empty() {
        body.push_str("<h2>Period report</h2><ul>");
        for (days, html, csv) in reports {
            let _ = write!(
                body,
                "<li>Last {days} days: <a href=\"{}\">HTML</a> · <a href=\"{}\">CSV</a></li>",
                escape(html),
                escape(csv)
            );
        }
        body.push_str("</ul>");
    }
    Some(page(&format!("accesswatch: {}", result.title), &body))
}

/// The last ten runs of a series as a table: the chart's text alternative.
fn history_table(body: &mut String, result: &CheckResult, series: &Series, zone: Tz) {
    let _ = write!(
        body,
        "<table><caption>Last runs of {}</caption><thead><tr><th scope=\"col\">Run</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Value</th></tr></thead><tbody>",
        escape(&series.group_key)
    );
    for point in series.points.iter().rev().take(10) {
        let (class, word) = status_class(result, point.status);
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"{class} status\">{word}</td><td class=\"num\">{}</td></tr>",
            local(point.at, zone),
            point
                .value
                .map_or("no value".to_owned(), |v| value_text(result, v))
        );
    }
    body.push_str("</tbody></table>");
}

/// A check id in a URL path: ids are letters, digits, `-`, `_`, `.` and
/// `/` (the data-unavailable alerts), kept as they are but for `/`.
pub fn url_path(id: &str) -> String {
    id.replace('%', "%25").replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_paths() {
        assert_eq!(
            url_path("data-unavailable/staffing"),
            "data-unavailable%2Fstaffing"
        );
        assert_eq!(url_path("mh-initial"), "mh-initial");
    }
}
