//! The axon reads a request's message from the DATA frames as they come (no tonic codec):
//! however the frames are cut it serves the message, and anything that is not exactly one
//! uncompressed message is refused with a status, never a dropped connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::EchoSynapse;
use common::*;
use prost::Message as _;
use tonic::Code;

fn code(c: Code) -> Option<String> {
    Some((c as i32).to_string())
}

#[tokio::test]
async fn any_cut_of_the_body_is_served_and_anything_else_refused() {
    let key = synapse_key(1);
    let axon = start(
        unsigned_config(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let addr = axon.local_addr();
    let frame = |floats: usize| {
        grpc_frame(&message(&key, vec![f32_tensor(&vec![0.5; floats])]).encode_to_vec())
    };
    let send = |pieces: Vec<Vec<u8>>, headers: http::HeaderMap| {
        grpc_raw_frames(addr, headers, None, pieces)
    };
    let none = http::HeaderMap::new;

    // One byte per DATA frame, then 100 KiB in uneven pieces: served.
    let small = frame(4);
    let bytes: Vec<Vec<u8>> = small.iter().map(|b| vec![*b]).collect();
    assert_eq!(send(bytes, none()).await, code(Code::Ok));
    let large = frame(25_000);
    let pieces = [7, 5000, 3, 60_000].iter().scan(0usize, |at, &n| {
        let piece = large[*at..(*at + n).min(large.len())].to_vec();
        *at += n;
        Some(piece)
    });
    let mut pieces: Vec<Vec<u8>> = pieces.collect();
    pieces.push(large[65_010..].to_vec());
    assert_eq!(send(pieces, none()).await, code(Code::Ok));

    // Two messages in one unary call, a message cut short, no message at all.
    let twice = [small.clone(), small.clone()].concat();
    assert_eq!(send(vec![twice], none()).await, code(Code::InvalidArgument));
    let cut = small[..small.len() - 1].to_vec();
    assert_eq!(send(vec![cut], none()).await, code(Code::InvalidArgument));
    assert_eq!(send(vec![], none()).await, code(Code::InvalidArgument));

    // Compressed: flagged in the prefix, or announced in `grpc-encoding`.
    let mut flagged = small.clone();
    flagged[0] = 1;
    assert_eq!(send(vec![flagged], none()).await, code(Code::Unimplemented));
    let mut gzip = http::HeaderMap::new();
    gzip.insert("grpc-encoding", "gzip".parse().unwrap());
    assert_eq!(
        send(vec![small.clone()], gzip).await,
        code(Code::Unimplemented)
    );

    // The axon still serves well-formed calls.
    let mut c = client(addr).await;
    let msg = message(&key, vec![f32_tensor(&[1.0, 2.0])]);
    let reply = c
        .forward(request(msg.clone(), Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(reply.into_inner().tensors, msg.tensors);
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
