//! `bittensor wallet balance|overview|transfer`: what a wallet holds and does on a chain, the
//! embedded one or subtensor (`--subtensor.network`), through `bt_interfaces::Chain`. Reading
//! needs only the coldkey's public file; a transfer signs with the coldkey (its password from
//! `BT_COLDKEY_PASSWORD` or a prompt) after a confirmation that `--no_prompt` skips and that is
//! never awaited on a stdin that is not a terminal.

use std::io::IsTerminal;

use anyhow::Result;
use bt_chain::RAO_PER_TAO;
use bt_crypto::wallet::AccountId;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::chain_cmd::Endpoint;
use crate::exit::{self, CliError};
use crate::wallet_cmd::{WalletArgs, coldkey};

#[derive(Debug, Subcommand)]
pub enum WalletChainCommand {
    /// The coldkey's free balance, as `btcli wallet balance`.
    Balance(ReadArgs),
    /// The wallet on every subnet: its free balance and each registered hotkey's uid, stake,
    /// incentive, dividends, emission and axon, as `btcli wallet overview`.
    Overview(ReadArgs),
    /// Send TAO from the coldkey to another account (keeping the coldkey alive).
    Transfer(TransferArgs),
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub endpoint: Endpoint,
    #[command(flatten)]
    pub wallet: WalletArgs,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The receiving account (SS58 address).
    #[arg(long)]
    pub dest: String,
    /// Amount in TAO, up to 9 decimals (exact: `0.000000001` is 1 rao).
    #[arg(long)]
    pub amount: String,
    /// Do not ask for confirmation (scripts).
    #[arg(long = "no_prompt", aliases = ["no-prompt"])]
    pub no_prompt: bool,
    #[command(flatten)]
    pub endpoint: Endpoint,
    #[command(flatten)]
    pub wallet: WalletArgs,
}

pub async fn run(cmd: WalletChainCommand) -> Result<u8> {
    match cmd {
        WalletChainCommand::Balance(a) => balance(a).await,
        WalletChainCommand::Overview(a) => overview(a).await,
        WalletChainCommand::Transfer(a) => transfer(a).await,
    }
}

fn tao(rao: u64) -> String {
    format!("{}.{:09}", rao / RAO_PER_TAO, rao % RAO_PER_TAO)
}

/// TAO as typed into rao, exactly: digits, an optional point and at most 9 decimals; more than
/// 0 and within u64.
pub fn parse_tao(text: &str) -> Result<u64, String> {
    let bad = || format!("--amount takes TAO with at most 9 decimals (e.g. 1.5), got {text:?}");
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) || frac.len() > 9 {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: u64 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    let rao = whole
        .checked_mul(RAO_PER_TAO)
        .and_then(|r| r.checked_add(frac))
        .ok_or_else(bad)?;
    if rao == 0 {
        return Err("--amount must be more than 0".into());
    }
    Ok(rao)
}

fn coldkey_pub(w: &WalletArgs) -> Result<AccountId> {
    let wallet = bt_crypto::wallet::Wallet::new(w.root(), &w.name, &w.hotkey)
        .map_err(|e| CliError::Key(exit::wallet_error_text(&e)))?;
    wallet
        .coldkeypub()
        .map_err(|e| crate::wallet_cmd::missing_key_error(w, &e))
}

async fn balance(a: ReadArgs) -> Result<u8> {
    let who = coldkey_pub(&a.wallet)?;
    let chain = a.endpoint.chain().await?;
    let free = chain.balance(&who).await.map_err(exit::chain_error)?;
    if a.json {
        println!(
            "{}",
            json!({"coldkey": who.to_ss58(), "free_rao": free, "free": tao(free)})
        );
    } else {
        println!("wallet {}  coldkey {}", a.wallet.name, who.to_ss58());
        println!("free balance: {} τ", tao(free));
    }
    Ok(exit::OK)
}

async fn overview(a: ReadArgs) -> Result<u8> {
    let who = coldkey_pub(&a.wallet)?;
    let chain = a.endpoint.chain().await?;
    let free = chain.balance(&who).await.map_err(exit::chain_error)?;
    let mut rows = Vec::new();
    let subnets = chain.subnets().await.map_err(exit::chain_error)?;
    // Every subnet's metagraph is read to find this coldkey's hotkeys: on a chain with a
    // hundred subnets that is minutes, so a terminal shows how far it got.
    let steps = bt_neuron::progress::Steps::start(subnets.len(), "reading subnets");
    for netuid in subnets {
        steps.step(format!("subnet {netuid}"));
        let mg = chain
            .metagraph(netuid, false)
            .await
            .map_err(exit::chain_error)?;
        steps.done_one();
        rows.extend(
            mg.neurons
                .into_iter()
                .filter(|n| n.coldkey == who)
                .map(|n| (netuid, n)),
        );
    }
    drop(steps);
    let frac = |x: u16| f64::from(x) / 65535.0;
    if a.json {
        let neurons: Vec<_> = rows
            .iter()
            .map(|(netuid, n)| {
                json!({
                    "netuid": netuid, "uid": n.uid, "hotkey": n.hotkey.to_ss58(),
                    "stake_rao": n.stake, "incentive": frac(n.incentive),
                    "dividends": frac(n.dividends), "emission": n.emission,
                    "validator_permit": n.validator_permit,
                    "axon": n.axon.as_ref().map(|x| format!("{}:{}", x.ip, x.port)),
                })
            })
            .collect();
        println!(
            "{}",
            json!({"coldkey": who.to_ss58(), "free_rao": free, "neurons": neurons})
        );
        return Ok(exit::OK);
    }
    println!("wallet {}  coldkey {}", a.wallet.name, who.to_ss58());
    println!("free balance: {} τ", tao(free));
    if rows.is_empty() {
        println!("no hotkey of this coldkey is registered on any subnet");
        return Ok(exit::OK);
    }
    println!(
        "{:>6} {:>4} {:<48} {:>20} {:>7} {:>7} {:>12} {:>3} {:>22}",
        "NETUID", "UID", "HOTKEY", "STAKE", "INCENT", "DIVS", "EMISSION(ρ)", "VP", "AXON"
    );
    for (netuid, n) in &rows {
        println!(
            "{:>6} {:>4} {:<48} {:>20} {:>7.4} {:>7.4} {:>12} {:>3} {:>22}",
            netuid,
            n.uid,
            n.hotkey.to_ss58(),
            tao(n.stake),
            frac(n.incentive),
            frac(n.dividends),
            n.emission,
            if n.validator_permit { "*" } else { "" },
            n.axon
                .as_ref()
                .map_or_else(|| "-".to_string(), |x| format!("{}:{}", x.ip, x.port)),
        );
    }
    Ok(exit::OK)
}

async fn transfer(a: TransferArgs) -> Result<u8> {
    // Everything the user typed is checked before a password is asked or a node contacted.
    let rao = parse_tao(&a.amount).map_err(CliError::Usage)?;
    let dest = AccountId::from_ss58(&a.dest)
        .map_err(|e| CliError::Usage(format!("--dest {:?} is not an SS58 address: {e}", a.dest)))?;
    confirm(
        &format!("Transfer {} τ to {}?", tao(rao), dest.to_ss58()),
        a.no_prompt,
    )?;
    let cold = coldkey(&a.wallet)?;
    let chain = a.endpoint.chain().await?;
    let included = chain
        .transfer(&cold, &dest, rao)
        .await
        .map_err(exit::chain_error)?;
    let left = chain
        .balance(&cold.account())
        .await
        .map_err(exit::chain_error)?;
    let fee = included
        .fee
        .map_or_else(String::new, |f| format!(", fee {} τ", tao(f)));
    println!(
        "transferred {} τ to {} in block {}{fee}; balance now {} τ",
        tao(rao),
        dest.to_ss58(),
        included.block,
        tao(left)
    );
    Ok(exit::OK)
}

/// Asks `question` on a terminal; without one (or with `--no_prompt` false and stdin closed)
/// it refuses at once, naming `--no_prompt`.
fn confirm(question: &str, no_prompt: bool) -> Result<(), CliError> {
    if no_prompt {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "{question} needs a confirmation and stdin is not a terminal: pass --no_prompt"
        )));
    }
    if crate::password::ask_yes_no(question)? {
        Ok(())
    } else {
        Err(CliError::Usage("not confirmed; nothing was sent".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_rao() {
        assert_eq!(parse_tao("1"), Ok(RAO_PER_TAO));
        assert_eq!(parse_tao("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_tao("0.000000001"), Ok(1));
        assert_eq!(parse_tao(".25"), Ok(250_000_000));
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "0.0000000001",
            "abc",
            "1.2.3",
            "18446744074",
        ] {
            assert!(parse_tao(bad).is_err(), "{bad:?}");
        }
        assert!(parse_tao("0").unwrap_err().contains("more than 0"));
    }
}
