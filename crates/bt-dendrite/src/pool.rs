//! Connections to axons: one HTTP/2 connection per `address:port`, bounded, LRU, idle-expired.
//!
//! Many calls to the same new axon share a single connect attempt (a shared future), so a
//! fan-out of 100 synapses on one axon dials once, and a refused dial fails all 100 at once.
//! A connection that breaks is dropped from the pool by the call that saw it break, so the next
//! call dials afresh — under the circuit breaker's control rather than tonic's silent reconnect
//! loop.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::Semaphore;
use tonic::transport::{Channel, Endpoint as TonicEndpoint};

use crate::config::DendriteConfig;
use crate::endpoint::HostKey;
use crate::lru::BoundedLru;
use crate::outcome::Unavailable;
use crate::session::SessionSlot;

type ConnectFuture = Shared<BoxFuture<'static, Result<Channel, Unavailable>>>;

enum Conn {
    Ready(Channel),
    Connecting(ConnectFuture),
}

struct Entry {
    /// Bumped on every new dial so that a late report about an old connection is ignored.
    generation: u64,
    conn: Option<Conn>,
    /// Calls in flight on this axon's connection.
    slots: Arc<Semaphore>,
    /// The authentication session with this axon; it lives and dies with the pooled
    /// connection, so the pool's bound and idle expiry bound the sessions too.
    session: Arc<SessionSlot>,
}

/// A pooled connection handed to one call.
pub(crate) struct Lease {
    pub channel: Channel,
    pub session: Arc<SessionSlot>,
    host: HostKey,
    generation: u64,
}

pub(crate) struct Pool {
    entries: Mutex<BoundedLru<HostKey, Entry>>,
    settings: ChannelSettings,
    idle_timeout: Duration,
    per_host: usize,
}

#[derive(Clone)]
struct ChannelSettings {
    connect_timeout: Duration,
    keepalive_interval: Duration,
    keepalive_timeout: Duration,
    stream_window: u32,
    connection_window: u32,
    max_frame_size: u32,
}

enum Step {
    Ready(Channel, u64, Arc<SessionSlot>),
    Wait(ConnectFuture, u64, Arc<SessionSlot>),
}

impl Pool {
    pub(crate) fn new(cfg: &DendriteConfig) -> Self {
        Self {
            entries: Mutex::new(BoundedLru::new(cfg.max_connections)),
            settings: ChannelSettings {
                connect_timeout: cfg.connect_timeout,
                keepalive_interval: cfg.keepalive_interval,
                keepalive_timeout: cfg.keepalive_timeout,
                stream_window: cfg.stream_window,
                connection_window: cfg.connection_window,
                max_frame_size: cfg.max_frame_size,
            },
            idle_timeout: cfg.idle_timeout,
            per_host: cfg.max_in_flight_per_host.max(1),
        }
    }

    /// A connection to `host`, dialing if needed. Cancel-safe: dropping the future leaves the
    /// shared dial in the pool for the next caller.
    pub(crate) async fn acquire(&self, host: &HostKey) -> Result<Lease, Unavailable> {
        let step = {
            let now = Instant::now();
            let mut entries = self.lock();
            entries.expire_idle(now, self.idle_timeout);
            let per_host = self.per_host;
            let entry = entries.get_or_insert_with(host, now, || new_entry(per_host));
            let session = entry.session.clone();
            match &entry.conn {
                Some(Conn::Ready(ch)) => Step::Ready(ch.clone(), entry.generation, session),
                Some(Conn::Connecting(fut)) => Step::Wait(fut.clone(), entry.generation, session),
                None => {
                    let fut = dial(host, &self.settings)?;
                    entry.generation += 1;
                    entry.conn = Some(Conn::Connecting(fut.clone()));
                    Step::Wait(fut, entry.generation, session)
                }
            }
        };
        let (channel, generation, session) = match step {
            Step::Ready(ch, g, s) => (ch, g, s),
            Step::Wait(fut, g, s) => {
                let result = fut.await;
                self.settle(host, g, &result);
                (result?, g, s)
            }
        };
        Ok(Lease {
            channel,
            session,
            host: host.clone(),
            generation,
        })
    }

    /// The in-flight slots of `host`'s connection. Servers cap the calls in flight per
    /// connection (the axon sheds the excess with `RESOURCE_EXHAUSTED`); waiting here, within
    /// the call's deadline, turns a big fan-out to one axon into a queue instead of refusals.
    pub(crate) fn host_slots(&self, host: &HostKey) -> Arc<Semaphore> {
        let per_host = self.per_host;
        self.lock()
            .get_or_insert_with(host, Instant::now(), || new_entry(per_host))
            .slots
            .clone()
    }

    /// The dial of generation `generation` finished: keep the channel, or clear the slot so
    /// that the next call dials again.
    fn settle(&self, host: &HostKey, generation: u64, result: &Result<Channel, Unavailable>) {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(host, Instant::now()) else {
            return;
        };
        if entry.generation != generation || !matches!(entry.conn, Some(Conn::Connecting(_))) {
            return;
        }
        entry.conn = result.as_ref().ok().map(|ch| Conn::Ready(ch.clone()));
    }

    /// The call using `lease` saw its connection break: forget it so the next call re-dials.
    pub(crate) fn invalidate(&self, lease: &Lease) {
        let mut entries = self.lock();
        let stale = entries
            .get_mut(&lease.host, Instant::now())
            .is_some_and(|e| e.generation == lease.generation);
        if stale {
            entries.remove(&lease.host);
        }
    }

    /// The version of `host`'s connection's established session, if it has one (does not touch
    /// the LRU order).
    pub(crate) fn session_version(
        &self,
        host: &HostKey,
    ) -> Option<bt_crypto::session::SessionVersion> {
        self.lock().peek(host).and_then(|e| e.session.version())
    }

    /// Pooled connections (ready or dialing) right now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Drops connections idle for longer than the configured idle timeout.
    pub(crate) fn expire_idle(&self) -> usize {
        self.lock().expire_idle(Instant::now(), self.idle_timeout)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BoundedLru<HostKey, Entry>> {
        // A panic while holding this lock cannot leave the map inconsistent in a way that
        // matters (worst case: a stale entry), so poisoning is ignored.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn new_entry(per_host: usize) -> Entry {
    Entry {
        generation: 0,
        conn: None,
        slots: Arc::new(Semaphore::new(per_host)),
        session: Arc::new(SessionSlot::default()),
    }
}

fn dial(host: &HostKey, s: &ChannelSettings) -> Result<ConnectFuture, Unavailable> {
    let endpoint = TonicEndpoint::from_shared(host.uri())
        .map_err(|e| Unavailable::BadAddress {
            address: host.address.clone(),
            reason: e.to_string(),
        })?
        .connect_timeout(s.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(s.keepalive_interval)
        .keep_alive_timeout(s.keepalive_timeout)
        .keep_alive_while_idle(true)
        .initial_stream_window_size(s.stream_window)
        .initial_connection_window_size(s.connection_window)
        .max_frame_size(s.max_frame_size);
    let fut = async move {
        endpoint
            .connect()
            .await
            .map_err(|e| Unavailable::Connect(error_chain(&e)))
    };
    Ok(fut.boxed().shared())
}

/// `err: cause: cause…`, because tonic's top-level transport error just says "transport error".
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
