//! The axon's side of codec negotiation (`docs/protocol.md`, "Compression"): the codec of the
//! answer is the caller's first offered codec that the axon uses; a request's tensors may use
//! any codec the axon accepts. A caller that offers nothing is answered as Release 1 was.

use bt_tensor::compression::{
    CODECS_HEADER, Codec, CodecSet, CompressionError, compress, decompress, format_codec_list,
    parse_codec_list,
};
use bt_tensor::{Limits, Tensor};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::status::status;

/// What one request negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// The codec of the answer's float32 tensors.
    pub(crate) answer: Codec,
    /// Whether the caller offered codecs (and so hears which ones we accept).
    pub(crate) offered: bool,
}

impl Negotiated {
    /// Release 1: no offer, float32 answers.
    pub(crate) const NONE: Negotiated = Negotiated {
        answer: Codec::None,
        offered: false,
    };
}

/// Reads the caller's `bt-codecs` offer; an unreadable one is `INVALID_ARGUMENT`.
pub(crate) fn negotiate(metadata: &MetadataMap, ours: CodecSet) -> Result<Negotiated, Status> {
    let Some(value) = metadata.get(CODECS_HEADER) else {
        return Ok(Negotiated::NONE);
    };
    let offer = parse_codec_list(value.as_bytes()).map_err(|e| {
        status(
            tonic::Code::InvalidArgument,
            format!("{CODECS_HEADER}: {e}"),
        )
    })?;
    Ok(Negotiated {
        answer: offer
            .into_iter()
            .find(|&c| ours.contains(c))
            .unwrap_or(Codec::None),
        offered: true,
    })
}

/// The `bt-codecs` value of an answer: the codecs we accept in requests.
pub(crate) fn advertised(ours: CodecSet) -> String {
    format_codec_list(ours.iter())
}

/// A request tensor, decompressed if it uses a codec we accept. A codec we do not accept is
/// `UNIMPLEMENTED`; any other fault of the tensor is `INVALID_ARGUMENT`.
pub(crate) fn decode(
    wire: &bt_wire::Tensor,
    ours: CodecSet,
    limits: &Limits,
) -> Result<Tensor, Status> {
    decompress(wire, ours, limits).map_err(|e| {
        let code = match e {
            CompressionError::NotNegotiated { .. } => tonic::Code::Unimplemented,
            _ => tonic::Code::InvalidArgument,
        };
        status(code, e.to_string())
    })
}

/// An answer tensor in the negotiated codec. A synapse whose answer cannot be compressed (a
/// non-finite value) has failed: `INTERNAL`.
pub(crate) fn encode(t: &Tensor, codec: Codec) -> Result<bt_wire::Tensor, Status> {
    compress(t, codec).map_err(|e| {
        status(
            tonic::Code::Internal,
            format!("the synapse's answer cannot be sent as {codec}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn offer(value: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert(CODECS_HEADER, value.parse().unwrap());
        m
    }

    #[test]
    fn the_first_offered_codec_we_use_answers() {
        let ours: CodecSet = [Codec::F16, Codec::Uniform8].into_iter().collect();
        assert_eq!(
            negotiate(&MetadataMap::new(), ours).unwrap(),
            Negotiated::NONE
        );
        let n = negotiate(&offer("blockwise8,uniform8,f16"), ours).unwrap();
        assert_eq!((n.answer, n.offered), (Codec::Uniform8, true));
        let n = negotiate(&offer("none"), ours).unwrap();
        assert_eq!((n.answer, n.offered), (Codec::None, true));
        let too_long = "f16,".repeat(64);
        assert_eq!(
            negotiate(&offer(&too_long), ours).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(advertised(ours), "none,f16,uniform8");
    }
}
