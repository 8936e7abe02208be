//! Builds one camera's GStreamer pipeline and the probes that decide what gets decoded.
//!
//! ```text
//! uridecodebin ──(decoder sink: DecodeGate)──► queue ──(Pacer + evidence)──► videoconvert
//!   ──► videoscale ──► RGB, analysis width ──► appsink ──► Frame ──► channel
//! videotestsrc ─────────────────────────────────┘ (test pattern: no decoder)
//! ```

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crossbeam_channel::{SendTimeoutError, Sender};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::camera::Shared;
use super::{make, CameraSpec, IngestError, SourceSpec};
use crate::domain::{BBox, Frame, FrameDetail, SourcePicture};

/// Decides, per compressed buffer at the decoder's input, whether it is decoded.
///
/// Full decoding until two key frames have shown the GOP; then, when the analysis interval is at
/// least the GOP, only key frames pass, and of those only the ones due. Switching back to full
/// decoding happens at a key frame, so the decoder never sees a delta frame without its key.
#[derive(Debug, Clone)]
pub(crate) struct DecodeGate {
    interval_ns: u64,
    allowed: bool,
    last_key_ns: Option<u64>,
    gop_ns: Option<u64>,
    key_only: bool,
    last_passed_key_ns: Option<u64>,
}

impl DecodeGate {
    pub(crate) fn new(interval: Duration, allowed: bool) -> Self {
        Self {
            interval_ns: interval.as_nanos() as u64,
            allowed,
            last_key_ns: None,
            gop_ns: None,
            key_only: false,
            last_passed_key_ns: None,
        }
    }

    /// The GOP seen so far (time between the last two key frames).
    pub(crate) fn gop(&self) -> Option<Duration> {
        self.gop_ns.map(Duration::from_nanos)
    }

    pub(crate) fn key_only(&self) -> bool {
        self.key_only
    }

    /// True when the buffer should reach the decoder.
    pub(crate) fn pass(&mut self, pts_ns: Option<u64>, is_key: bool) -> bool {
        if !is_key {
            return !self.key_only;
        }
        let Some(pts) = pts_ns else {
            return true;
        };
        if let Some(last) = self.last_key_ns {
            if pts > last {
                self.gop_ns = Some(pts - last);
            }
        }
        self.last_key_ns = Some(pts);
        // 5 % slack: a 2 s GOP measured as 2.002 s still counts for a 2 s interval.
        self.key_only = self.allowed
            && self
                .gop_ns
                .is_some_and(|gop| gop <= self.interval_ns + self.interval_ns / 20);
        if self.key_only {
            if let Some(previous) = self.last_passed_key_ns {
                let tolerance = self.gop_ns.unwrap_or(0) / 2;
                if pts >= previous && pts - previous + tolerance < self.interval_ns {
                    return false;
                }
            }
        }
        self.last_passed_key_ns = Some(pts);
        true
    }
}

/// Drops decoded frames that are not due, before colour conversion.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    interval_ns: u64,
    next_due_ns: Option<u64>,
    last_passed_ns: u64,
}

impl Pacer {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval_ns: interval.as_nanos() as u64,
            next_due_ns: None,
            last_passed_ns: 0,
        }
    }

    /// True when a frame at `time_ns` is due. Due times sit on a grid one interval apart, so the
    /// rate holds; a frame up to a tenth of an interval early still counts, so a 2 s interval
    /// on a 2 s GOP does not skip every other key frame when timestamps jitter. A jump back
    /// (the stream restarted) or a gap re-anchors the grid.
    pub(crate) fn due(&mut self, time_ns: u64) -> bool {
        let tolerance = self.interval_ns / 10;
        if let Some(next) = self.next_due_ns {
            let early = time_ns + tolerance < next;
            let jumped_back = time_ns < self.last_passed_ns;
            if early && !jumped_back {
                return false;
            }
            self.next_due_ns = Some(if !jumped_back && time_ns < next + self.interval_ns {
                next + self.interval_ns
            } else {
                time_ns + self.interval_ns
            });
            self.last_passed_ns = time_ns;
            return true;
        }
        self.next_due_ns = Some(time_ns + self.interval_ns);
        self.last_passed_ns = time_ns;
        true
    }
}

/// Builds the pipeline for `spec`. Frames go to `frames`; counters and evidence to `shared`.
pub(crate) fn build(
    spec: &CameraSpec,
    shared: &Arc<Shared>,
    frames: &Sender<Frame>,
    epoch: u64,
) -> Result<gst::Pipeline, IngestError> {
    let pipeline = gst::Pipeline::with_name(&format!("camera-{}", spec.id));
    let queue = make("queue")?;
    queue.set_property("max-size-buffers", 2u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", 0u64);
    let convert = make("videoconvert")?;
    let scale = make("videoscale")?;
    let filter = make("capsfilter")?;
    filter.set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("format", "RGB")
            .field("width", spec.analysis_width as i32)
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build(),
    );
    let sink = gst_app::AppSink::builder()
        .name("analysis")
        .sync(spec.realtime && !spec.source.is_live())
        .max_buffers(1)
        .drop(spec.source.is_live())
        .build();
    pipeline
        .add_many([&queue, &convert, &scale, &filter, sink.upcast_ref()])
        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
    gst::Element::link_many([&queue, &convert, &scale, &filter, sink.upcast_ref()])
        .map_err(|e| IngestError::Pipeline(format!("cannot link the analysis branch: {e}")))?;

    attach_pacer(&queue, spec, shared);
    attach_sink(&sink, spec, shared, frames, epoch);

    match &spec.source {
        SourceSpec::TestPattern {
            pattern,
            fps,
            width,
            height,
        } => {
            let src = make("videotestsrc")?;
            src.set_property("is-live", true);
            src.set_property_from_str("pattern", pattern);
            let caps = make("capsfilter")?;
            caps.set_property(
                "caps",
                gst::Caps::builder("video/x-raw")
                    .field("format", "I420")
                    .field("width", *width as i32)
                    .field("height", *height as i32)
                    .field("framerate", gst::Fraction::new(*fps as i32, 1))
                    .build(),
            );
            pipeline
                .add_many([&src, &caps])
                .map_err(|e| IngestError::Pipeline(e.to_string()))?;
            gst::Element::link_many([&src, &caps, &queue])
                .map_err(|e| IngestError::Pipeline(e.to_string()))?;
            let shared = Arc::clone(shared);
            if let Some(pad) = caps.static_pad("src") {
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                    shared.touch();
                    gst::PadProbeReturn::Ok
                });
            }
        }
        SourceSpec::Http {
            url,
            user,
            password,
        } => {
            // Explicit elements: through (uri)decodebin a live multipart stream either ends at
            // once or stalls in decodebin's queues (its parts carry no timestamps).
            let src = make("souphttpsrc")?;
            src.set_property("location", url);
            src.set_property("is-live", true);
            src.set_property("do-timestamp", true);
            src.set_property("timeout", 10u32);
            set_credentials(&src, user, password);
            let demux = make("multipartdemux")?;
            let jpegdec = make("jpegdec")?;
            gate_decoder(&jpegdec, spec.interval, spec.key_frames_only, shared);
            pipeline
                .add_many([&src, &demux, &jpegdec])
                .map_err(|e| IngestError::Pipeline(e.to_string()))?;
            src.link(&demux)
                .map_err(|e| IngestError::Pipeline(e.to_string()))?;
            jpegdec
                .link(&queue)
                .map_err(|e| IngestError::Pipeline(e.to_string()))?;
            let jpegdec_weak = jpegdec.downgrade();
            demux.connect_pad_added(move |_, pad| {
                if let Some(sink) = jpegdec_weak.upgrade().and_then(|d| d.static_pad("sink")) {
                    if !sink.is_linked() {
                        let _ = pad.link(&sink);
                    }
                }
            });
        }
        source => {
            let decodebin = make("uridecodebin")?;
            decodebin.set_property("uri", uri_of(source)?);
            configure_source(&decodebin, source);
            attach_gate(&decodebin, spec, shared);
            pipeline
                .add(&decodebin)
                .map_err(|e| IngestError::Pipeline(e.to_string()))?;
            link_video_pads(&decodebin, &queue, &pipeline);
        }
    }
    Ok(pipeline)
}

/// Links decodebin's video pad to `queue`; other streams go to a fakesink.
fn link_video_pads(decodebin: &gst::Element, queue: &gst::Element, pipeline: &gst::Pipeline) {
    let queue_weak = queue.downgrade();
    let pipeline_weak = pipeline.downgrade();
    decodebin.connect_pad_added(move |_, pad| {
        // Some decoders expose their pad before caps are fixed: ask what it can give.
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let is_video = caps
            .structure(0)
            .is_some_and(|s| s.name().starts_with("video/"));
        if is_video {
            if let Some(sink_pad) = queue_weak.upgrade().and_then(|q| q.static_pad("sink")) {
                if !sink_pad.is_linked() {
                    let _ = pad.link(&sink_pad);
                }
            }
        } else if let Some(pipeline) = pipeline_weak.upgrade() {
            // Audio and other streams go nowhere, without blocking the demuxer.
            if let Ok(fake) = gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .property("async", false)
                .build()
            {
                if pipeline.add(&fake).is_ok() {
                    let _ = fake.sync_state_with_parent();
                    if let Some(p) = fake.static_pad("sink") {
                        let _ = pad.link(&p);
                    }
                }
            }
        }
    });
}

fn uri_of(source: &SourceSpec) -> Result<String, IngestError> {
    match source {
        SourceSpec::File(path) => {
            let absolute = std::path::absolute(path)
                .map_err(|e| IngestError::Pipeline(format!("{}: {e}", path.display())))?;
            url::Url::from_file_path(&absolute)
                .map(|u| u.to_string())
                .map_err(|_| {
                    IngestError::Pipeline(format!("{} is not a usable path", path.display()))
                })
        }
        SourceSpec::Rtsp { url, .. } | SourceSpec::Http { url, .. } => Ok(url.clone()),
        SourceSpec::TestPattern { .. } => Err(IngestError::Pipeline(
            "a test pattern has no URI".to_string(),
        )),
    }
}

/// Sets transport, credentials and latency on the RTSP source uridecodebin creates.
fn configure_source(decodebin: &gst::Element, source: &SourceSpec) {
    let source = source.clone();
    decodebin.connect("source-setup", false, move |args| {
        let element = args.get(1).and_then(|v| v.get::<gst::Element>().ok())?;
        let has = |name: &str| element.find_property(name).is_some();
        if let SourceSpec::Rtsp {
            udp,
            user,
            password,
            ..
        } = &source
        {
            if has("protocols") {
                element.set_property_from_str("protocols", if *udp { "udp" } else { "tcp" });
            }
            if has("latency") {
                element.set_property("latency", 200u32);
            }
            if has("tcp-timeout") {
                element.set_property("tcp-timeout", 5_000_000u64);
            }
            set_credentials(&element, user, password);
        }
        None
    });
}

fn set_credentials(element: &gst::Element, user: &Option<String>, password: &Option<String>) {
    if let (Some(user), true) = (user, element.find_property("user-id").is_some()) {
        element.set_property("user-id", user);
    }
    if let (Some(password), true) = (password, element.find_property("user-pw").is_some()) {
        element.set_property("user-pw", password);
    }
}

/// Puts the decode gate on the video decoder's sink pad when decodebin creates the decoder.
fn attach_gate(decodebin: &gst::Element, spec: &CameraSpec, shared: &Arc<Shared>) {
    let Some(bin) = decodebin.downcast_ref::<gst::Bin>() else {
        return;
    };
    let interval = spec.interval;
    let allowed = spec.key_frames_only;
    let shared = Arc::clone(shared);
    bin.connect_deep_element_added(move |_, _, element| {
        let Some(factory) = element.factory() else {
            return;
        };
        let klass = factory.metadata("klass").unwrap_or_default();
        if klass.contains("Decoder") && klass.contains("Video") {
            gate_decoder(element, interval, allowed, &shared);
        }
    });
}

/// Puts a `DecodeGate` on a decoder's sink pad, and makes it decode on one thread.
fn gate_decoder(element: &gst::Element, interval: Duration, allowed: bool, shared: &Arc<Shared>) {
    // One decoding thread per camera: cameras run in parallel anyway, and frame threading
    // would keep a pool of full-size frames per camera (memory) and add latency.
    if element.find_property("max-threads").is_some() {
        element.set_property("max-threads", 1i32);
    }
    let Some(pad) = element.static_pad("sink") else {
        return;
    };
    let gate = Mutex::new(DecodeGate::new(interval, allowed));
    let shared = Arc::clone(shared);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        shared.touch();
        let Some(buffer) = info.buffer() else {
            return gst::PadProbeReturn::Ok;
        };
        let is_key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        let pts = buffer.pts().or(buffer.dts()).map(gst::ClockTime::nseconds);
        let mut gate = gate.lock().unwrap_or_else(|p| p.into_inner());
        let pass = gate.pass(pts, is_key);
        if let Some(gop) = gate.gop() {
            shared
                .gop_ms
                .store(gop.as_millis() as u64, Ordering::Relaxed);
        }
        shared.key_only.store(gate.key_only(), Ordering::Relaxed);
        if pass {
            gst::PadProbeReturn::Ok
        } else {
            shared.skipped_undecoded.fetch_add(1, Ordering::Relaxed);
            // `Handled` swallows the buffer; `Drop` floods criticals with gstreamer-rs 0.25.
            gst::PadProbeReturn::Handled
        }
    });
}

/// Drops decoded frames that are not due and keeps the due ones as evidence (a reference, no copy).
fn attach_pacer(queue: &gst::Element, spec: &CameraSpec, shared: &Arc<Shared>) {
    let Some(pad) = queue.static_pad("sink") else {
        return;
    };
    let pacer = Mutex::new(Pacer::new(spec.interval));
    let shared = Arc::clone(shared);
    let live = spec.source.is_live();
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else {
            return gst::PadProbeReturn::Ok;
        };
        shared.decoded.fetch_add(1, Ordering::Relaxed);
        let time = if live {
            shared.elapsed_ns()
        } else {
            buffer
                .pts()
                .map(gst::ClockTime::nseconds)
                .unwrap_or_else(|| shared.elapsed_ns())
        };
        let due = pacer.lock().unwrap_or_else(|p| p.into_inner()).due(time);
        if !due {
            shared
                .dropped_before_convert
                .fetch_add(1, Ordering::Relaxed);
            return gst::PadProbeReturn::Handled;
        }
        if let Some(caps) = pad.current_caps() {
            if let Some(s) = caps.structure(0) {
                if let (Ok(w), Ok(h)) = (s.get::<i32>("width"), s.get::<i32>("height")) {
                    shared.set_source_size(w.max(0) as u32, h.max(0) as u32);
                }
            }
            let sample = gst::Sample::builder().buffer(buffer).caps(&caps).build();
            let mut pictures = shared.pictures.lock().unwrap_or_else(|p| p.into_inner());
            pictures.push_back(sample.clone());
            // The analysis branch holds at most a few frames (queue of 2, appsink of 1);
            // older ones were dropped on the way.
            while pictures.len() > MAX_PICTURES {
                pictures.pop_front();
            }
            drop(pictures);
            *shared.evidence.lock().unwrap_or_else(|p| p.into_inner()) = Some(sample);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Full-resolution due frames kept until their analysis frame takes them (`Shared::pictures`).
const MAX_PICTURES: usize = 8;

fn attach_sink(
    sink: &gst_app::AppSink,
    spec: &CameraSpec,
    shared: &Arc<Shared>,
    frames: &Sender<Frame>,
    epoch: u64,
) {
    let shared = Arc::clone(shared);
    let frames = frames.clone();
    let camera = spec.id.clone();
    let live = spec.source.is_live();
    let mut seq = 0u64;
    let started = SystemTime::now();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                let mut frame = to_frame(&sample, &camera, seq, live, started, &shared)
                    .ok_or(gst::FlowError::Error)?;
                frame.source = take_source(&shared, frame.pts);
                if frame.source.is_none() {
                    tracing::debug!(camera = %camera, seq, "No full-resolution picture for a frame.");
                }
                seq += 1;
                shared.mark_streaming(epoch);
                if live {
                    if frames.try_send(frame).is_err() {
                        shared.dropped_full.fetch_add(1, Ordering::Relaxed);
                    } else {
                        shared.frames_out.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(gst::FlowSuccess::Ok);
                }
                // Files wait for the consumer (nothing is lost) but give up when stopping.
                loop {
                    match frames.send_timeout(frame, Duration::from_millis(100)) {
                        Ok(()) => {
                            shared.frames_out.fetch_add(1, Ordering::Relaxed);
                            return Ok(gst::FlowSuccess::Ok);
                        }
                        Err(SendTimeoutError::Timeout(f)) => {
                            if shared.stopping.load(Ordering::Relaxed) {
                                return Err(gst::FlowError::Flushing);
                            }
                            frame = f;
                        }
                        Err(SendTimeoutError::Disconnected(_)) => {
                            return Err(gst::FlowError::Flushing)
                        }
                    }
                }
            })
            .build(),
    );
}

/// The full-resolution picture kept for the analysis frame at `pts` (dropping older ones).
fn take_source(shared: &Arc<Shared>, pts: Option<Duration>) -> Option<Arc<dyn SourcePicture>> {
    let pts = gst::ClockTime::from_nseconds(pts?.as_nanos() as u64);
    let mut pictures = shared.pictures.lock().unwrap_or_else(|p| p.into_inner());
    let at = pictures
        .iter()
        .position(|s| s.buffer().and_then(|b| b.pts()) == Some(pts))?;
    let sample = pictures.get(at)?.clone();
    pictures.drain(..=at);
    Some(Arc::new(Picture {
        sample,
        shared: Arc::clone(shared),
    }))
}

/// A decoded picture handed to analysis with its frame; converted only in the part asked for
/// (a tiled detector's region), or whole for the evidence of a candidate found on the frame.
struct Picture {
    sample: gst::Sample,
    shared: Arc<Shared>,
}

impl SourcePicture for Picture {
    fn detail(&self, region: &BBox) -> Option<FrameDetail> {
        let detail = detail_of(&self.sample, region)?;
        self.shared.details_out.fetch_add(1, Ordering::Relaxed);
        Some(detail)
    }

    fn whole(&self) -> Option<FrameDetail> {
        detail_of(&self.sample, &BBox::new(0.0, 0.0, 1.0, 1.0))
    }
}

/// Converts `region` (normalised) of a decoded sample to packed RGB at full resolution. The
/// rectangle is widened to even pixel edges so chroma-subsampled formats convert cleanly.
fn detail_of(sample: &gst::Sample, region: &BBox) -> Option<FrameDetail> {
    let in_info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    let (w, h) = (in_info.width(), in_info.height());
    let edge = |v: f32, size: u32, up: bool| {
        let px = if up {
            (v * size as f32).ceil()
        } else {
            (v * size as f32).floor()
        };
        let px = px.clamp(0.0, size as f32) as u32;
        if up {
            (px + (px & 1)).min(size)
        } else {
            px & !1
        }
    };
    let (x1, y1) = (edge(region.x1, w, false), edge(region.y1, h, false));
    let (x2, y2) = (edge(region.x2, w, true), edge(region.y2, h, true));
    if x2 <= x1 || y2 <= y1 {
        return None;
    }
    let (rw, rh) = (x2 - x1, y2 - y1);
    let rgb = packed_rgb(sample, &in_info, Some([x1, y1, rw, rh]))?;
    Some(FrameDetail {
        x: x1,
        y: y1,
        width: rw,
        height: rh,
        rgb: Arc::from(rgb),
    })
}

/// Converts a decoded sample (any raw format) to packed RGB at its own scale: the whole picture,
/// or the rectangle `[x, y, width, height]` (pixels) of it.
pub(super) fn packed_rgb(
    sample: &gst::Sample,
    in_info: &gst_video::VideoInfo,
    rect: Option<[u32; 4]>,
) -> Option<Vec<u8>> {
    let [x, y, width, height] = rect.unwrap_or([0, 0, in_info.width(), in_info.height()]);
    let out_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, width, height)
        .fps(in_info.fps())
        .interlace_mode(in_info.interlace_mode())
        .build()
        .ok()?;
    let mut config = gst_video::VideoConverterConfig::new();
    if rect.is_some() {
        config.set_src_x(x as i32);
        config.set_src_y(y as i32);
        config.set_src_width(Some(width as i32));
        config.set_src_height(Some(height as i32));
    }
    let converter = gst_video::VideoConverter::new(in_info, &out_info, Some(config)).ok()?;
    let input =
        gst_video::VideoFrame::from_buffer_readable(sample.buffer_owned()?, in_info).ok()?;
    let out_buffer = gst::Buffer::with_size(out_info.size()).ok()?;
    let mut output = gst_video::VideoFrame::from_buffer_writable(out_buffer, &out_info).ok()?;
    converter.frame(&input, &mut output);
    let stride = output.plane_stride()[0] as usize;
    let data = output.plane_data(0).ok()?;
    let row = width as usize * 3;
    let mut rgb = Vec::with_capacity(row * height as usize);
    for line in 0..height as usize {
        rgb.extend_from_slice(data.get(line * stride..line * stride + row)?);
    }
    Some(rgb)
}

/// Copies an RGB sample into a packed `Frame`, honouring the plane stride.
fn to_frame(
    sample: &gst::Sample,
    camera: &crate::domain::CameraId,
    seq: u64,
    live: bool,
    started: SystemTime,
    shared: &Shared,
) -> Option<Frame> {
    let buffer = sample.buffer()?;
    let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).ok()?;
    let (width, height) = (info.width(), info.height());
    let row = width as usize * 3;
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).ok()?;
    let mut rgb = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        rgb.extend_from_slice(data.get(y * stride..y * stride + row)?);
    }
    let pts = buffer.pts().map(|t| Duration::from_nanos(t.nseconds()));
    let time = match (live, pts) {
        (false, Some(pts)) => started + pts,
        _ => SystemTime::now(),
    };
    let (source_width, source_height) = shared.source_size();
    Some(Frame {
        camera: camera.clone(),
        instance: shared.instance,
        seq,
        time,
        pts,
        width,
        height,
        source_width: if source_width == 0 {
            width
        } else {
            source_width
        },
        source_height: if source_height == 0 {
            height
        } else {
            source_height
        },
        rgb: Arc::from(rgb),
        detail: None,
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// Feeds a 30 fps stream with a key frame every `gop` frames; returns the passed frame numbers.
    fn run_gate(interval_s: f64, gop: u64, frames: u64) -> Vec<u64> {
        let mut gate = DecodeGate::new(Duration::from_secs_f64(interval_s), true);
        (0..frames)
            .filter(|i| gate.pass(Some(i * S / 30), i % gop == 0))
            .collect()
    }

    #[test]
    fn gate_decodes_only_key_frames_once_the_gop_is_known() {
        // 2 s GOP, 2 s interval: the first GOP is decoded fully, then only key frames.
        let passed = run_gate(2.0, 60, 300);
        assert_eq!(passed.len(), 60 + 4);
        assert_eq!(&passed[60..], &[60, 120, 180, 240]);
    }

    #[test]
    fn gate_skips_key_frames_that_are_not_due() {
        // 1 s GOP, 3 s interval: key frames at 0, 1, 2, … s; every third one is decoded.
        let passed = run_gate(3.0, 30, 301);
        let keys: Vec<u64> = passed.into_iter().filter(|i| i % 30 == 0).collect();
        assert_eq!(keys, vec![0, 90, 180, 270]);
    }

    #[test]
    fn gate_decodes_everything_when_the_gop_is_longer_than_the_interval() {
        let passed = run_gate(1.0, 120, 300);
        assert_eq!(passed.len(), 300);
    }

    #[test]
    fn gate_off_decodes_everything() {
        let mut gate = DecodeGate::new(Duration::from_secs(2), false);
        let n = (0..300u64)
            .filter(|i| gate.pass(Some(i * S / 30), i % 60 == 0))
            .count();
        assert_eq!(n, 300);
    }

    #[test]
    fn pacer_keeps_one_frame_per_interval() {
        let mut pacer = Pacer::new(Duration::from_millis(500));
        let due: Vec<u64> = (0..60u64).filter(|i| pacer.due(i * S / 30)).collect();
        // Up to a tenth of an interval early, on a 0.5 s grid: two per second, as asked.
        assert_eq!(due, vec![0, 14, 29, 44, 59]);
    }

    #[test]
    fn pacer_restarts_after_a_jump_back() {
        let mut pacer = Pacer::new(Duration::from_secs(2));
        assert!(pacer.due(100 * S));
        // The stream restarted from 0: the frame is due at once.
        assert!(pacer.due(0));
    }
}
