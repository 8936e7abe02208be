//! Inference: ONNX models on frames. The only module that imports `ort`.
//!
//! - `manifest`: what a model is (`models/<name>/model.toml`), checked against the real graph.
//! - `model`: one opened model — preprocess → run → decode, each timed.
//! - `pool`: worker threads, each owning its sessions, batching frames across cameras.
//! - `decode`, `preprocess`: pure functions from tensors to detections and from frames to tensors.
//! - `tiles`: pure tile layout, box mapping and merging for detection on upscaled tiles.
//!
//! It never imports `ingest`, `analysis` or any other stage; `runtime` connects them.

pub mod decode;
pub mod manifest;
pub mod model;
pub mod pool;
pub mod preprocess;
pub mod tiles;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use manifest::{Manifest, ManifestError, ModelKind, OutputFormat};
pub use model::{Model, ModelOutput, RunTimings};
pub use pool::{InferencePool, PoolConfig, Request, Response};
pub use tiles::{PixelRect, TiledFrame, Tiling};

/// Execution provider for sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
    TensorRt,
}

/// Errors of the inference stage; each names the model, tensor or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error(
        "ONNX Runtime library not found (looked at: {}). Run scripts/setup.sh, or name the library with --onnxruntime, the GRIDSIGHT_ONNXRUNTIME variable or `onnxruntime` in the pipeline config",
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    LibraryNotFound { tried: Vec<PathBuf> },
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    Library { path: PathBuf, message: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("model {model}: {message}")]
    Contract { model: String, message: String },
    #[error("model {model}: ONNX Runtime failed while {action}: {message}")]
    Ort {
        model: String,
        action: &'static str,
        message: String,
    },
    #[error("model {model}: {source}")]
    Decode {
        model: String,
        #[source]
        source: decode::DecodeError,
    },
    #[error("execution provider {0:?} is not compiled in; rebuild with `--features cuda` or `--features tensorrt`")]
    DeviceUnavailable(Device),
}

/// The environment variable that names the ONNX Runtime library.
pub const ORT_ENV: &str = "GRIDSIGHT_ONNXRUNTIME";

/// Where `scripts/setup.sh` puts the ONNX Runtime library.
pub fn setup_location() -> Option<PathBuf> {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data_home.join("gridsight/onnxruntime/libonnxruntime.so"))
}

/// Finds the ONNX Runtime library: the flag, then `GRIDSIGHT_ONNXRUNTIME` (or `ORT_DYLIB_PATH`),
/// then the pipeline config, then the set-up location. The first one given must exist.
pub fn locate_onnxruntime(
    flag: Option<&Path>,
    config: Option<&Path>,
) -> Result<PathBuf, InferenceError> {
    let env = std::env::var_os(ORT_ENV)
        .or_else(|| std::env::var_os("ORT_DYLIB_PATH"))
        .map(PathBuf::from);
    let mut tried = Vec::new();
    let named = [
        flag.map(Path::to_path_buf),
        env,
        config.map(Path::to_path_buf),
    ]
    .into_iter()
    .flatten()
    .next();
    if let Some(candidate) = named {
        // A bare file name is left to the dynamic loader's search path.
        if candidate.is_file() || candidate.components().count() == 1 {
            return Ok(candidate);
        }
        // A path someone named explicitly is not silently replaced by another.
        tried.push(candidate);
        return Err(InferenceError::LibraryNotFound { tried });
    }
    if let Some(default) = setup_location() {
        if default.is_file() {
            return Ok(default);
        }
        tried.push(default);
    }
    Err(InferenceError::LibraryNotFound { tried })
}

static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();

/// Loads ONNX Runtime from `library` once per process; later calls reuse the first.
pub fn init_onnxruntime(library: &Path) -> Result<(), InferenceError> {
    if ENVIRONMENT.get().is_some() {
        return Ok(());
    }
    let failed = |message: String| InferenceError::Library {
        path: library.to_path_buf(),
        message,
    };
    let builder = ort::init_from(library).map_err(|e| failed(e.to_string()))?;
    let env = builder
        .with_name("gridsight")
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let _ = ENVIRONMENT.set(env);
    Ok(())
}

/// Locates and loads ONNX Runtime (see `locate_onnxruntime`), returning the path used.
pub fn ensure_onnxruntime(
    flag: Option<&Path>,
    config: Option<&Path>,
) -> Result<PathBuf, InferenceError> {
    let path = locate_onnxruntime(flag, config)?;
    init_onnxruntime(&path)?;
    Ok(path)
}

fn environment() -> Result<&'static ort::environment::Environment, InferenceError> {
    match ENVIRONMENT.get() {
        Some(env) => Ok(env),
        None => {
            // Fall back to the default search so library users need no explicit call.
            ensure_onnxruntime(None, None)?;
            ENVIRONMENT
                .get()
                .ok_or(InferenceError::LibraryNotFound { tried: Vec::new() })
        }
    }
}
