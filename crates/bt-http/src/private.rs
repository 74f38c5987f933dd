//! Paths the `http_synapse!` macro expands to; not part of the API.

use std::borrow::Cow;

pub use serde;
pub use serde_json;

use crate::BodyError;

/// A map key that borrows from the body when it has no escapes.
pub struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field value's error, prefixed with the field's name: serde's type errors ("invalid type:
/// string, expected i64") do not say which field, and the caller's 400 must.
pub fn in_field<E: serde::de::Error>(field: &str, e: E) -> E {
    E::custom(format_args!("field `{}`: {e}", crate::clip(field)))
}

pub fn parse_json<'de, T: serde::Deserialize<'de>>(body: &'de [u8]) -> Result<T, BodyError> {
    serde_json::from_slice(body).map_err(BodyError::from_json)
}
