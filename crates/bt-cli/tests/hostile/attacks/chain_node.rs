//! A `bittensor chain start` process for the chain attacks, and an honest client reading it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bt_chain::{NodeClient, RpcChain};
use bt_testnet::process::{ChildProcess, Line, Stream};

use super::target::bittensor;

pub struct ChainNode {
    pub process: ChildProcess,
    /// `ws://host:port`.
    pub endpoint: String,
    pub db: Option<PathBuf>,
}

impl ChainNode {
    /// `bittensor chain start --instant --port 0` plus `extra`, with a database under `dir`
    /// if given.
    pub async fn start(name: &str, dir: Option<&Path>, extra: &[&str]) -> Self {
        let db = dir.map(|d| d.join(format!("{name}.redb")));
        let mut cmd = bittensor();
        cmd.args(["chain", "start", "--instant", "--port", "0"])
            .args(extra);
        if let Some(db) = &db {
            cmd.arg("--db").arg(db);
        }
        let mut process = ChildProcess::spawn(name, cmd).unwrap();
        let endpoint = process
            .wait_for_line(0, Duration::from_secs(60), |l: &Line| {
                let ep = l.text.strip_prefix("Chain ready  endpoint: ")?;
                (l.stream == Stream::Stdout).then(|| ep.trim().to_string())
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            process,
            endpoint,
            db,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.id().unwrap()
    }

    pub async fn client(&self) -> RpcChain {
        RpcChain::connect(&self.endpoint).await.unwrap()
    }

    /// Bytes of the database file now (0 in memory).
    pub fn db_bytes(&self) -> u64 {
        self.db
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// An honest reader: the head header, answered within 2 s.
    pub async fn honest_caller(
        &self,
    ) -> impl FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + 'static
    {
        let chain = Arc::new(self.client().await);
        move || {
            let chain = chain.clone();
            Box::pin(async move {
                matches!(
                    tokio::time::timeout(Duration::from_secs(2), chain.block(None)).await,
                    Ok(Ok(Some(_)))
                )
            })
        }
    }
}
