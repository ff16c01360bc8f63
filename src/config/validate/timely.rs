//! `[[check]]` of kind `timely_access`: a standard from the catalog and its
//! overrides (target, selection, limit, calendar, window, rejected share).

use std::ops::Range;
use std::sync::Arc;

use super::Validator;
use super::check::KindParts;
use crate::check::calendar::{Calendar, Preset};
use crate::check::standards::Telehealth;
use crate::check::standards::{self, Measure, ProviderType, Urgency, VisitType};
use crate::check::{TargetSource, WaitRule};
use crate::config::raw::*;
use crate::config::*;

/// A staffing standard named by a `ratio` or `threshold` check: its
/// comparison, metric and citation, which the check's own keys override.
pub(super) struct StaffingDefaults {
    pub op: Op,
    pub limit: f64,
    pub metric: String,
    pub title: String,
    pub citation: String,
    /// HRSA's shortage rule: a second denominator (`psychiatrists`).
    pub shortage: bool,
}

pub(super) fn staffing_standard(
    v: &mut Validator,
    raw: &RawCheck,
    kind: &str,
) -> Option<StaffingDefaults> {
    let id = raw.standard.as_ref()?;
    let Some(standard) = standards::find(id.get_ref()) else {
        v.problem(
            id.span(),
            format!(
                "`standard` {:?} is not in the catalog{}: `accesswatch standards` lists them",
                id.get_ref(),
                super::standard_hint(id.get_ref())
            ),
        );
        return None;
    };
    let (op, limit, metric) = match (&standard.rule, kind) {
        (standards::Requirement::Shortage, "ratio") => (
            Op::Lt,
            6000.0,
            "population per core mental health professional",
        ),
        (standards::Requirement::Ratio { metric, op, limit }, "ratio")
        | (
            standards::Requirement::Threshold {
                metric, op, limit, ..
            },
            "threshold",
        ) => (*op, *limit, *metric),
        (rule, _) => {
            let wanted = match rule {
                standards::Requirement::WaitTime { .. } => "timely_access",
                standards::Requirement::Ratio { .. } => "ratio",
                standards::Requirement::Threshold { .. } => "threshold",
                standards::Requirement::Shortage => "ratio",
            };
            v.problem(
                id.span(),
                format!(
                    "standard {:?} is checked with kind = \"{wanted}\", not \"{kind}\"",
                    standard.id
                ),
            );
            return None;
        }
    };
    Some(StaffingDefaults {
        op,
        limit,
        metric: metric.to_owned(),
        title: standard.title.to_owned(),
        citation: citation(&standard),
        shortage: standard.rule == standards::Requirement::Shortage,
    })
}

fn citation(standard: &standards::Standard) -> String {
    let basis = match standard.basis {
        standards::Basis::Law => "law",
        standards::Basis::Benchmark => "a benchmark, not law",
    };
    format!(
        "{} (standard {}, {basis}; confidence {}: {})",
        standard.citation,
        standard.id,
        standard.confidence.letter(),
        standard.confidence.describe()
    )
}

/// Keys of `timely_access` checks, refused on the other kinds.
pub(super) fn not_for_kind(v: &mut Validator, raw: &RawCheck, kind: &str) {
    let strings = [
        ("urgency", &raw.urgency),
        ("visit_type", &raw.visit_type),
        ("calendar", &raw.calendar),
        ("holidays_file", &raw.holidays_file),
        ("window", &raw.window),
    ];
    let mut spans: Vec<(&str, Range<usize>)> = strings
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (*key, v.span())))
        .collect();
    spans.extend(raw.target.as_ref().map(|t| ("target", t.span())));
    spans.extend(
        raw.max_rejected
            .as_ref()
            .map(|t| ("max_rejected", t.span())),
    );
    spans.extend(raw.prior_auth.as_ref().map(|t| ("prior_auth", t.span())));
    spans.extend(
        raw.provider_types
            .as_ref()
            .map(|t| ("provider_types", t.span())),
    );
    spans.extend(raw.holidays.as_ref().map(|t| ("holidays", t.span())));
    spans.extend(raw.pushdown.as_ref().map(|t| ("pushdown", t.span())));
    for (key, span) in spans {
        v.problem(
            span,
            format!("`{key}` applies to kind = \"timely_access\" only, not \"{kind}\"; remove it"),
        );
    }
}

pub(super) fn timely_access(
    v: &mut Validator,
    raw: &RawCheck,
    span: &Range<usize>,
    zone: Option<Tz>,
) -> Option<KindParts> {
    for (key, value) in [
        ("field", &raw.field),
        ("aggregate", &raw.aggregate),
        ("numerator", &raw.numerator),
        ("denominator", &raw.denominator),
        ("op", &raw.op),
    ] {
        if let Some(value) = value {
            v.problem(
                value.span(),
                format!("`{key}` does not apply to kind = \"timely_access\"; remove it"),
            );
        }
    }
    let id = v.required(
        &raw.standard,
        span,
        "`standard` in [[check]] of kind \"timely_access\" (see `accesswatch standards`)",
    )?;
    let Some(standard) = standards::find(id.get_ref()) else {
        v.problem(
            id.span(),
            format!(
                "`standard` {:?} is not in the catalog{}: `accesswatch standards` lists them",
                id.get_ref(),
                super::standard_hint(id.get_ref())
            ),
        );
        return None;
    };
    let standards::Requirement::WaitTime {
        selection,
        clock,
        limit,
        unit,
        target,
        measure,
    } = standard.rule.clone()
    else {
        v.problem(
            id.span(),
            format!(
                "`standard` {:?} is not a wait-time standard: use it with kind = \"ratio\" or \"threshold\"",
                id.get_ref()
            ),
        );
        return None;
    };
    // Every override is checked before any `?`, so that all problems of
    // the check are reported together.
    let limit = match &raw.limit {
        Some(l) => v.finite(l, "limit").filter(|l| *l > 0.0).or_else(|| {
            v.problem(l.span(), "`limit` must be more than zero");
            None
        }),
        None => Some(limit),
    };
    let target_source = if raw.target.is_some() {
        TargetSource::Plan
    } else {
        TargetSource::Law
    };
    let target = match (&raw.target, target, measure) {
        (Some(t), _, _) => share(v, t, "target"),
        (None, Some(t), _) => Some(t),
        (None, None, Measure::MeanWait) => Some(1.0),
        (None, None, Measure::ShareWithinLimit) => {
            v.problem(
                id.span(),
                format!(
                    "standard {:?} states no compliance target: set `target`, a share like 0.9 for 90 %",
                    standard.id
                ),
            );
            None
        }
    };
    let selection = selection_overrides(v, raw, selection);
    let calendar = calendar(v, raw, standard.id);
    let window = match &raw.window {
        None => Some(chrono::Duration::days(30)),
        Some(w) => {
            match super::parse_duration(w.get_ref()) {
                Ok(d) if d >= std::time::Duration::from_secs(3600) => {
                    chrono::Duration::from_std(d).ok()
                }
                Err(e) if humantime::parse_duration(w.get_ref()).is_ok() => {
                    v.problem(w.span(), format!("`window` {e}"));
                    None
                }
                _ => {
                    v.problem(w.span(), "`window` must be a duration of at least an hour, like \"30d\" or \"90 days\"");
                    None
                }
            }
        }
    };
    let max_rejected = match &raw.max_rejected {
        Some(m) => share(v, m, "max_rejected"),
        None => Some(0.05),
    };
    // The day the standard starts for this plan: `in_force_from`, or the
    // catalog's effective date.
    let effective = match &raw.in_force_from {
        None => Some(standard.effective),
        Some(text) => match chrono::NaiveDate::parse_from_str(text.get_ref(), "%Y-%m-%d") {
            Ok(date) if standard.effective.is_some_and(|earliest| date < earliest) => {
                v.problem(
                    text.span(),
                    format!(
                        "`in_force_from` {date} is before the standard's earliest start ({}): \
                         give the first day of the plan's first period on or after it",
                        standard.effective_text
                    ),
                );
                None
            }
            Ok(date) => Some(Some(date)),
            Err(_) => {
                v.problem(
                    text.span(),
                    "`in_force_from` must be a date like \"2027-09-01\" (the start of the plan's rating period)",
                );
                None
            }
        },
    };
    // The check's rule, else the catalog's, else a telehealth offer counts.
    let telehealth = match &raw.telehealth {
        None => Some(standard.telehealth.unwrap_or(Telehealth::Counts)),
        Some(text) => match Telehealth::parse(text.get_ref()) {
            Some(t) => Some(t),
            None => {
                v.problem(
                    text.span(),
                    "`telehealth` must be \"counts\", \"unless_in_person_requested\", \"member_choice\" or \"does_not_count\"",
                );
                None
            }
        },
    };
    let (limit, target, selection, calendar, window, max_rejected) = (
        limit?,
        target?,
        selection?,
        calendar?,
        window?,
        max_rejected?,
    );
    let (effective, telehealth) = (effective?, telehealth?);
    let within = unit.words(limit);
    let (comparison, metric) = match measure {
        Measure::ShareWithinLimit => (
            Comparison {
                op: Op::Ge,
                limit: target,
            },
            format!("of requests offered an appointment within {within}"),
        ),
        Measure::MeanWait => (
            Comparison { op: Op::Le, limit },
            format!("{} of mean wait", unit.words(2.0).trim_start_matches("2 ")),
        ),
    };
    let citation = citation(&standard);
    let title = standard.title.to_owned();
    let time_zone = zone.or(standard.time_zone).unwrap_or(Tz::UTC);
    let target_from = match target_source {
        TargetSource::Law => standard.target_from,
        TargetSource::Plan => None,
    };
    let rule = WaitRule {
        effective,
        telehealth,
        standard,
        selection,
        clock,
        limit,
        unit,
        target,
        target_source,
        target_from,
        measure,
        calendar: Arc::new(calendar),
        time_zone,
        window,
        max_rejected,
        values: Default::default(),
        pushdown: raw.pushdown.as_ref().map(|p| *p.get_ref()),
    };
    Some(KindParts {
        rule: Rule::TimelyAccess(Box::new(rule)),
        comparison: Some(comparison),
        metric,
        title: Some(title),
        citation: Some(citation),
    })
}

/// A share between 0 and 1.
fn share(v: &mut Validator, value: &S<f64>, key: &str) -> Option<f64> {
    let share = *value.get_ref();
    if (0.0..=1.0).contains(&share) {
        return Some(share);
    }
    let hint = if share > 1.0 && share <= 100.0 {
        format!(": for {share} % write {}", share / 100.0)
    } else {
        String::new()
    };
    v.problem(
        value.span(),
        format!("`{key}` is a share between 0 and 1{hint}"),
    );
    None
}

fn selection_overrides(
    v: &mut Validator,
    raw: &RawCheck,
    mut selection: standards::Selection,
) -> Option<standards::Selection> {
    let mut ok = true;
    if let Some(u) = &raw.urgency {
        match Urgency::parse(u.get_ref()) {
            Some(urgency) => selection.urgency = Some(urgency),
            None => {
                v.problem(u.span(), "`urgency` must be \"urgent\" or \"non_urgent\"");
                ok = false;
            }
        }
    }
    if let Some(t) = &raw.visit_type {
        match VisitType::parse(t.get_ref()) {
            Some(visit) => selection.visit_type = Some(visit),
            None => {
                v.problem(
                    t.span(),
                    "`visit_type` must be \"initial\" or \"follow_up\"",
                );
                ok = false;
            }
        }
    }
    if let Some(p) = &raw.prior_auth {
        selection.prior_auth = Some(*p.get_ref());
    }
    if let Some(list) = &raw.provider_types {
        selection.provider_types.clear();
        for item in list.get_ref() {
            match ProviderType::parse(item.get_ref()) {
                Some(p) => selection.provider_types.push(p),
                None => {
                    v.problem(
                        item.span(),
                        "`provider_types`: use \"non_physician_mh\", \"psychiatrist\", \"primary_care\", \"specialist\" or \"ancillary\"",
                    );
                    ok = false;
                }
            }
        }
    }
    ok.then_some(selection)
}

/// The calendar: `calendar` (default: `ca-state` for California standards,
/// `us-federal` otherwise), plus `holidays` and the dates of `holidays_file`.
fn calendar(v: &mut Validator, raw: &RawCheck, standard: &str) -> Option<Calendar> {
    let default = Preset::parse(standards::default_calendar(standard)).unwrap_or(Preset::UsFederal);
    let preset = match &raw.calendar {
        None => Some(default),
        Some(name) => Preset::parse(name.get_ref()).or_else(|| {
            v.problem(
                name.span(),
                format!(
                    "`calendar` must be \"us-federal\", \"ca-state\" or \"weekdays\"{}",
                    super::did_you_mean(name.get_ref(), ["us-federal", "ca-state", "weekdays"])
                ),
            );
            None
        }),
    };
    let mut extra = Vec::new();
    let mut ok = true;
    for day in raw.holidays.iter().flat_map(|h| h.get_ref()) {
        match chrono::NaiveDate::parse_from_str(day.get_ref(), "%Y-%m-%d") {
            Ok(date) => extra.push(date),
            Err(_) => {
                v.problem(
                    day.span(),
                    format!(
                        "`holidays`: {:?} is not a date like \"2026-12-24\"",
                        day.get_ref()
                    ),
                );
                ok = false;
            }
        }
    }
    if let Some(file) = &raw.holidays_file {
        let path = v.path(file.get_ref());
        let dates = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| {
                crate::check::calendar::parse_date_file(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))
            });
        match dates {
            Ok(dates) => extra.extend(dates),
            Err(e) => {
                v.problem(file.span(), format!("`holidays_file`: {e}"));
                ok = false;
            }
        }
    }
    Some(Calendar::new(preset.filter(|_| ok)?, &extra))
}
