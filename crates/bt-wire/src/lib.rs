//! The Release 1 Bittensor wire schema as Rust types.
//!
//! Generated at build time from `proto/bittensor.proto` (compiled with a vendored `protoc`).
//! Bytes fields (`Tensor.buffer`, signatures, proof of work) are [`bytes::Bytes`], so decoding a
//! message never copies a tensor payload.
//!
//! The schema has no `package` line, so its gRPC paths are `/Bittensor/Forward`,
//! `/Bittensor/Backward` and `/Metagraph/Gossip`, exactly as Release 1 peers call them.

#![allow(clippy::doc_markdown, clippy::derive_partial_eq_without_eq)]

pub mod body;
pub mod framing;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/_.rs"));
}

pub use generated::{
    DataType, GossipBatch, Modality, Synapse, Tensor, TensorMessage, bittensor_client,
    bittensor_server, metagraph_client, metagraph_server,
};

/// The raw `.proto` source, for tools that generate clients in other languages.
pub const PROTO_SOURCE: &str = include_str!("../proto/bittensor.proto");

/// The fully qualified gRPC method paths (no package prefix, as in Release 1).
pub mod paths {
    pub const FORWARD: &str = "/Bittensor/Forward";
    pub const BACKWARD: &str = "/Bittensor/Backward";
    pub const GOSSIP: &str = "/Metagraph/Gossip";
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn field_numbers_match_release_one() {
        // `nounce = 4` as varint 7 → tag 0x20; `signature = 5` bytes → tag 0x2a.
        let msg = TensorMessage {
            nounce: 7,
            signature: bytes::Bytes::from_static(b"s"),
            ..Default::default()
        };
        assert_eq!(msg.encode_to_vec(), vec![0x20, 7, 0x2a, 1, b's']);

        // Synapse skips 6 and 7: `block_hash = 8` → tag 0x42, `nounce = 9` → tag 0x48.
        let syn = Synapse {
            block_hash: "h".into(),
            nounce: 1,
            ..Default::default()
        };
        assert_eq!(syn.encode_to_vec(), vec![0x42, 1, b'h', 0x48, 1]);
    }

    #[test]
    fn bytes_fields_are_zero_copy() {
        let payload = vec![1u8; 4096];
        let wire = Tensor {
            buffer: payload.into(),
            shape: vec![1024],
            dtype: DataType::Float32 as i32,
            ..Default::default()
        }
        .encode_to_vec();
        let frame = bytes::Bytes::from(wire);
        let decoded = Tensor::decode(frame.clone()).map_err(|e| e.to_string());
        let decoded = decoded.unwrap_or_default();
        let start = decoded.buffer.as_ptr() as usize;
        let frame_range = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
        assert!(
            frame_range.contains(&start),
            "buffer must point into the received frame"
        );
    }

    #[test]
    fn schema_has_no_package_line() {
        assert!(
            !PROTO_SOURCE
                .lines()
                .any(|l| l.trim_start().starts_with("package"))
        );
        assert_eq!(paths::FORWARD, "/Bittensor/Forward");
    }
}
