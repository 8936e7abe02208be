//! Text detection on upscaled tiles, end to end: a poster on a shopfront wall of a generated
//! 1280 × 720 street (glyphs a few pixels high) is missed by the text detector at its 640 × 384
//! input and found on tiles of the wall band cut from the full-resolution frame; the signage
//! baseline, captured the same way, holds it too.

use std::time::Duration;

use gridsight::analysis::{Zone, ZoneKind};
use gridsight::config::{CameraConfig, Config, DetectorConfig, ModelRef, Source, TilesConfig};
use gridsight::domain::BBox;
use gridsight::eval::metrics::text_found;
use gridsight::runtime::{BaselineCapture, RunOptions, Runtime, RuntimeEvent};
use gridsight::synth::{Category, Placement, Scene, SceneSpec, ScriptedEvent};

use crate::common::{repo, scratch, wait_for};

/// The demo street, 6 s at 5 fps, with only the demo's wall poster, there from the start.
fn spec() -> SceneSpec {
    let mut spec = SceneSpec::demo();
    spec.fps = 5;
    spec.duration_s = 6.0;
    spec.pedestrians_per_minute = 0.0;
    spec.events = vec![ScriptedEvent {
        category: Category::IllegalSignage,
        variant: Some(0),
        appear_s: 0.0,
        leave_s: 100.0,
        position: Placement::Wall {
            along_m: 1.9,
            height_m: 1.5,
        },
    }];
    spec
}

/// The scene's video (rendered once per process) and the poster's box, normalised.
fn scene() -> (std::path::PathBuf, BBox) {
    static VIDEO: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let video = VIDEO
        .get_or_init(|| {
            gridsight::scenes::write_scene(spec(), &scratch().join("tiles"), "wall", &mut |_, _| {})
                .expect("render the scene")
                .video
        })
        .clone();
    let scene = Scene::new(spec()).expect("scene");
    (video, scene_poster(&scene).1)
}

/// The poster's box in frame 0: in pixels and normalised.
fn scene_poster(scene: &Scene) -> (BBox, BBox) {
    let truth = scene.frame_truth(0).expect("truth");
    let poster = truth
        .objects
        .iter()
        .find(|o| o.track_id == scene.events()[0].track_id)
        .expect("the poster is in view")
        .bbox();
    let (w, h) = (scene.spec().width as f32, scene.spec().height as f32);
    (poster, poster.scale(1.0 / w, 1.0 / h))
}

/// The shopfront wall below the signboards, as an admin draws a no_signage zone on the demo
/// street (the poster is on a pillar between two shopfronts).
fn wall_zone() -> Zone {
    Zone {
        id: "shopfronts".to_string(),
        kind: ZoneKind::NoSignage,
        polygon: vec![(0.0, 0.30), (1.0, 0.09), (1.0, 0.24), (0.0, 0.56)],
    }
}

fn config(name: &str, video: &std::path::Path, tiles: Option<TilesConfig>) -> Config {
    let mut cam = CameraConfig::new(
        "wall-1",
        Source::File(video.to_path_buf()),
        vec![DetectorConfig {
            model: "text".to_string(),
            interval: Duration::from_secs(1),
            tiles,
        }],
    );
    cam.zones = vec![wall_zone()];
    let dir = scratch().join("tiles").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    Config::new(
        dir.join("pipeline.toml"),
        dir.join("data"),
        vec![ModelRef {
            name: "text".to_string(),
            manifest: repo().join("models/ppocr-det/model.toml"),
        }],
        vec![cam],
    )
}

/// Tiles ×2 over the no_signage zone, as `tiles = { scale = 2.0, region = "no_signage" }`
/// resolves.
fn tiles_over_the_wall() -> TilesConfig {
    let zone = wall_zone();
    let xs = zone.polygon.iter().map(|p| p.0 as f32);
    let ys = zone.polygon.iter().map(|p| p.1 as f32);
    TilesConfig {
        scale: 2.0,
        region: BBox::new(
            xs.clone().fold(1.0, f32::min),
            ys.clone().fold(1.0, f32::min),
            xs.fold(0.0, f32::max),
            ys.fold(0.0, f32::max),
        ),
        zones: vec![zone
            .polygon
            .iter()
            .map(|&(x, y)| [x as f32, y as f32])
            .collect()],
    }
}

/// Runs the clip through the pipeline; per analysed frame, the text boxes (normalised).
fn text_boxes(config: &Config) -> Vec<Vec<BBox>> {
    let runtime = Runtime::start(config, RunOptions::default()).expect("runtime");
    let mut frames = Vec::new();
    wait_for(
        &runtime,
        Duration::from_secs(180),
        |e| {
            if let RuntimeEvent::Detections {
                frame_size: (w, h),
                detections,
                ..
            } = e
            {
                frames.push(
                    detections
                        .iter()
                        .map(|l| l.detection.bbox.scale(1.0 / *w as f32, 1.0 / *h as f32))
                        .collect(),
                );
            }
        },
        |_| runtime.finished() && runtime.events().is_empty(),
    );
    runtime.stop();
    frames
}

#[test]
fn tiles_find_the_wall_poster_the_model_input_misses() {
    crate::common::onnxruntime();
    let (video, poster) = scene();
    let found = |boxes: &[BBox]| boxes.iter().any(|b| text_found(b, &poster));

    let plain = text_boxes(&config("plain", &video, None));
    assert!(plain.len() >= 5, "the text detector ran on each second");
    assert!(
        !plain.iter().any(|f| found(f)),
        "at 640x384 the poster {poster:?} is below what the detector resolves: {plain:?}"
    );

    let tiled = text_boxes(&config("tiled", &video, Some(tiles_over_the_wall())));
    assert_eq!(tiled.len(), plain.len());
    let hits = tiled.iter().filter(|f| found(f)).count();
    assert_eq!(
        hits,
        tiled.len(),
        "on tiles of the full-resolution wall band the poster {poster:?} is found in every frame: {tiled:?}"
    );
    // The shop signs above the zone are still seen, by the whole-frame pass.
    assert!(
        tiled.iter().all(|f| f.iter().any(|b| b.y2 < 0.3)),
        "{tiled:?}"
    );
}

#[test]
fn the_signage_baseline_is_captured_with_the_same_tiles() {
    crate::common::onnxruntime();
    let (video, poster) = scene();
    let at = Duration::from_secs(2);
    let plain = config("baseline-plain", &video, None);
    let boxes = gridsight::runtime::capture_baseline(
        &plain,
        "wall-1",
        at,
        &BaselineCapture::default(),
        None,
    )
    .expect("baseline");
    // The picture of the scene comes with the regions, at the analysis frame's size.
    let picture = boxes.picture.expect("a picture of the scene");
    assert_eq!((picture.width(), picture.height()), (640, 360));
    let boxes = boxes.regions;
    assert!(!boxes.iter().any(|b| text_found(b, &poster)), "{boxes:?}");

    let tiled = config("baseline-tiled", &video, Some(tiles_over_the_wall()));
    let boxes = gridsight::runtime::capture_baseline(
        &tiled,
        "wall-1",
        at,
        &BaselineCapture::default(),
        None,
    )
    .expect("baseline")
    .regions;
    assert!(
        boxes.iter().any(|b| text_found(b, &poster)),
        "the baseline holds the poster {poster:?} as the running detector sees it: {boxes:?}"
    );
}

#[test]
fn tiles_are_cut_from_the_full_resolution_detail_and_mapped_to_the_analysis_frame() {
    // The analysis frame is blank; only the detail (the wall band at full resolution) shows the
    // street. Text found can only come from the detail, and must land on the poster's place in
    // the 640 × 360 analysis frame.
    crate::common::onnxruntime();
    let scene = Scene::new(spec()).expect("scene");
    let (sw, sh) = (scene.spec().width, scene.spec().height);
    let mut full = vec![0u8; scene.frame_len()];
    scene.render(0, &mut full).expect("render");
    let (_, poster) = scene_poster(&scene);
    let tiles = tiles_over_the_wall();
    let rect =
        gridsight::inference::PixelRect::from_normalised(&tiles.region, sw, sh).expect("region");
    let frame = gridsight::domain::Frame {
        camera: gridsight::domain::CameraId::new("wall-1"),
        instance: 0,
        seq: 0,
        time: std::time::SystemTime::now(),
        pts: None,
        width: 640,
        height: 360,
        source_width: sw,
        source_height: sh,
        rgb: vec![128u8; 640 * 360 * 3].into(),
        detail: Some(std::sync::Arc::new(gridsight::domain::FrameDetail {
            x: rect.x,
            y: rect.y,
            width: rect.width,
            height: rect.height,
            rgb: rect.crop_rgb(&full, sw).into(),
        })),
        source: None,
    };
    let manifest =
        gridsight::inference::Manifest::load(&repo().join("models/ppocr-det/model.toml"))
            .expect("manifest");
    let mut model = gridsight::inference::Model::open(
        std::sync::Arc::new(manifest),
        gridsight::inference::Device::Cpu,
        2,
    )
    .expect("model");
    let tiling = gridsight::inference::Tiling {
        region: tiles.region,
        scale: tiles.scale,
        zones: tiles.zones.clone(),
    };
    let (output, timings) =
        gridsight::inference::pool::run_frame_tiled(&mut model, &frame, &tiling).expect("run");
    assert!(timings.batch > 1, "tiles and the whole frame: {timings:?}");
    let boxes: Vec<BBox> = output
        .detections
        .iter()
        .map(|d| d.bbox.scale(1.0 / 640.0, 1.0 / 360.0))
        .collect();
    // The poster's lines come back as one block, in its place: a tight match, not a brush.
    let best = boxes.iter().map(|b| b.iou(&poster)).fold(0.0, f32::max);
    assert!(
        best >= 0.5,
        "the poster {poster:?} among {boxes:?}: best IoU {best:.2}"
    );
}
