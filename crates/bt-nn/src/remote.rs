//! Learning from peers' gradients: what a `Backward` request can teach the served student.
//!
//! A peer that used our student's answer sends back `g`, the gradient of its loss with respect
//! to that answer. The input gradient (the VJP) is what the protocol returns; the same `g` also
//! gives the gradient of `sum(student(x) * g)` with respect to the student's own parameters,
//! which is how the seeds meant a served synapse to learn from the network. Because a peer is
//! untrusted, every contribution is clipped to a maximum norm before it is scaled and added, and
//! the accumulator has a fixed size (one student's parameters) however many requests arrive.

use crate::dense::relu_mask;
use crate::error::{NnError, Result, shape_err};
use crate::gemm_ops::{View, ViewMut, gemm};
use crate::mnist::{CONTEXT_DIM, HIDDEN, IMAGE_DIM, MnistModel};

/// Gradients with respect to the student's two layers (PyTorch layout, like [`crate::Dense`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StudentGrad {
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
    pub b2: Vec<f32>,
}

impl Default for StudentGrad {
    fn default() -> Self {
        Self::zeros()
    }
}

impl StudentGrad {
    pub fn zeros() -> Self {
        Self {
            w1: vec![0.0; HIDDEN * IMAGE_DIM],
            b1: vec![0.0; HIDDEN],
            w2: vec![0.0; CONTEXT_DIM * HIDDEN],
            b2: vec![0.0; CONTEXT_DIM],
        }
    }

    fn parts(&self) -> [&[f32]; 4] {
        [&self.w1, &self.b1, &self.w2, &self.b2]
    }

    fn parts_mut(&mut self) -> [&mut Vec<f32>; 4] {
        [&mut self.w1, &mut self.b1, &mut self.w2, &mut self.b2]
    }

    /// The L2 norm over all four tensors.
    pub fn norm(&self) -> f32 {
        self.parts()
            .iter()
            .flat_map(|p| p.iter())
            .map(|v| f64::from(*v) * f64::from(*v))
            .sum::<f64>()
            .sqrt() as f32
    }

    /// `self += scale · min(1, max_norm / ‖other‖) · other`; returns the factor applied to
    /// `other` (0 for a zero or non-finite gradient, which is skipped).
    pub fn add_clipped(&mut self, other: &StudentGrad, scale: f32, max_norm: f32) -> f32 {
        let norm = other.norm();
        if !norm.is_finite() || norm == 0.0 {
            return 0.0;
        }
        let clip = if norm > max_norm {
            max_norm / norm
        } else {
            1.0
        };
        let f = scale * clip;
        for (dst, src) in self.parts_mut().into_iter().zip(other.parts()) {
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += f * s);
        }
        f
    }

    pub fn clear(&mut self) {
        for p in self.parts_mut() {
            p.fill(0.0);
        }
    }
}

impl MnistModel {
    /// Gradient of `sum(student(x) * g)` with respect to the student's parameters, for
    /// normalized images `x` (`[B, 784]`) and `g` (`[B, 1024]`).
    pub fn student_param_grad(&self, x: &[f32], g: &[f32]) -> Result<StudentGrad> {
        if x.is_empty() || !x.len().is_multiple_of(IMAGE_DIM) {
            return Err(shape_err(
                "student grad input",
                format!("[B, {IMAGE_DIM}]"),
                x.len(),
            ));
        }
        let b = x.len() / IMAGE_DIM;
        if g.len() != b * CONTEXT_DIM {
            return Err(shape_err(
                "student grad gradient",
                format!("[{b}, {CONTEXT_DIM}]"),
                g.len(),
            ));
        }
        if x.iter().chain(g).any(|v| !v.is_finite()) {
            return Err(NnError::NonFinite("student grad input"));
        }
        let xv = View::new(x, b, IMAGE_DIM);
        let mut h1 = vec![0.0; b * HIDDEN];
        let mut s = vec![0.0; b * CONTEXT_DIM];
        self.student1.forward(xv, &mut h1, true);
        self.student2
            .forward(View::new(&h1, b, HIDDEN), &mut s, true);
        let mut ds = g.to_vec();
        relu_mask(&mut ds, &s);
        let mut dh1 = vec![0.0; b * HIDDEN];
        self.student2
            .input_grad(View::new(&ds, b, CONTEXT_DIM), &mut dh1);
        relu_mask(&mut dh1, &h1);
        let mut out = StudentGrad::zeros();
        gemm(
            ViewMut::new(&mut out.w2, CONTEXT_DIM, HIDDEN),
            View::new(&ds, b, CONTEXT_DIM).t(),
            View::new(&h1, b, HIDDEN),
            0.0,
        );
        gemm(
            ViewMut::new(&mut out.w1, HIDDEN, IMAGE_DIM),
            View::new(&dh1, b, HIDDEN).t(),
            xv,
            0.0,
        );
        sum_rows(&ds, CONTEXT_DIM, &mut out.b2);
        sum_rows(&dh1, HIDDEN, &mut out.b1);
        Ok(out)
    }

    /// Plain SGD on the student: `p -= lr · grad` (no momentum: remote gradients arrive at
    /// their own pace and should not linger in the local optimizer's buffers).
    pub fn apply_student_grad(&mut self, grad: &StudentGrad, lr: f32) {
        for (p, g) in [
            (&mut self.student1.w, &grad.w1),
            (&mut self.student1.b, &grad.b1),
            (&mut self.student2.w, &grad.w2),
            (&mut self.student2.b, &grad.b2),
        ] {
            p.iter_mut().zip(g.iter()).for_each(|(p, g)| *p -= lr * g);
        }
    }
}

fn sum_rows(m: &[f32], cols: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in m.chunks_exact(cols) {
        out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(b: usize) -> (Vec<f32>, Vec<f32>) {
        let x = (0..b * IMAGE_DIM)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let g = (0..b * CONTEXT_DIM)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.01)
            .collect();
        (x, g)
    }

    fn objective(m: &MnistModel, x: &[f32], g: &[f32]) -> f64 {
        let s = m.forward_image(x).unwrap();
        s.iter().zip(g).map(|(a, b)| f64::from(a * b)).sum()
    }

    #[test]
    fn parameter_gradient_matches_finite_differences() {
        let m = MnistModel::new(4);
        let (x, g) = inputs(3);
        let grad = m.student_param_grad(&x, &g).unwrap();
        let eps = 1e-2f32;
        // a few coordinates of each tensor, in f64 central differences
        for (layer, idx) in [(0usize, 17usize), (0, 5000), (1, 3), (2, 999), (3, 7)] {
            let mut plus = m.clone();
            let mut minus = m.clone();
            let (p, q, analytic) = match layer {
                0 => (&mut plus.student1.w, &mut minus.student1.w, grad.w1[idx]),
                1 => (&mut plus.student1.b, &mut minus.student1.b, grad.b1[idx]),
                2 => (&mut plus.student2.w, &mut minus.student2.w, grad.w2[idx]),
                _ => (&mut plus.student2.b, &mut minus.student2.b, grad.b2[idx]),
            };
            p[idx] += eps;
            q[idx] -= eps;
            let numeric =
                (objective(&plus, &x, &g) - objective(&minus, &x, &g)) / (2.0 * f64::from(eps));
            assert!(
                (numeric - f64::from(analytic)).abs() < 2e-3 + 2e-2 * numeric.abs(),
                "layer {layer} idx {idx}: numeric {numeric} analytic {analytic}"
            );
        }
    }

    #[test]
    fn clipping_bounds_every_contribution() {
        let m = MnistModel::new(5);
        let (x, g) = inputs(2);
        let big: Vec<f32> = g.iter().map(|v| v * 1e4).collect();
        let grad = m.student_param_grad(&x, &big).unwrap();
        assert!(grad.norm() > 1.0);
        let mut acc = StudentGrad::zeros();
        let f = acc.add_clipped(&grad, 0.5, 1.0);
        assert!((acc.norm() - 0.5).abs() < 1e-3, "norm {}", acc.norm());
        assert!(f < 0.5);
        // a zero gradient is skipped
        assert_eq!(acc.add_clipped(&StudentGrad::zeros(), 1.0, 1.0), 0.0);
        acc.clear();
        assert_eq!(acc.norm(), 0.0);
    }

    #[test]
    fn applying_the_gradient_lowers_the_objective() {
        let mut m = MnistModel::new(6);
        let (x, g) = inputs(4);
        let before = objective(&m, &x, &g);
        let grad = m.student_param_grad(&x, &g).unwrap();
        m.apply_student_grad(&grad, 1e-3);
        assert!(objective(&m, &x, &g) < before);
    }

    #[test]
    fn bad_shapes_and_values_are_refused() {
        let m = MnistModel::new(7);
        let (x, g) = inputs(2);
        assert!(m.student_param_grad(&x, &g[..10]).is_err());
        assert!(m.student_param_grad(&x[..100], &g).is_err());
        let mut nan = g.clone();
        nan[3] = f32::NAN;
        assert!(m.student_param_grad(&x, &nan).is_err());
    }
}
