//! A dual path network (DPN) trunk for 32×32 images, on the [`crate::conv`] engine.
//!
//! A dual path block runs a bottleneck — 1×1 conv, grouped 3×3 conv (carrying the stage's
//! stride), 1×1 conv, each with batch norm — whose output is split in two: the first
//! `out_planes` channels are *added* to the shortcut's first `out_planes` (the residual path),
//! the remaining `dense_depth` channels are *appended* after all of the shortcut's channels
//! (the densely connected path), and the result goes through a ReLU. The first block of a stage
//! projects the shortcut with a strided 1×1 conv + batch norm to `out_planes + dense_depth`
//! channels; later blocks use the identity, so every block adds `dense_depth` channels.
//! The trunk is stem (3×3 conv, BN, ReLU) → stages → global average pooling.

use rand::Rng;

use crate::conv::{Conv2d, ConvScratch, ConvSpec};
use crate::dense::GradMode;
use crate::norm::BatchNorm2d;
use crate::pool::{global_avg_backward, global_avg_forward};

/// One stage of dual path blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageSpec {
    /// Width of the bottleneck (the grouped 3×3 conv's channels).
    pub width: usize,
    pub out_planes: usize,
    pub dense_depth: usize,
    pub blocks: usize,
    /// Stride of the stage's first block.
    pub stride: usize,
}

/// The trunk's architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpnConfig {
    pub stem: usize,
    pub groups: usize,
    pub stages: Vec<StageSpec>,
}

impl DpnConfig {
    /// The CIFAR model's trunk: 32 stem channels, three single-block stages at 32×32, 16×16
    /// and 8×8 with 8-group 3×3 convs, 256 output features.
    pub fn cifar() -> Self {
        let stage = |width, out_planes, dense_depth, stride| StageSpec {
            width,
            out_planes,
            dense_depth,
            blocks: 1,
            stride,
        };
        Self {
            stem: 32,
            groups: 8,
            stages: vec![
                stage(32, 48, 16, 1),
                stage(64, 96, 32, 2),
                stage(128, 192, 32, 2),
            ],
        }
    }

    /// A small trunk for tests (a few thousand parameters, two stages, two blocks in the last).
    pub fn tiny() -> Self {
        Self {
            stem: 8,
            groups: 2,
            stages: vec![
                StageSpec {
                    width: 8,
                    out_planes: 8,
                    dense_depth: 4,
                    blocks: 1,
                    stride: 1,
                },
                StageSpec {
                    width: 8,
                    out_planes: 12,
                    dense_depth: 4,
                    blocks: 2,
                    stride: 2,
                },
            ],
        }
    }

    /// Channels of the trunk's output (its feature width).
    pub fn features(&self) -> usize {
        let mut c = self.stem;
        for st in &self.stages {
            for i in 0..st.blocks {
                let shortcut = if i == 0 {
                    st.out_planes + st.dense_depth
                } else {
                    c
                };
                c = shortcut + st.dense_depth;
            }
        }
        c
    }
}

/// Batch norm in training (batch statistics) or evaluation (running statistics) mode.
trait Norm {
    fn apply(&mut self, x: &[f32], n: usize, hw: usize, out: &mut [f32], relu: bool);
}
struct Train<'a>(&'a mut BatchNorm2d);
struct Eval<'a>(&'a BatchNorm2d);
impl Norm for Train<'_> {
    fn apply(&mut self, x: &[f32], n: usize, hw: usize, out: &mut [f32], relu: bool) {
        self.0.forward_train(x, n, hw, out, relu);
    }
}
impl Norm for Eval<'_> {
    fn apply(&mut self, x: &[f32], n: usize, hw: usize, out: &mut [f32], relu: bool) {
        self.0.forward_eval(x, n, hw, out, relu);
    }
}

pub(crate) fn fit(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() != n {
        v.resize(n, 0.0);
    }
    &mut v[..]
}

/// A block's activations (pre-BN conv outputs and BN outputs), kept for the backward pass.
#[derive(Debug, Clone, Default)]
pub struct BlockActs {
    c1: Vec<f32>,
    a1: Vec<f32>,
    c2: Vec<f32>,
    a2: Vec<f32>,
    c3: Vec<f32>,
    z3: Vec<f32>,
    sc: Vec<f32>,
    s: Vec<f32>,
    out: Vec<f32>,
}

/// Gradient buffers shared by every block (sized for the largest).
#[derive(Debug, Clone, Default)]
struct GradBufs {
    d_out: Vec<f32>,
    d_z3: Vec<f32>,
    d_s: Vec<f32>,
    d_a2: Vec<f32>,
    d_a1: Vec<f32>,
    d_in: Vec<f32>,
    tmp: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct DpnBlock {
    pub cin: usize,
    pub width: usize,
    pub out_planes: usize,
    pub dense_depth: usize,
    pub stride: usize,
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub conv3: Conv2d,
    pub bn3: BatchNorm2d,
    /// The projection of the first block of a stage (conv + BN); `None` is the identity.
    pub shortcut: Option<(Conv2d, BatchNorm2d)>,
}

impl DpnBlock {
    fn new(cin: usize, st: &StageSpec, first: bool, groups: usize, rng: &mut impl Rng) -> Self {
        let stride = if first { st.stride } else { 1 };
        let spec = |cin, cout, k, stride, groups| ConvSpec {
            cin,
            cout,
            k,
            stride,
            pad: k / 2,
            groups,
        };
        let c3 = st.out_planes + st.dense_depth;
        let shortcut = first.then(|| {
            (
                Conv2d::new(spec(cin, c3, 1, stride, 1), false, rng),
                BatchNorm2d::new(c3),
            )
        });
        Self {
            cin,
            width: st.width,
            out_planes: st.out_planes,
            dense_depth: st.dense_depth,
            stride,
            conv1: Conv2d::new(spec(cin, st.width, 1, 1, 1), false, rng),
            bn1: BatchNorm2d::new(st.width),
            conv2: Conv2d::new(spec(st.width, st.width, 3, stride, groups), false, rng),
            bn2: BatchNorm2d::new(st.width),
            conv3: Conv2d::new(spec(st.width, c3, 1, 1, 1), false, rng),
            bn3: BatchNorm2d::new(c3),
            shortcut,
        }
    }

    /// Channels of the shortcut path.
    fn cs(&self) -> usize {
        if self.shortcut.is_some() {
            self.out_planes + self.dense_depth
        } else {
            self.cin
        }
    }

    pub fn cout(&self) -> usize {
        self.cs() + self.dense_depth
    }

    fn out_hw(&self, (h, w): (usize, usize)) -> (usize, usize) {
        (h.div_ceil(self.stride), w.div_ceil(self.stride))
    }

    fn forward_train(
        &mut self,
        x: &[f32],
        n: usize,
        hw: (usize, usize),
        a: &mut BlockActs,
        scratch: &mut ConvScratch,
    ) {
        let dims = self.dims();
        let Self {
            conv1,
            bn1,
            conv2,
            bn2,
            conv3,
            bn3,
            shortcut,
            ..
        } = self;
        let sc = shortcut.as_mut().map(|(c, b)| (&*c, Train(b)));
        run(
            dims,
            [&*conv1, &*conv2, &*conv3],
            [Train(bn1), Train(bn2), Train(bn3)],
            sc,
            x,
            n,
            hw,
            a,
            scratch,
        );
    }

    fn forward_eval(
        &self,
        x: &[f32],
        n: usize,
        hw: (usize, usize),
        a: &mut BlockActs,
        scratch: &mut ConvScratch,
    ) {
        let sc = self.shortcut.as_ref().map(|(c, b)| (c, Eval(b)));
        run(
            self.dims(),
            [&self.conv1, &self.conv2, &self.conv3],
            [Eval(&self.bn1), Eval(&self.bn2), Eval(&self.bn3)],
            sc,
            x,
            n,
            hw,
            a,
            scratch,
        );
    }

    fn dims(&self) -> BlockDims {
        BlockDims {
            cin: self.cin,
            width: self.width,
            out_planes: self.out_planes,
            dense: self.dense_depth,
            cs: self.cs(),
            stride: self.stride,
        }
    }

    /// Backward given `d_out` (`∂L/∂out`, overwritten); writes `∂L/∂x` into `d_in`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &mut self,
        x: &[f32],
        n: usize,
        (h, w): (usize, usize),
        a: &BlockActs,
        g: &mut GradBufs,
        mode: GradMode,
        scratch: &mut ConvScratch,
    ) {
        let (ho, wo) = self.out_hw((h, w));
        let (hw, hwo) = (h * w, ho * wo);
        let d = self.dims();
        let (c3, cout) = (d.out_planes + d.dense, d.cs + d.dense);
        let GradBufs {
            d_out,
            d_z3,
            d_s,
            d_a2,
            d_a1,
            d_in,
            tmp,
        } = g;
        crate::dense::relu_mask(&mut d_out[..n * cout * hwo], &a.out);
        let d_z3 = fit(d_z3, n * c3 * hwo);
        let d_s = fit(d_s, n * d.cs * hwo);
        split_out_grad(d, hwo, d_out, d_z3, d_s);
        self.bn3.backward(&a.c3, &a.z3, n, hwo, d_z3, false, mode);
        let d_a2 = fit(d_a2, n * d.width * hwo);
        self.conv3
            .backward(&a.a2, n, (ho, wo), d_z3, Some(d_a2), mode, scratch);
        self.bn2.backward(&a.c2, &a.a2, n, hwo, d_a2, true, mode);
        let d_a1 = fit(d_a1, n * d.width * hw);
        self.conv2
            .backward(&a.a1, n, (h, w), d_a2, Some(d_a1), mode, scratch);
        self.bn1.backward(&a.c1, &a.a1, n, hw, d_a1, true, mode);
        let d_in = fit(d_in, n * d.cin * hw);
        self.conv1
            .backward(x, n, (h, w), d_a1, Some(d_in), mode, scratch);
        match &mut self.shortcut {
            Some((conv, bn)) => {
                bn.backward(&a.sc, &a.s, n, hwo, d_s, false, mode);
                let tmp = fit(tmp, n * d.cin * hw);
                conv.backward(x, n, (h, w), d_s, Some(tmp), mode, scratch);
                d_in.iter_mut().zip(tmp.iter()).for_each(|(a, b)| *a += b);
            }
            None => d_in.iter_mut().zip(d_s.iter()).for_each(|(a, b)| *a += b),
        }
    }

    /// Backward of [`Self::forward_eval`] to the block's input only: `g.d_out` (overwritten)
    /// in, `g.d_in` out; parameters and their buffers untouched.
    fn input_grad_eval(
        &self,
        n: usize,
        (h, w): (usize, usize),
        a: &BlockActs,
        g: &mut GradBufs,
        scratch: &mut ConvScratch,
    ) {
        let (ho, wo) = self.out_hw((h, w));
        let (hw, hwo) = (h * w, ho * wo);
        let d = self.dims();
        let (c3, cout) = (d.out_planes + d.dense, d.cs + d.dense);
        let GradBufs {
            d_out,
            d_z3,
            d_s,
            d_a2,
            d_a1,
            d_in,
            tmp,
        } = g;
        crate::dense::relu_mask(&mut d_out[..n * cout * hwo], &a.out);
        let d_z3 = fit(d_z3, n * c3 * hwo);
        let d_s = fit(d_s, n * d.cs * hwo);
        split_out_grad(d, hwo, d_out, d_z3, d_s);
        self.bn3.backward_eval(&a.z3, n, hwo, d_z3, false);
        let d_a2 = fit(d_a2, n * d.width * hwo);
        self.conv3.input_grad(n, (ho, wo), d_z3, d_a2, scratch);
        self.bn2.backward_eval(&a.a2, n, hwo, d_a2, true);
        let d_a1 = fit(d_a1, n * d.width * hw);
        self.conv2.input_grad(n, (h, w), d_a2, d_a1, scratch);
        self.bn1.backward_eval(&a.a1, n, hw, d_a1, true);
        let d_in = fit(d_in, n * d.cin * hw);
        self.conv1.input_grad(n, (h, w), d_a1, d_in, scratch);
        match &self.shortcut {
            Some((conv, bn)) => {
                bn.backward_eval(&a.s, n, hwo, d_s, false);
                let tmp = fit(tmp, n * d.cin * hw);
                conv.input_grad(n, (h, w), d_s, tmp, scratch);
                d_in.iter_mut().zip(tmp.iter()).for_each(|(a, b)| *a += b);
            }
            None => d_in.iter_mut().zip(d_s.iter()).for_each(|(a, b)| *a += b),
        }
    }

    fn zero_buffers(&mut self) {
        for c in [&mut self.conv1, &mut self.conv2, &mut self.conv3] {
            c.zero_buffers();
        }
        for b in [&mut self.bn1, &mut self.bn2, &mut self.bn3] {
            b.zero_buffers();
        }
        if let Some((c, b)) = &mut self.shortcut {
            c.zero_buffers();
            b.zero_buffers();
        }
    }
}

/// Routes a block's output gradient to its two inputs: the residual channels go to both the
/// bottleneck (`d_z3`) and the shortcut (`d_s`), the dense channels to one of them each.
fn split_out_grad(d: BlockDims, hwo: usize, d_out: &[f32], d_z3: &mut [f32], d_s: &mut [f32]) {
    let (c3, cout) = (d.out_planes + d.dense, d.cs + d.dense);
    for ((dout, dz), ds) in d_out
        .chunks_exact(cout * hwo)
        .zip(d_z3.chunks_exact_mut(c3 * hwo))
        .zip(d_s.chunks_exact_mut(d.cs * hwo))
    {
        let res = d.out_planes * hwo;
        dz[..res].copy_from_slice(&dout[..res]);
        dz[res..].copy_from_slice(&dout[d.cs * hwo..]);
        ds.copy_from_slice(&dout[..d.cs * hwo]);
    }
}

#[derive(Debug, Clone, Copy)]
struct BlockDims {
    cin: usize,
    width: usize,
    out_planes: usize,
    dense: usize,
    cs: usize,
    stride: usize,
}

#[allow(clippy::too_many_arguments)]
fn run<B: Norm>(
    d: BlockDims,
    [conv1, conv2, conv3]: [&Conv2d; 3],
    [mut bn1, mut bn2, mut bn3]: [B; 3],
    shortcut: Option<(&Conv2d, B)>,
    x: &[f32],
    n: usize,
    (h, w): (usize, usize),
    a: &mut BlockActs,
    scratch: &mut ConvScratch,
) {
    let (ho, wo) = (h.div_ceil(d.stride), w.div_ceil(d.stride));
    let (hw, hwo) = (h * w, ho * wo);
    let c3 = d.out_planes + d.dense;
    conv1.forward(x, n, (h, w), fit(&mut a.c1, n * d.width * hw), scratch);
    bn1.apply(&a.c1, n, hw, fit(&mut a.a1, n * d.width * hw), true);
    conv2.forward(&a.a1, n, (h, w), fit(&mut a.c2, n * d.width * hwo), scratch);
    bn2.apply(&a.c2, n, hwo, fit(&mut a.a2, n * d.width * hwo), true);
    conv3.forward(&a.a2, n, (ho, wo), fit(&mut a.c3, n * c3 * hwo), scratch);
    bn3.apply(&a.c3, n, hwo, fit(&mut a.z3, n * c3 * hwo), false);
    let s: &[f32] = match shortcut {
        Some((conv, mut bn)) => {
            conv.forward(x, n, (h, w), fit(&mut a.sc, n * d.cs * hwo), scratch);
            bn.apply(&a.sc, n, hwo, fit(&mut a.s, n * d.cs * hwo), false);
            &a.s
        }
        None => x,
    };
    let cout = d.cs + d.dense;
    let out = fit(&mut a.out, n * cout * hwo);
    let res = d.out_planes * hwo;
    for ((o, s), z) in out
        .chunks_exact_mut(cout * hwo)
        .zip(s.chunks_exact(d.cs * hwo))
        .zip(a.z3.chunks_exact(c3 * hwo))
    {
        for ((o, s), z) in o[..res].iter_mut().zip(&s[..res]).zip(&z[..res]) {
            *o = (s + z).max(0.0);
        }
        for (o, s) in o[res..d.cs * hwo].iter_mut().zip(&s[res..]) {
            *o = s.max(0.0);
        }
        for (o, z) in o[d.cs * hwo..].iter_mut().zip(&z[res..]) {
            *o = z.max(0.0);
        }
    }
}

/// Activations of one trunk pass.
#[derive(Debug, Clone, Default)]
pub struct TrunkWork {
    stem_c: Vec<f32>,
    stem_a: Vec<f32>,
    blocks: Vec<BlockActs>,
    features: Vec<f32>,
    grads: GradBufs,
    pub scratch: ConvScratch,
}

/// The DPN trunk: images `[n, 3, 32, 32]` → features `[n, features]`.
#[derive(Debug, Clone)]
pub struct DpnTrunk {
    pub config: DpnConfig,
    pub stem: Conv2d,
    pub stem_bn: BatchNorm2d,
    pub blocks: Vec<DpnBlock>,
    /// Input side of each block, then the final side (fixed by the architecture).
    sides: Vec<(usize, usize)>,
}

/// The input geometry the trunk is built for.
pub const IN_CHANNELS: usize = 3;
pub const SIDE: usize = 32;

impl DpnTrunk {
    pub fn new(config: DpnConfig, rng: &mut impl Rng) -> Self {
        let stem = Conv2d::new(
            ConvSpec {
                cin: IN_CHANNELS,
                cout: config.stem,
                k: 3,
                stride: 1,
                pad: 1,
                groups: 1,
            },
            false,
            rng,
        );
        let mut blocks = Vec::new();
        let mut c = config.stem;
        for st in &config.stages {
            for i in 0..st.blocks {
                let b = DpnBlock::new(c, st, i == 0, config.groups, rng);
                c = b.cout();
                blocks.push(b);
            }
        }
        let mut sides = vec![(SIDE, SIDE)];
        for b in &blocks {
            let last = sides[sides.len() - 1];
            sides.push(b.out_hw(last));
        }
        Self {
            stem_bn: BatchNorm2d::new(config.stem),
            config,
            stem,
            blocks,
            sides,
        }
    }

    pub fn features(&self) -> usize {
        self.blocks.last().map_or(self.config.stem, DpnBlock::cout)
    }

    fn final_hw(&self) -> usize {
        let (h, w) = self.sides[self.sides.len() - 1];
        h * w
    }

    /// Training forward (batch statistics; running statistics updated): features `[n, F]`.
    pub fn forward_train<'w>(&mut self, x: &[f32], n: usize, work: &'w mut TrunkWork) -> &'w [f32] {
        self.forward_impl(x, n, work)
    }

    /// Evaluation forward (running statistics).
    pub fn forward_eval<'w>(&self, x: &[f32], n: usize, work: &'w mut TrunkWork) -> &'w [f32] {
        let hw = SIDE * SIDE;
        let TrunkWork {
            stem_c,
            stem_a,
            blocks,
            features,
            scratch,
            ..
        } = work;
        self.stem.forward(
            x,
            n,
            (SIDE, SIDE),
            fit(stem_c, n * self.config.stem * hw),
            scratch,
        );
        self.stem_bn
            .forward_eval(stem_c, n, hw, fit(stem_a, n * self.config.stem * hw), true);
        blocks.resize_with(self.blocks.len(), BlockActs::default);
        for i in 0..self.blocks.len() {
            let (done, rest) = blocks.split_at_mut(i);
            let input: &[f32] = done.last().map_or(stem_a, |a| &a.out);
            self.blocks[i].forward_eval(input, n, self.sides[i], &mut rest[0], scratch);
        }
        self.pool(n, blocks, stem_a, features);
        &work.features
    }

    fn pool(&self, n: usize, blocks: &[BlockActs], stem_a: &[f32], features: &mut Vec<f32>) {
        let last: &[f32] = blocks.last().map_or(stem_a, |a| &a.out);
        let f = self.features();
        global_avg_forward(last, n * f, self.final_hw(), fit(features, n * f));
    }

    fn forward_impl<'w>(&mut self, x: &[f32], n: usize, work: &'w mut TrunkWork) -> &'w [f32] {
        let hw = SIDE * SIDE;
        let stem = self.config.stem;
        let TrunkWork {
            stem_c,
            stem_a,
            blocks,
            features,
            scratch,
            ..
        } = work;
        self.stem
            .forward(x, n, (SIDE, SIDE), fit(stem_c, n * stem * hw), scratch);
        self.stem_bn
            .forward_train(stem_c, n, hw, fit(stem_a, n * stem * hw), true);
        blocks.resize_with(self.blocks.len(), BlockActs::default);
        for i in 0..self.blocks.len() {
            let side = self.sides[i];
            let (done, rest) = blocks.split_at_mut(i);
            let input: &[f32] = done.last().map_or(stem_a, |a| &a.out);
            self.blocks[i].forward_train(input, n, side, &mut rest[0], scratch);
        }
        self.pool(n, blocks, stem_a, features);
        &work.features
    }

    /// Backward of the last [`Self::forward_train`] on `x`, given `∂L/∂features` (`[n, F]`).
    /// The image gradient is not computed (training never needs it).
    pub fn backward(
        &mut self,
        x: &[f32],
        n: usize,
        d_features: &[f32],
        work: &mut TrunkWork,
        mode: GradMode,
    ) {
        let f = self.features();
        let TrunkWork {
            stem_c,
            stem_a,
            blocks,
            grads,
            scratch,
            ..
        } = work;
        let last = fit(&mut grads.d_out, n * f * self.final_hw());
        global_avg_backward(d_features, n * f, self.final_hw(), last);
        for i in (0..self.blocks.len()).rev() {
            let input: &[f32] = if i == 0 { stem_a } else { &blocks[i - 1].out };
            self.blocks[i].backward(input, n, self.sides[i], &blocks[i], grads, mode, scratch);
            // this block's input gradient is the previous block's output gradient
            std::mem::swap(&mut grads.d_out, &mut grads.d_in);
        }
        let hw = SIDE * SIDE;
        let d = &mut grads.d_out;
        self.stem_bn.backward(stem_c, stem_a, n, hw, d, true, mode);
        self.stem
            .backward(x, n, (SIDE, SIDE), d, None, mode, scratch);
    }

    /// After [`Self::forward_eval`] of images `x` (`[n, 3, 32, 32]`) with `work`: the gradient
    /// of `sum(features(x) · d_features)` with respect to `x`. Parameters, running statistics
    /// and gradient/momentum buffers are untouched.
    pub fn input_grad_eval(&self, n: usize, d_features: &[f32], work: &mut TrunkWork) -> Vec<f32> {
        let f = self.features();
        let TrunkWork {
            stem_a,
            blocks,
            grads,
            scratch,
            ..
        } = work;
        let last = fit(&mut grads.d_out, n * f * self.final_hw());
        global_avg_backward(d_features, n * f, self.final_hw(), last);
        for i in (0..self.blocks.len()).rev() {
            self.blocks[i].input_grad_eval(n, self.sides[i], &blocks[i], grads, scratch);
            std::mem::swap(&mut grads.d_out, &mut grads.d_in);
        }
        let hw = SIDE * SIDE;
        let d = &mut grads.d_out;
        self.stem_bn.backward_eval(stem_a, n, hw, d, true);
        let mut dx = vec![0.0; n * IN_CHANNELS * hw];
        self.stem.input_grad(n, (SIDE, SIDE), d, &mut dx, scratch);
        dx
    }

    /// Every convolution with its PyTorch module name and the input side it sees.
    pub fn convs(&self) -> Vec<(String, &Conv2d, (usize, usize))> {
        let mut out = vec![("stem".to_string(), &self.stem, (SIDE, SIDE))];
        for (i, (b, &(h, w))) in self.blocks.iter().zip(&self.sides).enumerate() {
            let (ho, wo) = b.out_hw((h, w));
            out.push((format!("blocks.{i}.conv1"), &b.conv1, (h, w)));
            out.push((format!("blocks.{i}.conv2"), &b.conv2, (h, w)));
            out.push((format!("blocks.{i}.conv3"), &b.conv3, (ho, wo)));
            if let Some((c, _)) = &b.shortcut {
                out.push((format!("blocks.{i}.shortcut.0"), c, (h, w)));
            }
        }
        out
    }

    pub fn zero_buffers(&mut self) {
        self.stem.zero_buffers();
        self.stem_bn.zero_buffers();
        self.blocks.iter_mut().for_each(DpnBlock::zero_buffers);
    }
}
