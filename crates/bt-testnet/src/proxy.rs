//! A TCP forwarder that can cut a node off the network without stopping it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most connections forwarded at once; more are refused (a harness must stay bounded too).
const MAX_CONNECTIONS: usize = 256;

#[derive(Default)]
struct State {
    target: Option<SocketAddr>,
    cut: bool,
    conns: Vec<JoinHandle<()>>,
}

/// Listens on 127.0.0.1:0 and forwards every connection to a target, until cut.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Proxy {
    /// Binds the proxy; connections are refused until [`Proxy::set_target`] is called (so the
    /// address can be advertised before the node behind it exists).
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, mut stop_rx) = watch::channel(false);
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop_rx.wait_for(|s| *s) => return,
                };
                let Ok((inbound, _)) = accepted else { continue };
                let mut s = lock(&st);
                s.conns.retain(|c| !c.is_finished());
                let target = match (s.cut, s.target) {
                    (false, Some(t)) if s.conns.len() < MAX_CONNECTIONS => t,
                    _ => continue, // dropping `inbound` refuses the connection
                };
                s.conns.push(tokio::spawn(forward(inbound, target)));
            }
        });
        Ok(Self {
            addr,
            state,
            stop,
            task,
        })
    }

    /// The address to dial (and to advertise).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where connections go from now on.
    pub fn set_target(&self, target: SocketAddr) {
        lock(&self.state).target = Some(target);
    }

    /// Drops every open connection and refuses new ones: the node behind is unreachable.
    pub fn cut(&self) {
        let mut s = lock(&self.state);
        s.cut = true;
        for c in s.conns.drain(..) {
            c.abort();
        }
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        lock(&self.state).cut = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
        for c in lock(&self.state).conns.drain(..) {
            c.abort();
        }
    }
}

async fn forward(mut inbound: TcpStream, target: SocketAddr) {
    if let Ok(mut outbound) = TcpStream::connect(target).await {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}
