//! `gridsight eval`: how good the detectors and the case pipeline are, measured on held-out
//! generated street scenes (exact ground truth from `synth`, object variants never used in
//! training) and on the real facade photos.
//!
//! Five parts, each reported with the number of items behind every figure:
//! 1. [`frames`]: the object model's AP50 and precision/recall per class on sampled held-out
//!    frames; on the same frames, 3. the text detector's recall of posters and banners;
//! 2. [`stationary`]: the static-object detector at 1 fps over whole held-out scenes — recall
//!    of lasting violations and false static regions per camera-hour;
//! 4. [`facade`]: recall of the labelled signs of the facade photos' val split by the object
//!    model, the text detector (on the whole photo and on tiles) and both;
//! 5. [`cases`]: the whole pipeline (`runtime`) on rendered held-out scenes with scripted
//!    violations — case recall, precision, duplicates, categories, geo error, grid codes and
//!    time to candidate.
//!
//! The arithmetic lives in [`metrics`] (pure, unit-tested). Like `bench`, this module drives the
//! stages (synth, inference, analysis, runtime) directly and reports with `anyhow`.

pub mod cases;
pub mod facade;
pub mod frames;
pub mod metrics;
pub mod report;
pub mod stationary;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::inference::{Device, Manifest, Model};
use crate::synth::SceneSpec;

pub use report::{Part, Rate, Report, Timing};

/// The object model `gridsight eval` uses when none is named.
pub const DEFAULT_OBJECTS: &str = "models/street-v1/model.toml";
/// The text detector `gridsight eval` uses when none is named.
pub const DEFAULT_TEXT: &str = "models/ppocr-det/model.toml";
/// The facade photos, relative to the repository root.
pub const DEFAULT_FACADE: &str = "../shared/data/facade-signs";

/// Which parts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub objects: bool,
    pub static_objects: bool,
    pub text: bool,
    pub facade: bool,
    pub cases: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        objects: true,
        static_objects: true,
        text: true,
        facade: true,
        cases: true,
    };

    /// From a comma-separated list of `objects`, `static`, `text`, `facade`, `cases`.
    pub fn parse(list: &str) -> Result<Parts, String> {
        let mut p = Parts {
            objects: false,
            static_objects: false,
            text: false,
            facade: false,
            cases: false,
        };
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "objects" => p.objects = true,
                "static" => p.static_objects = true,
                "text" => p.text = true,
                "facade" => p.facade = true,
                "cases" => p.cases = true,
                other => {
                    return Err(format!(
                        "unknown part {other:?} (parts: objects, static, text, facade, cases)"
                    ))
                }
            }
        }
        Ok(p)
    }
}

/// What to measure and on how much.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Object model manifest; `None` skips the object figures.
    pub objects: Option<PathBuf>,
    /// Why there is no object model (shown in the report).
    pub objects_missing: Option<String>,
    /// Text detector manifest; `None` skips the text figures.
    pub text: Option<PathBuf>,
    pub text_missing: Option<String>,
    /// The facade-signs folder (`data.yaml`, `images/val`, `labels/val`).
    pub facade: PathBuf,
    /// First seed; every scene's seed derives from it.
    pub seed: u64,
    /// Part 1 and 3: held-out scenes and frames sampled from each.
    pub scenes: u32,
    pub frames_per_scene: u32,
    pub scene_seconds: f64,
    /// Part 2: scenes and their length.
    pub static_scenes: u32,
    pub static_seconds: f64,
    /// Part 5: scenes and their length.
    pub cases_scenes: u32,
    pub cases_seconds: f64,
    /// Where rendered videos, grids and case stores go.
    pub work_dir: PathBuf,
    pub parts: Parts,
    /// ONNX Runtime intra-op threads per model.
    pub threads: usize,
    /// Part 3: tiling factors at which the text detector also runs on tiles of the scene's
    /// wall and lamp-post band (see `frames::poster_band`).
    pub tile_scales: Vec<f32>,
    /// ONNX Runtime library named on the command line.
    pub onnxruntime: Option<PathBuf>,
}

impl EvalOptions {
    /// The default run: 20 × 10 held-out frames, 12 static scenes of 5 min (one camera-hour),
    /// 6 case scenes of 2.5 min, from seed 900000 (the training recipe's held-out seeds).
    pub fn new(work_dir: PathBuf) -> Self {
        Self {
            objects: None,
            objects_missing: None,
            text: None,
            text_missing: None,
            facade: PathBuf::from(DEFAULT_FACADE),
            seed: 900_000,
            scenes: 20,
            frames_per_scene: 10,
            scene_seconds: 60.0,
            static_scenes: 12,
            static_seconds: 300.0,
            cases_scenes: 6,
            cases_seconds: 150.0,
            work_dir,
            parts: Parts::ALL,
            threads: 2,
            tile_scales: vec![2.0, 3.0],
            onnxruntime: None,
        }
    }

    /// Picks a model: the one named (which must exist), else the default path when installed,
    /// else none with the reason.
    pub fn choose_model(
        named: Option<PathBuf>,
        default: &Path,
    ) -> anyhow::Result<(Option<PathBuf>, Option<String>)> {
        match named {
            Some(path) => {
                let manifest = if path.is_dir() {
                    path.join("model.toml")
                } else {
                    path
                };
                anyhow::ensure!(manifest.is_file(), "no manifest at {}", manifest.display());
                Ok((Some(manifest), None))
            }
            None => {
                let installed = Manifest::load(default)
                    .ok()
                    .is_some_and(|m| m.check_file().is_ok());
                if installed {
                    Ok((Some(default.to_path_buf()), None))
                } else {
                    Ok((
                        None,
                        Some(format!(
                            "no model given and {} is not installed",
                            default.display()
                        )),
                    ))
                }
            }
        }
    }
}

/// A model opened for evaluation, with its manifest threshold.
pub struct Loaded {
    pub model: Model,
    pub name: String,
    /// The manifest's score threshold.
    pub threshold: f32,
    /// The manifest's higher thresholds for some classes (`[thresholds.per_class]`).
    pub per_class: std::collections::BTreeMap<String, f32>,
}

impl Loaded {
    /// The score at which the pipeline would keep a detection of `class`.
    pub fn threshold_for(&self, class: &str) -> f32 {
        self.per_class
            .get(class)
            .copied()
            .unwrap_or(self.threshold)
            .max(self.threshold)
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded").field("name", &self.name).finish()
    }
}

/// Opens a manifest's model; with `score_floor`, decoding keeps detections down to that score
/// (for AP) while `threshold` keeps the manifest's.
pub fn open_model(path: &Path, score_floor: Option<f32>, threads: usize) -> anyhow::Result<Loaded> {
    let mut manifest =
        Manifest::load(path).with_context(|| format!("loading {}", path.display()))?;
    let threshold = manifest.thresholds.score;
    let per_class = manifest.thresholds.per_class.clone();
    if let Some(floor) = score_floor {
        // AP needs every detection down to the floor, per-class thresholds included; precision
        // and recall are then taken at each class's own threshold (`Loaded::threshold_for`).
        manifest.thresholds.score = floor.min(threshold);
        manifest.thresholds.per_class.clear();
    }
    let name = manifest.name.clone();
    let model = Model::open(Arc::new(manifest), Device::Cpu, threads)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(Loaded {
        model,
        name,
        threshold,
        per_class,
    })
}

/// Opens a manifest's model fed at `width` × `height` instead of the manifest's input size
/// (for graphs with dynamic height and width).
pub fn open_model_sized(
    path: &Path,
    width: u32,
    height: u32,
    threads: usize,
) -> anyhow::Result<Loaded> {
    let mut manifest =
        Manifest::load(path).with_context(|| format!("loading {}", path.display()))?;
    manifest.input.width = width;
    manifest.input.height = height;
    let threshold = manifest.thresholds.score;
    let per_class = manifest.thresholds.per_class.clone();
    let name = format!("{} at {width}x{height}", manifest.name);
    let model = Model::open(Arc::new(manifest), Device::Cpu, threads)
        .with_context(|| format!("opening {} at {width}x{height}", path.display()))?;
    Ok(Loaded {
        model,
        name,
        threshold,
        per_class,
    })
}

/// A scene spec resized to `width` × `height` (the same view, a smaller image).
pub(crate) fn resized(mut spec: SceneSpec, width: u32, height: u32) -> SceneSpec {
    let s = f64::from(width) / f64::from(spec.width);
    spec.pose.focal_px *= s;
    spec.pose.width = width;
    spec.pose.height = height;
    spec.width = width;
    spec.height = height;
    spec
}

/// splitmix64: a small deterministic generator for the scripted events.
#[derive(Debug, Clone)]
pub(crate) struct Mix(u64);

impl Mix {
    pub fn new(seed: u64) -> Self {
        Mix(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs the chosen parts and returns the report; `progress` gets a line now and then.
pub fn run(options: &EvalOptions, progress: &mut dyn FnMut(&str)) -> anyhow::Result<Report> {
    let started = Instant::now();
    let p = options.parts;
    let needs_models = p.objects || p.text || p.facade || p.cases;
    if needs_models && (options.objects.is_some() || options.text.is_some()) {
        crate::inference::ensure_onnxruntime(options.onnxruntime.as_deref(), None)?;
    }
    let mut report = Report::new(options);
    let no_objects = || {
        options
            .objects_missing
            .clone()
            .unwrap_or_else(|| "no object model".to_string())
    };
    let no_text = || {
        options
            .text_missing
            .clone()
            .unwrap_or_else(|| "no text detector".to_string())
    };

    if p.objects || p.text {
        let t = Instant::now();
        let mut objects = match (&options.objects, p.objects) {
            (Some(path), true) => Some(open_model(path, Some(0.001), options.threads)?),
            _ => None,
        };
        let mut text = match (&options.text, p.text) {
            (Some(path), true) => Some(open_model(path, None, options.threads)?),
            _ => None,
        };
        // The text detector also at the frames' own resolution (1280 × 720 → 1280 × 736, a
        // multiple of 32): posters are small, and this tells resolution from recognition.
        let mut text_full = match (&options.text, p.text) {
            (Some(path), true) => Some(open_model_sized(path, 1280, 736, options.threads)?),
            _ => None,
        };
        let out = frames::run(
            options,
            objects.as_mut(),
            text.as_mut(),
            text_full.as_mut(),
            progress,
        )?;
        report.objects = match (p.objects, out.objects) {
            (false, _) => Part::skipped("not asked for"),
            (true, Some(r)) => Part::Done(r),
            (true, None) => Part::skipped(&no_objects()),
        };
        report.text_posters = match (p.text, out.text) {
            (false, _) => Part::skipped("not asked for"),
            (true, Some(r)) => Part::Done(r),
            (true, None) => Part::skipped(&no_text()),
        };
        report.timings.extend(out.timings);
        report.timings.push(Timing::new(
            "held-out frames (parts 1 and 3, total)",
            t.elapsed(),
        ));
    }
    if p.static_objects {
        let t = Instant::now();
        report.static_objects = Part::Done(stationary::run(options, progress)?);
        report
            .timings
            .push(Timing::new("static-object detector (part 2)", t.elapsed()));
    }
    if p.facade {
        let t = Instant::now();
        report.facade = if options.objects.is_none() && options.text.is_none() {
            Part::skipped("neither an object model nor a text detector")
        } else {
            let mut objects = match &options.objects {
                Some(path) => Some(open_model(path, None, options.threads)?),
                None => None,
            };
            let mut text = match &options.text {
                Some(path) => Some(open_model(path, None, options.threads)?),
                None => None,
            };
            match facade::run(&options.facade, objects.as_mut(), text.as_mut(), progress) {
                Ok(r) => Part::Done(r),
                Err(e) => Part::skipped(&format!("{e:#}")),
            }
        };
        report
            .timings
            .push(Timing::new("facade photos (part 4)", t.elapsed()));
    }
    if p.cases {
        let t = Instant::now();
        report.cases = Part::Done(cases::run(options, progress)?);
        report
            .timings
            .push(Timing::new("case pipeline (part 5)", t.elapsed()));
    }
    report.total_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_parse_and_reject_unknown_names() {
        let p = Parts::parse("objects, cases").expect("valid");
        assert!(p.objects && p.cases && !p.static_objects && !p.text && !p.facade);
        assert!(
            Parts::parse("static,text,facade")
                .expect("valid")
                .static_objects
        );
        assert!(Parts::parse("object").is_err());
    }

    #[test]
    fn resizing_keeps_the_view() {
        let spec = SceneSpec::random(1, 60.0, crate::synth::Split::HeldOut);
        let small = resized(spec.clone(), 640, 360);
        assert_eq!((small.pose.width, small.pose.height), (640, 360));
        assert!((small.pose.focal_px * 2.0 - spec.pose.focal_px).abs() < 1e-9);
        assert_eq!(small.pose.heading_deg, spec.pose.heading_deg);
    }

    #[test]
    fn mix_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Mix::new(7), Mix::new(7));
        for _ in 0..100 {
            let x = a.range(20.0, 150.0);
            assert_eq!(x, b.range(20.0, 150.0));
            assert!((20.0..150.0).contains(&x));
        }
    }
}
