//! Pipeline config: the TOML file that says which cameras to watch and which detectors to run.
//!
//! Reading a config has two stages:
//!
//! 1. [`raw`]: serde structs that mirror the file one to one (`deny_unknown_fields`
//!    everywhere). A syntax, type or unknown-field error stops here, as one [`ConfigError`].
//! 2. [`validate`]: checks everything else, collects *every* mistake with its path
//!    (`cameras[2].uri: unsupported scheme "rtmp" …`) and, when there are none, gives a
//!    [`Config`]: plain data with defaults applied, paths resolved against the config file's
//!    directory, URIs turned into [`Source`]s and credentials attached to their cameras.
//!
//! [`load`] does both for a file on disk; [`parse`] does both for a string (tests, `--check`).
//!
//! Credentials never live in the pipeline file: a camera names an entry of a separate
//! credentials file (see [`CredentialStore`]); passwords are [`Secret`]s, which print as `***`.

mod credentials;
pub mod raw;
mod source;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::CameraId;

pub use credentials::{CredentialStore, Credentials, Secret};
pub use raw::RawConfig;
pub use validate::{validate, validate_camera};

/// Default `data_dir`, relative to the config file's directory.
pub const DEFAULT_DATA_DIR: &str = "data";
/// Default `http_bind`.
pub const DEFAULT_HTTP_BIND: &str = "127.0.0.1:8080";
/// Default `inference.workers`.
pub const DEFAULT_WORKERS: i64 = 1;
/// Default `inference.threads_per_worker`.
pub const DEFAULT_THREADS_PER_WORKER: i64 = 1;
/// Default `inference.max_batch`.
pub const DEFAULT_MAX_BATCH: i64 = 4;
/// Default `inference.max_wait_ms`.
pub const DEFAULT_MAX_WAIT_MS: i64 = 10;
/// Default `cameras[].stall_timeout_s`, in seconds.
pub const DEFAULT_STALL_TIMEOUT_S: f64 = 10.0;
/// The detector name that runs the model-free static-object detector
/// (`[cameras.detectors.static]`); no `[[models]]` entry is needed for it.
pub const STATIC_DETECTOR: &str = "static";
/// Default `timezone`.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
/// Default store file name inside `data_dir`.
pub const DEFAULT_STORE_FILE: &str = "gridsight.db";
/// Default `cameras[].detectors.<model>.interval_s`, in seconds.
pub const DEFAULT_INTERVAL_S: f64 = 2.0;
/// Default frame rate of a `test:` source, in frames per second.
pub const DEFAULT_TEST_FPS: u32 = 10;
/// Default width of a `test:` source, in pixels.
pub const DEFAULT_TEST_WIDTH: u32 = 640;
/// Default height of a `test:` source, in pixels.
pub const DEFAULT_TEST_HEIGHT: u32 = 480;

/// A validated pipeline config.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file this came from (made absolute).
    pub path: PathBuf,
    /// Where evidence and the database go (resolved; not checked for existence).
    pub data_dir: PathBuf,
    /// HTTP API/UI bind address.
    pub http_bind: SocketAddr,
    /// ONNX Runtime shared library, when given. A bare file name (no `/`) is kept as written for
    /// the dynamic loader to search; any other relative path is resolved against the config dir.
    pub onnxruntime: Option<PathBuf>,
    /// Inference worker settings.
    pub inference: InferenceConfig,
    /// Models cameras may refer to, in file order.
    pub models: Vec<ModelRef>,
    /// Cameras in file order (disabled ones included).
    pub cameras: Vec<CameraConfig>,
    /// The city's time zone.
    pub timezone: chrono_tz::Tz,
    /// Case store URL (`sqlite:/abs/path.db` or `postgres://…`).
    pub store: String,
    /// Category → event-code table file, when not the built-in default.
    pub categories: Option<PathBuf>,
    /// Unit-grid layer file (GeoJSON), checked when the config was validated.
    pub grid: Option<PathBuf>,
    /// Map tile URL template for the console (`{z}`, `{x}`, `{y}`).
    pub tile_url: Option<String>,
}

impl Config {
    /// A config built in code (benchmarks, tests): defaults for everything not given.
    pub fn new(
        path: PathBuf,
        data_dir: PathBuf,
        models: Vec<ModelRef>,
        cameras: Vec<CameraConfig>,
    ) -> Config {
        let store = format!("sqlite:{}", data_dir.join(DEFAULT_STORE_FILE).display());
        Config {
            path,
            data_dir,
            http_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            onnxruntime: None,
            inference: InferenceConfig::default(),
            models,
            cameras,
            timezone: chrono_tz::Tz::Asia__Shanghai,
            store,
            categories: None,
            grid: None,
            tile_url: None,
        }
    }

    /// The camera with this id.
    pub fn camera(&self, id: &str) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| c.id.as_str() == id)
    }

    /// The model with this name.
    pub fn model(&self, name: &str) -> Option<&ModelRef> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// Validated `[inference]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceConfig {
    /// Inference worker threads (1..=64).
    pub workers: usize,
    /// Intra-op threads per ONNX Runtime session (1..=64).
    pub threads_per_worker: usize,
    /// Most frames batched into one run when a model takes a dynamic batch (1..=64).
    pub max_batch: usize,
    /// Longest a frame waits for a batch to fill.
    pub max_wait: Duration,
    /// Execution provider.
    pub device: Device,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            workers: DEFAULT_WORKERS as usize,
            threads_per_worker: DEFAULT_THREADS_PER_WORKER as usize,
            max_batch: DEFAULT_MAX_BATCH as usize,
            max_wait: Duration::from_millis(DEFAULT_MAX_WAIT_MS as u64),
            device: Device::Cpu,
        }
    }
}

/// Where inference runs (`inference.device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// ONNX Runtime's CPU provider.
    #[default]
    Cpu,
    /// CUDA execution provider.
    Cuda,
    /// TensorRT execution provider.
    #[serde(rename = "tensorrt")]
    TensorRt,
}

/// RTSP lower transport (`cameras[].transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    /// Interleaved over the RTSP TCP connection (works through NAT and firewalls).
    #[default]
    Tcp,
    /// RTP over UDP.
    Udp,
}

/// A `[[models]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    /// How cameras refer to the model.
    pub name: String,
    /// The model's manifest (resolved; exists when validated).
    pub manifest: PathBuf,
}

/// A validated `[[cameras]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// Unique id, `[A-Za-z0-9_-]{1,64}`.
    pub id: CameraId,
    /// Display name (the id when not given).
    pub name: String,
    /// Where frames come from.
    pub source: Source,
    /// User and password from the credentials file, when the camera names an entry.
    /// `Debug` never shows the password.
    pub credentials: Option<Credentials>,
    /// Whether the camera is run.
    pub enabled: bool,
    /// No frame for this long: the camera is stalled and restarted.
    pub stall_timeout: Duration,
    /// File sources only: play at the clip's own pace (always `false` for other sources).
    pub realtime: bool,
    /// Direction the camera looks, degrees clockwise from north, in `[0, 360)`.
    pub heading_deg: Option<f64>,
    /// Where the camera is.
    pub position: Option<Position>,
    /// Detectors to run, sorted by model name. Never empty for an enabled camera.
    pub detectors: Vec<DetectorConfig>,
    /// Zones, validated (≥ 3 points, inside the image, not self-intersecting).
    pub zones: Vec<crate::analysis::Zone>,
    /// Rules (built-in defaults plus the camera's overrides).
    pub rules: crate::analysis::RuleSet,
    /// Approved signage regions, normalised.
    pub signage_baseline: crate::analysis::Baseline,
    /// Pixel ↔ map calibration, fitted and checked.
    pub calibration: Option<crate::geo::Calibration>,
}

impl CameraConfig {
    /// A camera built in code (benchmarks, tests): enabled, defaults for everything not given.
    pub fn new(id: &str, source: Source, detectors: Vec<DetectorConfig>) -> CameraConfig {
        CameraConfig {
            id: CameraId::new(id),
            name: id.to_string(),
            source,
            credentials: None,
            enabled: true,
            stall_timeout: Duration::from_secs_f64(DEFAULT_STALL_TIMEOUT_S),
            realtime: false,
            heading_deg: None,
            position: None,
            detectors,
            zones: Vec::new(),
            rules: crate::analysis::RuleSet::default(),
            signage_baseline: crate::analysis::Baseline::default(),
            calibration: None,
        }
    }

    /// The shortest detector interval: how often this camera needs a frame analysed.
    /// A camera without detectors (only possible when disabled) gives the default interval
    /// ([`DEFAULT_INTERVAL_S`]).
    pub fn min_interval(&self) -> Duration {
        self.detectors
            .iter()
            .map(|d| d.interval)
            .min()
            .unwrap_or(Duration::from_secs_f64(DEFAULT_INTERVAL_S))
    }
}

/// Where a camera is: WGS84 degrees and metres above ground.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Latitude, degrees, -90..=90.
    pub lat: f64,
    /// Longitude, degrees, -180..=180.
    pub lon: f64,
    /// Mounting height above ground, metres, ≥ 0 (0 when not given).
    pub height_m: f64,
}

/// One detector on one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Name of a `[[models]]` entry.
    pub model: String,
    /// Run the detector once per this interval.
    pub interval: Duration,
    /// Text detectors: also run on upscaled tiles of a region of the full-resolution frame.
    pub tiles: Option<TilesConfig>,
}

impl DetectorConfig {
    /// A detector without tiles.
    pub fn new(model: &str, interval: Duration) -> DetectorConfig {
        DetectorConfig {
            model: model.to_string(),
            interval,
            tiles: None,
        }
    }
}

/// A text detector's tiling (`[cameras.detectors.MODEL] tiles = { … }`), validated.
#[derive(Debug, Clone, PartialEq)]
pub struct TilesConfig {
    /// Model-input pixels per full-resolution pixel, 1..=4.
    pub scale: f32,
    /// The region tiled, normalised (`x1 < x2`, `y1 < y2`, all in 0..=1).
    pub region: crate::domain::BBox,
    /// The `no_signage` zones the region was taken from (normalised polygons): only tiles that
    /// meet one run. Empty for an explicit rectangle.
    pub zones: Vec<Vec<[f32; 2]>>,
}

/// Default `tiles.scale`.
pub const DEFAULT_TILE_SCALE: f64 = 2.0;
/// Smallest and largest `tiles.scale`.
pub const TILE_SCALE_RANGE: (f64, f64) = (1.0, 4.0);

/// A camera's source, from its `uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A video file (`file:///abs/path` or a plain path; resolved, exists when validated).
    File(PathBuf),
    /// An RTSP or RTSPS stream. `url` is the URI as written (it has no user info).
    Rtsp {
        /// `rtsp://` or `rtsps://` URL.
        url: String,
        /// Lower transport.
        transport: RtspTransport,
    },
    /// An HTTP(S) MJPEG stream. `url` is the URI as written (it has no user info).
    Http {
        /// `http://` or `https://` URL.
        url: String,
    },
    /// A generated test pattern (`test:smpte?fps=5&width=1280&height=720`).
    TestPattern {
        /// GStreamer `videotestsrc` pattern name, e.g. `smpte` or `ball`.
        pattern: String,
        /// Frames per second (1..=120).
        fps: u32,
        /// Width in pixels (16..=7680).
        width: u32,
        /// Height in pixels (16..=4320).
        height: u32,
    },
}

/// One mistake in a config: where (`cameras[2].uri`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Key path of the offending value, e.g. `cameras[0].detectors.text.interval_s`;
    /// empty when the mistake is not tied to a key (unreadable file, TOML syntax error).
    pub path: String,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl ConfigError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every mistake found in a config, in the order found. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors.
    pub fn as_slice(&self) -> &[ConfigError] {
        &self.0
    }

    /// How many errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors' paths, in order (handy in tests).
    pub fn paths(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.path.as_str()).collect()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        Self(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Reads a camera's baseline picture (`signage_picture`): a PNG or JPEG, turned grey.
pub fn read_scene_picture(path: &Path) -> anyhow::Result<crate::analysis::ScenePicture> {
    let image = image::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read the picture {}: {e}", path.display()))?
        .into_luma8();
    let (w, h) = image.dimensions();
    crate::analysis::ScenePicture::new(w, h, image.into_raw())
        .map_err(|e| anyhow::anyhow!("picture {}: {e}", path.display()))
}

/// Writes a baseline picture as a grey PNG, creating its folder.
pub fn write_scene_picture(
    path: &Path,
    picture: &crate::analysis::ScenePicture,
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    image::GrayImage::from_raw(picture.width(), picture.height(), picture.grey().to_vec())
        .ok_or_else(|| anyhow::anyhow!("picture pixels do not match its size"))?
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| anyhow::anyhow!("cannot write the picture {}: {e}", path.display()))
}

/// Where `gridsight baseline` and the console keep a camera's baseline picture by default:
/// `DATA_DIR/baselines/ID.png` (characters other than letters, digits, `-` and `_` in the id
/// become `_`).
pub fn baseline_picture_path(data_dir: &Path, camera: &str) -> PathBuf {
    let name: String = camera
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    data_dir.join("baselines").join(format!("{name}.png"))
}

fn read_config_text(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::from(ConfigError::new(
            "",
            format!("cannot read config file {}: {e}", path.display()),
        ))
    })
}

/// Reads, parses and validates the pipeline config at `path`, and the credentials file it names.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    parse(&read_config_text(path)?, path, None)
}

/// As [`load`], without reading camera `camera`'s `signage_picture`: `gridsight baseline` is
/// about to write a new one, and the old file may not exist yet.
pub fn load_for_baseline(path: &Path, camera: &str) -> Result<Config, ConfigErrors> {
    let mut raw = RawConfig::from_toml(&read_config_text(path)?)?;
    for cam in raw.cameras.iter_mut().filter(|c| c.id == camera) {
        cam.signage_picture = None;
    }
    validate(raw, path, None)
}

/// Parses and validates `text` as if it had been read from `config_path`: relative paths are
/// resolved against `config_path`'s directory, and referenced files (manifests, file sources)
/// must exist.
///
/// `credentials`: when given it is used as the credentials file and `credentials_file` is not
/// read; when `None`, the file named by `credentials_file` (if any) is read from disk.
pub fn parse(
    text: &str,
    config_path: &Path,
    credentials: Option<&CredentialStore>,
) -> Result<Config, ConfigErrors> {
    let raw = RawConfig::from_toml(text)?;
    validate(raw, config_path, credentials)
}
