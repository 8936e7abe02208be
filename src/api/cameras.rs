//! Cameras at run time: the admin adds, edits, disables and deletes cameras, draws zones,
//! calibrates and captures the signage baseline; each change is validated like the pipeline
//! file (same checks, same messages), saved in the store, and applied to the running pipeline
//! without a restart.
//!
//! The [`CameraRegistry`] holds the effective cameras: the pipeline file's, overridden by the
//! console's saved ones (a console delete hides a file camera too). Camera passwords are
//! write-only: [`CameraDoc`] never serialises one, and no route, log line or page shows one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::analysis::{RuleSet, Zone};
use crate::cases::CaseStore;
use crate::config::raw::{RawCalibration, RawCamera, RawDetector, RawPosition, RawTiles};
use crate::config::{CameraConfig, Config, ConfigErrors, Credentials, Secret};
use crate::domain::{CameraId, CameraStatus};

/// A camera as the API takes it and the console saves it. `password` is accepted on input and
/// never serialised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraDoc {
    /// Taken from the path on `PUT`.
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Without user or password.
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Write-only. On `PUT`, absent keeps the saved one; `""` removes it.
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Camera group, for users scoped to groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Detector name → interval in seconds.
    #[serde(default)]
    pub detectors: BTreeMap<String, f64>,
    /// Detector name → its tiling (`{ "scale": 2.0, "region": "no_signage" }`), for text
    /// detectors; as `tiles` in the pipeline config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tiles: BTreeMap<String, RawTiles>,
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<RawCalibration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<RawPosition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signage_baseline: Vec<[f32; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signage_picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RuleSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_timeout_s: Option<f64>,
}

impl CameraDoc {
    /// The pipeline file's camera as a document.
    fn from_raw(raw: &RawCamera, username: Option<String>) -> Self {
        CameraDoc {
            id: raw.id.clone(),
            name: raw.name.clone(),
            uri: raw.uri.clone(),
            username,
            password: None,
            enabled: raw.enabled,
            group: None,
            detectors: raw
                .detectors
                .iter()
                .map(|(name, d)| {
                    (
                        name.clone(),
                        d.interval_s.unwrap_or(crate::config::DEFAULT_INTERVAL_S),
                    )
                })
                .collect(),
            tiles: raw
                .detectors
                .iter()
                .filter_map(|(name, d)| Some((name.clone(), d.tiles.clone()?)))
                .collect(),
            zones: raw.zones.clone(),
            calibration: raw.calibration.clone(),
            heading_deg: raw.heading_deg,
            position: raw.position.clone(),
            signage_baseline: raw.signage_baseline.clone(),
            signage_picture: raw.signage_picture.clone(),
            rules: raw.rules.clone(),
            realtime: raw.realtime,
            stall_timeout_s: raw.stall_timeout_s,
        }
    }

    fn to_raw(&self, has_credentials: bool) -> RawCamera {
        RawCamera {
            id: self.id.clone(),
            name: self.name.clone(),
            uri: self.uri.clone(),
            credentials: has_credentials.then(|| "console".to_owned()),
            enabled: self.enabled,
            transport: None,
            stall_timeout_s: self.stall_timeout_s,
            realtime: self.realtime,
            heading_deg: self.heading_deg,
            position: self.position.clone(),
            detectors: self
                .detectors
                .iter()
                .map(|(name, interval)| {
                    (
                        name.clone(),
                        RawDetector {
                            interval_s: Some(*interval),
                            tiles: self.tiles.get(name).cloned(),
                        },
                    )
                })
                .collect(),
            zones: self.zones.clone(),
            rules: self.rules.clone(),
            signage_baseline: self.signage_baseline.clone(),
            signage_picture: self.signage_picture.clone(),
            calibration: self.calibration.clone(),
        }
    }
}

/// Where a camera's settings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The pipeline file, unchanged.
    Config,
    /// Added or changed in the console.
    Console,
}

#[derive(Debug, Clone)]
struct Managed {
    doc: CameraDoc,
    password: Option<Secret>,
    /// `Err`: the saved settings no longer validate (e.g. a model was removed from the file).
    config: Result<CameraConfig, String>,
    origin: Origin,
}

/// The effective cameras.
#[derive(Debug, Default)]
pub struct CameraRegistry {
    cameras: Mutex<BTreeMap<String, Managed>>,
}

/// Validates a document into a camera config; every problem is listed with its field.
fn validate(
    doc: &CameraDoc,
    password: Option<&Secret>,
    config: &Config,
) -> Result<CameraConfig, Vec<String>> {
    let credentials = match (&doc.username, password) {
        (None, None) => None,
        (user, password) => Some(Credentials {
            user: user.clone().unwrap_or_default(),
            password: password.cloned().unwrap_or_else(|| Secret::new("")),
        }),
    };
    let mut raw = doc.to_raw(credentials.is_some());
    if raw.detectors.is_empty() {
        // No detectors chosen: every model of the pipeline at its default interval, and the
        // model-free static-object detector every second.
        for model in &config.models {
            raw.detectors.insert(
                model.name.clone(),
                RawDetector {
                    interval_s: None,
                    tiles: doc.tiles.get(&model.name).cloned(),
                },
            );
        }
        raw.detectors.insert(
            crate::config::STATIC_DETECTOR.to_owned(),
            RawDetector {
                interval_s: Some(1.0),
                tiles: None,
            },
        );
    }
    // Tiles for a detector the camera does not run would be dropped without a word.
    let stray: Vec<String> = doc
        .tiles
        .keys()
        .filter(|name| !raw.detectors.contains_key(*name))
        .map(|name| {
            format!(
                "camera.tiles.{name}: the camera runs no detector {name:?} (add it to detectors)"
            )
        })
        .collect();
    let result = crate::config::validate_camera(&raw, config, credentials)
        .map_err(|errors: ConfigErrors| errors.as_slice().iter().map(|e| e.to_string()).collect());
    match (result, stray.is_empty()) {
        (result, true) => result,
        (Ok(_), false) => Err(stray),
        (Err(mut errors), false) => {
            errors.extend(stray);
            Err(errors)
        }
    }
}

impl CameraRegistry {
    /// The pipeline file's cameras, then the console's saved changes over them.
    pub async fn load(config: &Config, store: &dyn CaseStore) -> anyhow::Result<Self> {
        let mut cameras = BTreeMap::new();
        let raw_cameras = std::fs::read_to_string(&config.path)
            .ok()
            .and_then(|text| crate::config::RawConfig::from_toml(&text).ok())
            .map(|raw| raw.cameras)
            .unwrap_or_default();
        for camera in &config.cameras {
            let raw = raw_cameras
                .iter()
                .find(|r| r.id == camera.id.as_str())
                .cloned()
                .unwrap_or_else(|| RawCamera {
                    id: camera.id.as_str().to_owned(),
                    ..RawCamera::default()
                });
            let username = camera.credentials.as_ref().map(|c| c.user.clone());
            cameras.insert(
                camera.id.as_str().to_owned(),
                Managed {
                    doc: CameraDoc::from_raw(&raw, username),
                    password: camera.credentials.as_ref().map(|c| c.password.clone()),
                    config: Ok(camera.clone()),
                    origin: Origin::Config,
                },
            );
        }
        for record in store.console().cameras().await? {
            if record.deleted {
                cameras.remove(&record.id);
                continue;
            }
            let mut doc: CameraDoc = match serde_json::from_str(&record.doc) {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::error!(camera = %record.id, error = %e, "Saved camera is unreadable; skipped.");
                    continue;
                }
            };
            doc.id = record.id.clone();
            let password = record.password.map(Secret::new);
            let validated = validate(&doc, password.as_ref(), config).map_err(|p| p.join("; "));
            if let Err(problems) = &validated {
                tracing::error!(camera = %record.id, problems = %problems, "Saved camera no longer validates; not started.");
            }
            cameras.insert(
                record.id,
                Managed {
                    doc,
                    password,
                    config: validated,
                    origin: Origin::Console,
                },
            );
        }
        Ok(CameraRegistry {
            cameras: Mutex::new(cameras),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Managed>> {
        self.cameras.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The valid cameras' configs (enabled or not).
    pub fn configs(&self) -> Vec<CameraConfig> {
        self.lock()
            .values()
            .filter_map(|m| m.config.as_ref().ok().cloned())
            .collect()
    }

    /// A camera's display name (its id when unknown).
    pub fn name_of(&self, id: &CameraId) -> String {
        self.lock()
            .get(id.as_str())
            .and_then(|m| m.config.as_ref().ok().map(|c| c.name.clone()))
            .unwrap_or_else(|| id.as_str().to_owned())
    }

    /// Whether `caller` may see the camera (and its cases). Unknown cameras (deleted since)
    /// are visible to unscoped users only.
    pub fn visible_to(&self, id: &CameraId, caller: &Caller) -> bool {
        let cameras = self.lock();
        let group = cameras
            .get(id.as_str())
            .and_then(|m| m.doc.group.as_deref());
        caller.sees_group(group)
    }

    /// The cameras a scoped caller may see.
    pub fn visible_ids(&self, caller: &Caller) -> Vec<CameraId> {
        self.lock()
            .iter()
            .filter(|(_, m)| caller.sees_group(m.doc.group.as_deref()))
            .map(|(id, _)| CameraId::new(id))
            .collect()
    }

    fn get(&self, id: &str) -> Option<Managed> {
        self.lock().get(id).cloned()
    }
}

/// A camera as the API shows it: the document (no password) and how it runs.
#[derive(Debug, Serialize)]
pub struct CameraView {
    #[serde(flatten)]
    doc: CameraDoc,
    has_password: bool,
    /// `starting`, `connecting`, `streaming`, `stalled`, `failed`, `ended`, `disabled`,
    /// `invalid` (saved settings no longer validate) or `unknown` (no pipeline here).
    status: String,
    reason: Option<String>,
    source: Origin,
}

/// A camera's status name (`streaming`, `failed`, `disabled`, `invalid`, …) and, where there
/// is one, why.
fn status_of(state: &AppState, managed: &Managed) -> (String, Option<String>) {
    match &managed.config {
        Err(problems) => ("invalid".to_owned(), Some(problems.clone())),
        Ok(config) if !config.enabled => ("disabled".to_owned(), None),
        Ok(config) => match &state.pipeline {
            None => ("unknown".to_owned(), None),
            Some(pipeline) => match pipeline.status(&config.id) {
                None => ("starting".to_owned(), None),
                Some(CameraStatus::Failed { reason, retry_in }) => (
                    "failed".to_owned(),
                    Some(format!("{reason} (retry in {} s)", retry_in.as_secs())),
                ),
                Some(CameraStatus::Stalled { silent_for }) => (
                    "stalled".to_owned(),
                    Some(format!("no data for {} s", silent_for.as_secs())),
                ),
                Some(other) => (other.name().to_owned(), None),
            },
        },
    }
}

/// How many cameras are in each status.
pub(crate) fn status_counts(state: &AppState) -> BTreeMap<String, usize> {
    let managed: Vec<Managed> = state.cameras.lock().values().cloned().collect();
    let mut counts = BTreeMap::new();
    for m in &managed {
        *counts.entry(status_of(state, m).0).or_insert(0) += 1;
    }
    counts
}

fn camera_view(state: &AppState, managed: Managed) -> CameraView {
    let (status, reason) = status_of(state, &managed);
    CameraView {
        has_password: managed
            .password
            .as_ref()
            .is_some_and(|p| !p.expose().is_empty()),
        doc: managed.doc,
        status,
        reason,
        source: managed.origin,
    }
}

fn visible_camera(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Managed> {
    state
        .cameras
        .get(id)
        .filter(|m| caller.sees_group(m.doc.group.as_deref()))
        .ok_or_else(|| ApiError::not_found(format!("not found: camera {id:?}")))
}

/// `GET /api/v1/cameras`.
pub async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Vec<CameraView>> {
    let cameras: Vec<Managed> = state
        .cameras
        .lock()
        .values()
        .filter(|m| caller.sees_group(m.doc.group.as_deref()))
        .cloned()
        .collect();
    Json(
        cameras
            .into_iter()
            .map(|m| camera_view(&state, m))
            .collect(),
    )
}

/// `GET /api/v1/cameras/{id}`.
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CameraView>> {
    let managed = visible_camera(&state, &caller, &id)?;
    Ok(Json(camera_view(&state, managed)))
}

/// Validates, saves and applies a camera document. `password`: the one to keep.
async fn save_and_apply(
    state: &Arc<AppState>,
    caller: &Caller,
    doc: CameraDoc,
    password: Option<Secret>,
) -> ApiResult<CameraView> {
    let config = validate(&doc, password.as_ref(), &state.config).map_err(ApiError::invalid)?;
    let json = serde_json::to_string(&doc).map_err(ApiError::internal)?;
    state
        .store
        .console()
        .put_camera(&doc.id, &json, password.as_ref().map(Secret::expose))
        .await?;
    let managed = Managed {
        doc: doc.clone(),
        password,
        config: Ok(config.clone()),
        origin: Origin::Console,
    };
    state.cameras.lock().insert(doc.id.clone(), managed.clone());
    if let Some(pipeline) = state.pipeline.clone() {
        let applied = tokio::task::spawn_blocking(move || {
            if config.enabled {
                pipeline.apply_camera(&config)
            } else {
                pipeline.remove_camera(&config.id);
                Ok(())
            }
        })
        .await
        .map_err(ApiError::internal)?;
        if let Err(e) = applied {
            // Saved, but the pipeline could not start it (e.g. the models are gone): say so.
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("camera {} is saved but could not be started: {e:#}", doc.id),
            ));
        }
    }
    tracing::info!(camera = %doc.id, admin = %caller.name, "Camera saved and applied.");
    Ok(camera_view(state, managed))
}

fn password_of(input: Option<String>) -> Option<Secret> {
    input.filter(|p| !p.is_empty()).map(Secret::new)
}

/// `POST /api/v1/cameras` (admin): adds a camera and starts it.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Json(mut doc): Json<CameraDoc>,
) -> ApiResult<(StatusCode, Json<CameraView>)> {
    doc.id = doc.id.trim().to_owned();
    if state.cameras.get(&doc.id).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "camera {:?} exists: edit it with PUT /api/v1/cameras/{}",
                doc.id, doc.id
            ),
        ));
    }
    let password = password_of(doc.password.take());
    let view = save_and_apply(&state, &caller, doc, password).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `PUT /api/v1/cameras/{id}` (admin): changes a camera's settings and applies them; the stream
/// restarts only when the source, frame settings or detector intervals change (or a file has
/// played to its end). Fields left out keep their values (so a client that knows only some
/// fields loses none); `null` clears an optional one.
pub async fn replace(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(patch): Json<serde_json::Value>,
) -> ApiResult<Json<CameraView>> {
    let serde_json::Value::Object(patch) = patch else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object of camera fields",
        ));
    };
    let old = visible_camera(&state, &caller, &id)?;
    let mut merged = serde_json::to_value(&old.doc).map_err(ApiError::internal)?;
    for (key, value) in patch {
        merged[key] = value;
    }
    let mut doc: CameraDoc = serde_json::from_value(merged)
        .map_err(|e| ApiError::bad_request(format!("camera: {e}")))?;
    if !doc.id.is_empty() && doc.id != id {
        return Err(ApiError::bad_request(format!(
            "id: {:?} differs from the camera in the path ({id:?}); ids cannot change",
            doc.id
        )));
    }
    doc.id = id;
    let password = match doc.password.take() {
        None => old.password,
        Some(new) => password_of(Some(new)),
    };
    Ok(Json(save_and_apply(&state, &caller, doc, password).await?))
}

/// `DELETE /api/v1/cameras/{id}` (admin): stops it and forgets it.
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    visible_camera(&state, &caller, &id)?;
    state.store.console().delete_camera(&id).await?;
    state.cameras.lock().remove(&id);
    if let Some(pipeline) = state.pipeline.clone() {
        let camera = CameraId::new(&id);
        tokio::task::spawn_blocking(move || pipeline.remove_camera(&camera))
            .await
            .map_err(ApiError::internal)?;
    }
    tracing::info!(camera = %id, admin = %caller.name, "Camera deleted.");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/cameras/{id}/snapshot`: the latest frame as JPEG.
pub async fn snapshot(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    visible_camera(&state, &caller, &id)?;
    let pipeline = state.pipeline()?.clone();
    let camera = CameraId::new(&id);
    let jpeg = tokio::task::spawn_blocking(move || {
        let snap = pipeline.snapshot(&camera)?;
        let mut out = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        image::ImageEncoder::write_image(
            encoder,
            &snap.rgb,
            snap.width,
            snap.height,
            image::ExtendedColorType::Rgb8,
        )
        .ok()?;
        Some(out)
    })
    .await
    .map_err(ApiError::internal)?
    .ok_or_else(|| ApiError::not_found(format!("camera {id:?} has no frame yet")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from(jpeg),
    )
        .into_response())
}

/// `PUT /api/v1/cameras/{id}/zones` (admin): the camera's zones, replaced. A running stream
/// keeps running, and tracks keep their dwell time.
pub async fn set_zones(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(zones): Json<Vec<Zone>>,
) -> ApiResult<Json<CameraView>> {
    let old = visible_camera(&state, &caller, &id)?;
    let mut doc = old.doc;
    doc.zones = zones;
    Ok(Json(
        save_and_apply(&state, &caller, doc, old.password).await?,
    ))
}

/// The figures of a fitted calibration.
#[derive(Debug, Serialize)]
pub struct CalibrationReport {
    rms_px: f64,
    max_px: f64,
    rms_m: f64,
    max_m: f64,
    /// Index of the point to re-check first.
    worst_point: usize,
    /// The ground the camera sees, `[lat, lon]` pairs.
    footprint: Vec<[f64; 2]>,
}

fn fit(raw: &RawCalibration) -> ApiResult<CalibrationReport> {
    let points: Vec<crate::geo::CalibrationPoint> = raw
        .points
        .iter()
        .map(|p| crate::geo::CalibrationPoint {
            pixel_x: p.pixel[0],
            pixel_y: p.pixel[1],
            lat: p.lat,
            lon: p.lon,
        })
        .collect();
    let calibration = crate::geo::Calibration::fit(&points, raw.image_width, raw.image_height)
        .map_err(|e| ApiError::bad_request(format!("calibration: {e}")))?;
    let error = calibration.reprojection();
    Ok(CalibrationReport {
        rms_px: error.rms_px,
        max_px: error.max_px,
        rms_m: error.rms_m,
        max_m: error.max_m,
        worst_point: error.worst_point,
        footprint: calibration
            .ground_footprint(2.0)
            .into_iter()
            .map(|p| [p.lat, p.lon])
            .collect(),
    })
}

/// `POST /api/v1/cameras/{id}/calibration/check`: fits without saving.
pub async fn check_calibration(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(raw): Json<RawCalibration>,
) -> ApiResult<Json<CalibrationReport>> {
    visible_camera(&state, &caller, &id)?;
    Ok(Json(fit(&raw)?))
}

/// `PUT /api/v1/cameras/{id}/calibration` (admin): fits, saves and applies.
pub async fn set_calibration(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(raw): Json<RawCalibration>,
) -> ApiResult<Json<CalibrationReport>> {
    let old = visible_camera(&state, &caller, &id)?;
    let report = fit(&raw)?;
    let mut doc = old.doc;
    doc.calibration = Some(raw);
    save_and_apply(&state, &caller, doc, old.password).await?;
    Ok(Json(report))
}

/// `POST /api/v1/cameras/{id}/baseline` (admin): the sign regions on the camera's next five
/// frames become its approved signage, and their median picture (kept as
/// `DATA_DIR/baselines/ID.png`, named by the camera's `signage_picture`) the approved scene.
/// Answers `{"regions": [[x1, y1, x2, y2], …], "picture": true}`.
pub async fn capture_baseline(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let old = visible_camera(&state, &caller, &id)?;
    let config = old
        .config
        .clone()
        .map_err(|p| ApiError::bad_request(format!("camera {id:?} is invalid: {p}")))?;
    let pipeline = state.pipeline()?.clone();
    let baseline = tokio::task::spawn_blocking(move || pipeline.capture_baseline(&config))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, format!("{e:#}")))?;
    let boxes: Vec<[f32; 4]> = baseline
        .regions
        .iter()
        .map(|b| [b.x1, b.y1, b.x2, b.y2])
        .collect();
    let mut doc = old.doc;
    doc.signage_baseline = boxes.clone();
    if let Some(picture) = &baseline.picture {
        let path = crate::config::baseline_picture_path(&state.data_dir, &id);
        crate::config::write_scene_picture(&path, picture).map_err(ApiError::internal)?;
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        doc.signage_picture = Some(path.to_string_lossy().into_owned());
    }
    save_and_apply(&state, &caller, doc, old.password).await?;
    Ok(Json(
        serde_json::json!({ "regions": boxes, "picture": baseline.picture.is_some() }),
    ))
}

#[cfg(test)]
mod tiles_tests {
    use super::*;

    #[test]
    fn a_file_cameras_tiles_survive_the_console_document() {
        let raw: RawCamera = toml::from_str(
            r#"
id = "wall"
uri = "rtsp://10.0.0.5/wall"
detectors.text = { interval_s = 4.0, tiles = { scale = 3.0, region = [0.0, 0.1, 1.0, 0.6] } }
detectors.static = { interval_s = 1.0 }
"#,
        )
        .expect("parses");
        let doc = CameraDoc::from_raw(&raw, None);
        assert_eq!(doc.tiles.len(), 1);
        let json = serde_json::to_value(&doc).expect("serialises");
        assert_eq!(json["tiles"]["text"]["scale"], 3.0);
        assert_eq!(json["tiles"]["text"]["region"][3], 0.6);
        // Back from JSON (as a PUT brings it) to the raw camera the validator reads.
        let back: CameraDoc = serde_json::from_value(json).expect("deserialises");
        let raw_back = back.to_raw(false);
        assert_eq!(
            raw_back.detectors["text"].tiles,
            raw.detectors["text"].tiles
        );
        assert_eq!(raw_back.detectors["static"].tiles, None);
    }
}
