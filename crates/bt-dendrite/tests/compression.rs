//! Compression negotiated between the dendrite and the project's axon over real loopback gRPC:
//! both directions per codec, a Release 1 style request (no offer) answered in float32, a
//! compressed request the axon does not accept refused, a Release 1 server never sent a
//! compressed request, and compressed answers that were not offered, lie or hold NaN refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bt_axon::{AxonConfig, AxonHandle};
use bt_crypto::NeuronKey;
use bt_dendrite::{BadResponse, CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::compression::{
    BLOCKWISE8_DTYPE, CODECS_HEADER, Codec, CodecSet, CompressionError, compress,
};
use bt_tensor::{DType, Modality, Tensor};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use support::Behaviour;
use tonic::Code;

async fn axon(codecs: CodecSet) -> (AxonHandle, String) {
    support::echo_axon(AxonConfig {
        allow_unsigned: true,
        codecs,
        ..Default::default()
    })
    .await
}

fn dendrite(codec: Codec) -> Dendrite {
    let config = DendriteConfig {
        answer_codecs: vec![codec],
        request_codec: codec,
        ..Default::default()
    };
    Dendrite::new(NeuronKey::generate(), config)
}

fn values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 13.0)
        .collect()
}

fn max_err(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[tokio::test]
async fn every_codec_compresses_both_directions_once_the_axon_has_said_it_accepts_it() {
    let (axon, key) = axon(CodecSet::ALL).await;
    let ep = Endpoint::new("127.0.0.1", axon.local_addr().port(), key);
    let n = 64 * 256;
    let v = values(n);
    let x = Tensor::from_f32(&[64, 256], &v, Modality::Tensor).unwrap();
    let float32_bytes = (n * 4) as u64;
    for codec in [Codec::F16, Codec::Bf16, Codec::Uniform8, Codec::Blockwise8] {
        let d = dendrite(codec);
        let mut bytes_in = Vec::new();
        for _ in 0..2 {
            let before = axon.metrics().bytes_in;
            let y = d
                .forward_tensor(Inputs::broadcast([ep.clone()], x.clone()))
                .await
                .unwrap()
                .remove(0)
                .outcome
                .into_tensor()
                .unwrap_or_else(|| panic!("{codec}: no answer"));
            bytes_in.push(axon.metrics().bytes_in - before);
            let half = matches!(codec, Codec::F16 | Codec::Bf16);
            let wanted = if half {
                codec_dtype(codec)
            } else {
                DType::Float32
            };
            assert_eq!(y.dtype(), wanted, "{codec}: the answer's dtype");
            assert_eq!(y.shape(), [64, 256]);
            let err = max_err(&v, &y.to_f32_vec().unwrap());
            assert!(err > 0.0 && err < 0.05, "{codec}: max error {err}");
        }
        // The first request went in float32 (the axon had not said what it accepts yet), the
        // second compressed.
        assert!(bytes_in[0] > float32_bytes, "{codec}: {bytes_in:?}");
        assert!(
            bytes_in[1] < float32_bytes * 6 / 10,
            "{codec}: {bytes_in:?}"
        );

        let g = Tensor::from_f32(&[64, 256], &v, Modality::Tensor).unwrap();
        let back = d.backward(&ep, &x, &g).await.unwrap().outcome;
        let back = back
            .into_tensor()
            .unwrap_or_else(|| panic!("{codec}: backward"));
        assert!(max_err(&v, &back.to_f32_vec().unwrap()) < 0.05);
    }
}

fn codec_dtype(codec: Codec) -> DType {
    DType::from_wire(codec.wire_dtype()).unwrap()
}

async fn raw_call(
    port: u16,
    key: &str,
    tensor: bt_wire::Tensor,
    offer: Option<&str>,
) -> Result<tonic::Response<TensorMessage>, tonic::Status> {
    let mut client = BittensorClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let mut request = tonic::Request::new(TensorMessage {
        synapse_key: key.to_owned(),
        tensors: vec![tensor],
        ..Default::default()
    });
    if let Some(offer) = offer {
        request
            .metadata_mut()
            .insert(CODECS_HEADER, offer.parse().unwrap());
    }
    client.forward(request).await
}

#[tokio::test]
async fn a_request_without_an_offer_is_answered_as_release_1() {
    let (axon, key) = axon(CodecSet::ALL).await;
    let port = axon.local_addr().port();
    let x = Tensor::from_f32(&[2, 300], &values(600), Modality::Tensor).unwrap();
    let plain = raw_call(port, &key, bt_tensor::encode(&x), None)
        .await
        .unwrap();
    assert!(plain.metadata().get(CODECS_HEADER).is_none());
    let answer = &plain.get_ref().tensors[0];
    assert_eq!(answer, &bt_tensor::encode(&x), "float32, byte for byte");

    let offered = raw_call(port, &key, bt_tensor::encode(&x), Some("blockwise8"))
        .await
        .unwrap();
    assert_eq!(
        offered.metadata().get(CODECS_HEADER).unwrap(),
        "none,f16,bf16,uniform8,blockwise8"
    );
    assert_eq!(offered.get_ref().tensors[0].dtype, BLOCKWISE8_DTYPE);
    // An offer of nothing we know is answered in float32 too.
    let unknown = raw_call(port, &key, bt_tensor::encode(&x), Some("zstd"))
        .await
        .unwrap();
    assert_eq!(unknown.get_ref().tensors[0].dtype, 1);
}

#[tokio::test]
async fn a_compressed_request_the_axon_does_not_accept_is_refused() {
    let only_f16: CodecSet = [Codec::F16].into_iter().collect();
    let (axon, key) = axon(only_f16).await;
    let port = axon.local_addr().port();
    let x = Tensor::from_f32(&[2, 3], &values(6), Modality::Tensor).unwrap();
    let refused = raw_call(port, &key, compress(&x, Codec::Blockwise8).unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    assert!(
        refused.message().contains("blockwise8") && refused.message().contains("not negotiated"),
        "{}",
        refused.message()
    );
    // The dendrite never sends it: this axon did not list blockwise8.
    let d = dendrite(Codec::Blockwise8);
    let ep = Endpoint::new("127.0.0.1", port, key);
    for _ in 0..3 {
        let r = d
            .forward_tensor(Inputs::broadcast([ep.clone()], x.clone()))
            .await
            .unwrap();
        let y = r[0]
            .outcome
            .tensor()
            .unwrap_or_else(|| panic!("{}", r[0].outcome));
        // Nor answers in it: the offer's only codec is one the axon does not use.
        assert_eq!(y.to_f32_vec().unwrap(), values(6));
    }
}

#[tokio::test]
async fn non_finite_compressed_payloads_are_refused_both_ways() {
    let (axon, key) = axon(CodecSet::ALL).await;
    let x = Tensor::from_f32(&[1, 4], &[1.0, 2.0, 3.0, 4.0], Modality::Tensor).unwrap();
    let mut nan_scale = compress(&x, Codec::Blockwise8).unwrap();
    let mut buf = nan_scale.buffer.to_vec();
    buf[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    nan_scale.buffer = buf.into();
    let refused = raw_call(axon.local_addr().port(), &key, nan_scale, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("scale"), "{}", refused.message());
    // The caller's own NaN is refused before anything is sent.
    let nan = Tensor::from_f32(&[1, 2], &[f32::NAN, 0.0], Modality::Tensor).unwrap();
    let ep = Endpoint::new("127.0.0.1", axon.local_addr().port(), key);
    let err = dendrite(Codec::Uniform8)
        .forward_tensor(Inputs::broadcast([ep], nan))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be compressed"), "{err}");

    let server = support::start(Behaviour::Rewrite(|t| {
        let mut t = compress(
            &bt_tensor::decode(&t, &Default::default()).unwrap(),
            Codec::Uniform8,
        )
        .unwrap();
        let mut buf = t.buffer.to_vec();
        buf[4..8].copy_from_slice(&f32::INFINITY.to_le_bytes());
        t.buffer = buf.into();
        t
    }))
    .await;
    let o = outcome_from(&server, Some(Codec::Uniform8)).await;
    assert!(
        matches!(
            o,
            Outcome::BadResponse(BadResponse::Compression(CompressionError::BadHeader { .. }))
        ),
        "{o}"
    );
}

async fn outcome_from(server: &support::RawServer, offer: Option<Codec>) -> Outcome {
    let d = Dendrite::new(NeuronKey::generate(), DendriteConfig::default());
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let x = Tensor::from_f32(&[2, 2], &[0.5, -1.0, 2.0, 0.0], Modality::Tensor).unwrap();
    let opts = CallOptions {
        answer_codecs: Some(offer.into_iter().collect()),
        ..Default::default()
    };
    d.forward(Modality::Tensor, Inputs::broadcast([ep], x), &opts)
        .await
        .unwrap()
        .remove(0)
        .outcome
}

fn to_blockwise8(t: bt_wire::Tensor) -> bt_wire::Tensor {
    compress(
        &bt_tensor::decode(&t, &Default::default()).unwrap(),
        Codec::Blockwise8,
    )
    .unwrap()
}

#[tokio::test]
async fn a_compressed_answer_that_was_not_offered_or_lies_is_refused() {
    let server = support::start(Behaviour::Rewrite(to_blockwise8)).await;
    let o = outcome_from(&server, None).await;
    assert!(
        matches!(
            o,
            Outcome::BadResponse(BadResponse::Compression(CompressionError::NotNegotiated {
                codec: Codec::Blockwise8,
                ..
            }))
        ),
        "{o}"
    );
    let o = outcome_from(&server, Some(Codec::Uniform8)).await;
    assert!(
        matches!(o, Outcome::BadResponse(BadResponse::Compression(_))),
        "{o}"
    );
    assert!(outcome_from(&server, Some(Codec::Blockwise8)).await.is_ok());

    // A float32 buffer announced as blockwise8: its length does not follow from its shape.
    let liar = support::start(Behaviour::Rewrite(|mut t| {
        t.dtype = BLOCKWISE8_DTYPE;
        t
    }))
    .await;
    let o = outcome_from(&liar, Some(Codec::Blockwise8)).await;
    assert!(
        matches!(
            o,
            Outcome::BadResponse(BadResponse::Compression(CompressionError::Length { .. }))
        ),
        "{o}"
    );
}

#[tokio::test]
async fn a_release_1_server_never_receives_a_compressed_request() {
    let server = support::start(Behaviour::Echo).await;
    let d = dendrite(Codec::Blockwise8);
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let x = Tensor::from_f32(&[2, 3], &values(6), Modality::Tensor).unwrap();
    for _ in 0..3 {
        let r = d
            .forward_tensor(Inputs::broadcast([ep.clone()], x.clone()))
            .await
            .unwrap();
        assert!(r[0].outcome.is_ok(), "{}", r[0].outcome);
    }
    let g = Tensor::from_f32(&[2, 3], &values(6), Modality::Tensor).unwrap();
    assert!(d.backward(&ep, &x, &g).await.unwrap().outcome.is_ok());
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    for s in seen {
        assert!(
            s.message.tensors.iter().all(|t| t.dtype == 1),
            "{:?}",
            s.message
        );
    }
}
