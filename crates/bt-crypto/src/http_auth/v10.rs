//! The SDK v10 Synapse signature (`bt_header_dendrite_signature`).

use super::error::AuthError;
use super::fields::{parse_hotkey, parse_nonce, parse_signature};
use super::replay::ReplayStore;
use crate::wallet::{AccountId, Sr25519Pair, VerifyingAccount};

pub const V10_NONCE_HEADER: &str = "bt_header_dendrite_nonce";
pub const V10_HOTKEY_HEADER: &str = "bt_header_dendrite_hotkey";
pub const V10_SIGNATURE_HEADER: &str = "bt_header_dendrite_signature";

/// `"{nonce}.{dendrite_hotkey}.{axon_hotkey}.{dendrite_uuid}.{body_hash}"`, hotkeys in SS58
/// (prefix 42; [`AccountId::to_ss58`], which callers encode once and keep: base58 costs
/// microseconds). Unambiguous although `uuid` may contain dots: every other field is dot-free.
pub fn v10_message(
    nonce: i64,
    dendrite_ss58: &str,
    axon_ss58: &str,
    dendrite_uuid: &str,
    body_hash: &str,
) -> String {
    format!("{nonce}.{dendrite_ss58}.{axon_ss58}.{dendrite_uuid}.{body_hash}")
}

/// The header value: `0x` + 128 lower-case hex digits of an sr25519 signature (context
/// `substrate`) over the UTF-8 of `message`.
pub fn v10_sign(pair: &Sr25519Pair, message: &str) -> String {
    format!("0x{}", hex::encode(pair.sign(message.as_bytes())))
}

/// Check a signature header value. Like the SDK, the `0x` is required and the hex digits may be
/// of either case.
pub fn v10_verify(signer: &AccountId, message: &str, signature: &str) -> Result<(), AuthError> {
    let sig = parse_signature(signature, true)?;
    signer
        .verify(message.as_bytes(), &sig)
        .map_err(|_| AuthError::BadSignature {
            hotkey: signer.to_ss58(),
        })
}

/// The authentication headers of one v10 request, as received (`body_hash` excepted: that is
/// the hash the axon computed itself from the body, never the client's `computed_body_hash`).
#[derive(Clone, Copy, Debug)]
pub struct V10Request<'a> {
    pub nonce: Option<&'a str>,
    pub dendrite_hotkey: Option<&'a str>,
    pub dendrite_uuid: &'a str,
    pub signature: Option<&'a str>,
    pub body_hash: &'a str,
}

/// A v10 request whose headers parsed: who claims to have signed what. Nothing about it is
/// verified yet ([`V10Claim::verify`], or many at once with [`verify_v10_batch`]).
#[derive(Clone, Debug)]
pub struct V10Claim {
    pub hotkey: AccountId,
    pub nonce: i64,
    /// The signed message, as [`v10_message`] lays it out.
    pub message: String,
    pub signature: [u8; 64],
}

impl V10Request<'_> {
    /// Parses the headers into the claim to verify, for the axon whose SS58 is `axon_ss58`.
    /// The dendrite's SS58 enters the message as it came: the SDK signs and checks that string,
    /// and a parse that succeeded means it is the canonical encoding of `hotkey`.
    pub fn claim(&self, axon_ss58: &str) -> Result<V10Claim, AuthError> {
        let missing = |header| AuthError::MissingHeader { header };
        let nonce = parse_nonce(
            V10_NONCE_HEADER,
            self.nonce.ok_or(missing(V10_NONCE_HEADER))?,
        )?;
        let ss58 = self.dendrite_hotkey.ok_or(missing(V10_HOTKEY_HEADER))?;
        let hotkey = parse_hotkey(V10_HOTKEY_HEADER, ss58)?;
        let signature =
            parse_signature(self.signature.ok_or(missing(V10_SIGNATURE_HEADER))?, true)?;
        Ok(V10Claim {
            hotkey,
            nonce,
            message: v10_message(nonce, ss58, axon_ss58, self.dendrite_uuid, self.body_hash),
            signature,
        })
    }
}

impl V10Claim {
    /// The signature check alone (freshness and replay are the [`ReplayStore`]'s).
    pub fn verify(&self) -> Result<(), AuthError> {
        self.verify_with(&self.verifying_key()?)
    }

    /// The signer's key, decompressed (worth caching for callers that come back).
    pub fn verifying_key(&self) -> Result<VerifyingAccount, AuthError> {
        self.hotkey
            .verifying_key()
            .map_err(|_| self.bad_signature())
    }

    /// [`Self::verify`] with the signer's key already decompressed.
    pub fn verify_with(&self, key: &VerifyingAccount) -> Result<(), AuthError> {
        if key.id() != self.hotkey {
            return Err(self.bad_signature());
        }
        key.verify(self.message.as_bytes(), &self.signature)
            .map_err(|_| self.bad_signature())
    }

    fn bad_signature(&self) -> AuthError {
        AuthError::BadSignature {
            hotkey: self.hotkey.to_ss58(),
        }
    }
}

/// The signature checks of many claims at once, each with its signer's decompressed key: one
/// batch verification when all hold, each alone when not (so one forgery fails only itself).
pub fn verify_v10_batch(claims: &[(&V10Claim, &VerifyingAccount)]) -> Vec<Result<(), AuthError>> {
    let items: Vec<(&VerifyingAccount, &[u8], &[u8])> = claims
        .iter()
        .map(|(c, k)| (*k, c.message.as_bytes(), &c.signature[..]))
        .collect();
    let verdicts = crate::wallet::verify_sr25519_batch(&items);
    claims
        .iter()
        .zip(verdicts)
        .map(|((claim, key), verdict)| {
            if key.id() != claim.hotkey {
                return Err(claim.bad_signature());
            }
            verdict.map_err(|_| claim.bad_signature())
        })
        .collect()
}

/// Whole check of a v10 request addressed to the axon whose SS58 is `axon_ss58`: shape,
/// freshness, signature, then replay. Freshness does not depend on `bt_header_dendrite_version`
/// (the SDK skips it when that unsigned header is absent or old, which lets a captured request
/// be replayed forever). Returns the authenticated dendrite hotkey.
pub fn verify_v10_request(
    req: &V10Request<'_>,
    axon_ss58: &str,
    store: &mut ReplayStore<AccountId>,
    now_ns: i64,
) -> Result<AccountId, AuthError> {
    let claim = req.claim(axon_ss58)?;
    // Cheap rejection before the signature; recorded only once the signature verified.
    store.check_fresh(claim.nonce, now_ns)?;
    claim.verify()?;
    store.check_and_record(&claim.hotkey, claim.nonce, now_ns)?;
    Ok(claim.hotkey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_auth::{NonceError, ReplayStoreConfig};

    const NOW: i64 = 1_700_000_000_000_000_000;
    const HASH: &str = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";

    fn keys() -> (Sr25519Pair, Sr25519Pair) {
        (
            Sr25519Pair::from_seed([1; 32]),
            Sr25519Pair::from_seed([2; 32]),
        )
    }

    #[test]
    fn message_layout() {
        let (d, a) = keys();
        let m = v10_message(42, &d.ss58(), &a.ss58(), "u-1.x", HASH);
        assert_eq!(m, format!("42.{}.{}.u-1.x.{HASH}", d.ss58(), a.ss58()));
        assert!(m.starts_with("42.5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH."));
    }

    #[test]
    fn sign_verify_and_failure_kinds() {
        let (d, a) = keys();
        let m = v10_message(NOW, &d.ss58(), &a.ss58(), "uuid", HASH);
        let sig = v10_sign(&d, &m);
        assert_eq!(sig.len(), 130);
        v10_verify(&d.account(), &m, &sig).unwrap();
        v10_verify(
            &d.account(),
            &m,
            &sig.to_uppercase().replacen("0X", "0x", 1),
        )
        .unwrap();
        assert!(matches!(
            v10_verify(&a.account(), &m, &sig),
            Err(AuthError::BadSignature { .. })
        ));
        assert!(matches!(
            v10_verify(&d.account(), &format!("{m}x"), &sig),
            Err(AuthError::BadSignature { .. })
        ));
        assert!(matches!(
            v10_verify(&d.account(), &m, &sig[2..]),
            Err(AuthError::SignatureNotHex { .. })
        ));
        assert_eq!(
            v10_verify(&d.account(), &m, &sig[..128]),
            Err(AuthError::SignatureLength { len: 63 })
        );
        // 64 bytes that are not an sr25519 signature (marker bit clear).
        assert!(matches!(
            v10_verify(&d.account(), &m, &format!("0x{}", "00".repeat(64))),
            Err(AuthError::BadSignature { .. })
        ));
    }

    fn request<'a>(nonce: &'a str, hotkey: &'a str, sig: &'a str) -> V10Request<'a> {
        V10Request {
            nonce: Some(nonce),
            dendrite_hotkey: Some(hotkey),
            dendrite_uuid: "uuid",
            signature: Some(sig),
            body_hash: HASH,
        }
    }

    #[test]
    fn whole_request_checks_and_replay() {
        let (d, a) = keys();
        let mut store = ReplayStore::new(ReplayStoreConfig::sdk_v10(12));
        let sig = v10_sign(&d, &v10_message(NOW, &d.ss58(), &a.ss58(), "uuid", HASH));
        let (n, h) = (NOW.to_string(), d.ss58());
        let req = request(&n, &h, &sig);
        assert_eq!(
            verify_v10_request(&req, &a.ss58(), &mut store, NOW + 1).unwrap(),
            d.account()
        );
        assert!(matches!(
            verify_v10_request(&req, &a.ss58(), &mut store, NOW + 1),
            Err(AuthError::Nonce(NonceError::Replayed { .. }))
        ));
        // Addressed to another axon.
        let mut fresh = ReplayStore::new(ReplayStoreConfig::sdk_v10(12));
        assert!(matches!(
            verify_v10_request(&req, &d.ss58(), &mut fresh, NOW),
            Err(AuthError::BadSignature { .. })
        ));
        // 16 s old is the edge; one ns more is stale, whatever the version header said.
        assert!(matches!(
            verify_v10_request(&req, &a.ss58(), &mut fresh, NOW + 16_000_000_001),
            Err(AuthError::Nonce(NonceError::Stale { .. }))
        ));
        assert!(fresh.is_empty(), "failed checks record nothing");
    }

    #[test]
    fn whole_request_shape_errors() {
        let (d, a) = keys();
        let mut store = ReplayStore::new(ReplayStoreConfig::sdk_v10(12));
        let sig = v10_sign(&d, "x");
        let h = d.ss58();
        let mut req = request("12", &h, &sig);
        req.nonce = None;
        assert_eq!(
            verify_v10_request(&req, &a.ss58(), &mut store, NOW),
            Err(AuthError::MissingHeader {
                header: V10_NONCE_HEADER
            })
        );
        let req = request("1e9", &h, &sig);
        assert!(matches!(
            verify_v10_request(&req, &a.ss58(), &mut store, NOW),
            Err(AuthError::BadHeader { .. })
        ));
        let req = request("12", "5Fake", &sig);
        assert!(matches!(
            verify_v10_request(&req, &a.ss58(), &mut store, NOW),
            Err(AuthError::BadSs58 { .. })
        ));
        let mut req = request("12", &h, &sig);
        req.signature = None;
        assert_eq!(
            verify_v10_request(&req, &a.ss58(), &mut store, NOW),
            Err(AuthError::MissingHeader {
                header: V10_SIGNATURE_HEADER
            })
        );
    }

    #[test]
    fn batches_find_each_forgery_and_pass_the_rest() {
        let (d, a) = keys();
        let e = Sr25519Pair::from_seed([3; 32]);
        let mut claims = Vec::new();
        for (i, signer) in [&d, &e, &d, &e, &d].into_iter().enumerate() {
            let uuid = format!("u{i}");
            let message = v10_message(NOW + i as i64, &signer.ss58(), &a.ss58(), &uuid, HASH);
            let header = v10_sign(signer, &message);
            let nonce = (NOW + i as i64).to_string();
            let ss58 = signer.ss58();
            let req = V10Request {
                nonce: Some(&nonce),
                dendrite_hotkey: Some(&ss58),
                dendrite_uuid: &uuid,
                signature: Some(&header),
                body_hash: HASH,
            };
            let mut claim = req.claim(&a.ss58()).unwrap();
            if i == 3 {
                claim.signature[5] ^= 1;
            }
            claims.push(claim);
        }
        let keys: Vec<VerifyingAccount> =
            claims.iter().map(|c| c.verifying_key().unwrap()).collect();
        let pairs: Vec<(&V10Claim, &VerifyingAccount)> = claims.iter().zip(&keys).collect();
        let verdicts = verify_v10_batch(&pairs);
        for (i, v) in verdicts.iter().enumerate() {
            assert_eq!(v.is_ok(), i != 3, "claim {i}: {v:?}");
            assert_eq!(claims[i].verify().is_ok(), i != 3);
        }
        // all good: the batch path itself
        let good: Vec<(&V10Claim, &VerifyingAccount)> = pairs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, p)| *p)
            .collect();
        assert!(verify_v10_batch(&good).iter().all(Result::is_ok));
        // a key that is not the claimed signer's never verifies
        assert!(claims[0].verify_with(&keys[1]).is_err());
        assert!(verify_v10_batch(&[(&claims[0], &keys[1])])[0].is_err());
    }
}
