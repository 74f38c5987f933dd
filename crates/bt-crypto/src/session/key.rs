//! The session key: what both ends derive from the X25519 exchange of the handshake.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::CryptoError;

use super::version::SessionVersion;

/// A session id, chosen at random by the axon.
pub type SessionId = [u8; 16];

/// The key both ends derive; requests are MAC'd with it. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKey {
    bytes: [u8; 32],
    /// The version it was derived for (and only ever used with).
    #[zeroize(skip)]
    version: SessionVersion,
}

impl SessionKey {
    /// A key from its bytes (tests and tools; real keys come from the handshake).
    pub fn from_bytes(bytes: [u8; 32], version: SessionVersion) -> Self {
        Self { bytes, version }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    pub fn version(&self) -> SessionVersion {
        self.version
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

/// HKDF-SHA256 over the X25519 secret; salt = session id; info binds both shares and both keys
/// (as the wire strings). Refuses a non-contributory exchange (a small-order share).
pub(super) fn derive_session_key(
    secret: &StaticSecret,
    peer_share: &[u8; 32],
    version: SessionVersion,
    transcript: &KeyTranscript<'_>,
) -> Result<SessionKey, CryptoError> {
    let shared = secret.diffie_hellman(&XPublic::from(*peer_share));
    if !shared.was_contributory() {
        return Err(CryptoError::WeakSessionShare);
    }
    let mut info = Vec::with_capacity(200);
    for field in [
        version.key_tag(),
        transcript.caller_share,
        transcript.axon_share,
        transcript.caller_key.as_bytes(),
        transcript.synapse_key.as_bytes(),
    ] {
        info.extend_from_slice(&(field.len() as u64).to_le_bytes());
        info.extend_from_slice(field);
    }
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(transcript.session_id), shared.as_bytes())
        .expand(&info, &mut okm)
        .map_err(|_| CryptoError::WeakSessionShare)?; // 32 ≤ 255·32: cannot fail
    Ok(SessionKey {
        bytes: okm,
        version,
    })
}

/// The fields both ends bind into the session key.
pub(super) struct KeyTranscript<'a> {
    pub(super) session_id: &'a SessionId,
    pub(super) caller_share: &'a [u8; 32],
    pub(super) axon_share: &'a [u8; 32],
    /// `neuron_key` exactly as sent.
    pub(super) caller_key: &'a str,
    /// The `synapse_key` of the handshake request exactly as sent.
    pub(super) synapse_key: &'a str,
}
