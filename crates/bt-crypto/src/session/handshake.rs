//! The two halves of the handshake: the caller's offer (an X25519 share signed with its neuron
//! key) and the axon's accept, each ending with the session key.

use std::fmt;

use x25519_dalek::{PublicKey as XPublic, StaticSecret};

use crate::transcript::Transcript;
use crate::{CryptoError, NeuronKey, PublicKey};

use super::headers::{ACCEPT_HEADER, SessionAccept, SessionOffer, bad_header};
use super::key::{KeyTranscript, SessionId, SessionKey, derive_session_key};
use super::version::SessionVersion;

pub const SESSION_OFFER_TAG: &[u8] = b"bittensor/session-offer/v1";

/// What the offer signature signs: the request's v1 digest and the caller's share.
pub fn offer_digest(request_digest: &[u8; 32], share: &[u8; 32]) -> [u8; 32] {
    let mut t = Transcript::new(SESSION_OFFER_TAG);
    t.bytes(request_digest).bytes(share);
    t.finish()
}

/// Verify a handshake: the offer signature by `caller` over the request digest and the share.
/// It authenticates the request as fully as the plain request signature does.
pub fn verify_offer(
    caller: &PublicKey,
    request_digest: &[u8; 32],
    offer: &SessionOffer,
) -> Result<(), CryptoError> {
    caller.verify(
        &offer_digest(request_digest, &offer.share),
        &offer.signature,
    )
}

/// The caller's half: an ephemeral X25519 secret, used for one handshake.
pub struct SessionInitiator {
    secret: StaticSecret,
    share: [u8; 32],
    /// The highest version offered (what the caller puts in `bt-session-version`).
    max_version: SessionVersion,
}

impl SessionInitiator {
    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> Self {
        Self::from_secret(StaticSecret::random_from_rng(rand_core::OsRng))
    }

    /// A fixed secret (test vectors).
    pub fn from_secret_bytes(secret: [u8; 32]) -> Self {
        Self::from_secret(StaticSecret::from(secret))
    }

    fn from_secret(secret: StaticSecret) -> Self {
        let share = XPublic::from(&secret).to_bytes();
        Self {
            secret,
            share,
            max_version: SessionVersion::LATEST,
        }
    }

    /// Offer at most `version` (default [`SessionVersion::LATEST`]).
    pub fn with_max_version(mut self, version: SessionVersion) -> Self {
        self.max_version = version;
        self
    }

    pub fn max_version(&self) -> SessionVersion {
        self.max_version
    }

    pub fn share(&self) -> &[u8; 32] {
        &self.share
    }

    /// The offer header for a request whose v1 digest is `request_digest`, signed by `key`
    /// (the same key that signs the request).
    pub fn offer(&self, key: &NeuronKey, request_digest: &[u8; 32]) -> SessionOffer {
        SessionOffer {
            share: self.share,
            signature: key.sign(&offer_digest(request_digest, &self.share)),
        }
    }

    /// The session key from the axon's accept. `caller_key` and `synapse_key` are the
    /// handshake request's `neuron_key` and `synapse_key` as sent. Consumes the secret. An
    /// accept of a version above the one offered is refused.
    pub fn complete(
        self,
        accept: &SessionAccept,
        caller_key: &str,
        synapse_key: &str,
    ) -> Result<SessionKey, CryptoError> {
        if accept.version > self.max_version {
            return Err(bad_header(
                ACCEPT_HEADER,
                &format!(
                    "the axon chose version {}, above the {} offered",
                    accept.version.number(),
                    self.max_version.number()
                ),
            ));
        }
        derive_session_key(
            &self.secret,
            &accept.share,
            accept.version,
            &KeyTranscript {
                session_id: &accept.session_id,
                caller_share: &self.share,
                axon_share: &accept.share,
                caller_key,
                synapse_key,
            },
        )
    }
}

impl fmt::Debug for SessionInitiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionInitiator({})", hex::encode(self.share))
    }
}

/// The axon's half of a handshake whose offer was verified: a fresh share and session id,
/// and the key, for a session of `version` (see [`SessionVersion::negotiate`]). The caller's
/// share is checked (a small-order share is refused).
pub fn accept_offer(
    offer: &SessionOffer,
    version: SessionVersion,
    caller_key: &str,
    synapse_key: &str,
) -> Result<(SessionAccept, SessionKey), CryptoError> {
    let mut session_id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut session_id);
    accept_with(
        StaticSecret::random_from_rng(rand_core::OsRng),
        session_id,
        offer,
        version,
        caller_key,
        synapse_key,
    )
}

/// The axon's half for a caller share whose signature the owner verified itself (the HTTP
/// handshake signs it with an sr25519 hotkey, not with a neuron key): as [`accept_offer`].
pub fn accept_share(
    share: &[u8; 32],
    version: SessionVersion,
    caller_key: &str,
    synapse_key: &str,
) -> Result<(SessionAccept, SessionKey), CryptoError> {
    let offer = SessionOffer {
        share: *share,
        signature: [0; 64],
    };
    accept_offer(&offer, version, caller_key, synapse_key)
}

/// [`accept_offer`] with the axon's secret and the session id given (test vectors).
pub fn accept_offer_with(
    secret: [u8; 32],
    session_id: SessionId,
    offer: &SessionOffer,
    version: SessionVersion,
    caller_key: &str,
    synapse_key: &str,
) -> Result<(SessionAccept, SessionKey), CryptoError> {
    accept_with(
        StaticSecret::from(secret),
        session_id,
        offer,
        version,
        caller_key,
        synapse_key,
    )
}

fn accept_with(
    secret: StaticSecret,
    session_id: SessionId,
    offer: &SessionOffer,
    version: SessionVersion,
    caller_key: &str,
    synapse_key: &str,
) -> Result<(SessionAccept, SessionKey), CryptoError> {
    let share = XPublic::from(&secret).to_bytes();
    let key = derive_session_key(
        &secret,
        &offer.share,
        version,
        &KeyTranscript {
            session_id: &session_id,
            caller_share: &offer.share,
            axon_share: &share,
            caller_key,
            synapse_key,
        },
    )?;
    Ok((
        SessionAccept {
            version,
            session_id,
            share,
        },
        key,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accept_above_the_offered_version_is_refused() {
        use SessionVersion::{V1, V2};
        let caller = NeuronKey::from_seed([1; 32]);
        let init = SessionInitiator::generate().with_max_version(V1);
        let offer = init.offer(&caller, &[0; 32]);
        let (accept, _) = accept_offer(&offer, V2, &caller.public_hex(), "s").unwrap();
        assert!(init.complete(&accept, &caller.public_hex(), "s").is_err());
    }

    #[test]
    fn small_order_shares_are_refused() {
        let caller = NeuronKey::from_seed([1; 32]);
        let offer = SessionOffer {
            share: [0; 32],
            signature: [0; 64],
        };
        assert!(matches!(
            accept_offer(&offer, SessionVersion::V1, &caller.public_hex(), "x"),
            Err(CryptoError::WeakSessionShare)
        ));
    }
}
