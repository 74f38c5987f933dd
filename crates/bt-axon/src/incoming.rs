//! The listening socket as a stream of connections, bounded in number, each of which can be
//! closed forcibly when a graceful stop runs out of time.

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::{CancellationToken, PollSemaphore, WaitForCancellationFutureOwned};
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::per_key::PerKeyGuard;
use crate::shared::Shared;

/// After a failed `accept` (out of file descriptors, say) wait this long before the next one,
/// instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

pub(crate) struct Incoming {
    listener: TcpListener,
    slots: PollSemaphore,
    slot: Option<OwnedSemaphorePermit>,
    backoff: Option<Pin<Box<tokio::time::Sleep>>>,
    kill: CancellationToken,
    shared: Arc<Shared>,
}

impl Incoming {
    pub(crate) fn new(listener: TcpListener, kill: CancellationToken, shared: Arc<Shared>) -> Self {
        let slots = Arc::new(Semaphore::new(shared.config.max_connections));
        Self {
            listener,
            slots: PollSemaphore::new(slots),
            slot: None,
            backoff: None,
            kill,
            shared,
        }
    }
}

impl tokio_stream::Stream for Incoming {
    type Item = io::Result<Conn>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(sleep) = this.backoff.as_mut() {
            ready!(sleep.as_mut().poll(cx));
            this.backoff = None;
        }
        if this.slot.is_none() {
            match ready!(this.slots.poll_acquire(cx)) {
                Some(p) => this.slot = Some(p),
                None => return Poll::Ready(None),
            }
        }
        loop {
            match ready!(this.listener.poll_accept(cx)) {
                Ok((stream, peer)) => {
                    // Closed at once (dropped) when its address has its share open already:
                    // a flood from one address cannot take the axon's connection slots.
                    let Some(from_ip) = this.shared.connections_per_ip.try_acquire(peer.ip())
                    else {
                        this.shared.metrics.connection_refused();
                        continue;
                    };
                    return Poll::Ready(Some(Ok(this.accepted(stream, from_ip))));
                }
                Err(e) => {
                    this.backoff = Some(Box::pin(tokio::time::sleep(ACCEPT_BACKOFF)));
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl Incoming {
    fn accepted(&mut self, stream: TcpStream, from_ip: PerKeyGuard<IpAddr>) -> Conn {
        // Small unary messages must not wait for Nagle.
        let _ = stream.set_nodelay(true);
        self.shared.metrics.connection_delta(true);
        let tcp = stream.connect_info();
        let ip = from_ip_addr(&tcp);
        Conn {
            stream,
            _slot: self.slot.take(),
            _from_ip: from_ip,
            killed: Box::pin(self.kill.clone().cancelled_owned()),
            first_byte: Some(Box::pin(tokio::time::sleep(
                self.shared.config.handshake_timeout,
            ))),
            info: ConnInfo {
                tcp,
                ip,
                slots: Arc::new(Semaphore::new(
                    self.shared.config.max_in_flight_per_connection,
                )),
            },
            shared: self.shared.clone(),
        }
    }
}

fn from_ip_addr(tcp: &TcpConnectInfo) -> IpAddr {
    tcp.remote_addr()
        .map_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), |a| a.ip())
}

use std::future::Future as _;

/// An accepted connection. Reads and writes fail once the axon's kill token fires, which makes
/// hyper drop the connection even if the client never closes it.
pub(crate) struct Conn {
    stream: TcpStream,
    _slot: Option<OwnedSemaphorePermit>,
    _from_ip: PerKeyGuard<IpAddr>,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Until the client sends its first bytes: a silent socket must not hold a connection slot.
    first_byte: Option<Pin<Box<tokio::time::Sleep>>>,
    info: ConnInfo,
    shared: Arc<Shared>,
}

/// What tonic puts in every request's extensions for this connection: its addresses and its
/// share of `max_in_flight_per_connection`, taken by the admission layer.
#[derive(Clone)]
pub(crate) struct ConnInfo {
    /// Its local address is the endpoint a v2 request digest may bind.
    pub(crate) tcp: TcpConnectInfo,
    /// The client's address, which per-address limits count by.
    pub(crate) ip: IpAddr,
    pub(crate) slots: Arc<Semaphore>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.metrics.connection_delta(false);
    }
}

impl Conn {
    fn check_killed(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.killed.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "axon stopped: grace period over",
            ));
        }
        Ok(())
    }
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check_killed(cx)?;
        if let Some(t) = self.first_byte.as_mut()
            && t.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client sent nothing within the handshake timeout",
            )));
        }
        let before = buf.filled().len();
        let res = ready!(Pin::new(&mut self.stream).poll_read(cx, buf));
        if buf.filled().len() > before {
            self.first_byte = None;
        }
        Poll::Ready(res)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check_killed(cx)?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_killed(cx)?;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check_killed(cx)?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
