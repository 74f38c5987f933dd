//! The register-tiled products against a naive triple loop, over shapes that exercise every
//! tile size, the partial vector at the end of a row, and rows at arbitrary offsets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::{Strided, mul_dots, mul_rows};

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f32 + 1.0) * 0.37 + seed as f32 * 0.11).sin())
        .collect()
}

fn close(got: f32, want: f32) -> bool {
    (got - want).abs() <= 1e-5 * want.abs().max(1.0)
}

/// Row starts: every `step`-th position from `first`, so `step < n` makes rows overlap.
fn starts(rows: usize, first: usize, step: usize) -> Vec<usize> {
    (0..rows).map(|r| first + r * step).collect()
}

proptest! {
    #[test]
    fn mul_rows_matches_naive(
        m in 1usize..11, n in 1usize..70, k in 1usize..20,
        transposed: bool, keep: bool, b_step in 1usize..80, d_gap in 0usize..3, seed: u32,
    ) {
        // a is m×k, stored row-major or as the transpose of a k×m matrix
        let a = values(m * k, seed);
        let av = if transposed { Strided::rows(&a, m).t() } else { Strided::rows(&a, k) };
        let b_rows = starts(k, 1, b_step);
        let b = values(b_rows[k - 1] + n + 2, seed ^ 1);
        let ldd = n + d_gap;
        let d_rows = starts(m, 1, ldd);
        let len = d_rows[m - 1] + n + 1;
        let old = values(len, seed ^ 2);
        let mut dst = if keep { old.clone() } else { vec![f32::NAN; len] };
        mul_rows(&mut dst, &d_rows, av, &b, &b_rows, n, keep);
        let mut want = if keep { old.clone() } else { vec![f32::NAN; len] };
        for (i, &d) in d_rows.iter().enumerate() {
            for j in 0..n {
                let mut v = if keep { want[d + j] } else { 0.0 };
                for (p, &r) in b_rows.iter().enumerate() {
                    v += av.data[i * av.rs + p * av.cs] * b[r + j];
                }
                want[d + j] = v;
            }
        }
        for (i, (&got, &want)) in dst.iter().zip(&want).enumerate() {
            prop_assert!(close(got, want) || got.to_bits() == want.to_bits(), "[{i}]: {got} vs {want}");
        }
    }

    #[test]
    fn mul_rows_accumulates_overlapping_destination_rows(
        m in 1usize..11, n in 1usize..40, k in 1usize..6, step in 1usize..5, seed: u32,
    ) {
        let a = values(m * k, seed);
        let b = values(k * n, seed ^ 1);
        let d_rows = starts(m, 0, step);
        let len = d_rows[m - 1] + n;
        let mut dst = values(len, seed ^ 2);
        let mut want = dst.clone();
        mul_rows(&mut dst, &d_rows, Strided::rows(&a, k), &b, &starts(k, 0, n), n, true);
        for (i, &d) in d_rows.iter().enumerate() {
            for j in 0..n {
                want[d + j] += (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
            }
        }
        for (i, (&got, &want)) in dst.iter().zip(&want).enumerate() {
            prop_assert!(close(got, want), "[{i}]: {got} vs {want}");
        }
    }

    #[test]
    fn mul_dots_matches_naive(
        m in 1usize..11, n in 1usize..70, k in 1usize..11,
        keep: bool, pad in 0usize..3, b_step in 1usize..80, seed: u32,
    ) {
        let (lda, ldd) = (n + pad, k + pad);
        let a = values(m * lda, seed);
        let b_rows = starts(k, 2, b_step);
        let b = values(b_rows[k - 1] + n, seed ^ 1);
        let old = values(m * ldd, seed ^ 2);
        let mut dst = if keep { old.clone() } else { vec![f32::NAN; m * ldd] };
        mul_dots(&mut dst, ldd, &a, lda, &b, &b_rows, (m, n), keep);
        for i in 0..m {
            for j in 0..ldd {
                let got = dst[i * ldd + j];
                if j >= k {
                    // outside the product: untouched
                    let old = if keep { old[i * ldd + j] } else { f32::NAN };
                    prop_assert!(got.to_bits() == old.to_bits());
                    continue;
                }
                let mut want = if keep { old[i * ldd + j] } else { 0.0 };
                for p in 0..n {
                    want += a[i * lda + p] * b[b_rows[j] + p];
                }
                prop_assert!(close(got, want), "({i},{j}): {got} vs {want}");
            }
        }
    }
}

#[test]
fn empty_inner_dimension_clears_or_keeps() {
    let mut dst = vec![f32::NAN; 6];
    mul_rows(&mut dst, &[0, 3], Strided::rows(&[], 0), &[], &[], 3, false);
    assert_eq!(dst, vec![0.0; 6]);
    let mut dst = vec![2.0; 6];
    mul_dots(&mut dst, 3, &[], 0, &[], &[0, 0, 0], (2, 0), true);
    assert_eq!(dst, vec![2.0; 6]);
}
