//! Signed extrinsics (format version 4) built from the metadata: the call through the runtime's
//! call enum, each signed extension the metadata lists in its order, the payload signed with
//! sr25519 (hashed with blake2-256 when longer than 256 bytes), the signer as the address type's
//! `Id` variant and the signature as the signature type's `Sr25519` variant.

use bt_crypto::wallet::Sr25519Pair;
use parity_scale_codec::{Compact, Encode};
use scale_value::Value;

use crate::codec::{blake2_256, encode};
use crate::error::SubtensorError;
use crate::metadata::Metadata;

/// The chain facts a signature commits to.
#[derive(Debug, Clone, Copy)]
pub struct ChainFacts {
    pub spec_version: u32,
    pub transaction_version: u32,
    pub genesis_hash: [u8; 32],
}

/// Per-transaction parameters.
#[derive(Debug, Clone, Copy)]
pub struct TxParams {
    pub nonce: u64,
    pub tip: u128,
    /// Mortality: valid for `period` blocks (a power of two, 4 to 65536) from `birth_number`,
    /// whose hash is `birth_hash`. `None` makes an immortal transaction.
    pub mortality: Option<Mortality>,
}

#[derive(Debug, Clone, Copy)]
pub struct Mortality {
    pub period: u64,
    pub birth_number: u64,
    pub birth_hash: [u8; 32],
}

/// A runtime call: pallet, call and named arguments.
#[derive(Debug, Clone)]
pub struct Call {
    pub pallet: String,
    pub name: String,
    pub args: Vec<(String, Value)>,
}

impl Call {
    pub fn new(pallet: &str, name: &str, args: Vec<(&str, Value)>) -> Self {
        Self {
            pallet: pallet.to_string(),
            name: name.to_string(),
            args: args.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    /// The call's bytes: encoded against the runtime's outer call enum, so the pallet and call
    /// indices and every argument's layout come from the metadata.
    pub fn encode(&self, meta: &Metadata) -> Result<Vec<u8>, SubtensorError> {
        let what = format!("{}::{}", self.pallet, self.name);
        let pallet = meta.pallet(&self.pallet)?;
        let calls = pallet
            .calls_ty
            .ok_or_else(|| meta.missing("call", what.clone()))?;
        let known = meta.variants(calls)?.iter().any(|v| v.name == self.name);
        if !known {
            return Err(meta.missing("call", what));
        }
        let inner = Value::named_variant(
            self.name.clone(),
            self.args.iter().map(|(k, v)| (k.clone(), v.clone())),
        );
        let outer = Value::unnamed_variant(self.pallet.clone(), [inner]);
        encode(meta, meta.extrinsic.call_ty, &outer, &what)
    }
}

/// The two-byte mortal era of substrate's `Era::mortal`.
pub fn mortal_era(period: u64, current: u64) -> [u8; 2] {
    let period = period
        .checked_next_power_of_two()
        .unwrap_or(1 << 16)
        .clamp(4, 1 << 16);
    let phase = current % period;
    let quantize_factor = (period >> 12).max(1);
    let quantized_phase = phase / quantize_factor * quantize_factor;
    let low = (period.trailing_zeros() - 1).clamp(1, 15) as u64;
    let encoded = low | ((quantized_phase / quantize_factor) << 4);
    (encoded as u16).to_le_bytes()
}

/// What each signed extension adds to the extrinsic and to the signed payload.
fn extension_parts(
    meta: &Metadata,
    identifier: &str,
    ty: u32,
    additional_ty: u32,
    facts: &ChainFacts,
    params: &TxParams,
) -> Result<(Vec<u8>, Vec<u8>), SubtensorError> {
    let what = format!("signed extension {identifier}");
    let nothing = || Value::unnamed_composite([]);
    let enc = |ty: u32, v: Value| encode(meta, ty, &v, &what);
    Ok(match identifier {
        "CheckSpecVersion" => (
            enc(ty, nothing())?,
            enc(additional_ty, Value::u128(facts.spec_version.into()))?,
        ),
        "CheckTxVersion" => (
            enc(ty, nothing())?,
            enc(additional_ty, Value::u128(facts.transaction_version.into()))?,
        ),
        "CheckGenesis" => (
            enc(ty, nothing())?,
            enc(additional_ty, Value::from_bytes(facts.genesis_hash))?,
        ),
        "CheckMortality" | "CheckEra" => match params.mortality {
            Some(m) => (
                mortal_era(m.period, m.birth_number).to_vec(),
                enc(additional_ty, Value::from_bytes(m.birth_hash))?,
            ),
            // Era::Immortal is the single byte 0; its checkpoint is the genesis block.
            None => (
                vec![0],
                enc(additional_ty, Value::from_bytes(facts.genesis_hash))?,
            ),
        },
        "CheckNonce" => (
            enc(
                ty,
                Value::unnamed_composite([Value::u128(params.nonce.into())]),
            )?,
            enc(additional_ty, nothing())?,
        ),
        "ChargeTransactionPayment" => (
            enc(ty, Value::unnamed_composite([Value::u128(params.tip)]))?,
            enc(additional_ty, nothing())?,
        ),
        // Mode 0 (disabled): no metadata hash in the payload.
        "CheckMetadataHash" => (
            enc(
                ty,
                Value::named_composite([("mode", Value::unnamed_variant("Disabled", []))]),
            )?,
            enc(additional_ty, Value::unnamed_variant("None", []))?,
        ),
        // Anything else must carry no data (CheckNonZeroSender, CheckWeight, subtensor's own
        // SubtensorSignedExtension and CommitmentsSignedExtension): a new extension that does
        // carry data is an error naming it, not a transaction the node would refuse.
        other => match (enc(ty, nothing()), enc(additional_ty, nothing())) {
            (Ok(a), Ok(b)) if a.is_empty() && b.is_empty() => (a, b),
            _ => {
                return Err(SubtensorError::Encode {
                    what,
                    reason: format!("{other} carries data this client does not know how to fill"),
                });
            }
        },
    })
}

/// A signed extrinsic, ready for `author_submitExtrinsic`, with its length prefix.
pub fn sign(
    meta: &Metadata,
    call: &Call,
    signer: &Sr25519Pair,
    facts: &ChainFacts,
    params: &TxParams,
) -> Result<Vec<u8>, SubtensorError> {
    if meta.extrinsic.version != 4 {
        return Err(SubtensorError::Metadata(format!(
            "extrinsic version {} (this client signs version 4)",
            meta.extrinsic.version
        )));
    }
    let call_bytes = call.encode(meta)?;
    let mut extra = Vec::new();
    let mut additional = Vec::new();
    for ext in &meta.extrinsic.signed_extensions {
        let (e, a) = extension_parts(
            meta,
            &ext.identifier,
            ext.ty,
            ext.additional_signed,
            facts,
            params,
        )?;
        extra.extend_from_slice(&e);
        additional.extend_from_slice(&a);
    }
    let mut payload = Vec::with_capacity(call_bytes.len() + extra.len() + additional.len());
    payload.extend_from_slice(&call_bytes);
    payload.extend_from_slice(&extra);
    payload.extend_from_slice(&additional);
    let signature = if payload.len() > 256 {
        signer.sign(&blake2_256(&payload))
    } else {
        signer.sign(&payload)
    };
    let account = signer.account().0;
    let address = encode(
        meta,
        meta.extrinsic.address_ty,
        &Value::unnamed_variant("Id", [Value::from_bytes(account)]),
        "the signer's address",
    )?;
    let signature = encode(
        meta,
        meta.extrinsic.signature_ty,
        &Value::unnamed_variant("Sr25519", [Value::from_bytes(signature)]),
        "the signature",
    )?;
    let mut body =
        Vec::with_capacity(1 + address.len() + signature.len() + extra.len() + call_bytes.len());
    body.push(0x80 | 4);
    body.extend_from_slice(&address);
    body.extend_from_slice(&signature);
    body.extend_from_slice(&extra);
    body.extend_from_slice(&call_bytes);
    let mut out = Compact(body.len() as u32).encode();
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mortal_era_matches_substrate() {
        // Era::mortal(64, 42) encodes phase 42, period 64: 0x05 | 42 << 4 = 0x2a5.
        assert_eq!(mortal_era(64, 42), [0xa5, 0x02]);
        // Period rounds up to a power of two and is at least 4.
        assert_eq!(mortal_era(1, 0), [0x01, 0x00]);
        assert_eq!(mortal_era(65536, 70000), {
            let phase = 70000u64 % 65536;
            let q = phase / 16 * 16;
            ((15u64 | ((q / 16) << 4)) as u16).to_le_bytes()
        });
    }
}
