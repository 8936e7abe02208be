//! Golden tests: each file in `tests/golden/analysis/` replays observations over time through a
//! [`CameraAnalysis`] on a fake clock and compares the emitted candidates with its `expected`.
//!
//! File format (JSON):
//!
//! - `about`: what the scenario shows; `tz`: IANA time zone; `zones`, `rules` (a [`RuleSet`],
//!   overrides only), `baseline` (list of `[x1, y1, x2, y2]`), `intervals` (seconds per
//!   detector), `tolerance_s` (default 2; how far `emitted` may be from the expected time).
//! - `steps`: either `{"t": "...", "source": ..., "observations": [...]}` or
//!   `{"repeat": {"from": t0, "to": t1, "every_s": 2}, "source": ..., "observations": [...]}`
//!   (`to` inclusive). `cycle: [[...], [...]]` instead of `observations` uses list `i % n` for
//!   the i-th repetition (jitter). Steps are merged by time (file order for ties); steps with the
//!   same time and source become one detector run.
//! - `restart_at` (optional): before the first step at or after it, the analysis is rebuilt
//!   `with_history` of everything emitted so far (through JSON, as a store would keep it).
//! - `expected`: every emitted candidate: `category` (as emitted), `zone`, `emitted`,
//!   `recurrence_count`, optional `recurrence_of` (index into `expected`), `escalation`,
//!   `tolerance_s`, and `refined`: `{"category": …, "at": …}` when the candidate's category is
//!   later refined ([`Refinement`]); a candidate without it must never be refined.
//!
//! This module is test-only; it is the one place in `analysis` that reads files.

use std::time::{Duration, SystemTime};

use chrono::DateTime;
use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoldenFile {
    #[allow(dead_code)]
    about: String,
    tz: String,
    #[serde(default)]
    zones: Vec<Zone>,
    #[serde(default)]
    rules: RuleSet,
    #[serde(default)]
    baseline: Vec<[f32; 4]>,
    #[serde(default)]
    intervals: DetectorIntervals,
    #[serde(default)]
    tolerance_s: Option<f64>,
    #[serde(default)]
    restart_at: Option<String>,
    steps: Vec<Step>,
    expected: Vec<Expected>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default)]
    t: Option<String>,
    #[serde(default)]
    repeat: Option<Repeat>,
    source: DetectorKind,
    #[serde(default)]
    observations: Vec<GoldenObs>,
    #[serde(default)]
    cycle: Vec<Vec<GoldenObs>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repeat {
    from: String,
    to: String,
    every_s: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoldenObs {
    bbox: [f32; 4],
    score: f32,
    label: String,
    #[serde(default)]
    since: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    category: String,
    zone: Option<String>,
    emitted: String,
    recurrence_count: u32,
    #[serde(default)]
    recurrence_of: Option<usize>,
    #[serde(default)]
    escalation: Option<Escalation>,
    #[serde(default)]
    tolerance_s: Option<f64>,
    #[serde(default)]
    refined: Option<Refined>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refined {
    category: String,
    at: String,
}

fn parse_t(s: &str) -> SystemTime {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad time {s:?}: {e}"))
        .into()
}

fn show(t: SystemTime, tz: Tz) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .with_timezone(&tz)
        .to_rfc3339()
}

fn to_obs(o: &GoldenObs, source: DetectorKind) -> Observation {
    let [x1, y1, x2, y2] = o.bbox;
    Observation {
        bbox: BBox::new(x1, y1, x2, y2),
        score: o.score,
        label: o.label.clone(),
        source,
        since: o.since.as_deref().map(parse_t),
    }
}

/// Expands the steps into detector runs, in time order.
fn expand(steps: &[Step]) -> Vec<(SystemTime, DetectorKind, Vec<Observation>)> {
    let mut runs: Vec<(SystemTime, usize, DetectorKind, Vec<Observation>)> = Vec::new();
    for (order, step) in steps.iter().enumerate() {
        let pick = |i: usize| -> Vec<Observation> {
            let list = if step.cycle.is_empty() {
                &step.observations
            } else {
                &step.cycle[i % step.cycle.len()]
            };
            list.iter().map(|o| to_obs(o, step.source)).collect()
        };
        match (&step.t, &step.repeat) {
            (Some(t), None) => runs.push((parse_t(t), order, step.source, pick(0))),
            (None, Some(r)) => {
                let (from, to) = (parse_t(&r.from), parse_t(&r.to));
                assert!(r.every_s > 0.0, "every_s must be positive");
                let every = Duration::from_secs_f64(r.every_s);
                let mut t = from;
                let mut i = 0;
                while t <= to {
                    runs.push((t, order, step.source, pick(i)));
                    t += every;
                    i += 1;
                }
            }
            _ => panic!("a step needs exactly one of `t` and `repeat`: {step:?}"),
        }
    }
    runs.sort_by_key(|r| (r.0, r.1));
    let mut merged: Vec<(SystemTime, DetectorKind, Vec<Observation>)> = Vec::new();
    for (t, _, source, obs) in runs {
        match merged.iter_mut().find(|m| m.0 == t && m.1 == source) {
            Some(m) => m.2.extend(obs),
            None => merged.push((t, source, obs)),
        }
    }
    merged.sort_by_key(|m| m.0);
    merged
}

fn run(name: &str) {
    let path = format!(
        "{}/tests/golden/analysis/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: GoldenFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let tz: Tz = file
        .tz
        .parse()
        .unwrap_or_else(|e| panic!("{path}: tz: {e}"));
    let camera = CameraId::new("cam-golden");
    let baseline = Baseline::new(
        file.baseline
            .iter()
            .map(|b| BBox::new(b[0], b[1], b[2], b[3]))
            .collect(),
    );
    let build = || {
        CameraAnalysis::new(
            camera.clone(),
            file.zones.clone(),
            file.rules.clone(),
            baseline.clone(),
            tz,
            file.intervals.clone(),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let mut analysis = build();
    let mut restart_at = file.restart_at.as_deref().map(parse_t);
    let mut actual: Vec<Candidate> = Vec::new();
    let mut refinements: Vec<Refinement> = Vec::new();
    for (t, source, obs) in expand(&file.steps) {
        if restart_at.is_some_and(|r| t >= r) {
            restart_at = None;
            // The store keeps each case with its category as refined.
            let kept: Vec<Candidate> = actual
                .iter()
                .map(|c| {
                    refinements
                        .iter()
                        .rfind(|r| r.candidate.id == c.id)
                        .map_or_else(|| c.clone(), |r| r.candidate.clone())
                })
                .collect();
            let stored = serde_json::to_string(&kept).unwrap();
            let history: Vec<Candidate> = serde_json::from_str(&stored).unwrap();
            assert_eq!(history, kept, "candidates survive a JSON round trip");
            analysis = build().with_history(&history);
        }
        actual.extend(analysis.update(t, source, &obs));
        refinements.extend(analysis.take_refinements());
    }

    let listing = || {
        actual
            .iter()
            .map(|c| {
                let refined = refinements
                    .iter()
                    .filter(|r| r.candidate.id == c.id)
                    .map(|r| format!(" refined={} at {}", r.candidate.category, show(r.at, tz)))
                    .collect::<String>();
                format!(
                    "  #{} {} zone={:?} emitted={} count={} of={:?} track={}{refined}",
                    c.id,
                    c.category,
                    c.zone,
                    show(c.emitted, tz),
                    c.recurrence_count,
                    c.recurrence_of,
                    c.track_id
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let default_tol = file.tolerance_s.unwrap_or(2.0);
    let mut used = vec![false; actual.len()];
    let mut matched_ids: Vec<u64> = Vec::new();
    for (i, e) in file.expected.iter().enumerate() {
        let want = parse_t(&e.emitted);
        let tol = Duration::from_secs_f64(e.tolerance_s.unwrap_or(default_tol));
        let found = actual.iter().enumerate().position(|(k, c)| {
            let dt = c
                .emitted
                .duration_since(want)
                .or_else(|_| want.duration_since(c.emitted))
                .unwrap_or(Duration::MAX);
            !used[k]
                && c.category == e.category
                && c.zone == e.zone
                && c.recurrence_count == e.recurrence_count
                && dt <= tol
        });
        let Some(k) = found else {
            panic!(
                "{name}: expected[{i}] {} zone={:?} at {} count={} not emitted; got:\n{}",
                e.category,
                e.zone,
                e.emitted,
                e.recurrence_count,
                listing()
            );
        };
        used[k] = true;
        let c = &actual[k];
        if let Some(want) = e.escalation {
            assert_eq!(c.escalation(), want, "{name}: expected[{i}] escalation");
        }
        let want_of = e.recurrence_of.map(|j| {
            *matched_ids
                .get(j)
                .unwrap_or_else(|| panic!("{name}: recurrence_of must name an earlier entry"))
        });
        assert_eq!(
            c.recurrence_of,
            want_of,
            "{name}: expected[{i}] recurrence_of; got:\n{}",
            listing()
        );
        let refined: Vec<&Refinement> = refinements
            .iter()
            .filter(|r| r.candidate.id == c.id)
            .collect();
        match (&e.refined, refined.as_slice()) {
            (None, []) => {}
            (Some(want), [r]) => {
                let at = parse_t(&want.at);
                let dt =
                    r.at.duration_since(at)
                        .or_else(|_| at.duration_since(r.at))
                        .unwrap_or(Duration::MAX);
                assert!(
                    r.candidate.category == want.category && r.previous == c.category && dt <= tol,
                    "{name}: expected[{i}] refined to {} at {}; got:\n{}",
                    want.category,
                    want.at,
                    listing()
                );
            }
            _ => panic!(
                "{name}: expected[{i}] refined {:?}, got {} refinements:\n{}",
                e.refined.as_ref().map(|r| &r.category),
                refined.len(),
                listing()
            ),
        }
        matched_ids.push(c.id);
    }
    assert!(
        used.iter().all(|u| *u),
        "{name}: unexpected candidates; got:\n{}",
        listing()
    );
}

macro_rules! golden {
    ($($test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                run(concat!(stringify!($test), ".json"));
            }
        )*

        #[test]
        fn every_golden_file_has_a_test() {
            let known = [$(concat!(stringify!($test), ".json")),*];
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/analysis");
            let mut files: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect();
            files.sort();
            let mut known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
            known.sort();
            assert_eq!(files, known);
        }
    };
}

golden!(
    dwell,
    occlusion,
    schedule_window,
    night_market,
    whitelisted_spot,
    cooldown,
    recurrence,
    signage_baseline,
    signage_no_signage_zone,
    edge_hysteresis,
    static_classified,
    static_glimpsed_class,
    restart_with_history,
    mask,
    signage_presence,
    signage_on_goods,
    signage_lines,
    signage_static_band,
    signage_in_front_of_goods,
    static_band_left_to_others,
    static_band_weak_goods,
    static_arrived_beside,
    static_stand_first,
    signage_after_goods,
    static_refined,
);
