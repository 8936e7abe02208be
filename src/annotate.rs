//! Drawing on packed RGB images: boxes, their labels and the caption of annotated evidence, and
//! the boxes of `gridsight detect --out`. Pure: no I/O (text is drawn with fonts already loaded).

use crate::domain::BBox;
use crate::fonts::Fonts;

/// A distinct colour per class id.
pub fn color_for(class_id: usize) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 6] = [
        [255, 56, 56],
        [56, 200, 255],
        [255, 200, 0],
        [72, 249, 10],
        [255, 112, 31],
        [200, 56, 255],
    ];
    PALETTE[class_id % PALETTE.len()]
}

/// Draws the outline of `bbox` (pixels) on a packed RGB image, `thickness` pixels wide, inside
/// the box and clipped to the image.
pub fn draw_box(
    rgb: &mut [u8],
    width: u32,
    height: u32,
    bbox: &BBox,
    color: [u8; 3],
    thickness: u32,
) {
    if width == 0 || height == 0 || rgb.len() < width as usize * height as usize * 3 {
        return;
    }
    let b = bbox.clamp(width as f32 - 1.0, height as f32 - 1.0);
    let (x1, y1, x2, y2) = (b.x1 as u32, b.y1 as u32, b.x2 as u32, b.y2 as u32);
    if x2 < x1 || y2 < y1 {
        return;
    }
    let t = thickness.max(1);
    let mut fill = |xa: u32, ya: u32, xb: u32, yb: u32| {
        for y in ya..=yb.min(height - 1) {
            let row = y as usize * width as usize;
            for x in xa..=xb.min(width - 1) {
                let i = (row + x as usize) * 3;
                rgb[i..i + 3].copy_from_slice(&color);
            }
        }
    };
    fill(x1, y1, x2, (y1 + t - 1).min(y2));
    fill(x1, y2.saturating_sub(t - 1).max(y1), x2, y2);
    fill(x1, y1, (x1 + t - 1).min(x2), y2);
    fill(x2.saturating_sub(t - 1).max(x1), y1, x2, y2);
}

/// Draws `text` on a tag of `color` just above `bbox` (pixels), or inside its top edge when there
/// is no room above; the tag is kept inside the image. Text is black or white, whichever reads
/// better on the colour, 1/40 of the image's height (at least 12 px).
pub fn draw_label(
    rgb: &mut [u8],
    width: u32,
    height: u32,
    bbox: &BBox,
    text: &str,
    color: [u8; 3],
    fonts: &Fonts,
) {
    if width == 0 || height == 0 || rgb.len() < width as usize * height as usize * 3 {
        return;
    }
    let px = (height as f32 / 40.0).max(12.0);
    let pad = (px * 0.25).ceil();
    let tag_w = (fonts.line_width(text, px) + 2.0 * pad)
        .ceil()
        .min(width as f32);
    let tag_h = (px * 1.25).ceil().min(height as f32);
    let b = bbox.clamp(width as f32 - 1.0, height as f32 - 1.0);
    let x = b.x1.min(width as f32 - tag_w).max(0.0).floor();
    let y = if b.y1 >= tag_h { b.y1 - tag_h } else { b.y1 }.floor();
    shade(rgb, width, height, (x, y, x + tag_w, y + tag_h), |_| color);
    let luma =
        0.299 * f32::from(color[0]) + 0.587 * f32::from(color[1]) + 0.114 * f32::from(color[2]);
    let ink = if luma > 140.0 {
        [0, 0, 0]
    } else {
        [255, 255, 255]
    };
    let baseline = y + pad * 0.5 + px * 0.92;
    fonts.draw_line(text, px, x + pad, baseline, |tx, ty, a| {
        blend(rgb, width, height, tx, ty, ink, a);
    });
}

/// Darkens a band across the bottom of the image and writes `lines` on it in white, one per row,
/// each 1/32 of the image's height (at least 12 px), shrunk where a line would not fit the width.
pub fn draw_caption(rgb: &mut [u8], width: u32, height: u32, lines: &[String], fonts: &Fonts) {
    if lines.is_empty()
        || width == 0
        || height == 0
        || rgb.len() < width as usize * height as usize * 3
    {
        return;
    }
    let px = (height as f32 / 32.0).max(12.0);
    let pad = (px * 0.4).ceil();
    let row = (px * 1.3).ceil();
    let band = (row * lines.len() as f32 + 2.0 * pad).min(height as f32);
    let top = height as f32 - band;
    shade(
        rgb,
        width,
        height,
        (0.0, top, width as f32, height as f32),
        |p| p.map(|v| (u16::from(v) * 3 / 10) as u8),
    );
    for (i, line) in lines.iter().enumerate() {
        let room = width as f32 - 2.0 * pad;
        let wide = fonts.line_width(line, px);
        let size = if wide > room { px * room / wide } else { px };
        let baseline = top + pad + row * i as f32 + px * 0.92;
        fonts.draw_line(line, size, pad, baseline, |tx, ty, a| {
            blend(rgb, width, height, tx, ty, [255, 255, 255], a);
        });
    }
}

/// Sets every pixel of the rectangle `(x1, y1, x2, y2)` (pixels, end exclusive, clipped) to
/// `paint` of its colour.
fn shade(
    rgb: &mut [u8],
    width: u32,
    height: u32,
    (x1, y1, x2, y2): (f32, f32, f32, f32),
    paint: impl Fn([u8; 3]) -> [u8; 3],
) {
    let clip = |v: f32, size: u32| v.max(0.0).min(size as f32) as usize;
    let (x1, x2) = (clip(x1, width), clip(x2, width));
    let (y1, y2) = (clip(y1, height), clip(y2, height));
    for y in y1..y2 {
        for x in x1..x2 {
            let i = (y * width as usize + x) * 3;
            let painted = paint([rgb[i], rgb[i + 1], rgb[i + 2]]);
            rgb[i..i + 3].copy_from_slice(&painted);
        }
    }
}

/// Blends `color` into the pixel at (`x`, `y`) by `alpha` (0..1), if it is inside the image.
fn blend(rgb: &mut [u8], width: u32, height: u32, x: i64, y: i64, color: [u8; 3], alpha: f32) {
    if x < 0 || y < 0 || x >= i64::from(width) || y >= i64::from(height) {
        return;
    }
    let i = (y as usize * width as usize + x as usize) * 3;
    for (c, want) in rgb[i..i + 3].iter_mut().zip(color) {
        *c = (f32::from(*c) * (1.0 - alpha) + f32::from(want) * alpha).round() as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_outline_is_drawn_and_inside_is_not() {
        let (w, h) = (10u32, 8u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        draw_box(&mut rgb, w, h, &BBox::new(2.0, 2.0, 7.0, 6.0), [9, 9, 9], 1);
        let px = |x: u32, y: u32| rgb[((y * w + x) * 3) as usize];
        assert_eq!(px(2, 2), 9);
        assert_eq!(px(7, 6), 9);
        assert_eq!(px(4, 4), 0);
        assert_eq!(px(0, 0), 0);
    }

    #[test]
    fn boxes_outside_the_image_are_clipped() {
        let (w, h) = (4u32, 4u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        draw_box(
            &mut rgb,
            w,
            h,
            &BBox::new(-5.0, -5.0, 50.0, 50.0),
            [1, 2, 3],
            2,
        );
        assert_eq!(&rgb[0..3], &[1, 2, 3]);
    }

    fn ink(rgb: &[u8], w: u32, rows: std::ops::Range<u32>, cols: std::ops::Range<u32>) -> usize {
        rows.flat_map(|y| cols.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| rgb[((y * w + x) * 3) as usize] > 200)
            .count()
    }

    #[test]
    fn the_caption_darkens_the_bottom_band_and_writes_its_lines_there() {
        let fonts = crate::fonts::fonts().expect("fonts (scripts/setup.sh installs them)");
        let (w, h) = (320u32, 240u32);
        let mut rgb = vec![100u8; (w * h * 3) as usize];
        let lines = [
            "0501 占道经营".to_string(),
            "street-1  2026-11-26 20:07:31".to_string(),
        ];
        draw_caption(&mut rgb, w, h, &lines, fonts);
        // Two rows of 12 px text (1.3 × 12 px each) and 5 px of padding above and below.
        let band_top = h - (2 * 16 + 2 * 5);
        assert_eq!(
            rgb[(((band_top - 1) * w) * 3) as usize],
            100,
            "above the band: untouched"
        );
        assert_eq!(
            rgb[((band_top * w) * 3) as usize],
            30,
            "the band is darkened"
        );
        let first = ink(&rgb, w, band_top..band_top + 21, 0..w);
        let second = ink(&rgb, w, band_top + 21..h, 0..w);
        assert!(
            first > 40 && second > 40,
            "white text on both rows: {first}, {second}"
        );
        assert_eq!(ink(&rgb, w, 0..band_top, 0..w), 0, "no text above the band");
    }

    #[test]
    fn a_label_sits_above_its_box_or_inside_it_at_the_top_edge() {
        let fonts = crate::fonts::fonts().expect("fonts (scripts/setup.sh installs them)");
        let (w, h) = (200u32, 100u32);
        let red = [200, 30, 30];
        let tagged = |bbox: BBox| {
            let mut rgb = vec![0u8; (w * h * 3) as usize];
            draw_label(&mut rgb, w, h, &bbox, "0501", red, fonts);
            let rows: Vec<u32> = (0..h)
                .filter(|&y| (0..w).any(|x| rgb[((y * w + x) * 3 + 1) as usize] == 30))
                .collect();
            (
                rows.first().copied(),
                rows.last().copied(),
                ink(&rgb, w, 0..h, 0..w),
            )
        };
        // Room above: the tag (15 px high) ends where the box begins.
        let (top, bottom, white) = tagged(BBox::new(50.0, 40.0, 120.0, 90.0));
        assert_eq!((top, bottom), (Some(25), Some(39)));
        assert!(white > 10, "white text on the red tag: {white}");
        // No room above: inside the box's top edge.
        let (top, bottom, _) = tagged(BBox::new(50.0, 5.0, 120.0, 90.0));
        assert_eq!((top, bottom), (Some(5), Some(19)));
    }
}
