//! The HTTP API (`/api/v1`) and the web console it serves.
//!
//! [`router`] builds the whole axum router from an [`AppState`]; tests call it with `oneshot`
//! (no socket), [`serve`] binds it. One file per resource: [`auth`] (users, sessions, tokens),
//! [`cases`] (the review queue, evidence, live updates), [`cameras`] (runtime camera changes,
//! zones, calibration, snapshots), [`geo`] (grid layer, category table, map settings),
//! [`stats`], `health` (for monitoring, no login), [`openapi`]. Errors: [`ApiError`].
//!
//! The API talks to the running pipeline only through the [`Pipeline`] trait (implemented by
//! `runtime`); without one (an API-only process) camera changes are saved and apply when the
//! pipeline starts. Live updates follow the store's event outbox, so they work whichever
//! process wrote the case.

pub mod auth;
pub mod cameras;
pub mod cases;
mod error;
pub mod geo;
mod health;
pub mod openapi;
pub mod server;
pub mod stats;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::routing::{delete, get, post, put};
use axum::Router;
use tokio::sync::broadcast;

pub use auth::{Caller, Role};
pub use cameras::{CameraDoc, CameraRegistry};
pub use error::{ApiError, ApiResult};
pub use server::{effective_cameras, ConsoleServer};

use crate::cases::{CaseStore, CategoryTable};
use crate::config::{CameraConfig, Config};
use crate::domain::{CameraId, CameraStatus};
use crate::geo::GridLayer;
use crate::ingest::Snapshot;

/// What the API needs from the running pipeline.
pub trait Pipeline: Send + Sync {
    /// Starts a camera, or applies new settings to it if it runs (its stream restarts only
    /// when the source, frame settings or detector intervals change, or a file has ended).
    fn apply_camera(&self, camera: &CameraConfig) -> anyhow::Result<()>;
    /// Stops a camera; false if it was not running.
    fn remove_camera(&self, id: &CameraId) -> bool;
    /// The camera's status, if it runs.
    fn status(&self, id: &CameraId) -> Option<CameraStatus>;
    /// The latest full-resolution frame of a camera.
    fn snapshot(&self, id: &CameraId) -> Option<Snapshot>;
    /// Uses a new unit-grid layer for cases from now on.
    fn set_grid(&self, grid: Option<GridLayer>);
    /// Uses a new category table for cases from now on.
    fn set_categories(&self, table: CategoryTable);
    /// Runs the camera's sign detectors on its next few frames: the signage present now,
    /// normalised, and the picture of the scene.
    fn capture_baseline(&self, camera: &CameraConfig) -> anyhow::Result<crate::analysis::Baseline>;
}

/// Settings of the API server.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Map tile URL template (`https://tiles.city/{z}/{x}/{y}.png`) for cities with a tile
    /// server; `None`: the map draws grids, cameras and cases on a blank background.
    pub tile_url: Option<String>,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// How often live updates look for new events.
    pub live_poll: Duration,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            tile_url: None,
            secure_cookies: false,
            live_poll: Duration::from_millis(500),
        }
    }
}

/// Everything a handler can reach.
pub struct AppState {
    pub store: Arc<dyn CaseStore>,
    /// The pipeline config: models, time zone, the directory relative camera paths start from.
    pub config: Arc<Config>,
    /// Where evidence files live.
    pub data_dir: PathBuf,
    pub categories: RwLock<CategoryTable>,
    /// The grid layer and the GeoJSON it came from.
    pub grid: RwLock<Option<(GridLayer, String)>>,
    pub cameras: CameraRegistry,
    pub pipeline: Option<Arc<dyn Pipeline>>,
    pub sessions: auth::SessionCache,
    /// Changed cases, for `GET /api/v1/live`.
    pub live: broadcast::Sender<cases::LiveCase>,
    pub options: ApiOptions,
    /// A valid argon2 hash to verify against when a login names no user.
    dummy_hash: String,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.data_dir)
            .field("pipeline", &self.pipeline.is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state for `config`: category table and grid from the console's saved settings, else
    /// from the config's files; cameras from the config merged with the console's.
    pub async fn load(
        config: Arc<Config>,
        store: Arc<dyn CaseStore>,
        pipeline: Option<Arc<dyn Pipeline>>,
        options: ApiOptions,
    ) -> anyhow::Result<Arc<AppState>> {
        let categories = geo::load_categories(&config, &*store).await?;
        let grid = geo::load_grid(&config, &*store).await?;
        let cameras = CameraRegistry::load(&config, &*store).await?;
        let (live, _) = broadcast::channel(256);
        let state = Arc::new(AppState {
            data_dir: config.data_dir.clone(),
            store,
            config,
            categories: RwLock::new(categories),
            grid: RwLock::new(grid),
            cameras,
            pipeline,
            sessions: auth::SessionCache::default(),
            live,
            options,
            dummy_hash: auth::hash_password("not a real password")?,
        });
        Ok(state)
    }

    pub(crate) fn pipeline(&self) -> ApiResult<&Arc<dyn Pipeline>> {
        self.pipeline.as_ref().ok_or_else(ApiError::no_pipeline)
    }
}

/// The whole router: `/api/v1/…`, the console at `/` and its assets under `/ui/`.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/session", post(auth::login).delete(auth::logout))
        .route("/me", get(auth::me))
        .route("/users", get(auth::list_users).post(auth::create_user))
        .route("/users/{name}", delete(auth::delete_user))
        .route("/users/{name}/tokens", post(auth::create_token))
        .route("/cases", get(cases::list))
        .route("/cases/batch", post(cases::batch))
        .route("/cases/{id}", get(cases::get_one))
        .route("/cases/{id}/transition", post(cases::transition))
        .route("/cases/{id}/reclassify", post(cases::reclassify))
        .route("/cases/{id}/notes", post(cases::note))
        .route("/cases/{id}/evidence/{evidence}", get(cases::evidence_file))
        .route("/live", get(cases::live))
        .route("/cameras", get(cameras::list).post(cameras::create))
        .route(
            "/cameras/{id}",
            get(cameras::get_one)
                .put(cameras::replace)
                .delete(cameras::remove),
        )
        .route("/cameras/{id}/snapshot", get(cameras::snapshot))
        .route("/cameras/{id}/zones", put(cameras::set_zones))
        .route("/cameras/{id}/calibration", put(cameras::set_calibration))
        .route(
            "/cameras/{id}/calibration/check",
            post(cameras::check_calibration),
        )
        .route("/cameras/{id}/baseline", post(cameras::capture_baseline))
        .route("/config", get(geo::map_config))
        .route("/grid", get(geo::get_grid).put(geo::put_grid))
        .route(
            "/categories",
            get(geo::get_categories).put(geo::put_categories),
        )
        .route("/stats", get(stats::stats))
        .route("/health", get(health::health))
        .fallback(|| async { ApiError::not_found("no such API route") });
    Router::new()
        .nest("/api/v1", api)
        .merge(crate::ui::routes())
        .with_state(state)
}

/// Serves the router on `bind` until `shutdown` resolves, with live updates running.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::spawn(cases::follow_outbox(Arc::clone(&state)));
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// A time as the API writes it: RFC 3339, UTC, milliseconds.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time or a `YYYY-MM-DD` date (midnight UTC); names the field on error.
pub(crate) fn parse_time(field: &str, text: &str) -> ApiResult<std::time::SystemTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc).into());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().into());
        }
    }
    Err(ApiError::bad_request(format!(
        "{field}: {text:?} is not an RFC 3339 time (2026-11-26T08:00:00Z) or a date (2026-11-26)"
    )))
}
