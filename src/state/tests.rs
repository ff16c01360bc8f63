//! The state store on real SQLite files.

use super::*;
use crate::alerts::{Observation, observe};
use crate::check::Policy;
use crate::check::Severity;
use crate::check::Status;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-30T14:00:00Z")
        .unwrap()
        .to_utc()
}

fn breach() -> Observation {
    Observation {
        check_id: "c".to_owned(),
        group_key: "region=south".to_owned(),
        labels: [("region".to_owned(), "south".to_owned())]
            .into_iter()
            .collect(),
        severity: Severity::Critical,
        status: Status::Breach,
        value: Some(3500.0),
        limit: 3000.0,
        recovered: false,
    }
}

#[test]
fn episodes_round_trip_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let mut episode = observe(None, &breach(), &Policy::default(), now()).unwrap();
    episode.threads = [("compliance".to_owned(), "<a@b>".to_owned())].into();
    store
        .transaction(|tx| tx.save_episode(&mut episode))
        .unwrap();
    assert!(episode.id.is_some());
    drop(store);
    let store = open(dir.path()).unwrap();
    let loaded = store
        .transaction(|tx| tx.open_episode("c", "region=south"))
        .unwrap()
        .unwrap();
    assert_eq!(loaded, episode);
}

#[test]
fn outbox_queue_send_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let message = OutboxMessage {
        id: None,
        route: "r".to_owned(),
        recipients: vec!["a@plan.example".to_owned()],
        subject: "s".to_owned(),
        text: "t".to_owned(),
        html: "<p><img src=\"cid:chart-1@accesswatch\"></p>".to_owned(),
        images: vec![super::InlineImage {
            content_id: "chart-1@accesswatch".to_owned(),
            png: vec![0x89, b'P', b'N', b'G', 0, 255, 13, 10],
        }],
        message_id: "<m@x>".to_owned(),
        in_reply_to: None,
        references: vec![],
        created_at: now(),
        attempts: 0,
        next_attempt_at: now(),
        last_error: None,
    };
    let id = store.transaction(|tx| tx.enqueue(&message)).unwrap();
    let due = store.due_messages(Some(now()), 10).unwrap();
    assert_eq!(due.len(), 1);
    // Byte for byte, images included: a retried message is the same one.
    assert_eq!(
        due[0],
        OutboxMessage {
            id: Some(id),
            ..message.clone()
        }
    );
    store
        .mark_failed(id, "down", now() + chrono::Duration::minutes(5))
        .unwrap();
    assert!(store.due_messages(Some(now()), 10).unwrap().is_empty());
    assert_eq!(
        store.due_messages(None, 10).unwrap().len(),
        1,
        "every unsent one"
    );
    let stats = store.outbox_stats().unwrap();
    assert_eq!(
        (stats.unsent, stats.last_error.as_deref()),
        (1, Some("down"))
    );
    store.mark_sent(id, now()).unwrap();
    assert!(store.due_messages(None, 10).unwrap().is_empty());
    assert_eq!(store.outbox_stats().unwrap().sent, 1);
    assert!(store.report_stuck(id).unwrap());
    assert!(!store.report_stuck(id).unwrap());
    assert!(
        !store.claim(id, now(), now()).unwrap(),
        "a sent message is never claimed again"
    );
}

#[test]
fn a_claimed_message_has_one_sender_until_the_claim_goes_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let message = OutboxMessage {
        id: None,
        route: "r".to_owned(),
        recipients: vec!["a@plan.example".to_owned()],
        subject: "s".to_owned(),
        text: "t".to_owned(),
        html: "<p>t</p>".to_owned(),
        images: Vec::new(),
        message_id: "<m@x>".to_owned(),
        in_reply_to: None,
        references: vec![],
        created_at: now(),
        attempts: 0,
        next_attempt_at: now(),
        last_error: None,
    };
    let id = store.transaction(|tx| tx.enqueue(&message)).unwrap();
    let minute = chrono::Duration::minutes(1);
    assert_eq!(store.next_attempt(minute).unwrap(), Some(now()));
    assert!(store.claim(id, now(), now() - minute).unwrap(), "first");
    assert_eq!(
        store.next_attempt(minute).unwrap(),
        Some(now() + minute),
        "a claimed message is due again when its claim expires"
    );
    assert!(
        !store.claim(id, now(), now() - minute).unwrap(),
        "a second sender does not get a live claim"
    );
    assert!(
        store.claim(id, now() + minute * 3, now() + minute).unwrap(),
        "a claim older than its expiry is taken over"
    );
    store.mark_failed(id, "down", now()).unwrap();
    assert!(
        store.claim(id, now(), now() - minute).unwrap(),
        "a failed attempt releases the claim"
    );
    store.mark_sent(id, now()).unwrap();
    assert!(
        !store
            .claim(id, now() + minute * 10, now() + minute * 9)
            .unwrap()
    );
}

#[test]
fn a_failed_transaction_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let mut episode = observe(None, &breach(), &Policy::default(), now()).unwrap();
    let result: anyhow::Result<()> = store.transaction(|tx| {
        tx.save_episode(&mut episode)?;
        anyhow::bail!("the email could not be rendered")
    });
    assert!(result.is_err());
    assert!(store.episodes().unwrap().is_empty());
}

#[test]
fn start_up_errors_name_the_file_and_the_fix() {
    // A second instance.
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).unwrap();
    let error = format!("{:#}", open(dir.path()).unwrap_err());
    assert!(
        error.contains("in use by another running accesswatch"),
        "{error}"
    );
    assert!(error.contains("accesswatch.db"), "{error}");
    drop(first);
    assert!(open(dir.path()).is_ok(), "the lock goes with the process");
    // Corrupt.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![0x42u8; 8192]).unwrap();
    let error = format!("{:#}", open(dir.path()).unwrap_err());
    assert!(error.contains("is corrupt"), "{error}");
    assert!(error.contains("mv "), "{error}");
    // Newer schema.
    let dir = tempfile::tempdir().unwrap();
    let connection = Connection::open(dir.path().join(DB_FILE)).unwrap();
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    let error = format!("{:#}", open(dir.path()).unwrap_err());
    assert!(error.contains("schema version 99, newer"), "{error}");
}

fn result_at(
    at: DateTime<Utc>,
    values: &[(&str, Option<f64>, Status)],
) -> crate::check::CheckResult {
    let groups = values
        .iter()
        .map(|(region, value, status)| crate::check::GroupResult {
            labels: [("region".to_owned(), (*region).to_owned())]
                .into_iter()
                .collect(),
            status: *status,
            value: *value,
            limit: 3000.0,
            rows: 1,
            error: None,
            wait: None,
            detail: None,
        })
        .collect();
    crate::check::CheckResult {
        id: "c".to_owned(),
        title: "C".to_owned(),
        severity: Severity::Critical,
        citation: None,
        metric: "m".to_owned(),
        source: "s".to_owned(),
        comparison: crate::check::Comparison {
            op: crate::check::Op::Le,
            limit: 3000.0,
        },
        status: Status::Ok,
        groups,
        error: None,
        data_time: None,
        data_time_origin: None,
        evaluated_at: at,
        rejected_rows: vec![],
        rejected_without_group: 0,
        standard: None,
    }
}

#[test]
fn series_and_trends_read_back_what_was_recorded() {
    use crate::check::history::{Direction, Point};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let week = chrono::Duration::days(7);
    let start = now() - week * 5;
    let values = [2800.0, 2900.0, 3000.0, 3100.0, 3200.0, 3300.0];
    store
        .transaction(|tx| {
            for (i, v) in values.iter().enumerate() {
                let status = if *v > 3000.0 {
                    Status::Breach
                } else {
                    Status::Ok
                };
                tx.record_result(&result_at(
                    start + week * i as i32,
                    &[
                        ("south", Some(*v), status),
                        ("north", None, Status::Unknown),
                    ],
                ))?;
            }
            let mut failed = result_at(now() + week, &[]);
            failed.error = Some("down".to_owned());
            tx.record_result(&failed)
        })
        .unwrap();
    let series = store
        .series("c", Some("region=south"), start + week, now())
        .unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].labels["region"], "south");
    let got: Vec<Point> = series[0].points.clone();
    let expected: Vec<Point> = (1..5)
        .map(|i| Point {
            at: start + week * i,
            status: if values[i as usize] > 3000.0 {
                Status::Breach
            } else {
                Status::Ok
            },
            value: Some(values[i as usize]),
            limit: 3000.0,
        })
        .collect();
    assert_eq!(got, expected, "from inclusive, to exclusive");
    let all = store.series("c", None, start, now() + week * 2).unwrap();
    let keys: Vec<&str> = all.iter().map(|s| s.group_key.as_str()).collect();
    assert_eq!(
        keys,
        ["region=north", "region=south"],
        "the failed run is in no group"
    );
    let failures = store
        .read(|tx| tx.check_failures("c", start, now() + week * 2))
        .unwrap();
    assert_eq!(failures.len(), 1);
    let trends = store.trends(now()).unwrap();
    let south = trends[&("c".to_owned(), "region=south".to_owned())];
    assert_eq!(south.week_ago, Some(3200.0));
    assert_eq!(south.four_weeks_ago, Some(2900.0));
    assert_eq!(south.direction, Some(Direction::Up));
    assert_eq!((south.breached_runs, south.runs), (3, 6));
    let north = trends[&("c".to_owned(), "region=north".to_owned())];
    assert_eq!((north.week_ago, north.direction), (None, None));
    assert!(store.read(|tx| tx.recorded_at("c", start)).unwrap());
    assert!(
        !store
            .read(|tx| tx.recorded_at("c", start + week / 2))
            .unwrap()
    );
}

fn raw(dir: &std::path::Path, sql: &str) {
    let connection = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    connection.execute_batch(sql).unwrap();
}

#[test]
fn the_trail_names_the_first_row_changed_outside_accesswatch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let week = chrono::Duration::days(7);
    store
        .transaction(|tx| {
            for i in 0..3 {
                tx.record_result(&result_at(
                    now() + week * i,
                    &[("south", Some(3100.0), Status::Breach)],
                ))?;
            }
            let mut episode = observe(None, &breach(), &Policy::default(), now()).unwrap();
            tx.save_episode(&mut episode)?;
            tx.save_episode(&mut episode)
        })
        .unwrap();
    let head = store.verify().unwrap().unwrap().unwrap();
    assert_eq!((head.id, head.records), (5, 5));
    drop(store);
    // A value edited by hand.
    raw(
        dir.path(),
        "UPDATE evaluations SET value = 2900 WHERE id = 2",
    );
    let store = open_read_only(dir.path()).unwrap();
    let broken = store.verify().unwrap().unwrap_err();
    assert_eq!(broken.record, Some(2), "{broken:?}");
    assert!(
        broken
            .why
            .contains("evaluation 2 (table evaluations; check c, group region=south"),
        "{}",
        broken.why
    );
    drop(store);
    raw(
        dir.path(),
        "UPDATE evaluations SET value = 3100 WHERE id = 2",
    );
    assert!(
        open_read_only(dir.path())
            .unwrap()
            .verify()
            .unwrap()
            .is_ok(),
        "put back"
    );
    // A trail record edited, and a row added.
    raw(
        dir.path(),
        "UPDATE trail SET body = replace(body, '3100', '2900') WHERE id = 3",
    );
    let broken = open_read_only(dir.path())
        .unwrap()
        .verify()
        .unwrap()
        .unwrap_err();
    assert_eq!(broken.record, Some(3), "{broken:?}");
    raw(
        dir.path(),
        "UPDATE trail SET body = replace(body, '2900', '3100') WHERE id = 3",
    );
    raw(
        dir.path(),
        "INSERT INTO evaluations (check_id, group_key, labels, status, evaluated_at) VALUES ('c', 'x', '{}', 'ok', 'z')",
    );
    let broken = open_read_only(dir.path())
        .unwrap()
        .verify()
        .unwrap()
        .unwrap_err();
    assert_eq!(broken.record, None);
    assert!(broken.why.contains("evaluation 4"), "{}", broken.why);
    raw(dir.path(), "DELETE FROM evaluations WHERE id = 4");
    // Deleting a recorded evaluation (not by retention) is found too.
    raw(dir.path(), "DELETE FROM evaluations WHERE id = 1");
    let broken = open_read_only(dir.path())
        .unwrap()
        .verify()
        .unwrap()
        .unwrap_err();
    assert_eq!(broken.record, Some(1), "{broken:?}");
}

#[test]
fn retention_pruning_keeps_the_trail_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let week = chrono::Duration::days(7);
    for i in 0..6 {
        store
            .transaction(|tx| {
                tx.record_result(&result_at(
                    now() + week * i,
                    &[
                        ("south", Some(3100.0), Status::Breach),
                        ("north", Some(1.0), Status::Ok),
                    ],
                ))?;
                tx.prune_evaluations(now() + week * (i - 2), now() + week * i)?;
                Ok(())
            })
            .unwrap();
        let verified = store.verify().unwrap();
        assert!(verified.is_ok(), "after run {i}: {verified:?}");
    }
    let rows: i64 = store
        .read(|tx| {
            Ok(tx
                .inner
                .query_row("SELECT count(*) FROM evaluations", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(rows, 6, "three runs of two groups are kept");
    let head = store.verify().unwrap().unwrap().unwrap();
    assert!(head.records < 12 + 6, "old records were removed: {head:?}");
    drop(store);
    // Removing the oldest remaining record is still found.
    raw(
        dir.path(),
        "DELETE FROM trail WHERE id = (SELECT min(id) FROM trail)",
    );
    let broken = open_read_only(dir.path())
        .unwrap()
        .verify()
        .unwrap()
        .unwrap_err();
    assert!(broken.why.contains("does not follow"), "{broken:?}");
}

#[test]
fn a_state_file_from_before_the_trail_is_sealed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Schema version 4, as the previous release left it, with history.
        let connection = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        for migration in &MIGRATIONS[..4] {
            connection.execute_batch(migration).unwrap();
        }
        connection
            .execute_batch(
                "PRAGMA user_version = 4;
                 INSERT INTO evaluations (check_id, group_key, labels, status, value, limit_value, evaluated_at)
                 VALUES ('c', 'region=south', '{}', 'breach', 3100, 3000, '2026-11-01T00:00:00.000000Z'),
                        ('c', 'region=north', '{}', 'ok', 2000, 3000, '2026-11-01T00:00:00.000000Z');",
            )
            .unwrap();
    }
    let store = open(dir.path()).unwrap();
    let head = store.verify().unwrap().unwrap().unwrap();
    assert_eq!(head.records, 2, "each old row is recorded once");
    drop(store);
    let store = open(dir.path()).unwrap();
    let head = store.verify().unwrap().unwrap().unwrap();
    assert_eq!(head.records, 2, "and only once");
}
