//! Who may call which synapse: the hook for subnet rules such as "miners answer only
//! validators with a permit".

use bt_crypto::{PublicKey, RpcMethod};

/// The verdict of a [`Policy`] on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Serve the request. A busy axon (more than [`AxonConfig::max_in_flight`] / 2 requests
    /// in flight) refuses `Priority::Low` requests with `RESOURCE_EXHAUSTED`, keeping the rest
    /// of its capacity for the callers that matter.
    ///
    /// [`AxonConfig::max_in_flight`]: crate::AxonConfig::max_in_flight
    Allow(Priority),
    /// Refuse with `PERMISSION_DENIED` and this reason.
    Deny(String),
}

/// How much a caller matters when the axon is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Priority {
    /// Shed first when busy.
    Low,
    #[default]
    Normal,
    High,
}

/// Decides per request, after the signature and nonce were verified and before any tensor is
/// decoded. Runs on the blocking pool; keep it cheap (a table look-up).
pub trait Policy: Send + Sync + 'static {
    /// `caller` is the verified neuron key, or `None` for an unsigned request (only possible
    /// with [`AxonConfig::allow_unsigned`](crate::AxonConfig::allow_unsigned)).
    fn check(&self, caller: Option<&PublicKey>, synapse_key: &str, method: RpcMethod) -> Decision;
}

/// The default policy: everyone is served at normal priority.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl Policy for AllowAll {
    fn check(&self, _: Option<&PublicKey>, _: &str, _: RpcMethod) -> Decision {
        Decision::Allow(Priority::Normal)
    }
}
