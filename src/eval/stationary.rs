//! Part 2: the static-object detector on whole held-out scenes, at 1 fps.
//!
//! Each scene is `SceneSpec::random(seed + 10_000 + k, …, Split::HeldOut)` at 640 × 360 (the
//! pipeline's analysis width), with lighting drift, at least 6 pedestrians a minute, and its own
//! scripted violations (two to four, cycling stall / stack / sign, arriving between 20 s — after
//! the detector's 15 s bootstrap — and half the scene, staying 60 s to the end). Every 25th
//! frame (1 fps) is rendered and fed to [`StaticObjectDetector`] with default settings.
//!
//! - Recall: violation objects that cover ≥ 0.5 % of the frame (median box area over the
//!   frames where present) and are present ≥ 60 s of the video; found when, in a frame where the
//!   object is present, some reported region has IoU ≥ 0.3 with its box or contains its bottom
//!   centre.
//! - False detections: reported regions are followed over time ([`RegionTracker`]: IoU ≥ 0.3
//!   with the region's last box, gaps up to 10 s); a region none of whose boxes ever matched a
//!   violation object (same matcher) is one false detection. Divided by the hours of video.
//!
//! The same frames go to a [`BandDetector`] on the scene's sign band (`frames::poster_band`,
//! the rectangle a camera's tiled text detector covers), as the pipeline runs it beside the
//! whole frame. Its regions are split as the rules split them: those whose foot stands in the
//! sidewalk zone (`frames::sidewalk_zone`) outside every lamp-post zone
//! (`frames::lamp_post_zones`) are ground regions (something on the sidewalk), the rest sign
//! regions. Sign recall: wall and pole posters and banners present ≥ 60 s that a sign region
//! matches (the poster matcher: IoU ≥ 0.1, or at least half inside). Sign regions are followed
//! over time as above and sorted by what they ever matched: a sign, else a stall or stack (the
//! static matcher, or at least half inside it: a sign candidate only where the ground detectors
//! miss the object, as the rules give goods their own print), else nothing (a false sign).
//! Ground regions are followed the same way and sorted by whether they ever matched a stall,
//! stack or sign (the static matcher, or at least half inside), else nothing (a false ground
//! detection); stalls and stacks present ≥ 60 s that a ground region found and the whole-frame
//! detector never did (of any size) are counted.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::frames::{lamp_post_zones, poster_band, sidewalk_zone};
use super::metrics::{median, static_found, text_found, Region, RegionTracker};
use super::report::Rate;
use super::{resized, EvalOptions, Mix};
use crate::analysis::{BandDetector, StaticConfig, StaticObjectDetector, Zone, ZoneKind};
use crate::domain::BBox;
use crate::synth::{Category, Placement, Scene, SceneSpec, ScriptedEvent, Split};

/// Objects smaller than this fraction of the frame are not demanded.
pub const MIN_AREA: f32 = 0.005;
/// Objects present for less than this are not demanded.
pub const MIN_STAY_S: f64 = 60.0;
/// Seed offset of the static scenes.
pub const SEED_OFFSET: u64 = 10_000;

/// Part 2.
#[derive(Debug, Clone, Serialize)]
pub struct StaticReport {
    pub scenes: u32,
    pub seconds_per_scene: f64,
    pub camera_hours: f64,
    pub frames: usize,
    /// Demanded objects found / demanded.
    pub recall: Rate,
    pub by_category: BTreeMap<String, Rate>,
    /// Violation objects left out as too small or too brief.
    pub not_demanded: usize,
    /// Distinct static regions reported.
    pub regions: usize,
    /// Regions that never matched a violation object.
    pub false_regions: usize,
    pub false_per_camera_hour: f64,
    /// Seconds from arrival to the first matching report, median over found objects.
    pub median_seconds_to_report: Option<f64>,
    pub ms_per_frame: f64,
    /// Every violation object, for inspection.
    pub objects: Vec<StaticObjectLine>,
    /// Every false region, for inspection.
    pub false_region_lines: Vec<FalseRegionLine>,
    /// The same detector on the sign band.
    pub band: BandReport,
}

/// Part 2's sign band ([`BandDetector`]).
#[derive(Debug, Clone, Serialize)]
pub struct BandReport {
    /// Wall and pole posters and banners present ≥ 60 s, found by a kept region.
    pub recall: Rate,
    pub by_kind: BTreeMap<String, Rate>,
    /// Distinct kept regions (not standing on the sidewalk outside a lamp-post zone).
    pub regions: usize,
    /// Of those: ever matched a sign; else ever matched a stall or stack; else nothing.
    pub on_signs: usize,
    pub on_goods: usize,
    pub false_regions: usize,
    pub false_per_camera_hour: f64,
    /// Seconds from a sign's arrival to its first kept report, median over found signs.
    pub median_seconds_to_report: Option<f64>,
    pub ms_per_frame: f64,
    /// Every region that matched nothing, for inspection.
    pub false_region_lines: Vec<FalseRegionLine>,
    /// Distinct ground regions (foot on the sidewalk outside lamp-post zones).
    pub ground_regions: usize,
    /// Of those: ever matched a stall, stack or sign; else nothing.
    pub ground_on_objects: usize,
    pub ground_false_regions: usize,
    pub ground_false_per_camera_hour: f64,
    /// Stalls and stacks present ≥ 60 s found by a ground region, never by the whole frame.
    pub goods_only_in_band: usize,
    /// Every ground region that matched nothing, for inspection.
    pub ground_false_region_lines: Vec<FalseRegionLine>,
}

/// Sign kinds the band is asked to find (A-frames stand on the ground: the object model's).
const BAND_SIGNS: [&str; 3] = ["wall_poster", "pole_poster", "banner"];

/// Whether the signage rules take a band region for a sign: not when its foot stands in the
/// sidewalk zone (then it is something on the ground), unless it is (half or more) inside a
/// lamp post's `no_signage` zone.
fn sign_in_band(b: &BBox, sidewalk: &Option<Zone>, posts: &[Zone]) -> bool {
    let on_sidewalk = sidewalk.as_ref().is_some_and(|z| z.holds_foot(b));
    !on_sidewalk || posts.iter().any(|z| z.overlap(b) >= 0.5)
}

/// A static region of part 2 that never matched a violation object.
#[derive(Debug, Clone, Serialize)]
pub struct FalseRegionLine {
    pub seed: u64,
    /// Seconds into the scene of its first and last report.
    pub first_s: f64,
    pub last_s: f64,
    /// Its last box, normalised `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    pub reports: usize,
}

impl FalseRegionLine {
    fn of(seed: u64, r: &Region) -> Self {
        Self {
            seed,
            first_s: r.first_s,
            last_s: r.last_s,
            bbox: [r.last.x1, r.last.y1, r.last.x2, r.last.y2],
            reports: r.reports,
        }
    }
}

/// One violation object of part 2.
#[derive(Debug, Clone, Serialize)]
pub struct StaticObjectLine {
    pub seed: u64,
    pub category: String,
    pub kind: String,
    pub appear_s: f64,
    /// Seconds present in the analysed frames.
    pub present_s: f64,
    /// Median box area, fraction of the frame.
    pub area: f64,
    pub demanded: bool,
    /// Seconds from arrival to the first matching report.
    pub found_after_s: Option<f64>,
}

/// The scene spec of static scene `k`.
pub fn scene_spec(seed: u64, seconds: f64) -> SceneSpec {
    let mut spec = resized(SceneSpec::random(seed, seconds, Split::HeldOut), 640, 360);
    let mut r = Mix::new(seed);
    let n = 2 + (r.next_u64() % 3) as usize;
    let categories = [
        Category::StreetVending,
        Category::SidewalkStacking,
        Category::IllegalSignage,
    ];
    let first = (r.next_u64() % 3) as usize;
    spec.events = (0..n)
        .map(|i| {
            let appear_s = r.range(20.0, (seconds * 0.5).max(21.0)).round();
            let stay = r.range(MIN_STAY_S, seconds);
            let leave_s = if r.range(0.0, 1.0) < 0.4 {
                seconds + 1.0
            } else {
                (appear_s + stay).round()
            };
            ScriptedEvent {
                category: categories[(first + i) % 3],
                variant: None,
                appear_s,
                leave_s,
                position: Placement::Auto,
            }
        })
        .collect();
    spec.lighting_drift = true;
    spec.pedestrians_per_minute = spec.pedestrians_per_minute.max(6.0);
    spec.gt_every = 25;
    spec
}

#[derive(Debug, Default)]
struct ObjectStats {
    category: String,
    kind: String,
    present_s: Vec<f64>,
    areas: Vec<f64>,
    first_found_s: Option<f64>,
    /// Found by a ground region of the band.
    band_ground_found: bool,
    appear_s: f64,
}

/// Runs part 2.
pub fn run(options: &EvalOptions, progress: &mut dyn FnMut(&str)) -> anyhow::Result<StaticReport> {
    let mut demanded = 0usize;
    let mut found = 0usize;
    let mut not_demanded = 0usize;
    let mut by_category: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut regions = 0usize;
    let mut frames = 0usize;
    let mut detect_time = Duration::ZERO;
    let mut delays = Vec::new();
    let mut video_s = 0.0;
    let mut lines = Vec::new();
    let mut false_lines = Vec::new();
    let mut band_time = Duration::ZERO;
    let mut band_signs: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut band_delays = Vec::new();
    let (mut band_regions, mut band_on_signs, mut band_on_goods) = (0usize, 0usize, 0usize);
    let mut band_false = Vec::new();
    let (mut ground_regions, mut ground_on_objects) = (0usize, 0usize);
    let mut ground_false = Vec::new();
    let mut goods_only_in_band = 0usize;
    for k in 0..options.static_scenes {
        let seed = options.seed + SEED_OFFSET + u64::from(k);
        progress(&format!(
            "eval: static-object detector, scene {}/{} (seed {seed}, {:.0} s)",
            k + 1,
            options.static_scenes,
            options.static_seconds
        ));
        let scene = Scene::new(scene_spec(seed, options.static_seconds))?;
        let (w, h) = (scene.spec().width, scene.spec().height);
        let fps = u64::from(scene.spec().fps.max(1));
        let mut detector = StaticObjectDetector::new(StaticConfig::default());
        let mut tracker = RegionTracker::new(0.3, 10.0);
        let zone =
            |id: String, kind: ZoneKind, polygon: Vec<(f64, f64)>| Zone { id, kind, polygon };
        let sidewalk =
            sidewalk_zone(&scene).map(|p| zone("sidewalk".into(), ZoneKind::NoVending, p));
        let posts: Vec<Zone> = lamp_post_zones(&scene)
            .into_iter()
            .enumerate()
            .map(|(i, p)| zone(format!("lamp-post-{}", i + 1), ZoneKind::NoSignage, p))
            .collect();
        let mut band = poster_band(&scene)
            .map(|(region, _)| BandDetector::new(region, BandDetector::default_config()));
        let mut band_tracker = RegionTracker::new(0.3, 10.0);
        // Per band region (by the tracker's index): whether it ever matched a sign, goods.
        let mut band_matches: Vec<(bool, bool)> = Vec::new();
        let mut band_found: BTreeMap<u32, f64> = BTreeMap::new();
        let mut ground_tracker = RegionTracker::new(0.3, 10.0);
        let mut objects: BTreeMap<u32, ObjectStats> = scene
            .events()
            .iter()
            .map(|e| {
                (
                    e.track_id,
                    ObjectStats {
                        category: e.category.class().name().to_string(),
                        kind: e.kind.clone(),
                        appear_s: e.appear_s,
                        ..ObjectStats::default()
                    },
                )
            })
            .collect();
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut rgb = vec![0u8; scene.frame_len()];
        for i in (0..scene.frame_count()).step_by(fps as usize) {
            let t_s = scene.time_of(i);
            scene.render(i, &mut rgb)?;
            let truth = scene.frame_truth(i)?;
            let started = std::time::Instant::now();
            let reported = detector.update(epoch + Duration::from_secs_f64(t_s), &rgb, w, h);
            detect_time += started.elapsed();
            frames += 1;
            let present: Vec<(u32, BBox)> = truth
                .objects
                .iter()
                .filter(|o| objects.contains_key(&o.track_id))
                .map(|o| (o.track_id, o.bbox().scale(1.0 / w as f32, 1.0 / h as f32)))
                .collect();
            for (id, b) in &present {
                if let Some(s) = objects.get_mut(id) {
                    s.present_s.push(t_s);
                    s.areas.push(f64::from(b.area()));
                }
            }
            if let Some(band) = &mut band {
                let started = std::time::Instant::now();
                let found = band.update(epoch + Duration::from_secs_f64(t_s), &rgb, w, h);
                band_time += started.elapsed();
                let (signs, ground): (Vec<_>, Vec<_>) = found
                    .iter()
                    .partition(|o| sign_in_band(&o.bbox, &sidewalk, &posts));
                let mut ground_boxes = Vec::new();
                for o in ground {
                    let mut matched = false;
                    for o_truth in &truth.objects {
                        let Some(s) = objects.get_mut(&o_truth.track_id) else {
                            continue;
                        };
                        let b = o_truth.bbox().scale(1.0 / w as f32, 1.0 / h as f32);
                        if static_found(&o.bbox, &b) || o.bbox.share_inside(&b) >= 0.5 {
                            matched = true;
                            s.band_ground_found |= s.category != "illegal_signage";
                        }
                    }
                    ground_boxes.push((o.bbox, matched));
                }
                ground_tracker.update(t_s, &ground_boxes);
                let mut boxes = Vec::new();
                let mut flags = Vec::new();
                for o in signs {
                    let (mut sign, mut goods) = (false, false);
                    for o_truth in &truth.objects {
                        let Some(s) = objects.get(&o_truth.track_id) else {
                            continue;
                        };
                        let b = o_truth.bbox().scale(1.0 / w as f32, 1.0 / h as f32);
                        if BAND_SIGNS.contains(&s.kind.as_str()) && text_found(&o.bbox, &b) {
                            sign = true;
                            band_found.entry(o_truth.track_id).or_insert(t_s);
                        } else if s.category != "illegal_signage"
                            && (static_found(&o.bbox, &b) || o.bbox.share_inside(&b) >= 0.5)
                        {
                            goods = true;
                        }
                    }
                    boxes.push((o.bbox, sign || goods));
                    flags.push((sign, goods));
                }
                for (i, (sign, goods)) in band_tracker.update(t_s, &boxes).into_iter().zip(flags) {
                    if band_matches.len() <= i {
                        band_matches.resize(i + 1, (false, false));
                    }
                    band_matches[i].0 |= sign;
                    band_matches[i].1 |= goods;
                }
            }
            let boxes: Vec<(BBox, bool)> = reported
                .iter()
                .map(|o| {
                    let mut matched = false;
                    for (id, b) in &present {
                        if static_found(&o.bbox, b) {
                            matched = true;
                            if let Some(s) = objects.get_mut(id) {
                                s.first_found_s.get_or_insert(t_s);
                            }
                        }
                    }
                    (o.bbox, matched)
                })
                .collect();
            tracker.update(t_s, &boxes);
        }
        video_s += scene.frame_count() as f64 / fps as f64;
        regions += tracker.regions().len();
        false_lines.extend(
            tracker
                .regions()
                .iter()
                .filter(|r| !r.matched)
                .map(|r| FalseRegionLine::of(seed, r)),
        );
        ground_regions += ground_tracker.regions().len();
        for r in ground_tracker.regions() {
            if r.matched {
                ground_on_objects += 1;
            } else {
                ground_false.push(FalseRegionLine::of(seed, r));
            }
        }
        band_regions += band_tracker.regions().len();
        for (r, &(sign, goods)) in band_tracker.regions().iter().zip(&band_matches) {
            if sign {
                band_on_signs += 1;
            } else if goods {
                band_on_goods += 1;
            } else {
                band_false.push(FalseRegionLine::of(seed, r));
            }
        }
        for (id, s) in &objects {
            let stay = match (s.present_s.first(), s.present_s.last()) {
                (Some(a), Some(b)) => b - a + 1.0,
                _ => 0.0,
            };
            if BAND_SIGNS.contains(&s.kind.as_str()) && stay >= MIN_STAY_S {
                let e = band_signs.entry(s.kind.clone()).or_default();
                e.1 += 1;
                if let Some(f) = band_found.get(id) {
                    e.0 += 1;
                    band_delays.push(f - s.appear_s);
                }
            }
            if s.category != "illegal_signage"
                && stay >= MIN_STAY_S
                && s.band_ground_found
                && s.first_found_s.is_none()
            {
                goods_only_in_band += 1;
            }
            let area = median(&s.areas).unwrap_or(0.0);
            let demand = stay >= MIN_STAY_S && area >= f64::from(MIN_AREA);
            lines.push(StaticObjectLine {
                seed,
                category: s.category.clone(),
                kind: s.kind.clone(),
                appear_s: s.appear_s,
                present_s: stay,
                area,
                demanded: demand,
                found_after_s: s.first_found_s.map(|f| f - s.appear_s),
            });
            if !demand {
                not_demanded += 1;
                continue;
            }
            demanded += 1;
            let e = by_category.entry(s.category.clone()).or_default();
            e.1 += 1;
            if let Some(f) = s.first_found_s {
                found += 1;
                e.0 += 1;
                delays.push(f - s.appear_s);
            }
        }
    }
    let hours = video_s / 3600.0;
    let false_regions = false_lines.len();
    Ok(StaticReport {
        scenes: options.static_scenes,
        seconds_per_scene: options.static_seconds,
        camera_hours: hours,
        frames,
        recall: Rate::new(found, demanded),
        by_category: by_category
            .into_iter()
            .map(|(k, (f, n))| (k, Rate::new(f, n)))
            .collect(),
        not_demanded,
        regions,
        false_regions,
        false_per_camera_hour: if hours > 0.0 {
            false_regions as f64 / hours
        } else {
            0.0
        },
        median_seconds_to_report: median(&delays),
        ms_per_frame: detect_time.as_secs_f64() * 1000.0 / frames.max(1) as f64,
        objects: lines,
        false_region_lines: false_lines,
        band: BandReport {
            recall: Rate::new(
                band_signs.values().map(|r| r.0).sum(),
                band_signs.values().map(|r| r.1).sum(),
            ),
            by_kind: band_signs
                .into_iter()
                .map(|(k, (f, n))| (k, Rate::new(f, n)))
                .collect(),
            regions: band_regions,
            on_signs: band_on_signs,
            on_goods: band_on_goods,
            false_per_camera_hour: if hours > 0.0 {
                band_false.len() as f64 / hours
            } else {
                0.0
            },
            false_regions: band_false.len(),
            median_seconds_to_report: median(&band_delays),
            ms_per_frame: band_time.as_secs_f64() * 1000.0 / frames.max(1) as f64,
            false_region_lines: band_false,
            ground_regions,
            ground_on_objects,
            ground_false_per_camera_hour: if hours > 0.0 {
                ground_false.len() as f64 / hours
            } else {
                0.0
            },
            ground_false_regions: ground_false.len(),
            goods_only_in_band,
            ground_false_region_lines: ground_false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_scenes_are_deterministic_with_lasting_events_after_the_bootstrap() {
        for seed in 910_000..910_020 {
            let spec = scene_spec(seed, 300.0);
            assert_eq!(spec, scene_spec(seed, 300.0));
            assert_eq!((spec.width, spec.height), (640, 360));
            assert!(spec.lighting_drift && spec.pedestrians_per_minute >= 6.0);
            assert!((2..=4).contains(&spec.events.len()));
            for e in &spec.events {
                assert!(e.appear_s >= 20.0 && e.appear_s <= 150.0, "{e:?}");
                assert!(e.leave_s - e.appear_s >= MIN_STAY_S, "{e:?}");
            }
        }
    }
}
