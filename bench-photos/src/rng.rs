//! A small seeded random number generator (SplitMix64): the same numbers on every platform and
//! in every build, so that a seed names one photo set.

/// SplitMix64 state.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1_u64 << 24) as f32
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// `-1.0` or `1.0`.
    pub fn sign(&mut self) -> f32 {
        if self.next_u64() & 1 == 0 { -1.0 } else { 1.0 }
    }

    /// Uniform in `0..n` (`0` when `n` is `0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// Two independent standard normal numbers (Box–Muller).
    pub fn normal_pair(&mut self) -> (f32, f32) {
        let u1 = ((self.next_u64() >> 11) as f64 + 0.5) / (1_u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64;
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        ((r * c) as f32, (r * s) as f32)
    }
}

/// The SplitMix64 finaliser: a well-mixed 64-bit hash of `z`.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed derived from a base seed and a list of numbers (condition, level, index…).
pub fn derive(base: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix64(base ^ 0x5EED), |acc, &p| {
        mix64(acc ^ mix64(p.wrapping_add(0x1234_5678)))
    })
}

/// A hash of grid cell `(x, y)` under `seed`, uniform in `[0, 1)`.
pub fn cell_hash(seed: u64, x: i64, y: i64) -> f32 {
    let h = mix64(seed ^ mix64((x as u64).wrapping_mul(0x9E37_79B9) ^ (y as u64).rotate_left(32)));
    (h >> 40) as f32 / (1_u64 << 24) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let u = Rng::new(1).unit();
        assert!((0.0..1.0).contains(&u));
        assert_ne!(derive(1, &[2, 3]), derive(1, &[3, 2]));
    }
}
