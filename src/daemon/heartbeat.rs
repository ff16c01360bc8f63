//! [`Heartbeat`]: when each job loop last woke. The systemd watchdog and
//! `/healthz` read it; the job loops write it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// When each job loop last woke: the watchdog pings systemd only while
/// every job is alive, so a wedged scheduler gets restarted.
#[derive(Default)]
pub struct Heartbeat {
    beats: Mutex<HashMap<String, std::time::Instant>>,
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

    /// The jobs that have not woken within `limit`.
    pub fn stale(&self, limit: Duration) -> Vec<String> {
        self.beats.lock().map_or_else(
            |_| vec!["(heartbeat lock poisoned)".to_owned()],
            |beats| {
                beats
                    .iter()
                    .filter(|(_, at)| at.elapsed() > limit)
                    .map(|(job, _)| job.clone())
                    .collect()
            },
        )
    }
}
