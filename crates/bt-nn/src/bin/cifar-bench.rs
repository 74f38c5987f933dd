//! Training speed of the CIFAR model (DPN trunk): bt-nn vs the same model in PyTorch, measured in
//! the same run on the same machine, plus every convolution's forward + backward on the model's
//! own shapes.
//!
//! `cargo run --release -p bt-nn --bin cifar-bench -- [--steps N] [--rounds N] [--batch N]
//! [--conv-reps N] [--python PATH] [--no-torch]`
//!
//! PyTorch runs `crates/bt-nn/bench/torch_cifar_reference.py` with the python named by
//! `--python` or `$BT_TORCH_PYTHON` (default `python3`), with as many threads as rayon uses here
//! (`RAYON_NUM_THREADS`); when that python cannot import torch the bench says so and runs ours
//! alone. Each step does the reference's work: a no-grad student forward for the context (a
//! neuron alone), then one SGD-momentum training step.

use std::collections::HashMap;
use std::process::Command;
use std::time::Instant;

use bt_nn::cifar_data::generate_shapes;
use bt_nn::{CifarModel, ConvScratch, GradMode};

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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

fn ours(batch: usize, steps: usize) -> Res<f64> {
    let data = generate_shapes(4 * batch, 0).normalized()?;
    let (x, y) = (data.images(), data.labels());
    let dim = data.dim();
    let mut model = CifarModel::new(0);
    let sgd = GradMode::Sgd {
        lr: 0.01,
        momentum: 0.9,
    };
    let warmup = 2;
    let mut t0 = Instant::now();
    for i in 0..steps + warmup {
        if i == warmup {
            t0 = Instant::now();
        }
        let k = i % 4;
        let xb = &x[k * batch * dim..(k + 1) * batch * dim];
        let ctx = model.student(xb)?;
        model.step(xb, &y[k * batch..(k + 1) * batch], &ctx, sgd, false)?;
    }
    Ok(steps as f64 / t0.elapsed().as_secs_f64())
}

/// Median forward + backward (input and weight gradients) time of every convolution, in ms.
fn conv_times(batch: usize, reps: usize) -> Vec<(String, f64)> {
    let model = CifarModel::new(0);
    let mut scratch = ConvScratch::default();
    let mut out = Vec::new();
    for (name, conv, (h, w)) in model.trunk.convs() {
        let mut conv = conv.clone();
        let s = conv.spec;
        let Some((ho, wo)) = s.out_hw(h, w) else {
            continue;
        };
        let x: Vec<f32> = (0..batch * s.cin * h * w)
            .map(|i| (i as f32 * 0.013).sin())
            .collect();
        let dy: Vec<f32> = (0..batch * s.cout * ho * wo)
            .map(|i| (i as f32 * 0.007).cos())
            .collect();
        let mut y = vec![0.0; dy.len()];
        let mut dx = vec![0.0; x.len()];
        let mut times = Vec::new();
        for r in 0..reps + 2 {
            let t0 = Instant::now();
            conv.forward(&x, batch, (h, w), &mut y, &mut scratch);
            conv.backward(
                &x,
                batch,
                (h, w),
                &dy,
                Some(&mut dx),
                GradMode::Store,
                &mut scratch,
            );
            if r >= 2 {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        out.push((name, median(&mut times)));
    }
    out
}

struct Torch {
    rate: f64,
    summary: String,
    convs: HashMap<String, f64>,
}

fn torch(python: &str, batch: usize, steps: usize, reps: usize) -> Option<Torch> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bench/torch_cifar_reference.py"
    );
    let importable = Command::new(python).args(["-c", "import torch"]).output();
    if !importable.map(|o| o.status.success()).unwrap_or(false) {
        println!(
            "PyTorch not available ({python} cannot import torch; pass --python or set BT_TORCH_PYTHON): bt-nn alone"
        );
        return None;
    }
    let threads = rayon::current_num_threads().to_string();
    let out = Command::new(python)
        .arg(script)
        .args(["--steps", &steps.to_string(), "--batch", &batch.to_string()])
        .args(["--threads", &threads, "--conv-reps", &reps.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        println!("pytorch: failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let mut convs = HashMap::new();
    let mut rate = None;
    let mut summary = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("pytorch conv ") {
            let mut it = rest.split_whitespace();
            if let (Some(name), Some(ms)) = (it.next(), it.next().and_then(|v| v.parse().ok())) {
                convs.insert(name.to_string(), ms);
            }
        } else if line.contains(" train: ") {
            summary = line.to_string();
            rate = line
                .rsplit("= ")
                .next()?
                .split_whitespace()
                .next()?
                .parse()
                .ok();
        }
    }
    Some(Torch {
        rate: rate?,
        summary,
        convs,
    })
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.2}–{hi:.2}")
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let steps = arg(&args, "--steps", 20)?;
    let rounds = arg(&args, "--rounds", 1)?.max(1);
    let batch = arg(&args, "--batch", 64)?.max(1);
    let reps = arg(&args, "--conv-reps", 5)?.max(1);
    let python = match args.iter().position(|a| a == "--python") {
        Some(i) => args.get(i + 1).ok_or("--python needs a value")?.clone(),
        None => std::env::var("BT_TORCH_PYTHON").unwrap_or_else(|_| "python3".into()),
    };
    let with_torch = !args.iter().any(|a| a == "--no-torch");
    println!(
        "CIFAR model (DPN trunk {} features), batch {batch}, SGD lr 0.01 momentum 0.9, threads {}",
        CifarModel::new(0).trunk.features(),
        rayon::current_num_threads()
    );
    let (mut ours_rates, mut torch_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut conv_ours: HashMap<String, Vec<f64>> = HashMap::new();
    let mut conv_torch: HashMap<String, Vec<f64>> = HashMap::new();
    let mut names = Vec::new();
    for round in 1..=rounds {
        // alternate ours and PyTorch so both see similar load from the rest of the machine
        let rate = ours(batch, steps)?;
        let convs = conv_times(batch, reps);
        names = convs.iter().map(|(n, _)| n.clone()).collect();
        for (n, ms) in convs {
            conv_ours.entry(n).or_default().push(ms);
        }
        print!("round {round}: bt-nn {rate:.3} steps/s");
        ours_rates.push(rate);
        if with_torch && let Some(t) = torch(&python, batch, steps, reps) {
            println!(
                "; pytorch {:.3} steps/s; ratio {:.2}x\n  ({})",
                t.rate,
                rate / t.rate,
                t.summary
            );
            torch_rates.push(t.rate);
            ratios.push(rate / t.rate);
            for (n, ms) in t.convs {
                conv_torch.entry(n).or_default().push(ms);
            }
        } else {
            println!();
        }
    }
    println!("\nper-convolution forward+backward, batch {batch}, median ms over rounds:");
    println!(
        "{:<22} {:>10} {:>10} {:>8}",
        "layer", "bt-nn", "pytorch", "speedup"
    );
    for n in &names {
        let o = median(conv_ours.get_mut(n).ok_or("missing layer")?);
        match conv_torch.get_mut(n) {
            Some(t) => {
                let t = median(t);
                println!("{n:<22} {o:>10.3} {t:>10.3} {:>7.2}x", t / o);
            }
            None => println!("{n:<22} {o:>10.3} {:>10} {:>8}", "-", "-"),
        }
    }
    println!(
        "\ntraining: bt-nn median {:.3} steps/s (spread {}) over {rounds} rounds",
        median(&mut ours_rates.clone()),
        spread(&ours_rates)
    );
    if !ratios.is_empty() {
        println!(
            "training: pytorch median {:.3} steps/s (spread {}); ratio bt-nn/pytorch median {:.2}x (spread {})",
            median(&mut torch_rates.clone()),
            spread(&torch_rates),
            median(&mut ratios.clone()),
            spread(&ratios)
        );
    }
    Ok(())
}
