//! Synapse messages: the typed request/response objects of today's protocol.
//!
//! A synapse has request fields (set by the caller, immutable, some of them hashed into the
//! signed `computed_body_hash`) and response fields (filled in by the server). On the wire its
//! JSON body holds the SDK's envelope (`name`, `timeout`, sizes, the two terminals,
//! `computed_body_hash`) beside those fields. [`SynapseMessage`] is what a dendrite needs from
//! any synapse, typed or not; [`TypedSynapse`] adds what an axon needs to serve one. Typed
//! synapses are declared with [`http_synapse!`](crate::http_synapse).

use serde::Serialize;
use serde::de::{IgnoredAny, MapAccess};
use serde::ser::SerializeMap;

use crate::lenient::{LenientFloat, LenientInt};

use crate::error::BodyError;
use crate::terminal::TerminalInfo;

/// The fields every synapse body carries besides its own.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Envelope {
    pub name: Option<String>,
    pub timeout: Option<f64>,
    pub total_size: Option<i64>,
    pub header_size: Option<i64>,
    pub dendrite: Option<TerminalInfo>,
    pub axon: Option<TerminalInfo>,
    pub computed_body_hash: Option<String>,
}

/// Names of the envelope's fields: a synapse may not declare a field of its own by these names.
pub const ENVELOPE_FIELDS: [&str; 8] = [
    "name",
    "timeout",
    "total_size",
    "header_size",
    "dendrite",
    "axon",
    "computed_body_hash",
    // Older SDK classes declared their hash fields as a model field, so it appears in bodies.
    // It is read and ignored: which fields are hashed is the receiver's decision, never the
    // sender's.
    "required_hash_fields",
];

impl Envelope {
    /// Write the envelope's entries first, in the SDK's order (`model_dump` puts the base
    /// class's fields before a subclass's).
    pub fn write_entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry("name", &self.name)?;
        m.serialize_entry("timeout", &self.timeout)?;
        m.serialize_entry("total_size", &self.total_size)?;
        m.serialize_entry("header_size", &self.header_size)?;
        // An absent terminal is written as an empty one, as the SDK's default.
        let empty = TerminalInfo::default();
        m.serialize_entry("dendrite", self.dendrite.as_ref().unwrap_or(&empty))?;
        m.serialize_entry("axon", self.axon.as_ref().unwrap_or(&empty))?;
        m.serialize_entry("computed_body_hash", &self.computed_body_hash)
    }

    /// Consume the value of `key` when it is an envelope field; `false` leaves it to the caller.
    pub fn take_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        match key {
            "name" => self.name = map.next_value()?,
            "timeout" => self.timeout = map.next_value::<LenientFloat>()?.0,
            "total_size" => self.total_size = map.next_value::<LenientInt>()?.0,
            "header_size" => self.header_size = map.next_value::<LenientInt>()?.0,
            "dendrite" => self.dendrite = map.next_value()?,
            "axon" => self.axon = map.next_value()?,
            "computed_body_hash" => self.computed_body_hash = map.next_value()?,
            "required_hash_fields" => {
                map.next_value::<IgnoredAny>()?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// What a dendrite needs from any synapse.
pub trait SynapseMessage: Send + Sync + 'static {
    /// The route: `POST /<name>`.
    fn name(&self) -> &str;

    /// `computed_body_hash` over the hashed request fields.
    fn body_hash(&self) -> String;

    /// `(field, base64 of the JSON of its type's zero value)` for each required request field:
    /// the SDK's axon builds its synapse from headers first and needs them to validate.
    fn input_obj_headers(&self) -> Vec<(String, String)>;

    /// The JSON body with `envelope` beside the synapse's own fields.
    fn to_body(&self, envelope: &Envelope) -> Result<Vec<u8>, BodyError>;

    /// Take the response fields from a server's answer body; request fields stay as sent (a
    /// server cannot rewrite what was asked). Returns the answer's envelope.
    fn merge_response(&mut self, body: &[u8]) -> Result<Envelope, BodyError>;
}

/// A synapse type an axon can serve: a known name and a request parser.
pub trait TypedSynapse: SynapseMessage + Sized {
    const NAME: &'static str;
    /// Request fields hashed into `computed_body_hash`, in order.
    const HASH_FIELDS: &'static [&'static str];
    /// What the caller gets from [`deserialize`](Self::deserialize).
    type Output;

    /// Parse a request body: unknown fields, missing required fields and wrong types are
    /// errors naming the field.
    fn parse_request(body: &[u8]) -> Result<(Self, Envelope), BodyError>;

    /// The caller's value (the SDK's `deserialize()`).
    fn deserialize(self) -> Self::Output;
}

/// A field type of a synapse: rendered for hashing as Python would, and with the JSON of its
/// type's zero value for the SDK's `bt_header_input_obj_*` headers.
pub trait SynapseField: crate::pyrepr::PyRender + Serialize + Send + Sync {
    /// `json.dumps(type(value)())`, or `None` when the value is absent (`None` in Python).
    fn zero_json(&self) -> Option<&'static str>;
}

macro_rules! zero_json {
    ($zero:literal: $($t:ty),*) => {$(
        impl SynapseField for $t {
            fn zero_json(&self) -> Option<&'static str> {
                Some($zero)
            }
        }
    )*};
}
zero_json!("0": i8, i16, i32, i64, u8, u16, u32, u64);
zero_json!("0.0": f32, f64);
zero_json!("false": bool);
zero_json!("\"\"": String);

impl<T: SynapseField> SynapseField for Vec<T> {
    fn zero_json(&self) -> Option<&'static str> {
        Some("[]")
    }
}

impl<T: SynapseField> SynapseField for Option<T> {
    fn zero_json(&self) -> Option<&'static str> {
        self.as_ref().and_then(|v| v.zero_json())
    }
}

impl SynapseField for serde_json::Value {
    fn zero_json(&self) -> Option<&'static str> {
        use serde_json::Value;
        match self {
            Value::Null => None,
            Value::Bool(_) => Some("false"),
            Value::Number(n) if n.is_f64() => Some("0.0"),
            Value::Number(_) => Some("0"),
            Value::String(_) => Some("\"\""),
            Value::Array(_) => Some("[]"),
            Value::Object(_) => Some("{}"),
        }
    }
}

/// Base64 (standard alphabet, padded) as the SDK's headers use it.
pub fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Declare a typed synapse: a struct with request and response fields, its hashed fields, and
/// what `deserialize()` returns.
///
/// ```
/// bt_http::http_synapse! {
///     /// The subnet template's synapse.
///     pub struct Echo {
///         request { text: String }
///         optional {}
///         response { echo: Option<String> }
///         hash [text]
///         deserialize(self) -> Option<String> { self.echo }
///     }
/// }
/// use bt_http::{TypedSynapse, SynapseMessage};
/// let s = Echo { text: "hi".into(), echo: None };
/// assert_eq!(s.name(), "Echo");
/// assert_eq!(Echo::HASH_FIELDS, &["text"]);
/// ```
///
/// `request` fields are required (the SDK's schema lists them as such); `optional` request
/// fields default when absent (`Option<T>` to `None`, others to `Default`); `response` fields
/// default when absent. Field names may not repeat the envelope's (`name`, `timeout`, …).
#[macro_export]
macro_rules! http_synapse {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            request { $($req:ident : $req_ty:ty),* $(,)? }
            optional { $($opt:ident : $opt_ty:ty),* $(,)? }
            response { $($resp:ident : $resp_ty:ty),* $(,)? }
            hash [ $($hash:ident),* $(,)? ]
            deserialize($self_:ident) -> $out:ty $body:block
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis struct $name {
            $(pub $req: $req_ty,)*
            $(pub $opt: $opt_ty,)*
            $(pub $resp: $resp_ty,)*
        }

        const _: () = {
            use $crate::__private::serde;
            use $crate::{BodyError, Envelope, SynapseMessage, TypedSynapse};

            const FIELDS: &[&str] = &[$(stringify!($req),)* $(stringify!($opt),)* $(stringify!($resp),)*];

            #[derive(Default)]
            struct WireIn {
                envelope: Envelope,
                $($req: Option<$req_ty>,)*
                $($opt: Option<$opt_ty>,)*
                $($resp: Option<$resp_ty>,)*
            }

            impl<'de> serde::Deserialize<'de> for WireIn {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    struct V;
                    impl<'de> serde::de::Visitor<'de> for V {
                        type Value = WireIn;
                        fn expecting(&self, f: &mut ::std::fmt::Formatter) -> ::std::fmt::Result {
                            f.write_str(concat!("a ", stringify!($name), " synapse object"))
                        }
                        fn visit_map<A: serde::de::MapAccess<'de>>(
                            self,
                            mut map: A,
                        ) -> Result<WireIn, A::Error> {
                            use serde::de::Error;
                            let mut w = WireIn::default();
                            while let Some(key) = map.next_key::<$crate::__private::Key<'de>>()? {
                                let key = key.as_str();
                                let in_field = |e: A::Error| $crate::__private::in_field(key, e);
                                if w.envelope.take_field(key, &mut map).map_err(in_field)? {
                                    continue;
                                }
                                $(
                                    if key == stringify!($req) {
                                        if w.$req.is_some() {
                                            return Err(A::Error::duplicate_field(stringify!($req)));
                                        }
                                        w.$req = Some(map.next_value().map_err(in_field)?);
                                        continue;
                                    }
                                )*
                                $(
                                    if key == stringify!($opt) {
                                        if w.$opt.is_some() {
                                            return Err(A::Error::duplicate_field(stringify!($opt)));
                                        }
                                        w.$opt = map.next_value().map_err(in_field)?;
                                        continue;
                                    }
                                )*
                                $(
                                    if key == stringify!($resp) {
                                        if w.$resp.is_some() {
                                            return Err(A::Error::duplicate_field(stringify!($resp)));
                                        }
                                        w.$resp = map.next_value().map_err(in_field)?;
                                        continue;
                                    }
                                )*
                                return Err(A::Error::unknown_field(key, FIELDS));
                            }
                            Ok(w)
                        }
                    }
                    d.deserialize_map(V)
                }
            }

            impl SynapseMessage for $name {
                fn name(&self) -> &str {
                    stringify!($name)
                }

                fn body_hash(&self) -> String {
                    #[allow(unused_mut)]
                    let mut h = $crate::BodyHasher::default();
                    $( h.field(&self.$hash); )*
                    h.finish()
                }

                fn input_obj_headers(&self) -> Vec<(String, String)> {
                    #[allow(unused_mut)]
                    let mut out = Vec::new();
                    $(
                        if let Some(zero) = $crate::SynapseField::zero_json(&self.$req) {
                            out.push((stringify!($req).to_string(), $crate::b64(zero)));
                        }
                    )*
                    out
                }

                fn to_body(&self, envelope: &Envelope) -> Result<Vec<u8>, BodyError> {
                    use serde::ser::{SerializeMap, Serializer};
                    let mut buf = Vec::new();
                    let mut ser = $crate::__private::serde_json::Serializer::new(&mut buf);
                    let write = |ser: &mut $crate::__private::serde_json::Serializer<&mut Vec<u8>>| {
                        let mut m = ser.serialize_map(None)?;
                        envelope.write_entries(&mut m)?;
                        $( m.serialize_entry(stringify!($req), &self.$req)?; )*
                        $( m.serialize_entry(stringify!($opt), &self.$opt)?; )*
                        $( m.serialize_entry(stringify!($resp), &self.$resp)?; )*
                        m.end()
                    };
                    write(&mut ser).map_err(BodyError::Encode)?;
                    Ok(buf)
                }

                fn merge_response(&mut self, body: &[u8]) -> Result<Envelope, BodyError> {
                    let wire: WireIn = $crate::__private::parse_json(body)?;
                    $( if let Some(v) = wire.$resp { self.$resp = v; } )*
                    Ok(wire.envelope)
                }
            }

            impl TypedSynapse for $name {
                const NAME: &'static str = stringify!($name);
                const HASH_FIELDS: &'static [&'static str] = &[$(stringify!($hash)),*];
                type Output = $out;

                fn parse_request(body: &[u8]) -> Result<(Self, Envelope), BodyError> {
                    let wire: WireIn = $crate::__private::parse_json(body)?;
                    Ok((
                        Self {
                            $($req: wire.$req.ok_or(BodyError::MissingField(stringify!($req)))?,)*
                            $($opt: wire.$opt.unwrap_or_default(),)*
                            $($resp: wire.$resp.unwrap_or_default(),)*
                        },
                        wire.envelope,
                    ))
                }

                fn deserialize($self_) -> $out $body
            }

            // Hash fields must be fields of the synapse: checked at compile time by naming them.
            #[allow(dead_code, unused_variables)]
            fn hash_fields_are_fields(s: &$name) {
                $( let _ = &s.$hash; )*
            }
        };
    };
}
