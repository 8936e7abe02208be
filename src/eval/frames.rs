//! Parts 1 and 3: frames sampled from held-out scenes (`SceneSpec::random(seed + k, …,
//! Split::HeldOut)`, frame `j × frames / n` of each, as the training recipe samples its held-out
//! set), each rendered once and given to the object model and, when a poster is visible, to the
//! text detector.
//!
//! - Object model: class-aware VOC AP at IoU 0.5 per class, over detections down to score
//!   0.001; ground-truth objects less than 30 % visible are ignored (missing them costs nothing;
//!   a detection matching one is dropped); precision and recall at the manifest's threshold.
//!   At that threshold, each class's recall is also given by object kind (`wall_poster`,
//!   `sacks`, …), and its false detections by what they lie on: the ground-truth object they
//!   overlap most (IoU, or their own share inside it, at least 0.3; a kind of the same class
//!   means a box placed badly or twice), else `nothing`.
//! - Text detector: every visible (≥ 50 %) `illegal_signage` object of a poster kind
//!   (`wall_poster`, `pole_poster`, `banner`) in a frame is one item; it is found when a text box
//!   has IoU ≥ 0.1 with it or lies at least half inside it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::metrics::{match_both_ways, text_found, ClassTally, GtBox, Outcome, ScoredBox};
use super::report::{Rate, Timing};
use super::{EvalOptions, Loaded};
use crate::inference::model::ImageRef;
use crate::inference::TiledFrame;
use crate::synth::{ObjectClass, ObjectTruth, Scene, SceneSpec, Split};

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
    /// The class's threshold in the manifest (`[thresholds.per_class]`, else `score`).
    pub threshold: f32,
    /// At the class's threshold: true positives / detections.
    pub precision: Rate,
    /// At the class's threshold: true positives / objects.
    pub recall: Rate,
    /// The same recall by object kind (the generator's shape kinds).
    pub recall_by_kind: BTreeMap<String, Rate>,
    /// At the class's threshold: false detections by what they lie on (an object's kind or
    /// class, or `nothing`).
    pub false_detections_on: BTreeMap<String, usize>,
}

/// Overlap at which a false detection is said to lie on an object.
const LIES_ON: f32 = 0.3;

/// What a ground-truth object is, in the report: its event's shape kind for scripted objects
/// (`wall_poster`), else its class (`bin`, `pedestrian`).
fn kind_of(scene: &Scene, object: &ObjectTruth) -> String {
    scene
        .events()
        .iter()
        .find(|e| e.track_id == object.track_id)
        .map_or_else(|| object.class.name().to_string(), |e| e.kind.clone())
}

/// Per class at its threshold: (found, of) by kind, and false detections by what they lie on.
#[derive(Debug, Default)]
struct KindTally {
    found: BTreeMap<String, (usize, usize)>,
    false_on: BTreeMap<String, usize>,
}

impl KindTally {
    /// Adds one frame's `class`: `dets` its detections, `gts` its ground truth built from the
    /// frame's `objects` of that class, in their order.
    fn add_image(
        &mut self,
        scene: &Scene,
        objects: &[ObjectTruth],
        class: ObjectClass,
        dets: &[ScoredBox],
        gts: &[GtBox],
        threshold: f32,
    ) {
        // Matching only the confident detections gives the true positives the AP tally counts
        // at this threshold (the matching takes detections by score).
        let confident: Vec<ScoredBox> = dets
            .iter()
            .filter(|d| d.score >= threshold)
            .copied()
            .collect();
        let (outcomes, found) = match_both_ways(&confident, gts, 0.5);
        let of_class = objects.iter().filter(|o| o.class == class);
        for ((o, g), found) in of_class.zip(gts).zip(found) {
            if !g.ignore {
                let e = self.found.entry(kind_of(scene, o)).or_default();
                e.0 += usize::from(found);
                e.1 += 1;
            }
        }
        for (d, outcome) in confident.iter().zip(outcomes) {
            if outcome != Outcome::FalsePositive {
                continue;
            }
            let on = objects
                .iter()
                .map(|o| (o.bbox().iou(&d.bbox).max(d.bbox.share_inside(&o.bbox())), o))
                .filter(|(overlap, _)| *overlap >= LIES_ON)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or_else(|| "nothing".to_string(), |(_, o)| kind_of(scene, o));
            *self.false_on.entry(on).or_default() += 1;
        }
    }
}

/// Part 3.
#[derive(Debug, Clone, Serialize)]
pub struct TextReport {
    pub model: String,
    /// Frames with at least one poster.
    pub frames: usize,
    /// Distinct posters (scene, object) behind the appearances.
    pub posters: usize,
    /// Each way the detector was given the frames: the manifest's input first, then the frames'
    /// own resolution, then tiles at each scale.
    pub settings: Vec<TextSetting>,
    /// The region tiled, in words.
    pub tiled_region: String,
    /// Mean share of the frame the tiled region covers.
    pub tiled_region_share: f64,
}

/// One way of giving the text detector the frames, and what it found.
#[derive(Debug, Clone, Serialize)]
pub struct TextSetting {
    /// `model input 640x384`, `input 1280x736`, `tiles x2`.
    pub setting: String,
    /// Tiling factor, for tiled settings.
    pub scale: Option<f32>,
    /// Poster appearances found / all (one per poster per frame).
    pub recall: Rate,
    /// The same by shape kind.
    pub by_kind: BTreeMap<String, Rate>,
    /// Model inputs run per frame (tiles + the whole frame for tiled settings; 1 otherwise).
    pub inputs_per_frame: f64,
    pub ms_per_frame: f64,
}

/// The far sidewalk of a generated scene as a camera admin would draw it as a `no_vending` zone:
/// the ground between the far kerb (half a metre into the road, so a box standing at the kerb
/// is inside) and the foot of the shopfront wall, over the stretch in view, as a quadrilateral in
/// normalised image coordinates clamped to the image. Walls, poles' upper parts and the road
/// are outside. Taken from the scene's layout and camera, never from the objects. `None` when
/// the sidewalk is not in view.
pub fn sidewalk_zone(scene: &Scene) -> Option<Vec<(f64, f64)>> {
    let l = scene.layout();
    let (w, h) = (
        f64::from(scene.spec().width),
        f64::from(scene.spec().height),
    );
    let inside = |p: [f64; 2]| (0.0..=w).contains(&p[0]) && (0.0..=h).contains(&p[1]);
    let project = |along: f64, across: f64| {
        let (east, north) = l.to_enu(along, across);
        scene.camera().project([east, north, 0.0])
    };
    let (kerb, wall) = (l.far_kerb_m - 0.5, l.wall_m);
    let mut seen: Option<(f64, f64)> = None;
    for step in 0..=640 {
        let along = -80.0 + f64::from(step) * 0.25;
        if [kerb, wall]
            .iter()
            .any(|&across| project(along, across).is_some_and(inside))
        {
            let s = seen.get_or_insert((along, along));
            *s = (s.0.min(along), s.1.max(along));
        }
    }
    let (a0, a1) = seen?;
    [(a0, kerb), (a1, kerb), (a1, wall), (a0, wall)]
        .iter()
        .map(|&(along, across)| {
            project(along, across).map(|p| ((p[0] / w).clamp(0.0, 1.0), (p[1] / h).clamp(0.0, 1.0)))
        })
        .collect()
}

/// The `no_signage` zones a camera admin would draw on a generated scene's lamp posts: per post
/// wholly in view, a quadrilateral 0.8 m wide around it from 0.3 m to 2.8 m above its foot
/// (where the generator puts pole sheets), normalised image coordinates. Taken from the
/// scene's layout of posts, never from the posters.
pub fn lamp_post_zones(scene: &Scene) -> Vec<Vec<(f64, f64)>> {
    const HALF_WIDTH_M: f64 = 0.4;
    let l = scene.layout();
    let (w, h) = (
        f64::from(scene.spec().width),
        f64::from(scene.spec().height),
    );
    scene
        .lamp_posts()
        .iter()
        .filter_map(|&(along, across)| {
            [
                (along - HALF_WIDTH_M, 0.3),
                (along + HALF_WIDTH_M, 0.3),
                (along + HALF_WIDTH_M, 2.8),
                (along - HALF_WIDTH_M, 2.8),
            ]
            .iter()
            .map(|&(a, z)| {
                let (east, north) = l.to_enu(a, across);
                let p = scene.camera().project([east, north, z])?;
                ((0.0..=w).contains(&p[0]) && (0.0..=h).contains(&p[1]))
                    .then(|| (p[0] / w, p[1] / h))
            })
            .collect()
        })
        .collect()
}

/// The shopfront wall of a generated scene as a camera admin would draw it as a `facade` zone:
/// from its foot up to 3 m (above where the generator mounts posters and banners), along the
/// stretch in view, clipped to the image so that its lower edge is the wall's foot wherever that
/// is in view (normalised image coordinates). Taken from the scene's layout and camera, never
/// from the signs. `None` when the wall is not in view.
pub fn facade_zone(scene: &Scene) -> Option<Vec<(f64, f64)>> {
    const HIGH_M: f64 = 3.0;
    let l = scene.layout();
    let (w, h) = (
        f64::from(scene.spec().width),
        f64::from(scene.spec().height),
    );
    let inside = |p: [f64; 2]| (0.0..=w).contains(&p[0]) && (0.0..=h).contains(&p[1]);
    let project = |along: f64, z: f64| {
        let (east, north) = l.to_enu(along, l.wall_m);
        scene.camera().project([east, north, z])
    };
    let mut seen: Option<(f64, f64)> = None;
    for step in 0..=640 {
        let along = -80.0 + f64::from(step) * 0.25;
        if [0.0, HIGH_M / 2.0, HIGH_M]
            .iter()
            .any(|&z| project(along, z).is_some_and(inside))
        {
            let s = seen.get_or_insert((along, along));
            *s = (s.0.min(along), s.1.max(along));
        }
    }
    let (a0, a1) = seen?;
    // A quarter-metre step either side, so that the quadrilateral reaches the image's edges.
    let quad: Option<Vec<(f64, f64)>> = [
        (a0 - 0.25, 0.0),
        (a1 + 0.25, 0.0),
        (a1 + 0.25, HIGH_M),
        (a0 - 0.25, HIGH_M),
    ]
    .iter()
    .map(|&(along, z)| project(along, z).map(|p| (p[0] / w, p[1] / h)))
    .collect();
    let clipped = clip_to_image(&quad?);
    (clipped.len() >= 3).then_some(clipped)
}

/// A convex polygon (normalised coordinates) clipped to the image, 0..1 on both axes
/// (Sutherland–Hodgman), without repeated points.
fn clip_to_image(polygon: &[(f64, f64)]) -> Vec<(f64, f64)> {
    // Each edge of the image: is a point inside it, and where a segment crosses it.
    type Inside = fn((f64, f64)) -> bool;
    let edges: [(Inside, usize, f64); 4] = [
        (|p| p.0 >= 0.0, 0, 0.0),
        (|p| p.0 <= 1.0, 0, 1.0),
        (|p| p.1 >= 0.0, 1, 0.0),
        (|p| p.1 <= 1.0, 1, 1.0),
    ];
    let mut out = polygon.to_vec();
    for (keep, axis, at) in edges {
        let input = std::mem::take(&mut out);
        for (i, &p) in input.iter().enumerate() {
            let q = input[(i + 1) % input.len()];
            let cross = || {
                let (pa, qa) = if axis == 0 { (p.0, q.0) } else { (p.1, q.1) };
                let t = (at - pa) / (qa - pa);
                let x = (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1));
                if axis == 0 {
                    (at, x.1)
                } else {
                    (x.0, at)
                }
            };
            match (keep(p), keep(q)) {
                (true, true) => out.push(q),
                (true, false) => out.push(cross()),
                (false, true) => {
                    out.push(cross());
                    out.push(q);
                }
                (false, false) => {}
            }
        }
    }
    out.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9);
    while out.len() > 1 && {
        let (a, b) = (out[0], out[out.len() - 1]);
        (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9
    } {
        out.pop();
    }
    out
}

/// The band of a generated scene a camera admin would draw as `no_signage` zones: the shopfront
/// wall and the line of lamp posts along the far kerb, from 0.3 m to 2.8 m above the sidewalk
/// (where the generator mounts posters, banners and pole sheets; shop signs hang higher), over
/// the visible street. Returns the two zones (quadrilaterals, normalised image coordinates) and
/// their bounding box clipped to the image; `None` when the band is not in view. Taken from the
/// scene's layout and camera, never from the posters.
pub fn poster_band(scene: &Scene) -> Option<(crate::domain::BBox, Vec<Vec<[f32; 2]>>)> {
    const LOW_M: f64 = 0.3;
    const HIGH_M: f64 = 2.8;
    let l = scene.layout();
    let (w, h) = (
        f64::from(scene.spec().width),
        f64::from(scene.spec().height),
    );
    let inside = |p: [f64; 2]| (0.0..=w).contains(&p[0]) && (0.0..=h).contains(&p[1]);
    let project = |along: f64, across: f64, z: f64| {
        let (east, north) = l.to_enu(along, across);
        scene.camera().project([east, north, z])
    };
    let mut bbox: Option<[f64; 4]> = None;
    let mut zones = Vec::new();
    // Lamp posts stand 0.35 m behind the far kerb (see the scene's layout of poles).
    for across in [l.far_kerb_m + 0.35, l.wall_m] {
        // The stretch of this line in view, sampled every 0.25 m at six heights.
        let mut seen: Option<(f64, f64)> = None;
        for step in 0..=640 {
            let along = -80.0 + f64::from(step) * 0.25;
            for k in 0..6 {
                let z = LOW_M + (HIGH_M - LOW_M) * f64::from(k) / 5.0;
                let Some(p) = project(along, across, z).filter(|p| inside(*p)) else {
                    continue;
                };
                let b = bbox.get_or_insert([p[0], p[1], p[0], p[1]]);
                *b = [
                    b[0].min(p[0]),
                    b[1].min(p[1]),
                    b[2].max(p[0]),
                    b[3].max(p[1]),
                ];
                let s = seen.get_or_insert((along, along));
                *s = (s.0.min(along), s.1.max(along));
            }
        }
        let Some((a0, a1)) = seen else {
            continue;
        };
        let corners = [(a0, LOW_M), (a1, LOW_M), (a1, HIGH_M), (a0, HIGH_M)];
        let quad: Option<Vec<[f32; 2]>> = corners
            .iter()
            .map(|&(along, z)| {
                project(along, across, z).map(|p| [(p[0] / w) as f32, (p[1] / h) as f32])
            })
            .collect();
        zones.extend(quad);
    }
    let b = bbox?;
    (b[2] > b[0] && b[3] > b[1]).then(|| {
        (
            crate::domain::BBox::new(
                (b[0] / w) as f32,
                (b[1] / h) as f32,
                (b[2] / w) as f32,
                (b[3] / h) as f32,
            ),
            zones,
        )
    })
}

/// Counts of one text setting while frames are run.
#[derive(Debug, Default)]
struct SettingTally {
    found: usize,
    total: usize,
    by_kind: BTreeMap<String, (usize, usize)>,
    time: Duration,
    frames: usize,
    inputs: usize,
}

impl SettingTally {
    fn add(&mut self, kind: &str, found: bool) {
        self.total += 1;
        self.found += usize::from(found);
        let e = self.by_kind.entry(kind.to_string()).or_default();
        e.0 += usize::from(found);
        e.1 += 1;
    }

    fn report(&self, setting: String, scale: Option<f32>) -> TextSetting {
        let n = self.frames.max(1) as f64;
        TextSetting {
            setting,
            scale,
            recall: Rate::new(self.found, self.total),
            by_kind: self
                .by_kind
                .iter()
                .map(|(k, (f, n))| (k.clone(), Rate::new(*f, *n)))
                .collect(),
            inputs_per_frame: self.inputs as f64 / n,
            ms_per_frame: self.time.as_secs_f64() * 1000.0 / n,
        }
    }
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
    let mut kinds: BTreeMap<ObjectClass, KindTally> = BTreeMap::new();
    let (mut render_time, mut object_time) = (Duration::ZERO, Duration::ZERO);
    let (mut frames, mut text_frames) = (0usize, 0usize);
    let mut plain = SettingTally::default();
    let mut full = SettingTally::default();
    let mut tiled: Vec<SettingTally> = options
        .tile_scales
        .iter()
        .map(|_| SettingTally::default())
        .collect();
    let mut region_share = 0.0f64;
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
        let band = poster_band(&scene);
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

                    let threshold = m.threshold_for(class.name());
                    kinds.entry(class).or_default().add_image(
                        &scene,
                        &truth.objects,
                        class,
                        &dets,
                        &gts,
                        threshold,
                    );
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
                text_frames += 1;
                let mut runs: Vec<(&mut SettingTally, Vec<crate::domain::Detection>)> = Vec::new();
                let t = Instant::now();
                let (outputs, _) = m.model.run(&[image])?;
                plain.time += t.elapsed();
                plain.frames += 1;
                plain.inputs += 1;
                runs.push((
                    &mut plain,
                    outputs.into_iter().next().unwrap_or_default().detections,
                ));
                if let Some(mf) = text_full.as_deref_mut() {
                    let t = Instant::now();
                    let (outputs, _) = mf.model.run(&[image])?;
                    full.time += t.elapsed();
                    full.frames += 1;
                    full.inputs += 1;
                    runs.push((
                        &mut full,
                        outputs.into_iter().next().unwrap_or_default().detections,
                    ));
                }
                let frame = band
                    .as_ref()
                    .and_then(|(b, zones)| TiledFrame::same(image, b, zones));
                if let (Some((b, _)), Some(_)) = (&band, &frame) {
                    region_share += f64::from(b.area());
                }
                for (tally, &scale) in tiled.iter_mut().zip(&options.tile_scales) {
                    let boxes = match &frame {
                        Some(frame) => {
                            let t = Instant::now();
                            let (output, timings) = m.model.run_with_tiles(frame, scale)?;
                            tally.time += t.elapsed();
                            tally.inputs += timings.batch;
                            output.detections
                        }
                        // No band in view: the whole frame as without tiles.
                        None => {
                            let t = Instant::now();
                            let (outputs, _) = m.model.run(&[image])?;
                            tally.time += t.elapsed();
                            tally.inputs += 1;
                            outputs.into_iter().next().unwrap_or_default().detections
                        }
                    };
                    tally.frames += 1;
                    runs.push((tally, boxes));
                }
                for (kind, poster, track) in posters {
                    for (tally, boxes) in &mut runs {
                        tally.add(kind, boxes.iter().any(|d| text_found(&d.bbox, &poster)));
                    }
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
                let threshold = m.threshold_for(c.name());
                let pr = t.at_threshold(threshold);
                ClassReport {
                    class: c.name().to_string(),
                    objects: t.positives,
                    ignored: t.ignored,
                    detections: t.detections(),
                    ap50: t.average_precision(),
                    threshold,
                    precision: Rate::new(pr.true_positives, pr.true_positives + pr.false_positives),
                    recall: Rate::new(pr.true_positives, pr.positives),
                    recall_by_kind: kinds
                        .get(c)
                        .map(|k| {
                            k.found
                                .iter()
                                .map(|(name, &(hits, of))| (name.clone(), Rate::new(hits, of)))
                                .collect()
                        })
                        .unwrap_or_default(),
                    false_detections_on: kinds
                        .get(c)
                        .map(|k| k.false_on.clone())
                        .unwrap_or_default(),
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
        let size = format!("{}x{}", input.width, input.height);
        let mut settings = vec![plain.report(format!("model input {size}"), None)];
        out.timings
            .push(Timing::new("text detector (part 3)", plain.time));
        if let Some(mf) = &text_full {
            let i = &mf.model.manifest().input;
            settings.push(full.report(format!("input {}x{}", i.width, i.height), None));
            out.timings.push(Timing::new(
                "text detector at full resolution (part 3)",
                full.time,
            ));
        }
        for (tally, &scale) in tiled.iter().zip(&options.tile_scales) {
            settings.push(tally.report(format!("tiles x{scale}"), Some(scale)));
            out.timings.push(Timing::new(
                &format!("text detector, tiles x{scale} (part 3)"),
                tally.time,
            ));
        }
        out.text = Some(TextReport {
            model: m.name.clone(),
            frames: text_frames,
            posters: distinct_posters.len(),
            settings,
            tiled_region: format!(
                "per scene, two zones from the scene's layout as an admin draws no_signage zones: \
                 the shopfront wall and the lamp-post line, 0.3-2.8 m above the sidewalk along \
                 the visible street; tiles of {size} over their bounding box that meet a zone, \
                 the whole frame at {size} elsewhere"
            ),
            tiled_region_share: region_share / text_frames.max(1) as f64,
        });
    }
    Ok(out)
}
