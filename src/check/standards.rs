//! The built-in standards catalog: every access standard of sections 1–3 of
//! `design/standards.md`, with the id, citation, effective date and confidence that file gives
//! it, and its rendering for `accesswatch standards` (text and JSON). Pure data: deciding
//! which requests a standard applies to, evaluating it and overriding its numbers belong to the
//! evaluate and config modules. The rows below are kept in one table in the file's order so a
//! reviewer can read them against the design file line by line, which is why this file is
//! longer than most.
//!
//! Decisions the design file leaves open:
//! - Selections. Psychiatrists are physicians, so DMHC's "specialist physician" and the
//!   Marketplace "specialty" rows select specialist and psychiatrist; DMHC's non-physician
//!   mental health rows select only non_physician_mh. Rows about behavioral health in general
//!   (Medicaid outpatient MH/SUD, Marketplace behavioral health, New York, Maryland, Colorado,
//!   Oregon) select non_physician_mh and psychiatrist. An empty provider list means any
//!   provider (`ca-dmhc/urgent-*`, `md/urgent`); a row that states no urgency or visit type
//!   leaves it open (`ny/bh-initial` covers urgent and non-urgent initial visits).
//! - `ca-sb221/mh-follow-up` and `kp-dmhc-2023/follow-up-average` start the clock at the prior
//!   appointment; `ny/bh-post-discharge` at the discharge.
//! - Targets: "70 % of network (PAAS)" and "70 %" are 0.70, "95 % of enrollees" 0.95, "(none
//!   stated)" is None. The kp row is an average (`Measure::MeanWait`) with no share target.
//! - Effective dates: "current" and "long-standing" are None; "rating periods from 2027-07-09"
//!   is 2027-07-09, with the text kept because a rating period already running on that day is
//!   not yet covered. The NUHW contract has None with the text "contract ratified May 2025":
//!   the file gives a month, not a day, and a ratification date is not necessarily the day a
//!   term starts to bind, so the catalog does not invent one; an operator who evaluates
//!   periods before mid-2025 should set the date in their configuration.
//! - Staffing ratios hold when `value op limit`: enrollees per FTE at most the limit. The HRSA
//!   row is a shortage benchmark, not a plan duty: an area is short at 6,000 people or more
//!   per core mental health professional, so the healthy side is `< 6000`.
//! - "same" in the citation and applies-to columns is written out in full.

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::check::Op;

// Short names for the catalog table below.
use self::ClockStart::{Discharge, PriorAppointment, Request};
use self::Confidence::{Secondary as S, Verified as V};
use self::ProviderType::{Ancillary, NonPhysicianMh, PrimaryCare, Psychiatrist, Specialist};
use self::Unit::{BusinessDays, CalendarDays, Hours};
use self::Urgency::{NonUrgent, Urgent};
use self::VisitType::{FollowUp, Initial};

/// How sure we are that a catalog entry matches its source.
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
            Confidence::Secondary => "secondary only (plan notices, law-firm summaries)",
            Confidence::Recalled => "recalled, not seen",
        }
    }
}

/// Defines an enum of a request attribute with its canonical spellings (the ones data
/// sources and configuration use) and `parse`/`as_str` between the two.
macro_rules! spelled_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|value| value.as_str() == text)
            }

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}

spelled_enum!(
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    Urgency { Urgent => "urgent", NonUrgent => "non_urgent" }
);

spelled_enum!(
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    VisitType { Initial => "initial", FollowUp => "follow_up" }
);

spelled_enum!(
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    ProviderType {
        NonPhysicianMh => "non_physician_mh",
        Psychiatrist => "psychiatrist",
        PrimaryCare => "primary_care",
        Specialist => "specialist",
        Ancillary => "ancillary",
    }
);

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

    /// `n` of this unit in words: "10 business days", "48 hours", "1 calendar day".
    pub fn words(self, n: f64) -> String {
        let (one, many) = match self {
            Unit::Hours => ("hour", "hours"),
            Unit::BusinessDays => ("business day", "business days"),
            Unit::CalendarDays => ("calendar day", "calendar days"),
        };
        let noun = if n == 1.0 { one } else { many };
        format!("{} {noun}", number(n))
    }
}

/// The event a wait is measured from.
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

    fn phrase(self) -> &'static str {
        match self {
            ClockStart::Request => "at the request",
            ClockStart::PriorAppointment => "at the prior appointment",
            ClockStart::Discharge => "at discharge (hospital or emergency room)",
        }
    }
}

/// Which appointment requests a wait-time standard applies to; None / empty = any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub urgency: Option<Urgency>,
    pub visit_type: Option<VisitType>,
    pub prior_auth: Option<bool>,
    pub provider_types: Vec<ProviderType>,
}

/// How a group of waits is compared with the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The share of requests offered an appointment within the limit, against `target`.
    ShareWithinLimit,
    /// The average wait, against the limit itself.
    MeanWait,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::ShareWithinLimit => "share_within_limit",
            Measure::MeanWait => "mean_wait",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    WaitTime {
        selection: Selection,
        clock: ClockStart,
        limit: f64,
        unit: Unit,
        /// The share (0..=1) of requests that must meet the limit; None when the law states none.
        target: Option<f64>,
        measure: Measure,
    },
    /// A healthy value satisfies `value op limit`, e.g. enrollees per FTE physician <= 1200.
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
    /// The design table's wording.
    pub applies_to: &'static str,
    pub rule: Requirement,
    /// None = current or long-standing.
    pub effective: Option<NaiveDate>,
    /// As written: "2011-01-17", "rating periods from 2027-07-09", "current", "long-standing".
    pub effective_text: &'static str,
    pub citation: &'static str,
    pub confidence: Confidence,
    /// "" or a short remark.
    pub note: &'static str,
}

/// A catalog row as constant data; `standard` turns it into the public type.
struct Entry {
    id: &'static str,
    title: &'static str,
    applies_to: &'static str,
    rule: EntryRule,
    /// The date, if any, is read from this text so the two cannot disagree.
    effective: &'static str,
    citation: &'static str,
    confidence: Confidence,
    note: &'static str,
}

enum EntryRule {
    Wait(WaitRow),
    /// Ratios and thresholds have no selection, so their `Requirement` is constant as it stands.
    Other(Requirement),
}

/// A `Requirement::WaitTime` that can live in a constant.
struct WaitRow {
    requests: Requests,
    clock: ClockStart,
    limit: f64,
    unit: Unit,
    target: Option<f64>,
    measure: Measure,
}

impl WaitRow {
    fn rule(&self) -> Requirement {
        let requests = &self.requests;
        Requirement::WaitTime {
            selection: Selection {
                urgency: requests.urgency,
                visit_type: requests.visit_type,
                prior_auth: requests.prior_auth,
                provider_types: requests.providers.to_vec(),
            },
            clock: self.clock,
            limit: self.limit,
            unit: self.unit,
            target: self.target,
            measure: self.measure,
        }
    }
}

/// A `Selection` that can live in a constant.
struct Requests {
    urgency: Option<Urgency>,
    visit_type: Option<VisitType>,
    prior_auth: Option<bool>,
    providers: &'static [ProviderType],
}

const fn requests(
    urgency: Option<Urgency>,
    visit_type: Option<VisitType>,
    prior_auth: Option<bool>,
    providers: &'static [ProviderType],
) -> Requests {
    Requests {
        urgency,
        visit_type,
        prior_auth,
        providers,
    }
}

const fn ratio(metric: &'static str, op: Op, limit: f64) -> EntryRule {
    EntryRule::Other(Requirement::Ratio { metric, op, limit })
}

/// A share-within-limit wait-time rule, the common case.
const fn wait(
    requests: Requests,
    clock: ClockStart,
    limit: f64,
    unit: Unit,
    target: Option<f64>,
) -> EntryRule {
    EntryRule::Wait(WaitRow {
        requests,
        clock,
        limit,
        unit,
        target,
        measure: Measure::ShareWithinLimit,
    })
}

// Which requests each wait-time row selects (see the module doc for the reasoning). Provider
// lists are kept in `ProviderType` order so that equal selections compare equal.
const ANY_PROVIDER: &[ProviderType] = &[];
const BEHAVIORAL: &[ProviderType] = &[NonPhysicianMh, Psychiatrist];
const NON_PHYSICIAN_MH: &[ProviderType] = &[NonPhysicianMh];
const SPECIALISTS: &[ProviderType] = &[Psychiatrist, Specialist];
const URGENT_NO_PRIOR_AUTH: Requests = requests(Some(Urgent), None, Some(false), ANY_PROVIDER);
const URGENT_PRIOR_AUTH: Requests = requests(Some(Urgent), None, Some(true), ANY_PROVIDER);
const URGENT_ANY: Requests = requests(Some(Urgent), None, None, ANY_PROVIDER);
const URGENT_BEHAVIORAL: Requests = requests(Some(Urgent), None, None, BEHAVIORAL);
const ROUTINE_PRIMARY_CARE: Requests = requests(Some(NonUrgent), None, None, &[PrimaryCare]);
const ROUTINE_SPECIALTY: Requests = requests(Some(NonUrgent), None, None, SPECIALISTS);
const ROUTINE_ANCILLARY: Requests = requests(Some(NonUrgent), None, None, &[Ancillary]);
const ROUTINE_THERAPY_INITIAL: Requests =
    requests(Some(NonUrgent), Some(Initial), None, NON_PHYSICIAN_MH);
const ROUTINE_THERAPY_FOLLOW_UP: Requests =
    requests(Some(NonUrgent), Some(FollowUp), None, NON_PHYSICIAN_MH);
const ROUTINE_BEHAVIORAL: Requests = requests(Some(NonUrgent), None, None, BEHAVIORAL);
const ROUTINE_BEHAVIORAL_INITIAL: Requests =
    requests(Some(NonUrgent), Some(Initial), None, BEHAVIORAL);
const BEHAVIORAL_INITIAL: Requests = requests(None, Some(Initial), None, BEHAVIORAL);
const BEHAVIORAL_ANY: Requests = requests(None, None, None, BEHAVIORAL);

const DMHC: &str = "28 CCR §1300.67.2.2(c)(5); H&S Code §1367.03(a)(5)";
const CMS_MEDICAID: &str = "42 CFR §438.68(e)";
const CMS_FFE: &str = "45 CFR §156.230; CMS Letter to Issuers";
const NEW_YORK: &str = "10 NYCRR §98-5.5; 11 NYCRR Part 38";
const MARYLAND: &str = "COMAR 31.10.44";
const COLORADO: &str = "Health First Colorado RAE contract";
const MEDICAID_START: &str = "rating periods from 2027-07-09";
const MEDICAID_NOTE: &str =
    "applies from the first rating period that begins on or after 2027-07-09";

const PAAS: Option<f64> = Some(0.70);
const NINETY: Option<f64> = Some(0.90);
const NINETY_FIVE: Option<f64> = Some(0.95);
const NONE_STATED: Option<f64> = None;

const ROWS: &[Entry] = &[
    // Section 1: appointment wait-time standards.
    Entry {
        id: "ca-dmhc/urgent-no-prior-auth",
        title: "California: urgent appointment, no prior authorization",
        applies_to: "urgent, no prior authorization required",
        rule: wait(URGENT_NO_PRIOR_AUTH, Request, 48.0, Hours, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        confidence: V,
        note: "70 % is the network compliance rate of DMHC's Provider Appointment Availability Survey",
    },
    Entry {
        id: "ca-dmhc/urgent-prior-auth",
        title: "California: urgent appointment, prior authorization required",
        applies_to: "urgent, prior authorization required",
        rule: wait(URGENT_PRIOR_AUTH, Request, 96.0, Hours, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        confidence: V,
        note: "",
    },
    Entry {
        id: "ca-dmhc/non-urgent-primary-care",
        title: "California: non-urgent primary care",
        applies_to: "non-urgent primary care",
        rule: wait(ROUTINE_PRIMARY_CARE, Request, 10.0, BusinessDays, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        confidence: V,
        note: "",
    },
    Entry {
        id: "ca-dmhc/non-urgent-specialist",
        title: "California: non-urgent specialist, psychiatrist included",
        applies_to: "non-urgent specialist physician, psychiatrist included",
        rule: wait(ROUTINE_SPECIALTY, Request, 15.0, BusinessDays, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        confidence: V,
        note: "",
    },
    Entry {
        id: "ca-dmhc/non-urgent-mh-initial",
        title: "California: non-urgent initial visit, non-physician mental health or SUD",
        applies_to: "non-urgent initial visit with a non-physician mental health or SUD provider \
                     (psychologist, LCSW, MFT, counselor)",
        rule: wait(ROUTINE_THERAPY_INITIAL, Request, 10.0, BusinessDays, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        confidence: V,
        note: "",
    },
    Entry {
        id: "ca-sb221/mh-follow-up",
        title: "California: non-urgent follow-up, non-physician mental health or SUD (SB 221)",
        applies_to: "non-urgent follow-up with a non-physician MH/SUD provider, for an enrollee \
                     in an ongoing course of treatment",
        rule: wait(
            ROUTINE_THERAPY_FOLLOW_UP,
            PriorAppointment,
            10.0,
            BusinessDays,
            PAAS,
        ),
        effective: "2022-07-01",
        citation: "SB 221 (2021), H&S Code §1367.03(a)(5)(F); Ins. Code §10133.54",
        confidence: S,
        note: "",
    },
    Entry {
        id: "ca-dmhc/non-urgent-ancillary",
        title: "California: non-urgent ancillary service",
        applies_to: "non-urgent ancillary service",
        rule: wait(ROUTINE_ANCILLARY, Request, 15.0, BusinessDays, PAAS),
        effective: "2011-01-17",
        citation: "28 CCR §1300.67.2.2(c)(5)",
        confidence: V,
        note: "",
    },
    Entry {
        id: "us-cms/medicaid-outpatient-mh-sud",
        title: "Medicaid managed care: routine outpatient mental health and SUD",
        applies_to: "Medicaid managed care, routine outpatient MH and SUD, adult and pediatric",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 10.0, BusinessDays, NINETY),
        effective: MEDICAID_START,
        citation: CMS_MEDICAID,
        confidence: S,
        note: MEDICAID_NOTE,
    },
    Entry {
        id: "us-cms/medicaid-primary-care",
        title: "Medicaid managed care: routine primary care",
        applies_to: "Medicaid managed care, routine primary care",
        rule: wait(ROUTINE_PRIMARY_CARE, Request, 15.0, BusinessDays, NINETY),
        effective: MEDICAID_START,
        citation: CMS_MEDICAID,
        confidence: S,
        note: MEDICAID_NOTE,
    },
    Entry {
        id: "us-cms/ffe-behavioral-health",
        title: "Federally-facilitated Marketplace: behavioral health",
        applies_to: "Federally-facilitated Marketplace plans, behavioral health",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 10.0, BusinessDays, NINETY),
        effective: "2025-01-01",
        citation: CMS_FFE,
        confidence: V,
        note: "",
    },
    Entry {
        id: "us-cms/ffe-primary-care",
        title: "Federally-facilitated Marketplace: routine primary care",
        applies_to: "Federally-facilitated Marketplace plans, routine primary care",
        rule: wait(ROUTINE_PRIMARY_CARE, Request, 15.0, BusinessDays, NINETY),
        effective: "2025-01-01",
        citation: CMS_FFE,
        confidence: V,
        note: "",
    },
    Entry {
        id: "us-cms/ffe-specialty",
        title: "Federally-facilitated Marketplace: non-urgent specialty care",
        applies_to: "Federally-facilitated Marketplace plans, non-urgent specialty",
        rule: wait(ROUTINE_SPECIALTY, Request, 30.0, BusinessDays, NINETY),
        effective: "2025-01-01",
        citation: CMS_FFE,
        confidence: V,
        note: "",
    },
    Entry {
        id: "ny/bh-initial",
        title: "New York: initial behavioral health visit",
        applies_to: "New York, initial behavioral health visit",
        rule: wait(BEHAVIORAL_INITIAL, Request, 10.0, BusinessDays, NONE_STATED),
        effective: "2025-07-01",
        citation: NEW_YORK,
        confidence: V,
        note: "",
    },
    Entry {
        id: "ny/bh-post-discharge",
        title: "New York: behavioral health visit after discharge or an emergency visit",
        applies_to: "New York, visit after hospital discharge or ER visit",
        rule: wait(BEHAVIORAL_ANY, Discharge, 7.0, CalendarDays, NONE_STATED),
        effective: "2025-07-01",
        citation: NEW_YORK,
        confidence: V,
        note: "",
    },
    Entry {
        id: "md/urgent",
        title: "Maryland: urgent care",
        applies_to: "Maryland, urgent care including BH/SUD",
        rule: wait(URGENT_ANY, Request, 72.0, Hours, NINETY_FIVE),
        effective: "current",
        citation: MARYLAND,
        confidence: V,
        note: "",
    },
    Entry {
        id: "md/bh-non-urgent",
        title: "Maryland: non-urgent behavioral health or SUD",
        applies_to: "Maryland, non-urgent behavioral health or SUD",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 10.0, CalendarDays, NINETY_FIVE),
        effective: "current",
        citation: MARYLAND,
        confidence: V,
        note: "",
    },
    Entry {
        id: "co-medicaid/bh-urgent",
        title: "Colorado Medicaid: urgent behavioral health",
        applies_to: "Colorado Medicaid, behavioral health urgent",
        rule: wait(URGENT_BEHAVIORAL, Request, 24.0, Hours, NONE_STATED),
        effective: "current",
        citation: COLORADO,
        confidence: S,
        note: "",
    },
    Entry {
        id: "co-medicaid/bh-non-urgent",
        title: "Colorado Medicaid: non-urgent symptomatic behavioral health",
        applies_to: "Colorado Medicaid, non-urgent symptomatic BH",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 7.0, CalendarDays, NONE_STATED),
        effective: "current",
        citation: COLORADO,
        confidence: S,
        note: "",
    },
    Entry {
        id: "or-medicaid/bh-routine-assessment",
        title: "Oregon CCO: routine behavioral health assessment",
        applies_to: "Oregon CCO, routine BH assessment",
        rule: wait(
            ROUTINE_BEHAVIORAL_INITIAL,
            Request,
            7.0,
            CalendarDays,
            NONE_STATED,
        ),
        effective: "current",
        citation: "OAR 410-141-3515",
        confidence: S,
        note: "",
    },
    // Section 2: staffing ratios.
    Entry {
        id: "ca-dmhc/physician-ratio",
        title: "California: enrollees per physician",
        applies_to: "enrollees per FTE physician",
        rule: ratio("enrollees per FTE physician", Op::Le, 1200.0),
        effective: "long-standing",
        citation: "28 CCR §1300.67.2(d)",
        confidence: V,
        note: "",
    },
    Entry {
        id: "ca-dmhc/pcp-ratio",
        title: "California: enrollees per primary care physician",
        applies_to: "enrollees per FTE primary care physician",
        rule: ratio("enrollees per FTE primary care physician", Op::Le, 2000.0),
        effective: "long-standing",
        citation: "28 CCR §1300.67.2(d); H&S Code §1375.9",
        confidence: V,
        note: "+ up to 1,000 per supervised FTE NP/PA",
    },
    Entry {
        id: "md/bh-ratio",
        title: "Maryland: enrollees per behavioral health provider",
        applies_to: "enrollees per FTE behavioral health provider",
        rule: ratio(
            "enrollees per FTE behavioral health provider",
            Op::Le,
            2000.0,
        ),
        effective: "current",
        citation: MARYLAND,
        confidence: V,
        note: "",
    },
    Entry {
        id: "md/sud-ratio",
        title: "Maryland: enrollees per SUD provider",
        applies_to: "enrollees per FTE SUD provider",
        rule: ratio("enrollees per FTE SUD provider", Op::Le, 2000.0),
        effective: "current",
        citation: MARYLAND,
        confidence: V,
        note: "",
    },
    Entry {
        id: "us-hrsa/mh-hpsa-core",
        title: "HRSA mental health shortage benchmark: core professionals",
        applies_to: "population per core mental health professional (shortage benchmark, not a plan duty)",
        rule: ratio(
            "population per core mental health professional",
            Op::Lt,
            6000.0,
        ),
        effective: "long-standing",
        citation: "42 CFR Part 5, App. C",
        confidence: V,
        note: "a shortage benchmark, not a plan duty: shortage at 6,000 or more per professional",
    },
    // Section 3: settlement- and contract-derived standards.
    Entry {
        id: "kp-dmhc-2023/follow-up-average",
        title: "DMHC–Kaiser 2023 settlement: average mental health follow-up wait",
        applies_to: "average non-urgent follow-up wait with a non-physician MH provider",
        rule: EntryRule::Wait(WaitRow {
            requests: ROUTINE_THERAPY_FOLLOW_UP,
            clock: PriorAppointment,
            limit: 10.0,
            unit: BusinessDays,
            target: None,
            measure: Measure::MeanWait,
        }),
        effective: "2023-10-12",
        citation: "DMHC–Kaiser settlement, 12 Oct 2023 ($50 M fine, $150 M investment over 5 \
                   years, corrective action work plan incl. follow-up waits)",
        confidence: S,
        note: "the 2023 DMHC enforcement found an average of 21.4 business days in late 2022",
    },
    Entry {
        id: "nuhw-2025/non-appointment-hours",
        title: "NUHW 2025 contract: therapist time for patient care outside appointments",
        applies_to: "weekly hours a full-time therapist has for patient care outside appointments",
        rule: EntryRule::Other(Requirement::Threshold {
            metric: "weekly hours for patient care outside appointments per full-time therapist",
            op: Op::Ge,
            limit: 5.0,
            unit: "hours per week",
        }),
        effective: "contract ratified May 2025",
        citation: "Southern California contract ratified May 2025",
        confidence: S,
        note: "a contract term, not law",
    },
];

/// Every built-in standard, in the order of `design/standards.md`.
pub fn catalog() -> Vec<Standard> {
    ROWS.iter().map(standard).collect()
}

pub fn find(id: &str) -> Option<Standard> {
    ROWS.iter().find(|row| row.id == id).map(standard)
}

fn standard(row: &Entry) -> Standard {
    let rule = match &row.rule {
        EntryRule::Wait(wait) => wait.rule(),
        EntryRule::Other(rule) => rule.clone(),
    };
    Standard {
        id: row.id,
        title: row.title,
        applies_to: row.applies_to,
        rule,
        effective: date_in(row.effective),
        effective_text: row.effective,
        citation: row.citation,
        confidence: row.confidence,
        note: row.note,
    }
}

/// The first ISO date (YYYY-MM-DD) in `text`, if any.
fn date_in(text: &str) -> Option<NaiveDate> {
    (0..text.len()).find_map(|start| {
        let candidate = text.get(start..start + 10)?;
        NaiveDate::parse_from_str(candidate, "%Y-%m-%d").ok()
    })
}

/// The listing of `accesswatch standards`: one block per standard, wrapped to 100 columns.
pub fn render_text(standards: &[Standard]) -> String {
    let blocks: Vec<String> = standards.iter().map(render_block).collect();
    blocks.join("\n")
}

const WIDTH: usize = 100;
const LABEL_WIDTH: usize = 16;

fn render_block(standard: &Standard) -> String {
    let confidence = standard.confidence;
    let mut fields = vec![
        ("title", standard.title.to_owned()),
        ("applies to", standard.applies_to.to_owned()),
    ];
    fields.extend(rule_fields(&standard.rule));
    fields.extend([
        ("effective", standard.effective_text.to_owned()),
        ("citation", standard.citation.to_owned()),
        (
            "confidence",
            format!("{}: {}", confidence.letter(), confidence.describe()),
        ),
    ]);
    if !standard.note.is_empty() {
        fields.push(("note", standard.note.to_owned()));
    }
    let mut out = format!("{}\n", standard.id);
    for (label, value) in fields {
        let label = format!("  {label:<width$}", width = LABEL_WIDTH - 2);
        out.push_str(&wrap(&label, &value));
    }
    out
}

/// The labelled lines that say what a rule checks.
fn rule_fields(rule: &Requirement) -> Vec<(&'static str, String)> {
    let (metric, op, limit, unit) = match rule {
        Requirement::WaitTime { .. } => return wait_fields(rule),
        Requirement::Ratio { metric, op, limit } => (metric, op, limit, ""),
        Requirement::Threshold {
            metric,
            op,
            limit,
            unit,
        } => (metric, op, limit, *unit),
    };
    let line = format!("{metric} {} {} {unit}", op.as_str(), number(*limit));
    vec![("limit", line.trim_end().to_owned())]
}

fn wait_fields(rule: &Requirement) -> Vec<(&'static str, String)> {
    let Requirement::WaitTime {
        selection,
        clock,
        limit,
        unit,
        target,
        measure,
    } = rule
    else {
        return Vec::new();
    };
    let limit = unit.words(*limit);
    let (limit, target) = match (measure, target) {
        (Measure::MeanWait, _) => (
            format!("average wait at most {limit}"),
            "none: the limit applies to the average".to_owned(),
        ),
        (Measure::ShareWithinLimit, None) => (limit, "none stated".to_owned()),
        (Measure::ShareWithinLimit, Some(share)) => (
            limit,
            format!("{} of requests within the limit", percent(*share)),
        ),
    };
    vec![
        ("requests", describe_selection(selection)),
        ("clock starts", clock.phrase().to_owned()),
        ("limit", limit),
        ("target", target),
    ]
}

fn describe_selection(selection: &Selection) -> String {
    let any = "any";
    let urgency = selection.urgency.map_or(any, Urgency::as_str);
    let visit_type = selection.visit_type.map_or(any, VisitType::as_str);
    let prior_auth = match selection.prior_auth {
        None => any,
        Some(true) => "yes",
        Some(false) => "no",
    };
    let names: Vec<_> = selection
        .provider_types
        .iter()
        .map(|p| p.as_str())
        .collect();
    let providers = if names.is_empty() {
        any.to_owned()
    } else {
        names.join(", ")
    };
    format!(
        "urgency {urgency}; visit_type {visit_type}; prior_auth {prior_auth}; \
         provider_types {providers}"
    )
}

/// `label` followed by `value`, wrapped at word boundaries to `WIDTH` columns with
/// continuation lines indented under the value.
fn wrap(label: &str, value: &str) -> String {
    let indent = " ".repeat(LABEL_WIDTH);
    let mut out = label.to_owned();
    let mut column = label.chars().count();
    let mut line_has_words = false;
    for word in value.split_whitespace() {
        let length = word.chars().count();
        if line_has_words && column + 1 + length > WIDTH {
            out.push('\n');
            out.push_str(&indent);
            column = LABEL_WIDTH;
            line_has_words = false;
        }
        if line_has_words {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += length;
        line_has_words = true;
    }
    out.push('\n');
    out
}

/// A number as people write it: "48", "1.5", "1,200".
fn number(n: f64) -> String {
    if n.fract() != 0.0 || !n.is_finite() || n.abs() >= 1e15 {
        return format!("{n}");
    }
    let digits = format!("{}", n.abs());
    let mut grouped = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if n < 0.0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// A share as a percentage: 0.7 is "70 %", 0.925 is "92.5 %".
fn percent(share: f64) -> String {
    format!("{} %", number((share * 1000.0).round() / 10.0))
}

/// The catalog as JSON for `accesswatch standards --json`: one object per standard, with
/// every key present and null where it does not apply to the standard's kind.
pub fn to_json(standards: &[Standard]) -> Value {
    Value::Array(standards.iter().map(standard_json).collect())
}

fn standard_json(standard: &Standard) -> Value {
    let mut object = json!({
        "id": standard.id,
        "title": standard.title,
        "applies_to": standard.applies_to,
        "effective": standard.effective.map(|date| date.to_string()),
        "effective_text": standard.effective_text,
        "citation": standard.citation,
        "confidence": standard.confidence.letter(),
        "note": standard.note,
    });
    let rule = rule_json(&standard.rule);
    if let (Value::Object(fields), Value::Object(rule_fields)) = (&mut object, rule) {
        fields.extend(rule_fields);
    }
    object
}

/// The keys that depend on the kind of rule, null where they do not apply.
fn rule_json(rule: &Requirement) -> Value {
    match rule {
        Requirement::WaitTime {
            clock,
            limit,
            unit,
            target,
            measure,
            ..
        } => json!({
            "kind": "wait_time", "clock_start": clock.as_str(), "limit": limit,
            "unit": unit.as_str(), "target": target, "measure": measure.as_str(),
            "op": null, "metric": null,
        }),
        Requirement::Ratio { metric, op, limit } => json!({
            "kind": "ratio", "clock_start": null, "limit": limit, "unit": null,
            "target": null, "measure": null, "op": op.as_str(), "metric": metric,
        }),
        Requirement::Threshold {
            metric,
            op,
            limit,
            unit,
        } => json!({
            "kind": "threshold", "clock_start": null, "limit": limit, "unit": unit,
            "target": null, "measure": null, "op": op.as_str(), "metric": metric,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    /// Every id of design/standards.md sections 1–3 with its effective text and confidence,
    /// copied from that file, in its order.
    #[rustfmt::skip]
    const FILE: [(&str, &str, &str); 26] = [
        ("ca-dmhc/urgent-no-prior-auth", "2011-01-17", "V"),
        ("ca-dmhc/urgent-prior-auth", "2011-01-17", "V"),
        ("ca-dmhc/non-urgent-primary-care", "2011-01-17", "V"),
        ("ca-dmhc/non-urgent-specialist", "2011-01-17", "V"),
        ("ca-dmhc/non-urgent-mh-initial", "2011-01-17", "V"),
        ("ca-sb221/mh-follow-up", "2022-07-01", "S"),
        ("ca-dmhc/non-urgent-ancillary", "2011-01-17", "V"),
        ("us-cms/medicaid-outpatient-mh-sud", "rating periods from 2027-07-09", "S"),
        ("us-cms/medicaid-primary-care", "rating periods from 2027-07-09", "S"),
        ("us-cms/ffe-behavioral-health", "2025-01-01", "V"),
        ("us-cms/ffe-primary-care", "2025-01-01", "V"),
        ("us-cms/ffe-specialty", "2025-01-01", "V"),
        ("ny/bh-initial", "2025-07-01", "V"),
        ("ny/bh-post-discharge", "2025-07-01", "V"),
        ("md/urgent", "current", "V"),
        ("md/bh-non-urgent", "current", "V"),
        ("co-medicaid/bh-urgent", "current", "S"),
        ("co-medicaid/bh-non-urgent", "current", "S"),
        ("or-medicaid/bh-routine-assessment", "current", "S"),
        ("ca-dmhc/physician-ratio", "long-standing", "V"),
        ("ca-dmhc/pcp-ratio", "long-standing", "V"),
        ("md/bh-ratio", "current", "V"),
        ("md/sud-ratio", "current", "V"),
        ("us-hrsa/mh-hpsa-core", "long-standing", "V"),
        ("kp-dmhc-2023/follow-up-average", "2023-10-12", "S"),
        ("nuhw-2025/non-appointment-hours", "contract ratified May 2025", "S"),
    ];

    /// Limit, unit, clock start and target of every wait-time row, copied from the file.
    #[rustfmt::skip]
    const WAITS: [(&str, f64, Unit, ClockStart, Option<f64>); 20] = [
        ("ca-dmhc/urgent-no-prior-auth", 48.0, Hours, Request, Some(0.70)),
        ("ca-dmhc/urgent-prior-auth", 96.0, Hours, Request, Some(0.70)),
        ("ca-dmhc/non-urgent-primary-care", 10.0, BusinessDays, Request, Some(0.70)),
        ("ca-dmhc/non-urgent-specialist", 15.0, BusinessDays, Request, Some(0.70)),
        ("ca-dmhc/non-urgent-mh-initial", 10.0, BusinessDays, Request, Some(0.70)),
        ("ca-sb221/mh-follow-up", 10.0, BusinessDays, PriorAppointment, Some(0.70)),
        ("ca-dmhc/non-urgent-ancillary", 15.0, BusinessDays, Request, Some(0.70)),
        ("us-cms/medicaid-outpatient-mh-sud", 10.0, BusinessDays, Request, Some(0.90)),
        ("us-cms/medicaid-primary-care", 15.0, BusinessDays, Request, Some(0.90)),
        ("us-cms/ffe-behavioral-health", 10.0, BusinessDays, Request, Some(0.90)),
        ("us-cms/ffe-primary-care", 15.0, BusinessDays, Request, Some(0.90)),
        ("us-cms/ffe-specialty", 30.0, BusinessDays, Request, Some(0.90)),
        ("ny/bh-initial", 10.0, BusinessDays, Request, None),
        ("ny/bh-post-discharge", 7.0, CalendarDays, Discharge, None),
        ("md/urgent", 72.0, Hours, Request, Some(0.95)),
        ("md/bh-non-urgent", 10.0, CalendarDays, Request, Some(0.95)),
        ("co-medicaid/bh-urgent", 24.0, Hours, Request, None),
        ("co-medicaid/bh-non-urgent", 7.0, CalendarDays, Request, None),
        ("or-medicaid/bh-routine-assessment", 7.0, CalendarDays, Request, None),
        ("kp-dmhc-2023/follow-up-average", 10.0, BusinessDays, PriorAppointment, None),
    ];

    #[test]
    fn catalog_has_every_id_of_the_file_in_order() {
        let catalog = catalog();
        let listed: Vec<_> = catalog
            .iter()
            .map(|s| (s.id, s.effective_text, s.confidence.letter()))
            .collect();
        assert_eq!(listed, FILE);
        let unique: HashSet<_> = catalog.iter().map(|s| s.id).collect();
        assert_eq!(unique.len(), catalog.len());
        for standard in &catalog {
            let texts = [standard.title, standard.applies_to, standard.citation];
            let filled = texts.iter().all(|text| !text.trim().is_empty());
            assert!(filled, "{}", standard.id);
        }
    }

    fn date(text: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
    }

    #[test]
    fn effective_dates_follow_the_text() {
        for (id, text, _) in FILE {
            let expected = match text {
                "rating periods from 2027-07-09" => date("2027-07-09"),
                "current" | "long-standing" | "contract ratified May 2025" => None,
                _ => Some(date(text).expect("an ISO date")),
            };
            let standard = find(id).expect("listed");
            assert_eq!(standard.effective, expected, "{id}");
        }
    }

    #[test]
    fn wait_time_limits_match_the_file() {
        for (id, limit, unit, clock, target) in WAITS {
            let found = match find(id).expect("listed").rule {
                Requirement::WaitTime {
                    limit,
                    unit,
                    clock,
                    target,
                    ..
                } => (limit, unit, clock, target),
                other => panic!("{id} is not a wait-time standard: {other:?}"),
            };
            assert_eq!(found, (limit, unit, clock, target), "{id}");
        }
        let catalog = catalog();
        let waits = catalog
            .iter()
            .filter(|s| matches!(s.rule, Requirement::WaitTime { .. }));
        assert_eq!(waits.count(), WAITS.len());
    }

    #[test]
    fn ratios_and_thresholds_match_the_file() {
        let table: [(&str, Op, f64); 6] = [
            ("ca-dmhc/physician-ratio", Op::Le, 1200.0),
            ("ca-dmhc/pcp-ratio", Op::Le, 2000.0),
            ("md/bh-ratio", Op::Le, 2000.0),
            ("md/sud-ratio", Op::Le, 2000.0),
            ("us-hrsa/mh-hpsa-core", Op::Lt, 6000.0),
            ("nuhw-2025/non-appointment-hours", Op::Ge, 5.0),
        ];
        for (id, op, limit) in table {
            let found = match find(id).expect("listed").rule {
                Requirement::Ratio { op, limit, .. } | Requirement::Threshold { op, limit, .. } => {
                    (op, limit)
                }
                other => panic!("{id} is a wait-time standard: {other:?}"),
            };
            assert_eq!(found, (op, limit), "{id}");
        }
        let pcp = find("ca-dmhc/pcp-ratio").expect("listed");
        assert_eq!(pcp.note, "+ up to 1,000 per supervised FTE NP/PA");
    }

    fn check_selection(
        id: &str,
        urgency: Option<Urgency>,
        visit: Option<VisitType>,
        prior_auth: Option<bool>,
        providers: &[ProviderType],
    ) {
        let Requirement::WaitTime { selection, .. } = find(id).expect("listed").rule else {
            panic!("{id} is not a wait-time standard");
        };
        let expected = Selection {
            urgency,
            visit_type: visit,
            prior_auth,
            provider_types: providers.to_vec(),
        };
        assert_eq!(selection, expected, "{id}");
    }

    #[test]
    #[rustfmt::skip]
    fn selections_encode_the_decisions() {
        let both = &[NonPhysicianMh, Psychiatrist];
        let specialists = &[Psychiatrist, Specialist];
        check_selection("ca-dmhc/urgent-no-prior-auth", Some(Urgent), None, Some(false), &[]);
        check_selection("ca-dmhc/urgent-prior-auth", Some(Urgent), None, Some(true), &[]);
        check_selection("ca-dmhc/non-urgent-primary-care", Some(NonUrgent), None, None, &[PrimaryCare]);
        check_selection("ca-dmhc/non-urgent-specialist", Some(NonUrgent), None, None, specialists);
        check_selection("ca-dmhc/non-urgent-mh-initial", Some(NonUrgent), Some(Initial), None, &[NonPhysicianMh]);
        check_selection("ca-sb221/mh-follow-up", Some(NonUrgent), Some(FollowUp), None, &[NonPhysicianMh]);
        check_selection("ca-dmhc/non-urgent-ancillary", Some(NonUrgent), None, None, &[Ancillary]);
        check_selection("us-cms/medicaid-outpatient-mh-sud", Some(NonUrgent), None, None, both);
        check_selection("us-cms/medicaid-primary-care", Some(NonUrgent), None, None, &[PrimaryCare]);
        check_selection("us-cms/ffe-behavioral-health", Some(NonUrgent), None, None, both);
        check_selection("us-cms/ffe-primary-care", Some(NonUrgent), None, None, &[PrimaryCare]);
        check_selection("us-cms/ffe-specialty", Some(NonUrgent), None, None, specialists);
        check_selection("ny/bh-initial", None, Some(Initial), None, both);
        check_selection("ny/bh-post-discharge", None, None, None, both);
        check_selection("md/urgent", Some(Urgent), None, None, &[]);
        check_selection("md/bh-non-urgent", Some(NonUrgent), None, None, both);
        check_selection("co-medicaid/bh-urgent", Some(Urgent), None, None, both);
        check_selection("co-medicaid/bh-non-urgent", Some(NonUrgent), None, None, both);
        check_selection("or-medicaid/bh-routine-assessment", Some(NonUrgent), Some(Initial), None, both);
        check_selection("kp-dmhc-2023/follow-up-average", Some(NonUrgent), Some(FollowUp), None, &[NonPhysicianMh]);
    }

    #[test]
    fn only_the_settlement_average_is_a_mean_wait() {
        for standard in catalog() {
            if let Requirement::WaitTime { measure, .. } = standard.rule {
                let mean = standard.id == "kp-dmhc-2023/follow-up-average";
                assert_eq!(measure == Measure::MeanWait, mean, "{}", standard.id);
            }
        }
    }

    #[test]
    fn find_returns_catalog_entries() {
        for standard in catalog() {
            assert_eq!(find(standard.id), Some(standard));
        }
        assert_eq!(find("ca-dmhc/URGENT-prior-auth"), None);
        assert_eq!(find(""), None);
    }

    #[test]
    fn spellings_round_trip() {
        for urgency in Urgency::ALL {
            assert_eq!(Urgency::parse(urgency.as_str()), Some(*urgency));
        }
        for visit in VisitType::ALL {
            assert_eq!(VisitType::parse(visit.as_str()), Some(*visit));
        }
        for provider in ProviderType::ALL {
            assert_eq!(ProviderType::parse(provider.as_str()), Some(*provider));
        }
        assert_eq!(Urgency::parse("non_urgent"), Some(NonUrgent));
        assert_eq!(Urgency::parse("non-urgent"), None);
        assert_eq!(ProviderType::parse("Psychiatrist"), None);
        assert_eq!(VisitType::parse("follow_up"), Some(FollowUp));
    }

    #[test]
    fn words_and_numbers() {
        let table = [
            (BusinessDays.words(10.0), "10 business days"),
            (Hours.words(48.0), "48 hours"),
            (CalendarDays.words(1.0), "1 calendar day"),
            (Hours.words(1.5), "1.5 hours"),
            (number(1200.0), "1,200"),
            (number(123_456_789.0), "123,456,789"),
            (number(-6000.0), "-6,000"),
            (number(0.0), "0"),
            (percent(0.7), "70 %"),
            (percent(0.925), "92.5 %"),
        ];
        for (found, expected) in table {
            assert_eq!(found, expected);
        }
    }

    #[test]
    fn render_text_fits_100_columns_and_shows_confidence() {
        let text = render_text(&catalog());
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "too wide: {line}");
        }
        for (id, _, _) in FILE {
            assert!(text.lines().any(|line| line == id), "{id} has no block");
        }
        assert_eq!(text.split("\n\n").count(), FILE.len());
        let expected = [
            "  confidence    V: seen in the text of a primary or secondary source\n",
            "  confidence    S: secondary only (plan notices, law-firm summaries)\n",
            "  requests      urgency urgent; visit_type any; prior_auth no; provider_types any\n",
            "  target        none stated\n",
            "  target        70 % of requests within the limit\n",
            "  limit         48 hours\n",
            "  limit         enrollees per FTE physician <= 1,200\n",
            "  limit         average wait at most 10 business days\n",
            "  clock starts  at the prior appointment\n",
            "  effective     rating periods from 2027-07-09\n",
        ];
        for line in expected {
            assert!(text.contains(line), "missing {line:?}");
        }
    }

    #[test]
    fn to_json_has_every_key() {
        let keys: BTreeSet<&str> = [
            "id",
            "title",
            "kind",
            "applies_to",
            "clock_start",
            "limit",
            "unit",
            "target",
            "measure",
            "op",
            "metric",
            "effective",
            "effective_text",
            "citation",
            "confidence",
            "note",
        ]
        .into();
        let json = to_json(&catalog());
        let objects = json.as_array().expect("an array");
        assert_eq!(objects.len(), FILE.len());
        for object in objects {
            let fields = object.as_object().expect("an object");
            let found: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
            assert_eq!(found, keys, "{}", object["id"]);
        }
    }

    fn check_json(id: &str, key: &str, expected: Value) {
        let json = to_json(&catalog());
        let objects = json.as_array().expect("an array");
        let object = objects.iter().find(|o| o["id"] == id).expect("listed");
        assert_eq!(object[key], expected, "{id} {key}");
    }

    #[test]
    #[rustfmt::skip]
    fn to_json_values() {
        let table = [
            ("ca-dmhc/urgent-no-prior-auth", "kind", json!("wait_time")),
            ("ca-dmhc/urgent-no-prior-auth", "limit", json!(48.0)),
            ("ca-dmhc/urgent-no-prior-auth", "unit", json!("hours")),
            ("ca-dmhc/urgent-no-prior-auth", "target", json!(0.7)),
            ("ca-dmhc/urgent-no-prior-auth", "measure", json!("share_within_limit")),
            ("ca-dmhc/urgent-no-prior-auth", "clock_start", json!("request")),
            ("ca-dmhc/urgent-no-prior-auth", "effective", json!("2011-01-17")),
            ("ca-dmhc/urgent-no-prior-auth", "op", Value::Null),
            ("ca-dmhc/urgent-no-prior-auth", "metric", Value::Null),
            ("ca-dmhc/urgent-no-prior-auth", "confidence", json!("V")),
            ("ca-dmhc/urgent-prior-auth", "note", json!("")),
            ("us-cms/medicaid-primary-care", "effective", json!("2027-07-09")),
            ("us-cms/medicaid-primary-care", "confidence", json!("S")),
            ("ny/bh-initial", "target", Value::Null),
            ("ny/bh-post-discharge", "clock_start", json!("discharge")),
            ("md/bh-ratio", "effective", Value::Null),
            ("md/bh-ratio", "metric", json!("enrollees per FTE behavioral health provider")),
            ("us-hrsa/mh-hpsa-core", "kind", json!("ratio")),
            ("us-hrsa/mh-hpsa-core", "op", json!("<")),
            ("us-hrsa/mh-hpsa-core", "limit", json!(6000.0)),
            ("us-hrsa/mh-hpsa-core", "unit", Value::Null),
            ("us-hrsa/mh-hpsa-core", "clock_start", Value::Null),
            ("kp-dmhc-2023/follow-up-average", "measure", json!("mean_wait")),
            ("kp-dmhc-2023/follow-up-average", "clock_start", json!("prior_appointment")),
            ("kp-dmhc-2023/follow-up-average", "target", Value::Null),
            ("kp-dmhc-2023/follow-up-average", "effective", json!("2023-10-12")),
            ("nuhw-2025/non-appointment-hours", "kind", json!("threshold")),
            ("nuhw-2025/non-appointment-hours", "op", json!(">=")),
            ("nuhw-2025/non-appointment-hours", "limit", json!(5.0)),
            ("nuhw-2025/non-appointment-hours", "unit", json!("hours per week")),
            ("nuhw-2025/non-appointment-hours", "effective", Value::Null),
            ("nuhw-2025/non-appointment-hours", "effective_text", json!("contract ratified May 2025")),
        ];
        for (id, key, expected) in table {
            check_json(id, key, expected);
        }
    }
}
