//! The report of `gridsight eval`: serialisable (JSON, `--json`) and printed as a table. Every
//! rate carries the counts it is made of.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::cases::CasesReport;
use super::facade::FacadeReport;
use super::frames::{ObjectsReport, TextReport};
use super::stationary::StaticReport;
use super::EvalOptions;

/// `hits / of`, with both counts. JSON: `{"value": 0.75, "hits": 3, "of": 4}` (`value` null
/// when `of` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub value: Option<f64>,
    pub hits: usize,
    pub of: usize,
}

impl Rate {
    pub fn new(hits: usize, of: usize) -> Self {
        Self {
            value: super::metrics::ratio(hits, of),
            hits,
            of,
        }
    }
}

impl fmt::Display for Rate {
    /// `0.750 (3/4)`, or `- (0/0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.value {
            Some(v) => format!("{v:.3} ({}/{})", self.hits, self.of),
            None => format!("- ({}/{})", self.hits, self.of),
        };
        f.pad(&s)
    }
}

/// A part of the report: done, or skipped with the reason.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Part<T> {
    Done(T),
    Skipped { skipped: String },
}

impl<T> Part<T> {
    pub fn skipped(reason: &str) -> Self {
        Part::Skipped {
            skipped: reason.to_string(),
        }
    }
}

/// Wall time of one piece of work.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub part: String,
    pub seconds: f64,
}

impl Timing {
    pub fn new(part: &str, elapsed: Duration) -> Self {
        Self {
            part: part.to_string(),
            seconds: elapsed.as_secs_f64(),
        }
    }
}

/// Everything `gridsight eval` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub seed: u64,
    pub object_model: Option<String>,
    pub text_model: Option<String>,
    /// Things the reader must know (missing models and what follows from it).
    pub notes: Vec<String>,
    pub objects: Part<ObjectsReport>,
    pub static_objects: Part<StaticReport>,
    pub text_posters: Part<TextReport>,
    pub facade: Part<FacadeReport>,
    pub cases: Part<CasesReport>,
    pub timings: Vec<Timing>,
    pub total_seconds: f64,
}

impl Report {
    /// An empty report for `options` (every part "not run").
    pub fn new(options: &EvalOptions) -> Self {
        let mut notes = Vec::new();
        if let Some(why) = &options.objects_missing {
            notes.push(format!(
                "object model: {why}; object figures are skipped, and the case pipeline runs the \
                 static-object and text detectors only, so ground cases come out as \
                 sidewalk_occupation and signs as illegal_signage"
            ));
        }
        if let Some(why) = &options.text_missing {
            notes.push(format!("text detector: {why}; text figures are skipped"));
        }
        let not_run = || "not asked for".to_string();
        Self {
            seed: options.seed,
            object_model: options.objects.as_ref().map(|p| p.display().to_string()),
            text_model: options.text.as_ref().map(|p| p.display().to_string()),
            notes,
            objects: Part::Skipped { skipped: not_run() },
            static_objects: Part::Skipped { skipped: not_run() },
            text_posters: Part::Skipped { skipped: not_run() },
            facade: Part::Skipped { skipped: not_run() },
            cases: Part::Skipped { skipped: not_run() },
            timings: Vec::new(),
            total_seconds: 0.0,
        }
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

fn skipped(f: &mut fmt::Formatter<'_>, title: &str, why: &str) -> fmt::Result {
    writeln!(f, "{title}: skipped ({why})")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "gridsight eval: held-out generated scenes (seed {}) and facade photos",
            self.seed
        )?;
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        writeln!(f)?;

        match &self.objects {
            Part::Done(o) => {
                writeln!(
                    f,
                    "1. Object model {} on {} frames of {} held-out scenes (AP at IoU 0.5, \
                     objects < {:.0} % visible ignored; P/R at each class's threshold)",
                    o.model,
                    o.frames,
                    o.scenes,
                    o.min_visible * 100.0,
                )?;
                writeln!(
                    f,
                    "   {:<20} {:>7} {:>7} {:>6} {:>7} {:>6}  {:<20} {:<20}",
                    "class", "objects", "ignored", "dets", "AP50", "thr", "precision", "recall"
                )?;
                for c in &o.classes {
                    writeln!(
                        f,
                        "   {:<20} {:>7} {:>7} {:>6} {:>7} {:>6}  {:<20} {:<20}",
                        c.class,
                        c.objects,
                        c.ignored,
                        c.detections,
                        opt(c.ap50, 3),
                        c.threshold,
                        c.precision,
                        c.recall
                    )?;
                }
                writeln!(
                    f,
                    "   mAP50 {} over {} classes; {:.1} ms per frame",
                    opt(o.map50, 3),
                    o.classes.iter().filter(|c| c.ap50.is_some()).count(),
                    o.ms_per_frame
                )?;
                writeln!(
                    f,
                    "   at each class's threshold: recall by kind; false detections by what they lie on"
                )?;
                for c in &o.classes {
                    let found: Vec<String> = c
                        .recall_by_kind
                        .iter()
                        .map(|(kind, r)| format!("{kind} {}/{}", r.hits, r.of))
                        .collect();
                    let mut false_on: Vec<(&String, &usize)> =
                        c.false_detections_on.iter().collect();
                    false_on.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                    let false_on: Vec<String> =
                        false_on.iter().map(|(on, n)| format!("{on} {n}")).collect();
                    writeln!(f, "   {:<20} found: {}", c.class, found.join(", "))?;
                    if !false_on.is_empty() {
                        writeln!(f, "   {:<20} false on: {}", "", false_on.join(", "))?;
                    }
                }
                if !o.unscored_classes.is_empty() {
                    writeln!(
                        f,
                        "   model classes without ground truth (not scored): {}",
                        o.unscored_classes.join(", ")
                    )?;
                }
            }
            Part::Skipped { skipped: why } => skipped(f, "1. Object model", why)?,
        }
        writeln!(f)?;

        match &self.static_objects {
            Part::Done(s) => {
                writeln!(
                    f,
                    "2. Static-object detector at 1 fps on {} held-out scenes × {:.0} s ({} frames, \
                     {:.3} camera-hours)",
                    s.scenes, s.seconds_per_scene, s.frames, s.camera_hours
                )?;
                writeln!(
                    f,
                    "   recall                  {}  violations ≥ 0.5 % of the frame present ≥ 60 s \
                     ({} smaller or briefer left out)",
                    s.recall, s.not_demanded
                )?;
                for (c, r) in &s.by_category {
                    writeln!(f, "     {c:<21} {r}")?;
                }
                writeln!(
                    f,
                    "   false detections        {} of {} static regions → {:.1} per camera-hour",
                    s.false_regions, s.regions, s.false_per_camera_hour
                )?;
                writeln!(
                    f,
                    "   arrival → first report  median {} s over {} found; {:.2} ms per frame",
                    opt(s.median_seconds_to_report, 0),
                    s.recall.hits,
                    s.ms_per_frame
                )?;
                let b = &s.band;
                writeln!(
                    f,
                    "   sign band (the tiled rectangle at 2x the resolution; regions standing on the \
                     sidewalk outside lamp-post zones are ground regions, as the rules take them)"
                )?;
                writeln!(
                    f,
                    "   signs found             {}  wall and pole posters and banners present ≥ 60 s",
                    b.recall
                )?;
                for (k, r) in &b.by_kind {
                    writeln!(f, "     {k:<21} {r}")?;
                }
                writeln!(
                    f,
                    "   sign regions            {}: {} on signs, {} on stalls or stacks only, \
                     {} on nothing → {:.1} per camera-hour",
                    b.regions, b.on_signs, b.on_goods, b.false_regions, b.false_per_camera_hour
                )?;
                writeln!(
                    f,
                    "   ground regions          {}: {} on violation objects, {} on nothing → {:.1} \
                     per camera-hour; stalls or stacks found only here: {}",
                    b.ground_regions,
                    b.ground_on_objects,
                    b.ground_false_regions,
                    b.ground_false_per_camera_hour,
                    b.goods_only_in_band
                )?;
                writeln!(
                    f,
                    "   arrival → first report  median {} s over {} found; {:.2} ms per frame",
                    opt(b.median_seconds_to_report, 0),
                    b.recall.hits,
                    b.ms_per_frame
                )?;
            }
            Part::Skipped { skipped: why } => skipped(f, "2. Static-object detector", why)?,
        }
        writeln!(f)?;

        match &self.text_posters {
            Part::Done(t) => {
                writeln!(
                    f,
                    "3. Text detector {} on posters: {} frames with a poster ≥ 50 % visible, {} \
                     distinct posters",
                    t.model, t.frames, t.posters
                )?;
                // Poster kinds seen by any setting, in name order.
                let kinds: std::collections::BTreeSet<&String> =
                    t.settings.iter().flat_map(|s| s.by_kind.keys()).collect();
                write!(f, "   {:<22} {:<16}", "recall (appearances)", "all posters")?;
                for k in &kinds {
                    write!(f, " {k:<16}")?;
                }
                writeln!(f, " {:>6} {:>9}", "inputs", "ms/frame")?;
                for setting in &t.settings {
                    write!(f, "   {:<22} {:<16}", setting.setting, setting.recall)?;
                    for k in &kinds {
                        let r = setting.by_kind.get(*k).copied().unwrap_or(Rate::new(0, 0));
                        write!(f, " {r:<16}")?;
                    }
                    writeln!(
                        f,
                        " {:>6.1} {:>9.1}",
                        setting.inputs_per_frame, setting.ms_per_frame
                    )?;
                }
                if t.settings.iter().any(|s| s.scale.is_some()) {
                    writeln!(
                        f,
                        "   tiled region: {} ({:.0} % of the frame on average)",
                        t.tiled_region,
                        100.0 * t.tiled_region_share
                    )?;
                }
            }
            Part::Skipped { skipped: why } => skipped(f, "3. Text detector on posters", why)?,
        }
        writeln!(f)?;

        match &self.facade {
            Part::Done(r) => {
                writeln!(
                    f,
                    "4. Facade photos, val split: {} signs in {} images, recall at IoU ≥ 0.1",
                    r.signs, r.images
                )?;
                let name = |m: &Option<String>| m.clone().unwrap_or_else(|| "-".to_string());
                writeln!(
                    f,
                    "   objects: {}; text: {} on the whole photo; tiles: the same on ×{} tiles",
                    name(&r.objects_model),
                    name(&r.text_model),
                    super::facade::TEXT_TILE_SCALE
                )?;
                writeln!(
                    f,
                    "   {:<12} {:>5}  {:<16} {:<16} {:<16} {:<17} {:<16}",
                    "sign",
                    "signs",
                    "objects",
                    "text",
                    "tiles",
                    "objects or text",
                    "objects or tiles"
                )?;
                let cell = |r: &Option<Rate>| r.map_or_else(|| "-".to_string(), |r| r.to_string());
                for row in &r.rows {
                    writeln!(
                        f,
                        "   {:<12} {:>5}  {:<16} {:<16} {:<16} {:<17} {:<16}",
                        row.class,
                        row.signs,
                        cell(&row.objects),
                        cell(&row.text),
                        cell(&row.text_tiled),
                        row.either.to_string(),
                        row.either_tiled.to_string()
                    )?;
                }
                if let (Some(a), Some(b)) = (r.text_boxes_per_image, r.tiled_boxes_per_image) {
                    writeln!(
                        f,
                        "   text boxes per photo: {a:.1} on the whole photo, {b:.1} on tiles (the labels are incomplete: no precision)"
                    )?;
                }
            }
            Part::Skipped { skipped: why } => skipped(f, "4. Facade photos", why)?,
        }
        writeln!(f)?;

        match &self.cases {
            Part::Done(c) => {
                writeln!(
                    f,
                    "5. Cases: the pipeline on {} held-out scenes × {:.0} s ({}), {} scripted \
                     violations, {} cases",
                    c.scenes,
                    c.seconds_per_scene,
                    c.detectors.join(", "),
                    c.violations + c.hidden.len(),
                    c.cases
                )?;
                writeln!(
                    f,
                    "   case recall             {}  violations with a case of the right group",
                    c.recall
                )?;
                for (k, r) in &c.recall_by_category {
                    writeln!(f, "     {k:<21} {r}")?;
                }
                writeln!(
                    f,
                    "   precision               {}  cases matching a violation",
                    c.precision
                )?;
                if !c.hidden.is_empty() {
                    writeln!(
                        f,
                        "   not demanded            {}  never {:.0} % visible; cases matching \
                         them, neither right nor false: {}",
                        c.hidden.len(),
                        super::frames::MIN_VISIBLE * 100.0,
                        c.hidden_cases
                    )?;
                }
                writeln!(
                    f,
                    "   cases per violation     {}",
                    opt(c.cases_per_violation, 2)
                )?;
                writeln!(
                    f,
                    "   category accuracy       {}  exact; {} within the group; {} refined after \
                     storing",
                    c.category_accuracy, c.group_accuracy, c.refined
                )?;
                writeln!(
                    f,
                    "   geo error               median {} m, max {} m over {} ground cases ≤ 30 m",
                    opt(c.geo_error_median_m, 2),
                    opt(c.geo_error_max_m, 2),
                    c.geo_error_cases
                )?;
                writeln!(
                    f,
                    "   sign geo error          median {} m, max {} m over {} wall and pole signs \
                     (to the foot below them)",
                    opt(c.sign_geo_error_median_m, 2),
                    opt(c.sign_geo_error_max_m, 2),
                    c.sign_geo_error_cases
                )?;
                writeln!(f, "   grid code accuracy      {}", c.grid_accuracy)?;
                writeln!(
                    f,
                    "   arrival → candidate     median {} s over {} found",
                    opt(c.median_seconds_to_candidate, 0),
                    c.seconds_to_candidate.len()
                )?;
                for m in &c.missed {
                    let other = if m.other_cases.is_empty() {
                        String::new()
                    } else {
                        format!("; cases outside its group: {}", m.other_cases.join(", "))
                    };
                    writeln!(
                        f,
                        "   missed: scene {} (seed {}) {} {} from {:.0} s at {}{other}",
                        m.scene,
                        m.seed,
                        m.category,
                        m.kind,
                        m.appear_s,
                        m.bbox.map_or("-".to_string(), |b| format!(
                            "[{:.3}, {:.3}, {:.3}, {:.3}]",
                            b[0], b[1], b[2], b[3]
                        ))
                    )?;
                }
                for h in &c.hidden {
                    writeln!(
                        f,
                        "   hidden: scene {} (seed {}) {} {}, at most {:.0} % visible",
                        h.scene,
                        h.seed,
                        h.category,
                        h.kind,
                        h.most_visible * 100.0
                    )?;
                }
            }
            Part::Skipped { skipped: why } => skipped(f, "5. Cases", why)?,
        }
        writeln!(f)?;

        writeln!(f, "Wall time:")?;
        for t in &self.timings {
            writeln!(f, "   {:<44} {:>7.1} s", t.part, t.seconds)?;
        }
        write!(f, "   {:<44} {:>7.1} s", "total", self.total_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_their_counts() {
        assert_eq!(Rate::new(3, 4).to_string(), "0.750 (3/4)");
        assert_eq!(Rate::new(0, 0).to_string(), "- (0/0)");
        let json = serde_json::to_value(Rate::new(1, 2)).expect("serialises");
        assert_eq!(json["hits"], 1);
        assert_eq!(json["of"], 2);
        assert_eq!(json["value"], 0.5);
        let skipped: Part<Rate> = Part::skipped("no model");
        assert_eq!(
            serde_json::to_value(&skipped).expect("serialises")["skipped"],
            "no model"
        );
    }
}
