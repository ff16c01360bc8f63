//! Threshold, ratio, shortage and freshness checks folded per group, one
//! row at a time: what [`super::evaluate`] computes from a whole table,
//! kept as sums, counts, minima, maxima and newest times per group, so a
//! source of any size is evaluated in memory that grows with its groups,
//! not its rows.
//!
//! The plug is source-agnostic: whatever reads a source (a file, a
//! PostgreSQL portal, an HTTP body, FHIR pages) makes a [`Tally`] for the
//! checks that read it, hands it each [`Row`] as [`crate::table::parse`]
//! would have made it, then [`Tally::finish`]es it with the source's
//! columns and data time; [`super::finish`] and [`super::finish_joined`]
//! turn its [`Folded`] parts into results. The folded results are the
//! table's to the bit: sums are added in row order (so a source is folded
//! by one thread), and a group's error is its first bad row's.
//!
//! To fold another kind of source (FHIR pages), make
//! `source::foldable` accept it and give `daemon::run::fold_source` an arm
//! that feeds the `Tally` its rows: `table::read_rows` for CSV and NDJSON
//! from any reader, `source::json_stream::fold_rows` for a JSON document,
//! or rows built as the source's table builds them. The errors must be the
//! fetch's, and the `Summary` what its table would tell.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::check::{Check, Rule};
use crate::table::{Newest, Row, Table, Value};

/// A group's labels: `group_by` field → label.
pub type Labels = BTreeMap<String, String>;

/// What a source told besides its rows' values: what a [`crate::table::Table`]
/// tells without its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Every field name the rows may carry, after mapping.
    pub columns: BTreeSet<String>,
    /// Rows read.
    pub rows: usize,
    /// What a row number counts: "line", "record" or "row".
    pub position: &'static str,
    /// When the data was produced, as far as the source can tell.
    pub data_time: DateTime<Utc>,
}

/// Which of a check's needs a source's fold serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The whole check (its only source).
    Check,
    /// The numerator sums of a ratio joined across two sources.
    Numerator,
    /// The denominator sums of a ratio joined across two sources.
    Denominator,
}

/// The sources `check` reads and what each one's fold serves: its source
/// for the whole check, or, for a ratio whose numerator comes from another
/// source, that source for the numerator and its own for the denominator.
/// None for wait-time checks, which the wait-time evaluator folds.
pub fn parts(check: &Check) -> Vec<(&str, Part)> {
    match &check.rule {
        Rule::TimelyAccess(_) => Vec::new(),
        Rule::Ratio {
            numerator_source: Some(other),
            ..
        } => vec![
            (other.as_str(), Part::Numerator),
            (check.source.as_str(), Part::Denominator),
        ],
        _ => vec![(check.source.as_str(), Part::Check)],
    }
}

/// One check's rows (or one side of a joined ratio's) folded per group.
#[derive(Debug, Clone)]
pub struct Groups {
    group_by: Vec<String>,
    require_labels: bool,
    /// The number fields summed per group, in the order the rule reads them.
    fields: Vec<String>,
    /// The time field whose newest value a freshness check reads.
    time: Option<(String, Tz)>,
    pub(super) groups: BTreeMap<Labels, Group>,
    /// Rows left out for want of a label (`require_labels`), and the first
    /// five of them: row number and the field.
    pub(super) unlabelled: u64,
    pub(super) rejected: Vec<(usize, String)>,
}

/// One group's rows, folded.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) rows: usize,
    /// Per field of [`Groups::fields`].
    pub(super) numbers: Vec<Numbers>,
    pub(super) newest: Newest,
}

/// A field's values over a group's rows, as far as all are numbers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Numbers {
    /// Added in row order from the value an empty `Iterator::sum` gives,
    /// as `values.iter().sum()` adds them.
    pub(super) sum: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    /// The first row whose value is not a number, and its kind.
    pub(super) bad: Option<(usize, &'static str)>,
}

impl Default for Numbers {
    fn default() -> Numbers {
        Numbers {
            sum: std::iter::empty::<f64>().sum(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            bad: None,
        }
    }
}

impl Numbers {
    fn add(&mut self, number: usize, value: Option<&Value>) {
        if self.bad.is_some() {
            return;
        }
        match value.and_then(Value::as_number) {
            Some(n) => {
                self.sum += n;
                self.min = self.min.min(n);
                self.max = self.max.max(n);
            }
            None => self.bad = Some((number, value.map_or("missing", Value::kind))),
        }
    }

    /// The sum, or the first bad row's error, as `numbers` gave it.
    pub(super) fn sum(&self, position: &str, field: &str) -> Result<f64, String> {
        match self.bad {
            Some((number, kind)) => Err(format!(
                "{position} {number}: `{field}` is {kind}, not a number"
            )),
            None => Ok(self.sum),
        }
    }
}

impl Groups {
    /// The fold `part` of `check` needs.
    pub fn new(check: &Check, part: Part) -> Groups {
        let (fields, time): (Vec<&String>, _) = match (&check.rule, part) {
            (
                Rule::Ratio {
                    numerator,
                    denominator,
                    ..
                },
                Part::Check,
            ) => (vec![numerator, denominator], None),
            (Rule::Ratio { numerator, .. }, Part::Numerator) => (vec![numerator], None),
            (Rule::Ratio { denominator, .. }, Part::Denominator) => (vec![denominator], None),
            (Rule::Threshold { field, .. }, _) => (vec![field], None),
            (
                Rule::Shortage {
                    population,
                    core,
                    psychiatrists,
                },
                _,
            ) => (vec![population, core, psychiatrists], None),
            (Rule::Freshness { field: Some(field) }, _) => {
                (vec![], Some((field.clone(), check.schedule.time_zone())))
            }
            (Rule::Freshness { field: None } | Rule::TimelyAccess(_), _) => (vec![], None),
        };
        Groups {
            group_by: check.group_by.clone(),
            // The sides of a joined ratio group every row.
            require_labels: check.require_labels && part == Part::Check,
            fields: fields.into_iter().cloned().collect(),
            time,
            groups: BTreeMap::new(),
            unlabelled: 0,
            rejected: Vec::new(),
        }
    }

    /// Takes one row.
    pub fn add(&mut self, row: &Row) {
        let labels: Labels = self
            .group_by
            .iter()
            .map(|field| {
                let label = row
                    .fields
                    .get(field)
                    .and_then(Value::as_label)
                    .unwrap_or_else(|| crate::check::result::NO_LABEL.to_owned());
                (field.clone(), label)
            })
            .collect();
        // The first field (by name) without a label; a label that reads
        // "(none)" counts as none, as it always has.
        let missing = labels
            .iter()
            .find(|(_, v)| v.as_str() == crate::check::result::NO_LABEL)
            .map(|(k, _)| k);
        if let (Some(field), true) = (missing, self.require_labels) {
            self.unlabelled += 1;
            if self.rejected.len() < 5 {
                self.rejected.push((row.number, field.clone()));
            }
            return;
        }
        let fields = self.fields.len();
        let group = self.groups.entry(labels).or_insert_with(|| Group {
            rows: 0,
            numbers: vec![Numbers::default(); fields],
            newest: Newest::default(),
        });
        group.rows += 1;
        for (numbers, field) in group.numbers.iter_mut().zip(&self.fields) {
            numbers.add(row.number, row.fields.get(field));
        }
        if let Some((field, zone)) = &self.time {
            group.newest.add(row.number, row.fields.get(field), *zone);
        }
    }
}

/// Every fold of one source: a [`Groups`] per check (or side of a joined
/// ratio) that reads it, and the newest time of its `time_field`.
#[derive(Debug, Clone)]
pub struct Tally {
    parts: Vec<Groups>,
    rows: usize,
    time_field: Option<(String, Tz, Newest)>,
}

impl Tally {
    /// A fold for `parts` (each a check and what this source serves of it,
    /// from [`parts`]); `time_field` (and the zone where its bare dates
    /// start) when the source's data time is its newest value.
    pub fn new(parts: &[(&Check, Part)], time_field: Option<(&str, Tz)>) -> Tally {
        Tally {
            parts: parts
                .iter()
                .map(|(check, part)| Groups::new(check, *part))
                .collect(),
            rows: 0,
            time_field: time_field.map(|(field, zone)| (field.to_owned(), zone, Newest::default())),
        }
    }

    /// Takes one row.
    pub fn add(&mut self, row: &Row) {
        self.rows += 1;
        for part in &mut self.parts {
            part.add(row);
        }
        if let Some((field, zone, newest)) = &mut self.time_field {
            newest.add(row.number, row.fields.get(field), *zone);
        }
    }

    /// The source's summary and each part's groups, in the order of
    /// [`Tally::new`]'s `parts`. `data_time` stands when there is no
    /// `time_field`; a `time_field` without a readable newest time fails
    /// the source, as a fetched table does.
    pub fn finish(
        self,
        columns: BTreeSet<String>,
        position: &'static str,
        data_time: DateTime<Utc>,
    ) -> anyhow::Result<Folded> {
        let data_time = match &self.time_field {
            None => data_time,
            Some((field, _, newest)) => {
                use anyhow::Context as _;
                newest
                    .finish(position, field)
                    .with_context(|| format!("reading the time_field `{field}`"))?
            }
        };
        Ok(Folded {
            summary: Summary {
                columns,
                rows: self.rows,
                position,
                data_time,
            },
            parts: self.parts,
        })
    }
}

/// A folded source: its summary and the groups of each part.
#[derive(Debug, Clone)]
pub struct Folded {
    pub summary: Summary,
    pub parts: Vec<Groups>,
}

/// A table's summary and its rows folded for `part` of `check`.
pub fn fold_table(check: &Check, part: Part, table: &Table) -> (Summary, Groups) {
    let mut groups = Groups::new(check, part);
    for row in &table.rows {
        groups.add(row);
    }
    let summary = Summary {
        columns: table.columns.clone(),
        rows: table.rows.len(),
        position: table.position,
        data_time: table.data_time,
    };
    (summary, groups)
}
