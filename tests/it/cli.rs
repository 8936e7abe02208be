//! The `gridsight` binary as a user runs it.

use crate::common::{gridsight, repo, scratch, succeeds};

/// Runs `gridsight check` on a bad config: exit code 2 and every `expected` text in stderr.
fn check_fails_naming(path: &std::path::Path, expected: &[&str]) -> String {
    let out = gridsight()
        .arg("check")
        .arg(path)
        .output()
        .expect("run gridsight");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for text in expected {
        assert!(stderr.contains(text), "missing {text:?} in:\n{stderr}");
    }
    stderr
}

#[test]
fn check_reports_all_five_mistakes_with_paths() {
    let dir = scratch().join("check-five");
    std::fs::create_dir_all(&dir).expect("dir");
    let manifest = repo().join("models/ppocr-det/model.toml");
    let config = format!(
        r#"
[[models]]
name = "text"
manifest = {manifest:?}

[[cameras]]
id = "a"
uri = "rtsp://127.0.0.1:8554/a"
[cameras.detectors.text]
interval_s = 2.0

[[cameras]]
id = "a"
uri = "rtsp://127.0.0.1:8554/b"
[cameras.detectors.text]
interval_s = -1.0

[[cameras]]
id = "c"
uri = "rtmp://127.0.0.1/live"
position = {{ lat = 95.0, lon = 116.4 }}
[cameras.detectors.txt]
interval_s = 2.0
"#,
        manifest = manifest.display().to_string()
    );
    let path = dir.join("five.toml");
    std::fs::write(&path, config).expect("write config");
    let stderr = check_fails_naming(
        &path,
        &[
            "cameras[1].id",
            "cameras[1].detectors.text.interval_s",
            "cameras[2].uri: unsupported scheme \"rtmp\"",
            "cameras[2].position.lat",
            "cameras[2].detectors.txt",
        ],
    );
    assert!(stderr.contains("5 errors"), "{stderr}");
}

#[test]
fn check_accepts_the_demo_pipeline() {
    // The demo's scene, grid and baseline picture are generated, not committed. A short
    // stand-in clip is enough for `check` (scripts/demo renders the real scene when its ground
    // truth is missing, and then captures the picture again).
    let demo = repo().join("data/demo");
    std::fs::create_dir_all(&demo).expect("data dir");
    if !demo.join("street.mp4").exists() {
        succeeds(
            gridsight()
                .arg("clip")
                .arg(demo.join("street.mp4"))
                .args(["--seconds", "2"]),
            "gridsight clip",
        );
    }
    if !demo.join("grid.geojson").exists() {
        succeeds(
            gridsight()
                .args([
                    "grid",
                    "generate",
                    "--bbox",
                    "121.4730,31.2300,121.4760,31.2320",
                ])
                .args(["--division", "310101", "--out"])
                .arg(demo.join("grid.geojson")),
            "gridsight grid generate",
        );
    }
    if !demo.join("baseline.png").exists() {
        // The picture of whatever scene is there, as scripts/demo captures it.
        let made = succeeds(
            gridsight()
                .arg("baseline")
                .arg(repo().join("pipelines/demo.toml"))
                .args(["--camera", "demo-1", "--frames", "2", "--picture"])
                .arg(demo.join("baseline.png")),
            "gridsight baseline",
        );
        let stdout = String::from_utf8_lossy(&made.stdout);
        assert!(
            stdout.contains("signage_baseline = [") && stdout.contains("signage_picture = "),
            "{stdout}"
        );
    }
    succeeds(
        gridsight()
            .arg("check")
            .arg(repo().join("pipelines/demo.toml")),
        "gridsight check",
    );
}

#[test]
fn detect_finds_the_text_of_a_poster_and_writes_the_annotated_image() {
    let dir = scratch().join("detect");
    std::fs::create_dir_all(&dir).expect("dir");
    // A white poster with black text drawn by GStreamer, as a PNG.
    let png = dir.join("poster.png");
    crate::common::text_picture(&png, 640, 360, "NO PARKING 24H", "Sans Bold 28", "pngenc");
    let out_png = dir.join("annotated.png");
    let out = succeeds(
        gridsight()
            .arg("detect")
            .arg(repo().join("models/ppocr-det"))
            .arg(&png)
            .arg("--out")
            .arg(&out_png),
        "gridsight detect",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("text 0.")),
        "{stdout}"
    );
    assert!(out_png.is_file());
}

#[test]
fn errors_go_to_stderr_with_exit_code_2() {
    let out = gridsight()
        .args(["run", "/nonexistent/pipeline.toml"])
        .output()
        .expect("run gridsight");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/pipeline.toml"), "{stderr}");
}

#[test]
fn check_names_bad_zones_calibration_and_grid() {
    let dir = scratch().join("check-analysis");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("grid.geojson"),
        r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"code": "1101"},
            "geometry": {"type": "Polygon", "coordinates": [[[116.0, 39.0], [116.1, 39.0], [116.0, 39.0]]]}}]}"#,
    )
    .expect("grid");
    let config = r#"
grid = "grid.geojson"
timezone = "Mars/Olympus"

[[cameras]]
id = "a"
uri = "test:smpte"
[cameras.detectors.static]
interval_s = 1.0

[[cameras.zones]]
id = "line"
kind = "no_vending"
polygon = [[0.1, 0.1], [0.9, 0.9]]

[[cameras.zones]]
id = "bowtie"
kind = "no_signage"
polygon = [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]

[cameras.calibration]
image_width = 1920
image_height = 1080
points = [
  { pixel = [100, 900], lat = 39.90, lon = 116.40 },
  { pixel = [900, 900], lat = 39.90, lon = 116.401 },
  { pixel = [500, 500], lat = 39.901, lon = 116.4005 },
]
"#;
    let path = dir.join("bad.toml");
    std::fs::write(&path, config).expect("write config");
    check_fails_naming(
        &path,
        &[
            "timezone: \"Mars/Olympus\"",
            "grid: features[0]",
            "cameras[0].zones[0]",
            "line",
            "cameras[0].zones[1]",
            "bowtie",
            "cameras[0].calibration",
        ],
    );
}
