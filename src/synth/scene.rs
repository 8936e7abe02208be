//! The scene script ([`SceneSpec`]) and the renderer ([`Scene`]).
//!
//! Building a scene renders the background plate once and pre-renders every static object
//! (events, shop signs, lamp posts, benches, bins, parked bicycles) into a sprite with its soft
//! shadow. A frame is then: copy the plate, darken the shadows, blend the sprites of the objects
//! present at that time far to near (pedestrians are posed and rasterised per frame), and apply
//! lighting, vignetting and noise. Ground truth for a frame uses the same sprites, so boxes are
//! tight around exactly what is drawn.
//!
//! An event is present in frame `i` iff `appear_s <= i / fps < leave_s`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::background::{make_shops, BackgroundSpec, Street, StreetLayout, Style};
use super::camera::{v3, Camera, CameraPose, V3};
use super::effects::Effects;
use super::objects::{
    self, Builder, Category, Kind, Look, Model, Mount, ObjectClass, Place, Split, VariantSet,
    VARIANT_COUNT,
};
use super::raster::Sprite;
use super::rng::Rng;
use super::text;
use super::truth::{
    CameraTruth, EventTruth, FrameTruth, GroundPos, GroundTruth, MountKind, ObjectTruth, WallPos,
};
use super::SynthError;

/// Where a scripted event's object goes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// Somewhere sensible in view, chosen from the seed.
    Auto,
    /// Footprint centre at local `(east, north)` metres (ground objects; pole posters go on the
    /// nearest lamp post).
    Ground { east_m: f64, north_m: f64 },
    /// Footprint centre at street-frame `along_m`, `from_wall_m` metres in front of the wall (see
    /// [`StreetLayout`]; pole posters go on the nearest lamp post).
    Sidewalk { along_m: f64, from_wall_m: f64 },
    /// On the wall: centre at street-frame `along_m` and `height_m` above the sidewalk (wall
    /// posters and banners).
    Wall { along_m: f64, height_m: f64 },
}

/// One scripted violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptedEvent {
    pub category: Category,
    /// Variant id (`< VARIANT_COUNT`); `None` picks one from the scene's [`VariantSet`] that fits
    /// the placement. An explicit id is used even if the set excludes it.
    pub variant: Option<u32>,
    pub appear_s: f64,
    /// Use a value past `duration_s` for "stays to the end".
    pub leave_s: f64,
    pub position: Placement,
}

fn one() -> u32 {
    1
}

/// Everything a scene is made from. Same spec (seed included) → same frames and ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneSpec {
    pub seed: u64,
    /// Must equal `pose.width` / `pose.height`.
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub duration_s: f64,
    pub pose: CameraPose,
    pub background: BackgroundSpec,
    pub events: Vec<ScriptedEvent>,
    /// Mean rate of pedestrians walking along the far sidewalk (Poisson arrivals).
    pub pedestrians_per_minute: f32,
    /// Parked bicycles on the sidewalk.
    pub bicycles: u32,
    pub lighting_drift: bool,
    /// Sensor noise standard deviation in 8-bit levels (0 = none; 2 is typical).
    pub noise: f32,
    pub variants: VariantSet,
    /// Ground truth lists every `gt_every`-th frame (default 1).
    #[serde(default = "one")]
    pub gt_every: u32,
    /// Share (0..=1) of scripted objects whose colours are drawn per object from their kind's
    /// whole list instead of being fixed by their look family (default 0). Training sets use it
    /// so that every kind is seen in every colour; held-out scenes keep it at 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub colour_share: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn pose_for(rng: &mut Rng, width: u32, height: u32) -> CameraPose {
    let h = rng.range(5.0, 9.0);
    let d = rng.range(13.0, 24.0);
    CameraPose {
        height_m: h,
        pitch_deg: (h / d).atan().to_degrees(),
        heading_deg: rng.range(0.0, 360.0),
        focal_px: CameraPose::focal_for_hfov(width, rng.range(55.0, 75.0)),
        width,
        height,
        lat: rng.range(22.0, 40.0),
        lon: rng.range(104.0, 121.0),
    }
}

impl SceneSpec {
    /// A varied 1280 × 720, 25 fps scene with one to four events, using the variants of `split`
    /// (even ids for training, odd for held out) for objects and background.
    pub fn random(seed: u64, duration_s: f64, split: Split) -> SceneSpec {
        SceneSpec::random_with_events(seed, duration_s, split, 1..=4)
    }

    /// A random scene with a number of scripted events drawn from `events` (training sets use
    /// more than [`SceneSpec::random`]'s 1–4 so that every frame has more to learn from). With
    /// `1..=4` it is exactly [`SceneSpec::random`].
    pub fn random_with_events(
        seed: u64,
        duration_s: f64,
        split: Split,
        events: std::ops::RangeInclusive<usize>,
    ) -> SceneSpec {
        let mut r = Rng::stream(seed, 0x5EC);
        let variants = VariantSet::for_split(split);
        let ids = variants.ids();
        let (width, height) = (1280, 720);
        let pose = pose_for(&mut r, width, height);
        let (lo, hi) = (*events.start(), (*events.end()).max(*events.start()));
        let n = lo + r.below(hi - lo + 1);
        let events = (0..n)
            .map(|_| {
                let appear_s = r.range(0.0, 0.6) * duration_s;
                ScriptedEvent {
                    category: r.pick(&[
                        Category::StreetVending,
                        Category::SidewalkStacking,
                        Category::IllegalSignage,
                    ]),
                    variant: None,
                    appear_s,
                    leave_s: appear_s + r.range(0.3, 1.0) * duration_s,
                    position: Placement::Auto,
                }
            })
            .collect();
        SceneSpec {
            seed,
            width,
            height,
            fps: 25,
            duration_s,
            pose,
            background: BackgroundSpec::Procedural {
                variant: ids[r.below(ids.len())] + 16 * r.below(64) as u32,
            },
            events,
            pedestrians_per_minute: r.range(2.0, 15.0) as f32,
            bicycles: r.below(4) as u32,
            lighting_drift: r.chance(0.8),
            noise: r.range(0.5, 4.0) as f32,
            variants,
            gt_every: 1,
            colour_share: 0.0,
        }
    }

    /// The project's demo: three minutes at 1280 × 720, 25 fps; an umbrella stall arrives at 0:40
    /// (leaves at 2:45), a pile of boxes at 1:10 and a poster on the wall at 1:30.
    pub fn demo() -> SceneSpec {
        let (width, height) = (1280, 720);
        SceneSpec {
            seed: 7,
            width,
            height,
            fps: 25,
            duration_s: 180.0,
            pose: CameraPose {
                height_m: 6.5,
                pitch_deg: (6.5f64 / 12.5).atan().to_degrees(),
                heading_deg: 30.0,
                focal_px: 1000.0,
                width,
                height,
                lat: 31.2304,
                lon: 121.4737,
            },
            background: BackgroundSpec::Procedural { variant: 0 },
            events: vec![
                ScriptedEvent {
                    category: Category::StreetVending,
                    variant: Some(0),
                    appear_s: 40.0,
                    leave_s: 165.0,
                    position: Placement::Sidewalk {
                        along_m: -3.0,
                        from_wall_m: 1.9,
                    },
                },
                ScriptedEvent {
                    category: Category::SidewalkStacking,
                    variant: Some(0),
                    appear_s: 70.0,
                    leave_s: 181.0,
                    position: Placement::Sidewalk {
                        along_m: 3.5,
                        from_wall_m: 0.7,
                    },
                },
                ScriptedEvent {
                    category: Category::IllegalSignage,
                    variant: Some(0),
                    appear_s: 90.0,
                    leave_s: 181.0,
                    position: Placement::Wall {
                        along_m: 1.9,
                        height_m: 1.5,
                    },
                },
            ],
            pedestrians_per_minute: 8.0,
            bicycles: 2,
            lighting_drift: true,
            noise: 2.0,
            variants: VariantSet::All,
            gt_every: 1,
            colour_share: 0.0,
        }
    }

    fn validate(&self) -> Result<(), SynthError> {
        let bad = |m: String| Err(SynthError::InvalidSpec(m));
        if self.width == 0
            || self.height == 0
            || self.width != self.pose.width
            || self.height != self.pose.height
        {
            return bad(format!(
                "size {}x{} must be positive and equal the pose's {}x{}",
                self.width, self.height, self.pose.width, self.pose.height
            ));
        }
        if self.fps == 0 || !(self.duration_s.is_finite() && self.duration_s > 0.0) {
            return bad("fps and duration_s must be positive".into());
        }
        if self.gt_every == 0 {
            return bad("gt_every must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.colour_share) {
            return bad(format!(
                "colour_share must be between 0 and 1, not {}",
                self.colour_share
            ));
        }
        let ok = |v: f32| v.is_finite() && v >= 0.0;
        if !ok(self.noise) || !ok(self.pedestrians_per_minute) {
            return bad("noise and pedestrians_per_minute must be >= 0".into());
        }
        if self.variants.ids().is_empty() {
            return bad("the variant set allows no id below VARIANT_COUNT".into());
        }
        for (i, e) in self.events.iter().enumerate() {
            if !(e.appear_s.is_finite() && e.leave_s.is_finite() && e.appear_s < e.leave_s) {
                return bad(format!("event {i}: need finite appear_s < leave_s"));
            }
            if e.variant.is_some_and(|v| v >= VARIANT_COUNT) {
                return bad(format!("event {i}: variant must be < {VARIANT_COUNT}"));
            }
        }
        if let BackgroundSpec::Image { width, height, rgb } = &self.background {
            if (*width, *height) != (self.width, self.height)
                || rgb.len() != self.width as usize * self.height as usize * 3
            {
                return bad(
                    "image background must be width × height × 3 bytes of the scene size".into(),
                );
            }
        }
        Ok(())
    }
}

/// A pre-rendered static object.
#[derive(Debug)]
struct Item {
    track_id: u32,
    class: Option<ObjectClass>,
    variant: u32,
    window: Option<(f64, f64)>,
    sprite: Sprite,
    shadow: Option<Sprite>,
    depth: f64,
    ground: Option<GroundPos>,
    in_image: u32,
}

/// A pedestrian walking along a lane of the sidewalk.
#[derive(Debug)]
struct Walker {
    track_id: u32,
    variant: u32,
    look: Look,
    lane: f64,
    start: f64,
    dir: f64,
    speed: f64,
    t0: f64,
    t1: f64,
}

/// An object as drawn in one frame.
#[derive(Debug)]
struct Layer<'a> {
    track_id: u32,
    class: Option<ObjectClass>,
    variant: u32,
    sprite: Cow<'a, Sprite>,
    shadow: Option<Cow<'a, Sprite>>,
    depth: f64,
    ground: Option<GroundPos>,
    in_image: Option<u32>,
}

/// A renderable scene.
pub struct Scene {
    spec: SceneSpec,
    camera: Camera,
    layout: StreetLayout,
    frames: u64,
    plate: Vec<u8>,
    items: Vec<Item>,
    walkers: Vec<Walker>,
    effects: Effects,
    events: Vec<EventTruth>,
    sun: V3,
    /// Lamp posts in view: street-frame `(along, across)` of their foot.
    lamp_posts: Vec<(f64, f64)>,
}

impl std::fmt::Debug for Scene {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scene")
            .field("seed", &self.spec.seed)
            .field("size", &(self.spec.width, self.spec.height))
            .field("frames", &self.frames)
            .field("items", &self.items.len())
            .field("walkers", &self.walkers.len())
            .finish_non_exhaustive()
    }
}

/// Scene-building state.
struct Ctx<'a> {
    cam: &'a Camera,
    layout: StreetLayout,
    sun: V3,
    builder: Builder<'static>,
    /// Occupied footprints `[a0, c0, a1, c1]` in the street frame.
    taken: Vec<[f64; 4]>,
    /// Occupied wall rectangles `[a0, z0, a1, z1]`.
    wall_taken: Vec<[f64; 4]>,
    /// Lamp posts: street-frame `(along, across)`.
    poles: Vec<(f64, f64)>,
}

impl Ctx<'_> {
    fn ground_pos(&self, e: f64, n: f64) -> GroundPos {
        let (lat, lon) = self.cam.to_wgs84(e, n);
        GroundPos {
            east_m: e,
            north_m: n,
            lat,
            lon,
        }
    }

    fn depth(&self, p: V3) -> f64 {
        v3(p.x, p.y, 0.0).norm()
    }

    fn in_view(&self, p: V3, margin: f64) -> bool {
        let (w, h) = (
            f64::from(self.cam.pose().width),
            f64::from(self.cam.pose().height),
        );
        self.cam.project([p.x, p.y, p.z]).is_some_and(|q| {
            q[0] >= margin && q[0] <= w - margin && q[1] >= margin && q[1] <= h - margin
        })
    }

    /// Along range in view at `across` for heights 0 and `top`.
    fn visible_along(&self, across: f64, top: f64, margin: f64) -> Option<(f64, f64)> {
        let mut r: Option<(f64, f64)> = None;
        for i in -300..=300 {
            let a = f64::from(i) * 0.2;
            let ok = self.in_view(self.layout.world(a, across, 0.0), margin)
                && self.in_view(self.layout.world(a, across, top), margin);
            if ok {
                r = Some(r.map_or((a, a), |(lo, hi)| (lo.min(a), hi.max(a))));
            }
        }
        r
    }

    fn free(&self, rect: [f64; 4], list: &[[f64; 4]], gap: f64) -> bool {
        list.iter().all(|o| {
            rect[2] + gap <= o[0]
                || o[2] + gap <= rect[0]
                || rect[3] + gap <= o[1]
                || o[3] + gap <= rect[1]
        })
    }

    /// Chooses a footprint centre for `model` (local foot extents) on the far sidewalk.
    /// `from_wall` is the range of gaps between the footprint's back and the wall.
    fn auto_ground(&self, rng: &mut Rng, model: &Model, from_wall: (f64, f64)) -> (f64, f64) {
        let l = &self.layout;
        let f = model.foot;
        let mut best = (0.0, l.wall_m - f[3] - from_wall.0);
        for attempt in 0..40 {
            let gap = rng.range(from_wall.0, from_wall.1);
            let across = (l.wall_m - f[3] - gap).max(l.far_kerb_m + 0.25 - f[1]);
            let margin = if attempt < 30 { 20.0 } else { 0.0 };
            let Some((lo, hi)) = self.visible_along(across, model.height.max(0.5), margin) else {
                continue;
            };
            let (lo, hi) = (lo - f[0], hi - f[2]);
            if hi <= lo {
                continue;
            }
            let along = rng.range(lo, hi);
            best = (along, across);
            let rect = [along + f[0], across + f[1], along + f[2], across + f[3]];
            if self.free(rect, &self.taken, 0.4) {
                break;
            }
        }
        best
    }

    fn render_item(
        &self,
        model: &Model,
        place: &Place,
        shadow: bool,
    ) -> Option<(Sprite, Option<Sprite>, Vec<objects::Prim>)> {
        let prims = model.placed(place);
        let sprite = objects::render(self.cam, &prims, self.sun)?;
        let sh = if shadow {
            objects::shadow(self.cam, place, model.foot, model.height, self.sun)
        } else {
            None
        };
        Some((sprite, sh, prims))
    }

    /// Ground point under the bottom centre of the primitives' image extent.
    fn anchor(&self, prims: &[objects::Prim]) -> Option<GroundPos> {
        let e = objects::extent(self.cam, prims)?;
        let g = self.cam.pixel_to_ground((e[0] + e[2]) / 2.0, e[3])?;
        Some(self.ground_pos(g[0], g[1]))
    }

    fn street_place(&self, along: f64, across: f64, z: f64, yaw: f64) -> Place {
        Place {
            origin: self.layout.world(along, across, z),
            ax: self.layout.along_dir(),
            ay: self.layout.across_dir(),
        }
        .rotated(yaw)
    }
}

fn count_in_image(sprite: &Sprite, w: u32, h: u32) -> u32 {
    sprite.count_in_image(w as usize, h as usize)
}

impl Scene {
    /// Builds the scene: validates the spec, loads fonts, renders the background plate and the
    /// static objects, and schedules the pedestrians.
    pub fn new(spec: SceneSpec) -> Result<Scene, SynthError> {
        spec.validate()?;
        let fonts = text::fonts()?;
        let camera = Camera::new(spec.pose)?;
        let seed = spec.seed;
        let (style, procedural) = match &spec.background {
            BackgroundSpec::Procedural { variant } => (Style::from_variant(*variant), true),
            BackgroundSpec::Image { .. } => (Style::for_image(), false),
        };
        let layout = StreetLayout::fit(&spec.pose, &style);
        let mut rng = Rng::stream(seed, 1);
        let (el, az) = (
            rng.range(35.0f64, 65.0).to_radians(),
            rng.range(0.0f64, 360.0).to_radians(),
        );
        let sun = v3(el.cos() * az.sin(), el.cos() * az.cos(), el.sin());
        let shops = if procedural {
            make_shops(&style, &mut rng)
        } else {
            Vec::new()
        };
        let plate = match &spec.background {
            BackgroundSpec::Procedural { .. } => Street {
                style: &style,
                layout: &layout,
                shops: &shops,
                zebra_at: rng.range(-8.0, 4.0),
            }
            .render(&camera),
            BackgroundSpec::Image { rgb, .. } => rgb.clone(),
        };
        let mut ctx = Ctx {
            cam: &camera,
            layout,
            sun,
            builder: Builder {
                fonts,
                colour_share: spec.colour_share,
            },
            taken: Vec::new(),
            wall_taken: Vec::new(),
            poles: Vec::new(),
        };
        let ids = spec.variants.ids();
        let mut items: Vec<Item> = Vec::new();
        let mut next_id = spec.events.len() as u32 + 1;

        // Lamp posts along the far kerb (no class, but they hide things).
        if procedural {
            let mut prng = Rng::stream(seed, 2);
            let spacing = prng.range(16.0, 26.0);
            let across = layout.far_kerb_m + 0.35;
            let height = prng.range(6.5, 8.5);
            let mut a = -60.0 + prng.range(0.0, spacing);
            while a < 60.0 {
                let model = ctx.builder.pole(height, &mut prng);
                let place = ctx.street_place(a, across, 0.0, 0.0);
                if let Some((sprite, _, _)) = ctx.render_item(&model, &place, false) {
                    if count_in_image(&sprite, spec.width, spec.height) > 0 {
                        ctx.poles.push((a, across));
                        ctx.taken
                            .push([a - 0.3, across - 0.3, a + 0.3, across + 0.3]);
                        items.push(Item {
                            track_id: 0,
                            class: None,
                            variant: 0,
                            window: None,
                            in_image: count_in_image(&sprite, spec.width, spec.height),
                            sprite,
                            shadow: None,
                            depth: ctx.depth(place.origin),
                            ground: None,
                        });
                    }
                }
                a += spacing;
            }
        }

        // Scripted events.
        let mut events = Vec::new();
        for (i, ev) in spec.events.iter().enumerate() {
            let mut erng = Rng::stream(seed, 100 + i as u64);
            let (item, truth) =
                Self::build_event(&mut ctx, ev, i as u32 + 1, &ids, procedural, &mut erng)?;
            items.push(item);
            events.push(truth);
        }

        // Permitted shop signs.
        let mut srng = Rng::stream(seed, 3);
        let sign_h = srng.range(0.6, 0.85);
        for shop in &shops {
            let w = shop.a1 - shop.a0 - 0.9;
            let centre = (shop.a0 + shop.a1) / 2.0;
            if !ctx.in_view(layout.world(centre, layout.wall_m, 3.0), -200.0) {
                continue;
            }
            let variant = ids[shop.sign_variant as usize % ids.len()];
            let model = ctx.builder.shop_sign(variant, w, sign_h, &mut srng);
            let z0 = 3.15 - sign_h / 2.0;
            let place = ctx.street_place(centre, layout.wall_m, z0, 0.0);
            if let Some((sprite, _, _)) = ctx.render_item(&model, &place, false) {
                let in_image = count_in_image(&sprite, spec.width, spec.height);
                if in_image > 0 {
                    items.push(Item {
                        track_id: next_id,
                        class: Some(ObjectClass::ShopSign),
                        variant,
                        window: None,
                        sprite,
                        shadow: None,
                        depth: ctx.depth(layout.world(centre, layout.wall_m + 0.05, 0.0)),
                        ground: None,
                        in_image,
                    });
                    next_id += 1;
                }
            }
        }

        // Benches, bins (procedural streets only) and parked bicycles.
        let mut frng = Rng::stream(seed, 4);
        let benches = if procedural { frng.below(3) } else { 0 };
        let bins = if procedural { frng.below(3) } else { 0 };
        let kinds = std::iter::repeat_n(ObjectClass::Bench, benches)
            .chain(std::iter::repeat_n(ObjectClass::Bin, bins))
            .chain(std::iter::repeat_n(
                ObjectClass::Bicycle,
                spec.bicycles as usize,
            ));
        for class in kinds {
            let variant = ids[frng.below(ids.len())];
            let (model, gap, yaw) = match class {
                ObjectClass::Bench => {
                    let m = ctx.builder.bench(variant, &mut frng);
                    let near_kerb = frng.chance(0.5);
                    let yaw = if near_kerb { 0.0 } else { std::f64::consts::PI };
                    (m, if near_kerb { (2.5, 4.0) } else { (0.05, 0.3) }, yaw)
                }
                ObjectClass::Bin => (ctx.builder.bin(variant, &mut frng), (0.05, 3.5), 0.0),
                _ => {
                    let m = ctx.builder.bicycle(variant, &mut frng);
                    let across_street = frng.chance(0.5);
                    let yaw = if across_street {
                        std::f64::consts::FRAC_PI_2
                    } else {
                        0.0
                    } + frng.range(-0.2, 0.2);
                    (
                        m,
                        if across_street {
                            (0.1, 0.4)
                        } else {
                            (1.0, 3.5)
                        },
                        yaw,
                    )
                }
            };
            let rotated = rotated_foot(&model, yaw);
            let (along, across) = ctx.auto_ground(&mut frng, &rotated, gap);
            let place = ctx.street_place(along, across, 0.0, yaw);
            let Some((sprite, shadow, prims)) = ctx.render_item(&model, &place, true) else {
                continue;
            };
            let in_image = count_in_image(&sprite, spec.width, spec.height);
            if in_image == 0 {
                continue;
            }
            let f = rotated.foot;
            ctx.taken
                .push([along + f[0], across + f[1], along + f[2], across + f[3]]);
            items.push(Item {
                track_id: next_id,
                class: Some(class),
                variant,
                window: None,
                sprite,
                shadow,
                depth: ctx.depth(place.origin),
                ground: ctx.anchor(&prims),
                in_image,
            });
            next_id += 1;
        }

        // Pedestrians: Poisson arrivals from before the start so some are already walking.
        let mut prng = Rng::stream(seed, 5);
        let mut walkers = Vec::new();
        let rate = f64::from(spec.pedestrians_per_minute) / 60.0;
        if rate > 0.0 {
            let lead = 60.0;
            let mut t = -lead;
            loop {
                t += -(1.0 - prng.f64()).ln() / rate;
                if t >= spec.duration_s {
                    break;
                }
                let variant = ids[prng.below(ids.len())];
                let look = Look::new(variant, &mut prng);
                let lane = prng.range(layout.far_kerb_m + 0.5, layout.wall_m - 0.5);
                let dir = if prng.chance(0.5) { 1.0 } else { -1.0 };
                let speed = prng.range(0.9, 1.6);
                let Some((lo, hi)) = ctx.visible_along(lane, look.height, -40.0) else {
                    continue;
                };
                let (lo, hi) = (lo - 1.0, hi + 1.0);
                let t1 = t + (hi - lo) / speed;
                if t1 <= 0.0 {
                    continue;
                }
                walkers.push(Walker {
                    track_id: next_id,
                    variant,
                    look,
                    lane,
                    start: if dir > 0.0 { lo } else { hi },
                    dir,
                    speed,
                    t0: t,
                    t1,
                });
                next_id += 1;
            }
        }

        let frames = ((spec.duration_s * f64::from(spec.fps)).round() as u64).max(1);
        let effects = Effects::new(
            spec.width as usize,
            spec.height as usize,
            spec.noise,
            spec.lighting_drift,
            seed,
        );
        let lamp_posts = ctx.poles.clone();
        Ok(Scene {
            lamp_posts,
            layout,
            frames,
            plate,
            items,
            walkers,
            effects,
            events,
            sun,
            camera,
            spec,
        })
    }

    fn build_event(
        ctx: &mut Ctx<'_>,
        ev: &ScriptedEvent,
        track_id: u32,
        ids: &[u32],
        procedural: bool,
        rng: &mut Rng,
    ) -> Result<(Item, EventTruth), SynthError> {
        let l = ctx.layout;
        let fits = |k: Kind| -> bool {
            let m = k.mount();
            let pole_ok = procedural && !ctx.poles.is_empty();
            match ev.position {
                Placement::Auto => m != Mount::Pole || pole_ok,
                Placement::Ground { .. } | Placement::Sidewalk { .. } => {
                    m == Mount::Ground || (m == Mount::Pole && pole_ok)
                }
                Placement::Wall { .. } => m == Mount::Wall,
            }
        };
        let variant = match ev.variant {
            Some(v) => v,
            None => {
                let ok: Vec<u32> = ids
                    .iter()
                    .copied()
                    .filter(|&v| fits(Kind::of(ev.category, v)))
                    .collect();
                if ok.is_empty() {
                    return Err(SynthError::InvalidSpec(format!(
                        "event {track_id}: no {:?} variant in the set fits placement {:?}",
                        ev.category, ev.position
                    )));
                }
                ok[rng.below(ok.len())]
            }
        };
        let kind = Kind::of(ev.category, variant);
        if !fits(kind) {
            return Err(SynthError::InvalidSpec(format!(
                "event {track_id}: variant {variant} is a {} which cannot go at {:?}",
                kind.name(),
                ev.position
            )));
        }
        let model = ctx.builder.event(kind, variant, rng);
        let mount = kind.mount();
        let (place, wall, pole) = match mount {
            Mount::Ground => {
                let yaw = rng.range(-0.12, 0.12);
                let (along, across) = match ev.position {
                    Placement::Ground { east_m, north_m } => l.from_enu(east_m, north_m),
                    Placement::Sidewalk {
                        along_m,
                        from_wall_m,
                    } => (along_m, l.wall_m - from_wall_m),
                    _ => {
                        let gap = match kind {
                            Kind::AFrame => (0.3, 2.5),
                            Kind::UmbrellaStall
                            | Kind::GoodsTable
                            | Kind::TentStall
                            | Kind::TricycleCart => (0.1, 1.2),
                            _ => (0.05, 0.5),
                        };
                        let c = ctx.auto_ground(rng, &model, gap);
                        // auto_ground returns the local origin; footprint centre differs by foot.
                        (
                            c.0 + (model.foot[0] + model.foot[2]) / 2.0,
                            c.1 + (model.foot[1] + model.foot[3]) / 2.0,
                        )
                    }
                };
                // Put the footprint centre at (along, across).
                let (fcx, fcy) = (
                    (model.foot[0] + model.foot[2]) / 2.0,
                    (model.foot[1] + model.foot[3]) / 2.0,
                );
                let place0 = ctx.street_place(along, across, 0.0, yaw);
                let origin = place0.origin - place0.ax * fcx - place0.ay * fcy;
                let place = Place { origin, ..place0 };
                let f = model.foot;
                let (la, lc) = (along - fcx, across - fcy);
                ctx.taken.push([la + f[0], lc + f[1], la + f[2], lc + f[3]]);
                (place, None, None)
            }
            Mount::Wall => {
                let h = model.height;
                let w = match model.prims.first() {
                    Some(objects::Prim::Face { pts, .. }) if pts.len() == 4 => {
                        (pts[1] - pts[0]).norm()
                    }
                    _ => 0.5,
                };
                let (along, centre_z) = match ev.position {
                    Placement::Wall { along_m, height_m } => (along_m, height_m),
                    _ => {
                        let z = if kind == Kind::Banner {
                            2.55 - h / 2.0
                        } else {
                            rng.range(1.3, 2.0)
                        };
                        let range = ctx
                            .visible_along(l.wall_m, z + h / 2.0, 30.0)
                            .unwrap_or((-1.0, 1.0));
                        let mut a = 0.0;
                        for _ in 0..30 {
                            a = rng.range(
                                range.0 + w / 2.0,
                                (range.1 - w / 2.0).max(range.0 + w / 2.0 + 0.01),
                            );
                            if ctx.free(
                                [a - w / 2.0, z - h / 2.0, a + w / 2.0, z + h / 2.0],
                                &ctx.wall_taken,
                                0.2,
                            ) {
                                break;
                            }
                        }
                        (a, z)
                    }
                };
                ctx.wall_taken.push([
                    along - w / 2.0,
                    centre_z - h / 2.0,
                    along + w / 2.0,
                    centre_z + h / 2.0,
                ]);
                let place = ctx.street_place(along, l.wall_m - 0.012, centre_z - h / 2.0, 0.0);
                let (e, n) = l.to_enu(along, l.wall_m);
                let wall = WallPos {
                    along_m: along,
                    height_m: centre_z,
                    foot: ctx.ground_pos(e, n),
                };
                (place, Some(wall), None)
            }
            Mount::Pole => {
                let target = match ev.position {
                    Placement::Ground { east_m, north_m } => Some(l.from_enu(east_m, north_m)),
                    Placement::Sidewalk {
                        along_m,
                        from_wall_m,
                    } => Some((along_m, l.wall_m - from_wall_m)),
                    _ => None,
                };
                let visible: Vec<(f64, f64)> = ctx
                    .poles
                    .iter()
                    .copied()
                    .filter(|&(a, c)| ctx.in_view(l.world(a, c, 2.0), 40.0))
                    .collect();
                let pool = if visible.is_empty() {
                    ctx.poles.clone()
                } else {
                    visible
                };
                let chosen = match target {
                    Some((ta, tc)) => pool.iter().copied().min_by(|p, q| {
                        let dp = (p.0 - ta).hypot(p.1 - tc);
                        let dq = (q.0 - ta).hypot(q.1 - tc);
                        dp.total_cmp(&dq)
                    }),
                    None => (!pool.is_empty()).then(|| pool[rng.below(pool.len())]),
                };
                let Some((pa, pc)) = chosen else {
                    return Err(SynthError::InvalidSpec(format!(
                        "event {track_id}: no lamp post for a pole poster"
                    )));
                };
                let foot = l.world(pa, pc, 0.0);
                let to_cam = (v3(0.0, 0.0, 0.0) - foot).unit();
                let ax = v3(-to_cam.y, to_cam.x, 0.0);
                let centre_z = rng.range(1.6, 2.2);
                let origin = foot
                    + to_cam * (objects::POLE_RADIUS + 0.012)
                    + v3(0.0, 0.0, centre_z - model.height / 2.0);
                let place = Place {
                    origin,
                    ax,
                    ay: -to_cam,
                };
                let wall = WallPos {
                    along_m: pa,
                    height_m: centre_z,
                    foot: ctx.ground_pos(foot.x, foot.y),
                };
                (place, Some(wall), Some(ctx.ground_pos(foot.x, foot.y)))
            }
        };
        let Some((sprite, shadow, prims)) = ctx.render_item(&model, &place, mount == Mount::Ground)
        else {
            return Err(SynthError::InvalidSpec(format!(
                "event {track_id}: object is behind the camera or out of view"
            )));
        };
        let (ground, footprint_centre, depth) = if mount == Mount::Ground {
            let c = place.point(v3(
                (model.foot[0] + model.foot[2]) / 2.0,
                (model.foot[1] + model.foot[3]) / 2.0,
                0.0,
            ));
            (
                ctx.anchor(&prims),
                Some(ctx.ground_pos(c.x, c.y)),
                ctx.depth(c),
            )
        } else {
            (None, None, ctx.depth(place.origin))
        };
        let in_image = sprite.count_in_image(
            ctx.cam.pose().width as usize,
            ctx.cam.pose().height as usize,
        );
        let item = Item {
            track_id,
            class: Some(ev.category.class()),
            variant,
            window: Some((ev.appear_s, ev.leave_s)),
            sprite,
            shadow,
            depth,
            ground,
            in_image,
        };
        let truth = EventTruth {
            track_id,
            category: ev.category,
            variant,
            kind: kind.name().to_string(),
            appear_s: ev.appear_s,
            leave_s: ev.leave_s,
            mount: match mount {
                Mount::Ground => MountKind::Ground,
                Mount::Wall => MountKind::Wall,
                Mount::Pole => MountKind::Pole,
            },
            ground,
            footprint_centre,
            wall,
            pole,
        };
        Ok((item, truth))
    }

    /// The spec the scene was built from.
    pub fn spec(&self) -> &SceneSpec {
        &self.spec
    }

    /// The camera.
    pub fn camera(&self) -> &Camera {
        &self.camera
    }

    /// Where the kerbs and the wall are (street frame, see [`StreetLayout`]).
    pub fn layout(&self) -> &StreetLayout {
        &self.layout
    }

    /// The lamp posts in view (procedural streets): street-frame `(along, across)` of their
    /// foot, as [`StreetLayout::to_enu`] takes them.
    pub fn lamp_posts(&self) -> &[(f64, f64)] {
        &self.lamp_posts
    }

    /// Number of frames: `round(duration_s × fps)`.
    pub fn frame_count(&self) -> u64 {
        self.frames
    }

    /// Time of frame `i` in seconds.
    pub fn time_of(&self, i: u64) -> f64 {
        i as f64 / f64::from(self.spec.fps)
    }

    /// Bytes of one packed RGB frame.
    pub fn frame_len(&self) -> usize {
        self.spec.width as usize * self.spec.height as usize * 3
    }

    /// The background plate (packed RGB), before objects and effects.
    pub fn background(&self) -> &[u8] {
        &self.plate
    }

    fn walker_layer(&self, w: &Walker, t: f64, with_shadow: bool) -> Option<Layer<'_>> {
        let dist = (t - w.t0) * w.speed;
        let along = w.start + w.dir * dist;
        let phase = std::f64::consts::TAU * dist / 1.5;
        let facing = if w.dir > 0.0 {
            0.0
        } else {
            std::f64::consts::PI
        };
        let mut m = Model::default();
        objects::person(&mut m, &w.look, v3(0.0, 0.0, 0.0), facing, phase, 0.32);
        let place = Place {
            origin: self.layout.world(along, w.lane, 0.0),
            ax: self.layout.along_dir(),
            ay: self.layout.across_dir(),
        };
        let prims = m.placed(&place);
        let sprite = objects::render(&self.camera, &prims, self.sun)?;
        let shadow = if with_shadow {
            objects::shadow(
                &self.camera,
                &place,
                [-0.25, -0.18, 0.25, 0.18],
                w.look.height,
                self.sun,
            )
        } else {
            None
        };
        let e = objects::extent(&self.camera, &prims)?;
        let ground = self
            .camera
            .pixel_to_ground((e[0] + e[2]) / 2.0, e[3])
            .map(|g| {
                let (lat, lon) = self.camera.to_wgs84(g[0], g[1]);
                GroundPos {
                    east_m: g[0],
                    north_m: g[1],
                    lat,
                    lon,
                }
            });
        Some(Layer {
            track_id: w.track_id,
            class: Some(ObjectClass::Pedestrian),
            variant: w.variant,
            sprite: Cow::Owned(sprite),
            shadow: shadow.map(Cow::Owned),
            depth: v3(place.origin.x, place.origin.y, 0.0).norm(),
            ground,
            in_image: None,
        })
    }

    /// Objects present in frame `i`, far to near.
    fn layers(&self, i: u64, with_shadows: bool) -> Vec<Layer<'_>> {
        let t = self.time_of(i);
        let mut out: Vec<Layer<'_>> = self
            .items
            .iter()
            .filter(|it| it.window.is_none_or(|(a, b)| a <= t && t < b))
            .map(|it| Layer {
                track_id: it.track_id,
                class: it.class,
                variant: it.variant,
                sprite: Cow::Borrowed(&it.sprite),
                shadow: it.shadow.as_ref().map(Cow::Borrowed),
                depth: it.depth,
                ground: it.ground,
                in_image: Some(it.in_image),
            })
            .collect();
        for w in &self.walkers {
            if w.t0 <= t && t < w.t1 {
                if let Some(l) = self.walker_layer(w, t, with_shadows) {
                    out.push(l);
                }
            }
        }
        out.sort_by(|a, b| {
            b.depth
                .total_cmp(&a.depth)
                .then(a.track_id.cmp(&b.track_id))
        });
        out
    }

    fn check_index(&self, i: u64) -> Result<(), SynthError> {
        if i >= self.frames {
            return Err(SynthError::FrameOutOfRange {
                index: i,
                count: self.frames,
            });
        }
        Ok(())
    }

    /// Renders frame `i` into `out` (packed RGB, `width × height × 3` bytes).
    pub fn render(&self, i: u64, out: &mut [u8]) -> Result<(), SynthError> {
        self.check_index(i)?;
        if out.len() != self.frame_len() {
            return Err(SynthError::BufferSize {
                got: out.len(),
                want: self.frame_len(),
            });
        }
        let t = self.time_of(i);
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        out.copy_from_slice(&self.plate);
        let layers = self.layers(i, true);
        let strength = self.effects.shadow_strength(t);
        for l in &layers {
            if let Some(s) = &l.shadow {
                s.darken(out, w, h, strength);
            }
        }
        for l in &layers {
            l.sprite.blit(out, w, h);
        }
        self.effects.apply(out, i, t);
        Ok(())
    }

    /// Ground truth of frame `i`.
    pub fn frame_truth(&self, i: u64) -> Result<FrameTruth, SynthError> {
        self.check_index(i)?;
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let layers = self.layers(i, false);
        let mut objects = Vec::new();
        for (k, l) in layers.iter().enumerate() {
            let Some(class) = l.class else { continue };
            let Some(b) = l.sprite.bbox else { continue };
            let cb = [
                b[0].max(0),
                b[1].max(0),
                b[2].min(w as i32),
                b[3].min(h as i32),
            ];
            if cb[0] >= cb[2] || cb[1] >= cb[3] || l.sprite.mask_count == 0 {
                continue;
            }
            let Some(mine) = l.sprite.clip_rect(w, h) else {
                continue;
            };
            let in_image = l.in_image.unwrap_or_else(|| l.sprite.count_in_image(w, h));
            let nearer: Vec<&Sprite> = layers[k + 1..]
                .iter()
                .map(|n| n.sprite.as_ref())
                .filter(|s| {
                    s.clip_rect(w, h).is_some_and(|r| {
                        r[0] < mine[2] && mine[0] < r[2] && r[1] < mine[3] && mine[1] < r[3]
                    })
                })
                .collect();
            let mut hidden = 0u32;
            if !nearer.is_empty() {
                for y in mine[1]..mine[3] {
                    for x in mine[0]..mine[2] {
                        if l.sprite.covers(x, y) && nearer.iter().any(|s| s.covers(x, y)) {
                            hidden += 1;
                        }
                    }
                }
            }
            objects.push(ObjectTruth {
                track_id: l.track_id,
                class,
                variant: l.variant,
                bbox: [cb[0] as f32, cb[1] as f32, cb[2] as f32, cb[3] as f32],
                visible_fraction: in_image.saturating_sub(hidden) as f32
                    / l.sprite.mask_count as f32,
                ground: l.ground,
            });
        }
        Ok(FrameTruth {
            index: i,
            t_s: self.time_of(i),
            objects,
        })
    }

    /// The scripted events as realised (variants chosen, positions resolved).
    pub fn events(&self) -> &[EventTruth] {
        &self.events
    }

    /// The camera as recorded in the ground truth.
    pub fn camera_truth(&self) -> CameraTruth {
        CameraTruth {
            pose: self.spec.pose,
            ground_homography: self.camera.ground_homography(),
            pixel_to_ground: self.camera.pixel_homography(),
        }
    }

    /// Full ground truth: every `gt_every`-th frame (computes them all; see [`Scene::frame_truth`]
    /// to stream instead).
    pub fn ground_truth(&self) -> GroundTruth {
        let frames = (0..self.frames)
            .step_by(self.spec.gt_every.max(1) as usize)
            .filter_map(|i| self.frame_truth(i).ok())
            .collect();
        GroundTruth {
            spec: self.spec.clone(),
            camera: self.camera_truth(),
            layout: self.layout,
            frame_count: self.frames,
            gt_every: self.spec.gt_every,
            frames,
            events: self.events.clone(),
        }
    }
}

/// The model's footprint after a yaw, as an axis-aligned box in the street frame.
fn rotated_foot(model: &Model, yaw: f64) -> Model {
    let f = model.foot;
    let (s, c) = yaw.sin_cos();
    let mut e = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for (x, y) in [(f[0], f[1]), (f[2], f[1]), (f[2], f[3]), (f[0], f[3])] {
        let (rx, ry) = (x * c - y * s, x * s + y * c);
        e = [e[0].min(rx), e[1].min(ry), e[2].max(rx), e[3].max(ry)];
    }
    Model {
        prims: Vec::new(),
        foot: e,
        height: model.height,
    }
}
