//! Authenticating one request of a session: HMAC-SHA256 over its digest and its counter.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::CryptoError;

use super::headers::{SESSION_HEADER, SessionProof, bad_header};
use super::key::{SessionId, SessionKey};
use super::version::SessionVersion;

type HmacSha256 = Hmac<Sha256>;

/// The MAC of one session, ready to use: HMAC-SHA256 keyed with the session key, with the
/// fields that never change within the session (`lp(tag) || lp(session_id)`) already absorbed.
/// Each request then costs a clone and three SHA-256 compressions instead of five (keying
/// hashes the inner and outer pad blocks once, here, not per request).
///
/// It holds the keyed hash state, which is as good as the key for forging MACs; RustCrypto's
/// HMAC state is not zeroized on drop (the [`SessionKey`] it came from is).
#[derive(Clone)]
pub struct SessionMac {
    session_id: SessionId,
    version: SessionVersion,
    keyed: HmacSha256,
}

impl SessionMac {
    pub fn new(key: &SessionKey, session_id: &SessionId) -> Self {
        // `new_from_slice` accepts keys of any length; 32 bytes cannot fail.
        let mut keyed = match HmacSha256::new_from_slice(key.as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable_hmac(),
        };
        for field in [key.version().request_tag(), session_id.as_slice()] {
            keyed.update(&(field.len() as u64).to_le_bytes());
            keyed.update(field);
        }
        Self {
            session_id: *session_id,
            version: key.version(),
            keyed,
        }
    }

    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    pub fn version(&self) -> SessionVersion {
        self.version
    }

    /// The [`SessionProof`] of request `counter` whose digest is `request_digest`.
    pub fn prove(&self, counter: u64, request_digest: &[u8; 32]) -> SessionProof {
        SessionProof {
            version: self.version,
            session_id: self.session_id,
            counter,
            mac: self.mac(counter, request_digest),
        }
    }

    fn state(&self, counter: u64, digest: &[u8; 32]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        // One update of the per-request fields: `u64_le(counter) || lp(digest)`.
        let mut tail = [0u8; 8 + 8 + 32];
        tail[..8].copy_from_slice(&counter.to_le_bytes());
        tail[8..16].copy_from_slice(&(digest.len() as u64).to_le_bytes());
        tail[16..].copy_from_slice(digest);
        mac.update(&tail);
        mac
    }

    /// [`session_mac`] for this session.
    pub fn mac(&self, counter: u64, request_digest: &[u8; 32]) -> [u8; 32] {
        self.state(counter, request_digest)
            .finalize()
            .into_bytes()
            .into()
    }

    /// [`verify_session_mac`] for this session (constant time). A proof for another session
    /// is refused.
    pub fn verify(
        &self,
        proof: &SessionProof,
        request_digest: &[u8; 32],
    ) -> Result<(), CryptoError> {
        let refused = || CryptoError::BadSessionMac {
            session: hex::encode(proof.session_id),
        };
        if proof.session_id != self.session_id {
            return Err(refused());
        }
        if proof.version != self.version {
            return Err(bad_header(
                SESSION_HEADER,
                &format!(
                    "session {} is version {}, the request says {}",
                    hex::encode(proof.session_id),
                    self.version.number(),
                    proof.version.number()
                ),
            ));
        }
        self.state(proof.counter, request_digest)
            .verify_slice(&proof.mac)
            .map_err(|_| refused())
    }
}

impl fmt::Debug for SessionMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionMac({}, …)", hex::encode(self.session_id))
    }
}

#[cold]
fn unreachable_hmac() -> ! {
    // HMAC takes keys of any length (RustCrypto documents `new_from_slice` as infallible for
    // HMAC); a 32-byte key reaching here would be a bug in the dependency.
    panic!("HMAC-SHA256 refused a 32-byte key")
}

/// `HMAC-SHA256(key, lp(tag) || lp(session_id) || u64_le(counter) || lp(request_digest))`, with
/// the tag of the key's version.
/// For many requests of one session, [`SessionMac`] saves re-keying each time.
pub fn session_mac(
    key: &SessionKey,
    session_id: &SessionId,
    counter: u64,
    request_digest: &[u8; 32],
) -> [u8; 32] {
    SessionMac::new(key, session_id).mac(counter, request_digest)
}

/// Constant-time check of a request's MAC.
pub fn verify_session_mac(
    key: &SessionKey,
    proof: &SessionProof,
    request_digest: &[u8; 32],
) -> Result<(), CryptoError> {
    SessionMac::new(key, &proof.session_id).verify(proof, request_digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pre_keyed_mac_matches_session_mac_and_is_bound_to_its_session() {
        let key = SessionKey::from_bytes([4; 32], SessionVersion::V2);
        let sid = [5u8; 16];
        let mac = SessionMac::new(&key, &sid);
        for (counter, digest) in [(1u64, [0u8; 32]), (u64::MAX >> 2, [0xab; 32])] {
            let m = mac.mac(counter, &digest);
            assert_eq!(m, session_mac(&key, &sid, counter, &digest));
            let proof = SessionProof {
                version: SessionVersion::V2,
                session_id: sid,
                counter,
                mac: m,
            };
            mac.verify(&proof, &digest).unwrap();
            verify_session_mac(&key, &proof, &digest).unwrap();
            assert!(mac.verify(&proof, &[1; 32]).is_err());
            let elsewhere = SessionProof {
                session_id: [6; 16],
                ..proof
            };
            assert!(mac.verify(&elsewhere, &digest).is_err());
        }
    }
}
