//! Checking a [`RawConfig`] and turning it into a [`Config`], collecting every mistake.
//!
//! Each check that fails adds one [`ConfigError`] and validation carries on, so a user fixing a
//! config sees all of its problems at once. A value that failed a check is left out of the
//! checks that depend on it (no cascades of follow-on errors).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::CameraId;

use super::raw::{RawCamera, RawConfig, RawInference, RawModel, RawPosition};
use super::source::{classify, parse_source, resolve, Kind};
use super::{
    CameraConfig, Config, ConfigError, ConfigErrors, CredentialStore, Credentials, DetectorConfig,
    InferenceConfig, ModelRef, Position, TilesConfig, DEFAULT_DATA_DIR, DEFAULT_HTTP_BIND,
    DEFAULT_INTERVAL_S, DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT_MS, DEFAULT_STALL_TIMEOUT_S,
    DEFAULT_THREADS_PER_WORKER, DEFAULT_WORKERS,
};

/// Longest camera id.
const MAX_ID_LEN: usize = 64;

/// Validates `raw` as the config at `config_path` (relative paths in it are resolved against
/// that file's directory; the path is made absolute first, without touching the disk).
///
/// `credentials`: when given, used as the credentials file; when `None`, the file named by
/// `credentials_file` (if any) is read from disk.
pub fn validate(
    raw: RawConfig,
    config_path: &Path,
    credentials: Option<&CredentialStore>,
) -> Result<Config, ConfigErrors> {
    let path = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut v = Validator {
        errors: Vec::new(),
        base,
    };

    let data_dir = v.data_dir(raw.data_dir.as_deref());
    let http_bind = v.http_bind(raw.http_bind.as_deref());
    let onnxruntime = v.onnxruntime(raw.onnxruntime.as_deref());
    let inference = v.inference(&raw.inference);

    // Credentials: given, read from credentials_file, not configured, or unreadable
    // (`Err`, already reported: cameras naming an entry are then not checked against it).
    let loaded;
    let store: Result<Option<&CredentialStore>, ()> = match (credentials, &raw.credentials_file) {
        (Some(given), _) => Ok(Some(given)),
        (None, Some(file)) => match CredentialStore::load(&resolve(&v.base, file)) {
            Ok(s) => {
                loaded = s;
                Ok(Some(&loaded))
            }
            Err(errs) => {
                v.errors.extend(errs.0);
                Err(())
            }
        },
        (None, None) => Ok(None),
    };

    let timezone = v.timezone(raw.timezone.as_deref());
    let store_url = v.store(raw.store.as_deref(), data_dir.as_deref());
    let categories = raw
        .categories
        .as_deref()
        .map(|f| v.existing_file("categories", f));
    let grid = raw.grid.as_deref().map(|f| v.grid(f));
    let tile_url = raw.tile_url.as_deref().map(str::trim).map(str::to_owned);
    if let Some(url) = &tile_url {
        let placeholders = ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p));
        if !(url.starts_with("http://") || url.starts_with("https://")) || !placeholders {
            v.err(
                "tile_url",
                "must be an http(s) URL template with {z}, {x} and {y} \
                 (https://tiles.example/{z}/{x}/{y}.png)",
            );
        }
    }
    let models = v.models(&raw.models);
    let model_names: Vec<&str> = raw.models.iter().map(|m| m.name.as_str()).collect();
    let manifests: HashMap<String, PathBuf> = models
        .iter()
        .flatten()
        .map(|m| (m.name.clone(), m.manifest.clone()))
        .collect();

    let mut first_index: HashMap<&str, usize> = HashMap::new();
    let mut cameras = Vec::with_capacity(raw.cameras.len());
    for (i, cam) in raw.cameras.iter().enumerate() {
        let p = format!("cameras[{i}]");
        if let Some(&first) = first_index.get(cam.id.as_str()) {
            v.err(
                format!("{p}.id"),
                format!(
                    "duplicate camera id {:?} (first used by cameras[{first}])",
                    cam.id
                ),
            );
        } else {
            first_index.insert(&cam.id, i);
        }
        cameras.push(v.camera(&p, cam, &model_names, &manifests, store));
    }

    if !v.errors.is_empty() {
        return Err(ConfigErrors(v.errors));
    }
    let cameras: Option<Vec<CameraConfig>> = cameras.into_iter().collect();
    let optional = |o: Option<Option<PathBuf>>| o.map_or(Some(None), |f| f.map(Some));
    match (
        data_dir,
        http_bind,
        onnxruntime,
        inference,
        models,
        cameras,
        (timezone, store_url, optional(categories), optional(grid)),
    ) {
        (
            Some(data_dir),
            Some(http_bind),
            Some(onnxruntime),
            Some(inference),
            Some(models),
            Some(cameras),
            (Some(timezone), Some(store), Some(categories), Some(grid)),
        ) => Ok(Config {
            path,
            data_dir,
            http_bind,
            onnxruntime,
            inference,
            models,
            cameras,
            timezone,
            store,
            categories,
            grid,
            tile_url,
        }),
        // Every `None` above comes with an error, so this is not reached.
        _ => Err(ConfigErrors::from(ConfigError::new(
            "",
            "invalid config (internal: a check failed without saying why)",
        ))),
    }
}

/// Validates one camera defined outside the pipeline file (the admin console) against `config`:
/// its models, its directory for relative paths. `credentials`: the camera's login, attached
/// when `raw.credentials` names `"console"`. Error paths start with `camera.`.
pub fn validate_camera(
    raw: &RawCamera,
    config: &Config,
    credentials: Option<Credentials>,
) -> Result<CameraConfig, ConfigErrors> {
    let mut v = Validator {
        errors: Vec::new(),
        base: config
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let model_names: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
    let manifests: HashMap<String, PathBuf> = config
        .models
        .iter()
        .map(|m| (m.name.clone(), m.manifest.clone()))
        .collect();
    let mut store = CredentialStore::new();
    if let Some(credentials) = credentials {
        store.insert("console", credentials);
    }
    match v.camera("camera", raw, &model_names, &manifests, Ok(Some(&store))) {
        Some(camera) if v.errors.is_empty() => Ok(camera),
        _ if !v.errors.is_empty() => Err(ConfigErrors(v.errors)),
        _ => Err(ConfigErrors::from(ConfigError::new(
            "camera",
            "invalid camera (internal: a check failed without saying why)",
        ))),
    }
}

/// The bounding box of the `no_signage` zones (clamped to the image) and their polygons; `None`
/// when there is none.
fn tiles_over_zones(
    zones: &[crate::analysis::Zone],
) -> Option<(crate::domain::BBox, Vec<Vec<[f32; 2]>>)> {
    let polygons: Vec<Vec<[f32; 2]>> = zones
        .iter()
        .filter(|z| z.kind == crate::analysis::ZoneKind::NoSignage)
        .map(|z| {
            z.polygon
                .iter()
                .map(|&(x, y)| [x.clamp(0.0, 1.0) as f32, y.clamp(0.0, 1.0) as f32])
                .collect()
        })
        .collect();
    let points = || polygons.iter().flatten();
    let min = |i: usize| points().map(|p| p[i]).fold(f32::INFINITY, f32::min);
    let max = |i: usize| points().map(|p| p[i]).fold(f32::NEG_INFINITY, f32::max);
    let b = crate::domain::BBox::new(min(0), min(1), max(0), max(1));
    (b.x1 < b.x2 && b.y1 < b.y2).then_some((b, polygons))
}

/// The `kind` a model manifest declares, when the file reads as TOML (the runtime reports
/// manifests that do not).
fn manifest_kind(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table.get("kind")?.as_str().map(str::to_owned)
}

struct Validator {
    errors: Vec<ConfigError>,
    /// The config file's directory.
    base: PathBuf,
}

impl Validator {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::new(path, message));
    }

    fn data_dir(&mut self, dir: Option<&Path>) -> Option<PathBuf> {
        let dir = dir.unwrap_or(Path::new(DEFAULT_DATA_DIR));
        if dir.as_os_str().is_empty() {
            self.err(
                "data_dir",
                "is empty (leave it out for the default \"data\")",
            );
            return None;
        }
        Some(resolve(&self.base, dir))
    }

    fn http_bind(&mut self, bind: Option<&str>) -> Option<SocketAddr> {
        let bind = bind.unwrap_or(DEFAULT_HTTP_BIND);
        match bind.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.err(
                    "http_bind",
                    format!(
                        "{bind:?} is not an IP:port address (e.g. \"127.0.0.1:8080\" or \
                         \"0.0.0.0:8080\"; host names are not accepted)"
                    ),
                );
                None
            }
        }
    }

    /// `Some(None)`: not set; `None`: invalid.
    fn onnxruntime(&mut self, lib: Option<&Path>) -> Option<Option<PathBuf>> {
        let Some(lib) = lib else {
            return Some(None);
        };
        if lib.as_os_str().is_empty() {
            self.err("onnxruntime", "is empty (leave it out if not needed)");
            return None;
        }
        // A bare file name is for the dynamic loader to find.
        if lib.components().count() == 1 && lib.is_relative() {
            return Some(Some(lib.to_path_buf()));
        }
        let path = resolve(&self.base, lib);
        if path.is_file() {
            Some(Some(path))
        } else {
            self.err("onnxruntime", format!("file {path:?} does not exist"));
            None
        }
    }

    fn int_in(
        &mut self,
        path: &str,
        value: Option<i64>,
        default: i64,
        lo: i64,
        hi: i64,
    ) -> Option<i64> {
        let value = value.unwrap_or(default);
        if (lo..=hi).contains(&value) {
            Some(value)
        } else {
            self.err(path, format!("{value} is out of range {lo}..={hi}"));
            None
        }
    }

    /// A positive, finite number of seconds as a duration.
    fn seconds(&mut self, path: &str, value: Option<f64>, default: f64) -> Option<Duration> {
        let value = value.unwrap_or(default);
        if value.is_nan() || value <= 0.0 {
            self.err(
                path,
                format!("must be greater than 0 seconds (got {value})"),
            );
            return None;
        }
        match Duration::try_from_secs_f64(value) {
            Ok(d) if d > Duration::ZERO => Some(d),
            Ok(_) => {
                self.err(path, format!("{value} s is too small (under 1 ns)"));
                None
            }
            Err(_) => {
                self.err(path, format!("{value} s is too large"));
                None
            }
        }
    }

    fn inference(&mut self, raw: &RawInference) -> Option<InferenceConfig> {
        let workers = self.int_in("inference.workers", raw.workers, DEFAULT_WORKERS, 1, 64);
        let threads = self.int_in(
            "inference.threads_per_worker",
            raw.threads_per_worker,
            DEFAULT_THREADS_PER_WORKER,
            1,
            64,
        );
        let max_batch = self.int_in(
            "inference.max_batch",
            raw.max_batch,
            DEFAULT_MAX_BATCH,
            1,
            64,
        );
        let max_wait_ms = self.int_in(
            "inference.max_wait_ms",
            raw.max_wait_ms,
            DEFAULT_MAX_WAIT_MS,
            0,
            10_000,
        );
        Some(InferenceConfig {
            workers: usize::try_from(workers?).ok()?,
            threads_per_worker: usize::try_from(threads?).ok()?,
            max_batch: usize::try_from(max_batch?).ok()?,
            max_wait: Duration::from_millis(u64::try_from(max_wait_ms?).ok()?),
            device: raw.device.unwrap_or_default(),
        })
    }

    fn models(&mut self, raw: &[RawModel]) -> Option<Vec<ModelRef>> {
        let mut ok = true;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut models = Vec::with_capacity(raw.len());
        for (i, m) in raw.iter().enumerate() {
            let p = format!("models[{i}]");
            if !is_model_name(&m.name) {
                self.err(
                    format!("{p}.name"),
                    format!(
                        "{:?} is not a valid model name (use lowercase letters, digits, _ and -)",
                        m.name
                    ),
                );
                ok = false;
            }
            if m.name == super::STATIC_DETECTOR {
                self.err(
                    format!("{p}.name"),
                    "\"static\" is reserved for the model-free static-object detector",
                );
                ok = false;
            }
            if let Some(&first) = seen.get(m.name.as_str()) {
                self.err(
                    format!("{p}.name"),
                    format!(
                        "duplicate model name {:?} (first used by models[{first}])",
                        m.name
                    ),
                );
                ok = false;
            } else {
                seen.insert(&m.name, i);
            }
            let manifest = resolve(&self.base, &m.manifest);
            if !manifest.is_file() {
                let what = if manifest.exists() {
                    "is not a file"
                } else {
                    "does not exist"
                };
                self.err(
                    format!("{p}.manifest"),
                    format!("manifest {manifest:?} {what}"),
                );
                ok = false;
            }
            models.push(ModelRef {
                name: m.name.clone(),
                manifest,
            });
        }
        ok.then_some(models)
    }

    fn camera(
        &mut self,
        p: &str,
        cam: &RawCamera,
        model_names: &[&str],
        manifests: &HashMap<String, PathBuf>,
        store: Result<Option<&CredentialStore>, ()>,
    ) -> Option<CameraConfig> {
        let errors_before = self.errors.len();

        if !is_camera_id(&cam.id) {
            self.err(
                format!("{p}.id"),
                format!(
                    "{:?} is not a valid camera id (1 to {MAX_ID_LEN} of A-Z, a-z, 0-9, _ and -)",
                    cam.id
                ),
            );
        }
        let name = match &cam.name {
            Some(n) if n.trim().is_empty() => {
                self.err(format!("{p}.name"), "is empty (leave it out to use the id)");
                None
            }
            Some(n) => Some(n.clone()),
            None => Some(cam.id.clone()),
        };

        let uri = cam.uri.trim();
        let kind = match classify(uri) {
            Ok(k) => Some(k),
            Err(msg) => {
                self.err(format!("{p}.uri"), msg);
                None
            }
        };
        let source = kind.and_then(|k| {
            match parse_source(k, uri, &self.base, cam.transport.unwrap_or_default()) {
                Ok(s) => Some(s),
                Err(msg) => {
                    self.err(format!("{p}.uri"), msg);
                    None
                }
            }
        });
        if let Some(k) = kind {
            if cam.transport.is_some() && k != Kind::Rtsp {
                self.err(
                    format!("{p}.transport"),
                    "only applies to rtsp and rtsps sources: remove it",
                );
            }
            if cam.realtime == Some(true) && k != Kind::File {
                self.err(
                    format!("{p}.realtime"),
                    "only applies to file sources (live sources always run in real time): \
                     remove it",
                );
            }
        }

        let credentials = self.camera_credentials(p, cam, kind, store);
        let stall_timeout = self.seconds(
            &format!("{p}.stall_timeout_s"),
            cam.stall_timeout_s,
            DEFAULT_STALL_TIMEOUT_S,
        );

        if let Some(h) = cam.heading_deg {
            if !(0.0..360.0).contains(&h) {
                self.err(
                    format!("{p}.heading_deg"),
                    format!(
                        "{h} is out of range: 0 <= heading < 360 (degrees clockwise from north)"
                    ),
                );
            }
        }
        let position = cam.position.as_ref().map(|pos| self.position(p, pos));

        let mut detectors = Vec::with_capacity(cam.detectors.len());
        for (model, det) in &cam.detectors {
            let dp = format!("{p}.detectors.{}", key_segment(model));
            if model != super::STATIC_DETECTOR && !model_names.contains(&model.as_str()) {
                let known = if model_names.is_empty() {
                    "none defined in [[models]]".to_owned()
                } else {
                    let set: BTreeSet<&str> = model_names.iter().copied().collect();
                    set.into_iter().collect::<Vec<_>>().join(", ")
                };
                self.err(
                    dp.clone(),
                    format!("no model named {model:?} (models: {known})"),
                );
            }
            let interval = self.seconds(
                &format!("{dp}.interval_s"),
                det.interval_s,
                DEFAULT_INTERVAL_S,
            );
            let tiles = match &det.tiles {
                Some(t) => self
                    .tiles(&dp, model, t, &cam.zones, manifests.get(model))
                    .map(Some),
                None => Some(None),
            };
            if let (Some(interval), Some(tiles)) = (interval, tiles) {
                detectors.push(DetectorConfig {
                    model: model.clone(),
                    interval,
                    tiles,
                });
            }
        }
        let zones = self.zones(p, &cam.zones);
        let rules = cam.rules.clone().unwrap_or_default();
        if let Err(e) = rules.validate(&cam.zones) {
            self.err(format!("{p}.rules"), e.to_string());
        }
        let mut baseline = crate::analysis::Baseline::default();
        for (i, b) in cam.signage_baseline.iter().enumerate() {
            let ok = b.iter().all(|v| (0.0..=1.0).contains(v)) && b[0] < b[2] && b[1] < b[3];
            if ok {
                baseline
                    .regions
                    .push(crate::domain::BBox::new(b[0], b[1], b[2], b[3]));
            } else {
                self.err(
                    format!("{p}.signage_baseline[{i}]"),
                    format!("{b:?} is not a box [x1, y1, x2, y2] with 0 <= x1 < x2 <= 1, 0 <= y1 < y2 <= 1"),
                );
            }
        }
        if let Some(file) = &cam.signage_picture {
            let path = resolve(&self.base, Path::new(file));
            match super::read_scene_picture(&path) {
                Ok(picture) => baseline.picture = Some(picture),
                Err(e) => self.err(format!("{p}.signage_picture"), format!("{e:#}")),
            }
        }
        let calibration = cam.calibration.as_ref().map(|c| self.calibration(p, c));
        let enabled = cam.enabled.unwrap_or(true);
        if enabled && cam.detectors.is_empty() {
            self.err(
                format!("{p}.detectors"),
                "the camera is enabled but runs no detectors: add a [cameras.detectors.MODEL] \
                 table or set enabled = false",
            );
        }

        if self.errors.len() > errors_before {
            return None;
        }
        Some(CameraConfig {
            id: CameraId::new(&cam.id),
            name: name?,
            source: source?,
            credentials: credentials?,
            enabled,
            stall_timeout: stall_timeout?,
            realtime: cam.realtime.unwrap_or(false),
            heading_deg: cam.heading_deg,
            position: position.map_or(Some(None), |p| p.map(Some))?,
            detectors,
            zones: zones?,
            rules,
            signage_baseline: baseline,
            calibration: calibration.map_or(Some(None), |c| c.map(Some))?,
        })
    }

    fn timezone(&mut self, name: Option<&str>) -> Option<chrono_tz::Tz> {
        let name = name.unwrap_or(super::DEFAULT_TIMEZONE);
        match name.parse::<chrono_tz::Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.err(
                    "timezone",
                    format!("{name:?} is not an IANA time zone name (e.g. \"Asia/Shanghai\")"),
                );
                None
            }
        }
    }

    fn store(&mut self, store: Option<&str>, data_dir: Option<&Path>) -> Option<String> {
        match store {
            None => {
                data_dir.map(|d| format!("sqlite:{}", d.join(super::DEFAULT_STORE_FILE).display()))
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Some(url.to_string())
            }
            Some(url) => {
                let file = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"));
                let file = file.unwrap_or(url);
                if file.is_empty() || url.contains("://") && !url.starts_with("sqlite://") {
                    self.err("store", "use a file path, sqlite:PATH or a postgres:// URL");
                    return None;
                }
                Some(format!(
                    "sqlite:{}",
                    resolve(&self.base, Path::new(file)).display()
                ))
            }
        }
    }

    fn existing_file(&mut self, key: &str, file: &Path) -> Option<PathBuf> {
        let path = resolve(&self.base, file);
        if path.is_file() {
            Some(path)
        } else {
            self.err(
                key,
                format!("file {:?} does not exist", path.display().to_string()),
            );
            None
        }
    }

    fn grid(&mut self, file: &Path) -> Option<PathBuf> {
        let path = self.existing_file("grid", file)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                self.err("grid", format!("cannot read {}: {e}", path.display()));
                return None;
            }
        };
        match crate::geo::GridLayer::from_geojson(&text) {
            Ok(_) => Some(path),
            Err(errors) => {
                for e in errors.0 {
                    self.err(format!("grid: {}", e.path), e.message);
                }
                None
            }
        }
    }

    /// A detector's `tiles` table at `dp` (`cameras[0].detectors.text`).
    fn tiles(
        &mut self,
        dp: &str,
        model: &str,
        raw: &super::raw::RawTiles,
        zones: &[crate::analysis::Zone],
        manifest: Option<&PathBuf>,
    ) -> Option<TilesConfig> {
        let before = self.errors.len();
        if model == super::STATIC_DETECTOR {
            self.err(
                format!("{dp}.tiles"),
                "the static-object detector runs on the whole analysis frame; tiles are for \
                 text detectors",
            );
            return None;
        }
        if let Some(kind) = manifest.and_then(|m| manifest_kind(m)) {
            if kind != "text" {
                self.err(
                    format!("{dp}.tiles"),
                    format!(
                        "model {model:?} is not a text detector (its manifest says kind = \
                         {kind:?}); tiles are for text detectors"
                    ),
                );
                return None;
            }
        }
        let (lo, hi) = super::TILE_SCALE_RANGE;
        let scale = raw.scale.unwrap_or(super::DEFAULT_TILE_SCALE);
        if !(lo..=hi).contains(&scale) {
            self.err(
                format!("{dp}.tiles.scale"),
                format!(
                    "{scale} is out of range: {lo} to {hi} (model-input pixels per frame pixel; \
                     2 shows text twice as big)"
                ),
            );
        }
        let rp = format!("{dp}.tiles.region");
        let usage = "use \"no_signage\" (the bounding box of the camera's no_signage zones) or \
                     [x0, y0, x1, y1] (normalised, 0 <= x0 < x1 <= 1, 0 <= y0 < y1 <= 1)";
        let region = match &raw.region {
            None => tiles_over_zones(zones),
            Some(toml::Value::String(name)) if name == "no_signage" => tiles_over_zones(zones),
            Some(toml::Value::String(name)) => {
                self.err(&rp, format!("{name:?} is not a region: {usage}"));
                return None;
            }
            Some(toml::Value::Array(values)) => {
                let numbers: Vec<f64> = values
                    .iter()
                    .filter_map(|v| match v {
                        toml::Value::Float(f) => Some(*f),
                        toml::Value::Integer(i) => Some(*i as f64),
                        _ => None,
                    })
                    .collect();
                let ok = numbers.len() == 4
                    && values.len() == 4
                    && numbers.iter().all(|v| (0.0..=1.0).contains(v))
                    && numbers[0] < numbers[2]
                    && numbers[1] < numbers[3];
                if !ok {
                    let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                    self.err(&rp, format!("[{}] is not a box: {usage}", shown.join(", ")));
                    return None;
                }
                let b = crate::domain::BBox::new(
                    numbers[0] as f32,
                    numbers[1] as f32,
                    numbers[2] as f32,
                    numbers[3] as f32,
                );
                Some((b, Vec::new()))
            }
            Some(other) => {
                self.err(
                    &rp,
                    format!(
                        "expected a string or an array, got {}: {usage}",
                        other.type_str()
                    ),
                );
                return None;
            }
        };
        let Some((region, zones)) = region else {
            self.err(
                &rp,
                "\"no_signage\" needs a no_signage zone on this camera: add one \
                 ([[cameras.zones]] with kind = \"no_signage\") or give [x0, y0, x1, y1]",
            );
            return None;
        };
        (self.errors.len() == before).then_some(TilesConfig {
            scale: scale as f32,
            region,
            zones,
        })
    }

    fn zones(
        &mut self,
        p: &str,
        zones: &[crate::analysis::Zone],
    ) -> Option<Vec<crate::analysis::Zone>> {
        let before = self.errors.len();
        let mut seen = BTreeSet::new();
        for (i, zone) in zones.iter().enumerate() {
            if let Err(e) = zone.validate() {
                self.err(format!("{p}.zones[{i}]"), e.to_string());
            }
            if !seen.insert(zone.id.as_str()) {
                self.err(
                    format!("{p}.zones[{i}].id"),
                    format!("duplicate zone id {:?}", zone.id),
                );
            }
        }
        (self.errors.len() == before).then(|| zones.to_vec())
    }

    fn calibration(
        &mut self,
        p: &str,
        raw: &super::raw::RawCalibration,
    ) -> Option<crate::geo::Calibration> {
        let points: Vec<crate::geo::CalibrationPoint> = raw
            .points
            .iter()
            .map(|q| crate::geo::CalibrationPoint {
                pixel_x: q.pixel[0],
                pixel_y: q.pixel[1],
                lat: q.lat,
                lon: q.lon,
            })
            .collect();
        match crate::geo::Calibration::fit(&points, raw.image_width, raw.image_height) {
            Ok(c) => Some(c),
            Err(e) => {
                self.err(format!("{p}.calibration"), e.to_string());
                None
            }
        }
    }

    /// `Some(None)`: none asked for; `None`: invalid.
    fn camera_credentials(
        &mut self,
        p: &str,
        cam: &RawCamera,
        kind: Option<Kind>,
        store: Result<Option<&CredentialStore>, ()>,
    ) -> Option<Option<Credentials>> {
        let Some(entry) = &cam.credentials else {
            return Some(None);
        };
        let path = format!("{p}.credentials");
        if matches!(kind, Some(Kind::File | Kind::Test)) {
            self.err(
                path,
                "only applies to rtsp, rtsps, http and https sources: remove it",
            );
            return None;
        }
        match store {
            Ok(Some(store)) => match store.get(entry) {
                Some(c) => Some(Some(c.clone())),
                None => {
                    let names: Vec<&str> = store.names().collect();
                    let file = store.path().map_or_else(String::new, |f| format!(" {f:?}"));
                    let names = if names.is_empty() {
                        "it has none".to_owned()
                    } else {
                        format!("entries: {}", names.join(", "))
                    };
                    self.err(
                        path,
                        format!("no entry [{entry}] in the credentials file{file} ({names})"),
                    );
                    None
                }
            },
            Ok(None) => {
                self.err(
                    path,
                    format!(
                        "credentials_file is not set: add credentials_file = \"secrets.toml\" at \
                         the top of the config and a [{entry}] table with user and password to \
                         that file"
                    ),
                );
                None
            }
            // The credentials file could not be read; that error is already reported.
            Err(()) => None,
        }
    }

    fn position(&mut self, p: &str, pos: &RawPosition) -> Option<Position> {
        let before = self.errors.len();
        if !(-90.0..=90.0).contains(&pos.lat) {
            self.err(
                format!("{p}.position.lat"),
                format!("{} is out of range -90..=90 (degrees)", pos.lat),
            );
        }
        if !(-180.0..=180.0).contains(&pos.lon) {
            self.err(
                format!("{p}.position.lon"),
                format!("{} is out of range -180..=180 (degrees)", pos.lon),
            );
        }
        let height_m = pos.height_m.unwrap_or(0.0);
        if !(height_m >= 0.0 && height_m.is_finite()) {
            self.err(
                format!("{p}.position.height_m"),
                format!("{height_m} must be a finite number of metres >= 0"),
            );
        }
        (self.errors.len() == before).then_some(Position {
            lat: pos.lat,
            lon: pos.lon,
            height_m,
        })
    }
}

fn is_camera_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A map key as a path segment: bare when TOML would allow it bare, else quoted.
fn key_segment(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}
