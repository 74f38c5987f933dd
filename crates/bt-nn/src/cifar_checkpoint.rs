//! Checkpoints of the CIFAR model as safetensors: every parameter under its PyTorch state-dict
//! name (batch norm's running statistics included), each SGD momentum buffer as
//! `<name>.momentum`, and the epoch/step counters. Written atomically and validated before the
//! model is touched, like the MNIST checkpoints ([`crate::checkpoint`]).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::checkpoint::TrainingState;
use crate::cifar::CifarModel;
use crate::conv::Conv2d;
use crate::dense::Dense;
use crate::error::{NnError, Result};
use crate::norm::BatchNorm2d;

const META: &str = "meta.format_epoch_step";
/// Format tag stored in the file; bump when the layout changes.
pub const FORMAT_VERSION: i64 = 1;

type Named<'a> = Vec<(String, Vec<usize>, &'a mut Vec<f32>)>;

fn conv<'a>(out: &mut Named<'a>, name: &str, c: &'a mut Conv2d) {
    let s = c.spec;
    let shape = vec![s.cout, s.cin / s.groups, s.k, s.k];
    out.push((format!("{name}.weight"), shape.clone(), &mut c.w));
    out.push((format!("{name}.weight.momentum"), shape, &mut c.gw));
    if !c.b.is_empty() {
        out.push((format!("{name}.bias"), vec![s.cout], &mut c.b));
        out.push((format!("{name}.bias.momentum"), vec![s.cout], &mut c.gb));
    }
}

fn bn<'a>(out: &mut Named<'a>, name: &str, b: &'a mut BatchNorm2d) {
    let c = vec![b.c];
    out.push((format!("{name}.weight"), c.clone(), &mut b.gamma));
    out.push((format!("{name}.bias"), c.clone(), &mut b.beta));
    out.push((
        format!("{name}.running_mean"),
        c.clone(),
        &mut b.running_mean,
    ));
    out.push((format!("{name}.running_var"), c.clone(), &mut b.running_var));
    out.push((format!("{name}.weight.momentum"), c.clone(), &mut b.g_gamma));
    out.push((format!("{name}.bias.momentum"), c, &mut b.g_beta));
}

fn dense<'a>(out: &mut Named<'a>, name: &str, d: &'a mut Dense) {
    let (w, b) = (vec![d.out_dim, d.in_dim], vec![d.out_dim]);
    out.push((format!("{name}.weight"), w.clone(), &mut d.w));
    out.push((format!("{name}.bias"), b.clone(), &mut d.b));
    out.push((format!("{name}.weight.momentum"), w, &mut d.gw));
    out.push((format!("{name}.bias.momentum"), b, &mut d.gb));
}

/// Every stored tensor of the model: name, shape, values.
fn named(m: &mut CifarModel) -> Named<'_> {
    let mut out = Vec::new();
    let t = &mut m.trunk;
    conv(&mut out, "stem", &mut t.stem);
    bn(&mut out, "stem_bn", &mut t.stem_bn);
    for (i, b) in t.blocks.iter_mut().enumerate() {
        let p = format!("blocks.{i}");
        conv(&mut out, &format!("{p}.conv1"), &mut b.conv1);
        bn(&mut out, &format!("{p}.bn1"), &mut b.bn1);
        conv(&mut out, &format!("{p}.conv2"), &mut b.conv2);
        bn(&mut out, &format!("{p}.bn2"), &mut b.bn2);
        conv(&mut out, &format!("{p}.conv3"), &mut b.conv3);
        bn(&mut out, &format!("{p}.bn3"), &mut b.bn3);
        if let Some((c, n)) = &mut b.shortcut {
            conv(&mut out, &format!("{p}.shortcut.0"), c);
            bn(&mut out, &format!("{p}.shortcut.1"), n);
        }
    }
    dense(&mut out, "student", &mut m.student);
    dense(&mut out, "hidden", &mut m.hidden);
    dense(&mut out, "target", &mut m.target);
    out
}

fn ck_err(path: &Path, reason: impl Into<String>) -> NnError {
    NnError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Saves the model (parameters, running statistics, momentum) and `state` atomically. Takes
/// `&mut` only to share the tensor list with loading; nothing is changed.
pub fn save(model: &mut CifarModel, state: TrainingState, path: &Path) -> Result<()> {
    let dev = Device::Cpu;
    let mut tensors = HashMap::new();
    for (name, shape, v) in named(model) {
        tensors.insert(name, Tensor::from_slice(v, shape, &dev)?);
    }
    let counter = |v: u64| i64::try_from(v).map_err(|_| ck_err(path, format!("counter {v}")));
    let meta = [FORMAT_VERSION, counter(state.epoch)?, counter(state.step)?];
    tensors.insert(META.to_string(), Tensor::from_slice(&meta, 3, &dev)?);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    candle_core::safetensors::save(&tensors, &tmp)
        .map_err(|e| ck_err(path, format!("writing: {e}")))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(crate::error::io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(crate::error::io_err(path))
}

/// Loads a checkpoint into `model` (which fixes the architecture); on error `model` is unchanged.
pub fn load_into(model: &mut CifarModel, path: &Path) -> Result<TrainingState> {
    let tensors = candle_core::safetensors::load(path, &Device::Cpu)
        .map_err(|e| ck_err(path, format!("not a readable safetensors file: {e}")))?;
    let meta = tensors
        .get(META)
        .filter(|t| t.dtype() == DType::I64 && t.dims() == [3])
        .ok_or_else(|| ck_err(path, format!("missing or malformed {META}")))?
        .to_vec1::<i64>()?;
    if meta[0] != FORMAT_VERSION {
        return Err(ck_err(path, format!("format version {}", meta[0])));
    }
    let counter = |v: i64| u64::try_from(v).map_err(|_| ck_err(path, format!("counter {v}")));
    let state = TrainingState {
        epoch: counter(meta[1])?,
        step: counter(meta[2])?,
    };
    let mut slots = named(model);
    if tensors.len() != slots.len() + 1 {
        return Err(ck_err(
            path,
            format!(
                "{} tensors, this CIFAR model has {}",
                tensors.len(),
                slots.len() + 1
            ),
        ));
    }
    let mut values = Vec::with_capacity(slots.len());
    for (name, shape, _) in &slots {
        let t = tensors
            .get(name)
            .ok_or_else(|| ck_err(path, format!("missing tensor {name}")))?;
        if t.dtype() != DType::F32 || t.dims() != shape.as_slice() {
            return Err(ck_err(
                path,
                format!(
                    "{name} is {:?} {:?}, expected F32 {shape:?}",
                    t.dtype(),
                    t.dims()
                ),
            ));
        }
        let v = t.flatten_all()?.to_vec1::<f32>()?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(ck_err(path, format!("{name} holds non-finite values")));
        }
        values.push(v);
    }
    for ((_, _, slot), v) in slots.iter_mut().zip(values) {
        **slot = v;
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cifar::CONTEXT_DIM;
    use crate::cifar_data::generate_shapes;
    use crate::dense::GradMode;
    use crate::dpn::DpnConfig;

    #[test]
    fn round_trip_resumes_identically_and_bad_files_change_nothing() {
        let dir = std::env::temp_dir().join(format!("bt-nn-cifar-ck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.safetensors");
        let d = generate_shapes(4, 1).normalized().unwrap();
        let (x, y) = (d.images(), d.labels());
        let ctx = vec![0.1; 4 * CONTEXT_DIM];
        let sgd = GradMode::Sgd {
            lr: 0.01,
            momentum: 0.9,
        };
        let mut a = CifarModel::with_config(DpnConfig::tiny(), 4);
        a.step(x, y, &ctx, sgd, false).unwrap();
        save(&mut a, TrainingState { epoch: 1, step: 9 }, &path).unwrap();
        let mut b = CifarModel::with_config(DpnConfig::tiny(), 5);
        assert_eq!(
            load_into(&mut b, &path).unwrap(),
            TrainingState { epoch: 1, step: 9 }
        );
        assert_eq!(a.logits(x).unwrap(), b.logits(x).unwrap()); // running statistics too
        let la = a.step(x, y, &ctx, sgd, false).unwrap();
        let lb = b.step(x, y, &ctx, sgd, false).unwrap();
        assert_eq!(la, lb); // momentum restored
        assert_eq!(a.trunk.stem.w, b.trunk.stem.w);

        // another architecture's checkpoint is refused without touching the model
        let mut big = CifarModel::new(0);
        let before = big.trunk.stem.w.clone();
        let err = load_into(&mut big, &path).unwrap_err().to_string();
        assert!(
            err.contains("expected F32") || err.contains("tensors"),
            "{err}"
        );
        assert_eq!(big.trunk.stem.w, before);
        std::fs::write(&path, b"junk").unwrap();
        assert!(
            load_into(&mut b, &path)
                .unwrap_err()
                .to_string()
                .contains("not a readable")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
