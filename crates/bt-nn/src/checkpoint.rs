//! Checkpoints of the MNIST synapse as safetensors (through candle): weights under PyTorch's
//! state-dict names, the SGD momentum buffers, and the epoch/step counters.
//!
//! Written atomically (temporary file, fsync, rename) so a crash mid-save leaves the previous
//! checkpoint intact. Loading checks every tensor's presence, dtype and shape and names the
//! offending tensor, so a checkpoint of another model is a clear error, not garbage weights.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::error::{NnError, Result};
use crate::mnist::MnistModel;

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

/// Saves weights, momentum buffers and `state` to `path` atomically.
pub fn save(model: &MnistModel, state: TrainingState, path: &Path) -> Result<()> {
    let dev = Device::Cpu;
    let mut tensors = HashMap::new();
    for (name, l) in model.layers() {
        let shape = (l.out_dim, l.in_dim);
        tensors.insert(
            format!("{name}.weight"),
            Tensor::from_slice(&l.w, shape, &dev)?,
        );
        tensors.insert(
            format!("{name}.bias"),
            Tensor::from_slice(&l.b, l.out_dim, &dev)?,
        );
        tensors.insert(
            format!("{name}.weight.momentum"),
            Tensor::from_slice(&l.gw, shape, &dev)?,
        );
        tensors.insert(
            format!("{name}.bias.momentum"),
            Tensor::from_slice(&l.gb, l.out_dim, &dev)?,
        );
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

/// Loads a checkpoint into `model` (weights and momentum) and returns its training state.
/// On error `model` is left unchanged.
pub fn load_into(model: &mut MnistModel, path: &Path) -> Result<TrainingState> {
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
    // read everything before touching the model, so a bad file changes nothing
    let mut loaded = Vec::new();
    for (name, l) in model.layers() {
        let w = [l.out_dim, l.in_dim];
        let b = [l.out_dim];
        let read = |suffix: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let t = take(
                &tensors,
                path,
                &format!("{name}.{suffix}"),
                DType::F32,
                shape,
            )?;
            let v = t.flatten_all()?.to_vec1::<f32>()?;
            if v.iter().any(|x| !x.is_finite()) {
                return Err(ck_err(
                    path,
                    format!("{name}.{suffix} holds non-finite values"),
                ));
            }
            Ok(v)
        };
        loaded.push([
            read("weight", &w)?,
            read("bias", &b)?,
            read("weight.momentum", &w)?,
            read("bias.momentum", &b)?,
        ]);
    }
    let expected = 4 * loaded.len() + 1;
    if tensors.len() != expected {
        return Err(ck_err(
            path,
            format!(
                "{} tensors, an MNIST synapse checkpoint has {expected}",
                tensors.len()
            ),
        ));
    }
    for ((_, l), [w, b, gw, gb]) in model.layers_mut().into_iter().zip(loaded) {
        (l.w, l.b, l.gw, l.gb) = (w, b, gw, gb);
    }
    Ok(state)
}

/// Loads a checkpoint into a new model.
pub fn load(path: &Path) -> Result<(MnistModel, TrainingState)> {
    let mut model = MnistModel::new(0);
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
        save(&a, TrainingState { epoch: 2, step: 17 }, &path).unwrap();
        let (mut b, state) = load(&path).unwrap();
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
        save(&m, TrainingState::default(), &good).unwrap();
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
}
