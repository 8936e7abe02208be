//! Text detection on upscaled tiles: small text (a poster on a wall, a sheet on a lamp post) has
//! glyphs of a few pixels in a whole frame, below what a text detector resolves once the frame is
//! shrunk to its input. A region of the full-resolution frame is scaled up by a factor and cut
//! into overlapping tiles of the model's input size; boxes found on the tiles come back to image
//! pixels and duplicates across the overlaps are merged.
//!
//! Pure: tile layout, box mapping and merging, no ONNX Runtime ([`super::Model::run_tiled`]
//! runs the tiles).

use super::decode::Letterbox;
use super::model::ImageRef;
use crate::domain::{BBox, Detection};

/// Smallest share of a tile's span that overlaps its neighbour, on each axis. A text line shorter
/// than the overlap is whole in at least one tile; longer ones are joined by [`merge_text_boxes`].
pub const TILE_OVERLAP: f32 = 0.125;

/// Boxes from different tiles are one text when the smaller is covered this much by the larger.
pub const MERGE_COVER: f32 = 0.5;

/// Pieces of one text line cut by a tile edge: boxes from different tiles that touch and share
/// this much of the smaller one's height are joined.
pub const MERGE_ALIGN: f32 = 0.7;

/// Where and how much to upscale: a text detector's tiling setting, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Tiling {
    /// The region tiled, normalised `[0, 1]` coordinates of the frame (`x1 < x2`, `y1 < y2`).
    pub region: BBox,
    /// Model-input pixels per full-resolution pixel (2.0: the text twice as big as in the frame).
    pub scale: f32,
    /// Polygons (normalised `[x, y]` points) the region was drawn around: only tiles that meet
    /// one are run. Empty: every tile of the region.
    pub zones: Vec<Vec<[f32; 2]>>,
}

/// A frame as a tiled run sees it: the whole frame as analysed, and full-resolution pixels that
/// hold the region to tile.
#[derive(Debug, Clone, Copy)]
pub struct TiledFrame<'a> {
    /// The whole frame at the size it is analysed (boxes come back in its pixels).
    pub whole: ImageRef<'a>,
    /// Full-resolution pixels: the whole source picture, or a part of it that holds `region`.
    pub detail: ImageRef<'a>,
    /// The region to tile, in pixels of `detail`.
    pub region: PixelRect,
    /// Where `detail`'s top-left pixel lies in the full-resolution picture.
    pub detail_origin: (u32, u32),
    /// Size of the full-resolution picture.
    pub full_size: (u32, u32),
    /// Polygons in normalised coordinates of the full picture (see [`Tiling::zones`]); empty:
    /// the whole region.
    pub zones: &'a [Vec<[f32; 2]>],
}

impl<'a> TiledFrame<'a> {
    /// The same picture given whole and as detail (eval frames, snapshots): `region` is
    /// normalised. `None` when the region covers no pixel.
    pub fn same(
        image: ImageRef<'a>,
        region: &BBox,
        zones: &'a [Vec<[f32; 2]>],
    ) -> Option<TiledFrame<'a>> {
        Some(TiledFrame {
            whole: image,
            detail: image,
            region: PixelRect::from_normalised(region, image.width, image.height)?,
            detail_origin: (0, 0),
            full_size: (image.width, image.height),
            zones,
        })
    }

    /// A frame analysed as `whole` whose `detail` holds the source's pixels from `origin` on (a
    /// source of `full_size` pixels): `tiling`'s region, in detail pixels, cut to the detail.
    /// `None` when the region and the detail do not meet.
    pub fn with_detail(
        whole: ImageRef<'a>,
        detail: ImageRef<'a>,
        origin: (u32, u32),
        full_size: (u32, u32),
        tiling: &'a Tiling,
    ) -> Option<TiledFrame<'a>> {
        let full = PixelRect::from_normalised(&tiling.region, full_size.0, full_size.1)?;
        let (x1, y1) = (full.x.max(origin.0), full.y.max(origin.1));
        let x2 = (full.x + full.width).min(origin.0 + detail.width);
        let y2 = (full.y + full.height).min(origin.1 + detail.height);
        (x2 > x1 && y2 > y1).then(|| TiledFrame {
            whole,
            detail,
            region: PixelRect {
                x: x1 - origin.0,
                y: y1 - origin.1,
                width: x2 - x1,
                height: y2 - y1,
            },
            detail_origin: origin,
            full_size,
            zones: &tiling.zones,
        })
    }

    /// The tiles of the region at `scale` for an `input_w × input_h` model ([`layout`]), less
    /// those that meet none of the zones. In pixels of `detail`.
    pub fn layout(&self, scale: f32, input_w: u32, input_h: u32) -> Vec<Tile> {
        let mut tiles = layout(self.region, scale, input_w, input_h);
        if !self.zones.is_empty() {
            let (fw, fh) = (self.full_size.0 as f32, self.full_size.1 as f32);
            let (ox, oy) = (self.detail_origin.0 as f32, self.detail_origin.1 as f32);
            let zones: Vec<Vec<[f32; 2]>> = self
                .zones
                .iter()
                .map(|z| z.iter().map(|p| [p[0] * fw - ox, p[1] * fh - oy]).collect())
                .collect();
            tiles.retain(|t| {
                let r = t.rect.bbox();
                zones.iter().any(|z| rect_meets_polygon(&r, z))
            });
        }
        tiles
    }

    /// Maps a box in `detail` pixels to `whole` pixels.
    pub fn to_whole(&self, b: &BBox) -> BBox {
        let sx = self.whole.width as f32 / self.full_size.0.max(1) as f32;
        let sy = self.whole.height as f32 / self.full_size.1.max(1) as f32;
        let (ox, oy) = (self.detail_origin.0 as f32, self.detail_origin.1 as f32);
        BBox::new(
            (b.x1 + ox) * sx,
            (b.y1 + oy) * sy,
            (b.x2 + ox) * sx,
            (b.y2 + oy) * sy,
        )
    }
}

/// A rectangle of whole pixels of an image: columns `x .. x + width`, rows `y .. y + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl PixelRect {
    /// The whole pixels that cover the normalised `region` of a `width × height` image (edges
    /// rounded outwards, clamped to the image); `None` when nothing is left.
    pub fn from_normalised(region: &BBox, width: u32, height: u32) -> Option<PixelRect> {
        let (w, h) = (width as f32, height as f32);
        let x1 = (region.x1 * w).floor().clamp(0.0, w) as u32;
        let y1 = (region.y1 * h).floor().clamp(0.0, h) as u32;
        let x2 = (region.x2 * w).ceil().clamp(0.0, w) as u32;
        let y2 = (region.y2 * h).ceil().clamp(0.0, h) as u32;
        (x2 > x1 && y2 > y1).then(|| PixelRect {
            x: x1,
            y: y1,
            width: x2 - x1,
            height: y2 - y1,
        })
    }

    /// The rectangle as a box in the same pixels.
    pub fn bbox(&self) -> BBox {
        BBox::new(
            self.x as f32,
            self.y as f32,
            (self.x + self.width) as f32,
            (self.y + self.height) as f32,
        )
    }

    /// Maps a box in this rectangle's own pixels (origin at its top-left) to the image's.
    pub fn to_image(&self, b: &BBox) -> BBox {
        let (dx, dy) = (self.x as f32, self.y as f32);
        BBox::new(b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy)
    }

    /// Copies these pixels out of packed RGB rows of an image `image_width` wide.
    pub fn crop_rgb(&self, rgb: &[u8], image_width: u32) -> Vec<u8> {
        let stride = 3 * image_width as usize;
        let row = 3 * self.width as usize;
        let mut out = Vec::with_capacity(row * self.height as usize);
        for y in self.y as usize..(self.y + self.height) as usize {
            let start = y * stride + 3 * self.x as usize;
            out.extend_from_slice(&rgb[start..start + row]);
        }
        out
    }
}

/// One tile: the image pixels it covers and how they are drawn into the model input (scaled by
/// the tiling factor, top-left, padded right and below when the region is smaller than a tile).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tile {
    pub rect: PixelRect,
    pub letterbox: Letterbox,
}

impl Tile {
    /// Maps a box in this tile's model-input pixels back to image pixels.
    pub fn to_image(&self, b: &BBox) -> BBox {
        self.rect.to_image(&self.letterbox.to_source(b))
    }
}

/// Cuts `region` (image pixels), scaled by `scale`, into tiles of `input_w × input_h` model
/// pixels, row by row. Each tile covers `floor(input / scale)` image pixels per axis (less where
/// the region is smaller); neighbours overlap by at least [`TILE_OVERLAP`] of that span, and the
/// tiles are spread evenly so the last one ends at the region's edge.
pub fn layout(region: PixelRect, scale: f32, input_w: u32, input_h: u32) -> Vec<Tile> {
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    let span = |input: u32| ((input as f32 / scale).floor() as u32).max(1);
    let columns = spans(region.x, region.width, span(input_w));
    let rows = spans(region.y, region.height, span(input_h));
    let mut tiles = Vec::with_capacity(columns.len() * rows.len());
    for &(y, height) in &rows {
        for &(x, width) in &columns {
            tiles.push(Tile {
                rect: PixelRect {
                    x,
                    y,
                    width,
                    height,
                },
                letterbox: Letterbox::fixed(width, height, scale, input_w, input_h),
            });
        }
    }
    tiles
}

/// Starts and lengths of the tiles covering `start .. start + len` with tiles of `span`.
fn spans(start: u32, len: u32, span: u32) -> Vec<(u32, u32)> {
    if len <= span {
        return vec![(start, len)];
    }
    let overlap = ((span as f32 * TILE_OVERLAP).ceil() as u32).min(span - 1);
    // n tiles of `span` with steps of at most `span - overlap` reach `len`.
    let n = (len - overlap).div_ceil(span - overlap).max(2);
    let room = f64::from(len - span);
    (0..n)
        .map(|i| {
            let offset = (room * f64::from(i) / f64::from(n - 1)).round() as u32;
            (start + offset, span)
        })
        .collect()
}

/// Whether a rectangle and a polygon (closed, any orientation) share any point: a vertex of one
/// inside the other, or crossing edges.
pub fn rect_meets_polygon(r: &BBox, polygon: &[[f32; 2]]) -> bool {
    if polygon.is_empty() {
        return false;
    }
    let inside_rect = |p: &[f32; 2]| p[0] >= r.x1 && p[0] <= r.x2 && p[1] >= r.y1 && p[1] <= r.y2;
    if polygon.iter().any(inside_rect) {
        return true;
    }
    let corners = [[r.x1, r.y1], [r.x2, r.y1], [r.x2, r.y2], [r.x1, r.y2]];
    if corners.iter().any(|c| in_polygon(c, polygon)) {
        return true;
    }
    let n = polygon.len();
    (0..n).any(|i| {
        let (a, b) = (polygon[i], polygon[(i + 1) % n]);
        (0..4).any(|k| segments_cross(a, b, corners[k], corners[(k + 1) % 4]))
    })
}

/// Even-odd rule.
fn in_polygon(p: &[f32; 2], polygon: &[[f32; 2]]) -> bool {
    let mut inside = false;
    let n = polygon.len();
    for i in 0..n {
        let (a, b) = (polygon[i], polygon[(i + n - 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

fn segments_cross(a: [f32; 2], b: [f32; 2], c: [f32; 2], d: [f32; 2]) -> bool {
    let side = |p: [f32; 2], q: [f32; 2], r: [f32; 2]| {
        (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    };
    let (d1, d2) = (side(c, d, a), side(c, d, b));
    let (d3, d4) = (side(a, b, c), side(a, b, d));
    (d1 > 0.0) != (d2 > 0.0) && (d3 > 0.0) != (d4 > 0.0)
}

/// A detection found on tile `tile` (its index in the layout), in image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct TileDetection {
    pub detection: Detection,
    pub tile: usize,
}

/// Joins boxes that are one text seen by two overlapping tiles: from different tiles, and either
/// the smaller is covered at least [`MERGE_COVER`] by the larger (the same text twice, or a cut
/// piece inside the whole), or they overlap on the same rows ([`MERGE_ALIGN`]: two pieces of a
/// line cut by a tile edge). Joined boxes become their union with the higher score, and may join further
/// boxes. Boxes of the same tile stay apart: the detector separated them.
///
/// Returns the boxes sorted by descending score.
pub fn merge_text_boxes(found: Vec<TileDetection>) -> Vec<Detection> {
    // Each group: its box, score, class and the set of tiles it came from.
    let mut groups: Vec<(Detection, Vec<usize>)> = found
        .into_iter()
        .map(|f| (f.detection, vec![f.tile]))
        .collect();
    loop {
        let mut joined = false;
        'outer: for i in 0..groups.len() {
            for j in i + 1..groups.len() {
                let (a, b) = (&groups[i], &groups[j]);
                let apart = a.1.iter().all(|t| !b.1.contains(t));
                if apart && a.0.class_id == b.0.class_id && same_text(&a.0.bbox, &b.0.bbox) {
                    let (b_det, b_tiles) = groups.swap_remove(j);
                    let a = &mut groups[i];
                    a.0.bbox = union(&a.0.bbox, &b_det.bbox);
                    a.0.score = a.0.score.max(b_det.score);
                    a.1.extend(b_tiles);
                    joined = true;
                    break 'outer;
                }
            }
        }
        if !joined {
            break;
        }
    }
    let mut out: Vec<Detection> = groups.into_iter().map(|(d, _)| d).collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// Lines of one block are joined when the gap between them is at most this share of the lower
/// line height (a line spacing), and they overlap horizontally by at least
/// [`BLOCK_OVERLAP`] of the narrower line.
pub const BLOCK_GAP: f32 = 0.5;

/// See [`BLOCK_GAP`].
pub const BLOCK_OVERLAP: f32 = 0.5;

/// Joins text lines stacked into one block (a poster's title and its small print, a sign's two
/// lines) into one box, the union, with the higher score: at tile resolution a text detector
/// finds the lines of a small poster one by one, and a poster is one sign. Lines count as one
/// block when they overlap horizontally by at least [`BLOCK_OVERLAP`] of the narrower one and
/// the vertical gap between them is at most [`BLOCK_GAP`] of the lower one's height.
///
/// Returns the boxes sorted by descending score.
pub fn group_lines(lines: Vec<Detection>) -> Vec<Detection> {
    let mut blocks = lines;
    loop {
        let mut joined = false;
        'outer: for i in 0..blocks.len() {
            for j in i + 1..blocks.len() {
                let (a, b) = (&blocks[i], &blocks[j]);
                if a.class_id == b.class_id && one_block(&a.bbox, &b.bbox) {
                    let b = blocks.swap_remove(j);
                    let a = &mut blocks[i];
                    a.bbox = union(&a.bbox, &b.bbox);
                    a.score = a.score.max(b.score);
                    joined = true;
                    break 'outer;
                }
            }
        }
        if !joined {
            break;
        }
    }
    blocks.sort_by(|a, b| b.score.total_cmp(&a.score));
    blocks
}

/// Whether two line boxes are lines of one block (see [`group_lines`]).
fn one_block(a: &BBox, b: &BBox) -> bool {
    let ix = a.x2.min(b.x2) - a.x1.max(b.x1);
    let gap = a.y1.max(b.y1) - a.y2.min(b.y2);
    ix >= BLOCK_OVERLAP * a.width().min(b.width())
        && ix > 0.0
        && gap <= BLOCK_GAP * a.height().min(b.height())
}

/// Whether two boxes from different tiles are the same text (see [`merge_text_boxes`]).
fn same_text(a: &BBox, b: &BBox) -> bool {
    let ix = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let iy = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    if ix <= 0.0 || iy <= 0.0 {
        return false;
    }
    let smaller = a.area().min(b.area());
    if smaller > 0.0 && ix * iy >= MERGE_COVER * smaller {
        return true;
    }
    // Text runs in lines: pieces cut by a vertical tile edge share their rows. (A line cut by an
    // edge between rows is whole in one of the two tiles unless it is taller than the overlap,
    // and then its pieces are mostly covered by each other.)
    iy >= MERGE_ALIGN * a.height().min(b.height())
}

fn union(a: &BBox, b: &BBox) -> BBox {
    BBox::new(
        a.x1.min(b.x1),
        a.y1.min(b.y1),
        a.x2.max(b.x2),
        a.y2.max(b.y2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: u32, y: u32, width: u32, height: u32) -> PixelRect {
        PixelRect {
            x,
            y,
            width,
            height,
        }
    }

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, score: f32, tile: usize) -> TileDetection {
        TileDetection {
            detection: Detection {
                bbox: BBox::new(x1, y1, x2, y2),
                score,
                class_id: 0,
            },
            tile,
        }
    }

    #[test]
    fn normalised_region_rounds_outwards_and_clamps() {
        let r = PixelRect::from_normalised(&BBox::new(0.1, 0.25, 0.5001, 1.2), 1280, 720);
        assert_eq!(r, Some(rect(128, 180, 513, 540)));
        assert_eq!(
            PixelRect::from_normalised(&BBox::new(0.5, 0.5, 0.5, 0.9), 1280, 720),
            None
        );
    }

    #[test]
    fn golden_layout_of_the_upper_band_at_scale_2() {
        // 1280 × 360 at ×2 into 640 × 384: tiles of 320 × 192 image pixels, overlap ≥ 40 × 24.
        // Columns: ceil((1280 − 40) / 280) = 5 at steps of 240; rows: ceil((360 − 24) / 168) = 2.
        let tiles = layout(rect(0, 0, 1280, 360), 2.0, 640, 384);
        let got: Vec<(u32, u32, u32, u32)> = tiles
            .iter()
            .map(|t| (t.rect.x, t.rect.y, t.rect.width, t.rect.height))
            .collect();
        let mut want = Vec::new();
        for y in [0, 168] {
            for x in [0, 240, 480, 720, 960] {
                want.push((x, y, 320, 192));
            }
        }
        assert_eq!(got, want);
        for t in &tiles {
            assert_eq!(
                (t.letterbox.content_w(), t.letterbox.content_h()),
                (640, 384)
            );
        }
    }

    #[test]
    fn layout_covers_the_region_with_the_overlap() {
        for (region, scale) in [
            (rect(37, 11, 1001, 333), 2.0),
            (rect(0, 100, 1280, 300), 3.0),
            (rect(5, 5, 1915, 1070), 1.5),
            (rect(600, 150, 321, 193), 2.0),
        ] {
            let tiles = layout(region, scale, 640, 384);
            let span_w = (640.0 / scale) as u32;
            let span_h = (384.0 / scale) as u32;
            // Every pixel of the region is in some tile, and no tile leaves the region.
            for t in &tiles {
                assert!(t.rect.x >= region.x && t.rect.y >= region.y, "{t:?}");
                assert!(t.rect.x + t.rect.width <= region.x + region.width, "{t:?}");
                assert!(
                    t.rect.y + t.rect.height <= region.y + region.height,
                    "{t:?}"
                );
                assert!(t.rect.width <= span_w && t.rect.height <= span_h);
            }
            for y in [
                region.y,
                region.y + region.height / 2,
                region.y + region.height - 1,
            ] {
                for x in (region.x..region.x + region.width).step_by(7) {
                    assert!(
                        tiles.iter().any(|t| x >= t.rect.x
                            && x < t.rect.x + t.rect.width
                            && y >= t.rect.y
                            && y < t.rect.y + t.rect.height),
                        "({x}, {y}) not covered in {region:?} at {scale}"
                    );
                }
            }
            // Neighbours in a row overlap by at least the minimum.
            let mut xs: Vec<u32> = tiles.iter().map(|t| t.rect.x).collect();
            xs.sort_unstable();
            xs.dedup();
            for pair in xs.windows(2) {
                let overlap = pair[0] + span_w - pair[1];
                assert!(overlap as f32 >= span_w as f32 * TILE_OVERLAP, "{xs:?}");
            }
        }
    }

    #[test]
    fn a_region_smaller_than_a_tile_is_one_padded_tile() {
        let tiles = layout(rect(720, 150, 60, 50), 2.0, 640, 384);
        assert_eq!(tiles.len(), 1);
        assert_eq!(tiles[0].rect, rect(720, 150, 60, 50));
        assert_eq!(
            (
                tiles[0].letterbox.content_w(),
                tiles[0].letterbox.content_h()
            ),
            (120, 100)
        );
    }

    #[test]
    fn tile_boxes_map_back_to_image_pixels() {
        let tiles = layout(rect(0, 0, 1280, 360), 2.0, 640, 384);
        // Tile 6 is the second row's second column: image (240, 168) at model (0, 0).
        let t = &tiles[6];
        assert_eq!((t.rect.x, t.rect.y), (240, 168));
        let b = t.to_image(&BBox::new(100.0, 40.0, 180.0, 60.0));
        assert_eq!(b, BBox::new(290.0, 188.0, 330.0, 198.0));
        // A box reaching into the padding of a small tile is cut at the tile's content.
        let small = layout(rect(720, 150, 60, 50), 2.0, 640, 384)[0];
        let b = small.to_image(&BBox::new(100.0, 80.0, 400.0, 300.0));
        assert_eq!(b, BBox::new(770.0, 190.0, 780.0, 200.0));
    }

    #[test]
    fn duplicates_across_tiles_merge_and_same_tile_boxes_do_not() {
        let merged = merge_text_boxes(vec![
            // One poster seen whole by tile 0 and cut by tile 1's edge: one box.
            det(100.0, 50.0, 160.0, 70.0, 0.8, 0),
            det(130.0, 51.0, 160.0, 69.0, 0.9, 1),
            // Two lines of one sign found by the same tile, touching: kept apart.
            det(400.0, 10.0, 500.0, 22.0, 0.7, 0),
            det(400.0, 21.0, 500.0, 33.0, 0.7, 0),
            // A long line cut by a tile edge: two pieces overlapping a little, lined up.
            det(600.0, 200.0, 700.0, 212.0, 0.6, 2),
            det(690.0, 201.0, 800.0, 213.0, 0.65, 3),
            // Far away, alone.
            det(1000.0, 300.0, 1010.0, 310.0, 0.5, 4),
        ]);
        let boxes: Vec<(BBox, f32)> = merged.iter().map(|d| (d.bbox, d.score)).collect();
        assert_eq!(
            boxes,
            vec![
                (BBox::new(100.0, 50.0, 160.0, 70.0), 0.9),
                (BBox::new(400.0, 10.0, 500.0, 22.0), 0.7),
                (BBox::new(400.0, 21.0, 500.0, 33.0), 0.7),
                (BBox::new(600.0, 200.0, 800.0, 213.0), 0.65),
                (BBox::new(1000.0, 300.0, 1010.0, 310.0), 0.5),
            ]
        );
    }

    #[test]
    fn merging_chains_over_three_tiles() {
        // A banner across three tiles: pieces 0–1 and 1–2 overlap, 0 and 2 do not.
        let merged = merge_text_boxes(vec![
            det(0.0, 100.0, 300.0, 120.0, 0.7, 0),
            det(280.0, 101.0, 580.0, 121.0, 0.8, 1),
            det(560.0, 100.0, 900.0, 119.0, 0.6, 2),
        ]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].bbox, BBox::new(0.0, 100.0, 900.0, 121.0));
        assert_eq!(merged[0].score, 0.8);
    }

    #[test]
    fn stacked_lines_from_two_tiles_that_barely_touch_stay_apart() {
        // Lines one above the other, overlapping by 1 px of 12: neither covered nor on the same
        // rows, though one spans the other's width.
        let merged = merge_text_boxes(vec![
            det(100.0, 10.0, 200.0, 22.0, 0.7, 0),
            det(100.0, 21.0, 160.0, 33.0, 0.7, 1),
        ]);
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn lines_of_one_poster_become_one_block() {
        let line = |x1: f32, y1: f32, x2: f32, y2: f32, score: f32| Detection {
            bbox: BBox::new(x1, y1, x2, y2),
            score,
            class_id: 0,
        };
        let blocks = group_lines(vec![
            // A poster: a title and two shorter lines of small print under it, 1–2 px apart.
            line(722.0, 162.0, 760.0, 180.0, 0.99),
            line(726.0, 182.0, 756.0, 190.0, 0.97),
            line(728.0, 191.0, 750.0, 197.0, 0.8),
            // A shop sign far above: a gap of 60 px, more than a line spacing.
            line(720.0, 80.0, 800.0, 102.0, 0.98),
            // Two signs side by side on one row: no horizontal overlap.
            line(100.0, 300.0, 200.0, 320.0, 0.9),
            line(205.0, 300.0, 300.0, 320.0, 0.85),
            // A line under both, 2 px down: 20 of its 60 px under the left sign (too little), 35
            // under the right one, which it joins.
            line(180.0, 322.0, 240.0, 334.0, 0.7),
        ]);
        let boxes: Vec<BBox> = blocks.iter().map(|d| d.bbox).collect();
        assert_eq!(
            boxes,
            vec![
                BBox::new(722.0, 162.0, 760.0, 197.0),
                BBox::new(720.0, 80.0, 800.0, 102.0),
                BBox::new(100.0, 300.0, 200.0, 320.0),
                BBox::new(180.0, 300.0, 300.0, 334.0),
            ]
        );
        assert_eq!(blocks[0].score, 0.99);
    }

    #[test]
    fn detail_boxes_map_to_the_analysis_frame() {
        // A 1920 × 1080 source analysed at 640 × 360; the detail is the source's region from
        // (960, 270). A box at detail (30, 60)–(90, 90) is source (990, 330)–(1050, 360), and a
        // third of that in the analysis frame.
        let whole = vec![0u8; 640 * 360 * 3];
        let detail = vec![0u8; 480 * 270 * 3];
        let frame = TiledFrame {
            whole: ImageRef {
                rgb: &whole,
                width: 640,
                height: 360,
            },
            detail: ImageRef {
                rgb: &detail,
                width: 480,
                height: 270,
            },
            region: rect(0, 0, 480, 270),
            detail_origin: (960, 270),
            full_size: (1920, 1080),
            zones: &[],
        };
        let b = frame.to_whole(&BBox::new(30.0, 60.0, 90.0, 90.0));
        let want = BBox::new(330.0, 110.0, 350.0, 120.0);
        assert!(
            [
                (b.x1, want.x1),
                (b.y1, want.y1),
                (b.x2, want.x2),
                (b.y2, want.y2)
            ]
            .iter()
            .all(|(g, w)| (g - w).abs() < 1e-3),
            "{b:?}"
        );
        // The same picture both ways: boxes stay where they are.
        let image = frame.whole;
        let same = TiledFrame::same(image, &BBox::new(0.0, 0.0, 0.5, 0.5), &[]).expect("non-empty");
        assert_eq!(same.region, rect(0, 0, 320, 180));
        assert_eq!(
            same.to_whole(&BBox::new(1.0, 2.0, 3.0, 4.0)),
            BBox::new(1.0, 2.0, 3.0, 4.0)
        );
    }

    #[test]
    fn tiles_that_miss_every_zone_are_left_out() {
        // A slanted band falling from the right edge's top to the left edge's middle, drawn as
        // a zone on a 1280 × 720 frame: in pixels its lower edge runs from (0, 360) to
        // (1280, 72). Its bounding box is 1280 × 360 (10 tiles at ×2, see the golden layout
        // above), but the band never reaches the bottom-right tile (960..1280 × 168..360).
        let rgb = vec![0u8; 1280 * 720 * 3];
        let image = ImageRef {
            rgb: &rgb,
            width: 1280,
            height: 720,
        };
        let zones = vec![vec![[0.0, 0.3], [1.0, 0.0], [1.0, 0.1], [0.0, 0.5]]];
        let frame =
            TiledFrame::same(image, &BBox::new(0.0, 0.0, 1.0, 0.5), &zones).expect("region");
        let kept: Vec<(u32, u32)> = frame
            .layout(2.0, 640, 384)
            .iter()
            .map(|t| (t.rect.x, t.rect.y))
            .collect();
        assert_eq!(
            kept,
            vec![
                (0, 0),
                (240, 0),
                (480, 0),
                (720, 0),
                (960, 0),
                (0, 168),
                (240, 168),
                (480, 168),
                (720, 168)
            ]
        );
        // Without zones, every tile of the region.
        let all = TiledFrame::same(image, &BBox::new(0.0, 0.0, 1.0, 0.5), &[]).expect("region");
        assert_eq!(all.layout(2.0, 640, 384).len(), 10);
    }

    #[test]
    fn rectangles_meet_polygons_by_vertex_edge_or_containment() {
        let r = BBox::new(10.0, 10.0, 20.0, 20.0);
        let tri = |pts: [[f32; 2]; 3]| pts.to_vec();
        // A polygon vertex inside the rectangle.
        assert!(rect_meets_polygon(
            &r,
            &tri([[15.0, 15.0], [40.0, 0.0], [40.0, 40.0]])
        ));
        // The rectangle inside a big polygon.
        assert!(rect_meets_polygon(
            &r,
            &tri([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
        ));
        // Edges crossing, no vertex inside the other.
        assert!(rect_meets_polygon(
            &r,
            &[[0.0, 14.0], [30.0, 14.0], [30.0, 16.0], [0.0, 16.0]]
        ));
        // Apart.
        assert!(!rect_meets_polygon(
            &r,
            &tri([[30.0, 0.0], [40.0, 0.0], [40.0, 40.0]])
        ));
        assert!(!rect_meets_polygon(&r, &[]));
    }

    #[test]
    fn the_region_is_found_inside_a_larger_detail() {
        // Ingest cut the detail (0.0, 0.25)–(1.0, 0.75) of a 1280 × 720 source, widened to even
        // pixels: from (0, 180), 1280 × 360. A detector tiles (0.5, 0.3)–(0.75, 0.9): source
        // (640, 216)–(960, 648), cut to the detail's bottom at 540.
        let whole = vec![0u8; 640 * 360 * 3];
        let detail = vec![0u8; 1280 * 360 * 3];
        let tiling = Tiling {
            region: BBox::new(0.5, 0.3, 0.75, 0.9),
            scale: 2.0,
            zones: Vec::new(),
        };
        let whole = ImageRef {
            rgb: &whole,
            width: 640,
            height: 360,
        };
        let detail = ImageRef {
            rgb: &detail,
            width: 1280,
            height: 360,
        };
        let frame = TiledFrame::with_detail(whole, detail, (0, 180), (1280, 720), &tiling)
            .expect("they meet");
        assert_eq!(frame.region, rect(640, 36, 320, 324));
        let far = Tiling {
            region: BBox::new(0.0, 0.8, 1.0, 1.0),
            ..tiling.clone()
        };
        assert!(TiledFrame::with_detail(whole, detail, (0, 180), (1280, 720), &far).is_none());
    }

    #[test]
    fn crop_copies_the_rows_of_the_rect() {
        // 4 × 3 image, pixel value = 10·y + x on every channel.
        let rgb: Vec<u8> = (0..3u8)
            .flat_map(|y| (0..4u8).flat_map(move |x| [10 * y + x; 3]))
            .collect();
        let crop = rect(1, 1, 2, 2).crop_rgb(&rgb, 4);
        assert_eq!(crop, vec![11, 11, 11, 12, 12, 12, 21, 21, 21, 22, 22, 22]);
    }
}
