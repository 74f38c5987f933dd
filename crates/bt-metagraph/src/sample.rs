//! Deterministic weighted sampling without replacement.
//!
//! The table takes a seed instead of owning a random generator, so that `peers(n)` and
//! `synapses(n)` are reproducible in tests and in the simulation. SplitMix64 is enough: the
//! sample only needs to be unpredictable to nobody and well spread.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to spread samples.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1).
    pub fn next_open01(&mut self) -> f64 {
        // 53 random mantissa bits, shifted off zero.
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is below 2^-40 for the sizes we use.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }
}

/// Picks up to `n` of the items, without replacement, each with probability proportional to
/// its weight (Efraimidis–Spirakis: key = ln(u) / w, keep the `n` largest keys). Items with a
/// non-positive or non-finite weight are never picked. The result is ordered best key first
/// and depends only on `seed` and the order of `items`.
pub fn weighted_sample<T>(
    items: impl IntoIterator<Item = (T, f64)>,
    n: usize,
    seed: u64,
) -> Vec<T> {
    if n == 0 {
        return Vec::new();
    }
    let mut rng = SplitMix64::new(seed);
    let mut keyed: Vec<(f64, T)> = items
        .into_iter()
        .filter(|(_, w)| w.is_finite() && *w > 0.0)
        .map(|(item, w)| (rng.next_open01().ln() / w, item))
        .collect();
    if keyed.len() > n {
        keyed.select_nth_unstable_by(n - 1, |a, b| b.0.total_cmp(&a.0));
        keyed.truncate(n);
    }
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    keyed.into_iter().map(|(_, item)| item).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_deterministic_bounded_and_weighted() {
        let items = || (0..100).map(|i| (i, if i < 10 { 50.0 } else { 1.0 }));
        let a = weighted_sample(items(), 10, 7);
        assert_eq!(a, weighted_sample(items(), 10, 7));
        assert_eq!(a.len(), 10);
        let mut dedup = a.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 10, "no repeats");
        // Heavy items (50x weight) dominate a small sample over many seeds.
        let heavy: usize = (0..200)
            .map(|s| {
                weighted_sample(items(), 5, s)
                    .iter()
                    .filter(|i| **i < 10)
                    .count()
            })
            .sum();
        assert!(heavy > 600, "heavy picks {heavy} of 1000");
        assert!(weighted_sample([(1, 0.0), (2, f64::NAN)], 5, 1).is_empty());
    }
}
