//! The dendrite's side of the v2 request digest (`docs/protocol.md`, "Request digest v2"): sign
//! for the endpoint dialled once the axon has said it accepts that (`bt-digest: 2` on any of its
//! answers, refusals included), so that a request cannot be replayed at another axon serving the
//! same synapse key. Until then, and with an axon that never says it (Release 1), requests are
//! signed over the v1 digest, as before.
//!
//! An axon reached under a name or address it does not know as its own (a host name it was not
//! told, a proxy rewriting `:authority`) refuses v2 requests. A refused v2 request is retried
//! over v1; if that is served, this connection signs v1 for [`V1_AFTER_REFUSAL`] before trying
//! v2 again. That costs nothing against an attacker on the path, who could as well strip the
//! axon's `bt-digest` header; an axon that must not accept v1 refuses it
//! (`require_digest_v2`), and then the connection stays on v2.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bt_crypto::DIGEST_HEADER;

/// How long a connection whose v2 request was refused (and its v1 retry served) signs v1.
pub(crate) const V1_AFTER_REFUSAL: Duration = Duration::from_secs(600);

#[derive(Default, Clone, Copy)]
enum State {
    /// The axon has not said it accepts v2.
    #[default]
    Unknown,
    Accepted,
    /// The axon said so, but refused a v2 request that it then served over v1.
    V1Until(Instant),
}

/// What one axon accepts, learned from its answers; lives and dies with the pooled connection.
#[derive(Default)]
pub(crate) struct AxonDigest(Mutex<State>);

impl AxonDigest {
    /// Whether the next signed request to this axon signs v2.
    pub(crate) fn v2(&self) -> bool {
        let mut state = self.lock();
        match *state {
            State::Unknown => false,
            State::Accepted => true,
            State::V1Until(until) if Instant::now() >= until => {
                *state = State::Accepted;
                true
            }
            State::V1Until(_) => false,
        }
    }

    /// Remembers an answer's (or refusal's) `bt-digest: 2`.
    pub(crate) fn learn(&self, headers: &http::HeaderMap) {
        if headers
            .get(DIGEST_HEADER)
            .is_some_and(|v| v.as_bytes() == b"2")
        {
            let mut state = self.lock();
            if matches!(*state, State::Unknown) {
                *state = State::Accepted;
            }
        }
    }

    /// A v2 request was refused and its v1 retry served: sign v1 for a while.
    pub(crate) fn v2_refused(&self) {
        *self.lock() = State::V1Until(Instant::now() + V1_AFTER_REFUSAL);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A plain enum: a panic elsewhere cannot leave it half-written.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn v2_only_after_the_axon_says_so_and_v1_for_a_while_after_a_refusal() {
        let digest = AxonDigest::default();
        assert!(!digest.v2());
        let mut headers = http::HeaderMap::new();
        digest.learn(&headers);
        assert!(!digest.v2());
        headers.insert(DIGEST_HEADER, "3".parse().unwrap());
        digest.learn(&headers);
        assert!(!digest.v2(), "an unknown version is not v2");
        headers.insert(DIGEST_HEADER, "2".parse().unwrap());
        digest.learn(&headers);
        assert!(digest.v2());
        digest.v2_refused();
        digest.learn(&headers);
        assert!(
            !digest.v2(),
            "a refusal holds even if the axon says v2 again"
        );
        *digest.lock() = State::V1Until(Instant::now());
        assert!(digest.v2(), "and ends");
    }
}
