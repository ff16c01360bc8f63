//! The alert lifecycle, run by run.

use super::*;

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::minutes(minutes)
}

fn obs(status: Status, value: f64, recovered: bool) -> Observation {
    Observation {
        check_id: "c".to_owned(),
        group_key: "south".to_owned(),
        labels: BTreeMap::new(),
        severity: Severity::Critical,
        status,
        value: Some(value),
        limit: 3000.0,
        recovered,
    }
}

const B: Status = Status::Breach;
const OK: Status = Status::Ok;
const U: Status = Status::Unknown;

/// Runs the observations one a minute (or at the given minutes) and
/// returns the phase after each, with the notices told along the way.
fn check(policy: &Policy, runs: &[(i64, Status, f64, bool)], expected: &[&str]) {
    let mut episode: Option<Episode> = None;
    let mut got = Vec::new();
    for (minute, status, value, recovered) in runs {
        let now = at(*minute);
        episode = observe(episode, &obs(*status, *value, *recovered), policy, now);
        let mut line = episode
            .as_ref()
            .map_or("none".to_owned(), |e| e.phase.as_str().to_owned());
        if let Some(e) = episode.as_mut()
            && let Some(notice) = due(e, policy, now, false)
        {
            mark_told(e, notice, policy, now);
            line = format!("{line} +{}", notice.as_str());
        }
        got.push(line);
        // A resolved episode is closed once told; the next breach opens a new one.
        if episode.as_ref().is_some_and(|e| e.phase == Phase::Resolved) {
            episode = None;
        }
    }
    assert_eq!(got, expected);
}

#[test]
fn fires_at_once_and_resolves() {
    let p = Policy::default();
    check(
        &p,
        &[
            (0, OK, 1.0, true),
            (1, B, 3500.0, false),
            (2, B, 3400.0, false),
            (3, OK, 2000.0, true),
            (4, OK, 2000.0, true),
        ],
        &[
            "none",
            "firing +firing",
            "firing",
            "resolved +resolved",
            "none",
        ],
    );
}

#[test]
fn for_runs_and_for_duration() {
    let runs = Policy {
        for_runs: 3,
        ..Policy::default()
    };
    check(
        &runs,
        &[
            (0, B, 1.0, false),
            (1, B, 1.0, false),
            (2, OK, 1.0, true),
            (3, B, 1.0, false),
            (4, B, 1.0, false),
            (5, B, 1.0, false),
        ],
        &[
            "pending",
            "pending",
            "none",
            "pending",
            "pending",
            "firing +firing",
        ],
    );
    let duration = Policy {
        for_duration: Duration::minutes(60),
        ..Policy::default()
    };
    check(
        &duration,
        &[
            (0, B, 1.0, false),
            (30, B, 1.0, false),
            (59, B, 1.0, false),
            (60, B, 1.0, false),
        ],
        &["pending", "pending", "pending", "firing +firing"],
    );
}

#[test]
fn unknown_never_resolves_or_fires() {
    let p = Policy {
        for_runs: 2,
        ..Policy::default()
    };
    check(
        &p,
        &[
            (0, B, 1.0, false),
            (1, U, 0.0, false),
            (2, B, 1.0, false),
            (3, U, 0.0, false),
            (4, U, 0.0, false),
            (5, OK, 1.0, true),
        ],
        &[
            "pending",
            "pending",
            "firing +firing",
            "firing",
            "firing",
            "resolved +resolved",
        ],
    );
    check(
        &p,
        &[(0, U, 0.0, false), (1, U, 0.0, false)],
        &["none", "none"],
    );
}

#[test]
fn clear_at_stops_flapping() {
    // Hovering around the limit: healthy but not past clear_at keeps it
    // firing, with no new notices; only a clear recovery resolves it.
    let p = Policy::default();
    check(
        &p,
        &[
            (0, B, 3010.0, false),
            (1, OK, 2990.0, false),
            (2, B, 3005.0, false),
            (3, OK, 2995.0, false),
            (4, B, 3001.0, false),
            (5, OK, 2700.0, true),
        ],
        &[
            "firing +firing",
            "firing",
            "firing",
            "firing",
            "firing",
            "resolved +resolved",
        ],
    );
}

#[test]
fn reminders_repeat_with_back_off_and_respect_acks() {
    let p = Policy {
        repeat_interval: Duration::minutes(10),
        repeat_backoff: 2.0,
        ..Policy::default()
    };
    let runs: Vec<(i64, Status, f64, bool)> = (0..=75).map(|m| (m, B, 1.0, false)).collect();
    let mut episode = None;
    let mut told = Vec::new();
    for (minute, status, value, recovered) in runs {
        let now = at(minute);
        episode = observe(episode, &obs(status, value, recovered), &p, now);
        let e = episode.as_mut().unwrap();
        if minute == 40 {
            // Acknowledged until minute 70: the reminder due at 70 waits.
            e.ack_until = Some(at(71));
        }
        if let Some(notice) = due(e, &p, now, false) {
            mark_told(e, notice, &p, now);
            told.push(format!("{minute}:{}", notice.as_str()));
        }
    }
    // Firing at 0; reminders after 10, then 20 more (× 2), then 40 more,
    // which falls at 70, inside the acknowledgement: told at 71.
    assert_eq!(
        told,
        ["0:firing", "10:reminder", "30:reminder", "71:reminder"]
    );
}

#[test]
fn maintenance_holds_notices_until_it_ends() {
    let p = Policy::default();
    let mut e = observe(None, &obs(B, 1.0, false), &p, at(0)).unwrap();
    assert_eq!(due(&e, &p, at(0), true), None);
    assert_eq!(due(&e, &p, at(5), true), None);
    assert_eq!(due(&e, &p, at(6), false), Some(Notice::Firing));
    // Resolved during maintenance before anyone was told: nothing to tell.
    e = observe(Some(e), &obs(OK, 1.0, true), &p, at(7)).unwrap();
    assert_eq!(e.phase, Phase::Resolved);
    assert_eq!(due(&e, &p, at(8), false), None);
    // Without send_resolved, a told firing gets no resolution message.
    let quiet = Policy {
        send_resolved: false,
        ..Policy::default()
    };
    let mut e = observe(None, &obs(B, 1.0, false), &quiet, at(0)).unwrap();
    mark_told(&mut e, Notice::Firing, &quiet, at(0));
    e = observe(Some(e), &obs(OK, 1.0, true), &quiet, at(1)).unwrap();
    assert_eq!(due(&e, &quiet, at(1), false), None);
}
