//! Keys and addresses: who the neuron is and where peers reach it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bt_crypto::NeuronKey;

use crate::error::NeuronError;

/// The neuron key and the key of the synapse it serves. The synapse key is kept in a file beside
/// the neuron key so that a restarted neuron serves under the same synapse key and its peers'
/// router keys stay valid.
pub struct Identity {
    pub neuron: NeuronKey,
    pub synapse: NeuronKey,
    pub created: bool,
    path: PathBuf,
}

impl Identity {
    /// Another handle on the neuron key, for a component that owns its key (keys are not
    /// `Clone` so that secrets are not copied around in memory by accident).
    pub fn neuron_key(&self) -> Result<NeuronKey, NeuronError> {
        Ok(NeuronKey::load(&self.path)?)
    }
}

pub fn synapse_key_path(neuron_key: &Path) -> PathBuf {
    let mut name = neuron_key.as_os_str().to_os_string();
    name.push(".synapse");
    PathBuf::from(name)
}

pub fn load_identity(neuron_key: &Path) -> Result<Identity, NeuronError> {
    if let Some(dir) = neuron_key.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            NeuronError::Config(format!(
                "cannot create the directory of --neuron_key {}: {e}",
                neuron_key.display()
            ))
        })?;
    }
    let (neuron, created) = NeuronKey::load_or_generate(neuron_key)?;
    let (synapse, _) = NeuronKey::load_or_generate(synapse_key_path(neuron_key))?;
    Ok(Identity {
        neuron,
        synapse,
        created,
        path: neuron_key.to_path_buf(),
    })
}

/// `--remote_ip` when given; otherwise the first non-loopback IPv4 address of a local
/// interface, then any non-loopback address, then 127.0.0.1. Never an external look-up.
pub fn resolve_remote_ip(given: Option<&str>) -> Result<IpAddr, NeuronError> {
    if let Some(ip) = given {
        return ip
            .trim()
            .parse()
            .map_err(|_| NeuronError::Config(format!("--remote_ip {ip:?} is not an IP address")));
    }
    let addrs: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|list| {
            list.into_iter()
                .filter(|i| !i.is_loopback())
                .map(|i| i.ip())
                .collect()
        })
        .unwrap_or_default();
    Ok(addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .unwrap_or(IpAddr::from([127, 0, 0, 1])))
}

/// Where to listen: only on loopback when peers are told to use loopback, else everywhere.
pub fn listen_ip(remote: IpAddr) -> IpAddr {
    if remote.is_loopback() {
        remote
    } else if remote.is_ipv4() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        IpAddr::from([0u16; 8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/neuron.key");
        let first = load_identity(&path).unwrap();
        assert!(first.created);
        let again = load_identity(&path).unwrap();
        assert!(!again.created);
        assert_eq!(first.neuron.public_hex(), again.neuron.public_hex());
        assert_eq!(first.synapse.public_hex(), again.synapse.public_hex());
        assert_ne!(first.neuron.public_hex(), first.synapse.public_hex());
    }

    #[test]
    fn remote_ip_given_or_found_locally() {
        assert_eq!(
            resolve_remote_ip(Some("127.0.0.1")).unwrap(),
            IpAddr::from([127, 0, 0, 1])
        );
        let err = resolve_remote_ip(Some("not-an-ip"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--remote_ip"), "{err}");
        let found = resolve_remote_ip(None).unwrap();
        assert!(!found.is_unspecified());
        assert_eq!(
            listen_ip(IpAddr::from([127, 0, 0, 1])),
            IpAddr::from([127, 0, 0, 1])
        );
        assert!(listen_ip(IpAddr::from([10, 1, 2, 3])).is_unspecified());
    }
}
