//! Camera calibration: fitting the ground-plane homography of one fixed camera from clicked
//! pixel ↔ WGS84 point pairs, and projecting through it (pixel → lat/lon, lat/lon → pixel, the
//! camera's ground footprint, the horizon).
//!
//! The ground is modelled as one plane: the local tangent plane ([`LocalTangentPlane`]) whose
//! origin is the centroid of the calibration points. That is right for flat streets and squares
//! within a few hundred metres of the camera; slopes, steps and raised objects (a box's bottom
//! edge on a kerb) are outside the model. Lens distortion is not modelled either: calibrate on the
//! undistorted image the detector sees.
//!
//! Pure arithmetic: no I/O, no clock.

use super::homography::{fit_dlt, Homography};
use super::linalg::symmetric_eigen;
use super::tangent::LocalTangentPlane;
use super::{GeoError, GeoPoint};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Calibration points may lie at most this far (metres) from their median position.
pub const MAX_POINT_SPREAD_M: f64 = 2_000.0;
/// [`Calibration::pixel_to_geo`] gives `None` for ground points further than this (metres) from
/// the calibration points' centroid: pixels just below the horizon map to arbitrarily far ground
/// that a ground-plane model cannot place.
pub const MAX_RANGE_M: f64 = 5_000.0;
/// [`Calibration::ground_footprint`] is clipped to this distance (metres) from the centroid.
pub const FOOTPRINT_RADIUS_M: f64 = 200.0;

/// Two points closer than this in the image count as the same pixel.
const DUPLICATE_PX: f64 = 1.0;
/// Two points closer than this on the ground count as the same position.
const DUPLICATE_M: f64 = 0.05;
/// Three points are collinear when their triangle's height over its longest side is below this
/// fraction of that side…
const COLLINEAR_FRACTION: f64 = 0.01;
/// …or below this many pixels (image) …
const COLLINEAR_MIN_PX: f64 = 2.0;
/// …or metres (ground).
const COLLINEAR_MIN_M: f64 = 0.1;
/// All points are nearly collinear when their spread across their main axis is below this
/// fraction of the spread along it (ratio of the standard deviations).
const ALL_COLLINEAR_FRACTION: f64 = 0.01;
/// A fit whose RMS pixel reprojection error exceeds this fraction of the image diagonal is refused.
const MAX_RMS_FRACTION: f64 = 0.05;
/// Corners of the polygon standing in for the footprint's clipping circle.
const FOOTPRINT_CIRCLE_CORNERS: usize = 72;
/// Densifying the footprint never goes below this step (metres).
const MIN_FOOTPRINT_STEP_M: f64 = 0.5;

/// One clicked correspondence: a pixel of the camera image and the WGS84 position of the ground
/// point it shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationPoint {
    /// Image pixels from the left edge.
    pub pixel_x: f64,
    /// Image pixels from the top edge.
    pub pixel_y: f64,
    /// WGS84 degrees.
    pub lat: f64,
    /// WGS84 degrees.
    pub lon: f64,
}

/// How well the fitted homography reproduces the calibration points.
///
/// With exactly 4 points the fit is exact and these are all about zero: 4 points cannot reveal a
/// wrong click. Use 6 or more.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReprojectionError {
    /// Root mean square of the pixel errors (each point's ground position projected into the
    /// image, compared with its pixel).
    pub rms_px: f64,
    /// Largest pixel error.
    pub max_px: f64,
    /// Index of the point the others agree with least, the first to re-check. With 6 or more
    /// points: the one without which the rest fit best (leave-one-out RMS), which finds a single
    /// bad click; with 4 or 5: the largest residual, which need not be the bad click (5 points
    /// cannot tell which one is wrong, only that one is).
    pub worst_point: usize,
    /// Root mean square of the ground errors (each point's pixel projected onto the ground,
    /// compared with its position), metres.
    pub rms_m: f64,
    /// Largest ground error, metres.
    pub max_m: f64,
}

/// Where a collinearity was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Image,
    Ground,
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Space::Image => "in the image",
            Space::Ground => "on the ground",
        })
    }
}

/// Why a set of calibration points was refused. Indices are positions in the slice given to
/// [`Calibration::fit`], from 0.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    #[error("a calibration needs at least 4 points, got {got}")]
    TooFewPoints { got: usize },
    #[error("the image size {width}×{height} is empty")]
    EmptyImage { width: u32, height: u32 },
    #[error("calibration point {index}: a coordinate is not a finite number")]
    NotFinite { index: usize },
    #[error("calibration point {index}: lat {lat}, lon {lon} is outside the WGS84 range")]
    OutOfRange { index: usize, lat: f64, lon: f64 },
    #[error(
        "calibration point {index}: outside the {width}×{height} image (pixel {x_px:.1}, {y_px:.1})"
    )]
    OutsideImage {
        index: usize,
        x_px: f64,
        y_px: f64,
        width: u32,
        height: u32,
    },
    #[error(
        "calibration point {index}: {distance_m:.0} m from the median position of the points; all must lie within {max:.0} m of it (latitude and longitude swapped?)",
        max = MAX_POINT_SPREAD_M
    )]
    TooFar { index: usize, distance_m: f64 },
    #[error(
        "calibration point {index}: same pixel as point {other} ({distance_px:.2} px apart, need at least {min} px)",
        min = DUPLICATE_PX
    )]
    DuplicatePixel {
        index: usize,
        other: usize,
        distance_px: f64,
    },
    #[error(
        "calibration point {index}: same ground position as point {other} ({distance_m:.3} m apart, need at least {min} m)",
        min = DUPLICATE_M
    )]
    DuplicateGround {
        index: usize,
        other: usize,
        distance_m: f64,
    },
    #[error(
        "calibration points {first}, {second} and {third} lie on one line {space}; with only 4 points no three may"
    )]
    Collinear {
        first: usize,
        second: usize,
        third: usize,
        space: Space,
    },
    #[error("all calibration points lie nearly on one line {space}")]
    AllCollinear { space: Space },
    #[error("the fitted homography is singular or ill-conditioned: {reason}")]
    IllConditioned { reason: String },
    #[error(
        "points do not fit one ground plane (check point {worst}, the worst): RMS reprojection error {rms_px:.1} px is over {limit_px:.1} px (5 % of the image diagonal)"
    )]
    NoCommonPlane {
        worst: usize,
        rms_px: f64,
        limit_px: f64,
    },
}

/// A fitted camera: pixel ↔ WGS84 through the ground plane.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    image_width: u32,
    image_height: u32,
    plane: LocalTangentPlane,
    /// Ground (east/north metres in `plane`) → image pixels.
    ground_to_image: Homography,
    /// Image pixels → ground.
    image_to_ground: Homography,
    reprojection: ReprojectionError,
}

impl Calibration {
    /// Fits the calibration of a `image_width` × `image_height` camera from `points`.
    ///
    /// The homography is fitted from ground to image (normalised DLT, least squares for more than
    /// 4 points), so that its algebraic error lives where click noise does, and inverted for the
    /// other direction. Refuses, naming the point where one is to blame: fewer than 4 points,
    /// non-finite or out-of-range coordinates, a pixel outside the image, a point more than
    /// [`MAX_POINT_SPREAD_M`] from the points' median position, two points on the same pixel (< 1 px) or ground
    /// position (< 0.05 m), three collinear points (in the image or on the ground) when only 4 are
    /// given, all points nearly on one line, a singular or ill-conditioned homography, and a fit
    /// whose RMS pixel error exceeds 5 % of the image diagonal.
    pub fn fit(
        points: &[CalibrationPoint],
        image_width: u32,
        image_height: u32,
    ) -> Result<Calibration, CalibrationError> {
        if image_width == 0 || image_height == 0 {
            return Err(CalibrationError::EmptyImage {
                width: image_width,
                height: image_height,
            });
        }
        if points.len() < 4 {
            return Err(CalibrationError::TooFewPoints { got: points.len() });
        }
        let (w_px, h_px) = (f64::from(image_width), f64::from(image_height));
        for (index, p) in points.iter().enumerate() {
            if ![p.pixel_x, p.pixel_y, p.lat, p.lon]
                .iter()
                .all(|v| v.is_finite())
            {
                return Err(CalibrationError::NotFinite { index });
            }
            if !GeoPoint::new(p.lat, p.lon).is_valid() {
                return Err(CalibrationError::OutOfRange {
                    index,
                    lat: p.lat,
                    lon: p.lon,
                });
            }
            if !(0.0..=w_px).contains(&p.pixel_x) || !(0.0..=h_px).contains(&p.pixel_y) {
                return Err(CalibrationError::OutsideImage {
                    index,
                    x_px: p.pixel_x,
                    y_px: p.pixel_y,
                    width: image_width,
                    height: image_height,
                });
            }
        }

        // The point furthest from the median position is the one to blame for a spread that is
        // too wide (a typo, swapped latitude and longitude), whatever it does to the mean.
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let median_plane = LocalTangentPlane::new(
            median(points.iter().map(|p| p.lat).collect()),
            median(points.iter().map(|p| p.lon).collect()),
        );
        let (index, distance_m) = points
            .iter()
            .map(|p| {
                let (e, n) = median_plane.to_enu(p.lat, p.lon);
                e.hypot(n)
            })
            .enumerate()
            .fold(
                (0, 0.0),
                |best, (i, d)| if d > best.1 { (i, d) } else { best },
            );
        if distance_m > MAX_POINT_SPREAD_M {
            return Err(CalibrationError::TooFar { index, distance_m });
        }

        let n = points.len() as f64;
        let centroid_lat = points.iter().map(|p| p.lat).sum::<f64>() / n;
        let centroid_lon = points.iter().map(|p| p.lon).sum::<f64>() / n;
        let plane = LocalTangentPlane::new(centroid_lat, centroid_lon);
        let pixels: Vec<(f64, f64)> = points.iter().map(|p| (p.pixel_x, p.pixel_y)).collect();
        let ground: Vec<(f64, f64)> = points.iter().map(|p| plane.to_enu(p.lat, p.lon)).collect();

        for index in 0..points.len() {
            for other in 0..index {
                let distance_px = dist(pixels[index], pixels[other]);
                if distance_px < DUPLICATE_PX {
                    return Err(CalibrationError::DuplicatePixel {
                        index,
                        other,
                        distance_px,
                    });
                }
                let distance_m = dist(ground[index], ground[other]);
                if distance_m < DUPLICATE_M {
                    return Err(CalibrationError::DuplicateGround {
                        index,
                        other,
                        distance_m,
                    });
                }
            }
        }

        for (space, pts, min_abs) in [
            (Space::Image, &pixels, COLLINEAR_MIN_PX),
            (Space::Ground, &ground, COLLINEAR_MIN_M),
        ] {
            if nearly_one_line(pts) {
                return Err(CalibrationError::AllCollinear { space });
            }
            if pts.len() == 4 {
                for (first, second, third) in [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)] {
                    if collinear(pts[first], pts[second], pts[third], min_abs) {
                        return Err(CalibrationError::Collinear {
                            first,
                            second,
                            third,
                            space,
                        });
                    }
                }
            }
        }

        let pairs: Vec<_> = ground.iter().copied().zip(pixels.iter().copied()).collect();
        let ground_to_image = fit_dlt(&pairs).map_err(|e| CalibrationError::IllConditioned {
            reason: match e {
                GeoError::IllConditioned { condition } => {
                    format!("condition number {condition:.3e}")
                }
                GeoError::Degenerate(reason) => reason,
                other => other.to_string(),
            },
        })?;
        let image_to_ground =
            ground_to_image
                .inverse()
                .ok_or_else(|| CalibrationError::IllConditioned {
                    reason: "the homography cannot be inverted".into(),
                })?;

        let reprojection = reprojection(&pixels, &ground, &ground_to_image, &image_to_ground);
        let limit_px = MAX_RMS_FRACTION * w_px.hypot(h_px);
        if reprojection.rms_px.is_nan() || reprojection.rms_px > limit_px {
            return Err(CalibrationError::NoCommonPlane {
                worst: reprojection.worst_point,
                rms_px: reprojection.rms_px,
                limit_px,
            });
        }

        Ok(Calibration {
            image_width,
            image_height,
            plane,
            ground_to_image,
            image_to_ground,
            reprojection,
        })
    }

    /// `(width, height)` of the calibrated image, pixels.
    pub fn image_size(&self) -> (u32, u32) {
        (self.image_width, self.image_height)
    }

    /// The ground plane: the tangent plane at the calibration points' centroid.
    pub fn plane(&self) -> &LocalTangentPlane {
        &self.plane
    }

    /// The calibration points' centroid (the ground plane's origin).
    pub fn origin(&self) -> GeoPoint {
        self.plane.origin()
    }

    /// Ground (east/north metres in [`plane`](Self::plane)) → image pixels.
    pub fn ground_to_image(&self) -> &Homography {
        &self.ground_to_image
    }

    /// Image pixels → ground (east/north metres in [`plane`](Self::plane)).
    pub fn image_to_ground(&self) -> &Homography {
        &self.image_to_ground
    }

    /// How well the fit reproduces its own points.
    pub fn reprojection(&self) -> ReprojectionError {
        self.reprojection
    }

    /// East/north metres (in [`plane`](Self::plane)) of the ground seen at pixel `(x_px, y_px)`;
    /// `None` at or above the horizon and beyond [`MAX_RANGE_M`]. Pixels outside the image are
    /// projected too.
    pub fn pixel_to_enu(&self, x_px: f64, y_px: f64) -> Option<(f64, f64)> {
        let (e, n) = self.image_to_ground.apply((x_px, y_px))?;
        (e.hypot(n) <= MAX_RANGE_M).then_some((e, n))
    }

    /// The WGS84 position of the ground seen at pixel `(x_px, y_px)`; `None` at or above the
    /// horizon (where no ground is seen) and for ground beyond [`MAX_RANGE_M`] from the
    /// centroid. For a detection, pass the point where the object touches the ground (the middle
    /// of its box's bottom edge), not the box centre.
    pub fn pixel_to_geo(&self, x_px: f64, y_px: f64) -> Option<GeoPoint> {
        let (e, n) = self.pixel_to_enu(x_px, y_px)?;
        Some(self.plane.enu_to_point(e, n))
    }

    /// The pixel where the ground point `(lat, lon)` appears; `None` when it is behind the camera
    /// or beyond [`MAX_RANGE_M`]. The pixel may lie outside the image: check it against
    /// [`image_size`](Self::image_size).
    pub fn geo_to_pixel(&self, lat: f64, lon: f64) -> Option<(f64, f64)> {
        let (e, n) = self.plane.to_enu(lat, lon);
        let range_m = e.hypot(n);
        if range_m.is_nan() || range_m > MAX_RANGE_M {
            return None;
        }
        self.ground_to_image.apply((e, n))
    }

    /// The row (pixels from the top, possibly outside the image) of the horizon at column `x_px`:
    /// ground is seen on the side of it that holds the calibration points. `None` when the
    /// horizon is (nearly) vertical in the image.
    pub fn horizon_y(&self, x_px: f64) -> Option<f64> {
        let m = &self.image_to_ground.m;
        let scale = m[2][0].abs() + m[2][1].abs() + m[2][2].abs();
        if m[2][1].abs() <= 1e-12 * scale {
            return None;
        }
        Some(-(m[2][0] * x_px + m[2][2]) / m[2][1])
    }

    /// The ground the image shows, as a closed ring of WGS84 positions (first = last,
    /// counter-clockwise): the image rectangle projected onto the ground, cut at the horizon and
    /// clipped to [`FOOTPRINT_RADIUS_M`] from the centroid (the circle approximated by a 72-gon).
    /// A homography maps straight edges to straight edges, so the polygon is exact; edges are
    /// split so that consecutive positions are at most `max_step_m` apart (at least 0.5 m; pass
    /// `f64::INFINITY` for corners only). Empty when no ground is in view within the radius.
    pub fn ground_footprint(&self, max_step_m: f64) -> Vec<GeoPoint> {
        let g = &self.ground_to_image.m;
        let (w_px, h_px) = (f64::from(self.image_width), f64::from(self.image_height));
        // In ground coordinates, with W > 0: x_px ≥ 0 ⇔ row0·g ≥ 0, x_px ≤ width ⇔
        // width·row2·g − row0·g ≥ 0, and so on: five half-planes, each a·e + b·n + c ≥ 0.
        let combine =
            |k: f64, r: [f64; 3]| [k * g[2][0] - r[0], k * g[2][1] - r[1], k * g[2][2] - r[2]];
        let half_planes = [g[2], g[0], combine(w_px, g[0]), g[1], combine(h_px, g[1])];
        let mut polygon: Vec<(f64, f64)> = (0..FOOTPRINT_CIRCLE_CORNERS)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / FOOTPRINT_CIRCLE_CORNERS as f64;
                (FOOTPRINT_RADIUS_M * a.cos(), FOOTPRINT_RADIUS_M * a.sin())
            })
            .collect();
        for hp in half_planes {
            polygon = clip_half_plane(&polygon, hp);
            if polygon.len() < 3 {
                return Vec::new();
            }
        }
        let step_m = if max_step_m.is_finite() {
            max_step_m.max(MIN_FOOTPRINT_STEP_M)
        } else {
            f64::INFINITY
        };
        let mut ring = Vec::new();
        for (i, &a) in polygon.iter().enumerate() {
            let b = polygon[(i + 1) % polygon.len()];
            let pieces = if step_m.is_finite() {
                (dist(a, b) / step_m).ceil().max(1.0) as usize
            } else {
                1
            };
            for k in 0..pieces {
                let t = k as f64 / pieces as f64;
                ring.push(
                    self.plane
                        .enu_to_point(a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)),
                );
            }
        }
        ring.push(ring[0]);
        ring
    }
}

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// Whether the triangle `a b c` is too flat: its height over its longest side is below 1 % of
/// that side or below `min_abs`.
fn collinear(a: (f64, f64), b: (f64, f64), c: (f64, f64), min_abs: f64) -> bool {
    let longest = dist(a, b).max(dist(b, c)).max(dist(a, c));
    let twice_area = ((b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)).abs();
    let height = if longest > 0.0 {
        twice_area / longest
    } else {
        0.0
    };
    height < (COLLINEAR_FRACTION * longest).max(min_abs)
}

/// Whether the points' spread across their main axis is below 1 % of the spread along it.
fn nearly_one_line(pts: &[(f64, f64)]) -> bool {
    let n = pts.len() as f64;
    let (cx, cy) = pts
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let mut cov = [[0.0; 2]; 2];
    for &(x, y) in pts {
        let (dx, dy) = (x - cx, y - cy);
        cov[0][0] += dx * dx;
        cov[0][1] += dx * dy;
        cov[1][0] += dx * dy;
        cov[1][1] += dy * dy;
    }
    let (values, _) = symmetric_eigen(&cov);
    values[0].max(0.0).sqrt() < ALL_COLLINEAR_FRACTION * values[1].max(0.0).sqrt()
}

/// Sutherland–Hodgman: the part of the convex `polygon` where `a·e + b·n + c ≥ 0`.
fn clip_half_plane(polygon: &[(f64, f64)], [a, b, c]: [f64; 3]) -> Vec<(f64, f64)> {
    let side = |p: (f64, f64)| a * p.0 + b * p.1 + c;
    let mut out = Vec::with_capacity(polygon.len() + 1);
    for (i, &cur) in polygon.iter().enumerate() {
        let prev = polygon[(i + polygon.len() - 1) % polygon.len()];
        let (sp, sc) = (side(prev), side(cur));
        let crossing = || {
            let t = sp / (sp - sc);
            (prev.0 + t * (cur.0 - prev.0), prev.1 + t * (cur.1 - prev.1))
        };
        if sc >= 0.0 {
            if sp < 0.0 {
                out.push(crossing());
            }
            out.push(cur);
        } else if sp >= 0.0 {
            out.push(crossing());
        }
    }
    out
}

fn reprojection(
    pixels: &[(f64, f64)],
    ground: &[(f64, f64)],
    ground_to_image: &Homography,
    image_to_ground: &Homography,
) -> ReprojectionError {
    let miss = |h: &Homography, from: (f64, f64), to: (f64, f64)| {
        h.apply(from).map_or(f64::INFINITY, |p| dist(p, to))
    };
    let px: Vec<f64> = ground
        .iter()
        .zip(pixels)
        .map(|(&g, &p)| miss(ground_to_image, g, p))
        .collect();
    let m: Vec<f64> = pixels
        .iter()
        .zip(ground)
        .map(|(&p, &g)| miss(image_to_ground, p, g))
        .collect();
    let rms = |v: &[f64]| (v.iter().map(|e| e * e).sum::<f64>() / v.len() as f64).sqrt();
    let argmax = |v: &[f64]| {
        v.iter()
            .copied()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (i, e)| {
                if e > best.1 {
                    (i, e)
                } else {
                    best
                }
            })
    };
    let (residual_worst, max_px) = argmax(&px);
    // Least squares spreads one bad click over its neighbours, so the largest residual often
    // points at an innocent point. With 6 or more points the culprit is the one without which
    // the others fit best (lowest RMS of the rest). With 4 or 5 it cannot be told: any one
    // point moved far enough explains the misfit (5 points leave 2 redundant equations, and each
    // point's own 2 span them), so the largest residual is all there is to go on.
    let worst_point = if pixels.len() >= 6 {
        let scores: Vec<f64> = (0..pixels.len())
            .map(|i| {
                let rest: Vec<_> = (0..pixels.len())
                    .filter(|&j| j != i)
                    .map(|j| (ground[j], pixels[j]))
                    .collect();
                let Ok(h) = fit_dlt(&rest) else {
                    return f64::NEG_INFINITY;
                };
                let sq: f64 = rest
                    .iter()
                    .map(|&(g, p)| h.apply(g).map_or(f64::INFINITY, |q| dist(q, p)).powi(2))
                    .sum();
                // Negated so that the best fit of the rest scores highest.
                -(sq / rest.len() as f64).sqrt()
            })
            .collect();
        match argmax(&scores) {
            (i, e) if e > f64::NEG_INFINITY => i,
            _ => residual_worst,
        }
    } else {
        residual_worst
    };
    ReprojectionError {
        rms_px: rms(&px),
        max_px,
        worst_point,
        rms_m: rms(&m),
        max_m: m.iter().copied().fold(0.0, f64::max),
    }
}

#[cfg(test)]
mod tests;
