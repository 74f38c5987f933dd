//! Failed transactions were free and still included in a block: anyone could grow the chain's
//! storage without limit at no cost. Now a failure costs its signer the transaction fee
//! (0.001 TAO), and one whose signer cannot pay is refused at the pool or left out of the
//! block. The attack: a funded key spams failing transfers until its balance is gone, and
//! unfunded keys spam calls that fail, some past the pool's checks (proof-of-work
//! registrations with bogus work). The attacker's balance drains by exactly the fee per
//! included failure, and the database grows with the paid failures only.

use std::time::Duration;

use bt_chain::{Call, ChainError, Keypair, NodeClient, NodeClientExt, RAO_PER_TAO, SignedTx};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};

use super::chain_node::ChainNode;

/// The fee of `Genesis::default()`.
pub const FEE: u64 = RAO_PER_TAO / 1000;
/// Failures the funded attacker can pay for.
pub const AFFORDABLE: u64 = 40;
/// Failing transfers the funded attacker sends (more than it can pay for).
pub const FUNDED_SPAM: u64 = 120;
/// Unfunded keys, each sending one failing call of each kind.
pub const UNFUNDED_KEYS: u64 = 150;

pub struct Report {
    pub row: AttackRow,
    /// Failures included and paid for.
    pub paid: u64,
    /// Refused by the pool or left out of the block.
    pub refused: u64,
    /// What the funded attacker held before and after the spam.
    pub balance_before: u64,
    pub balance_after: u64,
    pub db_growth: u64,
    pub bytes_sent: u64,
}

fn is_refusal(e: &ChainError) -> bool {
    matches!(
        e,
        ChainError::Remote { .. } | ChainError::InsufficientBalance { .. }
    )
}

pub async fn run() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let node = ChainNode::start("chain-spam", Some(dir.path()), &["--dev"]).await;
    let chain = node.client().await;
    // A subnet for the registrations to aim at.
    let owner = Keypair::dev("spam-owner");
    chain.faucet(&owner).await.unwrap();
    let netuid = chain
        .create_subnet(&owner, &Keypair::dev("spam-owner-hot").account())
        .await
        .unwrap();
    // The funded attacker keeps AFFORDABLE fees and sends the rest away (the transfer pays one).
    let attacker = Keypair::dev("spam-attacker");
    chain.faucet(&attacker).await.unwrap();
    let held = chain.balance(&attacker.account()).await.unwrap();
    chain
        .transfer(&attacker, owner.account(), held - (AFFORDABLE + 1) * FEE)
        .await
        .unwrap();

    let pid = node.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let db_before = node.db_bytes();
    let honest = HonestLoad::start(Duration::from_millis(100), node.honest_caller().await);
    let balance_before = chain.balance(&attacker.account()).await.unwrap();

    let (mut paid, mut refused, mut bytes_sent) = (0u64, 0u64, 0u64);
    let gh = chain.genesis_hash().await.unwrap();
    for _ in 0..FUNDED_SPAM {
        let nonce = chain.nonce(&attacker.account()).await.unwrap();
        let tx = SignedTx::sign(
            &attacker,
            nonce,
            Call::Transfer {
                dest: owner.account(),
                amount: u64::MAX,
            },
            &gh,
        );
        bytes_sent += 2 * tx.encode().len() as u64;
        match chain.submit(&tx).await {
            Ok(r) if r.error.is_some() && r.fee == FEE => paid += 1,
            Ok(r) => panic!("a failing transfer succeeded or was free: {r:?}"),
            Err(e) if is_refusal(&e) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let balance_after = chain.balance(&attacker.account()).await.unwrap();
    for i in 0..UNFUNDED_KEYS {
        let k = Keypair::dev(&format!("spam-free-{i}"));
        // Refused by the pool: it cannot pay and the transfer cannot succeed.
        let transfer = SignedTx::sign(
            &k,
            0,
            Call::Transfer {
                dest: owner.account(),
                amount: 1,
            },
            &gh,
        );
        // Past the pool (the subnet exists), failing in the block: left out.
        let pow = SignedTx::sign(
            &k,
            0,
            Call::PowRegister {
                netuid,
                coldkey: k.account(),
                block_number: 0,
                work_nonce: i,
            },
            &gh,
        );
        for tx in [transfer, pow] {
            bytes_sent += 2 * tx.encode().len() as u64;
            match chain.submit(&tx).await {
                Ok(r) => panic!("an unfunded failure was included: {r:?}"),
                Err(e) if is_refusal(&e) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let db_growth = node.db_bytes().saturating_sub(db_before);
    let row = AttackRow::new(
        format!(
            "chain: {} failing txs ({FUNDED_SPAM} from a key holding {AFFORDABLE} fees, {} from unfunded keys)",
            FUNDED_SPAM + 2 * UNFUNDED_KEYS,
            2 * UNFUNDED_KEYS
        ),
        bytes_sent,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{paid} paid {FEE} rao each, {refused} refused; db +{} KiB",
        db_growth / 1024
    ));
    Report {
        row,
        paid,
        refused,
        balance_before,
        balance_after,
        db_growth,
        bytes_sent,
    }
}
