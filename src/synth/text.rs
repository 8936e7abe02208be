//! Text for posters, banners and shop signs, drawn on textures with the fonts of
//! [`crate::fonts`] (DejaVu Sans Bold for Latin text, WenQuanYi Micro Hei for Chinese).

use super::raster::Texture;
pub use crate::fonts::{fonts, Fonts, CJK_FONT, LATIN_FONT};

/// Lines of text drawn on a texture.
pub(crate) trait Lettering {
    /// Draws `lines` centred on a `w × h` texture of colour `bg`, in colour `fg`, filling at most
    /// `fill` (0..1) of each dimension.
    fn text_texture(
        &self,
        lines: &[String],
        w: usize,
        h: usize,
        bg: [u8; 3],
        fg: [u8; 3],
        fill: f32,
    ) -> Texture;

    /// Draws `lines` centred in `rect = [x, y, w, h]` of `tex`.
    fn draw_text(
        &self,
        tex: &mut Texture,
        lines: &[String],
        rect: [usize; 4],
        fg: [u8; 3],
        fill: f32,
    );
}

impl Lettering for Fonts {
    fn text_texture(
        &self,
        lines: &[String],
        w: usize,
        h: usize,
        bg: [u8; 3],
        fg: [u8; 3],
        fill: f32,
    ) -> Texture {
        let mut tex = Texture::new(w, h, [bg[0], bg[1], bg[2], 255]);
        self.draw_text(&mut tex, lines, [0, 0, w, h], fg, fill);
        tex
    }

    fn draw_text(
        &self,
        tex: &mut Texture,
        lines: &[String],
        rect: [usize; 4],
        fg: [u8; 3],
        fill: f32,
    ) {
        if lines.is_empty() {
            return;
        }
        let (rw, rh) = (rect[2] as f32 * fill, rect[3] as f32 * fill);
        let widest = lines
            .iter()
            .map(|l| self.line_width(l, 100.0))
            .fold(1.0f32, f32::max);
        let line_h = 1.15;
        let px = (rh / (lines.len() as f32 * line_h))
            .min(100.0 * rw / widest)
            .max(1.0);
        let total_h = px * line_h * lines.len() as f32;
        let top = rect[1] as f32 + (rect[3] as f32 - total_h) / 2.0;
        for (li, line) in lines.iter().enumerate() {
            let lw = self.line_width(line, px);
            let x = rect[0] as f32 + (rect[2] as f32 - lw) / 2.0;
            let baseline = top + px * line_h * li as f32 + px * 0.92;
            self.draw_line(line, px, x, baseline, |tx, ty, a| {
                if tx < 0 || ty < 0 || tx >= tex.w as i64 || ty >= tex.h as i64 {
                    return;
                }
                let p = &mut tex.px[ty as usize * tex.w + tx as usize];
                for ch in 0..3 {
                    p[ch] = (f32::from(p[ch]) * (1.0 - a) + f32::from(fg[ch]) * a) as u8;
                }
                p[3] = p[3].max((a * 255.0) as u8);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_latin_and_chinese() {
        let fonts = fonts().unwrap();
        let tex = fonts.text_texture(
            &["办证 138".to_string(), "SALE".to_string()],
            200,
            120,
            [255, 255, 255],
            [200, 0, 0],
            0.9,
        );
        let inked = tex.px.iter().filter(|p| p[1] < 100).count();
        assert!(inked > 500, "too little ink: {inked}");
    }
}
