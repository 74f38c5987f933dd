//! `bittensor wallet …` as a user and a script meet it, through the real binary: encrypted
//! coldkeys (`$NACL`, password from `BT_COLDKEY_PASSWORD`), wrong passwords, regeneration from
//! the printed mnemonic, stdin that is not a terminal, `--overwrite`; and interop with the
//! Python `bittensor-wallet` both ways (needs `BT_SDK_PYTHON`, as `sdk_interop.rs`).
//!
//! Every encryption or decryption costs an Argon2i run over 512 MiB (seconds), so the tests do
//! few of them and take turns ([`ARGON`]) rather than run several at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use bt_crypto::wallet::{AccountId, read_public_key_file};

/// Serialises the tests that derive keys from passwords (512 MiB each).
static ARGON: Mutex<()> = Mutex::new(());

const PASSWORD: &str = "correct horse battery 7";
/// Generous: an Argon2i run takes seconds, more on a loaded machine; a hang would take forever.
const TIMEOUT: Duration = Duration::from_secs(180);
/// No chain listens here: commands that load keys and then connect fail with exit code 5
/// (unreachable) only after the keys loaded, and with 4 when a key did not.
const NO_CHAIN: &str = "127.0.0.1:1";

/// Runs the binary with stdin closed (never a terminal) and the wallet variables cleared, and
/// kills it if it has not finished within [`TIMEOUT`]: a prompt that waits is a failure.
fn run(root: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bittensor"));
    cmd.args(args)
        .env("BT_WALLET_PATH", root)
        .env_remove("BT_WALLET_NAME")
        .env_remove("BT_WALLET_HOTKEY")
        .env_remove("BT_COLDKEY_PASSWORD")
        .env("BT_CHAIN_ENDPOINT", NO_CHAIN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(pw) = password {
        cmd.env("BT_COLDKEY_PASSWORD", pw);
    }
    let child = cmd.spawn().unwrap();
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!(
                "`bittensor {}` did not finish in {TIMEOUT:?}",
                args.join(" ")
            );
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The value after `label: ` on a line of `stdout`.
fn field(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no `{label}:` line in {stdout}"))
        .trim()
        .to_string()
}

/// The mnemonic a creation printed: the line of 12 or more words.
fn mnemonic(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| {
            l.split(' ').count() >= 12 && l.chars().all(|c| c.is_ascii_lowercase() || c == ' ')
        })
        .unwrap_or_else(|| panic!("no mnemonic in {stdout}"))
        .to_string()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn encrypted_coldkey_round_trip_wrong_password_and_regen() {
    let _turn = ARGON.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let out = ok(run(
        root,
        &["wallet", "create", "--wallet.name", "w"],
        Some(PASSWORD),
    ));
    let cold = field(&out, "coldkey");
    let phrase = mnemonic(&out);

    let wallet = root.join("w");
    let coldkey = std::fs::read(wallet.join("coldkey")).unwrap();
    assert!(coldkey.starts_with(b"$NACL"), "coldkey is not $NACL");
    assert_eq!(mode(&wallet.join("coldkey")), 0o600);
    assert_eq!(mode(&wallet), 0o700);
    assert_eq!(
        read_public_key_file(wallet.join("coldkeypub.txt")).unwrap(),
        AccountId::from_ss58(&cold).unwrap()
    );
    // The hotkey is in the clear by default, as btcli writes it.
    let hot = std::fs::read(wallet.join("hotkeys/default")).unwrap();
    assert!(hot.starts_with(b"{"), "{}", text(&hot));
    assert_eq!(mode(&wallet.join("hotkeys/default")), 0o600);

    // A wrong password: a key error naming it, nothing on disk changed.
    let before = snapshot(root);
    let wrong = run(
        root,
        &["subnet", "faucet", "--wallet.name", "w"],
        Some("not it"),
    );
    assert_eq!(wrong.status.code(), Some(4), "{}", text(&wrong.stderr));
    assert!(
        text(&wrong.stderr).contains("wrong password"),
        "{}",
        text(&wrong.stderr)
    );
    // No password and no terminal: told what to set, at once.
    let none = run(root, &["subnet", "faucet", "--wallet.name", "w"], None);
    assert_eq!(none.status.code(), Some(4), "{}", text(&none.stderr));
    assert!(
        text(&none.stderr).contains("BT_COLDKEY_PASSWORD"),
        "{}",
        text(&none.stderr)
    );
    assert_eq!(snapshot(root), before);

    // The right password opens it: signing proves the key, not just its public file.
    let signed = ok(run(
        root,
        &["wallet", "sign", "--wallet.name", "w", "--message", "hi"],
        Some(PASSWORD),
    ));
    let line = signed
        .lines()
        .find(|l| l.starts_with("signed by "))
        .unwrap();
    let (who, sig) = line["signed by ".len()..].split_once(": ").unwrap();
    assert_eq!(who, cold);
    let sig = hex_decode(sig);
    AccountId::from_ss58(&cold)
        .unwrap()
        .verify(b"hi", &sig)
        .unwrap();

    // The printed mnemonic regenerates the same coldkey (here without a password).
    let regen = ok(run(
        root,
        &[
            "wallet",
            "regen_coldkey",
            "--wallet.name",
            "again",
            "--mnemonic",
            &phrase,
            "--no_password",
        ],
        None,
    ));
    assert_eq!(field(&regen, "coldkey regenerated"), cold);
}

fn hex_decode(s: &str) -> Vec<u8> {
    hex::decode(s.trim().trim_start_matches("0x")).unwrap()
}

#[test]
fn creating_an_encrypted_key_without_terminal_or_password_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["wallet", "create", "--wallet.name", "w"],
        None,
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("BT_COLDKEY_PASSWORD") && err.contains("--no_password"),
        "{err}"
    );
    assert!(!dir.path().join("w/coldkey").exists());
    let out = run(
        dir.path(),
        &["wallet", "new_coldkey", "--wallet.name", "w", "--no_prompt"],
        None,
    );
    assert!(
        text(&out.stderr).contains("--no_prompt"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("w/coldkey").exists());
}

#[test]
fn existing_keys_are_replaced_only_with_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let first = ok(run(
        root,
        &["wallet", "new", "--wallet.name", "w", "--no_password"],
        None,
    ));
    let cold = field(&first, "coldkey");
    let before = snapshot(root);
    for extra in [&[][..], &["--no_prompt"][..]] {
        let mut args = vec!["wallet", "create", "--wallet.name", "w", "--no_password"];
        args.extend(extra);
        let again = run(root, &args, None);
        assert_eq!(again.status.code(), Some(4), "{}", text(&again.stderr));
        assert!(
            text(&again.stderr).contains("--overwrite"),
            "{}",
            text(&again.stderr)
        );
        assert_eq!(snapshot(root), before);
    }
    let replaced = ok(run(
        root,
        &[
            "wallet",
            "new_coldkey",
            "--wallet.name",
            "w",
            "--no_password",
            "--overwrite",
            "--n_words",
            "24",
        ],
        None,
    ));
    assert_eq!(mnemonic(&replaced).split(' ').count(), 24);
    let new_cold = field(&replaced, "coldkey");
    assert_ne!(new_cold, cold);
    assert_eq!(
        read_public_key_file(root.join("w/coldkeypub.txt"))
            .unwrap()
            .to_ss58(),
        new_cold
    );
    // Another hotkey beside the first; the listing shows both, and the plaintext coldkey
    // still loads, with a warning that suggests encrypting it.
    ok(run(
        root,
        &[
            "wallet",
            "new_hotkey",
            "--wallet_name",
            "w",
            "--wallet-hotkey",
            "h2",
        ],
        None,
    ));
    let listed = ok(run(root, &["wallet", "list"], None));
    assert!(
        listed.contains("default") && listed.contains("h2"),
        "{listed}"
    );
    let faucet = run(root, &["subnet", "faucet", "--wallet.name", "w"], None);
    assert_eq!(faucet.status.code(), Some(5), "{}", text(&faucet.stderr));
    assert!(
        text(&faucet.stderr).contains("regen_coldkey"),
        "{}",
        text(&faucet.stderr)
    );
}

fn sdk_python() -> Option<PathBuf> {
    match std::env::var_os("BT_SDK_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("BT_REQUIRE_SDK").as_deref() == Ok("1") => {
            panic!("BT_REQUIRE_SDK=1 but BT_SDK_PYTHON is not set")
        }
        None => {
            eprintln!("skipped: set BT_SDK_PYTHON to a python with bittensor-wallet");
            None
        }
    }
}

/// `tests/sdk/sdk_wallet.py OP --path P …` with the password in its environment; the JSON it
/// prints last.
fn sdk_wallet(py: &Path, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/sdk_wallet.py");
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .env("BT_COLDKEY_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = ok(out);
    let last = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap();
    serde_json::from_str(last).unwrap()
}

#[test]
fn encrypted_coldkeys_cross_between_us_and_bittensor_wallet() {
    let Some(py) = sdk_python() else { return };
    let _turn = ARGON.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();

    // Ours → bittensor-wallet.
    let made = ok(run(
        root,
        &["wallet", "new_coldkey", "--wallet.name", "rs"],
        Some(PASSWORD),
    ));
    let ours = field(&made, "coldkey");
    let path = root.join("rs/coldkey");
    let opened = sdk_wallet(&py, &["open", "--path", path.to_str().unwrap()]);
    assert_eq!(opened["ss58"], ours.as_str());

    // bittensor-wallet → ours.
    let phrase = "legal winner thank year wave sausage worth useful legal winner thank yellow";
    let path = root.join("py/coldkey");
    let sealed = sdk_wallet(
        &py,
        &[
            "seal",
            "--path",
            path.to_str().unwrap(),
            "--mnemonic",
            phrase,
        ],
    );
    let theirs = sealed["ss58"].as_str().unwrap().to_string();
    let signed = ok(run(
        root,
        &["wallet", "sign", "--wallet.name", "py", "--message", "m"],
        Some(PASSWORD),
    ));
    let line = signed
        .lines()
        .find(|l| l.starts_with("signed by "))
        .unwrap();
    let (who, sig) = line["signed by ".len()..].split_once(": ").unwrap();
    assert_eq!(who, theirs);
    AccountId::from_ss58(who)
        .unwrap()
        .verify(b"m", &hex_decode(sig))
        .unwrap();
}
