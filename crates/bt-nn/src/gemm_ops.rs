//! Safe strided matrix views over `f32` slices and a bounds-checked wrapper around the `gemm`
//! crate (the kernel candle itself uses).
//!
//! Transposes are free: a view carries row and column strides, so `Wᵀ` or a column block of a
//! weight matrix is just another view of the same memory, and the backward pass never copies.

use gemm::Parallelism;

/// A read-only strided matrix view.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    rs: usize,
    cs: usize,
}

/// A mutable strided matrix view.
#[derive(Debug)]
pub struct ViewMut<'a> {
    data: &'a mut [f32],
    pub rows: usize,
    pub cols: usize,
    rs: usize,
    cs: usize,
}

fn fits(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < len
}

impl<'a> View<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "view {rows}x{cols} over {} values",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    /// The underlying row-major slice when the view is contiguous row-major.
    pub fn contiguous(self) -> Option<&'a [f32]> {
        (self.cs == 1 && (self.rs == self.cols || self.rows <= 1))
            .then(|| &self.data[..self.rows * self.cols])
    }
    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
    /// Columns `start..start + n` (no copy).
    pub fn cols(self, start: usize, n: usize) -> Self {
        assert!(
            start + n <= self.cols,
            "columns {start}+{n} of {}",
            self.cols
        );
        let off = if n == 0 || self.rows == 0 {
            0
        } else {
            start * self.cs
        };
        Self {
            data: &self.data[off..],
            cols: n,
            ..self
        }
    }
    /// Rows `start..start + n` (no copy).
    pub fn rows(self, start: usize, n: usize) -> Self {
        assert!(start + n <= self.rows, "rows {start}+{n} of {}", self.rows);
        let off = if n == 0 || self.cols == 0 {
            0
        } else {
            start * self.rs
        };
        Self {
            data: &self.data[off..],
            rows: n,
            ..self
        }
    }
}

impl<'a> ViewMut<'a> {
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "view {rows}x{cols} over {} values",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    pub fn cols(self, start: usize, n: usize) -> Self {
        assert!(
            start + n <= self.cols,
            "columns {start}+{n} of {}",
            self.cols
        );
        let off = if n == 0 || self.rows == 0 {
            0
        } else {
            start * self.cs
        };
        Self {
            data: &mut self.data[off..],
            cols: n,
            ..self
        }
    }
}

/// Threads the kernels use: rayon's pool size (`RAYON_NUM_THREADS`), like candle.
pub fn parallelism() -> Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// `dst = keep·dst + a·b` (with `keep = 0` the old contents are ignored, even NaN).
pub fn gemm(dst: ViewMut<'_>, a: View<'_>, b: View<'_>, keep: f32) {
    gemm_with(dst, a, b, keep, parallelism());
}

/// [`gemm`] on the calling thread only: for callers that already split the work over the pool
/// (the convolutions run one image per task), where nested parallelism would only add overhead.
pub fn gemm_serial(dst: ViewMut<'_>, a: View<'_>, b: View<'_>, keep: f32) {
    gemm_with(dst, a, b, keep, Parallelism::None);
}

fn gemm_with(dst: ViewMut<'_>, a: View<'_>, b: View<'_>, keep: f32, par: Parallelism) {
    assert_eq!(
        a.cols, b.rows,
        "inner dimensions {}x{} · {}x{}",
        a.rows, a.cols, b.rows, b.cols
    );
    assert_eq!((dst.rows, dst.cols), (a.rows, b.cols), "destination shape");
    assert!(
        fits(a.data.len(), a.rows, a.cols, a.rs, a.cs),
        "lhs view out of bounds"
    );
    assert!(
        fits(b.data.len(), b.rows, b.cols, b.rs, b.cs),
        "rhs view out of bounds"
    );
    assert!(
        fits(dst.data.len(), dst.rows, dst.cols, dst.rs, dst.cs),
        "dst view out of bounds"
    );
    if dst.rows == 0 || dst.cols == 0 {
        return;
    }
    if a.cols == 0 {
        for i in 0..dst.rows {
            for j in 0..dst.cols {
                let v = &mut dst.data[i * dst.rs + j * dst.cs];
                *v = if keep == 0.0 { 0.0 } else { keep * *v };
            }
        }
        return;
    }
    // SAFETY: every view was checked above to address only elements inside its slice; `dst` is
    // a unique borrow so it cannot alias `a` or `b`; strides fit in isize because they index
    // allocated slices.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            a.cols,
            dst.data.as_mut_ptr(),
            dst.cs as isize,
            dst.rs as isize,
            keep != 0.0,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            keep,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: View<'_>, b: View<'_>) -> Vec<f32> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                for k in 0..a.cols {
                    out[i * b.cols + j] +=
                        a.data[i * a.rs + k * a.cs] * b.data[k * b.rs + j * b.cs];
                }
            }
        }
        out
    }

    #[test]
    fn strided_views_match_naive() {
        let a: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect(); // 5x7
        let b: Vec<f32> = (0..28).map(|i| (i as f32 * 0.11).cos()).collect(); // 4x7
        let av = View::new(&a, 5, 7);
        let bt = View::new(&b, 4, 7).t(); // 7x4
        let want = naive(av, bt);
        let mut out = vec![f32::NAN; 20];
        gemm(ViewMut::new(&mut out, 5, 4), av, bt, 0.0);
        for (x, y) in out.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5);
        }
        // keep = 0.5 accumulates; a column block of a wider destination
        let mut wide = vec![1.0; 5 * 6];
        gemm(ViewMut::new(&mut wide, 5, 6).cols(2, 4), av, bt, 0.5);
        for i in 0..5 {
            assert_eq!(wide[i * 6], 1.0);
            for j in 0..4 {
                assert!((wide[i * 6 + 2 + j] - (0.5 + want[i * 4 + j])).abs() < 1e-5);
            }
        }
        // column block of an operand
        let sub = av.cols(3, 4); // 5x4
        let want2 = naive(sub, View::new(&b, 4, 7).cols(0, 5).rows(0, 4));
        let mut out2 = vec![0.0; 25];
        gemm(
            ViewMut::new(&mut out2, 5, 5),
            sub,
            View::new(&b, 4, 7).cols(0, 5),
            0.0,
        );
        for (x, y) in out2.iter().zip(&want2) {
            assert!((x - y).abs() < 1e-5);
        }
    }
}
