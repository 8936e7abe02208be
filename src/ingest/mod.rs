//! Ingest: camera streams in, analysis frames out. The only module that imports GStreamer.
//!
//! One pipeline per camera (`camera::Camera`), supervised by its own thread: it reconnects with
//! exponential backoff and jitter, detects stalls, and reports a status (connecting, streaming,
//! stalled, failed + reason, ended). A failing camera never touches another camera's pipeline.
//!
//! Decode only what analysis needs:
//! - a probe on the video decoder's sink pad swallows delta frames (and key frames that are not
//!   due) whenever the analysis interval is at least the stream's GOP, so only the key frames
//!   analysis uses are decoded;
//! - otherwise every frame is decoded, and frames that are not due are dropped right after the
//!   decoder, before colour conversion and scaling;
//! - due frames are converted and scaled on the GStreamer side to RGB at the analysis width;
//! - each analysis frame carries the decoded frame it was scaled from, unconverted (a reference,
//!   not a copy: `Frame::source`). Analysis converts a tiled detector's region
//!   (`CameraSpec::detail_region`) from it only on the frames that detector is due on, and the
//!   whole picture only for a frame a candidate is found on (its evidence); it lets the picture go
//!   as soon as the frame's detectors have answered. So the pictures held are those of the frames
//!   in flight, a few per camera;
//! - the latest decoded full-resolution frame is also kept for the live view and the signage
//!   baseline, and converted only when someone asks (`Camera::snapshot`).
//!
//! Also here: `probe` (what a URI carries: codec, size, fps, GOP), `media` (camera-like test clips)
//! and `rtsp_server` (an in-process RTSP server for tests and benchmarks).

pub mod camera;
pub mod media;
pub mod probe;
pub mod rtsp_server;
mod source;

use std::path::PathBuf;
use std::time::Duration;

pub use camera::{Camera, CameraEvent, CameraStats, Snapshot};
use gstreamer as gst;

use crate::domain::{BBox, CameraId};

/// Errors of the ingest stage.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("GStreamer could not start: {0}")]
    Init(String),
    #[error("GStreamer element {element} is missing; install the Debian package {package} (scripts/setup.sh does)")]
    MissingElement {
        element: &'static str,
        package: &'static str,
    },
    #[error("{0}")]
    Pipeline(String),
    #[error("{uri}: {message}")]
    Probe { uri: String, message: String },
}

/// Where a camera's video comes from.
#[derive(Clone, PartialEq)]
pub enum SourceSpec {
    /// A local file (mp4, mkv, avi, …), decoded through decodebin.
    File(PathBuf),
    /// An RTSP stream; TCP unless `udp`.
    Rtsp {
        url: String,
        udp: bool,
        user: Option<String>,
        password: Option<String>,
    },
    /// An HTTP(S) MJPEG stream.
    Http {
        url: String,
        user: Option<String>,
        password: Option<String>,
    },
    /// GStreamer's test pattern (a live source).
    TestPattern {
        pattern: String,
        fps: u32,
        width: u32,
        height: u32,
    },
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::File(p) => f.debug_tuple("File").field(p).finish(),
            SourceSpec::Rtsp { url, udp, user, .. } => f
                .debug_struct("Rtsp")
                .field("url", url)
                .field("udp", udp)
                .field("user", user)
                .field("password", &"***")
                .finish(),
            SourceSpec::Http { url, user, .. } => f
                .debug_struct("Http")
                .field("url", url)
                .field("user", user)
                .field("password", &"***")
                .finish(),
            SourceSpec::TestPattern {
                pattern,
                fps,
                width,
                height,
            } => f
                .debug_struct("TestPattern")
                .field("pattern", pattern)
                .field("fps", fps)
                .field("size", &(width, height))
                .finish(),
        }
    }
}

impl SourceSpec {
    /// Whether the source delivers at its own pace (cameras) rather than as fast as it is read.
    pub fn is_live(&self) -> bool {
        !matches!(self, SourceSpec::File(_))
    }
}

/// How ingest runs one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSpec {
    pub id: CameraId,
    pub source: SourceSpec,
    /// Width of analysis frames, pixels; the height keeps the aspect ratio.
    pub analysis_width: u32,
    /// Shortest time between two analysis frames (the smallest detector interval).
    pub interval: Duration,
    /// No data for this long on a live source → stalled, restarted.
    pub stall_timeout: Duration,
    /// Files only: play at the clip's pace instead of as fast as the consumer takes frames.
    pub realtime: bool,
    /// Decode only key frames when the interval is at least the GOP (on by default; benchmarks
    /// turn it off to measure full decoding).
    pub key_frames_only: bool,
    /// First and longest wait between reconnection attempts.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A part of the picture (normalised) that a detector needs at the source's own resolution
    /// (text detection on tiles): analysis converts it from the decoded picture each frame
    /// carries (`Frame::source`) on the frames the detector is due on (`Frame::detail`).
    /// `None`: no detector needs one.
    pub detail_region: Option<BBox>,
}

impl CameraSpec {
    pub fn new(id: CameraId, source: SourceSpec) -> Self {
        Self {
            id,
            source,
            analysis_width: 640,
            interval: Duration::from_secs(2),
            stall_timeout: Duration::from_secs(10),
            realtime: false,
            key_frames_only: true,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            detail_region: None,
        }
    }
}

/// Initialises GStreamer once; later calls are free.
pub fn init() -> Result<(), IngestError> {
    gst::init().map_err(|e| IngestError::Init(e.to_string()))
}

fn make(factory: &'static str) -> Result<gst::Element, IngestError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| IngestError::MissingElement {
            element: factory,
            package: package_of(factory),
        })
}

fn package_of(factory: &str) -> &'static str {
    match factory {
        "x264enc" => "gstreamer1.0-plugins-ugly",
        "avdec_h264" => "gstreamer1.0-libav",
        "rtspsrc" | "rtph264pay" | "qtdemux" | "mp4mux" | "jpegdec" | "souphttpsrc"
        | "multipartdemux" => "gstreamer1.0-plugins-good",
        "h264parse" => "gstreamer1.0-plugins-bad",
        _ => "gstreamer1.0-plugins-base",
    }
}
