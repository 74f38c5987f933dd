//! A gRPC request or answer as DATA frames, read by `bt_wire::framing::MessageReader` (the
//! axon's and the dendrite's decoder): whatever the bytes and wherever the frames are cut, it
//! never panics, never holds more than the size limit, and a message it reads is the one prost
//! reads from the same bytes.
#![no_main]

use bt_wire::framing::{GRPC_PREFIX_LEN, MessageReader};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message;

const MAX: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the frame size, the rest is the stream.
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let frame = usize::from(cut).max(1);
    let mut reader = MessageReader::new(MAX);
    let mut read = None;
    for piece in stream.chunks(frame) {
        if reader.push(Bytes::copy_from_slice(piece)).is_err() {
            return;
        }
        match reader.take() {
            Ok(Some(msg)) => read = Some(msg),
            Ok(None) => {}
            Err(_) => return,
        }
    }
    if reader.finish().is_err() {
        assert!(read.is_none());
        return;
    }
    if let Some(msg) = read {
        assert!(stream.len() - GRPC_PREFIX_LEN <= MAX);
        let expected = bt_wire::TensorMessage::decode(&stream[GRPC_PREFIX_LEN..]);
        assert_eq!(expected.ok(), Some(msg));
    }
});
