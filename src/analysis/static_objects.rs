//! The static-object detector: finds things that arrived and then stayed, with no model.
//!
//! Per camera, at low resolution (~160 px wide; brightness and colour), two background models:
//! - a **long-term** background that learns slowly (minutes) and only where nothing is in front
//!   of it — the empty street;
//! - a **short-term** background that learns in seconds — whatever has been there lately.
//!
//! A pixel that differs from the long-term background (in brightness; in colour where the
//! brightness happens to match; in texture, the brightness steps across it, where its tone is at
//! least half off) but matches the short-term one holds something that is new but no longer
//! moving. When such pixels have differed from the empty street for `min_static` and form a
//! region of at least `min_area` of the frame, found on every update for `steady`, the region
//! is reported as `static_object`, with the time it arrived (when its pixels first differed).
//! People walking through differ from both models and are never static; a pixel already static
//! stays so for a few seconds while someone passes in front of it, and parts of one object
//! split apart by the mask (a stall's canopy above its table) are joined, while things that
//! touch but arrived apart (boxes put down against a stall's side 15 s after it) are cut into
//! regions of their own by their pixels' arrival times, unless one lies mostly within the
//! other's outline (a stall's shadow, darkening late as the light changes, under its table).
//! A global gain estimated
//! each frame (the median ratio of frame to background) cancels gradual lighting change. For
//! the first `bootstrap` seconds after a start the long-term model learns fast, so nobody in the
//! first frame leaves a ghost.
//!
//! [`BandDetector`] runs the same detector on one band of the frame (a camera's sign band) at
//! twice the resolution, so that a sheet stuck on a lamp post, a few pixels at ~160 px, is a
//! region of its own; its regions are `static_sign`, for the rules: a sign, or, where it stands
//! on the sidewalk, something on the ground too small for the whole frame.
//!
//! Pure: frames and their times come in; no I/O, no clock. Cheap enough to run every second on
//! every camera (two passes over ~14 k pixels: the texture changes, then the models).

use std::time::{Duration, SystemTime};

use super::{DetectorKind, Observation};
use crate::domain::BBox;

/// Settings of the static-object detector.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticConfig {
    /// Working width in pixels (the height keeps the aspect ratio).
    pub width: usize,
    /// Time constant of the short-term background.
    pub short_tau: Duration,
    /// Time constant of the long-term background on uncovered pixels.
    pub long_tau: Duration,
    /// A region still there after this long becomes part of the long-term background.
    pub absorb_after: Duration,
    /// Grey-level difference (0..255, after gain correction) that counts as different.
    pub threshold: f32,
    /// Colour difference (largest change of B − Y or R − Y, 0..255 scale, after gain
    /// correction) that counts as different even when the brightness matches: brown cardboard
    /// on beige paving. 0 turns colour off.
    pub chroma_threshold: f32,
    /// Texture difference that counts as different where the pixel's own tone is at least half
    /// a `threshold` (or half a `chroma_threshold`) off: the change of the horizontal plus the
    /// vertical brightness step across the pixel (0..255 scale, after gain correction). Crates
    /// whose slats average the grey of the shopfront behind them differ in texture, not tone.
    /// 0 turns texture off.
    pub texture_threshold: f32,
    /// How long a pixel must have differed from the empty street to count as static.
    pub min_static: Duration,
    /// A pixel that was static stays static this long while something moves in front of it
    /// (a vendor stepping in front of the table), so a region does not break up or vanish
    /// for a frame when someone passes.
    pub occlusion_grace: Duration,
    /// Smallest region reported, as a fraction of the frame.
    pub min_area: f32,
    /// A region is reported once it has been found on every update for this long: one whose
    /// size flickers about `min_area`, found on a frame now and then, is not an object.
    pub steady: Duration,
    /// After a (re)start the long-term background learns as fast as the short-term one for
    /// this long, so people in the first frame leave no ghost. Whatever arrives in this time
    /// becomes background.
    pub bootstrap: Duration,
    /// Parts of one connected region whose pixels arrived at least this far apart, with no
    /// arrival between, are separate things (sacks put down beside a stall that was already
    /// there), each reported on its own when it is at least `min_area` and does not lie half
    /// or more within another part's box. Zero keeps every connected region whole.
    pub arrival_gap: Duration,
}

impl Default for StaticConfig {
    fn default() -> Self {
        Self {
            width: 160,
            short_tau: Duration::from_secs(8),
            long_tau: Duration::from_secs(300),
            absorb_after: Duration::from_secs(3 * 3600),
            threshold: 22.0,
            chroma_threshold: 12.0,
            texture_threshold: 60.0,
            min_static: Duration::from_secs(30),
            occlusion_grace: Duration::from_secs(5),
            min_area: 0.0015,
            bootstrap: Duration::from_secs(15),
            steady: Duration::from_secs(3),
            arrival_gap: Duration::from_secs(8),
        }
    }
}

/// The detector's state for one camera.
#[derive(Debug, Clone)]
pub struct StaticObjectDetector {
    config: StaticConfig,
    size: Option<(usize, usize, u32, u32)>,
    long: Vec<f32>,
    short: Vec<f32>,
    /// Seconds (since `epoch`) at which each pixel started to differ from the long-term model.
    differs_since: Vec<f64>,
    /// Seconds at which each pixel was last static with nothing moving in front of it.
    still_at: Vec<f64>,
    epoch: Option<SystemTime>,
    last: f64,
    grey: Vec<f32>,
    /// Per pixel (B − Y, R − Y) of the current frame, and its long- and short-term backgrounds.
    chroma: Vec<[f32; 2]>,
    long_chroma: Vec<[f32; 2]>,
    short_chroma: Vec<[f32; 2]>,
    /// Per pixel, the texture change of the current frame against the long- and short-term
    /// backgrounds (see `texture_threshold`), measured before either learns from the frame.
    texture: Vec<[f32; 2]>,
    gain: f32,
    mask: Vec<bool>,
    labels: Vec<u32>,
    /// The regions found on the previous update, with the time since which each has been found
    /// on every update (see `steady`).
    last_regions: Vec<(BBox, f64)>,
}

const NEVER: f64 = f64::INFINITY;

/// A region continues one of the previous update when their boxes overlap this much (IoU).
const CONTINUES_IOU: f32 = 0.3;

impl StaticObjectDetector {
    pub fn new(config: StaticConfig) -> Self {
        Self {
            config,
            size: None,
            long: Vec::new(),
            short: Vec::new(),
            differs_since: Vec::new(),
            still_at: Vec::new(),
            epoch: None,
            last: 0.0,
            grey: Vec::new(),
            chroma: Vec::new(),
            long_chroma: Vec::new(),
            short_chroma: Vec::new(),
            texture: Vec::new(),
            gain: 1.0,
            mask: Vec::new(),
            labels: Vec::new(),
            last_regions: Vec::new(),
        }
    }

    /// Feeds one packed-RGB frame taken at `t`; returns the static regions present now, boxes
    /// normalised to the frame.
    pub fn update(
        &mut self,
        t: SystemTime,
        rgb: &[u8],
        width: u32,
        height: u32,
    ) -> Vec<Observation> {
        if width == 0 || height == 0 || rgb.len() < width as usize * height as usize * 3 {
            return Vec::new();
        }
        let epoch = *self.epoch.get_or_insert(t);
        let now = t.duration_since(epoch).unwrap_or_default().as_secs_f64();
        let w = self.config.width.clamp(8, width as usize);
        let h = ((height as usize * w) / width as usize).max(1);
        if self.size != Some((w, h, width, height)) || now < self.last {
            // New size, or time went back (the stream restarted): start over.
            self.reset(w, h, width, height);
            downscale(
                rgb,
                (width as usize, height as usize),
                (w, h),
                &mut self.grey,
                &mut self.chroma,
            );
            self.long.clone_from(&self.grey);
            self.short.clone_from(&self.grey);
            self.long_chroma.clone_from(&self.chroma);
            self.short_chroma.clone_from(&self.chroma);
            self.last = now;
            return Vec::new();
        }
        downscale(
            rgb,
            (width as usize, height as usize),
            (w, h),
            &mut self.grey,
            &mut self.chroma,
        );
        let dt = (now - self.last).clamp(0.0, 10.0);
        self.last = now;
        let gain = median_gain(&self.grey, &self.long);
        self.gain = gain;
        let a_short = 1.0 - (-dt / self.config.short_tau.as_secs_f64().max(1e-3)).exp();
        let bootstrapping = now < self.config.bootstrap.as_secs_f64();
        let a_long = if bootstrapping {
            a_short
        } else {
            1.0 - (-dt / self.config.long_tau.as_secs_f64().max(1e-3)).exp()
        };
        let threshold = self.config.threshold;
        let chroma_threshold = if self.config.chroma_threshold > 0.0 {
            self.config.chroma_threshold
        } else {
            f32::INFINITY
        };
        let colour_change = |a: [f32; 2], b: [f32; 2]| (a[0] - b[0]).abs().max((a[1] - b[1]).abs());
        let texture_threshold = if self.config.texture_threshold > 0.0 {
            texture_changes(
                &self.grey,
                gain,
                [&self.long, &self.short],
                (w, h),
                &mut self.texture,
            );
            self.config.texture_threshold
        } else {
            // Texture off: no change ever passes an infinite threshold, so none is measured.
            self.texture.clear();
            self.texture.resize(w * h, [0.0; 2]);
            f32::INFINITY
        };
        let min_static = self.config.min_static.as_secs_f64();
        let grace = self.config.occlusion_grace.as_secs_f64();
        let absorb = self.config.absorb_after.as_secs_f64();
        for p in 0..w * h {
            let g = self.grey[p] / gain;
            let c = self.chroma[p].map(|v| v / gain);
            // Tone: how far brightness and colour are off, in thresholds.
            let tone = |background: f32, background_chroma: [f32; 2]| {
                ((g - background).abs() / threshold)
                    .max(colour_change(c, background_chroma) / chroma_threshold)
            };
            let (tone_long, tone_short) = (
                tone(self.long[p], self.long_chroma[p]),
                tone(self.short[p], self.short_chroma[p]),
            );
            let [texture_long, texture_short] = self.texture[p];
            let differs = tone_long > 1.0 || (tone_long >= 0.5 && texture_long > texture_threshold);
            let moving =
                tone_short > 1.0 || (tone_short >= 0.5 && texture_short > texture_threshold);
            self.short[p] += (a_short as f32) * (g - self.short[p]);
            blend(&mut self.short_chroma[p], c, a_short as f32);
            if bootstrapping {
                self.long[p] += (a_long as f32) * (g - self.long[p]);
                blend(&mut self.long_chroma[p], c, a_long as f32);
                self.differs_since[p] = NEVER;
            } else if differs {
                if self.differs_since[p] == NEVER {
                    self.differs_since[p] = now;
                }
                if now - self.differs_since[p] > absorb {
                    // It has been there for hours: it is part of the street now.
                    self.long[p] = g;
                    self.long_chroma[p] = c;
                    self.differs_since[p] = NEVER;
                }
            } else {
                self.long[p] += (a_long as f32) * (g - self.long[p]);
                blend(&mut self.long_chroma[p], c, a_long as f32);
                self.differs_since[p] = NEVER;
            }
            let settled = differs && now - self.differs_since[p] >= min_static;
            if settled && !moving {
                self.still_at[p] = now;
            }
            self.mask[p] = settled && now - self.still_at[p] <= grace;
        }
        let regions = self.regions(w, h, epoch);
        self.steady_only(regions, now)
    }

    /// The regions that have been found on every update for `steady` (a region continues one
    /// of the previous update when their boxes overlap with IoU ≥ [`CONTINUES_IOU`]); remembers
    /// all of them for the next update.
    fn steady_only(&mut self, regions: Vec<Observation>, now: f64) -> Vec<Observation> {
        let steady = self.config.steady.as_secs_f64();
        let found: Vec<(BBox, f64)> = regions
            .iter()
            .map(|r| {
                let began = self
                    .last_regions
                    .iter()
                    .filter(|(b, _)| b.iou(&r.bbox) >= CONTINUES_IOU)
                    .map(|&(_, began)| began)
                    .fold(now, f64::min);
                (r.bbox, began)
            })
            .collect();
        let out = regions
            .into_iter()
            .zip(&found)
            .filter(|(_, &(_, began))| now - began >= steady)
            .map(|(r, _)| r)
            .collect();
        self.last_regions = found;
        out
    }

    fn reset(&mut self, w: usize, h: usize, width: u32, height: u32) {
        self.size = Some((w, h, width, height));
        self.differs_since = vec![NEVER; w * h];
        self.still_at = vec![f64::NEG_INFINITY; w * h];
        self.mask = vec![false; w * h];
        self.labels = vec![0; w * h];
        self.last_regions.clear();
        self.epoch = None;
    }

    /// Connected regions of the static mask (8-connected, after removing isolated pixels).
    fn regions(&mut self, w: usize, h: usize, epoch: SystemTime) -> Vec<Observation> {
        // Isolated pixels (fewer than 3 static neighbours) are noise.
        let keep: Vec<bool> = (0..w * h)
            .map(|p| {
                if !self.mask[p] {
                    return false;
                }
                let (x, y) = (p % w, p / w);
                let mut n = 0;
                for (dx, dy) in NEIGHBOURS {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h {
                        n += usize::from(self.mask[ny as usize * w + nx as usize]);
                    }
                }
                n >= 3
            })
            .collect();
        // Parts of one object (an umbrella and the table under it) a few pixels apart are one
        // region: connect through a dilated mask, but measure only the static pixels.
        let mut joined = keep.clone();
        for _ in 0..2 {
            let previous = joined.clone();
            for p in 0..w * h {
                if previous[p] {
                    continue;
                }
                let (x, y) = (p % w, p / w);
                joined[p] = NEIGHBOURS.iter().any(|(dx, dy)| {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    nx >= 0
                        && ny >= 0
                        && (nx as usize) < w
                        && (ny as usize) < h
                        && previous[ny as usize * w + nx as usize]
                });
            }
        }
        self.labels.iter_mut().for_each(|l| *l = 0);
        let min_pixels = (self.config.min_area * (w * h) as f32).ceil().max(4.0) as usize;
        let arrival_gap = self.config.arrival_gap.as_secs_f64();
        let mut parts = Vec::new();
        let mut stack = Vec::new();
        let mut next = 0u32;
        for start in 0..w * h {
            if !keep[start] || self.labels[start] != 0 {
                continue;
            }
            next += 1;
            let mut part = Part::empty();
            let mut pixels: Vec<usize> = Vec::new();
            stack.push(start);
            self.labels[start] = next;
            while let Some(p) = stack.pop() {
                let (x, y) = (p % w, p / w);
                if keep[p] {
                    part.add(x, y, self.differs_since[p]);
                    pixels.push(p);
                }
                for (dx, dy) in NEIGHBOURS {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx < 0 || ny < 0 || nx as usize >= w || ny as usize >= h {
                        continue;
                    }
                    let q = ny as usize * w + nx as usize;
                    if joined[q] && self.labels[q] == 0 {
                        self.labels[q] = next;
                        stack.push(q);
                    }
                }
            }
            if part.count < min_pixels {
                continue;
            }
            let Part { x1, y1, x2, y2, .. } = part;
            if self.is_ghost(next, &keep, w, h, (x1, y1, x2, y2)) {
                // Something that was there at the start has left: the street it uncovered is
                // not an object. Learn it at once instead of reporting it.
                for y in y1..=y2 {
                    for x in x1..=x2 {
                        let p = y * w + x;
                        if self.labels[p] == next && keep[p] {
                            self.long[p] = self.grey[p] / self.gain;
                            self.long_chroma[p] = self.chroma[p].map(|v| v / self.gain);
                            self.differs_since[p] = NEVER;
                        }
                    }
                }
                continue;
            }
            match split_by_arrival(&pixels, &self.differs_since, w, min_pixels, arrival_gap) {
                Some(pieces) => parts.extend(pieces),
                None => parts.push(part),
            }
        }
        join_stacked(&mut parts);
        parts
            .into_iter()
            .map(|part| part.observation(w, h, epoch))
            .collect()
    }
}

/// The static-object detector on one band of the picture, at twice the whole frame's
/// resolution: a camera's sign band (the shopfront wall and the lamp posts, the region its text
/// detector tiles). A sheet stuck on a lamp post is a few pixels at the whole frame's ~160 px,
/// too few to be a region, and its lines of text may be too small for any text detector to
/// read; here it is a region of its own. Its regions are `static_sign`: something that arrived
/// on the wall or a pole and stayed, a sign unless it lies on goods; or, where its foot stands
/// on the sidewalk, something on the ground (a far stack at the wall). The rules decide.
#[derive(Debug, Clone)]
pub struct BandDetector {
    region: BBox,
    detector: StaticObjectDetector,
    crop: Vec<u8>,
}

/// The label of a [`BandDetector`]'s regions.
pub const STATIC_SIGN: &str = "static_sign";

impl BandDetector {
    /// Working pixels per pixel of the frame the band is cut from.
    const SCALE: f32 = 0.5;

    /// The smallest region as a share of the whole frame: a band's `min_area` is lowered to this
    /// where the band is more than half the frame, so that a tall band needs no larger sheet
    /// than a band half the frame high (0.06 % of that band).
    const MIN_FRAME_AREA: f32 = 0.0003;

    /// Watches `region` (normalised) with `config`, whose `width` is set from the band's size
    /// and whose `min_area` (a share of the band) is at most 0.03 % of the frame.
    pub fn new(region: BBox, mut config: StaticConfig) -> Self {
        let share = region.area().max(1e-6);
        config.min_area = config.min_area.min(Self::MIN_FRAME_AREA / share);
        Self {
            region,
            detector: StaticObjectDetector::new(config),
            crop: Vec::new(),
        }
    }

    /// The defaults of [`StaticConfig`] but for the smallest region: 0.06 % of the band, which
    /// for a band half the frame high is about a fifth of the picture area the whole frame's
    /// smallest region covers ([`BandDetector::new`] lowers it for a taller band); and regions
    /// are kept whole whenever their parts arrived (`arrival_gap` zero): in the band, a late
    /// part of a stall's top (a vendor moving under the canopy) would stand alone as a sign,
    /// and the whole frame's detector already tells things on the ground apart.
    pub fn default_config() -> StaticConfig {
        StaticConfig {
            min_area: 0.0006,
            arrival_gap: Duration::ZERO,
            ..StaticConfig::default()
        }
    }

    /// Feeds one packed-RGB frame taken at `t`; returns the static regions in the band now,
    /// boxes normalised to the whole frame, labelled [`STATIC_SIGN`]; regions that reach the
    /// band's lower edge are left out.
    pub fn update(
        &mut self,
        t: SystemTime,
        rgb: &[u8],
        width: u32,
        height: u32,
    ) -> Vec<Observation> {
        let (fw, fh) = (width as usize, height as usize);
        if fw == 0 || fh == 0 || rgb.len() < fw * fh * 3 {
            return Vec::new();
        }
        let to_px =
            |v: f32, size: usize| ((v.clamp(0.0, 1.0) * size as f32).round() as usize).min(size);
        let (x1, x2) = (to_px(self.region.x1, fw), to_px(self.region.x2, fw));
        let (y1, y2) = (to_px(self.region.y1, fh), to_px(self.region.y2, fh));
        if x2 <= x1 || y2 <= y1 {
            return Vec::new();
        }
        let (cw, ch) = (x2 - x1, y2 - y1);
        self.crop.clear();
        for y in y1..y2 {
            self.crop
                .extend_from_slice(&rgb[(y * fw + x1) * 3..(y * fw + x2) * 3]);
        }
        self.detector.config.width = ((cw as f32 * Self::SCALE).round() as usize).max(8);
        let (ox, oy) = (x1 as f32 / fw as f32, y1 as f32 / fh as f32);
        let (sx, sy) = (cw as f32 / fw as f32, ch as f32 / fh as f32);
        self.detector
            .update(t, &self.crop, cw as u32, ch as u32)
            .into_iter()
            // A region cut by the band's lower edge goes on below it: the top of something
            // standing on the ground, not something on the wall or a pole.
            .filter(|o| o.bbox.y2 < 1.0 - 1e-4)
            .map(|mut o| {
                let b = o.bbox;
                o.bbox = BBox::new(
                    ox + b.x1 * sx,
                    oy + b.y1 * sy,
                    ox + b.x2 * sx,
                    oy + b.y2 * sy,
                );
                o.label = STATIC_SIGN.to_owned();
                o
            })
            .collect()
    }
}

/// A static region being assembled: its box (inclusive, working pixels), its static pixels and
/// when each started to differ.
#[derive(Debug, Clone, PartialEq)]
struct Part {
    x1: usize,
    y1: usize,
    x2: usize,
    y2: usize,
    count: usize,
    since: Vec<f64>,
}

impl Part {
    /// A part with no pixels yet, to [`Part::add`] them to.
    fn empty() -> Self {
        Part {
            x1: usize::MAX,
            y1: usize::MAX,
            x2: 0,
            y2: 0,
            count: 0,
            since: Vec::new(),
        }
    }

    /// Adds the pixel at `(x, y)` that started to differ at `since`.
    fn add(&mut self, x: usize, y: usize, since: f64) {
        self.x1 = self.x1.min(x);
        self.y1 = self.y1.min(y);
        self.x2 = self.x2.max(x);
        self.y2 = self.y2.max(y);
        self.count += 1;
        self.since.push(since);
    }

    /// Takes in `other`'s pixels.
    fn absorb(&mut self, other: Part) {
        self.x1 = self.x1.min(other.x1);
        self.y1 = self.y1.min(other.y1);
        self.x2 = self.x2.max(other.x2);
        self.y2 = self.y2.max(other.y2);
        self.count += other.count;
        self.since.extend(other.since);
    }

    /// The share of this part's box that lies inside `other`'s box.
    fn share_inside(&self, other: &Part) -> f32 {
        let across = (self.x2.min(other.x2) + 1).saturating_sub(self.x1.max(other.x1));
        let down = (self.y2.min(other.y2) + 1).saturating_sub(self.y1.max(other.y1));
        (across * down) as f32 / (self.width() * self.height()) as f32
    }

    fn width(&self) -> usize {
        self.x2 - self.x1 + 1
    }

    fn height(&self) -> usize {
        self.y2 - self.y1 + 1
    }

    /// The region as a detection in a `w` × `h` working frame: its box normalised, its fill as
    /// the score, and its arrival the median time its pixels started to differ.
    fn observation(mut self, w: usize, h: usize, epoch: SystemTime) -> Observation {
        self.since.sort_by(f64::total_cmp);
        let arrived = self.since[self.since.len() / 2];
        let fill = self.count as f32 / (self.width() * self.height()) as f32;
        let mut observation = Observation::new(
            BBox::new(
                self.x1 as f32 / w as f32,
                self.y1 as f32 / h as f32,
                (self.x2 + 1) as f32 / w as f32,
                (self.y2 + 1) as f32 / h as f32,
            ),
            fill.clamp(0.5, 1.0),
            "static_object",
            DetectorKind::Static,
        );
        observation.since = Some(epoch + Duration::from_secs_f64(arrived.max(0.0)));
        observation
    }

    /// Whether `self` and `other` are parts of one standing object that the mask split apart,
    /// as a stall's canopy above its table with only a thin pole between: one lies above the
    /// other, they overlap across at least half the narrower one's width, and the gap between
    /// them is no taller than the taller of the two. Side-by-side regions are never joined.
    fn stacked_with(&self, other: &Part) -> bool {
        let overlap = self.x2.min(other.x2) as isize - self.x1.max(other.x1) as isize + 1;
        if 2 * overlap < self.width().min(other.width()) as isize {
            return false;
        }
        let (upper, lower) = if self.y1 <= other.y1 {
            (self, other)
        } else {
            (other, self)
        };
        let gap = lower.y1 as isize - upper.y2 as isize - 1;
        (0..=self.height().max(other.height()) as isize).contains(&gap)
    }
}

/// The things one connected region holds when they arrived apart, as sacks put down beside a
/// stall that was already there: the region's static `pixels` (indices in a `w`-wide frame,
/// `since` their arrival times) are cut at the widest gap between successive arrival times
/// that leaves `min_pixels` on either side, when it is at least `gap` seconds; each side is
/// then cut into its own pieces (pixels of one side at most two apart), and pieces of
/// `min_pixels` or more are the parts, except that a piece half or more inside a larger one's
/// box joins it ([`NESTED`]). `None` when the region is one thing: no such gap, or one side has
/// no piece of its own left (late pixels along an edge are noise, not an arrival; late shadow
/// under a stall's table is the stall).
fn split_by_arrival(
    pixels: &[usize],
    since: &[f64],
    w: usize,
    min_pixels: usize,
    gap: f64,
) -> Option<Vec<Part>> {
    if gap <= 0.0 || pixels.len() < 2 * min_pixels {
        return None;
    }
    let mut times: Vec<f64> = pixels.iter().map(|&p| since[p]).collect();
    times.sort_by(f64::total_cmp);
    let (cut, widest) = (min_pixels..=times.len() - min_pixels)
        .map(|i| (times[i], times[i] - times[i - 1]))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if widest < gap {
        return None;
    }
    // 0: not in the region; 1: in it, not yet in a piece; 2: in a piece.
    let mut state = vec![0u8; since.len()];
    for &p in pixels {
        state[p] = 1;
    }
    let late = |p: usize| since[p] >= cut;
    let mut pieces = Vec::new();
    let mut stack = Vec::new();
    for &start in pixels {
        if state[start] != 1 {
            continue;
        }
        state[start] = 2;
        let side = late(start);
        let mut piece = Part::empty();
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            piece.add(x, y, since[p]);
            for dy in -2..=2isize {
                for dx in -2..=2isize {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx < 0 || ny < 0 || nx as usize >= w {
                        continue;
                    }
                    let q = ny as usize * w + nx as usize;
                    if state.get(q) == Some(&1) && late(q) == side {
                        state[q] = 2;
                        stack.push(q);
                    }
                }
            }
        }
        if piece.count >= min_pixels {
            pieces.push((side, piece));
        }
    }
    join_nested(&mut pieces);
    let both = pieces.iter().any(|(late, _)| *late) && pieces.iter().any(|(late, _)| !*late);
    both.then(|| pieces.into_iter().map(|(_, piece)| piece).collect())
}

/// A piece of a region cut by arrival whose box lies this much inside another piece's box is
/// part of that piece.
const NESTED: f32 = 0.5;

/// Joins each of the `pieces` (with their side of the arrival cut) that lies [`NESTED`] inside
/// a larger one's box to that one, until none does: a stall's shadow that darkened late under
/// its table, the table inside its canopy's outline. The larger keeps its side.
fn join_nested(pieces: &mut Vec<(bool, Part)>) {
    let nested = |pieces: &[(bool, Part)]| {
        pieces.iter().enumerate().find_map(|(i, (_, a))| {
            pieces.iter().enumerate().find_map(|(j, (_, b))| {
                let smaller = a.count < b.count || (a.count == b.count && i > j);
                (i != j && smaller && a.share_inside(b) >= NESTED).then_some((i, j))
            })
        })
    };
    while let Some((inner, outer)) = nested(pieces) {
        let (_, piece) = pieces.swap_remove(inner);
        // swap_remove moved the last piece to `inner`.
        let outer = if outer == pieces.len() { inner } else { outer };
        pieces[outer].1.absorb(piece);
    }
}

/// Joins the parts that are [`Part::stacked_with`] each other, until none are.
fn join_stacked(parts: &mut Vec<Part>) {
    let mut joined = true;
    while joined {
        joined = false;
        'pairs: for i in 0..parts.len() {
            for j in i + 1..parts.len() {
                if parts[i].stacked_with(&parts[j]) {
                    let other = parts.swap_remove(j);
                    parts[i].absorb(other);
                    joined = true;
                    break 'pairs;
                }
            }
        }
    }
}

impl StaticObjectDetector {
    /// A region is a removal ghost when the current frame runs on smoothly across its border
    /// while the background has an edge there: an object left, rather than arrived. Edges are
    /// summed in brightness and colour: dark green crates on a dark shopfront have a soft
    /// border in brightness alone, softer than the shopfront's own edges, but not in colour.
    fn is_ghost(
        &self,
        label: u32,
        keep: &[bool],
        w: usize,
        h: usize,
        (x1, y1, x2, y2): (usize, usize, usize, usize),
    ) -> bool {
        let (mut now_edge, mut then_edge) = (0.0f32, 0.0f32);
        for y in y1..=y2 {
            for x in x1..=x2 {
                let p = y * w + x;
                if self.labels[p] != label || !keep[p] {
                    continue;
                }
                for (dx, dy) in [(-1isize, 0isize), (1, 0), (0, -1), (0, 1)] {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx < 0 || ny < 0 || nx as usize >= w || ny as usize >= h {
                        continue;
                    }
                    let q = ny as usize * w + nx as usize;
                    if self.labels[q] == label && keep[q] {
                        continue;
                    }
                    now_edge += (self.grey[p] - self.grey[q]).abs() / self.gain;
                    then_edge += (self.long[p] - self.long[q]).abs();
                    let (c, d) = (self.chroma[p], self.chroma[q]);
                    let (lc, ld) = (self.long_chroma[p], self.long_chroma[q]);
                    now_edge += ((c[0] - d[0]).abs() + (c[1] - d[1]).abs()) / self.gain;
                    then_edge += (lc[0] - ld[0]).abs() + (lc[1] - ld[1]).abs();
                }
            }
        }
        now_edge < then_edge
    }
}

const NEIGHBOURS: [(isize, isize); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// Per pixel of the `w` × `h` frame `grey` (divided by `gain`), how much its texture changed
/// against each of the `backgrounds`: the change of the horizontal plus the vertical brightness
/// step across the pixel (central differences, one-sided at the frame's edge).
fn texture_changes(
    grey: &[f32],
    gain: f32,
    backgrounds: [&[f32]; 2],
    (w, h): (usize, usize),
    out: &mut Vec<[f32; 2]>,
) {
    out.clear();
    out.resize(w * h, [0.0; 2]);
    for y in 0..h {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            let (left, right) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let step = |v: &[f32], scale: f32| {
                (
                    (v[y * w + right] - v[y * w + left]) * scale,
                    (v[down * w + x] - v[up * w + x]) * scale,
                )
            };
            let (gx, gy) = step(grey, 1.0 / gain);
            let p = y * w + x;
            for (o, background) in out[p].iter_mut().zip(backgrounds) {
                let (bx, by) = step(background, 1.0);
                *o = (gx - bx).abs() + (gy - by).abs();
            }
        }
    }
}

/// Moves a colour background `rate` of the way towards `c`.
fn blend(background: &mut [f32; 2], c: [f32; 2], rate: f32) {
    for (b, v) in background.iter_mut().zip(c) {
        *b += rate * (v - *b);
    }
}

/// Box-averages `rgb` (`size` = width, height) down to `to`: luma into `grey`, (B − Y, R − Y)
/// into `chroma`.
fn downscale(
    rgb: &[u8],
    (width, height): (usize, usize),
    (w, h): (usize, usize),
    grey: &mut Vec<f32>,
    chroma: &mut Vec<[f32; 2]>,
) {
    grey.clear();
    grey.resize(w * h, 0.0);
    chroma.clear();
    chroma.resize(w * h, [0.0; 2]);
    let mut counts = vec![0u32; w * h];
    for y in 0..height {
        let ty = y * h / height;
        let row = &rgb[y * width * 3..(y + 1) * width * 3];
        for x in 0..width {
            let t = ty * w + x * w / width;
            let i = x * 3;
            let (r, g, b) = (
                f32::from(row[i]),
                f32::from(row[i + 1]),
                f32::from(row[i + 2]),
            );
            let luma = 0.299 * r + 0.587 * g + 0.114 * b;
            grey[t] += luma;
            chroma[t][0] += b - luma;
            chroma[t][1] += r - luma;
            counts[t] += 1;
        }
    }
    for ((v, c), n) in grey.iter_mut().zip(chroma.iter_mut()).zip(counts) {
        let n = n.max(1) as f32;
        *v /= n;
        c[0] /= n;
        c[1] /= n;
    }
}

/// Median of frame / background over reasonably bright pixels (global lighting change).
fn median_gain(grey: &[f32], background: &[f32]) -> f32 {
    let mut ratios: Vec<f32> = grey
        .iter()
        .zip(background)
        .step_by(3)
        .filter(|(_, b)| **b > 12.0)
        .map(|(g, b)| g / b)
        .collect();
    if ratios.is_empty() {
        return 1.0;
    }
    let mid = ratios.len() / 2;
    let (_, median, _) = ratios.select_nth_unstable_by(mid, f32::total_cmp);
    median.clamp(0.2, 5.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u32 = 320;
    const H: u32 = 180;

    /// A colour frame: `colour(x, y)` (RGB) plus sensor noise (±16 levels × 0.3 on all three
    /// channels, from `seed`), all times `light`.
    fn noisy_colour_frame(seed: u64, light: f32, colour: impl Fn(u32, u32) -> [f32; 3]) -> Vec<u8> {
        noisy_frame_of_size((W, H), seed, light, colour)
    }

    /// [`noisy_colour_frame`] of another size.
    fn noisy_frame_of_size(
        (w, h): (u32, u32),
        seed: u64,
        light: f32,
        colour: impl Fn(u32, u32) -> [f32; 3],
    ) -> Vec<u8> {
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        for y in 0..h {
            for x in 0..w {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((state >> 59) as f32) - 16.0;
                rgb.extend(
                    colour(x, y).map(|c| ((c + noise * 0.3) * light).clamp(0.0, 255.0) as u8),
                );
            }
        }
        rgb
    }

    /// A grey frame: `grey(x, y)` on all three channels, as [`noisy_colour_frame`].
    fn noisy_frame(seed: u64, light: f32, grey: impl Fn(u32, u32) -> f32) -> Vec<u8> {
        noisy_colour_frame(seed, light, |x, y| [grey(x, y); 3])
    }

    /// A textured street, brightness `light`, with optional rectangles (x, y, w, h, grey).
    /// A rectangle of one grey in a test frame: x, y, width, height, grey.
    type Rect = (u32, u32, u32, u32, u8);

    fn frame(light: f32, rects: &[Rect], seed: u64) -> Vec<u8> {
        noisy_frame(seed, light, |x, y| {
            rects
                .iter()
                .rev()
                .find(|&&(rx, ry, rw, rh, _)| x >= rx && x < rx + rw && y >= ry && y < ry + rh)
                .map_or(90.0 + 40.0 * (((x / 16) + (y / 16)) % 2) as f32, |r| {
                    f32::from(r.4)
                })
        })
    }

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    /// What the detector reports after 140 s of frames in which each rectangle (as for
    /// [`frame`]) is there from its second on, left to right.
    fn last_report(config: StaticConfig, rects: &[(Rect, u64)]) -> Vec<Observation> {
        let mut d = StaticObjectDetector::new(config);
        let mut out = Vec::new();
        for s in 0..140u64 {
            let there: Vec<_> = rects.iter().filter(|r| s >= r.1).map(|r| r.0).collect();
            out = d.update(at(s), &frame(1.0, &there, s), W, H);
        }
        out.sort_by(|a, b| a.bbox.x1.total_cmp(&b.bbox.x1));
        out
    }

    /// Whole seconds from `at(0)` to the observation's arrival.
    fn arrived_s(o: &Observation) -> Option<u64> {
        o.since
            .and_then(|t| t.duration_since(at(0)).ok())
            .map(|d| d.as_secs())
    }

    /// Keeps the first report of a run in `first`, asserting there is none before `quiet_until`
    /// seconds.
    fn note_first_report(
        out: &[Observation],
        s: u64,
        quiet_until: u64,
        first: &mut Option<(u64, Observation)>,
    ) {
        if s < quiet_until {
            assert!(out.is_empty(), "nothing static yet at {s} s: {out:?}");
        }
        if let Some(o) = out.first() {
            first.get_or_insert((s, o.clone()));
        }
    }

    #[test]
    fn an_object_that_stays_is_found_with_its_arrival_time() {
        let mut d = StaticObjectDetector::new(StaticConfig::default());
        let stall = (200, 100, 40, 30, 230);
        let mut found = None;
        for s in 0..200u64 {
            let rects: Vec<_> = if s >= 60 { vec![stall] } else { vec![] };
            let out = d.update(at(s), &frame(1.0, &rects, s), W, H);
            note_first_report(&out, s, 60 + 30, &mut found);
        }
        let (when, o) = found.expect("the stall is found");
        assert!((90..=95).contains(&when), "found after {when} s");
        let b = o.bbox;
        assert!(
            (b.x1 - 200.0 / 320.0).abs() < 0.02 && (b.x2 - 240.0 / 320.0).abs() < 0.02,
            "{b:?}"
        );
        assert!(
            (b.y1 - 100.0 / 180.0).abs() < 0.03 && (b.y2 - 130.0 / 180.0).abs() < 0.03,
            "{b:?}"
        );
        assert_eq!(o.since, Some(at(60)));
    }

    /// Beige paving with a brown box of the same brightness on it from 60 s on.
    fn same_grey_box(s: u64) -> Vec<u8> {
        let (paving, cardboard) = ([150u8, 140, 120], [166u8, 131, 96]);
        let luma = |c: [u8; 3]| {
            0.299 * f32::from(c[0]) + 0.587 * f32::from(c[1]) + 0.114 * f32::from(c[2])
        };
        assert!(
            (luma(paving) - luma(cardboard)).abs() < 5.0,
            "about the same brightness"
        );
        let mut rgb = Vec::with_capacity((W * H * 3) as usize);
        for y in 0..H {
            for x in 0..W {
                let boxed = s >= 60 && (150..200).contains(&x) && (90..130).contains(&y);
                rgb.extend_from_slice(if boxed { &cardboard } else { &paving });
            }
        }
        rgb
    }

    #[test]
    fn a_box_as_bright_as_the_paving_is_found_by_its_colour() {
        let run = |config: StaticConfig| {
            let mut d = StaticObjectDetector::new(config);
            (0..150u64).any(|s| !d.update(at(s), &same_grey_box(s), W, H).is_empty())
        };
        assert!(run(StaticConfig::default()), "colour finds the box");
        let grey_only = StaticConfig {
            chroma_threshold: 0.0,
            ..StaticConfig::default()
        };
        assert!(!run(grey_only), "brightness alone cannot see it");
    }

    /// Grey wall with sensor noise; from 60 s on, crates whose 4 px slats alternate 18 grey
    /// levels above and below the wall's grey, so that their tone averages the wall's.
    fn crates_on_a_grey_wall(s: u64) -> Vec<u8> {
        noisy_frame(s, 1.0, |x, y| {
            let crates = s >= 60 && (120..160).contains(&x) && (100..130).contains(&y);
            let slat = if ((x / 4) + (y / 4)) % 2 == 0 {
                18.0
            } else {
                -18.0
            };
            100.0 + if crates { slat } else { 0.0 }
        })
    }

    #[test]
    fn crates_as_grey_as_the_wall_behind_are_found_by_their_texture() {
        let run = |config: StaticConfig| {
            let mut d = StaticObjectDetector::new(config);
            let mut found = None;
            for s in 0..150u64 {
                let out = d.update(at(s), &crates_on_a_grey_wall(s), W, H);
                assert!(s >= 60 || out.is_empty(), "before the crates: {out:?}");
                if found.is_none() {
                    found = out.first().cloned();
                }
            }
            found
        };
        let o = run(StaticConfig::default()).expect("texture finds the crates");
        let b = o.bbox.scale(320.0, 180.0);
        assert!(
            (b.x1 - 120.0).abs() <= 4.0 && (b.x2 - 160.0).abs() <= 4.0,
            "{b:?}"
        );
        assert!(
            (b.y1 - 100.0).abs() <= 4.0 && (b.y2 - 130.0).abs() <= 4.0,
            "{b:?}"
        );
        assert_eq!(o.since, Some(at(60)));
        let no_texture = StaticConfig {
            texture_threshold: 0.0,
            ..StaticConfig::default()
        };
        assert!(run(no_texture).is_none(), "tone alone cannot see them");
    }

    #[test]
    fn people_walking_through_and_lighting_drift_are_not_static() {
        let mut d = StaticObjectDetector::new(StaticConfig::default());
        for s in 0..1200u64 {
            // Light drifts by 30 % over 20 minutes; a pedestrian crosses every 40 s.
            let light = 1.0 - 0.3 * (s as f32 / 1200.0);
            let px = ((s % 40) * 8) as u32;
            let rects = [(px, 80, 12, 40, 40)];
            let out = d.update(at(s), &frame(light, &rects, s), W, H);
            assert!(out.is_empty(), "false static object at {s} s: {out:?}");
        }
    }

    #[test]
    fn an_object_that_leaves_stops_being_reported() {
        let mut d = StaticObjectDetector::new(StaticConfig::default());
        let boxes = (40, 120, 50, 40, 20);
        let mut last_seen = 0;
        for s in 0..400u64 {
            let rects: Vec<_> = if (60..250).contains(&s) {
                vec![boxes]
            } else {
                vec![]
            };
            if !d.update(at(s), &frame(1.0, &rects, s), W, H).is_empty() {
                last_seen = s;
            }
        }
        assert!(
            (249..=252).contains(&last_seen),
            "last reported at {last_seen} s"
        );
    }

    /// A grey checkered wall (cells of 16 px, 90 and 130) and, from 60 s on, a green box
    /// whose brightness (110) lies between the cells' and whose edges run along cell borders.
    fn green_box_on_a_checkered_wall(s: u64) -> Vec<u8> {
        noisy_colour_frame(s, 1.0, |x, y| {
            if s >= 60 && (96..160).contains(&x) && (64..112).contains(&y) {
                [80.0, 130.0, 80.0]
            } else {
                [90.0 + 40.0 * (((x / 16) + (y / 16)) % 2) as f32; 3]
            }
        })
    }

    #[test]
    fn an_object_whose_border_is_as_smooth_in_grey_as_the_wall_is_not_taken_for_a_ghost() {
        // In brightness alone the box's border is smoother now (20 levels to each cell) than
        // the wall's was (40 between cells), as where something left; its colour is not.
        let mut d = StaticObjectDetector::new(StaticConfig::default());
        let found = (0..150u64).any(|s| {
            !d.update(at(s), &green_box_on_a_checkered_wall(s), W, H)
                .is_empty()
        });
        assert!(found, "the green box is found");
    }

    #[test]
    fn something_there_from_the_start_that_leaves_is_not_an_object() {
        let mut d = StaticObjectDetector::new(StaticConfig::default());
        let parked = (100, 60, 60, 40, 30);
        for s in 0..400u64 {
            let rects: Vec<_> = if s < 100 { vec![parked] } else { vec![] };
            let out = d.update(at(s), &frame(1.0, &rects, s), W, H);
            assert!(
                out.is_empty(),
                "the uncovered street reported at {s} s: {out:?}"
            );
        }
    }

    /// A vendor steps in front of half the stall for a few seconds: the stall stays one
    /// region, as large as before.
    #[test]
    fn someone_passing_in_front_neither_splits_nor_shrinks_a_region() {
        let stall = (120, 80, 80, 40, 230);
        let run = |config: StaticConfig| {
            let mut d = StaticObjectDetector::new(config);
            let mut during = Vec::new();
            for s in 0..140u64 {
                let mut rects = if s >= 30 { vec![stall] } else { vec![] };
                if (120..124).contains(&s) {
                    // walking left to right across the stall's left half
                    rects.push((110 + 6 * (s as u32 - 120), 70, 40, 60, 20));
                }
                let out = d.update(at(s), &frame(1.0, &rects, s), W, H);
                if (120..124).contains(&s) {
                    during.push(out);
                }
            }
            during
        };
        for out in run(StaticConfig::default()) {
            assert_eq!(out.len(), 1, "{out:?}");
            let b = out[0].bbox;
            assert!(
                (b.x1 - 120.0 / 320.0).abs() < 0.02 && (b.x2 - 200.0 / 320.0).abs() < 0.02,
                "{b:?}"
            );
        }
        let no_grace = StaticConfig {
            occlusion_grace: Duration::ZERO,
            ..StaticConfig::default()
        };
        assert!(
            run(no_grace)
                .iter()
                .any(|out| out.len() != 1 || out[0].bbox.x1 > 130.0 / 320.0),
            "without the grace the passer-by cuts the region"
        );
    }

    /// An umbrella's canopy above its table, only a thin pole between: one stall, one region.
    /// Two stacks side by side stay two.
    #[test]
    fn a_canopy_above_its_table_is_one_region_and_neighbours_stay_apart() {
        let canopy = (120, 60, 60, 12, 240);
        let table = (130, 86, 44, 20, 30);
        let left = (20, 120, 30, 30, 30);
        let right = (60, 120, 30, 30, 240);
        let mut d = StaticObjectDetector::new(StaticConfig::default());
        let mut out = Vec::new();
        for s in 0..100u64 {
            let rects = if s >= 30 {
                vec![canopy, table, left, right]
            } else {
                vec![]
            };
            out = d.update(at(s), &frame(1.0, &rects, s), W, H);
        }
        let mut boxes: Vec<BBox> = out.iter().map(|o| o.bbox.scale(320.0, 180.0)).collect();
        boxes.sort_by(|a, b| a.x1.total_cmp(&b.x1));
        assert_eq!(boxes.len(), 3, "{boxes:?}");
        let stall = boxes[2];
        assert!(
            (stall.y1 - 60.0).abs() <= 2.0 && (stall.y2 - 106.0).abs() <= 2.0,
            "canopy and table joined: {stall:?}"
        );
        assert!(boxes[0].x2 <= 52.0 && boxes[1].x1 >= 58.0, "{boxes:?}");
    }

    /// A stall, then a stack of boxes put down against its side 15 s later: two regions, each
    /// with its own arrival; the same two arriving together are one; the same with the gap
    /// turned off are one.
    #[test]
    fn things_that_arrived_apart_are_separate_regions_though_they_touch() {
        let stall = (120, 60, 60, 50, 230);
        let boxes = (180, 80, 30, 30, 30);
        let run = |config: StaticConfig, boxes_at: u64| {
            last_report(config, &[(stall, 30), (boxes, boxes_at)])
        };
        let apart = run(StaticConfig::default(), 45);
        assert_eq!(apart.len(), 2, "{apart:?}");
        let (a, b) = (
            apart[0].bbox.scale(320.0, 180.0),
            apart[1].bbox.scale(320.0, 180.0),
        );
        assert!(
            (a.x1 - 120.0).abs() <= 2.0 && (a.x2 - 180.0).abs() <= 2.0,
            "{a:?}"
        );
        assert!(
            (b.x1 - 180.0).abs() <= 2.0 && (b.x2 - 210.0).abs() <= 2.0,
            "{b:?}"
        );
        assert!(
            arrived_s(&apart[0]).is_some_and(|s| (30..=32).contains(&s)),
            "{apart:?}"
        );
        assert!(
            arrived_s(&apart[1]).is_some_and(|s| (45..=47).contains(&s)),
            "{apart:?}"
        );

        let together = run(StaticConfig::default(), 30);
        assert_eq!(together.len(), 1, "{together:?}");
        let one = StaticConfig {
            arrival_gap: Duration::ZERO,
            ..StaticConfig::default()
        };
        let whole = run(one, 45);
        assert_eq!(whole.len(), 1, "{whole:?}");
        let w = whole[0].bbox.scale(320.0, 180.0);
        assert!(
            (w.x1 - 120.0).abs() <= 2.0 && (w.x2 - 210.0).abs() <= 2.0,
            "{w:?}"
        );
    }

    /// A stall (a canopy on two legs), then its shadow darkening between the legs 15 s later as
    /// the sun comes out: one region, the stall's, with the stall's arrival. The shadow lies
    /// within the stall's outline; it is not a thing put down beside it.
    #[test]
    fn a_late_piece_within_an_earlier_ones_outline_is_part_of_it() {
        let canopy = (120, 60, 60, 16, 230);
        let legs = [(120, 76, 8, 34, 230), (172, 76, 8, 34, 230)];
        let shadow = (130, 94, 40, 16, 40);
        let out = last_report(
            StaticConfig::default(),
            &[(canopy, 30), (legs[0], 30), (legs[1], 30), (shadow, 45)],
        );
        assert_eq!(out.len(), 1, "{out:?}");
        let b = out[0].bbox.scale(320.0, 180.0);
        assert!(
            (b.x1 - 120.0).abs() <= 2.0
                && (b.x2 - 180.0).abs() <= 2.0
                && (b.y1 - 60.0).abs() <= 2.0
                && (b.y2 - 110.0).abs() <= 2.0,
            "{b:?}"
        );
        let since = arrived_s(&out[0]);
        assert!(since.is_some_and(|s| (30..=32).contains(&s)), "{since:?}");
    }

    #[test]
    fn a_region_is_reported_once_it_has_been_found_on_every_update_for_three_seconds() {
        let mut d = StaticObjectDetector::new(StaticConfig::default());
        let region = |x: f32| {
            Observation::new(
                BBox::new(x, 0.5, x + 0.05, 0.6),
                0.9,
                "static_object",
                DetectorKind::Static,
            )
        };
        // The left region is found on every update and shifts a little; the right one flickers
        // about the smallest size, found on two updates out of three.
        let reported: Vec<Vec<f32>> = (0..8u32)
            .map(|s| {
                let mut found = vec![region(0.2 + 0.002 * s as f32)];
                if s % 3 != 2 {
                    found.push(region(0.7));
                }
                d.steady_only(found, f64::from(s))
                    .iter()
                    .map(|o| o.bbox.x1)
                    .collect()
            })
            .collect();
        let lefts: Vec<usize> = (0..8).filter(|&s| !reported[s].is_empty()).collect();
        assert_eq!(lefts, vec![3, 4, 5, 6, 7], "{reported:?}");
        assert!(
            reported.iter().flatten().all(|&x1| x1 < 0.5),
            "the flickering region is never reported: {reported:?}"
        );
    }

    #[test]
    fn a_restarted_stream_starts_over() {
        let mut d = StaticObjectDetector::new(StaticConfig::default());
        d.update(at(100), &frame(1.0, &[], 1), W, H);
        assert!(d
            .update(at(50), &frame(1.0, &[(0, 0, 50, 50, 250)], 2), W, H)
            .is_empty());
    }

    /// A 640 × 360 analysis frame (a 1280 × 720 camera's): a grey wall of 16 px cells with
    /// sensor noise and, from 20 s on, a pale sheet of 8 × 10 px on it (16 × 20 at full
    /// resolution, a sheet stuck on a lamp post).
    fn wall_with_a_sheet(s: u64) -> Vec<u8> {
        noisy_frame_of_size((640, 360), s, 1.0, |x, y| {
            let sheet = s >= 20 && (300..308).contains(&x) && (110..120).contains(&y);
            let grey = if sheet {
                225.0
            } else {
                90.0 + 30.0 * (((x / 16) + (y / 16)) % 2) as f32
            };
            [grey; 3]
        })
    }

    #[test]
    fn a_sheet_too_small_for_the_whole_frame_is_found_in_the_sign_band() {
        let band_region = BBox::new(0.0, 0.2, 1.0, 0.5);
        let mut whole = StaticObjectDetector::new(StaticConfig::default());
        let mut band = BandDetector::new(band_region, BandDetector::default_config());
        let mut first = None;
        for s in 0..90u64 {
            let rgb = wall_with_a_sheet(s);
            let out = whole.update(at(s), &rgb, 640, 360);
            assert!(
                out.is_empty(),
                "the whole frame sees too few pixels: {out:?}"
            );
            let found = band.update(at(s), &rgb, 640, 360);
            note_first_report(&found, s, 20 + 30, &mut first);
        }
        let (when, o) = first.expect("the band finds the sheet");
        assert!((50..=56).contains(&when), "found at {when} s");
        assert_eq!(o.label, STATIC_SIGN);
        assert_eq!(o.since, Some(at(20)));
        // The box is in the whole frame's coordinates, around the sheet.
        let b = o.bbox;
        let sheet = BBox::new(300.0 / 640.0, 110.0 / 360.0, 308.0 / 640.0, 120.0 / 360.0);
        assert!(b.iou(&sheet) > 0.5, "{b:?} against {sheet:?}");
    }

    #[test]
    fn a_tall_band_needs_no_larger_sheet_than_a_band_half_the_frame_high() {
        // The sheet is 20 working pixels. A band 0.7 of the frame high is 320 × 126 working
        // pixels, where 0.06 % of the band would ask for 25 and 0.03 % of the frame asks for 18.
        let mut band = BandDetector::new(
            BBox::new(0.0, 0.1, 1.0, 0.8),
            BandDetector::default_config(),
        );
        let mut first = None;
        for s in 0..90u64 {
            let found = band.update(at(s), &wall_with_a_sheet(s), 640, 360);
            note_first_report(&found, s, 20 + 30, &mut first);
        }
        let (when, o) = first.expect("the tall band finds the sheet");
        assert!((50..=56).contains(&when), "found at {when} s");
        let sheet = BBox::new(300.0 / 640.0, 110.0 / 360.0, 308.0 / 640.0, 120.0 / 360.0);
        assert!(o.bbox.iou(&sheet) > 0.5, "{:?} against {sheet:?}", o.bbox);
    }
}
