//! [`FaultProxy`]: a TCP forwarder that delays, loses and cuts what goes through it.
//!
//! The kernel here has no `netem` qdisc, so delay and loss are made in user space, above TCP:
//!
//! - **delay**: every chunk read from one side is held for the direction's delay before it is
//!   written to the other side (order kept; a delay changed mid-connection applies to the next
//!   chunk). Both directions have their own delay.
//! - **loss**: TCP retransmits a lost segment, so above TCP a lost packet is never missing data,
//!   only late data (which the delay models) or, when losses persist, a connection that breaks.
//!   Loss here is the second: each new connection is dropped (accepted, then closed before a
//!   byte is forwarded) with the link's probability, seeded so a run repeats.
//! - **cut**: every open connection is dropped and new ones are refused until healed.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Most connections forwarded at once; more are refused (the harness stays bounded too).
pub const MAX_CONNECTIONS: usize = 256;
/// Bytes read per chunk.
const CHUNK: usize = 16 * 1024;
/// Chunks held per direction while delayed: with [`CHUNK`], at most 1 MiB per direction and
/// connection (the reader waits when it is full, which is TCP's own backpressure).
const HELD_CHUNKS: usize = 64;

/// What a link does to its traffic now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkFaults {
    /// Extra latency client → target.
    pub delay_up: Duration,
    /// Extra latency target → client.
    pub delay_down: Duration,
    /// Probability in [0, 1] that a new connection is dropped (see the module doc).
    pub loss: f64,
    /// Open connections dropped, new ones refused.
    pub cut: bool,
}

/// What a proxy did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    pub forwarded: u64,
    pub refused_cut: u64,
    pub dropped_loss: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

#[derive(Default)]
struct Counters {
    forwarded: AtomicU64,
    refused_cut: AtomicU64,
    dropped_loss: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

struct State {
    target: Option<SocketAddr>,
    faults: LinkFaults,
    conns: Vec<JoinHandle<()>>,
    rng: u64,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Listens on 127.0.0.1:0 and forwards every connection to a target, with the link's faults.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    delays: Arc<(AtomicU64, AtomicU64)>,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Binds the proxy; connections are refused until [`FaultProxy::set_target`]. `seed` makes
    /// the loss draws repeatable.
    pub async fn bind(seed: u64) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            target: None,
            faults: LinkFaults::default(),
            conns: Vec::new(),
            rng: seed | 1,
        }));
        let delays = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let counters = Arc::new(Counters::default());
        let (stop, mut stop_rx) = watch::channel(false);
        let (st, dl, ct) = (state.clone(), delays.clone(), counters.clone());
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop_rx.wait_for(|s| *s) => return,
                };
                let Ok((inbound, _)) = accepted else { continue };
                let mut s = lock(&st);
                s.conns.retain(|c| !c.is_finished());
                let Some(target) = s.target else { continue };
                if s.faults.cut || s.conns.len() >= MAX_CONNECTIONS {
                    ct.refused_cut.fetch_add(1, Ordering::Relaxed);
                    continue; // dropping `inbound` refuses it
                }
                let draw = next_unit(&mut s.rng);
                if draw < s.faults.loss {
                    ct.dropped_loss.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                ct.forwarded.fetch_add(1, Ordering::Relaxed);
                s.conns.push(tokio::spawn(forward(
                    inbound,
                    target,
                    dl.clone(),
                    ct.clone(),
                )));
            }
        });
        Ok(Self {
            addr,
            state,
            delays,
            counters,
            stop,
            task,
        })
    }

    /// The address to dial (and to advertise).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where connections go from now on (open ones stay where they are).
    pub fn set_target(&self, target: SocketAddr) {
        lock(&self.state).target = Some(target);
    }

    /// The link's faults now.
    pub fn faults(&self) -> LinkFaults {
        lock(&self.state).faults
    }

    /// Applies `faults`: delays at once (open connections too), loss to new connections, and a
    /// cut drops every open connection.
    pub fn set_faults(&self, faults: LinkFaults) {
        self.delays
            .0
            .store(millis(faults.delay_up), Ordering::Relaxed);
        self.delays
            .1
            .store(millis(faults.delay_down), Ordering::Relaxed);
        let mut s = lock(&self.state);
        s.faults = LinkFaults {
            loss: faults.loss.clamp(0.0, 1.0),
            ..faults
        };
        if faults.cut {
            for c in s.conns.drain(..) {
                c.abort();
            }
        }
    }

    /// Cuts the link (see [`LinkFaults::cut`]).
    pub fn cut(&self) {
        self.set_faults(LinkFaults {
            cut: true,
            ..self.faults()
        });
    }

    /// Lets connections through again (delay and loss stay as they were).
    pub fn heal(&self) {
        self.set_faults(LinkFaults {
            cut: false,
            ..self.faults()
        });
    }

    /// Connections forwarded at this moment.
    pub fn open_connections(&self) -> usize {
        let mut s = lock(&self.state);
        s.conns.retain(|c| !c.is_finished());
        s.conns.len()
    }

    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        ProxyStats {
            forwarded: c.forwarded.load(Ordering::Relaxed),
            refused_cut: c.refused_cut.load(Ordering::Relaxed),
            dropped_loss: c.dropped_loss.load(Ordering::Relaxed),
            bytes_up: c.bytes_up.load(Ordering::Relaxed),
            bytes_down: c.bytes_down.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
        for c in lock(&self.state).conns.drain(..) {
            c.abort();
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// xorshift64*: a uniform draw in [0, 1).
fn next_unit(state: &mut u64) -> f64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

async fn forward(
    inbound: TcpStream,
    target: SocketAddr,
    delays: Arc<(AtomicU64, AtomicU64)>,
    counters: Arc<Counters>,
) {
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_r, in_w) = inbound.into_split();
    let (out_r, out_w) = outbound.into_split();
    let up = pipe(in_r, out_w, Delay::Up(delays.clone()), counters.clone());
    let down = pipe(out_r, in_w, Delay::Down(delays), counters);
    // Either side closing ends the connection: a half-open proxy would hide a peer's death.
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

enum Delay {
    Up(Arc<(AtomicU64, AtomicU64)>),
    Down(Arc<(AtomicU64, AtomicU64)>),
}

impl Delay {
    fn now(&self) -> Duration {
        Duration::from_millis(match self {
            Delay::Up(d) => d.0.load(Ordering::Relaxed),
            Delay::Down(d) => d.1.load(Ordering::Relaxed),
        })
    }
}

async fn pipe(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    delay: Delay,
    counters: Arc<Counters>,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(HELD_CHUNKS);
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let due = Instant::now() + delay.now();
                    let bytes = match delay {
                        Delay::Up(_) => &counters.bytes_up,
                        Delay::Down(_) => &counters.bytes_down,
                    };
                    bytes.fetch_add(n as u64, Ordering::Relaxed);
                    if tx.send((due, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(addr: SocketAddr) -> std::io::Result<Duration> {
        let mut s = TcpStream::connect(addr).await?;
        let start = Instant::now();
        s.write_all(b"ping").await?;
        let mut got = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
            .await
            .map_err(|_| std::io::Error::other("no echo within 5 s"))??;
        assert_eq!(&got, b"ping");
        Ok(start.elapsed())
    }

    #[tokio::test]
    async fn delays_each_direction_drops_connections_and_cuts() {
        let proxy = FaultProxy::bind(7).await.unwrap();
        proxy.set_target(echo_server().await);
        round_trip(proxy.addr()).await.unwrap();

        proxy.set_faults(LinkFaults {
            delay_up: Duration::from_millis(150),
            delay_down: Duration::from_millis(100),
            ..LinkFaults::default()
        });
        let rtt = round_trip(proxy.addr()).await.unwrap();
        assert!(rtt >= Duration::from_millis(250), "{rtt:?}");

        proxy.set_faults(LinkFaults {
            loss: 1.0,
            ..LinkFaults::default()
        });
        assert!(round_trip(proxy.addr()).await.is_err());
        assert_eq!(proxy.stats().dropped_loss, 1);

        proxy.set_faults(LinkFaults::default());
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        open.write_all(b"x").await.unwrap();
        crate::eventually(Duration::from_secs(5), || proxy.open_connections() == 1)
            .await
            .unwrap();
        proxy.cut();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), open.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the open connection is dropped by the cut");
        assert!(round_trip(proxy.addr()).await.is_err());
        proxy.heal();
        round_trip(proxy.addr()).await.unwrap();
        assert!(proxy.stats().refused_cut >= 1);
    }

    #[test]
    fn loss_draws_are_uniform_enough() {
        let mut rng = 42u64;
        let hits = (0..10_000).filter(|_| next_unit(&mut rng) < 0.3).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
    }
}
