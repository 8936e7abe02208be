//! Tests of parsing and validating pipeline configs.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "gridsight-config-test-{}-{name}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `rel` (creating parent dirs) and returns the full path.
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A temp dir with `models/ppocr-det/model.toml`, `models/yolo/model.toml` and
/// `pipelines/clips/lobby.mp4`; configs go in `pipelines/`.
fn project(name: &str) -> TempDir {
    let t = TempDir::new(name);
    t.write("models/ppocr-det/model.toml", "sha256 = \"x\"\n");
    t.write("models/yolo/model.toml", "sha256 = \"y\"\n");
    t.write("pipelines/clips/lobby.mp4", "not really a video");
    t
}

fn errors_of<T: std::fmt::Debug>(r: Result<T, ConfigErrors>) -> ConfigErrors {
    match r {
        Ok(c) => panic!("expected errors, got: {c:#?}"),
        Err(e) => e,
    }
}

fn ok(r: Result<Config, ConfigErrors>) -> Config {
    match r {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

const MODELS: &str = r#"
[[models]]
name = "text"
manifest = "../models/ppocr-det/model.toml"
"#;

/// Parses `text` as `pipelines/pipeline.toml` of `t`.
fn parse_in(t: &TempDir, text: &str) -> Result<Config, ConfigErrors> {
    parse(text, &t.path().join("pipelines/pipeline.toml"), None)
}

#[test]
fn valid_full_config_round_trips() {
    let t = project("full");
    t.write(
        "pipelines/secrets.toml",
        "[gate-1]\nuser = \"admin\"\npassword = \"hunter2\"\n",
    );
    let cfg_path = t.write(
        "pipelines/pipeline.toml",
        r#"
data_dir = "/var/lib/gridsight"
http_bind = "0.0.0.0:9000"
onnxruntime = "libonnxruntime.so"
credentials_file = "secrets.toml"

[inference]
workers = 2
threads_per_worker = 3
max_batch = 8
max_wait_ms = 20
device = "tensorrt"

[[models]]
name = "text"
manifest = "../models/ppocr-det/model.toml"

[[models]]
name = "yolo"
manifest = "../models/yolo/model.toml"

[[cameras]]
id = "gate-1"
name = "East gate"
uri = "rtsp://10.0.0.5:554/stream1"
credentials = "gate-1"
transport = "udp"
stall_timeout_s = 5
heading_deg = 90.0
position = { lat = 39.9042, lon = 116.4074, height_m = 6.0 }

[cameras.detectors.yolo]
interval_s = 0.5

[cameras.detectors.text]

[[cameras]]
id = "lobby"
uri = "clips/lobby.mp4"
realtime = true
enabled = false

[[cameras]]
id = "Pattern_2"
uri = "test:ball?fps=5&width=1280&height=720"
detectors.text.interval_s = 1.5

[[cameras]]
id = "mjpeg"
uri = "http://cam.local/video.mjpg"
position = { lat = -33.9, lon = 18.4 }
detectors.text = {}
"#,
    );
    let cfg = ok(load(&cfg_path));
    let base = t.path().join("pipelines");
    let expected = Config {
        timezone: chrono_tz::Tz::Asia__Shanghai,
        store: "sqlite:/var/lib/gridsight/gridsight.db".to_string(),
        categories: None,
        grid: None,
        tile_url: None,
        path: cfg_path.clone(),
        data_dir: PathBuf::from("/var/lib/gridsight"),
        http_bind: "0.0.0.0:9000".parse::<SocketAddr>().unwrap(),
        onnxruntime: Some(PathBuf::from("libonnxruntime.so")),
        inference: InferenceConfig {
            workers: 2,
            threads_per_worker: 3,
            max_batch: 8,
            max_wait: Duration::from_millis(20),
            device: Device::TensorRt,
        },
        models: vec![
            ModelRef {
                name: "text".into(),
                manifest: base.join("../models/ppocr-det/model.toml"),
            },
            ModelRef {
                name: "yolo".into(),
                manifest: base.join("../models/yolo/model.toml"),
            },
        ],
        cameras: vec![
            CameraConfig {
                id: CameraId::new("gate-1"),
                name: "East gate".into(),
                source: Source::Rtsp {
                    url: "rtsp://10.0.0.5:554/stream1".into(),
                    transport: RtspTransport::Udp,
                },
                credentials: Some(Credentials {
                    user: "admin".into(),
                    password: Secret::new("hunter2"),
                }),
                enabled: true,
                stall_timeout: Duration::from_secs(5),
                realtime: false,
                heading_deg: Some(90.0),
                position: Some(Position {
                    lat: 39.9042,
                    lon: 116.4074,
                    height_m: 6.0,
                }),
                detectors: vec![
                    DetectorConfig {
                        model: "text".into(),
                        interval: Duration::from_secs(2),
                        tiles: None,
                    },
                    DetectorConfig {
                        model: "yolo".into(),
                        interval: Duration::from_millis(500),
                        tiles: None,
                    },
                ],
                zones: Vec::new(),
                rules: crate::analysis::RuleSet::default(),
                signage_baseline: crate::analysis::Baseline::default(),
                calibration: None,
            },
            CameraConfig {
                id: CameraId::new("lobby"),
                name: "lobby".into(),
                source: Source::File(base.join("clips/lobby.mp4")),
                credentials: None,
                enabled: false,
                stall_timeout: Duration::from_secs(10),
                realtime: true,
                heading_deg: None,
                position: None,
                detectors: vec![],
                zones: Vec::new(),
                rules: crate::analysis::RuleSet::default(),
                signage_baseline: crate::analysis::Baseline::default(),
                calibration: None,
            },
            CameraConfig {
                id: CameraId::new("Pattern_2"),
                name: "Pattern_2".into(),
                source: Source::TestPattern {
                    pattern: "ball".into(),
                    fps: 5,
                    width: 1280,
                    height: 720,
                },
                credentials: None,
                enabled: true,
                stall_timeout: Duration::from_secs(10),
                realtime: false,
                heading_deg: None,
                position: None,
                detectors: vec![DetectorConfig {
                    model: "text".into(),
                    interval: Duration::from_millis(1500),
                    tiles: None,
                }],
                zones: Vec::new(),
                rules: crate::analysis::RuleSet::default(),
                signage_baseline: crate::analysis::Baseline::default(),
                calibration: None,
            },
            CameraConfig {
                id: CameraId::new("mjpeg"),
                name: "mjpeg".into(),
                source: Source::Http {
                    url: "http://cam.local/video.mjpg".into(),
                },
                credentials: None,
                enabled: true,
                stall_timeout: Duration::from_secs(10),
                realtime: false,
                heading_deg: None,
                position: Some(Position {
                    lat: -33.9,
                    lon: 18.4,
                    height_m: 0.0,
                }),
                detectors: vec![DetectorConfig {
                    model: "text".into(),
                    interval: Duration::from_secs(2),
                    tiles: None,
                }],
                zones: Vec::new(),
                rules: crate::analysis::RuleSet::default(),
                signage_baseline: crate::analysis::Baseline::default(),
                calibration: None,
            },
        ],
    };
    assert_eq!(cfg, expected);
    assert_eq!(cfg.cameras[0].min_interval(), Duration::from_millis(500));
    assert_eq!(cfg.cameras[1].min_interval(), Duration::from_secs(2));
    assert_eq!(cfg.camera("mjpeg").map(|c| c.enabled), Some(true));
    assert_eq!(cfg.model("yolo").map(|m| m.name.as_str()), Some("yolo"));
    assert_eq!(
        cfg.cameras[0]
            .credentials
            .as_ref()
            .map(|c| c.password.expose()),
        Some("hunter2")
    );
}

#[test]
fn minimal_config_gets_defaults() {
    let t = project("minimal");
    let cfg = ok(parse_in(&t, ""));
    assert_eq!(cfg.data_dir, t.path().join("pipelines/data"));
    assert_eq!(
        cfg.http_bind,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(cfg.onnxruntime, None);
    assert_eq!(cfg.inference, InferenceConfig::default());
    assert_eq!(cfg.inference.workers, 1);
    assert_eq!(cfg.inference.max_batch, 4);
    assert_eq!(cfg.inference.max_wait, Duration::from_millis(10));
    assert_eq!(cfg.inference.device, Device::Cpu);
    assert!(cfg.models.is_empty() && cfg.cameras.is_empty());

    let cfg = ok(parse_in(
        &t,
        &format!("{MODELS}[[cameras]]\nid = \"c\"\nuri = \"rtsp://h/s\"\ndetectors.text = {{}}\n"),
    ));
    let cam = &cfg.cameras[0];
    assert_eq!(cam.name, "c");
    assert!(cam.enabled && !cam.realtime);
    assert_eq!(cam.stall_timeout, Duration::from_secs(10));
    assert_eq!(
        cam.source,
        Source::Rtsp {
            url: "rtsp://h/s".into(),
            transport: RtspTransport::Tcp
        }
    );
    assert_eq!(cam.detectors[0].interval, Duration::from_secs(2));
}

#[test]
fn five_mistakes_are_all_reported() {
    let t = project("five");
    let text = format!(
        r#"
[inference]
workers = 0

{MODELS}
[[cameras]]
id = "gate-1"
uri = "rtsp://10.0.0.5/stream1"
detectors.txt = {{ interval_s = 2.0 }}

[[cameras]]
id = "gate-1"
uri = "rtsp://10.0.0.6/stream1"
position = {{ lat = 95.0, lon = 10.0 }}
detectors.text = {{}}

[[cameras]]
id = "street"
uri = "rtmp://10.0.0.7/live"
detectors.text = {{}}
"#
    );
    let errs = errors_of(parse_in(&t, &text));
    assert_eq!(
        errs.paths(),
        vec![
            "inference.workers",
            "cameras[0].detectors.txt",
            "cameras[1].id",
            "cameras[1].position.lat",
            "cameras[2].uri",
        ],
        "{errs}"
    );
    let shown: Vec<String> = errs.as_slice().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown[1],
        r#"cameras[0].detectors.txt: no model named "txt" (models: text)"#
    );
    assert_eq!(
        shown[4],
        r#"cameras[2].uri: unsupported scheme "rtmp" (use file, rtsp, rtsps, http, https or test)"#
    );
    assert!(
        shown[2].contains("duplicate camera id \"gate-1\""),
        "{}",
        shown[2]
    );
    // Display: one error per line.
    assert_eq!(errs.to_string().lines().count(), 5);
    assert_eq!(errs.to_string(), shown.join("\n"));
}

#[test]
fn unknown_field_is_refused_naming_it() {
    let t = project("unknown");
    let e = errors_of(parse_in(&t, "data_dir = \"d\"\nhttp_bnd = \"1.2.3.4:5\"\n"));
    assert_eq!(e.len(), 1);
    assert_eq!(e.0[0].path, "");
    assert!(e.0[0].message.contains("`http_bnd`"), "{e}");
    assert!(e.0[0].message.contains("line 2, column 1"), "{e}");

    let text = format!(
        "{MODELS}[[cameras]]\nid = \"a\"\nuri = \"test:smpte\"\ndetectors.text = {{}}\n\
         [[cameras]]\nid = \"b\"\nuri = \"test:smpte\"\nstal_timeout_s = 3\n"
    );
    let e = errors_of(parse_in(&t, &text));
    assert_eq!(e.len(), 1);
    assert_eq!(e.0[0].path, "cameras[1]", "{e}");
    assert!(
        e.0[0].message.contains("unknown field `stal_timeout_s`"),
        "{e}"
    );
    assert!(e.0[0].message.contains("line 12, column 1"), "{e}");

    let text = format!(
        "{MODELS}[[cameras]]\nid = \"a\"\nuri = \"test:smpte\"\n\
         [cameras.detectors.text]\ninterval = 3\n"
    );
    let e = errors_of(parse_in(&t, &text));
    assert_eq!(e.0[0].path, "cameras[0].detectors.text", "{e}");
    assert!(e.0[0].message.contains("`interval`"), "{e}");

    let e = errors_of(parse_in(&t, "[inference]\nbatch = 3\n"));
    assert_eq!(e.0[0].path, "inference", "{e}");
    assert!(e.0[0].message.contains("`batch`"), "{e}");
}

#[test]
fn type_and_syntax_errors_have_path_and_position() {
    let t = project("types");
    let text = format!(
        "{MODELS}[[cameras]]\nid = \"a\"\nuri = \"test:smpte\"\nstall_timeout_s = \"ten\"\n"
    );
    let e = errors_of(parse_in(&t, &text));
    assert_eq!(e.len(), 1);
    assert_eq!(e.0[0].path, "cameras[0].stall_timeout_s", "{e}");
    assert!(e.0[0].message.contains("line 8, column 19"), "{e}");

    let e = errors_of(parse_in(&t, "[[cameras]]\nid = \"a\"\n"));
    assert_eq!(e.0[0].path, "cameras[0]", "{e}");
    assert!(e.0[0].message.contains("missing field `uri`"), "{e}");

    let e = errors_of(parse_in(&t, "[inference]\ndevice = \"gpu\"\n"));
    assert_eq!(e.0[0].path, "inference.device", "{e}");
    assert!(e.0[0].message.contains("`tensorrt`"), "{e}");

    let e = errors_of(parse_in(&t, "data_dir = \"x\"\nhttp_bind = \n"));
    assert_eq!(e.len(), 1);
    assert_eq!(e.0[0].path, "");
    assert!(e.0[0].message.contains("line 2, column"), "{e}");
    assert!(!e.0[0].message.contains('\n'), "{e}");
}

#[test]
fn password_never_in_debug_output() {
    let t = project("secret");
    let mut store = CredentialStore::new();
    store.insert(
        "gate-1",
        Credentials {
            user: "admin".into(),
            password: Secret::new("s3cr3t-pa55"),
        },
    );
    let text = format!(
        "{MODELS}[[cameras]]\nid = \"gate-1\"\nuri = \"rtsps://cam/s\"\ncredentials = \"gate-1\"\n\
         detectors.text = {{}}\n"
    );
    let cfg = ok(parse(
        &text,
        &t.path().join("pipelines/p.toml"),
        Some(&store),
    ));
    let cam = &cfg.cameras[0];
    for shown in [
        format!("{cam:?}"),
        format!("{cam:#?}"),
        format!("{cfg:?}"),
        format!("{store:?}"),
        format!("{}", Secret::new("s3cr3t-pa55")),
    ] {
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
    assert_eq!(
        cam.credentials.as_ref().map(|c| c.password.expose()),
        Some("s3cr3t-pa55")
    );
}

#[test]
fn user_info_in_uri_is_refused_without_echoing_it() {
    let t = project("userinfo");
    let text = format!(
        "{MODELS}[[cameras]]\nid = \"a\"\nuri = \"rtsp://admin:s3cr3t@10.0.0.5/s\"\n\
         detectors.text = {{}}\n[[cameras]]\nid = \"b\"\nuri = \"http://admin@cam/v.mjpg\"\n\
         detectors.text = {{}}\n"
    );
    let e = errors_of(parse_in(&t, &text));
    assert_eq!(e.paths(), vec!["cameras[0].uri", "cameras[1].uri"]);
    assert!(e.0[0].message.contains("credentials_file"), "{e}");
    assert!(!e.to_string().contains("s3cr3t"), "{e}");
}

#[test]
fn relative_paths_resolve_against_config_dir() {
    let t = project("relative");
    t.write(
        "pipelines/conf/creds.toml",
        "[cam]\nuser = \"u\"\npassword = \"p\"\n",
    );
    t.write("pipelines/ort/libonnxruntime.so", "");
    let cfg_path = t.write(
        "pipelines/pipeline.toml",
        &format!(
            "data_dir = \"../var\"\nonnxruntime = \"ort/libonnxruntime.so\"\n\
             credentials_file = \"conf/creds.toml\"\n{MODELS}\
             [[cameras]]\nid = \"f\"\nuri = \"clips/lobby.mp4\"\ndetectors.text = {{}}\n\
             [[cameras]]\nid = \"g\"\nuri = \"file://{}\"\ndetectors.text = {{}}\n\
             [[cameras]]\nid = \"h\"\nuri = \"rtsp://cam/s\"\ncredentials = \"cam\"\n\
             detectors.text = {{}}\n",
            t.path().join("pipelines/clips/lobby.mp4").display()
        ),
    );
    let cfg = ok(load(&cfg_path));
    let base = t.path().join("pipelines");
    assert_eq!(cfg.path, cfg_path);
    assert_eq!(cfg.data_dir, base.join("../var"));
    assert_eq!(cfg.onnxruntime, Some(base.join("ort/libonnxruntime.so")));
    assert_eq!(
        cfg.models[0].manifest,
        base.join("../models/ppocr-det/model.toml")
    );
    assert_eq!(
        cfg.cameras[0].source,
        Source::File(base.join("clips/lobby.mp4"))
    );
    assert_eq!(
        cfg.cameras[1].source,
        Source::File(base.join("clips/lobby.mp4"))
    );
    assert_eq!(
        cfg.cameras[2].credentials.as_ref().map(|c| c.user.as_str()),
        Some("u")
    );
    assert!(cfg.path.is_absolute() && cfg.data_dir.is_absolute());
}

#[test]
fn every_check_reports_its_own_error() {
    let t = project("checks");
    let text = r#"
http_bind = "localhost:8080"

[inference]
threads_per_worker = 65
max_batch = 0
max_wait_ms = -1

[[models]]
name = "text"
manifest = "../models/ppocr-det/model.toml"

[[models]]
name = "text"
manifest = "../models/missing/model.toml"

[[models]]
name = "Bad Name"
manifest = "../models/yolo/model.toml"

[[cameras]]
id = "bad id!"
name = " "
uri = "file:///nonexistent/gridsight/clip.mp4"
transport = "tcp"
stall_timeout_s = 0
heading_deg = 360.0
position = { lat = 0.0, lon = -181.0, height_m = -1.0 }
detectors.text = { interval_s = nan }

[[cameras]]
id = "nofile"
uri = "clips/missing.mp4"
enabled = false

[[cameras]]
id = "badurl"
uri = "rtsp://[::1/s"
credentials = "x"
realtime = true

[[cameras]]
id = "pattern"
uri = "test:smtpe?fps=0"
detectors.text = { interval_s = -2 }
credentials = "y"

[[cameras]]
id = "nohost"
uri = "rtsp:stream"
detectors.text = {}

[[cameras]]
id = "filehost"
uri = "file://server/share/clip.mp4"
detectors.text = {}
"#;
    let e = errors_of(parse_in(&t, text));
    let paths = e.paths();
    let expected = [
        "http_bind",
        "inference.threads_per_worker",
        "inference.max_batch",
        "inference.max_wait_ms",
        "models[1].name",
        "models[1].manifest",
        "models[2].name",
        "cameras[0].id",
        "cameras[0].name",
        "cameras[0].uri",
        "cameras[0].transport",
        "cameras[0].stall_timeout_s",
        "cameras[0].heading_deg",
        "cameras[0].position.lon",
        "cameras[0].position.height_m",
        "cameras[0].detectors.text.interval_s",
        "cameras[1].uri",
        "cameras[2].uri",
        "cameras[2].realtime",
        "cameras[2].credentials",
        "cameras[2].detectors",
        "cameras[3].uri",
        "cameras[3].credentials",
        "cameras[3].detectors.text.interval_s",
        "cameras[4].uri",
        "cameras[5].uri",
    ];
    assert_eq!(paths, expected, "\n{e}");
    let msg = |p: &str| {
        e.as_slice()
            .iter()
            .find(|x| x.path == p)
            .map(|x| x.message.clone())
            .unwrap()
    };
    assert!(msg("cameras[0].uri").contains("does not exist"));
    assert!(msg("cameras[1].uri").contains("clips/missing.mp4"));
    assert!(msg("cameras[2].uri").starts_with("cannot parse URL"));
    assert!(msg("cameras[2].credentials").contains("credentials_file is not set"));
    assert!(msg("cameras[3].uri").contains("unknown test pattern \"smtpe\""));
    assert!(msg("cameras[3].credentials").contains("only applies to rtsp"));
    assert!(msg("cameras[4].uri").contains("no host"));
    assert!(msg("cameras[5].uri").contains("no host"));
    assert!(msg("models[1].name").contains("duplicate model name"));
}

#[test]
fn credentials_file_problems() {
    let t = project("creds");
    let cam = format!(
        "{MODELS}[[cameras]]\nid = \"a\"\nuri = \"rtsp://h/s\"\ncredentials = \"gate-9\"\n\
         detectors.text = {{}}\n"
    );
    // Entry missing from the file.
    t.write(
        "pipelines/secrets.toml",
        "[gate-1]\nuser = \"admin\"\npassword = \"pw\"\n",
    );
    let e = errors_of(parse_in(
        &t,
        &format!("credentials_file = \"secrets.toml\"\n{cam}"),
    ));
    assert_eq!(e.paths(), vec!["cameras[0].credentials"]);
    assert!(e.0[0].message.contains("no entry [gate-9]"), "{e}");
    assert!(e.0[0].message.contains("entries: gate-1"), "{e}");

    // File missing: one error, no follow-on errors for the cameras.
    let e = errors_of(parse_in(
        &t,
        &format!("credentials_file = \"nope.toml\"\n{cam}"),
    ));
    assert_eq!(e.paths(), vec!["credentials_file"], "{e}");

    // A mistyped password is not echoed.
    t.write(
        "pipelines/bad.toml",
        "[gate-9]\nuser = \"admin\"\npassword = 987654321\n",
    );
    let e = errors_of(parse_in(
        &t,
        &format!("credentials_file = \"bad.toml\"\n{cam}"),
    ));
    assert_eq!(e.paths(), vec!["credentials_file"], "{e}");
    assert!(!e.to_string().contains("987654321"), "{e}");
    assert!(e.to_string().contains("line 3"), "{e}");

    // Unknown field in the credentials file.
    let e = errors_of(CredentialStore::parse(
        "[a]\nuser = \"u\"\npasword = \"p\"\n",
    ));
    assert!(e.0[0].message.contains("`pasword`"), "{e}");
}

#[test]
fn load_reports_unreadable_file() {
    let t = TempDir::new("unreadable");
    let e = errors_of(load(&t.path().join("missing.toml")));
    assert_eq!(e.len(), 1);
    assert!(e.0[0].message.contains("cannot read config file"), "{e}");
}

#[test]
fn tiles_over_no_signage_zones_and_explicit_rects() {
    let t = project("tiles");
    let text = format!(
        r#"{MODELS}
[[cameras]]
id = "wall"
uri = "clips/lobby.mp4"
detectors.text = {{ tiles = {{ scale = 3.0 }} }}

[[cameras.zones]]
id = "shopfronts"
kind = "no_signage"
polygon = [[0.0, 0.3], [1.0, 0.0], [1.0, 0.1], [0.0, 0.5]]

[[cameras.zones]]
id = "pole"
kind = "no_signage"
polygon = [[0.6, 0.2], [0.65, 0.2], [0.65, 0.7]]

[[cameras.zones]]
id = "sidewalk"
kind = "no_vending"
polygon = [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]

[[cameras]]
id = "rect"
uri = "clips/lobby.mp4"
detectors.text = {{ interval_s = 4, tiles = {{ region = [0.25, 0, 1, 0.5] }} }}
"#
    );
    let config = ok(parse_in(&t, &text));
    // Default region: the bounding box of the no_signage zones (not the no_vending one), and
    // their polygons so that tiles missing both are skipped.
    let wall = &config.cameras[0].detectors[0];
    let tiles = wall.tiles.as_ref().expect("tiles");
    assert_eq!(tiles.scale, 3.0);
    assert_eq!(tiles.region, crate::domain::BBox::new(0.0, 0.0, 1.0, 0.7));
    assert_eq!(tiles.zones.len(), 2);
    assert_eq!(tiles.zones[1], vec![[0.6, 0.2], [0.65, 0.2], [0.65, 0.7]]);
    // An explicit rectangle (integers welcome), the default scale, no zones.
    let rect = &config.cameras[1].detectors[0];
    let tiles = rect.tiles.as_ref().expect("tiles");
    assert_eq!(tiles.scale, DEFAULT_TILE_SCALE as f32);
    assert_eq!(tiles.region, crate::domain::BBox::new(0.25, 0.0, 1.0, 0.5));
    assert!(tiles.zones.is_empty());
    assert_eq!(rect.interval, Duration::from_secs(4));
}

#[test]
fn tile_mistakes_are_reported_with_their_field() {
    let t = project("tile-mistakes");
    t.write(
        "models/yolo/model.toml",
        "kind = \"objects\"\nsha256 = \"y\"\n",
    );
    let text = r#"
[[models]]
name = "text"
manifest = "../models/ppocr-det/model.toml"

[[models]]
name = "yolo"
manifest = "../models/yolo/model.toml"

[[cameras]]
id = "a"
uri = "clips/lobby.mp4"
detectors.text = { tiles = { scale = 8.0, region = "walls" } }

[[cameras]]
id = "b"
uri = "clips/lobby.mp4"
detectors.text = { tiles = {} }

[[cameras]]
id = "c"
uri = "clips/lobby.mp4"
detectors.text = { tiles = { region = [0.5, 0.2, 0.4, 0.9] } }
detectors.yolo = { tiles = {} }
detectors.static = { tiles = { scale = 2.0 } }

[[cameras]]
id = "d"
uri = "clips/lobby.mp4"
detectors.text = { tiles = { region = 0.5 } }
"#;
    let e = errors_of(parse_in(&t, text));
    assert_eq!(
        e.paths(),
        vec![
            "cameras[0].detectors.text.tiles.scale",
            "cameras[0].detectors.text.tiles.region",
            "cameras[1].detectors.text.tiles.region",
            "cameras[2].detectors.static.tiles",
            "cameras[2].detectors.text.tiles.region",
            "cameras[2].detectors.yolo.tiles",
            "cameras[3].detectors.text.tiles.region",
        ],
        "\n{e}"
    );
    let msg = |p: &str, n: usize| {
        e.as_slice()
            .iter()
            .filter(|x| x.path == p)
            .nth(n)
            .map(|x| x.message.clone())
            .unwrap_or_default()
    };
    assert!(msg("cameras[0].detectors.text.tiles.scale", 0).contains("1 to 4"));
    assert!(msg("cameras[0].detectors.text.tiles.region", 0).contains("\"walls\" is not a region"));
    assert!(msg("cameras[1].detectors.text.tiles.region", 0).contains("needs a no_signage zone"));
    assert!(msg("cameras[2].detectors.text.tiles.region", 0)
        .starts_with("[0.5, 0.2, 0.4, 0.9] is not a box"));
    assert!(msg("cameras[2].detectors.yolo.tiles", 0).contains("tiles are for text detectors"));
    assert!(msg("cameras[2].detectors.static.tiles", 0).contains("static-object detector"));
    assert!(
        msg("cameras[3].detectors.text.tiles.region", 0).contains("expected a string or an array")
    );
}

#[test]
fn the_signage_picture_is_read_and_a_bad_one_is_named() {
    let t = project("picture");
    let picture = crate::analysis::ScenePicture::new(4, 3, (0..12).map(|v| v * 20).collect())
        .expect("picture");
    write_scene_picture(&t.path().join("pipelines/baselines/f.png"), &picture).expect("written");
    let text = |file: &str| {
        format!(
            "{MODELS}[[cameras]]\nid = \"f\"\nuri = \"clips/lobby.mp4\"\ndetectors.text = {{}}\n\
             signage_baseline = [[0.1, 0.1, 0.2, 0.2]]\nsignage_picture = \"{file}\"\n"
        )
    };
    let cfg = ok(parse(
        &text("baselines/f.png"),
        &t.path().join("pipelines/pipeline.toml"),
        None,
    ));
    let baseline = &cfg.cameras[0].signage_baseline;
    assert_eq!(baseline.regions.len(), 1);
    assert_eq!(baseline.picture.as_ref(), Some(&picture));

    t.write("pipelines/baselines/broken.png", "not a picture");
    for file in ["baselines/missing.png", "baselines/broken.png"] {
        let e = errors_of(parse(
            &text(file),
            &t.path().join("pipelines/pipeline.toml"),
            None,
        ));
        assert_eq!(e.paths(), vec!["cameras[0].signage_picture"], "{e}");
        assert!(e.0[0].message.contains(file), "{e}");
    }
}
