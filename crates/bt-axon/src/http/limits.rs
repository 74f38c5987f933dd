//! The priority gate in front of the handlers.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// At most `max_running` handlers at once; the rest wait in a queue of at most `max_queue`,
/// highest priority first (first come first among equals). When the queue is full, the
/// lowest-priority request (the newcomer, if it is lowest) is refused.
pub(crate) struct Gate {
    max_running: usize,
    max_queue: usize,
    state: Mutex<GateState>,
}

struct GateState {
    running: usize,
    seq: u64,
    queue: BinaryHeap<Waiter>,
}

struct Waiter {
    priority: f64,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .total_cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Why the gate refused a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GateRefusal {
    /// The queue is full of requests of higher or equal priority.
    QueueFull,
    /// A higher-priority request took this one's place in the queue.
    Displaced,
}

pub(crate) struct GatePermit {
    gate: Arc<Gate>,
}

impl Gate {
    pub(crate) fn new(max_running: usize, max_queue: usize) -> Arc<Self> {
        Arc::new(Self {
            max_running,
            max_queue,
            state: Mutex::new(GateState {
                running: 0,
                seq: 0,
                queue: BinaryHeap::new(),
            }),
        })
    }

    pub(crate) async fn enter(self: &Arc<Self>, priority: f64) -> Result<GatePermit, GateRefusal> {
        let priority = if priority.is_nan() { 0.0 } else { priority };
        let rx = {
            let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if st.running < self.max_running {
                st.running += 1;
                return Ok(GatePermit { gate: self.clone() });
            }
            if st.queue.len() >= self.max_queue {
                let lowest = st.queue.iter().min().map_or(f64::INFINITY, |w| w.priority);
                if self.max_queue == 0 || priority <= lowest {
                    return Err(GateRefusal::QueueFull);
                }
                let mut waiters = std::mem::take(&mut st.queue).into_vec();
                if let Some(i) = waiters
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.cmp(b.1))
                    .map(|(i, _)| i)
                {
                    // Dropping its sender wakes the displaced request with an error.
                    waiters.swap_remove(i);
                }
                st.queue = waiters.into();
            }
            let (tx, rx) = oneshot::channel();
            st.seq += 1;
            let seq = st.seq;
            st.queue.push(Waiter {
                priority,
                seq,
                wake: tx,
            });
            rx
        };
        match rx.await {
            Ok(()) => Ok(GatePermit { gate: self.clone() }),
            Err(_) => Err(GateRefusal::Displaced),
        }
    }

    #[cfg(test)]
    fn queued(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queue
            .len()
    }
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        let mut st = self
            .gate
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Hand the slot to the best waiter still waiting (one whose deadline passed has
        // dropped its receiver).
        while let Some(w) = st.queue.pop() {
            if w.wake.send(()).is_ok() {
                return;
            }
        }
        st.running -= 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gate_orders_by_priority_and_sheds_the_lowest() {
        let gate = Gate::new(1, 2);
        let running = gate.enter(0.0).await.unwrap();
        let g = gate.clone();
        let low = tokio::spawn(async move { g.enter(1.0).await.map(|_| ()) });
        let g = gate.clone();
        let high = tokio::spawn(async move { g.enter(5.0).await.map(|_| "high") });
        while gate.queued() < 2 {
            tokio::task::yield_now().await;
        }
        // Full: a request of lower priority than every waiter is refused outright...
        assert_eq!(gate.enter(0.5).await.err(), Some(GateRefusal::QueueFull));
        // ...a higher one displaces the lowest waiter.
        let g = gate.clone();
        let higher = tokio::spawn(async move { g.enter(3.0).await.map(|_| "mid") });
        assert_eq!(low.await.unwrap(), Err(GateRefusal::Displaced));
        drop(running);
        assert_eq!(high.await.unwrap(), Ok("high"));
        assert_eq!(higher.await.unwrap(), Ok("mid"));
    }
}
