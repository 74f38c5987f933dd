//! `bittensor neuron mnist --chain_endpoint … --netuid N --role miner|validator`: flags, wallet
//! and key files into `bt_neuron::subnet::run_subnet`, the one neuron runtime on a subnet.
//!
//! A neuron resumes from `--model_path` when that checkpoint exists and trains for `--max_steps`
//! steps (or `--epochs` epochs) while it serves, so `--max_steps` is also how an experiment makes
//! miners of different quality; it keeps serving after training until stopped.

use std::net::SocketAddr;

use anyhow::Result;
use bt_neuron::identity::Identity;
use bt_neuron::subnet::{NeuronSettings as SubnetNeuron, SubnetRole};

use crate::cli::{NeuronKind, Role};
use crate::config::{NeuronSettings, SubnetSettings};
use crate::exit::{self, CliError, classify_neuron_error};
use crate::password::CliPasswords;
use crate::wallet_cmd::warn_plaintext;
use bt_crypto::CryptoError;
use bt_crypto::wallet::Protection;

/// A subnet neuron's chain settings and wallet keys, checked before its neuron key is taken.
pub struct SubnetJob {
    subnet: SubnetSettings,
    coldkey: Option<bt_chain::Keypair>,
    hotkey: bt_chain::Keypair,
}

/// Checks what can be checked without writing anything: the kind of neuron and the wallet.
pub fn prepare(kind: NeuronKind, subnet: SubnetSettings) -> Result<SubnetJob> {
    if kind != NeuronKind::Mnist {
        return Err(CliError::Usage(
            "only `neuron mnist` can join a subnet (its task is MNIST classification)".into(),
        )
        .into());
    }
    let (coldkey, hotkey) = load_wallet(&subnet)?;
    Ok(SubnetJob {
        subnet,
        coldkey,
        hotkey,
    })
}

/// Runs the neuron under `identity`, whose key stays locked until this returns.
pub async fn run(
    neuron: NeuronSettings,
    job: SubnetJob,
    identity: Identity,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<u8> {
    let SubnetJob {
        subnet,
        coldkey,
        hotkey,
    } = job;
    let remote = bt_neuron::identity::resolve_remote_ip(neuron.remote_ip.as_deref())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let listen = bt_neuron::identity::listen_ip(remote);
    let neuron_key = identity
        .neuron_key()
        .map_err(|e| CliError::Key(e.to_string()))?;
    let mut settings = SubnetNeuron::new(
        subnet.chain.clone(),
        subnet.netuid,
        hotkey,
        neuron_key,
        identity.synapse.public(),
    );
    settings.coldkey = coldkey;
    settings.axon_listen = SocketAddr::new(listen, neuron.axon_port);
    settings.http_listen = subnet.http_port.map(|port| SocketAddr::new(listen, port));
    settings.external_ip = remote;
    settings.external_port = subnet.external_port;
    settings.axon = bt_axon::AxonConfig {
        allow_unsigned: neuron.allow_unsigned,
        metrics_addr: neuron.metrics_port.map(|p| SocketAddr::new(listen, p)),
        ..neuron.axon.clone()
    };
    settings.http = neuron.http.clone();
    settings.refresh_interval = subnet.interval;
    let role = match subnet.role {
        Role::Miner => SubnetRole::Miner,
        Role::Validator => SubnetRole::Validator,
    };
    match bt_neuron::subnet::run_subnet(neuron, settings, role, shutdown).await {
        Ok(_) => Ok(exit::INTERRUPTED),
        Err(e) => Err(classify_neuron_error(e)),
    }
}

fn load_wallet(subnet: &SubnetSettings) -> Result<(Option<bt_chain::Keypair>, bt_chain::Keypair)> {
    let w = &subnet.wallet;
    let root = w.root();
    let wallet = bt_crypto::wallet::Wallet::new(&root, &w.name, &w.hotkey)
        .map_err(|e| CliError::Key(format!("wallet {}: {e}", w.name)))?;
    let (hotkey, _) = wallet.hotkey_with(&CliPasswords::TERMINAL).map_err(|e| {
        CliError::Key(format!(
            "hotkey {} of wallet {} under {} (--wallet.hotkey, --wallet.name, --wallet.path; \
             create it with `bittensor wallet new`): {e}",
            w.hotkey,
            w.name,
            root.display()
        ))
    })?;
    // The coldkey only pays for a registration; a hotkey already registered does not need it,
    // so a missing coldkey, or an encrypted one nobody can give the password of, is no error.
    let coldkey = match wallet.coldkey_with(&CliPasswords::TERMINAL) {
        Ok((pair, protection)) => {
            if protection == Protection::Plaintext {
                warn_plaintext(&wallet.coldkey_path());
            }
            Some(pair.into())
        }
        Err(CryptoError::KeyFileMissing { .. }) => None,
        Err(e @ CryptoError::PasswordUnavailable { .. }) => {
            eprintln!("note: going on without the coldkey (only a registration needs it): {e}");
            None
        }
        Err(e) => return Err(CliError::Key(format!("coldkey of wallet {}: {e}", w.name)).into()),
    };
    Ok((coldkey, hotkey.into()))
}
