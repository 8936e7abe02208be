//! Drawing on packed RGB images: boxes for annotated evidence and `gridsight detect --out`.
//! Pure: no I/O.

use crate::domain::BBox;

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
}
