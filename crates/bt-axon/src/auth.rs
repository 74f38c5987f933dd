//! Who sent a request: a per-request signature (batch-verified when small), a session MAC, or
//! a handshake's offer; then whether the policy lets that caller in; then the nonce. Every
//! check runs before any tensor is decoded. A forged request never moves a nonce floor or a
//! session window, and a caller the policy refuses never takes room in the nonce table.

use std::net::IpAddr;
use std::sync::{Arc, PoisonError};

use bt_crypto::session::{SessionAccept, SessionOffer, SessionProof};
use bt_crypto::{CryptoError, Dialled, PublicKey, RpcMethod};
use bt_wire::TensorMessage;
use tonic::Status;

use crate::session::Auth;
use crate::shared::Shared;
use crate::status::{status, unauthenticated};
use crate::verify::TensorJob;

impl Shared {
    /// Signature (or MAC) first, then the policy, then the nonce (or counter): a forged
    /// request must never move a caller's nonce floor or a session's window, and a refused
    /// caller must not take room in the nonce table. `small`: the payload is at most
    /// `inline_max_bytes`, so hashing it costs less than a separate table lookup. `dialled`:
    /// the endpoint a v2 signature binds (already checked to be ours), `None` for v1.
    pub(crate) fn authenticate(
        &self,
        msg: &TensorMessage,
        method: RpcMethod,
        auth: &Auth,
        small: bool,
        peer: IpAddr,
        dialled: Option<&Dialled>,
    ) -> Result<Option<PublicKey>, Status> {
        match auth {
            Auth::Session(proof) => {
                let caller = self.authenticate_session(msg, method, proof, small)?;
                self.authorize(Some(&caller), &msg.synapse_key, method)?;
                Ok(Some(caller))
            }
            Auth::Offer(offer, _) => self
                .authenticate_offer(msg, method, offer, peer, dialled)
                .map(Some),
            Auth::Plain => {
                if msg.signature.is_empty() {
                    return self.anonymous(msg, method);
                }
                self.metrics.signature_checked();
                let caller = bt_crypto::verify_request_bound(msg, method, dialled)
                    .map_err(unauthenticated)?;
                self.authorize(Some(&caller), &msg.synapse_key, method)?;
                self.check_nonce(&caller, msg.nounce, peer)?;
                Ok(Some(caller))
            }
        }
    }

    /// A handshake: the offer signature covers the request digest (v1 or v2, as the plain
    /// signature) and the caller's share, so it alone authenticates the request (the plain
    /// `signature` is for axons that ignore offers). Then the nonce, as for any signed request.
    fn authenticate_offer(
        &self,
        msg: &TensorMessage,
        method: RpcMethod,
        offer: &SessionOffer,
        peer: IpAddr,
        dialled: Option<&Dialled>,
    ) -> Result<PublicKey, Status> {
        let caller = bt_crypto::parse_caller_key(&msg.neuron_key).map_err(unauthenticated)?;
        self.metrics.signature_checked();
        let digest = bt_crypto::message_digest_bound(msg, method, dialled);
        bt_crypto::session::verify_offer(&caller, &digest, offer).map_err(unauthenticated)?;
        self.authorize(Some(&caller), &msg.synapse_key, method)?;
        self.check_nonce(&caller, msg.nounce, peer)?;
        Ok(caller)
    }

    /// A request under a session: the MAC over the request digest (its tensors hashed as the
    /// session's version says) and the counter, checked against the session's key, version,
    /// caller and window. Hashing happens outside the table lock.
    /// A large payload is hashed only once its session is known to exist (`small == false`);
    /// a small one is hashed first, so the table is locked once per request.
    fn authenticate_session(
        &self,
        msg: &TensorMessage,
        method: RpcMethod,
        proof: &SessionProof,
        small: bool,
    ) -> Result<PublicKey, Status> {
        if !small {
            let now = self.now_ns();
            let mut table = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = table.precheck(&proof.session_id, &msg.neuron_key, now) {
                self.metrics.session_checked(false, table.len());
                return Err(unauthenticated(e));
            }
        }
        let payload = proof.version.payload_hash(&msg.tensors);
        let digest = bt_crypto::message_digest_with(msg, method, payload);
        self.check_session_proof(msg, proof, &digest)
    }

    /// The session checks of a request whose digest is known.
    pub(crate) fn check_session_proof(
        &self,
        msg: &TensorMessage,
        proof: &SessionProof,
        digest: &[u8; 32],
    ) -> Result<PublicKey, Status> {
        let now = self.now_ns();
        let mut table = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let verdict = table.authenticate(proof, &msg.neuron_key, digest, now);
        self.metrics.session_checked(verdict.is_ok(), table.len());
        verdict.map_err(unauthenticated)
    }

    /// After a served handshake: the axon's share and a session id, and the session stored
    /// under the caller that signed the offer. `None` when the request opened no session
    /// (no offer, anonymous, or a degenerate share: the request itself was fine).
    pub(crate) fn open_session(
        &self,
        auth: &Auth,
        caller: Option<&PublicKey>,
        msg: &TensorMessage,
        peer: IpAddr,
    ) -> Option<SessionAccept> {
        let (Auth::Offer(offer, version), Some(caller)) = (auth, caller) else {
            return None;
        };
        let (accept, key) = match bt_crypto::session::accept_offer(
            offer,
            *version,
            &msg.neuron_key,
            &msg.synapse_key,
        ) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(caller = %caller, "session offer not accepted: {e}");
                return None;
            }
        };
        let now = self.now_ns();
        let source = (!peer.is_unspecified()).then_some(peer);
        let mut table = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = table.insert(
            accept.session_id,
            *caller,
            &msg.neuron_key,
            key,
            now,
            source,
        ) {
            tracing::debug!(caller = %caller, "{e}");
            return None;
        }
        self.metrics.session_opened(table.len());
        Some(accept)
    }

    /// [`Shared::authenticate`] with the signature checked in a batch with concurrent requests.
    pub(crate) async fn authenticate_batched(
        &self,
        msg: &Arc<TensorMessage>,
        method: RpcMethod,
        peer: IpAddr,
        dialled: Option<Dialled>,
    ) -> Result<Option<PublicKey>, Status> {
        if msg.signature.is_empty() {
            return self.anonymous(msg, method);
        }
        // Requests still arriving count as company: they will be checked in a moment.
        let alone = self
            .open_requests
            .load(std::sync::atomic::Ordering::Relaxed)
            <= 1;
        self.metrics.signature_checked();
        let caller = self
            .verifier
            .verify(
                TensorJob {
                    msg: msg.clone(),
                    method,
                    dialled,
                },
                alone,
            )
            .await
            .map_err(unauthenticated)?;
        self.authorize(Some(&caller), &msg.synapse_key, method)?;
        self.check_nonce(&caller, msg.nounce, peer)?;
        Ok(Some(caller))
    }

    fn anonymous(
        &self,
        msg: &TensorMessage,
        method: RpcMethod,
    ) -> Result<Option<PublicKey>, Status> {
        if self.config.allow_unsigned {
            self.authorize(None, &msg.synapse_key, method)?;
            return Ok(None);
        }
        Err(Status::unauthenticated(
            "unsigned request refused: sign it with your neuron key (this axon was not \
             started with allow_unsigned)",
        ))
    }

    fn check_nonce(&self, caller: &PublicKey, nonce: i64, peer: IpAddr) -> Result<(), Status> {
        let now = bt_crypto::unix_nanos();
        let source = (!peer.is_unspecified()).then_some(peer);
        self.replay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check_and_record_from(caller, nonce, now, source)
            .map_err(|e| match e {
                CryptoError::NonceTableFull { .. } => {
                    status(tonic::Code::ResourceExhausted, e.to_string())
                }
                e => unauthenticated(e),
            })
    }
}
