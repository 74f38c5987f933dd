//! set_weights throughput: how many signed set_weights transactions per second the node
//! accepts and includes, from a loopback load generator (one WebSocket client per validator),
//! against baselines measured in the same run: the bare state machine (`apply_block`, signatures
//! pre-verified) and the state machine with signature checks.
//!
//! Run: `cargo bench -p bt-chain --bench set_weights_tps` (about a minute).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_chain::{
    Call, ChainNode, ChainState, Genesis, Keypair, NodeClient, NodeClientExt, NodeConfig,
    RAO_PER_TAO, RpcChain, SignedTx, apply_block,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const N_UIDS: usize = 64;
const VALIDATORS: usize = 32;
const TXS_PER_VALIDATOR: usize = 150;

fn genesis() -> Genesis {
    let mut g = Genesis::local_dev(20);
    // The owner always holds a permit, so leave room for it.
    g.subnet_defaults.max_allowed_validators = VALIDATORS as u16 + 1;
    g
}

struct Setup {
    node: ChainNode,
    netuid: u16,
    validators: Vec<Keypair>,
}

async fn setup(db: Option<std::path::PathBuf>) -> Setup {
    let mut cfg = NodeConfig::instant_in_memory(20);
    cfg.genesis = genesis();
    cfg.db = db;
    cfg.mempool_capacity = VALIDATORS * TXS_PER_VALIDATOR + 64;
    let node = ChainNode::start(cfg).await.unwrap();
    let chain = RpcChain::connect(&node.local_addr().to_string())
        .await
        .unwrap();
    let owner = Keypair::dev("bench-owner");
    chain.faucet(&owner).await.unwrap();
    let netuid = chain
        .create_subnet(&owner, &Keypair::dev("bench-owner-hot").account())
        .await
        .unwrap();
    let mut validators = Vec::new();
    for i in 1..N_UIDS {
        let cold = Keypair::dev(&format!("bench-cold-{i}"));
        let hot = Keypair::dev(&format!("bench-hot-{i}"));
        chain.faucet(&cold).await.unwrap();
        chain
            .burned_register(&cold, netuid, &hot.account())
            .await
            .unwrap();
        if i <= VALIDATORS {
            chain
                .add_stake(&cold, &hot.account(), 100 * RAO_PER_TAO)
                .await
                .unwrap();
            validators.push(hot);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mg = chain.metagraph(netuid).await.unwrap();
        if mg
            .validator_permit
            .iter()
            .skip(1)
            .take(VALIDATORS)
            .all(|p| *p)
        {
            break;
        }
        assert!(Instant::now() < deadline, "validators never got permits");
        chain.produce_block().await.unwrap();
    }
    Setup {
        node,
        netuid,
        validators,
    }
}

fn sign_all(
    state: &ChainState,
    genesis_hash: &[u8; 32],
    netuid: u16,
    validators: &[Keypair],
) -> Vec<Vec<SignedTx>> {
    let uids: Vec<u16> = (0..N_UIDS as u16).collect();
    validators
        .iter()
        .enumerate()
        .map(|(vi, k)| {
            let base = state.nonce(&k.account());
            (0..TXS_PER_VALIDATOR)
                .map(|t| {
                    let values = uids
                        .iter()
                        .map(|u| ((*u as usize * 7 + vi + t) % 1000) as u16 + 1)
                        .collect();
                    SignedTx::sign(
                        k,
                        base + t as u64,
                        Call::SetWeights {
                            netuid,
                            uids: uids.clone(),
                            values,
                            version_key: 0,
                        },
                        genesis_hash,
                    )
                })
                .collect()
        })
        .collect()
}

/// Interleaves the validators' sequences so each block mixes all of them.
fn interleave(per_validator: &[Vec<SignedTx>]) -> Vec<SignedTx> {
    (0..TXS_PER_VALIDATOR)
        .flat_map(|t| per_validator.iter().map(move |v| v[t].clone()))
        .collect()
}

fn apply_only(state: &ChainState, genesis_hash: &[u8; 32], txs: &[SignedTx], verify: bool) -> f64 {
    let g = genesis();
    let mut s = state.clone();
    let start = Instant::now();
    for chunk in txs.chunks(512) {
        let p = apply_block(&s, &g, genesis_hash, chunk.to_vec(), s.time_ms + 1, verify).unwrap();
        assert!(p.rejected.is_empty());
        assert!(
            p.receipts.iter().all(|r| r.error.is_none()),
            "{:?}",
            p.receipts.iter().find(|r| r.error.is_some())
        );
        s = p.state;
    }
    txs.len() as f64 / start.elapsed().as_secs_f64()
}

/// Submits everything through RPC (one connection per validator) and waits for inclusion.
async fn through_node(setup: &Setup, per_validator: Vec<Vec<SignedTx>>) -> (f64, f64, u64) {
    let addr = setup.node.local_addr().to_string();
    let mut clients = Vec::new();
    for _ in 0..per_validator.len() {
        clients.push(Arc::new(RpcChain::connect(&addr).await.unwrap()));
    }
    let first_block = setup.node.shared().head().number;
    let total: usize = per_validator.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (c, txs) in clients.iter().cloned().zip(per_validator) {
        tasks.push(tokio::spawn(async move {
            let last = txs.len() - 1;
            for (i, tx) in txs.iter().enumerate() {
                if i == last {
                    let r = c.submit(tx).await.unwrap();
                    assert!(r.error.is_none(), "{r:?}");
                } else {
                    c.submit_nowait(tx).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let included = start.elapsed().as_secs_f64();
    let blocks = setup.node.shared().head().number - first_block;
    // Every validator's last transaction is in; check the nonces to be sure nothing was dropped.
    let state = setup.node.shared().state();
    for k in &setup.validators {
        assert!(state.nonce(&k.account()) >= TXS_PER_VALIDATOR as u64);
    }
    (total as f64 / included, included, blocks)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let total = VALIDATORS * TXS_PER_VALIDATOR;
        println!("set_weights throughput: {VALIDATORS} validators x {TXS_PER_VALIDATOR} txs, rows of {N_UIDS} uids, {total} txs per run");

        let mem = setup(None).await;
        let gh = mem.node.shared().genesis_hash();
        let state = mem.node.shared().state();
        let signed = sign_all(&state, &gh, mem.netuid, &mem.validators);
        let flat = interleave(&signed);
        let base = apply_only(&state, &gh, &flat, false);
        let with_sigs = apply_only(&state, &gh, &flat, true);
        let (mem_tps, mem_secs, mem_blocks) = through_node(&mem, signed).await;
        mem.node.shutdown().await;

        let dir = tempfile::tempdir().unwrap();
        let disk = setup(Some(dir.path().join("bench.redb"))).await;
        let state = disk.node.shared().state();
        // Each node has its own genesis, so its transactions are signed for it.
        let disk_gh = disk.node.shared().genesis_hash();
        let signed = sign_all(&state, &disk_gh, disk.netuid, &disk.validators);
        let (disk_tps, disk_secs, disk_blocks) = through_node(&disk, signed).await;
        disk.node.shutdown().await;

        println!();
        println!("| path | tx/s | vs apply_block | notes |");
        println!("|---|---:|---:|---|");
        println!("| apply_block, signatures pre-verified (baseline) | {base:.0} | 1.00 | blocks of 512 |");
        println!("| apply_block + sr25519 verify | {with_sigs:.0} | {:.2} | |", with_sigs / base);
        println!(
            "| node, in-memory redb, instant blocks, {VALIDATORS} WS clients | {mem_tps:.0} | {:.2} | {mem_secs:.2} s, {mem_blocks} blocks |",
            mem_tps / base
        );
        println!(
            "| node, redb file (fsync per block), instant blocks, {VALIDATORS} WS clients | {disk_tps:.0} | {:.2} | {disk_secs:.2} s, {disk_blocks} blocks |",
            disk_tps / base
        );
    });
}
