//! Rules: which tracks are violations, and when exactly one [`Candidate`] is emitted for each.
//!
//! Owns the categories, the per-category [`Rule`]s with per-zone overrides, schedules, allowed
//! vending windows, the approved-signage [`Baseline`], the static-object classification, and the
//! memory of earlier violations (cooldown, recurrence, restart).
//!
//! - Ground categories (`street_vending`, `sidewalk_stacking`, `sidewalk_occupation`) fire only
//!   inside a `no_vending` zone: that zone kind is "the sidewalk", so stacked goods use it too.
//! - `illegal_signage` (labels `illegal_signage`, `text` and `static_sign`, a change in the sign
//!   band that arrived and stayed, from [`super::BandDetector`]) fires for a track inside a
//!   `no_signage` zone (baseline or not), or anywhere for a track that is novel against the
//!   baseline (IoU below 0.3 with every approved region); the candidate's zone is then `None`.
//!   (The baseline's picture acts earlier, in [`super::CameraAnalysis::update_seen`]: sign
//!   observations on patches unchanged since it was taken never reach the tracker.)
//!   A sign track lying half or more inside a confirmed `street_vending` / `sidewalk_stacking`
//!   track never fires, nor does a `text` or `static_sign` track half inside a confirmed
//!   `static_object`: print on goods and boxes belongs to them (a poster hidden behind a stall
//!   is reported when the stall has gone; an A-frame is still found by the object model's sign
//!   class). Print arrives with its goods, so text first seen `print_lag` (10 s) or more after
//!   the static object arrived is not its print but something put there later (an A-frame set
//!   down in front of a pile already there). Goods standing behind the `no_signage` zone the
//!   sign is in (their foot higher in the image than the zone's lowest point: a stack behind a
//!   lamp post) do not own it: the post, and the sheet on it, are in front of them.
//! - Outside `no_signage` zones a `static_sign` whose foot (bottom centre) stands in a
//!   `no_vending` zone is not a sign but something on the sidewalk: goods too small for the
//!   whole-frame static-object detector (a far stack at the wall), or the top of goods it has
//!   not found yet. It is classified as a `static_object` is, with its dwell counted from its
//!   arrival in the zone; a later whole-frame track of the same goods at its spot joins its
//!   candidate. This path is for what nothing else sees: while any confirmed static object
//!   track overlaps the region, or goods that have qualified or that the object model sees well
//!   enough for their own rule (score and presence), or a sign track at least a third as wide
//!   as it, it is theirs and waits (a sliver at a stack's edge, the legs of an A-frame under its
//!   text; but not materials with a small A-frame before them, whose text is a speck of the
//!   region, nor a far stack the model finds at a score its rule refuses: that track only names
//!   the category).
//! - A `static_object` track takes the category of a confirmed `street_vending` /
//!   `sidewalk_stacking` track overlapping it (IoU ≥ 0.3) that the object model sees on at least
//!   half its runs, else `sidewalk_occupation`: a class glimpsed now and then (a pile of sacks
//!   called a stall on one run in three) is a guess the operator makes better. One that stays
//!   `sidewalk_occupation` and holds half or more of a live signage candidate's box, that box
//!   at least a third as wide as it, carries that sign (an A-frame's stand under its text) and
//!   joins its candidate; and the other way round, a sign outside every `no_signage` zone that
//!   such a live candidate's box holds in the same way joins that candidate (the stand came
//!   first).
//! - Dwell counts from when the track entered the zone (for zone-less signage: its first
//!   sighting), but only time during which the rule is enforced counts: time outside the rule's
//!   `schedule`, or inside an `allowed_vending` zone during its window, restarts the count. So a
//!   night-market vendor still there after 23:00 is counted from 23:00 (the first update after the
//!   window closed), and one who arrives at 23:30 from 23:30: whichever is later. Allowed vending
//!   covers `street_vending` and unclassified static objects (the stall itself), not stacking.
//! - One candidate per violation: a track emits at most once. A track that qualifies at the spot
//!   (same zone, IoU ≥ 0.3 with the earlier candidate's box; for signage, or half of the smaller
//!   box inside the larger, as a poster's lines inside the poster) of a violation still present (any
//!   linked track alive; ground categories count as one group, so a static object and the
//!   vending track on it never make two) joins it silently. So does a ground track that grows a
//!   ground violation still present: half or more of its box inside that violation's (goods
//!   put on a stall's table), or a pile (`sidewalk_stacking`, `sidewalk_occupation`) touching a
//!   pile (boxes added beside a stack); the static-object detector reports things that arrived
//!   apart as regions of their own. A pile put down beside a stall is new. For a violation
//!   that has left, the cooldown runs from when it left to when the new track arrived: within
//!   it the violation resumes silently; after it (up to `recurrence_window`) a new candidate
//!   is linked to the earlier one with the count raised.
//! - A candidate is refined, never emitted again: when a track of a specific category that
//!   qualified by its own rule joins a live `sidewalk_occupation` violation (the object model's
//!   stall or stack on the thing the static-object detector found, or the sign an A-frame's
//!   stand carries), the violation takes that category and a [`Refinement`] says so. Other
//!   categories never change once emitted.
//!
//! Pure: time comes in with each call; there is no I/O.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::picture::ScenePicture;
use super::static_objects::STATIC_SIGN;
use super::time::{any_contains, since, TimeWindow};
use super::tracker::Track;
use super::zones::{Zone, ZoneHit, ZoneKind};
use super::Candidate;
use crate::domain::{BBox, CameraId};

/// What a candidate is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 占道经营.
    StreetVending,
    /// 占道堆放.
    SidewalkStacking,
    /// 非法小广告 / 违规广告.
    IllegalSignage,
    /// An object left on the sidewalk that the object model does not classify.
    SidewalkOccupation,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::StreetVending,
        Category::SidewalkStacking,
        Category::IllegalSignage,
        Category::SidewalkOccupation,
    ];

    /// The snake_case name used in candidates and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::StreetVending => "street_vending",
            Category::SidewalkStacking => "sidewalk_stacking",
            Category::IllegalSignage => "illegal_signage",
            Category::SidewalkOccupation => "sidewalk_occupation",
        }
    }

    /// Placed by the ground point and confined to `no_vending` zones.
    pub fn is_ground(self) -> bool {
        self != Category::IllegalSignage
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown category `{s}`"))
    }
}

fn default_min_score() -> f32 {
    0.5
}

fn default_min_presence() -> f32 {
    0.5
}

fn default_cooldown() -> Duration {
    Duration::from_secs(30 * 60)
}

fn default_recurrence_window() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// When a category becomes a candidate.
///
/// JSON: `{"min_score": 0.5, "min_presence": 0.5, "min_dwell": 300, "cooldown": 1800,
/// "schedule": null}` with durations in seconds; all but `min_dwell` may be left out (0.5, 0.5,
/// 30 min, always).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Minimum track score (the median of its recent scores).
    #[serde(default = "default_min_score")]
    pub min_score: f32,
    /// Minimum share of the detector's runs that saw the object while it dwelt
    /// ([`super::tracker::Track::presence`]): something seen only now and then is not there.
    #[serde(default = "default_min_presence")]
    pub min_presence: f32,
    /// How long the violation must persist (enforced time only).
    #[serde(with = "super::time::secs")]
    pub min_dwell: Duration,
    /// After a violation leaves, a return to the same spot sooner than this is the same
    /// violation.
    #[serde(with = "super::time::secs", default = "default_cooldown")]
    pub cooldown: Duration,
    /// When the rule is enforced; `None` = always. `Some` must not be empty.
    #[serde(default)]
    pub schedule: Option<Vec<TimeWindow>>,
}

impl Rule {
    /// The built-in rule: min_dwell 5 min (vending), 10 min (stacking, occupation), 2 min
    /// (signage); cooldown 30 min; min_score 0.5; min_presence 0.5; always enforced.
    pub fn default_for(category: Category) -> Rule {
        let minutes = match category {
            Category::StreetVending => 5,
            Category::SidewalkStacking | Category::SidewalkOccupation => 10,
            Category::IllegalSignage => 2,
        };
        Rule {
            min_score: default_min_score(),
            min_presence: default_min_presence(),
            min_dwell: Duration::from_secs(minutes * 60),
            cooldown: default_cooldown(),
            schedule: None,
        }
    }

    /// Whether the track's score and presence are enough for this rule (its dwell aside).
    fn sees(&self, track: &Track) -> bool {
        track.score() >= self.min_score && track.presence() >= self.min_presence
    }

    fn validate(&self, rule: String) -> Result<(), RuleError> {
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(RuleError::MinScore {
                rule,
                min_score: self.min_score,
            });
        }
        if !(0.0..=1.0).contains(&self.min_presence) {
            return Err(RuleError::MinPresence {
                rule,
                min_presence: self.min_presence,
            });
        }
        if self.schedule.as_ref().is_some_and(Vec::is_empty) {
            return Err(RuleError::EmptySchedule { rule });
        }
        Ok(())
    }
}

/// Rules for every category, with per-zone overrides.
///
/// JSON: `{"defaults": {"street_vending": {...}}, "zone_overrides": {"school_gate":
/// {"street_vending": {...}}}, "recurrence_window": 86400}`; everything optional. A category
/// missing from `defaults` uses [`Rule::default_for`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    #[serde(default)]
    pub defaults: BTreeMap<Category, Rule>,
    #[serde(default)]
    pub zone_overrides: BTreeMap<String, BTreeMap<Category, Rule>>,
    /// How long a violation that left is remembered for recurrence (default 24 h); a return
    /// after that is a fresh violation (count 1).
    #[serde(with = "super::time::secs", default = "default_recurrence_window")]
    pub recurrence_window: Duration,
}

impl Default for RuleSet {
    fn default() -> Self {
        Self {
            defaults: BTreeMap::new(),
            zone_overrides: BTreeMap::new(),
            recurrence_window: default_recurrence_window(),
        }
    }
}

impl RuleSet {
    /// The rule for `category` in `zone`: the zone's override, else `defaults`, else built-in.
    pub fn rule_for(&self, category: Category, zone: Option<&str>) -> Cow<'_, Rule> {
        zone.and_then(|z| self.zone_overrides.get(z))
            .and_then(|m| m.get(&category))
            .or_else(|| self.defaults.get(&category))
            .map_or_else(|| Cow::Owned(Rule::default_for(category)), Cow::Borrowed)
    }

    /// Checks every rule, and that overrides name configured zones.
    pub fn validate(&self, zones: &[Zone]) -> Result<(), RuleError> {
        for (c, r) in &self.defaults {
            r.validate(format!("{c}"))?;
        }
        for (z, m) in &self.zone_overrides {
            if !zones.iter().any(|zone| &zone.id == z) {
                return Err(RuleError::UnknownZone { zone: z.clone() });
            }
            for (c, r) in m {
                r.validate(format!("{c} in zone `{z}`"))?;
            }
        }
        Ok(())
    }
}

/// Why a rule set is unusable; every message names the rule.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RuleError {
    #[error("rule {rule}: min_score {min_score} is outside 0..=1")]
    MinScore { rule: String, min_score: f32 },
    #[error("rule {rule}: min_presence {min_presence} is outside 0..=1")]
    MinPresence { rule: String, min_presence: f32 },
    #[error("rule {rule}: schedule is empty, so it would never be enforced (leave it out or null for always)")]
    EmptySchedule { rule: String },
    #[error("zone_overrides names zone `{zone}`, which is not configured for this camera")]
    UnknownZone { zone: String },
}

/// The approved signage of a camera: text regions an admin accepted at set-up, and optionally a
/// picture of the scene then ([`super::picture`]; [`super::CameraAnalysis`] uses it, the rules
/// use the regions). The picture is not serialised: it lives in a file of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    #[serde(with = "super::time::bbox_list")]
    pub regions: Vec<BBox>,
    #[serde(skip)]
    pub picture: Option<ScenePicture>,
}

impl Baseline {
    pub fn new(regions: Vec<BBox>) -> Self {
        Self {
            regions,
            picture: None,
        }
    }

    /// Whether `bbox` is new: IoU below `threshold` with every approved region, and not mostly
    /// (half or more of its area) inside one. A few pixels of jitter ruin the IoU of a small
    /// text box on an approved shop sign; lying inside the sign still marks it as part of it.
    pub fn is_novel(&self, bbox: &BBox, threshold: f32) -> bool {
        self.regions
            .iter()
            .all(|r| r.iou(bbox) < threshold && bbox.share_inside(r) < 0.5)
    }

    /// The baseline an admin approves from several frames of a camera: every region seen on any
    /// of them. A detector sees small or faint text on some frames and not others (lighting,
    /// compression, a passer-by in front); one frame would leave those signs out, and each would
    /// later be reported as new. A region that repeats one already kept (IoU ≥ 0.5, or four
    /// fifths of it inside) is dropped, so the list stays one box per sign.
    pub fn from_frames(frames: impl IntoIterator<Item = Vec<BBox>>) -> Self {
        let mut regions: Vec<BBox> = Vec::new();
        for bbox in frames.into_iter().flatten() {
            let repeats = regions
                .iter()
                .any(|r| r.iou(&bbox) >= 0.5 || bbox.share_inside(r) >= 0.8);
            if !repeats {
                regions.push(bbox);
            }
        }
        Self {
            regions,
            picture: None,
        }
    }
}

/// Whether two text boxes read as lines of one sign: one above the other, overlapping across at
/// least half the narrower one's width, with a gap no taller than the taller of them. Boxes side
/// by side, or more than a line's height apart, are separate signs.
fn lines_of_one_sign(a: &BBox, b: &BBox) -> bool {
    let overlap = a.x2.min(b.x2) - a.x1.max(b.x1);
    let narrower = (a.x2 - a.x1).min(b.x2 - b.x1);
    let (upper, lower) = if a.y1 <= b.y1 { (a, b) } else { (b, a) };
    let gap = lower.y1 - upper.y2;
    let taller = (a.y2 - a.y1).max(b.y2 - b.y1);
    narrower > 0.0 && overlap >= 0.5 * narrower && gap <= taller
}

/// Whether a sign's box is wide enough against a region holding it for the region to be that
/// sign's board or stand: at least a third as wide. A line of text on a wider region (a small
/// A-frame's text on a region that also holds the materials behind it) is a part of it at most.
fn is_board_of(sign: &BBox, region: &BBox) -> bool {
    3.0 * sign.width() >= region.width()
}

/// Whether an unclassified object on the sidewalk at `stand` carries the sign at `sign`: half
/// or more of the sign's box inside the stand's, the sign its board ([`is_board_of`]).
fn carries(stand: &BBox, sign: &BBox) -> bool {
    sign.share_inside(stand) >= 0.5 && is_board_of(sign, stand)
}

/// The confirmed tracks of one update that other tracks are judged against.
struct Confirmed<'a> {
    /// `street_vending` and `sidewalk_stacking` (the object model's goods).
    objects: Vec<&'a Track>,
    /// `static_object` (the whole-frame static-object detector's).
    statics: Vec<&'a Track>,
    /// `text` and `illegal_signage`.
    signs: Vec<&'a Track>,
}

impl<'a> Confirmed<'a> {
    fn of(subjects: &[Subject<'a>]) -> Self {
        let with = |labels: &[&str]| -> Vec<&'a Track> {
            subjects
                .iter()
                .map(|s| s.track)
                .filter(|tr| tr.is_confirmed() && labels.contains(&tr.label()))
                .collect()
        };
        Self {
            objects: with(&["street_vending", "sidewalk_stacking"]),
            statics: with(&["static_object"]),
            signs: with(&["text", "illegal_signage"]),
        }
    }

    /// Whether they account for a change in the sign band at `bbox`: goods that could become a
    /// candidate (`can_fire`) or a static object overlapping it at all, or a sign overlapping it
    /// whose board it is ([`is_board_of`]).
    fn explain(&self, bbox: &BBox, can_fire: impl Fn(&Track) -> bool) -> bool {
        let overlaps = |o: &&Track| o.bbox().intersection_area(bbox) > 0.0;
        self.objects.iter().filter(|o| can_fire(o)).any(overlaps)
            || self.statics.iter().any(overlaps)
            || self
                .signs
                .iter()
                .any(|o| overlaps(o) && is_board_of(&o.bbox(), bbox))
    }
}

/// Whether something on the ground at `bbox` (of `category`) is more of a ground violation
/// still there at `earlier`: half of it or more inside that box (goods put on a stall's table,
/// under its canopy), or a pile touching a pile (boxes added beside a stack). The static-object
/// detector reports things that arrived apart as separate regions, though they touch; these
/// are not new violations. A pile put down beside a stall is.
fn grows(earlier_category: Category, earlier: &BBox, category: Category, bbox: &BBox) -> bool {
    let pile = |c: Category| matches!(c, Category::SidewalkStacking | Category::SidewalkOccupation);
    earlier_category.is_ground()
        && category.is_ground()
        && (bbox.share_inside(earlier) >= 0.5
            || (pile(earlier_category) && pile(category) && bbox.intersection_area(earlier) > 0.0))
}

/// The category of a goods track (`street_vending` or `sidewalk_stacking`, the object model's
/// ground classes).
fn goods_category(track: &Track) -> Category {
    if track.label() == "street_vending" {
        Category::StreetVending
    } else {
        Category::SidewalkStacking
    }
}

/// A live track with the zones it is in, as [`Rules::update`] sees it.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub track: &'a Track,
    /// Zones the track is in (after hysteresis), in configuration order.
    pub zones: Vec<ZoneHit>,
}

/// Thresholds of the rules stage.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesConfig {
    /// IoU with an earlier candidate's box that makes "the same spot" (default 0.3).
    pub spot_iou: f32,
    /// A text box with IoU below this against every baseline region is novel (default 0.3).
    pub novelty_iou: f32,
    /// IoU between a static object and an object track that classifies it (default 0.3).
    pub classify_iou: f32,
    /// Least [`Track::presence`] of an object track that classifies a static object (default
    /// 0.5): the model must see the object on most of its runs, not glimpse it now and then.
    pub classify_presence: f32,
    /// After a restart, a track that arrives within this of the first update counts as present
    /// at start (default 3 min; [`super::CameraAnalysis`] uses the largest tracker gap).
    pub restore_grace: Duration,
    /// Text first seen this long or longer after a static object arrived is not that object's
    /// print (default 10 s): print on goods arrives with them, while an A-frame put down in
    /// front of a pile that was already there, or a sheet stuck on it, comes later.
    pub print_lag: Duration,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            spot_iou: 0.3,
            novelty_iou: 0.3,
            classify_iou: 0.3,
            classify_presence: 0.5,
            restore_grace: Duration::from_secs(180),
            print_lag: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct TrackState {
    /// Latest update at which the rule was not counting (out of schedule, allowed window).
    floor: Option<SystemTime>,
    /// The track has qualified; it never emits again.
    done: bool,
    /// The violation (candidate id) it belongs to.
    violation: Option<u64>,
}

#[derive(Debug, Clone)]
struct Violation {
    candidate: Candidate,
    category: Category,
    /// Linked tracks still alive.
    live: BTreeSet<u64>,
    /// When the last linked track was last seen, once none is alive.
    ended_at: Option<SystemTime>,
    /// Restored from history: tracks arriving up to this instant are this violation.
    restored_until: Option<SystemTime>,
    restored: bool,
}

/// A candidate whose category became more specific after it was emitted (see the module docs):
/// `candidate` as it is now, with the new category; `previous` the category it had.
#[derive(Debug, Clone, PartialEq)]
pub struct Refinement {
    pub candidate: Candidate,
    pub previous: String,
    /// The update at which the track of the new category joined it.
    pub at: SystemTime,
}

impl Violation {
    /// Takes `category` when this is a `sidewalk_occupation` and `category` names what it is;
    /// returns the refinement, if any.
    fn refine(&mut self, category: Category, at: SystemTime) -> Option<Refinement> {
        if self.category != Category::SidewalkOccupation || category == self.category {
            return None;
        }
        let previous =
            std::mem::replace(&mut self.candidate.category, category.as_str().to_owned());
        self.category = category;
        Some(Refinement {
            candidate: self.candidate.clone(),
            previous,
            at,
        })
    }
}

enum Found {
    Join(u64),
    Recur(u64),
    New,
}

/// The rules stage of one camera.
#[derive(Debug, Clone)]
pub struct Rules {
    camera: CameraId,
    rules: RuleSet,
    baseline: Baseline,
    tz: Tz,
    config: RulesConfig,
    next_id: u64,
    started: Option<SystemTime>,
    tracks: BTreeMap<u64, TrackState>,
    violations: BTreeMap<u64, Violation>,
    /// Refinements not yet taken ([`Self::take_refinements`]).
    refinements: Vec<Refinement>,
}

impl Rules {
    /// `rules` should have been validated ([`RuleSet::validate`]).
    pub fn new(
        camera: CameraId,
        rules: RuleSet,
        baseline: Baseline,
        tz: Tz,
        config: RulesConfig,
    ) -> Self {
        Self {
            camera,
            rules,
            baseline,
            tz,
            config,
            next_id: 1,
            started: None,
            tracks: BTreeMap::new(),
            violations: BTreeMap::new(),
            refinements: Vec::new(),
        }
    }

    /// The refinements of candidates made by the updates since the last call, oldest first.
    pub fn take_refinements(&mut self) -> Vec<Refinement> {
        std::mem::take(&mut self.refinements)
    }

    /// Takes new rules, signage baseline and time zone from the next update on, keeping what
    /// it knows of tracks and violations: a stall half-way through its dwell keeps its time,
    /// and a violation already emitted is not emitted again. `rules` should have been
    /// validated against the zones the next updates use.
    pub fn reconfigure(&mut self, rules: RuleSet, baseline: Baseline, tz: Tz) {
        self.rules = rules;
        self.baseline = baseline;
        self.tz = tz;
    }

    /// Remembers candidates emitted before a restart (other cameras' are ignored): ids
    /// continue after the largest, and a violation still there when analysis resumes is not
    /// emitted again. Only the latest candidate of a recurrence chain is kept.
    pub fn restore(&mut self, previous: &[Candidate]) {
        let mut mine: Vec<&Candidate> = previous
            .iter()
            .filter(|c| c.camera == self.camera)
            .collect();
        mine.sort_by_key(|c| c.id);
        for c in mine {
            self.next_id = self.next_id.max(c.id.saturating_add(1));
            let Ok(category) = c.category.parse::<Category>() else {
                continue;
            };
            if let Some(p) = c.recurrence_of {
                self.violations.remove(&p);
            }
            let (ended_at, restored_until) = match self.started {
                Some(s) => (Some(s), Some(s + self.config.restore_grace)),
                None => (None, None),
            };
            self.violations.insert(
                c.id,
                Violation {
                    candidate: c.clone(),
                    category,
                    live: BTreeSet::new(),
                    ended_at,
                    restored_until,
                    restored: true,
                },
            );
        }
    }

    /// The category of something that arrived and stayed on the sidewalk: that of a confirmed
    /// vending or stacking track overlapping it (IoU ≥ `classify_iou`) that the object model
    /// sees on at least `classify_presence` of its runs, else `sidewalk_occupation`.
    fn static_category(&self, track: &Track, objects: &[&Track]) -> Category {
        objects
            .iter()
            .map(|o| (o.bbox().iou(&track.bbox()), o))
            .filter(|(iou, o)| {
                *iou >= self.config.classify_iou && o.presence() >= self.config.classify_presence
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map_or(Category::SidewalkOccupation, |(_, o)| goods_category(o))
    }

    fn classify(
        &self,
        s: &Subject<'_>,
        zones: &[Zone],
        confirmed: &Confirmed<'_>,
    ) -> Option<(Category, Option<usize>)> {
        let (objects, statics) = (&confirmed.objects, &confirmed.statics);
        let first_of = |want: &ZoneKind| {
            s.zones
                .iter()
                .position(|h| zones.get(h.zone).is_some_and(|z| &z.kind == want))
        };
        let track = s.track;
        match track.label() {
            "street_vending" | "sidewalk_stacking" | "static_object" => {
                let hit = first_of(&ZoneKind::NoVending)?;
                let category = match track.label() {
                    "street_vending" => Category::StreetVending,
                    "sidewalk_stacking" => Category::SidewalkStacking,
                    _ => self.static_category(track, objects),
                };
                Some((category, Some(hit)))
            }
            "text" | "illegal_signage" | STATIC_SIGN => {
                // Print on a stall's goods or a stack's boxes is part of that object, not a sign;
                // so is text on something that arrived and stayed (the static detector's region),
                // and so is a change in the sign band that is part of such an object (a stack's
                // top against the wall). The object model's own signs on such a region (an
                // A-frame) still count.
                // Goods standing behind the `no_signage` zone the sign is in (a stack behind a
                // lamp post) are not what it is on: the zone's surface is in front of them.
                let no_signage = first_of(&ZoneKind::NoSignage);
                let sign_zone = no_signage
                    .and_then(|i| s.zones.get(i))
                    .and_then(|h| zones.get(h.zone));
                let inside = |o: &&Track| {
                    track.bbox().share_inside(&o.bbox()) >= 0.5
                        && !sign_zone.is_some_and(|z| z.stands_behind(&o.bbox()))
                };
                // Text is print on a static object only if it came with it: text first seen
                // well after the object arrived was put there later.
                let printed_on = |o: &&Track| {
                    inside(o)
                        && (track.label() != "text"
                            || since(track.first_seen(), o.first_seen()) < self.config.print_lag)
                };
                // Goods the model sees too weakly for their own rule (score or presence below
                // it) never become a candidate. A change in the sign band standing on the
                // sidewalk outside every `no_signage` zone is then not theirs to hide (a far
                // crate stack the model finds at 0.4): the track only names its category.
                // Goods that have qualified keep what they hide, whatever their score since.
                let ground_zone = first_of(&ZoneKind::NoVending)
                    .and_then(|i| s.zones.get(i))
                    .and_then(|h| zones.get(h.zone));
                let can_fire = |o: &Track| {
                    if self.tracks.get(&o.id()).is_some_and(|st| st.done) {
                        return true;
                    }
                    self.rules
                        .rule_for(goods_category(o), ground_zone.map(|z| z.id.as_str()))
                        .sees(o)
                };
                let ground_change = track.label() == STATIC_SIGN && no_signage.is_none();
                let on_goods = objects
                    .iter()
                    .filter(|o| !ground_change || can_fire(o))
                    .any(inside)
                    || (track.label() != "illegal_signage" && statics.iter().any(printed_on));
                if on_goods {
                    None
                } else if let Some(hit) = no_signage {
                    Some((Category::IllegalSignage, Some(hit)))
                } else if let Some(hit) = (track.label() == STATIC_SIGN)
                    .then(|| first_of(&ZoneKind::NoVending))
                    .flatten()
                {
                    // A change in the sign band whose foot stands in a `no_vending` zone is
                    // something on the sidewalk small enough for the whole-frame detector to
                    // miss (a far stack at the wall), or the top of one it has not found yet.
                    // That path is for what no other track sees: one that goods, a static
                    // object or a sign as wide as a third of it overlap is theirs (a sliver at
                    // a stack's edge, the legs of an A-frame under its text), and waits while
                    // they are there (goods only if they can fire, above).
                    if confirmed.explain(&track.bbox(), can_fire) {
                        return None;
                    }
                    Some((self.static_category(track, objects), Some(hit)))
                } else if self
                    .baseline
                    .is_novel(&track.bbox(), self.config.novelty_iou)
                {
                    Some((Category::IllegalSignage, None))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Whether a box of `category` is at the spot of an earlier candidate's box: IoU ≥
    /// `spot_iou`; for signage also half of the smaller box inside the larger, since a poster is
    /// found now as one box, now as its separate lines, and a box just above or below, since one
    /// of its lines may be found only later ([`lines_of_one_sign`]).
    fn same_spot(&self, category: Category, earlier: &BBox, bbox: &BBox) -> bool {
        earlier.iou(bbox) >= self.config.spot_iou
            || (category == Category::IllegalSignage
                && (earlier.share_inside(bbox).max(bbox.share_inside(earlier)) >= 0.5
                    || lines_of_one_sign(earlier, bbox)))
    }

    /// The live signage violation that an unclassified object on the sidewalk carries
    /// ([`carries`]). An A-frame sign whose text became a candidate before its stand was still
    /// long enough to be a static object is one sign, not also an occupation.
    fn sign_carried_by(&self, category: Category, bbox: &BBox) -> Option<u64> {
        (category == Category::SidewalkOccupation)
            .then(|| self.live(Category::IllegalSignage, |sign| carries(bbox, sign)))
            .flatten()
    }

    /// The live unclassified object on the sidewalk that carries a sign outside every
    /// `no_signage` zone ([`carries`]). The mirror of [`Rules::sign_carried_by`]: an A-frame
    /// whose stand became a candidate before its sign did is one sign, not also a second case.
    fn stand_carrying(&self, category: Category, zone: Option<&str>, bbox: &BBox) -> Option<u64> {
        (category == Category::IllegalSignage && zone.is_none())
            .then(|| self.live(Category::SidewalkOccupation, |stand| carries(stand, bbox)))
            .flatten()
    }

    /// A live violation of `category` whose candidate's box passes `test`.
    fn live(&self, category: Category, test: impl Fn(&BBox) -> bool) -> Option<u64> {
        self.violations
            .iter()
            .find(|(_, v)| v.category == category && !v.live.is_empty() && test(&v.candidate.bbox))
            .map(|(&id, _)| id)
    }

    fn find(
        &self,
        category: Category,
        zone: Option<&str>,
        bbox: &BBox,
        arrival: SystemTime,
        cooldown: Duration,
    ) -> Found {
        let mut last_ended: Option<&Violation> = None;
        for (&id, v) in &self.violations {
            let live = !v.live.is_empty() || v.restored_until.is_some_and(|until| arrival <= until);
            if v.candidate.zone.as_deref() != zone
                || !(self.same_spot(category, &v.candidate.bbox, bbox)
                    || (live && grows(v.category, &v.candidate.bbox, category, bbox)))
            {
                continue;
            }
            if live {
                let same =
                    v.category == category || (v.category.is_ground() && category.is_ground());
                if same {
                    return Found::Join(id);
                }
            } else if v.category == category {
                last_ended = Some(v);
            }
        }
        let Some(v) = last_ended else {
            return Found::New;
        };
        let gone_for = v.ended_at.map_or(Duration::ZERO, |e| since(arrival, e));
        if gone_for < cooldown {
            Found::Join(v.candidate.id)
        } else if gone_for <= self.rules.recurrence_window {
            Found::Recur(v.candidate.id)
        } else {
            Found::New
        }
    }

    /// Evaluates every live track at time `t` and returns the candidates that became due.
    ///
    /// `zones` is the camera's zone list ([`ZoneHit::zone`] indexes it); `subjects` the live
    /// tracks with their zones; `ended` the tracks the tracker removed in this update.
    pub fn update(
        &mut self,
        t: SystemTime,
        zones: &[Zone],
        subjects: &[Subject<'_>],
        ended: &[Track],
    ) -> Vec<Candidate> {
        if self.started.is_none() {
            self.started = Some(t);
            let until = t + self.config.restore_grace;
            for v in self.violations.values_mut().filter(|v| v.restored) {
                v.ended_at = Some(t);
                v.restored_until = Some(until);
            }
        }

        for track in ended {
            let Some(state) = self.tracks.remove(&track.id()) else {
                continue;
            };
            let Some(v) = state.violation.and_then(|id| self.violations.get_mut(&id)) else {
                continue;
            };
            v.live.remove(&track.id());
            if v.live.is_empty() {
                let left = track.last_seen();
                v.ended_at = Some(v.ended_at.map_or(left, |e| e.max(left)));
            }
        }

        let confirmed = Confirmed::of(subjects);

        let mut out = Vec::new();
        for s in subjects.iter().filter(|s| s.track.is_confirmed()) {
            let track = s.track;
            let Some((category, hit)) = self.classify(s, zones, &confirmed) else {
                continue;
            };
            let zone_hit = hit.and_then(|i| s.zones.get(i));
            let zone_id = zone_hit
                .and_then(|h| zones.get(h.zone))
                .map(|z| z.id.clone());
            let entered = zone_hit.map_or(track.first_seen(), |h| h.entered);
            let rule = self
                .rules
                .rule_for(category, zone_id.as_deref())
                .into_owned();

            let enforced = rule
                .schedule
                .as_ref()
                .is_none_or(|w| any_contains(w, t, self.tz));
            let allowed = matches!(
                category,
                Category::StreetVending | Category::SidewalkOccupation
            ) && s.zones.iter().any(|h| {
                matches!(zones.get(h.zone).map(|z| &z.kind),
                    Some(ZoneKind::AllowedVending { windows })
                        if windows.is_empty() || any_contains(windows, t, self.tz))
            });

            let state = self.tracks.entry(track.id()).or_default();
            if state.done {
                continue;
            }
            if !enforced || allowed {
                state.floor = Some(t);
                continue;
            }
            let start = state.floor.map_or(entered, |f| f.max(entered));
            if since(track.last_seen(), start) < rule.min_dwell || !rule.sees(track) {
                continue;
            }
            state.done = true;

            let carried = self
                .sign_carried_by(category, &track.bbox())
                .or_else(|| self.stand_carrying(category, zone_id.as_deref(), &track.bbox()));
            let found = match carried {
                Some(id) => Found::Join(id),
                None => self.find(
                    category,
                    zone_id.as_deref(),
                    &track.bbox(),
                    entered,
                    rule.cooldown,
                ),
            };
            let (recurrence_of, recurrence_count) = match found {
                Found::Join(id) => {
                    if let Some(v) = self.violations.get_mut(&id) {
                        v.live.insert(track.id());
                        self.refinements.extend(v.refine(category, t));
                    }
                    if let Some(st) = self.tracks.get_mut(&track.id()) {
                        st.violation = Some(id);
                    }
                    continue;
                }
                Found::Recur(id) => {
                    let prev = self.violations.remove(&id);
                    (
                        Some(id),
                        prev.map_or(2, |v| v.candidate.recurrence_count.saturating_add(1)),
                    )
                }
                Found::New => (None, 1),
            };
            let id = self.next_id;
            self.next_id += 1;
            let candidate = Candidate {
                id,
                camera: self.camera.clone(),
                category: category.as_str().to_owned(),
                zone: zone_id,
                bbox: track.bbox(),
                score: track.score(),
                arrived: entered,
                emitted: t,
                track_id: track.id(),
                recurrence_of,
                recurrence_count,
            };
            if let Some(st) = self.tracks.get_mut(&track.id()) {
                st.violation = Some(id);
            }
            self.violations.insert(
                id,
                Violation {
                    candidate: candidate.clone(),
                    category,
                    live: BTreeSet::from([track.id()]),
                    ended_at: None,
                    restored_until: None,
                    restored: false,
                },
            );
            out.push(candidate);
        }

        // Forget violations that left longer ago than anything could still link to them.
        let keep_for = self.rules.recurrence_window;
        let rules = &self.rules;
        self.violations.retain(|_, v| {
            let pending = v.restored_until.is_some_and(|u| t <= u);
            let cooldown = rules
                .rule_for(v.category, v.candidate.zone.as_deref())
                .cooldown;
            !v.live.is_empty()
                || pending
                || v.ended_at
                    .is_none_or(|e| since(t, e) <= keep_for.max(cooldown))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let mut rs = RuleSet::default();
        assert_eq!(
            rs.rule_for(Category::StreetVending, None).min_dwell,
            Duration::from_secs(300)
        );
        assert_eq!(
            rs.rule_for(Category::SidewalkOccupation, Some("x"))
                .min_dwell,
            Duration::from_secs(600)
        );
        let mut over = Rule::default_for(Category::StreetVending);
        over.min_dwell = Duration::from_secs(60);
        rs.zone_overrides
            .entry("gate".into())
            .or_default()
            .insert(Category::StreetVending, over);
        assert_eq!(
            rs.rule_for(Category::StreetVending, Some("gate")).min_dwell,
            Duration::from_secs(60)
        );
        assert_eq!(
            rs.rule_for(Category::StreetVending, Some("other"))
                .min_dwell,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn rule_errors_name_the_rule() {
        let zones = vec![Zone {
            id: "gate".into(),
            kind: ZoneKind::NoVending,
            polygon: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)],
        }];
        let rs: RuleSet = serde_json::from_str(
            r#"{"zone_overrides": {"gate": {"street_vending": {"min_dwell": 60, "min_score": 1.5}}}}"#,
        )
        .unwrap();
        assert_eq!(
            rs.validate(&zones).unwrap_err().to_string(),
            "rule street_vending in zone `gate`: min_score 1.5 is outside 0..=1"
        );
        let rs: RuleSet = serde_json::from_str(
            r#"{"zone_overrides": {"nowhere": {"street_vending": {"min_dwell": 60}}}}"#,
        )
        .unwrap();
        assert_eq!(
            rs.validate(&zones).unwrap_err().to_string(),
            "zone_overrides names zone `nowhere`, which is not configured for this camera"
        );
        let rs: RuleSet = serde_json::from_str(
            r#"{"defaults": {"illegal_signage": {"min_dwell": 60, "schedule": []}}}"#,
        )
        .unwrap();
        assert!(rs
            .validate(&zones)
            .unwrap_err()
            .to_string()
            .starts_with("rule illegal_signage: schedule is empty"));
    }

    #[test]
    fn category_names_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert!("vending".parse::<Category>().is_err());
    }

    #[test]
    fn baseline_novelty() {
        let b = Baseline::new(vec![BBox::new(0.1, 0.1, 0.3, 0.2)]);
        assert!(!b.is_novel(&BBox::new(0.11, 0.1, 0.3, 0.21), 0.3));
        assert!(b.is_novel(&BBox::new(0.6, 0.2, 0.7, 0.35), 0.3));
        // A small, jittered text box on the approved sign: IoU far below 0.3, but inside it.
        let small = BBox::new(0.28, 0.15, 0.31, 0.17);
        assert!(small.iou(&BBox::new(0.1, 0.1, 0.3, 0.2)) < 0.05);
        assert!(!b.is_novel(&small, 0.3));
        // A new poster only touching the sign, and a large banner over it, are new.
        assert!(b.is_novel(&BBox::new(0.29, 0.15, 0.35, 0.25), 0.3));
        assert!(b.is_novel(&BBox::new(0.05, 0.05, 0.6, 0.4), 0.3));
    }

    #[test]
    fn a_baseline_from_frames_keeps_every_sign_once() {
        let shop = BBox::new(0.1, 0.1, 0.3, 0.2);
        let faint = BBox::new(0.6, 0.2, 0.65, 0.25);
        let b = Baseline::from_frames([
            vec![shop],
            // The same sign jittered, a line inside it, and a faint poster seen on this frame only.
            vec![
                BBox::new(0.11, 0.1, 0.3, 0.21),
                BBox::new(0.12, 0.12, 0.2, 0.15),
                faint,
            ],
            vec![shop],
        ]);
        assert_eq!(b.regions, vec![shop, faint]);
        // Overlapping but different signs both stay.
        let neighbour = BBox::new(0.25, 0.1, 0.45, 0.2);
        assert_eq!(
            Baseline::from_frames([vec![shop, neighbour]]).regions.len(),
            2
        );
        assert!(Baseline::from_frames(Vec::<Vec<BBox>>::new())
            .regions
            .is_empty());
    }
}
