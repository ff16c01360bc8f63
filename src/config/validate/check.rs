//! `[[check]]` and `[[route]]`.

use std::collections::BTreeSet;

use super::{Validator, ident, wrong_kind};
use crate::check::schedule::Schedule;
use crate::config::load::Entry;
use crate::config::raw::*;
use crate::config::*;
use crate::notify::mail as address;

/// What the kind-specific part of a check decides.
pub(super) struct KindParts {
    pub rule: Rule,
    pub comparison: Option<Comparison>,
    pub metric: String,
    pub title: Option<String>,
    pub citation: Option<String>,
}

/// The daemon's time zone, and whether the file set it (or UTC by default).
#[derive(Debug, Clone, Copy)]
pub(super) struct Zones {
    pub daemon: Tz,
    pub daemon_set: bool,
}

pub(super) fn check(
    v: &mut Validator,
    entry: &Entry<RawCheck>,
    known_sources: &BTreeSet<&str>,
    zones: Zones,
    default_schedule: Option<&Schedule>,
) -> Option<Check> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let id = v
        .required(&raw.id, span, "`id` in [[check]]")
        .and_then(|id| ident(v, id, "id"));
    let kind = v
        .required(
            &raw.kind,
            span,
            "`kind` in [[check]] (\"threshold\", \"ratio\", \"timely_access\" or \"freshness\")",
        )
        .and_then(|k| {
            v.choice(
                k,
                "kind",
                &[
                    ("threshold", "threshold"),
                    ("ratio", "ratio"),
                    ("timely_access", "timely_access"),
                    ("freshness", "freshness"),
                ],
            )
        });
    let title = match (&raw.title, kind) {
        (Some(t), _) => v.non_empty(t, "title"),
        (None, Some("timely_access")) => None,
        (None, _) if raw.standard.is_some() => None,
        (None, _) => {
            v.required(&raw.title, span, "`title` in [[check]]");
            None
        }
    };
    let source = v.required(
        &raw.source,
        span,
        "`source` in [[check]] (the id of a [[source]])",
    );
    if let Some(source) = source
        && !known_sources.contains(source.get_ref().as_str())
    {
        let known: Vec<&str> = known_sources.iter().copied().collect();
        v.problem(
            source.span(),
            format!(
                "`source` {:?} is not the id of any [[source]] (known: {})",
                source.get_ref(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        );
    }
    if let Some(other) = &raw.numerator_source
        && !known_sources.contains(other.get_ref().as_str())
    {
        v.problem(
            other.span(),
            format!(
                "`numerator_source` {:?} is not the id of any [[source]]",
                other.get_ref()
            ),
        );
    }
    if let (Some(other), Some(kind)) = (&raw.numerator_source, kind)
        && kind != "ratio"
    {
        v.problem(
            other.span(),
            "`numerator_source` applies to kind = \"ratio\" only; remove it",
        );
    }
    let severity = raw.severity.as_ref().map_or(Some(Severity::Warning), |s| {
        v.choice(
            s,
            "severity",
            &[
                ("warning", Severity::Warning),
                ("critical", Severity::Critical),
            ],
        )
    });
    let own_tz = raw
        .time_zone
        .as_ref()
        .map(|tz| v.time_zone(tz, "time_zone"));
    let tz = own_tz.unwrap_or(Some(zones.daemon));
    // Local dates of a wait-time check: the check's zone, else the
    // daemon's if set, else the standard's jurisdiction (timely_access).
    let date_zone = match own_tz {
        Some(zone) => zone.map(Some),
        None => Some(zones.daemon_set.then_some(zones.daemon)),
    };
    let schedule = match (&raw.schedule, tz) {
        (Some(expr), Some(tz)) => v.schedule(expr, "schedule", tz),
        (None, Some(tz)) => default_schedule.map(|d| d.in_zone(tz)),
        (_, None) => None,
    };
    let group_by: Vec<String> = raw
        .group_by
        .as_ref()
        .map(|g| g.get_ref().iter().map(|f| f.get_ref().clone()).collect())
        .unwrap_or_default();
    let parts = match kind? {
        "timely_access" => super::timely::timely_access(v, raw, span, date_zone?)?,
        "freshness" => freshness(v, raw, span)?,
        kind => threshold_or_ratio(v, raw, span, kind)?,
    };
    let metric = raw
        .metric
        .as_ref()
        .map_or(parts.metric, |m| m.get_ref().clone());
    let base_policy = v.defaults.policy.clone();
    let policy = super::alerting::policy(
        v,
        &raw.for_,
        &raw.repeat_interval,
        &raw.repeat_backoff,
        &raw.send_resolved,
        &base_policy,
    );
    let clear_at = super::alerting::clear_at(v, raw, parts.comparison);
    Some(Check {
        id: id?,
        title: title.or(parts.title)?,
        severity: severity?,
        citation: raw
            .citation
            .as_ref()
            .map(|c| c.get_ref().clone())
            .or(parts.citation),
        source: source?.get_ref().clone(),
        group_by,
        // The source's `require_labels` applies when the check has none:
        // `validate` fills it in once the sources are known.
        require_labels: raw.require_labels.as_ref().is_some_and(|r| *r.get_ref()),
        metric,
        rule: parts.rule,
        comparison: parts.comparison?,
        schedule: schedule?,
        policy,
        clear_at,
    })
}

fn threshold_or_ratio(
    v: &mut Validator,
    raw: &RawCheck,
    span: &std::ops::Range<usize>,
    kind: &str,
) -> Option<KindParts> {
    super::timely::not_for_kind(v, raw, kind);
    let standard = super::timely::staffing_standard(v, raw, kind);
    if raw.standard.is_some() && standard.is_none() {
        return None;
    }
    let op = match (&raw.op, &standard) {
        (Some(o), _) => v.choice(
            o,
            "op",
            &[("<", Op::Lt), ("<=", Op::Le), (">", Op::Gt), (">=", Op::Ge)],
        ),
        (None, Some(standard)) => Some(standard.op),
        (None, None) => v
            .required(
                &raw.op,
                span,
                "`op` in [[check]] (the healthy side: \"<\", \"<=\", \">\" or \">=\")",
            )
            .and(None),
    };
    let limit = match (&raw.limit, &standard) {
        (Some(l), _) => v.finite(l, "limit"),
        (None, Some(standard)) => Some(standard.limit),
        (None, None) => v
            .required(&raw.limit, span, "`limit` in [[check]]")
            .and(None),
    };
    let (rule, metric) = if kind == "threshold" {
        let field = v.required(
            &raw.field,
            span,
            "`field` in [[check]] of kind \"threshold\"",
        );
        let aggregate = raw.aggregate.as_ref().map_or(Some(Aggregate::Worst), |a| {
            v.choice(
                a,
                "aggregate",
                &[
                    ("worst", Aggregate::Worst),
                    ("sum", Aggregate::Sum),
                    ("mean", Aggregate::Mean),
                    ("min", Aggregate::Min),
                    ("max", Aggregate::Max),
                    ("count", Aggregate::Count),
                ],
            )
        });
        wrong_kind(
            v,
            &[
                ("numerator", &raw.numerator),
                ("denominator", &raw.denominator),
            ],
            "ratio",
        );
        let field = field?.get_ref().clone();
        let metric = field.replace('_', " ");
        let rule = Rule::Threshold {
            field,
            aggregate: aggregate?,
        };
        (rule, metric)
    } else {
        let numerator = v.required(
            &raw.numerator,
            span,
            "`numerator` in [[check]] of kind \"ratio\"",
        );
        let denominator = v.required(
            &raw.denominator,
            span,
            "`denominator` in [[check]] of kind \"ratio\"",
        );
        wrong_kind(
            v,
            &[("field", &raw.field), ("aggregate", &raw.aggregate)],
            "threshold",
        );
        let (numerator, denominator) =
            (numerator?.get_ref().clone(), denominator?.get_ref().clone());
        let metric = format!(
            "{} per {}",
            numerator.replace('_', " "),
            denominator.replace('_', " ")
        );
        let numerator_source = raw.numerator_source.as_ref().map(|s| s.get_ref().clone());
        let shortage = standard.as_ref().is_some_and(|s| s.shortage);
        match (&raw.psychiatrists, shortage) {
            (Some(p), false) => {
                v.problem(
                    p.span(),
                    "`psychiatrists` belongs to the shortage rule (standard = \"us-hrsa/mh-hpsa\"); remove it",
                );
                return None;
            }
            (None, true) => {
                v.problem(
                    span.clone(),
                    "standard \"us-hrsa/mh-hpsa\" judges two ratios: add `psychiatrists`, the field \
                     holding psychiatrist FTEs (`numerator` is the population, `denominator` the \
                     core mental health professionals)",
                );
                return None;
            }
            (Some(p), true) => (
                Rule::Shortage {
                    population: numerator,
                    core: denominator,
                    psychiatrists: p.get_ref().clone(),
                },
                metric,
            ),
            (None, false) => (
                Rule::Ratio {
                    numerator,
                    denominator,
                    numerator_source,
                },
                metric,
            ),
        }
    };
    let (metric, title, citation) = match standard {
        Some(s) => (s.metric, Some(s.title), Some(s.citation)),
        None => (metric, None, None),
    };
    Some(KindParts {
        rule,
        comparison: Some(Comparison {
            op: op?,
            limit: limit?,
        }),
        metric,
        title,
        citation,
    })
}

/// `kind = "freshness"`: the newest record (of `field`, per group, or the
/// source's data time) must be younger than `max_age`.
fn freshness(
    v: &mut Validator,
    raw: &RawCheck,
    span: &std::ops::Range<usize>,
) -> Option<KindParts> {
    super::timely::not_for_kind(v, raw, "freshness");
    wrong_kind(
        v,
        &[
            ("numerator", &raw.numerator),
            ("denominator", &raw.denominator),
            ("aggregate", &raw.aggregate),
            ("op", &raw.op),
        ],
        "threshold or ratio",
    );
    let max_age = v.required(
        &raw.max_age,
        span,
        "`max_age` in [[check]] of kind \"freshness\" (like \"26h\")",
    )?;
    let age = match super::parse_duration(max_age.get_ref()) {
        Ok(d) if !d.is_zero() => d,
        Err(e) if humantime::parse_duration(max_age.get_ref()).is_ok() => {
            v.problem(max_age.span(), format!("`max_age` {e}"));
            return None;
        }
        _ => {
            v.problem(
                max_age.span(),
                "`max_age` is a duration like \"26h\" or \"7d\"",
            );
            return None;
        }
    };
    let hours = age.as_secs_f64() / 3600.0;
    Some(KindParts {
        rule: Rule::Freshness {
            field: raw.field.as_ref().map(|f| f.get_ref().clone()),
        },
        comparison: Some(Comparison {
            op: Op::Le,
            limit: hours,
        }),
        metric: "hours since the newest record".to_owned(),
        title: None,
        citation: None,
    })
}

pub(super) fn route(
    v: &mut Validator,
    entry: &Entry<RawRoute>,
    check_ids: &BTreeSet<&str>,
) -> Option<Route> {
    v.broken = entry.broken.clone();
    let raw = &entry.value;
    let span = &entry.span;
    let name = v
        .required(&raw.name, span, "`name` in [[route]]")
        .and_then(|n| v.non_empty(n, "name"));
    let to_raw = v.required(
        &raw.to,
        span,
        "`to` in [[route]] (a list of email addresses)",
    );
    let mut to = Vec::new();
    if let Some(list) = to_raw {
        if list.get_ref().is_empty() {
            v.problem(list.span(), "`to` must list at least one address");
        }
        for address in list.get_ref() {
            match address::parse_mailbox(address.get_ref()) {
                Ok(a) => to.push(a),
                Err(e) => v.problem(
                    address.span(),
                    format!("`to`: {:?} is not an email address ({e}): write it like \"compliance@plan.example\" or \"Compliance <compliance@plan.example>\"", address.get_ref()),
                ),
            }
        }
    }
    let checks = super::check_ids(v, &raw.checks, check_ids);
    let mut severities = Vec::new();
    for severity in raw.severities.iter().flat_map(|s| s.get_ref()) {
        severities.extend(v.choice(
            severity,
            "severities",
            &[
                ("warning", Severity::Warning),
                ("critical", Severity::Critical),
            ],
        ));
    }
    let labels = raw
        .labels
        .iter()
        .flatten()
        .map(|(k, value)| (k.clone(), value.get_ref().clone()))
        .collect();
    let fallback = raw.fallback.as_ref().is_some_and(|f| *f.get_ref());
    if let Some(flag) = raw.fallback.as_ref().filter(|_| fallback) {
        let filters = [
            ("checks", raw.checks.is_some()),
            ("severities", raw.severities.is_some()),
            ("labels", raw.labels.is_some()),
        ];
        for (key, _) in filters.iter().filter(|(_, set)| *set) {
            v.problem(
                flag.span(),
                format!(
                    "a route with `fallback = true` receives every alert no other route received; \
                     remove its `{key}` (or make it an ordinary route without `fallback`)"
                ),
            );
        }
    }
    let escalation = match (&raw.escalate_after, &raw.escalate_to) {
        (None, None) => None,
        (Some(after), None) => {
            v.problem(
                after.span(),
                "`escalate_after` needs `escalate_to`, the name of the route told then",
            );
            None
        }
        (None, Some(to)) => {
            v.problem(
                to.span(),
                "`escalate_to` needs `escalate_after`, how long a critical alert fires unacknowledged first (like \"4h\")",
            );
            None
        }
        (Some(_), Some(to)) => {
            let after = v.duration(
                &raw.escalate_after,
                "escalate_after",
                Duration::from_secs(4 * 3600),
            );
            Some(Escalation {
                after: chrono::Duration::from_std(after).unwrap_or(chrono::Duration::hours(4)),
                to: to.get_ref().clone(),
            })
        }
    };
    Some(Route {
        name: name?,
        to,
        checks,
        severities,
        labels,
        fallback,
        escalation,
    })
}
