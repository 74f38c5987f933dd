//! A bounded HTTP/1.1 listener for the project's small read-only servers (a process's
//! `/metrics`, the dashboard): the slowloris defences of the HTTP axon without its synapse
//! pipeline. Connections are capped overall and per source address, and each must send its
//! request headers within a deadline, both on a new connection and between the requests of a
//! kept-alive one (hyper re-arms the deadline whenever it waits for a request head), so a
//! client that connects and stalls, or trickles its headers, holds its slot for at most that.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::per_key::PerKey;

/// After a failed `accept` (out of file descriptors, say) wait this long before the next one,
/// instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// What one client can make an HTTP/1.1 listener hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http1Limits {
    /// Connections open at once; further ones wait in the kernel's accept backlog.
    pub max_connections: usize,
    /// Connections one source address may hold; more from it are closed as soon as accepted,
    /// so a few addresses cannot take every slot.
    pub max_connections_per_ip: usize,
    /// A client must send a request's headers within this after connecting or after the
    /// previous answer; the connection is closed otherwise.
    pub header_read_timeout: Duration,
    /// A connection is closed this long after it was accepted, whatever it is doing; `None`
    /// for long-lived answers (a server-sent event stream).
    pub max_connection_age: Option<Duration>,
}

/// Serves `service` on `listener` within `limits` until this future is dropped; dropping it
/// also closes every connection it accepted. A `max_connections` or
/// `max_connections_per_ip` of 0 is taken as 1.
pub async fn serve_http1<S, B>(listener: TcpListener, limits: Http1Limits, service: S)
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip = PerKey::<IpAddr>::new(limits.max_connections_per_ip.max(1));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    // Finished connections are reaped before each accept, so the set holds at most
    // `max_connections` tasks and a few that just ended.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("http/1.1 accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(from_ip) = per_ip.try_acquire(peer.ip()) else {
            tracing::trace!("{peer}: its address holds its share of connections; closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = builder.serve_connection(TokioIo::new(stream), service.clone());
        let age = limits.max_connection_age;
        connections.spawn(async move {
            let _held = (slot, from_ip);
            let ended = match age {
                Some(age) => tokio::time::timeout(age, conn).await.ok(),
                None => Some(conn.await),
            };
            if let Some(Err(e)) = ended {
                tracing::trace!("http/1.1 connection from {peer} ended: {e}");
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::time::Instant;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    use super::*;

    async fn start(limits: Http1Limits) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let svc = service_fn(|_req: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        });
        (addr, tokio::spawn(serve_http1(listener, limits, svc)))
    }

    fn limits(max: usize, per_ip: usize, header: Duration) -> Http1Limits {
        Http1Limits {
            max_connections: max,
            max_connections_per_ip: per_ip,
            header_read_timeout: header,
            max_connection_age: None,
        }
    }

    async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        socket.connect(to).await.unwrap()
    }

    /// Whether the server closes `s` within `within` (EOF or reset).
    async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 256];
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, s.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    async fn get(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
            .await
            .unwrap()
            .unwrap();
        out
    }

    #[tokio::test]
    async fn a_silent_or_trickling_client_is_closed_at_the_header_deadline() {
        let (addr, _server) = start(limits(8, 8, Duration::from_millis(300))).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut trickle = TcpStream::connect(addr).await.unwrap();
        trickle.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let t0 = Instant::now();
        let writer = tokio::spawn(async move {
            for _ in 0..40 {
                if trickle.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            trickle
        });
        assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
        let mut trickle = writer.await.unwrap();
        assert!(closed_within(&mut trickle, Duration::from_secs(5)).await);
        assert!(t0.elapsed() < Duration::from_secs(4));
        assert!(get(addr).await.ends_with("ok"));
    }

    #[tokio::test]
    async fn an_idle_kept_alive_connection_is_closed_at_the_header_deadline() {
        let (addr, _server) = start(limits(8, 8, Duration::from_millis(300))).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            std::str::from_utf8(&buf[..n])
                .unwrap()
                .starts_with("HTTP/1.1 200")
        );
        assert!(closed_within(&mut s, Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn one_address_gets_its_share_and_no_more() {
        let (addr, _server) = start(limits(16, 2, Duration::from_secs(30))).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(connect_from([127, 0, 0, 2], addr).await);
        }
        let mut third = connect_from([127, 0, 0, 2], addr).await;
        assert!(closed_within(&mut third, Duration::from_secs(5)).await);
        for s in &mut held {
            assert!(!closed_within(s, Duration::from_millis(100)).await);
        }
        assert!(get(addr).await.ends_with("ok"), "another address is served");
    }

    #[tokio::test]
    async fn past_the_cap_a_connection_waits_for_a_slot() {
        let (addr, _server) = start(limits(1, 4, Duration::from_secs(30))).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        first
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        assert!(first.read(&mut buf).await.unwrap() > 0);
        let mut waiting = tokio::spawn(get(addr));
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut waiting)
                .await
                .is_err(),
            "served while the only slot was held"
        );
        drop(first);
        let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert!(answer.ends_with("ok"));
    }

    #[tokio::test]
    async fn stopping_the_listener_closes_its_connections() {
        let (addr, server) = start(limits(4, 4, Duration::from_secs(30))).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        assert!(s.read(&mut buf).await.unwrap() > 0);
        server.abort();
        assert!(closed_within(&mut s, Duration::from_secs(5)).await);
    }
}
