//! SCALE by the metadata: values encoded and decoded against the runtime's types, and storage
//! keys built with the hashers the metadata names.

use blake2::digest::consts::{U16, U32};
use blake2::{Blake2b, Digest};
use scale_info::TypeDef;
use scale_value::Value;
use std::hash::Hasher as _;

use crate::error::SubtensorError;
use crate::metadata::{Hasher, Metadata};

/// `value` as the runtime's type `ty`.
pub fn encode(
    meta: &Metadata,
    ty: u32,
    value: &Value,
    what: &str,
) -> Result<Vec<u8>, SubtensorError> {
    let mut out = Vec::new();
    scale_value::scale::encode_as_type(value, ty, &meta.types, &mut out)
        .map_err(|e| SubtensorError::encode(what, e))?;
    Ok(out)
}

/// The largest answer [`decode`] takes. scale-value turns every byte of a `Vec<u8>` into a
/// `Value` of tens of bytes, so decoding amplifies what the node sent; this keeps the amplified
/// size bounded. Legitimate answers are far below it: a weight row of 4096 uids is 16 KiB, one
/// block's `System::Events` the largest.
pub const MAX_DECODE_BYTES: usize = 1 << 20;

/// Bytes as the runtime's type `ty`; every byte must be used.
pub fn decode(
    meta: &Metadata,
    ty: u32,
    bytes: &[u8],
    what: &str,
) -> Result<Value<u32>, SubtensorError> {
    if bytes.len() > MAX_DECODE_BYTES {
        return Err(SubtensorError::decode(
            what,
            format!(
                "{} bytes, more than the {MAX_DECODE_BYTES} this client decodes",
                bytes.len()
            ),
        ));
    }
    let mut cursor = bytes;
    let value = scale_value::scale::decode_as_type(&mut cursor, ty, &meta.types)
        .map_err(|e| SubtensorError::decode(what, e))?;
    if !cursor.is_empty() {
        return Err(SubtensorError::decode(
            what,
            format!("{} bytes left over", cursor.len()),
        ));
    }
    Ok(value)
}

pub fn twox_128(data: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&twox64(i as u64, data));
    }
    out
}

fn twox_256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&twox64(i as u64, data));
    }
    out
}

fn twox64(seed: u64, data: &[u8]) -> [u8; 8] {
    let mut h = twox_hash::XxHash64::with_seed(seed);
    h.write(data);
    h.finish().to_le_bytes()
}

pub fn blake2_128(data: &[u8]) -> [u8; 16] {
    Blake2b::<U16>::digest(data).into()
}

pub fn blake2_256(data: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::digest(data).into()
}

fn hash_key(hasher: Hasher, encoded: &[u8], out: &mut Vec<u8>) {
    match hasher {
        Hasher::Blake2_128 => out.extend_from_slice(&blake2_128(encoded)),
        Hasher::Blake2_256 => out.extend_from_slice(&blake2_256(encoded)),
        Hasher::Blake2_128Concat => {
            out.extend_from_slice(&blake2_128(encoded));
            out.extend_from_slice(encoded);
        }
        Hasher::Twox128 => out.extend_from_slice(&twox_128(encoded)),
        Hasher::Twox256 => out.extend_from_slice(&twox_256(encoded)),
        Hasher::Twox64Concat => {
            out.extend_from_slice(&twox64(0, encoded));
            out.extend_from_slice(encoded);
        }
        Hasher::Identity => out.extend_from_slice(encoded),
    }
}

/// The storage key of `pallet::entry` at `keys` (fewer keys than the map has gives the prefix
/// of the entries under them, for iteration).
pub fn storage_key(
    meta: &Metadata,
    pallet: &str,
    entry: &str,
    keys: &[Value],
) -> Result<Vec<u8>, SubtensorError> {
    let (p, e) = meta.storage(pallet, entry)?;
    let what = format!("{pallet}::{entry} key");
    if keys.len() > e.hashers.len() {
        return Err(SubtensorError::encode(
            what,
            format!("{} keys given, the map has {}", keys.len(), e.hashers.len()),
        ));
    }
    let mut out = Vec::with_capacity(32 + keys.len() * 48);
    out.extend_from_slice(&twox_128(p.storage_prefix.as_bytes()));
    out.extend_from_slice(&twox_128(e.name.as_bytes()));
    if keys.is_empty() {
        return Ok(out);
    }
    let key_ty = e
        .key_ty
        .ok_or_else(|| SubtensorError::encode(&what, "a plain value takes no key"))?;
    // A map with several hashers has a tuple key: one field type per hasher.
    let key_tys: Vec<u32> = if e.hashers.len() == 1 {
        vec![key_ty]
    } else {
        match meta.types.resolve(key_ty).map(|t| &t.type_def) {
            Some(TypeDef::Tuple(t)) if t.fields.len() == e.hashers.len() => {
                t.fields.iter().map(|f| f.id).collect()
            }
            _ => {
                return Err(SubtensorError::encode(
                    &what,
                    "key type is not a tuple of the hashers' arity",
                ));
            }
        }
    };
    for ((key, ty), hasher) in keys.iter().zip(key_tys).zip(&e.hashers) {
        let encoded = encode(meta, ty, key, &what)?;
        hash_key(*hasher, &encoded, &mut out);
    }
    Ok(out)
}

/// Helpers to read fields out of decoded values, failing with the field's name.
pub(crate) mod read {
    use scale_value::{At, Composite, Value, ValueDef};

    use crate::error::SubtensorError;

    pub fn field<'a>(
        v: &'a Value<u32>,
        name: &str,
        what: &str,
    ) -> Result<&'a Value<u32>, SubtensorError> {
        v.at(name)
            .ok_or_else(|| SubtensorError::decode(what, format!("no field `{name}`")))
    }

    pub fn uint(v: &Value<u32>, what: &str) -> Result<u128, SubtensorError> {
        // Compact and newtype wrappers (`Compact<u16>`, `AlphaCurrency(u64)`) decode as
        // one-field composites around the number.
        let mut cur = v;
        loop {
            if let Some(n) = cur.as_u128() {
                return Ok(n);
            }
            match &cur.value {
                ValueDef::Composite(c) if c.len() == 1 => match c.values().next() {
                    Some(inner) => cur = inner,
                    None => break,
                },
                _ => break,
            }
        }
        Err(SubtensorError::decode(
            what,
            format!("expected a number, got {v}"),
        ))
    }

    pub fn uint_field(v: &Value<u32>, name: &str, what: &str) -> Result<u128, SubtensorError> {
        uint(field(v, name, what)?, &format!("{what}.{name}"))
    }

    /// The items of a sequence (or any composite).
    pub fn items<'a>(v: &'a Value<u32>, what: &str) -> Result<Vec<&'a Value<u32>>, SubtensorError> {
        match &v.value {
            ValueDef::Composite(c) => Ok(c.values().collect()),
            _ => Err(SubtensorError::decode(what, "expected a sequence")),
        }
    }

    /// Bytes of a `[u8; N]`, `Vec<u8>` or a newtype around one (`AccountId32`).
    pub fn bytes(v: &Value<u32>, what: &str) -> Result<Vec<u8>, SubtensorError> {
        let mut cur = v;
        while let ValueDef::Composite(c) = &cur.value {
            let mut values = c.values();
            match (c.len(), values.next()) {
                // A newtype around the byte sequence: step inside.
                (1, Some(inner)) if matches!(inner.value, ValueDef::Composite(_)) => cur = inner,
                _ => return c.values().map(|b| byte(b, what)).collect(),
            }
        }
        Err(SubtensorError::decode(
            what,
            format!("expected bytes, got {v}"),
        ))
    }

    fn byte(v: &Value<u32>, what: &str) -> Result<u8, SubtensorError> {
        v.as_u128()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| SubtensorError::decode(what, "expected bytes"))
    }

    /// A 32-byte account id.
    pub fn account(v: &Value<u32>, what: &str) -> Result<[u8; 32], SubtensorError> {
        bytes(v, what)?
            .try_into()
            .map_err(|_| SubtensorError::decode(what, "an account id is 32 bytes"))
    }

    /// The variant name and its values, for an enum value.
    pub fn variant<'a>(
        v: &'a Value<u32>,
        what: &str,
    ) -> Result<(&'a str, &'a Composite<u32>), SubtensorError> {
        match &v.value {
            ValueDef::Variant(var) => Ok((var.name.as_str(), &var.values)),
            _ => Err(SubtensorError::decode(
                what,
                format!("expected an enum, got {v}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::{Compact, Encode};
    use scale_info::TypeDefPrimitive;

    fn mainnet() -> Metadata {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/mainnet-metadata-v14.hex");
        let text = std::fs::read_to_string(path).unwrap();
        let bytes = hex::decode(text.trim().trim_start_matches("0x")).unwrap();
        Metadata::decode_prefixed(&bytes, 0).unwrap()
    }

    /// The id of `Vec<u8>`: the shape that amplifies most (one `Value` per byte).
    fn bytes_ty(meta: &Metadata) -> u32 {
        let is_u8 = |id: u32| {
            matches!(
                meta.types.resolve(id).map(|t| &t.type_def),
                Some(TypeDef::Primitive(TypeDefPrimitive::U8))
            )
        };
        meta.types
            .types
            .iter()
            .find(|t| matches!(&t.ty.type_def, TypeDef::Sequence(s) if is_u8(s.type_param.id)))
            .map(|t| t.id)
            .unwrap()
    }

    #[test]
    fn decode_refuses_input_past_the_bound_before_decoding() {
        let meta = mainnet();
        let ty = bytes_ty(&meta);
        // A well-formed Vec<u8> of exactly the bound decodes: the check is on size alone.
        let n = MAX_DECODE_BYTES - Compact(MAX_DECODE_BYTES as u32).encoded_size();
        let at_bound = vec![7u8; n];
        let encoded = at_bound.encode();
        assert_eq!(encoded.len(), MAX_DECODE_BYTES);
        let value = decode(&meta, ty, &encoded, "at the bound").unwrap();
        assert_eq!(read::bytes(&value, "at the bound").unwrap(), at_bound);

        // One byte more is refused, naming the item and both sizes.
        let past = vec![7u8; n + 1].encode();
        let err = decode(&meta, ty, &past, "Pallet::Item").unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, SubtensorError::Decode { .. }), "{err:?}");
        assert!(shown.contains("Pallet::Item"), "{shown}");
        assert!(shown.contains(&past.len().to_string()), "{shown}");
        assert!(shown.contains(&MAX_DECODE_BYTES.to_string()), "{shown}");
    }
}
