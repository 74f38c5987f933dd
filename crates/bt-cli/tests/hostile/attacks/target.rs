//! Starting the processes the attacks aim at, and the honest clients that keep calling them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bt_crypto::wallet::{AccountId, Sr25519Pair, Wallet};
use bt_dendrite::http::{AxonTarget, HttpAuth, HttpDendrite, HttpDendriteConfig};
use bt_http::builtin::Dummy;
use bt_testnet::process::{ChildProcess, Line, Stream};

pub fn bittensor() -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_bittensor"))
}

/// A hotkey of an unencrypted wallet `name` under `wallets`, made if missing.
pub fn hotkey(wallets: &Path, name: &str) -> Sr25519Pair {
    let wallet = Wallet::new(wallets, name, "default").unwrap();
    wallet.create_if_missing().unwrap();
    wallet.hotkey().unwrap()
}

/// A `bittensor synapse serve --name Dummy` process, its address and hotkey.
pub struct DummyAxon {
    pub process: ChildProcess,
    pub addr: String,
    pub hotkey: String,
}

impl DummyAxon {
    pub async fn start(wallets: &Path, extra: &[&str]) -> Self {
        hotkey(wallets, "axon");
        let mut cmd = bittensor();
        cmd.args(["synapse", "serve", "--name", "Dummy", "--port", "0"])
            .arg("--wallet.path")
            .arg(wallets)
            .args(["--wallet.name", "axon"])
            .args(extra);
        let mut process = ChildProcess::spawn("axon", cmd).unwrap();
        let (addr, hotkey) = process
            .wait_for_line(0, Duration::from_secs(60), |l: &Line| {
                let (_, rest) = l.text.strip_prefix("serving ")?.split_once(" on http://")?;
                let (addr, hotkey) = rest.split_once(" as hotkey ")?;
                (l.stream == Stream::Stdout).then(|| (addr.to_string(), hotkey.to_string()))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            process,
            addr,
            hotkey,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.id().unwrap()
    }

    /// An honest caller: `Dummy` with the SDK v10 signature, answered 2× its input within 2 s.
    pub fn honest_caller(
        &self,
        wallets: &Path,
        auth: HttpAuth,
    ) -> impl FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + 'static
    {
        let dendrite = HttpDendrite::new(
            Arc::new(hotkey(wallets, "honest")),
            HttpDendriteConfig {
                auth,
                ..HttpDendriteConfig::default()
            },
        );
        let target = AxonTarget {
            addr: self.addr.parse().unwrap(),
            hotkey: AccountId::from_ss58(&self.hotkey).unwrap(),
        };
        let mut i = 0i64;
        move || {
            i += 1;
            let (dendrite, target, input) = (dendrite.clone(), target.clone(), i);
            Box::pin(async move {
                let s = Dummy {
                    dummy_input: input,
                    dummy_output: None,
                };
                let (answer, outcome) = dendrite.call(&target, s, Duration::from_secs(2)).await;
                outcome.is_success() && answer.dummy_output == Some(2 * input)
            })
        }
    }
}
