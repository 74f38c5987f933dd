//! Wire compression, measured: `cargo bench -p bt-neuron --bench compression` prints one table
//! with a row per codec:
//! - the bytes of a 1 MiB float32 tensor on the wire, the ratio to float32, and the largest
//!   absolute error of a round trip (values like a served MNIST encoding: a teacher's);
//! - encode and decode throughput (MB/s of float32, median of `ITERS` runs);
//! - fan-out throughput: one 1 MiB tensor broadcast to `FANOUT` synapses of an in-process axon
//!   (echo synapse, loopback gRPC, signed), compressed in both directions, requests per second;
//! - MNIST distillation: a student trained `BT_COMPRESSION_STEPS` steps (default 300) against
//!   the encodings of a teacher (trained the same number of steps alone) that reach it through
//!   the codec, then its test accuracy. The codec is the only difference between the rows.
//!
//! Compare rows with the `none` row of the same run; the machine's load moves every figure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bt_axon::{Axon, AxonConfig, EchoSynapse};
use bt_crypto::NeuronKey;
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs};
use bt_nn::accuracy;
use bt_nn::mnist::CONTEXT_DIM;
use bt_nn::{Batch, Dataset, GradMode, MnistModel, default_mnist_dir};
use bt_tensor::compression::{Codec, CodecSet, compress, decompress};
use bt_tensor::{Limits, Modality, Tensor};

const MIB_VALUES: usize = (1 << 20) / 4;
const ITERS: usize = 15;
const FANOUT: usize = 16;
const FANOUT_ROUNDS: usize = 8;
const BATCH: usize = 64;

fn main() {
    let steps: usize = std::env::var("BT_COMPRESSION_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let (train, test) = Dataset::load_dir(default_mnist_dir()).expect("the MNIST data");
    let test = test.head(2000);
    let teacher = train_teacher(&train, steps);
    let sample = one_mib_of_encodings(&teacher, &train);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| codec | bytes for 1 MiB f32 | ratio | max abs error | encode MB/s | decode MB/s | fan-out req/s ({FANOUT} × 1 MiB) | MNIST accuracy after {steps} steps |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for codec in Codec::ALL {
        let (bytes, err, enc, dec) = codec_figures(&sample, codec);
        let rps = rt.block_on(fan_out(&sample, codec));
        let acc = distil(&teacher, &train, &test, steps, codec);
        println!(
            "| {codec} | {bytes} | {:.2} | {err:.2e} | {enc:.0} | {dec:.0} | {rps:.1} | {:.2} % |",
            (MIB_VALUES * 4) as f64 / bytes as f64,
            acc * 100.0
        );
    }
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
) -> f64 {
    let mut student = MnistModel::new(2);
    let mut batch = Batch::default();
    let mut epoch = train.epoch(BATCH, 3);
    let sgd = GradMode::Sgd {
        lr: 0.01,
        momentum: 0.9,
    };
    for _ in 0..steps {
        if !epoch.next_into(&mut batch).unwrap() {
            epoch = train.epoch(BATCH, 4);
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
