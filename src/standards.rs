//! Temporary stub of the standards catalog (replaced by the full catalog).

use chrono::NaiveDate;

use crate::config::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    Verified,
    Secondary,
    Recalled,
}
impl Confidence {
    pub fn letter(self) -> &'static str {
        match self {
            Confidence::Verified => "V",
            Confidence::Secondary => "S",
            Confidence::Recalled => "R",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Confidence::Verified => "seen in the text of a primary or secondary source",
            Confidence::Secondary => "secondary sources only",
            Confidence::Recalled => "recalled, not seen",
        }
    }
}

macro_rules! canonical_enum {
    ($name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),* }
        impl $name {
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }
    };
}

canonical_enum!(Urgency { Urgent = "urgent", NonUrgent = "non_urgent" });
canonical_enum!(VisitType { Initial = "initial", FollowUp = "follow_up" });
canonical_enum!(ProviderType {
    NonPhysicianMh = "non_physician_mh",
    Psychiatrist = "psychiatrist",
    PrimaryCare = "primary_care",
    Specialist = "specialist",
    Ancillary = "ancillary",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Hours,
    BusinessDays,
    CalendarDays,
}
impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Hours => "hours",
            Unit::BusinessDays => "business_days",
            Unit::CalendarDays => "calendar_days",
        }
    }
    pub fn words(self, n: f64) -> String {
        let unit = match self {
            Unit::Hours => "hours",
            Unit::BusinessDays => "business days",
            Unit::CalendarDays => "calendar days",
        };
        format!("{n} {unit}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStart {
    Request,
    PriorAppointment,
    Discharge,
}
impl ClockStart {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockStart::Request => "request",
            ClockStart::PriorAppointment => "prior_appointment",
            ClockStart::Discharge => "discharge",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub urgency: Option<Urgency>,
    pub visit_type: Option<VisitType>,
    pub prior_auth: Option<bool>,
    pub provider_types: Vec<ProviderType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    ShareWithinLimit,
    MeanWait,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    WaitTime {
        selection: Selection,
        clock: ClockStart,
        limit: f64,
        unit: Unit,
        target: Option<f64>,
        measure: Measure,
    },
    Ratio {
        metric: &'static str,
        op: Op,
        limit: f64,
    },
    Threshold {
        metric: &'static str,
        op: Op,
        limit: f64,
        unit: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Standard {
    pub id: &'static str,
    pub title: &'static str,
    pub applies_to: &'static str,
    pub rule: Rule,
    pub effective: Option<NaiveDate>,
    pub effective_text: &'static str,
    pub citation: &'static str,
    pub confidence: Confidence,
    pub note: &'static str,
}

pub fn catalog() -> Vec<Standard> {
    vec![Standard {
        id: "ca-dmhc/non-urgent-mh-initial",
        title: "Non-urgent initial visit with a non-physician mental health provider",
        applies_to: "non-urgent initial visit with a non-physician mental health or SUD provider",
        rule: Rule::WaitTime {
            selection: Selection {
                urgency: Some(Urgency::NonUrgent),
                visit_type: Some(VisitType::Initial),
                prior_auth: None,
                provider_types: vec![ProviderType::NonPhysicianMh],
            },
            clock: ClockStart::Request,
            limit: 10.0,
            unit: Unit::BusinessDays,
            target: Some(0.7),
            measure: Measure::ShareWithinLimit,
        },
        effective: NaiveDate::from_ymd_opt(2011, 1, 17),
        effective_text: "2011-01-17",
        citation: "28 CCR §1300.67.2.2(c)(5); H&S Code §1367.03(a)(5)",
        confidence: Confidence::Verified,
        note: "",
    }]
}

pub fn find(id: &str) -> Option<Standard> {
    catalog().into_iter().find(|s| s.id == id)
}

pub fn render_text(standards: &[Standard]) -> String {
    standards.iter().map(|s| format!("{}\n", s.id)).collect()
}

pub fn to_json(standards: &[Standard]) -> serde_json::Value {
    serde_json::Value::Array(standards.iter().map(|s| serde_json::json!({"id": s.id})).collect())
}
