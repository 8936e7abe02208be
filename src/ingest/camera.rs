//! One camera: its pipeline, the thread that supervises it, and what it reports.
//!
//! The supervisor starts the pipeline, watches its bus, and on an error, an end of stream (live
//! sources) or a stall tears it down and starts a new one after an exponential backoff with
//! jitter. Nothing here is shared with other cameras, so one camera failing cannot disturb another.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Sender;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;

use super::{source, CameraSpec, IngestError, SourceSpec};
use crate::domain::{CameraId, CameraStatus, Frame};

/// A camera's status changed.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraEvent {
    pub camera: CameraId,
    pub status: CameraStatus,
}

/// Counters of one camera since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CameraStats {
    /// Frames handed to analysis.
    pub frames_out: u64,
    /// Live frames dropped because analysis was behind (channel full).
    pub dropped_full: u64,
    /// Frames that came out of the decoder (or the test source).
    pub decoded: u64,
    /// Decoded frames dropped before colour conversion because they were not due.
    pub dropped_before_convert: u64,
    /// Compressed frames never decoded (delta frames and key frames not due).
    pub skipped_undecoded: u64,
    /// Pipeline restarts after a failure or stall.
    pub reconnects: u64,
    /// GOP seen at the decoder, milliseconds (0 when unknown).
    pub gop_ms: u64,
    /// Whether the decoder currently sees key frames only.
    pub key_only: bool,
    /// Full-resolution details converted (for a tiled detector due on the frame).
    pub details: u64,
}

/// A full-resolution RGB picture of the latest analysed frame.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub width: u32,
    pub height: u32,
    /// Packed RGB rows.
    pub rgb: Vec<u8>,
    /// Position in the stream, when known.
    pub pts: Option<Duration>,
}

/// State shared between the supervisor, the pipeline's probes and callbacks, and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    id: CameraId,
    /// This start's number (see `Frame::instance`).
    pub(crate) instance: u64,
    created: Instant,
    status: Mutex<CameraStatus>,
    events: Sender<CameraEvent>,
    last_data_ns: AtomicU64,
    streaming_epoch: AtomicU64,
    source_width: AtomicU32,
    source_height: AtomicU32,
    pub(crate) frames_out: AtomicU64,
    pub(crate) dropped_full: AtomicU64,
    pub(crate) decoded: AtomicU64,
    pub(crate) dropped_before_convert: AtomicU64,
    pub(crate) skipped_undecoded: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) gop_ms: AtomicU64,
    pub(crate) key_only: AtomicBool,
    pub(crate) evidence: Mutex<Option<gst::Sample>>,
    /// The last due frames at full resolution, oldest first, kept (as references, not copies)
    /// until the analysis branch hands out the same frame, which then carries its picture
    /// (`Frame::source`).
    pub(crate) pictures: Mutex<std::collections::VecDeque<gst::Sample>>,
    pub(crate) details_out: AtomicU64,
    pub(crate) stopping: AtomicBool,
}

impl Shared {
    pub(crate) fn elapsed_ns(&self) -> u64 {
        self.created.elapsed().as_nanos() as u64
    }

    /// Data arrived (any buffer, decoded or not): the stream is alive.
    pub(crate) fn touch(&self) {
        self.last_data_ns
            .store(self.elapsed_ns(), Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        Duration::from_nanos(
            self.elapsed_ns()
                .saturating_sub(self.last_data_ns.load(Ordering::Relaxed)),
        )
    }

    /// A frame came out of pipeline `epoch`: the first one makes the camera `streaming`.
    pub(crate) fn mark_streaming(&self, epoch: u64) {
        if self.streaming_epoch.swap(epoch, Ordering::Relaxed) != epoch {
            self.set_status(CameraStatus::Streaming);
        }
    }

    fn streamed_in(&self, epoch: u64) -> bool {
        self.streaming_epoch.load(Ordering::Relaxed) == epoch
    }

    pub(crate) fn set_source_size(&self, width: u32, height: u32) {
        self.source_width.store(width, Ordering::Relaxed);
        self.source_height.store(height, Ordering::Relaxed);
    }

    pub(crate) fn source_size(&self) -> (u32, u32) {
        (
            self.source_width.load(Ordering::Relaxed),
            self.source_height.load(Ordering::Relaxed),
        )
    }

    fn set_status(&self, status: CameraStatus) {
        let mut current = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if *current == status {
            return;
        }
        *current = status.clone();
        drop(current);
        let _ = self.events.send(CameraEvent {
            camera: self.id.clone(),
            status,
        });
    }
}

/// A running camera. Dropping it stops the pipeline and joins its supervisor.
#[derive(Debug)]
pub struct Camera {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Camera {
    /// Starts supervising `spec`: frames go to `frames`, status changes to `events`.
    pub fn start(
        spec: CameraSpec,
        frames: Sender<Frame>,
        events: Sender<CameraEvent>,
    ) -> Result<Camera, IngestError> {
        super::init()?;
        static INSTANCES: AtomicU64 = AtomicU64::new(1);
        let shared = Arc::new(Shared {
            id: spec.id.clone(),
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            created: Instant::now(),
            status: Mutex::new(CameraStatus::Idle),
            events,
            last_data_ns: AtomicU64::new(0),
            streaming_epoch: AtomicU64::new(0),
            source_width: AtomicU32::new(0),
            source_height: AtomicU32::new(0),
            frames_out: AtomicU64::new(0),
            dropped_full: AtomicU64::new(0),
            decoded: AtomicU64::new(0),
            dropped_before_convert: AtomicU64::new(0),
            skipped_undecoded: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            gop_ms: AtomicU64::new(0),
            key_only: AtomicBool::new(false),
            evidence: Mutex::new(None),
            pictures: Mutex::new(std::collections::VecDeque::new()),
            details_out: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        });
        let thread = std::thread::Builder::new()
            .name(format!("camera-{}", spec.id))
            .spawn({
                let shared = Arc::clone(&shared);
                move || supervise(&spec, &shared, &frames)
            })
            .map_err(|e| IngestError::Pipeline(format!("cannot start a camera thread: {e}")))?;
        Ok(Camera {
            shared,
            thread: Some(thread),
        })
    }

    pub fn id(&self) -> &CameraId {
        &self.shared.id
    }

    pub fn status(&self) -> CameraStatus {
        self.shared
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// This start's number; every frame it gives carries it (`Frame::instance`).
    pub fn instance(&self) -> u64 {
        self.shared.instance
    }

    pub fn stats(&self) -> CameraStats {
        let s = &self.shared;
        CameraStats {
            frames_out: s.frames_out.load(Ordering::Relaxed),
            dropped_full: s.dropped_full.load(Ordering::Relaxed),
            decoded: s.decoded.load(Ordering::Relaxed),
            dropped_before_convert: s.dropped_before_convert.load(Ordering::Relaxed),
            skipped_undecoded: s.skipped_undecoded.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
            gop_ms: s.gop_ms.load(Ordering::Relaxed),
            key_only: s.key_only.load(Ordering::Relaxed),
            details: s.details_out.load(Ordering::Relaxed),
        }
    }

    /// The latest analysed frame at full resolution, converted to RGB now (not before).
    pub fn snapshot(&self) -> Option<Snapshot> {
        let sample = self
            .shared
            .evidence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        to_rgb(&sample)
    }

    /// Stops the pipeline and waits for the supervisor to finish.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.halt();
    }
}

enum Outcome {
    Stopped,
    Ended,
    Stalled(Duration),
    Failed(String),
}

fn supervise(spec: &CameraSpec, shared: &Arc<Shared>, frames: &Sender<Frame>) {
    let mut backoff = spec.backoff_min;
    let mut rng = Jitter::seeded(spec.id.as_str());
    let mut epoch = 0u64;
    while !shared.stopping.load(Ordering::Relaxed) {
        epoch += 1;
        shared.set_status(CameraStatus::Connecting);
        shared.touch();
        let outcome = match source::build(spec, shared, frames, epoch) {
            Ok(pipeline) => {
                let outcome = play(&pipeline, spec, shared);
                let _ = pipeline.set_state(gst::State::Null);
                outcome
            }
            Err(e) => Outcome::Failed(e.to_string()),
        };
        let retry_in = match outcome {
            Outcome::Stopped => break,
            Outcome::Ended => {
                shared.set_status(CameraStatus::Ended);
                tracing::info!(camera = %spec.id, "File played to its end.");
                return;
            }
            Outcome::Stalled(silent_for) => {
                tracing::warn!(camera = %spec.id, silent_s = silent_for.as_secs_f64(), "Stream stalled; restarting.");
                shared.set_status(CameraStatus::Stalled { silent_for });
                spec.backoff_min
            }
            Outcome::Failed(reason) => {
                if shared.streamed_in(epoch) {
                    backoff = spec.backoff_min;
                }
                let retry_in = rng.spread(backoff);
                tracing::warn!(camera = %spec.id, %reason, retry_in_s = retry_in.as_secs_f64(), "Camera failed; will retry.");
                shared.set_status(CameraStatus::Failed { reason, retry_in });
                backoff = (backoff * 2).min(spec.backoff_max);
                retry_in
            }
        };
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        if !sleep_unless_stopping(retry_in, shared) {
            break;
        }
    }
    shared.set_status(CameraStatus::Idle);
}

/// Plays the pipeline until it fails, ends, stalls or the camera is stopped.
fn play(pipeline: &gst::Pipeline, spec: &CameraSpec, shared: &Shared) -> Outcome {
    let Some(bus) = pipeline.bus() else {
        return Outcome::Failed("pipeline has no bus".to_string());
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The reason is on the bus.
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(500),
            &[gst::MessageType::Error],
        ) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Outcome::Failed(describe(err));
            }
        }
        return Outcome::Failed("pipeline refused to start".to_string());
    }
    let live = spec.source.is_live();
    loop {
        if shared.stopping.load(Ordering::Relaxed) {
            return Outcome::Stopped;
        }
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(200),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        ) {
            match msg.view() {
                gst::MessageView::Error(err) => return Outcome::Failed(describe(err)),
                gst::MessageView::Eos(_) if live => {
                    return Outcome::Failed("the stream ended".to_string())
                }
                gst::MessageView::Eos(_) => return Outcome::Ended,
                _ => {}
            }
        }
        // Files are read as fast as analysis takes frames: silence there is backpressure.
        if live || matches!(spec.source, SourceSpec::File(_)) && spec.realtime {
            let silent = shared.silent_for();
            if silent > spec.stall_timeout {
                return Outcome::Stalled(silent);
            }
        }
    }
}

fn describe(err: &gst::message::Error) -> String {
    let mut reason = err.error().to_string();
    if let Some(debug) = err.debug() {
        // The last line of GStreamer's debug text is usually the concrete cause.
        if let Some(detail) = debug.lines().map(str::trim).rfind(|l| !l.is_empty()) {
            let detail: String = detail.chars().take(200).collect();
            reason = format!("{reason} ({detail})");
        }
    }
    reason
}

fn sleep_unless_stopping(duration: Duration, shared: &Shared) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if shared.stopping.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
    }
    !shared.stopping.load(Ordering::Relaxed)
}

/// ±20 % jitter on backoff delays, so cameras behind one dead switch do not retry in step.
struct Jitter(u64);

impl Jitter {
    fn seeded(salt: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let hash = salt.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Jitter((nanos ^ hash) | 1)
    }

    fn next_unit(&mut self) -> f64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn spread(&mut self, base: Duration) -> Duration {
        base.mul_f64(0.8 + 0.4 * self.next_unit())
    }
}

/// Converts a decoded sample (any raw format) to packed RGB at its own size.
fn to_rgb(sample: &gst::Sample) -> Option<Snapshot> {
    let in_info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    let pts = sample
        .buffer()?
        .pts()
        .map(|t| Duration::from_nanos(t.nseconds()));
    Some(Snapshot {
        width: in_info.width(),
        height: in_info.height(),
        rgb: super::source::packed_rgb(sample, &in_info, None)?,
        pts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut j = Jitter::seeded("cam");
        for _ in 0..1000 {
            let d = j.spread(Duration::from_secs(10));
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
        }
    }
}
