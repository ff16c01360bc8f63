//! History from the sources as of past times: the `backfill` command and
//! `[daemon] backfill_on_first_start`, which gives a fresh state file its
//! weeks of trend before the daemon's first run. Each time is evaluated
//! by the same [`crate::daemon::run::run`] as a scheduled run and recorded
//! with [`crate::alerts::record::record_history`]: results only, no alert
//! is opened and nothing is sent.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, info, warn};

use crate::check::Check;
use crate::config::Config;
use crate::daemon::run::RunOutcome;
use crate::state::Store;

/// The step of the first-start history: a week, the step the trends
/// compare against ("a week before").
pub const FIRST_START_STEP: Duration = Duration::weeks(1);

/// Evaluates `checks` as of `at` and records the results as history.
/// `None` when `cancel` fired; the number of evaluations recorded (those
/// already recorded at that time are kept, not doubled).
pub async fn record_at(
    config: &Config,
    checks: &[Check],
    at: DateTime<Utc>,
    store: &Arc<Store>,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<(RunOutcome, usize)>> {
    // Every event of a past run says so: `"span":{"name":"history",
    // "as_of":…}`, never mistaken for the current state.
    let span = tracing::info_span!("history", as_of = %at.to_rfc3339());
    let Some(outcome) = crate::daemon::run::run(config, checks, at, Some(store.clone()), cancel)
        .instrument(span)
        .await
    else {
        return Ok(None);
    };
    let recorded = crate::alerts::record::record_history(store, &outcome.results).map_err(|e| {
        e.context(format!(
            "recording the evaluations as of {}",
            at.to_rfc3339()
        ))
    })?;
    Ok(Some((outcome, recorded)))
}

/// The times of a first-start history reaching `span` back from `now`:
/// one a week, oldest first, `now` itself excluded (the start-up run
/// records it).
pub fn first_start_times(now: DateTime<Utc>, span: Duration) -> Vec<DateTime<Utc>> {
    let weeks = (span.num_seconds() / FIRST_START_STEP.num_seconds()).max(1);
    (1..=weeks)
        .rev()
        .map(|k| now - FIRST_START_STEP * k as i32)
        .collect()
}

/// Records the first-start history when `[daemon]
/// backfill_on_first_start` is set and the state file has no evaluation
/// yet. A time that fails is logged and skipped: the daemon starts anyway.
pub async fn first_start(
    config: &Config,
    store: &Arc<Store>,
    now: DateTime<Utc>,
    cancel: &CancellationToken,
) {
    let Some(span) = config.daemon.backfill_on_first_start else {
        return;
    };
    match store.has_history() {
        Ok(false) => {}
        Ok(true) => return,
        Err(error) => {
            warn!(error = %format!("{error:#}"), "could not tell whether the state file has history; no first-start backfill");
            return;
        }
    }
    let times = first_start_times(now, span);
    info!(
        times = times.len(),
        from = %times.first().map(|t| t.to_rfc3339()).unwrap_or_default(),
        "fresh state file: recording weekly history before the first run (backfill_on_first_start)"
    );
    let mut total = 0;
    for at in times {
        match record_at(config, &config.checks, at, store, cancel).await {
            Ok(Some((_, recorded))) => total += recorded,
            Ok(None) => return,
            Err(error) => warn!(
                as_of = %at.to_rfc3339(),
                error = %format!("{error:#}"),
                "first-start backfill: this time is skipped"
            ),
        }
    }
    info!(
        evaluations = total,
        "first-start history recorded; nothing was sent"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_times_are_weekly_and_end_before_now() {
        let now: DateTime<Utc> = "2026-12-02T14:00:00Z".parse().unwrap();
        let times = first_start_times(now, Duration::weeks(12));
        assert_eq!(times.len(), 12);
        assert_eq!(times[0], now - Duration::weeks(12));
        assert_eq!(times[11], now - Duration::weeks(1));
        assert!(times.windows(2).all(|w| w[1] - w[0] == Duration::weeks(1)));
        // Shorter than a week still gives one point to compare with.
        assert_eq!(
            first_start_times(now, Duration::days(3)),
            [now - Duration::weeks(1)]
        );
        // A part week is not rounded up past the span.
        assert_eq!(first_start_times(now, Duration::days(20)).len(), 2);
    }
}
