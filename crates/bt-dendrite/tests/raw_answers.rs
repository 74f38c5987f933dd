//! Answers as raw HTTP/2, however a peer cuts or spoils them: the dendrite reads a message
//! from any cut of its DATA frames, and anything that is not exactly one message is a
//! `BadResponse`, an HTTP error without a gRPC status a `Rejected` with gRPC's mapping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_dendrite::{BadResponse, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor};
use bytes::Bytes;
use prost::Message as _;
use tokio::net::TcpListener;
use tonic::Code;

/// How the raw server answers every request.
#[derive(Clone)]
enum Answer {
    /// Status 200, these body pieces (one DATA frame each), then `grpc-status: 0`.
    Frames(Vec<Vec<u8>>),
    /// This HTTP status and nothing else.
    Http(u16),
}

async fn serve(answer: Answer) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((_request, mut respond))) = conn.accept().await {
                    match &answer {
                        Answer::Http(code) => {
                            let resp = http::Response::builder().status(*code).body(()).unwrap();
                            let _ = respond.send_response(resp, true);
                        }
                        Answer::Frames(pieces) => {
                            let resp = http::Response::builder()
                                .header("content-type", "application/grpc")
                                .body(())
                                .unwrap();
                            let mut stream = respond.send_response(resp, false).unwrap();
                            for piece in pieces {
                                let _ = stream.send_data(Bytes::from(piece.clone()), false);
                            }
                            let mut trailers = http::HeaderMap::new();
                            trailers.insert("grpc-status", "0".parse().unwrap());
                            let _ = stream.send_trailers(trailers);
                        }
                    }
                }
            });
        }
    });
    port
}

fn framed(values: &[f32]) -> Vec<u8> {
    let t = Tensor::from_f32(&[1, values.len()], values, Modality::Tensor).unwrap();
    let msg = bt_wire::TensorMessage {
        tensors: vec![bt_tensor::encode(&t)],
        ..Default::default()
    };
    let body = msg.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

async fn call(answer: Answer) -> Outcome {
    let port = serve(answer).await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    let ep = Endpoint::new("127.0.0.1", port, "0xab");
    let x = Tensor::from_f32(&[1, 4], &[0.5; 4], Modality::Tensor).unwrap();
    dendrite
        .forward_tensor(Inputs::broadcast([ep], x))
        .await
        .unwrap()
        .remove(0)
        .outcome
}

#[tokio::test]
async fn a_message_in_any_cut_of_frames_is_read() {
    let values = [1.0, 2.0, 3.0, 4.0];
    let one_byte_frames = framed(&values).into_iter().map(|b| vec![b]).collect();
    let o = call(Answer::Frames(one_byte_frames)).await;
    assert_eq!(o.tensor().unwrap().to_f32_vec().unwrap(), values, "{o}");
}

#[tokio::test]
async fn spoiled_answers_are_bad_responses() {
    let good = framed(&[1.0; 4]);
    let garbage = {
        let mut g = vec![0u8, 0, 0, 0, 3];
        g.extend_from_slice(&[0xff; 3]);
        g
    };
    let mut compressed = good.clone();
    compressed[0] = 1;
    for (what, pieces) in [
        ("two messages", vec![good.clone(), good.clone()]),
        ("cut short", vec![good[..good.len() - 2].to_vec()]),
        ("no message", vec![]),
        ("not protobuf", vec![garbage]),
        ("compressed", vec![compressed]),
    ] {
        let o = call(Answer::Frames(pieces)).await;
        assert!(
            matches!(o, Outcome::BadResponse(BadResponse::Decode(_))),
            "{what}: {o}"
        );
    }
}

#[tokio::test]
async fn an_http_error_without_grpc_status_is_mapped_as_grpc_maps_it() {
    for (http, code) in [
        (503, Code::Unavailable),
        (404, Code::Unimplemented),
        (500, Code::Unknown),
    ] {
        let o = call(Answer::Http(http)).await;
        assert!(
            matches!(&o, Outcome::Rejected { code: c, .. } if *c == code),
            "HTTP {http}: {o}"
        );
    }
}
