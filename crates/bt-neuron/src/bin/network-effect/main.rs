//! The network effect: does a new neuron that joins trained peers learn faster than the same
//! neuron alone?
//!
//! One run, on loopback, with real axons, dendrites and gossip:
//! 1. two peers A and B find each other and train together for `--pretrain` steps (with
//!    `--remote-learning on`, the default, each one's served encoder — forward network and
//!    student — also learns from the other's `Backward` gradients);
//! 2. A and B stop training but keep serving; for each seed of `--seeds` (one at a time) a new
//!    neuron C joins them and trains for `--steps` steps, its test accuracy measured every
//!    `--every` steps;
//! 3. the same neuron alone (same seed: same initial weights, same data order; no peers)
//!    trains for the same steps, measured the same way.
//!
//! What a peer serves is its encoding, the forward network over `[image, student(image)]`
//! (Release 1's `local_hidden`), which the labels train; C's network path takes the peers'
//! joined encodings as context and C's student distils them. C is measured two ways: through
//! its local path (its own student as context, the head a neuron is scored by) and through its
//! network path (the peers' encodings, averaged, as context; the router's gates are not used
//! for this evaluation). A nearest-class-mean probe says how much class information the peers'
//! answers carry compared with an untrained model's. Prints, per seed and averaged over the
//! seeds, the table (accuracy at each checkpoint, steps to reach each threshold), how many
//! peers answered per step and the distillation loss, and, with several seeds, each path's
//! final accuracy (mean, min–max), its difference from alone seed by seed, and every seed's
//! steps to each threshold; writes the PNG of the mean curves with their min–max band over the
//! seeds (`--out`, default `docs/network_effect.png`).
//!
//! With `--labels N` the new neuron (joined and alone alike) has only `N` labelled training
//! images, a random subset per seed, repeated for the steps; the peers still train on all
//! 60,000. Its student distils the peers' encodings of those same `N` images only (the runtime
//! has no unlabelled batches). The plot then goes to `docs/network_effect_labels{N}.png`.
//!
//! The README ("Benchmarks", Network effect) keeps the results with the command that produced
//! them. In short: the network path reaches each threshold in fewer steps than alone, with or
//! without remote learning. The local path gains nothing yet: over a few hundred steps the
//! student's distillation loss falls too little for its output to be a useful imitation of the
//! peers' encodings, and over longer runs it stays level with alone while the network path
//! keeps its lead until the two meet just under the peers' own accuracy. Before synapses served
//! their encodings they served their students, which carry no label information, and there was
//! no speed-up at all.
//!
//! `cargo run --release -p bt-neuron --bin network-effect -- [--pretrain 400] [--steps 300]
//!  [--every 25] [--test 2000] [--seeds 7,8,9 | --seed 7] [--remote-learning on|off]
//!  [--remote-scale F] [--remote-clip F] [--labels N] [--out FILE] [--font TTF]`

mod plot;
mod scarce;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bt_neuron::identity::load_identity;
use bt_neuron::trainer::TrainerConfig;
use bt_neuron::{Neuron, NeuronConfig, RemoteLearning};
use bt_nn::mnist::{CONTEXT_DIM, IMAGE_DIM};
use bt_nn::{Dataset, MnistModel, accuracy, default_mnist_dir};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    pretrain: usize,
    steps: usize,
    every: usize,
    test: usize,
    seeds: Vec<u64>,
    remote_learning: bool,
    remote_scale: f32,
    remote_clip: f32,
    /// 0: the new neuron trains on the full training set; else on this many labelled images.
    labels: usize,
    out: PathBuf,
    font: Option<PathBuf>,
    data: PathBuf,
}

fn value<'a>(args: &'a [String], name: &str) -> Res<Option<&'a str>> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(Some(
            args.get(i + 1).ok_or(format!("{name} needs a value"))?,
        )),
        None => Ok(None),
    }
}

fn parse<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Res<T>
where
    T::Err: std::error::Error + 'static,
{
    Ok(match value(args, name)? {
        Some(v) => v.parse()?,
        None => default,
    })
}

fn args() -> Res<Args> {
    let a: Vec<String> = std::env::args().collect();
    let remote_learning = match value(&a, "--remote-learning")? {
        None | Some("on") => true,
        Some("off") => false,
        Some(other) => return Err(format!("--remote-learning on|off, not {other}").into()),
    };
    let labels: usize = parse(&a, "--labels", 0)?;
    Ok(Args {
        labels,
        pretrain: parse(&a, "--pretrain", 400)?,
        steps: parse(&a, "--steps", 300)?,
        every: parse::<usize>(&a, "--every", 25)?.max(1),
        test: parse(&a, "--test", 2000)?,
        seeds: match value(&a, "--seeds")? {
            Some(list) => list
                .split(',')
                .map(|v| v.trim().parse::<u64>())
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![parse(&a, "--seed", 7)?],
        },
        remote_learning,
        remote_scale: parse(&a, "--remote-scale", RemoteLearning::default().scale)?,
        remote_clip: parse(&a, "--remote-clip", RemoteLearning::default().max_norm)?,
        out: value(&a, "--out")?.map(PathBuf::from).unwrap_or_else(|| {
            let name = match labels {
                0 => "network_effect.png".to_string(),
                n => format!("network_effect_labels{n}.png"),
            };
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../docs")
                .join(name)
        }),
        font: value(&a, "--font")?.map(PathBuf::from),
        data: value(&a, "--data")?
            .map(PathBuf::from)
            .unwrap_or_else(default_mnist_dir),
    })
}

fn neuron_config(bootstrap: Vec<String>) -> NeuronConfig {
    NeuronConfig {
        remote_ip: Some("127.0.0.1".into()),
        gossip_interval: Duration::from_millis(200),
        bootstrap,
        ..NeuronConfig::default()
    }
}

async fn start(
    dir: &Path,
    name: &str,
    bootstrap: Vec<String>,
    model: &MnistModel,
    learning: Option<RemoteLearning>,
) -> Res<Neuron<MnistModel>> {
    let cfg = neuron_config(bootstrap);
    let identity = load_identity(&dir.join(format!("{name}.key")))?;
    Ok(Neuron::start(&cfg, &identity, model.clone(), learning).await?)
}

async fn wait_for(neuron: &Neuron<MnistModel>, counts: (usize, usize)) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while neuron.source.counts() != counts {
        if Instant::now() > deadline {
            return Err(format!(
                "gossip: expected nP|nS {}|{}, have {:?}",
                counts.0,
                counts.1,
                neuron.source.counts()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn trainer_config(seed: u64, max_steps: usize) -> TrainerConfig {
    TrainerConfig {
        max_steps,
        // quiet: the table is the output
        log_every: usize::MAX,
        seed,
        ..TrainerConfig::default()
    }
}

/// Accuracy through the network path: the test images with a given context (the peers'
/// answers to them).
fn accuracy_with(model: &MnistModel, test: &Dataset, context: &[f32]) -> bt_nn::Result<f64> {
    const CHUNK: usize = 500;
    let mut correct = 0usize;
    for ((x, y), ctx) in test
        .images()
        .chunks(CHUNK * IMAGE_DIM)
        .zip(test.labels().chunks(CHUNK))
        .zip(context.chunks(CHUNK * CONTEXT_DIM))
    {
        let logits = model.logits_with_context(x, ctx)?;
        correct += logits
            .chunks_exact(10)
            .zip(y)
            .filter(|(row, y)| {
                let best = row
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    );
                best.0 == usize::from(**y)
            })
            .count();
    }
    Ok(correct as f64 / test.len().max(1) as f64)
}

/// The context the peers' served encodings give the test images, averaged over the peers.
fn peer_context(peers: &[Arc<MnistModel>], test: &Dataset) -> bt_nn::Result<Vec<f32>> {
    let mut sum = vec![0.0f32; test.len() * CONTEXT_DIM];
    for p in peers {
        let out = p.encode(test.images())?;
        sum.iter_mut().zip(out).for_each(|(s, o)| *s += o);
    }
    let n = peers.len().max(1) as f32;
    sum.iter_mut().for_each(|s| *s /= n);
    Ok(sum)
}

/// How much the class shows in a context: nearest-class-mean accuracy, class means taken on
/// the first half of the test images and scored on the second half. A diagnostic of what the
/// peers' students learned (their random initial features score well above chance too).
fn class_mean_probe(context: &[f32], labels: &[u8]) -> f64 {
    let n = labels.len();
    let half = n / 2;
    let mut means = vec![0.0f64; 10 * CONTEXT_DIM];
    let mut counts = [0usize; 10];
    for (row, &y) in context.chunks(CONTEXT_DIM).zip(labels).take(half) {
        let c = usize::from(y);
        counts[c] += 1;
        for (m, v) in means[c * CONTEXT_DIM..(c + 1) * CONTEXT_DIM]
            .iter_mut()
            .zip(row)
        {
            *m += f64::from(*v);
        }
    }
    for (c, &k) in counts.iter().enumerate() {
        means[c * CONTEXT_DIM..(c + 1) * CONTEXT_DIM]
            .iter_mut()
            .for_each(|m| *m /= k.max(1) as f64);
    }
    let correct = context
        .chunks(CONTEXT_DIM)
        .zip(labels)
        .skip(half)
        .filter(|(row, y)| {
            let dist = |c: usize| -> f64 {
                means[c * CONTEXT_DIM..(c + 1) * CONTEXT_DIM]
                    .iter()
                    .zip(row.iter())
                    .map(|(m, v)| (m - f64::from(*v)).powi(2))
                    .sum()
            };
            let best = (0..10).min_by(|&a, &b| dist(a).total_cmp(&dist(b)));
            best == Some(usize::from(**y))
        })
        .count();
    correct as f64 / (n - half).max(1) as f64
}

type Curve = Arc<Mutex<Vec<(u64, f64)>>>;

/// Trains `neuron` from `model` for `steps`, measuring test accuracy every `every` steps
/// through the local path and, given the peers' context, through the network path.
async fn measured_run(
    neuron: &mut Neuron<MnistModel>,
    model: MnistModel,
    seed: u64,
    a: &Args,
    train: &Arc<Dataset>,
    test: &Arc<Dataset>,
    network: Option<Arc<Vec<f32>>>,
) -> Res<(Vec<(u64, f64)>, Vec<(u64, f64)>)> {
    let local: Curve = Arc::new(Mutex::new(vec![(0, accuracy(&model, test)? * 100.0)]));
    let net: Curve = Arc::new(Mutex::new(Vec::new()));
    if let Some(ctx) = &network {
        net.lock()
            .map_err(|_| "poisoned")?
            .push((0, accuracy_with(&model, test, ctx)? * 100.0));
    }
    let (rec_local, rec_net) = (local.clone(), net.clone());
    let (every, eval) = (a.every as u64, test.clone());
    // diagnostics of the joined run: how many peers answered, how well the student imitates
    let diag = Arc::new(Mutex::new(Diagnostics::default()));
    let joined = network.is_some();
    let rec_diag = diag.clone();
    let trainer = neuron
        .trainer(trainer_config(seed, a.steps), model)?
        .with_hook(move |e| {
            if let Ok(mut d) = rec_diag.lock() {
                d.observe(e.step, e.answered, e.losses.distillation, every);
            }
            if e.step % every != 0 {
                return;
            }
            if let (Ok(acc), Ok(mut c)) = (accuracy(e.model, &eval), rec_local.lock()) {
                c.push((e.step, acc * 100.0));
            }
            if let Some(ctx) = &network
                && let (Ok(acc), Ok(mut c)) = (accuracy_with(e.model, &eval, ctx), rec_net.lock())
            {
                c.push((e.step, acc * 100.0));
            }
        });
    let train = match a.labels {
        0 => train.clone(),
        n => {
            let examples = a.steps * TrainerConfig::default().train.batch_size;
            Arc::new(scarce::labelled_subset(train, n, seed, examples)?)
        }
    };
    let test = test.clone();
    tokio::task::spawn_blocking(move || trainer.run(&train, &test, 0, 0)).await??;
    let local = local.lock().map_err(|_| "poisoned")?.clone();
    let net = net.lock().map_err(|_| "poisoned")?.clone();
    if joined && let Ok(d) = diag.lock() {
        println!(
            "seed {seed}, joined: peers answering per step {:.2} on average; distillation loss \
             (mean per {} steps): {}",
            d.answered as f64 / d.steps.max(1) as f64,
            a.every,
            d.distillation
                .iter()
                .map(|(s, l)| format!("{s}: {l:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok((local, net))
}

#[derive(Default)]
struct Diagnostics {
    steps: u64,
    answered: usize,
    window: (f64, u64),
    distillation: Vec<(u64, f64)>,
}

impl Diagnostics {
    fn observe(&mut self, step: u64, answered: usize, distillation: f32, every: u64) {
        self.steps += 1;
        self.answered += answered;
        self.window.0 += f64::from(distillation);
        self.window.1 += 1;
        if step.is_multiple_of(every) {
            self.distillation
                .push((step, self.window.0 / self.window.1.max(1) as f64));
            self.window = (0.0, 0);
        }
    }
}

/// The pointwise mean of curves measured at the same steps.
fn mean_curve(curves: &[Vec<(u64, f64)>]) -> Vec<(u64, f64)> {
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(i, &(step, _))| {
            let vals: Vec<f64> = curves
                .iter()
                .filter_map(|c| c.get(i).map(|p| p.1))
                .collect();
            (step, vals.iter().sum::<f64>() / vals.len().max(1) as f64)
        })
        .collect()
}

fn print_tables(
    solo: &[(u64, f64)],
    joined: &[(u64, f64)],
    joined_net: &[(u64, f64)],
    thresholds: &[f64],
) {
    println!(
        "\n| step | alone | joined: own student as context (local path) | joined: peers' answers \
         as context (network path) |\n|---:|---:|---:|---:|"
    );
    for ((s, j), n) in solo.iter().zip(joined).zip(joined_net) {
        println!("| {} | {:.2}% | {:.2}% | {:.2}% |", s.0, s.1, j.1, n.1);
    }
    println!(
        "\n| steps to reach | alone | joined, local path | joined, network path |\n|---|---:|---:|---:|"
    );
    for &threshold in thresholds {
        println!(
            "| {threshold:.0}% | {} | {} | {} |",
            steps_to(solo, threshold),
            steps_to(joined, threshold),
            steps_to(joined_net, threshold)
        );
    }
}

fn steps_to(points: &[(u64, f64)], threshold: f64) -> String {
    points
        .iter()
        .find(|p| p.1 >= threshold)
        .map_or_else(|| "not reached".into(), |p| p.0.to_string())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let a = args()?;
    let started = Instant::now();
    let (train, test) = Dataset::load_dir(&a.data)?;
    let (train, test) = (Arc::new(train), Arc::new(test.head(a.test)));
    let dir = std::env::temp_dir().join(format!("bt-network-effect-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let learning = a.remote_learning.then_some(RemoteLearning {
        scale: a.remote_scale,
        max_norm: a.remote_clip,
    });
    println!(
        "network effect: peers pretrain {} steps (remote learning {:?}), then the new neuron \
         trains {} steps on {}; test accuracy on {} test images every {} steps",
        a.pretrain,
        learning,
        a.steps,
        match a.labels {
            0 => "the full training set".to_string(),
            n => format!("{n} labelled images (a random subset per seed; the peers have all)"),
        },
        test.len(),
        a.every
    );

    // 1. two peers train together
    let mut peer_a = start(&dir, "a", vec![], &MnistModel::new(1), learning).await?;
    let boot = vec![peer_a.source.local_addr().to_string()];
    let mut peer_b = start(&dir, "b", boot.clone(), &MnistModel::new(2), learning).await?;
    wait_for(&peer_a, (1, 2)).await?;
    wait_for(&peer_b, (1, 2)).await?;
    let mut runs = Vec::new();
    for (i, p) in [&mut peer_a, &mut peer_b].into_iter().enumerate() {
        let trainer = p.trainer(
            trainer_config(100 + i as u64, a.pretrain),
            MnistModel::new(1 + i as u64),
        )?;
        let (train, test) = (train.clone(), test.clone());
        runs.push(tokio::task::spawn_blocking(move || {
            trainer.run(&train, &test, 0, 0)
        }));
    }
    for r in runs {
        r.await??;
    }
    println!(
        "peers pretrained in {:.0}s; remote gradients sent A→B {} and B→A {}",
        started.elapsed().as_secs_f64(),
        peer_a.stats.sent.load(std::sync::atomic::Ordering::Relaxed),
        peer_b.stats.sent.load(std::sync::atomic::Ordering::Relaxed),
    );

    // 2. for each seed, a new neuron joins them (one at a time; the peers are frozen now)
    let peers = [peer_a.served.snapshot(), peer_b.served.snapshot()];
    let context = Arc::new(peer_context(&peers, &test)?);
    let untrained = peer_context(&[Arc::new(MnistModel::new(1))], &test)?;
    println!(
        "class information in the context (nearest class mean on held-out test images): \
         trained peers' answers {:.2}%, an untrained model's answer {:.2}%",
        class_mean_probe(&context, test.labels()) * 100.0,
        class_mean_probe(&untrained, test.labels()) * 100.0
    );
    let mut joined_runs = Vec::new();
    for &seed in &a.seeds {
        // the previous joiner must have left the peers' tables, so this one sees only A and B
        wait_for(&peer_a, (1, 2)).await?;
        wait_for(&peer_b, (1, 2)).await?;
        let fresh = MnistModel::new(seed);
        let mut joiner = start(&dir, &format!("c{seed}"), boot.clone(), &fresh, None).await?;
        wait_for(&joiner, (2, 3)).await?;
        let t = Instant::now();
        let run = measured_run(
            &mut joiner,
            fresh,
            seed,
            &a,
            &train,
            &test,
            Some(context.clone()),
        )
        .await?;
        println!("seed {seed}: joined run {:.0}s", t.elapsed().as_secs_f64());
        joiner.shutdown().await;
        joined_runs.push(run);
    }
    peer_a.shutdown().await;
    peer_b.shutdown().await;

    // 3. the same neurons alone
    let mut solo_runs = Vec::new();
    for &seed in &a.seeds {
        let fresh = MnistModel::new(seed);
        let mut alone = start(&dir, &format!("alone{seed}"), vec![], &fresh, None).await?;
        let t = Instant::now();
        let (solo, _) = measured_run(&mut alone, fresh, seed, &a, &train, &test, None).await?;
        println!("seed {seed}: alone run {:.0}s", t.elapsed().as_secs_f64());
        alone.shutdown().await;
        solo_runs.push(solo);
    }
    let _ = std::fs::remove_dir_all(&dir);

    // with few labels the new neuron alone plateaus lower, so the table starts lower
    let thresholds: &[f64] = match a.labels {
        0 => &[80.0, 85.0, 90.0, 92.0, 94.0],
        _ => &[60.0, 70.0, 80.0, 85.0, 90.0],
    };
    for ((seed, solo), (joined, joined_net)) in a.seeds.iter().zip(&solo_runs).zip(&joined_runs) {
        println!("\n### seed {seed}");
        print_tables(solo, joined, joined_net, thresholds);
    }
    let local_runs: Vec<_> = joined_runs.iter().map(|r| r.0.clone()).collect();
    let net_runs: Vec<_> = joined_runs.iter().map(|r| r.1.clone()).collect();
    let solo = mean_curve(&solo_runs);
    let joined = mean_curve(&local_runs);
    let joined_net = mean_curve(&net_runs);
    if a.seeds.len() > 1 {
        println!("\n### mean over seeds {:?}", a.seeds);
        print_tables(&solo, &joined, &joined_net, thresholds);
        scarce::print_summary(
            &a.seeds,
            &solo_runs,
            &[
                ("joined, local path", local_runs.clone()),
                ("joined, network path", net_runs.clone()),
            ],
            thresholds,
        );
    }
    let band = |runs: &[Vec<(u64, f64)>]| {
        (runs.len() > 1).then(|| {
            let b = scarce::band(runs);
            (b.low, b.high)
        })
    };

    let font = plot::register_font(a.font.as_deref());
    let curves = [
        plot::Curve {
            name: "new neuron alone".into(),
            points: solo,
            band: band(&solo_runs),
        },
        plot::Curve {
            name: format!(
                "joining two peers ({} steps trained): local path, own student as context",
                a.pretrain
            ),
            points: joined,
            band: band(&local_runs),
        },
        plot::Curve {
            name: "joining two peers: network path, peers' encodings as context".into(),
            points: joined_net,
            band: band(&net_runs),
        },
    ];
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let setting = match a.labels {
        0 => "MNIST".to_string(),
        n => format!("MNIST, new neuron with {n} labels"),
    };
    let title = if a.seeds.len() > 1 {
        format!(
            "{setting}: alone vs joining two trained peers (mean, min–max of {} seeds)",
            a.seeds.len()
        )
    } else {
        format!("{setting}: alone vs joining two trained peers")
    };
    plot::draw(&a.out, &title, &curves, font.is_some())?;
    match font {
        Some(f) => println!("\nplot: {} (font {})", a.out.display(), f.display()),
        None => println!(
            "\nplot: {} (no TrueType font found, drawn without text; pass --font FILE.ttf)",
            a.out.display()
        ),
    }
    println!("total {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}
