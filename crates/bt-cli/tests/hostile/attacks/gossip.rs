//! The metagraph attacks' target (a `bittensor neuron echo` process with a small table) and the
//! attacker's gossip: sealed definitions and raw batches spoken straight to its gossip port.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bt_crypto::NeuronKey;
use bt_neuron::report::{Event, Ready};
use bt_testnet::process::{ChildProcess, Line, Stream};
use bt_wire::{GossipBatch, Synapse};
use bytes::{Buf, BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

use super::target::bittensor;

/// `bittensor neuron echo` with `--metagraph_size 8` on loopback, and its ready line.
pub struct EchoNeuron {
    pub process: ChildProcess,
    pub ready: Ready,
}

impl EchoNeuron {
    pub async fn start(dir: &Path, name: &str, bootstrap: Option<&str>) -> Self {
        let mut cmd = bittensor();
        cmd.args(["neuron", "echo", "--remote_ip", "127.0.0.1"])
            .args(["--metagraph_port", "0", "--metagraph_size", "8"])
            .args(["--gossip_interval", "0.5"])
            .arg("--neuron_key")
            .arg(dir.join(format!("{name}.key")))
            .env("BT_LOG", "warn");
        if let Some(b) = bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        let mut process = ChildProcess::spawn(name, cmd).unwrap();
        let ready =
            process
                .wait_for_line(0, Duration::from_secs(120), |l: &Line| {
                    match bt_neuron::report::parse(&l.text) {
                        Some(Event::Ready(r)) if l.stream == Stream::Stdout => Some(r),
                        _ => None,
                    }
                })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        Self { process, ready }
    }

    pub fn pid(&self) -> u32 {
        self.process.id().unwrap()
    }

    pub fn metagraph(&self) -> &str {
        &self.ready.metagraph
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A definition of `synapse_key` at `127.0.0.1:port`, sealed by `neuron` at the neuron's
/// default difficulty, with `proof` as its synapse proof.
pub fn sealed(
    neuron: &NeuronKey,
    synapse_key: String,
    port: u16,
    proof: Option<&NeuronKey>,
    heartbeat: u64,
) -> Synapse {
    let mut s = Synapse {
        version: "0.1.0".into(),
        neuron_key: neuron.public_hex(),
        synapse_key,
        address: "127.0.0.1".into(),
        port: port.to_string(),
        block_hash: heartbeat.to_string(),
        ..Default::default()
    };
    if let Some(secret) = proof {
        // A proof by the wrong key is still attached: it is the squatter's best attempt.
        let digest = bt_crypto::synapse_proof_digest(&s);
        s.synapse_proof = Bytes::copy_from_slice(&secret.sign(&digest));
    }
    bt_crypto::seal_synapse(neuron, &mut s, bt_metagraph::DEFAULT_DIFFICULTY_BITS).unwrap();
    s
}

pub async fn channel(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap()
}

/// One `Metagraph.Gossip` call carrying `body` as the request message, verbatim; the answer
/// is counted in bytes, not decoded.
pub async fn gossip_raw(channel: &Channel, body: Bytes) -> Result<usize, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_encoding_message_size(8 << 20)
        .max_decoding_message_size(64 << 20);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(body);
    request.set_timeout(Duration::from_secs(10));
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/Metagraph/Gossip");
    grpc.unary(request, path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// A batch as bytes.
pub async fn gossip(channel: &Channel, batch: &GossipBatch) -> Result<usize, Status> {
    gossip_raw(channel, Bytes::from(prost::Message::encode_to_vec(batch))).await
}

/// Sends bytes as they are, reads the answer's length only.
#[derive(Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = usize;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self {
        RawCodec
    }
    fn decoder(&mut self) -> Self {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = usize;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<usize>, Status> {
        let n = src.remaining();
        src.advance(n);
        Ok(Some(n))
    }
}

/// An honest caller: `metagraph inspect` of `addr`, retried twice after the throttle's interval.
pub fn honest_inspect(
    addr: String,
) -> impl FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + 'static
{
    move || {
        let addr = addr.clone();
        // An honest client backs off when throttled: our own reads of the target run on the
        // same loopback address and share its throttle.
        Box::pin(async move {
            for _ in 0..3 {
                if bt_metagraph::inspect(&addr, Duration::from_secs(3))
                    .await
                    .is_ok()
                {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            false
        })
    }
}

/// The target's table, read from outside (retried while inspections are throttled).
pub async fn table(addr: &str) -> Vec<bt_interfaces::SynapseInfo> {
    bt_testnet::eventually_async_some(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async {
            bt_metagraph::inspect(addr, Duration::from_secs(3))
                .await
                .ok()
        },
    )
    .await
    .unwrap()
}
