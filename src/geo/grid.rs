//! The unit-grid layer (单元网格): reading a GeoJSON layer of grid cells with full validation,
//! finding the cell that holds a WGS84 position, and generating a regular grid for places that
//! have no official layer yet.
//!
//! Pure: parses text handed in and returns text; no I/O, no clock.
//!
//! # The layer
//!
//! A GeoJSON `FeatureCollection` (RFC 7946) whose features are `Polygon` or `MultiPolygon` with
//! these properties:
//!
//! | property    | type                       | meaning                                           |
//! |-------------|----------------------------|---------------------------------------------------|
//! | `code`      | string, 14 or 15 digits    | cell code; the first 6 digits are the county division |
//! | `name`      | string, optional           | cell name                                         |
//! | `community` | string, optional           | community (社区)                                  |
//! | `street`    | string, optional           | street / sub-district (街道)                      |
//! | `unit`      | string, optional           | responsible unit                                  |
//!
//! Optional strings that are missing, `null`, empty or blank read as `None`. Other properties are
//! ignored. Positions are `[lon, lat]` (a third number, the height, is ignored). The first ring of
//! a polygon is its boundary, the rest are holes. Validation collects every problem with its path
//! (`features[3].properties.code: "1101" is not 14 or 15 digits`) rather than stopping at the
//! first. It checks ring length, closure, self-crossing (including touching and back-tracking
//! edges), WGS84 ranges and duplicate codes; it does not check that holes lie inside their
//! boundary, winding order (RFC 7946 asks readers not to), or that cells do not overlap.
//! Polygons crossing the antimeridian are not supported.
//!
//! # Lookup
//!
//! An R-tree over the polygons' bounding boxes finds candidates; an even-odd point-in-polygon test
//! (holes respected) decides. A point on an edge shared by two cells goes to one of them
//! (half-open rule); where cells overlap, the one listed first in the layer wins.
//!
//! # Generated grids
//!
//! [`generate`] lays `cell_m` × `cell_m` squares in the local tangent plane at the bounding box's
//! south-west corner, from that corner east and north: enough columns to cover the box's south
//! edge and enough rows to cover its west edge. (In the plane the box is not quite a rectangle:
//! the far corner moves by `d² tan φ / 2R`, 1.2 m for 5 km at 31°; that sliver stays uncovered
//! rather than getting a whole extra row or column.) Cells are numbered from the south-west corner, west to east then south to north, and
//! coded `DDDDDD SSS CCC GG` (14 digits, no spaces):
//!
//! - `DDDDDD`: the division given;
//! - `SSS`: the street: streets are blocks of at most 4 × 4 communities ([`STREET_COMMUNITIES`]),
//!   numbered 001.. row-major from the south-west over the whole box;
//! - `CCC`: the community within its street, 001..016 row-major from the street's south-west;
//! - `GG`: the cell within its community: communities are blocks of at most 9 × 9 cells
//!   ([`COMMUNITY_CELLS`]), cells numbered 01..81 row-major from the community's south-west.
//!
//! Blocks on the north and east edges may be partial, which leaves gaps in the numbering there.
//! Properties: `name` `"网格 DDDDDDSSSCCC-GG"`, `community` `"社区 CCC"`, `street` `"街道 SSS"`,
//! `unit` `""`. Features are listed in code order, rings counter-clockwise.

use super::tangent::LocalTangentPlane;
use super::{GeoError, GeoPoint};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;

/// A generated community is at most this many cells on a side.
pub const COMMUNITY_CELLS: usize = 9;
/// A generated street is at most this many communities on a side.
pub const STREET_COMMUNITIES: usize = 4;
/// [`generate`] refuses to make more cells than this.
pub const MAX_GENERATED_CELLS: usize = 100_000;
/// [`generate`] refuses bounding boxes wider or taller than this (metres): the tangent plane
/// stops being a good map of the ground beyond.
const MAX_GENERATED_EXTENT_M: f64 = 50_000.0;
/// [`generate`] refuses cells smaller than this (metres).
const MIN_CELL_M: f64 = 1.0;

/// One polygon of a cell: its boundary and its holes, each a closed ring (first = last) of WGS84
/// positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Polygon {
    pub exterior: Vec<GeoPoint>,
    pub holes: Vec<Vec<GeoPoint>>,
}

impl Polygon {
    /// Whether `(lat, lon)` lies inside the boundary and outside every hole.
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        ring_contains(&self.exterior, lat, lon)
            && !self.holes.iter().any(|h| ring_contains(h, lat, lon))
    }

    /// `([min_lon, min_lat], [max_lon, max_lat])` of the boundary.
    fn bounds(&self) -> ([f64; 2], [f64; 2]) {
        self.exterior.iter().fold(
            ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]),
            |(lo, hi), p| {
                (
                    [lo[0].min(p.lon), lo[1].min(p.lat)],
                    [hi[0].max(p.lon), hi[1].max(p.lat)],
                )
            },
        )
    }
}

/// Even-odd crossing test with lon as x and lat as y.
fn ring_contains(ring: &[GeoPoint], lat: f64, lon: f64) -> bool {
    let mut inside = false;
    for (i, a) in ring.iter().enumerate() {
        let b = ring[(i + 1) % ring.len()];
        if (a.lat > lat) != (b.lat > lat) {
            let x = a.lon + (lat - a.lat) * (b.lon - a.lon) / (b.lat - a.lat);
            if lon < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// One unit grid cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridCell {
    /// 14 or 15 digits; the first 6 are the county division.
    pub code: String,
    pub name: Option<String>,
    pub community: Option<String>,
    pub street: Option<String>,
    /// The responsible unit.
    pub unit: Option<String>,
    /// One for a `Polygon` feature, one or more for a `MultiPolygon`.
    pub polygons: Vec<Polygon>,
}

impl GridCell {
    /// The county division: the code's first 6 digits.
    pub fn division(&self) -> &str {
        self.code.get(..6).unwrap_or(&self.code)
    }

    /// Whether `(lat, lon)` lies in one of the cell's polygons.
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        self.polygons.iter().any(|p| p.contains(lat, lon))
    }
}

/// One problem found in a grid layer: where (`features[3].properties.code`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for GridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a grid layer, in document order; displays one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridErrors(pub Vec<GridError>);

impl fmt::Display for GridErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for GridErrors {}

/// Collects errors while parsing.
#[derive(Default)]
struct Errors(Vec<GridError>);

impl Errors {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(GridError {
            path: path.into(),
            message: message.into(),
        });
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

type IndexEntry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// A validated unit-grid layer with a spatial index.
#[derive(Clone)]
pub struct GridLayer {
    cells: Vec<GridCell>,
    index: RTree<IndexEntry>,
    by_code: HashMap<String, usize>,
}

impl fmt::Debug for GridLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GridLayer")
            .field("cells", &self.cells.len())
            .finish_non_exhaustive()
    }
}

impl GridLayer {
    /// Reads and validates a GeoJSON layer (see the module doc for the format). Every problem
    /// found is reported, each with its path.
    pub fn from_geojson(text: &str) -> Result<GridLayer, GridErrors> {
        let root: Value = serde_json::from_str(text).map_err(|e| {
            GridErrors(vec![GridError {
                path: "(root)".into(),
                message: format!("not valid JSON: {e}"),
            }])
        })?;
        let mut errors = Errors::default();
        let features = match &root {
            Value::Object(obj) => {
                match obj.get("type") {
                    Some(Value::String(t)) if t == "FeatureCollection" => {}
                    Some(Value::String(t)) => {
                        errors.push("type", format!("not a FeatureCollection (type is {t:?})"))
                    }
                    Some(other) => errors.push(
                        "type",
                        format!("not a FeatureCollection (type is {})", kind(other)),
                    ),
                    None => errors.push("type", "missing: not a FeatureCollection"),
                }
                match obj.get("features") {
                    Some(Value::Array(features)) => features.as_slice(),
                    Some(other) => {
                        errors.push(
                            "features",
                            format!("expected an array, found {}", kind(other)),
                        );
                        &[]
                    }
                    None => {
                        errors.push("features", "missing");
                        &[]
                    }
                }
            }
            other => {
                errors.push(
                    "(root)",
                    format!(
                        "not a FeatureCollection: expected an object, found {}",
                        kind(other)
                    ),
                );
                &[]
            }
        };

        let mut cells = Vec::with_capacity(features.len());
        let mut by_code: HashMap<String, usize> = HashMap::new();
        let mut first_at: HashMap<String, usize> = HashMap::new();
        for (i, feature) in features.iter().enumerate() {
            let path = format!("features[{i}]");
            let Some(cell) = parse_feature(feature, &path, &mut errors) else {
                continue;
            };
            if let Some(first) = first_at.get(&cell.code) {
                errors.push(
                    format!("{path}.properties.code"),
                    format!(
                        "duplicate code {:?} (first at features[{first}])",
                        cell.code
                    ),
                );
                continue;
            }
            first_at.insert(cell.code.clone(), i);
            by_code.insert(cell.code.clone(), cells.len());
            cells.push(cell);
        }
        if !errors.0.is_empty() {
            return Err(GridErrors(errors.0));
        }
        Ok(Self::build(cells, by_code))
    }

    fn build(cells: Vec<GridCell>, by_code: HashMap<String, usize>) -> GridLayer {
        let entries = cells
            .iter()
            .enumerate()
            .flat_map(|(i, cell)| {
                cell.polygons.iter().map(move |p| {
                    let (lo, hi) = p.bounds();
                    GeomWithData::new(Rectangle::from_corners(lo, hi), i)
                })
            })
            .collect();
        GridLayer {
            cells,
            index: RTree::bulk_load(entries),
            by_code,
        }
    }

    /// The cell that holds `(lat, lon)`, if any (see the module doc for edges and overlaps).
    pub fn lookup(&self, lat: f64, lon: f64) -> Option<&GridCell> {
        if !lat.is_finite() || !lon.is_finite() {
            return None;
        }
        self.index
            .locate_in_envelope_intersecting(AABB::from_point([lon, lat]))
            .map(|entry| entry.data)
            .filter(|&i| self.cells[i].contains(lat, lon))
            .min()
            .map(|i| &self.cells[i])
    }

    /// [`lookup`](Self::lookup) for a [`GeoPoint`].
    pub fn lookup_point(&self, p: GeoPoint) -> Option<&GridCell> {
        self.lookup(p.lat, p.lon)
    }

    /// The cell with this code.
    pub fn cell(&self, code: &str) -> Option<&GridCell> {
        self.by_code.get(code).map(|&i| &self.cells[i])
    }

    /// All cells, in layer order.
    pub fn cells(&self) -> &[GridCell] {
        &self.cells
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

fn parse_feature(feature: &Value, path: &str, errors: &mut Errors) -> Option<GridCell> {
    let Value::Object(obj) = feature else {
        errors.push(
            path,
            format!("expected a Feature object, found {}", kind(feature)),
        );
        return None;
    };
    match obj.get("type") {
        Some(Value::String(t)) if t == "Feature" => {}
        Some(other) => errors.push(
            format!("{path}.type"),
            format!("expected \"Feature\", found {}", describe(other)),
        ),
        None => errors.push(format!("{path}.type"), "missing (expected \"Feature\")"),
    }
    let properties = parse_properties(obj.get("properties"), path, errors);
    let polygons = parse_geometry(obj.get("geometry"), &format!("{path}.geometry"), errors);
    let (code, name, community, street, unit) = properties?;
    Some(GridCell {
        code,
        name,
        community,
        street,
        unit,
        polygons: polygons?,
    })
}

/// `"Point"` for strings, the kind of anything else.
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => kind(other).to_string(),
    }
}

type Properties = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn parse_properties(props: Option<&Value>, path: &str, errors: &mut Errors) -> Option<Properties> {
    let path = format!("{path}.properties");
    let obj: &Map<String, Value> = match props {
        Some(Value::Object(obj)) => obj,
        None | Some(Value::Null) => {
            errors.push(path, "missing (a cell needs at least a code)");
            return None;
        }
        Some(other) => {
            errors.push(path, format!("expected an object, found {}", kind(other)));
            return None;
        }
    };
    let code = match obj.get("code") {
        Some(Value::String(code)) => {
            let digits = code.len() == 14 || code.len() == 15;
            if digits && code.bytes().all(|b| b.is_ascii_digit()) {
                Some(code.clone())
            } else {
                errors.push(
                    format!("{path}.code"),
                    format!("{code:?} is not 14 or 15 digits"),
                );
                None
            }
        }
        None | Some(Value::Null) => {
            errors.push(format!("{path}.code"), "missing");
            None
        }
        Some(other) => {
            errors.push(
                format!("{path}.code"),
                format!(
                    "expected a string of 14 or 15 digits, found {}",
                    kind(other)
                ),
            );
            None
        }
    };
    let mut text = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => {
            errors.push(
                format!("{path}.{key}"),
                format!("expected a string, found {}", kind(other)),
            );
            Err(())
        }
    };
    let name = text("name");
    let community = text("community");
    let street = text("street");
    let unit = text("unit");
    Some((code?, name.ok()?, community.ok()?, street.ok()?, unit.ok()?))
}

fn parse_geometry(
    geometry: Option<&Value>,
    path: &str,
    errors: &mut Errors,
) -> Option<Vec<Polygon>> {
    let obj = match geometry {
        Some(Value::Object(obj)) => obj,
        None | Some(Value::Null) => {
            errors.push(path, "missing (a cell needs a Polygon or MultiPolygon)");
            return None;
        }
        Some(other) => {
            errors.push(path, format!("expected an object, found {}", kind(other)));
            return None;
        }
    };
    let coords = obj.get("coordinates");
    let coords_path = format!("{path}.coordinates");
    match obj.get("type") {
        Some(Value::String(t)) if t == "Polygon" => {
            let polygon = parse_polygon(coords, "", path, &coords_path, errors)?;
            Some(vec![polygon])
        }
        Some(Value::String(t)) if t == "MultiPolygon" => {
            let Some(Value::Array(list)) = coords else {
                errors.push(
                    coords_path,
                    format!(
                        "expected an array of polygons, found {}",
                        coords.map_or("nothing", kind)
                    ),
                );
                return None;
            };
            if list.is_empty() {
                errors.push(path, "MultiPolygon has no polygons");
                return None;
            }
            let mut out = Vec::with_capacity(list.len());
            let mut ok = true;
            for (k, poly) in list.iter().enumerate() {
                let label = format!("polygon {k} ");
                match parse_polygon(
                    Some(poly),
                    &label,
                    path,
                    &format!("{coords_path}[{k}]"),
                    errors,
                ) {
                    Some(p) => out.push(p),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        Some(other) => {
            errors.push(
                format!("{path}.type"),
                format!("{} is not Polygon or MultiPolygon", describe(other)),
            );
            None
        }
        None => {
            errors.push(
                format!("{path}.type"),
                "missing (expected Polygon or MultiPolygon)",
            );
            None
        }
    }
}

/// Parses one polygon's rings. `label` prefixes ring messages ("polygon 1 " in a MultiPolygon);
/// ring problems are reported at `path` (the geometry), structural ones at `coords_path`.
fn parse_polygon(
    coords: Option<&Value>,
    label: &str,
    path: &str,
    coords_path: &str,
    errors: &mut Errors,
) -> Option<Polygon> {
    let Some(Value::Array(rings)) = coords else {
        errors.push(
            coords_path,
            format!(
                "expected an array of rings, found {}",
                coords.map_or("nothing", kind)
            ),
        );
        return None;
    };
    if rings.is_empty() {
        errors.push(
            path,
            format!("{label}has no rings").trim_start().to_string(),
        );
        return None;
    }
    let mut parsed = Vec::with_capacity(rings.len());
    let mut ok = true;
    for (r, ring) in rings.iter().enumerate() {
        match parse_ring(ring, &format!("{label}ring {r}"), path, errors) {
            Some(ring) => parsed.push(ring),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let mut iter = parsed.into_iter();
    let exterior = iter.next().expect("rings is not empty");
    Some(Polygon {
        exterior,
        holes: iter.collect(),
    })
}

/// Parses and checks one ring; `name` is "ring 0" or "polygon 1 ring 0".
fn parse_ring(ring: &Value, name: &str, path: &str, errors: &mut Errors) -> Option<Vec<GeoPoint>> {
    let Value::Array(positions) = ring else {
        errors.push(
            path,
            format!("{name} is not an array of positions (found {})", kind(ring)),
        );
        return None;
    };
    let mut points = Vec::with_capacity(positions.len());
    for (k, pos) in positions.iter().enumerate() {
        let pair = match pos {
            Value::Array(c) if c.len() >= 2 => c[0].as_f64().zip(c[1].as_f64()),
            _ => None,
        };
        let Some((lon, lat)) = pair else {
            errors.push(
                path,
                format!("{name} position {k} is not a [lon, lat] pair of numbers"),
            );
            return None;
        };
        points.push(GeoPoint::new(lat, lon));
    }
    if points.len() < 4 {
        errors.push(
            path,
            format!("{name} has {} positions, needs ≥ 4 (closed)", points.len()),
        );
        return None;
    }
    let mut valid = true;
    let bad: Vec<usize> = (0..points.len())
        .filter(|&k| !points[k].is_valid())
        .collect();
    if let Some(&k) = bad.first() {
        let more = match bad.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        errors.push(
            path,
            format!(
                "{name} position {k} [{}, {}] is outside the WGS84 range (lon −180..180, lat −90..90){more}",
                points[k].lon, points[k].lat
            ),
        );
        valid = false;
    }
    if points.first() != points.last() {
        errors.push(
            path,
            format!("{name} is not closed (first and last positions differ)"),
        );
        valid = false;
    }
    if !valid {
        return None;
    }
    if let Some(problem) = ring_problem(&points) {
        errors.push(path, format!("{name} {problem}"));
        return None;
    }
    Some(points)
}

/// Checks a closed ring for too few distinct positions and for edges that cross, touch or run
/// back over each other. Edge `k` runs from position `k` to the next distinct position.
fn ring_problem(points: &[GeoPoint]) -> Option<String> {
    // Distinct consecutive vertices (repeated positions are tolerated), with their original index.
    let mut verts: Vec<(usize, (f64, f64))> = Vec::with_capacity(points.len());
    for (k, p) in points[..points.len() - 1].iter().enumerate() {
        let xy = (p.lon, p.lat);
        if verts.last().map(|v| v.1) != Some(xy) {
            verts.push((k, xy));
        }
    }
    while verts.len() > 1 && verts.last().map(|v| v.1) == verts.first().map(|v| v.1) {
        verts.pop();
    }
    let m = verts.len();
    if m < 3 {
        return Some(format!("has {m} distinct positions, needs ≥ 3"));
    }
    let edge = |i: usize| (verts[i].1, verts[(i + 1) % m].1);
    for i in 0..m {
        for j in (i + 1)..m {
            let (a0, a1) = edge(i);
            let (b0, b1) = edge(j);
            let hit = if j == i + 1 {
                // a1 == b0: bad only if the edges run back over each other.
                backtracks(a0, a1, b1)
            } else if i == 0 && j == m - 1 {
                // b1 == a0.
                backtracks(b0, b1, a1)
            } else {
                segments_touch(a0, a1, b0, b1)
            };
            if hit {
                return Some(format!(
                    "crosses itself at edges {} and {}",
                    verts[i].0, verts[j].0
                ));
            }
        }
    }
    None
}

fn orient(a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> f64 {
    (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)
}

/// Edges `a → s` and `s → b` overlap along a stretch (the ring doubles back on itself).
fn backtracks(a: (f64, f64), s: (f64, f64), b: (f64, f64)) -> bool {
    orient(a, s, b) == 0.0 && (a.0 - s.0) * (b.0 - s.0) + (a.1 - s.1) * (b.1 - s.1) > 0.0
}

/// Whether closed segments `p1 p2` and `q1 q2` share a point.
fn segments_touch(p1: (f64, f64), p2: (f64, f64), q1: (f64, f64), q2: (f64, f64)) -> bool {
    if p1.0.max(p2.0) < q1.0.min(q2.0)
        || q1.0.max(q2.0) < p1.0.min(p2.0)
        || p1.1.max(p2.1) < q1.1.min(q2.1)
        || q1.1.max(q2.1) < p1.1.min(p2.1)
    {
        return false;
    }
    let d1 = orient(q1, q2, p1);
    let d2 = orient(q1, q2, p2);
    let d3 = orient(p1, p2, q1);
    let d4 = orient(p1, p2, q2);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    // Collinear or end-on cases: an endpoint lying on the other segment (bounding boxes overlap,
    // checked above, so a zero orientation plus the box test suffices).
    let on = |a: (f64, f64), b: (f64, f64), p: (f64, f64)| {
        p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
    };
    (d1 == 0.0 && on(q1, q2, p1))
        || (d2 == 0.0 && on(q1, q2, p2))
        || (d3 == 0.0 && on(p1, p2, q1))
        || (d4 == 0.0 && on(p1, p2, q2))
}

/// What [`generate`] should cover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSpec {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
    /// Side of a square cell, metres (at least 1).
    pub cell_m: f64,
    /// The 6-digit county division code that starts every cell code.
    pub division: String,
}

/// Generates a regular grid covering `spec`'s bounding box as a GeoJSON `FeatureCollection`
/// (compact JSON) that [`GridLayer::from_geojson`] reads; see the module doc for the layout,
/// code scheme and names.
///
/// Refuses non-finite numbers, an inverted or empty box, a box outside ±85° latitude or
/// ±180° longitude or more than 50 km on a side, cells under 1 m, more than
/// [`MAX_GENERATED_CELLS`] cells, more than 999 streets, and a division that is not 6 digits.
pub fn generate(spec: &GridSpec) -> Result<String, GeoError> {
    let bad = |m: String| Err(GeoError::InvalidGridSpec(m));
    let GridSpec {
        min_lat,
        min_lon,
        max_lat,
        max_lon,
        cell_m,
        ref division,
    } = *spec;
    if division.len() != 6 || !division.bytes().all(|b| b.is_ascii_digit()) {
        return bad(format!("division {division:?} is not 6 digits"));
    }
    if ![min_lat, min_lon, max_lat, max_lon, cell_m]
        .iter()
        .all(|v| v.is_finite())
    {
        return bad("a bound or the cell size is not a finite number".into());
    }
    if cell_m < MIN_CELL_M {
        return bad(format!("cell_m {cell_m} is below {MIN_CELL_M} m"));
    }
    if min_lat > max_lat || min_lon > max_lon {
        return bad(format!(
            "inverted bounding box: min ({min_lat}, {min_lon}) is not south-west of max ({max_lat}, {max_lon})"
        ));
    }
    if min_lat == max_lat || min_lon == max_lon {
        return bad("empty bounding box".into());
    }
    if min_lat < -85.0 || max_lat > 85.0 || min_lon < -180.0 || max_lon > 180.0 {
        return bad("bounding box outside lat −85..85, lon −180..180".into());
    }
    let plane = LocalTangentPlane::new(min_lat, min_lon);
    let corners = [
        plane.to_enu(min_lat, max_lon),
        plane.to_enu(max_lat, min_lon),
        plane.to_enu(max_lat, max_lon),
    ];
    let extent_e = corners.iter().map(|c| c.0).fold(0.0, f64::max);
    let extent_n = corners.iter().map(|c| c.1).fold(0.0, f64::max);
    if extent_e > MAX_GENERATED_EXTENT_M || extent_n > MAX_GENERATED_EXTENT_M {
        return bad(format!(
            "bounding box is {:.1} km × {:.1} km, over {} km on a side",
            extent_e / 1000.0,
            extent_n / 1000.0,
            MAX_GENERATED_EXTENT_M / 1000.0
        ));
    }
    // Columns cover the south edge and rows the west edge. The plane's curvature moves the far
    // corner a little off the lattice (the north-east corner lies d² tan φ / 2R north of the
    // north-west one: 1.2 m for 5 km at 31°); that sliver is left uncovered rather than given a
    // whole extra row or column.
    let count = |extent: f64| (extent / cell_m - 1e-6).ceil().max(1.0);
    let (cols_f, rows_f) = (count(corners[0].0), count(corners[1].1));
    if cols_f * rows_f > MAX_GENERATED_CELLS as f64 {
        return bad(format!(
            "the box would make {} cells ({cols_f} × {rows_f}), more than {MAX_GENERATED_CELLS}",
            cols_f * rows_f
        ));
    }
    let (cols, rows) = (cols_f as usize, rows_f as usize);
    let street_side = COMMUNITY_CELLS * STREET_COMMUNITIES;
    let street_cols = cols.div_ceil(street_side);
    let streets = street_cols * rows.div_ceil(street_side);
    if streets > 999 {
        return bad(format!(
            "the box would need {streets} streets; the 3-digit street code allows 999"
        ));
    }

    // Each lattice corner once: neighbouring cells share exact positions.
    let lattice: Vec<GeoPoint> = (0..=rows)
        .flat_map(|row| (0..=cols).map(move |col| (row, col)))
        .map(|(row, col)| plane.enu_to_point(col as f64 * cell_m, row as f64 * cell_m))
        .collect();
    let mut features: Vec<FeatureOut> = Vec::with_capacity(cols * rows);
    for row in 0..rows {
        for col in 0..cols {
            let (c_row, c_col) = (row / COMMUNITY_CELLS, col / COMMUNITY_CELLS);
            let grid = (row % COMMUNITY_CELLS) * COMMUNITY_CELLS + col % COMMUNITY_CELLS + 1;
            let community =
                (c_row % STREET_COMMUNITIES) * STREET_COMMUNITIES + c_col % STREET_COMMUNITIES + 1;
            let street =
                (c_row / STREET_COMMUNITIES) * street_cols + c_col / STREET_COMMUNITIES + 1;
            let code = format!("{division}{street:03}{community:03}{grid:02}");
            let ring = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)].map(|(dc, dr)| {
                let p = lattice[(row + dr) * (cols + 1) + col + dc];
                [p.lon, p.lat]
            });
            features.push(FeatureOut {
                kind: "Feature",
                properties: PropertiesOut {
                    name: format!("网格 {}-{grid:02}", &code[..12]),
                    code,
                    community: format!("社区 {community:03}"),
                    street: format!("街道 {street:03}"),
                    unit: "",
                },
                geometry: GeometryOut {
                    kind: "Polygon",
                    coordinates: [ring],
                },
            });
        }
    }
    features.sort_by(|a, b| a.properties.code.cmp(&b.properties.code));
    let collection = CollectionOut {
        kind: "FeatureCollection",
        features,
    };
    Ok(serde_json::to_string(&collection)
        .expect("plain structs of strings and finite numbers always serialise"))
}

/// The shapes [`generate`] writes.
#[derive(Serialize)]
struct CollectionOut {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<FeatureOut>,
}

#[derive(Serialize)]
struct FeatureOut {
    #[serde(rename = "type")]
    kind: &'static str,
    properties: PropertiesOut,
    geometry: GeometryOut,
}

#[derive(Serialize)]
struct PropertiesOut {
    code: String,
    name: String,
    community: String,
    street: String,
    unit: &'static str,
}

#[derive(Serialize)]
struct GeometryOut {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [[[f64; 2]; 5]; 1],
}

#[cfg(test)]
mod tests;
