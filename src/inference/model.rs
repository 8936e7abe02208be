//! One opened model: an ONNX Runtime session checked against its manifest, and the
//! preprocess → run → decode path for a batch of frames, each step timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use super::decode::db::{db_boxes, db_map_size, DbParams};
use super::decode::letterbox::Letterbox;
use super::decode::nms::nms;
use super::decode::yolo;
use super::manifest::{
    ColorOrderSpec, Manifest, ModelKind, OutputFormat, ResizeSpec, ShapeDisplay,
};
use super::preprocess::{letterbox_into_nchw, ColorOrder, Normalize};
use super::tiles::{self, Tile, TileDetection, TiledFrame};
use super::{environment, Device, InferenceError};
use crate::domain::{BBox, Detection};

/// Most tiles of one frame run as one batch (the input tensor of 16 tiles of 640 × 384 is 47 MB).
pub const MAX_TILE_BATCH: usize = 16;

/// Detections for one image of a batch, in pixels of the image as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOutput {
    pub detections: Vec<Detection>,
}

/// Time spent in each step of one `Model::run`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunTimings {
    pub preprocess: Duration,
    pub run: Duration,
    pub decode: Duration,
    pub batch: usize,
}

/// An image handed to `Model::run`: packed RGB rows (stride 3 × width).
#[derive(Debug, Clone, Copy)]
pub struct ImageRef<'a> {
    pub rgb: &'a [u8],
    pub width: u32,
    pub height: u32,
}

/// A model ready to run: its manifest, its class names and an ONNX Runtime session.
pub struct Model {
    manifest: Arc<Manifest>,
    classes: Vec<String>,
    session: Session,
    input: Vec<f32>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.manifest.name)
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Opens the manifest's ONNX file after checking its hash, then checks the graph's input and
    /// output names and shapes against the manifest.
    pub fn open(
        manifest: Arc<Manifest>,
        device: Device,
        threads: usize,
    ) -> Result<Model, InferenceError> {
        let path = manifest.check_file()?;
        let name = manifest.name.clone();
        let ort_err = |action: &'static str| {
            let model = name.clone();
            move |e: ort::Error| InferenceError::Ort {
                model,
                action,
                message: e.to_string(),
            }
        };
        let env = environment()?;
        let mut builder = Session::builder(env)
            .map_err(ort_err("creating a session"))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| ort_err("setting the optimisation level")(e.into()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| ort_err("setting threads")(e.into()))?;
        builder = match device {
            Device::Cpu => builder,
            #[cfg(feature = "cuda")]
            Device::Cuda => builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| ort_err("enabling CUDA")(e.into()))?,
            #[cfg(feature = "tensorrt")]
            Device::TensorRt => builder
                .with_execution_providers([ort::ep::TensorRT::default().build().error_on_failure()])
                .map_err(|e| ort_err("enabling TensorRT")(e.into()))?,
            #[allow(unreachable_patterns)]
            other => return Err(InferenceError::DeviceUnavailable(other)),
        };
        let session = builder
            .commit_from_file(&path)
            .map_err(ort_err("loading the model file"))?;
        let classes = check_contract(&manifest, &session)?;
        Ok(Model {
            manifest,
            classes,
            session,
            input: Vec::new(),
        })
    }

    pub fn manifest(&self) -> &Arc<Manifest> {
        &self.manifest
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// Class names in class-id order (from the manifest, or from the ONNX metadata).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Largest batch the graph accepts: 1 for a fixed batch dimension.
    pub fn max_batch(&self, wanted: usize) -> usize {
        if self.manifest.dynamic_batch() {
            wanted.max(1)
        } else {
            1
        }
    }

    /// Runs the model on images (one batch when the model takes a dynamic batch, else one run per
    /// image) and returns detections in pixels of each image.
    pub fn run(
        &mut self,
        images: &[ImageRef<'_>],
    ) -> Result<(Vec<ModelOutput>, RunTimings), InferenceError> {
        let (w, h) = (self.manifest.input.width, self.manifest.input.height);
        let resize = self.manifest.input.resize;
        let boxes: Vec<Letterbox> = images
            .iter()
            .map(|image| match resize {
                ResizeSpec::Letterbox => Letterbox::fit(image.width, image.height, w, h),
                ResizeSpec::Stretch => Letterbox::stretch(image.width, image.height, w, h),
            })
            .collect();
        self.run_placed(images, &boxes)
    }

    /// Runs the model on tiles of `image` (laid out by [`tiles::layout`]: parts of the image,
    /// each scaled into the model's input): as one batch when the model takes a dynamic batch
    /// (at most [`MAX_TILE_BATCH`] at a time), else one by one. Returns the detections in pixels
    /// of `image`, duplicates across tile overlaps merged, and the timings (`batch` = the number
    /// of tiles; cropping counts as pre-processing).
    ///
    /// For text detectors: merging joins overlapping boxes as pieces of one text, and stacked
    /// lines into one block ([`tiles::group_lines`]): boxes are signs, not lines. Tiles must lie
    /// inside the image.
    pub fn run_tiled(
        &mut self,
        image: ImageRef<'_>,
        tiles: &[Tile],
    ) -> Result<(ModelOutput, RunTimings), InferenceError> {
        let started = Instant::now();
        let crops: Vec<Vec<u8>> = tiles
            .iter()
            .map(|t| t.rect.crop_rgb(image.rgb, image.width))
            .collect();
        let cropping = started.elapsed();
        let images: Vec<ImageRef<'_>> = tiles
            .iter()
            .zip(&crops)
            .map(|(t, rgb)| ImageRef {
                rgb,
                width: t.rect.width,
                height: t.rect.height,
            })
            .collect();
        let boxes: Vec<Letterbox> = tiles.iter().map(|t| t.letterbox).collect();
        let mut found = Vec::new();
        let mut timings = RunTimings::default();
        let chunk = self.max_batch(MAX_TILE_BATCH);
        for (first, batch) in (0..images.len())
            .step_by(chunk)
            .map(|i| (i, &images[i..(i + chunk).min(images.len())]))
        {
            let (outputs, t) = self.run_placed(batch, &boxes[first..first + batch.len()])?;
            timings.preprocess += t.preprocess;
            timings.run += t.run;
            timings.decode += t.decode;
            for (k, output) in outputs.into_iter().enumerate() {
                let tile = &tiles[first + k];
                found.extend(output.detections.into_iter().map(|d| TileDetection {
                    detection: Detection {
                        // `run_placed` mapped the box to the tile's pixels.
                        bbox: tile.rect.to_image(&d.bbox),
                        ..d
                    },
                    tile: first + k,
                }));
            }
        }
        let started = Instant::now();
        let mut detections = tiles::group_lines(tiles::merge_text_boxes(found));
        detections.truncate(self.manifest.thresholds.max_detections);
        timings.decode += started.elapsed();
        timings.preprocess += cropping;
        timings.batch = tiles.len();
        Ok((ModelOutput { detections }, timings))
    }

    /// A text detector's tiled run on one frame: the whole frame at the model input, as
    /// [`Model::run`] gives it, plus tiles of the region at full resolution scaled by `scale`
    /// ([`TiledFrame::layout`], [`Model::run_tiled`]). Where tiles are, their boxes replace the
    /// whole frame's (a whole-frame box counts as there when its centre is); elsewhere the frame
    /// is seen as without tiling. Boxes are in pixels of `frame.whole`; `timings.batch` counts the inputs
    /// run (tiles + 1).
    pub fn run_with_tiles(
        &mut self,
        frame: &TiledFrame<'_>,
        scale: f32,
    ) -> Result<(ModelOutput, RunTimings), InferenceError> {
        let (w, h) = (self.manifest.input.width, self.manifest.input.height);
        let tiles = frame.layout(scale, w, h);
        let (outputs, whole_t) = self.run(&[frame.whole])?;
        let (tiled, tiles_t) = self.run_tiled(frame.detail, &tiles)?;
        let covered: Vec<BBox> = tiles
            .iter()
            .map(|t| frame.to_whole(&t.rect.bbox()))
            .collect();
        let mut detections: Vec<Detection> = outputs
            .into_iter()
            .next()
            .unwrap_or_default()
            .detections
            .into_iter()
            .filter(|d| {
                let (cx, cy) = ((d.bbox.x1 + d.bbox.x2) / 2.0, (d.bbox.y1 + d.bbox.y2) / 2.0);
                !covered
                    .iter()
                    .any(|r| cx >= r.x1 && cx < r.x2 && cy >= r.y1 && cy < r.y2)
            })
            .collect();
        detections.extend(tiled.detections.iter().map(|d| Detection {
            bbox: frame.to_whole(&d.bbox),
            ..d.clone()
        }));
        detections.sort_by(|a, b| b.score.total_cmp(&a.score));
        detections.truncate(self.manifest.thresholds.max_detections);
        let timings = RunTimings {
            preprocess: whole_t.preprocess + tiles_t.preprocess,
            run: whole_t.run + tiles_t.run,
            decode: whole_t.decode + tiles_t.decode,
            batch: whole_t.batch + tiles_t.batch,
        };
        Ok((ModelOutput { detections }, timings))
    }

    /// Runs `images`, each drawn into the input by its letterbox, in batches the model takes.
    fn run_placed(
        &mut self,
        images: &[ImageRef<'_>],
        boxes: &[Letterbox],
    ) -> Result<(Vec<ModelOutput>, RunTimings), InferenceError> {
        let mut outputs = Vec::with_capacity(images.len());
        let mut timings = RunTimings::default();
        let chunk = self.max_batch(images.len()).max(1);
        for (batch, boxes) in images.chunks(chunk).zip(boxes.chunks(chunk)) {
            let (out, t) = self.run_batch(batch, boxes)?;
            outputs.extend(out);
            timings.preprocess += t.preprocess;
            timings.run += t.run;
            timings.decode += t.decode;
        }
        timings.batch = images.len();
        Ok((outputs, timings))
    }

    fn run_batch(
        &mut self,
        images: &[ImageRef<'_>],
        boxes: &[Letterbox],
    ) -> Result<(Vec<ModelOutput>, RunTimings), InferenceError> {
        let m = Arc::clone(&self.manifest);
        let (w, h) = (m.input.width, m.input.height);
        let plane = 3 * w as usize * h as usize;
        let started = Instant::now();
        self.input.resize(plane * images.len(), 0.0);
        let order = match m.input.color {
            ColorOrderSpec::Rgb => ColorOrder::Rgb,
            ColorOrderSpec::Bgr => ColorOrder::Bgr,
        };
        let norm = Normalize {
            scale: m.input.scale,
            mean: m.input.mean,
            std: m.input.std,
        };
        for ((image, lb), slot) in images
            .iter()
            .zip(boxes)
            .zip(self.input.chunks_exact_mut(plane))
        {
            letterbox_into_nchw(
                image.rgb,
                image.width,
                image.height,
                lb,
                order,
                &norm,
                m.input.pad,
                slot,
            );
        }
        let preprocess = started.elapsed();

        let started = Instant::now();
        let shape = [images.len() as i64, 3, i64::from(h), i64::from(w)];
        let tensor = TensorRef::from_array_view((shape, &self.input[..])).map_err(|e| {
            InferenceError::Ort {
                model: m.name.clone(),
                action: "creating the input tensor",
                message: e.to_string(),
            }
        })?;
        let ort_err = |action: &'static str| {
            let model = m.name.clone();
            move |e: ort::Error| InferenceError::Ort {
                model,
                action,
                message: e.to_string(),
            }
        };
        let outputs = self
            .session
            .run(ort::inputs![m.input.name.as_str() => tensor])
            .map_err(ort_err("running"))?;
        let run = started.elapsed();

        let started = Instant::now();
        let value =
            outputs
                .get(m.output.name.as_str())
                .ok_or_else(|| InferenceError::Contract {
                    model: m.name.clone(),
                    message: format!("the run returned no output named {:?}", m.output.name),
                })?;
        let (out_shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(ort_err("reading the output tensor"))?;
        let dims: Vec<usize> = out_shape.iter().map(|d| (*d).max(0) as usize).collect();
        let mut per_image = decode_output(&m, self.classes.len(), &dims, data)?;
        if !m.thresholds.per_class.is_empty() {
            let floors: Vec<f32> = self
                .classes
                .iter()
                .map(|c| m.thresholds.per_class.get(c).copied().unwrap_or(0.0))
                .collect();
            for dets in &mut per_image {
                dets.retain(|d| d.score >= floors.get(d.class_id).copied().unwrap_or(0.0));
            }
        }
        let results = per_image
            .into_iter()
            .zip(boxes)
            .map(|(dets, lb)| {
                let mut detections: Vec<Detection> = dets
                    .into_iter()
                    .map(|d| Detection {
                        bbox: lb.to_source(&d.bbox),
                        ..d
                    })
                    .filter(|d| d.bbox.area() > 0.0)
                    .collect();
                if !matches!(m.output.format, OutputFormat::EndToEnd | OutputFormat::Db) {
                    detections = nms(detections, m.thresholds.iou, m.thresholds.max_detections);
                }
                detections.truncate(m.thresholds.max_detections);
                ModelOutput { detections }
            })
            .collect();
        let decode = started.elapsed();
        Ok((
            results,
            RunTimings {
                preprocess,
                run,
                decode,
                batch: images.len(),
            },
        ))
    }
}

/// Decodes one output tensor into per-image detections in model-input pixels.
fn decode_output(
    m: &Manifest,
    num_classes: usize,
    dims: &[usize],
    data: &[f32],
) -> Result<Vec<Vec<Detection>>, InferenceError> {
    let t = &m.thresholds;
    let decoded = match m.output.format {
        OutputFormat::Yolov8 => yolo::yolov8(data, dims, num_classes, t.score),
        OutputFormat::Yolov5 => yolo::yolov5(data, dims, num_classes, t.score),
        OutputFormat::Yolox => yolo::yolox_decoded(data, dims, num_classes, t.score),
        OutputFormat::YoloxRaw => yolo::yolox_raw(
            data,
            dims,
            num_classes,
            m.input.width,
            m.input.height,
            m.output.strides.as_deref().unwrap_or(&[8, 16, 32]),
            t.score,
        ),
        OutputFormat::EndToEnd => yolo::end_to_end(data, dims, num_classes, t.score),
        OutputFormat::Db => {
            let map = db_map_size(data, dims).map_err(|source| InferenceError::Decode {
                model: m.name.clone(),
                source,
            })?;
            let (map_h, map_w) = (map.height, map.width);
            let params = DbParams {
                threshold: t.binarize,
                box_threshold: t.score,
                unclip_ratio: t.unclip_ratio,
                min_size: t.min_size,
                max_candidates: t.max_detections,
            };
            return Ok(data
                .chunks_exact(map_h * map_w)
                .map(|map| {
                    db_boxes(map, map_w, map_h, &params)
                        .into_iter()
                        .map(|b| Detection {
                            bbox: b.bbox,
                            score: b.score,
                            class_id: 0,
                        })
                        .collect()
                })
                .collect());
        }
    };
    decoded.map_err(|source| InferenceError::Decode {
        model: m.name.clone(),
        source,
    })
}

/// Checks the graph against the manifest and returns the class names.
fn check_contract(m: &Manifest, session: &Session) -> Result<Vec<String>, InferenceError> {
    let fail = |message: String| InferenceError::Contract {
        model: m.name.clone(),
        message,
    };
    let file = m.file.display();
    let list = |outlets: &[ort::value::Outlet]| {
        outlets
            .iter()
            .map(|o| format!("{:?}", o.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let input = session
        .inputs()
        .iter()
        .find(|o| o.name() == m.input.name)
        .ok_or_else(|| {
            fail(format!(
                "the manifest names input {:?} but {file} has inputs {}",
                m.input.name,
                list(session.inputs())
            ))
        })?;
    let output = session
        .outputs()
        .iter()
        .find(|o| o.name() == m.output.name)
        .ok_or_else(|| {
            fail(format!(
                "the manifest names output {:?} but {file} has outputs {}",
                m.output.name,
                list(session.outputs())
            ))
        })?;
    for (role, outlet, declared) in [
        ("input", input, &m.input.shape),
        ("output", output, &m.output.shape),
    ] {
        let shape = outlet
            .dtype()
            .tensor_shape()
            .ok_or_else(|| fail(format!("{role} {:?} is not a tensor", outlet.name())))?;
        let actual: &[i64] = shape;
        let same = actual.len() == declared.len()
            && actual
                .iter()
                .zip(declared.iter())
                .all(|(a, d)| (*a < 0 && *d < 0) || a == d);
        if !same {
            return Err(fail(format!(
                "{role} {:?} has shape {} in {file} but the manifest says {}",
                outlet.name(),
                ShapeDisplay(actual),
                ShapeDisplay(declared)
            )));
        }
        if outlet.dtype().tensor_type() != Some(ort::value::TensorElementType::Float32) {
            return Err(fail(format!(
                "{role} {:?} is {:?} in {file}; gridsight feeds and reads float32",
                outlet.name(),
                outlet.dtype().tensor_type()
            )));
        }
    }

    let classes = match &m.classes {
        Some(classes) => classes.clone(),
        None => {
            let metadata = session.metadata().map_err(|e| InferenceError::Ort {
                model: m.name.clone(),
                action: "reading metadata",
                message: e.to_string(),
            })?;
            metadata
                .custom("names")
                .and_then(|s| yolo::parse_ultralytics_names(&s))
                .ok_or_else(|| {
                    fail(format!(
                        "the manifest has no `classes` and {file} has no readable `names` metadata"
                    ))
                })?
        }
    };
    if m.kind == ModelKind::Text && classes.len() != 1 {
        return Err(fail("a text model has exactly one class".to_string()));
    }
    // Where the class count shows in a fixed output dimension, it must agree.
    let out = &m.output.shape;
    let expected = match m.output.format {
        OutputFormat::Yolov8 => out.get(1).map(|d| (1, *d, 4 + classes.len() as i64)),
        OutputFormat::Yolov5 | OutputFormat::Yolox | OutputFormat::YoloxRaw => {
            out.get(2).map(|d| (2, *d, 5 + classes.len() as i64))
        }
        OutputFormat::EndToEnd => out.get(2).map(|d| (2, *d, 6)),
        OutputFormat::Db => out.get(1).map(|d| (1, *d, 1)),
    };
    if let Some((axis, actual, wanted)) = expected {
        if actual >= 0 && actual != wanted {
            return Err(fail(format!(
                "output {:?} dimension {axis} is {actual}; format {:?} with {} classes needs {wanted}",
                m.output.name,
                m.output.format,
                classes.len()
            )));
        }
    }
    Ok(classes)
}
