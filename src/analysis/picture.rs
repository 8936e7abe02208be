//! The picture of a camera's approved scene, kept with its signage baseline.
//!
//! The baseline's regions are what the detectors found while an admin approved the scene; the
//! detectors miss some things on some frames (small or faint print, text on a parked bicycle or
//! a shop's awning) and find them later, when each would be reported as a new sign. The picture
//! remembers what the whole scene looked like: a sign detection whose patch still looks as it
//! did then is part of the approved scene, whichever detector found it and whenever.
//!
//! "Looks as it did" is the normalised cross-correlation of the patch's brightness in the
//! picture and in the frame, which ignores a change of gain and offset (lighting drift, exposure).
//! A poster put up since differs in content and scores low (measured on the eval's scenes: new
//! posters 0.57 and below, unchanged patches 0.91 and above while nobody stands in front). A patch too small or too flat to
//! judge is never called unchanged, so the picture can only remove detections, and only where it
//! has evidence.
//!
//! Pure: pictures and frames come in as pixels; reading and writing the PNG is the caller's.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::domain::BBox;

/// Widest picture kept: the analysis frame's default width. Signs are compared at the analysis
/// frame's resolution anyway.
pub const PICTURE_MAX_WIDTH: u32 = 640;

/// Correlation at or above which a patch is unchanged.
pub const UNCHANGED_SIMILARITY: f32 = 0.85;

/// A patch needs at least this many picture pixels to be judged.
const MIN_PIXELS: usize = 16;

/// A patch needs at least this standard deviation of brightness (0..255), in the picture and in
/// the frame, to be judged: on a flat patch the correlation is noise.
const MIN_CONTRAST: f32 = 2.0;

/// A packed RGB image (stride = 3 × width), as frames and snapshots carry them.
#[derive(Debug, Clone, Copy)]
pub struct RgbView<'a> {
    pub width: u32,
    pub height: u32,
    pub rgb: &'a [u8],
}

impl RgbView<'_> {
    fn is_valid(&self) -> bool {
        self.width > 0 && self.height > 0 && self.rgb.len() >= self.pixels() * 3
    }

    fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Mean brightness (BT.601 luma) over the source rectangle `[x0, x1) × [y0, y1)`.
    fn mean_luma(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> f32 {
        let w = self.width as usize;
        let mut sum = 0u32;
        for y in y0..y1 {
            for px in self.rgb[(y * w + x0) * 3..(y * w + x1) * 3].chunks_exact(3) {
                sum += 77 * u32::from(px[0]) + 150 * u32::from(px[1]) + 29 * u32::from(px[2]);
            }
        }
        let n = ((x1 - x0) * (y1 - y0)).max(1) as f32;
        sum as f32 / 256.0 / n
    }

    /// The brightness of picture pixel `(x, y)` of a `pw × ph` grid laid over this image: the
    /// mean of the source pixels under it.
    fn grid_luma(&self, pw: usize, ph: usize, x: usize, y: usize) -> f32 {
        let (w, h) = (self.width as usize, self.height as usize);
        let span = |i: usize, n: usize, size: usize| {
            let a = (i * size / n).min(size - 1);
            let b = ((i + 1) * size / n).clamp(a + 1, size);
            (a, b)
        };
        let (x0, x1) = span(x, pw, w);
        let (y0, y1) = span(y, ph, h);
        self.mean_luma(x0, x1, y0, y1)
    }
}

/// Why picture pixels are unusable.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PictureError {
    #[error("the picture is empty ({width} × {height})")]
    Empty { width: u32, height: u32 },
    #[error("{got} grey values for a {width} × {height} picture (needs {want})")]
    Size {
        width: u32,
        height: u32,
        got: usize,
        want: usize,
    },
}

/// A grey picture of the approved scene.
#[derive(Clone, PartialEq)]
pub struct ScenePicture {
    width: u32,
    height: u32,
    grey: Arc<[u8]>,
}

impl fmt::Debug for ScenePicture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScenePicture")
            .field("size", &(self.width, self.height))
            .finish_non_exhaustive()
    }
}

impl ScenePicture {
    /// A picture from packed grey rows.
    pub fn new(width: u32, height: u32, grey: Vec<u8>) -> Result<Self, PictureError> {
        if width == 0 || height == 0 {
            return Err(PictureError::Empty { width, height });
        }
        let want = width as usize * height as usize;
        if grey.len() != want {
            return Err(PictureError::Size {
                width,
                height,
                got: grey.len(),
                want,
            });
        }
        Ok(Self {
            width,
            height,
            grey: grey.into(),
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Packed grey rows.
    pub fn grey(&self) -> &[u8] {
        &self.grey
    }

    /// The per-pixel median brightness of `frames`, at most [`PICTURE_MAX_WIDTH`] wide, at the
    /// first frame's aspect ratio. Someone walking through the capture is in front of a spot on
    /// a minority of the frames and leaves no trace there (with three frames or more). `None`
    /// without a usable frame.
    pub fn median_of(frames: &[RgbView<'_>]) -> Option<Self> {
        let frames: Vec<&RgbView<'_>> = frames.iter().filter(|f| f.is_valid()).collect();
        let first = frames.first()?;
        let width = first.width.min(PICTURE_MAX_WIDTH);
        let height = ((u64::from(first.height) * u64::from(width) + u64::from(first.width) / 2)
            / u64::from(first.width))
        .max(1) as u32;
        let (pw, ph) = (width as usize, height as usize);
        let mut grey = Vec::with_capacity(pw * ph);
        let mut values = vec![0f32; frames.len()];
        for y in 0..ph {
            for x in 0..pw {
                for (v, f) in values.iter_mut().zip(&frames) {
                    *v = f.grid_luma(pw, ph, x, y);
                }
                values.sort_by(f32::total_cmp);
                grey.push(values[values.len() / 2].round().clamp(0.0, 255.0) as u8);
            }
        }
        Self::new(width, height, grey).ok()
    }

    /// How alike the brightness of `bbox` (normalised) is in the picture and in `frame`: the
    /// normalised cross-correlation over the picture's pixels inside the box (−1..1). `None`
    /// when the patch has fewer than 16 pixels or is flat in either image, or the frame is
    /// unusable.
    pub fn similarity(&self, frame: RgbView<'_>, bbox: &BBox) -> Option<f32> {
        if !frame.is_valid() {
            return None;
        }
        let (pw, ph) = (self.width as usize, self.height as usize);
        let bound = |v: f32, n: usize, up: bool| {
            let p = f64::from(v.clamp(0.0, 1.0)) * n as f64;
            (if up { p.ceil() } else { p.floor() }) as usize
        };
        let (x0, x1) = (bound(bbox.x1, pw, false), bound(bbox.x2, pw, true).min(pw));
        let (y0, y1) = (bound(bbox.y1, ph, false), bound(bbox.y2, ph, true).min(ph));
        if x1 <= x0 || y1 <= y0 || (x1 - x0) * (y1 - y0) < MIN_PIXELS {
            return None;
        }
        let n = ((x1 - x0) * (y1 - y0)) as f64;
        let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0f64, 0f64, 0f64, 0f64, 0f64);
        for y in y0..y1 {
            for x in x0..x1 {
                let a = f64::from(self.grey[y * pw + x]);
                let b = f64::from(frame.grid_luma(pw, ph, x, y));
                sa += a;
                sb += b;
                saa += a * a;
                sbb += b * b;
                sab += a * b;
            }
        }
        let var_a = (saa - sa * sa / n) / n;
        let var_b = (sbb - sb * sb / n) / n;
        let min_var = f64::from(MIN_CONTRAST * MIN_CONTRAST);
        if var_a < min_var || var_b < min_var {
            return None;
        }
        let cov = (sab - sa * sb / n) / n;
        Some((cov / (var_a * var_b).sqrt()) as f32)
    }

    /// Whether `bbox` looks in `frame` as it did in the picture (similarity at or above
    /// [`UNCHANGED_SIMILARITY`]).
    pub fn unchanged(&self, frame: RgbView<'_>, bbox: &BBox) -> bool {
        self.similarity(frame, bbox)
            .is_some_and(|s| s >= UNCHANGED_SIMILARITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u32 = 64;
    const H: u32 = 36;

    /// A grey street with a striped patch (a sign, a bicycle) at `(20..30, 10..20)`, lit by
    /// `gain`, with `walker` (a dark block) at its x position when given.
    fn street(gain: f32, stripes: bool, walker: Option<usize>) -> Vec<u8> {
        let mut rgb = Vec::with_capacity((W * H * 3) as usize);
        for y in 0..H as usize {
            for x in 0..W as usize {
                let mut v = 100.0 + (x % 7) as f32;
                if (20..30).contains(&x) && (10..20).contains(&y) {
                    v = if stripes {
                        if (x + y) % 4 < 2 {
                            200.0
                        } else {
                            60.0
                        }
                    } else if x < 25 {
                        220.0
                    } else {
                        40.0
                    };
                }
                if walker.is_some_and(|w| (w..w + 8).contains(&x)) {
                    v = 20.0;
                }
                let g = (v * gain).clamp(0.0, 255.0) as u8;
                rgb.extend_from_slice(&[g, g, g]);
            }
        }
        rgb
    }

    fn view(rgb: &[u8]) -> RgbView<'_> {
        RgbView {
            width: W,
            height: H,
            rgb,
        }
    }

    fn patch() -> BBox {
        BBox::new(
            20.0 / W as f32,
            10.0 / H as f32,
            30.0 / W as f32,
            20.0 / H as f32,
        )
    }

    #[test]
    fn the_median_leaves_out_someone_walking_through() {
        let frames: Vec<Vec<u8>> = [Some(20), None, Some(40), None, None]
            .iter()
            .map(|w| street(1.0, true, *w))
            .collect();
        let views: Vec<RgbView<'_>> = frames.iter().map(|f| view(f)).collect();
        let picture = ScenePicture::median_of(&views).expect("picture");
        let empty = ScenePicture::median_of(&[view(&street(1.0, true, None))]).expect("picture");
        assert_eq!(picture, empty);
        assert_eq!((picture.width(), picture.height()), (W, H));
    }

    #[test]
    fn a_patch_lit_differently_is_unchanged_and_a_new_one_is_not() {
        let picture = ScenePicture::median_of(&[view(&street(1.0, true, None))]).expect("picture");
        let dimmer = street(0.6, true, None);
        let s = picture.similarity(view(&dimmer), &patch()).expect("judged");
        assert!(s > 0.99, "{s}");
        assert!(picture.unchanged(view(&dimmer), &patch()));
        let replaced = street(1.0, false, None);
        let s = picture
            .similarity(view(&replaced), &patch())
            .expect("judged");
        assert!(s < 0.5, "{s}");
        assert!(!picture.unchanged(view(&replaced), &patch()));
    }

    #[test]
    fn small_or_flat_patches_are_never_unchanged() {
        let frame = street(1.0, true, None);
        let picture = ScenePicture::median_of(&[view(&frame)]).expect("picture");
        let tiny = BBox::new(0.33, 0.3, 0.36, 0.36);
        assert_eq!(picture.similarity(view(&frame), &tiny), None);
        // A patch that was flat in the picture, now with stripes: no evidence either way.
        let flat = ScenePicture::new(W, H, vec![90; (W * H) as usize]).expect("picture");
        assert_eq!(flat.similarity(view(&frame), &patch()), None);
        assert!(!flat.unchanged(view(&frame), &patch()));
    }

    #[test]
    fn frames_of_another_size_are_compared_on_the_pictures_grid() {
        // The picture at half the frame's size; the frame twice as large, each picture pixel
        // covering 2 × 2 frame pixels of the same value.
        let small = street(1.0, true, None);
        let picture = ScenePicture::median_of(&[view(&small)]).expect("picture");
        let mut large = Vec::with_capacity(small.len() * 4);
        for y in 0..(H * 2) as usize {
            for x in 0..(W * 2) as usize {
                let i = ((y / 2) * W as usize + x / 2) * 3;
                large.extend_from_slice(&small[i..i + 3]);
            }
        }
        let big = RgbView {
            width: W * 2,
            height: H * 2,
            rgb: &large,
        };
        let s = picture.similarity(big, &patch()).expect("judged");
        assert!(s > 0.99, "{s}");
        // And a picture is never wider than 640 pixels.
        let wide = vec![128u8; 1280 * 720 * 3];
        let p = ScenePicture::median_of(&[RgbView {
            width: 1280,
            height: 720,
            rgb: &wide,
        }])
        .expect("picture");
        assert_eq!((p.width(), p.height()), (640, 360));
    }

    #[test]
    fn bad_pixels_are_refused() {
        assert_eq!(
            ScenePicture::new(4, 4, vec![0; 15])
                .unwrap_err()
                .to_string(),
            "15 grey values for a 4 × 4 picture (needs 16)"
        );
        assert!(ScenePicture::new(0, 4, Vec::new()).is_err());
        assert!(ScenePicture::median_of(&[RgbView {
            width: 4,
            height: 4,
            rgb: &[0; 10],
        }])
        .is_none());
    }
}
