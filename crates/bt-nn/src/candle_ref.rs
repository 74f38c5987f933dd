//! The same MNIST model written plainly with candle autograd: the reference the hand-written
//! [`crate::dense`] engine is checked against (gradient tests) and the "plain candle" baseline
//! of the benchmark.

use candle_core::{DType, Device, Tensor, Var};

use crate::error::Result;
use crate::mnist::{CONTEXT_DIM, IMAGE_DIM, MnistModel, StepLosses};

/// A candle copy of an [`MnistModel`]'s parameters, as trainable `Var`s, with PyTorch-style
/// momentum buffers.
pub struct CandleMnist {
    /// `(name, weight [out, in], bias [out])` in [`MnistModel::layers`] order.
    pub params: Vec<(&'static str, Var, Var)>,
    momentum: Vec<(Tensor, Tensor)>,
}

/// The three losses as candle scalars (still attached to the graph).
pub struct CandleLosses {
    pub local: Tensor,
    pub network: Tensor,
    pub distillation: Tensor,
}

fn linear(x: &Tensor, w: &Var, b: &Var) -> candle_core::Result<Tensor> {
    x.matmul(&w.as_tensor().t()?)?.broadcast_add(b.as_tensor())
}

impl CandleMnist {
    pub fn from_model(m: &MnistModel) -> Result<Self> {
        let dev = Device::Cpu;
        let mut params = Vec::new();
        let mut momentum = Vec::new();
        for (name, l) in m.layers() {
            let w = Var::from_tensor(&Tensor::from_slice(&l.w, (l.out_dim, l.in_dim), &dev)?)?;
            let b = Var::from_tensor(&Tensor::from_slice(&l.b, l.out_dim, &dev)?)?;
            momentum.push((w.zeros_like()?, b.zeros_like()?));
            params.push((name, w, b));
        }
        Ok(Self { params, momentum })
    }

    fn seq(
        &self,
        range: std::ops::Range<usize>,
        x: &Tensor,
        last_relu: bool,
    ) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let end = range.end;
        for i in range {
            let (_, w, b) = &self.params[i];
            h = linear(&h, w, b)?;
            if i + 1 < end || last_relu {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    pub fn student(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.seq(0..2, x, true)?)
    }

    /// The served encoding: the forward network over `[x, student(x)]`, student attached (so
    /// autograd reaches the image through both branches and every layer below the head).
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let s = self.student(x)?;
        Ok(self.seq(2..4, &Tensor::cat(&[x, &s], 1)?, true)?)
    }

    /// The seeds' losses: `context` is used detached in the distillation and attached in the
    /// network path, so a `Var` context receives the network-target gradient.
    pub fn losses(&self, x: &Tensor, y: &Tensor, context: &Tensor) -> Result<CandleLosses> {
        let student = self.student(x)?;
        let distillation = candle_nn::loss::mse(&student, &context.detach())?;
        let head = |ctx: &Tensor| -> candle_core::Result<Tensor> {
            let h = self.seq(2..4, &Tensor::cat(&[x, ctx], 1)?, true)?;
            let logits = self.seq(4..7, &h, false)?;
            candle_nn::loss::cross_entropy(&logits, y)
        };
        let local = head(&student.detach())?;
        let network = head(context)?;
        Ok(CandleLosses {
            local,
            network,
            distillation,
        })
    }

    /// One SGD-with-momentum step (PyTorch semantics) through candle autograd.
    pub fn step(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        context: &Tensor,
        lr: f64,
        mu: f64,
    ) -> Result<StepLosses> {
        let l = self.losses(x, y, context)?;
        let total = ((&l.local + &l.network)? + &l.distillation)?;
        let grads = total.backward()?;
        for ((_, w, b), (mw, mb)) in self.params.iter().zip(self.momentum.iter_mut()) {
            for (p, m) in [(w, mw), (b, mb)] {
                if let Some(g) = grads.get(p) {
                    *m = ((&*m * mu)? + g)?;
                    p.set(&(p.as_tensor() - (&*m * lr)?)?)?;
                }
            }
        }
        Ok(StepLosses {
            local: l.local.to_scalar::<f32>()?,
            network: l.network.to_scalar::<f32>()?,
            distillation: l.distillation.to_scalar::<f32>()?,
        })
    }
}

/// `[B, 784]` images and labels as candle tensors.
pub fn batch_tensors(x: &[f32], y: &[u8]) -> Result<(Tensor, Tensor)> {
    let b = y.len();
    let xt = Tensor::from_slice(x, (b, IMAGE_DIM), &Device::Cpu)?;
    let yt = Tensor::from_iter(y.iter().map(|&v| u32::from(v)), &Device::Cpu)?;
    Ok((xt, yt))
}

/// A `[B, 1024]` context tensor.
pub fn context_tensor(ctx: &[f32], b: usize) -> Result<Tensor> {
    Ok(Tensor::from_slice(ctx, (b, CONTEXT_DIM), &Device::Cpu)?)
}

/// Largest `|a - b| / max(1, |b|)` over two tensors' values.
pub fn max_rel_diff(a: &[f32], b: &Tensor) -> Result<f32> {
    let b = b.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    Ok(a.iter()
        .zip(&b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale)
}
