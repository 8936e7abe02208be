//! The mapping between source-image pixels and model-input pixels when a frame is resized into
//! a fixed model input, with ([`Letterbox::fit`]) or without ([`Letterbox::stretch`]) keeping
//! its aspect ratio. [`crate::inference::preprocess`] draws the image with it; decoders' boxes go
//! back through [`Letterbox::to_source`].

use crate::domain::BBox;

/// Source pixel `(x, y)` lands on model-input pixel `(x · scale_x + pad_x, y · scale_y + pad_y)`.
///
/// The resized image occupies `content_w() × content_h()` pixels of the `dst_w × dst_h` canvas
/// from `(pad_x, pad_y)`; the rest is padding. Coordinates are continuous: pixel `i` covers
/// `[i, i + 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Model-input pixels per source pixel, horizontally.
    pub scale_x: f32,
    /// Model-input pixels per source pixel, vertically (equal to `scale_x` for [`Self::fit`]).
    pub scale_y: f32,
    /// Padding columns left of the image (a whole number).
    pub pad_x: f32,
    /// Padding rows above the image (a whole number).
    pub pad_y: f32,
    pub src_w: u32,
    pub src_h: u32,
    pub dst_w: u32,
    pub dst_h: u32,
}

impl Letterbox {
    /// Scales the source to fit inside `dst_w × dst_h` keeping its aspect ratio (up or down) and
    /// centres it, as ultralytics' `LetterBox(auto=False)` does: the resized size is rounded to
    /// whole pixels and the padding is split evenly, the odd pixel going right / bottom.
    ///
    /// A zero source dimension is treated as 1 so the result stays finite.
    pub fn fit(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Self {
        let (sw, sh) = (src_w.max(1) as f32, src_h.max(1) as f32);
        let scale = (dst_w as f32 / sw).min(dst_h as f32 / sh);
        let pad = |dst: u32, src: f32| {
            let content = (src * scale).round().min(dst as f32);
            // ultralytics: left = round(dw - 0.1), so an odd leftover goes to the far side.
            let pad = ((dst as f32 - content) / 2.0 - 0.1).round();
            // Also turns round(-0.1) = -0.0 into 0.0.
            if pad > 0.0 {
                pad
            } else {
                0.0
            }
        };
        Self {
            scale_x: scale,
            scale_y: scale,
            pad_x: pad(dst_w, sw),
            pad_y: pad(dst_h, sh),
            src_w,
            src_h,
            dst_w,
            dst_h,
        }
    }

    /// Stretches the source over the whole `dst_w × dst_h` canvas (separate x and y scales, no
    /// padding), as PP-OCR style and some YOLO pipelines resize.
    ///
    /// A zero source dimension is treated as 1 so the result stays finite.
    pub fn stretch(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Self {
        Self {
            scale_x: dst_w as f32 / src_w.max(1) as f32,
            scale_y: dst_h as f32 / src_h.max(1) as f32,
            pad_x: 0.0,
            pad_y: 0.0,
            src_w,
            src_h,
            dst_w,
            dst_h,
        }
    }

    /// Scales the source by `scale` on both axes and puts it at the top-left corner of the
    /// `dst_w × dst_h` canvas; the rest (right and bottom) is padding. For tiles cut so that
    /// `src · scale` fits the canvas; a source that does not fit is cut off at the canvas edge.
    ///
    /// A scale that is not finite and positive is treated as 1.
    pub fn fixed(src_w: u32, src_h: u32, scale: f32, dst_w: u32, dst_h: u32) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            scale_x: scale,
            scale_y: scale,
            pad_x: 0.0,
            pad_y: 0.0,
            src_w,
            src_h,
            dst_w,
            dst_h,
        }
    }

    /// Width in model-input pixels of the resized image inside the canvas.
    pub fn content_w(&self) -> u32 {
        content(self.src_w, self.scale_x, self.pad_x, self.dst_w)
    }

    /// Height in model-input pixels of the resized image inside the canvas.
    pub fn content_h(&self) -> u32 {
        content(self.src_h, self.scale_y, self.pad_y, self.dst_h)
    }

    /// Maps a box in source pixels to model-input pixels.
    pub fn to_model(&self, b: &BBox) -> BBox {
        BBox::new(
            b.x1 * self.scale_x + self.pad_x,
            b.y1 * self.scale_y + self.pad_y,
            b.x2 * self.scale_x + self.pad_x,
            b.y2 * self.scale_y + self.pad_y,
        )
    }

    /// Maps a box in model-input pixels back to source pixels, clamped to the source image.
    pub fn to_source(&self, b: &BBox) -> BBox {
        let x = |v: f32| (v - self.pad_x) / self.scale_x;
        let y = |v: f32| (v - self.pad_y) / self.scale_y;
        BBox::new(x(b.x1), y(b.y1), x(b.x2), y(b.y2)).clamp(self.src_w as f32, self.src_h as f32)
    }
}

fn content(src: u32, scale: f32, pad: f32, dst: u32) -> u32 {
    let room = (dst as f32 - pad).max(0.0);
    (src as f32 * scale).round().clamp(0.0, room) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_box(got: BBox, want: BBox) {
        let pairs = [
            (got.x1, want.x1),
            (got.y1, want.y1),
            (got.x2, want.x2),
            (got.y2, want.y2),
        ];
        assert!(
            pairs.iter().all(|(g, w)| (g - w).abs() < 1e-3),
            "got {got:?}, want {want:?}"
        );
    }

    #[test]
    fn fit_landscape_into_square() {
        // 1920×1080 into 640×640: scale 1/3, content 640×360, pad 140 top and bottom.
        let lb = Letterbox::fit(1920, 1080, 640, 640);
        assert!((lb.scale_x - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(lb.scale_x, lb.scale_y);
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 140.0));
        assert_eq!((lb.content_w(), lb.content_h()), (640, 360));
        assert_box(
            lb.to_model(&BBox::new(0.0, 0.0, 1920.0, 1080.0)),
            BBox::new(0.0, 140.0, 640.0, 500.0),
        );
    }

    #[test]
    fn fit_odd_padding_matches_ultralytics() {
        // 100×61 into 64×64: scale 0.64, content 64×39 (39.04 rounds down), leftover 25 rows:
        // round(12.5 - 0.1) = 12 above, 13 below.
        let lb = Letterbox::fit(100, 61, 64, 64);
        assert_eq!((lb.content_w(), lb.content_h()), (64, 39));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 12.0));
        // Portrait, upscaled: 10×20 into 64×64: scale 3.2, content 32×64, pad 16 left.
        let lb = Letterbox::fit(10, 20, 64, 64);
        assert_eq!((lb.content_w(), lb.content_h()), (32, 64));
        assert_eq!((lb.pad_x, lb.pad_y), (16.0, 0.0));
    }

    #[test]
    fn stretch_scales_axes_separately() {
        let lb = Letterbox::stretch(1920, 1080, 960, 960);
        assert_eq!((lb.scale_x, lb.scale_y), (0.5, 960.0 / 1080.0));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 0.0));
        assert_eq!((lb.content_w(), lb.content_h()), (960, 960));
        assert_box(
            lb.to_model(&BBox::new(100.0, 108.0, 200.0, 216.0)),
            BBox::new(50.0, 96.0, 100.0, 192.0),
        );
    }

    #[test]
    fn fixed_scale_sits_top_left() {
        // A 320×192 tile at scale 2 fills a 640×384 input exactly; a 100×50 edge tile takes
        // 200×100 of it, padding right and below.
        let lb = Letterbox::fixed(320, 192, 2.0, 640, 384);
        assert_eq!((lb.content_w(), lb.content_h()), (640, 384));
        let lb = Letterbox::fixed(100, 50, 2.0, 640, 384);
        assert_eq!((lb.content_w(), lb.content_h()), (200, 100));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 0.0));
        assert_box(
            lb.to_source(&BBox::new(20.0, 10.0, 120.0, 300.0)),
            BBox::new(10.0, 5.0, 60.0, 50.0),
        );
        assert_eq!(Letterbox::fixed(10, 10, f32::NAN, 64, 64).scale_x, 1.0);
    }

    #[test]
    fn round_trip() {
        let b = BBox::new(12.5, 5.25, 80.0, 60.0);
        for lb in [
            Letterbox::fit(1920, 1080, 640, 640),
            Letterbox::fit(1080, 1920, 640, 384),
            Letterbox::fit(100, 61, 64, 64),
            Letterbox::stretch(1920, 1080, 960, 960),
            Letterbox::fixed(213, 128, 3.0, 640, 384),
        ] {
            assert_box(lb.to_source(&lb.to_model(&b)), b);
        }
    }

    #[test]
    fn to_source_clamps_to_the_image() {
        let lb = Letterbox::fit(1920, 1080, 640, 640);
        // A box reaching into the padding above and past the right edge.
        let src = lb.to_source(&BBox::new(600.0, 100.0, 700.0, 200.0));
        assert_box(src, BBox::new(1800.0, 0.0, 1920.0, 180.0));
    }

    #[test]
    fn zero_sized_source_stays_finite() {
        let lb = Letterbox::fit(0, 0, 64, 64);
        assert!(lb.scale_x.is_finite() && lb.pad_x.is_finite());
        let b = lb.to_source(&BBox::new(0.0, 0.0, 64.0, 64.0));
        assert_eq!(b, BBox::new(0.0, 0.0, 0.0, 0.0));
        let lb = Letterbox::stretch(0, 10, 64, 64);
        assert!(lb.scale_x.is_finite());
    }
}
