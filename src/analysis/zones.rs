//! Zones drawn on a camera's image, their validation, and which zones each track is in.
//!
//! Owns the polygon geometry (point-in-polygon, distance to the boundary, box overlap), the
//! validation messages, masking, and membership with hysteresis so that a box standing on an
//! edge does not flap in and out. Coordinates are normalised (0..1 of the image width/height).
//!
//! Placement: ground objects (`street_vending`, `sidewalk_stacking`, `static_object`) are placed
//! by the bottom centre of their box, where they touch the ground; signage and text by the
//! fraction of their box inside the polygon. A change in the sign band (`static_sign`) may be
//! either: by its bottom centre in the ground zones (does it stand on the sidewalk?), by overlap
//! in the others.
//!
//! Pure: time comes in with the tracks; there is no I/O.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::time::TimeWindow;
use super::tracker::Track;
use crate::domain::BBox;

/// What a zone means.
///
/// JSON: `"no_vending"`, `"no_signage"`, `"facade"`, `"mask"`, or
/// `{"allowed_vending": {"windows": [{"start": "18:00", "end": "23:00"}]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// The sidewalk: street vending, stacked goods and other objects left here are violations.
    NoVending,
    /// Any signage or text here is a violation, approved or not.
    NoSignage,
    /// Vending is permitted here during `windows` (a night market, a licensed stall). An empty
    /// list means always (a whitelisted spot).
    AllowedVending {
        #[serde(default)]
        windows: Vec<TimeWindow>,
    },
    /// Observations here are dropped before tracking (a shop window, a billboard on a bus stop).
    Mask,
    /// An upright surface where approved signs hang (a shopfront wall, a fence), drawn from
    /// where it meets the ground upwards. It changes no rule: signs on it are judged against
    /// the signage baseline, as everywhere outside `no_signage` zones. It tells geo-tagging
    /// where the surface stands: a sign lying on it is placed at its foot, not where the
    /// bottom of the sign's box would meet the ground far behind the surface.
    Facade,
}

/// A named polygon on the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub id: String,
    pub kind: ZoneKind,
    /// Vertices in order, normalised image coordinates; the last connects back to the first.
    pub polygon: Vec<(f64, f64)>,
}

/// Why a zone is unusable; every message names the zone.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ZoneError {
    #[error("zone #{index} has an empty id")]
    EmptyId { index: usize },
    #[error("zone `{zone}`: id is used by more than one zone")]
    DuplicateId { zone: String },
    #[error("zone `{zone}`: polygon has {points} point(s), needs at least 3")]
    TooFewPoints { zone: String, points: usize },
    #[error(
        "zone `{zone}`: point {index} ({x}, {y}) is outside the image (coordinates are normalised, 0..1)"
    )]
    OutOfRange {
        zone: String,
        index: usize,
        x: f64,
        y: f64,
    },
    #[error("zone `{zone}`: points {index} and {next} are the same ({x}, {y})")]
    RepeatedPoint {
        zone: String,
        index: usize,
        next: usize,
        x: f64,
        y: f64,
    },
    #[error(
        "zone `{zone}`: polygon is self-intersecting: edge {edge_a} (points {a_from}→{a_to}) crosses edge {edge_b} (points {b_from}→{b_to})"
    )]
    SelfIntersecting {
        zone: String,
        edge_a: usize,
        a_from: usize,
        a_to: usize,
        edge_b: usize,
        b_from: usize,
        b_to: usize,
    },
    #[error("zone `{zone}`: polygon has zero area")]
    ZeroArea { zone: String },
}

type Pt = (f64, f64);

const EPS: f64 = 1e-12;

fn cross(o: Pt, a: Pt, b: Pt) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

fn on_segment(p: Pt, a: Pt, b: Pt) -> bool {
    cross(a, b, p).abs() <= EPS
        && p.0 >= a.0.min(b.0) - EPS
        && p.0 <= a.0.max(b.0) + EPS
        && p.1 >= a.1.min(b.1) - EPS
        && p.1 <= a.1.max(b.1) + EPS
}

/// Whether segments `ab` and `cd` share at least one point.
fn segments_touch(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
    let d1 = cross(c, d, a);
    let d2 = cross(c, d, b);
    let d3 = cross(a, b, c);
    let d4 = cross(a, b, d);
    if ((d1 > EPS && d2 < -EPS) || (d1 < -EPS && d2 > EPS))
        && ((d3 > EPS && d4 < -EPS) || (d3 < -EPS && d4 > EPS))
    {
        return true;
    }
    on_segment(a, c, d) || on_segment(b, c, d) || on_segment(c, a, b) || on_segment(d, a, b)
}

fn signed_area(poly: &[Pt]) -> f64 {
    let n = poly.len();
    (0..n)
        .map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum::<f64>()
        / 2.0
}

fn point_in_polygon(p: Pt, poly: &[Pt]) -> bool {
    let n = poly.len();
    let mut inside = false;
    let mut j = n.wrapping_sub(1);
    for i in 0..n {
        let (a, b) = (poly[i], poly[j]);
        if (a.1 > p.1) != (b.1 > p.1) {
            let x = a.0 + (p.1 - a.1) * (b.0 - a.0) / (b.1 - a.1);
            if p.0 < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

fn distance_to_segment(p: Pt, a: Pt, b: Pt) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let s = if len2 <= 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    let (qx, qy) = (a.0 + s * dx, a.1 + s * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

/// Clips `poly` to the half-plane where `keep(p)` holds, the boundary given by `cut(a, b)`.
fn clip(poly: &[Pt], keep: impl Fn(Pt) -> bool, cut: impl Fn(Pt, Pt) -> Pt) -> Vec<Pt> {
    let n = poly.len();
    let mut out = Vec::with_capacity(n + 4);
    for i in 0..n {
        let (cur, prev) = (poly[i], poly[(i + n - 1) % n]);
        match (keep(cur), keep(prev)) {
            (true, true) => out.push(cur),
            (true, false) => {
                out.push(cut(prev, cur));
                out.push(cur);
            }
            (false, true) => out.push(cut(prev, cur)),
            (false, false) => {}
        }
    }
    out
}

fn at_x(a: Pt, b: Pt, x: f64) -> Pt {
    let s = (x - a.0) / (b.0 - a.0);
    (x, a.1 + s * (b.1 - a.1))
}

fn at_y(a: Pt, b: Pt, y: f64) -> Pt {
    let s = (y - a.1) / (b.1 - a.1);
    (a.0 + s * (b.0 - a.0), y)
}

/// Where a label is placed against zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// By the bottom centre of the box.
    Ground,
    /// By the fraction of the box inside the polygon.
    Overlap,
    /// The sign band's regions ([`super::STATIC_SIGN`]): something on the wall or the top of
    /// something on the ground. `Ground` in the ground zones (`no_vending`, `allowed_vending`),
    /// `Overlap` in the others.
    Band,
}

impl Placement {
    /// The placement for a known label; `None` for labels the analysis does not use.
    pub fn for_label(label: &str) -> Option<Placement> {
        match label {
            "street_vending" | "sidewalk_stacking" | "static_object" => Some(Placement::Ground),
            "illegal_signage" | "text" => Some(Placement::Overlap),
            super::STATIC_SIGN => Some(Placement::Band),
            _ => None,
        }
    }

    /// The test against a zone of `kind`: `Ground` or `Overlap`.
    fn against(self, kind: &ZoneKind) -> Placement {
        match (self, kind) {
            (Placement::Band, ZoneKind::NoVending | ZoneKind::AllowedVending { .. }) => {
                Placement::Ground
            }
            (Placement::Band, _) => Placement::Overlap,
            (p, _) => p,
        }
    }
}

pub(super) fn bottom_centre(b: &BBox) -> Pt {
    (f64::from(b.x1 + b.x2) / 2.0, f64::from(b.y2))
}

impl Zone {
    /// Checks the polygon: at least 3 points, all within 0..1, no repeated consecutive points,
    /// no crossing edges, non-zero area.
    pub fn validate(&self) -> Result<(), ZoneError> {
        let zone = || self.id.clone();
        let p = &self.polygon;
        let n = p.len();
        if n < 3 {
            return Err(ZoneError::TooFewPoints {
                zone: zone(),
                points: n,
            });
        }
        for (index, &(x, y)) in p.iter().enumerate() {
            if !((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y)) {
                return Err(ZoneError::OutOfRange {
                    zone: zone(),
                    index,
                    x,
                    y,
                });
            }
        }
        for index in 0..n {
            let next = (index + 1) % n;
            if p[index] == p[next] {
                return Err(ZoneError::RepeatedPoint {
                    zone: zone(),
                    index,
                    next,
                    x: p[index].0,
                    y: p[index].1,
                });
            }
        }
        let collinear = (2..n).all(|k| cross(p[0], p[1], p[k]).abs() <= EPS);
        if collinear {
            return Err(ZoneError::ZeroArea { zone: zone() });
        }
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = (p[i], p[(i + 1) % n]);
                let (c, d) = (p[j], p[(j + 1) % n]);
                let adjacent = j == i + 1 || (i == 0 && j == n - 1);
                let crosses = if adjacent {
                    // Adjacent edges share a vertex; they only conflict when one folds back
                    // along the other.
                    let (shared, u, v) = if j == i + 1 { (b, a, d) } else { (a, b, c) };
                    cross(shared, u, v).abs() <= EPS
                        && (u.0 - shared.0) * (v.0 - shared.0) + (u.1 - shared.1) * (v.1 - shared.1)
                            > 0.0
                } else {
                    segments_touch(a, b, c, d)
                };
                if crosses {
                    return Err(ZoneError::SelfIntersecting {
                        zone: zone(),
                        edge_a: i,
                        a_from: i,
                        a_to: (i + 1) % n,
                        edge_b: j,
                        b_from: j,
                        b_to: (j + 1) % n,
                    });
                }
            }
        }
        if signed_area(p).abs() <= 1e-9 {
            return Err(ZoneError::ZeroArea { zone: zone() });
        }
        Ok(())
    }

    /// Whether the point lies inside the polygon (boundary points may go either way).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        point_in_polygon((x, y), &self.polygon)
    }

    /// Whether the box's foot (bottom centre, where a ground object touches the ground) lies
    /// inside the polygon.
    pub fn holds_foot(&self, b: &BBox) -> bool {
        let (x, y) = bottom_centre(b);
        self.contains(x, y)
    }

    /// Whether a ground object's box stands behind the zone as the camera sees it: its foot is
    /// higher in the image than the zone's lowest point. For a zone drawn on something upright
    /// (a lamp post, a wall) from at or above its foot, the object is farther from the camera
    /// than that surface, so what the zone holds is in front of the object.
    pub fn stands_behind(&self, b: &BBox) -> bool {
        let lowest = self.polygon.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        f64::from(b.y2) < lowest
    }

    /// The lowest point (largest y) of the polygon's outline on the vertical line at `x`, or
    /// `None` where the line misses the polygon. For a zone drawn on an upright surface from
    /// near its foot (a wall, a lamp post), this is about where the surface meets the ground
    /// below something on it at `x`.
    pub fn lowest_at(&self, x: f64) -> Option<f64> {
        let n = self.polygon.len();
        (0..n)
            .filter_map(|i| {
                let (a, b) = (self.polygon[i], self.polygon[(i + 1) % n]);
                let (l, r) = if a.0 <= b.0 { (a, b) } else { (b, a) };
                if x < l.0 || x > r.0 {
                    None
                } else if r.0 - l.0 < 1e-12 {
                    Some(l.1.max(r.1))
                } else {
                    Some(l.1 + (r.1 - l.1) * (x - l.0) / (r.0 - l.0))
                }
            })
            .reduce(f64::max)
    }

    /// Distance from the point to the polygon's boundary: positive inside, negative outside.
    pub fn signed_distance(&self, x: f64, y: f64) -> f64 {
        let n = self.polygon.len();
        let d = (0..n)
            .map(|i| distance_to_segment((x, y), self.polygon[i], self.polygon[(i + 1) % n]))
            .fold(f64::INFINITY, f64::min);
        if self.contains(x, y) {
            d
        } else {
            -d
        }
    }

    /// Fraction (0..1) of the box's area inside the polygon. A box with no area counts as its
    /// centre: 1 when the centre is inside, else 0.
    pub fn overlap(&self, b: &BBox) -> f64 {
        let (x1, y1, x2, y2) = (
            f64::from(b.x1),
            f64::from(b.y1),
            f64::from(b.x2),
            f64::from(b.y2),
        );
        let area = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        if area <= 0.0 {
            let inside = self.contains((x1 + x2) / 2.0, (y1 + y2) / 2.0);
            return if inside { 1.0 } else { 0.0 };
        }
        let mut poly = self.polygon.clone();
        poly = clip(&poly, |p| p.0 >= x1, |a, b| at_x(a, b, x1));
        poly = clip(&poly, |p| p.0 <= x2, |a, b| at_x(a, b, x2));
        poly = clip(&poly, |p| p.1 >= y1, |a, b| at_y(a, b, y1));
        poly = clip(&poly, |p| p.1 <= y2, |a, b| at_y(a, b, y2));
        if poly.len() < 3 {
            return 0.0;
        }
        (signed_area(&poly).abs() / area).clamp(0.0, 1.0)
    }
}

/// Thresholds of membership hysteresis.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneConfig {
    /// Ground placement: enter when the bottom centre is at least this far inside, leave when at
    /// least this far outside (normalised; default 0.01).
    pub margin: f64,
    /// Overlap placement: enter at this fraction of the box inside (default 0.5)…
    pub enter_overlap: f64,
    /// …and leave below this fraction (default 0.3).
    pub leave_overlap: f64,
    /// A sign box with at least this fraction inside a `no_signage` zone is on its surface
    /// (default 0.75), and nothing approved may hide it ([`ZoneMap::on_no_signage`]).
    pub surface_overlap: f64,
}

impl Default for ZoneConfig {
    fn default() -> Self {
        Self {
            margin: 0.01,
            enter_overlap: 0.5,
            leave_overlap: 0.3,
            surface_overlap: 0.75,
        }
    }
}

/// A track being inside a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneHit {
    /// Index into [`ZoneMap::zones`].
    pub zone: usize,
    /// When the track entered: its `first_seen` when it was inside from the start, else the
    /// `last_seen` of the update that moved it in.
    pub entered: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Membership {
    inside: bool,
    entered: SystemTime,
}

/// The zones of one camera and the membership state of its tracks.
#[derive(Debug, Clone)]
pub struct ZoneMap {
    zones: Vec<Zone>,
    config: ZoneConfig,
    state: BTreeMap<(u64, usize), Membership>,
}

impl ZoneMap {
    /// Validates every zone and checks that ids are unique.
    pub fn new(zones: Vec<Zone>, config: ZoneConfig) -> Result<Self, ZoneError> {
        let mut seen = BTreeSet::new();
        for (index, z) in zones.iter().enumerate() {
            if z.id.trim().is_empty() {
                return Err(ZoneError::EmptyId { index });
            }
            if !seen.insert(z.id.as_str()) {
                return Err(ZoneError::DuplicateId { zone: z.id.clone() });
            }
            z.validate()?;
        }
        Ok(Self {
            zones,
            config,
            state: BTreeMap::new(),
        })
    }

    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// Whether an observation falls in a mask (no hysteresis: masks act before tracking).
    /// Ground: the bottom centre is inside a mask. Overlap (and Band): at least `enter_overlap` of
    /// the box.
    pub fn is_masked(&self, bbox: &BBox, placement: Placement) -> bool {
        self.zones
            .iter()
            .filter(|z| z.kind == ZoneKind::Mask)
            .any(|z| match placement.against(&z.kind) {
                Placement::Ground => z.holds_foot(bbox),
                _ => z.overlap(bbox) >= self.config.enter_overlap,
            })
    }

    /// Whether `bbox` lies on the surface of a `no_signage` zone: `surface_overlap` of it or
    /// more inside (a sheet on a lamp post lies wholly in the post's zone). A sign there is a
    /// candidate whatever the baseline says, so nothing approved may hide it. A box that only
    /// straddles the zone (a bicycle parked behind or beside a lamp post since set-up, its
    /// frame seen on both sides of the post: 0.4–0.6 of it inside) is judged against the
    /// baseline's picture, though a track with that box would be in the zone.
    pub fn on_no_signage(&self, bbox: &BBox) -> bool {
        self.zones
            .iter()
            .filter(|z| z.kind == ZoneKind::NoSignage)
            .any(|z| z.overlap(bbox) >= self.config.surface_overlap)
    }

    /// The upright surface `bbox` lies on, for placing it: the `no_signage` or `facade` zone
    /// holding the largest share of it, at least `surface_overlap`.
    pub fn surface_of(&self, bbox: &BBox) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|z| matches!(z.kind, ZoneKind::NoSignage | ZoneKind::Facade))
            .map(|z| (z.overlap(bbox), z))
            .filter(|(share, _)| *share >= self.config.surface_overlap)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, z)| z)
    }

    /// The overlap from which a track without history is in an `Overlap` zone: halfway between
    /// the two thresholds.
    fn first_overlap(&self) -> f64 {
        (self.config.enter_overlap + self.config.leave_overlap) / 2.0
    }

    /// Updates the membership of `track` (by its smoothed box) and returns the non-mask zones it
    /// is in, in configuration order.
    ///
    /// Clearly inside (by `margin`, or `enter_overlap`) → in; clearly outside (by `margin`, or
    /// below `leave_overlap`) → out; in between → unchanged. A track's first evaluation has no
    /// previous state, so the plain geometric test decides it (bottom centre inside the polygon;
    /// overlap at least halfway between the two thresholds).
    pub fn update(&mut self, track: &Track, placement: Placement) -> Vec<ZoneHit> {
        let bbox = track.bbox();
        let mut hits = Vec::new();
        for (i, zone) in self.zones.iter().enumerate() {
            if zone.kind == ZoneKind::Mask {
                continue;
            }
            // Some(true) = clearly in, Some(false) = clearly out, None = in the band; plus the
            // verdict for a track without history.
            let (clear, first) = match placement.against(&zone.kind) {
                Placement::Ground => {
                    let (x, y) = bottom_centre(&bbox);
                    let d = zone.signed_distance(x, y);
                    let clear = if d >= self.config.margin {
                        Some(true)
                    } else if d <= -self.config.margin {
                        Some(false)
                    } else {
                        None
                    };
                    (clear, d > 0.0)
                }
                _ => {
                    let f = zone.overlap(&bbox);
                    let clear = if f >= self.config.enter_overlap {
                        Some(true)
                    } else if f < self.config.leave_overlap {
                        Some(false)
                    } else {
                        None
                    };
                    (clear, f >= self.first_overlap())
                }
            };
            let key = (track.id(), i);
            let next = match (self.state.get(&key), clear) {
                (None, _) => Membership {
                    inside: clear.unwrap_or(first),
                    entered: track.first_seen(),
                },
                (Some(m), Some(true)) if !m.inside => Membership {
                    inside: true,
                    entered: track.last_seen(),
                },
                (Some(m), Some(false)) => Membership {
                    inside: false,
                    entered: m.entered,
                },
                (Some(m), _) => *m,
            };
            self.state.insert(key, next);
            if next.inside {
                hits.push(ZoneHit {
                    zone: i,
                    entered: next.entered,
                });
            }
        }
        hits
    }

    /// Drops the state of an ended track.
    pub fn forget(&mut self, track_id: u64) {
        self.state.retain(|&(id, _), _| id != track_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tracker::Tracker;
    use crate::analysis::{DetectorIntervals, DetectorKind, Observation};
    use std::time::Duration;

    fn zone(id: &str, polygon: &[(f64, f64)]) -> Zone {
        zone_of(id, ZoneKind::NoVending, polygon)
    }

    fn zone_of(id: &str, kind: ZoneKind, polygon: &[(f64, f64)]) -> Zone {
        Zone {
            id: id.into(),
            kind,
            polygon: polygon.to_vec(),
        }
    }

    fn msg(z: &Zone) -> String {
        z.validate().unwrap_err().to_string()
    }

    #[test]
    fn lowest_at_follows_a_slanted_bottom_edge_and_misses_outside() {
        // A wall seen at an angle: its foot runs from (0.1, 0.5) down to (0.9, 0.7).
        let wall = zone_of(
            "wall",
            ZoneKind::NoSignage,
            &[(0.1, 0.2), (0.9, 0.1), (0.9, 0.7), (0.1, 0.5)],
        );
        let at = |x| wall.lowest_at(x).map(|y| (y * 1000.0).round() / 1000.0);
        assert_eq!(at(0.1), Some(0.5));
        assert_eq!(at(0.5), Some(0.6));
        assert_eq!(at(0.9), Some(0.7));
        assert_eq!(at(0.05), None);
        assert_eq!(at(0.95), None);
    }

    const SQUARE: [(f64, f64); 4] = [(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)];

    #[test]
    fn valid_polygon_passes() {
        zone("sidewalk", &SQUARE).validate().unwrap();
        // Concave is fine.
        zone(
            "l-shape",
            &[
                (0.1, 0.1),
                (0.5, 0.1),
                (0.5, 0.3),
                (0.3, 0.3),
                (0.3, 0.5),
                (0.1, 0.5),
            ],
        )
        .validate()
        .unwrap();
    }

    #[test]
    fn too_few_points_names_zone() {
        assert_eq!(
            msg(&zone("kerb", &[(0.1, 0.1), (0.2, 0.2)])),
            "zone `kerb`: polygon has 2 point(s), needs at least 3"
        );
    }

    #[test]
    fn out_of_range_names_zone_and_point() {
        let m = msg(&zone("gate", &[(0.1, 0.1), (1.2, 0.1), (0.5, 0.5)]));
        assert_eq!(
            m,
            "zone `gate`: point 1 (1.2, 0.1) is outside the image (coordinates are normalised, 0..1)"
        );
        let m = msg(&zone("gate", &[(0.1, 0.1), (f64::NAN, 0.1), (0.5, 0.5)]));
        assert!(m.contains("point 1"), "{m}");
    }

    #[test]
    fn self_intersection_names_edges() {
        // A bow tie: edge 0 (0→1) crosses edge 2 (2→3).
        let m = msg(&zone(
            "bowtie",
            &[(0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)],
        ));
        assert_eq!(
            m,
            "zone `bowtie`: polygon is self-intersecting: edge 0 (points 0→1) crosses edge 2 (points 2→3)"
        );
        // An edge folding back along its neighbour.
        let m = msg(&zone(
            "spike",
            &[(0.1, 0.1), (0.5, 0.1), (0.3, 0.1), (0.3, 0.4)],
        ));
        assert!(
            m.starts_with("zone `spike`: polygon is self-intersecting: edge 0"),
            "{m}"
        );
    }

    #[test]
    fn zero_area_names_zone() {
        assert_eq!(
            msg(&zone("line", &[(0.1, 0.1), (0.3, 0.3), (0.5, 0.5)])),
            "zone `line`: polygon has zero area"
        );
    }

    #[test]
    fn repeated_point_names_zone() {
        assert_eq!(
            msg(&zone(
                "dup",
                &[(0.1, 0.1), (0.1, 0.1), (0.5, 0.5), (0.1, 0.5)]
            )),
            "zone `dup`: points 0 and 1 are the same (0.1, 0.1)"
        );
    }

    #[test]
    fn duplicate_and_empty_ids() {
        let z = zone("a", &SQUARE);
        let e = ZoneMap::new(vec![z.clone(), z], ZoneConfig::default()).unwrap_err();
        assert_eq!(e.to_string(), "zone `a`: id is used by more than one zone");
        let e = ZoneMap::new(vec![zone(" ", &SQUARE)], ZoneConfig::default()).unwrap_err();
        assert_eq!(e.to_string(), "zone #0 has an empty id");
    }

    #[test]
    fn signed_distance_and_overlap() {
        let z = zone("s", &SQUARE);
        assert!((z.signed_distance(0.5, 0.7) - 0.1).abs() < 1e-9);
        assert!((z.signed_distance(0.5, 0.5) + 0.1).abs() < 1e-9);
        let half = BBox::new(0.2, 0.5, 0.4, 0.7);
        assert!((z.overlap(&half) - 0.5).abs() < 1e-6);
        assert_eq!(z.overlap(&BBox::new(0.2, 0.1, 0.3, 0.2)), 0.0);
        // Concave polygon: the notch is excluded.
        let l = zone(
            "l",
            &[
                (0.0, 0.0),
                (0.4, 0.0),
                (0.4, 0.2),
                (0.2, 0.2),
                (0.2, 0.4),
                (0.0, 0.4),
            ],
        );
        assert!((l.overlap(&BBox::new(0.0, 0.0, 0.4, 0.4)) - 0.75).abs() < 1e-6);
    }

    #[test]
    fn zone_json() {
        let z: Zone = serde_json::from_str(
            r#"{"id": "night", "kind": {"allowed_vending": {"windows": [{"start": "18:00", "end": "23:00"}]}},
                "polygon": [[0, 0.6], [0.5, 0.6], [0.5, 1]]}"#,
        )
        .unwrap();
        assert!(matches!(z.kind, ZoneKind::AllowedVending { ref windows } if windows.len() == 1));
        let z: Zone = serde_json::from_str(
            r#"{"id": "s", "kind": "no_vending", "polygon": [[0, 0.6], [1, 0.6], [1, 1]]}"#,
        )
        .unwrap();
        assert_eq!(z.kind, ZoneKind::NoVending);
        let z: Zone = serde_json::from_str(
            r#"{"id": "shops", "kind": "facade", "polygon": [[0, 0.2], [1, 0.2], [1, 0.5]]}"#,
        )
        .unwrap();
        assert_eq!(z.kind, ZoneKind::Facade);
    }

    fn vendor_at(y2: f32) -> Observation {
        Observation {
            bbox: BBox::new(0.2, y2 - 0.3, 0.3, y2),
            score: 0.9,
            label: "street_vending".into(),
            source: DetectorKind::Objects,
            since: None,
        }
    }

    #[test]
    fn hysteresis_keeps_state_in_the_band() {
        let mut zones = ZoneMap::new(vec![zone("s", &SQUARE)], ZoneConfig::default()).unwrap();
        let mut tr = Tracker::new(&DetectorIntervals::default());
        let t0 = SystemTime::UNIX_EPOCH;
        let step = |s: u64, y2: f32, tr: &mut Tracker, zones: &mut ZoneMap| {
            tr.update(
                t0 + Duration::from_secs(s),
                DetectorKind::Objects,
                &[vendor_at(y2)],
            );
            zones.update(&tr.tracks()[0], Placement::Ground)
        };
        // Starts just inside: in, and stays in while jittering around the edge.
        assert_eq!(step(0, 0.605, &mut tr, &mut zones).len(), 1);
        for s in 1..50 {
            let y2 = if s % 2 == 0 { 0.605 } else { 0.595 };
            let hits = step(s, y2, &mut tr, &mut zones);
            assert_eq!(hits.len(), 1);
            assert_eq!(hits[0].entered, t0);
        }
        // Clearly out (EMA needs a few steps to get there), then clearly in again.
        for s in 50..60 {
            step(s, 0.55, &mut tr, &mut zones);
        }
        assert!(step(60, 0.55, &mut tr, &mut zones).is_empty());
        for s in 61..70 {
            step(s, 0.7, &mut tr, &mut zones);
        }
        let hits = step(70, 0.7, &mut tr, &mut zones);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].entered > t0 + Duration::from_secs(60));
    }

    #[test]
    fn masks_drop_by_placement() {
        let mask = zone_of(
            "shopfront",
            ZoneKind::Mask,
            &[(0.0, 0.0), (0.5, 0.0), (0.5, 0.4), (0.0, 0.4)],
        );
        let zones = ZoneMap::new(vec![mask], ZoneConfig::default()).unwrap();
        assert!(zones.is_masked(&BBox::new(0.1, 0.1, 0.3, 0.3), Placement::Overlap));
        assert!(!zones.is_masked(&BBox::new(0.4, 0.1, 0.8, 0.3), Placement::Overlap));
        assert!(zones.is_masked(&BBox::new(0.1, 0.1, 0.3, 0.3), Placement::Ground));
        assert!(!zones.is_masked(&BBox::new(0.1, 0.1, 0.3, 0.5), Placement::Ground));
    }

    #[test]
    fn a_sign_band_region_is_placed_by_its_foot_on_the_sidewalk_and_by_overlap_elsewhere() {
        let sidewalk = zone(
            "sidewalk",
            &[(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)],
        );
        let pole = zone_of(
            "pole",
            ZoneKind::NoSignage,
            &[(0.69, 0.25), (0.73, 0.25), (0.73, 0.58), (0.69, 0.58)],
        );
        let mut zones = ZoneMap::new(vec![sidewalk, pole], ZoneConfig::default()).unwrap();
        let mut tr = Tracker::new(&DetectorIntervals::default());
        let region = |x1: f32, y1: f32, x2: f32, y2: f32| Observation {
            bbox: BBox::new(x1, y1, x2, y2),
            score: 0.9,
            label: super::super::STATIC_SIGN.into(),
            source: DetectorKind::Static,
            since: None,
        };
        // A far thing at the wall: a box mostly above the sidewalk, its foot on it.
        // A sheet on the post: inside the post's zone, its foot on the sidewalk too.
        tr.update(
            SystemTime::UNIX_EPOCH,
            DetectorKind::Static,
            &[
                region(0.40, 0.44, 0.44, 0.52),
                region(0.70, 0.50, 0.72, 0.54),
            ],
        );
        let hits: Vec<Vec<usize>> = tr
            .tracks()
            .iter()
            .map(|t| {
                let placement = Placement::for_label(t.label()).unwrap();
                let hits = zones.update(t, placement);
                hits.iter().map(|h| h.zone).collect()
            })
            .collect();
        assert_eq!(hits, vec![vec![0], vec![0, 1]]);
        // By overlap alone the far thing is not on the sidewalk.
        assert!(zones.zones()[0].overlap(&BBox::new(0.40, 0.44, 0.44, 0.52)) < 0.3);
    }

    #[test]
    fn what_stands_behind_a_zone_has_its_foot_above_the_zone_in_the_image() {
        let pole = zone_of(
            "pole",
            ZoneKind::NoSignage,
            &[(0.69, 0.25), (0.73, 0.25), (0.73, 0.75), (0.69, 0.75)],
        );
        assert!(pole.stands_behind(&BBox::new(0.62, 0.45, 0.80, 0.66)));
        assert!(!pole.stands_behind(&BBox::new(0.62, 0.55, 0.80, 0.80)));
    }
}
