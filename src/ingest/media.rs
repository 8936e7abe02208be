//! Camera-like test clips: H.264 in I420 with a fixed GOP, made with GStreamer's test source, for
//! tests, benchmarks and the demo. (Plain `videotestsrc ! x264enc` would give High 4:4:4 10-bit,
//! unlike any camera: the caps filter before the encoder pins I420.)

use std::path::Path;

use gstreamer as gst;
use gstreamer::prelude::*;

use super::{init, IngestError};

/// What to generate.
#[derive(Debug, Clone)]
pub struct ClipSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub seconds: u32,
    /// Frames between key frames (e.g. 2 s × fps).
    pub gop_frames: u32,
    /// Target bitrate, kbit/s.
    pub bitrate_kbps: u32,
    /// Text burnt into the picture (a poster for the text detector), if any.
    pub text: Option<String>,
}

impl ClipSpec {
    /// 1080p30, 2 s GOP, 4 Mbit/s: what a city camera's main stream looks like.
    pub fn camera_1080p(seconds: u32) -> Self {
        Self {
            width: 1920,
            height: 1080,
            fps: 30,
            seconds,
            gop_frames: 60,
            bitrate_kbps: 4000,
            text: None,
        }
    }
}

/// The encoder of every clip, at a constant bitrate with x264's default rate buffer, as a
/// camera sends. One encoder thread: with several, x264's rate control sees the frames still
/// being encoded at varying moments and the same frames give a slightly different stream on
/// every run (measured: 5.15 and 5.13 MB for the same 20 s of a 1280 × 720 street, against
/// 5.26 MB twice with one thread, which took 1.6 × as long). A scene must be the same video
/// each time it is rendered, or nothing measured on it repeats.
const X264: &str = "x264enc bframes=0 speed-preset=veryfast threads=1";

/// Writes an MP4 (H.264 High, I420) to `path`.
pub fn generate_clip(path: &Path, spec: &ClipSpec) -> Result<(), IngestError> {
    init()?;
    let text = spec
        .text
        .as_deref()
        .map(|t| {
            format!(
                "! textoverlay text=\"{}\" valignment=center halignment=center font-desc=\"Sans Bold 48\" shaded-background=true ",
                t.replace('"', "'")
            )
        })
        .unwrap_or_default();
    let description = format!(
        "videotestsrc num-buffers={frames} pattern=smpte horizontal-speed=2 \
         ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1 {text}\
         ! {X264} key-int-max={gop} bitrate={kbps} \
         ! video/x-h264,profile=high ! h264parse ! mp4mux ! filesink location=\"{path}\"",
        frames = spec.fps * spec.seconds,
        w = spec.width,
        h = spec.height,
        fps = spec.fps,
        gop = spec.gop_frames,
        kbps = spec.bitrate_kbps,
        path = path.display(),
    );
    run_to_end(&description)
}

/// Runs a pipeline description until EOS, returning its first error.
pub(crate) fn run_to_end(description: &str) -> Result<(), IngestError> {
    let pipeline = gst::parse::launch(description)
        .map_err(|e| IngestError::Pipeline(format!("{e}: {description}")))?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| IngestError::Pipeline("pipeline has no bus".to_string()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
    let result = wait_for_eos(&bus, gst::ClockTime::NONE);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Waits for the end of the stream (or `limit`), returning the first error on the bus.
fn wait_for_eos(
    bus: &gst::Bus,
    limit: impl Into<Option<gst::ClockTime>>,
) -> Result<(), IngestError> {
    for msg in bus.iter_timed(limit) {
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(err) => {
                return Err(IngestError::Pipeline(format!(
                    "{} ({})",
                    err.error(),
                    err.debug().unwrap_or_default()
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Encodes frames produced by `render` (packed RGB, `width` × `height`) into an MP4 (H.264 High,
/// I420, a key frame every `gop_frames`). `render(i, buffer)` fills frame `i`.
pub fn encode_rgb_frames(
    path: &Path,
    spec: &ClipSpec,
    mut render: impl FnMut(u64, &mut [u8]) -> Result<(), String>,
) -> Result<(), IngestError> {
    use gstreamer_app as gst_app;
    init()?;
    let frames = u64::from(spec.fps) * u64::from(spec.seconds);
    let description = format!(
        "appsrc name=src format=time is-live=false block=true \
         ! videoconvert ! video/x-raw,format=I420 \
         ! {X264} key-int-max={gop} bitrate={kbps} \
         ! video/x-h264,profile=high ! h264parse ! mp4mux ! filesink location=\"{path}\"",
        gop = spec.gop_frames,
        kbps = spec.bitrate_kbps,
        path = path.display(),
    );
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| IngestError::Pipeline(format!("{e}: {description}")))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| IngestError::Pipeline("not a pipeline".to_string()))?;
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| IngestError::Pipeline("appsrc missing".to_string()))?;
    src.set_caps(Some(
        &gst::Caps::builder("video/x-raw")
            .field("format", "RGB")
            .field("width", spec.width as i32)
            .field("height", spec.height as i32)
            .field("framerate", gst::Fraction::new(spec.fps as i32, 1))
            .build(),
    ));
    src.set_max_bytes(u64::from(spec.width) * u64::from(spec.height) * 3 * 4);
    let bus = pipeline
        .bus()
        .ok_or_else(|| IngestError::Pipeline("pipeline has no bus".to_string()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
    let size = spec.width as usize * spec.height as usize * 3;
    let frame_ns = 1_000_000_000u64 / u64::from(spec.fps.max(1));
    let mut result = Ok(());
    for i in 0..frames {
        let mut data = vec![0u8; size];
        if let Err(e) = render(i, &mut data) {
            result = Err(IngestError::Pipeline(format!("rendering frame {i}: {e}")));
            break;
        }
        let mut buffer = gst::Buffer::from_mut_slice(data);
        if let Some(b) = buffer.get_mut() {
            b.set_pts(gst::ClockTime::from_nseconds(i * frame_ns));
            b.set_duration(gst::ClockTime::from_nseconds(frame_ns));
        }
        if src.push_buffer(buffer).is_err() {
            break;
        }
        // Surface encoder errors early instead of after the last frame.
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                result = Err(IngestError::Pipeline(err.error().to_string()));
                break;
            }
        }
    }
    let _ = src.end_of_stream();
    if result.is_ok() {
        result = wait_for_eos(&bus, gst::ClockTime::from_seconds(600));
    }
    let _ = pipeline.set_state(gst::State::Null);
    result
}
