//! The fonts gridsight draws text with, read at run time from Debian font packages: DejaVu Sans
//! Bold (`fonts-dejavu-core`) for Latin text and WenQuanYi Micro Hei (`fonts-wqy-microhei`) for
//! Chinese. They are loaded once per process. Used for the posters and signs of generated scenes
//! and for the caption of evidence pictures.

use std::fmt;
use std::sync::OnceLock;

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};

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

/// A font file is missing or unreadable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot read font {path}: {reason} (install the Debian package `{package}`: apt-get install {package})")]
pub struct FontError {
    pub path: String,
    pub package: String,
    pub reason: String,
}

/// The Latin and the CJK font.
pub struct Fonts {
    latin: FontVec,
    cjk: FontVec,
}

impl fmt::Debug for Fonts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fonts").finish_non_exhaustive()
    }
}

fn load(file: (&str, &str)) -> Result<FontVec, FontError> {
    let (path, package) = file;
    let error = |reason: String| FontError {
        path: path.to_string(),
        package: package.to_string(),
        reason,
    };
    let data = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    FontVec::try_from_vec_and_index(data, 0).map_err(|e| error(e.to_string()))
}

static FONTS: OnceLock<Result<Fonts, FontError>> = OnceLock::new();

/// The fonts, loaded on first use.
pub fn fonts() -> Result<&'static Fonts, FontError> {
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

    /// Width of `line` in pixels at a height of `px` pixels.
    pub fn line_width(&self, line: &str, px: f32) -> f32 {
        line.chars()
            .map(|c| {
                let f = self.font_for(c).as_scaled(PxScale::from(px));
                f.h_advance(f.glyph_id(c))
            })
            .sum()
    }

    /// Lays out `line` at a height of `px` pixels from `x` on `baseline`, and calls
    /// `plot(x, y, coverage)` for every pixel a glyph covers (coverage 0..1; pixels may lie
    /// outside any picture: the caller clips).
    pub fn draw_line(
        &self,
        line: &str,
        px: f32,
        x: f32,
        baseline: f32,
        mut plot: impl FnMut(i64, i64, f32),
    ) {
        let mut x = x;
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
                plot(
                    b.min.x as i64 + i64::from(gx),
                    b.min.y as i64 + i64::from(gy),
                    cov.clamp(0.0, 1.0),
                );
            });
        }
    }
}
