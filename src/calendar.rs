//! Temporary stub of the business-day calendars (replaced by the real ones).

use chrono::{Datelike, NaiveDate, Weekday};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    UsFederal,
    CaState,
    Weekdays,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::UsFederal, Preset::CaState, Preset::Weekdays];
    pub fn parse(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }
    pub fn name(self) -> &'static str {
        match self {
            Preset::UsFederal => "us-federal",
            Preset::CaState => "ca-state",
            Preset::Weekdays => "weekdays",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Calendar {
    preset: Preset,
    extra: Vec<NaiveDate>,
}

impl Calendar {
    pub fn new(preset: Preset, extra: &[NaiveDate]) -> Calendar {
        Calendar { preset, extra: extra.to_vec() }
    }
    pub fn preset(&self) -> Preset {
        self.preset
    }
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.extra.contains(&date)
    }
    pub fn business_days(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.business_days(to, from);
        }
        from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| self.is_business_day(*d)).count() as i64
    }
    pub fn holidays(_year: i32, _preset: Preset) -> Vec<(NaiveDate, &'static str)> {
        Vec::new()
    }
}

pub fn parse_date_file(text: &str) -> Result<Vec<NaiveDate>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
        .map(|l| NaiveDate::parse_from_str(l.trim(), "%Y-%m-%d").map_err(|e| e.to_string()))
        .collect()
}
