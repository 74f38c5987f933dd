//! Trains the MNIST synapse alone for some epochs and prints test accuracy and wall time.
//!
//! `cargo run --release -p bt-nn --bin mnist-train -- [--data DIR] [--epochs N] [--lr F]
//!  [--seed N] [--checkpoint FILE] [--resume]`
//!
//! `--data` takes any directory with the four standard IDX files (default: the vendored
//! MNIST; `/usr/share/datasets/fashion-mnist` for Fashion-MNIST). With `--checkpoint`, a
//! checkpoint is written after every epoch; `--resume` continues from it.

use std::path::PathBuf;
use std::time::Instant;

use bt_nn::checkpoint::{self, TrainingState};
use bt_nn::{
    Dataset, MnistModel, TrainConfig, WeightAverage, accuracy, default_mnist_dir,
    train_epoch_averaged,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn value<'a>(args: &'a [String], name: &str) -> Res<Option<&'a str>> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(Some(
            args.get(i + 1).ok_or(format!("{name} needs a value"))?,
        )),
        None => Ok(None),
    }
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = value(&args, "--data")?
        .map(PathBuf::from)
        .unwrap_or_else(default_mnist_dir);
    let epochs: u64 = value(&args, "--epochs")?
        .map(str::parse)
        .transpose()?
        .unwrap_or(1);
    let seed: u64 = value(&args, "--seed")?
        .map(str::parse)
        .transpose()?
        .unwrap_or(0);
    let mut cfg = TrainConfig::default();
    if let Some(lr) = value(&args, "--lr")? {
        cfg.lr = lr.parse()?;
    }
    let ckpt = value(&args, "--checkpoint")?.map(PathBuf::from);

    let (train, test) = Dataset::load_dir(&dir)?;
    println!(
        "data {} ({} train, {} test), {cfg:?}",
        dir.display(),
        train.len(),
        test.len()
    );
    let (mut model, mut state) = (MnistModel::new(seed), TrainingState::default());
    if let (Some(path), true) = (&ckpt, args.iter().any(|a| a == "--resume")) {
        state = checkpoint::load_into(&mut model, path)?;
        println!(
            "resumed from {} at epoch {} step {}",
            path.display(),
            state.epoch,
            state.step
        );
    }
    // the average is not checkpointed: a resumed run restarts it at the loaded weights
    let mut average = WeightAverage::with_defaults(&model);
    let t0 = Instant::now();
    while state.epoch < epochs {
        let epoch_start = Instant::now();
        let report = train_epoch_averaged(
            &mut model,
            Some(&mut average),
            &train,
            cfg,
            seed.wrapping_add(state.epoch),
            |_, _, _| {},
        )?;
        let epoch_secs = epoch_start.elapsed().as_secs_f64();
        state.epoch += 1;
        state.step += report.steps;
        let acc = accuracy(average.model(), &test)?;
        let last = accuracy(&model, &test)?;
        println!(
            "epoch {}: {} steps in {epoch_secs:.1}s ({:.1} steps/s), mean losses local {:.4} \
             network {:.4} distillation {:.5}; test accuracy {:.2}% (averaged weights; last \
             iterate {:.2}%); total wall {:.1}s",
            state.epoch,
            report.steps,
            report.steps as f64 / epoch_secs,
            report.mean.local,
            report.mean.network,
            report.mean.distillation,
            acc * 100.0,
            last * 100.0,
            t0.elapsed().as_secs_f64()
        );
        if let Some(path) = &ckpt {
            checkpoint::save(&mut model, state, path)?;
        }
    }
    Ok(())
}
