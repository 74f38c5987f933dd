//! Hostile peers — raw bytes on the socket, a valid HTTP/2 preface followed by garbage frames,
//! gRPC frames holding malformed protobuf or lying about their length — get errors or a closed
//! connection, and the axon keeps serving good clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bt_axon::EchoSynapse;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Writes `bytes`, then reads until the axon closes the connection (bounded).
async fn send_raw(addr: SocketAddr, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut buf = vec![0u8; 4096];
    let read_all = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_all)
        .await
        .expect("the axon must close a connection that speaks garbage");
}

async fn good_request_works(addr: SocketAddr, key: &str) {
    let mut c = client(addr).await;
    let reply = c
        .forward(request(
            message(key, vec![f32_tensor(&[4.0])]),
            Duration::from_secs(5),
        ))
        .await;
    assert!(reply.is_ok(), "{reply:?}");
}

#[tokio::test]
async fn garbage_on_the_socket_does_not_hurt_good_clients() {
    let key = synapse_key(1);
    let axon = start(
        unsigned_config(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let addr = axon.local_addr();

    send_raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    send_raw(addr, &[0xff; 4096]).await;
    let mut bad_frames = PREFACE.to_vec();
    // A frame header announcing 16 MiB of an unknown type on stream 1, then junk.
    bad_frames.extend_from_slice(&[0xff, 0xff, 0xff, 0xee, 0x00, 0, 0, 0, 1]);
    bad_frames.extend_from_slice(&[0xab; 512]);
    send_raw(addr, &bad_frames).await;
    let mut bad_settings = PREFACE.to_vec();
    // SETTINGS with a length that is not a multiple of 6: a protocol error.
    bad_settings.extend_from_slice(&[0, 0, 5, 0x4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]);
    send_raw(addr, &bad_settings).await;
    // DATA on stream 0 without any SETTINGS.
    let mut data0 = PREFACE.to_vec();
    data0.extend_from_slice(&[0, 0, 4, 0x0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    send_raw(addr, &data0).await;

    good_request_works(addr, &key).await;
    assert!(!axon.is_finished());
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn malformed_grpc_bodies_get_errors() {
    let key = synapse_key(1);
    let axon = start(
        unsigned_config(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let addr = axon.local_addr();

    // Not protobuf at all.
    let status = grpc_raw(addr, None, grpc_frame(&[0xff; 64])).await;
    assert!(
        matches!(status.as_deref(), Some(s) if s != "0"),
        "{status:?}"
    );
    // Protobuf whose length-delimited field runs past the end.
    let status = grpc_raw(addr, None, grpc_frame(&[0x32, 0xff, 0xff, 0x03, 0x01])).await;
    assert!(
        matches!(status.as_deref(), Some(s) if s != "0"),
        "{status:?}"
    );
    // A frame header claiming 4 GiB.
    let status = grpc_raw(addr, None, vec![0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]).await;
    assert!(
        matches!(status.as_deref(), Some(s) if s != "0"),
        "{status:?}"
    );
    // A compressed flag we never negotiated.
    let mut compressed = grpc_frame(&[]);
    compressed[0] = 1;
    let status = grpc_raw(addr, None, compressed).await;
    assert!(
        matches!(status.as_deref(), Some(s) if s != "0"),
        "{status:?}"
    );
    // A truncated frame: the stream ends inside the header.
    let status = grpc_raw(addr, None, vec![0, 0, 0]).await;
    assert!(
        matches!(status.as_deref(), Some(s) if s != "0"),
        "{status:?}"
    );

    good_request_works(addr, &key).await;
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Silent sockets are closed after the handshake timeout, so they cannot hold every
/// connection slot.
#[tokio::test]
async fn silent_sockets_are_dropped() {
    let key = synapse_key(1);
    let config = bt_axon::AxonConfig {
        max_connections: 2,
        handshake_timeout: Duration::from_millis(200),
        ..unsigned_config()
    };
    let axon = start(config, vec![(key.clone(), Arc::new(EchoSynapse))]).await;
    let addr = axon.local_addr();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    for mut s in silent {
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a silent socket was kept open");
    }
    good_request_works(addr, &key).await;
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
