//! Small deterministic random numbers: SplitMix64 streams and integer hashes.
//!
//! The renderer never uses a global or OS random source: every choice comes from a stream derived
//! from the scene seed and a fixed stream number, so the same seed and spec give the same scene.

/// SplitMix64 finaliser: a good 64-bit mixing function.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of two signed cell coordinates and a salt.
pub(crate) fn hash3(a: i64, b: i64, salt: u64) -> u64 {
    mix(mix(mix(salt ^ 0x5851_F42D_4C95_7F2D) ^ a as u64) ^ (b as u64).rotate_left(29))
}

/// Maps a hash to `[0, 1)`.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A SplitMix64 random stream.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// Stream number `stream` of the scene seeded with `seed`.
    pub(crate) fn stream(seed: u64, stream: u64) -> Self {
        Rng {
            state: mix(seed ^ mix(stream.wrapping_add(0x1234_5678_9ABC_DEF1))),
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn f64(&mut self) -> f64 {
        unit(self.next_u64())
    }

    /// Uniform in `[lo, hi)`.
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.f64().max(1e-12);
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A colour jittered around `base` by up to `amount` (0..1 scale) per channel.
    pub(crate) fn jitter(&mut self, base: [f32; 3], amount: f32) -> [f32; 3] {
        let k = 1.0 + (self.f64() as f32 * 2.0 - 1.0) * amount;
        let mut c = base;
        for v in &mut c {
            *v =
                (*v * k * (1.0 + (self.f64() as f32 * 2.0 - 1.0) * amount * 0.5)).clamp(0.0, 255.0);
        }
        c
    }
}
