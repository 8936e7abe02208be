//! Synthetic street-camera scenes with exact ground truth.
//!
//! A pole-mounted camera with a known [`CameraPose`] looks across a street: road, kerb, the far
//! sidewalk and a shopfront wall behind it. A [`Scene`] is built from a [`SceneSpec`] and renders
//! packed RGB frames plus [`GroundTruth`] (boxes, visible fractions, ground positions with lat/lon,
//! the scripted events). Everything is deterministic: the same seed and spec give byte-identical
//! frames and identical ground truth on the same build.
//!
//! Pieces:
//! - [`camera`]: pinhole projection, ground homography, local metres → WGS84.
//! - [`background`]: the street layout and procedural backgrounds (or a given image).
//! - [`objects`]: object classes, variant ids and the 3-D-ish models (stalls, stacks, signs,
//!   pedestrians, bicycles, benches, bins, shop signs).
//! - [`effects`]: lighting drift, shadows, sensor noise, vignetting.
//! - [`scene`]: the scene script and the renderer.
//! - [`truth`]: the serialisable ground truth.
//!
//! Fonts are read at run time from `/usr/share/fonts` (Debian packages `fonts-dejavu-core` and
//! `fonts-wqy-microhei`); see [`crate::fonts`].

pub mod background;
pub mod camera;
pub mod effects;
pub mod objects;
pub(crate) mod raster;
pub(crate) mod rng;
pub mod scene;
pub mod text;
pub mod truth;

#[cfg(test)]
mod tests;

pub use background::{BackgroundSpec, StreetLayout};
pub use camera::{Camera, CameraPose, Mat3};
pub use objects::{Category, ObjectClass, Split, VariantSet, VARIANT_COUNT};
pub use scene::{Placement, Scene, SceneSpec, ScriptedEvent};
pub use truth::{EventTruth, FrameTruth, GroundPos, GroundTruth, ObjectTruth};

/// Why a scene could not be built or rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SynthError {
    /// The spec is inconsistent or out of range.
    #[error("invalid scene spec: {0}")]
    InvalidSpec(String),
    /// A font file is missing or unreadable.
    #[error(transparent)]
    FontMissing(#[from] crate::fonts::FontError),
    /// A frame index past the end of the scene.
    #[error("frame {index} out of range: the scene has {count} frames")]
    FrameOutOfRange { index: u64, count: u64 },
    /// The output buffer has the wrong size.
    #[error("output buffer has {got} bytes, a frame needs {want} (width × height × 3)")]
    BufferSize { got: usize, want: usize },
}
