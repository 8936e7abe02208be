//! Serde structs mirroring the pipeline TOML file one to one.
//!
//! Nothing here is checked beyond TOML types; defaults are applied by
//! [`validate`](super::validate), so every optional field is an `Option` (which also lets the
//! validator tell "not set" from "set to the default"). The field docs are the reference for
//! the file format.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, ConfigErrors, Device, RtspTransport};

/// The whole pipeline file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Directory for evidence and the database. Relative paths are relative to the config
    /// file's directory. Default `"data"`. Need not exist yet.
    pub data_dir: Option<PathBuf>,
    /// Bind address (`IP:port`) of the HTTP API and UI. Default `"127.0.0.1:8080"`.
    pub http_bind: Option<String>,
    /// Path of the ONNX Runtime shared library (`libonnxruntime.so`). Optional. A bare file name
    /// is left to the dynamic loader's search path; other relative paths are relative to the
    /// config file's directory, and must exist.
    pub onnxruntime: Option<PathBuf>,
    /// Credentials file (TOML, one `[entry]` table per camera login), relative to the config
    /// file's directory. Optional; required when any camera sets `credentials`.
    pub credentials_file: Option<PathBuf>,
    /// Inference settings. The whole table is optional.
    #[serde(default)]
    pub inference: RawInference,
    /// Detector models cameras may refer to (`[[models]]`). Default none.
    #[serde(default)]
    pub models: Vec<RawModel>,
    /// Cameras to watch (`[[cameras]]`). Default none.
    #[serde(default)]
    pub cameras: Vec<RawCamera>,
    /// The city's time zone (IANA name), in which schedules and allowed-vending windows are
    /// read. Default `"Asia/Shanghai"`.
    pub timezone: Option<String>,
    /// Case store: `sqlite:PATH` / a plain path (relative to the config file's directory), or a
    /// `postgres://` URL. Default: `gridsight.db` in `data_dir`.
    pub store: Option<String>,
    /// Category → city event-code table (TOML), relative to the config file's directory.
    /// Default: the CJ/T 214 table shipped in `categories/cjt214.toml`.
    pub categories: Option<PathBuf>,
    /// Unit-grid layer (GeoJSON FeatureCollection), relative to the config file's directory.
    /// Optional; without it cases carry no grid code.
    pub grid: Option<PathBuf>,
    /// Map tiles for the console, as a URL template with `{z}`, `{x}` and `{y}` (the city's own
    /// tile server, Web Mercator). Optional; without it the map draws grids, cameras and cases
    /// on a plain background and needs no network.
    pub tile_url: Option<String>,
}

/// The `[inference]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInference {
    /// Inference worker threads. Integer, 1..=64, default 1.
    pub workers: Option<i64>,
    /// Intra-op threads per ONNX Runtime session. Integer, 1..=64, default 1.
    pub threads_per_worker: Option<i64>,
    /// Most frames batched into one run when the model takes a dynamic batch.
    /// Integer, 1..=64, default 4.
    pub max_batch: Option<i64>,
    /// Longest a frame waits for a batch to fill, in milliseconds. Integer, 0..=10000,
    /// default 10.
    pub max_wait_ms: Option<i64>,
    /// Execution provider: `"cpu"`, `"cuda"` or `"tensorrt"`. Default `"cpu"`.
    pub device: Option<Device>,
}

/// A `[[models]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// How cameras refer to the model: `[a-z0-9_-]+`, unique. Required.
    pub name: String,
    /// Path of the model's manifest (`model.toml`), relative to the config file's directory.
    /// Must exist. Required.
    pub manifest: PathBuf,
}

/// A `[[cameras]]` entry.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCamera {
    /// Unique id: 1 to 64 of `A-Z a-z 0-9 _ -`. Required.
    pub id: String,
    /// Display name, non-empty. Default: the id.
    pub name: Option<String>,
    /// Where frames come from. Required. Schemes: `file:///abs/path` or a plain path (relative to
    /// the config file's directory; must exist), `rtsp://`, `rtsps://`, `http://` and `https://`
    /// (MJPEG), `test:PATTERN[?fps=N&width=W&height=H]` (GStreamer test pattern such as `smpte` or
    /// `ball`; defaults 10 fps, 640×480). Must not contain a user or password: use `credentials`.
    pub uri: String,
    /// Name of an entry in `credentials_file` holding the user and password. Optional; only for
    /// rtsp, rtsps, http and https sources.
    pub credentials: Option<String>,
    /// Whether to run the camera. Default `true`.
    pub enabled: Option<bool>,
    /// RTSP only: `"tcp"` or `"udp"`. Default `"tcp"`. An error on any other source.
    pub transport: Option<RtspTransport>,
    /// Seconds without a frame after which the camera counts as stalled and is restarted.
    /// Greater than 0, default 10.
    pub stall_timeout_s: Option<f64>,
    /// File sources only: play at the clip's own pace instead of as fast as analysis allows.
    /// Default `false`. `true` is an error on any other source.
    pub realtime: Option<bool>,
    /// Direction the camera looks, degrees clockwise from north, 0 ≤ heading < 360. Optional.
    pub heading_deg: Option<f64>,
    /// Where the camera is. Optional.
    pub position: Option<RawPosition>,
    /// Detectors to run: model name → settings (`[cameras.detectors.NAME]`). An enabled camera
    /// needs at least one. Default none.
    #[serde(default)]
    pub detectors: BTreeMap<String, RawDetector>,
    /// Zones in normalised image coordinates (`[[cameras.zones]]`): `id`, `kind` (`"no_vending"`,
    /// `"no_signage"`, `"facade"`, `"mask"`, or `{ allowed_vending = { windows = [{ start = "18:00", end =
    /// "23:00", weekdays = ["Fri", "Sat"] }] } }`) and `polygon` (≥ 3 `[x, y]` points, 0..1).
    #[serde(default)]
    pub zones: Vec<crate::analysis::Zone>,
    /// Rule overrides (`[cameras.rules.defaults.street_vending] min_dwell = 600` and
    /// `[cameras.rules.zone_overrides.ZONE.CATEGORY]`); durations in seconds. Default: the
    /// built-in rules (vending 5 min, stacking 10 min, signage 2 min, occupation 10 min).
    pub rules: Option<crate::analysis::RuleSet>,
    /// Approved signage captured at set-up: `[x1, y1, x2, y2]` boxes, normalised.
    #[serde(default)]
    pub signage_baseline: Vec<[f32; 4]>,
    /// A picture of the approved scene, written by the same capture (PNG; relative paths are
    /// resolved against the config file's folder). Sign detections on patches that still look
    /// as they did then are part of the approved scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signage_picture: Option<String>,
    /// Pixel ↔ map calibration. Optional; without it cases carry no position.
    pub calibration: Option<RawCalibration>,
}

/// A camera's `[cameras.calibration]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCalibration {
    /// Width of the image the points were clicked on, pixels (the camera's full resolution).
    pub image_width: u32,
    /// Height of that image, pixels.
    pub image_height: u32,
    /// At least 4 ground points: `{ pixel = [x, y], lat = …, lon = … }` (6 or more recommended:
    /// 4 always fit exactly, so they cannot reveal a bad click).
    pub points: Vec<RawCalibrationPoint>,
}

/// One calibration point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCalibrationPoint {
    /// `[x, y]` in pixels of the calibration image.
    pub pixel: [f64; 2],
    /// WGS84 latitude, degrees.
    pub lat: f64,
    /// WGS84 longitude, degrees.
    pub lon: f64,
}

/// A camera's `position`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPosition {
    /// Latitude in degrees (WGS84), -90..=90. Required.
    pub lat: f64,
    /// Longitude in degrees (WGS84), -180..=180. Required.
    pub lon: f64,
    /// Mounting height above ground in metres, ≥ 0. Default 0.
    pub height_m: Option<f64>,
}

/// A camera's `[cameras.detectors.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetector {
    /// Run this detector once per this many seconds. Greater than 0, default 2.
    pub interval_s: Option<f64>,
    /// Text detectors only: also run on upscaled tiles of a region of the full-resolution frame,
    /// so that small text (a poster on a wall, a sheet on a lamp post) gets enough pixels:
    /// `tiles = { scale = 2.0, region = "no_signage" }`. Optional; without it the detector sees
    /// the whole frame at its input size only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiles: Option<RawTiles>,
}

/// A text detector's `tiles` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTiles {
    /// Model-input pixels per full-resolution pixel: 2.0 shows text twice as big as in the frame.
    /// 1 to 4, default 2. The cost grows with its square (tiles per frame).
    pub scale: Option<f64>,
    /// What to tile: `"no_signage"` (the bounding box of the camera's `no_signage` zones; only
    /// tiles that meet a zone run) or `[x0, y0, x1, y1]` (normalised, 0..1). Default
    /// `"no_signage"`.
    pub region: Option<toml::Value>,
}

impl RawConfig {
    /// Parses the TOML text. A syntax, type or unknown-field error comes back as one error whose
    /// path is the TOML key path (with array indices for `[[models]]` and `[[cameras]]`) and
    /// whose message ends with the line and column.
    pub fn from_toml(text: &str) -> Result<Self, ConfigErrors> {
        toml::from_str(text)
            .map_err(|e| ConfigErrors::from(toml_error(&e, text, &["models", "cameras"])))
    }
}

/// Turns a toml error into a [`ConfigError`] without echoing the input text.
///
/// `array_tables` names the top-level arrays of tables; a path starting with one of them gets
/// the index of the `[[name]]` header the error falls under.
pub(crate) fn toml_error(e: &toml::de::Error, text: &str, array_tables: &[&str]) -> ConfigError {
    let mut keys = toml_keys(e);
    let span_start = e.span().map(|s| s.start);
    if let (Some(first), Some(start)) = (keys.first_mut(), span_start) {
        if array_tables.contains(&first.as_str()) {
            let n = count_array_headers(text, first, start);
            if n > 0 {
                first.push_str(&format!("[{}]", n - 1));
            }
        }
    }
    let mut message = e.message().trim().replace('\n', "; ");
    if let Some(start) = span_start {
        let (line, column) = line_column(text, start);
        message.push_str(&format!(" (line {line}, column {column})"));
    }
    ConfigError::new(keys.join("."), message)
}

/// The key path the toml crate recorded for an error.
///
/// toml 0.9 keeps it private but prints it as a last line "in `a.b.c`" when the error has no
/// input text attached, so that is where it is read from.
fn toml_keys(e: &toml::de::Error) -> Vec<String> {
    let mut bare = e.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    shown
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("in `"))
        .and_then(|l| l.strip_suffix('`'))
        .map(|keys| keys.split('.').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// How many `[[name]]` header lines start at or before byte `offset`.
fn count_array_headers(text: &str, name: &str, offset: usize) -> usize {
    let mut count = 0;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if line_start > offset {
            break;
        }
        let t = line.trim();
        if let Some(inner) = t.strip_prefix("[[") {
            let inner = inner.split("]]").next().unwrap_or("").trim();
            if inner == name {
                count += 1;
            }
        }
        line_start += line.len();
    }
    count
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}
