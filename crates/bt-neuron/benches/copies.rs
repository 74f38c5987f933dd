//! Bytes allocated (and so, at most, copied) per ~1 MiB `Forward` request on the served path,
//! from the received wire bytes to the response chunks.
//!
//! `cargo bench -p bt-neuron --bench copies`
//!
//! A counting `#[global_allocator]` (`bt-alloc-count`: the system allocator, with global atomic
//! counters; the model's gemm runs on rayon threads too) counts the allocations and the bytes allocated while
//! one request is processed, in-process and without sockets, so that nothing but this path
//! counts. The request is what a neuron's trainer sends (`NeuronModel::INPUT.to_wire`): 334 MNIST
//! images, `[334, 1, 28, 28]` float32 in 0..1 = 1,047,424 bytes; the answer is the encoding,
//! `[334, 1024]` float32 = 1,368,064 bytes.
//!
//! - **(a) served path**: the received DATA frames pushed into bt-wire's `MessageReader` (as
//!   bt-axon's `grpc.rs` does), the message taken (prost decode; the tensor buffer is sliced out
//!   of the frame when one frame holds it), then what `service.rs`'s `handle`/`compute`/
//!   `forward` do: `bt_tensor::decode` with the axon's limits, `bt_interfaces::Synapse::forward` on
//!   exactly the synapse a neuron serves (`Arc<ServedModel<MnistModel>>`, as in `runtime.rs`), `bt_tensor::encode`, the reply `TensorMessage`, and `encode_framed`.
//!   Authentication is left out: it hashes the payload in place and copies nothing.
//! - **(b) model compute**: `MnistModel::encode(&normalized)` on an already normalized input:
//!   its activations (`h1`, `s`, `a1`, `e`, each `[334, 1024]` f32), which are not copies.
//!   `encode` runs on bt-nn's own dense/gemm engine; there is no candle on this path.
//! - **(a) − (b)**: what the served path allocates outside the model's own compute.
//!
//! Two layouts of the received bytes, both sliced out of one receive buffer with a 9-byte
//! HTTP/2 frame header before each payload, as h2 hands DATA frames over:
//! - `1 MiB frames`: the axon's default `max_frame_size` (1 MiB), which a bt-dendrite sender
//!   uses: one frame for the message head, one for the tensor buffer.
//! - `16 KiB frames`: HTTP/2's default frame size, which a peer may still send: the buffer
//!   spans 64 frames and is copied into one buffer when the message is decoded.
//!
//! A stage table then runs the functions the path calls one at a time , so every allocation is attributed; their sum
//! must equal (a). `COPIES_TRACE=1` instead prints, for one request of (a) in each layout, where
//! every allocation of 64 KiB or more comes from (its backtrace's frames in this workspace).
//!
//! `COPIES_SOCKET=1` traces one real request over loopback instead (axon and dendrite in this
//! process), to see which of the two layouts the axon receives.
//!
//! Each count is the one most requests have; the others are listed. With more than one rayon
//! thread the model's gemm sometimes makes rayon's job queue allocate a block (one more
//! allocation of 1,520 bytes); with `RAYON_NUM_THREADS=1` every request counts the same. The
//! payload-sized allocations do not depend on the machine; the model's few small ones depend on
//! its thread count, and the times on everything.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benches fail loudly by design

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use bt_alloc_count::{Counts, counted};
use bt_axon::AxonConfig;
use bt_interfaces::Synapse as AxonSynapseTrait;
use bt_neuron::served::ServedModel;
use bt_nn::MnistModel;
use bt_nn::mnist::{CONTEXT_DIM, IMAGE_DIM};
use bt_tensor::{Limits, Modality, Tensor};
use bt_wire::TensorMessage;
use bt_wire::framing::{MessageReader, encode_framed};
use bytes::Bytes;
use prost::Message as _;

// ---------------------------------------------------------------------------------------------
// The counting allocator (`bt-alloc-count`).

/// Allocations of at least this size are listed (a payload copy is ~1 MiB here).
const LARGE_MIN: usize = 64 << 10;

thread_local! {
    /// Set while this thread prints a trace (whose own allocations must not be traced).
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

#[global_allocator]
static ALLOCATOR: bt_alloc_count::Counting = bt_alloc_count::Counting;

/// Prints where an allocation of `size` bytes comes from: the frames of this workspace's crates.
fn trace(size: usize) {
    let _ = IN_TRACE.try_with(|busy| {
        if busy.replace(true) {
            return;
        }
        let bt = std::backtrace::Backtrace::force_capture().to_string();
        let mut ours = String::new();
        let mut theirs = String::new();
        let mut symbol = "";
        for line in bt.lines() {
            let line = line.trim();
            if let Some(at) = line.strip_prefix("at ") {
                // Other workspace crates are named from the workspace root, this one from its own.
                let at = match at.find("crates/bt-") {
                    Some(i) => at[i..].to_string(),
                    None if at.starts_with("./src/") => format!("crates/bt-neuron/{}", &at[2..]),
                    None => {
                        // Else the first few frames in dependencies (h2, hyper, tokio, …).
                        if let Some(i) = at.find("/index.crates.io-")
                            && theirs.lines().count() < 8
                        {
                            let dep = at[i..].split_once('/').map_or(at, |(_, r)| r);
                            let dep = dep.split_once('/').map_or(dep, |(_, r)| r);
                            theirs.push_str(&format!("    {symbol}\n        at {dep}\n"));
                        }
                        continue;
                    }
                };
                ours.push_str(&format!("    {symbol}\n        at {at}\n"));
            } else if let Some((_, s)) = line.split_once(": ") {
                symbol = s;
            }
        }
        let frames = if ours.is_empty() { theirs } else { ours };
        eprint!("allocation of {size} bytes:\n{frames}");
        busy.set(false);
    });
}

// ---------------------------------------------------------------------------------------------
// The request and the served path.

const ROWS: usize = 334;
const WARMUP: usize = 3;
const REQUESTS: usize = 20;
/// HTTP/2's frame header, before every DATA frame's payload in the receive buffer.
const FRAME_HEADER: usize = 9;
/// As bt-axon puts in replies (its `CARGO_PKG_VERSION`: the workspace's version, as ours).
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a neuron's trainer sends a peer: `INPUT.to_wire`, `[rows, 1, 28, 28]` in 0..1.
fn request(rows: usize) -> TensorMessage {
    let images: Vec<f32> = (0..rows * IMAGE_DIM)
        .map(|i| (i % 255) as f32 / 255.0)
        .collect();
    let t = Tensor::from_f32_vec(&[rows, 1, 28, 28], images, Modality::Image).unwrap();
    TensorMessage {
        version: VERSION.to_string(),
        neuron_key: "ab".repeat(32),
        synapse_key: "cd".repeat(32),
        nounce: 1_700_000_000_000_000_000,
        signature: Bytes::from(vec![7u8; 64]),
        tensors: vec![bt_tensor::encode(&t)],
    }
}

/// The DATA frame payloads an axon receives for `msg` when the sender sends each of its
/// `encode_framed` chunks as frames of at most `max_frame` bytes: slices of one receive buffer
/// in which a frame header precedes every payload (so payloads sit at arbitrary alignments).
fn received_frames(msg: &TensorMessage, max_frame: usize) -> Vec<Bytes> {
    let mut payloads: Vec<&[u8]> = Vec::new();
    let chunks = encode_framed(msg);
    for chunk in &chunks {
        payloads.extend(chunk.chunks(max_frame));
    }
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    for p in &payloads {
        buf.extend_from_slice(&[0u8; FRAME_HEADER]);
        ranges.push(buf.len()..buf.len() + p.len());
        buf.extend_from_slice(p);
    }
    let buf = Bytes::from(buf);
    ranges.into_iter().map(|r| buf.slice(r)).collect()
}

/// The axon's tensor limits (bt-axon `server.rs`).
fn axon_limits(cfg: &AxonConfig) -> Limits {
    Limits {
        max_elements: cfg.max_elements,
        max_bytes: cfg.max_message_bytes,
        ..Limits::DEFAULT
    }
}

/// (a): received frames → response chunks, as bt-axon's `grpc.rs` and `service.rs` do it.
fn serve(
    frames: &[Bytes],
    synapse: &dyn AxonSynapseTrait,
    limits: &Limits,
    max_message: usize,
) -> Vec<Bytes> {
    // grpc.rs: RequestBody::message
    let mut reader = MessageReader::new(max_message);
    for f in frames {
        reader.push(f.clone()).unwrap();
    }
    let msg = reader.take().unwrap().expect("the whole message is in");
    // service.rs: handle
    let size = msg.encoded_len();
    assert!(size <= max_message);
    let msg = Arc::new(msg);
    // service.rs: compute → forward
    let wire = msg.tensors.first().expect("one tensor");
    let modality = Modality::from_wire(wire.modality).unwrap();
    assert!(synapse.modalities().contains(&modality));
    let input = bt_tensor::decode(wire, limits).unwrap();
    let output = synapse.forward(modality, input).unwrap();
    let tensors = vec![bt_tensor::encode(&output)];
    let reply = TensorMessage {
        version: VERSION.to_string(),
        synapse_key: msg.synapse_key.clone(),
        tensors,
        ..TensorMessage::default()
    };
    assert!(reply.encoded_len() <= max_message);
    // grpc.rs: respond
    encode_framed(&reply)
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// Counts of `REQUESTS` runs after `WARMUP` ones, and the median time of one.
struct Measured {
    /// The count of most runs.
    counts: Counts,
    /// Runs whose count differs from it, and by how much at most.
    differing: usize,
    max_extra: (i64, i64),
    median_us: f64,
}

fn measure<R>(mut f: impl FnMut() -> R) -> Measured {
    for _ in 0..WARMUP {
        drop(f());
    }
    let mut runs: Vec<Counts> = Vec::with_capacity(REQUESTS);
    let mut times: Vec<f64> = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let t = Instant::now();
        let (out, c) = counted(&mut f);
        times.push(t.elapsed().as_secs_f64() * 1e6);
        drop(out);
        runs.push(c);
    }
    if std::env::var_os("COPIES_RUNS").is_some() {
        for c in &runs {
            eprintln!("{} allocs, {} bytes", c.allocs, c.bytes);
        }
    }
    let key = |c: &Counts| (c.allocs, c.bytes);
    let typical = runs
        .iter()
        .max_by_key(|c| runs.iter().filter(|d| key(d) == key(c)).count())
        .cloned()
        .unwrap_or_default();
    let differing = runs.iter().filter(|c| key(c) != key(&typical)).count();
    let max_extra = runs
        .iter()
        .map(|c| {
            (
                c.allocs as i64 - typical.allocs as i64,
                c.bytes as i64 - typical.bytes as i64,
            )
        })
        .max_by_key(|d| d.1.abs())
        .unwrap_or_default();
    times.sort_by(f64::total_cmp);
    Measured {
        counts: Counts {
            peak: runs.iter().map(|c| c.peak).max().unwrap_or(0),
            ..typical
        },
        differing,
        max_extra,
        median_us: times[times.len() / 2],
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / f64::from(1 << 20))
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn row(name: &str, allocs: u64, bytes: u64, extra: &[String; 3]) {
    println!(
        "| {name:<46} | {:>6} | {:>11} | {:>9} | {:>9} | {:<30} | {:>9} |",
        thousands(allocs),
        thousands(bytes),
        mib(bytes),
        extra[0],
        extra[1],
        extra[2]
    );
}

fn large_list(sizes: &[usize]) -> String {
    if sizes.is_empty() {
        return "none".into();
    }
    sizes
        .iter()
        .map(|&s| thousands(s as u64))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    bt_alloc_count::set_large_min(LARGE_MIN);
    bt_alloc_count::on_large(trace);
    let cfg = AxonConfig::default();
    let limits = axon_limits(&cfg);
    let max_message = cfg.max_message_bytes;
    let model = MnistModel::new(0);
    // As bt-neuron's Neuron::start serves it (runtime.rs).
    let served = Arc::new(ServedModel::new(model.clone()));
    let synapse: Arc<dyn AxonSynapseTrait> = served.clone();

    let req = request(ROWS);
    let payload = req.tensors[0].buffer.len() as u64;
    let answer = (ROWS * CONTEXT_DIM * 4) as u64;
    let layouts = [
        (cfg.max_frame_size as usize, "1 MiB frames"),
        (16 << 10, "16 KiB frames"),
    ];
    let frames: Vec<(Vec<Bytes>, &str)> = layouts
        .iter()
        .map(|&(max, name)| (received_frames(&req, max), name))
        .collect();
    let (_, normalized) = <MnistModel as bt_nn::NeuronModel>::INPUT
        .from_wire(&bt_tensor::decode(&req.tensors[0], &limits).unwrap())
        .unwrap();

    if std::env::var_os("COPIES_SOCKET").is_some() {
        socket_trace(synapse, &req);
        return;
    }
    if std::env::var_os("COPIES_TRACE").is_some() {
        for (f, name) in &frames {
            drop(serve(f, synapse.as_ref(), &limits, max_message)); // warm up
            eprintln!("== (a), {name}: allocations of ≥ {} KiB", LARGE_MIN >> 10);
            bt_alloc_count::set_tracing(true);
            let out = serve(f, synapse.as_ref(), &limits, max_message);
            bt_alloc_count::set_tracing(false);
            drop(out);
        }
        return;
    }

    // Sanity: the path answers what the model computes.
    let out = serve(&frames[0].0, synapse.as_ref(), &limits, max_message);
    let direct: Vec<u8> = model
        .encode(&normalized)
        .unwrap()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let carried = out.iter().max_by_key(|c| c.len()).unwrap();
    assert_eq!(
        &carried[..],
        &direct[..],
        "the response carries the encoding"
    );
    drop(out);

    let path: Vec<(Measured, &str)> = frames
        .iter()
        .map(|(f, name)| {
            (
                measure(|| serve(f, synapse.as_ref(), &limits, max_message)),
                *name,
            )
        })
        .collect();
    let model_only = measure(|| model.encode(&normalized).unwrap());

    println!(
        "Forward of [{ROWS}, 1, 28, 28] f32 images ({} bytes) → [{ROWS}, {CONTEXT_DIM}] f32 ({} \
         bytes). Per request: the count of most of {REQUESTS} requests (after {WARMUP} warm-up); \
         the others are listed.\n",
        thousands(payload),
        thousands(answer)
    );
    println!(
        "| {:<46} | {:>6} | {:>11} | {:>9} | {:>9} | {:<30} | {:>9} |",
        "per request", "allocs", "bytes", "", "peak live", "requests not typical", "time"
    );
    println!(
        "|{:-<48}|{:-<8}|{:-<13}|{:-<11}|{:-<11}|{:-<32}|{:-<11}|",
        "", "", "", "", "", "", ""
    );
    let extra = |m: &Measured| {
        let odd = if m.differing == 0 {
            "none".to_string()
        } else {
            format!(
                "{}: up to {:+} allocs, {:+} B",
                m.differing, m.max_extra.0, m.max_extra.1
            )
        };
        [
            mib(m.counts.peak as u64),
            odd,
            format!("{:.1} ms", m.median_us / 1e3),
        ]
    };
    for (m, name) in &path {
        row(
            &format!("(a) wire → response chunks, {name}"),
            m.counts.allocs,
            m.counts.bytes,
            &extra(m),
        );
    }
    row(
        "(b) MnistModel::encode(&normalized)",
        model_only.counts.allocs,
        model_only.counts.bytes,
        &extra(&model_only),
    );
    for (m, name) in &path {
        let bytes = m.counts.bytes - model_only.counts.bytes;
        row(
            &format!("(a) − (b) outside the model, {name}"),
            m.counts.allocs - model_only.counts.allocs,
            bytes,
            &[
                String::new(),
                format!(
                    "= {:.3} × the request payload",
                    bytes as f64 / payload as f64
                ),
                String::new(),
            ],
        );
    }
    println!(
        "\nAllocations of ≥ {} KiB, bytes, in order:",
        LARGE_MIN >> 10
    );
    for (m, name) in &path {
        println!("- (a) {name}: {}", large_list(&m.counts.large));
    }
    println!("- (b): {}", large_list(&model_only.counts.large));

    stages(
        &frames[0].0,
        &model,
        &limits,
        max_message,
        &path[0].0.counts,
    );
}

/// The path's calls one at a time (1 MiB frames), each counted; their sum must equal (a).
fn stages(frames: &[Bytes], model: &MnistModel, limits: &Limits, max: usize, total: &Counts) {
    let mut sum = (0u64, 0u64);
    let mut lines: Vec<(String, Counts)> = Vec::new();
    let mut stage = |name: &str, c: Counts| {
        sum.0 += c.allocs;
        sum.1 += c.bytes;
        lines.push((name.to_string(), c));
    };

    let (msg, c) = counted(|| {
        let mut reader = MessageReader::new(max);
        for f in frames {
            reader.push(f.clone()).unwrap();
        }
        let msg = reader.take().unwrap().unwrap();
        Arc::new(msg)
    });
    stage(
        "MessageReader push + take, Arc (grpc.rs:119,144; service.rs:80)",
        c,
    );
    let (input, c) = counted(|| bt_tensor::decode(&msg.tensors[0], limits).unwrap());
    stage("bt_tensor::decode (service.rs:323)", c);
    let (x, c) = counted(|| {
        <MnistModel as bt_nn::NeuronModel>::INPUT
            .from_wire(&input)
            .unwrap()
            .1
    });
    stage("INPUT.from_wire: f32 view + normalize (bt-nn images.rs)", c);
    let (out, c) = counted(|| model.encode(&x).unwrap());
    stage("MnistModel::encode", c);
    drop((x, input));
    let (output, c) =
        counted(|| Tensor::from_f32_vec(&[ROWS, CONTEXT_DIM], out, Modality::Tensor).unwrap());
    stage("Tensor::from_f32_vec (bt-nn synapse.rs)", c);
    let (reply, c) = counted(|| {
        let tensors = vec![bt_tensor::encode(&output)];
        TensorMessage {
            version: VERSION.to_string(),
            synapse_key: msg.synapse_key.clone(),
            tensors,
            ..TensorMessage::default()
        }
    });
    stage("bt_tensor::encode + reply (service.rs:291-296,325)", c);
    let (chunks, c) = counted(|| encode_framed(&reply));
    stage("encode_framed (grpc.rs:172)", c);
    drop((chunks, reply, output, msg));

    println!("\nStage by stage (1 MiB frames; the calls (a) makes, one at a time):\n");
    println!(
        "| {:<66} | {:>6} | {:>11} | {:>9} | ≥ 64 KiB allocations |",
        "stage", "allocs", "bytes", ""
    );
    println!(
        "|{:-<68}|{:-<8}|{:-<13}|{:-<11}|{:-<22}|",
        "", "", "", "", ""
    );
    for (name, c) in &lines {
        println!(
            "| {name:<66} | {:>6} | {:>11} | {:>9} | {} |",
            thousands(c.allocs),
            thousands(c.bytes),
            mib(c.bytes),
            large_list(&c.large)
        );
    }
    println!(
        "| {:<66} | {:>6} | {:>11} | {:>9} | {} |",
        "sum",
        thousands(sum.0),
        thousands(sum.1),
        mib(sum.1),
        if sum == (total.allocs, total.bytes) {
            "equal to (a)".to_string()
        } else {
            format!(
                "(a) is {} allocs, {} bytes",
                thousands(total.allocs),
                thousands(total.bytes)
            )
        }
    );
}

/// `COPIES_SOCKET=1`: one request over loopback, a real axon serving the same synapse and a
/// bt-dendrite caller in this process, with every allocation of 64 KiB or more traced (both
/// ends and the HTTP/2 stack count here: this is to see which frame layout the axon really
/// receives, not a count of the path).
fn socket_trace(synapse: Arc<dyn AxonSynapseTrait>, req: &TensorMessage) {
    use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Outcome};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = bt_crypto::NeuronKey::generate().public_hex();
    let images = bt_tensor::decode(&req.tensors[0], &Limits::default()).unwrap();
    rt.block_on(async {
        let axon = bt_axon::Axon::builder(AxonConfig {
            allow_unsigned: true,
            ..AxonConfig::default()
        })
        .serve_synapse(key.clone(), synapse)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
        let ep = Endpoint::new("127.0.0.1", axon.local_addr().port(), key);
        let dendrite = Dendrite::new(
            bt_crypto::NeuronKey::generate(),
            DendriteConfig {
                sign_requests: false,
                sessions: false,
                ..DendriteConfig::default()
            },
        );
        for i in 0..4 {
            // The last call, on a warm connection, is traced.
            let last = i == 3;
            if last {
                eprintln!(
                    "== one Forward over loopback: allocations of ≥ {} KiB",
                    LARGE_MIN >> 10
                );
                bt_alloc_count::set_tracing(true);
            }
            let mut replies = dendrite
                .forward_image(vec![(ep.clone(), images.clone())])
                .await
                .unwrap();
            bt_alloc_count::set_tracing(false);
            let reply = replies.remove(0);
            assert!(matches!(reply.outcome, Outcome::Ok(_)), "{}", reply.outcome);
        }
        axon.shutdown(std::time::Duration::from_secs(5))
            .await
            .unwrap();
    });
}
