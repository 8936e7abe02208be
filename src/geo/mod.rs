//! Geography for candidate cases: where on the ground a pixel lies, and which unit grid cell
//! (单元网格) holds that spot.
//!
//! This module owns camera calibration ([`Calibration`]: pixel ↔ WGS84 through a ground-plane
//! homography), the local tangent plane it works in ([`LocalTangentPlane`]), the homography fit
//! itself ([`Homography`], [`fit_dlt`]) and the unit-grid layer ([`GridLayer`], [`generate`]).
//!
//! Everything here is pure: it does no I/O and knows no clock. Callers read files and hand text
//! in; they get values and errors back.
//!
//! Conventions: latitude and longitude are WGS84 degrees (`f64`), east/north offsets are metres in
//! a local tangent plane, pixel coordinates are pixels of the calibrated image with `(0, 0)` at the
//! top-left corner and `y` growing downwards. Names carry their unit (`_m`, `_deg`, `_px`) where a
//! bare name could be read two ways.

mod calibration;
mod grid;
mod homography;
mod linalg;
mod tangent;

pub use calibration::{
    Calibration, CalibrationError, CalibrationPoint, ReprojectionError, Space, FOOTPRINT_RADIUS_M,
    MAX_POINT_SPREAD_M, MAX_RANGE_M,
};
pub use grid::{
    generate, GridCell, GridError, GridErrors, GridLayer, GridSpec, Polygon, COMMUNITY_CELLS,
    MAX_GENERATED_CELLS, STREET_COMMUNITIES,
};
pub use homography::{fit_dlt, Homography, PointPair};
pub use tangent::{distance_m, LocalTangentPlane};

use serde::{Deserialize, Serialize};

/// A position on the WGS84 ellipsoid, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees north (−90..=90).
    pub lat: f64,
    /// Longitude, degrees east (−180..=180).
    pub lon: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }

    /// Whether both coordinates are finite and inside the WGS84 ranges.
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
    }
}

/// Why a homography fit or a grid generation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoError {
    /// A homography needs at least four point pairs.
    #[error("a homography needs at least 4 point pairs, got {got}")]
    TooFewPairs { got: usize },
    /// An input coordinate was NaN or infinite.
    #[error("point pair {index} has a coordinate that is not a finite number")]
    NonFinite { index: usize },
    /// The pairs do not pin down one homography (coincident or collinear points).
    #[error("the point pairs do not determine one homography: {0}")]
    Degenerate(String),
    /// A homography was found, but it is (nearly) singular.
    #[error(
        "the fitted homography is singular or ill-conditioned (condition number {condition:.3e})"
    )]
    IllConditioned { condition: f64 },
    /// A grid specification that cannot be generated.
    #[error("invalid grid specification: {0}")]
    InvalidGridSpec(String),
}
