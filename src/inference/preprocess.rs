//! Pure image pre-processing for detectors: bilinear resampling of packed RGB frames into a
//! letterboxed, normalised NCHW `f32` model input (and plain RGB resizing for callers that need
//! an image). No I/O, no ONNX Runtime.
//!
//! Resampling follows OpenCV's `INTER_LINEAR` (half-pixel centres, edge pixels repeated) but keeps
//! the interpolated value in `f32` instead of rounding it to `u8` before normalising.

use crate::inference::decode::Letterbox;

/// Channel order the model expects in its input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorOrder {
    Rgb,
    Bgr,
}

/// `value = (pixel × scale − mean[c]) / std[c]`, with `c` the model's channel index (so for a
/// BGR model `mean[0]` is the blue mean).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    /// Multiplies the 0..255 pixel value first, e.g. `1/255`.
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalize {
    /// Pixels scaled to 0..1, nothing else (YOLO exports).
    pub const UNIT: Normalize = Normalize {
        scale: 1.0 / 255.0,
        mean: [0.0; 3],
        std: [1.0; 3],
    };

    /// Pixels scaled to 0..1, then ImageNet mean and std as PP-OCR's detector configs list them
    /// (`0.485, 0.456, 0.406` / `0.229, 0.224, 0.225`, applied in the model's channel order).
    pub const IMAGENET: Normalize = Normalize {
        scale: 1.0 / 255.0,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };

    /// `(a, b)` per channel with `value = pixel · a + b`.
    fn affine(&self) -> ([f32; 3], [f32; 3]) {
        let a = [0, 1, 2].map(|c| self.scale / self.std[c]);
        let b = [0, 1, 2].map(|c| -self.mean[c] / self.std[c]);
        (a, b)
    }
}

/// One output coordinate's bilinear taps: source indices `i0`, `i1` (already multiplied by the
/// element stride) and the weight of `i1`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    i0: usize,
    i1: usize,
    w1: f32,
}

/// The tap for output coordinate `o` when `src` pixels are resampled to `dst` (OpenCV
/// `INTER_LINEAR`: `s = (o + 0.5)·src/dst − 0.5`, clamped to the edge pixels).
fn tap(o: usize, src: usize, dst: usize, stride: usize) -> Tap {
    let s = ((o as f32 + 0.5) * (src as f32 / dst as f32) - 0.5).max(0.0);
    let i0 = s as usize; // s ≥ 0, so this is floor
    if i0 + 1 >= src {
        let last = (src - 1) * stride;
        Tap {
            i0: last,
            i1: last,
            w1: 0.0,
        }
    } else {
        Tap {
            i0: i0 * stride,
            i1: (i0 + 1) * stride,
            w1: s - i0 as f32,
        }
    }
}

/// Calls `emit(ox, [r, g, b])` for every pixel of row `oy` of `rgb` (`src_w × src_h`) resampled
/// to `dst_h` rows along the precomputed column taps `xs`.
#[inline]
fn resample_row(
    rgb: &[u8],
    src_w: usize,
    src_h: usize,
    dst_h: usize,
    oy: usize,
    xs: &[Tap],
    mut emit: impl FnMut(usize, [f32; 3]),
) {
    let stride = 3 * src_w;
    let ty = tap(oy, src_h, dst_h, stride);
    let row0 = &rgb[ty.i0..ty.i0 + stride];
    let row1 = &rgb[ty.i1..ty.i1 + stride];
    let wy = ty.w1;
    for (ox, t) in xs.iter().enumerate() {
        let mut px = [0.0f32; 3];
        for (c, v) in px.iter_mut().enumerate() {
            let p00 = f32::from(row0[t.i0 + c]);
            let p01 = f32::from(row0[t.i1 + c]);
            let p10 = f32::from(row1[t.i0 + c]);
            let p11 = f32::from(row1[t.i1 + c]);
            let top = p00 + (p01 - p00) * t.w1;
            let bottom = p10 + (p11 - p10) * t.w1;
            *v = top + (bottom - top) * wy;
        }
        emit(ox, px);
    }
}

/// Draws one frame into a model input slot: `out` is `[3, lb.dst_h, lb.dst_w]` (one batch item
/// of an NCHW tensor). The frame (`rgb`, packed rows, stride 3 × `src_w`) is bilinearly resized to
/// `lb.content_w() × lb.content_h()` at `(lb.pad_x, lb.pad_y)`; the rest is `pad_value` on every
/// channel (ultralytics uses 114). Each value is `(pixel × norm.scale − norm.mean[c]) /
/// norm.std[c]` for model channel `c` in `order`.
///
/// `src_w`/`src_h` describe `rgb` and normally equal `lb.src_w`/`lb.src_h`; the mapping uses the
/// former so a letterbox built for another size still fills its content area.
///
/// # Panics
///
/// If `out.len() != 3 × lb.dst_w × lb.dst_h` or `rgb.len() < 3 × src_w × src_h`: both are sized
/// by the caller, so a mismatch is a bug there.
#[allow(clippy::too_many_arguments)] // the signature the pipeline calls
pub fn letterbox_into_nchw(
    rgb: &[u8],
    src_w: u32,
    src_h: u32,
    lb: &Letterbox,
    order: ColorOrder,
    norm: &Normalize,
    pad_value: u8,
    out: &mut [f32],
) {
    let (dw, dh) = (lb.dst_w as usize, lb.dst_h as usize);
    let plane = dw * dh;
    assert_eq!(
        out.len(),
        3 * plane,
        "letterbox_into_nchw: out holds {} values, a {dw}x{dh} 3-channel image needs {}",
        out.len(),
        3 * plane
    );
    let (sw, sh) = (src_w as usize, src_h as usize);
    assert!(
        rgb.len() >= 3 * sw * sh,
        "letterbox_into_nchw: rgb holds {} bytes, a {sw}x{sh} RGB image needs {}",
        rgb.len(),
        3 * sw * sh
    );
    let (a, b) = norm.affine();
    // Model channel c reads source channel src_of[c].
    let src_of = match order {
        ColorOrder::Rgb => [0, 1, 2],
        ColorOrder::Bgr => [2, 1, 0],
    };
    let (p0, rest) = out.split_at_mut(plane);
    let (p1, p2) = rest.split_at_mut(plane);
    let mut planes = [p0, p1, p2];
    for (c, p) in planes.iter_mut().enumerate() {
        p.fill(f32::from(pad_value) * a[c] + b[c]);
    }
    if sw == 0 || sh == 0 {
        return;
    }
    let x0 = (lb.pad_x.max(0.0) as usize).min(dw);
    let y0 = (lb.pad_y.max(0.0) as usize).min(dh);
    let cw = (lb.content_w() as usize).min(dw - x0);
    let ch = (lb.content_h() as usize).min(dh - y0);
    if cw == 0 || ch == 0 {
        return;
    }
    let xs: Vec<Tap> = (0..cw).map(|ox| tap(ox, sw, cw, 3)).collect();
    for oy in 0..ch {
        let base = (y0 + oy) * dw + x0;
        resample_row(rgb, sw, sh, ch, oy, &xs, |ox, px| {
            for (c, p) in planes.iter_mut().enumerate() {
                p[base + ox] = px[src_of[c]] * a[c] + b[c];
            }
        });
    }
}

/// Bilinearly resizes a packed RGB image (stride 3 × `src_w`) to `dst_w × dst_h`, rounding to
/// `u8`. An empty source gives a black image.
///
/// # Panics
///
/// If `rgb.len() < 3 × src_w × src_h`.
pub fn resize_rgb(rgb: &[u8], src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Vec<u8> {
    let (sw, sh) = (src_w as usize, src_h as usize);
    let (dw, dh) = (dst_w as usize, dst_h as usize);
    assert!(
        rgb.len() >= 3 * sw * sh,
        "resize_rgb: rgb holds {} bytes, a {sw}x{sh} RGB image needs {}",
        rgb.len(),
        3 * sw * sh
    );
    let mut out = vec![0u8; 3 * dw * dh];
    if sw == 0 || sh == 0 || dw == 0 {
        return out;
    }
    let xs: Vec<Tap> = (0..dw).map(|ox| tap(ox, sw, dw, 3)).collect();
    for (oy, row) in out.chunks_exact_mut(3 * dw).enumerate() {
        resample_row(rgb, sw, sh, dh, oy, &xs, |ox, px| {
            for (c, v) in px.into_iter().enumerate() {
                row[3 * ox + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: Normalize = Normalize {
        scale: 1.0,
        mean: [0.0; 3],
        std: [1.0; 3],
    };

    /// `[r, g, b]` of pixel (x, y) from a planar `[3, h, w]` buffer.
    fn at(out: &[f32], w: usize, h: usize, x: usize, y: usize) -> [f32; 3] {
        [0, 1, 2].map(|c| out[c * w * h + y * w + x])
    }

    #[test]
    fn taps_match_opencv_inter_linear() {
        // Upscale 2 → 4: source positions 0 (clamped), 0.25, 0.75, 1 (clamped).
        let t: Vec<Tap> = (0..4).map(|o| tap(o, 2, 4, 1)).collect();
        assert_eq!(
            t,
            vec![
                Tap {
                    i0: 0,
                    i1: 1,
                    w1: 0.0
                },
                Tap {
                    i0: 0,
                    i1: 1,
                    w1: 0.25
                },
                Tap {
                    i0: 0,
                    i1: 1,
                    w1: 0.75
                },
                Tap {
                    i0: 1,
                    i1: 1,
                    w1: 0.0
                },
            ]
        );
        // Downscale 4 → 2: positions 0.5 and 2.5.
        assert_eq!(
            tap(0, 4, 2, 3),
            Tap {
                i0: 0,
                i1: 3,
                w1: 0.5
            }
        );
        assert_eq!(
            tap(1, 4, 2, 3),
            Tap {
                i0: 6,
                i1: 9,
                w1: 0.5
            }
        );
        // Same size: exact pixels.
        assert!((0..7).all(|o| tap(o, 7, 7, 1)
            == Tap {
                i0: o,
                i1: (o + 1).min(6),
                w1: 0.0
            }));
    }

    #[test]
    fn same_size_letterbox_copies_pixels_and_pads() {
        // 4×2 image into a 4×4 canvas: scale 1, one pad row above and one below.
        let rgb: Vec<u8> = (0..24).map(|v| v as u8 * 10).collect();
        let lb = Letterbox::fit(4, 2, 4, 4);
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 1.0));
        let mut out = vec![f32::NAN; 3 * 16];
        letterbox_into_nchw(&rgb, 4, 2, &lb, ColorOrder::Rgb, &RAW, 114, &mut out);
        for x in 0..4 {
            assert_eq!(at(&out, 4, 4, x, 0), [114.0; 3]);
            assert_eq!(at(&out, 4, 4, x, 3), [114.0; 3]);
            for y in 0..2 {
                let i = 3 * (y * 4 + x);
                let want = [rgb[i], rgb[i + 1], rgb[i + 2]].map(f32::from);
                assert_eq!(at(&out, 4, 4, x, y + 1), want, "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn bgr_and_normalisation() {
        let rgb = [255u8, 0, 51]; // one pixel
        let lb = Letterbox::stretch(1, 1, 2, 1);
        let norm = Normalize {
            scale: 1.0 / 255.0,
            mean: [0.5, 0.0, 0.1],
            std: [0.5, 1.0, 2.0],
        };
        let mut out = vec![0.0; 6];
        letterbox_into_nchw(&rgb, 1, 1, &lb, ColorOrder::Bgr, &norm, 0, &mut out);
        // Model channel 0 is blue: (0.2 − 0.5)/0.5; 1 green: 0; 2 red: (1 − 0.1)/2.
        let want = [-0.6, -0.6, 0.0, 0.0, 0.45, 0.45];
        assert!(
            out.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6),
            "{out:?}"
        );
        letterbox_into_nchw(
            &rgb,
            1,
            1,
            &lb,
            ColorOrder::Rgb,
            &Normalize::UNIT,
            0,
            &mut out,
        );
        let want = [1.0, 1.0, 0.0, 0.0, 0.2, 0.2];
        assert!(
            out.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6),
            "{out:?}"
        );
    }

    #[test]
    fn downscaled_letterbox_interpolates() {
        // 4×2 grey ramp (0, 40, 80, 120 across) into a 2×2 canvas: scale 0.5, content 2×1,
        // pad 0 above (round(0.5 − 0.1) = 0) and 1 below. Columns sample 0.5 and 2.5.
        let mut rgb = Vec::new();
        for _ in 0..2 {
            for v in [0u8, 40, 80, 120] {
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        let lb = Letterbox::fit(4, 2, 2, 2);
        assert_eq!((lb.content_w(), lb.content_h(), lb.pad_y), (2, 1, 0.0));
        let mut out = vec![0.0; 12];
        letterbox_into_nchw(&rgb, 4, 2, &lb, ColorOrder::Rgb, &RAW, 114, &mut out);
        assert_eq!(at(&out, 2, 2, 0, 0), [20.0; 3]);
        assert_eq!(at(&out, 2, 2, 1, 0), [100.0; 3]);
        assert_eq!(at(&out, 2, 2, 0, 1), [114.0; 3]);
    }

    #[test]
    fn upscaled_letterbox_with_side_padding() {
        // 2×1 (black, white) into 8×2: scale 2, content 4×2 centred with 2 columns each side.
        let rgb = [0u8, 0, 0, 200, 200, 200];
        let lb = Letterbox::fit(2, 1, 8, 2);
        assert_eq!(
            (lb.pad_x, lb.pad_y, lb.content_w(), lb.content_h()),
            (2.0, 0.0, 4, 2)
        );
        let mut out = vec![0.0; 3 * 16];
        letterbox_into_nchw(&rgb, 2, 1, &lb, ColorOrder::Rgb, &RAW, 7, &mut out);
        for y in 0..2 {
            let row: Vec<f32> = (0..8).map(|x| at(&out, 8, 2, x, y)[1]).collect();
            assert_eq!(
                row,
                vec![7.0, 7.0, 0.0, 50.0, 150.0, 200.0, 7.0, 7.0],
                "row {y}"
            );
        }
    }

    #[test]
    fn empty_source_gives_padding() {
        let lb = Letterbox::fit(0, 0, 2, 2);
        let mut out = vec![0.0; 12];
        letterbox_into_nchw(&[], 0, 0, &lb, ColorOrder::Rgb, &RAW, 3, &mut out);
        assert!(out.iter().all(|&v| v == 3.0));
    }

    #[test]
    #[should_panic(expected = "out holds 11 values")]
    fn wrong_output_size_panics() {
        let lb = Letterbox::fit(1, 1, 2, 2);
        let mut out = vec![0.0; 11];
        letterbox_into_nchw(&[0; 3], 1, 1, &lb, ColorOrder::Rgb, &RAW, 0, &mut out);
    }

    #[test]
    fn resize_rgb_matches_hand_values() {
        // 2×1 → 4×1: 0, 25, 75, 100 per channel; blue is constant.
        let rgb = [0u8, 100, 9, 100, 0, 9];
        assert_eq!(
            resize_rgb(&rgb, 2, 1, 4, 1),
            vec![0, 100, 9, 25, 75, 9, 75, 25, 9, 100, 0, 9]
        );
        // 1 row → 3 rows repeats it; identity is exact.
        assert_eq!(resize_rgb(&rgb, 2, 1, 2, 3), [rgb, rgb, rgb].concat());
        assert_eq!(resize_rgb(&rgb, 2, 1, 2, 1), rgb.to_vec());
        // Rounding: 2 → 1 averages 1 and 2 to 1.5 → 2.
        assert_eq!(resize_rgb(&[1, 1, 1, 2, 2, 2], 2, 1, 1, 1), vec![2, 2, 2]);
        assert_eq!(resize_rgb(&[], 0, 0, 2, 1), vec![0; 6]);
    }

    #[test]
    fn realistic_frame_stays_in_range() {
        // 1920×1080 gradient into 640×640: padding rows exact, content within 0..1.
        let (w, h) = (1920u32, 1080u32);
        let rgb: Vec<u8> = (0..(w * h) as usize)
            .flat_map(|i| {
                let (x, y) = (i % w as usize, i / w as usize);
                [(x % 256) as u8, (y % 256) as u8, 128]
            })
            .collect();
        let lb = Letterbox::fit(w, h, 640, 640);
        let mut out = vec![0.0; 3 * 640 * 640];
        letterbox_into_nchw(
            &rgb,
            w,
            h,
            &lb,
            ColorOrder::Rgb,
            &Normalize::UNIT,
            114,
            &mut out,
        );
        let pad = 114.0 / 255.0;
        for y in [0, 139, 500, 639] {
            assert!(at(&out, 640, 640, 10, y)
                .iter()
                .all(|v| (v - pad).abs() < 1e-6));
        }
        assert!(out.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!((at(&out, 640, 640, 10, 140)[2] - 128.0 / 255.0).abs() < 1e-6);
    }
}
