//! Plain data shared by the stages: identifiers, frames, boxes and detections.
//!
//! Nothing here does I/O or knows about GStreamer or ONNX Runtime; every stage may use it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A camera's id as written in the pipeline config (`cameras[].id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CameraId(pub Arc<str>);

impl CameraId {
    pub fn new(id: &str) -> Self {
        Self(Arc::from(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An axis-aligned box in pixels of some image: `(x1, y1)` top-left, `(x2, y2)` bottom-right.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    /// From centre, width and height, as YOLO heads write boxes.
    pub fn from_cxcywh(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Area of the overlap of the two boxes (0 when they do not overlap).
    pub fn intersection_area(&self, other: &BBox) -> f32 {
        BBox::new(
            self.x1.max(other.x1),
            self.y1.max(other.y1),
            self.x2.min(other.x2),
            self.y2.min(other.y2),
        )
        .area()
    }

    /// Share of this box's area that lies inside `other`: 1 when wholly inside, 0 when apart
    /// or when this box is empty.
    pub fn share_inside(&self, other: &BBox) -> f32 {
        let area = self.area();
        if area > 0.0 {
            self.intersection_area(other) / area
        } else {
            0.0
        }
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = self.intersection_area(other);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Clamps the box to an image of `width` × `height` pixels.
    pub fn clamp(&self, width: f32, height: f32) -> BBox {
        BBox::new(
            self.x1.clamp(0.0, width),
            self.y1.clamp(0.0, height),
            self.x2.clamp(0.0, width),
            self.y2.clamp(0.0, height),
        )
    }

    /// Scales every coordinate by `sx` horizontally and `sy` vertically.
    pub fn scale(&self, sx: f32, sy: f32) -> BBox {
        BBox::new(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)
    }
}

/// One thing a detector found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Box in pixels of the image the detector was given (after decoders map it back through
    /// letterboxing: pixels of the analysis frame).
    pub bbox: BBox,
    /// Confidence in 0..1.
    pub score: f32,
    /// Index into the model's class names.
    pub class_id: usize,
}

/// A decoded RGB frame, packed rows (stride = 3 × width), as ingest hands it to analysis.
#[derive(Clone)]
pub struct Frame {
    pub camera: CameraId,
    /// Which start of the camera produced it (unique in the process): a camera restarted with
    /// new settings gets a new instance, so frames of the old one still queued are told apart.
    pub instance: u64,
    /// Counts frames handed out by this camera's current stream, from 0.
    pub seq: u64,
    /// When the frame was taken: wall clock at ingest for live sources; the stream start plus the
    /// buffer's timestamp for files.
    pub time: SystemTime,
    /// Position in the stream (buffer PTS) when known.
    pub pts: Option<Duration>,
    pub width: u32,
    pub height: u32,
    /// Width and height of the source before scaling, for mapping boxes back.
    pub source_width: u32,
    pub source_height: u32,
    pub rgb: Arc<[u8]>,
    /// A part of the same picture at the source's own resolution, when a detector needs more
    /// pixels than the analysis frame has (text detection on tiles); `None` otherwise.
    pub detail: Option<Arc<FrameDetail>>,
    /// The decoded picture itself, kept (not converted) while the frame waits for analysis.
    /// Analysis converts the part a tiled detector needs when one is due on this very frame
    /// ([`SourcePicture::detail`]), and the whole picture when a candidate is found on it (the
    /// evidence, [`SourcePicture::whole`]); frames no detector is due on let it go at once.
    pub source: Option<Arc<dyn SourcePicture>>,
}

/// A decoded picture at the source's own resolution, as ingest holds it (any pixel format).
pub trait SourcePicture: Send + Sync {
    /// `region` (normalised to the picture) converted to packed RGB at full resolution; `None`
    /// when the region is empty or the picture cannot be converted.
    fn detail(&self, region: &BBox) -> Option<FrameDetail>;

    /// The whole picture converted to packed RGB at full resolution.
    fn whole(&self) -> Option<FrameDetail>;
}

/// A part of a frame at the source's own resolution.
#[derive(Clone)]
pub struct FrameDetail {
    /// Where the part's top-left pixel lies in the source picture.
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Packed RGB rows (stride = 3 × width).
    pub rgb: Arc<[u8]>,
}

impl fmt::Debug for FrameDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDetail")
            .field("at", &(self.x, self.y))
            .field("size", &(self.width, self.height))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("camera", &self.camera)
            .field("seq", &self.seq)
            .field("time", &self.time)
            .field("pts", &self.pts)
            .field("size", &(self.width, self.height))
            .field("source_size", &(self.source_width, self.source_height))
            .field("detail", &self.detail)
            .field("source", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

/// Health of one camera's stream, as ingest reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum CameraStatus {
    /// Not started (disabled in the config, or stopped).
    Idle,
    /// Pipeline starting, no frame yet.
    Connecting,
    /// Frames are arriving.
    Streaming,
    /// No data for longer than the stall timeout; the stream is being restarted.
    Stalled { silent_for: Duration },
    /// The stream failed; it is retried after `retry_in`.
    Failed { reason: String, retry_in: Duration },
    /// A file source played to its end.
    Ended,
}

impl CameraStatus {
    /// Short lower-case name: `connecting`, `streaming`, `stalled`, `failed`, `ended`, `idle`.
    pub fn name(&self) -> &'static str {
        match self {
            CameraStatus::Idle => "idle",
            CameraStatus::Connecting => "connecting",
            CameraStatus::Streaming => "streaming",
            CameraStatus::Stalled { .. } => "stalled",
            CameraStatus::Failed { .. } => "failed",
            CameraStatus::Ended => "ended",
        }
    }
}

impl fmt::Display for CameraStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraStatus::Stalled { silent_for } => {
                write!(f, "stalled (no data for {:.1} s)", silent_for.as_secs_f64())
            }
            CameraStatus::Failed { reason, retry_in } => {
                write!(
                    f,
                    "failed: {reason} (retrying in {:.1} s)",
                    retry_in.as_secs_f64()
                )
            }
            other => f.write_str(other.name()),
        }
    }
}
