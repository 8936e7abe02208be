//! Ingest on real GStreamer: what gets decoded, probing, snapshots.

use std::time::Duration;

use crossbeam_channel::{bounded, unbounded};
use gridsight::domain::{CameraId, CameraStatus};
use gridsight::ingest::{probe::probe, Camera, CameraSpec, SourceSpec};

use crate::common::poster_clip;

/// Plays a file to its end and returns (frames analysed, camera stats).
fn play(key_frames_only: bool, interval: Duration) -> (usize, gridsight::ingest::CameraStats) {
    let clip = poster_clip(10);
    let (frames_tx, frames_rx) = bounded(4);
    let (events_tx, events_rx) = unbounded();
    let mut spec = CameraSpec::new(CameraId::new("file"), SourceSpec::File(clip));
    spec.interval = interval;
    spec.key_frames_only = key_frames_only;
    spec.analysis_width = 160;
    let camera = Camera::start(spec, frames_tx, events_tx).expect("camera");
    let drain = std::thread::spawn(move || {
        frames_rx
            .iter()
            .inspect(|f| {
                assert_eq!(
                    (f.width, f.height),
                    (160, 120),
                    "scaled on the GStreamer side"
                )
            })
            .count()
    });
    let ended = events_rx
        .iter()
        .take_while(|e| !matches!(e.status, CameraStatus::Failed { .. }))
        .any(|e| e.status == CameraStatus::Ended);
    assert!(ended, "the file plays to its end");
    let stats = camera.stats();
    camera.stop();
    (drain.join().expect("drain"), stats)
}

#[test]
fn key_frames_only_when_the_interval_covers_the_gop() {
    // 10 s at 25 fps, 1 s GOP, analysis every 2 s: only the first GOP is decoded in full (to
    // learn the GOP), then one key frame per 2 s.
    let (analysed, stats) = play(true, Duration::from_secs(2));
    assert!(stats.key_only);
    assert_eq!(stats.gop_ms, 1000);
    assert!((5..=6).contains(&analysed), "analysed {analysed}");
    assert!(
        stats.decoded <= 25 + 6,
        "decoded {} of 250 frames",
        stats.decoded
    );
    assert!(stats.skipped_undecoded >= 250 - 31, "{stats:?}");

    // The same clip with full decoding: everything decoded, non-due frames dropped before
    // conversion; as many frames (± one: they need not sit on key frames) reach analysis.
    let (analysed_full, full) = play(false, Duration::from_secs(2));
    assert_eq!(full.decoded, 250);
    assert!(
        analysed_full.abs_diff(analysed) <= 1,
        "{analysed_full} vs {analysed}"
    );
    assert_eq!(full.dropped_before_convert, 250 - analysed_full as u64);
}

#[test]
fn short_intervals_decode_everything_and_drop_before_conversion() {
    let (analysed, stats) = play(true, Duration::from_millis(200));
    assert!(!stats.key_only, "a 1 s GOP is longer than 0.2 s");
    assert_eq!(stats.decoded, 250);
    assert!((49..=51).contains(&analysed), "analysed {analysed}");
}

#[test]
fn probe_reports_codec_size_fps_and_gop() {
    let report = probe(
        poster_clip(10).to_str().expect("utf-8 path"),
        Duration::from_secs(10),
    )
    .expect("probe");
    assert_eq!(report.codec.as_deref(), Some("video/x-h264, profile=high"));
    assert_eq!((report.width, report.height), (Some(320), Some(240)));
    assert_eq!(report.fps, Some(25.0));
    assert_eq!(report.gop, Some(Duration::from_secs(1)));
    assert_eq!(report.gop_frames, Some(25));
    assert!(!report.live);
}

#[test]
fn probe_of_a_missing_file_is_an_error_naming_it() {
    let err = probe("/nonexistent/clip.mp4", Duration::from_secs(5)).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/clip.mp4"), "{err}");
}

#[test]
fn rendered_frames_are_encoded_as_camera_like_h264() {
    use gridsight::ingest::media::{encode_rgb_frames, ClipSpec};
    let path = crate::common::scratch().join("rendered.mp4");
    let spec = ClipSpec {
        width: 160,
        height: 96,
        fps: 10,
        seconds: 3,
        gop_frames: 10,
        bitrate_kbps: 200,
        text: None,
    };
    let mut rendered = 0;
    encode_rgb_frames(&path, &spec, |i, rgb| {
        rendered += 1;
        rgb.iter_mut()
            .enumerate()
            .for_each(|(k, px)| *px = ((k as u64 + i * 7) % 256) as u8);
        Ok(())
    })
    .expect("encode");
    assert_eq!(rendered, 30);
    let report = probe(path.to_str().expect("utf-8"), Duration::from_secs(10)).expect("probe");
    assert_eq!(report.codec.as_deref(), Some("video/x-h264, profile=high"));
    assert_eq!((report.width, report.height), (Some(160), Some(96)));
    assert_eq!(report.gop_frames, Some(10));
}

#[test]
fn frames_carry_the_full_resolution_detail_of_their_region() {
    // 320 × 240 analysed at 160 × 120; the lower middle of the picture also at full resolution,
    // converted from the picture each frame carries.
    let clip = poster_clip(10);
    let (frames_tx, frames_rx) = bounded(4);
    let (events_tx, _events_rx) = unbounded();
    let mut spec = CameraSpec::new(CameraId::new("detail"), SourceSpec::File(clip));
    spec.interval = Duration::from_millis(500);
    spec.analysis_width = 160;
    let region = gridsight::domain::BBox::new(0.25, 0.5, 0.75, 1.0);
    spec.detail_region = Some(region);
    let camera = Camera::start(spec, frames_tx, events_tx).expect("camera");
    let frames: Vec<_> = frames_rx.iter().take(12).collect();
    camera.stop();
    assert_eq!(frames.len(), 12);
    for f in &frames {
        let picture = f.source.as_ref().expect("every frame carries its picture");
        let d = picture.detail(&region).expect("the region converts");
        assert_eq!((d.x, d.y, d.width, d.height), (80, 120, 160, 120), "{f:?}");
        assert_eq!(d.rgb.len(), 160 * 120 * 3);
        // The detail, shrunk 2 × 2, is the analysis frame's pixels there: the same picture.
        let mut diff = 0u64;
        for y in 0..60usize {
            for x in 0..80usize {
                for c in 0..3usize {
                    let full = |dx: usize, dy: usize| {
                        u64::from(d.rgb[((2 * y + dy) * 160 + 2 * x + dx) * 3 + c])
                    };
                    let shrunk = (full(0, 0) + full(1, 0) + full(0, 1) + full(1, 1)) / 4;
                    let analysed = u64::from(f.rgb[((60 + y) * 160 + 40 + x) * 3 + c]);
                    diff += shrunk.abs_diff(analysed);
                }
            }
        }
        let mean = diff as f64 / (60.0 * 80.0 * 3.0);
        assert!(mean < 8.0, "frame {}: mean difference {mean:.1}", f.seq);
    }
}

#[test]
fn the_detail_is_converted_only_when_analysis_asks_for_it() {
    // Frames carry their decoded picture unconverted; a detail costs a conversion only for the
    // frames asked.
    let clip = poster_clip(10);
    let region = gridsight::domain::BBox::new(0.25, 0.5, 0.75, 1.0);
    let (frames_tx, frames_rx) = bounded(4);
    let (events_tx, _events_rx) = unbounded();
    let mut spec = CameraSpec::new(
        CameraId::new("detail-asked"),
        SourceSpec::File(clip.clone()),
    );
    spec.interval = Duration::from_millis(500);
    spec.analysis_width = 160;
    spec.detail_region = Some(region);
    let camera = Camera::start(spec, frames_tx, events_tx).expect("camera");
    let frames: Vec<_> = frames_rx.iter().take(10).collect();
    assert_eq!(frames.len(), 10);
    assert!(frames
        .iter()
        .all(|f| f.source.is_some() && f.detail.is_none()));
    assert_eq!(
        camera.stats().details,
        0,
        "nothing converted before it is asked for"
    );
    let asked: Vec<_> = frames
        .iter()
        .step_by(4)
        .map(|f| f.source.as_ref().and_then(|p| p.detail(&region)))
        .collect();
    assert_eq!(asked.len(), 3);
    assert!(asked.iter().all(Option::is_some));
    assert_eq!(camera.stats().details, 3);
    camera.stop();

    let (frames_tx, frames_rx) = bounded(4);
    let (events_tx, _events_rx) = unbounded();
    let mut spec = CameraSpec::new(CameraId::new("no-detail"), SourceSpec::File(clip));
    spec.interval = Duration::from_millis(500);
    spec.analysis_width = 160;
    let camera = Camera::start(spec, frames_tx, events_tx).expect("camera");
    let frames: Vec<_> = frames_rx.iter().take(4).collect();
    assert_eq!(frames.len(), 4);
    // Without a detail region frames still carry their picture, for the evidence of a
    // candidate found on them: converted whole, and not counted as a detail.
    let whole = frames[3]
        .source
        .as_ref()
        .and_then(|p| p.whole())
        .expect("the picture converts whole");
    assert_eq!(
        (whole.x, whole.y, whole.width, whole.height),
        (0, 0, 320, 240)
    );
    assert_eq!(camera.stats().details, 0);
    camera.stop();
}

/// The H.264 stream an MP4 file holds (its `mdat` box); the rest is headers with the time of
/// writing.
fn h264_of(path: &std::path::Path) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("read mp4");
    let at = bytes
        .windows(4)
        .position(|w| w == b"mdat")
        .expect("an mdat box");
    let size = u32::from_be_bytes(bytes[at - 4..at].try_into().expect("4 bytes")) as usize;
    bytes[at + 4..at - 4 + size].to_vec()
}

#[test]
fn a_rendered_street_encodes_to_the_same_video_every_time() {
    // Scenes are measured (gridsight eval) and replayed in tests: the same frames must give the
    // same stream each time they are encoded, bit for bit.
    use gridsight::ingest::media::{encode_rgb_frames, ClipSpec};
    use gridsight::synth::{Scene, SceneSpec};
    let scene = Scene::new(SceneSpec::demo()).expect("demo scene");
    let (width, height) = (scene.spec().width, scene.spec().height);
    let frames: Vec<Vec<u8>> = (0..50u64)
        .map(|i| {
            let mut rgb = vec![0u8; scene.frame_len()];
            scene.render(40 * 5 + i, &mut rgb).expect("render");
            rgb
        })
        .collect();
    let clip = ClipSpec {
        width,
        height,
        fps: 5,
        seconds: 10,
        gop_frames: 10,
        bitrate_kbps: (width * height / 400).max(400),
        text: None,
    };
    let streams: Vec<Vec<u8>> = (0..2)
        .map(|k| {
            let path = crate::common::scratch().join(format!("same-street-{k}.mp4"));
            encode_rgb_frames(&path, &clip, |i, rgb| {
                rgb.copy_from_slice(&frames[i as usize]);
                Ok(())
            })
            .expect("encode");
            h264_of(&path)
        })
        .collect();
    assert!(streams[0].len() > 100_000, "{} bytes", streams[0].len());
    assert_eq!(streams[0].len(), streams[1].len(), "stream sizes");
    assert!(streams[0] == streams[1], "the two streams differ");
}
