//! Object classes, variant ids and the models: simple shaded 3-D shapes (boxes, prisms, cones,
//! textured quads) and camera-facing billboards (limbs, discs) built in an object's local frame
//! and rasterised into sprites in perspective.
//!
//! Variants: every class has [`VARIANT_COUNT`] variant ids. A variant id fixes the look family
//! (shape kind, palette, proportions); the instance seed adds small jitter. The shape kind of a
//! variant is `(id / 2) % 4` (see [`variant_kind`]), so the even ids (training, [`Split::Train`])
//! and the odd ids (held out, [`Split::HeldOut`]) cover the same kinds of objects with different
//! palettes, sizes and goods: held-out scenes show objects of known kinds that were never seen.
//! Building materials draw what they are (sand bags, bricks or pipes) per object, so both
//! splits show all three.
//! The same split applies to pedestrians, bicycles, benches, bins, shop signs and backgrounds.
//! A training set can also draw a share of its scripted objects' colours per object from their
//! kind's whole list ([`SceneSpec::colour_share`](super::SceneSpec::colour_share)): the held-out
//! families' shapes, proportions, goods and text stay unseen, their colours no longer are.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::camera::{mat_inv, v3, Camera, Mat3, V3};
use super::raster::{Canvas, Depth, Paint, Sprite, Texture};
use super::rng::Rng;
use super::text::{Fonts, Lettering};

/// Number of variant ids per class (`0..VARIANT_COUNT`).
pub const VARIANT_COUNT: u32 = 16;

/// What a scripted event puts in the scene (the violation categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    StreetVending,
    SidewalkStacking,
    IllegalSignage,
}

impl Category {
    /// The ground-truth class of objects of this category.
    pub fn class(self) -> ObjectClass {
        match self {
            Category::StreetVending => ObjectClass::StreetVending,
            Category::SidewalkStacking => ObjectClass::SidewalkStacking,
            Category::IllegalSignage => ObjectClass::IllegalSignage,
        }
    }
}

/// Ground-truth classes. The first three are violations; the rest are distractors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    StreetVending,
    SidewalkStacking,
    IllegalSignage,
    Pedestrian,
    Bicycle,
    Bench,
    Bin,
    ShopSign,
}

impl ObjectClass {
    /// All classes, in class-index order.
    pub const ALL: [ObjectClass; 8] = [
        ObjectClass::StreetVending,
        ObjectClass::SidewalkStacking,
        ObjectClass::IllegalSignage,
        ObjectClass::Pedestrian,
        ObjectClass::Bicycle,
        ObjectClass::Bench,
        ObjectClass::Bin,
        ObjectClass::ShopSign,
    ];

    /// The snake_case name used in the ground truth.
    pub fn name(self) -> &'static str {
        match self {
            ObjectClass::StreetVending => "street_vending",
            ObjectClass::SidewalkStacking => "sidewalk_stacking",
            ObjectClass::IllegalSignage => "illegal_signage",
            ObjectClass::Pedestrian => "pedestrian",
            ObjectClass::Bicycle => "bicycle",
            ObjectClass::Bench => "bench",
            ObjectClass::Bin => "bin",
            ObjectClass::ShopSign => "shop_sign",
        }
    }

    /// Position in [`ObjectClass::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the class is a violation (the three event categories).
    pub fn is_violation(self) -> bool {
        matches!(
            self,
            ObjectClass::StreetVending
                | ObjectClass::SidewalkStacking
                | ObjectClass::IllegalSignage
        )
    }
}

/// Which split a random scene is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Even variant ids.
    Train,
    /// Odd variant ids.
    HeldOut,
}

/// Which variant ids a scene may draw from (for every class and for the background).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariantSet {
    /// Every id.
    All,
    /// Even ids (training).
    Even,
    /// Odd ids (held out).
    Odd,
    /// Exactly these ids (each below [`VARIANT_COUNT`]).
    Only(Vec<u32>),
}

impl VariantSet {
    /// The set for a split: even ids for training, odd ids for held-out scenes.
    pub fn for_split(split: Split) -> VariantSet {
        match split {
            Split::Train => VariantSet::Even,
            Split::HeldOut => VariantSet::Odd,
        }
    }

    /// Whether `id` is in the set.
    pub fn allows(&self, id: u32) -> bool {
        match self {
            VariantSet::All => true,
            VariantSet::Even => id.is_multiple_of(2),
            VariantSet::Odd => id % 2 == 1,
            VariantSet::Only(ids) => ids.contains(&id),
        }
    }

    /// Allowed ids below [`VARIANT_COUNT`].
    pub fn ids(&self) -> Vec<u32> {
        (0..VARIANT_COUNT).filter(|&i| self.allows(i)).collect()
    }
}

/// Shape kind of an event variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    UmbrellaStall,
    GoodsTable,
    TricycleCart,
    TentStall,
    Boxes,
    Sacks,
    Crates,
    Materials,
    WallPoster,
    PolePoster,
    Banner,
    AFrame,
}

/// Where a kind of object is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mount {
    Ground,
    Wall,
    Pole,
}

impl Kind {
    pub(crate) fn of(category: Category, variant: u32) -> Kind {
        let k = ((variant / 2) % 4) as usize;
        match category {
            Category::StreetVending => [
                Kind::UmbrellaStall,
                Kind::GoodsTable,
                Kind::TricycleCart,
                Kind::TentStall,
            ][k],
            Category::SidewalkStacking => {
                [Kind::Boxes, Kind::Sacks, Kind::Crates, Kind::Materials][k]
            }
            Category::IllegalSignage => [
                Kind::WallPoster,
                Kind::PolePoster,
                Kind::Banner,
                Kind::AFrame,
            ][k],
        }
    }

    pub(crate) fn mount(self) -> Mount {
        match self {
            Kind::WallPoster | Kind::Banner => Mount::Wall,
            Kind::PolePoster => Mount::Pole,
            _ => Mount::Ground,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::UmbrellaStall => "umbrella_stall",
            Kind::GoodsTable => "goods_table",
            Kind::TricycleCart => "tricycle_cart",
            Kind::TentStall => "tent_stall",
            Kind::Boxes => "cardboard_boxes",
            Kind::Sacks => "sacks",
            Kind::Crates => "plastic_crates",
            Kind::Materials => "building_materials",
            Kind::WallPoster => "wall_poster",
            Kind::PolePoster => "pole_poster",
            Kind::Banner => "banner",
            Kind::AFrame => "a_frame_sign",
        }
    }
}

/// Name of the shape kind of an event variant: `umbrella_stall`, `goods_table`,
/// `tricycle_cart`, `tent_stall`; `cardboard_boxes`, `sacks`, `plastic_crates`,
/// `building_materials`; `wall_poster`, `pole_poster`, `banner`, `a_frame_sign`.
pub fn variant_kind(category: Category, variant: u32) -> &'static str {
    Kind::of(category, variant).name()
}

/// A texture mapped onto a face: world point = `o + u·s + v·t` for texture `(s, t)` in `[0, 1]²`.
#[derive(Debug, Clone)]
pub(crate) struct TexMap {
    tex: Arc<Texture>,
    o: V3,
    u: V3,
    v: V3,
}

/// A drawable primitive in some frame (local while building, world when rendering).
#[derive(Debug, Clone)]
pub(crate) enum Prim {
    /// Planar convex polygon with outward normal `n`.
    Face {
        pts: Vec<V3>,
        n: V3,
        color: [f32; 3],
        two_sided: bool,
        tex: Option<TexMap>,
    },
    /// Camera-facing disc.
    Disc { c: V3, r: f64, color: [f32; 3] },
    /// Camera-facing thick segment with round ends.
    Limb {
        a: V3,
        b: V3,
        w: f64,
        color: [f32; 3],
    },
}

/// Rigid placement: local `(x, y, z)` → world `origin + x·ax + y·ay + z·up`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub(crate) origin: V3,
    pub(crate) ax: V3,
    pub(crate) ay: V3,
}

impl Place {
    pub(crate) fn point(&self, p: V3) -> V3 {
        self.origin + self.ax * p.x + self.ay * p.y + v3(0.0, 0.0, p.z)
    }
    fn dir(&self, d: V3) -> V3 {
        self.ax * d.x + self.ay * d.y + v3(0.0, 0.0, d.z)
    }
    /// Rotated by `yaw` radians about the vertical.
    pub(crate) fn rotated(&self, yaw: f64) -> Place {
        let (s, c) = yaw.sin_cos();
        Place {
            origin: self.origin,
            ax: self.ax * c + self.ay * s,
            ay: self.ay * c - self.ax * s,
        }
    }
}

/// A model in its local frame: x along the street, y towards the wall, z up, origin at the
/// centre of the ground footprint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub(crate) prims: Vec<Prim>,
    /// Footprint `[min_x, min_y, max_x, max_y]` on the ground (for shadows and spacing).
    pub(crate) foot: [f64; 4],
    pub(crate) height: f64,
}

impl Model {
    pub(crate) fn placed(&self, place: &Place) -> Vec<Prim> {
        self.prims
            .iter()
            .map(|p| match p {
                Prim::Face {
                    pts,
                    n,
                    color,
                    two_sided,
                    tex,
                } => Prim::Face {
                    pts: pts.iter().map(|&q| place.point(q)).collect(),
                    n: place.dir(*n),
                    color: *color,
                    two_sided: *two_sided,
                    tex: tex.as_ref().map(|t| TexMap {
                        tex: t.tex.clone(),
                        o: place.point(t.o),
                        u: place.dir(t.u),
                        v: place.dir(t.v),
                    }),
                },
                Prim::Disc { c, r, color } => Prim::Disc {
                    c: place.point(*c),
                    r: *r,
                    color: *color,
                },
                Prim::Limb { a, b, w, color } => Prim::Limb {
                    a: place.point(*a),
                    b: place.point(*b),
                    w: *w,
                    color: *color,
                },
            })
            .collect()
    }

    fn grow_foot(&mut self, x0: f64, y0: f64, x1: f64, y1: f64) {
        if self.foot == [0.0; 4] {
            self.foot = [x0, y0, x1, y1];
        } else {
            self.foot = [
                self.foot[0].min(x0),
                self.foot[1].min(y0),
                self.foot[2].max(x1),
                self.foot[3].max(y1),
            ];
        }
    }

    fn face(&mut self, pts: Vec<V3>, color: [f32; 3], two_sided: bool) {
        if pts.len() < 3 {
            return;
        }
        let n = (pts[1] - pts[0]).cross(pts[2] - pts[0]).unit();
        self.prims.push(Prim::Face {
            pts,
            n,
            color,
            two_sided,
            tex: None,
        });
    }

    /// Textured two-sided quad with corners `o`, `o + u`, `o + u + v`, `o + v` (texture top-left
    /// at `o`).
    fn tex_quad(&mut self, o: V3, u: V3, v: V3, tex: &Arc<Texture>) {
        let n = u.cross(v).unit();
        self.prims.push(Prim::Face {
            pts: vec![o, o + u, o + u + v, o + v],
            n,
            color: [255.0; 3],
            two_sided: true,
            tex: Some(TexMap {
                tex: tex.clone(),
                o,
                u,
                v,
            }),
        });
    }

    /// Oriented box: bottom centre `b`, unit axes `fx`, `fy` (horizontal), size `(lx, ly, lz)`.
    #[allow(clippy::too_many_arguments)]
    fn obox(
        &mut self,
        b: V3,
        fx: V3,
        fy: V3,
        lx: f64,
        ly: f64,
        lz: f64,
        color: [f32; 3],
        top: Option<[f32; 3]>,
    ) {
        let (hx, hy) = (fx * (lx / 2.0), fy * (ly / 2.0));
        let up = v3(0.0, 0.0, lz);
        let c = [b - hx - hy, b + hx - hy, b + hx + hy, b - hx + hy];
        let t: Vec<V3> = c.iter().map(|&p| p + up).collect();
        let faces: [(Vec<V3>, V3); 6] = [
            (vec![c[0], c[1], t[1], t[0]], -fy),
            (vec![c[1], c[2], t[2], t[1]], fx),
            (vec![c[2], c[3], t[3], t[2]], fy),
            (vec![c[3], c[0], t[0], t[3]], -fx),
            (t.clone(), v3(0.0, 0.0, 1.0)),
            (c.to_vec(), v3(0.0, 0.0, -1.0)),
        ];
        for (i, (pts, n)) in faces.into_iter().enumerate() {
            let color = if i == 4 { top.unwrap_or(color) } else { color };
            self.prims.push(Prim::Face {
                pts,
                n: n.unit(),
                color,
                two_sided: false,
                tex: None,
            });
        }
    }

    /// Axis-aligned box from `lo` to `hi` (local frame).
    fn cuboid(&mut self, lo: V3, hi: V3, color: [f32; 3]) {
        let b = v3((lo.x + hi.x) / 2.0, (lo.y + hi.y) / 2.0, lo.z);
        self.obox(b, X, Y, hi.x - lo.x, hi.y - lo.y, hi.z - lo.z, color, None);
    }

    /// Axis-aligned box with its own top colour; counts towards the footprint when on the ground.
    fn block(&mut self, lo: V3, hi: V3, color: [f32; 3], top: [f32; 3]) {
        let b = v3((lo.x + hi.x) / 2.0, (lo.y + hi.y) / 2.0, lo.z);
        self.obox(
            b,
            X,
            Y,
            hi.x - lo.x,
            hi.y - lo.y,
            hi.z - lo.z,
            color,
            Some(top),
        );
        if lo.z < 0.05 {
            self.grow_foot(lo.x, lo.y, hi.x, hi.y);
        }
        self.height = self.height.max(hi.z);
    }

    /// Prism of radius `r` around the segment `a`–`b` with end caps.
    fn cylinder(&mut self, a: V3, b: V3, r: f64, sides: usize, color: [f32; 3], cap: [f32; 3]) {
        let axis = (b - a).unit();
        let helper = if axis.z.abs() < 0.9 {
            v3(0.0, 0.0, 1.0)
        } else {
            X
        };
        let e1 = axis.cross(helper).unit();
        let e2 = axis.cross(e1);
        let ring = |c: V3, i: usize| {
            let t = std::f64::consts::TAU * i as f64 / sides as f64;
            c + e1 * (r * t.cos()) + e2 * (r * t.sin())
        };
        for i in 0..sides {
            let t = std::f64::consts::TAU * (i as f64 + 0.5) / sides as f64;
            let n = e1 * t.cos() + e2 * t.sin();
            self.prims.push(Prim::Face {
                pts: vec![ring(a, i), ring(a, i + 1), ring(b, i + 1), ring(b, i)],
                n,
                color,
                two_sided: false,
                tex: None,
            });
        }
        let top: Vec<V3> = (0..sides).map(|i| ring(b, i)).collect();
        let bottom: Vec<V3> = (0..sides).rev().map(|i| ring(a, i)).collect();
        self.prims.push(Prim::Face {
            pts: top,
            n: axis,
            color: cap,
            two_sided: false,
            tex: None,
        });
        self.prims.push(Prim::Face {
            pts: bottom,
            n: -axis,
            color: cap,
            two_sided: false,
            tex: None,
        });
        self.height = self.height.max(a.z.max(b.z) + r);
    }

    fn limb(&mut self, a: V3, b: V3, w: f64, color: [f32; 3]) {
        self.prims.push(Prim::Limb { a, b, w, color });
        self.height = self.height.max(a.z.max(b.z) + w / 2.0);
    }

    fn disc(&mut self, c: V3, r: f64, color: [f32; 3]) {
        self.prims.push(Prim::Disc { c, r, color });
        self.height = self.height.max(c.z + r);
    }

    /// A vertical wheel of radius `r` centred at `c` in the plane spanned by `dir` and up.
    fn wheel(&mut self, c: V3, dir: V3, r: f64, tyre: f64, color: [f32; 3]) {
        let n = 14;
        let p = |i: usize| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            c + dir * ((r - tyre / 2.0) * t.cos()) + v3(0.0, 0.0, (r - tyre / 2.0) * t.sin())
        };
        for i in 0..n {
            self.limb(p(i), p(i + 1), tyre, color);
        }
        for i in (0..n).step_by(n / 4) {
            self.limb(c, p(i), tyre * 0.25, [150.0, 150.0, 150.0]);
        }
    }

    /// A striped cone roof (umbrella) from rim height `z_rim` to the apex.
    fn cone(
        &mut self,
        c: V3,
        r: f64,
        z_rim: f64,
        z_apex: f64,
        sides: usize,
        colors: [[f32; 3]; 2],
    ) {
        let apex = v3(c.x, c.y, z_apex);
        for i in 0..sides {
            let t0 = std::f64::consts::TAU * i as f64 / sides as f64;
            let t1 = std::f64::consts::TAU * (i + 1) as f64 / sides as f64;
            let p0 = v3(c.x + r * t0.cos(), c.y + r * t0.sin(), z_rim);
            let p1 = v3(c.x + r * t1.cos(), c.y + r * t1.sin(), z_rim);
            self.face(vec![p0, p1, apex], colors[i % 2], true);
        }
        self.height = self.height.max(z_apex);
    }
}

const X: V3 = v3(1.0, 0.0, 0.0);
const Y: V3 = v3(0.0, 1.0, 0.0);

/// Vivid colours for goods, umbrellas and clothes.
const VIVID: [[f32; 3]; 12] = [
    [210.0, 40.0, 40.0],
    [240.0, 150.0, 30.0],
    [240.0, 210.0, 50.0],
    [60.0, 160.0, 60.0],
    [40.0, 100.0, 200.0],
    [140.0, 60.0, 170.0],
    [235.0, 235.0, 235.0],
    [230.0, 110.0, 140.0],
    [40.0, 170.0, 170.0],
    [120.0, 80.0, 40.0],
    [30.0, 30.0, 35.0],
    [180.0, 200.0, 60.0],
];
const CLOTHES: [[f32; 3]; 12] = [
    [40.0, 45.0, 60.0],
    [200.0, 60.0, 50.0],
    [230.0, 230.0, 225.0],
    [70.0, 110.0, 160.0],
    [90.0, 90.0, 95.0],
    [160.0, 140.0, 100.0],
    [40.0, 90.0, 60.0],
    [210.0, 170.0, 60.0],
    [120.0, 50.0, 80.0],
    [25.0, 25.0, 30.0],
    [150.0, 180.0, 210.0],
    [220.0, 120.0, 60.0],
];
const SKINS: [[f32; 3]; 4] = [
    [225.0, 185.0, 150.0],
    [205.0, 160.0, 120.0],
    [170.0, 120.0, 85.0],
    [235.0, 200.0, 170.0],
];

/// What a person wears.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Look {
    skin: [f32; 3],
    hair: [f32; 3],
    top: [f32; 3],
    bottom: [f32; 3],
    shoes: [f32; 3],
    bag: Option<[f32; 3]>,
    pub(crate) height: f64,
}

impl Look {
    /// A look from variant `variant` with per-instance jitter from `rng`.
    pub(crate) fn new(variant: u32, rng: &mut Rng) -> Look {
        let mut fam = Rng::stream(u64::from(variant), 0x9E0);
        let top = fam.pick(&CLOTHES);
        let bottom = fam.pick(&CLOTHES[..6]);
        let bag = fam.chance(0.4).then(|| fam.pick(&VIVID));
        Look {
            skin: rng.pick(&SKINS),
            hair: rng.jitter([35.0, 28.0, 22.0], 0.3),
            top: rng.jitter(top, 0.12),
            bottom: rng.jitter(bottom, 0.12),
            shoes: rng.jitter([35.0, 32.0, 30.0], 0.3),
            bag,
            height: fam.range(1.55, 1.85) + rng.range(-0.05, 0.05),
        }
    }
}

/// Adds a person standing at `at` (local), facing local direction `facing` (radians from +x),
/// at walk phase `phase` (radians); `stride` 0 stands still.
pub(crate) fn person(m: &mut Model, look: &Look, at: V3, facing: f64, phase: f64, stride: f64) {
    let h = look.height;
    let fwd = v3(facing.cos(), facing.sin(), 0.0);
    let left = v3(-facing.sin(), facing.cos(), 0.0);
    let hip_z = 0.52 * h;
    let leg = 0.5 * h;
    for (side, sgn) in [(1.0, 1.0), (-1.0, -1.0)] {
        let swing = stride * phase.sin() * sgn;
        let hip = at + left * (0.055 * h * side) + v3(0.0, 0.0, hip_z);
        let foot = at + left * (0.06 * h * side) + fwd * (leg * swing.sin()) + v3(0.0, 0.0, 0.03);
        let bend = if swing < 0.0 {
            0.08 * h * (-swing)
        } else {
            0.0
        };
        let knee = (hip + foot) * 0.5 + fwd * (0.03 * h * stride.min(0.1) * 10.0 * 0.3 + bend);
        m.limb(hip, knee, 0.085 * h, look.bottom);
        m.limb(knee, foot, 0.065 * h, look.bottom);
        m.limb(
            foot,
            foot + fwd * 0.12 + v3(0.0, 0.0, 0.0),
            0.045 * h,
            look.shoes,
        );
        let arm_swing = -0.8 * swing;
        let shoulder = at + left * (0.13 * h * side) + v3(0.0, 0.0, 0.8 * h);
        let elbow = shoulder + fwd * (0.16 * h * arm_swing.sin()) - v3(0.0, 0.0, 0.17 * h);
        let hand =
            elbow + fwd * (0.16 * h * (arm_swing * 1.3).sin() + 0.02) - v3(0.0, 0.0, 0.15 * h);
        m.limb(shoulder, elbow, 0.06 * h, look.top);
        m.limb(elbow, hand, 0.05 * h, look.top);
        m.disc(hand, 0.03 * h, look.skin);
    }
    m.obox(
        at + v3(0.0, 0.0, hip_z - 0.04 * h),
        fwd,
        left,
        0.13 * h,
        0.24 * h,
        0.33 * h,
        look.top,
        None,
    );
    m.limb(
        at + v3(0.0, 0.0, 0.83 * h),
        at + v3(0.0, 0.0, 0.88 * h),
        0.05 * h,
        look.skin,
    );
    m.disc(at + v3(0.0, 0.0, 0.93 * h), 0.062 * h, look.skin);
    m.disc(
        at + v3(0.0, 0.0, 0.95 * h) - fwd * 0.03,
        0.06 * h,
        look.hair,
    );
    if let Some(bag) = look.bag {
        m.obox(
            at - left * (0.15 * h) + v3(0.0, 0.0, 0.45 * h),
            fwd,
            left,
            0.18 * h,
            0.06 * h,
            0.15 * h,
            bag,
            None,
        );
    }
    m.grow_foot(at.x - 0.2, at.y - 0.2, at.x + 0.2, at.y + 0.2);
    m.height = m.height.max(h);
}

/// Goods on a surface `[x0, y0, x1, y1]` at height `z`.
fn goods(m: &mut Model, rng: &mut Rng, area: [f64; 4], z: f64, palette: &[[f32; 3]]) {
    let (w, d) = (area[2] - area[0], area[3] - area[1]);
    let cols = ((w / 0.28) as usize).max(1);
    let rows = ((d / 0.28) as usize).max(1);
    for r in 0..rows {
        for c in 0..cols {
            if rng.chance(0.12) {
                continue;
            }
            let cx = area[0] + (c as f64 + 0.5) * w / cols as f64;
            let cy = area[1] + (r as f64 + 0.5) * d / rows as f64;
            let color = rng.jitter(rng.clone().pick(palette), 0.1);
            let _ = rng.next_u64();
            let s = rng.range(0.14, 0.24);
            let ht = rng.range(0.06, 0.28);
            match rng.below(3) {
                0 => m.cylinder(
                    v3(cx, cy, z),
                    v3(cx, cy, z + ht),
                    s * 0.4,
                    8,
                    color,
                    scale(color, 1.1),
                ),
                1 => {
                    // A heap of fruit.
                    m.block(
                        v3(cx - s / 2.0, cy - s / 2.0, z),
                        v3(cx + s / 2.0, cy + s / 2.0, z + 0.05),
                        [120.0, 90.0, 60.0],
                        [120.0, 90.0, 60.0],
                    );
                    for k in 0..3 {
                        m.disc(
                            v3(
                                cx + (k as f64 - 1.0) * s * 0.3,
                                cy,
                                z + 0.09 + 0.03 * (k % 2) as f64,
                            ),
                            s * 0.22,
                            color,
                        );
                    }
                }
                _ => m.cuboid(
                    v3(cx - s / 2.0, cy - s / 2.0, z),
                    v3(cx + s / 2.0, cy + s / 2.0, z + ht),
                    color,
                ),
            }
        }
    }
}

fn scale(c: [f32; 3], k: f32) -> [f32; 3] {
    [
        (c[0] * k).min(255.0),
        (c[1] * k).min(255.0),
        (c[2] * k).min(255.0),
    ]
}

/// A table `w × d` with cloth to `cloth_z` and legs, top at `z`.
fn table(m: &mut Model, w: f64, d: f64, z: f64, cloth: [f32; 3], cloth_z: f64) {
    m.block(
        v3(-w / 2.0, -d / 2.0, cloth_z),
        v3(w / 2.0, d / 2.0, z),
        cloth,
        scale(cloth, 1.05),
    );
    for (sx, sy) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
        let (x, y) = (sx * (w / 2.0 - 0.05), sy * (d / 2.0 - 0.05));
        m.block(
            v3(x - 0.025, y - 0.025, 0.0),
            v3(x + 0.025, y + 0.025, cloth_z),
            [60.0, 60.0, 60.0],
            [60.0, 60.0, 60.0],
        );
    }
    m.grow_foot(-w / 2.0, -d / 2.0, w / 2.0, d / 2.0);
}

fn phone(rng: &mut Rng) -> String {
    let mut s = format!("1{}", rng.pick(&[3, 5, 8]));
    for _ in 0..9 {
        s.push(char::from(b'0' + rng.below(10) as u8));
    }
    s
}

/// Text of an illegal poster or sign.
fn poster_text(rng: &mut Rng) -> Vec<String> {
    let p = phone(rng);
    match rng.below(12) {
        0 => vec!["办证".into(), p],
        1 => vec!["招租".into(), format!("电话 {p}")],
        2 => vec!["SALE".into()],
        3 => vec!["清仓".into(), "大甩卖".into()],
        4 => vec!["开锁 修锁".into(), p],
        5 => vec!["疏通下水道".into(), p],
        6 => vec!["FOR RENT".into(), p],
        7 => vec!["贷款".into(), "无抵押".into(), p],
        8 => vec!["招聘".into(), "月薪8000".into(), p],
        9 => vec!["旺铺转让".into(), p],
        10 => vec!["CASH LOANS".into(), p],
        _ => vec!["特价".into(), "50% OFF".into()],
    }
}

/// Names on permitted shop signs.
const SHOP_NAMES: [&str; 16] = [
    "便利店",
    "中华面馆",
    "CAFE",
    "BAKERY",
    "水果店",
    "理发 HAIR",
    "大药房",
    "五金店",
    "SUPERMARKET",
    "茶叶",
    "眼镜店",
    "BOOKS",
    "快餐",
    "手机维修",
    "花店 FLOWERS",
    "包子铺",
];

/// Builds models; holds the fonts for text textures.
#[derive(Debug)]
pub(crate) struct Builder<'a> {
    pub(crate) fonts: &'a Fonts,
    /// Share of event objects whose colours are drawn per instance (see [`Colours`]).
    pub(crate) colour_share: f64,
}

/// The colour choices of an event object. Normally its look family (variant id) fixes them; for
/// a share of instances ([`SceneSpec::colour_share`](super::SceneSpec::colour_share)) each
/// choice is drawn again, from the same list, by the instance. The family's own draw still
/// happens, so its proportions, goods and text stay what they were, and with a share of 0 the
/// objects are exactly as before.
struct Colours {
    instance: Option<Rng>,
}

impl Colours {
    /// Decides for one instance; `rng` (the instance's generator) is not advanced.
    fn new(share: f64, rng: &Rng) -> Colours {
        let mut own = Rng::stream(rng.clone().next_u64(), 0xC0104);
        Colours {
            instance: (share > 0.0 && own.chance(share)).then_some(own),
        }
    }

    fn pick<T: Copy>(&mut self, fam: &mut Rng, choices: &[T]) -> T {
        let family = fam.pick(choices);
        match &mut self.instance {
            Some(own) => own.pick(choices),
            None => family,
        }
    }
}

/// What a building-materials object is: sand bags, a pallet of bricks or a pile of pipes.
///
/// Each object draws its own, so the training families and the held-out ones both show all
/// three (their colours, sizes and proportions still come from the family). When the family
/// fixed it, the two training families were both sand bags and the held-out ones bricks and
/// pipes: no model could learn those from the training scenes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Material {
    SandBags,
    Bricks,
    Pipes,
}

impl Material {
    /// The material of the object whose generator is `rng` (not advanced: the draw comes from
    /// a stream of its own, so the scene's other objects are where they were).
    pub(crate) fn of(rng: &Rng) -> Material {
        let mut own = Rng::stream(rng.clone().next_u64(), 0x4D_4154);
        [Material::SandBags, Material::Bricks, Material::Pipes][own.below(3)]
    }
}

/// Paper/cloth colours for posters and the text colours that go with them.
const PAPERS: [([u8; 3], [u8; 3]); 6] = [
    ([245, 245, 240], [200, 20, 20]),
    ([250, 230, 60], [20, 20, 20]),
    ([240, 120, 160], [255, 255, 255]),
    ([250, 250, 250], [20, 40, 160]),
    ([220, 40, 40], [255, 235, 80]),
    ([60, 150, 70], [255, 255, 255]),
];

impl Builder<'_> {
    fn texture(
        &self,
        lines: &[String],
        w_m: f64,
        h_m: f64,
        bg: [u8; 3],
        fg: [u8; 3],
    ) -> Arc<Texture> {
        let ppm = 160.0;
        let (w, h) = (
            ((w_m * ppm) as usize).clamp(16, 640),
            ((h_m * ppm) as usize).clamp(16, 480),
        );
        if lines.len() < 2 {
            return Arc::new(self.fonts.text_texture(lines, w, h, bg, fg, 0.82));
        }
        // A big headline over smaller lines (phone numbers), with a thin border.
        let mut tex = Texture::new(w, h, [bg[0], bg[1], bg[2], 255]);
        let split = if w as f64 > h as f64 * 2.0 {
            w * 6 / 10
        } else {
            h * 6 / 10
        };
        if w as f64 > h as f64 * 2.0 {
            self.fonts
                .draw_text(&mut tex, &lines[..1], [0, 0, split, h], fg, 0.85);
            self.fonts
                .draw_text(&mut tex, &lines[1..], [split, 0, w - split, h], fg, 0.8);
        } else {
            self.fonts
                .draw_text(&mut tex, &lines[..1], [0, 0, w, split], fg, 0.85);
            self.fonts
                .draw_text(&mut tex, &lines[1..], [0, split, w, h - split], fg, 0.85);
        }
        let b = (w.min(h) / 30).max(1);
        let edge = [fg[0], fg[1], fg[2], 255];
        tex.fill_rect(0, 0, w, b, edge);
        tex.fill_rect(0, h - b, w, h, edge);
        tex.fill_rect(0, 0, b, h, edge);
        tex.fill_rect(w - b, 0, w, h, edge);
        Arc::new(tex)
    }

    /// Event object of `kind` / `variant`, in its local frame.
    pub(crate) fn event(&self, kind: Kind, variant: u32, rng: &mut Rng) -> Model {
        let mut fam = Rng::stream(u64::from(variant), kind as u64 + 0xE0);
        let mut colours = Colours::new(self.colour_share, rng);
        let material = Material::of(rng);
        let mut m = Model::default();
        let vendor = Look::new(fam.below(VARIANT_COUNT as usize) as u32 | 1, rng);
        let palette: Vec<[f32; 3]> = (0..4).map(|_| colours.pick(&mut fam, &VIVID)).collect();
        // The family's draw of a building material, kept so that every family's later draws
        // stay what they were; each object draws its material itself (`Material::of`).
        fam.below(3);
        let shape = if kind == Kind::Materials && material == Material::SandBags {
            Kind::Sacks
        } else {
            kind
        };
        match shape {
            Kind::UmbrellaStall | Kind::GoodsTable | Kind::TentStall => {
                let w = fam.range(1.1, 1.8) * rng.range(0.92, 1.08);
                let d = fam.range(0.6, 0.9);
                let cloth = rng.jitter(colours.pick(&mut fam, &VIVID), 0.08);
                let cloth_z = if fam.chance(0.5) { 0.35 } else { 0.7 };
                table(&mut m, w, d, 0.76, cloth, cloth_z);
                goods(
                    &mut m,
                    rng,
                    [
                        -w / 2.0 + 0.05,
                        -d / 2.0 + 0.05,
                        w / 2.0 - 0.05,
                        d / 2.0 - 0.05,
                    ],
                    0.76,
                    &palette,
                );
                if kind == Kind::GoodsTable {
                    for i in 0..(2 + rng.below(3)) {
                        let x = -w / 2.0 + 0.3 + i as f64 * 0.5;
                        let c = colours.pick(&mut fam, &VIVID);
                        m.block(
                            v3(x - 0.22, -d / 2.0 - 0.45, 0.0),
                            v3(x + 0.22, -d / 2.0 - 0.1, 0.28),
                            c,
                            scale(c, 0.7),
                        );
                        goods(
                            &mut m,
                            rng,
                            [x - 0.2, -d / 2.0 - 0.43, x + 0.2, -d / 2.0 - 0.12],
                            0.28,
                            &palette,
                        );
                    }
                }
                if kind == Kind::UmbrellaStall {
                    let r = fam.range(1.1, 1.5);
                    m.cylinder(
                        v3(0.0, d * 0.3, 0.0),
                        v3(0.0, d * 0.3, 2.4),
                        0.025,
                        6,
                        [200.0, 200.0, 200.0],
                        [200.0, 200.0, 200.0],
                    );
                    let stripes = [
                        colours.pick(&mut fam, &VIVID),
                        if fam.chance(0.6) {
                            [240.0, 240.0, 235.0]
                        } else {
                            colours.pick(&mut fam, &VIVID)
                        },
                    ];
                    m.cone(v3(0.0, d * 0.3, 0.0), r, 2.1, 2.5, 8, stripes);
                }
                if kind == Kind::TentStall {
                    let s = fam.range(1.1, 1.5);
                    let roof = [
                        colours.pick(
                            &mut fam,
                            &[
                                [240.0, 240.0, 240.0],
                                [40.0, 90.0, 190.0],
                                [200.0, 40.0, 40.0],
                            ],
                        ),
                        [0.0; 3],
                    ];
                    let roof2 = scale(roof[0], 0.9);
                    for (sx, sy) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
                        m.cylinder(
                            v3(sx * s, sy * s * 0.8, 0.0),
                            v3(sx * s, sy * s * 0.8, 2.2),
                            0.025,
                            6,
                            [170.0, 170.0, 175.0],
                            [170.0, 170.0, 175.0],
                        );
                    }
                    let c = [
                        v3(-s, -s * 0.8, 2.2),
                        v3(s, -s * 0.8, 2.2),
                        v3(s, s * 0.8, 2.2),
                        v3(-s, s * 0.8, 2.2),
                    ];
                    let apex = v3(0.0, 0.0, 2.75);
                    for i in 0..4 {
                        let (a, b) = (c[i], c[(i + 1) % 4]);
                        m.face(
                            vec![a, b, apex],
                            if i % 2 == 0 { roof[0] } else { roof2 },
                            true,
                        );
                        let drop = v3(0.0, 0.0, -0.22);
                        m.face(vec![a, b, b + drop, a + drop], scale(roof[0], 0.85), true);
                    }
                    m.grow_foot(-s, -s * 0.8, s, s * 0.8);
                }
                let side = if fam.chance(0.5) { 1.0 } else { -1.0 };
                person(
                    &mut m,
                    &vendor,
                    v3(side * (w / 2.0 + 0.35), d * 0.2, 0.0),
                    -std::f64::consts::FRAC_PI_2 + side * 0.6,
                    0.0,
                    0.0,
                );
            }
            Kind::TricycleCart => {
                let (lx, ly) = (fam.range(1.0, 1.4), fam.range(0.75, 0.95));
                let body = rng.jitter(
                    colours.pick(
                        &mut fam,
                        &[
                            [60.0, 120.0, 190.0],
                            [200.0, 60.0, 50.0],
                            [60.0, 150.0, 80.0],
                            [210.0, 200.0, 190.0],
                        ],
                    ),
                    0.08,
                );
                let metal = [50.0, 52.0, 55.0];
                let tyre = [25.0, 25.0, 25.0];
                for sy in [-1.0, 1.0] {
                    m.wheel(v3(-0.1, sy * (ly / 2.0 + 0.06), 0.3), X, 0.3, 0.06, tyre);
                }
                m.cuboid(
                    v3(-lx / 2.0, -ly / 2.0, 0.42),
                    v3(lx / 2.0, ly / 2.0, 0.47),
                    metal,
                );
                let wall = 0.35;
                for (lo, hi) in [
                    (
                        v3(-lx / 2.0, -ly / 2.0, 0.47),
                        v3(lx / 2.0, -ly / 2.0 + 0.03, 0.47 + wall),
                    ),
                    (
                        v3(-lx / 2.0, ly / 2.0 - 0.03, 0.47),
                        v3(lx / 2.0, ly / 2.0, 0.47 + wall),
                    ),
                    (
                        v3(-lx / 2.0, -ly / 2.0, 0.47),
                        v3(-lx / 2.0 + 0.03, ly / 2.0, 0.47 + wall),
                    ),
                    (
                        v3(lx / 2.0 - 0.03, -ly / 2.0, 0.47),
                        v3(lx / 2.0, ly / 2.0, 0.47 + wall),
                    ),
                ] {
                    m.cuboid(lo, hi, body);
                }
                goods(
                    &mut m,
                    rng,
                    [
                        -lx / 2.0 + 0.05,
                        -ly / 2.0 + 0.05,
                        lx / 2.0 - 0.05,
                        ly / 2.0 - 0.05,
                    ],
                    0.62,
                    &palette,
                );
                let fx = lx / 2.0 + 0.75;
                m.wheel(v3(fx, 0.0, 0.3), X, 0.3, 0.06, tyre);
                m.limb(v3(lx / 2.0, 0.0, 0.5), v3(fx - 0.1, 0.0, 0.95), 0.05, metal);
                m.limb(v3(fx - 0.1, 0.0, 0.95), v3(fx, 0.0, 0.3), 0.045, metal);
                m.limb(
                    v3(lx / 2.0 + 0.25, 0.0, 0.5),
                    v3(lx / 2.0 + 0.2, 0.0, 0.95),
                    0.045,
                    metal,
                );
                m.limb(
                    v3(lx / 2.0 + 0.1, 0.0, 0.97),
                    v3(lx / 2.0 + 0.3, 0.0, 0.97),
                    0.07,
                    [30.0, 30.0, 30.0],
                );
                m.limb(
                    v3(fx - 0.12, -0.28, 1.05),
                    v3(fx - 0.12, 0.28, 1.05),
                    0.035,
                    metal,
                );
                m.grow_foot(-lx / 2.0, -ly / 2.0 - 0.1, fx + 0.3, ly / 2.0 + 0.1);
                if fam.chance(0.6) {
                    let roof = colours.pick(&mut fam, &VIVID);
                    for (sx, sy) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
                        m.limb(
                            v3(sx * lx / 2.0, sy * ly / 2.0, 0.8),
                            v3(sx * lx / 2.0, sy * ly / 2.0, 1.75),
                            0.03,
                            metal,
                        );
                    }
                    let (hx, hy) = (lx / 2.0 + 0.1, ly / 2.0 + 0.1);
                    m.face(
                        vec![
                            v3(-hx, -hy, 1.75),
                            v3(hx, -hy, 1.75),
                            v3(hx, hy, 1.8),
                            v3(-hx, hy, 1.8),
                        ],
                        roof,
                        true,
                    );
                    m.face(
                        vec![
                            v3(-hx, -hy, 1.75),
                            v3(hx, -hy, 1.75),
                            v3(hx, -hy, 1.6),
                            v3(-hx, -hy, 1.6),
                        ],
                        scale(roof, 0.85),
                        true,
                    );
                }
                person(
                    &mut m,
                    &vendor,
                    v3(0.2, ly / 2.0 + 0.45, 0.0),
                    -std::f64::consts::FRAC_PI_2 - 0.4,
                    0.0,
                    0.0,
                );
            }
            Kind::Boxes => {
                let bs = fam.range(0.35, 0.55);
                let cols = 2 + fam.below(3);
                let rows = 1 + fam.below(2);
                let tape = if fam.chance(0.5) {
                    [215.0, 195.0, 150.0]
                } else {
                    [235.0, 235.0, 235.0]
                };
                for r in 0..rows {
                    for c in 0..cols {
                        let n = 1 + rng.below(3);
                        let mut z = 0.0;
                        for _ in 0..n {
                            let s = bs * rng.range(0.85, 1.15);
                            let ht = s * rng.range(0.6, 1.0);
                            let x = (c as f64 - (cols as f64 - 1.0) / 2.0) * bs * 1.05
                                + rng.range(-0.04, 0.04);
                            let y = (r as f64 - (rows as f64 - 1.0) / 2.0) * bs * 1.05;
                            let brown = rng.jitter([185.0, 140.0, 90.0], 0.1);
                            let yaw = rng.range(-0.15, 0.15);
                            let (fx, fy) = (
                                v3(yaw.cos(), yaw.sin(), 0.0),
                                v3(-yaw.sin(), yaw.cos(), 0.0),
                            );
                            m.obox(
                                v3(x, y, z),
                                fx,
                                fy,
                                s,
                                s,
                                ht,
                                brown,
                                Some(scale(brown, 1.08)),
                            );
                            m.obox(v3(x, y, z + ht), fx, fy, s * 1.001, 0.06, 0.004, tape, None);
                            m.obox(v3(x, y, z), fx, fy, 0.06, s * 1.004, ht + 0.003, tape, None);
                            if z == 0.0 {
                                m.grow_foot(x - s / 2.0, y - s / 2.0, x + s / 2.0, y + s / 2.0);
                            }
                            z += ht;
                            m.height = m.height.max(z);
                        }
                    }
                }
            }
            Kind::Sacks => {
                let color = rng.jitter(
                    colours.pick(
                        &mut fam,
                        &[
                            [235.0, 232.0, 220.0],
                            [200.0, 185.0, 150.0],
                            [120.0, 150.0, 110.0],
                            [170.0, 170.0, 165.0],
                        ],
                    ),
                    0.05,
                );
                let (sl, sw, sh) = (
                    fam.range(0.6, 0.85),
                    fam.range(0.38, 0.5),
                    fam.range(0.16, 0.24),
                );
                let base = 2 + fam.below(3);
                let upright = kind == Kind::Sacks && fam.chance(0.4);
                if upright {
                    for i in 0..base * 2 {
                        let x = (i % base) as f64 * 0.42 - base as f64 * 0.21;
                        let y = (i / base) as f64 * 0.42 - 0.21;
                        let ht = rng.range(0.6, 0.8);
                        m.cylinder(
                            v3(x, y, 0.0),
                            v3(x, y, ht),
                            0.2,
                            8,
                            rng.jitter(color, 0.05),
                            scale(color, 0.8),
                        );
                        m.limb(v3(x, y, ht), v3(x, y, ht + 0.08), 0.12, scale(color, 0.85));
                        m.grow_foot(x - 0.2, y - 0.2, x + 0.2, y + 0.2);
                    }
                } else {
                    let mut z = 0.0;
                    for layer in 0..base {
                        let n = base - layer;
                        for i in 0..n {
                            let x = (i as f64 - (n as f64 - 1.0) / 2.0) * sl * 1.02;
                            let c = rng.jitter(color, 0.06);
                            m.obox(v3(x, 0.0, z), X, Y, sl, sw, sh, c, Some(scale(c, 1.06)));
                            m.limb(
                                v3(x - sl / 2.0, 0.0, z + sh / 2.0),
                                v3(x - sl / 2.0 - 0.05, 0.0, z + sh / 2.0),
                                sh * 0.6,
                                scale(c, 0.9),
                            );
                            m.limb(
                                v3(x + sl / 2.0, 0.0, z + sh / 2.0),
                                v3(x + sl / 2.0 + 0.05, 0.0, z + sh / 2.0),
                                sh * 0.6,
                                scale(c, 0.9),
                            );
                        }
                        z += sh;
                    }
                    m.height = m.height.max(z);
                    let hw = base as f64 * sl * 0.51;
                    m.grow_foot(-hw, -sw / 2.0, hw, sw / 2.0);
                }
            }
            Kind::Crates => {
                let color = rng.jitter(
                    colours.pick(
                        &mut fam,
                        &[
                            [40.0, 90.0, 190.0],
                            [200.0, 40.0, 40.0],
                            [50.0, 150.0, 70.0],
                            [230.0, 190.0, 40.0],
                        ],
                    ),
                    0.05,
                );
                let mut tex = Texture::new(64, 32, [0, 0, 0, 255]);
                let c8 = [color[0] as u8, color[1] as u8, color[2] as u8, 255];
                tex.fill_rect(0, 0, 64, 32, c8);
                let dark = [
                    (color[0] * 0.35) as u8,
                    (color[1] * 0.35) as u8,
                    (color[2] * 0.35) as u8,
                    255,
                ];
                for k in 0..5 {
                    tex.fill_rect(5 + k * 12, 14, 11 + k * 12, 27, dark);
                }
                tex.fill_rect(20, 4, 44, 9, dark);
                let tex = Arc::new(tex);
                let (cl, cw, ch) = (
                    fam.range(0.5, 0.6),
                    fam.range(0.35, 0.42),
                    fam.range(0.25, 0.32),
                );
                let cols = 2 + fam.below(3);
                for c in 0..cols {
                    let n = 2 + rng.below(4);
                    let x = (c as f64 - (cols as f64 - 1.0) / 2.0) * cl * 1.02;
                    for k in 0..n {
                        let z = k as f64 * ch;
                        let (x0, x1, y0, y1) = (x - cl / 2.0, x + cl / 2.0, -cw / 2.0, cw / 2.0);
                        m.block(v3(x0, y0, z), v3(x1, y1, z + ch), color, scale(color, 0.5));
                        let up = v3(0.0, 0.0, -ch);
                        m.tex_quad(v3(x0, y0 - 0.003, z + ch), v3(cl, 0.0, 0.0), up, &tex);
                        m.tex_quad(v3(x0 - 0.003, y1, z + ch), v3(0.0, -cw, 0.0), up, &tex);
                        m.tex_quad(v3(x1 + 0.003, y0, z + ch), v3(0.0, cw, 0.0), up, &tex);
                    }
                }
            }
            Kind::Materials => {
                if material == Material::Bricks {
                    // Pallet of bricks.
                    let (lx, ly) = (fam.range(0.9, 1.2), fam.range(0.8, 1.0));
                    m.block(
                        v3(-lx / 2.0, -ly / 2.0, 0.0),
                        v3(lx / 2.0, ly / 2.0, 0.12),
                        [150.0, 115.0, 75.0],
                        [165.0, 130.0, 85.0],
                    );
                    let brick = rng.jitter([165.0, 75.0, 55.0], 0.08);
                    let mut tex = Texture::new(96, 64, [200, 195, 185, 255]);
                    for row in 0..8 {
                        let off = if row % 2 == 0 { 0 } else { 12 };
                        for col in 0..5 {
                            let x0 = (off + col * 24) % 96;
                            let k = 0.85 + 0.3 * rng.f64() as f32;
                            let c = [
                                (brick[0] * k).min(255.0) as u8,
                                (brick[1] * k) as u8,
                                (brick[2] * k) as u8,
                                255,
                            ];
                            tex.fill_rect(x0 + 1, row * 8 + 1, (x0 + 23).min(96), row * 8 + 7, c);
                        }
                    }
                    let tex = Arc::new(tex);
                    let ht = fam.range(0.5, 0.9);
                    let (x0, x1, y0, y1, z0, z1) = (
                        -lx / 2.0 + 0.03,
                        lx / 2.0 - 0.03,
                        -ly / 2.0 + 0.03,
                        ly / 2.0 - 0.03,
                        0.12,
                        0.12 + ht,
                    );
                    m.block(v3(x0, y0, z0), v3(x1, y1, z1), brick, scale(brick, 1.05));
                    let up = v3(0.0, 0.0, -ht);
                    m.tex_quad(v3(x0, y0 - 0.003, z1), v3(x1 - x0, 0.0, 0.0), up, &tex);
                    m.tex_quad(v3(x0 - 0.003, y1, z1), v3(0.0, y0 - y1, 0.0), up, &tex);
                    m.tex_quad(v3(x1 + 0.003, y0, z1), v3(0.0, y1 - y0, 0.0), up, &tex);
                } else {
                    // A pile of pipes lying along the kerb.
                    let len = fam.range(1.8, 3.0);
                    let r = fam.range(0.05, 0.09);
                    let color = colours.pick(
                        &mut fam,
                        &[
                            [225.0, 225.0, 220.0],
                            [150.0, 150.0, 155.0],
                            [150.0, 90.0, 60.0],
                            [90.0, 110.0, 130.0],
                        ],
                    );
                    let base = 3 + fam.below(4);
                    for layer in 0..base {
                        for i in 0..(base - layer) {
                            let y = (i as f64 - (base - layer - 1) as f64 / 2.0) * 2.0 * r;
                            let z = r + layer as f64 * r * 1.73;
                            m.cylinder(
                                v3(-len / 2.0, y, z),
                                v3(len / 2.0, y, z),
                                r,
                                8,
                                rng.jitter(color, 0.05),
                                scale(color, 0.5),
                            );
                        }
                    }
                    m.grow_foot(-len / 2.0, -(base as f64) * r, len / 2.0, base as f64 * r);
                }
            }
            Kind::AFrame => {
                let (w, h) = (fam.range(0.5, 0.7), fam.range(0.85, 1.1));
                let (bg, fg) = colours.pick(&mut fam, &PAPERS);
                let frame = colours.pick(
                    &mut fam,
                    &[
                        [40.0, 40.0, 40.0],
                        [150.0, 110.0, 70.0],
                        [200.0, 200.0, 200.0],
                    ],
                );
                let tex = self.texture(&poster_text(rng), w - 0.08, h * 0.9, bg, fg);
                let spread = h * 0.28;
                for sy in [-1.0, 1.0] {
                    let bottom = sy * spread;
                    // Frame board.
                    m.face(
                        vec![
                            v3(-w / 2.0, bottom, 0.0),
                            v3(w / 2.0, bottom, 0.0),
                            v3(w / 2.0, 0.0, h),
                            v3(-w / 2.0, 0.0, h),
                        ],
                        frame,
                        true,
                    );
                    let o = v3(-w / 2.0 + 0.04, sy * 0.012 + 0.0, h - 0.04);
                    let o = o + v3(0.0, bottom * 0.04 / h, 0.0);
                    let v = v3(0.0, bottom * 0.9, -h * 0.9);
                    m.tex_quad(o + v3(0.0, sy * 0.01, 0.0), v3(w - 0.08, 0.0, 0.0), v, &tex);
                }
                m.grow_foot(-w / 2.0, -spread, w / 2.0, spread);
                m.height = h;
            }
            Kind::WallPoster | Kind::PolePoster | Kind::Banner => {
                // Flat items: built in the wall's frame (x along, z up) facing -y; see `flat_item`.
                let (w, h) = self.flat_size(kind, &mut fam);
                let (bg, fg) = colours.pick(&mut fam, &PAPERS);
                let tex = self.texture(&poster_text(rng), w, h, bg, fg);
                m.tex_quad(
                    v3(-w / 2.0, 0.0, h),
                    v3(w, 0.0, 0.0),
                    v3(0.0, 0.0, -h),
                    &tex,
                );
                m.height = h;
            }
        }
        m
    }

    /// Width and height of a poster or banner.
    fn flat_size(&self, kind: Kind, fam: &mut Rng) -> (f64, f64) {
        match kind {
            Kind::Banner => (fam.range(2.0, 3.5), fam.range(0.55, 0.85)),
            Kind::PolePoster => (fam.range(0.28, 0.4), fam.range(0.38, 0.55)),
            _ => (fam.range(0.5, 0.8), fam.range(0.65, 1.0)),
        }
    }

    /// A permitted shop sign board `w × h` (local frame: x along, facing -y, bottom at z = 0).
    pub(crate) fn shop_sign(&self, variant: u32, w: f64, h: f64, rng: &mut Rng) -> Model {
        let mut fam = Rng::stream(u64::from(variant), 0x5160);
        let bgs: [([u8; 3], [u8; 3]); 6] = [
            ([180, 30, 30], [255, 230, 120]),
            ([30, 60, 140], [255, 255, 255]),
            ([245, 245, 240], [30, 30, 30]),
            ([30, 120, 60], [255, 255, 255]),
            ([40, 40, 40], [240, 200, 80]),
            ([240, 190, 40], [120, 20, 20]),
        ];
        let (bg, fg) = fam.pick(&bgs);
        let name = SHOP_NAMES[rng.below(SHOP_NAMES.len())].to_string();
        let tex = self.texture(&[name], w, h, bg, fg);
        let mut m = Model::default();
        let edge = [
            f32::from(bg[0]) * 0.6,
            f32::from(bg[1]) * 0.6,
            f32::from(bg[2]) * 0.6,
        ];
        m.cuboid(v3(-w / 2.0, -0.06, 0.0), v3(w / 2.0, 0.0, h), edge);
        m.tex_quad(
            v3(-w / 2.0, -0.062, h),
            v3(w, 0.0, 0.0),
            v3(0.0, 0.0, -h),
            &tex,
        );
        m.height = h;
        m
    }

    /// A parked bicycle along local x.
    pub(crate) fn bicycle(&self, variant: u32, rng: &mut Rng) -> Model {
        let mut fam = Rng::stream(u64::from(variant), 0xB1C);
        let frame = rng.jitter(fam.pick(&VIVID), 0.08);
        let mut m = Model::default();
        let r = fam.range(0.3, 0.36);
        let wb = 1.0;
        let tyre = [25.0, 25.0, 25.0];
        m.wheel(v3(-wb / 2.0, 0.0, r), X, r, 0.045, tyre);
        m.wheel(v3(wb / 2.0, 0.0, r), X, r, 0.045, tyre);
        let bb = v3(-0.05, 0.0, r);
        let seat = v3(-0.2, 0.0, r + 0.55);
        let head = v3(wb / 2.0 - 0.12, 0.0, r + 0.55);
        let tw = 0.035;
        m.limb(v3(-wb / 2.0, 0.0, r), bb, tw, frame);
        m.limb(bb, seat, tw, frame);
        m.limb(v3(-wb / 2.0, 0.0, r), seat, tw, frame);
        m.limb(bb, head, tw, frame);
        m.limb(seat - v3(0.0, 0.0, 0.06), head, tw, frame);
        m.limb(head, v3(wb / 2.0, 0.0, r), tw, frame);
        m.limb(
            seat + v3(-0.08, 0.0, 0.04),
            seat + v3(0.1, 0.0, 0.04),
            0.06,
            [25.0, 25.0, 25.0],
        );
        m.limb(
            head + v3(0.0, -0.25, 0.12),
            head + v3(0.0, 0.25, 0.12),
            0.03,
            [60.0, 60.0, 60.0],
        );
        if fam.chance(0.5) {
            m.cuboid(
                v3(wb / 2.0 - 0.05, -0.15, r + 0.4),
                v3(wb / 2.0 + 0.2, 0.15, r + 0.62),
                [80.0, 80.0, 85.0],
            );
        }
        m.foot = [-wb / 2.0 - r, -0.1, wb / 2.0 + r, 0.1];
        m
    }

    /// A bench along local x, backrest towards +y.
    pub(crate) fn bench(&self, variant: u32, rng: &mut Rng) -> Model {
        let mut fam = Rng::stream(u64::from(variant), 0xBE4);
        let wood = rng.jitter(
            fam.pick(&[
                [150.0, 100.0, 60.0],
                [60.0, 110.0, 70.0],
                [120.0, 120.0, 125.0],
                [180.0, 140.0, 90.0],
            ]),
            0.05,
        );
        let metal = [45.0, 45.0, 48.0];
        let l = fam.range(1.4, 1.9);
        let mut m = Model::default();
        for sx in [-1.0, 1.0] {
            let x = sx * (l / 2.0 - 0.15);
            m.block(
                v3(x - 0.03, -0.22, 0.0),
                v3(x + 0.03, 0.22, 0.44),
                metal,
                metal,
            );
        }
        m.block(
            v3(-l / 2.0, -0.22, 0.42),
            v3(l / 2.0, 0.22, 0.47),
            wood,
            scale(wood, 1.1),
        );
        if fam.chance(0.75) {
            m.cuboid(v3(-l / 2.0, 0.18, 0.55), v3(l / 2.0, 0.23, 0.88), wood);
            m.cuboid(
                v3(-l / 2.0 + 0.1, 0.19, 0.44),
                v3(-l / 2.0 + 0.15, 0.23, 0.6),
                metal,
            );
            m.cuboid(
                v3(l / 2.0 - 0.15, 0.19, 0.44),
                v3(l / 2.0 - 0.1, 0.23, 0.6),
                metal,
            );
        }
        m.foot = [-l / 2.0, -0.22, l / 2.0, 0.23];
        m
    }

    /// A litter bin.
    pub(crate) fn bin(&self, variant: u32, rng: &mut Rng) -> Model {
        let mut fam = Rng::stream(u64::from(variant), 0xB14);
        let color = rng.jitter(
            fam.pick(&[
                [40.0, 110.0, 60.0],
                [90.0, 95.0, 100.0],
                [220.0, 120.0, 40.0],
                [40.0, 80.0, 160.0],
            ]),
            0.05,
        );
        let mut m = Model::default();
        if fam.chance(0.5) {
            m.cylinder(
                v3(0.0, 0.0, 0.0),
                v3(0.0, 0.0, 0.85),
                0.24,
                10,
                color,
                scale(color, 0.6),
            );
            m.cylinder(
                v3(0.0, 0.0, 0.85),
                v3(0.0, 0.0, 0.95),
                0.26,
                10,
                scale(color, 0.8),
                scale(color, 0.9),
            );
            m.foot = [-0.26, -0.26, 0.26, 0.26];
        } else {
            let other = fam.pick(&[
                [40.0, 80.0, 160.0],
                [40.0, 110.0, 60.0],
                [200.0, 60.0, 50.0],
            ]);
            for (i, c) in [color, other].into_iter().enumerate() {
                let x = i as f64 * 0.5 - 0.5;
                m.block(
                    v3(x, -0.25, 0.0),
                    v3(x + 0.46, 0.25, 0.95),
                    c,
                    scale(c, 0.85),
                );
            }
            m.foot = [-0.5, -0.25, 0.46, 0.25];
        }
        m.height = 0.95;
        m
    }

    /// A lamp post; the arm points towards -y (the road).
    pub(crate) fn pole(&self, height: f64, rng: &mut Rng) -> Model {
        let color = rng.pick(&[
            [70.0, 72.0, 75.0],
            [40.0, 70.0, 55.0],
            [150.0, 150.0, 150.0],
        ]);
        let mut m = Model::default();
        m.cylinder(v3(0.0, 0.0, 0.0), v3(0.0, 0.0, 1.0), 0.13, 10, color, color);
        m.cylinder(
            v3(0.0, 0.0, 1.0),
            v3(0.0, 0.0, height),
            POLE_RADIUS,
            10,
            color,
            color,
        );
        m.limb(
            v3(0.0, 0.0, height - 0.1),
            v3(0.0, -1.4, height + 0.2),
            0.08,
            color,
        );
        m.cuboid(
            v3(-0.15, -1.7, height + 0.05),
            v3(0.15, -1.2, height + 0.22),
            [200.0, 200.0, 190.0],
        );
        m.foot = [-0.13, -0.13, 0.13, 0.13];
        m
    }
}

/// Radius of lamp posts above their base.
pub(crate) const POLE_RADIUS: f64 = 0.085;

/// Image-space extent `[x1, y1, x2, y2]` of world primitives; `None` if any is behind the camera.
pub(crate) fn extent(cam: &Camera, prims: &[Prim]) -> Option<[f64; 4]> {
    let mut e = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut add = |p: V3, r: f64| -> Option<()> {
        let c = cam.to_cam(p);
        if c.z < 0.25 {
            return None;
        }
        let q = cam.cam_to_px(c);
        let rp = cam.f * r / c.z;
        e = [
            e[0].min(q[0] - rp),
            e[1].min(q[1] - rp),
            e[2].max(q[0] + rp),
            e[3].max(q[1] + rp),
        ];
        Some(())
    };
    for p in prims {
        match p {
            Prim::Face { pts, .. } => {
                for &q in pts {
                    add(q, 0.0)?;
                }
            }
            Prim::Disc { c, r, .. } => add(*c, *r)?,
            Prim::Limb { a, b, w, .. } => {
                add(*a, w / 2.0)?;
                add(*b, w / 2.0)?;
            }
        }
    }
    (e[0] < e[2]).then_some(e)
}

fn k_times(cam: &Camera, c: V3) -> [f64; 3] {
    [cam.f * c.x + cam.cx * c.z, cam.f * c.y + cam.cy * c.z, c.z]
}

fn polygon(c: [f64; 2], r: f64, n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            [c[0] + r * t.cos(), c[1] + r * t.sin()]
        })
        .collect()
}

fn to_u8(c: [f32; 3], k: f32) -> [u8; 3] {
    [
        (c[0] * k).clamp(0.0, 255.0) as u8,
        (c[1] * k).clamp(0.0, 255.0) as u8,
        (c[2] * k).clamp(0.0, 255.0) as u8,
    ]
}

/// Rasterises world primitives into a sprite (clipped to the image plus a half-image margin);
/// `sun` is the unit direction towards the sun. `None` when nothing is drawable.
pub(crate) fn render(cam: &Camera, prims: &[Prim], sun: V3) -> Option<Sprite> {
    let e = extent(cam, prims)?;
    let (iw, ih) = (f64::from(cam.pose().width), f64::from(cam.pose().height));
    let x0 = (e[0].floor() - 1.0).max(-iw / 2.0).floor() as i32;
    let y0 = (e[1].floor() - 1.0).max(-ih / 2.0).floor() as i32;
    let x1 = (e[2].ceil() + 1.0).min(iw * 1.5).ceil() as i32;
    let y1 = (e[3].ceil() + 1.0).min(ih * 1.5).ceil() as i32;
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let area = w * h;
    let s = if area < 150_000 {
        3
    } else if area < 700_000 {
        2
    } else {
        1
    };
    let mut canvas = Canvas::new(x0, y0, w, h, s, cam.cx, cam.cy, cam.f);
    for p in prims {
        match p {
            Prim::Face {
                pts,
                n,
                color,
                two_sided,
                tex,
            } => {
                let Some(&p0) = pts.first() else { continue };
                let mut n = *n;
                if n.dot(cam.centre - p0) <= 0.0 {
                    if !*two_sided {
                        continue;
                    }
                    n = -n;
                }
                let shade = (0.62 + 0.45 * n.dot(sun).max(0.0) + 0.08 * n.z.max(0.0)) as f32;
                let cs: Vec<V3> = pts.iter().map(|&q| cam.to_cam(q)).collect();
                let px: Vec<[f64; 2]> = cs.iter().map(|&c| cam.cam_to_px(c)).collect();
                let nc = cam.dir_to_cam(n);
                let depth = Depth::Plane {
                    n: nc,
                    k: nc.dot(cs[0]),
                };
                match tex {
                    None => canvas.fill(&px, depth, Paint::Flat(to_u8(*color, shade))),
                    Some(t) => {
                        let (a, b, c) = (
                            k_times(cam, cam.dir_to_cam(t.u)),
                            k_times(cam, cam.dir_to_cam(t.v)),
                            k_times(cam, cam.to_cam(t.o)),
                        );
                        let hm: Mat3 = [[a[0], b[0], c[0]], [a[1], b[1], c[1]], [a[2], b[2], c[2]]];
                        if let Some(inv) = mat_inv(&hm) {
                            canvas.fill(
                                &px,
                                depth,
                                Paint::Tex {
                                    tex: &t.tex,
                                    inv,
                                    shade: shade.min(1.05),
                                },
                            );
                        }
                    }
                }
            }
            Prim::Disc { c, r, color } => {
                let cc = cam.to_cam(*c);
                let q = cam.cam_to_px(cc);
                let rp = cam.f * r / cc.z;
                let n = if rp > 6.0 { 20 } else { 10 };
                canvas.fill(
                    &polygon(q, rp, n),
                    Depth::Const(cc.z - r),
                    Paint::Flat(to_u8(*color, 0.95)),
                );
            }
            Prim::Limb { a, b, w, color } => {
                let (ca, cb) = (cam.to_cam(*a), cam.to_cam(*b));
                let (pa, pb) = (cam.cam_to_px(ca), cam.cam_to_px(cb));
                let (ra, rb) = (cam.f * w / 2.0 / ca.z, cam.f * w / 2.0 / cb.z);
                let depth = Depth::Const((ca.z + cb.z) / 2.0 - w / 2.0);
                let paint = Paint::Flat(to_u8(*color, 0.9));
                let d = [pb[0] - pa[0], pb[1] - pa[1]];
                let len = (d[0] * d[0] + d[1] * d[1]).sqrt();
                if len > 1e-6 {
                    let nn = [-d[1] / len, d[0] / len];
                    let quad = [
                        [pa[0] + nn[0] * ra, pa[1] + nn[1] * ra],
                        [pb[0] + nn[0] * rb, pb[1] + nn[1] * rb],
                        [pb[0] - nn[0] * rb, pb[1] - nn[1] * rb],
                        [pa[0] - nn[0] * ra, pa[1] - nn[1] * ra],
                    ];
                    canvas.fill(&quad, depth, paint);
                }
                canvas.fill(&polygon(pa, ra, 10), depth, paint);
                canvas.fill(&polygon(pb, rb, 10), depth, paint);
            }
        }
    }
    let sprite = canvas.into_sprite();
    sprite.bbox.is_some().then_some(sprite)
}

/// Soft ground shadow of a footprint `[min_x, min_y, max_x, max_y]` (in `place`'s frame), cast
/// away from the sun by an object of `height`; alpha-only sprite.
pub(crate) fn shadow(
    cam: &Camera,
    place: &Place,
    foot: [f64; 4],
    height: f64,
    sun: V3,
) -> Option<Sprite> {
    if foot[2] <= foot[0] || foot[3] <= foot[1] {
        return None;
    }
    let soft = 0.15 + 0.12 * height.min(3.0);
    let horiz = v3(sun.x, sun.y, 0.0);
    let reach = (height * 0.35).min(1.2) / sun.z.max(0.3) * 0.5;
    let offset = -horiz.unit() * (reach * horiz.norm());
    let centre = place.point(v3(
        (foot[0] + foot[2]) / 2.0,
        (foot[1] + foot[3]) / 2.0,
        0.0,
    )) + offset;
    let (hx, hy) = (
        (foot[2] - foot[0]) / 2.0 + 0.05,
        (foot[3] - foot[1]) / 2.0 + 0.05,
    );
    let mut e = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for (sx, sy) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
        let p = centre + place.ax * (sx * (hx + soft)) + place.ay * (sy * (hy + soft));
        let c = cam.to_cam(p);
        if c.z < 0.25 {
            return None;
        }
        let q = cam.cam_to_px(c);
        e = [
            e[0].min(q[0]),
            e[1].min(q[1]),
            e[2].max(q[0]),
            e[3].max(q[1]),
        ];
    }
    let (iw, ih) = (f64::from(cam.pose().width), f64::from(cam.pose().height));
    let x0 = e[0].floor().max(0.0) as i32;
    let y0 = e[1].floor().max(0.0) as i32;
    let x1 = e[2].ceil().min(iw) as i32;
    let y1 = e[3].ceil().min(ih) as i32;
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let mut px = vec![[0u8; 4]; w * h];
    for y in 0..h {
        for x in 0..w {
            let Some(g) = cam.pixel_to_ground(
                f64::from(x0) + x as f64 + 0.5,
                f64::from(y0) + y as f64 + 0.5,
            ) else {
                continue;
            };
            let d = v3(g[0], g[1], 0.0) - v3(centre.x, centre.y, 0.0);
            let (u, v) = (
                (d.dot(place.ax).abs() - hx).max(0.0),
                (d.dot(place.ay).abs() - hy).max(0.0),
            );
            let dist = (u * u + v * v).sqrt();
            if dist < soft {
                let t = 1.0 - dist / soft;
                let a = t * t * (3.0 - 2.0 * t);
                px[y * w + x][3] = (a * 200.0) as u8;
            }
        }
    }
    Some(Sprite::new(x0, y0, w, h, px))
}
