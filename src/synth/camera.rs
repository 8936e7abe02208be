//! Pinhole camera on a pole: world (east, north, up metres in a local tangent plane whose origin is
//! the foot of the pole) → pixel, the ground-plane homography, and local metres → WGS84.
//!
//! Conventions: pixel `(x, y)` is continuous, pixel column `i` covers `[i, i + 1)`, the principal
//! point is the image centre `(width / 2, height / 2)`, there is no lens distortion and no roll.
//! The camera sits at `(0, 0, height_m)`, looks along compass bearing `heading_deg` (clockwise from
//! north) and is tilted down by `pitch_deg`.

use std::ops::{Add, Mul, Neg, Sub};

use serde::{Deserialize, Serialize};

use super::SynthError;

/// Where a camera is and how it looks at the street.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CameraPose {
    /// Height of the optical centre above the sidewalk plane, metres.
    pub height_m: f64,
    /// Tilt down from horizontal, degrees (0 < pitch < 90).
    pub pitch_deg: f64,
    /// Compass bearing of the optical axis, degrees clockwise from north.
    pub heading_deg: f64,
    /// Focal length in pixels (same horizontally and vertically).
    pub focal_px: f64,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Latitude of the pole's foot, degrees (WGS84).
    pub lat: f64,
    /// Longitude of the pole's foot, degrees (WGS84).
    pub lon: f64,
}

impl CameraPose {
    /// Focal length in pixels that gives a horizontal field of view of `hfov_deg` at `width`.
    pub fn focal_for_hfov(width: u32, hfov_deg: f64) -> f64 {
        f64::from(width) / 2.0 / (hfov_deg.to_radians() / 2.0).tan()
    }
}

/// A 3-vector of metres (world or camera coordinates).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct V3 {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) z: f64,
}

pub(crate) const fn v3(x: f64, y: f64, z: f64) -> V3 {
    V3 { x, y, z }
}

impl V3 {
    pub(crate) fn dot(self, o: V3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }
    pub(crate) fn cross(self, o: V3) -> V3 {
        v3(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }
    pub(crate) fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }
    pub(crate) fn unit(self) -> V3 {
        let n = self.norm();
        if n > 0.0 {
            self * (1.0 / n)
        } else {
            self
        }
    }
}

impl Add for V3 {
    type Output = V3;
    fn add(self, o: V3) -> V3 {
        v3(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}
impl Sub for V3 {
    type Output = V3;
    fn sub(self, o: V3) -> V3 {
        v3(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}
impl Mul<f64> for V3 {
    type Output = V3;
    fn mul(self, k: f64) -> V3 {
        v3(self.x * k, self.y * k, self.z * k)
    }
}
impl Neg for V3 {
    type Output = V3;
    fn neg(self) -> V3 {
        v3(-self.x, -self.y, -self.z)
    }
}

/// A 3 × 3 matrix, row-major.
pub type Mat3 = [[f64; 3]; 3];

pub(crate) fn mat_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// Inverse of a 3 × 3 matrix; `None` when singular.
pub(crate) fn mat_inv(m: &Mat3) -> Option<Mat3> {
    let c = |r: usize, s: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (s1, s2) = ((s + 1) % 3, (s + 2) % 3);
        m[r1][s1] * m[r2][s2] - m[r1][s2] * m[r2][s1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    if det.abs() < 1e-15 {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = c(j, i) / det;
        }
    }
    Some(inv)
}

/// Applies a homography to `(x, y, 1)`; `None` when the result is at infinity.
pub(crate) fn apply_h(h: &Mat3, x: f64, y: f64) -> Option<[f64; 2]> {
    let w = h[2][0] * x + h[2][1] * y + h[2][2];
    if w.abs() < 1e-12 {
        return None;
    }
    Some([
        (h[0][0] * x + h[0][1] * y + h[0][2]) / w,
        (h[1][0] * x + h[1][1] * y + h[1][2]) / w,
    ])
}

/// WGS84 semi-major axis, metres.
const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// A posed pinhole camera.
#[derive(Debug, Clone)]
pub struct Camera {
    pose: CameraPose,
    pub(crate) right: V3,
    pub(crate) down: V3,
    pub(crate) fwd: V3,
    pub(crate) centre: V3,
    pub(crate) cx: f64,
    pub(crate) cy: f64,
    pub(crate) f: f64,
    ground_to_pixel: Mat3,
    pixel_to_ground: Mat3,
    /// Metres per radian of latitude (meridional radius of curvature) at the camera.
    m_radius: f64,
    /// Metres per radian of longitude (prime-vertical radius × cos latitude) at the camera.
    n_radius_cos: f64,
}

impl Camera {
    /// Checks the pose and precomputes the projection.
    pub fn new(pose: CameraPose) -> Result<Self, SynthError> {
        let bad = |what: &str| Err(SynthError::InvalidSpec(format!("camera pose: {what}")));
        if pose.width == 0 || pose.height == 0 {
            return bad("width and height must be positive");
        }
        if !(pose.focal_px.is_finite() && pose.focal_px > 1.0) {
            return bad("focal_px must be > 1");
        }
        if !(pose.height_m.is_finite() && pose.height_m > 0.1) {
            return bad("height_m must be > 0.1");
        }
        if !(pose.pitch_deg > 0.5 && pose.pitch_deg < 89.5) {
            return bad("pitch_deg must be in (0.5, 89.5)");
        }
        if !(pose.heading_deg.is_finite() && pose.lat.abs() < 89.0 && pose.lon.is_finite()) {
            return bad("heading, lat or lon out of range");
        }
        let (hd, p) = (pose.heading_deg.to_radians(), pose.pitch_deg.to_radians());
        let fwd = v3(hd.sin() * p.cos(), hd.cos() * p.cos(), -p.sin());
        let right = v3(hd.cos(), -hd.sin(), 0.0);
        let up = right.cross(fwd);
        let down = -up;
        let (cx, cy, f) = (
            f64::from(pose.width) / 2.0,
            f64::from(pose.height) / 2.0,
            pose.focal_px,
        );
        let h = pose.height_m;
        let m = [
            [right.x, right.y, -h * right.z],
            [down.x, down.y, -h * down.z],
            [fwd.x, fwd.y, -h * fwd.z],
        ];
        let k = [[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]];
        let ground_to_pixel = mat_mul(&k, &m);
        let Some(pixel_to_ground) = mat_inv(&ground_to_pixel) else {
            return bad("degenerate ground homography");
        };
        let e2 = WGS84_F * (2.0 - WGS84_F);
        let phi = pose.lat.to_radians();
        let w = 1.0 - e2 * phi.sin() * phi.sin();
        let m_radius = WGS84_A * (1.0 - e2) / w.powf(1.5);
        let n_radius = WGS84_A / w.sqrt();
        Ok(Camera {
            pose,
            right,
            down,
            fwd,
            centre: v3(0.0, 0.0, h),
            cx,
            cy,
            f,
            ground_to_pixel,
            pixel_to_ground,
            m_radius,
            n_radius_cos: n_radius * phi.cos(),
        })
    }

    /// The pose this camera was built from.
    pub fn pose(&self) -> &CameraPose {
        &self.pose
    }

    /// World point (east, north, up metres) → camera coordinates (right, down, forward).
    pub(crate) fn to_cam(&self, p: V3) -> V3 {
        let d = p - self.centre;
        v3(d.dot(self.right), d.dot(self.down), d.dot(self.fwd))
    }

    /// World direction → camera coordinates.
    pub(crate) fn dir_to_cam(&self, d: V3) -> V3 {
        v3(d.dot(self.right), d.dot(self.down), d.dot(self.fwd))
    }

    /// Camera coordinates → pixel (caller ensures `c.z > 0`).
    pub(crate) fn cam_to_px(&self, c: V3) -> [f64; 2] {
        [self.cx + self.f * c.x / c.z, self.cy + self.f * c.y / c.z]
    }

    /// Projects a world point `[east, north, up]` (metres) to a pixel; `None` behind the camera.
    pub fn project(&self, enu: [f64; 3]) -> Option<[f64; 2]> {
        let c = self.to_cam(v3(enu[0], enu[1], enu[2]));
        (c.z > 1e-6).then(|| self.cam_to_px(c))
    }

    /// World direction of the ray through pixel `(x, y)` (not normalised; forward component 1).
    pub(crate) fn ray(&self, x: f64, y: f64) -> V3 {
        self.fwd + self.right * ((x - self.cx) / self.f) + self.down * ((y - self.cy) / self.f)
    }

    /// Ground point (east, north on the plane up = 0) → pixel; `None` behind the camera.
    pub fn ground_to_pixel(&self, east: f64, north: f64) -> Option<[f64; 2]> {
        self.project([east, north, 0.0])
    }

    /// Pixel → ground point `[east, north]`; `None` at or above the horizon.
    pub fn pixel_to_ground(&self, x: f64, y: f64) -> Option<[f64; 2]> {
        if self.ray(x, y).z >= -1e-9 {
            return None;
        }
        apply_h(&self.pixel_to_ground, x, y)
    }

    /// The 3 × 3 homography (row-major) taking `(east, north, 1)` on the ground to homogeneous
    /// pixel coordinates.
    pub fn ground_homography(&self) -> Mat3 {
        self.ground_to_pixel
    }

    /// Inverse of [`Camera::ground_homography`]: homogeneous pixel → `(east, north, 1)`.
    pub fn pixel_homography(&self) -> Mat3 {
        self.pixel_to_ground
    }

    /// Local east/north metres → `(lat, lon)` degrees, using the WGS84 meridional and
    /// prime-vertical radii of curvature at the camera (accurate to centimetres within ~1 km).
    pub fn to_wgs84(&self, east: f64, north: f64) -> (f64, f64) {
        (
            self.pose.lat + (north / self.m_radius).to_degrees(),
            self.pose.lon + (east / self.n_radius_cos).to_degrees(),
        )
    }

    /// Inverse of [`Camera::to_wgs84`]: `(lat, lon)` degrees → local `(east, north)` metres.
    pub fn from_wgs84(&self, lat: f64, lon: f64) -> (f64, f64) {
        (
            (lon - self.pose.lon).to_radians() * self.n_radius_cos,
            (lat - self.pose.lat).to_radians() * self.m_radius,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pose() -> CameraPose {
        CameraPose {
            height_m: 7.0,
            pitch_deg: 20.0,
            heading_deg: 35.0,
            focal_px: 1000.0,
            width: 1280,
            height: 720,
            lat: 31.23,
            lon: 121.47,
        }
    }

    #[test]
    fn homography_matches_projection_and_inverts() {
        let cam = Camera::new(pose()).unwrap();
        for &(e, n) in &[(3.0, 10.0), (10.0, 15.0), (-2.0, 25.0), (12.0, 8.0)] {
            let p = cam.project([e, n, 0.0]).unwrap();
            let q = apply_h(&cam.ground_homography(), e, n).unwrap();
            assert!((p[0] - q[0]).abs() < 1e-6 && (p[1] - q[1]).abs() < 1e-6);
            let g = cam.pixel_to_ground(p[0], p[1]).unwrap();
            assert!((g[0] - e).abs() < 1e-6 && (g[1] - n).abs() < 1e-6);
        }
        // The optical axis hits the ground at height / tan(pitch) along the heading.
        let d = 7.0 / 20f64.to_radians().tan();
        let g = cam.pixel_to_ground(640.0, 360.0).unwrap();
        let h = 35f64.to_radians();
        assert!((g[0] - d * h.sin()).abs() < 1e-6 && (g[1] - d * h.cos()).abs() < 1e-6);
        assert!(cam.pixel_to_ground(640.0, 0.0).is_none() || cam.ray(640.0, 0.0).z < 0.0);
    }

    #[test]
    fn wgs84_round_trip_and_scale() {
        let cam = Camera::new(pose()).unwrap();
        let (lat, lon) = cam.to_wgs84(100.0, 200.0);
        let (e, n) = cam.from_wgs84(lat, lon);
        assert!((e - 100.0).abs() < 1e-6 && (n - 200.0).abs() < 1e-6);
        // One degree of latitude is about 110.9 km at 31°.
        let (lat1, _) = cam.to_wgs84(0.0, 110_900.0);
        assert!((lat1 - 31.23 - 1.0).abs() < 0.003);
    }
}
