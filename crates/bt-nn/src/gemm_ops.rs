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

/// `dst = keep·dst + a·b` (with `keep = 0` the old contents are ignored, even NaN), split over
/// the rayon pool when large enough.
pub fn gemm(dst: ViewMut<'_>, a: View<'_>, b: View<'_>, keep: f32) {
    gemm_with(dst, a, b, keep, true);
}

/// [`gemm`] on the calling thread only: for callers that already split the work over the pool
/// (the convolutions run one image per task), where nested parallelism would only add overhead.
pub fn gemm_serial(dst: ViewMut<'_>, a: View<'_>, b: View<'_>, keep: f32) {
    gemm_with(dst, a, b, keep, false);
}

fn gemm_with(dst: ViewMut<'_>, a: View<'_>, b: View<'_>, keep: f32, split: bool) {
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
    let (m, n, k) = (dst.rows, dst.cols, a.cols);
    let job = Job {
        dst: dst.data.as_mut_ptr() as usize,
        dst_rs: dst.rs,
        dst_cs: dst.cs,
        a: a.data.as_ptr() as usize,
        a_rs: a.rs,
        a_cs: a.cs,
        b: b.data.as_ptr() as usize,
        b_rs: b.rs,
        b_cs: b.cs,
        k,
        keep,
    };
    let threads = rayon::current_num_threads();
    if !split || threads < 2 || m * n * k < SPLIT_MIN_MACS {
        // SAFETY: the whole of each view, which was checked above.
        unsafe { job.run(0..m, 0..n) };
        return;
    }
    // Each thread runs its own single-threaded kernel on a contiguous block of the destination.
    // The split is along the longer side so that the operand every block must pack again (the
    // one not split) is the smaller one; the gemm crate's own threading splits finer and spends
    // more on synchronisation and repeated packing at these batch sizes.
    let split_rows = m >= n;
    let len = if split_rows { m } else { n };
    let parts = threads.min(len.div_ceil(SPLIT_ALIGN)).max(1);
    let step = len.div_ceil(parts).div_ceil(SPLIT_ALIGN) * SPLIT_ALIGN;
    rayon::scope(|scope| {
        for start in (0..len).step_by(step) {
            let range = start..(start + step).min(len);
            let job = &job;
            scope.spawn(move |_| {
                let (rows, cols) = if split_rows {
                    (range, 0..n)
                } else {
                    (0..m, range)
                };
                // SAFETY: the blocks are disjoint ranges of the destination, so no two threads
                // write the same element; each is inside the views checked above.
                unsafe { job.run(rows, cols) }
            });
        }
    });
}

/// Below this many multiply-adds a product runs on the calling thread: splitting costs more.
const SPLIT_MIN_MACS: usize = 1 << 18;
/// Block edges fall on multiples of the kernel's register tile.
const SPLIT_ALIGN: usize = 16;

/// One product as raw parts, so disjoint blocks of the destination can go to different threads.
/// Pointers are kept as addresses to let the job cross into rayon's workers.
struct Job {
    dst: usize,
    dst_rs: usize,
    dst_cs: usize,
    a: usize,
    a_rs: usize,
    a_cs: usize,
    b: usize,
    b_rs: usize,
    b_cs: usize,
    k: usize,
    keep: f32,
}

impl Job {
    /// `dst[rows, cols] = keep·dst[rows, cols] + a[rows, :]·b[:, cols]` on this thread.
    ///
    /// # Safety
    /// The ranges must lie inside the views the job was built from, and no other thread may
    /// access the same destination elements meanwhile.
    unsafe fn run(&self, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) {
        let (m, n) = (rows.len(), cols.len());
        if m == 0 || n == 0 {
            return;
        }
        let dst = self.dst as *mut f32;
        let a = self.a as *const f32;
        let b = self.b as *const f32;
        // SAFETY: the offsets address the first element of the block, inside the checked views
        // (caller's contract); strides fit in isize because they index allocated slices.
        unsafe {
            gemm::gemm(
                m,
                n,
                self.k,
                dst.add(rows.start * self.dst_rs + cols.start * self.dst_cs),
                self.dst_cs as isize,
                self.dst_rs as isize,
                self.keep != 0.0,
                a.add(rows.start * self.a_rs),
                self.a_cs as isize,
                self.a_rs as isize,
                b.add(cols.start * self.b_cs),
                self.b_cs as isize,
                self.b_rs as isize,
                self.keep,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
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

    #[test]
    fn products_split_across_threads_match_naive() {
        // Both split directions, transposed operands, a destination column block, keep ≠ 0, and
        // thread counts that leave an uneven last block.
        let a: Vec<f32> = (0..70 * 300).map(|i| (i as f32 * 0.013).sin()).collect();
        let b: Vec<f32> = (0..300 * 90).map(|i| (i as f32 * 0.007).cos()).collect();
        for threads in [2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for (av, bv) in [
                (View::new(&a, 70, 300), View::new(&b, 300, 90)),
                (View::new(&a, 300, 70).t(), View::new(&b, 90, 300).t()),
                (View::new(&b, 90, 300), View::new(&a, 300, 70)),
            ] {
                let want = naive(av, bv);
                let (m, n) = (av.rows, bv.cols);
                let mut wide = vec![2.0; m * (n + 5)];
                pool.install(|| gemm(ViewMut::new(&mut wide, m, n + 5).cols(3, n), av, bv, 0.5));
                for i in 0..m {
                    let row = &wide[i * (n + 5)..(i + 1) * (n + 5)];
                    assert_eq!(
                        (row[0], row[1], row[2], row[n + 3], row[n + 4]),
                        (2.0, 2.0, 2.0, 2.0, 2.0)
                    );
                    for j in 0..n {
                        let got = row[3 + j];
                        let exp = 1.0 + want[i * n + j];
                        assert!(
                            (got - exp).abs() < 1e-3 * exp.abs().max(1.0),
                            "{i},{j}: {got} vs {exp}"
                        );
                    }
                }
            }
        }
    }
}
