//! A request body as the axon lets it arrive: whole within a deadline, and every byte charged
//! against the bytes the axon holds for request bodies, from all sources and from this one.
//!
//! This is what lets the axon take its `max_in_flight` permits only once a message is in: a
//! client that opens streams and then sends slowly, or nothing, holds no permit, only its own
//! address's share of the byte budget and request count, and only until the body deadline.

use std::future::Future as _;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::codegen::StdError;

use crate::per_key::{PerKey, PerKeyGuard};

/// Budgets are counted in KiB so a `u32` semaphore covers terabytes.
const UNIT: u64 = 1024;

/// The shared budgets one request's body is charged against.
#[derive(Clone)]
pub(crate) struct BodyBudget {
    /// KiB of bodies held over all sources.
    pub(crate) total: Arc<Semaphore>,
    /// KiB of bodies held per source address.
    pub(crate) per_ip: Arc<PerKey<IpAddr>>,
    pub(crate) total_bytes: usize,
    pub(crate) per_ip_bytes: usize,
}

impl BodyBudget {
    pub(crate) fn new(total_bytes: usize, per_ip_bytes: usize) -> Self {
        let kib = |b: usize| (b as u64).div_ceil(UNIT);
        Self {
            total: Arc::new(Semaphore::new(
                usize::try_from(kib(total_bytes))
                    .unwrap_or(usize::MAX)
                    .min(Semaphore::MAX_PERMITS),
            )),
            per_ip: PerKey::new(usize::try_from(kib(per_ip_bytes)).unwrap_or(usize::MAX)),
            total_bytes,
            per_ip_bytes,
        }
    }
}

/// What one body holds of the budgets, released when the request ends.
struct Charge {
    budget: BodyBudget,
    ip: IpAddr,
    bytes: u64,
    total: Option<OwnedSemaphorePermit>,
    from_ip: Option<PerKeyGuard<IpAddr>>,
}

impl Charge {
    fn add(&mut self, n: usize) -> Result<(), Status> {
        let before = self.bytes.div_ceil(UNIT);
        self.bytes = self.bytes.saturating_add(n as u64);
        let more = usize::try_from(self.bytes.div_ceil(UNIT) - before).unwrap_or(usize::MAX);
        if more == 0 {
            return Ok(());
        }
        // The total first, unmerged: if this address's share then refuses, dropping it undoes
        // the whole charge.
        let permits = u32::try_from(more).unwrap_or(u32::MAX);
        let total = self
            .budget
            .total
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| {
                Status::resource_exhausted(format!(
                    "the axon holds its whole budget of request bodies (max_buffered_bytes, {} \
                     bytes); retry shortly",
                    self.budget.total_bytes
                ))
            })?;
        let from_ip = match self.from_ip.as_mut() {
            Some(g) => g.try_grow(more),
            None => match self.budget.per_ip.try_acquire_units(self.ip, more) {
                Some(g) => {
                    self.from_ip = Some(g);
                    true
                }
                None => false,
            },
        };
        if !from_ip {
            return Err(Status::resource_exhausted(format!(
                "request bodies from {} hold the axon's whole share for one address \
                 (max_buffered_bytes_per_ip, {} bytes); retry when they are answered",
                self.ip, self.budget.per_ip_bytes
            )));
        }
        match self.total.as_mut() {
            Some(held) => held.merge(total),
            None => self.total = Some(total),
        }
        Ok(())
    }
}

/// The request body under its deadline and charge.
pub(crate) struct GuardedBody<B> {
    inner: Pin<Box<B>>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    allowed: Duration,
    charge: Charge,
    failed: bool,
}

impl<B> GuardedBody<B> {
    pub(crate) fn new(
        inner: B,
        deadline: tokio::time::Instant,
        budget: BodyBudget,
        ip: IpAddr,
    ) -> Self {
        Self {
            inner: Box::pin(inner),
            allowed: deadline.saturating_duration_since(tokio::time::Instant::now()),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            charge: Charge {
                budget,
                ip,
                bytes: 0,
                total: None,
                from_ip: None,
            },
            failed: false,
        }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        // The body first: the deadline's timer is only registered when the request would wait
        // for bytes (a small request, whose bytes are all in, never pays for one).
        let frame = match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => {
                this.failed = true;
                return Poll::Ready(Some(Err(Status::from_error(e.into()))));
            }
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.failed = true;
                    return Poll::Ready(Some(Err(Status::deadline_exceeded(format!(
                        "the request's body did not arrive within {:?} of its headers \
                         (the axon's body_timeout, or the client's deadline if sooner)",
                        this.allowed
                    )))));
                }
                return Poll::Pending;
            }
        };
        if let Some(data) = frame.data_ref()
            && let Err(refusal) = this.charge.add(data.len())
        {
            this.failed = true;
            return Poll::Ready(Some(Err(refusal)));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::net::Ipv4Addr;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
    }

    type Frames =
        futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, std::io::Error>>>;

    fn body(chunks: &[usize]) -> http_body_util::StreamBody<Frames> {
        let frames: Vec<_> = chunks
            .iter()
            .map(|&n| Ok(Frame::data(Bytes::from(vec![0u8; n]))))
            .collect();
        http_body_util::StreamBody::new(futures_util::stream::iter(frames))
    }

    fn later() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn charges_while_held_and_releases_on_drop() {
        let budget = BodyBudget::new(64 << 10, 16 << 10);
        let mut a = GuardedBody::new(body(&[4096, 4096]), later(), budget.clone(), ip(2));
        while a.frame().await.is_some() {}
        assert_eq!(budget.per_ip.held(&ip(2)), 8);
        assert_eq!(budget.total.available_permits(), 56);
        drop(a);
        assert_eq!(budget.per_ip.held(&ip(2)), 0);
        assert_eq!(budget.total.available_permits(), 64);
    }

    #[tokio::test]
    async fn one_address_cannot_take_more_than_its_share() {
        let budget = BodyBudget::new(64 << 10, 16 << 10);
        let mut a = GuardedBody::new(body(&[10 << 10]), later(), budget.clone(), ip(2));
        assert!(a.frame().await.unwrap().is_ok());
        let mut b = GuardedBody::new(body(&[10 << 10]), later(), budget.clone(), ip(2));
        let refused = b.frame().await.unwrap().unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("max_buffered_bytes_per_ip"));
        // Another address still has room.
        let mut c = GuardedBody::new(body(&[10 << 10]), later(), budget.clone(), ip(3));
        assert!(c.frame().await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn the_total_caps_all_addresses() {
        let budget = BodyBudget::new(24 << 10, 16 << 10);
        let mut held = Vec::new();
        for n in 2..4 {
            let mut b = GuardedBody::new(body(&[12 << 10]), later(), budget.clone(), ip(n));
            assert!(b.frame().await.unwrap().is_ok());
            held.push(b);
        }
        let mut d = GuardedBody::new(body(&[1]), later(), budget.clone(), ip(4));
        let refused = d.frame().await.unwrap().unwrap_err();
        assert!(refused.message().contains("max_buffered_bytes"));
        drop(held);
        assert_eq!(
            budget.per_ip.held(&ip(4)),
            0,
            "a refused charge holds nothing"
        );
    }

    #[tokio::test]
    async fn a_stalled_body_ends_at_its_deadline() {
        let budget = BodyBudget::new(64 << 10, 16 << 10);
        let stalled = http_body_util::StreamBody::new(futures_util::stream::pending::<
            Result<Frame<Bytes>, std::io::Error>,
        >());
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        let mut b = GuardedBody::new(stalled, deadline, budget, ip(2));
        let e = b.frame().await.unwrap().unwrap_err();
        assert_eq!(e.code(), tonic::Code::DeadlineExceeded);
        assert!(b.frame().await.is_none());
    }
}
