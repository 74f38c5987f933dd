//! Wallets shared with the real Python package, both ways: keys bittensor-wallet writes load
//! here and sign what Python verifies; keys written here load in `bittensor_wallet.Wallet` and
//! sign what we verify.
//!
//! Needs a Python with the SDK: `BT_SDK_PYTHON=/path/to/python` (bittensor 10.5.0, which brings
//! bittensor-wallet 4.1.1). Without it the tests say they are skipped and pass, unless
//! `BT_REQUIRE_SDK=1`, which turns a missing interpreter into a failure (for CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bt_crypto::wallet::{AccountId, Sr25519Pair, Wallet};

const MESSAGE: &[u8] = b"bittensor-rs <-> bittensor-wallet interop";

fn sdk_python() -> Option<PathBuf> {
    match std::env::var_os("BT_SDK_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var("BT_REQUIRE_SDK").as_deref() != Ok("1"),
                "BT_REQUIRE_SDK=1 but BT_SDK_PYTHON is not set: set it to a python with \
                 bittensor==10.5.0"
            );
            println!("skipped: set BT_SDK_PYTHON to a python with bittensor==10.5.0");
            None
        }
    }
}

/// Runs `script` with `args`; its last line of output is JSON.
fn run_python(python: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    serde_json::from_str(last.unwrap_or_default())
        .unwrap_or_else(|e| panic!("python printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

fn verify_in_python(python: &Path, account: &AccountId, sig: &[u8; 64]) -> bool {
    let script = r#"
import json, sys
from bittensor_wallet import Keypair
kp = Keypair(ss58_address=sys.argv[1])
print(json.dumps({"ok": kp.verify(bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]))}))
"#;
    let v = run_python(
        python,
        script,
        &[&account.to_ss58(), &hex::encode(MESSAGE), &hex::encode(sig)],
    );
    v["ok"].as_bool().unwrap()
}

#[test]
fn keys_made_by_python_load_and_sign_in_rust() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let script = r#"
import json, sys
from bittensor_wallet import Wallet
root = sys.argv[1]
w = Wallet(name="py", hotkey="hot", path=root)
w.create_new_coldkey(use_password=False, overwrite=True, suppress=True)
w.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
uri = Wallet(name="py", hotkey="uri", path=root)
uri.create_hotkey_from_uri("//Charlie", use_password=False, overwrite=True, suppress=True)
print(json.dumps({
    "coldkey": w.coldkeypub.ss58_address,
    "hot": w.hotkey.ss58_address,
    "uri": uri.hotkey.ss58_address,
}))
"#;
    let made = run_python(&python, script, &[root]);

    let wallet = Wallet::new(dir.path(), "py", "hot").unwrap();
    let cold = wallet.coldkey().unwrap();
    assert_eq!(cold.ss58(), made["coldkey"].as_str().unwrap());
    assert_eq!(wallet.coldkeypub().unwrap(), cold.account());
    for (hotkey, field) in [("hot", "hot"), ("uri", "uri")] {
        let pair = Wallet::new(dir.path(), "py", hotkey)
            .unwrap()
            .hotkey()
            .unwrap();
        assert_eq!(pair.ss58(), made[field].as_str().unwrap(), "{hotkey}");
        let sig = pair.sign(MESSAGE);
        assert!(verify_in_python(&python, &pair.account(), &sig), "{hotkey}");
    }
    let sig = cold.sign(MESSAGE);
    assert!(verify_in_python(&python, &cold.account(), &sig));
}

#[test]
fn keys_written_by_rust_load_and_sign_in_python() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wallet = Wallet::new(dir.path(), "rs", "hot").unwrap();
    let (cold, hot) = wallet.create_if_missing().unwrap();
    // A key from a phrase and one known only by its expanded secret, as Python makes them.
    let phrase = "legal winner thank year wave sausage worth useful legal winner thank yellow";
    let from_phrase = Sr25519Pair::from_phrase(phrase, "").unwrap();
    from_phrase
        .save(dir.path().join("rs/hotkeys/phrase"))
        .unwrap();
    let expanded = Sr25519Pair::from_private_key(&{
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("rs/hotkeys/hot")).unwrap())
                .unwrap();
        let mut key = [0u8; 64];
        hex::decode_to_slice(&file["privateKey"].as_str().unwrap()[2..], &mut key).unwrap();
        key
    })
    .unwrap();
    expanded
        .save(dir.path().join("rs/hotkeys/expanded"))
        .unwrap();

    let script = r#"
import json, sys
from bittensor_wallet import Wallet
root, msg = sys.argv[1], bytes.fromhex(sys.argv[2])
out = {}
w = Wallet(name="rs", hotkey="hot", path=root)
out["coldkey"] = [w.coldkey.ss58_address, w.coldkey.sign(msg).hex()]
out["coldkeypub"] = w.coldkeypub.ss58_address
out["hotkeypub"] = w.hotkeypub.ss58_address
for name in ["hot", "phrase", "expanded"]:
    kp = Wallet(name="rs", hotkey=name, path=root).hotkey
    out[name] = [kp.ss58_address, kp.sign(msg).hex()]
print(json.dumps(out))
"#;
    let got = run_python(
        &python,
        script,
        &[dir.path().to_str().unwrap(), &hex::encode(MESSAGE)],
    );
    assert_eq!(got["coldkeypub"].as_str().unwrap(), cold.ss58());
    assert_eq!(got["hotkeypub"].as_str().unwrap(), hot.ss58());
    for (name, pair) in [
        ("coldkey", &cold),
        ("hot", &hot),
        ("phrase", &from_phrase),
        ("expanded", &expanded),
    ] {
        let entry = got[name].as_array().unwrap();
        assert_eq!(entry[0].as_str().unwrap(), pair.ss58(), "{name}");
        let sig = hex::decode(entry[1].as_str().unwrap()).unwrap();
        pair.account()
            .verify(MESSAGE, &sig)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(expanded.account(), hot.account());
}
