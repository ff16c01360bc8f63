//! Appointment wait-time compliance (`kind = "timely_access"` checks):
//! per group, the share of appointment requests offered an appointment
//! within a standard's limit.
//!
//! The evaluation streams: an [`Evaluator`] takes one row at a time
//! ([`Evaluator::add`]) and keeps only counts and a histogram of waits per
//! group, so memory does not grow with the number of rows. Evaluators of
//! separate chunks of a file are combined with [`Evaluator::merge`], which
//! is how the CSV driver in `source::csv_stream` uses both cores.
//!
//! Semantics, per row of a check (the standards file is the reference):
//! 1. the clock-start time (request, prior visit or discharge) must parse,
//!    else the row is rejected; outside the window it is skipped. An empty
//!    prior-visit or discharge time rejects only a row the standard
//!    applies to (an initial visit has no prior visit);
//! 2. the fields the standard selects on must hold known values, else the
//!    row is rejected; rows the standard does not apply to are skipped;
//! 3. an offer that does not parse or comes before the clock start is
//!    rejected;
//! 4. `extended_by_provider`: compliant, and counted as extended;
//!    offered within the limit: compliant; later: non-compliant;
//!    not offered and the limit already passed at the evaluation time:
//!    non-compliant and overdue; otherwise pending (left out of the rate).
//!
//! Waits in business days count the business days `d` with
//! `clock-start date < d <= offer date`, in the check's zone. Pure: the
//! evaluation time is a parameter.

mod accumulate;
pub mod columns;
mod row;
pub mod sql;
pub mod timestamp;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use accumulate::{GroupAcc, Outcome};
use columns::{Cells, Columns};
use row::{Read, Reader, View};
use timestamp::Stamp;

use crate::check::fields::Field;
use crate::check::standards::{Modality, ProviderType, Selection, Telehealth, Urgency, VisitType};
use crate::check::{Check, CheckResult, Rule, Status, WaitRule};
use crate::table::{Table, Value};

/// How many rejected rows are kept, with their reasons, per check.
const REJECTED_SAMPLES: usize = 5;

/// The running evaluation of every wait-time check on one source: each
/// row is read once ([`row::Reader`]) and counted by every check.
#[derive(Debug, Clone)]
pub struct Evaluator {
    as_of: DateTime<Utc>,
    reader: Reader,
    checks: Vec<CheckState>,
    /// Checks that classify a row alike (the same standard, selection,
    /// limit, clock, zone, calendar and value map; `group_by`, window and
    /// targets may differ) share one classification per row; each check
    /// then tests its own window.
    classes: Vec<Class>,
    /// The classes grouped by the clock they read (zone and clock field),
    /// with the widest window of their checks: a row whose clock is
    /// outside it is skipped by all of them after one test.
    windows: Vec<Window>,
}

#[derive(Debug, Clone)]
struct Window {
    zone: usize,
    clock: Field,
    start: Stamp,
    end: Stamp,
    classes: Vec<usize>,
    /// Whether a class must see every row (`require_labels`): then no
    /// row is skipped for the window as a whole.
    see_all: bool,
    /// Which of the window's classes may count a row whose clock start is
    /// a timestamp, or empty if `empty_chosen` (a class that would reject
    /// the row for its clock start sees it whatever else it holds).
    choice: Option<Choice>,
    /// Whether a row with an empty clock start is chosen for too: for a
    /// clock other than the request time, which only a class whose
    /// standard applies to the row rejects the row for
    /// (`CheckState::classify`); the others skip it as they would a row
    /// with one.
    empty_chosen: bool,
}

/// The classes of a window that may count a row whose clock start is a
/// timestamp (or is empty, for a clock other than the request time, which
/// only a class whose standard applies to the row rejects the row for):
/// a class whose standard wants another urgency, visit type,
/// prior authorization or provider type would skip the row after reading
/// the fields it selects on, and most rows are for a few of eight
/// standards. The fields are read in the order a class reads them
/// ([`CheckState::selects`]), each only while a class that is still in
/// could be left out by it, so that no field is read that the classes
/// themselves would not have read. A class is left out only when it
/// would skip the row: for a field that is empty or not a value the
/// class rejects the row, so it is kept, whatever the later fields hold.
#[derive(Debug, Clone)]
struct Choice {
    /// The value map the classes read (one for all of them).
    values: usize,
    root: Node,
}

/// A step of [`Choice`]: the classes still in, or a field to read next
/// and the step for each of its codes ([`code`]).
#[derive(Debug, Clone)]
enum Node {
    Classes(Vec<Chosen>),
    Read(Selected4, Vec<Node>),
}

/// A class [`Choice`] keeps for a row, and what its selection says of the
/// row when the fields read on the way decide it: `Some` when every
/// field the class selects on was read and holds a value it wants (then
/// with the row's provider type if it selects on that), `None` when the
/// class reads its selection itself (it rejects the row, or must see
/// every row).
#[derive(Debug, Clone, Copy)]
struct Chosen {
    class: usize,
    selected: Option<Option<ProviderType>>,
}

/// The four fields a standard selects on, in the order it reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected4 {
    Urgency,
    VisitType,
    PriorAuth,
    ProviderType,
}

impl Selected4 {
    const ALL: [Selected4; 4] = [
        Selected4::Urgency,
        Selected4::VisitType,
        Selected4::PriorAuth,
        Selected4::ProviderType,
    ];

    /// How many codes the field has: empty, not a value, then its values.
    fn codes(self) -> usize {
        2 + match self {
            Selected4::Urgency => Urgency::ALL.len(),
            Selected4::VisitType => VisitType::ALL.len(),
            Selected4::PriorAuth => 2,
            Selected4::ProviderType => ProviderType::ALL.len(),
        }
    }

    /// Whether `selection` selects on the field.
    fn selects(self, selection: &Selection) -> bool {
        match self {
            Selected4::Urgency => selection.urgency.is_some(),
            Selected4::VisitType => selection.visit_type.is_some(),
            Selected4::PriorAuth => selection.prior_auth.is_some(),
            Selected4::ProviderType => !selection.provider_types.is_empty(),
        }
    }

    /// Whether `selection` wants the value of code `code` (2 or more).
    fn wants(self, selection: &Selection, code: usize) -> bool {
        let place = code - 2;
        match self {
            Selected4::Urgency => selection.urgency == Urgency::ALL.get(place).copied(),
            Selected4::VisitType => selection.visit_type == VisitType::ALL.get(place).copied(),
            Selected4::PriorAuth => selection.prior_auth == Some(place == 1),
            Selected4::ProviderType => ProviderType::ALL
                .get(place)
                .is_some_and(|p| selection.provider_types.contains(p)),
        }
    }

    /// The field's code in the row of `view`.
    fn read<R: Cells>(self, view: &mut View<'_, '_, R>, values: usize) -> usize {
        match self {
            Selected4::Urgency => code(view.urgency(values), |u| u as usize),
            Selected4::VisitType => code(view.visit_type(values), |v| v as usize),
            Selected4::PriorAuth => code(view.prior_auth(values), usize::from),
            Selected4::ProviderType => code(view.provider_type(values), |p| p as usize),
        }
    }
}

/// A coded field as an index: 0 empty, 1 not a value, then each value by
/// its place in its type's `ALL`.
fn code<T>(read: Read<T>, place: impl Fn(T) -> usize) -> usize {
    match read {
        Read::Empty => 0,
        Read::Invalid => 1,
        Read::Value(value) => 2 + place(value),
    }
}

impl Choice {
    /// For the classes `window` of `classes`; `None` when they read more
    /// than one value map.
    fn new(checks: &[CheckState], classes: &[Class], window: &[usize]) -> Option<Choice> {
        let values = checks[classes[*window.first()?].check].values;
        if window
            .iter()
            .any(|c| checks[classes[*c].check].values != values)
        {
            return None;
        }
        let selection = |c: usize| &checks[classes[c].check].rule.selection;
        // Each class, and whether it is kept whatever the fields still to
        // read hold (it must see every row, or rejects this one).
        let start: Vec<(usize, bool)> = window
            .iter()
            .map(|c| (*c, classes[*c].require_labels))
            .collect();
        Some(Choice {
            values,
            root: Self::node(&start, 0, None, &selection),
        })
    }

    /// The step for `classes` (each with whether it is kept whatever the
    /// fields still to read hold) from field number `field` on, the row's
    /// provider type being `provider` if it was read.
    fn node<'s>(
        classes: &[(usize, bool)],
        field: usize,
        provider: Option<ProviderType>,
        selection: &impl Fn(usize) -> &'s Selection,
    ) -> Node {
        let Some(&next) = Selected4::ALL.get(field) else {
            let chosen = classes.iter().map(|&(class, kept)| {
                // Not kept: every field it selects on was read (a field
                // is read while such a class selects on it) and wanted.
                let selected = (!kept).then(|| {
                    let s = selection(class);
                    if s.provider_types.is_empty() {
                        None
                    } else {
                        provider
                    }
                });
                Chosen { class, selected }
            });
            return Node::Classes(chosen.collect());
        };
        if !classes
            .iter()
            .any(|(c, kept)| !kept && next.selects(selection(*c)))
        {
            // No class still in could be left out by this field: it is
            // not read.
            return Self::node(classes, field + 1, provider, selection);
        }
        let children = (0..next.codes())
            .map(|code| {
                let still: Vec<(usize, bool)> = classes
                    .iter()
                    .filter_map(|&(c, kept)| {
                        let s = selection(c);
                        if kept || !next.selects(s) {
                            Some((c, kept))
                        } else if code < 2 {
                            // Empty, or not a value: rejected.
                            Some((c, true))
                        } else {
                            next.wants(s, code).then_some((c, false))
                        }
                    })
                    .collect();
                let provider = match next {
                    Selected4::ProviderType => ProviderType::ALL.get(code.wrapping_sub(2)).copied(),
                    _ => provider,
                };
                if still.is_empty() {
                    Node::Classes(Vec::new())
                } else {
                    Self::node(&still, field + 1, provider, selection)
                }
            })
            .collect();
        Node::Read(next, children)
    }

    /// The classes that may count the row of `view`.
    fn classes<R: Cells>(&self, view: &mut View<'_, '_, R>) -> &[Chosen] {
        let mut node = &self.root;
        loop {
            match node {
                Node::Classes(classes) => return classes,
                Node::Read(field, children) => {
                    node = &children[field.read(view, self.values)];
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Class {
    check: usize,
    members: Vec<usize>,
    /// Whether a member rejects rows without labels, which it must see
    /// even when the class skips them.
    require_labels: bool,
    /// The members counted together, when two or more can be.
    shared: Option<Shared>,
    /// The members that count each row themselves: those not in `shared`
    /// (all of them, once it is given up).
    direct: Vec<usize>,
}

/// The most groups of the labels a class's members share before the
/// class gives sharing up: counting per check is then bounded by each
/// check's own groups, not by their product.
const SHARED_GROUPS: usize = 4096;

/// Counts shared by the members of a class that differ only in their
/// `group_by` and window: each row is counted once, in the group of all
/// their labels together and the band of windows it falls in. Each
/// member's groups are the sums of these: read as such when its result
/// is made ([`Evaluator::finish_on`], `GroupAcc::finish_sum`), or summed
/// into its own counts if the members stop sharing ([`Shared::roll_up`]).
/// Eighty checks over eight standards then count a row about as often as
/// eight would.
#[derive(Debug, Clone)]
struct Shared {
    /// The label set of every member's labels.
    set: usize,
    /// The members' distinct window starts, latest first. A row is in
    /// band `b` when it is before `b` of them; a member whose start is
    /// `starts[j]` counts the rows of bands `0..=j`. A row whose clock
    /// start is empty or not a timestamp is in band 0, as every member
    /// counts it.
    starts: Vec<Stamp>,
    end: Stamp,
    members: Vec<SharedMember>,
    /// Counts by band, then by group of `set`.
    bands: Vec<Vec<Option<GroupAcc>>>,
    /// [`SHARED_GROUPS`] (fewer in tests).
    limit: usize,
    /// The first rejected rows of each band.
    rejected: Vec<Vec<(u64, String)>>,
}

#[derive(Debug, Clone)]
struct SharedMember {
    check: usize,
    /// The member's window start: its index in `Shared::starts`.
    band: usize,
    /// Where each of its `group_by` labels is in `Shared::set`.
    positions: Vec<usize>,
}

#[derive(Debug, Clone)]
struct CheckState {
    check: Check,
    rule: Arc<WaitRule>,
    /// Set when the source lacks a column the check needs: nothing is
    /// counted and the check is `unknown`.
    error: Option<String>,
    /// The fields that start and end a wait (`rule.clock_field()` and
    /// `rule.end_field()`), read from here on every row.
    clock: Field,
    end: Field,
    /// The day number ([`timestamp::day_number`]) a request's clock
    /// must start on or after to be judged, for each provider type the
    /// standard took effect for later than for the others
    /// (`WaitRule::effective_for`), and for any other: read on every
    /// request a check counts.
    effective: EffectiveDays,
    /// Whether the source has a `modality` column: without one, every
    /// offer counts ([`CheckState::telehealth_counts`]), and the column
    /// is not asked for on every row.
    modality: bool,
    /// The check's time zone, value map and `group_by` in the reader.
    zone: usize,
    values: usize,
    labels: usize,
    as_of: Stamp,
    /// The start of the window, `as_of` less the check's `window`.
    window_start: Stamp,
    /// Counts by group number of the check's label set; `None` for a
    /// group that has had only rows the check skips.
    groups: Vec<Option<GroupAcc>>,
    rejected_samples: Vec<(u64, String)>,
}

impl Evaluator {
    /// An evaluator for the `timely_access` checks among `checks` over
    /// rows with `header`, through the source's field `mapping`.
    pub fn new(
        checks: &[Check],
        header: &[String],
        mapping: &BTreeMap<String, String>,
        as_of: DateTime<Utc>,
    ) -> Evaluator {
        let mut reader = Reader::new(header, mapping);
        let checks = checks
            .iter()
            .filter_map(|check| {
                let Rule::TimelyAccess(rule) = &check.rule else {
                    return None;
                };
                let rule = Arc::new((**rule).clone());
                let columns = Columns::resolve(header, mapping, &check.group_by);
                let zone = reader.zone(rule.time_zone);
                let as_of_stamp = reader
                    .stamp_in(zone, as_of.timestamp())
                    .with_nanos(as_of.timestamp_subsec_nanos());
                let window_start = Stamp {
                    utc: as_of_stamp.utc - rule.window.num_seconds(),
                    ..as_of_stamp
                };
                Some(CheckState {
                    error: missing_columns(check, &rule, &columns, header, mapping),
                    effective: EffectiveDays::of(&rule),
                    modality: columns.has(Field::Modality),
                    check: check.clone(),
                    values: reader.values(&rule.values),
                    labels: reader.label_set(header, &check.group_by),
                    zone,
                    clock: rule.clock_field(),
                    end: rule.end_field(),
                    rule,
                    as_of: as_of_stamp,
                    window_start,
                    groups: Vec::new(),
                    rejected_samples: Vec::new(),
                })
            })
            .collect::<Vec<_>>();
        let mut classes: Vec<Class> = Vec::new();
        let mut signatures: Vec<String> = Vec::new();
        for index in 0..checks.len() {
            let signature = checks[index].signature();
            let calendar = &checks[index].rule.calendar;
            let same = |(class, s): (usize, &String)| {
                (*s == signature
                    && checks[classes[class].check]
                        .rule
                        .calendar
                        .same_days(calendar))
                .then_some(class)
            };
            let found = signatures.iter().enumerate().find_map(same);
            let class = match found {
                Some(class) => class,
                None => {
                    signatures.push(signature);
                    classes.push(Class {
                        check: index,
                        members: Vec::new(),
                        require_labels: false,
                        shared: None,
                        direct: Vec::new(),
                    });
                    classes.len() - 1
                }
            };
            classes[class].members.push(index);
            classes[class].require_labels |= checks[index].check.require_labels;
        }
        for class in &mut classes {
            class.shared = Shared::new(&checks, &class.members, &mut reader, header);
            class.direct = class
                .members
                .iter()
                .copied()
                .filter(|m| !class.shared.as_ref().is_some_and(|s| s.has(*m)))
                .collect();
        }
        let mut windows: Vec<Window> = Vec::new();
        for (index, class) in classes.iter().enumerate() {
            let state = &checks[class.check];
            let (zone, clock, end) = (state.zone, state.rule.clock_field(), state.as_of);
            // The members' windows end alike (at `as_of`): the window of
            // the class is from the earliest start.
            let start = class
                .members
                .iter()
                .map(|m| checks[*m].window_start)
                .min_by_key(|s| s.instant())
                .unwrap_or(state.window_start);
            let at = match windows
                .iter()
                .position(|w| (w.zone, w.clock, w.end) == (zone, clock, end))
            {
                Some(at) => at,
                None => {
                    windows.push(Window {
                        zone,
                        clock,
                        start,
                        end,
                        classes: Vec::new(),
                        see_all: false,
                        choice: None,
                        empty_chosen: clock != Field::RequestedAt,
                    });
                    windows.len() - 1
                }
            };
            let window = &mut windows[at];
            window.classes.push(index);
            window.see_all |= class.require_labels;
            if start.instant() < window.start.instant() {
                window.start = start;
            }
        }
        for window in &mut windows {
            window.choice = Choice::new(&checks, &classes, &window.classes);
        }
        Evaluator {
            as_of,
            reader,
            checks,
            classes,
            windows,
        }
    }

    /// The names a record of a source without a header (JSON, NDJSON) is
    /// read as for `checks`: every canonical field and every label.
    pub fn record_names(checks: &[Check]) -> Vec<String> {
        let mut names: Vec<String> = Field::ALL.iter().map(|f| f.name().to_owned()).collect();
        for check in checks {
            for label in &check.group_by {
                if !names.contains(label) {
                    names.push(label.clone());
                }
            }
        }
        names
    }

    /// For a source read as [`Evaluator::record_names`]: the names some
    /// record had. A check that needs a column no record had is `unknown`
    /// with the error a parsed table would have given.
    pub fn columns_found(&mut self, present: &[String]) {
        let none = BTreeMap::new();
        for state in &mut self.checks {
            let columns = Columns::resolve(present, &none, &state.check.group_by);
            if state.error.is_none() {
                state.error = missing_columns(&state.check, &state.rule, &columns, present, &none);
            }
            if state.error.is_some() {
                // What a table without the column would have given:
                // nothing counted.
                state.groups.clear();
                state.rejected_samples.clear();
            }
        }
    }

    /// Counts one row; `line` is its line (or record) number in the source.
    pub fn add(&mut self, line: u64, row: &impl Cells) {
        let Evaluator {
            reader,
            checks,
            classes,
            windows,
            ..
        } = self;
        let mut view = reader.view(row);
        for window in windows.iter() {
            let start = view.stamp(window.zone, window.clock);
            if !window.see_all
                && let Read::Value(start) = start
                && outside(start, window.start, window.end)
            {
                continue;
            }
            let chosen = match start {
                Read::Value(_) => true,
                Read::Empty => window.empty_chosen,
                Read::Invalid => false,
            };
            match &window.choice {
                Some(choice) if chosen => {
                    for c in choice.classes(&mut view) {
                        let class = &mut classes[c.class];
                        Self::add_class(checks, class, line, &mut view, start, c.selected);
                    }
                }
                _ => {
                    for class in &window.classes {
                        debug_assert_eq!(
                            {
                                let c = &checks[classes[*class].check];
                                (c.zone, c.clock)
                            },
                            (window.zone, window.clock)
                        );
                        Self::add_class(checks, &mut classes[*class], line, &mut view, start, None);
                    }
                }
            }
        }
    }

    /// Counts one row for the checks of `class`, whose clock start (in
    /// the class's zone) is `start`: read once for the window, and handed
    /// down rather than looked up again in the row's cache by each class
    /// and member (a fifth of the pass's own time went to those lookups).
    fn add_class<R: Cells>(
        checks: &mut [CheckState],
        class: &mut Class,
        line: u64,
        view: &mut View<'_, '_, R>,
        start: Read<Stamp>,
        selected: Option<Option<ProviderType>>,
    ) {
        let outcome = checks[class.check].classify(view, start, selected);
        // Most rows are outside most checks' window or selection: one
        // test skips them for the whole class.
        if matches!(outcome, Outcome::Skipped) && !class.require_labels {
            return;
        }
        if let Some(shared) = &mut class.shared
            && !shared.count(line, view, &outcome, start)
        {
            // Too many groups: the members count on their own from now.
            class.unshare(checks, view.reader());
        }
        for &member in &class.direct {
            let state = &mut checks[member];
            if state.error.is_some() {
                continue;
            }
            let outside = state.outside(start);
            if outside && !state.check.require_labels {
                continue;
            }
            let outcome = match state.missing_required_label(view) {
                Some(reason) => Outcome::rejected(reason),
                None if outside => Outcome::Skipped,
                None => outcome.clone(),
            };
            state.count(line, view, outcome);
        }
    }

    /// Gives sharing up past `limit` groups instead of [`SHARED_GROUPS`].
    #[cfg(test)]
    fn share_at_most(&mut self, limit: usize) {
        for shared in self.classes.iter_mut().filter_map(|c| c.shared.as_mut()) {
            shared.limit = limit;
        }
    }

    /// Whether any checks share their counts.
    #[cfg(test)]
    fn shares(&self) -> bool {
        self.classes.iter().any(|c| c.shared.is_some())
    }

    /// The columns of the rows the checks read (others need not be read).
    pub fn used_columns(&self) -> Vec<usize> {
        self.reader.used_columns()
    }

    /// Adds `lines_before` to the line numbers of the rejected rows kept:
    /// for rows numbered from the start of a part of the source.
    pub fn renumber(&mut self, lines_before: u64) {
        self.renumber_with(&|line| line + lines_before);
    }

    /// Replaces the line number of every rejected row kept by what `line`
    /// gives for it (`source::csv_stream` numbers rows by range first).
    pub fn renumber_with(&mut self, line: &dyn Fn(u64) -> u64) {
        let shared = self.classes.iter_mut().filter_map(|c| c.shared.as_mut());
        let samples = (self.checks.iter_mut().map(|s| &mut s.rejected_samples))
            .chain(shared.flat_map(|s| s.rejected.iter_mut()));
        for samples in samples {
            for (number, _) in samples {
                *number = line(*number);
            }
        }
    }

    /// Adds the counts of `other`, an evaluator of another part of the same
    /// source built with the same arguments.
    pub fn merge(&mut self, mut other: Evaluator) {
        for (mine, theirs) in self.classes.iter_mut().zip(&mut other.classes) {
            match (&mut mine.shared, theirs.shared.take()) {
                (Some(shared), Some(their_shared)) => {
                    shared.merge(their_shared, &mut self.reader, &other.reader);
                }
                // Their members count on their own (`unshare`): so do
                // the counts shared until then, merged below.
                (None, Some(their_shared)) => {
                    their_shared.roll_up(&mut other.checks, &mut other.reader)
                }
                (_, None) => {}
            }
        }
        let mut renumbered: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (mine, theirs) in self.checks.iter_mut().zip(other.checks) {
            let numbers = renumbered
                .entry(mine.labels)
                .or_insert_with(|| self.reader.renumber(mine.labels, &other.reader));
            for (theirs_number, acc) in theirs.groups.into_iter().enumerate() {
                let Some(acc) = acc else { continue };
                add_group(&mut mine.groups, numbers[theirs_number], acc);
            }
            keep_first_samples(&mut mine.rejected_samples, theirs.rejected_samples);
        }
    }

    /// The results, one per check. `data_time` is when the data was made.
    pub fn finish(self, data_time: DateTime<Utc>) -> Vec<CheckResult> {
        self.finish_on(data_time, 1)
    }

    /// [`Evaluator::finish`] on up to `threads` threads: each check's
    /// result made from its groups, or from the shared groups they are
    /// the sums of, on every core, as the rows were read (the same
    /// results).
    pub fn finish_on(self, data_time: DateTime<Utc>, threads: usize) -> Vec<CheckResult> {
        let Evaluator {
            as_of,
            mut reader,
            mut checks,
            classes,
            ..
        } = self;
        let shared: Vec<Shared> = classes.into_iter().filter_map(|c| c.shared).collect();
        let shared = Shared::seal_on(shared, threads);
        // Each member's groups as the shared groups they are the sums of,
        // read as they are when its result is made (`GroupAcc::finish_sum`).
        let mut sums: Vec<Option<RollUp<'_>>> = (0..checks.len()).map(|_| None).collect();
        for sum in shared.iter().flat_map(|s| s.plan(&mut checks, &mut reader)) {
            let check = sum.check;
            sums[check] = Some(sum);
        }
        let reader = &reader;
        map_on(
            checks.into_iter().zip(sums).collect(),
            threads,
            |(state, sum)| state.finish(reader, as_of, data_time, sum),
        )
    }
}

/// `f` of each of `items`, in order, on up to `threads` scoped threads
/// (the items dealt out in turn, so that neighbours of like cost are
/// spread). A panic in `f` is resumed on the caller's thread.
fn map_on<T: Send, R: Send>(items: Vec<T>, threads: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let count = items.len();
    let mut hands: Vec<Vec<(usize, T)>> = (0..threads).map(|_| Vec::new()).collect();
    for (index, item) in items.into_iter().enumerate() {
        hands[index % threads].push((index, item));
    }
    let f = &f;
    let done: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let running: Vec<_> = hands
            .into_iter()
            .map(|hand| scope.spawn(move || hand.into_iter().map(|(i, t)| (i, f(t))).collect()))
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
    for (index, result) in done.into_iter().flatten() {
        results[index] = Some(result);
    }
    results.into_iter().flatten().collect()
}

/// One check's groups as sums of shared groups ([`Shared::plan`]).
struct RollUp<'a> {
    check: usize,
    /// The check's groups so far (counted after sharing was given up).
    own: Vec<Option<GroupAcc>>,
    /// The shared groups each of its groups is the sum of, by number.
    parts: Vec<Vec<&'a GroupAcc>>,
}

impl RollUp<'_> {
    /// The check and its groups.
    fn sum(self) -> (usize, Vec<Option<GroupAcc>>) {
        let RollUp {
            check,
            mut own,
            parts,
        } = self;
        for (number, mut parts) in parts.into_iter().enumerate() {
            if parts.is_empty() {
                continue;
            }
            // What the member counted itself, after giving sharing up
            // (`GroupAcc::sum` takes sealed and unsealed parts alike).
            let slot = group_slot(&mut own, number);
            let mine = slot.take();
            parts.extend(mine.as_ref());
            *slot = Some(GroupAcc::sum(&parts));
        }
        (check, own)
    }
}

impl Class {
    /// Gives sharing up: the shared counts go to the members, which count
    /// each row themselves from now.
    fn unshare(&mut self, checks: &mut [CheckState], reader: &mut Reader) {
        if let Some(shared) = self.shared.take() {
            shared.roll_up(checks, reader);
        }
        self.direct.clone_from(&self.members);
    }
}

impl Shared {
    /// Shared counts for the `members` of a class that can share them
    /// (those that read every column they need and do not reject rows
    /// without labels), if there are two or more.
    fn new(
        checks: &[CheckState],
        members: &[usize],
        reader: &mut Reader,
        header: &[String],
    ) -> Option<Shared> {
        let sharing: Vec<(usize, &CheckState)> = members
            .iter()
            .map(|m| (*m, &checks[*m]))
            .filter(|(_, state)| state.error.is_none() && !state.check.require_labels)
            .collect();
        let (_, first) = *sharing.first()?;
        if sharing.len() < 2 {
            return None;
        }
        // In one order whatever the members' (alphabetical): classes whose
        // members have the same labels then read each row's group once.
        let mut names: Vec<String> = sharing
            .iter()
            .flat_map(|(_, state)| state.check.group_by.iter().cloned())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut starts: Vec<Stamp> = sharing.iter().map(|(_, s)| s.window_start).collect();
        starts.sort_unstable_by_key(|s| std::cmp::Reverse(s.instant()));
        starts.dedup_by_key(|s| s.instant());
        let members = sharing
            .iter()
            .map(|(check, state)| {
                let positions = state
                    .check
                    .group_by
                    .iter()
                    .filter_map(|label| names.iter().position(|n| n == label))
                    .collect();
                let start = state.window_start.instant();
                SharedMember {
                    check: *check,
                    band: starts.iter().filter(|s| s.instant() > start).count(),
                    positions,
                }
            })
            .collect();
        Some(Shared {
            set: reader.label_set(header, &names),
            bands: vec![Vec::new(); starts.len()],
            limit: SHARED_GROUPS,
            rejected: vec![Vec::new(); starts.len()],
            starts,
            end: first.as_of,
            members,
        })
    }

    fn has(&self, check: usize) -> bool {
        self.members.iter().any(|m| m.check == check)
    }

    /// Counts `outcome`, the classification of the row of `view`, in its
    /// band and group; false (nothing counted) when the row would make
    /// more than [`SHARED_GROUPS`] groups.
    fn count<R: Cells>(
        &mut self,
        line: u64,
        view: &mut View<'_, '_, R>,
        outcome: &Outcome,
        start: Read<Stamp>,
    ) -> bool {
        if matches!(outcome, Outcome::Skipped) {
            return true;
        }
        let band = match start {
            Read::Value(start) => {
                let start = start.instant();
                if start > self.end.instant() {
                    return true;
                }
                let band = self
                    .starts
                    .iter()
                    .take_while(|s| start < s.instant())
                    .count();
                if band == self.starts.len() {
                    // Before every member's window.
                    return true;
                }
                band
            }
            Read::Empty | Read::Invalid => 0,
        };
        let (group, _) = view.group(self.set);
        if group >= self.limit {
            return false;
        }
        if let Outcome::Rejected(reason) = outcome
            && self.rejected[band].len() < REJECTED_SAMPLES
        {
            self.rejected[band].push((line, reason.clone()));
        }
        group_slot(&mut self.bands[band], group)
            .get_or_insert_with(GroupAcc::default)
            .count(outcome.clone());
        true
    }

    /// Adds the counts of `other`, the same class's in an evaluator of
    /// another part of the source, whose reader is `theirs`.
    fn merge(&mut self, other: Shared, reader: &mut Reader, theirs: &Reader) {
        let numbers = reader.renumber(self.set, theirs);
        for (mine, groups) in self.bands.iter_mut().zip(other.bands) {
            for (number, acc) in groups.into_iter().enumerate() {
                let Some(acc) = acc else { continue };
                add_group(mine, numbers[number], acc);
            }
        }
        for (mine, rejected) in self.rejected.iter_mut().zip(other.rejected) {
            keep_first_samples(mine, rejected);
        }
    }

    /// Gives each member the counts of the bands in its window, summed
    /// into its own groups: for members that stop sharing, and count on
    /// their own from then on.
    fn roll_up(mut self, checks: &mut [CheckState], reader: &mut Reader) {
        self.seal();
        for sum in self.plan(checks, reader) {
            let (check, groups) = sum.sum();
            checks[check].groups = groups;
        }
    }

    /// Each of `shared` [`Shared::seal`]ed, on up to `threads` threads.
    fn seal_on(shared: Vec<Shared>, threads: usize) -> Vec<Shared> {
        map_on(shared, threads, |mut shared| {
            shared.seal();
            shared
        })
    }

    /// Puts the long waits of every shared group in order, as the sums
    /// read them ([`GroupAcc::seal`]).
    fn seal(&mut self) {
        for acc in self.bands.iter_mut().flatten().flatten() {
            acc.seal();
        }
    }

    /// What each member's groups are the sums of ([`RollUp`]): the shared
    /// groups, and its own groups taken out of `checks`. The members'
    /// rejected rows are given to them here.
    fn plan(&self, checks: &mut [CheckState], reader: &mut Reader) -> Vec<RollUp<'_>> {
        let mut sums = Vec::new();
        // Each shared group's labels, split from its key once for all the
        // members rather than once per member.
        let groups = self.bands.iter().map(Vec::len).max().unwrap_or(0);
        let labels: Vec<Vec<String>> = (0..groups)
            .map(|group| reader.group_labels(self.set, group))
            .collect();
        for member in &self.members {
            let state = &mut checks[member.check];
            if state.error.is_some() {
                // What a check that reads nothing counts (its error came
                // after the rows: `Evaluator::columns_found`).
                continue;
            }
            let mut projected: Vec<Option<usize>> = Vec::new();
            // The shared groups each of the member's groups is the sum of.
            let mut parts: Vec<Vec<&GroupAcc>> = Vec::new();
            for band in 0..=member.band {
                for (group, acc) in self.bands[band].iter().enumerate() {
                    let Some(acc) = acc else { continue };
                    if projected.len() <= group {
                        projected.resize(group + 1, None);
                    }
                    let number = *projected[group].get_or_insert_with(|| {
                        reader.project(&labels[group], state.labels, &member.positions)
                    });
                    if parts.len() <= number {
                        parts.resize_with(number + 1, Vec::new);
                    }
                    parts[number].push(acc);
                }
                let rejected = self.rejected[band].iter().cloned();
                keep_first_samples(&mut state.rejected_samples, rejected);
            }
            sums.push(RollUp {
                check: member.check,
                own: std::mem::take(&mut state.groups),
                parts,
            });
        }
        sums
    }
}

/// Group `number` of `groups`, which grow to hold it.
fn group_slot(groups: &mut Vec<Option<GroupAcc>>, number: usize) -> &mut Option<GroupAcc> {
    if groups.len() <= number {
        groups.resize_with(number + 1, || None);
    }
    &mut groups[number]
}

/// Adds `more` rejected rows to `samples`, keeping the first
/// [`REJECTED_SAMPLES`] by line.
fn keep_first_samples(
    samples: &mut Vec<(u64, String)>,
    more: impl IntoIterator<Item = (u64, String)>,
) {
    samples.extend(more);
    samples.sort_unstable();
    samples.truncate(REJECTED_SAMPLES);
}

/// Adds `acc` to group `number` of `groups`.
fn add_group(groups: &mut Vec<Option<GroupAcc>>, number: usize, acc: GroupAcc) {
    match group_slot(groups, number) {
        Some(existing) => existing.merge(&acc),
        empty @ None => *empty = Some(acc),
    }
}

/// `WaitRule::effective_for` of each provider type, as day numbers.
#[derive(Debug, Clone)]
struct EffectiveDays {
    any: Option<i32>,
    by_provider: Vec<(ProviderType, Option<i32>)>,
}

impl EffectiveDays {
    fn of(rule: &WaitRule) -> EffectiveDays {
        let day = |provider| rule.effective_for(provider).map(timestamp::day_number);
        let any = day(None);
        EffectiveDays {
            any,
            by_provider: ProviderType::ALL
                .iter()
                .map(|p| (*p, day(Some(*p))))
                .filter(|(_, d)| *d != any)
                .collect(),
        }
    }

    /// The day number of `WaitRule::effective_for(provider)`.
    fn day_for(&self, provider: Option<ProviderType>) -> Option<i32> {
        match provider {
            Some(p) => (self.by_provider.iter())
                .find(|(q, _)| *q == p)
                .map_or(self.any, |(_, d)| *d),
            None => self.any,
        }
    }
}

/// Whether a standard applies to a row ([`CheckState::selects`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    /// It does, with the row's provider type if the standard selects on it.
    Yes(Option<ProviderType>),
    No,
    /// A field the standard selects on is empty.
    Empty(Field),
    /// A field the standard selects on holds an unknown value.
    Unknown(Field),
}

/// Whether `start` is outside the window `[from, to]` (a request exactly
/// at its start is inside).
fn outside(start: Stamp, from: Stamp, to: Stamp) -> bool {
    start.instant() < from.instant() || start.instant() > to.instant()
}

fn missing_columns(
    check: &Check,
    rule: &WaitRule,
    columns: &Columns,
    header: &[String],
    mapping: &BTreeMap<String, String>,
) -> Option<String> {
    let mut needed: Vec<String> = std::iter::once(rule.clock_field())
        .chain(rule.selected_fields())
        .filter(|f| !columns.has(*f))
        .map(|f| f.name().to_owned())
        .collect();
    needed.extend(columns.missing_labels().map(|i| check.group_by[i].clone()));
    if needed.is_empty() {
        return None;
    }
    let shown: Vec<String> = needed
        .iter()
        .map(|n| match mapping.get(n) {
            Some(column) => format!("`{n}` (mapped to column {column:?})"),
            None => format!("`{n}`"),
        })
        .collect();
    Some(format!(
        "source {:?} has no {} (it has: {}); map with [source.fields] {} = \"column name\"",
        check.source,
        shown.join(", "),
        header.join(", "),
        needed[0]
    ))
}

impl CheckState {
    /// What decides how a row is classified, as text, but the calendar
    /// and the window: checks with the same signature and calendar
    /// classify every row inside their windows alike.
    fn signature(&self) -> String {
        let r = &*self.rule;
        format!(
            "{}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{}|{}|{:?}",
            r.standard.id,
            r.standard.provider_from,
            r.selection,
            r.clock,
            r.limit,
            r.unit,
            r.effective,
            r.telehealth,
            self.zone,
            self.values,
            self.as_of,
        )
    }

    /// Counts `outcome`, the classification of `row`.
    fn count<R: Cells>(&mut self, line: u64, row: &mut View<'_, '_, R>, outcome: Outcome) {
        if matches!(outcome, Outcome::Skipped) {
            // Counted nowhere, and makes no group.
            return;
        }
        if let Outcome::Rejected(reason) = &outcome
            && self.rejected_samples.len() < REJECTED_SAMPLES
        {
            self.rejected_samples.push((line, reason.clone()));
        }
        let (number, _) = row.group(self.labels);
        group_slot(&mut self.groups, number)
            .get_or_insert_with(GroupAcc::default)
            .count(outcome);
    }

    /// With `require_labels`, why `row` has no group: the first `group_by`
    /// field it has no value for. It is then rejected, and counted in the
    /// group "no FIELD", which `max_rejected` keeps from firing.
    fn missing_required_label<R: Cells>(&self, row: &mut View<'_, '_, R>) -> Option<String> {
        if !self.check.require_labels {
            return None;
        }
        let (_, index) = row.group(self.labels);
        let field = self
            .check
            .group_by
            .get(index?)
            .map_or("a group_by field", String::as_str);
        Some(format!("`{field}` is empty (require_labels = true)"))
    }

    /// Whether a row whose clock start is `start` is outside this check's
    /// window: before the window's start or after its end.
    fn outside(&self, start: Read<Stamp>) -> bool {
        match start {
            Read::Value(start) => outside(start, self.window_start, self.as_of),
            Read::Empty | Read::Invalid => false,
        }
    }

    /// The outcome of `row`, whose clock start is `start`, if it is inside
    /// the check's window (the window is tested apart, per check:
    /// [`CheckState::outside`]).
    fn classify<R: Cells>(
        &self,
        row: &mut View<'_, '_, R>,
        start: Read<Stamp>,
        selected: Option<Option<ProviderType>>,
    ) -> Outcome {
        let rule = &*self.rule;
        let clock = self.clock;
        let start = match start {
            Read::Value(start) => start,
            Read::Invalid => {
                return Outcome::rejected(format!("`{}` is not a timestamp", clock.name()));
            }
            Read::Empty => {
                // Every row is a request and needs its request time; a
                // prior visit or a discharge is needed only by the rows the
                // standard applies to (follow-ups, post-discharge visits).
                if clock != Field::RequestedAt && !matches!(self.selects(row), Selected::Yes(_)) {
                    return Outcome::Skipped;
                }
                return Outcome::rejected(format!("`{}` is empty", clock.name()));
            }
        };
        // The window is each check's own (`CheckState::outside`). What
        // the selection says of the row, unless a window's choice read it.
        let selected = match selected {
            Some(provider) => Selected::Yes(provider),
            None => self.selects(row),
        };
        let provider = match selected {
            Selected::Yes(provider) => provider,
            Selected::No => return Outcome::Skipped,
            Selected::Empty(field) => {
                return Outcome::rejected(format!("`{}` is empty", field.name()));
            }
            Selected::Unknown(field) => {
                return Outcome::rejected(format!("`{}` has an unknown value", field.name()));
            }
        };
        // Compared as day numbers: this is asked of every row selected.
        if self
            .effective
            .day_for(provider)
            .is_some_and(|day| start.local_day < day)
        {
            return Outcome::BeforeEffective;
        }
        let extended = match row.extended(self.values) {
            Read::Empty => false,
            Read::Value(b) => b,
            Read::Invalid => {
                return Outcome::rejected("`extended_by_provider` is not true or false");
            }
        };
        let end = self.end;
        let offer = match row.stamp(self.zone, end) {
            Read::Empty => None,
            Read::Invalid => {
                return Outcome::rejected(format!("`{}` is not a timestamp", end.name()));
            }
            Read::Value(offer) if offer < start => {
                return Outcome::rejected(format!("`{}` is before `{}`", end.name(), clock.name()));
            }
            Read::Value(offer) => Some(offer),
        };
        let offer = match self.telehealth_counts(row) {
            Ok(true) => offer,
            // A telehealth offer the standard does not count: the request
            // is still waiting for one it does.
            Ok(false) => None,
            Err(reason) => return Outcome::Rejected(reason),
        };
        accumulate::outcome(rule, start, offer, extended, self.as_of)
    }

    /// Whether the offer of `row` counts under the standard's telehealth
    /// rule. An offer of unknown modality (no `modality`) counts.
    fn telehealth_counts<R: Cells>(&self, row: &mut View<'_, '_, R>) -> Result<bool, String> {
        if !self.modality {
            // Every offer is of unknown modality.
            return Ok(true);
        }
        let mut modality = |field: Field| -> Result<Option<Modality>, String> {
            match row.modality(self.values, field) {
                Read::Empty => Ok(None),
                Read::Value(modality) => Ok(Some(modality)),
                Read::Invalid => Err(format!(
                    "`{}` has an unknown value: use \"in_person\" or \"telehealth\"",
                    field.name()
                )),
            }
        };
        if modality(Field::Modality)? != Some(Modality::Telehealth) {
            return Ok(true);
        }
        let requested = modality(Field::RequestedModality)?;
        Ok(match self.rule.telehealth {
            Telehealth::Counts => true,
            Telehealth::UnlessInPersonRequested => requested != Some(Modality::InPerson),
            Telehealth::MemberChoice => requested == Some(Modality::Telehealth),
            Telehealth::DoesNotCount => false,
        })
    }

    /// Whether the standard applies to `row` (with the row's provider
    /// type when it has one), or which field it selects on is empty or
    /// holds an unknown value. Asked by every class on every row in its
    /// window: the answer is a small value, the reason is written only
    /// for a rejected row.
    fn selects<R: Cells>(&self, row: &mut View<'_, '_, R>) -> Selected {
        fn test<T: PartialEq>(read: Read<T>, field: Field, wanted: T) -> Option<Selected> {
            match read {
                Read::Value(value) if value == wanted => None,
                Read::Value(_) => Some(Selected::No),
                Read::Empty => Some(Selected::Empty(field)),
                Read::Invalid => Some(Selected::Unknown(field)),
            }
        }
        let s = &self.rule.selection;
        if let Some(wanted) = s.urgency
            && let Some(answer) = test(row.urgency(self.values), Field::Urgency, wanted)
        {
            return answer;
        }
        if let Some(wanted) = s.visit_type
            && let Some(answer) = test(row.visit_type(self.values), Field::VisitType, wanted)
        {
            return answer;
        }
        if let Some(wanted) = s.prior_auth
            && let Some(answer) = test(row.prior_auth(self.values), Field::PriorAuth, wanted)
        {
            return answer;
        }
        if s.provider_types.is_empty() {
            return Selected::Yes(None);
        }
        match row.provider_type(self.values) {
            Read::Value(value) if s.provider_types.contains(&value) => Selected::Yes(Some(value)),
            Read::Value(_) => Selected::No,
            Read::Empty => Selected::Empty(Field::ProviderType),
            Read::Invalid => Selected::Unknown(Field::ProviderType),
        }
    }

    /// The check's result. `sum`: what its groups are the sums of, when
    /// it shared its counts (then its own groups are in `sum`).
    fn finish(
        self,
        reader: &Reader,
        as_of: DateTime<Utc>,
        data_time: DateTime<Utc>,
        sum: Option<RollUp<'_>>,
    ) -> CheckResult {
        let rule = &*self.rule;
        let mut result = crate::check::result::empty_result(&self.check, as_of);
        result.data_time = Some(data_time);
        result.rejected_rows = self
            .rejected_samples
            .iter()
            .map(|(line, reason)| format!("row {line}: {reason}"))
            .collect();
        if let Some(error) = self.error {
            result.error = Some(error);
            return result;
        }
        let today = self.as_of.local_date();
        let in_force = rule.effective.is_none_or(|effective| effective <= today);
        let label_set = reader.labels(self.labels);
        let (own, parts) = match sum {
            Some(sum) => (sum.own, sum.parts),
            None => (self.groups, Vec::new()),
        };
        let mut groups: Vec<_> = (0..own.len().max(parts.len()))
            .filter_map(|number| {
                let mut parts: Vec<&GroupAcc> = parts.get(number).cloned().unwrap_or_default();
                parts.extend(own.get(number).and_then(Option::as_ref));
                if parts.is_empty() {
                    return None;
                }
                let labels = labels(&self.check.group_by, label_set.key(number));
                Some(GroupAcc::finish_sum(&parts, labels, rule, today))
            })
            .collect();
        groups.sort_by(|a, b| a.labels.cmp(&b.labels));
        if !in_force {
            for group in &mut groups {
                group.status = Status::NotInForce;
            }
        }
        result.status = if !in_force {
            Status::NotInForce
        } else if groups.is_empty() {
            result.error = Some(format!(
                "no appointment requests in the {} days before the evaluation time match the standard",
                rule.window.num_days()
            ));
            Status::Unknown
        } else {
            crate::check::result::worst(&groups)
        };
        result.groups = groups;
        result
    }
}

/// Evaluates one wait-time check on a parsed table (JSON, NDJSON, HTTP
/// sources), whose field mapping has already been applied.
pub fn evaluate_table(check: &Check, table: &Table, as_of: DateTime<Utc>) -> CheckResult {
    evaluate_table_all(std::slice::from_ref(check), table, as_of)
        .pop()
        .unwrap_or_else(|| crate::check::result::empty_result(check, as_of))
}

/// Evaluates the wait-time checks among `checks` (all of one source) on
/// its parsed table in one pass: each row is converted and read once.
/// One result per wait-time check, in order.
pub fn evaluate_table_all(
    checks: &[Check],
    table: &Table,
    as_of: DateTime<Utc>,
) -> Vec<CheckResult> {
    let header: Vec<String> = table.columns.iter().cloned().collect();
    let mut evaluator = Evaluator::new(checks, &header, &BTreeMap::new(), as_of);
    let mut cells: Vec<Option<String>> = Vec::with_capacity(header.len());
    for row in &table.rows {
        cells.clear();
        cells.extend(
            header
                .iter()
                .map(|name| row.fields.get(name).and_then(cell_text)),
        );
        evaluator.add(row.number as u64, &cells);
    }
    evaluator.finish(table.data_time)
}

/// A table cell as the text the evaluator reads.
pub fn cell_text(value: &Value) -> Option<String> {
    match value {
        Value::Text(text) => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Nested(_) => None,
    }
}

fn labels(names: &[String], key: &str) -> BTreeMap<String, String> {
    if names.is_empty() {
        return BTreeMap::new();
    }
    names.iter().cloned().zip(row::split_key(key)).collect()
}

#[cfg(test)]
mod tests;
