//! [`WaitRule`]: a validated `timely_access` rule, the standard with
//! every override the check made.

use std::sync::Arc;

use chrono_tz::Tz;

use super::calendar::Calendar;
use super::fields::{Field, ValueMaps};
use super::standards::{ClockStart, Measure, Selection, Standard, Unit};

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
    pub measure: Measure,
    pub calendar: Arc<Calendar>,
    pub time_zone: Tz,
    pub window: chrono::Duration,
    pub max_rejected: f64,
    /// The source's `[source.values]`, copied here when the configuration
    /// is validated.
    pub values: Arc<ValueMaps>,
}

impl WaitRule {
    pub fn clock_field(&self) -> Field {
        match self.clock {
            ClockStart::Request => Field::RequestedAt,
            ClockStart::PriorAppointment => Field::PriorAppointmentAt,
            ClockStart::Discharge => Field::DischargedAt,
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
