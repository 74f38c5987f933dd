//! Starting the processes the attacks aim at, and the honest clients that keep calling them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bt_crypto::NeuronKey;
use bt_crypto::wallet::{AccountId, Sr25519Pair, Wallet};
use bt_dendrite::http::{AxonTarget, HttpAuth, HttpDendrite, HttpDendriteConfig};
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs};
use bt_http::builtin::Dummy;
use bt_neuron::report::Event;
use bt_tensor::{Modality, Tensor};
use bt_testnet::process::{ChildProcess, Line, Stream};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;

pub fn bittensor() -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_bittensor"))
}

/// A hotkey of an unencrypted wallet `name` under `wallets`, made if missing.
pub fn hotkey(wallets: &Path, name: &str) -> Sr25519Pair {
    let wallet = Wallet::new(wallets, name, "default").unwrap();
    wallet.create_if_missing().unwrap();
    wallet.hotkey().unwrap()
}

/// One honest call's outcome: served as expected or not.
pub type CallFuture = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// A `bittensor neuron echo` process (a Release 1 gRPC axon serving its input back), its axon
/// and metagraph addresses and its synapse key.
pub struct EchoNeuron {
    pub process: ChildProcess,
    pub axon: SocketAddr,
    pub metagraph: String,
    pub synapse_key: String,
    dir: tempfile::TempDir,
}

impl EchoNeuron {
    pub async fn start(extra: &[&str]) -> Self {
        Self::start_serving(None, extra).await
    }

    /// [`EchoNeuron::start`] serving the synapse key of `replica_of` (its own neuron key): a
    /// replica of that neuron's synapse.
    pub async fn start_replica(replica_of: &EchoNeuron, extra: &[&str]) -> Self {
        Self::start_serving(Some(&replica_of.synapse_key_file()), extra).await
    }

    /// The file of the synapse key this neuron serves.
    pub fn synapse_key_file(&self) -> std::path::PathBuf {
        bt_neuron::identity::synapse_key_path(&self.dir.path().join("neuron.key"))
    }

    async fn start_serving(synapse_key: Option<&Path>, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        if let Some(file) = synapse_key {
            let copy = bt_neuron::identity::synapse_key_path(&dir.path().join("neuron.key"));
            std::fs::copy(file, copy).unwrap();
        }
        let mut cmd = bittensor();
        cmd.args(["neuron", "echo", "--remote_ip", "127.0.0.1", "--neuron_key"])
            .arg(dir.path().join("neuron.key"))
            .args(extra);
        let mut process = ChildProcess::spawn("echo", cmd).unwrap();
        let ready = process
            .wait_for_line(
                0,
                Duration::from_secs(60),
                |l: &Line| match bt_neuron::report::parse(&l.text) {
                    Some(Event::Ready(r)) if l.stream == Stream::Stdout => Some(r),
                    _ => None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            process,
            axon: ready.axon.parse().unwrap(),
            metagraph: ready.metagraph,
            synapse_key: ready.synapse_keys.first().cloned().unwrap(),
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.id().unwrap()
    }

    /// Where the axon's synapse is, for a dendrite.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(
            self.axon.ip().to_string(),
            self.axon.port(),
            self.synapse_key.clone(),
        )
    }

    /// An honest caller from 127.0.0.1: one signed `Forward` of a small tensor, answered with
    /// that tensor within 2 s.
    pub fn honest_caller(&self) -> impl FnMut() -> CallFuture + Send + 'static {
        self.caller(false)
    }

    /// [`EchoNeuron::honest_caller`], but each call from a new neuron key: a newcomer every
    /// time, as the callers a full nonce table would refuse.
    pub fn newcomer_caller(&self) -> impl FnMut() -> CallFuture + Send + 'static {
        self.caller(true)
    }

    fn caller(&self, fresh_key: bool) -> impl FnMut() -> CallFuture + Send + 'static {
        let dendrite = || {
            Arc::new(Dendrite::new(
                NeuronKey::generate(),
                DendriteConfig {
                    timeout: Duration::from_secs(2),
                    ..DendriteConfig::default()
                },
            ))
        };
        let mut kept = dendrite();
        let endpoint = Endpoint::new("127.0.0.1", self.axon.port(), self.synapse_key.clone());
        let values: Vec<f32> = (0..32).map(|i| i as f32).collect();
        move || {
            if fresh_key {
                kept = dendrite();
            }
            let (dendrite, endpoint, values) = (kept.clone(), endpoint.clone(), values.clone());
            Box::pin(async move {
                let x = Tensor::from_f32(&[1, 32], &values, Modality::Tensor).unwrap();
                let replies = dendrite
                    .forward_tensor(Inputs::broadcast([endpoint], x))
                    .await
                    .unwrap();
                replies
                    .into_iter()
                    .next()
                    .and_then(|r| r.outcome.into_tensor())
                    .is_some_and(|y| y.to_f32_vec().ok() == Some(values))
            })
        }
    }
}

/// A `bittensor synapse serve --name Dummy` process, its address and hotkey.
pub struct DummyAxon {
    pub process: ChildProcess,
    pub addr: String,
    pub hotkey: String,
}

impl DummyAxon {
    pub async fn start(wallets: &Path, extra: &[&str]) -> Self {
        hotkey(wallets, "axon");
        let mut cmd = bittensor();
        cmd.args(["synapse", "serve", "--name", "Dummy", "--port", "0"])
            .arg("--wallet.path")
            .arg(wallets)
            .args(["--wallet.name", "axon"])
            .args(extra);
        let mut process = ChildProcess::spawn("axon", cmd).unwrap();
        let (addr, hotkey) = process
            .wait_for_line(0, Duration::from_secs(60), |l: &Line| {
                let (_, rest) = l.text.strip_prefix("serving ")?.split_once(" on http://")?;
                let (addr, hotkey) = rest.split_once(" as hotkey ")?;
                (l.stream == Stream::Stdout).then(|| (addr.to_string(), hotkey.to_string()))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            process,
            addr,
            hotkey,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.id().unwrap()
    }

    /// An honest caller: `Dummy` with the SDK v10 signature, answered 2× its input within 2 s.
    pub fn honest_caller(
        &self,
        wallets: &Path,
        auth: HttpAuth,
    ) -> impl FnMut() -> CallFuture + Send + 'static {
        let dendrite = HttpDendrite::new(
            Arc::new(hotkey(wallets, "honest")),
            HttpDendriteConfig {
                auth,
                ..HttpDendriteConfig::default()
            },
        );
        let target = AxonTarget {
            addr: self.addr.parse().unwrap(),
            hotkey: AccountId::from_ss58(&self.hotkey).unwrap(),
        };
        let mut i = 0i64;
        move || {
            i += 1;
            let (dendrite, target, input) = (dendrite.clone(), target.clone(), i);
            Box::pin(async move {
                let s = Dummy {
                    dummy_input: input,
                    dummy_output: None,
                };
                let (answer, outcome) = dendrite.call(&target, s, Duration::from_secs(2)).await;
                outcome.is_success() && answer.dummy_output == Some(2 * input)
            })
        }
    }
}

/// A gRPC channel to `axon` whose connection comes from the local address `from` (any of
/// 127.0.0.0/8 on loopback), so attacks can come from addresses other than honest callers'.
pub async fn channel_from(from: std::net::IpAddr, axon: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{axon}"))
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| async move {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(from, 0))?;
            let tcp = socket.connect(axon).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tcp))
        }))
        .await
        .unwrap()
}

/// One counter or gauge from a Prometheus text endpoint at `addr` (`GET /metrics`).
pub async fn metric(addr: &str, name: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut text))
        .await
        .unwrap()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics:\n{text}"))
}

/// What a [`minted_key_flood`] sent and how much of it the target let through.
pub struct Flood {
    pub sent: u64,
    pub bytes: u64,
    /// Answers that `hit` counted.
    pub hits: u64,
}

/// `Forward` calls on `neuron`'s synapse from 127.0.0.2 … (one connection per address,
/// `in_flight` calls at a time on each) until `duration` has passed. `make` turns each fresh
/// one-element message into the attack's request and says how many bytes it sends; `hit` says
/// whether an answer counts as the target letting it through.
pub async fn minted_key_flood(
    neuron: &EchoNeuron,
    addresses: u8,
    in_flight: usize,
    duration: Duration,
    make: fn(TensorMessage) -> (tonic::Request<TensorMessage>, u64),
    hit: fn(&Result<tonic::Response<TensorMessage>, tonic::Status>) -> bool,
) -> Flood {
    use std::sync::atomic::{AtomicU64, Ordering};
    let sent = Arc::new(AtomicU64::new(0));
    let hits = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = std::time::Instant::now() + duration;
    let mut workers = Vec::new();
    for a in 0..addresses {
        let from = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2 + a));
        let channel = channel_from(from, neuron.axon).await;
        for _ in 0..in_flight {
            let (channel, key) = (channel.clone(), neuron.synapse_key.clone());
            let (sent, hits, bytes) = (sent.clone(), hits.clone(), bytes.clone());
            workers.push(tokio::spawn(async move {
                let mut client = BittensorClient::new(channel);
                let x = Tensor::from_f32(&[1, 1], &[1.0], Modality::Tensor).unwrap();
                while std::time::Instant::now() < deadline {
                    let (request, n) = make(TensorMessage {
                        synapse_key: key.clone(),
                        tensors: vec![bt_tensor::encode(&x)],
                        ..TensorMessage::default()
                    });
                    bytes.fetch_add(n, Ordering::Relaxed);
                    sent.fetch_add(1, Ordering::Relaxed);
                    if hit(&client.forward(request).await) {
                        hits.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    for w in workers {
        w.await.unwrap();
    }
    Flood {
        sent: sent.load(Ordering::Relaxed),
        bytes: bytes.load(Ordering::Relaxed),
        hits: hits.load(Ordering::Relaxed),
    }
}
