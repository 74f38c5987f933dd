//! Register-tiled products for the small per-group matrices of grouped convolutions.
//!
//! A grouped 3×3 convolution with few channels per group multiplies matrices of a few dozen
//! rows per image and group (`cout/groups × cin/groups·9` by `cin/groups·9 × pixels`). At
//! those sizes a general gemm spends more on dispatch and packing than on arithmetic, so these
//! kernels skip packing: each keeps a tile of the destination in vector registers and streams
//! the operands from where they lie. The vector width is chosen at run time by `pulp`
//! (AVX-512, AVX2 or scalar), which keeps the code safe and portable.

use pulp::{Arch, Simd, WithSimd};

/// A matrix in a slice: element `(i, j)` at `data[i·rs + j·cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strided<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Strided<'a> {
    /// A row-major matrix whose rows start `rs` apart.
    pub fn rows(data: &'a [f32], rs: usize) -> Self {
        Self { data, rs, cs: 1 }
    }
    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rs: self.cs,
            cs: self.rs,
        }
    }
    fn last(&self, rows: usize, cols: usize) -> usize {
        (rows - 1) * self.rs + (cols - 1) * self.cs
    }
}

/// `d[m×n] = keep·d + a[m×k]·b[k×n]`, where row `i` of `d` is `dst[d_rows[i]..][..n]`, row `p`
/// of `b` is `b[b_rows[p]..][..n]` (`m = d_rows.len()`, `k = b_rows.len()`), and `a` has any
/// strides. `keep` is 0 (old contents ignored, even NaN) or 1. Rows of `b` may overlap; with
/// `keep`, rows of `d` may too: each is added in turn (which is how a transposed convolution
/// scatters its taps).
///
/// # Panics
/// When a row or `a` does not fit its slice.
pub(crate) fn mul_rows(
    dst: &mut [f32],
    d_rows: &[usize],
    a: Strided<'_>,
    b: &[f32],
    b_rows: &[usize],
    n: usize,
    keep: bool,
) {
    let (m, k) = (d_rows.len(), b_rows.len());
    if m == 0 || n == 0 {
        return;
    }
    let fits = |rows: &[usize], len: usize| rows.iter().all(|&r| r + n <= len);
    assert!(fits(d_rows, dst.len()), "dst row out of bounds");
    if k == 0 {
        if !keep {
            d_rows.iter().for_each(|&r| dst[r..r + n].fill(0.0));
        }
        return;
    }
    assert!(a.data.len() > a.last(m, k), "lhs out of bounds");
    assert!(fits(b_rows, b.len()), "rhs row out of bounds");
    Arch::new().dispatch(MulRows {
        dst,
        d_rows,
        a,
        b,
        b_rows,
        n,
        keep,
    });
}

struct MulRows<'a, 'b> {
    dst: &'a mut [f32],
    d_rows: &'b [usize],
    a: Strided<'b>,
    b: &'b [f32],
    b_rows: &'b [usize],
    n: usize,
    keep: bool,
}

impl WithSimd for MulRows<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, s: S) {
        let m = self.d_rows.len();
        let mut i = 0;
        while i + 4 <= m {
            self.row_block::<S, 4>(s, i);
            i += 4;
        }
        while i < m {
            self.row_block::<S, 1>(s, i);
            i += 1;
        }
    }
}

impl MulRows<'_, '_> {
    #[inline(always)]
    fn row_block<S: Simd, const MR: usize>(&mut self, s: S, i0: usize) {
        let lanes = S::F32_LANES;
        let mut j = 0;
        while j + 4 * lanes <= self.n {
            self.tile::<S, MR, 4>(s, i0, j, lanes);
            j += 4 * lanes;
        }
        while j < self.n {
            let width = lanes.min(self.n - j);
            self.tile::<S, MR, 1>(s, i0, j, width);
            j += width;
        }
    }

    /// Rows `i0..i0+MR`, columns `j0..j0 + (NR−1)·lanes + last` (`last ≤ lanes`; only a
    /// one-vector tile may be partial).
    #[inline(always)]
    fn tile<S: Simd, const MR: usize, const NR: usize>(
        &mut self,
        s: S,
        i0: usize,
        j0: usize,
        last: usize,
    ) {
        let lanes = S::F32_LANES;
        let width = (NR - 1) * lanes + last;
        let full = last == lanes;
        let mut acc = [[s.splat_f32s(0.0); NR]; MR];
        let a = self.a;
        for (p, &row) in self.b_rows.iter().enumerate() {
            let brow = &self.b[row + j0..row + j0 + width];
            let bv: [S::f32s; NR] = std::array::from_fn(|v| {
                let chunk = &brow[v * lanes..(v * lanes + lanes).min(width)];
                if full {
                    S::as_simd_f32s(chunk).0[0]
                } else {
                    s.partial_load_f32s(chunk)
                }
            });
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = s.splat_f32s(a.data[(i0 + r) * a.rs + p * a.cs]);
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = s.mul_add_e_f32s(av, bv, *acc);
                }
            }
        }
        // one row at a time, so that overlapping destination rows accumulate
        for (r, acc) in acc.iter().enumerate() {
            let start = self.d_rows[i0 + r] + j0;
            let drow = &mut self.dst[start..start + width];
            for (v, &acc) in acc.iter().enumerate() {
                let chunk = &mut drow[v * lanes..(v * lanes + lanes).min(width)];
                if full {
                    let d = &mut S::as_mut_simd_f32s(chunk).0[0];
                    *d = if self.keep { s.add_f32s(*d, acc) } else { acc };
                } else {
                    let old = if self.keep {
                        s.partial_load_f32s(chunk)
                    } else {
                        s.splat_f32s(0.0)
                    };
                    s.partial_store_f32s(chunk, s.add_f32s(old, acc));
                }
            }
        }
    }
}

/// `d[m×k] = keep·d + a[m×n]·bᵀ`: entry `(i, j)` is the dot product of `a`'s row `i` (rows
/// `lda` apart) with `b[b_rows[j]..][..n]` (`k = b_rows.len()`); `d` is row-major, rows `ldd`
/// apart. `keep` is 0 (old contents ignored, even NaN) or 1.
///
/// # Panics
/// When a row does not fit its slice.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mul_dots(
    dst: &mut [f32],
    ldd: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    b_rows: &[usize],
    (m, n): (usize, usize),
    keep: bool,
) {
    let k = b_rows.len();
    if m == 0 || k == 0 {
        return;
    }
    assert!(dst.len() > (m - 1) * ldd + k - 1, "dst out of bounds");
    if n == 0 {
        if !keep {
            dst.chunks_mut(ldd).take(m).for_each(|r| r[..k].fill(0.0));
        }
        return;
    }
    assert!(a.len() > (m - 1) * lda + n - 1, "lhs out of bounds");
    assert!(
        b_rows.iter().all(|&r| r + n <= b.len()),
        "rhs row out of bounds"
    );
    Arch::new().dispatch(MulDots {
        dst,
        ldd,
        a,
        lda,
        b,
        b_rows,
        m,
        n,
        keep,
    });
}

struct MulDots<'a, 'b> {
    dst: &'a mut [f32],
    ldd: usize,
    a: &'b [f32],
    lda: usize,
    b: &'b [f32],
    b_rows: &'b [usize],
    m: usize,
    n: usize,
    keep: bool,
}

impl WithSimd for MulDots<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, s: S) {
        let mut i = 0;
        while i + 4 <= self.m {
            self.row_block::<S, 4>(s, i);
            i += 4;
        }
        while i < self.m {
            self.row_block::<S, 1>(s, i);
            i += 1;
        }
    }
}

impl MulDots<'_, '_> {
    #[inline(always)]
    fn row_block<S: Simd, const MR: usize>(&mut self, s: S, i0: usize) {
        let k = self.b_rows.len();
        let mut j = 0;
        while j + 4 <= k {
            self.tile::<S, MR, 4>(s, i0, j);
            j += 4;
        }
        while j < k {
            self.tile::<S, MR, 1>(s, i0, j);
            j += 1;
        }
    }

    /// Destination rows `i0..i0+MR`, columns `j0..j0+KR`.
    #[inline(always)]
    fn tile<S: Simd, const MR: usize, const KR: usize>(&mut self, s: S, i0: usize, j0: usize) {
        let lanes = S::F32_LANES;
        let n = self.n;
        let mut acc = [[s.splat_f32s(0.0); KR]; MR];
        let arows: [&[f32]; MR] =
            std::array::from_fn(|r| &self.a[(i0 + r) * self.lda..(i0 + r) * self.lda + n]);
        let brows: [&[f32]; KR] =
            std::array::from_fn(|c| &self.b[self.b_rows[j0 + c]..self.b_rows[j0 + c] + n]);
        let mut p = 0;
        while p + lanes <= n {
            let bv: [S::f32s; KR] =
                std::array::from_fn(|c| S::as_simd_f32s(&brows[c][p..p + lanes]).0[0]);
            for (acc, arow) in acc.iter_mut().zip(&arows) {
                let av = S::as_simd_f32s(&arow[p..p + lanes]).0[0];
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = s.mul_add_e_f32s(av, bv, *acc);
                }
            }
            p += lanes;
        }
        if p < n {
            let bv: [S::f32s; KR] = std::array::from_fn(|c| s.partial_load_f32s(&brows[c][p..]));
            for (acc, arow) in acc.iter_mut().zip(&arows) {
                let av = s.partial_load_f32s(&arow[p..]);
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = s.mul_add_e_f32s(av, bv, *acc);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let start = (i0 + r) * self.ldd + j0;
            for (d, &acc) in self.dst[start..start + KR].iter_mut().zip(acc) {
                let sum = s.reduce_sum_f32s(acc);
                *d = if self.keep { *d + sum } else { sum };
            }
        }
    }
}

#[cfg(test)]
#[path = "conv_kernels_tests.rs"]
mod tests;
