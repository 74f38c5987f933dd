//! Reading a gossip batch without letting its size decide our memory.
//!
//! A protobuf `GossipBatch` of N bytes may hold N/2 empty `Synapse` entries, each of which
//! decodes to a struct a hundred times larger: prost decoding a whole 4 MiB batch costs
//! hundreds of MiB. [`decode_bounded`] walks the batch's top-level fields first and decodes
//! only the first `max_synapses` entries of at most [`MAX_SYNAPSE_BYTES`] each and the first
//! `max_peers` peer strings of at most [`MAX_PEER_BYTES`]; the rest are skipped without
//! allocating and counted by [`Rejection`]. Memory is then the received frame plus
//! `max_synapses × MAX_SYNAPSE_BYTES`-ish decoded entries, whatever the frame holds.
//! [`GossipCodec`] puts this decoder under both the server and the client (answers are as
//! untrusted as pushes).

use std::collections::BTreeMap;

use bt_wire::{GossipBatch, Synapse};
use prost::Message;
use prost::bytes::Buf;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use crate::validate::{
    KEY_LEN, MAX_HEARTBEAT_LEN, MAX_HOST_LEN, MAX_POW_LEN, MAX_VERSION_LEN, Rejection,
    SIGNATURE_LEN,
};

/// Largest encoded `Synapse` read: every field at its longest (keys, host, version, heartbeat,
/// work, both signatures) with tags and lengths fits well under it; a bigger entry cannot pass
/// validation, so it is skipped undecoded.
pub const MAX_SYNAPSE_BYTES: usize = 2 * KEY_LEN
    + MAX_HOST_LEN
    + MAX_VERSION_LEN
    + MAX_HEARTBEAT_LEN
    + MAX_POW_LEN
    + 2 * SIGNATURE_LEN
    + 5 // port
    + 64; // tags, lengths, nounce

/// Longest peer string read (`PeerAddr::parse` refuses longer ones anyway).
pub const MAX_PEER_BYTES: usize = MAX_HOST_LEN + 8;

/// Counts decided before anything is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Entries of `synapses` decoded; the rest are counted `BatchTooLarge`.
    pub max_synapses: usize,
    /// Entries of `peers` decoded; the rest are counted `BatchTooLarge`.
    pub max_peers: usize,
}

/// A batch decoded within [`BatchLimits`], with what was skipped.
#[derive(Debug, Clone, Default)]
pub struct BoundedBatch {
    pub batch: GossipBatch,
    /// Entries skipped without decoding, by reason.
    pub skipped: BTreeMap<Rejection, u64>,
}

impl BoundedBatch {
    /// The skipped entries, one item per entry (for the table's rejection counts); at most
    /// the batch's byte length / 2 items, so callers cap it (see `sink_batch`).
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// Why a batch could not be read at all (its framing, not an entry, is broken).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed gossip batch: {0}")]
pub struct BatchDecodeError(&'static str);

const FIELD_VERSION: u64 = 1;
const FIELD_PEERS: u64 = 2;
const FIELD_SYNAPSES: u64 = 3;

/// Decodes `buf` as a `GossipBatch` within `limits` (see the module docs). Entries too large,
/// undecodable or beyond the counts are skipped and counted; only broken framing (a length
/// past the end, a truncated varint, a group) fails the whole batch.
pub fn decode_bounded(buf: &[u8], limits: BatchLimits) -> Result<BoundedBatch, BatchDecodeError> {
    let mut out = BoundedBatch::default();
    let mut skip = |r: Rejection| *out.skipped.entry(r).or_default() += 1;
    let mut synapses: Vec<Synapse> = Vec::new();
    let mut peers: Vec<String> = Vec::new();
    let mut version = 0.0f32;
    let mut rest = buf;
    while rest.has_remaining() {
        let key = prost::encoding::decode_varint(&mut rest)
            .map_err(|_| BatchDecodeError("truncated field key"))?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                prost::encoding::decode_varint(&mut rest)
                    .map_err(|_| BatchDecodeError("truncated varint"))?;
            }
            1 => advance(&mut rest, 8)?,
            5 => {
                let bytes = take(&mut rest, 4)?;
                if field == FIELD_VERSION {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(bytes);
                    version = f32::from_le_bytes(b);
                }
            }
            2 => {
                let len = prost::encoding::decode_varint(&mut rest)
                    .map_err(|_| BatchDecodeError("truncated length"))?;
                let len = usize::try_from(len).map_err(|_| BatchDecodeError("length overflow"))?;
                let body = take(&mut rest, len)?;
                match field {
                    FIELD_SYNAPSES if synapses.len() >= limits.max_synapses => {
                        skip(Rejection::BatchTooLarge)
                    }
                    FIELD_SYNAPSES if len > MAX_SYNAPSE_BYTES => skip(Rejection::Malformed),
                    FIELD_SYNAPSES => match Synapse::decode(body) {
                        Ok(s) => synapses.push(s),
                        Err(_) => skip(Rejection::Malformed),
                    },
                    FIELD_PEERS if peers.len() >= limits.max_peers => {
                        skip(Rejection::BatchTooLarge)
                    }
                    FIELD_PEERS if len > MAX_PEER_BYTES => skip(Rejection::BadPeer),
                    FIELD_PEERS => match std::str::from_utf8(body) {
                        Ok(p) => peers.push(p.to_owned()),
                        Err(_) => skip(Rejection::BadPeer),
                    },
                    _ => {}
                }
            }
            _ => return Err(BatchDecodeError("unsupported wire type")),
        }
    }
    out.batch = GossipBatch {
        version,
        peers,
        synapses,
    };
    Ok(out)
}

fn take<'a>(rest: &mut &'a [u8], len: usize) -> Result<&'a [u8], BatchDecodeError> {
    if rest.len() < len {
        return Err(BatchDecodeError("field runs past the end"));
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Ok(head)
}

fn advance(rest: &mut &[u8], len: usize) -> Result<(), BatchDecodeError> {
    take(rest, len).map(|_| ())
}

/// The gossip codec: `GossipBatch` out (prost), [`BoundedBatch`] in ([`decode_bounded`]).
#[derive(Debug, Clone, Copy)]
pub struct GossipCodec {
    pub limits: BatchLimits,
}

impl Codec for GossipCodec {
    type Encode = GossipBatch;
    type Decode = BoundedBatch;
    type Encoder = ProstEncoder<GossipBatch>;
    type Decoder = BoundedDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        BoundedDecoder {
            limits: self.limits,
        }
    }
}

/// See [`GossipCodec`].
#[derive(Debug, Clone, Copy)]
pub struct BoundedDecoder {
    limits: BatchLimits,
}

impl Decoder for BoundedDecoder {
    type Item = BoundedBatch;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        // tonic hands over exactly one message, already length-checked against the maximum
        // message size, in one contiguous buffer.
        let len = src.remaining();
        let chunk = src.chunk();
        let decoded = if chunk.len() == len {
            decode_bounded(chunk, self.limits)
        } else {
            decode_bounded(&src.copy_to_bytes(len), self.limits)
        };
        src.advance(src.remaining());
        decoded
            .map(Some)
            .map_err(|e| Status::invalid_argument(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const LIMITS: BatchLimits = BatchLimits {
        max_synapses: 3,
        max_peers: 2,
    };

    #[test]
    fn counts_are_cut_before_decoding_and_framing_is_checked() {
        let batch = GossipBatch {
            version: 1.5,
            peers: vec!["a:1".into(), "b:2".into(), "c:3".into()],
            synapses: vec![Synapse::default(); 10],
        };
        let bytes = batch.encode_to_vec();
        let got = decode_bounded(&bytes, LIMITS).unwrap();
        assert_eq!(got.batch.synapses.len(), 3);
        assert_eq!(got.batch.peers, vec!["a:1".to_owned(), "b:2".to_owned()]);
        assert_eq!(got.batch.version, 1.5);
        assert_eq!(got.skipped.get(&Rejection::BatchTooLarge), Some(&8));
        // The same bytes decode as prost would, within the limits.
        let whole = decode_bounded(
            &bytes,
            BatchLimits {
                max_synapses: 100,
                max_peers: 100,
            },
        )
        .unwrap();
        assert_eq!(whole.batch, batch);
        assert!(decode_bounded(&bytes[..bytes.len() - 1], LIMITS).is_err());
        assert!(decode_bounded(&[0x1a, 0x05, 0x00], LIMITS).is_err());
    }

    #[test]
    fn oversized_and_undecodable_entries_are_skipped_alone() {
        let big = Synapse {
            address: "x".repeat(MAX_SYNAPSE_BYTES),
            ..Synapse::default()
        };
        let mut bytes = GossipBatch {
            version: 0.0,
            peers: vec!["p".repeat(MAX_PEER_BYTES + 1)],
            synapses: vec![big, Synapse::default()],
        }
        .encode_to_vec();
        // A synapse entry holding a truncated varint, then a peer of invalid UTF-8.
        bytes.extend_from_slice(&[0x1a, 0x02, 0x48, 0xff, 0x12, 0x01, 0xff]);
        let got = decode_bounded(&bytes, LIMITS).unwrap();
        assert_eq!(got.batch.synapses.len(), 1);
        assert!(got.batch.peers.is_empty());
        assert_eq!(got.skipped.get(&Rejection::Malformed), Some(&2));
        assert_eq!(got.skipped.get(&Rejection::BadPeer), Some(&2));
    }
}
