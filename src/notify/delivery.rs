//! Sending the outbox: every unsent message is tried, marked sent only
//! after the server accepted it, and otherwise retried with exponential
//! back-off and jitter. Nothing is ever dropped: a message still unsent
//! after `undeliverable_after` is reported (once, at error level) and kept.
//!
//! The window in which a message can be sent twice: the server has
//! accepted it but the process dies (`kill -9`, power loss) before the
//! outbox row is marked sent. On restart that one message is sent again,
//! with the same Message-ID, so mail clients show it once.
//!
//! Delivery has one owner: the daemon runs one [`worker`] for the life of
//! the process, which reads the current [`Outgoing`] settings (a reload
//! swaps them) instead of a worker per configuration. And before every
//! attempt the row is claimed in the state store ([`Store::claim`]): a row
//! already sent, or claimed by another sender within [`claim_expiry`], is
//! skipped, so no second sender ever sends it again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::check::clock::Clock;
use crate::notify::mail::{Mailer, Threading};
use crate::notify::render::RenderedEmail;
use crate::state::{OutboxMessage, Store};

/// What sending needs from the configuration; a reload replaces it whole.
pub struct Outgoing {
    pub mailer: Mailer,
    pub from: String,
    pub undeliverable_after: chrono::Duration,
}

/// The attempt in progress, if any, and how long it may take: the
/// watchdog and `/healthz` read it to notice a wedged delivery worker.
#[derive(Default)]
pub struct InFlight {
    attempt: std::sync::Mutex<Option<(std::time::Instant, Duration)>>,
}

impl InFlight {
    fn start(&self, limit: Duration) {
        self.started_at(std::time::Instant::now(), limit);
    }

    /// An attempt that started at `at` and may take `limit`.
    pub(crate) fn started_at(&self, at: std::time::Instant, limit: Duration) {
        if let Ok(mut attempt) = self.attempt.lock() {
            *attempt = Some((at, limit));
        }
    }

    fn end(&self) {
        if let Ok(mut attempt) = self.attempt.lock() {
            *attempt = None;
        }
    }

    /// Whether the attempt in progress has run longer than its limit.
    pub fn overdue(&self) -> bool {
        self.attempt.lock().map_or(true, |attempt| {
            attempt.is_some_and(|(started, limit)| started.elapsed() > limit)
        })
    }
}

/// What an attempt may take beyond the mailer's own bound before the
/// worker counts as wedged.
pub const ATTEMPT_GRACE: Duration = Duration::from_secs(30);

/// How long a claim on an outbox row holds: longer than any one attempt
/// can take (the mailer's own bound), plus a minute. After that the
/// sender is taken to have died mid-attempt and another may try.
pub fn claim_expiry(mailer: &Mailer) -> chrono::Duration {
    chrono::Duration::from_std(mailer.longest_attempt() + Duration::from_secs(60))
        .unwrap_or(chrono::Duration::hours(1))
}

/// Back-off of a failed message: 30 s × 2^(attempts − 1), at most an hour,
/// ± 20 % so that many queued messages do not retry in lockstep.
pub fn backoff(attempts: u32, seed: u64) -> chrono::Duration {
    let base = 30.0 * 2f64.powi(attempts.saturating_sub(1).min(16) as i32);
    let capped = base.min(3600.0);
    // A cheap, deterministic spread from the message id and attempt.
    let mixed = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(attempts % 64)
        .wrapping_add(u64::from(attempts));
    let jitter = 0.8 + 0.4 * ((mixed >> 11) as f64 / (1u64 << 53) as f64);
    chrono::Duration::milliseconds((capped * jitter * 1000.0) as i64)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub failed: usize,
}

/// Tries the messages due at `now` (every unsent one with `now = None`).
/// Each message is claimed first; one that was sent or claimed meanwhile
/// is skipped.
pub async fn deliver_due(
    store: &Store,
    outgoing: &Outgoing,
    now: Option<DateTime<Utc>>,
    clock: &Clock,
    in_flight: &InFlight,
) -> anyhow::Result<Delivered> {
    let Outgoing {
        mailer,
        from,
        undeliverable_after,
    } = outgoing;
    let undeliverable_after = *undeliverable_after;
    let expiry = claim_expiry(mailer);
    let mut delivered = Delivered::default();
    for message in store.due_messages(now, 200)? {
        let Some(id) = message.id else { continue };
        let claimed_at = clock.now();
        let stale_before = claimed_at
            .checked_sub_signed(expiry)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        if !store.claim(id, claimed_at, stale_before)? {
            continue;
        }
        let started = std::time::Instant::now();
        in_flight.start(mailer.longest_attempt() + ATTEMPT_GRACE);
        let sent = send(mailer, from, &message).await;
        in_flight.end();
        match sent {
            Ok(()) => {
                store.mark_sent(id, clock.now())?;
                delivered.sent += 1;
                info!(
                    route = %message.route,
                    recipients = message.recipients.len(),
                    subject = %message.subject,
                    attempts = message.attempts + 1,
                    transport = %mailer.describe(),
                    duration_ms = started.elapsed().as_millis() as u64,
                    status = "sent",
                    "email sent"
                );
            }
            Err(e) => {
                delivered.failed += 1;
                let error = format!("{e:#}");
                let attempts = message.attempts + 1;
                let next = clock.now() + backoff(attempts, id as u64);
                store.mark_failed(id, &error, next)?;
                warn!(
                    route = %message.route,
                    recipients = message.recipients.len(),
                    subject = %message.subject,
                    attempts,
                    transport = %mailer.describe(),
                    duration_ms = started.elapsed().as_millis() as u64,
                    status = "failed",
                    error = %error,
                    next_attempt = %next.to_rfc3339(),
                    "email failed; kept in the outbox"
                );
                if clock.now() - message.created_at > undeliverable_after
                    && store.report_stuck(id)?
                {
                    error!(
                        route = %message.route,
                        subject = %message.subject,
                        attempts,
                        queued_at = %message.created_at.to_rfc3339(),
                        error = %error,
                        status = "undeliverable",
                        "email undeliverable for longer than undeliverable_after; still kept and retried"
                    );
                }
            }
        }
    }
    Ok(delivered)
}

async fn send(mailer: &Mailer, from: &str, message: &OutboxMessage) -> anyhow::Result<()> {
    let email = RenderedEmail {
        subject: message.subject.clone(),
        text: message.text.clone(),
        html: message.html.clone(),
        images: message.images.clone(),
    };
    let threading = Threading {
        message_id: Some(message.message_id.clone()),
        in_reply_to: message.in_reply_to.clone(),
        references: message.references.clone(),
    };
    mailer
        .send_threaded(from, &message.recipients, &email, &threading)
        .await
}

/// The longest the worker sleeps without looking at the outbox.
const MAX_IDLE: Duration = Duration::from_secs(300);
/// The pause after the state store failed (full disk, file made read-only).
const STORE_TROUBLE: Duration = Duration::from_secs(60);

/// Sends the outbox until `shutdown`: at start-up (what an earlier process
/// left), whenever `wake` is notified (a run queued messages), and when
/// the next retry falls due. There is one for the life of the process; it
/// takes the settings `outgoing` holds at the start of each pass, so a
/// reload changes how mail is sent without a second worker.
pub async fn worker(
    store: Arc<Store>,
    outgoing: watch::Receiver<Arc<Outgoing>>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    clock: Clock,
    in_flight: Arc<InFlight>,
) {
    // At start-up every unsent message is tried at once, whatever its
    // back-off: the restart may well have been the fix.
    let mut everything = true;
    loop {
        let due = if everything { None } else { Some(clock.now()) };
        everything = false;
        let current = outgoing.borrow().clone();
        let delivered = deliver_due(&store, &current, due, &clock, &in_flight).await;
        let expiry = claim_expiry(&current.mailer);
        let pause = match (delivered, store.next_attempt(expiry)) {
            (Err(e), _) | (_, Err(e)) => {
                error!(error = %format!("{e:#}"), "cannot read or update the outbox; trying again in a minute");
                STORE_TROUBLE
            }
            (Ok(_), Ok(Some(next))) => (next - clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_IDLE),
            (Ok(_), Ok(None)) => MAX_IDLE,
        };
        tokio::select! {
            () = tokio::time::sleep(pause.max(Duration::from_millis(200))) => {}
            () = wake.notified() => {}
            () = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_spreads() {
        let seconds = |attempts, seed| backoff(attempts, seed).num_milliseconds() as f64 / 1000.0;
        for seed in [1, 2, 99, 12345] {
            let first = seconds(1, seed);
            assert!((24.0..=36.0).contains(&first), "{first}");
            let fourth = seconds(4, seed);
            assert!((192.0..=288.0).contains(&fourth), "{fourth}");
            let late = seconds(30, seed);
            assert!((2880.0..=4320.0).contains(&late), "{late}");
        }
        assert_ne!(
            seconds(3, 1),
            seconds(3, 2),
            "jitter spreads messages apart"
        );
    }
}
