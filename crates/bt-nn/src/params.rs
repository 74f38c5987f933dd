//! Every tensor a model stores, named once: checkpoints write and read them and the weight
//! average blends them, for any model, so a new model only lists its tensors.

use crate::conv::Conv2d;
use crate::dense::Dense;
use crate::norm::BatchNorm2d;

/// What a stored tensor is to training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotRole {
    /// Learned by the optimizer (weights, biases, batch norm's scale and shift).
    Learned,
    /// Tracked from the data, not learned (batch norm's running mean and variance).
    Statistic,
    /// The optimizer's state (SGD momentum).
    Momentum,
}

/// One stored tensor: its PyTorch state-dict name, shape, role, and values.
pub struct Slot<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub role: SlotRole,
    pub values: &'a mut Vec<f32>,
}

/// A model whose tensors can be listed.
pub trait Parameters {
    /// The model's name in messages, flags and logs ("mnist", "cifar").
    const KIND: &'static str;

    /// Every stored tensor, in a fixed order. Takes `&mut` so that one list serves reading
    /// and writing; listing changes nothing.
    fn slots(&mut self) -> Vec<Slot<'_>>;

    /// Zeroes the optimizer's state (a copy that is only evaluated has none).
    fn reset_optimizer(&mut self) {
        for s in self.slots() {
            if s.role == SlotRole::Momentum {
                s.values.fill(0.0);
            }
        }
    }
}

fn slot<'a>(name: String, shape: Vec<usize>, role: SlotRole, values: &'a mut Vec<f32>) -> Slot<'a> {
    Slot {
        name,
        shape,
        role,
        values,
    }
}

/// A dense layer's weight `[out, in]`, bias and their momentum.
pub fn dense_slots<'a>(out: &mut Vec<Slot<'a>>, name: &str, d: &'a mut Dense) {
    let (w, b) = (vec![d.out_dim, d.in_dim], vec![d.out_dim]);
    out.push(slot(
        format!("{name}.weight"),
        w.clone(),
        SlotRole::Learned,
        &mut d.w,
    ));
    out.push(slot(
        format!("{name}.bias"),
        b.clone(),
        SlotRole::Learned,
        &mut d.b,
    ));
    let m = SlotRole::Momentum;
    out.push(slot(format!("{name}.weight.momentum"), w, m, &mut d.gw));
    out.push(slot(format!("{name}.bias.momentum"), b, m, &mut d.gb));
}

/// A convolution's weight `[out, in/groups, k, k]`, bias when it has one, and their momentum.
pub fn conv_slots<'a>(out: &mut Vec<Slot<'a>>, name: &str, c: &'a mut Conv2d) {
    let s = c.spec;
    let shape = vec![s.cout, s.cin / s.groups, s.k, s.k];
    let (l, m) = (SlotRole::Learned, SlotRole::Momentum);
    out.push(slot(format!("{name}.weight"), shape.clone(), l, &mut c.w));
    out.push(slot(format!("{name}.weight.momentum"), shape, m, &mut c.gw));
    if !c.b.is_empty() {
        out.push(slot(format!("{name}.bias"), vec![s.cout], l, &mut c.b));
        out.push(slot(
            format!("{name}.bias.momentum"),
            vec![s.cout],
            m,
            &mut c.gb,
        ));
    }
}

/// Batch norm's scale and shift, running statistics, and momentum.
pub fn batch_norm_slots<'a>(out: &mut Vec<Slot<'a>>, name: &str, b: &'a mut BatchNorm2d) {
    let c = vec![b.c];
    let (l, s, m) = (SlotRole::Learned, SlotRole::Statistic, SlotRole::Momentum);
    out.push(slot(format!("{name}.weight"), c.clone(), l, &mut b.gamma));
    out.push(slot(format!("{name}.bias"), c.clone(), l, &mut b.beta));
    out.push(slot(
        format!("{name}.running_mean"),
        c.clone(),
        s,
        &mut b.running_mean,
    ));
    out.push(slot(
        format!("{name}.running_var"),
        c.clone(),
        s,
        &mut b.running_var,
    ));
    out.push(slot(
        format!("{name}.weight.momentum"),
        c.clone(),
        m,
        &mut b.g_gamma,
    ));
    out.push(slot(format!("{name}.bias.momentum"), c, m, &mut b.g_beta));
}
