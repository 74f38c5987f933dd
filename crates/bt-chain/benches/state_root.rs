//! Per-block state-root cost against the size of the state: the root as it was (one hash of the
//! whole state's JSON), the row tree built from scratch, and the row tree updated from the rows
//! one block changed (what a node now pays), for a block that touches `TOUCHED` accounts.
//!
//! Run: `cargo bench -p bt-chain --bench state_root` (under a minute).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bt_chain::{AccountId, ChainState, blake2_256};
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 300_000];
/// Accounts one block changes (a block of transfers).
const TOUCHED: usize = 16;
const ROUNDS: usize = 9;

fn account(i: usize) -> AccountId {
    let mut a = [0u8; 32];
    a[..8].copy_from_slice(&(i as u64).to_le_bytes());
    AccountId(blake2_256(&a))
}

fn state(n: usize) -> ChainState {
    let mut s = ChainState::default();
    for i in 0..n {
        let acc = s.accounts.entry(account(i)).or_default();
        acc.balance = 1_000 + i as u64;
        acc.nonce = i as u64 % 7;
    }
    s
}

/// The median of `ROUNDS` runs of `f` on a fresh copy of the next block's state.
fn median(
    prev: &ChainState,
    round: &mut usize,
    f: impl Fn(&mut ChainState, &ChainState),
) -> Duration {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let mut next = prev.clone();
            *round += 1;
            for k in 0..TOUCHED {
                let who = account((*round * 7_919 + k * 104_729) % prev.accounts.len());
                next.accounts.entry(who).or_default().balance += 1;
            }
            next.block = prev.block + 1;
            let t = Instant::now();
            f(&mut next, prev);
            t.elapsed()
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    println!(
        "state root per block ({TOUCHED} accounts changed), median of {ROUNDS}; load: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!(
        "{:>9} | {:>14} | {:>14} | {:>16} | {:>9}",
        "accounts", "JSON (before)", "tree, scratch", "tree, updated", "before/after"
    );
    let mut round = 0;
    for n in SIZES {
        let mut prev = state(n);
        // The tree a running node carries from the previous block.
        let genesis = ChainState::default();
        prev.root_after(&genesis).unwrap();
        let json = median(&prev, &mut round, |s, _| {
            std::hint::black_box(blake2_256(&s.to_bytes().unwrap()));
        });
        let scratch = median(&prev, &mut round, |s, _| {
            std::hint::black_box(s.root().unwrap());
        });
        let updated = median(&prev, &mut round, |s, p| {
            std::hint::black_box(s.root_after(p).unwrap());
        });
        println!(
            "{n:>9} | {:>11.3} ms | {:>11.3} ms | {:>13.3} ms | {:>8.1}x",
            ms(json),
            ms(scratch),
            ms(updated),
            json.as_secs_f64() / updated.as_secs_f64()
        );
    }
}
