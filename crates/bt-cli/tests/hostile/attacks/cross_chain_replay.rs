//! Every chain had the same genesis hash, so a transaction signed for one chain was valid on
//! every other chain with the same settings. Now each chain's genesis has its own seed, and
//! transactions sign over the genesis hash and carry its first bytes: two real chain
//! processes started alike have different genesis hashes, and a transaction signed for
//! chain A, submitted to chain B, is refused as signed for another chain.

use std::time::Duration;

use bt_chain::{Call, ChainError, Keypair, NodeClient, NodeClientExt, SignedTx};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};

use super::chain_node::ChainNode;

/// Transactions signed for chain A and replayed on chain B.
pub const REPLAYS: u64 = 200;

pub struct Report {
    pub row: AttackRow,
    pub genesis_a: [u8; 32],
    pub genesis_b: [u8; 32],
    /// Replays chain B refused as signed for another chain.
    pub refused_wrong_chain: u64,
    /// The victim's balance on chain B before and after.
    pub balance_b: (u64, u64),
    /// The same transaction on chain A was included.
    pub accepted_on_a: bool,
}

pub async fn run() -> Report {
    let a = ChainNode::start("chain-a", None, &["--dev"]).await;
    let b = ChainNode::start("chain-b", None, &["--dev"]).await;
    let (ca, cb) = (a.client().await, b.client().await);
    let victim = Keypair::dev("replay-victim");
    let thief = Keypair::dev("replay-thief").account();
    // The victim has funds on both chains, at the same nonce.
    ca.faucet(&victim).await.unwrap();
    cb.faucet(&victim).await.unwrap();
    let genesis_a = ca.genesis_hash().await.unwrap();
    let genesis_b = cb.genesis_hash().await.unwrap();

    let pid = b.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(Duration::from_millis(100), b.honest_caller().await);
    let balance_before = cb.balance(&victim.account()).await.unwrap();
    let nonce = cb.nonce(&victim.account()).await.unwrap();
    let (mut refused_wrong_chain, mut bytes_sent) = (0u64, 0u64);
    let mut signed = Vec::new();
    for i in 0..REPLAYS {
        // Signed for A, at the nonces B expects next.
        let tx = SignedTx::sign(
            &victim,
            nonce + i,
            Call::Transfer {
                dest: thief,
                amount: 1 + i,
            },
            &genesis_a,
        );
        bytes_sent += 2 * tx.encode().len() as u64;
        match cb.submit(&tx).await {
            Err(ChainError::Remote { code, message })
                if code == 1009 && message.contains("signed for another chain") =>
            {
                refused_wrong_chain += 1;
            }
            other => panic!("chain B took a transaction signed for chain A: {other:?}"),
        }
        signed.push(tx);
    }
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let balance_after = cb.balance(&victim.account()).await.unwrap();
    let accepted_on_a = matches!(ca.submit(&signed[0]).await, Ok(r) if r.error.is_none());
    let row = AttackRow::new(
        format!("chain: {REPLAYS} transfers signed for chain A replayed on chain B"),
        bytes_sent,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{refused_wrong_chain} refused as another chain's; B balance unchanged: {}",
        balance_before == balance_after
    ));
    Report {
        row,
        genesis_a,
        genesis_b,
        refused_wrong_chain,
        balance_b: (balance_before, balance_after),
        accepted_on_a,
    }
}
