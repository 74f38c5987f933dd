//! Trains the CIFAR model alone on the generated shapes set (or real CIFAR-10) and prints the
//! test-accuracy curve; `--dump` writes the generated set as CIFAR-10 binary batches instead, so
//! `bench/torch_cifar_train.py` can train the same architecture on the same images.
//!
//! `cargo run --release -p bt-nn --bin cifar-train -- [--config cifar|tiny] [--train N]
//!  [--test N] [--epochs N] [--lr F] [--momentum F] [--batch N] [--seed N] [--eval-every N] [--lr-drop-at EPOCH]
//!  [--context batch|running] [--small-shapes] [--data DIR] [--dump DIR] [--trace DIR --steps N]`
//!
//! `--trace DIR` saves the fresh model to `DIR/before.safetensors`, runs `--steps` SGD steps on
//! the first batches of the training set in order and saves `DIR/after.safetensors`, for
//! `torch_cifar_train.py --trace DIR` to replay and compare tensor by tensor.

use std::path::PathBuf;
use std::time::Instant;

use bt_nn::accuracy;
use bt_nn::checkpoint;
use bt_nn::cifar_data::{
    self, ShapesConfig, TEST_FILE, TRAIN_FILES, generate_shapes_with, write_batch,
};
use bt_nn::cifar_train::{AloneContext, train_cifar_epoch};
use bt_nn::dpn::DpnConfig;
use bt_nn::{CifarModel, Dataset, GradMode, TrainConfig, TrainingState};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn value<'a>(args: &'a [String], name: &str) -> Res<Option<&'a str>> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(Some(
            args.get(i + 1).ok_or(format!("{name} needs a value"))?,
        )),
        None => Ok(None),
    }
}

fn parsed<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Res<T>
where
    T::Err: std::error::Error + 'static,
{
    Ok(value(args, name)?
        .map(str::parse)
        .transpose()?
        .unwrap_or(default))
}

/// The generated train set (seed `seed`) and test set (seed `seed + 1`, disjoint draws).
fn shapes(
    train: usize,
    test: usize,
    seed: u64,
    cfg: ShapesConfig,
) -> (cifar_data::RawImages, cifar_data::RawImages) {
    (
        generate_shapes_with(train, seed, cfg),
        generate_shapes_with(test, seed.wrapping_add(1), cfg),
    )
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let n_train: usize = parsed(&args, "--train", 5000)?;
    let n_test: usize = parsed(&args, "--test", 1000)?;
    let seed: u64 = parsed(&args, "--seed", 0)?;
    let mut shape_cfg = ShapesConfig::default();
    if args.iter().any(|a| a == "--small-shapes") {
        shape_cfg = ShapesConfig::small();
    }
    if let Some(dir) = value(&args, "--dump")? {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        let (train, test) = shapes(n_train, n_test, seed, shape_cfg);
        // the whole training set in the first file: the torch script reads just these two
        write_batch(&dir.join(TRAIN_FILES[0]), &train)?;
        write_batch(&dir.join(TEST_FILE), &test)?;
        println!(
            "wrote {} train and {} test images to {}",
            train.len(),
            test.len(),
            dir.display()
        );
        return Ok(());
    }
    let config = match value(&args, "--config")?.unwrap_or("cifar") {
        "cifar" => DpnConfig::cifar(),
        "tiny" => DpnConfig::tiny(),
        other => return Err(format!("unknown --config {other} (cifar or tiny)").into()),
    };
    let cfg = TrainConfig {
        batch_size: parsed(&args, "--batch", 64)?,
        lr: parsed(&args, "--lr", 0.05)?,
        momentum: parsed(&args, "--momentum", 0.9)?,
    };
    let epochs: u64 = parsed(&args, "--epochs", 4)?;
    let context = match value(&args, "--context")?.unwrap_or("running") {
        "batch" => AloneContext::Batch,
        "running" => AloneContext::Running,
        other => return Err(format!("unknown --context {other} (batch or running)").into()),
    };
    let every: u64 = parsed(&args, "--eval-every", 50)?;
    let (train, test) = match value(&args, "--data")? {
        Some(dir) => cifar_data::load_dir(&PathBuf::from(dir))?,
        None => {
            let (a, b) = shapes(n_train, n_test, seed, shape_cfg);
            (a.normalized()?, b.normalized()?)
        }
    };
    println!(
        "{} train, {} test, {cfg:?}, {epochs} epochs",
        train.len(),
        test.len()
    );
    let mut model = CifarModel::with_config(config, seed);
    if let Some(dir) = value(&args, "--trace")? {
        return trace(&mut model, &train, cfg, parsed(&args, "--steps", 3)?, dir);
    }
    let t0 = Instant::now();
    let mut global = 0u64;
    let mut window = (0.0f64, 0u64);
    let drop_at: u64 = parsed(&args, "--lr-drop-at", u64::MAX)?;
    for epoch in 0..epochs {
        let mut result = Ok(());
        // a tenth of the rate from `--lr-drop-at` on: the weights settle, and the running
        // statistics the evaluation uses catch up with them
        let cfg = if epoch >= drop_at {
            TrainConfig {
                lr: cfg.lr / 10.0,
                ..cfg
            }
        } else {
            cfg
        };
        let report =
            train_cifar_epoch(&mut model, &train, cfg, context, seed + epoch, |m, _, l| {
                global += 1;
                window.0 += f64::from(l.local);
                window.1 += 1;
                if global.is_multiple_of(every) && result.is_ok() {
                    match accuracy(m, &test) {
                        Ok(acc) => println!(
                            "step {global} local loss {:.4} test acc {:.4} ({:.0} s)",
                            window.0 / window.1 as f64,
                            acc,
                            t0.elapsed().as_secs_f64()
                        ),
                        Err(e) => result = Err(e),
                    }
                    window = (0.0, 0);
                }
            })?;
        result?;
        println!(
            "epoch {} done: mean losses {:?}, test acc {:.4}",
            epoch + 1,
            report.mean,
            accuracy(&model, &test)?
        );
    }
    Ok(())
}

fn trace(
    model: &mut CifarModel,
    train: &Dataset,
    cfg: TrainConfig,
    steps: usize,
    dir: &str,
) -> Res<()> {
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    checkpoint::save(
        model,
        TrainingState::default(),
        &dir.join("before.safetensors"),
    )?;
    let mode = GradMode::Sgd {
        lr: cfg.lr,
        momentum: cfg.momentum,
    };
    let (b, dim) = (cfg.batch_size, train.dim());
    for i in 0..steps {
        let x = train
            .images()
            .get(i * b * dim..(i + 1) * b * dim)
            .ok_or("not enough training images for --steps")?;
        let y = &train.labels()[i * b..(i + 1) * b];
        let ctx = model.student(x)?;
        let l = model.step(x, y, &ctx, mode, false)?;
        println!("trace step {i}: {l:?}");
    }
    checkpoint::save(
        model,
        TrainingState::default(),
        &dir.join("after.safetensors"),
    )?;
    Ok(())
}
