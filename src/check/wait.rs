//! [`WaitRule`]: a validated `timely_access` rule, the standard with
//! every override the check made.

use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::calendar::Calendar;
use super::fields::{Field, ValueMaps};
use super::standards::{ClockStart, Measure, ProviderType, Selection, Standard, Telehealth, Unit};

/// Whose compliance target a check judges by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSource {
    /// The standard's, from the law.
    Law,
    /// The check's `target`: the plan's own (required where the law
    /// states none).
    Plan,
}

/// A validated `timely_access` check: the standard and every override.
#[derive(Debug, Clone)]
pub struct WaitRule {
    pub standard: Standard,
    pub selection: Selection,
    pub clock: ClockStart,
    pub limit: f64,
    pub unit: Unit,
    /// Required share within the limit (0..=1); for `MeanWait`, unused.
    pub target: f64,
    /// Whose target it is: the check's own (`target` set), or the law's.
    pub target_source: TargetSource,
    /// The law's target applies from this day (DMHC's 70 % from MY
    /// 2023); before it no target applies. `None`: always.
    pub target_from: Option<NaiveDate>,
    pub measure: Measure,
    /// The day the standard starts for this plan: the catalog's, or the
    /// check's `in_force_from`. Requests whose clock started before it
    /// are not judged by the standard.
    pub effective: Option<NaiveDate>,
    /// Whether a telehealth offer meets the standard.
    pub telehealth: Telehealth,
    pub calendar: Arc<Calendar>,
    pub time_zone: Tz,
    pub window: chrono::Duration,
    pub max_rejected: f64,
    /// The source's `[source.values]`, copied here when the configuration
    /// is validated.
    pub values: Arc<ValueMaps>,
    /// The check's own `pushdown`: whether a PostgreSQL source may
    /// evaluate the check itself (otherwise its rows are pulled); `None`
    /// leaves it to the source (`[source.postgres] pushdown`, on by
    /// default).
    pub pushdown: Option<bool>,
}

impl WaitRule {
    pub fn clock_field(&self) -> Field {
        match self.clock {
            ClockStart::Request => Field::RequestedAt,
            ClockStart::PriorAppointment => Field::PriorAppointmentAt,
            ClockStart::Discharge => Field::DischargedAt,
            ClockStart::CallStart => Field::CallStartedAt,
        }
    }

    /// The field that ends a wait: the first offered appointment, or the
    /// answer of a call.
    pub fn end_field(&self) -> Field {
        match self.clock {
            ClockStart::CallStart => Field::AnsweredAt,
            _ => Field::FirstOfferedAt,
        }
    }

    /// The day a request with `provider` starts to be judged: the later of
    /// the plan's start of the standard and the provider type's own date
    /// (SUD providers under DMHC's initial-visit rule from 2022-07-01).
    pub fn effective_for(&self, provider: Option<ProviderType>) -> Option<NaiveDate> {
        let own = provider.and_then(|p| {
            self.standard
                .provider_from
                .iter()
                .find(|(q, _)| *q == p)
                .map(|(_, d)| *d)
        });
        self.effective.max(own)
    }

    /// The target in force on `day`: `None` before the law's target
    /// applies (and the check set none).
    pub fn target_on(&self, day: NaiveDate) -> Option<f64> {
        match self.target_from {
            Some(from) if day < from => None,
            _ => Some(self.target),
        }
    }

    /// The fields a row must have for this rule, beyond the clock start.
    pub fn selected_fields(&self) -> Vec<Field> {
        let s = &self.selection;
        [
            (s.urgency.is_some(), Field::Urgency),
            (s.visit_type.is_some(), Field::VisitType),
            (s.prior_auth.is_some(), Field::PriorAuth),
            (!s.provider_types.is_empty(), Field::ProviderType),
        ]
        .into_iter()
        .filter_map(|(used, field)| used.then_some(field))
        .collect()
    }
}
