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
