//! Parts 1 and 3: frames sampled from held-out scenes (`SceneSpec::random(seed + k, …,
//! Split::HeldOut)`, frame `j × frames / n` of each, as the training recipe samples its held-out
//! set), each rendered once and given to the object model and, when a poster is visible, to the
//! text detector.
//!
//! - Object model: class-aware VOC AP at IoU 0.5 per class, over detections down to score
//!   0.001; ground-truth objects less than 30 % visible are ignored (missing them costs nothing;
//!   a detection matching one is dropped); precision and recall at the manifest's threshold.
//! - Text detector: every visible (≥ 50 %) `illegal_signage` object of a poster kind
//!   (`wall_poster`, `pole_poster`, `banner`) in a frame is one item; it is found when a text box
//!   has IoU ≥ 0.1 with it or lies at least half inside it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::metrics::{text_found, ClassTally, GtBox, ScoredBox};
use super::report::{Rate, Timing};
use super::{EvalOptions, Loaded};
use crate::inference::model::ImageRef;
use crate::synth::{ObjectClass, Scene, SceneSpec, Split};

/// Ground-truth objects less visible than this are ignored for AP.
pub const MIN_VISIBLE: f32 = 0.3;
/// Posters at least this visible are items of the text figure.
pub const POSTER_MIN_VISIBLE: f32 = 0.5;
/// Shape kinds of `illegal_signage` that carry printed text on a flat sheet.
pub const POSTER_KINDS: [&str; 3] = ["wall_poster", "pole_poster", "banner"];

const CLASSES: [ObjectClass; 3] = [
    ObjectClass::StreetVending,
    ObjectClass::SidewalkStacking,
    ObjectClass::IllegalSignage,
];

/// Part 1.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectsReport {
    pub model: String,
    /// The manifest's score threshold, at which precision and recall are given.
    pub threshold: f32,
    pub scenes: u32,
    pub frames: usize,
    pub min_visible: f32,
    pub classes: Vec<ClassReport>,
    /// Mean of the per-class AP50 over classes with ground truth.
    pub map50: Option<f64>,
    /// Model classes with no ground-truth counterpart (not scored).
    pub unscored_classes: Vec<String>,
    pub ms_per_frame: f64,
}

/// One class of part 1.
#[derive(Debug, Clone, Serialize)]
pub struct ClassReport {
    pub class: String,
    /// Ground-truth objects that count.
    pub objects: usize,
    /// Ground-truth objects ignored (less than `min_visible` visible).
    pub ignored: usize,
    /// Detections down to the AP floor, ignored ones left out.
    pub detections: usize,
    pub ap50: Option<f64>,
    /// At the manifest threshold: true positives / detections.
    pub precision: Rate,
    /// At the manifest threshold: true positives / objects.
    pub recall: Rate,
}

/// Part 3.
#[derive(Debug, Clone, Serialize)]
pub struct TextReport {
    pub model: String,
    /// The input size the manifest feeds (`640x384`).
    pub input: String,
    /// Frames with at least one poster.
    pub frames: usize,
    /// Poster appearances found / all (one per poster per frame).
    pub recall: Rate,
    /// The same by shape kind.
    pub by_kind: BTreeMap<String, Rate>,
    /// The same at the frames' own resolution (`full_resolution_input`), when run.
    pub recall_full_resolution: Option<Rate>,
    pub full_resolution_input: Option<String>,
    /// Distinct posters (scene, object) behind the appearances.
    pub posters: usize,
    pub ms_per_frame: f64,
}

/// What `run` measured.
#[derive(Debug, Default)]
pub struct FramesOutcome {
    pub objects: Option<ObjectsReport>,
    pub text: Option<TextReport>,
    pub timings: Vec<Timing>,
}

/// Renders the sampled frames and runs the models on them.
pub fn run(
    options: &EvalOptions,
    mut objects: Option<&mut Loaded>,
    mut text: Option<&mut Loaded>,
    mut text_full: Option<&mut Loaded>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<FramesOutcome> {
    let mut out = FramesOutcome::default();
    if objects.is_none() && text.is_none() {
        return Ok(out);
    }
    // Model class index → ground-truth class, by name.
    let class_map: Vec<Option<ObjectClass>> = objects
        .as_ref()
        .map(|m| {
            m.model
                .classes()
                .iter()
                .map(|c| CLASSES.iter().copied().find(|g| g.name() == c))
                .collect()
        })
        .unwrap_or_default();
    let mut tallies: BTreeMap<ObjectClass, ClassTally> = BTreeMap::new();
    let (mut render_time, mut object_time, mut text_time, mut text_full_time) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let (mut frames, mut text_frames) = (0usize, 0usize);
    let mut posters_total = 0usize;
    let mut posters_found = 0usize;
    let mut posters_found_full = 0usize;
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut distinct_posters = std::collections::BTreeSet::new();

    for k in 0..options.scenes {
        let seed = options.seed + u64::from(k);
        progress(&format!(
            "eval: held-out frames, scene {}/{} (seed {seed})",
            k + 1,
            options.scenes
        ));
        let t = Instant::now();
        let scene = Scene::new(SceneSpec::random(
            seed,
            options.scene_seconds,
            Split::HeldOut,
        ))?;
        render_time += t.elapsed();
        let (w, h) = (scene.spec().width, scene.spec().height);
        let count = scene.frame_count().max(1);
        let n = u64::from(options.frames_per_scene.max(1));
        let mut rgb = vec![0u8; scene.frame_len()];
        for j in 0..n {
            let index = j * count / n;
            let t = Instant::now();
            scene.render(index, &mut rgb)?;
            let truth = scene.frame_truth(index)?;
            render_time += t.elapsed();
            frames += 1;
            let image = ImageRef {
                rgb: &rgb,
                width: w,
                height: h,
            };

            if let Some(m) = objects.as_deref_mut() {
                let t = Instant::now();
                let (outputs, _) = m.model.run(&[image])?;
                object_time += t.elapsed();
                let detections = outputs.into_iter().next().unwrap_or_default().detections;
                for class in CLASSES {
                    if !class_map.contains(&Some(class)) {
                        continue;
                    }
                    let dets: Vec<ScoredBox> = detections
                        .iter()
                        .filter(|d| class_map.get(d.class_id).copied().flatten() == Some(class))
                        .map(|d| ScoredBox {
                            bbox: d.bbox,
                            score: d.score,
                        })
                        .collect();
                    let gts: Vec<GtBox> = truth
                        .objects
                        .iter()
                        .filter(|o| o.class == class)
                        .map(|o| GtBox {
                            bbox: o.bbox(),
                            ignore: o.visible_fraction < MIN_VISIBLE,
                        })
                        .collect();
                    tallies
                        .entry(class)
                        .or_default()
                        .add_image(&dets, &gts, 0.5);
                }
            }

            if let Some(m) = text.as_deref_mut() {
                let posters: Vec<(&str, crate::domain::BBox, u32)> = truth
                    .objects
                    .iter()
                    .filter(|o| {
                        o.class == ObjectClass::IllegalSignage
                            && o.visible_fraction >= POSTER_MIN_VISIBLE
                    })
                    .filter_map(|o| {
                        let event = scene.events().iter().find(|e| e.track_id == o.track_id)?;
                        let kind = POSTER_KINDS.iter().find(|k| **k == event.kind)?;
                        Some((*kind, o.bbox(), o.track_id))
                    })
                    .collect();
                if posters.is_empty() {
                    continue;
                }
                let t = Instant::now();
                let (outputs, _) = m.model.run(&[image])?;
                text_time += t.elapsed();
                text_frames += 1;
                let boxes = outputs.into_iter().next().unwrap_or_default().detections;
                let full_boxes = match text_full.as_deref_mut() {
                    Some(m) => {
                        let t = Instant::now();
                        let (outputs, _) = m.model.run(&[image])?;
                        text_full_time += t.elapsed();
                        outputs.into_iter().next().unwrap_or_default().detections
                    }
                    None => Vec::new(),
                };
                for (kind, poster, track) in posters {
                    let found = boxes.iter().any(|d| text_found(&d.bbox, &poster));
                    posters_found_full +=
                        usize::from(full_boxes.iter().any(|d| text_found(&d.bbox, &poster)));
                    posters_total += 1;
                    posters_found += usize::from(found);
                    let e = by_kind.entry(kind.to_string()).or_default();
                    e.0 += usize::from(found);
                    e.1 += 1;
                    distinct_posters.insert((seed, track));
                }
            }
        }
    }

    out.timings.push(Timing::new(
        "render held-out frames (parts 1 and 3)",
        render_time,
    ));
    let per_frame = |d: Duration, n: usize| d.as_secs_f64() * 1000.0 / n.max(1) as f64;
    if let Some(m) = objects {
        let classes: Vec<ClassReport> = CLASSES
            .iter()
            .filter_map(|c| tallies.get(c).map(|t| (c, t)))
            .map(|(c, t)| {
                let pr = t.at_threshold(m.threshold);
                ClassReport {
                    class: c.name().to_string(),
                    objects: t.positives,
                    ignored: t.ignored,
                    detections: t.detections(),
                    ap50: t.average_precision(),
                    precision: Rate::new(pr.true_positives, pr.true_positives + pr.false_positives),
                    recall: Rate::new(pr.true_positives, pr.positives),
                }
            })
            .collect();
        let aps: Vec<f64> = classes.iter().filter_map(|c| c.ap50).collect();
        out.objects = Some(ObjectsReport {
            model: m.name.clone(),
            threshold: m.threshold,
            scenes: options.scenes,
            frames,
            min_visible: MIN_VISIBLE,
            map50: (!aps.is_empty()).then(|| aps.iter().sum::<f64>() / aps.len() as f64),
            classes,
            unscored_classes: m
                .model
                .classes()
                .iter()
                .zip(&class_map)
                .filter(|(_, g)| g.is_none())
                .map(|(c, _)| c.clone())
                .collect(),
            ms_per_frame: per_frame(object_time, frames),
        });
        out.timings
            .push(Timing::new("object model (part 1)", object_time));
    }
    if let Some(m) = text {
        let input = &m.model.manifest().input;
        out.text = Some(TextReport {
            model: m.name.clone(),
            input: format!("{}x{}", input.width, input.height),
            frames: text_frames,
            recall: Rate::new(posters_found, posters_total),
            recall_full_resolution: text_full
                .as_ref()
                .map(|_| Rate::new(posters_found_full, posters_total)),
            full_resolution_input: text_full.as_ref().map(|m| {
                let i = &m.model.manifest().input;
                format!("{}x{}", i.width, i.height)
            }),
            by_kind: by_kind
                .into_iter()
                .map(|(k, (f, n))| (k, Rate::new(f, n)))
                .collect(),
            posters: distinct_posters.len(),
            ms_per_frame: per_frame(text_time, text_frames),
        });
        out.timings
            .push(Timing::new("text detector (part 3)", text_time));
        if text_full.is_some() {
            out.timings.push(Timing::new(
                "text detector at full resolution (part 3)",
                text_full_time,
            ));
        }
    }
    Ok(out)
}
