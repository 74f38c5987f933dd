//! Interoperability with an independent implementation: Python grpcio code generated from the
//! Release 1 schema (`interop/interop.py`). (1) A Python client calls our axon — float32,
//! pickled text, Backward, a malformed tensor — unsigned against an axon that allows it, and
//! signed (PyNaCl, bt-crypto's digest re-implemented in Python) against a strict axon. (2) Our
//! dendrite calls a Python grpcio server, which must see our deadline and unpickle our text.
//!
//! Skipped, with a message, when `python3` lacks grpcio/grpcio-tools/numpy
//! (`pip install grpcio grpcio-tools numpy pynacl`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bt_axon::{Axon, AxonConfig, AxonHandle, EchoSynapse};
use bt_crypto::NeuronKey;
use bt_dendrite::{CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs};
use bt_tensor::{Modality, Tensor};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const CHILD_DEADLINE: Duration = Duration::from_secs(120);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/interop.py")
}

async fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

async fn python_ready() -> bool {
    if python_has("grpc, grpc_tools, numpy").await {
        return true;
    }
    println!(
        "SKIPPED Python interop: python3 cannot import grpc, grpc_tools and numpy \
         (pip install grpcio grpcio-tools numpy pynacl)"
    );
    eprintln!("SKIPPED Python interop: grpcio/grpcio-tools/numpy missing");
    false
}

async fn axon(key: &str, allow_unsigned: bool) -> AxonHandle {
    Axon::builder(AxonConfig {
        allow_unsigned,
        ..Default::default()
    })
    .serve_synapse(key, Arc::new(EchoSynapse))
    .start("127.0.0.1:0".parse().unwrap())
    .await
    .unwrap()
}

async fn run_client(port: u16, key: &str, seed: Option<&str>) {
    let mut cmd = Command::new("python3");
    cmd.arg(script()).args(["client", &port.to_string(), key]);
    if let Some(seed) = seed {
        cmd.args(["--seed", seed]);
    }
    let out = tokio::time::timeout(CHILD_DEADLINE, cmd.kill_on_drop(true).output())
        .await
        .expect("python client timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("client: all ok"), "{stdout}");
}

#[tokio::test]
async fn a_python_client_calls_our_axon() {
    if !python_ready().await {
        return;
    }
    let key = NeuronKey::generate().public_hex();
    let lenient = axon(&key, true).await;
    run_client(lenient.local_addr().port(), &key, None).await;

    if python_has("nacl").await {
        let strict = axon(&key, false).await;
        let seed = "07".repeat(32);
        run_client(strict.local_addr().port(), &key, Some(&seed)).await;
        let m = strict.metrics();
        assert!(m.total() >= 4, "the strict axon saw {} requests", m.total());
    } else {
        println!("SKIPPED signed Python client: pynacl missing (pip install pynacl)");
    }
}

#[tokio::test]
async fn our_dendrite_calls_a_python_server() {
    if !python_ready().await {
        return;
    }
    let mut child = Command::new("python3")
        .arg(script())
        .arg("server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(CHILD_DEADLINE, lines.next_line())
        .await
        .expect("python server did not start")
        .unwrap()
        .expect("python server exited");
    let port: u16 = first.strip_prefix("port ").unwrap().parse().unwrap();
    let ep = Endpoint::new("127.0.0.1", port, NeuronKey::generate().public_hex());
    let dendrite = Dendrite::new(NeuronKey::generate(), DendriteConfig::default());

    let values: Vec<f32> = (0..15).map(|i| i as f32 * 0.5 - 3.0).collect();
    let x = Tensor::from_f32(&[3, 5], &values, Modality::Tensor).unwrap();
    let opts = CallOptions {
        timeout: Some(Duration::from_secs(7)),
        output_dims: Some(vec![5]),
        ..CallOptions::default()
    };
    // The Python server echoes a float tensor: what comes back is what we sent.
    let echoed = |x: Tensor, dims: usize| {
        let dendrite = &dendrite;
        let ep = ep.clone();
        let opts = CallOptions {
            output_dims: Some(vec![dims]),
            ..opts.clone()
        };
        async move {
            let r = dendrite
                .forward(Modality::Tensor, Inputs::broadcast([ep], x), &opts)
                .await
                .unwrap();
            let y = r[0]
                .outcome
                .tensor()
                .unwrap_or_else(|| panic!("{}", r[0].outcome));
            y.to_f32_vec().unwrap()
        }
    };
    assert_eq!(echoed(x.clone(), 5).await, values);
    let seen = lines.next_line().await.unwrap().unwrap();
    let remaining: f64 = seen.strip_prefix("remaining=").unwrap().parse().unwrap();
    assert!(
        remaining > 1.0 && remaining <= 7.0,
        "python saw deadline {seen}"
    );

    // 256 KiB: our request sends the buffer's field after the tensor's other fields.
    let big: Vec<f32> = (0..64 * 1024).map(|i| i as f32 / 3.0).collect();
    let x_big = Tensor::from_f32(&[64, 1024], &big, Modality::Tensor).unwrap();
    assert_eq!(echoed(x_big, 1024).await, big);
    lines.next_line().await.unwrap().unwrap();

    // Python unpickles our protocol-3 pickle and answers each string's length.
    let text = Tensor::text(&["a", "bcd", "", "wörld"]);
    let r = dendrite
        .forward_text(vec![(ep.clone(), text)])
        .await
        .unwrap();
    let y = r[0]
        .outcome
        .tensor()
        .unwrap_or_else(|| panic!("{}", r[0].outcome));
    assert_eq!(y.shape(), &[4, 1]);
    assert_eq!(y.to_f32_vec().unwrap(), vec![1.0, 3.0, 0.0, 5.0]);
    lines.next_line().await.unwrap();

    let g = Tensor::from_f32(&[3, 5], &[0.1; 15], Modality::Tensor).unwrap();
    let back = dendrite.backward(&ep, &x, &g).await.unwrap();
    assert!(back.outcome.is_ok(), "{}", back.outcome);

    drop(child.stdin.take());
    let status = tokio::time::timeout(CHILD_DEADLINE, child.wait()).await;
    assert!(status.is_ok(), "python server did not stop");
}
