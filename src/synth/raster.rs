//! Software rasteriser for objects: convex polygons with a depth buffer, supersampled, resolved
//! into RGBA sprites that are alpha-blended onto frames.
//!
//! A [`Canvas`] covers a pixel rectangle of the image at `s × s` samples per pixel. Polygons are
//! given in image pixel coordinates with a depth function (camera-forward metres) so that faces of
//! one object hide each other correctly; separate objects are ordered by the painter's algorithm.

use super::camera::{apply_h, Mat3, V3};

/// Alpha at or above which a sprite pixel counts for the tight box.
pub(crate) const BOX_ALPHA: u8 = 64;
/// Alpha at or above which a sprite pixel counts as covering (occlusion, visible fraction).
pub(crate) const MASK_ALPHA: u8 = 128;

/// An RGBA image used as a texture (posters, signs, boards).
#[derive(Debug, Clone)]
pub(crate) struct Texture {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) px: Vec<[u8; 4]>,
}

impl Texture {
    pub(crate) fn new(w: usize, h: usize, fill: [u8; 4]) -> Self {
        let (w, h) = (w.max(1), h.max(1));
        Texture {
            w,
            h,
            px: vec![fill; w * h],
        }
    }

    /// Nearest sample at `(u, v)` in `[0, 1]²` (`v` = 0 at the top).
    pub(crate) fn sample(&self, u: f64, v: f64) -> [u8; 4] {
        let x = ((u * self.w as f64) as isize).clamp(0, self.w as isize - 1) as usize;
        let y = ((v * self.h as f64) as isize).clamp(0, self.h as isize - 1) as usize;
        self.px[y * self.w + x]
    }

    pub(crate) fn fill_rect(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, c: [u8; 4]) {
        for y in y0.min(self.h)..y1.min(self.h) {
            for x in x0.min(self.w)..x1.min(self.w) {
                self.px[y * self.w + x] = c;
            }
        }
    }
}

/// How a polygon's depth (camera-forward metres) varies over the image.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Depth {
    /// The plane `n · X = k` in camera coordinates.
    Plane { n: V3, k: f64 },
    /// A constant (billboards).
    Const(f64),
}

/// How a polygon is coloured.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Paint<'a> {
    Flat([u8; 3]),
    /// Texture through a pixel → `(u, v)` homography, multiplied by `shade`. Texels with alpha
    /// below 128 are holes.
    Tex {
        tex: &'a Texture,
        inv: Mat3,
        shade: f32,
    },
}

/// A supersampled drawing surface over a pixel rectangle of the image.
#[derive(Debug)]
pub(crate) struct Canvas {
    x0: i32,
    y0: i32,
    w: usize,
    h: usize,
    s: usize,
    cx: f64,
    cy: f64,
    f: f64,
    color: Vec<[u8; 3]>,
    depth: Vec<f32>,
}

impl Canvas {
    /// Canvas over pixels `x0..x0 + w`, `y0..y0 + h` with `s × s` samples per pixel, for a camera
    /// with principal point `(cx, cy)` and focal `f`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        x0: i32,
        y0: i32,
        w: usize,
        h: usize,
        s: usize,
        cx: f64,
        cy: f64,
        f: f64,
    ) -> Self {
        let n = w * h * s * s;
        Canvas {
            x0,
            y0,
            w,
            h,
            s,
            cx,
            cy,
            f,
            color: vec![[0; 3]; n],
            depth: vec![f32::INFINITY; n],
        }
    }

    /// Fills the convex polygon `pts` (image pixels, either winding).
    pub(crate) fn fill(&mut self, pts: &[[f64; 2]], depth: Depth, paint: Paint<'_>) {
        if pts.len() < 3 {
            return;
        }
        let s = self.s as f64;
        let hp: Vec<[f64; 2]> = pts
            .iter()
            .map(|p| {
                [
                    (p[0] - f64::from(self.x0)) * s,
                    (p[1] - f64::from(self.y0)) * s,
                ]
            })
            .collect();
        let mut area = 0.0;
        for i in 0..hp.len() {
            let (a, b) = (hp[i], hp[(i + 1) % hp.len()]);
            area += a[0] * b[1] - b[0] * a[1];
        }
        if area.abs() < 1e-9 {
            return;
        }
        let sign = area.signum();
        let (ws, hs) = (self.w * self.s, self.h * self.s);
        let minx = hp
            .iter()
            .map(|p| p[0])
            .fold(f64::INFINITY, f64::min)
            .floor()
            .max(0.0) as usize;
        let maxx = (hp
            .iter()
            .map(|p| p[0])
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil())
        .min(ws as f64);
        let miny = hp
            .iter()
            .map(|p| p[1])
            .fold(f64::INFINITY, f64::min)
            .floor()
            .max(0.0) as usize;
        let maxy = (hp
            .iter()
            .map(|p| p[1])
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil())
        .min(hs as f64);
        if maxx <= 0.0 || maxy <= 0.0 {
            return;
        }
        let (maxx, maxy) = (maxx as usize, maxy as usize);
        // Edge functions e(x, y) = a x + b y + c ≥ 0 inside.
        let edges: Vec<[f64; 3]> = (0..hp.len())
            .map(|i| {
                let (p, q) = (hp[i], hp[(i + 1) % hp.len()]);
                let a = -(q[1] - p[1]) * sign;
                let b = (q[0] - p[0]) * sign;
                [a, b, -(a * p[0] + b * p[1])]
            })
            .collect();
        for yy in miny..maxy {
            let py = yy as f64 + 0.5;
            // Span of this row inside every edge.
            let (mut lo, mut hi) = (minx as f64, maxx as f64);
            for e in &edges {
                let r = e[1] * py + e[2];
                if e[0].abs() < 1e-12 {
                    if r < 0.0 {
                        hi = lo - 1.0;
                    }
                } else if e[0] > 0.0 {
                    lo = lo.max(-r / e[0] - 0.5);
                } else {
                    hi = hi.min(-r / e[0] - 0.5);
                }
            }
            if hi < lo {
                continue;
            }
            let x_start = lo.ceil().max(minx as f64) as usize;
            let x_end = (hi.floor() as i64 + 1).clamp(0, maxx as i64) as usize;
            let iy = f64::from(self.y0) + py / s;
            let row = yy * ws;
            for xx in x_start..x_end {
                let ix = f64::from(self.x0) + (xx as f64 + 0.5) / s;
                let z = match depth {
                    Depth::Const(z) => z,
                    Depth::Plane { n, k } => {
                        let xn = (ix - self.cx) / self.f;
                        let yn = (iy - self.cy) / self.f;
                        let d = n.x * xn + n.y * yn + n.z;
                        if d.abs() < 1e-12 {
                            continue;
                        }
                        k / d
                    }
                } as f32;
                let idx = row + xx;
                if z >= self.depth[idx] || z <= 0.0 {
                    continue;
                }
                let c = match paint {
                    Paint::Flat(c) => c,
                    Paint::Tex { tex, inv, shade } => {
                        let Some(uv) = apply_h(&inv, ix, iy) else {
                            continue;
                        };
                        let t = tex.sample(uv[0], uv[1]);
                        if t[3] < 128 {
                            continue;
                        }
                        [
                            (f32::from(t[0]) * shade).min(255.0) as u8,
                            (f32::from(t[1]) * shade).min(255.0) as u8,
                            (f32::from(t[2]) * shade).min(255.0) as u8,
                        ]
                    }
                };
                self.depth[idx] = z;
                self.color[idx] = c;
            }
        }
    }

    /// Resolves the samples into a sprite.
    pub(crate) fn into_sprite(self) -> Sprite {
        let s = self.s;
        let ws = self.w * s;
        let mut px = vec![[0u8; 4]; self.w * self.h];
        for y in 0..self.h {
            for x in 0..self.w {
                let (mut n, mut sum) = (0u32, [0u32; 3]);
                for sy in 0..s {
                    let base = (y * s + sy) * ws + x * s;
                    for sx in 0..s {
                        let i = base + sx;
                        if self.depth[i].is_finite() {
                            n += 1;
                            for (acc, v) in sum.iter_mut().zip(self.color[i]) {
                                *acc += u32::from(v);
                            }
                        }
                    }
                }
                if n > 0 {
                    let a = (n * 255 + (s * s) as u32 / 2) / (s * s) as u32;
                    px[y * self.w + x] = [
                        ((sum[0] + n / 2) / n) as u8,
                        ((sum[1] + n / 2) / n) as u8,
                        ((sum[2] + n / 2) / n) as u8,
                        a as u8,
                    ];
                }
            }
        }
        Sprite::new(self.x0, self.y0, self.w, self.h, px)
    }
}

/// An RGBA patch positioned in image pixels (may extend beyond the image).
#[derive(Debug, Clone)]
pub(crate) struct Sprite {
    pub(crate) x0: i32,
    pub(crate) y0: i32,
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) px: Vec<[u8; 4]>,
    /// Tight box `[x1, y1, x2, y2)` of pixels with alpha ≥ [`BOX_ALPHA`], unclipped.
    pub(crate) bbox: Option<[i32; 4]>,
    /// Pixels with alpha ≥ [`MASK_ALPHA`], in or out of the image.
    pub(crate) mask_count: u32,
}

impl Sprite {
    pub(crate) fn new(x0: i32, y0: i32, w: usize, h: usize, px: Vec<[u8; 4]>) -> Self {
        let (mut bx, mut mask_count) = ([i32::MAX, i32::MAX, i32::MIN, i32::MIN], 0u32);
        for y in 0..h {
            for x in 0..w {
                let a = px[y * w + x][3];
                if a >= MASK_ALPHA {
                    mask_count += 1;
                }
                if a >= BOX_ALPHA {
                    let (gx, gy) = (x0 + x as i32, y0 + y as i32);
                    bx = [
                        bx[0].min(gx),
                        bx[1].min(gy),
                        bx[2].max(gx + 1),
                        bx[3].max(gy + 1),
                    ];
                }
            }
        }
        Sprite {
            x0,
            y0,
            w,
            h,
            px,
            bbox: (bx[0] < bx[2]).then_some(bx),
            mask_count,
        }
    }

    /// Whether image pixel `(x, y)` is covered (alpha ≥ [`MASK_ALPHA`]).
    pub(crate) fn covers(&self, x: i32, y: i32) -> bool {
        let (lx, ly) = (x - self.x0, y - self.y0);
        lx >= 0
            && ly >= 0
            && (lx as usize) < self.w
            && (ly as usize) < self.h
            && self.px[ly as usize * self.w + lx as usize][3] >= MASK_ALPHA
    }

    /// Sprite rectangle `[x1, y1, x2, y2)` intersected with a `w × h` image.
    pub(crate) fn clip_rect(&self, iw: usize, ih: usize) -> Option<[i32; 4]> {
        let r = [
            self.x0.max(0),
            self.y0.max(0),
            (self.x0 + self.w as i32).min(iw as i32),
            (self.y0 + self.h as i32).min(ih as i32),
        ];
        (r[0] < r[2] && r[1] < r[3]).then_some(r)
    }

    /// Covered pixels inside a `w × h` image.
    pub(crate) fn count_in_image(&self, iw: usize, ih: usize) -> u32 {
        let Some(r) = self.clip_rect(iw, ih) else {
            return 0;
        };
        let mut n = 0;
        for y in r[1]..r[3] {
            for x in r[0]..r[2] {
                if self.covers(x, y) {
                    n += 1;
                }
            }
        }
        n
    }

    /// Alpha-blends the sprite onto a packed RGB image.
    pub(crate) fn blit(&self, out: &mut [u8], iw: usize, ih: usize) {
        let Some(r) = self.clip_rect(iw, ih) else {
            return;
        };
        for y in r[1]..r[3] {
            let src_row = (y - self.y0) as usize * self.w;
            let dst_row = y as usize * iw;
            for x in r[0]..r[2] {
                let p = self.px[src_row + (x - self.x0) as usize];
                let a = u32::from(p[3]);
                if a == 0 {
                    continue;
                }
                let o = (dst_row + x as usize) * 3;
                let d = &mut out[o..o + 3];
                if a == 255 {
                    d.copy_from_slice(&p[..3]);
                } else {
                    for c in 0..3 {
                        d[c] =
                            ((u32::from(p[c]) * a + u32::from(d[c]) * (255 - a) + 127) / 255) as u8;
                    }
                }
            }
        }
    }

    /// Darkens the image by the sprite's alpha × `strength` (shadows).
    pub(crate) fn darken(&self, out: &mut [u8], iw: usize, ih: usize, strength: f32) {
        let Some(r) = self.clip_rect(iw, ih) else {
            return;
        };
        let k = (strength.clamp(0.0, 1.0) * 256.0) as u32;
        for y in r[1]..r[3] {
            let src_row = (y - self.y0) as usize * self.w;
            let dst_row = y as usize * iw;
            for x in r[0]..r[2] {
                let a = u32::from(self.px[src_row + (x - self.x0) as usize][3]);
                if a == 0 {
                    continue;
                }
                let keep = 65536 - a * k;
                let o = (dst_row + x as usize) * 3;
                for v in &mut out[o..o + 3] {
                    *v = ((u32::from(*v) * keep) >> 16) as u8;
                }
            }
        }
    }
}
