//! The label-scarce setting (`--labels N`) and the spread over seeds.
//!
//! The new neuron sees only `N` labelled training images, chosen at random per seed; the peers
//! keep the full set. The trainer runs epochs over its dataset and tests after each, so the `N`
//! images are repeated (in the order of one shuffled epoch) to cover every step in one epoch.

use crate::plot::Points;
use bt_nn::{Dataset, NnError};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// `n` distinct training images chosen by `seed`, repeated to at least `examples` rows.
pub fn labelled_subset(
    train: &Dataset,
    n: usize,
    seed: u64,
    examples: usize,
) -> Result<Dataset, NnError> {
    let n = n.clamp(1, train.len().max(1));
    let dim = train.dim();
    let mut rng = StdRng::seed_from_u64(seed);
    let chosen = rand::seq::index::sample(&mut rng, train.len(), n).into_vec();
    let repeats = examples.div_ceil(n).max(1);
    let mut images = Vec::with_capacity(repeats * n * dim);
    let mut labels = Vec::with_capacity(repeats * n);
    for _ in 0..repeats {
        for &i in &chosen {
            images.extend_from_slice(&train.images()[i * dim..(i + 1) * dim]);
            labels.push(train.labels()[i]);
        }
    }
    Dataset::from_normalized(images, labels, dim)
}

/// One path's curve over the seeds: per checkpoint, the mean, min and max.
pub struct Band {
    pub mean: Vec<(u64, f64)>,
    pub low: Vec<(u64, f64)>,
    pub high: Vec<(u64, f64)>,
}

/// The pointwise mean, min and max of curves measured at the same steps.
pub fn band(curves: &[Vec<(u64, f64)>]) -> Band {
    let Some(first) = curves.first() else {
        return Band {
            mean: Vec::new(),
            low: Vec::new(),
            high: Vec::new(),
        };
    };
    let mut b = Band {
        mean: Vec::new(),
        low: Vec::new(),
        high: Vec::new(),
    };
    for (i, &(step, _)) in first.iter().enumerate() {
        let vals: Vec<f64> = curves
            .iter()
            .filter_map(|c| c.get(i).map(|p| p.1))
            .collect();
        let (s, lo, hi) = spread(&vals);
        b.mean.push((step, s));
        b.low.push((step, lo));
        b.high.push((step, hi));
    }
    b
}

/// Mean, min and max.
pub fn spread(vals: &[f64]) -> (f64, f64, f64) {
    let mean = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, lo, hi)
}

fn last(curve: &[(u64, f64)]) -> f64 {
    curve.last().map_or(f64::NAN, |p| p.1)
}

/// The summary over seeds: final accuracy per path, its difference from alone (seed by seed),
/// and the steps each seed took to reach each threshold.
pub fn print_summary(
    seeds: &[u64],
    alone: &[Vec<(u64, f64)>],
    paths: &[(&str, Vec<Points>)],
    thresholds: &[f64],
) {
    let fmt = |(m, lo, hi): (f64, f64, f64)| format!("{m:.2} [{lo:.2} – {hi:.2}]");
    let alone_final: Vec<f64> = alone.iter().map(|c| last(c)).collect();
    println!(
        "\n### over seeds {seeds:?}: final test accuracy (%), mean [min – max]\n\n| path | final \
         accuracy | minus alone (seed by seed) |\n|---|---:|---:|\n| alone | {} | — |",
        fmt(spread(&alone_final))
    );
    for (name, runs) in paths {
        let finals: Vec<f64> = runs.iter().map(|c| last(c)).collect();
        let diffs: Vec<f64> = finals
            .iter()
            .zip(&alone_final)
            .map(|(j, a)| j - a)
            .collect();
        println!(
            "| {name} | {} | {} |",
            fmt(spread(&finals)),
            fmt(spread(&diffs))
        );
    }
    let header: Vec<String> = thresholds.iter().map(|t| format!("{t:.0}%")).collect();
    println!(
        "\nsteps to reach, seed by seed ({seeds:?}; — = not reached)\n\n| path | {} |\n|---|{}",
        header.join(" | "),
        "---:|".repeat(thresholds.len())
    );
    let row = |name: &str, runs: &[Vec<(u64, f64)>]| {
        let cells: Vec<String> = thresholds
            .iter()
            .map(|&t| {
                runs.iter()
                    .map(|c| {
                        c.iter()
                            .find(|p| p.1 >= t)
                            .map_or("—".into(), |p| p.0.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("alone", alone);
    for (name, runs) in paths {
        row(name, runs);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn subset_is_n_distinct_images_repeated_and_depends_on_the_seed() {
        let images: Vec<f32> = (0..100).flat_map(|i| [i as f32, -(i as f32)]).collect();
        let labels: Vec<u8> = (0..100).map(|i| (i % 10) as u8).collect();
        let train = Dataset::from_normalized(images, labels, 2).unwrap();
        let a = labelled_subset(&train, 8, 1, 20).unwrap();
        assert_eq!(a.len(), 24);
        let firsts: Vec<f32> = a.images().chunks(2).map(|r| r[0]).collect();
        let mut distinct = firsts[..8].to_vec();
        distinct.sort_by(f32::total_cmp);
        distinct.dedup();
        assert_eq!(distinct.len(), 8);
        assert_eq!(firsts[..8], firsts[8..16]);
        // each image keeps its label
        for (row, &y) in a.images().chunks(2).zip(a.labels()) {
            assert_eq!(usize::from(y), row[0] as usize % 10);
        }
        let b = labelled_subset(&train, 8, 2, 20).unwrap();
        assert_ne!(a.images(), b.images());
    }

    #[test]
    fn band_takes_mean_min_and_max_per_step() {
        let b = band(&[vec![(0, 10.0), (5, 50.0)], vec![(0, 20.0), (5, 70.0)]]);
        assert_eq!(b.mean, vec![(0, 15.0), (5, 60.0)]);
        assert_eq!(b.low, vec![(0, 10.0), (5, 50.0)]);
        assert_eq!(b.high, vec![(0, 20.0), (5, 70.0)]);
    }
}
