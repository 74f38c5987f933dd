//! The `bittensor` binary as a user runs it: every subcommand, the main error paths with their
//! exit codes, a 3-neuron localnet, and the CLI reference kept current.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn bittensor() -> Command {
    Command::cargo_bin("bittensor").unwrap()
}

#[test]
fn version_and_help() {
    bittensor()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("bittensor "));
    bittensor()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("localnet"));
}

#[test]
fn keys_new_then_show_and_refuse_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    let out = bittensor()
        .args(["keys", "new", "--path"])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("neuron key: "))
        .unwrap()
        .to_string();
    assert!(public.starts_with("0x") && public.len() == 66, "{public}");
    bittensor()
        .args(["keys", "show", "--path"])
        .arg(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains(public.as_str()));
    bittensor()
        .args(["keys", "new", "--path"])
        .arg(&path)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("--force"));
}

#[test]
fn bad_key_file_is_exit_code_4() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.key");
    std::fs::write(&path, "not json").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    bittensor()
        .args(["keys", "show", "--path"])
        .arg(&path)
        .assert()
        .code(4);
}

#[test]
fn consensus_simulate_example_scenario() {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bt-consensus/examples/scenario.json"
    );
    bittensor()
        .args(["consensus", "simulate", scenario, "--format", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("incentive"));
    bittensor()
        .args(["consensus", "simulate", "/nonexistent.json"])
        .assert()
        .code(6);
}

#[test]
fn bad_settings_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("n.toml");
    std::fs::write(&cfg, "axon_prot = 1\n").unwrap();
    bittensor()
        .args(["neuron", "echo", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("axon_prot"));
    bittensor()
        .args(["neuron", "echo", "--gossip_interval=0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--gossip_interval"));
    // The chain flags come as a set.
    bittensor()
        .args(["neuron", "mnist", "--chain_endpoint", "127.0.0.1:1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--role"));
    bittensor()
        .args(["neuron", "mnist", "--netuid", "1", "--role", "miner"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--chain_endpoint"));
    let wallets = dir.path().join("wallets");
    bittensor()
        .args(["neuron", "mnist", "--chain_endpoint", "127.0.0.1:1"])
        .args([
            "--netuid",
            "1",
            "--role",
            "miner",
            "--wallet_name",
            "nobody",
        ])
        .env("BT_WALLET_PATH", &wallets)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("bittensor wallet new"));
    // Remote learning is an MNIST gossip neuron's option, with checked numbers.
    bittensor()
        .args(["neuron", "echo", "--remote_learning"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--remote_learning"));
    bittensor()
        .args([
            "neuron",
            "mnist",
            "--remote_learning",
            "--remote_grad_scale=0",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--remote_grad_scale"));
    bittensor()
        .args(["stake", "add", "--amount", "-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--amount"));
}

#[test]
fn metagraph_inspect_of_nothing_is_unreachable() {
    let port = bt_testnet::free_port().unwrap();
    bittensor()
        .args([
            "metagraph",
            "inspect",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "2",
        ])
        .assert()
        .code(5);
}

/// Starts `bittensor neuron echo` and returns it with its ready line's fields.
fn start_echo(dir: &std::path::Path, extra: &[&str]) -> (std::process::Child, String, String) {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("bittensor"))
        .args([
            "neuron",
            "echo",
            "--remote_ip",
            "127.0.0.1",
            "--gossip_interval",
            "0.5",
        ])
        .arg("--neuron_key")
        .arg(dir.join("neuron.key"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = loop {
        let line = lines.next().expect("echo neuron exited early").unwrap();
        if let Some(bt_neuron::report::Event::Ready(r)) = bt_neuron::report::parse(&line) {
            break r;
        }
    };
    (child, ready.axon, ready.metagraph)
}

fn interrupt(child: &mut std::process::Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "neuron did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn echo_neuron_is_inspectable_and_port_in_use_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, axon, metagraph) = start_echo(dir.path(), &[]);
    let out = bittensor()
        .args(["metagraph", "inspect", &metagraph, "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let row = &rows.as_array().unwrap()[0];
    assert_eq!(
        format!("127.0.0.1:{}", row["port"]),
        axon,
        "the metagraph announces the axon"
    );
    assert!(row["synapse_key"].as_str().unwrap().starts_with("0x"));
    let port = axon.rsplit(':').next().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    bittensor()
        .args([
            "neuron",
            "echo",
            "--remote_ip",
            "127.0.0.1",
            "--axon_port",
            port,
        ])
        .arg("--neuron_key")
        .arg(dir2.path().join("k"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--axon_port"));
    interrupt(&mut child);
}

/// The highest `nP|nS` (as `10·nS + nP`) each node of a `localnet --plain` log reached, every
/// training line's losses checked finite on the way.
fn best_counts<const N: usize>(log: &str) -> [usize; N] {
    let mut best = [0usize; N];
    for line in log.lines() {
        let Some((node, rest)) = line.strip_prefix("[n").and_then(|l| l.split_once("] ")) else {
            continue;
        };
        let node: usize = node.parse().unwrap();
        if let Some(bt_neuron::report::Event::Train(t)) = bt_neuron::report::parse(rest) {
            assert!(t.local_loss.is_finite() && t.network_loss.is_finite());
            best[node] = best[node].max(t.synapses * 10 + t.peers);
        }
    }
    best
}

/// Runs `localnet --plain` with `args` in `dir` and returns its log, having checked it succeeded.
fn localnet_log(args: &[&str], dir: &std::path::Path, env: impl FnOnce(&mut Command)) -> String {
    let mut cmd = bittensor();
    cmd.arg("localnet")
        .args(args)
        .args(["--plain", "--dir"])
        .arg(dir);
    env(&mut cmd);
    let out = cmd
        .timeout(Duration::from_secs(900))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn localnet_of_three_trains_together() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--neurons",
        "3",
        "--max_steps",
        "30",
        "--gossip_interval",
        "0.5",
    ];
    let text = localnet_log(&args, dir.path(), |cmd| {
        cmd.env(
            "BT_MNIST_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"),
        );
    });
    // nP|nS reaches 2|3 on every neuron: each found both others.
    assert_eq!(best_counts::<3>(&text), [32, 32, 32], "log:\n{text}");
    for node in 0..3 {
        assert!(
            dir.path()
                .join(format!("node{node}/model.safetensors"))
                .exists()
        );
    }
    assert!(text.contains("Test Epoch: 0"), "{text}");
}

/// The CIFAR neuron on the same runtime: `--model cifar` (generated shapes, as no CIFAR-10 copy
/// is here) trains on both nodes, each finds the other and calls it, and each saves a CIFAR
/// checkpoint that loads as one.
#[test]
fn localnet_of_cifar_neurons_trains_together() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--model", "cifar", "--neurons", "2", "--max_steps", "6"];
    let text = localnet_log(&args, dir.path(), |cmd| {
        cmd.args(["--gossip_interval", "0.5"])
            .env_remove("BT_CIFAR_DIR");
    });
    // nP|nS reaches 1|2 on both neurons: each found the other.
    assert_eq!(best_counts::<2>(&text), [21, 21], "log:\n{text}");
    assert!(text.contains("Test Epoch: 0"), "{text}");
    for node in 0..2 {
        let path = dir.path().join(format!("node{node}/model.safetensors"));
        let (_, state) = bt_nn::checkpoint::load::<bt_nn::CifarModel>(&path).unwrap();
        assert_eq!(state.step, 6, "node {node}");
        assert!(bt_nn::checkpoint::load::<bt_nn::MnistModel>(&path).is_err());
    }
}

/// The text neuron on the same runtime: `--model text` makes node 0 a MiniLM teacher and the
/// others text learners. The learners find the teacher and each other, the teacher answers
/// their requests (token ids in, sentence embeddings out), their students distil
/// its answers, and each saves a text checkpoint. Needs MiniLM and Debian's fortunes.
#[test]
fn localnet_of_text_neurons_learns_from_a_minilm_teacher() {
    if bt_nn::text::MinilmFiles::locate_or_skip("localnet of text neurons")
        .unwrap()
        .is_none()
    {
        return;
    }
    let fortunes = std::path::Path::new(bt_nn::text::files::DEBIAN_FORTUNES_DIR);
    if !fortunes.join("cookie").is_file() {
        assert!(
            std::env::var("BT_REQUIRE_MINILM").as_deref() != Ok("1"),
            "Debian's fortunes are missing"
        );
        eprintln!("skipping: no Debian fortunes (apt-get install fortunes)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let steps = 12;
    let args = ["--model", "text", "--neurons", "3", "--max_steps", "12"];
    let text = localnet_log(&args, dir.path(), |cmd| {
        cmd.args(["--gossip_interval", "1"]);
    });
    // The teacher trains nothing; each learner finds at least one peer before its last step
    // (all two when the machine is quiet; a loaded one may finish before the second gossip).
    let best = best_counts::<3>(&text);
    assert_eq!(best[0], 0, "log:\n{text}");
    assert!(
        best[1..].iter().all(|b| b % 10 >= 1),
        "{best:?} log:\n{text}"
    );
    let answered = text
        .lines()
        .find_map(|l| l.strip_prefix("[n0] Teacher answered "))
        .unwrap_or_else(|| panic!("the teacher reports what it served:\n{text}"));
    let mut words = answered.split_whitespace();
    let ok: u64 = words.next().unwrap().parse().unwrap();
    let total: u64 = words.nth(1).unwrap().parse().unwrap();
    // Answered, all of them when the machine is quiet; a loaded one may see a learner give
    // up on a late answer at its deadline.
    assert!(ok > 0 && ok <= total, "{answered}\nlog:\n{text}");
    let distilled = text.lines().any(|l| {
        matches!(
            bt_neuron::report::parse(l.split_once("] ").map_or(l, |(_, r)| r)),
            Some(bt_neuron::report::Event::Train(t)) if t.distillation_loss > 0.0
        )
    });
    assert!(distilled, "a learner's student distils the teacher: {text}");
    // A learner with peers also reports its network path's test accuracy.
    let network_tested = text.lines().any(|l| {
        matches!(
            bt_neuron::report::parse(l.split_once("] ").map_or(l, |(_, r)| r)),
            Some(bt_neuron::report::Event::NetworkTest(t)) if t.0.total > 0
        )
    });
    assert!(network_tested, "a learner tests its network path: {text}");
    for node in 1..3 {
        let path = dir.path().join(format!("node{node}/model.safetensors"));
        let (_, state) = bt_nn::checkpoint::load::<bt_nn::text::TextModel>(&path).unwrap();
        assert_eq!(state.step, steps, "node {node}");
        assert!(bt_nn::checkpoint::load::<bt_nn::MnistModel>(&path).is_err());
    }
    assert!(!dir.path().join("node0/model.safetensors").exists());
}

#[test]
fn local_chain_subnet_and_wallet_flow() {
    let dir = tempfile::tempdir().unwrap();
    let port = bt_testnet::free_port().unwrap().to_string();
    let mut node = StdCommand::new(assert_cmd::cargo::cargo_bin("bittensor"))
        .args([
            "chain",
            "start",
            "--instant",
            "--dev",
            "--tempo",
            "2",
            "--port",
            &port,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let ready = lines.next().expect("chain exited early").unwrap();
    assert!(ready.starts_with("Chain ready"), "{ready}");
    let endpoint = format!("127.0.0.1:{port}");
    let run = |args: &[&str]| {
        bittensor()
            .args(args)
            .env("BT_WALLET_PATH", dir.path())
            .env("BT_CHAIN_ENDPOINT", &endpoint)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    for name in ["owner", "miner"] {
        run(&["wallet", "new", "--wallet_name", name, "--no_password"]);
        run(&["subnet", "faucet", "--wallet_name", name]);
    }
    let created = String::from_utf8(run(&["subnet", "create", "--wallet_name", "owner"])).unwrap();
    let netuid = created.trim().rsplit(' ').next().unwrap().to_string();
    let registered = String::from_utf8(run(&[
        "subnet",
        "register",
        "--netuid",
        &netuid,
        "--wallet_name",
        "miner",
    ]))
    .unwrap();
    assert!(registered.contains("as uid 1"), "{registered}");
    let mg = String::from_utf8(run(&["subnet", "metagraph", "--netuid", &netuid])).unwrap();
    assert!(mg.contains("2 neurons, tempo 2"), "{mg}");
    let mg: serde_json::Value = serde_json::from_slice(&run(&[
        "subnet",
        "metagraph",
        "--netuid",
        &netuid,
        "--json",
    ]))
    .unwrap();
    assert_eq!(mg["n"], 2, "{mg}");
    assert_eq!(mg["neurons"][1]["uid"], 1, "{mg}");
    let subnets: serde_json::Value =
        serde_json::from_slice(&run(&["subnet", "list", "--json"])).unwrap();
    let listed = subnets.as_array().unwrap();
    let ours = listed
        .iter()
        .find(|s| s["netuid"].as_u64().map(|v| v.to_string()).as_deref() == Some(netuid.as_str()))
        .expect("listed");
    assert_eq!(
        (ours["n"].as_u64(), ours["tempo"].as_u64()),
        (Some(2), Some(2)),
        "{subnets}"
    );
    // The same wallet commands as on subtensor, on the embedded chain.
    let balance = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&run(&[
            "wallet",
            "balance",
            "--wallet.name",
            name,
            "--json",
        ]))
        .unwrap()
    };
    let miner = balance("miner");
    let dest = miner["coldkey"].as_str().unwrap().to_string();
    run(&[
        "wallet",
        "transfer",
        "--wallet.name",
        "owner",
        "--dest",
        &dest,
        "--amount",
        "0.5",
        "--no_prompt",
    ]);
    assert_eq!(
        balance("miner")["free_rao"].as_u64().unwrap(),
        miner["free_rao"].as_u64().unwrap() + 500_000_000
    );
    let overview: serde_json::Value = serde_json::from_slice(&run(&[
        "wallet",
        "overview",
        "--wallet.name",
        "miner",
        "--json",
    ]))
    .unwrap();
    assert_eq!(overview["neurons"][0]["uid"], 1, "{overview}");
    let listed = String::from_utf8(run(&["wallet", "list"])).unwrap();
    assert!(
        listed.contains("owner") && listed.contains("miner"),
        "{listed}"
    );
    // A wallet that does not exist is a key error that says how to create it.
    bittensor()
        .args(["subnet", "faucet", "--wallet_name", "nobody"])
        .env("BT_WALLET_PATH", dir.path())
        .env("BT_CHAIN_ENDPOINT", &endpoint)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("wallet new"));
    interrupt(&mut node);
}

/// `docs/cli.md` is `--help` of every command; regenerate with `BT_UPDATE_DOCS=1`.
#[test]
fn cli_reference_is_current() {
    let commands: &[&[&str]] = &[
        &[],
        &["neuron"],
        &["localnet"],
        &["dashboard"],
        &["metagraph", "inspect"],
        &["keys", "new"],
        &["keys", "show"],
        &["consensus", "simulate"],
        &["chain", "start"],
        &["subnet", "create"],
        &["subnet", "register"],
        &["subnet", "list"],
        &["subnet", "metagraph"],
        &["subnet", "hparams"],
        &["subnet", "faucet"],
        &["wallet", "create"],
        &["wallet", "new_coldkey"],
        &["wallet", "new_hotkey"],
        &["wallet", "regen_coldkey"],
        &["wallet", "regen_hotkey"],
        &["wallet", "list"],
        &["wallet", "sign"],
        &["wallet", "balance"],
        &["wallet", "overview"],
        &["wallet", "transfer"],
        &["stake", "add"],
        &["stake", "remove"],
        &["synapse", "query"],
        &["synapse", "serve"],
    ];
    let mut doc = String::from(
        "# `bittensor` command reference\n\nGenerated from `--help` by \
         `BT_UPDATE_DOCS=1 cargo test -p bt-cli --test cli cli_reference_is_current`; \
         a test fails when it is out of date.\n",
    );
    for cmd in commands {
        let out = bittensor()
            .args(*cmd)
            .arg("--help")
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert!(out.status.success());
        let title = if cmd.is_empty() {
            "bittensor".to_string()
        } else {
            format!("bittensor {}", cmd.join(" "))
        };
        doc.push_str(&format!(
            "\n## `{title}`\n\n```text\n{}```\n",
            String::from_utf8(out.stdout).unwrap()
        ));
    }
    doc.push_str(
        "\n## Exit codes\n\n| code | meaning |\n|---|---|\n| 0 | success |\n| 1 | other failure |\n\
         | 2 | bad command line, configuration file or setting |\n\
         | 3 | a port could not be bound (the message names the flag) |\n\
         | 4 | a key file is missing, unreadable or malformed, or its password is wrong or not given |\n\
         | 5 | a metagraph, peer or chain could not be reached |\n\
         | 6 | a dataset, scenario or checkpoint could not be read |\n\
         | 7 | the neuron key is in use by another running neuron (the message names \
         `--neuron_key`; nothing was written) |\n\
         | 130 | stopped by Ctrl-C or SIGTERM after saving state |\n",
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md");
    if std::env::var_os("BT_UPDATE_DOCS").is_some() {
        std::fs::write(path, &doc).unwrap();
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == doc,
        "docs/cli.md is out of date: run BT_UPDATE_DOCS=1 cargo test -p bt-cli --test cli"
    );
}
