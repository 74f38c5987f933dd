//! Checkpoints of any model ([`Parameters`]) as safetensors (through candle): every tensor
//! under its PyTorch state-dict name (batch norm's running statistics included), each SGD
//! momentum buffer as `<name>.momentum`, and the epoch/step counters.
//!
//! Written atomically (temporary file, fsync, rename) so a crash mid-save leaves the previous
//! checkpoint intact. Loading checks every tensor's presence, dtype, shape and finiteness and
//! names the offending tensor before the model is touched, so a checkpoint of another model is
//! a clear error, not garbage weights.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::error::{NnError, Result};
use crate::params::Parameters;

/// Format tag stored in the file; bump when the layout changes.
pub const FORMAT_VERSION: i64 = 1;
const META: &str = "meta.format_epoch_step";

/// Where training stands when a checkpoint is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrainingState {
    pub epoch: u64,
    pub step: u64,
}

fn ck_err(path: &Path, reason: impl Into<String>) -> NnError {
    NnError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Saves every tensor of `model` and `state` to `path` atomically. Takes `&mut` only to share
/// the tensor list with loading; nothing is changed.
pub fn save<M: Parameters>(model: &mut M, state: TrainingState, path: &Path) -> Result<()> {
    let dev = Device::Cpu;
    let mut tensors = HashMap::new();
    for s in model.slots() {
        tensors.insert(s.name, Tensor::from_slice(s.values, s.shape, &dev)?);
    }
    let counters = [
        FORMAT_VERSION,
        to_i64(path, state.epoch)?,
        to_i64(path, state.step)?,
    ];
    tensors.insert(META.to_string(), Tensor::from_slice(&counters, 3, &dev)?);
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    candle_core::safetensors::save(&tensors, &tmp)
        .map_err(|e| ck_err(path, format!("writing: {e}")))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(crate::error::io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(crate::error::io_err(path))
}

fn to_i64(path: &Path, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| ck_err(path, format!("counter {v} too large")))
}

/// Loads a checkpoint into `model` (which fixes the architecture) and returns its training
/// state. On error `model` is left unchanged.
pub fn load_into<M: Parameters>(model: &mut M, path: &Path) -> Result<TrainingState> {
    let tensors = candle_core::safetensors::load(path, &Device::Cpu)
        .map_err(|e| ck_err(path, format!("not a readable safetensors file: {e}")))?;
    let meta = take(&tensors, path, META, DType::I64, &[3])?.to_vec1::<i64>()?;
    if meta[0] != FORMAT_VERSION {
        return Err(ck_err(
            path,
            format!(
                "format version {}, this build reads {FORMAT_VERSION}",
                meta[0]
            ),
        ));
    }
    let counter =
        |v: i64| u64::try_from(v).map_err(|_| ck_err(path, format!("negative counter {v}")));
    let state = TrainingState {
        epoch: counter(meta[1])?,
        step: counter(meta[2])?,
    };
    let mut slots = model.slots();
    if tensors.len() != slots.len() + 1 {
        return Err(ck_err(
            path,
            format!(
                "{} tensors, a {} checkpoint has {}",
                tensors.len(),
                M::KIND,
                slots.len() + 1
            ),
        ));
    }
    // read everything before touching the model, so a bad file changes nothing
    let mut values = Vec::with_capacity(slots.len());
    for s in &slots {
        let v = take(&tensors, path, &s.name, DType::F32, &s.shape)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(ck_err(path, format!("{} holds non-finite values", s.name)));
        }
        values.push(v);
    }
    for (s, v) in slots.iter_mut().zip(values) {
        *s.values = v;
    }
    Ok(state)
}

/// Loads a checkpoint into a new model of the standard architecture.
pub fn load<M: crate::NeuronModel>(path: &Path) -> Result<(M, TrainingState)> {
    let mut model = M::seeded(0);
    let state = load_into(&mut model, path)?;
    Ok((model, state))
}

fn take<'a>(
    tensors: &'a HashMap<String, Tensor>,
    path: &Path,
    name: &str,
    dtype: DType,
    shape: &[usize],
) -> Result<&'a Tensor> {
    let t = tensors
        .get(name)
        .ok_or_else(|| ck_err(path, format!("missing tensor {name}")))?;
    if t.dtype() != dtype || t.dims() != shape {
        return Err(ck_err(
            path,
            format!(
                "{name} is {:?} {:?}, expected {dtype:?} {shape:?}",
                t.dtype(),
                t.dims()
            ),
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MnistModel;
    use crate::dense::GradMode;

    fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("bt-nn-ck-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_resumes_identically() {
        let dir = tmpdir("rt");
        let path = dir.join("m.safetensors");
        let mut a = MnistModel::new(5);
        let x = vec![0.3f32; 4 * 784];
        let y = [1u8, 2, 3, 4];
        let ctx = a.student(&x).unwrap();
        let sgd = GradMode::Sgd {
            lr: 0.01,
            momentum: 0.9,
        };
        a.step(&x, &y, &ctx, sgd, false).unwrap();
        save(&mut a, TrainingState { epoch: 2, step: 17 }, &path).unwrap();
        let (mut b, state) = load::<MnistModel>(&path).unwrap();
        assert_eq!(state, TrainingState { epoch: 2, step: 17 });
        // momentum restored: the next step is identical
        let la = a.step(&x, &y, &ctx, sgd, false).unwrap();
        let lb = b.step(&x, &y, &ctx, sgd, false).unwrap();
        assert_eq!(la, lb);
        for ((_, la), (_, lb)) in a.layers().into_iter().zip(b.layers()) {
            assert_eq!(la.w, lb.w);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mismatched_files_are_clear_errors() {
        let dir = tmpdir("bad");
        let other = dir.join("other.safetensors");
        let t = Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap();
        candle_core::safetensors::save(
            &HashMap::from([("student.0.weight".to_string(), t)]),
            &other,
        )
        .unwrap();
        let mut m = MnistModel::new(1);
        let before = m.student1.w.clone();
        let err = load_into(&mut m, &other).unwrap_err().to_string();
        assert!(err.contains("missing tensor meta"), "{err}");
        assert_eq!(m.student1.w, before);

        let garbage = dir.join("garbage.safetensors");
        std::fs::write(&garbage, b"not safetensors").unwrap();
        assert!(
            load_into(&mut m, &garbage)
                .unwrap_err()
                .to_string()
                .contains("not a readable")
        );
        assert!(load_into(&mut m, &dir.join("absent")).is_err());

        // right names, wrong shape
        let good = dir.join("good.safetensors");
        save(&mut m, TrainingState::default(), &good).unwrap();
        let mut tensors = candle_core::safetensors::load(&good, &Device::Cpu).unwrap();
        tensors.insert(
            "target.4.bias".into(),
            Tensor::zeros(11, DType::F32, &Device::Cpu).unwrap(),
        );
        let reshaped = dir.join("reshaped.safetensors");
        candle_core::safetensors::save(&tensors, &reshaped).unwrap();
        let err = load_into(&mut m, &reshaped).unwrap_err().to_string();
        assert!(
            err.contains("target.4.bias") && err.contains("[11]"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cifar_round_trip_resumes_identically_and_bad_files_change_nothing() {
        use crate::CifarModel;
        use crate::cifar::CONTEXT_DIM;
        use crate::cifar_data::generate_shapes;
        use crate::dpn::DpnConfig;

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
