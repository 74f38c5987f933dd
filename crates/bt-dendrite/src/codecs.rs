//! The dendrite's side of codec negotiation (`docs/protocol.md`, "Compression"). A request
//! offers the codecs accepted in its answer (`bt-codecs`); the axon's answer lists the codecs
//! it accepts in requests, which this connection then remembers. Requests are compressed only
//! for an axon that said it accepts the codec, so a Release 1 axon (which says nothing) only
//! ever receives float32.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bt_tensor::Tensor;
use bt_tensor::compression::{
    CODECS_HEADER, Codec, CodecSet, CompressionError, compress, format_codec_list, parse_codec_list,
};
use tonic::metadata::{Ascii, MetadataValue};

use crate::hashes::PayloadHashes;

/// What one axon accepts in requests, as its last answer to an offer said. Nothing is learned
/// until then (a Release 1 axon never says).
#[derive(Default)]
pub(crate) struct AxonCodecs(AtomicU8);

impl AxonCodecs {
    pub(crate) fn accepts(&self, codec: Codec) -> bool {
        let bits = self.0.load(Ordering::Relaxed);
        codec == Codec::None || (bits != 0 && CodecSet::from_bits(bits).contains(codec))
    }

    /// Remembers the `bt-codecs` header of an answer, if it has a readable one.
    pub(crate) fn learn(&self, headers: &http::HeaderMap) {
        if let Some(list) = headers
            .get(CODECS_HEADER)
            .and_then(|v| parse_codec_list(v.as_bytes()).ok())
        {
            let set: CodecSet = list.into_iter().collect();
            self.0.store(set.bits(), Ordering::Relaxed);
        }
    }
}

/// The codecs of one call, shared by the calls of one fan-out where they send the same tensor.
#[derive(Default)]
pub(crate) struct CallCodecs {
    /// The `bt-codecs` offer, when the call makes one.
    pub(crate) offer: Option<MetadataValue<Ascii>>,
    /// What the answer may use.
    pub(crate) accepted: CodecSet,
    /// The codec of the request's float32 tensors, for axons that accept it.
    pub(crate) request: Codec,
    /// The request's tensors in `request`, with their own payload hashes; `None` when nothing
    /// is compressed.
    pub(crate) compressed: Option<(Vec<bt_wire::Tensor>, Arc<PayloadHashes>)>,
}

impl CallCodecs {
    /// The codecs of a call that offers `answer` (preferred first) and sends `tensors`
    /// compressed with `request` to axons that accept it.
    pub(crate) fn new(
        answer: &[Codec],
        request: Codec,
        tensors: &[&Tensor],
    ) -> Result<Self, CompressionError> {
        let offer = if !answer.is_empty() {
            Some(format_codec_list(answer.iter().copied()))
        } else if request != Codec::None {
            // Offered only to hear which codecs the axon accepts.
            Some(Codec::None.name().to_owned())
        } else {
            None
        };
        let compressed = if request == Codec::None {
            None
        } else {
            let wire = tensors
                .iter()
                .map(|t| compress(t, request))
                .collect::<Result<Vec<_>, _>>()?;
            Some((wire, Arc::default()))
        };
        Ok(CallCodecs {
            offer: offer.and_then(|o| MetadataValue::try_from(o).ok()),
            accepted: answer.iter().copied().collect(),
            request,
            compressed,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nothing_is_accepted_until_the_axon_says_so() {
        let axon = AxonCodecs::default();
        assert!(axon.accepts(Codec::None));
        assert!(!axon.accepts(Codec::Blockwise8));
        let mut headers = http::HeaderMap::new();
        headers.insert(CODECS_HEADER, "none,f16,blockwise8".parse().unwrap());
        axon.learn(&headers);
        assert!(axon.accepts(Codec::Blockwise8) && !axon.accepts(Codec::Uniform8));
    }

    #[test]
    fn an_offer_is_made_only_when_a_codec_is_wanted() {
        let plain = CallCodecs::new(&[], Codec::None, &[]).unwrap();
        assert!(plain.offer.is_none() && plain.compressed.is_none());
        let only_requests = CallCodecs::new(&[], Codec::F16, &[]).unwrap();
        assert_eq!(only_requests.offer.unwrap(), "none");
        let both = CallCodecs::new(&[Codec::Uniform8, Codec::F16], Codec::None, &[]).unwrap();
        assert_eq!(both.offer.unwrap(), "uniform8,f16");
        assert!(both.accepted.contains(Codec::F16) && !both.accepted.contains(Codec::Bf16));
    }
}
