//! A subnet through the user's commands: `chain start`, wallets, `subnet create`, `stake add`,
//! then one `neuron mnist --role validator` and two `--role miner` processes, one trained for
//! many more steps than the other. Yuma consensus must give the better miner more incentive.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bt_chain::{NodeClient, RpcChain};

fn bittensor() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("bittensor"))
}

/// A child process whose stdout is collected, killed when the test ends however it ends.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Self { child, lines }
    }

    fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn wait_for(&mut self, what: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.lines.lock().unwrap().iter().any(|l| l.contains(what)) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("exited ({status}) before {what:?}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "no {what:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn validator_ranks_the_better_miner_higher() {
    let dir = tempfile::tempdir().unwrap();
    let port = bt_testnet::free_port().unwrap().to_string();
    let endpoint = format!("127.0.0.1:{port}");
    let mut chain = Proc::spawn(bittensor().args([
        "chain",
        "start",
        "--dev",
        "--block_time",
        "0.25",
        "--tempo",
        "6",
        "--port",
        &port,
    ]));
    chain.wait_for("Chain ready", Duration::from_secs(30));

    let env = |cmd: &mut Command| {
        cmd.env("BT_WALLET_PATH", dir.path())
            .env("BT_CHAIN_ENDPOINT", &endpoint)
            .env(
                "BT_MNIST_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"),
            );
    };
    let run = |args: &[&str]| {
        let mut cmd = bittensor();
        env(&mut cmd);
        let out = cmd.args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for name in ["owner", "good", "poor"] {
        run(&["wallet", "new", "--wallet_name", name, "--no_password"]);
        run(&["subnet", "faucet", "--wallet_name", name]);
    }
    let created = run(&["subnet", "create", "--wallet_name", "owner"]);
    let netuid = created.trim().rsplit(' ').next().unwrap().to_string();
    run(&["stake", "add", "--amount", "100", "--wallet_name", "owner"]);

    let neuron = |name: &str, role: &str, extra: &[&str]| {
        let mut cmd = bittensor();
        env(&mut cmd);
        cmd.args(["neuron", "mnist", "--role", role, "--netuid", &netuid])
            .args(["--wallet_name", name, "--remote_ip", "127.0.0.1"])
            .args(["--subnet_interval", "0.5"])
            .arg("--neuron_key")
            .arg(dir.path().join(format!("{name}.key")))
            .args(extra);
        Proc::spawn(&mut cmd)
    };
    let mut validator = neuron("owner", "validator", &[]);
    let mut good = neuron("good", "miner", &["--max_steps", "150"]);
    let mut poor = neuron("poor", "miner", &["--max_steps", "1"]);
    for p in [&mut validator, &mut good, &mut poor] {
        p.wait_for("serving on", Duration::from_secs(180));
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    let netuid: u16 = netuid.parse().unwrap();
    let client = rt.block_on(RpcChain::connect(&endpoint)).unwrap();
    let hotkey = |name: &str| {
        let out = run(&["wallet", "list"]);
        let mut in_wallet = false;
        for line in out.lines() {
            if !line.starts_with(' ') {
                in_wallet = line.starts_with(name);
            } else if in_wallet {
                return line.split_whitespace().nth(1).unwrap().to_string();
            }
        }
        panic!("no hotkey for {name} in {out}");
    };
    let (good_ss58, poor_ss58) = (hotkey("good"), hotkey("poor"));

    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let mg = rt.block_on(client.metagraph(netuid)).unwrap();
        let incentive_of = |ss58: &str| {
            mg.hotkeys
                .iter()
                .position(|h| h.to_ss58() == ss58)
                .map_or(0, |uid| mg.incentive[uid])
        };
        let (g, p) = (incentive_of(&good_ss58), incentive_of(&poor_ss58));
        if g > p && g > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "incentive good {g} poor {p}\nvalidator:\n{}\ngood:\n{}\npoor:\n{}",
            validator.log(),
            good.log(),
            poor.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        validator.log().contains("set_weights ok"),
        "{}",
        validator.log()
    );
}

/// The same runtime on the real chain's runtime (raonet in Chopsticks): a validator and a miner
/// started with `--subtensor.chain_endpoint` register themselves (burned, paid by their
/// coldkeys), serve at a published non-127.0.0.1 loopback address with their tensor identity as
/// a commitment, find each other through the chain, and the validator sets its weights by
/// itself. The test only makes blocks, funds accounts, creates the subnet and stakes for the
/// validator (what an owner and a delegator would do).
#[test]
fn neurons_join_a_subtensor_subnet_by_themselves() {
    use bt_subtensor::{RAO_PER_TAO, RpcConfig, Subtensor};
    use bt_testnet::chopsticks::{BlockMode, Chopsticks};
    use serde_json::json;

    let Some(exe) = Chopsticks::executable("neurons_join_a_subtensor_subnet_by_themselves") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let genesis = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bt-subtensor/tests/fixtures/raonet.json");
    let node = rt
        .block_on(Chopsticks::start(&exe, &genesis, BlockMode::Instant))
        .expect("chopsticks");
    let url = node.url().to_string();
    let chain = Arc::new(
        rt.block_on(Subtensor::connect(&url, RpcConfig::default()))
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut hot = Vec::new();
    for name in ["owner", "vali", "miner"] {
        let (c, h) = bt_crypto::wallet::Wallet::new(dir.path(), name, "default")
            .unwrap()
            .create_if_missing()
            .unwrap();
        for account in [c.account(), h.account()] {
            rt.block_on(chain.dev_set_balance(&account, 100_000 * RAO_PER_TAO))
                .unwrap();
        }
        hot.push((c, h));
    }
    let limit = rt
        .block_on(chain.storage("SubtensorModule", "NetworkRateLimit", &[]))
        .unwrap()
        .and_then(|v| v.as_u128())
        .unwrap();
    rt.block_on(chain.dev_new_blocks(u32::try_from(limit).unwrap() + 1))
        .unwrap();
    let (owner_cold, owner_hot) = &hot[0];
    rt.block_on(chain.register_network(owner_cold, &owner_hot.account()))
        .unwrap();
    let netuid = *rt.block_on(chain.subnets()).unwrap().last().unwrap();
    // An owner's test settings: short tempo, weights set directly with a one-block rate limit,
    // room for a registration per block, serving without a wait.
    rt.block_on(chain.dev_set_storage(json!({"SubtensorModule": {
        "Tempo": [[[netuid], 10]],
        "CommitRevealWeightsEnabled": [[[netuid], false]],
        "WeightsSetRateLimit": [[[netuid], 1]],
        "TargetRegistrationsPerInterval": [[[netuid], 10]],
        "ServingRateLimit": [[[netuid], 1]],
    }})))
    .unwrap();
    // Blocks keep coming, as on a live chain.
    let producer = chain.clone();
    rt.spawn(async move {
        loop {
            let _ = producer.dev_new_blocks(1).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });

    let neuron = |name: &str, role: &str, ip: &str, extra: &[&str]| {
        let mut cmd = bittensor();
        cmd.env("BT_WALLET_PATH", dir.path())
            .env_remove("BT_CHAIN_ENDPOINT")
            .env(
                "BT_MNIST_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"),
            )
            .args([
                "neuron",
                "mnist",
                "--role",
                role,
                "--netuid",
                &netuid.to_string(),
            ])
            .args(["--wallet.name", name, "--remote_ip", ip])
            .args(["--subnet_interval", "0.5"])
            .args(["--subtensor.chain_endpoint", &url])
            .args(extra)
            .arg("--neuron_key")
            .arg(dir.path().join(format!("{name}.key")));
        Proc::spawn(&mut cmd)
    };
    // subtensor refuses 127.0.0.1 as an axon address; the rest of 127/8 is loopback too.
    // The validator learns its router scores while it trains: it trains until stopped.
    let mut validator = neuron("vali", "validator", "127.0.0.2", &[]);
    validator.wait_for("serving on 127.0.0.2", Duration::from_secs(180));
    assert!(
        validator.log().contains("registered hotkey"),
        "{}",
        validator.log()
    );
    // A delegator's stake makes it a validator worth a permit (price the young pool first:
    // raonet keeps a new subnet's alpha reserve at 1 rao otherwise).
    let pool = rt
        .block_on(chain.storage(
            "SubtensorModule",
            "SubnetTAO",
            &[scale_value::Value::u128(netuid.into())],
        ))
        .unwrap()
        .and_then(|v| v.as_u128())
        .unwrap();
    rt.block_on(
        chain.dev_set_storage(
            json!({"SubtensorModule": {"SubnetAlphaIn": [[[netuid], pool as u64]]}}),
        ),
    )
    .unwrap();
    let (vali_cold, vali_hot) = &hot[1];
    rt.block_on(chain.add_stake(vali_cold, &vali_hot.account(), netuid, 1000 * RAO_PER_TAO))
        .unwrap();
    let mut miner = neuron("miner", "miner", "127.0.0.3", &["--max_steps", "30"]);
    miner.wait_for("serving on 127.0.0.3", Duration::from_secs(180));
    validator.wait_for("set_weights ok", Duration::from_secs(240));

    // The validator sets weights once per tempo: wait for a row that weighs the miner.
    let miner_hot = hot[2].1.account();
    let deadline = Instant::now() + Duration::from_secs(240);
    let (mg, v, m) = loop {
        let mg = rt.block_on(chain.metagraph(netuid, true)).unwrap();
        if let (Some(v), Some(m)) = (mg.uid_of(&vali_hot.account()), mg.uid_of(&miner_hot))
            && mg.neurons[usize::from(v)]
                .weights
                .iter()
                .any(|(uid, w)| *uid == m && *w > 0)
        {
            break (mg, v, m);
        }
        assert!(
            Instant::now() < deadline,
            "no weight on the miner\nvalidator:\n{}\nminer:\n{}",
            validator.log(),
            miner.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let axon = mg.neurons[usize::from(m)]
        .axon
        .as_ref()
        .expect("the miner's axon is on the chain");
    assert_eq!(axon.ip.to_string(), "127.0.0.3");
    assert!(axon.identity.is_some(), "its tensor identity is committed");
    assert!(mg.neurons[usize::from(v)].last_update > 0);
    drop((validator, miner));
}
