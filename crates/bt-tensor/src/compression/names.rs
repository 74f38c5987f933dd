//! The codecs' names as negotiated in the `bt-codecs` header and given on command lines.

use crate::compression::codec_id::Codec;
use crate::compression::error::CompressionError;

impl Codec {
    /// The codec called `name` (exact, lower case).
    pub fn parse(name: &str) -> Result<Self, CompressionError> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| CompressionError::UnknownCodec(name.chars().take(32).collect()))
    }
}

impl std::str::FromStr for Codec {
    type Err = CompressionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The negotiation header (`docs/protocol.md`, "Compression"). On a request: the codecs the
/// caller accepts in the answer, preferred first. On the answer to such a request: the codecs
/// the axon accepts in requests.
pub const CODECS_HEADER: &str = "bt-codecs";

/// Longest `bt-codecs` value read; a longer one is refused before it is split.
pub const MAX_CODEC_LIST_BYTES: usize = 128;

/// Parses a `bt-codecs` value: codec names separated by `,`, in the sender's order of
/// preference. Names this version does not know are skipped (a newer peer may offer more),
/// repeats are dropped; a value over [`MAX_CODEC_LIST_BYTES`] is an error.
pub fn parse_codec_list(value: &[u8]) -> Result<Vec<Codec>, CompressionError> {
    if value.len() > MAX_CODEC_LIST_BYTES {
        return Err(CompressionError::CodecListTooLong {
            len: value.len(),
            max: MAX_CODEC_LIST_BYTES,
        });
    }
    let mut out = Vec::with_capacity(Codec::ALL.len());
    for name in value.split(|&b| b == b',') {
        let known = std::str::from_utf8(name)
            .ok()
            .and_then(|n| Codec::parse(n.trim()).ok());
        if let Some(codec) = known
            && !out.contains(&codec)
        {
            out.push(codec);
        }
    }
    Ok(out)
}

/// The `bt-codecs` value listing `codecs` in order.
pub fn format_codec_list(codecs: impl IntoIterator<Item = Codec>) -> String {
    codecs
        .into_iter()
        .map(Codec::name)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::compression::codec_id::CodecSet;

    #[test]
    fn names_round_trip_and_lists_skip_unknown_names() {
        for c in Codec::ALL {
            assert_eq!(Codec::parse(c.name()).unwrap(), c);
        }
        assert!(matches!(
            Codec::parse("gzip"),
            Err(CompressionError::UnknownCodec(_))
        ));
        let list = parse_codec_list(b"blockwise8,q4,f16,blockwise8").unwrap();
        assert_eq!(list, [Codec::Blockwise8, Codec::F16]);
        assert_eq!(format_codec_list(list), "blockwise8,f16");
        assert!(matches!(
            parse_codec_list(&[b'a'; MAX_CODEC_LIST_BYTES + 1]),
            Err(CompressionError::CodecListTooLong { .. })
        ));
    }

    #[test]
    fn sets_always_hold_none() {
        let set: CodecSet = [Codec::Uniform8].into_iter().collect();
        assert!(set.contains(Codec::None) && set.contains(Codec::Uniform8));
        assert!(!set.contains(Codec::Blockwise8));
        assert_eq!(CodecSet::ALL.iter().count(), 5);
        assert_eq!(CodecSet::NONE.iter().collect::<Vec<_>>(), [Codec::None]);
    }
}
