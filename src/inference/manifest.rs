//! Model manifests: `models/<name>/model.toml` describes an ONNX file — its hash, input and output
//! tensors, pre-processing, output format, class names, thresholds, case categories, provenance.
//!
//! Parsing and the static checks live here; the check against the real graph happens when a
//! session is opened (`inference::model`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What a manifest can be wrong about. Every message names the file or tensor at fault.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read model manifest {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model manifest {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("model manifest {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("model file {path} is missing (run scripts/setup.sh to fetch the bundled models)")]
    MissingFile { path: PathBuf },
    #[error("model file {path}: sha256 is {actual} but the manifest says {expected}")]
    HashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

/// What the model finds: objects with classes, or text regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Objects,
    Text,
}

/// Layout of the single output tensor, which picks the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// YOLOv8 / YOLO11: `[batch, 4 + classes, boxes]`, no objectness.
    Yolov8,
    /// YOLOv5: `[batch, boxes, 5 + classes]` with objectness.
    Yolov5,
    /// YOLOX exported with the decode inside the graph: same layout as YOLOv5.
    Yolox,
    /// YOLOX raw head outputs: `[batch, anchors, 5 + classes]`, boxes relative to the stride grid.
    YoloxRaw,
    /// NMS inside the graph: `[batch, K, 6]` rows of x1, y1, x2, y2, score, class.
    EndToEnd,
    /// PP-OCR DB text detector: `[batch, 1, H, W]` text probability map.
    Db,
}

/// Colour order the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorOrderSpec {
    Rgb,
    Bgr,
}

/// How a frame is fitted into the input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeSpec {
    /// Keep the aspect ratio, pad the rest (centred).
    Letterbox,
    /// Stretch to the input size.
    Stretch,
}

/// The model manifest, as written in `model.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short name of the model (`street-v1`, `ppocr-det`).
    pub name: String,
    /// Objects or text.
    pub kind: ModelKind,
    /// The ONNX file, relative to the manifest's folder.
    pub file: PathBuf,
    /// Lower-case hex sha256 of the ONNX file.
    pub sha256: String,
    /// Class names, in class-id order. When absent, read from the ONNX metadata key `names`
    /// (as ultralytics exports write it).
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    pub input: InputSpec,
    pub output: OutputSpec,
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Class name → case category (`street_vending`, `sidewalk_stacking`, `illegal_signage`).
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
    #[serde(default)]
    pub provenance: BTreeMap<String, String>,
    /// Measured quality, free-form (figures and the command that measured them).
    #[serde(default)]
    pub quality: BTreeMap<String, toml::Value>,
    /// The folder the manifest was read from; file paths are relative to it.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The input tensor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Tensor name in the graph.
    pub name: String,
    /// Shape as the graph declares it, NCHW; -1 for a dynamic dimension.
    pub shape: Vec<i64>,
    /// Width fed to the model, pixels.
    pub width: u32,
    /// Height fed to the model, pixels.
    pub height: u32,
    /// Channel order of the input.
    pub color: ColorOrderSpec,
    /// Each 8-bit value is multiplied by this first (1/255 for 0..1 inputs).
    pub scale: f32,
    /// Subtracted per channel (in the model's colour order) after scaling.
    #[serde(default)]
    pub mean: [f32; 3],
    /// Divides per channel after the mean is subtracted.
    #[serde(default = "unit_std")]
    pub std: [f32; 3],
    pub resize: ResizeSpec,
    /// Padding value for letterboxing, 0..255.
    #[serde(default = "default_pad")]
    pub pad: u8,
}

fn unit_std() -> [f32; 3] {
    [1.0; 3]
}

fn default_pad() -> u8 {
    114
}

/// The output tensor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Tensor name in the graph.
    pub name: String,
    /// Shape as the graph declares it; -1 for a dynamic dimension.
    pub shape: Vec<i64>,
    pub format: OutputFormat,
    /// Strides of the detection heads, for `yolox_raw`.
    #[serde(default)]
    pub strides: Option<Vec<u32>>,
}

/// Default thresholds of the model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Detections below this score are dropped (for `db`: a region's mean probability).
    #[serde(default = "default_score")]
    pub score: f32,
    /// IoU above which NMS suppresses a box of the same class.
    #[serde(default = "default_iou")]
    pub iou: f32,
    /// Most detections kept per image.
    #[serde(default = "default_max_detections")]
    pub max_detections: usize,
    /// `db` only: probability above which a pixel is text.
    #[serde(default = "default_binarize")]
    pub binarize: f32,
    /// `db` only: how far a region is grown, relative to area / perimeter.
    #[serde(default = "default_unclip")]
    pub unclip_ratio: f32,
    /// `db` only: shortest side kept, pixels of the probability map.
    #[serde(default = "default_min_size")]
    pub min_size: f32,
    /// Class name → a higher score threshold for that class (`[thresholds.per_class]`).
    #[serde(default)]
    pub per_class: BTreeMap<String, f32>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            score: default_score(),
            iou: default_iou(),
            max_detections: default_max_detections(),
            binarize: default_binarize(),
            unclip_ratio: default_unclip(),
            min_size: default_min_size(),
            per_class: BTreeMap::new(),
        }
    }
}

fn default_score() -> f32 {
    0.25
}
fn default_iou() -> f32 {
    0.45
}
fn default_max_detections() -> usize {
    300
}
fn default_binarize() -> f32 {
    0.3
}
fn default_unclip() -> f32 {
    1.5
}
fn default_min_size() -> f32 {
    3.0
}

/// A shape printed as `[-1, 3, 640, 640]`.
#[derive(Debug)]
pub struct ShapeDisplay<'a>(pub &'a [i64]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl Manifest {
    /// Reads and checks a manifest (not yet against the graph: see `Manifest::check_file`).
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut manifest: Manifest = toml::from_str(&text).map_err(|e| ManifestError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        manifest.dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        manifest.validate(path)?;
        Ok(manifest)
    }

    fn validate(&self, path: &Path) -> Result<(), ManifestError> {
        let invalid = |message: String| ManifestError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if self.input.shape.len() != 4 || self.input.shape[1] != 3 {
            return Err(invalid(format!(
                "input.shape {} is not [batch, 3, height, width]",
                ShapeDisplay(&self.input.shape)
            )));
        }
        for (axis, fed, declared) in [
            ("height", self.input.height, self.input.shape[2]),
            ("width", self.input.width, self.input.shape[3]),
        ] {
            if fed == 0 || (declared >= 0 && declared != i64::from(fed)) {
                return Err(invalid(format!(
                    "input.{axis} = {fed} but input.shape fixes it at {declared}"
                )));
            }
        }
        if self.input.std.contains(&0.0) {
            return Err(invalid("input.std has a zero".to_string()));
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(format!(
                "sha256 {:?} is not 64 hex digits",
                self.sha256
            )));
        }
        if self.output.format == OutputFormat::YoloxRaw && self.output.strides.is_none() {
            return Err(invalid(
                "output.strides is required for format yolox_raw (e.g. [8, 16, 32])".to_string(),
            ));
        }
        if self.output.format == OutputFormat::Db && self.kind != ModelKind::Text {
            return Err(invalid(
                "output.format db needs kind = \"text\"".to_string(),
            ));
        }
        if let Some(classes) = &self.classes {
            if classes.is_empty() {
                return Err(invalid("classes is empty".to_string()));
            }
            for class in self.thresholds.per_class.keys() {
                if !classes.contains(class) {
                    return Err(invalid(format!(
                        "thresholds.per_class.{class}: no class named {class:?} (classes: {})",
                        classes.join(", ")
                    )));
                }
            }
            for class in self.categories.keys() {
                if !classes.contains(class) {
                    return Err(invalid(format!(
                        "categories.{class}: no class named {class:?} (classes: {})",
                        classes.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// Path of the ONNX file.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }

    /// Checks that the ONNX file exists and has the manifest's sha256.
    pub fn check_file(&self) -> Result<PathBuf, ManifestError> {
        let path = self.model_path();
        let bytes = std::fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ManifestError::MissingFile { path: path.clone() }
            } else {
                ManifestError::Read {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let actual = hex(&Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(&self.sha256) {
            return Err(ManifestError::HashMismatch {
                path,
                expected: self.sha256.clone(),
                actual,
            });
        }
        Ok(path)
    }

    /// Whether the model takes any batch size.
    pub fn dynamic_batch(&self) -> bool {
        self.input.shape[0] < 0
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_text_manifest_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ppocr-det/model.toml");
        let m = Manifest::load(&path).expect("bundled manifest is valid");
        assert_eq!(m.kind, ModelKind::Text);
        assert_eq!(m.output.format, OutputFormat::Db);
        assert!(m.dynamic_batch());
        assert_eq!(m.input.height % 32, 0);
    }

    #[test]
    fn unknown_field_is_named() {
        let dir = std::env::temp_dir().join(format!("gs-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("model.toml");
        std::fs::write(
            &path,
            "name='m'\nkind='objects'\nfile='m.onnx'\nsha256='00'\ncolour='x'\n",
        )
        .expect("write");
        let err = Manifest::load(&path).expect_err("unknown field");
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
