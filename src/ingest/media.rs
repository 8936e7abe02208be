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
         ! x264enc key-int-max={gop} bframes=0 speed-preset=veryfast bitrate={kbps} \
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
    let mut result = Ok(());
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(err) => {
                result = Err(IngestError::Pipeline(format!(
                    "{} ({})",
                    err.error(),
                    err.debug().unwrap_or_default()
                )));
                break;
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    result
}
