//! The street layout and the background plate: road, kerb, sidewalks and a shopfront wall,
//! rendered once per scene by casting a ray through every pixel (2 × 2 samples) and shading the
//! surface it hits with procedural textures. Or a given image (real footage) used as is.
//!
//! Street frame: `along` runs parallel to the kerb (increasing to the right in the image, 0 where
//! the camera's heading crosses the wall), `across` is the horizontal distance from the pole's
//! foot towards the wall. The far sidewalk (between `far_kerb_m` and `wall_m`) and the near sidewalk
//! are at height 0, the sidewalk plane of the ground homography; the road lies `kerb_height_m`
//! lower.
//!
//! Procedural variants (`BackgroundSpec::Procedural { variant }`, any `u32`): the wall material
//! cycles with `variant / 2` through brick, ceramic tile, painted concrete and glass curtain wall,
//! so even (training) and odd (held-out) ids each see every material; paving pattern, colours,
//! kerb height, road and sidewalk widths, street angle and zebra crossing come from a hash of the
//! id. Every variant has shop units with glass shopfronts and (permitted) shop signs.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::camera::{v3, Camera, CameraPose, V3};
use super::rng::{hash3, mix, unit, Rng};

/// What the scene is drawn over.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackgroundSpec {
    /// A procedural street; see the module docs for what `variant` selects.
    Procedural { variant: u32 },
    /// A given frame (packed RGB, `width × height × 3` bytes), e.g. real footage. Objects are
    /// placed on the ground plane implied by the pose, with the default street layout for
    /// `Auto`/`Wall`/`Sidewalk` placements. The pixels are not serialised.
    Image {
        width: u32,
        height: u32,
        #[serde(skip)]
        rgb: Vec<u8>,
    },
}

impl fmt::Debug for BackgroundSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackgroundSpec::Procedural { variant } => f
                .debug_struct("Procedural")
                .field("variant", variant)
                .finish(),
            BackgroundSpec::Image { width, height, rgb } => f
                .debug_struct("Image")
                .field("width", width)
                .field("height", height)
                .field("bytes", &rgb.len())
                .finish(),
        }
    }
}

/// Where the kerbs and the wall are, in the street frame (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StreetLayout {
    /// Compass bearing (degrees) of the across-street direction, from the camera towards the wall.
    pub across_bearing_deg: f64,
    /// Distance along the kerb from the foot of the perpendicular through the pole to `along = 0`.
    pub along_offset_m: f64,
    /// Across distance of the near kerb (road starts here).
    pub near_kerb_m: f64,
    /// Across distance of the far kerb (far sidewalk starts here).
    pub far_kerb_m: f64,
    /// Across distance of the shopfront wall.
    pub wall_m: f64,
    /// How much lower the road is than the sidewalks.
    pub kerb_height_m: f64,
    /// Height of the building; sky above.
    pub wall_top_m: f64,
}

impl StreetLayout {
    /// Fits a street to the pose so that the far sidewalk and the wall fill the middle of the image.
    pub(crate) fn fit(pose: &CameraPose, style: &Style) -> StreetLayout {
        let d = pose.height_m / pose.pitch_deg.to_radians().tan();
        let off = style.offset_deg.to_radians();
        let wall_m = (d * off.cos() + 0.45 * style.sidewalk_w).max(style.sidewalk_w + 2.0);
        let far_kerb_m = wall_m - style.sidewalk_w;
        let near_kerb_m = (far_kerb_m - style.road_w).max(far_kerb_m.min(1.0) * 0.5);
        StreetLayout {
            across_bearing_deg: pose.heading_deg - style.offset_deg,
            along_offset_m: wall_m * off.tan(),
            near_kerb_m,
            far_kerb_m,
            wall_m,
            kerb_height_m: style.kerb_h,
            wall_top_m: style.wall_top,
        }
    }

    /// Unit vector (east, north) across the street, towards the wall.
    pub(crate) fn across_dir(&self) -> V3 {
        let b = self.across_bearing_deg.to_radians();
        v3(b.sin(), b.cos(), 0.0)
    }

    /// Unit vector (east, north) along the street, increasing to the right.
    pub(crate) fn along_dir(&self) -> V3 {
        let b = self.across_bearing_deg.to_radians();
        v3(b.cos(), -b.sin(), 0.0)
    }

    /// Street frame `(along, across)` → local `(east, north)` metres.
    pub fn to_enu(&self, along: f64, across: f64) -> (f64, f64) {
        let p = self.along_dir() * (along + self.along_offset_m) + self.across_dir() * across;
        (p.x, p.y)
    }

    /// Local `(east, north)` → street frame `(along, across)`.
    pub fn from_enu(&self, east: f64, north: f64) -> (f64, f64) {
        let p = v3(east, north, 0.0);
        (
            p.dot(self.along_dir()) - self.along_offset_m,
            p.dot(self.across_dir()),
        )
    }

    /// World point of street-frame `(along, across)` at height `z`.
    pub(crate) fn world(&self, along: f64, across: f64, z: f64) -> V3 {
        let (e, n) = self.to_enu(along, across);
        v3(e, n, z)
    }

    /// Width of the far sidewalk.
    pub fn sidewalk_width_m(&self) -> f64 {
        self.wall_m - self.far_kerb_m
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum WallMat {
    Brick,
    Tile,
    Painted,
    Glass,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Paving {
    Grid,
    Running,
    Slabs,
}

/// Look of a procedural background variant.
#[derive(Debug, Clone)]
pub(crate) struct Style {
    paver_size: f64,
    paving: Paving,
    paver: [f32; 3],
    paver_var: f32,
    grout: [f32; 3],
    tactile: bool,
    asphalt: [f32; 3],
    zebra: bool,
    kerb_h: f64,
    kerb: [f32; 3],
    pub(crate) wall: WallMat,
    wall_color: [f32; 3],
    pub(crate) trim: [f32; 3],
    glass: [f32; 3],
    road_w: f64,
    sidewalk_w: f64,
    offset_deg: f64,
    shop_w: (f64, f64),
    wall_top: f64,
    salt: u64,
}

const PAVERS: [[f32; 3]; 6] = [
    [150.0, 148.0, 142.0],
    [160.0, 110.0, 95.0],
    [185.0, 175.0, 150.0],
    [115.0, 118.0, 122.0],
    [170.0, 160.0, 165.0],
    [135.0, 140.0, 120.0],
];
const BRICKS: [[f32; 3]; 4] = [
    [150.0, 70.0, 50.0],
    [120.0, 80.0, 65.0],
    [175.0, 120.0, 80.0],
    [110.0, 100.0, 95.0],
];
const TILES: [[f32; 3]; 4] = [
    [225.0, 222.0, 212.0],
    [205.0, 190.0, 165.0],
    [190.0, 200.0, 205.0],
    [215.0, 205.0, 200.0],
];
const PAINTS: [[f32; 3]; 6] = [
    [200.0, 190.0, 160.0],
    [170.0, 180.0, 175.0],
    [215.0, 200.0, 185.0],
    [180.0, 160.0, 150.0],
    [160.0, 170.0, 190.0],
    [210.0, 210.0, 200.0],
];
const TRIMS: [[f32; 3]; 5] = [
    [60.0, 60.0, 65.0],
    [235.0, 235.0, 230.0],
    [110.0, 60.0, 40.0],
    [40.0, 70.0, 100.0],
    [150.0, 150.0, 150.0],
];

impl Style {
    /// Style of procedural variant `id`.
    pub(crate) fn from_variant(id: u32) -> Style {
        let mut r = Rng::stream(u64::from(id), 0xB6);
        let base = id / 2;
        let wall = [
            WallMat::Brick,
            WallMat::Tile,
            WallMat::Painted,
            WallMat::Glass,
        ][(base % 4) as usize];
        let wall_color = match wall {
            WallMat::Brick => r.pick(&BRICKS),
            WallMat::Tile => r.pick(&TILES),
            WallMat::Painted => r.pick(&PAINTS),
            WallMat::Glass => [70.0, 85.0, 95.0],
        };
        let paving = [Paving::Grid, Paving::Running, Paving::Slabs][((base / 4 + id) % 3) as usize];
        let sign = if r.chance(0.5) { 1.0 } else { -1.0 };
        let paver = r.pick(&PAVERS);
        Style {
            paver_size: match paving {
                Paving::Slabs => r.range(0.5, 0.7),
                _ => r.range(0.2, 0.35),
            },
            paving,
            paver: r.jitter(paver, 0.06),
            paver_var: r.range(0.04, 0.14) as f32,
            grout: r.jitter([95.0, 95.0, 92.0], 0.1),
            tactile: r.chance(0.6),
            asphalt: r.jitter([68.0, 70.0, 74.0], 0.15),
            zebra: r.chance(0.35),
            kerb_h: r.range(0.1, 0.2),
            kerb: r.jitter([175.0, 175.0, 170.0], 0.08),
            wall,
            wall_color,
            trim: r.pick(&TRIMS),
            glass: r.jitter([55.0, 75.0, 85.0], 0.15),
            road_w: r.range(7.0, 14.0),
            sidewalk_w: r.range(4.0, 6.5),
            offset_deg: sign * r.range(12.0, 35.0),
            shop_w: (r.range(3.5, 5.0), r.range(6.0, 9.0)),
            wall_top: r.range(9.0, 20.0),
            salt: mix(u64::from(id) ^ 0xBACC),
        }
    }

    /// Layout-only style for image backgrounds.
    pub(crate) fn for_image() -> Style {
        let mut s = Style::from_variant(0);
        s.offset_deg = 20.0;
        s.road_w = 10.0;
        s.sidewalk_w = 5.0;
        s.kerb_h = 0.15;
        s
    }
}

/// One shop unit along the wall.
#[derive(Debug, Clone)]
pub(crate) struct Shop {
    pub(crate) a0: f64,
    pub(crate) a1: f64,
    pub(crate) shutter: bool,
    pub(crate) door: f64,
    pub(crate) sign_variant: u32,
}

/// Shop units covering `along` in `[-80, 80]`.
pub(crate) fn make_shops(style: &Style, rng: &mut Rng) -> Vec<Shop> {
    let mut shops = Vec::new();
    let mut a = -80.0 - rng.range(0.0, 5.0);
    while a < 80.0 {
        let w = rng.range(style.shop_w.0, style.shop_w.1);
        shops.push(Shop {
            a0: a,
            a1: a + w,
            shutter: rng.chance(0.15),
            door: a + rng.range(0.25, 0.75) * w,
            sign_variant: rng.below(1 << 16) as u32,
        });
        a += w;
    }
    shops
}

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale3(a: [f32; 3], k: f32) -> [f32; 3] {
    [a[0] * k, a[1] * k, a[2] * k]
}

/// Value noise in about `[-0.5, 0.5]` on a grid of `cell` metres.
fn value_noise(x: f64, y: f64, cell: f64, salt: u64) -> f32 {
    let (gx, gy) = (x / cell, y / cell);
    let (ix, iy) = (gx.floor(), gy.floor());
    let (fx, fy) = (gx - ix, gy - iy);
    let (ix, iy) = (ix as i64, iy as i64);
    let h = |a: i64, b: i64| unit(hash3(a, b, salt));
    let sx = fx * fx * (3.0 - 2.0 * fx);
    let sy = fy * fy * (3.0 - 2.0 * fy);
    let top = h(ix, iy) + (h(ix + 1, iy) - h(ix, iy)) * sx;
    let bot = h(ix, iy + 1) + (h(ix + 1, iy + 1) - h(ix, iy + 1)) * sx;
    (top + (bot - top) * sy - 0.5) as f32
}

/// Per-cell random in `[-0.5, 0.5]`.
fn cell_rand(x: f64, y: f64, cell: f64, salt: u64) -> f32 {
    (unit(hash3(
        (x / cell).floor() as i64,
        (y / cell).floor() as i64,
        salt,
    )) - 0.5) as f32
}

/// The procedural surfaces of one scene.
#[derive(Debug)]
pub(crate) struct Street<'a> {
    pub(crate) style: &'a Style,
    pub(crate) layout: &'a StreetLayout,
    pub(crate) shops: &'a [Shop],
    pub(crate) zebra_at: f64,
}

impl Street<'_> {
    fn paving(&self, u: f64, v: f64) -> [f32; 3] {
        let s = self.style;
        let salt = s.salt;
        if (0.0..0.16).contains(&v) {
            // Kerb stones, 1 m long.
            let joint = (u.rem_euclid(1.0)) < 0.012;
            let k =
                1.0 + cell_rand(u, 0.0, 1.0, salt ^ 7) * 0.08 + cell_rand(u, v, 0.02, salt) * 0.06;
            return if joint {
                scale3(s.kerb, 0.6)
            } else {
                scale3(s.kerb, k)
            };
        }
        if s.tactile && (0.55..0.85).contains(&v) {
            let dots = ((u * 1000.0) as i64).rem_euclid(50) < 22
                && ((v * 1000.0) as i64).rem_euclid(50) < 22;
            let k = if dots { 1.08 } else { 0.96 };
            return scale3([205.0, 170.0, 40.0], k + cell_rand(u, v, 0.02, salt) * 0.06);
        }
        let size = s.paver_size;
        let (tw, th) = match s.paving {
            Paving::Grid | Paving::Slabs => (size, size),
            Paving::Running => (size * 2.0, size),
        };
        let row = (v / th).floor();
        let shift = if s.paving == Paving::Running && (row as i64) % 2 != 0 {
            tw / 2.0
        } else {
            0.0
        };
        let col = ((u + shift) / tw).floor();
        let fu = (u + shift) / tw - col;
        let fv = v / th - row;
        let g = 0.008;
        if fu * tw < g || fv * th < g {
            return s.grout;
        }
        let t = unit(hash3(col as i64, row as i64, salt)) as f32 - 0.5;
        let grain = cell_rand(u, v, 0.015, salt ^ 3) * 0.07;
        let stain = value_noise(u, v, 2.5, salt ^ 5) * 0.12;
        scale3(s.paver, 1.0 + t * s.paver_var * 2.0 + grain + stain)
    }

    fn road(&self, u: f64, c: f64) -> [f32; 3] {
        let l = self.layout;
        let s = self.style;
        let mid = (l.near_kerb_m + l.far_kerb_m) / 2.0;
        let white = [215.0, 215.0, 210.0];
        let mark = (((c - mid).abs() < 0.07) && u.rem_euclid(9.0) < 4.0)
            || (c - (l.far_kerb_m - 0.45)).abs() < 0.06
            || (s.zebra
                && (self.zebra_at..self.zebra_at + 4.0).contains(&u)
                && c > l.near_kerb_m + 0.3
                && c < l.far_kerb_m - 0.3
                && (c - l.near_kerb_m).rem_euclid(1.0) < 0.45);
        let grain = cell_rand(u, c, 0.025, s.salt ^ 11) * 0.16;
        let patch = value_noise(u, c, 3.0, s.salt ^ 13) * 0.18;
        let base = if mark { scale3(white, 0.92) } else { s.asphalt };
        scale3(base, 1.0 + grain + patch)
    }

    fn material(&self, a: f64, z: f64) -> [f32; 3] {
        let s = self.style;
        let salt = s.salt;
        match s.wall {
            WallMat::Brick => {
                let rowh = 0.075;
                let row = (z / rowh).floor();
                let off = if (row as i64) % 2 != 0 { 0.1125 } else { 0.0 };
                let col = ((a + off) / 0.225).floor();
                let fu = (a + off) / 0.225 - col;
                let fv = z / rowh - row;
                if fu < 0.045 || fv < 0.13 {
                    return [190.0, 185.0, 175.0];
                }
                let t = unit(hash3(col as i64, row as i64, salt)) as f32 - 0.5;
                scale3(
                    s.wall_color,
                    1.0 + t * 0.25 + cell_rand(a, z, 0.01, salt) * 0.05,
                )
            }
            WallMat::Tile => {
                let t = 0.3;
                let (fu, fv) = ((a / t).rem_euclid(1.0), (z / t).rem_euclid(1.0));
                if fu < 0.02 || fv < 0.02 {
                    return scale3(s.wall_color, 0.8);
                }
                let k = cell_rand(a, z, t, salt) * 0.06 + value_noise(a, z, 4.0, salt) * 0.06;
                scale3(s.wall_color, 1.0 + k)
            }
            WallMat::Painted => {
                if a.rem_euclid(2.4) < 0.015 || z.rem_euclid(1.2) < 0.012 {
                    return scale3(s.wall_color, 0.85);
                }
                let stain =
                    value_noise(a, z, 1.7, salt) * 0.16 + value_noise(a, z, 0.4, salt ^ 1) * 0.05;
                let streak = if z < 1.0 {
                    -0.12 * (1.0 - z as f32)
                } else {
                    0.0
                };
                scale3(s.wall_color, 1.0 + stain + streak)
            }
            WallMat::Glass => {
                if a.rem_euclid(1.5) < 0.06 || z.rem_euclid(1.5) < 0.06 {
                    return [150.0, 155.0, 160.0];
                }
                let refl =
                    0.75 + 0.35 * (z as f32 / 20.0).min(1.0) + value_noise(a, z, 6.0, salt) * 0.2;
                scale3(s.glass, refl + 0.25)
            }
        }
    }

    fn wall(&self, a: f64, z: f64) -> [f32; 3] {
        let s = self.style;
        if z > 3.85 {
            let floor_z = (z - 3.85).rem_euclid(3.0);
            let wa = a.rem_euclid(3.0);
            let window = s.wall != WallMat::Glass
                && (0.8..2.3).contains(&floor_z)
                && (0.8..2.2).contains(&wa);
            if window {
                if !(0.86..=2.24).contains(&floor_z)
                    || !(0.86..=2.14).contains(&wa)
                    || (wa - 1.5).abs() < 0.03
                {
                    return [220.0, 220.0, 215.0];
                }
                let k = 0.7 + 0.5 * ((floor_z - 0.8) / 1.5) as f32;
                return scale3([70.0, 85.0, 100.0], k);
            }
            return scale3(self.material(a, z), 0.97);
        }
        if z > 3.7 {
            return s.trim;
        }
        let i = self.shops.partition_point(|sh| sh.a1 <= a);
        let Some(shop) = self.shops.get(i) else {
            return self.material(a, z);
        };
        let (da, db) = (a - shop.a0, shop.a1 - a);
        if da < 0.35 || db < 0.35 {
            return self.material(a, z);
        }
        if z > 2.6 {
            // Fascia zone (the sign board object covers most of it).
            return scale3(s.trim, 0.9);
        }
        if z < 0.25 {
            return [90.0, 88.0, 85.0];
        }
        if shop.shutter {
            let rib = (z * 12.0).rem_euclid(1.0) < 0.25;
            return if rib {
                [135.0, 138.0, 140.0]
            } else {
                [165.0, 168.0, 170.0]
            };
        }
        let frame = [45.0, 45.0, 50.0];
        let door = (a - shop.door).abs();
        if door < 0.55 && z < 2.2 {
            if !(0.02..=0.49).contains(&door) {
                return frame;
            }
            return scale3(s.glass, 0.6 + 0.4 * z as f32 / 2.2);
        }
        if (z - 2.2).abs() < 0.04 || da.rem_euclid(1.6) < 0.05 || z < 0.3 {
            return frame;
        }
        // Glass with a hint of shelves and goods behind it.
        let shelf = (z * 2.5).rem_euclid(1.0) < 0.08;
        let goods = cell_rand(a, (z * 2.5).floor(), 0.25, s.salt ^ 17);
        let refl = 0.65 + 0.45 * (z as f32 / 2.6) + value_noise(a, z, 2.0, s.salt ^ 19) * 0.2;
        let inside = if shelf {
            [60.0, 55.0, 50.0]
        } else {
            lerp3([85.0, 80.0, 75.0], [150.0, 110.0, 80.0], goods + 0.5)
        };
        lerp3(scale3(s.glass, refl), inside, 0.35)
    }

    /// Colour seen along a world ray from the camera at height `h`.
    fn shade_ray(&self, d: V3, h: f64) -> [f32; 3] {
        let l = self.layout;
        let (da, dc, dz) = (d.dot(l.along_dir()), d.dot(l.across_dir()), d.z);
        let cam_a = -l.along_offset_m;
        let mut best: Option<(f64, [f32; 3])> = None;
        let mut consider = |t: f64, c: [f32; 3]| {
            if t > 0.0 && best.is_none_or(|(bt, _)| t < bt) {
                best = Some((t, c));
            }
        };
        if dc > 1e-9 {
            let t = l.wall_m / dc;
            let z = h + t * dz;
            if (0.0..=l.wall_top_m).contains(&z) {
                consider(t, scale3(self.wall(cam_a + t * da, z), 0.9));
            }
        }
        if dz < -1e-9 {
            let t0 = -h / dz;
            let c0 = t0 * dc;
            if c0 <= l.near_kerb_m {
                consider(t0, self.paving(cam_a + t0 * da, l.near_kerb_m - c0));
            } else if c0 >= l.far_kerb_m {
                consider(t0, self.paving(cam_a + t0 * da, c0 - l.far_kerb_m));
            } else {
                let t1 = (-l.kerb_height_m - h) / dz;
                let c1 = t1 * dc;
                if c1 < l.far_kerb_m {
                    consider(t1, self.road(cam_a + t1 * da, c1));
                } else if dc > 1e-9 {
                    let t = l.far_kerb_m / dc;
                    consider(t, scale3(self.style.kerb, 0.62));
                }
            }
        }
        match best {
            Some((_, c)) => c,
            None => {
                let up = (dz / (da * da + dc * dc).sqrt().max(1e-9)).clamp(0.0, 1.0) as f32;
                lerp3([205.0, 214.0, 224.0], [150.0, 180.0, 220.0], up)
            }
        }
    }

    /// Renders the plate: packed RGB, `2 × 2` samples per pixel.
    pub(crate) fn render(&self, cam: &Camera) -> Vec<u8> {
        let (w, h) = (cam.pose().width as usize, cam.pose().height as usize);
        let mut out = vec![0u8; w * h * 3];
        let ch = cam.pose().height_m;
        for y in 0..h {
            for x in 0..w {
                let mut acc = [0.0f32; 3];
                for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                    let c = self.shade_ray(cam.ray(x as f64 + ox, y as f64 + oy), ch);
                    for k in 0..3 {
                        acc[k] += c[k];
                    }
                }
                let o = (y * w + x) * 3;
                for k in 0..3 {
                    out[o + k] = (acc[k] / 4.0).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        out
    }
}
