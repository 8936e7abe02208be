//! Ground truth, serialisable with serde (JSON via `serde_json`).
//!
//! Conventions:
//! - `bbox` is `[x1, y1, x2, y2]` in pixels (`x2`, `y2` exclusive edges, whole numbers): the tight
//!   box around every pixel the object covers by at least 25 %, before occlusion by other objects,
//!   clipped to the image. Objects with no pixel inside the image are left out of the frame.
//! - `visible_fraction` = object pixels (coverage ≥ 50 %) inside the image and not hidden by a
//!   nearer object, divided by all its pixels including those outside the image. Shadows do not
//!   occlude; lamp posts (not a class) do.
//! - `ground` is the point on the sidewalk plane under the bottom centre of the object's
//!   unclipped, unoccluded box (computed from the 3-D geometry, not from the rendered box): what a
//!   perfect detector's box maps to through the ground homography. `null` for wall items, pole
//!   posters and shop signs.
//! - Size: a frame holds every visible object (typically 8–20), about 150–200 bytes each in JSON,
//!   so a 3-minute 25 fps scene with `gt_every = 1` is roughly 10–15 MB of JSON; raise
//!   `SceneSpec::gt_every` to thin it out.

use serde::{Deserialize, Serialize};

use super::background::StreetLayout;
use super::camera::{CameraPose, Mat3};
use super::objects::{Category, ObjectClass};
use super::scene::SceneSpec;
use crate::domain::BBox;

/// A point on the ground in local metres and WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroundPos {
    pub east_m: f64,
    pub north_m: f64,
    pub lat: f64,
    pub lon: f64,
}

/// The camera as the ground truth records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraTruth {
    pub pose: CameraPose,
    /// Row-major homography: `(east, north, 1)` on the sidewalk plane → homogeneous pixel.
    pub ground_homography: Mat3,
    /// Its inverse: homogeneous pixel → `(east, north, 1)`.
    pub pixel_to_ground: Mat3,
}

/// One object in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectTruth {
    /// Stable id for the object's whole life; events are `1..=events.len()` in spec order.
    pub track_id: u32,
    pub class: ObjectClass,
    pub variant: u32,
    /// `[x1, y1, x2, y2]` pixels; see the module docs.
    pub bbox: [f32; 4],
    pub visible_fraction: f32,
    pub ground: Option<GroundPos>,
}

impl ObjectTruth {
    /// The box as the pipeline's [`BBox`].
    pub fn bbox(&self) -> BBox {
        BBox::new(self.bbox[0], self.bbox[1], self.bbox[2], self.bbox[3])
    }
}

/// Every object in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameTruth {
    pub index: u64,
    /// `index / fps`.
    pub t_s: f64,
    /// Far to near (drawing order).
    pub objects: Vec<ObjectTruth>,
}

/// A point on the wall: street-frame `along_m`, `height_m` above the sidewalk, and the ground
/// point at the foot of the wall below it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WallPos {
    pub along_m: f64,
    pub height_m: f64,
    pub foot: GroundPos,
}

/// How an event object is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountKind {
    Ground,
    Wall,
    Pole,
}

/// One scripted event as realised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventTruth {
    pub track_id: u32,
    pub category: Category,
    pub variant: u32,
    /// Shape kind, see [`crate::synth::objects::variant_kind`].
    pub kind: String,
    /// Present in frames with `appear_s <= t < leave_s`.
    pub appear_s: f64,
    pub leave_s: f64,
    pub mount: MountKind,
    /// Ground objects: bottom centre of the box on the ground (as in the frames).
    pub ground: Option<GroundPos>,
    /// Ground objects: centre of the footprint.
    pub footprint_centre: Option<GroundPos>,
    /// Wall items and pole posters: centre of the item.
    pub wall: Option<WallPos>,
    /// Pole posters: foot of the pole.
    pub pole: Option<GroundPos>,
}

/// Everything known about a rendered scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub spec: SceneSpec,
    pub camera: CameraTruth,
    pub layout: StreetLayout,
    pub frame_count: u64,
    /// Frames listed: every `gt_every`-th, from 0.
    pub gt_every: u32,
    pub frames: Vec<FrameTruth>,
    pub events: Vec<EventTruth>,
}
