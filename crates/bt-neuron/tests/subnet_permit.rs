//! The bipartite rule over real sockets: a miner refuses callers without a validator permit
//! (PERMISSION_DENIED, with the reason) and serves the permit holder once the chain binds its
//! neuron key to the permitted uid. Over today's HTTP synapse protocol too (`--http_port`): a
//! stranger's hotkey gets 403, the permitted validator's hotkey gets the model's output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bt_chain::{Keypair, NodeClient};
use bt_crypto::NeuronKey;
use bt_dendrite::http::{AxonTarget, HttpDendrite, HttpDendriteConfig};
use bt_dendrite::{CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_http::builtin::TensorForward;
use bt_http::sdk_tensor::SdkTensor;
use bt_neuron::NeuronConfig;
use bt_neuron::subnet::{SubnetRole, run_subnet};
use bt_nn::mnist::CONTEXT_DIM;
use bt_tensor::{Modality, Tensor};

async fn ask(key: NeuronKey, ep: &Endpoint) -> Outcome {
    let d = Dendrite::new(key, DendriteConfig::default());
    let x = Tensor::from_f32_vec(&[2, 784], vec![0.3; 2 * 784], Modality::Image).unwrap();
    let opts = CallOptions {
        timeout: Some(Duration::from_secs(10)),
        output_dims: Some(vec![CONTEXT_DIM]),
        ..CallOptions::default()
    };
    let mut r = d
        .forward(Modality::Image, Inputs::broadcast([ep.clone()], x), &opts)
        .await
        .unwrap();
    r.remove(0).outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miner_answers_only_permit_holders() {
    let net = common::Net::start().await;
    let netuid = net.netuid;
    let miner_hot = Keypair::dev("miner-hot");
    let mut settings = net.settings(miner_hot.clone(), 1);
    settings.http_listen = Some("127.0.0.1:0".parse().unwrap());
    settings.coldkey = Some(net.funded_coldkey("miner-cold").await);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cfg = NeuronConfig {
        max_steps: 2,
        ..NeuronConfig::default()
    };
    let miner = tokio::spawn(run_subnet(cfg, settings, SubnetRole::Miner, async move {
        let _ = stopped.await;
    }));

    // The miner registers itself and publishes its axon with its keys.
    let axon = common::poll(Duration::from_secs(30), || async {
        let mg = net.chain.metagraph(netuid).await.ok()?;
        mg.uid_of(&miner_hot.account())
            .and_then(|u| mg.axons[usize::from(u)].clone())
    })
    .await
    .unwrap_or_else(|e| panic!("miner never served: {e}\n{}", net.dump()));
    assert_eq!(
        axon.identity.neuron_key_hex(),
        NeuronKey::from_seed([1; 32]).public_hex()
    );
    let ep = Endpoint::new(
        axon.ip_addr().to_string(),
        axon.port,
        axon.identity.synapse_key_hex(),
    );

    // A stranger (no uid at all) is refused with the rule as the reason.
    match ask(NeuronKey::from_seed([42; 32]), &ep).await {
        Outcome::Rejected { code, message } => {
            assert_eq!(code, tonic::Code::PermissionDenied);
            assert!(
                message.contains(&format!(
                    "miner answers only validators with a permit on netuid {netuid}"
                )),
                "{message}"
            );
        }
        other => panic!("expected PERMISSION_DENIED, got {other}"),
    }
    // The miner itself holds no permit either (no stake): its own key is refused too.
    assert!(matches!(
        ask(NeuronKey::from_seed([1; 32]), &ep).await,
        Outcome::Rejected {
            code: tonic::Code::PermissionDenied,
            ..
        }
    ));

    // The validator (subnet owner with stake) binds its neuron key; once the epoch gives it a
    // permit and the miner's next refresh sees it, its requests are answered.
    let validator_key = NeuronKey::from_seed([9; 32]);
    net.bind_validator_key(&validator_key).await;
    let answer = common::poll(Duration::from_secs(30), || async {
        ask(NeuronKey::from_seed([9; 32]), &ep).await.into_tensor()
    })
    .await
    .unwrap_or_else(|e| panic!("validator never served: {e}\n{}", net.dump()));
    assert_eq!(answer.shape(), [2, CONTEXT_DIM]);

    // The same model over HTTP: the address is in the miner's progress line.
    let (http_addr, http_hotkey) = net
        .lines
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| {
            let rest = l.split_once("TensorForward over HTTP on ")?.1;
            let (addr, hotkey) = rest.split_once(" as hotkey ")?;
            Some((addr.to_string(), hotkey.to_string()))
        })
        .unwrap_or_else(|| panic!("no HTTP line\n{}", net.dump()));
    assert_eq!(http_hotkey, miner_hot.account().to_ss58());
    let target = AxonTarget {
        addr: http_addr.parse().unwrap(),
        hotkey: bt_crypto::wallet::AccountId(miner_hot.account().0),
    };
    let images = Tensor::from_f32_vec(&[2, 784], vec![0.3; 2 * 784], Modality::Tensor).unwrap();
    let query = TensorForward {
        inputs: Some(SdkTensor::from_tensor(&images).unwrap()),
        outputs: None,
    };
    let stranger = HttpDendrite::new(
        Keypair::dev("stranger").sr25519(),
        HttpDendriteConfig::default(),
    );
    let (_, refused) = stranger
        .call(&target, query.clone(), Duration::from_secs(10))
        .await;
    assert_eq!(refused.status_code, 403, "{refused:?}");
    assert!(
        refused
            .status_message
            .contains("miner answers only validators"),
        "{refused:?}"
    );
    let validator = HttpDendrite::new(net.validator_hot.sr25519(), HttpDendriteConfig::default());
    let (answer, outcome) = validator
        .call(&target, query, Duration::from_secs(10))
        .await;
    assert!(outcome.is_success(), "{outcome:?}");
    assert_eq!(outcome.response_signed, Some(true));
    let out = answer
        .outputs
        .unwrap()
        .to_tensor(&bt_tensor::Limits::DEFAULT)
        .unwrap();
    assert_eq!(out.shape(), [2, CONTEXT_DIM]);
    // ... and the stranger is still refused.
    assert!(matches!(
        ask(NeuronKey::from_seed([42; 32]), &ep).await,
        Outcome::Rejected {
            code: tonic::Code::PermissionDenied,
            ..
        }
    ));

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), miner)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    net.node.shutdown().await;
}
