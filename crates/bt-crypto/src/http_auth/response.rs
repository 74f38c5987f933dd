//! Our axons sign their answers; SDK peers ignore the header, our dendrites check it.
//!
//! The SDK v10 axon signs nothing about its answer body, so anyone on the path can rewrite a
//! miner's answer. Ours sign, with the axon's hotkey, the UTF-8 of these 6 lines joined by
//! `\n`: `bt-response/1`, the HTTP status code, the lower-case hex SHA-256 of the raw answer
//! body, the request's nonce, the caller's SS58 and the axon's SS58. Binding the request's
//! nonce and caller makes an answer useless for any other request.

use sha2::{Digest, Sha256};

use super::error::AuthError;
use super::fields::parse_signature;
use crate::wallet::{AccountId, Sr25519Pair};

pub const RESPONSE_PROTOCOL: &str = "bt-response/1";

/// The signed payload of an answer.
pub fn response_payload(
    status: u16,
    body: &[u8],
    request_nonce: i64,
    caller: &AccountId,
    axon: &AccountId,
) -> Vec<u8> {
    let hash = hex::encode(Sha256::digest(body));
    format!(
        "{RESPONSE_PROTOCOL}\n{status}\n{hash}\n{request_nonce}\n{}\n{}",
        caller.to_ss58(),
        axon.to_ss58()
    )
    .into_bytes()
}

/// The header value (`0x` + 128 hex digits) an axon attaches to its answer.
pub fn sign_response(
    axon: &Sr25519Pair,
    status: u16,
    body: &[u8],
    request_nonce: i64,
    caller: &AccountId,
) -> String {
    let payload = response_payload(status, body, request_nonce, caller, &axon.account());
    format!("0x{}", hex::encode(axon.sign(&payload)))
}

/// Check an answer's signature header against the axon we called.
pub fn verify_response(
    axon: &AccountId,
    signature: &str,
    status: u16,
    body: &[u8],
    request_nonce: i64,
    caller: &AccountId,
) -> Result<(), AuthError> {
    let sig = parse_signature(signature, true)?;
    let payload = response_payload(status, body, request_nonce, caller, axon);
    axon.verify(&payload, &sig)
        .map_err(|_| AuthError::BadSignature {
            hotkey: axon.to_ss58(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_status_body_nonce_and_both_keys() {
        let axon = Sr25519Pair::from_seed([1; 32]);
        let caller = Sr25519Pair::from_seed([2; 32]).account();
        let other = Sr25519Pair::from_seed([3; 32]).account();
        let sig = sign_response(&axon, 200, b"{\"x\":1}", 42, &caller);
        let a = axon.account();
        assert!(verify_response(&a, &sig, 200, b"{\"x\":1}", 42, &caller).is_ok());
        assert!(verify_response(&a, &sig, 200, b"{\"x\":2}", 42, &caller).is_err());
        assert!(verify_response(&a, &sig, 500, b"{\"x\":1}", 42, &caller).is_err());
        assert!(verify_response(&a, &sig, 200, b"{\"x\":1}", 43, &caller).is_err());
        assert!(verify_response(&a, &sig, 200, b"{\"x\":1}", 42, &other).is_err());
        assert!(verify_response(&other, &sig, 200, b"{\"x\":1}", 42, &caller).is_err());
        assert!(verify_response(&a, "0xzz", 200, b"{\"x\":1}", 42, &caller).is_err());
    }
}
