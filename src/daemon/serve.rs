//! The optional HTTP listener (`[daemon] listen`): the status page (`/`,
//! `/check/ID`, rendered by `notify::page`), `/metrics` and `/healthz`.
//! The only module that knows axum; `web` guards it (users, TLS). Every
//! route is read-only.
//!
//! `/healthz` answers 200 with a JSON body when the scheduler is alive
//! (every job loop woke recently), the state store can be written and a
//! run has finished; 503 with the same body saying what is wrong otherwise.
//! A standby (another node leads; `[state] url`) is healthy when it can
//! reach the state store: its body says `"role": "standby"`.

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
    /// The configuration in force (swapped on reload), for the reports.
    pub config: tokio::sync::watch::Receiver<Arc<crate::config::Config>>,
    pub zone: chrono_tz::Tz,
    pub metrics: Arc<Metrics>,
    pub store: Arc<Store>,
    pub heartbeat: Arc<Heartbeat>,
    /// Leader, standby, or the only node.
    pub role: tokio::sync::watch::Receiver<crate::daemon::lead::Role>,
    /// A job loop that has not woken for this long is stuck.
    pub stale_after: Duration,
    pub undeliverable_after: chrono::Duration,
}

/// Binds `address` (a start-up error if it cannot) and serves until
/// `shutdown`.
pub async fn start(
    address: SocketAddr,
    shared: ServeState,
    web: &crate::config::Web,
    shutdown: CancellationToken,
) -> anyhow::Result<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
    // TLS settings are read before binding: a bad certificate is a
    // start-up error that names the file.
    let acceptor = match &web.tls {
        Some((cert, key)) => Some(super::web::tls_acceptor(cert, key)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address} ([daemon] listen): {e}"))?;
    tracing::info!(
        listen = %address,
        tls = acceptor.is_some(),
        users = web.users.len(),
        "serving the status page, /metrics and /healthz"
    );
    let users = super::web::Users::new(web.users.clone());
    let router = Router::new()
        .route("/", get(index))
        .route("/check/{id}", get(check_page))
        .route("/report", get(report))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(
            users,
            super::web::require_user,
        ));
    let stop = async move { shutdown.cancelled().await };
    Ok(match acceptor {
        Some(acceptor) => {
            let listener = super::web::TlsListener::new(listener, acceptor)?;
            Box::pin(async move {
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::error!(error = %e, "the HTTP listener failed");
                }
            })
        }
        None => Box::pin(async move {
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "the HTTP listener failed");
            }
        }),
    })
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
}

fn html(body: String) -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The state store could not be read: say so, and nothing more.
fn unavailable() -> axum::response::Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "the state store cannot be read just now; try again shortly\n",
    )
        .into_response()
}

async fn index(
    axum::extract::State(shared): axum::extract::State<ServeState>,
) -> axum::response::Response {
    let now = Utc::now();
    let snapshot = shared.metrics.snapshot();
    let results: Vec<_> = snapshot.results.into_values().collect();
    let (Ok(episodes), Ok(series)) = (shared.store.episodes(), shared.store.recent_series(now))
    else {
        return unavailable();
    };
    let overview = crate::notify::page::Overview {
        now,
        zone: shared.zone,
        results: &results,
        episodes: &episodes,
        series: &series,
        notes: &[],
        last_run: snapshot.last_run,
    };
    html(crate::notify::page::index(&overview))
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    days: Option<u32>,
    format: Option<String>,
}

/// `/report?days=30&format=html|csv`: the period report of the last
/// `days` (1 to 3,660), from the state file, as `accesswatch report`
/// writes it.
async fn report(
    axum::extract::State(shared): axum::extract::State<ServeState>,
    axum::extract::Query(query): axum::extract::Query<ReportQuery>,
) -> axum::response::Response {
    let days = query.days.unwrap_or(30);
    let csv = match query.format.as_deref().unwrap_or("html") {
        "csv" => true,
        "html" => false,
        _ => return bad_report_query(),
    };
    if !(1..=3660).contains(&days) {
        return bad_report_query();
    }
    let now = Utc::now();
    let config = shared.config.borrow().clone();
    let store = shared.store.clone();
    let period = (now - chrono::Duration::days(i64::from(days)), now);
    let made = tokio::task::spawn_blocking(move || {
        let period = super::period::gather(&config, &store, period, &[], now)?;
        if csv {
            super::period::csv(&period)
        } else {
            Ok(super::period_html::html(&period))
        }
    })
    .await;
    match made {
        Ok(Ok(body)) if csv => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"accesswatch-report.csv\"",
                ),
            ],
            body,
        )
            .into_response(),
        Ok(Ok(body)) => html(body),
        _ => unavailable(),
    }
}

fn bad_report_query() -> axum::response::Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "use /report?days=1..3660&format=html or csv\n",
    )
        .into_response()
}

/// How far back `/check/ID` shows history.
const HISTORY_DAYS: i64 = 90;

async fn check_page(
    axum::extract::State(shared): axum::extract::State<ServeState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> axum::response::Response {
    let now = Utc::now();
    let snapshot = shared.metrics.snapshot();
    let results: Vec<_> = snapshot.results.into_values().collect();
    if !results.iter().any(|r| r.id == id) {
        return not_found().await.into_response();
    }
    let from = now - chrono::Duration::days(HISTORY_DAYS);
    let (Ok(episodes), Ok(series), Ok(notes)) = (
        shared.store.episodes(),
        shared
            .store
            .series(&id, None, from, now + chrono::Duration::seconds(1)),
        shared
            .store
            .notes(Some(&id), from, now + chrono::Duration::seconds(1)),
    ) else {
        return unavailable();
    };
    let overview = crate::notify::page::Overview {
        now,
        zone: shared.zone,
        results: &results,
        episodes: &episodes,
        series: &series,
        notes: &notes,
        last_run: snapshot.last_run,
    };
    let reports: Vec<(u32, String, String)> = [30, 90, 365]
        .into_iter()
        .map(|days| {
            (
                days,
                format!("/report?days={days}&format=html"),
                format!("/report?days={days}&format=csv"),
            )
        })
        .collect();
    match crate::notify::page::check(&overview, &id, &reports) {
        Some(page) => html(page),
        None => not_found().await.into_response(),
    }
}

async fn metrics(
    axum::extract::State(shared): axum::extract::State<ServeState>,
) -> impl IntoResponse {
    let now = Utc::now();
    let outbox = shared.store.outbox_stats().unwrap_or_default();
    let episodes = shared.store.episodes().unwrap_or_default();
    let undeliverable = outbox.undeliverable(now, shared.undeliverable_after);
    let mut body = crate::daemon::metrics::render(
        &shared.metrics.snapshot(),
        &outbox,
        &episodes,
        now,
        undeliverable,
    );
    body.push_str(&crate::daemon::metrics::render_role(&shared.role.borrow()));
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
    let role = shared.role.borrow().clone();
    let stale = shared.heartbeat.stale(shared.stale_after);
    let store = shared.store.clone();
    let writable = tokio::task::spawn_blocking(move || store.writable())
        .await
        .unwrap_or(false);
    let last_run = shared.metrics.snapshot().last_run;
    let healthy = if role.leads() {
        stale.is_empty() && writable && last_run.is_some()
    } else {
        writable
    };
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "failing" },
        "role": role.as_str(),
        "scheduler": if !role.leads() { "standing by".to_owned() } else if stale.is_empty() { "alive".to_owned() } else { format!("stuck: {}", stale.join(", ")) },
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
