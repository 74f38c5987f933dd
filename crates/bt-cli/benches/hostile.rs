//! Every attack of the hostile suite, one after another, each against a fresh `bittensor`
//! process: prints the table the README quotes (attack, bytes sent, the target's peak RSS and
//! its growth, honest requests served during the attack, what the target did).
//!
//! `cargo bench -p bt-cli --bench hostile`

#[path = "../tests/hostile/attacks/mod.rs"]
mod attacks;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let rows = rt.block_on(attacks::all());
    println!("{}", bt_testnet::attack::AttackRow::table(&rows));
}
