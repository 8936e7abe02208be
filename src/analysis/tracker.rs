//! Per-camera tracker: turns each detector run's [`Observation`]s into [`Track`]s with stable ids.
//!
//! Owns track identity, box smoothing, score smoothing, confirmation and the end of a track.
//! Matching is greedy by IoU within one (detector, label) pair; small boxes also match by centre
//! distance. A track survives misses for `max_gap` (so a stall hidden by a bus keeps its id and its
//! dwell) and is only aged by runs of its own detector: a detector that stops reporting freezes its
//! tracks instead of ending them, so a dead text model never reads as "the poster was removed".
//!
//! Pure: time comes in with each call; there is no I/O.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::time::since;
use super::{DetectorIntervals, DetectorKind, Observation};
use crate::domain::BBox;

/// Tuning for one detector (or one label).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerConfig {
    /// An observation continues a track when their IoU is at least this (default 0.3).
    pub iou_threshold: f32,
    /// Boxes whose longer side is below this (normalised; default 0.05) also match by centre
    /// distance, because a few pixels of jitter ruin the IoU of a small box.
    pub small_box: f32,
    /// Largest centre distance (normalised; default 0.03) for a small-box match.
    pub centre_distance: f32,
    /// A track that has not been matched for longer than this ends.
    pub max_gap: Duration,
    /// Hits before a track is confirmed (default 2).
    pub min_hits: u32,
    /// How many recent scores the median is taken over (default 15).
    pub score_window: usize,
    /// Weight of the new box in the exponential moving average (default 0.5).
    pub smoothing: f32,
}

impl TrackerConfig {
    /// Defaults for a detector that runs every `interval`: `max_gap` = max(30 s, 3 × interval).
    pub fn for_interval(interval: Duration) -> Self {
        Self {
            iou_threshold: 0.3,
            small_box: 0.05,
            centre_distance: 0.03,
            max_gap: Duration::from_secs(30).max(interval.saturating_mul(3)),
            min_hits: 2,
            score_window: 15,
            smoothing: 0.5,
        }
    }
}

/// One object followed over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    id: u64,
    label: String,
    source: DetectorKind,
    bbox: BBox,
    last_bbox: BBox,
    first_seen: SystemTime,
    last_seen: SystemTime,
    hits: u32,
    misses: u32,
    confirmed: bool,
    scores: VecDeque<f32>,
}

impl Track {
    /// Unique within one [`Tracker`] (so within one camera).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The detector that produced the track.
    pub fn source(&self) -> DetectorKind {
        self.source
    }

    /// The smoothed box (EMA of the observed boxes).
    pub fn bbox(&self) -> BBox {
        self.bbox
    }

    /// The box of the latest observation, unsmoothed.
    pub fn last_bbox(&self) -> BBox {
        self.last_bbox
    }

    /// When the track was first observed, or the earliest `since` a static detector reported
    /// for it when that is earlier.
    pub fn first_seen(&self) -> SystemTime {
        self.first_seen
    }

    /// When the track was last matched.
    pub fn last_seen(&self) -> SystemTime {
        self.last_seen
    }

    /// `last_seen − first_seen`.
    pub fn dwell(&self) -> Duration {
        since(self.last_seen, self.first_seen)
    }

    /// How many observations the track has absorbed.
    pub fn hits(&self) -> u32 {
        self.hits
    }

    /// Runs of the track's detector that did not see it, while the track lived.
    pub fn misses(&self) -> u32 {
        self.misses
    }

    /// Share of its detector's runs that saw the track: hits / (hits + misses). A sign on a wall
    /// is seen on nearly every run; text glimpsed now and then on passing goods or clothes is not.
    pub fn presence(&self) -> f32 {
        let runs = self.hits.saturating_add(self.misses).max(1);
        self.hits as f32 / runs as f32
    }

    /// Whether the track has had `min_hits` observations (it stays confirmed afterwards).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }

    /// Median of the last `score_window` scores; robust to one bad frame.
    pub fn score(&self) -> f32 {
        let mut s: Vec<f32> = self.scores.iter().copied().collect();
        if s.is_empty() {
            return 0.0;
        }
        s.sort_by(f32::total_cmp);
        let n = s.len();
        if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        }
    }
}

/// What one [`Tracker::update`] changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackerUpdate {
    /// Ids of existing tracks that absorbed an observation.
    pub matched: Vec<u64>,
    /// Ids of tracks started by this update.
    pub created: Vec<u64>,
    /// Tracks that went unmatched for longer than their `max_gap` and were removed: the thing
    /// they followed has left.
    pub ended: Vec<Track>,
}

/// Tracks of one camera, for all detectors and labels.
#[derive(Debug, Clone)]
pub struct Tracker {
    configs: [TrackerConfig; 3],
    label_configs: BTreeMap<String, TrackerConfig>,
    tracks: Vec<Track>,
    next_id: u64,
}

fn kind_index(kind: DetectorKind) -> usize {
    match kind {
        DetectorKind::Objects => 0,
        DetectorKind::Text => 1,
        DetectorKind::Static => 2,
    }
}

fn centre(b: &BBox) -> (f32, f32) {
    ((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0)
}

fn ema(old: &BBox, new: &BBox, a: f32) -> BBox {
    let mix = |o: f32, n: f32| o + a * (n - o);
    BBox::new(
        mix(old.x1, new.x1),
        mix(old.y1, new.y1),
        mix(old.x2, new.x2),
        mix(old.y2, new.y2),
    )
}

impl Tracker {
    /// A tracker whose per-detector defaults come from the detector intervals
    /// ([`TrackerConfig::for_interval`]).
    pub fn new(intervals: &DetectorIntervals) -> Self {
        Self {
            configs: [
                TrackerConfig::for_interval(intervals.objects),
                TrackerConfig::for_interval(intervals.text),
                TrackerConfig::for_interval(intervals.static_objects),
            ],
            label_configs: BTreeMap::new(),
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// Replaces the configuration of every label of one detector (unless a label has its own).
    pub fn set_config(&mut self, source: DetectorKind, config: TrackerConfig) {
        self.configs[kind_index(source)] = config;
    }

    /// Gives one label its own configuration, whatever detector reports it.
    pub fn set_label_config(&mut self, label: &str, config: TrackerConfig) {
        self.label_configs.insert(label.to_owned(), config);
    }

    /// The configuration used for `label` from `source`.
    pub fn config_for(&self, source: DetectorKind, label: &str) -> &TrackerConfig {
        self.label_configs
            .get(label)
            .unwrap_or(&self.configs[kind_index(source)])
    }

    /// Live tracks, oldest first.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    pub fn get(&self, id: u64) -> Option<&Track> {
        self.tracks.iter().find(|t| t.id == id)
    }

    /// Feeds one run of detector `source` at time `t`.
    ///
    /// First, tracks of `source` unmatched for longer than their `max_gap` end. Then each
    /// observation is matched (by its own `source` and `label`) to at most one live track, best
    /// IoU first; leftovers start new tracks. Observations should be finite and normalised; the
    /// caller ([`super::CameraAnalysis`]) filters the rest.
    pub fn update(
        &mut self,
        t: SystemTime,
        source: DetectorKind,
        observations: &[Observation],
    ) -> TrackerUpdate {
        let mut out = TrackerUpdate::default();

        // Age tracks of the detector that ran.
        let mut kept = Vec::with_capacity(self.tracks.len());
        for track in std::mem::take(&mut self.tracks) {
            let gap = self.config_for(track.source, &track.label).max_gap;
            if track.source == source && since(t, track.last_seen) > gap {
                out.ended.push(track);
            } else {
                kept.push(track);
            }
        }
        self.tracks = kept;

        // Candidate pairs: (is an IoU match, quality, track index, observation index).
        let mut pairs: Vec<(bool, f32, usize, usize)> = Vec::new();
        for (ti, track) in self.tracks.iter().enumerate() {
            let cfg = self.config_for(track.source, &track.label);
            for (oi, obs) in observations.iter().enumerate() {
                if obs.source != track.source || obs.label != track.label {
                    continue;
                }
                let iou = track.bbox.iou(&obs.bbox);
                if iou >= cfg.iou_threshold {
                    pairs.push((true, iou, ti, oi));
                    continue;
                }
                let small = |b: &BBox| b.width().max(b.height()) < cfg.small_box;
                if small(&track.bbox) || small(&obs.bbox) {
                    let (ax, ay) = centre(&track.bbox);
                    let (bx, by) = centre(&obs.bbox);
                    let d = ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt();
                    if d <= cfg.centre_distance {
                        pairs.push((false, -d, ti, oi));
                    }
                }
            }
        }
        pairs.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.total_cmp(&a.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });

        let mut track_used = vec![false; self.tracks.len()];
        let mut obs_used = vec![false; observations.len()];
        for (_, _, ti, oi) in pairs {
            if track_used[ti] || obs_used[oi] {
                continue;
            }
            track_used[ti] = true;
            obs_used[oi] = true;
            let obs = &observations[oi];
            let cfg = self.config_for(self.tracks[ti].source, &self.tracks[ti].label);
            let (alpha, window, min_hits) = (cfg.smoothing, cfg.score_window.max(1), cfg.min_hits);
            let track = &mut self.tracks[ti];
            track.bbox = ema(&track.bbox, &obs.bbox, alpha);
            track.last_bbox = obs.bbox;
            track.last_seen = track.last_seen.max(t);
            if let Some(s) = obs.since {
                track.first_seen = track.first_seen.min(s);
            }
            track.hits = track.hits.saturating_add(1);
            track.confirmed |= track.hits >= min_hits;
            track.scores.push_back(obs.score);
            while track.scores.len() > window {
                track.scores.pop_front();
            }
            out.matched.push(track.id);
        }

        for (track, used) in self.tracks.iter_mut().zip(&track_used) {
            if track.source == source && !used {
                track.misses = track.misses.saturating_add(1);
            }
        }

        for (oi, obs) in observations.iter().enumerate() {
            if obs_used[oi] {
                continue;
            }
            let min_hits = self.config_for(obs.source, &obs.label).min_hits;
            let id = self.next_id;
            self.next_id += 1;
            let first_seen = obs.since.map_or(t, |s| s.min(t));
            self.tracks.push(Track {
                id,
                label: obs.label.clone(),
                source: obs.source,
                bbox: obs.bbox,
                last_bbox: obs.bbox,
                first_seen,
                last_seen: t,
                hits: 1,
                misses: 0,
                confirmed: min_hits <= 1,
                scores: VecDeque::from([obs.score]),
            });
            out.created.push(id);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn at(s: u64) -> SystemTime {
        t0() + Duration::from_secs(s)
    }

    fn obs(label: &str, source: DetectorKind, b: [f32; 4], score: f32) -> Observation {
        Observation {
            bbox: BBox::new(b[0], b[1], b[2], b[3]),
            score,
            label: label.into(),
            source,
            since: None,
        }
    }

    fn vendor(score: f32) -> Observation {
        obs(
            "street_vending",
            DetectorKind::Objects,
            [0.2, 0.5, 0.3, 0.8],
            score,
        )
    }

    fn tracker() -> Tracker {
        Tracker::new(&DetectorIntervals::default())
    }

    #[test]
    fn default_gap_follows_interval() {
        let tr = tracker();
        assert_eq!(
            tr.config_for(DetectorKind::Objects, "street_vending")
                .max_gap,
            Duration::from_secs(30)
        );
        assert_eq!(
            tr.config_for(DetectorKind::Text, "text").max_gap,
            Duration::from_secs(180)
        );
    }

    #[test]
    fn occlusion_keeps_id_and_dwell() {
        let mut tr = tracker();
        for s in (0..=20).step_by(2) {
            tr.update(at(s), DetectorKind::Objects, &[vendor(0.8)]);
        }
        let id = tr.tracks()[0].id();
        // Hidden by a bus for 10 s (empty runs), then back.
        for s in (22..=30).step_by(2) {
            let u = tr.update(at(s), DetectorKind::Objects, &[]);
            assert!(u.ended.is_empty());
        }
        let u = tr.update(at(32), DetectorKind::Objects, &[vendor(0.8)]);
        assert_eq!(u.matched, vec![id]);
        assert_eq!(tr.tracks().len(), 1);
        assert_eq!(tr.tracks()[0].dwell(), Duration::from_secs(32));
    }

    #[test]
    fn track_ends_after_max_gap() {
        let mut tr = tracker();
        tr.update(at(0), DetectorKind::Objects, &[vendor(0.8)]);
        tr.update(at(2), DetectorKind::Objects, &[vendor(0.8)]);
        assert!(tr
            .update(at(32), DetectorKind::Objects, &[])
            .ended
            .is_empty());
        let u = tr.update(at(34), DetectorKind::Objects, &[vendor(0.8)]);
        assert_eq!(u.ended.len(), 1);
        assert_eq!(u.ended[0].last_seen(), at(2));
        assert_eq!(u.created.len(), 1);
        assert_ne!(u.created[0], u.ended[0].id());
    }

    #[test]
    fn other_detectors_do_not_age_a_track() {
        let mut tr = tracker();
        let text = obs("text", DetectorKind::Text, [0.6, 0.2, 0.7, 0.3], 0.9);
        tr.update(at(0), DetectorKind::Text, std::slice::from_ref(&text));
        // Objects runs for 10 minutes without text: the text track is frozen, not ended.
        for s in (2..600).step_by(2) {
            assert!(tr
                .update(at(s), DetectorKind::Objects, &[])
                .ended
                .is_empty());
        }
        assert_eq!(tr.tracks().len(), 1);
        // Text detector every 60 s: one missed run is well within its 180 s gap.
        let u = tr.update(at(720), DetectorKind::Text, &[text]);
        assert_eq!(u.ended.len(), 1, "720 s since last seen > 180 s");
    }

    #[test]
    fn text_every_minute_survives_a_missed_run() {
        let mut tr = tracker();
        let text = obs("text", DetectorKind::Text, [0.6, 0.2, 0.7, 0.3], 0.9);
        tr.update(at(0), DetectorKind::Text, std::slice::from_ref(&text));
        tr.update(at(60), DetectorKind::Text, &[]);
        let u = tr.update(at(120), DetectorKind::Text, std::slice::from_ref(&text));
        assert_eq!(u.matched.len(), 1);
        assert_eq!(tr.tracks()[0].dwell(), Duration::from_secs(120));
    }

    #[test]
    fn confirmed_after_min_hits() {
        let mut tr = tracker();
        tr.update(at(0), DetectorKind::Objects, &[vendor(0.8)]);
        assert!(!tr.tracks()[0].is_confirmed());
        tr.update(at(2), DetectorKind::Objects, &[vendor(0.8)]);
        assert!(tr.tracks()[0].is_confirmed());
    }

    #[test]
    fn score_is_median_not_last() {
        let mut tr = tracker();
        for (i, s) in [0.8, 0.8, 0.8, 0.1].into_iter().enumerate() {
            tr.update(at(2 * i as u64), DetectorKind::Objects, &[vendor(s)]);
        }
        assert!((tr.tracks()[0].score() - 0.8).abs() < 1e-6);
        // The window keeps only the last 15.
        for i in 4..40u64 {
            tr.update(at(2 * i), DetectorKind::Objects, &[vendor(0.2)]);
        }
        assert!((tr.tracks()[0].score() - 0.2).abs() < 1e-6);
    }

    #[test]
    fn box_is_smoothed() {
        let mut tr = tracker();
        tr.update(at(0), DetectorKind::Objects, &[vendor(0.8)]);
        let moved = obs(
            "street_vending",
            DetectorKind::Objects,
            [0.22, 0.5, 0.32, 0.8],
            0.8,
        );
        tr.update(at(2), DetectorKind::Objects, &[moved]);
        let b = tr.tracks()[0].bbox();
        assert!((b.x1 - 0.21).abs() < 1e-6);
        assert!((tr.tracks()[0].last_bbox().x1 - 0.22).abs() < 1e-6);
    }

    #[test]
    fn labels_and_detectors_never_mix() {
        let mut tr = tracker();
        let stack = obs(
            "sidewalk_stacking",
            DetectorKind::Objects,
            [0.2, 0.5, 0.3, 0.8],
            0.8,
        );
        let stat = obs(
            "static_object",
            DetectorKind::Static,
            [0.2, 0.5, 0.3, 0.8],
            0.8,
        );
        tr.update(at(0), DetectorKind::Objects, &[vendor(0.8), stack.clone()]);
        tr.update(at(1), DetectorKind::Static, &[stat]);
        let u = tr.update(at(2), DetectorKind::Objects, &[stack, vendor(0.8)]);
        assert_eq!(tr.tracks().len(), 3);
        assert_eq!(u.matched.len(), 2);
        assert!(u.created.is_empty());
    }

    #[test]
    fn two_boxes_match_the_best_tracks() {
        let mut tr = tracker();
        let a = obs("text", DetectorKind::Text, [0.1, 0.1, 0.3, 0.2], 0.9);
        let b = obs("text", DetectorKind::Text, [0.25, 0.1, 0.45, 0.2], 0.9);
        tr.update(at(0), DetectorKind::Text, &[a.clone(), b.clone()]);
        let (ida, idb) = (tr.tracks()[0].id(), tr.tracks()[1].id());
        // Reported in the other order: ids follow the boxes, not the order.
        tr.update(at(60), DetectorKind::Text, &[b, a]);
        assert_eq!(tr.get(ida).unwrap().bbox().x1, 0.1);
        assert_eq!(tr.get(idb).unwrap().bbox().x1, 0.25);
    }

    #[test]
    fn small_boxes_match_by_centre_distance() {
        let mut tr = tracker();
        let a = obs("text", DetectorKind::Text, [0.50, 0.50, 0.52, 0.51], 0.9);
        // Shifted by more than its own width: IoU 0, centre 0.025 away.
        let b = obs("text", DetectorKind::Text, [0.525, 0.50, 0.545, 0.51], 0.9);
        tr.update(at(0), DetectorKind::Text, &[a]);
        let u = tr.update(at(60), DetectorKind::Text, &[b]);
        assert_eq!(u.matched.len(), 1);
        // A large box moved the same way no longer overlaps enough and starts a new track.
        let mut tr = tracker();
        tr.update(
            at(0),
            DetectorKind::Objects,
            &[obs(
                "street_vending",
                DetectorKind::Objects,
                [0.1, 0.1, 0.2, 0.2],
                0.9,
            )],
        );
        let u = tr.update(
            at(2),
            DetectorKind::Objects,
            &[obs(
                "street_vending",
                DetectorKind::Objects,
                [0.17, 0.1, 0.27, 0.2],
                0.9,
            )],
        );
        assert_eq!(u.created.len(), 1);
    }

    #[test]
    fn since_moves_first_seen_back() {
        let mut tr = tracker();
        let mut o = obs(
            "static_object",
            DetectorKind::Static,
            [0.2, 0.5, 0.3, 0.8],
            0.9,
        );
        o.since = Some(at(0));
        tr.update(at(300), DetectorKind::Static, &[o]);
        assert_eq!(tr.tracks()[0].first_seen(), at(0));
        assert_eq!(tr.tracks()[0].dwell(), Duration::from_secs(300));
    }
}
