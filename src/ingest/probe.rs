//! `gridsight probe URI`: what a stream carries — codec, resolution, frame rate and GOP — read by
//! decoding the start of it (up to three key frames or a time limit).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::{init, IngestError};

/// What a stream is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeReport {
    /// Compressed format at the decoder's input, e.g. `video/x-h264, profile=high`.
    pub codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Frames per second as the stream declares it.
    pub fps: Option<f64>,
    /// Time between key frames, when two were seen.
    pub gop: Option<Duration>,
    /// Frames between key frames, when two were seen.
    pub gop_frames: Option<u64>,
    /// Whether the source is live (a camera) rather than a file.
    pub live: bool,
}

#[derive(Default)]
struct Seen {
    codec: Option<String>,
    keys: Vec<(u64, u64)>,
    frames: u64,
}

/// Reads the start of `uri` (a URI or a plain file path) for at most `limit`.
pub fn probe(uri: &str, limit: Duration) -> Result<ProbeReport, IngestError> {
    init()?;
    let uri = if uri.contains("://") {
        uri.to_string()
    } else {
        let absolute = std::path::absolute(uri).map_err(|e| IngestError::Probe {
            uri: uri.to_string(),
            message: e.to_string(),
        })?;
        url::Url::from_file_path(&absolute)
            .map(|u| u.to_string())
            .map_err(|_| IngestError::Probe {
                uri: uri.to_string(),
                message: "not a usable path".to_string(),
            })?
    };
    let fail = |message: String| IngestError::Probe {
        uri: uri.clone(),
        message,
    };
    let pipeline = gst::Pipeline::new();
    let decodebin = gst::ElementFactory::make("uridecodebin")
        .property("uri", &uri)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    pipeline
        .add_many([&decodebin, &sink])
        .map_err(|e| fail(e.to_string()))?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let raw_caps: Arc<Mutex<Option<gst::Caps>>> = Arc::default();
    {
        let seen = Arc::clone(&seen);
        let bin = decodebin
            .downcast_ref::<gst::Bin>()
            .ok_or_else(|| fail("uridecodebin is not a bin".to_string()))?;
        bin.connect_deep_element_added(move |_, _, element| {
            let klass = element
                .factory()
                .and_then(|f| f.metadata("klass").map(str::to_string))
                .unwrap_or_default();
            if !(klass.contains("Decoder") && klass.contains("Video")) {
                return;
            }
            let Some(pad) = element.static_pad("sink") else {
                return;
            };
            let seen = Arc::clone(&seen);
            pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                if seen.codec.is_none() {
                    seen.codec = pad.current_caps().and_then(|c| {
                        c.structure(0).map(|s| {
                            let profile = s
                                .get::<String>("profile")
                                .map(|p| format!(", profile={p}"))
                                .unwrap_or_default();
                            format!("{}{profile}", s.name())
                        })
                    });
                }
                if let Some(buffer) = info.buffer() {
                    seen.frames += 1;
                    if !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
                        if let Some(pts) = buffer.pts().or(buffer.dts()) {
                            let n = seen.frames;
                            seen.keys.push((pts.nseconds(), n));
                        }
                    }
                }
                gst::PadProbeReturn::Ok
            });
        });
    }
    {
        let sink_weak = sink.downgrade();
        let raw_caps = Arc::clone(&raw_caps);
        decodebin.connect_pad_added(move |_, pad| {
            let caps = pad.current_caps();
            let video = caps
                .as_ref()
                .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
                .unwrap_or(false);
            if !video {
                return;
            }
            *raw_caps.lock().unwrap_or_else(|p| p.into_inner()) = caps;
            if let Some(sink_pad) = sink_weak.upgrade().and_then(|s| s.static_pad("sink")) {
                if !sink_pad.is_linked() {
                    let _ = pad.link(&sink_pad);
                }
            }
        });
    }
    let live = pipeline
        .set_state(gst::State::Playing)
        .map(|s| s == gst::StateChangeSuccess::NoPreroll)
        .unwrap_or(false);
    let bus = pipeline.bus().ok_or_else(|| fail("no bus".to_string()))?;
    let started = Instant::now();
    let mut error = None;
    while started.elapsed() < limit {
        if seen.lock().unwrap_or_else(|p| p.into_inner()).keys.len() >= 3 {
            break;
        }
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        ) {
            match msg.view() {
                gst::MessageView::Error(err) => {
                    error = Some(format!(
                        "{} ({})",
                        err.error(),
                        err.debug().unwrap_or_default()
                    ));
                    break;
                }
                _ => break,
            }
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let caps = raw_caps.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(error) = error {
        if caps.is_none() {
            return Err(fail(error));
        }
    }
    let mut report = ProbeReport {
        codec: seen.codec.clone(),
        live,
        ..ProbeReport::default()
    };
    if let Some(s) = caps.as_ref().and_then(|c| c.structure(0)) {
        report.width = s.get::<i32>("width").ok().map(|w| w.max(0) as u32);
        report.height = s.get::<i32>("height").ok().map(|h| h.max(0) as u32);
        report.fps = s
            .get::<gst::Fraction>("framerate")
            .ok()
            .filter(|f| f.denom() != 0 && f.numer() != 0)
            .map(|f| f64::from(f.numer()) / f64::from(f.denom()));
    }
    if let [.., (t0, n0), (t1, n1)] = seen.keys[..] {
        report.gop = Some(Duration::from_nanos(t1.saturating_sub(t0)));
        report.gop_frames = Some(n1 - n0);
    }
    if report.codec.is_none() && report.width.is_none() {
        return Err(fail(format!(
            "no video found within {:.0} s",
            limit.as_secs_f64()
        )));
    }
    Ok(report)
}
