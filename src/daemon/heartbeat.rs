//! [`Heartbeat`]: when each job loop last woke, and the delivery worker's
//! attempt in progress. The systemd watchdog and `/healthz` read it; the
//! job loops and the delivery worker write it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::notify::delivery::InFlight;

/// When each job loop last woke: the watchdog pings systemd only while
/// every job is alive and the delivery worker is not stuck in one attempt
/// (longer than the mailer's bound plus a grace), so a wedged scheduler or
/// sender gets restarted.
#[derive(Default)]
pub struct Heartbeat {
    beats: Mutex<HashMap<String, std::time::Instant>>,
    pub delivery: Arc<InFlight>,
}

impl Heartbeat {
    pub fn beat(&self, job: &str) {
        if let Ok(mut beats) = self.beats.lock() {
            beats.insert(job.to_owned(), std::time::Instant::now());
        }
    }

    pub fn clear(&self) {
        if let Ok(mut beats) = self.beats.lock() {
            beats.clear();
        }
    }

    /// The jobs that have not woken within `limit`, and `delivery` when
    /// the delivery worker is stuck in one attempt.
    pub fn stale(&self, limit: Duration) -> Vec<String> {
        let mut stale = self.beats.lock().map_or_else(
            |_| vec!["(heartbeat lock poisoned)".to_owned()],
            |beats| {
                beats
                    .iter()
                    .filter(|(_, at)| at.elapsed() > limit)
                    .map(|(job, _)| job.clone())
                    .collect()
            },
        );
        if self.delivery.overdue() {
            stale.push("delivery".to_owned());
        }
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_attempt_past_its_limit_is_stale() {
        let heartbeat = Heartbeat::default();
        heartbeat.beat("job");
        assert!(heartbeat.stale(Duration::from_secs(60)).is_empty());
        let now = std::time::Instant::now();
        heartbeat.delivery.started_at(now, Duration::from_secs(60));
        assert!(heartbeat.stale(Duration::from_secs(60)).is_empty());
        let earlier = now.checked_sub(Duration::from_secs(61)).unwrap_or(now);
        heartbeat
            .delivery
            .started_at(earlier, Duration::from_secs(60));
        assert_eq!(heartbeat.stale(Duration::from_secs(60)), ["delivery"]);
    }
}
