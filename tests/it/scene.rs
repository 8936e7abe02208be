//! End to end on a generated scene: synth → H.264 → ingest → static-object detector → analysis →
//! geo-tag → evidence → SQLite store; then a restart on the same store adds no duplicate.

use std::time::Duration;

use gridsight::analysis::{Rule, RuleSet, Zone, ZoneKind};
use gridsight::cases::CaseFilter;
use gridsight::config::{CameraConfig, Config, DetectorConfig, ModelRef, Source};
use gridsight::geo::{distance_m, CalibrationPoint, GeoPoint, GridLayer, GridSpec};
use gridsight::runtime::{RunOptions, Runtime, RuntimeEvent};
use gridsight::synth::{
    BackgroundSpec, CameraPose, Category, Placement, Scene, SceneSpec, ScriptedEvent, VariantSet,
};

use crate::common::{gridsight, repo, scratch, succeeds, wait_for};

fn spec() -> SceneSpec {
    let (width, height) = (640, 360);
    SceneSpec {
        seed: 11,
        width,
        height,
        fps: 5,
        duration_s: 90.0,
        pose: CameraPose {
            height_m: 6.0,
            pitch_deg: 26.0,
            heading_deg: 0.0,
            focal_px: 500.0,
            width,
            height,
            lat: 39.9087,
            lon: 116.3975,
        },
        background: BackgroundSpec::Procedural { variant: 2 },
        events: vec![ScriptedEvent {
            category: Category::SidewalkStacking,
            variant: Some(2),
            appear_s: 15.0,
            leave_s: 200.0,
            position: Placement::Sidewalk {
                along_m: 1.0,
                from_wall_m: 1.0,
            },
        }],
        pedestrians_per_minute: 6.0,
        bicycles: 0,
        lighting_drift: true,
        noise: 2.0,
        variants: VariantSet::All,
        gt_every: 5,
        colour_share: 0.0,
    }
}

/// The scene's video, rendered once per test process.
pub(crate) fn scene_video() -> std::path::PathBuf {
    static VIDEO: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    VIDEO
        .get_or_init(|| {
            let dir = scratch().join("scene-e2e");
            gridsight::scenes::write_scene(spec(), &dir, "street", &mut |_, _| {})
                .expect("render the scene")
                .video
        })
        .clone()
}

/// Rules that make a static object on the sidewalk a candidate after `dwell`.
fn occupation_after(dwell: Duration) -> RuleSet {
    let mut rules = RuleSet::default();
    rules.defaults.insert(
        gridsight::analysis::Category::SidewalkOccupation,
        Rule {
            min_dwell: dwell,
            ..Rule::default_for(gridsight::analysis::Category::SidewalkOccupation)
        },
    );
    rules
}

#[test]
fn a_stack_on_a_generated_street_becomes_one_geo_tagged_case_and_survives_a_restart() {
    let dir = scratch().join("scene-e2e");
    let video = scene_video();
    let scene = Scene::new(spec()).expect("scene");
    let truth = scene.events()[0].ground.expect("a ground object");

    // Calibration from the scene's own camera, as an admin would click it.
    let camera = scene.camera();
    let points: Vec<CalibrationPoint> = [
        (0.0, 8.0),
        (4.0, 9.0),
        (-4.0, 10.0),
        (2.0, 14.0),
        (-3.0, 16.0),
        (5.0, 20.0),
    ]
    .iter()
    .map(|&(e, n)| {
        let [x, y] = camera.ground_to_pixel(e, n).expect("in view");
        let (lat, lon) = camera.to_wgs84(e, n);
        CalibrationPoint {
            pixel_x: x,
            pixel_y: y,
            lat,
            lon,
        }
    })
    .collect();
    let calibration =
        gridsight::geo::Calibration::fit(&points, 640, 360).expect("calibration fits");

    let grid_path = dir.join("grid.geojson");
    let grid = gridsight::geo::generate(&GridSpec {
        min_lat: 39.9080,
        min_lon: 116.3965,
        max_lat: 39.9095,
        max_lon: 116.3985,
        cell_m: 50.0,
        division: "110101".to_string(),
    })
    .expect("grid");
    std::fs::write(&grid_path, &grid).expect("write grid");
    let expected_cell = GridLayer::from_geojson(&grid)
        .expect("grid parses")
        .lookup(truth.lat, truth.lon)
        .map(|c| c.code.clone())
        .expect("the object is inside the grid");

    let mut cam = CameraConfig::new(
        "street-1",
        Source::File(video),
        vec![DetectorConfig {
            model: "static".to_string(),
            interval: Duration::from_secs(1),
            tiles: None,
        }],
    );
    cam.zones = vec![Zone {
        id: "sidewalk".to_string(),
        kind: ZoneKind::NoVending,
        polygon: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
    }];
    cam.rules = occupation_after(Duration::from_secs(20));
    cam.calibration = Some(calibration);
    let data = dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let mut config = Config::new(
        dir.join("pipeline.toml"),
        data.clone(),
        vec![ModelRef {
            name: "text".to_string(),
            manifest: repo().join("models/ppocr-det/model.toml"),
        }],
        vec![cam],
    );
    config.grid = Some(grid_path);

    let run = |config: &Config| {
        let runtime = Runtime::start(config, RunOptions::default()).expect("runtime");
        let mut stored = Vec::new();
        let mut still = Vec::new();
        wait_for(
            &runtime,
            Duration::from_secs(240),
            |e| match e {
                RuntimeEvent::CaseStored { case, inserted } => {
                    stored.push((case.clone(), *inserted))
                }
                RuntimeEvent::StaticObjects { pts, regions, .. } => {
                    still.push((*pts, regions.clone()))
                }
                _ => {}
            },
            |_| runtime.finished() && runtime.events().is_empty(),
        );
        let all = runtime
            .block_on(runtime.store().list(&CaseFilter::default(), None, 100))
            .expect("list cases");
        let evidence = all.cases.first().map(|c| {
            runtime
                .block_on(runtime.store().evidence(c.id))
                .expect("evidence")
        });
        runtime.stop();
        (stored, all.cases, evidence.unwrap_or_default(), still)
    };

    let (stored, cases, evidence, still) = run(&config);
    // The static-object detector reports the stack as it stands (what `gridsight run` prints):
    // never before it arrived, and with the time it arrived.
    let track = scene.events()[0].track_id;
    let truth_box = scene
        .frame_truth(60 * 5)
        .expect("truth at 60 s")
        .objects
        .iter()
        .find(|o| o.track_id == track)
        .map(|o| o.bbox().scale(1.0 / 640.0, 1.0 / 360.0))
        .expect("the stack is in view");
    let arrived = Duration::from_secs(15);
    assert!(
        still.iter().any(|(pts, regions)| {
            pts.is_some_and(|p| p >= arrived)
                && regions.iter().any(|(b, _)| b.iou(&truth_box) >= 0.3)
        }),
        "the stack is among the static regions: {still:?}"
    );
    assert!(
        still
            .iter()
            .all(|(pts, _)| pts.is_some_and(|p| p >= arrived)),
        "nothing stands still before the stack arrives: {still:?}"
    );
    assert_eq!(stored.len(), 1, "exactly one candidate: {stored:?}");
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case.category, "sidewalk_occupation");
    assert_eq!(case.event_code, "0504");
    assert_eq!(case.zone.as_deref(), Some("sidewalk"));
    let error_m = distance_m(
        GeoPoint::new(case.lat.expect("lat"), case.lon.expect("lon")),
        GeoPoint::new(truth.lat, truth.lon),
    );
    assert!(error_m <= 1.0, "position error {error_m:.2} m");
    assert_eq!(case.grid_code.as_deref(), Some(expected_cell.as_str()));
    assert_eq!(
        evidence.len(),
        4,
        "annotated frame, clean scene, crop and clip"
    );
    assert!(evidence.iter().any(|e| e.mime == "video/mp4"));
    for e in &evidence {
        assert!(data.join(&e.path).is_file(), "{} exists", e.path);
    }

    // Restart on the same store: the stack is still there, and is the same violation.
    let (again, cases, _, _) = run(&config);
    assert!(
        again.iter().all(|(_, inserted)| !inserted),
        "no new case after a restart: {again:?}"
    );
    assert_eq!(cases.len(), 1);
}

#[test]
fn sigkill_loses_no_stored_case_and_a_restart_adds_no_duplicate() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let video = scene_video();
    let dir = scratch().join("sigkill");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "data"
[[models]]
name = "text"
manifest = {manifest:?}
[[cameras]]
id = "street-1"
uri = {video:?}
[cameras.detectors.static]
interval_s = 1.0
[[cameras.zones]]
id = "sidewalk"
kind = "no_vending"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
[cameras.rules.defaults.sidewalk_occupation]
min_dwell = 20
"#,
            manifest = repo()
                .join("models/ppocr-det/model.toml")
                .display()
                .to_string(),
            video = video.display().to_string(),
        ),
    )
    .expect("write config");

    // Run until the first case is reported as stored, then kill the process outright.
    let mut child = gridsight()
        .arg("run")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gridsight");
    let stdout = child.stdout.take().expect("stdout");
    let reported = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("CASE ") && l.contains(" stored:"))
        .expect("a case is reported as stored");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let id: i64 = reported
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("case id");

    let url = format!("sqlite:{}", dir.join("data/gridsight.db").display());
    let count_cases = || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        rt.block_on(async {
            let store = gridsight::cases::open(&url).await.expect("open store");
            let case = store
                .get(gridsight::cases::CaseId(id))
                .await
                .expect("the reported case is there");
            assert_eq!(case.category, "sidewalk_occupation");
            let all = store
                .list(&CaseFilter::default(), None, 100)
                .await
                .expect("list");
            store.close().await.expect("close");
            all.cases.len()
        })
    };
    assert_eq!(count_cases(), 1);

    // A restart plays the scene again: the stack is the violation already stored.
    let out = succeeds(gridsight().arg("run").arg(&config), "gridsight run, again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(" stored: "),
        "no new case after the restart:\n{stdout}"
    );
    assert_eq!(count_cases(), 1);
}

#[test]
fn a_candidate_of_a_files_last_seconds_is_stored_before_the_run_counts_as_finished() {
    // A file's end reaches analysis while its last frames still wait for the text detector. A
    // candidate of those frames waits for frames after it for its clip, which never come: it
    // must still be stored, and the run finish, without a stop.
    let dir = scratch().join("scene-last-seconds");
    let camera = |video: &std::path::Path, text_every: Option<Duration>| {
        let mut detectors = vec![DetectorConfig {
            model: "static".to_string(),
            interval: Duration::from_secs(1),
            tiles: None,
        }];
        if let Some(interval) = text_every {
            detectors.push(DetectorConfig {
                model: "text".to_string(),
                interval,
                tiles: Some(gridsight::config::TilesConfig {
                    scale: 2.0,
                    region: gridsight::domain::BBox::new(0.0, 0.3, 1.0, 1.0),
                    zones: Vec::new(),
                }),
            });
        }
        let mut cam = CameraConfig::new("street-end", Source::File(video.to_path_buf()), detectors);
        cam.zones = vec![Zone {
            id: "sidewalk".to_string(),
            kind: ZoneKind::NoVending,
            polygon: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
        }];
        cam.rules = occupation_after(Duration::from_secs(20));
        cam
    };
    // Whether a run finished by itself, and the seconds into the file of its candidates.
    let run = |cam: CameraConfig| -> (bool, Vec<f64>) {
        let data = dir.join("data");
        let _ = std::fs::remove_dir_all(&data);
        let config = Config::new(
            dir.join("pipeline.toml"),
            data,
            vec![ModelRef {
                name: "text".to_string(),
                manifest: repo().join("models/ppocr-det/model.toml"),
            }],
            vec![cam],
        );
        let runtime = Runtime::start(&config, RunOptions::default()).expect("runtime");
        let mut origin = None;
        let finished = wait_for(
            &runtime,
            Duration::from_secs(120),
            |e| {
                if let RuntimeEvent::StaticObjects {
                    time, pts: Some(p), ..
                } = e
                {
                    origin.get_or_insert(*time - *p);
                }
            },
            |_| runtime.finished() && runtime.events().is_empty(),
        );
        let cases = runtime
            .block_on(runtime.store().list(&CaseFilter::default(), None, 100))
            .expect("list cases")
            .cases;
        runtime.stop();
        let origin = origin.expect("static regions were reported");
        let at = cases
            .iter()
            .map(|c| {
                c.detected_at
                    .duration_since(origin)
                    .expect("after the start")
                    .as_secs_f64()
            })
            .collect();
        (finished, at)
    };

    // The stack's candidate comes mid-file on the 90 s street.
    let (finished, at) = run(camera(&scene_video(), None));
    assert!(finished, "the run finishes by itself");
    let [first] = at[..] else {
        panic!("one candidate: {at:?}")
    };
    // The same street cut two seconds after it, with the text detector on every analysed frame
    // (slower than decoding, so the file ends well before its last frames are analysed).
    let short = SceneSpec {
        duration_s: (first + 2.0).ceil(),
        ..spec()
    };
    let video = gridsight::scenes::write_scene(short, &dir, "street", &mut |_, _| {})
        .expect("render the shorter street")
        .video;
    let (finished, at) = run(camera(&video, Some(Duration::from_secs(1))));
    assert!(finished, "the run finishes by itself: {at:?}");
    assert_eq!(at.len(), 1, "one candidate, stored before the stop: {at:?}");
    assert!(
        (at[0] - first).abs() < 0.5,
        "the candidate at {at:?}, not {first:.1} s"
    );
}
