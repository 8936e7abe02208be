//! `GET /api/v1/health`, for load balancers and monitoring, without a login: whether the case
//! store answers, how many candidates wait in the spool for it, and how many cameras are in
//! each state. Counts only: no camera names, no error text (those go to the log).
//!
//! 200 with `"status": "ok"` when the store answers and nothing waits; 200 with `"degraded"`
//! when candidates wait in the spool (the store refused them a moment ago, or a stopped run
//! left them); 503 with `"down"` when the store does not answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::cameras::status_counts;
use super::AppState;
use crate::cases::Spool;

/// How long the store gets to answer.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok`, `degraded` or `down`.
    status: &'static str,
    /// Whether the store answered a query within 5 s.
    store: bool,
    /// Candidates in `DATA_DIR/spool` waiting for the store.
    spooled: usize,
    /// Cameras per status (`streaming`, `failed`, `disabled`, …).
    cameras: BTreeMap<String, usize>,
}

/// `GET /api/v1/health` (no login).
pub async fn health(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Health>) {
    let store = match tokio::time::timeout(STORE_TIMEOUT, state.store.last_event_id()).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Health check: the case store refused a query.");
            false
        }
        Err(_) => {
            tracing::warn!("Health check: the case store did not answer within 5 s.");
            false
        }
    };
    let spooled = match Spool::new(&state.data_dir).waiting() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "Health check: cannot read the spool.");
            0
        }
    };
    let cameras = status_counts(&state);
    let (code, status) = match (store, spooled) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "down"),
        (true, 0) => (StatusCode::OK, "ok"),
        (true, _) => (StatusCode::OK, "degraded"),
    };
    (
        code,
        Json(Health {
            status,
            store,
            spooled,
            cameras,
        }),
    )
}
