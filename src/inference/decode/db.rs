//! DB (differentiable binarisation) post-processing for PP-OCR text detectors: turns the
//! per-pixel text probability map into rotated text boxes.
//!
//! Geometry convention: pixel `(x, y)` of the map is the unit square `[x, x + 1) × [y, y + 1)`,
//! so a component's outline is built from pixel corners (PP-OCR's OpenCV contours use pixel
//! centres, which makes its boxes about one pixel smaller before unclipping). Boxes are in
//! prob-map pixels; scale them to the model input (and then through the letterbox) as needed.

use super::{check_len, DecodeError};
use crate::domain::BBox;

/// Tuning of [`db_boxes`]; `Default` gives PP-OCR's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbParams {
    /// A pixel is text when its probability is > this.
    pub threshold: f32,
    /// A component is kept when its mean probability is ≥ this.
    pub box_threshold: f32,
    /// How far to grow boxes: offset = area × ratio / perimeter.
    pub unclip_ratio: f32,
    /// Shortest side (pixels) a box may have before unclipping; after unclipping the limit is
    /// `min_size + 2`.
    pub min_size: f32,
    /// At most this many components are turned into boxes, the largest (most pixels) first.
    pub max_candidates: usize,
}

impl Default for DbParams {
    fn default() -> Self {
        Self {
            threshold: 0.3,
            box_threshold: 0.6,
            unclip_ratio: 1.5,
            min_size: 3.0,
            max_candidates: 1000,
        }
    }
}

/// One text region found in the probability map.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    /// Corners of the unclipped rotated rectangle, clockwise on screen from the top-left:
    /// top-left, top-right, bottom-right, bottom-left. The first edge is the side nearer to
    /// horizontal (within ±45°), pointing right. Clamped to the map.
    pub quad: [(f32, f32); 4],
    /// Axis-aligned box around `quad`, clamped to the map.
    pub bbox: BBox,
    /// Mean probability of the component's pixels (the pixels above `threshold` that form it),
    /// not PP-OCR's mean over the whole rectangle: background inside a slanted rectangle does
    /// not dilute it.
    pub score: f32,
}

/// Batch size and map size of a DB output tensor, as returned by [`db_map_size`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSize {
    pub batch: usize,
    pub width: usize,
    pub height: usize,
}

/// Checks a DB output (`[batch, 1, height, width]`, e.g. PP-OCR's `sigmoid_0.tmp_0`) against its
/// data; batch item `b` is then `data[b·w·h..(b+1)·w·h]`, ready for [`db_boxes`].
pub fn db_map_size(data: &[f32], shape: &[usize]) -> Result<MapSize, DecodeError> {
    let &[batch, 1, height, width] = shape else {
        return Err(DecodeError::Shape {
            decoder: "db",
            expected: "[batch, 1, height, width]".to_owned(),
            got: shape.to_vec(),
        });
    };
    check_len(data, shape)?;
    Ok(MapSize {
        batch,
        width,
        height,
    })
}

/// Finds text boxes in one probability map of `width × height` (values in 0..1).
///
/// Layout: `prob` is row-major `[height, width]`, i.e. one batch item of the detector's
/// `[batch, 1, height, width]` output (see [`db_map_size`]).
///
/// Binarises at `threshold`, labels 8-connected components, and for each of the
/// `max_candidates` largest: takes the minimum-area rotated rectangle around it (convex hull,
/// then rotating calipers), drops it if its short side < `min_size`, scores it (mean probability
/// of its pixels), drops it if the score < `box_threshold`, grows it by
/// `area × unclip_ratio / perimeter` on every side and drops it if the short side is then
/// < `min_size + 2`. Boxes come out in reading order (top edge, then left edge, of `bbox`).
///
/// Returns nothing when `prob.len() != width × height` (check tensors with [`db_map_size`]).
pub fn db_boxes(prob: &[f32], width: usize, height: usize, params: &DbParams) -> Vec<TextBox> {
    if width.checked_mul(height) != Some(prob.len()) || prob.is_empty() {
        return Vec::new();
    }
    let components = label_components(prob, width, height, params.threshold);

    let mut order: Vec<usize> = (0..components.comps.len()).collect();
    // Stable: equal sizes keep scan order.
    order.sort_by_key(|&i| std::cmp::Reverse(components.comps[i].len));
    order.truncate(params.max_candidates);

    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for i in order {
        let comp = &components.comps[i];
        let pixels = &components.pixels[comp.start..comp.start + comp.len];
        if let Some(b) = component_box(comp, pixels, width, height, params, &mut scratch) {
            out.push(b);
        }
    }
    out.sort_by(|a, b| {
        a.bbox
            .y1
            .total_cmp(&b.bbox.y1)
            .then(a.bbox.x1.total_cmp(&b.bbox.x1))
    });
    out
}

/// One 8-connected component: its pixels are `pixels[start..start + len]`.
struct Component {
    start: usize,
    len: usize,
    sum: f64,
    y0: usize,
    y1: usize,
}

struct Components {
    comps: Vec<Component>,
    /// Pixel indices of all components, each component contiguous.
    pixels: Vec<usize>,
}

/// Labels the 8-connected components of `prob > threshold` by breadth-first flood fill, using the
/// output pixel list itself as the queue (no recursion, no per-pixel allocation).
fn label_components(prob: &[f32], width: usize, height: usize, threshold: f32) -> Components {
    // `true` = foreground not yet visited.
    let mut todo: Vec<bool> = prob.iter().map(|&p| p > threshold).collect();
    let mut pixels = Vec::new();
    let mut comps = Vec::new();
    for seed in 0..todo.len() {
        if !todo[seed] {
            continue;
        }
        todo[seed] = false;
        let start = pixels.len();
        pixels.push(seed);
        let mut head = start;
        let mut sum = 0.0f64;
        let (mut y0, mut y1) = (usize::MAX, 0);
        while head < pixels.len() {
            let p = pixels[head];
            head += 1;
            sum += f64::from(prob[p]);
            let (x, y) = (p % width, p / width);
            y0 = y0.min(y);
            y1 = y1.max(y);
            for ny in y.saturating_sub(1)..=(y + 1).min(height - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(width - 1) {
                    let q = ny * width + nx;
                    if todo[q] {
                        todo[q] = false;
                        pixels.push(q);
                    }
                }
            }
        }
        comps.push(Component {
            start,
            len: pixels.len() - start,
            sum,
            y0,
            y1,
        });
    }
    Components { comps, pixels }
}

/// Buffers reused from one component to the next.
#[derive(Default)]
struct Scratch {
    row_min: Vec<usize>,
    row_max: Vec<usize>,
    points: Vec<(f64, f64)>,
    hull: Vec<(f64, f64)>,
}

fn component_box(
    comp: &Component,
    pixels: &[usize],
    width: usize,
    height: usize,
    params: &DbParams,
    s: &mut Scratch,
) -> Option<TextBox> {
    // The hull of a union of pixel squares only needs each row's outermost squares.
    let rows = comp.y1 - comp.y0 + 1;
    s.row_min.clear();
    s.row_min.resize(rows, usize::MAX);
    s.row_max.clear();
    s.row_max.resize(rows, 0);
    for &p in pixels {
        let (x, r) = (p % width, p / width - comp.y0);
        s.row_min[r] = s.row_min[r].min(x);
        s.row_max[r] = s.row_max[r].max(x);
    }
    s.points.clear();
    for (r, (&lo, &hi)) in s.row_min.iter().zip(&s.row_max).enumerate() {
        // 8-connectivity leaves no empty row between y0 and y1; skip one anyway.
        if lo > hi {
            continue;
        }
        let (top, bottom) = ((comp.y0 + r) as f64, (comp.y0 + r + 1) as f64);
        let (left, right) = (lo as f64, (hi + 1) as f64);
        s.points
            .extend_from_slice(&[(left, top), (left, bottom), (right, top), (right, bottom)]);
    }
    convex_hull(&mut s.points, &mut s.hull);
    let rect = min_area_rect(&s.hull)?;

    let min_size = f64::from(params.min_size);
    if rect.w.min(rect.h) < min_size {
        return None;
    }
    let score = (comp.sum / comp.len as f64) as f32;
    if score < params.box_threshold {
        return None;
    }
    let d = rect.w * rect.h * f64::from(params.unclip_ratio) / (2.0 * (rect.w + rect.h));
    let rect = Rect {
        w: rect.w + 2.0 * d,
        h: rect.h + 2.0 * d,
        ..rect
    };
    if rect.w.min(rect.h) < min_size + 2.0 {
        return None;
    }
    let (mw, mh) = (width as f32, height as f32);
    let quad = rect
        .corners()
        .map(|(x, y)| ((x as f32).clamp(0.0, mw), (y as f32).clamp(0.0, mh)));
    let xs = quad.map(|p| p.0);
    let ys = quad.map(|p| p.1);
    let bbox = BBox::new(
        xs.into_iter().fold(f32::INFINITY, f32::min),
        ys.into_iter().fold(f32::INFINITY, f32::min),
        xs.into_iter().fold(f32::NEG_INFINITY, f32::max),
        ys.into_iter().fold(f32::NEG_INFINITY, f32::max),
    );
    Some(TextBox { quad, bbox, score })
}

fn cross(o: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// Andrew's monotone chain: writes the convex hull of `points` into `hull`, counter-clockwise in
/// the x-right / y-up sense (every turn has `cross > 0`), without collinear points. Sorts
/// `points` in place.
fn convex_hull(points: &mut [(f64, f64)], hull: &mut Vec<(f64, f64)>) {
    hull.clear();
    points.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    if points.len() < 3 {
        hull.extend_from_slice(points);
        return;
    }
    // Lower hull, left to right.
    for &p in points.iter() {
        while hull.len() >= 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
            hull.pop();
        }
        hull.push(p);
    }
    // Upper hull, right to left; the lower hull's last point starts it.
    let lower_len = hull.len() + 1;
    for &p in points.iter().rev().skip(1) {
        while hull.len() >= lower_len && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
        {
            hull.pop();
        }
        hull.push(p);
    }
    // The last point repeats the first.
    hull.pop();
}

/// A rotated rectangle: centre, unit axis `e1` (pointing right, within ±45° of horizontal),
/// extent `w` along `e1` and `h` along `e2 = (-e1.y, e1.x)` (pointing down in image coordinates).
#[derive(Debug, Clone, Copy)]
struct Rect {
    c: (f64, f64),
    e1: (f64, f64),
    w: f64,
    h: f64,
}

impl Rect {
    /// Top-left, top-right, bottom-right, bottom-left (clockwise on screen).
    fn corners(&self) -> [(f64, f64); 4] {
        let (ux, uy) = (self.e1.0 * self.w / 2.0, self.e1.1 * self.w / 2.0);
        let (vx, vy) = (-self.e1.1 * self.h / 2.0, self.e1.0 * self.h / 2.0);
        let (cx, cy) = self.c;
        [
            (cx - ux - vx, cy - uy - vy),
            (cx + ux - vx, cy + uy - vy),
            (cx + ux + vx, cy + uy + vy),
            (cx - ux + vx, cy - uy + vy),
        ]
    }
}

/// Minimum-area enclosing rectangle of a convex polygon (as [`convex_hull`] returns it) by
/// rotating calipers: one side of the optimum lies on a hull edge, and for each edge the three
/// other support points only move forward, so the scan is linear. `None` for fewer than 3 points.
fn min_area_rect(hull: &[(f64, f64)]) -> Option<Rect> {
    let n = hull.len();
    if n < 3 {
        return None;
    }
    let at = |i: usize| hull[i % n];
    let dot = |p: (f64, f64), d: (f64, f64)| p.0 * d.0 + p.1 * d.1;
    /// The rectangle on one edge: origin `a` (the edge's start), edge direction `u`, extent
    /// `umin..umax` along `u` and `0..vmax` along the inward normal.
    #[derive(Clone, Copy)]
    struct Candidate {
        area: f64,
        a: (f64, f64),
        u: (f64, f64),
        umin: f64,
        umax: f64,
        vmax: f64,
    }
    let mut best: Option<Candidate> = None;
    let (mut j, mut k, mut l) = (1usize, 1usize, 1usize);
    for i in 0..n {
        let (a, b) = (at(i), at(i + 1));
        let len = (b.0 - a.0).hypot(b.1 - a.1);
        if len == 0.0 {
            continue;
        }
        let u = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        // Left normal: the hull is counter-clockwise, so it points inwards.
        let v = (-u.1, u.0);
        let pu = |p: (f64, f64)| dot((p.0 - a.0, p.1 - a.1), u);
        let pv = |p: (f64, f64)| dot((p.0 - a.0, p.1 - a.1), v);
        if i == 0 {
            j = 1;
        }
        // Bounded advances: each pointer laps the hull at most once per edge.
        let mut steps = 0;
        while steps < n && pu(at(j + 1)) >= pu(at(j)) {
            j += 1;
            steps += 1;
        }
        if i == 0 {
            k = j;
        }
        steps = 0;
        while steps < n && pv(at(k + 1)) >= pv(at(k)) {
            k += 1;
            steps += 1;
        }
        if i == 0 {
            l = k;
        }
        steps = 0;
        while steps < n && pu(at(l + 1)) <= pu(at(l)) {
            l += 1;
            steps += 1;
        }
        let (umax, vmax, umin) = (pu(at(j)), pv(at(k)), pu(at(l)));
        let area = (umax - umin) * vmax;
        if best.is_none_or(|b| area < b.area) {
            best = Some(Candidate {
                area,
                a,
                u,
                umin,
                umax,
                vmax,
            });
        }
    }
    let Candidate {
        a,
        u,
        umin,
        umax,
        vmax,
        ..
    } = best?;
    let v = (-u.1, u.0);
    let (mu, mv) = ((umin + umax) / 2.0, vmax / 2.0);
    let c = (a.0 + u.0 * mu + v.0 * mv, a.1 + u.1 * mu + v.1 * mv);
    // Pick the axis (±u or ±v) that points most to the right as e1; tie → the lower one.
    let axes = [(u, umax - umin, vmax), (v, vmax, umax - umin)];
    let mut pick = None;
    for (axis, along, across) in axes {
        for s in [1.0, -1.0] {
            let e = (axis.0 * s, axis.1 * s);
            if pick.is_none_or(|(p, _, _): ((f64, f64), f64, f64)| {
                e.0 > p.0 + 1e-12 || ((e.0 - p.0).abs() <= 1e-12 && e.1 > p.1)
            }) {
                pick = Some((e, along, across));
            }
        }
    }
    let (e1, w, h) = pick?;
    Some(Rect { c, e1, w, h })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(
        map: &mut [f32],
        width: usize,
        x: std::ops::Range<usize>,
        y: std::ops::Range<usize>,
        p: f32,
    ) {
        for yy in y {
            for xx in x.clone() {
                map[yy * width + xx] = p;
            }
        }
    }

    fn assert_quad(got: [(f32, f32); 4], want: [(f32, f32); 4], tol: f32) {
        let ok = got
            .iter()
            .zip(want)
            .all(|(g, w)| (g.0 - w.0).abs() <= tol && (g.1 - w.1).abs() <= tol);
        assert!(ok, "got {got:?}\nwant {want:?}");
    }

    fn axis_quad(x1: f32, y1: f32, x2: f32, y2: f32) -> [(f32, f32); 4] {
        [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    }

    const W: usize = 160;
    const H: usize = 120;

    /// Two axis-aligned rectangles, one rotated bar, a box in a corner, plus two blobs that must
    /// be dropped (too small, too faint).
    fn synthetic_map() -> Vec<f32> {
        let mut map = vec![0.05f32; W * H];
        fill(&mut map, W, 10..40, 10..20, 0.9); // A: 30×10
        fill(&mut map, W, 60..100, 12..18, 0.8); // B: 40×6
        fill(&mut map, W, 0..20, 100..120, 0.7); // C: 20×20 in the bottom-left corner
        fill(&mut map, W, 130..132, 30..32, 0.9); // 2×2: too small
        fill(&mut map, W, 120..140, 90..105, 0.5); // above threshold, below box_threshold
                                                   // Bar: centre (80, 70), 60 long, 10 thick, rising to the right at 30°.
        let (s, c) = 30f32.to_radians().sin_cos();
        for y in 0..H {
            for x in 0..W {
                let (dx, dy) = (x as f32 + 0.5 - 80.0, y as f32 + 0.5 - 70.0);
                let along = dx * c - dy * s;
                let across = dx * s + dy * c;
                if along.abs() <= 30.0 && across.abs() <= 5.0 {
                    map[y * W + x] = 0.95;
                }
            }
        }
        map
    }

    #[test]
    fn synthetic_rectangles_and_rotated_bar() {
        let map = synthetic_map();
        let boxes = db_boxes(&map, W, H, &DbParams::default());
        assert_eq!(boxes.len(), 4, "{boxes:#?}");
        // Reading order: A (top 4.4), B (top 8.1), bar, C.
        let [a, b, bar, corner] = [&boxes[0], &boxes[1], &boxes[2], &boxes[3]];

        // A: 30×10 → d = 300·1.5/80 = 5.625.
        assert_quad(a.quad, axis_quad(4.375, 4.375, 45.625, 25.625), 1e-4);
        assert_eq!(a.bbox, BBox::new(4.375, 4.375, 45.625, 25.625));
        assert!((a.score - 0.9).abs() < 1e-6);

        // B: 40×6 → d = 240·1.5/92.
        let d = 240.0 * 1.5 / 92.0;
        assert_quad(
            b.quad,
            axis_quad(60.0 - d, 12.0 - d, 100.0 + d, 18.0 + d),
            1e-4,
        );
        assert!((b.score - 0.8).abs() < 1e-6);

        // C: 20×20 → d = 7.5, clamped to the map.
        assert_quad(corner.quad, axis_quad(0.0, 92.5, 27.5, 120.0), 1e-4);
        assert_eq!(corner.bbox, BBox::new(0.0, 92.5, 27.5, 120.0));

        // Bar: the pixels whose centres lie in a 60×10 rectangle at -30°. Their squares stick
        // out of it by up to (cos 30° + sin 30°)/2 ≈ 0.68 px, so the rectangle around them is
        // about 61.4 × 11.4, grown by d = area·1.5/perimeter ≈ 7.2 on every side.
        assert!((bar.score - 0.95).abs() < 1e-6);
        let q = bar.quad;
        let (s, c) = 30f32.to_radians().sin_cos();
        let (w0, h0) = (60.0 + s + c, 10.0 + s + c);
        let d = w0 * h0 * 1.5 / (2.0 * (w0 + h0));
        let (w1, h1) = (w0 + 2.0 * d, h0 + 2.0 * d);
        let side = |p: (f32, f32), r: (f32, f32)| (r.0 - p.0).hypot(r.1 - p.1);
        let (w, h) = (side(q[0], q[1]), side(q[1], q[2]));
        assert!((w - w1).abs() < 0.5, "width {w}, want {w1}");
        assert!((h - h1).abs() < 0.5, "height {h}, want {h1}");
        let angle = (q[1].1 - q[0].1).atan2(q[1].0 - q[0].0).to_degrees();
        assert!((angle + 30.0).abs() < 1.0, "angle {angle}");
        // Corners: c ∓ e1·w/2 ∓ e2·h/2 with e1 = (cos 30°, -sin 30°), e2 = (sin 30°, cos 30°).
        let corner_at = |a: f32, b: f32| {
            (
                80.0 + a * w1 / 2.0 * c + b * h1 / 2.0 * s,
                70.0 - a * w1 / 2.0 * s + b * h1 / 2.0 * c,
            )
        };
        let want = [
            corner_at(-1.0, -1.0),
            corner_at(1.0, -1.0),
            corner_at(1.0, 1.0),
            corner_at(-1.0, 1.0),
        ];
        assert_quad(q, want, 0.75);
        let xs = q.map(|p| p.0);
        let ys = q.map(|p| p.1);
        assert_eq!(bar.bbox.x1, xs.into_iter().fold(f32::MAX, f32::min));
        assert_eq!(bar.bbox.y2, ys.into_iter().fold(f32::MIN, f32::max));
    }

    /// Same map as `models/fixtures/db.onnx`.
    #[test]
    fn fixture_map() {
        let mut map = vec![0.05f32; 64 * 64];
        fill(&mut map, 64, 8..28, 8..16, 0.9);
        fill(&mut map, 64, 36..56, 40..52, 0.8);
        fill(&mut map, 64, 50..52, 10..12, 0.9); // 2×2 speck: dropped
        let size = db_map_size(&map, &[1, 1, 64, 64]).unwrap();
        let boxes = db_boxes(&map, size.width, size.height, &DbParams::default());
        assert_eq!(boxes.len(), 2, "{boxes:#?}");
        // 20×8: d = 160·1.5/56; 20×12: d = 240·1.5/64 = 5.625.
        let d = 160.0 * 1.5 / 56.0;
        assert_quad(
            boxes[0].quad,
            axis_quad(8.0 - d, 8.0 - d, 28.0 + d, 16.0 + d),
            1e-4,
        );
        assert_quad(
            boxes[1].quad,
            axis_quad(30.375, 34.375, 61.625, 57.625),
            1e-4,
        );
        assert_eq!(boxes[1].bbox, BBox::new(30.375, 34.375, 61.625, 57.625));
        assert!((boxes[0].score - 0.9).abs() < 1e-6 && (boxes[1].score - 0.8).abs() < 1e-6);
    }

    #[test]
    fn vertical_bar_keeps_width_horizontal() {
        let mut map = vec![0.0f32; 64 * 64];
        fill(&mut map, 64, 30..36, 10..50, 0.9); // 6 wide, 40 tall
        let boxes = db_boxes(&map, 64, 64, &DbParams::default());
        assert_eq!(boxes.len(), 1);
        let d = 240.0 * 1.5 / 92.0;
        assert_quad(
            boxes[0].quad,
            axis_quad(30.0 - d, 10.0 - d, 36.0 + d, 50.0 + d),
            1e-4,
        );
    }

    #[test]
    fn max_candidates_keeps_the_largest() {
        let map = synthetic_map();
        let params = DbParams {
            max_candidates: 2,
            ..DbParams::default()
        };
        // Largest components: the bar (~600 px) and C (400 px).
        let boxes = db_boxes(&map, W, H, &params);
        assert_eq!(boxes.len(), 2);
        assert!((boxes[0].score - 0.95).abs() < 1e-6);
        assert!((boxes[1].score - 0.7).abs() < 1e-6);
    }

    #[test]
    fn thresholds_and_min_size() {
        let map = synthetic_map();
        // Lower box_threshold lets the faint blob through.
        let params = DbParams {
            box_threshold: 0.5,
            ..DbParams::default()
        };
        assert_eq!(db_boxes(&map, W, H, &params).len(), 5);
        // A bigger min_size drops B (short side 6).
        let params = DbParams {
            min_size: 7.0,
            ..DbParams::default()
        };
        assert_eq!(db_boxes(&map, W, H, &params).len(), 3);
        // After unclipping the short side must reach min_size + 2 = 5. A 40×3 line grows by
        // d = 120·1.5/86 ≈ 2.09 per side to ≈ 7.2 and stays; with unclip_ratio 0.1 it grows by
        // ≈ 0.14 to ≈ 3.3 and is dropped.
        let mut line = vec![0.0f32; 64 * 64];
        fill(&mut line, 64, 10..50, 20..23, 0.9);
        assert_eq!(db_boxes(&line, 64, 64, &DbParams::default()).len(), 1);
        let params = DbParams {
            unclip_ratio: 0.1,
            ..DbParams::default()
        };
        assert!(db_boxes(&line, 64, 64, &params).is_empty());
    }

    #[test]
    fn diagonal_pixels_are_one_component() {
        let mut map = vec![0.0f32; 16 * 16];
        for i in 0..12 {
            map[(i + 2) * 16 + i + 2] = 1.0;
        }
        let comps = label_components(&map, 16, 16, 0.3);
        assert_eq!(comps.comps.len(), 1);
        assert_eq!(comps.comps[0].len, 12);
    }

    #[test]
    fn empty_and_mismatched_maps() {
        let p = DbParams::default();
        assert!(db_boxes(&[], 0, 0, &p).is_empty());
        assert!(db_boxes(&[0.9; 10], 4, 4, &p).is_empty());
        assert!(db_boxes(&[0.0; 16], 4, 4, &p).is_empty());
        // A whole map of text is one box covering it (clamped).
        let full = db_boxes(&[0.9; 64 * 32], 64, 32, &p);
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].bbox, BBox::new(0.0, 0.0, 64.0, 32.0));
    }

    #[test]
    fn map_size_checks_shape() {
        let data = vec![0.0f32; 2 * 32 * 64];
        assert_eq!(
            db_map_size(&data, &[2, 1, 32, 64]).unwrap(),
            MapSize {
                batch: 2,
                width: 64,
                height: 32
            }
        );
        let err = db_map_size(&data, &[2, 32, 64]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output has shape [2, 32, 64]; db expects [batch, 1, height, width]"
        );
        assert!(db_map_size(&data, &[1, 1, 32, 64]).is_err());
    }

    /// Small deterministic generator so the tests need no extra crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// O(n²) reference: try every hull edge, project every point.
    fn brute_min_area(hull: &[(f64, f64)]) -> f64 {
        let n = hull.len();
        let mut best = f64::INFINITY;
        for i in 0..n {
            let (a, b) = (hull[i], hull[(i + 1) % n]);
            let len = (b.0 - a.0).hypot(b.1 - a.1);
            let u = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            let (mut umin, mut umax, mut vmin, mut vmax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for p in hull {
                let pu = p.0 * u.0 + p.1 * u.1;
                let pv = -p.0 * u.1 + p.1 * u.0;
                umin = umin.min(pu);
                umax = umax.max(pu);
                vmin = vmin.min(pv);
                vmax = vmax.max(pv);
            }
            best = best.min((umax - umin) * (vmax - vmin));
        }
        best
    }

    #[test]
    fn calipers_match_brute_force() {
        let mut rng = Lcg(7);
        let mut hull = Vec::new();
        for round in 0..500 {
            let n = 3 + round % 40;
            let mut pts: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    if round % 2 == 0 {
                        ((rng.next() * 20.0).floor(), (rng.next() * 20.0).floor())
                    } else {
                        (rng.next() * 100.0, rng.next() * 30.0)
                    }
                })
                .collect();
            convex_hull(&mut pts, &mut hull);
            if hull.len() < 3 {
                continue;
            }
            // Every turn is strictly left and every point lies inside or on the hull.
            for i in 0..hull.len() {
                let (a, b, c) = (
                    hull[i],
                    hull[(i + 1) % hull.len()],
                    hull[(i + 2) % hull.len()],
                );
                assert!(cross(a, b, c) > 0.0);
                for &p in &pts {
                    assert!(cross(a, b, p) >= -1e-9);
                }
            }
            let rect = min_area_rect(&hull).unwrap();
            let want = brute_min_area(&hull);
            assert!(
                (rect.w * rect.h - want).abs() <= 1e-6 * want.max(1.0),
                "round {round}: {} vs {want}",
                rect.w * rect.h
            );
            // The rectangle contains the hull.
            let e2 = (-rect.e1.1, rect.e1.0);
            for p in &hull {
                let d = (p.0 - rect.c.0, p.1 - rect.c.1);
                assert!((d.0 * rect.e1.0 + d.1 * rect.e1.1).abs() <= rect.w / 2.0 + 1e-6);
                assert!((d.0 * e2.0 + d.1 * e2.1).abs() <= rect.h / 2.0 + 1e-6);
            }
            assert!(rect.e1.0 > 0.0 && rect.e1.1.abs() <= rect.e1.0 + 1e-9);
        }
    }
}
