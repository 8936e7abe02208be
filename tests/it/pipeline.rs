//! The whole frame path on real streams: an in-process RTSP server on 127.0.0.1 → ingest → the
//! PP-OCR text detector. Cameras reconnect by themselves; a failing camera disturbs no other.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gridsight::analysis::{Category, Rule};
use gridsight::cases::{CaseFilter, EvidenceKind};
use gridsight::config::{
    CameraConfig, Config, DetectorConfig, InferenceConfig, ModelRef, RtspTransport, Source,
};
use gridsight::domain::{CameraId, CameraStatus};
use gridsight::ingest::rtsp_server::RtspServer;
use gridsight::ingest::{Camera, CameraSpec, SourceSpec};
use gridsight::runtime::{RunOptions, Runtime, RuntimeEvent};

use crate::common::{poster_clip, repo, scratch, wait_for};

fn camera(id: &str, source: Source) -> CameraConfig {
    let mut camera = CameraConfig::new(
        id,
        source,
        vec![DetectorConfig {
            model: "text".to_string(),
            interval: Duration::from_secs(1),
            tiles: None,
        }],
    );
    camera.stall_timeout = Duration::from_secs(5);
    camera
}

fn rtsp(url: String) -> Source {
    Source::Rtsp {
        url,
        transport: RtspTransport::Tcp,
    }
}

fn start(cameras: Vec<CameraConfig>) -> Runtime {
    let options = RunOptions {
        analysis_width: 320,
        backoff_min: Duration::from_millis(300),
        backoff_max: Duration::from_secs(1),
        ..RunOptions::default()
    };
    start_in("data", cameras, options)
}

/// A runtime with the text detector, its store under `scratch()/data_dir`.
fn start_in(data_dir: &str, cameras: Vec<CameraConfig>, options: RunOptions) -> Runtime {
    let mut config = Config::new(
        scratch().join("pipeline.toml"),
        scratch().join(data_dir),
        vec![ModelRef {
            name: "text".to_string(),
            manifest: repo().join("models/ppocr-det/model.toml"),
        }],
        cameras,
    );
    config.inference = InferenceConfig {
        workers: 1,
        threads_per_worker: 2,
        ..InferenceConfig::default()
    };
    Runtime::start(&config, options).expect("runtime starts")
}

fn found_text(event: &RuntimeEvent, camera: &str) -> bool {
    matches!(event, RuntimeEvent::Detections { camera: c, detections, .. }
        if c.as_str() == camera && detections.iter().any(|d| d.label == "text" && d.detection.score > 0.5))
}

#[test]
fn rtsp_cameras_are_analysed_and_reconnect_without_disturbing_each_other() {
    let clip = poster_clip(60);
    let mut server_a = RtspServer::start(0).expect("server a");
    let url_a = server_a.add_clip("a", &clip).expect("mount a");
    let mut server_b = RtspServer::start(0).expect("server b");
    let url_b = server_b.add_clip("b", &clip).expect("mount b");
    let runtime = start(vec![
        camera("cam-a", rtsp(url_a)),
        camera("cam-b", rtsp(url_b)),
    ]);

    // Both cameras stream and the text detector finds the poster on both.
    let mut found: HashMap<String, usize> = HashMap::new();
    let both = wait_for(
        &runtime,
        Duration::from_secs(60),
        |_| {},
        |e| {
            for cam in ["cam-a", "cam-b"] {
                if found_text(e, cam) {
                    *found.entry(cam.to_string()).or_default() += 1;
                }
            }
            found.values().filter(|n| **n >= 3).count() == 2
        },
    );
    assert!(both, "both cameras analysed: {found:?}");
    assert!(
        found.get("cam-a").copied().unwrap_or(0) >= 3,
        "cam-a analysed: {found:?}"
    );
    assert!(
        found.get("cam-b").copied().unwrap_or(0) >= 3,
        "cam-b analysed: {found:?}"
    );

    // Camera A's server goes away: A fails with a reason and retries; B keeps streaming.
    server_a.stop();
    let mut b_during_outage = 0;
    let mut b_status_changes = Vec::new();
    let mut a_reason = String::new();
    let failed = wait_for(
        &runtime,
        Duration::from_secs(20),
        |e| {
            if found_text(e, "cam-b") {
                b_during_outage += 1;
            }
            if let RuntimeEvent::Camera(c) = e {
                if c.camera.as_str() == "cam-b" {
                    b_status_changes.push(c.status.clone());
                }
            }
        },
        |e| match e {
            RuntimeEvent::Camera(c) if c.camera.as_str() == "cam-a" => match &c.status {
                CameraStatus::Failed { reason, .. } => {
                    a_reason = reason.clone();
                    true
                }
                _ => false,
            },
            _ => false,
        },
    );
    assert!(failed, "cam-a reported failed after its server stopped");
    assert!(!a_reason.is_empty());
    // Stay down a few seconds, so A retries at least once against a closed port.
    let outage = Instant::now();
    wait_for(
        &runtime,
        Duration::from_secs(4),
        |e| {
            if found_text(e, "cam-b") {
                b_during_outage += 1;
            }
            if let RuntimeEvent::Camera(c) = e {
                if c.camera.as_str() == "cam-b" {
                    b_status_changes.push(c.status.clone());
                }
            }
        },
        |_| false,
    );
    assert!(outage.elapsed() >= Duration::from_secs(4));

    // The server comes back on the same port: A reconnects by itself and is analysed again.
    server_a.resume().expect("server a resumes");
    let back = wait_for(
        &runtime,
        Duration::from_secs(30),
        |e| {
            if let RuntimeEvent::Camera(c) = e {
                if c.camera.as_str() == "cam-b" {
                    b_status_changes.push(c.status.clone());
                }
            }
        },
        |e| found_text(e, "cam-a"),
    );
    assert!(back, "cam-a reconnected and was analysed again");
    assert!(
        b_during_outage >= 2,
        "cam-b kept being analysed: {b_during_outage}"
    );
    assert!(
        b_status_changes.is_empty(),
        "cam-b undisturbed: {b_status_changes:?}"
    );
    let stats: HashMap<_, _> = runtime.camera_stats().into_iter().collect();
    assert!(stats[&CameraId::new("cam-a")].reconnects >= 1);
    assert_eq!(stats[&CameraId::new("cam-b")].reconnects, 0);

    // Evidence: the latest analysed frame at full resolution, converted only now.
    let snapshot = runtime.snapshot(&CameraId::new("cam-b")).expect("snapshot");
    assert_eq!((snapshot.width, snapshot.height), (320, 240));
    assert_eq!(snapshot.rgb.len(), 320 * 240 * 3);
    runtime.stop();
    server_b.stop();
}

/// Text detections of `camera` in the next `limit`, and the camera's status changes meanwhile.
fn watch(runtime: &Runtime, camera: &str, want: usize, limit: Duration) -> (usize, Vec<String>) {
    let (mut found, mut statuses) = (0, Vec::new());
    wait_for(
        runtime,
        limit,
        |e| match e {
            RuntimeEvent::Camera(c) if c.camera.as_str() == camera => {
                statuses.push(c.status.name().to_string())
            }
            _ => {}
        },
        |e| {
            found += usize::from(found_text(e, camera));
            found >= want
        },
    );
    (found, statuses)
}

#[test]
fn a_zone_edit_reaches_the_running_stream_and_a_new_stall_timeout_restarts_it() {
    let clip = poster_clip(60);
    let mut server = RtspServer::start(0).expect("server");
    let url = server.add_clip("z", &clip).expect("mount");
    let mut config = camera("cam-z", rtsp(url));
    let mut runtime = start(vec![config.clone()]);
    let (found, statuses) = watch(&runtime, "cam-z", 2, Duration::from_secs(60));
    assert!(found >= 2, "cam-z analysed: {found}, statuses {statuses:?}");

    // A zone drawn: the same stream goes on, no status change, analysis continues.
    config.zones = vec![gridsight::analysis::Zone {
        id: "wall".to_string(),
        kind: gridsight::analysis::ZoneKind::NoSignage,
        polygon: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)],
    }];
    runtime.add_camera(&config).expect("zone edit applied");
    let (found, statuses) = watch(&runtime, "cam-z", 3, Duration::from_secs(30));
    assert!(found >= 3, "cam-z analysed after the edit: {found}");
    assert!(
        statuses.is_empty(),
        "the stream was not restarted: {statuses:?}"
    );

    // A bad zone is refused and changes nothing.
    let mut bad = config.clone();
    bad.zones[0].polygon.truncate(2);
    let e = runtime.add_camera(&bad).unwrap_err();
    assert!(format!("{e:#}").contains("zone `wall`"), "{e:#}");

    // A new stall timeout is a frame setting: the stream restarts and is analysed again.
    config.stall_timeout = Duration::from_secs(6);
    runtime.add_camera(&config).expect("restart applied");
    let (found, statuses) = watch(&runtime, "cam-z", 2, Duration::from_secs(60));
    assert!(found >= 2, "cam-z analysed after the restart: {found}");
    assert_eq!(
        statuses.first().map(String::as_str),
        Some("connecting"),
        "{statuses:?}"
    );
    runtime.stop();
    server.stop();
}

#[test]
fn a_corrupt_file_and_an_unreachable_uri_fail_with_reasons_while_others_run() {
    let corrupt = scratch().join("corrupt.mp4");
    std::fs::write(
        &corrupt,
        b"this is not a video file at all, just text bytes",
    )
    .expect("write");
    let runtime = start(vec![
        camera("corrupt", Source::File(corrupt)),
        camera(
            "unreachable",
            rtsp("rtsp://127.0.0.1:1/nothing".to_string()),
        ),
        camera(
            "pattern",
            Source::TestPattern {
                pattern: "smpte".to_string(),
                fps: 10,
                width: 320,
                height: 240,
            },
        ),
    ]);
    let mut reasons: HashMap<String, String> = HashMap::new();
    let mut pattern_analysed = 0;
    let mut retried: HashMap<String, usize> = HashMap::new();
    wait_for(
        &runtime,
        Duration::from_secs(20),
        |_| {},
        |e| {
            match e {
                RuntimeEvent::Camera(c) => {
                    if let CameraStatus::Failed { reason, .. } = &c.status {
                        reasons.insert(c.camera.to_string(), reason.clone());
                        *retried.entry(c.camera.to_string()).or_default() += 1;
                    }
                }
                RuntimeEvent::Detections { camera, .. } if camera.as_str() == "pattern" => {
                    pattern_analysed += 1
                }
                _ => {}
            }
            retried.get("corrupt").copied().unwrap_or(0) >= 2
                && retried.get("unreachable").copied().unwrap_or(0) >= 2
                && pattern_analysed >= 3
        },
    );
    let corrupt_reason = reasons.get("corrupt").cloned().unwrap_or_default();
    let unreachable_reason = reasons.get("unreachable").cloned().unwrap_or_default();
    assert!(
        !corrupt_reason.is_empty(),
        "corrupt file failed with a reason: {reasons:?}"
    );
    assert!(
        !unreachable_reason.is_empty(),
        "unreachable URI failed with a reason: {reasons:?}"
    );
    assert!(
        retried["corrupt"] >= 2 && retried["unreachable"] >= 2,
        "both retried: {retried:?}"
    );
    assert!(
        pattern_analysed >= 3,
        "the healthy camera kept being analysed: {pattern_analysed}"
    );
    let statuses: HashMap<_, _> = runtime.statuses().into_iter().collect();
    assert_eq!(statuses[&CameraId::new("pattern")], CameraStatus::Streaming);
    runtime.stop();
}

#[test]
fn rtsp_credentials_are_used_and_a_wrong_password_fails_with_a_reason() {
    use gridsight::config::{Credentials, Secret};
    let clip = poster_clip(60);
    let mut server = RtspServer::start_with_credentials(0, "admin", "s3cret-pw").expect("server");
    let url = server.add_clip("secure", &clip).expect("mount");
    let mut good = camera("good", rtsp(url.clone()));
    good.credentials = Some(Credentials {
        user: "admin".to_string(),
        password: Secret::new("s3cret-pw"),
    });
    let mut bad = camera("bad", rtsp(url));
    bad.credentials = Some(Credentials {
        user: "admin".to_string(),
        password: Secret::new("wrong-pw"),
    });
    let runtime = start(vec![good, bad]);
    let mut bad_reason = None;
    let mut good_found = false;
    wait_for(
        &runtime,
        Duration::from_secs(30),
        |_| {},
        |e| {
            if found_text(e, "good") {
                good_found = true;
            }
            if let RuntimeEvent::Camera(c) = e {
                if let (true, CameraStatus::Failed { reason, .. }) =
                    (c.camera.as_str() == "bad", &c.status)
                {
                    bad_reason = Some(reason.clone());
                }
            }
            good_found && bad_reason.is_some()
        },
    );
    assert!(good_found, "the camera with the right password is analysed");
    let reason = bad_reason.expect("the camera with the wrong password fails");
    assert!(reason.to_lowercase().contains("unauthorized"), "{reason}");
    assert!(
        !reason.contains("wrong-pw") && !reason.contains("s3cret-pw"),
        "{reason}"
    );
    runtime.stop();
    server.stop();
}

/// Serves one JPEG over and over as an HTTP MJPEG stream (multipart/x-mixed-replace), 10 fps,
/// on 127.0.0.1, for at most `limit`.
fn serve_mjpeg(jpeg: Vec<u8>, limit: Duration) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/video.mjpg", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        listener.set_nonblocking(true).expect("nonblocking");
        let mut clients = Vec::new();
        while Instant::now() < deadline {
            if let Ok((mut stream, _)) = listener.accept() {
                stream.set_nonblocking(false).expect("blocking");
                let mut request = [0u8; 2048];
                let _ = stream.read(&mut request);
                let header = "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\nCache-Control: no-cache\r\n\r\n";
                if stream.write_all(header.as_bytes()).is_ok() {
                    clients.push(stream);
                }
            }
            clients.retain_mut(|c| {
                let part = format!(
                    "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    jpeg.len()
                );
                c.write_all(part.as_bytes()).is_ok()
                    && c.write_all(&jpeg).is_ok()
                    && c.write_all(b"\r\n").is_ok()
            });
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    (url, handle)
}

#[test]
fn an_http_mjpeg_camera_is_analysed() {
    let jpeg_path = scratch().join("mjpeg-poster.jpg");
    crate::common::text_picture(&jpeg_path, 320, 240, "FOR RENT", "Sans Bold 20", "jpegenc");
    let jpeg = std::fs::read(&jpeg_path).expect("jpeg");
    let (url, server) = serve_mjpeg(jpeg, Duration::from_secs(25));
    let runtime = start(vec![camera("mjpeg", Source::Http { url })]);
    let mut analysed = 0;
    let ok = wait_for(
        &runtime,
        Duration::from_secs(20),
        |_| {},
        |e| {
            if found_text(e, "mjpeg") {
                analysed += 1;
            }
            analysed >= 3
        },
    );
    assert!(ok, "the MJPEG camera was analysed {analysed} times");
    let stats: HashMap<_, _> = runtime.camera_stats().into_iter().collect();
    let s = stats[&CameraId::new("mjpeg")];
    // Every JPEG is a key frame; at 10 fps and one analysis per second most are never decoded.
    assert!(s.skipped_undecoded > s.decoded, "{s:?}");
    runtime.stop();
    server.join().expect("server thread");
}

/// A file camera with the static-object detector every 0.2 s and `text` after it: the static
/// detector makes frames due faster than the text detector answers, so ingest decodes ahead of it.
fn read_ahead_camera(id: &str, clip: std::path::PathBuf, text: DetectorConfig) -> CameraConfig {
    let static_objects = DetectorConfig {
        model: gridsight::config::STATIC_DETECTOR.to_string(),
        interval: Duration::from_millis(200),
        tiles: None,
    };
    let mut camera = CameraConfig::new(id, Source::File(clip), vec![static_objects, text]);
    camera.stall_timeout = Duration::from_secs(5);
    camera
}

#[test]
fn a_tiled_detector_gets_the_full_resolution_detail_of_its_due_frames_alone() {
    // The static-object detector makes every 0.2 s of the file due, so ingest decodes ahead of
    // the tiled text detector (every 1 s). The text detector runs on the frames its schedule
    // picks, each with its full-resolution detail, and only those are converted at full
    // resolution (before, ingest guessed which frames would be wanted and converted 20 to 38
    // details for these 12 runs).
    let camera = read_ahead_camera(
        "file-tiles",
        poster_clip(12),
        DetectorConfig {
            model: "text".to_string(),
            interval: Duration::from_secs(1),
            tiles: Some(gridsight::config::TilesConfig {
                scale: 2.0,
                region: gridsight::domain::BBox::new(0.0, 0.25, 1.0, 1.0),
                zones: Vec::new(),
            }),
        },
    );
    let options = RunOptions {
        analysis_width: 160,
        ..RunOptions::default()
    };
    let runtime = start_in("file-tiles-data", vec![camera], options);
    let mut text_at = Vec::new();
    let finished = wait_for(
        &runtime,
        Duration::from_secs(120),
        |e| match e {
            RuntimeEvent::Detections {
                model,
                pts: Some(pts),
                ..
            } if model == "text" => text_at.push(pts.as_millis()),
            _ => {}
        },
        |_| runtime.finished() && runtime.events().is_empty(),
    );
    assert!(finished, "the file is analysed to its end");
    let stats = runtime.camera_stats();
    runtime.stop();
    let expected: Vec<u128> = (0..12).map(|s| s * 1000).collect();
    assert_eq!(
        text_at, expected,
        "the text detector's frames (ms into the file)"
    );
    let (_, stats) = stats
        .iter()
        .find(|(id, _)| id.as_str() == "file-tiles")
        .expect("camera stats");
    assert_eq!(
        stats.details,
        text_at.len() as u64,
        "a detail converted for each tiled run and no other: {stats:?}"
    );
}

#[test]
fn the_evidence_shows_the_frame_the_candidate_was_found_on() {
    // The poster clip's test pattern moves 2 px a frame, so every frame is told apart. The
    // static-object detector makes every 0.2 s of the file due and the text detector is slower
    // than that, so ingest decodes ahead of analysis: the latest decoded frame (what the
    // evidence showed before) is seconds past the one the sign was found on.
    let clip = poster_clip(12);
    let mut camera = read_ahead_camera(
        "file-evidence",
        clip.clone(),
        DetectorConfig {
            model: "text".to_string(),
            interval: Duration::from_millis(600),
            tiles: None,
        },
    );
    camera.rules.defaults.insert(
        Category::IllegalSignage,
        Rule {
            min_dwell: Duration::from_secs(3),
            ..Rule::default_for(Category::IllegalSignage)
        },
    );
    let options = RunOptions {
        analysis_width: 160,
        ..RunOptions::default()
    };
    let data = scratch().join("file-evidence-data");
    let runtime = start_in("file-evidence-data", vec![camera], options);
    // A file's frame times are the stream's start plus the frame's position.
    let mut start = None;
    let finished = wait_for(
        &runtime,
        Duration::from_secs(120),
        |e| {
            if let RuntimeEvent::Detections {
                time,
                pts: Some(pts),
                ..
            } = e
            {
                start.get_or_insert(*time - *pts);
            }
        },
        |_| runtime.finished() && runtime.events().is_empty(),
    );
    assert!(finished, "the file is analysed to its end");
    let cases = runtime
        .block_on(runtime.store().list(&CaseFilter::default(), None, 10))
        .expect("list cases")
        .cases;
    assert!(!cases.is_empty(), "the poster becomes a case");
    let mut shown = Vec::new();
    for case in &cases {
        let evidence = runtime
            .block_on(runtime.store().evidence(case.id))
            .expect("evidence");
        let scene = evidence
            .iter()
            .find(|e| e.kind == EvidenceKind::Scene)
            .expect("the clean frame is stored");
        let picture = image::open(data.join(&scene.path))
            .expect("the frame decodes")
            .to_rgb8();
        let found_at = case
            .detected_at
            .duration_since(start.expect("a detection"))
            .expect("after the start");
        shown.push((found_at, picture));
    }
    runtime.stop();

    // Every frame of the clip, at full resolution, to see which one each evidence shows.
    let (frames_tx, frames_rx) = crossbeam_channel::bounded(4);
    let (events_tx, _events_rx) = crossbeam_channel::unbounded();
    let mut spec = CameraSpec::new(CameraId::new("reference"), SourceSpec::File(clip));
    spec.interval = Duration::from_millis(1);
    spec.analysis_width = 320;
    let reference = Camera::start(spec, frames_tx, events_tx).expect("camera");
    let mut best: Vec<(f64, Duration)> = vec![(f64::MAX, Duration::ZERO); shown.len()];
    for frame in frames_rx.iter().take(12 * 25) {
        for ((_, picture), best) in shown.iter().zip(&mut best) {
            let diff: u64 = picture
                .as_raw()
                .iter()
                .zip(frame.rgb.iter())
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum();
            let mean = diff as f64 / picture.as_raw().len() as f64;
            if mean < best.0 {
                *best = (mean, frame.pts.expect("a file frame has a position"));
            }
        }
    }
    reference.stop();
    // The store keeps times to the millisecond; frames are 40 ms apart.
    for ((found_at, _), (mean, pts)) in shown.iter().zip(&best) {
        assert!(
            pts.abs_diff(*found_at) < Duration::from_millis(20),
            "the evidence of the case found at {found_at:?} shows the frame at {pts:?} \
             (mean difference {mean:.1})"
        );
    }
}
