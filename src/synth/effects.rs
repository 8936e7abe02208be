//! Camera and weather effects applied to every frame after the objects are drawn: slow lighting
//! drift (clouds: global brightness within ±25 % and a slight colour shift), vignetting and
//! deterministic sensor noise. Shadow strength follows the lighting (weaker under cloud).
//!
//! All of it is a single pass over the frame in fixed-point arithmetic; the noise comes from a
//! precomputed Gaussian table read at per-row offsets hashed from the frame index, so frames are
//! reproducible and the pass stays cheap.

use super::rng::{mix, Rng};

const NOISE_LEN: usize = 1 << 16;

/// Per-scene effect state.
#[derive(Debug, Clone)]
pub(crate) struct Effects {
    w: usize,
    h: usize,
    /// Vignetting gain per pixel, 4096 = 1.
    vignette: Vec<u16>,
    /// Gaussian noise, already scaled by the noise level; empty when there is no noise.
    noise: Vec<i16>,
    /// `(amplitude, period_s, phase)` of the brightness components; empty without drift.
    drift: Vec<(f64, f64, f64)>,
    tint: (f64, f64),
    salt: u64,
}

impl Effects {
    /// Effects for a `w × h` scene; `noise` is the noise standard deviation in 8-bit levels.
    pub(crate) fn new(w: usize, h: usize, noise: f32, drift: bool, seed: u64) -> Effects {
        let mut rng = Rng::stream(seed, 0xEFF);
        let k = rng.range(0.15, 0.25);
        let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
        let r2max = cx * cx + cy * cy;
        let mut vignette = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                let g = 1.0 - k * (dx * dx + dy * dy) / r2max;
                vignette.push((g * 4096.0).round() as u16);
            }
        }
        let noise = if noise > 0.0 {
            (0..NOISE_LEN)
                .map(|_| (rng.normal() * f64::from(noise)).round().clamp(-60.0, 60.0) as i16)
                .collect()
        } else {
            Vec::new()
        };
        let drift = if drift {
            vec![
                (0.55, rng.range(80.0, 140.0), rng.range(0.0, 6.3)),
                (0.3, rng.range(30.0, 50.0), rng.range(0.0, 6.3)),
                (0.15, rng.range(9.0, 17.0), rng.range(0.0, 6.3)),
            ]
        } else {
            Vec::new()
        };
        Effects {
            w,
            h,
            vignette,
            noise,
            drift,
            tint: (rng.range(50.0, 90.0), rng.range(0.0, 6.3)),
            salt: mix(seed ^ 0x0153),
        }
    }

    /// Cloud cover signal in `[-1, 1]` at time `t` (0 without drift).
    fn cloud(&self, t: f64) -> f64 {
        self.drift
            .iter()
            .map(|&(a, p, ph)| a * (std::f64::consts::TAU * t / p + ph).sin())
            .sum::<f64>()
            .clamp(-1.0, 1.0)
    }

    /// Per-channel gain at time `t`: brightness within ±25 % and a warm/cool shift of ±4 %.
    pub(crate) fn gains(&self, t: f64) -> [f32; 3] {
        if self.drift.is_empty() {
            return [1.0; 3];
        }
        let g = 1.0 + 0.25 * self.cloud(t);
        let tint = 0.04 * (std::f64::consts::TAU * t / self.tint.0 + self.tint.1).sin();
        [
            (g * (1.0 + tint)) as f32,
            g as f32,
            (g * (1.0 - tint)) as f32,
        ]
    }

    /// Shadow strength at time `t` (0..1): full in sun, faint under cloud.
    pub(crate) fn shadow_strength(&self, t: f64) -> f32 {
        (0.45 + 0.25 * self.cloud(t)) as f32
    }

    /// Applies lighting, vignetting and noise to a finished frame.
    pub(crate) fn apply(&self, out: &mut [u8], frame: u64, t: f64) {
        let g = self.gains(t);
        let gq = [
            (g[0] * 4096.0) as u32,
            (g[1] * 4096.0) as u32,
            (g[2] * 4096.0) as u32,
        ];
        let mask = NOISE_LEN - 1;
        for y in 0..self.h {
            let row = &mut out[y * self.w * 3..(y + 1) * self.w * 3];
            let vig = &self.vignette[y * self.w..(y + 1) * self.w];
            if self.noise.is_empty() {
                for (px, &v) in row.chunks_exact_mut(3).zip(vig) {
                    for c in 0..3 {
                        let m = (gq[c] * u32::from(v)) >> 12;
                        px[c] = ((u32::from(px[c]) * m) >> 12).min(255) as u8;
                    }
                }
            } else {
                let mut off =
                    mix(self.salt ^ frame.wrapping_mul(0x9E37_79B9) ^ ((y as u64) << 40)) as usize;
                for (px, &v) in row.chunks_exact_mut(3).zip(vig) {
                    for c in 0..3 {
                        let m = (gq[c] * u32::from(v)) >> 12;
                        let val = ((u32::from(px[c]) * m) >> 12) as i32
                            + i32::from(self.noise[off & mask]);
                        px[c] = val.clamp(0, 255) as u8;
                        off = off.wrapping_add(1);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_stays_within_25_percent_and_noise_is_deterministic() {
        let e = Effects::new(64, 32, 3.0, true, 9);
        for i in 0..600 {
            let g = e.gains(f64::from(i));
            assert!(g.iter().all(|&v| (0.7..=1.31).contains(&v)), "{g:?}");
        }
        let mut a = vec![128u8; 64 * 32 * 3];
        let mut b = a.clone();
        e.apply(&mut a, 5, 1.0);
        e.apply(&mut b, 5, 1.0);
        assert_eq!(a, b);
        let mut c = vec![128u8; 64 * 32 * 3];
        e.apply(&mut c, 6, 1.0);
        assert_ne!(a, c);
    }
}
