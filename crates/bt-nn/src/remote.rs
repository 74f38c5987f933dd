//! Learning from peers' gradients: what a `Backward` request can teach the served model.
//!
//! A peer that used our encoding ([`MnistModel::encode`]) sends back `g`, the gradient of its
//! loss with respect to that answer. The input gradient (the VJP) is what the protocol
//! returns; the same `g` also gives the gradient of `sum(encode(x) * g)` with respect to the
//! parameters that produce the encoding — the forward network and the student — which is how
//! the seeds meant a served synapse to learn from the network. Because a peer is untrusted,
//! every contribution is clipped to a maximum norm before it is scaled and added, and the
//! accumulator has a fixed size (the four layers' parameters) however many requests arrive.

use crate::dense::Dense;
use crate::error::{NnError, Result, shape_err};
use crate::gemm_ops::{View, ViewMut, gemm};
use crate::mnist::{CONTEXT_DIM, HIDDEN, IMAGE_DIM, MnistModel};
use crate::neuron_model::EncoderGradient;

/// One layer's gradient (PyTorch layout, like [`crate::Dense`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerGrad {
    /// `[out, in]`.
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl LayerGrad {
    fn zeros(in_dim: usize, out_dim: usize) -> Self {
        Self {
            w: vec![0.0; in_dim * out_dim],
            b: vec![0.0; out_dim],
        }
    }
}

/// Gradients with respect to the layers behind the served encoding, in
/// [`EncoderGrad::LAYERS`] order: the student's two layers and the forward network's two.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderGrad {
    pub layers: [LayerGrad; 4],
}

impl Default for EncoderGrad {
    fn default() -> Self {
        Self::zeros()
    }
}

impl EncoderGrad {
    /// The layers' state-dict names, in order.
    pub const LAYERS: [&'static str; 4] =
        ["student.0", "student.2", "forward_net.0", "forward_net.2"];

    pub fn zeros() -> Self {
        Self {
            layers: [
                LayerGrad::zeros(IMAGE_DIM, HIDDEN),
                LayerGrad::zeros(HIDDEN, CONTEXT_DIM),
                LayerGrad::zeros(IMAGE_DIM + CONTEXT_DIM, HIDDEN),
                LayerGrad::zeros(HIDDEN, HIDDEN),
            ],
        }
    }

    fn parts(&self) -> impl Iterator<Item = &[f32]> {
        self.layers
            .iter()
            .flat_map(|l| [l.w.as_slice(), l.b.as_slice()])
    }

    /// The L2 norm over all tensors.
    pub fn norm(&self) -> f32 {
        self.parts()
            .flat_map(|p| p.iter())
            .map(|v| f64::from(*v) * f64::from(*v))
            .sum::<f64>()
            .sqrt() as f32
    }

    pub fn clear(&mut self) {
        for l in &mut self.layers {
            l.w.fill(0.0);
            l.b.fill(0.0);
        }
    }
}

impl EncoderGradient for EncoderGrad {
    fn zeros_like(&self) -> Self {
        Self::zeros()
    }

    fn add_clipped(&mut self, other: &EncoderGrad, scale: f32, max_norm: f32) -> f32 {
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
        for (dst, src) in self.layers.iter_mut().zip(&other.layers) {
            dst.w.iter_mut().zip(&src.w).for_each(|(d, s)| *d += f * s);
            dst.b.iter_mut().zip(&src.b).for_each(|(d, s)| *d += f * s);
        }
        f
    }
}

/// `out = dzᵀ·x` (a weight gradient `[out, in]`) for `dz` `[B, out]` and `x` `[B, in]`.
fn weight_grad(out: &mut [f32], dz: &[f32], x: View<'_>) {
    let rows = x.rows;
    let n_out = dz.len() / rows.max(1);
    gemm(
        ViewMut::new(out, n_out, x.cols),
        View::new(dz, rows, n_out).t(),
        x,
        0.0,
    );
}

impl MnistModel {
    /// Gradient of `sum(encode(x) * g)` with respect to the student's and the forward
    /// network's parameters, for normalized images `x` (`[B, 784]`) and `g` (`[B, 1024]`).
    pub fn encoder_param_grad(&self, x: &[f32], g: &[f32]) -> Result<EncoderGrad> {
        if x.is_empty() || !x.len().is_multiple_of(IMAGE_DIM) {
            return Err(shape_err(
                "encoder grad input",
                format!("[B, {IMAGE_DIM}]"),
                x.len(),
            ));
        }
        let b = x.len() / IMAGE_DIM;
        if g.len() != b * CONTEXT_DIM {
            return Err(shape_err(
                "encoder grad gradient",
                format!("[{b}, {CONTEXT_DIM}]"),
                g.len(),
            ));
        }
        if x.iter().chain(g).any(|v| !v.is_finite()) {
            return Err(NnError::NonFinite("encoder grad input"));
        }
        let (acts, d) = self.encode_backward(x, g)?;
        let xv = View::new(x, b, IMAGE_DIM);
        let mut out = EncoderGrad::zeros();
        let [s1, s2, f1, f2] = &mut out.layers;
        weight_grad(&mut s1.w, &d.dh1, xv);
        sum_rows(&d.dh1, HIDDEN, &mut s1.b);
        weight_grad(&mut s2.w, &d.ds, View::new(&acts.h1, b, HIDDEN));
        sum_rows(&d.ds, CONTEXT_DIM, &mut s2.b);
        // forward1 sees [x, s]: its weight gradient in two column blocks
        let da1t = View::new(&d.da1, b, HIDDEN).t();
        let fw = IMAGE_DIM + CONTEXT_DIM;
        gemm(
            ViewMut::new(&mut f1.w, HIDDEN, fw).cols(0, IMAGE_DIM),
            da1t,
            xv,
            0.0,
        );
        gemm(
            ViewMut::new(&mut f1.w, HIDDEN, fw).cols(IMAGE_DIM, CONTEXT_DIM),
            da1t,
            View::new(&acts.s, b, CONTEXT_DIM),
            0.0,
        );
        sum_rows(&d.da1, HIDDEN, &mut f1.b);
        weight_grad(&mut f2.w, &d.de, View::new(&acts.a1, b, HIDDEN));
        sum_rows(&d.de, HIDDEN, &mut f2.b);
        Ok(out)
    }

    /// The layers an [`EncoderGrad`] covers, in its order.
    fn encoder_layers_mut(&mut self) -> [&mut Dense; 4] {
        [
            &mut self.student1,
            &mut self.student2,
            &mut self.forward1,
            &mut self.forward2,
        ]
    }

    /// Plain SGD on the student and the forward network: `p -= lr · grad` (no momentum:
    /// remote gradients arrive at their own pace and should not linger in the local
    /// optimizer's buffers).
    pub fn apply_encoder_grad(&mut self, grad: &EncoderGrad, lr: f32) {
        for (layer, g) in self.encoder_layers_mut().into_iter().zip(&grad.layers) {
            layer.w.iter_mut().zip(&g.w).for_each(|(p, g)| *p -= lr * g);
            layer.b.iter_mut().zip(&g.b).for_each(|(p, g)| *p -= lr * g);
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
        let s = m.encode(x).unwrap();
        s.iter().zip(g).map(|(a, b)| f64::from(a * b)).sum()
    }

    fn param(m: &mut MnistModel, layer: usize, weight: bool, idx: usize) -> &mut f32 {
        let l = match layer {
            0 => &mut m.student1,
            1 => &mut m.student2,
            2 => &mut m.forward1,
            _ => &mut m.forward2,
        };
        if weight { &mut l.w[idx] } else { &mut l.b[idx] }
    }

    #[test]
    fn parameter_gradient_matches_finite_differences() {
        let m = MnistModel::new(4);
        let (x, g) = inputs(3);
        let grad = m.encoder_param_grad(&x, &g).unwrap();
        let eps = 1e-2f32;
        // a few coordinates of each layer (weights and biases, and both column blocks of the
        // forward network's first layer), in f64 central differences
        let coords = [
            (0usize, true, 17usize),
            (0, true, 5000),
            (0, false, 3),
            (1, true, 999),
            (1, false, 7),
            (2, true, 40),
            (2, true, 1808 * 5 + 900),
            (2, false, 11),
            (3, true, 2051),
            (3, false, 500),
        ];
        let mut checked_nonzero = 0;
        for (layer, weight, idx) in coords {
            let mut plus = m.clone();
            let mut minus = m.clone();
            *param(&mut plus, layer, weight, idx) += eps;
            *param(&mut minus, layer, weight, idx) -= eps;
            let lg = &grad.layers[layer];
            let analytic = if weight { lg.w[idx] } else { lg.b[idx] };
            let numeric =
                (objective(&plus, &x, &g) - objective(&minus, &x, &g)) / (2.0 * f64::from(eps));
            assert!(
                (numeric - f64::from(analytic)).abs() < 2e-3 + 2e-2 * numeric.abs(),
                "layer {layer} weight {weight} idx {idx}: numeric {numeric} analytic {analytic}"
            );
            if analytic.abs() > 1e-4 {
                checked_nonzero += 1;
            }
        }
        assert!(checked_nonzero >= 5, "too few non-zero coordinates checked");
    }

    #[test]
    fn clipping_bounds_every_contribution() {
        let m = MnistModel::new(5);
        let (x, g) = inputs(2);
        let big: Vec<f32> = g.iter().map(|v| v * 1e4).collect();
        let grad = m.encoder_param_grad(&x, &big).unwrap();
        assert!(grad.norm() > 1.0);
        let mut acc = EncoderGrad::zeros();
        let f = acc.add_clipped(&grad, 0.5, 1.0);
        assert!((acc.norm() - 0.5).abs() < 1e-3, "norm {}", acc.norm());
        assert!(f < 0.5);
        // a zero gradient is skipped
        assert_eq!(acc.add_clipped(&EncoderGrad::zeros(), 1.0, 1.0), 0.0);
        acc.clear();
        assert_eq!(acc.norm(), 0.0);
    }

    #[test]
    fn applying_the_gradient_lowers_the_objective() {
        let mut m = MnistModel::new(6);
        let (x, g) = inputs(4);
        let before = objective(&m, &x, &g);
        let grad = m.encoder_param_grad(&x, &g).unwrap();
        m.apply_encoder_grad(&grad, 1e-3);
        assert!(objective(&m, &x, &g) < before);
    }

    #[test]
    fn bad_shapes_and_values_are_refused() {
        let m = MnistModel::new(7);
        let (x, g) = inputs(2);
        assert!(m.encoder_param_grad(&x, &g[..10]).is_err());
        assert!(m.encoder_param_grad(&x[..100], &g).is_err());
        let mut nan = g.clone();
        nan[3] = f32::NAN;
        assert!(m.encoder_param_grad(&x, &nan).is_err());
    }
}
