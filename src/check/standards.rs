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
use chrono_tz::Tz;

use super::calendar::Preset;
use serde_json::{Value, json};

use crate::check::Op;

// Short names for the catalog table below.
use self::ClockStart::{CallStart, Discharge, PriorAppointment, Request};
use self::Confidence::{Secondary as S, Verified as V};
use self::ProviderType::{
    Ancillary, NonPhysicianMh, NonPhysicianSud, PrimaryCare, Psychiatrist, Specialist,
};
use self::Unit::{BusinessDays, CalendarDays, Hours, Minutes};
use self::Urgency::{NeedsAttention, NonUrgent, Urgent};
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
    Urgency {
        Urgent => "urgent",
        NeedsAttention => "needs_attention",
        NonUrgent => "non_urgent",
    }
);

spelled_enum!(
    /// How an appointment is held: the offer's `modality` and the
    /// member's `requested_modality`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    Modality { InPerson => "in_person", Telehealth => "telehealth" }
);

spelled_enum!(
    /// Whether a telehealth offer meets a wait-time standard.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    Telehealth {
        Counts => "counts",
        UnlessInPersonRequested => "unless_in_person_requested",
        MemberChoice => "member_choice",
        DoesNotCount => "does_not_count",
    }
);

impl Telehealth {
    pub fn describe(self) -> &'static str {
        match self {
            Telehealth::Counts => "a telehealth offer counts",
            Telehealth::UnlessInPersonRequested => {
                "a telehealth offer counts unless the member asked for in person"
            }
            Telehealth::MemberChoice => {
                "a telehealth offer counts only when the member chose telehealth"
            }
            Telehealth::DoesNotCount => "a telehealth offer does not count",
        }
    }
}

/// Whether a catalog entry is a legal duty or a benchmark: a finding, a
/// shortage line, a contract's or a plan's own target. A benchmark is
/// labelled so wherever it is shown, never presented as law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Law,
    Benchmark,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Law => "law",
            Basis::Benchmark => "benchmark",
        }
    }
}

/// Whom a compliance target counts: requests (most standards) or
/// enrollees (Maryland's 95 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetOf {
    Requests,
    Enrollees,
}

impl TargetOf {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetOf::Requests => "requests",
            TargetOf::Enrollees => "enrollees",
        }
    }
}

spelled_enum!(
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    VisitType { Initial => "initial", FollowUp => "follow_up" }
);

spelled_enum!(
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    ProviderType {
        NonPhysicianMh => "non_physician_mh",
        NonPhysicianSud => "non_physician_sud",
        Psychiatrist => "psychiatrist",
        PrimaryCare => "primary_care",
        Specialist => "specialist",
        Ancillary => "ancillary",
    }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minutes,
    Hours,
    BusinessDays,
    CalendarDays,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::BusinessDays => "business_days",
            Unit::CalendarDays => "calendar_days",
        }
    }

    /// `n` of this unit in words: "10 business days", "48 hours", "1 calendar day".
    pub fn words(self, n: f64) -> String {
        let (one, many) = match self {
            Unit::Minutes => ("minute", "minutes"),
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
    /// A telephone call: the wait ends when it is answered (or a
    /// clinician is reached), not at an offered appointment.
    CallStart,
}

impl ClockStart {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockStart::Request => "request",
            ClockStart::PriorAppointment => "prior_appointment",
            ClockStart::Discharge => "discharge",
            ClockStart::CallStart => "call_start",
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            ClockStart::Request => "at the request",
            ClockStart::PriorAppointment => "at the prior appointment",
            ClockStart::Discharge => "at discharge (hospital or emergency room)",
            ClockStart::CallStart => "at the start of the call; ends when it is answered",
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
    /// HRSA's mental health shortage rule over two ratios: population per
    /// core mental health professional and per psychiatrist. An area is
    /// short when core ≥ 6,000 and psychiatrist ≥ 20,000, or core ≥
    /// 9,000, or psychiatrist ≥ 30,000.
    Shortage,
}

/// The HRSA shortage rule ([`Requirement::Shortage`]) on the two ratios:
/// population per core professional and per psychiatrist.
pub fn hpsa_shortage(per_core: f64, per_psychiatrist: f64) -> bool {
    (per_core >= 6000.0 && per_psychiatrist >= 20000.0)
        || per_core >= 9000.0
        || per_psychiatrist >= 30000.0
}

#[derive(Debug, Clone, PartialEq)]
pub struct Standard {
    pub id: &'static str,
    pub title: &'static str,
    /// For subjects and tables: "SB 221 follow-up".
    pub short: &'static str,
    pub basis: Basis,
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
    /// The day the compliance target starts to apply, when the law gives
    /// the target a date of its own (DMHC's 70 % from MY 2023).
    pub target_from: Option<NaiveDate>,
    pub target_of: TargetOf,
    /// Provider types the standard covers only from a later date (SUD
    /// providers under DMHC's initial-visit rule from 2022-07-01).
    pub provider_from: Vec<(ProviderType, NaiveDate)>,
    /// The jurisdiction's zone, for local dates, when the check and the
    /// daemon set none.
    pub time_zone: Option<Tz>,
    /// What the catalog knows of telehealth offers; `None`: the source
    /// says nothing, the operator decides (counted unless told otherwise).
    pub telehealth: Option<Telehealth>,
    /// The plan must name when the standard starts for it
    /// (`in_force_from`): Medicaid's first rating period on or after
    /// 2027-07-09.
    pub needs_start: bool,
}

/// A catalog row as constant data; `standard` turns it into the public type.
struct Entry {
    id: &'static str,
    title: &'static str,
    short: &'static str,
    basis: Basis,
    applies_to: &'static str,
    rule: EntryRule,
    /// The date, if any, is read from this text so the two cannot disagree.
    effective: &'static str,
    citation: &'static str,
    confidence: Confidence,
    note: &'static str,
    /// "" or the date the target applies from.
    target_from: &'static str,
    target_of: TargetOf,
    provider_from: &'static [(ProviderType, &'static str)],
    time_zone: Option<Tz>,
    telehealth: Option<Telehealth>,
    needs_start: bool,
}

/// What most entries share; each row overrides what differs.
const LAW: Entry = Entry {
    id: "",
    title: "",
    short: "",
    basis: Basis::Law,
    applies_to: "",
    rule: EntryRule::Other(Requirement::Shortage),
    effective: "",
    citation: "",
    confidence: V,
    note: "",
    target_from: "",
    target_of: TargetOf::Requests,
    provider_from: &[],
    time_zone: None,
    telehealth: None,
    needs_start: false,
};

/// A California entry: DMHC's zone, and its 70 % PAAS rate from MY 2023.
const CALIFORNIA: Entry = Entry {
    time_zone: Some(LOS_ANGELES),
    target_from: "2023-01-01",
    ..LAW
};

const LOS_ANGELES: Tz = chrono_tz::America::Los_Angeles;
const NEW_YORK_ZONE: Tz = chrono_tz::America::New_York;
const DENVER: Tz = chrono_tz::America::Denver;

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
const BEHAVIORAL: &[ProviderType] = &[NonPhysicianMh, NonPhysicianSud, Psychiatrist];
const NON_PHYSICIAN: &[ProviderType] = &[NonPhysicianMh, NonPhysicianSud];
const SPECIALISTS: &[ProviderType] = &[Psychiatrist, Specialist];
const URGENT_NO_PRIOR_AUTH: Requests = requests(Some(Urgent), None, Some(false), ANY_PROVIDER);
const URGENT_PRIOR_AUTH: Requests = requests(Some(Urgent), None, Some(true), ANY_PROVIDER);
const URGENT_ANY: Requests = requests(Some(Urgent), None, None, ANY_PROVIDER);
const URGENT_BEHAVIORAL: Requests = requests(Some(Urgent), None, None, BEHAVIORAL);
const ROUTINE_PRIMARY_CARE: Requests = requests(Some(NonUrgent), None, None, &[PrimaryCare]);
const ROUTINE_SPECIALTY: Requests = requests(Some(NonUrgent), None, None, SPECIALISTS);
const ROUTINE_ANCILLARY: Requests = requests(Some(NonUrgent), None, None, &[Ancillary]);
const ROUTINE_THERAPY_INITIAL: Requests =
    requests(Some(NonUrgent), Some(Initial), None, NON_PHYSICIAN);
const ROUTINE_THERAPY_FOLLOW_UP: Requests =
    requests(Some(NonUrgent), Some(FollowUp), None, NON_PHYSICIAN);
const ROUTINE_THERAPY_FOLLOW_UP_MH: Requests =
    requests(Some(NonUrgent), Some(FollowUp), None, &[NonPhysicianMh]);
const ROUTINE_BEHAVIORAL: Requests = requests(Some(NonUrgent), None, None, BEHAVIORAL);
const NEEDS_ATTENTION_BEHAVIORAL: Requests = requests(Some(NeedsAttention), None, None, BEHAVIORAL);
const ROUTINE_BEHAVIORAL_INITIAL: Requests =
    requests(Some(NonUrgent), Some(Initial), None, BEHAVIORAL);
const BEHAVIORAL_INITIAL: Requests = requests(None, Some(Initial), None, BEHAVIORAL);
const BEHAVIORAL_ANY: Requests = requests(None, None, None, BEHAVIORAL);
const ANY_CALL: Requests = requests(None, None, None, ANY_PROVIDER);

const DMHC: &str = "28 CCR §1300.67.2.2(c)(5); H&S Code §1367.03(a)(5)";
const CMS_MEDICAID: &str = "42 CFR §438.68(e) (rule effective 2024-07-09)";
const CMS_MA: &str = "42 CFR §422.112(a)(6)(i) (CY 2024 final rule)";
const CMS_FFE: &str = "45 CFR §156.230; CMS Letter to Issuers";
const NEW_YORK: &str = "10 NYCRR §98-5.5; 11 NYCRR Part 38";
const MARYLAND: &str = "COMAR 31.10.44";
const COLORADO: &str = "Health First Colorado RAE contract";
const MEDICAID_START: &str = "rating periods from 2027-07-09";
const MEDICAID_NOTE: &str = "applies from the plan's first rating period that begins on or after \
                             2027-07-09 (2027-07-09 is only the earliest): set `in_force_from` to \
                             that period's start";
const PAAS_NOTE: &str = "70 % is the network rate of compliance of DMHC's Provider Appointment \
                         Availability Survey, from measurement year 2023; before 2023-01-01 no \
                         target applies unless the plan sets one";
const MARYLAND_TELEHEALTH: &str = "95 % is a share of enrollees, not of requests; a telehealth \
                                   offer counts when clinically appropriate and the enrollee \
                                   elects it (COMAR 31.10.44.05A(2))";

const PAAS: Option<f64> = Some(0.70);
const NINETY: Option<f64> = Some(0.90);
const NINETY_FIVE: Option<f64> = Some(0.95);
const NONE_STATED: Option<f64> = None;

const ROWS: &[Entry] = &[
    // Section 1: appointment wait-time standards.
    Entry {
        id: "ca-dmhc/urgent-no-prior-auth",
        title: "California: urgent appointment, no prior authorization",
        short: "urgent (no prior auth)",
        applies_to: "urgent, no prior authorization required",
        rule: wait(URGENT_NO_PRIOR_AUTH, Request, 48.0, Hours, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        note: PAAS_NOTE,
        ..CALIFORNIA
    },
    Entry {
        id: "ca-dmhc/urgent-prior-auth",
        title: "California: urgent appointment, prior authorization required",
        short: "urgent (prior auth)",
        applies_to: "urgent, prior authorization required",
        rule: wait(URGENT_PRIOR_AUTH, Request, 96.0, Hours, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        note: PAAS_NOTE,
        ..CALIFORNIA
    },
    Entry {
        id: "ca-dmhc/non-urgent-primary-care",
        title: "California: non-urgent primary care",
        short: "primary care",
        applies_to: "non-urgent primary care",
        rule: wait(ROUTINE_PRIMARY_CARE, Request, 10.0, BusinessDays, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        note: PAAS_NOTE,
        ..CALIFORNIA
    },
    Entry {
        id: "ca-dmhc/non-urgent-specialist",
        title: "California: non-urgent specialist, psychiatrist included",
        short: "specialist",
        applies_to: "non-urgent specialist physician, psychiatrist included",
        rule: wait(ROUTINE_SPECIALTY, Request, 15.0, BusinessDays, PAAS),
        effective: "2011-01-17",
        citation: DMHC,
        note: PAAS_NOTE,
        ..CALIFORNIA
    },
    Entry {
        id: "ca-dmhc/non-urgent-mh-initial",
        title: "California: non-urgent initial visit, non-physician mental health or SUD",
        short: "therapy initial visit",
        applies_to: "non-urgent initial visit with a non-physician mental health provider \
                     (psychologist, LCSW, MFT, counselor); SUD providers only from 2022-07-01 \
                     (SB 221 extended it; the regulation covered mental health only)",
        rule: wait(ROUTINE_THERAPY_INITIAL, Request, 10.0, BusinessDays, PAAS),
        effective: "2011-01-17 (MH), 2022-07-01 (SUD)",
        citation: "28 CCR §1300.67.2.2(c)(5); H&S Code §1367.03(a)(5); SB 221 (2021) for SUD",
        note: PAAS_NOTE,
        provider_from: &[(NonPhysicianSud, "2022-07-01")],
        ..CALIFORNIA
    },
    Entry {
        id: "ca-sb221/mh-follow-up",
        title: "California: non-urgent follow-up, non-physician mental health or SUD (SB 221)",
        short: "SB 221 follow-up",
        applies_to: "non-urgent follow-up with a non-physician MH/SUD provider, for an enrollee \
                     in an ongoing course of treatment",
        rule: wait(
            ROUTINE_THERAPY_FOLLOW_UP,
            PriorAppointment,
            10.0,
            BusinessDays,
            NONE_STATED,
        ),
        effective: "2022-07-01",
        citation: "SB 221 (2021), H&S Code §1367.03(a)(5)(F); Ins. Code §10133.54",
        confidence: S,
        note: "the law states no compliance target: each appointment is a duty, and no source \
               shows the 70 % PAAS rate covering follow-ups; a check sets `target`, the plan's own",
        target_from: "",
        ..CALIFORNIA
    },
    Entry {
        id: "ca-dmhc/non-urgent-ancillary",
        title: "California: non-urgent ancillary service",
        short: "ancillary",
        applies_to: "non-urgent ancillary service",
        rule: wait(ROUTINE_ANCILLARY, Request, 15.0, BusinessDays, PAAS),
        effective: "2011-01-17",
        citation: "28 CCR §1300.67.2.2(c)(5)",
        note: PAAS_NOTE,
        ..CALIFORNIA
    },
    Entry {
        id: "us-cms/medicaid-outpatient-mh-sud",
        title: "Medicaid managed care: routine outpatient mental health and SUD",
        short: "Medicaid MH/SUD",
        applies_to: "Medicaid managed care, routine outpatient MH and SUD, adult and pediatric",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 10.0, BusinessDays, NINETY),
        effective: MEDICAID_START,
        citation: CMS_MEDICAID,
        confidence: S,
        note: MEDICAID_NOTE,
        needs_start: true,
        ..LAW
    },
    Entry {
        id: "us-cms/medicaid-primary-care",
        title: "Medicaid managed care: routine primary care",
        short: "Medicaid primary care",
        applies_to: "Medicaid managed care, routine primary care",
        rule: wait(ROUTINE_PRIMARY_CARE, Request, 15.0, BusinessDays, NINETY),
        effective: MEDICAID_START,
        citation: CMS_MEDICAID,
        confidence: S,
        note: MEDICAID_NOTE,
        needs_start: true,
        ..LAW
    },
    Entry {
        id: "us-cms/ma-bh-non-urgent",
        title: "Medicare Advantage: behavioral health that is not urgent but needs attention",
        short: "MA behavioral health",
        applies_to: "Medicare Advantage, behavioral health and SUD services that are not urgent \
                     but need medical attention (urgency `needs_attention`)",
        rule: wait(
            NEEDS_ATTENTION_BEHAVIORAL,
            Request,
            7.0,
            BusinessDays,
            NONE_STATED,
        ),
        effective: "2024-01-01",
        citation: CMS_MA,
        confidence: S,
        ..LAW
    },
    Entry {
        id: "us-cms/ma-bh-routine",
        title: "Medicare Advantage: routine and preventive behavioral health",
        short: "MA routine behavioral health",
        applies_to: "Medicare Advantage, routine and preventive behavioral health and SUD care",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 30.0, BusinessDays, NONE_STATED),
        effective: "2024-01-01",
        citation: CMS_MA,
        confidence: S,
        ..LAW
    },
    Entry {
        id: "us-cms/ffe-behavioral-health",
        title: "Federally-facilitated Marketplace: behavioral health",
        short: "Marketplace behavioral health",
        applies_to: "Federally-facilitated Marketplace plans, behavioral health",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 10.0, BusinessDays, NINETY),
        effective: "2025-01-01",
        citation: CMS_FFE,
        ..LAW
    },
    Entry {
        id: "us-cms/ffe-primary-care",
        title: "Federally-facilitated Marketplace: routine primary care",
        short: "Marketplace primary care",
        applies_to: "Federally-facilitated Marketplace plans, routine primary care",
        rule: wait(ROUTINE_PRIMARY_CARE, Request, 15.0, BusinessDays, NINETY),
        effective: "2025-01-01",
        citation: CMS_FFE,
        ..LAW
    },
    Entry {
        id: "us-cms/ffe-specialty",
        title: "Federally-facilitated Marketplace: non-urgent specialty care",
        short: "Marketplace specialty",
        applies_to: "Federally-facilitated Marketplace plans, non-urgent specialty",
        rule: wait(ROUTINE_SPECIALTY, Request, 30.0, BusinessDays, NINETY),
        effective: "2025-01-01",
        citation: CMS_FFE,
        ..LAW
    },
    Entry {
        id: "ny/bh-initial",
        title: "New York: initial behavioral health visit",
        short: "NY initial BH visit",
        applies_to: "New York, initial behavioral health visit",
        rule: wait(BEHAVIORAL_INITIAL, Request, 10.0, BusinessDays, NONE_STATED),
        effective: "2025-07-01",
        citation: NEW_YORK,
        note: "a telehealth offer counts unless the enrollee asks for in person \
               (10 NYCRR §98-5.5(b))",
        time_zone: Some(NEW_YORK_ZONE),
        telehealth: Some(Telehealth::UnlessInPersonRequested),
        ..LAW
    },
    Entry {
        id: "ny/bh-post-discharge",
        title: "New York: behavioral health visit after discharge or an emergency visit",
        short: "NY post-discharge visit",
        applies_to: "New York, visit after hospital discharge or ER visit",
        rule: wait(BEHAVIORAL_ANY, Discharge, 7.0, CalendarDays, NONE_STATED),
        effective: "2025-07-01",
        citation: NEW_YORK,
        note: "a telehealth offer counts unless the enrollee asks for in person \
               (10 NYCRR §98-5.5(b))",
        time_zone: Some(NEW_YORK_ZONE),
        telehealth: Some(Telehealth::UnlessInPersonRequested),
        ..LAW
    },
    Entry {
        id: "md/urgent",
        title: "Maryland: urgent care",
        short: "MD urgent",
        applies_to: "Maryland, urgent care including BH/SUD",
        rule: wait(URGENT_ANY, Request, 72.0, Hours, NINETY_FIVE),
        effective: "current",
        citation: MARYLAND,
        note: MARYLAND_TELEHEALTH,
        target_of: TargetOf::Enrollees,
        time_zone: Some(NEW_YORK_ZONE),
        telehealth: Some(Telehealth::MemberChoice),
        ..LAW
    },
    Entry {
        id: "md/bh-non-urgent",
        title: "Maryland: non-urgent behavioral health or SUD",
        short: "MD behavioral health",
        applies_to: "Maryland, non-urgent behavioral health or SUD",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 10.0, CalendarDays, NINETY_FIVE),
        effective: "current",
        citation: MARYLAND,
        note: MARYLAND_TELEHEALTH,
        target_of: TargetOf::Enrollees,
        time_zone: Some(NEW_YORK_ZONE),
        telehealth: Some(Telehealth::MemberChoice),
        ..LAW
    },
    Entry {
        id: "co-medicaid/bh-urgent",
        title: "Colorado Medicaid: urgent behavioral health",
        short: "CO urgent BH",
        applies_to: "Colorado Medicaid, behavioral health urgent",
        rule: wait(URGENT_BEHAVIORAL, Request, 24.0, Hours, NONE_STATED),
        effective: "current",
        citation: COLORADO,
        confidence: S,
        time_zone: Some(DENVER),
        ..LAW
    },
    Entry {
        id: "co-medicaid/bh-non-urgent",
        title: "Colorado Medicaid: non-urgent symptomatic behavioral health",
        short: "CO non-urgent BH",
        applies_to: "Colorado Medicaid, non-urgent symptomatic BH",
        rule: wait(ROUTINE_BEHAVIORAL, Request, 7.0, CalendarDays, NONE_STATED),
        effective: "current",
        citation: COLORADO,
        confidence: S,
        time_zone: Some(DENVER),
        ..LAW
    },
    Entry {
        id: "or-medicaid/bh-routine-assessment",
        title: "Oregon CCO: routine behavioral health assessment, non-priority populations",
        short: "OR BH assessment",
        applies_to: "Oregon CCO, routine BH assessment, non-priority populations only",
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
        note: "covers non-priority populations only: leave priority populations out of the source",
        time_zone: Some(LOS_ANGELES),
        ..LAW
    },
    Entry {
        id: "ca-dmhc/phone-triage",
        title: "California: telephone triage or screening, time to reach a clinician",
        short: "phone triage",
        applies_to: "telephone triage or screening, 24/7: time from the call's start to reaching \
                     a clinician (`call_started_at` to `answered_at`)",
        rule: wait(ANY_CALL, CallStart, 30.0, Minutes, NONE_STATED),
        effective: "2011-01-17",
        citation: "28 CCR §1300.67.2.2(c)(8)",
        confidence: S,
        target_from: "",
        ..CALIFORNIA
    },
    Entry {
        id: "ca-dmhc/customer-service-phone",
        title: "California: customer service calls, time to answer",
        short: "customer service phone",
        applies_to: "customer service calls in normal business hours: time from the call's start \
                     to its answer (`call_started_at` to `answered_at`)",
        rule: wait(ANY_CALL, CallStart, 10.0, Minutes, NONE_STATED),
        effective: "2011-01-17",
        citation: "28 CCR §1300.67.2.2(c)(10)",
        confidence: S,
        target_from: "",
        ..CALIFORNIA
    },
    // Section 2: staffing ratios.
    Entry {
        id: "ca-dmhc/physician-ratio",
        title: "California: enrollees per physician",
        short: "enrollees per physician",
        applies_to: "enrollees per FTE physician",
        rule: ratio("enrollees per FTE physician", Op::Le, 1200.0),
        effective: "long-standing",
        citation: "28 CCR §1300.67.2(d)",
        ..LAW
    },
    Entry {
        id: "ca-dmhc/pcp-ratio",
        title: "California: enrollees per primary care physician",
        short: "enrollees per PCP",
        applies_to: "enrollees per FTE primary care physician",
        rule: ratio("enrollees per FTE primary care physician", Op::Le, 2000.0),
        effective: "long-standing",
        citation: "28 CCR §1300.67.2(d); H&S Code §1375.9",
        note: "+ up to 1,000 per supervised FTE NP/PA",
        ..LAW
    },
    Entry {
        id: "md/bh-ratio",
        title: "Maryland: enrollees per behavioral health provider",
        short: "enrollees per BH provider",
        applies_to: "enrollees per FTE behavioral health provider",
        rule: ratio(
            "enrollees per FTE behavioral health provider",
            Op::Le,
            2000.0,
        ),
        effective: "current",
        citation: MARYLAND,
        note: "group-model HMOs (such as Kaiser Mid-Atlantic) are exempt: for them this is a \
               benchmark, not law",
        ..LAW
    },
    Entry {
        id: "md/sud-ratio",
        title: "Maryland: enrollees per SUD provider",
        short: "enrollees per SUD provider",
        applies_to: "enrollees per FTE SUD provider",
        rule: ratio("enrollees per FTE SUD provider", Op::Le, 2000.0),
        effective: "current",
        citation: MARYLAND,
        note: "group-model HMOs (such as Kaiser Mid-Atlantic) are exempt: for them this is a \
               benchmark, not law",
        ..LAW
    },
    Entry {
        id: "us-hrsa/mh-hpsa",
        title: "HRSA mental health shortage benchmark",
        short: "HRSA shortage",
        basis: Basis::Benchmark,
        applies_to: "mental health shortage area (a benchmark, not a plan duty): shortage when \
                     population per core MH professional ≥ 6,000 and per psychiatrist ≥ 20,000, \
                     or per core professional ≥ 9,000, or per psychiatrist ≥ 30,000",
        rule: EntryRule::Other(Requirement::Shortage),
        effective: "long-standing",
        citation: "42 CFR Part 5, App. C",
        note: "6,000 per core professional alone is a shortage only in areas of unusually high \
               need, which the catalog does not judge",
        ..LAW
    },
    // Section 3: settlement- and contract-derived standards.
    Entry {
        id: "kp-dmhc-2023/follow-up-average",
        title: "Benchmark from the DMHC–Kaiser 2023 enforcement: average mental health \
                follow-up wait",
        short: "average follow-up wait (benchmark)",
        basis: Basis::Benchmark,
        applies_to: "average non-urgent follow-up wait with a non-physician MH provider, against \
                     the 10 business-day SB 221 limit",
        rule: EntryRule::Wait(WaitRow {
            requests: ROUTINE_THERAPY_FOLLOW_UP_MH,
            clock: PriorAppointment,
            limit: 10.0,
            unit: BusinessDays,
            target: None,
            measure: Measure::MeanWait,
        }),
        effective: "2023-10-12",
        citation: "finding behind the DMHC–Kaiser settlement of 12 Oct 2023 ($50 M fine, $150 M \
                   investment over 5 years, corrective action work plan)",
        confidence: S,
        note: "a benchmark, not a settlement term: the 2023 enforcement found an average of 21.4 \
               business days in the second half of 2022; no source shows the settlement setting \
               an average limit; the legal duty is SB 221's, per appointment",
        time_zone: Some(LOS_ANGELES),
        ..LAW
    },
    Entry {
        id: "nuhw-2025/non-appointment-hours",
        title: "NUHW 2025 contract: therapist time for patient care outside appointments",
        short: "non-appointment hours",
        basis: Basis::Benchmark,
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
        note: "a contract term between Kaiser and its therapists' union, not a legal duty of the \
               plan",
        ..LAW
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
        short: row.short,
        basis: row.basis,
        applies_to: row.applies_to,
        rule,
        effective: date_in(row.effective),
        effective_text: row.effective,
        citation: row.citation,
        confidence: row.confidence,
        note: row.note,
        target_from: date_in(row.target_from),
        target_of: row.target_of,
        provider_from: row
            .provider_from
            .iter()
            .filter_map(|(provider, text)| Some((*provider, date_in(text)?)))
            .collect(),
        time_zone: row.time_zone,
        telehealth: row.telehealth,
        needs_start: row.needs_start,
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
    let mut out = blocks.join("\n");
    out.push_str("\ncalendars (business days; add dates with `holidays` or `holidays_file`)\n");
    for preset in Preset::ALL {
        let label = format!("  {:<width$}", preset.name(), width = LABEL_WIDTH - 2);
        out.push_str(&wrap(&label, preset.describe()));
    }
    out
}

const WIDTH: usize = 100;
const LABEL_WIDTH: usize = 16;

fn render_block(standard: &Standard) -> String {
    let confidence = standard.confidence;
    let basis = match standard.basis {
        Basis::Law => "law".to_owned(),
        Basis::Benchmark => "benchmark: not a legal duty, never shown as law".to_owned(),
    };
    let mut fields = vec![
        ("title", standard.title.to_owned()),
        ("basis", basis),
        ("applies to", standard.applies_to.to_owned()),
    ];
    fields.extend(rule_fields(&standard.rule));
    if let Requirement::WaitTime { target, .. } = &standard.rule {
        fields.extend(target_line(standard, *target));
        fields.push((
            "time zone",
            standard.time_zone.map_or_else(
                || "the check's or the daemon's".to_owned(),
                |zone| format!("{zone}, unless the check sets another"),
            ),
        ));
        fields.push((
            "telehealth",
            standard.telehealth.map_or_else(
                || "the source says nothing: counted unless the check sets `telehealth`".to_owned(),
                |t| t.describe().to_owned(),
            ),
        ));
    }
    let mut effective = standard.effective_text.to_owned();
    if standard.needs_start {
        effective
            .push_str("; set `in_force_from` to the plan's first rating period on or after it");
    }
    fields.extend([
        ("effective", effective),
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
        Requirement::Shortage => {
            return vec![(
                "limit",
                "shortage when population per core MH professional >= 6,000 and per \
                 psychiatrist >= 20,000, or per core professional >= 9,000, or per psychiatrist \
                 >= 30,000"
                    .to_owned(),
            )];
        }
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
        measure,
        ..
    } = rule
    else {
        return Vec::new();
    };
    let limit = unit.words(*limit);
    let limit = match measure {
        Measure::MeanWait => format!("average wait at most {limit}"),
        Measure::ShareWithinLimit => limit,
    };
    vec![
        ("requests", describe_selection(selection)),
        ("clock starts", clock.phrase().to_owned()),
        ("limit", limit),
    ]
}

/// The `target` line of a wait-time standard: whose share, from when.
fn target_line(standard: &Standard, target: Option<f64>) -> Option<(&'static str, String)> {
    let Requirement::WaitTime { measure, .. } = &standard.rule else {
        return None;
    };
    let text = match (measure, target) {
        (Measure::MeanWait, _) => "none: the limit applies to the average".to_owned(),
        (Measure::ShareWithinLimit, None) => {
            "none stated in law: a check must set `target`, the plan's own".to_owned()
        }
        (Measure::ShareWithinLimit, Some(share)) => {
            let mut text = format!(
                "{} of {} within the limit",
                percent(share),
                standard.target_of.as_str()
            );
            if let Some(from) = standard.target_from {
                text.push_str(&format!(
                    ", from {from}; none before unless the check sets `target`"
                ));
            }
            text
        }
    };
    Some(("target", text))
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

/// The calendar a check on `standard` uses unless it names one:
/// California's for California standards (and the Kaiser benchmark),
/// the federal one otherwise.
pub fn default_calendar(standard: &str) -> &'static str {
    if standard.starts_with("ca-") || standard.starts_with("kp-dmhc") {
        "ca-state"
    } else {
        "us-federal"
    }
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
        "short": standard.short,
        "basis": standard.basis.as_str(),
        "applies_to": standard.applies_to,
        "effective": standard.effective.map(|date| date.to_string()),
        "effective_text": standard.effective_text,
        "in_force_from_required": standard.needs_start,
        "citation": standard.citation,
        "confidence": standard.confidence.letter(),
        "note": standard.note,
    });
    let wait = matches!(standard.rule, Requirement::WaitTime { .. });
    let extra = if wait {
        json!({
            "target_from": standard.target_from.map(|d| d.to_string()),
            "target_of": standard.target_of.as_str(),
            "provider_types_from": standard
                .provider_from
                .iter()
                .map(|(p, d)| (p.as_str().to_owned(), Value::String(d.to_string())))
                .collect::<serde_json::Map<_, _>>(),
            "time_zone": standard.time_zone.map(|z| z.name()),
            "calendar": default_calendar(standard.id),
            "telehealth": standard.telehealth.map(Telehealth::as_str),
        })
    } else {
        json!({
            "target_from": null, "target_of": null, "provider_types_from": null,
            "time_zone": null, "calendar": null, "telehealth": null,
        })
    };
    if let (Value::Object(fields), Value::Object(extra)) = (&mut object, extra) {
        fields.extend(extra);
    }
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
            selection,
            clock,
            limit,
            unit,
            target,
            measure,
        } => json!({
            "kind": "wait_time", "clock_start": clock.as_str(), "limit": limit,
            "unit": unit.as_str(), "target": target, "measure": measure.as_str(),
            "op": null, "metric": null,
            "selection": {
                "urgency": selection.urgency.map(Urgency::as_str),
                "visit_type": selection.visit_type.map(VisitType::as_str),
                "prior_auth": selection.prior_auth,
                "provider_types": selection.provider_types.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            },
        }),
        Requirement::Shortage => json!({
            "kind": "shortage", "clock_start": null, "limit": null, "unit": null,
            "target": null, "measure": null, "op": null,
            "metric": "population per core mental health professional and per psychiatrist",
            "selection": null,
        }),
        Requirement::Ratio { metric, op, limit } => json!({
            "kind": "ratio", "clock_start": null, "limit": limit, "unit": null,
            "target": null, "measure": null, "op": op.as_str(), "metric": metric,
            "selection": null,
        }),
        Requirement::Threshold {
            metric,
            op,
            limit,
            unit,
        } => json!({
            "kind": "threshold", "clock_start": null, "limit": limit, "unit": unit,
            "target": null, "measure": null, "op": op.as_str(), "metric": metric,
            "selection": null,
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
    const FILE: [(&str, &str, &str); 30] = [
        ("ca-dmhc/urgent-no-prior-auth", "2011-01-17", "V"),
        ("ca-dmhc/urgent-prior-auth", "2011-01-17", "V"),
        ("ca-dmhc/non-urgent-primary-care", "2011-01-17", "V"),
        ("ca-dmhc/non-urgent-specialist", "2011-01-17", "V"),
        ("ca-dmhc/non-urgent-mh-initial", "2011-01-17 (MH), 2022-07-01 (SUD)", "V"),
        ("ca-sb221/mh-follow-up", "2022-07-01", "S"),
        ("ca-dmhc/non-urgent-ancillary", "2011-01-17", "V"),
        ("us-cms/medicaid-outpatient-mh-sud", "rating periods from 2027-07-09", "S"),
        ("us-cms/medicaid-primary-care", "rating periods from 2027-07-09", "S"),
        ("us-cms/ma-bh-non-urgent", "2024-01-01", "S"),
        ("us-cms/ma-bh-routine", "2024-01-01", "S"),
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
        ("ca-dmhc/phone-triage", "2011-01-17", "S"),
        ("ca-dmhc/customer-service-phone", "2011-01-17", "S"),
        ("ca-dmhc/physician-ratio", "long-standing", "V"),
        ("ca-dmhc/pcp-ratio", "long-standing", "V"),
        ("md/bh-ratio", "current", "V"),
        ("md/sud-ratio", "current", "V"),
        ("us-hrsa/mh-hpsa", "long-standing", "V"),
        ("kp-dmhc-2023/follow-up-average", "2023-10-12", "S"),
        ("nuhw-2025/non-appointment-hours", "contract ratified May 2025", "S"),
    ];

    /// Limit, unit, clock start and target of every wait-time row, copied from the file.
    #[rustfmt::skip]
    const WAITS: [(&str, f64, Unit, ClockStart, Option<f64>); 24] = [
        ("ca-dmhc/urgent-no-prior-auth", 48.0, Hours, Request, Some(0.70)),
        ("ca-dmhc/urgent-prior-auth", 96.0, Hours, Request, Some(0.70)),
        ("ca-dmhc/non-urgent-primary-care", 10.0, BusinessDays, Request, Some(0.70)),
        ("ca-dmhc/non-urgent-specialist", 15.0, BusinessDays, Request, Some(0.70)),
        ("ca-dmhc/non-urgent-mh-initial", 10.0, BusinessDays, Request, Some(0.70)),
        ("ca-sb221/mh-follow-up", 10.0, BusinessDays, PriorAppointment, None),
        ("ca-dmhc/non-urgent-ancillary", 15.0, BusinessDays, Request, Some(0.70)),
        ("us-cms/medicaid-outpatient-mh-sud", 10.0, BusinessDays, Request, Some(0.90)),
        ("us-cms/medicaid-primary-care", 15.0, BusinessDays, Request, Some(0.90)),
        ("us-cms/ma-bh-non-urgent", 7.0, BusinessDays, Request, None),
        ("us-cms/ma-bh-routine", 30.0, BusinessDays, Request, None),
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
        ("ca-dmhc/phone-triage", 30.0, Minutes, CallStart, None),
        ("ca-dmhc/customer-service-phone", 10.0, Minutes, CallStart, None),
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
                "2011-01-17 (MH), 2022-07-01 (SUD)" => date("2011-01-17"),
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
        let table: [(&str, Op, f64); 5] = [
            ("ca-dmhc/physician-ratio", Op::Le, 1200.0),
            ("ca-dmhc/pcp-ratio", Op::Le, 2000.0),
            ("md/bh-ratio", Op::Le, 2000.0),
            ("md/sud-ratio", Op::Le, 2000.0),
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
        let both = &[NonPhysicianMh, NonPhysicianSud, Psychiatrist];
        let therapy = &[NonPhysicianMh, NonPhysicianSud];
        let specialists = &[Psychiatrist, Specialist];
        check_selection("ca-dmhc/urgent-no-prior-auth", Some(Urgent), None, Some(false), &[]);
        check_selection("ca-dmhc/urgent-prior-auth", Some(Urgent), None, Some(true), &[]);
        check_selection("ca-dmhc/non-urgent-primary-care", Some(NonUrgent), None, None, &[PrimaryCare]);
        check_selection("ca-dmhc/non-urgent-specialist", Some(NonUrgent), None, None, specialists);
        check_selection("ca-dmhc/non-urgent-mh-initial", Some(NonUrgent), Some(Initial), None, therapy);
        check_selection("ca-sb221/mh-follow-up", Some(NonUrgent), Some(FollowUp), None, therapy);
        check_selection("ca-dmhc/non-urgent-ancillary", Some(NonUrgent), None, None, &[Ancillary]);
        check_selection("us-cms/medicaid-outpatient-mh-sud", Some(NonUrgent), None, None, both);
        check_selection("us-cms/medicaid-primary-care", Some(NonUrgent), None, None, &[PrimaryCare]);
        check_selection("us-cms/ma-bh-non-urgent", Some(NeedsAttention), None, None, both);
        check_selection("us-cms/ma-bh-routine", Some(NonUrgent), None, None, both);
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
        check_selection("ca-dmhc/phone-triage", None, None, None, &[]);
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
        assert_eq!(
            text.split("\n\n").count(),
            FILE.len() + 1,
            "a block per standard, and calendars"
        );
        for preset in Preset::ALL {
            assert!(
                text.contains(&format!("  {:<14}Monday to Friday", preset.name())),
                "{preset:?}"
            );
        }
        let expected = [
            "  confidence    V: seen in the text of a primary or secondary source\n",
            "  confidence    S: secondary only (plan notices, law-firm summaries)\n",
            "  requests      urgency urgent; visit_type any; prior_auth no; provider_types any\n",
            "  target        none stated in law: a check must set `target`, the plan's own\n",
            "  target        70 % of requests within the limit, from 2023-01-01; none before unless the check\n",
            "  target        95 % of enrollees within the limit\n",
            "  basis         benchmark: not a legal duty, never shown as law\n",
            "  basis         law\n",
            "  time zone     America/Los_Angeles, unless the check sets another\n",
            "  telehealth    a telehealth offer counts unless the member asked for in person\n",
            "  limit         48 hours\n",
            "  limit         enrollees per FTE physician <= 1,200\n",
            "  limit         average wait at most 10 business days\n",
            "  clock starts  at the prior appointment\n",
            "  effective     rating periods from 2027-07-09; set `in_force_from` to the plan's first rating\n",
            "  limit         30 minutes\n",
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
            "short",
            "basis",
            "in_force_from_required",
            "target_from",
            "target_of",
            "provider_types_from",
            "time_zone",
            "calendar",
            "telehealth",
            "selection",
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
            ("ca-dmhc/non-urgent-specialist", "note", json!(PAAS_NOTE)),
            ("us-cms/ffe-primary-care", "note", json!("")),
            ("us-cms/medicaid-primary-care", "effective", json!("2027-07-09")),
            ("us-cms/medicaid-primary-care", "confidence", json!("S")),
            ("ny/bh-initial", "target", Value::Null),
            ("ny/bh-post-discharge", "clock_start", json!("discharge")),
            ("md/bh-ratio", "effective", Value::Null),
            ("md/bh-ratio", "metric", json!("enrollees per FTE behavioral health provider")),
            ("us-hrsa/mh-hpsa", "kind", json!("shortage")),
            ("us-hrsa/mh-hpsa", "basis", json!("benchmark")),
            ("us-hrsa/mh-hpsa", "unit", Value::Null),
            ("us-hrsa/mh-hpsa", "clock_start", Value::Null),
            ("ca-dmhc/urgent-no-prior-auth", "basis", json!("law")),
            ("ca-dmhc/urgent-no-prior-auth", "target_from", json!("2023-01-01")),
            ("ca-dmhc/urgent-no-prior-auth", "time_zone", json!("America/Los_Angeles")),
            ("ca-dmhc/urgent-no-prior-auth", "calendar", json!("ca-state")),
            ("ca-dmhc/urgent-no-prior-auth", "selection", json!({
                "urgency": "urgent", "visit_type": null, "prior_auth": false, "provider_types": [],
            })),
            ("ca-dmhc/non-urgent-mh-initial", "provider_types_from", json!({"non_physician_sud": "2022-07-01"})),
            ("ca-sb221/mh-follow-up", "target", Value::Null),
            ("ca-sb221/mh-follow-up", "target_from", Value::Null),
            ("us-cms/medicaid-outpatient-mh-sud", "in_force_from_required", json!(true)),
            ("us-cms/medicaid-outpatient-mh-sud", "calendar", json!("us-federal")),
            ("us-cms/medicaid-outpatient-mh-sud", "time_zone", Value::Null),
            ("md/urgent", "target_of", json!("enrollees")),
            ("md/urgent", "telehealth", json!("member_choice")),
            ("ny/bh-initial", "telehealth", json!("unless_in_person_requested")),
            ("ca-dmhc/phone-triage", "unit", json!("minutes")),
            ("ca-dmhc/phone-triage", "clock_start", json!("call_start")),
            ("kp-dmhc-2023/follow-up-average", "basis", json!("benchmark")),
            ("nuhw-2025/non-appointment-hours", "basis", json!("benchmark")),
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
