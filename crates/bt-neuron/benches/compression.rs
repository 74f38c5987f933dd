//! Wire compression, measured: `cargo bench -p bt-neuron --bench compression` prints one table
//! with a row per codec:
//! - the bytes of a 1 MiB float32 tensor on the wire, the ratio to float32, and the largest
//!   absolute error of a round trip (values like a served MNIST encoding: a teacher's);
//! - encode and decode throughput (MB/s of float32, median of `ITERS` runs per round);
//! - fan-out throughput: one 1 MiB tensor broadcast to `FANOUT` synapses of an in-process axon
//!   (echo synapse, loopback gRPC, signed), compressed in both directions, requests per second;
//! - MNIST distillation: a student trained `BT_COMPRESSION_STEPS` steps (default 300) against
//!   the encodings of a teacher (trained the same number of steps alone) that reach it through
//!   the codec, then its test accuracy;
//! - the text student: `TextStudent` distilled for `BT_COMPRESSION_TEXT_EPOCHS` epochs (default
//!   4) from MiniLM's embeddings of Lee and fortune sentences, each batch's answer passed through
//!   the codec as a peer's would be, then the cosine of its embeddings to MiniLM's (uncompressed)
//!   on held-out Lee sentences. Skipped, with the reason, without MiniLM or the corpora
//!   (`scripts/fetch-minilm.sh --corpora`); `BT_REQUIRE_MINILM=1` makes that an error.
//!
//! `BT_COMPRESSION_ROUNDS` rounds (default 3), the codecs interleaved within each round; each
//! cell is the median [min–max] over the rounds. The learning columns use a different student
//! seed (and data order) per round, the same for every codec, so the codec is the only
//! difference within a round. Compare rows with the `none` row of the same run; the machine's
//! load moves the speed columns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bt_axon::{Axon, AxonConfig, EchoSynapse};
use bt_crypto::NeuronKey;
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs};
use bt_nn::accuracy;
use bt_nn::mnist::CONTEXT_DIM;
use bt_nn::text::corpus::{corpus_path, fortunes, hold_out_every, lee_sentences};
use bt_nn::text::files::DEBIAN_FORTUNES_DIR;
use bt_nn::text::{
    MINILM_DIM, MiniLm, MinilmFiles, StudentConfig, TextLimits, TextStudent, TokenBatch,
    row_cosines,
};
use bt_nn::{Batch, Dataset, GradMode, MnistModel, default_mnist_dir};
use bt_tensor::compression::{Codec, CodecSet, compress, decompress};
use bt_tensor::{Limits, Modality, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

const MIB_VALUES: usize = (1 << 20) / 4;
const ITERS: usize = 15;
const FANOUT: usize = 16;
const FANOUT_ROUNDS: usize = 8;
const BATCH: usize = 64;
const TEXT_BATCH: usize = 32;
const TEXT_TRAIN: usize = 1200;
const TEXT_HELD_OUT: usize = 150;
const TEXT_FORTUNES: usize = 400;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One codec's figures, one entry per round.
#[derive(Default)]
struct Row {
    bytes: usize,
    err: f32,
    enc: Vec<f64>,
    dec: Vec<f64>,
    rps: Vec<f64>,
    mnist: Vec<f64>,
    text: Vec<f64>,
}

fn main() {
    let steps = env_num("BT_COMPRESSION_STEPS", 300);
    let rounds = env_num("BT_COMPRESSION_ROUNDS", 3).max(1);
    let text_epochs = env_num("BT_COMPRESSION_TEXT_EPOCHS", 4);
    println!("load average at start: {}", load_average());
    let (train, test) = Dataset::load_dir(default_mnist_dir()).expect("the MNIST data");
    let test = test.head(2000);
    let teacher = train_teacher(&train, steps);
    let sample = one_mib_of_encodings(&teacher, &train);
    let text = TextSetup::load();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows: Vec<Row> = Codec::ALL.iter().map(|_| Row::default()).collect();
    for round in 0..rounds {
        eprintln!("round {} of {rounds}", round + 1);
        for (row, &codec) in rows.iter_mut().zip(Codec::ALL.iter()) {
            let (bytes, err, enc, dec) = codec_figures(&sample, codec);
            row.bytes = bytes;
            row.err = err;
            // `none` encodes nothing: no rate to show.
            if codec != Codec::None {
                row.enc.push(enc);
            }
            row.dec.push(dec);
            row.rps.push(rt.block_on(fan_out(&sample, codec)));
            let seed = round as u64;
            row.mnist
                .push(distil(&teacher, &train, &test, steps, codec, seed) * 100.0);
            if let Some(text) = &text {
                row.text.push(text.distil(codec, text_epochs, seed));
            }
        }
    }
    println!("load average at end: {}", load_average());
    let text_head = match &text {
        Some(_) => format!("text student: held-out cosine after {text_epochs} epochs"),
        None => "text student: skipped (no MiniLM or corpora)".to_string(),
    };
    println!(
        "| codec | bytes for 1 MiB f32 | ratio | max abs error | encode MB/s | decode MB/s | fan-out req/s ({FANOUT} × 1 MiB) | MNIST accuracy after {steps} steps (%) | {text_head} |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (row, codec) in rows.iter().zip(Codec::ALL) {
        println!(
            "| {codec} | {} | {:.2} | {:.1e} | {} | {} | {} | {} | {} |",
            row.bytes,
            (MIB_VALUES * 4) as f64 / row.bytes as f64,
            row.err,
            spread(&row.enc, 0),
            spread(&row.dec, 0),
            spread(&row.rps, 0),
            spread(&row.mnist, 2),
            spread(&row.text, 4),
        );
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `median [min–max]`, or `–` for no values.
fn spread(v: &[f64], decimals: usize) -> String {
    if v.is_empty() {
        return "–".into();
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = s[s.len() / 2];
    if s.len() == 1 {
        return format!("{med:.decimals$}");
    }
    format!(
        "{med:.decimals$} [{:.decimals$}–{:.decimals$}]",
        s[0],
        s[s.len() - 1]
    )
}

fn train_teacher(train: &Dataset, steps: usize) -> MnistModel {
    let mut teacher = MnistModel::new(1);
    let mut batch = Batch::default();
    let mut epoch = train.epoch(BATCH, 1);
    let sgd = GradMode::Sgd {
        lr: 0.01,
        momentum: 0.9,
    };
    for _ in 0..steps {
        if !epoch.next_into(&mut batch).unwrap() {
            epoch = train.epoch(BATCH, 2);
            epoch.next_into(&mut batch).unwrap();
        }
        let own = teacher.student(&batch.x).unwrap();
        teacher.step(&batch.x, &batch.y, &own, sgd, false).unwrap();
    }
    teacher
}

/// 256 images' encodings: exactly 1 MiB of float32, distributed as a peer's answers are.
fn one_mib_of_encodings(teacher: &MnistModel, train: &Dataset) -> Tensor {
    let rows = MIB_VALUES / CONTEXT_DIM;
    let x = &train.images()[..rows * train.dim()];
    let enc = teacher.encode(x).unwrap();
    Tensor::from_f32_vec(&[rows, CONTEXT_DIM], enc, Modality::Tensor).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn codec_figures(t: &Tensor, codec: Codec) -> (usize, f32, f64, f64) {
    let wire = compress(t, codec).unwrap();
    let back = decompress(&wire, CodecSet::ALL, &Limits::default()).unwrap();
    let orig = t.to_f32_vec().unwrap();
    let err = orig
        .iter()
        .zip(back.to_f32_vec().unwrap())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    let mb = (MIB_VALUES * 4) as f64 / 1e6;
    let enc = median(
        (0..ITERS)
            .map(|_| {
                let s = Instant::now();
                std::hint::black_box(compress(t, codec).unwrap());
                s.elapsed()
            })
            .collect(),
    );
    let dec = median(
        (0..ITERS)
            .map(|_| {
                let s = Instant::now();
                // Decoding to float32 values, as a consumer reads them.
                let d = decompress(&wire, CodecSet::ALL, &Limits::default()).unwrap();
                std::hint::black_box(d.f32_cow().unwrap().len());
                s.elapsed()
            })
            .collect(),
    );
    (
        wire.buffer.len(),
        err,
        mb / enc.as_secs_f64(),
        mb / dec.as_secs_f64(),
    )
}

async fn fan_out(t: &Tensor, codec: Codec) -> f64 {
    let key = NeuronKey::generate().public_hex();
    let axon = Axon::builder(AxonConfig::default())
        .serve_synapse(key.clone(), Arc::new(EchoSynapse))
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let offered = if codec == Codec::None {
        Vec::new()
    } else {
        vec![codec]
    };
    let dendrite = Dendrite::new(
        NeuronKey::generate(),
        DendriteConfig {
            answer_codecs: offered,
            request_codec: codec,
            timeout: Duration::from_secs(30),
            ..DendriteConfig::default()
        },
    );
    let eps = vec![Endpoint::new("127.0.0.1", axon.local_addr().port(), key); FANOUT];
    // The first round opens the connection and hears which codecs the axon accepts.
    let warm = dendrite
        .forward_tensor(Inputs::broadcast(eps.clone(), t.clone()))
        .await
        .unwrap();
    assert!(
        warm.iter().all(|r| r.outcome.is_ok()),
        "{}",
        warm[0].outcome
    );
    let start = Instant::now();
    for _ in 0..FANOUT_ROUNDS {
        let replies = dendrite
            .forward_tensor(Inputs::broadcast(eps.clone(), t.clone()))
            .await
            .unwrap();
        assert!(replies.iter().all(|r| r.outcome.is_ok()));
    }
    let rps = (FANOUT * FANOUT_ROUNDS) as f64 / start.elapsed().as_secs_f64();
    axon.shutdown(Duration::from_secs(1)).await.unwrap();
    rps
}

/// A student trained against the teacher's encodings, received through `codec`.
fn distil(
    teacher: &MnistModel,
    train: &Dataset,
    test: &Dataset,
    steps: usize,
    codec: Codec,
    seed: u64,
) -> f64 {
    let mut student = MnistModel::new(2 + 10 * seed);
    let mut batch = Batch::default();
    let mut epoch = train.epoch(BATCH, 3 + 10 * seed);
    let sgd = GradMode::Sgd {
        lr: 0.01,
        momentum: 0.9,
    };
    for _ in 0..steps {
        if !epoch.next_into(&mut batch).unwrap() {
            epoch = train.epoch(BATCH, 4 + 10 * seed);
            epoch.next_into(&mut batch).unwrap();
        }
        let rows = batch.y.len();
        let enc = teacher.encode(&batch.x).unwrap();
        let answer = Tensor::from_f32_vec(&[rows, CONTEXT_DIM], enc, Modality::Tensor).unwrap();
        let received = decompress(
            &compress(&answer, codec).unwrap(),
            CodecSet::ALL,
            &Limits::default(),
        )
        .unwrap();
        let context = received.to_f32_vec().unwrap();
        student
            .step(&batch.x, &batch.y, &context, sgd, false)
            .unwrap();
    }
    accuracy(&student, test).unwrap()
}

/// Through `codec` and back, as a dendrite reads a peer's answer.
fn through(codec: Codec, rows: usize, dim: usize, values: &[f32]) -> Vec<f32> {
    let answer = Tensor::from_f32_vec(&[rows, dim], values.to_vec(), Modality::Tensor).unwrap();
    decompress(
        &compress(&answer, codec).unwrap(),
        CodecSet::ALL,
        &Limits::default(),
    )
    .unwrap()
    .to_f32_vec()
    .unwrap()
}

/// The text column's data: tokenized sentences and MiniLM's embeddings of them, computed once.
struct TextSetup {
    vocab: usize,
    train: Vec<TokenBatch>,
    teacher_train: Vec<Vec<f32>>,
    held_out: Vec<TokenBatch>,
    teacher_held_out: Vec<f32>,
}

impl TextSetup {
    fn load() -> Option<Self> {
        let files = MinilmFiles::locate_or_skip("the text student column").unwrap()?;
        let lee = match corpus_path("lee_background.cor").and_then(|p| lee_sentences(&p)) {
            Ok(lee) => lee,
            Err(e) if std::env::var("BT_REQUIRE_MINILM").as_deref() == Ok("1") => {
                panic!("the text corpora: {e}")
            }
            Err(e) => {
                eprintln!("skipping the text student column: {e}");
                return None;
            }
        };
        let minilm = MiniLm::load(&files, TextLimits::DEFAULT).unwrap();
        let (mut train, mut held_out) = hold_out_every(lee, 10);
        let fortune_dir = Path::new(DEBIAN_FORTUNES_DIR);
        if fortune_dir.is_dir() {
            train.extend(
                fortunes(fortune_dir)
                    .unwrap()
                    .into_iter()
                    .take(TEXT_FORTUNES),
            );
        }
        train.truncate(TEXT_TRAIN);
        held_out.truncate(TEXT_HELD_OUT);
        let tokens = |texts: &[String]| -> Vec<TokenBatch> {
            texts
                .chunks(TEXT_BATCH)
                .map(|c| minilm.tokenizer().tokenize(c).unwrap())
                .collect()
        };
        let train_batches = tokens(&train);
        let teacher_train = train_batches
            .iter()
            .map(|b| minilm.embed(b).unwrap())
            .collect();
        let held_batches = tokens(&held_out);
        let teacher_held_out = held_batches
            .iter()
            .flat_map(|b| minilm.embed(b).unwrap())
            .collect();
        eprintln!(
            "text student: {} training sentences, {} held out",
            train.len(),
            held_out.len()
        );
        Some(Self {
            vocab: minilm.vocab_size(),
            train: train_batches,
            teacher_train,
            held_out: held_batches,
            teacher_held_out,
        })
    }

    /// The held-out cosine of a student distilled from answers that came through `codec`.
    fn distil(&self, codec: Codec, epochs: usize, seed: u64) -> f64 {
        let received: Vec<Vec<f32>> = self
            .train
            .iter()
            .zip(&self.teacher_train)
            .map(|(b, t)| through(codec, b.rows, MINILM_DIM, t))
            .collect();
        let mut student = TextStudent::new(
            self.vocab,
            StudentConfig {
                seed,
                ..StudentConfig::default()
            },
        )
        .unwrap();
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        for epoch in 0..epochs {
            // A fixed shuffle per (seed, epoch): the same for every codec.
            order.shuffle(&mut StdRng::seed_from_u64(seed * 1000 + epoch as u64));
            for &i in &order {
                student.step(&self.train[i], &received[i]).unwrap();
            }
        }
        let ours: Vec<f32> = self
            .held_out
            .iter()
            .flat_map(|b| student.embed(b).unwrap())
            .collect();
        let cos = row_cosines(&ours, &self.teacher_held_out, MINILM_DIM);
        f64::from(cos.iter().sum::<f32>()) / cos.len() as f64
    }
}
