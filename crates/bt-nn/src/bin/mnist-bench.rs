//! Training speed of the MNIST synapse: ours vs plain candle autograd vs the PyTorch reference,
//! measured in the same run on the same machine.
//!
//! `cargo run --release -p bt-nn --bin mnist-bench -- [--steps N] [--rounds N] [--candle-steps N]
//! [--no-torch]`
//!
//! Each step does the reference's work: a no-grad student forward for the context (a neuron
//! alone), then one training step with SGD momentum. PyTorch runs
//! `../shared/bench/torch_mnist_reference.py` (or `BT_TORCH_REFERENCE`) with `BT_TORCH_PYTHON`
//! (default `python3`) when that interpreter can import torch, and is skipped with a message
//! otherwise. Each round runs ours and then PyTorch; the summary gives the median of each and
//! its spread (min–max) over the rounds.

use std::process::Command;
use std::time::Instant;

use bt_nn::candle_ref::{CandleMnist, batch_tensors};
use bt_nn::{Batch, Dataset, GradMode, MnistModel, default_mnist_dir};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn arg(args: &[String], name: &str, default: usize) -> Res<usize> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .parse()?),
        None => Ok(default),
    }
}

fn batches(data: &Dataset, n: usize) -> Res<Vec<Batch>> {
    let mut out = Vec::with_capacity(n);
    let mut epoch = data.epoch(64, 0);
    for _ in 0..n {
        let mut b = Batch::default();
        if !epoch.next_into(&mut b)? {
            epoch = data.epoch(64, out.len() as u64);
            epoch.next_into(&mut b)?;
        }
        out.push(b);
    }
    Ok(out)
}

fn ours(data: &[Batch], warmup: usize) -> Res<f64> {
    let mut model = MnistModel::new(0);
    let sgd = GradMode::Sgd {
        lr: 0.01,
        momentum: 0.9,
    };
    let mut ctx = Vec::new();
    let mut scratch = Vec::new();
    let mut t0 = Instant::now();
    let mut last = None;
    for (i, b) in data.iter().enumerate() {
        if i == warmup {
            t0 = Instant::now();
        }
        model.student_into(&b.x, &mut scratch, &mut ctx)?;
        last = Some(model.step(&b.x, &b.y, &ctx, sgd, false)?);
    }
    let rate = (data.len() - warmup) as f64 / t0.elapsed().as_secs_f64();
    if let Some(l) = last {
        println!(
            "  last losses: local {:.4} network {:.4} distillation {:.5}",
            l.local, l.network, l.distillation
        );
    }
    Ok(rate)
}

fn plain_candle(data: &[Batch], warmup: usize) -> Res<f64> {
    let mut model = CandleMnist::from_model(&MnistModel::new(0))?;
    let mut t0 = Instant::now();
    for (i, b) in data.iter().enumerate() {
        if i == warmup {
            t0 = Instant::now();
        }
        let (x, y) = batch_tensors(&b.x, &b.y)?;
        let ctx = model.student(&x)?.detach();
        model.step(&x, &y, &ctx, 0.01, 0.9)?;
    }
    Ok((data.len() - warmup) as f64 / t0.elapsed().as_secs_f64())
}

fn torch(steps: usize) -> Option<f64> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/torch_mnist_reference.py"
    );
    let script = std::env::var("BT_TORCH_REFERENCE").unwrap_or_else(|_| script.to_string());
    let python = std::env::var("BT_TORCH_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let importable = Command::new(&python)
        .args(["-c", "import torch, numpy"])
        .output();
    if !importable.map(|o| o.status.success()).unwrap_or(false) {
        println!(
            "pytorch: skipped ({python} cannot import torch and numpy; `pip install torch numpy`, or point BT_TORCH_PYTHON at a Python that can)"
        );
        return None;
    }
    let data = default_mnist_dir();
    let out = Command::new(&python)
        .arg(&script)
        .args(["--steps", &steps.to_string(), "--data"])
        .arg(&data)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        println!("pytorch: failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    // The reference's summary line: "... = <rate> steps/s; ...".
    text.split("= ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let steps = arg(&args, "--steps", 300)?;
    let candle_steps = arg(&args, "--candle-steps", 40)?;
    let rounds = arg(&args, "--rounds", 1)?.max(1);
    let warmup = 10;
    let (train, _) = Dataset::load_dir(default_mnist_dir())?;
    println!(
        "MNIST synapse, batch 64, SGD lr 0.01 momentum 0.9, rayon threads {}",
        rayon::current_num_threads()
    );
    let data = batches(&train, steps + warmup)?;
    let with_torch = !args.iter().any(|a| a == "--no-torch");
    if candle_steps > 0 {
        let n = candle_steps.min(data.len() - warmup);
        let ours_rate = ours(&data[..n + 3], 3)?;
        let rate = plain_candle(&data[..n + 3], 3)?;
        println!(
            "plain candle autograd: {n} steps, {rate:.1} steps/s; bt-nn over the same steps {ours_rate:.1} ({:.2}x)",
            ours_rate / rate
        );
    }
    // The machine is shared: alternate ours and PyTorch so both see similar load, and report
    // every round's ratio plus the median (the lower middle one for an even count).
    let mut ours_rates = Vec::new();
    let mut torch_rates = Vec::new();
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let ours_rate = ours(&data, warmup)?;
        println!("round {round}: bt-nn dense engine: {steps} steps, {ours_rate:.1} steps/s");
        ours_rates.push(ours_rate);
        if with_torch && let Some(t) = torch(steps) {
            println!(
                "round {round}: ratio bt-nn / pytorch = {:.2}x",
                ours_rate / t
            );
            torch_rates.push(t);
            ratios.push(ours_rate / t);
        }
    }
    summary("bt-nn steps/s", &mut ours_rates);
    summary("pytorch steps/s", &mut torch_rates);
    summary("ratio bt-nn / pytorch", &mut ratios);
    Ok(())
}

/// Prints the median (the lower middle one for an even count) and the range over the rounds.
fn summary(what: &str, values: &mut [f64]) {
    if values.is_empty() {
        return;
    }
    values.sort_by(f64::total_cmp);
    println!(
        "{what}: median {:.2} over {} rounds (min {:.2}, max {:.2})",
        values[(values.len() - 1) / 2],
        values.len(),
        values[0],
        values[values.len() - 1]
    );
}
