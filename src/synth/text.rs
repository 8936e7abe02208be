//! Text for posters, banners and shop signs, drawn with fonts read from Debian font packages at
//! run time: DejaVu Sans Bold (`fonts-dejavu-core`) for Latin text and WenQuanYi Micro Hei
//! (`fonts-wqy-microhei`) for Chinese. Fonts are loaded once per process.

use std::fmt;
use std::sync::OnceLock;

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};

use super::raster::Texture;
use super::SynthError;

/// Latin font file and the Debian package that installs it.
pub const LATIN_FONT: (&str, &str) = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "fonts-dejavu-core",
);
/// CJK font file and the Debian package that installs it.
pub const CJK_FONT: (&str, &str) = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "fonts-wqy-microhei",
);

pub(crate) struct Fonts {
    latin: FontVec,
    cjk: FontVec,
}

impl fmt::Debug for Fonts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fonts").finish_non_exhaustive()
    }
}

fn load(file: (&str, &str)) -> Result<FontVec, SynthError> {
    let (path, package) = file;
    let data = std::fs::read(path).map_err(|e| SynthError::FontMissing {
        path: path.to_string(),
        package: package.to_string(),
        reason: e.to_string(),
    })?;
    FontVec::try_from_vec_and_index(data, 0).map_err(|e| SynthError::FontMissing {
        path: path.to_string(),
        package: package.to_string(),
        reason: e.to_string(),
    })
}

static FONTS: OnceLock<Result<Fonts, SynthError>> = OnceLock::new();

/// The fonts, loaded on first use.
pub(crate) fn fonts() -> Result<&'static Fonts, SynthError> {
    FONTS
        .get_or_init(|| {
            Ok(Fonts {
                latin: load(LATIN_FONT)?,
                cjk: load(CJK_FONT)?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Fonts {
    fn font_for(&self, c: char) -> &FontVec {
        if self.latin.glyph_id(c).0 != 0 {
            &self.latin
        } else {
            &self.cjk
        }
    }

    /// Width of `line` at 1 px scale (em units per pixel height).
    fn line_width(&self, line: &str, px: f32) -> f32 {
        line.chars()
            .map(|c| {
                let f = self.font_for(c).as_scaled(PxScale::from(px));
                f.h_advance(f.glyph_id(c))
            })
            .sum()
    }

    /// Draws `lines` centred on a `w × h` texture of colour `bg`, in colour `fg`, filling at most
    /// `fill` (0..1) of each dimension.
    pub(crate) fn text_texture(
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

    /// Draws `lines` centred in `rect = [x, y, w, h]` of `tex`.
    pub(crate) fn draw_text(
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
            let mut x = rect[0] as f32 + (rect[2] as f32 - lw) / 2.0;
            let baseline = top + px * line_h * li as f32 + px * 0.92;
            for c in line.chars() {
                let font = self.font_for(c);
                let scaled = font.as_scaled(PxScale::from(px));
                let id = scaled.glyph_id(c);
                let glyph = id.with_scale_and_position(PxScale::from(px), point(x, baseline));
                x += scaled.h_advance(id);
                let Some(outlined) = font.outline_glyph(glyph) else {
                    continue;
                };
                let b = outlined.px_bounds();
                outlined.draw(|gx, gy, cov| {
                    let tx = b.min.x as i64 + i64::from(gx);
                    let ty = b.min.y as i64 + i64::from(gy);
                    if tx < 0 || ty < 0 || tx >= tex.w as i64 || ty >= tex.h as i64 {
                        return;
                    }
                    let p = &mut tex.px[ty as usize * tex.w + tx as usize];
                    let a = cov.clamp(0.0, 1.0);
                    for ch in 0..3 {
                        p[ch] = (f32::from(p[ch]) * (1.0 - a) + f32::from(fg[ch]) * a) as u8;
                    }
                    p[3] = p[3].max((a * 255.0) as u8);
                });
            }
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
