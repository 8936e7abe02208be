//! Analysis: detections over time in, one candidate case per real violation out.
//!
//! [`CameraAnalysis`] owns one camera's stages, applied in this order on every detector run:
//! masks ([`zones`]) drop observations, and the baseline [`picture`] the sign observations on
//! patches unchanged since the scene was approved → [`tracker`] follows them → [`zones`] places
//! the tracks (with hysteresis) → [`rules`] decide what is a violation and emit each one once.
//!
//! Pure: no I/O and no clock. Time comes in with every call as a `SystemTime` (the frame time
//! the detector ran on); schedules are evaluated in the city's time zone given at construction.
//! Replaying the same calls gives the same candidates, which the golden tests rely on.
//!
//! Coordinates are normalised to the image (0..1) everywhere: observation boxes, zone polygons,
//! baseline regions and candidate boxes.

pub mod picture;
pub mod rules;
pub mod static_objects;
pub mod time;
pub mod tracker;
pub mod zones;

#[cfg(test)]
mod golden_tests;

use std::time::{Duration, SystemTime};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::{BBox, CameraId};

pub use picture::{RgbView, ScenePicture};
pub use rules::{
    Baseline, Category, Refinement, Rule, RuleError, RuleSet, Rules, RulesConfig, Subject,
};
pub use static_objects::{BandDetector, StaticConfig, StaticObjectDetector, STATIC_SIGN};
pub use time::TimeWindow;
pub use tracker::{Track, Tracker, TrackerConfig, TrackerUpdate};
pub use zones::{Placement, Zone, ZoneConfig, ZoneError, ZoneHit, ZoneKind, ZoneMap};

/// Which detector produced an observation. JSON: `"objects"`, `"text"`, `"static"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// The object model (`street_vending`, `sidewalk_stacking`, `illegal_signage`).
    Objects,
    /// The text detector (`text`).
    Text,
    /// The static-object detector (`static_object`).
    Static,
}

/// How often each detector runs; the tracker's default `max_gap` for a detector is
/// max(30 s, 3 × its interval). JSON: `{"objects": 2, "text": 60, "static": 1}` in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorIntervals {
    #[serde(with = "time::secs")]
    pub objects: Duration,
    #[serde(with = "time::secs")]
    pub text: Duration,
    #[serde(rename = "static", with = "time::secs")]
    pub static_objects: Duration,
}

impl Default for DetectorIntervals {
    /// Objects every 2 s, text every 60 s, static objects every 1 s.
    fn default() -> Self {
        Self {
            objects: Duration::from_secs(2),
            text: Duration::from_secs(60),
            static_objects: Duration::from_secs(1),
        }
    }
}

/// One thing a detector reported, in normalised image coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub bbox: BBox,
    /// Confidence in 0..1.
    pub score: f32,
    /// `street_vending`, `sidewalk_stacking`, `illegal_signage`, `text` or `static_object`;
    /// other labels are ignored.
    pub label: String,
    /// The detector that produced it; tracks never mix detectors.
    pub source: DetectorKind,
    /// For static objects: when the static detector saw the object arrive. A track's
    /// `first_seen` (and so its dwell) goes back to the earliest `since`.
    pub since: Option<SystemTime>,
}

impl Observation {
    pub fn new(bbox: BBox, score: f32, label: &str, source: DetectorKind) -> Self {
        Self {
            bbox,
            score,
            label: label.to_owned(),
            source,
            since: None,
        }
    }
}

/// How urgent a candidate is, by how often the violation recurred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// First occurrence.
    Blue,
    /// Second.
    Yellow,
    /// Third or later.
    Red,
}

/// A candidate case: one violation, emitted once.
///
/// Times serialise as RFC 3339 strings, the box as `[x1, y1, x2, y2]` (normalised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Per-camera sequence from 1; continues after [`CameraAnalysis::with_history`].
    pub id: u64,
    /// Serialised as the plain id string.
    #[serde(with = "camera_id")]
    pub camera: CameraId,
    /// A [`Category`] name, e.g. `street_vending`.
    pub category: String,
    /// The zone the violation is in; `None` for novel signage outside any `no_signage` zone.
    pub zone: Option<String>,
    #[serde(with = "time::bbox")]
    pub bbox: BBox,
    /// Median score of the track.
    pub score: f32,
    /// When the violation arrived: the track entered the zone (or was first seen).
    #[serde(with = "time::rfc3339")]
    pub arrived: SystemTime,
    /// The update time at which it became a candidate.
    #[serde(with = "time::rfc3339")]
    pub emitted: SystemTime,
    /// The tracker's id of the track that emitted it.
    pub track_id: u64,
    /// The earlier candidate at the same spot this one recurs after the cooldown.
    pub recurrence_of: Option<u64>,
    /// 1 for a first occurrence, 2, 3, … for recurrences.
    pub recurrence_count: u32,
}

impl Candidate {
    /// Blue for a first occurrence, Yellow for the second, Red from the third.
    pub fn escalation(&self) -> Escalation {
        match self.recurrence_count {
            0 | 1 => Escalation::Blue,
            2 => Escalation::Yellow,
            _ => Escalation::Red,
        }
    }
}

mod camera_id {
    use crate::domain::CameraId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &CameraId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(c.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CameraId, D::Error> {
        let s = String::deserialize(d)?;
        Ok(CameraId::new(&s))
    }
}

/// A configuration that cannot be used; the message names the zone or rule.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// The zones, validated, and the rules checked against them (errors name the zone or rule).
fn checked_zones(zones: Vec<Zone>, rules: &RuleSet) -> Result<ZoneMap, AnalysisError> {
    let zones = ZoneMap::new(zones, ZoneConfig::default())?;
    rules.validate(zones.zones())?;
    Ok(zones)
}

/// The analysis of one camera: tracker, zones and rules, fed one detector run at a time.
#[derive(Debug, Clone)]
pub struct CameraAnalysis {
    camera: CameraId,
    /// The baseline's picture of the approved scene (the rules keep the baseline's regions).
    picture: Option<ScenePicture>,
    zones: ZoneMap,
    tracker: Tracker,
    rules: Rules,
}

impl CameraAnalysis {
    /// Validates zones and rules (errors name the zone or rule) and builds the stages with
    /// default thresholds; the tracker's gaps follow `intervals`.
    pub fn new(
        camera: CameraId,
        zones: Vec<Zone>,
        rules: RuleSet,
        mut baseline: Baseline,
        tz: Tz,
        intervals: DetectorIntervals,
    ) -> Result<Self, AnalysisError> {
        let zones = checked_zones(zones, &rules)?;
        let tracker = Tracker::new(&intervals);
        let grace = [
            (DetectorKind::Objects, "street_vending"),
            (DetectorKind::Text, "text"),
            (DetectorKind::Static, "static_object"),
        ]
        .iter()
        .map(|&(k, l)| tracker.config_for(k, l).max_gap)
        .max()
        .unwrap_or(Duration::from_secs(180));
        let config = RulesConfig {
            restore_grace: grace,
            ..RulesConfig::default()
        };
        let picture = baseline.picture.take();
        let rules = Rules::new(camera.clone(), rules, baseline, tz, config);
        Ok(Self {
            camera,
            picture,
            zones,
            tracker,
            rules,
        })
    }

    /// Takes new zones, rules and signage baseline (an admin's edit) without losing the
    /// tracks and the violations seen so far: dwell times go on, and a violation already
    /// emitted is not emitted again. Zone membership is judged afresh. On an error (which
    /// names the zone or rule) nothing changes.
    pub fn reconfigure(
        &mut self,
        zones: Vec<Zone>,
        rules: RuleSet,
        mut baseline: Baseline,
        tz: Tz,
    ) -> Result<(), AnalysisError> {
        let zones = checked_zones(zones, &rules)?;
        self.picture = baseline.picture.take();
        self.zones = zones;
        self.rules.reconfigure(rules, baseline, tz);
        Ok(())
    }

    /// Restores the candidates emitted before a restart (call before the first `update`).
    ///
    /// Candidate ids continue after the largest one of this camera. A track that arrives within
    /// the restore grace of the first update (the largest tracker gap, 3 min by default) at the
    /// spot (same category group, same zone, IoU ≥ 0.3) of an earlier candidate is that
    /// violation: no new candidate. Later arrivals are judged by cooldown and recurrence as if
    /// the earlier violation had left at the first update.
    pub fn with_history(mut self, previous: &[Candidate]) -> Self {
        self.rules.restore(previous);
        self
    }

    pub fn camera(&self) -> &CameraId {
        &self.camera
    }

    /// Candidates whose category became more specific in the updates since the last call
    /// (a `sidewalk_occupation` that the object model has since recognised as a stall or a
    /// stack, or whose sign has since been found), oldest first. Candidates are emitted once;
    /// this is how the store learns what they turned out to be.
    pub fn take_refinements(&mut self) -> Vec<Refinement> {
        self.rules.take_refinements()
    }

    /// Where a candidate meets the ground in the image (normalised x, y), for geo-tagging: the
    /// bottom centre of its box; for a sign on an upright surface (the `no_signage` zone it is
    /// a candidate in, else a `no_signage` or `facade` zone it lies on: a wall, a lamp post),
    /// the zone's lowest point below the sign's centre, near the foot of the surface, when
    /// that lies below the box. The bottom of a sign's own box is up on that surface and, taken
    /// as a point on the ground, lies far beyond it.
    pub fn ground_point(&self, c: &Candidate) -> (f64, f64) {
        let (x, y) = zones::bottom_centre(&c.bbox);
        if c.category != Category::IllegalSignage.as_str() {
            return (x, y);
        }
        let foot = self
            .zones
            .zones()
            .iter()
            .find(|z| z.kind == ZoneKind::NoSignage && c.zone.as_deref() == Some(z.id.as_str()))
            .or_else(|| self.zones.surface_of(&c.bbox))
            .and_then(|z| z.lowest_at(x));
        (x, foot.map_or(y, |f| f.max(y)))
    }

    /// The tracker, e.g. to read live tracks for an overlay.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The tracker, to tune it per detector or per label before the first update.
    pub fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }

    /// As [`Self::update`], for observations made on `frame` (the analysis frame the detector
    /// ran on, or a picture of it at another size). With a baseline picture, a sign observation
    /// (`text`, `illegal_signage`) whose patch looks as it did in the picture is part of the
    /// approved scene and is dropped: text on a bicycle parked since set-up, a faint shop sign
    /// the detectors missed while the baseline was captured. Like the baseline's regions, the
    /// picture approves nothing on a `no_signage` zone (as [`ZoneMap::on_no_signage`] judges a
    /// box): a poster already on a pole at set-up is still a candidate there.
    pub fn update_seen(
        &mut self,
        t: SystemTime,
        source: DetectorKind,
        observations: &[Observation],
        frame: RgbView<'_>,
    ) -> Vec<Candidate> {
        let Some(picture) = &self.picture else {
            return self.update(t, source, observations);
        };
        let new: Vec<Observation> = observations
            .iter()
            .filter(|o| {
                let sign = matches!(o.label.as_str(), "text" | "illegal_signage" | STATIC_SIGN);
                !(sign && !self.zones.on_no_signage(&o.bbox) && picture.unchanged(frame, &o.bbox))
            })
            .cloned()
            .collect();
        self.update(t, source, &new)
    }

    /// Feeds one run of detector `source` at time `t` (the time of the frame it analysed;
    /// calls must come in time order) and returns the candidates that became due.
    ///
    /// Observations with an unknown label, a non-finite box or score, or in a mask are dropped.
    /// An empty `observations` still matters: it tells the tracker the detector ran and saw
    /// nothing, which is how tracks of that detector end.
    pub fn update(
        &mut self,
        t: SystemTime,
        source: DetectorKind,
        observations: &[Observation],
    ) -> Vec<Candidate> {
        let kept: Vec<Observation> = observations
            .iter()
            .filter(|o| {
                let b = &o.bbox;
                [b.x1, b.y1, b.x2, b.y2, o.score]
                    .iter()
                    .all(|v| v.is_finite())
                    && Placement::for_label(&o.label).is_some_and(|p| !self.zones.is_masked(b, p))
            })
            .cloned()
            .collect();
        let update = self.tracker.update(t, source, &kept);
        for track in &update.ended {
            self.zones.forget(track.id());
        }
        let mut subjects = Vec::with_capacity(self.tracker.tracks().len());
        for track in self.tracker.tracks() {
            let Some(placement) = Placement::for_label(track.label()) else {
                continue;
            };
            let zones = self.zones.update(track, placement);
            subjects.push(Subject { track, zones });
        }
        self.rules
            .update(t, self.zones.zones(), &subjects, &update.ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
    }

    fn sidewalk() -> Zone {
        Zone {
            id: "sidewalk".into(),
            kind: ZoneKind::NoVending,
            polygon: vec![(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)],
        }
    }

    /// A candidate emitted at 120 s, for the ground-point tests.
    fn candidate(category: &str, zone: Option<&str>, bbox: BBox) -> Candidate {
        Candidate {
            id: 1,
            camera: CameraId::new("cam-1"),
            category: category.into(),
            zone: zone.map(String::from),
            bbox,
            score: 0.9,
            arrived: at(0),
            emitted: at(120),
            track_id: 1,
            recurrence_of: None,
            recurrence_count: 1,
        }
    }

    /// A point rounded to 1/1000, to compare.
    fn round((x, y): (f64, f64)) -> (f64, f64) {
        ((x * 1000.0).round() / 1000.0, (y * 1000.0).round() / 1000.0)
    }

    #[test]
    fn a_sign_in_a_no_signage_zone_meets_the_ground_at_the_zone_foot_and_goods_at_their_box_bottom()
    {
        let wall = Zone {
            id: "wall".into(),
            kind: ZoneKind::NoSignage,
            polygon: vec![(0.0, 0.2), (1.0, 0.2), (1.0, 0.6), (0.0, 0.4)],
        };
        let a = analysis(vec![sidewalk(), wall]).expect("analysis");
        // A poster up on the wall: the wall's foot below its centre (x 0.5: y 0.5).
        let poster = candidate(
            "illegal_signage",
            Some("wall"),
            BBox::new(0.45, 0.25, 0.55, 0.3),
        );
        assert_eq!(round(a.ground_point(&poster)), (0.5, 0.5));
        // Goods, and a sign lying on no zone's surface (an A-frame standing in front of the
        // wall, half its box over the wall's zone): the bottom of the box.
        let stack = candidate(
            "sidewalk_stacking",
            Some("sidewalk"),
            BBox::new(0.45, 0.6, 0.55, 0.8),
        );
        assert_eq!(round(a.ground_point(&stack)), (0.5, 0.8));
        let a_frame = candidate("illegal_signage", None, BBox::new(0.45, 0.42, 0.55, 0.58));
        assert_eq!(round(a.ground_point(&a_frame)), (0.5, 0.58));
        // A sign found outside the wall's zone by its track, yet lying on it: the wall's foot.
        let sheet = candidate("illegal_signage", None, BBox::new(0.45, 0.3, 0.55, 0.45));
        assert_eq!(round(a.ground_point(&sheet)), (0.5, 0.5));
        // A sign whose box reaches below the zone's foot keeps its own bottom.
        let banner = candidate(
            "illegal_signage",
            Some("wall"),
            BBox::new(0.45, 0.3, 0.55, 0.55),
        );
        assert_eq!(round(a.ground_point(&banner)), (0.5, 0.55));
    }

    #[test]
    fn a_sign_lying_on_a_facade_meets_the_ground_at_its_foot() {
        // A shopfront seen at an angle, drawn from its foot, (0, 0.4) to (1, 0.6), upwards.
        let shops = Zone {
            id: "shops".into(),
            kind: ZoneKind::Facade,
            polygon: vec![(0.0, 0.1), (1.0, 0.1), (1.0, 0.6), (0.0, 0.4)],
        };
        let a = analysis(vec![sidewalk(), shops]).expect("analysis");
        let sign = |bbox| candidate("illegal_signage", None, bbox);
        // A new poster on the shopfront (a candidate by the baseline, in no zone): the foot of
        // the facade below its centre, as for a sign in a no_signage zone.
        let poster = sign(BBox::new(0.45, 0.2, 0.55, 0.3));
        assert_eq!(round(a.ground_point(&poster)), (0.5, 0.5));
        // Something only half on it (a sign hanging above the drawn facade): its own bottom.
        let above = sign(BBox::new(0.45, 0.0, 0.55, 0.2));
        assert_eq!(round(a.ground_point(&above)), (0.5, 0.2));
        // An A-frame standing in front of the facade reaches below its foot: its own bottom.
        let a_frame = sign(BBox::new(0.45, 0.3, 0.55, 0.52));
        assert_eq!(round(a.ground_point(&a_frame)), (0.5, 0.52));
        // Goods are never moved to a facade.
        let mut stack = sign(BBox::new(0.45, 0.2, 0.55, 0.3));
        stack.category = "sidewalk_stacking".into();
        assert_eq!(round(a.ground_point(&stack)), (0.5, 0.3));
    }

    fn analysis(zones: Vec<Zone>) -> Result<CameraAnalysis, AnalysisError> {
        CameraAnalysis::new(
            CameraId::new("cam-1"),
            zones,
            RuleSet::default(),
            Baseline::default(),
            chrono_tz::Asia::Shanghai,
            DetectorIntervals::default(),
        )
    }

    fn vendor(x: f32) -> Observation {
        Observation::new(
            BBox::new(x, 0.55, x + 0.1, 0.85),
            0.8,
            "street_vending",
            DetectorKind::Objects,
        )
    }

    fn run(a: &mut CameraAnalysis, from: u64, to: u64, obs: &[Observation]) -> Vec<Candidate> {
        (from..=to)
            .step_by(2)
            .flat_map(|s| a.update(at(s), DetectorKind::Objects, obs))
            .collect()
    }

    #[test]
    fn construction_errors_name_the_item() {
        let mut bad = sidewalk();
        bad.polygon.truncate(2);
        let e = analysis(vec![bad]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "zone `sidewalk`: polygon has 2 point(s), needs at least 3"
        );
        let mut rules = RuleSet::default();
        rules
            .zone_overrides
            .insert("gate".into(), Default::default());
        let e = CameraAnalysis::new(
            CameraId::new("cam-1"),
            vec![sidewalk()],
            rules,
            Baseline::default(),
            chrono_tz::Asia::Shanghai,
            DetectorIntervals::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("`gate`"));
    }

    #[test]
    fn one_candidate_with_fields() {
        let mut a = analysis(vec![sidewalk()]).unwrap();
        let out = run(&mut a, 0, 1200, &[vendor(0.3)]);
        assert_eq!(out.len(), 1);
        let c = &out[0];
        assert_eq!(c.id, 1);
        assert_eq!(c.category, "street_vending");
        assert_eq!(c.zone.as_deref(), Some("sidewalk"));
        assert_eq!(c.arrived, at(0));
        assert_eq!(c.emitted, at(300));
        assert_eq!(c.escalation(), Escalation::Blue);
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(json["camera"], "cam-1");
        assert_eq!(json["emitted"], "2027-01-15T08:05:00Z");
        assert_eq!(json["bbox"].as_array().unwrap().len(), 4);
        let back: Candidate = serde_json::from_value(json).unwrap();
        assert_eq!(&back, c);
    }

    #[test]
    fn history_continues_ids_and_ignores_other_cameras() {
        let mut a = analysis(vec![sidewalk()]).unwrap();
        let first = run(&mut a, 0, 400, &[vendor(0.3)]);
        let mut other = first[0].clone();
        other.camera = CameraId::new("cam-2");
        other.id = 99;
        let mut b = analysis(vec![sidewalk()])
            .unwrap()
            .with_history(&[first[0].clone(), other]);
        // Still there after the restart: nothing. A new stall elsewhere: id 2.
        let out = run(&mut b, 500, 1200, &[vendor(0.3), vendor(0.7)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, 2);
        assert_eq!(out[0].bbox.x1, 0.7);
    }

    #[test]
    fn reconfigure_keeps_dwell_and_emitted_violations() {
        let mut a = analysis(Vec::new()).unwrap();
        // No zone yet: a stall on the sidewalk is nobody's business.
        assert!(run(&mut a, 0, 200, &[vendor(0.3)]).is_empty());
        // The admin draws the sidewalk: the stall's five minutes count from its arrival.
        let edit = |a: &mut CameraAnalysis, zones| {
            a.reconfigure(
                zones,
                RuleSet::default(),
                Baseline::default(),
                chrono_tz::UTC,
            )
        };
        edit(&mut a, vec![sidewalk()]).unwrap();
        let out = run(&mut a, 202, 400, &[vendor(0.3)]);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].arrived, out[0].emitted), (at(0), at(300)));
        assert_eq!(out[0].zone.as_deref(), Some("sidewalk"));
        // Saved again unchanged, and then a bad edit: no second candidate, the zone stays.
        edit(&mut a, vec![sidewalk()]).unwrap();
        let mut bad = sidewalk();
        bad.polygon.truncate(2);
        let e = edit(&mut a, vec![bad]).unwrap_err();
        assert!(e.to_string().contains("zone `sidewalk`"), "{e}");
        let out = run(&mut a, 402, 1200, &[vendor(0.3), vendor(0.7)]);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].id, out[0].bbox.x1), (2, 0.7));
        assert_eq!(out[0].zone.as_deref(), Some("sidewalk"));
    }

    /// A 64 × 36 street with a patch at `(20..30, 10..20)`: stripes (a parked bicycle) or, with
    /// `poster`, a light block (a poster put up over it), lit by `gain`.
    fn street(poster: bool, gain: f32) -> Vec<u8> {
        let mut rgb = Vec::new();
        for y in 0..36usize {
            for x in 0..64usize {
                let mut v = 90.0 + (x % 5) as f32;
                if (20..30).contains(&x) && (10..20).contains(&y) {
                    v = match (poster, (x + y) % 4 < 2) {
                        (true, _) if y < 13 => 40.0,
                        (true, _) => 230.0,
                        (false, true) => 200.0,
                        (false, false) => 50.0,
                    };
                }
                let g = (v * gain) as u8;
                rgb.extend_from_slice(&[g, g, g]);
            }
        }
        rgb
    }

    #[test]
    fn signs_on_patches_unchanged_since_the_baseline_picture_are_the_approved_scene() {
        fn view(rgb: &[u8]) -> RgbView<'_> {
            RgbView {
                width: 64,
                height: 36,
                rgb,
            }
        }
        let approved = street(false, 1.0);
        let baseline = Baseline {
            picture: ScenePicture::median_of(&[view(&approved)]),
            ..Baseline::default()
        };
        let with = |zones: Vec<Zone>| {
            CameraAnalysis::new(
                CameraId::new("cam-1"),
                zones,
                RuleSet::default(),
                baseline.clone(),
                chrono_tz::Asia::Shanghai,
                DetectorIntervals::default(),
            )
            .expect("valid")
        };
        let text = [Observation::new(
            BBox::new(20.0 / 64.0, 10.0 / 36.0, 30.0 / 64.0, 20.0 / 36.0),
            0.9,
            "text",
            DetectorKind::Text,
        )];
        let feed = |a: &mut CameraAnalysis, frame: &[u8]| -> Vec<Candidate> {
            (0..=600)
                .step_by(4)
                .flat_map(|s| a.update_seen(at(s), DetectorKind::Text, &text, view(frame)))
                .collect()
        };
        // The text detector starts seeing print on the bicycle, in the evening light: approved.
        assert!(feed(&mut with(Vec::new()), &street(false, 0.7)).is_empty());
        // A poster put up over it is new signage.
        let out = feed(&mut with(Vec::new()), &street(true, 0.7));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].category, "illegal_signage");
        // In a no_signage zone the picture approves nothing: the same unchanged text is a case.
        let wall = Zone {
            id: "wall".into(),
            kind: ZoneKind::NoSignage,
            polygon: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)],
        };
        let out = feed(&mut with(vec![wall]), &street(false, 0.7));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].zone.as_deref(), Some("wall"));
        // A zone holding a third of the box (a lamp post beside the bicycle) is not where its
        // track is judged, so the picture approves it as it approves the track.
        let post = |x1: f64| Zone {
            id: "post".into(),
            kind: ZoneKind::NoSignage,
            polygon: vec![(x1, 0.0), (0.6, 0.0), (0.6, 1.0), (x1, 1.0)],
        };
        assert!(feed(&mut with(vec![post(0.415)]), &street(false, 0.7)).is_empty());
        // Nor is one holding 0.6 of it (the bicycle parked behind the post, its frame seen on
        // both sides), though a track with that box would be in the zone: the text is not on
        // the post's surface.
        assert!(feed(&mut with(vec![post(0.375)]), &street(false, 0.7)).is_empty());
        // Without a picture the same text is new signage too (the regions are empty).
        let mut plain = analysis(Vec::new()).expect("valid");
        assert_eq!(feed(&mut plain, &street(false, 0.7)).len(), 1);
    }

    #[test]
    fn unknown_labels_and_bad_numbers_are_dropped() {
        let mut a = analysis(vec![sidewalk()]).unwrap();
        let mut nan = vendor(0.3);
        nan.score = f32::NAN;
        let mut other = vendor(0.6);
        other.label = "car".into();
        assert!(run(&mut a, 0, 1200, &[nan, other]).is_empty());
        assert!(a.tracker().tracks().is_empty());
    }
}
