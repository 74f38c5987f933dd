//! The SDK v10 Synapse signature (`bt_header_dendrite_signature`).

use super::error::AuthError;
use super::fields::{parse_hotkey, parse_nonce, parse_signature};
use super::replay::ReplayStore;
use crate::wallet::{AccountId, Sr25519Pair};

pub const V10_NONCE_HEADER: &str = "bt_header_dendrite_nonce";
pub const V10_HOTKEY_HEADER: &str = "bt_header_dendrite_hotkey";
pub const V10_SIGNATURE_HEADER: &str = "bt_header_dendrite_signature";

/// `"{nonce}.{dendrite_hotkey}.{axon_hotkey}.{dendrite_uuid}.{body_hash}"`, hotkeys in SS58
/// (prefix 42). Unambiguous although `uuid` may contain dots: every other field is dot-free.
pub fn v10_message(
    nonce: i64,
    dendrite_hotkey: &AccountId,
    axon_hotkey: &AccountId,
    dendrite_uuid: &str,
    body_hash: &str,
) -> String {
    format!(
        "{nonce}.{}.{}.{dendrite_uuid}.{body_hash}",
        dendrite_hotkey.to_ss58(),
        axon_hotkey.to_ss58()
    )
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

/// Whole check of a v10 request addressed to `axon_hotkey`: shape, freshness, signature, then
/// replay. Freshness does not depend on `bt_header_dendrite_version` (the SDK skips it when that
/// unsigned header is absent or old, which lets a captured request be replayed forever).
/// Returns the authenticated dendrite hotkey.
pub fn verify_v10_request(
    req: &V10Request<'_>,
    axon_hotkey: &AccountId,
    store: &mut ReplayStore<AccountId>,
    now_ns: i64,
) -> Result<AccountId, AuthError> {
    let missing = |header| AuthError::MissingHeader { header };
    let nonce = parse_nonce(
        V10_NONCE_HEADER,
        req.nonce.ok_or(missing(V10_NONCE_HEADER))?,
    )?;
    let hotkey = parse_hotkey(
        V10_HOTKEY_HEADER,
        req.dendrite_hotkey.ok_or(missing(V10_HOTKEY_HEADER))?,
    )?;
    let signature = req.signature.ok_or(missing(V10_SIGNATURE_HEADER))?;
    // Cheap rejection before the signature; recorded only once the signature verified.
    store.check_fresh(nonce, now_ns)?;
    let message = v10_message(
        nonce,
        &hotkey,
        axon_hotkey,
        req.dendrite_uuid,
        req.body_hash,
    );
    v10_verify(&hotkey, &message, signature)?;
    store.check_and_record(&hotkey, nonce, now_ns)?;
    Ok(hotkey)
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
        let m = v10_message(42, &d.account(), &a.account(), "u-1.x", HASH);
        assert_eq!(m, format!("42.{}.{}.u-1.x.{HASH}", d.ss58(), a.ss58()));
        assert!(m.starts_with("42.5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH."));
    }

    #[test]
    fn sign_verify_and_failure_kinds() {
        let (d, a) = keys();
        let m = v10_message(NOW, &d.account(), &a.account(), "uuid", HASH);
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
        let sig = v10_sign(
            &d,
            &v10_message(NOW, &d.account(), &a.account(), "uuid", HASH),
        );
        let (n, h) = (NOW.to_string(), d.ss58());
        let req = request(&n, &h, &sig);
        assert_eq!(
            verify_v10_request(&req, &a.account(), &mut store, NOW + 1).unwrap(),
            d.account()
        );
        assert!(matches!(
            verify_v10_request(&req, &a.account(), &mut store, NOW + 1),
            Err(AuthError::Nonce(NonceError::Replayed { .. }))
        ));
        // Addressed to another axon.
        let mut fresh = ReplayStore::new(ReplayStoreConfig::sdk_v10(12));
        assert!(matches!(
            verify_v10_request(&req, &d.account(), &mut fresh, NOW),
            Err(AuthError::BadSignature { .. })
        ));
        // 16 s old is the edge; one ns more is stale, whatever the version header said.
        assert!(matches!(
            verify_v10_request(&req, &a.account(), &mut fresh, NOW + 16_000_000_001),
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
            verify_v10_request(&req, &a.account(), &mut store, NOW),
            Err(AuthError::MissingHeader {
                header: V10_NONCE_HEADER
            })
        );
        let req = request("1e9", &h, &sig);
        assert!(matches!(
            verify_v10_request(&req, &a.account(), &mut store, NOW),
            Err(AuthError::BadHeader { .. })
        ));
        let req = request("12", "5Fake", &sig);
        assert!(matches!(
            verify_v10_request(&req, &a.account(), &mut store, NOW),
            Err(AuthError::BadSs58 { .. })
        ));
        let mut req = request("12", &h, &sig);
        req.signature = None;
        assert_eq!(
            verify_v10_request(&req, &a.account(), &mut store, NOW),
            Err(AuthError::MissingHeader {
                header: V10_SIGNATURE_HEADER
            })
        );
    }
}
