//! kill -9 at a random moment, restart, and check that (1) no block a client saw finalized is
//! lost and (2) the stored state equals a replay of the stored blocks from genesis.
//!
//! The test binary re-executes itself (`std::env::current_exe()`) with `BT_CHAIN_CHILD_DB` set:
//! in that mode it is a chain node writing to that database, a real process to SIGKILL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_chain::store::Store;
use bt_chain::{
    BlockMode, ChainNode, Genesis, Keypair, NodeClient, NodeClientExt, NodeConfig, RpcChain,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ENV_DB: &str = "BT_CHAIN_CHILD_DB";
const ENV_ADDR: &str = "BT_CHAIN_CHILD_ADDR_FILE";

fn genesis() -> Genesis {
    Genesis::local_dev(5)
}

fn child_main(db: PathBuf, addr_file: PathBuf) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let mut cfg = NodeConfig::new(genesis());
        cfg.db = Some(db);
        cfg.mode = BlockMode::Interval(Duration::from_millis(15));
        cfg.rpc_addr = "127.0.0.1:0".parse().unwrap();
        let node = ChainNode::start(cfg).await.unwrap();
        let tmp = addr_file.with_extension("tmp");
        std::fs::write(&tmp, node.local_addr().to_string()).unwrap();
        std::fs::rename(&tmp, &addr_file).unwrap();
        // Run until killed.
        std::future::pending::<()>().await;
    });
}

fn spawn(db: &Path, addr_file: &Path) -> Child {
    let _ = std::fs::remove_file(addr_file);
    Command::new(std::env::current_exe().unwrap())
        .env(ENV_DB, db)
        .env(ENV_ADDR, addr_file)
        .spawn()
        .unwrap()
}

fn wait_addr(addr_file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = std::fs::read_to_string(addr_file) {
            return s;
        }
        assert!(Instant::now() < deadline, "child node did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pseudo_random_ms(lo: u64, hi: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    lo + u64::from(nanos) % (hi - lo)
}

fn main() {
    if let (Ok(db), Ok(addr)) = (std::env::var(ENV_DB), std::env::var(ENV_ADDR)) {
        child_main(db.into(), addr.into());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chain.redb");
    let addr_file = dir.path().join("addr");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut finalized: Vec<([u8; 32], u64)> = Vec::new();
    let mut highest_seen = 0u64;
    let rounds = 4;
    for round in 0..rounds {
        let mut child = spawn(&db, &addr_file);
        let addr = wait_addr(&addr_file);
        let kill_after = Duration::from_millis(pseudo_random_ms(150, 900));
        rt.block_on(async {
            let chain = RpcChain::connect(&addr).await.unwrap();
            let head = chain.block(None).await.unwrap().unwrap().number;
            assert!(
                head >= highest_seen,
                "round {round}: head {head} is below block {highest_seen} seen before the crash"
            );
            let start = Instant::now();
            let mut i = 0;
            // Keep transactions flowing until the kill, so it lands mid-write with good odds.
            while start.elapsed() < kill_after {
                let key = Keypair::dev(&format!("crash-{round}-{i}"));
                i += 1;
                let r = chain.faucet(&key).await.unwrap();
                highest_seen = highest_seen.max(r.block);
                finalized.push((r.tx_hash, r.block));
                if i == 1 && round == 0 {
                    chain
                        .create_subnet(&key, &Keypair::dev("crash-hot").account())
                        .await
                        .unwrap();
                }
            }
        });
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        println!(
            "round {round}: killed after {kill_after:?}, {} receipts so far, highest block {highest_seen}",
            finalized.len()
        );
    }
    let (store, state) = Store::open(Some(&db), &genesis()).unwrap();
    let head = store.head().unwrap();
    assert!(
        head >= highest_seen,
        "head {head} lost finalized block {highest_seen}"
    );
    for (tx, block) in &finalized {
        let r = store
            .receipt(tx)
            .unwrap()
            .unwrap_or_else(|| panic!("receipt of a finalized tx in block {block} lost"));
        assert_eq!(r.block, *block);
    }
    let replayed = store.replay(&genesis()).unwrap();
    assert_eq!(
        replayed.root().unwrap(),
        state.root().unwrap(),
        "stored state differs from a replay from genesis"
    );
    assert_eq!(replayed, state);
    assert_eq!(state.block, head);
    println!(
        "crash_restart: ok ({rounds} kills, {} finalized txs, {head} blocks, replay matches)",
        finalized.len()
    );
}
