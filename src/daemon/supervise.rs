//! [`supervise`]: runs a long-lived task (a job loop, the delivery worker)
//! and starts it again when it panics, so that a bug hit by one run never
//! leaves a daemon alive that does nothing. It owns no state of its own.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::error;

/// The pause before a task that panicked is started again, so a task that
/// panics at once every time does not spin.
pub const RESTART_PAUSE: Duration = Duration::from_secs(10);

/// Runs the task `start` makes on its own tokio task until it returns or
/// `shutdown` is cancelled; when it panics, logs the panic at error level
/// and, after `pause`, starts a new one. How many times it panicked.
pub async fn supervise<F, Fut>(
    task: &str,
    pause: Duration,
    shutdown: &CancellationToken,
    mut start: F,
) -> usize
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut panics = 0;
    loop {
        let error = match tokio::spawn(start()).await {
            Ok(()) => return panics,
            Err(error) if error.is_panic() => error,
            Err(_) => return panics,
        };
        panics += 1;
        let message = panic_message(error.into_panic());
        error!(
            task,
            panic = %message,
            restart_in_ms = pause.as_millis() as u64,
            "a task of the daemon panicked (a bug: please report it); it is started again"
        );
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return panics,
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_task_that_panics_is_started_again() {
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = starts.clone();
        let panics = supervise(
            "test",
            Duration::ZERO,
            &CancellationToken::new(),
            move || {
                let start = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    if start < 2 {
                        panic!("run {start} failed");
                    }
                }
            },
        )
        .await;
        assert_eq!(panics, 2);
        assert_eq!(starts.load(Ordering::SeqCst), 3, "ran until it returned");
    }

    #[tokio::test]
    async fn shutdown_ends_the_pause() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let panics = supervise("test", Duration::from_secs(3600), &shutdown, || async {
            panic!("always")
        })
        .await;
        assert_eq!(panics, 1);
    }
}
