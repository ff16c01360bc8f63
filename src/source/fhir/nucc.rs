//! Behavioral-health codes of the NUCC Health Care Provider Taxonomy
//! (`http://nucc.org/provider-taxonomy`), checked against the NUCC code
//! set's CSV (version 24.x): which codes make a psychologist, a clinical
//! social worker, a marriage and family therapist, a counselor, a
//! psychiatrist or a psychiatric nurse practitioner, and which are
//! deactivated. Pure data.

pub const SYSTEM: &str = "http://nucc.org/provider-taxonomy";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BhCategory {
    Psychologist,
    SocialWorker,
    Mft,
    Counselor,
    Psychiatrist,
    PsychNp,
    Other,
}

impl BhCategory {
    pub const ALL: [BhCategory; 7] = [
        BhCategory::Psychologist,
        BhCategory::SocialWorker,
        BhCategory::Mft,
        BhCategory::Counselor,
        BhCategory::Psychiatrist,
        BhCategory::PsychNp,
        BhCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BhCategory::Psychologist => "psychologist",
            BhCategory::SocialWorker => "social_worker",
            BhCategory::Mft => "mft",
            BhCategory::Counselor => "counselor",
            BhCategory::Psychiatrist => "psychiatrist",
            BhCategory::PsychNp => "psych_np",
            BhCategory::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<BhCategory> {
        BhCategory::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Deactivated NUCC codes a behavioral-health directory still carries
/// (all marked inactive on 2007-01-01): flagged, never counted.
pub const DEACTIVATED: [&str; 5] = [
    "103GC0700X", // Clinical Neuropsychologist, Clinical (use 103G00000X)
    "103TE1000X", // Psychologist, Educational
    "103TM1700X", // Psychologist, Men & Masculinity
    "103TP2700X", // Psychologist, Psychotherapy
    "103TW0100X", // Psychologist, Women
];

/// Psychiatry & Neurology codes that are psychiatry. The other `2084…`
/// codes (neurology, sleep, pain, sports medicine, …) are not.
const PSYCHIATRY: [&str; 8] = [
    "2084P0800X", // Psychiatry
    "2084P0804X", // Child & Adolescent Psychiatry
    "2084P0805X", // Geriatric Psychiatry
    "2084P0802X", // Addiction Psychiatry
    "2084F0202X", // Forensic Psychiatry
    "2084B0040X", // Behavioral Neurology & Neuropsychiatry
    "2084P0015X", // Psychosomatic Medicine
    "2084A0401X", // Addiction Medicine (Psychiatry & Neurology board)
];

/// Counselors who treat mental health or substance use; pastoral and
/// school counselors (101YP1600X, 101YS0200X) are not a health plan's
/// behavioral-health network.
const COUNSELORS: [&str; 4] = ["101Y00000X", "101YA0400X", "101YM0800X", "101YP2500X"];

/// Addiction (Substance Use Disorder) Counselor.
const SUD_COUNSELOR: &str = "101YA0400X";

/// Primary care physicians, for Appointment and Slot provider types.
const PRIMARY_CARE: [&str; 4] = ["207Q00000X", "207R00000X", "208000000X", "208D00000X"];

pub fn is_deactivated(code: &str) -> bool {
    DEACTIVATED.contains(&code)
}

/// Whether `code` is shaped like a NUCC code (ten characters, the last
/// an `X`), for codings that leave out their system.
pub fn looks_like_nucc(code: &str) -> bool {
    code.len() == 10
        && code.ends_with('X')
        && code.starts_with(|c: char| c.is_ascii_digit())
        && code.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The behavioral-health category of an active code; `None` for codes
/// that are not behavioral health (or are deactivated).
pub fn bh_category(code: &str) -> Option<BhCategory> {
    if is_deactivated(code) {
        return None;
    }
    let category = if code.starts_with("103T") || code == "103G00000X" {
        BhCategory::Psychologist
    } else if code == "1041C0700X" {
        BhCategory::SocialWorker
    } else if code == "106H00000X" {
        BhCategory::Mft
    } else if COUNSELORS.contains(&code) {
        BhCategory::Counselor
    } else if PSYCHIATRY.contains(&code) {
        BhCategory::Psychiatrist
    } else if code == "363LP0808X" || code == "364SP0808X" {
        BhCategory::PsychNp
    } else {
        return None;
    };
    Some(category)
}

/// The canonical provider type of a NUCC code, for wait-time standards:
/// psychiatrists are `psychiatrist`; addiction (SUD) counselors
/// `non_physician_sud`; every other behavioral-health clinician,
/// psychiatric nurse practitioners included, is `non_physician_mh`;
/// family, internal, general medicine and pediatrics are `primary_care`.
pub fn provider_type(code: &str) -> Option<&'static str> {
    match bh_category(code) {
        // Addiction (substance use disorder) counselors: SUD, which some
        // standards cover from a later date than mental health.
        Some(BhCategory::Counselor) if code == SUD_COUNSELOR => Some("non_physician_sud"),
        Some(BhCategory::Psychiatrist) => Some("psychiatrist"),
        Some(_) => Some("non_physician_mh"),
        None if PRIMARY_CARE.contains(&code) => Some("primary_care"),
        None => None,
    }
}
