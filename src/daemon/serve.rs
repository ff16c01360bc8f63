//! The optional HTTP listener (`[daemon] listen`): `/metrics` and
//! `/healthz`. The only module that knows axum.
//!
//! `/healthz` answers 200 with a JSON body when the scheduler is alive
//! (every job loop woke recently), the state store can be written and a
//! run has finished; 503 with the same body saying what is wrong otherwise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::daemon::heartbeat::Heartbeat;
use crate::daemon::metrics::Metrics;
use crate::state::Store;

#[derive(Clone)]
pub struct ServeState {
    pub metrics: Arc<Metrics>,
    pub store: Arc<Store>,
    pub heartbeat: Arc<Heartbeat>,
    /// A job loop that has not woken for this long is stuck.
    pub stale_after: Duration,
    pub undeliverable_after: chrono::Duration,
}

/// Binds `address` (a start-up error if it cannot) and serves until
/// `shutdown`.
pub async fn start(
    address: SocketAddr,
    shared: ServeState,
    shutdown: CancellationToken,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address} ([daemon] listen): {e}"))?;
    tracing::info!(listen = %address, "serving /metrics and /healthz");
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(shared);
    Ok(async move {
        let serve = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "the metrics listener failed");
        }
    })
}

async fn metrics(
    axum::extract::State(shared): axum::extract::State<ServeState>,
) -> impl IntoResponse {
    let now = Utc::now();
    let outbox = shared.store.outbox_stats().unwrap_or_default();
    let episodes = shared.store.episodes().unwrap_or_default();
    let undeliverable = outbox.undeliverable(now, shared.undeliverable_after);
    let body = crate::daemon::metrics::render(
        &shared.metrics.snapshot(),
        &outbox,
        &episodes,
        now,
        undeliverable,
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

async fn healthz(
    axum::extract::State(shared): axum::extract::State<ServeState>,
) -> impl IntoResponse {
    let stale = shared.heartbeat.stale(shared.stale_after);
    let writable = shared.store.writable();
    let last_run = shared.metrics.snapshot().last_run;
    let healthy = stale.is_empty() && writable && last_run.is_some();
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "failing" },
        "scheduler": if stale.is_empty() { "alive".to_owned() } else { format!("stuck: {}", stale.join(", ")) },
        "state_store": if writable { "writable" } else { "not writable" },
        "last_run": last_run.map(|t| t.to_rfc3339()),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}
