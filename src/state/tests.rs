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
        html: "<p>t</p>".to_owned(),
        message_id: "<m@x>".to_owned(),
        in_reply_to: None,
        references: vec![],
        created_at: now(),
        attempts: 0,
        next_attempt_at: now(),
        last_error: None,
    };
    let id = store.transaction(|tx| tx.enqueue(&message)).unwrap();
    assert_eq!(store.due_messages(Some(now()), 10).unwrap().len(), 1);
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
